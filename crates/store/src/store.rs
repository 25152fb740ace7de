//! [`Store`]: opening and recovery, the atomic block commit, and the reads
//! the node, the RPC and the ledger ([`StateView`], [`NodeSource`]) need.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use keepsake_ledger::{
    BurnRecord, CertificateState, Executed, GovernanceRecord, IssuerRecord, LedgerError, LicencePolicyRecord,
    LicenceRecord, ObserverRecord, ReviewerRecord, RevocationRecord, SeriesLife, SeriesRecord, SetRecord,
    StateView, Tip, TxLocation,
};
use keepsake_types::encoding::{decode, decode_prefix, encode};
use keepsake_types::genesis::VALIDATORS_MAX;
use keepsake_types::merkle::{self, NodeSource};
use keepsake_types::{
    Block, BlockHash, CertificateId, ChainId, Commit, ContentHash, DoubleVote, Genesis, Hash32, Header,
    LogLeafRef, PublicKey, SeriesId, SignedTx, TxBody, TxId,
};
use serde::de::DeserializeOwned;
use tracing::{debug, info};

use crate::history::{History, Lengths, RecordBounds};
use crate::index::{self, IdIndex, Kind, Loc};
use crate::layout::{self, EVIDENCE_BYTES_MAX, EVIDENCE_STORED_MAX, EVIDENCE_TREE, SCHEMA_VERSION};
use crate::{Result, StoreError};

/// Largest stored commit: every genesis validator's signature and key, with room for framing.
pub(crate) const COMMIT_BYTES_MAX: usize = VALIDATORS_MAX * 128 + 1024;
/// Largest encoded block header (fixed-size fields, a chain id of at most 64 bytes, varints).
const HEADER_BYTES_MAX: usize = 1024;
/// Largest stored tip record (six fixed-size fields).
const TIP_BYTES_MAX: usize = 256;
/// Room for a block header and framing on top of the transactions.
const BLOCK_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Room for framing on top of each transaction in a block.
const PER_TX_OVERHEAD_BYTES: u64 = 16;
/// Room for the fixed fields of a state record on top of the strings it
/// copies from a transaction (which is at most `tx_bytes_max`).
const RECORD_OVERHEAD_BYTES: u64 = 1024;

/// A stored commit, decoded within [`COMMIT_BYTES_MAX`].
pub(crate) fn decode_commit(bytes: &[u8]) -> Result<Commit> {
    decode(bytes, COMMIT_BYTES_MAX, "commit").map_err(|source| StoreError::Decode { what: "commit", source })
}

/// Largest encoded [`SetRecord`]: the most validators, each with its key,
/// power and longest name, plus the change's location.
const SET_RECORD_BYTES_MAX: usize =
    VALIDATORS_MAX * (32 + 10 + 2 + keepsake_ledger::rules::NAME_MAX_BYTES) + 128;

/// Decoding bounds, derived from the genesis parameters at open.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    block_bytes_max: usize,
    record_bytes_max: usize,
    tx_bytes_max: usize,
}

impl Limits {
    /// Saturating: a genesis with absurd parameters gets a huge bound, which
    /// only weakens a sanity check on our own data; it never wraps around.
    pub(crate) fn new(genesis: &Genesis) -> Self {
        let params = &genesis.params;
        let per_tx = u64::from(params.tx_bytes_max).saturating_add(PER_TX_OVERHEAD_BYTES);
        let block =
            per_tx.saturating_mul(u64::from(params.block_txs_max)).saturating_add(BLOCK_OVERHEAD_BYTES);
        let record = u64::from(params.tx_bytes_max).saturating_add(RECORD_OVERHEAD_BYTES);
        Limits {
            block_bytes_max: usize::try_from(block).unwrap_or(usize::MAX),
            record_bytes_max: usize::try_from(record).unwrap_or(usize::MAX),
            tx_bytes_max: usize::try_from(params.tx_bytes_max).unwrap_or(usize::MAX),
        }
    }

    /// A stored block, decoded within this chain's bound.
    pub(crate) fn decode_block(&self, bytes: &[u8]) -> Result<Block> {
        decode(bytes, self.block_bytes_max, "block")
            .map_err(|source| StoreError::Decode { what: "block", source })
    }

    /// The bounds of a history record.
    pub(crate) fn record_bounds(&self) -> RecordBounds {
        RecordBounds { block_bytes_max: self.block_bytes_max, commit_bytes_max: COMMIT_BYTES_MAX }
    }
}

