//! Blocks, headers, votes and commits.
//!
//! A block is final when validators holding more than two thirds of the voting
//! power signed a precommit for its header hash: its [`Commit`]. A header plus
//! its commit is a *checkpoint*: anyone with the validator set of its height
//! (the genesis set, or the set reached by following proven changes from it,
//! `membership::ValidatorSchedule`) can check it offline ([`Commit::verify`]).

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::chain_id::ChainId;
use crate::ed25519::{Signatures, check_batched};
use crate::encoding::encode;
use crate::hash::{Hash32, domain_hash, domain_preimage, tag};
use crate::ids::BlockHash;
use crate::keys::{Keypair, PublicKey, Signature};
use crate::tx::SignedTx;
use crate::{Error, Result};

/// A block header. Field order is wire format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// The chain this block belongs to (checked by the type: hashing never
    /// fails, whatever the bytes the header was decoded from).
    pub chain_id: ChainId,
    /// 1 for the first block.
    pub height: u64,
    /// Hash of the previous header; for height 1, the genesis hash.
    pub prev_hash: BlockHash,
    /// Proposer's time, milliseconds since the Unix epoch; strictly increasing.
    pub time_ms: u64,
    /// The validator that proposed this block.
    pub proposer: PublicKey,
    /// Number of transactions in the block.
    pub tx_count: u32,
    /// RFC 9162 Merkle root over the block's transaction ids (leaf = the 32-byte id).
    pub tx_root: Hash32,
    /// Number of entries in the collectible log after this block.
    pub log_size: u64,
    /// RFC 9162 root of the collectible log after this block.
    pub log_root: Hash32,
    /// Hash of the validator set that signs this block's commit.
    pub validators_hash: Hash32,
    /// The state root after this block (docs/protocol.md, "State root").
    pub state_root: Hash32,
}

impl Header {
    /// The block hash: `domain_hash("keepsake/header/v1", chain_id, encode(header))`.
    pub fn hash(&self) -> BlockHash {
        BlockHash(domain_hash(tag::HEADER, &self.chain_id, &encode(self)).0)
    }
}

/// A block: header and transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// The transactions, in log order.
    pub txs: Vec<SignedTx>,
}

/// The two vote kinds of Tendermint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoteKind {
    /// First voting step.
    Prevote,
    /// Second voting step; a quorum of these makes a commit.
    Precommit,
}

/// What a vote says. Its signature covers
/// `domain_preimage("keepsake/vote/v1", chain_id, encode(VoteData))`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteData {
    /// Height voted on.
    pub height: u64,
    /// Consensus round.
    pub round: u32,
    /// Prevote or precommit.
    pub kind: VoteKind,
    /// The block voted for, or `None` (nil).
    pub block_hash: Option<BlockHash>,
}

impl VoteData {
    /// Signs this vote.
    pub fn sign(self, chain_id: &str, key: &Keypair) -> Vote {
        let signature = key.sign(tag::VOTE, chain_id, &encode(&self));
        Vote { data: self, validator: key.public(), signature }
    }
}

/// A signed vote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vote {
    /// The vote.
    pub data: VoteData,
    /// Who voted.
    pub validator: PublicKey,
    /// The validator's signature.
    pub signature: Signature,
}

impl Vote {
    /// Verifies the signature.
    pub fn verify(&self, chain_id: &str) -> Result<()> {
        self.validator.verify(tag::VOTE, chain_id, &encode(&self.data), &self.signature, "vote")
    }
}

/// Two votes by one validator for the same height, round and step but for
/// different blocks: proof that the validator equivocated (a Byzantine fault;
/// honest validators never do it, docs/consensus.md rule S1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoubleVote {
    /// One vote.
    pub first: Vote,
    /// The conflicting vote.
    pub second: Vote,
}

impl DoubleVote {
    /// Checks that this is real evidence: the same validator of `validators`,
    /// the same (height, round, kind), different values, both signatures valid.
    pub fn verify(&self, chain_id: &str, validators: &ValidatorSet) -> Result<()> {
        let (a, b) = (&self.first, &self.second);
        let bad =
            |why: &str| Err(Error::Malformed { what: "equivocation evidence", reason: why.to_string() });
        if a.validator != b.validator {
            return bad("the two votes are by different validators");
        }
        if validators.get(&a.validator).is_none() {
            return Err(Error::UnknownValidator(a.validator));
        }
        if (a.data.height, a.data.round, a.data.kind) != (b.data.height, b.data.round, b.data.kind) {
            return bad("the two votes are for different steps");
        }
        if a.data.block_hash == b.data.block_hash {
            return bad("the two votes are for the same value");
        }
        a.verify(chain_id)?;
        b.verify(chain_id)
    }
}

