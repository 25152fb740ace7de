//! One simulated validator: the production [`Engine`] hosted over a simulated
//! disk, clock and network. The host performs the engine's effects in order,
//! exactly as `node/src/executor.rs` does on tokio, and contains no consensus
//! logic of its own: what to sign, build, validate, re-send or fetch is the
//! engine's call.
//!
//! | effect | simulated as |
//! |---|---|
//! | `AppendWal` / `SyncWal` / `ResetWal` | a record list and its fsynced length; truncation is durable |
//! | `PersistSignState` | an atomic durable write (a power loss in the middle may tear it) |
//! | `Publish` | encoded, to every other validator (the checker records the signature) |
//! | `ScheduleTimeout` / `ScheduleBuild` | timer events |
//! | `RequestBlocks` | a sync request to that peer (or a random one) |
//! | `Committed` | the block (already in the chain store) leaves the pool |
//!
//! The disk survives a crash: the chain store (minus blocks not yet fsynced,
//! on power loss), the WAL (minus records not yet fsynced, on power loss) and
//! the sign-state (torn when the power loss hits its write, if the scenario
//! says so). A restart builds a new engine from that disk and replays the WAL.

use std::sync::{Arc, Mutex};

use keepsake_consensus::{ConsensusStats, SignedStep, Step, WalEntry};
use keepsake_engine::BlockRules as _;
use keepsake_engine::admit::Admission;
use keepsake_engine::{
    ChainStore, ClockBounds, Effect, Engine, EngineConfig, EngineError, Event, Marks, MemoryChain, Mempool,
    MempoolLimits, StoreFault, VerifiedSet, serve_blocks,
};
use keepsake_ledger::{Executed, Tip};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{Block, Commit, Hash32, Keypair, PublicKey, SignedTx, TxBody, encoding};

use crate::byzantine::{Out, SimRules, lie_in_sync, rewrite_effects};
use crate::check::Violation;
use crate::scenario::{Attack, Broken, Crash, Role, Scenario, host_key};
use crate::world::{Event as WorldEvent, Message, SYNC_BATCH_BLOCKS, World};

/// Most transactions waiting in a mempool.
pub const MEMPOOL_TXS_MAX: usize = 64;
/// Most transactions a simulated proposer puts in one block.
pub const BLOCK_TXS_MAX: usize = 8;
/// sled's background fsync period.
const STORE_FSYNC_MS: u64 = 500;

/// The sign-state file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SignState {
    /// A readable record (`None`: never signed).
    Intact(Option<SignedStep>),
    /// Torn by a power loss during its write: unreadable.
    Torn,
}

/// What survives a crash.
#[derive(Debug)]
pub(crate) struct Disk {
    /// The chain store (everything written, fsynced or not).
    pub chain: MemoryChain,
    /// Blocks of `chain` that are fsynced.
    durable_blocks: usize,
    /// WAL records, `(height, entry)`.
    wal: Vec<(u64, WalEntry)>,
    /// Length of the WAL at its last fsync.
    wal_synced: usize,
    sign_state: SignState,
    /// The sign-state before its last write (what a stale backup holds).
    previous_sign_state: Option<SignedStep>,
}

/// What a running validator holds in memory (lost at a crash).
pub(crate) struct Live {
    pub engine: Engine<SimRules>,
    pool: Mutex<Mempool>,
    /// The pending build, `(height, round, due_ms)`.
    pending_build: Option<(u64, u32, u64)>,
    /// The batch wait of the pending build.
    batch_wait_ms: u64,
}

/// A chain store that records what an audited validator commits, and refuses
/// (stopping its engine) a block the independent checks find invalid.
struct AuditedChain<'a> {
    chain: &'a mut MemoryChain,
    node: usize,
    audited: bool,
    testnet: &'a keepsake_ledger::testkit::TestNet,
    violation: Option<Violation>,
    committed: Vec<(Block, Commit)>,
}

