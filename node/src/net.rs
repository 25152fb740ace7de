//! The network side of the node: routes libp2p events (consensus messages
//! and peer events to the executor, gossiped transaction batches to
//! admission, sync requests to the store) and gossips the transactions
//! admitted over RPC, in batches. Every policy (decoding bounds, forwarding
//! verdicts, what a sync answer holds) is the engine's, the batch format is
//! `keepsake_types::wire`'s; this file only moves bytes.
//!
//! Transaction gossip (docs/protocol.md, §8): what one admission call
//! admitted (a `submitTxs` call's admitted transactions, or one `submitTx`)
//! is queued as one entry; the publisher takes the entry and whatever else
//! is already queued (no timer: a burst coalesces by itself while the
//! publisher is busy, a lone transaction leaves at once) and publishes it as
//! few messages as [`TX_BATCH_TXS_MAX`] transactions and the gossip message
//! size allow.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use keepsake_engine::{GossipVerdict as EngineVerdict, serve_blocks};
use keepsake_network::{GossipId, GossipVerdict, NetworkEvent, NetworkHandle, Publication, Topic};
use keepsake_types::PublicKey;
use keepsake_types::wire::{TX_BATCH_TXS_MAX, pack_tx_batches};
use tokio::sync::mpsc;

use crate::executor::{ExecutorEvent, ExecutorInbox, SledChain};
use crate::shared::{Shared, WeightedReceiver, weighted_channel};

/// Bytes of gossiped transaction batches waiting for admission (beyond it,
/// batches are dropped and counted in `keepsake_p2p_dropped_total`; they
/// expire unforwarded). The queue held 20,000 single transactions of at most
/// 4 KiB before batching; 64 MiB is ~300,000 mints.
const TX_INGEST_BYTES_MAX: usize = 64 * 1024 * 1024;
/// A trip to the blocking pool stops taking batches after this many bytes...
const TX_INGEST_TRIP_BYTES: usize = 256 * 1024;
/// ...or this many batches (lone transactions, say).
const TX_INGEST_TRIP_MESSAGES: usize = 256;
/// Most blocks served in one sync answer.
pub const SYNC_SERVE_BLOCKS_MAX: u32 = 64;
/// Bytes after which a sync answer stops growing.
const SYNC_SERVE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// A gossiped transaction batch waiting for admission.
struct Inbound {
    id: GossipId,
    from: PublicKey,
    data: Vec<u8>,
}

/// Routes network events until the network stops.
pub async fn dispatch(
    shared: Arc<Shared>,
    net: NetworkHandle,
    mut events: mpsc::Receiver<NetworkEvent>,
    inbox: ExecutorInbox,
    max_message_bytes: usize,
) {
    let (ingest_tx, ingest_rx) = weighted_channel(TX_INGEST_BYTES_MAX);
    crate::shared::supervise(
        &shared,
        "gossip admission",
        ingest_transactions(shared.clone(), net.clone(), ingest_rx, max_message_bytes),
    );
    while let Some(event) = events.recv().await {
        match event {
            NetworkEvent::Gossip { id, from, topic: Topic::Txs, data } => {
                let weight = data.len();
                if ingest_tx.offer(Inbound { id, from, data }, weight).is_err() {
                    shared.metrics.p2p_dropped.fetch_add(1, Relaxed);
                }
            }
            NetworkEvent::Gossip { id, from, topic: Topic::Consensus, data } => {
                let event = ExecutorEvent::Message { id: Box::new(id), from, bytes: data };
                if inbox.events.try_send(event).is_err() {
                    shared.metrics.p2p_dropped.fetch_add(1, Relaxed);
                }
            }
            NetworkEvent::SyncRequest { from, from_height, max_blocks, reply } => {
                let shared = shared.clone();
                tokio::task::spawn_blocking(move || {
                    let chain = SledChain::new(shared);
                    let items = serve_blocks(
                        &chain,
                        from_height,
                        max_blocks,
                        SYNC_SERVE_BLOCKS_MAX,
                        SYNC_SERVE_BYTES_MAX,
                    )
                    .unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "cannot serve block sync");
                        Vec::new()
                    });
                    tracing::debug!(peer = %from, from_height, blocks = items.len(), "serving block sync");
                    reply.send(items);
                });
            }
            NetworkEvent::PeerConnected(peer) => {
                let _ = inbox.events.try_send(ExecutorEvent::PeerConnected(peer));
            }
            NetworkEvent::PeerDisconnected(_) => {}
        }
    }
}

