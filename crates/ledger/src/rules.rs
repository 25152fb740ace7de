//! The transaction rules (docs/rules.md, T1-T51), as pure checks.
//!
//! A transaction is checked in two phases:
//! 1. [`check_stateless`]: everything decidable from the transaction and the
//!    genesis alone (the transfer ban first, then size, form, signatures).
//!    The mempool runs it once at admission; block validation runs it again.
//! 2. [`apply`]: the rules that read state, then the writes. All reads and
//!    checks happen before the first write, so a rejected transaction leaves
//!    the [`Overlay`] untouched.
//!
//! Each check quotes its rule; each rule has its own [`LedgerError`] variant.

use std::collections::BTreeSet;

use keepsake_types::genesis::GOVERNORS_MAX;
use keepsake_types::life::LIFE_TEXT_MAX_BYTES;
use keepsake_types::membership::{ChangeRefusal, SET_CHANGE_DELAY};
use keepsake_types::{
    Genesis, Hash32, IssuerStatus, PublicKey, SignatureBatch, SignedTx, TxBody, TxId, ValidatorChange,
    encoding, hash::sha256, ids,
};

use crate::life;
use crate::membership::{self, Governance};
use crate::state::{
    CertificateState, GovernanceRecord, IssuerRecord, ObserverRecord, Overlay, ReviewerRecord,
    RevocationRecord, RevokedBy, SeriesLife, SeriesRecord, SetRecord, StateView, TxLocation,
};
use crate::{LedgerError, Result};

/// Longest issuer, reviewer or series name, in bytes.
pub const NAME_MAX_BYTES: usize = 128;
/// Longest metadata URI, in bytes.
pub const METADATA_URI_MAX_BYTES: usize = 512;
/// Longest revocation reason, in bytes.
pub const REASON_MAX_BYTES: usize = 256;
/// Most signatures on one transaction (at least the most governors a genesis may list).
pub const TX_SIGNATURES_MAX: usize = 32;

pub(crate) fn malformed<T>(why: impl Into<String>) -> Result<T> {
    Err(LedgerError::Malformed(why.into()))
}

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
    // T3: strings are non-empty, bounded, and free of control characters.
    if value.trim().is_empty() {
        return malformed(format!("{field} is empty"));
    }
    if value.len() > max {
        return malformed(format!("{field} is {} bytes, over the limit of {max}", value.len()));
    }
    if value.chars().any(char::is_control) {
        return malformed(format!("{field} contains control characters"));
    }
    Ok(())
}

/// Signed transactions whose signatures this node has already verified
/// (T4), by [`signed_digest`]. Verification is a deterministic function of
/// the exact bytes (body, signer keys, signatures), so a transaction whose
/// digest is known gets the same T4 verdict without the curve arithmetic:
/// each validator verifies each transaction once (at admission), not again
/// when it builds or validates the block. The memo is local to a node and
/// never shared; a node that forgot a digest simply verifies again.
pub trait VerifiedMemo {
    /// Whether the transaction with this [`signed_digest`] passed T4 here before.
    fn verified(&self, digest: &Hash32) -> bool;
}

/// No memo: every signature is verified (audits, tests, the simulator).
impl VerifiedMemo for () {
    fn verified(&self, _: &Hash32) -> bool {
        false
    }
}

/// SHA-256 of the transaction's whole canonical encoding (body *and*
/// signatures): the memo's key. Unlike the transaction id, it changes with
/// any signature byte, so a forged signature on a known body never hits.
pub fn signed_digest(encoded_tx: &[u8]) -> Hash32 {
    sha256(encoded_tx)
}

/// What phase 1 learned about a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stateless {
    /// The transaction id.
    pub tx_id: TxId,
    /// Its [`signed_digest`] (to remember it in a [`VerifiedMemo`]).
    pub digest: Hash32,
    /// Whether the signatures were verified now (false: the memo knew them).
    pub verified_now: bool,
}

/// Phase 1: the rules that need no state. Returns the transaction id.
pub fn check_stateless(tx: &SignedTx, genesis: &Genesis) -> Result<TxId> {
    check_stateless_memo(tx, genesis, &()).map(|s| s.tx_id)
}

