//! What one run looks like: every fault and parameter, drawn from the seed by
//! [`Scenario::from_seed`]. A scenario is plain data, so a test can take the
//! one a seed gives and change a field (more Byzantine validators than the
//! protocol tolerates, say) to prove that the checks catch the consequence.

use keepsake_consensus::ConsensusConfig;
use keepsake_ledger::testkit::{TestNet, key};
use keepsake_types::{Keypair, PublicKey, Validator, ValidatorChange, ValidatorSet};

use crate::rng::Rng;

/// How a validator behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Runs the production engine, unchanged.
    Honest,
    /// Runs the production engine wrapped by an attack (`byzantine.rs`): its
    /// ledger answers every validity question with "valid" (it votes for
    /// anything), and the attack rewrites what it builds, publishes or serves.
    Byzantine(Attack),
}

/// What a Byzantine validator does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    /// Signs two different votes for every step it votes in, one for each
    /// half of the network (even and odd validator indices), and two different
    /// valid blocks when it proposes. Equivocators collude: they vote for the
    /// block each half was shown.
    Equivocate,
    /// When it proposes, appends a signed `Transfer` to its block and fixes
    /// the header's `tx_count` and `tx_root`, so only the ledger rules catch it.
    ProposeTransfer,
    /// When it proposes, corrupts a transaction signature inside its block
    /// (adding a mint with a corrupted signature to an empty block).
    ForgeTxSignature,
    /// Corrupts the signature of every proposal it sends.
    ForgeProposalSignature,
    /// Stamps the blocks it proposes a year ahead of its clock (otherwise valid
    /// blocks: only the timeliness window of honest validators refuses them).
    FutureTime,
    /// Serves block sync with lies: items reordered (or a lone block's commit
    /// for another height), a commit signature forged, or a block's
    /// transactions swapped for another body.
    LyingSync,
}

impl Attack {
    /// Every attack, in the order [`Scenario::from_seed`] draws from.
    pub const ALL: [Attack; 6] = [
        Attack::Equivocate,
        Attack::ProposeTransfer,
        Attack::ForgeTxSignature,
        Attack::ForgeProposalSignature,
        Attack::FutureTime,
        Attack::LyingSync,
    ];
}

/// A deliberately broken engine or host, for tests that prove the checks catch
/// what it does. Never drawn from a seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Broken {
    /// Publishes its signed messages before the WAL and sign-state writes of
    /// the same call (the effects reordered): a power loss in between makes it
    /// forget what it signed.
    PublishBeforePersist,
    /// Its ledger answers every validity question with "valid".
    TrustingLedger,
    /// Its timeliness window is unbounded (accepts any block time).
    NoClockBound,
    /// After a torn sign-state, starts as if it never signed (instead of the
    /// repair floor).
    TornMeansNeverSigned,
}

/// The network between validators before it stabilises. After
/// [`Scenario::stable_ms`] nothing is lost any more (delays, duplicates and
/// reordering continue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkModel {
    /// Smallest one-way delay of a message.
    pub delay_min_ms: u64,
    /// Largest one-way delay (delays are uniform in between, which reorders).
    pub delay_max_ms: u64,
    /// Probability, in thousandths, that a message is lost (before `stable_ms`).
    pub loss_per_mille: u64,
    /// Probability, in thousandths, that a message is delivered twice.
    pub duplicate_per_mille: u64,
    /// Probability, in thousandths, that a byte of a message is flipped on the
    /// way (before `stable_ms`).
    pub corrupt_per_mille: u64,
}

/// The validators split in two groups that cannot talk to each other from
/// `start_ms` until `heal_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// When the link between the groups goes down.
    pub start_ms: u64,
    /// When it comes back.
    pub heal_ms: u64,
    /// The group of each host (`false` / `true`).
    pub side: Vec<bool>,
}

