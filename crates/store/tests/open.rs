//! Opening: a data directory of another chain or format is refused, and a
//! damaged one (a record missing, extra or altered behind the store's back)
//! is reported as corrupt rather than served. (What a crash leaves is
//! repaired instead: `tests/crash.rs`.)

mod common;

use common::Chain;
use keepsake_store::{SCHEMA_VERSION, Store, StoreError, layout};
use keepsake_types::encoding::encode;

/// Opens `chain`'s database again (it must be closed) and returns the error.
fn open_err(chain: &Chain) -> StoreError {
    Store::open(chain.dir.path(), &chain.net.genesis).expect_err("the store must refuse to open")
}

fn corrupt_message(err: StoreError) -> String {
    match err {
        StoreError::Corrupt(message) => message,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn key(prefix: &str, suffix: &[u8]) -> Vec<u8> {
    [prefix.as_bytes(), suffix].concat()
}

/// A closed 3-block chain (setup, series, 300 mints) with its state edited
/// by `damage`, and the message of the error opening it gives.
fn damaged(damage: impl FnOnce(&sled::Db, &Chain)) -> String {
    damaged_files(|chain| {
        let db = chain.raw();
        damage(&db, chain);
        db.flush().expect("flush the damage");
    })
}

/// The same with any damage, to the state or the history files.
fn damaged_files(damage: impl FnOnce(&Chain)) -> String {
    let mut chain = Chain::small(300);
    chain.close();
    damage(&chain);
    let err = open_err(&chain);
    assert_eq!(err.code(), "Corrupt");
    assert!(!err.is_rejection());
    corrupt_message(err)
}

/// Cuts a history file to `len` bytes.
fn cut(chain: &Chain, name: &str, len: u64) {
    std::fs::OpenOptions::new().write(true).open(chain.history_file(name)).unwrap().set_len(len).unwrap();
}

fn file_len(chain: &Chain, name: &str) -> u64 {
    std::fs::metadata(chain.history_file(name)).unwrap().len()
}

#[test]
fn an_intact_database_reopens() {
    let mut chain = Chain::small(300);
    chain.close();
    let store = Store::open(chain.dir.path(), &chain.net.genesis).expect("reopen");
    assert_eq!(store.check_consistency().unwrap().expect("tip").height, 3);
}

#[test]
fn another_genesis_is_refused() {
    let mut chain = Chain::small(0);
    chain.close();
    let mut other = chain.net.genesis.clone();
    other.chain_id = "keepsake-other".parse().unwrap();
    let err = Store::open(chain.dir.path(), &other).unwrap_err();
    assert!(
        matches!(err, StoreError::GenesisMismatch { expected, got }
            if expected == other.hash() && got == chain.net.genesis.hash()),
        "{err:?}"
    );
    assert_eq!(err.code(), "GenesisMismatch");
    // The right genesis still opens it.
    Store::open(chain.dir.path(), &chain.net.genesis).expect("reopen");
}

#[test]
fn another_schema_version_is_refused() {
    let mut chain = Chain::small(0);
    chain.close();
    {
        let db = chain.raw();
        assert_eq!(db.get(b"meta/schema_version").unwrap().unwrap().as_ref(), &SCHEMA_VERSION.to_be_bytes());
        db.insert(b"meta/schema_version", &3u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = open_err(&chain);
    assert!(matches!(err, StoreError::SchemaMismatch { expected: 2, got: 3 }), "{err:?}");
    assert_eq!(err.code(), "SchemaMismatch");
    assert!(
        err.to_string()
            .starts_with("the data directory has schema version 3, this build reads version 2 only; ")
    );
}

/// A data directory of schema version 1 (the sled database directly in it)
/// is refused with a message that says what to do, and is left untouched.
#[test]
fn a_version_1_data_directory_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(b"meta/schema_version", &1u32.to_be_bytes()).unwrap();
        db.insert(b"block/\0\0\0\0\0\0\0\x01", b"x").unwrap();
        db.flush().unwrap();
    }
    let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    let net = keepsake_ledger::testkit::TestNet::new(1);
    let err = Store::open(dir.path(), &net.genesis).unwrap_err();
    assert!(matches!(err, StoreError::SchemaMismatch { expected: 2, got: 1 }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("re-sync from its peers") && message.contains("keepsake migrate"), "{message}");
    let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(before, after, "nothing is created in a refused directory");
    let reader = keepsake_store::ChainReader::open(dir.path(), &net.genesis).unwrap_err();
    assert!(matches!(reader, StoreError::SchemaMismatch { expected: 2, got: 1 }), "{reader:?}");
}

#[test]
fn data_without_a_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path().join(layout::STATE_DIR)).unwrap();
        db.insert(b"cert/\x01", b"x").unwrap();
        db.flush().unwrap();
    }
    let net = keepsake_ledger::testkit::TestNet::new(1);
    let err = Store::open(dir.path(), &net.genesis).unwrap_err();
    assert_eq!(corrupt_message(err), "database has data (first key cert/01) but no schema version");
}

