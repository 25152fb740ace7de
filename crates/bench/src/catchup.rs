//! `keepsake-bench catchup`: how fast a new node catches up with a chain.
//!
//! Grows a chain of `--certificates` mints on `--validators` `keepsake start`
//! processes (drops of `--drop-size` editions, one series each, submitted as
//! `keepsake-bench history` does), then starts a **fresh** node process: an
//! observer (a key outside the validator set, admitted by the validators'
//! `[p2p] allow_list`) with only the genesis file and the validators as
//! bootstrap peers. The clock runs from its `keepsake start` until its
//! committed height (JSON-RPC `status`, polled every 10 ms) reaches the
//! source's tip as it was when the observer started. Block sync verifies every
//! block's commit (a quorum of precommit signatures) and every ledger rule
//! (each transaction's signatures included), exactly as for any synced block.
//!
//! Each of `--runs` starts the observer again on an empty data directory; the
//! median is reported. In the same run it measures single ed25519 verification
//! on one core (before the cluster starts) and the chain's own mint rate, and
//! prints the catch-up rate as a fraction of both. With `--perf FILE` the first
//! run is recorded with `perf record -g -p PID` (call graphs of the observer).
//!
//! Progress goes to stderr with `--json` (the report is on stdout), else to
//! stdout with the table. See docs/benchmarks.md, "Catch-up".

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use keepsake::config::{NodeConfig, PeerAddress};
use keepsake::rpc_client::describe;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::Keypair;
use serde::Serialize;

use crate::cluster::free_port_base;
use crate::drop::{Consortium, Say, sign_mint_range};
use crate::history::{mint_slice, series_name, slices};
use crate::{median, verify_rate};

/// Longest a catch-up may take before the benchmark gives up.
const CATCHUP_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often the observer's height is polled.
const POLL: Duration = Duration::from_millis(10);

/// Parameters of `keepsake-bench catchup`.
#[derive(Clone, Debug)]
pub struct CatchupBench {
    /// Certificates (mints) on the source chain.
    pub certificates: u64,
    /// Validator processes of the source chain.
    pub validators: usize,
    /// Editions per drop (one series each).
    pub drop_size: u32,
    /// Transactions per `submitTxs` call while growing the chain.
    pub batch: usize,
    /// Catch-ups timed (a fresh observer each); the median is reported.
    pub runs: usize,
    /// Print a [`CatchupReport`] as JSON on stdout.
    pub json: bool,
    /// Keep the cluster's directory.
    pub keep: bool,
    /// Record the first catch-up with `perf record -g` into this file.
    pub perf: Option<PathBuf>,
    /// Also time observers of this `keepsake` binary (e.g. a build before a
    /// change), alternating with this build's, on the same chain.
    pub compare_bin: Option<PathBuf>,
}

/// The figures of a run (`--json` prints this).
#[derive(Clone, Debug, Serialize)]
pub struct CatchupReport {
    /// Validator processes of the source chain.
    pub validators: usize,
    /// Cores of this machine.
    pub cores: usize,
    /// Single ed25519 verifications (ZIP-215) per second on one core (measured first; the
    /// field keeps its old name for JSON readers).
    pub strict_verify_rate_one_core: f64,
    /// Bulk certificates minted.
    pub certificates: u64,
    /// Blocks the observer had to fetch (the source's tip when it started).
    pub blocks: u64,
    /// Transactions in those blocks (the source's log size).
    pub transactions: u64,
    /// Seconds the validators took to mint the certificates (signing excluded).
    pub mint_seconds: f64,
    /// The source chain's mint rate, tx/s.
    pub mint_rate: f64,
    /// One entry per catch-up.
    pub runs: Vec<CatchupRun>,
    /// Median seconds from `keepsake start` to the source's tip.
    pub median_seconds: f64,
    /// `transactions / median_seconds`.
    pub tx_per_s: f64,
    /// `blocks / median_seconds`.
    pub blocks_per_s: f64,
    /// `tx_per_s / strict_verify_rate_one_core`.
    pub fraction_of_one_core_verify_rate: f64,
    /// `tx_per_s / mint_rate`.
    pub ratio_to_mint_rate: f64,
    /// With `--compare-bin`: that binary's catch-ups and median.
    pub compare: Option<Comparison>,
}

/// The catch-ups of the `--compare-bin` binary on the same chain.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// The binary.
    pub bin: String,
    /// One entry per catch-up.
    pub runs: Vec<CatchupRun>,
    /// Median seconds.
    pub median_seconds: f64,
    /// `transactions / median_seconds`.
    pub tx_per_s: f64,
    /// This build's tx/s over that binary's.
    pub speedup: f64,
}

