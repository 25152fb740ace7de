//! The audit report: counts per issuer and series, and every anomaly found.

use std::collections::BTreeMap;
use std::fmt;

use keepsake_types::{BlockHash, ChainId, Hash32, PublicKey, ScheduledSet, SeriesId};
use serde::{Deserialize, Serialize};

use crate::membership::{MembershipEvent, names};

/// The kinds of anomaly an audit reports. The names are stable codes
/// (docs/auditor-guide.md); never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AnomalyKind {
    /// The source has no block (or no commit) at a height below its last one.
    MissingBlock,
    /// The source has a block but no commit for it.
    MissingCommit,
    /// A stored block or commit does not decode (within the genesis' bounds,
    /// no trailing bytes, every value within its type's rule, e.g. a chain id
    /// of 1 to 64 bytes), or a node's JSON-RPC answer does not decode into
    /// what the method returns.
    Malformed,
    /// A commit does not prove its block final under the validator set
    /// governing its height, as the replay derived it from genesis and the
    /// committed changes (`cause`: `InsufficientPower`, `BadSignature`,
    /// `CommitBlockMismatch`, `UnknownValidator` for a signer outside that
    /// set, such as a removed validator or a rotated-out key,
    /// `ValidatorSetMismatch` for a header of another set, ...).
    CommitInvalid,
    /// A block breaks a block or transaction rule (`cause`: the ledger's code,
    /// e.g. `PrevHashMismatch`, `LogMismatch`, `TransferForbidden`).
    BlockInvalid,
    /// A committed block contains a transfer (independent check of rule T1).
    TransferCommitted,
    /// A certificate minted twice: its holder would have changed
    /// (independent check of the write-once holder).
    HolderChanged,
    /// A series with more editions than its cap, or an edition outside
    /// `1..=max_supply` (independent check of rules T20/T21).
    SupplyExceeded,
    /// The source's own tip record disagrees with the replayed chain.
    TipMismatch,
    /// Verified proof that a validator signed two different votes for one step.
    Equivocation,
    /// An evidence record that does not verify (the source keeps garbage).
    InvalidEvidence,
    /// The source runs another chain than the auditor's genesis.
    ChainMismatch,
    /// A synthesis burns a certificate never minted or already burned, or a
    /// burned certificate is revoked (independent check of T42).
    BurnInvalid,
    /// A synthesis burns one holder's certificates into an edition for
    /// another (independent check of T44/T45: a transfer in disguise).
    SynthesisChangedHolder,
    /// A mint into a blind box after its close, a second close, or a reveal
    /// that is not after a close in an earlier block, with the committed seed
    /// and the log root after the close as entropy (independent check of T47-T51).
    BlindBoxInvalid,
}

impl AnomalyKind {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            AnomalyKind::MissingBlock => "MissingBlock",
            AnomalyKind::MissingCommit => "MissingCommit",
            AnomalyKind::Malformed => "Malformed",
            AnomalyKind::CommitInvalid => "CommitInvalid",
            AnomalyKind::BlockInvalid => "BlockInvalid",
            AnomalyKind::TransferCommitted => "TransferCommitted",
            AnomalyKind::HolderChanged => "HolderChanged",
            AnomalyKind::SupplyExceeded => "SupplyExceeded",
            AnomalyKind::TipMismatch => "TipMismatch",
            AnomalyKind::Equivocation => "Equivocation",
            AnomalyKind::InvalidEvidence => "InvalidEvidence",
            AnomalyKind::ChainMismatch => "ChainMismatch",
            AnomalyKind::BurnInvalid => "BurnInvalid",
            AnomalyKind::SynthesisChangedHolder => "SynthesisChangedHolder",
            AnomalyKind::BlindBoxInvalid => "BlindBoxInvalid",
        }
    }
}

impl fmt::Display for AnomalyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One thing found wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    /// What kind.
    pub kind: AnomalyKind,
    /// The height it was found at, when it concerns a block.
    pub height: Option<u64>,
    /// The underlying error code (of the types or ledger crate), when there is one.
    pub cause: Option<String>,
    /// A precise human explanation.
    pub message: String,
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(h) = self.height {
            write!(f, " at height {h}")?;
        }
        if let Some(c) = &self.cause {
            write!(f, " ({c})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Counts for one issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerSummary {
    /// The issuer's key.
    pub issuer: PublicKey,
    /// Its registered name.
    pub name: String,
    /// Series created.
    pub series: u64,
    /// Editions minted over all its series.
    pub minted: u64,
    /// Its certificates revoked (by it or by governance).
    pub revoked: u64,
}

/// Counts for one series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesSummary {
    /// The series id.
    pub series_id: SeriesId,
    /// Its issuer.
    pub issuer: PublicKey,
    /// Its name.
    pub name: String,
    /// Edition cap.
    pub max_supply: u32,
    /// Editions minted.
    pub minted: u32,
    /// Certificates revoked.
    pub revoked: u32,
    /// Certificates burned by synthesis.
    #[serde(default)]
    pub burned: u32,
}

/// Where a blind box's sale stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoxStatus {
    /// Still selling: its variants are not drawn yet.
    Open,
    /// Sale closed, seed never revealed: its buyers do not know what they hold.
    ClosedUnrevealed {
        /// Height of the close.
        closed_height: u64,
    },
    /// Revealed: the audit drew every edition's variant.
    Revealed {
        /// Height of the close.
        closed_height: u64,
        /// Height of the reveal.
        height: u64,
        /// The revealed seed (it matches the commitment).
        seed: Hash32,
        /// The entropy (the log root just after the close, as recomputed by the audit).
        entropy: Hash32,
    },
}

