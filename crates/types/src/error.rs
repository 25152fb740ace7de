//! The error type of the data-types crate. Every variant has a stable code
//! ([`Error::code`]) shared by RPC errors, logs and `docs/`.

use crate::{BlockHash, PublicKey};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while decoding, hashing, verifying signatures,
/// proofs, commits or certificates. Mismatch variants carry both sides.
// Variant fields are named by role (expected/got/what/reason); documenting each adds nothing.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Bytes that are not the canonical encoding of the expected object.
    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },
    /// An encoded object larger than its limit (checked before decoding).
    #[error("{what} is {len} bytes, over the limit of {max}")]
    TooLarge { what: &'static str, len: usize, max: usize },
    /// Text that is not the hex of the expected fixed-size value.
    #[error("invalid hex for {what}: {reason}")]
    Hex { what: &'static str, reason: String },
    /// 32 bytes that do not decode to an ed25519 curve point (a signer's key;
    /// the stricter rule for keys entering the state is `PublicKey::is_valid_point`).
    #[error("invalid ed25519 public key {0}")]
    BadPublicKey(PublicKey),
    /// A signature that does not verify (ZIP-215 ed25519) for its signer and message.
    #[error("bad signature by {signer} on {what}")]
    BadSignature { signer: PublicKey, what: &'static str },
    /// A chain id that breaks the chain id rule: 1 to 64 bytes of
    /// `[a-z0-9-]` ([`crate::ChainId`]). The message quotes a prefix of it.
    #[error("invalid {0}")]
    InvalidChainId(String),
    /// A genesis file that breaks one of the genesis rules.
    #[error("invalid genesis: {0}")]
    InvalidGenesis(String),
    /// An object of another chain.
    #[error("wrong chain: expected {expected:?}, got {got:?}")]
    WrongChain { expected: String, got: String },
    /// A commit for another height than the header it is attached to.
    #[error("commit height mismatch: expected {expected}, got {got}")]
    CommitHeightMismatch { expected: u64, got: u64 },
    /// A commit whose signatures are for another block.
    #[error("commit is for block {got}, expected {expected}")]
    CommitBlockMismatch { expected: BlockHash, got: BlockHash },
    /// A commit signature by a key that is not in the validator set.
    #[error("commit signed by {0}, which is not a validator")]
    UnknownValidator(PublicKey),
    /// The same validator twice in one commit.
    #[error("validator {0} signed the commit twice")]
    DuplicateCommitSignature(PublicKey),
    /// A commit without more than two thirds of the voting power.
    #[error("commit carries voting power {got}, needs at least {needed} (more than 2/3 of {total})")]
    InsufficientPower { got: u64, needed: u64, total: u64 },
    /// A header signed under another validator set than the one expected.
    #[error("header validator set hash {got} does not match the expected set {expected}")]
    ValidatorSetMismatch { expected: crate::Hash32, got: crate::Hash32 },
    /// A Merkle proof that does not lead to the expected root, or a proof of the wrong shape.
    #[error("log proof invalid: {0}")]
    Proof(String),
    /// The node source failed to read a log node (a storage-layer fault).
    #[error("log node source failed: {0}")]
    NodeSource(String),
    /// A log node that the node source does not have (a storage-layer fault).
    #[error("log node missing at level {level} index {index}")]
    MissingLogNode { level: u8, index: u64 },
    /// Two checkpoints whose logs are not one the prefix of the other: the
    /// newer one rewrote or dropped history (or the proof is wrong).
    #[error("log at height {new_height} is not consistent with the log at height {old_height}: {reason}")]
    Inconsistent { old_height: u64, new_height: u64, reason: String },
    /// A validator-set transition of a certificate or status answer that
    /// does not prove its change (see `membership::SetTransition`).
    #[error("validator-set transition {index} is invalid: {reason}")]
    InvalidTransition { index: usize, reason: String },
    /// A certificate whose content does not match its log leaf or checkpoint.
    #[error("certificate field {field} does not match: {reason}")]
    CertificateMismatch { field: &'static str, reason: String },
    /// A holder opening that does not open the certificate's holder commitment.
    #[error("not the holder: {reason}")]
    NotTheHolder { reason: String },
}

impl Error {
    /// The stable code of this error (never renamed; documented in docs/rules.md).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Malformed { .. } => "Malformed",
            Error::TooLarge { .. } => "TooLarge",
            Error::Hex { .. } => "BadHex",
            Error::BadPublicKey(_) => "BadPublicKey",
            Error::BadSignature { .. } => "BadSignature",
            Error::InvalidChainId(_) => "InvalidChainId",
            Error::InvalidGenesis(_) => "InvalidGenesis",
            Error::WrongChain { .. } => "WrongChain",
            Error::CommitHeightMismatch { .. } => "CommitHeightMismatch",
            Error::CommitBlockMismatch { .. } => "CommitBlockMismatch",
            Error::UnknownValidator(_) => "UnknownValidator",
            Error::DuplicateCommitSignature(_) => "DuplicateCommitSignature",
            Error::InsufficientPower { .. } => "InsufficientPower",
            Error::ValidatorSetMismatch { .. } => "ValidatorSetMismatch",
            Error::Proof(_) => "ProofMismatch",
            Error::InvalidTransition { .. } => "InvalidTransition",
            Error::MissingLogNode { .. } => "MissingLogNode",
            Error::NodeSource(_) => "NodeSourceFailed",
            Error::Inconsistent { .. } => "ConsistencyMismatch",
            Error::CertificateMismatch { .. } => "CertificateMismatch",
            Error::NotTheHolder { .. } => "NotTheHolder",
        }
    }
}
