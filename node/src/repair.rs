//! `keepsake repair sign-state`: the recovery path for a validator whose
//! sign-state file is lost or damaged (docs/operations.md, "Lost
//! sign-state").
//!
//! A validator signs only at height `local tip + 1`, and records every
//! signature in the sign-state file before it leaves the node. Without that
//! record, the heights it may have signed at are bounded by three numbers:
//! the heights in its consensus WAL (fdatasync'ed before each signature),
//! its store's tip plus one, and — if the store lost blocks or was restored
//! from an old backup — the network's current height plus one (nobody signs
//! above the height being decided). The repair writes a sign-state that
//! forbids signing at or below the largest of these: the validator sits out
//! the heights up to it (the others decide them) and then votes again; it
//! never signs twice.

use std::path::Path;

use anyhow::{Context, bail};
use keepsake_consensus::{SignedStep, Step, WalEntry};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_store::Store;
use keepsake_types::{Genesis, Hash32};

use crate::config::{GENESIS_FILE_MAX, NodeConfig, read_bounded};
use crate::node::{SIGN_STATE_FILE, WAL_FILE};
use crate::wal::{SignStateFile, Wal};

/// What the repair found and wrote.
#[derive(Debug, Clone)]
pub struct Repaired {
    /// Highest height in the consensus WAL (0 when empty).
    pub wal_height: u64,
    /// The store's tip height.
    pub store_height: u64,
    /// The network's height, when a node was asked.
    pub network_height: Option<u64>,
    /// The validator will not sign at or below this height.
    pub floor: u64,
}

/// Writes a sign-state for the validator of `home` that forbids every
/// signature at or below the highest height it may have signed at. Refuses
/// when an intact sign-state exists (unless `force`), and when the node is
/// running (the store is locked). `rpc`: another node of the chain, asked
/// for the network's height (strongly advised; without it, a store restored
/// from an old backup gives too low a floor).
pub async fn repair_sign_state(home: &Path, rpc: Option<&str>, force: bool) -> anyhow::Result<Repaired> {
    let config = NodeConfig::load(home)?;
    let genesis_text = read_bounded(&config.node.genesis_file, GENESIS_FILE_MAX)?;
    let genesis = Genesis::from_json(&genesis_text)?;
    let consensus_dir = &config.node.consensus_dir;
    let sign_file = SignStateFile::new(&consensus_dir.join(SIGN_STATE_FILE));
    match sign_file.load::<SignedStep>() {
        Ok(Some(last)) if !force => bail!(
            "the sign-state {} is intact (last signed: height {}, round {}, {:?}); nothing to repair \
             (--force raises it anyway)",
            sign_file.path().display(),
            last.height,
            last.round,
            last.step
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = format!("{e:#}"), "the sign-state is damaged; replacing it"),
    }
    let (_, entries) = Wal::open::<WalEntry>(&consensus_dir.join(WAL_FILE))?;
    let wal_height = entries.iter().map(|(h, _)| *h).max().unwrap_or(0);
    let store_height = {
        let (dir, g) = (config.node.data_dir.clone(), genesis.clone());
        let tip = tokio::task::spawn_blocking(move || Store::open(&dir, &g).and_then(|s| s.ledger_tip(&g)))
            .await?
            .with_context(|| {
                format!("cannot open {} (is the node still running?)", config.node.data_dir.display())
            })?;
        tip.height
    };
    let network_height = match rpc {
        Some(url) => {
            let client = crate::cli::client(url)?;
            let status = client.status().await.map_err(crate::cli::describe)?;
            if status.chain_id != genesis.chain_id {
                bail!("{url} runs chain {:?}, this validator chain {:?}", status.chain_id, genesis.chain_id);
            }
            Some(status.height)
        }
        None => None,
    };
    let floor = wal_height.max(store_height + 1).max(network_height.map_or(0, |h| h + 1));
    // (floor, last round, last step) with a digest nothing hashes to: rule S1
    // then refuses every message at or below height `floor`.
    let step = SignedStep { height: floor, round: u32::MAX, step: Step::Precommit, digest: Hash32([0; 32]) };
    sign_file.store(&step)?;
    Ok(Repaired { wal_height, store_height, network_height, floor })
}
