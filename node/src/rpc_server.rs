//! The node's implementation of [`KeepsakeApiServer`]. Every error is an
//! error object with a stable code (`keepsake_rpc::error`); CPU-heavy or
//! disk-reading work runs on the blocking pool, not on the async runtime.
//! [`rpc_module`] is the whole JSON-RPC module the server runs: those
//! methods plus `rpc.discover`, which returns the API's OpenRPC document
//! (docs/openrpc.json, embedded in the binary).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{PendingSubscriptionSink, RpcModule};
use keepsake_ledger::rules::Encoded;
use keepsake_ledger::{LedgerError, StateView};
use keepsake_rpc::types::{
    BlockResponse, CertificateResponse, ChainStatus, ConsistencyResponse, IssuerInfo, LogRootInfo, RecentTx,
    Rejection, SeriesInfo, SubmitOutcome, TxStatus, ValidatorSetsResponse,
};
use keepsake_rpc::{KeepsakeApiServer, rpc_error};
use keepsake_types::{
    BlockHash, CertificateId, CertificateStatus, DoubleVote, Genesis, PublicKey, SeriesId, SignedTx, TxId,
};

use crate::shared::Shared;
use keepsake_engine::AdmitError;
use keepsake_engine::admit::Admission;

/// Most records returned by one `listSeries`, `listIssuers` or `recentTransactions` call.
pub const LIST_PER_CALL_MAX: u32 = 100;
/// Most blocks `recentTransactions` reads back from the tip.
const RECENT_BLOCKS_SCANNED_MAX: u64 = 1000;

fn series_info(s: &Shared, series_id: SeriesId, r: keepsake_ledger::SeriesRecord) -> RpcResult<SeriesInfo> {
    crate::life_info::series_info(&*s.store, series_id, r).map_err(|e| ledger_error(&e))
}

/// Issuers with their licences, judged at the node's clock (what admission checks).
fn issuer_infos(
    s: &Shared,
    records: Vec<(PublicKey, keepsake_ledger::IssuerRecord)>,
) -> RpcResult<Vec<IssuerInfo>> {
    let policy = crate::life_info::licence_policy(&*s.store).map_err(|e| ledger_error(&e))?;
    let now = crate::shared::now_ms();
    records
        .into_iter()
        .map(|(issuer, r)| {
            crate::life_info::issuer_info(&*s.store, issuer, r, &policy, now).map_err(|e| ledger_error(&e))
        })
        .collect()
}

/// The OpenRPC 1.2.6 document of the API: every method the node serves, its
/// params, result and errors (docs/openrpc.json). `rpc.discover` returns it.
pub const OPENRPC_DOCUMENT: &str = include_str!("../../docs/openrpc.json");

/// The name of the OpenRPC service discovery method.
pub const DISCOVER_METHOD: &str = "rpc.discover";

/// The JSON-RPC module the node's server runs: every method of
/// [`KeepsakeApiServer`] and [`DISCOVER_METHOD`]. The OpenRPC document is
/// parsed once, here: an invalid document fails the node's start.
pub fn rpc_module(shared: Arc<Shared>, max_batch_txs: usize) -> anyhow::Result<RpcModule<RpcImpl>> {
    let mut module = RpcImpl::new(shared, max_batch_txs).into_rpc();
    let document: serde_json::Value = serde_json::from_str(OPENRPC_DOCUMENT)
        .map_err(|e| anyhow::anyhow!("the embedded OpenRPC document is not JSON: {e}"))?;
    let mut discover = RpcModule::new(());
    // No params; any given are ignored, as extra positional params are by every method.
    discover.register_method(DISCOVER_METHOD, move |_, _, _| document.clone())?;
    module.merge(discover)?;
    Ok(module)
}

/// Most evidence records returned by one `getEvidence` call.
pub const EVIDENCE_PER_CALL_MAX: u32 = 1000;

/// The RPC handlers.
pub struct RpcImpl {
    shared: Arc<Shared>,
    max_batch_txs: usize,
}

impl RpcImpl {
    /// Handlers over the node's shared state.
    pub fn new(shared: Arc<Shared>, max_batch_txs: usize) -> Self {
        Self { shared, max_batch_txs }
    }