/// What a proposer signs: `domain_preimage("keepsake/proposal/v1", chain_id,
/// encode(ProposalData))`. The block travels beside it; its header hash is
/// the value proposed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposalData {
    /// Height.
    pub height: u64,
    /// Round.
    pub round: u32,
    /// Tendermint's `validRound` (the round in which the proposer saw a
    /// polka for this value), or `None` (-1 in the paper).
    pub pol_round: Option<u32>,
    /// The proposed block's header hash.
    pub block_hash: BlockHash,
}

impl ProposalData {
    /// Signs this proposal and attaches the block.
    pub fn sign(self, chain_id: &str, key: &Keypair, block: impl Into<Arc<Block>>) -> Proposal {
        let signature = key.sign(tag::PROPOSAL, chain_id, &encode(&self));
        Proposal { data: self, proposer: key.public(), signature, block: block.into() }
    }
}

/// A signed proposal with its block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// What is proposed.
    pub data: ProposalData,
    /// The proposer.
    pub proposer: PublicKey,
    /// The proposer's signature over `data`.
    pub signature: Signature,
    /// The proposed block (`block.header.hash() == data.block_hash` is checked by receivers).
    /// Shared, not copied, by everything that holds the proposal (the WAL
    /// record, the consensus core, the validation and the commit); it
    /// encodes as the block itself.
    pub block: Arc<Block>,
}

impl Proposal {
    /// Verifies the proposer's signature and that the block matches the signed hash.
    pub fn verify(&self, chain_id: &str) -> Result<()> {
        self.proposer.verify(tag::PROPOSAL, chain_id, &encode(&self.data), &self.signature, "proposal")?;
        let got = self.block.header.hash();
        if got != self.data.block_hash {
            return Err(Error::CommitBlockMismatch { expected: self.data.block_hash, got });
        }
        Ok(())
    }
}

/// One precommit signature inside a commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitSignature {
    /// The validator.
    pub validator: PublicKey,
    /// Its precommit signature for (height, round, Some(block_hash)).
    pub signature: Signature,
}

/// The proof that a block is final: precommits of more than 2/3 of the power.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    /// Height of the block.
    pub height: u64,
    /// Round in which it was decided.
    pub round: u32,
    /// The block's header hash.
    pub block_hash: BlockHash,
    /// Precommit signatures, at most one per validator.
    pub signatures: Vec<CommitSignature>,
}

impl Commit {
    /// The vote each signature of this commit signs.
    pub fn vote_data(&self) -> VoteData {
        VoteData {
            height: self.height,
            round: self.round,
            kind: VoteKind::Precommit,
            block_hash: Some(self.block_hash),
        }
    }

    /// Checks that this commit finalises `header` under `validators`:
    /// same height and block hash, every signer a distinct validator, every
    /// signature valid, and the signers' power more than 2/3 of the total.
    /// Returns the signed power.
    ///
    /// The signatures are verified as one batch ([`crate::SignatureBatch`]);
    /// when it fails, the first bad signature is reported, as are errors
    /// met before it (`UnknownValidator`, `DuplicateCommitSignature`).
    pub fn verify(&self, header: &Header, validators: &ValidatorSet) -> Result<u64> {
        // Room for one signature per validator of the largest set (the batch grows if needed).
        let capacity = self.signatures.len().min(crate::genesis::VALIDATORS_MAX);
        check_batched(capacity, |signatures| self.check(header, validators, signatures))
    }

    /// [`Commit::verify`], with the signatures sent to `signatures`.
    pub(crate) fn check(
        &self,
        header: &Header,
        validators: &ValidatorSet,
        signatures: &mut Signatures<'_>,
    ) -> Result<u64> {
        if self.height != header.height {
            return Err(Error::CommitHeightMismatch { expected: header.height, got: self.height });
        }
        let expected = header.hash();
        if self.block_hash != expected {
            return Err(Error::CommitBlockMismatch { expected, got: self.block_hash });
        }
        let vs_hash = validators.hash(&header.chain_id);
        if header.validators_hash != vs_hash {
            return Err(Error::ValidatorSetMismatch { expected: vs_hash, got: header.validators_hash });
        }
        let message = domain_preimage(tag::VOTE, &header.chain_id, &encode(&self.vote_data()));
        let mut seen = BTreeSet::new();
        let mut power: u64 = 0;
        for s in &self.signatures {
            let validator = validators.get(&s.validator).ok_or(Error::UnknownValidator(s.validator))?;
            if !seen.insert(s.validator) {
                return Err(Error::DuplicateCommitSignature(s.validator));
            }
            signatures.check(&s.validator, &message, &s.signature, "commit precommit")?;
            power = power.saturating_add(validator.power);
        }
        let total = validators.total_power();
        let needed = validators.quorum_power();
        if power < needed {
            return Err(Error::InsufficientPower { got: power, needed, total });
        }
        Ok(power)
    }

