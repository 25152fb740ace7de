//! `keepsake-bench`: whole-node benchmarks, programs that print figures
//! (docs/benchmarks.md). They start `keepsake` processes: build both first,
//! `cargo build --release -p keepsake -p keepsake-bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use keepsake_bench::{catchup, cluster, drop, history, mint, stages, verify, wan};

/// Keepsake's whole-node benchmarks: real `keepsake` processes driven over
/// JSON-RPC (see docs/benchmarks.md).
#[derive(Parser, Debug)]
#[command(name = "keepsake-bench", version, long_about = None)]
struct Cli {
    /// The `keepsake` binary to run (default: the one next to this program,
    /// e.g. target/release/keepsake).
    #[arg(long, global = true, env = cluster::KEEPSAKE_BIN_ENV, display_order = 1000)]
    keepsake_bin: Option<PathBuf>,
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Mint throughput of a one-validator node over JSON-RPC, with this
    /// machine's signature-verification rate measured in the same run.
    Mint {
        /// Mints per run.
        #[arg(long, default_value_t = 10_000)]
        editions: u32,
        /// Transactions per submitTxs call.
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// A drop on a real local cluster: N validator processes, a burst of
    /// mints through JSON-RPC until sold out on every validator, then finality
    /// latency under a steady load; with this machine's verification bound.
    Drop {
        /// Validator processes to start.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Editions of the drop (all submitted at once).
        #[arg(long, default_value_t = 10_000)]
        editions: u32,
        /// Transactions per submitTxs call during the burst.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Offered mints per second in the steady phase (0 skips it).
        #[arg(long, default_value_t = 1_000)]
        rate: u32,
        /// Seconds of steady load.
        #[arg(long, default_value_t = 30)]
        seconds: u32,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Keep the cluster directory (homes, logs) after the run.
        #[arg(long)]
        keep: bool,
        /// Runs, each on a fresh cluster measuring its own bound; with more
        /// than one, the medians follow (at most 100).
        #[arg(long, default_value_t = 1)]
        runs: usize,
    },
    /// Offline certificate verifications per second on one core, one by one
    /// and as a batch, for certificates of a real local cluster.
    Verify {
        /// Validator processes of the chain the certificates come from.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Certificates to mint and verify.
        #[arg(long, default_value_t = 2_000)]
        certificates: u32,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// One validator's work per drop mint, stage by stage (gossip admission,
    /// proposal decode, body check, validation, commit), in-process on one
    /// thread with a temporary sled store; no cluster.
    Stages {
        /// Mints to time.
        #[arg(long, default_value_t = 20_000)]
        mints: usize,
        /// Mints per block.
        #[arg(long, default_value_t = 5_000)]
        block_txs: usize,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A chain grown to N certificates in drops, with memory, disk, mint
    /// rate, getCertificate and finality latency, and node 0's restart time
    /// measured at each of --checkpoints points; then a whole-chain audit.
    History {
        /// Certificates (bulk mints) the chain grows to.
        #[arg(long, default_value_t = 1_000_000)]
        certificates: u64,
        /// Validator processes to start.
        #[arg(long, default_value_t = 1)]
        validators: usize,
        /// Editions per drop (one series each).
        #[arg(long, default_value_t = 10_000)]
        drop_size: u32,
        /// Transactions per submitTxs call.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Measurement points, evenly spaced over the certificates.
        #[arg(long, default_value_t = 10)]
        checkpoints: u32,
        /// Print the report as JSON on stdout (progress is always on stderr).
        #[arg(long)]
        json: bool,
        /// Keep the cluster directory (homes, logs) after the run.
        #[arg(long)]
        keep: bool,
        /// Do not restart node 0 at each checkpoint (its memory then grows
        /// uninterrupted; no restart figures).
        #[arg(long)]
        no_restart: bool,
    },
    /// Finality across a WAN: each validator a process in a network
    /// namespace of its own, every byte between them through a relay that
    /// delays it by half the RTT (needs root and iproute2).
    Wan {
        /// Validators, one namespace each.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Round-trip time between any two validators, ms.
        #[arg(long, default_value_t = 50)]
        rtt_ms: u64,
        /// Jitter of each direction, ms (uniform, plus or minus; order kept).
        #[arg(long, default_value_t = 2)]
        jitter_ms: u64,
        /// Offered mints per second.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// Seconds of load.
        #[arg(long, default_value_t = 20)]
        seconds: u32,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Keep the directory (homes, node logs) after the run.
        #[arg(long)]
        keep: bool,
    },
    /// Catch-up of a fresh node: a chain of N certificates on a local
    /// consortium, then a new observer process syncs it (every commit and
    /// ledger rule verified); its tx/s against this machine's verify rate.
    Catchup {
        /// Certificates (mints) on the source chain.
        #[arg(long, default_value_t = 100_000)]
        certificates: u64,
        /// Validator processes of the source chain.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Editions per drop (one series each).
        #[arg(long, default_value_t = 10_000)]
        drop_size: u32,
        /// Transactions per submitTxs call while growing the chain.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Catch-ups timed, each by a fresh observer; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Print the report as JSON on stdout (progress on stderr).
        #[arg(long)]
        json: bool,
        /// Keep the cluster directory (homes, logs) after the run.
        #[arg(long)]
        keep: bool,
        /// Record the first catch-up with `perf record -g -p PID` into FILE.
        #[arg(long, value_name = "FILE")]
        perf: Option<PathBuf>,
        /// Also time observers running this other `keepsake` binary (a build
        /// before a change), alternating with this one, on the same chain.
        #[arg(long, value_name = "PATH")]
        compare_bin: Option<PathBuf>,
    },
    /// Whole-chain audit speed (`keepsake audit --data-dir`) over a dev chain
    /// of mints, and offline certificate verifications per second.
    Audit {
        /// Mints in the chain.
        #[arg(long, default_value_t = 10_000)]
        editions: u32,
        /// Audit runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    if let BenchCommand::Stages { mints, block_txs, json } = cli.command {
        // In-process: no `keepsake` binary, no runtime.
        return stages::run(mints, block_txs, json);
    }
    let bin = cluster::keepsake_bin(cli.keepsake_bin.as_deref())?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(async {
        match cli.command {
            BenchCommand::Mint { editions, batch, runs } => {
                mint::run_mint(&bin, mint::MintBench { editions, batch, runs }).await
            }
            BenchCommand::Drop { validators, editions, batch, rate, seconds, json, keep, runs } => {
                let params = drop::DropBench { validators, editions, batch, rate, seconds, json, keep, runs };
                drop::run(&bin, params).await
            }
            BenchCommand::Verify { validators, certificates, json } => {
                verify::run(&bin, validators, certificates, json).await
            }
            BenchCommand::Stages { .. } => unreachable!("run above, without a runtime"),
            BenchCommand::History {
                certificates,
                validators,
                drop_size,
                batch,
                checkpoints,
                json,
                keep,
                no_restart,
            } => {
                let params = history::HistoryBench {
                    certificates,
                    validators,
                    drop_size,
                    batch,
                    checkpoints,
                    json,
                    keep,
                    no_restart,
                };
                history::run(&bin, params).await
            }
            BenchCommand::Wan { validators, rtt_ms, jitter_ms, rate, seconds, json, keep } => {
                let params = wan::WanBench { validators, rtt_ms, jitter_ms, rate, seconds, json, keep };
                wan::run(&bin, params).await
            }
            BenchCommand::Catchup {
                certificates,
                validators,
                drop_size,
                batch,
                runs,
                json,
                keep,
                perf,
                compare_bin,
            } => {
                let params = catchup::CatchupBench {
                    certificates,
                    validators,
                    drop_size,
                    batch,
                    runs,
                    json,
                    keep,
                    perf,
                    compare_bin,
                };
                catchup::run(&bin, params).await
            }
            BenchCommand::Audit { editions, runs } => mint::run_audit(&bin, editions, runs).await,
        }
    })
}
