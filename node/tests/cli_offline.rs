//! The binary without a node: `keepsake holder prove|verify` against the
//! golden certificate (holder `holder_id("test-salt", "account-2")`), and
//! the error of a command whose node is not running.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/certificates")
}

fn keepsake(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keepsake")).args(args).output().expect("the keepsake binary runs")
}

/// `keepsake holder verify --opening O --certificate C --genesis G`.
fn holder_verify(opening: &str, certificate: &str, genesis: &str) -> Output {
    keepsake(&["holder", "verify", "--opening", opening, "--certificate", certificate, "--genesis", genesis])
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_holder_proves_and_a_verifier_checks_offline() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    let (cert, genesis) = (f.join("valid.json"), f.join("genesis.json"));
    let (cert, genesis) = (cert.to_str().unwrap(), genesis.to_str().unwrap());
    let opening = dir.path().join("opening.json");
    let opening = opening.to_str().unwrap();

    let out = keepsake(&[
        "holder",
        "prove",
        "--account",
        "account-2",
        "--salt",
        "test-salt",
        "--certificate",
        cert,
        "--genesis",
        genesis,
        "--out",
        opening,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = holder_verify(opening, cert, genesis);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("HOLDER: account \"account-2\""), "{}", text(&out.stdout));

    // The same opening against another certificate: not the holder (exit 3).
    let other = f.join("revoked.json");
    let out = holder_verify(opening, other.to_str().unwrap(), genesis);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("NOT the holder"), "{}", text(&out.stderr));

    // An invalid certificate: exit 1, before any opening is looked at.
    let tampered = f.join("tampered-holder.json");
    let out = holder_verify(opening, tampered.to_str().unwrap(), genesis);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("INVALID certificate"), "{}", text(&out.stderr));
}

#[test]
fn a_wrong_account_cannot_produce_an_opening() {
    let f = fixtures();
    let out = keepsake(&[
        "holder",
        "prove",
        "--account",
        "account-1",
        "--salt",
        "test-salt",
        "--certificate",
        f.join("valid.json").to_str().unwrap(),
        "--genesis",
        f.join("genesis.json").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("do not open certificate"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no opening is printed");
}

#[test]
fn a_command_whose_node_is_not_running_names_its_url_and_what_to_do() {
    // A port nobody listens on: bind one, then free it.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{addr}");
    let out = keepsake(&["status", "--rpc", &url]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("cannot reach the node at {url}: nothing is listening there")), "{err}");
    assert!(err.contains("keepsake dev"), "{err}");
}

/// `cert verify`: 0 valid, 1 checked and INVALID, 2 could not check (a
/// missing or oversized file, a missing or invalid genesis) — so a script
/// never takes a typo in a path for a forged certificate.
#[test]
fn a_file_that_cannot_be_checked_exits_2_and_an_invalid_certificate_1() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixtures();
    let genesis = f.join("genesis.json");
    let genesis = genesis.to_str().unwrap();
    let verify = |cert: &str, genesis: &str, json: bool| {
        let mut args = vec!["cert", "verify", cert, "--genesis", genesis];
        if json {
            args.push("--json");
        }
        keepsake(&args)
    };
    let valid = f.join("valid.json");
    let out = verify(valid.to_str().unwrap(), genesis, false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let tampered = f.join("tampered-holder.json");
    let out = verify(tampered.to_str().unwrap(), genesis, false);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).starts_with("INVALID certificate: CertificateMismatch"),
        "{}",
        text(&out.stderr)
    );

    let missing = dir.path().join("no-such-file.json");
    let out = verify(missing.to_str().unwrap(), genesis, false);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.starts_with("error: cannot check the certificate: Unreadable"), "{err}");
    assert!(err.contains("no-such-file.json"), "names the file: {err}");

    let big = dir.path().join("big.json");
    std::fs::write(&big, vec![b' '; 4 * 1024 * 1024 + 1]).unwrap();
    let out = verify(big.to_str().unwrap(), genesis, true);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["valid"], false);
    assert_eq!(answer["checked"], false);
    assert_eq!(answer["code"], "Unreadable");

    let out = verify(valid.to_str().unwrap(), missing.to_str().unwrap(), false);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = verify(valid.to_str().unwrap(), valid.to_str().unwrap(), false);
    assert_eq!(out.status.code(), Some(2), "a certificate given as the genesis: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains("invalid genesis file"), "{}", text(&out.stderr));

    let out = holder_verify(missing.to_str().unwrap(), valid.to_str().unwrap(), genesis);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
