//! # keepsake-ledger
//!
//! The Keepsake state machine: every validity rule of the chain and the state
//! transitions they allow, as pure, deterministic functions over a storage
//! trait. No I/O, no clock, no randomness. **The transfer ban lives here**:
//! rule T1 ([`LedgerError::TransferForbidden`]) rejects every
//! [`keepsake_types::TxBody::Transfer`], in the mempool's admission check and
//! in block validation alike, and the state has no operation that changes a
//! certificate's holder.
//!
//! Good starting points:
//! - [`rules`] — the transaction rules T1-T51, each quoted next to its check;
//! - [`block::validate_block`] / [`block::build_block`] — the block rules
//!   B1-B11 and the one execution path both use;
//! - [`StateView`] — what storage must provide; [`memory::MemoryState`] is
//!   the in-memory implementation for tests and simulation.
//!
//! Obligations of callers: treat [`LedgerError::State`] and
//! [`LedgerError::Invariant`] as faults of the node (never as a verdict on the
//! input); store an [`block::Executed`] atomically or not at all.

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod block;
mod error;
mod life;
pub mod membership;
pub mod memory;
pub mod read_cache;
pub mod rules;
pub mod state;
pub mod testkit;

pub use block::{
    Built, CheckedBody, Executed, Tip, build_block, build_block_memo, validate_block, validate_block_memo,
    validate_checked_memo,
};
pub use error::{LedgerError, Result};
pub use state::{
    BoxClose, BoxReveal, BurnRecord, CertificateState, GovernanceRecord, IssuerRecord, LicencePolicyRecord,
    LicenceRecord, LicenceWithdrawal, LifeDelta, MembershipDelta, ObserverRecord, Overlay, ReviewerRecord,
    RevocationRecord, RevokedBy, SeriesLife, SeriesRecord, SetRecord, StateDelta, StateView, TxLocation,
};
