//! A crash between the two steps of a block commit (history written and
//! synced, state batch not applied) recovers to the last complete block:
//! the state of a 3-block chain is combined with the history files of the
//! same chain one block later, each file cut at every byte boundary of that
//! last block's part. Every combination opens; the tip is block 4 when the
//! history still holds block 4 whole (it is applied to the state again),
//! block 3 otherwise; and committing block 4 afterwards gives history files
//! byte for byte equal to those of the uninterrupted commit.

mod common;

use std::path::Path;

use common::Chain;
use keepsake_store::{Store, layout};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_crash_between_history_and_state_recovers_at_every_byte_boundary() {
    let mut chain = Chain::small(5);
    let txs = chain.mints("alpha", 6..=6);
    let (block4, executed4) = chain.build(txs.clone());
    let commit4 = chain.commit_of(&block4);
    chain.close();
    let scratch = tempfile::tempdir().unwrap();
    let before = scratch.path().join("before");
    copy_dir(chain.dir.path(), &before);
    chain.reopen();
    chain.store().commit_block(&block4, &commit4, &executed4).unwrap();
    let root4 = chain.store().log_root(block4.header.log_size).unwrap();
    chain.close();
    let history_after = chain.dir.path().join(layout::HISTORY_DIR);
    let full = |name: &str| std::fs::read(history_after.join(name)).unwrap();
    let old_len = |name: &str| std::fs::metadata(before.join(layout::HISTORY_DIR).join(name)).unwrap().len();

    let mut cases = 0;
    for name in ["blocks", "heights", "log", "leaves"] {
        let (from, to) = (old_len(name), full(name).len() as u64);
        assert!(to > from, "{name} grows with block 4");
        for len in from..=to {
            let case = scratch.path().join(format!("{name}-{len}"));
            copy_dir(&before.join(layout::STATE_DIR), &case.join(layout::STATE_DIR));
            copy_dir(&history_after, &case.join(layout::HISTORY_DIR));
            let cut = std::fs::OpenOptions::new()
                .write(true)
                .open(case.join(layout::HISTORY_DIR).join(name))
                .unwrap();
            cut.set_len(len).unwrap();
            drop(cut);

            let store =
                Store::open(&case, &chain.net.genesis).unwrap_or_else(|e| panic!("{name} cut at {len}: {e}"));
            let block4_whole = name == "log" || name == "leaves" || len == to;
            let tip = store.check_consistency().unwrap().expect("a tip");
            assert_eq!(tip.height, if block4_whole { 4 } else { 3 }, "{name} cut at {len}");
            if !block4_whole {
                assert_eq!(store.block(4).unwrap(), None);
                store.commit_block(&block4, &commit4, &executed4).unwrap();
            }
            assert_eq!(store.block(4).unwrap().as_ref(), Some(&block4), "{name} cut at {len}");
            assert_eq!(store.log_root(block4.header.log_size).unwrap(), root4);
            drop(store);
            for file in ["blocks", "heights", "log", "leaves"] {
                let got = std::fs::read(case.join(layout::HISTORY_DIR).join(file)).unwrap();
                assert!(got == full(file), "{name} cut at {len}: history/{file} differs after recovery");
            }
            std::fs::remove_dir_all(&case).unwrap();
            cases += 1;
        }
    }
    assert!(cases > 300, "{cases} cut points");
}

/// Every certificate and transaction of `chain` is found where the memory reference has it.
fn assert_index_answers(store: &Store, chain: &Chain) {
    use keepsake_ledger::StateView;
    for (block, _) in &chain.blocks {
        for tx in &block.txs {
            let id = tx.id(chain.chain_id());
            assert_eq!(store.tx_location(&id).unwrap(), chain.memory.tx_location(&id).unwrap(), "tx {id}");
            if let keepsake_types::TxBody::Mint { series_id, edition, .. } = &tx.body {
                let cert = keepsake_types::ids::certificate_id(chain.chain_id(), series_id, *edition);
                assert_eq!(store.certificate(&cert).unwrap(), chain.memory.certificate(&cert).unwrap());
            }
        }
    }
}

/// The id index with small runs: flushed and merged as blocks commit, read
/// back after a reopen (runs plus the latest blocks re-read from the
/// history), and after a crash that left the state behind the runs (the
/// blocks past the state are applied again; their entries, already in a run,
/// are hidden until then).
#[test]
fn the_id_index_survives_reopens_and_a_state_behind_its_runs() {
    let mut chain = Chain::new();
    chain.store().set_index_flush_entries(150);
    chain.commit_txs(chain.net.setup_txs());
    chain.commit_txs(vec![chain.create_series("alpha", 1000)]);
    for b in 0..6u32 {
        chain.commit_txs(chain.mints("alpha", b * 100 + 1..=b * 100 + 100));
    }
    chain.store().wait_for_index_merge();
    let stats = chain.store().index_stats();
    assert!(stats.runs >= 1 && stats.memtable_entries < 150 * 2, "{stats:?}");
    assert_index_answers(chain.store(), &chain);
    chain.close();
    let scratch = tempfile::tempdir().unwrap();
    let before = scratch.path().join("before");
    copy_dir(chain.dir.path(), &before);

    chain.reopen();
    assert_index_answers(chain.store(), &chain);
    chain.store().set_index_flush_entries(150);
    for b in 6..9u32 {
        chain.commit_txs(chain.mints("alpha", b * 100 + 1..=b * 100 + 100));
    }
    chain.store().wait_for_index_merge();
    assert_index_answers(chain.store(), &chain);
    chain.close();

    // The state of height 8 with the history and index of height 11.
    let case = scratch.path().join("case");
    copy_dir(&before.join(layout::STATE_DIR), &case.join(layout::STATE_DIR));
    copy_dir(&chain.dir.path().join(layout::HISTORY_DIR), &case.join(layout::HISTORY_DIR));
    copy_dir(&chain.dir.path().join(layout::INDEX_DIR), &case.join(layout::INDEX_DIR));
    let store = Store::open(&case, &chain.net.genesis).unwrap();
    assert_eq!(store.tip().unwrap().unwrap().height, 11);
    assert_index_answers(&store, &chain);
}

/// With every run lost, the index is rebuilt from the whole history at open
/// (a long rebuild writes runs as it goes, like commits do, rather than hold
/// every id in memory).
#[test]
fn a_lost_id_index_is_rebuilt_from_the_history() {
    let mut chain = Chain::small(0);
    for b in 0..4u32 {
        chain.commit_txs(chain.mints("alpha", b * 200 + 1..=b * 200 + 200));
    }
    chain.close();
    std::fs::remove_dir_all(chain.dir.path().join(layout::INDEX_DIR)).unwrap();
    chain.reopen();
    assert_index_answers(chain.store(), &chain);
    // Setup (2) and the series (1), then 800 mints of two entries each; the default run size
    // (65,536 entries) is far above that, so all of them are in the memtable.
    assert_eq!(chain.store().index_stats().runs, 0);
    assert_eq!(chain.store().index_stats().memtable_entries, 3 + 2 * 800);
}
