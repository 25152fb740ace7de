//! The votes of one height: at most one per (validator, round, kind), with
//! equivocation detection and power tallies. Ordered maps only, so that
//! nothing observable depends on hashing order.

use std::collections::{BTreeMap, BTreeSet};

use keepsake_types::{BlockHash, PublicKey, ValidatorSet, Vote, VoteKind};

use crate::Evidence;

/// Voting power of each validator, in an ordered map for fast lookups. When
/// a key appears twice in the set, the first entry wins (like
/// [`ValidatorSet::get`]).
#[derive(Clone, Debug)]
pub(crate) struct Powers {
    power: BTreeMap<PublicKey, u64>,
    total: u64,
    quorum: u64,
}

impl Powers {
    pub(crate) fn new(validators: &ValidatorSet) -> Self {
        let mut power = BTreeMap::new();
        for v in &validators.validators {
            power.entry(v.public_key).or_insert(v.power);
        }
        Powers { power, total: validators.total_power(), quorum: validators.quorum_power() }
    }

    /// Power of `key`, `None` when it is not a validator.
    pub(crate) fn of(&self, key: &PublicKey) -> Option<u64> {
        self.power.get(key).copied()
    }

    /// `2f + 1`: at least `floor(2 * total / 3) + 1`.
    pub(crate) fn is_quorum(&self, power: u64) -> bool {
        power >= self.quorum
    }

    /// `f + 1`: more than a third of the total.
    pub(crate) fn is_one_third_plus(&self, power: u64) -> bool {
        u128::from(power) * 3 > u128::from(self.total)
    }

    /// Sum of the power of `keys` (unknown keys weigh nothing).
    pub(crate) fn sum<'a>(&self, keys: impl IntoIterator<Item = &'a PublicKey>) -> u64 {
        keys.into_iter().filter_map(|k| self.of(k)).fold(0u64, u64::saturating_add)
    }
}

/// What [`VoteKeeper::add`] did with a vote.
#[derive(Debug)]
pub(crate) enum Added {
    /// A new vote, now counted.
    New,
    /// The identical vote was already counted.
    Duplicate,
    /// A different vote of the same validator for the same round and kind,
    /// seen for the first time: report it. The first vote stays counted.
    Equivocation(Box<Evidence>),
    /// A further conflicting vote of an equivocation already reported.
    EquivocationAgain,
}

/// The votes of one height.
#[derive(Clone, Debug, Default)]
pub(crate) struct VoteKeeper {
    votes: BTreeMap<(u32, VoteKind), BTreeMap<PublicKey, Vote>>,
    reported: BTreeSet<(PublicKey, u32, VoteKind)>,
}

impl VoteKeeper {
    /// Adds a vote whose signature and validator were checked by the caller.
    pub(crate) fn add(&mut self, vote: Vote) -> Added {
        let key = (vote.data.round, vote.data.kind);
        let by_validator = self.votes.entry(key).or_default();
        match by_validator.get(&vote.validator) {
            None => {
                by_validator.insert(vote.validator, vote);
                Added::New
            }
            Some(first) if first.data == vote.data => Added::Duplicate,
            Some(first) => {
                if self.reported.insert((vote.validator, vote.data.round, vote.data.kind)) {
                    Added::Equivocation(Box::new(Evidence { first: first.clone(), second: vote }))
                } else {
                    Added::EquivocationAgain
                }
            }
        }
    }

    /// The counted votes of `(round, kind)`, by validator.
    fn of(&self, round: u32, kind: VoteKind) -> impl Iterator<Item = &Vote> {
        self.votes.get(&(round, kind)).into_iter().flat_map(|m| m.values())
    }

    /// The counted vote of `validator` for `(round, kind)`.
    pub(crate) fn get(&self, round: u32, kind: VoteKind, validator: &PublicKey) -> Option<&Vote> {
        self.votes.get(&(round, kind)).and_then(|m| m.get(validator))
    }

    /// Power of the `(round, kind)` votes for `value` (`None`: nil).
    pub(crate) fn power_for(
        &self,
        powers: &Powers,
        round: u32,
        kind: VoteKind,
        value: Option<BlockHash>,
    ) -> u64 {
        powers.sum(self.of(round, kind).filter(|v| v.data.block_hash == value).map(|v| &v.validator))
    }

    /// Power of all `(round, kind)` votes, whatever their value.
    pub(crate) fn power_any(&self, powers: &Powers, round: u32, kind: VoteKind) -> u64 {
        powers.sum(self.of(round, kind).map(|v| &v.validator))
    }

    /// Validators that sent a vote of either kind in `round`.
    pub(crate) fn voters(&self, round: u32) -> BTreeSet<PublicKey> {
        self.of(round, VoteKind::Prevote).chain(self.of(round, VoteKind::Precommit)).map(|v| v.validator).collect()
    }

    /// Rounds after `round` in which some vote was counted, ascending.
    pub(crate) fn rounds_after(&self, round: u32) -> BTreeSet<u32> {
        let Some(next) = round.checked_add(1) else { return BTreeSet::new() };
        self.votes.range((next, VoteKind::Prevote)..).map(|((r, _), _)| *r).collect()
    }
}
