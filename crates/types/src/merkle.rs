//! The collectible log: an RFC 9162 (RFC 6962) Merkle tree over SHA-256.
//!
//! - leaf hash `= SHA-256(0x00 || leaf bytes)`, node hash `= SHA-256(0x01 || left || right)`,
//!   root of the empty tree `= SHA-256("")`;
//! - `MTH(D[n])` splits at `k`, the largest power of two smaller than `n`.
//!
//! The tree is addressed by *perfect subtrees*: node `(level, index)` is the
//! hash of leaves `[index << level, (index + 1) << level)`. Those nodes never
//! change once the last of their leaves exists, so storage keeps exactly
//! them ([`NodeSource`]) and every root and proof is computed from
//! `O(log² n)` of them. [`MemoryLog`] is the in-memory source used by tests
//! and tools; the store crate keeps the same nodes on disk in tiles.
//!
//! Proof generation follows RFC 6962 §2.1.1–2.1.2 (PATH and SUBPROOF);
//! verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::hash::Hash32;
use crate::{Error, Result};

/// Longest proof accepted (a tree of 2^64 leaves needs at most 64 hashes; consistency 2 more).
pub const PROOF_HASHES_MAX: usize = 66;

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash32 {
    leaf_hash_of_parts(&[leaf])
}

/// [`leaf_hash`] of the concatenation of `parts`, without concatenating them.
pub fn leaf_hash_of_parts(parts: &[&[u8]]) -> Hash32 {
    let mut h = Sha256::new();
    h.update([0u8]);
    for part in parts {
        h.update(part);
    }
    Hash32(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left.0);
    h.update(right.0);
    Hash32(h.finalize().into())
}

/// The root of the empty tree, `SHA-256("")`.
pub fn empty_root() -> Hash32 {
    crate::hash::sha256(&[])
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Read access to the perfect-subtree nodes of a log.
pub trait NodeSource {
    /// The hash of perfect subtree `(level, index)`, which must be complete.
    fn node(&self, level: u8, index: u64) -> Result<Hash32>;
}

/// `MTH(D[start:end])` for a range that arises in the RFC recursion from the
/// root (such ranges are aligned, so each perfect one is a stored node).
pub fn range_hash<S: NodeSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash32> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.node(n.trailing_zeros() as u8, start >> n.trailing_zeros());
    }
    let k = split_point(n);
    Ok(node_hash(&range_hash(src, start, start + k)?, &range_hash(src, start + k, end)?))
}

/// The root of the first `size` leaves.
pub fn root<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Hash32> {
    range_hash(src, 0, size)
}

/// RFC 6962 `PATH(index, D[0:size])`: the inclusion proof, leaf to root.
pub fn inclusion_proof<S: NodeSource + ?Sized>(src: &S, index: u64, size: u64) -> Result<Vec<Hash32>> {
    if index >= size {
        return Err(Error::Proof(format!("leaf index {index} is not below tree size {size}")));
    }
    let mut proof = Vec::new();
    path(src, index, 0, size, &mut proof)?;
    Ok(proof)
}

