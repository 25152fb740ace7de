//! Checks shared by the fuzz targets: the same properties as the stable
//! property tests of `crates/types/tests/decoders.rs`, as panics (which
//! libFuzzer reports as crashes).

use keepsake_types::Error;
use keepsake_types::encoding::{decode, decode_canonical, encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes `bytes` as a `T` under `max_len`, with `decode` and
/// `decode_canonical`, and checks:
///
/// - over the limit, both answer `TooLarge` (before decoding);
/// - every other error is `Malformed`;
/// - a decoded value re-encodes to bytes that decode (canonically) to the same value;
/// - `decode_canonical` accepts exactly the inputs equal to that re-encoding.
pub fn check_decoder<T>(bytes: &[u8], max_len: usize)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let plain = decode::<T>(bytes, max_len, "fuzz");
    let canonical = decode_canonical::<T>(bytes, max_len, "fuzz");
    if bytes.len() > max_len {
        let too_large = Error::TooLarge { what: "fuzz", len: bytes.len(), max: max_len };
        assert_eq!(plain.err(), Some(too_large.clone()));
        assert_eq!(canonical.err(), Some(too_large));
        return;
    }
    for e in [plain.as_ref().err(), canonical.as_ref().err()].into_iter().flatten() {
        assert!(matches!(e, Error::Malformed { what: "fuzz", .. }), "unexpected error {e:?}");
    }
    match plain {
        Ok(value) => {
            let again = encode(&value);
            assert_eq!(decode::<T>(&again, again.len(), "again").expect("re-encoding decodes"), value);
            assert_eq!(
                decode_canonical::<T>(&again, again.len(), "again").expect("re-encoding is canonical"),
                value
            );
            match canonical {
                Ok(c) => {
                    assert_eq!(c, value);
                    assert_eq!(again, bytes, "decode_canonical accepted a non-canonical input");
                }
                Err(_) => assert_ne!(again, bytes, "decode_canonical refused its own encoding"),
            }
        }
        Err(_) => assert!(canonical.is_err(), "decode_canonical accepted what decode refuses"),
    }
}

/// Splits a fuzz input into a size limit (first two bytes, little endian) and
/// the bytes to decode, so that the limit check is fuzzed too. Inputs shorter
/// than two bytes use no limit.
pub fn limit_and_bytes(data: &[u8]) -> (usize, &[u8]) {
    match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => (usize::MAX, data),
    }
}

/// The genesis of the golden test chain (`tests/fixtures/certificates/`):
/// the validator set decoded commits are verified against.
pub fn golden_genesis() -> &'static keepsake_types::Genesis {
    static GENESIS: std::sync::OnceLock<keepsake_types::Genesis> = std::sync::OnceLock::new();
    GENESIS.get_or_init(|| {
        keepsake_types::Genesis::from_json(include_str!("../../tests/fixtures/certificates/genesis.json"))
            .expect("golden genesis")
    })
}

/// What a receiver does with a decoded block and commit (block sync, the
/// auditor): hash the header, verify the commit against the golden
/// validator set, compute and verify every transaction's id and signatures
/// under the header's own chain id and the golden one. The verdicts do not
/// matter; none of it may panic, whatever the decoded values are.
pub fn exercise_block(block: &keepsake_types::Block, commit: &keepsake_types::Commit) {
    let genesis = golden_genesis();
    let validators = genesis.validator_set();
    let header = &block.header;
    let _ = header.hash();
    let _ = validators.hash(&header.chain_id);
    let _ = commit.verify(header, &validators);
    for chain in [header.chain_id.as_str(), genesis.chain_id.as_str()] {
        for tx in &block.txs {
            let _ = tx.id(chain);
            let _ = tx.verify_signatures(chain);
            if let Some(creation) = tx.body.series_creation() {
                let _ = creation.verify_approval(chain);
            }
        }
    }
}
