//! Following checkpoints (`keepsake audit --follow`): the monitor of
//! RFC 9162 §8.2, with quorum-signed checkpoints instead of signed tree heads.
//!
//! Every checkpoint shown to the monitor, by any source, must carry a valid
//! commit of the genesis validators. Among verified checkpoints:
//! - two different headers at one height is a **fork**: more than a third of
//!   the voting power signed both (Tendermint cannot fork otherwise);
//! - a header whose `prev_hash` is not the hash of the verified header below
//!   it is a fork one height lower;
//! - a newer checkpoint from a source whose log is not consistent with the
//!   last checkpoint seen from that source (RFC 9162 consistency proof) is a
//!   **rewrite**: the node dropped or changed logged entries;
//! - a source whose height goes down is reported as a regression (a node
//!   restored from an old backup, or one serving another history).
//!
//! Memory: about 100 bytes per height seen, and one header per source.

use std::collections::BTreeMap;
use std::fmt;

use keepsake_types::{BlockHash, ChainId, Checkpoint, Genesis, Hash32, Header, ValidatorSet, merkle};
use serde::{Deserialize, Serialize};

/// Something the monitor must raise: the chain cannot be trusted as shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
pub enum Alert {
    /// A checkpoint whose commit does not verify against the genesis.
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
    source: String,
}

/// The checkpoint monitor.
#[derive(Debug)]
pub struct Monitor {
    chain_id: ChainId,
    validators: ValidatorSet,
    /// The verified header per height, as first seen.
    seen: BTreeMap<u64, Seen>,
    /// The latest verified header per source.
    latest: BTreeMap<String, Header>,
}

impl Monitor {
    /// A monitor of the chain of `genesis`.
    pub fn new(genesis: &Genesis) -> Self {
        Monitor {
            chain_id: genesis.chain_id.clone(),
            validators: genesis.validator_set(),
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
        checkpoint.commit.verify(header, &self.validators).map_err(|e| bad(e.code(), e.to_string()))?;
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
            self.seen.insert(height, Seen { hash, prev_hash: header.prev_hash, source: source.to_string() });
        }
        if outcome == Observed::Advanced {
            self.latest.insert(source.to_string(), header.clone());
        }
        Ok(outcome)
    }
}
