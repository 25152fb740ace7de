//! The shared ed25519 vectors (`tests/fixtures/ed25519/vectors.json`, also
//! run by the browser verifier): for every vector, verification alone
//! (`PublicKey::verify_message`), the vector alone in a `SignatureBatch`, and
//! all vectors together in one batch (`verify_each`) give the file's `zip215`
//! verdict.

use std::path::PathBuf;

use keepsake_types::{PublicKey, Signature, SignatureBatch};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    about: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vector {
    name: String,
    source: String,
    message: String,
    public_key: String,
    signature: String,
    zip215: bool,
}

/// A vector decoded: the message, key and signature bytes.
struct Case {
    name: String,
    message: Vec<u8>,
    key: PublicKey,
    signature: Signature,
    expected: bool,
}

fn load() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ed25519/vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: VectorFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!file.about.is_empty(), "the file says what it is");
    assert!(!file.vectors.is_empty(), "the file has vectors");
    file.vectors
        .into_iter()
        .map(|v| {
            let bytes = |field: &str, text: &str| {
                hex::decode(text).unwrap_or_else(|e| panic!("vector {:?}: {field}: {e}", v.name))
            };
            let key: [u8; 32] = bytes("public_key", &v.public_key)
                .try_into()
                .unwrap_or_else(|b: Vec<u8>| panic!("vector {:?}: public_key is {} bytes", v.name, b.len()));
            let signature: [u8; 64] = bytes("signature", &v.signature)
                .try_into()
                .unwrap_or_else(|b: Vec<u8>| panic!("vector {:?}: signature is {} bytes", v.name, b.len()));
            assert!(!v.source.is_empty(), "vector {:?} names its source", v.name);
            Case {
                message: bytes("message", &v.message),
                name: v.name,
                key: PublicKey(key),
                signature: Signature(signature),
                expected: v.zip215,
            }
        })
        .collect()
}

#[test]
fn every_vector_verifies_as_zip215_says_alone_and_in_batches() {
    let cases = load();
    let mut together = SignatureBatch::with_capacity(cases.len());
    for c in &cases {
        let single = c.key.verify_message(&c.message, &c.signature, "vector");
        assert_eq!(single.is_ok(), c.expected, "vector {:?} alone: {single:?}", c.name);
        let mut alone = SignatureBatch::new();
        alone.push(&c.key, &c.message, &c.signature);
        assert_eq!(alone.verify(), c.expected, "vector {:?} in a batch of one", c.name);
        if let Ok(prepared) = c.key.prepare() {
            let mut alone = SignatureBatch::new();
            alone.push_prepared(&prepared, &c.message, &c.signature);
            assert_eq!(alone.verify(), c.expected, "vector {:?} with a prepared key", c.name);
        }
        together.push(&c.key, &c.message, &c.signature);
    }
    let verdicts = together.verify_each();
    for (c, verdict) in cases.iter().zip(&verdicts) {
        assert_eq!(*verdict, c.expected, "vector {:?} among all the vectors", c.name);
    }
    assert_eq!(together.verify(), cases.iter().all(|c| c.expected));
}
