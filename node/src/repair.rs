//! The sign-state file's life cycle outside the driver: its first record,
//! written when a validator's home is created, and `keepsake repair
//! sign-state`, the recovery path for a validator whose file is lost or
//! damaged (docs/operations.md, "Lost sign-state").
//!
//! A validator refuses to start without a sign-state (node.rs
//! `check_sign_state`): a missing file cannot be told apart from a lost one,
//! and a validator that lost its record may have signed before. A new home
//! gets a "never signed" record ([`write_never_signed`]); an operator who
//! sets up a home by hand asserts the same with `repair sign-state
//! --new-validator`.
//!
//! A validator signs only at height `local tip + 1`, and records every
//! signature in the sign-state file before it leaves the node. Without that
//! record, the heights it may have signed at are bounded by three numbers:
//! the heights in its consensus WAL (fdatasync'ed before each signature),
//! its store's tip plus one, and — if the store lost blocks, was restored
//! from an old backup or was lost entirely — the network's current height
//! plus one (nobody signs above the height being decided). The repair writes
//! a sign-state that forbids signing at or below the largest of these (and
//! never lowers a record it can still read): the validator sits out the
//! heights up to it (the others decide them) and then votes again; it never
//! signs twice. The network's height is taken only from quorum-signed blocks
//! (`Commit::verify` against the genesis), so a lying node cannot make it up.

use std::path::Path;

use anyhow::{Context, bail};
use keepsake_consensus::{SignedStep, Step, WalEntry};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_store::Store;
use keepsake_types::{Genesis, Hash32};

use crate::config::{GENESIS_FILE_MAX, NodeConfig, read_bounded};
use crate::node::{SIGN_STATE_FILE, WAL_FILE};
use crate::wal::{SignStateFile, SignStateRead, Wal};

/// The record of a validator that never signed: every real message (height
/// 1 and above) comes after it.
pub const NEVER_SIGNED: SignedStep =
    SignedStep { height: 0, round: 0, step: Step::Propose, digest: Hash32([0; 32]) };

/// Writes the "never signed" record in `consensus_dir` (a new home).
pub fn write_never_signed(consensus_dir: &Path) -> anyhow::Result<()> {
    SignStateFile::new(&consensus_dir.join(SIGN_STATE_FILE)).store(&NEVER_SIGNED)
}

/// What the repair found and wrote.
#[derive(Debug, Clone)]
pub struct Repaired {
    /// Height of the record that was there and could be read, if any.
    pub previous_height: Option<u64>,
    /// Highest height in the consensus WAL (0 when empty).
    pub wal_height: u64,
    /// The store's tip height.
    pub store_height: u64,
    /// The highest quorum-signed height the `--rpc` nodes showed, if asked.
    pub network_height: Option<u64>,
    /// The validator will not sign at or below this height.
    pub floor: u64,
}

/// How the repair bounds what the validator may have signed.
#[derive(Debug, Clone)]
pub enum RepairMode<'a> {
    /// Ask these nodes of the chain for their height (verified by the commit of their tip block).
    Network(&'a [String]),
    /// Only the local WAL and store: enough when only the sign-state file was lost.
    Offline,
    /// The operator asserts that this key has never signed: write the "never signed" record.
    NewValidator,
}

