//! Membership: how the validator set changes, and how anyone holding only the
//! genesis file follows those changes.
//!
//! A validator-set change is a governance transaction
//! ([`crate::TxBody::ChangeValidators`]) carrying one [`ValidatorChange`].
//! A change committed in block `h` governs every block from `h +`
//! [`SET_CHANGE_DELAY`] on: the header of such a block carries the hash of
//! the new set, and its commit is signed by the new set. The ledger refuses a
//! second change while one is pending (docs/rules.md T29), so changes are at
//! least [`SET_CHANGE_DELAY`] blocks apart and the set in force at any height
//! is a function of the changes alone ([`ValidatorSchedule`]).
//!
//! [`ValidatorSet::apply`] is the one implementation of what a change does:
//! the ledger runs it when it executes the transaction, the certificate
//! verifier runs it again when it follows a [`SetTransition`], and the
//! auditor when it replays the chain.

use serde::{Deserialize, Serialize};

use crate::block::{Checkpoint, Validator, ValidatorSet};
use crate::certificate::LogEntryProof;
use crate::ed25519::{Signatures, check_batched};
use crate::genesis::{Genesis, TOTAL_POWER_MAX, VALIDATORS_MAX};
use crate::keys::PublicKey;
use crate::tx::TxBody;
use crate::{Error, Result};

/// Blocks between a change's block and the first block it governs: a change
/// committed at height `h` takes effect at height `h + 2`. Two, not one, so
/// that while a node decides height `h + 1` it already knows the set of
/// `h + 2` (it checks early votes for the next height against it).
pub const SET_CHANGE_DELAY: u64 = 2;

/// Most set transitions a certificate or status answer may carry.
pub const TRANSITIONS_MAX: usize = 1024;

/// One change of the validator set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ValidatorChange {
    /// A new validator, appended to the proposer order. The new key must
    /// co-sign the transaction (it proves the organisation holds it).
    Add {
        /// Key, power and name.
        validator: Validator,
    },
    /// A validator leaves the set (it keeps following as an observer).
    Remove {
        /// The validator's key.
        public_key: PublicKey,
    },
    /// A validator's voting power changes.
    SetPower {
        /// The validator's key.
        public_key: PublicKey,
        /// Its new power (> 0).
        power: u64,
    },
    /// A validator's key is replaced; its place, power and name stay. The new
    /// key must co-sign the transaction.
    RotateKey {
        /// The key being retired.
        old_key: PublicKey,
        /// The key that replaces it.
        new_key: PublicKey,
    },
}

/// Why [`ValidatorSet::apply`] refused a change (the ledger gives each its own rule).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// The change names a key that is not in the set.
    NotAValidator(PublicKey),
    /// The change would add a key that is already in the set.
    AlreadyAValidator(PublicKey),
    /// Zero power, an unchanged power, an invalid key, or a set over its limits.
    Invalid(String),
    /// The set after the change could not reach a quorum without the
    /// validators it adds (or would be empty).
    Unsafe(String),
}

impl std::fmt::Display for ChangeRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChangeRefusal::NotAValidator(k) => write!(f, "{k} is not a validator"),
            ChangeRefusal::AlreadyAValidator(k) => write!(f, "{k} is already a validator"),
            ChangeRefusal::Invalid(why) | ChangeRefusal::Unsafe(why) => f.write_str(why),
        }
    }
}

impl ValidatorChange {
    /// The key that must co-sign the change besides the governors (the key a
    /// change brings into the set), if any.
    pub fn new_key(&self) -> Option<PublicKey> {
        match self {
            ValidatorChange::Add { validator } => Some(validator.public_key),
            ValidatorChange::RotateKey { new_key, .. } => Some(*new_key),
            ValidatorChange::Remove { .. } | ValidatorChange::SetPower { .. } => None,
        }
    }

    /// A short description for logs, the explorer and audit reports.
    pub fn describe(&self) -> String {
        match self {
            ValidatorChange::Add { validator } => {
                format!("add {} ({}) with power {}", validator.name, validator.public_key, validator.power)
            }
            ValidatorChange::Remove { public_key } => format!("remove {public_key}"),
            ValidatorChange::SetPower { public_key, power } => {
                format!("set the power of {public_key} to {power}")
            }
            ValidatorChange::RotateKey { old_key, new_key } => format!("rotate {old_key} to {new_key}"),
        }
    }
}