/// Admits gossiped transaction batches into the mempool, each transaction
/// alone ([`keepsake_engine::txgossip`]), on the blocking pool, several
/// batches a trip (a burst of lone transactions must not become as many
/// blocking tasks); then gives gossipsub each batch's verdict.
async fn ingest_transactions(
    shared: Arc<Shared>,
    net: NetworkHandle,
    mut rx: WeightedReceiver<Inbound>,
    max_message_bytes: usize,
) {
    while let Some(first) = rx.recv().await {
        let mut bytes = first.data.len();
        let mut trip = vec![first];
        while trip.len() < TX_INGEST_TRIP_MESSAGES && bytes < TX_INGEST_TRIP_BYTES {
            match rx.try_recv() {
                Some(item) => {
                    bytes += item.data.len();
                    trip.push(item);
                }
                None => break,
            }
        }
        let shared2 = shared.clone();
        let verdicts = tokio::task::spawn_blocking(move || {
            let admission = shared2.admission();
            let m = &shared2.metrics;
            let mut verdicts = Vec::with_capacity(trip.len());
            let mut admitted = false;
            for Inbound { id, from, data } in trip {
                let batch = admission.admit_gossiped_batch(&data, max_message_bytes);
                m.gossip_tx_batches_received.fetch_add(1, Relaxed);
                m.gossip_txs_received.fetch_add(batch.decoded as u64, Relaxed);
                for result in &batch.results {
                    match result {
                        Ok(_) => admitted = true,
                        Err(e) => m.rejected("gossip", e.code()),
                    }
                }
                if let EngineVerdict::Reject(reason) = batch.verdict {
                    let first_error = batch.results.iter().find_map(|r| r.as_ref().err());
                    tracing::warn!(
                        peer = %from,
                        reason,
                        bytes = data.len(),
                        txs = batch.decoded,
                        admitted = batch.admitted(),
                        error = first_error.map(|e| e.to_string()),
                        "gossiped transaction batch rejected"
                    );
                }
                verdicts.push((id, batch.verdict));
            }
            if admitted {
                shared2.new_tx.notify_one();
            }
            verdicts
        })
        .await
        .unwrap_or_default();
        for (id, verdict) in verdicts {
            let verdict = match verdict {
                EngineVerdict::Accept => GossipVerdict::Accept,
                EngineVerdict::Ignore => GossipVerdict::Ignore,
                EngineVerdict::Reject(reason) => {
                    shared.metrics.p2p_invalid.fetch_add(1, Relaxed);
                    GossipVerdict::Reject(reason)
                }
            };
            net.validated(id, verdict);
        }
    }
}

/// How often batches that reached nobody are published again.
const UNSENT_RETRY_EVERY: Duration = Duration::from_millis(200);
/// How long a batch that reached nobody is retried before it is dropped.
/// Dropped transactions are not lost: they stay in this node's pool and
/// are committed when this node proposes.
const UNSENT_RETRY_FOR: Duration = Duration::from_secs(30);
/// Bound on the bytes of batches waiting to be published again (the oldest
/// are dropped first).
const UNSENT_BYTES_MAX: usize = 16 << 20;

