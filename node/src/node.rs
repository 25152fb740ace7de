//! Wiring: opens the store, starts libp2p, the consensus driver, the
//! network dispatcher and the JSON-RPC server on the tokio runtime, and
//! shuts them down cleanly.
//!
//! [`start`] is what `keepsake start`/`dev` call and what tests call
//! in-process with port 0: it returns a [`RunningNode`] with the bound
//! addresses. Needs a multi-threaded runtime (block execution runs in
//! `block_in_place`).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use jsonrpsee::server::{BatchRequestConfig, ServerBuilder, ServerConfig};
use keepsake_consensus::{ConsensusConfig, WalEntry};
use keepsake_engine::{ClockBounds, EngineConfig, Mempool, VerifiedSet};
use keepsake_network::{NetworkConfig, NetworkHandle};

/// Room left in a gossip message for a proposal's header, signature and encoding overhead.
const PROPOSAL_HEADROOM_BYTES: usize = 64 * 1024;
use keepsake_store::Store;
use keepsake_types::{Genesis, Keypair};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{GENESIS_FILE_MAX, NodeConfig, read_bounded};
use crate::executor::ExecutorSettings;
use crate::metrics::Metrics;
use crate::ops::OpsLayer;
pub use crate::shared::{Shared, now_ms, supervise};
use crate::wal::{SignStateFile, Wal};

/// Ask some peer for blocks at least this often, even when nobody seems ahead.
const SYNC_PROBE_MS: u64 = 2_000;
/// Least time between two block-sync requests.
const SYNC_RETRY_MS: u64 = 300;
/// Capacity of the new-block broadcast (slow subscribers skip ahead).
const BLOCK_EVENTS_CAPACITY: usize = 256;
/// Transactions admitted over RPC that may wait to be gossiped (beyond it, an
/// admission call's transactions are not gossiped: counted in
/// `keepsake_p2p_dropped_total`, they reach the others in our proposals).
const TX_GOSSIP_CAPACITY: usize = 20_000;

/// A running node.
pub struct RunningNode {
    /// Where JSON-RPC (HTTP and WebSocket), `/health` and `/metrics` listen.
    pub rpc_addr: SocketAddr,
    /// Where libp2p listens.
    pub p2p_addr: SocketAddr,
    /// Shared state (tests inspect metrics and the store through it).
    pub shared: Arc<Shared>,
    /// The network handle.
    pub net: NetworkHandle,
    /// The JSON-RPC methods the server registered (`RpcModule::method_names`), sorted.
    pub rpc_methods: Vec<&'static str>,
    shutdown: watch::Sender<bool>,
    driver: JoinHandle<anyhow::Result<()>>,
    rpc: jsonrpsee::server::ServerHandle,
}

impl RunningNode {
    /// `http://ADDR` of the RPC server.
    pub fn rpc_url(&self) -> String {
        format!("http://{}", self.rpc_addr)
    }

    /// `ws://ADDR` of the RPC server.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.rpc_addr)
    }

    /// This node's public key (its libp2p identity).
    pub fn public_key(&self) -> keepsake_types::PublicKey {
        self.shared.validator
    }

    /// Runs until `stop` resolves (then shuts down cleanly) or consensus
    /// stops on a fault (then returns that fault).
    pub async fn run_until(mut self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            () = stop => {
                tracing::info!("shutting down");
                self.shutdown().await
            }
            result = &mut self.driver => {
                self.shared.shutting_down.store(true, Relaxed);
                let _ = self.rpc.stop();
                self.rpc.clone().stopped().await;
                self.net.shutdown().await;
                flatten(result)
            }
        }
    }

    /// Stops the RPC server, the driver and the network. An in-flight block
    /// write finishes (it is atomic either way).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.shared.shutting_down.store(true, Relaxed);
        let _ = self.shutdown.send(true);
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        let result = flatten(self.driver.await);
        self.net.shutdown().await;
        result
    }
}

