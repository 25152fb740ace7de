//! `keepsake-bench history`: a chain grown to `--certificates` mints on a
//! real local consortium, with the node's costs measured as the history grows.
//!
//! Starts `--validators` `keepsake start` processes (as `keepsake-bench drop`
//! does), then mints the certificates in drops: series `history-0`,
//! `history-1`, ... of `--drop-size` editions each (created when first
//! needed), every mint to its own holder. The chain is grown in
//! `--checkpoints` equal windows; a window's mints are signed in slices of at
//! most one drop (the client never holds more than one drop of signed
//! transactions), each slice **before** its clock starts (signing is the
//! client's cost, not the node's), then submitted through `submitTxs` in calls
//! of `--batch`, spread over every validator, retrying `MempoolFull`, until
//! every validator's `getSeries` counts the slice's last edition.
//!
//! At the end of each window ("a checkpoint") it measures, per validator:
//!
//! - **RSS** now (`VmRSS`) and the peak (`VmHWM`) from `/proc/PID/status`:
//!   the peak is since the process started, so node 0's covers only the
//!   window since its last restart (below);
//! - **heap in use**: the gauge `keepsake_heap_allocated_bytes` of the
//!   node's `GET /metrics` (same port as JSON-RPC), or none if the node does
//!   not export it;
//! - **disk**: bytes of the node's `data/` directory, absolute and per
//!   certificate on the chain (the bulk mints plus the probes below);
//! - **mint rate of the window**: the window's certificates divided by the
//!   sum of its slices' timed spans (first submission until every validator
//!   counts the slice's last edition);
//! - **`getCertificate` latency**: 200 certificate ids drawn uniformly from
//!   everything minted so far (the whole history, not the last drop), fetched
//!   one after the other from each validator, each call timed; p50 and p99;
//! - **finality latency** (after the bulk of the window, on the idle chain):
//!   100 single mints of a separate `probe` series, one at a time, each to
//!   the next validator in turn, timed from `submitTx` until that validator's
//!   `getTxStatus` answers committed (polled every 5 ms, as the
//!   single-node benchmark waits); p50, p99 and max. This is the finality of
//!   a lone mint at that chain size (a block of one transaction: its
//!   storage, consensus and commit), not under a backlog;
//! - **restart time** (unless `--no-restart`): node 0 alone is stopped
//!   cleanly (SIGTERM, as at the end of every benchmark) and started again
//!   on the same home; the figures are the seconds until it exited, the
//!   seconds from its start until `GET /health` answers 200 and JSON-RPC
//!   `status` answers, its RSS then, and (with several validators) the
//!   seconds until it caught up with node 1's height and reconnected to
//!   every other validator (untimed for the next window). The other validators
//!   keep running, so with several validators they show the memory of an
//!   uninterrupted node while node 0 shows a node restarted each checkpoint.
//!
//! Then it prints a projection: the least-squares slope of RSS (bytes per
//! certificate) over the checkpoints from the one nearest 100,000
//! certificates to the last, and the RSS at 10,000,000 certificates on that
//! line (the RSS is the median over the validators never restarted, or node
//! 0's with one validator). Finally it stops the cluster and times
//! `keepsake audit --data-dir` over node 0's data directory (a whole-chain
//! replay): transactions per second.
//!
//! Progress goes to stderr; the table (or, with `--json`, a
//! [`HistoryReport`]) to stdout. See docs/benchmarks.md.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use keepsake::rpc_client::describe;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::{SignedTx, ids};
use serde::Serialize;

use crate::drop::{Consortium, Say, percentile, sign_mint_range, submit_all};
use crate::{dir_size, median, wait_committed};

/// Certificate ids fetched per validator at each checkpoint.
const GET_SAMPLES: usize = 200;
/// Single probe mints timed at each checkpoint.
const PROBES: u32 = 100;
/// The chain size the projection extrapolates to.
const PROJECT_TO: f64 = 10_000_000.0;
/// The projection's slope starts at the checkpoint nearest this size.
const SLOPE_FROM: f64 = 100_000.0;
/// The heap gauge read from `/metrics`.
const HEAP_GAUGE: &str = "keepsake_heap_allocated_bytes";

