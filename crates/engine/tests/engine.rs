//! The engine alone, over an in-memory chain: the ordering rules of its
//! effects, the WAL replay after a crash, block sync refusing lying answers,
//! and the timeliness window. (The simulator runs the same engine under every
//! fault; these tests pin single behaviours.)

use std::sync::Arc;

use keepsake_consensus::{ConsensusConfig, SignedStep, WalEntry};
use keepsake_engine::{
    ChainStore, ClockBounds, Effect, Engine, EngineConfig, Event, LedgerRules, MemoryChain, VerifiedSet,
};
use keepsake_ledger::testkit::TestNet;
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{Keypair, encoding};

fn config() -> EngineConfig {
    EngineConfig {
        consensus: ConsensusConfig::default(),
        empty_block_wait_ms: 0,
        batch_wait_ms: 0,
        tick_ms: 100,
        sync_probe_ms: 2_000,
        sync_retry_ms: 0,
        sync_batch_blocks: 16,
        clock: ClockBounds { precision_ms: 500, message_delay_ms: 3_000 },
    }
}

fn engine(net: &TestNet, key: &Keypair, last_signed: Option<SignedStep>) -> Engine<LedgerRules> {
    let genesis = Arc::new(net.genesis.clone());
    Engine::new(config(), genesis, key.clone(), LedgerRules, Arc::new(VerifiedSet::new(64)), last_signed)
}

/// A one-validator chain: every `BuildDue` decides a block in the same call.
struct Solo {
    net: TestNet,
    engine: Engine<LedgerRules>,
    chain: MemoryChain,
    now: u64,
    wal: Vec<(u64, WalEntry)>,
    sign_state: Option<SignedStep>,
}

impl Solo {
    fn new() -> Self {
        Self::on(TestNet::new(1))
    }

    /// The one validator of `net`.
    fn on(net: TestNet) -> Self {
        let mut engine = engine(&net, &net.validators[0], None);
        let mut chain = MemoryChain::new(&net.genesis);
        let effects = engine.start(&mut chain, Vec::new()).unwrap();
        let now = net.genesis.genesis_time_ms + 1_000;
        let mut solo = Solo { net, engine, chain, now, wal: Vec::new(), sign_state: None };
        solo.keep(&effects);
        solo
    }

    /// What a host keeps on disk from `effects`.
    fn keep(&mut self, effects: &[Effect]) {
        for e in effects {
            match e {
                Effect::AppendWal { height, entry } => self.wal.push((*height, entry.clone())),
                Effect::ResetWal => self.wal.clear(),
                Effect::PersistSignState(step) => self.sign_state = Some(*step),
                _ => {}
            }
        }
    }

    /// Proposes the next block with `candidates`; returns the call's effects.
    fn block(&mut self, candidates: Vec<keepsake_types::SignedTx>) -> Vec<Effect> {
        self.now += 1_000;
        let (height, round) = (self.engine.height(), self.engine.round());
        let event = Event::BuildDue { height, round, candidates };
        let effects = self.engine.handle(&mut self.chain, self.now, event).unwrap();
        self.keep(&effects);
        effects
    }
}

