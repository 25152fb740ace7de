//! The ledger state: its records, the read trait the storage implements
//! ([`StateView`]), and the write set of one block ([`StateDelta`]) built on
//! an [`Overlay`] so that later transactions of a block see earlier ones.
//!
//! Certificates are **insert-only**: there is no operation anywhere that
//! changes a certificate's holder (or any other field). Revocation is a
//! separate record. [`Overlay::insert_certificate`] refuses to overwrite, and
//! so does the store when it writes a delta.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use keepsake_types::merkle::NodeSource;
use keepsake_types::{
    CertificateId, ContentHash, Hash32, HolderId, IssuerStatus, Licence, PublicKey, SeriesId, SeriesTerms,
    TxId, ValidatorSet, encoding,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{LedgerError, Result};

/// A registered issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerRecord {
    /// Display name.
    pub name: String,
    /// Active or suspended.
    pub status: IssuerStatus,
    /// Height of registration.
    pub registered_height: u64,
}

/// A content reviewer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewerRecord {
    /// Display name.
    pub name: String,
    /// False once removed by governance (the key can never be registered again).
    pub active: bool,
    /// Height of registration.
    pub registered_height: u64,
}

/// A series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesRecord {
    /// The issuer.
    pub issuer: PublicKey,
    /// Name (with the issuer, it determines the id).
    pub name: String,
    /// SHA-256 of the artwork.
    pub content_hash: ContentHash,
    /// Edition cap.
    pub max_supply: u32,
    /// Metadata location.
    pub metadata_uri: String,
    /// The approving reviewer.
    pub reviewer: PublicKey,
    /// Editions minted so far (never above `max_supply`).
    pub minted: u32,
    /// The creating transaction.
    pub tx_id: TxId,
    /// Log index of the creating transaction.
    pub leaf_index: u64,
    /// Height of creation.
    pub created_height: u64,
}

/// A minted certificate. Written once, never changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateState {
    /// The series.
    pub series_id: SeriesId,
    /// Edition number.
    pub edition: u32,
    /// The holder commitment: write-once.
    pub holder: HolderId,
    /// The mint transaction.
    pub tx_id: TxId,
    /// Log index of the mint.
    pub leaf_index: u64,
    /// Height of the mint.
    pub height: u64,
}

/// Who revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokedBy {
    /// The series' issuer.
    Issuer,
    /// k of n governors.
    Governance,
}

/// A revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationRecord {
    /// Reason given.
    pub reason: String,
    /// Issuer or governance.
    pub by: RevokedBy,
    /// The revoking transaction.
    pub tx_id: TxId,
    /// Its log index.
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// The governors and threshold in force, once governance changed them
/// (before that, the genesis file's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceRecord {
    /// The governors.
    pub governors: Vec<PublicKey>,
    /// How many of them must sign a governance action.
    pub threshold: u32,
    /// Height of the change.
    pub since_height: u64,
}

/// A validator set made by a committed change (the genesis set is not stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetRecord {
    /// The first height it governs (`change_height + SET_CHANGE_DELAY`).
    pub from_height: u64,
    /// The set.
    pub validators: ValidatorSet,
    /// Height of the block that committed the change.
    pub change_height: u64,
    /// Log index of the change.
    pub change_leaf_index: u64,
    /// The change's transaction id.
    pub change_tx: TxId,
}

/// A key admitted to the peer network without voting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObserverRecord {
    /// Who runs it (for a former validator, its validator name).
    pub name: String,
    /// False once governance removed it.
    pub active: bool,
    /// Height it was admitted (registered, or removed from the validator set).
    pub since_height: u64,
    /// True when it became an observer by leaving the validator set.
    pub former_validator: bool,
}

/// An issuer's licence (T33-T37): the latest one governance recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceRecord {
    /// The licence.
    pub licence: Licence,
    /// Height at which it was recorded (or last renewed).
    pub since_height: u64,
    /// Set once governance withdrew it (a later `SetIssuerLicence` clears it).
    pub withdrawn: Option<LicenceWithdrawal>,
}