/// Parameters of `keepsake-bench history`.
#[derive(Clone, Debug)]
pub struct HistoryBench {
    /// Certificates (bulk mints) the chain grows to.
    pub certificates: u64,
    /// Validator processes.
    pub validators: usize,
    /// Editions per drop (one series each).
    pub drop_size: u32,
    /// Transactions per `submitTxs` call.
    pub batch: usize,
    /// Measurement points, evenly spaced.
    pub checkpoints: u32,
    /// Print a [`HistoryReport`] as JSON on stdout.
    pub json: bool,
    /// Keep the cluster's directory.
    pub keep: bool,
    /// Do not restart node 0 at each checkpoint.
    pub no_restart: bool,
}

/// The figures of a run (`--json` prints this).
#[derive(Clone, Debug, Serialize)]
pub struct HistoryReport {
    /// Validator processes.
    pub validators: usize,
    /// Cores of this machine.
    pub cores: usize,
    /// Target certificates (bulk mints).
    pub certificates: u64,
    /// Editions per drop.
    pub drop_size: u32,
    /// Transactions per `submitTxs` call.
    pub batch: usize,
    /// Whether node 0 was restarted at each checkpoint.
    pub restarts: bool,
    /// One entry per checkpoint, in order.
    pub checkpoints: Vec<Checkpoint>,
    /// RSS growth and its extrapolation (absent with fewer than two points).
    pub projection: Option<Projection>,
    /// The final whole-chain audit of node 0's data directory.
    pub audit: Option<AuditFigures>,
    /// Seconds of the whole run.
    pub total_seconds: f64,
}

/// The figures at one checkpoint. Per-validator arrays are indexed by node.
#[derive(Clone, Debug, Serialize)]
pub struct Checkpoint {
    /// 1-based.
    pub index: usize,
    /// Bulk certificates minted so far.
    pub certificates: u64,
    /// Certificates on the chain (bulk and probes).
    pub certificates_on_chain: u64,
    /// Node 0's height after the window.
    pub height: u64,
    /// Bulk certificates minted in this window.
    pub window_certificates: u64,
    /// Timed seconds of the window (signing excluded).
    pub window_seconds: f64,
    /// `window_certificates / window_seconds`.
    pub mint_rate: f64,
    /// `MempoolFull` answers retried in the window.
    pub mempool_full_retries: u64,
    /// Resident set now, MiB.
    pub rss_mib: Vec<f64>,
    /// Peak resident set since the process started, MiB.
    pub peak_rss_mib: Vec<f64>,
    /// `keepsake_heap_allocated_bytes` in MiB, if the node exports it.
    pub heap_mib: Vec<Option<f64>>,
    /// Bytes of `data/`.
    pub disk_bytes: Vec<u64>,
    /// `disk_bytes / certificates_on_chain`.
    pub disk_bytes_per_certificate: Vec<f64>,
    /// `getCertificate` latency of random ids over the whole history, ms, per node.
    pub get_certificate_p50_ms: Vec<f64>,
    /// 99th percentile, ms, per node.
    pub get_certificate_p99_ms: Vec<f64>,
    /// Finality of a lone mint (submit until committed on the receiving node), ms.
    pub finality_p50_ms: f64,
    /// 99th percentile, ms.
    pub finality_p99_ms: f64,
    /// Largest, ms.
    pub finality_max_ms: f64,
    /// Node 0's restart after the measurements (absent with `--no-restart`).
    pub restart: Option<Restart>,
    /// Seconds since the cluster was up.
    pub elapsed_seconds: f64,
}

/// Node 0's clean restart.
#[derive(Clone, Debug, Serialize)]
pub struct Restart {
    /// SIGTERM until the process exited.
    pub stop_seconds: f64,
    /// Start until `/health` answered 200 and `status` answered.
    pub healthy_seconds: f64,
    /// Start until its height reached node 1's and it was connected to every
    /// other validator again (0 with one validator).
    pub caught_up_seconds: f64,
    /// Its RSS once healthy, MiB.
    pub rss_after_mib: f64,
}

