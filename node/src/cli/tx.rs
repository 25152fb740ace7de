//! `keepsake tx`: build a transaction, sign it locally, submit it and wait
//! for its commit.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::HttpClient;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_types::life::seed_commitment;
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{
    BlindBoxTerms, BoxVariant, CertificateId, ContentHash, Genesis, Hash32, HolderId, IssuerStatus, Keypair,
    Licence, PublicKey, Recipe, RecipeInput, ReviewSubject, SeriesId, SeriesTerms, TxBody, TxId, Validator,
    ValidatorChange, hash::sha256, ids,
};
use serde::{Deserialize, Serialize};

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
    /// Governance: record or renew an issuer's licence (a renewal also
    /// clears a withdrawal).
    SetLicence {
        /// The issuer's public key (hex).
        #[arg(long, conflicts_with = "issuer_key", required_unless_present = "issuer_key")]
        issuer: Option<PublicKey>,
        /// Or the issuer's key file (only its public key is used).
        #[arg(long)]
        issuer_key: Option<PathBuf>,
        /// Kind of licence (e.g. "ICP", "网络文化经营许可证").
        #[arg(long)]
        kind: String,
        /// Its number, as the authority issued it.
        #[arg(long)]
        number: String,
        /// Its last day (YYYY-MM-DD, in force until the end of that day, UTC),
        /// or its last instant in ms since the Unix epoch.
        #[arg(long)]
        valid_until: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: withdraw an issuer's licence (it creates and mints nothing
    /// until a new `set-licence`; revocations stay possible).
    WithdrawLicence {
        /// The issuer's public key (hex).
        #[arg(long, conflicts_with = "issuer_key", required_unless_present = "issuer_key")]
        issuer: Option<PublicKey>,
        /// Or the issuer's key file (only its public key is used).
        #[arg(long)]
        issuer_key: Option<PathBuf>,
        /// Why (recorded on chain).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Governance: whether every issuer needs a licence in force to create
    /// series and mint.
    LicencePolicy {
        /// true: issuers without a licence in force create and mint nothing.
        #[arg(long, action = clap::ArgAction::Set)]
        required: bool,
        #[command(flatten)]
        gov: GovernorArgs,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Create a series (prints the series id). The reviewer's approval is
    /// signed locally with --reviewer-key, over the recipes and blind box too.
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
        /// Edition cap (for a blind box: default, and must be, the sum of the variant counts).
        #[arg(long, required_unless_present = "blind_box")]
        max_supply: Option<u32>,
        /// Metadata URI.
        #[arg(long)]
        metadata_uri: String,
        /// A recipe: "SERIES:COUNT,SERIES:COUNT" burns COUNT certificates of
        /// each of your series SERIES (ids) into one edition of this one.
        /// Repeat for several recipes (numbered 0, 1, ... in this order).
        #[arg(long = "recipe", conflicts_with = "blind_box")]
        recipes: Vec<String>,
        /// Make a blind box with the variants of this JSON file: a list of
        /// {"name", "count", and "content_hash" (hex) or "content_file" (path
        /// relative to the JSON file)}.
        #[arg(long, requires = "seed_file")]
        blind_box: Option<PathBuf>,
        /// Where to write the blind box's secret seed (drawn from the OS's
        /// randomness; only its commitment goes on chain). Keep it: `tx
        /// reveal-box` needs it after the sale closes. Must not exist yet.
        #[arg(long, requires = "blind_box")]
        seed_file: Option<PathBuf>,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Burn one holder's certificates into a new edition of a series, as one
    /// of its recipes lists them, for that same holder (prints the new
    /// certificate id). Signed by the series' issuer.
    Synthesize {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The series to mint into (the one declaring the recipe).
        #[arg(long)]
        series: SeriesId,
        /// The recipe's number in the series (0 for the first).
        #[arg(long, default_value_t = 0)]
        recipe: u32,
        /// The certificates burned, comma-separated ids.
        #[arg(long, value_delimiter = ',', required = true)]
        inputs: Vec<CertificateId>,
        /// The new edition's number.
        #[arg(long)]
        edition: u32,
        /// The holder of every input (the new certificate is theirs).
        #[arg(long)]
        holder: HolderId,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Close a blind box's sale: no more mints; the log root just after the
    /// close becomes the draw's entropy. Then `tx reveal-box`.
    CloseBox {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The blind box's series id.
        #[arg(long)]
        series: SeriesId,
        #[command(flatten)]
        submit: SubmitArgs,
    },
    /// Reveal a closed blind box's seed: the chain draws every edition's
    /// variant. The entropy (the log root just after the close) is fetched
    /// from the node.
    RevealBox {
        /// The issuer's key file.
        #[arg(long)]
        key: PathBuf,
        /// The blind box's series id.
        #[arg(long)]
        series: SeriesId,
        /// The seed file written by `tx create-series --blind-box`.
        #[arg(long)]
        seed_file: PathBuf,
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
            send_governance(&gov, &submit, |nonce| TxBody::RegisterIssuer { issuer, name, nonce }).await?;
            println!("{issuer}");
        }
        TxCommand::SetIssuerStatus { issuer, status, gov, submit } => {
            let status = match status {
                StatusArg::Active => IssuerStatus::Active,
                StatusArg::Suspended => IssuerStatus::Suspended,
            };
            send_governance(&gov, &submit, |nonce| TxBody::SetIssuerStatus { issuer, status, nonce }).await?;
        }
        TxCommand::RegisterReviewer { reviewer, reviewer_key, name, gov, submit } => {
            let reviewer = key_or_file(reviewer, reviewer_key, "--reviewer or --reviewer-key")?;
            send_governance(&gov, &submit, |nonce| TxBody::RegisterReviewer { reviewer, name, nonce })
                .await?;
            println!("{reviewer}");
        }
        TxCommand::RemoveReviewer { reviewer, gov, submit } => {
            send_governance(&gov, &submit, |nonce| TxBody::RemoveReviewer { reviewer, nonce }).await?;
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
            send_governance(&gov, &submit, |nonce| TxBody::SetGovernance { governors, threshold, nonce })
                .await?;
        }
        TxCommand::RegisterObserver { observer, name, gov, submit } => {
            send_governance(&gov, &submit, |nonce| TxBody::RegisterObserver { observer, name, nonce })
                .await?;
        }
        TxCommand::RemoveObserver { observer, gov, submit } => {
            send_governance(&gov, &submit, |nonce| TxBody::RemoveObserver { observer, nonce }).await?;
        }
        TxCommand::SetLicence { issuer, issuer_key, kind, number, valid_until, gov, submit } => {
            let issuer = key_or_file(issuer, issuer_key, "--issuer or --issuer-key")?;
            let valid_until_ms = crate::dates::parse_valid_until(&valid_until)
                .map_err(|e| anyhow::anyhow!("--valid-until: {e}"))?;
            let licence = Licence { kind, number, valid_until_ms };
            send_governance(&gov, &submit, |nonce| TxBody::SetIssuerLicence { issuer, licence, nonce })
                .await?;
            eprintln!("licence in force until {}", crate::dates::iso_utc(valid_until_ms));
        }
        TxCommand::WithdrawLicence { issuer, issuer_key, reason, gov, submit } => {
            let issuer = key_or_file(issuer, issuer_key, "--issuer or --issuer-key")?;
            send_governance(&gov, &submit, |nonce| TxBody::WithdrawIssuerLicence { issuer, reason, nonce })
                .await?;
        }
        TxCommand::LicencePolicy { required, gov, submit } => {
            send_governance(&gov, &submit, |nonce| TxBody::SetLicencePolicy { required, nonce }).await?;
        }
        TxCommand::Synthesize { key, series, recipe, inputs, edition, holder, submit } => {
            let issuer = keyfile::read(&key)?;
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            series_must_exist(&client, series, &format!("--series {series}")).await?;
            let body = TxBody::Synthesize { series_id: series, recipe, inputs, edition, holder };
            submit_and_wait(&client, &chain, body, &[issuer], Duration::from_secs(submit.timeout_secs))
                .await?;
            println!("{}", ids::certificate_id(&chain, &series, edition));
        }
        TxCommand::CloseBox { key, series, submit } => {
            let body = TxBody::CloseBlindBox { series_id: series };
            send(body, &[keyfile::read(&key)?], &submit).await?;
        }
        TxCommand::RevealBox { key, series, seed_file, submit } => {
            let issuer = keyfile::read(&key)?;
            let seed = read_seed_file(&seed_file)?;
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let entropy = reveal_entropy(&client, &chain, &series, &seed).await?;
            let body = TxBody::RevealBlindBox { series_id: series, seed, entropy };
            submit_and_wait(&client, &chain, body, &[issuer], Duration::from_secs(submit.timeout_secs))
                .await?;
        }
        TxCommand::CreateSeries {
            key,
            reviewer_key,
            name,
            content_file,
            content_hash,
            max_supply,
            metadata_uri,
            recipes,
            blind_box,
            seed_file,
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
            let recipes = recipes.iter().map(|r| parse_recipe(r)).collect::<anyhow::Result<Vec<_>>>()?;
            let variants = blind_box.as_deref().map(read_variants).transpose()?;
            let max_supply = match (max_supply, &variants) {
                (Some(m), None) => m,
                (m, Some(v)) => {
                    let sum: u64 = v.iter().map(|v| u64::from(v.count)).sum();
                    let sum = u32::try_from(sum).context("the variant counts do not fit a supply")?;
                    match m {
                        Some(m) if m != sum => bail!(
                            "--max-supply {m} differs from the sum of the variant counts ({sum}): \
                             leave --max-supply out, or fix the counts"
                        ),
                        _ => sum,
                    }
                }
                (None, None) => bail!("give --max-supply"),
            };
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let subject = ReviewSubject {
                issuer: issuer.public(),
                name: name.clone(),
                content_hash,
                max_supply,
                metadata_uri,
            };
            let series_id = ids::series_id(&chain, &issuer.public(), &name);
            // The reviewer approves the subject with the terms, when there are any.
            let terms = match (recipes.is_empty(), variants, seed_file) {
                (true, None, _) => None,
                (_, variants, seed_file) => {
                    let blind_box = match (variants, seed_file) {
                        (Some(variants), Some(seed_file)) => {
                            let seed = new_seed_file(&seed_file, &chain, &series_id, &name)?;
                            let seed_commitment = seed_commitment(&chain, &seed);
                            Some(BlindBoxTerms { variants, seed_commitment })
                        }
                        (None, _) => None,
                        (Some(_), None) => bail!("a blind box needs --seed-file"),
                    };
                    Some(SeriesTerms { recipes, blind_box })
                }
            };
            let approval = subject.approve_with(&chain, terms.as_ref(), &reviewer);
            let body = subject.into_body(terms, approval);
            submit_and_wait(
                &client,
                &chain,
                body,
                std::slice::from_ref(&issuer),
                Duration::from_secs(submit.timeout_secs),
            )
            .await?;
            println!("{series_id}");
        }
        TxCommand::Mint { key, series, series_name, edition, holder, submit } => {
            let issuer = keyfile::read(&key)?;
            let client = client(&submit.rpc.rpc)?;
            let chain = chain_of(&client).await?.chain_id;
            let (series_id, typed) = match (series, series_name) {
                (Some(id), _) => (id, format!("--series {id}")),
                (None, Some(name)) => {
                    (ids::series_id(&chain, &issuer.public(), &name), format!("--series-name {name:?}"))
                }
                (None, None) => bail!("give --series or --series-name"),
            };
            series_must_exist(&client, series_id, &typed).await?;
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

/// Fails, echoing what was typed, when the node has no series `id` (a typo
/// in a name or an id would otherwise read "unknown series" and a hash).
async fn series_must_exist(client: &HttpClient, id: SeriesId, typed: &str) -> anyhow::Result<()> {
    match client.get_series(id).await {
        Ok(_) => Ok(()),
        Err(ClientError::Call(e)) if keepsake_rpc::error::stable_code(&e).as_deref() == Some("NotFound") => {
            bail!(
                "no such series: {typed} (series id {id}) is not on this chain; \
                 `keepsake series list` shows the series, with their ids and issuers"
            )
        }
        Err(e) => Err(describe(e)),
    }
}

/// Submits a governance body signed by the `--governor-key` files; `make`
/// gets the nonce (`--nonce`, or a random one).
async fn send_governance(
    gov: &GovernorArgs,
    submit: &SubmitArgs,
    make: impl FnOnce(u64) -> TxBody,
) -> anyhow::Result<TxId> {
    let body = make(nonce_or_random(gov.nonce)?);
    send(body, &read_keys(&gov.governor_keys)?, submit).await
}

async fn send(body: TxBody, signers: &[Keypair], submit: &SubmitArgs) -> anyhow::Result<TxId> {
    let client = client(&submit.rpc.rpc)?;
    let chain = chain_of(&client).await?.chain_id;
    submit_and_wait(&client, &chain, body, signers, Duration::from_secs(submit.timeout_secs)).await
}

/// Most bytes of a blind box's variants file.
const VARIANTS_FILE_MAX: u64 = 64 * 1024;
/// Most bytes of a seed file.
const SEED_FILE_MAX: u64 = 4096;

/// One recipe from `SERIES:COUNT,SERIES:COUNT`.
fn parse_recipe(text: &str) -> anyhow::Result<Recipe> {
    let inputs =
        text.split(',')
            .map(|part| {
                let (series, count) = part.trim().split_once(':').with_context(|| {
                    format!("--recipe {text:?}: {part:?} is not SERIES:COUNT (a series id, a colon, a count)")
                })?;
                let series_id: SeriesId = series
                    .trim()
                    .parse()
                    .with_context(|| format!("--recipe {text:?}: {series:?} is not a series id"))?;
                let count: u32 = count.trim().parse().with_context(|| {
                    format!("--recipe {text:?}: {count:?} is not a count of certificates")
                })?;
                Ok(RecipeInput { series_id, count })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Recipe { inputs })
}

/// One variant as a variants file lists it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantSpec {
    name: String,
    count: u32,
    content_hash: Option<ContentHash>,
    content_file: Option<PathBuf>,
}

/// The variants of a blind box, from a JSON file (content files relative to it).
fn read_variants(path: &std::path::Path) -> anyhow::Result<Vec<BoxVariant>> {
    let text = crate::config::read_bounded(path, VARIANTS_FILE_MAX)?;
    let specs: Vec<VariantSpec> = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a variants file: a JSON list of {{\"name\", \"count\", and \"content_hash\" or \"content_file\"}}",
            path.display()
        )
    })?;
    if specs.is_empty() {
        bail!("{} lists no variant: a blind box has at least one", path.display());
    }
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    specs
        .into_iter()
        .map(|v| {
            let content_hash = match (v.content_hash, &v.content_file) {
                (Some(h), None) => h,
                (None, Some(file)) => {
                    let file = dir.join(file);
                    let bytes =
                        std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
                    ContentHash(sha256(&bytes).0)
                }
                _ => bail!("variant {:?}: give exactly one of \"content_hash\" and \"content_file\"", v.name),
            };
            Ok(BoxVariant { name: v.name, content_hash, count: v.count })
        })
        .collect()
}

/// What a seed file holds: the issuer's secret until the reveal.
#[derive(Serialize, Deserialize)]
struct SeedFile {
    chain_id: String,
    series_id: SeriesId,
    series_name: String,
    /// The secret seed (hex).
    seed: Hash32,
    /// What the chain holds in its place.
    seed_commitment: Hash32,
}

/// Draws a blind box's seed from the OS's randomness and writes it to `path`
/// (mode 0600, never over an existing file) before anything is submitted.
fn new_seed_file(
    path: &std::path::Path,
    chain: &str,
    series_id: &SeriesId,
    name: &str,
) -> anyhow::Result<Hash32> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).context("the OS random number generator failed")?;
    let seed = Hash32(seed);
    let file = SeedFile {
        chain_id: chain.to_string(),
        series_id: *series_id,
        series_name: name.to_string(),
        seed,
        seed_commitment: seed_commitment(chain, &seed),
    };
    let json = serde_json::to_string_pretty(&file).expect("a seed file serialises");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    use std::io::Write;
    let mut f = options.open(path).with_context(|| {
        format!(
            "cannot create the seed file {} (it must not exist yet: a seed is never overwritten; \
             if it holds the seed of a creation that was refused, delete it or choose another path)",
            path.display()
        )
    })?;
    f.write_all(json.as_bytes())?;
    f.sync_all()?;
    eprintln!("blind-box seed written to {}: keep it secret and safe until `tx reveal-box`", path.display());
    Ok(seed)
}

fn read_seed_file(path: &std::path::Path) -> anyhow::Result<Hash32> {
    let text = crate::config::read_bounded(path, SEED_FILE_MAX)?;
    let file: SeedFile = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a seed file written by `tx create-series --blind-box`", path.display())
    })?;
    Ok(file.seed)
}

