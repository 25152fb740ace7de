//! A Keepsake consortium across a WAN: each organisation's node is a
//! `keepsake start` process in a namespace of its own ([`crate::netns`]),
//! and every peer-to-peer byte between organisations goes through the
//! delaying relay ([`crate::relay`]).
//!
//! Addresses (host `k` of the topology):
//!
//! | what | address |
//! |---|---|
//! | host `k`'s node: JSON-RPC | `host_ip(k):8645` (reached from the root namespace over `k`'s link) |
//! | host `k`'s node: libp2p | `host_ip(k):26656` (reached only by the relay) |
//! | host `i`'s way to host `j` | the relay at `root_ip(i):27000+j`, forwarding to `host_ip(j):26656` |
//!
//! Each node's `[p2p] bootstrap` lists the others at those relay addresses,
//! and the network crate dials only the addresses of its bootstrap list (no
//! discovery). Even if it tried a peer's own address (learned from identify),
//! it would fail: a host has no route beyond its own /30.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jsonrpsee::http_client::HttpClient;
use keepsake::config::{NodeConfig, PeerAddress};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::{Genesis, Keypair, PublicKey};

use crate::netns::Topology;
use crate::process::NsProcess;
use crate::relay::{Relay, RelayLink};

/// JSON-RPC port of every node (each in its own namespace).
pub const RPC_PORT: u16 = 8645;
/// libp2p port of every node.
pub const P2P_PORT: u16 = 26656;
/// The relay's port for destination host `j` is this + `j`, on the root side of the source's link.
pub const RELAY_PORT_BASE: u16 = 27000;
/// The environment variable with the nodes' `RUST_LOG` (default `warn`).
pub const NODE_LOG_ENV: &str = "KEEPSAKE_WAN_NODE_LOG";

/// How to build the consortium.
#[derive(Clone, Debug)]
pub struct WanSpec {
    /// The `keepsake` binary.
    pub bin: PathBuf,
    /// Validators (organisations) in the genesis, one host each.
    pub validators: usize,
    /// Keys, besides the genesis validators', that every node allows to
    /// connect from the start: for hosts that join later
    /// ([`Wan::add_host`]) and for validators that rotate their key.
    pub spare_keys: usize,
    /// Chain id.
    pub chain_id: String,
    /// Smallest one-way delay between two hosts.
    pub one_way: Duration,
    /// Pairs get `one_way` plus up to this much more, fixed per pair (a WAN's
    /// organisations are not all equally far apart); zero makes every pair equal.
    pub spread: Duration,
    /// Each chunk's delay varies uniformly within `[-jitter, +jitter]`.
    pub jitter: Duration,
    /// Seed of the jitter.
    pub seed: u64,
    /// Applied to every node's config before it is written.
    pub tweak: fn(&mut NodeConfig),
}

/// What a host runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// A validator of the genesis.
    Validator,
    /// A node with a key outside the validator set (it follows the chain; it may become a
    /// validator through governance).
    Observer,
}

/// One organisation: its namespace host, home and node process.
#[derive(Debug)]
pub struct WanHost {
    /// `org-K` (the genesis names validators `org-I` too).
    pub name: String,
    /// The node's home directory.
    pub home: PathBuf,
    /// Its node key.
    pub key: PublicKey,
    /// What it was started as.
    pub role: Role,
    /// `http://HOST_IP:8645`.
    pub rpc_url: String,
    /// Its libp2p address (only the relay reaches it).
    pub p2p: SocketAddr,
    process: Option<NsProcess>,
}

/// The running consortium. Dropping it kills the nodes, stops the relay and
/// deletes the namespaces, in that order (also on panic).
pub struct Wan {
    /// Node processes first: dropped (killed) before the relay and the namespaces.
    hosts: Vec<WanHost>,
    relay: Relay,
    topology: Topology,
    spec: WanSpec,
    spare: Vec<Keypair>,
    /// The directory holding the testnet (`genesis.json`, `governance/`, `keys/`, homes).
    pub dir: PathBuf,
    /// The genesis.
    pub genesis: Genesis,
    /// Governance keys (2 of 3).
    pub governors: Vec<Keypair>,
    /// The testnet's issuer key (not registered).
    pub issuer: Keypair,
    /// The testnet's reviewer key (not registered).
    pub reviewer: Keypair,
}

impl std::fmt::Debug for Wan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wan").field("dir", &self.dir).field("hosts", &self.hosts).finish_non_exhaustive()
    }
}

