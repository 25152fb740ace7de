//! [`Engine`]: the consensus driver. It owns the Tendermint core, the sign
//! guard, the validated-block cache, own-message and polka re-broadcast, the
//! duplicate-message set and the block-sync bookkeeping, and turns each
//! [`Event`] into the [`Effect`]s the host must perform, in order.
//!
//! | core output | what the engine does |
//! |---|---|
//! | `BuildBlock` | remembers the pending build, [`Effect::ScheduleBuild`]; on [`Event::BuildDue`] builds with [`BlockRules::build`] and feeds the block back |
//! | `ValidateBlock` | [`BlockRules::validate`] on committed state (cached by header hash), feeds the verdict back |
//! | `Propose` / `Vote` | sign guard (S1) -> [`Effect::SyncWal`] -> [`Effect::PersistSignState`] -> sign -> [`Effect::Publish`] -> feed back |
//! | `ScheduleTimeout` | [`Effect::ScheduleTimeout`] |
//! | `Decide` | verify the commit, commit through [`ChainStore::commit_block`], [`Effect::ResetWal`], [`Effect::Committed`], next height |
//! | `Equivocation` | [`Effect::Equivocation`] |
//!
//! Every input the core sees (but `StartHeight`) is logged with
//! [`Effect::AppendWal`]; [`Engine::start`] replays the WAL of the current
//! height into a fresh core, so a restarted validator resumes with the same
//! locks and votes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use keepsake_consensus::{
    Consensus, ConsensusConfig, ConsensusStats, Input, Output, SignGuard, SignedStep, WalEntry,
};
use keepsake_ledger::{CheckedBody, Tip};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{
    Block, BlockHash, Commit, DigestSet, Genesis, Hash32, Header, Keypair, PublicKey, SignedTx,
    ValidatorSchedule, ValidatorSet, Vote, VoteKind, encoding, hash,
};

use crate::chain::ChainStore;
use crate::effect::{Effect, Event, GossipVerdict};
use crate::error::EngineError;
use crate::marks::Marks;
use crate::memo::VerifiedSet;
use crate::rules::BlockRules;

/// Most message hashes remembered per height for dropping duplicates (beyond
/// it, duplicates reach the core, which ignores them; only the WAL grows).
pub const SEEN_MESSAGES_MAX: usize = 100_000;
/// Most prevotes of one height kept for re-publishing a polka.
pub const PREVOTES_KEPT_MAX: usize = 4096;
/// Most inputs one event may cause (core <-> engine ping-pong); more is a bug.
pub const FEED_INPUTS_MAX: usize = 100_000;
/// A sync request unanswered for this long no longer blocks the next one.
pub const SYNC_TIMEOUT_MS: u64 = 10_000;
/// Room for the header, commit and envelope around a block's transactions.
const FRAME_BYTES_MAX: usize = 64 * 1024;
/// Proposals of the current height whose checked bodies are kept for their
/// validation (one per round is the honest case; a block each, in memory).
pub const CHECKED_BODIES_MAX: usize = 4;

/// The timeliness window of proposer-based timestamps (as CometBFT's PBTS).
/// A fresh proposal is timely when its block time `t` satisfies
/// `now - precision - message_delay <= t <= now + precision` on the
/// receiver's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockBounds {
    /// Largest difference between two honest validators' clocks.
    pub precision_ms: u64,
    /// Largest delay of a proposal between honest validators.
    pub message_delay_ms: u64,
}

impl ClockBounds {
    /// Whether a block stamped `block_time_ms`, received at `now_ms`, is timely.
    pub fn is_timely(&self, block_time_ms: u64, now_ms: u64) -> bool {
        let earliest = now_ms.saturating_sub(self.precision_ms.saturating_add(self.message_delay_ms));
        let latest = now_ms.saturating_add(self.precision_ms);
        (earliest..=latest).contains(&block_time_ms)
    }
}

/// Settings of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The core's timeouts.
    pub consensus: ConsensusConfig,
    /// How long a proposer with an empty mempool waits for a transaction.
    pub empty_block_wait_ms: u64,
    /// How long a proposer with pending transactions waits for more.
    pub batch_wait_ms: u64,
    /// Period of [`Event::Tick`].
    pub tick_ms: u64,
    /// Ask some peer for blocks at least this often, even when nobody seems ahead.
    pub sync_probe_ms: u64,
    /// Least time between two block-sync requests.
    pub sync_retry_ms: u64,
    /// Most blocks asked for in one sync request.
    pub sync_batch_blocks: u32,
    /// The timeliness window of fresh proposals.
    pub clock: ClockBounds,
}

/// Block-sync bookkeeping.
#[derive(Debug, Default)]
struct SyncState {
    /// When the unanswered request was made.
    in_flight_since_ms: Option<u64>,
    /// When the last request was made.
    last_request_ms: Option<u64>,
    /// When the last request to any peer (a probe) was made.
    last_probe_ms: Option<u64>,
    /// The highest height a peer sent a consensus message for, and that peer.
    highest_seen: Option<(u64, PublicKey)>,
    /// Peers whose sync answers we refused (a liar must not be the only one we ask).
    refused: BTreeSet<PublicKey>,
}

