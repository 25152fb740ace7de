//! Committing blocks: the store answers exactly like the ledger's in-memory
//! reference, keeps everything across a reopen, and refuses (writing nothing)
//! blocks that do not extend the tip and any write over an insert-only record.

mod common;

use keepsake_types::encoding::encode;

use common::Chain;
use keepsake_ledger::Tip;
use keepsake_ledger::memory::MemoryState;
use keepsake_ledger::testkit::TestNet;
use keepsake_ledger::{CertificateState, StateView, TxLocation};
use keepsake_store::StoreError;
use keepsake_types::merkle::{self, NodeSource};
use keepsake_types::{BlockHash, ContentHash, IssuerStatus, PublicKey, TxId};

/// Setup; series alpha (1000) and beta (500); 700 mints over three blocks,
/// a revocation, and an issuer suspension: 706 log leaves, so level-0 tiles
/// roll over twice and level-1 once.
fn busy_chain() -> Chain {
    let mut chain = Chain::new();
    chain.commit_txs(chain.net.setup_txs());
    chain.commit_txs(vec![chain.create_series("alpha", 1000), chain.create_series("beta", 500)]);
    chain.commit_txs(chain.mints("alpha", 1..=300));
    let mut txs = chain.mints("beta", 1..=200);
    txs.extend(chain.mints("alpha", 301..=400));
    chain.commit_txs(txs);
    let mut txs = chain.mints("alpha", 401..=500);
    txs.push(chain.revoke("alpha", 7));
    chain.commit_txs(txs);
    chain.commit_txs(vec![chain.net.set_issuer_status(&chain.net.issuer, IssuerStatus::Suspended, 3)]);
    assert_eq!(chain.tip.height, 6);
    assert_eq!(chain.tip.log_size, 706);
    chain
}

/// Every StateView question the test chain can ask, answered by the store and by the reference.
fn assert_same_state(chain: &Chain, reference: &MemoryState) {
    let store = chain.store();
    let net = &chain.net;
    let mut keys: Vec<PublicKey> = vec![net.issuer.public(), net.reviewer.public()];
    keys.extend(net.governors.iter().map(|k| k.public()));
    for key in &keys {
        assert_eq!(store.issuer(key).unwrap(), reference.issuer(key).unwrap(), "issuer {key}");
        assert_eq!(store.reviewer(key).unwrap(), reference.reviewer(key).unwrap(), "reviewer {key}");
    }
    for name in ["alpha", "beta", "gamma"] {
        let id = chain.series(name);
        assert_eq!(store.series(&id).unwrap(), reference.series(&id).unwrap(), "series {name}");
        let content = TestNet::content(name);
        assert_eq!(
            store.series_by_content(&content).unwrap(),
            reference.series_by_content(&content).unwrap()
        );
        for edition in 0..=1001 {
            let cert = chain.cert(name, edition);
            assert_eq!(
                store.certificate(&cert).unwrap(),
                reference.certificate(&cert).unwrap(),
                "{name} #{edition}"
            );
            assert_eq!(
                store.revocation(&cert).unwrap(),
                reference.revocation(&cert).unwrap(),
                "{name} #{edition}"
            );
        }
    }
    for (block, _) in &chain.blocks {
        for tx in &block.txs {
            let id = tx.id(chain.chain_id());
            assert_eq!(store.tx_location(&id).unwrap(), reference.tx_location(&id).unwrap(), "tx {id}");
        }
    }
    assert_eq!(store.tx_location(&TxId([9; 32])).unwrap(), None);
    for nonce in 0..=5 {
        assert_eq!(
            store.governance_nonce_used(nonce).unwrap(),
            reference.governance_nonce_used(nonce).unwrap(),
            "nonce {nonce}"
        );
    }
    // Every log node, and the first missing ones of each level.
    let size = chain.tip.log_size;
    for level in 0u8..12 {
        for index in 0..(size >> level) + 2 {
            assert_eq!(store.node(level, index), reference.node(level, index), "node ({level}, {index})");
        }
    }
}

