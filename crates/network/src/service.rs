//! The swarm, its single event-loop task, and the [`NetworkHandle`] that talks to it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, PublishError, TopicHash,
    ValidationMode,
};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, PeerId, Swarm, SwarmBuilder, identify, identity, noise, ping, tcp, yamux};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use keepsake_types::PublicKey;

use crate::codec::{self, SyncCodec, SyncRequest, fit_response};
use crate::config::MAX_ALLOWED_KEYS;
use crate::gate::Gate;
use crate::keys::{identity_keypair, peer_id_from_public_key, public_key_from_peer_id};
use crate::stats::{Counters, NetworkStats, bump};
use crate::{NetworkConfig, NetworkError, Topic};

/// How long a sync request may take end to end (request sent to response read), and how long the
/// application has to answer a [`NetworkEvent::SyncRequest`].
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a peer that reached `garbage_strikes_max` strikes is refused after the disconnect.
pub const STRIKE_BAN: Duration = Duration::from_secs(10);
/// Connections with no open stream are closed after this long (validator links always carry
/// gossipsub streams, so in practice they stay up).
pub const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(300);
/// gossipsub heartbeat: mesh maintenance and IHAVE gossip.
pub const GOSSIP_HEARTBEAT: Duration = Duration::from_millis(300);

/// Mesh degree parameters, sized for 4–21 validators: `outbound_min <= low <= n <= high` and
/// `2 * outbound_min <= n`, as gossipsub requires. With fewer peers than `MESH_N_LOW` the mesh is
/// simply every subscribed peer.
const MESH_OUTBOUND_MIN: usize = 2;
const MESH_N_LOW: usize = 4;
const MESH_N: usize = 8;
const MESH_N_HIGH: usize = 12;
// gossipsub's own consistency rules, checked at compile time.
const _: () = assert!(MESH_OUTBOUND_MIN <= MESH_N_LOW && MESH_N_LOW <= MESH_N && MESH_N <= MESH_N_HIGH);
const _: () = assert!(2 * MESH_OUTBOUND_MIN <= MESH_N);
/// How long a message id is remembered: re-publishing identical bytes within this window is a
/// no-op, and so is receiving them again. gossipsub keeps every id for this long (two copies of a
/// 32-byte id, ~100 bytes an id), so the cache is the gossip rate times this window: with one
/// message per transaction at the 4-validator bound (~17,000 tx/s) 30 s was ~50 MiB a node.
/// A copy arrives within the mesh's forwarding time, and gossip (IHAVE/IWANT) offers a message
/// only while it is in the message cache ([`GOSSIP_HISTORY_LENGTH`] heartbeats), so 10 s is ample;
/// a later duplicate is still harmless (admission is idempotent, consensus messages are
/// deduplicated by the engine).
const DUPLICATE_CACHE_TIME: Duration = Duration::from_secs(10);
/// Heartbeats a message stays in gossipsub's message cache (its default, stated).
const GOSSIP_HISTORY_LENGTH: usize = 5;
/// Heartbeats a cached message is offered in IHAVE gossip (its default, stated).
const GOSSIP_HISTORY_GOSSIP: usize = 3;
/// Room for the gossipsub protobuf envelope around a payload of `max_message_bytes`, so that
/// payloads up to that size are accepted by the wire codec and slightly larger ones reach the
/// swarm loop, where they are counted and rejected (not forwarded).
const GOSSIP_ENVELOPE_HEADROOM: usize = 64 * 1024;

const COMMAND_CAPACITY: usize = 1024;
/// Inbound sync requests awaiting the application's answer; beyond this they are refused.
const MAX_PENDING_SYNC_REPLIES: usize = 256;
/// Concurrent sync streams per connection.
const MAX_SYNC_STREAMS_PER_CONNECTION: usize = 16;
const REDIAL_TICK: Duration = Duration::from_millis(250);
const REDIAL_BACKOFF_MIN: Duration = Duration::from_millis(500);
const REDIAL_BACKOFF_MAX: Duration = Duration::from_secs(2);
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// What the network tells the node. Read it from the receiver returned by [`start`].
#[derive(Debug)]
pub enum NetworkEvent {
    /// A gossip message on `topic`, at most `max_message_bytes` long. `from` is the peer that
    /// forwarded it (the propagation source), not necessarily its author: authenticate the
    /// payload itself. A node never receives its own publications.
    ///
    /// The message is **not forwarded** to other peers until the application calls
    /// [`NetworkHandle::validated`] with `id`: honest nodes never relay garbage, so whoever
    /// hands us an invalid message is its originator and may fairly get a strike.
    Gossip {
        /// Pass to [`NetworkHandle::validated`] once the payload is checked.
        id: GossipId,
        /// The forwarding peer.
        from: PublicKey,
        /// The topic it arrived on.
        topic: Topic,
        /// The payload.
        data: Vec<u8>,
    },
    /// A peer asks for up to `max_blocks` blocks from height `from_height`. Answer with
    /// [`SyncReply::send`] within [`SYNC_TIMEOUT`]; dropping `reply` answers with no blocks.
    SyncRequest {
        /// The asking peer.
        from: PublicKey,
        /// First height wanted.
        from_height: u64,
        /// Maximum number of blocks wanted.
        max_blocks: u32,
        /// Where to put the answer.
        reply: SyncReply,
    },
    /// A peer is connected and has accepted us: emitted once per peer when, on its first
    /// connection, its identify information or first gossipsub subscription arrives (a dialer's
    /// handshake completes before the remote's gate can refuse it, so the transport-level
    /// "connection established" alone proves nothing).
    PeerConnected(PublicKey),
    /// The last connection to a peer previously reported by [`NetworkEvent::PeerConnected`]
    /// closed.
    PeerDisconnected(PublicKey),
}