/// Governance withdrew a licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceWithdrawal {
    /// Reason recorded on chain.
    pub reason: String,
    /// Height of the withdrawal.
    pub height: u64,
}

/// Whether every issuer needs a licence in force (T35), once governance set it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicencePolicyRecord {
    /// True: an issuer without a licence in force creates and mints nothing.
    pub required: bool,
    /// Height of the change.
    pub since_height: u64,
}

/// What a series has beyond its [`SeriesRecord`]: its terms, how many of its
/// certificates were burned, and its blind-box sale. Absent for a plain
/// series none of whose certificates was ever burned.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesLife {
    /// The terms declared at creation (empty for a plain series).
    pub terms: SeriesTerms,
    /// Certificates of this series burned by synthesis.
    pub burned: u32,
    /// A blind box whose sale was closed: where.
    pub closed: Option<BoxClose>,
    /// A blind box whose seed was revealed.
    pub revealed: Option<BoxReveal>,
}

/// Where a blind box's sale closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxClose {
    /// The closing transaction.
    pub tx_id: TxId,
    /// Its log index (the draw's entropy is the log root of `leaf_index + 1` entries).
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// A blind box's reveal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxReveal {
    /// The seed (matching the commitment).
    pub seed: Hash32,
    /// The entropy (the log root just after the close).
    pub entropy: Hash32,
    /// The revealing transaction.
    pub tx_id: TxId,
    /// Its log index.
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// A certificate burned by synthesis. Written once; the certificate record
/// itself is never changed or removed, so its id is never minted again (T22).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurnRecord {
    /// The certificate it went into.
    pub into: CertificateId,
    /// The synthesis transaction.
    pub tx_id: TxId,
    /// Its log index.
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// Where a committed transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxLocation {
    /// Block height.
    pub height: u64,
    /// Position in the block.
    pub index: u32,
    /// Position in the collectible log.
    pub leaf_index: u64,
}

/// Read access to committed state (and, through [`NodeSource`], to the log).
///
/// Implementations return `Err(LedgerError::State(..))` when storage fails;
/// they never turn a read failure into "absent".
pub trait StateView: NodeSource {
    /// An issuer.
    fn issuer(&self, key: &PublicKey) -> Result<Option<IssuerRecord>>;
    /// A reviewer.
    fn reviewer(&self, key: &PublicKey) -> Result<Option<ReviewerRecord>>;
    /// A series.
    fn series(&self, id: &SeriesId) -> Result<Option<SeriesRecord>>;
    /// The series that registered a content hash.
    fn series_by_content(&self, content_hash: &ContentHash) -> Result<Option<SeriesId>>;
    /// A certificate.
    fn certificate(&self, id: &CertificateId) -> Result<Option<CertificateState>>;
    /// A certificate's revocation.
    fn revocation(&self, id: &CertificateId) -> Result<Option<RevocationRecord>>;
    /// Where a transaction was committed.
    fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>>;
    /// Whether a governance nonce was used.
    fn governance_nonce_used(&self, nonce: u64) -> Result<bool>;
    /// The governance in force, if it changed since genesis (`None`: the genesis's).
    fn governance(&self) -> Result<Option<GovernanceRecord>>;
    /// Every validator set made by a committed change, by ascending
    /// `from_height` (empty: the genesis set governs every height).
    fn validator_sets(&self) -> Result<Vec<SetRecord>>;
    /// An observer key.
    fn observer(&self, key: &PublicKey) -> Result<Option<ObserverRecord>>;
    /// An issuer's licence.
    fn licence(&self, issuer: &PublicKey) -> Result<Option<LicenceRecord>>;
    /// The licence policy, once governance set one.
    fn licence_policy(&self) -> Result<Option<LicencePolicyRecord>>;
    /// A series' terms, burned count and blind-box sale.
    fn series_life(&self, id: &SeriesId) -> Result<Option<SeriesLife>>;
    /// A certificate's burn.
    fn burn(&self, id: &CertificateId) -> Result<Option<BurnRecord>>;
}