#[test]
fn store_answers_like_the_memory_state_and_log() {
    let chain = busy_chain();
    let store = chain.store();
    assert_same_state(&chain, &chain.memory);

    // Spot values, so this does not only compare two implementations.
    let alpha = store.series(&chain.series("alpha")).unwrap().expect("alpha exists");
    assert_eq!(alpha.minted, 500);
    assert_eq!(store.series(&chain.series("beta")).unwrap().expect("beta").minted, 200);
    let cert = store.certificate(&chain.cert("alpha", 42)).unwrap().expect("alpha #42");
    assert_eq!(
        cert,
        CertificateState {
            series_id: chain.series("alpha"),
            edition: 42,
            holder: TestNet::holder(42),
            tx_id: chain.blocks[2].0.txs[41].id(chain.chain_id()),
            leaf_index: 4 + 41,
            height: 3,
        }
    );
    assert!(store.revocation(&chain.cert("alpha", 7)).unwrap().is_some());
    assert!(store.revocation(&chain.cert("alpha", 8)).unwrap().is_none());
    assert_eq!(
        store.issuer(&chain.net.issuer.public()).unwrap().expect("issuer").status,
        IssuerStatus::Suspended
    );
    assert!(store.certificate(&chain.cert("alpha", 501)).unwrap().is_none());

    // The tip.
    let last = &chain.blocks[5].0.header;
    assert_eq!(store.tip().unwrap(), Some(Tip::from_header(last)));
    assert_eq!(store.ledger_tip(&chain.net.genesis).unwrap(), chain.tip);

    // Roots at every block boundary and at tile edges.
    let mut sizes: Vec<u64> = chain.blocks.iter().map(|(b, _)| b.header.log_size).collect();
    sizes.extend([0, 1, 2, 3, 255, 256, 257, 511, 512, 513, 705]);
    for &size in &sizes {
        assert_eq!(store.log_root(size).unwrap(), merkle::root(&chain.log, size).unwrap(), "root at {size}");
    }
    for (block, _) in &chain.blocks {
        assert_eq!(store.log_root(block.header.log_size).unwrap(), block.header.log_root);
    }

    // Inclusion: every leaf in the full log, and a few in older sizes; each verified.
    let leaves: Vec<(TxLocation, Vec<u8>)> = chain
        .blocks
        .iter()
        .flat_map(|(b, _)| b.txs.iter())
        .map(|tx| {
            let location = store.tx_location(&tx.id(chain.chain_id())).unwrap().expect("committed");
            (location, store.leaf_bytes_for(&location).unwrap())
        })
        .collect();
    assert_eq!(leaves.len(), 706);
    for (i, (location, bytes)) in leaves.iter().enumerate() {
        assert_eq!(location.leaf_index, i as u64);
        let leaf = merkle::leaf_hash(bytes);
        for size in [706, location.leaf_index + 1, 513.max(location.leaf_index + 1)] {
            let proof = store.inclusion_proof(location.leaf_index, size).unwrap();
            assert_eq!(proof, merkle::inclusion_proof(&chain.log, location.leaf_index, size).unwrap());
            let root = store.log_root(size).unwrap();
            merkle::verify_inclusion(&leaf, location.leaf_index, size, &proof, &root).unwrap();
        }
    }
    // A proof checked against the wrong leaf fails, so the verification above means something.
    let proof = store.inclusion_proof(5, 706).unwrap();
    let wrong = merkle::leaf_hash(&leaves[6].1);
    assert!(merkle::verify_inclusion(&wrong, 5, 706, &proof, &store.log_root(706).unwrap()).is_err());

    // Consistency between every pair of interesting sizes.
    for &old in &sizes {
        for &new in &sizes {
            if old > new {
                continue;
            }
            let proof = store.consistency_proof(old, new).unwrap();
            assert_eq!(proof, merkle::consistency_proof(&chain.log, old, new).unwrap(), "{old} -> {new}");
            let (old_root, new_root) = (store.log_root(old).unwrap(), store.log_root(new).unwrap());
            merkle::verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
        }
    }

    // Nothing past the committed log.
    assert_eq!(store.log_root(707).unwrap_err().code(), "OutOfRange");
    assert_eq!(store.inclusion_proof(706, 706).unwrap_err().code(), "OutOfRange");
    assert_eq!(store.inclusion_proof(0, 707).unwrap_err().code(), "OutOfRange");
    assert_eq!(store.consistency_proof(10, 707).unwrap_err().code(), "OutOfRange");
    assert_eq!(store.consistency_proof(11, 10).unwrap_err().code(), "OutOfRange");
}

