//! Coverage marks: counters of the branches of the engine that matter for
//! safety and liveness (as TigerBeetle's simulator does). The node exports
//! them as metrics; the simulator's seed sweep fails when its default seeds
//! never reach one of them, so every production path is a path some seed took.

/// How often each branch was taken.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// WAL records replayed at start (recovery after a crash or power loss).
    pub wal_replayed: u64,
    /// Consensus messages dropped as duplicates before the WAL.
    pub duplicate_dropped: u64,
    /// Consensus messages refused as undecodable or over the size bound.
    pub refused_undecodable: u64,
    /// Consensus messages refused for a bad signature or a signer outside the set.
    pub refused_signature: u64,
    /// Proposals refused because their transactions do not match their header.
    pub refused_body_mismatch: u64,
    /// Fresh proposals whose block time was outside the timeliness window (prevote nil).
    pub proposal_untimely: u64,
    /// Decided blocks committed from the validated-block cache (no second execution).
    pub validated_cache_hit: u64,
    /// Blocks validated with the encodings and ids of their body check on arrival.
    pub validated_checked_body: u64,
    /// Own messages re-published because the height and round did not move.
    pub rebroadcast_when_stuck: u64,
    /// Prevotes of a polka behind our lock or valid value relayed.
    pub polka_relayed: u64,
    /// Signatures the sign guard refused (rule S1).
    pub sign_refused: u64,
    /// Block-sync requests made.
    pub sync_requested: u64,
    /// Blocks committed by block sync.
    pub sync_applied: u64,
    /// Sync answers refused: undecodable item.
    pub sync_refused_undecodable: u64,
    /// Sync answers refused: an item for another chain, or heights not following the tip
    /// (reordered, skipped).
    pub sync_refused_out_of_order: u64,
    /// Sync answers refused: the commit does not verify.
    pub sync_refused_commit: u64,
    /// Sync answers refused: a body that does not match its quorum-signed header.
    pub sync_refused_body: u64,
    /// Pending transactions our proposal left out (they became invalid).
    pub txs_left_out: u64,
    /// Equivocations seen.
    pub equivocations: u64,
    /// Signature checks skipped because the verify-once memo knew the exact
    /// bytes (shared with admission: hits there count too).
    pub memo_hits: u64,
}

impl Marks {
    /// Every mark with its name, for metrics and the coverage check.
    pub fn named(&self) -> [(&'static str, u64); 20] {
        [
            ("wal_replayed", self.wal_replayed),
            ("duplicate_dropped", self.duplicate_dropped),
            ("refused_undecodable", self.refused_undecodable),
            ("refused_signature", self.refused_signature),
            ("refused_body_mismatch", self.refused_body_mismatch),
            ("proposal_untimely", self.proposal_untimely),
            ("validated_cache_hit", self.validated_cache_hit),
            ("validated_checked_body", self.validated_checked_body),
            ("rebroadcast_when_stuck", self.rebroadcast_when_stuck),
            ("polka_relayed", self.polka_relayed),
            ("sign_refused", self.sign_refused),
            ("sync_requested", self.sync_requested),
            ("sync_applied", self.sync_applied),
            ("sync_refused_undecodable", self.sync_refused_undecodable),
            ("sync_refused_out_of_order", self.sync_refused_out_of_order),
            ("sync_refused_commit", self.sync_refused_commit),
            ("sync_refused_body", self.sync_refused_body),
            ("txs_left_out", self.txs_left_out),
            ("equivocations", self.equivocations),
            ("memo_hits", self.memo_hits),
        ]
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &Marks) {
        let mut sums = self.named();
        for (sum, (_, n)) in sums.iter_mut().zip(other.named()) {
            sum.1 += n;
        }
        let [a, b, c, d, e, f, g, g2, h, i, j, k, l, m, n, o, p, q, r, t] = sums.map(|(_, v)| v);
        *self = Marks {
            wal_replayed: a,
            duplicate_dropped: b,
            refused_undecodable: c,
            refused_signature: d,
            refused_body_mismatch: e,
            proposal_untimely: f,
            validated_cache_hit: g,
            validated_checked_body: g2,
            rebroadcast_when_stuck: h,
            polka_relayed: i,
            sign_refused: j,
            sync_requested: k,
            sync_applied: l,
            sync_refused_undecodable: m,
            sync_refused_out_of_order: n,
            sync_refused_commit: o,
            sync_refused_body: p,
            txs_left_out: q,
            equivocations: r,
            memo_hits: t,
        };
    }
}
