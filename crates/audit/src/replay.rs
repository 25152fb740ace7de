//! Replaying a chain from genesis, trusting nothing but the genesis.
//!
//! Each block goes through, in order:
//! 1. decoding within the genesis' bounds (raw sources);
//! 2. the commit: more than 2/3 of the voting power of the validator set
//!    governing the block's height signed a precommit for exactly this
//!    header ([`Commit::verify`]). That set is the genesis set until a
//!    replayed `ChangeValidators` committed at height `h` replaces it from
//!    `h + 2` on ([`keepsake_ledger::membership::schedule`] over the replayed
//!    state), so a commit signed by a removed validator (or a rotated-out
//!    key) once the change is in force, or by the old set after it, fails
//!    here. A block without a valid commit was never committed, so nothing
//!    in it is blamed on the chain. Nor are transactions that are not the header's: their count
//!    and Merkle root must match it (rules B6/B7, checked here first), so a
//!    source that attaches other transactions, however many, to a real
//!    header gets `BlockInvalid`, not a `TransferCommitted` against the chain;
//! 3. the independent checks of the mission's rules, on the committed
//!    transactions as they are, before any ledger code runs: no transfer
//!    (T1), no certificate minted twice (the write-once holder), editions
//!    within the series cap (T20/T21). They repeat the ledger on purpose: an
//!    audit must not depend on the one implementation it audits for the
//!    rules that matter most;
//! 4. the ledger's own block validation on the replayed state (rules B1-B11,
//!    every transaction's signatures and rules T1-T51, and the log and state
//!    roots recomputed from the replay: so consecutive checkpoints' logs are
//!    consistent by construction; the cross-node check of consistency proofs
//!    is the [`crate::Monitor`]'s).
//!
//! Step 3 also follows the collectible's life on its own (docs/rules.md
//! T39-T51): every synthesis burns certificates that were minted, not yet
//! burned, and held by the holder its output goes to; nothing is minted into
//! a closed blind box; every reveal carries the seed committed to at
//! creation and, as entropy, the log root just after its close (recomputed
//! from the replayed log); and the variant of every edition of a revealed box
//! is drawn again here ([`keepsake_types::life::draw_variants`]) for the
//! report, which lists boxes still open and boxes closed but never revealed,
//! and the burned count of every series.
//!
//! The first block that fails step 1, 2 or 4 stops the replay: the state
//! after it is unknown, so nothing later can be judged.
//!
//! Every membership change of a verified block (validator set, governance,
//! observers) goes into the report ([`MembershipEvent`]), validator changes
//! described with the names of the set they change.

use std::collections::BTreeMap;

use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::{Executed, LedgerError, StateView, Tip, membership, validate_block};
use keepsake_types::encoding::decode;
use keepsake_types::life::{BoxVariant, draw_variants, seed_commitment};
use keepsake_types::{
    Block, CertificateId, Commit, DoubleVote, Genesis, Hash32, HolderId, PublicKey, ScheduledSet, SeriesId,
    TxBody, ValidatorSchedule, ValidatorSet, ids, merkle,
};

use crate::membership::{MembershipEvent, describe_change};
use crate::report::{Anomaly, AnomalyKind, BoxStatus, BoxSummary, IssuerSummary, Report, SeriesSummary};

/// Whether replay goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// The block passed; feed the next one.
    Continue,
    /// Replay stopped on an anomaly (or had stopped before); later blocks are not checked.
    Stopped,
}

/// Bytes of per-block and per-transaction framing allowed above the genesis'
/// transaction size bound when decoding a raw block.
const BLOCK_OVERHEAD_BYTES: u64 = 64 * 1024;
/// Largest raw commit: a signature and key per validator plus framing.
const COMMIT_BYTES_MAX: usize = 16 * 1024 + 100 * 128;

#[derive(Clone, Debug)]
struct SeriesCount {
    issuer: PublicKey,
    name: String,
    max_supply: u32,
    minted: u32,
    revoked: u32,
    burned: u32,
    /// Set for a blind box.
    blind_box: Option<BoxTrack>,
}

/// A blind box as the replay follows it (independently of the ledger's records).
#[derive(Clone, Debug)]
struct BoxTrack {
    variants: Vec<BoxVariant>,
    seed_commitment: Hash32,
    /// Height and log index of the close.
    closed: Option<(u64, u64)>,
    revealed: Option<Revealed>,
}