/// The node's database: the state in one sled tree, the history in
/// append-only files, one crash-safe commit per block (history fdatasync'ed,
/// then one atomic sled batch). See the crate docs for the obligations of
/// callers and [`crate::layout`] for the format.
///
/// Reads may run concurrently with a commit. Each single read sees the
/// store either before or after a whole block (sled applies a batch under
/// its write lock, and history is read only up to the committed tip), never
/// half of one; a *sequence* of reads may straddle a commit and then sees a
/// later block for the later reads.
pub struct Store {
    db: sled::Db,
    history: History,
    index: IdIndex,
    /// The committed tip's height: what the id index shows.
    committed_height: AtomicU64,
    /// Commits left before the process aborts between the history write and
    /// the state batch (0: never). A fault-injection point for crash tests
    /// ([`Store::abort_after_history_write`]).
    abort_countdown: AtomicU64,
    /// The directory of a temporary store, removed on drop.
    _temporary: Option<RemoveOnDrop>,
    genesis_hash: BlockHash,
    genesis_tip: Tip,
    chain_id: ChainId,
    limits: Limits,
    /// Serialises [`Store::commit_block`]: the tip it checks must still be the
    /// tip when its batch lands.
    commit_lock: Mutex<()>,
    /// The last checkpoint read ([`Store::header_and_commit`]): height, header, commit.
    checkpoint_cache: Mutex<Option<(u64, Header, Commit)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("chain_id", &self.chain_id)
            .field("genesis_hash", &self.genesis_hash)
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path` for the chain of `genesis`,
    /// and checks it ([`Store::check_consistency`]) before returning it.
    ///
    /// Errors: [`StoreError::SchemaMismatch`] for a database of another
    /// format, [`StoreError::GenesisMismatch`] for one of another chain,
    /// [`StoreError::Corrupt`] for one that contradicts itself.
    ///
    /// sled 0.34 releases its file lock asynchronously: a background thread
    /// of a just-dropped `Store` may hold it for a few milliseconds. So a
    /// lock failure is retried for up to [`OPEN_LOCK_WAIT`] (in-process
    /// restarts in tests hit this; a second live process gets the error).
    ///
    /// A data directory of schema version 1 (the sled database directly in
    /// `path`) is refused with [`StoreError::SchemaMismatch`] before anything
    /// is written to it.
    pub fn open(path: impl AsRef<Path>, genesis: &Genesis) -> Result<Store> {
        let path = path.as_ref();
        refuse_version_1(path)?;
        let config = sled::Config::new().path(path.join(layout::STATE_DIR)).cache_capacity(CACHE_BYTES);
        let db = open_waiting_for_lock(&config, path)?;
        Self::open_in(path, db, genesis, None)
    }

    /// A store in a temporary directory, deleted on drop (tests, simulation).
    pub fn open_temporary(genesis: &Genesis) -> Result<Store> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "keepsake-store-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let guard = RemoveOnDrop(dir.clone());
        let db = sled::Config::new().path(dir.join(layout::STATE_DIR)).temporary(true).open()?;
        Self::open_in(&dir, db, genesis, Some(guard))
    }

    /// The store of the data directory `dir`, whose state database `db` is
    /// open: opens its history and id index, brings them in line with the
    /// state, and checks the whole.
    fn open_in(
        dir: &Path,
        db: sled::Db,
        genesis: &Genesis,
        temporary: Option<RemoveOnDrop>,
    ) -> Result<Store> {
        let history = History::open(&dir.join(layout::HISTORY_DIR))?;
        let (index, covered) = IdIndex::open(&dir.join(layout::INDEX_DIR))?;
        let store = Store {
            db,
            history,
            index,
            committed_height: AtomicU64::new(0),
            abort_countdown: AtomicU64::new(0),
            _temporary: temporary,
            genesis_hash: genesis.hash(),
            genesis_tip: Tip::genesis(genesis),
            chain_id: genesis.chain_id.clone(),
            limits: Limits::new(genesis),
            commit_lock: Mutex::new(()),
            checkpoint_cache: Mutex::new(None),
        };
        store.init_or_check_meta()?;
        let tip = store.tip()?;
        let tip_height = tip.as_ref().map_or(0, |t| t.height);
        let replay = store.history.recover(
            tip_height,
            tip.as_ref().map_or(0, |t| t.log_size),
            store.limits.record_bounds(),
        )?;
        store.committed_height.store(tip_height, Ordering::SeqCst);
        store.rebuild_index(covered, tip_height)?;
        if !replay.is_empty() {
            store.apply_again(genesis, replay)?;
        }
        match store.check_consistency()? {
            Some(tip) => info!(
                height = tip.height,
                hash = %tip.hash,
                log_size = tip.log_size,
                "store opened: recovered tip"
            ),
            None => info!(genesis = %store.genesis_hash, "store opened: no block committed yet"),
        }
        Ok(store)
    }

    /// Writes the meta keys of a new database, or checks those of an existing one.
    fn init_or_check_meta(&self) -> Result<()> {
        let Some(version) = self.db.get(layout::META_SCHEMA_VERSION)? else {
            if let Some(first) = self.db.iter().next() {
                let (key, _) = first?;
                return Err(StoreError::Corrupt(format!(
                    "database has data (first key {}) but no schema version",
                    describe_key(&key)
                )));
            }
            let mut batch = sled::Batch::default();
            batch.insert(layout::META_SCHEMA_VERSION, &SCHEMA_VERSION.to_be_bytes()[..]);
            batch.insert(layout::META_GENESIS_HASH, &self.genesis_hash.as_bytes()[..]);
            self.db.apply_batch(batch)?;
            self.db.flush()?;
            info!(schema_version = SCHEMA_VERSION, genesis = %self.genesis_hash, "store created");
            return Ok(());
        };
        check_meta(&self.db, &version, self.genesis_hash)
    }

    /// Checks that the store holds whole blocks only: the tip record, the
    /// history (a record for every height up to the tip and nothing past it,
    /// the log nodes of exactly the tip's log size), the block and commit at
    /// the tip, the hash index and the log root agree. Returns the tip
    /// (`None` before block 1).
    ///
    /// After a crash, [`Store::open`] cuts the history back to the state's
    /// tip first, so this check passes; a failure means the disk or a bug
    /// damaged the data, and the node must not serve or build on it.
    ///
    /// Holds off commits while it runs, so it never sees a block landing halfway through its reads.
    pub fn check_consistency(&self) -> Result<Option<Tip>> {
        let _no_commit = self.commit_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let tip = self.tip()?;
        let history = self.history.committed();
        let Some(tip) = tip else {
            if history != Lengths::default() {
                return corrupt(format!(
                    "no tip record, but the history holds {} blocks and {} log nodes",
                    history.heights, history.log_nodes
                ));
            }
            return Ok(None);
        };
        let height = tip.height;
        if height == 0 {
            return corrupt("tip record at height 0 (none is written before block 1)".into());
        }
        if history.heights != height {
            return corrupt(format!(
                "tip is block {height} but the history holds {} blocks",
                history.heights
            ));
        }
        let nodes = layout::log_nodes_for(tip.log_size);
        if history.log_nodes != nodes {
            return corrupt(format!(
                "a log of {} leaves has {nodes} nodes, the history holds {}",
                tip.log_size, history.log_nodes
            ));
        }
        let block =
            self.block(height)?.ok_or_else(|| StoreError::Corrupt(format!("block {height} vanished")))?;
        let got = Tip::from_header(&block.header);
        if block.header.height != height {
            return corrupt(format!("block stored at height {height} has height {}", block.header.height));
        }
        if got.hash != tip.hash {
            return corrupt(format!(
                "block {height} hashes to {}, the tip record says {}",
                got.hash, tip.hash
            ));
        }
        if got != tip {
            return corrupt(format!("tip record {tip:?} does not match block {height}'s header {got:?}"));
        }
        let commit =
            self.commit(height)?.ok_or_else(|| StoreError::Corrupt(format!("commit {height} vanished")))?;
        if commit.height != height || commit.block_hash != tip.hash {
            return corrupt(format!(
                "commit stored at height {height} is for block {} at height {}, the tip is {}",
                commit.block_hash, commit.height, tip.hash
            ));
        }
        match self.height_of(&tip.hash)? {
            Some(h) if h == height => {}
            other => {
                return corrupt(format!("hash index maps tip {} to {other:?}, expected {height}", tip.hash));
            }
        }
        let root = self.log_root_within(tip.log_size)?;
        if root != tip.log_root {
            return corrupt(format!(
                "log of size {} has root {root}, the tip record says {}",
                tip.log_size, tip.log_root
            ));
        }
        Ok(Some(tip))
    }

    /// What the id index holds: runs on disk, bytes of memory their Bloom
    /// filters and fences take, and entries in its memtable.
    pub fn index_stats(&self) -> IndexStats {
        let (runs, memory_bytes, memtable_entries) = self.index.stats();
        IndexStats { runs, memory_bytes, memtable_entries }
    }

    /// Sets how many new index entries are kept in memory before they are
    /// written as a run (default [`crate::index`]'s 65,536; tests use small
    /// values to exercise runs and merges).
    pub fn set_index_flush_entries(&self, entries: usize) {
        self.index.set_flush_entries(entries);
    }

    /// Waits for a background merge of the id index to finish (tests).
    pub fn wait_for_index_merge(&self) {
        self.index.wait_for_merge();
    }

    /// Applies to the state the blocks whose history a crash kept but whose
    /// state batch it lost ([`crate::history`]): each is checked against its
    /// commit and re-executed on the state exactly as when it was first
    /// committed. A block that does not apply means the history and the
    /// state disagree: [`StoreError::Corrupt`], and nothing is cut off.
    fn apply_again(&self, genesis: &Genesis, records: Vec<crate::history::Record>) -> Result<()> {
        let count = records.len();
        for record in records {
            let block = self.limits.decode_block(&record.block)?;
            let commit = decode_commit(&record.commit)?;
            let height = block.header.height;
            let tip = self.current_tip()?;
            let validators = keepsake_ledger::membership::validator_set_at(self, genesis, height)
                .map_err(|e| StoreError::Corrupt(format!("the validator set of height {height}: {e}")))?;
            commit.verify(&block.header, &validators).map_err(|e| {
                StoreError::Corrupt(format!(
                    "history block {height} past the state's tip: its commit fails: {e}"
                ))
            })?;
            let executed = keepsake_ledger::validate_block(self, genesis, &tip, &block).map_err(|e| {
                StoreError::Corrupt(format!(
                    "history block {height} past the state's tip does not apply on the state: {e}"
                ))
            })?;
            self.commit_block(&block, &commit, &executed)?;
        }
        info!(blocks = count, "store opened: blocks kept in the history applied to the state again");
        Ok(())
    }

    /// Makes the process abort (as a crash would) right after the history
    /// of the `commits`-th next block is written and synced, before its
    /// state batch: a fault-injection point for crash tests of the commit
    /// protocol (`keepsake start` sets it from `KEEPSAKE_FAIL_AFTER_HISTORY`).
    /// 0 turns it off.
    pub fn abort_after_history_write(&self, commits: u64) {
        self.abort_countdown.store(commits, Ordering::SeqCst);
    }

    // ---------------------------------------------------------------- reads

    /// The height of the last block whose state readers see (0 before block
    /// 1): set as soon as a block's state batch is applied, before the
    /// block's data is flushed and before the node's executor hears of it.
    pub fn committed_height(&self) -> u64 {
        self.committed_height.load(Ordering::SeqCst)
    }

    /// The last committed block's summary; `None` before block 1.
    pub fn tip(&self) -> Result<Option<Tip>> {
        self.get_decoded(layout::META_TIP, TIP_BYTES_MAX, "tip record")
    }

    /// The tip the next block builds on: the stored tip, or
    /// [`Tip::genesis`] before block 1. `genesis` must be the genesis the
    /// store was opened with.
    pub fn ledger_tip(&self, genesis: &Genesis) -> Result<Tip> {
        let got = genesis.hash();
        if got != self.genesis_hash {
            return Err(StoreError::GenesisMismatch { expected: self.genesis_hash, got });
        }
        self.current_tip()
    }

    fn current_tip(&self) -> Result<Tip> {
        Ok(self.tip()?.unwrap_or_else(|| self.genesis_tip.clone()))
    }

    /// The genesis hash recorded in the database.
    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis_hash
    }

    /// The block at `height`.
    pub fn block(&self, height: u64) -> Result<Option<Block>> {
        self.block_and_commit(height).map(|found| found.map(|(block, _)| block))
    }

    /// The commit of the block at `height`.
    pub fn commit(&self, height: u64) -> Result<Option<Commit>> {
        self.block_and_commit(height).map(|found| found.map(|(_, commit)| commit))
    }

    /// Whether block `height` is committed: at or below the state's tip.
    /// (Not the in-memory committed height, which moves only after the
    /// state batch has landed: a reader that has seen the new tip must find
    /// its block.)
    fn is_committed(&self, height: u64) -> Result<bool> {
        Ok(height >= 1 && height <= self.tip()?.map_or(0, |t| t.height))
    }

    /// The block at `height` and its commit, from one read of its history record.
    pub fn block_and_commit(&self, height: u64) -> Result<Option<(Block, Commit)>> {
        if !self.is_committed(height)? {
            return Ok(None);
        }
        let record = self.history.record(height, self.limits.record_bounds())?;
        Ok(Some((self.limits.decode_block(&record.block)?, decode_commit(&record.commit)?)))
    }

    /// The height of the committed block with this header hash.
    pub fn height_of(&self, hash: &BlockHash) -> Result<Option<u64>> {
        let Some(value) = self.db.get(layout::hash(hash))? else {
            return Ok(None);
        };
        let bytes: [u8; 8] = value.as_ref().try_into().map_err(|_| {
            StoreError::Corrupt(format!("hash index entry of {hash} is {} bytes, expected 8", value.len()))
        })?;
        Ok(Some(u64::from_be_bytes(bytes)))
    }

    /// A committed transaction, where it is, and its block's time: the
    /// transaction alone is read from the history (`history/leaves` says
    /// where it starts) and checked against its leaf hash in the log.
    pub fn tx(&self, id: &TxId) -> Result<Option<(SignedTx, TxLocation, u64)>> {
        let Some(location) = self.location(id)? else {
            return Ok(None);
        };
        let (tx, header) = self.leaf_tx(&location)?;
        let got = tx.id(&self.chain_id);
        if got != *id {
            return corrupt(format!(
                "transaction index says {id} is at height {} index {}, but that is {got}",
                location.height, location.index
            ));
        }
        Ok(Some((tx, location, header.time_ms)))
    }

    /// The log leaf bytes of the transaction at `location` (as returned by
    /// `tx_location`): `encode(LogLeaf { height, time_ms, tx })`, re-encoded
    /// from the stored transaction and checked against the stored leaf hash.
    pub fn leaf_bytes_for(&self, location: &TxLocation) -> Result<Vec<u8>> {
        let (tx, header) = self.leaf_tx(location)?;
        Ok(LogLeafRef { height: header.height, time_ms: header.time_ms, tx: &tx }.encode())
    }

    /// The transaction of the leaf at `location` and its block's header,
    /// read without decoding the block, and checked: the leaf they make
    /// hashes to the stored log leaf.
    fn leaf_tx(&self, location: &TxLocation) -> Result<(SignedTx, Header)> {
        if location.leaf_index >= self.history.committed().leaves {
            return Err(StoreError::OutOfRange(format!("log leaf {} is not committed", location.leaf_index)));
        }
        let header = self
            .header(location.height)?
            .ok_or_else(|| StoreError::OutOfRange(format!("no block at height {}", location.height)))?;
        if location.index >= header.tx_count {
            return Err(StoreError::OutOfRange(format!(
                "block {} has {} transactions, no index {}",
                location.height, header.tx_count, location.index
            )));
        }
        let first_leaf = header.log_size - u64::from(header.tx_count);
        if location.leaf_index != first_leaf + u64::from(location.index) {
            return corrupt(format!(
                "transaction {} of block {} is log leaf {}, not {}",
                location.index,
                location.height,
                first_leaf + u64::from(location.index),
                location.leaf_index
            ));
        }
        let window = self.history.leaf_window(location.leaf_index, self.limits.tx_bytes_max)?;
        let (tx, _) = decode_prefix::<SignedTx>(&window, self.limits.tx_bytes_max, "transaction")
            .map_err(|source| StoreError::Decode { what: "transaction", source })?;
        let bytes = LogLeafRef { height: header.height, time_ms: header.time_ms, tx: &tx }.encode();
        let stored = self.read_node(0, location.leaf_index)?.ok_or_else(|| {
            StoreError::OutOfRange(format!("log leaf {} is not committed", location.leaf_index))
        })?;
        let computed = merkle::leaf_hash(&bytes);
        if stored != computed {
            return corrupt(format!(
                "log leaf {} is {stored}, but the transaction at height {} index {} hashes to {computed}",
                location.leaf_index, location.height, location.index
            ));
        }
        Ok((tx, header))
    }

    /// The header of the block at `height`, decoded from the start of its
    /// record alone (a block's transactions can be megabytes).
    pub fn header(&self, height: u64) -> Result<Option<Header>> {
        if !self.is_committed(height)? {
            return Ok(None);
        }
        let prefix = self.history.block_prefix(height, HEADER_BYTES_MAX)?;
        let (header, _) = decode_prefix::<Header>(&prefix, HEADER_BYTES_MAX, "block header")
            .map_err(|source| StoreError::Decode { what: "block header", source })?;
        if header.height != height {
            return corrupt(format!("block stored at height {height} has height {}", header.height));
        }
        Ok(Some(header))
    }

    /// The header and commit of the block at `height` (a checkpoint): one
    /// read of its record, checksum verified, without decoding its
    /// transactions. The latest one asked for is kept, so a stream of
    /// certificate requests against the tip reads it once per block.
    pub fn header_and_commit(&self, height: u64) -> Result<Option<(Header, Commit)>> {
        if let Some((h, header, commit)) =
            &*self.checkpoint_cache.lock().unwrap_or_else(PoisonError::into_inner)
            && *h == height
        {
            return Ok(Some((header.clone(), commit.clone())));
        }
        if !self.is_committed(height)? {
            return Ok(None);
        }
        let record = self.history.record(height, self.limits.record_bounds())?;
        let (header, _) = decode_prefix::<Header>(&record.block, HEADER_BYTES_MAX, "block header")
            .map_err(|source| StoreError::Decode { what: "block header", source })?;
        let commit = decode_commit(&record.commit)?;
        *self.checkpoint_cache.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((height, header.clone(), commit.clone()));
        Ok(Some((header, commit)))
    }

    /// The log root of the first `size` leaves (`size` at most the committed log size).
    pub fn log_root(&self, size: u64) -> Result<Hash32> {
        self.check_log_size(size)?;
        self.log_root_within(size)
    }

    fn log_root_within(&self, size: u64) -> Result<Hash32> {
        self.with_nodes(|nodes| merkle::root(nodes, size))
    }

    /// RFC 6962 inclusion proof of leaf `leaf_index` in the log of `log_size`
    /// leaves (`leaf_index < log_size <=` the committed log size).
    pub fn inclusion_proof(&self, leaf_index: u64, log_size: u64) -> Result<Vec<Hash32>> {
        self.check_log_size(log_size)?;
        if leaf_index >= log_size {
            return Err(StoreError::OutOfRange(format!(
                "leaf {leaf_index} is not below log size {log_size}"
            )));
        }
        self.with_nodes(|nodes| merkle::inclusion_proof(nodes, leaf_index, log_size))
    }

    /// RFC 6962 consistency proof from `old_size` to `new_size`
    /// (`old_size <= new_size <=` the committed log size).
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash32>> {
        self.check_log_size(new_size)?;
        if old_size > new_size {
            return Err(StoreError::OutOfRange(format!(
                "old size {old_size} is larger than new size {new_size}"
            )));
        }
        self.with_nodes(|nodes| merkle::consistency_proof(nodes, old_size, new_size))
    }

    fn check_log_size(&self, size: u64) -> Result<()> {
        let committed = self.tip()?.map_or(0, |t| t.log_size);
        if size > committed {
            return Err(StoreError::OutOfRange(format!(
                "log size {size} is beyond the committed log size {committed}"
            )));
        }
        Ok(())
    }

    /// Runs a `keepsake_types::merkle` computation over the stored nodes, and
    /// gives back the store's own error (not its string) when a read failed.
    fn with_nodes<T>(&self, f: impl FnOnce(&Nodes<'_>) -> keepsake_types::Result<T>) -> Result<T> {
        let nodes = Nodes { store: self, fault: RefCell::new(None) };
        f(&nodes).map_err(|e| nodes.fault.take().unwrap_or_else(|| StoreError::OutOfRange(e.to_string())))
    }

    /// Node `(level, index)`, or `None` when the history's log does not hold it.
    fn read_node(&self, level: u8, index: u64) -> Result<Option<Hash32>> {
        match layout::log_position(level, index) {
            Some(position) => self.history.node(position),
            None => Ok(None),
        }
    }

    fn location(&self, id: &TxId) -> Result<Option<TxLocation>> {
        let visible = self.committed_height.load(Ordering::SeqCst);
        Ok(self.index.get(&index::key(Kind::Tx, id.as_bytes()), visible)?.map(|l| TxLocation {
            height: l.height,
            index: l.index,
            leaf_index: l.leaf,
        }))
    }

    /// A certificate's state, rebuilt from its mint transaction in the
    /// history (the id index says where it is).
    fn certificate_state(&self, id: &CertificateId) -> Result<Option<CertificateState>> {
        let visible = self.committed_height.load(Ordering::SeqCst);
        let Some(l) = self.index.get(&index::key(Kind::Cert, id.as_bytes()), visible)? else {
            return Ok(None);
        };
        let location = TxLocation { height: l.height, index: l.index, leaf_index: l.leaf };
        let (tx, _) = self.leaf_tx(&location)?;
        let tx_id = tx.id(&self.chain_id);
        // A certificate is minted by a `Mint`, or is the output of a `Synthesize`.
        let (TxBody::Mint { series_id, edition, holder }
        | TxBody::Synthesize { series_id, edition, holder, .. }) = tx.body
        else {
            return corrupt(format!("certificate {id} points at transaction {tx_id}, which is not a mint"));
        };
        if keepsake_types::ids::certificate_id(&self.chain_id, &series_id, edition) != *id {
            return corrupt(format!(
                "certificate {id} points at transaction {tx_id}, a mint of another certificate"
            ));
        }
        Ok(Some(CertificateState { series_id, edition, holder, tx_id, leaf_index: l.leaf, height: l.height }))
    }

    /// Rebuilds the index's memtable from the blocks after the ones its
    /// runs cover, up to the committed tip.
    fn rebuild_index(&self, covered: u64, tip: u64) -> Result<()> {
        for height in covered + 1..=tip {
            let (block, _) = self
                .block_and_commit(height)?
                .ok_or_else(|| StoreError::Corrupt(format!("block {height} vanished")))?;
            self.index.insert(index_entries(&block, &self.chain_id));
            // A long rebuild (runs lost or damaged) writes runs as it goes
            // instead of holding the whole chain's ids in memory.
            self.index.after_commit(height)?;
        }
        if tip > covered {
            info!(
                blocks = tip - covered,
                "store opened: id index rebuilt from the history of the latest blocks"
            );
        }
        Ok(())
    }

    fn get_decoded<T: DeserializeOwned>(
        &self,
        key: &[u8],
        max: usize,
        what: &'static str,
    ) -> Result<Option<T>> {
        match self.db.get(key)? {
            None => Ok(None),
            Some(bytes) => {
                decode(&bytes, max, what).map(Some).map_err(|source| StoreError::Decode { what, source })
            }
        }
    }

    fn record<T: DeserializeOwned>(&self, key: &[u8], what: &'static str) -> Result<Option<T>> {
        self.get_decoded(key, self.limits.record_bytes_max, what)
    }

    /// Every scheduled validator set, by ascending `from_height` (few: one per change).
    fn validator_set_records(&self) -> Result<Vec<SetRecord>> {
        let mut sets = Vec::new();
        for entry in self.db.scan_prefix(layout::VSET) {
            let (_, bytes) = entry?;
            let record = decode(&bytes, SET_RECORD_BYTES_MAX, "validator set record")
                .map_err(|source| StoreError::Decode { what: "validator set record", source })?;
            sets.push(record);
        }
        Ok(sets)
    }

    /// Every observer key ever admitted, with its record (few).
    pub fn observers(&self) -> Result<Vec<(PublicKey, ObserverRecord)>> {
        let mut all = Vec::new();
        for entry in self.db.scan_prefix(layout::OBSERVER) {
            let (key, bytes) = entry?;
            let suffix: [u8; 32] = key[layout::OBSERVER.len()..]
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("observer key of {} bytes", key.len())))?;
            let record = decode(&bytes, self.limits.record_bytes_max, "observer record")
                .map_err(|source| StoreError::Decode { what: "observer record", source })?;
            all.push((PublicKey(suffix), record));
        }
        Ok(all)
    }

    /// Opens another tree of the same sled database, for data that is not
    /// part of the chain (kept equivocation evidence: sled allows one open
    /// handle per path, so it lives in the same database). Writes there are
    /// not part of any block batch, and `flush` does not fsync (see
    /// [`Store::commit_block`]). The default tree (the chain) is refused.
    pub fn aux_tree(&self, name: &str) -> Result<sled::Tree> {
        if name.is_empty() || name.as_bytes() == b"__sled__default" {
            return Err(StoreError::OutOfRange(format!("tree name {name:?} is reserved")));
        }
        Ok(self.db.open_tree(name)?)
    }

    // -------------------------------------------------------------- listing

    /// Up to `limit` records under `prefix` whose 32-byte key suffix is
    /// strictly after `after` (all when `None`), in key order: a page of a
    /// listing, for explorers.
    fn page<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        after: Option<[u8; 32]>,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<([u8; 32], T)>> {
        let mut start = prefix.to_vec();
        if let Some(a) = after {
            start.extend_from_slice(&a);
            start.push(0); // the first key after `a` itself
        }
        let mut out = Vec::new();
        for entry in self.db.range(start..).take(limit) {
            let (key, value) = entry?;
            if !key.starts_with(prefix) {
                break;
            }
            let suffix: [u8; 32] = key[prefix.len()..]
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("malformed key {}", describe_key(&key))))?;
            let record = decode(&value, self.limits.record_bytes_max, what)
                .map_err(|source| StoreError::Decode { what, source })?;
            out.push((suffix, record));
        }
        Ok(out)
    }

    /// A page of registered issuers, by key (see [`Store::series_page`]).
    pub fn issuers_page(
        &self,
        after: Option<&PublicKey>,
        limit: usize,
    ) -> Result<Vec<(PublicKey, IssuerRecord)>> {
        let page = self.page(layout::ISSUER, after.map(|k| *k.as_bytes()), limit, "issuer record")?;
        Ok(page.into_iter().map(|(k, r)| (PublicKey(k), r)).collect())
    }

    /// A page of series, by id: at most `limit`, starting after `after`.
    pub fn series_page(
        &self,
        after: Option<&SeriesId>,
        limit: usize,
    ) -> Result<Vec<(SeriesId, SeriesRecord)>> {
        let page = self.page(layout::SERIES, after.map(|k| *k.as_bytes()), limit, "series record")?;
        Ok(page.into_iter().map(|(k, r)| (SeriesId(k), r)).collect())
    }

    // ------------------------------------------------------------- evidence

    /// Keeps `evidence` of an equivocation (already verified by the caller)
    /// in the [`EVIDENCE_TREE`], one record per (validator, height, round,
    /// step), for auditors (`keepsake_getEvidence`, `keepsake audit`).
    /// Returns false when that step's evidence is already kept or when
    /// [`EVIDENCE_STORED_MAX`] records are kept (the oldest evidence is the
    /// one that matters, and the bound stops a flood from filling the disk).
    pub fn record_evidence(&self, evidence: &DoubleVote) -> Result<bool> {
        let tree = self.aux_tree(EVIDENCE_TREE)?;
        if tree.len() >= EVIDENCE_STORED_MAX {
            return Ok(false);
        }
        let key = layout::evidence(&evidence.first);
        let inserted = tree.compare_and_swap(key, None as Option<&[u8]>, Some(encode(evidence)))?.is_ok();
        tree.flush()?;
        Ok(inserted)
    }

    /// Up to `limit` kept equivocation evidence records, oldest step first.
    pub fn evidence(&self, limit: usize) -> Result<Vec<DoubleVote>> {
        let tree = self.aux_tree(EVIDENCE_TREE)?;
        let mut out = Vec::new();
        for entry in tree.iter().take(limit) {
            let (_, value) = entry?;
            out.push(
                decode(&value, EVIDENCE_BYTES_MAX, "evidence")
                    .map_err(|source| StoreError::Decode { what: "evidence", source })?,
            );
        }
        Ok(out)
    }

    // --------------------------------------------------------------- commit

    /// Commits `block`, finalised by `commit`, with its execution `executed`
    /// (from `validate_block` or `build_block` on this store's tip), in two
    /// steps: (1) the block and commit record and the new log nodes are
    /// appended to the history files and fdatasync'ed; (2) one atomic sled
    /// batch with the hash and transaction indexes, every state write and the
    /// new tip, then a flush. A crash between the two leaves history past the
    /// tip, which the next [`Store::open`] cuts off.
    ///
    /// Refuses, writing nothing: a block that is not the next one
    /// ([`StoreError::NotNextBlock`]); inputs that disagree with each other
    /// ([`StoreError::InputMismatch`]); and **any write over an existing
    /// certificate** ([`StoreError::HolderImmutable`], the state-layer half of
    /// the transfer ban) or other insert-only record ([`StoreError::RecordExists`]).
    /// The commit's signatures are not checked here (consensus and sync do).
    ///
    /// Durability: sled 0.34's `flush` writes with `sync_file_range`, not
    /// `fsync`, so a power loss can lose the last blocks' state (sled still
    /// recovers a prefix of whole batches, and the history, synced first, is
    /// then cut back to it). That is acceptable for chain data, which is
    /// re-synced from peers; it is not for the double-sign guard, which must
    /// be fsynced elsewhere before a vote is signed.
    pub fn commit_block(&self, block: &Block, commit: &Commit, executed: &Executed) -> Result<()> {
        let _committer = self.commit_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let tip = self.current_tip()?;
        let header = &block.header;
        let expected_height =
            tip.height.checked_add(1).ok_or_else(|| StoreError::Corrupt("tip height is u64::MAX".into()))?;
        if header.height != expected_height || header.prev_hash != tip.hash {
            return Err(StoreError::NotNextBlock {
                expected_height,
                got_height: header.height,
                expected_prev: tip.hash,
                got_prev: header.prev_hash,
            });
        }
        let block_hash = header.hash();
        self.check_commit_input(block, &block_hash, commit, executed, &tip)?;

        let delta = &executed.delta;
        let mut batch = sled::Batch::default();
        // Insert-only records: any existing key aborts before anything is written.
        let visible = self.committed_height.load(Ordering::SeqCst);
        let mut index_entries = Vec::with_capacity(delta.certificates.len() + delta.txs.len());
        for (id, record) in &delta.certificates {
            let key = index::key(Kind::Cert, id.as_bytes());
            if self.index.get(&key, visible)?.is_some() {
                return Err(StoreError::HolderImmutable { certificate_id: *id });
            }
            let index_in_block =
                record.leaf_index.checked_sub(tip.log_size).and_then(|i| u32::try_from(i).ok());
            let Some(index_in_block) = index_in_block.filter(|_| record.height == header.height) else {
                return Err(StoreError::InputMismatch {
                    what: "certificate location",
                    expected: format!("a leaf of block {}", header.height),
                    got: format!("leaf {} at height {}", record.leaf_index, record.height),
                });
            };
            index_entries
                .push((key, Loc { height: record.height, index: index_in_block, leaf: record.leaf_index }));
        }
        for (id, location) in &delta.txs {
            let key = index::key(Kind::Tx, id.as_bytes());
            if self.index.get(&key, visible)?.is_some() {
                return Err(StoreError::RecordExists { kind: "tx", key: id.to_string() });
            }
            index_entries.push((
                key,
                Loc { height: location.height, index: location.index, leaf: location.leaf_index },
            ));
        }
        let mut insert_only =
            |key: Vec<u8>, value: Vec<u8>, kind: &'static str, shown: &dyn std::fmt::Display| {
                if self.db.contains_key(&key)? {
                    return Err(StoreError::RecordExists { kind, key: shown.to_string() });
                }
                batch.insert(key, value);
                Ok(())
            };
        for (id, record) in &delta.revocations {
            insert_only(layout::revoke(id), encode(record), "revoke", id)?;
        }
        for (hash, series) in &delta.content_index {
            insert_only(layout::content(hash), encode(series), "content", hash)?;
        }
        for nonce in &delta.governance_nonces {
            insert_only(layout::nonce(*nonce), Vec::new(), "nonce", nonce)?;
        }
        for (from_height, record) in &delta.membership.validator_sets {
            insert_only(layout::vset(*from_height), encode(record), "vset", from_height)?;
        }
        for (id, record) in &delta.life.burns {
            insert_only(layout::burn(id), encode(record), "burn", id)?;
        }
        insert_only(layout::hash(&block_hash), header.height.to_be_bytes().to_vec(), "hash", &block_hash)?;

        // Updatable records.
        for (key, record) in &delta.issuers {
            batch.insert(layout::issuer(key), encode(record));
        }
        for (key, record) in &delta.reviewers {
            batch.insert(layout::reviewer(key), encode(record));
        }
        for (id, record) in &delta.series {
            batch.insert(layout::series(id), encode(record));
        }
        if let Some(record) = &delta.membership.governance {
            batch.insert(layout::META_GOVERNANCE, encode(record));
        }
        for (key, record) in &delta.membership.observers {
            batch.insert(layout::observer(key), encode(record));
        }
        for (key, record) in &delta.life.licences {
            batch.insert(layout::licence(key), encode(record));
        }
        if let Some(record) = &delta.life.licence_policy {
            batch.insert(layout::META_LICENCE_POLICY, encode(record));
        }
        for (id, record) in &delta.life.series {
            batch.insert(layout::life(id), encode(record));
        }

        let nodes = new_log_nodes(tip.log_size, executed)?;
        let (block_bytes, tx_offsets) = encode_block(block);
        if block_bytes.len() > self.limits.block_bytes_max {
            return Err(StoreError::InputMismatch {
                what: "encoded block size",
                expected: format!("at most {} bytes", self.limits.block_bytes_max),
                got: format!("{} bytes", block_bytes.len()),
            });
        }
        batch.insert(layout::META_TIP, encode(&Tip::from_header(header)));

        // (1) History first, synced: on disk it is never behind the state.
        let lengths =
            self.history.append(header.height, &block_bytes, &encode(commit), &nodes, &tx_offsets)?;
        if self.abort_countdown.load(Ordering::SeqCst) > 0
            && self.abort_countdown.fetch_sub(1, Ordering::SeqCst) == 1
        {
            tracing::error!(height = header.height, "fault injection: aborting between history and state");
            std::process::abort();
        }
        // (2) The state, atomically. The block's id index entries go in first,
        // hidden until the committed height reaches them, so that they appear
        // together with the state batch: a reader that sees a series' new
        // minted count also finds its certificates.
        let keys: Vec<index::Key> = index_entries.iter().map(|(k, _)| *k).collect();
        self.index.insert(index_entries);
        if let Err(e) = self.db.apply_batch(batch) {
            self.index.remove(&keys);
            return Err(e.into());
        }
        self.history.mark_committed(lengths);
        self.committed_height.store(header.height, Ordering::SeqCst);
        self.db.flush()?;
        if let Err(e) = self.index.after_commit(header.height) {
            // The block is committed; the index keeps its entries in memory and tries again.
            tracing::error!(height = header.height, error = %e, "index: writing a run failed");
        }
        debug!(
            height = header.height,
            hash = %block_hash,
            txs = block.txs.len(),
            log_nodes = nodes.len(),
            "block committed"
        );
        Ok(())
    }

    /// The block, its commit and its execution describe one block on `tip`.
    fn check_commit_input(
        &self,
        block: &Block,
        block_hash: &BlockHash,
        commit: &Commit,
        executed: &Executed,
        tip: &Tip,
    ) -> Result<()> {
        fn mismatch<T: std::fmt::Display>(what: &'static str, expected: T, got: T) -> Result<()> {
            Err(StoreError::InputMismatch { what, expected: expected.to_string(), got: got.to_string() })
        }
        let header = &block.header;
        if header.chain_id != self.chain_id {
            return mismatch("chain id", &self.chain_id, &header.chain_id);
        }
        if commit.height != header.height {
            return mismatch("commit height", header.height, commit.height);
        }
        if commit.block_hash != *block_hash {
            return mismatch("commit block hash", block_hash, &commit.block_hash);
        }
        let tx_count = u64::try_from(block.txs.len()).expect("usize fits in u64");
        if u64::from(header.tx_count) != tx_count {
            return mismatch("header tx_count", tx_count, u64::from(header.tx_count));
        }
        if executed.tx_ids.len() != block.txs.len() {
            return mismatch("executed transaction count", block.txs.len(), executed.tx_ids.len());
        }
        if executed.delta.txs.len() != block.txs.len() {
            return mismatch("transaction index entries", block.txs.len(), executed.delta.txs.len());
        }
        let log_size = tip.log_size.checked_add(tx_count).ok_or_else(|| StoreError::InputMismatch {
            what: "log size",
            expected: "at most u64::MAX".into(),
            got: "an overflowing size".into(),
        })?;
        if header.log_size != log_size {
            return mismatch("header log size", log_size, header.log_size);
        }
        if executed.log_size != header.log_size {
            return mismatch("executed log size", header.log_size, executed.log_size);
        }
        if executed.log_root != header.log_root {
            return mismatch("executed log root", header.log_root, executed.log_root);
        }
        if executed.tx_root != header.tx_root {
            return mismatch("executed tx root", header.tx_root, executed.tx_root);
        }
        if executed.state_root != header.state_root {
            return mismatch("executed state root", header.state_root, executed.state_root);
        }
        for (id, location) in &executed.delta.txs {
            let index = usize::try_from(location.index).expect("a u32 fits in usize");
            let leaf = tip.log_size.checked_add(u64::from(location.index));
            let listed = executed.tx_ids.get(index);
            if location.height != header.height || listed != Some(id) || leaf != Some(location.leaf_index) {
                return Err(StoreError::InputMismatch {
                    what: "transaction location",
                    expected: format!(
                        "{id} at height {} index {} leaf {:?}",
                        header.height, location.index, leaf
                    ),
                    got: format!("{location:?}, listed as {listed:?}"),
                });
            }
        }
        Ok(())
    }
}

/// The block's new log nodes in creation order (the order of
/// `history/log`). Checks that they are exactly those of growing the log
/// from `old_size` to `executed.log_size` (a log of `n` leaves has `n >>
/// level` nodes at each level, created in index order), so the file can get
/// no gap and no overlap.
fn new_log_nodes(old_size: u64, executed: &Executed) -> Result<Vec<Hash32>> {
    let new_size = executed.log_size;
    let mut next: BTreeMap<u8, u64> = BTreeMap::new();
    let mut placed: Vec<(u64, Hash32)> = Vec::with_capacity(executed.log_nodes.len());
    for &((level, index), hash) in &executed.log_nodes {
        if level >= 64 {
            return Err(StoreError::InputMismatch {
                what: "log node level",
                expected: "below 64".into(),
                got: level.to_string(),
            });
        }
        let expected = match next.entry(level) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(old_size >> level),
        };
        if index != *expected {
            return Err(StoreError::InputMismatch {
                what: "new log node",
                expected: format!("({level}, {})", *expected),
                got: format!("({level}, {index})"),
            });
        }
        let position = layout::log_position(level, index).ok_or_else(|| StoreError::InputMismatch {
            what: "new log node",
            expected: "a node of a log below 2^63 leaves".into(),
            got: format!("({level}, {index})"),
        })?;
        *expected += 1; // below u64::MAX: log_position fitted
        placed.push((position, hash));
    }
    for level in 0u8..64 {
        let want = new_size >> level;
        let old = old_size >> level;
        let got = next.get(&level).copied().unwrap_or(old);
        if got != want {
            return Err(StoreError::InputMismatch {
                what: "log nodes at a level",
                expected: format!("{want} nodes at level {level} for log size {new_size}"),
                got: format!("{got}"),
            });
        }
    }
    placed.sort_unstable_by_key(|&(position, _)| position);
    // With the counts right, the positions are exactly the new range.
    let first = layout::log_nodes_for(old_size);
    for (offset, &(position, _)) in placed.iter().enumerate() {
        if position != first + offset as u64 {
            return Err(StoreError::InputMismatch {
                what: "new log node position",
                expected: format!("{}", first + offset as u64),
                got: format!("{position}"),
            });
        }
    }
    Ok(placed.into_iter().map(|(_, hash)| hash).collect())
}

