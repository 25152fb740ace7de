//! The auditor on chains built by the ledger's own test kit (real keys, real
//! signatures, real execution): a clean chain passes with exact counts, and
//! each kind of corruption is reported with its precise anomaly.

use keepsake_audit::{Alert, AnomalyKind, Auditor, Flow, Monitor, Observed, Report};
use keepsake_ledger::Tip;
use keepsake_ledger::testkit::{TestChain, TestNet};
use keepsake_types::encoding::encode;
use keepsake_types::{
    Block, Checkpoint, Commit, DoubleVote, SignedTx, TxBody, VoteData, VoteKind, ids, merkle,
};

/// Height 1: setup; 2: a series of 5; 3: three mints; 4: a revocation; 5: two mints.
fn clean_chain() -> TestChain {
    let mut c = TestChain::new(TestNet::new(4));
    let net = &c.net;
    let setup = net.setup_txs();
    let series = net.create_series(&net.issuer, &net.reviewer, "jade", 5);
    let sid = net.series_id(&net.issuer, "jade");
    let mints: Vec<SignedTx> = (1..=3).map(|e| net.mint(&net.issuer, sid, e, e)).collect();
    let revoke =
        TxBody::Revoke { certificate_id: ids::certificate_id(net.chain(), &sid, 2), reason: "fake".into() }
            .sign(net.chain(), &[&net.issuer]);
    let more: Vec<SignedTx> = (4..=5).map(|e| net.mint(&net.issuer, sid, e, e)).collect();
    c.push(setup);
    c.push(vec![series]);
    c.push(mints);
    c.push(vec![revoke]);
    c.push(more);
    c
}

fn audit(chain: &TestChain, blocks: &[(Block, Commit)]) -> Report {
    let mut a = Auditor::new(chain.net.genesis.clone());
    for (b, c) in blocks {
        if a.feed(b, c) == Flow::Stopped {
            break;
        }
    }
    a.report()
}

fn only_anomaly(r: &Report) -> (AnomalyKind, Option<u64>, Option<String>) {
    assert!(!r.passed, "expected a failing audit: {r}");
    let a = r.anomalies.first().expect("an anomaly");
    (a.kind, a.height, a.cause.clone())
}

/// Block `height` of the clean chain with its transactions replaced by
/// `txs` (count and tx root recomputed, the other header fields kept, valid
/// or not) and committed by a full quorum: what a colluding supermajority
/// could sign without running the ledger.
fn resigned_block(chain: &TestChain, height: u64, txs: Vec<SignedTx>) -> (Block, Commit) {
    let proposer = chain.net.validators[0].public();
    let mut block = chain.blocks[(height - 1) as usize].0.clone();
    block.txs = txs;
    // Re-derive the header without the ledger's build (which would refuse
    // an invalid transaction): counts and roots are recomputed honestly.
    let ids: Vec<_> = block.txs.iter().map(|t| t.id(chain.net.chain())).collect();
    block.header.tx_count = block.txs.len() as u32;
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
    block.header.proposer = proposer;
    let commit = chain.net.commit_for(&block.header, 0, 4);
    (block, commit)
}

#[test]
fn a_clean_chain_passes_with_exact_counts() {
    let c = clean_chain();
    let r = audit(&c, &c.blocks);
    assert!(r.passed, "{r}");
    assert_eq!((r.verified_height, r.source_height, r.stopped_at), (5, 5, None));
    assert_eq!(r.transactions.get("mint"), Some(&5));
    assert_eq!(r.transactions.get("revoke"), Some(&1));
    assert_eq!(r.transactions.get("create_series"), Some(&1));
    assert_eq!(r.commit_signatures, 5 * 4);
    assert_eq!((r.log_size, r.log_root), (c.tip.log_size, c.tip.log_root));
    assert_eq!(r.series.len(), 1);
    let s = &r.series[0];
    assert_eq!((s.name.as_str(), s.minted, s.max_supply, s.revoked), ("jade", 5, 5, 1));
    assert_eq!(r.issuers.len(), 1);
    let i = &r.issuers[0];
    assert_eq!((i.name.as_str(), i.series, i.minted, i.revoked), ("Museum", 1, 5, 1));
    // The human summary says PASS; the JSON round-trips.
    assert!(r.to_string().starts_with("audit PASS"));
}