#[derive(Clone, Debug)]
struct Revealed {
    height: u64,
    seed: Hash32,
    entropy: Hash32,
    /// The variant of edition `e` at `e - 1`, drawn by the audit.
    draw: Vec<u32>,
}

/// The replaying auditor. Feed it blocks in height order from 1 with
/// [`Auditor::feed`] (decoded) or [`Auditor::feed_raw`] (bytes from an
/// untrusted source), then call [`Auditor::report`].
pub struct Auditor {
    genesis: Genesis,
    /// The validator sets as far as the replay knows them (refreshed from the
    /// replayed state after each block that schedules a new set).
    schedule: ValidatorSchedule,
    /// Membership changes of the verified blocks, in order.
    membership: Vec<MembershipEvent>,
    state: MemoryState,
    tip: Tip,
    stopped_at: Option<u64>,
    source_height: u64,
    anomalies: Vec<Anomaly>,
    transactions: BTreeMap<String, u64>,
    commit_signatures: u64,
    evidence_checked: u64,
    /// certificate -> (series, holder), from the mints seen (independent of the ledger).
    holders: BTreeMap<CertificateId, (SeriesId, HolderId)>,
    /// burned certificate -> the synthesis output it went into.
    burned: BTreeMap<CertificateId, CertificateId>,
    issuers: BTreeMap<PublicKey, IssuerSummary>,
    series: BTreeMap<SeriesId, SeriesCount>,
}

impl std::fmt::Debug for Auditor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auditor")
            .field("chain_id", &self.genesis.chain_id)
            .field("height", &self.tip.height)
            .field("stopped_at", &self.stopped_at)
            .finish_non_exhaustive()
    }
}

impl Auditor {
    /// An auditor of the chain of `genesis` (which must be valid), at height 0.
    pub fn new(genesis: Genesis) -> Self {
        Auditor {
            schedule: ValidatorSchedule::genesis(&genesis),
            membership: Vec::new(),
            tip: Tip::genesis(&genesis),
            genesis,
            state: MemoryState::new(),
            stopped_at: None,
            source_height: 0,
            anomalies: Vec::new(),
            transactions: BTreeMap::new(),
            commit_signatures: 0,
            evidence_checked: 0,
            holders: BTreeMap::new(),
            burned: BTreeMap::new(),
            issuers: BTreeMap::new(),
            series: BTreeMap::new(),
        }
    }

    /// The last verified height (0 before block 1).
    pub fn height(&self) -> u64 {
        self.tip.height
    }

    /// The tip after the last verified block.
    pub fn tip(&self) -> &Tip {
        &self.tip
    }

    /// The validator sets of the chain as far as the verified blocks go:
    /// the genesis set, then every set a replayed change scheduled (the last
    /// one may not be in force yet). Derived from the replayed state, so it
    /// trusts nothing but the genesis.
    pub fn schedule(&self) -> &ValidatorSchedule {
        &self.schedule
    }

    /// Membership changes of the verified blocks so far.
    pub fn membership(&self) -> &[MembershipEvent] {
        &self.membership
    }

    /// True once an anomaly stopped the replay.
    pub fn is_stopped(&self) -> bool {
        self.stopped_at.is_some()
    }

    /// Anomalies found so far.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// Records the highest height the source offers (for the report).
    pub fn set_source_height(&mut self, height: u64) {
        self.source_height = self.source_height.max(height);
    }

    /// Records an anomaly found by the caller (a source that runs another
    /// chain, say).
    pub fn record(&mut self, kind: AnomalyKind, height: Option<u64>, cause: Option<String>, message: String) {
        self.anomalies.push(Anomaly { kind, height, cause, message });
    }

    /// Records an anomaly that makes the rest of the chain unverifiable (a
    /// source that answers the wrong block, say) and stops the replay.
    pub fn stop(&mut self, height: u64, kind: AnomalyKind, cause: Option<&str>, message: String) -> Flow {
        self.record(kind, Some(height), cause.map(str::to_string), message);
        self.stopped_at.get_or_insert(height);
        Flow::Stopped
    }