/// Publishes the transactions admitted over RPC on the transaction topic:
/// each queued entry with whatever else is already queued (up to
/// [`TX_BATCH_TXS_MAX`] transactions), packed into as few batches as the
/// count limit and `max_message_bytes` allow.
///
/// A batch that reached nobody ([`Publication::NoSubscribedPeers`]: just
/// after a start or a reconnection, a peer is connected before its
/// subscription to the topic has arrived) is published again every
/// [`UNSENT_RETRY_EVERY`] (while some peer is connected) for [`UNSENT_RETRY_FOR`], within
/// [`UNSENT_BYTES_MAX`]: otherwise a transaction admitted at that moment
/// would wait in this node's pool until this node proposes.
///
/// `shared` is weak: the queue's sender lives in the node's state, so a
/// strong reference would keep that state (and its database) alive for
/// ever; the task ends once the state is dropped.
pub async fn gossip_transactions(
    shared: Weak<Shared>,
    net: NetworkHandle,
    mut rx: WeightedReceiver<Vec<Vec<u8>>>,
    max_message_bytes: usize,
) {
    let mut unsent = Unsent::default();
    // A fixed deadline, not a sleep restarted by every new entry: a steady
    // stream of admissions must not postpone the retries.
    let mut next_retry = tokio::time::Instant::now();
    loop {
        let txs = if unsent.is_empty() {
            rx.recv().await
        } else {
            tokio::select! {
                txs = rx.recv() => txs,
                () = tokio::time::sleep_until(next_retry) => {
                    unsent.retry(&net).await;
                    next_retry = tokio::time::Instant::now() + UNSENT_RETRY_EVERY;
                    continue;
                }
            }
        };
        let Some(mut txs) = txs else { return };
        while txs.len() < TX_BATCH_TXS_MAX {
            match rx.try_recv() {
                Some(more) => txs.extend(more),
                None => break,
            }
        }
        let mut published = 0;
        for payload in pack_tx_batches(&txs, max_message_bytes, TX_BATCH_TXS_MAX) {
            match net.publish(Topic::Txs, payload.clone()).await {
                Ok(Publication::NoSubscribedPeers) => {
                    if unsent.is_empty() {
                        next_retry = tokio::time::Instant::now() + UNSENT_RETRY_EVERY;
                    }
                    unsent.push(payload);
                }
                Ok(Publication::Sent | Publication::AlreadySeen) => published += 1,
                Err(e) => tracing::debug!(error = %e, "cannot gossip a transaction batch"),
            }
        }
        let Some(shared) = shared.upgrade() else { return };
        shared.metrics.gossip_tx_batches_published.fetch_add(published, Relaxed);
        shared.metrics.gossip_txs_published.fetch_add(txs.len() as u64, Relaxed);
    }
}

/// Transaction batches that reached nobody, oldest first, with when each
/// was first tried.
#[derive(Default)]
struct Unsent {
    batches: VecDeque<(Instant, Vec<u8>)>,
    bytes: usize,
}

impl Unsent {
    fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    fn push(&mut self, payload: Vec<u8>) {
        self.bytes += payload.len();
        self.batches.push_back((Instant::now(), payload));
        while self.bytes > UNSENT_BYTES_MAX {
            self.pop_front();
            tracing::debug!("dropping the oldest unsent transaction batch: over the retry bound");
        }
    }

    fn pop_front(&mut self) -> Option<(Instant, Vec<u8>)> {
        let front = self.batches.pop_front()?;
        self.bytes -= front.1.len();
        Some(front)
    }

    /// Drops the batches older than [`UNSENT_RETRY_FOR`] and, when a peer is
    /// connected (a node with none, like a one-validator chain, has nobody to
    /// publish to), publishes the others once more, keeping those that still
    /// reached nobody.
    async fn retry(&mut self, net: &NetworkHandle) {
        while self.batches.front().is_some_and(|(since, _)| since.elapsed() >= UNSENT_RETRY_FOR) {
            self.pop_front();
            tracing::debug!(
                after_s = UNSENT_RETRY_FOR.as_secs(),
                "a transaction batch reached no peer; it stays in this node's pool"
            );
        }
        if net.stats().peers_connected == 0 {
            return;
        }
        for _ in 0..self.batches.len() {
            let Some((since, payload)) = self.pop_front() else { break };
            match net.publish(Topic::Txs, payload.clone()).await {
                Ok(Publication::NoSubscribedPeers) => {
                    self.bytes += payload.len();
                    self.batches.push_back((since, payload));
                }
                Ok(Publication::Sent | Publication::AlreadySeen) => {
                    tracing::debug!(
                        waited_ms = since.elapsed().as_millis() as u64,
                        "published a waiting transaction batch"
                    )
                }
                Err(e) => tracing::debug!(error = %e, "cannot gossip a transaction batch"),
            }
        }
    }
}
