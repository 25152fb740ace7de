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
//!   decoded and their signatures checked exactly as rule T4 does (one
//!   batch per core, `rules::verify_encoded_many`, with the same verdict
//!   per transaction as `SignedTx::verify_signatures`); each
//!   transaction that passes has its signed digest (SHA-256 of its whole
//!   canonical encoding, signatures included) put in the memo
//!   ([`VerifiedSet`]), so the engine's T4 finds these exact bytes verified.
//!   A transaction that fails is not remembered, so the engine verifies it
//!   again and refuses the block. It stays within the memo's
//!   [`VerifiedSet::room`], so nothing verified is forgotten before use (the
//!   rest is verified by the engine itself);
//! - **a stream of answers** ([`SyncStream`]): a task asks one peer for
//!   blocks, and when an answer for heights `h..h+n` arrives it asks for
//!   `h+n..` at once (one request in flight), cuts the answer into chunks of
//!   whole blocks of about [`CHUNK_TXS`] transactions, pre-verifies them in
//!   order and queues them (at most [`CHUNK_QUEUE`] waiting). So the engine
//!   applies one chunk while the next is verified on the other cores and the
//!   next answer is on its way. The engine still asks for every block: the
//!   executor answers its `RequestBlocks` from the stream only when the
//!   stream's next chunk starts at the height asked for and comes from a peer
//!   it may ask; any other request drops the stream. An empty answer (the
//!   peer has nothing more, or failed) ends it.

use std::sync::Arc;

use keepsake_engine::{VerifiedSet, message_bytes_max};
use keepsake_ledger::rules::{Encoded, verify_encoded_many};
use keepsake_network::NetworkHandle;
use keepsake_types::wire::SyncItem;
use keepsake_types::{Genesis, PublicKey, SignedTx, encoding};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A chunk handed to the engine is whole blocks of at least this many
/// transactions (or the rest of the answer): small enough that the engine
/// starts soon after an answer arrives, large enough that an engine call and
/// a fan-out to the cores are cheap beside it.
pub const CHUNK_TXS: usize = 4_096;
/// Pre-verified chunks waiting for the engine, at most.
pub const CHUNK_QUEUE: usize = 2;
/// Most transactions of one chunk pre-verified (a chunk is one block of at
/// most `block_txs_max`, 10,000 by default, or up to [`CHUNK_TXS`] plus one
/// block); the rest of a larger one is verified by the engine itself.
pub const PREVERIFY_TXS_MAX: usize = 16_384;

/// The verify-once memo's capacity for a mempool of `mempool_txs`: twice the
/// pool (admitted transactions stay known until their block is validated),
/// plus, in each of the memo's two generations, room for the chunks of a
/// sync stream in flight: the one applied, the queued ones and the one
/// being verified.
pub fn memo_capacity(mempool_txs: usize) -> usize {
    mempool_txs.saturating_add((CHUNK_QUEUE + 2) * PREVERIFY_TXS_MAX).saturating_mul(2)
}

/// What [`preverify`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Preverified {
    /// Transactions whose signatures verified (now remembered).
    pub verified: usize,
    /// Transactions whose signatures did not verify, or that a rule refuses before T4 (not
    /// remembered: the engine refuses their block).
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
                    // One batch per thread: the same verdicts as one by one.
                    let encoded: Vec<Encoded> = part.iter().map(|tx| Encoded::of(tx)).collect();
                    let pairs: Vec<(&SignedTx, &Encoded)> = part.iter().copied().zip(&encoded).collect();
                    let verdicts = verify_encoded_many(chain, &pairs);
                    let mut passed = Vec::with_capacity(part.len());
                    let mut failed = 0usize;
                    for (e, ok) in encoded.iter().zip(verdicts) {
                        if ok {
                            passed.push(e.digest);
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
        tracing::debug!(
            verified = done.verified,
            failed = done.failed,
            skipped = done.skipped,
            "pre-verified sync blocks"
        );
        items
    });
    // The items come back with the task; a panic there (a bug) loses them:
    // the engine gets an empty answer and asks again.
    work.await.unwrap_or_default()
}