/// The writes of licence, synthesis and blind-box transactions, kept apart
/// like [`MembershipDelta`] so that a block without them hashes as before.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifeDelta {
    /// New or updated licences.
    pub licences: BTreeMap<PublicKey, LicenceRecord>,
    /// The new licence policy, if it changed.
    pub licence_policy: Option<LicencePolicyRecord>,
    /// New or updated series lives.
    pub series: BTreeMap<SeriesId, SeriesLife>,
    /// New burns (insert-only).
    pub burns: BTreeMap<CertificateId, BurnRecord>,
}

impl LifeDelta {
    /// True when the block wrote none of these.
    pub fn is_empty(&self) -> bool {
        self.licences.is_empty()
            && self.licence_policy.is_none()
            && self.series.is_empty()
            && self.burns.is_empty()
    }
}

/// The writes of membership transactions. Kept apart from the original
/// fields of [`StateDelta`] so that a block without them hashes exactly as
/// before they existed (see [`StateDelta::digest`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipDelta {
    /// New validator sets, by `from_height` (insert-only).
    pub validator_sets: BTreeMap<u64, SetRecord>,
    /// The new governance, if it changed.
    pub governance: Option<GovernanceRecord>,
    /// New or updated observers.
    pub observers: BTreeMap<PublicKey, ObserverRecord>,
}

impl MembershipDelta {
    /// True when the block changed no membership.
    pub fn is_empty(&self) -> bool {
        self.validator_sets.is_empty() && self.governance.is_none() && self.observers.is_empty()
    }
}

/// Everything one block writes. Applied atomically by the store.
/// Maps are ordered, so `encode(delta)` is deterministic (it feeds the state root).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDelta {
    /// New or updated issuers.
    pub issuers: BTreeMap<PublicKey, IssuerRecord>,
    /// New or updated reviewers.
    pub reviewers: BTreeMap<PublicKey, ReviewerRecord>,
    /// New or updated series (minted counts).
    pub series: BTreeMap<SeriesId, SeriesRecord>,
    /// New content-hash index entries (insert-only).
    pub content_index: BTreeMap<ContentHash, SeriesId>,
    /// New certificates (insert-only).
    pub certificates: BTreeMap<CertificateId, CertificateState>,
    /// New revocations (insert-only).
    pub revocations: BTreeMap<CertificateId, RevocationRecord>,
    /// Committed transaction ids (insert-only).
    pub txs: BTreeMap<TxId, TxLocation>,
    /// Used governance nonces (insert-only).
    pub governance_nonces: BTreeSet<u64>,
    /// Membership writes (validator sets, governance, observers).
    #[serde(skip)]
    pub membership: MembershipDelta,
    /// Licence, synthesis and blind-box writes.
    #[serde(skip)]
    pub life: LifeDelta,
}

impl StateDelta {
    /// The input of the state root: SHA-256 of the canonical encoding of the
    /// fields above `membership`, followed, only when the block changed
    /// membership, by the encoding of [`MembershipDelta`], and, only when it
    /// wrote licences, series lives or burns, by the bytes
    /// `"keepsake/life-delta/v1"` and the encoding of [`LifeDelta`]. A block
    /// without such changes hashes as it did before they existed.
    pub fn digest(&self) -> Hash32 {
        // Hashed as encoded, piece by piece: a drop's delta is a megabyte.
        let mut hasher = Sha256::new();
        let mut sink = |piece: &[u8]| hasher.update(piece);
        encoding::encode_to_sink(self, &mut sink);
        if !self.membership.is_empty() {
            encoding::encode_to_sink(&self.membership, &mut sink);
        }
        if !self.life.is_empty() {
            sink(LIFE_DELTA_MARK);
            encoding::encode_to_sink(&self.life, &mut sink);
        }
        Hash32(hasher.finalize().into())
    }
}