/// The entropy of a reveal: the log root just after the box's close, after
/// checking with the node that the box is closed and that `seed` is its seed.
async fn reveal_entropy(
    client: &HttpClient,
    chain: &str,
    series: &SeriesId,
    seed: &Hash32,
) -> anyhow::Result<Hash32> {
    let info = client.get_series(*series).await.map_err(describe)?;
    let Some(b) = info.blind_box else {
        bail!("series {series} ({}) is not a blind box", info.name);
    };
    if seed_commitment(chain, seed) != b.seed_commitment {
        bail!(
            "this seed file is not the seed of series {series} ({}): its commitment differs from the chain's",
            info.name
        );
    }
    if let Some(r) = b.revealed {
        bail!("series {series} was already revealed at height {}", r.height);
    }
    let Some(closed) = b.closed else {
        bail!(
            "series {series} is not closed: close its sale first (`keepsake tx close-box --series {series}`)"
        );
    };
    let size = closed.leaf_index + 1;
    let root = client.get_log_root(size).await.map_err(describe)?;
    if root.size != size {
        bail!("the node answered the log root at size {} instead of {size}", root.size);
    }
    Ok(root.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_parse_and_their_errors_say_what_to_write() {
        let (a, b) = (SeriesId([1; 32]), SeriesId([2; 32]));
        let recipe = parse_recipe(&format!("{a}:3, {b}:1")).unwrap();
        assert_eq!(
            recipe.inputs,
            vec![RecipeInput { series_id: a, count: 3 }, RecipeInput { series_id: b, count: 1 }]
        );
        let err = |text: &str| format!("{:#}", parse_recipe(text).unwrap_err());
        assert!(err(&a.to_string()).contains("is not SERIES:COUNT"), "{}", err(&a.to_string()));
        assert!(err("relic:2").contains("is not a series id"));
        assert!(err(&format!("{a}:many")).contains("is not a count"));
    }

    #[test]
    fn variants_files_take_a_hash_or_a_file_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gold.png"), b"gold").unwrap();
        let path = dir.path().join("v.json");
        let write = |json: &str| std::fs::write(&path, json).unwrap();
        write(&format!(
            r#"[{{"name":"gold","count":1,"content_file":"gold.png"}},{{"name":"plain","count":9,"content_hash":"{}"}}]"#,
            ContentHash([7; 32])
        ));
        let variants = read_variants(&path).unwrap();
        assert_eq!(variants[0].content_hash, ContentHash(sha256(b"gold").0));
        assert_eq!((variants[1].name.as_str(), variants[1].count), ("plain", 9));
        write(r#"[{"name":"gold","count":1}]"#);
        assert!(format!("{:#}", read_variants(&path).unwrap_err()).contains("exactly one of"));
        write("[]");
        assert!(format!("{:#}", read_variants(&path).unwrap_err()).contains("no variant"));
    }

    #[test]
    fn a_seed_file_is_written_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box.seed");
        let series = SeriesId([3; 32]);
        let seed = new_seed_file(&path, "c", &series, "box").unwrap();
        assert_eq!(read_seed_file(&path).unwrap(), seed);
        // Drawn from the OS: a second one differs; the first is never overwritten.
        assert_ne!(new_seed_file(&dir.path().join("other.seed"), "c", &series, "box").unwrap(), seed);
        assert!(
            format!("{:#}", new_seed_file(&path, "c", &series, "box").unwrap_err())
                .contains("must not exist")
        );
        assert_eq!(read_seed_file(&path).unwrap(), seed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
