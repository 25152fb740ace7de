//! The simulated world around the validators: the clock, the event queue,
//! the network (delays, loss, duplication, partitions) and the counters.
//! Nothing here reads a real clock or iterates a hash map: the same scenario
//! always produces the same sequence of events.

use std::collections::BTreeMap;

use keepsake_consensus::Timeout;
use keepsake_ledger::testkit::TestNet;
use keepsake_types::{BlockHash, PublicKey, SignedTx};

use crate::check::Audit;
use crate::rng::Rng;
use crate::scenario::{Scenario, host_key};

/// Most events a run may process before it is declared a livelock.
pub const EVENTS_MAX: u64 = 2_000_000;
/// Most lines of a trace.
pub const TRACE_LINES_MAX: usize = 1_000_000;
/// Most blocks in one sync response.
pub const SYNC_BATCH_BLOCKS: u32 = 16;

/// What travels between validators: bytes, as on the real network (so they
/// can be corrupted on the way, and receivers decode them within bounds).
#[derive(Clone, Debug)]
pub(crate) enum Message {
    /// An encoded `ConsensusEnvelope` (a signed proposal or vote).
    Consensus(Vec<u8>),
    /// "Send me your blocks from this height on."
    SyncRequest { from_height: u64, max_blocks: u32 },
    /// Encoded `SyncItem`s (blocks with their commits).
    SyncResponse { items: Vec<Vec<u8>> },
}

/// Something that happens at a simulated time.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A message arrives.
    Deliver { to: usize, from: usize, message: Box<Message> },
    /// A consensus timer fires (ignored if the node restarted since: `life`).
    Timer { node: usize, life: u64, timeout: Timeout },
    /// The proposer's build wait is over.
    Build { node: usize, life: u64, height: u64, round: u32 },
    /// The engine's periodic tick.
    Tick { node: usize, life: u64 },
    /// The store's background fsync (sled's, every 500 ms).
    StoreSync { node: usize, life: u64 },
    /// The node stops (index into the scenario's crashes).
    Crash { crash: usize },
    /// The node starts again from its disk (index into the scenario's crashes).
    Restart { crash: usize },
    /// The network splits.
    PartitionStart { side: Vec<bool> },
    /// The network heals.
    PartitionHeal,
    /// From now on: no loss; the progress target is fixed.
    Stable,
    /// A client hands a transaction to a validator.
    SubmitTx { node: usize, tx: Box<SignedTx> },
    /// The governors' client looks at the chain and submits the next
    /// validator-set change when its time has come.
    Governance,
    /// The operator of `node` restarts it with its key of `generation` (after
    /// a key rotation).
    SwitchKey { node: usize, generation: u32 },
    /// The blind-box client looks at the chain and, once the box's sale is
    /// closed, reveals its seed with the entropy read from committed state.
    BoxClient,
}

impl Event {
    /// A small number naming the kind of event (for the trace digest).
    fn kind(&self) -> u64 {
        match self {
            Event::Deliver { to, .. } => 1 + 16 * *to as u64,
            Event::Timer { node, .. } => 2 + 16 * *node as u64,
            Event::Build { node, .. } => 3 + 16 * *node as u64,
            Event::Tick { node, .. } => 4 + 16 * *node as u64,
            Event::Crash { crash } => 5 + 16 * *crash as u64,
            Event::Restart { crash } => 6 + 16 * *crash as u64,
            Event::StoreSync { node, .. } => 11 + 16 * *node as u64,
            Event::PartitionStart { .. } => 7,
            Event::PartitionHeal => 8,
            Event::Stable => 9,
            Event::SubmitTx { node, .. } => 10 + 16 * *node as u64,
            Event::Governance => 12,
            Event::SwitchKey { node, .. } => 13 + 16 * *node as u64,
            Event::BoxClient => 14,
        }
    }
}

