//! The properties checked on every seed, and the [`Violation`] each failure
//! is reported as.
//!
//! | property | checked | violation |
//! |---|---|---|
//! | agreement: no two different blocks decided at one height | every decision and every synced block of an audited validator, against all others | [`Violation::Agreement`] |
//! | validity: no invalid block decided | a decided block passes `validate_block` on the deciding validator's state before it is committed | [`Violation::InvalidBlockDecided`] |
//! | validity: no transfer, ever | every decided block is searched for `TxBody::Transfer` explicitly (independently of the ledger rules) | [`Violation::TransferDecided`] |
//! | a decision is final, by the set in force | every block an audited node commits (decided or synced): its commit verifies (`Commit::verify`: a quorum of distinct signers) against the set governing its height | [`Violation::InvalidCommit`] |
//! | headers name the set in force | every committed header's `validators_hash` is the hash of the set governing its height | [`Violation::WrongValidatorSet`] |
//! | only members vote | every message an audited node signs is signed by a key of the set governing its height (a removed validator stops, an added one starts at the height its change governs) | [`Violation::SignedOutsideSet`] |
//! | no double-sign by an honest validator | every message an audited validator signs, across all its lives, indexed by (height, round, step) | [`Violation::DoubleSign`] |
//! | progress once the network is stable | every audited node (validator or observer) reaches the target height within the liveness budget, and every planned set change is committed | [`Violation::NoProgress`] |
//! | block time bounded by honest clocks | a decided block's time is at most true time + the largest clock offset + the precision | [`Violation::BlockTimeOutOfBounds`] |
//! | the engine never stops on its own | an audited engine returning an error (a fault, or a decided block it finds invalid) | [`Violation::EngineFault`] |
//! | a certificate burns once, and only one minted before | every decided `Synthesize`'s inputs, against the certificates the decided chain minted and burned | [`Violation::BurnedTwice`] |
//! | burned counts are exact on every node | after each commit, every audited node's `SeriesLife::burned` per series (and its burn records) equal the checker's own count of the decided burns up to its height | [`Violation::BurnCountMismatch`] |
//! | nothing is sold after a blind box closes | every decided `Mint` into a box whose `CloseBlindBox` was decided before | [`Violation::MintAfterClose`] |
//!
//! "The set governing a height" is the checker's own: the genesis set, then
//! each `ChangeValidators` of the decided chain applied with
//! [`ValidatorSet::apply`] from two heights after its block, independently
//! of the ledger's state records and of the engine's schedule. Agreement
//! makes it one chain for everybody. Drawn scenarios keep the Byzantine
//! hosts below a third of the power of every set that can be in force
//! ([`crate::Scenario::within_fault_budget`]), which is the assumption under
//! which agreement and progress are judged.
//!
//! Decisions and signatures are recorded where they leave the validator: a
//! block when the engine writes it to the chain store, a signature when its
//! message is published. So a power loss between two effects of one call
//! shows exactly what the rest of the world saw.

use std::collections::BTreeMap;
use std::fmt;

use keepsake_consensus::{SignedStep, Step};
use keepsake_ledger::StateView;
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{
    Block, BlockHash, CertificateId, Commit, Genesis, Hash32, PublicKey, SeriesId, TxBody, ValidatorChange,
    ValidatorSet, ids,
};

use crate::world::MembershipStats;