/// Can this process create network namespaces? Creates and deletes one
/// host; the error says what is missing (root, `ip`).
pub fn netns_available() -> anyhow::Result<()> {
    let mut t = Topology::new()?;
    t.add_host()?;
    Ok(())
}

impl Wan {
    /// Writes a testnet with `keepsake testnet` under `dir` (which must be
    /// empty or absent), creates one namespace host per validator, rewrites
    /// each home's config for the namespace addresses and the relay, starts
    /// the relay and every node, and waits until every node answers JSON-RPC.
    pub async fn start(dir: &Path, spec: WanSpec) -> anyhow::Result<Self> {
        if spec.validators == 0 {
            bail!("a WAN needs at least one validator");
        }
        let out = Command::new(&spec.bin)
            .arg("testnet")
            .args(["--validators", &spec.validators.to_string()])
            .arg("--dir")
            .arg(dir)
            .args(["--chain-id", &spec.chain_id])
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {} testnet", spec.bin.display()))?;
        if !out.status.success() {
            bail!(
                "{} testnet failed ({}): {}",
                spec.bin.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let homes: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).collect();
        if homes.len() != spec.validators {
            bail!("{} testnet wrote {} homes, not {}", spec.bin.display(), homes.len(), spec.validators);
        }
        let genesis = Genesis::from_json(&std::fs::read_to_string(dir.join("genesis.json"))?)?;
        let key = |p: &str| keepsake::keyfile::read(&dir.join(p));
        let governors =
            (1..=3).map(|i| key(&format!("governance/governor-{i}.json"))).collect::<Result<_, _>>()?;
        let spare = (0..spec.spare_keys).map(|_| keepsake::keyfile::generate()).collect::<Result<_, _>>()?;
        let mut wan = Wan {
            hosts: Vec::new(),
            relay: Relay::new(spec.seed),
            topology: Topology::new()?,
            spare,
            dir: dir.to_path_buf(),
            genesis,
            governors,
            issuer: key("keys/issuer.json")?,
            reviewer: key("keys/reviewer.json")?,
            spec,
        };
        for (i, home) in homes.into_iter().enumerate() {
            let k = wan.topology.add_host()?;
            let key = wan.genesis.validators[i].public_key;
            wan.hosts.push(wan.host_record(k, home, key, Role::Validator));
        }
        for i in 0..wan.hosts.len() {
            wan.write_config(i)?;
        }
        for i in 0..wan.hosts.len() {
            for j in 0..wan.hosts.len() {
                if i != j {
                    wan.relay.add(wan.relay_link(i, j)).await?;
                }
            }
        }
        for i in 0..wan.hosts.len() {
            wan.start_host(i)?;
        }
        let all: Vec<usize> = (0..wan.hosts.len()).collect();
        wan.wait_rpc(&all, Duration::from_secs(60)).await?;
        Ok(wan)
    }

    /// A fifth (or later) organisation joins: a new namespace host with one
    /// of the spare keys (allowed by every node from the start), a home with
    /// the genesis, bootstrap peers at the relay for every existing host, and
    /// relay links both ways; then its node starts and answers JSON-RPC.
    /// With [`Role::Observer`] it follows the chain; making it a validator is
    /// governance's business (a transaction through any node).
    pub async fn add_host(&mut self, role: Role) -> anyhow::Result<usize> {
        let Some(key) = self.spare.pop() else {
            bail!("no spare key left: raise WanSpec::spare_keys (every node must allow a newcomer's key)");
        };
        let k = self.topology.add_host()?;
        let home = self.dir.join(format!("host{k}"));
        keepsake::keyfile::write(&home.join("keys/validator.json"), &key)?;
        std::fs::copy(self.dir.join("genesis.json"), home.join("genesis.json"))
            .with_context(|| format!("copying the genesis into {}", home.display()))?;
        // A new key has never signed: the record a validator needs to start.
        keepsake::repair::write_never_signed(&home.join("consensus"))?;
        // Its config: node 0's (resolved paths replaced by the newcomer's own).
        let text = std::fs::read_to_string(self.hosts[0].home.join(keepsake::config::CONFIG_FILE))?;
        let mut config: NodeConfig = toml::from_str(&text).context("node 0's config")?;
        config.node.genesis_file = "genesis.json".into();
        config.node.validator_key_file = "keys/validator.json".into();
        config.node.data_dir = "data".into();
        config.node.consensus_dir = "consensus".into();
        std::fs::write(home.join(keepsake::config::CONFIG_FILE), toml::to_string_pretty(&config)?)?;
        self.hosts.push(self.host_record(k, home, key.public(), role));
        self.write_config(k)?;
        for j in 0..k {
            self.relay.add(self.relay_link(k, j)).await?;
            self.relay.add(self.relay_link(j, k)).await?;
        }
        self.start_host(k)?;
        self.wait_rpc(&[k], Duration::from_secs(60)).await?;
        Ok(k)
    }

    /// Takes one of the spare keys (already allowed by every node), e.g. for a key rotation.
    pub fn take_spare_key(&mut self) -> Option<Keypair> {
        self.spare.pop()
    }

    fn host_record(&self, k: usize, home: PathBuf, key: PublicKey, role: Role) -> WanHost {
        let ip = self.topology.host(k).host_ip;
        WanHost {
            name: format!("org-{k}"),
            home,
            key,
            role,
            rpc_url: format!("http://{ip}:{RPC_PORT}"),
            p2p: SocketAddr::from((ip, P2P_PORT)),
            process: None,
        }
    }

    /// Rewrites host `k`'s `config.toml`: RPC and libp2p on its namespace
    /// address, every other host as a bootstrap peer at the relay, the spare
    /// keys (and every host's key) allowed, then the spec's tweak.
    fn write_config(&self, k: usize) -> anyhow::Result<()> {
        let path = self.hosts[k].home.join(keepsake::config::CONFIG_FILE);
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut config: NodeConfig =
            toml::from_str(&text).with_context(|| format!("{} is not a node config", path.display()))?;
        let ip = self.topology.host(k).host_ip;
        config.rpc.listen = SocketAddr::from((ip, RPC_PORT));
        config.p2p.listen = SocketAddr::from((ip, P2P_PORT));
        config.p2p.bootstrap = (0..self.hosts.len())
            .filter(|&j| j != k)
            .map(|j| PeerAddress { key: self.hosts[j].key, addr: self.relay_addr(k, j) })
            .collect();
        let validators: Vec<PublicKey> = self.genesis.validators.iter().map(|v| v.public_key).collect();
        let mut allow: Vec<PublicKey> = self.spare.iter().map(Keypair::public).collect();
        allow.extend(self.hosts.iter().map(|h| h.key).filter(|key| !validators.contains(key)));
        config.p2p.allow_list = allow;
        (self.spec.tweak)(&mut config);
        config.validate().with_context(|| format!("the config for {}", path.display()))?;
        std::fs::write(&path, toml::to_string_pretty(&config)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    /// Where host `from` reaches host `to`: the relay, on the root side of `from`'s link.
    pub fn relay_addr(&self, from: usize, to: usize) -> SocketAddr {
        let port = RELAY_PORT_BASE + u16::try_from(to).expect("fewer than 64 hosts");
        SocketAddr::from((self.topology.host(from).root_ip, port))
    }

    /// The one-way delay between hosts `i` and `j` (the same both ways).
    pub fn delay(&self, i: usize, j: usize) -> Duration {
        let (a, b) = (i.min(j) as u64, i.max(j) as u64);
        // A fixed, well-spread fraction of `spread` per pair: 0, 1/5, ..., 5/5.
        let step = (a * 7 + b * 3) % 6;
        self.spec.one_way + self.spec.spread.mul_f64(step as f64 / 5.0)
    }

    fn relay_link(&self, from: usize, to: usize) -> RelayLink {
        RelayLink {
            name: format!("h{from}->h{to}"),
            listen: self.relay_addr(from, to),
            target: self.hosts[to].p2p,
            delay: self.delay(from, to),
            jitter: self.spec.jitter,
        }
    }

    /// Starts host `k`'s node (`ip netns exec NS keepsake start --home HOME`),
    /// logging to `HOME/node.log`. Does not wait.
    pub fn start_host(&mut self, k: usize) -> anyhow::Result<()> {
        if self.hosts[k].process.as_mut().is_some_and(|p| p.exited().is_none()) {
            bail!("{} is still running", self.hosts[k].name);
        }
        let mut command = self.topology.command(k, &self.spec.bin);
        command
            .arg("start")
            .arg("--home")
            .arg(&self.hosts[k].home)
            .env("RUST_LOG", std::env::var(NODE_LOG_ENV).unwrap_or_else(|_| "warn".into()))
            .env("NO_COLOR", "1");
        let process = NsProcess::spawn(command, &self.hosts[k].home.join("node.log"))?;
        tracing::info!(host = %self.hosts[k].name, pid = process.id(), rpc = %self.hosts[k].rpc_url, "node started");
        self.hosts[k].process = Some(process);
        Ok(())
    }

    /// Stops host `k`'s node (SIGTERM, 30 s, SIGKILL); its home stays.
    pub fn stop_host(&mut self, k: usize) {
        if let Some(mut p) = self.hosts[k].process.take() {
            p.stop(Duration::from_secs(30));
        }
    }

    /// Cuts host `k`'s link (`ip link set DEV down`): a real partition, for
    /// its peer-to-peer traffic and its JSON-RPC alike.
    pub fn cut(&self, k: usize) -> anyhow::Result<()> {
        self.topology.cut(k)
    }

    /// Restores host `k`'s link.
    pub fn restore(&self, k: usize) -> anyhow::Result<()> {
        self.topology.restore(k)
    }

    /// The hosts.
    pub fn hosts(&self) -> &[WanHost] {
        &self.hosts
    }

    /// Host `k`'s namespace address.
    pub fn host_ip(&self, k: usize) -> Ipv4Addr {
        self.topology.host(k).host_ip
    }

    /// Host `k`'s namespace name.
    pub fn namespace(&self, k: usize) -> &str {
        &self.topology.host(k).ns
    }

    /// A JSON-RPC client of host `k`'s node.
    pub fn client(&self, k: usize) -> HttpClient {
        keepsake::rpc_client::client(&self.hosts[k].rpc_url).expect("an http:// URL")
    }

    /// Every host's RPC URL.
    pub fn rpc_urls(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.rpc_url.clone()).collect()
    }

    /// Bytes the relay delivered between hosts `i` and `j` (both directions, both links).
    pub fn relayed_bytes(&self, i: usize, j: usize) -> u64 {
        let pair = [self.relay_addr(i, j), self.relay_addr(j, i)];
        self.relay.links().filter(|(l, _)| pair.contains(&l.listen)).map(|(_, s)| s.bytes()).sum()
    }

    /// The relay itself (per-link counters).
    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// Whether host `from` can open a TCP connection straight to host `to`'s
    /// libp2p port (it must not: the only path is the relay).
    pub fn direct_connects(&self, from: usize, to: usize) -> anyhow::Result<bool> {
        self.topology.tcp_connects(from, self.hosts[to].p2p, Duration::from_secs(2))
    }

    /// Whether host `from` can open a TCP connection to its relay address for `to` (it must).
    pub fn relay_connects(&self, from: usize, to: usize) -> anyhow::Result<bool> {
        self.topology.tcp_connects(from, self.relay_addr(from, to), Duration::from_secs(2))
    }

    /// `Err` naming the first node process that exited, with the end of its log.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        for h in &mut self.hosts {
            if let Some(p) = h.process.as_mut()
                && let Some(status) = p.exited()
            {
                bail!("{}'s node exited ({status}); {}:\n{}", h.name, p.log.display(), p.log_tail(30));
            }
        }
        Ok(())
    }

