//! docs/protocol.md §9, the reference vectors, computed by the ledger's own
//! code and compared with the literal hex the document prints (and the
//! browser verifier's and the Python SDK's tests quote). Every hashing path
//! a block goes through is pinned here: ids, leaf hashes, the tx root, the log root, the state root over
//! the state delta, and the header hash; both for the proposer's build and
//! for a validator's validation, plain and through the body check.

use std::sync::Arc;

use keepsake_ledger::block::{CheckedBody, build_block, validate_block, validate_checked_memo};
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::TestNet;
use keepsake_ledger::{Executed, Tip};
use keepsake_types::{Block, LogLeaf, TxBody, encoding, ids, merkle};

/// The §9 chain: block 1 registers the issuer and the reviewer, block 2
/// creates `apsaras` (300), block 3 mints edition 1 to the holder of §2 and
/// edition 2 to `TestNet::holder(2)`. Block `h` is at genesis time +
/// (99 + h) s, proposed by validator `h - 1` (keys 100, 101, 102).
fn chain() -> (TestNet, Vec<Block>, Vec<Executed>) {
    let net = TestNet::new(4);
    let series = net.series_id(&net.issuer, "apsaras");
    let alice = ids::holder_id("5f2c9a", "alice@example.com");
    let blocks = [
        net.setup_txs(),
        vec![net.create_series(&net.issuer, &net.reviewer, "apsaras", 300)],
        vec![
            TxBody::Mint { series_id: series, edition: 1, holder: alice }.sign(net.chain(), &[&net.issuer]),
            net.mint(&net.issuer, series, 2, 2),
        ],
    ];
    let mut state = MemoryState::new();
    let mut tip = Tip::genesis(&net.genesis);
    let (mut built, mut executions) = (Vec::new(), Vec::new());
    for (i, txs) in blocks.into_iter().enumerate() {
        let time = net.genesis.genesis_time_ms + 100_000 + 1000 * i as u64;
        let proposer = net.validators[i].public();
        let b = build_block(&state, &net.genesis, &tip, proposer, time, txs).unwrap();
        assert!(b.left_out.is_empty());
        // A validator's two ways to validate it agree with the build, byte for byte.
        let plain = validate_block(&state, &net.genesis, &tip, &b.block).unwrap();
        let shared = Arc::new(b.block.clone());
        let checked = CheckedBody::check(net.chain(), &shared).expect("the body matches");
        let through = validate_checked_memo(&state, &net.genesis, &tip, &checked, &()).unwrap();
        assert_eq!(format!("{plain:?}"), format!("{:?}", b.executed));
        assert_eq!(format!("{through:?}"), format!("{:?}", b.executed));
        state.commit(&plain).unwrap();
        tip = Tip::from_header(&b.block.header);
        built.push(b.block);
        executions.push(plain);
    }
    (net, built, executions)
}

#[test]
fn the_reference_vectors_of_protocol_section_9() {
    let (net, blocks, executions) = chain();
    let chain = net.chain();
    let hex = |v: &dyn std::fmt::Display| v.to_string();
    let series = net.series_id(&net.issuer, "apsaras");
    let alice = ids::holder_id("5f2c9a", "alice@example.com");
    let block3 = &blocks[2];
    let mint = &block3.txs[0];

    assert_eq!(hex(&net.issuer.public()), "bbe9753f42d082d0207b1aa38b15dbd9b916458615a6aa0dc7ecc04c105e408d");
    assert_eq!(
        hex(&net.reviewer.public()),
        "eaf15ebe054884933e6c7a0e430e832282c4df270c33c69007ff13ec50d5ccd2"
    );
    assert_eq!(hex(&net.genesis.hash()), "ea633fbd89031a85def6edc2ef551f5833a87e7b5cee18e71338d6265e6a799c");
    assert_eq!(
        hex(&block3.header.validators_hash),
        "1437c0e03646d9ad2bfa43b2ccb3c32539fa798c0d63b8c33d660ab1c0df64ca"
    );
    assert_eq!(hex(&series), "7c9c85e2db9f4cbe3d8c4bf982c112e1691193f31e570f2d4e77d7a2bce08101");
    assert_eq!(
        hex(&ids::certificate_id(chain, &series, 1)),
        "6c691de34a32ac7c42b60092d73d12d05279a4180c0e1fdcce04efac3c2d3cf9"
    );
    assert_eq!(hex(&alice), "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38");
    assert_eq!(hex(&mint.id(chain)), "1ff77002ed2061c7cf7c893efb486d2b36a95582c3b27eeb4007d7aa20a421f7");

    // Block 3.
    let h = &block3.header;
    assert_eq!((h.height, h.time_ms, h.tx_count), (3, 1_700_000_102_000, 2));
    assert_eq!(hex(&h.proposer), "21047a2f7d9ddc43c3d29af38c0bdedc180099906139c8c56fc0519fdac6a534");
    assert_eq!(hex(&h.prev_hash), "9b837f504254104bd9a54a071fa63d84e6db766cf0d6d3b64ea1c28f411486be");
    assert_eq!(hex(&h.tx_root), "88afdaf75f6cd907b3802e26ef3005d7c4376c7c810af4e54a7fd7ce2f12963f");
    assert_eq!(h.log_size, 5);
    assert_eq!(hex(&h.log_root), "16f8c857d1dc95337b8efd2e0091562b61ddaef116b4631dd3afb18c18fca3bb");
    assert_eq!(hex(&h.state_root), "43fec5c63b32bcb96c72e8df6eec864056efb45cb0133542158dc468865fb46d");
    assert_eq!(hex(&h.hash()), "19bb7e9c13935fdcf998e5e3faffca0c9e58a718a2bd6f8c8f0e7c74b62d9f96");
    assert_eq!(encoding::encode(h).len(), 215);
    let executed = &executions[2];
    assert_eq!(
        (executed.tx_root, executed.log_root, executed.state_root),
        (h.tx_root, h.log_root, h.state_root)
    );

    // The mint's log leaf, at index 3.
    let leaf = LogLeaf { height: 3, time_ms: h.time_ms, tx: mint.clone() };
    let bytes = encoding::encode(&leaf);
    assert_eq!(keepsake_types::bytes::to_hex(&bytes[..7]), "03f0ec9bffbc31", "varint(3) || varint(time)");
    assert_eq!(
        hex(&merkle::leaf_hash(&bytes)),
        "04fdc14207a198434f10a81c4ae93600dd58cb8d8dff4c5a8b295ba71d38c63e"
    );
}
