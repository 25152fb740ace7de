//! How the ledger enters the engine: [`BlockRules`], the two block-level
//! functions the driver needs. Production uses [`LedgerRules`] (the ledger's
//! own `build_block` / `validate_block`); the simulator's deliberately broken
//! engines plug in a variant to prove that its checks catch the consequence.

use keepsake_ledger::rules::VerifiedMemo;
use keepsake_ledger::{Built, CheckedBody, Executed, LedgerError, StateView, Tip};
use keepsake_types::{Block, Genesis, PublicKey, SignedTx};

/// Building and validating blocks over committed state.
pub trait BlockRules {
    /// Builds the successor of `tip` from `candidates`, leaving out those that are invalid.
    #[allow(clippy::too_many_arguments)]
    fn build<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        proposer: PublicKey,
        time_ms: u64,
        candidates: Vec<SignedTx>,
        memo: &dyn VerifiedMemo,
    ) -> Result<Built, LedgerError>;

    /// Validates `block` as the successor of `tip` (every block and transaction rule).
    fn validate<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        block: &Block,
        memo: &dyn VerifiedMemo,
    ) -> Result<Executed, LedgerError>;

    /// [`BlockRules::validate`] of a block whose body was checked when it
    /// arrived: the same verdict and execution, without computing the
    /// check's encodings and ids again where the rules know how.
    fn validate_checked<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        body: &CheckedBody,
        memo: &dyn VerifiedMemo,
    ) -> Result<Executed, LedgerError> {
        self.validate(view, genesis, tip, body.block(), memo)
    }
}

/// The ledger's rules, B1-B11 and T1-T32 (`keepsake_ledger::block`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LedgerRules;

impl BlockRules for LedgerRules {
    fn build<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        proposer: PublicKey,
        time_ms: u64,
        candidates: Vec<SignedTx>,
        memo: &dyn VerifiedMemo,
    ) -> Result<Built, LedgerError> {
        keepsake_ledger::build_block_memo(view, genesis, tip, proposer, time_ms, candidates, memo)
    }

    fn validate<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        block: &Block,
        memo: &dyn VerifiedMemo,
    ) -> Result<Executed, LedgerError> {
        keepsake_ledger::validate_block_memo(view, genesis, tip, block, memo)
    }

    fn validate_checked<V: StateView + ?Sized>(
        &self,
        view: &V,
        genesis: &Genesis,
        tip: &Tip,
        body: &CheckedBody,
        memo: &dyn VerifiedMemo,
    ) -> Result<Executed, LedgerError> {
        keepsake_ledger::validate_checked_memo(view, genesis, tip, body, memo)
    }
}
