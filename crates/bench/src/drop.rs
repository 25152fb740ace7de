//! `keepsake-bench drop`: a collectible drop on a real local consortium.
//!
//! Starts `--validators` real `keepsake start` processes (each with its own
//! sled store, libp2p swarm and JSON-RPC server on 127.0.0.1), registers an
//! issuer and a series, signs every mint up front, then:
//!
//! 1. **Drop**: submits `--editions` mints through `keepsake_submitTxs`
//!    (spread over every validator's RPC, as a platform's front ends would),
//!    and times the first submission until the series is sold out on **every**
//!    validator.
//! 2. **Steady load**: offers `--rate` mints per second for `--seconds`
//!    seconds and measures finality latency: submission until the block that
//!    holds the mint is committed on the node that received it (the node's
//!    `subscribeBlocks` notification).
//!
//! In the same run, before the cluster starts, it measures this machine's
//! ed25519 batch-verification rate on all cores: each validator verifies each
//! transaction at least once, so `rate / validators` bounds the cluster's
//! throughput, and the drop's tx/s is printed as a fraction of it. It also
//! reports bytes on disk per mint and each validator's peak RSS.
//! See docs/benchmarks.md for results and how to read them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use jsonrpsee::http_client::HttpClient;
use keepsake::rpc_client::describe;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::{ContentHash, Keypair, ReviewSubject, SignedTx, TxBody, TxId, hash::sha256, ids};
use serde::Serialize;

use crate::cluster::{Cluster, start_cluster_with};
use crate::{dir_size, median, verify_rate};

/// Parameters of `keepsake-bench drop`.
#[derive(Clone, Debug)]
pub struct DropBench {
    /// Validator processes.
    pub validators: usize,
    /// Editions of the drop (all minted in the burst).
    pub editions: u32,
    /// Transactions per `submitTxs` call in the burst.
    pub batch: usize,
    /// Offered load of the steady phase, mints per second (0 skips it).
    pub rate: u32,
    /// Length of the steady phase, seconds.
    pub seconds: u32,
    /// Print the figures as JSON on stdout (progress goes to stderr).
    pub json: bool,
    /// Keep the cluster's directory (homes and logs) after the run.
    pub keep: bool,
    /// Runs, each on a fresh cluster with its own bound; with more than one,
    /// the medians are printed after them.
    pub runs: usize,
}

/// Most runs one invocation may ask for.
pub const DROP_RUNS_MAX: usize = 100;

/// The medians over several runs (printed after the runs' tables, or in [`DropRuns`] with `--json`).
#[derive(Clone, Debug, Serialize)]
pub struct DropMedians {
    /// Runs the medians are taken over.
    pub runs: usize,
    /// Median time until the drop was sold out on every validator, seconds.
    pub seconds_all_nodes: f64,
    /// Median of each run's drop throughput over its own bound.
    pub fraction_of_bound: f64,
    /// Median validator CPU per mint per validator, microseconds.
    pub cpu_micros_per_mint_per_validator: f64,
    /// Median of each run's [`DropReport::signature_checks_per_mint`].
    pub signature_checks_per_mint: f64,
    /// Median of each run's [`DropReport::validators_busy`].
    pub validators_busy: f64,
    /// Median of each run's [`DropReport::fraction_of_dalek_bound`].
    pub fraction_of_dalek_bound: f64,
    /// Median of the validators' minor page faults during the drop.
    pub validators_minor_faults: f64,
    /// Median steady-phase p50 and p99 finality, ms (absent without a steady phase).
    pub steady_p50_ms: Option<f64>,
    /// See `steady_p50_ms`.
    pub steady_p99_ms: Option<f64>,
}

/// Every run's figures and their medians (`--runs N --json`, N > 1).
#[derive(Clone, Debug, Serialize)]
pub struct DropRuns {
    /// The runs, in order.
    pub runs: Vec<DropReport>,
    /// Their medians.
    pub medians: DropMedians,
}

/// The figures of one run (`--json` prints this).
#[derive(Clone, Debug, Serialize)]
pub struct DropReport {
    /// Validator processes.
    pub validators: usize,
    /// Cores of this machine (`available_parallelism`).
    pub cores: usize,
    /// The node's batch verification of drop mints (batches of 500 by one
    /// issuer, `rules::verify_signatures_many`) on all cores, signatures/s.
    pub node_batch_verify_rate_all_cores: f64,
    /// ed25519-dalek `verify_batch` (batches of 64 distinct keys) on all
    /// cores, signatures/s: for comparison with earlier runs.
    pub batch_verify_rate_all_cores: f64,
    /// Single verification (`PublicKey::verify_message`) on one core, signatures/s.
    pub strict_verify_rate_one_core: f64,
    /// `node_batch_verify_rate_all_cores / validators`: the cluster's bound, tx/s.
    pub bound_tx_per_s: f64,
    /// A validator's CPU per mint in units of the bound's own cost of one
    /// signature check on one core (`cores / node_batch_verify_rate_all_cores`).
    /// The drop's fraction of the bound is exactly
    /// `validators_busy / signature_checks_per_mint`, so 0.5 of the bound
    /// needs this at or under `2 * validators_busy`.
    pub signature_checks_per_mint: f64,
    /// The validators' CPU during the drop over the time it took on all cores.
    /// Their CPU is read from `/proc` in clock ticks (10 ms per process) and
    /// a moment after the last sell-out, so a short drop can read above 1.
    pub validators_busy: f64,
    /// The drop's throughput over the bound as the benchmark defined it when
    /// the issue "Drop day II" was written: dalek's `verify_batch` of 64
    /// keys on all cores, divided by the validators. The bound above is the
    /// node's own (faster) verifier, so it asks more.
    pub fraction_of_dalek_bound: f64,
    /// The burst.
    pub drop: DropFigures,
    /// The steady phase (absent with `--rate 0`).
    pub steady: Option<SteadyFigures>,
    /// Per validator, after the run.
    pub nodes: Vec<NodeFigures>,
    /// Median over validators of bytes of `data/` per certificate on the chain.
    pub disk_bytes_per_mint: f64,
}

