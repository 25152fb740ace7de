//! The certificate: a JSON file a holder or auditor keeps, verifiable offline
//! with nothing but the genesis file.
//!
//! Verification ([`Certificate::verify`]) walks, in order: format and chain
//! id -> the validator-set transitions from genesis (`membership`) -> the
//! checkpoint's commit (header hash, validator-set hash, a quorum of valid
//! precommits of the set governing its height) -> the inclusion proofs of the
//! mint and series leaves against the header's log root -> the decoded leaves
//! -> every field of the record. A refreshed certificate also carries the
//! checkpoint it was verified at before ([`CheckpointLink`]), and the
//! RFC 9162 consistency proof from that older log to the newer one is checked
//! right after the checkpoint. The first failure is returned with a precise
//! reason; nothing in the file is trusted before it is checked.
//!
//! [`CertificateStatus`] is a node's answer to "is this certificate still
//! active?": a revocation comes with its own inclusion proof and is verified
//! like the certificate; an "active" answer proves only that the node showed
//! a real checkpoint (an append-only log proves presence, not absence; the
//! full answer is `keepsake audit`, docs/auditor-guide.md).

use serde::{Deserialize, Serialize};

use crate::block::{Checkpoint, LogLeaf};
use crate::bytes::HexBytes;
use crate::chain_id::ChainId;
use crate::ed25519::{Signatures, check_batched};
use crate::encoding::{decode_canonical, encode};
use crate::genesis::Genesis;
use crate::hash::Hash32;
use crate::ids::{self, CertificateId, ContentHash, HolderId, SeriesId, TxId};
use crate::keys::PublicKey;
use crate::life_proof::{
    DRAWS_KEPT_MAX, DrawMemo, Draws, VariantRecord, VerifiedBlindBox, VerifiedBurn, check_blind_box,
    check_burn, check_recipe,
};
use crate::membership::{SetTransition, ValidatorSchedule};
use crate::merkle;
use crate::tx::TxBody;
use crate::{Error, Result};

/// The `format` value of version 1 certificates.
pub const CERTIFICATE_FORMAT: &str = "keepsake-certificate/v1";

/// Largest certificate file accepted by tools, in bytes (room for hundreds
/// of validator-set transitions).
pub const CERTIFICATE_FILE_MAX: usize = 4 * 1024 * 1024;

/// The human-readable facts a certificate attests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateRecord {
    /// The series.
    pub series_id: SeriesId,
    /// The series name.
    pub series_name: String,
    /// Edition number.
    pub edition: u32,
    /// Edition cap of the series.
    pub max_supply: u32,
    /// The holder commitment.
    pub holder: HolderId,
    /// The issuer's key.
    pub issuer: PublicKey,
    /// SHA-256 of the artwork.
    pub content_hash: ContentHash,
    /// Metadata location.
    pub metadata_uri: String,
    /// The reviewer that approved the series.
    pub reviewer: PublicKey,
    /// Height of the block that committed the mint.
    pub height: u64,
    /// Time of that block (ms since the Unix epoch).
    pub time_ms: u64,
    /// The mint transaction's id (the synthesis', for a synthesized certificate).
    pub mint_tx: TxId,
    /// A synthesized certificate: the certificates burned into it, exactly
    /// the synthesis' `inputs` (empty, and omitted, for a minted one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synthesized_from: Vec<CertificateId>,
    /// A revealed blind box: the variant drawn for this edition (omitted
    /// for every other certificate, and before the reveal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<VariantRecord>,
}

/// A log entry with its inclusion proof against the checkpoint's log root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntryProof {
    /// Position in the log.
    pub leaf_index: u64,
    /// `encode(LogLeaf)`.
    pub leaf: HexBytes,
    /// RFC 9162 inclusion proof, leaf to root.
    pub proof: Vec<Hash32>,
}