/// Identifies a received gossip message awaiting the application's verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipId {
    message_id: MessageId,
    source: PeerId,
}

/// What the application decided about a received gossip message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GossipVerdict {
    /// Valid: forward it through the mesh.
    Accept,
    /// Not forwarded, nobody blamed (e.g. valid but stale, or refused by a rule that depends on
    /// this node's state, which an honest forwarder may not share yet).
    Ignore,
    /// Garbage no honest node would forward (undecodable, bad signature, a transfer): dropped,
    /// gossipsub penalises the forwarder and it gets a strike as with
    /// [`NetworkHandle::report_invalid`].
    Reject(&'static str),
}

/// The answer slot of a [`NetworkEvent::SyncRequest`].
#[derive(Debug)]
pub struct SyncReply {
    tx: oneshot::Sender<Vec<Vec<u8>>>,
}

impl SyncReply {
    /// Answers with `items` (encoded blocks, in height order). The network sends the longest
    /// prefix of at most `max_blocks` items whose encoding fits `max_message_bytes`; the requester
    /// asks again from the next height for the rest.
    pub fn send(self, items: Vec<Vec<u8>>) {
        // The requester may be gone (timeout, disconnect): nothing to do then.
        let _ = self.tx.send(items);
    }
}

/// What became of a published message ([`NetworkHandle::publish`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publication {
    /// Handed to gossipsub for the subscribed peers.
    Sent,
    /// No connected peer has announced a subscription to the topic yet: nobody got it.
    NoSubscribedPeers,
    /// The same bytes were published or received in the last 10 s: not sent again.
    AlreadySeen,
}

enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<Publication, NetworkError>>,
    },
    RequestBlocks {
        peer: PublicKey,
        from_height: u64,
        max_blocks: u32,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, NetworkError>>,
    },
    ConnectedPeers {
        reply: oneshot::Sender<Vec<PublicKey>>,
    },
    SubscribedPeers {
        topic: Topic,
        reply: oneshot::Sender<Vec<PublicKey>>,
    },
    ListenAddr {
        reply: oneshot::Sender<SocketAddr>,
    },
    ReportInvalid {
        peer: PublicKey,
        reason: &'static str,
    },
    Validated {
        id: GossipId,
        verdict: GossipVerdict,
    },
    SetBlocked {
        peers: Vec<PublicKey>,
        reply: oneshot::Sender<()>,
    },
    SetAllowed {
        peers: HashSet<PeerId>,
        reply: oneshot::Sender<()>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// A cloneable handle to the network task. Every call is a command on a bounded channel with a
/// oneshot reply; once the task has stopped, calls fail with [`NetworkError::Shutdown`].
#[derive(Clone, Debug)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    counters: Arc<Counters>,
    local_key: PublicKey,
    max_message_bytes: usize,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Command::Publish { .. } => "Publish",
            Command::RequestBlocks { .. } => "RequestBlocks",
            Command::ConnectedPeers { .. } => "ConnectedPeers",
            Command::SubscribedPeers { .. } => "SubscribedPeers",
            Command::ListenAddr { .. } => "ListenAddr",
            Command::ReportInvalid { .. } => "ReportInvalid",
            Command::Validated { .. } => "Validated",
            Command::SetBlocked { .. } => "SetBlocked",
            Command::SetAllowed { .. } => "SetAllowed",
            Command::Shutdown { .. } => "Shutdown",
        };
        f.write_str(name)
    }
}