#[test]
fn a_signature_is_published_only_after_the_wal_and_the_sign_state_are_durable() {
    let mut solo = Solo::new();
    let effects = solo.block(solo.net.setup_txs());
    let published: Vec<usize> =
        effects.iter().enumerate().filter(|(_, e)| matches!(e, Effect::Publish(_))).map(|(i, _)| i).collect();
    assert_eq!(published.len(), 3, "proposal, prevote and precommit: {effects:#?}");
    for &i in &published {
        let Effect::Publish(ConsensusEnvelope { message, .. }) = &effects[i] else { unreachable!() };
        let chain = solo.net.chain();
        let step = match message {
            ConsensusMessage::Proposal(p) => SignedStep::for_proposal(chain, &p.data),
            ConsensusMessage::Vote(v) => SignedStep::for_vote(chain, &v.data),
        };
        let persisted =
            effects[..i].iter().rposition(|e| matches!(e, Effect::PersistSignState(s) if *s == step));
        let synced = effects[..i].iter().rposition(|e| matches!(e, Effect::SyncWal));
        let (Some(persisted), Some(synced)) = (persisted, synced) else {
            panic!("publication {i} without a durable WAL and sign-state before it: {effects:#?}");
        };
        assert!(synced < persisted, "the WAL is synced before the sign-state is written");
        // Every input appended before the signature is covered by the sync.
        let last_append = effects[..i].iter().rposition(|e| matches!(e, Effect::AppendWal { .. }));
        assert!(
            last_append.is_none_or(|a| a < synced),
            "an input appended after the last sync fed this signature"
        );
    }
    // The decision follows: the block is in the store, the WAL emptied, subscribers told.
    let committed = effects.iter().position(|e| matches!(e, Effect::Committed { .. })).expect("decided");
    assert!(matches!(effects[committed - 1], Effect::ResetWal));
    assert_eq!(solo.chain.height(), 1);
}

#[test]
fn a_restarted_engine_replays_its_wal_and_signs_only_what_it_signed_before() {
    let mut solo = Solo::new();
    solo.block(solo.net.setup_txs());
    // Height 2: the proposal is signed and published; then the power goes out
    // before the decision (we keep only what the host had made durable).
    solo.now += 1_000;
    let (height, round) = (solo.engine.height(), solo.engine.round());
    let event = Event::BuildDue { height, round, candidates: vec![] };
    let effects = solo.engine.handle(&mut solo.chain, solo.now, event).unwrap();
    let cut = effects.iter().position(|e| matches!(e, Effect::Publish(_))).expect("a proposal") + 1;
    solo.keep(&effects[..cut]);
    let first_publication = effects[cut - 1].clone();
    // The store had not made block 2 durable either: it holds block 1 only.
    let mut store = MemoryChain::new(&solo.net.genesis);
    let first = solo.chain.sync_item(1).unwrap().unwrap();
    let tip = store.tip().unwrap();
    let executed =
        keepsake_ledger::validate_block(store.state(), &solo.net.genesis, &tip, &first.block).unwrap();
    store.commit_block(&first.block, &first.commit, &executed).unwrap();
    let mut restarted = engine(&solo.net, &solo.net.validators[0], solo.sign_state);
    let replayed = restarted.start(&mut store, solo.wal.clone()).unwrap();
    assert!(restarted.marks().wal_replayed > 0);
    // The replay re-publishes the identical proposal (identical bytes: the guard allows
    // it) and goes on to decide height 2.
    let again = replayed.iter().find(|e| matches!(e, Effect::Publish(_))).expect("re-published");
    let (Effect::Publish(a), Effect::Publish(b)) = (&first_publication, again) else { unreachable!() };
    assert_eq!(a, b);
    assert_eq!(restarted.marks().sign_refused, 0);
    assert_eq!(store.height(), 2, "decided after the replay: {replayed:#?}");
    assert_eq!(store.sync_item(2).unwrap(), solo.chain.sync_item(2).unwrap(), "the same block 2");
}