/// The id index entries of a committed block: every transaction, and the
/// certificate of every mint (a committed block holds valid transactions
/// only, so each of its mints created its certificate).
fn index_entries(block: &Block, chain_id: &ChainId) -> Vec<(index::Key, Loc)> {
    let first_leaf = block.header.log_size - u64::from(block.header.tx_count);
    let mut out = Vec::with_capacity(block.txs.len() * 2);
    for (i, tx) in block.txs.iter().enumerate() {
        let loc = Loc { height: block.header.height, index: i as u32, leaf: first_leaf + i as u64 };
        out.push((index::key(Kind::Tx, tx.id(chain_id).as_bytes()), loc));
        // The certificates a block minted: by `Mint`, and the outputs of `Synthesize`.
        if let TxBody::Mint { series_id, edition, .. } | TxBody::Synthesize { series_id, edition, .. } =
            &tx.body
        {
            let cert = keepsake_types::ids::certificate_id(chain_id, series_id, *edition);
            out.push((index::key(Kind::Cert, cert.as_bytes()), loc));
        }
    }
    out
}

/// Most bytes [`encode_block`] reserves ahead from its first transaction's size.
const BLOCK_ENCODING_RESERVE_MAX: usize = 8 * 1024 * 1024;

/// `encode(block)`, built from its parts so that the offset where each
/// transaction's encoding starts is known (postcard writes a struct as its
/// fields back to back and a sequence as a varint length then the items).
fn encode_block(block: &Block) -> (Vec<u8>, Vec<u64>) {
    let mut bytes = encode(&block.header);
    let mut count = block.txs.len() as u64;
    loop {
        let low = (count & 0x7f) as u8;
        count >>= 7;
        if count == 0 {
            bytes.push(low);
            break;
        }
        bytes.push(low | 0x80);
    }
    let mut offsets = Vec::with_capacity(block.txs.len());
    for (i, tx) in block.txs.iter().enumerate() {
        offsets.push(bytes.len() as u64);
        let start = bytes.len();
        bytes = keepsake_types::encoding::encode_onto(tx, bytes);
        if i == 0 {
            // Room for the rest at the first one's size (a block's are alike):
            // a few growths at most, not one per doubling. Capped: one large
            // transaction before many small ones must not reserve for all.
            let rest = (bytes.len() - start).saturating_mul(block.txs.len() - 1);
            bytes.reserve(rest.min(BLOCK_ENCODING_RESERVE_MAX));
        }
    }
    debug_assert_eq!(bytes, encode(block), "encode_block must equal encode");
    (bytes, offsets)
}

