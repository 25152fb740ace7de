//! Identifiers. All are 32-byte SHA-256 values derived by the functions here,
//! so an auditor can recompute each one (docs/protocol.md).

use crate::encoding::encode;
use crate::hash::{Hash32, domain_hash, tag};
use crate::keys::PublicKey;

crate::fixed_bytes!(
    /// Transaction id: the domain hash of the canonical transaction *body*
    /// (signatures excluded, so re-signing never makes a new transaction).
    TxId,
    32
);
crate::fixed_bytes!(
    /// Block id: the domain hash of the canonical header.
    BlockHash,
    32
);
crate::fixed_bytes!(
    /// `H(chain_id, issuer, series name)`.
    SeriesId,
    32
);
crate::fixed_bytes!(
    /// `H(chain_id, series_id, edition)`; never reused, even after revocation.
    CertificateId,
    32
);
crate::fixed_bytes!(
    /// The holder commitment `H(salt, real-name account id)`, computed by the
    /// platform: no personal information is ever on chain.
    HolderId,
    32
);
crate::fixed_bytes!(
    /// SHA-256 of the artwork file.
    ContentHash,
    32
);

impl From<Hash32> for TxId {
    fn from(h: Hash32) -> Self {
        Self(h.0)
    }
}
impl From<Hash32> for BlockHash {
    fn from(h: Hash32) -> Self {
        Self(h.0)
    }
}

/// `series_id = domain_hash("keepsake/series-id/v1", chain_id, encode((issuer, name)))`.
pub fn series_id(chain_id: &str, issuer: &PublicKey, name: &str) -> SeriesId {
    SeriesId(domain_hash(tag::SERIES_ID, chain_id, &encode(&(issuer, name))).0)
}

/// `certificate_id = domain_hash("keepsake/certificate-id/v1", chain_id, encode((series_id, edition)))`.
pub fn certificate_id(chain_id: &str, series: &SeriesId, edition: u32) -> CertificateId {
    CertificateId(domain_hash(tag::CERTIFICATE_ID, chain_id, &encode(&(series, edition))).0)
}

/// The holder commitment:
/// `domain_hash("keepsake/holder/v1", "", encode((salt, account_id)))`.
///
/// The salt is the platform's secret per user (or per platform); without it the
/// commitment cannot be linked back to an account by guessing account ids.
pub fn holder_id(salt: &str, account_id: &str) -> HolderId {
    HolderId(domain_hash(tag::HOLDER, "", &encode(&(salt, account_id))).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_per_input_and_chain() {
        let issuer = PublicKey([1; 32]);
        let s1 = series_id("c", &issuer, "a");
        assert_ne!(s1, series_id("d", &issuer, "a"));
        assert_ne!(s1, series_id("c", &PublicKey([2; 32]), "a"));
        assert_ne!(s1, series_id("c", &issuer, "b"));
        assert_ne!(certificate_id("c", &s1, 1), certificate_id("c", &s1, 2));
        assert_ne!(holder_id("salt", "alice"), holder_id("salt", "bob"));
        assert_ne!(holder_id("salt1", "alice"), holder_id("salt2", "alice"));
        // Length framing: ("ab","c") and ("a","bc") differ.
        assert_ne!(holder_id("ab", "c"), holder_id("a", "bc"));
    }

    #[test]
    fn holder_id_golden() {
        // Pinned: platforms compute this off chain, so it must never change. The
        // value was cross-checked with an independent Python transcription of
        // docs/protocol.md (sha256 of the framed preimage).
        assert_eq!(
            holder_id("5f2c9a", "alice@example.com").to_hex(),
            "4f85287d9e40073be848dab9a904d7ecc3415a869ac7ac1c8b6cbbf3704b6b38"
        );
    }
}
