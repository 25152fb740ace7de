//! A certificate minted on a real node verifies offline against the genesis
//! alone, and every single-field tampering makes verification fail with the
//! precise reason.

use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{TestNode, wait_final};
use keepsake_types::{
    Certificate, ContentHash, Genesis, Hash32, Keypair, ReviewSubject, TxBody, Validator, hash::sha256, ids,
};

async fn minted_certificate() -> (TestNode, Certificate, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let chain = t.chain().to_string();
    let subject = ReviewSubject {
        issuer: t.issuer.public(),
        name: "jade".into(),
        content_hash: ContentHash(sha256(b"jade cong").0),
        max_supply: 8,
        metadata_uri: "https://museum.example/jade.json".into(),
    };
    let txs = vec![
        TxBody::RegisterIssuer { issuer: t.issuer.public(), name: "Museum".into(), nonce: 1 }
            .sign(&chain, &[&t.governor]),
        TxBody::RegisterReviewer { reviewer: t.reviewer.public(), name: "Board".into(), nonce: 2 }
            .sign(&chain, &[&t.governor]),
    ];
    for tx in txs {
        let id = c.submit_tx(tx).await.unwrap();
        assert!(matches!(wait_final(&c, id).await, TxStatus::Committed { .. }));
    }
    let create = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: subject.name.clone(),
        content_hash: subject.content_hash,
        max_supply: 8,
        metadata_uri: subject.metadata_uri.clone(),
        approval: subject.approve(&chain, &t.reviewer),
    }
    .sign(&chain, &[&t.issuer]);
    let id = c.submit_tx(create).await.unwrap();
    wait_final(&c, id).await;
    let series = ids::series_id(&chain, &t.issuer.public(), "jade");
    for edition in 1..=3 {
        let mint =
            TxBody::Mint { series_id: series, edition, holder: ids::holder_id("s", &format!("u{edition}")) }
                .sign(&chain, &[&t.issuer]);
        let id = c.submit_tx(mint).await.unwrap();
        wait_final(&c, id).await;
    }
    let cert = c.get_certificate(ids::certificate_id(&chain, &series, 2)).await.unwrap().certificate;
    (t, cert, dir)
}

/// Applies `tamper` to a copy and returns the error code verification gives.
fn code_after(cert: &Certificate, genesis: &Genesis, tamper: impl Fn(&mut Certificate)) -> String {
    let mut c = cert.clone();
    tamper(&mut c);
    assert_ne!(&c, cert, "the tampering must change something");
    c.verify(genesis).expect_err("a tampered certificate must not verify").code().to_string()
}

