//! The command line. Subcommand names are part of the interface (docs, tests
//! and scripts outside this repository use them): change none without a
//! deprecation.
//!
//! Output convention: commands that create something print its id alone on
//! stdout (so `SERIES=$(keepsake tx create-series ...)` works) and their
//! progress on stderr.
//!
//! This file lists the commands and dispatches them; each command group has
//! its own file: `node.rs` (`dev`, `start`, `keys`, `status`), `testnet.rs`, `init.rs`,
//! `tx.rs`, `read.rs` (`series`, `issuer`, `block`, `status`, `tx status`), `cert.rs`, `holder.rs` (with `holder-id`), `audit.rs` and `repair.rs` (with `migrate`). They
//! call the library modules ([`crate::audit`], [`crate::dev`], [`crate::init`],
//! [`crate::repair`], [`crate::testnet`], ...), never the reverse; what the
//! groups share is in `common.rs` and [`crate::rpc_client`].

mod audit;
mod cert;
mod common;
mod holder;
mod init;
mod node;
mod read;
mod repair;
mod testnet;
mod tx;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

pub use self::cert::{
    CANNOT_CHECK_EXIT, CheckFailure, link_refreshed, refresh_certificate, status_lines, verified_lines,
    verify_files,
};
pub use self::common::utc_date;
// Re-exported for callers of `keepsake::cli::{client, describe}` (the tests);
// they live in [`crate::rpc_client`] so that library modules need not
// import the CLI.
pub use crate::rpc_client::{client, describe};

use self::audit::AuditArgs;
use self::cert::CertCommand;
use self::common::RpcArgs;
use self::holder::HolderCommand;
use self::init::InitArgs;
use self::node::KeysCommand;
use self::read::{BlockCommand, IssuerCommand, SeriesCommand};
use self::repair::RepairCommand;
use self::tx::TxCommand;

/// Keepsake: a ledger node for digital collectibles that cannot be resold.
#[derive(Parser, Debug)]
#[command(name = "keepsake", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a one-validator development chain (creates its home on first use).
    Dev {
        /// Home directory of the dev chain.
        #[arg(long, default_value = "keepsake-dev")]
        home: PathBuf,
        /// JSON-RPC listen address (overrides the config for this run).
        #[arg(long)]
        rpc: Option<std::net::SocketAddr>,
        /// Delete the dev chain's data and keys first.
        #[arg(long)]
        reset: bool,
    },
    /// Run a node from a home directory holding config.toml.
    Start {
        /// Home directory.
        #[arg(long)]
        home: PathBuf,
    },
    /// Write genesis, keys and configs for N local validators (`--dir DIR`), then start or stop
    /// all of them (`testnet start|stop --dir DIR`, one log per node in DIR/nodeI/node.log).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Testnet {
        #[command(subcommand)]
        command: Option<testnet::TestnetCommand>,
        #[command(flatten)]
        init: Option<testnet::TestnetInit>,
    },
    /// Make the home of a new node joining a running consortium chain: copies the genesis,
    /// writes a new key and a config dialling the given members; prints the public key to admit
    /// (the node is an observer until governance makes it a validator).
    Init(InitArgs),
    /// Key files.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Build, sign locally, submit and wait for a transaction.
    Tx {
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Holder commitments and holder proofs (`holder id`, `holder prove`, `holder verify`).
    Holder {
        #[command(subcommand)]
        command: HolderCommand,
    },
    /// Print the holder commitment of a real-name account (the same as `holder id`).
    HolderId {
        /// The platform's account id of the user.
        #[arg(long)]
        account: String,
        /// The platform's secret salt.
        #[arg(long)]
        salt: String,
    },
    /// Certificates: fetch from a node, verify offline.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Re-verify a whole chain from genesis, trusting nothing but the genesis
    /// file (exit 0: pass, 1: anomaly or alert, 2: could not audit).
    Audit(AuditArgs),
    /// Recovery tools for a stopped node (docs/operations.md).
    Repair {
        #[command(subcommand)]
        command: RepairCommand,
    },
    /// Convert a stopped node's data directory from schema version 1 to 2,
    /// executing every block again (or move it aside and let the node re-sync).
    Migrate {
        /// Home directory of the node (the node must be stopped).
        #[arg(long)]
        home: PathBuf,
    },
    /// The status of a node: height and latest block time, peers, validators by name.
    Status {
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Series: show one, list them.
    Series {
        #[command(subcommand)]
        command: SeriesCommand,
    },
    /// Issuers: show one, list them.
    Issuer {
        #[command(subcommand)]
        command: IssuerCommand,
    },
    /// Blocks: show one.
    Block {
        #[command(subcommand)]
        command: BlockCommand,
    },
}

/// Sets up `tracing` to stderr (`RUST_LOG` filters; default `info`), with
/// colours only when stderr is a terminal: a log file or a journal gets plain text.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev { home, rpc, reset } => node::dev(home, rpc, reset).await,
        Command::Start { home } => node::start(home).await,
        Command::Testnet { command: Some(command), .. } => testnet::command(command).await,
        Command::Testnet { command: None, init: Some(init) } => testnet::init(init),
        Command::Testnet { command: None, init: None } => {
            anyhow::bail!("give --dir DIR to write a testnet, or `testnet start|stop --dir DIR`")
        }
        Command::Init(args) => init::init(args),
        Command::Keys { command } => node::keys(command),
        Command::HolderId { account, salt } => holder::holder_id(account, salt),
        Command::Holder { command } => holder::holder(command),
        Command::Tx { command } => tx::tx(command).await,
        Command::Cert { command } => cert::cert(command).await,
        Command::Repair { command } => repair::repair(command).await,
        Command::Audit(args) => Ok(audit::run(args).await),
        Command::Migrate { home } => repair::migrate(home).await,
        Command::Status { json, rpc } => read::status(json, rpc).await,
        Command::Series { command } => read::series(command).await,
        Command::Issuer { command } => read::issuer(command).await,
        Command::Block { command } => read::block(command).await,
    }
}
