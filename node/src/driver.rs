//! The consensus driver: runs the pure Tendermint core
//! ([`keepsake_consensus::Consensus`]) on tokio, and is the only place where
//! its outputs meet the world.
//!
//! | core output | what the driver does |
//! |---|---|
//! | `BuildBlock` | `ledger::build_block_memo` from the mempool (waits up to `empty_block_wait_ms` for a transaction first) |
//! | `ValidateBlock` | `ledger::validate_block_memo` on committed state (signatures verified at admission are not verified again); the verdict goes back in |
//! | `Propose` / `Vote` | **sign guard** (never double-sign) -> `fdatasync` the WAL -> durably store the sign-state -> sign -> gossip -> feed back |
//! | `ScheduleTimeout` | a tokio timer that feeds `TimeoutElapsed` back |
//! | `Decide` | store the block and its commit atomically, clean the mempool, notify subscribers, start the next height |
//! | `Equivocation` | log, count, keep the evidence (bounded, in memory and in the store's evidence tree for auditors) |
//!
//! Every input of the current height is appended to the WAL before the core
//! sees it; on restart the WAL is replayed into a fresh core, so the validator
//! resumes with the same locks and votes. A node that falls behind (restart,
//! partition) fetches blocks with their commits from a peer, verifies the
//! commit and every ledger rule, stores them, and rejoins at the new height.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context;
use keepsake_consensus::{
    Consensus, ConsensusConfig, ConsensusStats, Input, Output, SignGuard, SignedStep, Timeout, WalEntry,
};
use keepsake_ledger::{Built, Executed, LedgerError, build_block_memo, validate_block_memo};
use keepsake_network::{GossipId, GossipVerdict, NetworkEvent, NetworkHandle, Topic};
use keepsake_rpc::types::BlockSummary;
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{
    Block, BlockHash, Commit, Keypair, PublicKey, SignedTx, TxBody, ValidatorSet, encoding,
};
use sha2::Digest;
use tokio::sync::{mpsc, watch};

use crate::node::{Shared, now_ms};
use crate::wal::{SignStateFile, Wal};

/// Most blocks asked for in one sync request.
pub const SYNC_BATCH_BLOCKS: u32 = 64;
/// Most message hashes remembered per height for dropping duplicates (beyond it,
/// duplicates reach the core, which ignores them; only the WAL grows).
const SEEN_MESSAGES_MAX: usize = 100_000;
/// Most prevotes of one height kept for re-publishing a polka.
const PREVOTES_KEPT_MAX: usize = 4096;
/// Most equivocation evidence kept in memory.
pub const EVIDENCE_MAX: usize = 1000;
/// Capacity of the driver's input channels.
const CHANNEL_CAPACITY: usize = 4096;

/// Settings of the driver (from `[consensus]` and `[block]`).
#[derive(Clone, Debug)]
pub struct DriverSettings {
    /// Core timeouts.
    pub consensus: ConsensusConfig,
    /// How long a proposer with an empty mempool waits for a transaction.
    pub empty_block_wait: Duration,
    /// How long a proposer with pending transactions waits for more (folds a
    /// burst into one block).
    pub batch_wait: Duration,
    /// Most bytes of transactions in a block we propose: the proposal must
    /// fit in one gossip message (`[p2p] max_message_bytes` less headroom).
    pub block_bytes_max: usize,
    /// Fault injection for tests: when this node proposes, it appends a
    /// transfer to its block. Never set in production configs.
    pub propose_transfer: bool,
}

/// What the network dispatcher forwards to the driver.
pub enum DriverEvent {
    /// A consensus message from a peer (already decoded, signatures not yet checked).
    Consensus {
        /// Its gossip id, for the forward-or-not verdict (boxed: it is large).
        id: Box<GossipId>,
        /// The peer that forwarded it.
        from: PublicKey,
        /// The message.
        message: ConsensusMessage,
    },
    /// A peer connected.
    PeerConnected(PublicKey),
    /// Blocks fetched from a peer.
    Synced {
        /// The peer that answered.
        from: PublicKey,
        /// Encoded [`SyncItem`]s, in height order.
        items: Vec<Vec<u8>>,
    },
}

/// Handles to talk to the driver.
#[derive(Clone)]
pub struct DriverInbox {
    /// Network-originated events.
    pub events: mpsc::Sender<DriverEvent>,
}

