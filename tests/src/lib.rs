//! Harness for workspace-level tests: real nodes (real sled on disk, real
//! JSON-RPC on 127.0.0.1 port 0) started in-process, their dev keys, a raw
//! HTTP helper for hostile-input tests, and a JSON-RPC server that lies
//! ([`LyingRpc`]) for hostile-source tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jsonrpsee::http_client::HttpClient;
use keepsake::config::NodeConfig;
use keepsake::node::RunningNode;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::{
    ContentHash, Genesis, Keypair, ReviewSubject, SeriesId, SignedTx, TxBody, TxId, hash::sha256, ids,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A node in a temporary home, with the dev keys.
pub struct TestNode {
    /// The home directory (kept alive for the test's duration).
    pub home: PathBuf,
    /// The running node.
    pub node: RunningNode,
    /// The genesis.
    pub genesis: Genesis,
    /// Governance key (1 of 1).
    pub governor: Keypair,
    /// Issuer key (not registered until a test does it).
    pub issuer: Keypair,
    /// Reviewer key (not registered until a test does it).
    pub reviewer: Keypair,
}

impl TestNode {
    /// Creates a dev home under `dir` and starts a node on port 0.
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let home = dir.join("home");
        keepsake::dev::init_home(&home, "127.0.0.1:0".parse()?)?;
        Self::start_existing(home).await
    }

    /// Starts a node on an existing home.
    pub async fn start_existing(home: PathBuf) -> anyhow::Result<Self> {
        let mut config = NodeConfig::load(&home)?;
        config.block.batch_wait_ms = 5;
        let node = keepsake::node::start(config).await?;
        let genesis = Genesis::from_json(&std::fs::read_to_string(home.join("genesis.json"))?)?;
        let key = |n: &str| keepsake::keyfile::read(&home.join("keys").join(format!("{n}.json")));
        Ok(TestNode {
            governor: key("governor")?,
            issuer: key("issuer")?,
            reviewer: key("reviewer")?,
            genesis,
            node,
            home,
        })
    }

    /// Stops the node and starts a new process-equivalent on the same home.
    pub async fn restart(self) -> anyhow::Result<Self> {
        let home = self.home.clone();
        self.node.shutdown().await?;
        Self::start_existing(home).await
    }

    /// An HTTP client.
    pub fn client(&self) -> HttpClient {
        keepsake::cli::client(&self.node.rpc_url()).expect("valid URL")
    }

    /// The chain id.
    pub fn chain(&self) -> &str {
        &self.genesis.chain_id
    }
}

