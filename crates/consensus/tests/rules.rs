//! One core at a time, fed by hand: each test exercises one rule of
//! Algorithm 1 (the line is in the test name or its comment).

mod common;

use common::*;
use keepsake_consensus::{
    ConsensusConfig, FUTURE_MESSAGES_MAX, Input, Output, ROUNDS_AHEAD_MAX, Step, Timeout,
};
use keepsake_types::{Keypair, VoteData, VoteKind};

const H: u64 = 1;

#[test]
fn nothing_happens_before_the_first_start_height() {
    let fx = Fixture::new(4);
    let mut core = fx.core(0);
    let b = fx.block(H, 1);
    let out = feed(
        &mut core,
        [
            fx.proposal(H, 0, None, &b),
            timeout(H, 0, Step::Propose),
            verdict(H, 0, &b, true),
            Input::BlockBuilt { height: H, round: 0, block: b.clone().into() },
        ],
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(core.height(), 0);
}

#[test]
fn l11_non_proposer_schedules_timeout_propose_growing_with_the_round() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let out = core.handle(Input::StartHeight { height: H });
    assert_eq!(
        out,
        vec![Output::ScheduleTimeout {
            timeout: Timeout { height: H, round: 0, step: Step::Propose },
            duration_ms: 3000
        }]
    );
    assert_eq!((core.height(), core.round(), core.step()), (H, 0, Step::Propose));
    // Round 2 (after two precommit timeouts) waits base + 2 * delta.
    feed(&mut core, [timeout(H, 0, Step::Precommit)]);
    let out = core.handle(timeout(H, 1, Step::Precommit));
    assert!(
        out.contains(&Output::ScheduleTimeout {
            timeout: Timeout { height: H, round: 2, step: Step::Propose },
            duration_ms: 4000
        }),
        "{out:?}"
    );
}

#[test]
fn l22_happy_path_with_the_proposer_building_and_deciding() {
    let fx = Fixture::new(4);
    let p = fx.proposer_index(H, 0);
    let mut core = fx.core(p);
    let out = core.handle(Input::StartHeight { height: H });
    assert_eq!(out[0], Output::BuildBlock { height: H, round: 0 });
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    let out = core.handle(Input::BlockBuilt { height: H, round: 0, block: b.clone().into() });
    let expected_data =
        keepsake_types::ProposalData { height: H, round: 0, pol_round: None, block_hash: b.header.hash() };
    assert_eq!(out, vec![Output::Propose { data: expected_data, block: b.clone().into() }]);
    // A second BlockBuilt for the same round does not make a second proposal.
    assert!(core.handle(Input::BlockBuilt { height: H, round: 0, block: fx.block(H, 2).into() }).is_empty());

    // Our proposal comes back signed: validate it, prevote it.
    let out = feed_back(&fx, p, &mut core, out, true);
    assert!(out.iter().any(|o| matches!(o, Output::ValidateBlock { .. })));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, v)]);

    // 2f+1 prevotes (ours was fed back above): lock and precommit.
    let others: Vec<usize> = (0..4).filter(|j| *j != p).collect();
    let out = core.handle(fx.prevote(others[0], H, 0, v));
    assert!(votes(&out).is_empty(), "only 2 of 4 so far");
    let out = core.handle(fx.prevote(others[1], H, 0, v));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Precommit, v)]);
    assert_eq!(core.locked(), Some((0, b.header.hash())));
    assert_eq!(core.valid(), Some((0, b.header.hash())));
    // L34 fired too (2f+1 prevotes of any value) - but only once.
    let prevote_timeouts = out
        .iter()
        .filter(|o| matches!(o, Output::ScheduleTimeout { timeout: Timeout { step: Step::Prevote, .. }, .. }))
        .count();
    assert_eq!(prevote_timeouts, 1);
    let out = feed_back(&fx, p, &mut core, out, true);
    assert!(!out.iter().any(|o| matches!(o, Output::Decide { .. })));

    // L49: 2f+1 precommits.
    feed(&mut core, [fx.precommit(others[0], H, 0, v)]);
    let out = core.handle(fx.precommit(others[1], H, 0, v));
    let decides: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Decide { block, commit } => Some((block.clone(), commit.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(decides.len(), 1);
    let (block, commit) = &decides[0];
    assert_eq!(**block, b);
    assert_eq!((commit.height, commit.round, commit.block_hash), (H, 0, b.header.hash()));
    assert_eq!(commit.verify(&b.header, &fx.vs).expect("commit verifies"), 3);
    // Validator-set order.
    let order: Vec<_> = commit.signatures.iter().map(|s| s.validator).collect();
    let mut expected: Vec<_> = fx.vs.validators.iter().map(|v| v.public_key).collect();
    expected.retain(|k| order.contains(k));
    assert_eq!(order, expected);
    assert!(core.is_decided());
}

#[test]
fn l49_decides_exactly_once_and_then_ignores_the_height() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    feed(&mut core, [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)]);
    // One precommit for nil first: it must not end up in the commit.
    let out = feed(
        &mut core,
        [fx.precommit(3, H, 0, None)].into_iter().chain((0..3).map(|j| fx.precommit(j, H, 0, v))),
    );
    let decides: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Decide { block, commit } => Some((block, commit)),
            _ => None,
        })
        .collect();
    assert_eq!(decides.len(), 1);
    let (block, commit) = decides[0];
    assert_eq!(commit.verify(&block.header, &fx.vs).expect("commit verifies"), 3);
    assert_eq!(core.stats().stale_messages, 0);
    // A precommit arriving after the decision is stale.
    core.handle(fx.precommit(3, H, 0, v));
    assert_eq!(core.stats().stale_messages, 1);
    // Anything more of this height does nothing.
    let out = feed(
        &mut core,
        [
            fx.precommit(0, H, 0, v),
            fx.prevote(0, H, 1, None),
            timeout(H, 0, Step::Precommit),
            timeout(H, 0, Step::Propose),
            verdict(H, 0, &b, true),
            fx.proposal(H, 1, None, &fx.block(H, 2)),
        ],
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(core.round(), 0);
    // A later StartHeight begins the next height.
    let out = core.handle(Input::StartHeight { height: H + 1 });
    assert!(!out.is_empty());
    assert_eq!((core.height(), core.round(), core.is_decided()), (H + 1, 0, false));
    // An old StartHeight is ignored.
    assert!(core.handle(Input::StartHeight { height: H }).is_empty());
    assert_eq!(core.height(), H + 1);
}

