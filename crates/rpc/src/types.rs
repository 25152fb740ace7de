//! The JSON shapes of the API. Hashes, keys and signatures are lowercase hex;
//! times are milliseconds since the Unix epoch.

use keepsake_types::{
    Block, BlockHash, BoxVariant, Certificate, CertificateId, ChainId, Checkpoint, Commit, ContentHash,
    Hash32, IssuerStatus, PublicKey, Recipe, SeriesId, SetTransition, TxBody, TxId, ValidatorChange,
    ValidatorSet,
};
use serde::{Deserialize, Serialize};

/// A rejection as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Stable code (docs/rules.md), e.g. `TransferForbidden`.
    pub code: String,
    /// Human explanation.
    pub message: String,
}

/// The outcome of one transaction of a `submitTxs` batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitOutcome {
    /// The transaction id (computed even when rejected).
    pub tx_id: TxId,
    /// `None` when admitted.
    pub error: Option<Rejection>,
}

/// The state of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxStatus {
    /// In the mempool.
    Pending,
    /// Final.
    Committed {
        /// Block height.
        height: u64,
        /// Position in the block.
        index: u32,
        /// Position in the collectible log.
        leaf_index: u64,
    },
    /// Admitted, then left out of a block (for example a second mint of the
    /// same edition that arrived while the first was pending). Remembered for
    /// a bounded number of transactions.
    Rejected {
        /// Why.
        error: Rejection,
    },
    /// Never seen, or forgotten.
    Unknown,
}

/// A revocation, as reported with a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationInfo {
    /// Reason recorded on chain.
    pub reason: String,
    /// `issuer` or `governance`.
    pub by: String,
    /// The revoking transaction.
    pub tx_id: TxId,
    /// Its log index.
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// A certificate and its current status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateResponse {
    /// The certificate file content (verifiable offline).
    pub certificate: Certificate,
    /// Present when the certificate was revoked.
    pub revocation: Option<RevocationInfo>,
    /// Present when the certificate was burned by a synthesis (it stays on
    /// chain, and its id is never minted again).
    #[serde(default)]
    pub burn: Option<BurnInfo>,
}

/// A burn, as reported with a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BurnInfo {
    /// The certificate it went into (the synthesis' output).
    pub into: CertificateId,
    /// The `Synthesize` transaction.
    pub tx_id: TxId,
    /// Its log index.
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// A series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesInfo {
    /// Id.
    pub series_id: SeriesId,
    /// Issuer.
    pub issuer: PublicKey,
    /// The issuer's registered name.
    #[serde(default)]
    pub issuer_name: String,
    /// The approving reviewer's registered name.
    #[serde(default)]
    pub reviewer_name: String,
    /// Name.
    pub name: String,
    /// Artwork hash.
    pub content_hash: ContentHash,
    /// Edition cap.
    pub max_supply: u32,
    /// Editions minted.
    pub minted: u32,
    /// Metadata location.
    pub metadata_uri: String,
    /// Approving reviewer.
    pub reviewer: PublicKey,
    /// Creating transaction.
    pub tx_id: TxId,
    /// Height of creation.
    pub created_height: u64,
    /// Ways to obtain an edition by burning certificates (empty for a plain series).
    #[serde(default)]
    pub recipes: Vec<Recipe>,
    /// Set for a blind box: its variants, seed commitment and sale.
    #[serde(default)]
    pub blind_box: Option<BlindBoxInfo>,
    /// Certificates of this series burned by synthesis.
    #[serde(default)]
    pub burned: u32,
    /// `minted - burned` (revoked certificates are still counted).
    #[serde(default)]
    pub in_circulation: u32,
}

/// Where a blind box's sale is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    /// Editions are still minted.
    Open,
    /// The sale closed; the seed is not revealed yet.
    Closed,
    /// The seed is revealed: every edition's variant is drawn.
    Revealed,
}

/// A blind box, as `getSeries` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlindBoxInfo {
    /// The designs, in order (a variant's index is its position), with how many of each.
    pub variants: Vec<BoxVariant>,
    /// The commitment to the issuer's seed published at creation.
    pub seed_commitment: Hash32,
    /// Open, closed or revealed.
    pub sale: SaleState,
    /// The close, once committed.
    pub closed: Option<BoxCloseInfo>,
    /// The reveal, once committed.
    pub revealed: Option<BoxRevealInfo>,
}

/// A blind box's close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxCloseInfo {
    /// The `CloseBlindBox` transaction.
    pub tx_id: TxId,
    /// Its log index: the draw's entropy is the log root of `leaf_index + 1`
    /// entries (`keepsake_getLogRoot`).
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// A blind box's reveal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxRevealInfo {
    /// The seed (its commitment is `seed_commitment`).
    pub seed: Hash32,
    /// The entropy (the log root just after the close).
    pub entropy: Hash32,
    /// The `RevealBlindBox` transaction.
    pub tx_id: TxId,
    /// Its log index.
    pub leaf_index: u64,
    /// Its height.
    pub height: u64,
}

/// A committed transaction, as the explorer lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentTx {
    /// Block height.
    pub height: u64,
    /// Block time.
    pub time_ms: u64,
    /// Transaction id.
    pub tx_id: TxId,
    /// The body (holders appear only as their salted commitment).
    pub body: TxBody,
}

/// An issuer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerInfo {
    /// Key.
    pub issuer: PublicKey,
    /// Name.
    pub name: String,
    /// Active or suspended.
    pub status: IssuerStatus,
    /// Height of registration.
    pub registered_height: u64,
    /// The licence governance recorded, if any.
    #[serde(default)]
    pub licence: Option<LicenceInfo>,
    /// The chain's licence policy.
    #[serde(default)]
    pub licence_policy: LicencePolicyInfo,
    /// Whether the issuer may create series and mint at `checked_at_ms`:
    /// active, and its licence in force (or, without one, no licence required).
    #[serde(default)]
    pub may_issue: bool,
    /// The node's clock when it answered (what `in_force` and `may_issue`
    /// were judged at; a block's time decides on chain).
    #[serde(default)]
    pub checked_at_ms: u64,
}

