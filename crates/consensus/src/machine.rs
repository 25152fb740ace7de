//! The Tendermint state machine: Algorithm 1 of Buchman, Kwon, Milosevic,
//! "The latest gossip on BFT consensus" (arXiv:1807.04938).
//!
//! The paper's `upon` rules are conditions over the messages received so far.
//! After every input the core re-evaluates them ([`Consensus::run_rules`])
//! until none fires, each guarded exactly as in the paper (step, round,
//! "for the first time"), so the order in which proposals, votes and
//! verdicts arrive does not matter. Every arm is labelled with its line.
//!
//! Deviations from the paper, all on the side of caution:
//! - `valid(v)` is asynchronous: a proposal counts as valid only once the
//!   ledger's [`Input::ProposalVerdict`] for its block hash says so; until
//!   then the rules that need `valid(v)` wait.
//! - `getValue()` is asynchronous too ([`Output::BuildBlock`]); the proposer
//!   therefore also schedules `timeoutPropose` (as Malachite does), so a
//!   proposer whose block never comes prevotes nil like everyone else.
//! - Our own proposal and votes count only once they come back signed
//!   ([`Input::Proposal`] / [`Input::Vote`]); the core remembers what it asked
//!   to sign and never asks for two different votes of one (round, kind).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use keepsake_types::{
    Block, BlockHash, Commit, CommitSignature, Proposal, ProposalData, PublicKey, ValidatorSet, Vote,
    VoteData, VoteKind,
};

use crate::votes::{Added, Powers, VoteKeeper};
use crate::{ConsensusConfig, FUTURE_MESSAGES_MAX, Input, Output, ROUNDS_AHEAD_MAX, Step, Timeout, proposer};

/// Counters of what the core dropped, for metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsensusStats {
    /// Votes or proposals with a bad signature, or from a key outside the set.
    pub invalid_messages: u64,
    /// Messages for a height after the next one, or a round too far ahead.
    pub far_future_messages: u64,
    /// Messages dropped because a buffer was full.
    pub dropped_messages: u64,
    /// Messages for past heights or rounds we no longer need.
    pub stale_messages: u64,
    /// Equivocations seen.
    pub equivocations: u64,
}

/// Where a message's height puts it relative to ours.
enum Slot {
    /// The height we are deciding.
    Current,
    /// The next height (or any height before the first `StartHeight`): keep it for later.
    Buffer,
    /// A decided or past height.
    Stale,
    /// Beyond the next height.
    FarFuture,
}

/// One validator's (or observer's) Tendermint instance.
pub struct Consensus {
    chain_id: String,
    validators: ValidatorSet,
    powers: Powers,
    /// The set of the next height, when it is not `validators` (a membership
    /// change takes effect there): early messages of the next height are
    /// checked against it, and `StartHeight` of that height switches to it.
    next: Option<(ValidatorSet, Powers)>,
    /// Our key, member or not (membership can change between heights).
    key: Option<PublicKey>,
    /// Our key if it is in the validator set (`None`: observer).
    me: Option<PublicKey>,
    config: ConsensusConfig,
    /// False until the first `StartHeight`.
    started: bool,
    /// `h_p`.
    height: u64,
    /// `round_p`.
    round: u32,
    /// `step_p`.
    step: Step,
    /// `decision_p[h_p] != nil`: from here on, wait for the next `StartHeight`.
    decided: bool,
    /// `(lockedRound, lockedValue)`; `None` is `(-1, nil)`.
    locked: Option<(u32, BlockHash)>,
    /// `(validRound, validValue)`; `None` is `(-1, nil)`.
    valid: Option<(u32, BlockHash)>,
    /// The first proposal of each round from its proposer.
    proposals: BTreeMap<u32, Proposal>,
    /// The ledger's verdicts, per block hash.
    verdicts: BTreeMap<BlockHash, bool>,
    /// Block hashes we asked the ledger to validate.
    validating: BTreeSet<BlockHash>,
    /// Fresh proposals the driver found untimely, per (round, block hash): L22 prevotes nil.
    untimely: BTreeSet<(u32, BlockHash)>,
    votes: VoteKeeper,
    /// The value of every vote we asked to be signed, per (round, kind), and
    /// of our own votes seen signed: never ask for a different one.
    my_votes: BTreeMap<(u32, VoteKind), Option<BlockHash>>,
    /// Rounds in which we asked for a block ([`Output::BuildBlock`]).
    build_requested: BTreeSet<u32>,
    /// Rounds in which we asked to sign a proposal.
    proposed: BTreeSet<u32>,
    /// L34 fired ("for the first time") in these rounds.
    prevote_timeout_scheduled: BTreeSet<u32>,
    /// L47 fired in these rounds.
    precommit_timeout_scheduled: BTreeSet<u32>,
    /// L36 fired in these rounds.
    polka_value_seen: BTreeSet<u32>,
    /// Messages of the next height (or of any height before the first `StartHeight`).
    future: Vec<Input>,
    stats: ConsensusStats,
}

