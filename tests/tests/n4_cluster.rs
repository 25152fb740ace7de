//! Four real validators on loopback (real libp2p, real sled, real JSON-RPC,
//! real Tendermint rounds): agreement, fault tolerance (n = 4, f = 1),
//! catch-up by sync, permissioned peers, and a Byzantine proposer that tries
//! to slip a transfer in (played by the test process over real libp2p: the
//! node has no fault-injection switch).

use std::time::{Duration, Instant};

use keepsake_ledger::Tip;
use keepsake_network::{GossipVerdict, NetworkEvent, NetworkHandle, Topic};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{Cluster, fast_consensus, mint, setup_series, wait_final};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage};
use keepsake_types::{
    Block, Header, Keypair, Proposal, ProposalData, PublicKey, SignedTx, TxBody, encoding, ids,
};

/// Every running node has the same block hash at every height up to `height`.
async fn assert_same_chain(c: &Cluster, height: u64) {
    let nodes = c.running();
    for h in 1..=height {
        let first = c.client(nodes[0]).get_block(h).await.unwrap().hash;
        for &i in &nodes[1..] {
            assert_eq!(c.client(i).get_block(h).await.unwrap().hash, first, "node {i} differs at height {h}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4_a_mint_commits_the_same_block_everywhere_and_certifies_with_a_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "apsaras", 100).await;
    let height = c.mint_and_wait(0, series, 1).await;
    c.wait_height(&[0, 1, 2, 3], height).await;
    assert_same_chain(&c, height).await;
    // The certificate, fetched from another validator, verifies offline with a 3-of-4 quorum.
    let cert =
        c.client(2).get_certificate(ids::certificate_id(c.chain(), &series, 1)).await.unwrap().certificate;
    let v = cert.verify(&c.genesis).unwrap();
    assert!(v.signed_power >= 3 && v.total_power == 4, "{v:?}");
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4f1_one_validator_down_the_chain_goes_on_and_it_catches_up_and_votes_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "cranes", 100).await;
    c.stop_node(3).await.unwrap();
    let mut last = 0;
    for e in 1..=3 {
        last = c.mint_and_wait(0, series, e).await;
    }
    c.wait_height(&[0, 1, 2], last).await;
    // Restarted, node 3 catches up: by block sync, or — when the gap is only a few blocks old —
    // by deciding them from the recent consensus messages gossipsub still replays to a new peer
    // (both are legitimate; which one wins is timing). It ends with the same chain...
    c.start_node(3).await.unwrap();
    c.wait_height(&[3], last).await;
    assert_same_chain(&c, last).await;
    // ...and votes again: with node 0 down, 3 of 4 (nodes 1, 2, 3) are needed for every block.
    c.stop_node(0).await.unwrap();
    let h = c.mint_and_wait(1, series, 4).await;
    c.wait_height(&[1, 2, 3], h).await;
    assert_same_chain(&c, h).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n4f2_two_down_the_chain_stops_without_forking_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "bronze", 100).await;
    c.stop_node(2).await.unwrap();
    c.stop_node(3).await.unwrap();
    let before = c.client(0).status().await.unwrap().height;
    let id = c.client(0).submit_tx(mint(&c, series, 1)).await.unwrap();
    // Without a quorum nothing can commit: observe for a bounded time.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        for i in [0, 1] {
            let h = c.client(i).status().await.unwrap().height;
            assert!(h <= before + 1, "node {i} advanced to {h} without a quorum");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(c.client(0).get_tx_status(id).await.unwrap(), TxStatus::Pending);
    // They return: the pending mint commits and all four agree on every block.
    c.start_node(2).await.unwrap();
    c.start_node(3).await.unwrap();
    let TxStatus::Committed { height, .. } = wait_final(&c.client(0), id).await else {
        panic!("not committed")
    };
    c.wait_height(&[0, 1, 2, 3], height).await;
    assert_same_chain(&c, height).await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_key_is_not_in_the_genesis_cannot_connect() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "jade", 10).await;
    let h = c.mint_and_wait(0, series, 1).await;

    // A stranger: same genesis, its own key, dialing every validator.
    let home = dir.path().join("stranger");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::copy(dir.path().join("genesis.json"), home.join("genesis.json")).unwrap();
    let mut config = keepsake::config::NodeConfig::load(&c.homes[0]).unwrap();
    config.node.validator_key_file = home.join("key.json");
    config.node.data_dir = home.join("data");
    config.node.consensus_dir = home.join("consensus");
    config.node.genesis_file = home.join("genesis.json");
    keepsake::keyfile::write(&config.node.validator_key_file, &keepsake::keyfile::generate().unwrap())
        .unwrap();
    config.rpc.listen = "127.0.0.1:0".parse().unwrap();
    config.p2p.listen = "127.0.0.1:0".parse().unwrap();
    let keys: Vec<_> = c.genesis.validators.iter().map(|v| v.public_key).collect();
    config.p2p.bootstrap =
        (0..4).map(|j| keepsake::config::PeerAddress { key: keys[j], addr: c.p2p[j].unwrap() }).collect();
    fast_consensus(&mut config);
    let stranger = keepsake::node::start(config).await.unwrap();
    // Wait (bounded) until the validators have refused it at least once each way it tried.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let refused: u64 =
            (0..4).map(|i| c.nodes[i].as_ref().unwrap().net.stats().connections_refused_not_allowed).sum();
        if refused >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no validator refused the stranger");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It is connected to nobody and learned nothing.
    let peers = stranger.net.connected_peers().await.unwrap();
    assert!(peers.is_empty(), "stranger connected to {peers:?}");
    assert_eq!(
        keepsake_rpc::KeepsakeApiClient::status(&keepsake::cli::client(&stranger.rpc_url()).unwrap())
            .await
            .unwrap()
            .height,
        0
    );
    assert!(h >= 1);
    stranger.shutdown().await.unwrap();
    c.shutdown().await;
}

