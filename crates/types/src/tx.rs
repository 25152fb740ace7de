//! Transactions: the bodies of the design's table and the signed envelope.
//!
//! The variant order of [`TxBody`] is part of the wire format (postcard writes
//! the variant index). Append new variants at the end; never reorder.
//!
//! [`TxBody::Transfer`] exists on purpose. No rule ever accepts it: clients
//! that try get the documented `TransferForbidden` rejection, and tests can
//! prove the ban at every layer. There is no price, currency, approval,
//! listing or owner-change field anywhere in this module.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::ed25519::{SignatureBatch, Signatures};
use crate::encoding::{encode, encode_onto};
use crate::hash::{Hash32, domain_hash, domain_preimage, tag};
use crate::ids::{CertificateId, ContentHash, HolderId, SeriesId, TxId};
use crate::keys::{Keypair, PublicKey, Signature};
use crate::life::{Licence, SeriesTerms};
use crate::membership::ValidatorChange;

/// Whether an issuer may create series and mint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssuerStatus {
    /// May create series and mint.
    Active,
    /// May do neither until reactivated by governance.
    Suspended,
}

/// What a content reviewer approves: exactly the series as it will be created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSubject {
    /// The issuer that will create the series.
    pub issuer: PublicKey,
    /// The series name.
    pub name: String,
    /// SHA-256 of the reviewed artwork.
    pub content_hash: ContentHash,
    /// The edition cap.
    pub max_supply: u32,
    /// Where the metadata lives.
    pub metadata_uri: String,
}

impl ReviewSubject {
    /// The reviewer's signature over this subject on `chain_id` (a plain series).
    pub fn approve(&self, chain_id: &str, reviewer: &Keypair) -> ReviewApproval {
        self.approve_with(chain_id, None, reviewer)
    }

    /// The reviewer's signature over this subject and, for a series created
    /// with terms ([`TxBody::CreateSeriesWithTerms`]), those terms.
    pub fn approve_with(
        &self,
        chain_id: &str,
        terms: Option<&SeriesTerms>,
        reviewer: &Keypair,
    ) -> ReviewApproval {
        ReviewApproval {
            reviewer: reviewer.public(),
            signature: reviewer.sign_message(&self.message(chain_id, terms)),
        }
    }

    /// Verifies an approval of this subject (signature only; whether the
    /// reviewer is registered is a ledger rule).
    pub fn verify(&self, chain_id: &str, approval: &ReviewApproval) -> Result<()> {
        self.check(chain_id, None, approval, &mut Signatures::OneByOne)
    }

    /// What the reviewer signs: `domain_preimage("keepsake/review/v1", chain_id,
    /// encode(subject))` for a plain series, and
    /// `domain_preimage("keepsake/review/v2", chain_id, encode((subject, terms)))`
    /// for a series created with terms.
    fn message(&self, chain_id: &str, terms: Option<&SeriesTerms>) -> Vec<u8> {
        match terms {
            None => domain_preimage(tag::REVIEW, chain_id, &encode(self)),
            Some(terms) => domain_preimage(tag::REVIEW_TERMS, chain_id, &encode(&(self, terms))),
        }
    }

    /// The body that creates this series with `approval`: a `CreateSeries`
    /// without terms, a `CreateSeriesWithTerms` with them (the inverse of
    /// [`TxBody::series_creation`]).
    pub fn into_body(self, terms: Option<SeriesTerms>, approval: ReviewApproval) -> TxBody {
        let ReviewSubject { issuer, name, content_hash, max_supply, metadata_uri } = self;
        match terms {
            None => TxBody::CreateSeries { issuer, name, content_hash, max_supply, metadata_uri, approval },
            Some(terms) => TxBody::CreateSeriesWithTerms {
                issuer,
                name,
                content_hash,
                max_supply,
                metadata_uri,
                terms,
                approval,
            },
        }
    }

    /// [`ReviewSubject::verify`] (with terms when given), with the signature sent to `signatures`.
    pub(crate) fn check(
        &self,
        chain_id: &str,
        terms: Option<&SeriesTerms>,
        approval: &ReviewApproval,
        signatures: &mut Signatures<'_>,
    ) -> Result<()> {
        let message = self.message(chain_id, terms);
        signatures.check(&approval.reviewer, &message, &approval.signature, "review approval")
    }
}