/// A transaction's canonical encoding and its [`signed_digest`], computed
/// once for everything that needs them (T2's size, the memo's key, gossip,
/// and through [`Encoded::body`] the id and the signing message).
#[derive(Clone, Debug)]
pub struct Encoded {
    /// `encoding::encode(tx)` (private: [`Encoded::body`] is a prefix of it).
    bytes: Vec<u8>,
    /// `signed_digest(&bytes)`.
    pub digest: Hash32,
    /// `encoding::encode(&tx.body).len()`: the body's encoding is this
    /// prefix of `bytes` ([`SignedTx::encode_with_body_len`]).
    body_len: usize,
    /// The id, when [`Encoded::with_id`] computed it (crate-private: a
    /// [`crate::block::CheckedBody`] keeps it with the chain it is for).
    pub(crate) id: Option<TxId>,
}

impl Encoded {
    /// Encodes `tx` and hashes the encoding.
    pub fn of(tx: &SignedTx) -> Self {
        let (bytes, body_len) = tx.encode_with_body_len();
        let digest = signed_digest(&bytes);
        Self { bytes, digest, body_len, id: None }
    }

    /// [`Encoded::of`] with the id on `chain_id` computed now and kept (for
    /// a block's body check, which needs the ids before the rules do). Only
    /// [`crate::block::CheckedBody`] uses it, and only on its own chain.
    pub(crate) fn with_id(tx: &SignedTx, chain_id: &str) -> Self {
        let mut encoded = Self::of(tx);
        encoded.id = Some(TxBody::id_of_encoded(chain_id, encoded.body()));
        encoded
    }

    /// `encoding::encode(tx)`.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// `encoding::encode(tx)`, taken.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// `encoding::encode(&tx.body)`, without encoding it again.
    pub fn body(&self) -> &[u8] {
        &self.bytes[..self.body_len]
    }

    /// The transaction's id on `chain_id` ([`SignedTx::id`]), from
    /// [`Encoded::body`] (or as [`Encoded::with_id`] kept it: that was on
    /// the same chain, see [`crate::block::CheckedBody`]).
    pub fn tx_id(&self, chain_id: &str) -> TxId {
        self.id.unwrap_or_else(|| TxBody::id_of_encoded(chain_id, self.body()))
    }
}

/// Phase 1 with a memo of transactions verified before (T4 is skipped for a
/// known [`signed_digest`]; every other rule is checked as always).
pub fn check_stateless_memo(tx: &SignedTx, genesis: &Genesis, memo: &dyn VerifiedMemo) -> Result<Stateless> {
    check_stateless_encoded(tx, &Encoded::of(tx), genesis, memo)
}

