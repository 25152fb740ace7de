//! The node's TOML configuration. Unknown fields are refused, so a typo is an
//! error at start-up rather than a silently ignored setting. Relative paths
//! are resolved against the home directory (the directory of `config.toml`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Name of the config file inside a home directory.
pub const CONFIG_FILE: &str = "config.toml";
/// Largest config file read, in bytes.
pub const CONFIG_FILE_MAX: u64 = 64 * 1024;
/// Largest genesis file read, in bytes.
pub const GENESIS_FILE_MAX: u64 = 1024 * 1024;

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Files of this node.
    pub node: NodeSection,
    /// JSON-RPC server.
    #[serde(default)]
    pub rpc: RpcSection,
    /// Mempool limits.
    #[serde(default)]
    pub mempool: MempoolSection,
    /// Block production.
    #[serde(default)]
    pub block: BlockSection,
    /// Peer-to-peer networking.
    #[serde(default)]
    pub p2p: P2pSection,
    /// Consensus timeouts.
    #[serde(default)]
    pub consensus: ConsensusSection,
}

/// `[node]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// The genesis JSON file.
    pub genesis_file: PathBuf,
    /// The validator's key file (`keepsake keys generate`).
    pub validator_key_file: PathBuf,
    /// The sled database directory.
    pub data_dir: PathBuf,
    /// The consensus WAL and the sign-state file (fsync'ed before every signature).
    #[serde(default = "default_consensus_dir")]
    pub consensus_dir: PathBuf,
}

fn default_consensus_dir() -> PathBuf {
    PathBuf::from("consensus")
}

/// `[rpc]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpcSection {
    /// Listen address for JSON-RPC over HTTP and WebSocket, `/health` and `/metrics`.
    pub listen: SocketAddr,
    /// Largest request body, in bytes (a `submitTxs` of 1,000 mints is about 600 KB).
    pub max_request_bytes: u32,
    /// Largest response body, in bytes.
    pub max_response_bytes: u32,
    /// Most calls in one JSON-RPC batch request.
    pub max_batch_requests: u32,
    /// Most transactions in one `submitTxs` call.
    pub max_batch_txs: usize,
    /// Most simultaneous connections.
    pub max_connections: u32,
    /// Most block subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: u32,
    /// `GET /health` answers 503 (`"status": "stale"`) when no block has been
    /// committed for this long, in ms: a node that cannot reach a quorum, or
    /// that fell behind and does not catch up. 0: never.
    pub health_stale_after_ms: u64,
}

impl Default for RpcSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], crate::DEFAULT_RPC_PORT)),
            max_request_bytes: 8 * 1024 * 1024,
            max_response_bytes: 32 * 1024 * 1024,
            max_batch_requests: 100,
            max_batch_txs: 10_000,
            max_connections: 256,
            max_subscriptions_per_connection: 16,
            health_stale_after_ms: 30_000,
        }
    }
}

/// `[mempool]`: the pool's limits (defined with the pool, in the engine crate).
pub type MempoolSection = keepsake_engine::MempoolLimits;

/// `[block]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlockSection {
    /// When this validator is to propose and transactions are pending, wait
    /// this long for more before building (folds bursts into fewer, larger blocks).
    pub batch_wait_ms: u64,
}

impl Default for BlockSection {
    fn default() -> Self {
        Self { batch_wait_ms: 50 }
    }
}

/// A peer to dial: its key (its libp2p identity) and address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerAddress {
    /// The peer's ed25519 public key, hex.
    pub key: keepsake_types::PublicKey,
    /// Its TCP address.
    pub addr: SocketAddr,
}

