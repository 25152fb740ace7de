//! Property tests of every decoder that sees untrusted bytes (stable Rust;
//! the cargo-fuzz targets of `fuzz/` cover the same decoders on nightly).
//!
//! For each type decoded with [`encoding::decode`] / [`encoding::decode_canonical`]
//! (peers' transactions, blocks, consensus messages and sync items, stored
//! records, certificate log leaves):
//!
//! - arbitrary bytes, and mutations of valid encodings, never panic; the size
//!   limit is enforced before decoding (`TooLarge` exactly when over it);
//! - whatever decodes re-encodes to bytes that decode to the same value, and
//!   `decode_canonical` accepts exactly the inputs equal to that re-encoding;
//! - generated values round-trip (binary and JSON).
//!
//! The JSON parsers of files a user hands in (`Certificate::from_json`,
//! `Genesis::from_json`) never panic on arbitrary or mutated text, and a
//! mutated certificate that parses to a different value never verifies.
//!
//! 256 cases per property by default; set `PROPTEST_CASES` for long runs
//! (`PROPTEST_CASES=20000 cargo test --release -p keepsake-types --test decoders`).

use std::fmt::Debug;

use keepsake_types::encoding::{decode, decode_canonical, encode};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage, SyncItem};
use keepsake_types::{
    Block, BlockHash, Certificate, CertificateId, ChainId, Commit, CommitSignature, ContentHash, DoubleVote,
    Error, Genesis, Hash32, Header, HolderId, IssuerStatus, LogLeaf, Proposal, ProposalData, PublicKey,
    ReviewApproval, SeriesId, Signature, SignedTx, TxBody, TxSignature, Vote, VoteData, VoteKind,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `PROPTEST_CASES` if set, else 256.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------
// Strategies (kept small: short strings and vectors).

fn bytes32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn key() -> impl Strategy<Value = PublicKey> {
    bytes32().prop_map(PublicKey)
}

fn signature() -> impl Strategy<Value = Signature> {
    prop::collection::vec(any::<u8>(), 64).prop_map(|v| Signature(v.try_into().expect("64 bytes")))
}

fn hash() -> impl Strategy<Value = Hash32> {
    bytes32().prop_map(Hash32)
}

fn block_hash() -> impl Strategy<Value = BlockHash> {
    bytes32().prop_map(BlockHash)
}

/// Short strings of any Unicode, including control characters and the empty string.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "[a-z0-9-]{0,8}"]
}

/// Integers biased towards varint boundaries.
fn int_u64() -> impl Strategy<Value = u64> {
    prop_oneof![any::<u64>(), 0u64..300, Just(u64::MAX), (0u32..64).prop_map(|s| 1u64 << s)]
}

fn int_u32() -> impl Strategy<Value = u32> {
    prop_oneof![any::<u32>(), 0u32..300, Just(u32::MAX), (0u32..32).prop_map(|s| 1u32 << s)]
}

fn tx_body() -> impl Strategy<Value = TxBody> {
    prop_oneof![
        (key(), text(), int_u64()).prop_map(|(issuer, name, nonce)| TxBody::RegisterIssuer {
            issuer,
            name,
            nonce
        }),
        (key(), any::<bool>(), int_u64()).prop_map(|(issuer, active, nonce)| TxBody::SetIssuerStatus {
            issuer,
            status: if active { IssuerStatus::Active } else { IssuerStatus::Suspended },
            nonce
        }),
        (key(), text(), int_u64()).prop_map(|(reviewer, name, nonce)| TxBody::RegisterReviewer {
            reviewer,
            name,
            nonce
        }),
        (key(), int_u64()).prop_map(|(reviewer, nonce)| TxBody::RemoveReviewer { reviewer, nonce }),
        (key(), text(), bytes32(), int_u32(), text(), key(), signature()).prop_map(
            |(issuer, name, content, max_supply, metadata_uri, reviewer, signature)| TxBody::CreateSeries {
                issuer,
                name,
                content_hash: ContentHash(content),
                max_supply,
                metadata_uri,
                approval: ReviewApproval { reviewer, signature },
            }
        ),
        (bytes32(), int_u32(), bytes32()).prop_map(|(s, edition, h)| TxBody::Mint {
            series_id: SeriesId(s),
            edition,
            holder: HolderId(h)
        }),
        (bytes32(), text())
            .prop_map(|(c, reason)| TxBody::Revoke { certificate_id: CertificateId(c), reason }),
        (bytes32(), bytes32())
            .prop_map(|(c, h)| TxBody::Transfer { certificate_id: CertificateId(c), to: HolderId(h) }),
    ]
}

