//! # keepsake-sim
//!
//! A deterministic simulator in the manner of TigerBeetle's VOPR: the
//! **production** consensus driver ([`keepsake_engine::Engine`], with the real
//! Tendermint core and the real ledger code) of N validators runs in one
//! process, over a simulated network, clock and disk, with every fault drawn
//! from one seed. A failing seed prints a command that replays it exactly.
//!
//! ## Guided tour
//!
//! 1. [`Scenario::from_seed`] (`scenario.rs`) turns a seed into a run: up to
//!    `f = (n - 1) / 3` Byzantine validators, each with an [`Attack`]
//!    (equivocation; a proposal carrying a transfer; a forged transaction
//!    signature; a forged proposal signature; blocks stamped a year ahead;
//!    lying block-sync answers), network delays (which reorder), loss,
//!    duplication, corruption, clock skew, maybe a partition that heals,
//!    crashes and restarts of honest validators (clean, or a power loss —
//!    possibly in the middle of a call's effects — with torn or stale
//!    sign-states), and validator-set changes racing all of it
//!    ([`SetChange`]: add a host running as an observer, sometimes while it is
//!    down; remove; set a power; rotate a key, the operator restarting the
//!    node with the new one), each within the fault budget of the set it
//!    makes ([`Scenario::within_fault_budget`]). [`Scenario::stable_ms`] is
//!    when the partition has healed and every crashed validator is back; from
//!    then on nothing is lost.
//! 2. `world.rs` is the discrete-event machinery: a queue ordered by
//!    (simulated ms, sequence number), the network model, the counters.
//!    No real clock, no threads, no hash-map iteration.
//!    `sim.rs` also holds the governors' client, which submits the planned
//!    set changes in order (each once the previous one governs).
//! 3. `host.rs` is one node (validator or observer): the engine plus a host that performs its
//!    effects in order, as `node/src/executor.rs` does on tokio, over a disk
//!    that survives crashes (chain store, WAL, sign-state, each losing what
//!    was not fsynced on power loss). It holds no consensus logic.
//!    `byzantine.rs` holds the test-only wrappers around the honest engine:
//!    attacks and deliberately [`Broken`] engines.
//! 4. `check.rs` holds the properties checked on every seed and the
//!    [`Violation`] each failure becomes: agreement, validity (ledger rules
//!    and explicitly no transfer), commits and headers of the set in force at
//!    each height, signatures only by members of that set, no double-sign by
//!    an honest validator across all its lives, progress after the network is
//!    stable, block times bounded by honest clocks, no engine fault.
//! 5. [`run`] / [`run_seed`] (`sim.rs`) drive it all and return a [`SimReport`],
//!    with the engines' coverage marks and what the set changes did
//!    ([`MembershipStats`]).
//!
//! ## Running it
//!
//! ```text
//! cargo test -p keepsake-sim                              # 500 seeds x {4, 7} validators
//! KEEPSAKE_SIM_SEEDS=20000 cargo test -p keepsake-sim --release
//! KEEPSAKE_SIM_SEED=42 KEEPSAKE_SIM_VALIDATORS=7 cargo test -p keepsake-sim --release -- replay --nocapture
//! KEEPSAKE_SIM_TRACE=1 KEEPSAKE_SIM_SEED=42 cargo test -p keepsake-sim --release -- replay --nocapture  # every core input/output
//! ```
//!
//! `KEEPSAKE_SIM_SEED_BASE` shifts the sweep to other seeds.
//!
//! ```
//! let report = keepsake_sim::run_seed(1, 4).expect("every property holds");
//! assert!(report.min_height >= report.target_height);
//! ```

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod byzantine;
mod check;
mod host;
mod rng;
mod scenario;
mod sim;
mod world;

pub use check::Violation;
pub use rng::Rng;
pub use scenario::{
    Attack, Broken, Crash, NetworkModel, Partition, PlannedChange, Role, Scenario, SetChange, host_key,
};
pub use sim::{SimReport, failure_report, run, run_seed, run_traced};
pub use world::{MembershipStats, Stats};
