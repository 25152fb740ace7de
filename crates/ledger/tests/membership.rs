//! The membership rules (docs/rules.md T25-T32, and T6-T9 for the new
//! governance bodies), each proven at admission, by block building and by
//! block validation of a hand-built block, plus when a change takes effect
//! (B5, B10 against the set governing each height).

use keepsake_ledger::membership::{governance, validator_set_at};
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::rules::check;
use keepsake_ledger::testkit::{TestNet, key};
use keepsake_ledger::{LedgerError, StateView, Tip, block::build_block, block::validate_block};
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{Block, Keypair, PublicKey, SignedTx, TxBody, Validator, ValidatorChange};

/// A chain of `n` validators of power 1 over the in-memory state.
struct Chain {
    net: TestNet,
    state: MemoryState,
    tip: Tip,
    nonce: u64,
}

impl Chain {
    fn new(n: usize) -> Self {
        let net = TestNet::new(n);
        let tip = Tip::genesis(&net.genesis);
        Chain { net, state: MemoryState::new(), tip, nonce: 100 }
    }

    fn next_nonce(&mut self) -> u64 {
        self.nonce += 1;
        self.nonce
    }

    /// A proposer of the set governing the next height.
    fn proposer(&self) -> PublicKey {
        let set = validator_set_at(&self.state, &self.net.genesis, self.tip.height + 1).unwrap();
        set.validators[0].public_key
    }

    fn build(&self, txs: Vec<SignedTx>) -> keepsake_ledger::Built {
        build_block(&self.state, &self.net.genesis, &self.tip, self.proposer(), self.tip.time_ms + 1000, txs)
            .unwrap()
    }

    /// Builds, validates and commits a block; returns the rejections of left-out txs.
    fn commit(&mut self, txs: Vec<SignedTx>) -> Vec<LedgerError> {
        let built = self.build(txs);
        let executed = validate_block(&self.state, &self.net.genesis, &self.tip, &built.block).unwrap();
        self.state.commit(&executed).unwrap();
        self.tip = Tip::from_header(&built.block.header);
        built.left_out.into_iter().map(|(_, e)| e).collect()
    }

    fn commit_all(&mut self, txs: Vec<SignedTx>) {
        let rejected = self.commit(txs);
        assert!(rejected.is_empty(), "unexpected rejections: {rejected:?}");
    }

    /// `tx` is refused with `expected` at admission, left out by block
    /// building, and makes a hand-built block carrying it invalid.
    fn reject(&mut self, tx: SignedTx, expected: &LedgerError) {
        let admission =
            check(&self.state, &self.net.genesis, &tx, self.tip.height + 1, self.tip.time_ms + 1000)
                .unwrap_err();
        assert_eq!(&admission, expected, "admission");
        let mut block: Block = self.build(vec![]).block;
        block.txs.push(tx.clone());
        block.header.tx_count = 1;
        block.header.tx_root = keepsake_ledger::block::tx_root(&[tx.id(self.net.chain())]);
        match validate_block(&self.state, &self.net.genesis, &self.tip, &block).unwrap_err() {
            LedgerError::InvalidTransaction { source, .. } => {
                assert_eq!(&*source, expected, "block validation")
            }
            other => panic!("block validation: expected InvalidTransaction, got {other:?}"),
        }
        assert_eq!(self.commit(vec![tx]), vec![expected.clone()], "block building");
    }

    /// A governance body signed by the first two governors and `extra`.
    fn governed(&mut self, body: TxBody, extra: &[&Keypair]) -> SignedTx {
        let mut signers: Vec<&Keypair> = self.net.governors.iter().take(2).collect();
        signers.extend_from_slice(extra);
        body.sign(self.net.chain(), &signers)
    }

    fn change(&mut self, change: ValidatorChange, extra: &[&Keypair]) -> SignedTx {
        let nonce = self.next_nonce();
        self.governed(TxBody::ChangeValidators { change, nonce }, extra)
    }

    /// Commits empty blocks until no change is pending.
    fn settle(&mut self) {
        while self.state.validator_sets().unwrap().last().is_some_and(|s| s.from_height > self.tip.height + 1)
        {
            self.commit_all(vec![]);
        }
    }
}

fn validator(k: &Keypair, power: u64) -> Validator {
    Validator { public_key: k.public(), power, name: "newcomer".into() }
}

