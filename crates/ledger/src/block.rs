//! Block execution: the proposer's [`build_block`] and every validator's
//! [`validate_block`] run the same [`execute`] over the same rules, so a block
//! one honest node builds is a block every honest node accepts, and a block
//! carrying any invalid transaction (a transfer, say) is invalid as a whole.

use std::sync::Arc;

use keepsake_types::merkle::{self, LogAppend, MemoryLog};
use keepsake_types::{
    Block, BlockHash, DigestSet, Genesis, Hash32, Header, LogLeafRef, PublicKey, SignedTx, TxId,
    hash::{domain_hash, tag},
};

use crate::membership;
use crate::read_cache::ReadCache;
use crate::rules::{self, Encoded, VerifiedMemo, apply, check_stateless_encoded};
use crate::state::{Overlay, StateDelta, StateView, TxLocation};
use crate::{LedgerError, Result};

/// The summary of the last committed block that the next block builds on.
/// The store keeps it (as `meta/tip`) in the same atomic write as the block;
/// field order is that on-disk format (pinned by crates/store/tests/format.rs).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tip {
    /// Height (0 before block 1).
    pub height: u64,
    /// Header hash (the genesis hash before block 1).
    pub hash: BlockHash,
    /// Block time (the genesis time before block 1).
    pub time_ms: u64,
    /// Log size after the block.
    pub log_size: u64,
    /// Log root after the block.
    pub log_root: Hash32,
    /// State root after the block.
    pub state_root: Hash32,
}

impl Tip {
    /// The tip before block 1.
    pub fn genesis(genesis: &Genesis) -> Self {
        Tip {
            height: 0,
            hash: genesis.hash(),
            time_ms: genesis.genesis_time_ms,
            log_size: 0,
            log_root: merkle::empty_root(),
            state_root: genesis.initial_state_root(),
        }
    }

    /// The tip after `header`.
    pub fn from_header(header: &Header) -> Self {
        Tip {
            height: header.height,
            hash: header.hash(),
            time_ms: header.time_ms,
            log_size: header.log_size,
            log_root: header.log_root,
            state_root: header.state_root,
        }
    }
}

/// The result of executing a block's transactions on top of a tip.
#[derive(Debug)]
pub struct Executed {
    /// The state writes.
    pub delta: StateDelta,
    /// New perfect-subtree log nodes, `((level, index), hash)`.
    pub log_nodes: Vec<((u8, u64), Hash32)>,
    /// Log size after the block.
    pub log_size: u64,
    /// Log root after the block.
    pub log_root: Hash32,
    /// State root after the block.
    pub state_root: Hash32,
    /// Merkle root of the block's transaction ids.
    pub tx_root: Hash32,
    /// The ids of the block's transactions, in order.
    pub tx_ids: Vec<TxId>,
    /// Their [`crate::rules::signed_digest`]s, in order (what a verify-once
    /// memo keys them by, so it can forget them once the block is committed).
    pub digests: Vec<Hash32>,
}

/// `state_root = domain_hash("keepsake/state/v1", chain_id, prev_state_root || sha256(encode(delta)))`.
pub fn next_state_root(chain_id: &str, prev: &Hash32, delta: &StateDelta) -> Hash32 {
    let mut input = Vec::with_capacity(64);
    input.extend_from_slice(&prev.0);
    input.extend_from_slice(&delta.digest().0);
    domain_hash(tag::STATE, chain_id, &input)
}

/// RFC 9162 root over transaction ids (each 32-byte id is one leaf).
pub fn tx_root(ids: &[TxId]) -> Hash32 {
    let mut log = MemoryLog::new();
    for id in ids {
        log.push(&id.0);
    }
    log.root()
}

/// Whether `block`'s header counts its transactions, whose `ids` these are,
/// and its tx root is their root: the body check of [`CheckedBody`].
fn header_describes(block: &Block, ids: &[TxId]) -> bool {
    block.header.tx_count as usize == ids.len() && tx_root(ids) == block.header.tx_root
}

/// A block whose body matches its header: the header counts the
/// transactions (B6's count) and its tx root is the root over their ids
/// (B7). A validator checks this when a proposal or a synced block arrives:
/// the signed proposal covers the header only, so a relay could swap the
/// transactions of an honest proposal, and as the consensus core caches
/// verdicts by header hash, a tampered copy seen first would make it prevote
/// nil on an honest block. The check lets only the genuine body through.
///
/// It keeps each transaction's encoding and id, so that validating the same
/// block ([`validate_checked_memo`]) does not encode and hash them again.
#[derive(Debug)]
pub struct CheckedBody {
    block: Arc<Block>,
    chain_id: String,
    encoded: Vec<Encoded>,
}

