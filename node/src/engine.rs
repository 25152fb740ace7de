//! The single-validator engine: one height at a time, the same
//! propose -> validate -> precommit -> commit path a BFT engine drives
//! (docs/ARCHITECTURE.md, "Block production").
//!
//! 1. **propose**: `build_block` over the pending transactions (invalid ones
//!    are left out with their rejection);
//! 2. **validate**: `validate_block` re-checks the proposal exactly as any
//!    validator checks any proposer's block (a block with a transfer in it
//!    never passes this step);
//! 3. **precommit**: the validator signs a precommit vote for the header hash;
//! 4. **commit**: the precommits (here, one) form a `Commit`, verified against
//!    the validator set like any auditor would, then the block, commit and
//!    state changes are stored in one atomic write and flushed.
//!
//! With one validator, round is always 0 and the quorum is its own vote.

use std::sync::Arc;

use keepsake_ledger::{LedgerError, Tip, build_block, validate_block};
use keepsake_store::Store;
use keepsake_types::{
    Block, Commit, CommitSignature, Genesis, Keypair, SignedTx, TxId, ValidatorSet, VoteData, VoteKind,
};

/// A fault that stops block production (never a verdict on a transaction).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Storage failed or refused (for example an attempt to overwrite a certificate).
    #[error("storage: {0}")]
    Store(#[from] keepsake_store::StoreError),
    /// The ledger met a fault of the node (state unavailable, broken invariant).
    #[error("ledger: {0}")]
    Ledger(LedgerError),
    /// Our own proposal failed our own validation: a bug.
    #[error("own proposal at height {height} failed validation: {error}")]
    OwnProposalInvalid {
        /// Height.
        height: u64,
        /// Why.
        error: LedgerError,
    },
    /// The commit we assembled does not verify: a bug or a wrong key.
    #[error("assembled commit does not verify: {0}")]
    BadCommit(keepsake_types::Error),
    /// This node's key is not a validator of the genesis.
    #[error("this node's key {0} is not a validator in the genesis")]
    NotAValidator(keepsake_types::PublicKey),
}

/// What one committed block changed.
#[derive(Debug)]
pub struct Produced {
    /// The block.
    pub block: Block,
    /// Its commit.
    pub commit: Commit,
    /// Ids of the committed transactions.
    pub committed: Vec<TxId>,
    /// Candidates left out, with the rule each broke.
    pub left_out: Vec<(TxId, LedgerError)>,
}

/// The engine of one validator.
pub struct Engine {
    store: Arc<Store>,
    genesis: Arc<Genesis>,
    validators: ValidatorSet,
    key: Keypair,
}

impl Engine {
    /// An engine for `key`, which must be a genesis validator.
    pub fn new(store: Arc<Store>, genesis: Arc<Genesis>, key: Keypair) -> Result<Self, EngineError> {
        let validators = genesis.validator_set();
        if validators.get(&key.public()).is_none() {
            return Err(EngineError::NotAValidator(key.public()));
        }
        Ok(Self { store, genesis, validators, key })
    }

    /// The tip the next block builds on.
    pub fn tip(&self) -> Result<Tip, EngineError> {
        Ok(self.store.ledger_tip(&self.genesis)?)
    }

    /// Runs one height with `candidates` at wall-clock `now_ms`.
    /// Returns `None` when no candidate was valid (no empty blocks are made).
    pub fn produce(&self, candidates: Vec<SignedTx>, now_ms: u64) -> Result<Option<Produced>, EngineError> {
        let chain = self.genesis.chain_id.as_str();
        let tip = self.tip()?;
        // 1. propose
        let keepsake_ledger::Built { block, left_out, .. } =
            build_block(&*self.store, &self.genesis, &tip, self.key.public(), now_ms, candidates)
                .map_err(EngineError::Ledger)?;
        let left_out: Vec<(TxId, LedgerError)> =
            left_out.into_iter().map(|(tx, e)| (tx.id(chain), e)).collect();
        if block.txs.is_empty() {
            return Ok(None);
        }
        // 2. validate (every validator's check of a proposal)
        let executed = match validate_block(&*self.store, &self.genesis, &tip, &block) {
            Ok(executed) => executed,
            Err(e) if e.is_rejection() => {
                return Err(EngineError::OwnProposalInvalid { height: block.header.height, error: e });
            }
            Err(e) => return Err(EngineError::Ledger(e)),
        };
        // 3. precommit
        let block_hash = block.header.hash();
        let vote = VoteData {
            height: block.header.height,
            round: 0,
            kind: VoteKind::Precommit,
            block_hash: Some(block_hash),
        }
        .sign(chain, &self.key);
        // 4. commit: a quorum of precommits, checked like an auditor would, then stored.
        let commit = Commit {
            height: block.header.height,
            round: 0,
            block_hash,
            signatures: vec![CommitSignature { validator: vote.validator, signature: vote.signature }],
        };
        commit.verify(&block.header, &self.validators).map_err(EngineError::BadCommit)?;
        self.store.commit_block(&block, &commit, &executed)?;
        Ok(Some(Produced { committed: executed.tx_ids, block, commit, left_out }))
    }
}