impl<'a> AuditedChain<'a> {
    fn new(
        chain: &'a mut MemoryChain,
        node: usize,
        audited: bool,
        testnet: &'a keepsake_ledger::testkit::TestNet,
    ) -> Self {
        AuditedChain { chain, node, audited, testnet, violation: None, committed: Vec::new() }
    }

    /// The violation found, if any, and the blocks committed.
    fn outcome(self) -> (Option<Violation>, Vec<(Block, Commit)>) {
        (self.violation, self.committed)
    }
}

impl ChainStore for AuditedChain<'_> {
    type State = keepsake_ledger::memory::MemoryState;

    fn state(&self) -> &Self::State {
        self.chain.state()
    }

    fn tip(&self) -> Result<Tip, StoreFault> {
        self.chain.tip()
    }

    fn commit_block(
        &mut self,
        block: &Block,
        commit: &Commit,
        executed: &Executed,
    ) -> Result<(), StoreFault> {
        if self.audited {
            let height = block.header.height;
            // Validity, independently of the engine and its ledger: no transfer ever,
            // then every ledger rule on the state before the block.
            if block.txs.iter().any(|tx| matches!(tx.body, TxBody::Transfer { .. })) {
                self.violation = Some(Violation::TransferDecided { node: self.node, height });
                return Err(StoreFault("a transfer was decided".into()));
            }
            let tip = self.chain.tip()?;
            if let Err(e) =
                keepsake_ledger::validate_block(self.chain.state(), &self.testnet.genesis, &tip, block)
            {
                self.violation =
                    Some(Violation::InvalidBlockDecided { node: self.node, height, reason: e.to_string() });
                return Err(StoreFault("an invalid block was decided".into()));
            }
        }
        self.chain.commit_block(block, commit, executed)?;
        self.committed.push((block.clone(), commit.clone()));
        Ok(())
    }

    fn sync_item(&self, height: u64) -> Result<Option<SyncItem>, StoreFault> {
        self.chain.sync_item(height)
    }
}

/// One validator.
pub(crate) struct SimNode {
    pub index: usize,
    key: Keypair,
    pub role: Role,
    /// Checked by the audit (honest, broken, or a Byzantine one a test wants checked).
    pub audited: bool,
    broken: Option<Broken>,
    pub disk: Disk,
    pub live: Option<Live>,
    /// Incremented at every crash: events of an earlier life are ignored.
    life: u64,
    /// A validator whose engine stopped stays down.
    pub halted: bool,
    clock_offset_ms: i64,
    /// An armed power loss: after this many more effects, with this crash's settings.
    armed: Option<(u32, usize)>,
    /// Marks and core counters of engines that are gone.
    pub marks: Marks,
    pub core_stats: ConsensusStats,
}

fn add_stats(into: &mut ConsensusStats, from: &ConsensusStats) {
    into.invalid_messages += from.invalid_messages;
    into.far_future_messages += from.far_future_messages;
    into.dropped_messages += from.dropped_messages;
    into.stale_messages += from.stale_messages;
    into.equivocations += from.equivocations;
}

/// The step a published message of ours was signed as, if it is ours.
fn signed_step(chain: &str, me: &PublicKey, message: &ConsensusMessage) -> Option<SignedStep> {
    match message {
        ConsensusMessage::Proposal(p) if p.proposer == *me => Some(SignedStep::for_proposal(chain, &p.data)),
        ConsensusMessage::Vote(v) if v.validator == *me => Some(SignedStep::for_vote(chain, &v.data)),
        _ => None,
    }
}