impl Consensus {
    /// A core for `validators`; `me` is our key, in the set or not: we vote
    /// at the heights whose set holds it ([`Consensus::set_next_validators`]),
    /// and follow and decide at the others. `None`: never propose or vote.
    pub fn new(
        chain_id: String,
        validators: ValidatorSet,
        me: Option<PublicKey>,
        config: ConsensusConfig,
    ) -> Self {
        let powers = Powers::new(&validators);
        let key = me;
        let me = me.filter(|k| powers.of(k).is_some());
        Consensus {
            chain_id,
            validators,
            powers,
            next: None,
            key,
            me,
            config,
            started: false,
            height: 0,
            round: 0,
            step: Step::Propose,
            decided: false,
            locked: None,
            valid: None,
            proposals: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            validating: BTreeSet::new(),
            untimely: BTreeSet::new(),
            votes: VoteKeeper::default(),
            my_votes: BTreeMap::new(),
            build_requested: BTreeSet::new(),
            proposed: BTreeSet::new(),
            prevote_timeout_scheduled: BTreeSet::new(),
            precommit_timeout_scheduled: BTreeSet::new(),
            polka_value_seen: BTreeSet::new(),
            future: Vec::new(),
            stats: ConsensusStats::default(),
        }
    }

    /// The validator set of the height after the current one (the core is
    /// created with the set of the height it starts at). Early messages of
    /// that height are checked against it, and its `StartHeight` makes it the
    /// set, and makes us a voter or an observer by it. A driver sets it at
    /// every height; it changes nothing while the set stays the same.
    pub fn set_next_validators(&mut self, validators: ValidatorSet) {
        self.next = if validators == self.validators {
            None
        } else {
            let powers = Powers::new(&validators);
            Some((validators, powers))
        };
    }

    /// The validator set of the height being decided.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// Whether we vote at the current height.
    pub fn is_voter(&self) -> bool {
        self.me.is_some()
    }

    /// Current height (0 before the first `StartHeight`).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// Current round.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Current step.
    pub fn step(&self) -> Step {
        self.step
    }

    /// Whether the current height is decided (the core then waits for
    /// `StartHeight { height + 1 }`).
    pub fn is_decided(&self) -> bool {
        self.decided
    }

    /// `(lockedRound, lockedValue)`, `None` when not locked.
    pub fn locked(&self) -> Option<(u32, BlockHash)> {
        self.locked
    }

    /// `(validRound, validValue)`, `None` when there is none.
    pub fn valid(&self) -> Option<(u32, BlockHash)> {
        self.valid
    }

    /// Messages kept for the next height: `StartHeight { height + 1 }` feeds
    /// them to the core before anything else. A driver that empties its WAL at a
    /// new height must log these again under it, or a replay would miss them.
    pub fn buffered(&self) -> &[Input] {
        &self.future
    }

    /// What was dropped so far.
    pub fn stats(&self) -> &ConsensusStats {
        &self.stats
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        self.process(input, &mut out);
        out
    }

    fn process(&mut self, input: Input, out: &mut Vec<Output>) {
        match input {
            Input::StartHeight { height } => self.start_height(height, out),
            Input::Proposal(proposal) => self.on_proposal(*proposal, out),
            Input::Vote(vote) => self.on_vote(vote, out),
            Input::BlockBuilt { height, round, block } => self.on_block_built(height, round, block, out),
            Input::ProposalVerdict { height, round: _, block_hash, valid } => {
                if self.is_live(height) && self.validating.contains(&block_hash) {
                    self.verdicts.entry(block_hash).or_insert(valid);
                    self.run_rules(out);
                }
            }
            Input::TimeoutElapsed(timeout) => self.on_timeout(timeout, out),
            Input::ProposalUntimely { height, round, block_hash } => match self.slot(height) {
                Slot::Current => {
                    self.untimely.insert((round, block_hash));
                    self.run_rules(out);
                }
                Slot::Buffer => self.buffer(round, Input::ProposalUntimely { height, round, block_hash }),
                Slot::Stale | Slot::FarFuture => {}
            },
        }
    }

