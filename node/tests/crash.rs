//! Crash harness with real processes: four `keepsake start` validators on loopback under a
//! steady mint load, and K rounds in which a random validator, at a random moment, is
//! killed with SIGKILL (then restarted on the same home) or frozen with SIGSTOP for a while
//! (then resumed with SIGCONT). Every fourth round the restarted victim is also made to abort
//! inside a block commit, between the history write and the state batch
//! (`KEEPSAKE_FAIL_AFTER_HISTORY`), and is started once more: its store must apply the kept
//! history again.
//!
//! After every round: (a) the victim catches up with the others and the four commit a new
//! block together; (b) every transaction acknowledged as committed (`getTxStatus` said
//! `Committed`) is committed at the same height on every node; (c) block hashes agree on all
//! nodes over the recent range; (d) no node holds equivocation evidence. At the end: (c) over
//! the whole chain, every acknowledged transaction is in its block on every node, and (e)
//! every validator's precommit is in a commit of a block decided after its last restart.
//!
//! ```text
//! cargo test -p keepsake --test crash -- --nocapture
//! KEEPSAKE_CRASH_KILLS=40 KEEPSAKE_CRASH_SEED=42 cargo test -p keepsake --test crash -- --nocapture
//! ```
//!
//! The seed (printed first) fixes the schedule: victims, delays, SIGKILL or SIGSTOP, downtimes
//! and ports. Process timing still varies between runs. On failure the node logs' tails are
//! printed and the testnet directory (logs, data, WAL) is kept.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::{
    BlockHash, ContentHash, Genesis, Keypair, PublicKey, ReviewSubject, SeriesId, TxBody, TxId, hash::sha256,
    ids,
};

const BIN: &str = env!("CARGO_BIN_EXE_keepsake");
/// Validators.
const N: usize = 4;
/// Default number of rounds (`KEEPSAKE_CRASH_KILLS` overrides).
const ROUNDS_DEFAULT: u64 = 20;
/// Every bounded wait of the harness.
const WAIT: Duration = Duration::from_secs(30);
/// Per-call RPC timeout (a SIGSTOPped node never answers).
const RPC_TIMEOUT: Duration = Duration::from_secs(3);
/// Interval between two mints of the load.
const MINT_EVERY: Duration = Duration::from_millis(20);
/// A submitted mint still unknown after this long is abandoned (it died in a killed node's mempool).
const ABANDON_AFTER: Duration = Duration::from_secs(20);
/// Poll interval of every wait.
const POLL: Duration = Duration::from_millis(50);

/// splitmix64: the whole schedule comes from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.trim().parse().unwrap_or_else(|_| panic!("{name}={v:?} is not a number")))
}

/// Two bases, each with `N` consecutive ports that can be bound right now. The candidates lie
/// below the kernel's ephemeral range, so no outgoing connection (libp2p dials, RPC clients)
/// takes one of these ports while a killed node is down; each is checked by binding it.
fn port_bases(rng: &mut Rng) -> (u16, u16) {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse::<u64>().ok()))
        .unwrap_or(32768);
    let mut candidate = || -> u16 {
        if ephemeral_low > 12_000 {
            rng.range(10_000, ephemeral_low - N as u64) as u16
        } else {
            // No room below: let the kernel pick one (bind port 0).
            let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
            l.local_addr().unwrap().port().min(u16::MAX - N as u16)
        }
    };
    for _ in 0..1000 {
        let (rpc, p2p) = (candidate(), candidate());
        if rpc.abs_diff(p2p) < N as u16 {
            continue;
        }
        let held: Option<Vec<TcpListener>> = (0..N as u16)
            .flat_map(|i| [rpc + i, p2p + i])
            .map(|port| TcpListener::bind(("127.0.0.1", port)).ok())
            .collect();
        if held.is_some() {
            return (rpc, p2p);
        }
    }
    panic!("found no {N} consecutive free ports twice");
}

fn client(url: &str) -> HttpClient {
    HttpClientBuilder::default()
        .request_timeout(RPC_TIMEOUT)
        .max_response_size(64 * 1024 * 1024)
        .build(url)
        .expect("valid URL")
}