#[test]
fn raw_records_replay_like_decoded_ones_and_bad_bytes_are_reported() {
    let c = clean_chain();
    let mut a = Auditor::new(c.net.genesis.clone());
    for (h, (b, cm)) in c.blocks.iter().enumerate() {
        assert_eq!(a.feed_raw(h as u64 + 1, Some(&encode(b)), Some(&encode(cm))), Flow::Continue);
    }
    a.check_claimed_tip(&c.tip);
    assert!(a.report().passed);

    let enc = |h: usize| (encode(&c.blocks[h].0), encode(&c.blocks[h].1));
    // Garbage block bytes.
    let mut a = Auditor::new(c.net.genesis.clone());
    let (b1, c1) = enc(0);
    a.feed_raw(1, Some(&b1), Some(&c1));
    assert_eq!(a.feed_raw(2, Some(&[0xff; 40]), Some(&enc(1).1)), Flow::Stopped);
    assert_eq!(only_anomaly(&a.report()), (AnomalyKind::Malformed, Some(2), Some("Malformed".into())));
    // A missing commit, a missing block.
    let mut a = Auditor::new(c.net.genesis.clone());
    a.feed_raw(1, Some(&b1), None);
    assert_eq!(only_anomaly(&a.report()).0, AnomalyKind::MissingCommit);
    let mut a = Auditor::new(c.net.genesis.clone());
    a.feed_raw(1, None, Some(&c1));
    assert_eq!(only_anomaly(&a.report()).0, AnomalyKind::MissingBlock);
    // A block stored under the wrong height.
    let mut a = Auditor::new(c.net.genesis.clone());
    a.feed_raw(1, Some(&enc(1).0), Some(&enc(1).1));
    assert_eq!(
        only_anomaly(&a.report()),
        (AnomalyKind::BlockInvalid, Some(1), Some("UnexpectedHeight".into()))
    );
    // A tip record that claims more than the chain holds.
    let mut a = Auditor::new(c.net.genesis.clone());
    a.feed_raw(1, Some(&b1), Some(&c1));
    a.check_claimed_tip(&c.tip);
    assert_eq!(only_anomaly(&a.report()), (AnomalyKind::TipMismatch, Some(5), None));
}

#[test]
fn a_commit_without_quorum_is_reported_at_its_height() {
    let c = clean_chain();
    let mut blocks = c.blocks.clone();
    blocks[2].1.signatures.truncate(2);
    let r = audit(&c, &blocks);
    assert_eq!(only_anomaly(&r), (AnomalyKind::CommitInvalid, Some(3), Some("InsufficientPower".into())));
    assert_eq!((r.verified_height, r.stopped_at), (2, Some(3)));
    assert!(r.to_string().starts_with("audit FAIL"));

    let mut blocks = c.blocks.clone();
    blocks[1].1.signatures[0].signature.0[9] ^= 1;
    assert_eq!(only_anomaly(&audit(&c, &blocks)).2.as_deref(), Some("BadSignature"));
}

#[test]
fn a_forged_block_under_an_old_commit_is_reported() {
    let c = clean_chain();
    let mut blocks = c.blocks.clone();
    // One more mint slipped into block 5, header honestly recomputed, old commit kept.
    let net = &c.net;
    let extra = net.mint(&net.issuer, net.series_id(&net.issuer, "jade"), 1, 99);
    let (forged, _) = resigned_block(&c, 5, [blocks[4].0.txs.clone(), vec![extra]].concat());
    blocks[4].0 = forged;
    // The block was never committed: it is reported as that, and the double mint inside it is
    // not blamed on the chain.
    let r = audit(&c, &blocks);
    assert_eq!(only_anomaly(&r), (AnomalyKind::CommitInvalid, Some(5), Some("CommitBlockMismatch".into())));
    assert_eq!(r.anomalies.len(), 1, "{r}");
}