/// One validator's (or observer's) consensus driver, pure.
pub struct Engine<R: BlockRules> {
    config: EngineConfig,
    genesis: Arc<Genesis>,
    /// The validator sets as far as the committed state knows them (the set
    /// of the next two heights is always known: changes take effect two
    /// blocks after their own).
    schedule: ValidatorSchedule,
    key: Keypair,
    rules: R,
    memo: Arc<VerifiedSet>,
    core: Consensus,
    guard: SignGuard,
    /// Executions of blocks validated or built at the current tip, by header hash.
    executed: BTreeMap<BlockHash, keepsake_ledger::Executed>,
    /// Proposed blocks of the current tip whose body matched their header on
    /// arrival, newest last (at most [`CHECKED_BODIES_MAX`]): validation
    /// uses the encodings and ids the check computed.
    checked: VecDeque<CheckedBody>,
    pending_build: Option<(u64, u32)>,
    replaying: bool,
    built_during_replay: BTreeSet<(u64, u32)>,
    sync: SyncState,
    /// Our latest proposal, prevote and precommit of the current height.
    own: [Option<ConsensusMessage>; 3],
    /// Non-nil prevotes of the current height (bounded by [`PREVOTES_KEPT_MAX`]).
    prevotes: Vec<Vote>,
    /// Times `own` was re-published at this (height, round).
    resends: u32,
    /// (height, round) at the previous tick.
    resend_mark: (u64, u32),
    /// Hashes of the consensus messages of the current height already fed to the core.
    seen: DigestSet<Hash32>,
    /// Counters of cores replaced after a sync.
    stats_base: ConsensusStats,
    marks: Marks,
    /// Effects of the call being handled.
    effects: Vec<Effect>,
}

/// The height a message-like input is about.
fn input_height(input: &Input) -> Option<u64> {
    match input {
        Input::Proposal(p) => Some(p.data.height),
        Input::Vote(v) => Some(v.data.height),
        Input::ProposalUntimely { height, .. } => Some(*height),
        _ => None,
    }
}

fn is_logged(input: &Input) -> bool {
    !matches!(input, Input::StartHeight { .. })
}

/// The message inside an encoded [`ConsensusEnvelope`]: postcard writes the
/// envelope as `varint(resend) || message`, so this is everything after the
/// varint (its last byte is the first without the continuation bit).
fn message_bytes(envelope: &[u8]) -> &[u8] {
    let varint_len = envelope.iter().position(|b| b & 0x80 == 0).map_or(envelope.len(), |i| i + 1);
    &envelope[varint_len..]
}

/// Largest encoded consensus message or sync item a chain with these
/// parameters can produce (a proposal carrying a full block).
pub fn message_bytes_max(genesis: &Genesis) -> usize {
    (genesis.params.block_txs_max as usize)
        .saturating_mul(genesis.params.tx_bytes_max as usize)
        .saturating_add(FRAME_BYTES_MAX)
}

impl<R: BlockRules> Engine<R> {
    /// An engine for `key` on `genesis` (a voting member when the key is in
    /// the validator set, an observer otherwise), whose guard last signed
    /// `last_signed` (the sign-state file). Call [`Engine::start`] next.
    pub fn new(
        config: EngineConfig,
        genesis: Arc<Genesis>,
        key: Keypair,
        rules: R,
        memo: Arc<VerifiedSet>,
        last_signed: Option<SignedStep>,
    ) -> Self {
        let schedule = ValidatorSchedule::genesis(&genesis);
        let core = new_core(&genesis, schedule.at(1), &key, &config.consensus);
        Engine {
            config,
            genesis,
            schedule,
            key,
            rules,
            memo,
            core,
            guard: SignGuard::new(last_signed),
            executed: BTreeMap::new(),
            checked: VecDeque::new(),
            pending_build: None,
            replaying: false,
            built_during_replay: BTreeSet::new(),
            sync: SyncState::default(),
            own: [None, None, None],
            prevotes: Vec::new(),
            resends: 0,
            resend_mark: (0, 0),
            seen: DigestSet::default(),
            stats_base: ConsensusStats::default(),
            marks: Marks::default(),
            effects: Vec::new(),
        }
    }

    fn chain(&self) -> &str {
        &self.genesis.chain_id
    }

    /// The height being decided.
    pub fn height(&self) -> u64 {
        self.core.height()
    }

    /// The current round.
    pub fn round(&self) -> u32 {
        self.core.round()
    }

    /// `(lockedRound, lockedValue)` of the core.
    pub fn locked(&self) -> Option<(u32, BlockHash)> {
        self.core.locked()
    }

    /// The last step the guard allowed to be signed.
    pub fn last_signed(&self) -> Option<SignedStep> {
        self.guard.last()
    }

