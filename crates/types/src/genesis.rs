//! The genesis file: the chain id, the validator set, the governors and the
//! chain parameters. It is the auditor's only trust anchor: a certificate is
//! verified with nothing but this file.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::block::{Validator, ValidatorSet};
use crate::chain_id::ChainId;
use crate::encoding::encode;
use crate::hash::{Hash32, domain_hash, tag};
use crate::ids::BlockHash;
use crate::keys::PublicKey;
use crate::{Error, Result};

pub use crate::chain_id::CHAIN_ID_MAX_LEN;
/// Most validators a genesis may list.
pub const VALIDATORS_MAX: usize = 100;
/// Most governors a genesis may list.
pub const GOVERNORS_MAX: usize = 32;
/// Upper bound of the total voting power (keeps every sum far from overflow).
pub const TOTAL_POWER_MAX: u64 = 1 << 60;

/// Chain parameters fixed at genesis. Every honest validator applies the same
/// values, so they are consensus rules, not node settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainParams {
    /// Largest `max_supply` a series may declare.
    pub max_supply_limit: u32,
    /// Most transactions in one block.
    pub block_txs_max: u32,
    /// Largest canonical encoding of one transaction, in bytes.
    pub tx_bytes_max: u32,
}

/// Bytes a log leaf adds around its transaction (two varints and framing).
pub const LOG_LEAF_OVERHEAD_BYTES: usize = 64;

impl ChainParams {
    /// Largest log leaf (`encode(LogLeaf)`) of this chain: the decoding bound
    /// of leaves in certificates and status answers.
    pub fn log_leaf_bytes_max(&self) -> usize {
        (self.tx_bytes_max as usize).saturating_add(LOG_LEAF_OVERHEAD_BYTES)
    }
}

impl Default for ChainParams {
    fn default() -> Self {
        Self { max_supply_limit: 1_000_000, block_txs_max: 10_000, tx_bytes_max: 4096 }
    }
}

/// The genesis file (JSON on disk, canonical bytes when hashed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    /// Chain id: 1 to 64 bytes of `[a-z0-9-]` (checked by the type, also when parsed).
    pub chain_id: ChainId,
    /// Milliseconds since the Unix epoch; block 1 must be later.
    pub genesis_time_ms: u64,
    /// The validators, in proposer order.
    pub validators: Vec<Validator>,
    /// Governance keys.
    pub governors: Vec<PublicKey>,
    /// How many distinct governors must sign a governance action (k of n).
    pub governance_threshold: u32,
    /// Consensus parameters.
    pub params: ChainParams,
}

impl Genesis {
    /// Checks every genesis rule; a node refuses to start on a genesis that fails.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidGenesis(m));
        // The chain id rule is the type's: a `ChainId` is valid by construction.
        if self.validators.is_empty() || self.validators.len() > VALIDATORS_MAX {
            return bad(format!("needs 1 to {VALIDATORS_MAX} validators, has {}", self.validators.len()));
        }
        let mut keys = BTreeSet::new();
        let mut total: u64 = 0;
        for v in &self.validators {
            if !keys.insert(v.public_key) {
                return bad(format!("validator {} listed twice", v.public_key));
            }
            if !v.public_key.is_valid_point() {
                return bad(format!("validator key {} is not a valid ed25519 key", v.public_key));
            }
            if v.power == 0 {
                return bad(format!("validator {} has zero power", v.public_key));
            }
            total = total.saturating_add(v.power);
        }
        if total > TOTAL_POWER_MAX {
            return bad(format!("total voting power {total} exceeds {TOTAL_POWER_MAX}"));
        }
        if self.governors.is_empty() || self.governors.len() > GOVERNORS_MAX {
            return bad(format!("needs 1 to {GOVERNORS_MAX} governors, has {}", self.governors.len()));
        }
        let unique: BTreeSet<_> = self.governors.iter().collect();
        if unique.len() != self.governors.len() {
            return bad("a governor is listed twice".into());
        }
        if let Some(g) = self.governors.iter().find(|g| !g.is_valid_point()) {
            return bad(format!("governor key {g} is not a valid ed25519 key"));
        }
        let k = self.governance_threshold as usize;
        if k == 0 || k > self.governors.len() {
            return bad(format!(
                "governance threshold {k} must be between 1 and the number of governors ({})",
                self.governors.len()
            ));
        }
        let p = &self.params;
        if p.max_supply_limit == 0 || p.block_txs_max == 0 || p.tx_bytes_max < 256 {
            return bad("params: max_supply_limit and block_txs_max must be > 0, tx_bytes_max >= 256".into());
        }
        Ok(())
    }

    /// The validator set.
    pub fn validator_set(&self) -> ValidatorSet {
        ValidatorSet { validators: self.validators.clone() }
    }

    /// `domain_hash("keepsake/genesis/v1", chain_id, encode(genesis))`: block 1's `prev_hash`
    /// and the initial state root.
    pub fn hash(&self) -> BlockHash {
        BlockHash(domain_hash(tag::GENESIS, &self.chain_id, &encode(self)).0)
    }

    /// The state root before block 1 (the genesis hash).
    pub fn initial_state_root(&self) -> Hash32 {
        Hash32(self.hash().0)
    }

    /// Parses and validates a genesis JSON document. An invalid chain id is
    /// refused while parsing (`InvalidGenesis`, naming the chain id rule).
    pub fn from_json(text: &str) -> Result<Self> {
        let g: Genesis = serde_json::from_str(text).map_err(|e| Error::InvalidGenesis(e.to_string()))?;
        g.validate()?;
        Ok(g)
    }
}