#[test]
fn an_edition_over_the_cap_in_the_series_creation_block_is_caught_independently() {
    let c = clean_chain();
    let net = &c.net;
    let create = net.create_series(&net.issuer, &net.reviewer, "pearl", 2);
    let over = net.mint(&net.issuer, net.series_id(&net.issuer, "pearl"), 3, 1);
    let mut blocks = c.blocks.clone();
    blocks[4] = resigned_block(&c, 5, vec![create, over]);
    let r = audit(&c, &blocks);
    assert_eq!(r.anomalies[0].kind, AnomalyKind::SupplyExceeded, "{r}");
    assert_eq!(r.anomalies[1].kind, AnomalyKind::BlockInvalid, "{r}");
}

#[test]
fn a_rewritten_historical_block_breaks_the_chain_above_it() {
    let c = clean_chain();
    let net = &c.net;
    let sid = net.series_id(&net.issuer, "jade");
    // Block 3 rewritten (edition 1 to another holder): a fully valid block,
    // built by the ledger and committed by a full quorum, as a colluding
    // supermajority could produce later. Block 4 no longer links to it.
    let mut fork = TestChain::new(TestNet::new(4));
    for (b, _) in &c.blocks[..2] {
        fork.push(b.txs.clone());
    }
    fork.push((1..=3).map(|e| net.mint(&net.issuer, sid, e, if e == 1 { 77 } else { e })).collect());
    let mut blocks = c.blocks.clone();
    blocks[2] = fork.blocks[2].clone();
    let r = audit(&c, &blocks);
    assert_eq!(only_anomaly(&r), (AnomalyKind::BlockInvalid, Some(4), Some("PrevHashMismatch".into())));
    assert_eq!((r.verified_height, r.stopped_at), (3, Some(4)));

    // The same block with the original header fields kept (only the
    // transactions swapped) fails the honest recomputation of its log.
    let rewritten: Vec<SignedTx> =
        (1..=3).map(|e| net.mint(&net.issuer, sid, e, if e == 1 { 77 } else { e })).collect();
    let mut blocks = c.blocks.clone();
    blocks[2] = resigned_block(&c, 3, rewritten);
    let r = audit(&c, &blocks);
    assert_eq!(only_anomaly(&r), (AnomalyKind::BlockInvalid, Some(3), Some("LogMismatch".into())));
}

#[test]
fn a_committed_transfer_is_reported_by_both_the_independent_check_and_the_ledger() {
    let c = clean_chain();
    let net = &c.net;
    let id = ids::certificate_id(net.chain(), &net.series_id(&net.issuer, "jade"), 1);
    let transfer =
        TxBody::Transfer { certificate_id: id, to: TestNet::holder(42) }.sign(net.chain(), &[&net.issuer]);
    let mut blocks = c.blocks.clone();
    blocks[4] = resigned_block(&c, 5, vec![transfer]);
    let r = audit(&c, &blocks);
    assert_eq!(r.anomalies[0].kind, AnomalyKind::TransferCommitted);
    assert_eq!(r.anomalies[1].kind, AnomalyKind::BlockInvalid);
    assert_eq!(r.anomalies[1].cause.as_deref(), Some("TransferForbidden"));
    assert_eq!((r.anomalies.len(), r.stopped_at), (2, Some(5)));
}

#[test]
fn equivocation_evidence_is_verified() {
    let c = clean_chain();
    let net = &c.net;
    let vote = |hash: u8| {
        VoteData {
            height: 3,
            round: 1,
            kind: VoteKind::Prevote,
            block_hash: Some(keepsake_types::BlockHash([hash; 32])),
        }
        .sign(net.chain(), &net.validators[2])
    };
    let real = DoubleVote { first: vote(1), second: vote(2) };
    let mut a = Auditor::new(net.genesis.clone());
    a.check_evidence(&real);
    assert_eq!(only_anomaly(&a.report()), (AnomalyKind::Equivocation, Some(3), None));

    let mut same_value = real.clone();
    same_value.second = same_value.first.clone();
    let mut forged = real.clone();
    forged.second.signature.0[0] ^= 1;
    for (bad, cause) in [(same_value, "Malformed"), (forged, "BadSignature")] {
        let mut a = Auditor::new(net.genesis.clone());
        a.check_evidence(&bad);
        assert_eq!(only_anomaly(&a.report()), (AnomalyKind::InvalidEvidence, Some(3), Some(cause.into())));
    }
    let mut a = Auditor::new(net.genesis.clone());
    a.check_evidence_raw(b"garbage");
    assert_eq!(only_anomaly(&a.report()).0, AnomalyKind::InvalidEvidence);
}