/// A series creation of either kind ([`TxBody::CreateSeries`],
/// [`TxBody::CreateSeriesWithTerms`]), seen the same way by the rules,
/// certificates and tools.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesCreation<'a> {
    /// The fields the reviewer approves (with `terms`).
    pub subject: ReviewSubject,
    /// The terms, for a series created with terms (`None`: a plain series).
    pub terms: Option<&'a SeriesTerms>,
    /// The reviewer's approval.
    pub approval: &'a ReviewApproval,
}

impl SeriesCreation<'_> {
    /// Verifies the approval's signature over the subject and terms.
    pub fn verify_approval(&self, chain_id: &str) -> Result<()> {
        self.check_approval(chain_id, &mut Signatures::OneByOne)
    }

    /// [`SeriesCreation::verify_approval`], with the signature sent to `signatures`.
    pub(crate) fn check_approval(&self, chain_id: &str, signatures: &mut Signatures<'_>) -> Result<()> {
        self.subject.check(chain_id, self.terms, self.approval, signatures)
    }
}

/// A reviewer's signed approval, carried inside `CreateSeries`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewApproval {
    /// The reviewer's key.
    pub reviewer: PublicKey,
    /// Signature over `domain_preimage("keepsake/review/v1", chain_id, encode(ReviewSubject))`.
    pub signature: Signature,
}

/// Every transaction body. See docs/rules.md for the rule each must satisfy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TxBody {
    /// Governance (k of n): admit an issuer.
    RegisterIssuer {
        /// The issuer's signing key.
        issuer: PublicKey,
        /// Its display name (the licensed platform or museum).
        name: String,
        /// Governance nonce: makes otherwise identical governance actions distinct.
        nonce: u64,
    },
    /// Governance (k of n): suspend or reactivate an issuer.
    SetIssuerStatus {
        /// The issuer.
        issuer: PublicKey,
        /// The new status.
        status: IssuerStatus,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): admit a content reviewer.
    RegisterReviewer {
        /// The reviewer's signing key.
        reviewer: PublicKey,
        /// Its display name.
        name: String,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): remove a content reviewer.
    RemoveReviewer {
        /// The reviewer.
        reviewer: PublicKey,
        /// Governance nonce.
        nonce: u64,
    },
    /// The issuer creates a series with a reviewer's approval.
    CreateSeries {
        /// The issuer (must sign).
        issuer: PublicKey,
        /// Series name, unique per issuer (it determines the series id).
        name: String,
        /// SHA-256 of the artwork; one series per content hash, chain-wide.
        content_hash: ContentHash,
        /// Edition cap, `1 ..= max_supply_limit`.
        max_supply: u32,
        /// Metadata location.
        metadata_uri: String,
        /// The reviewer's approval of exactly these fields.
        approval: ReviewApproval,
    },
    /// The series' issuer mints one edition to a holder.
    Mint {
        /// The series.
        series_id: SeriesId,
        /// Edition number, `1 ..= max_supply`.
        edition: u32,
        /// The holder commitment (write-once).
        holder: HolderId,
    },
    /// The issuer, or k of n governors, revoke a certificate.
    Revoke {
        /// The certificate.
        certificate_id: CertificateId,
        /// Why (recorded on chain).
        reason: String,
    },
    /// A change of holder. **Never valid** (`TransferForbidden`).
    Transfer {
        /// The certificate someone tried to transfer.
        certificate_id: CertificateId,
        /// The would-be new holder.
        to: HolderId,
    },
    /// Governance (k of n, plus the new key for an addition or a rotation):
    /// change the validator set. It governs blocks from
    /// [`crate::membership::SET_CHANGE_DELAY`] heights after its own.
    ChangeValidators {
        /// What changes.
        change: ValidatorChange,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of the current n): replace the governors and the threshold.
    SetGovernance {
        /// The new governors (1 to 32 distinct keys).
        governors: Vec<PublicKey>,
        /// How many of them must sign a governance action (1 to `governors.len()`).
        threshold: u32,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): admit an observer's key to the peer network (an
    /// auditor's or regulator's node that follows the chain and never votes).
    RegisterObserver {
        /// The observer node's key.
        observer: PublicKey,
        /// Who runs it.
        name: String,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): withdraw an observer's admission.
    RemoveObserver {
        /// The observer node's key.
        observer: PublicKey,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): record or renew a registered issuer's licence.
    SetIssuerLicence {
        /// The issuer.
        issuer: PublicKey,
        /// The licence, as governance attests it.
        licence: Licence,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): withdraw an issuer's licence before its end.
    WithdrawIssuerLicence {
        /// The issuer.
        issuer: PublicKey,
        /// Why (recorded on chain).
        reason: String,
        /// Governance nonce.
        nonce: u64,
    },
    /// Governance (k of n): whether every issuer needs a licence in force to
    /// create series and mint (before the first such action: no).
    SetLicencePolicy {
        /// True: an issuer without a licence in force creates and mints nothing.
        required: bool,
        /// Governance nonce.
        nonce: u64,
    },
    /// The issuer creates a series with terms (recipes, or a blind box), all
    /// inside the reviewer's approval.
    CreateSeriesWithTerms {
        /// The issuer (must sign).
        issuer: PublicKey,
        /// Series name, unique per issuer.
        name: String,
        /// SHA-256 of the artwork (of the box's cover, for a blind box).
        content_hash: ContentHash,
        /// Edition cap.
        max_supply: u32,
        /// Metadata location.
        metadata_uri: String,
        /// Recipes and blind box.
        terms: SeriesTerms,
        /// The reviewer's approval of these fields and terms.
        approval: ReviewApproval,
    },
    /// The target series' issuer burns `inputs` (one holder's certificates, as
    /// recipe `recipe` of `series_id` lists them) into edition `edition` of
    /// `series_id`, to that same holder. Nothing changes hands.
    Synthesize {
        /// The target series.
        series_id: SeriesId,
        /// Index of the recipe in the target series' terms.
        recipe: u32,
        /// The certificates burned (distinct).
        inputs: Vec<CertificateId>,
        /// The new edition of the target series.
        edition: u32,
        /// The holder of every input, and of the output.
        holder: HolderId,
    },
    /// The issuer closes a blind box's sale: no more mints; the log after
    /// this transaction is the draw's entropy.
    CloseBlindBox {
        /// The blind box.
        series_id: SeriesId,
    },
    /// The issuer reveals a closed blind box's seed; the chain draws every
    /// edition's variant from it and the entropy of the close.
    RevealBlindBox {
        /// The blind box.
        series_id: SeriesId,
        /// The seed committed to at creation.
        seed: Hash32,
        /// The log root just after the close (checked by the rules).
        entropy: Hash32,
    },
}