/// [`check_stateless_memo`] with the transaction's [`Encoded`] form computed
/// by the caller (it must be `Encoded::of(tx)`).
pub fn check_stateless_encoded(
    tx: &SignedTx,
    encoded: &Encoded,
    genesis: &Genesis,
    memo: &dyn VerifiedMemo,
) -> Result<Stateless> {
    let chain = genesis.chain_id.as_str();

    // T1: "Transfer — signed by anyone — valid: never." Checked before anything
    // else, so a client always learns the real reason.
    if let TxBody::Transfer { certificate_id, .. } = &tx.body {
        return Err(LedgerError::TransferForbidden { certificate_id: *certificate_id });
    }

    // T2: the canonical encoding is at most `tx_bytes_max` bytes.
    let len = encoded.bytes().len();
    let max = genesis.params.tx_bytes_max as usize;
    if len > max {
        return Err(LedgerError::TxTooLarge { len, max });
    }

    // T3: well-formed: 1..=32 signatures by distinct signers, bounded strings.
    if tx.signatures.is_empty() {
        return malformed("no signatures");
    }
    if tx.signatures.len() > TX_SIGNATURES_MAX {
        return malformed(format!(
            "{} signatures, over the limit of {TX_SIGNATURES_MAX}",
            tx.signatures.len()
        ));
    }
    let signers: BTreeSet<&PublicKey> = tx.signatures.iter().map(|s| &s.signer).collect();
    if signers.len() != tx.signatures.len() {
        return malformed("the same key signed twice");
    }
    match &tx.body {
        TxBody::RegisterIssuer { name, .. } | TxBody::RegisterReviewer { name, .. } => {
            check_text("name", name, NAME_MAX_BYTES)?
        }
        TxBody::CreateSeries { name, metadata_uri, .. } => {
            check_text("name", name, NAME_MAX_BYTES)?;
            check_text("metadata_uri", metadata_uri, METADATA_URI_MAX_BYTES)?;
        }
        TxBody::Mint { edition, .. } => {
            if *edition == 0 {
                return malformed("editions start at 1");
            }
        }
        TxBody::Revoke { reason, .. } => check_text("reason", reason, REASON_MAX_BYTES)?,
        TxBody::ChangeValidators { change: ValidatorChange::Add { validator }, .. } => {
            check_text("validator name", &validator.name, NAME_MAX_BYTES)?
        }
        TxBody::RegisterObserver { name, .. } => check_text("name", name, NAME_MAX_BYTES)?,
        TxBody::SetGovernance { governors, .. } => {
            if governors.len() > GOVERNORS_MAX {
                return malformed(format!(
                    "{} governors, over the limit of {GOVERNORS_MAX}",
                    governors.len()
                ));
            }
        }
        TxBody::SetIssuerLicence { licence, .. } => {
            check_text("licence kind", &licence.kind, LIFE_TEXT_MAX_BYTES)?;
            check_text("licence number", &licence.number, LIFE_TEXT_MAX_BYTES)?;
        }
        TxBody::WithdrawIssuerLicence { reason, .. } => check_text("reason", reason, REASON_MAX_BYTES)?,
        TxBody::CreateSeriesWithTerms { name, metadata_uri, .. } => {
            // The terms have a rule of their own (T39), checked with state.
            check_text("name", name, NAME_MAX_BYTES)?;
            check_text("metadata_uri", metadata_uri, METADATA_URI_MAX_BYTES)?;
        }
        TxBody::Synthesize { edition, inputs, .. } => {
            if *edition == 0 {
                return malformed("editions start at 1");
            }
            let max = keepsake_types::life::SYNTHESIS_INPUTS_MAX;
            if inputs.is_empty() || inputs.len() > max {
                return malformed(format!(
                    "{} inputs: a synthesis burns 1 to {max} certificates",
                    inputs.len()
                ));
            }
        }
        TxBody::SetIssuerStatus { .. }
        | TxBody::RemoveReviewer { .. }
        | TxBody::Transfer { .. }
        | TxBody::ChangeValidators { .. }
        | TxBody::RemoveObserver { .. }
        | TxBody::SetLicencePolicy { .. }
        | TxBody::CloseBlindBox { .. }
        | TxBody::RevealBlindBox { .. } => {}
    }

    // T4: every signature verifies, strictly, over the transaction's domain
    // preimage (unless these exact bytes verified here before: VerifiedMemo).
    let digest = encoded.digest;
    let verified_now = !memo.verified(&digest);
    if verified_now {
        tx.verify_signatures_encoded(chain, encoded.body())?;
    }
    Ok(Stateless { tx_id: encoded.tx_id(chain), digest, verified_now })
}

/// T4 for many transactions at once: for each, whether every one of its
/// signatures verifies, with exactly the verdict of
/// [`SignedTx::verify_signatures`] (the signature rule makes batch and single
/// verification agree on every input; docs/signatures.md), so callers may
/// remember the passing ones in a [`VerifiedMemo`]. `false` is also the
/// answer, without any verification, for a transaction the rules refuse
/// before T4 (a transfer, T1; over [`TX_SIGNATURES_MAX`] signatures, T3):
/// no signature work beyond what the rules do. Either way a `false` is left
/// to [`check_stateless_memo`], which names the rule broken.
pub fn verify_signatures_many(chain_id: &str, txs: &[&SignedTx]) -> Vec<bool> {
    // The bodies only: a signing message needs nothing else.
    let bodies: Vec<Vec<u8>> = txs
        .iter()
        .map(|tx| if checked_by_t4(tx) { encoding::encode(&tx.body) } else { Vec::new() })
        .collect();
    let pairs: Vec<(&SignedTx, &[u8])> = txs.iter().copied().zip(bodies.iter().map(Vec::as_slice)).collect();
    verify_bodies_many(chain_id, &pairs)
}

