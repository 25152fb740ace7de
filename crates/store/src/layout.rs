//! The on-disk format (schema version [`SCHEMA_VERSION`]) of a data
//! directory `DATA/`:
//!
//! ```text
//! DATA/state/      a sled database: the ledger state, the indexes, the tip (table below)
//! DATA/history/    append-only files: blocks with their commits, and the collectible log
//! DATA/index/      the id index: transaction and certificate ids -> where they are (`crate::index`)
//! ```
//!
//! Transactions and certificates are not state records: where a transaction
//! is, and a certificate's state (its series, edition, holder, mint), are
//! read from the history through the id index, whose format is in
//! `crate::index` (it is derived from the history and rebuilt from it).
//!
//! **State** (sled, everything in its default tree): keys namespaced by an
//! ASCII prefix ending in `/` followed by a fixed-width binary suffix.
//! Integers in keys are big-endian so that sled's byte order is numeric
//! order. Values are postcard (the canonical encoding of
//! `keepsake_types::encoding`) unless the table says otherwise.
//!
//! | key                                     | value                                                      | written          |
//! |-----------------------------------------|------------------------------------------------------------|------------------|
//! | `meta/schema_version`                   | `u32` big-endian, [`SCHEMA_VERSION`]                       | at creation      |
//! | `meta/genesis_hash`                     | the 32-byte genesis hash                                   | at creation      |
//! | `meta/tip`                              | [`Tip`](keepsake_ledger::Tip): the last committed block  | every block      |
//! | `hash/` `BlockHash`                     | `height: u64 BE`                                           | insert-only      |
//! | `issuer/` `PublicKey`                   | `IssuerRecord`                                             | updated          |
//! | `reviewer/` `PublicKey`                 | `ReviewerRecord`                                           | updated          |
//! | `series/` `SeriesId`                    | `SeriesRecord`                                             | updated (minted) |
//! | `content/` `ContentHash`                | `SeriesId`                                                 | insert-only      |
//! | `revoke/` `CertificateId`               | `RevocationRecord`                                         | insert-only      |
//! | `nonce/` `u64 BE`                       | empty                                                      | insert-only      |
//! | `meta/governance`                       | `GovernanceRecord`: governors and threshold, once changed  | updated          |
//! | `vset/` `from_height: u64 BE`           | `SetRecord`: a validator set made by a committed change    | insert-only      |
//! | `observer/` `PublicKey`                 | `ObserverRecord`                                           | updated          |
//! | `licence/` `PublicKey`                  | `LicenceRecord`: an issuer's licence                       | updated          |
//! | `meta/licence_policy`                   | `LicencePolicyRecord`, once governance set one             | updated          |
//! | `life/` `SeriesId`                      | `SeriesLife`: terms, burned count, blind-box sale          | updated          |
//! | `burn/` `CertificateId`                 | `BurnRecord`                                               | insert-only      |
//!
//! **History** (three files, only ever appended to; integers big-endian):
//!
//! - `history/blocks`: for each height `h = 1, 2, ...` in order, a record of
//!   [`RECORD_HEADER_BYTES`] of header, `height: u64`, `block_len: u32`,
//!   `commit_len: u32`, `checksum: u32`, then `encode(Block)` (`block_len`
//!   bytes) and `encode(Commit)` (`commit_len` bytes). `checksum` is the
//!   CRC-32 (IEEE) of the header's first 16 bytes followed by both parts.
//! - `history/heights`: entry `h - 1` is the `u64` byte offset of block
//!   `h`'s record in `history/blocks` (8 bytes per height).
//! - `history/log`: the collectible log's perfect-subtree nodes
//!   (`keepsake_types::merkle`: node `(level, index)` is the hash of leaves
//!   `[index·2^level, (index+1)·2^level)`), 32 bytes each, **in the order
//!   they are created** as leaves are appended: leaf `m` creates `(0, m)`,
//!   then `(1, m/2)` if `m` is odd, and so on up while the subtree it closes
//!   is complete. So node `(k, j)` is at position [`log_position`]`(k, j) =
//!   2m - popcount(m) + k` with `m = (j+1)·2^k - 1`, and a log of `n` leaves
//!   has [`log_nodes_for`]`(n) = 2n - popcount(n)` nodes. Nothing in the
//!   file is ever rewritten.
//! - `history/leaves`: entry `i` is the `u64` byte offset in `history/blocks`
//!   where log leaf `i`'s transaction, `encode(SignedTx)`, starts (8 bytes
//!   per leaf), so one transaction is read without decoding its block.
//!
//! A block's history is fdatasync'ed before its state batch is applied, so
//! the history is never behind the state; at open, whatever lies past the
//! state's tip (a crash between the two) is cut off (`crate::history`).
//!
//! **Evidence.** Equivocation evidence ([`keepsake_types::DoubleVote`]) is
//! not chain data: it lives in the sled tree [`EVIDENCE_TREE`], keyed by
//! [`evidence`] (`height: u64 BE` `round: u32 BE` `kind: u8` `validator`),
//! value `encode(DoubleVote)`, at most [`EVIDENCE_STORED_MAX`] records.
//!
//! No prefix is a prefix of another, so `scan_prefix` on one never sees
//! another's keys. Changing anything here requires a new
//! [`SCHEMA_VERSION`]; `tests/format.rs` pins the bytes.
//!
//! **Version 1** (before this layout) kept blocks, commits and the log (as
//! 256-node tiles) in the sled tree itself, with the sled database directly
//! in `DATA/`. [`crate::Store::open`] recognises such a directory and refuses
//! it with [`crate::StoreError::SchemaMismatch`] (docs/operations.md says
//! how to move to version 2).