#[test]
fn history_behind_the_state_is_corrupt() {
    let message = damaged_files(|chain| cut(chain, "heights", 2 * 8));
    assert_eq!(
        message,
        "the history holds 2 blocks but the state is at height 3: history files were lost or cut short; \
         re-sync this node from its peers"
    );
}

#[test]
fn a_tip_record_cut_short_is_corrupt() {
    let message = damaged_files(|chain| cut(chain, "blocks", file_len(chain, "blocks") - 1));
    assert_eq!(message, "the record of block 3 in history/blocks is cut short");
}

#[test]
fn a_damaged_tip_record_fails_its_checksum() {
    let message = damaged_files(|chain| {
        let path = chain.history_file("blocks");
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() - 100;
        bytes[middle] ^= 1;
        std::fs::write(&path, bytes).unwrap();
    });
    assert_eq!(message, "the record of block 3 in history/blocks fails its checksum");
}

#[test]
fn a_log_cut_short_is_corrupt() {
    // 303 leaves: 2·303 - popcount(303) = 606 - 6 = 600 nodes.
    let message = damaged_files(|chain| cut(chain, "log", 599 * 32));
    assert_eq!(
        message,
        "the history's log holds 599 nodes but a log of 303 leaves has 600: history files were lost or \
         cut short; re-sync this node from its peers"
    );
}

#[test]
fn a_leaf_index_cut_short_is_corrupt() {
    let message = damaged_files(|chain| cut(chain, "leaves", 302 * 8));
    assert_eq!(
        message,
        "the history's leaf index holds 302 leaves but the log has 303: history files were lost or \
         cut short; re-sync this node from its peers"
    );
}

#[test]
fn another_block_at_the_tip_height_is_corrupt() {
    // A well-formed record of height 3 holding block 2: a forger's rewrite, not a crash.
    let message = damaged_files(|chain| {
        let (block2, commit2) = &chain.blocks[1];
        let blocks = std::fs::read(chain.history_file("blocks")).unwrap();
        let offset = u64::from_be_bytes(
            std::fs::read(chain.history_file("heights")).unwrap()[16..24].try_into().unwrap(),
        );
        let mut rewritten = blocks[..offset as usize].to_vec();
        rewritten.extend(layout::history_record(3, &encode(block2), &encode(commit2)).unwrap());
        std::fs::write(chain.history_file("blocks"), rewritten).unwrap();
    });
    assert_eq!(message, "block stored at height 3 has height 2");
}

#[test]
fn a_tip_record_without_its_block_is_corrupt() {
    let message = damaged(|db, chain| {
        // The tip says block 2, but the history holds block 3 and the state
        // already has block 3's writes: block 3 does not apply again.
        let header = &chain.blocks[1].0.header;
        db.insert(b"meta/tip", encode(&keepsake_ledger::Tip::from_header(header))).unwrap();
    });
    assert!(
        message.starts_with("history block 3 past the state's tip does not apply on the state: "),
        "{message}"
    );
}

#[test]
fn a_missing_tip_record_is_corrupt_and_cuts_nothing() {
    let mut blocks_len = 0;
    let message = damaged(|db, chain| {
        db.remove(b"meta/tip").unwrap().expect("tip was stored");
        blocks_len = file_len(chain, "blocks");
    });
    assert!(
        message.starts_with("history block 1 past the state's tip does not apply on the state: "),
        "{message}"
    );
    assert!(blocks_len > 0);
}

#[test]
fn a_missing_hash_index_entry_is_corrupt() {
    let message = damaged(|db, chain| {
        let hash = chain.blocks[2].0.header.hash();
        db.remove(key("hash/", hash.as_bytes())).unwrap().expect("hash indexed");
    });
    assert!(message.starts_with("hash index maps tip "), "{message}");
    assert!(message.ends_with(" to None, expected 3"), "{message}");
}

#[test]
fn an_altered_log_node_is_corrupt() {
    let message = damaged_files(|chain| {
        // Node (8, 0), the root of the first 256 leaves, is read for the root of 303.
        let position = layout::log_position(8, 0).unwrap();
        let path = chain.history_file("log");
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[position as usize * 32] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(chain.tip.log_size, 303);
    });
    assert!(message.starts_with("log of size 303 has root "), "{message}");
}

/// A data directory another process (here: another store) holds is refused
/// with what that means, not sled's `Os { code: 11, .. }` text.
#[test]
fn a_data_directory_in_use_is_named_and_explained() {
    let mut chain = Chain::small(0);
    chain.close();
    let first = Store::open(chain.dir.path(), &chain.net.genesis).expect("open");
    let err = Store::open(chain.dir.path(), &chain.net.genesis).expect_err("held by the first store");
    assert_eq!(err.code(), "DataDirInUse");
    let message = err.to_string();
    assert!(message.contains(&chain.dir.path().display().to_string()), "{message}");
    assert!(message.contains("is in use by another process") && !message.contains("Os {"), "{message}");
    let reader = keepsake_store::ChainReader::open(chain.dir.path(), &chain.net.genesis).unwrap_err();
    assert_eq!(reader.code(), "DataDirInUse");
    drop(first);
}
