//! # keepsake (the node)
//!
//! The `keepsake` binary and the library behind it: configuration, key files,
//! the mempool, the block-production engine, the JSON-RPC server with
//! `/health` and `/metrics`, and the command line. Everything below this crate
//! (types, ledger, store, rpc) knows nothing of tokio tasks, config files or
//! the CLI.
//!
//! Good starting points: [`node::start`] (wiring; tests call it in-process on
//! port 0), [`executor`] (performs the effects of the consensus engine,
//! `keepsake_engine`, on tokio), [`net`] (network events in and out; admission
//! is `keepsake_engine::admit`), [`cli`] (every subcommand).

#![warn(missing_docs)]

pub mod audit;
pub mod certificates;
pub mod cli;
pub mod config;
pub mod dates;
pub mod dev;
pub mod executor;
pub mod heap;
pub mod init;
pub mod keyfile;
pub mod life_info;
pub mod membership;
pub mod metrics;
pub mod migrate;
pub mod net;
pub mod node;
pub mod ops;
pub mod repair;
pub mod request_ids;
pub mod rpc_client;
pub mod rpc_server;
pub mod shared;
pub mod sync;
pub mod testnet;
pub mod wal;

/// The unit tests run on the `keepsake` binary's allocator, so that the heap
/// gauges of `/metrics` are tested on the real thing.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The node's version (the `keepsake` crate's); `info.version` of the OpenRPC document.
pub const NODE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The default JSON-RPC port.
pub const DEFAULT_RPC_PORT: u16 = 8645;
/// The default RPC URL of CLI commands (`--rpc`, or `KEEPSAKE_RPC`).
pub const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8645";
