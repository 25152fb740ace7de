//! The properties checked on every seed, and the [`Violation`] each failure
//! is reported as.
//!
//! | property | checked | violation |
//! |---|---|---|
//! | agreement: no two different blocks decided at one height | every decision and every synced block of an audited validator, against all others | [`Violation::Agreement`] |
//! | validity: no invalid block decided | a decided block passes `validate_block` on the deciding validator's state before it is committed | [`Violation::InvalidBlockDecided`] |
//! | validity: no transfer, ever | every decided block is searched for `TxBody::Transfer` explicitly (independently of the ledger rules) | [`Violation::TransferDecided`] |
//! | a decision is final | `Commit::verify` against the genesis validator set | [`Violation::InvalidCommit`] |
//! | no double-sign by an honest validator | every message an audited validator signs, across all its lives, indexed by (height, round, step) | [`Violation::DoubleSign`] |
//! | progress once the network is stable | every audited validator reaches the target height within the liveness budget | [`Violation::NoProgress`] |
//! | block time bounded by honest clocks | a decided block's time is at most true time + the largest clock offset + the precision | [`Violation::BlockTimeOutOfBounds`] |
//! | the engine never stops on its own | an audited engine returning an error (a fault, or a decided block it finds invalid) | [`Violation::EngineFault`] |
//!
//! Decisions and signatures are recorded where they leave the validator: a
//! block when the engine writes it to the chain store, a signature when its
//! message is published. So a power loss between two effects of one call
//! shows exactly what the rest of the world saw.

use std::collections::BTreeMap;
use std::fmt;

use keepsake_consensus::{SignedStep, Step};
use keepsake_types::{BlockHash, Hash32};

/// A property that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// Two audited validators decided different blocks at one height.
    Agreement {
        /// The height.
        height: u64,
        /// The validator that decided first.
        first_node: usize,
        /// Its block.
        first: BlockHash,
        /// The validator that decided differently.
        node: usize,
        /// Its block.
        other: BlockHash,
    },
    /// An audited validator decided (or accepted by sync) a block that breaks
    /// a ledger rule.
    InvalidBlockDecided {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// The ledger's rejection.
        reason: String,
    },
    /// A decided block contains a transfer.
    TransferDecided {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
    },
    /// The core decided with a commit that does not verify.
    InvalidCommit {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// Why it does not verify.
        reason: String,
    },
    /// An audited validator signed two different messages for one
    /// (height, round, step).
    DoubleSign {
        /// The validator.
        node: usize,
        /// Height.
        height: u64,
        /// Round.
        round: u32,
        /// Step.
        step: Step,
        /// Digest of the first message.
        first: Hash32,
        /// Digest of the second.
        second: Hash32,
    },
    /// After the network stabilised, some audited validator did not reach the
    /// target height in time.
    NoProgress {
        /// The height every audited validator had to reach.
        target_height: u64,
        /// The committed height of each validator at the deadline.
        heights: Vec<u64>,
        /// The round each live validator was in.
        rounds: Vec<Option<u32>>,
        /// The deadline (simulated ms).
        deadline_ms: u64,
    },
    /// The run exceeded its event budget (a livelock or a message storm).
    EventLimit {
        /// Events processed.
        events: u64,
        /// Simulated time reached.
        at_ms: u64,
    },
    /// An audited validator decided a block stamped later than any honest
    /// clock could have said.
    BlockTimeOutOfBounds {
        /// The validator.
        node: usize,
        /// The height.
        height: u64,
        /// The block's time (ms since the epoch).
        block_time_ms: u64,
        /// The latest time an honest clock could show then.
        latest_ms: u64,
    },
    /// An audited validator's engine stopped with an error.
    EngineFault {
        /// The validator.
        node: usize,
        /// The error.
        reason: String,
    },
    /// The ledger failed as a program (`LedgerError::State` / `Invariant`)
    /// rather than rejecting a block: a bug in the ledger or in the engine.
    LedgerFault {
        /// The validator.
        node: usize,
        /// The error.
        reason: String,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::Agreement { height, first_node, first, node, other } => write!(
                f,
                "AGREEMENT: at height {height} validator {first_node} decided {first} but validator {node} decided {other}"
            ),
            Violation::InvalidBlockDecided { node, height, reason } => {
                write!(f, "VALIDITY: validator {node} decided an invalid block at height {height}: {reason}")
            }
            Violation::TransferDecided { node, height } => {
                write!(
                    f,
                    "VALIDITY: validator {node} decided a block containing a transfer at height {height}"
                )
            }
            Violation::InvalidCommit { node, height, reason } => {
                write!(
                    f,
                    "COMMIT: validator {node} decided height {height} with a commit that does not verify: {reason}"
                )
            }
            Violation::DoubleSign { node, height, round, step, first, second } => write!(
                f,
                "DOUBLE-SIGN: honest validator {node} signed two different {step:?} messages at height {height} round {round} ({first} then {second})"
            ),
            Violation::NoProgress { target_height, heights, rounds, deadline_ms } => write!(
                f,
                "PROGRESS: by {deadline_ms} ms not every honest validator reached height {target_height}: committed heights {heights:?}, rounds {rounds:?}"
            ),
            Violation::EventLimit { events, at_ms } => {
                write!(f, "EVENT LIMIT: {events} events processed by {at_ms} ms")
            }
            Violation::BlockTimeOutOfBounds { node, height, block_time_ms, latest_ms } => write!(
                f,
                "BLOCK TIME: validator {node} decided height {height} stamped {block_time_ms}, later than any honest clock ({latest_ms})"
            ),
            Violation::EngineFault { node, reason } => {
                write!(f, "ENGINE FAULT at validator {node}: {reason}")
            }
            Violation::LedgerFault { node, reason } => {
                write!(f, "LEDGER FAULT at validator {node}: {reason}")
            }
        }
    }
}