/// Refuses a data directory of schema version 1: the sled database
/// directly in it (its `conf` file), where version 2 has `state/`.
pub(crate) fn refuse_version_1(path: &Path) -> Result<()> {
    if path.join("conf").is_file() && !path.join(layout::STATE_DIR).exists() {
        return Err(StoreError::SchemaMismatch { expected: SCHEMA_VERSION, got: 1 });
    }
    Ok(())
}

/// Removes a temporary store's directory when the store is dropped.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// See [`Store::index_stats`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexStats {
    /// Run files.
    pub runs: usize,
    /// Bytes of memory of the runs' Bloom filters and fences.
    pub memory_bytes: usize,
    /// Entries not yet written to a run.
    pub memtable_entries: usize,
}

/// How long [`Store::open`] waits for sled's file lock.
pub const OPEN_LOCK_WAIT: Duration = Duration::from_secs(2);
const OPEN_LOCK_RETRY: Duration = Duration::from_millis(10);

/// Opens `config`, retrying while its file lock is held (see [`Store::open`]).
/// sled 0.34.7 reports a held lock only as an `Other` I/O error with this text.
/// sled's page cache per database, in bytes. sled 0.34 defaults to 1 GiB.
/// It holds the state's hot records (series, issuers, the tip); the history
/// is outside sled and read through the operating system's page cache.
/// sled charges its cache by on-disk bytes, so the heap it takes is a few
/// times this figure: measured in docs/benchmarks.md ("History at scale"),
/// 64 MiB let the heap grow ~600 B per certificate up to 300,000
/// certificates, 16 MiB ~100 B.
pub const CACHE_BYTES: u64 = 16 * 1024 * 1024;

