//! Transaction gossip in batches (issue "Drop day II"), over real libp2p
//! between real validators: what one `submitTxs` call admits travels as one
//! gossip message and is admitted by the others; a batch with a forged
//! transaction still spreads its valid ones, and its forwarder is blamed;
//! an undecodable batch is refused whole.
//!
//! The test process plays validator 1 (never started as a node) on its own
//! libp2p swarm: it sees the transaction topic as any peer does and can
//! publish hand-made batches.

use std::time::{Duration, Instant};

use keepsake_network::{GossipVerdict, NetworkEvent, NetworkHandle, Topic};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{Cluster, mint, setup_series, wait_final};
use keepsake_types::wire::{TX_BATCH_TXS_MAX, decode_tx_batch, pack_tx_batches};
use keepsake_types::{PublicKey, SignedTx, TxId, encoding};
use tokio::sync::mpsc;

/// The validator the test process plays.
const PLAYED: usize = 1;
/// The validators running as nodes: 3 of 4 power, a quorum.
const NODES: [usize; 3] = [0, 2, 3];
/// Bound of every wait.
const WAIT: Duration = Duration::from_secs(30);

/// Joins the nodes' gossip as validator [`PLAYED`] and waits until all of
/// them are connected and subscribed to the transaction topic (connected
/// is not yet subscribed: a batch published in between reaches only some of
/// them, and one they reject is not forwarded to the rest). Transaction-topic
/// payloads come out of the returned receiver; nothing received is forwarded.
async fn join(c: &Cluster) -> (NetworkHandle, mpsc::UnboundedReceiver<Vec<u8>>) {
    let key = c.validator_key(PLAYED).unwrap();
    let validators: Vec<PublicKey> = c.genesis.validators.iter().map(|v| v.public_key).collect();
    let config = c.gossip_config(&NODES);
    let (net, mut events) = keepsake_network::start(key.secret_seed(), config).await.unwrap();
    let (txs_out, txs_in) = mpsc::unbounded_channel();
    let drain = net.clone();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let NetworkEvent::Gossip { id, topic, data, .. } = event {
                if topic == Topic::Txs {
                    let _ = txs_out.send(data);
                }
                drain.validated(id, GossipVerdict::Ignore);
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    loop {
        let peers = net.subscribed_peers(Topic::Txs).await.unwrap();
        if NODES.iter().all(|&i| peers.contains(&validators[i])) {
            return (net, txs_in);
        }
        assert!(Instant::now() < deadline, "subscribed only: {peers:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn forged(mut tx: SignedTx) -> SignedTx {
    tx.signatures[0].signature.0[3] ^= 1;
    tx
}

/// Waits (bounded) until `f` holds.
async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metrics(c: &Cluster, i: usize) -> &keepsake::metrics::Metrics {
    &c.nodes[i].as_ref().unwrap().shared.metrics
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_submit_txs_call_travels_as_one_message_and_the_others_admit_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_only(dir.path(), 4, &NODES).await.unwrap();
    let series = setup_series(&c, 0, "batched", 1000).await;
    let (net, mut seen) = join(&c).await;
    let chain = c.chain().to_string();

    // 300 mints and a forged one in one call to node 0: the forged one is refused there.
    let mut txs: Vec<SignedTx> = (1..=300).map(|e| mint(&c, series, e)).collect();
    txs.insert(150, forged(mint(&c, series, 301)));
    let valid: Vec<TxId> =
        txs.iter().enumerate().filter(|(i, _)| *i != 150).map(|(_, tx)| tx.id(&chain)).collect();
    let before: Vec<(u64, u64)> = NODES
        .iter()
        .map(|&i| {
            (load(&metrics(&c, i).gossip_tx_batches_received), load(&metrics(&c, i).gossip_txs_received))
        })
        .collect();
    let published_before =
        (load(&metrics(&c, 0).gossip_tx_batches_published), load(&metrics(&c, 0).gossip_txs_published));
    let outcomes = c.client(0).submit_txs(txs).await.unwrap();
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.error.as_ref().map(|e| e.code.as_str())).collect();
    assert_eq!(refused, ["BadSignature"]);

    // The played validator sees them as one message: exactly the 300 admitted, in order.
    let deadline = Instant::now() + WAIT;
    let batch = loop {
        let data =
            tokio::time::timeout_at(deadline.into(), seen.recv()).await.expect("no batch gossiped").unwrap();
        let txs = decode_tx_batch(&data, 8 << 20, TX_BATCH_TXS_MAX, 4096).expect("a well-formed batch");
        let ids: Vec<TxId> = txs.iter().map(|tx| tx.id(&chain)).collect();
        if ids.iter().any(|id| valid.contains(id)) {
            break ids;
        }
    };
    assert_eq!(batch, valid, "one message with every admitted mint of the call, and nothing else");
    // Node 0 published the call's admitted mints as one batch.
    let m0 = metrics(&c, 0);
    until("node 0 counted its publication", || load(&m0.gossip_txs_published) >= published_before.1 + 300)
        .await;
    assert_eq!(load(&m0.gossip_tx_batches_published) - published_before.0, 1);

    // The other nodes received the batch by gossip (a message or two, 300 transactions)...
    for (k, &i) in NODES.iter().enumerate().skip(1) {
        let m = metrics(&c, i);
        until(&format!("node {i} received the batch"), || load(&m.gossip_txs_received) >= before[k].1 + 300)
            .await;
        let batches = load(&m.gossip_tx_batches_received) - before[k].0;
        assert!((1..=2).contains(&batches), "node {i} received {batches} batches for 300 transactions");
        assert_eq!(m.rejections("gossip", "BadSignature"), 0, "node {i}: node 0 gossiped the forged mint");
    }
    // ...and every valid mint is committed everywhere; the forged one nowhere.
    assert!(matches!(wait_final(&c.client(3), *valid.last().unwrap()).await, TxStatus::Committed { .. }));
    for &i in &NODES {
        c.wait_height(&[i], c.client(3).status().await.unwrap().height).await;
        assert_eq!(c.client(i).get_series(series).await.unwrap().minted, 300, "node {i}");
    }
    net.shutdown().await;
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gossiped_batch_with_a_forged_transaction_still_spreads_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start_only(dir.path(), 4, &NODES).await.unwrap();
    let series = setup_series(&c, 0, "mixed", 10).await;
    let (net, _seen) = join(&c).await;
    let chain = c.chain().to_string();
    let invalid_before: Vec<u64> = NODES.iter().map(|&i| load(&metrics(&c, i).p2p_invalid)).collect();

    // Published by the played validator straight to every node: two valid mints around a forged one.
    let txs = [mint(&c, series, 1), forged(mint(&c, series, 2)), mint(&c, series, 3)];
    let encoded: Vec<Vec<u8>> = txs.iter().map(encoding::encode).collect();
    let batch = pack_tx_batches(&encoded, 8 << 20, TX_BATCH_TXS_MAX).remove(0);
    net.publish(Topic::Txs, batch.clone()).await.unwrap();
    // And a batch that does not frame (cut short): refused whole.
    let mut cut = pack_tx_batches(&encoded[..1], 8 << 20, TX_BATCH_TXS_MAX).remove(0);
    cut.truncate(cut.len() - 5);
    net.publish(Topic::Txs, cut).await.unwrap();

    // Every node refused the forged mint and the cut batch, and blamed the sender for both...
    for (k, &i) in NODES.iter().enumerate() {
        let m = metrics(&c, i);
        until(&format!("node {i} judged both batches"), || {
            m.rejections("gossip", "BadSignature") == 1 && m.rejections("gossip", "Malformed") == 1
        })
        .await;
        assert_eq!(load(&m.p2p_invalid) - invalid_before[k], 2, "node {i}");
    }
    // ...and admitted the two valid mints, which commit everywhere; the forged one is unknown.
    for &i in &NODES {
        let client = c.client(i);
        for tx in [&txs[0], &txs[2]] {
            let status = wait_final(&client, tx.id(&chain)).await;
            assert!(matches!(status, TxStatus::Committed { .. }), "node {i}: {status:?}");
        }
        assert_eq!(client.get_tx_status(txs[1].id(&chain)).await.unwrap(), TxStatus::Unknown, "node {i}");
    }
    net.shutdown().await;
    c.shutdown().await;
}

/// A batch admitted while no peer is subscribed to the transaction topic
/// (alone, or just reconnected) is published again until one is: node 0,
/// left alone, admits a mint; node 2, started afterwards, receives it by
/// gossip. Without the retry it could not get it at all here: two of four
/// validators commit nothing, so no block carries it either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_admitted_while_no_peer_is_subscribed_is_gossiped_once_one_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start_only(dir.path(), 4, &NODES).await.unwrap();
    let series = setup_series(&c, 0, "alone", 10).await;
    c.stop_node(2).await.unwrap();
    c.stop_node(3).await.unwrap();
    let m0 = metrics(&c, 0);
    let no_peers = load(&m0.gossip_tx_batches_published);
    let tx = mint(&c, series, 1);
    c.client(0).submit_tx(tx.clone()).await.unwrap();
    assert_eq!(load(&metrics(&c, 0).gossip_tx_batches_published), no_peers, "published to nobody");

    c.start_node(2).await.unwrap();
    let m2 = metrics(&c, 2);
    until("node 2 received the mint by gossip", || load(&m2.gossip_txs_received) >= 1).await;
    let status = c.client(2).get_tx_status(tx.id(c.chain())).await.unwrap();
    assert_eq!(status, TxStatus::Pending, "node 2 admitted it and, without a quorum, holds it");
    c.shutdown().await;
}
