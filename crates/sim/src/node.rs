//! One simulated validator: the real [`Consensus`] core, a driver that does
//! what `node/src/driver.rs` does (ledger, sign guard, WAL, gossip, sync), a
//! simulated disk that survives crashes, and — for a Byzantine validator — an
//! attack wrapped around the same driver.
//!
//! | core output | honest driver | Byzantine differences |
//! |---|---|---|
//! | `BuildBlock` | after `build_wait_ms`, `ledger::build_block` from the mempool | `ProposeTransfer` / `ForgeTxSignature` tamper with the built block |
//! | `ValidateBlock` | `ledger::validate_block` on committed state | always answers "valid" |
//! | `Propose` / `Vote` | sign guard -> persist WAL and sign-state -> sign -> broadcast -> feed back | no guard; `Equivocate` signs two versions, one per half of the network; `ForgeProposalSignature` corrupts what it sends |
//! | `ScheduleTimeout` | a timer event | |
//! | `Decide` | verify the commit, re-check validity, commit through `MemoryState::commit`, `StartHeight` | |

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use keepsake_consensus::{Consensus, ConsensusStats, Input, Output, SignGuard, SignedStep, WalEntry};
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::TestNet;
use keepsake_ledger::{Executed, LedgerError, Tip, build_block, validate_block};
use keepsake_types::wire::{ConsensusMessage, SyncItem};
use keepsake_types::{
    Block, BlockHash, Commit, Keypair, Proposal, ProposalData, PublicKey, SignedTx, TxBody, TxId, Vote,
    VoteData, VoteKind, ids,
};

use crate::check::Violation;
use crate::scenario::{Attack, Role, Scenario};
use crate::world::{Event, Message, SYNC_BATCH_BLOCKS, World};

/// Name of the series the simulated client creates and mints from.
pub const SERIES_NAME: &str = "sim-series";
/// Most transactions waiting in a mempool.
pub const MEMPOOL_TXS_MAX: usize = 64;
/// Most transactions a simulated proposer puts in one block.
pub const BLOCK_TXS_MAX: usize = 8;
/// Times a transaction may be left out of a proposal before it is dropped.
const LEFT_OUT_MAX: u8 = 3;
/// Own messages of the current height kept for gossip catch-up.
const OWN_MESSAGES_MAX: usize = 6;
/// Most inputs one external input may cause (core <-> driver ping-pong).
const FEED_INPUTS_MAX: usize = 10_000;
/// Most prevotes of one height remembered for relaying.
const PREVOTES_SEEN_MAX: usize = 4096;
/// Least time between two sync requests of one node.
const SYNC_RETRY_MS: u64 = 1_000;

/// What survives a crash: committed blocks and state, the WAL of the current
/// height and the last signed step.
#[derive(Debug)]
pub(crate) struct Disk {
    /// Committed state.
    pub state: MemoryState,
    /// The last committed block's summary.
    pub tip: Tip,
    /// Committed blocks with their commits; `blocks[h - 1]` is height `h`.
    pub blocks: Vec<SyncItem>,
    /// Inputs of the current height, `(height, entry)`.
    wal: Vec<(u64, WalEntry)>,
    /// Length of the WAL at its last fsync (right before each signature).
    wal_synced: usize,
    /// The sign-state file.
    sign_state: Option<SignedStep>,
}

/// A mempool entry.
#[derive(Debug)]
struct PoolTx {
    id: TxId,
    tx: SignedTx,
    left_out: u8,
}

/// What a running validator holds in memory (lost at a crash).
pub(crate) struct Live {
    pub core: Consensus,
    guard: SignGuard,
    mempool: Vec<PoolTx>,
    /// Executions of blocks validated at the current tip, by header hash.
    executed: Vec<(BlockHash, Executed)>,
    pending_build: Option<(u64, u32)>,
    replaying: bool,
    built_during_replay: BTreeSet<(u64, u32)>,
    /// Our own signed messages of the current height (for gossip catch-up).
    own_messages: VecDeque<ConsensusMessage>,
    /// (height, round) at the previous gossip tick.
    last_progress: (u64, u32),
    /// Highest height a peer sent a message for, and that peer.
    highest_seen: (u64, usize),
    /// No sync request before this time.
    sync_wait_until_ms: u64,
    /// Prevotes of the current height seen so far (every distinct one: an
    /// equivocator's too), to relay the evidence of a lock (see [`Node::on_gossip`]).
    prevotes_seen: BTreeMap<(u32, PublicKey, Option<BlockHash>), Vote>,
}

