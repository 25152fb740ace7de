//! The audit of the collectible's life (docs/rules.md T39-T51) on chains
//! built by the ledger's test kit: burned counts per series, blind boxes
//! reported as open, closed but never revealed, or revealed with their draw
//! re-derived; and a quorum that commits a disguised transfer or a reveal
//! with the wrong entropy is caught by the audit's own checks.

use keepsake_audit::{AnomalyKind, Auditor, BoxStatus, Flow, Report};
use keepsake_ledger::testkit::{TestChain, TestNet, box_entropy};
use keepsake_ledger::{StateView, Tip};
use keepsake_types::life::draw_variants;
use keepsake_types::{Block, Commit, Hash32, SeriesId, SignedTx};

struct Life {
    chain: TestChain,
    a: SeriesId,
    t: SeriesId,
    open: SeriesId,
    unrevealed: SeriesId,
    revealed: SeriesId,
}

/// Series a (6) and t (recipe: two of a); three blind boxes of 4: one left
/// open, one closed and never revealed, one revealed; one synthesis.
fn life_chain() -> Life {
    let mut chain = TestChain::new(TestNet::new(4));
    let net = &chain.net;
    let (issuer, reviewer) = (&net.issuer, &net.reviewer);
    let a = net.series_id(issuer, "a");
    let t = net.series_id(issuer, "t");
    let (open, unrevealed, revealed) = (
        net.series_id(issuer, "open"),
        net.series_id(issuer, "unrevealed"),
        net.series_id(issuer, "revealed"),
    );
    let boxes: Vec<SignedTx> = ["open", "unrevealed", "revealed"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            net.create_series_with_terms(
                issuer,
                reviewer,
                name,
                4,
                net.blind_box(&TestNet::box_seed(i as u8), &[1, 3]),
            )
        })
        .collect();
    let setup = net.setup_txs();
    let a_tx = net.create_series(issuer, reviewer, "a", 6);
    let mut mints: Vec<SignedTx> = (1..=4).map(|e| net.mint(issuer, a, e, 1)).collect();
    for bx in [open, unrevealed, revealed] {
        mints.extend((1..=2).map(|e| net.mint(issuer, bx, e, e)));
    }
    let closes = vec![net.close_box(issuer, unrevealed), net.close_box(issuer, revealed)];
    chain.push(setup);
    chain.push(vec![a_tx]);
    let t_tx = chain.net.create_series_with_terms(
        &chain.net.issuer,
        &chain.net.reviewer,
        "t",
        2,
        TestNet::recipe(&[(a, 2)]),
    );
    let mut creations = boxes;
    creations.push(t_tx);
    chain.push(creations);
    chain.push(mints);
    chain.push(closes);
    let net = &chain.net;
    let synth = net.synthesize(&net.issuer, t, 0, vec![net.certificate(&a, 1), net.certificate(&a, 2)], 1, 1);
    let entropy = box_entropy(&chain.state, &revealed).unwrap();
    let reveal = net.reveal_box(&net.issuer, revealed, TestNet::box_seed(2), entropy);
    chain.push(vec![synth, reveal]);
    Life { chain, a, t, open, unrevealed, revealed }
}

fn audit(genesis: &keepsake_types::Genesis, blocks: &[(Block, Commit)]) -> Report {
    let mut a = Auditor::new(genesis.clone());
    for (b, c) in blocks {
        if a.feed(b, c) == Flow::Stopped {
            break;
        }
    }
    a.report()
}

#[test]
fn the_report_lists_burned_counts_and_every_box_by_status_with_the_draw_re_derived() {
    let l = life_chain();
    let r = audit(&l.chain.net.genesis, &l.chain.blocks);
    assert!(r.passed, "{r}");
    let series = |id: &SeriesId| r.series.iter().find(|s| &s.series_id == id).unwrap();
    assert_eq!((series(&l.a).minted, series(&l.a).burned), (4, 2));
    assert_eq!((series(&l.t).minted, series(&l.t).burned), (1, 0));
    assert_eq!(r.issuers[0].series, 5, "series created with terms count too");
    assert_eq!(r.transactions.get("synthesize"), Some(&1));

    let bx = |id: &SeriesId| r.boxes.iter().find(|b| &b.series_id == id).unwrap();
    assert_eq!(r.boxes.len(), 3);
    assert_eq!(bx(&l.open).status, BoxStatus::Open);
    assert_eq!(bx(&l.unrevealed).status, BoxStatus::ClosedUnrevealed { closed_height: 5 });
    assert!(bx(&l.open).draw.is_empty() && bx(&l.unrevealed).draw.is_empty());
    let life = l.chain.state.series_life(&l.revealed).unwrap().unwrap();
    let reveal = life.revealed.unwrap();
    assert_eq!(
        bx(&l.revealed).status,
        BoxStatus::Revealed {
            closed_height: 5,
            height: 6,
            seed: TestNet::box_seed(2),
            entropy: reveal.entropy
        }
    );
    let variants = &life.terms.blind_box.unwrap().variants;
    let expected =
        draw_variants(l.chain.net.chain(), &l.revealed, &reveal.seed, &reveal.entropy, variants).unwrap();
    assert_eq!(bx(&l.revealed).draw, expected);
    assert_eq!((bx(&l.revealed).sold, bx(&l.revealed).editions), (2, 4));

    // The human summary names each state on its own line.
    let text = r.to_string();
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("  blind box {name} ")))
            .unwrap_or_else(|| panic!("{text}"))
    };
    assert!(line("unrevealed").contains("CLOSED at height 5 but NOT REVEALED"), "{text}");
    assert!(line("open").contains("OPEN"), "{text}");
    assert!(line("revealed").contains("revealed at height 6"), "{text}");
    assert!(text.contains(" 4/6 minted, 0 revoked, 2 burned"), "{text}");
    // The JSON round-trips.
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), r);
}