    /// Feeds the raw records of `height` as a source stores them (`None`
    /// when absent): decodes them within the genesis' bounds, then
    /// [`Auditor::feed`].
    pub fn feed_raw(&mut self, height: u64, block: Option<&[u8]>, commit: Option<&[u8]>) -> Flow {
        if self.is_stopped() {
            return Flow::Stopped;
        }
        self.set_source_height(height);
        let Some(block) = block else {
            return self.stop(
                height,
                AnomalyKind::MissingBlock,
                None,
                format!("no block stored at height {height}"),
            );
        };
        let Some(commit) = commit else {
            return self.stop(
                height,
                AnomalyKind::MissingCommit,
                None,
                format!("no commit stored for block {height}"),
            );
        };
        let p = &self.genesis.params;
        let block_max = (u64::from(p.tx_bytes_max) + 64)
            .saturating_mul(u64::from(p.block_txs_max))
            .saturating_add(BLOCK_OVERHEAD_BYTES);
        let block: Block = match decode(block, usize::try_from(block_max).unwrap_or(usize::MAX), "block") {
            Ok(b) => b,
            Err(e) => return self.stop(height, AnomalyKind::Malformed, Some(e.code()), e.to_string()),
        };
        let commit: Commit = match decode(commit, COMMIT_BYTES_MAX, "commit") {
            Ok(c) => c,
            Err(e) => return self.stop(height, AnomalyKind::Malformed, Some(e.code()), e.to_string()),
        };
        if block.header.height != height {
            let got = block.header.height;
            return self.stop(
                height,
                AnomalyKind::BlockInvalid,
                Some("UnexpectedHeight"),
                format!("the block stored at height {height} says it is block {got}"),
            );
        }
        self.feed(&block, &commit)
    }

    /// Verifies `block` with its `commit` as the next block (see the module
    /// docs for the checks) and, when it passes, applies it.
    pub fn feed(&mut self, block: &Block, commit: &Commit) -> Flow {
        if self.is_stopped() {
            return Flow::Stopped;
        }
        let height = block.header.height;
        self.set_source_height(height);
        let (index, in_force) = set_in_force(&self.schedule, height);
        if let Err(e) = commit.verify(&block.header, &in_force.validators) {
            let mut message = format!(
                "block {} is not proven final by the validator set governing height {height} (in force from \
                 height {}): {e}",
                block.header.hash(),
                in_force.from_height
            );
            // Say so when the commit is the previous set's: the old set went on
            // signing after the change took effect.
            if let Some(previous) = index.checked_sub(1).and_then(|i| self.schedule.sets().get(i))
                && commit.verify(&block.header, &previous.validators).is_ok()
            {
                message.push_str(&format!(
                    "; it is signed by the set that governed heights {} to {}, replaced from height {}",
                    previous.from_height,
                    in_force.from_height.saturating_sub(1),
                    in_force.from_height
                ));
            }
            return self.stop(height, AnomalyKind::CommitInvalid, Some(e.code()), message);
        }
        if let Err(e) = self.committed_transactions(block) {
            return self.stop(height, AnomalyKind::BlockInvalid, Some(e.code()), e.to_string());
        }
        self.independent_checks(block);
        let executed = match validate_block(&self.state, &self.genesis, &self.tip, block) {
            Ok(executed) => executed,
            Err(e) => {
                let cause = e.root_cause().code();
                return self.stop(height, AnomalyKind::BlockInvalid, Some(cause), e.to_string());
            }
        };
        // The latest set before this block, for naming what its change does.
        let before =
            (!executed.delta.membership.is_empty()).then(|| self.schedule.latest().validators.clone());
        if let Err(e) = self.state.commit(&executed) {
            return self.stop(height, AnomalyKind::BlockInvalid, Some(e.code()), e.to_string());
        }
        if let Some(before) = before {
            if !executed.delta.membership.validator_sets.is_empty() {
                match membership::schedule(&self.state, &self.genesis) {
                    Ok(schedule) => self.schedule = schedule,
                    Err(e) => {
                        return self.stop(height, AnomalyKind::BlockInvalid, Some(e.code()), e.to_string());
                    }
                }
            }
            self.record_membership(block, &executed, &before);
        }
        self.commit_signatures = self.commit_signatures.saturating_add(commit.signatures.len() as u64);
        self.count(block);
        self.tip = Tip::from_header(&block.header);
        Flow::Continue
    }