#[test]
fn transactions_are_read_back_from_their_block() {
    let chain = busy_chain();
    let store = chain.store();
    for (block, _) in &chain.blocks {
        for (index, tx) in block.txs.iter().enumerate() {
            let id = tx.id(chain.chain_id());
            let (got, location, time_ms) = store.tx(&id).unwrap().expect("committed transaction");
            assert_eq!(&got, tx);
            assert_eq!(location.height, block.header.height);
            assert_eq!(location.index as usize, index);
            assert_eq!(time_ms, block.header.time_ms);
        }
    }
    assert!(store.tx(&TxId([3; 32])).unwrap().is_none());
    let bogus = TxLocation { height: 99, index: 0, leaf_index: 0 };
    assert_eq!(store.leaf_bytes_for(&bogus).unwrap_err().code(), "OutOfRange");
    let bogus = TxLocation { height: 1, index: 2, leaf_index: 0 };
    assert_eq!(store.leaf_bytes_for(&bogus).unwrap_err().code(), "OutOfRange");
    // A location whose leaf index points at another transaction's leaf.
    let bogus = TxLocation { height: 1, index: 0, leaf_index: 1 };
    assert_eq!(store.leaf_bytes_for(&bogus).unwrap_err().code(), "Corrupt");
}

#[test]
fn blocks_and_hashes_are_indexed() {
    let chain = Chain::small(3);
    let store = chain.store();
    for (height, (block, commit)) in (1u64..).zip(&chain.blocks) {
        assert_eq!(store.block(height).unwrap().as_ref(), Some(block));
        assert_eq!(store.commit(height).unwrap().as_ref(), Some(commit));
        assert_eq!(store.height_of(&block.header.hash()).unwrap(), Some(height));
    }
    assert_eq!(store.block(4).unwrap(), None);
    assert_eq!(store.commit(0).unwrap(), None);
    assert_eq!(store.height_of(&BlockHash([0; 32])).unwrap(), None);
    assert_eq!(store.height_of(&chain.net.genesis.hash()).unwrap(), None);
}

#[test]
fn reopen_keeps_blocks_commits_state_and_tip() {
    let mut chain = busy_chain();
    let tip_before = chain.store().tip().unwrap();
    chain.reopen();
    let store = chain.store();
    assert_eq!(store.tip().unwrap(), tip_before);
    assert_eq!(store.ledger_tip(&chain.net.genesis).unwrap(), chain.tip);
    for (height, (block, commit)) in (1u64..).zip(&chain.blocks) {
        assert_eq!(store.block(height).unwrap().as_ref(), Some(block), "block {height}");
        assert_eq!(store.commit(height).unwrap().as_ref(), Some(commit), "commit {height}");
    }
    assert_same_state(&chain, &chain.memory);
    assert_eq!(store.log_root(706).unwrap(), chain.log.root());

    // The chain goes on after the reopen.
    chain.commit_txs(vec![chain.net.set_issuer_status(&chain.net.issuer, IssuerStatus::Active, 4)]);
    chain.commit_txs(chain.mints("beta", 201..=210));
    chain.reopen();
    assert_eq!(chain.store().tip().unwrap().expect("tip").height, 8);
    assert_same_state(&chain, &chain.memory);
}