fn signed_tx() -> impl Strategy<Value = SignedTx> {
    let sig = (key(), signature()).prop_map(|(signer, signature)| TxSignature { signer, signature });
    (tx_body(), prop::collection::vec(sig, 0..3)).prop_map(|(body, signatures)| SignedTx { body, signatures })
}

/// Valid chain ids, from 1 byte to the limit.
fn chain_id() -> impl Strategy<Value = ChainId> {
    "[a-z0-9-]{1,64}".prop_map(|s| ChainId::new(s).expect("the pattern follows the chain id rule"))
}

fn header() -> impl Strategy<Value = Header> {
    (
        (chain_id(), int_u64(), block_hash(), int_u64(), key(), int_u32()),
        (hash(), int_u64(), hash(), hash(), hash()),
    )
        .prop_map(
            |(
                (chain_id, height, prev_hash, time_ms, proposer, tx_count),
                (tx_root, log_size, log_root, validators_hash, state_root),
            )| Header {
                chain_id,
                height,
                prev_hash,
                time_ms,
                proposer,
                tx_count,
                tx_root,
                log_size,
                log_root,
                validators_hash,
                state_root,
            },
        )
}

fn block() -> impl Strategy<Value = Block> {
    (header(), prop::collection::vec(signed_tx(), 0..3)).prop_map(|(header, txs)| Block { header, txs })
}

fn vote_data() -> impl Strategy<Value = VoteData> {
    (int_u64(), int_u32(), any::<bool>(), prop::option::of(block_hash())).prop_map(
        |(height, round, pre, block_hash)| VoteData {
            height,
            round,
            kind: if pre { VoteKind::Prevote } else { VoteKind::Precommit },
            block_hash,
        },
    )
}

fn vote() -> impl Strategy<Value = Vote> {
    (vote_data(), key(), signature()).prop_map(|(data, validator, signature)| Vote {
        data,
        validator,
        signature,
    })
}

fn commit() -> impl Strategy<Value = Commit> {
    let sig =
        (key(), signature()).prop_map(|(validator, signature)| CommitSignature { validator, signature });
    (int_u64(), int_u32(), block_hash(), prop::collection::vec(sig, 0..4))
        .prop_map(|(height, round, block_hash, signatures)| Commit { height, round, block_hash, signatures })
}

fn proposal() -> impl Strategy<Value = Proposal> {
    let data = (int_u64(), int_u32(), prop::option::of(int_u32()), block_hash()).prop_map(
        |(height, round, pol_round, block_hash)| ProposalData { height, round, pol_round, block_hash },
    );
    (data, key(), signature(), block()).prop_map(|(data, proposer, signature, block)| Proposal {
        data,
        proposer,
        signature,
        block: block.into(),
    })
}

fn log_leaf() -> impl Strategy<Value = LogLeaf> {
    (int_u64(), int_u64(), signed_tx()).prop_map(|(height, time_ms, tx)| LogLeaf { height, time_ms, tx })
}

fn double_vote() -> impl Strategy<Value = DoubleVote> {
    (vote(), vote()).prop_map(|(first, second)| DoubleVote { first, second })
}

fn consensus_message() -> impl Strategy<Value = ConsensusMessage> {
    prop_oneof![
        proposal().prop_map(|p| ConsensusMessage::Proposal(Box::new(p))),
        vote().prop_map(ConsensusMessage::Vote),
    ]
}

fn consensus_envelope() -> impl Strategy<Value = ConsensusEnvelope> {
    (int_u32(), consensus_message()).prop_map(|(resend, message)| ConsensusEnvelope { resend, message })
}

fn sync_item() -> impl Strategy<Value = SyncItem> {
    (block(), commit()).prop_map(|(block, commit)| SyncItem { block, commit })
}

/// Arbitrary bytes, biased towards the small values (0, 1, 2) that postcard
/// reads as enum tags, `Option` tags, booleans and short lengths, so that
/// decoding gets further than the first byte more often.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![any::<u8>(), 0u8..3, Just(0x80), Just(0xff)], 0..400)
}