impl ValidatorSet {
    /// The set after `change`, or why the change is refused. The rules, in
    /// order: the keys it names exist (or not, for a new key); powers are
    /// positive and change; keys are valid points; the set stays within
    /// [`VALIDATORS_MAX`] and [`TOTAL_POWER_MAX`]; and the set stays **live**:
    /// it is not empty, and the validators it keeps unchanged (same key) hold
    /// a quorum (more than 2/3) of its power, so it finalises blocks even
    /// before a newly added or rotated key's node is running.
    pub fn apply(&self, change: &ValidatorChange) -> std::result::Result<ValidatorSet, ChangeRefusal> {
        let position = |key: &PublicKey| {
            self.validators
                .iter()
                .position(|v| &v.public_key == key)
                .ok_or(ChangeRefusal::NotAValidator(*key))
        };
        let fresh_key = |key: &PublicKey| {
            if self.get(key).is_some() {
                return Err(ChangeRefusal::AlreadyAValidator(*key));
            }
            if !key.is_valid_point() {
                return Err(ChangeRefusal::Invalid(format!("{key} is not a valid ed25519 key")));
            }
            Ok(())
        };
        let mut next = self.clone();
        // The validators whose key the change brings in (they may not be running yet).
        let mut newcomer = None;
        match change {
            ValidatorChange::Add { validator } => {
                fresh_key(&validator.public_key)?;
                if validator.power == 0 {
                    return Err(ChangeRefusal::Invalid("a validator needs a power above 0".into()));
                }
                if self.validators.len() >= VALIDATORS_MAX {
                    return Err(ChangeRefusal::Invalid(format!(
                        "the set already has the most validators allowed ({VALIDATORS_MAX})"
                    )));
                }
                next.validators.push(validator.clone());
                newcomer = Some(validator.public_key);
            }
            ValidatorChange::Remove { public_key } => {
                let i = position(public_key)?;
                next.validators.remove(i);
            }
            ValidatorChange::SetPower { public_key, power } => {
                let i = position(public_key)?;
                if *power == 0 {
                    return Err(ChangeRefusal::Invalid(
                        "a power of 0 is not a removal: use the remove change".into(),
                    ));
                }
                if next.validators[i].power == *power {
                    return Err(ChangeRefusal::Invalid(format!("{public_key} already has power {power}")));
                }
                next.validators[i].power = *power;
            }
            ValidatorChange::RotateKey { old_key, new_key } => {
                let i = position(old_key)?;
                fresh_key(new_key)?;
                next.validators[i].public_key = *new_key;
                newcomer = Some(*new_key);
            }
        }
        if next.validators.is_empty() {
            return Err(ChangeRefusal::Unsafe("the set would have no validator left".into()));
        }
        let total = next.validators.iter().try_fold(0u64, |acc, v| acc.checked_add(v.power));
        let total = match total {
            Some(t) if t <= TOTAL_POWER_MAX => t,
            _ => {
                return Err(ChangeRefusal::Invalid(format!(
                    "the total voting power would exceed {TOTAL_POWER_MAX}"
                )));
            }
        };
        let kept: u64 =
            next.validators.iter().filter(|v| Some(v.public_key) != newcomer).map(|v| v.power).sum();
        let needed = next.quorum_power();
        if kept < needed {
            return Err(ChangeRefusal::Unsafe(format!(
                "the validators already running would hold {kept} of {total} power, short of the quorum of \
                 {needed}: the chain would stop until the new key's node runs (add power in smaller steps)"
            )));
        }
        Ok(next)
    }
}

/// A validator set and the first height it governs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledSet {
    /// The first height whose header carries this set's hash.
    pub from_height: u64,
    /// The set.
    pub validators: ValidatorSet,
}

/// The validator sets of a chain, from genesis on, as far as a verifier has
/// followed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSchedule {
    /// Ascending `from_height`; the first is the genesis set from height 1.
    sets: Vec<ScheduledSet>,
}

impl ValidatorSchedule {
    /// The genesis set alone.
    pub fn genesis(genesis: &Genesis) -> Self {
        Self { sets: vec![ScheduledSet { from_height: 1, validators: genesis.validator_set() }] }
    }

    /// The genesis set followed by `later` sets (ascending `from_height`, all
    /// above 1): a schedule the caller already trusts (a node's own state).
    pub fn with_sets(genesis: &Genesis, later: impl IntoIterator<Item = ScheduledSet>) -> Self {
        let mut schedule = Self::genesis(genesis);
        schedule.sets.extend(later);
        schedule
    }