/// A property that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two audited validators decided different blocks at one height.
    Agreement {
        /// The height.
        height: u64,
        /// The validator that decided first.
        first_node: usize,
        /// Its block.
        first: BlockHash,
        /// The validator that decided differently.
        node: usize,
        /// Its block.
        other: BlockHash,
    },
    /// An audited validator decided (or accepted by sync) a block that breaks
    /// a ledger rule.
    InvalidBlockDecided {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// The ledger's rejection.
        reason: String,
    },
    /// A decided block contains a transfer.
    TransferDecided {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
    },
    /// A block an audited node committed (decided or synced) whose commit
    /// does not verify against the set governing its height.
    InvalidCommit {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// Why it does not verify.
        reason: String,
    },
    /// A committed header does not name the set governing its height.
    WrongValidatorSet {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// The hash of the set in force.
        expected: Hash32,
        /// The header's `validators_hash`.
        got: Hash32,
    },
    /// An audited node signed a message with a key outside the set governing
    /// the message's height.
    SignedOutsideSet {
        /// The node.
        node: usize,
        /// The message's height.
        height: u64,
        /// The key it signed with.
        key: PublicKey,
    },
    /// A change in a decided block that [`ValidatorSet::apply`] refuses.
    RefusedChangeDecided {
        /// The height.
        height: u64,
        /// Why it is refused.
        reason: String,
    },
    /// An audited validator signed two different messages for one
    /// (height, round, step).
    DoubleSign {
        /// The validator.
        node: usize,
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Step.
        step: Step,
        /// Digest of the first message.
        first: Hash32,
        /// Digest of the second.
        second: Hash32,
    },
    /// After the network stabilised, some audited validator did not reach the
    /// target height in time.
    NoProgress {
        /// The height every audited validator had to reach.
        target_height: u64,
        /// The committed height of each validator at the deadline.
        heights: Vec<u64>,
        /// The round each live validator was in.
        rounds: Vec<Option<u32>>,
        /// Planned validator-set changes not committed yet.
        changes_pending: usize,
        /// The validators (host indices) of the set governing the height
        /// after the highest committed one.
        set_in_force: Vec<usize>,
        /// The deadline (simulated ms).
        deadline_ms: u64,
    },
    /// The run exceeded its event budget (a livelock or a message storm).
    EventLimit {
        /// Events processed.
        events: u64,
        /// Simulated time reached.
        at_ms: u64,
    },
    /// An audited validator decided a block stamped later than any honest
    /// clock could have said.
    BlockTimeOutOfBounds {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// The block's time (ms since the epoch).
        block_time_ms: u64,
        /// The latest time an honest clock could show then.
        latest_ms: u64,
    },
    /// An audited validator's engine stopped with an error.
    EngineFault {
        /// The validator.
        node: usize,
        /// The error.
        reason: String,
    },
    /// The ledger failed as a program (`LedgerError::State` / `Invariant`)
    /// rather than rejecting a block: a bug in the ledger or in the engine.
    LedgerFault {
        /// The validator.
        node: usize,
        /// The error.
        reason: String,
    },
    /// A decided synthesis burns a certificate already burned, or never minted.
    BurnedTwice {
        /// The height.
        height: u64,
        /// The certificate.
        certificate: CertificateId,
        /// Why.
        reason: String,
    },
    /// An audited node's burned count of a series (or its burn records)
    /// differs from the decided chain's.
    BurnCountMismatch {
        /// The node.
        node: usize,
        /// Its committed height.
        height: u64,
        /// The series.
        series: SeriesId,
        /// Burns the decided chain made up to that height.
        expected: u32,
        /// What the node's state says.
        got: u32,
    },
    /// A mint into a blind box was decided after the box's close.
    MintAfterClose {
        /// The height.
        height: u64,
        /// The box.
        series: SeriesId,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Agreement { height, first_node, first, node, other } => write!(
                f,
                "AGREEMENT: at height {height} validator {first_node} decided {first} but validator {node} decided {other}"
            ),
            Violation::InvalidBlockDecided { node, height, reason } => {
                write!(f, "VALIDITY: validator {node} decided an invalid block at height {height}: {reason}")
            }
            Violation::TransferDecided { node, height } => {
                write!(
                    f,
                    "VALIDITY: validator {node} decided a block containing a transfer at height {height}"
                )
            }
            Violation::InvalidCommit { node, height, reason } => {
                write!(
                    f,
                    "COMMIT: validator {node} committed height {height} with a commit that does not verify against the set in force: {reason}"
                )
            }
            Violation::DoubleSign { node, height, round, step, first, second } => write!(
                f,
                "DOUBLE-SIGN: honest validator {node} signed two different {step:?} messages at height {height} round {round} ({first} then {second})"
            ),
            Violation::NoProgress {
                target_height,
                heights,
                rounds,
                changes_pending,
                set_in_force,
                deadline_ms,
            } => {
                write!(
                    f,
                    "PROGRESS: by {deadline_ms} ms not every honest node reached height {target_height} \
                     (and {changes_pending} planned set changes not committed): committed heights {heights:?}, \
                     rounds {rounds:?}, set in force after the highest committed height: hosts {set_in_force:?}"
                )
            }
            Violation::WrongValidatorSet { node, height, expected, got } => write!(
                f,
                "VALIDATOR SET: node {node} committed height {height} whose header names set {got}, not the set in force {expected}"
            ),
            Violation::SignedOutsideSet { node, height, key } => write!(
                f,
                "MEMBERSHIP: honest node {node} signed a message of height {height} with {key}, not in the set governing that height"
            ),
            Violation::RefusedChangeDecided { height, reason } => write!(
                f,
                "VALIDITY: height {height} was decided with a validator-set change the set refuses: {reason}"
            ),
            Violation::EventLimit { events, at_ms } => {
                write!(f, "EVENT LIMIT: {events} events processed by {at_ms} ms")
            }
            Violation::BlockTimeOutOfBounds { node, height, block_time_ms, latest_ms } => write!(
                f,
                "BLOCK TIME: validator {node} decided height {height} stamped {block_time_ms}, later than any honest clock ({latest_ms})"
            ),
            Violation::EngineFault { node, reason } => {
                write!(f, "ENGINE FAULT at validator {node}: {reason}")
            }
            Violation::LedgerFault { node, reason } => {
                write!(f, "LEDGER FAULT at validator {node}: {reason}")
            }
            Violation::BurnedTwice { height, certificate, reason } => {
                write!(
                    f,
                    "BURN: height {height} was decided with a synthesis burning {certificate}: {reason}"
                )
            }
            Violation::BurnCountMismatch { node, height, series, expected, got } => write!(
                f,
                "BURN COUNT: node {node} at height {height} says series {series} has {got} burned, the decided \
                 chain burned {expected}"
            ),
            Violation::MintAfterClose { height, series } => {
                write!(f, "BLIND BOX: height {height} was decided with a mint into closed box {series}")
            }
        }
    }
}