impl CheckedBody {
    /// `Some` when `block`'s body matches its header on `chain_id`.
    pub fn check(chain_id: &str, block: &Arc<Block>) -> Option<Self> {
        let encoded: Vec<Encoded> = block.txs.iter().map(|tx| Encoded::with_id(tx, chain_id)).collect();
        let ids: Vec<TxId> = encoded.iter().map(|e| e.tx_id(chain_id)).collect();
        header_describes(block, &ids).then(|| CheckedBody {
            block: Arc::clone(block),
            chain_id: chain_id.to_string(),
            encoded,
        })
    }

    /// Whether `block`'s body matches its header on `chain_id`, the same
    /// check as [`CheckedBody::check`] without keeping anything (for a block
    /// that will not be validated from it: only the ids are hashed).
    pub fn matches(chain_id: &str, block: &Block) -> bool {
        let ids: Vec<TxId> = block.txs.iter().map(|tx| tx.id(chain_id)).collect();
        header_describes(block, &ids)
    }

    /// The block checked (the same allocation [`CheckedBody::check`] was given).
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }
}

/// What to do with an invalid transaction.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnInvalid {
    /// Validation: the whole block is invalid.
    RejectBlock,
    /// Building: leave the transaction out.
    Skip,
}

/// The outcome of [`execute_inner`].
struct Run {
    executed: Executed,
    /// Positions of the transactions kept.
    kept: Vec<usize>,
    /// Positions left out, with their rejection (only with [`OnInvalid::Skip`]).
    left_out: Vec<(usize, LedgerError)>,
}

/// Executes `txs` at `height`/`time_ms` on top of `tip`.
fn execute_inner<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    height: u64,
    time_ms: u64,
    txs: &[SignedTx],
    (on_invalid, memo, checked): (OnInvalid, &dyn VerifiedMemo, Option<&CheckedBody>),
) -> Result<Run> {
    let chain = genesis.chain_id.as_str();
    // A checked body's encodings and ids, when it is this block's on this chain.
    let checked = checked.filter(|c| c.chain_id == chain && std::ptr::eq(c.block.txs.as_slice(), txs));
    let fresh: Vec<Encoded>;
    let encoded: &[Encoded] = match checked {
        Some(c) => &c.encoded,
        None => {
            fresh = txs.iter().map(Encoded::of).collect();
            &fresh
        }
    };
    let memo = &BatchVerified::new(chain, txs, encoded, memo);
    // The issuer, licence, series and series life every mint reads, read once.
    let cached = ReadCache::new(view);
    let mut overlay = Overlay::new(&cached);
    let mut log = LogAppend::new(view, tip.log_size);
    let mut kept = Vec::with_capacity(txs.len());
    let mut left_out = Vec::new();
    let mut tx_ids = Vec::with_capacity(txs.len());
    let mut digests = Vec::with_capacity(txs.len());
    for (index, tx) in txs.iter().enumerate() {
        let location = TxLocation {
            height,
            index: u32::try_from(kept.len()).expect("block_txs_max is a u32"),
            leaf_index: log.size(),
        };
        let verdict = check_stateless_encoded(tx, &encoded[index], genesis, memo)
            .and_then(|s| apply(&mut overlay, genesis, tx, s.tx_id, location, time_ms).map(|()| s));
        match verdict {
            Ok(s) => {
                log.push_leaf_hash(LogLeafRef::hash_of_encoded(height, time_ms, encoded[index].bytes()))?;
                tx_ids.push(s.tx_id);
                digests.push(s.digest);
                kept.push(index);
            }
            // Faults of the node are never a verdict on the block.
            Err(e) if !e.is_rejection() => return Err(e),
            Err(e) => match on_invalid {
                OnInvalid::RejectBlock => {
                    return Err(LedgerError::InvalidTransaction {
                        index,
                        tx_id: tx.id(chain),
                        source: Box::new(e),
                    });
                }
                OnInvalid::Skip => left_out.push((index, e)),
            },
        }
    }
    let log_size = log.size();
    let log_root = log.root()?;
    let log_nodes = log.into_new_nodes();
    let delta = overlay.into_delta();
    let state_root = next_state_root(chain, &tip.state_root, &delta);
    // Only validation passes a checked body, and there any invalid
    // transaction failed the whole execution above: every transaction was
    // kept, so the ids are the body's, whose root the check computed.
    debug_assert!(checked.is_none() || on_invalid == OnInvalid::RejectBlock);
    let tx_root = match checked {
        Some(c) if tx_ids.len() == c.encoded.len() => c.block.header.tx_root,
        _ => tx_root(&tx_ids),
    };
    let executed = Executed { delta, log_nodes, log_size, log_root, state_root, tx_root, tx_ids, digests };
    Ok(Run { executed, kept, left_out })
}

