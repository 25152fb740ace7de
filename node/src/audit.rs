//! `keepsake audit`: the I/O around [`keepsake_audit`]. Reads a chain from a
//! stopped node's data directory ([`ChainReader`], raw bytes, nothing
//! trusted) or from a node's JSON-RPC, feeds it to the [`Auditor`], and with
//! `--follow` keeps watching one or more nodes through the [`Monitor`]. The
//! monitor learns validator-set changes from the replay of the first node
//! and, for a checkpoint of a set it does not know, from the proofs the node
//! showing it gives (`keepsake_getValidatorSets`), verified from the genesis.
//!
//! Exit codes (documented in docs/auditor-guide.md): 0 the audit passed
//! (or following ended without an alert), 1 an anomaly or alert, 2 the audit
//! could not run (unreadable genesis, unreachable node, locked directory).
//!
//! Nothing a node answers is trusted: an answer that does not decode into
//! what the method returns (a 300-byte chain id, a hash of the wrong length,
//! a height over `u64::MAX`) is the node's anomaly ([`AnomalyKind::Malformed`],
//! exit 1), reported like a damaged block of a data directory; only a node
//! that cannot be reached, or refuses to answer, stops the audit (exit 2).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::HttpClient;
use jsonrpsee::rpc_params;
use keepsake_audit::{Alert, Anomaly, AnomalyKind, Auditor, Flow, Monitor, Report};
use keepsake_ledger::Tip;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::BlockResponse;
use keepsake_store::ChainReader;
use keepsake_types::encoding::decode;
use keepsake_types::{Checkpoint, Genesis, Header};

use crate::rpc_client::{client, describe};

/// Blocks asked for in one JSON-RPC batch.
const RPC_BATCH_BLOCKS: u64 = 16;
/// Most evidence records read from a source.
const EVIDENCE_READ_MAX: usize = 10_000;

/// A progress line on stderr, drawn only when stderr is a terminal.
pub struct Progress {
    enabled: bool,
    label: &'static str,
    started: Instant,
    last_drawn: Option<Instant>,
}

impl Progress {
    /// A progress line, drawn if `wanted` and stderr is a terminal.
    pub fn new(label: &'static str, wanted: bool) -> Self {
        Progress {
            enabled: wanted && std::io::stderr().is_terminal(),
            label,
            started: Instant::now(),
            last_drawn: None,
        }
    }

    /// A progress line that never draws (tests, `--json`).
    pub fn hidden() -> Self {
        Self::new("", false)
    }

    /// Reports `done` of `total` (redrawn at most 10 times a second).
    pub fn tick(&mut self, done: u64, total: u64) {
        if !self.enabled
            || self.last_drawn.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) && done < total
        {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let pct = done.saturating_mul(100).checked_div(total).unwrap_or(100).min(100);
        let width = 30;
        let filled = (pct as usize * width) / 100;
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-3);
        let bar: String = "#".repeat(filled) + &"-".repeat(width - filled);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{} [{bar}] {done}/{total} blocks ({pct}%), {rate:.0} blocks/s ", self.label);
        if done >= total {
            let _ = writeln!(err);
        }
    }
}

/// Replays the chain in the data directory `dir` (the node must be stopped;
/// sled locks the directory): every stored block and commit as raw bytes,
/// then the stored tip record and evidence.
pub fn audit_data_dir(genesis: &Genesis, dir: &PathBuf, progress: &mut Progress) -> anyhow::Result<Report> {
    let reader = ChainReader::open(dir, genesis)
        .with_context(|| format!("cannot read the data directory {}", dir.display()))?;
    let last = reader.last_height()?;
    let mut auditor = Auditor::new(genesis.clone());
    auditor.set_source_height(last);
    for height in 1..=last {
        let block = reader.block_bytes(height)?;
        let commit = reader.commit_bytes(height)?;
        let flow = auditor.feed_raw(height, block.as_deref(), commit.as_deref());
        progress.tick(height, last);
        if flow == Flow::Stopped {
            break;
        }
    }
    match reader.tip_bytes()? {
        Some(bytes) => match decode::<Tip>(&bytes, 1024, "tip record") {
            Ok(tip) => auditor.check_claimed_tip(&tip),
            Err(e) => auditor.record(AnomalyKind::Malformed, None, Some(e.code().into()), e.to_string()),
        },
        None if last > 0 => auditor.record(
            AnomalyKind::TipMismatch,
            None,
            None,
            format!("blocks up to height {last} are stored but there is no tip record"),
        ),
        None => {}
    }
    for raw in reader.evidence_bytes(EVIDENCE_READ_MAX)? {
        auditor.check_evidence_raw(&raw);
    }
    Ok(auditor.report())
}

