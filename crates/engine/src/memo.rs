//! [`VerifiedSet`]: the node's verify-once memo (rule T4 is checked once per
//! node and transaction, at admission; building or validating the block that
//! carries the transaction finds its digest here and skips the curve work).
//!
//! A digest is useful only while its transaction is pending: once the block
//! carrying it is committed, the engine [`VerifiedSet::forget`]s it (a
//! committed transaction can never be valid in a later block). So the memo
//! holds about the pending transactions, not the last `capacity` ever
//! admitted: its memory follows the backlog, not the work done (with four
//! validators a memo that kept every digest up to its bound held ~10 MiB
//! of dead digests per node; docs/benchmarks.md, "Four validators on one
//! machine").

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use keepsake_ledger::rules::{self, VerifiedMemo};
use keepsake_types::{DigestSet, Hash32, SignedTx};

/// Tables at least this large are shrunk when mostly empty after a
/// [`VerifiedSet::forget`] (a burst must not leave its peak table behind).
const SHRINK_MIN_CAPACITY: usize = 4096;

/// Digests of transactions whose signatures passed T4 here. Bounded: at most
/// `capacity` digests, in two generations of at most `capacity / 2`; when the
/// newer one is full the older one is dropped whole (the oldest digests are
/// forgotten first; a forgotten one is simply verified again). Shared by
/// admission (RPC handlers, gossip ingestion) and the engine; each call takes
/// the lock briefly.
pub struct VerifiedSet {
    inner: Mutex<VerifiedInner>,
    hits: AtomicU64,
}

struct VerifiedInner {
    /// Most digests of one generation.
    generation: usize,
    /// Whether the older generation is kept (not with a capacity of 1).
    two_generations: bool,
    /// Digests remembered since the last rotation.
    current: DigestSet<Hash32>,
    /// The generation before, dropped whole at the next rotation.
    previous: DigestSet<Hash32>,
}

impl VerifiedInner {
    fn contains(&self, digest: &Hash32) -> bool {
        self.current.contains(digest) || self.previous.contains(digest)
    }
}

fn shrink_if_sparse(set: &mut DigestSet<Hash32>) {
    if set.capacity() >= SHRINK_MIN_CAPACITY && set.len() < set.capacity() / 4 {
        set.shrink_to(set.len() * 2);
    }
}