    /// Records the membership changes of a verified, applied block.
    fn record_membership(&mut self, block: &Block, executed: &Executed, before: &ValidatorSet) {
        let height = block.header.height;
        for (tx, tx_id) in block.txs.iter().zip(&executed.tx_ids) {
            let tx_id = *tx_id;
            let event = match &tx.body {
                TxBody::ChangeValidators { change, .. } => {
                    let made =
                        executed.delta.membership.validator_sets.values().find(|s| s.change_tx == tx_id);
                    let Some(made) = made else { continue };
                    MembershipEvent::ValidatorSet {
                        height,
                        in_force_from: made.from_height,
                        tx_id,
                        change: change.clone(),
                        description: describe_change(change, before),
                        total_power: made.validators.total_power(),
                        validators: made.validators.validators.clone(),
                    }
                }
                TxBody::SetGovernance { governors, threshold, .. } => MembershipEvent::Governance {
                    height,
                    tx_id,
                    governors: governors.clone(),
                    threshold: *threshold,
                },
                TxBody::RegisterObserver { observer, name, .. } => MembershipEvent::ObserverRegistered {
                    height,
                    tx_id,
                    observer: *observer,
                    name: name.clone(),
                },
                TxBody::RemoveObserver { observer, .. } => {
                    let name =
                        self.state.observer(observer).ok().flatten().map(|o| o.name).unwrap_or_default();
                    MembershipEvent::ObserverRemoved { height, tx_id, observer: *observer, name }
                }
                _ => continue,
            };
            self.membership.push(event);
        }
    }

    /// Whether `block.txs` are the transactions its (verified) header
    /// commits to: rules B6 (count, within `block_txs_max`) and B7 (root of
    /// the ids), with the ledger's errors. Before anything is counted or
    /// blamed on the chain.
    fn committed_transactions(&self, block: &Block) -> Result<(), LedgerError> {
        let (header, max) = (&block.header, self.genesis.params.block_txs_max);
        if block.txs.len() != header.tx_count as usize || block.txs.len() > max as usize {
            return Err(LedgerError::TxCountMismatch {
                declared: header.tx_count,
                got: block.txs.len(),
                max,
            });
        }
        let ids: Vec<_> = block.txs.iter().map(|tx| tx.id(&self.genesis.chain_id)).collect();
        let root = keepsake_ledger::block::tx_root(&ids);
        if root != header.tx_root {
            return Err(LedgerError::TxRootMismatch { expected: root, got: header.tx_root });
        }
        Ok(())
    }

