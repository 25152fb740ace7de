//! # keepsake-wan
//!
//! Keepsake validators as separate hosts, with a WAN between them, on one
//! Linux machine:
//!
//! - [`netns`]: one network namespace per host, joined to the root namespace
//!   by one point-to-point veth; no route between hosts. Unique names per
//!   process, deleted on drop (and stale ones of killed runs at start).
//! - [`relay`]: a delaying TCP relay in the root namespace, the only path
//!   between hosts. The kernel needs no `netem`: each chunk is held for the
//!   pair's one-way delay plus jitter, in order.
//! - [`process`]: programs started in a namespace (`ip netns exec`), killed on drop.
//! - [`Wan`]: the consortium, `keepsake testnet` homes rewritten for the
//!   namespace addresses, a `keepsake start` process per host, partitions
//!   (`ip link set DEV down`) and newcomers ([`Wan::add_host`]).
//!
//! Needs root and `ip` (iproute2). Used by `tests/tests/wan.rs` and
//! `keepsake-bench wan`; see docs/operations.md ("Validators on separate
//! hosts") and docs/benchmarks.md ("Finality across a WAN").

#![warn(missing_docs)]

mod consortium;
pub mod netns;
pub mod process;
pub mod relay;

pub use consortium::{
    NODE_LOG_ENV, P2P_PORT, RELAY_PORT_BASE, RPC_PORT, Role, Wan, WanHost, WanSpec, netns_available,
};