/// Writes a safe sign-state for the validator of `home` (stopped: its store
/// is opened, and held, for the whole repair). Refuses to touch an intact
/// record unless `force`, and never lowers one it can read.
pub async fn repair_sign_state(home: &Path, mode: RepairMode<'_>, force: bool) -> anyhow::Result<Repaired> {
    let config = NodeConfig::load(home)?;
    let genesis_text = read_bounded(&config.node.genesis_file, GENESIS_FILE_MAX)?;
    let genesis = Genesis::from_json(&genesis_text)?;
    // The store first: its lock proves the node is stopped before anything is touched.
    let (dir, g) = (config.node.data_dir.clone(), genesis.clone());
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, &g)).await?.with_context(|| {
        format!("cannot open {} (a running node locks it; stop it first)", config.node.data_dir.display())
    })?;
    let store_height = store.ledger_tip(&genesis)?.height;

    let consensus_dir = &config.node.consensus_dir;
    let sign_file = SignStateFile::new(&consensus_dir.join(SIGN_STATE_FILE));
    let previous = match sign_file.read::<SignedStep>()? {
        SignStateRead::Intact(last) if !force => bail!(
            "the sign-state {} is intact (last signed: height {}, round {}, {:?}); nothing to repair \
             (--force raises it to the computed floor, never lowers it)",
            sign_file.path().display(),
            last.height,
            last.round,
            last.step
        ),
        SignStateRead::Intact(last) => Some(last),
        SignStateRead::Damaged(e) => {
            tracing::warn!(error = %e, "the sign-state is damaged; replacing it");
            None
        }
        SignStateRead::Missing => None,
    };
    let (_, entries) = Wal::open::<WalEntry>(&consensus_dir.join(WAL_FILE))?;
    let wal_height = entries.iter().map(|(h, _)| *h).max().unwrap_or(0);
    if let RepairMode::NewValidator = mode {
        if store_height > 0 || wal_height > 0 || previous.is_some() {
            bail!(
                "--new-validator asserts that this key never signed, but this home has history (store height \
                 {store_height}, WAL height {wal_height}); repair with --rpc instead"
            );
        }
        sign_file.store(&NEVER_SIGNED)?;
        drop(store);
        return Ok(Repaired {
            previous_height: None,
            wal_height,
            store_height,
            network_height: None,
            floor: 0,
        });
    }
    let network_height = match mode {
        RepairMode::Network(urls) => Some(verified_network_height(&genesis, urls).await?),
        _ => None,
    };
    let floor = wal_height
        .max(store_height.saturating_add(1))
        .max(network_height.map_or(0, |h| h.saturating_add(1)))
        .max(previous.map_or(0, |p| p.height));
    // (floor, last round, last step) with a digest nothing hashes to: rule S1
    // then refuses every message at or below height `floor`.
    let step = SignedStep { height: floor, round: u32::MAX, step: Step::Precommit, digest: Hash32([0; 32]) };
    sign_file.store(&step)?;
    drop(store);
    Ok(Repaired {
        previous_height: previous.map(|p| p.height),
        wal_height,
        store_height,
        network_height,
        floor,
    })
}

/// The highest height among `urls` whose block carries a valid commit of the
/// validator set governing it, that set followed from the genesis through
/// the node's proofs of every change (a node cannot claim a height it has no
/// quorum for, nor a set it cannot prove).
async fn verified_network_height(genesis: &Genesis, urls: &[String]) -> anyhow::Result<u64> {
    if urls.is_empty() {
        bail!("give at least one --rpc node of the chain");
    }
    let mut best = 0;
    for url in urls {
        let client = crate::rpc_client::client(url)?;
        let status = client.status().await.map_err(crate::rpc_client::describe)?;
        if status.genesis_hash != genesis.hash() {
            bail!("{url} runs genesis {}, this validator {}", status.genesis_hash, genesis.hash());
        }
        if status.height == 0 {
            continue;
        }
        let block = client.get_block(status.height).await.map_err(crate::rpc_client::describe)?;
        let sets = client
            .get_validator_sets(Some(status.height), Some(true))
            .await
            .map_err(crate::rpc_client::describe)?;
        let schedule = keepsake_types::ValidatorSchedule::follow(genesis, &sets.transitions)
            .map_err(|e| anyhow::anyhow!("{url}: its proofs of the validator-set changes fail: {e}"))?;
        block
            .commit
            .verify(&block.block.header, schedule.at(block.block.header.height))
            .map_err(|e| anyhow::anyhow!("{url}: its block {} has no valid commit: {e}", status.height))?;
        best = best.max(block.block.header.height);
    }
    Ok(best)
}