    /// Runs `f` on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Shared) -> RpcResult<T> + Send + 'static,
    ) -> RpcResult<T> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || f(&shared))
            .await
            .map_err(|e| rpc_error("Internal", format!("handler task failed: {e}")))?
    }
}

fn ledger_error(e: &LedgerError) -> ErrorObjectOwned {
    rpc_error(e.code(), e.to_string())
}

fn store_error(e: keepsake_store::StoreError) -> ErrorObjectOwned {
    rpc_error("StateUnavailable", e.to_string())
}

fn not_found(what: impl std::fmt::Display) -> ErrorObjectOwned {
    rpc_error("NotFound", format!("{what} not found"))
}

/// Admits one transaction through the node's one admission path
/// (`admission`: [`Shared::admission`], or a call's view of it with cached
/// reads, `Admission::with_cached_reads`) and, when admitted, counts it and
/// adds its canonical encoding (`encoded`, computed once for admission and
/// gossip) to `gossip`. The caller hands `gossip` to [`queue_gossip`] once
/// per call, so that one call's admitted transactions travel as one batch.
fn admit<V: StateView + ?Sized>(
    shared: &Shared,
    admission: &Admission<'_, V>,
    tx: SignedTx,
    encoded: Encoded,
    gossip: &mut Vec<Vec<u8>>,
) -> (TxId, Result<(), AdmitError>) {
    match admission.admit_encoded(tx, &encoded) {
        Ok(tx_id) => {
            shared.metrics.txs_admitted.fetch_add(1, Relaxed);
            shared.new_tx.notify_one();
            gossip.push(encoded.into_bytes());
            (tx_id, Ok(()))
        }
        Err(e) => {
            shared.metrics.rejected("admission", e.code());
            (encoded.tx_id(&shared.genesis.chain_id), Err(e))
        }
    }
}

/// Queues one call's admitted transactions for gossip, as one entry (the
/// publisher packs them into batches, `crate::net::gossip_transactions`),
/// and updates the pool gauges once per call.
fn queue_gossip(shared: &Shared, gossip: Vec<Vec<u8>>) {
    let n = gossip.len();
    // The other validators learn them by gossip; if that queue is full
    // they still get them inside our next proposal.
    if n > 0 && shared.gossip_tx.offer(gossip, n).is_err() {
        shared.metrics.p2p_dropped.fetch_add(n as u64, Relaxed);
    }
    let pool = shared.mempool();
    shared.metrics.mempool_txs.store(pool.len() as u64, Relaxed);
    shared.metrics.mempool_bytes.store(pool.bytes() as u64, Relaxed);
}

fn admit_error(e: &AdmitError) -> ErrorObjectOwned {
    rpc_error(e.code(), e.to_string())
}

#[async_trait]
impl KeepsakeApiServer for RpcImpl {
    async fn submit_tx(&self, tx: SignedTx) -> RpcResult<TxId> {
        self.blocking(move |s| {
            let mut gossip = Vec::with_capacity(1);
            let encoded = Encoded::of(&tx);
            let (tx_id, result) = admit(s, &s.admission(), tx, encoded, &mut gossip);
            queue_gossip(s, gossip);
            result.map(|()| tx_id).map_err(|e| admit_error(&e))
        })
        .await
    }

    async fn submit_txs(&self, txs: Vec<SignedTx>) -> RpcResult<Vec<SubmitOutcome>> {
        if txs.len() > self.max_batch_txs {
            return Err(rpc_error(
                "BatchTooLarge",
                format!("{} transactions in one call, over the limit of {}", txs.len(), self.max_batch_txs),
            ));
        }
        self.blocking(move |s| {
            let mut gossip = Vec::with_capacity(txs.len());
            // Each transaction encoded once (size, memo digest, gossip); T4
            // for the whole call in one batch verification first; each
            // transaction is then judged alone, as by `admit`.
            let encoded: Vec<Encoded> = txs.iter().map(Encoded::of).collect();
            let admission = s.admission();
            admission.preverify(&txs, &encoded);
            let outcomes = admission.with_cached_reads(|admission| {
                txs.into_iter()
                    .zip(encoded)
                    .map(|(tx, encoded)| {
                        // The id from admission (or, refused, from the encoding): hashed once.
                        let (tx_id, result) = admit(s, admission, tx, encoded, &mut gossip);
                        let error =
                            result.err().map(|e| Rejection { code: e.code().into(), message: e.to_string() });
                        SubmitOutcome { tx_id, error }
                    })
                    .collect()
            });
            queue_gossip(s, gossip);
            Ok(outcomes)
        })
        .await
    }