fn flip(h: &mut Hash32) {
    h.0[7] ^= 0x20;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_single_field_tampering_is_caught() {
    let (t, cert, _dir) = minted_certificate().await;
    let g = &t.genesis;
    let v = cert.verify(g).unwrap();
    assert_eq!((v.record.edition, v.record.max_supply, v.signed_power, v.total_power), (2, 8, 1, 1));

    // The record: every field.
    let mismatch = "CertificateMismatch";
    assert_eq!(code_after(&cert, g, |c| c.record.series_id.0[0] ^= 1), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.series_name.push('!')), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.edition = 3), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.max_supply = 9), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.holder.0[0] ^= 1), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.issuer = Keypair::from_seed([5; 32]).public()), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.content_hash.0[0] ^= 1), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.metadata_uri.push('x')), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.reviewer = Keypair::from_seed([6; 32]).public()), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.height += 1), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.time_ms += 1), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.record.mint_tx.0[0] ^= 1), mismatch);
    assert_eq!(code_after(&cert, g, |c| c.certificate_id.0[0] ^= 1), mismatch);

    // The log entries and proofs.
    assert_eq!(code_after(&cert, g, |c| c.mint.leaf.0[5] ^= 1), "ProofMismatch");
    assert_eq!(code_after(&cert, g, |c| c.series.leaf.0[5] ^= 1), "ProofMismatch");
    assert_eq!(code_after(&cert, g, |c| c.mint.leaf_index += 1), "ProofMismatch");
    assert_eq!(code_after(&cert, g, |c| flip(&mut c.mint.proof[0])), "ProofMismatch");
    assert_eq!(code_after(&cert, g, |c| flip(&mut c.series.proof[1])), "ProofMismatch");
    assert_eq!(
        code_after(&cert, g, |c| {
            c.mint.proof.pop();
        }),
        "ProofMismatch"
    );
    // Swapping the two entries: each proof verifies, but the roles do not.
    assert_eq!(code_after(&cert, g, |c| std::mem::swap(&mut c.mint, &mut c.series)), mismatch);

    // The checkpoint: header fields, commit signature, missing signature.
    assert_eq!(code_after(&cert, g, |c| flip(&mut c.checkpoint.header.log_root)), "CommitBlockMismatch");
    assert_eq!(code_after(&cert, g, |c| c.checkpoint.header.log_size += 1), "CommitBlockMismatch");
    assert_eq!(code_after(&cert, g, |c| c.checkpoint.header.time_ms += 1), "CommitBlockMismatch");
    assert_eq!(code_after(&cert, g, |c| c.checkpoint.header.height += 1), "CommitHeightMismatch");
    assert_eq!(
        code_after(&cert, g, |c| c.checkpoint.commit.signatures[0].signature.0[3] ^= 1),
        "BadSignature"
    );
    assert_eq!(code_after(&cert, g, |c| c.checkpoint.commit.signatures.clear()), "InsufficientPower");
    assert_eq!(code_after(&cert, g, |c| c.checkpoint.commit.round += 1), "BadSignature");
    assert_eq!(code_after(&cert, g, |c| c.chain_id = "other-chain".parse().unwrap()), "WrongChain");
    assert_eq!(code_after(&cert, g, |c| c.format = "keepsake-certificate/v0".into()), "Malformed");
    // A forged commit by a key outside the genesis.
    let forger = Keypair::from_seed([66; 32]);
    assert_eq!(
        code_after(&cert, g, |c| {
            let v = c.checkpoint.commit.vote_data().sign(&c.chain_id, &forger);
            c.checkpoint.commit.signatures[0].validator = v.validator;
            c.checkpoint.commit.signatures[0].signature = v.signature;
        }),
        "UnknownValidator"
    );

    // The right certificate against the wrong genesis.
    let mut other = g.clone();
    other.validators = vec![Validator { public_key: forger.public(), power: 1, name: "x".into() }];
    assert_eq!(cert.verify(&other).unwrap_err().code(), "ValidatorSetMismatch");
    let mut other_chain = g.clone();
    other_chain.chain_id = "keepsake-other".parse().unwrap();
    assert_eq!(cert.verify(&other_chain).unwrap_err().code(), "WrongChain");

    // Malformed files.
    assert_eq!(Certificate::from_json("{").unwrap_err().code(), "Malformed");
    let mut json: serde_json::Value = serde_json::to_value(&cert).unwrap();
    json["price"] = serde_json::json!(100);
    assert_eq!(Certificate::from_json(&json.to_string()).unwrap_err().code(), "Malformed");
    // Just over the limit (4 MiB since set transitions; a 300 KiB file is fine now).
    let limit = keepsake_types::certificate::CERTIFICATE_FILE_MAX;
    let huge = format!("\"{}\"", "a".repeat(limit - 1));
    assert_eq!(huge.len(), limit + 1);
    assert_eq!(Certificate::from_json(&huge).unwrap_err().code(), "TooLarge");
    t.node.shutdown().await.unwrap();
}