pub(crate) fn open_waiting_for_lock(config: &sled::Config, data_dir: &Path) -> Result<sled::Db> {
    let started = Instant::now();
    loop {
        match config.open() {
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if started.elapsed() >= OPEN_LOCK_WAIT {
                    // sled's own text is an `Os { code: 11, .. }` dump: say what it means.
                    return Err(StoreError::InUse { path: data_dir.display().to_string() });
                }
                std::thread::sleep(OPEN_LOCK_RETRY);
            }
            other => return Ok(other?),
        }
    }
}

fn corrupt<T>(message: String) -> Result<T> {
    Err(StoreError::Corrupt(message))
}

/// A key for humans: its ASCII prefix, then the rest in hex.
fn describe_key(key: &[u8]) -> String {
    let split = key.iter().position(|&b| b == b'/').map_or(0, |i| i + 1);
    let (prefix, rest) = key.split_at(split);
    let prefix: String = prefix.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect();
    let rest: String = rest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{rest}")
}

/// The store as a [`NodeSource`] for one merkle computation, keeping the
/// first read failure so the caller gets a [`StoreError`], not a string.
struct Nodes<'a> {
    store: &'a Store,
    fault: RefCell<Option<StoreError>>,
}

impl NodeSource for Nodes<'_> {
    fn node(&self, level: u8, index: u64) -> keepsake_types::Result<Hash32> {
        match self.store.read_node(level, index) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) => {
                // Callers check sizes against the committed log first, so a
                // missing node is a damaged log, not a bad request.
                self.fault.borrow_mut().get_or_insert_with(|| {
                    StoreError::Corrupt(format!(
                        "log node ({level}, {index}) is missing inside the committed log"
                    ))
                });
                Err(keepsake_types::Error::MissingLogNode { level, index })
            }
            Err(e) => {
                let message = e.to_string();
                self.fault.borrow_mut().get_or_insert(e);
                Err(keepsake_types::Error::NodeSource(message))
            }
        }
    }
}