impl NetworkHandle {
    async fn call<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, NetworkError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| NetworkError::Shutdown)?;
        rx.await.map_err(|_| NetworkError::Shutdown)
    }

    /// Gossips `data` on `topic` to the connected peers subscribed to it (flood publish), who
    /// forward it through the mesh.
    ///
    /// Returns what became of the message ([`Publication`]): handed to gossipsub, or reaching
    /// nobody because no connected peer has announced its subscription to `topic` yet (also
    /// counted in [`NetworkStats::gossip_publish_no_peers`]; the message is not queued, so a
    /// caller that must reach the others retries), or already seen (the same bytes were
    /// published or received in the last 10 s: message ids are the SHA-256 of the payload).
    /// Fails with [`NetworkError::MessageTooLarge`] over `max_message_bytes` (counted as
    /// `gossip_dropped_oversized`), [`NetworkError::Publish`] when every peer queue is full, and
    /// [`NetworkError::Shutdown`].
    pub async fn publish(&self, topic: Topic, data: Vec<u8>) -> Result<Publication, NetworkError> {
        if data.len() > self.max_message_bytes {
            bump(&self.counters.gossip_dropped_oversized);
            tracing::warn!(
                size = data.len(),
                max = self.max_message_bytes,
                ?topic,
                "refusing to publish oversized message"
            );
            return Err(NetworkError::MessageTooLarge { size: data.len(), max: self.max_message_bytes });
        }
        self.call(|reply| Command::Publish { topic, data, reply }).await?
    }

    /// Asks `peer` for up to `max_blocks` blocks from `from_height` over the sync protocol.
    ///
    /// The peer must be connected ([`NetworkError::NotConnected`] otherwise; nothing is dialled).
    /// Fails with [`NetworkError::Timeout`] after [`SYNC_TIMEOUT`], with
    /// [`NetworkError::InvalidResponse`] for a frame over `max_message_bytes`, a malformed one, or
    /// more than `max_blocks` items (counted as `sync_responses_invalid`), and with
    /// [`NetworkError::RequestFailed`] when the connection drops. The items are returned as
    /// received: verifying them is the caller's job. An empty vector means the peer has nothing
    /// (or did not answer in time on its side).
    pub async fn request_blocks(
        &self,
        peer: PublicKey,
        from_height: u64,
        max_blocks: u32,
    ) -> Result<Vec<Vec<u8>>, NetworkError> {
        let call = self.call(|reply| Command::RequestBlocks { peer, from_height, max_blocks, reply });
        match tokio::time::timeout(SYNC_TIMEOUT + Duration::from_secs(2), call).await {
            Ok(result) => result?,
            Err(_) => Err(NetworkError::Timeout),
        }
    }

    /// The keys of the connected peers, as reported by [`NetworkEvent::PeerConnected`] (and not
    /// yet by [`NetworkEvent::PeerDisconnected`]).
    pub async fn connected_peers(&self) -> Result<Vec<PublicKey>, NetworkError> {
        self.call(|reply| Command::ConnectedPeers { reply }).await
    }

    /// The keys of the connected peers that have announced a subscription to `topic`: the peers a
    /// [`NetworkHandle::publish`] on it reaches directly. Connected is not yet subscribed: the
    /// subscription exchange follows the connection.
    pub async fn subscribed_peers(&self, topic: Topic) -> Result<Vec<PublicKey>, NetworkError> {
        self.call(|reply| Command::SubscribedPeers { topic, reply }).await
    }

    /// The bound TCP address (the real port when `listen` had port 0; the configured IP when it
    /// was unspecified, e.g. `0.0.0.0`).
    pub async fn listen_addr(&self) -> Result<SocketAddr, NetworkError> {
        self.call(|reply| Command::ListenAddr { reply }).await
    }

    /// The application's verdict on a gossip message (see [`GossipVerdict`]). Never waits: if the
    /// command queue is full the verdict is dropped and the message expires unforwarded.
    pub fn validated(&self, id: GossipId, verdict: GossipVerdict) {
        if self.commands.try_send(Command::Validated { id, verdict }).is_err() {
            tracing::debug!("gossip verdict dropped: command queue full or network stopped");
        }
    }

    /// Records that `peer` sent something invalid (bad signature, undecodable payload, ...).
    /// After `garbage_strikes_max` strikes the peer is disconnected, refused for [`STRIKE_BAN`]
    /// and its strikes reset; strikes also reset when it disconnects. Reports about peers that
    /// are not connected are counted but otherwise ignored.
    pub async fn report_invalid(&self, peer: PublicKey, reason: &'static str) {
        if self.commands.send(Command::ReportInvalid { peer, reason }).await.is_err() {
            tracing::debug!(%peer, reason, "report_invalid after shutdown");
        }
    }

    /// Blocks exactly `peers` (replacing the previous set; empty lifts every
    /// block): their connections are closed now, and refused and not dialled
    /// until a later call leaves them out. Peers no longer blocked are
    /// redialled at once. The partition tool of the fault tests
    /// (tests/tests/faults.rs), and the building block of an operator
    /// quarantine (not exposed in the configuration or the RPC yet).
    pub async fn set_blocked(&self, peers: Vec<PublicKey>) -> Result<(), NetworkError> {
        self.call(|reply| Command::SetBlocked { peers, reply }).await
    }

    /// Replaces the set of keys allowed to connect ([`NetworkConfig::allowed`]) while the network
    /// runs: when governance changes the validator set or registers an observer.
    ///
    /// From the moment this returns, newly allowed keys may connect (bootstrap peers among them
    /// are dialled at once), and every connection is checked against the new set: peers
    /// connected but no longer allowed are disconnected now ([`NetworkEvent::PeerDisconnected`])
    /// and refused afterwards (counted in [`NetworkStats::connections_refused_not_allowed`]).
    /// Blocks and strike bans still apply on top of the set. The set is replaced, not merged: pass
    /// every key that may connect. A key that is not an ed25519 curve point can never complete a
    /// handshake, so it is left out with a warning (at [`start`] it is a configuration error).
    /// Fails with [`NetworkError::InvalidConfig`] over [`MAX_ALLOWED_KEYS`] keys (nothing is
    /// changed then) and with [`NetworkError::Shutdown`].
    pub async fn set_allowed(&self, keys: Vec<PublicKey>) -> Result<(), NetworkError> {
        if keys.len() > MAX_ALLOWED_KEYS {
            return Err(NetworkError::InvalidConfig(format!(
                "{} allowed keys, over the limit of {MAX_ALLOWED_KEYS}",
                keys.len()
            )));
        }
        // Decoding a key checks its curve point: done here, not in the swarm task.
        let mut peers = HashSet::with_capacity(keys.len());
        for key in &keys {
            match peer_id_from_public_key(key) {
                Ok(peer) => {
                    peers.insert(peer);
                }
                Err(error) => tracing::warn!(%key, %error, "allowed key left out: not an ed25519 key"),
            }
        }
        self.call(|reply| Command::SetAllowed { peers, reply }).await
    }

    /// Stops the network task, closes the listener and every connection, and waits until the
    /// swarm is dropped. Idempotent; every later call on any clone fails with
    /// [`NetworkError::Shutdown`].
    pub async fn shutdown(&self) {
        let (done, wait) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// A snapshot of the counters (lock-free, usable after shutdown).
    pub fn stats(&self) -> NetworkStats {
        self.counters.snapshot()
    }

    /// This node's key (the public half of the seed given to [`start`]).
    pub fn local_key(&self) -> PublicKey {
        self.local_key
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    // First on purpose: it refuses connections before the other behaviours see them.
    gate: Gate,
    gossipsub: gossipsub::Behaviour,
    sync: request_response::Behaviour<SyncCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
}

fn gossipsub_config(max_message_bytes: usize) -> Result<gossipsub::Config, NetworkError> {
    gossipsub::ConfigBuilder::default()
        // Payloads are signed by their authors at the application layer: no gossipsub signatures,
        // no author, no sequence number, and content-addressed ids for deduplication.
        .validation_mode(ValidationMode::None)
        .message_id_fn(|message: &gossipsub::Message| MessageId::new(&Sha256::digest(&message.data)))
        // The loop accepts or rejects each message (size check) before gossipsub forwards it.
        .validate_messages()
        .max_transmit_size(max_message_bytes.saturating_add(GOSSIP_ENVELOPE_HEADROOM))
        .heartbeat_interval(GOSSIP_HEARTBEAT)
        .heartbeat_initial_delay(Duration::from_millis(100))
        .mesh_outbound_min(MESH_OUTBOUND_MIN)
        .mesh_n_low(MESH_N_LOW)
        .mesh_n(MESH_N)
        .mesh_n_high(MESH_N_HIGH)
        .duplicate_cache_time(DUPLICATE_CACHE_TIME)
        .history_length(GOSSIP_HISTORY_LENGTH)
        .history_gossip(GOSSIP_HISTORY_GOSSIP)
        .flood_publish(true)
        .build()
        .map_err(|e| NetworkError::InvalidConfig(format!("gossipsub: {e}")))
}

fn build_behaviour(
    key: &identity::Keypair,
    config: &NetworkConfig,
    allowed: HashSet<PeerId>,
    counters: Arc<Counters>,
) -> Result<Behaviour, NetworkError> {
    let mut gossipsub = gossipsub::Behaviour::new(
        MessageAuthenticity::Anonymous,
        gossipsub_config(config.max_message_bytes)?,
    )
    .map_err(|e| NetworkError::InvalidConfig(format!("gossipsub: {e}")))?;
    for topic in Topic::ALL {
        gossipsub
            .subscribe(&IdentTopic::new(topic.name(&config.chain_id)))
            .map_err(|e| NetworkError::InvalidConfig(format!("subscribe {topic:?}: {e:?}")))?;
    }
    let sync = request_response::Behaviour::with_codec(
        SyncCodec { max_response_bytes: config.max_message_bytes },
        [(codec::protocol(&config.chain_id)?, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(SYNC_TIMEOUT)
            .with_max_concurrent_streams(MAX_SYNC_STREAMS_PER_CONNECTION),
    );
    let identify = identify::Behaviour::new(
        identify::Config::new(identify_protocol(&config.chain_id), key.public())
            .with_agent_version(format!("keepsake/{}", env!("CARGO_PKG_VERSION"))),
    );
    Ok(Behaviour {
        gate: Gate::new(allowed, config.max_peers as usize, counters),
        gossipsub,
        sync,
        identify,
        ping: ping::Behaviour::new(ping::Config::new()),
    })
}

fn identify_protocol(chain_id: &str) -> String {
    format!("/keepsake/{chain_id}/1")
}

fn socket_to_multiaddr(addr: SocketAddr) -> Multiaddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) => Protocol::Ip4(ip),
        IpAddr::V6(ip) => Protocol::Ip6(ip),
    };
    Multiaddr::empty().with(ip).with(Protocol::Tcp(addr.port()))
}