/// The last `lines` lines of a file.
fn tail(path: &Path, lines: usize) -> String {
    let Ok(mut f) = std::fs::File::open(path) else { return format!("(no {})", path.display()) };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// One validator process.
struct Proc {
    home: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

/// The node processes. Dropping it (every exit path, panics included) kills them all; on a
/// panic it also prints the logs' tails and keeps the testnet directory.
struct Procs {
    procs: Vec<Proc>,
    seed: u64,
    rounds: u64,
    dir: Option<tempfile::TempDir>,
}

impl Procs {
    fn spawn(&mut self, i: usize) {
        self.spawn_with(i, None);
    }

    /// Starts node `i`, optionally set to abort inside its `n`-th block commit, between the
    /// history write and the state batch (`KEEPSAKE_FAIL_AFTER_HISTORY`).
    fn spawn_with(&mut self, i: usize, abort_in_commit: Option<u64>) {
        let p = &mut self.procs[i];
        assert!(p.child.is_none(), "node{i} is already running");
        p.starts += 1;
        let mut log = OpenOptions::new().create(true).append(true).open(&p.log).expect("open log");
        writeln!(log, "===== crash harness: start #{} of node{i} =====", p.starts).unwrap();
        let mut command = Command::new(BIN);
        command.arg("start").arg("--home").arg(&p.home).env("NO_COLOR", "1");
        if let Some(n) = abort_in_commit {
            command.env(keepsake::node::FAIL_AFTER_HISTORY_ENV, n.to_string());
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn keepsake start");
        p.child = Some(child);
    }

    /// Waits (bounded) for node `i` to exit by itself, and reaps it.
    fn wait_exit(&mut self, i: usize) {
        let deadline = Instant::now() + WAIT;
        let mut child = self.procs[i].child.take().expect("node is running");
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert!(
                    !status.success(),
                    "node{i} was to abort inside a block commit, it exited with {status}"
                );
                return;
            }
            assert!(Instant::now() < deadline, "node{i} did not reach its abort point inside a block commit");
            std::thread::sleep(POLL);
        }
    }

    fn pid(&self, i: usize) -> u32 {
        self.procs[i].child.as_ref().expect("node is running").id()
    }

    /// SIGKILL, and reap.
    fn sigkill(&mut self, i: usize) {
        let mut child = self.procs[i].child.take().expect("node is running");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("node{i} had exited by itself before the SIGKILL: {status}");
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
    }

    fn signal(&self, i: usize, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid(i).to_string())
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -{signal} node{i} failed: {status}");
    }

    /// Panics if a node process exited on its own.
    fn assert_alive(&mut self) {
        for (i, p) in self.procs.iter_mut().enumerate() {
            if let Some(child) = p.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("node{i} exited by itself: {status}");
            }
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if let Some(mut child) = p.child.take() {
                // SIGKILL also ends a SIGSTOPped process.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for (i, p) in self.procs.iter().enumerate() {
                eprintln!("----- node{i}: last lines of {} -----\n{}", p.log.display(), tail(&p.log, 60));
            }
            if let Some(dir) = self.dir.take() {
                eprintln!("crash harness: testnet kept in {}", dir.keep().display());
            }
            eprintln!(
                "crash harness FAILED: replay with KEEPSAKE_CRASH_SEED={} KEEPSAKE_CRASH_KILLS={} \
                 cargo test -p keepsake --test crash -- --nocapture",
                self.seed, self.rounds
            );
        }
    }
}

/// A mint the load submitted and the acknowledger has not settled yet.
struct Pending {
    id: TxId,
    via: usize,
    at: Instant,
}

/// A mint acknowledged as committed.
#[derive(Clone, Copy)]
struct Acked {
    id: TxId,
    edition: u32,
    height: u64,
}

#[derive(Default)]
struct LoadState {
    submitted: u64,
    submit_errors: u64,
    pending: BTreeMap<u32, Pending>,
    acked: Vec<Acked>,
    rejected: Vec<(u32, String)>,
    abandoned: u64,
}

