//! The mempool: a bounded FIFO of admitted transactions, shared by the node
//! (behind a lock, filled by RPC and gossip admission, [`crate::admit`]) and
//! the simulator.
//!
//! Admission runs every ledger rule against committed state: a transfer never
//! enters (`TransferForbidden`), nor does anything else a block would refuse
//! today.
//! Transactions that conflict with each other while pending (two mints of
//! one edition) are resolved by block building, which leaves the loser out;
//! its rejection is remembered for `getTxStatus`.
//!
//! Limits: `max_txs` transactions and `max_bytes` bytes pending; a full pool
//! answers `MempoolFull` (back-pressure for bursts), never drops admitted work.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;

use keepsake_ledger::rules::{Stateless, VerifiedMemo};
use keepsake_ledger::{LedgerError, StateView, rules};
use keepsake_types::{DigestMap, Genesis, SignedTx, TxId, encoding};
use serde::{Deserialize, Serialize};

/// Limits of the pool (`[mempool]` in the node's config).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolLimits {
    /// Most pending transactions.
    pub max_txs: usize,
    /// Most pending bytes (canonical encoding).
    pub max_bytes: usize,
    /// How many recent rejections of admitted transactions `getTxStatus` remembers.
    pub rejected_memory: usize,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        Self { max_txs: 50_000, max_bytes: 64 * 1024 * 1024, rejected_memory: 100_000 }
    }
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    /// A ledger rule refuses it.
    #[error(transparent)]
    Rejected(#[from] LedgerError),
    /// A ledger rule that needs no state refuses it (a transfer, bad form, a bad
    /// signature): no honest node would have passed it on.
    #[error(transparent)]
    Invalid(LedgerError),
    /// The pool is at its limit; retry later.
    #[error("mempool is full ({txs} transactions, {bytes} bytes pending)")]
    Full {
        /// Pending transactions.
        txs: usize,
        /// Pending bytes.
        bytes: usize,
    },
}

impl AdmitError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            AdmitError::Rejected(e) | AdmitError::Invalid(e) => e.code(),
            AdmitError::Full { .. } => "MempoolFull",
        }
    }
}

/// The pool.
pub struct Mempool {
    limits: MempoolLimits,
    order: VecDeque<TxId>,
    txs: DigestMap<TxId, (SignedTx, usize)>,
    bytes: usize,
    rejected: DigestMap<TxId, LedgerError>,
    rejected_order: VecDeque<TxId>,
}

impl Mempool {
    /// An empty pool with these limits.
    pub fn new(limits: MempoolLimits) -> Self {
        Self {
            limits,
            order: VecDeque::new(),
            txs: DigestMap::default(),
            bytes: 0,
            rejected: DigestMap::default(),
            rejected_order: VecDeque::new(),
        }
    }

    /// Checks `tx` against committed `state` (every ledger rule; T4 skipped
    /// for bytes `memo` knows). Pure CPU and reads: call it outside the pool's
    /// lock, then [`Mempool::insert`] and [`VerifiedSet::remember`].
    pub fn check<V: StateView + ?Sized>(
        state: &V,
        genesis: &Genesis,
        tx: &SignedTx,
        next_height: u64,
        time_ms: u64,
        memo: &dyn VerifiedMemo,
    ) -> Result<Stateless, LedgerError> {
        // The transfer ban, stated here as well as in the ledger: nothing
        // downstream of the mempool ever sees a transfer from a client.
        if let keepsake_types::TxBody::Transfer { certificate_id, .. } = &tx.body {
            return Err(LedgerError::TransferForbidden { certificate_id: *certificate_id });
        }
        let checked = rules::check_stateless_memo(tx, genesis, memo)?;
        rules::check_stateful(state, genesis, tx, checked.tx_id, next_height, time_ms)?;
        Ok(checked)
    }