/// An honest node (a validator, or an observer host about to be added) losing
/// power and coming back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// Which validator.
    pub node: usize,
    /// When it stops: its memory (core, mempool, timers) is gone.
    pub at_ms: u64,
    /// When it starts again from its disk (blocks, WAL, sign-state).
    pub restart_ms: u64,
    /// Power loss: WAL records appended after the last fsync (the engine
    /// fsyncs right before it publishes a signature) and blocks the store had
    /// not fsynced yet (sled fsyncs in the background every 500 ms) are lost.
    pub lose_unsynced_wal: bool,
    /// The power goes out in the middle of performing a call's effects: after
    /// this many more effects (instead of between two events).
    pub after_effects: Option<u32>,
    /// If the effect the power loss interrupts is the sign-state write (or,
    /// without `after_effects`, at the crash), the file is left torn
    /// (unreadable); the restart then needs the operator's repair (`keepsake
    /// repair sign-state`: a floor above every height the validator may have
    /// signed at).
    pub tear_sign_state: bool,
    /// The validator restarts with the sign-state it had one write earlier
    /// (an operator restored a stale backup of the file). Together with a power
    /// loss that took blocks the WAL no longer covers, this can double-sign, and
    /// the checker says so: such seeds exist (2142 and 2433 with 4 validators,
    /// before this was restricted), so scenarios draw it with clean stops only.
    pub stale_sign_state: bool,
    /// Fault injection to prove the double-sign check: the validator restarts
    /// with an empty WAL and (unless `tear_sign_state` leaves a torn one for the
    /// repair) an empty sign-state, as a node whose operator wiped its consensus
    /// directory would. Never drawn from a seed.
    pub amnesia: bool,
}

/// A change of the validator set, in terms of simulated hosts. The
/// simulated governors (the test network's 2-of-3) sign it; the key a change
/// brings in co-signs it, as its operator would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetChange {
    /// Host `host`, running as an observer since the start (so it follows the
    /// chain), joins the set with `power`.
    Add {
        /// The host (an index at or above [`Scenario::validators`]).
        host: usize,
        /// Its power.
        power: u64,
    },
    /// The validator of host `host` leaves the set; the host keeps following
    /// the chain as an observer.
    Remove {
        /// The host.
        host: usize,
    },
    /// The validator of host `host` gets `power`.
    SetPower {
        /// The host.
        host: usize,
        /// Its new power.
        power: u64,
    },
    /// The validator of host `host` replaces its key by the host's next one
    /// ([`host_key`]). The operator's procedure (docs/consensus.md): sign the
    /// change with the old and new keys, and once the node has committed the
    /// change, restart it with the new key (after `restart_delay_ms`). Until
    /// the change governs, the node restarted with the new key follows as an
    /// observer; from then on it votes with the new key.
    RotateKey {
        /// The host.
        host: usize,
        /// How long after its node committed the change the operator restarts it.
        restart_delay_ms: u64,
    },
}

/// A [`SetChange`] and the earliest time the client submits it. The client
/// submits the changes in order, each once the previous one governs (the
/// ledger allows one pending change at a time, rule T29), and again every
/// 1.5 s until it is committed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedChange {
    /// The change.
    pub change: SetChange,
    /// Not submitted before this time (simulated ms).
    pub not_before_ms: u64,
}

/// The key of `host` in its `generation` (0 until its first rotation): a
/// genesis validator's first key is the test network's ([`TestNet::new`]),
/// every other key is derived from the host and generation.
pub fn host_key(validators: usize, host: usize, generation: u32) -> Keypair {
    if host < validators && generation == 0 {
        return key(100 + u8::try_from(host).expect("fewer than 156 genesis validators"));
    }
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(host as u64).to_le_bytes());
    seed[8..12].copy_from_slice(&generation.to_le_bytes());
    seed[31] = 0x73; // 's'
    Keypair::from_seed(seed)
}