impl Live {
    fn executed(&mut self, hash: &BlockHash) -> Option<Executed> {
        let i = self.executed.iter().position(|(h, _)| h == hash)?;
        Some(self.executed.swap_remove(i).1)
    }

    fn remember_prevote(&mut self, vote: &Vote) {
        let current = vote.data.height == self.core.height() && vote.data.kind == VoteKind::Prevote;
        if current && self.prevotes_seen.len() < PREVOTES_SEEN_MAX {
            self.prevotes_seen
                .entry((vote.data.round, vote.validator, vote.data.block_hash))
                .or_insert_with(|| vote.clone());
        }
    }

    fn remember_own(&mut self, message: ConsensusMessage) {
        if message.height() != self.core.height() || self.own_messages.contains(&message) {
            return;
        }
        if self.own_messages.len() == OWN_MESSAGES_MAX {
            self.own_messages.pop_front();
        }
        self.own_messages.push_back(message);
    }
}

/// One validator.
pub(crate) struct Node {
    pub index: usize,
    key: Keypair,
    pub role: Role,
    /// Checked by the audit (honest, or a Byzantine one a test wants checked).
    pub audited: bool,
    pub disk: Disk,
    pub live: Option<Live>,
    /// Incremented at every crash: events of an earlier life are ignored.
    life: u64,
    /// A Byzantine validator that hit a block it cannot commit stops for good.
    pub halted: bool,
    /// Sign guard off (amnesia fault injection).
    unguarded: bool,
    /// Answers every validity question with "valid" without asking the
    /// ledger (fault injection: a broken driver).
    skips_validation: bool,
    /// Counters of cores that were replaced (crash, sync).
    pub core_stats: ConsensusStats,
}

fn ledger_fault(node: usize, e: LedgerError) -> Violation {
    Violation::LedgerFault { node, reason: e.to_string() }
}

fn add_stats(into: &mut ConsensusStats, from: &ConsensusStats) {
    into.invalid_messages += from.invalid_messages;
    into.far_future_messages += from.far_future_messages;
    into.dropped_messages += from.dropped_messages;
    into.stale_messages += from.stale_messages;
    into.equivocations += from.equivocations;
}

impl Node {
    pub(crate) fn new(index: usize, key: Keypair, scenario: &Scenario, testnet: &TestNet) -> Node {
        Node {
            skips_validation: scenario.skip_validation.contains(&index),
            index,
            key,
            role: scenario.roles[index],
            audited: scenario.audited(index),
            disk: Disk {
                state: MemoryState::new(),
                tip: Tip::genesis(&testnet.genesis),
                blocks: Vec::new(),
                wal: Vec::new(),
                wal_synced: 0,
                sign_state: None,
            },
            live: None,
            life: 0,
            halted: false,
            unguarded: false,
            core_stats: ConsensusStats::default(),
        }
    }

    fn attack(&self) -> Option<Attack> {
        match self.role {
            Role::Honest => None,
            Role::Byzantine(a) => Some(a),
        }
    }

    /// The committed height.
    pub(crate) fn height(&self) -> u64 {
        self.disk.tip.height
    }

    /// Counters of all cores of this node so far.
    pub(crate) fn all_core_stats(&self) -> ConsensusStats {
        let mut total = self.core_stats.clone();
        if let Some(live) = &self.live {
            add_stats(&mut total, live.core.stats());
        }
        total
    }

    fn fresh_core(&self, w: &World) -> Consensus {
        Consensus::new(
            w.chain().to_string(),
            w.validators.clone(),
            Some(self.key.public()),
            w.scenario.consensus.clone(),
        )
    }

