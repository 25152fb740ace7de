//! `keepsake migrate`: converts a stopped node's data directory from schema
//! version 1 (everything in one sled tree) to version 2 (state in sled,
//! history in append-only files; `keepsake_store::layout`).
//!
//! Nothing is copied blindly: every block of the old directory is read with
//! its commit, the commit is verified against the validator set of its height, and
//! the block is executed again by the ledger on the new store, exactly as
//! block sync would; kept equivocation evidence is carried over. The new
//! directory is built beside the old one (`DATA.v2-partial`, removed and
//! rebuilt if a previous run was interrupted) and swapped in only when
//! complete; the old one is kept as `DATA.v1-backup` for the operator to
//! delete. A node that can re-sync from its peers may skip all this: move
//! the old directory aside and start (docs/operations.md).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use keepsake_store::v1::V1Reader;
use keepsake_store::{Store, layout};
use keepsake_types::encoding::decode;
use keepsake_types::{DoubleVote, Genesis};

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    /// Blocks executed again into the new directory.
    pub blocks: u64,
    /// Transactions in them.
    pub transactions: u64,
    /// Evidence records carried over.
    pub evidence: usize,
    /// Where the old directory now is.
    pub backup: PathBuf,
}

/// `DATA` with a suffix on its last component.
fn beside(data_dir: &Path, suffix: &str) -> PathBuf {
    let mut name = data_dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "data".into());
    name.push(suffix);
    data_dir.with_file_name(name)
}

/// Converts `data_dir` (schema version 1, of the chain of `genesis`) to
/// version 2 in place, reporting `(height, last)` to `progress` at most
/// every second. The node must be stopped (the old database's lock is held
/// throughout).
pub fn migrate_data_dir(
    data_dir: &Path,
    genesis: &Genesis,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<Migrated> {
    if data_dir.join(layout::STATE_DIR).exists() {
        bail!(
            "{} already has schema version {}: nothing to migrate",
            data_dir.display(),
            layout::SCHEMA_VERSION
        );
    }
    let backup = beside(data_dir, ".v1-backup");
    if backup.exists() {
        bail!("{} exists (an earlier migration's backup?): move it away first", backup.display());
    }
    let old = V1Reader::open(data_dir, genesis)
        .with_context(|| format!("cannot read {} as a version-1 data directory", data_dir.display()))?;
    let partial = beside(data_dir, ".v2-partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("removing the unfinished {}", partial.display()))?;
    }
    let store = Store::open(&partial, genesis).with_context(|| format!("creating {}", partial.display()))?;
    let last = old.last_height()?;
    let (mut transactions, mut reported) = (0u64, Instant::now());
    for height in 1..=last {
        let (block, commit) = old
            .block_and_commit(height)
            .with_context(|| format!("block {height} or its commit does not decode"))?
            .with_context(|| format!("block {height} or its commit is missing"))?;
        if block.header.height != height {
            bail!("the block stored at height {height} says height {}", block.header.height);
        }
        let validators = keepsake_ledger::membership::validator_set_at(&store, genesis, height)?;
        commit.verify(&block.header, &validators).with_context(|| format!("the commit of block {height}"))?;
        let tip = store.ledger_tip(genesis)?;
        let executed = keepsake_ledger::validate_block(&store, genesis, &tip, &block)
            .with_context(|| format!("block {height} does not apply"))?;
        store.commit_block(&block, &commit, &executed)?;
        transactions += block.txs.len() as u64;
        if reported.elapsed() >= Duration::from_secs(1) || height == last {
            progress(height, last);
            reported = Instant::now();
        }
    }
    let mut evidence = 0;
    for bytes in old.evidence_bytes(layout::EVIDENCE_STORED_MAX)? {
        let record: DoubleVote = decode(&bytes, layout::EVIDENCE_BYTES_MAX, "evidence")?;
        if store.record_evidence(&record)? {
            evidence += 1;
        }
    }
    store.check_consistency()?;
    drop(store);
    drop(old);
    std::fs::rename(data_dir, &backup)
        .with_context(|| format!("moving {} to {}", data_dir.display(), backup.display()))?;
    std::fs::rename(&partial, data_dir)
        .with_context(|| format!("moving {} to {}", partial.display(), data_dir.display()))?;
    Ok(Migrated { blocks: last, transactions, evidence, backup })
}

#[cfg(test)]
mod tests {
    use keepsake_ledger::testkit::{TestChain, TestNet};
    use keepsake_types::encoding::encode;

    use super::*;

    /// Writes `chain` as a version-1 data directory: the format this module reads.
    fn write_v1(dir: &Path, chain: &TestChain) {
        let db = sled::open(dir).unwrap();
        db.insert(layout::META_SCHEMA_VERSION, &1u32.to_be_bytes()).unwrap();
        db.insert(layout::META_GENESIS_HASH, &chain.net.genesis.hash().0).unwrap();
        for (block, commit) in &chain.blocks {
            let h = block.header.height.to_be_bytes();
            db.insert([&b"block/"[..], &h].concat(), encode(block)).unwrap();
            db.insert([&b"commit/"[..], &h].concat(), encode(commit)).unwrap();
        }
        db.flush().unwrap();
    }

    fn chain() -> TestChain {
        let mut chain = TestChain::new(TestNet::new(4));
        chain.push(chain.net.setup_txs());
        let create = chain.net.create_series(&chain.net.issuer, &chain.net.reviewer, "alpha", 100);
        chain.push(vec![create]);
        let series = chain.net.series_id(&chain.net.issuer, "alpha");
        let mints = (1..=20).map(|e| chain.net.mint(&chain.net.issuer, series, e, e)).collect();
        chain.push(mints);
        chain
    }

    #[test]
    fn a_version_1_directory_becomes_version_2_with_every_block() {
        let chain = chain();
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        write_v1(&data, &chain);
        let refused = Store::open(&data, &chain.net.genesis).unwrap_err();
        assert_eq!(refused.code(), "SchemaMismatch");

        let mut reports = Vec::new();
        let done = migrate_data_dir(&data, &chain.net.genesis, |h, last| reports.push((h, last))).unwrap();
        assert_eq!((done.blocks, done.transactions, done.evidence), (3, 2 + 1 + 20, 0));
        assert_eq!(reports.last(), Some(&(3, 3)));
        assert_eq!(done.backup, home.path().join("data.v1-backup"));
        assert!(done.backup.join("conf").is_file(), "the old directory is kept");

        let store = Store::open(&data, &chain.net.genesis).unwrap();
        assert_eq!(store.tip().unwrap().unwrap(), chain.tip);
        for (block, commit) in &chain.blocks {
            assert_eq!(
                store.block_and_commit(block.header.height).unwrap(),
                Some((block.clone(), commit.clone()))
            );
        }
        drop(store);
        let again = migrate_data_dir(&data, &chain.net.genesis, |_, _| {}).unwrap_err();
        assert!(again.to_string().contains("already has schema version 2"), "{again}");
    }

    #[test]
    fn a_forged_block_stops_the_migration_and_leaves_the_old_directory() {
        let mut chain = chain();
        // Block 3 with one mint dropped: its commit no longer matches.
        chain.blocks[2].0.txs.pop();
        let home = tempfile::tempdir().unwrap();
        let data = home.path().join("data");
        write_v1(&data, &chain);
        let err = migrate_data_dir(&data, &chain.net.genesis, |_, _| {}).unwrap_err();
        assert!(format!("{err:#}").contains("block 3"), "{err:#}");
        assert!(data.join("conf").is_file(), "the old directory stays where it was");
        assert!(!home.path().join("data.v1-backup").exists());
    }
}
