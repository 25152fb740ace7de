//! No panic on data from outside: a chain id that a peer, an RPC answer or a
//! file supplies is checked while decoding, and everything that decodes can
//! then be hashed and verified without panicking.
//!
//! Before `ChainId`, a header with a 300-byte chain id decoded fine and
//! `Header::hash` (run by `Commit::verify` on every synced or audited block)
//! panicked in `hash::domain_hash` ("chain id is at most 255 bytes"). Here:
//!
//! - every decoder of a value that carries a chain id (header, block, sync
//!   item, checkpoint, proposal, consensus gossip, genesis; postcard and
//!   JSON, certificate and status files) refuses an empty, oversized or
//!   otherwise invalid chain id with `Malformed` and a message naming the
//!   rule, and accepts the longest valid one;
//! - properties: a chain id of any length and content spliced into a valid
//!   sync item decodes exactly when it follows the rule, and then hashes and
//!   verifies; any length prefix in its place is refused cleanly; mutated
//!   encodings of signed blocks, proposals and genesis values decode only
//!   to values that hash and verify without panicking; certificate files
//!   with any chain id are refused or verified, never a panic.
//!
//! 256 cases per property by default; `PROPTEST_CASES` for longer runs.

use keepsake_types::encoding::{decode, encode};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{
    Block, BlockHash, Certificate, CertificateStatus, ChainId, ChainParams, Checkpoint, Commit,
    CommitSignature, Error, Genesis, Hash32, Header, Keypair, Proposal, ProposalData, TxBody, Validator,
    ValidatorSet, VoteData, VoteKind, ids, merkle,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

const CHAIN: &str = "keepsake-test";
const GENESIS: &str = include_str!("../../../tests/fixtures/certificates/genesis.json");
const CERTIFICATE: &str = include_str!("../../../tests/fixtures/certificates/valid.json");
const STATUS: &str = include_str!("../../../tests/fixtures/certificates/revoked-status.json");
const REVOKED: &str = include_str!("../../../tests/fixtures/certificates/revoked.json");

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// The fixed validator set every decoded commit is verified against.
fn keys() -> Vec<Keypair> {
    (0..4u8).map(|i| Keypair::from_seed([i + 1; 32])).collect()
}

fn validators() -> ValidatorSet {
    ValidatorSet {
        validators: keys()
            .iter()
            .enumerate()
            .map(|(i, k)| Validator { public_key: k.public(), power: 1, name: format!("v{i}") })
            .collect(),
    }
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN.parse().unwrap(),
        genesis_time_ms: 1,
        validators: validators().validators,
        governors: vec![Keypair::from_seed([9; 32]).public()],
        governance_threshold: 1,
        params: ChainParams::default(),
    }
}

/// A block of height 3 with one transaction, and a commit by 3 of the 4 validators.
fn signed_block() -> (Block, Commit) {
    let keys = keys();
    let vs = validators();
    let tx = TxBody::Revoke { certificate_id: keepsake_types::CertificateId([7; 32]), reason: "r".into() }
        .sign(CHAIN, &[&keys[0]]);
    let header = Header {
        chain_id: CHAIN.parse().unwrap(),
        height: 3,
        prev_hash: BlockHash([1; 32]),
        time_ms: 1_000,
        proposer: keys[0].public(),
        tx_count: 1,
        tx_root: Hash32(ids::series_id(CHAIN, &keys[0].public(), "x").0),
        log_size: 9,
        log_root: merkle::empty_root(),
        validators_hash: vs.hash(CHAIN),
        state_root: Hash32([2; 32]),
    };
    let hash = header.hash();
    let data = VoteData { height: 3, round: 0, kind: VoteKind::Precommit, block_hash: Some(hash) };
    let signatures = keys[..3]
        .iter()
        .map(|k| {
            let v = data.clone().sign(CHAIN, k);
            CommitSignature { validator: v.validator, signature: v.signature }
        })
        .collect();
    (Block { header, txs: vec![tx] }, Commit { height: 3, round: 0, block_hash: hash, signatures })
}

fn proposal() -> Proposal {
    let (block, _) = signed_block();
    let data = ProposalData { height: 3, round: 0, pol_round: None, block_hash: block.header.hash() };
    data.sign(CHAIN, &keys()[0], block)
}

/// `bytes` with the first encoded occurrence of the string `old` (its
/// varint length and its bytes) replaced by the encoding of `new`: the
/// bytes a peer would send with another chain id.
fn splice(bytes: &[u8], old: &str, new: &[u8]) -> Vec<u8> {
    let needle = encode(&old.to_string());
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("the old string is encoded");
    let mut out = bytes[..at].to_vec();
    out.extend(varint(new.len() as u64));
    out.extend_from_slice(new);
    out.extend_from_slice(&bytes[at + needle.len()..]);
    out
}