/// How a valid encoding is damaged.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, bit: u8 },
    Set { at: usize, byte: u8 },
    Truncate { at: usize },
    Insert { at: usize, byte: u8 },
    Append(Vec<u8>),
    Remove { at: usize },
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let one = prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), prop_oneof![any::<u8>(), Just(0x80), Just(0xff), Just(0)])
            .prop_map(|(at, byte)| Mutation::Set { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        prop::collection::vec(any::<u8>(), 1..4).prop_map(Mutation::Append),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ];
    prop::collection::vec(one, 1..4)
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len();
        match m {
            Mutation::Flip { at, bit } if n > 0 => bytes[at % n] ^= 1 << bit,
            Mutation::Set { at, byte } if n > 0 => bytes[at % n] = *byte,
            Mutation::Truncate { at } => bytes.truncate(at % (n + 1)),
            Mutation::Insert { at, byte } => bytes.insert(at % (n + 1), *byte),
            Mutation::Append(tail) => bytes.extend_from_slice(tail),
            Mutation::Remove { at } if n > 0 => {
                bytes.remove(at % n);
            }
            _ => {}
        }
    }
    bytes
}

// ---------------------------------------------------------------------------
// The properties, generic over the decoded type.

/// (a) and (b): decoding `bytes` under `max_len` never panics; over the limit
/// it is `TooLarge` before anything is decoded; a decoded value re-encodes to
/// bytes that decode to the same value; `decode_canonical` accepts exactly
/// the inputs that equal that re-encoding.
fn check_untrusted<T>(bytes: &[u8], max_len: usize) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let plain = decode::<T>(bytes, max_len, "untrusted");
    let canonical = decode_canonical::<T>(bytes, max_len, "untrusted");
    if bytes.len() > max_len {
        let too_large = Error::TooLarge { what: "untrusted", len: bytes.len(), max: max_len };
        prop_assert_eq!(plain.as_ref().err(), Some(&too_large));
        prop_assert_eq!(canonical.as_ref().err(), Some(&too_large));
        // Under a limit that admits the bytes, the remaining properties still hold.
        return check_untrusted::<T>(bytes, usize::MAX);
    }
    for r in [&plain, &canonical] {
        if let Err(e) = r {
            prop_assert!(matches!(e, Error::Malformed { what: "untrusted", .. }), "unexpected error {e:?}");
        }
    }
    match plain {
        Ok(value) => {
            let again = encode(&value);
            // Re-encoding is a fixed point: it decodes, canonically, to the same value.
            prop_assert_eq!(&decode::<T>(&again, again.len(), "again").expect("re-encoding decodes"), &value);
            prop_assert_eq!(
                &decode_canonical::<T>(&again, again.len(), "again").expect("re-encoding is canonical"),
                &value
            );
            match canonical {
                Ok(c) => {
                    prop_assert_eq!(&c, &value);
                    prop_assert_eq!(&again[..], bytes, "decode_canonical accepted a non-canonical input");
                }
                Err(_) => prop_assert_ne!(&again[..], bytes, "decode_canonical refused its own encoding"),
            }
        }
        Err(_) => prop_assert!(canonical.is_err(), "decode_canonical accepted what decode refuses"),
    }
    Ok(())
}

/// (c): a value round-trips through the canonical encoding (under a limit of
/// exactly its length, refused one byte below) and through JSON.
fn check_round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = encode(value);
    prop_assert_eq!(&decode::<T>(&bytes, bytes.len(), "value").expect("decodes"), value);
    prop_assert_eq!(&decode_canonical::<T>(&bytes, bytes.len(), "value").expect("canonical"), value);
    let too_large = Error::TooLarge { what: "value", len: bytes.len(), max: bytes.len() - 1 };
    prop_assert_eq!(decode::<T>(&bytes, bytes.len() - 1, "value").err(), Some(too_large));
    // Every strict prefix is refused (no object is a prefix of another's encoding).
    let cut = bytes.len() / 2;
    prop_assert!(decode::<T>(&bytes[..cut], usize::MAX, "prefix").is_err());
    // JSON (RPC, files) is another representation of the same value.
    let json = serde_json::to_string(value).expect("serialises to JSON");
    prop_assert_eq!(&serde_json::from_str::<T>(&json).expect("JSON round-trips"), value);
    Ok(())
}