    /// Started, deciding `height`, not decided yet.
    fn is_live(&self, height: u64) -> bool {
        self.started && !self.decided && height == self.height
    }

    fn is_proposer(&self, round: u32) -> bool {
        self.me.is_some_and(|me| proposer(&self.validators, self.height, round) == me)
    }

    fn slot(&self, height: u64) -> Slot {
        if !self.started {
            return Slot::Buffer;
        }
        if height == self.height {
            if self.decided { Slot::Stale } else { Slot::Current }
        } else if height < self.height {
            Slot::Stale
        } else if height == self.height.saturating_add(1) {
            Slot::Buffer
        } else {
            Slot::FarFuture
        }
    }

    /// Keeps a message of a later height (already checked) for `StartHeight`.
    fn buffer(&mut self, round: u32, input: Input) {
        if round > ROUNDS_AHEAD_MAX {
            self.stats.far_future_messages += 1;
        } else if self.future.len() >= FUTURE_MESSAGES_MAX {
            self.stats.dropped_messages += 1;
        } else if !self.future.contains(&input) {
            self.future.push(input);
        }
    }

    /// A round too far ahead of ours to keep anything for.
    fn too_far_ahead(&self, round: u32) -> bool {
        round > self.round.saturating_add(ROUNDS_AHEAD_MAX)
    }

    // ----- StartHeight, StartRound -------------------------------------------------------------

    /// L10: a new height starts with round 0, no lock and no valid value.
    fn start_height(&mut self, height: u64, out: &mut Vec<Output>) {
        if self.started && height <= self.height {
            return;
        }
        if let Some((validators, powers)) = self.next.take()
            && self.started
            && height == self.height.saturating_add(1)
        {
            self.validators = validators;
            self.powers = powers;
            self.me = self.key.filter(|k| self.powers.of(k).is_some());
        }
        self.started = true;
        self.height = height;
        self.round = 0;
        self.step = Step::Propose;
        self.decided = false;
        self.locked = None;
        self.valid = None;
        self.proposals.clear();
        self.verdicts.clear();
        self.validating.clear();
        self.untimely.clear();
        self.votes = VoteKeeper::default();
        self.my_votes.clear();
        self.build_requested.clear();
        self.proposed.clear();
        self.prevote_timeout_scheduled.clear();
        self.precommit_timeout_scheduled.clear();
        self.polka_value_seen.clear();
        let buffered = std::mem::take(&mut self.future);
        // L10: StartRound(0).
        self.start_round(0, out);
        self.run_rules(out);
        // Replay what arrived early: this height's messages are handled now,
        // the next height's go back to the buffer, older ones are counted stale.
        for input in buffered {
            self.process(input, out);
        }
    }

    // L11 StartRound
    fn start_round(&mut self, round: u32, out: &mut Vec<Output>) {
        self.round = round;
        self.step = Step::Propose;
        let height = self.height;
        if self.is_proposer(round) && !self.proposals.contains_key(&round) {
            // L14-L19: we are the proposer (and have not proposed yet, e.g.
            // before a restart whose WAL replays our proposal).
            let valid_block = self
                .valid
                .and_then(|(vr, v)| self.proposals.get(&vr).map(|p| (vr, v, p.block.clone())))
                .filter(|(_, v, block)| block.header.hash() == *v);
            match valid_block {
                // L15-L16: propose validValue with validRound.
                Some((vr, v, block)) => {
                    if self.proposed.insert(round) {
                        out.push(Output::Propose {
                            data: ProposalData { height, round, pol_round: Some(vr), block_hash: v },
                            block,
                        });
                    }
                }
                // L18: getValue(), answered by Input::BlockBuilt.
                None => {
                    if self.build_requested.insert(round) {
                        out.push(Output::BuildBlock { height, round });
                    }
                }
            }
        }
        // L21 (and, for the proposer, in case getValue or signing never completes).
        self.schedule(Step::Propose, out);
    }

