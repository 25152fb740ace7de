//! Block sync on the node's side: the answers to the engine's
//! `RequestBlocks`, fetched one answer ahead and with their transaction
//! signatures verified on every core before the engine applies them.
//!
//! The engine (`keepsake_engine::Engine::on_synced`) stays the one place
//! where a synced block is accepted: it checks chain and height, the commit
//! (`Commit::verify`: a quorum of valid precommit signatures), the body
//! against the signed header, then every ledger rule (B1-B11, T1-T24) through
//! `validate_block` with the node's verify-once memo. This module only does
//! work ahead of it, and nothing it does can make a block pass:
//!
//! - **pre-verification** ([`preverify`]): the transactions of an answer are
//!   decoded and their signatures checked exactly as rule T4 does
//!   (`SignedTx::verify_signatures`, strict), spread over the cores; each
//!   transaction that passes has its signed digest (SHA-256 of its whole
//!   canonical encoding, signatures included) put in the memo
//!   ([`VerifiedSet`]), so the engine's T4 finds these exact bytes verified.
//!   A transaction that fails is not remembered, so the engine verifies it
//!   again and refuses the block. It stays within the memo's
//!   [`VerifiedSet::room`], so nothing verified is forgotten before use (the
//!   rest is verified by the engine itself);
//! - **fetching ahead** ([`Prefetch`]): when an answer for heights
//!   `h..h+n` arrives from a peer, the request for `h+n..` goes to the same
//!   peer at once, so the next answer is on its way (and pre-verified) while
//!   the engine applies this one. The engine still asks for it: the
//!   executor answers its `RequestBlocks` with the prefetched answer only
//!   when it is for the same first height and a peer it may ask; any other
//!   request drops it. At most one answer is held ahead.

use std::sync::Arc;

use keepsake_engine::{VerifiedSet, message_bytes_max};
use keepsake_ledger::rules::signed_digest;
use keepsake_network::NetworkHandle;
use keepsake_types::wire::SyncItem;
use keepsake_types::{Genesis, PublicKey, SignedTx, encoding};
use tokio::task::JoinHandle;

/// Most transactions of one sync answer pre-verified (a full answer of
/// `SYNC_SERVE_BYTES_MAX`, 8 MiB, plus one block holds about 50,000 mints).
/// The memo keeps room for two such answers ([`memo_capacity`]): the one the
/// engine applies and the one fetched ahead.
pub const PREVERIFY_TXS_MAX: usize = 65_536;

/// The verify-once memo's capacity for a mempool of `mempool_txs`: twice the
/// pool (admitted transactions stay known until their block is validated),
/// plus, in each of the memo's two generations, two sync answers.
pub fn memo_capacity(mempool_txs: usize) -> usize {
    mempool_txs.saturating_add(2 * PREVERIFY_TXS_MAX).saturating_mul(2)
}

/// What [`preverify`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preverified {
    /// Transactions whose signatures verified (now remembered).
    pub verified: usize,
    /// Transactions whose signatures did not verify (not remembered: the engine refuses their block).
    pub failed: usize,
    /// Transactions left to the engine (no room in the memo, or an undecodable item).
    pub skipped: usize,
}

