//! `keepsake cert` (fetch, refresh, check the status of and verify
//! certificates).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use jsonrpsee::http_client::HttpClient;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::ConsistencyResponse;
use keepsake_types::{
    Certificate, CertificateId, CertificateStatus, Genesis, VerifiedCertificate, VerifiedStatus,
    certificate::CERTIFICATE_FILE_MAX,
};

use super::common::{RpcArgs, read_genesis, utc_date};
use crate::config::{GENESIS_FILE_MAX, read_bounded};
use crate::rpc_client::{client, describe};

#[derive(Subcommand, Debug)]
pub(super) enum CertCommand {
    /// Fetch a certificate with its proofs and write it to a file.
    Get {
        /// The certificate id.
        id: CertificateId,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Re-anchor a certificate to the node's latest checkpoint, linked to its
    /// old checkpoint by a consistency proof (verified before writing).
    Refresh {
        /// The certificate file.
        file: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
        /// Where to write the refreshed certificate (default: over FILE).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Ask a node whether a certificate is active or revoked, and verify the
    /// answer offline (a revocation carries its own inclusion proof).
    Status {
        /// The certificate file.
        file: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
        /// Verify this saved answer instead of asking a node.
        #[arg(long)]
        answer: Option<PathBuf>,
        /// Save the node's answer to this file (to verify again later, offline).
        #[arg(long, conflicts_with = "answer")]
        save: Option<PathBuf>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Verify a certificate offline against a genesis file.
    Verify {
        /// The certificate file.
        file: PathBuf,
        /// The chain's genesis file (the only thing trusted).
        #[arg(long)]
        genesis: PathBuf,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn cert(command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::Get { id, out, rpc } => {
            let client = client(&rpc.rpc)?;
            let response = client.get_certificate(id).await.map_err(describe)?;
            let json = serde_json::to_string_pretty(&response.certificate)?;
            std::fs::write(&out, json + "\n").with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "wrote {} (checkpoint height {})",
                out.display(),
                response.certificate.checkpoint.header.height
            );
            if let Some(r) = response.revocation {
                eprintln!(
                    "note: this certificate was REVOKED at height {} by {}: {}",
                    r.height, r.by, r.reason
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CertCommand::Refresh { file, genesis, out, rpc } => {
            refresh(&file, &genesis, out.as_deref(), &rpc.rpc).await
        }
        CertCommand::Status { file, genesis, answer, save, json, rpc } => {
            status(&file, &genesis, answer.as_deref(), save.as_deref(), json, &rpc.rpc).await
        }
        CertCommand::Verify { file, genesis, json } => {
            let verdict = verify_files(&file, &genesis);
            match (&verdict, json) {
                (Ok(v), true) => println!("{}", serde_json::json!({"valid": true, "certificate": v})),
                (Err(f), true) => println!(
                    "{}",
                    serde_json::json!({"valid": false, "checked": !f.cannot_check, "code": f.code, "reason": f.message})
                ),
                (Ok(v), false) => {
                    for line in verified_lines(v) {
                        println!("{line}");
                    }
                }
                (Err(f), false) => f.report(),
            }
            Ok(verdict.map_or_else(|f| f.exit_code(), |_| ExitCode::SUCCESS))
        }
    }
}

/// What `keepsake cert verify` prints for a valid certificate, line by line.
pub fn verified_lines(v: &VerifiedCertificate) -> Vec<String> {
    let r = &v.record;
    let signers = match v.set_changes {
        0 => "the genesis validator set".to_string(),
        1 => "the validator set after 1 validator-set change".to_string(),
        n => format!("the validator set after {n} validator-set changes"),
    };
    let mut lines = vec![
        format!("VALID certificate {}", v.certificate_id),
        format!("  series        {} ({})", r.series_name, r.series_id),
        format!("  edition       {} of {}", r.edition, r.max_supply),
        format!("  holder        {}", r.holder),
        format!("  issuer        {}", r.issuer),
        format!("  content hash  {}", r.content_hash),
        format!("  minted        {} (block {})", utc_date(r.time_ms), r.height),
        format!(
            "  checkpoint    height {}, log size {}, signed by power {} of {} ({signers})",
            v.checkpoint_height, v.log_size, v.signed_power, v.total_power
        ),
    ];
    if v.set_changes > 0 {
        lines.push(format!(
            "  validators    {} validator-set change{} followed from the genesis, each proven by a quorum of the set before it",
            v.set_changes,
            if v.set_changes == 1 { "" } else { "s" }
        ));
    }
    if let Some(h) = v.previous_height {
        lines.push(format!("  refreshed     from checkpoint height {h} (log consistency proven)"));
    }
    if !r.synthesized_from.is_empty() {
        let recipe = v.recipe.map(|n| format!(" by recipe {n}")).unwrap_or_default();
        lines.push(format!(
            "  synthesized   from {} burned certificate{}{recipe}:",
            r.synthesized_from.len(),
            if r.synthesized_from.len() == 1 { "" } else { "s" }
        ));
        lines.extend(r.synthesized_from.iter().map(|id| format!("                {id}")));
    }
    match (&v.blind_box, &r.variant) {
        (Some(b), Some(variant)) => {
            let at = b.reveal.as_ref().map(|rv| format!(", revealed at height {}", rv.height));
            lines.push(format!(
                "  variant       {} (variant {} of the blind box, content hash {}{})",
                variant.name,
                variant.index,
                variant.content_hash,
                at.unwrap_or_default()
            ));
        }
        (Some(_), None) => lines.push("  blind box     not yet revealed (no variant drawn yet)".to_string()),
        (None, _) => {}
    }
    lines.push(
        "  status        not checked offline: a certificate file cannot show a later revocation or burn; \
         `keepsake cert status FILE --genesis GENESIS` asks a node and verifies its answer"
            .to_string(),
    );
    lines
}

/// What `keepsake cert status` prints for a verified answer, line by line.
pub fn status_lines(v: &VerifiedStatus) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(r) = &v.revocation {
        lines.push(format!(
            "REVOKED certificate {} on {} (block {}) by {}: {} (proven by log entry {}, checkpoint height {})",
            v.certificate_id,
            utc_date(r.time_ms),
            r.height,
            match r.by {
                keepsake_types::Revoker::Issuer => "its issuer",
                keepsake_types::Revoker::Governance => "governance",
            },
            r.reason,
            r.leaf_index,
            v.checkpoint_height
        ));
    }
    if let Some(b) = &v.burned {
        lines.push(format!(
            "BURNED certificate {}: burned on {} into {} (synthesis at height {}, proven by log entry {}, checkpoint height {})",
            v.certificate_id,
            utc_date(b.time_ms),
            b.into,
            b.height,
            b.leaf_index,
            v.checkpoint_height
        ));
    }
    if lines.is_empty() {
        lines.push(format!(
            "ACTIVE certificate {} according to the node at checkpoint height {} (the checkpoint is genuine; the absence of a revocation or burn is the node's word, see `keepsake audit`)",
            v.certificate_id, v.checkpoint_height
        ));
    }
    lines
}

/// Re-anchors `old` (already verified against `genesis`) to the node's
/// latest checkpoint: the result carries the old checkpoint, linked by the
/// node's consistency proof, and the validator-set transitions of the new
/// checkpoint, and is verified before it is returned ([`link_refreshed`]).
/// `None`: already current.
pub async fn refresh_certificate(
    client: &HttpClient,
    genesis: &Genesis,
    old: &Certificate,
) -> anyhow::Result<Option<Certificate>> {
    let fresh = client.get_certificate(old.certificate_id).await.map_err(describe)?.certificate;
    let (old_h, new_h) = (old.checkpoint.header.height, fresh.checkpoint.header.height);
    if new_h <= old_h {
        return Ok(None);
    }
    let link = client.get_consistency_proof(old_h, new_h).await.map_err(describe)?;
    link_refreshed(genesis, old, fresh, link).map(Some)
}

/// The refreshed certificate from the node's answers (offline; the part of
/// [`refresh_certificate`] after the two calls): `fresh` is the node's
/// certificate at a newer checkpoint, with the transitions in force there;
/// `link` its consistency proof from `old`'s checkpoint. The node must still
/// show the old checkpoint unchanged, its validator-set history must extend
/// the one `old` carries (the same change entries, in order), and the
/// result, older checkpoint included, must verify under the schedule of the
/// new transitions.
pub fn link_refreshed(
    genesis: &Genesis,
    old: &Certificate,
    fresh: Certificate,
    link: ConsistencyResponse,
) -> anyhow::Result<Certificate> {
    let (old_h, new_h) = (old.checkpoint.header.height, fresh.checkpoint.header.height);
    if fresh.certificate_id != old.certificate_id {
        bail!("the node answered with another certificate ({})", fresh.certificate_id);
    }
    if link.old.header != old.checkpoint.header {
        bail!(
            "the node now shows header {} at height {old_h}, the certificate was checked at {}: the chain was rewritten (or the node is lying); keep the old certificate as evidence",
            link.old.header.hash(),
            old.checkpoint.header.hash()
        );
    }
    if link.new.header != fresh.checkpoint.header {
        bail!("the node answered two different headers at height {new_h}; retry");
    }
    // Both files verify from the genesis alone; a node whose set changes
    // differ from the ones the old certificate proved shows another history.
    let changes = |c: &Certificate| -> Vec<(u64, Vec<u8>)> {
        c.transitions.iter().map(|t| (t.change.leaf_index, t.change.leaf.0.clone())).collect()
    };
    let (before, now) = (changes(old), changes(&fresh));
    if !now.starts_with(&before) {
        bail!(
            "the node's validator-set changes ({} of them) do not extend the {} the certificate proved: \
             the node shows another history; keep the old certificate as evidence",
            now.len(),
            before.len()
        );
    }
    let refreshed = Certificate {
        previous: Some(keepsake_types::CheckpointLink {
            checkpoint: old.checkpoint.clone(),
            consistency: link.proof,
        }),
        ..fresh
    };
    refreshed
        .verify(genesis)
        .map_err(|e| anyhow::anyhow!("the refreshed certificate does not verify: {}: {e}", e.code()))?;
    if refreshed.record != old.record {
        bail!("the node's record of this certificate differs from the old certificate's record");
    }
    Ok(refreshed)
}

/// `keepsake cert refresh`.
async fn refresh(file: &Path, genesis: &Path, out: Option<&Path>, rpc: &str) -> anyhow::Result<ExitCode> {
    let genesis = read_genesis(genesis)?;
    let old = read_certificate(file)?;
    old.verify(&genesis)
        .map_err(|e| anyhow::anyhow!("the certificate to refresh is invalid: {}: {e}", e.code()))?;
    let Some(refreshed) = refresh_certificate(&client(rpc)?, &genesis, &old).await? else {
        eprintln!(
            "already current: the node has no checkpoint above height {}",
            old.checkpoint.header.height
        );
        return Ok(ExitCode::SUCCESS);
    };
    let target = out.unwrap_or(file);
    let json = serde_json::to_string_pretty(&refreshed)? + "\n";
    // Write beside, then rename over: the holder's file is never left half written.
    let tmp = target.with_extension("json.tmp");
    std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, target).with_context(|| format!("cannot replace {}", target.display()))?;
    eprintln!(
        "refreshed {}: checkpoint height {} -> {} (log {} -> {} entries, consistency proven; {} validator-set change{} followed)",
        target.display(),
        old.checkpoint.header.height,
        refreshed.checkpoint.header.height,
        old.checkpoint.header.log_size,
        refreshed.checkpoint.header.log_size,
        refreshed.transitions.len(),
        if refreshed.transitions.len() == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `keepsake cert status`: the node's (or a saved) answer, verified offline.
async fn status(
    file: &Path,
    genesis: &Path,
    answer: Option<&Path>,
    save: Option<&Path>,
    json: bool,
    rpc: &str,
) -> anyhow::Result<ExitCode> {
    let (genesis, verified) = match load_and_verify(file, genesis) {
        Ok(loaded) => loaded,
        Err(f) => {
            f.report();
            return Ok(f.exit_code());
        }
    };
    let status: CertificateStatus = match answer {
        Some(path) => {
            let text = match read_bounded(path, CERTIFICATE_FILE_MAX as u64) {
                Ok(text) => text,
                Err(e) => return Ok(cannot_check(e)),
            };
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a certificate status answer", path.display()))?
        }
        None => {
            let node = match client(rpc) {
                Ok(node) => node,
                Err(e) => return Ok(cannot_check(e)),
            };
            match node.get_certificate_status(verified.certificate_id).await {
                Ok(status) => status,
                // Nobody answered: nothing was checked. An answer that does not
                // decode is an invalid answer (exit 1), as it is from a file.
                Err(e @ jsonrpsee::core::ClientError::Transport(_)) => return Ok(cannot_check(describe(e))),
                Err(e) => return Err(describe(e)),
            }
        }
    };
    if let Some(path) = save {
        std::fs::write(path, serde_json::to_string_pretty(&status)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let verdict = status.verify(&genesis, &verified);
    match (&verdict, json) {
        (Ok(v), true) => println!("{}", serde_json::json!({"valid": true, "status": v})),
        (Err(e), true) => {
            println!("{}", serde_json::json!({"valid": false, "code": e.code(), "reason": e.to_string()}))
        }
        (Ok(v), false) => {
            for line in status_lines(v) {
                println!("{line}");
            }
        }
        (Err(e), false) => eprintln!("INVALID status answer: {}: {e}", e.code()),
    }
    Ok(if verdict.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn read_certificate(path: &Path) -> anyhow::Result<Certificate> {
    let text = read_bounded(path, CERTIFICATE_FILE_MAX as u64)?;
    Certificate::from_json(&text).map_err(|e| anyhow::anyhow!("{}: {}: {e}", path.display(), e.code()))
}

/// Exit code of `cert verify`, `cert status` and `holder prove|verify` when
/// they could not check at all: a missing, unreadable or oversized file, an
/// invalid genesis file, a node that cannot be reached. (1 is "checked, and
/// INVALID"; 0 valid; `holder verify` has 3 for "not the holder"; clap's own
/// usage errors are 2 as well.)
pub const CANNOT_CHECK_EXIT: u8 = 2;

/// Why a certificate file did not verify.
#[derive(Debug)]
pub struct CheckFailure {
    /// Stable code: `Unreadable` for a file that cannot be read or is over
    /// its size limit, else the code of the genesis or certificate error.
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
    /// `true` when the inputs could not be checked (a file, or the genesis),
    /// `false` when the certificate was checked and is invalid.
    pub cannot_check: bool,
}

impl CheckFailure {
    /// [`CANNOT_CHECK_EXIT`] or 1.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(if self.cannot_check { CANNOT_CHECK_EXIT } else { 1 })
    }

    /// Prints the failure on stderr.
    pub fn report(&self) {
        if self.cannot_check {
            eprintln!("error: cannot check the certificate: {}: {}", self.code, self.message);
        } else {
            eprintln!("INVALID certificate: {}: {}", self.code, self.message);
        }
    }
}

/// Prints a could-not-check error; its exit code.
pub(super) fn cannot_check(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(CANNOT_CHECK_EXIT)
}

/// Reads and verifies a certificate file against a genesis file.
pub fn verify_files(file: &Path, genesis: &Path) -> Result<VerifiedCertificate, CheckFailure> {
    load_and_verify(file, genesis).map(|(_, verified)| verified)
}

/// [`verify_files`], also returning the genesis.
fn load_and_verify(file: &Path, genesis: &Path) -> Result<(Genesis, VerifiedCertificate), CheckFailure> {
    let unreadable = |e: anyhow::Error| CheckFailure {
        code: "Unreadable".into(),
        message: format!("{e:#}"),
        cannot_check: true,
    };
    let genesis_text = read_bounded(genesis, GENESIS_FILE_MAX).map_err(unreadable)?;
    let genesis = Genesis::from_json(&genesis_text).map_err(|e| CheckFailure {
        code: e.code().to_string(),
        message: format!("invalid genesis file {}: {e}", genesis.display()),
        cannot_check: true,
    })?;
    let invalid = |e: keepsake_types::Error| CheckFailure {
        code: e.code().to_string(),
        message: e.to_string(),
        cannot_check: false,
    };
    let text = read_bounded(file, CERTIFICATE_FILE_MAX as u64).map_err(unreadable)?;
    let verified = Certificate::from_json(&text).and_then(|cert| cert.verify(&genesis)).map_err(invalid)?;
    Ok((genesis, verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/certificates/");

    #[test]
    fn a_revocation_reads_in_words_and_dates() {
        let read = |name: &str| std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap();
        let genesis = Genesis::from_json(&read("genesis.json")).unwrap();
        let cert = Certificate::from_json(&read("revoked.json")).unwrap().verify(&genesis).unwrap();
        let status: CertificateStatus = serde_json::from_str(&read("revoked-status.json")).unwrap();
        let lines = status_lines(&status.verify(&genesis, &cert).unwrap()).join("\n");
        assert!(lines.starts_with("REVOKED certificate "), "{lines}");
        assert!(lines.contains(" UTC (block ") && lines.contains(") by its issuer: "), "{lines}");
    }
}
