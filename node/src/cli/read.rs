//! The read side of the command line: `keepsake series show|list`,
//! `keepsake issuer show|list`, `keepsake block show`, `keepsake tx status`
//! and `keepsake status`, in words and dates (`--json` for the raw answer).

use std::process::ExitCode;

use clap::Subcommand;
use jsonrpsee::http_client::HttpClient;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::{BlockResponse, IssuerInfo, SeriesInfo, TxStatus};
use keepsake_types::{IssuerStatus, PublicKey, SeriesId, TxId};

use super::common::{RpcArgs, utc_date};
use crate::rpc_client::{client, describe};

/// Most entries one `list` asks for (the node caps pages too).
pub const LIST_LIMIT_MAX: u32 = 1000;

#[derive(Subcommand, Debug)]
pub(super) enum SeriesCommand {
    /// One series: its issuer, supply, editions minted, review.
    Show {
        /// The series id.
        id: SeriesId,
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Series, oldest first, a page at a time.
    List {
        /// Start after this series id (the last of the previous page).
        #[arg(long)]
        after: Option<SeriesId>,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum IssuerCommand {
    /// One issuer.
    Show {
        /// The issuer's public key.
        key: PublicKey,
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
    /// Issuers, a page at a time.
    List {
        /// Start after this key (the last of the previous page).
        #[arg(long)]
        after: Option<PublicKey>,
        /// How many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

#[derive(Subcommand, Debug)]
pub(super) enum BlockCommand {
    /// One block: header, proposer, transactions, commit.
    Show {
        /// The height.
        height: u64,
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        rpc: RpcArgs,
    },
}

fn check_limit(limit: u32) -> anyhow::Result<u32> {
    if limit == 0 || limit > LIST_LIMIT_MAX {
        anyhow::bail!("--limit must be between 1 and {LIST_LIMIT_MAX}, not {limit}");
    }
    Ok(limit)
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn series(command: SeriesCommand) -> anyhow::Result<ExitCode> {
    match command {
        SeriesCommand::Show { id, json, rpc } => {
            let info = client(&rpc.rpc)?.get_series(id).await.map_err(describe)?;
            if json {
                return print_json(&info);
            }
            for line in series_lines(&info) {
                println!("{line}");
            }
        }
        SeriesCommand::List { after, limit, json, rpc } => {
            let page = client(&rpc.rpc)?.list_series(after, check_limit(limit)?).await.map_err(describe)?;
            if json {
                return print_json(&page);
            }
            if page.is_empty() {
                println!("no series{}", if after.is_some() { " after that one" } else { " yet" });
            }
            for s in &page {
                println!("{}  \"{}\"  {} of {} minted", s.series_id, s.name, s.minted, s.max_supply);
            }
            if page.len() == limit as usize
                && let Some(last) = page.last()
            {
                eprintln!("more may follow: --after {}", last.series_id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What `keepsake series show` prints.
pub fn series_lines(s: &SeriesInfo) -> Vec<String> {
    vec![
        format!("series \"{}\"", s.name),
        format!("  id            {}", s.series_id),
        format!("  issuer        {}", s.issuer),
        format!("  minted        {} of {}", s.minted, s.max_supply),
        format!("  artwork       sha256 {}", s.content_hash),
        format!("  metadata      {}", s.metadata_uri),
        format!("  reviewed by   {}", s.reviewer),
        format!("  created       at height {} (transaction {})", s.created_height, s.tx_id),
    ]
}

pub(super) async fn issuer(command: IssuerCommand) -> anyhow::Result<ExitCode> {
    match command {
        IssuerCommand::Show { key, json, rpc } => {
            let info = client(&rpc.rpc)?.get_issuer(key).await.map_err(describe)?;
            if json {
                return print_json(&info);
            }
            println!("{}", issuer_line(&info));
        }
        IssuerCommand::List { after, limit, json, rpc } => {
            let page = client(&rpc.rpc)?.list_issuers(after, check_limit(limit)?).await.map_err(describe)?;
            if json {
                return print_json(&page);
            }
            if page.is_empty() {
                println!("no issuers{}", if after.is_some() { " after that one" } else { " yet" });
            }
            for i in &page {
                println!("{}", issuer_line(i));
            }
            if page.len() == limit as usize
                && let Some(last) = page.last()
            {
                eprintln!("more may follow: --after {}", last.issuer);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One issuer in one line.
pub fn issuer_line(i: &IssuerInfo) -> String {
    let status = match i.status {
        IssuerStatus::Active => "active",
        IssuerStatus::Suspended => "SUSPENDED",
    };
    format!("{}  \"{}\"  {status}, registered at height {}", i.issuer, i.name, i.registered_height)
}

pub(super) async fn block(command: BlockCommand) -> anyhow::Result<ExitCode> {
    let BlockCommand::Show { height, json, rpc } = command;
    let client = client(&rpc.rpc)?;
    let response = client.get_block(height).await.map_err(describe)?;
    if json {
        return print_json(&response);
    }
    for line in block_lines(&client, &response).await {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// What `keepsake block show` prints (validators by name when the node tells them).
async fn block_lines(client: &HttpClient, r: &BlockResponse) -> Vec<String> {
    let h = &r.block.header;
    let names = validator_names(client, Some(h.height)).await;
    let name = |key: &PublicKey| names.iter().find(|(k, _)| k == key).map(|(_, n)| format!("{n} ({key})"));
    let mut lines = vec![
        format!("block {}", h.height),
        format!("  hash          {}", r.hash),
        format!("  time          {}", utc_date(h.time_ms)),
        format!("  proposer      {}", name(&h.proposer).unwrap_or_else(|| h.proposer.to_string())),
        format!("  transactions  {}", h.tx_count),
        format!("  log           {} entries, root {}", h.log_size, h.log_root),
        format!("  state root    {}", h.state_root),
        format!("  previous      {}", h.prev_hash),
    ];
    for (i, tx) in r.block.txs.iter().enumerate() {
        lines.push(format!("  tx {i:>4}       {} {}", tx.body.kind(), tx.id(&h.chain_id)));
    }
    let signers: Vec<String> = r
        .commit
        .signatures
        .iter()
        .map(|s| name(&s.validator).unwrap_or_else(|| s.validator.to_string()))
        .collect();
    lines.push(format!("  signed by     {} (round {})", signers.join(", "), r.commit.round));
    lines
}

/// Every validator the chain has had, as (key, name), and the keys of the
/// set governing `height` (empty when the node does not answer).
async fn validator_names(client: &HttpClient, height: Option<u64>) -> Vec<(PublicKey, String)> {
    validators(client, height).await.0
}

async fn validators(client: &HttpClient, height: Option<u64>) -> (Vec<(PublicKey, String)>, Vec<PublicKey>) {
    match client.get_validator_sets(None, Some(false)).await {
        Ok(r) => {
            let at = height.unwrap_or(r.height).max(1);
            let current = r
                .sets
                .iter()
                .rev()
                .find(|s| s.from_height <= at)
                .map(|s| s.validators.validators.iter().map(|v| v.public_key).collect())
                .unwrap_or_default();
            let names = r
                .sets
                .into_iter()
                .flat_map(|s| s.validators.validators.into_iter().map(|v| (v.public_key, v.name)))
                .collect();
            (names, current)
        }
        Err(e) => {
            tracing::debug!(error = %e, "no validator names");
            (Vec::new(), Vec::new())
        }
    }
}

/// `keepsake tx status ID`: what the node knows of a transaction.
pub(super) async fn tx_status(id: TxId, json: bool, rpc: RpcArgs) -> anyhow::Result<ExitCode> {
    let client = client(&rpc.rpc)?;
    let status = client.get_tx_status(id).await.map_err(describe)?;
    if json {
        return print_json(&status);
    }
    match status {
        TxStatus::Committed { height, index, leaf_index } => {
            let when = match client.get_block(height).await {
                Ok(b) => format!(" on {}", utc_date(b.block.header.time_ms)),
                Err(_) => String::new(),
            };
            println!(
                "committed in block {height}{when}, transaction {index} of the block, log entry {leaf_index}"
            );
        }
        TxStatus::Pending => println!("pending: admitted, waiting for a block"),
        TxStatus::Rejected { error } => {
            println!("rejected: {}: {}", error.code, error.message);
            return Ok(ExitCode::FAILURE);
        }
        TxStatus::Unknown => {
            println!(
                "unknown: this node never admitted it, or has forgotten it (a transaction refused at submission \
                 is not remembered); ask the node you submitted it to"
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `keepsake status`: the node's view of the chain, in words.
pub(super) async fn status(json: bool, rpc: RpcArgs) -> anyhow::Result<ExitCode> {
    let client = client(&rpc.rpc)?;
    let s = client.status().await.map_err(describe)?;
    if json {
        return print_json(&s);
    }
    let (names, current) = validators(&client, None).await;
    let name_of = |key: &PublicKey| names.iter().find(|(k, _)| k == key).map(|(_, n)| n.clone());
    let age_ms = crate::shared::now_ms().saturating_sub(s.latest_time_ms);
    let freshness = if s.height == 0 {
        "no block yet".to_string()
    } else if age_ms > 30_000 {
        format!("{} s ago: catching up, or the chain is stalled (check /health)", age_ms / 1000)
    } else {
        format!("{:.1} s ago", age_ms as f64 / 1000.0)
    };
    println!("chain         {}", s.chain_id);
    println!("height        {} (latest block {}, {freshness})", s.height, utc_date(s.latest_time_ms));
    println!("latest hash   {}", s.latest_hash);
    println!("log           {} entries, root {}", s.log_size, s.log_root);
    println!("mempool       {} transactions waiting", s.mempool_txs);
    if let Some(peers) = s.peers {
        println!("peers         {peers} connected");
    }
    match current.contains(&s.validator) {
        true => println!(
            "this node     validator {} ({})",
            name_of(&s.validator).unwrap_or_default(),
            s.validator
        ),
        false => println!("this node     {} (not in the validator set: an observer)", s.validator),
    }
    if !current.is_empty() {
        let list: Vec<String> = current.iter().map(|k| name_of(k).unwrap_or_else(|| k.to_string())).collect();
        println!("validators    {} ({})", current.len(), list.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