    /// Waits until every host in `which` answers `status` (bounded).
    pub async fn wait_rpc(&mut self, which: &[usize], timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        for &k in which {
            let client = self.client(k);
            loop {
                self.check_alive()?;
                if client.status().await.is_ok() {
                    break;
                }
                if Instant::now() > deadline {
                    bail!(
                        "{} did not answer JSON-RPC at {} in {timeout:?}",
                        self.hosts[k].name,
                        self.hosts[k].rpc_url
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Waits until every host in `which` has committed `height` (polling
    /// every 50 ms, bounded by `timeout`); returns their heights.
    pub async fn wait_height(
        &mut self,
        which: &[usize],
        height: u64,
        timeout: Duration,
    ) -> anyhow::Result<Vec<u64>> {
        let deadline = Instant::now() + timeout;
        let mut heights = Vec::new();
        for &k in which {
            let client = self.client(k);
            loop {
                self.check_alive()?;
                let h = client.status().await.map(|s| s.height).unwrap_or(0);
                if h >= height {
                    heights.push(h);
                    break;
                }
                if Instant::now() > deadline {
                    bail!("{} is at height {h}, not {height}, after {timeout:?}", self.hosts[k].name);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(heights)
    }
}

impl Drop for Wan {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            if let Some(mut p) = h.process.take() {
                // Quick: SIGTERM, then SIGKILL after 2 s (tests and benchmarks keep no data).
                p.stop(Duration::from_secs(2));
            }
        }
    }
}