/// Separates the [`LifeDelta`] part of a state digest from what precedes it.
pub const LIFE_DELTA_MARK: &[u8] = b"keepsake/life-delta/v1";

/// Writes `value` under `key` of an insert-only map of an overlay unless the
/// key is there already or `below` says the state underneath has it; says
/// whether it wrote. One search of `map` for the check and the write.
fn insert_if_absent<K: Ord, T>(
    map: &mut BTreeMap<K, T>,
    key: K,
    value: T,
    below: impl FnOnce(&K) -> Result<bool>,
) -> Result<bool> {
    match map.entry(key) {
        Entry::Occupied(_) => Ok(false),
        Entry::Vacant(slot) => {
            if below(slot.key())? {
                return Ok(false);
            }
            slot.insert(value);
            Ok(true)
        }
    }
}

/// A transaction id found committed nowhere by [`Overlay::check_new_tx`]
/// (T5). Only that check makes one, and [`Overlay::insert_new_tx`] consumes
/// it; `apply` spends it on the overlay that issued it.
#[derive(Debug)]
#[must_use]
pub struct NewTx(TxId);

/// Pending writes over a committed [`StateView`].
pub struct Overlay<'a, V: StateView + ?Sized> {
    base: &'a V,
    delta: StateDelta,
}

impl<'a, V: StateView + ?Sized> Overlay<'a, V> {
    /// An empty overlay.
    pub fn new(base: &'a V) -> Self {
        Self { base, delta: StateDelta::default() }
    }