/// Counters reported at the end of a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages a byte of which was flipped on the way.
    pub messages_corrupted: u64,
    /// Crashes that happened between two effects of one call.
    pub crashes_mid_call: u64,
    /// Sign-states left torn by a power loss (then repaired).
    pub sign_states_torn: u64,
    /// Restarts with a stale sign-state.
    pub sign_states_stale: u64,
    /// Blocks a power loss took from a store.
    pub blocks_lost: u64,
    /// `ReportPeer` effects (a peer sent what no honest node sends).
    pub peer_reports: u64,
    /// Proposals refused by an honest ledger.
    pub proposals_refused: u64,
    /// Client transactions refused at admission.
    pub txs_refused: u64,
    /// Messages handed to the network (one per recipient).
    pub messages_sent: u64,
    /// Messages lost (loss, partition, or the recipient was down).
    pub messages_dropped: u64,
    /// Extra copies delivered.
    pub messages_duplicated: u64,
    /// Crashes of honest validators.
    pub crashes: u64,
    /// Restarts from disk.
    pub restarts: u64,
    /// WAL records replayed at restarts.
    pub wal_replayed: u64,
    /// WAL records lost by a crash (unsynced tail).
    pub wal_lost: u64,
    /// Blocks committed through sync rather than a decision.
    pub blocks_synced: u64,
    /// Signatures the sign guard refused to an honest validator.
    pub sign_refusals: u64,
    /// `Output::Equivocation` reports by cores.
    pub equivocations_reported: u64,
    /// Decisions by audited validators (one per validator and height).
    pub decisions: u64,
    /// Highest round in which a block was decided.
    pub max_decided_round: u32,
    /// Client transactions left out of a proposal by `build_block`.
    pub txs_left_out: u64,
    /// Proposals built by Byzantine validators with an attack inside.
    pub attacks_proposed: u64,
    /// Messages the cores dropped as invalid (bad signature, wrong proposer...).
    pub core_invalid_messages: u64,
    /// Messages the cores dropped as stale.
    pub core_stale_messages: u64,
    /// Messages the cores dropped as too far in the future or buffer full.
    pub core_far_future_or_dropped: u64,
    /// Validator-set changes and what they did in the run.
    pub membership: MembershipStats,
    /// Certificates burned by the decided syntheses (each counted once).
    pub burns_committed: u64,
    /// Blind-box closes decided.
    pub boxes_closed: u64,
    /// Blind-box reveals decided.
    pub boxes_revealed: u64,
}

/// What the seeds did with validator-set changes: the proof that runs
/// exercise them (`crates/sim/tests/seeds.rs` fails when the default seeds
/// leave one of these at zero).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MembershipStats {
    /// `ChangeValidators` transactions committed (each counted once).
    pub changes_committed: u64,
    /// ... of which added a validator.
    pub adds: u64,
    /// ... removed one.
    pub removes: u64,
    /// ... changed a power.
    pub power_changes: u64,
    /// ... rotated a key.
    pub rotations: u64,
    /// Heights decided under a set other than the genesis set.
    pub heights_by_changed_set: u64,
    /// Hosts that signed a vote or proposal with a key outside the genesis
    /// set: they started voting in the middle of the run (added, or rotated).
    pub started_voting_mid_run: u64,
    /// Removed validators that committed blocks after their removal took
    /// effect (they kept following as observers), and signed nothing there.
    pub removed_kept_following: u64,
    /// Adds committed while the added host was down.
    pub added_while_down: u64,
    /// Adds committed while a partition was on.
    pub added_during_partition: u64,
    /// Nodes restarted with a rotated key.
    pub key_switches: u64,
    /// Blocks committed through block sync whose commit was signed by a
    /// set other than the genesis set.
    pub synced_under_changed_set: u64,
}