/// The burst's figures.
#[derive(Clone, Debug, Serialize)]
pub struct DropFigures {
    /// Mints in the drop.
    pub editions: u32,
    /// Seconds from the first submission until the last validator shows the series sold out.
    pub seconds_all_nodes: f64,
    /// The same, per validator.
    pub seconds_per_node: Vec<f64>,
    /// Seconds spent in `submitTxs` calls (admission), the slowest front end.
    pub submit_seconds: f64,
    /// `editions / seconds_all_nodes`.
    pub tx_per_s: f64,
    /// `tx_per_s / bound_tx_per_s`.
    pub fraction_of_bound: f64,
    /// Blocks that carried the drop.
    pub blocks: u64,
    /// `MempoolFull` answers that were retried.
    pub mempool_full_retries: u64,
    /// Per validator, transaction gossip messages `[published, received]` from the start of the
    /// cluster to the end of the drop (`keepsake_gossip_tx_batches_total`; `None` from a
    /// `keepsake` without that counter).
    pub gossip_tx_messages: Vec<Option<[u64; 2]>>,
    /// CPU seconds the validators used together from the first submission
    /// until the last one showed the series sold out (`/proc/PID/stat`,
    /// 10 ms ticks): the machine's work per drop, steadier than its wall time
    /// when the machine is shared.
    pub validators_cpu_seconds: f64,
    /// Minor page faults the validators took together in the same window
    /// (`/proc/PID/stat`): first touches of memory, which a fresh node pays
    /// as its heap grows.
    pub validators_minor_faults: f64,
}

/// The steady phase's figures.
#[derive(Clone, Debug, Serialize)]
pub struct SteadyFigures {
    /// Offered mints per second.
    pub offered_tx_per_s: u32,
    /// Seconds of offered load.
    pub seconds: u32,
    /// Mints submitted (and committed).
    pub txs: usize,
    /// `txs` over the seconds from the first submission until the last of them was committed
    /// on the node that received it.
    pub committed_tx_per_s: f64,
    /// Finality latency, submission until committed on the receiving node, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Largest, ms.
    pub max_ms: f64,
    /// Blocks committed during the phase.
    pub blocks: u64,
}

/// One validator's figures.
#[derive(Clone, Debug, Serialize)]
pub struct NodeFigures {
    /// `nodeI`.
    pub name: String,
    /// Peak resident set (VmHWM), MiB.
    pub peak_rss_mib: f64,
    /// Bytes of its `data/` directory after the run.
    pub disk_bytes: u64,
}

/// A running local consortium with its issuer and reviewer registered.
pub(crate) struct Consortium {
    pub(crate) cluster: Cluster,
    pub(crate) urls: Vec<String>,
    pub(crate) clients: Vec<HttpClient>,
    pub(crate) chain: String,
    pub(crate) issuer: Keypair,
    reviewer: Keypair,
}

impl Consortium {
    /// Starts `validators` processes, waits for block 1 everywhere, and
    /// registers the testnet's issuer and reviewer (2-of-3 governance).
    pub(crate) async fn launch(bin: &Path, validators: usize, keep: bool, say: &Say) -> anyhow::Result<Self> {
        Self::launch_with(bin, validators, keep, say, |_, _| Ok(())).await
    }

    /// [`Consortium::launch`], with `prepare(dir, homes)` run on the written
    /// testnet before the validators start.
    pub(crate) async fn launch_with(
        bin: &Path,
        validators: usize,
        keep: bool,
        say: &Say,
        prepare: impl FnOnce(&Path, &[std::path::PathBuf]) -> anyhow::Result<()>,
    ) -> anyhow::Result<Self> {
        let (mut cluster, urls) = start_cluster_with(bin, validators, keep, prepare)?;
        say.line(format!("cluster directory: {}", cluster.dir.display()));
        let clients: Vec<HttpClient> =
            urls.iter().map(|u| keepsake::rpc_client::client(u)).collect::<anyhow::Result<_>>()?;
        cluster.wait_for_height(&clients, 1).await?;
        say.line("cluster up: block 1 committed on every validator");
        let key = |p: &str| keepsake::keyfile::read(&cluster.dir.join(p));
        let (g1, g2) = (key("governance/governor-1.json")?, key("governance/governor-2.json")?);
        let (issuer, reviewer) = (key("keys/issuer.json")?, key("keys/reviewer.json")?);
        let chain = clients[0].status().await.map_err(describe)?.chain_id.into_string();
        for tx in [
            TxBody::RegisterIssuer { issuer: issuer.public(), name: "drop issuer".into(), nonce: 1 }
                .sign(&chain, &[&g1, &g2]),
            TxBody::RegisterReviewer { reviewer: reviewer.public(), name: "drop reviewer".into(), nonce: 2 }
                .sign(&chain, &[&g1, &g2]),
        ] {
            let id = clients[0].submit_tx(tx).await.map_err(describe)?;
            wait_committed_everywhere(&clients, id).await?;
        }
        Ok(Self { cluster, urls, clients, chain, issuer, reviewer })
    }