/// RSS growth over the run and its extrapolation.
#[derive(Clone, Debug, Serialize)]
pub struct Projection {
    /// Which RSS series the fit uses.
    pub series: String,
    /// Certificates of the first checkpoint of the fit.
    pub from_certificates: u64,
    /// Certificates of the last.
    pub to_certificates: u64,
    /// Least-squares slope, bytes of RSS per certificate.
    pub bytes_per_certificate: f64,
    /// The fitted line at 10,000,000 certificates, MiB.
    pub rss_at_10m_mib: f64,
}

/// `keepsake audit --data-dir` over node 0's data after the run.
#[derive(Clone, Debug, Serialize)]
pub struct AuditFigures {
    /// Wall seconds of the `keepsake audit` process.
    pub seconds: f64,
    /// Blocks verified.
    pub blocks: u64,
    /// Transactions verified.
    pub transactions: u64,
    /// `transactions / seconds`.
    pub tx_per_s: f64,
    /// The audit's verdict.
    pub passed: bool,
}

/// The bulk certificate counts at which checkpoints fall: `i * n / k` for
/// `i` in `1..=k`, without repeats or zero (fewer than `k` if `n < k`).
pub fn checkpoint_targets(n: u64, k: u32) -> Vec<u64> {
    let k = u64::from(k.max(1));
    let mut out: Vec<u64> = (1..=k).map(|i| i * n / k).filter(|&t| t > 0).collect();
    out.dedup();
    out
}

/// Certificates `from..to` (0-based over the whole run) cut into slices that
/// stay inside one drop: `(drop index, first edition, last edition)`, editions 1-based.
pub fn slices(from: u64, to: u64, drop_size: u32) -> Vec<(u64, u32, u32)> {
    let d = u64::from(drop_size.max(1));
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let drop = at / d;
        let end = to.min((drop + 1) * d);
        out.push((drop, (at - drop * d) as u32 + 1, (end - drop * d) as u32));
        at = end;
    }
    out
}

/// Least-squares slope of `y` over `x` (`None` with fewer than two distinct `x`).
pub fn slope(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let b = sxy / sxx;
    Some((b, my - b * mx))
}

/// The projection from `(certificates, RSS bytes)` points in checkpoint
/// order: the fit over the points from the one nearest 100,000 to the last.
pub fn project(points: &[(u64, f64)], series: &str) -> Option<Projection> {
    let start = points
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1.0 as f64 - SLOPE_FROM).abs().total_cmp(&(b.1.0 as f64 - SLOPE_FROM).abs()))?
        .0;
    let fit: Vec<(f64, f64)> =
        points[start..].iter().filter(|p| p.1.is_finite()).map(|p| (p.0 as f64, p.1)).collect();
    let (b, a) = slope(&fit)?;
    Some(Projection {
        series: series.into(),
        from_certificates: points[start].0,
        to_certificates: points.last()?.0,
        bytes_per_certificate: b,
        rss_at_10m_mib: (a + b * PROJECT_TO) / (1024.0 * 1024.0),
    })
}

/// The value of the Prometheus sample `name` (no labels, or the first
/// labelled one) in a text exposition.
pub fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            return None;
        }
        rest.split_whitespace().last()?.parse().ok()
    })
}

/// A small deterministic generator (splitmix64) for the sampled ids.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// `GET path` on `url`'s host (HTTP/1.1, one connection): status and body.
pub(crate) async fn http_get(url: &str, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(&host).await?;
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        anyhow::Ok(buf)
    };
    let buf = tokio::time::timeout(Duration::from_secs(5), fetch).await.context("GET timed out")??;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no HTTP status")?;
    Ok((status, body.to_string()))
}

pub(crate) fn series_name(drop: u64) -> String {
    format!("history-{drop}")
}

