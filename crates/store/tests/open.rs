//! Opening: a database of another chain or format is refused, and a damaged
//! one (a record missing, extra or altered behind the store's back) is
//! reported as corrupt rather than served.

mod common;

use common::Chain;
use keepsake_store::{SCHEMA_VERSION, Store, StoreError};

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

/// A closed 3-block chain (setup, series, 300 mints) with its database
/// edited by `damage`, and the message of the error opening it gives.
fn damaged(damage: impl FnOnce(&sled::Db, &Chain)) -> String {
    let mut chain = Chain::small(300);
    chain.close();
    {
        let db = chain.raw();
        damage(&db, &chain);
        db.flush().expect("flush the damage");
    }
    let err = open_err(&chain);
    assert_eq!(err.code(), "Corrupt");
    assert!(!err.is_rejection());
    corrupt_message(err)
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
        db.insert(b"meta/schema_version", &2u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }
    let err = open_err(&chain);
    assert!(matches!(err, StoreError::SchemaMismatch { expected: 1, got: 2 }), "{err:?}");
    assert_eq!(err.code(), "SchemaMismatch");
    assert_eq!(err.to_string(), "database schema version is 2, this build reads version 1 only");
}

#[test]
fn data_without_a_schema_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.insert(b"block/\0\0\0\0\0\0\0\x01", b"x").unwrap();
        db.flush().unwrap();
    }
    let net = keepsake_ledger::testkit::TestNet::new(1);
    let err = Store::open(dir.path(), &net.genesis).unwrap_err();
    assert_eq!(
        corrupt_message(err),
        "database has data (first key block/0000000000000001) but no schema version"
    );
}

#[test]
fn a_missing_tip_block_is_corrupt() {
    let message = damaged(|db, _| {
        db.remove(key("block/", &3u64.to_be_bytes())).unwrap().expect("block 3 was stored");
    });
    assert_eq!(message, "tip is block 3 but the highest stored block is 2");
}

#[test]
fn a_block_past_the_tip_is_corrupt() {
    let message = damaged(|db, _| {
        let block3 = db.get(key("block/", &3u64.to_be_bytes())).unwrap().unwrap();
        db.insert(key("block/", &4u64.to_be_bytes()), block3).unwrap();
    });
    assert_eq!(message, "tip is block 3 but the highest stored block is 4");
}

#[test]
fn a_missing_commit_is_corrupt() {
    let message = damaged(|db, _| {
        db.remove(key("commit/", &3u64.to_be_bytes())).unwrap().expect("commit 3 was stored");
    });
    assert_eq!(message, "tip is block 3 but the highest stored commit is of block 2");
}

#[test]
fn another_block_at_the_tip_height_is_corrupt() {
    let message = damaged(|db, _| {
        let block2 = db.get(key("block/", &2u64.to_be_bytes())).unwrap().unwrap();
        db.insert(key("block/", &3u64.to_be_bytes()), block2).unwrap();
    });
    assert_eq!(message, "block stored at height 3 has height 2");
}

#[test]
fn a_tip_record_without_its_block_is_corrupt() {
    let message = damaged(|db, chain| {
        // The tip says block 2, but block 3 is stored: half of a later batch.
        let header = &chain.blocks[1].0.header;
        db.insert(b"meta/tip", keepsake_types::encoding::encode(&keepsake_ledger::Tip::from_header(header)))
            .unwrap();
    });
    assert_eq!(message, "tip is block 2 but the highest stored block is 3");
}

#[test]
fn a_missing_tip_record_is_corrupt() {
    let message = damaged(|db, _| {
        db.remove(b"meta/tip").unwrap().expect("tip was stored");
    });
    assert_eq!(message, "no tip record, but block 3 is stored");
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
fn a_truncated_log_tile_is_corrupt() {
    // 303 leaves: level 0 has tiles 0 (256 nodes) and 1 (47 nodes).
    let message = damaged(|db, _| {
        let tile = key("log/", &[&[0u8][..], &1u64.to_be_bytes()].concat());
        let bytes = db.get(&tile).unwrap().expect("tile 1 of level 0");
        assert_eq!(bytes.len(), 47 * 32);
        db.insert(tile, &bytes[..46 * 32]).unwrap();
    });
    assert_eq!(message, "tile 1 of log level 0 is 1472 bytes, expected 1504 (303 nodes)");
}

#[test]
fn an_altered_log_node_is_corrupt() {
    let message = damaged(|db, chain| {
        // Node (8, 0), the root of the first 256 leaves, is read for the root of 303.
        let tile = key("log/", &[&[8u8][..], &0u64.to_be_bytes()].concat());
        let mut bytes = db.get(&tile).unwrap().expect("tile 0 of level 8").to_vec();
        assert_eq!(bytes.len(), 32);
        bytes[0] ^= 1;
        db.insert(tile, bytes).unwrap();
        assert_eq!(chain.tip.log_size, 303);
    });
    assert!(message.starts_with("log of size 303 has root "), "{message}");
}

#[test]
fn a_stray_log_level_is_corrupt() {
    let message = damaged(|db, _| {
        // 303 leaves reach level 8 (one node); a tile at level 9 cannot exist.
        db.insert(key("log/", &[&[9u8][..], &0u64.to_be_bytes()].concat()), vec![0u8; 32]).unwrap();
    });
    assert_eq!(message, "log tile log/090000000000000000 lies above the top level of a log of 303 leaves");
}
