//! # keepsake-sim
//!
//! A deterministic simulator in the manner of TigerBeetle's VOPR: the **real**
//! consensus core ([`keepsake_consensus::Consensus`]) and the **real** ledger
//! code (`build_block`, `validate_block`, `MemoryState::commit`) of N
//! validators run in one process, over a simulated network and clock, with
//! every fault drawn from one seed. A failing seed prints a command that
//! replays it exactly.
//!
//! ## Guided tour
//!
//! 1. [`Scenario::from_seed`] (`scenario.rs`) turns a seed into a run: up to
//!    `f = (n - 1) / 3` Byzantine validators, each with an [`Attack`]
//!    (equivocation; a proposal carrying a transfer; a forged transaction
//!    signature; a forged proposal signature), network delays (which reorder),
//!    loss, duplication, maybe a partition that heals, crashes and restarts of
//!    honest validators. [`Scenario::stable_ms`] is when the partition has healed
//!    and every crashed validator is back; from then on nothing is lost.
//! 2. `world.rs` is the discrete-event machinery: a queue ordered by
//!    (simulated ms, sequence number), the network model, the counters.
//!    No real clock, no threads, no hash-map iteration.
//! 3. `node.rs` is one validator: the core plus a driver that does what
//!    `node/src/driver.rs` does — build and validate blocks with the ledger,
//!    the sign guard and the WAL before every signature, broadcast, feed our
//!    own messages back, commit decided blocks, gossip catch-up (when stuck,
//!    re-send our messages of the height — also those replayed from the WAL —
//!    and relay the prevotes that justify our lock, as Tendermint's gossip
//!    assumption requires) and block sync (commit verified, then every ledger
//!    rule). A crash keeps only the disk: committed blocks, the
//!    WAL (maybe minus its unsynced tail) and the sign-state; a restart replays
//!    the WAL into a fresh core. Byzantine validators wrap the same driver.
//! 4. `check.rs` holds the properties checked on every seed and the
//!    [`Violation`] each failure becomes: agreement, validity (ledger rules
//!    and explicitly no transfer), commits that verify, no double-sign by an
//!    honest validator across all its lives, progress after the network is
//!    stable.
//! 5. [`run`] / [`run_seed`] (`sim.rs`) drive it all and return a [`SimReport`].
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

#![forbid(unsafe_code)]
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
pub use scenario::{Attack, Broken, Crash, NetworkModel, Partition, Role, Scenario};
pub use sim::{SimReport, failure_report, run, run_seed, run_traced};
pub use world::Stats;