/// Runs the benchmark and prints its table (or JSON).
pub async fn run(bin: &Path, params: HistoryBench) -> anyhow::Result<()> {
    if params.validators == 0
        || params.certificates == 0
        || params.drop_size == 0
        || params.batch == 0
        || params.checkpoints == 0
    {
        bail!("--certificates, --validators, --drop-size, --batch and --checkpoints must be at least 1");
    }
    let say = Say(true);
    let targets = checkpoint_targets(params.certificates, params.checkpoints);
    say.line(format!(
        "keepsake-bench history: {} certificates on {} validator(s), drops of {}, {} checkpoints{}",
        params.certificates,
        params.validators,
        params.drop_size,
        targets.len(),
        if params.no_restart { ", no restarts" } else { "" }
    ));
    let run_started = Instant::now();
    let mut net = Consortium::launch(bin, params.validators, params.keep, &say).await?;
    let n = net.clients.len();
    let (chain, issuer) = (net.chain.clone(), net.issuer.clone());
    let probe_supply = PROBES * targets.len() as u32;
    net.create_series("probe", probe_supply).await?;
    let probe_series = net.series_id("probe");
    let probes = {
        let (c, i) = (chain.clone(), issuer.clone());
        tokio::task::spawn_blocking(move || sign_mint_range(&c, &i, probe_series, 1, probe_supply, "probe"))
            .await?
    };
    let mut probes = probes.into_iter();
    let up = Instant::now();
    let mut checkpoints = Vec::new();
    let mut done = 0u64;
    let mut probes_done = 0u64;
    for (index, &target) in targets.iter().enumerate() {
        // ---- The window: bulk mints, slice by slice ------------------------
        let mut window_seconds = 0.0;
        let mut retries = 0;
        for (drop, first, last) in slices(done, target, params.drop_size) {
            let name = series_name(drop);
            if first == 1 {
                net.create_series(&name, params.drop_size).await?;
            }
            let series = net.series_id(&name);
            let (c, i) = (chain.clone(), issuer.clone());
            let buyer = format!("history-buyer-{drop}");
            let txs =
                tokio::task::spawn_blocking(move || sign_mint_range(&c, &i, series, first, last, &buyer))
                    .await?;
            let (secs, r) = mint_slice(&mut net, txs, params.batch, series, last).await?;
            window_seconds += secs;
            retries += r;
        }
        let window_certificates = target - done;
        done = target;

        // ---- Measurements --------------------------------------------------
        let rss_mib: Vec<f64> = (0..n).map(|i| net.cluster.rss_mib(i)).collect();
        let peak_rss_mib: Vec<f64> = (0..n).map(|i| net.cluster.peak_rss_mib(i)).collect();
        let mut heap_mib = Vec::new();
        for url in &net.urls {
            let heap = match http_get(url, "/metrics").await {
                Ok((200, body)) => gauge(&body, HEAP_GAUGE).map(|b| b / (1024.0 * 1024.0)),
                _ => None,
            };
            heap_mib.push(heap);
        }
        let disk_bytes: Vec<u64> = net.cluster.homes.iter().map(|h| dir_size(&h.join("data"))).collect();
        let on_chain = done + probes_done;
        let disk_bytes_per_certificate: Vec<f64> =
            disk_bytes.iter().map(|&b| b as f64 / on_chain as f64).collect();
        let mut rng = SplitMix(random_seed()?);
        let sample: Vec<keepsake_types::CertificateId> = (0..GET_SAMPLES)
            .map(|_| {
                let k = rng.next() % done;
                let drop = k / u64::from(params.drop_size);
                let edition = (k % u64::from(params.drop_size)) as u32 + 1;
                ids::certificate_id(&chain, &net.series_id(&series_name(drop)), edition)
            })
            .collect();
        let mut get_p50 = Vec::new();
        let mut get_p99 = Vec::new();
        for c in &net.clients {
            let mut ms = Vec::with_capacity(sample.len());
            for id in &sample {
                let t = Instant::now();
                c.get_certificate(*id).await.map_err(describe).context("getCertificate of a minted id")?;
                ms.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            ms.sort_by(f64::total_cmp);
            get_p50.push(percentile(&ms, 50.0));
            get_p99.push(percentile(&ms, 99.0));
        }
        let mut finality = Vec::with_capacity(PROBES as usize);
        for j in 0..PROBES as usize {
            let tx = probes.next().context("a signed probe mint")?;
            let c = &net.clients[j % n];
            let t = Instant::now();
            let id = c.submit_tx(tx).await.map_err(describe).context("a probe mint")?;
            wait_committed(c, id).await?;
            finality.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        probes_done += u64::from(PROBES);
        finality.sort_by(f64::total_cmp);
        let height = net.clients[0].status().await.map_err(describe)?.height;
        let restart = if params.no_restart { None } else { Some(restart_node0(&mut net).await?) };
        let cp = Checkpoint {
            index: index + 1,
            certificates: done,
            certificates_on_chain: done + probes_done,
            height,
            window_certificates,
            window_seconds,
            mint_rate: window_certificates as f64 / window_seconds,
            mempool_full_retries: retries,
            rss_mib,
            peak_rss_mib,
            heap_mib,
            disk_bytes,
            disk_bytes_per_certificate,
            get_certificate_p50_ms: get_p50,
            get_certificate_p99_ms: get_p99,
            finality_p50_ms: percentile(&finality, 50.0),
            finality_p99_ms: percentile(&finality, 99.0),
            finality_max_ms: finality.last().copied().unwrap_or(f64::NAN),
            restart,
            elapsed_seconds: up.elapsed().as_secs_f64(),
        };
        say.line(progress_line(&cp, targets.len()));
        checkpoints.push(cp);
    }

    // ---- Projection, then the audit of node 0's data ----------------------
    let (series, points) = rss_series(&checkpoints, n, !params.no_restart);
    let projection = project(&points, &series);
    net.cluster.stop();
    say.line("cluster stopped; auditing node 0's data directory (keepsake audit --data-dir)");
    let audit = match audit_node0(bin, &net).await {
        Ok(a) => Some(a),
        Err(e) => {
            say.line(format!("the audit could not run: {e:#}"));
            None
        }
    };
    let report = HistoryReport {
        validators: n,
        cores: std::thread::available_parallelism().map_or(1, |c| c.get()),
        certificates: params.certificates,
        drop_size: params.drop_size,
        batch: params.batch,
        restarts: !params.no_restart,
        checkpoints,
        projection,
        audit,
        total_seconds: run_started.elapsed().as_secs_f64(),
    };
    if params.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        // The table too, on stderr with the progress.
        let mut err = std::io::stderr().lock();
        write_table(&mut err, &report)?;
    } else {
        write_table(&mut std::io::stdout().lock(), &report)?;
    }
    if params.keep {
        say.line(format!("kept {}", net.cluster.dir.display()));
    }
    Ok(())
}

fn random_seed() -> anyhow::Result<u64> {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).context("OS randomness")?;
    Ok(u64::from_le_bytes(b))
}