    fn schedule(&self, step: Step, out: &mut Vec<Output>) {
        let base = match step {
            Step::Propose => self.config.timeout_propose_ms,
            Step::Prevote => self.config.timeout_prevote_ms,
            Step::Precommit => self.config.timeout_precommit_ms,
        };
        let duration_ms =
            base.saturating_add(u64::from(self.round).saturating_mul(self.config.timeout_delta_ms));
        out.push(Output::ScheduleTimeout {
            timeout: Timeout { height: self.height, round: self.round, step },
            duration_ms,
        });
    }

    /// L19 with a fresh value: the block we asked for in L18.
    fn on_block_built(&mut self, height: u64, round: u32, block: Arc<Block>, out: &mut Vec<Output>) {
        if !self.is_live(height)
            || round != self.round
            || self.step != Step::Propose
            || !self.is_proposer(round)
            || !self.build_requested.contains(&round)
            || self.proposals.contains_key(&round)
            || !self.proposed.insert(round)
        {
            return;
        }
        let block_hash = block.header.hash();
        out.push(Output::Propose {
            data: ProposalData { height, round, pol_round: None, block_hash },
            block,
        });
    }

    // ----- Messages ----------------------------------------------------------------------------

    /// Signature, proposer of its round, block matching the signed hash and
    /// height, `validRound < round`.
    fn proposal_is_well_formed(&self, p: &Proposal) -> bool {
        let validators = match &self.next {
            Some((next, _)) if self.started && p.data.height == self.height.saturating_add(1) => next,
            _ => &self.validators,
        };
        !validators.validators.is_empty()
            && p.verify(&self.chain_id).is_ok()
            && p.proposer == proposer(validators, p.data.height, p.data.round)
            && p.block.header.height == p.data.height
            && p.data.pol_round.is_none_or(|vr| vr < p.data.round)
    }

    fn on_proposal(&mut self, p: Proposal, out: &mut Vec<Output>) {
        let (height, round) = (p.data.height, p.data.round);
        match self.slot(height) {
            Slot::Stale => self.stats.stale_messages += 1,
            Slot::FarFuture => self.stats.far_future_messages += 1,
            Slot::Buffer => {
                if self.proposal_is_well_formed(&p) {
                    self.buffer(round, Input::Proposal(Box::new(p)));
                } else {
                    self.stats.invalid_messages += 1;
                }
            }
            Slot::Current => {
                if self.too_far_ahead(round) {
                    self.stats.far_future_messages += 1;
                    return;
                }
                if let Some(first) = self.proposals.get(&round) {
                    if first.data != p.data || first.block != p.block {
                        if self.proposal_is_well_formed(&p) {
                            // The proposer signed two proposals for one round:
                            // keep the first.
                            self.stats.equivocations += 1;
                        } else {
                            self.stats.invalid_messages += 1;
                        }
                    }
                    return;
                }
                if !self.proposal_is_well_formed(&p) {
                    self.stats.invalid_messages += 1;
                    return;
                }
                let block_hash = p.data.block_hash;
                if !self.verdicts.contains_key(&block_hash) && self.validating.insert(block_hash) {
                    out.push(Output::ValidateBlock { height, round, block: p.block.clone() });
                }
                self.proposals.insert(round, p);
                self.run_rules(out);
            }
        }
    }

