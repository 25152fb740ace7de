//! The `keepsake-bench` command line: its four benchmarks, and a missing
//! `keepsake` binary is an error that says how to build it (checked before
//! any benchmark work starts).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_keepsake-bench");

#[test]
fn offers_the_four_benchmarks_with_their_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["drop", "verify", "mint", "audit"] {
        assert!(help.contains(&format!("  {command} ")), "{command} missing from:\n{help}");
    }
    assert!(help.contains("--keepsake-bin"), "{help}");
    let out = Command::new(BIN).args(["drop", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in ["--validators", "--editions", "--batch", "--rate", "--seconds", "--json", "--keep", "--runs"]
    {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn drop_runs_out_of_range_is_refused_before_any_work() {
    for runs in ["0", "101"] {
        // Any existing file passes the binary check; the runs are refused before it is run.
        let out = Command::new(BIN).args(["--keepsake-bin", BIN, "drop", "--runs", runs]).output().unwrap();
        assert!(!out.status.success(), "--runs {runs} was accepted");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("--runs must be between 1 and 100"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing measured: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn a_missing_keepsake_binary_says_how_to_build_it() {
    let missing = "/nonexistent/keepsake";
    let by_flag = Command::new(BIN)
        .env_remove("KEEPSAKE_BIN")
        .args(["--keepsake-bin", missing, "mint", "--editions", "1"])
        .output()
        .unwrap();
    let by_env = Command::new(BIN).env("KEEPSAKE_BIN", missing).args(["verify", "--json"]).output().unwrap();
    for out in [by_flag, by_env] {
        assert!(!out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(missing), "{stderr}");
        assert!(stderr.contains("cargo build --release -p keepsake"), "{stderr}");
        assert!(out.stdout.is_empty(), "nothing measured: {}", String::from_utf8_lossy(&out.stdout));
    }
}

#[test]
fn stages_runs_in_process_without_a_keepsake_binary_and_refuses_bad_sizes() {
    // A missing `keepsake` binary does not matter: stages runs the code in-process.
    let out = Command::new(BIN)
        .env("KEEPSAKE_BIN", "/nonexistent/keepsake")
        .args(["stages", "--mints", "10", "--block-txs", "5", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["mints"].as_u64(), report["block_txs"].as_u64()), (Some(10), Some(5)));
    for stage in
        ["batch_verify_us", "gossip_admission_us", "validation_us", "commit_us", "total_us", "build_us"]
    {
        assert!(report[stage].as_f64().is_some_and(|us| us > 0.0), "{stage}: {report}");
    }
    let out = Command::new(BIN).args(["stages", "--mints", "5", "--block-txs", "6"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--block-txs at most --mints"));
}