impl SimNode {
    pub(crate) fn new(index: usize, key: Keypair, scenario: &Scenario, w: &World) -> SimNode {
        debug_assert_eq!(key.public(), w.key_of(index), "a host starts with its first key");
        SimNode {
            index,
            key,
            role: scenario.roles[index],
            audited: scenario.audited(index),
            broken: scenario.broken(index),
            disk: Disk {
                chain: MemoryChain::new(&w.testnet.genesis),
                durable_blocks: 0,
                wal: Vec::new(),
                wal_synced: 0,
                // A new home gets a "never signed" record.
                sign_state: SignState::Intact(None),
                previous_sign_state: None,
            },
            live: None,
            life: 0,
            halted: false,
            clock_offset_ms: scenario.clock_offsets_ms.get(index).copied().unwrap_or(0),
            armed: None,
            marks: Marks::default(),
            core_stats: ConsensusStats::default(),
        }
    }

    fn attack(&self) -> Option<Attack> {
        match self.role {
            Role::Honest => None,
            Role::Byzantine(a) => Some(a),
        }
    }

    /// The committed height.
    pub(crate) fn height(&self) -> u64 {
        self.disk.chain.height()
    }

    /// The round of the running engine.
    pub(crate) fn round(&self) -> Option<u32> {
        self.live.as_ref().map(|l| l.engine.round())
    }

    /// This validator's clock (ms since the epoch): true time plus its offset.
    fn now(&self, w: &World) -> u64 {
        let t = w.testnet.genesis.genesis_time_ms + w.now_ms;
        t.saturating_add_signed(self.clock_offset_ms)
    }

    /// Marks of all engines of this node so far.
    pub(crate) fn all_marks(&self) -> Marks {
        let mut total = self.marks.clone();
        if let Some(live) = &self.live {
            total.add(&live.engine.marks());
        }
        total
    }

    /// Core counters of all engines of this node so far.
    pub(crate) fn all_core_stats(&self) -> ConsensusStats {
        let mut total = self.core_stats.clone();
        if let Some(live) = &self.live {
            add_stats(&mut total, &live.engine.consensus_stats());
        }
        total
    }

    fn engine_config(scenario: &Scenario, broken: Option<Broken>) -> EngineConfig {
        let clock = match broken {
            Some(Broken::NoClockBound) => ClockBounds { precision_ms: u64::MAX / 4, message_delay_ms: 0 },
            _ => ClockBounds {
                precision_ms: scenario.clock_precision_ms,
                message_delay_ms: scenario.message_delay_ms,
            },
        };
        EngineConfig {
            consensus: scenario.consensus.clone(),
            empty_block_wait_ms: scenario.build_wait_ms,
            batch_wait_ms: scenario.build_wait_ms,
            tick_ms: scenario.gossip_interval_ms,
            sync_probe_ms: 2_000,
            sync_retry_ms: 1_000,
            sync_batch_blocks: SYNC_BATCH_BLOCKS,
            clock,
        }
    }

    /// Starts (or restarts) the validator from its disk: the operator's checks
    /// first (a torn sign-state is repaired to a floor, as `keepsake repair
    /// sign-state` does), then a new engine that replays the WAL.
    pub(crate) fn boot(&mut self, w: &mut World, peers_height: u64) -> Result<(), Violation> {
        assert!(self.live.is_none(), "boot of a running node");
        let last_signed = match self.disk.sign_state {
            SignState::Intact(step) => step,
            SignState::Torn if self.broken == Some(Broken::TornMeansNeverSigned) => None,
            SignState::Torn => {
                // The repair: nothing at or below the highest height this validator may have
                // signed at (its WAL, its store + 1, the network + 1) may be signed again.
                let wal_height = self.disk.wal.iter().map(|(h, _)| *h).max().unwrap_or(0);
                let floor = wal_height.max(self.height() + 1).max(peers_height + 1);
                let step = SignedStep {
                    height: floor,
                    round: u32::MAX,
                    step: Step::Precommit,
                    digest: Hash32([0; 32]),
                };
                self.disk.sign_state = SignState::Intact(Some(step));
                Some(step)
            }
        };
        let rules = SimRules {
            trusting: self.attack().is_some() || self.broken == Some(Broken::TrustingLedger),
            attack: self.attack(),
            testnet: w.testnet.clone(),
        };
        let memo = Arc::new(VerifiedSet::new(2 * MEMPOOL_TXS_MAX));
        let genesis = Arc::new(w.testnet.genesis.clone());
        let config = Self::engine_config(&w.scenario, self.broken);
        let mut engine = Engine::new(config, genesis, self.key.clone(), rules, memo, last_signed);
        let limits = MempoolLimits { max_txs: MEMPOOL_TXS_MAX, max_bytes: 1 << 20, rejected_memory: 256 };
        let wal = self.disk.wal.clone();
        let testnet = w.testnet.clone();
        let mut chain = AuditedChain::new(&mut self.disk.chain, self.index, self.audited, &testnet);
        let result = engine.start(&mut chain, wal);
        let (violation, committed) = chain.outcome();
        self.live = Some(Live {
            engine,
            pool: Mutex::new(Mempool::new(limits)),
            pending_build: None,
            batch_wait_ms: 0,
        });
        self.after_engine(w, result, violation, committed)?;
        let offset = w.rng.below(w.scenario.gossip_interval_ms);
        w.schedule_in(offset + 1, WorldEvent::Tick { node: self.index, life: self.life });
        w.schedule_in(STORE_FSYNC_MS, WorldEvent::StoreSync { node: self.index, life: self.life });
        Ok(())
    }

