//! # keepsake-audit
//!
//! What an auditor (a regulator, a notary office, the public) runs to check
//! a Keepsake chain while trusting nothing but the genesis file, the way
//! Certificate Transparency monitors check logs (RFC 9162 §8), except that
//! checkpoints are signed by a BFT quorum. Pure and deterministic like the
//! ledger: the bytes come from the caller (`keepsake audit` reads a data
//! directory or a node's RPC), every verdict is computed here.
//!
//! Good starting points:
//! - [`Auditor`] — replays a chain block by block from genesis: every
//!   commit's signatures against the validator set governing its height
//!   (derived from genesis and the replayed changes), every transaction's
//!   signatures and validity rule
//!   (the ledger's own [`keepsake_ledger::validate_block`]), log and state
//!   roots, consistency between consecutive checkpoints, and independent
//!   checks of the ban on secondary trading (no transfer, no holder ever
//!   changed) and of supply caps;
//! - [`Monitor`] — follows checkpoints from one or more nodes and raises an
//!   [`Alert`] on a fork (two quorum-signed headers at one height) or a
//!   rewrite (a newer log that does not extend an older one); it follows
//!   validator-set changes through their proofs ([`keepsake_types::SetTransition`]),
//!   trusting only the genesis;
//! - [`Report`] and [`Anomaly`] — what an audit found, with stable codes
//!   (docs/auditor-guide.md lists them), and every membership change
//!   ([`MembershipEvent`]).

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod membership;
mod monitor;
mod replay;
mod report;

pub use membership::{MembershipEvent, describe_change};
pub use monitor::{Alert, Monitor, Observed};
pub use replay::{Auditor, Flow};
pub use report::{Anomaly, AnomalyKind, BoxStatus, BoxSummary, IssuerSummary, Report, SeriesSummary};
