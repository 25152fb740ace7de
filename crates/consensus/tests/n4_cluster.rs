//! Four validators (plus an observer) wired together by a tiny in-test
//! network: every message reaches every node, own messages included, in an
//! order chosen by a seed. Scenarios read like the simulator's: who is
//! faulty, what must hold.

mod common;

use common::*;
use keepsake_consensus::Output;

#[test]
fn n4f0_happy_path_decides_every_height_in_round_0() {
    let mut c = Cluster::new(4, 1, 0);
    c.last_height = 3;
    c.start(1);
    c.run_until_quiet();
    assert!(c.all_decided(3), "no timers were needed");
    c.check_safety();
    for h in 1..=3 {
        let (block, commit) = &c.nodes[0].decisions[&h][0];
        assert_eq!(commit.round, 0);
        assert_eq!(block.header.height, h);
        assert_eq!(commit.signatures.len(), 3, "decided on the third precommit");
    }
    // The observer (node 4) decided too and never asked to sign anything.
    assert!(
        !c.log.iter().any(|(i, o)| *i == 4
            && matches!(o, Output::Vote(_) | Output::Propose { .. } | Output::BuildBlock { .. }))
    );
    assert!(c.evidence.is_empty());
}

#[test]
fn n4f1_invalid_proposer_is_skipped_by_nil_votes() {
    // Proposer of (1, 0) builds an invalid block (say, a transfer): everyone
    // prevotes nil and the next round decides a valid block.
    let mut c = Cluster::new(4, 0, 0);
    let bad = c.fx.proposer_index(1, 0);
    c.bad_proposers.insert(bad);
    c.start(1);
    c.run(10);
    assert!(c.all_decided(1));
    c.check_safety();
    let (block, commit) = &c.nodes[0].decisions[&1][0];
    assert!(commit.round >= 1);
    assert!(!c.invalid.contains(&block.header.hash()));
}

#[test]
fn n4f1_crashed_proposer_is_skipped_by_timeouts() {
    let mut c = Cluster::new(4, 1, 0);
    c.down.insert(c.fx.proposer_index(1, 0));
    c.start(1);
    c.run(10);
    assert!(c.all_decided(1));
    c.check_safety();
    let (_, commit) = &c.nodes[0].decisions[&1][0];
    assert_eq!(commit.round, 1);
    assert_eq!(commit.signatures.len(), 3);
}

#[test]
fn random_delivery_orders_agree_and_decide_once() {
    for seed in 1..=40u64 {
        let mut c = Cluster::new(4, 1, seed);
        c.last_height = 3;
        if seed % 3 == 0 {
            c.bad_proposers.insert((seed as usize) % 4);
        }
        if seed % 5 == 0 {
            c.down.insert((seed as usize / 5) % 4);
        }
        c.start(1);
        c.run(40);
        c.check_safety();
        assert!(c.all_decided(3), "seed {seed}: no progress");
    }
}

#[test]
fn same_inputs_same_outputs() {
    let run = |seed: u64| {
        let mut c = Cluster::new(4, 1, seed);
        c.last_height = 3;
        c.bad_proposers.insert(2);
        c.start(1);
        c.run(40);
        c.log
    };
    for seed in [0, 7, 12345] {
        let a = run(seed);
        let b = run(seed);
        assert!(!a.is_empty());
        assert_eq!(a, b, "seed {seed}");
    }
}

#[test]
fn n4f1_equivocating_validator_is_reported_and_cannot_break_agreement() {
    for seed in 0..=60u64 {
        let mut c = Cluster::new(4, 1, seed);
        c.last_height = 3;
        let byzantine = (seed as usize) % 4;
        c.equivocators.insert(byzantine);
        c.start(1);
        c.run(40);
        c.check_safety();
        assert!(c.all_decided(3), "seed {seed}: no progress");
        assert!(!c.evidence.is_empty(), "seed {seed}");
        let byzantine_key = c.fx.pk(byzantine);
        assert!(
            c.evidence
                .iter()
                .all(|e| e.first.validator == byzantine_key && e.second.validator == byzantine_key)
        );
        // Once per (validator, height, round, kind) at each node.
        let mut seen = std::collections::BTreeSet::new();
        for (i, o) in &c.log {
            if let Output::Equivocation(e) = o {
                let d = &e.first.data;
                assert!(seen.insert((*i, d.height, d.round, d.kind)), "seed {seed}: reported twice");
            }
        }
    }
}