    /// Starts (or restarts) the validator from its disk: a fresh core at
    /// `tip + 1`, the WAL of that height replayed into it (signatures asked
    /// again pass the guard because they are identical), as the node does.
    pub(crate) fn boot(&mut self, w: &mut World, amnesia: bool) -> Result<(), Violation> {
        assert!(self.live.is_none(), "boot of a running node");
        if amnesia {
            self.disk.wal.clear();
            self.disk.wal_synced = 0;
            self.disk.sign_state = None;
            self.unguarded = true;
        }
        self.live = Some(Live {
            core: self.fresh_core(w),
            guard: SignGuard::new(self.disk.sign_state),
            mempool: Vec::new(),
            executed: Vec::new(),
            pending_build: None,
            replaying: true,
            built_during_replay: BTreeSet::new(),
            own_messages: VecDeque::new(),
            last_progress: (0, 0),
            highest_seen: (0, self.index),
            sync_wait_until_ms: 0,
            prevotes_seen: BTreeMap::new(),
        });
        let height = self.disk.tip.height + 1;
        self.feed(w, Input::StartHeight { height })?;
        let entries: Vec<Input> = self
            .disk
            .wal
            .iter()
            .filter(|(h, _)| *h == height)
            .map(|(_, WalEntry::Input(input))| input.clone())
            .collect();
        w.stats.wal_replayed += entries.len() as u64;
        for input in entries {
            let Some(live) = self.live.as_mut() else { return Ok(()) };
            if let Input::BlockBuilt { height, round, .. } = &input {
                live.built_during_replay.insert((*height, *round));
            }
            self.feed(w, input)?;
        }
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        live.replaying = false;
        if let Some((height, round)) = live.pending_build {
            if live.built_during_replay.contains(&(height, round)) {
                live.pending_build = None;
            } else {
                let event = Event::Build { node: self.index, life: self.life, height, round };
                w.schedule_in(w.scenario.build_wait_ms, event);
            }
        }
        let offset = w.rng.below(w.scenario.gossip_interval_ms);
        w.schedule_in(offset + 1, Event::Gossip { node: self.index, life: self.life });
        Ok(())
    }

    /// Power loss: memory and timers are gone; the disk stays (minus the WAL
    /// records written since the last fsync, when `lose_unsynced_wal`).
    pub(crate) fn crash(&mut self, w: &mut World, lose_unsynced_wal: bool) {
        let Some(live) = self.live.take() else { return };
        add_stats(&mut self.core_stats, live.core.stats());
        self.life += 1;
        w.stats.crashes += 1;
        if lose_unsynced_wal {
            let lost = self.disk.wal.len() - self.disk.wal_synced;
            self.disk.wal.truncate(self.disk.wal_synced);
            w.stats.wal_lost += lost as u64;
        }
    }

    fn halt(&mut self) {
        if let Some(live) = self.live.take() {
            add_stats(&mut self.core_stats, live.core.stats());
        }
        self.life += 1;
        self.halted = true;
    }

    /// Whether an event stamped with `life` is still for this node's current life.
    pub(crate) fn is_current(&self, life: u64) -> bool {
        self.live.is_some() && self.life == life
    }

    /// Feeds one input and everything it causes, in order. Every input but
    /// `StartHeight` is written to the WAL first (not during a replay).
    pub(crate) fn feed(&mut self, w: &mut World, first: Input) -> Result<(), Violation> {
        let mut queue = VecDeque::from([first]);
        let mut handled = 0usize;
        while let Some(input) = queue.pop_front() {
            handled += 1;
            assert!(
                handled <= FEED_INPUTS_MAX,
                "one input caused more than {FEED_INPUTS_MAX} follow-up inputs: a core/driver loop"
            );
            let Some(live) = self.live.as_mut() else { return Ok(()) };
            if let Input::Vote(vote) = &input {
                live.remember_prevote(vote);
            }
            // Our own signed messages, also those replayed from the WAL after
            // a restart (the guard lets us re-sign only the last one, but
            // peers may have missed the earlier ones): gossip catch-up
            // re-sends them. Byzantine validators do not bother.
            let me = self.key.public();
            if self.role == Role::Honest {
                match &input {
                    Input::Vote(v) if v.validator == me => {
                        live.remember_own(ConsensusMessage::Vote(v.clone()))
                    }
                    Input::Proposal(p) if p.proposer == me => {
                        live.remember_own(ConsensusMessage::Proposal(p.clone()))
                    }
                    _ => {}
                }
            }
            if !live.replaying && !matches!(input, Input::StartHeight { .. }) {
                self.disk.wal.push((live.core.height().max(1), WalEntry::Input(input.clone())));
            }
            if w.tracing() {
                let (height, round) = (live.core.height(), live.core.round());
                w.trace(format!("n{} h{height} r{round} in  {}", self.index, describe_input(&input)));
            }
            for output in live.core.handle(input) {
                if w.tracing() {
                    w.trace(format!("n{}          out {}", self.index, describe_output(&output)));
                }
                self.on_output(w, output, &mut queue)?;
            }
        }
        Ok(())
    }