    /// The committed state below.
    pub fn base(&self) -> &'a V {
        self.base
    }

    /// The writes so far.
    pub fn into_delta(self) -> StateDelta {
        self.delta
    }

    /// Writes an issuer.
    pub fn put_issuer(&mut self, key: PublicKey, record: IssuerRecord) {
        self.delta.issuers.insert(key, record);
    }

    /// Writes a reviewer.
    pub fn put_reviewer(&mut self, key: PublicKey, record: ReviewerRecord) {
        self.delta.reviewers.insert(key, record);
    }

    /// Writes a series.
    pub fn put_series(&mut self, id: SeriesId, record: SeriesRecord) {
        self.delta.series.insert(id, record);
    }

    /// Indexes a content hash (insert-only).
    pub fn index_content(&mut self, content_hash: ContentHash, series: SeriesId) -> Result<()> {
        if self.series_by_content(&content_hash)?.is_some() {
            return Err(LedgerError::Invariant(format!("content {content_hash} indexed twice")));
        }
        self.delta.content_index.insert(content_hash, series);
        Ok(())
    }

    /// Inserts a certificate. Refuses to overwrite one: the holder is
    /// write-once, so reaching this with an existing id is a bug.
    pub fn insert_certificate(&mut self, id: CertificateId, record: CertificateState) -> Result<()> {
        if self.insert_certificate_if_new(id, record)? {
            Ok(())
        } else {
            Err(LedgerError::Invariant(format!(
                "attempt to overwrite certificate {id}: holders are write-once"
            )))
        }
    }

    /// Inserts a certificate if no certificate has its id (in this overlay or
    /// below), and says whether it did; an existing one is left as it is.
    /// The existence check and the write in one lookup each (T22 on a mint).
    pub fn insert_certificate_if_new(&mut self, id: CertificateId, record: CertificateState) -> Result<bool> {
        let base = self.base;
        insert_if_absent(&mut self.delta.certificates, id, record, |id| Ok(base.certificate(id)?.is_some()))
    }

    /// Inserts a revocation (insert-only).
    pub fn insert_revocation(&mut self, id: CertificateId, record: RevocationRecord) -> Result<()> {
        if self.revocation(&id)?.is_some() {
            return Err(LedgerError::Invariant(format!("certificate {id} revoked twice")));
        }
        self.delta.revocations.insert(id, record);
        Ok(())
    }

    /// T5's lookup: `Some` when `id` is committed neither in the base state
    /// nor in this overlay, with the token [`Overlay::insert_new_tx`] takes.
    pub fn check_new_tx(&self, id: TxId) -> Result<Option<NewTx>> {
        Ok(self.tx_location(&id)?.is_none().then_some(NewTx(id)))
    }

    /// Records a committed transaction that [`Overlay::check_new_tx`] found
    /// new (in this same `apply`): only this overlay's own writes are checked
    /// again (the write-once guard), not the base state. Block execution is
    /// the base's only writer's own work, done in order, so there the base
    /// cannot have gained the id in between. Admission's dry run
    /// (`check_stateful`) can race a commit of the same id; the pool then
    /// holds a transaction that the next build leaves out as a duplicate,
    /// and every block's validation still refuses it (T5).
    pub fn insert_new_tx(&mut self, new: NewTx, location: TxLocation) -> Result<()> {
        match self.delta.txs.entry(new.0) {
            Entry::Occupied(_) => {
                Err(LedgerError::Invariant(format!("transaction {} committed twice", new.0)))
            }
            Entry::Vacant(slot) => {
                slot.insert(location);
                Ok(())
            }
        }
    }

    /// Marks a governance nonce used.
    pub fn use_nonce(&mut self, nonce: u64) {
        self.delta.governance_nonces.insert(nonce);
    }

    /// Schedules a validator set (insert-only).
    pub fn schedule_set(&mut self, record: SetRecord) -> Result<()> {
        let from = record.from_height;
        if self.validator_sets()?.iter().any(|s| s.from_height >= from) {
            return Err(LedgerError::Invariant(format!(
                "a validator set from height {from} is already scheduled"
            )));
        }
        self.delta.membership.validator_sets.insert(from, record);
        Ok(())
    }

    /// Replaces the governance.
    pub fn put_governance(&mut self, record: GovernanceRecord) {
        self.delta.membership.governance = Some(record);
    }

    /// Writes an observer.
    pub fn put_observer(&mut self, key: PublicKey, record: ObserverRecord) {
        self.delta.membership.observers.insert(key, record);
    }

    /// Writes a licence.
    pub fn put_licence(&mut self, issuer: PublicKey, record: LicenceRecord) {
        self.delta.life.licences.insert(issuer, record);
    }

    /// Replaces the licence policy.
    pub fn put_licence_policy(&mut self, record: LicencePolicyRecord) {
        self.delta.life.licence_policy = Some(record);
    }

    /// Writes a series' life.
    pub fn put_series_life(&mut self, id: SeriesId, record: SeriesLife) {
        self.delta.life.series.insert(id, record);
    }

    /// Inserts a burn (insert-only: a certificate burns once).
    pub fn insert_burn(&mut self, id: CertificateId, record: BurnRecord) -> Result<()> {
        if self.burn(&id)?.is_some() {
            return Err(LedgerError::Invariant(format!("certificate {id} burned twice")));
        }
        self.delta.life.burns.insert(id, record);
        Ok(())
    }
}

impl<V: StateView + ?Sized> NodeSource for Overlay<'_, V> {
    fn node(&self, level: u8, index: u64) -> keepsake_types::Result<keepsake_types::Hash32> {
        self.base.node(level, index)
    }
}