/// One simulated run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The seed everything random in the run comes from.
    pub seed: u64,
    /// Number of genesis validators (power 1 each, genesis order = index).
    pub validators: usize,
    /// Hosts beyond the genesis validators (indices `validators..`): honest
    /// nodes that start as observers and follow the chain; [`SetChange::Add`]
    /// makes them validators.
    pub observers: usize,
    /// The validator-set changes the governors submit, in order.
    pub set_changes: Vec<PlannedChange>,
    /// The role of each host (genesis validators, then observers, which are
    /// honest).
    pub roles: Vec<Role>,
    /// Validators checked as if honest although their role attacks. Only for
    /// tests that prove the checker catches what such a validator does.
    pub audited_byzantine: Vec<usize>,
    /// Deliberately broken validators (audited as honest). Only for tests that
    /// prove the checks catch the consequence.
    pub broken: Vec<(usize, Broken)>,
    /// Each host's clock offset from true time (clock skew), within
    /// `clock_precision_ms / 2`.
    pub clock_offsets_ms: Vec<i64>,
    /// The timeliness window of the engines: largest clock difference.
    pub clock_precision_ms: u64,
    /// The timeliness window of the engines: largest proposal delay.
    pub message_delay_ms: u64,
    /// Delays, loss and duplication.
    pub network: NetworkModel,
    /// At most one partition, healed before `stable_ms`.
    pub partition: Option<Partition>,
    /// Crashes of honest nodes, each restarted before `stable_ms`.
    pub crashes: Vec<Crash>,
    /// The core's timeouts.
    pub consensus: ConsensusConfig,
    /// How long a proposer waits before building a block from its mempool.
    pub build_wait_ms: u64,
    /// Period of the gossip catch-up: a validator whose (height, round) did
    /// not change for this long sends its own messages of the height again.
    pub gossip_interval_ms: u64,
    /// From this time on: no partition, no loss, every honest validator up.
    pub stable_ms: u64,
    /// Heights every honest validator must commit beyond the highest honest
    /// height at `stable_ms`.
    pub progress_heights: u64,
    /// Lowest height every honest validator must reach in any run.
    pub min_height: u64,
    /// Simulated time after `stable_ms` within which progress must happen.
    pub liveness_budget_ms: u64,
    /// Mint transactions the client submits (besides the setup ones).
    pub mints: u32,
    /// Whether the client also runs the collectible's life: syntheses racing
    /// for one input, and a blind box sold, closed and revealed (true for
    /// every drawn scenario; off only to replay runs recorded before it).
    pub life: bool,
}

impl Scenario {
    /// The largest number of Byzantine validators `n` tolerates: `f = (n - 1) / 3`.
    pub fn fault_tolerance(validators: usize) -> usize {
        validators.saturating_sub(1) / 3
    }