impl TxBody {
    /// A short stable name of the kind (logs, metrics, RPC).
    pub fn kind(&self) -> &'static str {
        match self {
            TxBody::RegisterIssuer { .. } => "register_issuer",
            TxBody::SetIssuerStatus { .. } => "set_issuer_status",
            TxBody::RegisterReviewer { .. } => "register_reviewer",
            TxBody::RemoveReviewer { .. } => "remove_reviewer",
            TxBody::CreateSeries { .. } => "create_series",
            TxBody::Mint { .. } => "mint",
            TxBody::Revoke { .. } => "revoke",
            TxBody::Transfer { .. } => "transfer",
            TxBody::ChangeValidators { .. } => "change_validators",
            TxBody::SetGovernance { .. } => "set_governance",
            TxBody::RegisterObserver { .. } => "register_observer",
            TxBody::RemoveObserver { .. } => "remove_observer",
            TxBody::SetIssuerLicence { .. } => "set_issuer_licence",
            TxBody::WithdrawIssuerLicence { .. } => "withdraw_issuer_licence",
            TxBody::SetLicencePolicy { .. } => "set_licence_policy",
            TxBody::CreateSeriesWithTerms { .. } => "create_series_with_terms",
            TxBody::Synthesize { .. } => "synthesize",
            TxBody::CloseBlindBox { .. } => "close_blind_box",
            TxBody::RevealBlindBox { .. } => "reveal_blind_box",
        }
    }

    /// For a series creation (either kind), its subject, terms and approval;
    /// `None` for every other body.
    pub fn series_creation(&self) -> Option<SeriesCreation<'_>> {
        let (issuer, name, content_hash, max_supply, metadata_uri, terms, approval) = match self {
            TxBody::CreateSeries { issuer, name, content_hash, max_supply, metadata_uri, approval } => {
                (issuer, name, content_hash, max_supply, metadata_uri, None, approval)
            }
            TxBody::CreateSeriesWithTerms {
                issuer,
                name,
                content_hash,
                max_supply,
                metadata_uri,
                terms,
                approval,
            } => (issuer, name, content_hash, max_supply, metadata_uri, Some(terms), approval),
            _ => return None,
        };
        Some(SeriesCreation {
            subject: ReviewSubject {
                issuer: *issuer,
                name: name.clone(),
                content_hash: *content_hash,
                max_supply: *max_supply,
                metadata_uri: metadata_uri.clone(),
            },
            terms,
            approval,
        })
    }

    /// The transaction id of this body on `chain_id`.
    pub fn id(&self, chain_id: &str) -> TxId {
        Self::id_of_encoded(chain_id, &encode(self))
    }

    /// [`TxBody::id`] from the body's encoding (`encode(body)`, the prefix
    /// [`SignedTx::encode_with_body_len`] returns), without encoding it again.
    pub fn id_of_encoded(chain_id: &str, body: &[u8]) -> TxId {
        TxId(domain_hash(tag::TX, chain_id, body).0)
    }

    /// Signs this body with every key in `signers`.
    pub fn sign(self, chain_id: &str, signers: &[&Keypair]) -> SignedTx {
        let message = domain_preimage(tag::TX, chain_id, &encode(&self));
        let signatures = signers
            .iter()
            .map(|k| TxSignature { signer: k.public(), signature: k.sign_message(&message) })
            .collect();
        SignedTx { body: self, signatures }
    }
}

