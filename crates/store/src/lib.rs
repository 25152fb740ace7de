//! # keepsake-store
//!
//! The node's database: the ledger state's few records (issuers, series,
//! revocations, ...) and the block-hash index in one sled 0.34.7 tree; the
//! immutable history (blocks, commits, the collectible log) in append-only,
//! checksummed files beside it; and the id index (transaction and
//! certificate ids to their place in the history), derived from the history.
//! **Committing a block** writes and fdatasyncs its history, then applies one
//! atomic sled batch; a crash in between is repaired at the next open. It is
//! the only crate that touches the data directory.
//!
//! Good starting points:
//! - [`Store::open`] — opens or creates the database, refuses one of another
//!   format ([`StoreError::SchemaMismatch`]) or chain
//!   ([`StoreError::GenesisMismatch`]), and checks that it holds whole blocks
//!   only ([`Store::check_consistency`]);
//! - [`Store::commit_block`] — the one write path, which also enforces the
//!   state-layer half of the transfer ban: certificates are insert-only
//!   ([`StoreError::HolderImmutable`]);
//! - [`ChainReader`] — the raw records of a data directory, for auditors;
//! - [`v1::V1Reader`] — the blocks of a schema-version-1 directory, for `keepsake migrate`;
//! - [`layout`] — the on-disk format, key by key and byte by byte;
//! - the [`keepsake_ledger::StateView`] and [`keepsake_types::merkle::NodeSource`]
//!   impls, through which the ledger executes blocks on the committed state,
//!   and [`Store::inclusion_proof`] / [`Store::consistency_proof`] for the RPC.
//!
//! Obligations of callers:
//! - open one [`Store`] per database path and share it (`Arc<Store>`); sled
//!   locks the path. Other data of the node (the consensus WAL) goes in
//!   [`Store::aux_tree`], never in the chain's tree;
//! - pass [`Store::commit_block`] only an execution of the block on this
//!   store's current tip ([`Store::ledger_tip`]), and only a block whose commit
//!   you verified: the store checks that block, commit and execution agree
//!   with each other and with the tip, not the commit's signatures;
//! - report a block as committed only after `commit_block` returned `Ok`;
//! - treat every error for which [`StoreError::is_rejection`] is false as a
//!   fault of the node: stop serving and building rather than carry on;
//! - `flush` is not `fsync` (sled 0.34 uses `sync_file_range`): fine for chain
//!   data, which peers can re-send; not for anything that guards against
//!   double signing.

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod error;
mod history;
mod index;
pub mod layout;
mod reader;
mod store;
pub mod v1;

pub use error::{Result, StoreError};
pub use layout::SCHEMA_VERSION;
pub use reader::ChainReader;
pub use store::{IndexStats, OPEN_LOCK_WAIT, Store};
