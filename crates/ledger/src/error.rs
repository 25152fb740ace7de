//! The ledger's error type: one variant per validity rule (docs/rules.md
//! numbers them), each with a stable code shared by RPC errors, logs and docs.

use keepsake_types::{BlockHash, CertificateId, ContentHash, Hash32, HolderId, PublicKey, SeriesId, TxId};

/// Result alias of this crate.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

/// A rule violation, or (only [`LedgerError::State`] and
/// [`LedgerError::Invariant`]) a fault of the node itself.
// Variant fields are named by role (expected/got/...); the variant docs say what they hold.
#[allow(missing_docs)]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    // ---- transaction rules (docs/rules.md T1-T51) ----
    /// T1: a transfer is never valid. There is no secondary trading on Keepsake.
    #[error("transfers are forbidden: certificate {certificate_id} can never change holder")]
    TransferForbidden { certificate_id: CertificateId },
    /// T2: the canonical encoding of a transaction is bounded.
    #[error("transaction is {len} bytes, over the limit of {max}")]
    TxTooLarge { len: usize, max: usize },
    /// T3: a transaction is well-formed (non-empty bounded strings, 1..=32 distinct signers, ...).
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// T4: every signature verifies (ZIP-215 ed25519) over the transaction's domain preimage.
    #[error("bad signature by {signer}")]
    BadSignature { signer: PublicKey },
    /// T5: a transaction id is committed at most once.
    #[error("transaction {tx_id} is already committed")]
    DuplicateTransaction { tx_id: TxId },
    /// T6: governance actions carry signatures of at least k distinct governors.
    #[error("governance action needs {needed} governor signatures, has {got}")]
    InsufficientGovernanceSignatures { got: usize, needed: usize },
    /// T7: only the parties a rule names may sign a transaction.
    #[error("{signer} may not sign this transaction")]
    UnauthorizedSigner { signer: PublicKey },
    /// T8: the party a rule requires must sign.
    #[error("transaction must be signed by {required}")]
    MissingSignature { required: PublicKey },
    /// T9: a governance nonce is used once.
    #[error("governance nonce {nonce} was already used")]
    NonceReused { nonce: u64 },
    /// T10: an issuer key is registered once.
    #[error("issuer {issuer} is already registered")]
    IssuerAlreadyRegistered { issuer: PublicKey },
    /// T11: the issuer must be registered.
    #[error("unknown issuer {issuer}")]
    UnknownIssuer { issuer: PublicKey },
    /// T12: a status change must change the status.
    #[error("issuer {issuer} already has that status")]
    IssuerStatusUnchanged { issuer: PublicKey },
    /// T13: only an active issuer creates series and mints.
    #[error("issuer {issuer} is suspended")]
    IssuerSuspended { issuer: PublicKey },
    /// T14: a reviewer key is registered once.
    #[error("reviewer {reviewer} is already registered")]
    ReviewerAlreadyRegistered { reviewer: PublicKey },
    /// T15: the reviewer must be registered and not removed.
    #[error("unknown or removed reviewer {reviewer}")]
    UnknownReviewer { reviewer: PublicKey },
    /// T16: the reviewer's approval signature covers exactly this series.
    #[error("review approval by {reviewer} does not verify for this series")]
    InvalidReviewApproval { reviewer: PublicKey },
    /// T17: `1 <= max_supply <= max_supply_limit`.
    #[error("max supply {max_supply} must be between 1 and {limit}")]
    InvalidMaxSupply { max_supply: u32, limit: u32 },
    /// T18: a series id (issuer + name) is created once.
    #[error("series {series_id} already exists")]
    SeriesAlreadyExists { series_id: SeriesId },
    /// T19: one series per content hash, chain-wide (anti-counterfeit).
    #[error("content {content_hash} is already registered by series {series_id}")]
    ContentAlreadyRegistered { content_hash: ContentHash, series_id: SeriesId },
    /// T20: mints name an existing series.
    #[error("unknown series {series_id}")]
    UnknownSeries { series_id: SeriesId },
    /// T21: `1 <= edition <= max_supply`: a series is never oversold.
    #[error("edition {edition} exceeds the supply of {max_supply}")]
    SupplyExceeded { edition: u32, max_supply: u32 },
    /// T22: a certificate id is minted once and never reused.
    #[error("edition {edition} of series \"{series_name}\" is already minted (certificate {certificate_id})")]
    DuplicateCertificate { certificate_id: CertificateId, series_name: String, edition: u32 },
    /// T23: revocations name an existing certificate.
    #[error("unknown certificate {certificate_id}")]
    UnknownCertificate { certificate_id: CertificateId },
    /// T24: a certificate is revoked at most once.
    #[error("certificate {certificate_id} is already revoked")]
    AlreadyRevoked { certificate_id: CertificateId },

    // ---- membership rules (docs/rules.md T25-T32) ----
    /// T25: a removal, power change or rotation names a validator of the latest set.
    #[error("{key} is not a validator of the latest set")]
    NotAValidator { key: PublicKey },
    /// T26: an addition or rotation brings a key that is not already a validator.
    #[error("{key} is already a validator")]
    AlreadyAValidator { key: PublicKey },
    /// T27: a change is well-formed: power above 0 and changed, a valid key,
    /// at most 100 validators, total power within bounds.
    #[error("invalid validator-set change: {reason}")]
    InvalidValidatorChange { reason: String },
    /// T28: the set stays live: not empty, and the validators it keeps hold a
    /// quorum of its power without the key it brings in.
    #[error("unsafe validator-set change: {reason}")]
    ValidatorSetUnsafe { reason: String },
    /// T29: one change at a time: none while the previous one has not taken effect.
    #[error(
        "a validator-set change is pending: the set changed at height {change_height} takes effect at height \
         {from_height}; submit this change once block {from_height} is committed"
    )]
    SetChangePending { change_height: u64, from_height: u64 },
    /// T30: governance keeps a reachable threshold: 1 to 32 distinct valid
    /// governor keys, and a threshold between 1 and their number.
    #[error("invalid governance: {reason}")]
    InvalidGovernance { reason: String },
    /// T31: an observer key is registered once while active.
    #[error("{observer} is already an observer")]
    ObserverAlreadyRegistered { observer: PublicKey },
    /// T32: a removal names an active observer.
    #[error("{observer} is not an active observer")]
    UnknownObserver { observer: PublicKey },

    // ---- the collectible's life (docs/rules.md T33-T51) ----
    /// T33: an issuer whose licence has ended creates, mints, synthesizes and closes nothing.
    #[error(
        "the licence of issuer {issuer} ended at {valid_until_ms} ms (block time {block_time_ms} ms): it can no \
         longer create series or mint; governance can renew it (SetIssuerLicence)"
    )]
    LicenceExpired { issuer: PublicKey, valid_until_ms: u64, block_time_ms: u64 },
    /// T34: an issuer whose licence governance withdrew creates, mints, synthesizes and closes nothing.
    #[error("the licence of issuer {issuer} was withdrawn: it can no longer create series or mint")]
    LicenceWithdrawn { issuer: PublicKey },
    /// T35: while governance requires licences, an issuer without one creates, mints, synthesizes and closes nothing.
    #[error("issuer {issuer} has no licence, and this chain requires one to create series or mint")]
    IssuerUnlicensed { issuer: PublicKey },
    /// T36: a licence recorded by governance is in force at block time.
    #[error("invalid licence: {reason}")]
    InvalidLicence { reason: String },
    /// T37: a withdrawal names a licence that is not already withdrawn.
    #[error("issuer {issuer} has no licence to withdraw")]
    NoLicenceToWithdraw { issuer: PublicKey },
    /// T38: a licence-policy change changes the policy.
    #[error("the licence policy already is required = {required}")]
    LicencePolicyUnchanged { required: bool },
    /// T39: series terms are well-formed: recipes over existing series of the
    /// same issuer, or a blind box whose variant counts sum to the supply.
    #[error("invalid series terms: {reason}")]
    InvalidSeriesTerms { reason: String },
    /// T40: a synthesis names a recipe of its target series.
    #[error("series {series_id} has no recipe {recipe}")]
    UnknownRecipe { series_id: SeriesId, recipe: u32 },
    /// T41: a synthesis burns exactly what its recipe lists.
    #[error("the inputs do not match the recipe: {reason}")]
    RecipeMismatch { reason: String },
    /// T42: a burned certificate is never burned, revoked or minted again.
    #[error("certificate {certificate_id} was burned by synthesis")]
    CertificateBurned { certificate_id: CertificateId },
    /// T43: a revoked certificate is not burned.
    #[error("certificate {certificate_id} is revoked and cannot be burned")]
    CertificateRevoked { certificate_id: CertificateId },
    /// T44: synthesis never changes hands: every input has one holder.
    #[error(
        "the inputs belong to different holders ({first} and {other}): combining two holders' pieces is a \
         transfer, and transfers are forbidden"
    )]
    SynthesisAcrossHolders { first: HolderId, other: HolderId },
    /// T45: synthesis never changes hands: the output goes to the inputs' holder.
    #[error(
        "the output would go to {output}, but the inputs belong to {inputs}: that is a transfer, and transfers \
         are forbidden"
    )]
    SynthesisChangesHolder { inputs: HolderId, output: HolderId },
    /// T46: only a blind box is closed or revealed.
    #[error("series {series_id} is not a blind box")]
    NotABlindBox { series_id: SeriesId },
    /// T47: a blind box's sale closes once; afterwards nothing is minted into it.
    #[error("the sale of blind box {series_id} is closed")]
    BlindBoxClosed { series_id: SeriesId },
    /// T48: a blind box is revealed after its sale closed, in a later block.
    #[error("blind box {series_id} cannot be revealed yet: its sale must be closed in an earlier block")]
    BlindBoxNotClosed { series_id: SeriesId },
    /// T49: a blind box is revealed once.
    #[error("blind box {series_id} is already revealed")]
    BlindBoxAlreadyRevealed { series_id: SeriesId },
    /// T50: the revealed seed matches the commitment made at creation.
    #[error("the seed does not match the commitment of blind box {series_id}")]
    SeedMismatch { series_id: SeriesId },
    /// T51: the reveal's entropy is the log root just after the close.
    #[error("the entropy {got} is not the log root after the close ({expected})")]
    EntropyMismatch { expected: Hash32, got: Hash32 },

    // ---- block rules (docs/rules.md B1-B11) ----
    /// B1: the block is for this chain.
    #[error("block is for chain {got:?}, expected {expected:?}")]
    WrongChain { expected: String, got: String },
    /// B2: heights follow each other.
    #[error("block height {got}, expected {expected}")]
    UnexpectedHeight { expected: u64, got: u64 },
    /// B3: the block extends the current tip.
    #[error("block builds on {got}, expected {expected}")]
    PrevHashMismatch { expected: BlockHash, got: BlockHash },
    /// B4: block time strictly increases.
    #[error("block time {got} ms is not after the previous block's {previous} ms")]
    TimeNotIncreasing { previous: u64, got: u64 },
    /// B5: the proposer is a validator.
    #[error("proposer {proposer} is not a validator")]
    UnknownProposer { proposer: PublicKey },
    /// B6: at most `block_txs_max` transactions, and `tx_count` says how many.
    #[error("block carries {got} transactions (header says {declared}, limit {max})")]
    TxCountMismatch { declared: u32, got: usize, max: u32 },
    /// B7: `tx_root` is the Merkle root of the block's transaction ids.
    #[error("tx root mismatch: header {got}, computed {expected}")]
    TxRootMismatch { expected: Hash32, got: Hash32 },
    /// B8: every transaction of a block is valid, in order. One invalid
    /// transaction (a transfer, say) makes the whole block invalid.
    #[error("transaction {index} ({tx_id}) is invalid: {source}")]
    InvalidTransaction { index: usize, tx_id: TxId, source: Box<LedgerError> },
    /// B9: `log_size`/`log_root` are the log after appending the block's transactions.
    #[error(
        "log mismatch: header has size {got_size} root {got_root}, computed size {expected_size} root {expected_root}"
    )]
    LogMismatch { expected_size: u64, expected_root: Hash32, got_size: u64, got_root: Hash32 },
    /// B10: `validators_hash` is the hash of the validator set.
    #[error("validator set hash mismatch: header {got}, expected {expected}")]
    ValidatorSetMismatch { expected: Hash32, got: Hash32 },
    /// B11: `state_root` is the state root after the block.
    #[error("state root mismatch: header {got}, computed {expected}")]
    StateRootMismatch { expected: Hash32, got: Hash32 },

    // ---- faults of the node, not of the input ----
    /// Reading state failed. Not a verdict on the input: the node must not
    /// vote or answer as if the input were invalid.
    #[error("state unavailable: {0}")]
    State(String),
    /// A broken invariant (a bug): for example an attempt to overwrite a
    /// certificate. The node stops rather than continue.
    #[error("ledger invariant broken: {0}")]
    Invariant(String),
}