/// Fetches blocks `from..=to` from `client` and feeds them to `auditor`
/// (batched requests; one by one when a batch fails, e.g. a response over
/// the size limit). Returns the checkpoint of the last block fed.
async fn replay_rpc(
    auditor: &mut Auditor,
    mut monitor: Option<(&mut Monitor, &str)>,
    client: &HttpClient,
    from: u64,
    to: u64,
    progress: &mut Progress,
) -> anyhow::Result<Result<Option<Checkpoint>, Alert>> {
    let mut last = None;
    let mut height = from;
    while height <= to && !auditor.is_stopped() {
        let end = to.min(height.saturating_add(RPC_BATCH_BLOCKS - 1));
        // The blocks answered, and the first height whose answer does not decode.
        let (blocks, undecodable) = match fetch_batch(client, height, end).await {
            Ok(blocks) => (blocks, None),
            Err(_) => {
                let mut one_by_one = Vec::new();
                let mut undecodable = None;
                for h in height..=end {
                    match client.get_block(h).await {
                        Ok(b) => one_by_one.push(b),
                        Err(ClientError::ParseError(e)) => {
                            undecodable = Some((h, e));
                            break;
                        }
                        Err(e) => return Err(describe(e)),
                    }
                }
                (one_by_one, undecodable)
            }
        };
        let expected = match &undecodable {
            Some((h, _)) => h - height,
            None => end - height + 1,
        };
        if blocks.len() as u64 != expected {
            let missing = height + blocks.len() as u64;
            auditor.stop(
                missing,
                AnomalyKind::MissingBlock,
                None,
                format!("asked for blocks {height}..={end}, the node answered {} of them", blocks.len()),
            );
            return Ok(Ok(last));
        }
        for (h, b) in (height..=end).zip(blocks) {
            if b.block.header.height != h {
                let got = b.block.header.height;
                auditor.stop(
                    h,
                    AnomalyKind::BlockInvalid,
                    Some("UnexpectedHeight"),
                    format!("asked for block {h}, the node answered block {got}"),
                );
                return Ok(Ok(last));
            }
            // Signature checks and block execution: off the async runtime's workers.
            let flow = tokio::task::block_in_place(|| auditor.feed(&b.block, &b.commit));
            if flow == Flow::Stopped {
                return Ok(Ok(last));
            }
            let checkpoint = Checkpoint { header: b.block.header, commit: b.commit };
            if let Some((m, source)) = monitor.as_mut() {
                // The sets the replay derived (from the genesis and the verified
                // changes) are as good as proofs: the monitor takes them.
                if auditor.schedule().sets().len() != m.schedule().sets().len()
                    && let Err(alert) = m.adopt(source, auditor.schedule())
                {
                    return Ok(Err(alert));
                }
                if let Err(alert) = m.record_replayed(source, &checkpoint) {
                    return Ok(Err(alert));
                }
            }
            last = Some(checkpoint);
            progress.tick(h, to);
        }
        if let Some((h, e)) = undecodable {
            auditor.stop(
                h,
                AnomalyKind::Malformed,
                Some("Malformed"),
                undecodable_answer(&format!("block {h}"), &e),
            );
            return Ok(Ok(last));
        }
        match end.checked_add(1) {
            Some(next) => height = next,
            None => break,
        }
    }
    Ok(Ok(last))
}

/// The message of an anomaly for a node's answer that does not decode.
fn undecodable_answer(what: &str, e: &serde_json::Error) -> String {
    format!("the node's answer for {what} does not decode: {e}")
}

async fn fetch_batch(client: &HttpClient, from: u64, to: u64) -> anyhow::Result<Vec<BlockResponse>> {
    let mut batch = BatchRequestBuilder::new();
    for h in from..=to {
        batch.insert("keepsake_getBlock", rpc_params![h])?;
    }
    let response = client.batch_request::<BlockResponse>(batch).await?;
    let mut out = Vec::new();
    for entry in response {
        out.push(entry.map_err(|e| anyhow::anyhow!("RPC error {}: {}", e.code(), e.message()))?);
    }
    Ok(out)
}