impl LogEntryProof {
    pub(crate) fn verify_against(
        &self,
        checkpoint: &Checkpoint,
        field: &'static str,
        leaf_bytes_max: usize,
    ) -> Result<LogLeaf> {
        let header = &checkpoint.header;
        merkle::verify_inclusion(
            &merkle::leaf_hash(&self.leaf.0),
            self.leaf_index,
            header.log_size,
            &self.proof,
            &header.log_root,
        )
        .map_err(|e| Error::Proof(format!("{field}: {e}")))?;
        let leaf: LogLeaf = decode_canonical(&self.leaf.0, leaf_bytes_max, field)?;
        if leaf.height > header.height {
            return Err(mismatch(
                field,
                format!("leaf height {} is above the checkpoint height {}", leaf.height, header.height),
            ));
        }
        Ok(leaf)
    }
}

/// The certificate file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// Always [`CERTIFICATE_FORMAT`].
    pub format: String,
    /// The chain.
    pub chain_id: ChainId,
    /// The certificate id.
    pub certificate_id: CertificateId,
    /// What it attests.
    pub record: CertificateRecord,
    /// The mint transaction's log entry (a `Mint`, or the `Synthesize` that
    /// made a synthesized certificate).
    pub mint: LogEntryProof,
    /// The series creation's log entry (carries the content hash and review).
    pub series: LogEntryProof,
    /// A quorum-signed checkpoint whose log contains both entries.
    pub checkpoint: Checkpoint,
    /// The validator-set changes in force at `checkpoint`, oldest first, each
    /// proven to the set before it (empty while the genesis set governs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<SetTransition>,
    /// Set by `keepsake cert refresh`: the checkpoint this certificate was
    /// anchored to before, linked to `checkpoint` by a consistency proof.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<CheckpointLink>,
    /// A revealed blind box: the `RevealBlindBox` entry, proven against
    /// `checkpoint` (it draws `record.variant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal: Option<LogEntryProof>,
}

/// An older checkpoint and the proof that the certificate's current log
/// extends it (nothing in the older log was rewritten or dropped).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointLink {
    /// The older checkpoint.
    pub checkpoint: Checkpoint,
    /// RFC 9162 consistency proof from the older log size to the newer one.
    pub consistency: Vec<Hash32>,
}

/// What a successful verification establishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedCertificate {
    /// The certificate id.
    pub certificate_id: CertificateId,
    /// The verified record.
    pub record: CertificateRecord,
    /// Checkpoint height the proof is anchored to.
    pub checkpoint_height: u64,
    /// Log size at that checkpoint.
    pub log_size: u64,
    /// Position of the mint in the log.
    pub mint_leaf_index: u64,
    /// Height of the older checkpoint a refreshed certificate is linked to.
    pub previous_height: Option<u64>,
    /// Voting power that signed the checkpoint.
    pub signed_power: u64,
    /// Total voting power of the validator set that signed it.
    pub total_power: u64,
    /// Validator-set changes followed from the genesis set to that set.
    pub set_changes: usize,
    /// A synthesized certificate: the recipe of the series it was made by
    /// (the burned certificates are `record.synthesized_from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipe: Option<u32>,
    /// A blind-box edition: revealed (its variant is `record.variant`) or not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blind_box: Option<VerifiedBlindBox>,
}

pub(crate) fn mismatch(field: &'static str, reason: String) -> Error {
    Error::CertificateMismatch { field, reason }
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(field: &'static str, expected: &T, got: &T) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(mismatch(field, format!("record says {got:?}, log says {expected:?}")))
    }
}

/// Parses a JSON file of at most `max` bytes into `T` (whose serde
/// attributes refuse unknown fields): `TooLarge` over the limit, before
/// parsing; `Malformed` naming `what` when it does not parse.
pub(crate) fn parse_json_file<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &'static str,
    max: usize,
) -> Result<T> {
    if text.len() > max {
        return Err(Error::TooLarge { what, len: text.len(), max });
    }
    serde_json::from_str(text).map_err(|e| Error::Malformed { what, reason: e.to_string() })
}

