//! The id index: every committed transaction id, and every minted
//! certificate id, mapped to where its transaction is in the history
//! (height, index in the block, log leaf). It replaces sled's `tx/` and
//! `cert/` keys, which put two random keys per certificate into sled's
//! B-tree and made the node's memory grow with the chain (docs/storage.md).
//!
//! A small log-structured merge index, insert-only and **derived from the
//! history**, so a crash never needs more than re-reading recent blocks:
//!
//! - entries of the latest blocks live in memory (the memtable) and are
//!   rebuilt from the history at open;
//! - every [`FLUSH_ENTRIES`] entries, at a block boundary, the memtable is
//!   written as an immutable, sorted **run** file covering a range of whole
//!   heights (written to a temporary name, fsync'ed, renamed);
//! - runs are merged two at a time in a background thread so that each run
//!   is at least twice the size of the next newer one (so there are
//!   O(log n) of them);
//! - each run keeps in memory only a Bloom filter (10 bits per entry) and one
//!   fence key per block of [`BLOCK_ENTRIES`] entries: about 2 bytes per
//!   entry. A lookup that misses (every new transaction's duplicate check)
//!   costs Bloom probes; a hit costs one positional read of one block.
//!
//! Entries are visible only up to the state's committed height: after a
//! power loss the state may be behind a run, and the blocks past it are
//! applied again (`Store::open`), re-inserting the same entries.
//!
//! Run file format (integers big-endian), `index/run-<first>-<last>` for
//! heights `first..=last`:
//! `count` entries of [`ENTRY_BYTES`] (`kind: u8`, `id: [u8; 32]`, `height:
//! u64`, `index: u32`, `leaf: u64`) sorted by (`kind`, `id`); the Bloom
//! filter (`bloom_words` × u64); the fences (one per block: the block's
//! first key, 33 bytes, and the CRC-32 of the block's bytes); a footer of
//! [`FOOTER_BYTES`]: magic `KSIDX001`, `first`, `last`, `count`,
//! `bloom_words`, the CRC-32 of the Bloom filter and fences, and 4 zero bytes.

use keepsake_types::DigestMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tracing::{info, warn};

use crate::{Result, StoreError};

/// Bytes of a key: the kind, then the 32-byte id.
pub(crate) const KEY_BYTES: usize = 33;
/// Bytes of an entry.
pub(crate) const ENTRY_BYTES: usize = KEY_BYTES + 8 + 4 + 8;
/// Entries per block of a run (the unit of a read and of a checksum).
pub(crate) const BLOCK_ENTRIES: usize = 64;
/// Memtable entries that trigger writing a run.
pub(crate) const FLUSH_ENTRIES: usize = 65_536;
/// Bloom filter bits per entry (about 1 % false positives with 7 probes).
const BLOOM_BITS_PER_ENTRY: u64 = 10;
const BLOOM_PROBES: u64 = 7;
/// Bytes of a run's footer.
pub(crate) const FOOTER_BYTES: usize = 48;
const MAGIC: &[u8; 8] = b"KSIDX001";
const FENCE_BYTES: usize = KEY_BYTES + 4;

/// What an id is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A transaction id.
    Tx = 0,
    /// A certificate id.
    Cert = 1,
}

/// An index key.
pub(crate) type Key = [u8; KEY_BYTES];

/// The key of `id` of `kind`.
pub(crate) fn key(kind: Kind, id: &[u8; 32]) -> Key {
    let mut k = [0u8; KEY_BYTES];
    k[0] = kind as u8;
    k[1..].copy_from_slice(id);
    k
}

/// Where a transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    /// Its block's height.
    pub(crate) height: u64,
    /// Its index in the block.
    pub(crate) index: u32,
    /// Its log leaf.
    pub(crate) leaf: u64,
}

fn encode_entry(out: &mut Vec<u8>, key: &Key, loc: &Loc) {
    out.extend_from_slice(key);
    out.extend_from_slice(&loc.height.to_be_bytes());
    out.extend_from_slice(&loc.index.to_be_bytes());
    out.extend_from_slice(&loc.leaf.to_be_bytes());
}