    /// The fewest of this commit's precommits that still carry a quorum of
    /// `validators` (more than 2/3 of the power): the largest signers first
    /// (ties in commit order), kept in commit order. This is what a node puts
    /// in a certificate's checkpoint: verification rules do not change (a
    /// verifier requires distinct, known, valid signers with a quorum of
    /// power, not every validator), and each precommit left out is one
    /// signature fewer for every verifier to check. Signers unknown to
    /// `validators` or repeated are never kept; a commit whose known signers
    /// do not reach a quorum comes back unchanged, so that verifying it
    /// reports what is wrong with it.
    pub fn quorum_only(&self, validators: &ValidatorSet) -> Commit {
        let mut seen = BTreeSet::new();
        // (power, position) of each distinct known signer.
        let mut signers: Vec<(u64, usize)> = self
            .signatures
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let power = validators.get(&s.validator)?.power;
                seen.insert(s.validator).then_some((power, i))
            })
            .collect();
        signers.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let needed = validators.quorum_power();
        let mut power: u64 = 0;
        let mut kept = Vec::new();
        for (p, i) in signers {
            if power >= needed {
                break;
            }
            power = power.saturating_add(p);
            kept.push(i);
        }
        if power < needed {
            return self.clone();
        }
        kept.sort_unstable();
        Commit {
            height: self.height,
            round: self.round,
            block_hash: self.block_hash,
            signatures: kept.into_iter().map(|i| self.signatures[i].clone()).collect(),
        }
    }
}

/// One validator: key, voting power and a display name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// Consensus key (also its libp2p identity).
    pub public_key: PublicKey,
    /// Voting power (> 0).
    pub power: u64,
    /// Organisation name, for humans.
    pub name: String,
}

