//! # keepsake-rpc
//!
//! The JSON-RPC 2.0 interface of a Keepsake node, declared once: the
//! [`KeepsakeApi`] trait generates the server trait the node implements
//! ([`KeepsakeApiServer`]), the typed client the CLI and tests use
//! ([`KeepsakeApiClient`], over HTTP or WebSocket), and the method names
//! (`keepsake_submitTx`, ...). docs/rpc.md documents every method.
//!
//! Good starting points: [`KeepsakeApi`] for the methods, [`types`] for
//! the JSON shapes, [`error`] for the error codes (the ledger's stable
//! rejection codes, each with a fixed number).

#![warn(missing_docs)]

pub mod error;
pub mod types;

pub use error::{ErrorCode, RpcErrorData, rpc_error};
pub use jsonrpsee;

use jsonrpsee::core::{RpcResult, SubscriptionResult};
use jsonrpsee::proc_macros::rpc;
use keepsake_types::{
    BlockHash, CertificateId, CertificateStatus, DoubleVote, Genesis, PublicKey, SeriesId, SignedTx, TxId,
};

use crate::types::{
    BlockResponse, BlockSummary, CertificateResponse, ChainStatus, ConsistencyResponse, IssuerInfo,
    LogRootInfo, RecentTx, SeriesInfo, SubmitOutcome, TxStatus, ValidatorSetsResponse,
};

/// Every method of the node's JSON-RPC API (namespace `keepsake`).
#[rpc(server, client, namespace = "keepsake")]
pub trait KeepsakeApi {
    /// Submits one signed transaction. Returns its id once the mempool admits
    /// it (admission runs every ledger rule against committed state; a
    /// transfer is refused with `TransferForbidden`). Submitting a transaction
    /// that is already pending is not an error.
    #[method(name = "submitTx")]
    async fn submit_tx(&self, tx: SignedTx) -> RpcResult<TxId>;

    /// Submits up to `max_batch_txs` transactions; one outcome per
    /// transaction, in order. A rejected one does not affect the others.
    #[method(name = "submitTxs")]
    async fn submit_txs(&self, txs: Vec<SignedTx>) -> RpcResult<Vec<SubmitOutcome>>;

    /// Where a transaction is: pending, committed (with height and log index),
    /// rejected (with the rule) or unknown.
    #[method(name = "getTxStatus")]
    async fn get_tx_status(&self, tx_id: TxId) -> RpcResult<TxStatus>;

    /// The certificate of a minted collectible, with inclusion proofs against
    /// the latest checkpoint, and its revocation if any.
    #[method(name = "getCertificate")]
    async fn get_certificate(&self, certificate_id: CertificateId) -> RpcResult<CertificateResponse>;

    /// The certificate's status at the latest checkpoint, checkable offline:
    /// a revocation comes with its log entry and inclusion proof
    /// (`CertificateStatus::verify`). An "active" answer proves only that the
    /// checkpoint is genuine, not the absence of a revocation.
    #[method(name = "getCertificateStatus")]
    async fn get_certificate_status(&self, certificate_id: CertificateId) -> RpcResult<CertificateStatus>;

    /// Equivocation evidence this node has seen and kept (two conflicting
    /// votes of one validator for one step), oldest first, at most `limit`
    /// (capped at 1,000 per call).
    #[method(name = "getEvidence")]
    async fn get_evidence(&self, limit: u32) -> RpcResult<Vec<DoubleVote>>;

    /// A page of series in id order, after `after` (from the start when
    /// `null`), at most `limit` (capped at 100).
    #[method(name = "listSeries")]
    async fn list_series(&self, after: Option<SeriesId>, limit: u32) -> RpcResult<Vec<SeriesInfo>>;

    /// A page of registered issuers in key order, after `after`, at most
    /// `limit` (capped at 100).
    #[method(name = "listIssuers")]
    async fn list_issuers(&self, after: Option<PublicKey>, limit: u32) -> RpcResult<Vec<IssuerInfo>>;

    /// The latest committed transactions, newest first, at most `limit`
    /// (capped at 100), from the last 1,000 blocks at most.
    #[method(name = "recentTransactions")]
    async fn recent_transactions(&self, limit: u32) -> RpcResult<Vec<RecentTx>>;

    /// A series, its minted and burned counts, its recipes, and for a blind
    /// box its variants, seed commitment and sale (open, closed, revealed).
    #[method(name = "getSeries")]
    async fn get_series(&self, series_id: SeriesId) -> RpcResult<SeriesInfo>;

    /// A registered issuer, with its licence and the chain's licence policy.
    #[method(name = "getIssuer")]
    async fn get_issuer(&self, issuer: PublicKey) -> RpcResult<IssuerInfo>;

    /// The root of the collectible log's first `size` leaves (at most the
    /// committed log size; `InvalidRange` beyond). A blind box's reveal
    /// carries the root at its close's `leaf_index + 1` as entropy.
    #[method(name = "getLogRoot")]
    async fn get_log_root(&self, size: u64) -> RpcResult<LogRootInfo>;

    /// A committed block with its commit.
    #[method(name = "getBlock")]
    async fn get_block(&self, height: u64) -> RpcResult<BlockResponse>;

    /// A committed block by header hash.
    #[method(name = "getBlockByHash")]
    async fn get_block_by_hash(&self, hash: BlockHash) -> RpcResult<BlockResponse>;

    /// Chain tip, log size and root, mempool size.
    #[method(name = "status")]
    async fn status(&self) -> RpcResult<ChainStatus>;

    /// The genesis file this node runs.
    #[method(name = "getGenesis")]
    async fn get_genesis(&self) -> RpcResult<Genesis>;

    /// Both checkpoints and the RFC 9162 consistency proof between their logs.
    #[method(name = "getConsistencyProof")]
    async fn get_consistency_proof(&self, old_height: u64, new_height: u64)
    -> RpcResult<ConsistencyResponse>;

    /// The chain's validator sets (genesis first, then one per committed
    /// change, with the change described by name), the governance in force
    /// and the observers. With `height`, only the sets governing heights up
    /// to it (`null`: every committed change, one not yet in force
    /// included). With `proofs` (default `true`), the `SetTransition` of
    /// every set after the genesis one, for `ValidatorSchedule::follow`.
    #[method(name = "getValidatorSets")]
    async fn get_validator_sets(
        &self,
        height: Option<u64>,
        proofs: Option<bool>,
    ) -> RpcResult<ValidatorSetsResponse>;

    /// A notification per committed block (WebSocket only).
    #[subscription(name = "subscribeBlocks" => "block", unsubscribe = "unsubscribeBlocks", item = BlockSummary)]
    async fn subscribe_blocks(&self) -> SubscriptionResult;
}
