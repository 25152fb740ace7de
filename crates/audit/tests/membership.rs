//! The auditor and the monitor on chains whose validator set changes by
//! governance: every block committed by the set governing its height (a
//! change committed at `h` governs from `h + 2`), with real keys, real
//! signatures and the ledger's own execution.
//!
//! [`MemberChain`] is a minimal stand-in for the ledger test kit's
//! `TestChain`, which signs every commit with the genesis validators: here
//! the proposer and the commit come from the set in force at each height.

use std::collections::BTreeMap;

use keepsake_audit::{Alert, AnomalyKind, Auditor, Flow, MembershipEvent, Monitor, Observed, Report};
use keepsake_ledger::membership::validator_set_at;
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::{TestNet, key};
use keepsake_ledger::{Tip, build_block};
use keepsake_types::{
    Block, Checkpoint, Commit, CommitSignature, HexBytes, Keypair, LogEntryProof, LogLeafRef, PublicKey,
    SetTransition, SignedTx, TxBody, Validator, ValidatorChange, ValidatorSet, VoteData, VoteKind, merkle,
};

/// A chain grown in memory whose blocks are proposed and committed by the
/// validator set governing their height.
struct MemberChain {
    net: TestNet,
    /// Every validator key the chain may need (genesis ones and newcomers).
    keys: BTreeMap<PublicKey, Keypair>,
    state: MemoryState,
    tip: Tip,
    blocks: Vec<(Block, Commit)>,
    nonce: u64,
}

impl MemberChain {
    fn new(validators: usize) -> Self {
        let net = TestNet::new(validators);
        let keys = net.validators.iter().map(|k| (k.public(), k.clone())).collect();
        let tip = Tip::genesis(&net.genesis);
        MemberChain { net, keys, state: MemoryState::new(), tip, blocks: Vec::new(), nonce: 1000 }
    }

    fn chain(&self) -> &str {
        self.net.chain()
    }

    /// The set governing `height`, as the replayed state says.
    fn set_at(&self, height: u64) -> ValidatorSet {
        validator_set_at(&self.state, &self.net.genesis, height).unwrap()
    }

    /// A commit of `header` signed by `signers`.
    fn commit_by(&self, header: &keepsake_types::Header, signers: &[&Keypair]) -> Commit {
        let data = VoteData {
            height: header.height,
            round: 0,
            kind: VoteKind::Precommit,
            block_hash: Some(header.hash()),
        };
        let signatures = signers
            .iter()
            .map(|k| {
                let vote = data.clone().sign(self.chain(), k);
                CommitSignature { validator: vote.validator, signature: vote.signature }
            })
            .collect();
        Commit { height: header.height, round: 0, block_hash: header.hash(), signatures }
    }

    /// The keys of `set`, in its order.
    fn keys_of(&self, set: &ValidatorSet) -> Vec<&Keypair> {
        set.validators.iter().map(|v| &self.keys[&v.public_key]).collect()
    }

    /// Builds the next block from `txs` (proposed by the set in force there),
    /// commits it with every validator of that set, and applies it.
    fn push(&mut self, txs: Vec<SignedTx>) {
        let height = self.tip.height + 1;
        let set = self.set_at(height);
        let proposer = set.validators[(height as usize) % set.validators.len()].public_key;
        let built =
            build_block(&self.state, &self.net.genesis, &self.tip, proposer, self.tip.time_ms + 1000, txs)
                .unwrap();
        assert!(built.left_out.is_empty(), "left out: {:?}", built.left_out);
        self.state.commit(&built.executed).unwrap();
        let commit = self.commit_by(&built.block.header, &self.keys_of(&set));
        self.tip = Tip::from_header(&built.block.header);
        self.blocks.push((built.block, commit));
    }

    /// A governance body signed by two governors and `extra` (a new key).
    fn governed(&mut self, body: impl FnOnce(u64) -> TxBody, extra: &[&Keypair]) -> SignedTx {
        self.nonce += 1;
        let mut signers: Vec<&Keypair> = self.net.governors.iter().take(2).collect();
        signers.extend_from_slice(extra);
        body(self.nonce).sign(self.chain(), &signers)
    }