/// `keepsake cert refresh` across validator-set changes, offline: the
/// in-memory test chain stored in a real store, the node's own code
/// assembling the certificates (with their transitions) and the consistency
/// answer, and the CLI's `link_refreshed` doing the rest.
#[test]
fn refreshing_a_certificate_issued_before_set_changes_yields_one_that_verifies() {
    use keepsake_ledger::testkit::{TestChain, TestNet, key};
    use keepsake_rpc::types::ConsistencyResponse;
    use keepsake_store::Store;
    use keepsake_types::ValidatorChange;

    let mut chain = TestChain::new(TestNet::new(4));
    let genesis = chain.net.genesis.clone();
    let store = Store::open_temporary(&genesis).unwrap();
    let (fifth, rotated) = (key(104), key(120));
    chain.add_keys([&fifth, &rotated]);
    let sid = chain.net.series_id(&chain.net.issuer, "jade");
    let id = ids::certificate_id(&genesis.chain_id, &sid, 1);
    let batches = {
        let net = &chain.net;
        let add = ValidatorChange::Add {
            validator: Validator { public_key: fifth.public(), power: 1, name: "org-4".into() },
        };
        let rotate =
            ValidatorChange::RotateKey { old_key: net.validators[1].public(), new_key: rotated.public() };
        vec![
            net.setup_txs(),
            vec![net.create_series(&net.issuer, &net.reviewer, "jade", 8)],
            vec![net.mint(&net.issuer, sid, 1, 1)],
            vec![net.change_validators(add, 3, Some(&fifth))],
            vec![],
            vec![net.change_validators(rotate, 4, Some(&rotated))],
            vec![],
            vec![],
        ]
    };
    let build = |store: &Store| keepsake::certificates::build(store, &genesis, &id).unwrap().certificate;
    let mut at = std::collections::BTreeMap::new();
    for txs in batches {
        let tip = store.ledger_tip(&genesis).unwrap();
        let (block, commit) = chain.push(txs).clone();
        let executed = keepsake_ledger::validate_block(&store, &genesis, &tip, &block).unwrap();
        store.commit_block(&block, &commit, &executed).unwrap();
        if block.header.height >= 3 {
            at.insert(block.header.height, build(&store));
        }
    }
    let link = |old: &Certificate, new: &Certificate| {
        let (o, n) = (&old.checkpoint.header, &new.checkpoint.header);
        let sets = keepsake::certificates::sets(&store, &genesis).unwrap();
        ConsistencyResponse {
            old: keepsake::certificates::checkpoint(&store, &sets, o.height).unwrap(),
            new: keepsake::certificates::checkpoint(&store, &sets, n.height).unwrap(),
            proof: store.consistency_proof(o.log_size, n.log_size).unwrap(),
        }
    };
    let (old, mid, fresh) = (at[&3].clone(), at[&6].clone(), at[&8].clone());
    assert_eq!((old.transitions.len(), mid.transitions.len(), fresh.transitions.len()), (0, 1, 2));
    assert_eq!(old.verify(&genesis).unwrap().set_changes, 0);
    // Every checkpoint the node serves carries just a quorum of its set's
    // precommits: 3 of the genesis four, 4 of the later five.
    let precommits = |c: &Certificate| {
        let mut counts: Vec<usize> =
            c.transitions.iter().map(|t| t.checkpoint.commit.signatures.len()).collect();
        counts.push(c.checkpoint.commit.signatures.len());
        counts
    };
    assert_eq!((precommits(&old), precommits(&fresh)), (vec![3], vec![3, 4, 4]));

    // Issued under the genesis set, refreshed to a checkpoint of the set after two changes.
    let refreshed = keepsake::cli::link_refreshed(&genesis, &old, fresh.clone(), link(&old, &fresh)).unwrap();
    assert_eq!(refreshed.transitions, fresh.transitions, "the new checkpoint's transitions come along");
    let v = refreshed.verify(&genesis).unwrap();
    assert_eq!((v.set_changes, v.previous_height, v.checkpoint_height), (2, Some(3), 8));
    // The node serves a quorum of the five (power 4), not every precommit.
    assert_eq!((v.signed_power, v.total_power), (4, 5));
    let lines = keepsake::cli::verified_lines(&v);
    assert!(
        lines.iter().any(|l| l.contains(
            "height 8, log size 6, signed by power 4 of 5 (the validator set after 2 validator-set changes)"
        )),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("refreshed     from checkpoint height 3")), "{lines:#?}");
    // Dates, not milliseconds; and the file says where revocation is checked.
    assert!(
        lines.iter().any(|l| l.starts_with("  minted        ") && l.contains(" UTC (block ")),
        "{lines:#?}"
    );
    assert!(lines.iter().any(|l| l.contains("`keepsake cert status FILE --genesis GENESIS`")), "{lines:#?}");
    // From a certificate after the first change (one transition): its older
    // checkpoint (height 6) is checked under the schedule, against the five
    // validators in force there, not the genesis four.
    let again = keepsake::cli::link_refreshed(&genesis, &mid, fresh.clone(), link(&mid, &fresh)).unwrap();
    assert_eq!(again.verify(&genesis).unwrap().previous_height, Some(6));
    // It carries a quorum of the five (4); its header's validators hash names the five.
    assert_eq!(again.previous.as_ref().unwrap().checkpoint.commit.signatures.len(), 4);

    // A node that leaves the transitions out: the result does not verify.
    let mut bare = fresh.clone();
    bare.transitions.clear();
    let err = keepsake::cli::link_refreshed(&genesis, &old, bare, link(&old, &fresh)).unwrap_err();
    assert!(err.to_string().contains("ValidatorSetMismatch"), "{err}");
    // A node whose set changes do not extend those the certificate proved.
    let mut other = fresh.clone();
    other.transitions.remove(0);
    let err = keepsake::cli::link_refreshed(&genesis, &mid, other, link(&mid, &fresh)).unwrap_err();
    assert!(err.to_string().contains("do not extend"), "{err}");
    // A node that now shows another header at the old height.
    let mut rewritten = link(&old, &fresh);
    rewritten.old.header.time_ms += 1;
    let err = keepsake::cli::link_refreshed(&genesis, &old, fresh.clone(), rewritten).unwrap_err();
    assert!(err.to_string().contains("rewritten"), "{err}");
}
