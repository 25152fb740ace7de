//! Following checkpoints (`keepsake audit --follow`): the monitor of
//! RFC 9162 §8.2, with quorum-signed checkpoints instead of signed tree heads.
//!
//! Every checkpoint shown to the monitor, by any source, must carry a valid
//! commit of the validator set governing its height. The monitor starts with
//! the genesis set and learns later sets only from their proofs
//! ([`SetTransition`]s, checked by [`ValidatorSchedule::follow`] from the
//! genesis alone, [`Monitor::learn`]) or from the auditor's own replay
//! ([`Monitor::adopt`]); a node's word about its validators is never taken.
//! A checkpoint whose `validators_hash` is not the set the monitor knows for
//! its height ([`Monitor::knows_set_of`]) is refused until a proof of the
//! change arrives. Among verified checkpoints:
//! - two different headers at one height is a **fork**: more than a third of
//!   the voting power signed both (Tendermint cannot fork otherwise);
//! - a header whose `prev_hash` is not the hash of the verified header below
//!   it is a fork one height lower;
//! - a newer checkpoint from a source whose log is not consistent with the
//!   last checkpoint seen from that source (RFC 9162 consistency proof) is a
//!   **rewrite**: the node dropped or changed logged entries;
//! - a source whose height goes down is reported as a regression (a node
//!   restored from an old backup, or one serving another history);
//! - a set transition that does not verify is a **bad transition**, and two
//!   verified transitions that make different sets are one too (more than a
//!   third of a set's power signed both histories); a verified header,
//!   seen before a change was learnt, that carries the old set's hash at a
//!   height the new set governs is a bad checkpoint (the old set signed on
//!   after it was replaced).
//!
//! Memory: about 130 bytes per height seen, one header per source, and the
//! validator sets (one per change).

use std::collections::BTreeMap;
use std::fmt;

use keepsake_types::{
    BlockHash, ChainId, Checkpoint, Genesis, Hash32, Header, SetTransition, ValidatorSchedule, merkle,
};
use serde::{Deserialize, Serialize};

/// Something the monitor must raise: the chain cannot be trusted as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
pub enum Alert {
    /// A checkpoint whose commit does not verify against the validator set
    /// the monitor knows for its height.
    BadCheckpoint {
        /// Who showed it.
        source: String,
        /// Its height.
        height: u64,
        /// The types crate's error code.
        cause: String,
        /// Explanation.
        message: String,
    },
    /// Two quorum-signed, different headers at one height.
    Fork {
        /// The height.
        height: u64,
        /// The header seen first, and who showed it.
        first: (String, BlockHash),
        /// The conflicting header, and who showed it.
        second: (String, BlockHash),
    },
    /// A newer checkpoint whose log does not extend the older one.
    Rewrite {
        /// Who showed both.
        source: String,
        /// The older checkpoint's height.
        old_height: u64,
        /// The newer checkpoint's height.
        new_height: u64,
        /// Why the consistency proof failed.
        message: String,
    },
    /// A source now shows a lower height than it showed before.
    Regressed {
        /// Who.
        source: String,
        /// The height it showed before.
        from: u64,
        /// The height it shows now.
        to: u64,
    },
    /// A source's proofs of validator-set changes do not verify from the
    /// genesis (`cause`: the types crate's code, e.g. `InvalidTransition`),
    /// or prove a set other than one proven before (`ConflictingSets`).
    BadTransition {
        /// Who showed them.
        source: String,
        /// The error code.
        cause: String,
        /// Explanation.
        message: String,
    },
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alert::BadCheckpoint { source, height, cause, message } => {
                write!(f, "BAD CHECKPOINT from {source} at height {height} ({cause}): {message}")
            }
            Alert::Fork { height, first, second } => write!(
                f,
                "FORK at height {height}: {} shows {}, {} shows {} (both quorum-signed)",
                first.0, first.1, second.0, second.1
            ),
            Alert::Rewrite { source, old_height, new_height, message } => write!(
                f,
                "REWRITE by {source}: the log at height {new_height} does not extend the log at height {old_height}: {message}"
            ),
            Alert::Regressed { source, from, to } => {
                write!(f, "REGRESSED: {source} went from height {from} back to {to}")
            }
            Alert::BadTransition { source, cause, message } => {
                write!(f, "BAD TRANSITION from {source} ({cause}): {message}")
            }
        }
    }
}

/// What the monitor made of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Verified and new: the source's latest checkpoint moved up.
    Advanced,
    /// Verified, and already known (same hash at that height).
    Known,
}