fn multiaddr_to_socket(addr: &Multiaddr) -> Option<SocketAddr> {
    let mut parts = addr.iter();
    let ip = match parts.next()? {
        Protocol::Ip4(ip) => IpAddr::V4(ip),
        Protocol::Ip6(ip) => IpAddr::V6(ip),
        _ => return None,
    };
    match parts.next()? {
        Protocol::Tcp(port) => Some(SocketAddr::new(ip, port)),
        _ => None,
    }
}

/// Starts the network: derives the identity from `seed`, binds `config.listen`, subscribes to
/// both topics, dials the bootstrap peers and spawns the swarm task on the current tokio runtime.
///
/// Returns once the listener is bound. The receiver has capacity `max_pending_events`; the task
/// never waits for it (full means drop and count). Dropping every handle stops the task, as does
/// [`NetworkHandle::shutdown`].
pub async fn start(
    seed: [u8; 32],
    config: NetworkConfig,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
    config.validate()?;
    let keypair = identity_keypair(seed)?;
    let local_peer = keypair.public().to_peer_id();
    let local_key = public_key_from_peer_id(&local_peer)?;

    let mut allowed = HashSet::new();
    for key in &config.allowed {
        allowed.insert(peer_id_from_public_key(key)?);
    }
    let mut bootstrap: Vec<BootstrapPeer> = Vec::new();
    for (key, addr) in &config.bootstrap {
        let peer = peer_id_from_public_key(key)?;
        if peer == local_peer || bootstrap.iter().any(|b| b.peer == peer) {
            continue;
        }
        if !allowed.contains(&peer) {
            // Kept: a later `set_allowed` may admit it, and then it is dialled.
            tracing::warn!(peer = %key, %addr, "bootstrap peer is not in the allow-list; not dialling it until it is allowed");
        }
        bootstrap.push(BootstrapPeer {
            peer,
            addr: socket_to_multiaddr(*addr),
            next_attempt: Instant::now(),
            backoff: REDIAL_BACKOFF_MIN,
        });
    }

    let counters = Arc::new(Counters::default());
    let behaviour = build_behaviour(&keypair, &config, allowed, counters.clone())?;
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
        .map_err(|e| NetworkError::InvalidIdentity(format!("noise: {e}")))?
        .with_behaviour(|_| behaviour)
        .map_err(|never| match never {})?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();

    swarm.listen_on(socket_to_multiaddr(config.listen)).map_err(|e| NetworkError::Listen(e.to_string()))?;
    let bound = tokio::time::timeout(LISTEN_TIMEOUT, async {
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    return multiaddr_to_socket(&address)
                        .ok_or_else(|| NetworkError::Listen(format!("unexpected listen address {address}")));
                }
                SwarmEvent::ListenerClosed { reason, .. } => {
                    return Err(NetworkError::Listen(format!("listener closed: {reason:?}")));
                }
                SwarmEvent::ListenerError { error, .. } => {
                    return Err(NetworkError::Listen(error.to_string()));
                }
                other => tracing::trace!(?other, "swarm event before listening"),
            }
        }
    })
    .await
    .map_err(|_| NetworkError::Listen("no listen address reported".into()))??;
    let listen_addr = if config.listen.ip().is_unspecified() {
        SocketAddr::new(config.listen.ip(), bound.port())
    } else {
        bound
    };
    tracing::info!(key = %local_key, %listen_addr, chain = %config.chain_id, "network listening");

    let (commands_tx, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(config.max_pending_events);
    let topics = Topic::ALL.map(|t| (t, IdentTopic::new(t.name(&config.chain_id)).hash()));
    let event_loop = EventLoop {
        swarm,
        commands: commands_rx,
        events: events_tx,
        counters: counters.clone(),
        max_message_bytes: config.max_message_bytes,
        garbage_strikes_max: config.garbage_strikes_max,
        identify_protocol: identify_protocol(&config.chain_id),
        listen_addr,
        topics,
        outbound: HashMap::new(),
        replies: FuturesUnordered::new(),
        strikes: HashMap::new(),
        bootstrap,
        announced: HashSet::new(),
        peer_keys: HashMap::new(),
    };
    tokio::spawn(event_loop.run());
    let handle = NetworkHandle {
        commands: commands_tx,
        counters,
        local_key,
        max_message_bytes: config.max_message_bytes,
    };
    Ok((handle, events_rx))
}