    fn change(&mut self, change: ValidatorChange, extra: &[&Keypair]) -> SignedTx {
        for k in extra {
            self.keys.insert(k.public(), (*k).clone());
        }
        self.governed(|nonce| TxBody::ChangeValidators { change, nonce }, extra)
    }

    /// The proof of the validator-set change committed at `height` (its
    /// first transaction when the block has none): its log entry against the
    /// checkpoint of its own block.
    fn transition(&self, height: u64) -> SetTransition {
        let (block, commit) = &self.blocks[(height - 1) as usize];
        let position =
            block.txs.iter().position(|tx| matches!(tx.body, TxBody::ChangeValidators { .. })).unwrap_or(0);
        let leaf_index = block.header.log_size - block.txs.len() as u64 + position as u64;
        let tx = &block.txs[position];
        let leaf = LogLeafRef { height, time_ms: block.header.time_ms, tx }.encode();
        let proof = merkle::inclusion_proof(&self.state, leaf_index, block.header.log_size).unwrap();
        SetTransition {
            change: LogEntryProof { leaf_index, leaf: HexBytes(leaf), proof },
            checkpoint: Checkpoint { header: block.header.clone(), commit: commit.clone() },
        }
    }

    fn checkpoint(&self, height: u64) -> Checkpoint {
        let (block, commit) = &self.blocks[(height - 1) as usize];
        Checkpoint { header: block.header.clone(), commit: commit.clone() }
    }
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

fn first_anomaly(r: &Report) -> (AnomalyKind, Option<u64>, Option<String>, String) {
    assert!(!r.passed, "expected a failing audit:\n{r}");
    let a = &r.anomalies[0];
    (a.kind, a.height, a.cause.clone(), a.message.clone())
}

fn archive() -> Keypair {
    key(150)
}

fn newcomer(k: &Keypair, name: &str) -> Validator {
    Validator { public_key: k.public(), power: 1, name: name.into() }
}

/// 1: setup; 2: add "Archive" (in force from 4); 3: empty; 4: an observer
/// registered; 5: remove org-3 (from 7); 6, 7: empty; 8: rotate org-1's key
/// (from 10); 9: new governance; 10: the observer removed, org-0's power
/// raised to 2 (from 12); 11, 12: empty.
fn changing_chain() -> MemberChain {
    let mut c = MemberChain::new(4);
    let setup = c.net.setup_txs();
    c.push(setup);
    let archive = archive();
    let add = c.change(ValidatorChange::Add { validator: newcomer(&archive, "Archive") }, &[&archive]);
    c.push(vec![add]);
    c.push(vec![]);
    let observer = key(160).public();
    let register =
        c.governed(|nonce| TxBody::RegisterObserver { observer, name: "Notary".into(), nonce }, &[]);
    c.push(vec![register]);
    let org3 = c.net.validators[3].public();
    let remove = c.change(ValidatorChange::Remove { public_key: org3 }, &[]);
    c.push(vec![remove]);
    c.push(vec![]);
    c.push(vec![]);
    let rotated = key(151);
    let org1 = c.net.validators[1].public();
    let rotate =
        c.change(ValidatorChange::RotateKey { old_key: org1, new_key: rotated.public() }, &[&rotated]);
    c.push(vec![rotate]);
    let governors: Vec<PublicKey> = c.net.governors.iter().map(Keypair::public).collect();
    let governance = c.governed(|nonce| TxBody::SetGovernance { governors, threshold: 3, nonce }, &[]);
    c.push(vec![governance]);
    // From block 10 on, governance needs all three governors.
    c.nonce += 1;
    let signers: Vec<&Keypair> = c.net.governors.iter().collect();
    let unregister = TxBody::RemoveObserver { observer, nonce: c.nonce }.sign(c.chain(), &signers);
    c.nonce += 1;
    let org0 = c.net.validators[0].public();
    let power = TxBody::ChangeValidators {
        change: ValidatorChange::SetPower { public_key: org0, power: 2 },
        nonce: c.nonce,
    }
    .sign(c.chain(), &signers);
    c.push(vec![unregister, power]);
    c.push(vec![]);
    c.push(vec![]);
    c
}

#[test]
fn a_chain_whose_set_changes_passes_and_its_report_lists_every_change() {
    let c = changing_chain();
    let r = audit(&c.net.genesis, &c.blocks);
    assert!(r.passed, "{r}");
    assert_eq!(r.verified_height, 12);
    // Commit signatures: 4 (blocks 1-3), 5 (4-6), 4 (7-12).
    assert_eq!(r.commit_signatures, 3 * 4 + 3 * 5 + 6 * 4);

    let heights: Vec<(u64, &str)> = r
        .membership
        .iter()
        .map(|e| {
            let kind = match e {
                MembershipEvent::ValidatorSet { .. } => "set",
                MembershipEvent::Governance { .. } => "governance",
                MembershipEvent::ObserverRegistered { .. } => "observer+",
                MembershipEvent::ObserverRemoved { .. } => "observer-",
            };
            (e.height(), kind)
        })
        .collect();
    assert_eq!(
        heights,
        vec![
            (2, "set"),
            (4, "observer+"),
            (5, "set"),
            (8, "set"),
            (9, "governance"),
            (10, "observer-"),
            (10, "set")
        ]
    );
    let sets: Vec<(u64, u64, &str, usize, u64)> = r
        .membership
        .iter()
        .filter_map(|e| match e {
            MembershipEvent::ValidatorSet {
                height,
                in_force_from,
                description,
                validators,
                total_power,
                ..
            } => Some((*height, *in_force_from, description.as_str(), validators.len(), *total_power)),
            _ => None,
        })
        .collect();
    let [add, remove, rotate, power] = sets.as_slice() else { panic!("four set changes: {sets:?}") };
    assert_eq!((add.0, add.1, add.3, add.4), (2, 4, 5, 5));
    assert!(add.2.starts_with("add Archive ("), "{}", add.2);
    assert_eq!((remove.0, remove.1, remove.3), (5, 7, 4));
    assert!(remove.2.starts_with("remove org-3 ("), "{}", remove.2);
    assert_eq!((rotate.0, rotate.1, rotate.3), (8, 10, 4));
    assert!(rotate.2.starts_with("rotate the key of org-1 from "), "{}", rotate.2);
    assert_eq!((power.0, power.1, power.4), (10, 12, 5));
    assert!(
        power.2.starts_with("set the power of org-0 (") && power.2.ends_with("from 1 to 2"),
        "{}",
        power.2
    );
    let MembershipEvent::ObserverRemoved { name, .. } = &r.membership[5] else {
        panic!("{:?}", r.membership[5])
    };
    assert_eq!(name, "Notary", "the removal names the observer");

    // The set in force after block 12 is the last one, from height 12.
    assert_eq!(r.validators_in_force.from_height, 12);
    let names: Vec<&str> =
        r.validators_in_force.validators.validators.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, vec!["org-0", "org-1", "org-2", "Archive"]);
    assert_eq!(r.validators_in_force.validators.validators[1].public_key, key(151).public());