#[test]
fn l49_decides_for_an_earlier_round_while_in_a_later_one() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    feed(&mut core, [Input::StartHeight { height: H }, timeout(H, 0, Step::Precommit)]);
    assert_eq!(core.round(), 1);
    let out = feed(
        &mut core,
        [
            fx.precommit(0, H, 0, v),
            fx.precommit(1, H, 0, v),
            fx.precommit(2, H, 0, v),
            fx.proposal(H, 0, None, &b),
        ],
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Decide { .. })), "needs the verdict first");
    let out = core.handle(verdict(H, 0, &b, true));
    assert!(matches!(&out[..], [Output::Decide { commit, .. }] if commit.round == 0), "{out:?}");
}

#[test]
fn l49_never_decides_an_invalid_block() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    let out = feed(
        &mut core,
        [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, false)]
            .into_iter()
            .chain((0..4).map(|j| fx.precommit(j, H, 0, v))),
    );
    assert!(!out.iter().any(|o| matches!(o, Output::Decide { .. })));
    assert!(!core.is_decided());
}

#[test]
fn l22_invalid_verdict_prevotes_nil() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let out = feed(&mut core, [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b)]);
    assert!(out.contains(&Output::ValidateBlock { height: H, round: 0, block: b.clone().into() }));
    assert!(votes(&out).is_empty(), "no prevote before the verdict");
    let out = core.handle(verdict(H, 0, &b, false));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, None)]);
    assert_eq!(core.step(), Step::Prevote);
}

#[test]
fn validate_block_is_asked_once_per_block_hash_and_verdicts_are_cached() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    let b = fx.block(H, 1);
    let mut out = feed(
        &mut core,
        [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)],
    );
    // Round 1 re-proposes the same block: no second validation.
    out.extend(feed(&mut core, [timeout(H, 0, Step::Precommit), fx.proposal(H, 1, None, &b)]));
    let validations = out.iter().filter(|o| matches!(o, Output::ValidateBlock { .. })).count();
    assert_eq!(validations, 1);
    assert_eq!(core.round(), 1);
    assert!(votes(&out).contains(&vote_data(H, 1, VoteKind::Prevote, Some(b.header.hash()))));
}

#[test]
fn a_verdict_for_an_unrequested_block_is_ignored() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    let b = fx.block(H, 1);
    feed(&mut core, [Input::StartHeight { height: H }, verdict(H, 0, &b, false)]);
    let out = feed(&mut core, [fx.proposal(H, 0, None, &b)]);
    assert!(out.iter().any(|o| matches!(o, Output::ValidateBlock { .. })));
    let out = core.handle(verdict(H, 0, &b, true));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, Some(b.header.hash()))]);
}

