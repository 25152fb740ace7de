//! The never-double-sign rule, as pure logic. The driver persists the last
//! [`SignedStep`] in its own fdatasync'ed file *before* the signature leaves
//! the node, and asks [`SignGuard::check`] before every signature.

use keepsake_types::encoding::encode;
use keepsake_types::hash::{domain_hash, tag};
use keepsake_types::{Hash32, ProposalData, VoteData, VoteKind};
use serde::{Deserialize, Serialize};

use crate::Step;

/// One signed consensus message, reduced to what the guard compares: its
/// (height, round, step) and the hash of the exact bytes signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStep {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// `Propose` for a proposal, `Prevote` / `Precommit` for votes.
    pub step: Step,
    /// `domain_hash(tag, chain_id, encode(data))` of what was signed.
    pub digest: Hash32,
}

impl SignedStep {
    /// The step of signing `data` as a vote.
    pub fn for_vote(chain_id: &str, data: &VoteData) -> SignedStep {
        let step = match data.kind {
            VoteKind::Prevote => Step::Prevote,
            VoteKind::Precommit => Step::Precommit,
        };
        SignedStep {
            height: data.height,
            round: data.round,
            step,
            digest: domain_hash(tag::VOTE, chain_id, &encode(data)),
        }
    }

    /// The step of signing `data` as a proposal.
    pub fn for_proposal(chain_id: &str, data: &ProposalData) -> SignedStep {
        SignedStep {
            height: data.height,
            round: data.round,
            step: Step::Propose,
            digest: domain_hash(tag::PROPOSAL, chain_id, &encode(data)),
        }
    }

    fn position(&self) -> (u64, u32, Step) {
        (self.height, self.round, self.step)
    }
}

/// Why the guard refused to sign.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignRefused {
    /// Rule S1: a message for a step at or before the last signed one, and not
    /// identical to it, could contradict what we already signed.
    #[error(
        "S1 NotAfterLastSigned: refusing to sign {wanted:?} at height {height} round {round}: last signed is {last_step:?} at height {last_height} round {last_round} (a different message)"
    )]
    NotAfterLastSigned {
        /// Height of the refused message.
        height: u64,
        /// Round of the refused message.
        round: u32,
        /// Its step.
        wanted: Step,
        /// Last signed height.
        last_height: u64,
        /// Last signed round.
        last_round: u32,
        /// Last signed step.
        last_step: Step,
    },
}

/// Remembers the last signed step and refuses anything that could be a
/// double-sign.
#[derive(Clone, Debug, Default)]
pub struct SignGuard {
    last: Option<SignedStep>,
}

impl SignGuard {
    /// A guard that last signed `last` (loaded from the sign-state file).
    pub fn new(last: Option<SignedStep>) -> SignGuard {
        SignGuard { last }
    }

    /// The last signed step.
    pub fn last(&self) -> Option<SignedStep> {
        self.last
    }

    /// Rule S1: sign only what is strictly after the last signed
    /// (height, round, step), or the identical message again (a replay after a
    /// crash re-signs the same bytes: ed25519 signatures are deterministic).
    pub fn check(&self, step: &SignedStep) -> Result<(), SignRefused> {
        match &self.last {
            None => Ok(()),
            Some(last) if last == step || step.position() > last.position() => Ok(()),
            Some(last) => Err(SignRefused::NotAfterLastSigned {
                height: step.height,
                round: step.round,
                wanted: step.step,
                last_height: last.height,
                last_round: last.round,
                last_step: last.step,
            }),
        }
    }

    /// Records `step` as signed (call after it is durable).
    pub fn record(&mut self, step: SignedStep) {
        self.last = Some(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_types::BlockHash;

    fn vote(height: u64, round: u32, kind: VoteKind, b: u8) -> SignedStep {
        SignedStep::for_vote("c", &VoteData { height, round, kind, block_hash: Some(BlockHash([b; 32])) })
    }

    #[test]
    fn refuses_a_different_message_for_the_same_step() {
        let mut g = SignGuard::new(None);
        let first = vote(5, 0, VoteKind::Prevote, 1);
        g.check(&first).unwrap();
        g.record(first);
        assert!(g.check(&vote(5, 0, VoteKind::Prevote, 2)).is_err());
        // The identical message again is fine.
        g.check(&first).unwrap();
    }

    #[test]
    fn refuses_earlier_steps_and_accepts_later_ones() {
        let mut g = SignGuard::new(None);
        g.record(vote(5, 1, VoteKind::Prevote, 1));
        assert!(g.check(&vote(5, 0, VoteKind::Precommit, 1)).is_err());
        assert!(g.check(&vote(4, 9, VoteKind::Precommit, 1)).is_err());
        let proposal = SignedStep::for_proposal(
            "c",
            &ProposalData { height: 5, round: 1, pol_round: None, block_hash: BlockHash([1; 32]) },
        );
        assert!(g.check(&proposal).is_err(), "a proposal comes before the prevote of its round");
        g.check(&vote(5, 1, VoteKind::Precommit, 1)).unwrap();
        g.check(&vote(5, 2, VoteKind::Prevote, 1)).unwrap();
        g.check(&vote(6, 0, VoteKind::Prevote, 1)).unwrap();
    }
}