impl NodeSource for Store {
    /// A stored node; [`keepsake_types::Error::MissingLogNode`] if the
    /// committed log does not have it, [`keepsake_types::Error::NodeSource`]
    /// if reading failed.
    fn node(&self, level: u8, index: u64) -> keepsake_types::Result<Hash32> {
        match self.read_node(level, index) {
            Ok(Some(hash)) => Ok(hash),
            Ok(None) => Err(keepsake_types::Error::MissingLogNode { level, index }),
            Err(e) => Err(keepsake_types::Error::NodeSource(e.to_string())),
        }
    }
}

fn state<T>(result: Result<T>) -> keepsake_ledger::Result<T> {
    result.map_err(|e| LedgerError::State(e.to_string()))
}

/// Committed state. Every read failure (I/O, an undecodable record) is
/// [`LedgerError::State`], never "absent".
impl StateView for Store {
    fn issuer(&self, key: &PublicKey) -> keepsake_ledger::Result<Option<IssuerRecord>> {
        state(self.record(&layout::issuer(key), "issuer record"))
    }
    fn reviewer(&self, key: &PublicKey) -> keepsake_ledger::Result<Option<ReviewerRecord>> {
        state(self.record(&layout::reviewer(key), "reviewer record"))
    }
    fn series(&self, id: &SeriesId) -> keepsake_ledger::Result<Option<SeriesRecord>> {
        state(self.record(&layout::series(id), "series record"))
    }
    fn series_by_content(&self, content_hash: &ContentHash) -> keepsake_ledger::Result<Option<SeriesId>> {
        state(self.record(&layout::content(content_hash), "content index entry"))
    }
    fn certificate(&self, id: &CertificateId) -> keepsake_ledger::Result<Option<CertificateState>> {
        state(self.certificate_state(id))
    }
    fn revocation(&self, id: &CertificateId) -> keepsake_ledger::Result<Option<RevocationRecord>> {
        state(self.record(&layout::revoke(id), "revocation record"))
    }
    fn tx_location(&self, id: &TxId) -> keepsake_ledger::Result<Option<TxLocation>> {
        state(self.location(id))
    }
    fn governance_nonce_used(&self, nonce: u64) -> keepsake_ledger::Result<bool> {
        state(self.db.contains_key(layout::nonce(nonce)).map_err(StoreError::from))
    }
    fn governance(&self) -> keepsake_ledger::Result<Option<GovernanceRecord>> {
        state(self.record(layout::META_GOVERNANCE, "governance record"))
    }
    fn validator_sets(&self) -> keepsake_ledger::Result<Vec<SetRecord>> {
        state(self.validator_set_records())
    }
    fn observer(&self, key: &PublicKey) -> keepsake_ledger::Result<Option<ObserverRecord>> {
        state(self.record(&layout::observer(key), "observer record"))
    }
    fn licence(&self, issuer: &PublicKey) -> keepsake_ledger::Result<Option<LicenceRecord>> {
        state(self.record(&layout::licence(issuer), "licence record"))
    }
    fn licence_policy(&self) -> keepsake_ledger::Result<Option<LicencePolicyRecord>> {
        state(self.record(layout::META_LICENCE_POLICY, "licence policy record"))
    }
    fn series_life(&self, id: &SeriesId) -> keepsake_ledger::Result<Option<SeriesLife>> {
        state(self.record(&layout::life(id), "series life record"))
    }
    fn burn(&self, id: &CertificateId) -> keepsake_ledger::Result<Option<BurnRecord>> {
        state(self.record(&layout::burn(id), "burn record"))
    }
}