#[test]
fn l57_propose_timeout_prevotes_nil_and_mismatched_timeouts_are_ignored() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    core.handle(Input::StartHeight { height: H });
    for stale in
        [timeout(H, 1, Step::Propose), timeout(H + 1, 0, Step::Propose), timeout(H, 0, Step::Prevote)]
    {
        assert!(core.handle(stale).is_empty());
    }
    let out = core.handle(timeout(H, 0, Step::Propose));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, None)]);
    // Fired twice: nothing more.
    assert!(core.handle(timeout(H, 0, Step::Propose)).is_empty());
    // The proposal arrives late and is valid: still no second prevote.
    let b = fx.block(H, 1);
    let out = feed(&mut core, [fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)]);
    assert!(votes(&out).is_empty(), "{out:?}");
}

#[test]
fn l61_prevote_timeout_precommits_nil_and_l65_moves_to_the_next_round() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    feed(&mut core, [Input::StartHeight { height: H }, timeout(H, 0, Step::Propose)]);
    let out = core.handle(timeout(H, 0, Step::Prevote));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Precommit, None)]);
    assert_eq!(core.step(), Step::Precommit);
    let out = core.handle(timeout(H, 0, Step::Precommit));
    assert_eq!(core.round(), 1);
    assert!(out.iter().any(|o| matches!(o, Output::ScheduleTimeout { timeout, .. } if timeout.round == 1)));
}

#[test]
fn l44_polka_nil_precommits_nil_and_l47_schedules_timeout_precommit_once() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let out = feed(&mut core, [Input::StartHeight { height: H }, timeout(H, 0, Step::Propose)]);
    let out = feed_back(&fx, i, &mut core, out, true);
    let others: Vec<usize> = (0..4).filter(|j| *j != i).collect();
    let out2 = feed(&mut core, [fx.prevote(others[0], H, 0, None), fx.prevote(others[1], H, 0, None)]);
    assert_eq!(votes(&out2), vec![vote_data(H, 0, VoteKind::Precommit, None)]);
    let mut all = out;
    all.extend(out2);
    all.extend(feed(&mut core, others.iter().map(|j| fx.precommit(*j, H, 0, None))));
    let count = |step: Step| {
        all.iter()
            .filter(|o| matches!(o, Output::ScheduleTimeout { timeout, .. } if timeout.step == step && timeout.round == 0))
            .count()
    };
    assert_eq!(count(Step::Prevote), 1, "L34 once");
    assert_eq!(count(Step::Precommit), 1, "L47 once");
    assert_eq!(
        all.iter().find_map(|o| match o {
            Output::ScheduleTimeout { timeout, duration_ms } if timeout.step == Step::Precommit =>
                Some(*duration_ms),
            _ => None,
        }),
        Some(1000)
    );
}

#[test]
fn own_votes_count_only_when_fed_back() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    let out = feed(
        &mut core,
        [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)],
    );
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, v)]);
    let others: Vec<usize> = (0..4).filter(|j| *j != i && *j != fx.proposer_index(H, 0)).collect();
    // Two other prevotes + our unsigned intention are not 2f+1.
    let out = feed(&mut core, others.iter().map(|j| fx.prevote(*j, H, 0, v)));
    assert!(votes(&out).is_empty(), "{out:?}");
    // Our own signed prevote makes the polka.
    let out = core.handle(fx.prevote(i, H, 0, v));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Precommit, v)]);
}

#[test]
fn own_signed_vote_seen_before_asking_prevents_a_different_one() {
    // After a restart without WAL our earlier prevote may come back from the network.
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    core.handle(Input::StartHeight { height: H });
    assert!(votes(&core.handle(fx.prevote(i, H, 0, None))).is_empty());
    let out = feed(&mut core, [fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)]);
    assert!(votes(&out).is_empty(), "must not sign a second, different prevote: {out:?}");
    assert_eq!(core.step(), Step::Prevote);
}

/// Drives validator `i` (not a proposer of rounds 0..=2 at height H) to a lock on `b` in round 0,
/// then to round `to_round` via precommit timeouts.
fn locked_in_round_0(fx: &Fixture, i: usize, b: &keepsake_types::Block) -> keepsake_consensus::Consensus {
    let mut core = fx.core(i);
    let v = Some(b.header.hash());
    let out = feed(
        &mut core,
        [Input::StartHeight { height: H }, fx.proposal(H, 0, None, b), verdict(H, 0, b, true)],
    );
    feed_back(fx, i, &mut core, out, true);
    let others: Vec<usize> = (0..4).filter(|j| *j != i).collect();
    let out = feed(&mut core, others[..2].iter().map(|j| fx.prevote(*j, H, 0, v)));
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Precommit, v)]);
    assert_eq!(core.locked(), Some((0, b.header.hash())));
    core
}

