//! The run loop: boots the validators, schedules the scenario's faults and
//! the client's transactions, processes events in (time, sequence) order and
//! stops when every audited validator reached the target height — or
//! reports the first [`Violation`].

use std::fmt;

use keepsake_ledger::testkit::{TestNet, box_entropy};
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{Keypair, TxBody};

use keepsake_engine::Marks;

use crate::byzantine::{BOX_NAME, FUSION_NAME, SERIES_NAME};
use crate::check::Violation;
use crate::host::SimNode;
use crate::scenario::{Plan, Role, Scenario, SetChange, host_key};
use crate::world::{EVENTS_MAX, Event, Stats, World};

/// What a successful run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReport {
    /// The seed.
    pub seed: u64,
    /// Number of validators.
    pub validators: usize,
    /// Number of Byzantine validators.
    pub byzantine: usize,
    /// When the network became stable (simulated ms).
    pub stable_ms: u64,
    /// The height every audited validator had to reach.
    pub target_height: u64,
    /// Lowest committed height among audited validators at the end.
    pub min_height: u64,
    /// Highest committed height among all validators at the end.
    pub max_height: u64,
    /// Simulated time at the end.
    pub end_ms: u64,
    /// Events processed.
    pub events: u64,
    /// Counters.
    pub stats: Stats,
    /// The engines' coverage marks, summed over the audited validators.
    pub marks: Marks,
    /// FNV-1a over the decided block hashes, in height order.
    pub chain_digest: u64,
    /// FNV-1a over every processed event's (time, sequence, kind).
    pub trace_digest: u64,
}

impl fmt::Display for SimReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "seed={} validators={} byzantine={} heights={}..{} (target {}) stable={}ms end={}ms events={} \
             sent={} dropped={} duplicated={} crashes={} synced={} refusals={} equivocations={} max_round={}",
            self.seed,
            self.validators,
            self.byzantine,
            self.min_height,
            self.max_height,
            self.target_height,
            self.stable_ms,
            self.end_ms,
            self.events,
            s.messages_sent,
            s.messages_dropped,
            s.messages_duplicated,
            s.crashes,
            s.blocks_synced,
            s.sign_refusals,
            s.equivocations_reported,
            s.max_decided_round,
        )
    }
}

/// Runs the scenario `seed` gives for `validators` validators.
pub fn run_seed(seed: u64, validators: usize) -> Result<SimReport, Violation> {
    let scenario = Scenario::from_seed(seed, validators);
    assert!(
        scenario.within_fault_budget(),
        "seed {seed} drew a scenario beyond the fault budget: {:?}",
        scenario.planned_sets()
    );
    run(scenario)
}

/// Nonce of the `i`-th planned set change (the setup uses small nonces).
const CHANGE_NONCE_BASE: u64 = 1_000;
/// How often the governors' client looks at the chain.
const GOVERNANCE_TICK_MS: u64 = 250;
/// How long the client waits for a submitted change before submitting it again.
const GOVERNANCE_RETRY_MS: u64 = 1_500;

/// The governors' client: submits the planned set changes in order, each
/// once the previous one governs, and plays the operator of a rotated key.
struct Governance {
    /// Keys and set after the changes committed so far.
    plan: Plan,
    /// The next change to submit.
    next: usize,
    /// When it was last submitted.
    submitted_ms: Option<u64>,
    /// Height of each committed change.
    heights: Vec<u64>,
    /// Rotations whose node has not switched key yet: (host, new generation,
    /// change height, operator delay).
    switches: Vec<(usize, u32, u64, u64)>,
}

impl Governance {
    fn done(&self, scenario: &Scenario) -> bool {
        self.next == scenario.set_changes.len() && self.switches.is_empty()
    }

    /// Lowest height every node must reach for the plan to have been exercised:
    /// the last change governs, and its set decided a block beyond the first.
    fn floor(&self) -> u64 {
        self.heights.last().map_or(0, |h| h + SET_CHANGE_DELAY + 1)
    }

