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
    for flag in ["--validators", "--editions", "--batch", "--rate", "--seconds", "--json", "--keep"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
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