#[test]
fn rewriting_a_certificate_is_refused_and_writes_nothing() {
    let mut chain = Chain::small(1);
    let first = chain.cert("alpha", 1);
    let original = chain.store().certificate(&first).unwrap().expect("edition 1 minted");
    assert_eq!(original.holder, TestNet::holder(1));
    let tip_before = chain.store().tip().unwrap().expect("tip");
    let root_before = chain.store().log_root(tip_before.log_size).unwrap();

    // A real next block (mint of edition 2), whose execution also re-inserts
    // edition 1 with another holder: what a transfer would have to write.
    let (block, mut executed) = chain.build(chain.mints("alpha", 2..=2));
    let commit = chain.commit_of(&block);
    executed
        .delta
        .certificates
        .insert(first, CertificateState { holder: TestNet::holder(666), ..original.clone() });
    let err = chain.store().commit_block(&block, &commit, &executed).unwrap_err();
    assert!(
        matches!(err, StoreError::HolderImmutable { certificate_id } if certificate_id == first),
        "{err}"
    );
    assert_eq!(err.code(), "HolderImmutable");
    assert!(err.is_rejection());

    // Nothing was written: not the tip, not the other certificate, not the block, not the log.
    let store = chain.store();
    assert_eq!(store.tip().unwrap(), Some(tip_before.clone()));
    assert_eq!(store.certificate(&first).unwrap(), Some(original.clone()));
    assert_eq!(store.certificate(&chain.cert("alpha", 2)).unwrap(), None);
    assert_eq!(store.tx_location(&block.txs[0].id(chain.chain_id())).unwrap(), None);
    assert_eq!(store.block(block.header.height).unwrap(), None);
    assert_eq!(store.commit(block.header.height).unwrap(), None);
    assert_eq!(store.height_of(&block.header.hash()).unwrap(), None);
    assert_eq!(store.series(&chain.series("alpha")).unwrap().expect("alpha").minted, 1);
    assert!(store.node(0, tip_before.log_size).is_err(), "no new leaf");
    assert_eq!(store.log_root(tip_before.log_size).unwrap(), root_before);

    // Still true after a reopen, and the honest block then commits.
    chain.reopen();
    assert_eq!(chain.store().certificate(&first).unwrap(), Some(original));
    chain.commit_txs(chain.mints("alpha", 2..=2));
    assert_eq!(
        chain.store().certificate(&chain.cert("alpha", 2)).unwrap().expect("#2").holder,
        TestNet::holder(2)
    );
}

#[test]
fn other_insert_only_records_are_refused_and_write_nothing() {
    let mut chain = Chain::small(2);
    chain.commit_txs(vec![chain.revoke("alpha", 1)]);
    let old_tx = chain.blocks[0].0.txs[0].id(chain.chain_id());
    let revoked = chain.store().revocation(&chain.cert("alpha", 1)).unwrap().expect("revoked");
    let tip_before = chain.store().tip().unwrap();

    type Tamper = Box<dyn Fn(&Chain, &mut keepsake_ledger::Executed)>;
    let cases: Vec<(&str, String, Tamper)> = vec![
        (
            "tx",
            old_tx.to_hex(),
            Box::new(move |_, e| {
                // The block's only transaction, relabelled as an already committed one.
                let (id, location) = e.delta.txs.pop_first().expect("one tx");
                assert_ne!(id, old_tx);
                e.delta.txs.insert(old_tx, location);
                e.tx_ids[0] = old_tx;
            }),
        ),
        (
            "revoke",
            chain.cert("alpha", 1).to_hex(),
            Box::new(move |c, e| {
                e.delta.revocations.insert(c.cert("alpha", 1), revoked.clone());
            }),
        ),
        (
            "content",
            TestNet::content("alpha").to_hex(),
            Box::new(|c, e| {
                e.delta.content_index.insert(TestNet::content("alpha"), c.series("alpha"));
            }),
        ),
        (
            "nonce",
            "1".into(),
            Box::new(|_, e| {
                e.delta.governance_nonces.insert(1);
            }),
        ),
    ];
    for (kind, key, tamper) in cases {
        let (block, mut executed) = chain.build(chain.mints("alpha", 3..=3));
        let commit = chain.commit_of(&block);
        tamper(&chain, &mut executed);
        let err = chain.store().commit_block(&block, &commit, &executed).unwrap_err();
        match &err {
            StoreError::RecordExists { kind: k, key: got } => {
                assert_eq!((*k, got.as_str()), (kind, key.as_str()));
            }
            other => panic!("{kind}: expected RecordExists, got {other:?}"),
        }
        assert_eq!(err.code(), "RecordExists");
        assert_eq!(chain.store().tip().unwrap(), tip_before, "{kind}: tip unchanged");
        assert_eq!(
            chain.store().certificate(&chain.cert("alpha", 3)).unwrap(),
            None,
            "{kind}: nothing written"
        );
    }
    assert_eq!(chain.store().series_by_content(&ContentHash([0; 32])).unwrap(), None);
    chain.commit_txs(chain.mints("alpha", 3..=3));
}

