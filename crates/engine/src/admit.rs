//! Admission: the one path by which a transaction enters a mempool, whether
//! a client sent it over RPC or a peer gossiped it (the forwarding policy for
//! gossiped batches is in `txgossip`).
//!
//! Order of the checks, cheapest refusal first:
//! 1. the transfer ban (T1), stated here as well as in the ledger: nothing
//!    downstream of admission ever sees a transfer;
//! 2. room in the pool: a full pool answers `MempoolFull` before any
//!    signature work (clients retrying a burst must not cost a verification
//!    per retry);
//! 3. the stateless rules (`check_stateless_memo`: form, sizes, T4 signatures,
//!    verified once per node through the [`VerifiedSet`]; many transactions
//!    arriving together have their signatures verified in one batch first,
//!    [`Admission::admit_many`]);
//! 4. the stateful rules against committed state at the next height.

use std::sync::Mutex;

use keepsake_ledger::read_cache::ReadCache;
use keepsake_ledger::{LedgerError, StateView, rules};
use keepsake_types::{Genesis, SignedTx, TxBody, TxId};

use crate::memo::VerifiedSet;
use crate::mempool::{AdmitError, Mempool};

/// What admission needs: committed state, the chain, the memo and the pool.
pub struct Admission<'a, V: StateView + ?Sized> {
    /// Committed state.
    pub state: &'a V,
    /// The chain.
    pub genesis: &'a Genesis,
    /// The verify-once memo.
    pub memo: &'a VerifiedSet,
    /// The pool.
    pub pool: &'a Mutex<Mempool>,
    /// The height the transaction would be committed at first (committed height + 1).
    pub next_height: u64,
    /// The time licences are judged at (T33-T36): the caller's clock, in ms
    /// since the Unix epoch. Block validation judges them again at the block's time.
    pub time_ms: u64,
}

fn lock(pool: &Mutex<Mempool>) -> std::sync::MutexGuard<'_, Mempool> {
    pool.lock().expect("mempool lock poisoned: a panic happened while it was held")
}

