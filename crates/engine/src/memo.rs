//! [`VerifiedSet`]: the node's verify-once memo (rule T4 is checked once per
//! node and transaction, at admission; building or validating the block that
//! carries the transaction finds its digest here and skips the curve work).

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use keepsake_ledger::rules::VerifiedMemo;
use keepsake_types::Hash32;

/// Digests of transactions whose signatures passed T4 here. Bounded: the
/// oldest digest is forgotten first (a forgotten one is simply verified
/// again). Shared by admission (RPC handlers, gossip ingestion) and the
/// engine; each call takes the lock briefly.
pub struct VerifiedSet {
    inner: Mutex<VerifiedInner>,
    hits: AtomicU64,
}

struct VerifiedInner {
    capacity: usize,
    set: HashSet<Hash32>,
    order: VecDeque<Hash32>,
}

impl VerifiedSet {
    /// An empty memo of at most `capacity` digests.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(VerifiedInner { capacity, set: HashSet::new(), order: VecDeque::new() }),
            hits: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VerifiedInner> {
        self.inner.lock().expect("verified-set lock poisoned: a panic happened while it was held")
    }

    /// Remembers a digest that passed T4.
    pub fn remember(&self, digest: Hash32) {
        let mut m = self.lock();
        if m.capacity == 0 || !m.set.insert(digest) {
            return;
        }
        m.order.push_back(digest);
        while m.order.len() > m.capacity {
            if let Some(old) = m.order.pop_front() {
                m.set.remove(&old);
            }
        }
    }

    /// Digests remembered.
    pub fn len(&self) -> usize {
        self.lock().set.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.lock().set.is_empty()
    }

    /// Lookups that found their digest (signature work skipped), since creation.
    pub fn hits(&self) -> u64 {
        self.hits.load(Relaxed)
    }
}

impl VerifiedMemo for VerifiedSet {
    fn verified(&self, digest: &Hash32) -> bool {
        let found = self.lock().set.contains(digest);
        if found {
            self.hits.fetch_add(1, Relaxed);
        }
        found
    }
}
