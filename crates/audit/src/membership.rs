//! Membership as the audit reports it: every change of the validator set,
//! of the governance and of the observers, in chain order, with the names
//! of the validators concerned.

use std::fmt;

use keepsake_types::{PublicKey, TxId, Validator, ValidatorChange, ValidatorSet};
use serde::{Deserialize, Serialize};

/// What `change` does, named after the set it applies to (`before`): the
/// validators' names and keys, and for a power change the old power too.
/// [`ValidatorChange::describe`] says the same with keys only.
pub fn describe_change(change: &ValidatorChange, before: &ValidatorSet) -> String {
    let name = |key: &PublicKey| {
        before.get(key).map_or_else(|| format!("unknown validator {key}"), |v| format!("{} ({key})", v.name))
    };
    match change {
        ValidatorChange::Add { validator } => {
            format!("add {} ({}) with power {}", validator.name, validator.public_key, validator.power)
        }
        ValidatorChange::Remove { public_key } => {
            format!("remove {}; it keeps following the chain as an observer", name(public_key))
        }
        ValidatorChange::SetPower { public_key, power } => match before.get(public_key) {
            Some(v) => format!("set the power of {} from {} to {power}", name(public_key), v.power),
            None => format!("set the power of {} to {power}", name(public_key)),
        },
        ValidatorChange::RotateKey { old_key, new_key } => match before.get(old_key) {
            Some(v) => format!("rotate the key of {} from {old_key} to {new_key}", v.name),
            None => format!("rotate the key of {} to {new_key}", name(old_key)),
        },
    }
}

/// One membership change committed on the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MembershipEvent {
    /// A validator-set change (`ChangeValidators`).
    ValidatorSet {
        /// The height of the block that committed it.
        height: u64,
        /// The first height the new set governs (`height + 2`).
        in_force_from: u64,
        /// The transaction.
        tx_id: TxId,
        /// The change itself.
        change: ValidatorChange,
        /// What it does, with the validators' names ([`describe_change`]).
        description: String,
        /// The set it made, in proposer order.
        validators: Vec<Validator>,
        /// Their total voting power.
        total_power: u64,
    },
    /// New governors or threshold (`SetGovernance`), in force from the next transaction.
    Governance {
        /// The height of the block that committed it.
        height: u64,
        /// The transaction.
        tx_id: TxId,
        /// The new governors.
        governors: Vec<PublicKey>,
        /// How many of them a governance action needs.
        threshold: u32,
    },
    /// A key admitted to the peer network without voting (`RegisterObserver`).
    ObserverRegistered {
        /// The height of the block that committed it.
        height: u64,
        /// The transaction.
        tx_id: TxId,
        /// The observer's key.
        observer: PublicKey,
        /// Who runs it.
        name: String,
    },
    /// An observer removed by governance (`RemoveObserver`).
    ObserverRemoved {
        /// The height of the block that committed it.
        height: u64,
        /// The transaction.
        tx_id: TxId,
        /// The observer's key.
        observer: PublicKey,
        /// Its registered name.
        name: String,
    },
}

impl MembershipEvent {
    /// The height of the block that committed it.
    pub fn height(&self) -> u64 {
        match self {
            MembershipEvent::ValidatorSet { height, .. }
            | MembershipEvent::Governance { height, .. }
            | MembershipEvent::ObserverRegistered { height, .. }
            | MembershipEvent::ObserverRemoved { height, .. } => *height,
        }
    }
}

/// Names and powers of a set, for humans: `org-0 (1), org-1 (2)`.
pub(crate) fn names(validators: &[Validator]) -> String {
    validators.iter().map(|v| format!("{} ({})", v.name, v.power)).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for MembershipEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MembershipEvent::ValidatorSet {
                height,
                in_force_from,
                description,
                validators,
                total_power,
                ..
            } => {
                write!(
                    f,
                    "height {height}: validator set: {description}; in force from height {in_force_from}: {} \
                     validators, total power {total_power}: {}",
                    validators.len(),
                    names(validators)
                )
            }
            MembershipEvent::Governance { height, governors, threshold, .. } => {
                let keys: Vec<String> = governors.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "height {height}: governance: {threshold} of {} governors: {}",
                    governors.len(),
                    keys.join(", ")
                )
            }
            MembershipEvent::ObserverRegistered { height, observer, name, .. } => {
                write!(f, "height {height}: observer registered: {name} ({observer})")
            }
            MembershipEvent::ObserverRemoved { height, observer, name, .. } => {
                write!(f, "height {height}: observer removed: {name} ({observer})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_types::Keypair;

    fn key(n: u8) -> PublicKey {
        Keypair::from_seed([n; 32]).public()
    }

    #[test]
    fn descriptions_name_the_validators() {
        let set = ValidatorSet {
            validators: vec![
                Validator { public_key: key(1), power: 1, name: "Palace Museum".into() },
                Validator { public_key: key(2), power: 3, name: "Notary Office".into() },
            ],
        };
        let add = ValidatorChange::Add {
            validator: Validator { public_key: key(3), power: 1, name: "Archive".into() },
        };
        assert_eq!(describe_change(&add, &set), format!("add Archive ({}) with power 1", key(3)));
        let remove = ValidatorChange::Remove { public_key: key(1) };
        assert!(describe_change(&remove, &set).starts_with(&format!("remove Palace Museum ({})", key(1))));
        let power = ValidatorChange::SetPower { public_key: key(2), power: 5 };
        assert_eq!(
            describe_change(&power, &set),
            format!("set the power of Notary Office ({}) from 3 to 5", key(2))
        );
        let rotate = ValidatorChange::RotateKey { old_key: key(2), new_key: key(9) };
        assert_eq!(
            describe_change(&rotate, &set),
            format!("rotate the key of Notary Office from {} to {}", key(2), key(9))
        );
        // A key outside the set (a chain the ledger would refuse) is said to be so.
        let stray = ValidatorChange::Remove { public_key: key(7) };
        assert!(describe_change(&stray, &set).contains("unknown validator"));
    }
}