fn path<S: NodeSource + ?Sized>(src: &S, m: u64, start: u64, end: u64, out: &mut Vec<Hash32>) -> Result<()> {
    let n = end - start;
    if n == 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path(src, m, start, start + k, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        path(src, m - k, start + k, end, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 6962 `PROOF(old_size, D[0:new_size])`: the consistency proof.
/// Empty when `old_size` is 0 or equals `new_size`.
pub fn consistency_proof<S: NodeSource + ?Sized>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash32>> {
    if old_size > new_size {
        return Err(Error::Proof(format!("old size {old_size} is larger than new size {new_size}")));
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < new_size {
        subproof(src, old_size, 0, new_size, true, &mut proof)?;
    }
    Ok(proof)
}

fn subproof<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    complete: bool,
    out: &mut Vec<Hash32>,
) -> Result<()> {
    let n = end - start;
    if m == n {
        if !complete {
            out.push(range_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, start, start + k, complete, out)?;
        out.push(range_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(range_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: verifies that `leaf_hash` is leaf `index` of the tree of
/// `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash32,
    index: u64,
    size: u64,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<()> {
    let fail = |why: &str| Err(Error::Proof(why.to_string()));
    if index >= size {
        return fail("leaf index is not below the tree size");
    }
    if proof.len() > PROOF_HASHES_MAX {
        return fail("inclusion proof is too long");
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return fail("inclusion proof is longer than the tree is deep");
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return fail("inclusion proof is shorter than the tree is deep");
    }
    if &r != root {
        return fail("inclusion proof does not lead to the log root");
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree (`old_size`, `old_root`) is a
/// prefix of the tree (`new_size`, `new_root`).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash32,
    new_root: &Hash32,
    proof: &[Hash32],
) -> Result<()> {
    let fail = |why: &str| Err(Error::Proof(why.to_string()));
    if old_size > new_size {
        return fail("old tree is larger than the new tree");
    }
    if proof.len() > PROOF_HASHES_MAX {
        return fail("consistency proof is too long");
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return fail("consistency proof between equal sizes must be empty");
        }
        return if old_root == new_root { Ok(()) } else { fail("equal sizes but different roots") };
    }
    if old_size == 0 {
        // Every tree extends the empty tree.
        return if proof.is_empty() {
            Ok(())
        } else {
            fail("consistency proof from the empty tree must be empty")
        };
    }
    // Step 1.
    if proof.is_empty() {
        return fail("consistency proof is empty");
    }
    // Step 2: if old_size is a power of two, the old root is the first node of the path.
    let mut path: Vec<Hash32> = Vec::with_capacity(proof.len() + 1);
    if old_size.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    // Steps 3-4.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (path[0], path[0]);
    // Step 6.
    for c in &path[1..] {
        if sn == 0 {
            return fail("consistency proof is longer than needed");
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return fail("consistency proof is shorter than needed");
    }
    if &fr != old_root {
        return fail("consistency proof does not reproduce the old root");
    }
    if &sr != new_root {
        return fail("consistency proof does not reproduce the new root");
    }
    Ok(())
}

/// The new perfect-subtree nodes created by appending leaves, on top of a base
/// source. Used by the ledger to compute the log root of a block before it is
/// stored, and by the store to know which nodes to write.
pub struct LogAppend<'a, S: NodeSource + ?Sized> {
    base: &'a S,
    size: u64,
    added: HashMap<(u8, u64), Hash32>,
    order: Vec<(u8, u64)>,
}

impl<'a, S: NodeSource + ?Sized> LogAppend<'a, S> {
    /// Starts appending to a log of `size` leaves held by `base`.
    pub fn new(base: &'a S, size: u64) -> Self {
        Self { base, size, added: HashMap::new(), order: Vec::new() }
    }

    /// Current size (base plus appended leaves).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf (its bytes, not its hash) and returns its index.
    pub fn push_leaf(&mut self, leaf: &[u8]) -> Result<u64> {
        self.push_leaf_hash(leaf_hash(leaf))
    }

    /// Appends one leaf given its leaf hash and returns its index.
    pub fn push_leaf_hash(&mut self, hash: Hash32) -> Result<u64> {
        let index = self.size;
        self.insert(0, index, hash);
        // Every time the index is odd at a level, a parent becomes complete.
        let (mut level, mut i, mut h) = (0u8, index, hash);
        while i & 1 == 1 {
            let left = self.node(level, i - 1)?;
            h = node_hash(&left, &h);
            level += 1;
            i >>= 1;
            self.insert(level, i, h);
        }
        self.size += 1;
        Ok(index)
    }

    fn insert(&mut self, level: u8, index: u64, hash: Hash32) {
        if self.added.insert((level, index), hash).is_none() {
            self.order.push((level, index));
        }
    }

    /// The root of the whole log as appended so far.
    pub fn root(&self) -> Result<Hash32> {
        root(self, self.size)
    }

    /// The nodes created by the appends, in creation order.
    pub fn into_new_nodes(self) -> Vec<((u8, u64), Hash32)> {
        let added = self.added;
        self.order.into_iter().map(|k| (k, added[&k])).collect()
    }
}

impl<S: NodeSource + ?Sized> NodeSource for LogAppend<'_, S> {
    fn node(&self, level: u8, index: u64) -> Result<Hash32> {
        match self.added.get(&(level, index)) {
            Some(h) => Ok(*h),
            None => self.base.node(level, index),
        }
    }
}

/// An in-memory log: `levels[l][i]` is node `(l, i)`.
#[derive(Clone, Debug, Default)]
pub struct MemoryLog {
    levels: Vec<Vec<Hash32>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf (its bytes).
    pub fn push(&mut self, leaf: &[u8]) {
        let nodes = {
            let mut app = LogAppend::new(&*self, self.size());
            app.push_leaf(leaf).expect("a memory log has every complete node");
            app.into_new_nodes()
        };
        for ((level, index), hash) in nodes {
            let level = level as usize;
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(self.levels[level].len() as u64, index, "nodes are appended in order");
            self.levels[level].push(hash);
        }
    }

    /// The current root.
    pub fn root(&self) -> Hash32 {
        root(self, self.size()).expect("a memory log has every complete node")
    }
}

impl NodeSource for MemoryLog {
    fn node(&self, level: u8, index: u64) -> Result<Hash32> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(Error::MissingLogNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The eight leaves of the RFC 6962 reference test vectors
    /// (certificate-transparency and transparency-dev test suites).
    fn rfc_leaves() -> Vec<Vec<u8>> {
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
            .iter()
            .map(|h| hex::decode(h).unwrap())
            .collect()
    }

    fn h(s: &str) -> Hash32 {
        Hash32::from_hex(s).unwrap()
    }

    fn log_of(n: usize) -> MemoryLog {
        let mut log = MemoryLog::new();
        for leaf in rfc_leaves().iter().take(n) {
            log.push(leaf);
        }
        log
    }

    /// Straight transcription of RFC 6962 MTH, as an independent reference.
    fn naive_mth(leaves: &[Vec<u8>]) -> Hash32 {
        match leaves.len() {
            0 => empty_root(),
            1 => leaf_hash(&leaves[0]),
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_mth(&leaves[..k]), &naive_mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn rfc6962_roots() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        assert_eq!(
            MemoryLog::new().root(),
            h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        for (i, expected) in roots.iter().enumerate() {
            assert_eq!(log_of(i + 1).root(), h(expected), "size {}", i + 1);
        }
    }

    #[test]
    fn rfc6962_inclusion_vectors() {
        let cases: [(u64, u64, &[&str]); 4] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        ];
        let leaves = rfc_leaves();
        for (index, size, expected) in cases {
            let log = log_of(size as usize);
            let proof = inclusion_proof(&log, index, size).unwrap();
            let expected: Vec<Hash32> = expected.iter().map(|s| h(s)).collect();
            assert_eq!(proof, expected, "index {index} size {size}");
            verify_inclusion(&leaf_hash(&leaves[index as usize]), index, size, &proof, &log.root()).unwrap();
        }
    }

    #[test]
    fn rfc6962_consistency_vectors() {
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, expected) in cases {
            let log = log_of(new as usize);
            let proof = consistency_proof(&log, old, new).unwrap();
            let expected: Vec<Hash32> = expected.iter().map(|s| h(s)).collect();
            assert_eq!(proof, expected, "{old} -> {new}");
            verify_consistency(old, new, &log_of(old as usize).root(), &log.root(), &proof).unwrap();
        }
    }

    #[test]
    fn wrong_inputs_fail_verification() {
        let log = log_of(8);
        let leaves = rfc_leaves();
        let proof = inclusion_proof(&log, 3, 8).unwrap();
        let lh = leaf_hash(&leaves[3]);
        let root = log.root();
        assert!(verify_inclusion(&lh, 4, 8, &proof, &root).is_err());
        assert!(verify_inclusion(&lh, 3, 4, &proof, &root).is_err());
        assert!(verify_inclusion(&leaf_hash(&leaves[2]), 3, 8, &proof, &root).is_err());
        assert!(verify_inclusion(&lh, 3, 8, &proof[..2], &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        assert!(verify_inclusion(&lh, 3, 8, &longer, &root).is_err());
        assert!(verify_inclusion(&lh, 8, 8, &proof, &root).is_err());
        let cons = consistency_proof(&log, 3, 8).unwrap();
        let old = log_of(3).root();
        assert!(verify_consistency(3, 8, &old, &root, &cons).is_ok());
        assert!(verify_consistency(3, 8, &root, &root, &cons).is_err());
        assert!(verify_consistency(4, 8, &old, &root, &cons).is_err());
        assert!(verify_consistency(3, 8, &old, &old, &cons).is_err());
        assert!(verify_consistency(3, 8, &old, &root, &[]).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every root equals the naive MTH, every inclusion and consistency proof
        /// verifies, and a flipped bit in any proof hash makes it fail.
        #[test]
        fn proofs_verify_for_all_shapes(n in 1usize..70, seed in any::<u64>(), flip in any::<usize>()) {
            let leaves: Vec<Vec<u8>> = (0..n).map(|i| format!("{seed}-{i}").into_bytes()).collect();
            let mut log = MemoryLog::new();
            let mut roots = vec![empty_root()];
            for leaf in &leaves {
                log.push(leaf);
                roots.push(log.root());
            }
            let size = n as u64;
            prop_assert_eq!(log.root(), naive_mth(&leaves));
            let index = seed % size;
            let proof = inclusion_proof(&log, index, size).unwrap();
            prop_assert!(verify_inclusion(&leaf_hash(&leaves[index as usize]), index, size, &proof, &log.root()).is_ok());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip % bad.len();
                bad[i].0[0] ^= 1;
                prop_assert!(verify_inclusion(&leaf_hash(&leaves[index as usize]), index, size, &bad, &log.root()).is_err());
            }
            let old = 1 + (seed / 7) % size;
            let cons = consistency_proof(&log, old, size).unwrap();
            prop_assert!(verify_consistency(old, size, &roots[old as usize], &log.root(), &cons).is_ok());
            if !cons.is_empty() {
                let mut bad = cons.clone();
                let i = flip % bad.len();
                bad[i].0[31] ^= 0x80;
                prop_assert!(verify_consistency(old, size, &roots[old as usize], &log.root(), &bad).is_err());
            }
        }
    }
}