impl Certificate {
    /// Parses a certificate file (bounded size, unknown fields refused).
    pub fn from_json(text: &str) -> Result<Self> {
        parse_json_file(text, "certificate file", CERTIFICATE_FILE_MAX)
    }

    /// Verifies this certificate against `genesis` alone. See the module docs
    /// for the order of checks; docs/protocol.md for the bytes.
    ///
    /// Every signature the certificate needs (the transitions' and the
    /// checkpoints' precommits, the mint and series transactions, the
    /// review approval) is verified in one batch ([`crate::SignatureBatch`]).
    /// When the batch fails, the checks run again verifying each signature
    /// where it is met, so the error is the first one in the documented
    /// order, as if the signatures had been verified one at a time.
    pub fn verify(&self, genesis: &Genesis) -> Result<VerifiedCertificate> {
        self.verify_inner(genesis, None)
    }

    fn verify_inner(&self, genesis: &Genesis, memo: Option<&mut Proven>) -> Result<VerifiedCertificate> {
        let (verified, learned) =
            check_batched(8, |signatures| self.check(genesis, memo.as_deref(), signatures))?;
        if let Some(m) = memo {
            m.learn(learned);
        }
        Ok(verified)
    }

    /// Every check of [`Certificate::verify`], in order, with the signatures
    /// sent to `signatures`; what `memo` has proven is not proven again, and
    /// what this certificate proves is returned for the memo to learn (only
    /// once its signatures are verified).
    fn check(
        &self,
        genesis: &Genesis,
        memo: Option<&Proven>,
        signatures: &mut Signatures<'_>,
    ) -> Result<(VerifiedCertificate, Learned)> {
        if self.format != CERTIFICATE_FORMAT {
            return Err(Error::Malformed {
                what: "certificate",
                reason: format!("unsupported format {:?}, expected {CERTIFICATE_FORMAT:?}", self.format),
            });
        }
        let chain = genesis.chain_id.as_str();
        for got in [&self.chain_id, &self.checkpoint.header.chain_id] {
            if got != chain {
                return Err(Error::WrongChain { expected: chain.to_string(), got: got.to_string() });
            }
        }
        // The validator sets from genesis to the checkpoint, each change proven
        // by the set before it (followed once per exact transitions when a memo is kept).
        let (schedule, new_schedule) = match memo {
            Some(m) => m.schedule(genesis, &self.transitions, signatures)?,
            None => (
                std::sync::Arc::new(ValidatorSchedule::follow_checked(
                    genesis,
                    &self.transitions,
                    signatures,
                )?),
                None,
            ),
        };
        let validators = schedule_at_checkpoint(&schedule, &self.checkpoint, self.transitions.len())?;
        // Checkpoint: header hash, validator set, quorum of valid precommits.
        // A checkpoint proven before (the same header and commit bytes) under
        // the same validator set has the same verdict. The set is part of the
        // key: the same checkpoint carried with other transitions (some left
        // out) is checked against another set, and must get that set's verdict.
        let checkpoint_key =
            memo.as_ref().map(|_| proven_key(&[&encode(&self.checkpoint), &encode(&validators.validators)]));
        let known =
            memo.as_ref().zip(checkpoint_key.as_ref()).and_then(|(m, k)| m.checkpoints.get(k).copied());
        let signed_power = match known {
            Some(power) => power,
            None => self.checkpoint.commit.check(&self.checkpoint.header, validators, signatures)?,
        };
        // A refreshed certificate: the older checkpoint, and the log growing from it.
        if let Some(link) = &self.previous {
            link.check_with(&schedule, genesis, &self.checkpoint, signatures)?;
            if self.mint.leaf_index >= link.checkpoint.header.log_size {
                return Err(mismatch(
                    "previous.checkpoint",
                    "the older checkpoint's log does not contain the mint".into(),
                ));
            }
        }

        // Both log entries are in the checkpoint's log.
        let leaf_max = genesis.params.log_leaf_bytes_max();
        let mint_leaf = self.mint.verify_against(&self.checkpoint, "mint", leaf_max)?;
        let series_leaf = self.series.verify_against(&self.checkpoint, "series", leaf_max)?;
        if self.series.leaf_index >= self.mint.leaf_index {
            return Err(mismatch("series.leaf_index", "the series must be logged before the mint".into()));
        }

        // The mint entry.
        let r = &self.record;
        // A synthesis mints its output as a `Mint` would (series, edition, holder).
        let (series_id, edition, holder, synthesis) = match &mint_leaf.tx.body {
            TxBody::Mint { series_id, edition, holder } => (series_id, edition, holder, None),
            TxBody::Synthesize { series_id, recipe, inputs, edition, holder } => {
                (series_id, edition, holder, Some((*recipe, inputs.as_slice())))
            }
            other => {
                return Err(mismatch("mint.leaf", format!("is a {} transaction, not a mint", other.kind())));
            }
        };
        expect_eq("record.series_id", series_id, &r.series_id)?;
        expect_eq("record.edition", edition, &r.edition)?;
        expect_eq("record.holder", holder, &r.holder)?;
        let burned: &[CertificateId] = synthesis.map_or(&[], |(_, inputs)| inputs);
        expect_eq("record.synthesized_from", &burned, &r.synthesized_from.as_slice())?;
        expect_eq("record.height", &mint_leaf.height, &r.height)?;
        expect_eq("record.time_ms", &mint_leaf.time_ms, &r.time_ms)?;
        expect_eq("record.mint_tx", &mint_leaf.tx.id(chain), &r.mint_tx)?;
        expect_eq("certificate_id", &ids::certificate_id(chain, series_id, *edition), &self.certificate_id)?;
        mint_leaf.tx.check_signatures(chain, signatures)?;
        if !mint_leaf.tx.signed_by(&r.issuer) {
            return Err(mismatch("record.issuer", "the mint is not signed by the record's issuer".into()));
        }

        // The series entry (a plain series, or one created with terms).
        let Some(creation) = series_leaf.tx.body.series_creation() else {
            return Err(mismatch(
                "series.leaf",
                format!("is a {} transaction, not a series creation", series_leaf.tx.body.kind()),
            ));
        };
        let subject = &creation.subject;
        let issuer = &subject.issuer;
        expect_eq("record.issuer", issuer, &r.issuer)?;
        expect_eq("record.series_name", &subject.name, &r.series_name)?;
        expect_eq("record.series_id", &ids::series_id(chain, issuer, &subject.name), &r.series_id)?;
        expect_eq("record.content_hash", &subject.content_hash, &r.content_hash)?;
        expect_eq("record.max_supply", &subject.max_supply, &r.max_supply)?;
        expect_eq("record.metadata_uri", &subject.metadata_uri, &r.metadata_uri)?;
        expect_eq("record.reviewer", &creation.approval.reviewer, &r.reviewer)?;
        if r.edition == 0 || r.edition > r.max_supply {
            return Err(mismatch(
                "record.edition",
                format!("edition {} outside 1..={}", r.edition, r.max_supply),
            ));
        }
        if !series_leaf.tx.signed_by(issuer) {
            return Err(mismatch("series.leaf", "the series creation is not signed by its issuer".into()));
        }
        // The series entry's signatures (issuer, reviewer) are the same for every
        // edition: proven once per exact leaf bytes when a memo is kept.
        let series_key = memo.as_ref().map(|_| proven_key(&[&self.series.leaf.0]));
        let series_known = memo.as_ref().zip(series_key.as_ref()).is_some_and(|(m, k)| m.series.contains(k));
        if !series_known {
            series_leaf.tx.check_signatures(chain, signatures)?;
            creation.check_approval(chain, signatures)?;
        }
        // A synthesized certificate's recipe, a blind box's reveal and variant.
        if let Some((recipe, _)) = synthesis {
            check_recipe(creation.terms, recipe)?;
        }
        // A draw is computed once per box when a memo is kept.
        let mut draws = DrawMemo { known: memo.as_ref().map(|m| &m.draws), new: None };
        let blind_box = check_blind_box(
            chain,
            creation.terms.and_then(|t| t.blind_box.as_ref()),
            r,
            self.reveal.as_ref(),
            &self.checkpoint,
            self.mint.leaf_index,
            leaf_max,
            signatures,
            &mut draws,
        )?;
        let learned = Learned {
            draw: draws.new,
            schedule: new_schedule,
            proven: checkpoint_key.zip(series_key).map(|(c, s)| (c, signed_power, s)),
        };

        let verified = VerifiedCertificate {
            certificate_id: self.certificate_id,
            record: r.clone(),
            checkpoint_height: self.checkpoint.header.height,
            log_size: self.checkpoint.header.log_size,
            mint_leaf_index: self.mint.leaf_index,
            previous_height: self.previous.as_ref().map(|p| p.checkpoint.header.height),
            signed_power,
            total_power: validators.total_power(),
            set_changes: self.transitions.len(),
            recipe: synthesis.map(|(recipe, _)| recipe),
            blind_box,
        };
        Ok((verified, learned))
    }
}

