//! # keepsake-types
//!
//! The data of a Keepsake chain and everything needed to check it offline:
//! keys and signatures, identifiers, transactions, blocks, votes and commits,
//! the genesis file, the canonical encoding, the RFC 9162 collectible log and
//! the certificate. No I/O, no clock, no randomness, no async.
//!
//! Good starting points:
//! - [`TxBody`] — every transaction of the design, the forbidden
//!   [`TxBody::Transfer`] included;
//! - [`Header`] and [`Commit`] — a checkpoint, verified by [`Commit::verify`];
//! - [`merkle`] — the log, its proofs and their verification;
//! - [`Certificate::verify`] — offline verification from the genesis alone;
//! - [`ed25519`] — the signature rule (ZIP-215) and [`SignatureBatch`], whose
//!   verdicts equal one-by-one verification.
//!
//! Obligations of callers: hash and sign only through [`hash::domain_hash`],
//! [`Keypair::sign`] and the `id`/`hash` methods (they add the domain tag and
//! chain id), pass them a chain id that is a [`ChainId`] (or the `&str` of
//! one), and decode untrusted bytes only through [`encoding::decode`] with a
//! size limit. docs/protocol.md specifies every byte.
//!
//! No panic on data from outside: every value a peer, an RPC answer or a
//! file can supply decodes to a checked value or to an [`Error`], and every
//! decoded value can be hashed and verified without panicking (the
//! `expect`s left in this crate guard invariants of the crate's own code,
//! each with its reason).

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod block;
#[doc(hidden)]
pub mod bytes;
pub mod certificate;
pub mod chain_id;
pub mod digest_map;
pub mod ed25519;
pub mod encoding;
mod error;
pub mod genesis;
pub mod hash;
pub mod holder;
pub mod ids;
pub mod keys;
pub mod life;
pub mod life_proof;
pub mod membership;
pub mod merkle;
pub mod tx;
pub mod wire;

pub use block::{
    Block, Checkpoint, Commit, CommitSignature, DoubleVote, Header, LogLeaf, LogLeafRef, Proposal,
    ProposalData, Validator, ValidatorSet, Vote, VoteData, VoteKind,
};
pub use bytes::HexBytes;
pub use certificate::{
    Certificate, CertificateRecord, CertificateStatus, CertificateVerifier, CheckpointLink, LogEntryProof,
    Revoker, VerifiedCertificate, VerifiedRevocation, VerifiedStatus,
};
pub use chain_id::ChainId;
pub use digest_map::{DigestMap, DigestSet};
pub use ed25519::{PreparedKey, SignatureBatch};
pub use error::{Error, Result};
pub use genesis::{ChainParams, Genesis};
pub use hash::Hash32;
pub use ids::{BlockHash, CertificateId, ContentHash, HolderId, SeriesId, TxId};
pub use keys::{Keypair, PublicKey, Signature};
pub use life::{BlindBoxTerms, BoxVariant, Licence, Recipe, RecipeInput, SeriesTerms};
pub use life_proof::{VariantRecord, VerifiedBlindBox, VerifiedBurn, VerifiedReveal};
pub use membership::{ScheduledSet, SetTransition, ValidatorChange, ValidatorSchedule};
pub use tx::{IssuerStatus, ReviewApproval, ReviewSubject, SignedTx, TxBody, TxSignature};