/// Chain ids are 1 to 64 bytes of lowercase ASCII letters, digits and `-`
/// (the rule of [`ChainId`], which every chain id field has as its type).
/// The error is `InvalidGenesis`, saying what is wrong.
pub fn validate_chain_id(chain_id: &str) -> Result<()> {
    ChainId::new(chain_id).map(|_| ()).map_err(|e| Error::InvalidGenesis(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn genesis() -> Genesis {
        Genesis {
            chain_id: "keepsake-test".parse().unwrap(),
            genesis_time_ms: 1,
            validators: vec![Validator {
                public_key: Keypair::from_seed([1; 32]).public(),
                power: 1,
                name: "a".into(),
            }],
            governors: vec![Keypair::from_seed([2; 32]).public(), Keypair::from_seed([3; 32]).public()],
            governance_threshold: 2,
            params: ChainParams::default(),
        }
    }

    #[test]
    fn valid_genesis_passes_and_round_trips_json() {
        let g = genesis();
        g.validate().unwrap();
        let json = serde_json::to_string_pretty(&g).unwrap();
        assert_eq!(Genesis::from_json(&json).unwrap(), g);
    }

    #[test]
    fn each_genesis_rule_can_fail() {
        type Mutation = Box<dyn Fn(&mut Genesis)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("no validators", Box::new(|g| g.validators.clear())),
            ("zero power", Box::new(|g| g.validators[0].power = 0)),
            ("dup validator", Box::new(|g| g.validators.push(g.validators[0].clone()))),
            ("power overflow", Box::new(|g| g.validators[0].power = u64::MAX)),
            ("no governors", Box::new(|g| g.governors.clear())),
            ("dup governor", Box::new(|g| g.governors[1] = g.governors[0])),
            ("threshold 0", Box::new(|g| g.governance_threshold = 0)),
            ("threshold > n", Box::new(|g| g.governance_threshold = 3)),
            ("bad key", Box::new(|g| g.governors[0] = PublicKey([0; 32]))),
            ("params", Box::new(|g| g.params.block_txs_max = 0)),
        ];
        for (name, mutate) in cases {
            let mut g = genesis();
            mutate(&mut g);
            assert_eq!(g.validate().unwrap_err().code(), "InvalidGenesis", "{name}");
        }
    }

    #[test]
    fn invalid_chain_ids_are_refused_while_parsing() {
        for (bad, says) in [
            ("Bad Chain".to_string(), "has 'B' at byte 0"),
            (String::new(), "is empty"),
            ("a".repeat(65), "is 65 bytes"),
            ("a".repeat(300), "is 300 bytes"),
        ] {
            let mut v = serde_json::to_value(genesis()).unwrap();
            v["chain_id"] = serde_json::json!(bad);
            let err = Genesis::from_json(&v.to_string()).unwrap_err();
            assert_eq!(err.code(), "InvalidGenesis", "{bad:?}");
            assert!(err.to_string().contains(says), "{err}");
            assert_eq!(validate_chain_id(&bad).unwrap_err().code(), "InvalidGenesis");
        }
        validate_chain_id("keepsake-test").unwrap();
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut v = serde_json::to_value(genesis()).unwrap();
        v["surprise"] = serde_json::json!(1);
        let err = Genesis::from_json(&v.to_string()).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
