//! The command line. Subcommand names are part of the interface (docs, tests
//! and scripts outside this repository use them): change none without a
//! deprecation.
//!
//! Output convention: commands that create something print its id alone on
//! stdout (so `SERIES=$(keepsake tx create-series ...)` works) and their
//! progress on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::{
    Certificate, CertificateId, CertificateStatus, ContentHash, Genesis, HolderId, IssuerStatus, Keypair,
    PublicKey, ReviewSubject, SeriesId, TxBody, TxId, certificate::CERTIFICATE_FILE_MAX, hash::sha256, ids,
};

use crate::config::{GENESIS_FILE_MAX, NodeConfig, read_bounded};
use crate::keyfile;

/// Keepsake: a ledger node for digital collectibles that cannot be resold.
#[derive(Parser, Debug)]
#[command(name = "keepsake", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a one-validator development chain (creates its home on first use).
    Dev {
        /// Home directory of the dev chain.
        #[arg(long, default_value = "keepsake-dev")]
        home: PathBuf,
        /// JSON-RPC listen address (overrides the config for this run).
        #[arg(long)]
        rpc: Option<std::net::SocketAddr>,
        /// Delete the dev chain's data and keys first.
        #[arg(long)]
        reset: bool,
    },
    /// Run a node from a home directory holding config.toml.
    Start {
        /// Home directory.
        #[arg(long)]
        home: PathBuf,
    },
    /// Write genesis, keys and configs for N local validators (then `keepsake start --home DIR/nodeI`).
    Testnet {
        /// Number of validators.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Output directory (must not hold a testnet yet).
        #[arg(long)]
        dir: PathBuf,
        /// Chain id.
        #[arg(long, default_value = "keepsake-testnet")]
        chain_id: String,
        /// RPC port of node0; node i listens on this + i.
        #[arg(long, default_value_t = crate::DEFAULT_RPC_PORT)]
        rpc_base_port: u16,
        /// libp2p port of node0; node i listens on this + i.
        #[arg(long, default_value_t = 26656)]
        p2p_base_port: u16,
    },
    /// Key files.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Build, sign locally, submit and wait for a transaction.
    Tx {
        #[command(subcommand)]
        command: TxCommand,
    },
    /// Print the holder commitment of a real-name account (no personal data leaves the platform).
    HolderId {
        /// The platform's account id of the user.
        #[arg(long)]
        account: String,
        /// The platform's secret salt.
        #[arg(long)]
        salt: String,
    },
    /// Certificates: fetch from a node, verify offline.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Re-verify a whole chain from genesis, trusting nothing but the genesis
    /// file (exit 0: pass, 1: anomaly or alert, 2: could not audit).
    Audit(AuditArgs),
    /// Recovery tools for a stopped node (docs/operations.md).
    Repair {
        #[command(subcommand)]
        command: RepairCommand,
    },
    /// Benchmarks (programs that print figures; see docs/benchmarks.md).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Print the status of a node.
    Status {
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(Args, Debug)]
struct AuditArgs {
    /// The chain's genesis file (the only thing trusted).
    #[arg(long)]
    genesis: PathBuf,
    /// A stopped node's data directory (HOME/data) or a copy of it.
    #[arg(long, conflicts_with = "rpc")]
    data_dir: Option<PathBuf>,
    /// A node's JSON-RPC URL; repeat with --follow to watch several nodes.
    /// Without --rpc and --data-dir: $KEEPSAKE_RPC, else http://127.0.0.1:8645.
    #[arg(long)]
    rpc: Vec<String>,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// After the audit, keep following the nodes: replay each new block of
    /// the first, check every node's new checkpoints for forks and rewrites.
    #[arg(long, conflicts_with = "data_dir")]
    follow: bool,
    /// Polling interval of --follow, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    poll_ms: u64,
    /// With --follow: stop, passing, once every node reached this height.
    #[arg(long, requires = "follow")]
    until_height: Option<u64>,
}