    /// Coverage marks so far (with the memo's hits).
    pub fn marks(&self) -> Marks {
        Marks { memo_hits: self.memo.hits(), ..self.marks.clone() }
    }

    /// The verify-once memo.
    pub fn memo(&self) -> &Arc<VerifiedSet> {
        &self.memo
    }

    /// The core's counters, across the cores this engine replaced.
    pub fn consensus_stats(&self) -> ConsensusStats {
        let (b, c) = (&self.stats_base, self.core.stats());
        ConsensusStats {
            invalid_messages: b.invalid_messages + c.invalid_messages,
            far_future_messages: b.far_future_messages + c.far_future_messages,
            dropped_messages: b.dropped_messages + c.dropped_messages,
            stale_messages: b.stale_messages + c.stale_messages,
            equivocations: b.equivocations + c.equivocations,
        }
    }

    /// Starts at the store's tip + 1 and replays the WAL records of that height
    /// (`wal`, as read from disk) into the fresh core. Signatures asked for
    /// again pass the guard because they are identical (ed25519 is deterministic).
    pub fn start<S: ChainStore>(
        &mut self,
        store: &mut S,
        wal: Vec<(u64, WalEntry)>,
    ) -> Result<Vec<Effect>, EngineError> {
        self.effects.clear();
        let result = self.start_inner(store, wal);
        self.finish(result)
    }

    fn start_inner<S: ChainStore>(
        &mut self,
        store: &mut S,
        wal: Vec<(u64, WalEntry)>,
    ) -> Result<(), EngineError> {
        let height = store.tip()?.height + 1;
        self.refresh_schedule(store)?;
        self.core = new_core(&self.genesis, self.schedule.at(height), &self.key, &self.config.consensus);
        self.replaying = true;
        self.feed(store, Input::StartHeight { height })?;
        let mut replayed = 0u64;
        for (h, WalEntry::Input(input)) in wal {
            if h != height {
                continue;
            }
            if let Input::BlockBuilt { height, round, .. } = &input {
                self.built_during_replay.insert((*height, *round));
            }
            replayed += 1;
            self.feed(store, input)?;
        }
        self.replaying = false;
        self.marks.wal_replayed += replayed;
        if replayed > 0 {
            tracing::info!(height, replayed, "replayed the consensus WAL");
        }
        if let Some((h, r)) = self.pending_build {
            if self.built_during_replay.contains(&(h, r)) {
                self.pending_build = None;
            } else {
                self.schedule_build(h, r);
            }
        }
        self.built_during_replay.clear();
        Ok(())
    }

    /// Handles one event; returns the effects to perform, in order. On `Err`
    /// the host halts and performs none of them.
    pub fn handle<S: ChainStore>(
        &mut self,
        store: &mut S,
        now_ms: u64,
        event: Event,
    ) -> Result<Vec<Effect>, EngineError> {
        self.effects.clear();
        let result = match event {
            Event::Message { from, bytes } => self.on_message(store, now_ms, from, &bytes),
            Event::Timeout(t) => self.feed(store, Input::TimeoutElapsed(t)),
            Event::BuildDue { height, round, candidates } => {
                self.on_build_due(store, now_ms, height, round, candidates)
            }
            Event::Tick => {
                self.on_tick(now_ms);
                Ok(())
            }
            Event::PeerConnected(peer) => {
                self.request_blocks(now_ms, Some(peer));
                Ok(())
            }
            Event::Synced { from, items } => self.on_synced(store, now_ms, from, items),
        };
        self.finish(result)
    }

    fn finish(&mut self, result: Result<(), EngineError>) -> Result<Vec<Effect>, EngineError> {
        let effects = std::mem::take(&mut self.effects);
        result.map(|()| effects)
    }

    // ----- Feeding the core --------------------------------------------------------------------

    /// Feeds one input and everything it causes, in order.
    fn feed<S: ChainStore>(&mut self, store: &mut S, first: Input) -> Result<(), EngineError> {
        let mut queue = VecDeque::from([first]);
        let mut handled = 0usize;
        while let Some(input) = queue.pop_front() {
            handled += 1;
            assert!(handled <= FEED_INPUTS_MAX, "one event caused {handled} core inputs: a core/engine loop");
            if !self.replaying && is_logged(&input) {
                let height = self.core.height().max(1);
                self.effects.push(Effect::AppendWal { height, entry: WalEntry::Input(input.clone()) });
            }
            self.remember(&input);
            let starts = match input {
                Input::StartHeight { height } => {
                    // The set of the height starting (a change takes effect at its StartHeight).
                    self.core.set_next_validators(self.schedule.at(height).clone());
                    Some(height)
                }
                _ => None,
            };
            let outputs = self.core.handle(input);
            if let Some(height) = starts {
                // Early messages of the next height are checked against its set.
                self.core.set_next_validators(self.schedule.at(height.saturating_add(1)).clone());
                self.log_membership(height);
            }
            for output in outputs {
                self.on_output(store, output, &mut queue)?;
            }
        }
        Ok(())
    }

