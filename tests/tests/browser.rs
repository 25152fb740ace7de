//! The explorer page in a real browser: a real node serves the page (the
//! files of `web/`, embedded in the binary) and its JSON-RPC; headless
//! Debian Chromium driven by playwright-core (`tests/browser/explorer.mjs`)
//! checks the overview, a certificate's page, the verify panel on a real
//! certificate and on every golden fixture, and a node that lies; then,
//! after governance changed the chain's membership, the validators view
//! (`tests/browser/validators.mjs`).
//!
//! Needs `chromium` and `tests/browser/node_modules` (`npm ci` there).
//! `.ci/run` installs both and sets `KEEPSAKE_BROWSER_TESTS=1`, which makes
//! their absence a failure; without it the test says it is skipped.
//! Screenshots go to `target/browser-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{TestNode, wait_final};
use keepsake_types::{Keypair, TxBody, ValidatorChange, ids};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

/// The browser, and playwright-core installed; `None` (with the reason) when missing.
fn prerequisites() -> Result<PathBuf, String> {
    let browser = chromium().ok_or("no /usr/bin/chromium (apt-get install chromium)")?;
    let pw = repo().join("tests/browser/node_modules/playwright-core");
    if !pw.exists() {
        return Err(format!("no {} (run `npm ci` in tests/browser)", pw.display()));
    }
    Command::new("node").arg("--version").output().map_err(|e| format!("no node: {e}"))?;
    Ok(browser)
}

fn write(path: &Path, value: &impl serde::Serialize) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_verifies_certificates_in_the_browser() {
    let browser = match prerequisites() {
        Ok(b) => b,
        Err(why) if std::env::var_os("KEEPSAKE_BROWSER_TESTS").is_none() => {
            eprintln!(
                "SKIPPED the browser test: {why}. .ci/run installs it and sets KEEPSAKE_BROWSER_TESTS=1."
            );
            return;
        }
        Err(why) => panic!("KEEPSAKE_BROWSER_TESTS is set but {why}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let chain = t.chain().to_string();
    let series = t.setup_series("Flying Apsaras", 300).await;
    for edition in 1..=2 {
        let tx =
            TxBody::Mint { series_id: series, edition, holder: ids::holder_id("s", &format!("u{edition}")) }
                .sign(&chain, &[&t.issuer]);
        wait_final(&c, c.submit_tx(tx).await.unwrap()).await;
    }
    let (active, revoked) =
        (ids::certificate_id(&chain, &series, 1), ids::certificate_id(&chain, &series, 2));
    let revoke = TxBody::Revoke { certificate_id: revoked, reason: "minted in error".into() }
        .sign(&chain, &[&t.issuer]);
    wait_final(&c, c.submit_tx(revoke).await.unwrap()).await;

    // The real certificate and the node's genesis, as files the page is given.
    let cert_file = dir.path().join("apsaras-1.json");
    write(&cert_file, &c.get_certificate(active).await.unwrap().certificate);
    let out = repo().join("target/browser-screenshots");
    std::fs::create_dir_all(&out).unwrap();

    let result = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(repo().join("tests/browser/explorer.mjs"))
            .env("KEEPSAKE_URL", t.node.rpc_url())
            .env("KEEPSAKE_CHROMIUM", browser)
            .env("KEEPSAKE_FIXTURES", repo().join("tests/fixtures/certificates"))
            .env("KEEPSAKE_CERT_FILE", &cert_file)
            .env("KEEPSAKE_ACTIVE_ID", active.to_string())
            .env("KEEPSAKE_REVOKED_ID", revoked.to_string())
            .env("KEEPSAKE_SCREENSHOTS", &out)
            .output()
            .map(|o| (o, t))
    })
    .await
    .unwrap();
    let (output, t) = result.expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "browser test failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("ALL BROWSER CHECKS PASSED"), "{stdout}");

    // Governance raises the dev validator's power (a new set from two blocks
    // later) and registers an observer; the validators view shows both.
    let c = t.client();
    let me = t.genesis.validators[0].public_key;
    let power = TxBody::ChangeValidators {
        change: ValidatorChange::SetPower { public_key: me, power: 2 },
        nonce: 91,
    }
    .sign(&chain, &[&t.governor]);
    let TxStatus::Committed { height: set_change, .. } =
        wait_final(&c, c.submit_tx(power).await.unwrap()).await
    else {
        panic!("the power change is not committed")
    };
    let observer = TxBody::RegisterObserver {
        observer: Keypair::from_seed([77; 32]).public(),
        name: "Notary Office".into(),
        nonce: 92,
    }
    .sign(&chain, &[&t.governor]);
    wait_final(&c, c.submit_tx(observer).await.unwrap()).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while c.status().await.unwrap().height < set_change + 2 {
        assert!(std::time::Instant::now() < deadline, "the chain stopped after the set change");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(repo().join("tests/browser/validators.mjs"))
            .env("KEEPSAKE_URL", t.node.rpc_url())
            .env("KEEPSAKE_CHROMIUM", chromium().expect("checked above"))
            .env("KEEPSAKE_SET_CHANGE", set_change.to_string())
            .env("KEEPSAKE_SCREENSHOTS", repo().join("target/browser-screenshots"))
            .output()
            .map(|o| (o, t))
    })
    .await
    .unwrap();
    let (output, t) = output.expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(output.status.success(), "validators view test failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("ALL VALIDATORS CHECKS PASSED"), "{stdout}");
    t.node.shutdown().await.unwrap();
}
