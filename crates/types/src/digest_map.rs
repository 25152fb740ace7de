//! Hash maps and sets keyed by digests: transaction ids, signed digests,
//! SHA-256 outputs of any kind.
//!
//! The standard library's SipHash costs about as much on a 32-byte key as
//! the rest of a memo lookup, and a validator looks up every transaction
//! several times (the verified-signature memo, the pool, the id index). These
//! maps use foldhash, a multiply-and-fold hasher, instead.
//!
//! What this gives up: SipHash is a keyed pseudo-random function, and
//! foldhash is not (its authors claim only minimal resistance to hash
//! flooding). The argument for these keys is that they are SHA-256 outputs:
//! a client chooses what it signs, not a single bit of its id or digest, so
//! to aim many keys at one bucket it must grind hashes against a seed it
//! does not know. That seed comes from the operating system's randomness
//! (through the standard library's `RandomState`, as SipHash's does), not
//! from foldhash's own (addresses and the time). Keys a client can choose
//! byte by byte do not belong in these maps. The seed decides only where a
//! key sits in memory: nothing that consensus or a client sees iterates
//! these maps in their order.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;

/// A [`HashMap`] keyed by digests ([`DigestState`]). Make one with `DigestMap::default()`.
pub type DigestMap<K, V> = HashMap<K, V, DigestState>;

/// A [`HashSet`] of digests ([`DigestState`]). Make one with `DigestSet::default()`.
pub type DigestSet<K> = HashSet<K, DigestState>;

/// The hasher of [`DigestMap`] and [`DigestSet`]: foldhash, seeded from the
/// operating system.
#[derive(Clone, Debug)]
pub struct DigestState(SeedableRandomState);

impl Default for DigestState {
    fn default() -> Self {
        static SHARED: OnceLock<SharedSeed> = OnceLock::new();
        let shared = SHARED.get_or_init(|| SharedSeed::from_u64(os_random_u64()));
        DigestState(SeedableRandomState::with_seed(os_random_u64(), shared))
    }
}

impl BuildHasher for DigestState {
    type Hasher = <SeedableRandomState as BuildHasher>::Hasher;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

/// 64 random bits: the standard library's `RandomState` is keyed from the
/// operating system (and differs on every call), so what it hashes is random.
fn os_random_u64() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x6b65_6570_7361_6b65_u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_hold_what_was_put_in_and_seeds_differ() {
        let mut set: DigestSet<[u8; 32]> = DigestSet::default();
        let mut map: DigestMap<[u8; 32], usize> = DigestMap::default();
        for i in 0..1000usize {
            let key = crate::hash::sha256(&i.to_le_bytes()).0;
            assert!(set.insert(key));
            map.insert(key, i);
        }
        for i in 0..1000usize {
            let key = crate::hash::sha256(&i.to_le_bytes()).0;
            assert!(set.contains(&key));
            assert_eq!(map.get(&key), Some(&i));
        }
        assert!(!set.contains(&[0; 32]));
        // Two states hash the same key differently (their seeds differ).
        let (a, b) = (DigestState::default(), DigestState::default());
        assert_ne!(a.hash_one([7u8; 32]), b.hash_one([7u8; 32]));
    }
}
