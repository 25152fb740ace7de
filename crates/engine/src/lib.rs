//! # keepsake-engine
//!
//! The whole consensus driver of a Keepsake validator as a pure function:
//! `Engine::handle(store, now_ms, Event) -> Vec<Effect>`. No tokio, no sled,
//! no libp2p, no clock (time enters as `now_ms`), no randomness. The node
//! executes the effects on tokio (`node/src/consensus/executor.rs`); the
//! simulator (`crates/sim`) hosts the *same* engine over a simulated network,
//! clock and disk, so every production path is a path the seeds exercise.
//!
//! ## Guided tour
//!
//! - [`Engine`] (`engine.rs`): the Tendermint core ([`keepsake_consensus`]),
//!   the sign guard, the validated-block cache, re-broadcast when stuck, the
//!   duplicate-message set, block-sync bookkeeping and the timeliness check of
//!   proposals (PBTS, [`ClockBounds`]).
//! - [`Event`] / [`Effect`] (`effect.rs`): what goes in and out, and the
//!   **ordering rules** the host must keep (WAL, fsync, sign-state, then publish).
//! - [`ChainStore`] (`chain.rs`) and [`BlockRules`] (`rules.rs`): how storage
//!   and the ledger enter. [`MemoryChain`] is the in-memory store.
//! - [`admit`] and [`mempool`]: the one admission path of RPC and gossip
//!   transactions, and the pool they enter.
//! - [`Marks`] (`marks.rs`): coverage marks of the branches that matter.
//!
//! ## Obligations of the host
//!
//! Perform the effects of one call in order, each completed before the next;
//! on the first failure, halt (perform nothing after it). On `Err` from
//! `handle`, halt and perform none of that call's effects. Feed
//! [`Event::Tick`] every [`EngineConfig::tick_ms`].

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod admit;
mod chain;
mod effect;
mod engine;
mod error;
mod marks;
mod memo;
pub mod mempool;
mod rules;
pub mod txgossip;

pub use chain::{ChainStore, MemoryChain};
pub use effect::{Effect, Event, GossipVerdict};
pub use engine::{
    ClockBounds, Engine, EngineConfig, FEED_INPUTS_MAX, PREVOTES_KEPT_MAX, SEEN_MESSAGES_MAX,
    SYNC_TIMEOUT_MS, message_bytes_max, serve_blocks,
};
pub use error::{EngineError, StoreFault};
pub use marks::Marks;
pub use memo::VerifiedSet;
pub use mempool::{AdmitError, Mempool, MempoolLimits};
pub use rules::{BlockRules, LedgerRules};
pub use txgossip::BatchAdmission;
