//! The network side of the node: routes libp2p events (consensus messages
//! and peer events to the executor, gossiped transactions to admission, sync
//! requests to the store) and gossips the transactions admitted over RPC.
//! Every policy (decoding bounds, forwarding verdicts, what a sync answer
//! holds) is the engine's; this file only moves bytes.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use keepsake_engine::{GossipVerdict as EngineVerdict, serve_blocks};
use keepsake_network::{GossipId, GossipVerdict, NetworkEvent, NetworkHandle, Topic};
use keepsake_types::{SignedTx, encoding};
use tokio::sync::mpsc;

use crate::executor::{ExecutorEvent, ExecutorInbox, SledChain};
use crate::shared::Shared;

/// Capacity of the queue of gossiped transactions waiting for admission.
const TX_INGEST_CAPACITY: usize = 20_000;
/// Gossiped transactions checked per trip to the blocking pool.
const TX_INGEST_BATCH: usize = 256;
/// Most blocks served in one sync answer.
pub const SYNC_SERVE_BLOCKS_MAX: u32 = 64;
/// Bytes after which a sync answer stops growing.
const SYNC_SERVE_BYTES_MAX: usize = 8 * 1024 * 1024;

/// Routes network events until the network stops.
pub async fn dispatch(
    shared: Arc<Shared>,
    net: NetworkHandle,
    mut events: mpsc::Receiver<NetworkEvent>,
    inbox: ExecutorInbox,
) {
    let (ingest_tx, ingest_rx) = mpsc::channel(TX_INGEST_CAPACITY);
    crate::shared::supervise(
        &shared,
        "gossip admission",
        ingest_transactions(shared.clone(), net.clone(), ingest_rx),
    );
    while let Some(event) = events.recv().await {
        match event {
            NetworkEvent::Gossip { id, topic: Topic::Txs, data, .. } => {
                if ingest_tx.try_send((id, data)).is_err() {
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

/// Admits gossiped transactions into the mempool, in batches on the blocking
/// pool (a burst of 10,000 must not become 10,000 blocking tasks).
async fn ingest_transactions(
    shared: Arc<Shared>,
    net: NetworkHandle,
    mut rx: mpsc::Receiver<(GossipId, Vec<u8>)>,
) {
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
            let admission = shared2.admission();
            let mut verdicts = Vec::with_capacity(batch.len());
            let mut admitted = false;
            for (id, data) in batch {
                let (verdict, result) = admission.admit_gossiped(&data);
                match result {
                    Ok(_) => admitted = true,
                    Err(e) => shared2.metrics.rejected("gossip", e.code()),
                }
                verdicts.push((id, verdict));
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

/// Forwards transactions admitted over RPC to the transaction gossip topic.
pub async fn gossip_transactions(net: NetworkHandle, mut rx: mpsc::Receiver<SignedTx>) {
    while let Some(tx) = rx.recv().await {
        if let Err(e) = net.publish(Topic::Txs, encoding::encode(&tx)).await {
            tracing::debug!(error = %e, "cannot gossip a transaction");
        }
    }
}
