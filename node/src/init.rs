//! `keepsake init`: the home of a new node that joins a running consortium
//! chain. It is an observer (its key is in no validator set) until the
//! consortium makes it a validator.
//!
//! ```text
//! HOME/genesis.json                  a byte-identical copy of the chain's genesis (validated first)
//! HOME/keys/validator.json           the node's new key (mode 0600): its libp2p identity, and its
//!                                    consensus key if governance ever adds it as a validator
//! HOME/consensus/sign_state.json     "never signed" (true: the key was made just now)
//! HOME/config.toml                   the bootstrap peers and listen addresses
//! ```
//!
//! Nothing is written before every input is checked, nothing is ever
//! overwritten, and a failure half-way removes what this run wrote. The
//! consortium must then admit the printed key (each member's `[p2p]
//! allow_list`, or a governance transaction) before the node can connect;
//! started, it syncs from genesis by block sync, verifying every commit.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use keepsake_types::{Genesis, PublicKey};

use crate::config::{
    BlockSection, CONFIG_FILE, ConsensusSection, GENESIS_FILE_MAX, MempoolSection, NodeConfig, NodeSection,
    P2pSection, PeerAddress, RpcSection,
};
use crate::keyfile;

/// The genesis copy, relative to the home.
pub const GENESIS_FILE: &str = "genesis.json";
/// The node key, relative to the home.
pub const KEY_FILE: &str = "keys/validator.json";
/// The chain data, relative to the home.
pub const DATA_DIR: &str = "data";
/// The consensus WAL and sign-state, relative to the home.
pub const CONSENSUS_DIR: &str = "consensus";
/// Most `--peer`s (as many as a genesis may have validators).
pub const PEERS_MAX: usize = keepsake_types::genesis::VALIDATORS_MAX;
/// The default libp2p listen address of a joining node (reachable by the others).
pub const DEFAULT_P2P_LISTEN: &str = "0.0.0.0:26656";

/// What `keepsake init` is asked to make.
#[derive(Clone, Debug)]
pub struct InitSpec {
    /// The chain's genesis file, as published by the consortium.
    pub genesis_file: PathBuf,
    /// Members to dial (at least one).
    pub peers: Vec<PeerAddress>,
    /// JSON-RPC, `/health`, `/metrics` and the explorer.
    pub rpc_listen: SocketAddr,
    /// libp2p.
    pub p2p_listen: SocketAddr,
}

/// What `keepsake init` made.
#[derive(Clone, Debug)]
pub struct Initialized {
    /// The home directory.
    pub home: PathBuf,
    /// The node's public key: the consortium admits this one.
    pub public_key: PublicKey,
    /// The chain joined.
    pub chain_id: String,
    /// Peers whose key is not a genesis validator (other observers): put in
    /// this node's own `allow_list` so that it accepts them, and they must
    /// allow this node too.
    pub non_validator_peers: Vec<PublicKey>,
}

