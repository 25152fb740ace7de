//! `keepsake audit`: the command line of the auditor (see [`crate::audit`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::common::read_genesis;

#[derive(Args, Debug)]
pub(super) struct AuditArgs {
    /// The chain's genesis file (the only thing trusted).
    #[arg(long)]
    genesis: PathBuf,
    /// A stopped node's data directory (HOME/data) or a copy of it.
    #[arg(long, conflicts_with = "rpc")]
    data_dir: Option<PathBuf>,
    /// A node's JSON-RPC URL; repeat with --follow to watch several nodes.
    /// Without --rpc and --data-dir: $KEEPSAKE_RPC, else http://127.0.0.1:8645.
    #[arg(long)]
    rpc: Vec<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// After the audit, keep following the nodes: replay each new block of
    /// the first, check every node's new checkpoints for forks and rewrites.
    #[arg(long, conflicts_with = "data_dir")]
    follow: bool,
    /// Polling interval of --follow, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// With --follow: stop, passing, once every node reached this height.
    #[arg(long, requires = "follow")]
    until_height: Option<u64>,
}

/// `keepsake audit`: exit 0 pass, 1 anomaly or alert, 2 could not audit.
pub(super) async fn run(args: AuditArgs) -> ExitCode {
    match audit(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("audit could not run: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn audit(mut args: AuditArgs) -> anyhow::Result<ExitCode> {
    use crate::audit::{FollowEnd, FollowOptions, Progress};
    let genesis = read_genesis(&args.genesis)?;
    if args.data_dir.is_none() && args.rpc.is_empty() {
        args.rpc.push(std::env::var("KEEPSAKE_RPC").unwrap_or_else(|_| crate::DEFAULT_RPC_URL.to_string()));
    }
    let mut progress = Progress::new("audit", !args.json);
    if args.follow {
        let options = FollowOptions {
            poll: Duration::from_millis(args.poll_ms.max(10)),
            until_height: args.until_height,
        };
        let end = crate::audit::follow(&genesis, &args.rpc, &options, &mut progress).await?;
        let failed = !matches!(end, FollowEnd::Reached);
        match (&end, args.json) {
            (FollowEnd::Reached, false) => println!("follow ended: every node reached the requested height"),
            (FollowEnd::Anomalies(list), false) => {
                for a in list {
                    println!("ANOMALY {a}");
                }
            }
            (FollowEnd::Alert(alert), false) => println!("ALERT {alert}"),
            (FollowEnd::Reached, true) => println!("{}", serde_json::json!({"passed": true})),
            (FollowEnd::Anomalies(list), true) => {
                println!("{}", serde_json::json!({"passed": false, "anomalies": list}))
            }
            (FollowEnd::Alert(alert), true) => {
                println!("{}", serde_json::json!({"passed": false, "alert": alert}))
            }
        }
        if let FollowEnd::Alert(alert) = &end {
            tracing::error!(%alert, "monitor alert");
        }
        return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    let report = match (&args.data_dir, args.rpc.as_slice()) {
        (Some(dir), _) => {
            let (genesis, dir) = (genesis.clone(), dir.clone());
            tokio::task::spawn_blocking(move || crate::audit::audit_data_dir(&genesis, &dir, &mut progress))
                .await
                .context("audit task")??
        }
        (None, [url]) => match crate::audit::audit_rpc(&genesis, url, None, &mut progress).await? {
            Ok(auditor) => auditor.report(),
            Err(alert) => bail!("unexpected monitor alert without a monitor: {alert}"),
        },
        (None, _) => bail!("give one --rpc URL (several only with --follow) or --data-dir"),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
