//! The consensus write-ahead log: an append-only file of the inputs the
//! consensus core received at the current height, replayed on restart so a
//! restarted validator continues with the same locks and votes instead of
//! starting blind.
//!
//! Record format: `u32 BE payload length || first 4 bytes of SHA-256(payload) || payload`,
//! payload = `postcard((height u64, entry))`. A torn or corrupted tail (power
//! loss mid-append) is detected by the length or the checksum and truncated
//! on open; everything before it is kept. The file is `fdatasync`ed
//! ([`Wal::sync`]) before any signature leaves the node, together with the
//! sign-state file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Largest record (a proposal carrying a full block).
pub const WAL_RECORD_MAX: usize = 64 * 1024 * 1024;

/// An open WAL.
pub struct Wal {
    file: File,
    path: PathBuf,
}

fn checksum(payload: &[u8]) -> [u8; 4] {
    let digest = Sha256::digest(payload);
    [digest[0], digest[1], digest[2], digest[3]]
}

impl Wal {
    /// Opens (or creates) the WAL and returns every intact record, in order.
    /// A damaged tail is truncated and reported in the log.
    pub fn open<T: DeserializeOwned>(path: &Path) -> anyhow::Result<(Wal, Vec<(u64, T)>)> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open WAL {}", path.display()))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).with_context(|| format!("cannot read WAL {}", path.display()))?;
        let mut entries = Vec::new();
        let mut pos = 0usize;
        let damage = loop {
            if pos == bytes.len() {
                break None;
            }
            let Some(head) = bytes.get(pos..pos + 8) else { break Some("truncated record header") };
            let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len > WAL_RECORD_MAX {
                break Some("record length over the limit");
            }
            let Some(payload) = bytes.get(pos + 8..pos + 8 + len) else { break Some("truncated record") };
            if checksum(payload) != head[4..8] {
                break Some("checksum mismatch");
            }
            match postcard::from_bytes::<(u64, T)>(payload) {
                Ok(entry) => entries.push(entry),
                Err(_) => break Some("undecodable record"),
            }
            pos += 8 + len;
        };
        if let Some(reason) = damage {
            tracing::warn!(wal = %path.display(), offset = pos, reason, kept = entries.len(), "truncating a damaged WAL tail");
            file.set_len(pos as u64)?;
            file.sync_data()?;
        }
        file.seek(SeekFrom::End(0))?;
        Ok((Wal { file, path: path.to_path_buf() }, entries))
    }

    /// Appends a record (not yet durable: see [`Wal::sync`]).
    pub fn append<T: Serialize>(&mut self, height: u64, entry: &T) -> anyhow::Result<()> {
        // The payload is encoded behind room for the 8-byte record header,
        // which is filled in after: a proposal's megabyte is not copied again.
        let mut record = keepsake_types::encoding::encode_onto(&(height, entry), vec![0; 8]);
        let len = record.len() - 8;
        anyhow::ensure!(len <= WAL_RECORD_MAX, "WAL record of {len} bytes is over the limit");
        let sum = checksum(&record[8..]);
        record[..4].copy_from_slice(&(len as u32).to_be_bytes());
        record[4..8].copy_from_slice(&sum);
        self.file.write_all(&record).with_context(|| format!("cannot append to WAL {}", self.path.display()))
    }

    /// Makes every appended record durable (`fdatasync`).
    pub fn sync(&mut self) -> anyhow::Result<()> {
        self.file.sync_data().with_context(|| format!("cannot sync WAL {}", self.path.display()))
    }

    /// Empties the WAL (a new height starts; the previous one is committed in the store).
    pub fn reset(&mut self) -> anyhow::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.file.sync_data().with_context(|| format!("cannot reset WAL {}", self.path.display()))
    }
}

/// What reading the sign-state file found.
#[derive(Debug)]
pub enum SignStateRead<T> {
    /// No file.
    Missing,
    /// A record that parses.
    Intact(T),
    /// A file that does not parse (torn, truncated, garbage).
    Damaged(String),
}