    /// The validator stops. With `power_loss`, writes not yet fsynced are gone.
    pub(crate) fn crash(&mut self, w: &mut World, crash: &Crash, torn: bool) {
        let Some(live) = self.live.take() else { return };
        self.marks.add(&live.engine.marks());
        add_stats(&mut self.core_stats, &live.engine.consensus_stats());
        self.life += 1;
        self.armed = None;
        w.stats.crashes += 1;
        if torn {
            self.disk.sign_state = SignState::Torn;
            w.stats.sign_states_torn += 1;
        }
        if crash.lose_unsynced_wal {
            let lost = self.disk.wal.len() - self.disk.wal_synced;
            self.disk.wal.truncate(self.disk.wal_synced);
            w.stats.wal_lost += lost as u64;
            let blocks = self.disk.chain.blocks().len();
            if blocks > self.disk.durable_blocks {
                w.stats.blocks_lost += (blocks - self.disk.durable_blocks) as u64;
                self.disk.chain =
                    rebuild(&w.testnet.genesis, &self.disk.chain.blocks()[..self.disk.durable_blocks]);
            }
        }
        if crash.stale_sign_state
            && let SignState::Intact(_) = self.disk.sign_state
        {
            self.disk.sign_state = SignState::Intact(self.disk.previous_sign_state);
            w.stats.sign_states_stale += 1;
        }
    }

