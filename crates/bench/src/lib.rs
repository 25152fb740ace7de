//! # keepsake-bench
//!
//! Benchmarks are programs that print figures, never timed tests
//! (docs/benchmarks.md). Two kinds live in this crate:
//!
//! - **whole-node benchmarks**, the `keepsake-bench` binary: `drop`,
//!   `verify`, `mint`, `audit`, `history`, `catchup` and `wan` (validators in network
//!   namespaces behind a delaying relay, `crates/wan`). They drive the node as its users do: they
//!   write homes, start `keepsake start` processes (the binary found by
//!   [`cluster::keepsake_bin`]) and talk to them over JSON-RPC; `stages`
//!   runs one validator's code in-process instead, stage by stage;
//! - **criterion micro-benchmarks** of the pure crates in `benches/`:
//!   `cargo bench -p keepsake-bench`.
//!
//! ```sh
//! cargo build --release -p keepsake -p keepsake-bench
//! RUST_LOG=warn ./target/release/keepsake-bench drop --validators 4 --editions 10000
//! ```

pub mod catchup;
pub mod cluster;
pub mod drop;
pub mod history;
pub mod mint;
pub mod stages;
pub mod verify;
pub mod wan;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::Keypair;

pub(crate) fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// Single ed25519 verifications (`PublicKey::verify_message`, ZIP-215) per second on one core
/// (median of 5 rounds of 2,000).
pub fn verify_rate() -> f64 {
    let key = Keypair::from_seed([9; 32]);
    let messages: Vec<Vec<u8>> = (0..2000u32).map(|i| format!("message {i}").into_bytes()).collect();
    let sigs: Vec<_> = messages.iter().map(|m| key.sign_message(m)).collect();
    let public = key.public();
    let rates = (0..5)
        .map(|_| {
            let start = Instant::now();
            for (m, s) in messages.iter().zip(&sigs) {
                public.verify_message(m, s, "bench").expect("valid signature");
            }
            messages.len() as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    median(rates)
}

pub(crate) fn dir_size(path: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

async fn wait_committed(
    client: &jsonrpsee::http_client::HttpClient,
    id: keepsake_types::TxId,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        match client.get_tx_status(id).await? {
            TxStatus::Committed { height, .. } => return Ok(height),
            TxStatus::Rejected { error } => {
                bail!("benchmark transaction rejected: {}: {}", error.code, error.message)
            }
            _ if Instant::now() > deadline => bail!("benchmark transaction {id} not committed after 120 s"),
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

pub(crate) fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let mut nonce = [0u8; 8];
    getrandom::getrandom(&mut nonce).context("OS randomness")?;
    let dir = std::env::temp_dir().join(format!("keepsake-bench-{}", hex::encode(nonce)));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