/// Verifies the transaction signatures (T4) of encoded sync items on
/// `threads` threads and remembers the signed digest of each one that passes
/// in `memo`, within its room and at most [`PREVERIFY_TXS_MAX`]. Items are
/// taken in order (the first blocks are applied first); an undecodable one
/// ends the walk (the engine refuses it and everything after it).
pub fn preverify(items: &[Vec<u8>], genesis: &Genesis, memo: &VerifiedSet, threads: usize) -> Preverified {
    let max = message_bytes_max(genesis);
    let mut decoded = Vec::with_capacity(items.len());
    let mut undecodable = false;
    for bytes in items {
        match encoding::decode::<SyncItem>(bytes, max, "sync item") {
            Ok(item) => decoded.push(item),
            Err(_) => {
                undecodable = true;
                break;
            }
        }
    }
    let txs: Vec<&SignedTx> = decoded.iter().flat_map(|i| &i.block.txs).collect();
    let take = txs.len().min(memo.room()).min(PREVERIFY_TXS_MAX);
    let (work, left) = txs.split_at(take);
    let chain = genesis.chain_id.as_str();
    let threads = threads.clamp(1, 64);
    let chunk = work.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<_>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = work
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut passed = Vec::with_capacity(part.len());
                    let mut failed = 0usize;
                    for tx in part {
                        if tx.verify_signatures(chain).is_ok() {
                            passed.push(signed_digest(&encoding::encode(*tx)));
                        } else {
                            failed += 1;
                        }
                    }
                    (passed, failed)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a pre-verification thread panicked")).collect()
    });
    let mut out = Preverified { skipped: left.len(), ..Preverified::default() };
    for (passed, failed) in results {
        out.verified += passed.len();
        out.failed += failed;
        for digest in passed {
            memo.remember(digest);
        }
    }
    if undecodable {
        tracing::debug!("an undecodable sync item: pre-verification stopped there");
    }
    out
}

/// Threads for pre-verification: every core.
pub fn preverify_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Asks `peer` for blocks from `from_height`, then pre-verifies the answer
/// off the async workers. An empty answer on any failure (as the engine
/// expects: it asks again later).
pub async fn fetch(
    net: &NetworkHandle,
    genesis: &Arc<Genesis>,
    memo: &Arc<VerifiedSet>,
    peer: PublicKey,
    from_height: u64,
    max_blocks: u32,
) -> Vec<Vec<u8>> {
    let items = match net.request_blocks(peer, from_height, max_blocks).await {
        Ok(items) => items,
        Err(e) => {
            tracing::debug!(peer = %peer, error = %e, "block sync request failed");
            return Vec::new();
        }
    };
    preverify_off_workers(items, genesis, memo).await
}

/// [`preverify`] on the blocking pool; returns the items unchanged.
pub async fn preverify_off_workers(
    items: Vec<Vec<u8>>,
    genesis: &Arc<Genesis>,
    memo: &Arc<VerifiedSet>,
) -> Vec<Vec<u8>> {
    if items.is_empty() {
        return items;
    }
    let (genesis, memo) = (genesis.clone(), memo.clone());
    let work = tokio::task::spawn_blocking(move || {
        let done = preverify(&items, &genesis, &memo, preverify_threads());
        tracing::debug!(verified = done.verified, failed = done.failed, skipped = done.skipped, "pre-verified a sync answer");
        items
    });
    // The items come back with the task; a panic there (a bug) loses them:
    // the engine gets an empty answer and asks again.
    work.await.unwrap_or_default()
}

/// A sync answer fetched ahead: blocks from `from_height` on, from `peer`.
pub struct Prefetch {
    /// The peer asked.
    pub peer: PublicKey,
    /// The first height asked for.
    pub from_height: u64,
    /// The fetch (and pre-verification) under way.
    pub answer: JoinHandle<Vec<Vec<u8>>>,
}

impl Prefetch {
    /// Starts fetching `from_height..` from `peer` (pre-verified when it arrives).
    pub fn start(
        net: NetworkHandle,
        genesis: Arc<Genesis>,
        memo: Arc<VerifiedSet>,
        peer: PublicKey,
        from_height: u64,
        max_blocks: u32,
    ) -> Self {
        let answer =
            tokio::spawn(async move { fetch(&net, &genesis, &memo, peer, from_height, max_blocks).await });
        Prefetch { peer, from_height, answer }
    }

    /// Whether this prefetch answers a request for `from_height` to `peer`
    /// (any peer when `None`) avoiding the peers in `avoid`.
    pub fn answers(&self, peer: Option<PublicKey>, avoid: &[PublicKey], from_height: u64) -> bool {
        self.from_height == from_height
            && peer.is_none_or(|p| p == self.peer)
            && !avoid.contains(&self.peer)
    }

    /// Stops the fetch (its answer is not wanted).
    pub fn cancel(self) {
        self.answer.abort();
    }
}
