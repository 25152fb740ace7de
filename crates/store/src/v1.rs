//! Reading a data directory of schema version 1, for `keepsake migrate`:
//! the sled database directly in the data directory, with every block under
//! `block/<height: u64 BE>` and its commit under `commit/<height: u64 BE>`,
//! the meta keys as in version 2, and kept evidence in the `evidence` tree.
//! Only what a migration needs is read: the blocks, the commits and the
//! evidence (the state is rebuilt by executing the blocks again).

use std::path::Path;

use keepsake_types::{Block, Commit, Genesis};

use crate::layout::EVIDENCE_TREE;
use crate::store::{Limits, decode_commit, open_existing};
use crate::{Result, StoreError};

/// The raw blocks, commits and evidence of a version-1 data directory.
pub struct V1Reader {
    db: sled::Db,
    limits: Limits,
}

impl std::fmt::Debug for V1Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("V1Reader").finish_non_exhaustive()
    }
}

fn key(prefix: &[u8], height: u64) -> Vec<u8> {
    [prefix, &height.to_be_bytes()].concat()
}

impl V1Reader {
    /// Opens the version-1 database in `path` (which must exist), checking
    /// its schema version (1) and its genesis.
    pub fn open(path: impl AsRef<Path>, genesis: &Genesis) -> Result<V1Reader> {
        let path = path.as_ref();
        let db = open_existing(path, path, 1, genesis, "a version-1 Keepsake data directory")?;
        Ok(V1Reader { db, limits: Limits::new(genesis) })
    }

    /// The highest height with a stored block (0 when none).
    pub fn last_height(&self) -> Result<u64> {
        let Some(entry) = self.db.scan_prefix(b"block/").next_back() else {
            return Ok(0);
        };
        let (k, _) = entry?;
        let suffix: [u8; 8] = k[b"block/".len()..]
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("malformed key {}", String::from_utf8_lossy(&k))))?;
        Ok(u64::from_be_bytes(suffix))
    }

    /// The block and commit at `height`, decoded within the same bounds as
    /// a version-2 store's; `None` if either is missing.
    pub fn block_and_commit(&self, height: u64) -> Result<Option<(Block, Commit)>> {
        let (Some(block), Some(commit)) =
            (self.db.get(key(b"block/", height))?, self.db.get(key(b"commit/", height))?)
        else {
            return Ok(None);
        };
        Ok(Some((self.limits.decode_block(&block)?, decode_commit(&commit)?)))
    }

    /// The raw kept evidence records, at most `limit`.
    pub fn evidence_bytes(&self, limit: usize) -> Result<Vec<Vec<u8>>> {
        let tree = self.db.open_tree(EVIDENCE_TREE)?;
        tree.iter().take(limit).map(|e| Ok(e?.1.to_vec())).collect()
    }
}
