//! Admission of gossiped transaction batches (the payloads of the
//! transaction topic, `keepsake_types::wire::decode_tx_batch`) and the
//! forwarding verdict on a batch.
//!
//! A batch is decoded whole, within its bounds, or refused whole: bytes that
//! do not frame are garbage from the forwarder. Each decoded transaction is
//! then judged **alone** by [`Admission::admit_many`] (the one admission
//! path, with the batch's signatures verified together first; the verdicts
//! are those of admitting each alone): one bad transaction never keeps the
//! others out of the pool, and a duplicate is idempotent as ever.
//!
//! The batch is one gossip message, so it is forwarded or not as a whole:
//! - **Reject** (the forwarder is blamed) when it does not decode, or when a
//!   transaction inside breaks a stateless rule (a transfer, bad form, a bad
//!   signature): an honest node gossips only what it admitted, so whoever
//!   hands us such a batch made it. The valid transactions in it are admitted
//!   all the same.
//! - **Ignore** (not forwarded, nobody blamed) when a full pool left a
//!   transaction unchecked (we cannot vouch for what we did not check), or
//!   when nothing in it was admitted (every refusal stateful: a matter of
//!   timing).
//! - **Accept** (forwarded) otherwise: everything was checked, at least one
//!   transaction was admitted. Transactions refused for a stateful reason
//!   travel along; every receiver judges them alone again.

use keepsake_ledger::{LedgerError, StateView};
use keepsake_types::TxId;
use keepsake_types::wire::{TX_BATCH_TXS_MAX, decode_tx_batch};

use crate::admit::Admission;
use crate::effect::GossipVerdict;
use crate::mempool::AdmitError;

/// What admitting one gossiped batch came to.
#[derive(Debug)]
pub struct BatchAdmission {
    /// Whether to forward the batch, and whom to blame.
    pub verdict: GossipVerdict,
    /// One result per transaction of the batch, in order; a single
    /// `Malformed` refusal when the batch did not decode.
    pub results: Vec<Result<TxId, AdmitError>>,
    /// Transactions decoded from the batch (0 when it did not decode).
    pub decoded: usize,
}

impl BatchAdmission {
    /// Transactions admitted (or already pending).
    pub fn admitted(&self) -> usize {
        self.results.iter().filter(|r| r.is_ok()).count()
    }
}

