//! ed25519 keys and domain-separated signatures.
//!
//! Verification follows ZIP-215 (the rule is in [`crate::ed25519`]): any key
//! and `R` that decode to a curve point, a canonical `S`, and the cofactored
//! equation. It is the rule batch verification ([`crate::SignatureBatch`])
//! decides exactly, so a node that batches and one that does not agree on
//! every signature. Keys that enter the state or the genesis must also pass
//! [`PublicKey::is_valid_point`] (no small-order keys). Key generation needs
//! randomness and is therefore not here: the node draws a seed from the OS
//! and calls [`Keypair::from_seed`].

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::Result;
use crate::hash::domain_preimage;

crate::fixed_bytes!(
    /// An ed25519 public key (32 bytes, compressed Edwards point).
    PublicKey,
    32
);

crate::fixed_bytes!(
    /// An ed25519 signature (64 bytes).
    Signature,
    64
);

impl PublicKey {
    /// Verifies `signature` over the domain-separated message
    /// `domain_preimage(tag, chain_id, bytes)` (ZIP-215, [`crate::ed25519`]).
    pub fn verify(
        &self,
        tag: &str,
        chain_id: &str,
        bytes: &[u8],
        signature: &Signature,
        what: &'static str,
    ) -> Result<()> {
        self.verify_message(&domain_preimage(tag, chain_id, bytes), signature, what)
    }

    /// Verifies `signature` over an already-built domain preimage (lets callers
    /// build the preimage once for several signers). `BadPublicKey` when the
    /// key does not decode, `BadSignature` when the signature is not valid.
    pub fn verify_message(&self, message: &[u8], signature: &Signature, what: &'static str) -> Result<()> {
        self.prepare()?.verify_message(message, signature, what)
    }

    /// Whether the 32 bytes decode to a usable ed25519 point (not small-order):
    /// the rule for keys that enter the state or the genesis. Signatures by a
    /// key that fails it may still verify (ZIP-215 accepts any decodable key).
    pub fn is_valid_point(&self) -> bool {
        VerifyingKey::from_bytes(&self.0).is_ok_and(|k| !k.is_weak())
    }
}

/// A signing key. Its `Debug` never prints the secret.
#[derive(Clone)]
pub struct Keypair {
    signing: SigningKey,
}

impl Keypair {
    /// The key whose secret scalar is derived from `seed` (RFC 8032 secret key).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { signing: SigningKey::from_bytes(&seed) }
    }

    /// The 32-byte RFC 8032 secret key (the seed). Handle with care.
    pub fn secret_seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.signing.verifying_key().to_bytes())
    }

    /// Signs `domain_preimage(tag, chain_id, bytes)`.
    pub fn sign(&self, tag: &str, chain_id: &str, bytes: &[u8]) -> Signature {
        self.sign_message(&domain_preimage(tag, chain_id, bytes))
    }

    /// Signs an already-built domain preimage.
    pub fn sign_message(&self, message: &[u8]) -> Signature {
        Signature(self.signing.sign(message).to_bytes())
    }
}

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::tag;

    #[test]
    fn rfc8032_test_vector_1() {
        // RFC 8032 §7.1, TEST 1 (empty message): pins the key derivation.
        let seed = crate::bytes::parse_hex::<32>(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "seed",
        )
        .unwrap();
        let kp = Keypair::from_seed(seed);
        assert_eq!(kp.public().to_hex(), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
        let sig = kp.sign_message(b"");
        assert_eq!(
            sig.to_hex(),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        kp.public().verify_message(b"", &sig, "test").unwrap();
    }

    #[test]
    fn signature_is_bound_to_tag_chain_and_bytes() {
        let kp = Keypair::from_seed([7; 32]);
        let sig = kp.sign(tag::TX, "c1", b"hello");
        kp.public().verify(tag::TX, "c1", b"hello", &sig, "tx").unwrap();
        for (t, c, b) in
            [(tag::VOTE, "c1", &b"hello"[..]), (tag::TX, "c2", b"hello"), (tag::TX, "c1", b"hellp")]
        {
            let err = kp.public().verify(t, c, b, &sig, "tx").unwrap_err();
            assert_eq!(err.code(), "BadSignature");
        }
        let other = Keypair::from_seed([8; 32]).public();
        assert_eq!(other.verify(tag::TX, "c1", b"hello", &sig, "tx").unwrap_err().code(), "BadSignature");
    }

    #[test]
    fn invalid_points_are_rejected() {
        // y = 2 is not on the curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        let key = PublicKey(bytes);
        assert!(!key.is_valid_point());
        let err = key.verify_message(b"m", &Signature([0; 64]), "x").unwrap_err();
        assert_eq!(err.code(), "BadPublicKey");
        // The identity point has small order: it may not enter the state,
        // though it decodes (ZIP-215 verifies signatures by it).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(!PublicKey(identity).is_valid_point());
        assert!(PublicKey(identity).prepare().is_ok());
    }
}