/// Most checkpoints and series entries a [`CertificateVerifier`] remembers
/// (each; when full, it forgets everything and starts again).
pub const VERIFIER_MEMO_MAX: usize = 100_000;

/// Most validator schedules a [`CertificateVerifier`] remembers.
const SCHEDULES_KEPT_MAX: usize = 64;

/// The set that signs `checkpoint` under `schedule`, refusing transitions
/// that take effect after it (they cannot have been proven by then).
fn schedule_at_checkpoint<'s>(
    schedule: &'s ValidatorSchedule,
    checkpoint: &Checkpoint,
    transitions: usize,
) -> Result<&'s crate::ValidatorSet> {
    let latest = schedule.latest();
    if transitions > 0 && latest.from_height > checkpoint.header.height {
        return Err(Error::InvalidTransition {
            index: transitions - 1,
            reason: format!(
                "it takes effect at height {}, after the checkpoint at height {}",
                latest.from_height, checkpoint.header.height
            ),
        });
    }
    Ok(schedule.at(checkpoint.header.height))
}

/// What a [`CertificateVerifier`] has proven: checkpoints (by the hash of
/// their exact encoding and of the validator set they were checked against)
/// with their signed power, and series entries (by the hash of their exact
/// leaf bytes).
#[derive(Default)]
struct Proven {
    checkpoints: std::collections::HashMap<Hash32, u64>,
    series: std::collections::HashSet<Hash32>,
    /// Schedules followed, by the hash of their exact transitions (few: one per chain state).
    schedules: std::collections::HashMap<Hash32, std::sync::Arc<ValidatorSchedule>>,
    /// Blind-box draws, by the hash of their exact inputs.
    draws: Draws,
}