struct Driver {
    shared: Arc<Shared>,
    key: Keypair,
    validators: ValidatorSet,
    settings: DriverSettings,
    core: Consensus,
    guard: SignGuard,
    sign_file: SignStateFile,
    wal: Wal,
    net: NetworkHandle,
    timeouts_tx: mpsc::Sender<Timeout>,
    events_tx: mpsc::Sender<DriverEvent>,
    executed: HashMap<BlockHash, Executed>,
    pending_build: Option<(u64, u32, Instant)>,
    replaying: bool,
    built_during_replay: HashSet<(u64, u32)>,
    sync_in_flight: bool,
    last_sync: Instant,
    evidence: VecDeque<keepsake_consensus::Evidence>,
    /// Counters of cores replaced after a sync (a fresh core starts at zero).
    stats_base: ConsensusStats,
    /// Our latest proposal, prevote and precommit of the current height, re-published while
    /// the core makes no progress (peers that were down or cut off missed them).
    own: [Option<ConsensusMessage>; 3],
    /// Non-nil prevotes of the current height (bounded by `PREVOTES_KEPT_MAX`).
    prevotes: Vec<keepsake_types::Vote>,
    /// Times `own` was re-published at this (height, round).
    resends: u32,
    /// (height, round) at the previous resend tick.
    resend_mark: (u64, u32),
    /// Hashes of the consensus messages of the current height already fed to the core
    /// (re-publications and gossip duplicates are dropped before the WAL).
    seen: HashSet<keepsake_types::Hash32>,
}