/// Opens the existing sled database in `db_dir` (of the data directory
/// `data_dir`) without creating one, and checks its schema version
/// (`version`) and genesis: for readers, which must not create a database
/// where there is none (`what` names what `data_dir` should have been).
pub(crate) fn open_existing(
    db_dir: &Path,
    data_dir: &Path,
    version: u32,
    genesis: &Genesis,
    what: &str,
) -> Result<sled::Db> {
    if !db_dir.join("conf").is_file() {
        return Err(StoreError::OutOfRange(format!(
            "{} is not {what} (no sled database in it)",
            data_dir.display()
        )));
    }
    let db = open_waiting_for_lock(&sled::Config::new().path(db_dir).cache_capacity(CACHE_BYTES), data_dir)?;
    let stored = db
        .get(layout::META_SCHEMA_VERSION)?
        .ok_or_else(|| StoreError::Corrupt("meta/schema_version is missing".into()))?;
    check_meta_version(&db, &stored, version, genesis.hash())?;
    Ok(db)
}

/// Checks the meta keys of an existing database (whose schema version record
/// is `version`): this build's schema, and the chain of `genesis_hash`.
pub(crate) fn check_meta(db: &sled::Db, version: &[u8], genesis_hash: BlockHash) -> Result<()> {
    check_meta_version(db, version, SCHEMA_VERSION, genesis_hash)
}