/// Makes the home `home` of a new node of the chain of `spec.genesis_file`.
/// Refuses, before writing anything, a home that already holds a node (any
/// of its files or directories), an unreadable or invalid genesis, no peer,
/// too many peers, or a peer key given twice.
pub fn init(home: &Path, spec: &InitSpec) -> anyhow::Result<Initialized> {
    let taken: Vec<&str> = [CONFIG_FILE, GENESIS_FILE, KEY_FILE, DATA_DIR, CONSENSUS_DIR]
        .into_iter()
        .filter(|p| home.join(p).symlink_metadata().is_ok())
        .collect();
    if !taken.is_empty() {
        bail!(
            "{} already holds a node ({} exist); refusing to overwrite it. Choose another directory \
             for the new node (`keepsake init --home <new dir> ...`), or start this one with \
             `keepsake start --home {}`",
            home.display(),
            taken.join(", "),
            home.display()
        );
    }
    if home.exists() && !home.is_dir() {
        bail!("{} exists and is not a directory; choose another --home", home.display());
    }
    let (genesis_bytes, genesis) = read_genesis(&spec.genesis_file)?;
    if spec.peers.is_empty() {
        bail!(
            "no --peer given: a new node needs at least one member to sync from; add \
             --peer KEY@IP:PORT for each member you were given (its public key and libp2p address)"
        );
    }
    if spec.peers.len() > PEERS_MAX {
        bail!("{} --peer given, at most {PEERS_MAX}", spec.peers.len());
    }
    for (i, p) in spec.peers.iter().enumerate() {
        if let Some(first) = spec.peers[..i].iter().find(|q| q.key == p.key) {
            bail!("--peer {p}: the key {} was already given (--peer {first}); give each member once", p.key);
        }
    }
    let validators = genesis.validator_set();
    let non_validator_peers: Vec<PublicKey> =
        spec.peers.iter().map(|p| p.key).filter(|k| validators.get(k).is_none()).collect();

    let key = keyfile::generate()?;
    let config = NodeConfig {
        node: NodeSection {
            genesis_file: GENESIS_FILE.into(),
            validator_key_file: KEY_FILE.into(),
            data_dir: DATA_DIR.into(),
            consensus_dir: CONSENSUS_DIR.into(),
        },
        rpc: RpcSection { listen: spec.rpc_listen, ..RpcSection::default() },
        mempool: MempoolSection::default(),
        block: BlockSection::default(),
        p2p: P2pSection {
            listen: spec.p2p_listen,
            bootstrap: spec.peers.clone(),
            allow_list: non_validator_peers.clone(),
            ..P2pSection::default()
        },
        consensus: ConsensusSection::default(),
    };
    config.validate().context("the config init would write is invalid")?;
    let config_text = format!(
        "# Written by `keepsake init` for chain {:?}: an observer node. Unknown fields are errors;\n\
         # relative paths are relative to this directory; every setting: node/src/config.rs.\n\n{}",
        genesis.chain_id.to_string(),
        toml::to_string_pretty(&config).context("cannot write the config")?
    );

    let mut written = Written::new(home)?;
    written.file(GENESIS_FILE, |path| write_new(path, &genesis_bytes))?;
    written.file(KEY_FILE, |path| keyfile::write(path, &key))?;
    written.dir(CONSENSUS_DIR, crate::repair::write_never_signed)?;
    written.file(CONFIG_FILE, |path| write_new(path, config_text.as_bytes()))?;
    written.keep();
    tracing::debug!(home = %home.display(), key = %key.public(), "node home written");
    Ok(Initialized {
        home: home.to_path_buf(),
        public_key: key.public(),
        chain_id: genesis.chain_id.to_string(),
        non_validator_peers,
    })
}

/// The genesis file's bytes (copied as they are: every member runs the same
/// file) and the genesis they hold.
fn read_genesis(path: &Path) -> anyhow::Result<(Vec<u8>, Genesis)> {
    let text = crate::config::read_bounded(path, GENESIS_FILE_MAX).with_context(|| {
        format!(
            "cannot read the genesis file {}: give --genesis the consortium's genesis.json",
            path.display()
        )
    })?;
    let genesis = Genesis::from_json(&text).with_context(|| {
        format!(
            "{} is not a valid genesis file: give --genesis the genesis.json the consortium published, \
             byte for byte",
            path.display()
        )
    })?;
    Ok((text.into_bytes(), genesis))
}

fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

/// What this run created, removed again unless [`Written::keep`] is called.
struct Written {
    home: PathBuf,
    created_home: bool,
    paths: Vec<PathBuf>,
    keep: bool,
}

impl Written {
    fn new(home: &Path) -> anyhow::Result<Self> {
        let created_home = !home.exists();
        std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
        Ok(Self { home: home.to_path_buf(), created_home, paths: Vec::new(), keep: false })
    }

    fn file(&mut self, rel: &str, write: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let path = self.home.join(rel);
        // Record first: a failed write may leave a partial file behind.
        let parent_new = path.parent().filter(|p| !p.exists() && *p != self.home).map(Path::to_path_buf);
        if let Some(parent) = parent_new {
            self.paths.push(parent);
        }
        self.paths.push(path.clone());
        write(&path)
    }