#[test]
fn lying_sync_answers_are_refused_and_the_peer_is_avoided() {
    let mut solo = Solo::new();
    for _ in 0..3 {
        solo.block(vec![]);
    }
    let items: Vec<SyncItem> = (1..=3).map(|h| solo.chain.sync_item(h).unwrap().unwrap()).collect();
    let encode = |items: &[SyncItem]| items.iter().map(encoding::encode).collect::<Vec<_>>();
    // A follower of the same chain (an observer key).
    let observer = Keypair::from_seed([42; 32]);
    let liar = solo.net.validators[0].public();
    let mut follower = engine(&solo.net, &observer, None);
    let mut chain = MemoryChain::new(&solo.net.genesis);
    follower.start(&mut chain, Vec::new()).unwrap();
    let now = solo.now;
    let reported = |effects: &[Effect]| {
        effects.iter().any(|e| matches!(e, Effect::ReportPeer { peer, .. } if *peer == liar))
    };

    // Reordered.
    let reordered = encode(&[items[1].clone(), items[0].clone()]);
    let effects = follower.handle(&mut chain, now, Event::Synced { from: liar, items: reordered }).unwrap();
    assert!(reported(&effects) && chain.height() == 0);
    assert_eq!(follower.marks().sync_refused_out_of_order, 1);
    // A forged commit signature.
    let mut forged = items[0].clone();
    forged.commit.signatures[0].signature.0[9] ^= 1;
    let effects =
        follower.handle(&mut chain, now, Event::Synced { from: liar, items: encode(&[forged]) }).unwrap();
    assert!(reported(&effects) && chain.height() == 0);
    assert_eq!(follower.marks().sync_refused_commit, 1);
    // A body that is not the signed one.
    let mut swapped = items[0].clone();
    swapped.block.txs = solo.net.setup_txs();
    let effects =
        follower.handle(&mut chain, now, Event::Synced { from: liar, items: encode(&[swapped]) }).unwrap();
    assert!(reported(&effects) && chain.height() == 0);
    assert_eq!(follower.marks().sync_refused_body, 1);
    // Garbage.
    let effects =
        follower.handle(&mut chain, now, Event::Synced { from: liar, items: vec![vec![7; 40]] }).unwrap();
    assert!(reported(&effects) && follower.marks().sync_refused_undecodable == 1);
    // The honest answer is applied, block by block, each announced as synced.
    let effects =
        follower.handle(&mut chain, now, Event::Synced { from: liar, items: encode(&items) }).unwrap();
    assert_eq!(chain.height(), 3);
    let synced = effects.iter().filter(|e| matches!(e, Effect::Committed { synced: true, .. })).count();
    assert_eq!(synced, 3);
    assert_eq!(follower.marks().sync_applied, 3);
}

#[test]
fn after_a_refused_answer_the_next_request_avoids_that_peer() {
    let net = TestNet::new(4);
    let liar = net.validators[0].public();
    let observer = Keypair::from_seed([43; 32]);
    let mut follower = engine(&net, &observer, None);
    let mut chain = MemoryChain::new(&net.genesis);
    follower.start(&mut chain, Vec::new()).unwrap();
    let now = net.genesis.genesis_time_ms;
    follower.handle(&mut chain, now, Event::Synced { from: liar, items: vec![vec![1, 2, 3]] }).unwrap();
    let effects = follower.handle(&mut chain, now + 10_000, Event::PeerConnected(liar)).unwrap();
    let request = effects.iter().find_map(|e| match e {
        Effect::RequestBlocks { peer, avoid, .. } => Some((*peer, avoid.clone())),
        _ => None,
    });
    assert_eq!(request, Some((None, vec![liar])), "{effects:#?}");
}

