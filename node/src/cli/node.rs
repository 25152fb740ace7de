//! `keepsake dev`, `keepsake start`, `keepsake keys` and `keepsake status`:
//! running a node, its key files, and asking a node how it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use crate::config::NodeConfig;
use crate::keyfile;

#[derive(Subcommand, Debug)]
pub(super) enum KeysCommand {
    /// Generate a new ed25519 key file (mode 0600) and print its public key.
    Generate {
        /// Where to write the key file (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

/// `keepsake dev`.
pub(super) async fn dev(
    home: PathBuf,
    rpc: Option<std::net::SocketAddr>,
    reset: bool,
) -> anyhow::Result<ExitCode> {
    if reset && home.exists() {
        std::fs::remove_dir_all(&home).with_context(|| format!("cannot remove {}", home.display()))?;
    }
    let listen = rpc.unwrap_or_else(|| crate::config::RpcSection::default().listen);
    if crate::dev::init_home(&home, listen)? {
        eprintln!("created dev chain home {}", home.display());
    }
    let mut config = NodeConfig::load(&home)?;
    if let Some(addr) = rpc {
        config.rpc.listen = addr;
    }
    run_node(config, &home, true).await
}

/// `keepsake start`.
pub(super) async fn start(home: PathBuf) -> anyhow::Result<ExitCode> {
    run_node(NodeConfig::load(&home)?, &home, false).await
}

/// `keepsake status`.
async fn run_node(config: NodeConfig, home: &Path, dev: bool) -> anyhow::Result<ExitCode> {
    let node = crate::node::start(config).await?;
    // Machine-readable first line (tests and scripts read the bound address).
    println!("rpc: {}", node.rpc_url());
    if dev {
        eprintln!(
            "Keepsake dev chain {:?} is running.\n  JSON-RPC  {}  (WebSocket: {})\n  health    {}/health   metrics {}/metrics\n  genesis   {}\n  keys      {}/keys/{{governor,issuer,reviewer,validator}}.json\nPress Ctrl-C to stop; the chain is kept in {}/data.",
            node.shared.genesis.chain_id,
            node.rpc_url(),
            node.ws_url(),
            node.rpc_url(),
            node.rpc_url(),
            home.join("genesis.json").display(),
            home.display(),
            home.display(),
        );
    }
    node.run_until(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

pub(super) fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate { out } => {
            let key = keyfile::generate()?;
            keyfile::write(&out, &key)?;
            eprintln!("wrote {}", out.display());
            println!("{}", key.public());
        }
        KeysCommand::Show { file } => println!("{}", keyfile::read(&file)?.public()),
    }
    Ok(ExitCode::SUCCESS)
}