impl std::error::Error for Violation {}

/// Everything the checks remember across the run: decisions per height,
/// every signature of every audited validator, and the validator sets the
/// decided chain put in force.
#[derive(Debug)]
pub(crate) struct Audit {
    chain_id: String,
    /// Height -> (first validator to decide it, block hash).
    decided: BTreeMap<u64, (usize, BlockHash)>,
    /// (validator, height, round, step) -> digest of what it signed.
    signed: BTreeMap<(usize, u64, u32, Step), Hash32>,
    /// The sets in force: (first height governed, set), genesis first.
    sets: Vec<(u64, ValidatorSet)>,
    /// The committed changes: (height, nonce, change).
    changes: Vec<(u64, u64, ValidatorChange)>,
    /// Digests of the commits verified so far.
    verified_commits: std::collections::BTreeSet<Hash32>,
    /// (host, key) pairs seen signing with a key outside the genesis set.
    joined: std::collections::BTreeSet<(usize, PublicKey)>,
    /// Hosts seen committing a height after their removal took effect.
    followed_after_removal: std::collections::BTreeSet<usize>,
    /// The membership counters the audit keeps.
    pub membership: MembershipStats,
    /// The series of every certificate the decided chain minted (mints and synthesis outputs).
    minted: BTreeMap<CertificateId, SeriesId>,
    /// Every certificate the decided chain burned, with the height.
    burned: BTreeMap<CertificateId, u64>,
    /// Blind boxes whose close was decided, with the height.
    closed: BTreeMap<SeriesId, u64>,
    /// Blind boxes whose reveal was decided.
    revealed: u64,
}