/// [`verify_signatures_many`] for transactions whose [`Encoded`] form the
/// caller has (each must be `Encoded::of` its transaction): the signing
/// messages are built from [`Encoded::body`], not encoded again.
pub fn verify_encoded_many(chain_id: &str, txs: &[(&SignedTx, &Encoded)]) -> Vec<bool> {
    let pairs: Vec<(&SignedTx, &[u8])> = txs.iter().map(|(tx, e)| (*tx, e.body())).collect();
    verify_bodies_many(chain_id, &pairs)
}

/// Whether T4 is reached at all (a transfer is refused by T1, too many
/// signatures by T3, before any signature work).
fn checked_by_t4(tx: &SignedTx) -> bool {
    !matches!(tx.body, TxBody::Transfer { .. }) && tx.signatures.len() <= TX_SIGNATURES_MAX
}

/// The batch of [`verify_signatures_many`], each transaction with its body's
/// encoding.
fn verify_bodies_many(chain_id: &str, txs: &[(&SignedTx, &[u8])]) -> Vec<bool> {
    let mut batch = SignatureBatch::with_capacity(txs.len());
    for (tx, body) in txs.iter().filter(|(tx, _)| checked_by_t4(tx)) {
        tx.queue_signatures_encoded(chain_id, body, &mut batch);
    }
    let mut items = batch.verify_each().into_iter();
    txs.iter()
        .map(|(tx, _)| {
            // Every item of a checked transaction is taken (no short cut), so
            // the next transaction starts at its own first signature.
            checked_by_t4(tx) && items.by_ref().take(tx.signatures.len()).fold(true, |all, ok| all & ok)
        })
        .collect()
}

/// T6/T7: the signers are distinct governors in force, at least k of them.
pub(crate) fn require_governors(tx: &SignedTx, governance: &Governance) -> Result<()> {
    require_governors_and(tx, governance, None)
}

/// T6/T7/T8: at least k distinct governors in force sign, plus `also` when
/// given (the key a validator-set change brings in), and nobody else.
fn require_governors_and(tx: &SignedTx, governance: &Governance, also: Option<&PublicKey>) -> Result<()> {
    if let Some(key) = also
        && !tx.signed_by(key)
    {
        return Err(LedgerError::MissingSignature { required: *key });
    }
    let mut governor_signatures = 0usize;
    for s in &tx.signatures {
        if governance.governors.contains(&s.signer) {
            governor_signatures += 1;
        } else if Some(&s.signer) != also {
            return Err(LedgerError::UnauthorizedSigner { signer: s.signer });
        }
    }
    let needed = governance.threshold as usize;
    if governor_signatures < needed {
        return Err(LedgerError::InsufficientGovernanceSignatures { got: governor_signatures, needed });
    }
    Ok(())
}

/// T7/T8: signed by `key` and by nobody else.
pub(crate) fn require_sole_signer(tx: &SignedTx, key: &PublicKey) -> Result<()> {
    if !tx.signed_by(key) {
        return Err(LedgerError::MissingSignature { required: *key });
    }
    match tx.signatures.iter().find(|s| &s.signer != key) {
        Some(other) => Err(LedgerError::UnauthorizedSigner { signer: other.signer }),
        None => Ok(()),
    }
}

/// T11/T13: the issuer exists and is active.
pub(crate) fn require_active_issuer<V: StateView + ?Sized>(view: &V, issuer: &PublicKey) -> Result<()> {
    match view.issuer(issuer)? {
        None => Err(LedgerError::UnknownIssuer { issuer: *issuer }),
        Some(r) if r.status == IssuerStatus::Suspended => {
            Err(LedgerError::IssuerSuspended { issuer: *issuer })
        }
        Some(_) => Ok(()),
    }
}