/// Checks that the node at `client` runs the auditor's chain; records a
/// [`AnomalyKind::ChainMismatch`] and returns false otherwise.
async fn same_chain(
    auditor: &mut Auditor,
    genesis: &Genesis,
    client: &HttpClient,
    url: &str,
) -> anyhow::Result<bool> {
    let theirs = match client.get_genesis().await {
        Ok(theirs) => theirs,
        Err(ClientError::ParseError(e)) => {
            let message = format!("{url}: {}", undecodable_answer("its genesis", &e));
            auditor.record(AnomalyKind::Malformed, None, Some("Malformed".into()), message);
            return Ok(false);
        }
        Err(e) => return Err(describe(e)),
    };
    if theirs.hash() != genesis.hash() {
        auditor.record(
            AnomalyKind::ChainMismatch,
            None,
            None,
            format!(
                "{url} runs genesis {} (chain {:?}), the auditor's genesis is {} (chain {:?})",
                theirs.hash(),
                theirs.chain_id,
                genesis.hash(),
                genesis.chain_id
            ),
        );
        return Ok(false);
    }
    Ok(true)
}

/// A full audit over JSON-RPC: the chain up to the node's current height,
/// its evidence, and its claimed tip. Returns the auditor (to go on
/// following). With a `monitor`, every replayed block is recorded in it, and
/// an alert it raises ends the audit.
pub async fn audit_rpc(
    genesis: &Genesis,
    url: &str,
    monitor: Option<&mut Monitor>,
    progress: &mut Progress,
) -> anyhow::Result<Result<Auditor, Alert>> {
    let client = client(url)?;
    let mut auditor = Auditor::new(genesis.clone());
    if !same_chain(&mut auditor, genesis, &client, url).await? {
        return Ok(Ok(auditor));
    }
    let status = match client.status().await {
        Ok(status) => status,
        Err(ClientError::ParseError(e)) => {
            let message = undecodable_answer("its status", &e);
            auditor.record(AnomalyKind::Malformed, None, Some("Malformed".into()), message);
            return Ok(Ok(auditor));
        }
        Err(e) => return Err(describe(e)),
    };
    auditor.set_source_height(status.height);
    let monitor = monitor.map(|m| (m, url));
    if let Err(alert) = replay_rpc(&mut auditor, monitor, &client, 1, status.height, progress).await? {
        return Ok(Err(alert));
    }
    if !auditor.is_stopped() {
        auditor.check_claimed_tip(&Tip {
            height: status.height,
            hash: status.latest_hash,
            time_ms: status.latest_time_ms,
            log_size: status.log_size,
            log_root: status.log_root,
            state_root: status.state_root,
        });
    }
    match client.get_evidence(crate::rpc_server::EVIDENCE_PER_CALL_MAX).await {
        Ok(list) => list.iter().for_each(|evidence| auditor.check_evidence(evidence)),
        Err(ClientError::ParseError(e)) => {
            let message = undecodable_answer("its evidence", &e);
            auditor.record(AnomalyKind::InvalidEvidence, None, Some("Malformed".into()), message);
        }
        Err(e) => return Err(describe(e)),
    }
    Ok(Ok(auditor))
}

/// Options of `keepsake audit --follow`.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// How often each node is asked for its height.
    pub poll: Duration,
    /// Stop (without alert) once every node reached this height.
    pub until_height: Option<u64>,
}

/// How following ended.
#[derive(Debug)]
pub enum FollowEnd {
    /// Every node reached `until_height` and nothing was wrong.
    Reached,
    /// The full audit of the first node found anomalies.
    Anomalies(Vec<Anomaly>),
    /// The monitor raised an alert.
    Alert(Alert),
}

/// `keepsake audit --follow`: a full audit of `urls[0]`, then, forever (or
/// until `until_height`), every new block of `urls[0]` replayed and every
/// node's new checkpoints checked for forks and rewrites. Unreachable nodes
/// are retried (logged), never an alert.
pub async fn follow(
    genesis: &Genesis,
    urls: &[String],
    options: &FollowOptions,
    progress: &mut Progress,
) -> anyhow::Result<FollowEnd> {
    let Some(primary) = urls.first() else { bail!("--follow needs at least one --rpc URL") };
    // Everything the replay verifies is recorded in the monitor.
    let mut monitor = Monitor::new(genesis);
    let mut auditor = match audit_rpc(genesis, primary, Some(&mut monitor), progress).await? {
        Ok(auditor) => auditor,
        Err(alert) => return Ok(FollowEnd::Alert(alert)),
    };
    if !auditor.anomalies().is_empty() {
        return Ok(FollowEnd::Anomalies(auditor.anomalies().to_vec()));
    }
    let clients: Vec<(String, HttpClient)> =
        urls.iter().map(|u| Ok((u.clone(), client(u)?))).collect::<anyhow::Result<_>>()?;
    for (url, c) in clients.iter().skip(1) {
        let mut scratch = Auditor::new(genesis.clone());
        if !same_chain(&mut scratch, genesis, c, url).await? {
            return Ok(FollowEnd::Anomalies(scratch.anomalies().to_vec()));
        }
    }
    tracing::info!(nodes = urls.len(), height = auditor.height(), "audit passed; following");
    loop {
        let mut all_reached = true;
        for (url, c) in &clients {
            let status = match c.status().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(node = %url, error = %describe(e), "node unreachable; retrying");
                    all_reached = false;
                    continue;
                }
            };
            if let Some(alert) = check_node(&mut monitor, url, c, status.height).await? {
                return Ok(FollowEnd::Alert(alert));
            }
            // The primary: replay every new block in full.
            if url == primary && status.height > auditor.height() {
                let from = auditor.height() + 1;
                let recorder = Some((&mut monitor, url.as_str()));
                if let Err(alert) =
                    replay_rpc(&mut auditor, recorder, c, from, status.height, &mut Progress::hidden())
                        .await?
                {
                    return Ok(FollowEnd::Alert(alert));
                }
                if !auditor.anomalies().is_empty() {
                    return Ok(FollowEnd::Anomalies(auditor.anomalies().to_vec()));
                }
                tracing::info!(height = auditor.height(), "new blocks verified");
            }
            if options.until_height.is_none_or(|h| status.height < h) {
                all_reached = false;
            }
        }
        if all_reached {
            return Ok(FollowEnd::Reached);
        }
        tokio::time::sleep(options.poll).await;
    }
}

