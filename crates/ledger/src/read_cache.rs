//! [`ReadCache`]: committed state read once per execution.
//!
//! Every mint of a drop reads the same issuer, licence, licence policy,
//! series and series life: in a block of 5,000 mints that was 20,000 reads
//! (and decodes) from storage (the block's overlay holds the series after
//! its first mint), and in an admission call of 1,000 mints 5,000 (each
//! transaction is judged alone, on an overlay of its own). A `ReadCache`
//! wraps the committed state for the length of one piece of work (a block's
//! execution, one admission call) and answers repeated reads of those
//! records from memory.
//!
//! The records cached are the ones many transactions read and few write;
//! records read once per transaction (certificates, transaction locations)
//! go to the state below each time. A series' count changes with every
//! mint, but in the overlay above the cache: the cache holds the committed
//! record.
//!
//! A cache must not outlive the state it was filled from. A block's
//! execution sees one committed state (commits and executions run on one
//! thread). An admission call is judged against committed state "as of the
//! call", which with a cache means as of the first read of each record: a
//! commit landing during the call is seen by the rest of the call only in
//! records not read yet. Block validation judges every transaction again at
//! its block.

use std::cell::RefCell;
use std::collections::HashMap;

use keepsake_types::merkle::NodeSource;
use keepsake_types::{CertificateId, ContentHash, PublicKey, SeriesId, TxId};

use crate::Result;
use crate::state::{
    BurnRecord, CertificateState, GovernanceRecord, IssuerRecord, LicencePolicyRecord, LicenceRecord,
    ObserverRecord, ReviewerRecord, RevocationRecord, SeriesLife, SeriesRecord, SetRecord, StateView,
    TxLocation,
};

/// Most distinct keys of one kind a cache holds; past it, reads go to the
/// state below (a block of many issuers still executes, just uncached).
pub const READ_CACHE_KEYS_MAX: usize = 1024;

/// A [`StateView`] that remembers the issuer, licence, licence-policy,
/// series and series-life records it read from `base` (absent ones too).
pub struct ReadCache<'a, V: StateView + ?Sized> {
    base: &'a V,
    issuers: RefCell<HashMap<PublicKey, Option<IssuerRecord>>>,
    licences: RefCell<HashMap<PublicKey, Option<LicenceRecord>>>,
    licence_policy: RefCell<Option<Option<LicencePolicyRecord>>>,
    series: RefCell<HashMap<SeriesId, Option<SeriesRecord>>>,
    series_life: RefCell<HashMap<SeriesId, Option<SeriesLife>>>,
}

impl<'a, V: StateView + ?Sized> ReadCache<'a, V> {
    /// An empty cache over `base`.
    pub fn new(base: &'a V) -> Self {
        Self {
            base,
            issuers: RefCell::default(),
            licences: RefCell::default(),
            licence_policy: RefCell::default(),
            series: RefCell::default(),
            series_life: RefCell::default(),
        }
    }
}

/// `cache[key]`, or `read()` remembered under `key` while there is room.
fn cached<K: std::hash::Hash + Eq + Copy, T: Clone>(
    cache: &RefCell<HashMap<K, Option<T>>>,
    key: &K,
    read: impl FnOnce() -> Result<Option<T>>,
) -> Result<Option<T>> {
    if let Some(hit) = cache.borrow().get(key) {
        return Ok(hit.clone());
    }
    let value = read()?;
    let mut cache = cache.borrow_mut();
    if cache.len() < READ_CACHE_KEYS_MAX {
        cache.insert(*key, value.clone());
    }
    Ok(value)
}

impl<V: StateView + ?Sized> NodeSource for ReadCache<'_, V> {
    fn node(&self, level: u8, index: u64) -> keepsake_types::Result<keepsake_types::Hash32> {
        self.base.node(level, index)
    }
}

