//! The on-disk format (schema version [`SCHEMA_VERSION`]): one sled database,
//! everything in its default tree, keys namespaced by an ASCII prefix ending
//! in `/` followed by a fixed-width binary suffix. Integers in keys are
//! big-endian so that sled's byte order is numeric order. Values are
//! postcard (the canonical encoding of `keepsake_types::encoding`) unless
//! the table says otherwise.
//!
//! | key                                     | value                                                      | written          |
//! |-----------------------------------------|------------------------------------------------------------|------------------|
//! | `meta/schema_version`                   | `u32` big-endian, [`SCHEMA_VERSION`]                       | at creation      |
//! | `meta/genesis_hash`                     | the 32-byte genesis hash                                   | at creation      |
//! | `meta/tip`                              | [`Tip`](keepsake_ledger::Tip): the last committed block  | every block      |
//! | `block/` `height: u64 BE`               | `Block` (header and transactions)                          | insert-only      |
//! | `commit/` `height: u64 BE`              | `Commit`                                                   | insert-only      |
//! | `hash/` `BlockHash`                     | `height: u64 BE`                                           | insert-only      |
//! | `tx/` `TxId`                            | `TxLocation` (height, index in block, log leaf index)      | insert-only      |
//! | `issuer/` `PublicKey`                   | `IssuerRecord`                                             | updated          |
//! | `reviewer/` `PublicKey`                 | `ReviewerRecord`                                           | updated          |
//! | `series/` `SeriesId`                    | `SeriesRecord`                                             | updated (minted) |
//! | `content/` `ContentHash`                | `SeriesId`                                                 | insert-only      |
//! | `cert/` `CertificateId`                 | `CertificateState`                                         | insert-only      |
//! | `revoke/` `CertificateId`               | `RevocationRecord`                                         | insert-only      |
//! | `nonce/` `u64 BE`                       | empty                                                      | insert-only      |
//! | `log/` `level: u8` `tile: u64 BE`       | a tile: the 32-byte hashes of nodes `(level, 256·tile ..)` | extended         |
//!
//! **Log tiles.** The collectible log keeps its perfect-subtree nodes
//! (`keepsake_types::merkle`): node `(level, index)` is the hash of leaves
//! `[index·2^level, (index+1)·2^level)`. Node `(level, index)` is stored in
//! tile `index / 256` of its level, at byte offset `32 · (index % 256)`. Nodes
//! of a level are created in index order, so a tile is always a prefix of its
//! 256 slots and only the last tile of a level is ever extended. A block of
//! `n` transactions rewrites about `2n/256 + log2(size)` tiles instead of
//! inserting `2n` nodes one key each.
//!
//! **Evidence.** Equivocation evidence ([`keepsake_types::DoubleVote`]) is
//! not chain data: it lives in the sled tree [`EVIDENCE_TREE`], keyed by
//! [`evidence`] (`height: u64 BE` `round: u32 BE` `kind: u8` `validator`),
//! value `encode(DoubleVote)`, at most [`EVIDENCE_STORED_MAX`] records.
//!
//! No prefix is a prefix of another, so `scan_prefix` on one never sees
//! another's keys. Changing anything in this table requires a new
//! [`SCHEMA_VERSION`]; `tests/format.rs` pins the bytes.

use keepsake_types::{BlockHash, CertificateId, ContentHash, PublicKey, SeriesId, TxId, Vote, VoteKind};

/// The sled tree of equivocation evidence.
pub const EVIDENCE_TREE: &str = "evidence";
/// Most evidence records kept.
pub const EVIDENCE_STORED_MAX: usize = 10_000;
/// Largest evidence record (two votes: about 2 x 150 bytes).
pub const EVIDENCE_BYTES_MAX: usize = 1024;

/// The evidence key of the step `vote` is for.
pub fn evidence(vote: &Vote) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + 4 + 1 + 32);
    key.extend_from_slice(&vote.data.height.to_be_bytes());
    key.extend_from_slice(&vote.data.round.to_be_bytes());
    key.push(match vote.data.kind {
        VoteKind::Prevote => 0,
        VoteKind::Precommit => 1,
    });
    key.extend_from_slice(vote.validator.as_bytes());
    key
}

/// The on-disk format version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Nodes per log tile.
pub const TILE_NODES: u64 = 256;
/// Bytes of one log node (a SHA-256 hash).
pub const NODE_BYTES: usize = 32;
/// Largest tile value, in bytes.
pub const TILE_BYTES_MAX: usize = TILE_NODES as usize * NODE_BYTES;

/// `meta/schema_version`.
pub const META_SCHEMA_VERSION: &[u8] = b"meta/schema_version";
/// `meta/genesis_hash`.
pub const META_GENESIS_HASH: &[u8] = b"meta/genesis_hash";
/// `meta/tip`.
pub const META_TIP: &[u8] = b"meta/tip";