    /// The set governing `height`.
    pub fn at(&self, height: u64) -> &ValidatorSet {
        let i = self.sets.partition_point(|s| s.from_height <= height).max(1) - 1;
        &self.sets[i].validators
    }

    /// The latest set and the height it governs from.
    pub fn latest(&self) -> &ScheduledSet {
        self.sets.last().expect("a schedule starts with the genesis set")
    }

    /// Every set, oldest first.
    pub fn sets(&self) -> &[ScheduledSet] {
        &self.sets
    }

    /// Follows `transitions` from the genesis set (see [`SetTransition`] for
    /// what each proves). Trusts nothing but `genesis`.
    ///
    /// The transitions' precommits are verified as one batch
    /// ([`crate::SignatureBatch`]); errors are those of checking them one by one.
    pub fn follow(genesis: &Genesis, transitions: &[SetTransition]) -> Result<Self> {
        // Room for a few precommits per transition (bounded before the count is checked).
        check_batched(transitions.len().min(TRANSITIONS_MAX) * 4, |signatures| {
            Self::follow_checked(genesis, transitions, signatures)
        })
    }

    /// [`ValidatorSchedule::follow`], with the signatures sent to `signatures`.
    pub(crate) fn follow_checked(
        genesis: &Genesis,
        transitions: &[SetTransition],
        signatures: &mut Signatures<'_>,
    ) -> Result<Self> {
        if transitions.len() > TRANSITIONS_MAX {
            return Err(Error::TooLarge {
                what: "set transitions",
                len: transitions.len(),
                max: TRANSITIONS_MAX,
            });
        }
        let mut schedule = Self::genesis(genesis);
        for (index, t) in transitions.iter().enumerate() {
            schedule.follow_one(genesis, index, t, signatures)?;
        }
        Ok(schedule)
    }

    fn follow_one(
        &mut self,
        genesis: &Genesis,
        index: usize,
        t: &SetTransition,
        signatures: &mut Signatures<'_>,
    ) -> Result<()> {
        let bad = |reason: String| Error::InvalidTransition { index, reason };
        let header = &t.checkpoint.header;
        if header.chain_id != genesis.chain_id {
            return Err(Error::WrongChain {
                expected: genesis.chain_id.to_string(),
                got: header.chain_id.to_string(),
            });
        }
        let latest = self.latest().clone();
        // The change must come after the previous one took effect (the ledger's
        // rule T29), so the set before it is the latest one.
        if header.height < latest.from_height {
            return Err(bad(format!(
                "its checkpoint is at height {}, before the previous set took effect at {}",
                header.height, latest.from_height
            )));
        }
        // Signed by the set in force before the change: a quorum of it.
        t.checkpoint
            .commit
            .check(header, &latest.validators, signatures)
            .map_err(|e| bad(format!("checkpoint at height {}: {e}", header.height)))?;
        let leaf = t
            .change
            .verify_against(&t.checkpoint, "transition change", genesis.params.log_leaf_bytes_max())
            .map_err(|e| bad(e.to_string()))?;
        let TxBody::ChangeValidators { change, .. } = &leaf.tx.body else {
            return Err(bad(format!(
                "its entry is a {} transaction, not a validator-set change",
                leaf.tx.body.kind()
            )));
        };
        if leaf.height < latest.from_height {
            return Err(bad(format!(
                "the change is at height {}, before the previous set took effect at {}",
                leaf.height, latest.from_height
            )));
        }
        // The checkpoint must be one the old set signs: before the change takes effect.
        let from_height = leaf.height.saturating_add(SET_CHANGE_DELAY);
        if header.height >= from_height {
            return Err(bad(format!(
                "its checkpoint (height {}) is after the change took effect (height {from_height})",
                header.height
            )));
        }
        let validators =
            latest.validators.apply(change).map_err(|e| bad(format!("the change is refused: {e}")))?;
        self.sets.push(ScheduledSet { from_height, validators });
        Ok(())
    }
}

