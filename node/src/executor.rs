//! The consensus executor: hosts [`keepsake_engine::Engine`] on tokio and
//! performs its effects, in order. Nothing is decided here: which message to
//! sign, when to build, what to validate, whom to ask for blocks are the
//! engine's calls (the same engine the simulator runs); this file turns
//! them into file writes, fsyncs, gossip, timers and RPC notifications.
//!
//! | effect | performed as |
//! |---|---|
//! | `AppendWal` / `SyncWal` / `ResetWal` | [`Wal::append`] / `fdatasync` / truncate + `fdatasync` |
//! | `PersistSignState` | [`SignStateFile::store`] (write, fsync, rename, fsync the directory) |
//! | `Publish` | gossip on the consensus topic |
//! | `Verdict` | the forward-or-not answer for the gossip message being handled |
//! | `ScheduleTimeout` | a tokio timer feeding `Event::Timeout` |
//! | `ScheduleBuild` | a deadline (cut short by an arriving transaction) feeding `Event::BuildDue` with the oldest pending transactions |
//! | `RequestBlocks` | a libp2p block-sync request feeding `Event::Synced`, its transactions' signatures pre-verified on every core and the next answer fetched ahead ([`crate::sync`]) |
//! | `ReportPeer` | a strike against the peer |
//! | `Committed` | mempool cleanup, metrics, `keepsake_block` notifications |
//! | `LeftOut` | the transaction leaves the pool with its rejection remembered |
//! | `Equivocation` | log, count, keep the evidence in the store |
//! | `ProposalRefused` | counted by rule code (`keepsake_txs_rejected_total{stage="proposal"}`) |
//!
//! The first effect that fails (a WAL or sign-state write) stops the task:
//! nothing after it may happen, so nothing unsafe is published.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::Context;
use keepsake_consensus::{SignedStep, Timeout, WalEntry};
use keepsake_engine::{ChainStore, Effect, Engine, EngineConfig, Event, LedgerRules, StoreFault};
use keepsake_ledger::{Executed, Tip};
use keepsake_network::{GossipId, GossipVerdict, NetworkHandle, Topic};
use keepsake_rpc::types::BlockSummary;
use keepsake_store::Store;
use keepsake_types::wire::SyncItem;
use keepsake_types::{Block, Commit, Keypair, PublicKey, encoding};
use tokio::sync::{mpsc, watch};

use crate::shared::{Shared, now_ms};
use crate::sync::SyncStream;
use crate::wal::{SignStateFile, Wal};

/// Capacity of the executor's input channels.
const CHANNEL_CAPACITY: usize = 4096;

/// Settings of the executor.
#[derive(Clone, Debug)]
pub struct ExecutorSettings {
    /// The engine's settings.
    pub engine: EngineConfig,
    /// Most bytes of transactions in a block we propose: the proposal must
    /// fit in one gossip message (`[p2p] max_message_bytes` less headroom).
    pub block_bytes_max: usize,
}

/// What the network dispatcher forwards to the executor.
pub enum ExecutorEvent {
    /// A consensus message from a peer (undecoded: the engine decodes it within its bound).
    Message {
        /// Its gossip id, for the forward-or-not verdict (boxed: it is large).
        id: Box<GossipId>,
        /// The peer that forwarded it.
        from: PublicKey,
        /// The encoded envelope.
        bytes: Vec<u8>,
    },
    /// A peer connected.
    PeerConnected(PublicKey),
    /// Blocks fetched from a peer.
    Synced {
        /// The peer that answered.
        from: PublicKey,
        /// Encoded `SyncItem`s, in height order.
        items: Vec<Vec<u8>>,
        /// The stream the next blocks come from (see [`crate::sync`]).
        next: Option<SyncStream>,
    },
}

/// Handles to talk to the executor.
#[derive(Clone)]
pub struct ExecutorInbox {
    /// Network-originated events.
    pub events: mpsc::Sender<ExecutorEvent>,
}

/// The sled store as the engine's [`ChainStore`].
pub struct SledChain {
    shared: Arc<Shared>,
}

impl SledChain {
    /// The node's store.
    pub fn new(shared: Arc<Shared>) -> Self {
        SledChain { shared }
    }
}

fn fault(e: impl std::fmt::Display) -> StoreFault {
    StoreFault(e.to_string())
}

impl ChainStore for SledChain {
    type State = Store;

    fn state(&self) -> &Store {
        &self.shared.store
    }

    fn tip(&self) -> Result<Tip, StoreFault> {
        self.shared.store.ledger_tip(&self.shared.genesis).map_err(fault)
    }

