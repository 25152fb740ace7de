//! Fixtures for tests across the workspace: a genesis with deterministic
//! keys and builders for correctly signed transactions. Real keys and real
//! signatures; nothing here is a mock.

use crate::block::{Tip, build_block};
use crate::memory::MemoryState;
use keepsake_types::{
    Block, ChainParams, Commit, CommitSignature, ContentHash, Genesis, Header, HolderId, IssuerStatus,
    Keypair, ReviewSubject, SeriesId, SignedTx, TxBody, Validator, VoteData, VoteKind, hash::sha256, ids,
};

/// Deterministic key `n` of a test network (never use outside tests and dev chains).
pub fn key(n: u8) -> Keypair {
    let mut seed = [0u8; 32];
    seed[0] = n;
    seed[31] = 0x6b; // 'k'
    Keypair::from_seed(seed)
}

/// A test network: validators, governors (k of n), one issuer and one reviewer.
pub struct TestNet {
    /// The genesis.
    pub genesis: Genesis,
    /// Validator keys, in genesis order.
    pub validators: Vec<Keypair>,
    /// Governor keys, in genesis order.
    pub governors: Vec<Keypair>,
    /// An issuer key (not registered until a transaction says so).
    pub issuer: Keypair,
    /// A reviewer key (not registered until a transaction says so).
    pub reviewer: Keypair,
}

impl TestNet {
    /// `validators` validators of power 1 and a 2-of-3 governance.
    pub fn new(validators: usize) -> Self {
        let validator_keys: Vec<Keypair> = (0..validators).map(|i| key(100 + i as u8)).collect();
        let governors: Vec<Keypair> = (0..3).map(|i| key(10 + i)).collect();
        let genesis = Genesis {
            chain_id: "keepsake-test".parse().expect("a valid chain id"),
            genesis_time_ms: 1_700_000_000_000,
            validators: validator_keys
                .iter()
                .enumerate()
                .map(|(i, k)| Validator { public_key: k.public(), power: 1, name: format!("org-{i}") })
                .collect(),
            governors: governors.iter().map(Keypair::public).collect(),
            governance_threshold: 2,
            params: ChainParams { max_supply_limit: 10_000, ..ChainParams::default() },
        };
        genesis.validate().expect("the test genesis is valid");
        TestNet { genesis, validators: validator_keys, governors, issuer: key(1), reviewer: key(2) }
    }

    /// The chain id.
    pub fn chain(&self) -> &str {
        &self.genesis.chain_id
    }

    /// Signs `body` with the first `k` governors.
    pub fn governed(&self, body: TxBody, k: usize) -> SignedTx {
        let signers: Vec<&Keypair> = self.governors.iter().take(k).collect();
        body.sign(self.chain(), &signers)
    }

    /// RegisterIssuer for `issuer`, signed by the threshold of governors.
    pub fn register_issuer(&self, issuer: &Keypair, nonce: u64) -> SignedTx {
        self.governed(TxBody::RegisterIssuer { issuer: issuer.public(), name: "Museum".into(), nonce }, 2)
    }

    /// SetIssuerStatus, signed by the threshold of governors.
    pub fn set_issuer_status(&self, issuer: &Keypair, status: IssuerStatus, nonce: u64) -> SignedTx {
        self.governed(TxBody::SetIssuerStatus { issuer: issuer.public(), status, nonce }, 2)
    }

    /// RegisterReviewer for `reviewer`, signed by the threshold of governors.
    pub fn register_reviewer(&self, reviewer: &Keypair, nonce: u64) -> SignedTx {
        self.governed(
            TxBody::RegisterReviewer { reviewer: reviewer.public(), name: "Review board".into(), nonce },
            2,
        )
    }

    /// The content hash used for series `name` in tests.
    pub fn content(name: &str) -> ContentHash {
        ContentHash(sha256(format!("artwork:{name}").as_bytes()).0)
    }

