//! The transaction rules (docs/rules.md, T1-T24), as pure checks.
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

use keepsake_types::{
    Genesis, Hash32, IssuerStatus, PublicKey, SignedTx, TxBody, TxId, encoding, hash::sha256, ids,
};

use crate::state::{
    CertificateState, IssuerRecord, Overlay, ReviewerRecord, RevocationRecord, RevokedBy, SeriesRecord,
    StateView, TxLocation,
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

fn malformed<T>(why: impl Into<String>) -> Result<T> {
    Err(LedgerError::Malformed(why.into()))
}

fn check_text(field: &str, value: &str, max: usize) -> Result<()> {
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

/// Phase 1 with a memo of transactions verified before (T4 is skipped for a
/// known [`signed_digest`]; every other rule is checked as always).
pub fn check_stateless_memo(tx: &SignedTx, genesis: &Genesis, memo: &dyn VerifiedMemo) -> Result<Stateless> {
    let chain = genesis.chain_id.as_str();

    // T1: "Transfer — signed by anyone — valid: never." Checked before anything
    // else, so a client always learns the real reason.
    if let TxBody::Transfer { certificate_id, .. } = &tx.body {
        return Err(LedgerError::TransferForbidden { certificate_id: *certificate_id });
    }

    // T2: the canonical encoding is at most `tx_bytes_max` bytes.
    let encoded = encoding::encode(tx);
    let len = encoded.len();
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
        TxBody::SetIssuerStatus { .. } | TxBody::RemoveReviewer { .. } | TxBody::Transfer { .. } => {}
    }

    // T4: every signature verifies, strictly, over the transaction's domain
    // preimage (unless these exact bytes verified here before: VerifiedMemo).
    let digest = signed_digest(&encoded);
    let verified_now = !memo.verified(&digest);
    if verified_now {
        tx.verify_signatures(chain)?;
    }
    Ok(Stateless { tx_id: tx.id(chain), digest, verified_now })
}

/// T6/T7: the signers are distinct governors, at least k of them.
fn require_governors(tx: &SignedTx, genesis: &Genesis) -> Result<()> {
    for s in &tx.signatures {
        if !genesis.governors.contains(&s.signer) {
            return Err(LedgerError::UnauthorizedSigner { signer: s.signer });
        }
    }
    let needed = genesis.governance_threshold as usize;
    if tx.signatures.len() < needed {
        return Err(LedgerError::InsufficientGovernanceSignatures { got: tx.signatures.len(), needed });
    }
    Ok(())
}

/// T7/T8: signed by `key` and by nobody else.
fn require_sole_signer(tx: &SignedTx, key: &PublicKey) -> Result<()> {
    if !tx.signed_by(key) {
        return Err(LedgerError::MissingSignature { required: *key });
    }
    match tx.signatures.iter().find(|s| &s.signer != key) {
        Some(other) => Err(LedgerError::UnauthorizedSigner { signer: other.signer }),
        None => Ok(()),
    }
}

/// T11/T13: the issuer exists and is active.
fn require_active_issuer<V: StateView + ?Sized>(view: &V, issuer: &PublicKey) -> Result<()> {
    match view.issuer(issuer)? {
        None => Err(LedgerError::UnknownIssuer { issuer: *issuer }),
        Some(r) if r.status == IssuerStatus::Suspended => {
            Err(LedgerError::IssuerSuspended { issuer: *issuer })
        }
        Some(_) => Ok(()),
    }
}

/// T9: a governance nonce is used once.
fn require_fresh_nonce<V: StateView + ?Sized>(view: &V, nonce: u64) -> Result<()> {
    if view.governance_nonce_used(nonce)? {
        return Err(LedgerError::NonceReused { nonce });
    }
    Ok(())
}

/// Phase 2: checks the rules that read state, then writes the effects into
/// `overlay`. `tx_id` must come from [`check_stateless`] of this very `tx`,
/// and `location` says where it lands.
pub fn apply<V: StateView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    genesis: &Genesis,
    tx: &SignedTx,
    tx_id: TxId,
    location: TxLocation,
) -> Result<()> {
    let chain = genesis.chain_id.as_str();
    let height = location.height;

    // T5: a transaction id is committed at most once.
    if overlay.tx_location(&tx_id)?.is_some() {
        return Err(LedgerError::DuplicateTransaction { tx_id });
    }

    match &tx.body {
        TxBody::RegisterIssuer { issuer, name, nonce } => {
            require_governors(tx, genesis)?;
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
            require_governors(tx, genesis)?;
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
            require_governors(tx, genesis)?;
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
            require_governors(tx, genesis)?;
            require_fresh_nonce(overlay, *nonce)?;
            // T15: the reviewer must be registered and not removed.
            let record = match overlay.reviewer(reviewer)? {
                Some(r) if r.active => r,
                _ => return Err(LedgerError::UnknownReviewer { reviewer: *reviewer }),
            };
            overlay.use_nonce(*nonce);
            overlay.put_reviewer(*reviewer, ReviewerRecord { active: false, ..record });
        }
        TxBody::CreateSeries { issuer, name, content_hash, max_supply, metadata_uri, approval } => {
            require_sole_signer(tx, issuer)?;
            require_active_issuer(overlay, issuer)?;
            // T15: the approving reviewer is registered and active.
            match overlay.reviewer(&approval.reviewer)? {
                Some(r) if r.active => {}
                _ => return Err(LedgerError::UnknownReviewer { reviewer: approval.reviewer }),
            }
            // T16: the approval signs exactly this series.
            let (subject, _) = tx.body.review_subject().expect("the body is a CreateSeries");
            if subject.verify(chain, approval).is_err() {
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
            overlay.index_content(*content_hash, series_id)?;
            overlay.put_series(
                series_id,
                SeriesRecord {
                    issuer: *issuer,
                    name: name.clone(),
                    content_hash: *content_hash,
                    max_supply: *max_supply,
                    metadata_uri: metadata_uri.clone(),
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
            // T21: 1 <= edition <= max_supply (edition 0 is refused by T3).
            if *edition > series.max_supply {
                return Err(LedgerError::SupplyExceeded { edition: *edition, max_supply: series.max_supply });
            }
            // T22: a certificate id is minted once.
            let certificate_id = ids::certificate_id(chain, series_id, *edition);
            if overlay.certificate(&certificate_id)?.is_some() {
                return Err(LedgerError::DuplicateCertificate { certificate_id });
            }
            series.minted = series.minted.checked_add(1).ok_or_else(|| {
                LedgerError::Invariant(format!("minted count of series {series_id} overflows"))
            })?;
            if series.minted > series.max_supply {
                return Err(LedgerError::Invariant(format!("series {series_id} minted beyond its supply")));
            }
            overlay.insert_certificate(
                certificate_id,
                CertificateState {
                    series_id: *series_id,
                    edition: *edition,
                    holder: *holder,
                    tx_id,
                    leaf_index: location.leaf_index,
                    height,
                },
            )?;
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
            let by = if tx.signed_by(&series.issuer) {
                require_sole_signer(tx, &series.issuer)?;
                RevokedBy::Issuer
            } else if tx.signatures.iter().all(|s| genesis.governors.contains(&s.signer)) {
                require_governors(tx, genesis)?;
                RevokedBy::Governance
            } else {
                return Err(LedgerError::MissingSignature { required: series.issuer });
            };
            // T24: revoked at most once.
            if overlay.revocation(certificate_id)?.is_some() {
                return Err(LedgerError::AlreadyRevoked { certificate_id: *certificate_id });
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
    }
    overlay.insert_tx(tx_id, location)
}

/// Both phases against committed state, without keeping the writes: the
/// mempool's admission check.
pub fn check<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tx: &SignedTx,
    next_height: u64,
) -> Result<TxId> {
    let tx_id = check_stateless(tx, genesis)?;
    check_stateful(view, genesis, tx, tx_id, next_height)?;
    Ok(tx_id)
}

/// Phase 2 alone against committed state, for a transaction that passed
/// [`check_stateless`] (whose result `tx_id` is): a failure here may be a
/// matter of timing (another node may not have committed what this one has),
/// unlike a phase-1 failure, which no honest node would ever pass on.
pub fn check_stateful<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tx: &SignedTx,
    tx_id: TxId,
    next_height: u64,
) -> Result<()> {
    let mut overlay = Overlay::new(view);
    apply(&mut overlay, genesis, tx, tx_id, TxLocation { height: next_height, index: 0, leaf_index: 0 })?;
    Ok(())
}