    /// `Err(Full)` when no transaction can be added now (checked before the
    /// admission work; [`Mempool::insert`] checks again with the size).
    pub fn has_room(&self) -> Result<(), AdmitError> {
        if self.txs.len() >= self.limits.max_txs || self.bytes >= self.limits.max_bytes {
            return Err(AdmitError::Full { txs: self.txs.len(), bytes: self.bytes });
        }
        Ok(())
    }

    /// Adds a checked transaction whose canonical encoding is `size` bytes
    /// long. Re-adding a pending one is a no-op.
    pub fn insert(&mut self, tx_id: TxId, tx: SignedTx, size: usize) -> Result<(), AdmitError> {
        let (pending, bytes) = (self.txs.len(), self.bytes);
        let full = pending >= self.limits.max_txs || bytes + size > self.limits.max_bytes;
        match self.txs.entry(tx_id) {
            Entry::Occupied(_) => Ok(()),
            Entry::Vacant(_) if full => Err(AdmitError::Full { txs: pending, bytes }),
            Entry::Vacant(slot) => {
                slot.insert((tx, size));
                self.rejected.remove(&tx_id);
                self.order.push_back(tx_id);
                self.bytes += size;
                Ok(())
            }
        }
    }

    /// [`Mempool::check`] then [`Mempool::insert`] (for callers that hold the
    /// pool exclusively, such as tests).
    pub fn admit<V: StateView + ?Sized>(
        &mut self,
        state: &V,
        genesis: &Genesis,
        tx: SignedTx,
        next_height: u64,
        time_ms: u64,
    ) -> Result<TxId, AdmitError> {
        let id = Self::check(state, genesis, &tx, next_height, time_ms, &())?.tx_id;
        let size = encoding::encode(&tx).len();
        self.insert(id, tx, size)?;
        Ok(id)
    }

    /// Up to `max` pending transactions, oldest first (cloned: they stay
    /// pending until [`Mempool::remove`]).
    pub fn peek(&self, max: usize) -> Vec<SignedTx> {
        self.peek_bounded(max, usize::MAX)
    }

    /// The oldest pending transactions, at most `max` of them and at most
    /// `bytes_max` bytes of canonical encoding in total (a proposal must fit in
    /// one gossip message).
    pub fn peek_bounded(&self, max: usize, bytes_max: usize) -> Vec<SignedTx> {
        let mut bytes = 0usize;
        let mut out = Vec::new();
        for id in self.order.iter().take(max) {
            let Some((tx, size)) = self.txs.get(id) else { continue };
            bytes = bytes.saturating_add(*size);
            if bytes > bytes_max {
                break;
            }
            out.push(tx.clone());
        }
        out
    }

    /// Removes transactions that were committed or left out of a block.
    pub fn remove(&mut self, ids: &[TxId]) {
        for id in ids {
            if let Some((_, size)) = self.txs.remove(id) {
                self.bytes -= size;
            }
        }
        if !ids.is_empty() {
            let txs = &self.txs;
            self.order.retain(|id| txs.contains_key(id));
        }
    }

    /// Remembers why an admitted transaction was left out of a block (bounded).
    pub fn remember_rejection(&mut self, id: TxId, error: LedgerError) {
        if self.rejected.insert(id, error).is_none() {
            self.rejected_order.push_back(id);
        }
        while self.rejected_order.len() > self.limits.rejected_memory {
            if let Some(old) = self.rejected_order.pop_front() {
                self.rejected.remove(&old);
            }
        }
    }

    /// Whether `id` is pending.
    pub fn contains(&self, id: &TxId) -> bool {
        self.txs.contains_key(id)
    }

