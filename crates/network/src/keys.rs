//! Keepsake keys <-> libp2p identities.
//!
//! A node's libp2p identity is the ed25519 key derived from the same 32-byte seed as
//! [`keepsake_types::Keypair::from_seed`]. An ed25519 `PeerId` inlines the public key (identity
//! multihash of its protobuf encoding), so `PeerId` and [`PublicKey`] convert 1:1 both ways.

use libp2p::PeerId;
use libp2p::identity::{self, ed25519};
use libp2p::multihash::Multihash;

use keepsake_types::PublicKey;

use crate::NetworkError;

/// Multihash code of the identity "hash" (the digest is the input itself).
const IDENTITY_MULTIHASH: u64 = 0x00;

/// The libp2p identity of a node whose Keepsake key is `Keypair::from_seed(seed)`.
pub fn identity_keypair(seed: [u8; 32]) -> Result<identity::Keypair, NetworkError> {
    let secret =
        ed25519::SecretKey::try_from_bytes(seed).map_err(|e| NetworkError::InvalidIdentity(e.to_string()))?;
    Ok(identity::Keypair::from(ed25519::Keypair::from(secret)))
}

/// The `PeerId` of the node whose ed25519 key is `key`. Fails only if the 32 bytes are not a
/// point on the curve.
pub fn peer_id_from_public_key(key: &PublicKey) -> Result<PeerId, NetworkError> {
    let ed = ed25519::PublicKey::try_from_bytes(key.as_bytes())
        .map_err(|e| NetworkError::InvalidConfig(format!("public key {key} is not ed25519: {e}")))?;
    Ok(identity::PublicKey::from(ed).to_peer_id())
}

/// The Keepsake key inside an ed25519 `PeerId`; any other kind of `PeerId` (hashed RSA or
/// secp256k1 keys, random ids) is refused.
pub fn public_key_from_peer_id(peer: &PeerId) -> Result<PublicKey, NetworkError> {
    let not_ed25519 = || NetworkError::NotEd25519PeerId(peer.to_base58());
    let multihash: &Multihash<64> = peer.as_ref();
    if multihash.code() != IDENTITY_MULTIHASH {
        return Err(not_ed25519());
    }
    let key = identity::PublicKey::try_decode_protobuf(multihash.digest()).map_err(|_| not_ed25519())?;
    let ed = key.try_into_ed25519().map_err(|_| not_ed25519())?;
    Ok(PublicKey(ed.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepsake_types::Keypair;

    #[test]
    fn seed_gives_the_same_key_on_both_sides() {
        for i in 0..8u8 {
            let seed = [i.wrapping_mul(37).wrapping_add(1); 32];
            let ours = Keypair::from_seed(seed).public();
            let theirs = identity_keypair(seed).unwrap().public().to_peer_id();
            assert_eq!(peer_id_from_public_key(&ours).unwrap(), theirs);
            assert_eq!(public_key_from_peer_id(&theirs).unwrap(), ours);
        }
    }

    #[test]
    fn non_ed25519_peer_ids_are_refused() {
        let hashed = PeerId::from_multihash(Multihash::wrap(0x12, &[7u8; 32]).unwrap()).unwrap();
        assert_eq!(public_key_from_peer_id(&hashed).unwrap_err().code(), "NotEd25519PeerId");
        // Identity multihash whose digest is not a protobuf public key.
        let junk = PeerId::from_multihash(Multihash::wrap(0x00, &[1u8; 20]).unwrap()).unwrap();
        assert_eq!(public_key_from_peer_id(&junk).unwrap_err().code(), "NotEd25519PeerId");
    }

    #[test]
    fn non_point_public_key_is_refused() {
        let mut bytes = [0u8; 32];
        bytes[0] = 2; // y = 2 is not on the curve
        assert_eq!(peer_id_from_public_key(&PublicKey(bytes)).unwrap_err().code(), "InvalidConfig");
    }
}