/// One signature of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TxSignature {
    /// Who signed.
    pub signer: PublicKey,
    /// Signature over `domain_preimage("keepsake/tx/v1", chain_id, encode(body))`.
    pub signature: Signature,
}

/// A transaction: a body and the signatures of its authors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTx {
    /// What the transaction does.
    pub body: TxBody,
    /// One or more signatures (governance actions carry k of them).
    pub signatures: Vec<TxSignature>,
}

impl SignedTx {
    /// The transaction id (hash of the body only).
    pub fn id(&self, chain_id: &str) -> TxId {
        self.body.id(chain_id)
    }

    /// Verifies every signature (ZIP-215 ed25519, one at a time). Which signers are *required*
    /// is a ledger rule; this only proves that each listed signer signed.
    pub fn verify_signatures(&self, chain_id: &str) -> Result<()> {
        self.check_signatures(chain_id, &mut Signatures::OneByOne)
    }

    /// Queues every signature in `batch`, over the same message as
    /// [`SignedTx::verify_signatures`] (a node verifying many transactions at
    /// once; the batch's verdict on each equals `verify_signatures`').
    pub fn queue_signatures(&self, chain_id: &str, batch: &mut SignatureBatch) {
        // Queueing never fails: every signature goes into the batch.
        let _ = self.check_signatures(chain_id, &mut Signatures::Queue(batch));
    }

    /// [`SignedTx::verify_signatures`] with the body's encoding given
    /// (`encode(&self.body)`, the prefix [`SignedTx::encode_with_body_len`]
    /// returns), so it is not encoded again.
    pub fn verify_signatures_encoded(&self, chain_id: &str, body: &[u8]) -> Result<()> {
        self.check_signatures_encoded(chain_id, body, &mut Signatures::OneByOne)
    }

    /// [`SignedTx::queue_signatures`] with the body's encoding given, as for
    /// [`SignedTx::verify_signatures_encoded`].
    pub fn queue_signatures_encoded(&self, chain_id: &str, body: &[u8], batch: &mut SignatureBatch) {
        // Queueing never fails: every signature goes into the batch.
        let _ = self.check_signatures_encoded(chain_id, body, &mut Signatures::Queue(batch));
    }

    /// `encode(self)`, and the length of its prefix that is `encode(&self.body)`
    /// (postcard writes the fields in order: the body, then the signatures),
    /// in one encoding pass. A node needs all three encodings of a
    /// transaction (its size and digest, its id, its signing message); this
    /// makes the last two slices of the first.
    pub fn encode_with_body_len(&self) -> (Vec<u8>, usize) {
        // A mint with its issuer's signature is about 200 bytes.
        let bytes = encode_onto(&self.body, Vec::with_capacity(256));
        let body_len = bytes.len();
        (encode_onto(&self.signatures, bytes), body_len)
    }