/// A schedule followed for the first time, by the hash of its transitions.
type NewSchedule = Option<(Hash32, std::sync::Arc<ValidatorSchedule>)>;

/// What one verified certificate adds to a [`Proven`].
struct Learned {
    /// A blind-box draw computed for the first time.
    draw: Option<(Hash32, std::sync::Arc<Vec<u32>>)>,
    /// A schedule followed for the first time.
    schedule: NewSchedule,
    /// The checkpoint's key and signed power, and the series entry's key.
    proven: Option<(Hash32, u64, Hash32)>,
}

impl Proven {
    /// The schedule `transitions` lead to, followed once per exact transitions
    /// and shared (not copied) by every certificate that carries them; a
    /// schedule followed now (its signatures sent to `signatures`) comes back
    /// with its key, to be learned once the certificate is verified.
    fn schedule(
        &self,
        genesis: &Genesis,
        transitions: &[SetTransition],
        signatures: &mut Signatures<'_>,
    ) -> Result<(std::sync::Arc<ValidatorSchedule>, NewSchedule)> {
        if transitions.is_empty() {
            return Ok((std::sync::Arc::new(ValidatorSchedule::genesis(genesis)), None));
        }
        let key = proven_key(&[&encode(&transitions)]);
        if let Some(s) = self.schedules.get(&key) {
            return Ok((s.clone(), None));
        }
        let schedule =
            std::sync::Arc::new(ValidatorSchedule::follow_checked(genesis, transitions, signatures)?);
        Ok((std::sync::Arc::clone(&schedule), Some((key, schedule))))
    }

