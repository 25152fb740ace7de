//! # keepsake-network
//!
//! Networking between Keepsake validators on libp2p: TCP + Noise + Yamux, gossipsub for
//! transactions and consensus messages, a request-response protocol for block sync, identify and
//! ping, and a permissioned connection gate.
//!
//! A guided tour:
//! - [`start`] takes the node's 32-byte seed (the same seed as
//!   [`keepsake_types::Keypair::from_seed`]) and a [`NetworkConfig`], binds the listener, spawns
//!   the single swarm task and returns a [`NetworkHandle`] plus the receiver of
//!   [`NetworkEvent`]s.
//! - [`NetworkHandle`] is cloneable; each method is a command to the swarm task with a oneshot
//!   reply: [`NetworkHandle::publish`] on a [`Topic`], [`NetworkHandle::request_blocks`],
//!   [`NetworkHandle::report_invalid`], [`NetworkHandle::set_allowed`],
//!   [`NetworkHandle::shutdown`]; [`NetworkHandle::stats`]
//!   reads atomic counters ([`NetworkStats`]).
//! - [`NetworkEvent`] carries gossip, sync requests (answered through [`SyncReply`]) and peer
//!   connections. The channel is bounded and the swarm never waits for it: when full, events are
//!   dropped and counted.
//! - [`keys`] converts between Keepsake [`keepsake_types::PublicKey`]s and libp2p `PeerId`s (1:1
//!   for ed25519).
//!
//! Properties the caller relies on:
//! - **Permissioned.** Only keys in [`NetworkConfig::allowed`] (replaced at run time by
//!   [`NetworkHandle::set_allowed`], which disconnects peers left out) may connect, at most
//!   [`NetworkConfig::max_peers`] of them. Other connections are refused right after the Noise
//!   handshake authenticates the remote key and before any protocol runs on the connection; they
//!   are logged and counted. [`NetworkEvent::PeerConnected`] is emitted only once the remote has
//!   shown it accepted us too, so neither side of a refused connection reports it.
//! - **Unsigned, content-addressed gossip.** Payloads are signed by the application, so gossipsub
//!   signs nothing and message ids are SHA-256 of the payload: identical bytes are delivered once.
//!   The application must verify every payload and may [`NetworkHandle::report_invalid`] the
//!   forwarding peer. A node does not receive its own publications.
//! - **Bounded.** Gossip payloads and sync responses are limited to
//!   [`NetworkConfig::max_message_bytes`]; the sync reader refuses larger frames from the length
//!   prefix, before allocating. All channels are bounded.
//! - **Self-healing links.** Bootstrap peers are dialled at start and redialled every 0.5–2 s
//!   while disconnected.

#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

mod codec;
mod config;
mod error;
mod gate;
pub mod keys;
mod service;
mod stats;

pub use config::{
    DEFAULT_GARBAGE_STRIKES_MAX, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_PEERS, DEFAULT_MAX_PENDING_EVENTS,
    MAX_ALLOWED_KEYS, MAX_MESSAGE_BYTES, MIN_MESSAGE_BYTES, NetworkConfig, Topic,
};
pub use error::NetworkError;
pub use keys::{identity_keypair, peer_id_from_public_key, public_key_from_peer_id};
pub use service::{
    GOSSIP_HEARTBEAT, GossipId, GossipVerdict, IDLE_CONNECTION_TIMEOUT, NetworkEvent, NetworkHandle,
    Publication, STRIKE_BAN, SYNC_TIMEOUT, SyncReply, start,
};
pub use stats::NetworkStats;

/// The libp2p `PeerId` type, re-exported for callers of the [`keys`] conversions.
pub use libp2p::PeerId;
