//! Pins the on-disk format (schema version 2, `layout.rs`): the exact state
//! keys and history bytes a new data directory and its first block write. A
//! change here is a change of format and needs a new `SCHEMA_VERSION`.

mod common;

use common::Chain;
use keepsake_ledger::Tip;
use keepsake_store::{SCHEMA_VERSION, layout};
use keepsake_types::encoding::encode;
use keepsake_types::{BlockHash, Hash32};

#[test]
fn key_bytes_are_pinned() {
    assert_eq!(SCHEMA_VERSION, 2);
    assert_eq!(layout::nonce(7), b"nonce/\x00\x00\x00\x00\x00\x00\x00\x07");
    assert_eq!(layout::hash(&BlockHash([0xab; 32])), [&b"hash/"[..], &[0xab; 32]].concat());
    assert_eq!((layout::STATE_DIR, layout::HISTORY_DIR), ("state", "history"));
}

#[test]
fn history_record_bytes_are_pinned() {
    let record = layout::history_record(258, b"BB", b"CCC").unwrap();
    // height u64 BE, block_len u32 BE, commit_len u32 BE, CRC-32 (IEEE) BE, block, commit.
    let crc = {
        let mut h = crc32fast::Hasher::new();
        h.update(&record[..16]);
        h.update(b"BBCCC");
        h.finalize()
    };
    let expected =
        [&[0, 0, 0, 0, 0, 0, 1, 2][..], &[0, 0, 0, 2], &[0, 0, 0, 3], &crc.to_be_bytes(), b"BB", b"CCC"]
            .concat();
    assert_eq!(record, expected);
    // The check value of CRC-32/IEEE ("123456789" -> cbf43926) pins the polynomial.
    assert_eq!(crc32fast::hash(b"123456789"), 0xcbf4_3926);
    assert_eq!(
        (layout::log_position(0, 0), layout::log_position(1, 0), layout::log_position(2, 0)),
        (Some(0), Some(2), Some(6))
    );
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
fn a_new_data_directory_and_its_first_block_write_exactly_these_bytes() {
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
                (b"meta/schema_version".to_vec(), vec![0, 0, 0, 2]),
            ]
        );
    }
    for name in ["blocks", "heights", "log", "leaves"] {
        assert_eq!(std::fs::read(chain.history_file(name)).unwrap(), Vec::<u8>::new(), "{name}");
    }
    chain.reopen();
    let block = chain.commit_txs(chain.net.setup_txs());
    chain.close();
    {
        let db = chain.raw();
        let keys: Vec<Vec<u8>> = db.iter().keys().map(|k| k.unwrap().to_vec()).collect();
        let mut expected = vec![
            layout::hash(&block.header.hash()),
            layout::issuer(&chain.net.issuer.public()),
            b"meta/genesis_hash".to_vec(),
            b"meta/schema_version".to_vec(),
            b"meta/tip".to_vec(),
            layout::nonce(1),
            layout::nonce(2),
            layout::reviewer(&chain.net.reviewer.public()),
        ];
        expected.sort();
        assert_eq!(keys, expected);
        let get = |k: &[u8]| db.get(k).unwrap().expect("stored").to_vec();
        assert_eq!(get(&layout::hash(&block.header.hash())), 1u64.to_be_bytes());
        assert_eq!(get(&layout::nonce(1)), Vec::<u8>::new());
        assert_eq!(get(b"meta/tip"), encode(&Tip::from_header(&block.header)));
    }
    let record = layout::history_record(1, &encode(&block), &encode(&chain.blocks[0].1)).unwrap();
    assert_eq!(std::fs::read(chain.history_file("blocks")).unwrap(), record);
    assert_eq!(std::fs::read(chain.history_file("heights")).unwrap(), 0u64.to_be_bytes());
    // Two leaves: (0,0), (0,1), then (1,0), the root.
    let log = [chain.log_node(0, 0), chain.log_node(0, 1), chain.log_node(1, 0)].concat();
    assert_eq!(std::fs::read(chain.history_file("log")).unwrap(), log);
    // Each leaf's transaction starts after the record header (20), the block's header and the
    // transaction count (one byte for 2).
    let header_len = encode(&block.header).len() as u64;
    let first = 20 + header_len + 1;
    let second = first + encode(&block.txs[0]).len() as u64;
    let leaves = [first.to_be_bytes(), second.to_be_bytes()].concat();
    assert_eq!(std::fs::read(chain.history_file("leaves")).unwrap(), leaves);
    assert_eq!(chain.log_node(1, 0), block.header.log_root.0.to_vec());
}