impl VerifiedSet {
    /// An empty memo of at most `capacity` digests (0: remembers nothing).
    pub fn new(capacity: usize) -> Self {
        let inner = VerifiedInner {
            generation: (capacity / 2).max(capacity.min(1)),
            two_generations: capacity >= 2,
            current: DigestSet::default(),
            previous: DigestSet::default(),
        };
        Self { inner: Mutex::new(inner), hits: AtomicU64::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VerifiedInner> {
        self.inner.lock().expect("verified-set lock poisoned: a panic happened while it was held")
    }

    /// Remembers a digest that passed T4.
    pub fn remember(&self, digest: Hash32) {
        let mut m = self.lock();
        if m.generation == 0 || m.contains(&digest) {
            return;
        }
        if m.current.len() >= m.generation {
            let full = std::mem::take(&mut m.current);
            m.previous = if m.two_generations { full } else { DigestSet::default() };
        }
        m.current.insert(digest);
    }

    /// Forgets digests that are of no further use (their transactions are
    /// committed). Unknown digests are ignored.
    pub fn forget(&self, digests: impl IntoIterator<Item = Hash32>) {
        let mut m = self.lock();
        for digest in digests {
            if !m.current.remove(&digest) {
                m.previous.remove(&digest);
            }
        }
        shrink_if_sparse(&mut m.current);
        shrink_if_sparse(&mut m.previous);
    }

    /// How many new digests can be remembered now without forgetting any
    /// (before the newer generation is full and the older one is dropped).
    /// Whoever verifies ahead of need (block sync's pre-verification) stays
    /// within it, so that what it verified is still known when used.
    pub fn room(&self) -> usize {
        let m = self.lock();
        m.generation.saturating_sub(m.current.len())
    }

    /// Checks T4 for every transaction of `txs` (each with its
    /// [`rules::Encoded`] form, whose digest is the memo's key) this memo
    /// does not know yet, in one batch verification
    /// ([`rules::verify_encoded_many`]), and remembers the digest of each
    /// that passes. A failing transaction is not remembered: the rules check
    /// it again, alone, and name the rule it breaks.
    pub fn preverify(&self, chain_id: &str, txs: &[(&SignedTx, &rules::Encoded)]) {
        let fresh: Vec<(&SignedTx, &rules::Encoded)> = {
            let m = self.lock();
            txs.iter().filter(|(_, e)| !m.contains(&e.digest)).copied().collect()
        };
        if fresh.is_empty() {
            return;
        }
        let verdicts = rules::verify_encoded_many(chain_id, &fresh);
        for ((_, e), ok) in fresh.into_iter().zip(verdicts) {
            if ok {
                self.remember(e.digest);
            }
        }
    }

    /// Digests remembered.
    pub fn len(&self) -> usize {
        let m = self.lock();
        m.current.len() + m.previous.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Lookups that found their digest (signature work skipped), since creation.
    pub fn hits(&self) -> u64 {
        self.hits.load(Relaxed)
    }
}

impl VerifiedMemo for VerifiedSet {
    fn verified(&self, digest: &Hash32) -> bool {
        let found = self.lock().contains(digest);
        if found {
            self.hits.fetch_add(1, Relaxed);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(i: u32) -> Hash32 {
        let mut d = [0u8; 32];
        d[..4].copy_from_slice(&i.to_be_bytes());
        Hash32(d)
    }

    #[test]
    fn never_holds_more_than_its_capacity_and_keeps_the_newest() {
        for capacity in [1usize, 2, 3, 10, 1000] {
            let memo = VerifiedSet::new(capacity);
            for i in 0..(capacity as u32 * 7 + 3) {
                memo.remember(digest(i));
                assert!(memo.len() <= capacity, "capacity {capacity}: {} digests after {i}", memo.len());
                assert!(memo.verified(&digest(i)), "the digest just remembered is known");
            }
            // At least the newest half of the capacity is still known.
            let last = capacity as u32 * 7 + 2;
            for back in 0..(capacity as u32 / 2).max(1) {
                assert!(
                    memo.verified(&digest(last - back)),
                    "capacity {capacity}: digest {back} back forgotten"
                );
            }
            assert!(!memo.verified(&digest(0)), "capacity {capacity}: the oldest digest is forgotten");
        }
        let none = VerifiedSet::new(0);
        assert_eq!(none.room(), 0);
        none.remember(digest(1));
        assert!(none.is_empty());
        assert!(!none.verified(&digest(1)));
    }

    #[test]
    fn what_fits_in_the_room_is_never_dropped() {
        let memo = VerifiedSet::new(10);
        assert_eq!(memo.room(), 5);
        for i in 0..3 {
            memo.remember(digest(i));
        }
        assert_eq!(memo.room(), 2);
        for i in 3..5 {
            memo.remember(digest(i));
        }
        assert_eq!(memo.room(), 0);
        assert!((0..5).all(|i| memo.verified(&digest(i))));
        // One more rotates: the five are kept as the older generation, and
        // the room is a whole generation again.
        memo.remember(digest(5));
        assert_eq!(memo.room(), 4);
        assert!((0..6).all(|i| memo.verified(&digest(i))));
    }

    #[test]
    fn committed_digests_are_forgotten_so_the_memo_follows_the_backlog() {
        let memo = VerifiedSet::new(100_000);
        // A burst of 50,000 admissions, then their blocks commit.
        for i in 0..50_000 {
            memo.remember(digest(i));
        }
        assert_eq!(memo.len(), 50_000);
        memo.forget((0..49_990).map(digest));
        assert_eq!(memo.len(), 10, "only the pending digests stay");
        assert!(!memo.verified(&digest(0)));
        assert!(memo.verified(&digest(49_995)));
        // The peak table is not kept for ten entries.
        let m = memo.lock();
        assert!(m.current.capacity() + m.previous.capacity() < SHRINK_MIN_CAPACITY);
        drop(m);
        // Unknown digests are ignored; re-remembering works.
        memo.forget([digest(7_000_000)]);
        memo.remember(digest(0));
        assert!(memo.verified(&digest(0)));
        assert_eq!(memo.len(), 11);
    }
}
