//! Topics and the network configuration.

use std::net::SocketAddr;

use keepsake_types::PublicKey;

use crate::NetworkError;

/// Default gossip and sync frame limit: 8 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 8 * 1024 * 1024;
/// Default cap on distinct connected peers.
pub const DEFAULT_MAX_PEERS: u32 = 50;
/// Default capacity of the [`crate::NetworkEvent`] channel.
pub const DEFAULT_MAX_PENDING_EVENTS: usize = 10_000;
/// Default number of [`crate::NetworkHandle::report_invalid`] strikes before a disconnect.
pub const DEFAULT_GARBAGE_STRIKES_MAX: u32 = 10;

/// Most keys in the allowed set ([`NetworkConfig::allowed`], [`crate::NetworkHandle::set_allowed`]).
pub const MAX_ALLOWED_KEYS: usize = 10_000;

/// Smallest accepted `max_message_bytes` (gossipsub itself refuses limits under 100 bytes).
pub const MIN_MESSAGE_BYTES: usize = 512;
/// Largest accepted `max_message_bytes` (frames carry `u32` lengths; 1 GiB is far beyond sane).
pub const MAX_MESSAGE_BYTES: usize = 1 << 30;

/// A gossip topic. Topic names are namespaced by chain id: `keepsake/{chain_id}/txs/v2` and
/// `keepsake/{chain_id}/consensus/v1`, so two chains never exchange gossip. A topic's version
/// changes with its payload: `txs/v1` carried one transaction per message, `txs/v2` carries a
/// batch (docs/protocol.md, §8), so nodes of the two versions never misparse each other's
/// transaction gossip (they simply do not exchange it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Batches of signed transactions.
    Txs,
    /// Proposals and votes.
    Consensus,
}

impl Topic {
    /// Both topics, in a fixed order.
    pub const ALL: [Topic; 2] = [Topic::Txs, Topic::Consensus];

    /// The gossipsub topic name on chain `chain_id`.
    pub fn name(self, chain_id: &str) -> String {
        match self {
            Topic::Txs => format!("keepsake/{chain_id}/txs/v2"),
            Topic::Consensus => format!("keepsake/{chain_id}/consensus/v1"),
        }
    }
}

/// Network configuration. Build with [`NetworkConfig::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    /// Chain id: namespaces gossip topics, the sync protocol and the identify protocol version.
    pub chain_id: String,
    /// TCP address to listen on (`127.0.0.1:0` in tests; see [`crate::NetworkHandle::listen_addr`]).
    pub listen: SocketAddr,
    /// Peers dialled at start and redialled (with a short backoff, at most every 2 s) whenever
    /// they are disconnected. Entries whose key is not in `allowed` are not dialled (a warning
    /// says so) until [`crate::NetworkHandle::set_allowed`] allows them.
    pub bootstrap: Vec<(PublicKey, SocketAddr)>,
    /// The only keys that may stay connected (inbound or outbound). Empty means nobody. At most
    /// [`MAX_ALLOWED_KEYS`]; replaced at run time by [`crate::NetworkHandle::set_allowed`].
    pub allowed: Vec<PublicKey>,
    /// Gossip payload and sync response frame limit in bytes (default 8 MiB).
    pub max_message_bytes: usize,
    /// Maximum number of distinct connected peers (default 50); further peers are refused.
    pub max_peers: u32,
    /// Capacity of the event channel (default 10 000). When it is full, events are dropped and
    /// counted in [`crate::NetworkStats::events_dropped_full`]; the swarm never waits for the reader.
    pub max_pending_events: usize,
    /// [`crate::NetworkHandle::report_invalid`] strikes before the peer is disconnected (default 10).
    pub garbage_strikes_max: u32,
}

impl NetworkConfig {
    /// Defaults: 8 MiB messages, 50 peers, 10 000 pending events, 10 strikes; nobody to dial and
    /// nobody allowed.
    pub fn new(chain_id: String, listen: SocketAddr) -> Self {
        Self {
            chain_id,
            listen,
            bootstrap: Vec::new(),
            allowed: Vec::new(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_peers: DEFAULT_MAX_PEERS,
            max_pending_events: DEFAULT_MAX_PENDING_EVENTS,
            garbage_strikes_max: DEFAULT_GARBAGE_STRIKES_MAX,
        }
    }

    /// Checks the ranges [`crate::start`] relies on.
    pub fn validate(&self) -> Result<(), NetworkError> {
        let bad = |what: String| Err(NetworkError::InvalidConfig(what));
        if self.chain_id.is_empty() || self.chain_id.contains('/') || self.chain_id.len() > 64 {
            return bad(format!("chain_id {:?} must be 1..=64 bytes without '/'", self.chain_id));
        }
        if !(MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES).contains(&self.max_message_bytes) {
            return bad(format!(
                "max_message_bytes {} not in {MIN_MESSAGE_BYTES}..={MAX_MESSAGE_BYTES}",
                self.max_message_bytes
            ));
        }
        if self.allowed.len() > MAX_ALLOWED_KEYS {
            return bad(format!("{} allowed keys, over the limit of {MAX_ALLOWED_KEYS}", self.allowed.len()));
        }
        if self.max_peers == 0 {
            return bad("max_peers must be at least 1".into());
        }
        if self.max_pending_events == 0 {
            return bad("max_pending_events must be at least 1".into());
        }
        if self.garbage_strikes_max == 0 {
            return bad("garbage_strikes_max must be at least 1".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_namespaced() {
        assert_eq!(Topic::Txs.name("c1"), "keepsake/c1/txs/v2");
        assert_eq!(Topic::Consensus.name("c1"), "keepsake/c1/consensus/v1");
    }

    #[test]
    fn defaults_validate_and_ranges_are_checked() {
        let base = NetworkConfig::new("c1".into(), "127.0.0.1:0".parse().unwrap());
        base.validate().unwrap();
        assert_eq!(base.max_message_bytes, 8 * 1024 * 1024);
        for f in [
            |c: &mut NetworkConfig| c.chain_id = String::new(),
            |c: &mut NetworkConfig| c.chain_id = "a/b".into(),
            |c: &mut NetworkConfig| c.max_message_bytes = 10,
            |c: &mut NetworkConfig| c.max_peers = 0,
            |c: &mut NetworkConfig| c.max_pending_events = 0,
            |c: &mut NetworkConfig| c.garbage_strikes_max = 0,
        ] {
            let mut c = base.clone();
            f(&mut c);
            assert_eq!(c.validate().unwrap_err().code(), "InvalidConfig");
        }
    }
}