impl<V: StateView + ?Sized> StateView for Overlay<'_, V> {
    fn issuer(&self, key: &PublicKey) -> Result<Option<IssuerRecord>> {
        match self.delta.issuers.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.issuer(key),
        }
    }
    fn reviewer(&self, key: &PublicKey) -> Result<Option<ReviewerRecord>> {
        match self.delta.reviewers.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.reviewer(key),
        }
    }
    fn series(&self, id: &SeriesId) -> Result<Option<SeriesRecord>> {
        match self.delta.series.get(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.series(id),
        }
    }
    fn series_by_content(&self, content_hash: &ContentHash) -> Result<Option<SeriesId>> {
        match self.delta.content_index.get(content_hash) {
            Some(r) => Ok(Some(*r)),
            None => self.base.series_by_content(content_hash),
        }
    }
    fn certificate(&self, id: &CertificateId) -> Result<Option<CertificateState>> {
        match self.delta.certificates.get(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.certificate(id),
        }
    }
    fn revocation(&self, id: &CertificateId) -> Result<Option<RevocationRecord>> {
        match self.delta.revocations.get(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.revocation(id),
        }
    }
    fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>> {
        match self.delta.txs.get(id) {
            Some(r) => Ok(Some(*r)),
            None => self.base.tx_location(id),
        }
    }
    fn governance_nonce_used(&self, nonce: u64) -> Result<bool> {
        if self.delta.governance_nonces.contains(&nonce) {
            return Ok(true);
        }
        self.base.governance_nonce_used(nonce)
    }
    fn governance(&self) -> Result<Option<GovernanceRecord>> {
        match &self.delta.membership.governance {
            Some(g) => Ok(Some(g.clone())),
            None => self.base.governance(),
        }
    }
    fn validator_sets(&self) -> Result<Vec<SetRecord>> {
        let mut sets = self.base.validator_sets()?;
        sets.extend(self.delta.membership.validator_sets.values().cloned());
        Ok(sets)
    }
    fn licence(&self, issuer: &PublicKey) -> Result<Option<LicenceRecord>> {
        match self.delta.life.licences.get(issuer) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.licence(issuer),
        }
    }
    fn licence_policy(&self) -> Result<Option<LicencePolicyRecord>> {
        match self.delta.life.licence_policy {
            Some(r) => Ok(Some(r)),
            None => self.base.licence_policy(),
        }
    }
    fn series_life(&self, id: &SeriesId) -> Result<Option<SeriesLife>> {
        match self.delta.life.series.get(id) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.series_life(id),
        }
    }
    fn burn(&self, id: &CertificateId) -> Result<Option<BurnRecord>> {
        match self.delta.life.burns.get(id) {
            Some(r) => Ok(Some(*r)),
            None => self.base.burn(id),
        }
    }
    fn observer(&self, key: &PublicKey) -> Result<Option<ObserverRecord>> {
        match self.delta.membership.observers.get(key) {
            Some(r) => Ok(Some(r.clone())),
            None => self.base.observer(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Executed;
    use crate::memory::MemoryState;

    fn location(height: u64) -> TxLocation {
        TxLocation { height, index: 0, leaf_index: height }
    }

    /// T5's token: a committed id gets none; a new one gets one, and the
    /// write-once guard still refuses a second write of it in the overlay.
    #[test]
    fn a_new_tx_token_is_only_for_ids_committed_nowhere() {
        let (committed, fresh) = (TxId([1; 32]), TxId([2; 32]));
        let mut base = MemoryState::new();
        let mut delta = StateDelta::default();
        delta.txs.insert(committed, location(1));
        let executed = Executed {
            delta,
            log_nodes: Vec::new(),
            log_size: 0,
            log_root: Hash32([0; 32]),
            state_root: Hash32([0; 32]),
            tx_root: Hash32([0; 32]),
            tx_ids: Vec::new(),
            digests: Vec::new(),
        };
        base.commit(&executed).unwrap();

        let mut overlay = Overlay::new(&base);
        assert!(overlay.check_new_tx(committed).unwrap().is_none());
        let first = overlay.check_new_tx(fresh).unwrap().expect("not committed");
        let second = overlay.check_new_tx(fresh).unwrap().expect("not written yet");
        overlay.insert_new_tx(first, location(2)).unwrap();
        assert!(overlay.check_new_tx(fresh).unwrap().is_none(), "the overlay's own write counts");
        assert!(matches!(overlay.insert_new_tx(second, location(2)), Err(LedgerError::Invariant(_))));
        assert_eq!(overlay.tx_location(&fresh).unwrap(), Some(location(2)));
    }
}