impl<V: StateView + ?Sized> Admission<'_, V> {
    /// Admits `tx` into the pool, or says why not. Re-submitting a pending
    /// transaction succeeds with the same id (idempotent submission).
    pub fn admit(&self, tx: SignedTx) -> Result<TxId, AdmitError> {
        let encoded = rules::Encoded::of(&tx);
        self.admit_encoded(tx, &encoded)
    }

    /// [`Self::admit`] with the transaction's encoding and digest computed by
    /// the caller (`rules::Encoded::of(&tx)`), who needs them too.
    pub fn admit_encoded(&self, tx: SignedTx, encoded: &rules::Encoded) -> Result<TxId, AdmitError> {
        // T1 on sight.
        if let TxBody::Transfer { certificate_id, .. } = &tx.body {
            return Err(AdmitError::Invalid(LedgerError::TransferForbidden {
                certificate_id: *certificate_id,
            }));
        }
        lock(self.pool).has_room()?;
        let checked = rules::check_stateless_encoded(&tx, encoded, self.genesis, self.memo)
            .map_err(AdmitError::Invalid)?;
        // A digest the memo knew (from a batch's pre-verification, an earlier
        // admission or block sync) is not written again: one lock and lookup
        // fewer per admitted transaction. Should it be forgotten before its
        // block (a rotation), the block's validation verifies it again.
        if checked.verified_now {
            self.memo.remember(checked.digest);
        }
        rules::check_stateful(self.state, self.genesis, &tx, checked.tx_id, self.next_height, self.time_ms)?;
        lock(self.pool).insert(checked.tx_id, tx, encoded.bytes().len())?;
        Ok(checked.tx_id)
    }

    /// Admits many transactions: the same verdicts, in order, as calling
    /// [`Self::admit`] on each, but the signatures of all of them (T4) are
    /// verified together in one batch first ([`Self::preverify`]), which
    /// costs a fraction of verifying them one by one.
    pub fn admit_many(&self, txs: Vec<SignedTx>) -> Vec<Result<TxId, AdmitError>> {
        let encoded: Vec<rules::Encoded> = txs.iter().map(rules::Encoded::of).collect();
        self.preverify(&txs, &encoded);
        self.with_cached_reads(|a| {
            txs.into_iter().zip(&encoded).map(|(tx, e)| a.admit_encoded(tx, e)).collect()
        })
    }

    /// Runs `f` with this admission reading committed state through a
    /// [`ReadCache`]: the issuer, licence, series and series life shared by
    /// the transactions of one call are read once, not once per transaction.
    /// Each transaction is still judged against committed state as of the
    /// call: as of the first read of each record (a commit may land during
    /// the call; a series created by it is then unknown to the rest of the
    /// call, whose mints the client submits again). Block validation judges
    /// every transaction again.
    pub fn with_cached_reads<R>(&self, f: impl FnOnce(&Admission<'_, ReadCache<'_, V>>) -> R) -> R {
        let cached = ReadCache::new(self.state);
        f(&Admission {
            state: &cached,
            genesis: self.genesis,
            memo: self.memo,
            pool: self.pool,
            next_height: self.next_height,
            time_ms: self.time_ms,
        })
    }

    /// T4 for the transactions `txs` (with their `encoded` forms, in the same
    /// order), in one batch verification ahead of admitting them one by one:
    /// those that pass are remembered in the memo (the batch's verdict on
    /// each equals verifying it alone), so admission finds them verified.
    /// Verdicts do not change. Nothing is verified while the pool is full
    /// (admission then answers `MempoolFull` before any signature work).
    pub fn preverify(&self, txs: &[SignedTx], encoded: &[rules::Encoded]) {
        if txs.len() < 2 || lock(self.pool).has_room().is_err() {
            return;
        }
        let pairs: Vec<(&SignedTx, &rules::Encoded)> = txs.iter().zip(encoded).collect();
        self.memo.preverify(&self.genesis.chain_id, &pairs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::MempoolLimits;
    use keepsake_ledger::memory::MemoryState;
    use keepsake_ledger::testkit::TestNet;
    use keepsake_types::ids;

    fn setup(max_txs: usize) -> (TestNet, MemoryState, VerifiedSet, Mutex<Mempool>) {
        let limits = MempoolLimits { max_txs, max_bytes: 1 << 20, rejected_memory: 4 };
        (TestNet::new(1), MemoryState::new(), VerifiedSet::new(16), Mutex::new(Mempool::new(limits)))
    }

    /// A batch of every kind of verdict: valid, forged, a transfer, a
    /// duplicate, a stateful refusal, a pool filling up.
    fn mixed(net: &TestNet) -> Vec<SignedTx> {
        let mut forged = net.register_issuer(&net.issuer, 3);
        forged.signatures[0].signature.0[9] ^= 4;
        let cert = ids::certificate_id(net.chain(), &net.series_id(&net.issuer, "s"), 1);
        let transfer = TxBody::Transfer { certificate_id: cert, to: TestNet::holder(2) }
            .sign(net.chain(), &[&net.issuer]);
        let mut second_forged = net.register_issuer(&net.issuer, 6);
        second_forged.signatures[0].signature.0[40] ^= 1;
        vec![
            net.register_issuer(&net.issuer, 1),
            forged,
            net.register_issuer(&net.issuer, 2),
            transfer,
            net.register_issuer(&net.issuer, 1),
            net.create_series(&net.issuer, &net.reviewer, "s", 3),
            net.register_issuer(&net.issuer, 4),
            second_forged,
            net.register_issuer(&net.issuer, 5),
            net.register_issuer(&net.issuer, 7),
        ]
    }

    #[test]
    fn admitting_many_at_once_gives_the_verdicts_of_admitting_one_by_one() {
        let net = TestNet::new(1);
        let outcome = |many: bool| {
            let (_, state, memo, pool) = setup(4);
            let a = Admission {
                state: &state,
                genesis: &net.genesis,
                memo: &memo,
                pool: &pool,
                next_height: 1,
                time_ms: 0,
            };
            let txs = mixed(&net);
            let results: Vec<Result<TxId, AdmitError>> =
                if many { a.admit_many(txs) } else { txs.into_iter().map(|tx| a.admit(tx)).collect() };
            let verdicts: Vec<String> = results
                .iter()
                .map(|r| match r {
                    Ok(id) => format!("ok {id}"),
                    Err(e) => format!("{}: {e}", e.code()),
                })
                .collect();
            (verdicts, memo.len())
        };
        let (one_by_one, _) = outcome(false);
        let (many, remembered) = outcome(true);
        assert_eq!(many, one_by_one);
        // The forged ones are refused with the signer named, the pool fills at four.
        assert!(many[1].starts_with("BadSignature"), "{}", many[1]);
        assert!(many[7].starts_with("BadSignature"), "{}", many[7]);
        assert!(many[9].starts_with("MempoolFull"), "{}", many[9]);
        // The batch remembered every transaction whose signatures verify, and no forged one.
        assert!(remembered >= 6, "{remembered} digests remembered");
    }

    #[test]
    fn a_full_pool_answers_before_any_signature_work() {
        let (net, state, memo, pool) = setup(1);
        let a = Admission {
            state: &state,
            genesis: &net.genesis,
            memo: &memo,
            pool: &pool,
            next_height: 1,
            time_ms: 0,
        };
        a.admit(net.register_issuer(&net.issuer, 1)).unwrap();
        // A forged transaction would be BadSignature if it were checked; the full pool answers first.
        let mut forged = net.register_issuer(&net.issuer, 2);
        forged.signatures[0].signature.0[3] ^= 1;
        assert_eq!(a.admit(forged).unwrap_err().code(), "MempoolFull");
        // A transfer is refused even by a full pool, with its own code.
        let cert = ids::certificate_id(net.chain(), &net.series_id(&net.issuer, "s"), 1);
        let transfer = TxBody::Transfer { certificate_id: cert, to: TestNet::holder(2) }
            .sign(net.chain(), &[&net.issuer]);
        assert_eq!(a.admit(transfer).unwrap_err().code(), "TransferForbidden");
    }
}