    /// Keeps what [`Engine::on_tick`] may re-publish: our own signed messages
    /// (also those replayed from the WAL: the guard lets a restarted validator
    /// re-sign only its very last message, so earlier ones come back from the
    /// WAL), and the non-nil prevotes of the current height (bounded), from
    /// which the polka behind our lock or valid value is re-published.
    fn remember(&mut self, input: &Input) {
        let me = self.key.public();
        match input {
            Input::Proposal(p) if p.proposer == me && p.data.height == self.core.height() => {
                self.own[0] = Some(ConsensusMessage::Proposal(p.clone()));
            }
            Input::Vote(v) if v.data.height == self.core.height() => {
                if v.validator == me {
                    let slot = if v.data.kind == VoteKind::Prevote { 1 } else { 2 };
                    self.own[slot] = Some(ConsensusMessage::Vote(v.clone()));
                }
                if v.data.kind == VoteKind::Prevote
                    && v.data.block_hash.is_some()
                    && self.prevotes.len() < PREVOTES_KEPT_MAX
                    && !self.prevotes.contains(v)
                {
                    self.prevotes.push(v.clone());
                }
            }
            _ => {}
        }
    }

    fn on_output<S: ChainStore>(
        &mut self,
        store: &mut S,
        output: Output,
        queue: &mut VecDeque<Input>,
    ) -> Result<(), EngineError> {
        match output {
            Output::BuildBlock { height, round } => {
                self.pending_build = Some((height, round));
                if !self.replaying {
                    self.schedule_build(height, round);
                }
            }
            Output::ValidateBlock { height, round, block } => {
                let block_hash = block.header.hash();
                let valid = self.validate(store, block_hash, &block)?;
                queue.push_back(Input::ProposalVerdict { height, round, block_hash, valid });
            }
            Output::Propose { data, block } => {
                let step = SignedStep::for_proposal(self.chain(), &data);
                if self.persist_before_signing(step) {
                    let proposal = Box::new(data.sign(self.chain(), &self.key, block));
                    self.publish(ConsensusMessage::Proposal(proposal.clone()));
                    queue.push_back(Input::Proposal(proposal));
                }
            }
            Output::Vote(data) => {
                let step = SignedStep::for_vote(self.chain(), &data);
                if self.persist_before_signing(step) {
                    let vote = data.sign(self.chain(), &self.key);
                    self.publish(ConsensusMessage::Vote(vote.clone()));
                    queue.push_back(Input::Vote(vote));
                }
            }
            Output::ScheduleTimeout { timeout, duration_ms } => {
                self.effects.push(Effect::ScheduleTimeout { timeout, duration_ms });
            }
            Output::Decide { block, commit } => {
                self.commit_decided(store, block, commit)?;
                let height = store.tip()?.height + 1;
                queue.push_back(Input::StartHeight { height });
            }
            Output::Equivocation(evidence) => {
                self.marks.equivocations += 1;
                tracing::warn!(validator = %evidence.first.validator, height = evidence.first.data.height, round = evidence.first.data.round, "equivocation: two different votes for one step");
                self.effects.push(Effect::Equivocation(evidence));
            }
        }
        Ok(())
    }

    fn schedule_build(&mut self, height: u64, round: u32) {
        self.effects.push(Effect::ScheduleBuild {
            height,
            round,
            empty_wait_ms: self.config.empty_block_wait_ms,
            batch_wait_ms: self.config.batch_wait_ms,
        });
    }

    /// Rule S1, never double-sign: refuse anything not strictly after the last
    /// signed step unless identical; make the WAL and then the new sign-state
    /// durable *before* the signature is published. False when refused.
    fn persist_before_signing(&mut self, step: SignedStep) -> bool {
        if let Err(refused) = self.guard.check(&step) {
            self.marks.sign_refused += 1;
            tracing::error!(?step, reason = %refused, "refusing to sign: it could be a double-sign");
            return false;
        }
        self.effects.push(Effect::SyncWal);
        if self.guard.last() != Some(step) {
            self.effects.push(Effect::PersistSignState(step));
            self.guard.record(step);
        }
        true
    }

    /// Publishes one of our own messages and remembers it for re-publication.
    fn publish(&mut self, message: ConsensusMessage) {
        let slot = match &message {
            ConsensusMessage::Proposal(_) => 0,
            ConsensusMessage::Vote(v) if v.data.kind == VoteKind::Prevote => 1,
            ConsensusMessage::Vote(_) => 2,
        };
        self.own[slot] = Some(message.clone());
        self.effects.push(Effect::Publish(ConsensusEnvelope { resend: 0, message }));
    }

    // ----- Blocks ------------------------------------------------------------------------------