use keepsake_types::{BlockHash, CertificateId, ContentHash, PublicKey, SeriesId, Vote, VoteKind};

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
pub const SCHEMA_VERSION: u32 = 2;

/// Bytes of one log node (a SHA-256 hash).
pub const NODE_BYTES: usize = 32;
/// Bytes of a history record's header.
pub const RECORD_HEADER_BYTES: usize = 20;
/// The state database's directory inside a data directory.
pub const STATE_DIR: &str = "state";
/// The history files' directory inside a data directory.
pub const HISTORY_DIR: &str = "history";
/// The id index's directory inside a data directory.
pub const INDEX_DIR: &str = "index";

/// `meta/schema_version`.
pub const META_SCHEMA_VERSION: &[u8] = b"meta/schema_version";
/// `meta/genesis_hash`.
pub const META_GENESIS_HASH: &[u8] = b"meta/genesis_hash";
/// `meta/tip`.
pub const META_TIP: &[u8] = b"meta/tip";

/// Prefix of the block-hash index.
pub const HASH: &[u8] = b"hash/";
/// Prefix of issuers.
pub const ISSUER: &[u8] = b"issuer/";
/// Prefix of reviewers.
pub const REVIEWER: &[u8] = b"reviewer/";
/// Prefix of series.
pub const SERIES: &[u8] = b"series/";
/// Prefix of the content-hash index.
pub const CONTENT: &[u8] = b"content/";
/// Prefix of revocations.
pub const REVOKE: &[u8] = b"revoke/";
/// Prefix of used governance nonces.
pub const NONCE: &[u8] = b"nonce/";
/// `meta/governance`.
pub const META_GOVERNANCE: &[u8] = b"meta/governance";
/// Prefix of scheduled validator sets.
pub const VSET: &[u8] = b"vset/";
/// Prefix of observers.
pub const OBSERVER: &[u8] = b"observer/";
/// Prefix of issuer licences.
pub const LICENCE: &[u8] = b"licence/";
/// `meta/licence_policy`.
pub const META_LICENCE_POLICY: &[u8] = b"meta/licence_policy";
/// Prefix of series lives (terms, burned counts, blind-box sales).
pub const LIFE: &[u8] = b"life/";
/// Prefix of burns.
pub const BURN: &[u8] = b"burn/";

fn join(prefix: &[u8], suffix: &[u8]) -> Vec<u8> {
    let mut key = Vec::with_capacity(prefix.len() + suffix.len());
    key.extend_from_slice(prefix);
    key.extend_from_slice(suffix);
    key
}

/// `hash/<block hash>`.
pub fn hash(block_hash: &BlockHash) -> Vec<u8> {
    join(HASH, block_hash.as_bytes())
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

/// `revoke/<certificate id>`.
pub fn revoke(id: &CertificateId) -> Vec<u8> {
    join(REVOKE, id.as_bytes())
}

/// `nonce/<nonce BE>`.
pub fn nonce(nonce: u64) -> Vec<u8> {
    join(NONCE, &nonce.to_be_bytes())
}

/// `vset/<from height BE>`.
pub fn vset(from_height: u64) -> Vec<u8> {
    join(VSET, &from_height.to_be_bytes())
}

/// `observer/<public key>`.
pub fn observer(key: &PublicKey) -> Vec<u8> {
    join(OBSERVER, key.as_bytes())
}

/// `licence/<public key>`.
pub fn licence(key: &PublicKey) -> Vec<u8> {
    join(LICENCE, key.as_bytes())
}

/// `life/<series id>`.
pub fn life(id: &SeriesId) -> Vec<u8> {
    join(LIFE, id.as_bytes())
}

/// `burn/<certificate id>`.
pub fn burn(id: &CertificateId) -> Vec<u8> {
    join(BURN, id.as_bytes())
}

/// The header of a `history/blocks` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// The block's height.
    pub height: u64,
    /// Bytes of `encode(Block)`.
    pub block_len: u32,
    /// Bytes of `encode(Commit)`.
    pub commit_len: u32,
    /// CRC-32 of the first 16 header bytes and both parts.
    pub checksum: u32,
}

