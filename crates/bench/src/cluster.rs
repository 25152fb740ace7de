//! The `keepsake` processes a benchmark runs, started as an operator would:
//! where the binary is, a local consortium written by `keepsake testnet`, a
//! one-validator dev chain, `keepsake start` per home, and a clean stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jsonrpsee::http_client::HttpClient;
use keepsake_rpc::KeepsakeApiClient;

use crate::tempfile_dir;

/// The environment variable that names the `keepsake` binary (as `--keepsake-bin` does).
pub const KEEPSAKE_BIN_ENV: &str = "KEEPSAKE_BIN";

const BUILD_HINT: &str = "build it with `cargo build --release -p keepsake`";

/// The `keepsake` binary the benchmarks start: `explicit` (`--keepsake-bin`
/// or `KEEPSAKE_BIN`) if given, else the one in the directory of this
/// program (`cargo build --release -p keepsake -p keepsake-bench` puts both
/// in `target/release/`). A missing binary is an error that says how to
/// build it.
pub fn keepsake_bin(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_path_buf());
        }
        bail!(
            "the keepsake binary {} (--keepsake-bin or {KEEPSAKE_BIN_ENV}) does not exist; {BUILD_HINT}",
            path.display()
        );
    }
    let me = std::env::current_exe().context("the path of this keepsake-bench binary")?;
    let sibling = beside(&me);
    if sibling.is_file() {
        return Ok(sibling);
    }
    bail!(
        "no keepsake binary next to this keepsake-bench ({} does not exist); {BUILD_HINT} \
         (the same profile as keepsake-bench), or give its path with --keepsake-bin PATH or {KEEPSAKE_BIN_ENV}",
        sibling.display()
    )
}

/// `keepsake` in the directory of `exe`.
pub fn beside(exe: &Path) -> PathBuf {
    exe.with_file_name(format!("keepsake{}", std::env::consts::EXE_SUFFIX))
}

