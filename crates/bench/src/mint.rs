//! `keepsake-bench mint`: the single-validator mint benchmark. Starts a real
//! node, `keepsake start` on a dev chain's home in a temporary directory (real
//! sled, real JSON-RPC on 127.0.0.1),
//! signs every mint up front, submits them in `submitTxs` batches and waits
//! until all are committed. In the same run it measures this machine's
//! strict ed25519 verification rate on one core, so throughput can be quoted
//! as a fraction of it (figures on shared machines are noisy; ratios less so).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use keepsake::rpc_client::describe;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::{ContentHash, ReviewSubject, SignedTx, TxBody, hash::sha256, ids};

use crate::cluster::{Cluster, start_dev_node};
use crate::{dir_size, median, verify_rate, wait_committed};

/// Parameters of one benchmark.
#[derive(Clone, Debug)]
pub struct MintBench {
    /// Mints per run.
    pub editions: u32,
    /// Transactions per `submitTxs` call.
    pub batch: usize,
    /// Runs (the median is reported).
    pub runs: usize,
}

/// The figures of one run.
#[derive(Clone, Debug)]
pub struct MintRun {
    /// Seconds from the first submission until every mint is committed.
    pub seconds: f64,
    /// Seconds spent inside `submitTxs` calls (admission).
    pub submit_seconds: f64,
    /// Blocks the mints were committed in.
    pub blocks: u64,
    /// Bytes of the database directory per mint (after the run, whole chain).
    pub disk_bytes_per_mint: f64,
}

async fn one_run(bin: &Path, params: &MintBench, run: usize) -> anyhow::Result<MintRun> {
    let (_node, r, _) = mint_chain(bin, params, run).await?;
    Ok(r)
}

/// Builds a dev chain with `params.editions` mints in a new temporary
/// directory and stops its node. Returns the stopped node (its directory is
/// removed when it is dropped; the data is in `homes[0]/data`), the run's
/// figures and the certificate of edition 1.
async fn mint_chain(
    bin: &Path,
    params: &MintBench,
    run: usize,
) -> anyhow::Result<(Cluster, MintRun, keepsake_types::Certificate)> {
    let (mut node, url) = start_dev_node(bin, 5).await?;
    let home = node.homes[0].clone();
    let client = keepsake::rpc_client::client(&url)?;
    let key = |n: &str| keepsake::keyfile::read(&home.join("keys").join(format!("{n}.json")));
    let (governor, issuer, reviewer) = (key("governor")?, key("issuer")?, key("reviewer")?);
    let chain = client.status().await.map_err(describe)?.chain_id;

    let name = format!("bench-{run}");
    let subject = ReviewSubject {
        issuer: issuer.public(),
        name: name.clone(),
        content_hash: ContentHash(sha256(name.as_bytes()).0),
        max_supply: params.editions,
        metadata_uri: "https://bench.example/m.json".into(),
    };
    let setup = vec![
        TxBody::RegisterIssuer { issuer: issuer.public(), name: "bench".into(), nonce: 1 }
            .sign(&chain, &[&governor]),
        TxBody::RegisterReviewer { reviewer: reviewer.public(), name: "bench".into(), nonce: 2 }
            .sign(&chain, &[&governor]),
    ];
    for tx in setup {
        let id = client.submit_tx(tx).await.map_err(describe)?;
        wait_committed(&client, id).await?;
    }
    let create = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: name.clone(),
        content_hash: subject.content_hash,
        max_supply: params.editions,
        metadata_uri: subject.metadata_uri.clone(),
        approval: subject.approve(&chain, &reviewer),
    }
    .sign(&chain, &[&issuer]);
    let id = client.submit_tx(create).await.map_err(describe)?;
    let start_height = wait_committed(&client, id).await?;

    let series = ids::series_id(&chain, &issuer.public(), &name);
    let mints: Vec<SignedTx> = (1..=params.editions)
        .map(|e| {
            TxBody::Mint { series_id: series, edition: e, holder: ids::holder_id("bench", &e.to_string()) }
                .sign(&chain, &[&issuer])
        })
        .collect();
    let last = mints.last().context("at least one edition")?.id(&chain);

    let started = Instant::now();
    let mut submit_seconds = 0.0;
    for chunk in mints.chunks(params.batch) {
        let t = Instant::now();
        let outcomes = client.submit_txs(chunk.to_vec()).await.map_err(describe)?;
        submit_seconds += t.elapsed().as_secs_f64();
        if let Some(err) = outcomes.iter().find_map(|o| o.error.as_ref()) {
            bail!("a benchmark mint was refused: {}: {}", err.code, err.message);
        }
    }
    let end_height = wait_committed(&client, last).await?;
    let seconds = started.elapsed().as_secs_f64();
    let info = client.get_series(series).await.map_err(describe)?;
    if info.minted != params.editions {
        bail!("only {} of {} editions minted", info.minted, params.editions);
    }
    let certificate =
        client.get_certificate(ids::certificate_id(&chain, &series, 1)).await.map_err(describe)?;
    node.stop();
    let disk = dir_size(&home.join("data")) as f64;
    let figures = MintRun {
        seconds,
        submit_seconds,
        blocks: end_height - start_height,
        disk_bytes_per_mint: disk / f64::from(params.editions),
    };
    Ok((node, figures, certificate.certificate))
}