/// The text form of a peer, for the command line (`keepsake init --peer`):
/// `KEY@IP:PORT`, where KEY is the peer's public key in hex (64 digits, as
/// `keepsake keys show` prints it) and IP:PORT its libp2p address (an IPv6
/// address in brackets: `KEY@[2001:db8::1]:26656`). Host names are refused:
/// the config holds addresses, so resolve the name first.
impl std::str::FromStr for PeerAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const FORM: &str = "expected KEY@IP:PORT: the peer's public key (64 hex digits, `keepsake keys show` \
                            prints it), '@', and its libp2p address, e.g. \
                            2b1f…9c04@203.0.113.10:26656 (IPv6: KEY@[2001:db8::1]:26656)";
        let shown: String = text.chars().take(200).collect();
        let text = text.trim();
        let Some((key, addr)) = text.split_once('@') else {
            return Err(format!("peer {shown:?} has no '@': {FORM}"));
        };
        let key = keepsake_types::PublicKey::from_hex(key.trim())
            .map_err(|e| format!("peer {shown:?}: the key is not a public key ({e}); {FORM}"))?;
        if !key.is_valid_point() {
            return Err(format!("peer {shown:?}: {key} is not a valid ed25519 public key; {FORM}"));
        }
        let addr: SocketAddr = addr.trim().parse().map_err(|_| {
            let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or(addr);
            if !host.is_empty() && host.parse::<std::net::IpAddr>().is_err() && !host.starts_with('[') {
                format!("peer {shown:?}: {host:?} is not an IP address (host names are not resolved; use the IP); {FORM}")
            } else {
                format!("peer {shown:?}: {addr:?} is not IP:PORT; {FORM}")
            }
        })?;
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return Err(format!(
                "peer {shown:?}: {addr} cannot be dialled (port 0 or address 0.0.0.0); {FORM}"
            ));
        }
        Ok(PeerAddress { key, addr })
    }
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.key, self.addr)
    }
}

/// Smallest `[p2p] max_message_bytes`: a proposal must still carry a useful block.
pub const P2P_MESSAGE_BYTES_MIN: usize = 1024 * 1024;
/// Largest `[p2p] max_message_bytes` (the network crate's own ceiling).
pub const P2P_MESSAGE_BYTES_MAX: usize = keepsake_network::MAX_MESSAGE_BYTES;

/// `[p2p]`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct P2pSection {
    /// TCP listen address for libp2p.
    pub listen: SocketAddr,
    /// Peers to dial (and redial while disconnected).
    pub bootstrap: Vec<PeerAddress>,
    /// Keys allowed to connect besides the validators and the observers
    /// registered by governance (this operator's own auditors' nodes).
    pub allow_list: Vec<keepsake_types::PublicKey>,
    /// Most connections.
    pub max_peers: u32,
    /// Largest gossip message or sync response, in bytes.
    pub max_message_bytes: usize,
}

impl Default for P2pSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            bootstrap: Vec::new(),
            allow_list: Vec::new(),
            max_peers: 64,
            max_message_bytes: 16 * 1024 * 1024,
        }
    }
}

/// `[consensus]` (timeouts grow by `timeout_delta_ms` per round).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusSection {
    /// Wait for a proposal in round 0.
    pub timeout_propose_ms: u64,
    /// Wait after 2/3+ prevotes for anything.
    pub timeout_prevote_ms: u64,
    /// Wait after 2/3+ precommits for anything.
    pub timeout_precommit_ms: u64,
    /// Added per round to each timeout.
    pub timeout_delta_ms: u64,
    /// A proposer with an empty mempool waits this long for a transaction
    /// before proposing an empty block (must be below `timeout_propose_ms`).
    pub empty_block_wait_ms: u64,
    /// Proposer-based timestamps: the largest difference between two honest
    /// validators' clocks. A fresh proposal whose block time is more than this
    /// ahead of our clock gets a nil prevote (docs/consensus.md, "Block time").
    pub clock_precision_ms: u64,
    /// The largest delay of a proposal between honest validators: a fresh
    /// proposal whose block time is more than `clock_precision_ms +
    /// message_delay_ms` behind our clock gets a nil prevote.
    pub message_delay_ms: u64,
}

impl Default for ConsensusSection {
    fn default() -> Self {
        Self {
            timeout_propose_ms: 3000,
            timeout_prevote_ms: 1000,
            timeout_precommit_ms: 1000,
            timeout_delta_ms: 500,
            empty_block_wait_ms: 1000,
            clock_precision_ms: 1_000,
            message_delay_ms: 15_000,
        }
    }
}

