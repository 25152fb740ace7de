//! What the command groups share: the `--rpc` flag and reading a genesis file.

use std::path::Path;

use anyhow::Context;
use clap::Args;
use keepsake_types::Genesis;

use crate::config::{GENESIS_FILE_MAX, read_bounded};

#[derive(Args, Debug, Clone)]
pub(super) struct RpcArgs {
    /// URL of a node's JSON-RPC endpoint.
    #[arg(long, env = "KEEPSAKE_RPC", default_value = crate::DEFAULT_RPC_URL)]
    pub(super) rpc: String,
}

pub(super) fn read_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text = read_bounded(path, GENESIS_FILE_MAX)?;
    Genesis::from_json(&text).with_context(|| format!("invalid genesis file {}", path.display()))
}

pub use crate::dates::utc_date;