/// `keepsake-bench audit`: builds a dev chain of `editions` mints, then
/// times the audit of `keepsake audit --data-dir` ([`keepsake::audit::audit_data_dir`])
/// over it `runs` times and offline certificate verification on one core,
/// with the verify rate of the same run.
pub async fn run_audit(bin: &Path, editions: u32, runs: usize) -> anyhow::Result<()> {
    if editions == 0 || runs == 0 {
        bail!("--editions and --runs must be at least 1");
    }
    println!("keepsake-bench audit: a dev chain of {editions} mints, {runs} audit run(s)");
    let verify = tokio::task::spawn_blocking(verify_rate).await?;
    println!("ed25519 verify_strict, one core: {verify:.0}/s");
    let (node, built, certificate) =
        mint_chain(bin, &MintBench { editions, batch: 1000, runs: 1 }, 0).await?;
    let home = node.homes[0].clone();
    let genesis_text =
        keepsake::config::read_bounded(&home.join("genesis.json"), keepsake::config::GENESIS_FILE_MAX)?;
    let genesis = keepsake_types::Genesis::from_json(&genesis_text)?;
    println!("chain built: {} mint blocks", built.blocks);
    let data = home.join("data");
    let mut seconds = Vec::new();
    let mut last_report = None;
    for run in 0..runs {
        let (g, d) = (genesis.clone(), data.clone());
        let (secs, report) = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let r = keepsake::audit::audit_data_dir(&g, &d, &mut keepsake::audit::Progress::hidden());
            (t.elapsed().as_secs_f64(), r)
        })
        .await?;
        let report = report?;
        if !report.passed {
            bail!("the audit of the benchmark chain failed:\n{report}");
        }
        let txs: u64 = report.transactions.values().sum();
        println!(
            "audit run {}: {secs:.3} s for {} blocks and {txs} transactions = {:.0} tx/s",
            run + 1,
            report.verified_height,
            txs as f64 / secs
        );
        seconds.push(secs);
        last_report = Some(report);
    }
    let report = last_report.context("at least one run")?;
    let txs: u64 = report.transactions.values().sum();
    let secs = median(seconds);
    let tps = txs as f64 / secs;
    println!("audit median: {secs:.3} s = {tps:.0} tx/s = {:.3} of one core's verify rate", tps / verify);

    // Offline certificate verification, one core.
    let rounds: Vec<f64> = tokio::task::spawn_blocking(move || {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..500 {
                    certificate.verify(&genesis).expect("the benchmark certificate verifies");
                }
                500.0 / t.elapsed().as_secs_f64()
            })
            .collect()
    })
    .await?;
    let per_sec = median(rounds);
    println!(
        "certificate verify (offline, one core, 1-validator checkpoint): {per_sec:.0}/s = {:.3} of the verify rate",
        per_sec / verify
    );
    drop(node);
    Ok(())
}

/// Runs the benchmark and prints its figures.
pub async fn run_mint(bin: &Path, params: MintBench) -> anyhow::Result<()> {
    if params.editions == 0 || params.runs == 0 || params.batch == 0 {
        bail!("--editions, --runs and --batch must be at least 1");
    }
    println!(
        "keepsake-bench mint: {} editions, submitTxs batches of {}, {} run(s)",
        params.editions, params.batch, params.runs
    );
    let verify = tokio::task::spawn_blocking(verify_rate).await?;
    println!("ed25519 verify_strict, one core: {verify:.0}/s");
    let mut runs = Vec::new();
    for run in 0..params.runs {
        let r = one_run(bin, &params, run).await?;
        println!(
            "run {}: {:.3} s, {:.0} tx/s, {} blocks, admission {:.3} s, {:.0} bytes on disk per mint",
            run + 1,
            r.seconds,
            f64::from(params.editions) / r.seconds,
            r.blocks,
            r.submit_seconds,
            r.disk_bytes_per_mint
        );
        runs.push(r);
    }
    let secs = median(runs.iter().map(|r| r.seconds).collect());
    let tps = f64::from(params.editions) / secs;
    println!("median: {secs:.3} s for {} mints = {tps:.0} tx/s", params.editions);
    println!("as a fraction of one core's verify rate: {:.3}", tps / verify);
    println!(
        "median disk per mint: {:.0} bytes",
        median(runs.iter().map(|r| r.disk_bytes_per_mint).collect())
    );
    Ok(())
}