/// How long a start waits for its RPC port to be freed: a restart may begin
/// while the previous process of the same node is still closing its sockets
/// (a service manager restarting it, a quick Ctrl-C and start again).
pub const RPC_BIND_WAIT: Duration = Duration::from_secs(5);

/// Binds the RPC listener, waiting up to [`RPC_BIND_WAIT`] for a port in
/// use to be freed, and otherwise saying what to do.
async fn bind_rpc(addr: SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    let deadline = std::time::Instant::now() + RPC_BIND_WAIT;
    let mut waited = false;
    loop {
        match std::net::TcpListener::bind(addr) {
            Ok(listener) => {
                listener.set_nonblocking(true).context("RPC listener")?;
                if waited {
                    tracing::info!(%addr, "the RPC port was freed");
                }
                return Ok(listener);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && std::time::Instant::now() < deadline => {
                if !waited {
                    tracing::warn!(%addr, "the RPC port is in use; waiting up to {RPC_BIND_WAIT:?} for it to be freed");
                    waited = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => anyhow::bail!(
                "cannot listen for RPC on {addr}: the port is in use by another process (another Keepsake node?) \
                 and was not freed within {RPC_BIND_WAIT:?}. Stop that process, or choose another address: \
                 `--rpc 127.0.0.1:PORT` for `keepsake dev`, `[rpc] listen` in the home's config.toml"
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot listen for RPC on {addr}")),
        }
    }
}

fn flatten(result: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    match result {
        Ok(r) => r.context("consensus stopped"),
        Err(join) => Err(anyhow::anyhow!("consensus task panicked: {join}")),
    }
}

/// The consensus WAL, in the consensus directory.
pub const WAL_FILE: &str = "consensus.wal";
/// The sign-state file, in the consensus directory.
pub const SIGN_STATE_FILE: &str = "sign_state.json";

/// A validator without a sign-state file must not start: it cannot tell
/// "never signed" from "lost the record of what it signed", and signing
/// blind could double-sign. New homes get a "never signed" record
/// (`keepsake dev`, `keepsake testnet`, or `keepsake repair sign-state
/// --new-validator` for a home set up by hand); a lost one is repaired from
/// the network (docs/operations.md, "Lost sign-state"). A damaged file is
/// refused by `load`.
fn check_sign_state(
    sign_file: &SignStateFile,
    is_validator: bool,
    store_height: u64,
    wal_records: usize,
) -> anyhow::Result<()> {
    let last: Option<keepsake_consensus::SignedStep> = sign_file.load()?;
    if is_validator && last.is_none() {
        anyhow::bail!(
            "the sign-state file {} is missing (store at height {store_height}, {wal_records} WAL records). \
             If this validator key has never signed, run `keepsake repair sign-state --home <home> \
             --new-validator`; if its consensus directory was lost, run `keepsake repair sign-state --home \
             <home> --rpc <another node>` (docs/operations.md). Never copy a sign-state from another machine",
            sign_file.path().display()
        );
    }
    Ok(())
}

/// Loads the genesis and key named by `config` and starts the node.
pub async fn start(config: NodeConfig) -> anyhow::Result<RunningNode> {
    let genesis_text = read_bounded(&config.node.genesis_file, GENESIS_FILE_MAX)?;
    let genesis = Genesis::from_json(&genesis_text)
        .with_context(|| format!("invalid genesis {}", config.node.genesis_file.display()))?;
    let key = crate::keyfile::read(&config.node.validator_key_file)?;
    start_with(config, genesis, key).await
}

/// Fault injection for crash tests (node/tests/crash.rs): with this set to
/// `N`, the process aborts right after the history of its `N`-th committed
/// block is written and synced, before that block's state batch
/// (`Store::abort_after_history_write`). Never set it in production.
pub const FAIL_AFTER_HISTORY_ENV: &str = "KEEPSAKE_FAIL_AFTER_HISTORY";

fn fail_after_history() -> anyhow::Result<Option<u64>> {
    match std::env::var(FAIL_AFTER_HISTORY_ENV) {
        Err(_) => Ok(None),
        Ok(v) => v
            .parse::<u64>()
            .map(Some)
            .with_context(|| format!("{FAIL_AFTER_HISTORY_ENV}={v:?} is not a number of blocks")),
    }
}

/// [`start`] with the genesis and key already loaded.
pub async fn start_with(config: NodeConfig, genesis: Genesis, key: Keypair) -> anyhow::Result<RunningNode> {
    let genesis = Arc::new(genesis);
    let data_dir = config.node.data_dir.clone();
    let store = {
        let genesis = genesis.clone();
        tokio::task::spawn_blocking(move || Store::open(&data_dir, &genesis))
            .await
            .context("store open task failed")?
            .with_context(|| format!("cannot open the database in {}", config.node.data_dir.display()))?
    };
    if let Some(commits) = fail_after_history()? {
        tracing::warn!(
            commits,
            "{FAIL_AFTER_HISTORY_ENV} is set: this process will abort inside a block commit"
        );
        store.abort_after_history_write(commits);
    }
    let store = Arc::new(store);
    // The RPC port before anything starts: a port held by another program
    // fails the start here, with nothing running yet (not after consensus
    // and the network were started and left behind).
    let rpc_listener = bind_rpc(config.rpc.listen).await?;
    let tip = store.ledger_tip(&genesis)?;
    let is_validator = crate::membership::is_member(&store, &genesis, tip.height, &key.public())?;
    tracing::info!(chain_id = %genesis.chain_id, height = tip.height, hash = %tip.hash, key = %key.public(), is_validator, "node starting");

    // Consensus: WAL and sign-state in their own fsync'ed files, checked before anything starts.
    let consensus_dir = &config.node.consensus_dir;
    let (wal, wal_entries) = Wal::open::<WalEntry>(&consensus_dir.join(WAL_FILE))?;
    let sign_file = SignStateFile::new(&consensus_dir.join(SIGN_STATE_FILE));
    check_sign_state(&sign_file, is_validator, tip.height, wal_entries.len())?;

    // libp2p: only validators (in force and scheduled), observers registered by
    // governance, and the keys this node's config trusts may connect; the set
    // follows every committed block (crate::membership).
    let p2p = &config.p2p;
    let mut net_config = NetworkConfig::new(genesis.chain_id.to_string(), p2p.listen);
    net_config.bootstrap = p2p.bootstrap.iter().map(|p| (p.key, p.addr)).collect();
    let trusted_peers: Vec<_> =
        p2p.allow_list.iter().copied().chain(p2p.bootstrap.iter().map(|p| p.key)).collect();
    let admitted = crate::membership::admitted_keys(&store, &genesis, tip.height, &trusted_peers)?;
    net_config.allowed = admitted.iter().copied().collect();
    net_config.max_peers = p2p.max_peers;
    net_config.max_message_bytes = p2p.max_message_bytes;
    let (net, net_events) =
        keepsake_network::start(key.secret_seed(), net_config).await.context("cannot start libp2p")?;
    let p2p_addr = net.listen_addr().await?;

    let (blocks, _) = broadcast::channel(BLOCK_EVENTS_CAPACITY);
    let (gossip_tx, gossip_rx) = crate::shared::weighted_channel(TX_GOSSIP_CAPACITY);
    let shared = Arc::new(Shared {
        store,
        genesis,
        validator: key.public(),
        mempool: Mutex::new(Mempool::new(config.mempool.clone())),
        // Twice the pool: admitted transactions stay known until their block is validated;
        // the engine forgets them when it commits (the memo follows the backlog). Plus
        // room for two pre-verified block-sync answers (node/src/sync.rs).
        verified: Arc::new(VerifiedSet::new(crate::sync::memo_capacity(config.mempool.max_txs))),
        committed_height: AtomicU64::new(tip.height),
        last_commit_ms: AtomicU64::new(crate::shared::now_ms()),
        health_stale_after_ms: config.rpc.health_stale_after_ms,
        net: net.clone(),
        shutting_down: AtomicBool::new(false),
        metrics: Metrics::default(),
        new_tx: Notify::new(),
        blocks,
        gossip_tx,
        halted: Mutex::new(None),
        trusted_peers,
        admitted: Mutex::new(admitted),
    });
    shared.metrics.height.store(tip.height, Relaxed);

    let c = &config.consensus;
    let settings = ExecutorSettings {
        engine: EngineConfig {
            consensus: ConsensusConfig {
                timeout_propose_ms: c.timeout_propose_ms,
                timeout_prevote_ms: c.timeout_prevote_ms,
                timeout_precommit_ms: c.timeout_precommit_ms,
                timeout_delta_ms: c.timeout_delta_ms,
            },
            empty_block_wait_ms: c.empty_block_wait_ms,
            batch_wait_ms: config.block.batch_wait_ms,
            // Re-publish when stuck for a propose timeout (at least 100 ms).
            tick_ms: c.timeout_propose_ms.max(100),
            sync_probe_ms: SYNC_PROBE_MS,
            sync_retry_ms: SYNC_RETRY_MS,
            sync_batch_blocks: crate::net::SYNC_SERVE_BLOCKS_MAX,
            clock: ClockBounds { precision_ms: c.clock_precision_ms, message_delay_ms: c.message_delay_ms },
        },
        block_bytes_max: config.p2p.max_message_bytes.saturating_sub(PROPOSAL_HEADROOM_BYTES),
    };
    let (shutdown, shutdown_rx) = watch::channel(false);
    let (inbox, driver) = crate::executor::spawn(
        shared.clone(),
        key.clone(),
        settings,
        net.clone(),
        sign_file,
        wal,
        wal_entries,
        shutdown_rx,
    )?;
    let driver = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let result = flatten(driver.await);
            if let Err(e) = &result {
                tracing::error!(error = format!("{e:#}"), "node halted");
                shared.halt(format!("{e:#}"));
            }
            result
        })
    };
    supervise(
        &shared,
        "network dispatcher",
        crate::net::dispatch(shared.clone(), net.clone(), net_events, inbox, p2p.max_message_bytes),
    );
    supervise(
        &shared,
        "transaction gossip",
        crate::net::gossip_transactions(
            Arc::downgrade(&shared),
            net.clone(),
            gossip_rx,
            p2p.max_message_bytes,
        ),
    );

    let rpc_cfg = &config.rpc;
    let server_config = ServerConfig::builder()
        .max_request_body_size(rpc_cfg.max_request_bytes)
        .max_response_body_size(rpc_cfg.max_response_bytes)
        .max_connections(rpc_cfg.max_connections)
        .max_subscriptions_per_connection(rpc_cfg.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(rpc_cfg.max_batch_requests))
        .build();
    let server = ServerBuilder::with_config(server_config)
        .set_http_middleware(
            tower::ServiceBuilder::new().layer(OpsLayer::new(shared.clone(), rpc_cfg.max_request_bytes)),
        )
        .build_from_tcp(rpc_listener)
        .with_context(|| format!("cannot listen for RPC on {}", rpc_cfg.listen))?;
    let rpc_addr = server.local_addr().context("RPC server has no local address")?;
    let module = crate::rpc_server::rpc_module(shared.clone(), rpc_cfg.max_batch_txs)?;
    let mut rpc_methods: Vec<&'static str> = module.method_names().collect();
    rpc_methods.sort_unstable();
    let rpc = server.start(module);
    tracing::info!(%rpc_addr, %p2p_addr, "listening: JSON-RPC (HTTP, WebSocket, GET /health, /metrics) and libp2p");
    Ok(RunningNode { rpc_addr, p2p_addr, shared, net, rpc_methods, shutdown, driver, rpc })
}
