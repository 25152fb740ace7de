//! `keepsake repair` and `keepsake migrate`: tools for a stopped node (see
//! [`crate::repair`] and [`crate::migrate`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub(super) enum RepairCommand {
    /// Write a safe sign-state for a validator whose sign-state file was lost
    /// or damaged (it will not sign at or below any height it may have signed
    /// at: its WAL, its store's tip + 1, the network's height + 1), or the
    /// first record of a validator set up by hand (--new-validator).
    SignState {
        /// The validator's home directory (the node must be stopped).
        #[arg(long)]
        home: PathBuf,
        /// Nodes of the chain, asked for the network's height (their tip
        /// block's commit is verified); repeat for several, the highest counts.
        #[arg(long, required_unless_present_any = ["offline", "new_validator"])]
        rpc: Vec<String>,
        /// Use only the local WAL and store (enough when only the sign-state
        /// file was lost, not the data directory).
        #[arg(long, conflicts_with_all = ["rpc", "new_validator"])]
        offline: bool,
        /// Assert that this key has never signed (a home set up by hand):
        /// refused when the home has any history.
        #[arg(long, conflicts_with = "rpc")]
        new_validator: bool,
        /// Raise an intact sign-state to the computed floor (never lowers it).
        #[arg(long)]
        force: bool,
    },
}

/// `keepsake repair`.
pub(super) async fn repair(command: RepairCommand) -> anyhow::Result<ExitCode> {
    let RepairCommand::SignState { home, rpc, offline, new_validator, force } = command;
    use crate::repair::RepairMode;
    let mode = if new_validator {
        RepairMode::NewValidator
    } else if offline {
        RepairMode::Offline
    } else {
        RepairMode::Network(&rpc)
    };
    let r = crate::repair::repair_sign_state(&home, mode, force).await?;
    println!(
        "sign-state written: this validator will not sign at or below height {} (previous record {}, \
         WAL height {}, store height {}, network height {})",
        r.floor,
        r.previous_height.map_or("none".to_string(), |h| h.to_string()),
        r.wal_height,
        r.store_height,
        r.network_height.map_or("not asked".to_string(), |h| h.to_string())
    );
    Ok(ExitCode::SUCCESS)
}

/// `keepsake migrate`.
pub(super) async fn migrate(home: PathBuf) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let config = crate::config::NodeConfig::load(&home)?;
    let text = crate::config::read_bounded(&config.node.genesis_file, crate::config::GENESIS_FILE_MAX)?;
    let genesis = keepsake_types::Genesis::from_json(&text)
        .with_context(|| format!("invalid genesis {}", config.node.genesis_file.display()))?;
    let data_dir = config.node.data_dir.clone();
    let done = tokio::task::spawn_blocking(move || {
        crate::migrate::migrate_data_dir(&data_dir, &genesis, |height, last| {
            eprintln!("migrating: block {height} of {last}");
        })
    })
    .await??;
    println!(
        "migrated {} blocks ({} transactions, {} evidence records) to schema version {}; the old directory \
         is kept at {}: delete it once the node runs",
        done.blocks,
        done.transactions,
        done.evidence,
        keepsake_store::SCHEMA_VERSION,
        done.backup.display()
    );
    Ok(ExitCode::SUCCESS)
}
