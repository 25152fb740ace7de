//! An in-memory [`StateView`]: for unit tests, tools and the consensus
//! simulator. The node itself uses the sled store.

use std::collections::{BTreeMap, BTreeSet};

use keepsake_types::merkle::NodeSource;
use keepsake_types::{CertificateId, ContentHash, Hash32, PublicKey, SeriesId, TxId};

use crate::block::Executed;
use crate::state::{
    BurnRecord, CertificateState, GovernanceRecord, IssuerRecord, LicencePolicyRecord, LicenceRecord,
    ObserverRecord, ReviewerRecord, RevocationRecord, SeriesLife, SeriesRecord, SetRecord, StateView,
    TxLocation,
};
use crate::{LedgerError, Result};

/// Committed state held in maps, plus the log's perfect-subtree nodes.
#[derive(Clone, Debug, Default)]
pub struct MemoryState {
    issuers: BTreeMap<PublicKey, IssuerRecord>,
    reviewers: BTreeMap<PublicKey, ReviewerRecord>,
    series: BTreeMap<SeriesId, SeriesRecord>,
    content_index: BTreeMap<ContentHash, SeriesId>,
    certificates: BTreeMap<CertificateId, CertificateState>,
    revocations: BTreeMap<CertificateId, RevocationRecord>,
    txs: BTreeMap<TxId, TxLocation>,
    nonces: BTreeSet<u64>,
    log_nodes: BTreeMap<(u8, u64), Hash32>,
    governance: Option<GovernanceRecord>,
    validator_sets: BTreeMap<u64, SetRecord>,
    observers: BTreeMap<PublicKey, ObserverRecord>,
    licences: BTreeMap<PublicKey, LicenceRecord>,
    licence_policy: Option<LicencePolicyRecord>,
    series_lives: BTreeMap<SeriesId, SeriesLife>,
    burns: BTreeMap<CertificateId, BurnRecord>,
}

impl MemoryState {
    /// Empty state (as at genesis).
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies an execution, refusing (like the store) to overwrite any
    /// insert-only record: certificates above all.
    pub fn commit(&mut self, executed: &Executed) -> Result<()> {
        let d = &executed.delta;
        if let Some(id) = d.certificates.keys().find(|id| self.certificates.contains_key(id)) {
            return Err(LedgerError::Invariant(format!("certificate {id} would be overwritten")));
        }
        let exists = |what: &str, key: String| {
            Err(LedgerError::Invariant(format!("{what} {key} would be overwritten")))
        };
        if let Some(id) = d.revocations.keys().find(|id| self.revocations.contains_key(id)) {
            return exists("revocation", id.to_string());
        }
        if let Some(id) = d.txs.keys().find(|id| self.txs.contains_key(id)) {
            return exists("transaction", id.to_string());
        }
        if let Some(h) = d.content_index.keys().find(|h| self.content_index.contains_key(h)) {
            return exists("content index", h.to_string());
        }
        if let Some(n) = d.governance_nonces.iter().find(|n| self.nonces.contains(n)) {
            return exists("governance nonce", n.to_string());
        }
        let m = &d.membership;
        if let Some(h) = m.validator_sets.keys().find(|h| self.validator_sets.contains_key(h)) {
            return exists("validator set from height", h.to_string());
        }
        let life = &d.life;
        if let Some(id) = life.burns.keys().find(|id| self.burns.contains_key(id)) {
            return exists("burn of certificate", id.to_string());
        }
        if let Some(g) = &m.governance {
            self.governance = Some(g.clone());
        }
        self.validator_sets.extend(m.validator_sets.clone());
        self.observers.extend(m.observers.clone());
        self.licences.extend(life.licences.clone());
        if let Some(p) = life.licence_policy {
            self.licence_policy = Some(p);
        }
        self.series_lives.extend(life.series.clone());
        self.burns.extend(life.burns.clone());
        self.issuers.extend(d.issuers.clone());
        self.reviewers.extend(d.reviewers.clone());
        self.series.extend(d.series.clone());
        self.content_index.extend(d.content_index.clone());
        self.certificates.extend(d.certificates.clone());
        self.revocations.extend(d.revocations.clone());
        self.txs.extend(d.txs.clone());
        self.nonces.extend(d.governance_nonces.iter().copied());
        self.log_nodes.extend(executed.log_nodes.iter().copied());
        Ok(())
    }

    /// Number of stored log nodes.
    pub fn log_node_count(&self) -> usize {
        self.log_nodes.len()
    }
}

impl NodeSource for MemoryState {
    fn node(&self, level: u8, index: u64) -> keepsake_types::Result<Hash32> {
        self.log_nodes
            .get(&(level, index))
            .copied()
            .ok_or(keepsake_types::Error::MissingLogNode { level, index })
    }
}

impl StateView for MemoryState {
    fn issuer(&self, key: &PublicKey) -> Result<Option<IssuerRecord>> {
        Ok(self.issuers.get(key).cloned())
    }
    fn reviewer(&self, key: &PublicKey) -> Result<Option<ReviewerRecord>> {
        Ok(self.reviewers.get(key).cloned())
    }
    fn series(&self, id: &SeriesId) -> Result<Option<SeriesRecord>> {
        Ok(self.series.get(id).cloned())
    }
    fn series_by_content(&self, content_hash: &ContentHash) -> Result<Option<SeriesId>> {
        Ok(self.content_index.get(content_hash).copied())
    }
    fn certificate(&self, id: &CertificateId) -> Result<Option<CertificateState>> {
        Ok(self.certificates.get(id).cloned())
    }
    fn revocation(&self, id: &CertificateId) -> Result<Option<RevocationRecord>> {
        Ok(self.revocations.get(id).cloned())
    }
    fn tx_location(&self, id: &TxId) -> Result<Option<TxLocation>> {
        Ok(self.txs.get(id).copied())
    }
    fn governance_nonce_used(&self, nonce: u64) -> Result<bool> {
        Ok(self.nonces.contains(&nonce))
    }
    fn governance(&self) -> Result<Option<GovernanceRecord>> {
        Ok(self.governance.clone())
    }
    fn validator_sets(&self) -> Result<Vec<SetRecord>> {
        Ok(self.validator_sets.values().cloned().collect())
    }
    fn observer(&self, key: &PublicKey) -> Result<Option<ObserverRecord>> {
        Ok(self.observers.get(key).cloned())
    }
    fn licence(&self, issuer: &PublicKey) -> Result<Option<LicenceRecord>> {
        Ok(self.licences.get(issuer).cloned())
    }
    fn licence_policy(&self) -> Result<Option<LicencePolicyRecord>> {
        Ok(self.licence_policy)
    }
    fn series_life(&self, id: &SeriesId) -> Result<Option<SeriesLife>> {
        Ok(self.series_lives.get(id).cloned())
    }
    fn burn(&self, id: &CertificateId) -> Result<Option<BurnRecord>> {
        Ok(self.burns.get(id).copied())
    }
}
