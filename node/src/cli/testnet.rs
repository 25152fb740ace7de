//! `keepsake testnet`: writes a local consortium (see [`crate::testnet`]).

use std::path::PathBuf;
use std::process::ExitCode;

/// `keepsake testnet`.
pub(super) fn testnet(
    validators: usize,
    dir: PathBuf,
    chain_id: String,
    rpc_base_port: u16,
    p2p_base_port: u16,
) -> anyhow::Result<ExitCode> {
    let spec = crate::testnet::TestnetSpec { validators, chain_id, rpc_base_port, p2p_base_port };
    for home in crate::testnet::generate(&dir, &spec)? {
        println!("{}", home.display());
    }
    eprintln!(
        "wrote a {validators}-validator testnet in {}; run each node with: keepsake start --home {}/nodeI",
        dir.display(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
