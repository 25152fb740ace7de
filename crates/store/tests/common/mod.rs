//! A chain driven through the real ledger: transactions signed by the
//! testkit keys, blocks built on the [`Store`] with `build_block`, re-validated
//! on a [`MemoryState`] with `validate_block`, finalised by a commit that 3 of
//! the 4 test validators sign, and committed to both. The memory state and a
//! [`MemoryLog`] are the references the store is compared with.

#![allow(dead_code)]

use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::TestNet;
use keepsake_ledger::{Executed, Tip, build_block, validate_block};
use keepsake_store::Store;
use keepsake_types::merkle::{MemoryLog, NodeSource};
use keepsake_types::{
    Block, CertificateId, Commit, CommitSignature, LogLeafRef, SeriesId, SignedTx, TxBody, VoteData,
    VoteKind, ids,
};
use tempfile::TempDir;

pub struct Chain {
    pub net: TestNet,
    pub dir: TempDir,
    store: Option<Store>,
    pub memory: MemoryState,
    pub log: MemoryLog,
    pub tip: Tip,
    /// Every committed block with its commit, block `h` at index `h - 1`.
    pub blocks: Vec<(Block, Commit)>,
}

impl Chain {
    pub fn new() -> Self {
        let net = TestNet::new(4);
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path(), &net.genesis).expect("open a new store");
        let tip = Tip::genesis(&net.genesis);
        Chain {
            net,
            dir,
            store: Some(store),
            memory: MemoryState::new(),
            log: MemoryLog::new(),
            tip,
            blocks: vec![],
        }
    }

    pub fn store(&self) -> &Store {
        self.store.as_ref().expect("the store is open")
    }

    /// Closes the store (sled releases the path).
    pub fn close(&mut self) {
        self.store = None;
    }

    /// Closes and opens the store again.
    pub fn reopen(&mut self) {
        self.close();
        self.store = Some(Store::open(self.dir.path(), &self.net.genesis).expect("reopen the store"));
    }

    /// A history file of the store (`blocks`, `heights` or `log`).
    pub fn history_file(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(keepsake_store::layout::HISTORY_DIR).join(name)
    }

    /// Opens the state database behind the store's back (the store must be closed).
    pub fn raw(&self) -> sled::Db {
        assert!(self.store.is_none(), "close the store first");
        // sled releases its lock asynchronously after a drop (see `Store::open`).
        let started = std::time::Instant::now();
        loop {
            match sled::open(self.dir.path().join(keepsake_store::layout::STATE_DIR)) {
                Ok(db) => return db,
                Err(e) if started.elapsed() < keepsake_store::OPEN_LOCK_WAIT => {
                    assert!(e.to_string().contains("could not acquire lock"), "{e}");
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("open sled directly: {e}"),
            }
        }
    }

    pub fn chain_id(&self) -> &str {
        self.net.chain()
    }

    /// The next block on the store's tip, built by the ledger from `txs` (all must be valid).
    pub fn build(&self, txs: Vec<SignedTx>) -> (Block, Executed) {
        let height = self.tip.height + 1;
        let proposer = self.net.validators[(height % 4) as usize].public();
        let time_ms = self.net.genesis.genesis_time_ms + height * 1_000;
        let tip = self.store().ledger_tip(&self.net.genesis).expect("read the tip");
        assert_eq!(tip, self.tip, "the store's tip is the chain's tip");
        let keepsake_ledger::Built { block, executed, left_out } =
            build_block(self.store(), &self.net.genesis, &tip, proposer, time_ms, txs)
                .expect("build a block");
        assert!(left_out.is_empty(), "every test transaction is valid: {left_out:?}");
        (block, executed)
    }

    /// The commit of `block`, signed by 3 of the 4 validators (the quorum).
    pub fn commit_of(&self, block: &Block) -> Commit {
        let hash = block.header.hash();
        let data = VoteData {
            height: block.header.height,
            round: 0,
            kind: VoteKind::Precommit,
            block_hash: Some(hash),
        };
        let signatures = self.net.validators[..3]
            .iter()
            .map(|k| {
                let vote = data.clone().sign(self.chain_id(), k);
                CommitSignature { validator: vote.validator, signature: vote.signature }
            })
            .collect();
        let commit = Commit { height: block.header.height, round: 0, block_hash: hash, signatures };
        commit.verify(&block.header, &self.net.genesis.validator_set()).expect("a quorum commit");
        commit
    }

    /// Builds, validates (on the memory state), and commits the next block to the store and the references.
    pub fn commit_txs(&mut self, txs: Vec<SignedTx>) -> Block {
        let (block, executed) = self.build(txs);
        let reference =
            validate_block(&self.memory, &self.net.genesis, &self.tip, &block).expect("valid block");
        let commit = self.commit_of(&block);
        self.store().commit_block(&block, &commit, &executed).expect("commit the block");
        self.memory.commit(&reference).expect("commit to the memory state");
        let h = &block.header;
        for tx in &block.txs {
            self.log.push(&LogLeafRef { height: h.height, time_ms: h.time_ms, tx }.encode());
        }
        self.tip = Tip::from_header(h);
        assert_eq!(self.log.size(), h.log_size);
        assert_eq!(self.log.root(), h.log_root);
        self.blocks.push((block.clone(), commit));
        block
    }

    /// Node `(level, index)` of the reference log, as bytes.
    pub fn log_node(&self, level: u8, index: u64) -> Vec<u8> {
        self.log.node(level, index).expect("a node of the reference log").0.to_vec()
    }

    pub fn series(&self, name: &str) -> SeriesId {
        self.net.series_id(&self.net.issuer, name)
    }

    pub fn cert(&self, name: &str, edition: u32) -> CertificateId {
        ids::certificate_id(self.chain_id(), &self.series(name), edition)
    }

    pub fn create_series(&self, name: &str, max_supply: u32) -> SignedTx {
        self.net.create_series(&self.net.issuer, &self.net.reviewer, name, max_supply)
    }

    /// Mints of editions `editions` of series `name`, edition `e` to holder `e`.
    pub fn mints(&self, name: &str, editions: std::ops::RangeInclusive<u32>) -> Vec<SignedTx> {
        let series = self.series(name);
        editions.map(|e| self.net.mint(&self.net.issuer, series, e, e)).collect()
    }

    pub fn revoke(&self, name: &str, edition: u32) -> SignedTx {
        TxBody::Revoke { certificate_id: self.cert(name, edition), reason: "test".into() }
            .sign(self.chain_id(), &[&self.net.issuer])
    }

    /// Setup, one series `alpha` of 1000 and `mints` mints of it in one block.
    pub fn small(mints: u32) -> Self {
        let mut chain = Chain::new();
        chain.commit_txs(chain.net.setup_txs());
        chain.commit_txs(vec![chain.create_series("alpha", 1000)]);
        if mints > 0 {
            chain.commit_txs(chain.mints("alpha", 1..=mints));
        }
        chain
    }
}