/// Polls `getTxStatus` until the transaction is committed or rejected
/// (bounded: 20 s).
pub async fn wait_final(client: &HttpClient, id: TxId) -> TxStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = client.get_tx_status(id).await.expect("getTxStatus answers");
        match status {
            TxStatus::Committed { .. } | TxStatus::Rejected { .. } => return status,
            _ if Instant::now() > deadline => panic!("transaction {id} not final after 20 s: {status:?}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// Sends raw bytes as an HTTP/1.1 POST (or GET when `body` is `None`) and
/// returns the status code and body. For hostile-input tests only.
pub async fn raw_http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    // A server may answer (and close) before reading a large body: ignore write errors.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Consensus timeouts for tests: short, so faults resolve in seconds.
pub fn fast_consensus(config: &mut NodeConfig) {
    config.consensus.timeout_propose_ms = 1000;
    config.consensus.timeout_prevote_ms = 300;
    config.consensus.timeout_precommit_ms = 300;
    config.consensus.timeout_delta_ms = 200;
    config.consensus.empty_block_wait_ms = 200;
    config.block.batch_wait_ms = 5;
}

/// A cluster of real validators in one process: each with its own sled
/// database, libp2p swarm on 127.0.0.1 port 0, JSON-RPC server and
/// consensus driver. Nodes can be stopped and restarted on their homes.
pub struct Cluster {
    /// The testnet directory.
    pub dir: PathBuf,
    /// Node homes.
    pub homes: Vec<PathBuf>,
    /// Running nodes (`None` while stopped).
    pub nodes: Vec<Option<RunningNode>>,
    /// Last known libp2p address of each node.
    pub p2p: Vec<Option<std::net::SocketAddr>>,
    /// The genesis.
    pub genesis: Genesis,
    /// Governance keys (2 of 3).
    pub governors: Vec<Keypair>,
    /// An issuer key (not registered until a test does it).
    pub issuer: Keypair,
    /// A reviewer key (not registered until a test does it).
    pub reviewer: Keypair,
    /// Per-node config tweaks applied at every start.
    pub tweak: Vec<fn(&mut NodeConfig)>,
}

impl Cluster {
    /// Writes an `n`-validator testnet under `dir` and starts every node.
    pub async fn start(dir: &Path, n: usize) -> anyhow::Result<Self> {
        Self::start_with(dir, n, vec![(|_: &mut NodeConfig| {}) as fn(&mut NodeConfig); n]).await
    }

    /// Like [`Cluster::start`], with a config tweak per node.
    pub async fn start_with(dir: &Path, n: usize, tweak: Vec<fn(&mut NodeConfig)>) -> anyhow::Result<Self> {
        let all: Vec<usize> = (0..n).collect();
        Self::start_some(dir, n, tweak, &all).await
    }

    /// Writes an `n`-validator testnet under `dir` and starts only the nodes
    /// in `up`: the others' keys stay on disk for the test (a validator that
    /// never came up, or one whose key the test itself plays).
    pub async fn start_only(dir: &Path, n: usize, up: &[usize]) -> anyhow::Result<Self> {
        Self::start_some(dir, n, vec![(|_: &mut NodeConfig| {}) as fn(&mut NodeConfig); n], up).await
    }

    async fn start_some(
        dir: &Path,
        n: usize,
        tweak: Vec<fn(&mut NodeConfig)>,
        up: &[usize],
    ) -> anyhow::Result<Self> {
        let spec = keepsake::testnet::TestnetSpec {
            validators: n,
            chain_id: "keepsake-cluster".into(),
            rpc_base_port: 1,
            p2p_base_port: 1,
        };
        let homes = keepsake::testnet::generate(dir, &spec)?;
        let genesis = Genesis::from_json(&std::fs::read_to_string(dir.join("genesis.json"))?)?;
        let governors = (1..=3)
            .map(|i| keepsake::keyfile::read(&dir.join("governance").join(format!("governor-{i}.json"))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut cluster = Cluster {
            dir: dir.to_path_buf(),
            nodes: (0..n).map(|_| None).collect(),
            p2p: vec![None; n],
            homes,
            genesis,
            governors,
            issuer: keepsake::keyfile::read(&dir.join("keys/issuer.json"))?,
            reviewer: keepsake::keyfile::read(&dir.join("keys/reviewer.json"))?,
            tweak,
        };
        for &i in up {
            cluster.start_node(i).await?;
        }
        Ok(cluster)
    }

    /// Starts node `i` on port 0, dialing every node whose address is known.
    pub async fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        let mut config = NodeConfig::load(&self.homes[i])?;
        config.rpc.listen = "127.0.0.1:0".parse()?;
        config.p2p.listen = "127.0.0.1:0".parse()?;
        let mut bootstrap = Vec::new();
        for j in (0..self.homes.len()).filter(|&j| j != i) {
            if let Some(addr) = self.p2p[j] {
                bootstrap.push(keepsake::config::PeerAddress { key: self.validator_key(j)?.public(), addr });
            }
        }
        config.p2p.bootstrap = bootstrap;
        fast_consensus(&mut config);
        (self.tweak[i])(&mut config);
        let node = keepsake::node::start(config).await?;
        self.p2p[i] = Some(node.p2p_addr);
        self.nodes[i] = Some(node);
        Ok(())
    }

    /// Stops node `i` (its data stays on disk).
    pub async fn stop_node(&mut self, i: usize) -> anyhow::Result<()> {
        if let Some(node) = self.nodes[i].take() {
            node.shutdown().await?;
        }
        Ok(())
    }

    /// A client of node `i` (which must be running).
    pub fn client(&self, i: usize) -> HttpClient {
        let node = self.nodes[i].as_ref().expect("node is running");
        keepsake::cli::client(&node.rpc_url()).expect("valid URL")
    }

    /// Indices of running nodes.
    pub fn running(&self) -> Vec<usize> {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].is_some()).collect()
    }

    /// The chain id.
    pub fn chain(&self) -> &str {
        &self.genesis.chain_id
    }

    /// Waits until every node in `which` has committed `height` (bounded: 30 s each).
    pub async fn wait_height(&self, which: &[usize], height: u64) {
        for &i in which {
            wait_client_height(&self.client(i), &format!("node {i}"), height).await;
        }
    }

    /// Submits `tx` through node `via`, waits for its commit and returns the committing height.
    pub async fn commit(&self, via: usize, tx: SignedTx) -> u64 {
        let client = self.client(via);
        let id = client.submit_tx(tx).await.unwrap();
        match wait_final(&client, id).await {
            TxStatus::Committed { height, .. } => height,
            other => panic!("{id} not committed through node {via}: {other:?}"),
        }
    }

    /// Mints `edition` of `series` through node `via` and returns the committing height.
    pub async fn mint_and_wait(&self, via: usize, series: SeriesId, edition: u32) -> u64 {
        self.commit(via, mint(self, series, edition)).await
    }
}

/// Waits until the node behind `client` (named `who` in the failure) has
/// committed `height` (bounded: 30 s).
pub async fn wait_client_height(client: &HttpClient, who: &str, height: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h = client.status().await.expect("status answers").height;
        if h >= height {
            return;
        }
        assert!(Instant::now() < deadline, "{who} stuck at height {h}, waiting for {height}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl Cluster {
    /// Stops every running node.
    pub async fn shutdown(mut self) {
        for i in 0..self.nodes.len() {
            let _ = self.stop_node(i).await;
        }
    }
}

/// Registers `issuer` and `reviewer` (signed by `governors`) and creates
/// the series `name`, approved by the reviewer, through `client`; waits for
/// each to commit. Returns the series id.
pub async fn register_and_create_series(
    client: &HttpClient,
    chain: &str,
    governors: &[&Keypair],
    issuer: &Keypair,
    reviewer: &Keypair,
    name: &str,
    max_supply: u32,
) -> SeriesId {
    for body in [
        TxBody::RegisterIssuer { issuer: issuer.public(), name: "Museum".into(), nonce: 1 },
        TxBody::RegisterReviewer { reviewer: reviewer.public(), name: "Board".into(), nonce: 2 },
    ] {
        let id = client.submit_tx(body.sign(chain, governors)).await.unwrap();
        assert!(matches!(wait_final(client, id).await, TxStatus::Committed { .. }));
    }
    create_series(client, chain, issuer, reviewer, name, max_supply).await
}

/// Creates a plain series of a registered issuer, approved by a registered
/// reviewer (content hash `SHA-256(name)`), and waits for its commit.
pub async fn create_series(
    client: &HttpClient,
    chain: &str,
    issuer: &Keypair,
    reviewer: &Keypair,
    name: &str,
    max_supply: u32,
) -> SeriesId {
    let subject = ReviewSubject {
        issuer: issuer.public(),
        name: name.into(),
        content_hash: ContentHash(sha256(name.as_bytes()).0),
        max_supply,
        metadata_uri: format!("https://museum.example/{name}.json"),
    };
    let approval = subject.approve(chain, reviewer);
    let tx = subject.into_body(None, approval).sign(chain, &[issuer]);
    let id = client.submit_tx(tx).await.unwrap();
    assert!(matches!(wait_final(client, id).await, TxStatus::Committed { .. }));
    ids::series_id(chain, &issuer.public(), name)
}

/// Cluster helper: registers the issuer and reviewer (2-of-3 governance) and creates a series, through node `via`.
pub async fn setup_series(c: &Cluster, via: usize, name: &str, max_supply: u32) -> SeriesId {
    let gov = [&c.governors[0], &c.governors[1]];
    register_and_create_series(&c.client(via), c.chain(), &gov, &c.issuer, &c.reviewer, name, max_supply)
        .await
}

impl TestNode {
    /// Registers the dev issuer and reviewer and creates a series.
    pub async fn setup_series(&self, name: &str, max_supply: u32) -> SeriesId {
        let gov = [&self.governor];
        register_and_create_series(
            &self.client(),
            self.chain(),
            &gov,
            &self.issuer,
            &self.reviewer,
            name,
            max_supply,
        )
        .await
    }
}

/// Cluster helper: a mint of `edition` of `series` to a test holder, signed by the issuer.
pub fn mint(c: &Cluster, series: SeriesId, edition: u32) -> SignedTx {
    TxBody::Mint { series_id: series, edition, holder: ids::holder_id("salt", &format!("u{edition}")) }
        .sign(c.chain(), &[&c.issuer])
}

/// Copies the directory `from` into `to` (created), recursively: backups and
/// corruption experiments on a stopped node's data directory.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl Cluster {
    /// Makes the home of a node outside the genesis validator set (a new
    /// organisation's, an auditor's): the genesis and config of node 0's home
    /// with a key of its own and no data. Returns its index; start it with
    /// [`Cluster::start_node`] once the others admit its key.
    pub fn add_home(&mut self) -> anyhow::Result<usize> {
        let i = self.homes.len();
        let home = self.dir.join(format!("node{i}"));
        std::fs::create_dir_all(home.join("keys"))?;
        for file in ["config.toml", "genesis.json"] {
            std::fs::copy(self.homes[0].join(file), home.join(file))?;
        }
        keepsake::keyfile::write(&home.join("keys/validator.json"), &keepsake::keyfile::generate()?)?;
        self.homes.push(home);
        self.nodes.push(None);
        self.p2p.push(None);
        self.tweak.push(|_| {});
        Ok(i)
    }

    /// Replaces node `i`'s key file with `key` (the node must be stopped):
    /// what an operator does after a key rotation is in force.
    pub fn replace_key(&self, i: usize, key: &Keypair) -> anyhow::Result<()> {
        let config = NodeConfig::load(&self.homes[i])?;
        std::fs::remove_file(&config.node.validator_key_file)?;
        keepsake::keyfile::write(&config.node.validator_key_file, key)
    }

    /// The validator key of node `i`, read from its home.
    pub fn validator_key(&self, i: usize) -> anyhow::Result<Keypair> {
        let config = NodeConfig::load(&self.homes[i])?;
        keepsake::keyfile::read(&config.node.validator_key_file)
    }

    /// A libp2p configuration for a test process that joins the running nodes
    /// `dial` (their gossip, as a genesis validator would): listens on
    /// 127.0.0.1, admits the genesis validators, dials those nodes.
    pub fn gossip_config(&self, dial: &[usize]) -> keepsake_network::NetworkConfig {
        let mut config =
            keepsake_network::NetworkConfig::new(self.chain().to_string(), "127.0.0.1:0".parse().unwrap());
        config.allowed = self.genesis.validators.iter().map(|v| v.public_key).collect();
        config.bootstrap = dial
            .iter()
            .map(|&i| {
                let node = self.nodes[i].as_ref().expect("a node to dial is running");
                (node.public_key(), node.p2p_addr)
            })
            .collect();
        config
    }
}

/// How a [`LyingRpc`] answers one call: `Ok(raw JSON text of the result)`,
/// written into the response as it is (so it can hold numbers no `u64`
/// holds, or anything else), or `Err((JSON-RPC error number, message))`.
pub type LyingAnswer = Result<String, (i64, String)>;

type Answerer = std::sync::Arc<dyn Fn(&str, &serde_json::Value) -> LyingAnswer + Send + Sync>;

/// A JSON-RPC 2.0 server over HTTP/1.1 on 127.0.0.1 port 0 whose answers
/// are written by the test: a node that lies, for hostile-source tests of
/// the auditor and the CLI. Every call (batches answered call by call) goes
/// to `answer(method, params)`. It runs on a runtime of its own in a thread
/// of its own, so a test may block its own threads on the client side; it
/// stops when dropped.
pub struct LyingRpc {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl LyingRpc {
    /// Starts serving.
    pub fn start(answer: impl Fn(&str, &serde_json::Value) -> LyingAnswer + Send + Sync + 'static) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("bound address"));
        let answer: Answerer = std::sync::Arc::new(answer);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            tokio::spawn(serve_lies(stream, answer.clone()));
                        }
                    }
                }
            });
        });
        LyingRpc { url, stop: Some(stop) }
    }
}

