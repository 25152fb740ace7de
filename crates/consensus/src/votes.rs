//! The votes of one height, per (round, kind) and validator, with
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

/// Conflicting votes (a validator's second, third... different vote for one
/// round and kind) kept per height. They are counted for the value they name,
/// as the paper counts every message received (quorum intersection keeps that
/// safe: two quorums share an honest validator, and honest ones never
/// equivocate). Without them, an equivocator that shows `v` to some of us and
/// `nil` to others can leave honest validators locked on different values
/// forever. The bound keeps a flood of them from exhausting memory.
pub(crate) const CONFLICTING_VOTES_MAX: usize = 1024;

/// What [`VoteKeeper::add`] did with a vote.
#[derive(Debug)]
pub(crate) enum Added {
    /// A new vote, now counted.
    New,
    /// The identical vote was already counted.
    Duplicate,
    /// A different vote of the same validator for the same round and kind,
    /// seen for the first time: report it. Both votes are counted (each for
    /// its own value) while [`CONFLICTING_VOTES_MAX`] allows.
    Equivocation(Box<Evidence>),
    /// A further conflicting vote of an equivocation already reported (counted
    /// too, within the bound).
    EquivocationAgain,
}

/// The votes of one height.
#[derive(Clone, Debug, Default)]
pub(crate) struct VoteKeeper {
    /// Per (round, kind) and validator, its distinct votes, first one first.
    votes: BTreeMap<(u32, VoteKind), BTreeMap<PublicKey, Vec<Vote>>>,
    reported: BTreeSet<(PublicKey, u32, VoteKind)>,
    conflicting: usize,
}

impl VoteKeeper {
    /// Adds a vote whose signature and validator were checked by the caller.
    pub(crate) fn add(&mut self, vote: Vote) -> Added {
        let key = (vote.data.round, vote.data.kind);
        let mine = self.votes.entry(key).or_default().entry(vote.validator).or_default();
        let Some(first) = mine.first() else {
            mine.push(vote);
            return Added::New;
        };
        if mine.iter().any(|v| v.data == vote.data) {
            return Added::Duplicate;
        }
        let evidence = Evidence { first: first.clone(), second: vote.clone() };
        if self.conflicting < CONFLICTING_VOTES_MAX {
            self.conflicting += 1;
            mine.push(vote);
        }
        if self.reported.insert((evidence.second.validator, key.0, key.1)) {
            Added::Equivocation(Box::new(evidence))
        } else {
            Added::EquivocationAgain
        }
    }

    /// Every counted vote of `(round, kind)`.
    fn of(&self, round: u32, kind: VoteKind) -> impl Iterator<Item = &Vote> {
        self.votes.get(&(round, kind)).into_iter().flat_map(|m| m.values().flatten())
    }

    /// The counted vote of `validator` for `(round, kind, value)`.
    pub(crate) fn get(
        &self,
        round: u32,
        kind: VoteKind,
        validator: &PublicKey,
        value: Option<BlockHash>,
    ) -> Option<&Vote> {
        self.votes.get(&(round, kind))?.get(validator)?.iter().find(|v| v.data.block_hash == value)
    }

    /// Power of the validators that voted `value` (`None`: nil) in `(round, kind)`.
    pub(crate) fn power_for(
        &self,
        powers: &Powers,
        round: u32,
        kind: VoteKind,
        value: Option<BlockHash>,
    ) -> u64 {
        // One vote per validator and value, so no validator is counted twice.
        powers.sum(self.of(round, kind).filter(|v| v.data.block_hash == value).map(|v| &v.validator))
    }

    /// Power of the validators that voted in `(round, kind)`, whatever the value.
    pub(crate) fn power_any(&self, powers: &Powers, round: u32, kind: VoteKind) -> u64 {
        powers.sum(self.votes.get(&(round, kind)).into_iter().flat_map(|m| m.keys()))
    }

    /// Validators that sent a vote of either kind in `round`.
    pub(crate) fn voters(&self, round: u32) -> BTreeSet<PublicKey> {
        [VoteKind::Prevote, VoteKind::Precommit]
            .iter()
            .filter_map(|k| self.votes.get(&(round, *k)))
            .flat_map(|m| m.keys().copied())
            .collect()
    }

    /// Rounds after `round` in which some vote was counted, ascending.
    pub(crate) fn rounds_after(&self, round: u32) -> BTreeSet<u32> {
        let Some(next) = round.checked_add(1) else { return BTreeSet::new() };
        self.votes.range((next, VoteKind::Prevote)..).map(|((r, _), _)| *r).collect()
    }
}