    /// CreateSeries by `issuer`, approved by `reviewer`.
    pub fn create_series(
        &self,
        issuer: &Keypair,
        reviewer: &Keypair,
        name: &str,
        max_supply: u32,
    ) -> SignedTx {
        let subject = ReviewSubject {
            issuer: issuer.public(),
            name: name.into(),
            content_hash: Self::content(name),
            max_supply,
            metadata_uri: format!("https://example.org/{name}.json"),
        };
        let approval = subject.approve(self.chain(), reviewer);
        TxBody::CreateSeries {
            issuer: subject.issuer,
            name: subject.name,
            content_hash: subject.content_hash,
            max_supply,
            metadata_uri: subject.metadata_uri,
            approval,
        }
        .sign(self.chain(), &[issuer])
    }

    /// The id of series `name` of `issuer`.
    pub fn series_id(&self, issuer: &Keypair, name: &str) -> SeriesId {
        ids::series_id(self.chain(), &issuer.public(), name)
    }

    /// A holder commitment for test account `n`.
    pub fn holder(n: u32) -> HolderId {
        ids::holder_id("test-salt", &format!("account-{n}"))
    }

    /// Mint of `edition` of `series` to holder `n`, signed by `issuer`.
    pub fn mint(&self, issuer: &Keypair, series: SeriesId, edition: u32, holder: u32) -> SignedTx {
        TxBody::Mint { series_id: series, edition, holder: Self::holder(holder) }
            .sign(self.chain(), &[issuer])
    }

    /// The setup every scenario starts from: issuer and reviewer registered.
    pub fn setup_txs(&self) -> Vec<SignedTx> {
        vec![self.register_issuer(&self.issuer, 1), self.register_reviewer(&self.reviewer, 2)]
    }
}

impl TestNet {
    /// A commit for `header` in `round`, signed by the first `signers` validators.
    pub fn commit_for(&self, header: &Header, round: u32, signers: usize) -> Commit {
        let data = VoteData {
            height: header.height,
            round,
            kind: VoteKind::Precommit,
            block_hash: Some(header.hash()),
        };
        let signatures = self
            .validators
            .iter()
            .take(signers)
            .map(|k| {
                let vote = data.clone().sign(self.chain(), k);
                CommitSignature { validator: vote.validator, signature: vote.signature }
            })
            .collect();
        Commit { height: header.height, round, block_hash: header.hash(), signatures }
    }
}

/// A chain grown in memory by [`TestNet`]'s validators: each block built by
/// the ledger on the replayed state, one second after the previous one, and
/// committed by every validator. Deterministic: the same calls give the same
/// bytes (ed25519 signatures are deterministic).
pub struct TestChain {
    /// The network.
    pub net: TestNet,
    /// The state after the last block.
    pub state: MemoryState,
    /// The tip after the last block.
    pub tip: Tip,
    /// Every block with its commit, from height 1.
    pub blocks: Vec<(Block, Commit)>,
}

impl TestChain {
    /// An empty chain of `net`.
    pub fn new(net: TestNet) -> Self {
        let tip = Tip::genesis(&net.genesis);
        TestChain { net, state: MemoryState::new(), tip, blocks: Vec::new() }
    }

    /// Builds, commits and applies the next block from `txs`; panics if any
    /// transaction is invalid (a test chain has only valid blocks).
    pub fn push(&mut self, txs: Vec<SignedTx>) -> &(Block, Commit) {
        let proposer = self.net.validators[(self.tip.height as usize) % self.net.validators.len()].public();
        let time = self.tip.time_ms + 1000;
        let built = build_block(&self.state, &self.net.genesis, &self.tip, proposer, time, txs)
            .expect("the test chain builds");
        assert!(built.left_out.is_empty(), "test chain transaction left out: {:?}", built.left_out);
        self.state.commit(&built.executed).expect("the test chain applies");
        let commit = self.net.commit_for(&built.block.header, 0, self.net.validators.len());
        self.tip = Tip::from_header(&built.block.header);
        self.blocks.push((built.block, commit));
        self.blocks.last().expect("just pushed")
    }
}
