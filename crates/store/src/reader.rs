//! Read-only access to a node's data directory for auditors
//! (`keepsake audit --data-dir`): the raw bytes of every block and commit
//! (from the history files), the tip record and the kept evidence, with
//! **no** consistency check and no decoding. An auditor trusts nothing in the directory: it decodes and
//! verifies every byte itself, and a damaged or forged record must reach it
//! as it is, not be refused by [`crate::Store::open`] before it can be
//! reported.
//!
//! Only the meta keys are checked (this build's schema, the auditor's
//! genesis), because without them nothing else can be read at all, and each
//! history record's framing (its height, its lengths within the chain's
//! bounds, its checksum), because without it the record cannot be cut out of
//! the file: a record that fails them makes [`ChainReader::block_bytes`] fail
//! with `Corrupt`, and the audit then stops with that error instead of a
//! report. A forger who rewrites a record with a fresh checksum gets past
//! this, and the audit's own checks (hashes, signatures) catch the forgery.
//!
//! sled has no read-only mode and locks its directory: audit a stopped
//! node's directory, or a copy of it (docs/auditor-guide.md).

use std::path::Path;

use keepsake_types::{BlockHash, Genesis};

use crate::history::{History, RecordBounds};
use crate::layout::{self, EVIDENCE_TREE};
use crate::store::{Limits, open_existing, refuse_version_1};
use crate::{Result, StoreError};

/// The raw chain records of a data directory.
pub struct ChainReader {
    db: sled::Db,
    history: History,
    bounds: RecordBounds,
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
        refuse_version_1(path)?;
        let state = path.join(layout::STATE_DIR);
        let db = open_existing(&state, path, layout::SCHEMA_VERSION, genesis, "a Keepsake data directory")?;
        let history = History::open_read_only(&path.join(layout::HISTORY_DIR))?;
        Ok(ChainReader { db, history, bounds: Limits::new(genesis).record_bounds() })
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

    /// The highest height with a history record (0 when none).
    pub fn last_height(&self) -> Result<u64> {
        self.history.stored_heights()
    }

    /// The raw block record at `height`.
    pub fn block_bytes(&self, height: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.record(height)?.map(|r| r.block))
    }

    /// The raw commit record at `height`.
    pub fn commit_bytes(&self, height: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.record(height)?.map(|r| r.commit))
    }

    fn record(&self, height: u64) -> Result<Option<crate::history::Record>> {
        if height == 0 || height > self.last_height()? {
            return Ok(None);
        }
        self.history.record(height, self.bounds).map(Some)
    }

    /// The raw evidence records, at most `limit`.
    pub fn evidence_bytes(&self, limit: usize) -> Result<Vec<Vec<u8>>> {
        let tree = self.db.open_tree(EVIDENCE_TREE)?;
        tree.iter().take(limit).map(|e| Ok(e?.1.to_vec())).collect()
    }
}