#[test]
fn l22_locked_validator_prevotes_nil_for_another_value_and_yes_for_its_lock() {
    let fx = Fixture::new(4);
    // Validator 0: proposer of (1, 3) only among rounds 0..=2.
    let i = 0;
    let v_block = fx.block(H, 1);
    let w_block = fx.block(H, 2);
    let mut core = locked_in_round_0(&fx, i, &v_block);
    core.handle(timeout(H, 0, Step::Precommit));
    assert_eq!(core.round(), 1);
    let out = feed(&mut core, [fx.proposal(H, 1, None, &w_block), verdict(H, 1, &w_block, true)]);
    assert_eq!(votes(&out), vec![vote_data(H, 1, VoteKind::Prevote, None)], "locked on v, w has no polka");
    assert_eq!(core.locked(), Some((0, v_block.header.hash())));
    // Round 2 proposes v again (no pol_round): the lock allows it.
    feed(&mut core, [timeout(H, 1, Step::Prevote), timeout(H, 1, Step::Precommit)]);
    assert_eq!(core.round(), 2);
    let out = core.handle(fx.proposal(H, 2, None, &v_block));
    assert_eq!(votes(&out), vec![vote_data(H, 2, VoteKind::Prevote, Some(v_block.header.hash()))]);
}

#[test]
fn l28_newer_polka_unlocks() {
    let fx = Fixture::new(4);
    let i = 0;
    let v_block = fx.block(H, 1);
    let w_block = fx.block(H, 2);
    let w = Some(w_block.header.hash());
    let mut core = locked_in_round_0(&fx, i, &v_block);
    // Round 1: no proposal reaches us; we time out through it.
    feed(
        &mut core,
        [
            timeout(H, 0, Step::Precommit),
            timeout(H, 1, Step::Propose),
            timeout(H, 1, Step::Prevote),
            timeout(H, 1, Step::Precommit),
        ],
    );
    assert_eq!(core.round(), 2);
    // Round 2: w re-proposed with pol_round 1; only 2 of the round-1 prevotes seen so far.
    let out = feed(
        &mut core,
        [
            fx.proposal(H, 2, Some(1), &w_block),
            verdict(H, 2, &w_block, true),
            fx.prevote(1, H, 1, w),
            fx.prevote(2, H, 1, w),
        ],
    );
    assert!(votes(&out).is_empty(), "no polka for w in round 1 yet: {out:?}");
    // The third prevote for w in round 1 completes the polka: lockedRound 0 <= 1, prevote w.
    let out = core.handle(fx.prevote(3, H, 1, w));
    assert_eq!(votes(&out), vec![vote_data(H, 2, VoteKind::Prevote, w)]);
}

#[test]
fn l28_polka_older_than_the_lock_does_not_unlock() {
    let fx = Fixture::new(4);
    let i = 0;
    let v_block = fx.block(H, 1);
    let w_block = fx.block(H, 2);
    let w = Some(w_block.header.hash());
    // Round 0: polka for w that we do not see in time. Round 1: we lock on v.
    let mut core = fx.core(i);
    feed(
        &mut core,
        [Input::StartHeight { height: H }, timeout(H, 0, Step::Propose), timeout(H, 0, Step::Prevote)],
    );
    feed(&mut core, [timeout(H, 0, Step::Precommit)]);
    let v = Some(v_block.header.hash());
    let out = feed(&mut core, [fx.proposal(H, 1, None, &v_block), verdict(H, 1, &v_block, true)]);
    feed_back(&fx, i, &mut core, out, true);
    feed(&mut core, [fx.prevote(1, H, 1, v), fx.prevote(2, H, 1, v)]);
    assert_eq!(core.locked(), Some((1, v_block.header.hash())));
    feed(&mut core, [timeout(H, 1, Step::Precommit)]);
    assert_eq!(core.round(), 2);
    // Round 2 proposes w with pol_round 0 < lockedRound 1: prevote nil.
    let out = feed(
        &mut core,
        [
            fx.prevote(1, H, 0, w),
            fx.prevote(2, H, 0, w),
            fx.prevote(3, H, 0, w),
            fx.proposal(H, 2, Some(0), &w_block),
            verdict(H, 2, &w_block, true),
        ],
    );
    assert_eq!(votes(&out), vec![vote_data(H, 2, VoteKind::Prevote, None)]);
}