/// Three properties per decoded type: arbitrary bytes, mutated valid
/// encodings, round trip of generated values.
macro_rules! decoder_properties {
    ($($module:ident: $ty:ty = $strategy:expr;)*) => {$(
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn arbitrary_bytes(bytes in hostile_bytes(), max_len in 0usize..500) {
                    check_untrusted::<$ty>(&bytes, max_len)?;
                }

                #[test]
                fn mutated_encodings(value in $strategy, mutations in mutations()) {
                    let bytes = mutate(encode(&value), &mutations);
                    check_untrusted::<$ty>(&bytes, usize::MAX)?;
                }

                #[test]
                fn round_trip(value in $strategy) {
                    check_round_trip::<$ty>(&value)?;
                }
            }
        }
    )*};
}

decoder_properties! {
    signed_tx_props: SignedTx = signed_tx();
    tx_body_props: TxBody = tx_body();
    block_props: Block = block();
    header_props: Header = header();
    commit_props: Commit = commit();
    vote_props: Vote = vote();
    proposal_props: Proposal = proposal();
    log_leaf_props: LogLeaf = log_leaf();
    double_vote_props: DoubleVote = double_vote();
    consensus_envelope_props: ConsensusEnvelope = consensus_envelope();
    consensus_message_props: ConsensusMessage = consensus_message();
    sync_item_props: SyncItem = sync_item();
}

// ---------------------------------------------------------------------------
// Specific hostile shapes.

/// An over-long varint (a redundant `0x80` group) is refused by
/// `decode_canonical`; `decode` either refuses it or reads the same value.
#[test]
fn overlong_varints_are_not_canonical() {
    let vote = VoteData { height: 5, round: 1, kind: VoteKind::Prevote, block_hash: None };
    let bytes = encode(&vote);
    assert_eq!(bytes, [5, 1, 0, 0]);
    for overlong in [vec![0x85, 0x00, 1, 0, 0], vec![5, 0x81, 0x80, 0x00, 0, 0]] {
        assert!(decode_canonical::<VoteData>(&overlong, 64, "vote").is_err(), "{overlong:x?}");
        if let Ok(v) = decode::<VoteData>(&overlong, 64, "vote") {
            assert_eq!(v, vote);
        }
    }
    // A u32 varint that does not fit 32 bits, a u64 varint of 11 bytes: refused.
    assert!(decode::<VoteData>(&[5, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0], 64, "vote").is_err());
    let mut long = vec![0xff; 10];
    long.extend([0x01, 0, 0, 0]);
    assert!(decode::<VoteData>(&long, 64, "vote").is_err());
    // Option and bool tags other than 0/1, an enum index out of range: refused.
    assert!(decode::<VoteData>(&[5, 1, 0, 2], 64, "vote").is_err());
    assert!(decode::<VoteData>(&[5, 1, 2, 0], 64, "vote").is_err());
    assert!(decode::<TxBody>(&[8], 64, "tx body").is_err());
}

/// A length prefix far beyond the input (2^63 signatures, a 4 GiB string)
/// is refused without allocating it.
#[test]
fn huge_length_prefixes_are_refused_without_allocating() {
    let tx = SignedTx {
        body: TxBody::Revoke { certificate_id: CertificateId([1; 32]), reason: "r".into() },
        signatures: vec![],
    };
    let mut bytes = encode(&tx);
    assert_eq!(bytes.pop(), Some(0), "the signature count is the last byte");
    let mut huge_count = bytes.clone();
    huge_count.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert!(decode::<SignedTx>(&huge_count, 4096, "tx").is_err());
    let mut huge_string = vec![6];
    huge_string.extend([1; 32]);
    huge_string.extend([0xff, 0xff, 0xff, 0xff, 0x0f, b'r']);
    assert!(decode::<TxBody>(&huge_string, 4096, "tx").is_err());
    // Invalid UTF-8 in a string.
    let mut bad_utf8 = vec![6];
    bad_utf8.extend([1; 32]);
    bad_utf8.extend([2, 0xc3, 0x28]);
    assert!(decode::<TxBody>(&bad_utf8, 4096, "tx").is_err());
}

// ---------------------------------------------------------------------------
// JSON parsers of files a user hands in.

const GENESIS: &str = include_str!("../../../tests/fixtures/certificates/genesis.json");
const CERTIFICATE: &str = include_str!("../../../tests/fixtures/certificates/valid.json");