    fn commit_block(
        &mut self,
        block: &Block,
        commit: &Commit,
        executed: &Executed,
    ) -> Result<(), StoreFault> {
        let started = Instant::now();
        self.shared.store.commit_block(block, commit, executed).map_err(fault)?;
        let micros = started.elapsed().as_micros() as u64;
        tracing::debug!(height = block.header.height, micros, "stored a block");
        self.shared.metrics.block_store_micros_sum.fetch_add(micros, Relaxed);
        Ok(())
    }

    fn sync_item(&self, height: u64) -> Result<Option<SyncItem>, StoreFault> {
        let store = &self.shared.store;
        Ok(store.block_and_commit(height).map_err(fault)?.map(|(block, commit)| SyncItem { block, commit }))
    }
}

/// A build the engine asked for.
struct PendingBuild {
    height: u64,
    round: u32,
    deadline: Instant,
    batch_wait: Duration,
}

struct Executor {
    shared: Arc<Shared>,
    engine: Engine<LedgerRules>,
    chain: SledChain,
    settings: ExecutorSettings,
    sign_file: SignStateFile,
    wal: Wal,
    net: NetworkHandle,
    timeouts_tx: mpsc::Sender<Timeout>,
    events_tx: mpsc::Sender<ExecutorEvent>,
    build: Option<PendingBuild>,
    /// Turns of "any peer" sync requests (rotates the peer asked).
    sync_turn: usize,
    /// The stream of sync answers under way, if any.
    stream: Option<SyncStream>,
}

/// Starts the executor task: replays the WAL into the engine, then runs until
/// shutdown or a fault. Returns its inbox and the task.
#[allow(clippy::too_many_arguments)]
pub fn spawn(
    shared: Arc<Shared>,
    key: Keypair,
    settings: ExecutorSettings,
    net: NetworkHandle,
    sign_file: SignStateFile,
    wal: Wal,
    wal_entries: Vec<(u64, WalEntry)>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<(ExecutorInbox, tokio::task::JoinHandle<anyhow::Result<()>>)> {
    let last_signed: Option<SignedStep> = sign_file.load()?;
    let engine = Engine::new(
        settings.engine.clone(),
        shared.genesis.clone(),
        key,
        LedgerRules,
        shared.verified.clone(),
        last_signed,
    );
    let (timeouts_tx, timeouts_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(CHANNEL_CAPACITY);
    let executor = Executor {
        chain: SledChain::new(shared.clone()),
        shared,
        engine,
        settings,
        sign_file,
        wal,
        net,
        timeouts_tx,
        events_tx: events_tx.clone(),
        build: None,
        sync_turn: 0,
        stream: None,
    };
    let task = tokio::spawn(executor.run(wal_entries, timeouts_rx, events_rx, shutdown));
    Ok((ExecutorInbox { events: events_tx }, task))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d.into()).await,
        None => std::future::pending().await,
    }
}

fn network_verdict(verdict: keepsake_engine::GossipVerdict) -> GossipVerdict {
    match verdict {
        keepsake_engine::GossipVerdict::Accept => GossipVerdict::Accept,
        keepsake_engine::GossipVerdict::Ignore => GossipVerdict::Ignore,
        keepsake_engine::GossipVerdict::Reject(reason) => GossipVerdict::Reject(reason),
    }
}