    /// The remembered rejection of `id`.
    pub fn rejection(&self, id: &TxId) -> Option<&LedgerError> {
        self.rejected.get(id)
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Pending bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VerifiedSet;
    use keepsake_ledger::memory::MemoryState;
    use keepsake_ledger::rules::{self, VerifiedMemo};
    use keepsake_ledger::testkit::TestNet;
    use keepsake_types::Hash32;
    use keepsake_types::{TxBody, ids};

    fn pool(max_txs: usize) -> Mempool {
        Mempool::new(MempoolLimits { max_txs, max_bytes: 1 << 20, rejected_memory: 2 })
    }

    #[test]
    fn transfers_never_enter_the_mempool() {
        let net = TestNet::new(1);
        let state = MemoryState::new();
        let mut p = pool(10);
        let cert = ids::certificate_id(net.chain(), &net.series_id(&net.issuer, "s"), 1);
        let tx = TxBody::Transfer { certificate_id: cert, to: TestNet::holder(2) }
            .sign(net.chain(), &[&net.issuer]);
        let err = p.admit(&state, &net.genesis, tx, 1, 0).unwrap_err();
        assert_eq!(err.code(), "TransferForbidden");
        assert!(p.is_empty());
        assert!(p.peek(10).is_empty());
    }

    #[test]
    fn admission_runs_ledger_rules_and_limits_hold() {
        let net = TestNet::new(1);
        let state = MemoryState::new();
        let mut p = pool(2);
        // Unknown issuer: the series creation is refused at admission.
        let series = net.create_series(&net.issuer, &net.reviewer, "s", 3);
        assert_eq!(p.admit(&state, &net.genesis, series, 1, 0).unwrap_err().code(), "UnknownIssuer");
        let a = net.register_issuer(&net.issuer, 1);
        let b = net.register_reviewer(&net.reviewer, 2);
        let c = net.register_issuer(&keepsake_ledger::testkit::key(9), 3);
        let ida = p.admit(&state, &net.genesis, a.clone(), 1, 0).unwrap();
        // Idempotent re-submission.
        assert_eq!(p.admit(&state, &net.genesis, a, 1, 0).unwrap(), ida);
        p.admit(&state, &net.genesis, b, 1, 0).unwrap();
        assert!(matches!(
            p.admit(&state, &net.genesis, c, 1, 0).unwrap_err(),
            AdmitError::Full { txs: 2, .. }
        ));
        assert!(matches!(p.has_room(), Err(AdmitError::Full { txs: 2, .. })));
        assert_eq!(p.peek(10).len(), 2);
        p.remove(&[ida]);
        assert_eq!(p.len(), 1);
        assert_eq!(p.peek(10)[0].body.kind(), "register_reviewer");
    }

    #[test]
    #[allow(clippy::items_after_statements)]
    fn the_verified_memo_skips_only_the_exact_bytes_it_saw() {
        let net = TestNet::new(1);
        let memo = VerifiedSet::new(2);
        let tx = net.register_issuer(&net.issuer, 1);
        let first = rules::check_stateless_memo(&tx, &net.genesis, &memo).unwrap();
        assert!(first.verified_now);
        memo.remember(first.digest);
        let again = rules::check_stateless_memo(&tx, &net.genesis, &memo).unwrap();
        assert!(!again.verified_now, "known bytes are not verified twice");
        // Same body (same tx id), one flipped signature byte: a different
        // digest, so T4 runs and refuses it.
        let mut forged = tx.clone();
        forged.signatures[0].signature.0[5] ^= 1;
        assert_eq!(forged.id(net.chain()), tx.id(net.chain()));
        let err = rules::check_stateless_memo(&forged, &net.genesis, &memo).unwrap_err();
        assert_eq!(err.code(), "BadSignature");
        // Bounded: the oldest digest is forgotten first.
        memo.remember(Hash32([1; 32]));
        memo.remember(Hash32([2; 32]));
        assert_eq!(memo.len(), 2);
        assert!(!memo.verified(&first.digest));
        assert!(memo.verified(&Hash32([2; 32])));
    }

    #[test]
    fn remembered_rejections_are_bounded() {
        let mut p = pool(10);
        let ids: Vec<TxId> = (0..3u8).map(|i| TxId([i; 32])).collect();
        for id in &ids {
            p.remember_rejection(*id, LedgerError::Malformed("x".into()));
        }
        assert!(p.rejection(&ids[0]).is_none());
        assert!(p.rejection(&ids[2]).is_some());
    }
}