    /// The mission's rules, checked again without the ledger.
    fn independent_checks(&mut self, block: &Block) {
        let chain = self.genesis.chain_id.clone();
        let height = block.header.height;
        for (index, tx) in block.txs.iter().enumerate() {
            // Every committed transaction is one log entry, in block order.
            let leaf_index = self.tip.log_size.saturating_add(index as u64);
            match &tx.body {
                TxBody::Transfer { certificate_id, to } => self.record(
                    AnomalyKind::TransferCommitted,
                    Some(height),
                    None,
                    format!("transaction {index} transfers certificate {certificate_id} to {to}"),
                ),
                TxBody::CreateSeries { .. } | TxBody::CreateSeriesWithTerms { .. } => {
                    let Some(creation) = tx.body.series_creation() else { continue };
                    let subject = &creation.subject;
                    let blind_box = creation.terms.and_then(|t| t.blind_box.as_ref()).map(|b| BoxTrack {
                        variants: b.variants.clone(),
                        seed_commitment: b.seed_commitment,
                        closed: None,
                        revealed: None,
                    });
                    self.series.entry(ids::series_id(&chain, &subject.issuer, &subject.name)).or_insert_with(
                        || SeriesCount {
                            issuer: subject.issuer,
                            name: subject.name.clone(),
                            max_supply: subject.max_supply,
                            minted: 0,
                            revoked: 0,
                            burned: 0,
                            blind_box,
                        },
                    );
                }
                TxBody::Mint { series_id, edition, holder } => {
                    if self
                        .series
                        .get(series_id)
                        .and_then(|s| s.blind_box.as_ref())
                        .is_some_and(|b| b.closed.is_some())
                    {
                        self.record(
                            AnomalyKind::BlindBoxInvalid,
                            Some(height),
                            None,
                            format!("transaction {index} mints edition {edition} of blind box {series_id} after its sale closed"),
                        );
                    }
                    self.check_edition(height, index, series_id, *edition, holder);
                }
                TxBody::Synthesize { series_id, inputs, edition, holder, .. } => {
                    let output = ids::certificate_id(&chain, series_id, *edition);
                    for input in inputs {
                        match self.holders.get(input) {
                            None => self.record(
                                AnomalyKind::BurnInvalid,
                                Some(height),
                                None,
                                format!(
                                    "transaction {index} burns certificate {input}, which was never minted"
                                ),
                            ),
                            Some((_, first)) if first != holder => {
                                let first = *first;
                                self.record(
                                    AnomalyKind::SynthesisChangedHolder,
                                    Some(height),
                                    None,
                                    format!(
                                        "transaction {index} burns certificate {input} of {first} into {output} for \
                                         {holder}: a transfer"
                                    ),
                                )
                            }
                            Some(_) => {}
                        }
                        if let Some(before) = self.burned.insert(*input, output) {
                            self.record(
                                AnomalyKind::BurnInvalid,
                                Some(height),
                                None,
                                format!(
                                    "transaction {index} burns certificate {input} again (it went into {before})"
                                ),
                            );
                        }
                    }
                    self.check_edition(height, index, series_id, *edition, holder);
                }
                TxBody::Revoke { certificate_id, .. } => {
                    if let Some(into) = self.burned.get(certificate_id) {
                        let into = *into;
                        self.record(
                            AnomalyKind::BurnInvalid,
                            Some(height),
                            None,
                            format!(
                                "transaction {index} revokes certificate {certificate_id}, burned into {into}"
                            ),
                        );
                    }
                }
                TxBody::CloseBlindBox { series_id } => {
                    let verdict = match self.series.get_mut(series_id).and_then(|s| s.blind_box.as_mut()) {
                        None => Err("closes a series that is not a blind box".to_string()),
                        Some(b) if b.closed.is_some() => Err("closes a blind box a second time".to_string()),
                        Some(b) => {
                            b.closed = Some((height, leaf_index));
                            Ok(())
                        }
                    };
                    if let Err(why) = verdict {
                        self.record(
                            AnomalyKind::BlindBoxInvalid,
                            Some(height),
                            None,
                            format!("transaction {index} {why} ({series_id})"),
                        );
                    }
                }
                TxBody::RevealBlindBox { series_id, seed, entropy } => {
                    match self.check_reveal(series_id, seed, entropy) {
                        Ok(draw) => {
                            if let Some(b) = self.series.get_mut(series_id).and_then(|s| s.blind_box.as_mut())
                            {
                                b.revealed = Some(Revealed { height, seed: *seed, entropy: *entropy, draw });
                            }
                        }
                        Err(why) => self.record(
                            AnomalyKind::BlindBoxInvalid,
                            Some(height),
                            None,
                            format!("transaction {index} reveals blind box {series_id}: {why}"),
                        ),
                    }
                }
                _ => {}
            }
        }
    }

    /// A new certificate (a mint, or a synthesis output): minted once (the
    /// write-once holder), within its series' cap.
    fn check_edition(
        &mut self,
        height: u64,
        index: usize,
        series_id: &SeriesId,
        edition: u32,
        holder: &HolderId,
    ) {
        let id = ids::certificate_id(&self.genesis.chain_id, series_id, edition);
        if let Some((_, first)) = self.holders.get(&id) {
            let first = *first;
            self.record(
                AnomalyKind::HolderChanged,
                Some(height),
                None,
                format!(
                    "transaction {index} mints certificate {id} again, to {holder} (first holder {first})"
                ),
            );
        } else {
            self.holders.insert(id, (*series_id, *holder));
        }
        if let Some(s) = self.series.get(series_id)
            && (edition == 0 || edition > s.max_supply)
        {
            let max = s.max_supply;
            self.record(
                AnomalyKind::SupplyExceeded,
                Some(height),
                None,
                format!("transaction {index} mints edition {edition} of a series capped at {max}"),
            );
        }
    }

