//! `keepsake testnet`: writes a local consortium (see [`crate::testnet`]),
//! and starts or stops all of its nodes at once.
//!
//! `testnet start` runs `keepsake start --home DIR/nodeI` for every node as
//! a background process of its own (its own process group, so a Ctrl-C in
//! the terminal does not reach it), with stdout and stderr appended to
//! `DIR/nodeI/node.log` and its process id in `DIR/nodeI/node.pid`, and
//! returns once every node answers JSON-RPC. `testnet stop` sends each one
//! SIGTERM (the node's clean shutdown), waits for it to exit and removes the
//! pid file. A pid file whose process is gone, or is not a keepsake node of
//! that home (the pid was reused), is stale and is only removed.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keepsake_rpc::KeepsakeApiClient;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::config::NodeConfig;

/// Log file of each node, in its home.
pub const LOG_FILE: &str = "node.log";
/// Process id file of each running node, in its home.
pub const PID_FILE: &str = "node.pid";
/// How long `testnet start` waits for every node to answer JSON-RPC.
const START_WAIT: Duration = Duration::from_secs(60);
/// How long `testnet stop` waits for a node to exit after SIGTERM before SIGKILL.
const STOP_WAIT: Duration = Duration::from_secs(20);

/// What `keepsake testnet` writes.
#[derive(Args, Debug)]
pub(super) struct TestnetInit {
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
}