#[test]
fn a_change_takes_effect_two_blocks_later_and_headers_follow_the_set_in_force() {
    let mut c = Chain::new(4);
    let newcomer = key(150);
    let genesis_hash = c.net.genesis.validator_set().hash(c.net.chain());
    let tx = c.change(ValidatorChange::Add { validator: validator(&newcomer, 1) }, &[&newcomer]);
    c.commit_all(vec![tx]);
    let change_height = c.tip.height;
    let next = c.build(vec![]).block;
    assert_eq!(
        next.header.validators_hash, genesis_hash,
        "the block after the change is still the old set's"
    );
    c.commit_all(vec![]);
    let effective = c.build(vec![]).block;
    assert_eq!(effective.header.height, change_height + SET_CHANGE_DELAY);
    let new_set = validator_set_at(&c.state, &c.net.genesis, effective.header.height).unwrap();
    assert_eq!(new_set.validators.len(), 5);
    assert_eq!(effective.header.validators_hash, new_set.hash(c.net.chain()));
    // B10: the old set's hash is refused from that height on.
    let mut stale = effective.clone();
    stale.header.validators_hash = genesis_hash;
    assert_eq!(
        validate_block(&c.state, &c.net.genesis, &c.tip, &stale).unwrap_err().code(),
        "ValidatorSetMismatch"
    );
    // B5: the newcomer may propose from that height on.
    let by_newcomer =
        build_block(&c.state, &c.net.genesis, &c.tip, newcomer.public(), c.tip.time_ms + 1000, vec![])
            .unwrap()
            .block;
    validate_block(&c.state, &c.net.genesis, &c.tip, &by_newcomer).unwrap();
}

#[test]
fn b5_a_removed_validator_may_not_propose_once_the_removal_is_in_force_and_a_newcomer_not_before() {
    let mut c = Chain::new(4);
    let leaving = c.net.validators[3].clone();
    let newcomer = key(151);
    let tx = c.change(ValidatorChange::Remove { public_key: leaving.public() }, &[]);
    c.commit_all(vec![tx]);
    // The next height is still governed by the old set: the newcomer (not yet
    // added) may not propose, the leaving validator still may.
    let early = |c: &Chain, who: &Keypair| {
        let block = build_block(&c.state, &c.net.genesis, &c.tip, who.public(), c.tip.time_ms + 1000, vec![])
            .unwrap()
            .block;
        validate_block(&c.state, &c.net.genesis, &c.tip, &block).map(|_| ())
    };
    early(&c, &leaving).unwrap();
    assert_eq!(
        early(&c, &newcomer).unwrap_err(),
        LedgerError::UnknownProposer { proposer: newcomer.public() }
    );
    c.commit_all(vec![]);
    assert_eq!(early(&c, &leaving).unwrap_err(), LedgerError::UnknownProposer { proposer: leaving.public() });
    // A removed validator keeps following as an observer.
    let observer = c.state.observer(&leaving.public()).unwrap().unwrap();
    assert!(observer.active && observer.former_validator);
}

#[test]
fn each_validator_change_does_what_it_says() {
    let mut c = Chain::new(4);
    let v = c.net.validators.clone();
    let rotated = key(152);
    let steps: Vec<(ValidatorChange, Vec<&Keypair>)> = vec![
        (ValidatorChange::SetPower { public_key: v[0].public(), power: 2 }, vec![]),
        (ValidatorChange::RotateKey { old_key: v[1].public(), new_key: rotated.public() }, vec![&rotated]),
        (ValidatorChange::Remove { public_key: v[2].public() }, vec![]),
    ];
    for (change, extra) in steps {
        let tx = c.change(change, &extra);
        c.commit_all(vec![tx]);
        c.settle();
    }
    let set = validator_set_at(&c.state, &c.net.genesis, c.tip.height + 1).unwrap();
    let keys: Vec<PublicKey> = set.validators.iter().map(|v| v.public_key).collect();
    assert_eq!(keys, vec![v[0].public(), rotated.public(), v[3].public()]);
    assert_eq!(set.get(&v[0].public()).unwrap().power, 2);
    assert_eq!(set.validators[1].name, "org-1", "a rotation keeps the name and place");
    // A rotated key is not an observer: the old key may be lost or stolen.
    assert!(c.state.observer(&v[1].public()).unwrap().is_none());
}