impl std::error::Error for Violation {}

/// Everything the checks remember across the run: decisions per height and
/// every signature of every audited validator.
#[derive(Debug, Default)]
pub(crate) struct Audit {
    /// Height -> (first validator to decide it, block hash).
    decided: BTreeMap<u64, (usize, BlockHash)>,
    /// (validator, height, round, step) -> digest of what it signed.
    signed: BTreeMap<(usize, u64, u32, Step), Hash32>,
}

impl Audit {
    /// Agreement: `node` decided `hash` at `height`.
    pub(crate) fn decided(&mut self, node: usize, height: u64, hash: BlockHash) -> Result<(), Violation> {
        match self.decided.get(&height) {
            Some(&(first_node, first)) if first != hash => {
                Err(Violation::Agreement { height, first_node, first, node, other: hash })
            }
            Some(_) => Ok(()),
            None => {
                self.decided.insert(height, (node, hash));
                Ok(())
            }
        }
    }

    /// No double-sign: `node` signed `step`.
    pub(crate) fn signed(&mut self, node: usize, step: &SignedStep) -> Result<(), Violation> {
        let key = (node, step.height, step.round, step.step);
        match self.signed.get(&key) {
            Some(first) if *first != step.digest => Err(Violation::DoubleSign {
                node,
                height: step.height,
                round: step.round,
                step: step.step,
                first: *first,
                second: step.digest,
            }),
            Some(_) => Ok(()),
            None => {
                self.signed.insert(key, step.digest);
                Ok(())
            }
        }
    }

    /// The decided hash of each height, in order (for the report's digest).
    pub(crate) fn chain(&self) -> impl Iterator<Item = (&u64, &BlockHash)> {
        self.decided.iter().map(|(h, (_, hash))| (h, hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_types::{VoteData, VoteKind};

    #[test]
    fn catches_conflicting_decisions_and_signatures() {
        let mut audit = Audit::default();
        audit.decided(0, 1, BlockHash([1; 32])).unwrap();
        audit.decided(1, 1, BlockHash([1; 32])).unwrap();
        assert!(matches!(
            audit.decided(2, 1, BlockHash([2; 32])),
            Err(Violation::Agreement { height: 1, .. })
        ));

        let vote = |b: u8| {
            SignedStep::for_vote(
                "c",
                &VoteData {
                    height: 3,
                    round: 1,
                    kind: VoteKind::Prevote,
                    block_hash: Some(BlockHash([b; 32])),
                },
            )
        };
        audit.signed(0, &vote(1)).unwrap();
        audit.signed(0, &vote(1)).unwrap();
        audit.signed(1, &vote(2)).unwrap();
        let err = audit.signed(0, &vote(2)).unwrap_err();
        assert!(matches!(
            err,
            Violation::DoubleSign { node: 0, height: 3, round: 1, step: Step::Prevote, .. }
        ));
        assert!(err.to_string().starts_with("DOUBLE-SIGN"));
    }
}