    fn on_vote(&mut self, vote: Vote, out: &mut Vec<Output>) {
        let (height, round) = (vote.data.height, vote.data.round);
        let slot = self.slot(height);
        match slot {
            Slot::Stale => self.stats.stale_messages += 1,
            Slot::FarFuture => self.stats.far_future_messages += 1,
            Slot::Buffer | Slot::Current => {
                let powers = match (&slot, &self.next) {
                    (Slot::Buffer, Some((_, next))) if self.started => next,
                    _ => &self.powers,
                };
                if powers.of(&vote.validator).is_none() || vote.verify(&self.chain_id).is_err() {
                    self.stats.invalid_messages += 1;
                    return;
                }
                if matches!(slot, Slot::Buffer) {
                    self.buffer(round, Input::Vote(vote));
                    return;
                }
                if self.too_far_ahead(round) {
                    self.stats.far_future_messages += 1;
                    return;
                }
                let (kind, value, validator) = (vote.data.kind, vote.data.block_hash, vote.validator);
                match self.votes.add(vote) {
                    Added::New => {
                        if Some(validator) == self.me {
                            // Our own vote, signed: from now on never ask for another one.
                            self.my_votes.entry((round, kind)).or_insert(value);
                        }
                        self.run_rules(out);
                    }
                    Added::Duplicate => {}
                    // The conflicting vote counts too, for its own value.
                    Added::EquivocationAgain => self.run_rules(out),
                    Added::Equivocation(evidence) => {
                        self.stats.equivocations += 1;
                        out.push(Output::Equivocation(evidence));
                        self.run_rules(out);
                    }
                }
            }
        }
    }

    // ----- Timeouts ----------------------------------------------------------------------------

    fn on_timeout(&mut self, t: Timeout, out: &mut Vec<Output>) {
        if !self.is_live(t.height) || t.round != self.round {
            return;
        }
        match t.step {
            // L57 OnTimeoutPropose
            Step::Propose => {
                if self.step == Step::Propose {
                    self.cast(VoteKind::Prevote, None, out);
                    self.step = Step::Prevote;
                }
            }
            // L61 OnTimeoutPrevote
            Step::Prevote => {
                if self.step == Step::Prevote {
                    self.cast(VoteKind::Precommit, None, out);
                    self.step = Step::Precommit;
                }
            }
            // L65 OnTimeoutPrecommit
            Step::Precommit => {
                if let Some(next) = self.round.checked_add(1) {
                    self.start_round(next, out);
                }
            }
        }
        self.run_rules(out);
    }

    /// Asks the driver to sign a vote of the current round, unless we are an
    /// observer or already asked for (or saw signed) a vote of this kind in
    /// this round. The caller moves the step, as the paper does.
    fn cast(&mut self, kind: VoteKind, block_hash: Option<BlockHash>, out: &mut Vec<Output>) {
        if self.me.is_none() {
            return;
        }
        if let std::collections::btree_map::Entry::Vacant(e) = self.my_votes.entry((self.round, kind)) {
            e.insert(block_hash);
            out.push(Output::Vote(VoteData { height: self.height, round: self.round, kind, block_hash }));
        }
    }

    // ----- The upon rules ----------------------------------------------------------------------

    /// Fires the paper's `upon` rules until none applies.
    fn run_rules(&mut self, out: &mut Vec<Output>) {
        while self.started && !self.decided {
            if self.rule_decide(out)
                || self.rule_skip_round(out)
                || self.rule_prevote(out)
                || self.rule_prevote_timeout(out)
                || self.rule_polka_value(out)
                || self.rule_polka_nil(out)
                || self.rule_precommit_timeout(out)
            {
                continue;
            }
            break;
        }
    }

    /// The current round's proposal, its value and verdict.
    fn current_proposal(&self) -> Option<(BlockHash, Option<u32>, Option<bool>)> {
        let p = self.proposals.get(&self.round)?;
        let v = p.data.block_hash;
        Some((v, p.data.pol_round, self.verdicts.get(&v).copied()))
    }

    // L49: a proposal of any round r of this height, valid, with 2f+1
    // precommits for it in r: decide.
    fn rule_decide(&mut self, out: &mut Vec<Output>) -> bool {
        let found = self.proposals.iter().find(|(r, p)| {
            let v = p.data.block_hash;
            self.verdicts.get(&v) == Some(&true)
                && self.powers.is_quorum(self.votes.power_for(
                    &self.powers,
                    **r,
                    VoteKind::Precommit,
                    Some(v),
                ))
        });
        let Some((&round, p)) = found else { return false };
        let block_hash = p.data.block_hash;
        let mut seen = BTreeSet::new();
        let signatures = self
            .validators
            .validators
            .iter()
            .filter(|v| seen.insert(v.public_key))
            .filter_map(|v| self.votes.get(round, VoteKind::Precommit, &v.public_key, Some(block_hash)))
            .map(|vote| CommitSignature { validator: vote.validator, signature: vote.signature })
            .collect();
        let commit = Commit { height: self.height, round, block_hash, signatures };
        out.push(Output::Decide { block: p.block.clone(), commit });
        self.decided = true;
        true
    }

