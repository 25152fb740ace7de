//! Pins the on-disk format (schema version 1, `layout.rs`): the exact keys
//! and values a new database and its first block write. A change here is a
//! change of format and needs a new `SCHEMA_VERSION`.

mod common;

use common::Chain;
use keepsake_ledger::Tip;
use keepsake_store::{SCHEMA_VERSION, layout};
use keepsake_types::encoding::encode;
use keepsake_types::{BlockHash, Hash32};

#[test]
fn key_bytes_are_pinned() {
    assert_eq!(SCHEMA_VERSION, 1);
    assert_eq!(layout::block(1), b"block/\x00\x00\x00\x00\x00\x00\x00\x01");
    assert_eq!(layout::commit(258), b"commit/\x00\x00\x00\x00\x00\x00\x01\x02");
    assert_eq!(layout::nonce(7), b"nonce/\x00\x00\x00\x00\x00\x00\x00\x07");
    assert_eq!(layout::log_tile(2, 1), b"log/\x02\x00\x00\x00\x00\x00\x00\x00\x01");
    assert_eq!(layout::hash(&BlockHash([0xab; 32])), [&b"hash/"[..], &[0xab; 32]].concat());
}

#[test]
fn tip_record_encoding_is_pinned() {
    let tip = Tip {
        height: 300,
        hash: BlockHash([1; 32]),
        time_ms: 2,
        log_size: 3,
        log_root: Hash32([4; 32]),
        state_root: Hash32([5; 32]),
    };
    let expected = format!("ac02{}0203{}{}", "01".repeat(32), "04".repeat(32), "05".repeat(32));
    assert_eq!(hex(&encode(&tip)), expected);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_new_database_and_its_first_block_write_exactly_these_keys() {
    let mut chain = Chain::new();
    chain.close();
    {
        let db = chain.raw();
        let all: Vec<(Vec<u8>, Vec<u8>)> =
            db.iter().map(|e| e.unwrap()).map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        assert_eq!(
            all,
            vec![
                (b"meta/genesis_hash".to_vec(), chain.net.genesis.hash().0.to_vec()),
                (b"meta/schema_version".to_vec(), vec![0, 0, 0, 1]),
            ]
        );
    }
    chain.reopen();
    let block = chain.commit_txs(chain.net.setup_txs());
    chain.close();
    let db = chain.raw();
    let keys: Vec<Vec<u8>> = db.iter().keys().map(|k| k.unwrap().to_vec()).collect();
    let ids: Vec<_> = block.txs.iter().map(|tx| tx.id(chain.chain_id())).collect();
    let mut expected = vec![
        layout::block(1),
        layout::commit(1),
        layout::hash(&block.header.hash()),
        layout::issuer(&chain.net.issuer.public()),
        layout::log_tile(0, 0),
        layout::log_tile(1, 0),
        b"meta/genesis_hash".to_vec(),
        b"meta/schema_version".to_vec(),
        b"meta/tip".to_vec(),
        layout::nonce(1),
        layout::nonce(2),
        layout::reviewer(&chain.net.reviewer.public()),
        layout::tx(&ids[0]),
        layout::tx(&ids[1]),
    ];
    expected.sort();
    assert_eq!(keys, expected);
    let get = |k: &[u8]| db.get(k).unwrap().expect("stored").to_vec();
    assert_eq!(get(&layout::hash(&block.header.hash())), 1u64.to_be_bytes());
    assert_eq!(get(&layout::nonce(1)), Vec::<u8>::new());
    assert_eq!(get(b"meta/tip"), encode(&Tip::from_header(&block.header)));
    assert_eq!(get(&layout::block(1)), encode(&block));
    assert_eq!(get(&layout::commit(1)), encode(&chain.blocks[0].1));
    let leaves: Vec<u8> = [chain.log_node(0, 0), chain.log_node(0, 1)].concat();
    assert_eq!(get(&layout::log_tile(0, 0)), leaves);
    assert_eq!(get(&layout::log_tile(1, 0)), chain.log_node(1, 0));
    assert_eq!(get(&layout::log_tile(1, 0)), block.header.log_root.0.to_vec());
}