impl MembershipStats {
    /// Every counter with its name (an add committed while the host was down
    /// and one during a partition count as one case: the newcomer was cut off).
    pub fn named(&self) -> [(&'static str, u64); 11] {
        [
            ("changes_committed", self.changes_committed),
            ("adds", self.adds),
            ("removes", self.removes),
            ("power_changes", self.power_changes),
            ("rotations", self.rotations),
            ("heights_by_changed_set", self.heights_by_changed_set),
            ("started_voting_mid_run", self.started_voting_mid_run),
            ("removed_kept_following", self.removed_kept_following),
            ("added_while_down_or_partitioned", self.added_while_down + self.added_during_partition),
            ("key_switches", self.key_switches),
            ("synced_under_changed_set", self.synced_under_changed_set),
        ]
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &MembershipStats) {
        self.changes_committed += other.changes_committed;
        self.adds += other.adds;
        self.removes += other.removes;
        self.power_changes += other.power_changes;
        self.rotations += other.rotations;
        self.heights_by_changed_set += other.heights_by_changed_set;
        self.started_voting_mid_run += other.started_voting_mid_run;
        self.removed_kept_following += other.removed_kept_following;
        self.added_while_down += other.added_while_down;
        self.added_during_partition += other.added_during_partition;
        self.key_switches += other.key_switches;
        self.synced_under_changed_set += other.synced_under_changed_set;
    }
}

/// The clock, the queue, the network and the shared knowledge of a run.
pub(crate) struct World {
    /// Simulated milliseconds since the start.
    pub now_ms: u64,
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    pub rng: Rng,
    pub scenario: Scenario,
    pub testnet: std::sync::Arc<TestNet>,
    /// Every key each host has had, its current key last.
    pub keys: Vec<Vec<PublicKey>>,
    /// The side of each node while a partition is on.
    partition: Option<Vec<bool>>,
    /// Whether the network stopped losing messages.
    pub stable: bool,
    pub audit: Audit,
    pub stats: Stats,
    /// What the colluding equivocators showed each half of the network:
    /// (height, round) -> (block for even validators, block for odd ones).
    pub attack_book: BTreeMap<(u64, u32), (BlockHash, BlockHash)>,
    /// FNV-1a over every processed event's (time, seq, kind).
    pub trace_digest: u64,
    /// Every core input and output, when asked for ([`crate::run_traced`]).
    trace: Option<Vec<String>>,
}

impl World {
    pub(crate) fn new(scenario: Scenario) -> World {
        let testnet = std::sync::Arc::new(TestNet::new(scenario.validators));
        let rng = Rng::new(scenario.seed.rotate_left(17) ^ 0x5eed_5eed_5eed_5eed);
        let keys =
            (0..scenario.hosts()).map(|h| vec![host_key(scenario.validators, h, 0).public()]).collect();
        let audit = Audit::new(&testnet.genesis);
        World {
            keys,
            now_ms: 0,
            queue: BTreeMap::new(),
            seq: 0,
            rng,
            scenario,
            testnet,
            partition: None,
            stable: false,
            audit,
            stats: Stats::default(),
            attack_book: BTreeMap::new(),
            trace_digest: 0xcbf2_9ce4_8422_2325,
            trace: None,
        }
    }

    /// Starts recording a trace.
    pub(crate) fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    /// Whether a trace is recorded (callers skip formatting otherwise).
    pub(crate) fn tracing(&self) -> bool {
        self.trace.as_ref().is_some_and(|t| t.len() < TRACE_LINES_MAX)
    }

    /// Appends a line, stamped with the simulated time.
    pub(crate) fn trace(&mut self, line: String) {
        let now = self.now_ms;
        if let Some(t) = self.trace.as_mut().filter(|t| t.len() < TRACE_LINES_MAX) {
            t.push(format!("{now:>7} {line}"));
        }
    }

    /// The recorded trace.
    pub(crate) fn take_trace(&mut self) -> Vec<String> {
        self.trace.take().unwrap_or_default()
    }

    pub(crate) fn chain(&self) -> &str {
        &self.testnet.genesis.chain_id
    }

