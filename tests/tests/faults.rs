//! Network faults on a 4-validator cluster (real libp2p, sled, JSON-RPC):
//! partitions (one validator, then two) and their healing, and hostile peers
//! (a permitted peer flooding garbage, a burst of unknown keys) — with the
//! checks that matter: no fork, nothing committed lost, catch-up after the
//! heal, and consensus never stalled by hostile traffic.
//!
//! Partitions use the network's block list (`NetworkHandle::set_blocked`):
//! every node of one side refuses and drops the other side's connections.

use std::time::{Duration, Instant};

use keepsake::config::NodeConfig;
use keepsake::repair::RepairMode::{Network, NewValidator, Offline};
use keepsake_network::{NetworkConfig, Topic};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{Cluster, copy_dir, mint, setup_series, wait_final};
use keepsake_types::{Keypair, PublicKey, SeriesId};

const WAIT: Duration = Duration::from_secs(30);

fn keys(c: &Cluster) -> Vec<PublicKey> {
    c.genesis.validators.iter().map(|v| v.public_key).collect()
}

/// Splits the running nodes into `groups`: each node blocks every node outside its group.
async fn partition(c: &Cluster, groups: &[&[usize]]) {
    let all = keys(c);
    for group in groups {
        for &i in *group {
            let others: Vec<PublicKey> =
                (0..all.len()).filter(|j| !group.contains(j)).map(|j| all[j]).collect();
            c.nodes[i].as_ref().unwrap().net.set_blocked(others).await.unwrap();
        }
    }
    // Wait until no connection crosses the cut.
    let deadline = Instant::now() + WAIT;
    for group in groups {
        for &i in *group {
            loop {
                let peers = c.nodes[i].as_ref().unwrap().net.connected_peers().await.unwrap();
                let crossing = peers.iter().filter(|k| !group.iter().any(|&j| all[j] == **k)).count();
                if crossing == 0 {
                    break;
                }
                assert!(Instant::now() < deadline, "node {i} still connected across the partition");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

async fn heal(c: &Cluster) {
    for i in c.running() {
        c.nodes[i].as_ref().unwrap().net.set_blocked(Vec::new()).await.unwrap();
    }
}

async fn height(c: &Cluster, i: usize) -> u64 {
    c.client(i).status().await.unwrap().height
}

/// Every node has the same block hash at every height they all have.
async fn assert_no_fork(c: &Cluster) {
    let nodes = c.running();
    let mut min = u64::MAX;
    for &i in &nodes {
        min = min.min(height(c, i).await);
    }
    for h in 1..=min {
        let first = c.client(nodes[0]).get_block(h).await.unwrap().hash;
        for &i in &nodes[1..] {
            assert_eq!(c.client(i).get_block(h).await.unwrap().hash, first, "fork at height {h} on node {i}");
        }
    }
}

async fn committed(c: &Cluster, i: usize, id: keepsake_types::TxId) -> bool {
    matches!(c.client(i).get_tx_status(id).await.unwrap(), TxStatus::Committed { .. })
}

/// Mints `edition` through node `via`, waits for the commit there.
async fn mint_via(c: &Cluster, via: usize, series: SeriesId, edition: u32) -> keepsake_types::TxId {
    let client = c.client(via);
    let id = client.submit_tx(mint(c, series, edition)).await.unwrap();
    assert!(matches!(wait_final(&client, id).await, TxStatus::Committed { .. }), "edition {edition}");
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_of_one_and_two_validators_heal_without_fork_or_loss() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "jade", 100).await;
    let first = mint_via(&c, 0, series, 1).await;

    // One validator isolated: the other three (3 of 4 power) go on.
    partition(&c, &[&[0, 1, 2], &[3]]).await;
    let isolated_at = height(&c, 3).await;
    let mut during = Vec::new();
    for edition in 2..=4 {
        during.push(mint_via(&c, 1, series, edition).await);
    }
    assert!(height(&c, 0).await > isolated_at);
    for id in &during {
        assert!(!committed(&c, 3, *id).await, "the isolated node cannot have committed {id}");
    }
    assert!(height(&c, 3).await <= isolated_at + 1, "the isolated node alone cannot decide blocks");
    heal(&c).await;
    let target = height(&c, 0).await;
    c.wait_height(&[3], target).await;
    for id in during.iter().chain([&first]) {
        assert!(committed(&c, 3, *id).await, "after healing, node 3 has {id}");
    }
    // It votes again: a mint submitted through it commits.
    mint_via(&c, 3, series, 5).await;
    assert_no_fork(&c).await;

    // Two and two: no side has more than 2/3 of the power, so nobody decides.
    let before = mint_via(&c, 0, series, 6).await;
    partition(&c, &[&[0, 1], &[2, 3]]).await;
    let stuck: Vec<u64> = [height(&c, 0).await, height(&c, 2).await].into();
    let pending = c.client(0).submit_tx(mint(&c, series, 7)).await.unwrap();
    // Nothing to wait for: the point is that nothing happens. Watch for a fixed window of three
    // propose timeouts (the cluster's is 1 s), longer than any decision takes when healthy
    // (Tendermint does not even change rounds here: moving on needs 2f+1 messages).
    tokio::time::sleep(Duration::from_secs(3)).await;
    // A block in flight at the cut may still finish on one side (its precommits crossed before
    // the cut), but nothing more, and the mint submitted during the partition is not final.
    assert!(height(&c, 0).await <= stuck[0] + 1 && height(&c, 2).await <= stuck[1] + 1);
    assert!(!committed(&c, 0, pending).await, "no quorum, no commit");
    assert_no_fork(&c).await;
    heal(&c).await;
    assert!(matches!(wait_final(&c.client(0), pending).await, TxStatus::Committed { .. }));
    let target = height(&c, 0).await;
    c.wait_height(&[0, 1, 2, 3], target).await;
    for i in 0..4 {
        assert!(committed(&c, i, before).await && committed(&c, i, pending).await, "node {i}");
    }
    assert_no_fork(&c).await;
    c.shutdown().await;
}

/// The attacker's seed: its key is in every node's allow-list (a permitted,
/// then misbehaving, consortium member).
const ATTACKER_SEED: [u8; 32] = [77; 32];

fn allow_attacker(config: &mut NodeConfig) {
    config.p2p.allow_list.push(Keypair::from_seed(ATTACKER_SEED).public());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_are_cut_off_and_never_stall_consensus() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_with(dir.path(), 4, vec![allow_attacker as fn(&mut NodeConfig); 4]).await.unwrap();
    let series = setup_series(&c, 0, "bronze", 100).await;
    let validators = keys(&c);

    // A permitted peer that floods undecodable and oversized gossip on both topics.
    let mut config = NetworkConfig::new(c.chain().to_string(), "127.0.0.1:0".parse().unwrap());
    config.allowed = validators.clone();
    config.bootstrap = (0..4).map(|i| (validators[i], c.p2p[i].unwrap())).collect();
    config.max_message_bytes = 32 << 20;
    let (attacker, _events) = keepsake_network::start(ATTACKER_SEED, config).await.unwrap();
    let deadline = Instant::now() + WAIT;
    while attacker.connected_peers().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the attacker never connected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let flood = {
        let attacker = attacker.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                n += 1;
                let garbage = format!("garbage {n}").into_bytes();
                let topic = if n.is_multiple_of(2) { Topic::Consensus } else { Topic::Txs };
                let _ = attacker.publish(topic, garbage).await;
                if n.is_multiple_of(50) {
                    // Over every node's max_message_bytes (16 MiB by default).
                    let _ = attacker.publish(Topic::Consensus, vec![7u8; 17 << 20]).await;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // A burst of connection attempts from keys nobody allowed, at node 0.
    let mut intruders = Vec::new();
    for i in 0..24u8 {
        let mut config = NetworkConfig::new(c.chain().to_string(), "127.0.0.1:0".parse().unwrap());
        config.allowed = vec![validators[0]];
        config.bootstrap = vec![(validators[0], c.p2p[0].unwrap())];
        let mut seed = [200u8; 32];
        seed[0] = i;
        intruders.push(keepsake_network::start(seed, config).await.unwrap().0);
    }

    // Meanwhile consensus goes on: mints commit on every node.
    for edition in 1..=5 {
        mint_via(&c, (edition as usize) % 4, series, edition).await;
    }
    // Every node cut the flooder off (strikes, then a ban), and refused the intruders.
    let deadline = Instant::now() + WAIT;
    for i in 0..4 {
        let node = c.nodes[i].as_ref().unwrap();
        loop {
            let stats = node.net.stats();
            let connected = node.net.connected_peers().await.unwrap();
            if stats.gossip_invalid_reported > 0
                && !connected.contains(&Keypair::from_seed(ATTACKER_SEED).public())
                && connected.iter().all(|k| validators.contains(k))
            {
                break;
            }
            assert!(Instant::now() < deadline, "node {i} still talks to the flooder: {stats:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let stats = c.nodes[0].as_ref().unwrap().net.stats();
    assert!(stats.connections_refused_not_allowed >= 24, "{stats:?}");
    // Still live after all of it, on every node.
    for edition in 6..=9 {
        mint_via(&c, (edition as usize) % 4, series, edition).await;
    }
    let target = height(&c, 0).await;
    c.wait_height(&[0, 1, 2, 3], target).await;
    assert_no_fork(&c).await;
    flood.abort();
    attacker.shutdown().await;
    for n in intruders {
        n.shutdown().await;
    }
    c.shutdown().await;
}

/// No node kept evidence of anybody signing two different votes for one step.
async fn assert_no_equivocation(c: &Cluster) {
    for i in c.running() {
        let evidence = c.client(i).get_evidence(1000).await.unwrap();
        assert!(evidence.is_empty(), "node {i} saw equivocation: {evidence:?}");
    }
}

/// With `down` stopped, only three validators run: every block needs `needed`'s
/// precommit, so a mint committing proves `needed` votes. Then `down` restarts.
async fn votes_again(c: &mut Cluster, needed: usize, down: usize, series: SeriesId, edition: u32) {
    c.stop_node(down).await.unwrap();
    let via = (0..4).find(|&i| i != needed && i != down).unwrap();
    mint_via(c, via, series, edition).await;
    c.start_node(down).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restored_backups_and_a_repaired_sign_state_rejoin_without_double_signing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "lacquer", 100).await;
    mint_via(&c, 0, series, 1).await;

    // Backup: stop, copy the data directory, start again.
    c.stop_node(3).await.unwrap();
    let backup = dir.path().join("backup-data");
    copy_dir(&c.homes[3].join("data"), &backup);
    c.start_node(3).await.unwrap();
    for edition in 2..=4 {
        mint_via(&c, 0, series, edition).await;
    }
    let target = height(&c, 0).await;
    c.wait_height(&[3], target).await;

    // Restore the older backup (the consensus directory, with the sign-state, stays).
    c.stop_node(3).await.unwrap();
    std::fs::remove_dir_all(c.homes[3].join("data")).unwrap();
    copy_dir(&backup, &c.homes[3].join("data"));
    c.start_node(3).await.unwrap();
    let target = height(&c, 0).await;
    c.wait_height(&[3], target).await;
    votes_again(&mut c, 3, 0, series, 5).await;
    assert_no_fork(&c).await;
    assert_no_equivocation(&c).await;

    // A lost sign-state: the node refuses to start, the repair makes it safe, it rejoins.
    c.stop_node(2).await.unwrap();
    std::fs::remove_file(c.homes[2].join("consensus").join("sign_state.json")).unwrap();
    let refused =
        c.start_node(2).await.expect_err("a validator with history and no sign-state must not start");
    assert!(format!("{refused:#}").contains("keepsake repair sign-state"), "{refused:#}");
    let network = height(&c, 0).await;
    let url = c.nodes[0].as_ref().unwrap().rpc_url();
    let repaired =
        keepsake::repair::repair_sign_state(&c.homes[2], Network(std::slice::from_ref(&url)), false)
            .await
            .unwrap();
    assert!(repaired.floor > network, "{repaired:?}");
    // An intact sign-state is not touched without --force.
    let again = keepsake::repair::repair_sign_state(&c.homes[2], Network(std::slice::from_ref(&url)), false)
        .await
        .unwrap_err();
    assert!(format!("{again:#}").contains("intact"), "{again:#}");
    c.start_node(2).await.unwrap();
    // It sits out every height up to the floor (the other three decide them), then votes again.
    c.wait_height(&[0, 1, 2, 3], repaired.floor).await;
    votes_again(&mut c, 2, 1, series, 6).await;

    // A torn sign-state (half written): refused as damaged, repaired the same way.
    c.stop_node(1).await.unwrap();
    let path = c.homes[1].join("consensus").join("sign_state.json");
    let text = std::fs::read(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    let refused = c.start_node(1).await.expect_err("a damaged sign-state must not be trusted");
    assert!(format!("{refused:#}").contains("damaged"), "{refused:#}");
    let repaired =
        keepsake::repair::repair_sign_state(&c.homes[1], Network(std::slice::from_ref(&url)), false)
            .await
            .unwrap();
    c.start_node(1).await.unwrap();
    c.wait_height(&[0, 1, 2, 3], repaired.floor).await;
    votes_again(&mut c, 1, 2, series, 7).await;

    // A new disk with only the key kept: no data, no consensus directory. Refused, then repaired
    // from the network (the node's own store says nothing any more).
    c.stop_node(3).await.unwrap();
    let sign_state = c.homes[3].join("consensus").join("sign_state.json");
    let last: keepsake_consensus::SignedStep =
        serde_json::from_str(&std::fs::read_to_string(&sign_state).unwrap()).unwrap();
    // --force never lowers an intact record; --new-validator is refused for a home with history.
    let raised = keepsake::repair::repair_sign_state(&c.homes[3], Offline, true).await.unwrap();
    assert_eq!(raised.previous_height, Some(last.height));
    assert!(raised.floor >= last.height, "{raised:?} lowered {last:?}");
    let err = keepsake::repair::repair_sign_state(&c.homes[3], NewValidator, true).await.unwrap_err();
    assert!(format!("{err:#}").contains("has history"), "{err:#}");
    std::fs::remove_dir_all(c.homes[3].join("data")).unwrap();
    std::fs::remove_dir_all(c.homes[3].join("consensus")).unwrap();
    let refused = c.start_node(3).await.expect_err("a validator without a sign-state must not start");
    assert!(format!("{refused:#}").contains("is missing"), "{refused:#}");
    let repaired =
        keepsake::repair::repair_sign_state(&c.homes[3], Network(std::slice::from_ref(&url)), false)
            .await
            .unwrap();
    assert!(repaired.floor > repaired.store_height && repaired.store_height == 0, "{repaired:?}");
    c.start_node(3).await.unwrap();
    c.wait_height(&[0, 1, 2, 3], repaired.floor).await;
    votes_again(&mut c, 3, 1, series, 8).await;
    let target = height(&c, 0).await;
    c.wait_height(&[0, 1, 2, 3], target).await;
    assert_no_fork(&c).await;
    assert_no_equivocation(&c).await;
    c.shutdown().await;
}

/// `GET /health` until it answers `want`, or panics after [`WAIT`]; returns the body.
async fn health_until(c: &Cluster, i: usize, want: u16) -> String {
    let addr = c.nodes[i].as_ref().unwrap().rpc_addr;
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, body) = keepsake_tests::raw_http(addr, "GET", "/health", None).await;
        if status == want {
            return body;
        }
        assert!(Instant::now() < deadline, "node {i}: /health stayed {status} ({body}), expected {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A validator that cannot reach a quorum commits nothing: `/health` turns
/// 503 "stale" after `[rpc] health_stale_after_ms`, and 200 again once blocks
/// are committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_503_when_no_block_is_committed_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let stale = |c: &mut NodeConfig| c.rpc.health_stale_after_ms = 1500;
    let mut c = Cluster::start_with(dir.path(), 2, vec![stale, stale]).await.unwrap();
    c.wait_height(&[0, 1], 2).await;
    let ok = health_until(&c, 0, 200).await;
    assert!(ok.contains("\"status\":\"ok\""), "{ok}");

    // Two validators of equal power: one alone is not a quorum.
    c.stop_node(1).await.unwrap();
    let body = health_until(&c, 0, 503).await;
    assert!(body.contains("\"status\":\"stale\""), "{body}");
    assert!(body.contains("no block committed for"), "{body}");

    c.start_node(1).await.unwrap();
    let body = health_until(&c, 0, 200).await;
    assert!(body.contains("\"status\":\"ok\""), "{body}");
    c.shutdown().await;
}