    fn tick(&mut self, world: &mut World, nodes: &[SimNode]) {
        let scenario = world.scenario.clone();
        // What got committed since the last look.
        while let Some(planned) = scenario.set_changes.get(self.next) {
            let nonce = CHANGE_NONCE_BASE + self.next as u64;
            let Some(&(height, _, _)) = world.audit.changes().iter().find(|(_, n, _)| *n == nonce) else {
                break;
            };
            match planned.change {
                SetChange::Add { host, .. } => {
                    if nodes[host].live.is_none() {
                        world.stats.membership.added_while_down += 1;
                    }
                    if world.partitioned() {
                        world.stats.membership.added_during_partition += 1;
                    }
                }
                SetChange::RotateKey { host, restart_delay_ms } => {
                    self.switches.push((host, self.plan.generation[host] + 1, height, restart_delay_ms));
                }
                SetChange::Remove { .. } | SetChange::SetPower { .. } => {}
            }
            let change =
                self.plan.apply(planned.change).expect("a drawn plan applies (Scenario::planned_sets)");
            if world.tracing() {
                world.trace(format!(
                    "governance: change {} committed at height {height}, governs from {}: {}",
                    self.next,
                    height + SET_CHANGE_DELAY,
                    change.describe()
                ));
            }
            self.heights.push(height);
            self.next += 1;
            self.submitted_ms = None;
        }
        // The operator of a rotated key restarts its node with the new key once the
        // node has committed the change.
        let now = world.now_ms;
        self.switches.retain(|&(host, generation, height, delay)| {
            if nodes[host].height() < height {
                return true;
            }
            world.schedule(now + delay, Event::SwitchKey { node: host, generation });
            false
        });
        // The next change, once the previous one governs (T29) and its time has come.
        if let Some(planned) = scenario.set_changes.get(self.next)
            && now >= planned.not_before_ms
            && self.heights.last().is_none_or(|h| world.audit.highest() > *h)
            && self.submitted_ms.is_none_or(|t| now >= t + GOVERNANCE_RETRY_MS)
        {
            self.submitted_ms = Some(now);
            let change = self.plan.validator_change(planned.change);
            let new_key: Option<Keypair> = match planned.change {
                SetChange::Add { host, .. } => Some(self.plan.key(host)),
                SetChange::RotateKey { host, .. } => {
                    Some(host_key(scenario.validators, host, self.plan.generation[host] + 1))
                }
                SetChange::Remove { .. } | SetChange::SetPower { .. } => None,
            };
            let nonce = CHANGE_NONCE_BASE + self.next as u64;
            if world.tracing() {
                world.trace(format!("governance: submitting change {}: {}", self.next, change.describe()));
            }
            let testnet = world.testnet.clone();
            let mut signers: Vec<&Keypair> = testnet.governors.iter().take(2).collect();
            signers.extend(new_key.as_ref());
            let tx = TxBody::ChangeValidators { change, nonce }.sign(world.chain(), &signers);
            for node in 0..scenario.hosts() {
                let delay = world.rng.between(0, 50);
                world.schedule_in(delay, Event::SubmitTx { node, tx: Box::new(tx.clone()) });
            }
        }
        if !self.done(&scenario) {
            world.schedule_in(GOVERNANCE_TICK_MS, Event::Governance);
        }
    }
}

/// How often the blind-box client looks at the chain.
const BOX_CLIENT_TICK_MS: u64 = 250;
/// How long it waits for a submitted reveal before submitting it again.
const BOX_CLIENT_RETRY_MS: u64 = 1_500;
/// The seed of the simulation's blind box (its issuer's secret until the reveal).
fn box_seed() -> keepsake_types::Hash32 {
    TestNet::box_seed(7)
}

/// The blind-box client: once an audited node has committed the close of the
/// box, reads the entropy (the log root just after the close) from that node's
/// committed state, as a real client would over RPC, and submits the reveal to
/// every node; again later until some audited node has committed it.
struct BoxClient {
    submitted_ms: Option<u64>,
}

impl BoxClient {
    fn tick(&mut self, world: &mut World, nodes: &[SimNode]) {
        use keepsake_engine::ChainStore;
        use keepsake_ledger::StateView;
        let testnet = world.testnet.clone();
        let series = testnet.series_id(&testnet.issuer, BOX_NAME);
        let audited = || nodes.iter().filter(|n| world.scenario.audited(n.index));
        let revealed = audited().any(|n| {
            n.disk.chain.state().series_life(&series).ok().flatten().is_some_and(|l| l.revealed.is_some())
        });
        let deadline = world.scenario.stable_ms + world.scenario.liveness_budget_ms;
        if revealed || world.now_ms > deadline {
            return;
        }
        let now = world.now_ms;
        let entropy = audited().find_map(|n| box_entropy(n.disk.chain.state(), &series));
        if let Some(entropy) = entropy
            && self.submitted_ms.is_none_or(|t| now >= t + BOX_CLIENT_RETRY_MS)
        {
            self.submitted_ms = Some(now);
            let tx = testnet.reveal_box(&testnet.issuer, series, box_seed(), entropy);
            for node in 0..world.scenario.hosts() {
                let delay = world.rng.between(0, 50);
                world.schedule_in(delay, Event::SubmitTx { node, tx: Box::new(tx.clone()) });
            }
        }
        world.schedule_in(BOX_CLIENT_TICK_MS, Event::BoxClient);
    }
}