    /// The scenario of `seed` with `validators` validators: up to `f`
    /// Byzantine validators with a random attack each, a random network,
    /// maybe a partition, up to two crashes of honest validators.
    pub fn from_seed(seed: u64, validators: usize) -> Scenario {
        assert!(validators >= 1, "a chain needs at least one validator");
        // Mixing in the size gives 4- and 7-validator runs of one seed
        // unrelated randomness.
        let mut rng = Rng::new(seed ^ (validators as u64).wrapping_mul(0xa076_1d64_78bd_642f));
        let f = Self::fault_tolerance(validators);
        let byzantine = rng.below(f as u64 + 1) as usize;
        let mut roles = vec![Role::Honest; validators];
        for &i in rng.permutation(validators).iter().take(byzantine) {
            roles[i] = Role::Byzantine(Attack::ALL[rng.below(Attack::ALL.len() as u64) as usize]);
        }
        let delay_min_ms = rng.between(1, 5);
        let network = NetworkModel {
            delay_min_ms,
            delay_max_ms: rng.between(20, 200),
            loss_per_mille: [0, 0, 20, 50, 150][rng.below(5) as usize],
            duplicate_per_mille: [0, 20, 100][rng.below(3) as usize],
            corrupt_per_mille: [0, 0, 5, 30][rng.below(4) as usize],
        };
        let clock_precision_ms = 500;
        let skew = [0, 50, clock_precision_ms / 2][rng.below(3) as usize];
        let clock_offsets_ms: Vec<i64> =
            (0..validators).map(|_| rng.between(0, 2 * skew) as i64 - skew as i64).collect();
        let partition = if rng.chance(500) {
            let start_ms = rng.between(0, 3_000);
            let heal_ms = start_ms + rng.between(500, 4_000);
            let mut side: Vec<bool> = (0..validators).map(|_| rng.chance(500)).collect();
            // Both groups non-empty.
            side[0] = false;
            let last = validators - 1;
            if side.iter().all(|s| !s) && last > 0 {
                side[last] = true;
            }
            Some(Partition { start_ms, heal_ms, side })
        } else {
            None
        };
        let honest: Vec<usize> = (0..validators).filter(|&i| roles[i] == Role::Honest).collect();
        let mut crashes: Vec<Crash> = Vec::new();
        for _ in 0..rng.below(3) {
            let node = honest[rng.below(honest.len() as u64) as usize];
            let at_ms = rng.between(0, 4_000);
            let restart_ms = at_ms + rng.between(100, 3_000);
            let lose_unsynced_wal = rng.chance(500);
            let after_effects = rng.chance(500).then(|| rng.below(12) as u32);
            // A torn sign-state costs the validator the height it was at (the repair floor):
            // drawn only where the others are all honest, so liveness never needs it.
            let tear_sign_state = byzantine == 0 && after_effects.is_some() && rng.chance(300);
            // A stale sign-state (an operator restored an old copy) is safe only while the
            // WAL and the store agree: after a power loss took blocks the WAL no longer
            // covers, nothing can tell what was signed (docs/operations.md). Drawn with
            // clean stops only.
            let stale_sign_state = rng.chance(150) && !lose_unsynced_wal;
            // One life at a time: skip a crash that overlaps another of the same node.
            if crashes.iter().any(|c| c.node == node && at_ms <= c.restart_ms && c.at_ms <= restart_ms) {
                continue;
            }
            crashes.push(Crash {
                node,
                at_ms,
                restart_ms,
                lose_unsynced_wal,
                after_effects,
                tear_sign_state,
                stale_sign_state,
                amnesia: false,
            });
        }
        // Validator-set changes, in about a third of the runs, racing the faults above.
        let (observers, set_changes) = draw_set_changes(&mut rng, validators, &roles);
        for change in &set_changes {
            // An added host is sometimes down when the change is committed (T28 keeps the
            // chain live without it), back before the network is stable.
            if let SetChange::Add { host, .. } = change.change
                && rng.chance(300)
            {
                let at_ms = rng.between(0, change.not_before_ms);
                let lose_unsynced_wal = rng.chance(500);
                crashes.push(Crash {
                    node: host,
                    at_ms,
                    restart_ms: change.not_before_ms + rng.between(1_000, 4_000),
                    lose_unsynced_wal,
                    after_effects: None,
                    tear_sign_state: false,
                    stale_sign_state: false,
                    amnesia: false,
                });
            }
        }
        let mut clock_offsets_ms = clock_offsets_ms;
        let mut partition = partition;
        for _ in 0..observers {
            roles.push(Role::Honest);
            clock_offsets_ms.push(rng.between(0, 2 * skew) as i64 - skew as i64);
            if let Some(p) = partition.as_mut() {
                p.side.push(rng.chance(500));
            }
        }
        let mut scenario = Scenario {
            seed,
            validators,
            observers,
            set_changes,
            roles,
            audited_byzantine: Vec::new(),
            broken: Vec::new(),
            clock_offsets_ms,
            clock_precision_ms,
            message_delay_ms: 3_000,
            network,
            partition,
            crashes,
            consensus: ConsensusConfig {
                timeout_propose_ms: 1_000,
                timeout_prevote_ms: 300,
                timeout_precommit_ms: 300,
                timeout_delta_ms: 200,
            },
            build_wait_ms: 150,
            gossip_interval_ms: 600,
            stable_ms: 0,
            progress_heights: 3,
            min_height: 4,
            liveness_budget_ms: 60_000,
            mints: 6,
            life: true,
        };
        scenario.stable_ms = scenario.earliest_stable_ms();
        scenario
    }

    /// Number of simulated nodes: the genesis validators, then the observers.
    pub fn hosts(&self) -> usize {
        self.validators + self.observers
    }