/// The Byzantine validator of the test below: validator `BYZANTINE`'s key,
/// played by the test process over its own libp2p swarm (no node runs it).
const BYZANTINE: usize = 1;
/// The honest validators: 3 of 4 power, a quorum without the Byzantine one.
const HONEST: [usize; 3] = [0, 2, 3];
/// Bound of every wait of the test below.
const WAIT: Duration = Duration::from_secs(30);

/// Joins the honest validators' gossip as `key` (a genesis validator, so they
/// let it in) and waits until it is connected to all of them. Incoming gossip
/// is ignored (never forwarded) and block-sync requests get no blocks.
async fn join_as(c: &Cluster, key: &Keypair) -> NetworkHandle {
    let validators: Vec<PublicKey> = c.genesis.validators.iter().map(|v| v.public_key).collect();
    let config = c.gossip_config(&HONEST);
    let (net, mut events) = keepsake_network::start(key.secret_seed(), config).await.unwrap();
    let drain = net.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetworkEvent::Gossip { id, .. } = event {
                drain.validated(id, GossipVerdict::Ignore);
            }
            // A `SyncRequest`'s reply is dropped here: an empty answer.
        }
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let peers = net.connected_peers().await.unwrap();
        if HONEST.iter().all(|&i| peers.contains(&validators[i])) {
            return net;
        }
        assert!(Instant::now() < deadline, "the Byzantine peer is connected only to {peers:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The lowest committed height among the honest nodes.
async fn honest_height(c: &Cluster) -> u64 {
    let mut lowest = u64::MAX;
    for i in HONEST {
        lowest = lowest.min(c.client(i).status().await.unwrap().height);
    }
    lowest
}

/// Transfer proposals the honest nodes refused so far, in total.
fn transfers_refused(c: &Cluster) -> u64 {
    HONEST
        .iter()
        .map(|&i| c.nodes[i].as_ref().unwrap().shared.metrics.rejections("proposal", "TransferForbidden"))
        .sum()
}

/// What a malicious proposer signs for round 0 of `height`: a block on the
/// real tip (block `height - 1`, fetched from an honest node) carrying
/// `transfer`, with a header consistent with its body (count and root) so
/// that only the ledger's rules can refuse it.
async fn transfer_proposal(c: &Cluster, key: &Keypair, height: u64, transfer: SignedTx) -> Proposal {
    let chain = c.chain();
    let tip = if height == 1 {
        Tip::genesis(&c.genesis)
    } else {
        let prev = c.client(HONEST[0]).get_block(height - 1).await.unwrap();
        let h = &prev.block.header;
        Tip {
            height: h.height,
            hash: prev.hash,
            time_ms: h.time_ms,
            log_size: h.log_size,
            log_root: h.log_root,
            state_root: h.state_root,
        }
    };
    let txs = vec![transfer];
    let ids: Vec<_> = txs.iter().map(|t| t.id(chain)).collect();
    let header = Header {
        chain_id: c.genesis.chain_id.clone(),
        height,
        prev_hash: tip.hash,
        time_ms: keepsake::node::now_ms().max(tip.time_ms + 1),
        proposer: key.public(),
        tx_count: txs.len() as u32,
        tx_root: keepsake_ledger::block::tx_root(&ids),
        // The transfer fails first (T1): the roots after it are never compared.
        log_size: tip.log_size + 1,
        log_root: tip.log_root,
        validators_hash: c.genesis.validator_set().hash(chain),
        state_root: tip.state_root,
    };
    let block = Block { header, txs };
    let data = ProposalData { height, round: 0, pol_round: None, block_hash: block.header.hash() };
    data.sign(chain, key, block)
}

/// Gossips `proposal` as `net` (re-published every 200 ms with a new
/// `resend`, since gossip ids are content hashes) until every honest node has
/// committed its height; bounded by [`WAIT`].
async fn gossip_until_decided(c: &Cluster, net: &NetworkHandle, proposal: &Proposal) {
    let height = proposal.data.height;
    let deadline = Instant::now() + WAIT;
    for resend in 0.. {
        let envelope =
            ConsensusEnvelope { resend, message: ConsensusMessage::Proposal(Box::new(proposal.clone())) };
        net.publish(Topic::Consensus, encoding::encode(&envelope)).await.unwrap();
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            if honest_height(c).await >= height {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(Instant::now() < deadline, "the honest nodes never decided height {height}");
    }
}

/// A Byzantine validator proposes a block carrying a transfer, in its own
/// turn, with a valid signature over real libp2p; the honest validators refuse
/// it (T1, `TransferForbidden`), decide the height in a later round, and the
/// chain goes on without it.
///
/// The node has no fault-injection switch: the Byzantine validator is this
/// test process, which holds validator 1's key (node 1 is never started),
/// joins the honest nodes' gossip with it and publishes hand-built, signed
/// proposals whenever validator 1 is the round-0 proposer of the next height.
/// Everything that refuses them is the honest, production code path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byzantine_validator_proposing_a_transfer_over_libp2p_is_refused_and_the_chain_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_only(dir.path(), 4, &HONEST).await.unwrap();
    let chain = c.chain().to_string();
    let validator_set = c.genesis.validator_set();
    let key = c.validator_key(BYZANTINE).unwrap();
    assert_eq!(key.public(), c.genesis.validators[BYZANTINE].public_key);
    // A real certificate for the Byzantine block to try to move.
    let series = setup_series(&c, 0, "lacquer", 100).await;
    c.mint_and_wait(0, series, 1).await;
    let certificate_id = ids::certificate_id(&chain, &series, 1);
    let net = join_as(&c, &key).await;

    // Twice: at the next height whose round-0 proposer is the Byzantine validator, propose a transfer.
    let mut injected = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while injected.len() < 2 {
        assert!(Instant::now() < deadline, "no turn of the Byzantine proposer came up: {injected:?}");
        let next = c.client(HONEST[0]).status().await.unwrap().height + 1;
        if keepsake_consensus::proposer(&validator_set, next, 0) != key.public() || injected.contains(&next) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let to = ids::holder_id("salt", &format!("fence{next}"));
        let transfer = TxBody::Transfer { certificate_id, to }.sign(&chain, &[&c.issuer]);
        let proposal = transfer_proposal(&c, &key, next, transfer).await;
        let refused_before = transfers_refused(&c);
        gossip_until_decided(&c, &net, &proposal).await;
        let refused = transfers_refused(&c) - refused_before;
        eprintln!("height {next}: the Byzantine transfer proposal was refused {refused} time(s)");
        assert!(refused > 0, "no honest node refused the transfer proposed at height {next}");
        injected.push(next);
    }

    // The chain goes on past the injections, with transactions, on every honest node.
    let after = c.mint_and_wait(2, series, 2).await;
    let last = after.max(injected[1] + 1);
    c.wait_height(&HONEST, last).await;
    assert_same_chain(&c, last).await;
    let client = c.client(2);
    for h in 1..=last {
        let b = client.get_block(h).await.unwrap().block;
        assert!(
            b.txs.iter().all(|tx| !matches!(tx.body, TxBody::Transfer { .. })),
            "height {h} carries a transfer"
        );
        assert_ne!(b.header.proposer, key.public(), "the Byzantine proposer's block at {h} was committed");
    }
    // The certificate never moved.
    let cert = client.get_certificate(certificate_id).await.unwrap().certificate;
    assert_eq!(cert.record.holder, ids::holder_id("salt", "u1"));
    for i in HONEST {
        let n = c.nodes[i].as_ref().unwrap().shared.metrics.rejections("proposal", "TransferForbidden");
        eprintln!("node {i} refused {n} transfer proposal(s)");
    }
    net.shutdown().await;
    c.shutdown().await;
}