/// One catch-up of a fresh observer.
#[derive(Clone, Debug, Serialize)]
pub struct CatchupRun {
    /// `keepsake start` until the observer's height reached the target.
    pub seconds: f64,
    /// `keepsake start` until its first committed block.
    pub first_block_seconds: f64,
    /// Transactions per second over `seconds`.
    pub tx_per_s: f64,
    /// Blocks per second over `seconds`.
    pub blocks_per_s: f64,
    /// The observer's peak RSS (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

/// Where the observer lives and how to reach it.
struct Observer {
    home: PathBuf,
    url: String,
}

/// Runs the benchmark and prints its table (or JSON).
pub async fn run(bin: &Path, params: CatchupBench) -> anyhow::Result<()> {
    if params.validators == 0
        || params.certificates == 0
        || params.drop_size == 0
        || params.batch == 0
        || params.runs == 0
    {
        bail!("--certificates, --validators, --drop-size, --batch and --runs must be at least 1");
    }
    let say = Say(params.json);
    say.line(format!(
        "keepsake-bench catchup: a chain of {} certificates on {} validator(s), then a fresh observer catches up ({} run(s))",
        params.certificates, params.validators, params.runs
    ));
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let verify = tokio::task::spawn_blocking(verify_rate).await?;
    say.line(format!("this machine: {cores} cores; single ed25519 verify on one core {verify:.0}/s"));

    // ---- The source chain, with the observer admitted by every validator ---
    let observer_key = keepsake::keyfile::generate()?;
    let observer_public = observer_key.public();
    let mut bootstrap = Vec::new();
    let mut net = Consortium::launch_with(bin, params.validators, params.keep, &say, |_, homes| {
        for home in homes {
            let path = home.join(keepsake::config::CONFIG_FILE);
            let text =
                std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            let mut config: NodeConfig = toml::from_str(&text)?;
            config.p2p.allow_list.push(observer_public);
            std::fs::write(&path, toml::to_string_pretty(&config)?)?;
            let key = keepsake::keyfile::read(&home.join(&config.node.validator_key_file))?;
            bootstrap.push(PeerAddress { key: key.public(), addr: config.p2p.listen });
        }
        Ok(())
    })
    .await?;
    let (chain, issuer) = (net.chain.clone(), net.issuer.clone());
    let mut mint_seconds = 0.0;
    let mut last_done = Instant::now();
    for (drop, first, last) in slices(0, params.certificates, params.drop_size) {
        let name = series_name(drop);
        if first == 1 {
            net.create_series(&name, params.drop_size).await?;
        }
        let series = net.series_id(&name);
        let (c, i) = (chain.clone(), issuer.clone());
        let buyer = format!("catchup-buyer-{drop}");
        let txs =
            tokio::task::spawn_blocking(move || sign_mint_range(&c, &i, series, first, last, &buyer)).await?;
        let (secs, _) = mint_slice(&mut net, txs, params.batch, series, last).await?;
        mint_seconds += secs;
        if last_done.elapsed() > Duration::from_secs(5) {
            last_done = Instant::now();
            let minted = drop * u64::from(params.drop_size) + u64::from(last);
            say.line(format!("  ... minted {minted} of {}", params.certificates));
        }
    }
    let mint_rate = params.certificates as f64 / mint_seconds;
    let source = net.clients[0].status().await.map_err(describe)?;
    let (blocks, transactions) = (source.height, source.log_size);
    say.line(format!(
        "chain built: {blocks} blocks, {transactions} transactions; minted at {mint_rate:.0} tx/s ({mint_seconds:.1} s)"
    ));

    // ---- The observer ------------------------------------------------------
    let observer = write_observer(&net.cluster.dir, &observer_key, bootstrap)?;
    let target = Target { blocks, transactions };
    let mut runs = Vec::new();
    let mut compare_runs = Vec::new();
    for run in 0..params.runs {
        // With a second binary, the two alternate (which goes first, too), so
        // that a change of the machine's load touches both alike.
        let mut order = vec![None];
        if let Some(other) = params.compare_bin.as_deref() {
            order.insert(run % 2, Some(other));
        }
        for bin in order {
            let perf = if run == 0 && bin.is_none() { params.perf.as_deref() } else { None };
            let r = catch_up_once(&mut net, &observer, target, bin, perf).await?;
            let name = bin.map_or("this build".to_string(), |b| b.display().to_string());
            say.line(format!(
                "run {} ({name}): {:.3} s to height {blocks} (first block after {:.3} s) = {:.0} tx/s, {:.1} blocks/s, peak RSS {:.0} MiB",
                run + 1,
                r.seconds,
                r.first_block_seconds,
                r.tx_per_s,
                r.blocks_per_s,
                r.peak_rss_mib
            ));
            if bin.is_some() { compare_runs.push(r) } else { runs.push(r) }
        }
    }
    net.cluster.stop();

    let median_seconds = median(runs.iter().map(|r| r.seconds).collect());
    let tx_per_s = transactions as f64 / median_seconds;
    let report = CatchupReport {
        validators: params.validators,
        cores,
        strict_verify_rate_one_core: verify,
        certificates: params.certificates,
        blocks,
        transactions,
        mint_seconds,
        mint_rate,
        runs,
        median_seconds,
        tx_per_s,
        blocks_per_s: blocks as f64 / median_seconds,
        fraction_of_one_core_verify_rate: tx_per_s / verify,
        ratio_to_mint_rate: tx_per_s / mint_rate,
        compare: params.compare_bin.as_ref().map(|bin| {
            let m = median(compare_runs.iter().map(|r| r.seconds).collect());
            Comparison {
                bin: bin.display().to_string(),
                runs: compare_runs,
                median_seconds: m,
                tx_per_s: transactions as f64 / m,
                speedup: tx_per_s / (transactions as f64 / m),
            }
        }),
    };
    say.line(format!(
        "median: {:.3} s for {blocks} blocks and {transactions} transactions = {:.0} tx/s, {:.1} blocks/s",
        report.median_seconds, report.tx_per_s, report.blocks_per_s
    ));
    say.line(format!(
        "= {:.3} of one core's single verify rate, {:.2}x the chain's mint rate",
        report.fraction_of_one_core_verify_rate, report.ratio_to_mint_rate
    ));
    if let Some(c) = &report.compare {
        say.line(format!(
            "{}: median {:.3} s = {:.0} tx/s; this build is {:.2}x as fast",
            c.bin, c.median_seconds, c.tx_per_s, c.speedup
        ));
    }
    if params.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    if params.keep {
        say.line(format!("kept {}", net.cluster.dir.display()));
    }
    Ok(())
}

/// The source's tip when the observer starts.
#[derive(Clone, Copy)]
struct Target {
    blocks: u64,
    transactions: u64,
}

/// Starts a fresh observer (empty data) with `bin` (the cluster's binary
/// when `None`) and times it until it reaches `target`; then kills it.
async fn catch_up_once(
    net: &mut Consortium,
    observer: &Observer,
    target: Target,
    bin: Option<&Path>,
    perf: Option<&Path>,
) -> anyhow::Result<CatchupRun> {
    for sub in ["data", "consensus"] {
        let p = observer.home.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let client = keepsake::rpc_client::client(&observer.url)?;
    let started = Instant::now();
    let (index, pid) = net.cluster.add_node(observer.home.clone(), bin)?;
    let mut recorder = match perf {
        Some(path) => Some(start_perf(path, pid)?),
        None => None,
    };
    let mut first_block = None;
    let outcome = loop {
        if let Some((j, status)) = net.cluster.exited() {
            break Err(anyhow::anyhow!(
                "node{j} exited ({status}); see {}",
                net.cluster.dir.join(format!("node{j}.log")).display()
            ));
        }
        if started.elapsed() > CATCHUP_TIMEOUT {
            break Err(anyhow::anyhow!(
                "the observer did not reach height {} within {CATCHUP_TIMEOUT:?}",
                target.blocks
            ));
        }
        if let Ok(s) = client.status().await {
            if s.height >= 1 && first_block.is_none() {
                first_block = Some(started.elapsed().as_secs_f64());
            }
            if s.height >= target.blocks {
                break Ok(started.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(POLL).await;
    };
    if let Some(p) = recorder.take() {
        stop_perf(p);
    }
    let peak_rss_mib = net.cluster.peak_rss_mib(index);
    net.cluster.remove_last();
    let seconds = outcome?;
    Ok(CatchupRun {
        seconds,
        first_block_seconds: first_block.unwrap_or(seconds),
        tx_per_s: target.transactions as f64 / seconds,
        blocks_per_s: target.blocks as f64 / seconds,
        peak_rss_mib,
    })
}

/// Writes the observer's home in `DIR/observer`: the genesis, its key, and a
/// config that dials every validator.
fn write_observer(dir: &Path, key: &Keypair, bootstrap: Vec<PeerAddress>) -> anyhow::Result<Observer> {
    let home = dir.join("observer");
    std::fs::create_dir_all(&home)?;
    std::fs::copy(dir.join("genesis.json"), home.join("genesis.json"))?;
    keepsake::keyfile::write(&home.join("keys/validator.json"), key)?;
    let rpc_port = free_port_base(1, None)?;
    let p2p_port = free_port_base(1, Some(rpc_port))?;
    let text = format!(
        "[node]\ngenesis_file = \"genesis.json\"\nvalidator_key_file = \"keys/validator.json\"\ndata_dir = \"data\"\n\n\
         [rpc]\nlisten = \"127.0.0.1:{rpc_port}\"\n\n[p2p]\nlisten = \"127.0.0.1:{p2p_port}\"\n"
    );
    let mut config: NodeConfig = toml::from_str(&text)?;
    config.p2p.bootstrap = bootstrap;
    std::fs::write(home.join(keepsake::config::CONFIG_FILE), toml::to_string_pretty(&config)?)?;
    Ok(Observer { home, url: format!("http://127.0.0.1:{rpc_port}") })
}

fn start_perf(path: &Path, pid: u32) -> anyhow::Result<Child> {
    Command::new("perf")
        .args(["record", "-g", "-F", "999", "-p", &pid.to_string(), "-o"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting perf record (is perf installed?)")
}

/// SIGINT (perf writes its file), then wait.
fn stop_perf(mut perf: Child) {
    let _ = Command::new("kill").arg("-INT").arg(perf.id().to_string()).status();
    let _ = perf.wait();
}