    /// The validator set after each planned change, the genesis set first:
    /// the sets that can be in force during the run (changes are committed
    /// in order, one at a time), with the [`ValidatorChange`] each one
    /// results from. `Err` when a change is refused by the rules the ledger
    /// applies (T25-T28).
    pub fn planned_sets(&self) -> Result<Vec<(Option<ValidatorChange>, ValidatorSet)>, String> {
        let mut plan = Plan::new(self.validators, self.hosts());
        let mut sets = vec![(None, plan.set.clone())];
        for (i, planned) in self.set_changes.iter().enumerate() {
            let change = plan.apply(planned.change).map_err(|e| format!("change {i}: {e}"))?;
            sets.push((Some(change), plan.set.clone()));
        }
        Ok(sets)
    }

    /// The fault assumption the checker judges runs by, for every set that can
    /// be in force: the Byzantine hosts hold less than a third of its power;
    /// and where a key rotates, less than a third together with the rotated
    /// validator, in the set governing the height after the change (its
    /// operator may restart the node with the new key during that height, so
    /// the old key is gone for the rest of it: a crash that does not heal).
    /// True for every drawn scenario ([`crate::run_seed`] asserts it).
    pub fn within_fault_budget(&self) -> bool {
        let Ok(sets) = self.planned_sets() else { return false };
        let byzantine = |set: &ValidatorSet| self.byzantine_power(set);
        sets.iter().all(|(_, set)| 3 * byzantine(set) < set.total_power())
            && sets.windows(2).all(|w| rotation_within_budget(&byzantine, &w[0].1, w[1].0.as_ref()))
    }

    /// The power of `set` held by Byzantine hosts (whose keys never rotate).
    pub fn byzantine_power(&self, set: &ValidatorSet) -> u64 {
        (0..self.hosts())
            .filter(|&h| self.roles.get(h).is_some_and(|r| *r != Role::Honest))
            .filter_map(|h| set.get(&host_key(self.validators, h, 0).public()))
            .map(|v| v.power)
            .sum()
    }

    /// The first time at which the partition has healed and every crashed
    /// validator is back.
    pub fn earliest_stable_ms(&self) -> u64 {
        let heal = self.partition.as_ref().map_or(0, |p| p.heal_ms);
        let restart = self.crashes.iter().map(|c| c.restart_ms).max().unwrap_or(0);
        heal.max(restart)
    }

    /// Validators audited by the checks: the honest ones and
    /// [`Scenario::audited_byzantine`].
    pub fn audited(&self, node: usize) -> bool {
        self.roles[node] == Role::Honest || self.audited_byzantine.contains(&node)
    }

    /// How validator `node` is broken, if it is.
    pub fn broken(&self, node: usize) -> Option<Broken> {
        self.broken.iter().find(|(n, _)| *n == node).map(|(_, b)| *b)
    }

    /// Number of Byzantine validators.
    pub fn byzantine_count(&self) -> usize {
        self.roles.iter().filter(|r| **r != Role::Honest).count()
    }
}

/// Probability, in thousandths, that a run draws validator-set changes.
const SET_CHANGES_PER_MILLE: u64 = 350;

/// Draws up to three set changes (and the observer hosts they add), each
/// checked against the rules the ledger applies and the fault budget, so
/// that every set in force keeps the Byzantine hosts below a third of its power.
fn draw_set_changes(rng: &mut Rng, validators: usize, roles: &[Role]) -> (usize, Vec<PlannedChange>) {
    let mut changes = Vec::new();
    let mut observers = 0;
    if validators < 2 || !rng.chance(SET_CHANGES_PER_MILLE) {
        return (observers, changes);
    }
    let byzantine = |host: usize| roles.get(host).is_some_and(|r| *r != Role::Honest);
    let mut plan = Plan::new(validators, validators);
    let mut at_ms = rng.between(200, 2_500);
    for _ in 0..rng.between(1, 3) {
        let members = plan.members();
        let honest: Vec<usize> = members.iter().copied().filter(|&h| !byzantine(h)).collect();
        let change = match rng.below(4) {
            0 => SetChange::Add { host: validators + observers, power: rng.between(1, 2) },
            1 => SetChange::Remove { host: members[rng.below(members.len() as u64) as usize] },
            2 => SetChange::SetPower {
                host: members[rng.below(members.len() as u64) as usize],
                power: rng.between(1, 3),
            },
            _ if honest.is_empty() => continue,
            _ => SetChange::RotateKey {
                host: honest[rng.below(honest.len() as u64) as usize],
                restart_delay_ms: rng.between(0, 1_500),
            },
        };
        let mut next = plan.clone();
        if let SetChange::Add { .. } = change {
            next.add_host();
        }
        let Ok(validator_change) = next.apply(change) else { continue };
        let byzantine_power_of = |set: &ValidatorSet| -> u64 {
            (0..next.generation.len())
                .filter(|&h| byzantine(h))
                .filter_map(|h| set.get(&host_key(validators, h, 0).public()))
                .map(|v| v.power)
                .sum()
        };
        if 3 * byzantine_power_of(&next.set) >= next.set.total_power()
            || !rotation_within_budget(&byzantine_power_of, &plan.set, Some(&validator_change))
        {
            continue;
        }
        plan = next;
        if let SetChange::Add { .. } = change {
            observers += 1;
        }
        changes.push(PlannedChange { change, not_before_ms: at_ms });
        at_ms += rng.between(0, 1_500);
    }
    (observers, changes)
}