#[test]
fn l36_polka_after_precommitting_nil_updates_valid_value_and_the_next_proposer_reuses_it() {
    let fx = Fixture::new(4);
    // The proposer of round 1 is validator (H + 1) % 4 = 2.
    let i = fx.proposer_index(H, 1);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    // We time out to precommit nil, then see the proposal and the polka.
    let out = feed(
        &mut core,
        [Input::StartHeight { height: H }, timeout(H, 0, Step::Propose), timeout(H, 0, Step::Prevote)],
    );
    assert_eq!(
        votes(&out),
        vec![vote_data(H, 0, VoteKind::Prevote, None), vote_data(H, 0, VoteKind::Precommit, None)]
    );
    let others: Vec<usize> = (0..4).filter(|j| *j != i).collect();
    let out = feed(
        &mut core,
        [fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)]
            .into_iter()
            .chain(others.iter().map(|j| fx.prevote(*j, H, 0, v))),
    );
    assert!(votes(&out).is_empty(), "already precommitted nil");
    assert_eq!(core.locked(), None, "no lock from step precommit");
    assert_eq!(core.valid(), Some((0, b.header.hash())));
    // L15: as proposer of round 1 we propose the valid value with its round.
    let out = core.handle(timeout(H, 0, Step::Precommit));
    assert_eq!(
        out[0],
        Output::Propose {
            data: keepsake_types::ProposalData {
                height: H,
                round: 1,
                pol_round: Some(0),
                block_hash: b.header.hash()
            },
            block: b.clone().into(),
        }
    );
    assert!(!out.iter().any(|o| matches!(o, Output::BuildBlock { .. })));
}

#[test]
fn l55_f_plus_one_in_a_later_round_skips_to_it() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    core.handle(Input::StartHeight { height: H });
    // One validator (power 1 of 4) is not f+1.
    assert!(core.handle(fx.prevote(0, H, 3, None)).is_empty());
    assert_eq!(core.round(), 0);
    // A second one (any message kind) is: 2 * 3 > 4.
    let out = core.handle(fx.precommit(1, H, 3, None));
    assert_eq!(core.round(), 3);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::ScheduleTimeout { timeout: Timeout { round: 3, step: Step::Propose, .. }, .. }
            | Output::BuildBlock { round: 3, .. }
    )));
    // Jumps straight to the highest round with f+1.
    let out = feed(&mut core, [fx.prevote(2, H, 7, None), fx.prevote(3, H, 7, None)]);
    assert_eq!(core.round(), 7);
    assert!(!out.iter().any(|o| matches!(o, Output::ScheduleTimeout { timeout, .. } if timeout.round < 7)));
}

#[test]
fn l55_counts_power_not_heads() {
    let fx = Fixture::with_powers(&[10, 1, 1, 1]);
    let mut core = fx.core(1);
    core.handle(Input::StartHeight { height: H });
    // Validators 2 and 3 hold 2 of 13: not more than a third.
    feed(&mut core, [fx.prevote(2, H, 5, None), fx.prevote(3, H, 5, None)]);
    assert_eq!(core.round(), 0);
    core.handle(fx.prevote(0, H, 5, None));
    assert_eq!(core.round(), 5);
}

#[test]
fn equivocation_is_reported_once_per_validator_round_and_kind() {
    let fx = Fixture::new(4);
    let mut core = fx.core(0);
    core.handle(Input::StartHeight { height: H });
    let first = fx.prevote(2, H, 0, None);
    let second = fx.prevote(2, H, 0, Some(fx.block(H, 1).header.hash()));
    let third = fx.prevote(2, H, 0, Some(fx.block(H, 2).header.hash()));
    assert!(core.handle(first.clone()).is_empty());
    assert!(core.handle(first.clone()).is_empty(), "identical duplicate is silent");
    let out = core.handle(second.clone());
    let (Input::Vote(f), Input::Vote(s)) = (&first, &second) else { unreachable!() };
    assert_eq!(
        out,
        vec![Output::Equivocation(Box::new(keepsake_consensus::Evidence {
            first: f.clone(),
            second: s.clone()
        }))]
    );
    assert!(core.handle(third).is_empty());
    assert!(core.handle(second).is_empty());
    assert_eq!(core.stats().equivocations, 1);
    // A different kind or round is a different step.
    assert!(core.handle(fx.precommit(2, H, 0, None)).is_empty());
    assert_eq!(core.stats().equivocations, 1);
}