    fn learn(&mut self, learned: Learned) {
        if let Some((key, deck)) = learned.draw {
            if self.draws.len() >= DRAWS_KEPT_MAX {
                self.draws.clear();
            }
            self.draws.insert(key, deck);
        }
        if let Some((key, schedule)) = learned.schedule {
            if self.schedules.len() >= SCHEDULES_KEPT_MAX {
                self.schedules.clear();
            }
            self.schedules.insert(key, schedule);
        }
        if let Some((checkpoint, power, series)) = learned.proven {
            if self.checkpoints.len() >= VERIFIER_MEMO_MAX || self.series.len() >= VERIFIER_MEMO_MAX {
                *self = Proven::default();
            }
            self.checkpoints.insert(checkpoint, power);
            self.series.insert(series);
        }
    }
}

fn proven_key(parts: &[&[u8]]) -> Hash32 {
    let mut bytes = Vec::new();
    for p in parts {
        bytes.extend_from_slice(&(p.len() as u64).to_be_bytes());
        bytes.extend_from_slice(p);
    }
    crate::hash::sha256(&bytes)
}

/// Verifies many certificates of one chain (an auditor checking a whole drop,
/// a platform re-checking its holders' files). Each certificate gets every
/// check of [`Certificate::verify`], in the same order and with the same
/// errors; what is the same across certificates is proven once: a
/// checkpoint's quorum of precommits (keyed by its exact bytes and the
/// validator set it was checked against), the validator schedule (keyed by
/// the exact transitions) and a series entry's issuer and reviewer
/// signatures (keyed by its exact leaf bytes).
/// What differs per certificate — the inclusion proofs, the mint's
/// signature, every record field — is checked each time. Each certificate's
/// signatures still to prove are verified as one batch, and only a
/// certificate that verifies adds to what is remembered.
pub struct CertificateVerifier {
    genesis: Genesis,
    proven: Proven,
}

impl CertificateVerifier {
    /// A verifier for the chain of `genesis` (the only thing trusted).
    pub fn new(genesis: Genesis) -> Self {
        Self { genesis, proven: Proven::default() }
    }

    /// [`Certificate::verify`], remembering what this certificate proved.
    pub fn verify(&mut self, certificate: &Certificate) -> Result<VerifiedCertificate> {
        certificate.verify_inner(&self.genesis, Some(&mut self.proven))
    }

    /// Checkpoints remembered (for tests and progress output).
    pub fn checkpoints_proven(&self) -> usize {
        self.proven.checkpoints.len()
    }

    /// Blind-box draws remembered (for tests): one per revealed box seen.
    pub fn draws_remembered(&self) -> usize {
        self.proven.draws.len()
    }
}

/// Verifies that `checkpoint` is a quorum-signed checkpoint of `genesis`'s
/// chain, signed by the set `schedule` says governs its height (the
/// signatures sent to `signatures`).
fn check_checkpoint(
    genesis: &Genesis,
    schedule: &ValidatorSchedule,
    checkpoint: &Checkpoint,
    signatures: &mut Signatures<'_>,
) -> Result<u64> {
    if checkpoint.header.chain_id != genesis.chain_id {
        return Err(Error::WrongChain {
            expected: genesis.chain_id.to_string(),
            got: checkpoint.header.chain_id.to_string(),
        });
    }
    checkpoint.commit.check(&checkpoint.header, schedule.at(checkpoint.header.height), signatures)
}

impl CheckpointLink {
    /// Checks the older checkpoint (its own quorum, under the genesis set)
    /// and the consistency proof from its log to the log of `newer`.
    pub fn verify(&self, genesis: &Genesis, newer: &Checkpoint) -> Result<()> {
        self.verify_with(&ValidatorSchedule::genesis(genesis), genesis, newer)
    }

