//! `keepsake testnet`: genesis, keys and configs for N local validators on
//! 127.0.0.1 (distinct ports), each in its own home directory
//! (`keepsake testnet start|stop` runs them: node/src/cli/testnet.rs).
//!
//! ```text
//! DIR/genesis.json                   the shared genesis (also copied into each home)
//! DIR/governance/governor-{1,2,3}.json   2-of-3 governance keys
//! DIR/keys/{issuer,reviewer}.json    convenience keys for trying the chain
//! DIR/node{i}/config.toml            RPC on rpc_base_port + i, libp2p on p2p_base_port + i
//! DIR/node{i}/keys/validator.json
//! DIR/node{i}/consensus/sign_state.json  "never signed" (see node/src/repair.rs)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use keepsake_types::{ChainId, ChainParams, Genesis, Keypair, Validator};

use crate::config::{
    BlockSection, ConsensusSection, MempoolSection, NodeConfig, NodeSection, P2pSection, PeerAddress,
    RpcSection,
};
use crate::keyfile;

/// What `keepsake testnet` writes.
#[derive(Clone, Debug)]
pub struct TestnetSpec {
    /// Number of validators (1 to 100; BFT needs 4 to tolerate one fault).
    pub validators: usize,
    /// Chain id.
    pub chain_id: String,
    /// RPC port of node 0 (node i gets `+ i`).
    pub rpc_base_port: u16,
    /// libp2p port of node 0 (node i gets `+ i`).
    pub p2p_base_port: u16,
}

/// Writes the testnet; returns the node homes.
pub fn generate(dir: &Path, spec: &TestnetSpec) -> anyhow::Result<Vec<PathBuf>> {
    if spec.validators == 0 || spec.validators > keepsake_types::genesis::VALIDATORS_MAX {
        bail!("--validators must be between 1 and {}", keepsake_types::genesis::VALIDATORS_MAX);
    }
    if dir.join("genesis.json").exists() {
        bail!("{} already holds a testnet; choose an empty directory", dir.display());
    }
    let chain_id = ChainId::new(spec.chain_id.as_str()).context("--chain-id")?;
    let n = spec.validators;
    let port = |base: u16, i: usize| -> anyhow::Result<u16> {
        u16::try_from(usize::from(base) + i).context("port number overflows")
    };
    let keys: Vec<Keypair> = (0..n).map(|_| keyfile::generate()).collect::<anyhow::Result<_>>()?;
    let governors: Vec<Keypair> = (0..3).map(|_| keyfile::generate()).collect::<anyhow::Result<_>>()?;
    for (i, g) in governors.iter().enumerate() {
        keyfile::write(&dir.join("governance").join(format!("governor-{}.json", i + 1)), g)?;
    }
    keyfile::write(&dir.join("keys/issuer.json"), &keyfile::generate()?)?;
    keyfile::write(&dir.join("keys/reviewer.json"), &keyfile::generate()?)?;
    let genesis = Genesis {
        chain_id,
        genesis_time_ms: crate::node::now_ms(),
        validators: keys
            .iter()
            .enumerate()
            .map(|(i, k)| Validator { public_key: k.public(), power: 1, name: format!("org-{i}") })
            .collect(),
        governors: governors.iter().map(Keypair::public).collect(),
        governance_threshold: 2,
        params: ChainParams::default(),
    };
    genesis.validate()?;
    let genesis_json = serde_json::to_string_pretty(&genesis).expect("genesis serialises") + "\n";
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("genesis.json"), &genesis_json)?;
    let p2p_addrs: Vec<SocketAddr> = (0..n)
        .map(|i| Ok(SocketAddr::from(([127, 0, 0, 1], port(spec.p2p_base_port, i)?))))
        .collect::<anyhow::Result<_>>()?;
    let mut homes = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let home = dir.join(format!("node{i}"));
        keyfile::write(&home.join("keys/validator.json"), key)?;
        std::fs::write(home.join("genesis.json"), &genesis_json)?;
        let config = NodeConfig {
            node: NodeSection {
                genesis_file: "genesis.json".into(),
                validator_key_file: "keys/validator.json".into(),
                data_dir: "data".into(),
                consensus_dir: "consensus".into(),
            },
            rpc: RpcSection {
                listen: SocketAddr::from(([127, 0, 0, 1], port(spec.rpc_base_port, i)?)),
                ..RpcSection::default()
            },
            mempool: MempoolSection::default(),
            block: BlockSection::default(),
            p2p: P2pSection {
                listen: p2p_addrs[i],
                bootstrap: (0..n)
                    .filter(|&j| j != i)
                    .map(|j| PeerAddress { key: keys[j].public(), addr: p2p_addrs[j] })
                    .collect(),
                ..P2pSection::default()
            },
            consensus: ConsensusSection::default(),
        };
        std::fs::write(home.join(crate::config::CONFIG_FILE), toml::to_string_pretty(&config)?)?;
        // A new key has never signed (node.rs refuses to start a validator without this record).
        crate::repair::write_never_signed(&home.join("consensus"))?;
        homes.push(home);
    }
    Ok(homes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_n_homes_that_load_and_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let spec = TestnetSpec {
            validators: 4,
            chain_id: "keepsake-testnet".into(),
            rpc_base_port: 18645,
            p2p_base_port: 26656,
        };
        let homes = generate(dir.path(), &spec).unwrap();
        assert_eq!(homes.len(), 4);
        let genesis =
            Genesis::from_json(&std::fs::read_to_string(dir.path().join("genesis.json")).unwrap()).unwrap();
        assert_eq!(genesis.validators.len(), 4);
        for (i, home) in homes.iter().enumerate() {
            let c = NodeConfig::load(home).unwrap();
            assert_eq!(c.rpc.listen.port(), 18645 + i as u16);
            assert_eq!(c.p2p.listen.port(), 26656 + i as u16);
            assert_eq!(c.p2p.bootstrap.len(), 3);
            let key = keyfile::read(&c.node.validator_key_file).unwrap();
            assert_eq!(key.public(), genesis.validators[i].public_key);
            assert!(c.p2p.bootstrap.iter().all(|p| p.key != key.public()));
        }
        // Refuses to overwrite.
        assert!(generate(dir.path(), &spec).unwrap_err().to_string().contains("already holds a testnet"));
    }
}