    // L55: f+1 of the power sent messages of a round r > round_p: StartRound(r).
    // We jump straight to the highest such round.
    fn rule_skip_round(&mut self, out: &mut Vec<Output>) -> bool {
        let mut rounds = self.votes.rounds_after(self.round);
        rounds.extend(self.proposals.keys().copied().filter(|r| *r > self.round));
        let target = rounds.into_iter().rev().find(|&r| {
            let mut senders = self.votes.voters(r);
            if let Some(p) = self.proposals.get(&r) {
                senders.insert(p.proposer);
            }
            self.powers.is_one_third_plus(self.powers.sum(&senders))
        });
        match target {
            Some(r) => {
                self.start_round(r, out);
                true
            }
            None => false,
        }
    }

    // L22 and L28: the current round's proposal, while in step propose.
    fn rule_prevote(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step != Step::Propose {
            return false;
        }
        let Some((v, pol_round, Some(is_valid))) = self.current_proposal() else { return false };
        let prevote = match pol_round {
            // L22: a fresh proposal, valid and timely (PBTS: `Input::ProposalUntimely`).
            None => {
                let free = self.locked.is_none_or(|(_, locked)| locked == v);
                let timely = !self.untimely.contains(&(self.round, v));
                (is_valid && timely && free).then_some(v)
            }
            // L28: a proposal backed by 2f+1 prevotes for it in vr < round_p.
            Some(vr) => {
                if !self.powers.is_quorum(self.votes.power_for(&self.powers, vr, VoteKind::Prevote, Some(v)))
                {
                    return false;
                }
                let free = self.locked.is_none_or(|(lr, locked)| lr <= vr || locked == v);
                (is_valid && free).then_some(v)
            }
        };
        self.cast(VoteKind::Prevote, prevote, out);
        self.step = Step::Prevote;
        true
    }

    // L34: 2f+1 prevotes of any value in round_p while in step prevote,
    // for the first time: schedule timeoutPrevote.
    fn rule_prevote_timeout(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step != Step::Prevote
            || self.prevote_timeout_scheduled.contains(&self.round)
            || !self.powers.is_quorum(self.votes.power_any(&self.powers, self.round, VoteKind::Prevote))
        {
            return false;
        }
        self.prevote_timeout_scheduled.insert(self.round);
        self.schedule(Step::Prevote, out);
        true
    }

    // L36: the current round's proposal is valid and has 2f+1 prevotes, step
    // >= prevote, for the first time: lock and precommit it (if still in step
    // prevote), and remember it as the valid value.
    fn rule_polka_value(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step == Step::Propose || self.polka_value_seen.contains(&self.round) {
            return false;
        }
        let Some((v, _, Some(true))) = self.current_proposal() else { return false };
        if !self.powers.is_quorum(self.votes.power_for(&self.powers, self.round, VoteKind::Prevote, Some(v)))
        {
            return false;
        }
        self.polka_value_seen.insert(self.round);
        if self.step == Step::Prevote {
            self.locked = Some((self.round, v));
            self.cast(VoteKind::Precommit, Some(v), out);
            self.step = Step::Precommit;
        }
        self.valid = Some((self.round, v));
        true
    }

    // L44: 2f+1 prevotes for nil in round_p while in step prevote: precommit nil.
    fn rule_polka_nil(&mut self, out: &mut Vec<Output>) -> bool {
        if self.step != Step::Prevote
            || !self.powers.is_quorum(self.votes.power_for(&self.powers, self.round, VoteKind::Prevote, None))
        {
            return false;
        }
        self.cast(VoteKind::Precommit, None, out);
        self.step = Step::Precommit;
        true
    }

    // L47: 2f+1 precommits of any value in round_p, for the first time:
    // schedule timeoutPrecommit.
    fn rule_precommit_timeout(&mut self, out: &mut Vec<Output>) -> bool {
        if self.precommit_timeout_scheduled.contains(&self.round)
            || !self.powers.is_quorum(self.votes.power_any(&self.powers, self.round, VoteKind::Precommit))
        {
            return false;
        }
        self.precommit_timeout_scheduled.insert(self.round);
        self.schedule(Step::Precommit, out);
        true
    }
}