    /// [`SignedTx::verify_signatures`], with the signatures sent to `signatures`.
    pub(crate) fn check_signatures(&self, chain_id: &str, signatures: &mut Signatures<'_>) -> Result<()> {
        self.check_signatures_encoded(chain_id, &encode(&self.body), signatures)
    }

    fn check_signatures_encoded(
        &self,
        chain_id: &str,
        body: &[u8],
        signatures: &mut Signatures<'_>,
    ) -> Result<()> {
        debug_assert!(
            body == encode(&self.body).as_slice(),
            "the body bytes given are not this body's encoding"
        );
        let message = domain_preimage(tag::TX, chain_id, body);
        for s in &self.signatures {
            signatures.check(&s.signer, &message, &s.signature, "transaction")?;
        }
        Ok(())
    }

    /// Whether `key` is among the signers (signatures verified separately).
    pub fn signed_by(&self, key: &PublicKey) -> bool {
        self.signatures.iter().any(|s| &s.signer == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_signatures_get_the_verdicts_of_verify_signatures() {
        let keys: Vec<Keypair> = (1..=3u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let body = |nonce| TxBody::RegisterIssuer { issuer: keys[0].public(), name: "m".into(), nonce };
        let good = body(1).sign("c", &[&keys[0], &keys[1]]);
        let mut bad = body(2).sign("c", &[&keys[1], &keys[2]]);
        bad.signatures[1].signature.0[3] ^= 1;
        let other_chain = body(3).sign("d", &[&keys[2]]);
        let mut batch = SignatureBatch::new();
        for tx in [&good, &bad, &other_chain] {
            tx.queue_signatures("c", &mut batch);
        }
        assert_eq!(batch.verify_each(), vec![true, true, true, false, false]);
        assert!(good.verify_signatures("c").is_ok());
        assert_eq!(bad.verify_signatures("c").unwrap_err().code(), "BadSignature");
        assert_eq!(other_chain.verify_signatures("c").unwrap_err().code(), "BadSignature");
    }

    #[test]
    fn the_body_is_a_prefix_of_the_transaction_and_gives_the_same_id_and_verdicts() {
        let keys: Vec<Keypair> = (1..=3u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let bodies = [
            TxBody::RegisterIssuer {
                issuer: keys[0].public(),
                name: "名字 with text".into(),
                nonce: 1 << 40,
            },
            TxBody::Mint { series_id: SeriesId([7; 32]), edition: 300, holder: HolderId([9; 32]) },
            TxBody::Revoke { certificate_id: CertificateId([1; 32]), reason: String::new() },
        ];
        for (i, body) in bodies.into_iter().enumerate() {
            // No signature, one, and three: the signatures' vector varies in length.
            for signers in [&keys[..0], &keys[..1], &keys[..]] {
                let refs: Vec<&Keypair> = signers.iter().collect();
                let mut tx = body.clone().sign("c", &refs);
                let (bytes, body_len) = tx.encode_with_body_len();
                assert_eq!(bytes, encode(&tx), "body {i}, {} signers", signers.len());
                assert_eq!(&bytes[..body_len], encode(&tx.body).as_slice());
                assert_eq!(TxBody::id_of_encoded("c", &bytes[..body_len]), tx.id("c"));
                assert!(tx.verify_signatures_encoded("c", &bytes[..body_len]).is_ok());
                if let Some(s) = tx.signatures.last_mut() {
                    s.signature.0[5] ^= 1;
                    let (bytes, body_len) = tx.encode_with_body_len();
                    let alone = tx.verify_signatures("c").unwrap_err().code();
                    let encoded = tx.verify_signatures_encoded("c", &bytes[..body_len]).unwrap_err().code();
                    assert_eq!((alone, encoded), ("BadSignature", "BadSignature"));
                    let mut batch = SignatureBatch::new();
                    tx.queue_signatures_encoded("c", &bytes[..body_len], &mut batch);
                    assert_eq!(batch.verify_each().last(), Some(&false));
                }
            }
        }
    }
}