/// What the load tasks and the checks share.
struct Shared {
    chain: String,
    clients: Vec<HttpClient>,
    /// Set before a node is killed or stopped, cleared when it answers again.
    down: Vec<AtomicBool>,
    stop_load: AtomicBool,
    stop_acks: AtomicBool,
    load: Mutex<LoadState>,
}

impl Shared {
    fn up(&self, i: usize) -> bool {
        !self.down[i].load(Ordering::SeqCst)
    }

    async fn height(&self, i: usize) -> Option<u64> {
        self.clients[i].status().await.ok().map(|s| s.height)
    }

    /// Heights of all nodes (panics if one does not answer).
    async fn heights(&self) -> Vec<u64> {
        let mut hs = Vec::new();
        for i in 0..N {
            hs.push(self.height(i).await.unwrap_or_else(|| panic!("node{i} does not answer status")));
        }
        hs
    }

    /// Waits (bounded) until every node has committed `height`.
    async fn wait_all_at(&self, height: u64, why: &str) {
        let deadline = Instant::now() + WAIT;
        for i in 0..N {
            loop {
                let h = self.height(i).await;
                if h.is_some_and(|h| h >= height) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{why}: node{i} stuck at height {h:?}, waiting for {height}"
                );
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

fn mint(chain: &str, issuer: &Keypair, series: SeriesId, edition: u32) -> keepsake_types::SignedTx {
    TxBody::Mint { series_id: series, edition, holder: ids::holder_id("crash-salt", &format!("u{edition}")) }
        .sign(chain, &[issuer])
}

/// Steady load: one mint every `MINT_EVERY`, round-robin over the nodes that are up; the
/// first node that admits it owns it.
async fn run_load(shared: Arc<Shared>, issuer: Keypair, series: SeriesId) {
    let mut tick = tokio::time::interval(MINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut edition = 0u32;
    let mut next = 0usize;
    while !shared.stop_load.load(Ordering::SeqCst) {
        tick.tick().await;
        edition += 1;
        let tx = mint(&shared.chain, &issuer, series, edition);
        let id = tx.id(&shared.chain);
        next = (next + 1) % N;
        for k in 0..N {
            let i = (next + k) % N;
            if !shared.up(i) {
                continue;
            }
            let result = shared.clients[i].submit_tx(tx.clone()).await;
            let mut load = shared.load.lock().unwrap();
            load.submitted += 1;
            match result {
                Ok(_) => {
                    load.pending.insert(edition, Pending { id, via: i, at: Instant::now() });
                    break;
                }
                Err(_) => load.submit_errors += 1,
            }
        }
    }
}

/// Settles pending mints: asks `getTxStatus` (of the node that admitted it, or another one
/// while that one is down) until it says `Committed` or `Rejected`, or gives up after
/// `ABANDON_AFTER` (a mint that died in a killed node's mempool is never acknowledged).
async fn run_acks(shared: Arc<Shared>) {
    loop {
        let batch: Vec<(u32, TxId, usize, Instant)> = {
            let load = shared.load.lock().unwrap();
            if shared.stop_acks.load(Ordering::SeqCst) && load.pending.is_empty() {
                return;
            }
            load.pending.iter().take(500).map(|(&e, p)| (e, p.id, p.via, p.at)).collect()
        };
        for (edition, id, via, at) in batch {
            let Some(node) = (0..N).map(|k| (via + k) % N).find(|&i| shared.up(i)) else { continue };
            let Ok(status) = shared.clients[node].get_tx_status(id).await else { continue };
            let mut load = shared.load.lock().unwrap();
            match status {
                TxStatus::Committed { height, .. } => {
                    load.pending.remove(&edition);
                    load.acked.push(Acked { id, edition, height });
                }
                TxStatus::Rejected { error } => {
                    load.pending.remove(&edition);
                    load.rejected.push((edition, format!("{}: {}", error.code, error.message)));
                }
                TxStatus::Pending | TxStatus::Unknown => {
                    if at.elapsed() > ABANDON_AFTER {
                        load.pending.remove(&edition);
                        load.abandoned += 1;
                    }
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Rewrites `[consensus]` and `[block]` of a node's config.toml with short timeouts (the
/// values of `keepsake_tests::fast_consensus`), so a missing validator costs about a second.
fn fast_consensus(home: &Path) {
    let path = home.join("config.toml");
    let mut config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let mut consensus = toml::Table::new();
    for (k, v) in [
        ("timeout_propose_ms", 1000),
        ("timeout_prevote_ms", 300),
        ("timeout_precommit_ms", 300),
        ("timeout_delta_ms", 200),
        ("empty_block_wait_ms", 200),
    ] {
        consensus.insert(k.into(), toml::Value::Integer(v));
    }
    config.insert("consensus".into(), toml::Value::Table(consensus));
    let mut block = toml::Table::new();
    block.insert("batch_wait_ms".into(), toml::Value::Integer(5));
    config.insert("block".into(), toml::Value::Table(block));
    std::fs::write(&path, toml::to_string_pretty(&config).unwrap()).unwrap();
}

/// Submits through node 0 and waits (bounded) for `Committed`.
async fn commit(shared: &Shared, tx: keepsake_types::SignedTx) {
    let c = &shared.clients[0];
    let id = c.submit_tx(tx).await.expect("setup transaction admitted");
    let deadline = Instant::now() + WAIT;
    loop {
        match c.get_tx_status(id).await {
            Ok(TxStatus::Committed { .. }) => return,
            Ok(TxStatus::Rejected { error }) => panic!("setup transaction rejected: {error:?}"),
            other => assert!(Instant::now() < deadline, "setup transaction not committed: {other:?}"),
        }
        tokio::time::sleep(POLL).await;
    }
}

/// (b) Each of `acks` is committed at its height on every node (one task per node).
async fn check_acked_everywhere(shared: &Arc<Shared>, acks: &[Acked], nodes: &[usize], what: &str) {
    let mut tasks = tokio::task::JoinSet::new();
    for &i in nodes {
        let (shared, acks) = (shared.clone(), acks.to_vec());
        tasks.spawn(async move {
            for a in acks {
                let status = shared.clients[i].get_tx_status(a.id).await;
                match status {
                    Ok(TxStatus::Committed { height, .. }) if height == a.height => {}
                    other => {
                        return Err(format!(
                            "mint {} ({}) acknowledged as committed at height {} is {other:?} on node{i}",
                            a.edition, a.id, a.height
                        ));
                    }
                }
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r.expect("check task") {
            panic!("LOST COMMITTED TRANSACTION ({what}): {e}");
        }
    }
}

/// (c) Fetches heights `from..=to` from every node; all hashes must agree with each other and
/// with `known` (hashes seen in earlier checks). With `acks`, also checks that every
/// acknowledged mint of those heights is in the block each node serves.
async fn check_chain(
    shared: &Arc<Shared>,
    known: &mut BTreeMap<u64, BlockHash>,
    from: u64,
    to: u64,
    acks: Option<&[Acked]>,
) {
    let mut by_height: BTreeMap<u64, Vec<TxId>> = BTreeMap::new();
    for a in acks.unwrap_or_default() {
        if (from..=to).contains(&a.height) {
            by_height.entry(a.height).or_default().push(a.id);
        }
    }
    let by_height = Arc::new(by_height);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let (shared, by_height) = (shared.clone(), by_height.clone());
        tasks.spawn(async move {
            let mut hashes = Vec::new();
            for h in from..=to {
                let b = shared.clients[i]
                    .get_block(h)
                    .await
                    .map_err(|e| format!("node{i} cannot serve block {h}: {e}"))?;
                if let Some(want) = by_height.get(&h) {
                    let have: BTreeSet<TxId> = b.block.txs.iter().map(|t| t.id(&shared.chain)).collect();
                    if let Some(missing) = want.iter().find(|id| !have.contains(id)) {
                        return Err(format!(
                            "LOST COMMITTED TRANSACTION: {missing} acknowledged at height {h} is not in \
                             node{i}'s block {h}"
                        ));
                    }
                }
                hashes.push((h, b.hash));
            }
            Ok((i, hashes))
        });
    }
    let mut per_node = BTreeMap::new();
    while let Some(r) = tasks.join_next().await {
        let (i, hashes) = r.expect("check task").unwrap_or_else(|e| panic!("{e}"));
        per_node.insert(i, hashes);
    }
    for (i, hashes) in per_node {
        for (h, hash) in hashes {
            let first = *known.entry(h).or_insert(hash);
            assert_eq!(hash, first, "FORK: node{i} has block {hash} at height {h}, another node has {first}");
        }
    }
}

/// (d) No node kept equivocation evidence.
async fn check_no_evidence(shared: &Shared) {
    for i in 0..N {
        let evidence = shared.clients[i].get_evidence(100).await.expect("getEvidence answers");
        assert!(evidence.is_empty(), "DOUBLE SIGN: node{i} holds equivocation evidence: {evidence:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_survive_sigkill_and_sigstop_under_load() {
    let seed = env_u64("KEEPSAKE_CRASH_SEED").unwrap_or_else(|| {
        let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        t.as_secs() ^ u64::from(t.subsec_nanos()) << 20 ^ u64::from(std::process::id()) << 40
    });
    let rounds = env_u64("KEEPSAKE_CRASH_KILLS").unwrap_or(ROUNDS_DEFAULT);
    println!(
        "crash harness: seed {seed}, {rounds} rounds (replay: KEEPSAKE_CRASH_SEED={seed} \
         KEEPSAKE_CRASH_KILLS={rounds} cargo test -p keepsake --test crash -- --nocapture)"
    );
    let mut rng = Rng(seed);
    // Samples come from their own stream: how many there are depends on timing, and they must
    // not shift the schedule drawn from `rng`.
    let mut sampler = Rng(seed ^ 0x0a11_ce5a_3b1e);
    let (rpc_base, p2p_base) = port_bases(&mut Rng(seed ^ 0x5eed_0f90_4747));

    // The testnet, written by the binary itself.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let out = Command::new(BIN)
        .args(["testnet", "--validators", &N.to_string(), "--dir"])
        .arg(&dir)
        .args(["--rpc-base-port", &rpc_base.to_string(), "--p2p-base-port", &p2p_base.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "keepsake testnet failed: {}", String::from_utf8_lossy(&out.stderr));
    let genesis = Genesis::from_json(&std::fs::read_to_string(dir.join("genesis.json")).unwrap()).unwrap();
    let keys: Vec<PublicKey> = genesis.validators.iter().map(|v| v.public_key).collect();
    let key = |rel: &str| keepsake::keyfile::read(&dir.join(rel)).unwrap();
    let governors = [key("governance/governor-1.json"), key("governance/governor-2.json")];
    let (issuer, reviewer) = (key("keys/issuer.json"), key("keys/reviewer.json"));

    let mut procs = Procs {
        procs: (0..N)
            .map(|i| Proc {
                home: dir.join(format!("node{i}")),
                log: dir.join(format!("node{i}.log")),
                child: None,
                starts: 0,
            })
            .collect(),
        seed,
        rounds,
        dir: Some(tmp),
    };
    if std::env::var_os("KEEPSAKE_CRASH_KEEP").is_some() {
        println!("crash harness: testnet kept in {}", procs.dir.take().unwrap().keep().display());
    }
    for i in 0..N {
        fast_consensus(&procs.procs[i].home);
        procs.spawn(i);
    }
    let shared = Arc::new(Shared {
        chain: genesis.chain_id.to_string(),
        clients: (0..N).map(|i| client(&format!("http://127.0.0.1:{}", rpc_base + i as u16))).collect(),
        down: (0..N).map(|_| AtomicBool::new(false)).collect(),
        stop_load: AtomicBool::new(false),
        stop_acks: AtomicBool::new(false),
        load: Mutex::new(LoadState::default()),
    });
    shared.wait_all_at(1, "start-up").await;
    for (i, key) in validator_keys(&shared).await.into_iter().enumerate() {
        assert_eq!(key, keys[i], "node{i} runs validator {i}'s key");
    }

    // Governance admits the issuer and the reviewer; the issuer creates a series.
    let chain = genesis.chain_id.clone();
    let gov: Vec<&Keypair> = governors.iter().collect();
    commit(
        &shared,
        TxBody::RegisterIssuer { issuer: issuer.public(), name: "Museum".into(), nonce: 1 }
            .sign(&chain, &gov),
    )
    .await;
    commit(
        &shared,
        TxBody::RegisterReviewer { reviewer: reviewer.public(), name: "Board".into(), nonce: 2 }
            .sign(&chain, &gov),
    )
    .await;
    let name = "crash-harness";
    let max_supply = genesis.params.max_supply_limit;
    let subject = ReviewSubject {
        issuer: issuer.public(),
        name: name.into(),
        content_hash: ContentHash(sha256(name.as_bytes()).0),
        max_supply,
        metadata_uri: "https://museum.example/crash.json".into(),
    };
    let create = TxBody::CreateSeries {
        issuer: subject.issuer,
        name: name.into(),
        content_hash: subject.content_hash,
        max_supply,
        metadata_uri: subject.metadata_uri.clone(),
        approval: subject.approve(&chain, &reviewer),
    }
    .sign(&chain, &[&issuer]);
    commit(&shared, create).await;
    let series = ids::series_id(&chain, &issuer.public(), name);

    // The load, and its acknowledger.
    let load_task = tokio::spawn(run_load(shared.clone(), issuer, series));
    let ack_task = tokio::spawn(run_acks(shared.clone()));
    let first_height = *shared.heights().await.iter().min().unwrap();
    let deadline = Instant::now() + WAIT;
    while shared.load.lock().unwrap().acked.len() < 10 {
        assert!(Instant::now() < deadline, "the load gets no mint committed");
        tokio::time::sleep(POLL).await;
    }

    let mut known: BTreeMap<u64, BlockHash> = BTreeMap::new();
    let mut acks_checked = 0usize;
    let mut chain_checked = 0u64;
    // The highest height any node had once validator i was back, caught up, and the four had
    // committed a block together.
    let mut rejoined_at = [0u64; N];
    let (mut kills, mut stops, mut aborts) = (0u32, 0u32, 0u32);
    for round in 0..rounds {
        procs.assert_alive();
        let victim = rng.range(0, N as u64) as usize;
        let delay = Duration::from_millis(rng.range(0, 1500));
        let sigstop = round % 4 == 3;
        // Every fourth round the kill lands inside the commit path itself: the restarted victim
        // aborts between writing a block's history and its state, and is started once more.
        let abort_in_commit = (round % 4 == 1).then(|| rng.range(1, 4));
        let pause = Duration::from_millis(if sigstop { rng.range(100, 3000) } else { rng.range(0, 800) });
        let before = shared.heights().await;
        tokio::time::sleep(delay).await;
        shared.down[victim].store(true, Ordering::SeqCst);
        let t0 = Instant::now();
        if sigstop {
            stops += 1;
            procs.signal(victim, "STOP");
            tokio::time::sleep(pause).await;
            procs.signal(victim, "CONT");
        } else {
            kills += 1;
            procs.sigkill(victim);
            tokio::time::sleep(pause).await;
            if let Some(n) = abort_in_commit {
                aborts += 1;
                procs.spawn_with(victim, Some(n));
                procs.wait_exit(victim);
            }
            procs.spawn(victim);
        }
        // The victim answers again (a store that refuses to open shows up here).
        let deadline = Instant::now() + WAIT;
        while shared.height(victim).await.is_none() {
            procs.assert_alive();
            assert!(Instant::now() < deadline, "node{victim} does not answer after its restart");
            tokio::time::sleep(POLL).await;
        }
        shared.down[victim].store(false, Ordering::SeqCst);
        // (a) It catches up with the others, then all four commit a new block.
        let target = (0..N).filter(|&j| j != victim).map(|j| before[j]).max().unwrap();
        let mut target_now = 0;
        for j in (0..N).filter(|&j| j != victim) {
            target_now = target_now.max(shared.height(j).await.unwrap_or(0));
        }
        let target = target.max(target_now);
        shared
            .wait_all_at(target, &format!("round {round}: catching up after the fault of node{victim}"))
            .await;
        let caught_up = t0.elapsed();
        shared.wait_all_at(target + 1, &format!("round {round}: the chain goes on after node{victim}")).await;
        let hs = shared.heights().await;
        rejoined_at[victim] = *hs.iter().max().unwrap();
        // (b) Every newly acknowledged mint, everywhere; a sample of older ones on the victim.
        let acked: Vec<Acked> = shared.load.lock().unwrap().acked.clone();
        let new = &acked[acks_checked..];
        if let Some(top) = new.iter().map(|a| a.height).max() {
            shared.wait_all_at(top, "acknowledged heights").await;
        }
        check_acked_everywhere(&shared, new, &(0..N).collect::<Vec<_>>(), "new acknowledgements").await;
        let sample: Vec<Acked> = (0..acks_checked.min(40))
            .map(|_| acked[sampler.range(0, acks_checked as u64) as usize])
            .collect();
        check_acked_everywhere(&shared, &sample, &[victim], "older acknowledgements on the victim").await;
        acks_checked = acked.len();
        // (c) Hashes agree over the recent range (and everything not compared yet).
        let min_h = *shared.heights().await.iter().min().unwrap();
        let from = chain_checked.saturating_sub(20).max(1);
        check_chain(&shared, &mut known, from, min_h, None).await;
        chain_checked = min_h;
        // (d) No equivocation evidence anywhere.
        check_no_evidence(&shared).await;
        println!(
            "round {round:>3}: {} node{victim} after {:>4} ms for {:>4} ms; heights {before:?} -> {hs:?}; \
             caught up after {} ms; {} acknowledged so far",
            if sigstop {
                "SIGSTOP"
            } else if abort_in_commit.is_some() {
                "SIGKILL+abort in commit of"
            } else {
                "SIGKILL"
            },
            delay.as_millis(),
            pause.as_millis(),
            caught_up.as_millis(),
            acked.len(),
        );
    }

    // (e) Every validator votes again: its precommit is in the commit of a block decided after
    // it was last back (two heights later, so it cannot be a precommit signed before the fault).
    let deadline = Instant::now() + WAIT;
    let mut voted: [Option<u64>; N] = [None; N];
    let mut scanned: [u64; N] = rejoined_at.map(|h| h + 1);
    while voted.iter().any(Option::is_none) {
        procs.assert_alive();
        let min_h = *shared.heights().await.iter().min().unwrap();
        for v in 0..N {
            while voted[v].is_none() && scanned[v] < min_h {
                scanned[v] += 1;
                for i in 0..N {
                    let b = shared.clients[i].get_block(scanned[v]).await.expect("getBlock");
                    if b.commit.signatures.iter().any(|s| s.validator == keys[v]) {
                        voted[v] = Some(scanned[v]);
                    }
                }
            }
        }
        if voted.iter().any(Option::is_none) {
            assert!(
                Instant::now() < deadline,
                "VALIDATOR DOES NOT VOTE AGAIN: no commit up to height {min_h} carries the precommit of \
                 {:?} (back at heights {rejoined_at:?})",
                (0..N).filter(|&v| voted[v].is_none()).map(|v| format!("node{v}")).collect::<Vec<_>>()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    // Stop the load, settle every pending mint, then check the whole chain.
    shared.stop_load.store(true, Ordering::SeqCst);
    load_task.await.expect("load task");
    shared.stop_acks.store(true, Ordering::SeqCst);
    tokio::time::timeout(ABANDON_AFTER + WAIT, ack_task)
        .await
        .expect("pending mints settle")
        .expect("ack task");
    procs.assert_alive();
    let (acked, submitted, submit_errors, rejected, abandoned) = {
        let l = shared.load.lock().unwrap();
        (l.acked.clone(), l.submitted, l.submit_errors, l.rejected.clone(), l.abandoned)
    };
    if let Some(top) = acked.iter().map(|a| a.height).max() {
        shared.wait_all_at(top, "final acknowledged heights").await;
    }
    let heights = shared.heights().await;
    let min_h = *heights.iter().min().unwrap();
    check_chain(&shared, &mut known, 1, min_h, Some(&acked)).await;
    let t_final = Instant::now();
    check_acked_everywhere(&shared, &acked, &(0..N).collect::<Vec<_>>(), "final").await;
    println!("final getTxStatus of {} mints on {N} nodes: {} ms", acked.len(), t_final.elapsed().as_millis());
    check_no_evidence(&shared).await;
    let editions: BTreeSet<u32> = acked.iter().map(|a| a.edition).collect();
    assert_eq!(editions.len(), acked.len(), "a mint was acknowledged twice");
    assert!(rejected.is_empty(), "admitted mints were rejected: {:?}", &rejected[..rejected.len().min(10)]);

    let logs = LogCounts::read(&procs);
    let voted: Vec<u64> = voted.iter().map(|h| h.expect("checked above")).collect();
    println!(
        "crash harness: seed {seed}, {rounds} rounds ({kills} SIGKILL, {aborts} of them followed by an abort \
         inside a block commit, {stops} SIGSTOP), {} mints acknowledged, \
         0 lost, heights 1..={min_h} identical on all {N} nodes (load from height {first_height}; final \
         heights {heights:?}); {submitted} submissions ({submit_errors} refused or timed out), {abandoned} \
         never acknowledged (died in a killed node's mempool), {} rejected; 0 equivocation evidence; every \
         validator signed a commit after its last fault (at heights {voted:?}); logs: {} WAL replays, {} \
         catch-ups by sync, {} opens that applied history kept past the state's tip, {} that cut history, \
         {} sign refusals (guard S1), {} other ERROR and {} WARN lines",
        acked.len(),
        rejected.len(),
        logs.wal_replays,
        logs.synced,
        logs.history_applied,
        logs.history_cut,
        logs.sign_refusals,
        logs.other_errors.len(),
        logs.warnings.len(),
    );
    // Each abort left a block's history synced without its state: the next open applied it.
    assert!(
        logs.history_applied >= aborts as usize,
        "{aborts} aborts inside a block commit, but only {} opens applied kept history",
        logs.history_applied
    );
    for line in logs.other_errors.iter().chain(&logs.warnings).take(10) {
        println!("  log: {line}");
    }
    drop(procs);
}

/// What the node logs say about the run (reported, not asserted: sign refusals are expected
/// after a WAL replay, docs/consensus.md).
#[derive(Default)]
struct LogCounts {
    wal_replays: usize,
    synced: usize,
    history_cut: usize,
    history_applied: usize,
    sign_refusals: usize,
    other_errors: Vec<String>,
    warnings: Vec<String>,
}

impl LogCounts {
    fn read(procs: &Procs) -> Self {
        let mut counts = LogCounts::default();
        for (i, p) in procs.procs.iter().enumerate() {
            let text = std::fs::read_to_string(&p.log).unwrap_or_default();
            for line in text.lines() {
                if line.contains("replayed the consensus WAL") {
                    counts.wal_replays += 1;
                } else if line.contains("fault injection: aborting between history and state") {
                    // The abort the harness asked for.
                } else if line.contains("history: cutting") {
                    counts.history_cut += 1;
                } else if line.contains("blocks kept in the history applied to the state again") {
                    counts.history_applied += 1;
                } else if line.contains("caught up by block") {
                    counts.synced += 1;
                } else if line.contains("refusing to sign") {
                    counts.sign_refusals += 1;
                } else if line.contains(" ERROR ") {
                    counts.other_errors.push(format!("node{i}: {line}"));
                } else if line.contains(" WARN ") {
                    counts.warnings.push(format!("node{i}: {line}"));
                }
            }
        }
        counts
    }
}

/// Each node's validator key, from `status`.
async fn validator_keys(shared: &Shared) -> Vec<PublicKey> {
    let mut keys = Vec::new();
    for i in 0..N {
        keys.push(shared.clients[i].status().await.expect("status").validator);
    }
    keys
}