#[test]
fn an_audit_stopped_before_the_reveal_reports_the_box_as_closed_and_unrevealed() {
    let l = life_chain();
    let r = audit(&l.chain.net.genesis, &l.chain.blocks[..5]);
    assert!(r.passed, "{r}");
    let statuses: Vec<&BoxStatus> = r.boxes.iter().map(|b| &b.status).collect();
    assert_eq!(statuses.iter().filter(|s| matches!(s, BoxStatus::ClosedUnrevealed { .. })).count(), 2);
    assert_eq!(r.to_string().matches("NOT REVEALED").count(), 2);
}

/// Block `height` of `chain` with its transactions replaced by `txs` and
/// committed by a full quorum, without running the ledger.
fn resigned(chain: &TestChain, height: u64, txs: Vec<SignedTx>) -> (Block, Commit) {
    let mut block = chain.blocks[(height - 1) as usize].0.clone();
    block.txs = txs;
    let ids: Vec<_> = block.txs.iter().map(|t| t.id(chain.net.chain())).collect();
    block.header.tx_count = block.txs.len() as u32;
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
    let commit = chain.net.commit_for(&block.header, 0, 4);
    (block, commit)
}

#[test]
fn a_quorum_committing_a_disguised_transfer_or_a_wrong_entropy_is_caught_independently() {
    let l = life_chain();
    let net = &l.chain.net;
    let (c1, c3) = (net.certificate(&l.a, 1), net.certificate(&l.a, 3));
    let kinds = |r: &Report| r.anomalies.iter().map(|a| a.kind).collect::<Vec<_>>();

    // A synthesis of holder 1's pieces into an edition for holder 2.
    let transfer = net.synthesize(&net.issuer, l.t, 0, vec![c1, c3], 1, 2);
    let mut blocks = l.chain.blocks[..5].to_vec();
    blocks.push(resigned(&l.chain, 6, vec![transfer]));
    let r = audit(&net.genesis, &blocks);
    assert_eq!(kinds(&r)[0], AnomalyKind::SynthesisChangedHolder, "{r}");
    assert_eq!(r.anomalies.last().unwrap().kind, AnomalyKind::BlockInvalid);

    // A reveal with the entropy of another log size.
    let mut blocks = l.chain.blocks[..5].to_vec();
    let wrong = Hash32([7; 32]);
    blocks.push(resigned(
        &l.chain,
        6,
        vec![net.reveal_box(&net.issuer, l.revealed, TestNet::box_seed(2), wrong)],
    ));
    let r = audit(&net.genesis, &blocks);
    assert_eq!(kinds(&r)[0], AnomalyKind::BlindBoxInvalid, "{r}");
    assert!(r.anomalies[0].message.contains("not the log root after the close"), "{r}");
    assert_eq!(r.anomalies.last().unwrap().cause.as_deref(), Some("EntropyMismatch"));

    // A certificate burned twice (the second synthesis replays the first's inputs).
    let again =
        net.synthesize(&net.issuer, l.t, 0, vec![net.certificate(&l.a, 1), net.certificate(&l.a, 2)], 2, 1);
    let mut blocks = l.chain.blocks.clone();
    let tip = Tip::from_header(&blocks.last().unwrap().0.header);
    let mut next = blocks[5].clone();
    next.0.header.height = tip.height + 1;
    blocks.push(resigned_after(&l.chain, next.0, vec![again]));
    let r = audit(&net.genesis, &blocks);
    assert_eq!(kinds(&r)[0], AnomalyKind::BurnInvalid, "{r}");
}

/// `template` as the block after the chain's last one carrying `txs`,
/// committed by a full quorum (its other fields are not the ledger's).
fn resigned_after(chain: &TestChain, mut block: Block, txs: Vec<SignedTx>) -> (Block, Commit) {
    block.header.prev_hash = chain.tip.hash;
    block.txs = txs;
    let ids: Vec<_> = block.txs.iter().map(|t| t.id(chain.net.chain())).collect();
    block.header.tx_count = block.txs.len() as u32;
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
    let commit = chain.net.commit_for(&block.header, 0, 4);
    (block, commit)
}