impl<V: StateView + ?Sized> Admission<'_, V> {
    /// Admits the transactions of a gossiped batch, each alone, and says
    /// whether to forward the batch (see the module docs). `max_bytes` is the
    /// gossip message limit; the count limit is [`TX_BATCH_TXS_MAX`] and each
    /// transaction's the chain's `tx_bytes_max`.
    pub fn admit_gossiped_batch(&self, bytes: &[u8], max_bytes: usize) -> BatchAdmission {
        let tx_max = self.genesis.params.tx_bytes_max as usize;
        let txs = match decode_tx_batch(bytes, max_bytes, TX_BATCH_TXS_MAX, tx_max) {
            Ok(txs) => txs,
            Err(e) => {
                let error = AdmitError::Invalid(LedgerError::Malformed(e.to_string()));
                return BatchAdmission {
                    verdict: GossipVerdict::Reject("undecodable transaction batch"),
                    results: vec![Err(error)],
                    decoded: 0,
                };
            }
        };
        let decoded = txs.len();
        let results = self.admit_many(txs);
        let invalid = results.iter().any(|r| matches!(r, Err(AdmitError::Invalid(_))));
        let unchecked = results.iter().any(|r| matches!(r, Err(AdmitError::Full { .. })));
        let verdict = if invalid {
            GossipVerdict::Reject("transaction batch with a transaction that breaks a stateless rule")
        } else if unchecked || results.iter().all(|r| r.is_err()) {
            GossipVerdict::Ignore
        } else {
            GossipVerdict::Accept
        };
        BatchAdmission { verdict, results, decoded }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use keepsake_ledger::memory::MemoryState;
    use keepsake_ledger::testkit::TestNet;
    use keepsake_types::wire::pack_tx_batches;
    use keepsake_types::{SignedTx, TxBody, encoding, ids};

    use super::*;
    use crate::memo::VerifiedSet;
    use crate::mempool::{Mempool, MempoolLimits};

    const MAX_BYTES: usize = 1 << 20;

    fn setup(max_txs: usize) -> (TestNet, MemoryState, VerifiedSet, Mutex<Mempool>) {
        let limits = MempoolLimits { max_txs, max_bytes: 1 << 20, rejected_memory: 4 };
        (TestNet::new(1), MemoryState::new(), VerifiedSet::new(64), Mutex::new(Mempool::new(limits)))
    }

    fn batch(txs: &[SignedTx]) -> Vec<u8> {
        let encoded: Vec<Vec<u8>> = txs.iter().map(encoding::encode).collect();
        let mut payloads = pack_tx_batches(&encoded, MAX_BYTES, TX_BATCH_TXS_MAX);
        assert_eq!(payloads.len(), 1);
        payloads.remove(0)
    }

    fn codes(b: &BatchAdmission) -> Vec<&'static str> {
        b.results.iter().map(|r| r.as_ref().map_or_else(|e| e.code(), |_| "ok")).collect()
    }

    #[test]
    fn each_transaction_is_judged_alone_and_a_forged_one_blames_the_forwarder() {
        let (net, state, memo, pool) = setup(100);
        let a = Admission {
            state: &state,
            genesis: &net.genesis,
            memo: &memo,
            pool: &pool,
            next_height: 1,
            time_ms: 0,
        };
        let mut forged = net.register_issuer(&net.issuer, 2);
        forged.signatures[0].signature.0[3] ^= 1;
        let txs = [net.register_issuer(&net.issuer, 1), forged, net.register_issuer(&net.issuer, 3)];
        let b = a.admit_gossiped_batch(&batch(&txs), MAX_BYTES);
        assert_eq!(codes(&b), ["ok", "BadSignature", "ok"]);
        assert_eq!(b.verdict.code(), "reject");
        assert_eq!((b.decoded, b.admitted()), (3, 2));
        assert_eq!(pool.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_transfer_inside_a_batch_is_refused_and_blamed() {
        let (net, state, memo, pool) = setup(100);
        let a = Admission {
            state: &state,
            genesis: &net.genesis,
            memo: &memo,
            pool: &pool,
            next_height: 1,
            time_ms: 0,
        };
        let cert = ids::certificate_id(net.chain(), &net.series_id(&net.issuer, "s"), 1);
        let transfer = TxBody::Transfer { certificate_id: cert, to: TestNet::holder(2) }
            .sign(net.chain(), &[&net.issuer]);
        let b = a.admit_gossiped_batch(&batch(&[transfer, net.register_issuer(&net.issuer, 1)]), MAX_BYTES);
        assert_eq!(codes(&b), ["TransferForbidden", "ok"]);
        assert_eq!(b.verdict.code(), "reject");
    }

    #[test]
    fn stateful_refusals_and_duplicates_do_not_blame_and_admitted_batches_are_forwarded() {
        let (net, state, memo, pool) = setup(100);
        let a = Admission {
            state: &state,
            genesis: &net.genesis,
            memo: &memo,
            pool: &pool,
            next_height: 1,
            time_ms: 0,
        };
        // Unknown issuer: a stateful refusal, next to a valid transaction: forwarded.
        let series = net.create_series(&net.issuer, &net.reviewer, "s", 3);
        let ok = net.register_issuer(&net.issuer, 1);
        let b = a.admit_gossiped_batch(&batch(&[series.clone(), ok.clone()]), MAX_BYTES);
        assert_eq!(codes(&b), ["UnknownIssuer", "ok"]);
        assert_eq!(b.verdict, GossipVerdict::Accept);
        // The same pending transaction twice, and again: idempotent, still one in the pool.
        let b = a.admit_gossiped_batch(&batch(&[ok.clone(), ok]), MAX_BYTES);
        assert_eq!(codes(&b), ["ok", "ok"]);
        assert_eq!(pool.lock().unwrap().len(), 1);
        // Nothing admitted: not forwarded, nobody blamed.
        let b = a.admit_gossiped_batch(&batch(&[series]), MAX_BYTES);
        assert_eq!(b.verdict, GossipVerdict::Ignore);
    }

    #[test]
    fn a_full_pool_leaves_transactions_unchecked_and_the_batch_unforwarded() {
        let (net, state, memo, pool) = setup(1);
        let a = Admission {
            state: &state,
            genesis: &net.genesis,
            memo: &memo,
            pool: &pool,
            next_height: 1,
            time_ms: 0,
        };
        let txs = [net.register_issuer(&net.issuer, 1), net.register_issuer(&net.issuer, 2)];
        let b = a.admit_gossiped_batch(&batch(&txs), MAX_BYTES);
        assert_eq!(codes(&b), ["ok", "MempoolFull"]);
        assert_eq!(b.verdict, GossipVerdict::Ignore);
    }

    #[test]
    fn undecodable_oversized_or_overfull_batches_are_rejected_whole() {
        let (net, state, memo, pool) = setup(2000);
        let a = Admission {
            state: &state,
            genesis: &net.genesis,
            memo: &memo,
            pool: &pool,
            next_height: 1,
            time_ms: 0,
        };
        let good = batch(&[net.register_issuer(&net.issuer, 1), net.register_issuer(&net.issuer, 2)]);
        let mut truncated = good.clone();
        truncated.pop();
        let mut trailing = good.clone();
        trailing.push(0);
        // One over the count limit (the same transaction repeated: decoding comes first).
        let one = encoding::encode(&net.register_issuer(&net.issuer, 3));
        let mut overfull = encoding::encode(&(TX_BATCH_TXS_MAX as u64 + 1));
        for _ in 0..=TX_BATCH_TXS_MAX {
            overfull.extend_from_slice(&one);
        }
        for (what, bytes, max) in [
            ("truncated", &truncated, MAX_BYTES),
            ("trailing", &trailing, MAX_BYTES),
            ("overfull", &overfull, usize::MAX),
            ("oversized", &good, good.len() - 1),
            ("garbage", &vec![0xff; 9], MAX_BYTES),
        ] {
            let b = a.admit_gossiped_batch(bytes, max);
            assert_eq!(b.verdict, GossipVerdict::Reject("undecodable transaction batch"), "{what}");
            assert_eq!((b.decoded, b.admitted()), (0, 0), "{what}");
            assert_eq!(codes(&b), ["Malformed"], "{what}");
        }
        assert!(pool.lock().unwrap().is_empty());
        // The good one is admitted.
        assert_eq!(a.admit_gossiped_batch(&good, MAX_BYTES).verdict, GossipVerdict::Accept);
    }
}