fn decode_entry(bytes: &[u8]) -> (Key, Loc) {
    let mut key = [0u8; KEY_BYTES];
    key.copy_from_slice(&bytes[..KEY_BYTES]);
    let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    let index = u32::from_be_bytes(bytes[KEY_BYTES + 8..KEY_BYTES + 12].try_into().expect("4 bytes"));
    (key, Loc { height: u64_at(KEY_BYTES), index, leaf: u64_at(KEY_BYTES + 12) })
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::History { what, source }
}

/// A Bloom filter over keys that are (after the kind byte) SHA-256 outputs,
/// so their bytes are the hash: two 64-bit words of the id drive the probes.
#[derive(Clone)]
struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    fn for_entries(count: usize) -> Bloom {
        let bits = (count as u64 * BLOOM_BITS_PER_ENTRY).max(64);
        Bloom { words: vec![0; bits.div_ceil(64) as usize] }
    }

    fn probes(&self, key: &Key) -> impl Iterator<Item = (usize, u64)> {
        let bits = self.words.len() as u64 * 64;
        let h1 = u64::from_be_bytes(key[1..9].try_into().expect("8 bytes")) ^ u64::from(key[0]);
        let h2 = u64::from_be_bytes(key[9..17].try_into().expect("8 bytes")) | 1;
        (0..BLOOM_PROBES).map(move |i| {
            let bit = h1.wrapping_add(i.wrapping_mul(h2)) % bits;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    fn insert(&mut self, key: &Key) {
        let probes: Vec<_> = self.probes(key).collect();
        for (word, mask) in probes {
            self.words[word] |= mask;
        }
    }

    fn may_contain(&self, key: &Key) -> bool {
        self.probes(key).all(|(word, mask)| self.words[word] & mask != 0)
    }
}

/// An immutable run: its file, and in memory its Bloom filter and fences.
struct Run {
    path: PathBuf,
    file: File,
    first: u64,
    last: u64,
    count: usize,
    bloom: Bloom,
    fences: Vec<(Key, u32)>,
}

impl Run {
    fn name(first: u64, last: u64) -> String {
        format!("run-{first:020}-{last:020}")
    }

    /// Writes `entries` (sorted, unique keys; at most `hint` of them) as the
    /// run of heights `first..=last` in `dir`, durably, and opens it.
    fn write(
        dir: &Path,
        first: u64,
        last: u64,
        hint: usize,
        entries: impl Iterator<Item = Result<(Key, Loc)>>,
    ) -> Result<Run> {
        let path = dir.join(Self::name(first, last));
        let tmp = dir.join(format!("{}.tmp", Self::name(first, last)));
        let file = File::create(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut bloom = Bloom::for_entries(hint);
        let mut fences = Vec::with_capacity(hint.div_ceil(BLOCK_ENTRIES));
        let mut count = 0usize;
        let mut block = Vec::with_capacity(BLOCK_ENTRIES * ENTRY_BYTES);
        let mut first_key = None;
        let mut previous: Option<Key> = None;
        let mut flush_block =
            |block: &mut Vec<u8>, first_key: &mut Option<Key>, out: &mut BufWriter<File>| -> Result<()> {
                if let Some(k) = first_key.take() {
                    fences.push((k, crc32fast::hash(block)));
                    out.write_all(block).map_err(io(format!("writing {}", tmp.display())))?;
                    block.clear();
                }
                Ok(())
            };
        for entry in entries {
            let (key, loc) = entry?;
            count += 1;
            if previous.is_some_and(|p| p >= key) {
                return Err(StoreError::Corrupt(
                    "index run entries are not sorted and unique (a bug)".into(),
                ));
            }
            previous = Some(key);
            bloom.insert(&key);
            first_key.get_or_insert(key);
            encode_entry(&mut block, &key, &loc);
            if block.len() == BLOCK_ENTRIES * ENTRY_BYTES {
                flush_block(&mut block, &mut first_key, &mut out)?;
            }
        }
        flush_block(&mut block, &mut first_key, &mut out)?;
        let mut meta = Vec::with_capacity(bloom.words.len() * 8 + fences.len() * FENCE_BYTES);
        for w in &bloom.words {
            meta.extend_from_slice(&w.to_be_bytes());
        }
        for (k, crc) in &fences {
            meta.extend_from_slice(k);
            meta.extend_from_slice(&crc.to_be_bytes());
        }
        let mut footer = Vec::with_capacity(FOOTER_BYTES);
        footer.extend_from_slice(MAGIC);
        footer.extend_from_slice(&first.to_be_bytes());
        footer.extend_from_slice(&last.to_be_bytes());
        footer.extend_from_slice(&(count as u64).to_be_bytes());
        footer.extend_from_slice(&(bloom.words.len() as u64).to_be_bytes());
        footer.extend_from_slice(&crc32fast::hash(&meta).to_be_bytes());
        footer.extend_from_slice(&[0u8; 4]);
        out.write_all(&meta).map_err(io(format!("writing {}", tmp.display())))?;
        out.write_all(&footer).map_err(io(format!("writing {}", tmp.display())))?;
        let file = out.into_inner().map_err(|e| StoreError::History {
            what: format!("writing {}", tmp.display()),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(format!("fsync of {}", tmp.display())))?;
        drop(file);
        std::fs::rename(&tmp, &path).map_err(io(format!("renaming {}", tmp.display())))?;
        sync_dir(dir)?;
        Run::open(&path)
    }

    /// Opens a run file, checking its footer and the checksum of its Bloom
    /// filter and fences (the entries are checked block by block as read).
    fn open(path: &Path) -> Result<Run> {
        let bad = |why: &str| StoreError::Corrupt(format!("index run {}: {why}", path.display()));
        let file = File::open(path).map_err(io(format!("opening {}", path.display())))?;
        let len = file.metadata().map_err(io(format!("reading the size of {}", path.display())))?.len();
        if len < FOOTER_BYTES as u64 {
            return Err(bad("shorter than its footer"));
        }
        let mut footer = [0u8; FOOTER_BYTES];
        file.read_exact_at(&mut footer, len - FOOTER_BYTES as u64)
            .map_err(io(format!("reading {}", path.display())))?;
        if &footer[..8] != MAGIC {
            return Err(bad("no footer"));
        }
        let u64_at = |i: usize| u64::from_be_bytes(footer[i..i + 8].try_into().expect("8 bytes"));
        let (first, last, count, bloom_words) = (u64_at(8), u64_at(16), u64_at(24), u64_at(32));
        let meta_crc = u32::from_be_bytes(footer[40..44].try_into().expect("4 bytes"));
        let blocks = count.div_ceil(BLOCK_ENTRIES as u64);
        let entries_len = count.checked_mul(ENTRY_BYTES as u64);
        let meta_len = bloom_words.checked_mul(8).zip(blocks.checked_mul(FENCE_BYTES as u64));
        let expected = entries_len
            .zip(meta_len)
            .and_then(|(e, (b, f))| e.checked_add(b)?.checked_add(f)?.checked_add(FOOTER_BYTES as u64));
        if expected != Some(len) || first > last || bloom_words == 0 {
            return Err(bad("its footer does not match its size"));
        }
        let entries_len = count * ENTRY_BYTES as u64;
        let mut meta = vec![0u8; (len - FOOTER_BYTES as u64 - entries_len) as usize];
        file.read_exact_at(&mut meta, entries_len).map_err(io(format!("reading {}", path.display())))?;
        if crc32fast::hash(&meta) != meta_crc {
            return Err(bad("its Bloom filter or fences fail their checksum"));
        }
        let (bloom_bytes, fence_bytes) = meta.split_at(bloom_words as usize * 8);
        let bloom = Bloom {
            words: bloom_bytes.chunks(8).map(|c| u64::from_be_bytes(c.try_into().expect("8"))).collect(),
        };
        let fences = fence_bytes
            .chunks(FENCE_BYTES)
            .map(|c| {
                let mut k = [0u8; KEY_BYTES];
                k.copy_from_slice(&c[..KEY_BYTES]);
                (k, u32::from_be_bytes(c[KEY_BYTES..].try_into().expect("4 bytes")))
            })
            .collect();
        Ok(Run { path: path.to_path_buf(), file, first, last, count: count as usize, bloom, fences })
    }

    /// Entries of block `b`, checked against its checksum.
    fn block(&self, b: usize) -> Result<Vec<u8>> {
        let start = b * BLOCK_ENTRIES;
        let n = BLOCK_ENTRIES.min(self.count - start);
        let mut bytes = vec![0u8; n * ENTRY_BYTES];
        self.file
            .read_exact_at(&mut bytes, (start * ENTRY_BYTES) as u64)
            .map_err(io(format!("reading {}", self.path.display())))?;
        if crc32fast::hash(&bytes) != self.fences[b].1 {
            return Err(StoreError::Corrupt(format!(
                "index run {}: block {b} fails its checksum",
                self.path.display()
            )));
        }
        Ok(bytes)
    }

    fn get(&self, key: &Key) -> Result<Option<Loc>> {
        if !self.bloom.may_contain(key) {
            return Ok(None);
        }
        let b = self.fences.partition_point(|(first, _)| first <= key);
        if b == 0 {
            return Ok(None);
        }
        let bytes = self.block(b - 1)?;
        let entries = bytes.len() / ENTRY_BYTES;
        let (mut lo, mut hi) = (0, entries);
        while lo < hi {
            let mid = (lo + hi) / 2;
            let at = &bytes[mid * ENTRY_BYTES..(mid + 1) * ENTRY_BYTES];
            match at[..KEY_BYTES].cmp(&key[..]) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(decode_entry(at).1)),
            }
        }
        Ok(None)
    }

    /// Every entry, in key order, read sequentially (for a merge).
    fn entries(&self) -> Result<RunReader> {
        let file = File::open(&self.path).map_err(io(format!("opening {}", self.path.display())))?;
        Ok(RunReader {
            reader: BufReader::with_capacity(1 << 20, file),
            left: self.count,
            path: self.path.clone(),
        })
    }

    /// Bytes of memory this run keeps.
    fn memory(&self) -> usize {
        self.bloom.words.len() * 8 + self.fences.len() * std::mem::size_of::<(Key, u32)>()
    }
}

struct RunReader {
    reader: BufReader<File>,
    left: usize,
    path: PathBuf,
}

impl RunReader {
    fn next_entry(&mut self) -> Result<Option<(Key, Loc)>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut bytes = [0u8; ENTRY_BYTES];
        self.reader.read_exact(&mut bytes).map_err(io(format!("reading {}", self.path.display())))?;
        self.left -= 1;
        Ok(Some(decode_entry(&bytes)))
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(format!("fsync of {}", dir.display())))
}

/// The index: runs (oldest first) and the memtable.
pub(crate) struct IdIndex {
    dir: PathBuf,
    runs: Arc<RwLock<Arc<Vec<Arc<Run>>>>>,
    /// The memtable: looked up for every new id (a duplicate check), so a
    /// hash map; sorted only when written as a run.
    mem: RwLock<DigestMap<Key, Loc>>,
    /// One background merge at a time.
    merging: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The first fault of a background merge, reported by the next commit.
    merge_fault: Arc<Mutex<Option<String>>>,
    /// Memtable entries that trigger a run ([`FLUSH_ENTRIES`] unless changed).
    flush_entries: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdIndex").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl IdIndex {
    /// Opens the index in `dir` (created if missing): loads the runs, drops
    /// leftovers of an interrupted write or merge, and keeps the longest
    /// chain of runs covering heights `1..=H` without a gap. Returns the index
    /// and `H`: the caller rebuilds the memtable from the history after it.
    pub(crate) fn open(dir: &Path) -> Result<(IdIndex, u64)> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let mut runs = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(format!("listing {}", dir.display())))? {
            let entry = entry.map_err(io(format!("listing {}", dir.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if name.ends_with(".tmp") {
                warn!(file = %path.display(), "index: removing an unfinished run");
                std::fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
            } else if name.starts_with("run-") {
                match Run::open(&path) {
                    Ok(run) => runs.push(run),
                    Err(StoreError::Corrupt(why)) => {
                        // Derived data: rebuilt from the history.
                        warn!(%why, "index: dropping a damaged run");
                        std::fs::remove_file(&path).map_err(io(format!("removing {}", path.display())))?;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        // Widest first at each start, so a merged run wins over the runs it replaced.
        runs.sort_by_key(|r| (r.first, std::cmp::Reverse(r.last)));
        let mut kept: Vec<Run> = Vec::new();
        let mut covered = 0u64;
        for run in runs {
            if run.first == covered + 1 {
                covered = run.last;
                kept.push(run);
            } else {
                // Inside a kept run (merged away) or past a gap: rebuilt.
                std::fs::remove_file(&run.path).map_err(io(format!("removing {}", run.path.display())))?;
            }
        }
        let index = IdIndex {
            dir: dir.to_path_buf(),
            runs: Arc::new(RwLock::new(Arc::new(kept.into_iter().map(Arc::new).collect()))),
            mem: RwLock::new(DigestMap::default()),
            merging: Mutex::new(None),
            merge_fault: Arc::new(Mutex::new(None)),
            flush_entries: std::sync::atomic::AtomicUsize::new(FLUSH_ENTRIES),
        };
        Ok((index, covered))
    }

    /// The entry of `key` visible at `height` (entries of later heights are
    /// not: see the module docs).
    pub(crate) fn get(&self, key: &Key, height: u64) -> Result<Option<Loc>> {
        let visible = |loc: Loc| (loc.height <= height).then_some(loc);
        if let Some(loc) = self.mem.read().unwrap_or_else(PoisonError::into_inner).get(key) {
            return Ok(visible(*loc));
        }
        let runs = self.runs.read().unwrap_or_else(PoisonError::into_inner).clone();
        for run in runs.iter().rev() {
            if let Some(loc) = run.get(key)? {
                return Ok(visible(loc));
            }
        }
        Ok(None)
    }

    /// Adds the entries of a committed block to the memtable.
    pub(crate) fn insert(&self, entries: impl IntoIterator<Item = (Key, Loc)>) {
        let mut mem = self.mem.write().unwrap_or_else(PoisonError::into_inner);
        mem.extend(entries);
    }

    /// Takes back the entries of a block whose state batch failed.
    pub(crate) fn remove(&self, keys: &[Key]) {
        let mut mem = self.mem.write().unwrap_or_else(PoisonError::into_inner);
        for key in keys {
            mem.remove(key);
        }
    }

    /// After block `height` is committed: writes the memtable as a run when it
    /// is large enough, and starts a background merge when the runs call for
    /// one. Callers serialise calls (the store's commit lock).
    pub(crate) fn after_commit(&self, height: u64) -> Result<()> {
        if let Some(why) = self.merge_fault.lock().unwrap_or_else(PoisonError::into_inner).take() {
            return Err(StoreError::Corrupt(format!("index merge failed: {why}")));
        }
        let threshold = self.flush_entries.load(std::sync::atomic::Ordering::Relaxed);
        if self.mem.read().unwrap_or_else(PoisonError::into_inner).len() < threshold {
            return Ok(());
        }
        self.flush(height)?;
        self.maybe_merge();
        Ok(())
    }

    /// Sets how many memtable entries trigger a run (tests use small runs).
    pub(crate) fn set_flush_entries(&self, entries: usize) {
        self.flush_entries.store(entries.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Writes the memtable (heights up to `height`) as a run.
    pub(crate) fn flush(&self, height: u64) -> Result<()> {
        let first = self.runs.read().unwrap_or_else(PoisonError::into_inner).last().map_or(0, |r| r.last) + 1;
        if first > height {
            return Ok(());
        }
        let mut entries: Vec<(Key, Loc)> = {
            let mem = self.mem.read().unwrap_or_else(PoisonError::into_inner);
            mem.iter().filter(|(_, l)| l.height <= height).map(|(k, l)| (*k, *l)).collect()
        };
        // A run is sorted by key (keys are unique: the memtable is a map).
        entries.sort_unstable_by_key(|(key, _)| *key);
        let hint = entries.len();
        let run = Arc::new(Run::write(&self.dir, first, height, hint, entries.into_iter().map(Ok))?);
        {
            let mut runs = self.runs.write().unwrap_or_else(PoisonError::into_inner);
            let mut list = (**runs).clone();
            list.push(run);
            *runs = Arc::new(list);
        }
        self.mem.write().unwrap_or_else(PoisonError::into_inner).retain(|_, l| l.height > height);
        Ok(())
    }

    /// Starts merging in the background (unless a merge is running) while
    /// the newest run is at least half the size of the one before it.
    fn maybe_merge(&self) {
        let mut merging = self.merging.lock().unwrap_or_else(PoisonError::into_inner);
        if merging.as_ref().is_some_and(|h| !h.is_finished()) || next_merge(&self.runs).is_none() {
            return;
        }
        let (dir, runs, fault) = (self.dir.clone(), self.runs.clone(), self.merge_fault.clone());
        *merging = Some(std::thread::spawn(move || {
            while let Some((older, newer)) = next_merge(&runs) {
                if let Err(e) = merge(&dir, &older, &newer, &runs) {
                    *fault.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
                    return;
                }
            }
        }));
    }

    /// Waits for a running merge (tests, and a clean close).
    pub(crate) fn wait_for_merge(&self) {
        if let Some(handle) = self.merging.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = handle.join();
        }
    }

    /// Runs, and bytes of memory the index keeps beside its memtable.
    pub(crate) fn stats(&self) -> (usize, usize, usize) {
        let runs = self.runs.read().unwrap_or_else(PoisonError::into_inner).clone();
        let mem = self.mem.read().unwrap_or_else(PoisonError::into_inner).len();
        (runs.len(), runs.iter().map(|r| r.memory()).sum(), mem)
    }
}

impl Drop for IdIndex {
    fn drop(&mut self) {
        self.wait_for_merge();
    }
}

/// The two newest runs, when the newer is at least half the size of the older.
fn next_merge(runs: &RwLock<Arc<Vec<Arc<Run>>>>) -> Option<(Arc<Run>, Arc<Run>)> {
    let runs = runs.read().unwrap_or_else(PoisonError::into_inner).clone();
    let n = runs.len();
    (n >= 2 && runs[n - 1].count * 2 >= runs[n - 2].count).then(|| (runs[n - 2].clone(), runs[n - 1].clone()))
}

/// Merges two adjacent runs into one covering both height ranges, swaps it in
/// for them (they stay adjacent: new runs are only appended after them), and
/// removes their files.
fn merge(dir: &Path, older: &Run, newer: &Run, runs: &RwLock<Arc<Vec<Arc<Run>>>>) -> Result<()> {
    let mut a = older.entries()?;
    let mut b = newer.entries()?;
    let (mut next_a, mut next_b) = (a.next_entry()?, b.next_entry()?);
    let merged = std::iter::from_fn(|| -> Option<Result<(Key, Loc)>> {
        let step = (|| -> Result<Option<(Key, Loc)>> {
            let out = match (next_a, next_b) {
                (None, None) => return Ok(None),
                (Some(x), None) => {
                    next_a = a.next_entry()?;
                    x
                }
                (None, Some(y)) => {
                    next_b = b.next_entry()?;
                    y
                }
                (Some(x), Some(y)) => match x.0.cmp(&y.0) {
                    std::cmp::Ordering::Less => {
                        next_a = a.next_entry()?;
                        x
                    }
                    std::cmp::Ordering::Greater => {
                        next_b = b.next_entry()?;
                        y
                    }
                    // The same entry written twice (blocks applied again after a crash).
                    std::cmp::Ordering::Equal => {
                        next_a = a.next_entry()?;
                        next_b = b.next_entry()?;
                        y
                    }
                },
            };
            Ok(Some(out))
        })();
        step.transpose()
    });
    let run = Arc::new(Run::write(dir, older.first, newer.last, older.count + newer.count, merged)?);
    info!(first = run.first, last = run.last, entries = run.count, "index: runs merged");
    {
        let mut list = runs.write().unwrap_or_else(PoisonError::into_inner);
        let mut next: Vec<Arc<Run>> = Vec::with_capacity(list.len());
        for r in list.iter() {
            if r.path == older.path {
                next.push(run.clone());
            } else if r.path != newer.path {
                next.push(r.clone());
            }
        }
        *list = Arc::new(next);
    }
    for old in [&older.path, &newer.path] {
        std::fs::remove_file(old).map_err(io(format!("removing {}", old.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn id(n: u64) -> [u8; 32] {
        keepsake_types::hash::sha256(&n.to_be_bytes()).0
    }

    fn loc(n: u64) -> Loc {
        Loc { height: n / 10 + 1, index: (n % 10) as u32, leaf: n }
    }

    #[test]
    fn runs_flush_merge_and_answer_like_a_map() {
        let dir = tempfile::tempdir().unwrap();
        let (index, covered) = IdIndex::open(dir.path()).unwrap();
        assert_eq!(covered, 0);
        let mut reference = BTreeMap::new();
        // 300 blocks of 10 entries of each kind, flushed every 40 blocks by hand.
        for n in 0..3_000u64 {
            let entries = [(key(Kind::Tx, &id(n)), loc(n)), (key(Kind::Cert, &id(n + 1_000_000)), loc(n))];
            reference.extend(entries);
            index.insert(entries);
            let height = loc(n).height;
            if n % 10 == 9 && height.is_multiple_of(40) {
                index.flush(height).unwrap();
                index.maybe_merge();
                index.wait_for_merge();
            }
        }
        let (runs, memory, mem) = index.stats();
        assert!((2..=4).contains(&runs), "{runs} runs after 7 flushes and merges");
        assert!(memory > 0 && mem > 0);
        for (k, l) in &reference {
            assert_eq!(index.get(k, 300).unwrap(), Some(*l));
        }
        // Misses, of both kinds; and entries above the visible height are not seen.
        assert_eq!(index.get(&key(Kind::Tx, &id(5_000)), 300).unwrap(), None);
        assert_eq!(index.get(&key(Kind::Cert, &id(0)), 300).unwrap(), None);
        assert_eq!(index.get(&key(Kind::Tx, &id(2_999)), 299).unwrap(), None);
        assert_eq!(index.get(&key(Kind::Tx, &id(2_989)), 299).unwrap(), Some(loc(2_989)));
        // Reopened: the runs cover up to the last flush; the memtable is the caller's to rebuild.
        drop(index);
        let (index, covered) = IdIndex::open(dir.path()).unwrap();
        assert_eq!(covered, 280);
        for (k, l) in reference.iter().filter(|(_, l)| l.height <= 280) {
            assert_eq!(index.get(k, 300).unwrap(), Some(*l));
        }
        assert_eq!(index.get(&key(Kind::Tx, &id(2_999)), 300).unwrap(), None, "not flushed");
    }

    #[test]
    fn leftovers_of_a_crash_are_dropped_and_damage_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (index, _) = IdIndex::open(dir.path()).unwrap();
            for h in 1..=3u64 {
                index.insert([(key(Kind::Tx, &id(h)), Loc { height: h, index: 0, leaf: h })]);
                index.flush(h).unwrap();
            }
            index.wait_for_merge();
        }
        // An unfinished run (a crash while writing it).
        std::fs::copy(dir.path().join(Run::name(1, 1)), dir.path().join(Run::name(1, 1) + ".tmp")).unwrap();
        let (index, covered) = IdIndex::open(dir.path()).unwrap();
        assert_eq!(covered, 3);
        assert!(!dir.path().join(Run::name(1, 1) + ".tmp").exists());
        assert_eq!(index.get(&key(Kind::Tx, &id(2)), 3).unwrap().map(|l| l.leaf), Some(2));
        drop(index);
        // A run whose fences are damaged is dropped (the history rebuilds it); so is what follows it.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        let first = names.iter().min().unwrap().clone();
        let mut bytes = std::fs::read(&first).unwrap();
        let at = bytes.len() - FOOTER_BYTES - 1;
        bytes[at] ^= 1;
        std::fs::write(&first, bytes).unwrap();
        let (_, covered) = IdIndex::open(dir.path()).unwrap();
        assert_eq!(covered, 0);
        // A damaged entry block is caught when read.
        let (index, _) = IdIndex::open(dir.path()).unwrap();
        index.insert([(key(Kind::Tx, &id(9)), Loc { height: 1, index: 0, leaf: 9 })]);
        index.flush(1).unwrap();
        drop(index);
        let path = dir.path().join(Run::name(1, 1));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let (index, _) = IdIndex::open(dir.path()).unwrap();
        assert_eq!(index.get(&key(Kind::Tx, &id(9)), 1).unwrap_err().code(), "Corrupt");
    }
}