    /// Schedules `event` at `at_ms` (never in the past).
    pub(crate) fn schedule(&mut self, at_ms: u64, event: Event) {
        let at_ms = at_ms.max(self.now_ms);
        self.seq += 1;
        self.queue.insert((at_ms, self.seq), event);
    }

    /// Schedules `event` `delay_ms` from now.
    pub(crate) fn schedule_in(&mut self, delay_ms: u64, event: Event) {
        self.schedule(self.now_ms + delay_ms, event);
    }

    /// The time of the next event.
    pub(crate) fn next_time(&self) -> Option<u64> {
        self.queue.first_key_value().map(|((t, _), _)| *t)
    }

    /// Takes the next event, advances the clock and folds it into the trace.
    pub(crate) fn pop(&mut self) -> Option<Event> {
        let ((at_ms, seq), event) = self.queue.pop_first()?;
        debug_assert!(at_ms >= self.now_ms, "time never goes back");
        self.now_ms = at_ms;
        for word in [at_ms, seq, event.kind()] {
            for byte in word.to_le_bytes() {
                self.trace_digest = (self.trace_digest ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        Some(event)
    }

    pub(crate) fn set_partition(&mut self, side: Option<Vec<bool>>) {
        self.partition = side;
    }

    /// Hands `message` from `from` to the network for `to`: it may be lost
    /// (loss before the network is stable, or a partition), delayed by a
    /// random time (which reorders), or duplicated.
    pub(crate) fn send(&mut self, from: usize, to: usize, message: Message) {
        debug_assert_ne!(from, to, "a node feeds its own messages back, it does not send them");
        self.stats.messages_sent += 1;
        if let Some(side) = &self.partition
            && side[from] != side[to]
        {
            self.stats.messages_dropped += 1;
            return;
        }
        let network = &self.scenario.network;
        let (loss, duplicate) = (network.loss_per_mille, network.duplicate_per_mille);
        let (low, high) = (network.delay_min_ms, network.delay_max_ms);
        let corrupt = network.corrupt_per_mille;
        if !self.stable && self.rng.chance(loss) {
            self.stats.messages_dropped += 1;
            return;
        }
        let copies = if self.rng.chance(duplicate) { 2 } else { 1 };
        self.stats.messages_duplicated += copies - 1;
        for _ in 0..copies {
            let mut message = message.clone();
            if !self.stable && self.rng.chance(corrupt) {
                self.corrupt(&mut message);
            }
            let delay = self.rng.between(low, high);
            self.schedule_in(delay, Event::Deliver { to, from, message: Box::new(message) });
        }
    }

    /// Flips one bit of one byte of `message`.
    fn corrupt(&mut self, message: &mut Message) {
        let bytes = match message {
            Message::Consensus(bytes) => bytes,
            Message::SyncResponse { items } if !items.is_empty() => {
                let i = self.rng.below(items.len() as u64) as usize;
                &mut items[i]
            }
            _ => return,
        };
        if bytes.is_empty() {
            return;
        }
        let at = self.rng.below(bytes.len() as u64) as usize;
        bytes[at] ^= 1 << self.rng.below(8);
        self.stats.messages_corrupted += 1;
    }

    /// The current key of `host`.
    pub(crate) fn key_of(&self, host: usize) -> PublicKey {
        *self.keys[host].last().expect("every host has a key")
    }

    /// The host that has (or had) `key`.
    pub(crate) fn host_of(&self, key: &PublicKey) -> Option<usize> {
        self.keys.iter().position(|keys| keys.contains(key))
    }

    /// Whether a partition is on.
    pub(crate) fn partitioned(&self) -> bool {
        self.partition.is_some()
    }

    /// Sends to every host but `from`.
    pub(crate) fn broadcast(&mut self, from: usize, message: &Message) {
        for to in 0..self.scenario.hosts() {
            if to != from {
                self.send(from, to, message.clone());
            }
        }
    }
}