/// What to print for a failing seed: the seed, the violation and the
/// command that replays it exactly.
pub fn failure_report(seed: u64, validators: usize, failure: &dyn fmt::Display) -> String {
    format!(
        "seed={seed} validators={validators}\n  {failure}\n  replay: KEEPSAKE_SIM_SEED={seed} \
         KEEPSAKE_SIM_VALIDATORS={validators} cargo test -p keepsake-sim --release -- replay --nocapture"
    )
}

/// The client's transactions: the setup (issuer, reviewer, series) early,
/// then mints spread over the run, and one transfer that every honest
/// mempool must leave out. Then the collectible's life: a series whose
/// recipe burns two of the first, two syntheses racing for one input (at
/// most one may burn it), and a blind box sold, then closed (its reveal
/// needs the committed log: [`BoxClient`]).
fn client_schedule(testnet: &TestNet, mints: u32, life: bool) -> Vec<(u64, keepsake_types::SignedTx)> {
    // Admission checks against committed state, so like a real client this
    // one re-submits what was refused because it came too early (a series
    // before its issuer is registered, a mint before its series exists):
    // every transaction goes out at its time and twice more later.
    const RETRIES_MS: [u64; 3] = [0, 1_500, 4_000];
    let mut once = Vec::new();
    for tx in testnet.setup_txs() {
        once.push((10, tx));
    }
    once.push((400, testnet.create_series(&testnet.issuer, &testnet.reviewer, SERIES_NAME, 1_000)));
    let series = testnet.series_id(&testnet.issuer, SERIES_NAME);
    for edition in 1..=mints {
        once.push((900 + u64::from(edition) * 400, testnet.mint(&testnet.issuer, series, edition, edition)));
    }
    // A rival mint of an edition (another holder) at the same time as the
    // first: both are admitted, the block builder must leave one of them out.
    if mints >= 3 {
        once.push((900 + 3 * 400, testnet.mint(&testnet.issuer, series, 3, 5_000)));
    }
    if life {
        life_schedule(testnet, &mut once);
    }
    let chain = testnet.chain().to_string();
    let transfer = TxBody::Transfer {
        certificate_id: keepsake_types::ids::certificate_id(&chain, &series, 1),
        to: TestNet::holder(1_000),
    }
    .sign(&chain, &[&testnet.issuer]);
    once.push((1_500, transfer));
    once.into_iter().flat_map(|(at, tx)| RETRIES_MS.map(|r| (at + r, tx.clone()))).collect()
}

/// The collectible's life in the client's schedule (see [`client_schedule`]).
fn life_schedule(testnet: &TestNet, once: &mut Vec<(u64, keepsake_types::SignedTx)>) {
    let series = testnet.series_id(&testnet.issuer, SERIES_NAME);
    let issuer = &testnet.issuer;
    let fusion = testnet.series_id(issuer, FUSION_NAME);
    let blind = testnet.series_id(issuer, BOX_NAME);
    let fusion_terms = TestNet::recipe(&[(series, 2)]);
    once.push((
        900,
        testnet.create_series_with_terms(issuer, &testnet.reviewer, FUSION_NAME, 100, fusion_terms),
    ));
    let box_terms = testnet.blind_box(&box_seed(), &[1, 3]);
    once.push((400, testnet.create_series_with_terms(issuer, &testnet.reviewer, BOX_NAME, 4, box_terms)));
    // Parts held by one collector (editions far above the plain mints').
    const COLLECTOR: u32 = 7_000;
    for edition in 901..=903 {
        once.push((1_300, testnet.mint(issuer, series, edition, COLLECTOR)));
    }
    for edition in 1..=2 {
        once.push((1_300, testnet.mint(issuer, blind, edition, edition)));
    }
    let part = |e: u32| testnet.certificate(&series, e);
    once.push((2_500, testnet.synthesize(issuer, fusion, 0, vec![part(901), part(902)], 1, COLLECTOR)));
    once.push((2_500, testnet.synthesize(issuer, fusion, 0, vec![part(902), part(903)], 2, COLLECTOR)));
    once.push((3_000, testnet.close_box(issuer, blind)));
}