struct BootstrapPeer {
    peer: PeerId,
    addr: Multiaddr,
    next_attempt: Instant,
    backoff: Duration,
}

type OutboundReply = oneshot::Sender<Result<Vec<Vec<u8>>, NetworkError>>;
type PendingReply = BoxFuture<'static, (ResponseChannel<Vec<Vec<u8>>>, u32, Vec<Vec<u8>>)>;

struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    counters: Arc<Counters>,
    max_message_bytes: usize,
    garbage_strikes_max: u32,
    identify_protocol: String,
    listen_addr: SocketAddr,
    topics: [(Topic, TopicHash); 2],
    /// Our sync requests in flight: the `max_blocks` asked for and where the answer goes.
    outbound: HashMap<OutboundRequestId, (u32, OutboundReply)>,
    /// Inbound sync requests waiting for the application's [`SyncReply`].
    replies: FuturesUnordered<PendingReply>,
    strikes: HashMap<PeerId, u32>,
    bootstrap: Vec<BootstrapPeer>,
    /// Peers reported by `PeerConnected`: connected, and proven to have accepted us.
    announced: HashSet<PeerId>,
    /// Keys of peers seen on gossip (decoding a peer id checks the curve
    /// point: too slow for every message of a burst). Bounded by [`PEER_KEYS_MAX`].
    peer_keys: HashMap<PeerId, PublicKey>,
}

/// Most entries of [`EventLoop::peer_keys`] (cleared when full).
const PEER_KEYS_MAX: usize = 1024;

fn key_of(peer: &PeerId) -> Option<PublicKey> {
    // Every connected peer passed the gate, hence has an ed25519 key; be defensive anyway.
    public_key_from_peer_id(peer).ok()
}

impl EventLoop {
    /// [`key_of`], remembered per peer (the hot path of gossip).
    fn gossip_key(&mut self, peer: &PeerId) -> Option<PublicKey> {
        if let Some(key) = self.peer_keys.get(peer) {
            return Some(*key);
        }
        let key = key_of(peer)?;
        if self.peer_keys.len() >= PEER_KEYS_MAX {
            self.peer_keys.clear();
        }
        self.peer_keys.insert(*peer, key);
        Some(key)
    }

