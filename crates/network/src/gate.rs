//! The permission gate: a connection-management behaviour that refuses connections.
//!
//! libp2p learns a remote's key from the Noise handshake, so the earliest point a key can be
//! checked is right after it: the swarm asks every behaviour to accept the authenticated
//! connection (`handle_established_*_connection`) before any protocol (gossipsub, sync, identify,
//! ping) runs on it or sees it. [`Gate`] is the first behaviour and refuses there; the refused
//! connection is closed and never produces `ConnectionEstablished` (hence no `PeerConnected`).
//! Dials to a known peer id are refused before any TCP connection is opened. Inbound handshakes
//! in flight are capped as well, so unauthenticated sockets cannot pile up.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::core::transport::PortUse;
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::swarm::{
    ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent,
    ToSwarm, dummy,
};

use crate::keys::public_key_from_peer_id;
use crate::stats::{Counters, bump};

/// Connections to one peer beyond this are refused (two happen when both sides dial at once).
const MAX_CONNECTIONS_PER_PEER: usize = 2;
/// Refusals of one peer are logged at `warn` at most this often (then at `debug`).
const WARN_EVERY: Duration = Duration::from_secs(30);
/// Size at which the warn-rate map is reset (it is keyed by unauthenticated keys).
const WARN_MAP_MAX: usize = 1024;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("key not in the allow-list")]
    NotAllowed,
    #[error("peer limit reached")]
    TooManyPeers,
    #[error("too many connections to this peer")]
    TooManyConnections,
    #[error("too many inbound handshakes in flight")]
    TooManyPending,
    #[error("peer is cooling down after too many invalid messages")]
    Banned,
    #[error("peer is blocked by this node's operator")]
    Blocked,
}

/// The connection gate. See the module documentation.
pub(crate) struct Gate {
    allowed: HashSet<PeerId>,
    max_peers: usize,
    max_pending_inbound: usize,
    established: HashMap<PeerId, usize>,
    pending_inbound: HashSet<ConnectionId>,
    banned: HashMap<PeerId, Instant>,
    /// Refused until the operator lifts it ([`Gate::set_blocked`]).
    blocked: HashSet<PeerId>,
    warned: HashMap<PeerId, Instant>,
    counters: Arc<Counters>,
}

fn describe(peer: &PeerId) -> String {
    match public_key_from_peer_id(peer) {
        Ok(key) => key.to_hex(),
        Err(_) => peer.to_base58(),
    }
}

impl Gate {
    pub fn new(allowed: HashSet<PeerId>, max_peers: usize, counters: Arc<Counters>) -> Self {
        Self {
            allowed,
            max_peers,
            max_pending_inbound: max_peers.max(16),
            established: HashMap::new(),
            pending_inbound: HashSet::new(),
            banned: HashMap::new(),
            blocked: HashSet::new(),
            warned: HashMap::new(),
            counters,
        }
    }

    /// Replaces the allowed set: connections of peers outside it are refused
    /// from now on (the caller disconnects those already connected).
    pub fn set_allowed(&mut self, allowed: HashSet<PeerId>) {
        self.allowed = allowed;
    }

    /// Whether `peer` is in the allowed set.
    pub fn is_allowed(&self, peer: &PeerId) -> bool {
        self.allowed.contains(peer)
    }

    /// Refuses connections of `peer` until `until`.
    pub fn ban(&mut self, peer: PeerId, until: Instant) {
        self.banned.insert(peer, until);
    }

    /// Replaces the set of blocked peers: their connections are refused
    /// until a later call leaves them out.
    pub fn set_blocked(&mut self, peers: HashSet<PeerId>) {
        self.blocked = peers;
    }

    /// Whether `peer` is blocked by the operator.
    pub fn is_blocked(&self, peer: &PeerId) -> bool {
        self.blocked.contains(peer)
    }

    /// Whether `peer` is in a cool-down (expired entries are removed).
    pub fn is_banned(&mut self, peer: &PeerId) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                self.banned.remove(peer);
                false
            }
            None => false,
        }
    }

    fn verdict(&mut self, peer: &PeerId) -> Option<Refusal> {
        if !self.allowed.contains(peer) {
            return Some(Refusal::NotAllowed);
        }
        if self.blocked.contains(peer) {
            return Some(Refusal::Blocked);
        }
        if self.is_banned(peer) {
            return Some(Refusal::Banned);
        }
        let existing = self.established.get(peer).copied().unwrap_or(0);
        if existing == 0 && self.established.len() >= self.max_peers {
            return Some(Refusal::TooManyPeers);
        }
        if existing >= MAX_CONNECTIONS_PER_PEER {
            return Some(Refusal::TooManyConnections);
        }
        None
    }

    fn check(
        &mut self,
        peer: &PeerId,
        direction: &'static str,
        addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let Some(refusal) = self.verdict(peer) else {
            return Ok(());
        };
        match refusal {
            Refusal::NotAllowed => bump(&self.counters.connections_refused_not_allowed),
            Refusal::Banned | Refusal::Blocked => bump(&self.counters.connections_refused_banned),
            Refusal::TooManyPeers | Refusal::TooManyConnections | Refusal::TooManyPending => {
                bump(&self.counters.connections_refused_max_peers)
            }
        }
        let now = Instant::now();
        let loud = match self.warned.get(peer) {
            Some(last) => now.duration_since(*last) >= WARN_EVERY,
            None => true,
        };
        // Duplicate connections from simultaneous dials are routine, not worth a warning.
        if loud && refusal != Refusal::TooManyConnections {
            if self.warned.len() >= WARN_MAP_MAX {
                self.warned.clear();
            }
            self.warned.insert(*peer, now);
            tracing::warn!(peer = %describe(peer), %addr, direction, reason = %refusal, "connection refused");
        } else {
            tracing::debug!(peer = %describe(peer), %addr, direction, reason = %refusal, "connection refused");
        }
        Err(ConnectionDenied::new(refusal))
    }
}

impl NetworkBehaviour for Gate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        if self.pending_inbound.len() >= self.max_pending_inbound {
            bump(&self.counters.connections_refused_max_peers);
            tracing::debug!(%remote_addr, "inbound connection refused: too many handshakes in flight");
            return Err(ConnectionDenied::new(Refusal::TooManyPending));
        }
        self.pending_inbound.insert(connection_id);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        peer: PeerId,
        _local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.pending_inbound.remove(&connection_id);
        self.check(&peer, "inbound", remote_addr)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_pending_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        maybe_peer: Option<PeerId>,
        addresses: &[Multiaddr],
        _effective_role: Endpoint,
    ) -> Result<Vec<Multiaddr>, ConnectionDenied> {
        if let Some(peer) = maybe_peer {
            let addr = addresses.first().cloned().unwrap_or_else(Multiaddr::empty);
            self.check(&peer, "outbound", &addr)?;
        }
        Ok(Vec::new())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer, "outbound", addr)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(e) => {
                self.pending_inbound.remove(&e.connection_id);
                *self.established.entry(e.peer_id).or_default() += 1;
            }
            FromSwarm::ConnectionClosed(e) => {
                if let Some(n) = self.established.get_mut(&e.peer_id) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.established.remove(&e.peer_id);
                    }
                }
            }
            FromSwarm::ListenFailure(f) => {
                self.pending_inbound.remove(&f.connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(&mut self, _: PeerId, _: ConnectionId, event: THandlerOutEvent<Self>) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}