#[test]
fn bad_signatures_strangers_and_wrong_proposers_are_dropped_and_counted() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    core.handle(Input::StartHeight { height: H });
    let b = fx.block(H, 1);

    let Input::Vote(mut forged) = fx.prevote(2, H, 0, None) else { unreachable!() };
    forged.signature.0[0] ^= 1;
    let stranger = Keypair::from_seed([99; 32]);
    let strange =
        VoteData { height: H, round: 0, kind: VoteKind::Prevote, block_hash: None }.sign(CHAIN, &stranger);
    let wrong_proposer = fx.proposal_by(fx.non_proposer(H, 0), H, 0, None, &b);
    let Input::Proposal(mut bad_sig) = fx.proposal(H, 0, None, &b) else { unreachable!() };
    bad_sig.signature.0[5] ^= 1;
    let Input::Proposal(mut bad_block) = fx.proposal(H, 0, None, &b) else { unreachable!() };
    bad_block.block = fx.block(H, 2).into();
    let wrong_height = fx.proposal(H, 0, None, &fx.block(H + 5, 1));
    let future_pol = fx.proposal(H, 0, Some(0), &b);

    let out = feed(
        &mut core,
        [
            Input::Vote(forged),
            Input::Vote(strange),
            wrong_proposer,
            Input::Proposal(bad_sig),
            Input::Proposal(bad_block),
            wrong_height,
            future_pol,
        ],
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(core.stats().invalid_messages, 7);
    // The rightful proposal is still accepted afterwards.
    let out = core.handle(fx.proposal(H, 0, None, &b));
    assert!(out.iter().any(|o| matches!(o, Output::ValidateBlock { .. })));
}

#[test]
fn proposer_equivocation_keeps_the_first_proposal() {
    let fx = Fixture::new(4);
    let mut core = fx.core(fx.non_proposer(H, 0));
    core.handle(Input::StartHeight { height: H });
    let b1 = fx.block(H, 1);
    let b2 = fx.block(H, 2);
    core.handle(fx.proposal(H, 0, None, &b1));
    let out = core.handle(fx.proposal(H, 0, None, &b2));
    assert!(out.is_empty(), "the second proposal is not validated: {out:?}");
    assert_eq!(core.stats().equivocations, 1);
    assert!(core.handle(fx.proposal(H, 0, None, &b1)).is_empty());
    assert_eq!(core.stats().equivocations, 1);
    let out = feed(&mut core, [verdict(H, 0, &b2, true), verdict(H, 0, &b1, true)]);
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, Some(b1.header.hash()))]);
}

#[test]
fn next_height_messages_are_buffered_and_replayed_on_start_height() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H + 1, 0);
    let mut core = fx.core(i);
    core.handle(Input::StartHeight { height: H });
    let b = fx.block(H + 1, 1);
    let v = Some(b.header.hash());
    let early: Vec<Input> = [fx.proposal(H + 1, 0, None, &b)]
        .into_iter()
        .chain((0..4).filter(|j| *j != i).map(|j| fx.precommit(j, H + 1, 0, v)))
        .collect();
    let out = feed(&mut core, early.clone());
    assert!(out.is_empty(), "{out:?}");
    // Duplicates are not buffered twice; height + 2 is far future, height - 1 stale.
    feed(&mut core, early);
    feed(&mut core, [fx.prevote(0, H + 2, 0, None), fx.prevote(0, H - 1, 0, None)]);
    assert_eq!(core.stats().far_future_messages, 1);
    assert_eq!(core.stats().stale_messages, 1);
    // Even many copies of one message take one slot.
    for _ in 0..FUTURE_MESSAGES_MAX + 1 {
        core.handle(fx.prevote(0, H + 1, 0, None));
    }
    assert_eq!(core.stats().dropped_messages, 0);

    let out = core.handle(Input::StartHeight { height: H + 1 });
    assert!(
        out.contains(&Output::ValidateBlock { height: H + 1, round: 0, block: b.clone().into() }),
        "{out:?}"
    );
    let out = core.handle(verdict(H + 1, 0, &b, true));
    assert!(out.iter().any(|o| matches!(o, Output::Decide { block, .. } if **block == b)), "{out:?}");
}

#[test]
fn messages_before_the_first_start_height_are_replayed() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    assert!(core.handle(fx.proposal(H, 0, None, &b)).is_empty());
    let out = core.handle(Input::StartHeight { height: H });
    assert!(out.contains(&Output::ValidateBlock { height: H, round: 0, block: b.into() }));
}