#[test]
fn blocks_that_do_not_extend_the_tip_are_refused() {
    let mut chain = Chain::new();
    let block1 = chain.commit_txs(chain.net.setup_txs());
    let tip = chain.tip.clone();
    let store_tip = || chain.store().tip().unwrap();
    let before = store_tip();

    // Block 1 again.
    let commit1 = chain.blocks[0].1.clone();
    let (_, executed_again) = {
        // An execution is needed; any will do, the height check comes first.
        chain.build(vec![])
    };
    let err = chain.store().commit_block(&block1, &commit1, &executed_again).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotNextBlock { expected_height: 2, got_height: 1, expected_prev, got_prev }
                if expected_prev == tip.hash && got_prev == chain.net.genesis.hash()
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "NotNextBlock");

    // The right height on another parent.
    let (mut block, executed) = chain.build(vec![chain.create_series("alpha", 10)]);
    block.header.prev_hash = BlockHash([7; 32]);
    let commit = chain.commit_of(&block);
    let err = chain.store().commit_block(&block, &commit, &executed).unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotNextBlock { expected_height: 2, got_height: 2, expected_prev, got_prev }
                if expected_prev == tip.hash && got_prev == BlockHash([7; 32])
        ),
        "{err:?}"
    );

    // A skipped height.
    let (mut block, executed) = chain.build(vec![chain.create_series("alpha", 10)]);
    block.header.height = 3;
    let commit = chain.commit_of(&block);
    let err = chain.store().commit_block(&block, &commit, &executed).unwrap_err();
    assert!(matches!(err, StoreError::NotNextBlock { expected_height: 2, got_height: 3, .. }), "{err:?}");

    // The right block with the commit of another block.
    let (block, executed) = chain.build(vec![chain.create_series("alpha", 10)]);
    let err = chain.store().commit_block(&block, &commit1, &executed).unwrap_err();
    assert!(matches!(err, StoreError::InputMismatch { what: "commit height", .. }), "{err:?}");
    assert_eq!(err.code(), "InputMismatch");

    // The right block with the execution of another one.
    let commit = chain.commit_of(&block);
    let err = chain.store().commit_block(&block, &commit, &executed_again).unwrap_err();
    assert!(matches!(err, StoreError::InputMismatch { what: "executed transaction count", .. }), "{err:?}");

    assert_eq!(store_tip(), before);
    assert_eq!(chain.store().block(2).unwrap(), None);
    chain.commit_txs(vec![chain.create_series("alpha", 10)]);
    assert_eq!(chain.store().tip().unwrap().expect("tip").height, 2);
}

