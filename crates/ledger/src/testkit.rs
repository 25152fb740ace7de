//! Fixtures for tests across the workspace: a genesis with deterministic
//! keys and builders for correctly signed transactions. Real keys and real
//! signatures; nothing here is a mock.

use crate::block::{Tip, build_block};
use crate::membership::validator_set_at;
use crate::memory::MemoryState;
use crate::state::StateView;
use keepsake_types::{
    BlindBoxTerms, Block, BoxVariant, CertificateId, ChainParams, Commit, CommitSignature, ContentHash,
    Genesis, Hash32, Header, HolderId, IssuerStatus, Keypair, Licence, PublicKey, Recipe, RecipeInput,
    ReviewSubject, SeriesId, SeriesTerms, SignedTx, TxBody, Validator, ValidatorChange, ValidatorSet,
    VoteData, VoteKind, hash::sha256, ids, life, merkle,
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

    /// A validator-set change signed by the threshold of governors and, for
    /// an addition or a rotation, by `new_key` (the key it brings in, rule T8).
    pub fn change_validators(
        &self,
        change: ValidatorChange,
        nonce: u64,
        new_key: Option<&Keypair>,
    ) -> SignedTx {
        let mut signers: Vec<&Keypair> = self.governors.iter().take(2).collect();
        signers.extend(new_key);
        TxBody::ChangeValidators { change, nonce }.sign(self.chain(), &signers)
    }
}

// ---- The collectible's life (issue 16): licences, synthesis, blind boxes ----
impl TestNet {
    /// SetIssuerLicence for `issuer`, in force until `valid_until_ms`, signed by the threshold of governors.
    pub fn set_licence(&self, issuer: &Keypair, valid_until_ms: u64, nonce: u64) -> SignedTx {
        let licence = Licence { kind: "ICP".into(), number: format!("L-{nonce}"), valid_until_ms };
        self.governed(TxBody::SetIssuerLicence { issuer: issuer.public(), licence, nonce }, 2)
    }

    /// WithdrawIssuerLicence for `issuer`, signed by the threshold of governors.
    pub fn withdraw_licence(&self, issuer: &Keypair, nonce: u64) -> SignedTx {
        self.governed(
            TxBody::WithdrawIssuerLicence { issuer: issuer.public(), reason: "audit failed".into(), nonce },
            2,
        )
    }

    /// SetLicencePolicy, signed by the threshold of governors.
    pub fn licence_policy(&self, required: bool, nonce: u64) -> SignedTx {
        self.governed(TxBody::SetLicencePolicy { required, nonce }, 2)
    }

    /// CreateSeriesWithTerms by `issuer`, approved (subject and terms, review v2) by `reviewer`.
    pub fn create_series_with_terms(
        &self,
        issuer: &Keypair,
        reviewer: &Keypair,
        name: &str,
        max_supply: u32,
        terms: SeriesTerms,
    ) -> SignedTx {
        let subject = self.subject(issuer, name, max_supply);
        let approval = subject.approve_with(self.chain(), Some(&terms), reviewer);
        subject.into_body(Some(terms), approval).sign(self.chain(), &[issuer])
    }

    /// The reviewed fields of series `name` (as [`TestNet::create_series`] fills them).
    pub fn subject(&self, issuer: &Keypair, name: &str, max_supply: u32) -> ReviewSubject {
        ReviewSubject {
            issuer: issuer.public(),
            name: name.into(),
            content_hash: Self::content(name),
            max_supply,
            metadata_uri: format!("https://example.org/{name}.json"),
        }
    }

    /// Terms of one recipe burning `count` certificates of each listed series.
    pub fn recipe(inputs: &[(SeriesId, u32)]) -> SeriesTerms {
        let inputs = inputs.iter().map(|&(series_id, count)| RecipeInput { series_id, count }).collect();
        SeriesTerms { recipes: vec![Recipe { inputs }], blind_box: None }
    }

    /// The seed of test blind box `n` (what its issuer keeps secret until the reveal).
    pub fn box_seed(n: u8) -> Hash32 {
        sha256(&[b's', b'e', b'e', b'd', n])
    }

    /// Blind-box terms with variants of these `counts`, committed to `seed`.
    pub fn blind_box(&self, seed: &Hash32, counts: &[u32]) -> SeriesTerms {
        let variants = counts
            .iter()
            .enumerate()
            .map(|(i, &count)| BoxVariant {
                name: format!("variant {i}"),
                content_hash: Self::content(&format!("variant-{i}")),
                count,
            })
            .collect();
        SeriesTerms {
            recipes: vec![],
            blind_box: Some(BlindBoxTerms {
                variants,
                seed_commitment: life::seed_commitment(self.chain(), seed),
            }),
        }
    }

