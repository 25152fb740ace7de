//! `keepsake tx`: build a transaction, sign it locally, submit it and wait
//! for its commit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use jsonrpsee::http_client::HttpClient;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{
    CertificateId, ContentHash, Genesis, HolderId, IssuerStatus, Keypair, PublicKey, ReviewSubject, SeriesId,
    TxBody, TxId, Validator, ValidatorChange, hash::sha256, ids,
};

use super::common::RpcArgs;
use crate::keyfile;
use crate::rpc_client::{client, describe};

#[derive(Args, Debug, Clone)]
pub(super) struct SubmitArgs {
    #[command(flatten)]
    rpc: RpcArgs,
    /// Give up waiting for the commit after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

#[derive(Args, Debug, Clone)]
pub(super) struct GovernorArgs {
    /// A governor key file; repeat for k of n.
    #[arg(long = "governor-key", required = true)]
    governor_keys: Vec<PathBuf>,
    /// Governance nonce (default: random).
    #[arg(long)]
    nonce: Option<u64>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(super) enum StatusArg {
    Active,
    Suspended,
}

#[derive(Subcommand, Debug)]
pub(super) enum TxCommand {
    /// Governance: register an issuer.
    RegisterIssuer {
        /// The issuer's public key (hex).
        #[arg(long, conflicts_with = "issuer_key", required_unless_present = "issuer_key")]
        issuer: Option<PublicKey>,
        /// Or the issuer's key file (only its public key is used).
        #[arg(long)]
        issuer_key: Option<PathBuf>,
        /// The issuer's display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: suspend or reactivate an issuer.
    SetIssuerStatus {
        /// The issuer's public key.
        #[arg(long)]
        issuer: PublicKey,
        /// The new status.
        #[arg(long, value_enum)]
        status: StatusArg,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: register a content reviewer.
    RegisterReviewer {
        /// The reviewer's public key (hex).
        #[arg(long, conflicts_with = "reviewer_key", required_unless_present = "reviewer_key")]
        reviewer: Option<PublicKey>,
        /// Or the reviewer's key file (only its public key is used).
        #[arg(long)]
        reviewer_key: Option<PathBuf>,
        /// The reviewer's display name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: remove a content reviewer.
    RemoveReviewer {
        /// The reviewer's public key.
        #[arg(long)]
        reviewer: PublicKey,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: add a validator (it governs blocks from two heights after
    /// the change's). The new validator's key file co-signs.
    AddValidator {
        /// The new validator's key file (its node key; it co-signs).
        #[arg(long)]
        validator_key: PathBuf,
        /// Its voting power.
        #[arg(long, default_value_t = 1)]
        power: u64,
        /// The organisation's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: remove a validator (it keeps following as an observer).
    RemoveValidator {
        /// The validator's public key.
        #[arg(long)]
        validator: PublicKey,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: change a validator's voting power.
    SetValidatorPower {
        /// The validator's public key.
        #[arg(long)]
        validator: PublicKey,
        /// The new power (> 0).
        #[arg(long)]
        power: u64,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: replace a validator's key (its place, power and name stay).
    /// The new key file co-signs; restart the node with it once the change is
    /// in force (docs/operator-guide.md, "Rotating a validator key").
    RotateValidatorKey {
        /// The key being retired.
        #[arg(long)]
        old: PublicKey,
        /// The new key file.
        #[arg(long)]
        new_key: PathBuf,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: replace the governors and the threshold (signed by k of the
    /// current governors).
    SetGovernance {
        /// A new governor's public key; repeat for each.
        #[arg(long = "governor", required = true)]
        governors: Vec<PublicKey>,
        /// How many of them must sign a governance action.
        #[arg(long)]
        threshold: u32,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: admit an observer node's key to the peer network (an
    /// auditor's or regulator's node; it never votes).
    RegisterObserver {
        /// The observer node's public key.
        #[arg(long)]
        observer: PublicKey,
        /// Who runs it.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: withdraw an observer's admission.
    RemoveObserver {
        /// The observer node's public key.
        #[arg(long)]
        observer: PublicKey,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Create a series (prints the series id). The reviewer's approval is
    /// signed locally with --reviewer-key.
    CreateSeries {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The reviewer's key file (signs the approval of exactly these terms).
        #[arg(long)]
        reviewer_key: PathBuf,
        /// Series name (unique per issuer).
        #[arg(long)]
        name: String,
        /// The artwork file (its SHA-256 is the content hash).
        #[arg(long, conflicts_with = "content_hash", required_unless_present = "content_hash")]
        content_file: Option<PathBuf>,
        /// Or the artwork's SHA-256, hex.
        #[arg(long)]
        content_hash: Option<ContentHash>,
        /// Edition cap.
        #[arg(long)]
        max_supply: u32,
        /// Metadata URI.
        #[arg(long)]
        metadata_uri: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Mint one edition to a holder (prints the certificate id).
    Mint {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The series id.
        #[arg(long, conflicts_with = "series_name", required_unless_present = "series_name")]
        series: Option<SeriesId>,
        /// Or the series name (with the issuer's key it determines the id).
        #[arg(long)]
        series_name: Option<String>,
        /// Edition number (1 ..= max supply).
        #[arg(long)]
        edition: u32,
        /// The holder commitment (`keepsake holder-id`).
        #[arg(long)]
        holder: HolderId,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Revoke a certificate (the issuer's key, or k governor keys).
    Revoke {
        /// Signing key file(s).
        #[arg(long = "key", required = true)]
        keys: Vec<PathBuf>,
        /// The certificate id.
        #[arg(long)]
        certificate: CertificateId,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// What a node knows of a transaction: committed (where and when), pending, rejected (why) or unknown.
    Status {
        /// The transaction id (printed by every `tx` command).
        id: keepsake_types::TxId,
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Try to transfer a certificate. Always refused: Keepsake has no
    /// secondary trading. Exists so you can see the refusal.
    Transfer {
        /// Signing key file.
        #[arg(long)]
        key: PathBuf,
        /// The certificate id.
        #[arg(long)]
        certificate: CertificateId,
        /// The would-be new holder.
        #[arg(long)]
        to: HolderId,
        #[command(flatten)]
        submit: SubmitArgs,
    },
}

/// Submits a validator-set change signed by the governors and, for an
/// addition or a rotation, the new key; says from which height it governs.
async fn change_validators(
    change: ValidatorChange,
    gov: &GovernorArgs,
    new_key: Option<Keypair>,
    submit: &SubmitArgs,
) -> anyhow::Result<()> {
    let mut signers = read_keys(&gov.governor_keys)?;
    signers.extend(new_key);
    let what = change.describe();
    let body = TxBody::ChangeValidators { change, nonce: nonce_or_random(gov.nonce)? };
    let client = client(&submit.rpc.rpc)?;
    let chain = chain_of(&client).await?.chain_id;
    let id =
        submit_and_wait(&client, &chain, body, &signers, Duration::from_secs(submit.timeout_secs)).await?;
    if let TxStatus::Committed { height, .. } = client.get_tx_status(id).await.map_err(describe)? {
        eprintln!("{what}: in force from height {}", height + SET_CHANGE_DELAY);
    }
    Ok(())
}

fn read_keys(paths: &[PathBuf]) -> anyhow::Result<Vec<Keypair>> {
    paths.iter().map(|p| keyfile::read(p)).collect()
}

fn nonce_or_random(nonce: Option<u64>) -> anyhow::Result<u64> {
    match nonce {
        Some(n) => Ok(n),
        None => {
            let mut b = [0u8; 8];
            getrandom::getrandom(&mut b).context("the OS random number generator failed")?;
            Ok(u64::from_le_bytes(b))
        }
    }
}

async fn submit_and_wait(
    client: &HttpClient,
    chain: &str,
    body: TxBody,
    signers: &[Keypair],
    timeout: Duration,
) -> anyhow::Result<TxId> {
    let refs: Vec<&Keypair> = signers.iter().collect();
    let kind = body.kind();
    let tx = body.sign(chain, &refs);
    let id = client.submit_tx(tx).await.map_err(describe)?;
    eprintln!("submitted {kind} {id}");
    let deadline = Instant::now() + timeout;
    loop {
        match client.get_tx_status(id).await.map_err(describe)? {
            TxStatus::Committed { height, leaf_index, .. } => {
                eprintln!("committed at height {height} (log index {leaf_index})");
                return Ok(id);
            }
            TxStatus::Rejected { error } => bail!("rejected: {}: {}", error.code, error.message),
            TxStatus::Pending | TxStatus::Unknown => {}
        }
        if Instant::now() >= deadline {
            bail!("transaction {id} not committed after {}s; check later with its id", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A public key given directly, or read from a key file.
fn key_or_file(key: Option<PublicKey>, file: Option<PathBuf>, flags: &str) -> anyhow::Result<PublicKey> {
    match (key, file) {
        (Some(k), _) => Ok(k),
        (None, Some(path)) => Ok(keyfile::read(&path)?.public()),
        (None, None) => bail!("give {flags}"),
    }
}

async fn chain_of(client: &HttpClient) -> anyhow::Result<Genesis> {
    client.get_genesis().await.map_err(describe)
}

pub(super) async fn tx(command: TxCommand) -> anyhow::Result<ExitCode> {
    match command {
        TxCommand::RegisterIssuer { issuer, issuer_key, name, gov, submit } => {
            let issuer = key_or_file(issuer, issuer_key, "--issuer or --issuer-key")?;
            let body = TxBody::RegisterIssuer { issuer, name, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
            println!("{issuer}");
        }
        TxCommand::SetIssuerStatus { issuer, status, gov, submit } => {
            let status = match status {
                StatusArg::Active => IssuerStatus::Active,
                StatusArg::Suspended => IssuerStatus::Suspended,
            };
            let body = TxBody::SetIssuerStatus { issuer, status, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::RegisterReviewer { reviewer, reviewer_key, name, gov, submit } => {
            let reviewer = key_or_file(reviewer, reviewer_key, "--reviewer or --reviewer-key")?;
            let body = TxBody::RegisterReviewer { reviewer, name, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
            println!("{reviewer}");
        }
        TxCommand::RemoveReviewer { reviewer, gov, submit } => {
            let body = TxBody::RemoveReviewer { reviewer, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::AddValidator { validator_key, power, name, gov, submit } => {
            let key = keyfile::read(&validator_key)?;
            let validator = Validator { public_key: key.public(), power, name };
            let change = ValidatorChange::Add { validator };
            change_validators(change, &gov, Some(key), &submit).await?;
        }
        TxCommand::RemoveValidator { validator, gov, submit } => {
            change_validators(ValidatorChange::Remove { public_key: validator }, &gov, None, &submit).await?;
        }
        TxCommand::SetValidatorPower { validator, power, gov, submit } => {
            let change = ValidatorChange::SetPower { public_key: validator, power };
            change_validators(change, &gov, None, &submit).await?;
        }
        TxCommand::RotateValidatorKey { old, new_key, gov, submit } => {
            let key = keyfile::read(&new_key)?;
            let change = ValidatorChange::RotateKey { old_key: old, new_key: key.public() };
            change_validators(change, &gov, Some(key), &submit).await?;
        }
        TxCommand::SetGovernance { governors, threshold, gov, submit } => {
            let body = TxBody::SetGovernance { governors, threshold, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::RegisterObserver { observer, name, gov, submit } => {
            let body = TxBody::RegisterObserver { observer, name, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::RemoveObserver { observer, gov, submit } => {
            let body = TxBody::RemoveObserver { observer, nonce: nonce_or_random(gov.nonce)? };
            send(body, &read_keys(&gov.governor_keys)?, &submit).await?;
        }
        TxCommand::CreateSeries {
            key,
            reviewer_key,
            name,
            content_file,
            content_hash,
            max_supply,
            metadata_uri,
            submit,
        } => {
            let issuer = keyfile::read(&key)?;
            let reviewer = keyfile::read(&reviewer_key)?;
            let content_hash = match (content_hash, content_file) {
                (Some(h), _) => h,
                (None, Some(path)) => {
                    let bytes =
                        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    ContentHash(sha256(&bytes).0)
                }
                (None, None) => bail!("give --content-file or --content-hash"),
            };
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let subject = ReviewSubject {
                issuer: issuer.public(),
                name: name.clone(),
                content_hash,
                max_supply,
                metadata_uri: metadata_uri.clone(),
            };
            let approval = subject.approve(&chain, &reviewer);
            let body = TxBody::CreateSeries {
                issuer: issuer.public(),
                name: name.clone(),
                content_hash,
                max_supply,
                metadata_uri,
                approval,
            };
            submit_and_wait(
                &client,
                &chain,
                body,
                std::slice::from_ref(&issuer),
                Duration::from_secs(submit.timeout_secs),
            )
            .await?;
            println!("{}", ids::series_id(&chain, &issuer.public(), &name));
        }
        TxCommand::Mint { key, series, series_name, edition, holder, submit } => {
            let issuer = keyfile::read(&key)?;
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let series_id = match (series, series_name) {
                (Some(id), _) => id,
                (None, Some(name)) => ids::series_id(&chain, &issuer.public(), &name),
                (None, None) => bail!("give --series or --series-name"),
            };
            let body = TxBody::Mint { series_id, edition, holder };
            submit_and_wait(&client, &chain, body, &[issuer], Duration::from_secs(submit.timeout_secs))
                .await?;
            println!("{}", ids::certificate_id(&chain, &series_id, edition));
        }
        TxCommand::Revoke { keys, certificate, reason, submit } => {
            let body = TxBody::Revoke { certificate_id: certificate, reason };
            send(body, &read_keys(&keys)?, &submit).await?;
        }
        TxCommand::Status { id, json, rpc } => return super::read::tx_status(id, json, rpc).await,
        TxCommand::Transfer { key, certificate, to, submit } => {
            let body = TxBody::Transfer { certificate_id: certificate, to };
            send(body, &[keyfile::read(&key)?], &submit).await?;
            // Unreachable on any honest node: the chain refuses every transfer.
            eprintln!("warning: the node accepted a transfer; it is not a Keepsake node");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn send(body: TxBody, signers: &[Keypair], submit: &SubmitArgs) -> anyhow::Result<TxId> {
    let client = client(&submit.rpc.rpc)?;
    let chain = chain_of(&client).await?.chain_id;
    submit_and_wait(&client, &chain, body, signers, Duration::from_secs(submit.timeout_secs)).await
}