fn checkpoint(b: &(Block, Commit)) -> Checkpoint {
    Checkpoint { header: b.0.header.clone(), commit: b.1.clone() }
}

fn consistency(c: &TestChain, old: usize, new: usize) -> Vec<keepsake_types::Hash32> {
    let size = |i: usize| c.blocks[i].0.header.log_size;
    merkle::consistency_proof(&c.state, size(old), size(new)).unwrap()
}

#[test]
fn the_monitor_follows_a_growing_chain() {
    let c = clean_chain();
    let mut m = Monitor::new(&c.net.genesis);
    assert_eq!(m.observe("a", &checkpoint(&c.blocks[1]), None), Ok(Observed::Advanced));
    assert_eq!(
        m.observe("a", &checkpoint(&c.blocks[3]), Some(&consistency(&c, 1, 3))),
        Ok(Observed::Advanced)
    );
    assert_eq!(m.observe("a", &checkpoint(&c.blocks[3]), None), Ok(Observed::Known));
    // A second source showing the same chain is fine, below or above.
    assert_eq!(m.observe("b", &checkpoint(&c.blocks[2]), None), Ok(Observed::Advanced));
    assert_eq!(
        m.observe("b", &checkpoint(&c.blocks[4]), Some(&consistency(&c, 2, 4))),
        Ok(Observed::Advanced)
    );
    assert_eq!(m.latest("a").unwrap().height, 4);
}

#[test]
fn the_monitor_detects_a_fork_between_two_sources() {
    let c = clean_chain();
    // Another history from the same genesis: block 3 mints to other holders.
    let mut other = TestChain::new(TestNet::new(4));
    for (b, _) in &c.blocks[..2] {
        other.push(b.txs.clone());
    }
    let net = &c.net;
    let sid = net.series_id(&net.issuer, "jade");
    other.push(vec![net.mint(&net.issuer, sid, 1, 500)]);
    other.push(vec![net.mint(&net.issuer, sid, 2, 501)]);

    let mut m = Monitor::new(&c.net.genesis);
    m.observe("node-a", &checkpoint(&c.blocks[2]), None).unwrap();
    let alert = m.observe("node-b", &checkpoint(&other.blocks[2]), None).unwrap_err();
    let Alert::Fork { height, first, second } = &alert else { panic!("expected a fork, got {alert}") };
    assert_eq!(*height, 3);
    assert_eq!(first, &("node-a".to_string(), c.blocks[2].0.header.hash()));
    assert_eq!(second, &("node-b".to_string(), other.blocks[2].0.header.hash()));
    assert!(alert.to_string().starts_with("FORK at height 3"));

    // The fork is also seen through a child: block 4 of the other history.
    let mut m = Monitor::new(&c.net.genesis);
    m.observe("node-a", &checkpoint(&c.blocks[2]), None).unwrap();
    let alert = m.observe("node-b", &checkpoint(&other.blocks[3]), None).unwrap_err();
    assert!(matches!(alert, Alert::Fork { height: 3, .. }), "{alert}");
}