/// T21/T22: writes edition `edition` of `series` (its minted count, which
/// the caller stores) to `holder`: a mint, or the output of a synthesis.
#[allow(clippy::too_many_arguments)]
pub(crate) fn mint_edition<V: StateView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    chain: &str,
    series_id: keepsake_types::SeriesId,
    series: &mut SeriesRecord,
    edition: u32,
    holder: keepsake_types::HolderId,
    tx_id: TxId,
    location: TxLocation,
) -> Result<()> {
    // T21: 1 <= edition <= max_supply (edition 0 is refused by T3).
    if edition > series.max_supply {
        return Err(LedgerError::SupplyExceeded { edition, max_supply: series.max_supply });
    }
    let certificate_id = ids::certificate_id(chain, &series_id, edition);
    let duplicate =
        || LedgerError::DuplicateCertificate { certificate_id, series_name: series.name.clone(), edition };
    let minted = series
        .minted
        .checked_add(1)
        .ok_or_else(|| LedgerError::Invariant(format!("minted count of series {series_id} overflows")))?;
    if minted > series.max_supply {
        // Every edition of the series is minted (T21 refused any beyond it),
        // so this one is a duplicate (T22), unless the count is wrong: a bug,
        // refused before anything is written.
        if overlay.certificate(&certificate_id)?.is_some() {
            return Err(duplicate());
        }
        return Err(LedgerError::Invariant(format!("series {series_id} minted beyond its supply")));
    }
    // T22: a certificate id is minted once (a burned one too: its record
    // stays). Checked and written in one step; nothing is written if it exists.
    let record = CertificateState {
        series_id,
        edition,
        holder,
        tx_id,
        leaf_index: location.leaf_index,
        height: location.height,
    };
    if !overlay.insert_certificate_if_new(certificate_id, record)? {
        return Err(duplicate());
    }
    series.minted = minted;
    Ok(())
}

/// T9: a governance nonce is used once.
pub(crate) fn require_fresh_nonce<V: StateView + ?Sized>(view: &V, nonce: u64) -> Result<()> {
    if view.governance_nonce_used(nonce)? {
        return Err(LedgerError::NonceReused { nonce });
    }
    Ok(())
}

