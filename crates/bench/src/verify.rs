//! `keepsake-bench verify`: offline certificate verification on one core.
//!
//! Mints `--certificates` editions on a real local consortium (the same
//! processes as `keepsake-bench drop`), fetches every certificate over JSON-RPC, stops
//! the cluster, then verifies the files on one thread, nothing but the
//! genesis trusted:
//! - **one by one** (`Certificate::verify`, what `keepsake cert verify FILE`
//!   does): the checkpoint's quorum (3 of 4 precommits), the mint, the series
//!   creation and its review approval — about six signatures each, verified
//!   together in one batch (docs/signatures.md);
//! - **as a batch** (`CertificateVerifier`, what an auditor checking a whole
//!   drop uses): every check per certificate, but a checkpoint's quorum and a
//!   series entry's signatures are proven once per exact bytes.
//!
//! The single verification rate (ZIP-215) of the same core is measured in the same run.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use keepsake::rpc_client::describe;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_types::{Certificate, CertificateVerifier, Genesis, ids};
use serde::Serialize;

use crate::drop::{Consortium, Say, sign_mints, submit_all};
use crate::{median, verify_rate};

/// The figures (`--json` prints this).
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    /// Validators of the chain the certificates come from.
    pub validators: usize,
    /// Certificates verified per round.
    pub certificates: usize,
    /// Distinct checkpoints among them.
    pub checkpoints: usize,
    /// Fewest and most precommits a fetched certificate's checkpoint carried.
    pub precommits: (usize, usize),
    /// Single ed25519 verifications (ZIP-215) per second, one core (old field name kept).
    pub strict_verify_rate: f64,
    /// `Certificate::verify`, certificates/s on one core (median of 5 rounds).
    pub one_by_one_per_s: f64,
    /// `CertificateVerifier` (fresh each round), certificates/s on one core.
    pub batch_per_s: f64,
}

/// Runs the benchmark and prints its figures.
pub async fn run(bin: &Path, validators: usize, certificates: u32, json: bool) -> anyhow::Result<()> {
    if validators == 0 || certificates == 0 {
        bail!("--validators and --certificates must be at least 1");
    }
    let say = Say(json);
    say.line(format!(
        "keepsake-bench verify: {certificates} certificates of a {validators}-validator chain, one core"
    ));
    let strict = tokio::task::spawn_blocking(verify_rate).await?;
    let mut net = Consortium::launch(bin, validators, false, &say).await?;
    net.create_series("verified", certificates).await?;
    let series = net.series_id("verified");
    let (chain, issuer) = (net.chain.clone(), net.issuer.clone());
    let mints =
        tokio::task::spawn_blocking(move || sign_mints(&chain, &issuer, series, certificates)).await?;
    submit_all(net.clients[0].clone(), mints, 1000).await?;
    let client = &net.clients[0];
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    while client.get_series(series).await.map_err(describe)?.minted < certificates {
        if Instant::now() > deadline {
            bail!("the certificates were not all minted within 300 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let genesis = client.get_genesis().await.map_err(describe)?;
    let mut certs: Vec<Certificate> = Vec::with_capacity(certificates as usize);
    for e in 1..=certificates {
        let id = ids::certificate_id(&net.chain, &series, e);
        certs.push(client.get_certificate(id).await.map_err(describe)?.certificate);
    }
    net.cluster.stop();
    let checkpoints = {
        let mut heights: Vec<u64> = certs.iter().map(|c| c.checkpoint.header.height).collect();
        heights.sort_unstable();
        heights.dedup();
        heights.len()
    };
    let counts = certs.iter().map(|c| c.checkpoint.commit.signatures.len());
    let precommits = (counts.clone().min().unwrap_or(0), counts.max().unwrap_or(0));
    say.line(format!(
        "fetched {} certificates ({checkpoints} checkpoints, {}-{} precommits each); cluster stopped",
        certs.len(),
        precommits.0,
        precommits.1
    ));

    let (one_by_one, batch) = tokio::task::spawn_blocking(move || rates(&genesis, &certs)).await??;
    let report = VerifyReport {
        validators,
        certificates: certificates as usize,
        checkpoints,
        precommits,
        strict_verify_rate: strict,
        one_by_one_per_s: one_by_one,
        batch_per_s: batch,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("single ed25519 verify, one core: {strict:.0}/s");
        println!(
            "certificate verify, one by one (Certificate::verify): {one_by_one:.0}/s = {:.3} of the verify rate",
            one_by_one / strict
        );
        println!(
            "certificate verify, as a batch (CertificateVerifier): {batch:.0}/s = {:.3} of the verify rate",
            batch / strict
        );
    }
    Ok(())
}

/// Median certificates/s over 5 rounds, one by one and as a batch.
fn rates(genesis: &Genesis, certs: &[Certificate]) -> anyhow::Result<(f64, f64)> {
    let mut one = Vec::new();
    let mut batch = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for c in certs {
            c.verify(genesis).context("a benchmark certificate does not verify")?;
        }
        one.push(certs.len() as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let mut v = CertificateVerifier::new(genesis.clone());
        for c in certs {
            v.verify(c).context("a benchmark certificate does not verify in the batch verifier")?;
        }
        batch.push(certs.len() as f64 / t.elapsed().as_secs_f64());
    }
    Ok((median(one), median(batch)))
}
