//! The body check a validator makes when a proposal or a synced block
//! arrives (`CheckedBody`), whose encodings and ids validation then uses
//! instead of computing them again. The check refuses every body its header
//! does not describe, and validating through it gives exactly the verdict and
//! the execution of validating the block alone.

use std::sync::Arc;

use keepsake_ledger::block::{CheckedBody, build_block, validate_block, validate_checked_memo};
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::TestNet;
use keepsake_ledger::{Executed, LedgerError, Tip};
use keepsake_types::{Block, SeriesId, TxBody, ids};

/// A one-validator chain with the issuer, the reviewer and one series of 100.
struct Chain {
    net: TestNet,
    state: MemoryState,
    tip: Tip,
    series: SeriesId,
}

impl Chain {
    fn new() -> Self {
        let net = TestNet::new(1);
        let series = net.series_id(&net.issuer, "s");
        let mut c = Chain { tip: Tip::genesis(&net.genesis), state: MemoryState::new(), series, net };
        let setup = c.net.setup_txs();
        c.commit(c.build(setup));
        let series = c.net.create_series(&c.net.issuer, &c.net.reviewer, "s", 100);
        c.commit(c.build(vec![series]));
        c
    }

    fn build(&self, txs: Vec<keepsake_types::SignedTx>) -> Block {
        let proposer = self.net.validators[0].public();
        let built =
            build_block(&self.state, &self.net.genesis, &self.tip, proposer, self.tip.time_ms + 1000, txs)
                .unwrap();
        assert!(built.left_out.is_empty(), "{:?}", built.left_out);
        built.block
    }

    fn commit(&mut self, block: Block) {
        let executed = validate_block(&self.state, &self.net.genesis, &self.tip, &block).unwrap();
        self.state.commit(&executed).unwrap();
        self.tip = Tip::from_header(&block.header);
    }

    fn mints(&self, editions: std::ops::RangeInclusive<u32>) -> Vec<keepsake_types::SignedTx> {
        editions.map(|e| self.net.mint(&self.net.issuer, self.series, e, e)).collect()
    }

    /// Validation alone and through the body check, which must agree.
    fn both(&self, block: Block) -> Result<Executed, LedgerError> {
        let alone = validate_block(&self.state, &self.net.genesis, &self.tip, &block);
        let block = Arc::new(block);
        let checked = CheckedBody::check(self.net.chain(), &block).expect("the body matches its header");
        assert!(Arc::ptr_eq(checked.block(), &block));
        let through = validate_checked_memo(&self.state, &self.net.genesis, &self.tip, &checked, &());
        assert_eq!(format!("{alone:?}"), format!("{through:?}"), "the two validations disagree");
        through
    }
}

#[test]
fn validation_through_a_checked_body_gives_the_same_execution() {
    let c = Chain::new();
    let block = c.build(c.mints(1..=20));
    let executed = c.both(block.clone()).unwrap();
    assert_eq!(executed.tx_root, block.header.tx_root);
    assert_eq!(executed.tx_ids, block.txs.iter().map(|t| t.id(c.net.chain())).collect::<Vec<_>>());
    assert_eq!(executed.state_root, block.header.state_root);
    // An empty block too.
    c.both(c.build(Vec::new())).unwrap();
}

/// The check, kept or not: both must give the same answer.
fn matches(chain: &str, block: &Block) -> bool {
    let kept = CheckedBody::check(chain, &Arc::new(block.clone())).is_some();
    assert_eq!(kept, CheckedBody::matches(chain, block), "the two forms of the check disagree");
    kept
}

#[test]
fn a_body_its_header_does_not_describe_is_refused() {
    let c = Chain::new();
    let chain = c.net.chain();
    let block = c.build(c.mints(1..=3));
    assert!(matches(chain, &block));

    let mut swapped = block.clone();
    swapped.txs.swap(0, 1);
    assert!(!matches(chain, &swapped), "order is part of the tx root");

    let mut dropped = block.clone();
    dropped.txs.pop();
    assert!(!matches(chain, &dropped), "tx_count counts");

    let mut replaced = block.clone();
    replaced.txs[2] = c.net.mint(&c.net.issuer, c.series, 4, 4);
    assert!(!matches(chain, &replaced), "ids are of the body");

    let mut resigned = block.clone();
    resigned.txs[0].signatures[0].signature.0[5] ^= 1;
    assert!(matches(chain, &resigned), "the body check is over ids (signatures are validation's T4)");
    assert!(!matches("another-chain", &block), "ids are per chain");
}

#[test]
fn validation_through_a_checked_body_refuses_what_validation_alone_refuses() {
    let c = Chain::new();
    let chain = c.net.chain();

    // A transfer in a body that matches its header: T1, at its index.
    let mut block = c.build(c.mints(1..=3));
    let cert = ids::certificate_id(chain, &c.series, 1);
    block.txs[1] =
        TxBody::Transfer { certificate_id: cert, to: TestNet::holder(9) }.sign(chain, &[&c.net.issuer]);
    let ids: Vec<_> = block.txs.iter().map(|t| t.id(chain)).collect();
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
    match c.both(block).unwrap_err() {
        LedgerError::InvalidTransaction { index: 1, source, .. } => {
            assert!(matches!(*source, LedgerError::TransferForbidden { .. }), "{source:?}")
        }
        other => panic!("expected the transfer at index 1, got {other:?}"),
    }

    // A forged signature: T4 (no memo, so it is verified).
    let mut block = c.build(c.mints(1..=3));
    block.txs[2].signatures[0].signature.0[7] ^= 1;
    match c.both(block).unwrap_err() {
        LedgerError::InvalidTransaction { index: 2, .. } => {}
        other => panic!("expected the forged mint at index 2, got {other:?}"),
    }

    // A header whose state root lies (B11).
    let mut block = c.build(c.mints(1..=3));
    block.header.state_root.0[0] ^= 1;
    assert!(matches!(c.both(block).unwrap_err(), LedgerError::StateRootMismatch { .. }));

    // A block of the wrong height (B2) comes before anything the check kept.
    let mut block = c.build(c.mints(1..=3));
    block.header.height += 1;
    assert!(matches!(c.both(block).unwrap_err(), LedgerError::UnexpectedHeight { .. }));
}