/// Phase 2: checks the rules that read state, then writes the effects into
/// `overlay`. `tx_id` must come from [`check_stateless`] of this very `tx`,
/// `location` says where it lands and `time_ms` is its block's time (the
/// clock of licences, T33-T36).
pub fn apply<V: StateView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    genesis: &Genesis,
    tx: &SignedTx,
    tx_id: TxId,
    location: TxLocation,
    time_ms: u64,
) -> Result<()> {
    let chain = genesis.chain_id.as_str();
    let height = location.height;

    // T5: a transaction id is committed at most once.
    let Some(new_tx) = overlay.check_new_tx(tx_id)? else {
        return Err(LedgerError::DuplicateTransaction { tx_id });
    };

    match &tx.body {
        TxBody::RegisterIssuer { issuer, name, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T10: an issuer key is registered once.
            if overlay.issuer(issuer)?.is_some() {
                return Err(LedgerError::IssuerAlreadyRegistered { issuer: *issuer });
            }
            if !issuer.is_valid_point() {
                return malformed(format!("issuer key {issuer} is not a valid ed25519 key"));
            }
            overlay.use_nonce(*nonce);
            overlay.put_issuer(
                *issuer,
                IssuerRecord { name: name.clone(), status: IssuerStatus::Active, registered_height: height },
            );
        }
        TxBody::SetIssuerStatus { issuer, status, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T11: the issuer must be registered.
            let Some(mut record) = overlay.issuer(issuer)? else {
                return Err(LedgerError::UnknownIssuer { issuer: *issuer });
            };
            // T12: a status change must change the status.
            if record.status == *status {
                return Err(LedgerError::IssuerStatusUnchanged { issuer: *issuer });
            }
            record.status = *status;
            overlay.use_nonce(*nonce);
            overlay.put_issuer(*issuer, record);
        }
        TxBody::RegisterReviewer { reviewer, name, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T14: a reviewer key is registered once (a removed key stays retired).
            if overlay.reviewer(reviewer)?.is_some() {
                return Err(LedgerError::ReviewerAlreadyRegistered { reviewer: *reviewer });
            }
            if !reviewer.is_valid_point() {
                return malformed(format!("reviewer key {reviewer} is not a valid ed25519 key"));
            }
            overlay.use_nonce(*nonce);
            overlay.put_reviewer(
                *reviewer,
                ReviewerRecord { name: name.clone(), active: true, registered_height: height },
            );
        }
        TxBody::RemoveReviewer { reviewer, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T15: the reviewer must be registered and not removed.
            let record = match overlay.reviewer(reviewer)? {
                Some(r) if r.active => r,
                _ => return Err(LedgerError::UnknownReviewer { reviewer: *reviewer }),
            };
            overlay.use_nonce(*nonce);
            overlay.put_reviewer(*reviewer, ReviewerRecord { active: false, ..record });
        }
        TxBody::CreateSeries { .. } | TxBody::CreateSeriesWithTerms { .. } => {
            let creation = tx.body.series_creation().expect("the body is a series creation");
            let subject = &creation.subject;
            let (issuer, name, content_hash, max_supply) =
                (&subject.issuer, &subject.name, &subject.content_hash, &subject.max_supply);
            let approval = creation.approval;
            require_sole_signer(tx, issuer)?;
            require_active_issuer(overlay, issuer)?;
            life::require_licence(overlay, issuer, time_ms)?;
            // T15: the approving reviewer is registered and active.
            match overlay.reviewer(&approval.reviewer)? {
                Some(r) if r.active => {}
                _ => return Err(LedgerError::UnknownReviewer { reviewer: approval.reviewer }),
            }
            // T16: the approval signs exactly this series (and its terms).
            if creation.verify_approval(chain).is_err() {
                return Err(LedgerError::InvalidReviewApproval { reviewer: approval.reviewer });
            }
            // T17: 1 <= max_supply <= max_supply_limit.
            let limit = genesis.params.max_supply_limit;
            if *max_supply == 0 || *max_supply > limit {
                return Err(LedgerError::InvalidMaxSupply { max_supply: *max_supply, limit });
            }
            // T18: a series id is created once.
            let series_id = ids::series_id(chain, issuer, name);
            if overlay.series(&series_id)?.is_some() {
                return Err(LedgerError::SeriesAlreadyExists { series_id });
            }
            // T19: one series per content hash, chain-wide.
            if let Some(existing) = overlay.series_by_content(content_hash)? {
                return Err(LedgerError::ContentAlreadyRegistered {
                    content_hash: *content_hash,
                    series_id: existing,
                });
            }
            if let Some(terms) = creation.terms {
                // T39: the terms are well-formed.
                life::check_terms(overlay, issuer, &series_id, *max_supply, terms)?;
                overlay
                    .put_series_life(series_id, SeriesLife { terms: terms.clone(), ..SeriesLife::default() });
            }
            overlay.index_content(*content_hash, series_id)?;
            overlay.put_series(
                series_id,
                SeriesRecord {
                    issuer: *issuer,
                    name: name.clone(),
                    content_hash: *content_hash,
                    max_supply: *max_supply,
                    metadata_uri: subject.metadata_uri.clone(),
                    reviewer: approval.reviewer,
                    minted: 0,
                    tx_id,
                    leaf_index: location.leaf_index,
                    created_height: height,
                },
            );
        }
        TxBody::Mint { series_id, edition, holder } => {
            // T20: the series exists.
            let Some(mut series) = overlay.series(series_id)? else {
                return Err(LedgerError::UnknownSeries { series_id: *series_id });
            };
            require_sole_signer(tx, &series.issuer)?;
            require_active_issuer(overlay, &series.issuer)?;
            life::require_licence(overlay, &series.issuer, time_ms)?;
            // T47: nothing is minted into a blind box whose sale is closed.
            life::require_open_sale(overlay, series_id)?;
            mint_edition(overlay, chain, *series_id, &mut series, *edition, *holder, tx_id, location)?;
            overlay.put_series(*series_id, series);
        }
        TxBody::Revoke { certificate_id, reason } => {
            // T23: the certificate exists.
            let Some(cert) = overlay.certificate(certificate_id)? else {
                return Err(LedgerError::UnknownCertificate { certificate_id: *certificate_id });
            };
            let series = overlay.series(&cert.series_id)?.ok_or_else(|| {
                LedgerError::Invariant(format!("certificate {certificate_id} has no series"))
            })?;
            // T7/T8 (Revoke): signed by the issuer alone, or by k of n governors.
            let governance = membership::governance(overlay, genesis)?;
            let by = if tx.signed_by(&series.issuer) {
                require_sole_signer(tx, &series.issuer)?;
                RevokedBy::Issuer
            } else if tx.signatures.iter().all(|s| governance.governors.contains(&s.signer)) {
                require_governors(tx, &governance)?;
                RevokedBy::Governance
            } else {
                return Err(LedgerError::MissingSignature { required: series.issuer });
            };
            // T24: revoked at most once.
            if overlay.revocation(certificate_id)?.is_some() {
                return Err(LedgerError::AlreadyRevoked { certificate_id: *certificate_id });
            }
            // T42: a burned certificate is not revoked (it is already out of circulation).
            if overlay.burn(certificate_id)?.is_some() {
                return Err(LedgerError::CertificateBurned { certificate_id: *certificate_id });
            }
            overlay.insert_revocation(
                *certificate_id,
                RevocationRecord {
                    reason: reason.clone(),
                    by,
                    tx_id,
                    leaf_index: location.leaf_index,
                    height,
                },
            )?;
        }
        TxBody::Transfer { certificate_id, .. } => {
            // T1 again, for callers that skipped phase 1: never valid.
            return Err(LedgerError::TransferForbidden { certificate_id: *certificate_id });
        }
        TxBody::ChangeValidators { change, nonce } => {
            // T6/T7/T8: k governors, plus the key the change brings in.
            require_governors_and(tx, &membership::governance(overlay, genesis)?, change.new_key().as_ref())?;
            require_fresh_nonce(overlay, *nonce)?;
            let sets = overlay.validator_sets()?;
            // T29: one change at a time: the previous one must have taken effect.
            if let Some(pending) = sets.last().filter(|s| s.from_height > height) {
                return Err(LedgerError::SetChangePending {
                    change_height: pending.change_height,
                    from_height: pending.from_height,
                });
            }
            let latest = sets.last().map_or_else(|| genesis.validator_set(), |s| s.validators.clone());
            // T25-T28 (ValidatorSet::apply quotes them).
            let validators = latest.apply(change).map_err(|refusal| match refusal {
                ChangeRefusal::NotAValidator(key) => LedgerError::NotAValidator { key },
                ChangeRefusal::AlreadyAValidator(key) => LedgerError::AlreadyAValidator { key },
                ChangeRefusal::Invalid(reason) => LedgerError::InvalidValidatorChange { reason },
                ChangeRefusal::Unsafe(reason) => LedgerError::ValidatorSetUnsafe { reason },
            })?;
            overlay.use_nonce(*nonce);
            // A removed validator keeps following the chain as an observer.
            if let ValidatorChange::Remove { public_key } = change {
                let name = latest.get(public_key).map(|v| v.name.clone()).unwrap_or_default();
                if !overlay.observer(public_key)?.is_some_and(|o| o.active) {
                    overlay.put_observer(
                        *public_key,
                        ObserverRecord { name, active: true, since_height: height, former_validator: true },
                    );
                }
            }
            overlay.schedule_set(SetRecord {
                from_height: height + SET_CHANGE_DELAY,
                validators,
                change_height: height,
                change_leaf_index: location.leaf_index,
                change_tx: tx_id,
            })?;
        }
        TxBody::SetGovernance { governors, threshold, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T30: a governance that can act: 1..=32 distinct valid keys, 1 <= k <= n.
            let bad = |reason: String| Err(LedgerError::InvalidGovernance { reason });
            if governors.is_empty() || governors.len() > GOVERNORS_MAX {
                return bad(format!("needs 1 to {GOVERNORS_MAX} governors, has {}", governors.len()));
            }
            let unique: BTreeSet<_> = governors.iter().collect();
            if unique.len() != governors.len() {
                return bad("a governor is listed twice".into());
            }
            if let Some(g) = governors.iter().find(|g| !g.is_valid_point()) {
                return bad(format!("governor key {g} is not a valid ed25519 key"));
            }
            if *threshold == 0 || *threshold as usize > governors.len() {
                return bad(format!(
                    "threshold {threshold} must be between 1 and the number of governors ({})",
                    governors.len()
                ));
            }
            overlay.use_nonce(*nonce);
            overlay.put_governance(GovernanceRecord {
                governors: governors.clone(),
                threshold: *threshold,
                since_height: height,
            });
        }
        TxBody::RegisterObserver { observer, name, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T31: registered once while active.
            if overlay.observer(observer)?.is_some_and(|o| o.active) {
                return Err(LedgerError::ObserverAlreadyRegistered { observer: *observer });
            }
            if !observer.is_valid_point() {
                return malformed(format!("observer key {observer} is not a valid ed25519 key"));
            }
            overlay.use_nonce(*nonce);
            overlay.put_observer(
                *observer,
                ObserverRecord {
                    name: name.clone(),
                    active: true,
                    since_height: height,
                    former_validator: false,
                },
            );
        }
        TxBody::RemoveObserver { observer, nonce } => {
            require_governors(tx, &membership::governance(overlay, genesis)?)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T32: the observer is registered and active.
            let record = match overlay.observer(observer)? {
                Some(r) if r.active => r,
                _ => return Err(LedgerError::UnknownObserver { observer: *observer }),
            };
            overlay.use_nonce(*nonce);
            overlay.put_observer(*observer, ObserverRecord { active: false, ..record });
        }
        TxBody::SetIssuerLicence { .. }
        | TxBody::WithdrawIssuerLicence { .. }
        | TxBody::SetLicencePolicy { .. } => life::apply_licence(overlay, genesis, tx, height, time_ms)?,
        TxBody::Synthesize { .. } => life::apply_synthesis(overlay, genesis, tx, tx_id, location, time_ms)?,
        TxBody::CloseBlindBox { .. } | TxBody::RevealBlindBox { .. } => {
            life::apply_blind_box(overlay, genesis, tx, tx_id, location, time_ms)?
        }
    }
    overlay.insert_new_tx(new_tx, location)
}