    /// The ledger's verdict on a proposed block (cached by header hash).
    fn validate<S: ChainStore>(
        &mut self,
        store: &S,
        hash: BlockHash,
        block: &Arc<Block>,
    ) -> Result<bool, EngineError> {
        if self.executed.contains_key(&hash) {
            return Ok(true);
        }
        let tip = store.tip()?;
        match self.validate_on(store, &tip, block) {
            Ok(executed) => {
                self.executed.insert(hash, executed);
                Ok(true)
            }
            Err(e) if e.is_rejection() => {
                let cause = e.root_cause();
                tracing::warn!(height = block.header.height, proposer = %block.header.proposer, code = cause.code(), reason = %e, "invalid proposal: voting nil");
                self.effects
                    .push(Effect::ProposalRefused { proposer: block.header.proposer, code: cause.code() });
                Ok(false)
            }
            Err(error) => Err(EngineError::LedgerFault { doing: "validating a proposal", error }),
        }
    }

    /// [`BlockRules::validate`] of `block` on `tip`, through the body check
    /// made when it arrived if there was one (the same verdict and execution).
    fn validate_on<S: ChainStore>(
        &mut self,
        store: &S,
        tip: &Tip,
        block: &Arc<Block>,
    ) -> Result<keepsake_ledger::Executed, keepsake_ledger::LedgerError> {
        match self.checked.iter().position(|c| Arc::ptr_eq(c.block(), block)) {
            Some(i) => {
                let checked = self.checked.remove(i).expect("position is in range");
                self.marks.validated_checked_body += 1;
                self.rules.validate_checked(store.state(), &self.genesis, tip, &checked, &*self.memo)
            }
            None => self.rules.validate(store.state(), &self.genesis, tip, block, &*self.memo),
        }
    }

    fn on_build_due<S: ChainStore>(
        &mut self,
        store: &mut S,
        now_ms: u64,
        height: u64,
        round: u32,
        candidates: Vec<SignedTx>,
    ) -> Result<(), EngineError> {
        if self.pending_build != Some((height, round)) {
            return Ok(());
        }
        self.pending_build = None;
        if self.core.height() != height || self.core.round() != round {
            return Ok(());
        }
        let tip = store.tip()?;
        let built = self
            .rules
            .build(store.state(), &self.genesis, &tip, self.key.public(), now_ms, candidates, &*self.memo)
            .map_err(|error| EngineError::LedgerFault { doing: "building a block", error })?;
        for (tx, error) in built.left_out {
            self.marks.txs_left_out += 1;
            let tx_id = tx.id(self.chain());
            tracing::info!(%tx_id, code = error.code(), reason = %error, "transaction left out of our proposal");
            self.effects.push(Effect::LeftOut { tx_id, error });
        }
        let block = built.block;
        tracing::debug!(height, round, txs = block.txs.len(), "built our proposal");
        self.executed.insert(block.header.hash(), built.executed);
        self.feed(store, Input::BlockBuilt { height, round, block: Arc::new(block) })
    }

    /// Stores a decided block with its commit.
    fn commit_decided<S: ChainStore>(
        &mut self,
        store: &mut S,
        block: Arc<Block>,
        commit: Commit,
    ) -> Result<(), EngineError> {
        let height = block.header.height;
        commit
            .verify(&block.header, self.schedule.at(height))
            .map_err(|e| EngineError::DecidedWithoutQuorum { height, reason: e.to_string() })?;
        let hash = block.header.hash();
        let executed = match self.executed.remove(&hash) {
            Some(e) => {
                self.marks.validated_cache_hit += 1;
                e
            }
            None => {
                let tip = store.tip()?;
                match self.validate_on(store, &tip, &block) {
                    Ok(e) => e,
                    Err(error) if error.is_rejection() => {
                        return Err(EngineError::DecidedInvalid { height, error });
                    }
                    Err(error) => {
                        return Err(EngineError::LedgerFault { doing: "validating a decided block", error });
                    }
                }
            }
        };
        store.commit_block(&block, &commit, &executed)?;
        self.refresh_schedule(store)?;
        let next = height + 1;
        // A committed transaction is never valid again: its memo entry is of no
        // further use, and forgetting it keeps the memo the size of the backlog.
        self.memo.forget(executed.digests.iter().copied());
        self.after_commit(block.header.clone(), executed.tx_ids, false);
        // The core keeps the messages of the next height that arrived early and feeds
        // them at `StartHeight`; they were logged under this height, which `ResetWal`
        // just emptied. Log them again under the new height, so that a replay
        // reproduces every vote they cause (found by the simulator: a stale sign-state
        // after a power loss let a validator prevote nil where it had prevoted a block
        // proposed early).
        for input in self.core.buffered() {
            if input_height(input) == Some(next) {
                self.effects.push(Effect::AppendWal { height: next, entry: WalEntry::Input(input.clone()) });
            }
        }
        Ok(())
    }

    fn after_commit(&mut self, header: Header, tx_ids: Vec<keepsake_types::TxId>, synced: bool) {
        self.executed.clear();
        self.checked.clear();
        self.own = [None, None, None];
        self.prevotes.clear();
        self.seen.clear();
        self.pending_build = None;
        tracing::debug!(height = header.height, txs = header.tx_count, synced, "block committed");
        self.effects.push(Effect::ResetWal);
        self.effects.push(Effect::Committed { header, tx_ids, synced });
    }