impl NodeConfig {
    /// Reads `home/config.toml` and resolves its paths against `home`.
    pub fn load(home: &Path) -> anyhow::Result<Self> {
        let path = home.join(CONFIG_FILE);
        let text = read_bounded(&path, CONFIG_FILE_MAX)?;
        let mut config: NodeConfig =
            toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))?;
        config.validate().with_context(|| format!("invalid config file {}", path.display()))?;
        config.resolve_paths(home);
        Ok(config)
    }

    /// Checks relations between settings that serde cannot.
    pub fn validate(&self) -> anyhow::Result<()> {
        let c = &self.consensus;
        anyhow::ensure!(
            c.empty_block_wait_ms < c.timeout_propose_ms,
            "consensus.empty_block_wait_ms ({}) must be below consensus.timeout_propose_ms ({})",
            c.empty_block_wait_ms,
            c.timeout_propose_ms
        );
        anyhow::ensure!(
            self.block.batch_wait_ms < c.timeout_propose_ms,
            "block.batch_wait_ms ({}) must be below consensus.timeout_propose_ms ({})",
            self.block.batch_wait_ms,
            c.timeout_propose_ms
        );
        anyhow::ensure!(self.rpc.max_batch_txs > 0 && self.mempool.max_txs > 0, "limits must be positive");
        anyhow::ensure!(
            (P2P_MESSAGE_BYTES_MIN..=P2P_MESSAGE_BYTES_MAX).contains(&self.p2p.max_message_bytes),
            "p2p.max_message_bytes ({}) must be within {P2P_MESSAGE_BYTES_MIN}..={P2P_MESSAGE_BYTES_MAX} (a proposal carries a whole block)",
            self.p2p.max_message_bytes
        );
        Ok(())
    }

    /// Makes relative paths absolute against `home`.
    pub fn resolve_paths(&mut self, home: &Path) {
        for p in [
            &mut self.node.genesis_file,
            &mut self.node.validator_key_file,
            &mut self.node.data_dir,
            &mut self.node.consensus_dir,
        ] {
            if p.is_relative() {
                *p = home.join(&*p);
            }
        }
    }
}

/// Reads a whole file, refusing files over `max` bytes (before reading them).
pub fn read_bounded(path: &Path, max: u64) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > max {
        anyhow::bail!("{} is {} bytes, over the limit of {max}", path.display(), meta.len());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[node]
genesis_file = "genesis.json"
validator_key_file = "keys/validator.json"
data_dir = "data"

[rpc]
listen = "127.0.0.1:8645"
"#;

    #[test]
    fn sample_parses_with_defaults() {
        let c: NodeConfig = toml::from_str(SAMPLE).unwrap();
        assert_eq!(c.rpc.max_batch_txs, 10_000);
        assert_eq!(c.mempool, MempoolSection::default());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let bad = SAMPLE.replace("data_dir", "dta_dir");
        let err = toml::from_str::<NodeConfig>(&bad).unwrap_err().to_string();
        assert!(err.contains("unknown field `dta_dir`"), "{err}");
        let bad = format!("{SAMPLE}\n[mempool]\nmax_tx = 5\n");
        assert!(toml::from_str::<NodeConfig>(&bad).unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn peer_text_form_round_trips_and_bad_forms_say_what_is_expected() {
        let key = keepsake_types::Keypair::from_seed([7; 32]).public();
        for addr in ["203.0.113.10:26656", "[2001:db8::1]:26656"] {
            let text = format!("{key}@{addr}");
            let peer: PeerAddress = text.parse().unwrap();
            assert_eq!((peer.key, peer.addr), (key, addr.parse().unwrap()));
            assert_eq!(peer.to_string(), text);
        }
        assert_eq!(format!(" 0x{key}@127.0.0.1:1 ").parse::<PeerAddress>().unwrap().key, key);
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        let not_a_point = keepsake_types::PublicKey(not_a_point);
        for (bad, says) in [
            ("203.0.113.10:26656".to_string(), "has no '@'"),
            (format!("{key}"), "has no '@'"),
            ("abcd@203.0.113.10:26656".to_string(), "not a public key"),
            (format!("{not_a_point}@203.0.113.10:26656"), "not a valid ed25519 public key"),
            (format!("{key}@node1.example.org:26656"), "not an IP address"),
            (format!("{key}@203.0.113.10"), "is not IP:PORT"),
            (format!("{key}@203.0.113.10:99999"), "is not IP:PORT"),
            (format!("{key}@203.0.113.10:0"), "cannot be dialled"),
            (format!("{key}@0.0.0.0:26656"), "cannot be dialled"),
        ] {
            let err = bad.parse::<PeerAddress>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
            assert!(err.contains(bad.as_str()), "the error echoes the input: {err}");
            assert!(err.contains("expected KEY@IP:PORT"), "{err}");
        }
    }

    #[test]
    fn relative_paths_resolve_against_home() {
        let mut c: NodeConfig = toml::from_str(SAMPLE).unwrap();
        c.resolve_paths(Path::new("/srv/keepsake"));
        assert_eq!(c.node.data_dir, PathBuf::from("/srv/keepsake/data"));
    }
}