    /// [`CheckpointLink::verify`] with the validator sets of `schedule`.
    pub fn verify_with(
        &self,
        schedule: &ValidatorSchedule,
        genesis: &Genesis,
        newer: &Checkpoint,
    ) -> Result<()> {
        check_batched(self.checkpoint.commit.signatures.len(), |signatures| {
            self.check_with(schedule, genesis, newer, signatures)
        })
    }

    /// [`CheckpointLink::verify_with`], with the signatures sent to `signatures`.
    fn check_with(
        &self,
        schedule: &ValidatorSchedule,
        genesis: &Genesis,
        newer: &Checkpoint,
        signatures: &mut Signatures<'_>,
    ) -> Result<()> {
        check_checkpoint(genesis, schedule, &self.checkpoint, signatures)?;
        let (old, new) = (&self.checkpoint.header, &newer.header);
        if old.height >= new.height {
            return Err(mismatch(
                "previous.checkpoint",
                format!("height {} is not below the checkpoint height {}", old.height, new.height),
            ));
        }
        merkle::verify_consistency(
            old.log_size,
            new.log_size,
            &old.log_root,
            &new.log_root,
            &self.consistency,
        )
        .map_err(|e| Error::Inconsistent {
            old_height: old.height,
            new_height: new.height,
            reason: e.to_string(),
        })
    }
}

/// Who revoked a certificate (rules T7/T8 for `Revoke`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revoker {
    /// The series' issuer, alone.
    Issuer,
    /// Governors (at least the threshold in force, as the ledger checked).
    Governance,
}

/// A node's answer to "what is the status of this certificate?"
/// (`keepsake_getCertificateStatus`), checkable offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificateStatus {
    /// The certificate asked about.
    pub certificate_id: CertificateId,
    /// The checkpoint the answer is given at.
    pub checkpoint: Checkpoint,
    /// The validator-set changes in force at `checkpoint` (as in a certificate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<SetTransition>,
    /// The revocation's log entry and its inclusion proof against
    /// `checkpoint`; `None` when the node says the certificate is active.
    pub revocation: Option<LogEntryProof>,
    /// The `Synthesize` entry that burned the certificate, with its
    /// inclusion proof against `checkpoint` (omitted when not burned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burn: Option<LogEntryProof>,
}

/// A verified revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedRevocation {
    /// Reason recorded on chain.
    pub reason: String,
    /// Who revoked.
    pub by: Revoker,
    /// Height of the revoking block.
    pub height: u64,
    /// Its time.
    pub time_ms: u64,
    /// The revoking transaction.
    pub tx_id: TxId,
    /// Its position in the log.
    pub leaf_index: u64,
}

/// What verifying a [`CertificateStatus`] establishes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedStatus {
    /// The certificate.
    pub certificate_id: CertificateId,
    /// Height of the (verified) checkpoint of the answer.
    pub checkpoint_height: u64,
    /// `Some` when revoked: proven by the revocation's inclusion proof.
    /// `None` when the node says "active": the checkpoint is genuine, but
    /// the absence of a revocation is the node's word (see the module docs).
    pub revocation: Option<VerifiedRevocation>,
    /// `Some` when burned by a synthesis: proven by its inclusion proof.
    /// `None`: not burned, on the node's word (as for a revocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burned: Option<VerifiedBurn>,
}

impl CertificateStatus {
    /// Verifies this answer for the certificate `cert` (already verified
    /// against the same `genesis`): the checkpoint's quorum, that its log
    /// contains the mint (an older answer is stale), and for a
    /// revocation its inclusion proof, that it revokes this certificate, its
    /// signatures and that its signers had the authority (rules T7/T8).
    ///
    /// Its signatures are verified as one batch, with the errors of checking
    /// them one by one (as [`Certificate::verify`]).
    pub fn verify(&self, genesis: &Genesis, cert: &VerifiedCertificate) -> Result<VerifiedStatus> {
        check_batched(8, |signatures| self.check(genesis, cert, signatures))
    }

