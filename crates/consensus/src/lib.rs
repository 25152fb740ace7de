//! Tendermint BFT consensus (Buchman, Kwon, Milosevic, "The latest gossip on
//! BFT consensus", arXiv:1807.04938, Algorithm 1) as a pure state machine.
//!
//! `Consensus::handle(Input) -> Vec<Output>`: no tokio, no clock, no
//! randomness, no I/O. The caller (the node's driver, or the simulator) turns
//! outputs into effects: it builds and validates blocks with the ledger,
//! persists the sign-state and signs, gossips, schedules timers, commits.
//!
//! See `docs/consensus.md` for the algorithm as implemented.

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod guard;
mod machine;
mod votes;

pub use guard::{SignGuard, SignRefused, SignedStep};
pub use machine::{Consensus, ConsensusStats};

use keepsake_types::{
    Block, BlockHash, Commit, Proposal, ProposalData, PublicKey, ValidatorSet, Vote, VoteData,
};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Messages kept for the next height (they arrive while we still finish
/// this one). Beyond this, further ones are dropped and counted.
pub const FUTURE_MESSAGES_MAX: usize = 4096;
/// Rounds ahead of the current one for which votes are still kept. A vote for
/// a round further ahead is dropped and counted (a Byzantine validator could
/// otherwise make us store votes for 2^32 rounds).
pub const ROUNDS_AHEAD_MAX: u32 = 64;

/// Timeouts of the three steps. Round `r` waits `base + r * delta`
/// (the paper's "timeouts that grow with the round", so that after GST every
/// step eventually lasts long enough).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusConfig {
    /// `timeoutPropose(0)` in milliseconds.
    pub timeout_propose_ms: u64,
    /// `timeoutPrevote(0)` in milliseconds.
    pub timeout_prevote_ms: u64,
    /// `timeoutPrecommit(0)` in milliseconds.
    pub timeout_precommit_ms: u64,
    /// Added to every timeout per round.
    pub timeout_delta_ms: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            timeout_propose_ms: 3000,
            timeout_prevote_ms: 1000,
            timeout_precommit_ms: 1000,
            timeout_delta_ms: 500,
        }
    }
}

/// A step of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    /// Waiting for the proposal.
    Propose,
    /// Prevote sent, collecting prevotes.
    Prevote,
    /// Precommit sent, collecting precommits.
    Precommit,
}

/// A timer the core asked for; handed back as [`Input::TimeoutElapsed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeout {
    /// Height it was scheduled at.
    pub height: u64,
    /// Round it was scheduled at.
    pub round: u32,
    /// Which timeout (`Propose`: timeoutPropose, `Prevote`: timeoutPrevote,
    /// `Precommit`: timeoutPrecommit).
    pub step: Step,
}

/// Everything that can happen to the core. Every input except
/// `StartHeight` is written to the WAL before the core sees it, so replaying
/// the WAL into a fresh core reproduces its state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// Begin height `height` (the previous one is committed). Resets the round
    /// state and replays buffered messages of this height.
    StartHeight {
        /// The height to start.
        height: u64,
    },
    /// The block the driver built in answer to [`Output::BuildBlock`].
    BlockBuilt {
        /// Height asked for.
        height: u64,
        /// Round asked for.
        round: u32,
        /// The block.
        block: Arc<Block>,
    },
    /// A signed proposal (from a peer, or our own fed back). The core checks
    /// the signature, that the signer is the proposer of its round and that the
    /// block matches the signed hash; anything else is dropped and counted.
    Proposal(Box<Proposal>),
    /// The ledger's verdict on a proposed block ([`Output::ValidateBlock`]).
    ProposalVerdict {
        /// Height of the proposal.
        height: u64,
        /// Round of the proposal.
        round: u32,
        /// The block's header hash.
        block_hash: BlockHash,
        /// True when every ledger rule holds.
        valid: bool,
    },
    /// A signed vote (from a peer, or our own fed back). The signature and
    /// the voter's membership are checked by the core.
    Vote(Vote),
    /// A timer scheduled with [`Output::ScheduleTimeout`] fired.
    TimeoutElapsed(Timeout),
    /// The driver received the fresh proposal (no `pol_round`) of `(height, round)` for
    /// `block_hash` at a time its clock says the block's time is not timely: outside
    /// `[now - precision - message_delay, now + precision]` (proposer-based timestamps,
    /// as CometBFT's PBTS). L22 then prevotes nil for it; L28 (a re-proposal backed by a
    /// polka) is unaffected. Logged in the WAL like every input, so a replay decides the
    /// same way whatever the clock says later. Appended last: older WALs still decode.
    ProposalUntimely {
        /// Height of the proposal.
        height: u64,
        /// Round of the proposal.
        round: u32,
        /// The proposed block's header hash.
        block_hash: BlockHash,
    },
}

/// What the core asks its driver to do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// We are the proposer of (height, round) and hold no valid value: build a
    /// block on the committed tip and hand it back as [`Input::BlockBuilt`].
    BuildBlock {
        /// Height.
        height: u64,
        /// Round.
        round: u32,
    },
    /// Check the proposed block against every ledger rule and hand back
    /// [`Input::ProposalVerdict`].
    ValidateBlock {
        /// Height.
        height: u64,
        /// Round of the proposal.
        round: u32,
        /// The block to check.
        block: Arc<Block>,
    },
    /// Sign this proposal (after the sign guard and the fsync), gossip it and
    /// feed it back as [`Input::Proposal`].
    Propose {
        /// What to sign.
        data: ProposalData,
        /// The block to attach.
        block: Arc<Block>,
    },
    /// Sign this vote (after the sign guard and the fsync), gossip it and feed
    /// it back as [`Input::Vote`].
    Vote(VoteData),
    /// Feed back `TimeoutElapsed(timeout)` after `duration_ms`.
    ScheduleTimeout {
        /// The timeout.
        timeout: Timeout,
        /// Its length in milliseconds.
        duration_ms: u64,
    },
    /// The block is final: store it with its commit, then feed
    /// `StartHeight { height + 1 }`.
    Decide {
        /// The decided block.
        block: Arc<Block>,
        /// Precommits of more than 2/3 of the power for it.
        commit: Commit,
    },
    /// A validator signed two different votes for one (height, round, kind).
    Equivocation(Box<Evidence>),
}

/// Proof that a validator equivocated: two different signed votes for the
/// same height, round and kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The vote seen first.
    pub first: Vote,
    /// The conflicting vote.
    pub second: Vote,
}

/// One record of the consensus WAL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WalEntry {
    /// An input fed to the core.
    Input(Input),
}

/// The proposer of `(height, round)`: round robin over the validator set in
/// genesis order, `validators[(height + round) mod n]`. Powers do not weigh
/// in the rotation (they do in every quorum).
pub fn proposer(validators: &ValidatorSet, height: u64, round: u32) -> PublicKey {
    let n = validators.validators.len() as u64;
    assert!(n > 0, "a validator set is never empty (genesis validation)");
    let i = (height.wrapping_add(u64::from(round))) % n;
    validators.validators[i as usize].public_key
}