#[test]
fn future_buffer_is_bounded() {
    let fx = Fixture::new(4);
    let mut core = fx.core(0);
    core.handle(Input::StartHeight { height: H });
    // Distinct signed votes for the next height: 4 validators x 2 kinds x rounds.
    let mut n = 0usize;
    'outer: for r in 0..=ROUNDS_AHEAD_MAX {
        for j in 0..4 {
            for salt in 0..20u64 {
                let v = Some(fx.block(H + 1, salt).header.hash());
                core.handle(fx.prevote(j, H + 1, r, v));
                n += 1;
                if n == FUTURE_MESSAGES_MAX + 10 {
                    break 'outer;
                }
            }
        }
    }
    assert_eq!(core.stats().dropped_messages, 10);
    // Too far ahead in rounds, even for the next height.
    core.handle(fx.prevote(0, H + 1, ROUNDS_AHEAD_MAX + 1, None));
    assert_eq!(core.stats().far_future_messages, 1);
}

#[test]
fn votes_too_many_rounds_ahead_are_dropped() {
    let fx = Fixture::new(4);
    let mut core = fx.core(0);
    core.handle(Input::StartHeight { height: H });
    let out = feed(
        &mut core,
        (0..4).map(|j| fx.prevote(j, H, ROUNDS_AHEAD_MAX + 1, None)).chain([fx.proposal(
            H,
            ROUNDS_AHEAD_MAX + 1,
            None,
            &fx.block(H, 1),
        )]),
    );
    assert!(out.is_empty());
    assert_eq!(core.round(), 0);
    assert_eq!(core.stats().far_future_messages, 5);
    // Exactly ROUNDS_AHEAD_MAX ahead is kept (and here triggers L55).
    feed(&mut core, (0..2).map(|j| fx.prevote(j, H, ROUNDS_AHEAD_MAX, None)));
    assert_eq!(core.round(), ROUNDS_AHEAD_MAX);
}

#[test]
fn observer_never_votes_or_proposes_but_decides() {
    let fx = Fixture::new(4);
    let mut core = fx.observer();
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    let mut out = feed(
        &mut core,
        [
            Input::StartHeight { height: H },
            timeout(H, 0, Step::Propose),
            timeout(H, 0, Step::Prevote),
            timeout(H, 0, Step::Precommit),
            Input::BlockBuilt { height: H, round: 1, block: b.clone().into() },
            fx.proposal(H, 1, None, &b),
            verdict(H, 1, &b, true),
        ],
    );
    out.extend(feed(&mut core, (0..4).map(|j| fx.prevote(j, H, 1, v))));
    out.extend(feed(&mut core, (0..3).map(|j| fx.precommit(j, H, 1, v))));
    assert!(
        !out.iter()
            .any(|o| matches!(o, Output::Vote(_) | Output::Propose { .. } | Output::BuildBlock { .. }))
    );
    assert!(out.iter().any(|o| matches!(o, Output::Decide { .. })));
}

#[test]
fn a_key_outside_the_set_is_an_observer() {
    let fx = Fixture::new(4);
    let stranger = Keypair::from_seed([42; 32]);
    let mut core = keepsake_consensus::Consensus::new(
        CHAIN.into(),
        fx.vs.clone(),
        Some(stranger.public()),
        ConsensusConfig::default(),
    );
    let out = feed(&mut core, [Input::StartHeight { height: H }, timeout(H, 0, Step::Propose)]);
    assert!(votes(&out).is_empty());
}

#[test]
fn timeouts_saturate() {
    let fx = Fixture::new(4);
    let config = ConsensusConfig {
        timeout_propose_ms: u64::MAX - 1,
        timeout_prevote_ms: 1,
        timeout_precommit_ms: 1,
        timeout_delta_ms: u64::MAX,
    };
    let mut core = keepsake_consensus::Consensus::new(CHAIN.into(), fx.vs.clone(), Some(fx.pk(0)), config);
    core.handle(Input::StartHeight { height: H });
    let out = core.handle(timeout(H, 0, Step::Precommit));
    assert!(out.iter().any(|o| matches!(o, Output::ScheduleTimeout { duration_ms: u64::MAX, .. })));
}