/// An issuer's licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceInfo {
    /// Kind of licence.
    pub kind: String,
    /// Its number.
    pub number: String,
    /// The last instant it is in force, ms since the Unix epoch.
    pub valid_until_ms: u64,
    /// The same instant, ISO 8601 in UTC (`2027-12-31T23:59:59.999Z`).
    pub valid_until: String,
    /// Height at which it was recorded (or last renewed).
    pub since_height: u64,
    /// Not withdrawn, and not ended at `IssuerInfo::checked_at_ms`.
    pub in_force: bool,
    /// Set once governance withdrew it.
    pub withdrawn: Option<LicenceWithdrawalInfo>,
}

/// A licence withdrawal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceWithdrawalInfo {
    /// Reason recorded on chain.
    pub reason: String,
    /// Height of the withdrawal.
    pub height: u64,
}

/// Whether every issuer needs a licence in force.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicencePolicyInfo {
    /// True: an issuer without a licence in force creates and mints nothing.
    pub required: bool,
    /// Height of the last change (`None`: never set, licences not required).
    pub since_height: Option<u64>,
}

/// A log root at a size (`keepsake_getLogRoot`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRootInfo {
    /// The number of leaves.
    pub size: u64,
    /// RFC 9162 root of the first `size` leaves.
    pub root: Hash32,
}

/// A block with its commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockResponse {
    /// Header hash.
    pub hash: BlockHash,
    /// The block.
    pub block: Block,
    /// Its commit.
    pub commit: Commit,
}

/// A summary of a committed block (subscription item).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockSummary {
    /// Height.
    pub height: u64,
    /// Header hash.
    pub hash: BlockHash,
    /// Block time.
    pub time_ms: u64,
    /// Transactions in the block.
    pub tx_count: u32,
    /// Log size after the block.
    pub log_size: u64,
    /// Log root after the block.
    pub log_root: Hash32,
}

/// Chain status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainStatus {
    /// Chain id.
    pub chain_id: ChainId,
    /// Genesis hash.
    pub genesis_hash: BlockHash,
    /// Latest committed height (0 before block 1).
    pub height: u64,
    /// Latest block hash (the genesis hash before block 1).
    pub latest_hash: BlockHash,
    /// Latest block time.
    pub latest_time_ms: u64,
    /// Log size.
    pub log_size: u64,
    /// Log root.
    pub log_root: Hash32,
    /// State root.
    pub state_root: Hash32,
    /// Transactions waiting in the mempool.
    pub mempool_txs: usize,
    /// This node's validator key.
    pub validator: PublicKey,
    /// Peers connected to this node (absent from nodes older than the field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peers: Option<usize>,
}

/// Two checkpoints and the consistency proof between their logs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyResponse {
    /// The older checkpoint.
    pub old: Checkpoint,
    /// The newer checkpoint.
    pub new: Checkpoint,
    /// RFC 9162 consistency proof from `old.header.log_size` to `new.header.log_size`.
    pub proof: Vec<Hash32>,
}

/// The committed change that made a validator set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetChangeInfo {
    /// Height of the block that committed it.
    pub height: u64,
    /// Its position in the collectible log.
    pub leaf_index: u64,
    /// The `ChangeValidators` transaction.
    pub tx_id: TxId,
    /// The change.
    pub change: ValidatorChange,
    /// What it did, with the validators' names (for humans; may change wording).
    pub description: String,
}

/// One validator set of the chain and the first height it governs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetInfo {
    /// The first height it governs (1 for the genesis set).
    pub from_height: u64,
    /// The validators, in proposer order: `{"public_key", "power", "name"}`.
    pub validators: ValidatorSet,
    /// Their total voting power.
    pub total_power: u64,
    /// The change that made it (`None` for the genesis set).
    pub change: Option<SetChangeInfo>,
}

/// The governors in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceInfo {
    /// The governors' keys.
    pub governors: Vec<PublicKey>,
    /// How many distinct governors a governance action needs.
    pub threshold: u32,
    /// Height of the `SetGovernance` that made them (`None`: the genesis's).
    pub since_height: Option<u64>,
}

/// A key admitted to the peer network without voting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObserverInfo {
    /// Its key.
    pub public_key: PublicKey,
    /// Who runs it (a former validator keeps its validator name).
    pub name: String,
    /// False once governance removed it.
    pub active: bool,
    /// Height it was admitted (registered, or removed from the validator set).
    pub since_height: u64,
    /// True when it became an observer by leaving the validator set.
    pub former_validator: bool,
}

/// The chain's membership: every validator set with the changes that made
/// them, the proofs of those changes, the governance and the observers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSetsResponse {
    /// The node's committed height when it answered.
    pub height: u64,
    /// The sets, oldest first: the genesis set from height 1, then one per
    /// committed change (the last may govern from a height above `height`:
    /// a change committed but not in force yet).
    pub sets: Vec<SetInfo>,
    /// When proofs were asked for: one [`SetTransition`] per set after the
    /// genesis one, in order, checkable with `ValidatorSchedule::follow`
    /// from the genesis alone; empty otherwise.
    pub transitions: Vec<SetTransition>,
    /// The governance in force.
    pub governance: GovernanceInfo,
    /// Observer keys ever admitted, in key order (at most 1,000).
    pub observers: Vec<ObserverInfo>,
}
