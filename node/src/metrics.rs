//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//! Plain atomics: cheap to update from any task, no registry dependency.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use keepsake_ledger::{LedgerError, membership};
use keepsake_store::Store;
use keepsake_types::{Genesis, PublicKey, ValidatorSchedule};

/// Every metric of the node.
#[derive(Default)]
pub struct Metrics {
    /// Latest committed height.
    pub height: AtomicU64,
    /// Blocks committed by this process.
    pub blocks_committed: AtomicU64,
    /// Transactions committed by this process.
    pub txs_committed: AtomicU64,
    /// Transactions admitted to the mempool.
    pub txs_admitted: AtomicU64,
    /// Pending transactions.
    pub mempool_txs: AtomicU64,
    /// Pending bytes.
    pub mempool_bytes: AtomicU64,
    /// Total microseconds spent storing decided blocks (one atomic write + flush each).
    pub block_store_micros_sum: AtomicU64,
    /// Equivocations seen (evidence kept).
    pub equivocations: AtomicU64,
    /// Signatures refused by the double-sign guard.
    pub sign_refusals: AtomicU64,
    /// Peer messages that failed to decode or verify.
    pub p2p_invalid: AtomicU64,
    /// Peer messages dropped because a queue was full.
    pub p2p_dropped: AtomicU64,
    /// Transaction batches this node published on the transaction topic.
    pub gossip_tx_batches_published: AtomicU64,
    /// Transactions this node gave to the transaction topic (in those batches).
    pub gossip_txs_published: AtomicU64,
    /// Transaction batches received from peers (each judged once: gossipsub drops copies).
    pub gossip_tx_batches_received: AtomicU64,
    /// Transactions decoded from those batches.
    pub gossip_txs_received: AtomicU64,
    /// Connected peers.
    pub peers: AtomicU64,
    /// Blocks stored through block sync.
    pub synced_blocks: AtomicU64,
    /// Current consensus round (0 in the normal case; higher means timeouts).
    pub consensus_round: AtomicU64,
    /// Run files of the store's id index.
    pub index_runs: AtomicU64,
    /// Bytes of memory the id index's runs keep (Bloom filters and fences).
    pub index_memory_bytes: AtomicU64,
    /// Id index entries not yet written to a run.
    pub index_memtable_entries: AtomicU64,
    /// Consensus messages the core ignored: bad signature or key outside the set.
    pub consensus_ignored_invalid: AtomicU64,
    /// ... for a height after the next one, or a round too far ahead.
    pub consensus_ignored_far_future: AtomicU64,
    /// ... for a past height or round.
    pub consensus_ignored_stale: AtomicU64,
    /// ... because the buffer for the next height was full.
    pub consensus_ignored_buffer_full: AtomicU64,
    /// Validators in the set governing the height being decided.
    pub validators: AtomicU64,
    /// Their total voting power.
    pub validators_power: AtomicU64,
    /// The first height that set governs (1: the genesis set).
    pub validator_set_from_height: AtomicU64,
    /// 1 when this node's key is in that set (it votes), else 0.
    pub validator_voting: AtomicU64,
    /// The first height of a committed set change not in force yet (0: none).
    pub validator_set_pending_from_height: AtomicU64,
    /// Active observer keys (registered, or validators that left the set).
    pub observers: AtomicU64,
    /// The consensus engine's coverage marks (exported as counters).
    engine_marks: Mutex<Vec<(&'static str, u64)>>,
    /// Rejections by stable code and stage (`admission`, `gossip`, `block`, `proposal`).
    rejections: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

impl Metrics {
    /// Replaces the exported engine marks.
    pub fn set_engine_marks(&self, marks: impl IntoIterator<Item = (&'static str, u64)>) {
        let mut kept =
            self.engine_marks.lock().expect("metrics lock is never poisoned: no panics while held");
        kept.clear();
        kept.extend(marks);
    }

    /// Counts a rejection.
    pub fn rejected(&self, stage: &'static str, code: &'static str) {
        let mut map = self.rejections.lock().expect("metrics lock is never poisoned: no panics while held");
        *map.entry((stage, code)).or_default() += 1;
    }

    /// Rejections counted so far for `(stage, code)`.
    pub fn rejections(&self, stage: &'static str, code: &'static str) -> u64 {
        let map = self.rejections.lock().expect("metrics lock is never poisoned: no panics while held");
        map.get(&(stage, code)).copied().unwrap_or(0)
    }

    /// Sets the membership gauges: the set of `schedule` governing
    /// `next_height` (the height being decided), whether `me` is in it, a
    /// later set already scheduled, and the number of active `observers`.
    pub fn set_membership(
        &self,
        schedule: &ValidatorSchedule,
        next_height: u64,
        me: &PublicKey,
        observers: u64,
    ) {
        let sets = schedule.sets();
        let i = sets.partition_point(|s| s.from_height <= next_height).saturating_sub(1);
        let Some(in_force) = sets.get(i) else { return };
        let set = &in_force.validators;
        self.validators.store(set.validators.len() as u64, Relaxed);
        self.validators_power.store(set.total_power(), Relaxed);
        self.validator_set_from_height.store(in_force.from_height, Relaxed);
        self.validator_voting.store(u64::from(set.get(me).is_some()), Relaxed);
        let pending = sets.get(i + 1).map_or(0, |s| s.from_height);
        self.validator_set_pending_from_height.store(pending, Relaxed);
        self.observers.store(observers, Relaxed);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, help: &str, kind: &str, value: &dyn std::fmt::Display| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        };
        metric("keepsake_height", "Latest committed block height.", "gauge", &self.height.load(Relaxed));
        metric(
            "keepsake_blocks_committed_total",
            "Blocks committed by this process.",
            "counter",
            &self.blocks_committed.load(Relaxed),
        );
        metric(
            "keepsake_txs_committed_total",
            "Transactions committed by this process.",
            "counter",
            &self.txs_committed.load(Relaxed),
        );
        metric(
            "keepsake_txs_admitted_total",
            "Transactions admitted to the mempool.",
            "counter",
            &self.txs_admitted.load(Relaxed),
        );
        metric("keepsake_mempool_txs", "Pending transactions.", "gauge", &self.mempool_txs.load(Relaxed));
        metric(
            "keepsake_mempool_bytes",
            "Pending transaction bytes.",
            "gauge",
            &self.mempool_bytes.load(Relaxed),
        );
        metric(
            "keepsake_equivocations_total",
            "Equivocations seen.",
            "counter",
            &self.equivocations.load(Relaxed),
        );
        metric(
            "keepsake_sign_refusals_total",
            "Signatures refused by the double-sign guard.",
            "counter",
            &self.sign_refusals.load(Relaxed),
        );
        metric(
            "keepsake_p2p_invalid_total",
            "Peer messages that failed to decode or verify.",
            "counter",
            &self.p2p_invalid.load(Relaxed),
        );
        metric(
            "keepsake_p2p_dropped_total",
            "Peer messages dropped on a full queue.",
            "counter",
            &self.p2p_dropped.load(Relaxed),
        );
        metric("keepsake_peers", "Connected peers.", "gauge", &self.peers.load(Relaxed));
        metric(
            "keepsake_synced_blocks_total",
            "Blocks stored through block sync.",
            "counter",
            &self.synced_blocks.load(Relaxed),
        );
        metric(
            "keepsake_consensus_round",
            "Current consensus round.",
            "gauge",
            &self.consensus_round.load(Relaxed),
        );
        metric("keepsake_index_runs", "Run files of the id index.", "gauge", &self.index_runs.load(Relaxed));
        metric(
            "keepsake_index_memory_bytes",
            "Bytes of memory the id index's runs keep (Bloom filters and fences).",
            "gauge",
            &self.index_memory_bytes.load(Relaxed),
        );
        metric(
            "keepsake_index_memtable_entries",
            "Id index entries held in memory, not yet written to a run.",
            "gauge",
            &self.index_memtable_entries.load(Relaxed),
        );
        metric(
            "keepsake_validators",
            "Validators in the set governing the height being decided.",
            "gauge",
            &self.validators.load(Relaxed),
        );
        metric(
            "keepsake_validators_power",
            "Total voting power of the set governing the height being decided.",
            "gauge",
            &self.validators_power.load(Relaxed),
        );
        metric(
            "keepsake_validator_set_from_height",
            "First height governed by the validator set in force (1: the genesis set).",
            "gauge",
            &self.validator_set_from_height.load(Relaxed),
        );
        metric(
            "keepsake_validator_voting",
            "1 when this node's key is in the validator set governing the height being decided, else 0.",
            "gauge",
            &self.validator_voting.load(Relaxed),
        );
        metric(
            "keepsake_validator_set_pending_from_height",
            "First height of a committed validator-set change not in force yet (0: none).",
            "gauge",
            &self.validator_set_pending_from_height.load(Relaxed),
        );
        metric(
            "keepsake_observers",
            "Active observer keys (registered, or validators that left the set).",
            "gauge",
            &self.observers.load(Relaxed),
        );
        if let Some(heap) = crate::heap::stats() {
            metric(
                "keepsake_heap_allocated_bytes",
                "Heap bytes allocated by the node and not freed (jemalloc stats.allocated).",
                "gauge",
                &heap.allocated,
            );
            metric(
                "keepsake_heap_resident_bytes",
                "Bytes the allocator holds resident, freed pages not yet returned included (jemalloc stats.resident).",
                "gauge",
                &heap.resident,
            );
        }
        let micros = self.block_store_micros_sum.load(Relaxed);
        metric(
            "keepsake_block_store_seconds_sum",
            "Time spent storing decided blocks (divide by keepsake_blocks_committed_total for the mean).",
            "counter",
            &format_args!("{}.{:06}", micros / 1_000_000, micros % 1_000_000),
        );
        let _ = writeln!(
            out,
            "# HELP keepsake_consensus_ignored_total Consensus messages ignored by the core, by reason.\n# TYPE keepsake_consensus_ignored_total counter"
        );
        for (reason, value) in [
            ("invalid", &self.consensus_ignored_invalid),
            ("far_future", &self.consensus_ignored_far_future),
            ("stale", &self.consensus_ignored_stale),
            ("buffer_full", &self.consensus_ignored_buffer_full),
        ] {
            let _ = writeln!(
                out,
                "keepsake_consensus_ignored_total{{reason=\"{reason}\"}} {}",
                value.load(Relaxed)
            );
        }
        for (name, help, published, received) in [
            (
                "keepsake_gossip_tx_batches_total",
                "Transaction batches (gossip messages of the transaction topic) published and received.",
                &self.gossip_tx_batches_published,
                &self.gossip_tx_batches_received,
            ),
            (
                "keepsake_gossip_txs_total",
                "Transactions given to transaction gossip, and decoded from received batches.",
                &self.gossip_txs_published,
                &self.gossip_txs_received,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (direction, value) in [("published", published), ("received", received)] {
                let _ = writeln!(out, "{name}{{direction=\"{direction}\"}} {}", value.load(Relaxed));
            }
        }
        let _ = writeln!(
            out,
            "# HELP keepsake_txs_rejected_total Rejected transactions by stage and stable code."
        );
        let _ = writeln!(out, "# TYPE keepsake_txs_rejected_total counter");
        let map = self.rejections.lock().expect("metrics lock is never poisoned: no panics while held");
        for ((stage, code), n) in map.iter() {
            let _ = writeln!(out, "keepsake_txs_rejected_total{{stage=\"{stage}\",code=\"{code}\"}} {n}");
        }
        drop(map);
        let _ = writeln!(
            out,
            "# HELP keepsake_engine_branch_total Times the consensus engine took each branch that matters (coverage marks)."
        );
        let _ = writeln!(out, "# TYPE keepsake_engine_branch_total counter");
        let marks = self.engine_marks.lock().expect("metrics lock is never poisoned: no panics while held");
        for (mark, n) in marks.iter() {
            let _ = writeln!(out, "keepsake_engine_branch_total{{branch=\"{mark}\"}} {n}");
        }
        out
    }
}

/// Updates the membership gauges of `metrics` from the committed state:
/// the set governing `committed_height + 1` (what the node decides next),
/// whether `me` votes in it, and the active observers. Cheap (a few records):
/// `/metrics` calls it on every scrape (`ops.rs`), so the gauges are never
/// older than the committed state.
pub fn membership_gauges(
    metrics: &Metrics,
    store: &Store,
    genesis: &Genesis,
    me: &PublicKey,
    committed_height: u64,
) -> Result<(), LedgerError> {
    let schedule = membership::schedule(store, genesis)?;
    let observers = store
        .observers()
        .map_err(|e| LedgerError::State(e.to_string()))?
        .iter()
        .filter(|(_, o)| o.active)
        .count();
    metrics.set_membership(&schedule, committed_height.saturating_add(1), me, observers as u64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.height.store(7, Relaxed);
        m.block_store_micros_sum.store(1_500_000, Relaxed);
        m.rejected("admission", "TransferForbidden");
        m.rejected("admission", "TransferForbidden");
        m.gossip_tx_batches_received.store(3, Relaxed);
        m.gossip_txs_received.store(1500, Relaxed);
        let text = m.render();
        assert!(text.contains("keepsake_gossip_tx_batches_total{direction=\"received\"} 3\n"), "{text}");
        assert!(text.contains("keepsake_gossip_tx_batches_total{direction=\"published\"} 0\n"), "{text}");
        assert!(text.contains("keepsake_gossip_txs_total{direction=\"received\"} 1500\n"), "{text}");
        assert!(text.contains("keepsake_height 7\n"), "{text}");
        assert!(text.contains("keepsake_block_store_seconds_sum 1.500000\n"), "{text}");
        assert!(
            text.contains("keepsake_txs_rejected_total{stage=\"admission\",code=\"TransferForbidden\"} 2\n")
        );
    }

    #[test]
    fn membership_gauges_follow_the_schedule() {
        use keepsake_types::{Keypair, ScheduledSet, Validator, ValidatorSet};
        let key = |n: u8| Keypair::from_seed([n; 32]).public();
        let set = |keys: &[u8], power: u64| ValidatorSet {
            validators: keys
                .iter()
                .map(|&k| Validator { public_key: key(k), power, name: format!("v{k}") })
                .collect(),
        };
        let genesis = Genesis {
            chain_id: "keepsake-test".parse().unwrap(),
            genesis_time_ms: 1,
            validators: set(&[1, 2, 3, 4], 1).validators,
            governors: vec![key(9)],
            governance_threshold: 1,
            params: Default::default(),
        };
        // Validator 4 removed by a change committed at 8 (in force from 10);
        // validator 1's power raised to 3 at 12 (in force from 14).
        let schedule = ValidatorSchedule::with_sets(
            &genesis,
            [
                ScheduledSet { from_height: 10, validators: set(&[1, 2, 3], 1) },
                ScheduledSet { from_height: 14, validators: set(&[1, 2, 3], 3) },
            ],
        );
        let m = Metrics::default();
        let gauges = |m: &Metrics| {
            let text = m.render();
            [
                "keepsake_validators",
                "keepsake_validators_power",
                "keepsake_validator_set_from_height",
                "keepsake_validator_voting",
                "keepsake_validator_set_pending_from_height",
                "keepsake_observers",
            ]
            .map(|name| sample(&text, name).unwrap_or_else(|| panic!("{name} in\n{text}")))
        };
        m.set_membership(&schedule, 9, &key(4), 0);
        assert_eq!(gauges(&m), [4, 4, 1, 1, 10, 0], "before the removal: 4 votes, a change is pending");
        m.set_membership(&schedule, 10, &key(4), 1);
        assert_eq!(gauges(&m), [3, 3, 10, 0, 14, 1], "from 10: 4 no longer votes, it is an observer");
        m.set_membership(&schedule, 14, &key(1), 1);
        assert_eq!(gauges(&m), [3, 9, 14, 1, 0, 1], "from 14: nothing pending");
    }

    /// The value of the sample line `name value` in `text`.
    fn sample(text: &str, name: &str) -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn heap_gauges_are_rendered_with_plausible_values() {
        // This test binary's allocator is jemalloc (lib.rs, cfg(test)), as the keepsake binary's.
        crate::heap::jemalloc_is_global();
        let kept = std::hint::black_box(vec![7u8; 4 << 20]);
        let text = Metrics::default().render();
        let allocated = sample(&text, "keepsake_heap_allocated_bytes").expect("allocated gauge");
        let resident = sample(&text, "keepsake_heap_resident_bytes").expect("resident gauge");
        assert!(text.contains("# TYPE keepsake_heap_allocated_bytes gauge\n"), "{text}");
        assert!(text.contains("# TYPE keepsake_heap_resident_bytes gauge\n"), "{text}");
        assert!(allocated >= kept.len() as u64, "{allocated} < the 4 MiB still held\n{text}");
        assert!(resident >= allocated, "resident {resident} < allocated {allocated}");
        assert!(resident < 1 << 40, "{resident}");
        drop(kept);
    }
}