#[test]
fn t6_t7_t8_a_validator_change_needs_k_governors_and_the_new_key() {
    let mut c = Chain::new(4);
    let newcomer = key(153);
    let nonce = c.next_nonce();
    let body = TxBody::ChangeValidators {
        change: ValidatorChange::Add { validator: validator(&newcomer, 1) },
        nonce,
    };
    // One governor only (plus the new key).
    let one = body.clone().sign(c.net.chain(), &[&c.net.governors[0], &newcomer]);
    c.reject(one, &LedgerError::InsufficientGovernanceSignatures { got: 1, needed: 2 });
    // Without the new key (T8).
    let without = c.governed(body.clone(), &[]);
    c.reject(without, &LedgerError::MissingSignature { required: newcomer.public() });
    // A stranger co-signs (T7).
    let stranger = key(154);
    let with_stranger = c.governed(body.clone(), &[&newcomer, &stranger]);
    c.reject(with_stranger, &LedgerError::UnauthorizedSigner { signer: stranger.public() });
    // A rotation without the new key.
    let new_key = key(155);
    let rotate =
        ValidatorChange::RotateKey { old_key: c.net.validators[0].public(), new_key: new_key.public() };
    let tx = c.change(rotate, &[]);
    c.reject(tx, &LedgerError::MissingSignature { required: new_key.public() });
    // T9: the nonce is single-use.
    let good = c.governed(body.clone(), &[&newcomer]);
    c.commit_all(vec![good]);
    c.settle();
    let again = c.governed(
        TxBody::ChangeValidators { change: ValidatorChange::Remove { public_key: newcomer.public() }, nonce },
        &[],
    );
    c.reject(again, &LedgerError::NonceReused { nonce });
}

#[test]
fn t25_t26_changes_name_validators_that_exist_and_keys_that_do_not() {
    let mut c = Chain::new(4);
    let stranger = key(156);
    let tx = c.change(ValidatorChange::Remove { public_key: stranger.public() }, &[]);
    c.reject(tx, &LedgerError::NotAValidator { key: stranger.public() });
    let tx = c.change(ValidatorChange::SetPower { public_key: stranger.public(), power: 2 }, &[]);
    c.reject(tx, &LedgerError::NotAValidator { key: stranger.public() });
    let existing = c.net.validators[1].clone();
    let tx = c.change(ValidatorChange::Add { validator: validator(&existing, 1) }, &[&existing]);
    c.reject(tx, &LedgerError::AlreadyAValidator { key: existing.public() });
    let tx = c.change(
        ValidatorChange::RotateKey { old_key: c.net.validators[0].public(), new_key: existing.public() },
        &[&existing],
    );
    c.reject(tx, &LedgerError::AlreadyAValidator { key: existing.public() });
}

#[test]
fn t27_changes_are_well_formed() {
    let mut c = Chain::new(4);
    let newcomer = key(157);
    let tx = c.change(ValidatorChange::Add { validator: validator(&newcomer, 0) }, &[&newcomer]);
    c.reject(tx, &LedgerError::InvalidValidatorChange { reason: "a validator needs a power above 0".into() });
    let v0 = c.net.validators[0].public();
    let tx = c.change(ValidatorChange::SetPower { public_key: v0, power: 1 }, &[]);
    let LedgerError::InvalidValidatorChange { .. } = check(&c.state, &c.net.genesis, &tx, 1, 0).unwrap_err()
    else {
        panic!("an unchanged power is refused as InvalidValidatorChange")
    };
    let expected = check(&c.state, &c.net.genesis, &tx, 1, 0).unwrap_err();
    c.reject(tx, &expected);
}

#[test]
fn t28_a_change_may_not_leave_the_chain_unable_to_reach_a_quorum() {
    let mut c = Chain::new(4);
    let newcomer = key(158);
    // Four running validators would hold 4 of 6: not more than two thirds.
    let tx = c.change(ValidatorChange::Add { validator: validator(&newcomer, 2) }, &[&newcomer]);
    let err = check(&c.state, &c.net.genesis, &tx, 1, 0).unwrap_err();
    assert_eq!(err.code(), "ValidatorSetUnsafe", "{err}");
    c.reject(tx, &err);
    // A lone validator can be neither removed nor rotated away.
    let mut one = Chain::new(1);
    let only = one.net.validators[0].clone();
    let tx = one.change(ValidatorChange::Remove { public_key: only.public() }, &[]);
    let err = check(&one.state, &one.net.genesis, &tx, 1, 0).unwrap_err();
    assert_eq!(err.code(), "ValidatorSetUnsafe", "{err}");
    one.reject(tx, &err);
}

#[test]
fn t29_one_change_at_a_time() {
    let mut c = Chain::new(4);
    let (a, b) = (key(159), key(160));
    let first = c.change(ValidatorChange::Add { validator: validator(&a, 1) }, &[&a]);
    let second = c.change(ValidatorChange::Add { validator: validator(&b, 1) }, &[&b]);
    // In the same block: the second is left out.
    let rejected = c.commit(vec![first, second.clone()]);
    let change_height = c.tip.height;
    let pending =
        LedgerError::SetChangePending { change_height, from_height: change_height + SET_CHANGE_DELAY };
    assert_eq!(rejected, vec![pending.clone()]);
    // In the next block, still pending (everywhere).
    c.reject(second.clone(), &pending);
    // Once the first is in force, it goes through.
    c.settle();
    c.commit_all(vec![second]);
    let set = validator_set_at(&c.state, &c.net.genesis, c.tip.height + SET_CHANGE_DELAY).unwrap();
    assert_eq!(set.validators.len(), 6);
}