/// For a key rotation out of `before` (the set governing the height after
/// the change): the Byzantine power and the rotated validator's together
/// stay below a third of it. Other changes: true.
fn rotation_within_budget(
    byzantine_power: &dyn Fn(&ValidatorSet) -> u64,
    before: &ValidatorSet,
    change: Option<&ValidatorChange>,
) -> bool {
    let Some(ValidatorChange::RotateKey { old_key, .. }) = change else { return true };
    let rotated = before.get(old_key).map_or(0, |v| v.power);
    3 * (byzantine_power(before) + rotated) < before.total_power()
}

/// The validator set and each host's key generation while changes are
/// applied in order: the one translation of a [`SetChange`] into the
/// [`ValidatorChange`] the governors sign.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    validators: usize,
    /// Key generation of each host.
    pub generation: Vec<u32>,
    /// The set after the changes applied so far.
    pub set: ValidatorSet,
}

impl Plan {
    /// The genesis set, with `hosts` hosts.
    pub(crate) fn new(validators: usize, hosts: usize) -> Plan {
        let set = TestNet::new(validators).genesis.validator_set();
        Plan { validators, generation: vec![0; hosts], set }
    }

    fn add_host(&mut self) {
        self.generation.push(0);
    }

    /// The current key of `host`.
    pub(crate) fn key(&self, host: usize) -> Keypair {
        host_key(self.validators, host, self.generation[host])
    }

    /// Hosts whose current key is in the set, in host order.
    fn members(&self) -> Vec<usize> {
        (0..self.generation.len()).filter(|&h| self.set.get(&self.key(h).public()).is_some()).collect()
    }

    /// The change `change` is, with the current keys.
    pub(crate) fn validator_change(&self, change: SetChange) -> ValidatorChange {
        let public = |host: usize| -> PublicKey { self.key(host).public() };
        match change {
            SetChange::Add { host, power } => ValidatorChange::Add {
                validator: Validator { public_key: public(host), power, name: format!("host-{host}") },
            },
            SetChange::Remove { host } => ValidatorChange::Remove { public_key: public(host) },
            SetChange::SetPower { host, power } => {
                ValidatorChange::SetPower { public_key: public(host), power }
            }
            SetChange::RotateKey { host, .. } => ValidatorChange::RotateKey {
                old_key: public(host),
                new_key: host_key(self.validators, host, self.generation[host] + 1).public(),
            },
        }
    }

    /// Applies `change` (as the ledger does, [`ValidatorSet::apply`]); returns
    /// the [`ValidatorChange`] it is.
    pub(crate) fn apply(&mut self, change: SetChange) -> Result<ValidatorChange, String> {
        let host = match change {
            SetChange::Add { host, .. }
            | SetChange::Remove { host }
            | SetChange::SetPower { host, .. }
            | SetChange::RotateKey { host, .. } => host,
        };
        if host >= self.generation.len() {
            return Err(format!("host {host} does not exist"));
        }
        let validator_change = self.validator_change(change);
        self.set = self.set.apply(&validator_change).map_err(|e| e.to_string())?;
        if let SetChange::RotateKey { host, .. } = change {
            self.generation[host] += 1;
        }
        Ok(validator_change)
    }
}