impl Drop for LyingRpc {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves the HTTP/1.1 requests of one connection (keep-alive) until the client closes it.
async fn serve_lies(mut stream: tokio::net::TcpStream, answer: Answerer) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = lie(&buf[head_end..head_end + len], &answer);
        buf.drain(..head_end + len);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(head.as_bytes()).await.is_err()
            || stream.write_all(body.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

/// The JSON-RPC response to a request body (a call or a batch of calls).
fn lie(body: &[u8], answer: &Answerer) -> String {
    let one = |call: &serde_json::Value| {
        let id = call.get("id").cloned().unwrap_or(serde_json::Value::Null);
        let method = call.get("method").and_then(|m| m.as_str()).unwrap_or_default();
        let params = call.get("params").cloned().unwrap_or(serde_json::Value::Null);
        match answer(method, &params) {
            Ok(result) => format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{result}}}"#),
            Err((code, message)) => serde_json::json!({
                "jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}
            })
            .to_string(),
        }
    };
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(calls)) => {
            format!("[{}]", calls.iter().map(one).collect::<Vec<_>>().join(","))
        }
        Ok(call) => one(&call),
        Err(e) => serde_json::json!({
            "jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": e.to_string()}
        })
        .to_string(),
    }
}

/// A mint acknowledged by a node (`submitTx` answered with its id).
#[derive(Clone, Debug)]
pub struct Acked {
    /// The edition minted.
    pub edition: u32,
    /// The transaction id the node answered.
    pub id: TxId,
    /// Index of the node that acknowledged it.
    pub via: usize,
}