/// The validator's last signed step, in its own small file, replaced
/// atomically (write a temporary file, fsync it, rename it over, fsync the
/// directory) so that it survives power loss in either its old or new form.
pub struct SignStateFile {
    path: PathBuf,
}

impl SignStateFile {
    /// The file at `path` (created on first [`SignStateFile::store`]).
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the last signed step, `None` if the validator never signed.
    pub fn load<T: DeserializeOwned>(&self) -> anyhow::Result<Option<T>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
                format!("sign-state file {} is damaged; refusing to sign blind", self.path.display())
            })?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Reads the file, telling a missing file, an intact record and a
    /// damaged one apart; an I/O error (permissions, a failing disk) is an
    /// error, never mistaken for damage.
    pub fn read<T: DeserializeOwned>(&self) -> anyhow::Result<SignStateRead<T>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(match serde_json::from_str(&text) {
                Ok(v) => SignStateRead::Intact(v),
                Err(e) => SignStateRead::Damaged(e.to_string()),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SignStateRead::Missing),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                Ok(SignStateRead::Damaged(e.to_string()))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// Durably replaces the last signed step.
    pub fn store<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        let dir = self.path.parent().context("sign-state path has a directory")?;
        std::fs::create_dir_all(dir)?;
        let tmp = self.path.with_extension("tmp");
        let json = serde_json::to_vec(value).context("sign state encodes")?;
        {
            let mut f = File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            f.write_all(&json)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all().with_context(|| format!("cannot sync directory {}", dir.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopen_and_reset_empties() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.wal");
        let (mut wal, entries) = Wal::open::<String>(&path).unwrap();
        assert!(entries.is_empty());
        wal.append(5, &"a".to_string()).unwrap();
        wal.append(5, &"b".to_string()).unwrap();
        wal.sync().unwrap();
        drop(wal);
        let (mut wal, entries) = Wal::open::<String>(&path).unwrap();
        assert_eq!(entries, vec![(5, "a".to_string()), (5, "b".to_string())]);
        wal.reset().unwrap();
        wal.append(6, &"c".to_string()).unwrap();
        drop(wal);
        assert_eq!(Wal::open::<String>(&path).unwrap().1, vec![(6, "c".to_string())]);
    }

    #[test]
    fn a_torn_tail_is_truncated_and_the_rest_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.wal");
        let (mut wal, _) = Wal::open::<String>(&path).unwrap();
        for s in ["one", "two", "three"] {
            wal.append(1, &s.to_string()).unwrap();
        }
        drop(wal);
        let full = std::fs::read(&path).unwrap();
        // The write failed after N bytes, for every N inside the last record.
        let third_starts = full.len() - (8 + postcard::to_stdvec(&(1u64, "three")).unwrap().len());
        for cut in third_starts..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (_, entries) = Wal::open::<String>(&path).unwrap();
            assert_eq!(entries.len(), 2, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, third_starts);
        }
        // A flipped bit in the middle record drops it and everything after.
        let mut bad = full.clone();
        bad[third_starts - 2] ^= 1;
        std::fs::write(&path, &bad).unwrap();
        assert_eq!(Wal::open::<String>(&path).unwrap().1, vec![(1, "one".to_string())]);
    }

    #[test]
    fn sign_state_round_trips_and_refuses_damage() {
        let dir = tempfile::tempdir().unwrap();
        let f = SignStateFile::new(&dir.path().join("sign_state.json"));
        assert_eq!(f.load::<(u64, u32)>().unwrap(), None);
        f.store(&(7u64, 2u32)).unwrap();
        assert_eq!(f.load::<(u64, u32)>().unwrap(), Some((7, 2)));
        std::fs::write(dir.path().join("sign_state.json"), "{garbage").unwrap();
        assert!(f.load::<(u64, u32)>().unwrap_err().to_string().contains("refusing to sign blind"));
    }
}
