//! Shared fixtures: a 4-validator set, signed messages, dummy blocks, and a
//! tiny deterministic cluster that wires several cores together.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use keepsake_consensus::{Consensus, ConsensusConfig, Evidence, Input, Output, Step, Timeout, proposer};
use keepsake_types::{
    Block, BlockHash, Commit, Hash32, Header, Keypair, ProposalData, PublicKey, Validator, ValidatorSet,
    VoteData, VoteKind,
};

pub const CHAIN: &str = "keepsake-test";

/// Four validators of power 1, keys from seeds `[0; 32]` .. `[3; 32]`.
pub struct Fixture {
    pub keys: Vec<Keypair>,
    pub vs: ValidatorSet,
}

impl Fixture {
    pub fn new(n: u8) -> Self {
        Self::with_powers(&vec![1; n as usize])
    }

    pub fn with_powers(powers: &[u64]) -> Self {
        let keys: Vec<Keypair> = (0..powers.len() as u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let vs = ValidatorSet {
            validators: keys
                .iter()
                .zip(powers)
                .enumerate()
                .map(|(i, (k, p))| Validator { public_key: k.public(), power: *p, name: format!("org{i}") })
                .collect(),
        };
        Fixture { keys, vs }
    }

    pub fn pk(&self, i: usize) -> PublicKey {
        self.keys[i].public()
    }

    /// Index of the proposer of `(h, r)`.
    pub fn proposer_index(&self, h: u64, r: u32) -> usize {
        let p = proposer(&self.vs, h, r);
        self.keys.iter().position(|k| k.public() == p).expect("proposer is a validator")
    }

    /// Index of some validator that is not the proposer of `(h, r)`.
    pub fn non_proposer(&self, h: u64, r: u32) -> usize {
        (self.proposer_index(h, r) + 1) % self.keys.len()
    }

    pub fn core(&self, i: usize) -> Consensus {
        Consensus::new(CHAIN.into(), self.vs.clone(), Some(self.pk(i)), ConsensusConfig::default())
    }

    pub fn observer(&self) -> Consensus {
        Consensus::new(CHAIN.into(), self.vs.clone(), None, ConsensusConfig::default())
    }

    /// A dummy block of height `h`; `salt` makes different blocks.
    pub fn block(&self, h: u64, salt: u64) -> Block {
        Block {
            header: Header {
                chain_id: CHAIN.parse().unwrap(),
                height: h,
                prev_hash: BlockHash([7; 32]),
                time_ms: 1_000 + salt,
                proposer: self.pk(0),
                tx_count: 0,
                tx_root: keepsake_types::merkle::empty_root(),
                log_size: 0,
                log_root: keepsake_types::merkle::empty_root(),
                validators_hash: self.vs.hash(CHAIN),
                state_root: Hash32([salt as u8; 32]),
            },
            txs: Vec::new(),
        }
    }

    pub fn vote(&self, i: usize, h: u64, r: u32, kind: VoteKind, v: Option<BlockHash>) -> Input {
        Input::Vote(VoteData { height: h, round: r, kind, block_hash: v }.sign(CHAIN, &self.keys[i]))
    }

    pub fn prevote(&self, i: usize, h: u64, r: u32, v: Option<BlockHash>) -> Input {
        self.vote(i, h, r, VoteKind::Prevote, v)
    }

    pub fn precommit(&self, i: usize, h: u64, r: u32, v: Option<BlockHash>) -> Input {
        self.vote(i, h, r, VoteKind::Precommit, v)
    }

    /// A proposal signed by the rightful proposer of `(h, r)`.
    pub fn proposal(&self, h: u64, r: u32, pol_round: Option<u32>, block: &Block) -> Input {
        self.proposal_by(self.proposer_index(h, r), h, r, pol_round, block)
    }

    pub fn proposal_by(&self, i: usize, h: u64, r: u32, pol_round: Option<u32>, block: &Block) -> Input {
        let data = ProposalData { height: h, round: r, pol_round, block_hash: block.header.hash() };
        Input::Proposal(Box::new(data.sign(CHAIN, &self.keys[i], block.clone())))
    }
}

pub fn verdict(h: u64, r: u32, block: &Block, valid: bool) -> Input {
    Input::ProposalVerdict { height: h, round: r, block_hash: block.header.hash(), valid }
}

pub fn timeout(h: u64, r: u32, step: Step) -> Input {
    Input::TimeoutElapsed(Timeout { height: h, round: r, step })
}

/// The votes among `outputs`.
pub fn votes(outputs: &[Output]) -> Vec<VoteData> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Vote(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

pub fn vote_data(h: u64, r: u32, kind: VoteKind, v: Option<BlockHash>) -> VoteData {
    VoteData { height: h, round: r, kind, block_hash: v }
}

/// Feeds every input, returning all outputs.
pub fn feed(core: &mut Consensus, inputs: impl IntoIterator<Item = Input>) -> Vec<Output> {
    inputs.into_iter().flat_map(|i| core.handle(i)).collect()
}

/// Signs `Output::Vote` / `Output::Propose` of validator `i` and feeds them
/// back (as the driver does); returns every output including the ones caused
/// by the feedback. Validation requests are answered with `valid`.
pub fn feed_back(
    fx: &Fixture,
    i: usize,
    core: &mut Consensus,
    first: Vec<Output>,
    valid: bool,
) -> Vec<Output> {
    let mut all = Vec::new();
    let mut pending: VecDeque<Output> = first.into();
    while let Some(o) = pending.pop_front() {
        let next = match &o {
            Output::Vote(data) => Some(Input::Vote(data.clone().sign(CHAIN, &fx.keys[i]))),
            Output::Propose { data, block } => {
                Some(Input::Proposal(Box::new(data.clone().sign(CHAIN, &fx.keys[i], block.clone()))))
            }
            Output::ValidateBlock { height, round, block } => Some(Input::ProposalVerdict {
                height: *height,
                round: *round,
                block_hash: block.header.hash(),
                valid,
            }),
            _ => None,
        };
        all.push(o);
        if let Some(input) = next {
            pending.extend(core.handle(input));
        }
    }
    all
}

/// A node of the simulated cluster.
pub struct Node {
    pub core: Consensus,
    /// Signing key index; `None` for an observer.
    pub key: Option<usize>,
    pub decisions: BTreeMap<u64, Vec<(Block, Commit)>>,
    pub timers: Vec<Timeout>,
}

/// A cluster in which every message reaches every node, in a deterministic
/// order chosen by a seeded generator (seed 0: FIFO).
pub struct Cluster {
    pub fx: Fixture,
    pub nodes: Vec<Node>,
    /// (destination, input), delivered in an order picked by `rng`.
    pub queue: Vec<(usize, Input)>,
    pub log: Vec<(usize, Output)>,
    pub evidence: Vec<Evidence>,
    /// Blocks whose verdict is "invalid".
    pub invalid: BTreeSet<BlockHash>,
    /// Nodes whose built blocks are invalid (a Byzantine proposer slipping in a transfer).
    pub bad_proposers: BTreeSet<usize>,
    /// Byzantine nodes that sign two different votes for every step: the
    /// requested one to even nodes, the opposite one (nil <-> their own
    /// value) to odd nodes.
    pub equivocators: BTreeSet<usize>,
    /// Nodes that are down (receive and send nothing).
    pub down: BTreeSet<usize>,
    /// Every proposal and vote ever sent, for nodes that catch up (the
    /// gossip layer's retransmission: messages that reached a node's old
    /// core are given to its fresh one).
    pub history: Vec<Input>,
    /// How many times a node caught up by sync.
    pub synced: usize,
    /// Stop feeding `StartHeight` after this height is decided.
    pub last_height: u64,
    rng: u64,
}

impl Cluster {
    pub fn new(validators: u8, observers: usize, seed: u64) -> Self {
        let fx = Fixture::new(validators);
        let mut nodes: Vec<Node> = (0..validators as usize)
            .map(|i| Node { core: fx.core(i), key: Some(i), decisions: BTreeMap::new(), timers: Vec::new() })
            .collect();
        for _ in 0..observers {
            nodes.push(Node {
                core: fx.observer(),
                key: None,
                decisions: BTreeMap::new(),
                timers: Vec::new(),
            });
        }
        Cluster {
            fx,
            nodes,
            queue: Vec::new(),
            log: Vec::new(),
            evidence: Vec::new(),
            invalid: BTreeSet::new(),
            bad_proposers: BTreeSet::new(),
            equivocators: BTreeSet::new(),
            down: BTreeSet::new(),
            last_height: 1,
            synced: 0,
            history: Vec::new(),
            rng: seed,
        }
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn start(&mut self, height: u64) {
        for i in 0..self.nodes.len() {
            self.queue.push((i, Input::StartHeight { height }));
        }
    }

    fn broadcast(&mut self, input: Input) {
        self.history.push(input.clone());
        for j in 0..self.nodes.len() {
            if !self.down.contains(&j) {
                self.queue.push((j, input.clone()));
            }
        }
    }

    pub fn deliver(&mut self, i: usize, input: Input) {
        if self.down.contains(&i) {
            return;
        }
        let outputs = self.nodes[i].core.handle(input);
        for o in outputs {
            self.log.push((i, o.clone()));
            match o {
                Output::BuildBlock { height, round } => {
                    let salt = 100 * i as u64 + u64::from(round);
                    let block = self.fx.block(height, salt);
                    if self.bad_proposers.contains(&i) {
                        self.invalid.insert(block.header.hash());
                    }
                    self.queue.push((i, Input::BlockBuilt { height, round, block: block.into() }));
                }
                Output::ValidateBlock { height, round, block } => {
                    let block_hash = block.header.hash();
                    let valid = !self.invalid.contains(&block_hash);
                    self.queue.push((i, Input::ProposalVerdict { height, round, block_hash, valid }));
                }
                Output::Propose { data, block } => {
                    let key = &self.fx.keys[self.nodes[i].key.expect("observers never propose")];
                    self.broadcast(Input::Proposal(Box::new(data.sign(CHAIN, key, block))));
                }
                Output::Vote(data) => {
                    let key = self.fx.keys[self.nodes[i].key.expect("observers never vote")].clone();
                    if self.equivocators.contains(&i) {
                        let mut other = data.clone();
                        other.block_hash = match data.block_hash {
                            Some(_) => None,
                            None => Some(self.fx.block(data.height, 999).header.hash()),
                        };
                        let (a, b) =
                            (Input::Vote(data.sign(CHAIN, &key)), Input::Vote(other.sign(CHAIN, &key)));
                        self.history.extend([a.clone(), b.clone()]);
                        for j in 0..self.nodes.len() {
                            if !self.down.contains(&j) {
                                self.queue.push((j, if j % 2 == 0 { a.clone() } else { b.clone() }));
                                self.queue.push((j, if j % 2 == 0 { b.clone() } else { a.clone() }));
                            }
                        }
                    } else {
                        self.broadcast(Input::Vote(data.sign(CHAIN, &key)));
                    }
                }
                Output::ScheduleTimeout { timeout, .. } => self.nodes[i].timers.push(timeout),
                Output::Decide { block, commit } => {
                    let h = block.header.height;
                    self.nodes[i].decisions.entry(h).or_default().push(((*block).clone(), commit));
                    if h < self.last_height {
                        self.queue.push((i, Input::StartHeight { height: h + 1 }));
                    }
                }
                Output::Equivocation(e) => self.evidence.push(*e),
            }
        }
    }

    /// Delivers queued inputs until none is left.
    pub fn run_until_quiet(&mut self) {
        while !self.queue.is_empty() {
            let k = if self.rng == 0 { 0 } else { (self.next_rand() % self.queue.len() as u64) as usize };
            let (i, input) = self.queue.remove(k);
            self.deliver(i, input);
        }
    }

    /// Catch-up, as the node's driver does it: a node still deciding a height
    /// that another node already decided fetches the block with its commit,
    /// checks the commit and restarts a fresh core at the next height.
    pub fn sync(&mut self) {
        for i in 0..self.nodes.len() {
            let h = self.nodes[i].core.height();
            if self.down.contains(&i) || self.nodes[i].decisions.contains_key(&h) {
                continue;
            }
            let Some(found) = self.nodes.iter().find_map(|n| n.decisions.get(&h).map(|d| d[0].clone()))
            else {
                continue;
            };
            found.1.verify(&found.0.header, &self.fx.vs).expect("synced commit verifies");
            self.synced += 1;
            let n = &mut self.nodes[i];
            n.decisions.entry(h).or_default().push(found);
            n.core = match n.key {
                Some(k) => self.fx.core(k),
                None => self.fx.observer(),
            };
            n.timers.clear();
            if h < self.last_height {
                self.queue.push((i, Input::StartHeight { height: h + 1 }));
                for m in &self.history {
                    self.queue.push((i, m.clone()));
                }
            }
        }
    }

    /// Fires every pending timer (as if enough time passed), lets lagging
    /// nodes catch up, then runs until quiet.
    pub fn fire_timers(&mut self) {
        self.sync();
        for i in 0..self.nodes.len() {
            let timers = std::mem::take(&mut self.nodes[i].timers);
            for t in timers {
                self.queue.push((i, Input::TimeoutElapsed(t)));
            }
        }
        self.run_until_quiet();
    }

    /// Runs, firing timers whenever the cluster goes quiet, until every live
    /// node decided `last_height` or `rounds` bursts of timers were fired.
    pub fn run(&mut self, rounds: usize) {
        self.run_until_quiet();
        for _ in 0..rounds {
            if self.all_decided(self.last_height) {
                return;
            }
            self.fire_timers();
        }
    }

    pub fn all_decided(&self, h: u64) -> bool {
        self.nodes.iter().enumerate().all(|(i, n)| self.down.contains(&i) || n.decisions.contains_key(&h))
    }

    /// Agreement: no two nodes decided different blocks at one height, and
    /// no node decided twice at one height. Every commit verifies.
    pub fn check_safety(&self) {
        let mut decided: BTreeMap<u64, BlockHash> = BTreeMap::new();
        for n in &self.nodes {
            for (h, ds) in &n.decisions {
                assert_eq!(ds.len(), 1, "decided more than once at height {h}");
                let (block, commit) = &ds[0];
                commit.verify(&block.header, &self.fx.vs).expect("commit verifies");
                assert!(!self.invalid.contains(&block.header.hash()), "decided an invalid block");
                let id = block.header.hash();
                assert_eq!(*decided.entry(*h).or_insert(id), id, "disagreement at height {h}");
            }
        }
    }
}