    /// Synthesize, signed by `issuer`: burns `inputs` into `edition` of `series` for holder `n`.
    pub fn synthesize(
        &self,
        issuer: &Keypair,
        series: SeriesId,
        recipe: u32,
        inputs: Vec<CertificateId>,
        edition: u32,
        holder: u32,
    ) -> SignedTx {
        TxBody::Synthesize { series_id: series, recipe, inputs, edition, holder: Self::holder(holder) }
            .sign(self.chain(), &[issuer])
    }

    /// The id of edition `edition` of `series`.
    pub fn certificate(&self, series: &SeriesId, edition: u32) -> CertificateId {
        ids::certificate_id(self.chain(), series, edition)
    }

    /// CloseBlindBox of `series`, signed by `issuer`.
    pub fn close_box(&self, issuer: &Keypair, series: SeriesId) -> SignedTx {
        TxBody::CloseBlindBox { series_id: series }.sign(self.chain(), &[issuer])
    }

    /// RevealBlindBox of `series`, signed by `issuer`.
    pub fn reveal_box(&self, issuer: &Keypair, series: SeriesId, seed: Hash32, entropy: Hash32) -> SignedTx {
        TxBody::RevealBlindBox { series_id: series, seed, entropy }.sign(self.chain(), &[issuer])
    }
}

/// The entropy a reveal of `series` must carry: the log root just after its
/// close (`None` while the box is not closed in `state`).
pub fn box_entropy<V: StateView + ?Sized>(state: &V, series: &SeriesId) -> Option<Hash32> {
    let closed = state.series_life(series).ok()??.closed?;
    merkle::root(state, closed.leaf_index + 1).ok()
}

/// A commit for `header` in `round` on `chain_id`, signed by `signers` in that order.
pub fn commit_signed_by(chain_id: &str, header: &Header, round: u32, signers: &[&Keypair]) -> Commit {
    let data =
        VoteData { height: header.height, round, kind: VoteKind::Precommit, block_hash: Some(header.hash()) };
    let signatures = signers
        .iter()
        .map(|k| {
            let vote = data.clone().sign(chain_id, k);
            CommitSignature { validator: vote.validator, signature: vote.signature }
        })
        .collect();
    Commit { height: header.height, round, block_hash: header.hash(), signatures }
}

impl TestNet {
    /// A commit for `header` in `round`, signed by the first `signers` validators.
    pub fn commit_for(&self, header: &Header, round: u32, signers: usize) -> Commit {
        let keys: Vec<&Keypair> = self.validators.iter().take(signers).collect();
        commit_signed_by(self.chain(), header, round, &keys)
    }
}

/// A chain grown in memory by [`TestNet`]'s validators: each block built by
/// the ledger on the replayed state, one second after the previous one, and
/// committed by every validator of the set governing its height.
/// Deterministic: the same calls give the same bytes (ed25519 signatures are
/// deterministic).
///
/// Validator-set changes: the chain proposes and signs with the set in force
/// at each height (the ledger's schedule), so after a change that adds or
/// rotates in a key, the test must hand that key to [`TestChain::add_keys`]
/// before the change takes effect. Without changes the proposer of height
/// `h + 1` is genesis validator `h mod n` and every genesis validator signs,
/// as before changes existed.
pub struct TestChain {
    /// The network.
    pub net: TestNet,
    /// The state after the last block.
    pub state: MemoryState,
    /// The tip after the last block.
    pub tip: Tip,
    /// Every block with its commit, from height 1.
    pub blocks: Vec<(Block, Commit)>,
    /// Keys of validators that joined after genesis (added or rotated in).
    keyring: Vec<Keypair>,
}

impl TestChain {
    /// An empty chain of `net`.
    pub fn new(net: TestNet) -> Self {
        let tip = Tip::genesis(&net.genesis);
        TestChain { net, state: MemoryState::new(), tip, blocks: Vec::new(), keyring: Vec::new() }
    }