/// Submits one slice (spread over the validators) and waits until every
/// validator counts `last` editions of `series`. Returns the timed seconds
/// and the `MempoolFull` retries.
pub(crate) async fn mint_slice(
    net: &mut Consortium,
    txs: Vec<SignedTx>,
    batch: usize,
    series: keepsake_types::SeriesId,
    last: u32,
) -> anyhow::Result<(f64, u64)> {
    let n = net.clients.len();
    let mut shares: Vec<Vec<SignedTx>> = vec![Vec::new(); n];
    for (i, tx) in txs.into_iter().enumerate() {
        shares[i % n].push(tx);
    }
    let started = Instant::now();
    let submitters: Vec<_> = shares
        .into_iter()
        .zip(&net.clients)
        .map(|(share, c)| tokio::spawn(submit_all(c.clone(), share, batch)))
        .collect();
    let mut retries = 0;
    for s in submitters {
        retries += s.await??.1;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    for (i, c) in net.clients.iter().enumerate() {
        loop {
            if c.get_series(series).await.map(|s| s.minted).unwrap_or(0) >= last {
                break;
            }
            if let Some((j, status)) = net.cluster.exited() {
                bail!("node{j} exited ({status}); see its log in {}", net.cluster.dir.display());
            }
            if Instant::now() > deadline {
                bail!("node{i} did not commit a slice of the history within 600 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok((started.elapsed().as_secs_f64(), retries))
}

/// Stops node 0 cleanly, starts it again on the same home and times it.
async fn restart_node0(net: &mut Consortium) -> anyhow::Result<Restart> {
    let stop_seconds = tokio::task::block_in_place(|| net.cluster.stop_one(0));
    net.cluster.start_one(0)?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    let (url, client) = (net.urls[0].clone(), net.clients[0].clone());
    loop {
        if let Ok((200, _)) = http_get(&url, "/health").await
            && client.status().await.is_ok()
        {
            break;
        }
        if let Some((j, status)) = net.cluster.exited() {
            bail!(
                "node{j} exited during node0's restart ({status}); see its log in {}",
                net.cluster.dir.display()
            );
        }
        if Instant::now() > deadline {
            bail!("node0 was not healthy within 600 s of its restart");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let healthy_seconds = started.elapsed().as_secs_f64();
    let rss_after_mib = net.cluster.rss_mib(0);
    let mut caught_up_seconds = 0.0;
    let n = net.clients.len();
    if n > 1 {
        let other = net.clients[1].status().await.map_err(describe)?.height;
        net.cluster.wait_for_height(&net.clients[..1], other).await?;
        // And connected to every other validator again (else its share of
        // the next window would wait for gossip to reach the proposers).
        loop {
            let peers = match http_get(&url, "/health").await {
                Ok((200, body)) => serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["peers"].as_u64())
                    .unwrap_or(0),
                _ => 0,
            };
            if peers >= n as u64 - 1 {
                break;
            }
            if Instant::now() > deadline {
                bail!("node0 did not reconnect to its {} peers within 600 s of its restart", n - 1);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        caught_up_seconds = started.elapsed().as_secs_f64();
    }
    Ok(Restart { stop_seconds, healthy_seconds, caught_up_seconds, rss_after_mib })
}

/// The RSS series of the projection: the median over the validators never
/// restarted, else node 0's. Returns its description and `(certificates, bytes)`.
fn rss_series(checkpoints: &[Checkpoint], n: usize, restarts: bool) -> (String, Vec<(u64, f64)>) {
    let steady: Vec<usize> = if restarts { (1..n).collect() } else { (0..n).collect() };
    let (label, nodes) = match (steady.is_empty(), restarts) {
        (true, _) => ("node 0 (restarted at each checkpoint: RSS since its last start)".to_string(), vec![0]),
        (false, true) => (format!("median of nodes 1..{} (never restarted)", n - 1), steady),
        (false, false) => ("median of all validators".to_string(), steady),
    };
    let points = checkpoints
        .iter()
        .map(|c| {
            let rss = median(nodes.iter().map(|&i| c.rss_mib[i]).collect());
            (c.certificates, rss * 1024.0 * 1024.0)
        })
        .collect();
    (label, points)
}

/// Times `keepsake audit --data-dir HOME0/data --genesis HOME0/genesis.json --json`.
async fn audit_node0(bin: &Path, net: &Consortium) -> anyhow::Result<AuditFigures> {
    let home = net.cluster.homes[0].clone();
    let bin = bin.to_path_buf();
    let (secs, out) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let out = Command::new(&bin)
            .arg("audit")
            .arg("--genesis")
            .arg(home.join("genesis.json"))
            .arg("--data-dir")
            .arg(home.join("data"))
            .arg("--json")
            .stdin(Stdio::null())
            .output();
        (t.elapsed().as_secs_f64(), out)
    })
    .await?;
    let out = out.context("running keepsake audit")?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "keepsake audit ({}) printed no JSON report: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let transactions: u64 = report["transactions"]
        .as_object()
        .map(|m| m.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    Ok(AuditFigures {
        seconds: secs,
        blocks: report["verified_height"].as_u64().unwrap_or(0),
        transactions,
        tx_per_s: transactions as f64 / secs,
        passed: report["passed"].as_bool().unwrap_or(false),
    })
}

fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NAN, f64::max)
}

fn heap_text(heap: &[Option<f64>]) -> String {
    let known: Vec<f64> = heap.iter().flatten().copied().collect();
    if known.is_empty() { "-".into() } else { format!("{:.0}", max(&known)) }
}

fn progress_line(c: &Checkpoint, total: usize) -> String {
    let list = |xs: &[f64]| xs.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ");
    let restart = match &c.restart {
        Some(r) => {
            format!(", node0 restart: stop {:.2} s, healthy {:.2} s", r.stop_seconds, r.healthy_seconds)
        }
        None => String::new(),
    };
    format!(
        "checkpoint {}/{total}: {} certificates (height {}), {:.0} mints/s, RSS MiB [{}] peak [{}], heap MiB {}, \
         disk {:.0} B/cert ({:.0} MiB), getCertificate p50/p99 {:.2}/{:.2} ms, finality p50/p99 {:.1}/{:.1} ms{restart}, {:.0} s",
        c.index,
        c.certificates,
        c.height,
        c.mint_rate,
        list(&c.rss_mib),
        list(&c.peak_rss_mib),
        heap_text(&c.heap_mib),
        median(c.disk_bytes_per_certificate.clone()),
        median(c.disk_bytes.iter().map(|&b| b as f64).collect()) / (1024.0 * 1024.0),
        max(&c.get_certificate_p50_ms),
        max(&c.get_certificate_p99_ms),
        c.finality_p50_ms,
        c.finality_p99_ms,
        c.elapsed_seconds,
    )
}

fn write_table(out: &mut impl std::io::Write, r: &HistoryReport) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "history: {} validator(s), {} cores, drops of {}, submitTxs of {}{}",
        r.validators,
        r.cores,
        r.drop_size,
        r.batch,
        if r.restarts { ", node 0 restarted at each checkpoint" } else { "" }
    )?;
    writeln!(
        out,
        "{:>9} {:>7} {:>11} {:>6} {:>6} {:>7} {:>7} {:>11} {:>11} {:>7} {:>7}",
        "certs",
        "mint/s",
        "RSS med/max",
        "peak",
        "heap",
        "B/cert",
        "disk",
        "getCert ms",
        "final ms",
        "restart",
        "RSS0"
    )?;
    writeln!(
        out,
        "{:>9} {:>7} {:>11} {:>6} {:>6} {:>7} {:>7} {:>11} {:>11} {:>7} {:>7}",
        "", "", "MiB", "MiB", "MiB", "", "MiB", "p50/p99", "p50/p99", "s", "after"
    )?;
    writeln!(out, "{}", "-".repeat(101))?;
    for c in &r.checkpoints {
        let (restart, after) = match &c.restart {
            Some(x) => (format!("{:.2}", x.healthy_seconds), format!("{:.0}", x.rss_after_mib)),
            None => ("-".into(), "-".into()),
        };
        writeln!(
            out,
            "{:>9} {:>7.0} {:>11} {:>6.0} {:>6} {:>7.0} {:>7.0} {:>11} {:>11} {:>7} {:>7}",
            c.certificates,
            c.mint_rate,
            format!("{:.0}/{:.0}", median(c.rss_mib.clone()), max(&c.rss_mib)),
            max(&c.peak_rss_mib),
            heap_text(&c.heap_mib),
            median(c.disk_bytes_per_certificate.clone()),
            median(c.disk_bytes.iter().map(|&b| b as f64).collect()) / (1024.0 * 1024.0),
            format!("{:.2}/{:.2}", max(&c.get_certificate_p50_ms), max(&c.get_certificate_p99_ms)),
            format!("{:.0}/{:.0}", c.finality_p50_ms, c.finality_p99_ms),
            restart,
            after,
        )?;
    }
    writeln!(out)?;
    match &r.projection {
        Some(p) if p.bytes_per_certificate <= 0.0 => writeln!(
            out,
            "RSS growth {:.0} bytes/certificate ({}..{} certificates, least squares, {}): no growth to \
             project; RSS at the last checkpoint: {:?} MiB",
            p.bytes_per_certificate,
            p.from_certificates,
            p.to_certificates,
            p.series,
            r.checkpoints.last().map(|c| c.rss_mib.clone()).unwrap_or_default()
        ),
        Some(p) => writeln!(
            out,
            "RSS growth {:.0} bytes/certificate ({}..{} certificates, least squares, {}); \
             projected RSS at 10,000,000 certificates: {:.0} MiB",
            p.bytes_per_certificate, p.from_certificates, p.to_certificates, p.series, p.rss_at_10m_mib
        ),
        None => {
            writeln!(out, "RSS projection: n/a (fewer than two checkpoints from the one nearest 100,000)")
        }
    }?;
    match &r.audit {
        Some(a) => writeln!(
            out,
            "audit of node 0's data (keepsake audit --data-dir): {:.1} s for {} blocks and {} transactions = {:.0} tx/s{}",
            a.seconds,
            a.blocks,
            a.transactions,
            a.tx_per_s,
            if a.passed { "" } else { " (FAILED)" }
        ),
        None => writeln!(out, "audit: did not run (see the progress output)"),
    }?;
    writeln!(out, "total: {:.0} s", r.total_seconds)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_evenly_spaced_and_end_at_the_target() {
        assert_eq!(checkpoint_targets(1_000_000, 10)[0], 100_000);
        assert_eq!(checkpoint_targets(1_000_000, 10).len(), 10);
        assert_eq!(checkpoint_targets(1_000_000, 10).last(), Some(&1_000_000));
        assert_eq!(checkpoint_targets(20_005, 4), vec![5001, 10002, 15003, 20005]);
        assert_eq!(checkpoint_targets(3, 10), vec![1, 2, 3]);
        assert_eq!(checkpoint_targets(7, 0), vec![7]);
    }

    #[test]
    fn slices_stay_inside_one_drop_and_cover_the_window() {
        assert_eq!(slices(0, 2000, 5000), vec![(0, 1, 2000)]);
        assert_eq!(slices(4000, 6000, 5000), vec![(0, 4001, 5000), (1, 1, 1000)]);
        assert_eq!(slices(0, 25_000, 10_000), vec![(0, 1, 10_000), (1, 1, 10_000), (2, 1, 5000)]);
        assert!(slices(10, 10, 5).is_empty());
        let total: u64 = slices(123, 98_765, 777).iter().map(|s| u64::from(s.2 - s.1 + 1)).sum();
        assert_eq!(total, 98_765 - 123);
    }

    #[test]
    fn the_slope_is_least_squares_and_the_projection_starts_near_100k() {
        let (b, a) = slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert!((b - 2.0).abs() < 1e-9 && (a - 1.0).abs() < 1e-9);
        assert!(slope(&[(1.0, 1.0)]).is_none());
        assert!(slope(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
        // 100 bytes per certificate from 100k on, a bump before it that the fit ignores.
        let mib = 1024.0 * 1024.0;
        let points: Vec<(u64, f64)> = (1..=10u64)
            .map(|i| {
                let c = i * 100_000;
                (c, 50.0 * mib + 100.0 * c as f64)
            })
            .chain(std::iter::once((1_100_000, 50.0 * mib + 100.0 * 1_100_000.0)))
            .collect();
        let mut with_bump = vec![(50_000u64, 500.0 * mib)];
        with_bump.extend(points);
        let p = project(&with_bump, "x").unwrap();
        assert_eq!(p.from_certificates, 100_000);
        assert_eq!(p.to_certificates, 1_100_000);
        assert!((p.bytes_per_certificate - 100.0).abs() < 1e-6, "{}", p.bytes_per_certificate);
        let expected = 50.0 + 100.0 * PROJECT_TO / mib;
        assert!((p.rss_at_10m_mib - expected).abs() < 1e-6);
        // One point from the one nearest 100k on: no projection.
        assert!(project(&[(2000, 1.0), (20_000, 2.0)], "x").is_none());
    }

    #[test]
    fn the_heap_gauge_is_read_from_the_exposition() {
        let text = "# HELP keepsake_heap_allocated_bytes Heap.\n# TYPE keepsake_heap_allocated_bytes gauge\n\
                    keepsake_heap_allocated_bytes_total 9\nkeepsake_heap_allocated_bytes 1048576\n";
        assert_eq!(gauge(text, HEAP_GAUGE), Some(1_048_576.0));
        assert_eq!(gauge("keepsake_height 7\n", HEAP_GAUGE), None);
        assert_eq!(gauge("keepsake_heap_allocated_bytes{kind=\"x\"} 5\n", HEAP_GAUGE), Some(5.0));
    }
}