#[test]
fn t30_governance_changes_hands_and_keeps_a_reachable_threshold() {
    let mut c = Chain::new(1);
    let new_governors: Vec<Keypair> = (0..2).map(|i| key(170 + i)).collect();
    let keys: Vec<PublicKey> = new_governors.iter().map(Keypair::public).collect();
    for (governors, threshold) in [
        (vec![], 1),
        (keys.clone(), 0),
        (keys.clone(), 3),
        (vec![keys[0], keys[0]], 1),
        (vec![keys[0], PublicKey([0; 32])], 1),
    ] {
        let nonce = c.next_nonce();
        let tx = c.governed(TxBody::SetGovernance { governors, threshold, nonce }, &[]);
        let err = check(&c.state, &c.net.genesis, &tx, 1, 0).unwrap_err();
        assert_eq!(err.code(), "InvalidGovernance", "{err}");
        c.reject(tx, &err);
    }
    let nonce = c.next_nonce();
    let tx = c.governed(TxBody::SetGovernance { governors: keys.clone(), threshold: 2, nonce }, &[]);
    c.commit_all(vec![tx]);
    assert_eq!(governance(&c.state, &c.net.genesis).unwrap().governors, keys);
    // The old governors no longer act.
    let nonce = c.next_nonce();
    let old = c.governed(
        TxBody::RegisterObserver { observer: key(180).public(), name: "regulator".into(), nonce },
        &[],
    );
    c.reject(old, &LedgerError::UnauthorizedSigner { signer: c.net.governors[0].public() });
    // The new ones do, with their threshold.
    let nonce = c.next_nonce();
    let body = TxBody::RegisterObserver { observer: key(180).public(), name: "regulator".into(), nonce };
    let one = body.clone().sign(c.net.chain(), &[&new_governors[0]]);
    c.reject(one, &LedgerError::InsufficientGovernanceSignatures { got: 1, needed: 2 });
    let both = body.sign(c.net.chain(), &[&new_governors[0], &new_governors[1]]);
    c.commit_all(vec![both]);
    assert!(c.state.observer(&key(180).public()).unwrap().unwrap().active);
}

#[test]
fn t31_t32_observers_are_registered_once_and_removed_once() {
    let mut c = Chain::new(1);
    let observer = key(181).public();
    let register = |c: &mut Chain| {
        let nonce = c.next_nonce();
        c.governed(TxBody::RegisterObserver { observer, name: "auditor".into(), nonce }, &[])
    };
    let remove = |c: &mut Chain| {
        let nonce = c.next_nonce();
        c.governed(TxBody::RemoveObserver { observer, nonce }, &[])
    };
    let tx = remove(&mut c);
    c.reject(tx, &LedgerError::UnknownObserver { observer });
    let tx = register(&mut c);
    c.commit_all(vec![tx]);
    let tx = register(&mut c);
    c.reject(tx, &LedgerError::ObserverAlreadyRegistered { observer });
    let tx = remove(&mut c);
    c.commit_all(vec![tx]);
    assert!(!c.state.observer(&observer).unwrap().unwrap().active);
    let tx = remove(&mut c);
    c.reject(tx, &LedgerError::UnknownObserver { observer });
    // A removed observer can be admitted again.
    let tx = register(&mut c);
    c.commit_all(vec![tx]);
}

#[test]
fn a_revocation_by_governance_follows_the_governance_in_force() {
    let mut c = Chain::new(1);
    let setup = c.net.setup_txs();
    c.commit_all(setup);
    let series = c.net.create_series(&c.net.issuer, &c.net.reviewer, "s", 5);
    c.commit_all(vec![series]);
    let series_id = c.net.series_id(&c.net.issuer, "s");
    let mint = c.net.mint(&c.net.issuer, series_id, 1, 1);
    c.commit_all(vec![mint]);
    let new_governor = key(190);
    let nonce = c.next_nonce();
    let tx = c
        .governed(TxBody::SetGovernance { governors: vec![new_governor.public()], threshold: 1, nonce }, &[]);
    c.commit_all(vec![tx]);
    let certificate_id = keepsake_types::ids::certificate_id(c.net.chain(), &series_id, 1);
    let body = TxBody::Revoke { certificate_id, reason: "licence withdrawn".into() };
    let old = c.governed(body.clone(), &[]);
    // The old governors are strangers now: the issuer's signature is what is missing.
    c.reject(old, &LedgerError::MissingSignature { required: c.net.issuer.public() });
    c.commit_all(vec![body.sign(c.net.chain(), &[&new_governor])]);
    assert!(c.state.revocation(&certificate_id).unwrap().is_some());
}