/// Both phases against committed state, without keeping the writes: the
/// mempool's admission check.
pub fn check<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tx: &SignedTx,
    next_height: u64,
    time_ms: u64,
) -> Result<TxId> {
    let tx_id = check_stateless(tx, genesis)?;
    check_stateful(view, genesis, tx, tx_id, next_height, time_ms)?;
    Ok(tx_id)
}

/// Phase 2 alone against committed state, for a transaction that passed
/// [`check_stateless`] (whose result `tx_id` is): a failure here may be a
/// matter of timing (another node may not have committed what this one has),
/// unlike a phase-1 failure, which no honest node would ever pass on.
/// `time_ms` stands for the time of the block it would land in (licences,
/// T33-T36, are judged again at that block's own time).
pub fn check_stateful<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tx: &SignedTx,
    tx_id: TxId,
    next_height: u64,
    time_ms: u64,
) -> Result<()> {
    let mut overlay = Overlay::new(view);
    let location = TxLocation { height: next_height, index: 0, leaf_index: 0 };
    apply(&mut overlay, genesis, tx, tx_id, location, time_ms)?;
    Ok(())
}

#[cfg(test)]
mod text_tests {
    use super::check_text;

    /// docs/protocol.md §10: exactly the `Cc` characters (U+0000–U+001F,
    /// U+007F–U+009F) are control characters; other invisible ones pass.
    #[test]
    fn control_characters_are_exactly_unicode_cc() {
        for c in ['\u{0}', '\t', '\n', '\r', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}'] {
            assert!(
                check_text("name", &format!("a{c}b"), 64).is_err(),
                "U+{:04X} is a control character",
                c as u32
            );
        }
        for c in ['\u{a0}', '\u{200b}', '\u{2028}', '\u{2029}', '\u{feff}', '\u{20}'] {
            assert!(check_text("name", &format!("a{c}b"), 64).is_ok(), "U+{:04X} is not", c as u32);
        }
        assert!(check_text("name", " \u{3000} ", 64).is_err(), "only whitespace after trimming");
        assert!(
            check_text("name", "敦煌", 6).is_ok() && check_text("name", "敦煌", 5).is_err(),
            "UTF-8 bytes"
        );
    }
}
