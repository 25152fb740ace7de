//! SHA-256 with domain separation.
//!
//! Every hashed or signed object has its own tag ([`tag`]). The preimage of a
//! domain hash, and the message of a domain signature, is
//!
//! ```text
//! u8(len(tag)) || tag || u8(len(chain_id)) || chain_id || canonical bytes
//! ```
//!
//! so nothing hashed or signed for one purpose or one chain is valid for
//! another. Merkle log hashes are the exception: they follow RFC 9162 exactly
//! (see [`crate::merkle`]), and are bound to a chain through the header.

use sha2::{Digest, Sha256};

crate::fixed_bytes!(
    /// A SHA-256 digest.
    Hash32,
    32
);

/// Domain tags. Never change one: the bytes of every signature depend on it.
pub mod tag {
    /// Transaction id and transaction signatures.
    pub const TX: &str = "keepsake/tx/v1";
    /// Block header hash (what precommits sign, through the vote).
    pub const HEADER: &str = "keepsake/header/v1";
    /// Consensus votes (prevote, precommit).
    pub const VOTE: &str = "keepsake/vote/v1";
    /// Consensus proposals.
    pub const PROPOSAL: &str = "keepsake/proposal/v1";
    /// A reviewer's content approval of a series.
    pub const REVIEW: &str = "keepsake/review/v1";
    /// Series id derivation.
    pub const SERIES_ID: &str = "keepsake/series-id/v1";
    /// Certificate id derivation.
    pub const CERTIFICATE_ID: &str = "keepsake/certificate-id/v1";
    /// Holder commitment (chain-independent: the chain id part is empty).
    pub const HOLDER: &str = "keepsake/holder/v1";
    /// Genesis hash (the `prev_hash` of block 1).
    pub const GENESIS: &str = "keepsake/genesis/v1";
    /// Validator set hash (in every header).
    pub const VALIDATORS: &str = "keepsake/validators/v1";
    /// The running state root.
    pub const STATE: &str = "keepsake/state/v1";
    /// A reviewer's approval of a series created with terms (recipes, blind box).
    pub const REVIEW_TERMS: &str = "keepsake/review/v2";
    /// A blind box's commitment to its seed.
    pub const BOX_SEED: &str = "keepsake/box-seed/v1";
    /// The word stream of a blind box's draw.
    pub const BOX_DRAW: &str = "keepsake/box-draw/v1";
}

/// Plain SHA-256.
pub fn sha256(bytes: &[u8]) -> Hash32 {
    Hash32(Sha256::digest(bytes).into())
}

/// Appends `u8(len) || bytes`. Panics (a programmer error) over 255 bytes:
/// tags are constants, and a chain id is a [`crate::ChainId`] (at most 64
/// bytes, checked when built or decoded) or the empty id of holder commitments.
fn push_framed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).expect("tags are constants, chain ids at most 64 bytes (ChainId)");
    out.push(len);
    out.extend_from_slice(bytes);
}

/// The domain-separated preimage: the exact bytes that are hashed and signed.
///
/// `chain_id` must be at most 255 bytes: pass a [`crate::ChainId`] (it
/// derefs to `&str`) or `""`; a longer one is a programmer error and panics.
/// Data from outside cannot reach this with a longer id: every chain id
/// field of a decoded value is a `ChainId`.
pub fn domain_preimage(tag: &str, chain_id: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + tag.len() + chain_id.len() + bytes.len());
    push_framed(&mut out, tag.as_bytes());
    push_framed(&mut out, chain_id.as_bytes());
    out.extend_from_slice(bytes);
    out
}

/// SHA-256 of [`domain_preimage`] (the same precondition on `chain_id`).
pub fn domain_hash(tag: &str, chain_id: &str, bytes: &[u8]) -> Hash32 {
    let mut hasher = Sha256::new();
    hasher.update([u8::try_from(tag.len()).expect("tag is at most 255 bytes")]);
    hasher.update(tag.as_bytes());
    hasher.update([u8::try_from(chain_id.len())
        .expect("chain ids are ChainId values (at most 64 bytes) or the empty holder id")]);
    hasher.update(chain_id.as_bytes());
    hasher.update(bytes);
    Hash32(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_hash_equals_hash_of_preimage() {
        let pre = domain_preimage(tag::TX, "chain-a", b"body");
        assert_eq!(domain_hash(tag::TX, "chain-a", b"body"), sha256(&pre));
        assert_eq!(&pre[..15], b"\x0ekeepsake/tx/v1");
    }

    #[test]
    fn tags_and_chains_separate_domains() {
        let a = domain_hash(tag::TX, "chain-a", b"x");
        assert_ne!(a, domain_hash(tag::TX, "chain-b", b"x"));
        assert_ne!(a, domain_hash(tag::HEADER, "chain-a", b"x"));
        // Framing: moving a byte from the chain id into the body changes the hash.
        assert_ne!(domain_hash(tag::TX, "ab", b"c"), domain_hash(tag::TX, "a", b"bc"));
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = sha256(b"abc");
        assert_eq!(h.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Hash32::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(Hash32::from_hex(&format!("0x{h}")).unwrap(), h);
        assert_eq!(Hash32::from_hex("abcd").unwrap_err().code(), "BadHex");
        assert_eq!(Hash32::from_hex(&"zz".repeat(32)).unwrap_err().code(), "BadHex");
    }
}
