//! Real swarms on 127.0.0.1 (port 0): connection gating, gossip on both topics, block sync,
//! size limits, strikes. Every wait is bounded by a timeout.

use std::net::SocketAddr;
use std::time::Duration;

use keepsake_network::{
    GossipVerdict, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, NetworkStats, Publication,
    Topic, identity_keypair, peer_id_from_public_key, public_key_from_peer_id, start,
};
use keepsake_types::{Keypair, PublicKey};
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
const CHAIN: &str = "test-chain";

fn seed(i: u8) -> [u8; 32] {
    [i; 32]
}

fn key(i: u8) -> PublicKey {
    Keypair::from_seed(seed(i)).public()
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

struct Node {
    handle: NetworkHandle,
    events: Receiver<NetworkEvent>,
    addr: SocketAddr,
}

async fn node(
    i: u8,
    allowed: &[u8],
    bootstrap: &[(u8, SocketAddr)],
    tweak: impl FnOnce(&mut NetworkConfig),
) -> Node {
    init_tracing();
    let mut config = NetworkConfig::new(CHAIN.into(), "127.0.0.1:0".parse().unwrap());
    config.allowed = allowed.iter().map(|&j| key(j)).collect();
    config.bootstrap = bootstrap.iter().map(|&(j, addr)| (key(j), addr)).collect();
    tweak(&mut config);
    let (handle, events) = start(seed(i), config).await.unwrap();
    let addr = handle.listen_addr().await.unwrap();
    assert_ne!(addr.port(), 0);
    Node { handle, events, addr }
}

/// Waits (bounded) for the first event matching `pred`, discarding the others.
async fn wait_for<T>(
    events: &mut Receiver<NetworkEvent>,
    mut pred: impl FnMut(NetworkEvent) -> Option<T>,
) -> T {
    timeout(WAIT, async {
        loop {
            let event = events.recv().await.expect("event channel closed");
            if let Some(found) = pred(event) {
                return found;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

async fn wait_connected(events: &mut Receiver<NetworkEvent>, peer: PublicKey) {
    wait_for(events, |e| matches!(e, NetworkEvent::PeerConnected(k) if k == peer).then_some(())).await
}

/// Polls `check` on the stats until it holds (bounded).
async fn wait_stats(handle: &NetworkHandle, check: impl Fn(&NetworkStats) -> bool) -> NetworkStats {
    timeout(WAIT, async {
        loop {
            let stats = handle.stats();
            if check(&stats) {
                return stats;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("timed out waiting for stats")
}

/// Publishes fresh payloads (`prefix` + counter) every 100 ms until `receiver` gets one of them
/// on `topic` (the first publishes may precede the subscription exchange). Returns what arrived.
async fn publish_until_received(
    publisher: &NetworkHandle,
    topic: Topic,
    prefix: &[u8],
    receiver: &mut Receiver<NetworkEvent>,
) -> (PublicKey, Vec<u8>) {
    timeout(WAIT, async {
        let mut n = 0u32;
        loop {
            let mut data = prefix.to_vec();
            data.extend_from_slice(&n.to_be_bytes());
            publisher.publish(topic, data).await.unwrap();
            n += 1;
            let got = timeout(Duration::from_millis(100), async {
                loop {
                    match receiver.recv().await.expect("event channel closed") {
                        NetworkEvent::Gossip { from, topic: t, data, .. }
                            if t == topic && data.starts_with(prefix) =>
                        {
                            return (from, data);
                        }
                        _ => {}
                    }
                }
            })
            .await;
            if let Ok(found) = got {
                return found;
            }
        }
    })
    .await
    .expect("gossip never arrived")
}

#[test]
fn peer_id_public_key_round_trip() {
    for i in 1..=5u8 {
        let ours = key(i);
        let peer = peer_id_from_public_key(&ours).unwrap();
        assert_eq!(peer, identity_keypair(seed(i)).unwrap().public().to_peer_id());
        assert_eq!(public_key_from_peer_id(&peer).unwrap(), ours);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_gossip_on_both_topics() {
    let mut a = node(1, &[2, 3], &[], |_| {}).await;
    // b and c only know a; c hears b through a (and vice versa).
    let mut b = node(2, &[1, 3], &[(1, a.addr)], |_| {}).await;
    let mut c = node(3, &[1, 2], &[(1, a.addr)], |_| {}).await;
    wait_connected(&mut b.events, key(1)).await;
    wait_connected(&mut c.events, key(1)).await;

    let (from, data) = publish_until_received(&b.handle, Topic::Txs, b"tx-from-b", &mut a.events).await;
    assert_eq!(from, key(2));
    assert!(data.starts_with(b"tx-from-b"));
    // From now on `a` plays the application: it accepts everything but garbage. Only accepted
    // messages are forwarded.
    let mut a_events = std::mem::replace(&mut a.events, tokio::sync::mpsc::channel(1).1);
    let a_handle = a.handle.clone();
    tokio::spawn(async move {
        while let Some(event) = a_events.recv().await {
            if let NetworkEvent::Gossip { id, data, .. } = event {
                let verdict = if data.starts_with(b"garbage") {
                    GossipVerdict::Reject("garbage")
                } else {
                    GossipVerdict::Accept
                };
                a_handle.validated(id, verdict);
            }
        }
    });
    // Relayed by a to c through the mesh.
    let (from, _) = publish_until_received(&b.handle, Topic::Txs, b"tx-relay", &mut c.events).await;
    assert_eq!(from, key(1), "c is not connected to b: the message came through a");
    // Garbage is rejected by a and never reaches c; b gets a strike.
    b.handle.publish(Topic::Txs, b"garbage-1".to_vec()).await.unwrap();
    wait_stats(&a.handle, |s| s.gossip_invalid_reported >= 1).await;
    let (_, data) = publish_until_received(&b.handle, Topic::Txs, b"tx-after-garbage", &mut c.events).await;
    assert!(data.starts_with(b"tx-after-garbage"));
    while let Ok(event) = c.events.try_recv() {
        if let NetworkEvent::Gossip { data, .. } = event {
            assert!(!data.starts_with(b"garbage"), "a forwarded a message it rejected");
        }
    }

    let (from, _) = publish_until_received(&c.handle, Topic::Consensus, b"vote-from-c", &mut b.events).await;
    assert_eq!(from, key(1));
    let (from, _) = publish_until_received(&a.handle, Topic::Consensus, b"vote-from-a", &mut c.events).await;
    assert_eq!(from, key(1));

    let mut peers = a.handle.connected_peers().await.unwrap();
    peers.sort();
    let mut expected = vec![key(2), key(3)];
    expected.sort();
    assert_eq!(peers, expected);
    assert!(a.handle.stats().gossip_received >= 1);
    assert_eq!(a.handle.stats().peers_connected, 2);

    // The same bytes twice are one message (content-addressed ids), and publishing is Ok.
    a.handle.publish(Topic::Txs, b"dup".to_vec()).await.unwrap();
    a.handle.publish(Topic::Txs, b"dup".to_vec()).await.unwrap();

    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
    assert_eq!(a.handle.publish(Topic::Txs, b"late".to_vec()).await.unwrap_err(), NetworkError::Shutdown);
    assert_eq!(a.handle.stats().peers_connected, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_not_allowed_is_refused_and_allowed_peers_still_work() {
    // a allows only b. c allows a and dials it: a must refuse c.
    let mut a = node(1, &[2], &[], |_| {}).await;
    let b = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    let mut c = node(3, &[1], &[(1, a.addr)], |_| {}).await;

    wait_connected(&mut a.events, key(2)).await;
    // c redials every ≤ 2 s; wait for two refusals to be sure it kept being refused.
    wait_stats(&a.handle, |s| s.connections_refused_not_allowed >= 2).await;

    // a never reported c, and only b is connected.
    while let Ok(event) = a.events.try_recv() {
        assert!(!matches!(event, NetworkEvent::PeerConnected(k) if k == key(3)), "refused peer was reported");
    }
    assert_eq!(a.handle.connected_peers().await.unwrap(), vec![key(2)]);
    // c's own handshake completes before a closes the connection, yet c never reports a either.
    assert!(c.handle.connected_peers().await.unwrap().is_empty());
    while let Ok(event) = c.events.try_recv() {
        assert!(!matches!(event, NetworkEvent::PeerConnected(_)), "c reported a peer that refused it");
    }

    // The allowed pair still gossips.
    let (from, _) = publish_until_received(&b.handle, Topic::Txs, b"allowed", &mut a.events).await;
    assert_eq!(from, key(2));
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_allowed_admits_new_keys_and_disconnects_removed_ones() {
    // a allows only b at first; c dials a and is refused.
    let mut a = node(1, &[2], &[], |_| {}).await;
    let mut b = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    wait_connected(&mut a.events, key(2)).await;
    let mut c = node(3, &[1], &[(1, a.addr)], |_| {}).await;
    wait_stats(&a.handle, |s| s.connections_refused_not_allowed >= 1).await;
    assert_eq!(a.handle.connected_peers().await.unwrap(), vec![key(2)]);

    // c is admitted: its next redial is accepted, on both sides, and gossip flows.
    a.handle.set_allowed(vec![key(2), key(3)]).await.unwrap();
    wait_connected(&mut a.events, key(3)).await;
    wait_connected(&mut c.events, key(1)).await;
    let (from, _) = publish_until_received(&c.handle, Topic::Txs, b"admitted", &mut a.events).await;
    assert_eq!(from, key(3));

    // b is left out: disconnected now, and its redials are refused and counted.
    let refused_before = a.handle.stats().connections_refused_not_allowed;
    a.handle.set_allowed(vec![key(3)]).await.unwrap();
    wait_for(&mut a.events, |e| matches!(e, NetworkEvent::PeerDisconnected(k) if k == key(2)).then_some(()))
        .await;
    wait_for(&mut b.events, |e| matches!(e, NetworkEvent::PeerDisconnected(k) if k == key(1)).then_some(()))
        .await;
    wait_stats(&a.handle, |s| s.connections_refused_not_allowed >= refused_before + 2).await;
    assert_eq!(a.handle.connected_peers().await.unwrap(), vec![key(3)]);
    assert!(b.handle.connected_peers().await.unwrap().is_empty());
    while let Ok(event) = a.events.try_recv() {
        assert!(!matches!(event, NetworkEvent::PeerConnected(k) if k == key(2)), "a removed peer came back");
    }
    // c was never disturbed.
    let (from, _) = publish_until_received(&c.handle, Topic::Txs, b"still-here", &mut a.events).await;
    assert_eq!(from, key(3));
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_peer_allowed_later_is_dialled_then() {
    // b does not know a's address: a connection can only come from a's dial.
    let mut b = node(2, &[1], &[], |_| {}).await;
    // a knows b's address but does not allow it yet.
    let mut a = node(1, &[], &[(2, b.addr)], |_| {}).await;
    assert!(a.handle.connected_peers().await.unwrap().is_empty());

    // Too many keys change nothing; a key that is not a curve point is left out, the rest applies.
    let too_many = vec![key(2); keepsake_network::MAX_ALLOWED_KEYS + 1];
    assert_eq!(a.handle.set_allowed(too_many).await.unwrap_err().code(), "InvalidConfig");
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    a.handle.set_allowed(vec![PublicKey(not_a_point), key(2)]).await.unwrap();
    wait_connected(&mut a.events, key(2)).await;
    wait_connected(&mut b.events, key(1)).await;
    // a never dialled b while b was not allowed (its own gate would have refused and counted it).
    assert_eq!(a.handle.stats().connections_refused_not_allowed, 0);
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_peers_is_enforced() {
    let mut a = node(1, &[2, 3], &[], |c| c.max_peers = 1).await;
    let b = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    wait_connected(&mut a.events, key(2)).await;
    let c = node(3, &[1], &[(1, a.addr)], |_| {}).await;
    wait_stats(&a.handle, |s| s.connections_refused_max_peers >= 1).await;
    assert_eq!(a.handle.connected_peers().await.unwrap(), vec![key(2)]);
    assert_eq!(a.handle.stats().peers_connected, 1);
    for n in [&a, &b, &c] {
        n.handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_blocks_round_trip() {
    let mut a = node(1, &[2], &[], |c| c.max_message_bytes = 4096).await;
    let mut b = node(2, &[1], &[(1, a.addr)], |c| c.max_message_bytes = 4096).await;
    wait_connected(&mut a.events, key(2)).await;
    wait_connected(&mut b.events, key(1)).await;

    // b answers: heights as 8-byte items, except from_height 1000 (3 items of 1500 bytes, over the
    // 4096-byte frame limit together) and from_height 2000 (dropped reply).
    let responder = tokio::spawn(async move {
        while let Some(event) = b.events.recv().await {
            if let NetworkEvent::SyncRequest { from, from_height, max_blocks, reply } = event {
                assert_eq!(from, key(1));
                match from_height {
                    1000 => reply.send(vec![vec![7u8; 1500]; 3]),
                    2000 => drop(reply),
                    _ => reply.send(
                        (from_height..from_height + u64::from(max_blocks) + 5) // more than asked
                            .map(|h| h.to_be_bytes().to_vec())
                            .collect(),
                    ),
                }
            }
        }
        b.handle
    });

    let blocks = a.handle.request_blocks(key(2), 5, 3).await.unwrap();
    assert_eq!(
        blocks,
        vec![5u64.to_be_bytes().to_vec(), 6u64.to_be_bytes().to_vec(), 7u64.to_be_bytes().to_vec()]
    );
    // Trimmed by the responder to what fits the frame limit.
    let blocks = a.handle.request_blocks(key(2), 1000, 10).await.unwrap();
    assert_eq!(blocks.len(), 2);
    // A dropped reply is an empty answer.
    assert!(a.handle.request_blocks(key(2), 2000, 10).await.unwrap().is_empty());
    // Unknown peer.
    assert_eq!(a.handle.request_blocks(key(9), 0, 1).await.unwrap_err().code(), "NotConnected");
    assert_eq!(a.handle.stats().sync_responses_invalid, 0);

    a.handle.shutdown().await;
    // The responder owns b; stop it, then b.
    responder.abort();
    if let Ok(handle) = responder.await {
        handle.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_response_over_the_requester_limit_is_invalid() {
    // b's limit is large, a's small: a must refuse b's big frame and count it.
    let mut a = node(1, &[2], &[], |c| c.max_message_bytes = 1024).await;
    let mut b = node(2, &[1], &[(1, a.addr)], |c| c.max_message_bytes = 64 * 1024).await;
    wait_connected(&mut a.events, key(2)).await;
    let responder = tokio::spawn(async move {
        while let Some(event) = b.events.recv().await {
            if let NetworkEvent::SyncRequest { reply, .. } = event {
                reply.send(vec![vec![1u8; 4000]]);
            }
        }
    });
    let err = a.handle.request_blocks(key(2), 0, 1).await.unwrap_err();
    assert_eq!(err.code(), "InvalidResponse", "{err}");
    assert_eq!(a.handle.stats().sync_responses_invalid, 1);
    a.handle.shutdown().await;
    responder.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_gossip_is_refused_and_dropped() {
    let mut a = node(1, &[2], &[], |c| c.max_message_bytes = 1024).await;
    let b = node(2, &[1], &[(1, a.addr)], |c| c.max_message_bytes = 8192).await;
    wait_connected(&mut a.events, key(2)).await;

    // Publishing over one's own limit fails and is counted.
    let err = a.handle.publish(Topic::Txs, vec![0u8; 1025]).await.unwrap_err();
    assert_eq!(err, NetworkError::MessageTooLarge { size: 1025, max: 1024 });
    assert_eq!(a.handle.stats().gossip_dropped_oversized, 1);
    a.handle.publish(Topic::Txs, vec![0u8; 1024]).await.unwrap();

    // b (8 KiB limit) publishes 2 KiB messages: a drops and counts them, and never delivers them.
    // First make sure b's publications reach a at all.
    publish_until_received(&b.handle, Topic::Txs, b"small", &mut a.events).await;
    for n in 0..3u8 {
        let mut big = vec![n; 2048];
        big[0] = b'B';
        b.handle.publish(Topic::Txs, big).await.unwrap();
    }
    wait_stats(&a.handle, |s| s.gossip_dropped_oversized >= 4).await;
    // A small message published after them arrives; nothing big arrived before it.
    let (_, data) = publish_until_received(&b.handle, Topic::Txs, b"after", &mut a.events).await;
    assert!(data.len() <= 1024);
    while let Ok(event) = a.events.try_recv() {
        if let NetworkEvent::Gossip { data, .. } = event {
            assert!(data.len() <= 1024);
        }
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_invalid_strikes_disconnect_the_peer() {
    let mut a = node(1, &[2], &[], |c| c.garbage_strikes_max = 3).await;
    let mut b = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    wait_connected(&mut a.events, key(2)).await;

    a.handle.report_invalid(key(2), "bad signature").await;
    a.handle.report_invalid(key(2), "bad signature").await;
    assert_eq!(a.handle.connected_peers().await.unwrap(), vec![key(2)], "two strikes are not enough");
    a.handle.report_invalid(key(2), "bad signature").await;

    wait_for(&mut a.events, |e| matches!(e, NetworkEvent::PeerDisconnected(k) if k == key(2)).then_some(()))
        .await;
    wait_for(&mut b.events, |e| matches!(e, NetworkEvent::PeerDisconnected(k) if k == key(1)).then_some(()))
        .await;
    assert_eq!(a.handle.stats().gossip_invalid_reported, 3);
    // b redials, but a refuses it during the cool-down.
    wait_stats(&a.handle, |s| s.connections_refused_banned >= 1).await;
    assert!(a.handle.connected_peers().await.unwrap().is_empty());
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_peer_reconnects() {
    let mut a = node(1, &[2], &[], |_| {}).await;
    let b = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    wait_connected(&mut a.events, key(2)).await;
    b.handle.shutdown().await;
    wait_for(&mut a.events, |e| matches!(e, NetworkEvent::PeerDisconnected(k) if k == key(2)).then_some(()))
        .await;
    // Same key, new process (new port): it dials a again.
    let _b2 = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    wait_connected(&mut a.events, key(2)).await;
    a.handle.shutdown().await;
}

#[tokio::test]
async fn start_rejects_bad_config() {
    let mut config = NetworkConfig::new(String::new(), "127.0.0.1:0".parse().unwrap());
    assert_eq!(start(seed(1), config.clone()).await.unwrap_err().code(), "InvalidConfig");
    config.chain_id = "c".into();
    let mut bad = [0u8; 32];
    bad[0] = 2; // not a curve point
    config.allowed = vec![PublicKey(bad)];
    assert_eq!(start(seed(1), config).await.unwrap_err().code(), "InvalidConfig");
}

/// A publish says whether it reached anybody: before any peer has subscribed
/// it reached nobody (and is counted), once a peer is subscribed it is sent,
/// and the same bytes again are already seen. `subscribed_peers` tells when
/// the subscription has arrived (it follows the connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_reports_whether_a_subscribed_peer_got_it() {
    let a = node(1, &[2], &[], |_| {}).await;
    assert_eq!(
        a.handle.publish(Topic::Txs, b"alone".to_vec()).await.unwrap(),
        Publication::NoSubscribedPeers
    );
    assert_eq!(a.handle.stats().gossip_publish_no_peers, 1);
    assert!(a.handle.subscribed_peers(Topic::Txs).await.unwrap().is_empty());

    let mut b = node(2, &[1], &[(1, a.addr)], |_| {}).await;
    timeout(WAIT, async {
        while !a.handle.subscribed_peers(Topic::Txs).await.unwrap().contains(&key(2)) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("b never subscribed as seen from a");
    assert_eq!(a.handle.publish(Topic::Txs, b"hello".to_vec()).await.unwrap(), Publication::Sent);
    let got = wait_for(&mut b.events, |e| match e {
        NetworkEvent::Gossip { data, .. } => Some(data),
        _ => None,
    })
    .await;
    assert_eq!(got, b"hello");
    assert_eq!(a.handle.publish(Topic::Txs, b"hello".to_vec()).await.unwrap(), Publication::AlreadySeen);
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
