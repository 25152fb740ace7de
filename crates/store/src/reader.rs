//! Read-only access to a node's data directory for auditors
//! (`keepsake audit --data-dir`): the raw bytes of every block and commit,
//! the tip record and the kept evidence, with **no** consistency check and
//! no decoding. An auditor trusts nothing in the directory: it decodes and
//! verifies every byte itself, and a damaged or forged record must reach it
//! as it is, not be refused by [`crate::Store::open`] before it can be
//! reported.
//!
//! Only the meta keys are checked (this build's schema, the auditor's
//! genesis), because without them nothing else can be read at all; a key
//! under `block/` or `commit/` that is not a height (the wrong length) makes
//! [`ChainReader::last_height`] fail with `Corrupt`, and the audit then
//! stops with that error instead of a report.
//!
//! sled has no read-only mode and locks its directory: audit a stopped
//! node's directory, or a copy of it (docs/auditor-guide.md).

use std::path::Path;

use keepsake_types::{BlockHash, Genesis};

use crate::layout::{self, EVIDENCE_TREE};
use crate::store::{check_meta, open_waiting_for_lock};
use crate::{Result, StoreError};

/// The raw chain records of a data directory.
pub struct ChainReader {
    db: sled::Db,
}

impl std::fmt::Debug for ChainReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainReader").finish_non_exhaustive()
    }
}

impl ChainReader {
    /// Opens the database at `path`, which must already exist, and checks
    /// that it is of this build's schema and of the chain of `genesis`.
    pub fn open(path: impl AsRef<Path>, genesis: &Genesis) -> Result<ChainReader> {
        let path = path.as_ref();
        // sled creates a database where there is none: refuse that first.
        if !path.join("conf").is_file() {
            return Err(StoreError::OutOfRange(format!(
                "{} is not a Keepsake data directory (no sled database in it)",
                path.display()
            )));
        }
        let db =
            open_waiting_for_lock(&sled::Config::new().path(path).cache_capacity(crate::store::CACHE_BYTES))?;
        let version = db
            .get(layout::META_SCHEMA_VERSION)?
            .ok_or_else(|| StoreError::Corrupt("meta/schema_version is missing".into()))?;
        check_meta(&db, &version, genesis.hash())?;
        Ok(ChainReader { db })
    }

    /// The genesis hash recorded in the database (already checked equal to
    /// the auditor's).
    pub fn genesis_hash(&self) -> Result<BlockHash> {
        let stored = self
            .db
            .get(layout::META_GENESIS_HASH)?
            .ok_or_else(|| StoreError::Corrupt("meta/genesis_hash is missing".into()))?;
        let bytes: [u8; 32] = stored
            .as_ref()
            .try_into()
            .map_err(|_| StoreError::Corrupt("meta/genesis_hash is not 32 bytes".into()))?;
        Ok(BlockHash(bytes))
    }

    /// The raw `meta/tip` record, if any.
    pub fn tip_bytes(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(layout::META_TIP)?.map(|v| v.to_vec()))
    }

    /// The highest height with a stored block or commit (0 when none).
    pub fn last_height(&self) -> Result<u64> {
        let mut last = 0;
        for prefix in [layout::BLOCK, layout::COMMIT] {
            if let Some(entry) = self.db.scan_prefix(prefix).next_back() {
                let (key, _) = entry?;
                let height = layout::height_in(prefix, &key).ok_or_else(|| {
                    StoreError::Corrupt(format!("malformed key {}", String::from_utf8_lossy(&key)))
                })?;
                last = last.max(height);
            }
        }
        Ok(last)
    }

    /// The raw block record at `height`.
    pub fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(layout::block(height))?.map(|v| v.to_vec()))
    }

    /// The raw commit record at `height`.
    pub fn commit_bytes(&self, height: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(layout::commit(height))?.map(|v| v.to_vec()))
    }

    /// The raw evidence records, at most `limit`.
    pub fn evidence_bytes(&self, limit: usize) -> Result<Vec<Vec<u8>>> {
        let tree = self.db.open_tree(EVIDENCE_TREE)?;
        tree.iter().take(limit).map(|e| Ok(e?.1.to_vec())).collect()
    }
}