    async fn get_tx_status(&self, tx_id: TxId) -> RpcResult<TxStatus> {
        self.blocking(move |s| {
            if let Some(loc) = s.store.tx_location(&tx_id).map_err(|e| ledger_error(&e))? {
                return Ok(TxStatus::Committed {
                    height: loc.height,
                    index: loc.index,
                    leaf_index: loc.leaf_index,
                });
            }
            let pool = s.mempool();
            if pool.contains(&tx_id) {
                return Ok(TxStatus::Pending);
            }
            Ok(match pool.rejection(&tx_id) {
                Some(e) => {
                    TxStatus::Rejected { error: Rejection { code: e.code().into(), message: e.to_string() } }
                }
                None => TxStatus::Unknown,
            })
        })
        .await
    }

    async fn get_certificate(&self, certificate_id: CertificateId) -> RpcResult<CertificateResponse> {
        self.blocking(move |s| crate::certificates::build(&s.store, &s.genesis, &certificate_id)).await
    }

    async fn get_certificate_status(&self, certificate_id: CertificateId) -> RpcResult<CertificateStatus> {
        self.blocking(move |s| crate::certificates::status(&s.store, &s.genesis, &certificate_id)).await
    }

    async fn get_evidence(&self, limit: u32) -> RpcResult<Vec<DoubleVote>> {
        let limit = limit.min(EVIDENCE_PER_CALL_MAX) as usize;
        self.blocking(move |s| s.store.evidence(limit).map_err(store_error)).await
    }

    async fn list_series(&self, after: Option<SeriesId>, limit: u32) -> RpcResult<Vec<SeriesInfo>> {
        let limit = limit.min(LIST_PER_CALL_MAX) as usize;
        self.blocking(move |s| {
            let page = s.store.series_page(after.as_ref(), limit).map_err(store_error)?;
            page.into_iter().map(|(id, r)| series_info(s, id, r)).collect()
        })
        .await
    }

    async fn list_issuers(&self, after: Option<PublicKey>, limit: u32) -> RpcResult<Vec<IssuerInfo>> {
        let limit = limit.min(LIST_PER_CALL_MAX) as usize;
        self.blocking(move |s| {
            let page = s.store.issuers_page(after.as_ref(), limit).map_err(store_error)?;
            issuer_infos(s, page)
        })
        .await
    }

    async fn recent_transactions(&self, limit: u32) -> RpcResult<Vec<RecentTx>> {
        let limit = limit.min(LIST_PER_CALL_MAX) as usize;
        self.blocking(move |s| {
            let tip = s.store.ledger_tip(&s.genesis).map_err(store_error)?;
            let chain = s.genesis.chain_id.as_str();
            let mut out = Vec::new();
            let lowest = tip.height.saturating_sub(RECENT_BLOCKS_SCANNED_MAX - 1).max(1);
            for height in (lowest..=tip.height).rev() {
                let Some(block) = s.store.block(height).map_err(store_error)? else { break };
                for tx in block.txs.into_iter().rev() {
                    if out.len() == limit {
                        return Ok(out);
                    }
                    let tx_id = tx.id(chain);
                    out.push(RecentTx { height, time_ms: block.header.time_ms, tx_id, body: tx.body });
                }
            }
            Ok(out)
        })
        .await
    }

    async fn get_series(&self, series_id: SeriesId) -> RpcResult<SeriesInfo> {
        self.blocking(move |s| {
            let r = s
                .store
                .series(&series_id)
                .map_err(|e| ledger_error(&e))?
                .ok_or_else(|| not_found(format!("series {series_id}")))?;
            series_info(s, series_id, r)
        })
        .await
    }