/// A verified header, as the monitor remembers it.
#[derive(Debug)]
struct Seen {
    hash: BlockHash,
    prev_hash: BlockHash,
    validators_hash: Hash32,
    source: String,
}

/// The checkpoint monitor.
#[derive(Debug)]
pub struct Monitor {
    genesis: Genesis,
    chain_id: ChainId,
    /// The validator sets proven so far (the genesis set at first).
    schedule: ValidatorSchedule,
    /// The verified header per height, as first seen.
    seen: BTreeMap<u64, Seen>,
    /// The latest verified header per source.
    latest: BTreeMap<String, Header>,
}

impl Monitor {
    /// A monitor of the chain of `genesis`.
    pub fn new(genesis: &Genesis) -> Self {
        Monitor {
            genesis: genesis.clone(),
            chain_id: genesis.chain_id.clone(),
            schedule: ValidatorSchedule::genesis(genesis),
            seen: BTreeMap::new(),
            latest: BTreeMap::new(),
        }
    }

    /// The latest verified checkpoint header of `source`.
    pub fn latest(&self, source: &str) -> Option<&Header> {
        self.latest.get(source)
    }

    /// Number of heights with a verified header.
    pub fn heights_seen(&self) -> usize {
        self.seen.len()
    }

    /// The validator sets the monitor has proven so far.
    pub fn schedule(&self) -> &ValidatorSchedule {
        &self.schedule
    }

    /// Whether `header` carries the hash of the set the monitor knows for its
    /// height. When it does not, the caller should ask the source for the
    /// proofs of its set changes ([`Monitor::learn`]) before showing the
    /// checkpoint; without them the checkpoint is refused
    /// (`ValidatorSetMismatch`).
    pub fn knows_set_of(&self, header: &Header) -> bool {
        header.chain_id == self.chain_id
            && self.schedule.at(header.height).hash(&header.chain_id) == header.validators_hash
    }

    /// Learns the validator-set changes `transitions` shown by `source` (all
    /// of them from genesis, oldest first): they are verified with
    /// [`ValidatorSchedule::follow`] from the genesis alone, must agree with
    /// every set proven before, and may add later ones. Returns how many
    /// sets were new. Proofs that do not verify, or that contradict a set
    /// proven before, are a [`Alert::BadTransition`] and change nothing.
    pub fn learn(&mut self, source: &str, transitions: &[SetTransition]) -> Result<usize, Alert> {
        let followed =
            ValidatorSchedule::follow(&self.genesis, transitions).map_err(|e| Alert::BadTransition {
                source: source.to_string(),
                cause: e.code().to_string(),
                message: e.to_string(),
            })?;
        self.merge(source, &followed)
    }

    /// Takes the sets of a schedule the caller verified itself (the
    /// [`crate::Auditor`]'s replay of `source`, [`crate::Auditor::schedule`]),
    /// with the same checks as [`Monitor::learn`] against the sets known.
    pub fn adopt(&mut self, source: &str, schedule: &ValidatorSchedule) -> Result<usize, Alert> {
        self.merge(source, schedule)
    }

    fn merge(&mut self, source: &str, other: &ValidatorSchedule) -> Result<usize, Alert> {
        let known = self.schedule.sets();
        let theirs = other.sets();
        if let Some((ours, differs)) = known.iter().zip(theirs).find(|(a, b)| a != b) {
            return Err(Alert::BadTransition {
                source: source.to_string(),
                cause: "ConflictingSets".into(),
                message: format!(
                    "it proves a validator set {} from height {} where a set {} from height {} was proven before: \
                     both are signed by a quorum of the set before them, so that set signed two histories",
                    differs.validators.hash(&self.chain_id),
                    differs.from_height,
                    ours.validators.hash(&self.chain_id),
                    ours.from_height
                ),
            });
        }
        let Some(first_new) = theirs.get(known.len()) else { return Ok(0) };
        // Headers verified before the change was known, at heights it governs,
        // must carry the new set's hash: otherwise the old set signed them after
        // it was replaced.
        for (height, seen) in self.seen.range(first_new.from_height..) {
            let expected = other.at(*height).hash(&self.chain_id);
            if seen.validators_hash != expected {
                return Err(Alert::BadCheckpoint {
                    source: seen.source.clone(),
                    height: *height,
                    cause: "ValidatorSetMismatch".into(),
                    message: format!(
                        "its header {} carries validator set {}, but the set {expected} governs height {height} \
                         (proven by {source}): the replaced set signed on after the change took effect",
                        seen.hash, seen.validators_hash
                    ),
                });
            }
        }
        let added = theirs.len() - known.len();
        self.schedule = other.clone();
        Ok(added)
    }