/// The memo of one execution: T4 (every signature verifies) for all the
/// transactions the node's memo does not know, checked ahead in one batch
/// ([`rules::verify_encoded_many`]: the same verdict per transaction as
/// verifying it alone, at a fraction of the cost). A transaction that fails
/// is not in it, so the rules verify it again alone and name the bad
/// signature; nothing about the block's verdict changes.
struct BatchVerified {
    verified: DigestSet<Hash32>,
}

impl BatchVerified {
    fn new(chain_id: &str, txs: &[SignedTx], encoded: &[Encoded], memo: &dyn VerifiedMemo) -> Self {
        let mut verified = DigestSet::with_capacity_and_hasher(txs.len(), Default::default());
        let mut unknown: Vec<(&SignedTx, &Encoded)> = Vec::new();
        for (tx, e) in txs.iter().zip(encoded) {
            if memo.verified(&e.digest) {
                verified.insert(e.digest);
            } else {
                unknown.push((tx, e));
            }
        }
        if unknown.len() >= 2 {
            let verdicts = rules::verify_encoded_many(chain_id, &unknown);
            verified.extend(unknown.iter().zip(verdicts).filter(|(_, ok)| *ok).map(|((_, e), _)| e.digest));
        }
        Self { verified }
    }
}

impl VerifiedMemo for BatchVerified {
    fn verified(&self, digest: &Hash32) -> bool {
        self.verified.contains(digest)
    }
}

/// A proposal made by [`build_block`].
#[derive(Debug)]
pub struct Built {
    /// The block.
    pub block: Block,
    /// Its execution (what storing it writes).
    pub executed: Executed,
    /// Candidates left out, each with the rule it broke.
    pub left_out: Vec<(SignedTx, LedgerError)>,
}

/// Builds the next block from candidate transactions (in order), leaving out
/// invalid ones and stopping at `block_txs_max`.
pub fn build_block<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    proposer: PublicKey,
    time_ms: u64,
    candidates: Vec<SignedTx>,
) -> Result<Built> {
    build_block_memo(view, genesis, tip, proposer, time_ms, candidates, &())
}

/// [`build_block`] with a memo of transactions whose signatures this node
/// verified before (rules::VerifiedMemo); the block built is the same.
pub fn build_block_memo<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    proposer: PublicKey,
    time_ms: u64,
    mut candidates: Vec<SignedTx>,
    memo: &dyn VerifiedMemo,
) -> Result<Built> {
    candidates.truncate(genesis.params.block_txs_max as usize);
    let height = tip.height + 1;
    let time_ms = time_ms.max(tip.time_ms + 1);
    let Run { executed, kept, left_out } =
        execute_inner(view, genesis, tip, height, time_ms, &candidates, (OnInvalid::Skip, memo, None))?;
    let mut slots: Vec<Option<SignedTx>> = candidates.into_iter().map(Some).collect();
    let txs: Vec<SignedTx> =
        kept.iter().map(|&i| slots[i].take().expect("each position is kept at most once")).collect();
    let left_out = left_out
        .into_iter()
        .map(|(i, e)| (slots[i].take().expect("left out positions are not kept"), e))
        .collect();
    let header = Header {
        chain_id: genesis.chain_id.clone(),
        height,
        prev_hash: tip.hash,
        time_ms,
        proposer,
        tx_count: u32::try_from(txs.len()).expect("bounded by block_txs_max (u32)"),
        tx_root: executed.tx_root,
        log_size: executed.log_size,
        log_root: executed.log_root,
        validators_hash: membership::validator_set_at(view, genesis, height)?.hash(&genesis.chain_id),
        state_root: executed.state_root,
    };
    Ok(Built { block: Block { header, txs }, executed, left_out })
}

