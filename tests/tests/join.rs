//! A new node joins a running four-validator consortium: `keepsake init`
//! makes its home from the published genesis and the members' addresses; the
//! members refuse it until they admit its key; then it syncs every block from
//! genesis (verifying each commit), follows the chain, and serves
//! certificates that verify offline against the genesis alone.

use std::time::{Duration, Instant};

use keepsake::config::{NodeConfig, PeerAddress};
use keepsake::init::InitSpec;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{Cluster, fast_consensus, raw_http, setup_series, wait_client_height, wait_final};
use keepsake_types::{Genesis, TxBody, ids};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_made_by_init_syncs_from_genesis_and_serves_verifiable_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "lotus", 100).await;
    for edition in 1..=3 {
        c.mint_and_wait(edition as usize % 4, series, edition).await;
    }

    // The operator of the new node got the genesis file and the members' KEY@IP:PORT.
    let peers: Vec<PeerAddress> = (0..4)
        .map(|i| {
            let text = format!("{}@{}", c.genesis.validators[i].public_key, c.p2p[i].unwrap());
            text.parse().unwrap()
        })
        .collect();
    let home = dir.path().join("observer");
    let spec = InitSpec {
        genesis_file: c.dir.join("genesis.json"),
        peers,
        rpc_listen: "127.0.0.1:0".parse().unwrap(),
        p2p_listen: "127.0.0.1:0".parse().unwrap(),
    };
    let made = keepsake::init::init(&home, &spec).unwrap();
    assert!(c.genesis.validator_set().get(&made.public_key).is_none(), "a new node is an observer");

    // Started before the members admit it: every member refuses it, and it stays at height 0.
    let mut config = NodeConfig::load(&home).unwrap();
    fast_consensus(&mut config);
    let observer = keepsake::node::start(config).await.unwrap();
    assert_eq!(observer.public_key(), made.public_key);
    let oc = keepsake::cli::client(&observer.rpc_url()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    for i in 0..4 {
        let net = &c.nodes[i].as_ref().unwrap().net;
        while net.stats().connections_refused_not_allowed == 0 {
            assert!(Instant::now() < deadline, "member {i} never saw the new node");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    assert_eq!(oc.status().await.unwrap().height, 0);
    assert!(observer.net.connected_peers().await.unwrap().is_empty());

    // Governance registers its key as an observer: every member admits it from the next
    // block, without a config edit or a restart.
    let register =
        TxBody::RegisterObserver { observer: made.public_key, name: "Regulator".into(), nonce: 77 };
    let id =
        c.client(0).submit_tx(register.sign(c.chain(), &[&c.governors[0], &c.governors[1]])).await.unwrap();
    let last = match wait_final(&c.client(0), id).await {
        TxStatus::Committed { height, .. } => height,
        other => panic!("registration not committed: {other:?}"),
    };

    // It syncs every block from genesis: the very blocks the validators committed.
    wait_client_height(&oc, "the new node", last).await;
    let reference = c.client(0);
    for h in 1..=last {
        let ours = oc.get_block(h).await.unwrap();
        let theirs = reference.get_block(h).await.unwrap();
        assert_eq!(ours.hash, theirs.hash, "height {h}");
    }
    // ...and follows the chain afterwards.
    let next = c.mint_and_wait(1, series, 4).await;
    wait_client_height(&oc, "the new node", next).await;
    assert_eq!(oc.get_block(next).await.unwrap().hash, reference.get_block(next).await.unwrap().hash);

    // Its certificates verify offline against the genesis in its own home.
    let genesis = Genesis::from_json(&std::fs::read_to_string(home.join("genesis.json")).unwrap()).unwrap();
    assert_eq!(genesis, c.genesis);
    for edition in 1..=4 {
        let id = ids::certificate_id(c.chain(), &series, edition);
        let cert = oc.get_certificate(id).await.unwrap().certificate;
        let v = cert.verify(&genesis).unwrap();
        assert_eq!(v.record.edition, edition);
        assert!(v.signed_power >= 3 && v.total_power == 4, "{v:?}");
    }
    let status = oc.status().await.unwrap();
    assert_eq!(status.validator, made.public_key);
    assert_eq!(status.genesis_hash, c.genesis.hash());
    let (code, body) = raw_http(observer.rpc_addr, "GET", "/health", None).await;
    assert_eq!(code, 200, "{body}");

    observer.shutdown().await.unwrap();
    c.shutdown().await;
}