#[derive(Subcommand, Debug)]
pub(super) enum TestnetCommand {
    /// Start every node of a testnet in the background, one log per node (DIR/nodeI/node.log).
    Start {
        /// The testnet's directory (written by `keepsake testnet --dir DIR`).
        #[arg(long)]
        dir: PathBuf,
    },
    /// Stop every node `testnet start` started (SIGTERM, then wait for each to exit).
    Stop {
        /// The testnet's directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// `keepsake testnet --dir DIR ...`.
pub(super) fn init(args: TestnetInit) -> anyhow::Result<ExitCode> {
    let TestnetInit { validators, dir, chain_id, rpc_base_port, p2p_base_port } = args;
    let spec = crate::testnet::TestnetSpec { validators, chain_id, rpc_base_port, p2p_base_port };
    for home in crate::testnet::generate(&dir, &spec)? {
        println!("{}", home.display());
    }
    eprintln!(
        "wrote a {validators}-validator testnet in {dir}; start all of it with: keepsake testnet start --dir {dir} \
         (or each node with: keepsake start --home {dir}/nodeI)",
        dir = dir.display(),
    );
    Ok(ExitCode::SUCCESS)
}

/// `keepsake testnet start|stop`.
pub(super) async fn command(command: TestnetCommand) -> anyhow::Result<ExitCode> {
    match command {
        TestnetCommand::Start { dir } => start(&dir).await,
        TestnetCommand::Stop { dir } => stop(&dir).await,
    }
}

/// The node homes of a testnet, `nodeI` in order of I.
/// Absolute, so that a node's command line names its home the same way
/// whatever directory `testnet stop` is run from.
fn homes(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.join("genesis.json").is_file() {
        bail!(
            "{} holds no testnet: write one with `keepsake testnet --dir {}`",
            dir.display(),
            dir.display()
        );
    }
    let dir = &std::fs::canonicalize(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut homes = Vec::new();
    for i in 0.. {
        let home = dir.join(format!("node{i}"));
        if !home.join("config.toml").is_file() {
            break;
        }
        homes.push(home);
    }
    if homes.is_empty() {
        bail!("{} has a genesis.json but no node0/config.toml", dir.display());
    }
    Ok(homes)
}

async fn start(dir: &Path) -> anyhow::Result<ExitCode> {
    let homes = homes(dir)?;
    let exe = std::env::current_exe().context("cannot find the keepsake binary itself")?;
    let mut started: Vec<(PathBuf, Child, String)> = Vec::new();
    for home in &homes {
        if let Some(pid) = running_pid(home) {
            bail!(
                "{} is already running (pid {pid}); stop the testnet first: keepsake testnet stop --dir {}",
                home.display(),
                dir.display()
            );
        }
        let config = NodeConfig::load(home)?;
        let url = format!("http://{}", config.rpc.listen);
        let log = home.join(LOG_FILE);
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let err = out.try_clone()?;
        let mut command = Command::new(&exe);
        command.arg("start").arg("--home").arg(home).stdin(Stdio::null()).stdout(out).stderr(err);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().with_context(|| format!("cannot start {}", exe.display()))?;
        std::fs::write(home.join(PID_FILE), format!("{}\n", child.id()))
            .with_context(|| format!("cannot write {}", home.join(PID_FILE).display()))?;
        started.push((home.clone(), child, url));
    }
    // Every node answers JSON-RPC (its port is bound before consensus starts), or the start fails.
    let deadline = Instant::now() + START_WAIT;
    for (home, child, url) in &mut started {
        let client = crate::rpc_client::client(url)?;
        loop {
            if let Some(status) = child.try_wait()? {
                let log = home.join(LOG_FILE);
                bail!(
                    "{} exited ({status}) while starting; its log, {}, ends with:\n{}\n(the other nodes keep running: \
                     keepsake testnet stop --dir {})",
                    home.display(),
                    log.display(),
                    tail(&log, 20),
                    dir.display()
                );
            }
            if client.status().await.is_ok() {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} does not answer on {url} after {} s; see {} (keepsake testnet stop --dir {} stops all)",
                    home.display(),
                    START_WAIT.as_secs(),
                    home.join(LOG_FILE).display(),
                    dir.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for (home, child, url) in &started {
        println!("{}  pid {}  {url}  log {}", home.display(), child.id(), home.join(LOG_FILE).display());
    }
    eprintln!(
        "{} nodes running; stop them with: keepsake testnet stop --dir {}",
        started.len(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn stop(dir: &Path) -> anyhow::Result<ExitCode> {
    let homes = homes(dir)?;
    let mut signalled = Vec::new();
    for home in &homes {
        let pid_file = home.join(PID_FILE);
        match running_pid(home) {
            Some(pid) => {
                signal(pid, Signal::SIGTERM);
                signalled.push((home, pid));
            }
            None if pid_file.exists() => {
                eprintln!("{}: not running (stale {PID_FILE} removed)", home.display());
                let _ = std::fs::remove_file(&pid_file);
            }
            None => eprintln!("{}: not running", home.display()),
        }
    }
    for (home, pid) in signalled {
        let deadline = Instant::now() + STOP_WAIT;
        while alive(pid) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if alive(pid) {
            signal(pid, Signal::SIGKILL);
            eprintln!(
                "{}: still running {} s after SIGTERM; killed (pid {pid})",
                home.display(),
                STOP_WAIT.as_secs()
            );
        } else {
            println!("{}: stopped (pid {pid})", home.display());
        }
        let _ = std::fs::remove_file(home.join(PID_FILE));
    }
    Ok(ExitCode::SUCCESS)
}

/// The pid in `home`'s pid file when that process is alive and is a
/// keepsake node of this home (so a reused pid is never signalled).
fn running_pid(home: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(home.join(PID_FILE)).ok()?;
    let pid: i32 = text.trim().parse().ok().filter(|&p| p > 0)?;
    if !alive(pid) {
        return None;
    }
    // /proc/PID/cmdline: NUL-separated arguments; where /proc is missing, trust the pid file.
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            let home = home.as_os_str().as_encoded_bytes();
            (args.contains(&b"start".as_slice()) && args.contains(&home)).then_some(pid)
        }
        Err(_) => Some(pid),
    }
}

fn alive(pid: i32) -> bool {
    // Signal "none": only checks that the process exists and may be signalled.
    nix::sys::signal::kill(Pid::from_raw(pid), None).is_ok()
}

fn signal(pid: i32, sig: Signal) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
}

/// The last `lines` lines of a log file (for a node that died while starting).
fn tail(path: &Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = File::open(path) else { return String::new() };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.take(64 * 1024).read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