    async fn run(mut self) {
        let mut redial = tokio::time::interval(REDIAL_TICK);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let done = loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(command) => {
                        if let ControlFlow::Break(done) = self.on_command(command) {
                            break Some(done);
                        }
                    }
                    // Every handle is gone.
                    None => break None,
                },
                Some((channel, max_blocks, items)) = self.replies.next(), if !self.replies.is_empty() => {
                    self.send_sync_response(channel, max_blocks, items);
                }
                _ = redial.tick() => self.redial(),
            }
        };
        tracing::info!("network shutting down");
        for (_, (_, reply)) in self.outbound.drain() {
            let _ = reply.send(Err(NetworkError::Shutdown));
        }
        let counters = self.counters.clone();
        drop(self); // drops the swarm: listener and connections close
        counters.peers_connected.store(0, std::sync::atomic::Ordering::Relaxed);
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Hands an event to the node without ever waiting: a full channel drops it.
    fn emit(&self, event: NetworkEvent) {
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(TrySendError::Full(event)) => {
                let dropped =
                    self.counters.events_dropped_full.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let peer_event =
                    matches!(event, NetworkEvent::PeerConnected(_) | NetworkEvent::PeerDisconnected(_));
                if peer_event || dropped.is_power_of_two() {
                    tracing::warn!(dropped_total = dropped, ?event, "event channel full, event dropped");
                }
            }
            Err(TrySendError::Closed(_)) => tracing::trace!("event receiver dropped"),
        }
    }

    fn update_peer_count(&self) {
        let n = self.announced.len() as u64;
        self.counters.peers_connected.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reports `peer` as connected the first time it shows it accepted the connection.
    fn announce(&mut self, peer: PeerId, proof: &'static str) {
        if !self.swarm.is_connected(&peer) || self.announced.contains(&peer) {
            return;
        }
        let Some(key) = key_of(&peer) else {
            return;
        };
        self.announced.insert(peer);
        self.update_peer_count();
        tracing::info!(peer = %key, proof, "peer connected");
        self.emit(NetworkEvent::PeerConnected(key));
    }

    fn topic_of(&self, hash: &TopicHash) -> Option<Topic> {
        self.topics.iter().find(|(_, h)| h == hash).map(|(t, _)| *t)
    }

    fn topic_hash(&self, topic: Topic) -> TopicHash {
        match self.topics.iter().find(|(t, _)| *t == topic) {
            Some((_, hash)) => hash.clone(),
            None => TopicHash::from_raw(String::new()), // unreachable: topics holds Topic::ALL
        }
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_sync(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.on_identify(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => {
                if let Err(error) = event.result {
                    tracing::debug!(peer = %event.peer, %error, "ping failed");
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Gate(never)) => match never {},
            SwarmEvent::ConnectionEstablished { peer_id, num_established, endpoint, .. } => {
                if let Some(b) = self.bootstrap.iter_mut().find(|b| b.peer == peer_id) {
                    b.backoff = REDIAL_BACKOFF_MIN;
                }
                tracing::debug!(
                    peer = ?key_of(&peer_id),
                    addr = %endpoint.get_remote_address(),
                    connections = num_established.get(),
                    "connection established"
                );
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, cause, .. } => {
                if num_established == 0 {
                    self.strikes.remove(&peer_id);
                    if self.announced.remove(&peer_id) {
                        self.update_peer_count();
                        if let Some(key) = key_of(&peer_id) {
                            tracing::info!(peer = %key, cause = ?cause, "peer disconnected");
                            self.emit(NetworkEvent::PeerDisconnected(key));
                        }
                    } else {
                        tracing::debug!(peer = ?key_of(&peer_id), cause = ?cause, "connection closed before the peer accepted us");
                    }
                }
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                // Refusals by the gate are already logged there.
                tracing::debug!(addr = %send_back_addr, %error, "inbound connection failed");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id.as_ref().and_then(key_of), %error, "dial failed");
            }
            SwarmEvent::ListenerClosed { reason, .. } => tracing::error!(?reason, "listener closed"),
            SwarmEvent::ListenerError { error, .. } => tracing::error!(%error, "listener error"),
            other => tracing::trace!(?other, "swarm event"),
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message { propagation_source, message_id, message } => {
                let size = message.data.len();
                let topic = self.topic_of(&message.topic);
                let acceptance = if size > self.max_message_bytes {
                    bump(&self.counters.gossip_dropped_oversized);
                    tracing::warn!(size, max = self.max_message_bytes, from = ?key_of(&propagation_source), "oversized gossip dropped");
                    MessageAcceptance::Reject
                } else if topic.is_none() {
                    MessageAcceptance::Ignore
                } else {
                    // Pending: forwarded only once the application accepts it (`validated`).
                    MessageAcceptance::Accept
                };
                let (Some(topic), MessageAcceptance::Accept) = (topic, acceptance) else {
                    self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                        &message_id,
                        &propagation_source,
                        acceptance,
                    );
                    return;
                };
                bump(&self.counters.gossip_received);
                if let Some(from) = self.gossip_key(&propagation_source) {
                    let id = GossipId { message_id, source: propagation_source };
                    self.emit(NetworkEvent::Gossip { id, from, topic, data: message.data });
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic, .. } => {
                tracing::debug!(peer = ?key_of(&peer_id), %topic, "peer subscribed");
                self.announce(peer_id, "gossipsub subscription");
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::warn!(peer = ?key_of(&peer_id), "peer does not speak gossipsub");
            }
            gossipsub::Event::SlowPeer { peer_id, failed_messages } => {
                tracing::warn!(peer = ?key_of(&peer_id), ?failed_messages, "slow peer: gossip messages dropped");
            }
            other => tracing::trace!(?other, "gossipsub event"),
        }
    }

    fn on_identify(&mut self, event: identify::Event) {
        match event {
            identify::Event::Received { peer_id, info, .. } => {
                if info.protocol_version != self.identify_protocol {
                    tracing::warn!(
                        peer = ?key_of(&peer_id),
                        theirs = %info.protocol_version,
                        ours = %self.identify_protocol,
                        "peer runs another chain or protocol version"
                    );
                } else {
                    tracing::debug!(peer = ?key_of(&peer_id), agent = %info.agent_version, "identified peer");
                }
                self.announce(peer_id, "identify");
            }
            other => tracing::trace!(?other, "identify event"),
        }
    }

    fn on_sync(&mut self, event: request_response::Event<SyncRequest, Vec<Vec<u8>>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.on_sync_request(peer, request, channel);
                }
                request_response::Message::Response { request_id, response } => {
                    let Some((max_blocks, reply)) = self.outbound.remove(&request_id) else {
                        return;
                    };
                    let result = if response.len() as u64 > u64::from(max_blocks) {
                        bump(&self.counters.sync_responses_invalid);
                        tracing::warn!(peer = ?key_of(&peer), got = response.len(), max_blocks, "sync response with too many blocks");
                        Err(NetworkError::InvalidResponse(format!(
                            "{} blocks, asked for at most {max_blocks}",
                            response.len()
                        )))
                    } else {
                        Ok(response)
                    };
                    let _ = reply.send(result);
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                let error = match error {
                    OutboundFailure::Timeout => NetworkError::Timeout,
                    OutboundFailure::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        bump(&self.counters.sync_responses_invalid);
                        tracing::warn!(peer = ?key_of(&peer), error = %e, "invalid sync response");
                        NetworkError::InvalidResponse(e.to_string())
                    }
                    other => NetworkError::RequestFailed(other.to_string()),
                };
                tracing::debug!(peer = ?key_of(&peer), %error, "sync request failed");
                if let Some((_, reply)) = self.outbound.remove(&request_id) {
                    let _ = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(peer = ?key_of(&peer), %error, "inbound sync request failed");
            }
            request_response::Event::ResponseSent { .. } => bump(&self.counters.sync_requests_served),
        }
    }

    fn on_sync_request(
        &mut self,
        peer: PeerId,
        request: SyncRequest,
        channel: ResponseChannel<Vec<Vec<u8>>>,
    ) {
        let Some(from) = key_of(&peer) else {
            return;
        };
        if self.replies.len() >= MAX_PENDING_SYNC_REPLIES {
            // Dropping the channel closes the stream without an answer.
            tracing::warn!(peer = %from, "too many sync requests pending; refusing one");
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.emit(NetworkEvent::SyncRequest {
            from,
            from_height: request.from_height,
            max_blocks: request.max_blocks,
            reply: SyncReply { tx },
        });
        // If the event was dropped (full channel) the reply is dropped too and this resolves at
        // once with an empty answer.
        self.replies.push(Box::pin(async move {
            let items = match tokio::time::timeout(SYNC_TIMEOUT, rx).await {
                Ok(Ok(items)) => items,
                _ => Vec::new(),
            };
            (channel, request.max_blocks, items)
        }));
    }

    fn send_sync_response(
        &mut self,
        channel: ResponseChannel<Vec<Vec<u8>>>,
        max_blocks: u32,
        items: Vec<Vec<u8>>,
    ) {
        let offered = items.len();
        let items = fit_response(items, max_blocks, self.max_message_bytes);
        if items.len() < offered {
            tracing::debug!(
                offered,
                sent = items.len(),
                "sync response trimmed to max_blocks / max_message_bytes"
            );
        }
        if self.swarm.behaviour_mut().sync.send_response(channel, items).is_err() {
            tracing::debug!("sync requester gone before the response");
        }
    }

    fn on_command(&mut self, command: Command) -> ControlFlow<oneshot::Sender<()>> {
        match command {
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish(topic, data));
            }
            Command::RequestBlocks { peer, from_height, max_blocks, reply } => {
                let peer_id = match peer_id_from_public_key(&peer) {
                    Ok(id) if self.swarm.is_connected(&id) => id,
                    _ => {
                        let _ = reply.send(Err(NetworkError::NotConnected(peer)));
                        return ControlFlow::Continue(());
                    }
                };
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer_id, SyncRequest { from_height, max_blocks });
                self.outbound.insert(id, (max_blocks, reply));
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.announced.iter().filter_map(key_of).collect());
            }
            Command::SubscribedPeers { topic, reply } => {
                let hash = self.topic_hash(topic);
                let peers = self.swarm.behaviour().gossipsub.all_peers();
                let subscribed = peers.filter(|(_, topics)| topics.contains(&&hash)).map(|(p, _)| p);
                let _ = reply.send(subscribed.filter_map(key_of).collect());
            }
            Command::ListenAddr { reply } => {
                let _ = reply.send(self.listen_addr);
            }
            Command::ReportInvalid { peer, reason } => self.report_invalid(peer, reason),
            Command::Validated { id, verdict } => {
                let acceptance = match verdict {
                    GossipVerdict::Accept => MessageAcceptance::Accept,
                    GossipVerdict::Ignore => MessageAcceptance::Ignore,
                    GossipVerdict::Reject(_) => MessageAcceptance::Reject,
                };
                self.swarm.behaviour_mut().gossipsub.report_message_validation_result(
                    &id.message_id,
                    &id.source,
                    acceptance,
                );
                if let (GossipVerdict::Reject(reason), Some(peer)) = (verdict, key_of(&id.source)) {
                    self.report_invalid(peer, reason);
                }
            }
            Command::SetBlocked { peers, reply } => {
                let blocked: HashSet<PeerId> =
                    peers.iter().filter_map(|k| peer_id_from_public_key(k).ok()).collect();
                for peer in &blocked {
                    let _ = self.swarm.disconnect_peer_id(*peer);
                }
                let now = Instant::now();
                for b in &mut self.bootstrap {
                    if !blocked.contains(&b.peer) && self.swarm.behaviour_mut().gate.is_blocked(&b.peer) {
                        b.next_attempt = now;
                        b.backoff = REDIAL_BACKOFF_MIN;
                    }
                }
                tracing::info!(peers = blocked.len(), "blocked peers set");
                self.swarm.behaviour_mut().gate.set_blocked(blocked);
                let _ = reply.send(());
            }
            Command::SetAllowed { peers, reply } => {
                self.set_allowed(peers);
                let _ = reply.send(());
            }
            Command::Shutdown { done } => return ControlFlow::Break(done),
        }
        ControlFlow::Continue(())
    }

    /// See [`NetworkHandle::set_allowed`].
    fn set_allowed(&mut self, allowed: HashSet<PeerId>) {
        let now = Instant::now();
        let gate = &self.swarm.behaviour().gate;
        for b in &mut self.bootstrap {
            if allowed.contains(&b.peer) && !gate.is_allowed(&b.peer) {
                b.next_attempt = now;
                b.backoff = REDIAL_BACKOFF_MIN;
            }
        }
        let removed: Vec<PeerId> =
            self.swarm.connected_peers().filter(|p| !allowed.contains(p)).copied().collect();
        tracing::info!(allowed = allowed.len(), disconnecting = removed.len(), "allowed peers set");
        self.swarm.behaviour_mut().gate.set_allowed(allowed);
        for peer in removed {
            tracing::info!(peer = ?key_of(&peer), "disconnecting a peer that is no longer allowed");
            let _ = self.swarm.disconnect_peer_id(peer);
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) -> Result<Publication, NetworkError> {
        if data.len() > self.max_message_bytes {
            bump(&self.counters.gossip_dropped_oversized);
            return Err(NetworkError::MessageTooLarge { size: data.len(), max: self.max_message_bytes });
        }
        let size = data.len();
        let hash = self.topic_hash(topic);
        match self.swarm.behaviour_mut().gossipsub.publish(hash, data) {
            Ok(_) => {
                bump(&self.counters.gossip_published);
                Ok(Publication::Sent)
            }
            Err(PublishError::NoPeersSubscribedToTopic) => {
                bump(&self.counters.gossip_publish_no_peers);
                tracing::debug!(?topic, size, "published to nobody: no peer subscribed yet");
                Ok(Publication::NoSubscribedPeers)
            }
            Err(PublishError::Duplicate) => {
                tracing::debug!(?topic, size, "message already seen; not published again");
                Ok(Publication::AlreadySeen)
            }
            Err(PublishError::MessageTooLarge) => {
                bump(&self.counters.gossip_dropped_oversized);
                Err(NetworkError::MessageTooLarge { size, max: self.max_message_bytes })
            }
            Err(error) => {
                tracing::warn!(?topic, size, %error, "publish failed");
                Err(NetworkError::Publish(error.to_string()))
            }
        }
    }

    fn report_invalid(&mut self, peer: PublicKey, reason: &'static str) {
        bump(&self.counters.gossip_invalid_reported);
        let peer_id = match peer_id_from_public_key(&peer) {
            Ok(id) if self.swarm.is_connected(&id) => id,
            _ => {
                tracing::debug!(%peer, reason, "invalid message reported for a peer that is not connected");
                return;
            }
        };
        let strikes = self.strikes.entry(peer_id).or_default();
        *strikes += 1;
        let count = *strikes;
        tracing::debug!(%peer, reason, strikes = count, "invalid message reported");
        if count >= self.garbage_strikes_max {
            self.strikes.remove(&peer_id);
            tracing::warn!(%peer, reason, strikes = count, ban = ?STRIKE_BAN, "disconnecting peer after too many invalid messages");
            self.swarm.behaviour_mut().gate.ban(peer_id, Instant::now() + STRIKE_BAN);
            let _ = self.swarm.disconnect_peer_id(peer_id);
        }
    }

    fn redial(&mut self) {
        let now = Instant::now();
        for b in &mut self.bootstrap {
            if self.swarm.is_connected(&b.peer) || now < b.next_attempt {
                continue;
            }
            let gate = &mut self.swarm.behaviour_mut().gate;
            if !gate.is_allowed(&b.peer) || gate.is_blocked(&b.peer) || gate.is_banned(&b.peer) {
                continue;
            }
            let opts = DialOpts::peer_id(b.peer)
                .addresses(vec![b.addr.clone()])
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(error) = self.swarm.dial(opts) {
                tracing::trace!(peer = ?key_of(&b.peer), %error, "dial not started");
            }
            b.next_attempt = now + b.backoff;
            b.backoff = (b.backoff * 2).min(REDIAL_BACKOFF_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gossipsub_parameters_are_accepted() {
        let config = gossipsub_config(8 << 20).unwrap();
        assert_eq!(config.mesh_n(), MESH_N);
        assert_eq!(config.max_transmit_size(), (8 << 20) + GOSSIP_ENVELOPE_HEADROOM);
        assert_eq!(config.duplicate_cache_time(), DUPLICATE_CACHE_TIME);
        assert_eq!(config.history_length(), GOSSIP_HISTORY_LENGTH);
    }

    #[test]
    fn gossip_caches_are_bounded_by_short_windows() {
        let config = gossipsub_config(8 << 20).unwrap();
        // Whole messages are held for the message-cache window only: a few heartbeats.
        let message_window = GOSSIP_HEARTBEAT * config.history_length() as u32;
        assert!(message_window <= Duration::from_secs(2), "{message_window:?}");
        assert!(config.history_gossip() <= config.history_length());
        // Ids outlive every copy that gossip can still offer (plus the IWANT follow-up)...
        assert!(config.duplicate_cache_time() >= message_window + config.iwant_followup_time());
        // ...but not by minutes: the id cache is the gossip rate times this window.
        assert!(config.duplicate_cache_time() <= Duration::from_secs(10));
    }

    #[test]
    fn socket_multiaddr_round_trip() {
        for text in ["127.0.0.1:4001", "[::1]:9"] {
            let addr: SocketAddr = text.parse().unwrap();
            assert_eq!(multiaddr_to_socket(&socket_to_multiaddr(addr)), Some(addr));
        }
    }
}
