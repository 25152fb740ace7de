//! `keepsake-bench wan`: finality across a WAN.
//!
//! Each validator is a `keepsake start` process in a Linux network
//! namespace of its own; every byte between two validators goes through a
//! relay in the root namespace that holds it for half of `--rtt-ms` (plus
//! `--jitter-ms`, uniform, order kept): see `crates/wan`. Nodes run with the
//! defaults `keepsake testnet` writes. After an issuer and a series are set
//! up, it offers `--rate` mints per second for `--seconds` seconds, each
//! 10 ms tick's mints to one validator in turn (the steady phase of
//! `keepsake-bench drop`), and reports finality: submission until the
//! block holding the mint is committed on the node that received it (its
//! `subscribeBlocks` notification), measured by this client. Needs root and
//! `ip` (iproute2).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use keepsake::rpc_client::describe;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::{ContentHash, ReviewSubject, TxBody, hash::sha256, ids};
use keepsake_wan::{Wan, WanSpec};
use serde::Serialize;

use crate::drop::{Say, SteadyFigures, sign_mint_range, steady_phase};

/// Parameters of `keepsake-bench wan`.
#[derive(Clone, Debug)]
pub struct WanBench {
    /// Validators, one namespace each.
    pub validators: usize,
    /// Round-trip time between any two validators, ms (each direction gets half).
    pub rtt_ms: u64,
    /// Jitter of each direction, ms (uniform within plus or minus this).
    pub jitter_ms: u64,
    /// Offered mints per second.
    pub rate: u32,
    /// Seconds of offered load.
    pub seconds: u32,
    /// Print the figures as JSON on stdout.
    pub json: bool,
    /// Keep the directory (homes, node logs) after the run.
    pub keep: bool,
}

/// The figures of one run (`--json` prints this).
#[derive(Clone, Debug, Serialize)]
pub struct WanReport {
    /// Validators.
    pub validators: usize,
    /// Cores of this machine.
    pub cores: usize,
    /// Round-trip time between validators through the relay, ms.
    pub rtt_ms: u64,
    /// Jitter per direction, ms.
    pub jitter_ms: u64,
    /// The steady load: offered and committed rate, finality percentiles.
    pub steady: SteadyFigures,
    /// Bytes the relay delivered between validators during the whole run.
    pub relayed_bytes: u64,
}

/// Runs the benchmark and prints its table (or JSON).
pub async fn run(bin: &Path, params: WanBench) -> anyhow::Result<()> {
    if params.validators == 0 || params.rate == 0 || params.seconds == 0 {
        bail!("--validators, --rate and --seconds must be at least 1");
    }
    let say = Say(params.json);
    keepsake_wan::netns_available().context(
        "keepsake-bench wan runs validators in network namespaces: run it as root, with iproute2 installed",
    )?;
    say.line(format!(
        "keepsake-bench wan: {} validators in network namespaces, {} ms RTT (±{} ms jitter each way), \
         {} mints/s for {} s",
        params.validators, params.rtt_ms, params.jitter_ms, params.rate, params.seconds
    ));
    let dir = crate::tempfile_dir()?;
    let result = measure(bin, &params, &dir, &say).await;
    if params.keep {
        say.line(format!("kept {}", dir.display()));
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if params.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

async fn measure(bin: &Path, params: &WanBench, dir: &Path, say: &Say) -> anyhow::Result<WanReport> {
    let spec = WanSpec {
        bin: bin.to_path_buf(),
        validators: params.validators,
        spare_keys: 0,
        chain_id: "keepsake-bench".into(),
        one_way: Duration::from_millis(params.rtt_ms) / 2,
        spread: Duration::ZERO,
        jitter: Duration::from_millis(params.jitter_ms),
        seed: 1,
        tweak: |_| {},
    };
    let mut wan = Wan::start(&dir.join("testnet"), spec).await?;
    say.line(format!("directory: {}", dir.display()));
    let all: Vec<usize> = (0..params.validators).collect();
    wan.wait_height(&all, 1, Duration::from_secs(60)).await?;
    say.line("block 1 committed on every validator");

    let clients: Vec<_> = all.iter().map(|&k| wan.client(k)).collect();
    let chain = wan.genesis.chain_id.as_str().to_string();
    let total = params.rate.saturating_mul(params.seconds);
    let (g1, g2, issuer, reviewer) =
        (&wan.governors[0], &wan.governors[1], wan.issuer.clone(), wan.reviewer.clone());
    let name = "steady";
    let subject = ReviewSubject {
        issuer: issuer.public(),
        name: name.into(),
        content_hash: ContentHash(sha256(name.as_bytes()).0),
        max_supply: total,
        metadata_uri: "https://bench.example/wan.json".into(),
    };
    let setup = [
        TxBody::RegisterIssuer { issuer: issuer.public(), name: "wan issuer".into(), nonce: 1 }
            .sign(&chain, &[g1, g2]),
        TxBody::RegisterReviewer { reviewer: reviewer.public(), name: "wan reviewer".into(), nonce: 2 }
            .sign(&chain, &[g1, g2]),
        TxBody::CreateSeries {
            issuer: subject.issuer,
            name: name.into(),
            content_hash: subject.content_hash,
            max_supply: total,
            metadata_uri: subject.metadata_uri.clone(),
            approval: subject.approve(&chain, &reviewer),
        }
        .sign(&chain, &[&issuer]),
    ];
    for tx in setup {
        let id = clients[0].submit_tx(tx).await.map_err(describe)?;
        for c in &clients {
            crate::wait_committed(c, id).await?;
        }
    }
    let series = ids::series_id(&chain, &issuer.public(), name);
    let (c, i) = (chain.clone(), issuer.clone());
    let txs =
        tokio::task::spawn_blocking(move || sign_mint_range(&c, &i, series, 1, total, "wan-buyer")).await?;
    say.line(format!("issuer, reviewer and series committed; {} mints signed", txs.len()));
    let urls = wan.rpc_urls();
    let steady = steady_phase(params.rate, params.seconds, &clients, &urls, txs, &chain, series, say).await?;
    wan.check_alive()?;
    let relayed_bytes: u64 = wan.relay().links().map(|(_, s)| s.bytes()).sum();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(WanReport {
        validators: params.validators,
        cores,
        rtt_ms: params.rtt_ms,
        jitter_ms: params.jitter_ms,
        steady,
        relayed_bytes,
    })
}

fn print_table(r: &WanReport) {
    let s = &r.steady;
    println!();
    println!("{:<52} {:>14}", "figure", "value");
    println!("{}", "-".repeat(67));
    let row = |k: &str, v: String| println!("{k:<52} {v:>14}");
    row("validators (namespaces, one process each)", r.validators.to_string());
    row("cores", r.cores.to_string());
    row("RTT between validators (ms, through the relay)", r.rtt_ms.to_string());
    row("jitter each way (ms, uniform +/-)", r.jitter_ms.to_string());
    row("offered mints/s", s.offered_tx_per_s.to_string());
    row("seconds of load", s.seconds.to_string());
    row("mints committed", s.txs.to_string());
    row("committed mints/s", format!("{:.1}", s.committed_tx_per_s));
    row("finality p50 (ms, submit -> committed)", format!("{:.1}", s.p50_ms));
    row("finality p99 (ms)", format!("{:.1}", s.p99_ms));
    row("finality max (ms)", format!("{:.1}", s.max_ms));
    row("blocks", s.blocks.to_string());
    row("bytes through the relay", r.relayed_bytes.to_string());
}