    // ----- Messages from peers -----------------------------------------------------------------

    fn on_message<S: ChainStore>(
        &mut self,
        store: &mut S,
        now_ms: u64,
        from: PublicKey,
        bytes: &[u8],
    ) -> Result<(), EngineError> {
        let max = message_bytes_max(&self.genesis);
        let message = match encoding::decode::<ConsensusEnvelope>(bytes, max, "consensus message") {
            Ok(envelope) => envelope.message,
            Err(e) => {
                self.marks.refused_undecodable += 1;
                tracing::debug!(peer = %from, error = %e, "undecodable consensus message");
                self.effects.push(Effect::Verdict(GossipVerdict::Reject("undecodable consensus message")));
                return Ok(());
            }
        };
        let height = message.height();
        let current = self.core.height();
        // Duplicates of the current height are dropped before any signature work; the
        // digest is of the message's own bytes, so re-publications (another `resend`)
        // match, and no re-encoding of a whole block is needed.
        let digest = (height == current).then(|| hash::sha256(message_bytes(bytes)));
        if digest.is_some_and(|d| self.seen.contains(&d)) {
            // A re-publication of a message that passed: forward it for peers that missed it.
            self.marks.duplicate_dropped += 1;
            self.effects.push(Effect::Verdict(GossipVerdict::Accept));
            return Ok(());
        }
        // Signatures are checked here once, so that the forwarder of a forged
        // message can be blamed; the core checks them again (it trusts no caller).
        if let Some(reason) = self.refusal(&message) {
            tracing::debug!(peer = %from, reason, "dropping a consensus message");
            self.effects.push(Effect::Verdict(GossipVerdict::Reject(reason)));
            return Ok(());
        }
        // Only what passed is remembered: a forged message must never become a
        // "duplicate" that is forwarded unchecked, nor make us chase a height.
        if let Some(d) = digest
            && self.seen.len() < SEEN_MESSAGES_MAX
        {
            self.seen.insert(d);
        }
        if self.sync.highest_seen.is_none_or(|(h, _)| height > h) {
            self.sync.highest_seen = Some((height, from));
        }
        // A validator working on a later height: we are behind; fetch blocks.
        if height > current {
            self.request_blocks(now_ms, Some(from));
        }
        self.effects.push(Effect::Verdict(GossipVerdict::Accept));
        match message {
            ConsensusMessage::Proposal(p) => {
                // PBTS: a fresh proposal's block time must be timely on our clock.
                if p.data.pol_round.is_none() && !self.config.clock.is_timely(p.block.header.time_ms, now_ms)
                {
                    self.marks.proposal_untimely += 1;
                    tracing::warn!(height = p.data.height, round = p.data.round, proposer = %p.proposer, block_time_ms = p.block.header.time_ms, now_ms, "untimely proposal: its block time is outside the clock window; prevoting nil");
                    let untimely = Input::ProposalUntimely {
                        height: p.data.height,
                        round: p.data.round,
                        block_hash: p.data.block_hash,
                    };
                    self.feed(store, untimely)?;
                }
                self.feed(store, Input::Proposal(p))
            }
            ConsensusMessage::Vote(v) => self.feed(store, Input::Vote(v)),
        }
    }