impl RecordHeader {
    /// Reads a header (no check: see [`record_checksum`]).
    pub fn parse(bytes: &[u8; RECORD_HEADER_BYTES]) -> RecordHeader {
        let u32_at = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut height = [0u8; 8];
        height.copy_from_slice(&bytes[..8]);
        RecordHeader {
            height: u64::from_be_bytes(height),
            block_len: u32_at(8),
            commit_len: u32_at(12),
            checksum: u32_at(16),
        }
    }
}

/// The checksum of a record: CRC-32 of `header[..16]` then `body` (block and commit).
pub fn record_checksum(header: &[u8; RECORD_HEADER_BYTES], body: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..16]);
    crc.update(body);
    crc.finalize()
}

/// The whole `history/blocks` record of block `height`; `None` when a part
/// is longer than a `u32` can say.
pub fn history_record(height: u64, block: &[u8], commit: &[u8]) -> Option<Vec<u8>> {
    let block_len = u32::try_from(block.len()).ok()?;
    let commit_len = u32::try_from(commit.len()).ok()?;
    let mut header = [0u8; RECORD_HEADER_BYTES];
    header[..8].copy_from_slice(&height.to_be_bytes());
    header[8..12].copy_from_slice(&block_len.to_be_bytes());
    header[12..16].copy_from_slice(&commit_len.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..16]);
    crc.update(block);
    crc.update(commit);
    header[16..].copy_from_slice(&crc.finalize().to_be_bytes());
    let mut record = Vec::with_capacity(RECORD_HEADER_BYTES + block.len() + commit.len());
    record.extend_from_slice(&header);
    record.extend_from_slice(block);
    record.extend_from_slice(commit);
    Some(record)
}

/// Nodes in a log of `size` leaves: `2·size - popcount(size)`.
pub fn log_nodes_for(size: u64) -> u64 {
    // size < 2^63 for any log a node can hold; saturate rather than wrap beyond.
    size.saturating_mul(2).saturating_sub(u64::from(size.count_ones()))
}

/// Position of node `(level, index)` in `history/log` (see the module docs),
/// or `None` when it would not fit in a `u64`.
pub fn log_position(level: u8, index: u64) -> Option<u64> {
    // m = (index + 1) · 2^level - 1: the leaf whose append creates the node.
    let m = index.checked_add(1)?.checked_mul(1u64.checked_shl(u32::from(level))?)?.checked_sub(1)?;
    m.checked_mul(2)?.checked_sub(u64::from(m.count_ones()))?.checked_add(u64::from(level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_prefix_is_a_prefix_of_another() {
        let all = [
            HASH, ISSUER, REVIEWER, SERIES, CONTENT, REVOKE, NONCE, VSET, OBSERVER, LICENCE, LIFE, BURN,
            b"meta/",
        ];
        for a in all {
            for b in all {
                if a != b {
                    assert!(!b.starts_with(a), "{:?} is a prefix of {:?}", a, b);
                }
            }
        }
    }

    /// The closed form against the definition: append leaves one by one and
    /// number the nodes in the order they are created.
    #[test]
    fn log_positions_are_the_creation_order() {
        let mut position = 0u64;
        for leaf in 0u64..2_000 {
            let (mut level, mut index) = (0u8, leaf);
            loop {
                assert_eq!(log_position(level, index), Some(position), "node ({level}, {index})");
                position += 1;
                if index % 2 == 0 {
                    break;
                }
                (level, index) = (level + 1, index / 2);
            }
            assert_eq!(log_nodes_for(leaf + 1), position, "nodes of a log of {} leaves", leaf + 1);
        }
        assert_eq!(log_nodes_for(0), 0);
        assert_eq!(log_position(63, 1), None);
        assert_eq!(log_position(0, u64::MAX), None);
    }

    #[test]
    fn a_record_parses_back_and_its_checksum_covers_every_byte() {
        let record = history_record(7, b"block", b"commit!").unwrap();
        assert_eq!(record.len(), RECORD_HEADER_BYTES + 5 + 7);
        let header: [u8; RECORD_HEADER_BYTES] = record[..RECORD_HEADER_BYTES].try_into().unwrap();
        let parsed = RecordHeader::parse(&header);
        assert_eq!((parsed.height, parsed.block_len, parsed.commit_len), (7, 5, 7));
        assert_eq!(record_checksum(&header, &record[RECORD_HEADER_BYTES..]), parsed.checksum);
        for i in 0..record.len() {
            if (16..20).contains(&i) {
                continue; // the checksum itself
            }
            let mut damaged = record.clone();
            damaged[i] ^= 1;
            let header: [u8; RECORD_HEADER_BYTES] = damaged[..RECORD_HEADER_BYTES].try_into().unwrap();
            assert_ne!(
                record_checksum(&header, &damaged[RECORD_HEADER_BYTES..]),
                parsed.checksum,
                "byte {i}"
            );
        }
    }
}