/// [`check_meta`] for schema version `expected`.
pub(crate) fn check_meta_version(
    db: &sled::Db,
    version: &[u8],
    expected: u32,
    genesis_hash: BlockHash,
) -> Result<()> {
    let bytes: [u8; 4] = version.try_into().map_err(|_| {
        StoreError::Corrupt(format!("meta/schema_version is {} bytes, expected 4", version.len()))
    })?;
    let got = u32::from_be_bytes(bytes);
    if got != expected {
        return Err(StoreError::SchemaMismatch { expected, got });
    }
    let stored = db
        .get(layout::META_GENESIS_HASH)?
        .ok_or_else(|| StoreError::Corrupt("meta/genesis_hash is missing".into()))?;
    let got = BlockHash(stored.as_ref().try_into().map_err(|_| {
        StoreError::Corrupt(format!("meta/genesis_hash is {} bytes, expected 32", stored.len()))
    })?);
    if got != genesis_hash {
        return Err(StoreError::GenesisMismatch { expected: genesis_hash, got });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_described_for_humans() {
        assert_eq!(describe_key(&layout::nonce(258)), "nonce/0000000000000102");
        assert_eq!(describe_key(b"\x01\x02"), "0102");
    }

    #[test]
    fn limits_follow_the_genesis_and_saturate() {
        let mut genesis = keepsake_ledger::testkit::TestNet::new(1).genesis;
        let limits = Limits::new(&genesis);
        assert_eq!(limits.record_bytes_max, 4096 + 1024);
        assert_eq!(limits.block_bytes_max, (4096 + 16) * 10_000 + 64 * 1024);
        genesis.params.tx_bytes_max = u32::MAX;
        genesis.params.block_txs_max = u32::MAX;
        // (2^32 + 16) * (2^32 - 1) overflows u64: the bound saturates instead of wrapping.
        assert_eq!(Limits::new(&genesis).block_bytes_max, usize::MAX);
    }
}