/// Cuts an answer into chunks of whole blocks of at least [`CHUNK_TXS`]
/// transactions each (the last one may have fewer). A block's transaction
/// count is read from its header without decoding the block; an item whose
/// header cannot be read ends a chunk (the engine refuses it anyway).
pub fn chunks(items: Vec<Vec<u8>>, genesis: &Genesis) -> Vec<Vec<Vec<u8>>> {
    let max = message_bytes_max(genesis);
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    let mut txs = 0usize;
    for item in items {
        let count =
            encoding::decode::<SyncItem>(&item, max, "sync item").map_or(CHUNK_TXS, |i| i.block.txs.len());
        chunk.push(item);
        txs = txs.saturating_add(count);
        if txs >= CHUNK_TXS {
            out.push(std::mem::take(&mut chunk));
            txs = 0;
        }
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    out
}

/// A stream of pre-verified sync chunks from one peer (see the module docs).
/// Dropping it stops its task.
pub struct SyncStream {
    /// The peer asked.
    pub peer: PublicKey,
    /// The first height of the next chunk.
    pub next_height: u64,
    chunks: mpsc::Receiver<Vec<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Drop for SyncStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SyncStream {
    /// Starts asking `peer` for blocks from `from_height` on, `max_blocks` an answer.
    pub fn start(
        net: NetworkHandle,
        genesis: Arc<Genesis>,
        memo: Arc<VerifiedSet>,
        peer: PublicKey,
        from_height: u64,
        max_blocks: u32,
    ) -> Self {
        let (tx, rx) = mpsc::channel(CHUNK_QUEUE);
        let task = tokio::spawn(stream(net, genesis, memo, peer, from_height, max_blocks, tx));
        SyncStream { peer, next_height: from_height, chunks: rx, task }
    }

    /// Whether the next chunk answers a request for `from_height` to `peer`
    /// (any peer when `None`) avoiding the peers in `avoid`.
    pub fn answers(&self, peer: Option<PublicKey>, avoid: &[PublicKey], from_height: u64) -> bool {
        self.next_height == from_height && peer.is_none_or(|p| p == self.peer) && !avoid.contains(&self.peer)
    }

    /// The next chunk (empty when the stream has ended), and the stream if it goes on.
    pub async fn next(mut self) -> (Vec<Vec<u8>>, Option<SyncStream>) {
        let chunk = self.chunks.recv().await.unwrap_or_default();
        if chunk.is_empty() {
            return (chunk, None);
        }
        self.next_height = self.next_height.saturating_add(chunk.len() as u64);
        (chunk, Some(self))
    }
}

async fn stream(
    net: NetworkHandle,
    genesis: Arc<Genesis>,
    memo: Arc<VerifiedSet>,
    peer: PublicKey,
    mut from_height: u64,
    max_blocks: u32,
    out: mpsc::Sender<Vec<Vec<u8>>>,
) {
    let request = |net: NetworkHandle, from: u64| {
        tokio::spawn(async move {
            net.request_blocks(peer, from, max_blocks).await.unwrap_or_else(|e| {
                tracing::debug!(peer = %peer, error = %e, "block sync request failed");
                Vec::new()
            })
        })
    };
    let mut in_flight = request(net.clone(), from_height);
    loop {
        let items = (&mut in_flight).await.unwrap_or_default();
        if items.is_empty() {
            // The end (nothing more, or a failure): the engine hears it and asks again later.
            let _ = out.send(Vec::new()).await;
            return;
        }
        from_height = from_height.saturating_add(items.len() as u64);
        // The next answer is asked for now, while this one is verified and applied.
        in_flight = request(net.clone(), from_height);
        let (g, m) = (genesis.clone(), memo.clone());
        let cut = tokio::task::spawn_blocking(move || chunks(items, &g)).await.unwrap_or_default();
        for chunk in cut {
            let chunk = preverify_off_workers(chunk, &genesis, &m).await;
            if out.send(chunk).await.is_err() {
                in_flight.abort();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_consensus::ConsensusConfig;
    use keepsake_engine::{ClockBounds, Effect, Engine, EngineConfig, Event, LedgerRules, MemoryChain};
    use keepsake_ledger::rules::VerifiedMemo;
    use keepsake_ledger::testkit::{TestChain, TestNet};
    use keepsake_types::Keypair;

    const MINTS: u32 = 24;

    /// A 4-validator chain: setup, a series, then a block of mints; encoded as sync items.
    fn chain() -> TestChain {
        let mut chain = TestChain::new(TestNet::new(4));
        let setup = chain.net.setup_txs();
        chain.push(setup);
        let series = chain.net.create_series(&chain.net.issuer, &chain.net.reviewer, "apsaras", 100);
        chain.push(vec![series]);
        let id = chain.net.series_id(&chain.net.issuer, "apsaras");
        let mints = (1..=MINTS).map(|e| chain.net.mint(&chain.net.issuer, id, e, e)).collect();
        chain.push(mints);
        chain
    }

    fn items(chain: &TestChain) -> Vec<SyncItem> {
        chain
            .blocks
            .iter()
            .map(|(block, commit)| SyncItem { block: block.clone(), commit: commit.clone() })
            .collect()
    }

    fn encode_all(items: &[SyncItem]) -> Vec<Vec<u8>> {
        items.iter().map(encoding::encode).collect()
    }

    fn digest(tx: &SignedTx) -> keepsake_types::Hash32 {
        keepsake_ledger::rules::signed_digest(&encoding::encode(tx))
    }

    fn follower(chain: &TestChain, memo: Arc<VerifiedSet>) -> (Engine<LedgerRules>, MemoryChain) {
        let config = EngineConfig {
            consensus: ConsensusConfig::default(),
            empty_block_wait_ms: 0,
            batch_wait_ms: 0,
            tick_ms: 100,
            sync_probe_ms: 2_000,
            sync_retry_ms: 0,
            sync_batch_blocks: 16,
            clock: ClockBounds { precision_ms: 500, message_delay_ms: 3_000 },
        };
        let genesis = Arc::new(chain.net.genesis.clone());
        let observer = Keypair::from_seed([42; 32]);
        let mut engine = Engine::new(config, genesis, observer, LedgerRules, memo, None);
        let mut store = MemoryChain::new(&chain.net.genesis);
        engine.start(&mut store, Vec::new()).unwrap();
        (engine, store)
    }

    fn reported(effects: &[Effect]) -> bool {
        effects.iter().any(|e| matches!(e, Effect::ReportPeer { .. }))
    }

    #[test]
    fn pre_verified_transactions_are_memo_hits_for_the_engine() {
        let chain = chain();
        let all = items(&chain);
        let txs: usize = all.iter().map(|i| i.block.txs.len()).sum();
        let memo = Arc::new(VerifiedSet::new(10_000));
        let done = preverify(&encode_all(&all), &chain.net.genesis, &memo, 2);
        assert_eq!(done, Preverified { verified: txs, failed: 0, skipped: 0 });
        let (mut engine, mut store) = follower(&chain, memo.clone());
        let now = chain.tip.time_ms + 1_000;
        let from = chain.net.validators[0].public();
        let effects =
            engine.handle(&mut store, now, Event::Synced { from, items: encode_all(&all) }).unwrap();
        assert!(!reported(&effects));
        assert_eq!(store.height(), 3);
        assert_eq!(engine.marks().memo_hits, txs as u64, "every T4 check found its digest");
        assert!(memo.is_empty(), "committed transactions are forgotten");
    }

    #[test]
    fn a_forged_transaction_signature_is_never_remembered_and_its_block_is_refused() {
        let chain = chain();
        let mut all = items(&chain);
        // One mint's signature forged. Transaction ids cover bodies only, so the header,
        // its tx_root and the commit still match: only T4 can catch it.
        let forged = &mut all[2].block.txs[7];
        forged.signatures[0].signature.0[5] ^= 0x20;
        let forged_digest = digest(forged);
        let honest_digest = digest(&all[2].block.txs[6]);
        let memo = Arc::new(VerifiedSet::new(10_000));
        let done = preverify(&encode_all(&all), &chain.net.genesis, &memo, 2);
        assert_eq!(done.failed, 1);
        assert_eq!(done.verified, 2 + 1 + MINTS as usize - 1);
        assert!(!memo.verified(&forged_digest), "a bad signature is never marked verified");
        assert!(memo.verified(&honest_digest));
        // The engine applies blocks 1 and 2, verifies the forged mint itself and refuses block 3.
        let (mut engine, mut store) = follower(&chain, memo);
        let now = chain.tip.time_ms + 1_000;
        let from = chain.net.validators[0].public();
        let effects =
            engine.handle(&mut store, now, Event::Synced { from, items: encode_all(&all) }).unwrap();
        assert_eq!(store.height(), 2, "the block with the forged signature is not applied");
        assert!(reported(&effects), "the peer is reported: {effects:#?}");
        // The honest block 3 is applied afterwards.
        let honest = encode_all(&items(&chain)[2..]);
        let effects = engine.handle(&mut store, now, Event::Synced { from, items: honest }).unwrap();
        assert!(!reported(&effects));
        assert_eq!(store.height(), 3);
    }

    #[test]
    fn a_forged_precommit_is_refused_after_pre_verification() {
        let chain = chain();
        let mut all = items(&chain);
        all[1].commit.signatures[0].signature.0[9] ^= 1;
        let memo = Arc::new(VerifiedSet::new(10_000));
        let done = preverify(&encode_all(&all), &chain.net.genesis, &memo, 2);
        assert_eq!(done.failed, 0, "pre-verification checks transactions, not commits");
        let (mut engine, mut store) = follower(&chain, memo);
        let now = chain.tip.time_ms + 1_000;
        let from = chain.net.validators[0].public();
        let effects =
            engine.handle(&mut store, now, Event::Synced { from, items: encode_all(&all) }).unwrap();
        assert_eq!(store.height(), 1, "block 2's commit is refused whatever was pre-verified");
        assert!(reported(&effects));
        assert_eq!(engine.marks().sync_refused_commit, 1);
    }

    #[test]
    fn pre_verification_stays_within_the_memo_room_and_stops_at_garbage() {
        let chain = chain();
        let all = items(&chain);
        let txs: usize = all.iter().map(|i| i.block.txs.len()).sum();
        // A memo of 20 keeps generations of 10: ten are verified, the rest left to the engine.
        let memo = VerifiedSet::new(20);
        let done = preverify(&encode_all(&all), &chain.net.genesis, &memo, 3);
        assert_eq!(done, Preverified { verified: 10, failed: 0, skipped: txs - 10 });
        assert_eq!(memo.len(), 10, "nothing remembered was dropped");
        let first: Vec<&SignedTx> = all.iter().flat_map(|i| &i.block.txs).take(10).collect();
        assert!(first.iter().all(|tx| memo.verified(&digest(tx))), "the first blocks' transactions first");
        // An undecodable item ends the walk: only what is before it is verified.
        let memo = VerifiedSet::new(10_000);
        let mut encoded = encode_all(&all[..1]);
        encoded.push(vec![7; 40]);
        encoded.extend(encode_all(&all[1..]));
        let done = preverify(&encoded, &chain.net.genesis, &memo, 2);
        assert_eq!(done.verified, 2);
    }

    #[test]
    fn a_stream_answers_only_the_request_its_next_chunk_is_for() {
        let (a, b) = (Keypair::from_seed([1; 32]).public(), Keypair::from_seed([2; 32]).public());
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _guard = rt.enter();
        let (tx, chunks) = mpsc::channel(1);
        let s = SyncStream { peer: a, next_height: 10, chunks, task: tokio::spawn(async {}) };
        assert!(s.answers(None, &[], 10));
        assert!(s.answers(Some(a), &[b], 10));
        assert!(!s.answers(Some(a), &[], 11), "another first height");
        assert!(!s.answers(Some(b), &[], 10), "another peer asked for");
        assert!(!s.answers(None, &[a], 10), "a peer whose answers were refused");
        // Each chunk moves the next height by its blocks; an empty one ends the stream.
        tx.try_send(vec![vec![1], vec![2], vec![3]]).unwrap();
        let (chunk, s) = rt.block_on(s.next());
        assert_eq!(chunk.len(), 3);
        let s = s.expect("goes on");
        assert_eq!(s.next_height, 13);
        tx.try_send(Vec::new()).unwrap();
        let (chunk, s) = rt.block_on(s.next());
        assert!(chunk.is_empty() && s.is_none());
        assert!(memo_capacity(50_000) >= 2 * (50_000 + 4 * PREVERIFY_TXS_MAX));
    }

    #[test]
    fn answers_are_cut_into_chunks_of_whole_blocks() {
        let mut chain = TestChain::new(TestNet::new(1));
        let setup = chain.net.setup_txs();
        chain.push(setup);
        let series = chain.net.create_series(&chain.net.issuer, &chain.net.reviewer, "s", 10_000);
        chain.push(vec![series]);
        let id = chain.net.series_id(&chain.net.issuer, "s");
        for b in 0..3u32 {
            let mints =
                (1..=2_000).map(|e| chain.net.mint(&chain.net.issuer, id, b * 2_000 + e, e)).collect();
            chain.push(mints);
        }
        chain.push(Vec::new());
        let encoded = encode_all(&items(&chain));
        let cut = chunks(encoded.clone(), &chain.net.genesis);
        // Blocks of 2, 1, 2,000, 2,000, 2,000 and 0 transactions: the first five reach 4,096.
        let sizes: Vec<usize> = cut.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![5, 1]);
        assert_eq!(cut.concat(), encoded, "nothing lost or reordered");
    }
}