/// postcard's unsigned LEB128 varint.
fn varint(mut n: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Everything a receiver does with a decoded value that carries a chain id:
/// hash every header, verify every commit and signature. Returns nothing:
/// the verdicts do not matter, only that none of it panics.
trait Exercise {
    fn exercise(&self);
}

fn exercise_block(block: &Block, commit: Option<&Commit>) {
    let _ = block.header.hash();
    let vs = validators();
    let _ = vs.hash(&block.header.chain_id);
    if let Some(c) = commit {
        let _ = c.verify(&block.header, &vs);
    }
    for tx in &block.txs {
        let _ = tx.id(&block.header.chain_id);
        let _ = tx.verify_signatures(&block.header.chain_id);
    }
}

impl Exercise for Header {
    fn exercise(&self) {
        let _ = self.hash();
        let (_, commit) = signed_block();
        let _ = commit.verify(self, &validators());
    }
}
impl Exercise for Block {
    fn exercise(&self) {
        exercise_block(self, Some(&signed_block().1));
    }
}
impl Exercise for SyncItem {
    fn exercise(&self) {
        exercise_block(&self.block, Some(&self.commit));
    }
}
impl Exercise for Checkpoint {
    fn exercise(&self) {
        let _ = self.header.hash();
        let _ = self.commit.verify(&self.header, &validators());
    }
}
impl Exercise for Proposal {
    fn exercise(&self) {
        let _ = self.verify(CHAIN);
        let _ = self.verify(&self.block.header.chain_id);
        exercise_block(&self.block, None);
    }
}
impl Exercise for ConsensusMessage {
    fn exercise(&self) {
        match self {
            ConsensusMessage::Proposal(p) => p.exercise(),
            ConsensusMessage::Vote(v) => {
                let _ = v.verify(CHAIN);
            }
        }
    }
}
impl Exercise for ConsensusEnvelope {
    fn exercise(&self) {
        self.message.exercise();
    }
}
impl Exercise for Genesis {
    fn exercise(&self) {
        let _ = self.hash();
        let _ = self.validate();
        let _ = self.validator_set().hash(&self.chain_id);
    }
}

/// One value of each type that carries a chain id, encoded.
fn carriers() -> Vec<(&'static str, Vec<u8>)> {
    let (block, commit) = signed_block();
    let checkpoint = Checkpoint { header: block.header.clone(), commit: commit.clone() };
    let proposal = proposal();
    let envelope =
        ConsensusEnvelope { resend: 2, message: ConsensusMessage::Proposal(Box::new(proposal.clone())) };
    vec![
        ("header", encode(&block.header)),
        ("block", encode(&block)),
        ("sync item", encode(&SyncItem { block, commit })),
        ("checkpoint", encode(&checkpoint)),
        ("proposal", encode(&proposal)),
        ("consensus message", encode(&envelope.message)),
        ("consensus envelope", encode(&envelope)),
        ("genesis", encode(&genesis())),
    ]
}

/// Decodes `bytes` as the carrier `what`, then exercises what decodes.
fn decode_carrier(what: &'static str, bytes: &[u8]) -> Result<(), Error> {
    fn go<T: DeserializeOwned + Exercise>(bytes: &[u8], what: &'static str) -> Result<(), Error> {
        let value: T = decode(bytes, 1 << 20, what)?;
        value.exercise();
        Ok(())
    }
    match what {
        "header" => go::<Header>(bytes, what),
        "block" => go::<Block>(bytes, what),
        "sync item" => go::<SyncItem>(bytes, what),
        "checkpoint" => go::<Checkpoint>(bytes, what),
        "proposal" => go::<Proposal>(bytes, what),
        "consensus message" => go::<ConsensusMessage>(bytes, what),
        "consensus envelope" => go::<ConsensusEnvelope>(bytes, what),
        "genesis" => go::<Genesis>(bytes, what),
        other => unreachable!("no carrier {other}"),
    }
}

/// Chain ids a hostile source may send, with what the refusal must say.
fn bad_chain_ids() -> Vec<(Vec<u8>, &'static str)> {
    vec![
        (Vec::new(), "is empty"),
        (vec![b'a'; 65], "is 65 bytes, over the limit of 64"),
        (vec![b'a'; 255], "is 255 bytes"),
        (vec![b'a'; 256], "is 256 bytes"),
        (vec![b'x'; 300], "is 300 bytes"),
        (vec![b'z'; 70_000], "is 70000 bytes"),
        (b"Keepsake-Test".to_vec(), "has 'K' at byte 0"),
        ("caf\u{e9}".as_bytes().to_vec(), "has '\u{e9}' at byte 3"),
        (b"a/b".to_vec(), "has '/' at byte 1"),
    ]
}

#[test]
fn every_binary_decoder_refuses_invalid_chain_ids_with_the_rule() {
    for (what, bytes) in carriers() {
        decode_carrier(what, &bytes).unwrap_or_else(|e| panic!("the valid {what} decodes: {e}"));
        // The longest valid chain id decodes, hashes and verifies.
        decode_carrier(what, &splice(&bytes, CHAIN, &[b'a'; 64])).expect("a 64-byte chain id is valid");
        for (bad, says) in bad_chain_ids() {
            let err = decode_carrier(what, &splice(&bytes, CHAIN, &bad)).unwrap_err();
            let Error::Malformed { what: got, reason } = &err else { panic!("{what}: {err:?}") };
            assert_eq!(*got, what);
            assert!(reason.contains(says), "{what}, {} bytes: {reason}", bad.len());
            assert!(reason.contains("a chain id is 1 to 64 bytes of lowercase letters, digits and '-'"));
            assert!(reason.len() < 300, "the message quotes a bounded prefix: {reason}");
        }
        // Invalid UTF-8 where the chain id is: refused by postcard itself.
        let err = decode_carrier(what, &splice(&bytes, CHAIN, &[0xc3, 0x28])).unwrap_err();
        assert_eq!(err.code(), "Malformed", "{what}");
    }
}

/// A JSON document with the string at `path` replaced by `chain_id`.
fn with_chain_id(json: &str, path: &[&str], chain_id: &str) -> String {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut slot = &mut value;
    for key in path {
        slot = &mut slot[*key];
    }
    assert!(slot.is_string(), "{path:?} is a string");
    *slot = serde_json::json!(chain_id);
    value.to_string()
}

#[test]
fn every_json_decoder_refuses_invalid_chain_ids_with_the_rule() {
    let (block, commit) = signed_block();
    let block_json = serde_json::to_string(&block).unwrap();
    let sync_json = serde_json::to_string(&SyncItem { block, commit }).unwrap();
    for (bad, says) in bad_chain_ids() {
        let Ok(bad) = String::from_utf8(bad) else { continue };
        let rule = "a chain id is 1 to 64 bytes";
        let text = with_chain_id(&block_json, &["header", "chain_id"], &bad);
        let err = serde_json::from_str::<Block>(&text).unwrap_err().to_string();
        assert!(err.contains(says) && err.contains(rule), "{err}");
        let text = with_chain_id(&sync_json, &["block", "header", "chain_id"], &bad);
        assert!(serde_json::from_str::<SyncItem>(&text).unwrap_err().to_string().contains(says));

        // The files a user hands in: a genesis, a certificate (either chain id), a status answer.
        let err = Genesis::from_json(&with_chain_id(GENESIS, &["chain_id"], &bad)).unwrap_err();
        assert_eq!(err.code(), "InvalidGenesis");
        assert!(err.to_string().contains(says), "{err}");
        for path in [&["chain_id"][..], &["checkpoint", "header", "chain_id"]] {
            let err = Certificate::from_json(&with_chain_id(CERTIFICATE, path, &bad)).unwrap_err();
            assert_eq!(err.code(), "Malformed", "{path:?}");
            assert!(err.to_string().contains(says) && err.to_string().contains(rule), "{err}");
        }
        let text = with_chain_id(STATUS, &["checkpoint", "header", "chain_id"], &bad);
        assert!(serde_json::from_str::<CertificateStatus>(&text).unwrap_err().to_string().contains(says));
    }
}

#[test]
fn a_valid_but_foreign_chain_id_is_a_verdict_not_a_decoding_error() {
    let genesis = Genesis::from_json(GENESIS).unwrap();
    let foreign = "a".repeat(64);
    for path in [&["chain_id"][..], &["checkpoint", "header", "chain_id"]] {
        let cert = Certificate::from_json(&with_chain_id(CERTIFICATE, path, &foreign)).unwrap();
        assert_eq!(cert.verify(&genesis).unwrap_err().code(), "WrongChain", "{path:?}");
    }
    let cert = Certificate::from_json(REVOKED).unwrap().verify(&genesis).unwrap();
    let status: CertificateStatus =
        serde_json::from_str(&with_chain_id(STATUS, &["checkpoint", "header", "chain_id"], &foreign))
            .unwrap();
    assert_eq!(status.verify(&genesis, &cert).unwrap_err().code(), "WrongChain");
}

/// Any text as a chain id, biased to the interesting lengths around the limits.
fn any_chain_id_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{0,70}",
        ".{0,80}",
        (0usize..400, any::<char>()).prop_map(|(n, c)| c.to_string().repeat(n)),
        (60usize..70).prop_map(|n| "a".repeat(n)),
        (250usize..260).prop_map(|n| "b".repeat(n)),
    ]
}