/// Validates `block` as the successor of `tip` (rules B1-B11) and returns its
/// execution, ready to be stored. Any invalid transaction invalidates the block.
pub fn validate_block<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    block: &Block,
) -> Result<Executed> {
    validate_block_memo(view, genesis, tip, block, &())
}

/// [`validate_block`] with a memo of transactions whose signatures this node
/// verified before (rules::VerifiedMemo); the verdict is the same.
pub fn validate_block_memo<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    block: &Block,
    memo: &dyn VerifiedMemo,
) -> Result<Executed> {
    validate_inner(view, genesis, tip, block, memo, None)
}

/// [`validate_block_memo`] of a block whose body was checked: the
/// encodings and ids the check computed are used, not computed again; the
/// verdict and the execution are the same.
pub fn validate_checked_memo<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    body: &CheckedBody,
    memo: &dyn VerifiedMemo,
) -> Result<Executed> {
    validate_inner(view, genesis, tip, &body.block, memo, Some(body))
}

fn validate_inner<V: StateView + ?Sized>(
    view: &V,
    genesis: &Genesis,
    tip: &Tip,
    block: &Block,
    memo: &dyn VerifiedMemo,
    checked: Option<&CheckedBody>,
) -> Result<Executed> {
    let h = &block.header;
    // B1: the block is for this chain.
    if h.chain_id != genesis.chain_id {
        return Err(LedgerError::WrongChain {
            expected: genesis.chain_id.to_string(),
            got: h.chain_id.to_string(),
        });
    }
    // B2: height = tip height + 1.
    if h.height != tip.height + 1 {
        return Err(LedgerError::UnexpectedHeight { expected: tip.height + 1, got: h.height });
    }
    // B3: prev_hash = hash of the tip (the genesis hash for block 1).
    if h.prev_hash != tip.hash {
        return Err(LedgerError::PrevHashMismatch { expected: tip.hash, got: h.prev_hash });
    }
    // B4: time strictly increases.
    if h.time_ms <= tip.time_ms {
        return Err(LedgerError::TimeNotIncreasing { previous: tip.time_ms, got: h.time_ms });
    }
    // B5: the proposer is a validator of the set governing this height.
    let validators = membership::validator_set_at(view, genesis, h.height)?;
    if validators.get(&h.proposer).is_none() {
        return Err(LedgerError::UnknownProposer { proposer: h.proposer });
    }
    // B6: tx_count is the number of transactions, at most block_txs_max.
    let max = genesis.params.block_txs_max;
    if block.txs.len() != h.tx_count as usize || block.txs.len() > max as usize {
        return Err(LedgerError::TxCountMismatch { declared: h.tx_count, got: block.txs.len(), max });
    }
    // B10: validators_hash is the hash of the validator set governing this height.
    let vs_hash = validators.hash(&genesis.chain_id);
    if h.validators_hash != vs_hash {
        return Err(LedgerError::ValidatorSetMismatch { expected: vs_hash, got: h.validators_hash });
    }
    // B8: every transaction valid, in order.
    let Run { executed, .. } = execute_inner(
        view,
        genesis,
        tip,
        h.height,
        h.time_ms,
        &block.txs,
        (OnInvalid::RejectBlock, memo, checked),
    )?;
    // B7: tx_root over the transaction ids.
    if h.tx_root != executed.tx_root {
        return Err(LedgerError::TxRootMismatch { expected: executed.tx_root, got: h.tx_root });
    }
    // B9: log size and root after appending the block's transactions.
    if h.log_size != executed.log_size || h.log_root != executed.log_root {
        return Err(LedgerError::LogMismatch {
            expected_size: executed.log_size,
            expected_root: executed.log_root,
            got_size: h.log_size,
            got_root: h.log_root,
        });
    }
    // B11: the state root after the block.
    if h.state_root != executed.state_root {
        return Err(LedgerError::StateRootMismatch { expected: executed.state_root, got: h.state_root });
    }
    Ok(executed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complete example of docs/protocol.md §5.3.
    #[test]
    fn tx_root_matches_the_protocol_example() {
        let ids = [TxId([0x11; 32]), TxId([0x22; 32]), TxId([0x33; 32])];
        assert_eq!(
            tx_root(&ids).to_string(),
            "9bee4401962e94b921336a7910a5a9718836ffcbc545dde0a3f34d858beb5752"
        );
        assert_eq!(
            tx_root(&[]).to_string(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