/// The proof of one validator-set change, checkable with the set before it:
/// the committed `ChangeValidators` transaction's log entry, included in a
/// checkpoint at the change's height or the next one (before it takes
/// effect), signed by a quorum of the set in force there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTransition {
    /// The change's log entry and its inclusion proof against `checkpoint`.
    pub change: LogEntryProof,
    /// A checkpoint signed by the set before the change.
    pub checkpoint: Checkpoint,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn set(n: u8) -> ValidatorSet {
        ValidatorSet {
            validators: (0..n)
                .map(|i| Validator {
                    public_key: Keypair::from_seed([i + 1; 32]).public(),
                    power: 1,
                    name: format!("v{i}"),
                })
                .collect(),
        }
    }

    fn key(i: u8) -> PublicKey {
        Keypair::from_seed([i; 32]).public()
    }

    #[test]
    fn each_change_does_what_it_says() {
        let s = set(4);
        let added = s.apply(&ValidatorChange::Add {
            validator: Validator { public_key: key(50), power: 1, name: "e".into() },
        });
        assert_eq!(added.unwrap().validators.last().unwrap().public_key, key(50));
        let removed = s.apply(&ValidatorChange::Remove { public_key: key(2) }).unwrap();
        assert_eq!(removed.validators.len(), 3);
        assert!(removed.get(&key(2)).is_none());
        let powered = s.apply(&ValidatorChange::SetPower { public_key: key(1), power: 2 }).unwrap();
        assert_eq!(powered.get(&key(1)).unwrap().power, 2);
        let rotated = s.apply(&ValidatorChange::RotateKey { old_key: key(3), new_key: key(60) }).unwrap();
        assert_eq!(rotated.validators[2].public_key, key(60));
        assert_eq!(rotated.validators[2].name, "v2");
    }

    #[test]
    fn each_refusal_can_happen() {
        let s = set(4);
        let v = |k: u8, power: u64| Validator { public_key: key(k), power, name: "x".into() };
        let cases: Vec<(ValidatorChange, &str)> = vec![
            (ValidatorChange::Remove { public_key: key(99) }, "NotAValidator"),
            (ValidatorChange::SetPower { public_key: key(99), power: 3 }, "NotAValidator"),
            (ValidatorChange::RotateKey { old_key: key(99), new_key: key(70) }, "NotAValidator"),
            (ValidatorChange::Add { validator: v(1, 1) }, "AlreadyAValidator"),
            (ValidatorChange::RotateKey { old_key: key(1), new_key: key(2) }, "AlreadyAValidator"),
            (ValidatorChange::Add { validator: v(70, 0) }, "Invalid"),
            (ValidatorChange::SetPower { public_key: key(1), power: 1 }, "Invalid"),
            (ValidatorChange::SetPower { public_key: key(1), power: 0 }, "Invalid"),
            (ValidatorChange::SetPower { public_key: key(1), power: TOTAL_POWER_MAX }, "Invalid"),
            (
                ValidatorChange::Add {
                    validator: Validator { public_key: PublicKey([0; 32]), power: 1, name: "x".into() },
                },
                "Invalid",
            ),
            // 4 running validators hold 4 of 6: not more than 2/3.
            (ValidatorChange::Add { validator: v(70, 2) }, "Unsafe"),
        ];
        for (change, expected) in cases {
            let got = s.apply(&change).unwrap_err();
            let kind = match got {
                ChangeRefusal::NotAValidator(_) => "NotAValidator",
                ChangeRefusal::AlreadyAValidator(_) => "AlreadyAValidator",
                ChangeRefusal::Invalid(_) => "Invalid",
                ChangeRefusal::Unsafe(_) => "Unsafe",
            };
            assert_eq!(kind, expected, "{change:?}: {got}");
        }
        let one = set(1);
        assert!(matches!(
            one.apply(&ValidatorChange::Remove { public_key: key(1) }),
            Err(ChangeRefusal::Unsafe(_))
        ));
        // A lone validator rotating its key would leave nobody running.
        assert!(matches!(
            one.apply(&ValidatorChange::RotateKey { old_key: key(1), new_key: key(9) }),
            Err(ChangeRefusal::Unsafe(_))
        ));
    }

    #[test]
    fn the_schedule_answers_by_height() {
        let g0 = set(4);
        let g1 = set(5);
        let s = ValidatorSchedule {
            sets: vec![
                ScheduledSet { from_height: 1, validators: g0.clone() },
                ScheduledSet { from_height: 10, validators: g1.clone() },
            ],
        };
        assert_eq!(s.at(0), &g0);
        assert_eq!(s.at(9), &g0);
        assert_eq!(s.at(10), &g1);
        assert_eq!(s.at(u64::MAX), &g1);
    }
}