/// Starts the driver task. Returns its inbox; the task ends on shutdown or on a fault.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    shared: Arc<Shared>,
    key: Keypair,
    settings: DriverSettings,
    net: NetworkHandle,
    sign_file: SignStateFile,
    wal: Wal,
    wal_entries: Vec<(u64, WalEntry)>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(DriverInbox, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let validators = shared.genesis.validator_set();
    let last_signed: Option<SignedStep> = sign_file.load()?;
    let core = new_core(&shared.genesis.chain_id, &validators, &key, &settings.consensus);
    let (timeouts_tx, timeouts_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let driver = Driver {
        shared,
        key,
        validators,
        settings,
        core,
        guard: SignGuard::new(last_signed),
        sign_file,
        wal,
        net,
        timeouts_tx,
        events_tx: events_tx.clone(),
        executed: HashMap::new(),
        pending_build: None,
        replaying: false,
        built_during_replay: HashSet::new(),
        sync_in_flight: false,
        last_sync: Instant::now() - Duration::from_secs(60),
        evidence: VecDeque::new(),
        stats_base: ConsensusStats::default(),
        own: [None, None, None],
        prevotes: Vec::new(),
        resends: 0,
        resend_mark: (0, 0),
        seen: HashSet::new(),
    };
    let task = tokio::spawn(driver.run(wal_entries, timeouts_rx, events_rx, shutdown));
    Ok((DriverInbox { events: events_tx }, task))
}

/// A core for this node: a voting member when its key is in the set, an observer otherwise.
fn new_core(chain_id: &str, validators: &ValidatorSet, key: &Keypair, config: &ConsensusConfig) -> Consensus {
    let me = validators.get(&key.public()).map(|v| v.public_key);
    Consensus::new(chain_id.to_string(), validators.clone(), me, config.clone())
}

fn is_logged(input: &Input) -> bool {
    !matches!(input, Input::StartHeight { .. })
}

impl Driver {
    fn chain(&self) -> &str {
        &self.shared.genesis.chain_id
    }

    fn tip(&self) -> anyhow::Result<keepsake_ledger::Tip> {
        Ok(self.shared.store.ledger_tip(&self.shared.genesis)?)
    }

    async fn run(
        mut self,
        wal_entries: Vec<(u64, WalEntry)>,
        mut timeouts_rx: mpsc::Receiver<Timeout>,
        mut events_rx: mpsc::Receiver<DriverEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let height = self.tip()?.height + 1;
        // Replay the WAL of the current height into the fresh core.
        self.replaying = true;
        self.feed(Input::StartHeight { height }).await?;
        let mut replayed = 0usize;
        for (h, WalEntry::Input(input)) in wal_entries {
            if h == height {
                if let Input::BlockBuilt { height, round, .. } = &input {
                    self.built_during_replay.insert((*height, *round));
                }
                self.feed(input).await?;
                replayed += 1;
            }
        }
        self.replaying = false;
        if replayed > 0 {
            tracing::info!(height, replayed, "replayed the consensus WAL");
        }
        if let Some((h, r, _)) = self.pending_build
            && self.built_during_replay.contains(&(h, r))
        {
            self.pending_build = None;
        }
        let mut sync_tick = tokio::time::interval(Duration::from_secs(2));
        sync_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resend_tick =
            tokio::time::interval(Duration::from_millis(self.settings.consensus.timeout_propose_ms.max(100)));
        resend_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let build_deadline = self.pending_build.map(|(_, _, d)| d);
            tokio::select! {
                Some(timeout) = timeouts_rx.recv() => self.feed(Input::TimeoutElapsed(timeout)).await?,
                Some(event) = events_rx.recv() => self.on_event(event).await?,
                () = self.shared.new_tx.notified(), if build_deadline.is_some() => self.hurry_build(),
                () = sleep_until(build_deadline), if build_deadline.is_some() => self.try_build().await?,
                _ = sync_tick.tick() => self.maybe_sync(None),
                _ = resend_tick.tick() => self.resend_if_stuck().await,
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Feeds one input and everything it causes, in order.
    async fn feed(&mut self, first: Input) -> anyhow::Result<()> {
        let mut queue = VecDeque::from([first]);
        while let Some(input) = queue.pop_front() {
            if !self.replaying && is_logged(&input) {
                self.wal.append(self.core.height().max(1), &WalEntry::Input(input.clone()))?;
            }
            self.remember(&input);
            for output in self.core.handle(input) {
                self.on_output(output, &mut queue).await?;
            }
        }
        self.publish_stats();
        Ok(())
    }

    /// Keeps what [`Driver::resend_if_stuck`] may need to re-publish: our own
    /// signed messages (also those replayed from the WAL: the guard lets a
    /// restarted validator re-sign only its very last message, so earlier ones
    /// of the height come back from the WAL, not from a new signature), and the
    /// prevotes of the current height (bounded), from which the polka behind
    /// our lock or valid value is re-published.
    fn remember(&mut self, input: &Input) {
        let me = self.key.public();
        match input {
            Input::Proposal(p) if p.proposer == me && p.data.height == self.core.height() => {
                self.own[0] = Some(ConsensusMessage::Proposal(p.clone()));
            }
            Input::Vote(v) if v.data.height == self.core.height() => {
                if v.validator == me {
                    let slot = if v.data.kind == keepsake_types::VoteKind::Prevote { 1 } else { 2 };
                    self.own[slot] = Some(ConsensusMessage::Vote(v.clone()));
                }
                if v.data.kind == keepsake_types::VoteKind::Prevote
                    && v.data.block_hash.is_some()
                    && self.prevotes.len() < PREVOTES_KEPT_MAX
                {
                    self.prevotes.push(v.clone());
                }
            }
            _ => {}
        }
    }

    /// Mirrors the core's counters into the node's metrics.
    fn publish_stats(&self) {
        let (b, c, m) = (&self.stats_base, self.core.stats(), &self.shared.metrics);
        m.consensus_round.store(u64::from(self.core.round()), Relaxed);
        m.consensus_ignored_invalid.store(b.invalid_messages + c.invalid_messages, Relaxed);
        m.consensus_ignored_far_future.store(b.far_future_messages + c.far_future_messages, Relaxed);
        m.consensus_ignored_stale.store(b.stale_messages + c.stale_messages, Relaxed);
        m.consensus_ignored_buffer_full.store(b.dropped_messages + c.dropped_messages, Relaxed);
    }

    /// Replaces the core with a fresh one (after blocks were stored by sync),
    /// keeping its counters.
    fn fresh_core(&mut self) {
        let old = self.core.stats();
        self.stats_base.invalid_messages += old.invalid_messages;
        self.stats_base.far_future_messages += old.far_future_messages;
        self.stats_base.stale_messages += old.stale_messages;
        self.stats_base.dropped_messages += old.dropped_messages;
        self.stats_base.equivocations += old.equivocations;
        self.core = new_core(self.chain(), &self.validators, &self.key, &self.settings.consensus);
    }

    async fn on_output(&mut self, output: Output, queue: &mut VecDeque<Input>) -> anyhow::Result<()> {
        match output {
            Output::BuildBlock { height, round } => {
                let wait = if self.shared.mempool().is_empty() {
                    self.settings.empty_block_wait
                } else {
                    self.settings.batch_wait
                };
                self.pending_build = Some((height, round, Instant::now() + wait));
                if !self.replaying
                    && wait.is_zero()
                    && let Some(input) = self.build()?
                {
                    queue.push_back(input);
                }
            }
            Output::ValidateBlock { height, round, block } => {
                let block_hash = block.header.hash();
                let valid = self.validate(&block)?;
                queue.push_back(Input::ProposalVerdict { height, round, block_hash, valid });
            }
            Output::Propose { data, block } => {
                let step = SignedStep::for_proposal(self.chain(), &data);
                if self.persist_before_signing(step)? {
                    let proposal = Box::new(data.sign(self.chain(), &self.key, block));
                    self.publish(ConsensusMessage::Proposal(proposal.clone())).await;
                    queue.push_back(Input::Proposal(proposal));
                }
            }
            Output::Vote(data) => {
                let step = SignedStep::for_vote(self.chain(), &data);
                if self.persist_before_signing(step)? {
                    let vote = data.sign(self.chain(), &self.key);
                    self.publish(ConsensusMessage::Vote(vote.clone())).await;
                    queue.push_back(Input::Vote(vote));
                }
            }
            Output::ScheduleTimeout { timeout, duration_ms } => {
                let tx = self.timeouts_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(duration_ms)).await;
                    let _ = tx.send(timeout).await;
                });
            }
            Output::Decide { block, commit } => {
                self.commit(block, commit)?;
                let height = self.tip()?.height + 1;
                queue.push_back(Input::StartHeight { height });
            }
            Output::Equivocation(evidence) => {
                tracing::warn!(validator = %evidence.first.validator, height = evidence.first.data.height, round = evidence.first.data.round, "equivocation: two different votes for one step");
                self.shared.metrics.equivocations.fetch_add(1, Relaxed);
                if self.evidence.len() == EVIDENCE_MAX {
                    self.evidence.pop_front();
                }
                let kept = keepsake_types::DoubleVote {
                    first: evidence.first.clone(),
                    second: evidence.second.clone(),
                };
                // Kept for auditors; a failure to keep it is logged, never fatal.
                if let Err(e) = tokio::task::block_in_place(|| self.shared.store.record_evidence(&kept)) {
                    tracing::error!(error = %e, "cannot store equivocation evidence");
                }
                self.evidence.push_back(evidence);
            }
        }
        Ok(())
    }

    /// The never-double-sign rule: refuse anything not strictly after the
    /// last signed step unless identical; make the WAL and the new sign-state
    /// durable *before* the signature exists. Returns false when refused.
    fn persist_before_signing(&mut self, step: SignedStep) -> anyhow::Result<bool> {
        if let Err(refused) = self.guard.check(&step) {
            tracing::error!(?step, reason = %refused, "refusing to sign: it could be a double-sign");
            self.shared.metrics.sign_refusals.fetch_add(1, Relaxed);
            return Ok(false);
        }
        self.wal.sync()?;
        if self.guard.last() != Some(step) {
            self.sign_file.store(&step)?;
            self.guard.record(step);
        }
        Ok(true)
    }

    /// Gossips one of our own messages and remembers it for re-publication.
    async fn publish(&mut self, message: ConsensusMessage) {
        let slot = match &message {
            ConsensusMessage::Proposal(_) => 0,
            ConsensusMessage::Vote(v) if v.data.kind == keepsake_types::VoteKind::Prevote => 1,
            ConsensusMessage::Vote(_) => 2,
        };
        self.own[slot] = Some(message.clone());
        self.gossip(ConsensusEnvelope { resend: 0, message }).await;
    }

    async fn gossip(&self, envelope: ConsensusEnvelope) {
        if let Err(e) = self.net.publish(Topic::Consensus, encoding::encode(&envelope)).await {
            tracing::debug!(error = %e, "cannot gossip a consensus message");
        }
    }

    /// Tendermint assumes every message between correct validators is
    /// eventually delivered; gossipsub delivers a message only to peers
    /// connected when it is published. So when a whole resend period passes
    /// without a new height or round, we re-publish our latest messages
    /// (with a new `resend` count, hence a new gossip id). Peers that restarted
    /// or were cut off then catch up on the round (L34/L44/L55 can fire again).
    async fn resend_if_stuck(&mut self) {
        let mark = (self.core.height(), self.core.round());
        if mark != self.resend_mark {
            self.resend_mark = mark;
            self.resends = 0;
            return;
        }
        self.resends = self.resends.saturating_add(1);
        let mut messages: Vec<ConsensusMessage> = self.own.iter().flatten().cloned().collect();
        // Tendermint also assumes that what one correct validator received, every correct
        // validator eventually receives: a validator locked on a value whose polka others never
        // saw (a vote lost before a partition healed) could otherwise never be followed. So the
        // prevotes behind our lock and our valid value travel again too.
        let polkas: Vec<(u32, keepsake_types::BlockHash)> =
            [self.core.locked(), self.core.valid()].into_iter().flatten().collect();
        for vote in &self.prevotes {
            if polkas.iter().any(|(r, h)| vote.data.round == *r && vote.data.block_hash == Some(*h))
                && vote.validator != self.key.public()
            {
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
            self.gossip(ConsensusEnvelope { resend: self.resends, message }).await;
        }
    }

    /// A transaction arrived while we wait to propose: propose after
    /// `batch_wait` instead of the longer empty-block wait.
    fn hurry_build(&mut self) {
        if let Some((_, _, deadline)) = &mut self.pending_build {
            *deadline = (*deadline).min(Instant::now() + self.settings.batch_wait);
        }
    }

    /// Builds and feeds our proposal for the pending (height, round).
    async fn try_build(&mut self) -> anyhow::Result<()> {
        if let Some(input) = self.build()? {
            self.feed(input).await?;
        }
        Ok(())
    }

    /// Builds our proposal for the pending (height, round) from the mempool
    /// (possibly empty), if the core still wants it.
    fn build(&mut self) -> anyhow::Result<Option<Input>> {
        let Some((height, round, _)) = self.pending_build else { return Ok(None) };
        if height != self.core.height() || round != self.core.round() {
            self.pending_build = None;
            return Ok(None);
        }
        let block_txs_max = self.shared.genesis.params.block_txs_max as usize;
        let candidates = self.shared.mempool().peek_bounded(block_txs_max, self.settings.block_bytes_max);
        self.pending_build = None;
        let tip = self.tip()?;
        let started = Instant::now();
        let built = tokio::task::block_in_place(|| {
            build_block_memo(
                &*self.shared.store,
                &self.shared.genesis,
                &tip,
                self.key.public(),
                now_ms(),
                candidates,
                &self.shared.verified,
            )
        });
        let Built { mut block, executed, left_out } = match built {
            Ok(b) => b,
            Err(e) => return Err(anyhow::Error::new(e).context("building a block failed")),
        };
        tracing::debug!(
            height,
            round,
            txs = block.txs.len(),
            left_out = left_out.len(),
            micros = started.elapsed().as_micros() as u64,
            "built our proposal"
        );
        {
            let mut pool = self.shared.mempool();
            for (tx, e) in left_out {
                let id = tx.id(self.chain());
                tracing::info!(tx_id = %id, code = e.code(), reason = %e, "transaction left out of our proposal");
                self.shared.metrics.rejected("block", e.code());
                pool.remove(&[id]);
                pool.remember_rejection(id, e);
            }
        }
        if self.settings.propose_transfer {
            self.inject_transfer(&mut block);
        } else {
            self.executed.insert(block.header.hash(), executed);
        }
        Ok(Some(Input::BlockBuilt { height, round, block }))
    }

    /// Fault injection (tests only): append a transfer and fix the header's
    /// transaction count and root, as a malicious proposer would.
    fn inject_transfer(&self, block: &mut Block) {
        let chain = self.chain().to_string();
        let tx = TxBody::Transfer {
            certificate_id: keepsake_types::CertificateId([0xaa; 32]),
            to: keepsake_types::HolderId([0xbb; 32]),
        }
        .sign(&chain, &[&self.key]);
        block.txs.push(tx);
        block.header.tx_count = block.txs.len() as u32;
        let ids: Vec<_> = block.txs.iter().map(|t| t.id(&chain)).collect();
        block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
        tracing::warn!(
            height = block.header.height,
            "FAULT INJECTION: proposing a block that carries a transfer"
        );
    }

    /// The ledger's verdict on a proposed block. Faults of the node are errors, not verdicts.
    fn validate(&mut self, block: &Block) -> anyhow::Result<bool> {
        let hash = block.header.hash();
        if self.executed.contains_key(&hash) {
            return Ok(true);
        }
        let tip = self.tip()?;
        let started = Instant::now();
        let result = tokio::task::block_in_place(|| {
            validate_block_memo(&*self.shared.store, &self.shared.genesis, &tip, block, &self.shared.verified)
        });
        tracing::debug!(
            height = block.header.height,
            txs = block.txs.len(),
            micros = started.elapsed().as_micros() as u64,
            "validated a proposal"
        );
        match result {
            Ok(executed) => {
                self.executed.insert(hash, executed);
                Ok(true)
            }
            Err(e) if e.is_rejection() => {
                let cause = e.root_cause();
                tracing::warn!(height = block.header.height, proposer = %block.header.proposer, code = cause.code(), reason = %e, "invalid proposal: voting nil");
                self.shared.metrics.rejected("proposal", cause.code());
                Ok(false)
            }
            Err(e) => Err(anyhow::Error::new(e).context("validating a proposal failed")),
        }
    }

    /// Stores a decided block with its commit.
    fn commit(&mut self, block: Block, commit: Commit) -> anyhow::Result<()> {
        let hash = block.header.hash();
        commit
            .verify(&block.header, &self.validators)
            .context("the core decided with a commit that does not verify")?;
        let executed = match self.executed.remove(&hash) {
            Some(e) => e,
            None => {
                let tip = self.tip()?;
                tokio::task::block_in_place(|| {
                    validate_block_memo(
                        &*self.shared.store,
                        &self.shared.genesis,
                        &tip,
                        &block,
                        &self.shared.verified,
                    )
                })
                .map_err(|e: LedgerError| anyhow::anyhow!("a decided block does not validate: {e}"))?
            }
        };
        let started = Instant::now();
        tokio::task::block_in_place(|| self.shared.store.commit_block(&block, &commit, &executed))?;
        tracing::debug!(
            height = block.header.height,
            micros = started.elapsed().as_micros() as u64,
            "stored a block"
        );
        self.shared.metrics.block_store_micros_sum.fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        self.after_commit(&block, &executed.tx_ids)
    }

    fn after_commit(&mut self, block: &Block, tx_ids: &[keepsake_types::TxId]) -> anyhow::Result<()> {
        let h = &block.header;
        self.wal.reset()?;
        self.executed.clear();
        self.own = [None, None, None];
        self.prevotes.clear();
        self.seen.clear();
        self.pending_build = None;
        let m = &self.shared.metrics;
        {
            let mut pool = self.shared.mempool();
            pool.remove(tx_ids);
            m.mempool_txs.store(pool.len() as u64, Relaxed);
            m.mempool_bytes.store(pool.bytes() as u64, Relaxed);
        }
        m.height.store(h.height, Relaxed);
        m.blocks_committed.fetch_add(1, Relaxed);
        m.txs_committed.fetch_add(tx_ids.len() as u64, Relaxed);
        let hash = h.hash();
        tracing::info!(height = h.height, hash = %hash, txs = h.tx_count, log_size = h.log_size, "block committed");
        let _ = self.shared.blocks.send(BlockSummary {
            height: h.height,
            hash,
            time_ms: h.time_ms,
            tx_count: h.tx_count,
            log_size: h.log_size,
            log_root: h.log_root,
        });
        Ok(())
    }

    async fn on_event(&mut self, event: DriverEvent) -> anyhow::Result<()> {
        match event {
            DriverEvent::Consensus { id, from, message } => {
                let id = *id;
                let height = message.height();
                let current = self.core.height();
                if height == current {
                    // Re-encoding a proposal is as large as its block: off the runtime.
                    let digest = tokio::task::block_in_place(|| {
                        keepsake_types::Hash32(sha2::Sha256::digest(encoding::encode(&message)).into())
                    });
                    if self.seen.contains(&digest) {
                        // A re-publication: forward it for peers that missed it, feed nothing.
                        self.net.validated(id, GossipVerdict::Accept);
                        return Ok(());
                    }
                    if self.seen.len() < SEEN_MESSAGES_MAX {
                        self.seen.insert(digest);
                    }
                }
                // A peer working on a later height: we are behind; fetch blocks.
                if height > current {
                    self.maybe_sync(Some(from));
                }
                // Signatures are checked here once, so that the forwarder of a forged message
                // can be blamed; the core checks them again (it trusts no caller).
                let (signer, verified) = match &message {
                    ConsensusMessage::Proposal(p) => (p.proposer, p.verify(self.chain())),
                    ConsensusMessage::Vote(v) => (v.validator, v.verify(self.chain())),
                };
                let refusal = match verified {
                    Err(_) => Some("bad consensus signature"),
                    Ok(()) if self.validators.get(&signer).is_none() => {
                        Some("consensus message from a non-validator")
                    }
                    Ok(()) => match &message {
                        // Hashing every transaction of a large block is CPU work: off the runtime.
                        ConsensusMessage::Proposal(p)
                            if !tokio::task::block_in_place(|| {
                                body_matches_header(self.chain(), &p.block)
                            }) =>
                        {
                            Some("proposal whose transactions do not match its header")
                        }
                        _ => None,
                    },
                };
                if let Some(reason) = refusal {
                    tracing::debug!(peer = %from, %signer, reason, "dropping a consensus message");
                    self.shared.metrics.p2p_invalid.fetch_add(1, Relaxed);
                    self.net.validated(id, GossipVerdict::Reject(reason));
                    return Ok(());
                }
                self.net.validated(id, GossipVerdict::Accept);
                let input = match message {
                    ConsensusMessage::Proposal(p) => Input::Proposal(p),
                    ConsensusMessage::Vote(v) => Input::Vote(v),
                };
                self.feed(input).await
            }
            DriverEvent::PeerConnected(peer) => {
                self.maybe_sync(Some(peer));
                Ok(())
            }
            DriverEvent::Synced { from, items } => {
                self.sync_in_flight = false;
                self.apply_synced(from, items).await
            }
        }
    }

    /// Asks `peer` (or a connected peer) for blocks after our tip, at most one request at a time.
    fn maybe_sync(&mut self, peer: Option<PublicKey>) {
        if self.sync_in_flight || self.last_sync.elapsed() < Duration::from_millis(300) {
            return;
        }
        let Ok(tip) = self.tip() else { return };
        self.sync_in_flight = true;
        self.last_sync = Instant::now();
        let net = self.net.clone();
        let events = self.events_tx.clone();
        let me = self.key.public();
        tokio::spawn(async move {
            let peer = match peer {
                Some(p) => Some(p),
                None => net.connected_peers().await.ok().and_then(|ps| {
                    let others: Vec<_> = ps.into_iter().filter(|p| *p != me).collect();
                    others.get((tip.height as usize) % others.len().max(1)).copied()
                }),
            };
            let items = match peer {
                Some(p) => match net.request_blocks(p, tip.height + 1, SYNC_BATCH_BLOCKS).await {
                    Ok(items) => (p, items),
                    Err(e) => {
                        tracing::debug!(peer = %p, error = %e, "block sync request failed");
                        (p, Vec::new())
                    }
                },
                None => (me, Vec::new()),
            };
            let _ = events.send(DriverEvent::Synced { from: items.0, items: items.1 }).await;
        });
    }

    /// Verifies and stores synced blocks (commit against the validator set,
    /// then every ledger rule), then restarts consensus at the new height.
    async fn apply_synced(&mut self, from: PublicKey, items: Vec<Vec<u8>>) -> anyhow::Result<()> {
        let max_item = self.shared.genesis.params.block_txs_max as usize
            * self.shared.genesis.params.tx_bytes_max as usize
            + 64 * 1024;
        let mut applied = 0u64;
        for bytes in items {
            let item: SyncItem = match encoding::decode(&bytes, max_item, "sync item") {
                Ok(i) => i,
                Err(e) => {
                    tracing::warn!(peer = %from, error = %e, "undecodable sync item");
                    self.net.report_invalid(from, "undecodable sync item").await;
                    break;
                }
            };
            let tip = self.tip()?;
            if item.block.header.height <= tip.height {
                continue;
            }
            if let Err(e) = item.commit.verify(&item.block.header, &self.validators) {
                tracing::warn!(peer = %from, height = item.block.header.height, error = %e, "synced block has no valid commit");
                self.net.report_invalid(from, "sync block without a valid commit").await;
                break;
            }
            let executed = match tokio::task::block_in_place(|| {
                validate_block_memo(
                    &*self.shared.store,
                    &self.shared.genesis,
                    &tip,
                    &item.block,
                    &self.shared.verified,
                )
            }) {
                Ok(e) => e,
                Err(e) if e.is_rejection() => {
                    tracing::error!(peer = %from, height = item.block.header.height, error = %e, "a quorum-signed block breaks a ledger rule");
                    self.net.report_invalid(from, "invalid synced block").await;
                    break;
                }
                Err(e) => return Err(anyhow::Error::new(e).context("validating a synced block failed")),
            };
            tokio::task::block_in_place(|| {
                self.shared.store.commit_block(&item.block, &item.commit, &executed)
            })?;
            self.after_commit(&item.block, &executed.tx_ids)?;
            applied += 1;
        }
        if applied > 0 {
            let height = self.tip()?.height + 1;
            tracing::info!(peer = %from, blocks = applied, next_height = height, "caught up by block sync");
            self.shared.metrics.synced_blocks.fetch_add(applied, Relaxed);
            self.fresh_core();
            self.feed(Input::StartHeight { height }).await?;
            // More may be waiting.
            self.last_sync = Instant::now() - Duration::from_secs(1);
            self.maybe_sync(Some(from));
        }
        Ok(())
    }
}

/// The signed proposal covers the block's header only. A relay could swap the
/// transactions of an honest proposal; the core caches verdicts by header
/// hash, so a tampered copy seen first would make us prevote nil on an honest
/// block. Checking `tx_count` and `tx_root` against the body here (cheap: one
/// hash per transaction) lets only the genuine body reach the core.
fn body_matches_header(chain_id: &str, block: &Block) -> bool {
    let ids: Vec<_> = block.txs.iter().map(|t| t.id(chain_id)).collect();
    block.header.tx_count as usize == block.txs.len()
        && keepsake_ledger::block::tx_root(&ids) == block.header.tx_root
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

/// Routes network events: transactions to the mempool (on the blocking
/// pool), consensus messages and peer events to the driver, sync requests to
/// the store. Undecodable or oversized data is dropped, counted and reported.
pub async fn dispatch_network(
    shared: Arc<Shared>,
    net: NetworkHandle,
    mut events: mpsc::Receiver<NetworkEvent>,
    inbox: DriverInbox,
) {
    let tx_max = shared.genesis.params.tx_bytes_max as usize;
    let msg_max = shared.genesis.params.block_txs_max as usize * tx_max + 64 * 1024;
    let (ingest_tx, ingest_rx) = mpsc::channel(TX_INGEST_CAPACITY);
    tokio::spawn(ingest_transactions(shared.clone(), net.clone(), ingest_rx));
    while let Some(event) = events.recv().await {
        match event {
            NetworkEvent::Gossip { id, topic: Topic::Txs, data, .. } => {
                if ingest_tx.try_send((id, data)).is_err() {
                    shared.metrics.p2p_dropped.fetch_add(1, Relaxed);
                }
            }
            NetworkEvent::Gossip { id, from, topic: Topic::Consensus, data } => {
                match encoding::decode::<ConsensusEnvelope>(&data, msg_max, "consensus message") {
                    Ok(ConsensusEnvelope { message, .. }) => {
                        if inbox
                            .events
                            .try_send(DriverEvent::Consensus { id: Box::new(id), from, message })
                            .is_err()
                        {
                            shared.metrics.p2p_dropped.fetch_add(1, Relaxed);
                        }
                    }
                    Err(_) => {
                        shared.metrics.p2p_invalid.fetch_add(1, Relaxed);
                        net.validated(id, GossipVerdict::Reject("undecodable consensus message"));
                    }
                }
            }
            NetworkEvent::SyncRequest { from, from_height, max_blocks, reply } => {
                let shared = shared.clone();
                tokio::task::spawn_blocking(move || {
                    let mut items = Vec::new();
                    let mut bytes = 0usize;
                    let end = from_height.saturating_add(u64::from(max_blocks.min(SYNC_BATCH_BLOCKS)));
                    for h in from_height..end {
                        let (Ok(Some(block)), Ok(Some(commit))) =
                            (shared.store.block(h), shared.store.commit(h))
                        else {
                            break;
                        };
                        let item = encoding::encode(&SyncItem { block, commit });
                        bytes += item.len();
                        items.push(item);
                        if bytes > 8 * 1024 * 1024 {
                            break;
                        }
                    }
                    tracing::debug!(peer = %from, from_height, blocks = items.len(), "serving block sync");
                    reply.send(items);
                });
            }
            NetworkEvent::PeerConnected(peer) => {
                shared.metrics.peers.fetch_add(1, Relaxed);
                let _ = inbox.events.try_send(DriverEvent::PeerConnected(peer));
            }
            NetworkEvent::PeerDisconnected(_) => {
                shared.metrics.peers.fetch_sub(1, Relaxed);
            }
        }
    }
}

/// Capacity of the queue of gossiped transactions waiting for admission.
const TX_INGEST_CAPACITY: usize = 20_000;
/// Gossiped transactions checked per trip to the blocking pool.
const TX_INGEST_BATCH: usize = 256;

/// Admits gossiped transactions into the mempool, in batches on the blocking
/// pool (a burst of 10,000 must not become 10,000 blocking tasks).
async fn ingest_transactions(
    shared: Arc<Shared>,
    net: NetworkHandle,
    mut rx: mpsc::Receiver<(GossipId, Vec<u8>)>,
) {
    let tx_max = shared.genesis.params.tx_bytes_max as usize;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < TX_INGEST_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let shared2 = shared.clone();
        let verdicts = tokio::task::spawn_blocking(move || {
            let mut verdicts = Vec::with_capacity(batch.len());
            for (id, data) in batch {
                let verdict = admit_gossiped(&shared2, &data, tx_max);
                verdicts.push((id, verdict));
            }
            verdicts
        })
        .await
        .unwrap_or_default();
        for (id, verdict) in verdicts {
            if let GossipVerdict::Reject(_) = verdict {
                shared.metrics.p2p_invalid.fetch_add(1, Relaxed);
            }
            net.validated(id, verdict);
        }
    }
}

/// The mempool check for a gossiped transaction, and whether to forward it.
/// Garbage no honest node would pass on (undecodable, bad signature, a
/// transfer: a phase-1 failure) is rejected and blames the forwarder; a
/// phase-2 failure (already committed, supply reached, ...) can be a matter
/// of timing, so it is only not forwarded.
fn admit_gossiped(shared: &Shared, data: &[u8], tx_max: usize) -> GossipVerdict {
    let Ok(tx) = encoding::decode::<SignedTx>(data, tx_max, "transaction") else {
        return GossipVerdict::Reject("undecodable transaction");
    };
    let id = match keepsake_ledger::rules::check_stateless_memo(&tx, &shared.genesis, &shared.verified) {
        Ok(checked) => {
            shared.verified.remember(checked.digest);
            checked.tx_id
        }
        Err(e) => {
            shared.metrics.rejected("gossip", e.code());
            return GossipVerdict::Reject("transaction breaks a stateless rule");
        }
    };
    let next = shared.metrics.height.load(Relaxed) + 1;
    if let Err(e) = keepsake_ledger::rules::check_stateful(&*shared.store, &shared.genesis, &tx, id, next) {
        shared.metrics.rejected("gossip", e.code());
        return GossipVerdict::Ignore;
    }
    if shared.mempool().insert(id, tx).is_ok() {
        shared.new_tx.notify_one();
    }
    GossipVerdict::Accept
}

/// Forwards transactions admitted over RPC to the transaction gossip topic.
pub async fn gossip_transactions(net: NetworkHandle, mut rx: mpsc::Receiver<SignedTx>) {
    while let Some(tx) = rx.recv().await {
        if let Err(e) = net.publish(Topic::Txs, encoding::encode(&tx)).await {
            tracing::debug!(error = %e, "cannot gossip a transaction");
        }
    }
}