    /// T48 again: a reveal of a blind box closed in an earlier (verified)
    /// block, with the committed seed and, as entropy, the root of the
    /// replayed log just after the close. Returns the draw.
    fn check_reveal(
        &self,
        series_id: &SeriesId,
        seed: &Hash32,
        entropy: &Hash32,
    ) -> Result<Vec<u32>, String> {
        let chain = self.genesis.chain_id.as_str();
        let Some(b) = self.series.get(series_id).and_then(|s| s.blind_box.as_ref()) else {
            return Err("the series is not a blind box".into());
        };
        if let Some(r) = &b.revealed {
            return Err(format!("it was already revealed at height {}", r.height));
        }
        let Some((_, close_leaf)) = b.closed.filter(|(_, leaf)| *leaf < self.tip.log_size) else {
            return Err("its sale was not closed in an earlier block".into());
        };
        if seed_commitment(chain, seed) != b.seed_commitment {
            return Err("the seed does not match the commitment made at creation".into());
        }
        let expected = merkle::root(&self.state, close_leaf.saturating_add(1)).map_err(|e| e.to_string())?;
        if *entropy != expected {
            return Err(format!("the entropy {entropy} is not the log root after the close ({expected})"));
        }
        draw_variants(chain, series_id, seed, entropy, &b.variants)
            .ok_or_else(|| "its variants are too many editions to draw".to_string())
    }

    fn issuer(&mut self, key: &PublicKey) -> &mut IssuerSummary {
        self.issuers.entry(*key).or_insert_with(|| IssuerSummary {
            issuer: *key,
            name: String::new(),
            series: 0,
            minted: 0,
            revoked: 0,
        })
    }

    /// Counts a verified block's transactions per kind, issuer and series.
    fn count(&mut self, block: &Block) {
        for tx in &block.txs {
            // Saturating: counts of a chain the ledger accepted cannot reach these
            // bounds, but the audit must not trust the ledger it audits to keep them.
            let kind = self.transactions.entry(tx.body.kind().to_string()).or_default();
            *kind = kind.saturating_add(1);
            match &tx.body {
                TxBody::RegisterIssuer { issuer, name, .. } => {
                    self.issuer(issuer).name = name.clone();
                }
                // The series record itself was made by `independent_checks`, in order.
                TxBody::CreateSeries { issuer, .. } | TxBody::CreateSeriesWithTerms { issuer, .. } => {
                    let summary = self.issuer(issuer);
                    summary.series = summary.series.saturating_add(1);
                }
                TxBody::Mint { series_id, .. } | TxBody::Synthesize { series_id, .. } => {
                    if let TxBody::Synthesize { inputs, .. } = &tx.body {
                        for input in inputs {
                            if let Some((burned_series, _)) = self.holders.get(input)
                                && let Some(s) = self.series.get_mut(burned_series)
                            {
                                s.burned = s.burned.saturating_add(1);
                            }
                        }
                    }
                    if let Some(s) = self.series.get_mut(series_id) {
                        s.minted = s.minted.saturating_add(1);
                        let issuer = s.issuer;
                        let summary = self.issuer(&issuer);
                        summary.minted = summary.minted.saturating_add(1);
                    }
                }
                TxBody::Revoke { certificate_id, .. } => {
                    if let Some((series_id, _)) = self.holders.get(certificate_id)
                        && let Some(s) = self.series.get_mut(series_id)
                    {
                        s.revoked = s.revoked.saturating_add(1);
                        let issuer = s.issuer;
                        let summary = self.issuer(&issuer);
                        summary.revoked = summary.revoked.saturating_add(1);
                    }
                }
                _ => {}
            }
        }
    }

    /// Checks one equivocation evidence record kept by the source: real
    /// evidence is reported as [`AnomalyKind::Equivocation`] (a validator
    /// misbehaved), a record that does not verify as
    /// [`AnomalyKind::InvalidEvidence`].
    pub fn check_evidence(&mut self, evidence: &DoubleVote) {
        self.evidence_checked = self.evidence_checked.saturating_add(1);
        let (v, d) = (&evidence.first.validator, &evidence.first.data);
        match evidence.verify(&self.genesis.chain_id, self.schedule.at(d.height)) {
            Ok(()) => self.record(
                AnomalyKind::Equivocation,
                Some(d.height),
                None,
                format!("validator {v} signed two different {:?} votes in round {}", d.kind, d.round),
            ),
            Err(e) => self.record(
                AnomalyKind::InvalidEvidence,
                Some(d.height),
                Some(e.code().to_string()),
                format!("evidence record against {v} does not verify: {e}"),
            ),
        }
    }

