//! `keepsake testnet --dir`, `testnet start --dir` and `testnet stop --dir`
//! with the real binary: a 2-validator testnet started in the background
//! with one log per node, producing blocks, refusing a second start, and
//! stopped cleanly.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn keepsake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keepsake")).args(args).output().expect("the keepsake binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A port `p` with `p` and `p + 1` free just now.
fn two_free_ports() -> u16 {
    loop {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

/// Stops the testnet even when an assertion fails half way.
struct StopOnDrop<'a>(&'a Path);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = keepsake(&["testnet", "stop", "--dir", self.0.to_str().unwrap()]);
    }
}

fn height(url: &str) -> Option<u64> {
    let out = keepsake(&["status", "--json", "--rpc", url]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    status["height"].as_u64()
}

#[test]
fn a_testnet_starts_and_stops_with_one_log_per_node() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("net");
    let d = dir.to_str().unwrap();
    let (rpc, p2p) = (two_free_ports(), two_free_ports());
    let out = keepsake(&[
        "testnet",
        "--validators",
        "2",
        "--dir",
        d,
        "--rpc-base-port",
        &rpc.to_string(),
        "--p2p-base-port",
        &p2p.to_string(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("keepsake testnet start --dir"), "{}", text(&out.stderr));

    let _stop = StopOnDrop(&dir);
    let out = keepsake(&["testnet", "start", "--dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    for i in 0..2 {
        assert!(dir.join(format!("node{i}/node.pid")).is_file());
        assert!(listed.contains(&format!("http://127.0.0.1:{}", rpc + i)), "{listed}");
    }

    // Both validators are needed for a quorum: blocks mean they found each other.
    let url = format!("http://127.0.0.1:{rpc}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while height(&url).unwrap_or(0) < 2 {
        assert!(Instant::now() < deadline, "no block 2 within 60 s; node0 log:\n{}", log(&dir, 0));
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = keepsake(&["testnet", "start", "--dir", d]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("is already running (pid "), "{}", text(&out.stderr));

    let out = keepsake(&["testnet", "stop", "--dir", d]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches(": stopped (pid ").count(), 2, "{}", text(&out.stdout));
    for i in 0..2 {
        assert!(!dir.join(format!("node{i}/node.pid")).exists());
        let log = log(&dir, i as usize);
        assert!(log.contains("listening: JSON-RPC"), "node{i} log:\n{log}");
        assert!(!log.contains('\u{1b}'), "plain text, not a terminal's colours");
    }
    assert!(height(&url).is_none(), "node0 still answers after stop");
    let out = keepsake(&["testnet", "stop", "--dir", d]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("not running"), "{}", text(&out.stderr));
}

fn log(dir: &Path, i: usize) -> String {
    std::fs::read_to_string(dir.join(format!("node{i}/node.log"))).unwrap_or_default()
}