/// A block appends one record and exactly its new log nodes to the history
/// and puts per transaction only its index entry and its state record in
/// sled: no block, commit or log node is stored there.
#[test]
fn history_is_appended_and_the_state_holds_no_history() {
    let mut chain = Chain::small(0);
    let txs = chain.mints("alpha", 1..=1000);
    chain.commit_txs(txs);
    let log_size = chain.tip.log_size;
    assert_eq!(log_size, 3 + 1000);
    chain.close();
    let len = |name: &str| std::fs::metadata(chain.history_file(name)).unwrap().len();
    assert_eq!(len("log"), keepsake_store::layout::log_nodes_for(log_size) * 32);
    assert_eq!(len("log"), (2 * 1003 - 1003u64.count_ones() as u64) * 32);
    assert_eq!(len("heights"), 3 * 8);
    let records: u64 = chain
        .blocks
        .iter()
        .map(|(b, c)| {
            keepsake_store::layout::history_record(b.header.height, &encode(b), &encode(c)).unwrap().len()
                as u64
        })
        .sum();
    assert_eq!(len("blocks"), records);
    // The last node of each level is where the formula says.
    let log = std::fs::read(chain.history_file("log")).unwrap();
    for level in 0u8..10 {
        let last = (log_size >> level) - 1;
        let at = keepsake_store::layout::log_position(level, last).unwrap() as usize * 32;
        assert_eq!(&log[at..at + 32], &chain.log.node(level, last).unwrap().0[..], "level {level}");
    }
    let db = chain.raw();
    let count = |prefix: &[u8]| db.scan_prefix(prefix).count();
    assert_eq!(count(b"hash/"), 3);
    assert_eq!(count(b"series/"), 1);
    assert_eq!(count(b"nonce/"), 2);
    // meta (3) + issuer + reviewer + content + the above: no transaction, certificate,
    // block, commit or log node is stored in sled.
    assert_eq!(db.len(), 3 + 3 + 3 + 1 + 2);
}

#[test]
fn a_temporary_store_works_like_a_file_one() {
    let net = TestNet::new(1);
    let store = keepsake_store::Store::open_temporary(&net.genesis).unwrap();
    assert_eq!(store.tip().unwrap(), None);
    assert_eq!(store.ledger_tip(&net.genesis).unwrap(), keepsake_ledger::Tip::genesis(&net.genesis));
    assert_eq!(store.log_root(0).unwrap(), merkle::empty_root());
    assert_eq!(store.log_root(1).unwrap_err().code(), "OutOfRange");
    let mut other = net.genesis.clone();
    other.chain_id = "keepsake-other".parse().unwrap();
    assert_eq!(store.ledger_tip(&other).unwrap_err().code(), "GenesisMismatch");
    let wal = store.aux_tree("wal").unwrap();
    wal.insert(b"k", b"v").unwrap();
    assert_eq!(store.tip().unwrap(), None, "the aux tree is apart from the chain");
    assert_eq!(store.aux_tree("__sled__default").unwrap_err().code(), "OutOfRange");
}

#[test]
fn log_nodes_that_do_not_grow_the_log_exactly_are_refused() {
    let mut chain = Chain::small(300);
    let before = chain.store().tip().unwrap();
    type Tamper = Box<dyn Fn(&mut Vec<((u8, u64), keepsake_types::Hash32)>)>;
    let cases: Vec<(&str, &str, Tamper)> = vec![
        (
            "the last node left out",
            "log nodes at a level",
            Box::new(|n| {
                n.pop();
            }),
        ),
        (
            "the first node skipped",
            "new log node",
            Box::new(|n| {
                n.remove(0);
            }),
        ),
        ("a node repeated", "new log node", Box::new(|n| n.insert(1, n[0]))),
        ("a node from the past", "new log node", Box::new(|n| n[0].0.1 -= 1)),
        ("a level beyond 63", "log node level", Box::new(|n| n.push(((64, 0), n[0].1)))),
    ];
    for (case, what, tamper) in cases {
        // 303 leaves + 10: the new level-0 nodes start mid-tile 1.
        let (block, mut executed) = chain.build(chain.mints("alpha", 301..=310));
        let commit = chain.commit_of(&block);
        tamper(&mut executed.log_nodes);
        let err = chain.store().commit_block(&block, &commit, &executed).unwrap_err();
        assert!(matches!(err, StoreError::InputMismatch { what: w, .. } if w == what), "{case}: {err:?}");
        assert_eq!(chain.store().tip().unwrap(), before, "{case}");
    }
    chain.commit_txs(chain.mints("alpha", 301..=310));
    assert_eq!(chain.store().log_root(313).unwrap(), chain.log.root());
}