    fn on_output(
        &mut self,
        w: &mut World,
        output: Output,
        queue: &mut VecDeque<Input>,
    ) -> Result<(), Violation> {
        let index = self.index;
        let life = self.life;
        match output {
            Output::BuildBlock { height, round } => {
                let Some(live) = self.live.as_mut() else { return Ok(()) };
                live.pending_build = Some((height, round));
                if !live.replaying {
                    w.schedule_in(
                        w.scenario.build_wait_ms,
                        Event::Build { node: index, life, height, round },
                    );
                }
            }
            Output::ValidateBlock { height, round, block } => {
                let block_hash = block.header.hash();
                // A Byzantine validator votes for anything; a broken driver
                // (fault injection) does not even ask the ledger.
                let valid = if self.skips_validation {
                    true
                } else {
                    self.validate(w, &block)? || self.attack().is_some()
                };
                queue.push_back(Input::ProposalVerdict { height, round, block_hash, valid });
            }
            Output::Propose { data, block } => self.propose(w, data, block, queue)?,
            Output::Vote(data) => self.vote(w, data, queue)?,
            Output::ScheduleTimeout { timeout, duration_ms } => {
                w.schedule_in(duration_ms, Event::Timer { node: index, life, timeout });
            }
            Output::Decide { block, commit } => {
                if let Err(e) = commit.verify(&block.header, &w.validators) {
                    if self.audited {
                        return Err(Violation::InvalidCommit {
                            node: index,
                            height: block.header.height,
                            reason: e.to_string(),
                        });
                    }
                    self.halt();
                    return Ok(());
                }
                w.stats.max_decided_round = w.stats.max_decided_round.max(commit.round);
                self.commit_block(w, block, commit)?;
                if self.live.is_some() {
                    queue.push_back(Input::StartHeight { height: self.disk.tip.height + 1 });
                }
            }
            Output::Equivocation(_) => w.stats.equivocations_reported += 1,
        }
        Ok(())
    }

    /// The ledger's verdict on `block` at our tip (cached by hash).
    fn validate(&mut self, w: &mut World, block: &Block) -> Result<bool, Violation> {
        let Some(live) = self.live.as_mut() else { return Ok(false) };
        let hash = block.header.hash();
        if live.executed.iter().any(|(h, _)| *h == hash) {
            return Ok(true);
        }
        match validate_block(&self.disk.state, &w.testnet.genesis, &self.disk.tip, block) {
            Ok(executed) => {
                live.executed.push((hash, executed));
                Ok(true)
            }
            Err(e) if e.is_rejection() => Ok(false),
            Err(e) => Err(ledger_fault(self.index, e)),
        }
    }

    /// Never double-sign: the guard's check, then the WAL fsync and the
    /// sign-state write, before the signature exists. False when refused.
    /// Byzantine (and amnesiac) validators skip it.
    fn persist_before_signing(&mut self, w: &mut World, step: &SignedStep) -> bool {
        if self.attack().is_some() || self.unguarded {
            return true;
        }
        let Some(live) = self.live.as_mut() else { return false };
        if let Err(refused) = live.guard.check(step) {
            if w.tracing() {
                w.trace(format!("n{} sign guard: {refused}", self.index));
            }
            w.stats.sign_refusals += 1;
            return false;
        }
        self.disk.wal_synced = self.disk.wal.len();
        if live.guard.last() != Some(*step) {
            self.disk.sign_state = Some(*step);
            live.guard.record(*step);
        }
        true
    }

    /// Audit hook: every signature of an audited validator is recorded.
    fn signed(&self, w: &mut World, step: &SignedStep) -> Result<(), Violation> {
        if self.audited { w.audit.signed(self.index, step) } else { Ok(()) }
    }

    /// Sends `message` to the validators of one parity (`odd`) of index.
    fn send_to_half(&self, w: &mut World, odd: bool, message: &Message) {
        for to in (0..w.scenario.validators).filter(|to| *to != self.index && (to % 2 == 1) == odd) {
            w.send(self.index, to, message.clone());
        }
    }

