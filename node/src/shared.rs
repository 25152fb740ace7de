//! What the node's parts share: the store, the genesis, the mempool and the
//! verify-once memo, the committed height, health, and the supervision of
//! background tasks. Every other module of the node depends on this one and
//! on nothing that depends back on it (`node.rs` wires them together).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use keepsake_engine::admit::Admission;
use keepsake_engine::{Mempool, VerifiedSet};
use keepsake_network::NetworkHandle;
use keepsake_rpc::types::BlockSummary;
use keepsake_store::Store;
use keepsake_types::Genesis;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::metrics::Metrics;

/// State shared by the executor, the RPC handlers and `/health`.
pub struct Shared {
    /// The database.
    pub store: Arc<Store>,
    /// The genesis.
    pub genesis: Arc<Genesis>,
    /// This node's key (a validator's, or an observer's).
    pub validator: keepsake_types::PublicKey,
    /// Pending transactions.
    pub mempool: Mutex<Mempool>,
    /// Digests of transactions whose signatures passed T4 here (verify once per node).
    pub verified: Arc<VerifiedSet>,
    /// The last committed height (set by the executor after each commit; admission
    /// checks transactions for the height after it).
    pub committed_height: AtomicU64,
    /// When the last block was committed (ms since the Unix epoch; the node's
    /// start until its first commit).
    pub last_commit_ms: AtomicU64,
    /// `/health` turns 503 after this long without a commit (0: never; `[rpc] health_stale_after_ms`).
    pub health_stale_after_ms: u64,
    /// The network (peer counts for `/health` come from it).
    pub net: NetworkHandle,
    /// Set when a clean shutdown began: background tasks that end then are not faults.
    pub shutting_down: AtomicBool,
    /// Metrics.
    pub metrics: Metrics,
    /// Wakes a waiting proposer when a transaction is admitted.
    pub new_tx: Notify,
    /// Committed blocks, for subscriptions.
    pub blocks: broadcast::Sender<BlockSummary>,
    /// Transactions admitted over RPC, to gossip to the other validators:
    /// one entry per admission call (its admitted transactions, each in its
    /// canonical encoding), bounded in transactions.
    pub gossip_tx: WeightedSender<Vec<Vec<u8>>>,
    /// Set when the node stopped on a fault.
    pub halted: Mutex<Option<String>>,
    /// Keys the operator's config trusts whatever the chain says (its
    /// allow-list and bootstrap peers).
    pub trusted_peers: Vec<keepsake_types::PublicKey>,
    /// The keys last given to the network as admitted (crate::membership).
    pub admitted: Mutex<std::collections::BTreeSet<keepsake_types::PublicKey>>,
}

impl Shared {
    /// Locks the mempool. A poisoned lock means a panic while holding it: a bug.
    pub fn mempool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.mempool.lock().expect("mempool lock poisoned: a panic happened while it was held")
    }

    /// The one admission path (RPC and gossip) over committed state.
    pub fn admission(&self) -> Admission<'_, Store> {
        Admission {
            state: &*self.store,
            genesis: &self.genesis,
            memo: &self.verified,
            pool: &self.mempool,
            // The state admission reads may already include a block the
            // executor has not announced yet (the store makes it visible
            // before flushing it): judge against the store's height then, or
            // a reveal right after its box's close would be judged to share
            // the close's block (T48).
            next_height: self.committed_height.load(Relaxed).max(self.store.committed_height()) + 1,
            time_ms: now_ms(),
        }
    }

    /// Marks the node halted with `reason` (the first reason is kept); `/health` turns 503.
    pub fn halt(&self, reason: String) {
        let mut halted = self.halted.lock().expect("halted lock is never poisoned");
        if halted.is_none() {
            *halted = Some(reason);
        }
    }

    /// Records a commit (for `/health`).
    pub fn committed(&self, height: u64) {
        self.committed_height.store(height, Relaxed);
        self.last_commit_ms.store(now_ms(), Relaxed);
    }

    /// `(healthy, JSON body)` for `/health`: unhealthy when halted, or when no
    /// block has been committed for `health_stale_after_ms`.
    pub fn health(&self) -> (bool, String) {
        let halted = self.halted.lock().expect("halted lock is never poisoned").clone();
        let height = self.committed_height.load(Relaxed);
        let peers = self.net.stats().peers_connected;
        let since = now_ms().saturating_sub(self.last_commit_ms.load(Relaxed));
        let stale = self.health_stale_after_ms > 0 && since > self.health_stale_after_ms;
        let body = |status: &str| serde_json::json!({"status": status, "height": height, "peers": peers, "last_commit_ms_ago": since});
        match halted {
            Some(reason) => {
                let mut b = body("halted");
                b["reason"] = reason.into();
                (false, b.to_string())
            }
            None if stale => {
                let mut b = body("stale");
                b["reason"] = format!(
                    "no block committed for {since} ms (limit {} ms): check that a quorum of validators is \
                     running and connected (peers: {peers})",
                    self.health_stale_after_ms
                )
                .into();
                (false, b.to_string())
            }
            None => (true, body("ok").to_string()),
        }
    }
}