#[test]
fn re_publications_are_dropped_as_duplicates_and_forgeries_never_are() {
    let net = TestNet::new(4);
    let observer = Keypair::from_seed([44; 32]);
    let mut follower = engine(&net, &observer, None);
    let mut chain = MemoryChain::new(&net.genesis);
    follower.start(&mut chain, Vec::new()).unwrap();
    let now = net.genesis.genesis_time_ms;
    let from = net.validators[1].public();
    let vote = keepsake_types::VoteData {
        height: 1,
        round: 0,
        kind: keepsake_types::VoteKind::Prevote,
        block_hash: None,
    }
    .sign(net.chain(), &net.validators[0]);
    let envelope = |resend: u32, vote: keepsake_types::Vote| {
        encoding::encode(&ConsensusEnvelope { resend, message: ConsensusMessage::Vote(vote) })
    };
    let verdict = |effects: Vec<Effect>| match effects.as_slice() {
        [Effect::Verdict(v), ..] => *v,
        other => panic!("no verdict first: {other:#?}"),
    };
    let mut forged = vote.clone();
    forged.signature.0[3] ^= 1;
    // A forged copy first: refused, and not remembered.
    for resend in [0, 1] {
        let bytes = envelope(resend, forged.clone());
        let effects = follower.handle(&mut chain, now, Event::Message { from, bytes }).unwrap();
        assert!(matches!(verdict(effects), keepsake_engine::GossipVerdict::Reject(_)));
    }
    assert_eq!(follower.marks().duplicate_dropped, 0);
    // The genuine vote is fed; its re-publication (another resend count) is dropped.
    let first =
        follower.handle(&mut chain, now, Event::Message { from, bytes: envelope(0, vote.clone()) }).unwrap();
    assert!(first.iter().any(|e| matches!(e, Effect::AppendWal { .. })), "fed to the core: {first:#?}");
    let again = follower.handle(&mut chain, now, Event::Message { from, bytes: envelope(7, vote) }).unwrap();
    assert_eq!(verdict(again.clone()), keepsake_engine::GossipVerdict::Accept);
    assert_eq!(again.len(), 1, "nothing fed: {again:#?}");
    assert_eq!(follower.marks().duplicate_dropped, 1);
}

/// Regression (found by the simulator): a node that starts as an observer and
/// is added to the set must start voting at the height the change governs,
/// while it follows the chain by consensus (no restart, no block sync to give
/// it a fresh core). Its core used to be built without its key when the key
/// was not in the set of its first height, so it never voted, and a chain
/// whose quorum needed it stopped.
#[test]
fn an_observer_added_to_the_set_starts_voting_where_the_change_governs() {
    let mut net = TestNet::new(1);
    // Power 3, so that adding a power-1 validator keeps a quorum without it (T28).
    net.genesis.validators[0].power = 3;
    let mut solo = Solo::on(net);
    let newcomer = Keypair::from_seed([46; 32]);
    let mut observer = engine(&solo.net, &newcomer, None);
    let mut chain = MemoryChain::new(&solo.net.genesis);
    observer.start(&mut chain, Vec::new()).unwrap();
    let validator = solo.net.validators[0].public();
    let add = keepsake_types::TxBody::ChangeValidators {
        change: keepsake_types::ValidatorChange::Add {
            validator: keepsake_types::Validator {
                public_key: newcomer.public(),
                power: 1,
                name: "new".into(),
            },
        },
        nonce: 7,
    };
    let signers: Vec<&Keypair> = solo.net.governors.iter().take(2).chain([&newcomer]).collect();
    let add = add.sign(solo.net.chain(), &signers);
    // Heights 1, 2 (the change), 3 and 4 (the first the new set governs, where
    // the validator is the proposer: round robin over two): the observer gets
    // the validator's messages, as gossip would bring them.
    let mut own_votes = Vec::new();
    for (height, txs) in [(1, vec![]), (2, vec![add]), (3, vec![]), (4, vec![])] {
        let effects = solo.block(txs);
        for e in &effects {
            let Effect::Publish(envelope) = e else { continue };
            let bytes = encoding::encode(envelope);
            let out =
                observer.handle(&mut chain, solo.now, Event::Message { from: validator, bytes }).unwrap();
            for o in out {
                if let Effect::Publish(ConsensusEnvelope { message: ConsensusMessage::Vote(v), .. }) = o {
                    assert_eq!(v.validator, newcomer.public());
                    own_votes.push((v.data.height, v.data.kind));
                }
            }
        }
        assert_eq!(chain.height(), height, "the observer decided height {height} by consensus");
    }
    assert_eq!(observer.marks().sync_applied, 0, "followed by consensus, not by block sync");
    assert!(own_votes.iter().all(|(h, _)| *h == 4), "no vote before the change governs: {own_votes:?}");
    assert!(
        own_votes.contains(&(4, keepsake_types::VoteKind::Prevote))
            && own_votes.contains(&(4, keepsake_types::VoteKind::Precommit)),
        "the added validator votes from height 4 on: {own_votes:?}"
    );
}
