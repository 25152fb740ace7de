//! `keepsake-bench stages`: what one validator spends on each mint of a
//! drop, stage by stage, on one thread.
//!
//! The drop benchmark measures the whole cluster, and on a shared 2-core
//! machine its run-to-run spread (about ±10 %) hides a change worth a few
//! per cent. This one runs the validator's own code in-process, with a real
//! sled store (a temporary one) and real signatures, and times each stage a
//! mint goes through on a validator that did not propose the block:
//!
//! 1. **gossip admission**: the mints arrive in gossip batches of
//!    [`GOSSIP_BATCH`] (`Admission::admit_gossiped_batch`: decoding, the
//!    batch signature check, the stateless and stateful rules, the pool);
//! 2. **block decode**: the proposed block, from its encoding;
//! 3. **body check**: `CheckedBody::check` (the ids and the tx root);
//! 4. **validation**: `validate_checked_memo`, the signatures known from
//!    admission (the memo);
//! 5. **commit**: `Store::commit_block`.
//!
//! The proposer's block build is timed too (it replaces 2-4 on one
//! validator of four). Each stage is reported in µs per mint, with the
//! node's batch signature verification of the same mints (one core, in
//! batches of [`GOSSIP_BATCH`]) for scale: the drop benchmark's bound is that
//! verification alone.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, bail};
use keepsake_engine::admit::Admission;
use keepsake_engine::{Mempool, MempoolLimits, VerifiedSet};
use keepsake_ledger::block::{CheckedBody, Tip, build_block_memo, validate_checked_memo};
use keepsake_ledger::rules::{Encoded, verify_signatures_many};
use keepsake_ledger::testkit::TestNet;
use keepsake_store::Store;
use keepsake_types::wire::{TX_BATCH_TXS_MAX, pack_tx_batches};
use keepsake_types::{Block, ChainParams, SignedTx, encoding};
use serde::Serialize;

use crate::median;

/// Mints per gossip batch (the node packs what one admission call admitted,
/// up to [`TX_BATCH_TXS_MAX`]; the drop's clients submit 1,000 at a time).
pub const GOSSIP_BATCH: usize = 500;

/// µs per mint of each stage (median over the blocks of the run).
#[derive(Clone, Debug, Serialize)]
pub struct StagesReport {
    /// Mints timed.
    pub mints: usize,
    /// Mints per block.
    pub block_txs: usize,
    /// The node's batch verification of the mints' signatures, alone.
    pub batch_verify_us: f64,
    /// Gossip admission (includes the signature check).
    pub gossip_admission_us: f64,
    /// Decoding the block from its encoding.
    pub block_decode_us: f64,
    /// `CheckedBody::check`.
    pub body_check_us: f64,
    /// `validate_checked_memo`, signatures known.
    pub validation_us: f64,
    /// `Store::commit_block`.
    pub commit_us: f64,
    /// The sum of the stages of a validator that did not propose.
    pub total_us: f64,
    /// Building the block (the proposer, instead of decode, check and validation).
    pub build_us: f64,
}

