//! `keepsake dev`: a one-validator chain in a home directory, with ready-made
//! governance, issuer and reviewer keys, created on first use and reused after.
//!
//! ```text
//! HOME/config.toml
//! HOME/genesis.json        chain id "keepsake-dev", 1 validator, 1-of-1 governance
//! HOME/keys/validator.json governor.json issuer.json reviewer.json
//! HOME/data/               the sled database
//! HOME/consensus/          WAL and sign-state ("never signed" at creation)
//! ```

use std::path::Path;

use anyhow::Context;
use keepsake_types::{ChainParams, Genesis, Validator};

use crate::config::{
    BlockSection, CONFIG_FILE, ConsensusSection, MempoolSection, NodeConfig, NodeSection, P2pSection,
    RpcSection,
};
use crate::keyfile;

/// The dev chain's id.
pub const DEV_CHAIN_ID: &str = "keepsake-dev";

/// Creates the dev home if it has no config yet. Returns true if it created it.
pub fn init_home(home: &Path, listen: std::net::SocketAddr) -> anyhow::Result<bool> {
    if home.join(CONFIG_FILE).exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(home).with_context(|| format!("cannot create {}", home.display()))?;
    let keys = home.join("keys");
    let validator = keyfile::generate()?;
    let governor = keyfile::generate()?;
    keyfile::write(&keys.join("validator.json"), &validator)?;
    keyfile::write(&keys.join("governor.json"), &governor)?;
    keyfile::write(&keys.join("issuer.json"), &keyfile::generate()?)?;
    keyfile::write(&keys.join("reviewer.json"), &keyfile::generate()?)?;
    let genesis = Genesis {
        chain_id: DEV_CHAIN_ID.parse().expect("DEV_CHAIN_ID follows the chain id rule"),
        genesis_time_ms: crate::node::now_ms(),
        validators: vec![Validator {
            public_key: validator.public(),
            power: 1,
            name: "dev-validator".into(),
        }],
        governors: vec![governor.public()],
        governance_threshold: 1,
        params: ChainParams::default(),
    };
    genesis.validate().context("dev genesis")?;
    let genesis_json = serde_json::to_string_pretty(&genesis).expect("genesis serialises");
    std::fs::write(home.join("genesis.json"), genesis_json + "\n")?;
    let config = NodeConfig {
        node: NodeSection {
            genesis_file: "genesis.json".into(),
            validator_key_file: "keys/validator.json".into(),
            data_dir: "data".into(),
            consensus_dir: "consensus".into(),
        },
        rpc: RpcSection { listen, ..RpcSection::default() },
        mempool: MempoolSection::default(),
        block: BlockSection::default(),
        p2p: P2pSection::default(),
        consensus: ConsensusSection::default(),
    };
    let text = toml::to_string_pretty(&config).expect("config serialises");
    std::fs::write(home.join(CONFIG_FILE), text)?;
    crate::repair::write_never_signed(&home.join("consensus"))?;
    Ok(true)
}