    /// Checks one raw evidence record (see [`Auditor::check_evidence`]).
    pub fn check_evidence_raw(&mut self, bytes: &[u8]) {
        match decode::<DoubleVote>(bytes, 4096, "evidence") {
            Ok(e) => self.check_evidence(&e),
            Err(e) => {
                self.evidence_checked = self.evidence_checked.saturating_add(1);
                self.record(AnomalyKind::InvalidEvidence, None, Some(e.code().to_string()), e.to_string());
            }
        }
    }

    /// Compares the source's own record of its tip with the replayed chain
    /// (call after feeding every block).
    pub fn check_claimed_tip(&mut self, claimed: &Tip) {
        if self.is_stopped() || claimed == &self.tip {
            return;
        }
        self.record(
            AnomalyKind::TipMismatch,
            Some(claimed.height),
            None,
            format!(
                "the source says its tip is height {} ({}), the replay ends at height {} ({})",
                claimed.height, claimed.hash, self.tip.height, self.tip.hash
            ),
        );
    }

    /// The report. Supply caps are checked once more here, on the totals.
    pub fn report(mut self) -> Report {
        let validators_in_force = set_in_force(&self.schedule, self.tip.height.saturating_add(1)).1.clone();
        let over: Vec<(SeriesId, u32, u32)> = self
            .series
            .iter()
            .filter(|(_, s)| s.minted > s.max_supply)
            .map(|(id, s)| (*id, s.minted, s.max_supply))
            .collect();
        for (id, minted, max) in over {
            self.record(
                AnomalyKind::SupplyExceeded,
                None,
                None,
                format!("series {id} has {minted} editions minted, over its cap of {max}"),
            );
        }
        let series = self
            .series
            .iter()
            .map(|(id, s)| SeriesSummary {
                series_id: *id,
                issuer: s.issuer,
                name: s.name.clone(),
                max_supply: s.max_supply,
                minted: s.minted,
                revoked: s.revoked,
                burned: s.burned,
            })
            .collect();
        let boxes = self
            .series
            .iter()
            .filter_map(|(id, s)| {
                let b = s.blind_box.as_ref()?;
                let status = match (&b.closed, &b.revealed) {
                    (_, Some(r)) => BoxStatus::Revealed {
                        closed_height: b.closed.map_or(0, |(h, _)| h),
                        height: r.height,
                        seed: r.seed,
                        entropy: r.entropy,
                    },
                    (Some((h, _)), None) => BoxStatus::ClosedUnrevealed { closed_height: *h },
                    (None, None) => BoxStatus::Open,
                };
                Some(BoxSummary {
                    series_id: *id,
                    name: s.name.clone(),
                    editions: s.max_supply,
                    sold: s.minted,
                    variants: b.variants.iter().map(|v| (v.name.clone(), v.count)).collect(),
                    status,
                    draw: b.revealed.as_ref().map(|r| r.draw.clone()).unwrap_or_default(),
                })
            })
            .collect();
        Report {
            passed: self.anomalies.is_empty(),
            chain_id: self.genesis.chain_id.clone(),
            genesis_hash: self.genesis.hash(),
            verified_height: self.tip.height,
            source_height: self.source_height.max(self.tip.height),
            stopped_at: self.stopped_at,
            transactions: self.transactions,
            commit_signatures: self.commit_signatures,
            log_size: self.tip.log_size,
            log_root: self.tip.log_root,
            state_root: self.tip.state_root,
            evidence_checked: self.evidence_checked,
            validators_in_force,
            membership: self.membership,
            issuers: self.issuers.into_values().collect(),
            series,
            boxes,
            anomalies: self.anomalies,
        }
    }
}

/// The set of `schedule` governing `height`, with its position.
fn set_in_force(schedule: &ValidatorSchedule, height: u64) -> (usize, &ScheduledSet) {
    let sets = schedule.sets();
    // A schedule always starts with the genesis set from height 1.
    let index = sets.partition_point(|s| s.from_height <= height).saturating_sub(1);
    (index, &sets[index])
}