/// Runs the stages benchmark and prints its figures.
pub fn run(mints: usize, block_txs: usize, json: bool) -> anyhow::Result<()> {
    if mints == 0 || block_txs == 0 || block_txs > mints {
        bail!("--mints and --block-txs must be at least 1, and --block-txs at most --mints");
    }
    let mut net = TestNet::new(4);
    // The test network's cap is 10,000 editions a series (the default chain's is 1,000,000).
    net.genesis.params.max_supply_limit = ChainParams::default().max_supply_limit;
    let max = net.genesis.params.block_txs_max as usize;
    if mints > net.genesis.params.max_supply_limit as usize || block_txs > max {
        bail!("at most {} mints and {max} a block", net.genesis.params.max_supply_limit);
    }
    let genesis = &net.genesis;
    let chain = net.chain().to_string();
    let store = Store::open_temporary(genesis).context("cannot open a temporary store")?;
    let proposer = net.validators[0].public();
    let mut time_ms = genesis.genesis_time_ms;
    let mut tip = Tip::genesis(genesis);

    // Block 1: the issuer, the reviewer and the series.
    let mut setup = net.setup_txs();
    setup.push(net.create_series(&net.issuer, &net.reviewer, "stages", mints as u32));
    time_ms += 1_000;
    let built = build_block_memo(&store, genesis, &tip, proposer, time_ms, setup, &())?;
    if let Some((_, e)) = built.left_out.first() {
        bail!("the setup block left a transaction out: {e}");
    }
    let commit = net.commit_for(&built.block.header, 0, 3);
    store.commit_block(&built.block, &commit, &built.executed)?;
    tip = Tip::from_header(&built.block.header);

    let series = net.series_id(&net.issuer, "stages");
    if !json {
        println!("keepsake-bench stages: signing {mints} mints ({block_txs} per block)");
    }
    let all: Vec<SignedTx> = (1..=mints as u32).map(|e| net.mint(&net.issuer, series, e, e)).collect();

    let (mut verify, mut admit, mut decode, mut check, mut validate, mut commit_t, mut build) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    // One pool and one memo for the whole run, as a node keeps them: a
    // committed block's transactions leave both, so each block is admitted
    // into a pool that already grew to a block's size (a fresh pool would
    // add its growth to every block).
    let memo = VerifiedSet::new(4 * block_txs);
    let pool = Mutex::new(Mempool::new(MempoolLimits::default()));
    for chunk in all.chunks(block_txs) {
        let n = chunk.len() as f64;
        let per_tx = |start: Instant| start.elapsed().as_secs_f64() * 1e6 / n;

        // The signatures alone, for scale, in batches of the gossip batch's size
        // (as admission verifies them).
        let encoded: Vec<Encoded> = chunk.iter().map(Encoded::of).collect();
        let refs: Vec<&SignedTx> = chunk.iter().collect();
        let start = Instant::now();
        for batch in refs.chunks(GOSSIP_BATCH) {
            let verdicts = verify_signatures_many(&chain, batch);
            anyhow::ensure!(verdicts.iter().all(|ok| *ok), "a benchmark mint does not verify");
        }
        verify.push(per_tx(start));

        // 1. Gossip admission, into the pool and memo kept across blocks.
        let payloads = pack_tx_batches(
            &encoded.iter().map(Encoded::bytes).collect::<Vec<_>>(),
            usize::MAX,
            GOSSIP_BATCH.min(TX_BATCH_TXS_MAX),
        );
        let admission = Admission {
            state: &store,
            genesis,
            memo: &memo,
            pool: &pool,
            next_height: tip.height + 1,
            time_ms: time_ms + 500,
        };
        let start = Instant::now();
        for payload in &payloads {
            let result = admission.admit_gossiped_batch(payload, usize::MAX);
            anyhow::ensure!(result.results.iter().all(|r| r.is_ok()), "a mint was not admitted");
        }
        admit.push(per_tx(start));

        // The proposer builds the block (with its own memo: signatures known).
        time_ms += 1_000;
        let start = Instant::now();
        let built = build_block_memo(&store, genesis, &tip, proposer, time_ms, chunk.to_vec(), &memo)?;
        build.push(per_tx(start));
        anyhow::ensure!(
            built.block.txs.len() == chunk.len(),
            "the block left out {:?}",
            built.left_out.first()
        );

        // 2-4. Another validator receives, checks and validates it.
        let bytes = encoding::encode(&built.block);
        let start = Instant::now();
        let block: Arc<Block> = Arc::new(encoding::decode(&bytes, usize::MAX, "block")?);
        decode.push(per_tx(start));
        let start = Instant::now();
        let checked = CheckedBody::check(&chain, &block);
        check.push(per_tx(start));
        let checked = checked.context("the block's body does not match its header")?;
        let start = Instant::now();
        let executed = validate_checked_memo(&store, genesis, &tip, &checked, &memo)?;
        validate.push(per_tx(start));

        // 5. Commit.
        let commit = net.commit_for(&block.header, 0, 3);
        let start = Instant::now();
        store.commit_block(&block, &commit, &executed)?;
        commit_t.push(per_tx(start));
        tip = Tip::from_header(&block.header);
        pool.lock().expect("not poisoned").remove(&executed.tx_ids);
        memo.forget(executed.digests.iter().copied());
    }

    let [verify, admit, decode, check, validate, commit_t, build] =
        [verify, admit, decode, check, validate, commit_t, build].map(median);
    let report = StagesReport {
        mints,
        block_txs,
        batch_verify_us: verify,
        gossip_admission_us: admit,
        block_decode_us: decode,
        body_check_us: check,
        validation_us: validate,
        commit_us: commit_t,
        total_us: admit + decode + check + validate + commit_t,
        build_us: build,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let row = |what: &str, us: f64| println!("{what:<52} {us:>7.2} us  {:>5.2} x verify", us / verify);
    println!("one validator, one thread, µs per mint (median of {} blocks):", mints.div_ceil(block_txs));
    row("batch signature verification alone (for scale)", verify);
    row("1. gossip admission (signatures included)", admit);
    row("2. block decode", decode);
    row("3. body check (ids, tx root)", check);
    row("4. validation (signatures known)", validate);
    row("5. commit", commit_t);
    row("total of a validator that did not propose", report.total_us);
    row("the proposer's block build (instead of 2-4)", build);
    Ok(())
}
