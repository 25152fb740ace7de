//! What goes into the engine ([`Event`]) and what comes out ([`Effect`]).
//!
//! ## Ordering rules of effects (the host's obligations)
//!
//! The host executes the effects of one [`crate::Engine::handle`] call **in
//! the order given**, each one completed before the next starts, and stops at
//! the first that fails (then halts the node: nothing after it may happen).
//! The engine arranges them so that this order is the safe one:
//!
//! 1. every input the core saw is [`Effect::AppendWal`]ed (buffered);
//! 2. before any signed message of ours is published, the WAL is made durable
//!    ([`Effect::SyncWal`]) and then the new sign-state ([`Effect::PersistSignState`],
//!    a write *and* an fsync), so that after a power loss the validator replays the
//!    same inputs and its guard refuses anything that could contradict what
//!    left the node;
//! 3. only then [`Effect::Publish`].
//!
//! The engine signs in memory before step 2, but a signature that was never
//! published is harmless: what matters is that nothing leaves before it is
//! durable. The simulator's power-loss fault (a crash between any two
//! effects, losing every write not yet synced) checks exactly this, and a
//! test proves it catches an engine that publishes first.

use keepsake_consensus::{Evidence, SignedStep, Timeout, WalEntry};
use keepsake_ledger::LedgerError;
use keepsake_types::wire::ConsensusEnvelope;
use keepsake_types::{Header, PublicKey, SignedTx, TxId};

/// Something that happened to the validator. Time enters only as the `now_ms`
/// argument of [`crate::Engine::handle`] (the host's clock).
#[derive(Clone, Debug)]
pub enum Event {
    /// A consensus message from a peer, as the bytes of a
    /// [`ConsensusEnvelope`] (decoded by the engine within its size bound).
    /// Answered by exactly one [`Effect::Verdict`].
    Message {
        /// The peer that forwarded it.
        from: PublicKey,
        /// The encoded envelope.
        bytes: Vec<u8>,
    },
    /// A timer of [`Effect::ScheduleTimeout`] fired.
    Timeout(Timeout),
    /// The build wait of [`Effect::ScheduleBuild`] is over: here are the
    /// oldest pending transactions (within the block limits), to build from.
    BuildDue {
        /// Height asked for.
        height: u64,
        /// Round asked for.
        round: u32,
        /// Candidate transactions, oldest first.
        candidates: Vec<SignedTx>,
    },
    /// Periodic tick (every [`crate::EngineConfig::tick_ms`]): re-publish when
    /// stuck, fetch blocks when behind.
    Tick,
    /// A peer connected (it may be ahead of us).
    PeerConnected(PublicKey),
    /// The answer to [`Effect::RequestBlocks`]: encoded `SyncItem`s in height
    /// order, empty when the request failed.
    Synced {
        /// The peer that answered.
        from: PublicKey,
        /// The encoded items.
        items: Vec<Vec<u8>>,
    },
}

/// Whether to forward a gossiped message, and whom to blame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Valid: forward it.
    Accept,
    /// Do not forward, blame nobody (stale, a timing matter).
    Ignore,
    /// Invalid: do not forward; the forwarder sent garbage no honest node
    /// passes on (gossip is forwarded only after this verdict).
    Reject(&'static str),
}

impl GossipVerdict {
    /// `accept`, `ignore` or `reject`.
    pub fn code(&self) -> &'static str {
        match self {
            GossipVerdict::Accept => "accept",
            GossipVerdict::Ignore => "ignore",
            GossipVerdict::Reject(_) => "reject",
        }
    }
}

/// A side effect the host must perform, in order (see the module docs).
#[derive(Clone, Debug)]
pub enum Effect {
    /// Append this record to the WAL (buffered; durable after [`Effect::SyncWal`]).
    AppendWal {
        /// The height it belongs to.
        height: u64,
        /// The record.
        entry: WalEntry,
    },
    /// Make every WAL record appended so far durable (`fdatasync`).
    SyncWal,
    /// Durably replace the sign-state with this step (write and `fsync`)
    /// before anything after it.
    PersistSignState(SignedStep),
    /// Gossip this signed message of ours to the validators.
    Publish(ConsensusEnvelope),
    /// The verdict on the [`Event::Message`] being handled.
    Verdict(GossipVerdict),
    /// Feed [`Event::Timeout`] back after `duration_ms`.
    ScheduleTimeout {
        /// The timeout.
        timeout: Timeout,
        /// Its length.
        duration_ms: u64,
    },
    /// We are to propose at `(height, round)`: wait `empty_wait_ms` when the
    /// pool is empty or `batch_wait_ms` when it is not (cutting an empty wait
    /// short to `batch_wait_ms` when a transaction arrives), then send
    /// [`Event::BuildDue`] with the oldest pending transactions.
    ScheduleBuild {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Wait with an empty pool.
        empty_wait_ms: u64,
        /// Wait with transactions pending.
        batch_wait_ms: u64,
    },
    /// Ask `peer` (or, when `None`, any connected peer but those in `avoid`,
    /// in turn) for blocks and their commits from `from_height` on, then send
    /// [`Event::Synced`] (empty on failure).
    RequestBlocks {
        /// Whom to ask.
        peer: Option<PublicKey>,
        /// Peers whose sync answers were refused: ask someone else.
        avoid: Vec<PublicKey>,
        /// The first height wanted.
        from_height: u64,
        /// Most blocks wanted.
        max_blocks: u32,
    },
    /// A peer sent data no honest node sends (lower its score, maybe disconnect).
    ReportPeer {
        /// The peer.
        peer: PublicKey,
        /// Why.
        reason: &'static str,
    },
    /// A block was committed to the chain store (already written): tell
    /// subscribers, drop its transactions from the pool.
    Committed {
        /// Its header.
        header: Header,
        /// Its transactions' ids.
        tx_ids: Vec<TxId>,
        /// Whether it came by block sync rather than our own decision.
        synced: bool,
    },
    /// The height changed: empty the WAL (durably).
    ResetWal,
    /// Our proposal left this pending transaction out: drop it from the pool
    /// and remember why (for `getTxStatus`).
    LeftOut {
        /// The transaction.
        tx_id: TxId,
        /// Why it was left out.
        error: LedgerError,
    },
    /// A validator signed two different votes for one step: keep the evidence.
    Equivocation(Box<Evidence>),
    /// We refused a proposal for breaking a ledger rule (we prevote nil): count it.
    ProposalRefused {
        /// The proposer.
        proposer: PublicKey,
        /// The stable code of the broken rule.
        code: &'static str,
    },
}