    /// The operator restarts the node with its key of `generation` (a key
    /// rotation was committed): a clean stop, the new key, a start from the
    /// same disk (WAL, sign-state and chain are the node's, whatever its key).
    /// A node that is down gets the new key for its next start.
    pub(crate) fn switch_key(
        &mut self,
        w: &mut World,
        generation: u32,
        peers_height: u64,
    ) -> Result<(), Violation> {
        let key = host_key(w.scenario.validators, self.index, generation);
        if key.public() == self.key.public() {
            return Ok(());
        }
        self.key = key;
        w.keys[self.index].push(self.key.public());
        w.stats.membership.key_switches += 1;
        match self.live.take() {
            Some(live) if !self.is_armed() => {
                self.marks.add(&live.engine.marks());
                add_stats(&mut self.core_stats, &live.engine.consensus_stats());
                self.life += 1;
                self.boot(w, peers_height)
            }
            // A power loss armed for its next call: it happens first, and the node stays
            // down until its restart (with the new key).
            Some(live) => {
                self.live = Some(live);
                let (_, crash) = self.armed.expect("armed");
                let spec = w.scenario.crashes[crash].clone();
                self.crash(w, &spec, false);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Fault injection: the operator wiped the consensus directory (WAL and
    /// sign-state) and started the validator as if it never signed.
    /// With `keep_sign_state`, only the WAL is lost (the sign-state file is left as it is).
    pub(crate) fn forget_consensus_dir(&mut self, keep_sign_state: bool) {
        self.disk.wal.clear();
        self.disk.wal_synced = 0;
        if !keep_sign_state {
            self.disk.sign_state = SignState::Intact(None);
            self.disk.previous_sign_state = None;
        }
    }

    /// Arms a power loss after `effects` more effects.
    pub(crate) fn arm(&mut self, effects: u32, crash: usize) {
        self.armed = Some((effects, crash));
    }

    /// Whether a crash is armed.
    pub(crate) fn is_armed(&self) -> bool {
        self.armed.is_some()
    }

    fn halt(&mut self) {
        if let Some(live) = self.live.take() {
            self.marks.add(&live.engine.marks());
            add_stats(&mut self.core_stats, &live.engine.consensus_stats());
        }
        self.life += 1;
        self.halted = true;
    }

    /// Whether an event stamped with `life` is still for this node's current life.
    pub(crate) fn is_current(&self, life: u64) -> bool {
        self.live.is_some() && self.life == life
    }

    /// Runs the engine on `event` and performs its effects.
    pub(crate) fn handle(&mut self, w: &mut World, event: Event) -> Result<(), Violation> {
        let now = self.now(w);
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        if w.tracing() {
            w.trace(format!(
                "n{} h{} r{} in  {}",
                self.index,
                live.engine.height(),
                live.engine.round(),
                describe_event(&event)
            ));
        }
        let testnet = w.testnet.clone();
        let mut chain = AuditedChain::new(&mut self.disk.chain, self.index, self.audited, &testnet);
        let result = live.engine.handle(&mut chain, now, event);
        let (violation, committed) = chain.outcome();
        self.after_engine(w, result, violation, committed)
    }

    /// Records what the engine committed, then performs its effects (or stops it).
    fn after_engine(
        &mut self,
        w: &mut World,
        result: Result<Vec<Effect>, EngineError>,
        violation: Option<Violation>,
        committed: Vec<(Block, Commit)>,
    ) -> Result<(), Violation> {
        if let Some(v) = violation {
            return Err(v);
        }
        let latest_honest_ms = w.testnet.genesis.genesis_time_ms
            + w.now_ms
            + w.scenario.clock_precision_ms
            + w.scenario.clock_offsets_ms.iter().map(|o| o.unsigned_abs()).max().unwrap_or(0);
        for (block, commit) in &committed {
            let height = block.header.height;
            if self.audited {
                w.audit.committed(self.index, block, commit)?;
                w.audit.followed(self.index, &w.keys[self.index], height);
                w.stats.decisions += 1;
                if block.header.time_ms > latest_honest_ms {
                    return Err(Violation::BlockTimeOutOfBounds {
                        node: self.index,
                        height,
                        block_time_ms: block.header.time_ms,
                        latest_ms: latest_honest_ms,
                    });
                }
            }
        }
        if self.audited && !committed.is_empty() {
            w.audit.check_burns(self.index, self.disk.chain.height(), self.disk.chain.state())?;
        }
        match result {
            Ok(effects) => self.perform(w, effects),
            Err(e) if self.audited => Err(Violation::EngineFault { node: self.index, reason: e.to_string() }),
            Err(_) => {
                self.halt();
                Ok(())
            }
        }
    }

    /// Performs effects in order, as the node's executor does; an armed power
    /// loss cuts the list short.
    fn perform(&mut self, w: &mut World, effects: Vec<Effect>) -> Result<(), Violation> {
        let mut effects = effects;
        if self.broken == Some(Broken::PublishBeforePersist) {
            // Deliberately broken: every publication first, then the writes.
            let (publish, rest): (Vec<Effect>, Vec<Effect>) =
                effects.into_iter().partition(|e| matches!(e, Effect::Publish(_)));
            effects = publish.into_iter().chain(rest).collect();
        }
        let chain = w.chain().to_string();
        let outs: Vec<Out> = match self.attack() {
            Some(attack) => {
                let (disk_chain, key) = (&self.disk.chain, &self.key);
                let genesis = &w.testnet.genesis;
                let mut other_block = |block: &Block| -> Option<Block> {
                    let tip = disk_chain.tip().ok()?;
                    keepsake_engine::LedgerRules
                        .build(
                            disk_chain.state(),
                            genesis,
                            &tip,
                            key.public(),
                            block.header.time_ms + 1,
                            block.txs.clone(),
                            &(),
                        )
                        .ok()
                        .map(|b| b.block)
                };
                rewrite_effects(attack, &self.key, &chain, effects, &mut other_block, &mut w.attack_book)
            }
            None => effects.into_iter().map(Out::Effect).collect(),
        };
        let me = self.key.public();
        for out in outs {
            if let Some((left, crash)) = self.armed {
                if left == 0 {
                    let spec = w.scenario.crashes[crash].clone();
                    let torn =
                        spec.tear_sign_state && matches!(out, Out::Effect(Effect::PersistSignState(_)));
                    w.stats.crashes_mid_call += 1;
                    self.crash(w, &spec, torn);
                    return Ok(());
                }
                self.armed = Some((left - 1, crash));
            }
            let effect = match out {
                Out::Effect(e) => e,
                Out::ToHalf { odd, envelope } => {
                    if self.audited
                        && let Some(step) = signed_step(&chain, &me, &envelope.message)
                    {
                        w.audit.signed_by(self.index, &me, &step)?;
                    }
                    let bytes = encoding::encode(&envelope);
                    for to in (0..w.scenario.hosts()).filter(|to| *to != self.index && (to % 2 == 1) == odd) {
                        w.send(self.index, to, Message::Consensus(bytes.clone()));
                    }
                    continue;
                }
            };
            self.perform_one(w, effect, &chain, &me)?;
        }
        Ok(())
    }

    fn perform_one(
        &mut self,
        w: &mut World,
        effect: Effect,
        chain: &str,
        me: &PublicKey,
    ) -> Result<(), Violation> {
        let (index, life) = (self.index, self.life);
        if w.tracing() && !matches!(effect, Effect::AppendWal { .. }) {
            w.trace(format!("n{index}          out {}", describe_effect(&effect)));
        }
        match effect {
            Effect::AppendWal { height, entry } => self.disk.wal.push((height, entry)),
            Effect::SyncWal => self.disk.wal_synced = self.disk.wal.len(),
            Effect::ResetWal => {
                self.disk.wal.clear();
                self.disk.wal_synced = 0;
            }
            Effect::PersistSignState(step) => {
                if let SignState::Intact(previous) = self.disk.sign_state {
                    self.disk.previous_sign_state = previous;
                }
                self.disk.sign_state = SignState::Intact(Some(step));
            }
            Effect::Publish(envelope) => {
                if self.audited
                    && let Some(step) = signed_step(chain, me, &envelope.message)
                {
                    w.audit.signed_by(index, me, &step)?;
                }
                w.broadcast(index, &Message::Consensus(encoding::encode(&envelope)));
            }
            Effect::Verdict(_) => {}
            Effect::ScheduleTimeout { timeout, duration_ms } => {
                w.schedule_in(duration_ms, WorldEvent::Timer { node: index, life, timeout });
            }
            Effect::ScheduleBuild { height, round, empty_wait_ms, batch_wait_ms } => {
                if let Some(live) = self.live.as_mut() {
                    let empty = live.pool.lock().expect("sim locks are never poisoned").is_empty();
                    let wait = if empty { empty_wait_ms } else { batch_wait_ms };
                    live.pending_build = Some((height, round, w.now_ms + wait));
                    live.batch_wait_ms = batch_wait_ms;
                    w.schedule_in(wait, WorldEvent::Build { node: index, life, height, round });
                }
            }
            Effect::RequestBlocks { peer, avoid, from_height, max_blocks } => {
                let to = match peer.and_then(|p| w.host_of(&p)) {
                    Some(to) => to,
                    None => {
                        let avoided: Vec<usize> = avoid.iter().filter_map(|p| w.host_of(p)).collect();
                        let others: Vec<usize> =
                            (0..w.scenario.hosts()).filter(|i| *i != index && !avoided.contains(i)).collect();
                        if others.is_empty() {
                            return Ok(());
                        }
                        others[w.rng.below(others.len() as u64) as usize]
                    }
                };
                if to != index {
                    w.send(index, to, Message::SyncRequest { from_height, max_blocks });
                }
            }
            Effect::ReportPeer { .. } => w.stats.peer_reports += 1,
            Effect::Committed { tx_ids, synced, header } => {
                if synced {
                    w.stats.blocks_synced += 1;
                    if header.validators_hash != w.testnet.genesis.validator_set().hash(chain) {
                        w.stats.membership.synced_under_changed_set += 1;
                    }
                }
                if let Some(live) = self.live.as_mut() {
                    live.pool.lock().expect("sim locks are never poisoned").remove(&tx_ids);
                }
            }
            Effect::LeftOut { tx_id, error } => {
                w.stats.txs_left_out += 1;
                if let Some(live) = self.live.as_mut() {
                    let mut pool = live.pool.lock().expect("sim locks are never poisoned");
                    pool.remove(&[tx_id]);
                    pool.remember_rejection(tx_id, error);
                }
            }
            Effect::Equivocation(_) => w.stats.equivocations_reported += 1,
            Effect::ProposalRefused { .. } => w.stats.proposals_refused += 1,
        }
        Ok(())
    }

    /// The store's background fsync.
    pub(crate) fn store_sync(&mut self, w: &mut World) {
        self.disk.durable_blocks = self.disk.chain.blocks().len();
        w.schedule_in(STORE_FSYNC_MS, WorldEvent::StoreSync { node: self.index, life: self.life });
    }

    /// The build wait is over: hand the engine the oldest pending transactions.
    pub(crate) fn on_build(&mut self, w: &mut World, height: u64, round: u32) -> Result<(), Violation> {
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        match live.pending_build {
            Some((h, r, due)) if (h, r) == (height, round) && due <= w.now_ms => live.pending_build = None,
            _ => return Ok(()),
        }
        let candidates = live.pool.lock().expect("sim locks are never poisoned").peek(BLOCK_TXS_MAX);
        self.handle(w, Event::BuildDue { height, round, candidates })
    }

    /// A client hands us a transaction: the one admission path of the node.
    pub(crate) fn submit(&mut self, w: &mut World, tx: SignedTx) {
        let Some(live) = self.live.as_mut() else { return };
        let tip = self.disk.chain.height();
        let admission = Admission {
            state: self.disk.chain.state(),
            genesis: &w.testnet.genesis,
            memo: live.engine.memo(),
            pool: &live.pool,
            next_height: tip + 1,
            time_ms: w.testnet.genesis.genesis_time_ms + w.now_ms,
        };
        if admission.admit(tx).is_err() {
            w.stats.txs_refused += 1;
            return;
        }
        // A transaction arrived while we wait to propose: build after the batch wait.
        if let Some((height, round, due)) = live.pending_build
            && due > w.now_ms + live.batch_wait_ms
        {
            let due = w.now_ms + live.batch_wait_ms;
            live.pending_build = Some((height, round, due));
            w.schedule(due, WorldEvent::Build { node: self.index, life: self.life, height, round });
        }
    }

    /// A message from `from` arrives.
    pub(crate) fn on_message(
        &mut self,
        w: &mut World,
        from: usize,
        message: Message,
    ) -> Result<(), Violation> {
        if self.live.is_none() {
            w.stats.messages_dropped += 1;
            return Ok(());
        }
        let from_key = w.key_of(from);
        match message {
            Message::Consensus(bytes) => self.handle(w, Event::Message { from: from_key, bytes }),
            Message::SyncRequest { from_height, max_blocks } => {
                let served =
                    serve_blocks(&self.disk.chain, from_height, max_blocks, SYNC_BATCH_BLOCKS, 8 << 20);
                let mut items = served.unwrap_or_default();
                if self.attack() == Some(Attack::LyingSync) {
                    items = lie_in_sync(items, &mut w.rng, &w.testnet);
                }
                w.send(self.index, from, Message::SyncResponse { items });
                Ok(())
            }
            Message::SyncResponse { items } => self.handle(w, Event::Synced { from: from_key, items }),
        }
    }
}

/// The chain store rebuilt from `blocks` (after a power loss took the rest).
fn rebuild(genesis: &keepsake_types::Genesis, blocks: &[SyncItem]) -> MemoryChain {
    let mut chain = MemoryChain::new(genesis);
    for item in blocks {
        let Ok(tip) = chain.tip() else { break };
        let Ok(executed) = keepsake_ledger::validate_block(chain.state(), genesis, &tip, &item.block) else {
            break;
        };
        if chain.commit_block(&item.block, &item.commit, &executed).is_err() {
            break;
        }
    }
    chain
}

/// The first 3 bytes of a hash, in hex.
fn short(bytes: &[u8; 32]) -> String {
    bytes[..3].iter().map(|b| format!("{b:02x}")).collect()
}

/// One line per engine event, for the trace.
fn describe_event(event: &Event) -> String {
    match event {
        Event::Message { from, bytes } => {
            let what = match encoding::decode::<ConsensusEnvelope>(bytes, usize::MAX, "trace") {
                Ok(e) => match e.message {
                    ConsensusMessage::Proposal(p) => {
                        format!("Proposal {}/{} {}", p.data.height, p.data.round, short(&p.data.block_hash.0))
                    }
                    ConsensusMessage::Vote(v) => format!(
                        "{:?} {}/{} {}",
                        v.data.kind,
                        v.data.height,
                        v.data.round,
                        v.data.block_hash.map_or_else(|| "nil".into(), |h| short(&h.0))
                    ),
                },
                Err(_) => "undecodable".into(),
            };
            format!("Message {what} from {}", short(&from.0))
        }
        Event::Timeout(t) => format!("Timeout {:?} {}/{}", t.step, t.height, t.round),
        Event::BuildDue { height, round, candidates } => {
            format!("BuildDue {height}/{round} ({} candidates)", candidates.len())
        }
        Event::Tick => "Tick".into(),
        Event::PeerConnected(p) => format!("PeerConnected {}", short(&p.0)),
        Event::Synced { from, items } => format!("Synced {} items from {}", items.len(), short(&from.0)),
    }
}

/// One line per effect, for the trace.
fn describe_effect(effect: &Effect) -> String {
    match effect {
        Effect::Publish(e) => match &e.message {
            ConsensusMessage::Proposal(p) => format!(
                "Publish Proposal {}/{} {} resend={}",
                p.data.height,
                p.data.round,
                short(&p.data.block_hash.0),
                e.resend
            ),
            ConsensusMessage::Vote(v) => format!(
                "Publish {:?} {}/{} {} resend={}",
                v.data.kind,
                v.data.height,
                v.data.round,
                v.data.block_hash.map_or_else(|| "nil".into(), |h| short(&h.0)),
                e.resend
            ),
        },
        Effect::Committed { header, tx_ids, synced } => {
            format!(
                "Committed {} {} ({} txs, synced={synced})",
                header.height,
                short(&header.hash().0),
                tx_ids.len()
            )
        }
        other => {
            let text = format!("{other:?}");
            text.chars().take(120).collect()
        }
    }
}