    /// Why a consensus message must not reach the core, if it must not.
    fn refusal(&mut self, message: &ConsensusMessage) -> Option<&'static str> {
        let (signer, verified) = match message {
            ConsensusMessage::Proposal(p) => (p.proposer, p.verify(self.chain())),
            ConsensusMessage::Vote(v) => (v.validator, v.verify(self.chain())),
        };
        if verified.is_err() {
            self.marks.refused_signature += 1;
            return Some("bad consensus signature");
        }
        // The set of the message's height (the latest known set for a height
        // beyond what the state has scheduled).
        if self.schedule.at(message.height()).get(&signer).is_none() {
            self.marks.refused_signature += 1;
            return Some("consensus message from a non-validator");
        }
        if let ConsensusMessage::Proposal(p) = message {
            // Kept for validation only when it can be this height's block: from
            // the proposer of its round, at the round the core is in or later
            // (later heights are buffered by the core and validated after a
            // commit, which clears these). Anything else is only checked.
            let (height, round) = (p.data.height, p.data.round);
            let keep = height == self.core.height()
                && round >= self.core.round()
                && p.proposer == keepsake_consensus::proposer(self.schedule.at(height), height, round);
            let matches = if keep {
                match CheckedBody::check(self.chain(), &p.block) {
                    Some(checked) => {
                        if self.checked.len() == CHECKED_BODIES_MAX {
                            self.checked.pop_front();
                        }
                        self.checked.push_back(checked);
                        true
                    }
                    None => false,
                }
            } else {
                CheckedBody::matches(self.chain(), &p.block)
            };
            if !matches {
                self.marks.refused_body_mismatch += 1;
                return Some("proposal whose transactions do not match its header");
            }
        }
        None
    }

    // ----- Re-broadcast and sync ---------------------------------------------------------------

    /// Tendermint assumes every message between correct validators is
    /// eventually delivered; gossipsub delivers a message only to peers
    /// connected when it is published. So when a whole tick passes without a
    /// new height or round, we re-publish our latest messages (with a new
    /// `resend` count, hence a new gossip id), and the prevotes behind our
    /// lock and valid value: a validator locked on a value whose polka others
    /// never saw could otherwise never be followed (L28 needs the polka).
    /// A peer known to be ahead is asked for blocks.
    fn on_tick(&mut self, now_ms: u64) {
        let mark = (self.core.height(), self.core.round());
        if mark != self.resend_mark {
            self.resend_mark = mark;
            self.resends = 0;
        } else {
            self.resends = self.resends.saturating_add(1);
            let mut messages: Vec<ConsensusMessage> = self.own.iter().flatten().cloned().collect();
            if !messages.is_empty() {
                self.marks.rebroadcast_when_stuck += 1;
            }
            let polkas: Vec<(u32, BlockHash)> =
                [self.core.locked(), self.core.valid()].into_iter().flatten().collect();
            let me = self.key.public();
            for vote in &self.prevotes {
                if vote.validator != me
                    && polkas.iter().any(|(r, h)| vote.data.round == *r && vote.data.block_hash == Some(*h))
                {
                    self.marks.polka_relayed += 1;
                    messages.push(ConsensusMessage::Vote(vote.clone()));
                }
            }
            if !messages.is_empty() {
                tracing::debug!(
                    height = mark.0,
                    round = mark.1,
                    resend = self.resends,
                    "no progress: re-publishing our consensus messages"
                );
            }
            for message in messages {
                self.effects.push(Effect::Publish(ConsensusEnvelope { resend: self.resends, message }));
            }
            if let Some((height, peer)) = self.sync.highest_seen
                && height > mark.0
            {
                self.request_blocks(now_ms, Some(peer));
            }
        }
        if self.sync.last_probe_ms.is_none_or(|t| now_ms.saturating_sub(t) >= self.config.sync_probe_ms) {
            self.request_blocks(now_ms, None);
        }
    }

    /// Asks `peer` (or any peer) for blocks after our tip, one request at a time.
    fn request_blocks(&mut self, now_ms: u64, peer: Option<PublicKey>) {
        let peer = peer.filter(|p| !self.sync.refused.contains(p));
        if self.sync.in_flight_since_ms.is_some_and(|t| now_ms.saturating_sub(t) < SYNC_TIMEOUT_MS)
            || self.sync.last_request_ms.is_some_and(|t| now_ms.saturating_sub(t) < self.config.sync_retry_ms)
            || peer == Some(self.key.public())
        {
            return;
        }
        self.sync.in_flight_since_ms = Some(now_ms);
        self.sync.last_request_ms = Some(now_ms);
        if peer.is_none() {
            self.sync.last_probe_ms = Some(now_ms);
        }
        self.marks.sync_requested += 1;
        self.effects.push(Effect::RequestBlocks {
            peer,
            avoid: self.sync.refused.iter().copied().collect(),
            from_height: self.core.height().max(1),
            max_blocks: self.config.sync_batch_blocks,
        });
    }

    /// Verifies and commits synced blocks — chain and height first, then the
    /// commit against the validator set, then the body against the signed
    /// header, then every ledger rule — and restarts consensus at the new height.
    fn on_synced<S: ChainStore>(
        &mut self,
        store: &mut S,
        now_ms: u64,
        from: PublicKey,
        items: Vec<Vec<u8>>,
    ) -> Result<(), EngineError> {
        self.sync.in_flight_since_ms = None;
        let max = message_bytes_max(&self.genesis);
        let mut applied = 0u64;
        for bytes in items {
            let item: SyncItem = match encoding::decode(&bytes, max, "sync item") {
                Ok(i) => i,
                Err(e) => {
                    self.marks.sync_refused_undecodable += 1;
                    self.refuse_sync(from, "undecodable sync item", &e.to_string());
                    break;
                }
            };
            let tip: Tip = store.tip()?;
            let header = &item.block.header;
            if header.height <= tip.height && *header.chain_id == *self.chain() {
                continue;
            }
            if *header.chain_id != *self.chain()
                || header.height != tip.height + 1
                || item.commit.height != header.height
            {
                self.marks.sync_refused_out_of_order += 1;
                let detail = format!("got height {} for tip {}", header.height, tip.height);
                self.refuse_sync(from, "sync block of another chain or out of order", &detail);
                break;
            }
            if let Err(e) = item.commit.verify(header, self.schedule.at(header.height)) {
                self.marks.sync_refused_commit += 1;
                self.refuse_sync(from, "sync block without a valid commit", &e.to_string());
                break;
            }
            let SyncItem { block, commit } = item;
            let Some(checked) = CheckedBody::check(self.chain(), &Arc::new(block)) else {
                self.marks.sync_refused_body += 1;
                self.refuse_sync(from, "sync block whose body does not match its header", "");
                break;
            };
            let executed = match self.rules.validate_checked(
                store.state(),
                &self.genesis,
                &tip,
                &checked,
                &*self.memo,
            ) {
                Ok(e) => e,
                Err(e) if e.is_rejection() => {
                    let height = checked.block().header.height;
                    tracing::error!(peer = %from, height, error = %e, "a quorum-signed block breaks a ledger rule");
                    self.refuse_sync(from, "invalid synced block", &e.to_string());
                    break;
                }
                Err(error) => {
                    return Err(EngineError::LedgerFault { doing: "validating a synced block", error });
                }
            };
            let block = checked.block();
            store.commit_block(block, &commit, &executed)?;
            self.refresh_schedule(store)?;
            self.memo.forget(executed.digests.iter().copied());
            self.after_commit(block.header.clone(), executed.tx_ids, true);
            self.marks.sync_applied += 1;
            applied += 1;
        }
        if applied > 0 {
            let height = store.tip()?.height + 1;
            tracing::info!(peer = %from, blocks = applied, next_height = height, "caught up by block sync");
            self.fresh_core(height);
            self.feed(store, Input::StartHeight { height })?;
            // More may be waiting.
            self.sync.last_request_ms = None;
            self.request_blocks(now_ms, Some(from));
        }
        Ok(())
    }

    fn refuse_sync(&mut self, from: PublicKey, reason: &'static str, detail: &str) {
        tracing::warn!(peer = %from, reason, detail, "refusing a sync answer");
        // Ask others from now on; when every other validator was refused once
        // (corruption on the way can make an honest answer fail), start over.
        self.sync.refused.insert(from);
        let me = self.key.public();
        let others =
            self.schedule.latest().validators.validators.iter().filter(|v| v.public_key != me).count();
        if self.sync.refused.len() >= others {
            self.sync.refused.clear();
        }
        if self.sync.highest_seen.is_some_and(|(_, p)| p == from) {
            self.sync.highest_seen = None;
        }
        self.sync.last_request_ms = None;
        self.effects.push(Effect::ReportPeer { peer: from, reason });
    }

    /// Replaces the core with a fresh one (after blocks were stored by sync),
    /// keeping its counters.
    fn fresh_core(&mut self, height: u64) {
        self.stats_base = self.consensus_stats();
        self.core = new_core(&self.genesis, self.schedule.at(height), &self.key, &self.config.consensus);
    }

    /// Reads the validator sets again from the committed state (after a block
    /// that may have scheduled a new one).
    fn refresh_schedule<S: ChainStore>(&mut self, store: &S) -> Result<(), EngineError> {
        self.schedule = keepsake_ledger::membership::schedule(store.state(), &self.genesis)
            .map_err(|error| EngineError::LedgerFault { doing: "reading the validator sets", error })?;
        Ok(())
    }

    /// The validator sets known to this engine (the explorer's and metrics' view).
    pub fn schedule(&self) -> &ValidatorSchedule {
        &self.schedule
    }

    /// Says when a height starts under a new validator set, and whether we vote in it.
    fn log_membership(&self, height: u64) {
        if height > 1 && self.schedule.sets().iter().any(|s| s.from_height == height) {
            let set = self.schedule.at(height);
            tracing::info!(
                height,
                validators = set.validators.len(),
                voting = self.core.is_voter(),
                "a new validator set governs from this height"
            );
        }
    }
}