impl LedgerError {
    /// The stable code (docs/rules.md).
    pub fn code(&self) -> &'static str {
        use LedgerError::*;
        match self {
            TransferForbidden { .. } => "TransferForbidden",
            TxTooLarge { .. } => "TxTooLarge",
            Malformed(_) => "Malformed",
            BadSignature { .. } => "BadSignature",
            DuplicateTransaction { .. } => "DuplicateTransaction",
            InsufficientGovernanceSignatures { .. } => "InsufficientGovernanceSignatures",
            UnauthorizedSigner { .. } => "UnauthorizedSigner",
            MissingSignature { .. } => "MissingSignature",
            NonceReused { .. } => "NonceReused",
            IssuerAlreadyRegistered { .. } => "IssuerAlreadyRegistered",
            UnknownIssuer { .. } => "UnknownIssuer",
            IssuerStatusUnchanged { .. } => "IssuerStatusUnchanged",
            IssuerSuspended { .. } => "IssuerSuspended",
            ReviewerAlreadyRegistered { .. } => "ReviewerAlreadyRegistered",
            UnknownReviewer { .. } => "UnknownReviewer",
            InvalidReviewApproval { .. } => "InvalidReviewApproval",
            InvalidMaxSupply { .. } => "InvalidMaxSupply",
            SeriesAlreadyExists { .. } => "SeriesAlreadyExists",
            ContentAlreadyRegistered { .. } => "ContentAlreadyRegistered",
            UnknownSeries { .. } => "UnknownSeries",
            SupplyExceeded { .. } => "SupplyExceeded",
            DuplicateCertificate { .. } => "DuplicateCertificate",
            UnknownCertificate { .. } => "UnknownCertificate",
            AlreadyRevoked { .. } => "AlreadyRevoked",
            NotAValidator { .. } => "NotAValidator",
            AlreadyAValidator { .. } => "AlreadyAValidator",
            InvalidValidatorChange { .. } => "InvalidValidatorChange",
            ValidatorSetUnsafe { .. } => "ValidatorSetUnsafe",
            SetChangePending { .. } => "SetChangePending",
            InvalidGovernance { .. } => "InvalidGovernance",
            ObserverAlreadyRegistered { .. } => "ObserverAlreadyRegistered",
            UnknownObserver { .. } => "UnknownObserver",
            LicenceExpired { .. } => "LicenceExpired",
            LicenceWithdrawn { .. } => "LicenceWithdrawn",
            IssuerUnlicensed { .. } => "IssuerUnlicensed",
            InvalidLicence { .. } => "InvalidLicence",
            NoLicenceToWithdraw { .. } => "NoLicenceToWithdraw",
            LicencePolicyUnchanged { .. } => "LicencePolicyUnchanged",
            InvalidSeriesTerms { .. } => "InvalidSeriesTerms",
            UnknownRecipe { .. } => "UnknownRecipe",
            RecipeMismatch { .. } => "RecipeMismatch",
            CertificateBurned { .. } => "CertificateBurned",
            CertificateRevoked { .. } => "CertificateRevoked",
            SynthesisAcrossHolders { .. } => "SynthesisAcrossHolders",
            SynthesisChangesHolder { .. } => "SynthesisChangesHolder",
            NotABlindBox { .. } => "NotABlindBox",
            BlindBoxClosed { .. } => "BlindBoxClosed",
            BlindBoxNotClosed { .. } => "BlindBoxNotClosed",
            BlindBoxAlreadyRevealed { .. } => "BlindBoxAlreadyRevealed",
            SeedMismatch { .. } => "SeedMismatch",
            EntropyMismatch { .. } => "EntropyMismatch",
            WrongChain { .. } => "WrongChain",
            UnexpectedHeight { .. } => "UnexpectedHeight",
            PrevHashMismatch { .. } => "PrevHashMismatch",
            TimeNotIncreasing { .. } => "TimeNotIncreasing",
            UnknownProposer { .. } => "UnknownProposer",
            TxCountMismatch { .. } => "TxCountMismatch",
            TxRootMismatch { .. } => "TxRootMismatch",
            InvalidTransaction { .. } => "InvalidTransaction",
            LogMismatch { .. } => "LogMismatch",
            ValidatorSetMismatch { .. } => "ValidatorSetMismatch",
            StateRootMismatch { .. } => "StateRootMismatch",
            State(_) => "StateUnavailable",
            Invariant(_) => "InvariantBroken",
        }
    }

    /// True for a verdict on the input (a rule violation); false for a fault of
    /// the node ([`LedgerError::State`], [`LedgerError::Invariant`]).
    pub fn is_rejection(&self) -> bool {
        !matches!(self, LedgerError::State(_) | LedgerError::Invariant(_))
    }

    /// For [`LedgerError::InvalidTransaction`], the rule the transaction broke; otherwise itself.
    pub fn root_cause(&self) -> &LedgerError {
        match self {
            LedgerError::InvalidTransaction { source, .. } => source.root_cause(),
            other => other,
        }
    }
}

impl From<keepsake_types::Error> for LedgerError {
    /// Maps errors of the types crate met while executing: a bad signature is a
    /// rule violation; a failing log node source is a state fault.
    fn from(e: keepsake_types::Error) -> Self {
        match e {
            keepsake_types::Error::BadSignature { signer, .. } => LedgerError::BadSignature { signer },
            keepsake_types::Error::BadPublicKey(signer) => LedgerError::BadSignature { signer },
            keepsake_types::Error::NodeSource(m) => LedgerError::State(m),
            keepsake_types::Error::MissingLogNode { level, index } => {
                LedgerError::State(format!("log node ({level}, {index}) missing"))
            }
            other => LedgerError::Malformed(other.to_string()),
        }
    }
}