    fn dir(&mut self, rel: &str, write: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let dir = self.home.join(rel);
        self.paths.push(dir.clone());
        write(&dir)
    }

    fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // Only what this run created: the checks above refused any existing node file.
        for path in self.paths.iter().rev() {
            let _ = if path.is_dir() { std::fs::remove_dir_all(path) } else { std::fs::remove_file(path) };
        }
        if self.created_home {
            let _ = std::fs::remove_dir(&self.home);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A testnet's genesis file (4 validators) and a spec pointing at two of them.
    fn fixture(dir: &Path) -> (Genesis, InitSpec) {
        let spec = crate::testnet::TestnetSpec {
            validators: 4,
            chain_id: "join-test".into(),
            rpc_base_port: 18645,
            p2p_base_port: 26656,
        };
        crate::testnet::generate(&dir.join("net"), &spec).unwrap();
        let genesis_file = dir.join("net/genesis.json");
        let genesis = Genesis::from_json(&std::fs::read_to_string(&genesis_file).unwrap()).unwrap();
        let peers = genesis
            .validators
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, v)| PeerAddress {
                key: v.public_key,
                addr: format!("127.0.0.1:{}", 26656 + i).parse().unwrap(),
            })
            .collect();
        let spec = InitSpec {
            genesis_file,
            peers,
            rpc_listen: "127.0.0.1:0".parse().unwrap(),
            p2p_listen: "127.0.0.1:0".parse().unwrap(),
        };
        (genesis, spec)
    }

    #[test]
    fn writes_an_observer_home_that_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (genesis, spec) = fixture(dir.path());
        let home = dir.path().join("observer");
        let made = init(&home, &spec).unwrap();
        assert_eq!(made.chain_id, "join-test");
        assert!(made.non_validator_peers.is_empty());
        // The genesis is copied byte for byte.
        assert_eq!(
            std::fs::read(home.join(GENESIS_FILE)).unwrap(),
            std::fs::read(&spec.genesis_file).unwrap()
        );
        let config = NodeConfig::load(&home).unwrap();
        assert_eq!(config.p2p.bootstrap, spec.peers);
        assert!(config.p2p.allow_list.is_empty());
        assert_eq!(config.rpc.listen, spec.rpc_listen);
        assert_eq!(config.p2p.listen, spec.p2p_listen);
        let key = keyfile::read(&config.node.validator_key_file).unwrap();
        assert_eq!(key.public(), made.public_key);
        // An observer: its key is in no validator set.
        assert!(genesis.validator_set().get(&made.public_key).is_none());
        // Its sign-state says "never signed" (ready if governance ever makes it a validator).
        let sign =
            crate::wal::SignStateFile::new(&config.node.consensus_dir.join(crate::node::SIGN_STATE_FILE));
        assert_eq!(sign.load::<keepsake_consensus::SignedStep>().unwrap(), Some(crate::repair::NEVER_SIGNED));
    }

    #[test]
    fn peers_that_are_not_validators_go_to_the_allow_list() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut spec) = fixture(dir.path());
        let observer = keyfile::generate().unwrap().public();
        spec.peers.push(PeerAddress { key: observer, addr: "127.0.0.1:30000".parse().unwrap() });
        let made = init(&dir.path().join("observer"), &spec).unwrap();
        assert_eq!(made.non_validator_peers, vec![observer]);
        let config = NodeConfig::load(&made.home).unwrap();
        assert_eq!(config.p2p.allow_list, vec![observer]);
    }

    #[test]
    fn an_existing_node_home_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let (_, spec) = fixture(dir.path());
        let home = dir.path().join("observer");
        let first = init(&home, &spec).unwrap();
        let key_before = std::fs::read(home.join(KEY_FILE)).unwrap();
        let err = format!("{:#}", init(&home, &spec).unwrap_err());
        assert!(err.contains("already holds a node"), "{err}");
        assert!(err.contains("Choose another directory"), "{err}");
        assert_eq!(std::fs::read(home.join(KEY_FILE)).unwrap(), key_before);
        assert_eq!(keyfile::read(&home.join(KEY_FILE)).unwrap().public(), first.public_key);
        // Any one of the node's files is enough: a key alone, or a config alone.
        for (i, file) in [KEY_FILE, CONFIG_FILE].into_iter().enumerate() {
            let other = dir.path().join(format!("partial{i}"));
            std::fs::create_dir_all(other.join("keys")).unwrap();
            std::fs::write(other.join(file), "x").unwrap();
            let err = format!("{:#}", init(&other, &spec).unwrap_err());
            assert!(err.contains(file) && err.contains("refusing to overwrite"), "{err}");
            assert_eq!(std::fs::read_to_string(other.join(file)).unwrap(), "x");
        }
        // A testnet validator's home is refused too.
        let err = format!("{:#}", init(&dir.path().join("net/node0"), &spec).unwrap_err());
        assert!(err.contains("already holds a node"), "{err}");
        // An empty existing directory is fine.
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        init(&empty, &spec).unwrap();
    }

    #[test]
    fn an_unreadable_or_invalid_genesis_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (_, spec) = fixture(dir.path());
        let home = dir.path().join("observer");
        let missing = InitSpec { genesis_file: dir.path().join("nope.json"), ..spec.clone() };
        let err = format!("{:#}", init(&home, &missing).unwrap_err());
        assert!(err.contains("cannot read the genesis file") && err.contains("nope.json"), "{err}");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"chain_id\": \"x\"}").unwrap();
        let err = format!("{:#}", init(&home, &InitSpec { genesis_file: bad, ..spec.clone() }).unwrap_err());
        assert!(err.contains("is not a valid genesis file"), "{err}");
        // A genesis that parses but breaks a rule (no validators).
        let text = std::fs::read_to_string(&spec.genesis_file).unwrap();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["validators"] = serde_json::json!([]);
        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, json.to_string()).unwrap();
        let err =
            format!("{:#}", init(&home, &InitSpec { genesis_file: empty, ..spec.clone() }).unwrap_err());
        assert!(err.contains("is not a valid genesis file") && err.contains("validators"), "{err}");
        assert!(!home.exists(), "a refused init writes nothing");
    }

    #[test]
    fn missing_duplicate_or_too_many_peers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_, spec) = fixture(dir.path());
        let home = dir.path().join("observer");
        let err = format!("{:#}", init(&home, &InitSpec { peers: vec![], ..spec.clone() }).unwrap_err());
        assert!(err.contains("no --peer given") && err.contains("KEY@IP:PORT"), "{err}");
        let mut twice = spec.clone();
        let mut again = spec.peers[0].clone();
        again.addr = "127.0.0.1:40000".parse().unwrap();
        twice.peers.push(again);
        let err = format!("{:#}", init(&home, &twice).unwrap_err());
        assert!(err.contains("already given"), "{err}");
        let many = InitSpec { peers: vec![spec.peers[0].clone(); PEERS_MAX + 1], ..spec.clone() };
        assert!(format!("{:#}", init(&home, &many).unwrap_err()).contains("at most"));
        assert!(!home.exists(), "a refused init writes nothing");
    }

    #[test]
    fn a_failure_half_way_removes_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let (_, spec) = fixture(dir.path());
        let home = dir.path().join("observer");
        let mut written = Written::new(&home).unwrap();
        written.file(GENESIS_FILE, |p| write_new(p, b"{}")).unwrap();
        written.file(KEY_FILE, |p| keyfile::write(p, &keyfile::generate().unwrap())).unwrap();
        let failed = written.file(CONFIG_FILE, |_| bail!("disk full"));
        assert!(failed.is_err());
        drop(written);
        assert!(!home.exists(), "everything this run wrote is gone");
        // And a real run succeeds afterwards.
        init(&home, &spec).unwrap();
    }
}