    fn propose(
        &mut self,
        w: &mut World,
        data: ProposalData,
        block: Block,
        queue: &mut VecDeque<Input>,
    ) -> Result<(), Violation> {
        let chain = w.chain().to_string();
        let step = SignedStep::for_proposal(&chain, &data);
        if !self.persist_before_signing(w, &step) {
            return Ok(());
        }
        self.signed(w, &step)?;
        let proposal = Box::new(data.clone().sign(&chain, &self.key, block.clone()));
        match self.attack() {
            Some(Attack::Equivocate) => {
                // A second valid block: same transactions, one millisecond later.
                let other = build_block(
                    &self.disk.state,
                    &w.testnet.genesis,
                    &self.disk.tip,
                    self.key.public(),
                    block.header.time_ms + 1,
                    block.txs.clone(),
                );
                match other {
                    Ok(built) if built.block.header.hash() != data.block_hash => {
                        let hash_b = built.block.header.hash();
                        let data_b = ProposalData { block_hash: hash_b, ..data.clone() };
                        self.signed(w, &SignedStep::for_proposal(&chain, &data_b))?;
                        let proposal_b = Box::new(data_b.sign(&chain, &self.key, built.block));
                        w.attack_book.insert((data.height, data.round), (data.block_hash, hash_b));
                        w.stats.attacks_proposed += 1;
                        let a = Message::Consensus(ConsensusMessage::Proposal(proposal.clone()));
                        self.send_to_half(w, false, &a);
                        self.send_to_half(
                            w,
                            true,
                            &Message::Consensus(ConsensusMessage::Proposal(proposal_b)),
                        );
                    }
                    _ => w.broadcast(
                        self.index,
                        &Message::Consensus(ConsensusMessage::Proposal(proposal.clone())),
                    ),
                }
            }
            Some(Attack::ForgeProposalSignature) => {
                let mut forged: Proposal = (*proposal).clone();
                forged.signature.0[0] ^= 0x01;
                w.stats.attacks_proposed += 1;
                let message = ConsensusMessage::Proposal(Box::new(forged));
                w.broadcast(self.index, &Message::Consensus(message));
            }
            _ => w.broadcast(self.index, &Message::Consensus(ConsensusMessage::Proposal(proposal.clone()))),
        }
        queue.push_back(Input::Proposal(proposal));
        Ok(())
    }

    fn vote(&mut self, w: &mut World, data: VoteData, queue: &mut VecDeque<Input>) -> Result<(), Violation> {
        let chain = w.chain().to_string();
        let step = SignedStep::for_vote(&chain, &data);
        if !self.persist_before_signing(w, &step) {
            return Ok(());
        }
        self.signed(w, &step)?;
        let vote: Vote = data.clone().sign(&chain, &self.key);
        if self.attack() == Some(Attack::Equivocate) {
            // Colluding equivocators vote for what each half was shown;
            // otherwise the two halves get the vote and its opposite.
            let (even, odd) = match w.attack_book.get(&(data.height, data.round)) {
                Some(&(a, b)) => (Some(a), Some(b)),
                None => {
                    let flipped = match data.block_hash {
                        Some(_) => None,
                        None => Some(BlockHash([0xee; 32])),
                    };
                    (data.block_hash, flipped)
                }
            };
            for (odd_half, block_hash) in [(false, even), (true, odd)] {
                let version = VoteData { block_hash, ..data.clone() };
                self.signed(w, &SignedStep::for_vote(&chain, &version))?;
                let signed = version.sign(&chain, &self.key);
                self.send_to_half(w, odd_half, &Message::Consensus(ConsensusMessage::Vote(signed)));
            }
        } else {
            w.broadcast(self.index, &Message::Consensus(ConsensusMessage::Vote(vote.clone())));
        }
        queue.push_back(Input::Vote(vote));
        Ok(())
    }