/// Runs a background task that must live as long as the node: if it ends
/// (returns or panics) before shutdown began, the node is marked halted and
/// `/health` turns 503 with the task's name.
pub fn supervise<F>(shared: &Arc<Shared>, name: &'static str, task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    // Weak: the watcher must not keep the node (and its database lock) alive;
    // some tasks end only when the node's state is dropped.
    let shared = Arc::downgrade(shared);
    watch(name, tokio::spawn(task), move |reason| {
        let Some(shared) = shared.upgrade() else { return };
        if shared.shutting_down.load(Relaxed) {
            return;
        }
        tracing::error!(task = name, reason, "a background task died");
        shared.halt(reason);
    });
}

/// Calls `on_death` with the reason when the task behind `handle` ends,
/// whether it returned or panicked.
fn watch(
    name: &'static str,
    handle: tokio::task::JoinHandle<()>,
    on_death: impl FnOnce(String) + Send + 'static,
) {
    tokio::spawn(async move {
        let reason = match handle.await {
            Ok(()) => format!("background task '{name}' stopped"),
            Err(e) => format!("background task '{name}' failed: {e}"),
        };
        on_death(reason);
    });
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A queue bounded by the total *weight* of what waits in it (transactions,
/// bytes) rather than by its number of entries: entries differ in size (a
/// gossiped batch of one transaction or of a thousand). Every entry weighs at
/// least 1, so the number of entries is bounded too.
pub fn weighted_channel<T>(max_weight: usize) -> (WeightedSender<T>, WeightedReceiver<T>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    (WeightedSender { tx, queued: queued.clone(), max_weight }, WeightedReceiver { rx, queued })
}

/// The sending side of [`weighted_channel`].
pub struct WeightedSender<T> {
    tx: mpsc::UnboundedSender<(T, usize)>,
    queued: Arc<AtomicUsize>,
    max_weight: usize,
}

impl<T> WeightedSender<T> {
    /// Queues `item` of `weight`, never waiting; gives it back when the queue
    /// would go over its bound (or the receiver is gone).
    pub fn offer(&self, item: T, weight: usize) -> Result<(), T> {
        let weight = weight.max(1);
        let before = self.queued.fetch_add(weight, Relaxed);
        if before.saturating_add(weight) > self.max_weight {
            self.queued.fetch_sub(weight, Relaxed);
            return Err(item);
        }
        self.tx.send((item, weight)).map_err(|e| {
            self.queued.fetch_sub(weight, Relaxed);
            e.0.0
        })
    }
}

/// The receiving side of [`weighted_channel`].
pub struct WeightedReceiver<T> {
    rx: mpsc::UnboundedReceiver<(T, usize)>,
    queued: Arc<AtomicUsize>,
}

impl<T> WeightedReceiver<T> {
    /// The next entry; `None` once every sender is gone.
    pub async fn recv(&mut self) -> Option<T> {
        let (item, weight) = self.rx.recv().await?;
        self.queued.fetch_sub(weight, Relaxed);
        Some(item)
    }

    /// The next entry if one is waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        let (item, weight) = self.rx.try_recv().ok()?;
        self.queued.fetch_sub(weight, Relaxed);
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_background_task_that_ends_or_panics_is_reported_by_name() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let report = move |reason: String| {
            let _ = tx.send(reason);
        };
        let first = report.clone();
        watch("returns", tokio::spawn(async {}), first);
        assert_eq!(rx.recv().await.unwrap(), "background task 'returns' stopped");
        watch("panics", tokio::spawn(async { panic!("boom") }), report);
        let reason = rx.recv().await.unwrap();
        assert!(reason.starts_with("background task 'panics' failed: "), "{reason}");
        assert!(reason.contains("panicked"), "{reason}");
    }

    #[tokio::test]
    async fn a_weighted_queue_is_bounded_by_weight_and_frees_it_when_read() {
        let (tx, mut rx) = weighted_channel::<&str>(10);
        tx.offer("six", 6).unwrap();
        assert_eq!(tx.offer("five", 5), Err("five"));
        tx.offer("zero weighs one", 0).unwrap();
        tx.offer("three", 3).unwrap();
        assert_eq!(tx.offer("one more", 1), Err("one more"));
        assert_eq!(rx.recv().await, Some("six"));
        tx.offer("five", 5).unwrap();
        assert_eq!(rx.try_recv(), Some("zero weighs one"));
        assert_eq!(rx.try_recv(), Some("three"));
        assert_eq!(rx.try_recv(), Some("five"));
        assert_eq!(rx.try_recv(), None);
        drop(rx);
        assert_eq!(tx.offer("gone", 1), Err("gone"));
    }
}