    /// Creates the series `name` of `supply` editions (reviewed), committed
    /// everywhere; returns the height that committed it.
    pub(crate) async fn create_series(&self, name: &str, supply: u32) -> anyhow::Result<u64> {
        let subject = ReviewSubject {
            issuer: self.issuer.public(),
            name: name.into(),
            content_hash: ContentHash(sha256(name.as_bytes()).0),
            max_supply: supply,
            metadata_uri: "https://bench.example/drop.json".into(),
        };
        let tx = TxBody::CreateSeries {
            issuer: subject.issuer,
            name: name.into(),
            content_hash: subject.content_hash,
            max_supply: supply,
            metadata_uri: subject.metadata_uri.clone(),
            approval: subject.approve(&self.chain, &self.reviewer),
        }
        .sign(&self.chain, &[&self.issuer]);
        let id = self.clients[0].submit_tx(tx).await.map_err(describe)?;
        wait_committed_everywhere(&self.clients, id).await
    }

    /// The id of this issuer's series `name`.
    pub(crate) fn series_id(&self, name: &str) -> keepsake_types::SeriesId {
        ids::series_id(&self.chain, &self.issuer.public(), name)
    }
}

/// Progress goes to stderr with `--json` (stdout is the report), else stdout.
pub(crate) struct Say(pub(crate) bool);

impl Say {
    pub(crate) fn line(&self, text: impl AsRef<str>) {
        if self.0 {
            eprintln!("{}", text.as_ref());
        } else {
            println!("{}", text.as_ref());
        }
    }
}

/// ed25519 batch verification (batches of 64, the size the library's
/// documentation and docs/benchmarks.md use) on every core at once, signatures/s.
/// Median of 3 rounds of about 0.6 s.
pub fn batch_verify_rate_all_cores() -> (usize, f64) {
    use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey, verify_batch};
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let keys: Vec<SigningKey> = (0..64u8).map(|i| SigningKey::from_bytes(&[i.wrapping_add(1); 32])).collect();
    let messages: Vec<Vec<u8>> = (0..64u32).map(|i| format!("drop mint {i}").into_bytes()).collect();
    let sigs: Vec<Signature> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
    let publics: Vec<VerifyingKey> = keys.iter().map(SigningKey::verifying_key).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let rounds = (0..3)
        .map(|_| {
            let start = Instant::now();
            let per_thread = 150;
            std::thread::scope(|s| {
                for _ in 0..cores {
                    s.spawn(|| {
                        for _ in 0..per_thread {
                            verify_batch(&refs, &sigs, &publics).expect("valid batch");
                        }
                    });
                }
            });
            (cores * per_thread * 64) as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    (cores, median(rounds))
}

/// The node's own batch verification (`rules::verify_signatures_many`, what
/// admission runs on a `submitTxs` call) of drop-shaped batches: 500 mints
/// signed by one issuer, on every core at once, signatures/s. This is the
/// work every validator must do per drop transaction, so it sets the bound.
/// Median of 5 rounds of about 0.3 s.
pub fn node_batch_verify_rate_all_cores() -> (usize, f64) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let issuer = Keypair::from_seed([42; 32]);
    let chain = "bench-chain";
    let series = keepsake_types::ids::series_id(chain, &issuer.public(), "bound");
    let mints = sign_mint_range(chain, &issuer, series, 1, 500, "bound-buyer");
    let refs: Vec<&SignedTx> = mints.iter().collect();
    let rounds = (0..5)
        .map(|_| {
            let per_thread = 40;
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..cores {
                    s.spawn(|| {
                        for _ in 0..per_thread {
                            let verdicts = keepsake_ledger::rules::verify_signatures_many(chain, &refs);
                            assert!(verdicts.iter().all(|ok| *ok), "a bound mint does not verify");
                        }
                    });
                }
            });
            (cores * per_thread * refs.len()) as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    (cores, median(rounds))
}

/// Signs mints of editions `1..=editions` of `series` on all cores.
pub(crate) fn sign_mints(
    chain: &str,
    issuer: &Keypair,
    series: keepsake_types::SeriesId,
    editions: u32,
) -> Vec<SignedTx> {
    sign_mint_range(chain, issuer, series, 1, editions, "drop-buyer")
}