    /// Commits a block whose commit verified: validity re-checked (ledger
    /// rules, and explicitly no transfer), agreement recorded, then the real
    /// `MemoryState::commit`.
    fn commit_block(&mut self, w: &mut World, block: Block, commit: Commit) -> Result<(), Violation> {
        let height = block.header.height;
        let hash = block.header.hash();
        if self.audited && block.txs.iter().any(|tx| matches!(tx.body, TxBody::Transfer { .. })) {
            return Err(Violation::TransferDecided { node: self.index, height });
        }
        let cached = self.live.as_mut().and_then(|live| live.executed(&hash));
        let executed = match cached {
            Some(e) => e,
            None => match validate_block(&self.disk.state, &w.testnet.genesis, &self.disk.tip, &block) {
                Ok(e) => e,
                Err(e) if e.is_rejection() && self.audited => {
                    return Err(Violation::InvalidBlockDecided {
                        node: self.index,
                        height,
                        reason: e.to_string(),
                    });
                }
                Err(e) if e.is_rejection() => {
                    self.halt();
                    return Ok(());
                }
                Err(e) => return Err(ledger_fault(self.index, e)),
            },
        };
        if self.audited {
            w.audit.decided(self.index, height, hash)?;
            w.stats.decisions += 1;
        }
        self.disk.state.commit(&executed).map_err(|e| ledger_fault(self.index, e))?;
        self.disk.tip = Tip::from_header(&block.header);
        assert_eq!(self.disk.blocks.len() as u64 + 1, height, "blocks are committed in order");
        let committed: BTreeSet<TxId> = executed.tx_ids.iter().copied().collect();
        self.disk.blocks.push(SyncItem { block, commit });
        self.disk.wal.clear();
        self.disk.wal_synced = 0;
        if let Some(live) = self.live.as_mut() {
            live.executed.clear();
            live.pending_build = None;
            live.own_messages.clear();
            live.prevotes_seen.clear();
            live.mempool.retain(|p| !committed.contains(&p.id));
        }
        Ok(())
    }

    /// The proposer's build wait is over: build from the mempool and hand the
    /// block to the core (tampered with first, for some attacks).
    pub(crate) fn on_build(&mut self, w: &mut World, height: u64, round: u32) -> Result<(), Violation> {
        let attack = self.attack();
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        if live.pending_build != Some((height, round)) {
            return Ok(());
        }
        live.pending_build = None;
        if live.core.height() != height || live.core.round() != round {
            return Ok(());
        }
        let candidates: Vec<SignedTx> =
            live.mempool.iter().take(BLOCK_TXS_MAX).map(|p| p.tx.clone()).collect();
        let genesis = &w.testnet.genesis;
        let now = genesis.genesis_time_ms + w.now_ms;
        let built =
            build_block(&self.disk.state, genesis, &self.disk.tip, self.key.public(), now, candidates)
                .map_err(|e| ledger_fault(self.index, e))?;
        let chain = w.chain().to_string();
        for (tx, _) in &built.left_out {
            w.stats.txs_left_out += 1;
            let id = tx.id(&chain);
            if let Some(p) = live.mempool.iter_mut().find(|p| p.id == id) {
                p.left_out += 1;
            }
        }
        live.mempool.retain(|p| p.left_out < LEFT_OUT_MAX);
        let mut block = built.block;
        match attack {
            Some(Attack::ProposeTransfer) => {
                let series = w.testnet.series_id(&w.testnet.issuer, SERIES_NAME);
                let tx = TxBody::Transfer {
                    certificate_id: ids::certificate_id(&chain, &series, 1),
                    to: TestNet::holder(999),
                }
                .sign(&chain, &[&w.testnet.issuer]);
                block.txs.push(tx);
                fix_tx_summary(&chain, &mut block);
                w.stats.attacks_proposed += 1;
            }
            Some(Attack::ForgeTxSignature) => {
                if block.txs.is_empty() {
                    let series = w.testnet.series_id(&w.testnet.issuer, SERIES_NAME);
                    let edition = 500 + u32::try_from(height % 400).expect("below 400");
                    block.txs.push(w.testnet.mint(&w.testnet.issuer, series, edition, 7));
                    fix_tx_summary(&chain, &mut block);
                }
                if let Some(s) = block.txs[0].signatures.first_mut() {
                    s.signature.0[0] ^= 0x01;
                }
                w.stats.attacks_proposed += 1;
            }
            _ => live.executed.push((block.header.hash(), built.executed)),
        }
        self.feed(w, Input::BlockBuilt { height, round, block })
    }

    /// A client hands us a transaction.
    pub(crate) fn submit(&mut self, w: &World, tx: SignedTx) {
        let Some(live) = self.live.as_mut() else { return };
        let id = tx.id(w.chain());
        let known = live.mempool.iter().any(|p| p.id == id);
        let committed = matches!(keepsake_ledger::StateView::tx_location(&self.disk.state, &id), Ok(Some(_)));
        if !known && !committed && live.mempool.len() < MEMPOOL_TXS_MAX {
            live.mempool.push(PoolTx { id, tx, left_out: 0 });
        }
    }

