//! Wiring: opens the store, starts the block producer and the JSON-RPC
//! server on the tokio runtime, and shuts both down cleanly.
//!
//! [`start`] is what `keepsake start`/`dev` call and what tests call
//! in-process with port 0: it returns a [`RunningNode`] with the bound address.

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use jsonrpsee::server::{BatchRequestConfig, ServerBuilder, ServerConfig};
use keepsake_rpc::KeepsakeApiServer;
use keepsake_rpc::types::BlockSummary;
use keepsake_store::Store;
use keepsake_types::{Genesis, Keypair};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinHandle;

use crate::config::{GENESIS_FILE_MAX, NodeConfig, read_bounded};
use crate::engine::{Engine, EngineError};
use crate::mempool::Mempool;
use crate::metrics::Metrics;
use crate::ops::OpsLayer;
use crate::rpc_server::RpcImpl;

/// Capacity of the new-block broadcast (slow subscribers skip ahead).
const BLOCK_EVENTS_CAPACITY: usize = 256;

/// State shared by the producer, the RPC handlers and `/health`.
pub struct Shared {
    /// The database.
    pub store: Arc<Store>,
    /// The genesis.
    pub genesis: Arc<Genesis>,
    /// This validator's public key.
    pub validator: keepsake_types::PublicKey,
    /// Pending transactions.
    pub mempool: Mutex<Mempool>,
    /// Metrics.
    pub metrics: Metrics,
    /// Wakes the producer when a transaction is admitted.
    pub new_tx: Notify,
    /// Committed blocks, for subscriptions.
    pub blocks: broadcast::Sender<BlockSummary>,
    /// Set when block production stopped on a fault.
    pub halted: Mutex<Option<String>>,
}

impl Shared {
    /// Locks the mempool. A poisoned lock means a panic while holding it: a bug.
    pub fn mempool(&self) -> std::sync::MutexGuard<'_, Mempool> {
        self.mempool.lock().expect("mempool lock poisoned: a panic happened while it was held")
    }

    /// `(healthy, JSON body)` for `/health`.
    pub fn health(&self) -> (bool, String) {
        let halted = self.halted.lock().expect("halted lock is never poisoned").clone();
        let height = self.metrics.height.load(Relaxed);
        match halted {
            None => (true, serde_json::json!({"status": "ok", "height": height}).to_string()),
            Some(reason) => (
                false,
                serde_json::json!({"status": "halted", "height": height, "reason": reason}).to_string(),
            ),
        }
    }
}

/// A running node.
pub struct RunningNode {
    /// Where JSON-RPC (HTTP and WebSocket), `/health` and `/metrics` listen.
    pub rpc_addr: SocketAddr,
    /// Shared state (tests inspect metrics and the store through it).
    pub shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    producer: JoinHandle<Result<(), EngineError>>,
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

    /// Runs until `stop` resolves (then shuts down cleanly) or block
    /// production stops on a fault (then returns that fault).
    pub async fn run_until(mut self, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        tokio::select! {
            () = stop => {
                tracing::info!("shutting down");
                self.shutdown().await
            }
            result = &mut self.producer => {
                let _ = self.rpc.stop();
                self.rpc.clone().stopped().await;
                match result {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(anyhow::Error::new(e).context("block production stopped")),
                    Err(join) => Err(anyhow::anyhow!("block producer panicked: {join}")),
                }
            }
        }
    }