    /// Gives the chain the key pairs of validators that a change adds or
    /// rotates in (it signs their precommits once they are in the set).
    pub fn add_keys<'k>(&mut self, keys: impl IntoIterator<Item = &'k Keypair>) {
        for k in keys {
            if self.keypair(&k.public()).is_none() {
                self.keyring.push(k.clone());
            }
        }
    }

    /// The key pair of `key`: a genesis validator's or one given to [`TestChain::add_keys`].
    pub fn keypair(&self, key: &PublicKey) -> Option<&Keypair> {
        self.net.validators.iter().chain(&self.keyring).find(|k| &k.public() == key)
    }

    /// The validator set governing `height`, as the committed state schedules it.
    pub fn validator_set_at(&self, height: u64) -> ValidatorSet {
        validator_set_at(&self.state, &self.net.genesis, height).expect("the in-memory state reads")
    }

    /// The key pairs of every validator of the set governing `height`, in set
    /// order; panics on a key the chain was not given.
    pub fn signers_at(&self, height: u64) -> Vec<&Keypair> {
        self.validator_set_at(height)
            .validators
            .iter()
            .map(|v| {
                self.keypair(&v.public_key).unwrap_or_else(|| {
                    panic!(
                        "validator {} ({}) is in force at height {height}: give its key to add_keys",
                        v.name, v.public_key
                    )
                })
            })
            .collect()
    }

    /// Builds, commits and applies the next block from `txs`; panics if any
    /// transaction is invalid (a test chain has only valid blocks). The
    /// proposer and the signers are the set governing the new height.
    pub fn push(&mut self, txs: Vec<SignedTx>) -> &(Block, Commit) {
        let height = self.tip.height + 1;
        let set = self.validator_set_at(height);
        let proposer = set.validators[(self.tip.height as usize) % set.validators.len()].public_key;
        let time = self.tip.time_ms + 1000;
        let built = build_block(&self.state, &self.net.genesis, &self.tip, proposer, time, txs)
            .expect("the test chain builds");
        assert!(built.left_out.is_empty(), "test chain transaction left out: {:?}", built.left_out);
        let commit = commit_signed_by(self.net.chain(), &built.block.header, 0, &self.signers_at(height));
        self.state.commit(&built.executed).expect("the test chain applies");
        self.tip = Tip::from_header(&built.block.header);
        self.blocks.push((built.block, commit));
        self.blocks.last().expect("just pushed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::validate_block;
    use keepsake_types::membership::SET_CHANGE_DELAY;

    /// Replays `chain`'s blocks on a fresh state: each must be valid and its
    /// commit must verify under the set the replayed state says governs it.
    fn replay(chain: &TestChain) {
        let mut state = MemoryState::new();
        let mut tip = Tip::genesis(&chain.net.genesis);
        for (block, commit) in &chain.blocks {
            let set = validator_set_at(&state, &chain.net.genesis, block.header.height).unwrap();
            let power = commit.verify(&block.header, &set).unwrap();
            assert_eq!(power, set.total_power(), "every validator in force signs");
            let executed = validate_block(&state, &chain.net.genesis, &tip, block).unwrap();
            state.commit(&executed).unwrap();
            tip = Tip::from_header(&block.header);
        }
    }

    #[test]
    fn without_changes_the_chain_is_as_before() {
        let mut chain = TestChain::new(TestNet::new(4));
        for _ in 0..5 {
            chain.push(vec![]);
        }
        for (i, (block, commit)) in chain.blocks.iter().enumerate() {
            assert_eq!(block.header.proposer, chain.net.validators[i % 4].public());
            assert_eq!(commit, &chain.net.commit_for(&block.header, 0, 4));
        }
        replay(&chain);
    }

    #[test]
    fn the_chain_proposes_and_signs_with_the_set_in_force() {
        let mut chain = TestChain::new(TestNet::new(4));
        let (fifth, rotated) = (key(104), key(120));
        chain.add_keys([&fifth, &rotated]);
        let add = ValidatorChange::Add {
            validator: Validator { public_key: fifth.public(), power: 1, name: "org-4".into() },
        };
        let tx = chain.net.change_validators(add, 1, Some(&fifth));
        chain.push(vec![tx]);
        let change_height = chain.tip.height;
        chain.push(vec![]);
        assert_eq!(chain.blocks.last().unwrap().1.signatures.len(), 4, "the old set signs until the change");
        let (block, commit) = chain.push(vec![]).clone();
        assert_eq!(block.header.height, change_height + SET_CHANGE_DELAY);
        assert_eq!(commit.signatures.len(), 5, "the new set signs from the change's height + 2");
        let old = chain.net.validators[1].public();
        let rotate = ValidatorChange::RotateKey { old_key: old, new_key: rotated.public() };
        let tx = chain.net.change_validators(rotate, 2, Some(&rotated));
        chain.push(vec![tx]);
        for _ in 0..6 {
            chain.push(vec![]);
        }
        let (_, last) = chain.blocks.last().unwrap();
        let signers: Vec<PublicKey> = last.signatures.iter().map(|s| s.validator).collect();
        assert!(signers.contains(&rotated.public()) && !signers.contains(&old));
        let proposers: Vec<PublicKey> = chain.blocks[5..].iter().map(|(b, _)| b.header.proposer).collect();
        assert!(proposers.contains(&rotated.public()), "a rotated-in key proposes in its turn");
        replay(&chain);
    }

    #[test]
    #[should_panic(expected = "give its key to add_keys")]
    fn a_validator_whose_key_the_chain_lacks_is_named() {
        let mut chain = TestChain::new(TestNet::new(4));
        let fifth = key(104);
        let add = ValidatorChange::Add {
            validator: Validator { public_key: fifth.public(), power: 1, name: "org-4".into() },
        };
        let tx = chain.net.change_validators(add, 1, Some(&fifth));
        chain.push(vec![tx]);
        chain.push(vec![]);
        chain.push(vec![]);
    }
}