/// Signs mints of editions `first..=last` of `series` on all cores, in
/// edition order; edition `e` goes to the holder `holder_id(buyer, e)`.
pub(crate) fn sign_mint_range(
    chain: &str,
    issuer: &Keypair,
    series: keepsake_types::SeriesId,
    first: u32,
    last: u32,
    buyer: &str,
) -> Vec<SignedTx> {
    if last < first {
        return Vec::new();
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let per = (last - first + 1).div_ceil(cores);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|c| {
                let lo = first.saturating_add(c.saturating_mul(per));
                let hi = first.saturating_add((c + 1).saturating_mul(per)).saturating_sub(1).min(last);
                s.spawn(move || {
                    (lo..=hi)
                        .map(|e| {
                            TxBody::Mint {
                                series_id: series,
                                edition: e,
                                holder: ids::holder_id(buyer, &e.to_string()),
                            }
                            .sign(chain, &[issuer])
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("signing thread")).collect()
    })
}

/// Each node's `keepsake_gossip_tx_batches_total{direction="published"|"received"}`.
async fn gossip_tx_messages(urls: &[String]) -> Vec<Option<[u64; 2]>> {
    let mut out = Vec::with_capacity(urls.len());
    for url in urls {
        let text = crate::history::http_get(url, "/metrics").await.map(|(_, body)| body).unwrap_or_default();
        let sample = |direction: &str| {
            let name = format!("keepsake_gossip_tx_batches_total{{direction=\"{direction}\"}} ");
            text.lines().find_map(|l| l.strip_prefix(name.as_str())).and_then(|v| v.trim().parse().ok())
        };
        out.push(sample("published").zip(sample("received")).map(|(p, r)| [p, r]));
    }
    out
}

/// Each node's gossiped transactions refused as already committed
/// (`keepsake_txs_rejected_total{stage="gossip",code="DuplicateTransaction"}`):
/// copies that arrived after the block carrying them.
async fn late_gossip_duplicates(urls: &[String]) -> Vec<u64> {
    let mut out = Vec::with_capacity(urls.len());
    for url in urls {
        let text = crate::history::http_get(url, "/metrics").await.map(|(_, body)| body).unwrap_or_default();
        let line = "keepsake_txs_rejected_total{stage=\"gossip\",code=\"DuplicateTransaction\"} ";
        out.push(
            text.lines().find_map(|l| l.strip_prefix(line)).and_then(|v| v.trim().parse().ok()).unwrap_or(0),
        );
    }
    out
}

/// The highest height at which `id` is committed across `clients` (each
/// waited for with the single-node benchmark's [`crate::wait_committed`]).
async fn wait_committed_everywhere(clients: &[HttpClient], id: TxId) -> anyhow::Result<u64> {
    let mut height = 0;
    for c in clients {
        height = height.max(crate::wait_committed(c, id).await?);
    }
    Ok(height)
}

/// Submits `txs` to `client` in `submitTxs` calls of `batch`, retrying
/// `MempoolFull` answers; any other refusal fails the benchmark. Returns the
/// seconds spent in calls and the number of retries.
pub(crate) async fn submit_all(
    client: HttpClient,
    txs: Vec<SignedTx>,
    batch: usize,
) -> anyhow::Result<(f64, u64)> {
    let mut spent = 0.0;
    let mut retries = 0;
    for chunk in txs.chunks(batch) {
        let mut pending = chunk.to_vec();
        while !pending.is_empty() {
            let t = Instant::now();
            let outcomes = client.submit_txs(pending.clone()).await.map_err(describe)?;
            spent += t.elapsed().as_secs_f64();
            let mut again = Vec::new();
            for (tx, o) in pending.into_iter().zip(outcomes) {
                match o.error {
                    None => {}
                    Some(e) if e.code == "MempoolFull" => again.push(tx),
                    Some(e) => bail!("a drop mint was refused: {}: {}", e.code, e.message),
                }
            }
            if !again.is_empty() {
                retries += again.len() as u64;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            pending = again;
        }
    }
    Ok((spent, retries))
}

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs the benchmark `params.runs` times and prints each run's table (or
/// JSON), then the medians when there was more than one run.
pub async fn run(bin: &Path, params: DropBench) -> anyhow::Result<()> {
    if params.validators == 0 || params.editions == 0 || params.batch == 0 {
        bail!("--validators, --editions and --batch must be at least 1");
    }
    if params.runs == 0 || params.runs > DROP_RUNS_MAX {
        bail!("--runs must be between 1 and {DROP_RUNS_MAX}, got {}", params.runs);
    }
    let say = Say(params.json);
    let mut reports = Vec::with_capacity(params.runs);
    for i in 1..=params.runs {
        if params.runs > 1 {
            say.line(format!("== run {i} of {}", params.runs));
        }
        let report = run_once(bin, &params, &say).await?;
        if !params.json {
            print_table(&report);
        }
        reports.push(report);
    }
    match reports.len() {
        1 if params.json => println!("{}", serde_json::to_string_pretty(&reports[0])?),
        1 => {}
        _ => {
            let medians = medians(&reports);
            if params.json {
                println!("{}", serde_json::to_string_pretty(&DropRuns { runs: reports, medians })?);
            } else {
                print_medians(&medians);
            }
        }
    }
    Ok(())
}

/// The medians of several runs' figures.
fn medians(reports: &[DropReport]) -> DropMedians {
    let of = |f: &dyn Fn(&DropReport) -> f64| median(reports.iter().map(f).collect());
    let steady = |f: &dyn Fn(&SteadyFigures) -> f64| {
        let xs: Vec<f64> = reports.iter().filter_map(|r| r.steady.as_ref().map(f)).collect();
        (!xs.is_empty()).then(|| median(xs))
    };
    DropMedians {
        runs: reports.len(),
        seconds_all_nodes: of(&|r| r.drop.seconds_all_nodes),
        fraction_of_bound: of(&|r| r.drop.fraction_of_bound),
        cpu_micros_per_mint_per_validator: of(&|r| cpu_micros_per_mint(&r.drop, r.validators)),
        signature_checks_per_mint: of(&|r| r.signature_checks_per_mint),
        validators_busy: of(&|r| r.validators_busy),
        fraction_of_dalek_bound: of(&|r| r.fraction_of_dalek_bound),
        validators_minor_faults: of(&|r| r.drop.validators_minor_faults),
        steady_p50_ms: steady(&|s| s.p50_ms),
        steady_p99_ms: steady(&|s| s.p99_ms),
    }
}

fn print_medians(m: &DropMedians) {
    println!("\nmedians over {} runs (each run's ratio is to its own bound)", m.runs);
    let row = |k: &str, v: String| println!("{k:<60} {v:>8}");
    row("drop: sold out on all validators (s)", format!("{:.3}", m.seconds_all_nodes));
    row("drop throughput / bound", format!("{:.3}", m.fraction_of_bound));
    row("CPU per mint per validator (us)", format!("{:.0}", m.cpu_micros_per_mint_per_validator));
    row("  the same in the bound's signature checks", format!("{:.2}", m.signature_checks_per_mint));
    row("validators' share of the cores during the drop", format!("{:.2}", m.validators_busy));
    row("drop throughput / dalek-64 bound (first yardstick)", format!("{:.3}", m.fraction_of_dalek_bound));
    row("validators' minor page faults during the drop", format!("{:.0}", m.validators_minor_faults));
    if let (Some(p50), Some(p99)) = (m.steady_p50_ms, m.steady_p99_ms) {
        row("steady finality p50 (ms)", format!("{p50:.1}"));
        row("steady finality p99 (ms)", format!("{p99:.1}"));
    }
}

/// One run: measures the bound, starts a fresh cluster, runs the drop and
/// the steady phase, stops the cluster.
async fn run_once(bin: &Path, params: &DropBench, say: &Say) -> anyhow::Result<DropReport> {
    say.line(format!(
        "keepsake-bench drop: {} validators, a {}-edition drop, then {} mints/s for {} s",
        params.validators, params.editions, params.rate, params.seconds
    ));
    let (cores, dalek_batch_rate) = tokio::task::spawn_blocking(batch_verify_rate_all_cores).await?;
    let (_, batch_rate) = tokio::task::spawn_blocking(node_batch_verify_rate_all_cores).await?;
    let strict = tokio::task::spawn_blocking(verify_rate).await?;
    let bound = bound_tx_per_s(batch_rate, params.validators);
    say.line(format!(
        "this machine: {cores} cores; the node's batch verify of drop mints on all cores {batch_rate:.0}/s \
         (dalek verify_batch of 64 keys {dalek_batch_rate:.0}/s); single verify on one core {strict:.0}/s; \
         bound for {} validators {bound:.0} tx/s",
        params.validators
    ));

    let mut net = Consortium::launch(bin, params.validators, params.keep, say).await?;
    let steady_total = params.rate.saturating_mul(params.seconds);
    let mut start_height = net.create_series("the drop", params.editions).await?;
    if steady_total > 0 {
        start_height = net.create_series("steady", steady_total).await?;
    }
    let (clients, urls, chain, issuer) =
        (net.clients.clone(), net.urls.clone(), net.chain.clone(), net.issuer.clone());
    let drop_series = ids::series_id(&chain, &issuer.public(), "the drop");
    let steady_series = ids::series_id(&chain, &issuer.public(), "steady");

    let t = Instant::now();
    let (c2, i2) = (chain.clone(), issuer.clone());
    let editions = params.editions;
    let mints = tokio::task::spawn_blocking(move || sign_mints(&c2, &i2, drop_series, editions)).await?;
    let (c3, i3) = (chain.clone(), issuer.clone());
    let steady =
        tokio::task::spawn_blocking(move || sign_mints(&c3, &i3, steady_series, steady_total)).await?;
    say.line(format!(
        "signed {} drop mints and {} steady mints up front in {:.2} s",
        mints.len(),
        steady.len(),
        t.elapsed().as_secs_f64()
    ));

    // ---- The drop -------------------------------------------------------
    let n = clients.len();
    let mut shares: Vec<Vec<SignedTx>> = vec![Vec::new(); n];
    for (i, tx) in mints.into_iter().enumerate() {
        shares[i % n].push(tx);
    }
    // Each validator's sold-out moment, from its block stream: the series is
    // read once per committed block (polling it in a loop would take CPU from
    // the validators being measured).
    let changed = Arc::new(tokio::sync::Notify::new());
    let watchers = watch_sold_out(&urls, &clients, drop_series, params.editions, &changed).await?;
    let cpu_before: f64 = (0..n).map(|i| net.cluster.cpu_seconds(i)).sum();
    let faults_before: f64 = (0..n).map(|i| net.cluster.minor_faults(i)).sum();
    let started = Instant::now();
    let submitters: Vec<_> = shares
        .into_iter()
        .zip(&clients)
        .map(|(share, c)| tokio::spawn(submit_all(c.clone(), share, params.batch)))
        .collect();
    let mut done_at: Vec<Option<f64>> = vec![None; n];
    // Ten minutes, or 500 mints/s for larger drops (a 1,000,000-edition memory run).
    let limit = Duration::from_secs(600.max(u64::from(params.editions) / 500));
    let deadline = Instant::now() + limit;
    let mut last_progress = Instant::now();
    while done_at.iter().any(Option::is_none) {
        for (i, w) in watchers.iter().enumerate() {
            if done_at[i].is_none()
                && let Some(at) = *w.sold_out.lock().expect("not poisoned")
            {
                done_at[i] = Some(at.saturating_duration_since(started).as_secs_f64());
            }
        }
        if let Some((j, status)) = net.cluster.exited() {
            bail!("node{j} exited during the drop ({status}); see its log in {}", net.cluster.dir.display());
        }
        if Instant::now() > deadline {
            bail!("the drop was not sold out on every validator within {} s", limit.as_secs());
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            let minted: Vec<u32> = watchers.iter().map(|w| *w.minted.lock().expect("not poisoned")).collect();
            let rss: Vec<String> = (0..n).map(|i| format!("{:.0}", net.cluster.peak_rss_mib(i))).collect();
            say.line(format!(
                "  ... {:.0} s, minted per validator: {minted:?}, peak RSS MiB: [{}]",
                started.elapsed().as_secs_f64(),
                rss.join(", ")
            ));
        }
        // Wakes when a watcher records a sell-out, or to check on the nodes.
        tokio::time::timeout(Duration::from_millis(200), changed.notified()).await.ok();
    }
    let validators_cpu_seconds = (0..n).map(|i| net.cluster.cpu_seconds(i)).sum::<f64>() - cpu_before;
    let validators_minor_faults = (0..n).map(|i| net.cluster.minor_faults(i)).sum::<f64>() - faults_before;
    let mut submit_seconds: f64 = 0.0;
    let mut retries = 0;
    for s in submitters {
        let (spent, r) = s.await??;
        submit_seconds = submit_seconds.max(spent);
        retries += r;
    }
    let per_node: Vec<f64> = done_at.iter().map(|d| d.expect("all done")).collect();
    let all = per_node.iter().copied().fold(0.0, f64::max);
    let drop_end_height = clients[0].status().await.map_err(describe)?.height;
    let tps = f64::from(params.editions) / all;
    let drop = DropFigures {
        editions: params.editions,
        seconds_all_nodes: all,
        seconds_per_node: per_node,
        submit_seconds,
        tx_per_s: tps,
        fraction_of_bound: tps / bound,
        blocks: count_blocks_with(&clients[0], start_height + 1, drop_end_height, drop_series).await?,
        mempool_full_retries: retries,
        gossip_tx_messages: gossip_tx_messages(&urls).await,
        validators_cpu_seconds,
        validators_minor_faults,
    };
    say.line(format!(
        "transaction gossip messages [published, received] per validator: {:?}; \
         gossiped transactions that arrived after their block: {:?}",
        drop.gossip_tx_messages,
        late_gossip_duplicates(&urls).await
    ));
    say.line(format!(
        "drop: {} mints sold out on all {n} validators in {all:.3} s = {tps:.0} tx/s = {:.3} of the bound; \
         validators' CPU {:.2} s = {:.0} us per mint per validator",
        params.editions,
        drop.fraction_of_bound,
        drop.validators_cpu_seconds,
        cpu_micros_per_mint(&drop, n)
    ));

    // ---- Steady load ----------------------------------------------------
    let steady_figures = if steady.is_empty() {
        None
    } else {
        let (rate, seconds) = (params.rate, params.seconds);
        Some(steady_phase(rate, seconds, &clients, &urls, steady, &chain, steady_series, say).await?)
    };

    let mut nodes: Vec<NodeFigures> = (0..n)
        .map(|i| NodeFigures {
            name: format!("node{i}"),
            peak_rss_mib: net.cluster.peak_rss_mib(i),
            disk_bytes: 0,
        })
        .collect();
    net.cluster.stop();
    for (i, f) in nodes.iter_mut().enumerate() {
        f.disk_bytes = dir_size(&net.cluster.homes[i].join("data"));
    }
    let certificates = f64::from(params.editions) + f64::from(steady_total);
    let disk = median(nodes.iter().map(|f| f.disk_bytes as f64 / certificates).collect());
    let report = DropReport {
        validators: n,
        cores,
        node_batch_verify_rate_all_cores: batch_rate,
        batch_verify_rate_all_cores: dalek_batch_rate,
        strict_verify_rate_one_core: strict,
        bound_tx_per_s: bound,
        signature_checks_per_mint: signature_checks_per_mint(
            cpu_micros_per_mint(&drop, n),
            batch_rate,
            cores,
        ),
        validators_busy: validators_busy(&drop, cores),
        fraction_of_dalek_bound: drop.tx_per_s / bound_tx_per_s(dalek_batch_rate, n),
        drop,
        steady: steady_figures,
        nodes,
        disk_bytes_per_mint: disk,
    };
    if params.keep {
        say.line(format!("kept {}", net.cluster.dir.display()));
    }
    Ok(report)
}

/// One validator's view of the drop, kept by [`watch_sold_out`].
struct SoldOutWatcher {
    /// When the series was first seen sold out.
    sold_out: Arc<Mutex<Option<Instant>>>,
    /// Editions minted at the last block.
    minted: Arc<Mutex<u32>>,
    _task: AbortOnDrop,
}

/// Aborts the watcher's task when the benchmark moves on.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Subscribes to every validator's blocks and, after each block, reads how
/// many editions of `series` it has minted, recording the instant the count
/// first reaches `editions` (and waking `changed`).
async fn watch_sold_out(
    urls: &[String],
    clients: &[HttpClient],
    series: keepsake_types::SeriesId,
    editions: u32,
    changed: &Arc<tokio::sync::Notify>,
) -> anyhow::Result<Vec<SoldOutWatcher>> {
    use jsonrpsee::ws_client::WsClientBuilder;
    let mut watchers = Vec::new();
    for (url, client) in urls.iter().zip(clients) {
        let ws = WsClientBuilder::default().build(url.replace("http://", "ws://")).await?;
        let mut blocks = ws.subscribe_blocks().await.map_err(describe)?;
        let (sold_out, minted) = (Arc::new(Mutex::new(None)), Arc::new(Mutex::new(0)));
        let (s, m, c, client) = (sold_out.clone(), minted.clone(), changed.clone(), client.clone());
        let task = tokio::spawn(async move {
            let _ws = ws;
            while let Some(Ok(_block)) = blocks.next().await {
                let Ok(info) = client.get_series(series).await else { continue };
                *m.lock().expect("not poisoned") = info.minted;
                if info.minted >= editions {
                    // After the read (a block committed since the notification
                    // may be the one that sold out): late by one RPC, never early.
                    s.lock().expect("not poisoned").get_or_insert_with(Instant::now);
                    c.notify_one();
                    return;
                }
            }
        });
        watchers.push(SoldOutWatcher { sold_out, minted, _task: AbortOnDrop(task) });
    }
    Ok(watchers)
}

/// Blocks in `from..=to` that hold at least one mint of `series`.
async fn count_blocks_with(
    client: &HttpClient,
    from: u64,
    to: u64,
    series: keepsake_types::SeriesId,
) -> anyhow::Result<u64> {
    let mut blocks = 0;
    for h in from..=to {
        let b = client.get_block(h).await.map_err(describe)?;
        if b.block
            .txs
            .iter()
            .any(|t| matches!(&t.body, TxBody::Mint { series_id, .. } if *series_id == series))
        {
            blocks += 1;
        }
    }
    Ok(blocks)
}

/// The steady phase: `rate` mints per second in 10 ms ticks, each tick's
/// mints to one validator in turn; finality from each node's block stream.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn steady_phase(
    rate: u32,
    seconds: u32,
    clients: &[HttpClient],
    urls: &[String],
    txs: Vec<SignedTx>,
    chain: &str,
    series: keepsake_types::SeriesId,
    say: &Say,
) -> anyhow::Result<SteadyFigures> {
    use jsonrpsee::ws_client::WsClientBuilder;
    let n = clients.len();
    // Commit times per (node, height), from each node's subscription.
    let commits: Arc<Mutex<HashMap<(usize, u64), Instant>>> = Arc::default();
    let mut subs = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let ws = WsClientBuilder::default().build(url.replace("http://", "ws://")).await?;
        let mut sub = ws.subscribe_blocks().await.map_err(describe)?;
        let commits = commits.clone();
        subs.push(tokio::spawn(async move {
            let _ws = ws;
            while let Some(Ok(b)) = sub.next().await {
                commits.lock().expect("not poisoned").insert((i, b.height), Instant::now());
            }
        }));
    }
    let first_height = clients[0].status().await.map_err(describe)?.height + 1;
    let per_tick = (rate as usize).div_ceil(100).max(1);
    let mut ticker = tokio::time::interval(Duration::from_millis(10));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut submitted: HashMap<TxId, (usize, Instant)> = HashMap::with_capacity(txs.len());
    let mut in_flight = Vec::new();
    let started = Instant::now();
    for (tick, chunk) in txs.chunks(per_tick).enumerate() {
        ticker.tick().await;
        let node = tick % n;
        let now = Instant::now();
        for tx in chunk {
            submitted.insert(tx.id(chain), (node, now));
        }
        let (c, chunk) = (clients[node].clone(), chunk.to_vec());
        in_flight.push(tokio::spawn(async move { c.submit_txs(chunk).await }));
    }
    let offered_secs = started.elapsed().as_secs_f64();
    for f in in_flight {
        let outcomes = f.await?.map_err(describe)?;
        if let Some(e) = outcomes.iter().find_map(|o| o.error.as_ref()) {
            bail!("a steady-load mint was refused: {}: {}", e.code, e.message);
        }
    }
    say.line(format!("steady: offered {} mints in {offered_secs:.1} s", txs.len()));
    let total = txs.len() as u32;
    let deadline = Instant::now() + Duration::from_secs(120);
    for c in clients {
        while c.get_series(series).await.map(|s| s.minted).unwrap_or(0) < total {
            if Instant::now() > deadline {
                bail!("the steady load was not committed on every validator within 120 s of its end");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Give the subscriptions a moment to deliver the last notifications.
    let last_height = clients[0].status().await.map_err(describe)?.height;
    let wait_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < wait_until {
        let all_seen = {
            let have = commits.lock().expect("not poisoned");
            (0..n).all(|i| have.contains_key(&(i, last_height)))
        };
        if all_seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for s in subs {
        s.abort();
    }
    let commits = commits.lock().expect("not poisoned").clone();
    let mut latencies = Vec::with_capacity(submitted.len());
    let mut last_commit = started;
    let mut blocks = 0;
    for h in first_height..=last_height {
        let b = clients[0].get_block(h).await.map_err(describe)?;
        blocks += 1;
        for tx in &b.block.txs {
            let Some((node, at)) = submitted.get(&tx.id(chain)) else { continue };
            let Some(done) = commits.get(&(*node, h)) else {
                bail!("node{node} sent no notification for block {h}");
            };
            latencies.push(done.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            last_commit = last_commit.max(*done);
        }
    }
    if latencies.len() != submitted.len() {
        bail!(
            "found {} of {} steady mints in blocks {first_height}..={last_height}",
            latencies.len(),
            submitted.len()
        );
    }
    latencies.sort_by(f64::total_cmp);
    let committed_secs = last_commit.saturating_duration_since(started).as_secs_f64();
    Ok(SteadyFigures {
        offered_tx_per_s: rate,
        seconds,
        txs: latencies.len(),
        committed_tx_per_s: latencies.len() as f64 / committed_secs,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        blocks,
    })
}

/// The validators' CPU during the drop per mint and validator, in µs.
fn cpu_micros_per_mint(d: &DropFigures, validators: usize) -> f64 {
    d.validators_cpu_seconds * 1e6 / f64::from(d.editions) / validators as f64
}

/// The cluster's bound, tx/s: every validator checks every transaction's
/// signature, so the machine's batch rate is shared by the validators.
fn bound_tx_per_s(batch_rate: f64, validators: usize) -> f64 {
    batch_rate / validators as f64
}

/// CPU per mint per validator (µs) over the cost of one signature check on
/// one core when `cores` cores check `batch_rate` signatures/s together.
fn signature_checks_per_mint(cpu_micros_per_mint: f64, batch_rate: f64, cores: usize) -> f64 {
    cpu_micros_per_mint * batch_rate / (cores as f64 * 1e6)
}

/// The validators' CPU over the drop's time on all cores.
fn validators_busy(d: &DropFigures, cores: usize) -> f64 {
    d.validators_cpu_seconds / (d.seconds_all_nodes * cores as f64)
}

fn print_table(r: &DropReport) {
    let d = &r.drop;
    println!();
    println!("{:<52} {:>14}", "figure", "value");
    println!("{}", "-".repeat(67));
    let row = |k: &str, v: String| println!("{k:<52} {v:>14}");
    row("validators (processes on this machine)", r.validators.to_string());
    row("cores", r.cores.to_string());
    row(
        "node batch verify of drop mints, all cores (sig/s)",
        format!("{:.0}", r.node_batch_verify_rate_all_cores),
    );
    row("dalek verify_batch of 64 keys, all cores (sig/s)", format!("{:.0}", r.batch_verify_rate_all_cores));
    row("single verify, one core (sig/s)", format!("{:.0}", r.strict_verify_rate_one_core));
    row("bound = node batch rate / validators (tx/s)", format!("{:.0}", r.bound_tx_per_s));
    row(
        &format!("drop of {}: sold out on all validators (s)", d.editions),
        format!("{:.3}", d.seconds_all_nodes),
    );
    row("drop throughput (tx/s)", format!("{:.0}", d.tx_per_s));
    row("drop throughput / bound", format!("{:.3}", d.fraction_of_bound));
    row("drop admission, slowest front end (s)", format!("{:.3}", d.submit_seconds));
    row("validators' CPU during the drop (s)", format!("{:.2}", d.validators_cpu_seconds));
    row("CPU per mint per validator (us)", format!("{:.0}", cpu_micros_per_mint(d, r.validators)));
    row("  the same in the bound's signature checks", format!("{:.2}", r.signature_checks_per_mint));
    row("validators' share of the cores during the drop", format!("{:.2}", r.validators_busy));
    row("drop throughput / dalek-64 bound (first yardstick)", format!("{:.3}", r.fraction_of_dalek_bound));
    row("validators' minor page faults during the drop", format!("{:.0}", d.validators_minor_faults));
    row("blocks carrying the drop", d.blocks.to_string());
    row("MempoolFull retries", d.mempool_full_retries.to_string());
    if let Some(s) = &r.steady {
        row(
            &format!("steady {} tx/s for {} s: finality p50 (ms)", s.offered_tx_per_s, s.seconds),
            format!("{:.1}", s.p50_ms),
        );
        row("steady finality p99 (ms)", format!("{:.1}", s.p99_ms));
        row("steady finality max (ms)", format!("{:.1}", s.max_ms));
        row("steady blocks", s.blocks.to_string());
    }
    row("bytes on disk per certificate (median node)", format!("{:.0}", r.disk_bytes_per_mint));
    for f in &r.nodes {
        row(&format!("{} peak RSS (MiB)", f.name), format!("{:.1}", f.peak_rss_mib));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&xs, 50.0), 50.0);
        assert_eq!(percentile(&xs, 99.0), 99.0);
        assert_eq!(percentile(&xs, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn the_fraction_of_the_bound_is_busy_over_signature_checks() {
        // 4 validators, 2 cores, 10,000 mints in 0.8 s using 1.44 s of CPU,
        // against a node batch rate of 120,000 signatures/s.
        let (validators, cores, batch_rate) = (4, 2, 120_000.0);
        let drop = DropFigures {
            editions: 10_000,
            seconds_all_nodes: 0.8,
            seconds_per_node: vec![0.8; validators],
            submit_seconds: 0.4,
            tx_per_s: 12_500.0,
            fraction_of_bound: 12_500.0 / bound_tx_per_s(batch_rate, validators),
            blocks: 3,
            mempool_full_retries: 0,
            gossip_tx_messages: vec![None; validators],
            validators_cpu_seconds: 1.44,
            validators_minor_faults: 0.0,
        };
        let checks = signature_checks_per_mint(cpu_micros_per_mint(&drop, validators), batch_rate, cores);
        // 36 µs per mint per validator against 16.67 µs per check.
        assert!((checks - 2.16).abs() < 1e-9, "{checks}");
        let busy = validators_busy(&drop, cores);
        assert!((busy - 0.9).abs() < 1e-9, "{busy}");
        assert!((drop.fraction_of_bound - busy / checks).abs() < 1e-9);
        assert!((drop.fraction_of_bound - 12_500.0 / 30_000.0).abs() < 1e-9);
    }

    #[test]
    fn signing_covers_every_edition_once() {
        let issuer = Keypair::from_seed([3; 32]);
        let series = keepsake_types::SeriesId([1; 32]);
        let txs = sign_mints("c", &issuer, series, 11);
        let mut editions: Vec<u32> = txs
            .iter()
            .map(|t| match t.body {
                TxBody::Mint { edition, .. } => edition,
                _ => 0,
            })
            .collect();
        editions.sort_unstable();
        assert_eq!(editions, (1..=11).collect::<Vec<_>>());
        let range: Vec<u32> = sign_mint_range("c", &issuer, series, 5, 9, "b")
            .iter()
            .map(|t| match t.body {
                TxBody::Mint { edition, .. } => edition,
                _ => 0,
            })
            .collect();
        assert_eq!(range, (5..=9).collect::<Vec<_>>());
        assert!(sign_mint_range("c", &issuer, series, 3, 2, "b").is_empty());
    }
}
