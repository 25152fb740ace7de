//! Harness for workspace-level tests: real nodes (real sled on disk, real
//! JSON-RPC on 127.0.0.1 port 0) started in-process, their dev keys, and a
//! raw HTTP helper for hostile-input tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jsonrpsee::http_client::HttpClient;
use keepsake::config::NodeConfig;
use keepsake::node::RunningNode;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::{Genesis, Keypair, TxId};
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