/// One blind box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxSummary {
    /// The series id.
    pub series_id: SeriesId,
    /// Its name.
    pub name: String,
    /// Its editions (the series' cap, the sum of the variant counts).
    pub editions: u32,
    /// Editions minted.
    pub sold: u32,
    /// The variants (name, count), in order.
    pub variants: Vec<(String, u32)>,
    /// Open, closed but not revealed, or revealed.
    pub status: BoxStatus,
    /// For a revealed box, the variant index of edition `e` at `e - 1`, drawn
    /// by the audit; empty otherwise.
    pub draw: Vec<u32>,
}

/// The variants of the first `limit` editions of a revealed box's draw, as text.
fn draw_preview(b: &BoxSummary, limit: usize) -> String {
    let name = |v: u32| b.variants.get(v as usize).map_or("?", |(n, _)| n.as_str());
    let mut shown: Vec<String> =
        b.draw.iter().take(limit).enumerate().map(|(i, v)| format!("#{} {}", i + 1, name(*v))).collect();
    if b.draw.len() > limit {
        shown.push(format!("... ({} more)", b.draw.len() - limit));
    }
    shown.join(", ")
}

/// What an audit established.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// True when no anomaly was found.
    pub passed: bool,
    /// The chain audited.
    pub chain_id: ChainId,
    /// Its genesis hash.
    pub genesis_hash: BlockHash,
    /// Last height whose block and commit passed every check (0: none).
    pub verified_height: u64,
    /// Highest height the source offered.
    pub source_height: u64,
    /// Height at which replay stopped on an anomaly, if it did.
    pub stopped_at: Option<u64>,
    /// Transactions verified, by kind (`mint`, `revoke`, ...).
    pub transactions: BTreeMap<String, u64>,
    /// Commit signatures verified.
    pub commit_signatures: u64,
    /// Log size after the last verified block.
    pub log_size: u64,
    /// Log root after the last verified block.
    pub log_root: Hash32,
    /// State root after the last verified block.
    pub state_root: Hash32,
    /// Equivocation evidence records verified.
    pub evidence_checked: u64,
    /// The validator set governing the block after the last verified one,
    /// with the first height it governs (1 for the genesis set).
    pub validators_in_force: ScheduledSet,
    /// Every membership change of the verified blocks (validator set,
    /// governance, observers), in chain order.
    pub membership: Vec<MembershipEvent>,
    /// Per issuer.
    pub issuers: Vec<IssuerSummary>,
    /// Per series.
    pub series: Vec<SeriesSummary>,
    /// Every blind box, open, closed but unrevealed, or revealed.
    #[serde(default)]
    pub boxes: Vec<BoxSummary>,
    /// Everything found wrong, in the order found.
    pub anomalies: Vec<Anomaly>,
}

impl fmt::Display for Report {
    /// The human summary printed by `keepsake audit`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "PASS" } else { "FAIL" };
        writeln!(f, "audit {verdict}: chain {} (genesis {})", self.chain_id, self.genesis_hash)?;
        writeln!(f, "  blocks verified: {} of {}", self.verified_height, self.source_height)?;
        if let Some(h) = self.stopped_at {
            writeln!(f, "  replay stopped at height {h}: later blocks cannot be checked")?;
        }
        let txs: u64 = self.transactions.values().sum();
        let kinds: Vec<String> = self.transactions.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(f, "  transactions: {txs} ({})", kinds.join(", "))?;
        writeln!(f, "  commit signatures verified: {}", self.commit_signatures)?;
        writeln!(f, "  log: {} entries, root {}", self.log_size, self.log_root)?;
        writeln!(f, "  equivocation evidence checked: {}", self.evidence_checked)?;
        let set = &self.validators_in_force;
        writeln!(
            f,
            "  validator set in force from height {}: {} validators, total power {}: {}",
            set.from_height,
            set.validators.validators.len(),
            set.validators.total_power(),
            names(&set.validators.validators)
        )?;
        if self.membership.is_empty() {
            writeln!(f, "  membership changes: none")?;
        } else {
            writeln!(f, "  membership changes: {}", self.membership.len())?;
            for event in &self.membership {
                writeln!(f, "  - {event}")?;
            }
        }
        for i in &self.issuers {
            writeln!(
                f,
                "  issuer {} ({}): {} series, {} minted, {} revoked",
                i.name, i.issuer, i.series, i.minted, i.revoked
            )?;
        }
        for s in &self.series {
            writeln!(
                f,
                "  series {} ({}): {}/{} minted, {} revoked, {} burned",
                s.name, s.series_id, s.minted, s.max_supply, s.revoked, s.burned
            )?;
        }
        for b in &self.boxes {
            let variants: Vec<String> = b.variants.iter().map(|(n, c)| format!("{n} x{c}")).collect();
            write!(
                f,
                "  blind box {} ({}): {}/{} sold [{}]: ",
                b.name,
                b.series_id,
                b.sold,
                b.editions,
                variants.join(", ")
            )?;
            match &b.status {
                BoxStatus::Open => writeln!(f, "OPEN (sale not closed, variants not drawn)")?,
                BoxStatus::ClosedUnrevealed { closed_height } => writeln!(
                    f,
                    "CLOSED at height {closed_height} but NOT REVEALED: its buyers cannot know their variants"
                )?,
                BoxStatus::Revealed { closed_height, height, entropy, .. } => writeln!(
                    f,
                    "revealed at height {height} (closed at {closed_height}, entropy {entropy}); draw re-derived: {}",
                    draw_preview(b, 16)
                )?,
            }
        }
        if self.anomalies.is_empty() {
            writeln!(f, "  anomalies: none")?;
        } else {
            writeln!(f, "  anomalies: {}", self.anomalies.len())?;
            for a in &self.anomalies {
                writeln!(f, "  - {a}")?;
            }
        }
        Ok(())
    }
}