#[test]
fn l36_polka_seen_in_step_propose_locks_once_we_prevote() {
    // Round 1's proposal carries pol_round 0 without a polka in round 0, so
    // neither L22 nor L28 applies; a polka for it in round 1 must still make
    // us lock and precommit it as soon as we prevote (on timeoutPropose).
    let fx = Fixture::new(4);
    let i = 0;
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    feed(&mut core, [Input::StartHeight { height: H }, timeout(H, 0, Step::Precommit)]);
    assert_eq!(core.round(), 1);
    let out = feed(
        &mut core,
        [fx.proposal(H, 1, Some(0), &b), verdict(H, 1, &b, true)]
            .into_iter()
            .chain((1..4).map(|j| fx.prevote(j, H, 1, v))),
    );
    assert!(votes(&out).is_empty(), "{out:?}");
    assert_eq!(core.step(), Step::Propose);
    let out = core.handle(timeout(H, 1, Step::Propose));
    assert_eq!(
        votes(&out),
        vec![vote_data(H, 1, VoteKind::Prevote, None), vote_data(H, 1, VoteKind::Precommit, v)]
    );
    assert_eq!(core.locked(), Some((1, b.header.hash())));
    assert_eq!(core.valid(), Some((1, b.header.hash())));
}

#[test]
fn an_equivocators_second_vote_still_counts_for_its_value() {
    // As in the paper, every received message counts: the Byzantine
    // validator 2 showed us nil first, but its prevote for v (relayed by
    // others) completes the polka the rest of the network saw.
    let fx = Fixture::new(4);
    let i = 3;
    let mut core = fx.core(i);
    let b = fx.block(H, 1);
    let v = Some(b.header.hash());
    let out = feed(
        &mut core,
        [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)],
    );
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, v)]);
    let out = feed(&mut core, [fx.prevote(2, H, 0, None), fx.prevote(0, H, 0, v), fx.prevote(1, H, 0, v)]);
    assert!(votes(&out).is_empty(), "2 for v (ours not back yet), 1 for nil");
    let out = core.handle(fx.prevote(2, H, 0, v));
    assert!(matches!(&out[0], Output::Equivocation(_)), "{out:?}");
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Precommit, v)]);
    // The same holds for precommits, and the commit carries the matching signature.
    let out =
        feed(&mut core, [fx.precommit(2, H, 0, None), fx.precommit(0, H, 0, v), fx.precommit(1, H, 0, v)]);
    assert!(!out.iter().any(|o| matches!(o, Output::Decide { .. })));
    let out = core.handle(fx.precommit(2, H, 0, v));
    let commit = out
        .iter()
        .find_map(|o| match o {
            Output::Decide { commit, .. } => Some(commit.clone()),
            _ => None,
        })
        .expect("decides");
    assert_eq!(commit.verify(&b.header, &fx.vs).expect("commit verifies"), 3);
}

/// PBTS at L22: a fresh proposal the driver found untimely gets a nil prevote,
/// even when it is valid; the same proposal without the mark gets a prevote for it.
#[test]
fn l22_an_untimely_fresh_proposal_gets_a_nil_prevote() {
    let fx = Fixture::new(4);
    let i = fx.non_proposer(H, 0);
    let b = fx.block(H, 1);
    let untimely = Input::ProposalUntimely { height: H, round: 0, block_hash: b.header.hash() };
    let mut core = fx.core(i);
    let out = feed(
        &mut core,
        [Input::StartHeight { height: H }, untimely, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)],
    );
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, None)]);
    let mut timely = fx.core(i);
    let out = feed(
        &mut timely,
        [Input::StartHeight { height: H }, fx.proposal(H, 0, None, &b), verdict(H, 0, &b, true)],
    );
    assert_eq!(votes(&out), vec![vote_data(H, 0, VoteKind::Prevote, Some(b.header.hash()))]);
}

/// PBTS leaves L28 alone: a re-proposal backed by a polka is prevoted even if
/// the driver marked the block untimely (2f+1 validators found it timely).
/// The mark arrives before the height starts, so it is buffered like a message.
#[test]
fn l28_a_polka_backed_reproposal_is_prevoted_even_if_untimely() {
    let fx = Fixture::new(4);
    let i = 0;
    let w_block = fx.block(H, 2);
    let w = Some(w_block.header.hash());
    let mut core = fx.core(i);
    let untimely = Input::ProposalUntimely { height: H, round: 1, block_hash: w_block.header.hash() };
    feed(&mut core, [untimely, Input::StartHeight { height: H }, timeout(H, 0, Step::Propose)]);
    feed(&mut core, [timeout(H, 0, Step::Prevote), timeout(H, 0, Step::Precommit)]);
    assert_eq!(core.round(), 1);
    let out = feed(
        &mut core,
        [
            fx.proposal(H, 1, Some(0), &w_block),
            verdict(H, 1, &w_block, true),
            fx.prevote(1, H, 0, w),
            fx.prevote(2, H, 0, w),
            fx.prevote(3, H, 0, w),
        ],
    );
    assert_eq!(votes(&out), vec![vote_data(H, 1, VoteKind::Prevote, w)]);
}