impl<V: StateView + ?Sized> StateView for ReadCache<'_, V> {
    fn issuer(&self, key: &PublicKey) -> Result<Option<IssuerRecord>> {
        cached(&self.issuers, key, || self.base.issuer(key))
    }
    fn reviewer(&self, key: &PublicKey) -> Result<Option<ReviewerRecord>> {
        self.base.reviewer(key)
    }
    fn series(&self, id: &SeriesId) -> Result<Option<SeriesRecord>> {
        cached(&self.series, id, || self.base.series(id))
    }
    fn series_by_content(&self, content_hash: &ContentHash) -> Result<Option<SeriesId>> {
        self.base.series_by_content(content_hash)
    }
    fn certificate(&self, id: &CertificateId) -> Result<Option<CertificateState>> {
        self.base.certificate(id)
    }
    fn revocation(&self, id: &CertificateId) -> Result<Option<RevocationRecord>> {
        self.base.revocation(id)
    }
    fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>> {
        self.base.tx_location(id)
    }
    fn governance_nonce_used(&self, nonce: u64) -> Result<bool> {
        self.base.governance_nonce_used(nonce)
    }
    fn governance(&self) -> Result<Option<GovernanceRecord>> {
        self.base.governance()
    }
    fn validator_sets(&self) -> Result<Vec<SetRecord>> {
        self.base.validator_sets()
    }
    fn observer(&self, key: &PublicKey) -> Result<Option<ObserverRecord>> {
        self.base.observer(key)
    }
    fn licence(&self, issuer: &PublicKey) -> Result<Option<LicenceRecord>> {
        cached(&self.licences, issuer, || self.base.licence(issuer))
    }
    fn licence_policy(&self) -> Result<Option<LicencePolicyRecord>> {
        if let Some(hit) = *self.licence_policy.borrow() {
            return Ok(hit);
        }
        let value = self.base.licence_policy()?;
        *self.licence_policy.borrow_mut() = Some(value);
        Ok(value)
    }
    fn series_life(&self, id: &SeriesId) -> Result<Option<SeriesLife>> {
        cached(&self.series_life, id, || self.base.series_life(id))
    }
    fn burn(&self, id: &CertificateId) -> Result<Option<BurnRecord>> {
        self.base.burn(id)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::memory::MemoryState;

    /// Counts the reads that reach the state below.
    struct Counting {
        state: MemoryState,
        reads: Cell<u32>,
    }

    impl NodeSource for Counting {
        fn node(&self, level: u8, index: u64) -> keepsake_types::Result<keepsake_types::Hash32> {
            self.state.node(level, index)
        }
    }

    macro_rules! counted {
        ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
            impl StateView for Counting {
                $(fn $name(&self, $($arg: $ty),*) -> Result<$out> {
                    self.reads.set(self.reads.get() + 1);
                    self.state.$name($($arg),*)
                })*
            }
        };
    }

    counted! {
        issuer(key: &PublicKey) -> Option<IssuerRecord>;
        reviewer(key: &PublicKey) -> Option<ReviewerRecord>;
        series(id: &SeriesId) -> Option<SeriesRecord>;
        series_by_content(content_hash: &ContentHash) -> Option<SeriesId>;
        certificate(id: &CertificateId) -> Option<CertificateState>;
        revocation(id: &CertificateId) -> Option<RevocationRecord>;
        tx_location(id: &TxId) -> Option<TxLocation>;
        governance_nonce_used(nonce: u64) -> bool;
        governance() -> Option<GovernanceRecord>;
        validator_sets() -> Vec<SetRecord>;
        observer(key: &PublicKey) -> Option<ObserverRecord>;
        licence(issuer: &PublicKey) -> Option<LicenceRecord>;
        licence_policy() -> Option<LicencePolicyRecord>;
        series_life(id: &SeriesId) -> Option<SeriesLife>;
        burn(id: &CertificateId) -> Option<BurnRecord>;
    }

    #[test]
    fn the_shared_records_are_read_once_and_the_others_every_time() {
        let base = Counting { state: MemoryState::new(), reads: Cell::new(0) };
        let cache = ReadCache::new(&base);
        let key = PublicKey([7; 32]);
        let series = SeriesId([9; 32]);
        for _ in 0..3 {
            assert_eq!(cache.issuer(&key).unwrap(), None);
            assert_eq!(cache.licence(&key).unwrap(), None);
            assert_eq!(cache.licence_policy().unwrap(), None);
            assert_eq!(cache.series_life(&series).unwrap(), None);
            assert_eq!(cache.series(&series).unwrap(), None);
        }
        assert_eq!(base.reads.get(), 5, "absent records are remembered too");
        let id = CertificateId([3; 32]);
        for _ in 0..3 {
            cache.certificate(&id).unwrap();
        }
        assert_eq!(base.reads.get(), 8, "certificates are never cached");
    }
}