/// A core for this key: a voting member when it is in the set, an observer
/// otherwise. The core gets our key either way: a set change taking effect at
/// a later `StartHeight` makes an observer a voter (and a voter an observer).
/// (Found by the simulator: handing the core no key when we were not in the
/// set of its first height left an added validator observing for good, until
/// a restart or a block sync replaced its core; a chain whose quorum needed
/// it stopped.)
fn new_core(
    genesis: &Genesis,
    validators: &ValidatorSet,
    key: &Keypair,
    config: &ConsensusConfig,
) -> Consensus {
    Consensus::new(genesis.chain_id.to_string(), validators.clone(), Some(key.public()), config.clone())
}

/// Serves a block-sync request from `store`: blocks with their commits from
/// `from_height` on, at most `max_blocks` (capped at `batch_max`) and about
/// `bytes_max` bytes, encoded. The same policy for the node and the simulator.
pub fn serve_blocks<S: ChainStore>(
    store: &S,
    from_height: u64,
    max_blocks: u32,
    batch_max: u32,
    bytes_max: usize,
) -> Result<Vec<Vec<u8>>, EngineError> {
    let mut items = Vec::new();
    let mut bytes = 0usize;
    let end = from_height.saturating_add(u64::from(max_blocks.min(batch_max)));
    for h in from_height.max(1)..end {
        let Some(item) = store.sync_item(h)? else { break };
        let encoded = encoding::encode(&item);
        bytes += encoded.len();
        items.push(encoded);
        if bytes > bytes_max {
            break;
        }
    }
    Ok(items)
}