/// The validator processes; dropping this kills any still running and
/// removes the directory (unless kept).
pub(crate) struct Cluster {
    pub(crate) dir: PathBuf,
    pub(crate) homes: Vec<PathBuf>,
    children: Vec<Child>,
    /// The `keepsake` binary the nodes were started with (for [`Cluster::start_one`]).
    bin: PathBuf,
    keep: bool,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Cluster {
    /// Peak RSS of validator `i` in MiB, from `/proc/PID/status` (Linux).
    pub(crate) fn peak_rss_mib(&self, i: usize) -> f64 {
        self.proc_status_mib(i, "VmHWM:")
    }

    /// Resident set of validator `i` now (VmRSS) in MiB (Linux; NaN elsewhere).
    pub(crate) fn rss_mib(&self, i: usize) -> f64 {
        self.proc_status_mib(i, "VmRSS:")
    }

    /// CPU time (user + system) validator `i` has used so far, in seconds,
    /// from `/proc/PID/stat` (Linux, whose clock tick is 1/100 s to user
    /// space; NaN elsewhere).
    pub(crate) fn cpu_seconds(&self, i: usize) -> f64 {
        match self.proc_stat_fields(i, &[14, 15]).as_deref() {
            Some(&[user, system]) => (user + system) / 100.0,
            _ => f64::NAN,
        }
    }

    /// Minor page faults validator `i` has taken so far (first touches of
    /// memory it grows into), from `/proc/PID/stat`; NaN where unknown.
    pub(crate) fn minor_faults(&self, i: usize) -> f64 {
        match self.proc_stat_fields(i, &[10]).as_deref() {
            Some(&[faults]) => faults,
            _ => f64::NAN,
        }
    }

    /// Fields `ns` (1-based, as in proc(5)) of one read of validator `i`'s
    /// `/proc/PID/stat`.
    fn proc_stat_fields(&self, i: usize, ns: &[usize]) -> Option<Vec<f64>> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.children[i].id())).ok()?;
        // Fields after the command name (which may hold spaces) start at field 3 (state).
        let (_, rest) = stat.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        ns.iter().map(|n| fields.get(n.checked_sub(3)?)?.parse().ok()).collect()
    }

    fn proc_status_mib(&self, i: usize, key: &str) -> f64 {
        let path = format!("/proc/{}/status", self.children[i].id());
        let status = std::fs::read_to_string(path).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// Stops validator `i` alone as [`Cluster::stop`] stops them all (SIGTERM,
    /// 30 s, then SIGKILL); returns the seconds until it exited. Its entry
    /// stays in place (an exited process) until [`Cluster::start_one`].
    pub(crate) fn stop_one(&mut self, i: usize) -> f64 {
        let started = Instant::now();
        let c = &mut self.children[i];
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let deadline = started + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = c.kill();
        let _ = c.wait();
        started.elapsed().as_secs_f64()
    }

    /// Starts validator `i` again on the same home (after [`Cluster::stop_one`]),
    /// appending to its log; the new process takes its place in the list.
    pub(crate) fn start_one(&mut self, i: usize) -> anyhow::Result<()> {
        if let Ok(None) = self.children[i].try_wait() {
            bail!("node{i} is still running");
        }
        self.children[i] = self.spawn(i, true)?;
        Ok(())
    }

    /// SIGTERM (a clean stop: sled flushes) and wait, then SIGKILL any straggler.
    pub(crate) fn stop(&mut self) {
        for c in &self.children {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for c in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts one more node on `home` (`bin start`, by default the cluster's
    /// binary, logging to `DIR/nodeI.log`); returns its index and process id.
    pub(crate) fn add_node(&mut self, home: PathBuf, bin: Option<&Path>) -> anyhow::Result<(usize, u32)> {
        self.homes.push(home);
        let i = self.homes.len() - 1;
        match self.spawn_with(bin.unwrap_or(&self.bin), i, false) {
            Ok(child) => {
                let pid = child.id();
                self.children.push(child);
                Ok((i, pid))
            }
            Err(e) => {
                self.homes.pop();
                Err(e)
            }
        }
    }

    /// Kills the last node added with [`Cluster::add_node`] (SIGKILL: its
    /// state is thrown away) and forgets it.
    pub(crate) fn remove_last(&mut self) {
        if let Some(mut c) = self.children.pop() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.homes.pop();
    }

    pub(crate) fn exited(&mut self) -> Option<(usize, String)> {
        self.children.iter_mut().enumerate().find_map(|(i, c)| match c.try_wait() {
            Ok(Some(status)) => Some((i, status.to_string())),
            _ => None,
        })
    }

    /// `keepsake start --home HOME` for every home, each logging to `DIR/nodeI.log`.
    fn start(&mut self, bin: &Path) -> anyhow::Result<()> {
        self.bin = bin.to_path_buf();
        for i in 0..self.homes.len() {
            let child = self.spawn(i, false)?;
            self.children.push(child);
        }
        Ok(())
    }

    /// `keepsake start --home HOME` of validator `i`, logging to `DIR/nodeI.log`
    /// (appended to if `append`, else truncated).
    fn spawn(&self, i: usize, append: bool) -> anyhow::Result<Child> {
        self.spawn_with(&self.bin, i, append)
    }

    fn spawn_with(&self, bin: &Path, i: usize, append: bool) -> anyhow::Result<Child> {
        let home = &self.homes[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(self.dir.join(format!("node{i}.log")))?;
        Command::new(bin)
            .arg("start")
            .arg("--home")
            .arg(home)
            .env("RUST_LOG", std::env::var("KEEPSAKE_BENCH_NODE_LOG").unwrap_or_else(|_| "warn".into()))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} start --home {}", bin.display(), home.display()))
    }

    /// Waits (60 s at most) until every node answers `status` at `height`
    /// or above; fails at once if a node exits.
    pub(crate) async fn wait_for_height(
        &mut self,
        clients: &[HttpClient],
        height: u64,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        for (i, c) in clients.iter().enumerate() {
            loop {
                if let Some((j, status)) = self.exited() {
                    bail!(
                        "node{j} exited ({status}); see {}",
                        self.dir.join(format!("node{j}.log")).display()
                    );
                }
                match c.status().await {
                    Ok(s) if s.height >= height => break,
                    _ if Instant::now() > deadline && height == 0 => {
                        bail!("node{i} did not answer JSON-RPC within 60 s")
                    }
                    _ if Instant::now() > deadline => {
                        bail!("node{i} did not commit block {height} within 60 s")
                    }
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
        Ok(())
    }
}

/// `n` consecutive ports starting at the returned base that can be bound now
/// (below the ephemeral range, so outgoing connections do not take them).
pub(crate) fn free_port_base(n: usize, avoid: Option<u16>) -> anyhow::Result<u16> {
    for _ in 0..500 {
        let mut r = [0u8; 2];
        getrandom::getrandom(&mut r).context("OS randomness")?;
        let base = 20_000 + u16::from_le_bytes(r) % 10_000;
        if avoid.is_some_and(|a| base.abs_diff(a) < n as u16 + 1) {
            continue;
        }
        let held: Option<Vec<std::net::TcpListener>> =
            (0..n as u16).map(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).ok()).collect();
        if held.is_some() {
            return Ok(base);
        }
    }
    bail!("found no {n} consecutive free ports between 20000 and 30000")
}

/// A `validators`-node consortium in a new temporary directory, written by
/// `keepsake testnet` (chain `keepsake-bench`), each node started with
/// `keepsake start`. Returns the processes and their RPC URLs.
/// `prepare(dir, homes)` runs on the written testnet before any node starts
/// (to change the configs).
pub(crate) fn start_cluster_with(
    bin: &Path,
    validators: usize,
    keep: bool,
    prepare: impl FnOnce(&Path, &[PathBuf]) -> anyhow::Result<()>,
) -> anyhow::Result<(Cluster, Vec<String>)> {
    let dir = tempfile_dir()?;
    let mut cluster =
        Cluster { dir: dir.clone(), homes: Vec::new(), children: Vec::new(), bin: bin.to_path_buf(), keep };
    let rpc_base = free_port_base(validators, None)?;
    let p2p_base = free_port_base(validators, Some(rpc_base))?;
    let out = Command::new(bin)
        .arg("testnet")
        .args(["--validators", &validators.to_string()])
        .arg("--dir")
        .arg(&dir)
        .args(["--chain-id", "keepsake-bench"])
        .args(["--rpc-base-port", &rpc_base.to_string()])
        .args(["--p2p-base-port", &p2p_base.to_string()])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} testnet", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} testnet failed ({}): {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // `keepsake testnet` prints the node homes, one a line.
    cluster.homes = String::from_utf8_lossy(&out.stdout).lines().map(PathBuf::from).collect();
    if cluster.homes.len() != validators {
        bail!("{} testnet wrote {} homes, not {validators}", bin.display(), cluster.homes.len());
    }
    prepare(&dir, &cluster.homes)?;
    cluster.start(bin)?;
    let urls = (0..validators).map(|i| format!("http://127.0.0.1:{}", rpc_base as usize + i)).collect();
    Ok((cluster, urls))
}

/// A one-validator dev chain (the home `keepsake dev` creates, in
/// `DIR/home`) with `[block] batch_wait_ms` set, run by `keepsake start`.
/// Returns the process and its RPC URL once it answers.
pub(crate) async fn start_dev_node(bin: &Path, batch_wait_ms: u64) -> anyhow::Result<(Cluster, String)> {
    let dir = tempfile_dir()?;
    let home = dir.join("home");
    let mut cluster =
        Cluster { dir, homes: vec![home.clone()], children: Vec::new(), bin: bin.to_path_buf(), keep: false };
    let port = free_port_base(1, None)?;
    keepsake::dev::init_home(&home, SocketAddr::from(([127, 0, 0, 1], port)))?;
    let path = home.join(keepsake::config::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut config: keepsake::config::NodeConfig =
        toml::from_str(&text).with_context(|| format!("{} is not a node config", path.display()))?;
    config.block.batch_wait_ms = batch_wait_ms;
    std::fs::write(&path, toml::to_string_pretty(&config)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    cluster.start(bin)?;
    let url = format!("http://127.0.0.1:{port}");
    cluster.wait_for_height(&[keepsake::rpc_client::client(&url)?], 0).await?;
    Ok((cluster, url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_binary_beside_itself_or_says_how_to_build_it() {
        assert_eq!(
            beside(Path::new("/x/target/release/keepsake-bench")),
            PathBuf::from(format!("/x/target/release/keepsake{}", std::env::consts::EXE_SUFFIX))
        );
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("keepsake");
        let err = keepsake_bin(Some(&bin)).unwrap_err().to_string();
        assert!(err.contains("cargo build --release -p keepsake"), "{err}");
        assert!(err.contains(&bin.display().to_string()), "{err}");
        std::fs::write(&bin, "").unwrap();
        assert_eq!(keepsake_bin(Some(&bin)).unwrap(), bin);
    }
}