#[derive(Subcommand, Debug)]
enum RepairCommand {
    /// Write a safe sign-state for a validator whose sign-state file was lost
    /// or damaged (it will not sign at or below any height it may have signed
    /// at: its WAL, its store's tip + 1, the network's height + 1), or the
    /// first record of a validator set up by hand (--new-validator).
    SignState {
        /// The validator's home directory (the node must be stopped).
        #[arg(long)]
        home: PathBuf,
        /// Nodes of the chain, asked for the network's height (their tip
        /// block's commit is verified); repeat for several, the highest counts.
        #[arg(long, required_unless_present_any = ["offline", "new_validator"])]
        rpc: Vec<String>,
        /// Use only the local WAL and store (enough when only the sign-state
        /// file was lost, not the data directory).
        #[arg(long, conflicts_with_all = ["rpc", "new_validator"])]
        offline: bool,
        /// Assert that this key has never signed (a home set up by hand):
        /// refused when the home has any history.
        #[arg(long, conflicts_with = "rpc")]
        new_validator: bool,
        /// Raise an intact sign-state to the computed floor (never lowers it).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Mint throughput of a one-validator node over JSON-RPC, with this
    /// machine's signature-verification rate measured in the same run.
    Mint {
        /// Mints per run.
        #[arg(long, default_value_t = 10_000)]
        editions: u32,
        /// Transactions per submitTxs call.
        #[arg(long, default_value_t = 1_000)]
        batch: usize,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// A drop on a real local cluster: N validator processes, a burst of
    /// mints through JSON-RPC until sold out on every validator, then finality
    /// latency under a steady load; with this machine's verification bound.
    Drop {
        /// Validator processes to start.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Editions of the drop (all submitted at once).
        #[arg(long, default_value_t = 10_000)]
        editions: u32,
        /// Transactions per submitTxs call during the burst.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Offered mints per second in the steady phase (0 skips it).
        #[arg(long, default_value_t = 1_000)]
        rate: u32,
        /// Seconds of steady load.
        #[arg(long, default_value_t = 30)]
        seconds: u32,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Keep the cluster directory (homes, logs) after the run.
        #[arg(long)]
        keep: bool,
    },
    /// Offline certificate verifications per second on one core, one by one
    /// and as a batch, for certificates of a real local cluster.
    Verify {
        /// Validator processes of the chain the certificates come from.
        #[arg(long, default_value_t = 4)]
        validators: usize,
        /// Certificates to mint and verify.
        #[arg(long, default_value_t = 2_000)]
        certificates: u32,
        /// Print the figures as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Whole-chain audit speed (`keepsake audit --data-dir`) over a dev chain
    /// of mints, and offline certificate verifications per second.
    Audit {
        /// Mints in the chain.
        #[arg(long, default_value_t = 10_000)]
        editions: u32,
        /// Audit runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Generate a new ed25519 key file (mode 0600) and print its public key.
    Generate {
        /// Where to write the key file (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a key file.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Args, Debug, Clone)]
struct RpcArgs {
    /// URL of a node's JSON-RPC endpoint.
    #[arg(long, env = "KEEPSAKE_RPC", default_value = crate::DEFAULT_RPC_URL)]
    rpc: String,
}

#[derive(Args, Debug, Clone)]
struct SubmitArgs {
    #[command(flatten)]
    rpc: RpcArgs,
    /// Give up waiting for the commit after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

#[derive(Args, Debug, Clone)]
struct GovernorArgs {
    /// A governor key file; repeat for k of n.
    #[arg(long = "governor-key", required = true)]
    governor_keys: Vec<PathBuf>,
    /// Governance nonce (default: random).
    #[arg(long)]
    nonce: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StatusArg {
    Active,
    Suspended,
}

#[derive(Subcommand, Debug)]
enum TxCommand {
    /// Governance: register an issuer.
    RegisterIssuer {
        /// The issuer's public key (hex).
        #[arg(long, conflicts_with = "issuer_key", required_unless_present = "issuer_key")]
        issuer: Option<PublicKey>,
        /// Or the issuer's key file (only its public key is used).
        #[arg(long)]
        issuer_key: Option<PathBuf>,
        /// The issuer's display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: suspend or reactivate an issuer.
    SetIssuerStatus {
        /// The issuer's public key.
        #[arg(long)]
        issuer: PublicKey,
        /// The new status.
        #[arg(long, value_enum)]
        status: StatusArg,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: register a content reviewer.
    RegisterReviewer {
        /// The reviewer's public key (hex).
        #[arg(long, conflicts_with = "reviewer_key", required_unless_present = "reviewer_key")]
        reviewer: Option<PublicKey>,
        /// Or the reviewer's key file (only its public key is used).
        #[arg(long)]
        reviewer_key: Option<PathBuf>,
        /// The reviewer's display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: remove a content reviewer.
    RemoveReviewer {
        /// The reviewer's public key.
        #[arg(long)]
        reviewer: PublicKey,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Create a series (prints the series id). The reviewer's approval is
    /// signed locally with --reviewer-key.
    CreateSeries {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The reviewer's key file (signs the approval of exactly these terms).
        #[arg(long)]
        reviewer_key: PathBuf,
        /// Series name (unique per issuer).
        #[arg(long)]
        name: String,
        /// The artwork file (its SHA-256 is the content hash).
        #[arg(long, conflicts_with = "content_hash", required_unless_present = "content_hash")]
        content_file: Option<PathBuf>,
        /// Or the artwork's SHA-256, hex.
        #[arg(long)]
        content_hash: Option<ContentHash>,
        /// Edition cap.
        #[arg(long)]
        max_supply: u32,
        /// Metadata URI.
        #[arg(long)]
        metadata_uri: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Mint one edition to a holder (prints the certificate id).
    Mint {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The series id.
        #[arg(long, conflicts_with = "series_name", required_unless_present = "series_name")]
        series: Option<SeriesId>,
        /// Or the series name (with the issuer's key it determines the id).
        #[arg(long)]
        series_name: Option<String>,
        /// Edition number (1 ..= max supply).
        #[arg(long)]
        edition: u32,
        /// The holder commitment (`keepsake holder-id`).
        #[arg(long)]
        holder: HolderId,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Revoke a certificate (the issuer's key, or k governor keys).
    Revoke {
        /// Signing key file(s).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// The certificate id.
        #[arg(long)]
        certificate: CertificateId,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Try to transfer a certificate. Always refused: Keepsake has no
    /// secondary trading. Exists so you can see the refusal.
    Transfer {
        /// Signing key file.
        #[arg(long)]
        key: PathBuf,
        /// The certificate id.
        #[arg(long)]
        certificate: CertificateId,
        /// The would-be new holder.
        #[arg(long)]
        to: HolderId,
        #[command(flatten)]
        submit: SubmitArgs,
    },
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Fetch a certificate with its proofs and write it to a file.
    Get {
        /// The certificate id.
        id: CertificateId,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Re-anchor a certificate to the node's latest checkpoint, linked to its
    /// old checkpoint by a consistency proof (verified before writing).
    Refresh {
        /// The certificate file.
        file: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
        /// Where to write the refreshed certificate (default: over FILE).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Ask a node whether a certificate is active or revoked, and verify the
    /// answer offline (a revocation carries its own inclusion proof).
    Status {
        /// The certificate file.
        file: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
        /// Verify this saved answer instead of asking a node.
        #[arg(long)]
        answer: Option<PathBuf>,
        /// Save the node's answer to this file (to verify again later, offline).
        #[arg(long, conflicts_with = "answer")]
        save: Option<PathBuf>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Verify a certificate offline against a genesis file.
    Verify {
        /// The certificate file.
        file: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Sets up `tracing` to stderr (`RUST_LOG` filters; default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    runtime.block_on(run_async(cli))
}

async fn run_async(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Dev { home, rpc, reset } => {
            if reset && home.exists() {
                std::fs::remove_dir_all(&home)
                    .with_context(|| format!("cannot remove {}", home.display()))?;
            }
            let listen = rpc.unwrap_or_else(|| crate::config::RpcSection::default().listen);
            if crate::dev::init_home(&home, listen)? {
                eprintln!("created dev chain home {}", home.display());
            }
            let mut config = NodeConfig::load(&home)?;
            if let Some(addr) = rpc {
                config.rpc.listen = addr;
            }
            run_node(config, &home, true).await
        }
        Command::Start { home } => run_node(NodeConfig::load(&home)?, &home, false).await,
        Command::Testnet { validators, dir, chain_id, rpc_base_port, p2p_base_port } => {
            let spec = crate::testnet::TestnetSpec { validators, chain_id, rpc_base_port, p2p_base_port };
            for home in crate::testnet::generate(&dir, &spec)? {
                println!("{}", home.display());
            }
            eprintln!(
                "wrote a {validators}-validator testnet in {}; run each node with: keepsake start --home {}/nodeI",
                dir.display(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command } => keys(command),
        Command::HolderId { account, salt } => {
            if account.is_empty() || salt.is_empty() {
                bail!("--account and --salt must not be empty");
            }
            println!("{}", ids::holder_id(&salt, &account));
            Ok(ExitCode::SUCCESS)
        }
        Command::Tx { command } => tx(command).await,
        Command::Cert { command } => cert(command).await,
        Command::Repair {
            command: RepairCommand::SignState { home, rpc, offline, new_validator, force },
        } => {
            use crate::repair::RepairMode;
            let mode = if new_validator {
                RepairMode::NewValidator
            } else if offline {
                RepairMode::Offline
            } else {
                RepairMode::Network(&rpc)
            };
            let r = crate::repair::repair_sign_state(&home, mode, force).await?;
            println!(
                "sign-state written: this validator will not sign at or below height {} (previous record {}, \
                 WAL height {}, store height {}, network height {})",
                r.floor,
                r.previous_height.map_or("none".to_string(), |h| h.to_string()),
                r.wal_height,
                r.store_height,
                r.network_height.map_or("not asked".to_string(), |h| h.to_string())
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(args) => Ok(match audit(args).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("audit could not run: {e:#}");
                ExitCode::from(2)
            }
        }),
        Command::Bench { command: BenchCommand::Mint { editions, batch, runs } } => {
            crate::bench::run_mint(crate::bench::MintBench { editions, batch, runs }).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Drop { validators, editions, batch, rate, seconds, json, keep },
        } => {
            let params =
                crate::bench::drop::DropBench { validators, editions, batch, rate, seconds, json, keep };
            crate::bench::drop::run(params).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Verify { validators, certificates, json } } => {
            crate::bench::verify::run(validators, certificates, json).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Audit { editions, runs } } => {
            crate::bench::run_audit(editions, runs).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { rpc } => {
            let client = client(&rpc.rpc)?;
            let status = client.status().await.map_err(describe)?;
            println!("{}", serde_json::to_string_pretty(&status)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_node(config: NodeConfig, home: &Path, dev: bool) -> anyhow::Result<ExitCode> {
    let node = crate::node::start(config).await?;
    // Machine-readable first line (tests and scripts read the bound address).
    println!("rpc: {}", node.rpc_url());
    if dev {
        eprintln!(
            "Keepsake dev chain {:?} is running.\n  JSON-RPC  {}  (WebSocket: {})\n  health    {}/health   metrics {}/metrics\n  genesis   {}\n  keys      {}/keys/{{governor,issuer,reviewer,validator}}.json\nPress Ctrl-C to stop; the chain is kept in {}/data.",
            node.shared.genesis.chain_id,
            node.rpc_url(),
            node.ws_url(),
            node.rpc_url(),
            node.rpc_url(),
            home.join("genesis.json").display(),
            home.display(),
            home.display(),
        );
    }
    node.run_until(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn keys(command: KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Generate { out } => {
            let key = keyfile::generate()?;
            keyfile::write(&out, &key)?;
            eprintln!("wrote {}", out.display());
            println!("{}", key.public());
        }
        KeysCommand::Show { file } => println!("{}", keyfile::read(&file)?.public()),
    }
    Ok(ExitCode::SUCCESS)
}

/// An HTTP JSON-RPC client with bounded timeouts and sizes.
pub fn client(url: &str) -> anyhow::Result<HttpClient> {
    HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(60))
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
        .with_context(|| format!("invalid RPC URL {url:?}"))
}

/// Turns a client error into a precise message: the stable code and number
/// for Keepsake errors, the transport problem otherwise.
pub fn describe(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Call(obj) => match keepsake_rpc::error::stable_code(&obj) {
            Some(code) => anyhow::anyhow!("rejected: {code} ({}): {}", obj.code(), obj.message()),
            None => anyhow::anyhow!("RPC error {}: {}", obj.code(), obj.message()),
        },
        ClientError::Transport(t) => anyhow::anyhow!("cannot reach the node: {t}"),
        other => anyhow::anyhow!("RPC failure: {other}"),
    }
}

fn read_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<Keypair>> {
    paths.iter().map(|p| keyfile::read(p)).collect()
}

fn nonce_or_random(nonce: Option<u64>) -> anyhow::Result<u64> {
    match nonce {
        Some(n) => Ok(n),
        None => {
            let mut b = [0u8; 8];
            getrandom::getrandom(&mut b).context("the OS random number generator failed")?;
            Ok(u64::from_le_bytes(b))
        }
    }
}

async fn submit_and_wait(
    client: &HttpClient,
    chain: &str,
    body: TxBody,
    signers: &[Keypair],
    timeout: Duration,
) -> anyhow::Result<TxId> {
    let refs: Vec<&Keypair> = signers.iter().collect();
    let kind = body.kind();
    let tx = body.sign(chain, &refs);
    let id = client.submit_tx(tx).await.map_err(describe)?;
    eprintln!("submitted {kind} {id}");
    let deadline = Instant::now() + timeout;
    loop {
        match client.get_tx_status(id).await.map_err(describe)? {
            TxStatus::Committed { height, leaf_index, .. } => {
                eprintln!("committed at height {height} (log index {leaf_index})");
                return Ok(id);
            }
            TxStatus::Rejected { error } => bail!("rejected: {}: {}", error.code, error.message),
            TxStatus::Pending | TxStatus::Unknown => {}
        }
        if Instant::now() >= deadline {
            bail!("transaction {id} not committed after {}s; check later with its id", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A public key given directly, or read from a key file.
fn key_or_file(key: Option<PublicKey>, file: Option<PathBuf>, flags: &str) -> anyhow::Result<PublicKey> {
    match (key, file) {
        (Some(k), _) => Ok(k),
        (None, Some(path)) => Ok(keyfile::read(&path)?.public()),
        (None, None) => bail!("give {flags}"),
    }
}

async fn chain_of(client: &HttpClient) -> anyhow::Result<Genesis> {
    client.get_genesis().await.map_err(describe)
}

async fn tx(command: TxCommand) -> anyhow::Result<ExitCode> {
    match command {
        TxCommand::RegisterIssuer { issuer, issuer_key, name, gov, submit } => {
            let issuer = key_or_file(issuer, issuer_key, "--issuer or --issuer-key")?;
            let body = TxBody::RegisterIssuer { issuer, name, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
            println!("{issuer}");
        }
        TxCommand::SetIssuerStatus { issuer, status, gov, submit } => {
            let status = match status {
                StatusArg::Active => IssuerStatus::Active,
                StatusArg::Suspended => IssuerStatus::Suspended,
            };
            let body = TxBody::SetIssuerStatus { issuer, status, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::RegisterReviewer { reviewer, reviewer_key, name, gov, submit } => {
            let reviewer = key_or_file(reviewer, reviewer_key, "--reviewer or --reviewer-key")?;
            let body = TxBody::RegisterReviewer { reviewer, name, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
            println!("{reviewer}");
        }
        TxCommand::RemoveReviewer { reviewer, gov, submit } => {
            let body = TxBody::RemoveReviewer { reviewer, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::CreateSeries {
            key,
            reviewer_key,
            name,
            content_file,
            content_hash,
            max_supply,
            metadata_uri,
            submit,
        } => {
            let issuer = keyfile::read(&key)?;
            let reviewer = keyfile::read(&reviewer_key)?;
            let content_hash = match (content_hash, content_file) {
                (Some(h), _) => h,
                (None, Some(path)) => {
                    let bytes =
                        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    ContentHash(sha256(&bytes).0)
                }
                (None, None) => bail!("give --content-file or --content-hash"),
            };
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let subject = ReviewSubject {
                issuer: issuer.public(),
                name: name.clone(),
                content_hash,
                max_supply,
                metadata_uri: metadata_uri.clone(),
            };
            let approval = subject.approve(&chain, &reviewer);
            let body = TxBody::CreateSeries {
                issuer: issuer.public(),
                name: name.clone(),
                content_hash,
                max_supply,
                metadata_uri,
                approval,
            };
            submit_and_wait(
                &client,
                &chain,
                body,
                std::slice::from_ref(&issuer),
                Duration::from_secs(submit.timeout_secs),
            )
            .await?;
            println!("{}", ids::series_id(&chain, &issuer.public(), &name));
        }
        TxCommand::Mint { key, series, series_name, edition, holder, submit } => {
            let issuer = keyfile::read(&key)?;
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let series_id = match (series, series_name) {
                (Some(id), _) => id,
                (None, Some(name)) => ids::series_id(&chain, &issuer.public(), &name),
                (None, None) => bail!("give --series or --series-name"),
            };
            let body = TxBody::Mint { series_id, edition, holder };
            submit_and_wait(&client, &chain, body, &[issuer], Duration::from_secs(submit.timeout_secs))
                .await?;
            println!("{}", ids::certificate_id(&chain, &series_id, edition));
        }
        TxCommand::Revoke { keys, certificate, reason, submit } => {
            let body = TxBody::Revoke { certificate_id: certificate, reason };
            send(body, &read_keys(&keys)?, &submit).await?;
        }
        TxCommand::Transfer { key, certificate, to, submit } => {
            let body = TxBody::Transfer { certificate_id: certificate, to };
            send(body, &[keyfile::read(&key)?], &submit).await?;
            // Unreachable on any honest node: the chain refuses every transfer.
            eprintln!("warning: the node accepted a transfer; it is not a Keepsake node");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn send(body: TxBody, signers: &[Keypair], submit: &SubmitArgs) -> anyhow::Result<TxId> {
    let client = client(&submit.rpc.rpc)?;
    let chain = chain_of(&client).await?.chain_id;
    submit_and_wait(&client, &chain, body, signers, Duration::from_secs(submit.timeout_secs)).await
}

async fn cert(command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::Get { id, out, rpc } => {
            let client = client(&rpc.rpc)?;
            let response = client.get_certificate(id).await.map_err(describe)?;
            let json = serde_json::to_string_pretty(&response.certificate)?;
            std::fs::write(&out, json + "\n").with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "wrote {} (checkpoint height {})",
                out.display(),
                response.certificate.checkpoint.header.height
            );
            if let Some(r) = response.revocation {
                eprintln!(
                    "note: this certificate was REVOKED at height {} by {}: {}",
                    r.height, r.by, r.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Refresh { file, genesis, out, rpc } => {
            refresh(&file, &genesis, out.as_deref(), &rpc.rpc).await
        }
        CertCommand::Status { file, genesis, answer, save, json, rpc } => {
            status(&file, &genesis, answer.as_deref(), save.as_deref(), json, &rpc.rpc).await
        }
        CertCommand::Verify { file, genesis, json } => {
            let verdict = verify_files(&file, &genesis);
            match (&verdict, json) {
                (Ok(v), true) => println!("{}", serde_json::json!({"valid": true, "certificate": v})),
                (Err((code, message)), true) => {
                    println!("{}", serde_json::json!({"valid": false, "code": code, "reason": message}))
                }
                (Ok(v), false) => {
                    let r = &v.record;
                    println!("VALID certificate {}", v.certificate_id);
                    println!("  series        {} ({})", r.series_name, r.series_id);
                    println!("  edition       {} of {}", r.edition, r.max_supply);
                    println!("  holder        {}", r.holder);
                    println!("  issuer        {}", r.issuer);
                    println!("  content hash  {}", r.content_hash);
                    println!("  minted        height {} at {} ms since epoch", r.height, r.time_ms);
                    println!(
                        "  checkpoint    height {}, log size {}, signed by power {} of {}",
                        v.checkpoint_height, v.log_size, v.signed_power, v.total_power
                    );
                    if let Some(h) = v.previous_height {
                        println!("  refreshed     from checkpoint height {h} (log consistency proven)");
                    }
                }
                (Err((code, message)), false) => eprintln!("INVALID certificate: {code}: {message}"),
            }
            Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

async fn audit(mut args: AuditArgs) -> anyhow::Result<ExitCode> {
    use crate::audit::{FollowEnd, FollowOptions, Progress};
    let genesis = read_genesis(&args.genesis)?;
    if args.data_dir.is_none() && args.rpc.is_empty() {
        args.rpc.push(std::env::var("KEEPSAKE_RPC").unwrap_or_else(|_| crate::DEFAULT_RPC_URL.to_string()));
    }
    let mut progress = Progress::new("audit", !args.json);
    if args.follow {
        let options = FollowOptions {
            poll: Duration::from_millis(args.poll_ms.max(10)),
            until_height: args.until_height,
        };
        let end = crate::audit::follow(&genesis, &args.rpc, &options, &mut progress).await?;
        let failed = !matches!(end, FollowEnd::Reached);
        match (&end, args.json) {
            (FollowEnd::Reached, false) => println!("follow ended: every node reached the requested height"),
            (FollowEnd::Anomalies(list), false) => {
                for a in list {
                    println!("ANOMALY {a}");
                }
            }
            (FollowEnd::Alert(alert), false) => println!("ALERT {alert}"),
            (FollowEnd::Reached, true) => println!("{}", serde_json::json!({"passed": true})),
            (FollowEnd::Anomalies(list), true) => {
                println!("{}", serde_json::json!({"passed": false, "anomalies": list}))
            }
            (FollowEnd::Alert(alert), true) => {
                println!("{}", serde_json::json!({"passed": false, "alert": alert}))
            }
        }
        if let FollowEnd::Alert(alert) = &end {
            tracing::error!(%alert, "monitor alert");
        }
        return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    let report = match (&args.data_dir, args.rpc.as_slice()) {
        (Some(dir), _) => {
            let (genesis, dir) = (genesis.clone(), dir.clone());
            tokio::task::spawn_blocking(move || crate::audit::audit_data_dir(&genesis, &dir, &mut progress))
                .await
                .context("audit task")??
        }
        (None, [url]) => match crate::audit::audit_rpc(&genesis, url, None, &mut progress).await? {
            Ok(auditor) => auditor.report(),
            Err(alert) => bail!("unexpected monitor alert without a monitor: {alert}"),
        },
        (None, _) => bail!("give one --rpc URL (several only with --follow) or --data-dir"),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    Ok(if report.passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn read_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text = read_bounded(path, GENESIS_FILE_MAX)?;
    Genesis::from_json(&text).with_context(|| format!("invalid genesis file {}", path.display()))
}

/// Re-anchors `old` (already verified against `genesis`) to the node's
/// latest checkpoint: the result carries the old checkpoint, linked by the
/// node's consistency proof, and is verified before it is returned. The node
/// must still show the old checkpoint unchanged. `None`: already current.
pub async fn refresh_certificate(
    client: &HttpClient,
    genesis: &Genesis,
    old: &Certificate,
) -> anyhow::Result<Option<Certificate>> {
    let fresh = client.get_certificate(old.certificate_id).await.map_err(describe)?.certificate;
    let (old_h, new_h) = (old.checkpoint.header.height, fresh.checkpoint.header.height);
    if new_h <= old_h {
        return Ok(None);
    }
    let link = client.get_consistency_proof(old_h, new_h).await.map_err(describe)?;
    if link.old.header != old.checkpoint.header {
        bail!(
            "the node now shows header {} at height {old_h}, the certificate was checked at {}: the chain was rewritten (or the node is lying); keep the old certificate as evidence",
            link.old.header.hash(),
            old.checkpoint.header.hash()
        );
    }
    if link.new.header != fresh.checkpoint.header {
        bail!("the node answered two different headers at height {new_h}; retry");
    }
    let refreshed = Certificate {
        previous: Some(keepsake_types::CheckpointLink {
            checkpoint: old.checkpoint.clone(),
            consistency: link.proof,
        }),
        ..fresh
    };
    refreshed
        .verify(genesis)
        .map_err(|e| anyhow::anyhow!("the refreshed certificate does not verify: {}: {e}", e.code()))?;
    if refreshed.record != old.record {
        bail!("the node's record of this certificate differs from the old certificate's record");
    }
    Ok(Some(refreshed))
}

/// `keepsake cert refresh`.
async fn refresh(file: &Path, genesis: &Path, out: Option<&Path>, rpc: &str) -> anyhow::Result<ExitCode> {
    let genesis = read_genesis(genesis)?;
    let old = read_certificate(file)?;
    old.verify(&genesis)
        .map_err(|e| anyhow::anyhow!("the certificate to refresh is invalid: {}: {e}", e.code()))?;
    let Some(refreshed) = refresh_certificate(&client(rpc)?, &genesis, &old).await? else {
        eprintln!(
            "already current: the node has no checkpoint above height {}",
            old.checkpoint.header.height
        );
        return Ok(ExitCode::SUCCESS);
    };
    let target = out.unwrap_or(file);
    let json = serde_json::to_string_pretty(&refreshed)? + "\n";
    // Write beside, then rename over: the holder's file is never left half written.
    let tmp = target.with_extension("json.tmp");
    std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, target).with_context(|| format!("cannot replace {}", target.display()))?;
    eprintln!(
        "refreshed {}: checkpoint height {} -> {} (log {} -> {} entries, consistency proven)",
        target.display(),
        old.checkpoint.header.height,
        refreshed.checkpoint.header.height,
        old.checkpoint.header.log_size,
        refreshed.checkpoint.header.log_size
    );
    Ok(ExitCode::SUCCESS)
}

/// `keepsake cert status`: the node's (or a saved) answer, verified offline.
async fn status(
    file: &Path,
    genesis: &Path,
    answer: Option<&Path>,
    save: Option<&Path>,
    json: bool,
    rpc: &str,
) -> anyhow::Result<ExitCode> {
    let genesis = read_genesis(genesis)?;
    let cert = read_certificate(file)?;
    let verified = cert
        .verify(&genesis)
        .map_err(|e| anyhow::anyhow!("the certificate is invalid: {}: {e}", e.code()))?;
    let status: CertificateStatus = match answer {
        Some(path) => serde_json::from_str(&read_bounded(path, CERTIFICATE_FILE_MAX as u64)?)
            .with_context(|| format!("{} is not a certificate status answer", path.display()))?,
        None => client(rpc)?.get_certificate_status(cert.certificate_id).await.map_err(describe)?,
    };
    if let Some(path) = save {
        std::fs::write(path, serde_json::to_string_pretty(&status)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let verdict = status.verify(&genesis, &verified);
    match (&verdict, json) {
        (Ok(v), true) => println!("{}", serde_json::json!({"valid": true, "status": v})),
        (Err(e), true) => {
            println!("{}", serde_json::json!({"valid": false, "code": e.code(), "reason": e.to_string()}))
        }
        (Ok(v), false) => match &v.revocation {
            Some(r) => println!(
                "REVOKED certificate {} at height {} by {:?}: {} (proven by log entry {}, checkpoint height {})",
                v.certificate_id, r.height, r.by, r.reason, r.leaf_index, v.checkpoint_height
            ),
            None => println!(
                "ACTIVE certificate {} according to the node at checkpoint height {} (the checkpoint is genuine; the absence of a revocation is the node's word, see `keepsake audit`)",
                v.certificate_id, v.checkpoint_height
            ),
        },
        (Err(e), false) => eprintln!("INVALID status answer: {}: {e}", e.code()),
    }
    Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn read_certificate(path: &Path) -> anyhow::Result<Certificate> {
    let text = read_bounded(path, CERTIFICATE_FILE_MAX as u64)?;
    Certificate::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {}: {e}", path.display(), e.code()))
}

/// Reads and verifies a certificate file against a genesis file.
/// The error is `(stable code, message)`.
pub fn verify_files(
    file: &Path,
    genesis: &Path,
) -> Result<keepsake_types::VerifiedCertificate, (String, String)> {
    let io = |e: anyhow::Error| ("Unreadable".to_string(), format!("{e:#}"));
    let genesis_text = read_bounded(genesis, GENESIS_FILE_MAX).map_err(io)?;
    let genesis = Genesis::from_json(&genesis_text).map_err(|e| (e.code().to_string(), e.to_string()))?;
    let text = read_bounded(file, CERTIFICATE_FILE_MAX as u64).map_err(io)?;
    let cert = Certificate::from_json(&text).map_err(|e| (e.code().to_string(), e.to_string()))?;
    cert.verify(&genesis).map_err(|e| (e.code().to_string(), e.to_string()))
}
