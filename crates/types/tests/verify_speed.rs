//! How many certificates one core verifies per second, one at a time
//! (`Certificate::verify`, no memo), on the golden fixture `valid.json`
//! (a quorum of 3 of the 4 precommits, as the node serves a checkpoint, the
//! mint, the series creation and its approval: 6 signatures), or on the
//! certificate file named by `KEEPSAKE_VERIFY_SPEED_FILE` (checked against
//! the fixtures' genesis). It reports the rate by wall time and by the thread's own CPU
//! time (Linux `schedstat`), which other processes on a shared machine do not
//! inflate. Ignored by default (a measurement, not a check); run it
//! optimised:
//!
//! ```sh
//! cargo test --release -p keepsake-types --test verify_speed -- --ignored --nocapture
//! ```

use std::path::PathBuf;
use std::time::Instant;

use keepsake_types::{Certificate, Genesis};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/certificates").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Nanoseconds this thread has run on a CPU (Linux), if known.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[test]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
fn certificates_verified_per_second_on_one_core() {
    let genesis: Genesis = serde_json::from_str(&fixture("genesis.json")).unwrap();
    let certificate = match std::env::var_os("KEEPSAKE_VERIFY_SPEED_FILE") {
        Some(path) => Certificate::from_json(&std::fs::read_to_string(path).unwrap()).unwrap(),
        None => Certificate::from_json(&fixture("valid.json")).unwrap(),
    };
    certificate.verify(&genesis).unwrap();
    eprintln!(
        "a certificate with {} precommits in its checkpoint",
        certificate.checkpoint.commit.signatures.len()
    );
    let rounds = 5;
    let per_round = 4_000;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..rounds {
        let (start, start_cpu) = (Instant::now(), thread_cpu_ns());
        for _ in 0..per_round {
            std::hint::black_box(certificate.verify(std::hint::black_box(&genesis)).unwrap());
        }
        wall.push(per_round as f64 / start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (start_cpu, thread_cpu_ns()) {
            cpu.push(per_round as f64 / ((b - a) as f64 / 1e9));
        }
    }
    for (what, rates) in [("wall time", &mut wall), ("thread CPU time", &mut cpu)] {
        if rates.is_empty() {
            continue;
        }
        rates.sort_by(f64::total_cmp);
        eprintln!(
            "Certificate::verify by {what}: median {:.0}/s (min {:.0}, max {:.0}) over {} rounds of {per_round}",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            rates.len()
        );
    }
}
