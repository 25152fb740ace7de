//! The node's view of membership: which keys its peer network admits, and
//! whether it votes. Both follow the committed state (validator sets and
//! observers changed by governance, docs/rules.md T25-T32).

use std::collections::BTreeSet;

use std::sync::Arc;

use keepsake_store::Store;
use keepsake_types::{Genesis, PublicKey};

use crate::shared::Shared;

/// The keys the peer network admits after the committed `height`: every
/// validator of the set governing the next height and of any set scheduled
/// after it, every active observer (registered by governance, or a removed
/// validator that keeps following), and the operator's own `extra` keys
/// (its config's allow-list and bootstrap peers, trusted by configuration).
pub fn admitted_keys(
    store: &Store,
    genesis: &Genesis,
    height: u64,
    extra: &[PublicKey],
) -> anyhow::Result<BTreeSet<PublicKey>> {
    let schedule = keepsake_ledger::membership::schedule(store, genesis)?;
    let next = height.saturating_add(1);
    let mut keys: BTreeSet<PublicKey> = schedule.at(next).validators.iter().map(|v| v.public_key).collect();
    for set in schedule.sets().iter().filter(|s| s.from_height > next) {
        keys.extend(set.validators.validators.iter().map(|v| v.public_key));
    }
    for (key, record) in store.observers()? {
        if record.active {
            keys.insert(key);
        }
    }
    keys.extend(extra.iter().copied());
    Ok(keys)
}

/// Whether `key` votes at the height after `height` or is scheduled to.
pub fn is_member(store: &Store, genesis: &Genesis, height: u64, key: &PublicKey) -> anyhow::Result<bool> {
    let schedule = keepsake_ledger::membership::schedule(store, genesis)?;
    let next = height.saturating_add(1);
    Ok(schedule.sets().iter().filter(|s| s.from_height >= next).any(|s| s.validators.get(key).is_some())
        || schedule.at(next).get(key).is_some())
}

/// After the block at `height` is committed: gives the network the keys now
/// admitted when they changed (a validator added or removed, an observer
/// registered or removed). Failing to read them keeps the previous set and
/// says so; the next block tries again.
pub fn follow(shared: &Arc<Shared>, height: u64) {
    let keys = match admitted_keys(&shared.store, &shared.genesis, height, &shared.trusted_peers) {
        Ok(keys) => keys,
        Err(e) => {
            tracing::warn!(
                height,
                error = format!("{e:#}"),
                "cannot read membership; the admitted peers stay as they were"
            );
            return;
        }
    };
    let mut last =
        shared.admitted.lock().expect("admitted-keys lock poisoned: a panic happened while it was held");
    if *last == keys {
        return;
    }
    let added = keys.difference(&last).count();
    let removed = last.difference(&keys).count();
    tracing::info!(
        height,
        admitted = keys.len(),
        added,
        removed,
        "membership changed: updating the admitted peers"
    );
    *last = keys.clone();
    let net = shared.net.clone();
    tokio::spawn(async move {
        if let Err(e) = net.set_allowed(keys.into_iter().collect()).await {
            tracing::warn!(error = %e, "cannot update the network's admitted peers");
        }
    });
}