impl Audit {
    pub(crate) fn new(genesis: &Genesis) -> Audit {
        Audit {
            chain_id: genesis.chain_id.to_string(),
            decided: BTreeMap::new(),
            signed: BTreeMap::new(),
            sets: vec![(1, genesis.validator_set())],
            changes: Vec::new(),
            verified_commits: Default::default(),
            joined: Default::default(),
            followed_after_removal: Default::default(),
            membership: MembershipStats::default(),
            minted: BTreeMap::new(),
            burned: BTreeMap::new(),
            closed: BTreeMap::new(),
            revealed: 0,
        }
    }

    /// Certificates burned, boxes closed and boxes revealed by the decided chain.
    pub(crate) fn life_counts(&self) -> (u64, u64, u64) {
        (self.burned.len() as u64, self.closed.len() as u64, self.revealed)
    }

    /// The decided chain's life transactions of a newly decided height: each
    /// input burned once and minted before, nothing minted into a closed box.
    fn life(&mut self, height: u64, block: &Block) -> Result<(), Violation> {
        for tx in &block.txs {
            match &tx.body {
                TxBody::Mint { series_id, edition, .. } => {
                    if self.closed.contains_key(series_id) {
                        return Err(Violation::MintAfterClose { height, series: *series_id });
                    }
                    self.minted.insert(ids::certificate_id(&self.chain_id, series_id, *edition), *series_id);
                }
                TxBody::Synthesize { series_id, inputs, edition, .. } => {
                    for input in inputs {
                        let reason = if let Some(first) = self.burned.get(input) {
                            format!("it was burned at height {first}")
                        } else if !self.minted.contains_key(input) {
                            "it was never minted".to_string()
                        } else {
                            self.burned.insert(*input, height);
                            continue;
                        };
                        return Err(Violation::BurnedTwice { height, certificate: *input, reason });
                    }
                    self.minted.insert(ids::certificate_id(&self.chain_id, series_id, *edition), *series_id);
                }
                TxBody::CloseBlindBox { series_id } => {
                    self.closed.entry(*series_id).or_insert(height);
                }
                TxBody::RevealBlindBox { .. } => self.revealed += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Burned counts are exact: `node`, at committed `height`, has a burn
    /// record for every burn the decided chain made up to there, and each
    /// series' burned count is the number of them.
    pub(crate) fn check_burns(
        &self,
        node: usize,
        height: u64,
        state: &keepsake_ledger::memory::MemoryState,
    ) -> Result<(), Violation> {
        let mut expected: BTreeMap<SeriesId, u32> = self.minted.values().map(|s| (*s, 0)).collect();
        for (cert, _) in self.burned.iter().filter(|(_, h)| **h <= height) {
            let series = self.minted[cert];
            *expected.entry(series).or_default() += 1;
            if state.burn(cert).ok().flatten().is_none() {
                let got = state.series_life(&series).ok().flatten().map_or(0, |l| l.burned);
                return Err(Violation::BurnCountMismatch {
                    node,
                    height,
                    series,
                    expected: expected[&series],
                    got,
                });
            }
        }
        for (series, expected) in expected {
            let got = state.series_life(&series).ok().flatten().map_or(0, |l| l.burned);
            if got != expected {
                return Err(Violation::BurnCountMismatch { node, height, series, expected, got });
            }
        }
        Ok(())
    }

    /// The set governing `height`, as the decided chain says.
    pub(crate) fn set_at(&self, height: u64) -> &ValidatorSet {
        let i = self.sets.partition_point(|(from, _)| *from <= height).max(1) - 1;
        &self.sets[i].1
    }

    /// The committed changes: (height, nonce, change).
    pub(crate) fn changes(&self) -> &[(u64, u64, ValidatorChange)] {
        &self.changes
    }

    /// The highest decided height.
    pub(crate) fn highest(&self) -> u64 {
        self.decided.last_key_value().map_or(0, |(h, _)| *h)
    }

    /// `node` committed `block` with `commit` (decided or synced): the
    /// header names the set in force, the commit verifies against it, and the
    /// block agrees with every other decision at its height. The first
    /// decision of a height puts its changes in the schedule.
    pub(crate) fn committed(&mut self, node: usize, block: &Block, commit: &Commit) -> Result<(), Violation> {
        let header = &block.header;
        let height = header.height;
        let set = self.set_at(height);
        let expected = set.hash(&self.chain_id);
        if header.validators_hash != expected {
            return Err(Violation::WrongValidatorSet { node, height, expected, got: header.validators_hash });
        }
        // A commit already verified (another node's copy of it, a synced block) is
        // verified once: its block hash and height are the header's, and the header
        // names the same set.
        let digest = keepsake_types::hash::sha256(&keepsake_types::encoding::encode(commit));
        let known = self.verified_commits.contains(&digest)
            && commit.block_hash == header.hash()
            && commit.height == height;
        if !known {
            if let Err(e) = commit.verify(header, set) {
                return Err(Violation::InvalidCommit { node, height, reason: e.to_string() });
            }
            self.verified_commits.insert(digest);
        }
        let first = !self.decided.contains_key(&height);
        self.decided(node, height, header.hash())?;
        if first {
            self.life(height, block)?;
            if self.set_at(height) != &self.sets[0].1 {
                self.membership.heights_by_changed_set += 1;
            }
            for tx in &block.txs {
                if let TxBody::ChangeValidators { change, nonce } = &tx.body {
                    let latest = &self.sets.last().expect("the genesis set").1;
                    let next = latest
                        .apply(change)
                        .map_err(|e| Violation::RefusedChangeDecided { height, reason: e.to_string() })?;
                    self.sets.push((height + SET_CHANGE_DELAY, next));
                    self.changes.push((height, *nonce, change.clone()));
                    let m = &mut self.membership;
                    m.changes_committed += 1;
                    match change {
                        ValidatorChange::Add { .. } => m.adds += 1,
                        ValidatorChange::Remove { .. } => m.removes += 1,
                        ValidatorChange::SetPower { .. } => m.power_changes += 1,
                        ValidatorChange::RotateKey { .. } => m.rotations += 1,
                    }
                }
            }
        }
        Ok(())
    }

    /// `host`, whose keys are `keys`, committed `height`: counts a removed
    /// validator that keeps following.
    pub(crate) fn followed(&mut self, host: usize, keys: &[PublicKey], height: u64) {
        let in_force = self.set_at(height);
        if keys.iter().any(|k| in_force.get(k).is_some()) {
            return;
        }
        let was_member = self
            .sets
            .iter()
            .take_while(|(from, _)| *from <= height)
            .any(|(_, set)| keys.iter().any(|k| set.get(k).is_some()));
        if was_member && self.followed_after_removal.insert(host) {
            self.membership.removed_kept_following += 1;
        }
    }

    /// Only members vote: `node` signed `step` with `key`.
    pub(crate) fn signed_by(
        &mut self,
        node: usize,
        key: &PublicKey,
        step: &SignedStep,
    ) -> Result<(), Violation> {
        if self.set_at(step.height).get(key).is_none() {
            return Err(Violation::SignedOutsideSet { node, height: step.height, key: *key });
        }
        if self.sets[0].1.get(key).is_none() && self.joined.insert((node, *key)) {
            self.membership.started_voting_mid_run += 1;
        }
        self.signed(node, step)
    }

    /// Agreement: `node` decided `hash` at `height`.
    pub(crate) fn decided(&mut self, node: usize, height: u64, hash: BlockHash) -> Result<(), Violation> {
        match self.decided.get(&height) {
            Some(&(first_node, first)) if first != hash => {
                Err(Violation::Agreement { height, first_node, first, node, other: hash })
            }
            Some(_) => Ok(()),
            None => {
                self.decided.insert(height, (node, hash));
                Ok(())
            }
        }
    }

    /// No double-sign: `node` signed `step`.
    pub(crate) fn signed(&mut self, node: usize, step: &SignedStep) -> Result<(), Violation> {
        let key = (node, step.height, step.round, step.step);
        match self.signed.get(&key) {
            Some(first) if *first != step.digest => Err(Violation::DoubleSign {
                node,
                height: step.height,
                round: step.round,
                step: step.step,
                first: *first,
                second: step.digest,
            }),
            Some(_) => Ok(()),
            None => {
                self.signed.insert(key, step.digest);
                Ok(())
            }
        }
    }

    /// The decided hash of each height, in order (for the report's digest).
    pub(crate) fn chain(&self) -> impl Iterator<Item = (&u64, &BlockHash)> {
        self.decided.iter().map(|(h, (_, hash))| (h, hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_ledger::testkit::{TestChain, TestNet};
    use keepsake_types::{VoteData, VoteKind};

    /// The membership checks can fail: a commit signed by the set before a
    /// change, or without a quorum of the new set, a header naming the old
    /// set, and a removed validator signing where it no longer belongs.
    #[test]
    fn judges_each_height_by_the_set_in_force() {
        let net = TestNet::new(4);
        let removed = net.validators[3].public();
        let change = ValidatorChange::Remove { public_key: removed };
        let tx = net.governed(TxBody::ChangeValidators { change, nonce: 9 }, 2);
        let mut chain = TestChain::new(net);
        chain.push(vec![tx]);
        chain.push(vec![]);
        chain.push(vec![]);
        let mut audit = Audit::new(&chain.net.genesis);
        for (block, commit) in &chain.blocks[..2] {
            audit.committed(0, block, commit).unwrap();
        }
        assert_eq!(audit.changes().len(), 1);
        // Height 3 is the first the smaller set governs: the genesis four's
        // commit counts the removed validator's signature.
        let block = chain.blocks[2].0.clone();
        let all_four = chain.net.commit_for(&block.header, 0, 4);
        assert!(matches!(
            audit.committed(0, &block, &all_four),
            Err(Violation::InvalidCommit { height: 3, .. })
        ));
        let two = chain.net.commit_for(&block.header, 0, 2);
        assert!(matches!(audit.committed(0, &block, &two), Err(Violation::InvalidCommit { height: 3, .. })));
        let three = chain.net.commit_for(&block.header, 0, 3);
        let mut stale = block.clone();
        stale.header.validators_hash = chain.net.genesis.validator_set().hash(chain.net.chain());
        assert!(matches!(
            audit.committed(0, &stale, &three),
            Err(Violation::WrongValidatorSet { height: 3, .. })
        ));
        audit.committed(0, &block, &three).unwrap();
        assert_eq!((audit.membership.removes, audit.membership.heights_by_changed_set), (1, 1));
        // The removed validator may sign at height 2, not at 3; it follows at 3.
        let vote = |height: u64| {
            let data = VoteData { height, round: 0, kind: VoteKind::Prevote, block_hash: None };
            SignedStep::for_vote("c", &data)
        };
        audit.signed_by(3, &removed, &vote(2)).unwrap();
        assert!(matches!(
            audit.signed_by(3, &removed, &vote(3)),
            Err(Violation::SignedOutsideSet { node: 3, height: 3, .. })
        ));
        audit.followed(3, &[removed], 3);
        audit.followed(0, &[chain.net.validators[0].public()], 3);
        assert_eq!(audit.membership.removed_kept_following, 1);
    }

    /// The life checks can fail: a decided synthesis burning a certificate
    /// again, a node whose burned count disagrees with the decided chain, a
    /// mint decided into a closed box.
    #[test]
    fn catches_double_burns_wrong_burn_counts_and_sales_after_close() {
        let net = TestNet::new(4);
        let (issuer, reviewer) = (net.issuer.clone(), net.reviewer.clone());
        let a = net.series_id(&issuer, "a");
        let t = net.series_id(&issuer, "t");
        let bx = net.series_id(&issuer, "box");
        let mut chain = TestChain::new(net);
        let net = &chain.net;
        let setup = net.setup_txs();
        let creations = vec![
            net.create_series(&issuer, &reviewer, "a", 5),
            net.create_series_with_terms(
                &issuer,
                &reviewer,
                "box",
                2,
                net.blind_box(&TestNet::box_seed(1), &[2]),
            ),
        ];
        let t_tx = net.create_series_with_terms(&issuer, &reviewer, "t", 5, TestNet::recipe(&[(a, 2)]));
        let mints: Vec<_> = (1..=3).map(|e| net.mint(&issuer, a, e, 1)).collect();
        let (c1, c2, c3) = (net.certificate(&a, 1), net.certificate(&a, 2), net.certificate(&a, 3));
        let synth = net.synthesize(&issuer, t, 0, vec![c1, c2], 1, 1);
        let close = net.close_box(&issuer, bx);
        let again = net.synthesize(&issuer, t, 0, vec![c2, c3], 2, 1);
        let late = net.mint(&issuer, bx, 1, 1);
        chain.push(setup);
        chain.push(creations);
        chain.push(vec![t_tx]);
        chain.push(mints);
        let before_burn = chain.state.clone();
        chain.push(vec![synth, close]);
        let fresh = |chain: &TestChain| {
            let mut audit = Audit::new(&chain.net.genesis);
            for (block, commit) in &chain.blocks {
                audit.committed(0, block, commit).unwrap();
            }
            audit
        };
        let mut audit = fresh(&chain);
        assert_eq!(audit.life_counts(), (2, 1, 0));
        audit.check_burns(0, 5, &chain.state).unwrap();
        // A node at height 5 without the burns of height 5.
        assert!(matches!(
            audit.check_burns(1, 5, &before_burn),
            Err(Violation::BurnCountMismatch { node: 1, height: 5, expected: 1, got: 0, .. })
        ));
        // Height 6 as a colluding quorum could sign it, without the ledger.
        let forged = |txs: Vec<keepsake_types::SignedTx>| {
            let mut block = chain.blocks[4].0.clone();
            block.header.height = 6;
            block.txs = txs;
            let commit = chain.net.commit_for(&block.header, 0, 4);
            (block, commit)
        };
        let (block, commit) = forged(vec![again]);
        let err = audit.committed(0, &block, &commit).unwrap_err();
        assert!(
            matches!(&err, Violation::BurnedTwice { height: 6, certificate, .. } if *certificate == c2),
            "{err}"
        );
        let mut audit = fresh(&chain);
        let (block, commit) = forged(vec![late]);
        assert_eq!(
            audit.committed(0, &block, &commit).unwrap_err(),
            Violation::MintAfterClose { height: 6, series: bx }
        );
    }

    #[test]
    fn catches_conflicting_decisions_and_signatures() {
        let net = keepsake_ledger::testkit::TestNet::new(4);
        let mut audit = Audit::new(&net.genesis);
        audit.decided(0, 1, BlockHash([1; 32])).unwrap();
        audit.decided(1, 1, BlockHash([1; 32])).unwrap();
        assert!(matches!(
            audit.decided(2, 1, BlockHash([2; 32])),
            Err(Violation::Agreement { height: 1, .. })
        ));

        let vote = |b: u8| {
            SignedStep::for_vote(
                "c",
                &VoteData {
                    height: 3,
                    round: 1,
                    kind: VoteKind::Prevote,
                    block_hash: Some(BlockHash([b; 32])),
                },
            )
        };
        audit.signed(0, &vote(1)).unwrap();
        audit.signed(0, &vote(1)).unwrap();
        audit.signed(1, &vote(2)).unwrap();
        let err = audit.signed(0, &vote(2)).unwrap_err();
        assert!(matches!(
            err,
            Violation::DoubleSign { node: 0, height: 3, round: 1, step: Step::Prevote, .. }
        ));
        assert!(err.to_string().starts_with("DOUBLE-SIGN"));
    }
}