/// Shows the monitor `url`'s checkpoint at `height`: with the consistency
/// proof from the last checkpoint seen from it (whose header the node must
/// still show unchanged), or alone the first time. An answer that does not
/// decode is a bad checkpoint (cause `Malformed`).
async fn check_node(
    monitor: &mut Monitor,
    url: &str,
    c: &HttpClient,
    height: u64,
) -> anyhow::Result<Option<Alert>> {
    if height == 0 {
        return Ok(None);
    }
    let previous = monitor.latest(url).map(|h| h.height);
    let malformed = |what: String, e: serde_json::Error| Alert::BadCheckpoint {
        source: url.to_string(),
        height,
        cause: "Malformed".into(),
        message: undecodable_answer(&what, &e),
    };
    let verdict = match previous {
        Some(old) if old == height => return Ok(None),
        Some(old) if old < height => match c.get_consistency_proof(old, height).await {
            Ok(r) => {
                for header in [&r.old.header, &r.new.header] {
                    if let Some(alert) = learn_sets(monitor, url, c, header).await? {
                        return Ok(Some(alert));
                    }
                }
                monitor.observe(url, &r.old, None).and_then(|_| monitor.observe(url, &r.new, Some(&r.proof)))
            }
            Err(ClientError::ParseError(e)) => Err(malformed(format!("the proof {old}..{height}"), e)),
            Err(e) => return Err(describe(e)),
        },
        _ => match c.get_block(height).await {
            Ok(b) => {
                if let Some(alert) = learn_sets(monitor, url, c, &b.block.header).await? {
                    return Ok(Some(alert));
                }
                monitor.observe(url, &Checkpoint { header: b.block.header, commit: b.commit }, None)
            }
            Err(ClientError::ParseError(e)) => Err(malformed(format!("block {height}"), e)),
            Err(e) => return Err(describe(e)),
        },
    };
    Ok(verdict.err())
}

/// When `header` carries a validator set the monitor does not know for its
/// height, asks `url` for the proofs of its set changes up to that height
/// and has the monitor verify them from the genesis ([`Monitor::learn`]).
/// Proofs that do not verify, or an answer that does not decode, are the
/// node's alert; without proofs of the set, the checkpoint is then refused
/// by [`Monitor::observe`] (`ValidatorSetMismatch`).
async fn learn_sets(
    monitor: &mut Monitor,
    url: &str,
    c: &HttpClient,
    header: &Header,
) -> anyhow::Result<Option<Alert>> {
    if monitor.knows_set_of(header) {
        return Ok(None);
    }
    let answer = match c.get_validator_sets(Some(header.height), Some(true)).await {
        Ok(answer) => answer,
        Err(ClientError::ParseError(e)) => {
            return Ok(Some(Alert::BadTransition {
                source: url.to_string(),
                cause: "Malformed".into(),
                message: undecodable_answer("its validator sets", &e),
            }));
        }
        Err(e) => return Err(describe(e)),
    };
    // Signature checks: off the async runtime's workers.
    match tokio::task::block_in_place(|| monitor.learn(url, &answer.transitions)) {
        Ok(0) => Ok(None),
        Ok(added) => {
            let latest = monitor.schedule().latest();
            tracing::info!(
                node = %url,
                added,
                from_height = latest.from_height,
                validators = latest.validators.validators.len(),
                "validator-set changes verified"
            );
            Ok(None)
        }
        Err(alert) => Ok(Some(alert)),
    }
}