/// How a valid encoding is damaged: bytes set, flipped, inserted, removed.
fn damage() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec((any::<usize>(), 0u8..4, any::<u8>()), 1..6)
}

fn apply_damage(mut bytes: Vec<u8>, damage: &[(usize, u8, u8)]) -> Vec<u8> {
    for &(at, op, byte) in damage {
        let n = bytes.len();
        match op {
            0 if n > 0 => bytes[at % n] = byte,
            1 if n > 0 => bytes[at % n] ^= 1 << (byte % 8),
            2 => bytes.insert(at % (n + 1), byte),
            _ if n > 0 => {
                bytes.remove(at % n);
            }
            _ => {}
        }
    }
    bytes
}

fn check_json_round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let json = serde_json::to_string(value).unwrap();
    assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value);
}

proptest! {
    #![proptest_config(config())]

    /// A chain id of any length and content in a valid sync item (and in
    /// every other carrier): decodes exactly when it follows the rule, and
    /// then the header hashes and the commit verifies; otherwise `Malformed`.
    #[test]
    fn any_chain_id_decodes_only_when_valid_and_then_hashes(text in any_chain_id_text()) {
        let valid = ChainId::new(text.as_str()).is_ok();
        for (what, bytes) in carriers() {
            let result = decode_carrier(what, &splice(&bytes, CHAIN, text.as_bytes()));
            match result {
                Ok(()) => prop_assert!(valid, "{what} accepted chain id {text:?}"),
                Err(e) => {
                    prop_assert!(!valid, "{what} refused valid chain id {text:?}: {e}");
                    prop_assert_eq!(e.code(), "Malformed");
                }
            }
        }
    }

    /// Any varint where the chain id's length prefix is: refused or decoded,
    /// never a panic, never a read past the input.
    #[test]
    fn any_chain_id_length_prefix_is_refused_cleanly(len in prop_oneof![
        any::<u64>(), 0u64..300, Just(u64::MAX), Just(u64::from(u32::MAX) + 1)
    ]) {
        for (what, bytes) in carriers() {
            let needle = encode(&CHAIN.to_string());
            let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap();
            let mut hostile = bytes[..at].to_vec();
            hostile.extend(varint(len));
            hostile.extend_from_slice(&bytes[at + 1..]);
            if let Err(e) = decode_carrier(what, &hostile) {
                prop_assert_eq!(e.code(), "Malformed");
            }
        }
    }

    /// Damaged encodings of signed values: whatever decodes hashes and
    /// verifies without panicking, and a header that still decodes but
    /// differs from the signed one never verifies against the original commit.
    #[test]
    fn damaged_signed_values_hash_and_verify_without_panicking(damage in damage()) {
        let (block, commit) = signed_block();
        let vs = validators();
        for (what, bytes) in carriers() {
            let _ = decode_carrier(what, &apply_damage(bytes, &damage));
        }
        let item = encode(&SyncItem { block: block.clone(), commit: commit.clone() });
        if let Ok(got) = decode::<SyncItem>(&apply_damage(item, &damage), 1 << 20, "sync item") {
            let verdict = got.commit.verify(&got.block.header, &vs);
            if got.block.header != block.header && got.commit == commit {
                prop_assert!(verdict.is_err(), "a changed header verified");
            }
            check_json_round_trip(&got);
        }
    }

    /// A certificate file with any chain id, in either place: refused while
    /// parsing unless the id follows the rule; verified (to `WrongChain`
    /// unless it is the genesis' own) otherwise. Never a panic.
    #[test]
    fn certificate_files_with_any_chain_id_never_panic(text in any_chain_id_text(), inner in any::<bool>()) {
        let genesis = Genesis::from_json(GENESIS).unwrap();
        let path: &[&str] = if inner { &["checkpoint", "header", "chain_id"] } else { &["chain_id"] };
        match Certificate::from_json(&with_chain_id(CERTIFICATE, path, &text)) {
            Ok(cert) => {
                prop_assert!(ChainId::new(text.as_str()).is_ok());
                let verdict = cert.verify(&genesis);
                if text == CHAIN {
                    prop_assert!(verdict.is_ok());
                } else {
                    prop_assert_eq!(verdict.unwrap_err().code(), "WrongChain");
                }
            }
            Err(e) => {
                prop_assert!(ChainId::new(text.as_str()).is_err());
                prop_assert_eq!(e.code(), "Malformed");
            }
        }
    }
}
