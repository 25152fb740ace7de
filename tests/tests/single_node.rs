//! One real node (sled on disk, JSON-RPC on loopback), driven end to end over
//! real JSON-RPC: mint, certify offline, refuse every transfer, survive
//! hostile input and restarts.

use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::ws_client::WsClientBuilder;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::{BlockSummary, TxStatus};
use keepsake_tests::{TestNode, raw_http, wait_final};
use keepsake_types::{Certificate, HolderId, SeriesId, SignedTx, TxBody, ids, merkle};

fn holder(n: u32) -> HolderId {
    ids::holder_id("platform-salt", &format!("user-{n}"))
}

fn mint(t: &TestNode, series: SeriesId, edition: u32) -> SignedTx {
    TxBody::Mint { series_id: series, edition, holder: holder(edition) }.sign(t.chain(), &[&t.issuer])
}

fn stable_code(e: &ClientError) -> String {
    match e {
        ClientError::Call(obj) => {
            keepsake_rpc::error::stable_code(obj).unwrap_or_else(|| format!("#{}", obj.code()))
        }
        other => panic!("expected a call error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mint_certify_and_verify_offline() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let series = t.setup_series("apsaras", 300).await;

    // A burst of 50 mints in one submitTxs call.
    let txs: Vec<SignedTx> = (1..=50).map(|e| mint(&t, series, e)).collect();
    let outcomes = c.submit_txs(txs).await.unwrap();
    assert!(outcomes.iter().all(|o| o.error.is_none()), "{outcomes:?}");
    for o in &outcomes {
        assert!(matches!(wait_final(&c, o.tx_id).await, TxStatus::Committed { .. }));
    }
    let info = c.get_series(series).await.unwrap();
    assert_eq!((info.minted, info.max_supply), (50, 300));

    // Every certificate verifies offline against the genesis alone.
    for edition in [1, 17, 50] {
        let id = ids::certificate_id(t.chain(), &series, edition);
        let resp = c.get_certificate(id).await.unwrap();
        assert!(resp.revocation.is_none());
        let v = resp.certificate.verify(&t.genesis).unwrap();
        assert_eq!((v.record.edition, v.record.holder), (edition, holder(edition)));
        // Through the JSON file an auditor keeps, too.
        let json = serde_json::to_string_pretty(&resp.certificate).unwrap();
        Certificate::from_json(&json).unwrap().verify(&t.genesis).unwrap();
        // A single changed field is caught.
        let mut forged = resp.certificate.clone();
        forged.record.holder = holder(999);
        assert_eq!(forged.verify(&t.genesis).unwrap_err().code(), "CertificateMismatch");
    }

    // The 51st..300th are still available; edition 301 is not.
    let err = c.submit_tx(mint(&t, series, 301)).await.unwrap_err();
    assert_eq!(stable_code(&err), "SupplyExceeded");
    // A second mint of an edition: refused.
    let err = c
        .submit_tx(
            TxBody::Mint { series_id: series, edition: 1, holder: holder(77) }.sign(t.chain(), &[&t.issuer]),
        )
        .await
        .unwrap_err();
    assert_eq!(stable_code(&err), "DuplicateCertificate");
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_are_refused_over_rpc_and_never_committed() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let series = t.setup_series("cranes", 10).await;
    let id = c.submit_tx(mint(&t, series, 1)).await.unwrap();
    assert!(matches!(wait_final(&c, id).await, TxStatus::Committed { .. }));
    let cert = ids::certificate_id(t.chain(), &series, 1);

    let transfer = TxBody::Transfer { certificate_id: cert, to: holder(2) };
    // Signed by the issuer, by the governor: refused with the documented code and number.
    for signer in [&t.issuer, &t.governor] {
        let tx = transfer.clone().sign(t.chain(), &[signer]);
        let err = c.submit_tx(tx.clone()).await.unwrap_err();
        let ClientError::Call(obj) = &err else { panic!("{err}") };
        assert_eq!(obj.code(), 4001);
        assert_eq!(stable_code(&err), "TransferForbidden");
        assert!(obj.message().contains("transfers are forbidden"), "{}", obj.message());
        // Never pending, never committed.
        assert_eq!(c.get_tx_status(tx.id(t.chain())).await.unwrap(), TxStatus::Unknown);
    }
    // Inside a batch, only the transfer is refused.
    let outcomes = c
        .submit_txs(vec![mint(&t, series, 2), transfer.clone().sign(t.chain(), &[&t.issuer])])
        .await
        .unwrap();
    assert!(outcomes[0].error.is_none());
    assert_eq!(outcomes[1].error.as_ref().unwrap().code, "TransferForbidden");
    assert!(matches!(wait_final(&c, outcomes[0].tx_id).await, TxStatus::Committed { .. }));

    // No committed block contains a transfer, and the holder is unchanged.
    let status = c.status().await.unwrap();
    for h in 1..=status.height {
        let b = c.get_block(h).await.unwrap();
        assert!(b.block.txs.iter().all(|tx| !matches!(tx.body, TxBody::Transfer { .. })));
    }
    let resp = c.get_certificate(cert).await.unwrap();
    assert_eq!(resp.certificate.record.holder, holder(1));
    let metrics = raw_http(t.node.rpc_addr, "GET", "/metrics", None).await.1;
    assert!(
        metrics.contains("keepsake_txs_rejected_total{stage=\"admission\",code=\"TransferForbidden\"} 3"),
        "{metrics}"
    );
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_precise_errors_and_the_node_stays_up() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let addr = t.node.rpc_addr;

    // Malformed JSON: JSON-RPC parse error.
    let (_, body) = raw_http(addr, "POST", "/", Some(b"{\"jsonrpc\":\"2.0\",\"method\":")).await;
    assert!(body.contains("-32700"), "{body}");
    // Unknown method.
    let (_, body) = raw_http(
        addr,
        "POST",
        "/",
        Some(br#"{"jsonrpc":"2.0","id":1,"method":"keepsake_nope","params":[]}"#),
    )
    .await;
    assert!(body.contains("-32601"), "{body}");
    // Wrong type and bad hex: invalid params, naming the problem.
    let (_, body) = raw_http(
        addr,
        "POST",
        "/",
        Some(br#"{"jsonrpc":"2.0","id":1,"method":"keepsake_getBlock","params":["ten"]}"#),
    )
    .await;
    assert!(body.contains("-32602"), "{body}");
    let (_, body) = raw_http(
        addr,
        "POST",
        "/",
        Some(br#"{"jsonrpc":"2.0","id":1,"method":"keepsake_getTxStatus","params":["zz12"]}"#),
    )
    .await;
    assert!(body.contains("-32602") && body.contains("hex"), "{body}");
    // An unknown field inside a transaction.
    let (_, body) = raw_http(
        addr,
        "POST",
        "/",
        Some(br#"{"jsonrpc":"2.0","id":1,"method":"keepsake_submitTx","params":[{"body":{"mint":{"series_id":"00","edition":1,"holder":"00","price":5}},"signatures":[]}]}"#),
    )
    .await;
    assert!(body.contains("-32602"), "{body}");
    // An oversized request body (default limit 8 MiB).
    let huge = vec![b' '; 9 * 1024 * 1024];
    let (status, _) = raw_http(addr, "POST", "/", Some(&huge)).await;
    assert_eq!(status, 413);
    // A JSON-RPC batch over the limit (100 calls) is refused whole; one at the limit is served.
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"keepsake_status","params":[]}"#;
    let batch = |n: usize| format!("[{}]", vec![call; n].join(","));
    let (_, body) = raw_http(addr, "POST", "/", Some(batch(101).as_bytes())).await;
    assert!(body.contains("-32010"), "{body}");
    let (_, body) = raw_http(addr, "POST", "/", Some(batch(100).as_bytes())).await;
    assert_eq!(body.matches("\"chain_id\"").count(), 100, "{body}");
    // Too many transactions in one submitTxs.
    let c = t.client();
    let series = t.setup_series("s", 5).await;
    let many: Vec<SignedTx> = (0..10_001).map(|i| mint(&t, series, 1 + i % 5)).collect();
    let err = c.submit_txs(many).await.unwrap_err();
    assert_eq!(stable_code(&err), "BatchTooLarge");
    // Not found is precise.
    let err = c.get_block(999).await.unwrap_err();
    assert_eq!(stable_code(&err), "NotFound");
    let err = c.get_consistency_proof(5, 2).await.unwrap_err();
    assert_eq!(stable_code(&err), "InvalidRange");

    // Still up, still committing.
    let (status, body) = raw_http(addr, "GET", "/health", None).await;
    assert_eq!(status, 200, "{body}");
    let id = c.submit_tx(mint(&t, series, 1)).await.unwrap();
    assert!(matches!(wait_final(&c, id).await, TxStatus::Committed { .. }));
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_every_block_and_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let series = t.setup_series("bronze", 20).await;
    let outcomes = c.submit_txs((1..=10).map(|e| mint(&t, series, e)).collect()).await.unwrap();
    for o in &outcomes {
        wait_final(&c, o.tx_id).await;
    }
    let before = c.status().await.unwrap();
    let mut hashes = Vec::new();
    for h in 1..=before.height {
        hashes.push(c.get_block(h).await.unwrap().hash);
    }
    let cert_id = ids::certificate_id(t.chain(), &series, 10);
    let old_cert = c.get_certificate(cert_id).await.unwrap().certificate;

    let t = t.restart().await.unwrap();
    let c = t.client();
    let after = c.status().await.unwrap();
    assert_eq!(
        (after.height, after.latest_hash, after.log_root),
        (before.height, before.latest_hash, before.log_root)
    );
    for (i, h) in (1..=before.height).enumerate() {
        assert_eq!(c.get_block(h).await.unwrap().hash, hashes[i]);
    }
    assert_eq!(c.get_certificate(cert_id).await.unwrap().certificate, old_cert);
    old_cert.verify(&t.genesis).unwrap();

    // The chain continues after the restart, and the old checkpoint is a prefix of the new one.
    let id = c.submit_tx(mint(&t, series, 11)).await.unwrap();
    let TxStatus::Committed { height, .. } = wait_final(&c, id).await else { panic!() };
    assert_eq!(height, before.height + 1);
    let cons = c.get_consistency_proof(before.height, height).await.unwrap();
    merkle::verify_consistency(
        cons.old.header.log_size,
        cons.new.header.log_size,
        &cons.old.header.log_root,
        &cons.new.header.log_root,
        &cons.proof,
    )
    .unwrap();
    // Re-submitting an already committed transaction is refused as a duplicate.
    let err = c.submit_tx(mint(&t, series, 10)).await.unwrap_err();
    assert_eq!(stable_code(&err), "DuplicateTransaction");
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_subscribers_see_every_block() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let ws = WsClientBuilder::default().build(t.node.ws_url()).await.unwrap();
    let mut sub = ws
        .subscribe::<BlockSummary, _>(
            "keepsake_subscribeBlocks",
            jsonrpsee::rpc_params![],
            "keepsake_unsubscribeBlocks",
        )
        .await
        .unwrap();
    let c = t.client();
    let id = c
        .submit_tx(
            TxBody::RegisterIssuer { issuer: t.issuer.public(), name: "M".into(), nonce: 1 }
                .sign(t.chain(), &[&t.governor]),
        )
        .await
        .unwrap();
    wait_final(&c, id).await;
    let first =
        tokio::time::timeout(std::time::Duration::from_secs(10), sub.next()).await.unwrap().unwrap().unwrap();
    assert_eq!((first.height, first.tx_count, first.log_size), (1, 1, 1));
    assert_eq!(first.hash, c.get_block(1).await.unwrap().hash);
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explorer_listings_page_through_series_issuers_and_recent_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let first = t.setup_series("jade", 5).await;
    // Three more series by the same issuer (the setup registered it once).
    let mut ids_seen = vec![first];
    for name in ["bronze", "lacquer", "silk"] {
        let subject = keepsake_types::ReviewSubject {
            issuer: t.issuer.public(),
            name: name.into(),
            content_hash: keepsake_types::ContentHash(keepsake_types::hash::sha256(name.as_bytes()).0),
            max_supply: 3,
            metadata_uri: format!("https://museum.example/{name}.json"),
        };
        let tx = TxBody::CreateSeries {
            issuer: subject.issuer,
            name: name.into(),
            content_hash: subject.content_hash,
            max_supply: 3,
            metadata_uri: subject.metadata_uri.clone(),
            approval: subject.approve(t.chain(), &t.reviewer),
        }
        .sign(t.chain(), &[&t.issuer]);
        wait_final(&c, c.submit_tx(tx).await.unwrap()).await;
        ids_seen.push(ids::series_id(t.chain(), &t.issuer.public(), name));
    }
    let id = c.submit_tx(mint(&t, first, 1)).await.unwrap();
    wait_final(&c, id).await;

    // Pages of 3, then the rest: every series once, in id order.
    let page1 = c.list_series(None, 3).await.unwrap();
    assert_eq!(page1.len(), 3);
    let page2 = c.list_series(Some(page1[2].series_id), 3).await.unwrap();
    assert_eq!(page2.len(), 1);
    let mut listed: Vec<_> = page1.iter().chain(&page2).map(|s| s.series_id).collect();
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "id order");
    listed.sort();
    ids_seen.sort();
    assert_eq!(listed, ids_seen);
    let jade = page1.iter().chain(&page2).find(|s| s.series_id == first).unwrap();
    assert_eq!((jade.name.as_str(), jade.minted, jade.max_supply), ("jade", 1, 5));
    // The limit is capped.
    assert!(c.list_series(None, 1_000_000).await.unwrap().len() <= 100);

    let issuers = c.list_issuers(None, 10).await.unwrap();
    assert_eq!(issuers.len(), 1);
    assert_eq!((issuers[0].issuer, issuers[0].name.as_str()), (t.issuer.public(), "Museum"));
    assert!(c.list_issuers(Some(t.issuer.public()), 10).await.unwrap().is_empty());

    // Newest first: the mint, then the last series creation.
    let recent = c.recent_transactions(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].tx_id, id);
    assert!(matches!(recent[0].body, TxBody::Mint { edition: 1, .. }));
    assert!(matches!(&recent[1].body, TxBody::CreateSeries { name, .. } if name == "silk"));
    assert!(recent[0].height >= recent[1].height);
    t.node.shutdown().await.unwrap();
}

/// A restart whose RPC port is still held (the previous process of the same
/// node still closing it, a service manager restarting quickly) waits for it
/// instead of failing with "Address already in use"; a port held for good
/// fails the start with what to do, before anything was started (the same
/// home starts right after on another port).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_waits_for_its_rpc_port_and_a_port_held_for_good_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let addr = t.node.rpc_addr;
    let home = t.home.clone();
    t.node.shutdown().await.unwrap();
    let mut config = keepsake::config::NodeConfig::load(&home).unwrap();
    config.rpc.listen = addr;

    let holder = std::net::TcpListener::bind(addr).unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        drop(holder);
    });
    let node = keepsake::node::start(config.clone()).await.expect("the start waits for the port");
    assert_eq!(node.rpc_addr, addr);
    release.await.unwrap();
    let (status, _) = raw_http(addr, "GET", "/health", None).await;
    assert_eq!(status, 200);
    node.shutdown().await.unwrap();

    let holder = std::net::TcpListener::bind(addr).unwrap();
    let err =
        format!("{:#}", keepsake::node::start(config.clone()).await.err().expect("the port stays held"));
    assert!(
        err.contains(&format!("cannot listen for RPC on {addr}: the port is in use by another process")),
        "{err}"
    );
    assert!(err.contains("--rpc 127.0.0.1:PORT"), "{err}");
    drop(holder);
    config.rpc.listen = "127.0.0.1:0".parse().unwrap();
    let node = keepsake::node::start(config).await.expect("nothing was left running on the home");
    node.shutdown().await.unwrap();
}