/// What a [`MintLoad`] did.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// Every acknowledged mint, in acknowledgement order.
    pub acked: Vec<Acked>,
    /// Mints a node refused with a JSON-RPC error (code and message): none is expected.
    pub refused: Vec<String>,
    /// Submissions that got no answer (unreachable node, timeout): not acknowledged, so
    /// the test may not expect them committed.
    pub unanswered: u64,
    /// Ticks skipped because too many submissions were in flight.
    pub skipped: u64,
}

/// Most submissions of a [`MintLoad`] in flight at once (ticks beyond are skipped).
pub const LOAD_IN_FLIGHT_MAX: usize = 64;
/// A [`MintLoad`] submission without an answer after this is counted unanswered.
pub const LOAD_SUBMIT_TIMEOUT: Duration = Duration::from_secs(5);

/// A steady mint load in the background: `per_second` mints of `series`
/// (editions 1, 2, ... in order, each submitted once), each to the next of
/// the current targets in turn, recording every acknowledged one. Targets
/// are any list of nodes' RPC clients and can change while it runs (a node
/// cut off, a node that joined). Bounded: at most [`LOAD_IN_FLIGHT_MAX`]
/// submissions in flight, each given up after [`LOAD_SUBMIT_TIMEOUT`].
pub struct MintLoad {
    targets: std::sync::Arc<std::sync::Mutex<Vec<(usize, HttpClient)>>>,
    report: std::sync::Arc<std::sync::Mutex<LoadReport>>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MintLoad {
    /// Starts the load on the current runtime.
    pub fn start(
        chain: &str,
        issuer: &Keypair,
        series: SeriesId,
        targets: Vec<(usize, HttpClient)>,
        per_second: u32,
    ) -> Self {
        use std::sync::{Arc, Mutex};
        let targets = Arc::new(Mutex::new(targets));
        let report = Arc::new(Mutex::new(LoadReport::default()));
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let (chain, issuer) = (chain.to_string(), issuer.clone());
        let (t, r) = (targets.clone(), report.clone());
        let task = tokio::spawn(async move {
            let permits = Arc::new(tokio::sync::Semaphore::new(LOAD_IN_FLIGHT_MAX));
            let mut ticker = tokio::time::interval(Duration::from_secs(1) / per_second.max(1));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut in_flight = tokio::task::JoinSet::new();
            let (mut edition, mut turn) = (0u32, 0usize);
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = ticker.tick() => {}
                }
                while in_flight.try_join_next().is_some() {}
                let Some((via, client)) = ({
                    let t = t.lock().expect("not poisoned");
                    turn = turn.wrapping_add(1);
                    (!t.is_empty()).then(|| t[turn % t.len()].clone())
                }) else {
                    continue;
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    r.lock().expect("not poisoned").skipped += 1;
                    continue;
                };
                edition += 1;
                let tx = TxBody::Mint {
                    series_id: series,
                    edition,
                    holder: ids::holder_id("salt", &format!("u{edition}")),
                }
                .sign(&chain, &[&issuer]);
                let r = r.clone();
                in_flight.spawn(async move {
                    let answer = tokio::time::timeout(LOAD_SUBMIT_TIMEOUT, client.submit_tx(tx)).await;
                    let mut r = r.lock().expect("not poisoned");
                    match answer {
                        Ok(Ok(id)) => r.acked.push(Acked { edition, id, via }),
                        Ok(Err(jsonrpsee::core::client::Error::Call(e))) => r.refused.push(format!(
                            "edition {edition} via node {via}: {} {}",
                            e.code(),
                            e.message()
                        )),
                        _ => r.unanswered += 1,
                    }
                    drop(permit);
                });
            }
            while in_flight.join_next().await.is_some() {}
        });
        MintLoad { targets, report, stop, task }
    }

    /// Replaces the nodes the load goes to.
    pub fn set_targets(&self, targets: Vec<(usize, HttpClient)>) {
        *self.targets.lock().expect("not poisoned") = targets;
    }

    /// Mints acknowledged so far.
    pub fn acked(&self) -> usize {
        self.report.lock().expect("not poisoned").acked.len()
    }

    /// The mints acknowledged after the first `n`, so far.
    pub fn acked_since(&self, n: usize) -> Vec<Acked> {
        self.report.lock().expect("not poisoned").acked.get(n..).unwrap_or_default().to_vec()
    }

    /// Stops submitting, waits for the submissions in flight, and reports.
    pub async fn stop(self) -> LoadReport {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.report.lock().expect("not poisoned").clone()
    }
}