    /// Observes `checkpoint` shown by `source`. When it is above the last
    /// checkpoint seen from that source, `consistency` must be the source's
    /// RFC 9162 proof from that older log to this one (`None` only for the
    /// first checkpoint of a source). The older root is the monitor's own
    /// copy, never the source's word.
    pub fn observe(
        &mut self,
        source: &str,
        checkpoint: &Checkpoint,
        consistency: Option<&[Hash32]>,
    ) -> Result<Observed, Alert> {
        self.check(source, checkpoint, consistency, false)
    }

    /// Records a block the [`crate::Auditor`] replayed from `source` (its log
    /// is verified by the replay, so no consistency proof is needed): it is
    /// checked for forks against everything seen, and becomes the source's
    /// latest checkpoint if it is above it.
    pub fn record_replayed(&mut self, source: &str, checkpoint: &Checkpoint) -> Result<Observed, Alert> {
        self.check(source, checkpoint, None, true)
    }

    fn check(
        &mut self,
        source: &str,
        checkpoint: &Checkpoint,
        consistency: Option<&[Hash32]>,
        replayed: bool,
    ) -> Result<Observed, Alert> {
        let header = &checkpoint.header;
        let height = header.height;
        let bad = |cause: &str, message: String| Alert::BadCheckpoint {
            source: source.to_string(),
            height,
            cause: cause.to_string(),
            message,
        };
        if header.chain_id != self.chain_id {
            return Err(bad("WrongChain", format!("checkpoint of chain {:?}", header.chain_id)));
        }
        let validators = self.schedule.at(height);
        checkpoint.commit.verify(header, validators).map_err(|e| {
            let from = self.schedule.sets().iter().rev().find(|s| s.from_height <= height).map_or(1, |s| s.from_height);
            bad(
                e.code(),
                format!("{e} (the monitor knows the validator set governing height {height} from height {from} on)"),
            )
        })?;
        let hash = header.hash();

        // Forks: against the verified headers at this height, below and above.
        let known = match self.seen.get(&height) {
            Some(seen) if seen.hash == hash => true,
            Some(seen) if seen.source == source => {
                return Err(Alert::Rewrite {
                    source: source.to_string(),
                    old_height: height,
                    new_height: height,
                    message: format!("it now shows header {hash} where it showed {} before", seen.hash),
                });
            }
            Some(seen) => {
                return Err(Alert::Fork {
                    height,
                    first: (seen.source.clone(), seen.hash),
                    second: (source.to_string(), hash),
                });
            }
            None => false,
        };
        if let Some(below) = height.checked_sub(1).and_then(|b| self.seen.get(&b))
            && below.hash != header.prev_hash
        {
            return Err(Alert::Fork {
                height: height - 1,
                first: (below.source.clone(), below.hash),
                second: (format!("{source} (as the parent of block {height})"), header.prev_hash),
            });
        }
        // `checked_add`: a quorum-signed header at height u64::MAX has nothing above it.
        if let Some((above_height, above)) =
            height.checked_add(1).and_then(|a| self.seen.get(&a).map(|seen| (a, seen)))
            && above.prev_hash != hash
        {
            return Err(Alert::Fork {
                height,
                first: (format!("{} (as the parent of block {above_height})", above.source), above.prev_hash),
                second: (source.to_string(), hash),
            });
        }

        // Rewrites and regressions: against this source's latest checkpoint.
        let outcome = match self.latest.get(source) {
            Some(old) if replayed && old.height >= height => Observed::Known,
            _ if replayed => Observed::Advanced,
            Some(old) if old.height > height => {
                return Err(Alert::Regressed { source: source.to_string(), from: old.height, to: height });
            }
            Some(old) if old.height == height => Observed::Known,
            Some(old) => {
                let proof = consistency.unwrap_or(&[]);
                merkle::verify_consistency(
                    old.log_size,
                    header.log_size,
                    &old.log_root,
                    &header.log_root,
                    proof,
                )
                .map_err(|e| Alert::Rewrite {
                    source: source.to_string(),
                    old_height: old.height,
                    new_height: height,
                    message: e.to_string(),
                })?;
                Observed::Advanced
            }
            None => Observed::Advanced,
        };
        if !known {
            self.seen.insert(
                height,
                Seen {
                    hash,
                    prev_hash: header.prev_hash,
                    validators_hash: header.validators_hash,
                    source: source.to_string(),
                },
            );
        }
        if outcome == Observed::Advanced {
            self.latest.insert(source.to_string(), header.clone());
        }
        Ok(outcome)
    }
}
