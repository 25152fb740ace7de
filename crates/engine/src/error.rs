//! Faults of the engine: conditions after which the node must stop rather
//! than go on (never a verdict on a peer's input; those are refusals, counted
//! and reported as effects).

use keepsake_ledger::LedgerError;

/// A storage failure reported by a [`crate::ChainStore`] implementation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StoreFault(pub String);

/// Why the engine stopped. The host halts the node (`/health` turns red) and
/// executes none of the effects of the call that failed: nothing signed in it
/// has left the node.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The chain store failed (read or write).
    #[error("E1 StoreFailed: the chain store failed: {0}")]
    StoreFailed(#[from] StoreFault),
    /// The ledger failed as a program (`LedgerError::State` / `Invariant`), not as a verdict.
    #[error("E2 LedgerFault: the ledger failed while {doing}: {error}")]
    LedgerFault {
        /// What the engine was doing.
        doing: &'static str,
        /// The ledger's error.
        error: LedgerError,
    },
    /// Rule E3: the core decided a block with a commit that does not verify against the
    /// validator set: a bug in the core, never a peer's doing.
    #[error(
        "E3 DecidedWithoutQuorum: the core decided height {height} with a commit that does not verify: {reason}"
    )]
    DecidedWithoutQuorum {
        /// The height.
        height: u64,
        /// Why the commit does not verify.
        reason: String,
    },
    /// Rule E4: a block decided by a quorum breaks a ledger rule here. More than a third
    /// of the power is Byzantine, or this node's state diverged: stop, never commit it.
    #[error("E4 DecidedInvalid: a quorum decided block {height}, which breaks a ledger rule here: {error}")]
    DecidedInvalid {
        /// The height.
        height: u64,
        /// The ledger's rejection.
        error: LedgerError,
    },
}

impl EngineError {
    /// Stable code, as in logs and `/health`.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::StoreFailed(_) => "StoreFailed",
            EngineError::LedgerFault { .. } => "LedgerFault",
            EngineError::DecidedWithoutQuorum { .. } => "DecidedWithoutQuorum",
            EngineError::DecidedInvalid { .. } => "DecidedInvalid",
        }
    }
}