    // Both outputs carry it.
    let human = r.to_string();
    assert!(human.contains("validator set in force from height 12: 4 validators, total power 5"), "{human}");
    assert!(human.contains("membership changes: 7"), "{human}");
    assert!(human.contains("- height 2: validator set: add Archive ("), "{human}");
    assert!(human.contains("in force from height 4: 5 validators"), "{human}");
    assert!(human.contains("- height 4: observer registered: Notary ("), "{human}");
    assert!(human.contains("- height 9: governance: 3 of 3 governors"), "{human}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["membership"][0]["kind"], "validator_set");
    assert_eq!(json["membership"][0]["in_force_from"], 4);
    assert_eq!(json["membership"][0]["validators"][4]["name"], "Archive");
    assert_eq!(json["validators_in_force"]["from_height"], 12);
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_chain_without_changes_reports_the_genesis_set() {
    let mut c = MemberChain::new(4);
    let setup = c.net.setup_txs();
    c.push(setup);
    let r = audit(&c.net.genesis, &c.blocks);
    assert!(r.passed, "{r}");
    assert!(r.membership.is_empty());
    assert_eq!(r.validators_in_force.from_height, 1);
    assert_eq!(r.validators_in_force.validators, c.net.genesis.validator_set());
    assert!(r.to_string().contains("membership changes: none"));
}

/// Blocks 1..=n of `c` with block `height`'s commit replaced by one from `signers`.
fn with_commit(c: &MemberChain, height: u64, signers: &[&Keypair]) -> Vec<(Block, Commit)> {
    let mut blocks = c.blocks.clone();
    let i = (height - 1) as usize;
    blocks[i].1 = c.commit_by(&blocks[i].0.header, signers);
    blocks
}

#[test]
fn a_removed_validator_signs_until_the_removal_takes_effect_and_not_after() {
    // Remove org-3 at 2: it still signs 2 and 3, not 4.
    let mut c = MemberChain::new(4);
    let setup = c.net.setup_txs();
    c.push(setup);
    let org3 = c.net.validators[3].public();
    let remove = c.change(ValidatorChange::Remove { public_key: org3 }, &[]);
    c.push(vec![remove]);
    for _ in 3..=5 {
        c.push(vec![]);
    }
    assert!(audit(&c.net.genesis, &c.blocks).passed);
    let v: Vec<&Keypair> = c.net.validators.iter().collect();
    // Block 3, the last one the old set governs, signed by org-1..org-3 only: fine.
    let r = audit(&c.net.genesis, &with_commit(&c, 3, &v[1..]));
    assert!(r.passed, "{r}");
    // Block 4 signed by the same three, org-3 among them: it is no longer a validator.
    let r = audit(&c.net.genesis, &with_commit(&c, 4, &v[1..]));
    let (kind, height, cause, message) = first_anomaly(&r);
    assert_eq!(
        (kind, height, cause.as_deref()),
        (AnomalyKind::CommitInvalid, Some(4), Some("UnknownValidator"))
    );
    assert!(message.contains("governing height 4 (in force from height 4)"), "{message}");
    assert_eq!((r.verified_height, r.stopped_at), (3, Some(4)));
    // Block 4 signed by org-0..org-2, the new set: fine (3 of 3).
    let r = audit(&c.net.genesis, &with_commit(&c, 4, &v[..3]));
    assert!(r.passed, "{r}");
}

#[test]
fn a_newcomer_signs_from_the_height_its_addition_governs_and_not_before() {
    let mut c = MemberChain::new(4);
    let setup = c.net.setup_txs();
    c.push(setup);
    let archive = archive();
    let add = c.change(ValidatorChange::Add { validator: newcomer(&archive, "Archive") }, &[&archive]);
    c.push(vec![add]);
    c.push(vec![]);
    c.push(vec![]);
    let v: Vec<&Keypair> = c.net.validators.iter().collect();
    let mut three_and_archive: Vec<&Keypair> = v[..3].to_vec();
    three_and_archive.push(&archive);
    // Block 3 (old set) with the newcomer's signature: not yet a validator.
    let r = audit(&c.net.genesis, &with_commit(&c, 3, &three_and_archive));
    assert_eq!(first_anomaly(&r).2.as_deref(), Some("UnknownValidator"));
    assert_eq!(r.stopped_at, Some(3));
    // Block 4: 3 of the old 4 were a quorum, 3 of the new 5 are not.
    let r = audit(&c.net.genesis, &with_commit(&c, 4, &v[..3]));
    let (kind, height, cause, _) = first_anomaly(&r);
    assert_eq!(
        (kind, height, cause.as_deref()),
        (AnomalyKind::CommitInvalid, Some(4), Some("InsufficientPower"))
    );
    // Block 4 with the newcomer making 4 of 5: fine.
    let r = audit(&c.net.genesis, &with_commit(&c, 4, &three_and_archive));
    assert!(r.passed, "{r}");
}

#[test]
fn the_old_set_signing_on_after_a_change_took_effect_is_a_failure() {
    // Rotate org-1's key at 2: from 4 on, the old key is nobody's.
    let mut c = MemberChain::new(4);
    let setup = c.net.setup_txs();
    c.push(setup);
    let rotated = key(151);
    let org1 = c.net.validators[1].public();
    let rotate =
        c.change(ValidatorChange::RotateKey { old_key: org1, new_key: rotated.public() }, &[&rotated]);
    c.push(vec![rotate]);
    c.push(vec![]);
    c.push(vec![]);
    assert!(audit(&c.net.genesis, &c.blocks).passed);
    let old: Vec<&Keypair> = c.net.validators.iter().collect();
    // Block 4 of the chain, signed with the retired key among the others.
    let r = audit(&c.net.genesis, &with_commit(&c, 4, &old));
    assert_eq!(first_anomaly(&r).2.as_deref(), Some("UnknownValidator"));

    // A block 4 that still names the old set, signed by the old set: a
    // history in which the change never took effect.
    let mut blocks = c.blocks.clone();
    blocks[3].0.header.validators_hash = c.net.genesis.validator_set().hash(c.chain());
    blocks[3].1 = c.commit_by(&blocks[3].0.header, &old);
    let r = audit(&c.net.genesis, &blocks);
    let (kind, height, cause, message) = first_anomaly(&r);
    assert_eq!(
        (kind, height, cause.as_deref()),
        (AnomalyKind::CommitInvalid, Some(4), Some("ValidatorSetMismatch"))
    );
    assert!(
        message.contains("signed by the set that governed heights 1 to 3, replaced from height 4"),
        "{message}"
    );
    assert_eq!(r.verified_height, 3);
}

#[test]
fn evidence_is_checked_against_the_set_of_its_height() {
    let mut c = MemberChain::new(4);
    let setup = c.net.setup_txs();
    c.push(setup);
    let org3 = c.net.validators[3].clone();
    let remove = c.change(ValidatorChange::Remove { public_key: org3.public() }, &[]);
    c.push(vec![remove]);
    c.push(vec![]);
    c.push(vec![]);
    let double = |height: u64| {
        let vote = |b: u8| {
            VoteData {
                height,
                round: 0,
                kind: VoteKind::Prevote,
                block_hash: Some(keepsake_types::BlockHash([b; 32])),
            }
            .sign(c.chain(), &org3)
        };
        keepsake_types::DoubleVote { first: vote(1), second: vote(2) }
    };
    let mut a = Auditor::new(c.net.genesis.clone());
    for (b, cm) in &c.blocks {
        a.feed(b, cm);
    }
    // At height 3 org-3 was a validator: real evidence. At 4 it was not.
    a.check_evidence(&double(3));
    a.check_evidence(&double(4));
    let r = a.report();
    assert_eq!(r.anomalies[0].kind, AnomalyKind::Equivocation);
    assert_eq!(
        (r.anomalies[1].kind, r.anomalies[1].cause.as_deref()),
        (AnomalyKind::InvalidEvidence, Some("UnknownValidator"))
    );
}

// ------------------------------------------------------------------ monitor

#[test]
fn the_monitor_refuses_an_unknown_set_until_it_is_proven() {
    let c = changing_chain();
    let mut m = Monitor::new(&c.net.genesis);
    let cp5 = c.checkpoint(5);
    assert!(!m.knows_set_of(&cp5.header), "the monitor knows the genesis set only");
    let alert = m.observe("a", &cp5, None).unwrap_err();
    assert!(
        matches!(&alert, Alert::BadCheckpoint { height: 5, cause, .. } if cause == "ValidatorSetMismatch"),
        "{alert}"
    );
    // The proof of the change at 2, checked from the genesis alone.
    assert_eq!(m.learn("a", &[c.transition(2)]), Ok(1));
    assert!(m.knows_set_of(&cp5.header));
    assert_eq!(m.observe("a", &cp5, None), Ok(Observed::Advanced));
    // Learning the same again, or less, adds nothing and is fine.
    assert_eq!(m.learn("b", &[c.transition(2)]), Ok(0));
    assert_eq!(m.learn("b", &[]), Ok(0));
    // The later changes: heights 5, 8 and 10.
    let all = [c.transition(2), c.transition(5), c.transition(8), c.transition(10)];
    assert_eq!(m.learn("a", &all), Ok(3));
    let cp12 = c.checkpoint(12);
    let proof = merkle::consistency_proof(&c.state, cp5.header.log_size, cp12.header.log_size).unwrap();
    assert_eq!(m.observe("a", &cp12, Some(&proof)), Ok(Observed::Advanced));
    assert_eq!(m.schedule().latest().from_height, 12);
}

#[test]
fn a_node_that_lies_about_set_changes_is_reported_not_believed() {
    let c = changing_chain();
    let genuine = c.transition(2);
    let learn = |t: SetTransition| {
        let mut m = Monitor::new(&c.net.genesis);
        let alert = m.learn("liar", &[t]).unwrap_err();
        assert_eq!(m.schedule().sets().len(), 1, "nothing learnt from a lie");
        alert
    };
    let cause = |alert: &Alert| match alert {
        Alert::BadTransition { source, cause, .. } => {
            assert_eq!(source, "liar");
            cause.clone()
        }
        other => panic!("expected a bad transition, got {other}"),
    };
    // A leaf byte changed (the inclusion proof no longer leads to the root).
    let mut t = genuine.clone();
    let last = t.change.leaf.0.len() - 1;
    t.change.leaf.0[last] ^= 1;
    assert_eq!(cause(&learn(t)), "InvalidTransition");
    // A checkpoint with too few signatures of the set before the change.
    let mut t = genuine.clone();
    t.checkpoint.commit.signatures.truncate(2);
    assert_eq!(cause(&learn(t)), "InvalidTransition");
    // Another transaction presented as the change (block 1's issuer registration).
    let alert = learn(c.transition(1));
    assert_eq!(cause(&alert), "InvalidTransition", "{alert}");
    assert!(alert.to_string().contains("not a validator-set change"), "{alert}");
    // A change forged by a colluding set, signed by keys not in any set.
    let mut t = genuine.clone();
    let strangers: Vec<Keypair> = (200..204).map(key).collect();
    let strangers: Vec<&Keypair> = strangers.iter().collect();
    t.checkpoint.commit = c.commit_by(&t.checkpoint.header, &strangers);
    assert_eq!(cause(&learn(t)), "InvalidTransition");

    // Two genuine-looking histories from the genesis: another chain where the
    // same validators added someone else at height 2. Both are quorum-signed:
    // the second contradicts the first.
    let mut other = MemberChain::new(4);
    let setup = other.net.setup_txs();
    other.push(setup);
    let stranger = key(170);
    let add = other.change(ValidatorChange::Add { validator: newcomer(&stranger, "Stranger") }, &[&stranger]);
    other.push(vec![add]);
    let mut m = Monitor::new(&c.net.genesis);
    m.learn("honest", &[genuine]).unwrap();
    let alert = m.learn("liar", &[other.transition(2)]).unwrap_err();
    assert_eq!(cause(&alert), "ConflictingSets", "{alert}");
    assert!(alert.to_string().starts_with("BAD TRANSITION from liar (ConflictingSets)"), "{alert}");
}

#[test]
fn a_header_of_the_old_set_seen_before_the_change_was_known_is_reported_once_it_is() {
    let c = changing_chain();
    // Block 5 of a history where the genesis set signed on after the
    // addition took effect at 4.
    let mut stale = c.checkpoint(5);
    stale.header.validators_hash = c.net.genesis.validator_set().hash(c.chain());
    let old: Vec<&Keypair> = c.net.validators.iter().collect();
    stale.commit = c.commit_by(&stale.header, &old);
    let mut m = Monitor::new(&c.net.genesis);
    // Without the proof of the change, the monitor cannot tell.
    assert_eq!(m.observe("stale", &stale, None), Ok(Observed::Advanced));
    let alert = m.learn("honest", &[c.transition(2)]).unwrap_err();
    let Alert::BadCheckpoint { source, height, cause, message } = &alert else { panic!("{alert}") };
    assert_eq!((source.as_str(), *height, cause.as_str()), ("stale", 5, "ValidatorSetMismatch"));
    assert!(message.contains("the replaced set signed on after the change took effect"), "{message}");
}

#[test]
fn the_monitor_adopts_the_sets_of_the_auditors_replay() {
    let c = changing_chain();
    let mut a = Auditor::new(c.net.genesis.clone());
    let mut m = Monitor::new(&c.net.genesis);
    for (b, cm) in &c.blocks {
        assert_eq!(a.feed(b, cm), Flow::Continue);
        if a.schedule().sets().len() != m.schedule().sets().len() {
            m.adopt("primary", a.schedule()).unwrap();
        }
        m.record_replayed("primary", &Checkpoint { header: b.header.clone(), commit: cm.clone() }).unwrap();
    }
    assert_eq!(m.schedule(), a.schedule());
    assert_eq!(m.schedule().sets().len(), 5);
    // Another node's checkpoint of the same chain is then verified directly.
    assert!(m.knows_set_of(&c.checkpoint(12).header));
    assert_eq!(m.observe("secondary", &c.checkpoint(12), None), Ok(Observed::Advanced));
}