    /// Stops the RPC server and the producer, letting an in-flight block finish
    /// (its write is atomic either way).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let _ = self.rpc.stop();
        self.rpc.clone().stopped().await;
        match self.producer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("block production stopped")),
            Err(join) => Err(anyhow::anyhow!("block producer panicked: {join}")),
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Loads the genesis and key named by `config`, opens the store and starts
/// the producer and the RPC server.
pub async fn start(config: NodeConfig) -> anyhow::Result<RunningNode> {
    let genesis_text = read_bounded(&config.node.genesis_file, GENESIS_FILE_MAX)?;
    let genesis = Genesis::from_json(&genesis_text)
        .with_context(|| format!("invalid genesis {}", config.node.genesis_file.display()))?;
    let key = crate::keyfile::read(&config.node.validator_key_file)?;
    start_with(config, genesis, key).await
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
    let store = Arc::new(store);
    let engine = Engine::new(store.clone(), genesis.clone(), key.clone())?;
    let tip = engine.tip()?;
    tracing::info!(chain_id = %genesis.chain_id, height = tip.height, hash = %tip.hash, validator = %key.public(), "node starting");

    let (blocks, _) = broadcast::channel(BLOCK_EVENTS_CAPACITY);
    let shared = Arc::new(Shared {
        store,
        genesis,
        validator: key.public(),
        mempool: Mutex::new(Mempool::new(config.mempool.clone())),
        metrics: Metrics::default(),
        new_tx: Notify::new(),
        blocks,
        halted: Mutex::new(None),
    });
    shared.metrics.height.store(tip.height, Relaxed);

    let (shutdown, shutdown_rx) = watch::channel(false);
    let producer = tokio::spawn(produce_blocks(
        shared.clone(),
        Arc::new(engine),
        Duration::from_millis(config.block.batch_wait_ms),
        shutdown_rx,
    ));

    let rpc_cfg = &config.rpc;
    let server_config = ServerConfig::builder()
        .max_request_body_size(rpc_cfg.max_request_bytes)
        .max_response_body_size(rpc_cfg.max_response_bytes)
        .max_connections(rpc_cfg.max_connections)
        .max_subscriptions_per_connection(rpc_cfg.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(rpc_cfg.max_batch_requests))
        .build();
    let server = ServerBuilder::with_config(server_config)
        .set_http_middleware(tower::ServiceBuilder::new().layer(OpsLayer::new(shared.clone())))
        .build(rpc_cfg.listen)
        .await
        .with_context(|| format!("cannot listen for RPC on {}", rpc_cfg.listen))?;
    let rpc_addr = server.local_addr().context("RPC server has no local address")?;
    let module = RpcImpl::new(shared.clone(), rpc_cfg.max_batch_txs).into_rpc();
    let rpc = server.start(module);
    tracing::info!(%rpc_addr, "JSON-RPC listening (HTTP and WebSocket; GET /health, /metrics)");
    Ok(RunningNode { rpc_addr, shared, shutdown, producer, rpc })
}

/// The producer loop: waits for pending transactions, then commits blocks
/// until the mempool is empty. Returns only on shutdown or on a fault.
async fn produce_blocks(
    shared: Arc<Shared>,
    engine: Arc<Engine>,
    batch_wait: Duration,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), EngineError> {
    let block_txs_max = shared.genesis.params.block_txs_max as usize;
    loop {
        if shared.mempool().is_empty() {
            tokio::select! {
                () = shared.new_tx.notified() => {}
                _ = shutdown.changed() => return Ok(()),
            }
            // Let a burst accumulate into one block.
            tokio::select! {
                () = tokio::time::sleep(batch_wait) => {}
                _ = shutdown.changed() => return Ok(()),
            }
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        let candidates = shared.mempool().peek(block_txs_max);
        if candidates.is_empty() {
            continue;
        }
        let started = Instant::now();
        let engine_for_task = engine.clone();
        let produced = tokio::task::spawn_blocking(move || engine_for_task.produce(candidates, now_ms()))
            .await
            .expect("the block production task does not panic");
        let produced = match produced {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "block production halted");
                *shared.halted.lock().expect("halted lock is never poisoned") = Some(e.to_string());
                return Err(e);
            }
        };
        let m = &shared.metrics;
        m.block_commit_micros_sum.fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        let mut pool = shared.mempool();
        match &produced {
            Some(p) => {
                let h = &p.block.header;
                pool.remove(&p.committed);
                m.height.store(h.height, Relaxed);
                m.blocks_committed.fetch_add(1, Relaxed);
                m.txs_committed.fetch_add(p.committed.len() as u64, Relaxed);
                tracing::info!(height = h.height, hash = %p.commit.block_hash, txs = h.tx_count, log_size = h.log_size, "block committed");
                let _ = shared.blocks.send(BlockSummary {
                    height: h.height,
                    hash: p.commit.block_hash,
                    time_ms: h.time_ms,
                    tx_count: h.tx_count,
                    log_size: h.log_size,
                    log_root: h.log_root,
                });
            }
            None => tracing::debug!("no valid candidate; no block"),
        }
        let left_out = produced.map(|p| p.left_out).unwrap_or_default();
        let ids: Vec<_> = left_out.iter().map(|(id, _)| *id).collect();
        pool.remove(&ids);
        for (id, e) in left_out {
            tracing::info!(tx_id = %id, code = e.code(), reason = %e, "transaction left out of the block");
            m.rejected("block", e.code());
            pool.remember_rejection(id, e);
        }
        m.mempool_txs.store(pool.len() as u64, Relaxed);
        m.mempool_bytes.store(pool.bytes() as u64, Relaxed);
    }
}