    /// Gossip catch-up: when our (height, round) did not move for a whole
    /// interval, send our own messages of the height again, relay the
    /// prevotes that justify our lock and our valid value, and fetch blocks
    /// from a peer that is ahead.
    ///
    /// The relay is what Tendermint's liveness argument assumes of gossip
    /// ("a message a correct process received is eventually received by every
    /// correct process"): without it, a validator locked on a value whose
    /// polka contained a vote the others never received (a Byzantine vote sent
    /// to a few, or a vote lost before the network healed) can never be
    /// unlocked, because nobody else can accept the re-proposal (L28).
    pub(crate) fn on_gossip(&mut self, w: &mut World) {
        let Some(live) = self.live.as_mut() else { return };
        let progress = (live.core.height(), live.core.round());
        let stuck = progress == live.last_progress;
        live.last_progress = progress;
        let ahead = live.highest_seen;
        if stuck {
            let messages: Vec<ConsensusMessage> =
                live.own_messages.iter().filter(|m| m.height() == progress.0).cloned().collect();
            let mut justified: Vec<(u32, BlockHash)> = live.core.valid().into_iter().collect();
            justified.extend(live.core.locked().filter(|l| Some(*l) != live.core.valid()));
            let relayed = live.prevotes_seen.values().filter(|v| {
                justified
                    .iter()
                    .any(|(round, value)| v.data.round == *round && v.data.block_hash == Some(*value))
            });
            let relayed: Vec<ConsensusMessage> = relayed.cloned().map(ConsensusMessage::Vote).collect();
            for message in messages.into_iter().chain(relayed) {
                w.broadcast(self.index, &Message::Consensus(message));
            }
            if ahead.0 > progress.0 {
                self.maybe_sync(w, ahead.1);
            }
        }
        w.schedule_in(w.scenario.gossip_interval_ms, Event::Gossip { node: self.index, life: self.life });
    }

    fn maybe_sync(&mut self, w: &mut World, peer: usize) {
        let Some(live) = self.live.as_mut() else { return };
        if live.sync_wait_until_ms > w.now_ms || peer == self.index {
            return;
        }
        live.sync_wait_until_ms = w.now_ms + SYNC_RETRY_MS;
        w.send(self.index, peer, Message::SyncRequest { from_height: self.disk.tip.height + 1 });
    }

    /// A message from `from` arrives.
    pub(crate) fn on_message(
        &mut self,
        w: &mut World,
        from: usize,
        message: Message,
    ) -> Result<(), Violation> {
        let Some(live) = self.live.as_mut() else {
            w.stats.messages_dropped += 1;
            return Ok(());
        };
        match message {
            Message::Consensus(message) => {
                let height = message.height();
                let current = live.core.height();
                if height > live.highest_seen.0 {
                    live.highest_seen = (height, from);
                }
                // Two heights ahead: we are certainly behind; fetch blocks now.
                if height > current + 1 {
                    self.maybe_sync(w, from);
                }
                // No signature check here: the core checks them itself, and
                // the simulator wants to exercise exactly that.
                let input = match message {
                    ConsensusMessage::Proposal(p) => Input::Proposal(p),
                    ConsensusMessage::Vote(v) => Input::Vote(v),
                };
                self.feed(w, input)
            }
            Message::SyncRequest { from_height } => {
                let start = usize::try_from(from_height.saturating_sub(1)).unwrap_or(usize::MAX);
                let items: Vec<SyncItem> =
                    self.disk.blocks.iter().skip(start).take(SYNC_BATCH_BLOCKS).cloned().collect();
                if !items.is_empty() {
                    w.send(self.index, from, Message::SyncResponse { items });
                }
                Ok(())
            }
            Message::SyncResponse { items } => {
                live.sync_wait_until_ms = 0;
                self.apply_synced(w, from, items)
            }
        }
    }