/// Characters that make JSON mutations interesting.
fn json_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '{', '}', '[', ']', '"', ':', ',', '0', '1', '9', '-', 'e', '.', 'a', 'f', ' '
        ]),
        any::<char>(),
    ]
}

#[derive(Clone, Debug)]
enum TextMutation {
    Replace { at: usize, with: char },
    Delete { at: usize, len: usize },
    Insert { at: usize, with: char },
}

fn text_mutations() -> impl Strategy<Value = Vec<TextMutation>> {
    let one = prop_oneof![
        (any::<usize>(), json_char()).prop_map(|(at, with)| TextMutation::Replace { at, with }),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| TextMutation::Delete { at, len }),
        (any::<usize>(), json_char()).prop_map(|(at, with)| TextMutation::Insert { at, with }),
    ];
    prop::collection::vec(one, 1..4)
}

fn mutate_text(text: &str, mutations: &[TextMutation]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for m in mutations {
        let n = chars.len();
        match *m {
            TextMutation::Replace { at, with } if n > 0 => chars[at % n] = with,
            TextMutation::Delete { at, len } if n > 0 => {
                let start = at % n;
                chars.drain(start..(start + len).min(n));
            }
            TextMutation::Insert { at, with } => chars.insert(at % (n + 1), with),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

#[test]
fn the_fixtures_parse_and_verify() {
    let genesis = Genesis::from_json(GENESIS).expect("golden genesis");
    Certificate::from_json(CERTIFICATE).expect("golden certificate").verify(&genesis).expect("verifies");
}

#[test]
fn oversized_certificate_files_are_refused_before_parsing() {
    let max = keepsake_types::certificate::CERTIFICATE_FILE_MAX;
    let text = format!("{CERTIFICATE}{}", " ".repeat(max + 1 - CERTIFICATE.len()));
    assert_eq!(
        Certificate::from_json(&text).unwrap_err(),
        Error::TooLarge { what: "certificate file", len: max + 1, max }
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Certificate::from_json(&deep).is_err());
    assert!(Genesis::from_json(&deep).is_err());
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn certificate_from_json_never_panics_on_arbitrary_text(text in any::<String>()) {
        prop_assert!(Certificate::from_json(&text).is_err());
    }

    #[test]
    fn genesis_from_json_never_panics_on_arbitrary_text(text in any::<String>()) {
        prop_assert!(Genesis::from_json(&text).is_err());
    }

    /// A mutated certificate file: parsing and verifying never panic, and a
    /// file that parses to any other value than the original never verifies.
    #[test]
    fn mutated_certificates_never_verify_unless_unchanged(mutations in text_mutations()) {
        let genesis = Genesis::from_json(GENESIS).expect("golden genesis");
        let original = Certificate::from_json(CERTIFICATE).expect("golden certificate");
        let text = mutate_text(CERTIFICATE, &mutations);
        if let Ok(cert) = Certificate::from_json(&text) {
            let verdict = cert.verify(&genesis);
            if cert == original {
                prop_assert!(verdict.is_ok());
            } else {
                prop_assert!(verdict.is_err(), "a changed certificate verified: {:?}", cert);
            }
        }
    }

    /// A mutated genesis file: parsing never panics; what parses is valid and
    /// re-parses from its own JSON to the same value.
    #[test]
    fn mutated_genesis_files_parse_only_when_valid(mutations in text_mutations()) {
        let text = mutate_text(GENESIS, &mutations);
        if let Ok(g) = Genesis::from_json(&text) {
            prop_assert!(g.validate().is_ok());
            let json = serde_json::to_string(&g).expect("serialises");
            prop_assert_eq!(Genesis::from_json(&json).expect("re-parses"), g);
        }
    }

    /// Mutated JSON of a transaction (what `keepsake_submitTx` parses): never
    /// panics; what parses re-serialises to JSON that parses to the same value.
    #[test]
    fn mutated_transaction_json_never_panics(tx in signed_tx(), mutations in text_mutations()) {
        let text = mutate_text(&serde_json::to_string(&tx).expect("serialises"), &mutations);
        if let Ok(parsed) = serde_json::from_str::<SignedTx>(&text) {
            let json = serde_json::to_string(&parsed).expect("serialises");
            prop_assert_eq!(serde_json::from_str::<SignedTx>(&json).expect("re-parses"), parsed);
        }
    }
}