    /// [`CertificateStatus::verify`], with the signatures sent to `signatures`.
    fn check(
        &self,
        genesis: &Genesis,
        cert: &VerifiedCertificate,
        signatures: &mut Signatures<'_>,
    ) -> Result<VerifiedStatus> {
        let chain = genesis.chain_id.as_str();
        if self.certificate_id != cert.certificate_id {
            return Err(mismatch(
                "certificate_id",
                format!("the answer is about {}, not {}", self.certificate_id, cert.certificate_id),
            ));
        }
        let schedule = ValidatorSchedule::follow_checked(genesis, &self.transitions, signatures)?;
        schedule_at_checkpoint(&schedule, &self.checkpoint, self.transitions.len())?;
        check_checkpoint(genesis, &schedule, &self.checkpoint, signatures)?;
        // An answer at a checkpoint whose log does not even contain the mint
        // says nothing about this certificate (a stale answer).
        if self.checkpoint.header.log_size <= cert.mint_leaf_index {
            return Err(mismatch(
                "checkpoint",
                format!(
                    "the answer's log ({} entries) does not contain the mint (entry {})",
                    self.checkpoint.header.log_size, cert.mint_leaf_index
                ),
            ));
        }
        let leaf_max = genesis.params.log_leaf_bytes_max();
        let revocation = match &self.revocation {
            None => None,
            Some(entry) => Some(self.check_revocation(chain, entry, cert, leaf_max, signatures)?),
        };
        let burned = match &self.burn {
            None => None,
            Some(entry) => Some(check_burn(chain, entry, &self.checkpoint, cert, leaf_max, signatures)?),
        };
        Ok(VerifiedStatus {
            certificate_id: self.certificate_id,
            checkpoint_height: self.checkpoint.header.height,
            revocation,
            burned,
        })
    }

    /// The revocation of a status answer: its inclusion proof, that it
    /// revokes this certificate after its mint, its signatures and the shape
    /// of its signers.
    fn check_revocation(
        &self,
        chain: &str,
        entry: &LogEntryProof,
        cert: &VerifiedCertificate,
        leaf_max: usize,
        signatures: &mut Signatures<'_>,
    ) -> Result<VerifiedRevocation> {
        let leaf = entry.verify_against(&self.checkpoint, "revocation", leaf_max)?;
        let TxBody::Revoke { certificate_id, reason } = &leaf.tx.body else {
            return Err(mismatch(
                "revocation.leaf",
                format!("is a {} transaction, not a revocation", leaf.tx.body.kind()),
            ));
        };
        expect_eq("revocation.certificate_id", certificate_id, &self.certificate_id)?;
        if entry.leaf_index <= cert.mint_leaf_index {
            return Err(mismatch("revocation.leaf_index", "the revocation is logged before the mint".into()));
        }
        leaf.tx.check_signatures(chain, signatures)?;
        // T7/T8 (Revoke): the issuer alone, or k distinct governors and nobody
        // else. Governance changes over time (`SetGovernance`), and the
        // governors in force are ledger state, not visible offline: that a
        // governance revocation had its k governors is the ledger's check, and
        // the quorum that signed the checkpoint vouches for it. What is checked
        // here is the shape: the issuer alone, or signers without the issuer.
        let signers: Vec<&PublicKey> = leaf.tx.signatures.iter().map(|s| &s.signer).collect();
        let by = if signers == [&cert.record.issuer] {
            Revoker::Issuer
        } else if signers.contains(&&cert.record.issuer) {
            return Err(mismatch(
                "revocation.leaf",
                "signed by the issuer together with others: the issuer revokes alone".into(),
            ));
        } else {
            Revoker::Governance
        };
        Ok(VerifiedRevocation {
            reason: reason.clone(),
            by,
            height: leaf.height,
            time_ms: leaf.time_ms,
            tx_id: leaf.tx.id(chain),
            leaf_index: entry.leaf_index,
        })
    }
}
