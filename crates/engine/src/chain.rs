//! How chain storage enters the engine: the [`ChainStore`] trait, implemented
//! by the node over the sled store and by [`MemoryChain`] for the simulator
//! and tests.
//!
//! The engine reads committed state through [`ChainStore::state`] (to build
//! and validate blocks) and writes a decided block through
//! [`ChainStore::commit_block`]. That write is the one side effect the engine
//! performs *through* a trait instead of returning it as an effect: the next
//! height's proposals are validated against the state it produces, inside the
//! same call. Its durability is the store's business: sled's `flush` is not an
//! fsync, so a power loss may take the last blocks away; the engine never
//! needs them back (the WAL and the sign-state keep it safe, peers re-sync the
//! blocks), and the simulator's store loses them in its power-loss fault.

use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::{Executed, StateView, Tip};
use keepsake_types::wire::SyncItem;
use keepsake_types::{Block, Commit, Genesis};

use crate::error::StoreFault;

/// Committed blocks, their commits and the state they produce.
pub trait ChainStore {
    /// The committed state's reader.
    type State: StateView + ?Sized;
    /// Committed state, as of [`ChainStore::tip`].
    fn state(&self) -> &Self::State;
    /// The last committed block's summary (the genesis tip before block 1).
    fn tip(&self) -> Result<Tip, StoreFault>;
    /// Stores a decided (or synced) block with its commit and the state changes of its
    /// execution, atomically: all of it or nothing.
    fn commit_block(&mut self, block: &Block, commit: &Commit, executed: &Executed)
    -> Result<(), StoreFault>;
    /// The block at `height` with its commit, if stored (for serving block sync).
    fn sync_item(&self, height: u64) -> Result<Option<SyncItem>, StoreFault>;
}

/// An in-memory chain: [`MemoryState`] plus the blocks. Commits apply at once; a
/// simulated disk decides separately what of it survives a power loss.
#[derive(Debug)]
pub struct MemoryChain {
    state: MemoryState,
    tip: Tip,
    blocks: Vec<SyncItem>,
}

impl MemoryChain {
    /// The empty chain of `genesis`.
    pub fn new(genesis: &Genesis) -> Self {
        MemoryChain { state: MemoryState::new(), tip: Tip::genesis(genesis), blocks: Vec::new() }
    }

    /// Committed blocks, `blocks()[h - 1]` is height `h`.
    pub fn blocks(&self) -> &[SyncItem] {
        &self.blocks
    }

    /// The committed height.
    pub fn height(&self) -> u64 {
        self.tip.height
    }
}

impl ChainStore for MemoryChain {
    type State = MemoryState;

    fn state(&self) -> &MemoryState {
        &self.state
    }

    fn tip(&self) -> Result<Tip, StoreFault> {
        Ok(self.tip.clone())
    }

    fn commit_block(
        &mut self,
        block: &Block,
        commit: &Commit,
        executed: &Executed,
    ) -> Result<(), StoreFault> {
        if block.header.height != self.tip.height + 1 {
            return Err(StoreFault(format!(
                "block {} does not follow the tip {}",
                block.header.height, self.tip.height
            )));
        }
        self.state.commit(executed).map_err(|e| StoreFault(e.to_string()))?;
        self.tip = Tip::from_header(&block.header);
        self.blocks.push(SyncItem { block: block.clone(), commit: commit.clone() });
        Ok(())
    }

    fn sync_item(&self, height: u64) -> Result<Option<SyncItem>, StoreFault> {
        let Some(index) = height.checked_sub(1).and_then(|i| usize::try_from(i).ok()) else {
            return Ok(None);
        };
        Ok(self.blocks.get(index).cloned())
    }
}