    /// Verifies and commits synced blocks (commit against the validator set,
    /// then every ledger rule), then restarts the core at the new height.
    fn apply_synced(&mut self, w: &mut World, from: usize, items: Vec<SyncItem>) -> Result<(), Violation> {
        let full = items.len() == SYNC_BATCH_BLOCKS;
        let mut applied = 0u64;
        for SyncItem { block, commit } in items {
            let height = block.header.height;
            if height <= self.disk.tip.height {
                continue;
            }
            if height != self.disk.tip.height + 1 || commit.verify(&block.header, &w.validators).is_err() {
                break;
            }
            self.commit_block(w, block, commit)?;
            if self.live.is_none() {
                return Ok(());
            }
            applied += 1;
        }
        if applied == 0 {
            return Ok(());
        }
        w.stats.blocks_synced += applied;
        let fresh = self.fresh_core(w);
        let Some(live) = self.live.as_mut() else { return Ok(()) };
        let old = std::mem::replace(&mut live.core, fresh);
        live.prevotes_seen.clear();
        add_stats(&mut self.core_stats, old.stats());
        self.feed(w, Input::StartHeight { height: self.disk.tip.height + 1 })?;
        if full {
            self.maybe_sync(w, from);
        }
        Ok(())
    }
}

/// After a malicious change to a block's transactions: fix the header's
/// count and root so that only the ledger rules can tell.
fn fix_tx_summary(chain: &str, block: &mut Block) {
    block.header.tx_count = u32::try_from(block.txs.len()).expect("a handful of transactions");
    let ids: Vec<TxId> = block.txs.iter().map(|t| t.id(chain)).collect();
    block.header.tx_root = keepsake_ledger::block::tx_root(&ids);
}

/// The first 3 bytes of a hash, in hex.
fn short(hash: &BlockHash) -> String {
    hash.0[..3].iter().map(|b| format!("{b:02x}")).collect()
}

/// A short name for a validator key: its index in the test network.
fn who(key: &PublicKey) -> String {
    let first: String = key.0[..3].iter().map(|b| format!("{b:02x}")).collect();
    format!("key {first}")
}

fn value(hash: &Option<BlockHash>) -> String {
    hash.as_ref().map_or_else(|| "nil".to_string(), short)
}

/// One line per core input, for the trace.
fn describe_input(input: &Input) -> String {
    match input {
        Input::StartHeight { height } => format!("StartHeight {height}"),
        Input::BlockBuilt { height, round, block } => {
            format!("BlockBuilt {height}/{round} {}", short(&block.header.hash()))
        }
        Input::Proposal(p) => format!(
            "Proposal {}/{} pol={:?} {} by {}",
            p.data.height,
            p.data.round,
            p.data.pol_round,
            short(&p.data.block_hash),
            who(&p.proposer)
        ),
        Input::ProposalVerdict { height, round, block_hash, valid } => {
            format!("Verdict {height}/{round} {} valid={valid}", short(block_hash))
        }
        Input::Vote(v) => format!(
            "{:?} {}/{} {} by {}",
            v.data.kind,
            v.data.height,
            v.data.round,
            value(&v.data.block_hash),
            who(&v.validator)
        ),
        Input::TimeoutElapsed(t) => format!("Timeout {:?} {}/{}", t.step, t.height, t.round),
    }
}

/// One line per core output, for the trace.
fn describe_output(output: &Output) -> String {
    match output {
        Output::BuildBlock { height, round } => format!("BuildBlock {height}/{round}"),
        Output::ValidateBlock { height, round, block } => {
            format!("ValidateBlock {height}/{round} {}", short(&block.header.hash()))
        }
        Output::Propose { data, .. } => format!(
            "Propose {}/{} pol={:?} {}",
            data.height,
            data.round,
            data.pol_round,
            short(&data.block_hash)
        ),
        Output::Vote(v) => format!("{:?} {}/{} {}", v.kind, v.height, v.round, value(&v.block_hash)),
        Output::ScheduleTimeout { timeout, duration_ms } => {
            format!(
                "ScheduleTimeout {:?} {}/{} in {duration_ms} ms",
                timeout.step, timeout.height, timeout.round
            )
        }
        Output::Decide { block, commit } => format!(
            "Decide {} {} round {} ({} signatures)",
            block.header.height,
            short(&block.header.hash()),
            commit.round,
            commit.signatures.len()
        ),
        Output::Equivocation(e) => format!(
            "Equivocation by {} at {}/{} {:?}",
            who(&e.first.validator),
            e.first.data.height,
            e.first.data.round,
            e.first.data.kind
        ),
    }
}
