//! Who may act, as of the committed state: the governance in force and the
//! validator set governing each height. Both start as the genesis file says
//! and change only through governance transactions (docs/rules.md T25-T32).

use keepsake_types::{Genesis, PublicKey, ScheduledSet, ValidatorSchedule, ValidatorSet};

use crate::Result;
use crate::state::{SetRecord, StateView};

/// The governors and threshold in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Governance {
    /// The governors.
    pub governors: Vec<PublicKey>,
    /// How many distinct governors a governance action needs.
    pub threshold: u32,
}

/// The governance in force after the committed state (the genesis's until changed).
pub fn governance<V: StateView + ?Sized>(view: &V, genesis: &Genesis) -> Result<Governance> {
    Ok(match view.governance()? {
        Some(g) => Governance { governors: g.governors, threshold: g.threshold },
        None => Governance { governors: genesis.governors.clone(), threshold: genesis.governance_threshold },
    })
}

/// Every validator set of the chain as far as the committed state knows:
/// the genesis set from height 1, then each scheduled set.
pub fn schedule<V: StateView + ?Sized>(view: &V, genesis: &Genesis) -> Result<ValidatorSchedule> {
    Ok(schedule_of(genesis, &view.validator_sets()?))
}

/// [`schedule`] from set records already read (`StateView::validator_sets`),
/// for a caller that also needs the records themselves.
pub fn schedule_of(genesis: &Genesis, sets: &[SetRecord]) -> ValidatorSchedule {
    let later =
        sets.iter().map(|s| ScheduledSet { from_height: s.from_height, validators: s.validators.clone() });
    ValidatorSchedule::with_sets(genesis, later)
}

/// The validator set governing `height`.
pub fn validator_set_at<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    height: u64,
) -> Result<ValidatorSet> {
    Ok(schedule(view, genesis)?.at(height).clone())
}