    async fn get_issuer(&self, issuer: PublicKey) -> RpcResult<IssuerInfo> {
        self.blocking(move |s| {
            let r = s
                .store
                .issuer(&issuer)
                .map_err(|e| ledger_error(&e))?
                .ok_or_else(|| not_found(format!("issuer {issuer}")))?;
            let mut one = issuer_infos(s, vec![(issuer, r)])?;
            one.pop().ok_or_else(|| rpc_error("Internal", "no issuer built"))
        })
        .await
    }

    async fn get_log_root(&self, size: u64) -> RpcResult<LogRootInfo> {
        self.blocking(move |s| {
            let committed = s.store.ledger_tip(&s.genesis).map_err(store_error)?.log_size;
            if size > committed {
                return Err(rpc_error(
                    "InvalidRange",
                    format!("log size {size} is beyond the committed log size {committed}"),
                ));
            }
            let root = s.store.log_root(size).map_err(store_error)?;
            Ok(LogRootInfo { size, root })
        })
        .await
    }

    async fn get_block(&self, height: u64) -> RpcResult<BlockResponse> {
        self.blocking(move |s| block_at(s, height)).await
    }

    async fn get_block_by_hash(&self, hash: BlockHash) -> RpcResult<BlockResponse> {
        self.blocking(move |s| {
            let height = s
                .store
                .height_of(&hash)
                .map_err(store_error)?
                .ok_or_else(|| not_found(format!("block {hash}")))?;
            block_at(s, height)
        })
        .await
    }

    async fn status(&self) -> RpcResult<ChainStatus> {
        self.blocking(|s| {
            let tip = s.store.ledger_tip(&s.genesis).map_err(store_error)?;
            Ok(ChainStatus {
                chain_id: s.genesis.chain_id.clone(),
                genesis_hash: s.genesis.hash(),
                height: tip.height,
                latest_hash: tip.hash,
                latest_time_ms: tip.time_ms,
                log_size: tip.log_size,
                log_root: tip.log_root,
                state_root: tip.state_root,
                mempool_txs: s.mempool().len(),
                validator: s.validator,
                peers: Some(s.net.stats().peers_connected as usize),
            })
        })
        .await
    }

    async fn get_genesis(&self) -> RpcResult<Genesis> {
        Ok((*self.shared.genesis).clone())
    }

    async fn get_consistency_proof(
        &self,
        old_height: u64,
        new_height: u64,
    ) -> RpcResult<ConsistencyResponse> {
        self.blocking(move |s| {
            if old_height == 0 || old_height > new_height {
                return Err(rpc_error(
                    "InvalidRange",
                    format!("need 1 <= old_height <= new_height, got {old_height} and {new_height}"),
                ));
            }
            let sets = crate::certificates::sets(&s.store, &s.genesis)?;
            let old = crate::certificates::checkpoint(&s.store, &sets, old_height)?;
            let new = crate::certificates::checkpoint(&s.store, &sets, new_height)?;
            let proof =
                s.store.consistency_proof(old.header.log_size, new.header.log_size).map_err(store_error)?;
            Ok(ConsistencyResponse { old, new, proof })
        })
        .await
    }

    async fn get_validator_sets(
        &self,
        height: Option<u64>,
        proofs: Option<bool>,
    ) -> RpcResult<ValidatorSetsResponse> {
        let proofs = proofs.unwrap_or(true);
        self.blocking(move |s| crate::certificates::validator_sets(&s.store, &s.genesis, height, proofs))
            .await
    }

    async fn subscribe_blocks(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        let mut rx = self.shared.blocks.subscribe();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                event = rx.recv() => match event {
                    Ok(summary) => {
                        let msg = serde_json::value::to_raw_value(&summary)?;
                        if sink.send(msg).await.is_err() {
                            return Ok(());
                        }
                    }
                    // A slow subscriber skips ahead rather than holding memory.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::debug!(skipped = n, "block subscriber lagged");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(()),
                },
                () = sink.closed() => return Ok(()),
            }
        }
    }
}

fn block_at(s: &Shared, height: u64) -> RpcResult<BlockResponse> {
    let (block, commit) = s
        .store
        .block_and_commit(height)
        .map_err(store_error)?
        .ok_or_else(|| not_found(format!("block {height}")))?;
    Ok(BlockResponse { hash: block.header.hash(), block, commit })
}
