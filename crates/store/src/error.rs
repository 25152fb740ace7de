//! The store's error type. Every variant has a stable code ([`StoreError::code`])
//! for logs, metrics and RPC; mismatch variants carry both sides.

use keepsake_types::{BlockHash, CertificateId};

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Everything that can go wrong in the store.
///
/// Only [`StoreError::NotNextBlock`], [`StoreError::InputMismatch`],
/// [`StoreError::HolderImmutable`], [`StoreError::RecordExists`] and
/// [`StoreError::OutOfRange`] are verdicts on the caller's input (and then
/// nothing was written); every other variant is a fault of the node or of
/// its disk, and the node must stop serving and building on this store.
// Variant fields are named by role (expected/got/...); the variant docs say what they hold.
#[allow(missing_docs)]
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (I/O error, or a corruption sled itself detected).
    #[error("storage I/O failed: {0}")]
    Io(#[from] sled::Error),
    /// Another process holds the data directory's lock (a running node, or a
    /// tool such as `keepsake audit --data-dir` on it).
    #[error(
        "the data directory {path} is in use by another process (a running keepsake node?): stop it \
         first, or give this command another home or data directory"
    )]
    InUse { path: String },
    /// Reading or writing a history file failed (`what` says which and why).
    #[error("history I/O failed {what}: {source}")]
    History { what: String, source: std::io::Error },
    /// The database was written with another on-disk format.
    /// `expected` is this build's [`crate::SCHEMA_VERSION`], `got` the database's.
    #[error(
        "the data directory has schema version {got}, this build reads version {expected} only; \
         move the directory aside and let the node re-sync from its peers, or convert it with \
         `keepsake migrate` (docs/operations.md, \"Upgrading the data directory\")"
    )]
    SchemaMismatch { expected: u32, got: u32 },
    /// The database belongs to another chain. `expected` is the hash of the
    /// genesis given to [`crate::Store::open`], `got` the one recorded in the database.
    #[error("database was created for genesis {got}, but the node runs genesis {expected}")]
    GenesisMismatch { expected: BlockHash, got: BlockHash },
    /// The database contradicts itself (a missing, extra or damaged record).
    /// The node must not serve or build on it; re-sync from peers.
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    /// The state-layer transfer ban: a block tried to write a certificate that
    /// already exists. Holders are write-once; nothing was written.
    #[error("certificate {certificate_id} already exists: holders are write-once, nothing was written")]
    HolderImmutable { certificate_id: CertificateId },
    /// A block tried to overwrite another insert-only record (`kind` is the
    /// key prefix: `tx`, `revoke`, `content`, `nonce`, `hash`); nothing was written.
    #[error("{kind} record {key} already exists and is insert-only; nothing was written")]
    RecordExists { kind: &'static str, key: String },
    /// The block does not extend the committed tip; nothing was written.
    #[error(
        "block {got_height} on {got_prev} is not the next block: expected height {expected_height} on {expected_prev}"
    )]
    NotNextBlock { expected_height: u64, got_height: u64, expected_prev: BlockHash, got_prev: BlockHash },
    /// The block, its commit and its execution do not describe the same block
    /// (a bug of the caller); nothing was written.
    #[error("commit input mismatch on {what}: expected {expected}, got {got}")]
    InputMismatch { what: &'static str, expected: String, got: String },
    /// A read past the committed tip (a log size larger than the log, say).
    #[error("out of range: {0}")]
    OutOfRange(String),
    /// A stored value that does not decode. The database is damaged or was
    /// written by an incompatible build.
    #[error("stored {what} does not decode: {source}")]
    Decode { what: &'static str, source: keepsake_types::Error },
}

impl StoreError {
    /// The stable code of this error (never renamed).
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io(_) => "StorageIo",
            StoreError::InUse { .. } => "DataDirInUse",
            StoreError::History { .. } => "HistoryIo",
            StoreError::SchemaMismatch { .. } => "SchemaMismatch",
            StoreError::GenesisMismatch { .. } => "GenesisMismatch",
            StoreError::Corrupt(_) => "Corrupt",
            StoreError::HolderImmutable { .. } => "HolderImmutable",
            StoreError::RecordExists { .. } => "RecordExists",
            StoreError::NotNextBlock { .. } => "NotNextBlock",
            StoreError::InputMismatch { .. } => "InputMismatch",
            StoreError::OutOfRange(_) => "OutOfRange",
            StoreError::Decode { .. } => "Decode",
        }
    }

    /// True when the error is a verdict on the caller's input and the store is
    /// unchanged and healthy; false for faults of the node or its disk.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            StoreError::HolderImmutable { .. }
                | StoreError::RecordExists { .. }
                | StoreError::NotNextBlock { .. }
                | StoreError::InputMismatch { .. }
                | StoreError::OutOfRange(_)
        )
    }
}