impl Executor {
    async fn run(
        mut self,
        wal_entries: Vec<(u64, WalEntry)>,
        mut timeouts_rx: mpsc::Receiver<Timeout>,
        mut events_rx: mpsc::Receiver<ExecutorEvent>,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        let effects = tokio::task::block_in_place(|| self.engine.start(&mut self.chain, wal_entries))?;
        self.perform(effects, None).await?;
        let mut tick = tokio::time::interval(Duration::from_millis(self.settings.engine.tick_ms.max(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.build.as_ref().map(|b| b.deadline);
            tokio::select! {
                Some(timeout) = timeouts_rx.recv() => self.handle(Event::Timeout(timeout), None).await?,
                Some(event) = events_rx.recv() => match event {
                    ExecutorEvent::Message { id, from, bytes } => {
                        self.handle(Event::Message { from, bytes }, Some(*id)).await?;
                    }
                    ExecutorEvent::PeerConnected(peer) => self.handle(Event::PeerConnected(peer), None).await?,
                    ExecutorEvent::Synced { from, items, next } => {
                        self.stream = next;
                        self.handle(Event::Synced { from, items }, None).await?;
                    }
                },
                () = self.shared.new_tx.notified(), if deadline.is_some() => self.hurry_build(),
                () = sleep_until(deadline), if deadline.is_some() => self.build_due().await?,
                _ = tick.tick() => self.handle(Event::Tick, None).await?,
                _ = shutdown.changed() => return Ok(()),
            }
        }
    }

    /// Runs the engine on one event (CPU work: off the async workers) and performs its effects.
    async fn handle(&mut self, event: Event, gossip: Option<GossipId>) -> anyhow::Result<()> {
        let now = now_ms();
        let result = tokio::task::block_in_place(|| self.engine.handle(&mut self.chain, now, event));
        let effects = result.context("the consensus engine stopped")?;
        self.perform(effects, gossip).await
    }

    /// A transaction arrived while we wait to propose: propose after
    /// `batch_wait` instead of the longer empty-block wait.
    fn hurry_build(&mut self) {
        if let Some(b) = &mut self.build {
            b.deadline = b.deadline.min(Instant::now() + b.batch_wait);
        }
    }

    async fn build_due(&mut self) -> anyhow::Result<()> {
        let Some(PendingBuild { height, round, .. }) = self.build.take() else { return Ok(()) };
        let block_txs_max = self.shared.genesis.params.block_txs_max as usize;
        let candidates = self.shared.mempool().peek_bounded(block_txs_max, self.settings.block_bytes_max);
        self.handle(Event::BuildDue { height, round, candidates }, None).await
    }

    /// Performs `effects` in order; the first failure stops everything after it.
    async fn perform(&mut self, effects: Vec<Effect>, mut gossip: Option<GossipId>) -> anyhow::Result<()> {
        for effect in effects {
            // File writes and fsyncs block: off the async workers, in order, as everything else.
            match effect {
                Effect::AppendWal { height, entry } => {
                    tokio::task::block_in_place(|| self.wal.append(height, &entry))?;
                }
                Effect::SyncWal => tokio::task::block_in_place(|| self.wal.sync())?,
                Effect::PersistSignState(step) => {
                    tokio::task::block_in_place(|| self.sign_file.store(&step))?
                }
                Effect::ResetWal => tokio::task::block_in_place(|| self.wal.reset())?,
                Effect::Publish(envelope) => {
                    // A proposal carries its whole block: encode it off the async workers too.
                    let bytes = tokio::task::block_in_place(|| encoding::encode(&envelope));
                    if let Err(e) = self.net.publish(Topic::Consensus, bytes).await {
                        tracing::debug!(error = %e, "cannot gossip a consensus message");
                    }
                }
                Effect::Verdict(verdict) => {
                    if let Some(id) = gossip.take() {
                        if matches!(verdict, keepsake_engine::GossipVerdict::Reject(_)) {
                            self.shared.metrics.p2p_invalid.fetch_add(1, Relaxed);
                        }
                        self.net.validated(id, network_verdict(verdict));
                    }
                }
                Effect::ScheduleTimeout { timeout, duration_ms } => {
                    let tx = self.timeouts_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(duration_ms)).await;
                        let _ = tx.send(timeout).await;
                    });
                }
                Effect::ScheduleBuild { height, round, empty_wait_ms, batch_wait_ms } => {
                    let wait = if self.shared.mempool().is_empty() { empty_wait_ms } else { batch_wait_ms };
                    self.build = Some(PendingBuild {
                        height,
                        round,
                        deadline: Instant::now() + Duration::from_millis(wait),
                        batch_wait: Duration::from_millis(batch_wait_ms),
                    });
                }
                Effect::RequestBlocks { peer, avoid, from_height, max_blocks } => {
                    self.sync_turn = self.sync_turn.wrapping_add(1);
                    // Any stream that does not answer this very request is dropped (stopped).
                    let stream = self.stream.take().filter(|s| s.answers(peer, &avoid, from_height));
                    self.request_blocks(peer, avoid, from_height, max_blocks, stream);
                }
                Effect::ReportPeer { peer, reason } => {
                    self.shared.metrics.p2p_invalid.fetch_add(1, Relaxed);
                    self.net.report_invalid(peer, reason).await;
                }
                Effect::Committed { header, tx_ids, synced } => self.committed(&header, &tx_ids, synced),
                Effect::LeftOut { tx_id, error } => {
                    self.shared.metrics.rejected("block", error.code());
                    let mut pool = self.shared.mempool();
                    pool.remove(&[tx_id]);
                    pool.remember_rejection(tx_id, error);
                }
                Effect::ProposalRefused { code, .. } => self.shared.metrics.rejected("proposal", code),
                Effect::Equivocation(evidence) => {
                    self.shared.metrics.equivocations.fetch_add(1, Relaxed);
                    let kept = keepsake_types::DoubleVote { first: evidence.first, second: evidence.second };
                    // Kept for auditors; a failure to keep it is logged, never fatal.
                    if let Err(e) = tokio::task::block_in_place(|| self.shared.store.record_evidence(&kept)) {
                        tracing::error!(error = %e, "cannot store equivocation evidence");
                    }
                }
            }
        }
        self.publish_stats();
        Ok(())
    }

    /// Answers a `RequestBlocks` off the executor task: with the next chunk
    /// of `stream` when it is for this request, else from a new stream from
    /// `peer` (or any peer but those in `avoid`, in turn). The chunk, its
    /// transactions' signatures pre-verified (or an empty one when the peer
    /// has nothing more or failed), comes back as [`ExecutorEvent::Synced`]
    /// with the stream ([`crate::sync`]).
    fn request_blocks(
        &self,
        peer: Option<PublicKey>,
        avoid: Vec<PublicKey>,
        from_height: u64,
        max_blocks: u32,
        stream: Option<SyncStream>,
    ) {
        let net = self.net.clone();
        let events = self.events_tx.clone();
        let (genesis, memo) = (self.shared.genesis.clone(), self.shared.verified.clone());
        let me = self.shared.validator;
        let turn = self.sync_turn;
        tokio::spawn(async move {
            let stream = match stream {
                Some(s) => Some(s),
                None => {
                    let peer = match peer {
                        Some(p) => Some(p),
                        // Any peer but those whose answers were refused, in turn.
                        None => net.connected_peers().await.ok().and_then(|ps| {
                            let others: Vec<_> =
                                ps.into_iter().filter(|p| *p != me && !avoid.contains(p)).collect();
                            others.get(turn % others.len().max(1)).copied()
                        }),
                    };
                    peer.filter(|p| *p != me)
                        .map(|p| SyncStream::start(net, genesis, memo, p, from_height, max_blocks))
                }
            };
            let (from, items, next) = match stream {
                Some(s) => {
                    let from = s.peer;
                    let (items, next) = s.next().await;
                    (from, items, next)
                }
                None => (me, Vec::new(), None),
            };
            let _ = events.send(ExecutorEvent::Synced { from, items, next }).await;
        });
    }

    fn committed(&self, header: &keepsake_types::Header, tx_ids: &[keepsake_types::TxId], synced: bool) {
        let m = &self.shared.metrics;
        {
            let mut pool = self.shared.mempool();
            pool.remove(tx_ids);
            m.mempool_txs.store(pool.len() as u64, Relaxed);
            m.mempool_bytes.store(pool.bytes() as u64, Relaxed);
        }
        self.shared.committed(header.height);
        m.height.store(header.height, Relaxed);
        m.blocks_committed.fetch_add(1, Relaxed);
        m.txs_committed.fetch_add(tx_ids.len() as u64, Relaxed);
        if synced {
            m.synced_blocks.fetch_add(1, Relaxed);
        }
        crate::membership::follow(&self.shared, header.height);
        let hash = header.hash();
        if header.tx_count > 0 {
            tracing::info!(height = header.height, hash = %hash, txs = header.tx_count, log_size = header.log_size, synced, "block committed");
        } else {
            tracing::debug!(height = header.height, hash = %hash, synced, "empty block committed");
        }
        let _ = self.shared.blocks.send(BlockSummary {
            height: header.height,
            hash,
            time_ms: header.time_ms,
            tx_count: header.tx_count,
            log_size: header.log_size,
            log_root: header.log_root,
        });
    }

    /// Mirrors the engine's counters into the node's metrics (export only:
    /// nothing reads them back as state).
    fn publish_stats(&self) {
        let (c, m, marks) = (self.engine.consensus_stats(), &self.shared.metrics, &self.engine.marks());
        m.consensus_round.store(u64::from(self.engine.round()), Relaxed);
        m.consensus_ignored_invalid.store(c.invalid_messages, Relaxed);
        m.consensus_ignored_far_future.store(c.far_future_messages, Relaxed);
        m.consensus_ignored_stale.store(c.stale_messages, Relaxed);
        m.consensus_ignored_buffer_full.store(c.dropped_messages, Relaxed);
        m.sign_refusals.store(marks.sign_refused, Relaxed);
        m.set_engine_marks(marks.named());
    }
}