/// Prefix of blocks.
pub const BLOCK: &[u8] = b"block/";
/// Prefix of commits.
pub const COMMIT: &[u8] = b"commit/";
/// Prefix of the block-hash index.
pub const HASH: &[u8] = b"hash/";
/// Prefix of the transaction index.
pub const TX: &[u8] = b"tx/";
/// Prefix of issuers.
pub const ISSUER: &[u8] = b"issuer/";
/// Prefix of reviewers.
pub const REVIEWER: &[u8] = b"reviewer/";
/// Prefix of series.
pub const SERIES: &[u8] = b"series/";
/// Prefix of the content-hash index.
pub const CONTENT: &[u8] = b"content/";
/// Prefix of certificates.
pub const CERT: &[u8] = b"cert/";
/// Prefix of revocations.
pub const REVOKE: &[u8] = b"revoke/";
/// Prefix of used governance nonces.
pub const NONCE: &[u8] = b"nonce/";
/// Prefix of log tiles.
pub const LOG: &[u8] = b"log/";

fn join(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + suffix.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(suffix);
    key
}

/// `block/<height BE>`.
pub fn block(height: u64) -> Vec<u8> {
    join(BLOCK, &height.to_be_bytes())
}

/// `commit/<height BE>`.
pub fn commit(height: u64) -> Vec<u8> {
    join(COMMIT, &height.to_be_bytes())
}

/// `hash/<block hash>`.
pub fn hash(block_hash: &BlockHash) -> Vec<u8> {
    join(HASH, block_hash.as_bytes())
}

/// `tx/<tx id>`.
pub fn tx(id: &TxId) -> Vec<u8> {
    join(TX, id.as_bytes())
}

/// `issuer/<public key>`.
pub fn issuer(key: &PublicKey) -> Vec<u8> {
    join(ISSUER, key.as_bytes())
}

/// `reviewer/<public key>`.
pub fn reviewer(key: &PublicKey) -> Vec<u8> {
    join(REVIEWER, key.as_bytes())
}

/// `series/<series id>`.
pub fn series(id: &SeriesId) -> Vec<u8> {
    join(SERIES, id.as_bytes())
}

/// `content/<content hash>`.
pub fn content(hash: &ContentHash) -> Vec<u8> {
    join(CONTENT, hash.as_bytes())
}

/// `cert/<certificate id>`.
pub fn cert(id: &CertificateId) -> Vec<u8> {
    join(CERT, id.as_bytes())
}

/// `revoke/<certificate id>`.
pub fn revoke(id: &CertificateId) -> Vec<u8> {
    join(REVOKE, id.as_bytes())
}

/// `nonce/<nonce BE>`.
pub fn nonce(nonce: u64) -> Vec<u8> {
    join(NONCE, &nonce.to_be_bytes())
}

/// `log/<level u8><tile BE>`.
pub fn log_tile(level: u8, tile: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(LOG.len() + 1 + 8);
    key.extend_from_slice(LOG);
    key.push(level);
    key.extend_from_slice(&tile.to_be_bytes());
    key
}

/// The tile holding node `(level, index)` and the node's byte offset in it.
pub fn tile_of(index: u64) -> (u64, usize) {
    let offset = usize::try_from(index % TILE_NODES).expect("below 256") * NODE_BYTES;
    (index / TILE_NODES, offset)
}

/// The height in a `block/` or `commit/` key.
pub fn height_in(prefix: &[u8], key: &[u8]) -> Option<u64> {
    let suffix = key.strip_prefix(prefix)?;
    Some(u64::from_be_bytes(suffix.try_into().ok()?))
}

/// The first key after every key of `prefix` (prefixes end in `/`, so
/// replacing the `/` by the next byte, `0`, bounds them).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    let last = end.last_mut().expect("prefixes are not empty");
    debug_assert_eq!(*last, b'/');
    *last = b'/' + 1;
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        let all =
            [BLOCK, COMMIT, HASH, TX, ISSUER, REVIEWER, SERIES, CONTENT, CERT, REVOKE, NONCE, LOG, b"meta/"];
        for a in all {
            for b in all {
                if a != b {
                    assert!(!b.starts_with(a), "{:?} is a prefix of {:?}", a, b);
                }
            }
        }
    }

    #[test]
    fn heights_sort_numerically_and_parse_back() {
        assert!(block(255) < block(256));
        assert!(block(u64::MAX) < prefix_end(BLOCK));
        assert_eq!(height_in(BLOCK, &block(77)), Some(77));
        assert_eq!(height_in(BLOCK, &commit(77)), None);
        assert_eq!(height_in(BLOCK, b"block/short"), None);
        assert_eq!(tile_of(0), (0, 0));
        assert_eq!(tile_of(255), (0, 255 * 32));
        assert_eq!(tile_of(256), (1, 0));
    }
}