#[test]
fn the_monitor_detects_a_rewrite_a_regression_and_a_bad_checkpoint() {
    let c = clean_chain();
    let mut m = Monitor::new(&c.net.genesis);
    m.observe("a", &checkpoint(&c.blocks[2]), None).unwrap();
    // A proof that does not link the logs (here: one for other sizes).
    let alert = m.observe("a", &checkpoint(&c.blocks[4]), Some(&consistency(&c, 1, 4))).unwrap_err();
    assert!(matches!(alert, Alert::Rewrite { old_height: 3, new_height: 5, .. }), "{alert}");
    let alert = m.observe("a", &checkpoint(&c.blocks[4]), None).unwrap_err();
    assert!(matches!(alert, Alert::Rewrite { .. }), "{alert}");

    let alert = m.observe("a", &checkpoint(&c.blocks[0]), None).unwrap_err();
    assert_eq!(alert, Alert::Regressed { source: "a".into(), from: 3, to: 1 });

    let mut weak = checkpoint(&c.blocks[3]);
    weak.commit.signatures.truncate(2);
    let alert = m.observe("a", &weak, None).unwrap_err();
    assert!(
        matches!(&alert, Alert::BadCheckpoint { height: 4, cause, .. } if cause == "InsufficientPower"),
        "{alert}"
    );
    // The monitor's memory was not changed by the refused checkpoints.
    assert_eq!(m.latest("a").unwrap().height, 3);
    assert_eq!(m.heights_seen(), 1);
}

#[test]
fn tips_compare_by_value() {
    // Guard for check_claimed_tip: a tip equal to the replay is not an anomaly.
    let c = clean_chain();
    let mut a = Auditor::new(c.net.genesis.clone());
    for (b, cm) in &c.blocks {
        a.feed(b, cm);
    }
    a.check_claimed_tip(&Tip::from_header(&c.blocks[4].0.header));
    assert!(a.report().passed);
}

/// A source without any validator key attaches other transactions to a real,
/// quorum-signed header: thousands of transfers, or as many as the header
/// says but others. The commit verifies (it signs the header only), but the
/// transactions are not the committed ones: `BlockInvalid`, and nothing in
/// them (no `TransferCommitted`, no count) is blamed on the chain.
#[test]
fn transactions_attached_to_a_real_header_are_not_blamed_on_the_chain() {
    let c = clean_chain();
    let net = &c.net;
    let transfer = |n: u8| {
        TxBody::Transfer {
            certificate_id: keepsake_types::CertificateId([n; 32]),
            to: keepsake_types::HolderId([n; 32]),
        }
        .sign(net.chain(), &[&net.issuer])
    };
    for (txs, cause) in [
        (vec![transfer(1); 20_000], "TxCountMismatch"),
        ((0..3).map(transfer).collect(), "TxRootMismatch"),
        (Vec::new(), "TxCountMismatch"),
    ] {
        let mut blocks = c.blocks.clone();
        blocks[2].0.txs = txs;
        let r = audit(&c, &blocks);
        assert_eq!(only_anomaly(&r), (AnomalyKind::BlockInvalid, Some(3), Some(cause.into())), "{r}");
        assert_eq!(r.anomalies.len(), 1, "{r}");
        assert_eq!(r.transactions.get("transfer"), None);
        assert_eq!(r.verified_height, 2);
    }
}

/// Headers at the far end of the height range, signed by the genesis
/// validators (a colluding supermajority): the monitor compares them with
/// their neighbours without overflowing, and the auditor refuses them as
/// the wrong height.
#[test]
fn heights_at_the_end_of_the_range_are_handled() {
    let c = clean_chain();
    let net = &c.net;
    let mut top = c.blocks[0].0.clone();
    top.header.height = u64::MAX;
    let commit = net.commit_for(&top.header, 0, 4);
    let mut m = Monitor::new(&net.genesis);
    assert_eq!(
        m.observe("a", &Checkpoint { header: top.header.clone(), commit: commit.clone() }, None),
        Ok(Observed::Advanced)
    );
    let mut below = c.blocks[0].0.clone();
    below.header.height = u64::MAX - 1;
    let below_commit = net.commit_for(&below.header, 0, 4);
    let alert = m.observe("b", &Checkpoint { header: below.header, commit: below_commit }, None).unwrap_err();
    assert!(matches!(alert, Alert::Fork { height, .. } if height == u64::MAX - 1), "{alert}");

    let mut a = Auditor::new(net.genesis.clone());
    assert_eq!(a.feed(&top, &commit), Flow::Stopped);
    assert_eq!(
        only_anomaly(&a.report()),
        (AnomalyKind::BlockInvalid, Some(u64::MAX), Some("UnexpectedHeight".into()))
    );
}
