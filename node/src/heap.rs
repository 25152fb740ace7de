//! The heap gauges of `/metrics`, read from jemalloc, the allocator of the
//! `keepsake` binary (`node/src/main.rs`; why jemalloc: docs/ARCHITECTURE.md,
//! "Memory allocator").
//!
//! The library does not choose the allocator of the program that links it: a
//! test or a benchmark that runs a node in its own process keeps its own. So
//! the binary says at start that jemalloc is its global allocator
//! ([`jemalloc_is_global`]); until then [`stats`] answers `None` and `/metrics`
//! leaves the gauges out rather than report the statistics of an unused heap.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

static JEMALLOC_IS_GLOBAL: AtomicBool = AtomicBool::new(false);

/// Declares that the program's `#[global_allocator]` is
/// `tikv_jemallocator::Jemalloc`, so its statistics describe this process.
pub fn jemalloc_is_global() {
    JEMALLOC_IS_GLOBAL.store(true, Relaxed);
}

/// What jemalloc reports, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeapStats {
    /// Allocated by the program and not freed (`stats.allocated`).
    pub allocated: u64,
    /// In pages that jemalloc holds resident: the program's allocations,
    /// jemalloc's metadata and freed pages not yet returned (`stats.resident`).
    pub resident: u64,
}

/// jemalloc's current figures (refreshed by advancing its statistics epoch:
/// a few microseconds), or `None` where jemalloc is not this process's
/// allocator or cannot tell.
pub fn stats() -> Option<HeapStats> {
    if !JEMALLOC_IS_GLOBAL.load(Relaxed) {
        return None;
    }
    tikv_jemalloc_ctl::epoch::advance().ok()?;
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().ok()?;
    let resident = tikv_jemalloc_ctl::stats::resident::read().ok()?;
    Some(HeapStats { allocated: allocated as u64, resident: resident as u64 })
}