/// Runs one scenario to the end: `Ok` with what happened when every check
/// held, or the first violation.
pub fn run(scenario: Scenario) -> Result<SimReport, Violation> {
    let mut world = World::new(scenario.clone());
    simulate(&mut world, &scenario)
}

/// [`run`], also returning a trace: every input and output of every core and
/// every fault, one line each, stamped with the simulated time. For replaying
/// a failing seed (`KEEPSAKE_SIM_TRACE=1` in the `replay` test).
pub fn run_traced(scenario: Scenario) -> (Result<SimReport, Violation>, Vec<String>) {
    let mut world = World::new(scenario.clone());
    world.enable_trace();
    let result = simulate(&mut world, &scenario);
    (result, world.take_trace())
}

fn simulate(world: &mut World, scenario: &Scenario) -> Result<SimReport, Violation> {
    let n = scenario.hosts();
    assert_eq!(scenario.roles.len(), n, "one role per host");
    assert!(scenario.partition.as_ref().is_none_or(|p| p.side.len() == n), "one side per host");
    let mut nodes: Vec<SimNode> = (0..n)
        .map(|i| {
            let key = host_key(scenario.validators, i, 0);
            SimNode::new(i, key, scenario, world)
        })
        .collect();
    for node in &mut nodes {
        node.boot(world, 0)?;
    }
    if let Some(p) = &scenario.partition {
        world.schedule(p.start_ms, Event::PartitionStart { side: p.side.clone() });
        world.schedule(p.heal_ms, Event::PartitionHeal);
    }
    for (i, c) in scenario.crashes.iter().enumerate() {
        world.schedule(c.at_ms, Event::Crash { crash: i });
        world.schedule(c.restart_ms, Event::Restart { crash: i });
    }
    for (at_ms, tx) in client_schedule(&world.testnet, scenario.mints, scenario.life) {
        for node in 0..n {
            let delay = world.rng.between(0, 50);
            world.schedule(at_ms + delay, Event::SubmitTx { node, tx: Box::new(tx.clone()) });
        }
    }
    let mut governance = Governance {
        plan: Plan::new(scenario.validators, n),
        next: 0,
        submitted_ms: None,
        heights: Vec::new(),
        switches: Vec::new(),
    };
    if !scenario.set_changes.is_empty() {
        world.schedule(GOVERNANCE_TICK_MS, Event::Governance);
    }
    let mut box_client = BoxClient { submitted_ms: None };
    if scenario.life {
        world.schedule(BOX_CLIENT_TICK_MS, Event::BoxClient);
    }
    // Last, so that it runs after heals and restarts scheduled at the same time.
    world.schedule(scenario.stable_ms, Event::Stable);

    let deadline_ms = scenario.stable_ms + scenario.liveness_budget_ms;
    let audited: Vec<usize> = (0..n).filter(|&i| scenario.audited(i)).collect();
    let mut target_height: Option<u64> = None;
    let mut events = 0u64;
    loop {
        let next = world.next_time();
        if next.is_none_or(|t| t > deadline_ms) {
            let frontier = nodes.iter().map(SimNode::height).max().unwrap_or(0) + 1;
            let in_force = world.audit.set_at(frontier);
            return Err(Violation::NoProgress {
                target_height: target_height.unwrap_or(0).max(governance.floor()),
                heights: nodes.iter().map(SimNode::height).collect(),
                rounds: nodes.iter().map(SimNode::round).collect(),
                changes_pending: scenario.set_changes.len() - governance.next,
                set_in_force: (0..n)
                    .filter(|&h| world.keys[h].iter().any(|k| in_force.get(k).is_some()))
                    .collect(),
                deadline_ms,
            });
        }
        if events >= EVENTS_MAX {
            return Err(Violation::EventLimit { events, at_ms: world.now_ms });
        }
        let Some(event) = world.pop() else { unreachable!("next_time saw an event") };
        events += 1;
        if world.tracing()
            && !matches!(
                event,
                Event::Deliver { .. } | Event::Timer { .. } | Event::Tick { .. } | Event::StoreSync { .. }
            )
        {
            world.trace(format!("event {event:?}").chars().take(200).collect());
        }
        match event {
            Event::Deliver { to, from, message } => nodes[to].on_message(world, from, *message)?,
            Event::Timer { node, life, timeout } => {
                if nodes[node].is_current(life) {
                    nodes[node].handle(world, keepsake_engine::Event::Timeout(timeout))?;
                }
            }
            Event::Build { node, life, height, round } => {
                if nodes[node].is_current(life) {
                    nodes[node].on_build(world, height, round)?;
                }
            }
            Event::Tick { node, life } => {
                if nodes[node].is_current(life) {
                    nodes[node].handle(world, keepsake_engine::Event::Tick)?;
                    let interval = world.scenario.gossip_interval_ms;
                    world.schedule_in(interval, Event::Tick { node, life });
                }
            }
            Event::StoreSync { node, life } => {
                if nodes[node].is_current(life) {
                    nodes[node].store_sync(world);
                }
            }
            Event::Crash { crash } => {
                let spec = scenario.crashes[crash].clone();
                match spec.after_effects {
                    Some(k) => nodes[spec.node].arm(k, crash),
                    // Without a moment to interrupt, a torn sign-state is a file found
                    // damaged at the restart.
                    None => nodes[spec.node].crash(world, &spec, spec.tear_sign_state),
                }
            }
            Event::Restart { crash } => {
                let spec = scenario.crashes[crash].clone();
                let node = &mut nodes[spec.node];
                // A power loss armed for the middle of a call that never came: it happens now.
                if node.is_armed() {
                    node.crash(world, &spec, false);
                }
                if node.live.is_none() && !node.halted {
                    world.stats.restarts += 1;
                    if spec.amnesia {
                        node.forget_consensus_dir(spec.tear_sign_state);
                    }
                    let peers_height =
                        (0..n).filter(|&i| i != spec.node).map(|i| nodes[i].height()).max().unwrap_or(0);
                    nodes[spec.node].boot(world, peers_height)?;
                }
            }
            Event::PartitionStart { side } => world.set_partition(Some(side)),
            Event::PartitionHeal => world.set_partition(None),
            Event::Stable => {
                world.stable = true;
                let highest = audited.iter().map(|&i| nodes[i].height()).max().unwrap_or(0);
                target_height = Some((highest + scenario.progress_heights).max(scenario.min_height));
            }
            Event::SubmitTx { node, tx } => nodes[node].submit(world, *tx),
            Event::Governance => governance.tick(world, &nodes),
            Event::BoxClient => box_client.tick(world, &nodes),
            Event::SwitchKey { node, generation } => {
                let peers_height =
                    (0..n).filter(|&i| i != node).map(|i| nodes[i].height()).max().unwrap_or(0);
                if !nodes[node].halted {
                    nodes[node].switch_key(world, generation, peers_height)?;
                }
            }
        }
        if let Some(target) = target_height.map(|t| t.max(governance.floor()))
            && governance.done(scenario)
            && audited.iter().all(|&i| nodes[i].height() >= target)
        {
            let mut stats = world.stats.clone();
            stats.membership.add(&world.audit.membership);
            (stats.burns_committed, stats.boxes_closed, stats.boxes_revealed) = world.audit.life_counts();
            let mut marks = Marks::default();
            for node in &nodes {
                let c = node.all_core_stats();
                stats.core_invalid_messages += c.invalid_messages;
                stats.core_stale_messages += c.stale_messages;
                stats.core_far_future_or_dropped += c.far_future_messages + c.dropped_messages;
                if scenario.audited(node.index) {
                    marks.add(&node.all_marks());
                }
            }
            let mut chain_digest: u64 = 0xcbf2_9ce4_8422_2325;
            for (height, hash) in world.audit.chain() {
                for byte in height.to_le_bytes().iter().chain(hash.0.iter()) {
                    chain_digest = (chain_digest ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
                }
            }
            return Ok(SimReport {
                seed: scenario.seed,
                validators: n,
                byzantine: scenario.roles.iter().filter(|r| **r != Role::Honest).count(),
                stable_ms: scenario.stable_ms,
                target_height: target,
                min_height: audited.iter().map(|&i| nodes[i].height()).min().unwrap_or(0),
                max_height: nodes.iter().map(SimNode::height).max().unwrap_or(0),
                end_ms: world.now_ms,
                events,
                stats,
                marks,
                chain_digest,
                trace_digest: world.trace_digest,
            });
        }
    }
}
