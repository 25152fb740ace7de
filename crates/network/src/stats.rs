//! Counters shared by the swarm loop and every [`crate::NetworkHandle`].

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the network counters ([`crate::NetworkHandle::stats`]). All are totals since
/// start, except `peers_connected`, which is the current number of connected peers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Distinct peers currently connected.
    pub peers_connected: u64,
    /// Gossip messages received and accepted (before the event channel; see `events_dropped_full`).
    pub gossip_received: u64,
    /// Gossip messages over `max_message_bytes`: received and dropped, or refused by `publish`.
    pub gossip_dropped_oversized: u64,
    /// Calls to [`crate::NetworkHandle::report_invalid`].
    pub gossip_invalid_reported: u64,
    /// Connections refused because the remote key is not in `allowed`.
    pub connections_refused_not_allowed: u64,
    /// Connections refused because `max_peers` distinct peers were already connected (or too many
    /// connections to one peer, or too many handshakes in flight).
    pub connections_refused_max_peers: u64,
    /// Connections refused because the peer is in its strike cool-down after `report_invalid`.
    pub connections_refused_banned: u64,
    /// Sync responses sent to peers.
    pub sync_requests_served: u64,
    /// Sync responses from peers that were invalid (bad frame, oversized, too many blocks).
    pub sync_responses_invalid: u64,
    /// Events dropped because the event channel was full.
    pub events_dropped_full: u64,
    /// Messages handed to gossipsub by `publish` with at least one subscribed peer.
    pub gossip_published: u64,
    /// `publish` calls that reached nobody (no peer subscribed yet); they return `Ok`.
    pub gossip_publish_no_peers: u64,
}

#[derive(Default, Debug)]
pub(crate) struct Counters {
    pub peers_connected: AtomicU64,
    pub gossip_received: AtomicU64,
    pub gossip_dropped_oversized: AtomicU64,
    pub gossip_invalid_reported: AtomicU64,
    pub connections_refused_not_allowed: AtomicU64,
    pub connections_refused_max_peers: AtomicU64,
    pub connections_refused_banned: AtomicU64,
    pub sync_requests_served: AtomicU64,
    pub sync_responses_invalid: AtomicU64,
    pub events_dropped_full: AtomicU64,
    pub gossip_published: AtomicU64,
    pub gossip_publish_no_peers: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self) -> NetworkStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NetworkStats {
            peers_connected: get(&self.peers_connected),
            gossip_received: get(&self.gossip_received),
            gossip_dropped_oversized: get(&self.gossip_dropped_oversized),
            gossip_invalid_reported: get(&self.gossip_invalid_reported),
            connections_refused_not_allowed: get(&self.connections_refused_not_allowed),
            connections_refused_max_peers: get(&self.connections_refused_max_peers),
            connections_refused_banned: get(&self.connections_refused_banned),
            sync_requests_served: get(&self.sync_requests_served),
            sync_responses_invalid: get(&self.sync_responses_invalid),
            events_dropped_full: get(&self.events_dropped_full),
            gossip_published: get(&self.gossip_published),
            gossip_publish_no_peers: get(&self.gossip_publish_no_peers),
        }
    }
}