/// The validator set, in a fixed order (the proposer rotation follows it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidatorSet {
    /// The validators.
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// `domain_hash("keepsake/validators/v1", chain_id, encode(validators))`.
    pub fn hash(&self, chain_id: &str) -> Hash32 {
        domain_hash(tag::VALIDATORS, chain_id, &encode(&self.validators))
    }

    /// The validator with this key.
    pub fn get(&self, key: &PublicKey) -> Option<&Validator> {
        self.validators.iter().find(|v| &v.public_key == key)
    }

    /// Sum of all power (genesis validation bounds it far below `u64::MAX`).
    pub fn total_power(&self) -> u64 {
        self.validators.iter().fold(0u64, |acc, v| acc.saturating_add(v.power))
    }

    /// The smallest power that is more than 2/3 of the total: `floor(2 * total / 3) + 1`.
    pub fn quorum_power(&self) -> u64 {
        let total = u128::from(self.total_power());
        u64::try_from(total * 2 / 3 + 1).expect("2/3 of a u64 plus one fits in u64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(keys: &[&Keypair]) -> ValidatorSet {
        ValidatorSet {
            validators: keys
                .iter()
                .enumerate()
                .map(|(i, k)| Validator { public_key: k.public(), power: 1, name: format!("v{i}") })
                .collect(),
        }
    }

    fn header(vs: &ValidatorSet) -> Header {
        Header {
            chain_id: "test".parse().unwrap(),
            height: 5,
            prev_hash: BlockHash([1; 32]),
            time_ms: 1000,
            proposer: vs.validators[0].public_key,
            tx_count: 0,
            tx_root: crate::merkle::empty_root(),
            log_size: 0,
            log_root: crate::merkle::empty_root(),
            validators_hash: vs.hash("test"),
            state_root: Hash32([2; 32]),
        }
    }

    fn commit_by(h: &Header, keys: &[&Keypair]) -> Commit {
        let data =
            VoteData { height: h.height, round: 0, kind: VoteKind::Precommit, block_hash: Some(h.hash()) };
        Commit {
            height: h.height,
            round: 0,
            block_hash: h.hash(),
            signatures: keys
                .iter()
                .map(|k| {
                    let v = data.clone().sign("test", k);
                    CommitSignature { validator: v.validator, signature: v.signature }
                })
                .collect(),
        }
    }

    #[test]
    fn a_leaf_hashed_from_the_encoded_transaction_is_the_leaf_hash() {
        let key = Keypair::from_seed([4; 32]);
        let tx = crate::TxBody::Revoke { certificate_id: crate::CertificateId([2; 32]), reason: "r".into() }
            .sign("c", &[&key]);
        // Heights and times across the varint length boundaries.
        for (height, time_ms) in [(0, 0), (127, 128), (300, 1_765_000_000_000), (u64::MAX, u64::MAX)] {
            let leaf = LogLeafRef { height, time_ms, tx: &tx }.encode();
            assert_eq!(
                LogLeafRef::hash_of_encoded(height, time_ms, &encode(&tx)),
                crate::merkle::leaf_hash(&leaf),
                "height {height}, time {time_ms}"
            );
        }
    }

    #[test]
    fn quorum_is_more_than_two_thirds() {
        let ks: Vec<Keypair> = (0..4u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let refs: Vec<&Keypair> = ks.iter().collect();
        let vs = set(&refs);
        assert_eq!(vs.quorum_power(), 3);
        let h = header(&vs);
        assert_eq!(commit_by(&h, &refs[..3]).verify(&h, &vs).unwrap(), 3);
        let err = commit_by(&h, &refs[..2]).verify(&h, &vs).unwrap_err();
        assert_eq!(err, Error::InsufficientPower { got: 2, needed: 3, total: 4 });
        let one = set(&refs[..1]);
        assert_eq!(one.quorum_power(), 1);
        let seven = set(&(0..7u8)
            .map(|i| Keypair::from_seed([i; 32]))
            .collect::<Vec<_>>()
            .iter()
            .collect::<Vec<_>>());
        assert_eq!(seven.quorum_power(), 5);
    }

    #[test]
    fn quorum_only_keeps_the_fewest_signers_that_still_verify() {
        let ks: Vec<Keypair> = (0..4u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let refs: Vec<&Keypair> = ks.iter().collect();
        let signers = |c: &Commit| c.signatures.iter().map(|s| s.validator).collect::<Vec<_>>();

        // Equal power: the first three of four, in commit order.
        let vs = set(&refs);
        let h = header(&vs);
        let full = commit_by(&h, &[refs[2], refs[0], refs[3], refs[1]]);
        let trimmed = full.quorum_only(&vs);
        assert_eq!(signers(&trimmed), vec![refs[2].public(), refs[0].public(), refs[3].public()]);
        assert_eq!(trimmed.verify(&h, &vs).unwrap(), 3);
        // A commit already at a quorum is kept whole.
        assert_eq!(trimmed.quorum_only(&vs), trimmed);

        // Unequal power: the largest signers first, then commit order again.
        let mut weighted = set(&refs);
        for (v, power) in weighted.validators.iter_mut().zip([1, 1, 5, 2]) {
            v.power = power;
        }
        assert_eq!(weighted.quorum_power(), 7);
        let h = header(&weighted);
        let full = commit_by(&h, &refs);
        let trimmed = full.quorum_only(&weighted);
        assert_eq!(signers(&trimmed), vec![refs[2].public(), refs[3].public()]);
        assert_eq!(trimmed.verify(&h, &weighted).unwrap(), 7);

        // Strangers and repeats are never kept; a commit short of a quorum
        // comes back unchanged, to fail verification with its own error.
        let h = header(&vs);
        let stranger = Keypair::from_seed([99; 32]);
        let mut odd = commit_by(&h, &[&stranger, refs[0], refs[0], refs[1], refs[2], refs[3]]);
        odd.signatures[2] = odd.signatures[1].clone();
        let trimmed = odd.quorum_only(&vs);
        assert_eq!(signers(&trimmed), vec![refs[0].public(), refs[1].public(), refs[2].public()]);
        assert_eq!(trimmed.verify(&h, &vs).unwrap(), 3);
        let short = commit_by(&h, &[&stranger, refs[0], refs[1]]);
        assert_eq!(short.quorum_only(&vs), short);
        assert_eq!(
            short.quorum_only(&vs).verify(&h, &vs).unwrap_err(),
            Error::UnknownValidator(stranger.public())
        );
    }

    #[test]
    fn commit_rejects_duplicates_strangers_and_tampering() {
        let ks: Vec<Keypair> = (0..4u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let refs: Vec<&Keypair> = ks.iter().collect();
        let vs = set(&refs);
        let h = header(&vs);

        let mut dup = commit_by(&h, &refs[..3]);
        dup.signatures[2] = dup.signatures[0].clone();
        assert_eq!(dup.verify(&h, &vs).unwrap_err().code(), "DuplicateCommitSignature");

        let stranger = Keypair::from_seed([99; 32]);
        let c = commit_by(&h, &[refs[0], refs[1], &stranger]);
        assert_eq!(c.verify(&h, &vs).unwrap_err(), Error::UnknownValidator(stranger.public()));

        let mut bad = commit_by(&h, &refs[..3]);
        bad.signatures[1].signature.0[0] ^= 1;
        assert_eq!(bad.verify(&h, &vs).unwrap_err().code(), "BadSignature");

        let mut other = h.clone();
        other.time_ms += 1;
        assert_eq!(commit_by(&h, &refs[..3]).verify(&other, &vs).unwrap_err().code(), "CommitBlockMismatch");

        let mut wrong_height = commit_by(&h, &refs[..3]);
        wrong_height.height += 1;
        assert_eq!(wrong_height.verify(&h, &vs).unwrap_err().code(), "CommitHeightMismatch");

        let other_set = set(&refs[..3]);
        assert_eq!(
            commit_by(&h, &refs[..3]).verify(&h, &other_set).unwrap_err().code(),
            "ValidatorSetMismatch"
        );
    }

    #[test]
    fn batched_commit_reports_the_first_failure_in_order() {
        let ks: Vec<Keypair> = (0..4u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let refs: Vec<&Keypair> = ks.iter().collect();
        let vs = set(&refs);
        let h = header(&vs);
        let stranger = Keypair::from_seed([99; 32]);

        // A bad signature before a stranger: the bad signature, by its signer.
        let mut c = commit_by(&h, &[refs[0], refs[1], &stranger]);
        c.signatures[1].signature.0[5] ^= 1;
        let want = Error::BadSignature { signer: refs[1].public(), what: "commit precommit" };
        assert_eq!(c.verify(&h, &vs).unwrap_err(), want);
        // A stranger before a bad signature: the stranger.
        let mut c = commit_by(&h, &[refs[0], &stranger, refs[1]]);
        c.signatures[2].signature.0[5] ^= 1;
        assert_eq!(c.verify(&h, &vs).unwrap_err(), Error::UnknownValidator(stranger.public()));
        // Two bad signatures: the first one.
        let mut c = commit_by(&h, &refs[..4]);
        c.signatures[3].signature.0[5] ^= 1;
        c.signatures[2].signature.0[5] ^= 1;
        let want = Error::BadSignature { signer: refs[2].public(), what: "commit precommit" };
        assert_eq!(c.verify(&h, &vs).unwrap_err(), want);
        // Too little power and a bad signature: the bad signature.
        let mut c = commit_by(&h, &refs[..2]);
        c.signatures[0].signature.0[5] ^= 1;
        let want = Error::BadSignature { signer: refs[0].public(), what: "commit precommit" };
        assert_eq!(c.verify(&h, &vs).unwrap_err(), want);
        assert_eq!(commit_by(&h, &refs[..4]).verify(&h, &vs).unwrap(), 4);
    }
}

/// One entry of the collectible log: a committed transaction with the height
/// and time of its block. The leaf bytes are `encode(LogLeaf)`, so the time
/// is inside the leaf and cannot change unnoticed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogLeaf {
    /// Height of the block that committed the transaction.
    pub height: u64,
    /// That block's `time_ms`.
    pub time_ms: u64,
    /// The transaction, with its signatures.
    pub tx: SignedTx,
}

/// A header and the commit that finalises it: a quorum-signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The header.
    pub header: Header,
    /// Its commit.
    pub commit: Commit,
}

/// A borrowed [`LogLeaf`]: encodes to the same bytes without cloning the
/// transaction (postcard writes struct fields in order, with no names).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LogLeafRef<'a> {
    /// See [`LogLeaf::height`].
    pub height: u64,
    /// See [`LogLeaf::time_ms`].
    pub time_ms: u64,
    /// See [`LogLeaf::tx`].
    pub tx: &'a SignedTx,
}

impl LogLeafRef<'_> {
    /// The leaf bytes, `encode(LogLeaf { height, time_ms, tx })`.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// `merkle::leaf_hash` of the leaf bytes, given the transaction's
    /// encoding `tx` (`encode(tx)`): the leaf is `varint(height) ||
    /// varint(time_ms) || tx`, hashed as it is, with no copy of `tx`.
    pub fn hash_of_encoded(height: u64, time_ms: u64, tx: &[u8]) -> Hash32 {
        crate::merkle::leaf_hash_of_parts(&[&encode(&(height, time_ms)), tx])
    }
}
