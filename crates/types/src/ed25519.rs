//! The ed25519 signature rule: ZIP-215, one at a time and in batches.
//!
//! A signature `R || S` by the key `A` on the message `M` is valid when:
//!
//! 1. `A` decodes to a curve point (curve25519-dalek `CompressedEdwardsY::decompress`:
//!    the y coordinate is the low 255 bits taken mod p, so non-canonical
//!    encodings with y ≥ p and the "negative zero" x encoding decode; points
//!    of small order decode), else `BadPublicKey`;
//! 2. `R` decodes the same way, else `BadSignature`;
//! 3. `S` is canonical (`S < ℓ`), else `BadSignature`;
//! 4. with `k = SHA-512(R || A || M) mod ℓ` (R and A as the bytes given), the
//!    **cofactored** equation holds: `[8]([S]B − R − [k]A)` is the identity,
//!    else `BadSignature`.
//!
//! This is the rule set of Zcash's ZIP-215 (also Tendermint's). It is chosen
//! because, unlike the cofactorless rule (`verify_strict`), batch verification
//! can decide it exactly: a [`SignatureBatch`] accepts a set of signatures
//! exactly when every one of them verifies alone (up to the probability
//! bound explained on [`SignatureBatch`]), so validators that batch and
//! validators that do not can never disagree about a block.
//!
//! Which keys may *enter the state or the genesis* is a separate, stricter
//! rule ([`PublicKey::is_valid_point`]: decodes and is not of small order).
//! The signature rule accepts any decodable key, so a signature's validity
//! never depends on where the key came from.
//!
//! Decompressing a key costs about a tenth of a verification, and the same
//! few keys (validators, issuers, reviewers) sign almost everything: each
//! thread keeps the points of the keys it decompressed last (at most
//! [`KEY_MEMO_MAX`], keyed by the exact 32 bytes). Decompression is a pure
//! function of those bytes, so the memo changes no verdict, only the time.
//! Likewise a batch whose keys recur (a certificate's validators, issuer and
//! reviewer) gets a table of their multiples for its equation after the
//! first time (`KeyTables`, at most [`KEY_TABLE_KEYS_MAX`] keys).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::OnceLock;

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint, VartimeEdwardsPrecomputation};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimePrecomputedMultiscalarMul};
use sha2::{Digest, Sha512};

use crate::keys::{PublicKey, Signature};
use crate::{Error, Result};

/// The domain tag of the batch coefficients' seed.
const BATCH_TAG: &[u8] = b"keepsake/ed25519-batch/v1";

/// Failing sub-batches this small are decided one signature at a time.
const SINGLES_AT_MOST: usize = 2;

/// Most decompressed keys one thread remembers (when full, it forgets them
/// all). A few issuers and validators sign nearly everything; the bound keeps
/// a thread's memo under ~50 KiB however many keys a client makes up.
pub const KEY_MEMO_MAX: usize = 256;

thread_local! {
    static KEY_MEMO: RefCell<BTreeMap<[u8; 32], EdwardsPoint>> = const { RefCell::new(BTreeMap::new()) };
}

/// The point of a public key, through this thread's memo.
fn decompress_key(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    KEY_MEMO.with(|memo| {
        if let Some(point) = memo.borrow().get(bytes) {
            return Some(*point);
        }
        let point = decompress(bytes)?;
        let mut memo = memo.borrow_mut();
        if memo.len() >= KEY_MEMO_MAX {
            memo.clear();
        }
        memo.insert(*bytes, point);
        Some(point)
    })
}

/// A public key decompressed once (cache it for keys that sign often: issuers, validators).
#[derive(Clone, Debug)]
pub struct PreparedKey {
    bytes: PublicKey,
    point: EdwardsPoint,
}

impl PublicKey {
    /// Decompresses this key for repeated verification; `BadPublicKey` when
    /// the 32 bytes are not a curve point (small-order points are accepted:
    /// that is the signature rule, not the state rule of [`PublicKey::is_valid_point`]).
    pub fn prepare(&self) -> Result<PreparedKey> {
        decompress_key(&self.0)
            .map(|point| PreparedKey { bytes: *self, point })
            .ok_or(Error::BadPublicKey(*self))
    }
}

impl PreparedKey {
    /// The key as given (its exact 32 bytes).
    pub fn public(&self) -> PublicKey {
        self.bytes
    }

    /// Verifies `signature` over `message` (an already-built domain
    /// preimage) under the ZIP-215 rule of the module docs; `what` names the
    /// object in the error.
    pub fn verify_message(&self, message: &[u8], signature: &Signature, what: &'static str) -> Result<()> {
        let bad = || Error::BadSignature { signer: self.bytes, what };
        let (r_bytes, s_bytes) = split(signature);
        let s = canonical_scalar(&s_bytes).ok_or_else(bad)?;
        let k = challenge(&r_bytes, &self.bytes.0, message);
        if holds_alone(&self.point, &r_bytes, || decompress(&r_bytes), &s, &k) { Ok(()) } else { Err(bad()) }
    }
}

fn decompress(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*bytes).decompress()
}

fn canonical_scalar(bytes: &[u8; 32]) -> Option<Scalar> {
    Scalar::from_canonical_bytes(*bytes).into()
}

fn split(signature: &Signature) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    r.copy_from_slice(&signature.0[..32]);
    s.copy_from_slice(&signature.0[32..]);
    (r, s)
}

/// `k = SHA-512(R || A || M) mod ℓ`, over the bytes as given.
fn challenge(r: &[u8; 32], a: &[u8; 32], message: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(message);
    Scalar::from_bytes_mod_order_wide(&h.finalize().into())
}

/// The single-signature decision. Fast path: if `[S]B − [k]A` encodes to
/// exactly the bytes of `R`, then `R` decodes to that point and
/// `[S]B − R − [k]A` is the identity, so the cofactored equation holds too.
/// Otherwise `R` must decode and the cofactored equation decides (it also
/// accepts a non-canonical encoding of `R`, or `R` plus a torsion point).
fn holds_alone(
    a: &EdwardsPoint,
    r_bytes: &[u8; 32],
    r: impl FnOnce() -> Option<EdwardsPoint>,
    s: &Scalar,
    k: &Scalar,
) -> bool {
    let sb_minus_ka = EdwardsPoint::vartime_double_scalar_mul_basepoint(&-k, a, s);
    if sb_minus_ka.compress().as_bytes() == r_bytes {
        return true;
    }
    r().is_some_and(|r| (sb_minus_ka - r).mul_by_cofactor().is_identity())
}

/// A distinct key of a batch (by its exact bytes).
struct BatchKey {
    bytes: [u8; 32],
    point: Option<EdwardsPoint>,
}

/// One signature of a batch, with everything the equation needs.
struct Item {
    /// Index into `SignatureBatch::keys`.
    key: usize,
    r_bytes: [u8; 32],
    s_bytes: [u8; 32],
    k: Scalar,
    /// The decoded `R` and `S`; `None` when the key or `R` does not decode or
    /// `S ≥ ℓ` (the item fails, whatever the rest of the batch).
    parts: Option<(EdwardsPoint, Scalar)>,
}

/// Signatures verified together; the verdict of every item equals
/// [`PublicKey::verify_message`]'s.
///
/// # The batch equation
///
/// With `E_i = [S_i]B − R_i − [k_i]A_i` (item `i` is valid alone iff
/// `[8]E_i` is the identity), the batch checks
///
/// ```text
/// [8]( [−Σ z_i S_i]B + Σ z_i R_i + Σ_A (Σ_{i signed by A} z_i k_i) A ) = identity,
/// ```
///
/// that is `Σ z_i [8]E_i = 0` (negated), in one multiscalar multiplication,
/// with the coefficients of one key merged (a drop's mints are all signed by
/// its issuer: their `A` terms collapse to one point).
///
/// **Batch ⊇ single, exactly.** The curve group is the prime-order subgroup
/// times the torsion subgroup of order 8. If every item is valid alone,
/// each `[8]E_i` is the identity, so the sum is, whatever the `z_i`: the
/// torsion components a valid signature may carry (small-order keys, `R`
/// plus a torsion point) vanish under `[8]` in the batch as they do alone.
/// (This is what fails with dalek's cofactorless batches: the `z_i` scale
/// torsion components without `[8]` to cancel them.)
///
/// **Batch ⊆ single, except with probability at most 2^-128 per attempt.**
/// Each `[8]E_i` lies in the subgroup of prime order ℓ, so `[8]E_i = [e_i]B`
/// for some `e_i` mod ℓ, and the batch holds iff `Σ z_i e_i ≡ 0 (mod ℓ)`.
/// The first coefficient is `z_0 = 1` (its `R` needs no multiple: one
/// addition): if `e_0` is the only nonzero one, the sum is `e_0 ≠ 0`. If some
/// other `e_j ≠ 0` (`j ≥ 1`), then for any fixed other terms exactly one
/// residue of `z_j` mod ℓ satisfies this; `z_j` is one of 2^128 < ℓ values,
/// so at most one of them does. The `z_i` are not random (this crate draws no
/// randomness): they are derived from SHA-512 over a domain tag, the item
/// count and every item's `A`, `R`, `S` and `k` bytes (`k` binds the message),
/// so they are fixed only after every input that determines the `e_i` is.
/// An adversary who wants a bad item accepted must find inputs whose hash
/// happens to satisfy the relation: each try succeeds with probability at
/// most 2^-128 (SHA-512 modelled as a random oracle).
///
/// [`SignatureBatch::verify_each`] relies on the same two facts when it
/// bisects a failing batch, and decides the smallest parts one signature at
/// a time.
#[derive(Default)]
pub struct SignatureBatch {
    keys: Vec<BatchKey>,
    key_index: BTreeMap<[u8; 32], usize>,
    items: Vec<Item>,
}

impl SignatureBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `n` signatures.
    pub fn with_capacity(n: usize) -> Self {
        Self { keys: Vec::with_capacity(n), key_index: BTreeMap::new(), items: Vec::with_capacity(n) }
    }

    /// Adds `signature` by `key` over `message` (a domain preimage). Computes
    /// `k` now and keeps no borrow. A key or `R` that does not decode, or
    /// `S ≥ ℓ`, makes this item (and so [`SignatureBatch::verify`]) fail.
    pub fn push(&mut self, key: &PublicKey, message: &[u8], signature: &Signature) {
        let index = self.key_slot(&key.0, || decompress_key(&key.0));
        self.push_item(index, message, signature);
    }

    /// [`SignatureBatch::push`] with a key decompressed before.
    pub fn push_prepared(&mut self, key: &PreparedKey, message: &[u8], signature: &Signature) {
        let index = self.key_slot(&key.bytes.0, || Some(key.point));
        self.push_item(index, message, signature);
    }

    fn key_slot(&mut self, bytes: &[u8; 32], point: impl FnOnce() -> Option<EdwardsPoint>) -> usize {
        if let Some(&i) = self.key_index.get(bytes) {
            return i;
        }
        let i = self.keys.len();
        self.keys.push(BatchKey { bytes: *bytes, point: point() });
        self.key_index.insert(*bytes, i);
        i
    }

    fn push_item(&mut self, key: usize, message: &[u8], signature: &Signature) {
        let (r_bytes, s_bytes) = split(signature);
        let a = &self.keys[key];
        let k = challenge(&r_bytes, &a.bytes, message);
        let parts = match (a.point, canonical_scalar(&s_bytes)) {
            (Some(_), Some(s)) => decompress(&r_bytes).map(|r| (r, s)),
            _ => None,
        };
        self.items.push(Item { key, r_bytes, s_bytes, k, parts });
    }

    /// Signatures in the batch.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the batch has no signature.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether every signature verifies (true for an empty batch): one
    /// batch equation.
    pub fn verify(&self) -> bool {
        if self.items.iter().any(|i| i.parts.is_none()) {
            return false;
        }
        let all: Vec<usize> = (0..self.items.len()).collect();
        self.equation_holds(&all, key_tables(&self.keys).as_deref())
    }

    /// The verdict of each signature, in push order. One batch equation
    /// first; only if it fails, the failing signatures are found by
    /// bisection (halves that pass are accepted whole, the smallest failing
    /// parts are decided one signature at a time).
    pub fn verify_each(&self) -> Vec<bool> {
        let mut verdicts: Vec<bool> = self.items.iter().map(|i| i.parts.is_some()).collect();
        let decodable: Vec<usize> = (0..self.items.len()).filter(|&i| verdicts[i]).collect();
        let tables = key_tables(&self.keys);
        if !self.equation_holds(&decodable, tables.as_deref()) {
            self.bisect(&decodable, &mut verdicts, tables.as_deref());
        }
        verdicts
    }

    /// Decides the items of `failing`, a set whose batch equation failed.
    fn bisect(
        &self,
        failing: &[usize],
        verdicts: &mut [bool],
        tables: Option<&VartimeEdwardsPrecomputation>,
    ) {
        if failing.len() <= SINGLES_AT_MOST {
            for &i in failing {
                verdicts[i] = self.holds_alone(i);
            }
            return;
        }
        let (left, right) = failing.split_at(failing.len() / 2);
        if self.equation_holds(left, tables) {
            // The failure is in the right half (a batch of signatures that
            // are all valid always holds): no need to check it again.
            self.bisect(right, verdicts, tables);
        } else if self.equation_holds(right, tables) {
            self.bisect(left, verdicts, tables);
        } else {
            // Failures in both halves: they are spread out (a batch made of
            // bad signatures, say), and bisecting further would cost more
            // than deciding each one alone. This bounds the work on any
            // batch (all of it bad, say) at about three batch equations over
            // it plus one single check per signature.
            for &i in failing {
                verdicts[i] = self.holds_alone(i);
            }
        }
    }

    fn holds_alone(&self, i: usize) -> bool {
        let item = &self.items[i];
        match (item.parts, self.keys[item.key].point) {
            (Some((r, s)), Some(a)) => holds_alone(&a, &item.r_bytes, || Some(r), &s, &item.k),
            _ => false,
        }
    }

    /// The batch equation over the items `indices` (all decodable), with the
    /// table over `[B, keys...]` when this thread keeps one ([`key_tables`]).
    fn equation_holds(&self, indices: &[usize], tables: Option<&VartimeEdwardsPrecomputation>) -> bool {
        if indices.is_empty() {
            return true;
        }
        let seed = self.seed(indices);
        let mut b_coefficient = Scalar::ZERO;
        let mut key_coefficients: Vec<Option<Scalar>> = vec![None; self.keys.len()];
        let mut scalars = Vec::with_capacity(2 * indices.len() + 1);
        let mut points = Vec::with_capacity(2 * indices.len() + 1);
        let mut coefficients = Coefficients::new(&seed);
        // The first item's coefficient is 1: its R is added after the
        // multiplication, with no table or multiple of its own.
        let mut first_r = None;
        for &i in indices {
            let item = &self.items[i];
            let Some((r, s)) = item.parts else { return false };
            let z = coefficients.next();
            let merged = key_coefficients[item.key].get_or_insert(Scalar::ZERO);
            if first_r.is_none() {
                first_r = Some(r);
                b_coefficient -= s;
                *merged += item.k;
            } else {
                b_coefficient -= z * s;
                scalars.push(z);
                points.push(r);
                *merged += z * item.k;
            }
        }
        // Keys whose batches recur (a chain's validators, a drop's issuer and
        // reviewer) have tables of their own, as B does: see `KeyTables`.
        let sum = match tables {
            Some(table) => {
                let statics = std::iter::once(b_coefficient)
                    .chain(key_coefficients.into_iter().map(|c| c.unwrap_or(Scalar::ZERO)));
                table.vartime_mixed_multiscalar_mul(statics, &scalars, &points)
            }
            None => {
                for (key, coefficient) in self.keys.iter().zip(key_coefficients) {
                    if let Some(c) = coefficient {
                        let Some(a) = key.point else { return false };
                        scalars.push(c);
                        points.push(a);
                    }
                }
                // B has a fixed table (wider windows, built once per process).
                base_table().vartime_mixed_multiscalar_mul([b_coefficient], &scalars, &points)
            }
        };
        first_r.map_or(sum, |r| sum + r).mul_by_cofactor().is_identity()
    }

    /// SHA-512 over the domain tag, the item count and every item's `A`,
    /// `R`, `S` and `k`.
    fn seed(&self, indices: &[usize]) -> [u8; 64] {
        let mut h = Sha512::new();
        h.update([BATCH_TAG.len() as u8]);
        h.update(BATCH_TAG);
        h.update((indices.len() as u64).to_le_bytes());
        for &i in indices {
            let item = &self.items[i];
            h.update(self.keys[item.key].bytes);
            h.update(item.r_bytes);
            h.update(item.s_bytes);
            h.update(item.k.as_bytes());
        }
        h.finalize().into()
    }
}

/// Where a check sends the signatures it meets: verified on the spot, one
/// at a time, or queued in a batch to be verified together
/// ([`check_batched`]).
pub(crate) enum Signatures<'b> {
    /// Verify each signature when it is met; the first bad one is the error.
    OneByOne,
    /// Queue each signature; the check goes on as if it were valid.
    Queue(&'b mut SignatureBatch),
}

impl Signatures<'_> {
    /// [`PublicKey::verify_message`], or queue the signature.
    pub(crate) fn check(
        &mut self,
        key: &PublicKey,
        message: &[u8],
        signature: &Signature,
        what: &'static str,
    ) -> Result<()> {
        match self {
            Signatures::OneByOne => key.verify_message(message, signature, what),
            Signatures::Queue(batch) => {
                batch.push(key, message, signature);
                Ok(())
            }
        }
    }
}

/// Runs `check` with every signature it meets queued in one batch. When the
/// batch holds, every queued signature is valid, so checking them one by one
/// would have come to the same result (`Ok`, or the same later error): that
/// result is returned. When it fails, `check` runs again verifying each
/// signature where it is met, so the error returned is the first failure in
/// the check's order, exactly as without batching.
pub(crate) fn check_batched<T>(
    capacity: usize,
    mut check: impl FnMut(&mut Signatures<'_>) -> Result<T>,
) -> Result<T> {
    let mut batch = SignatureBatch::with_capacity(capacity);
    let queued = check(&mut Signatures::Queue(&mut batch));
    if batch.verify() { queued } else { check(&mut Signatures::OneByOne) }
}

/// The batch coefficients z_1, z_2, ... (`z_0` is 1): four 128-bit numbers
/// per SHA-512 output, z_i being the (i mod 4)-th 16 bytes (little-endian)
/// of SHA-512(seed || floor(i / 4) as u64 LE) (`next` also yields the unused
/// z_0 of that derivation, which the equation replaces by 1).
struct Coefficients<'s> {
    seed: &'s [u8; 64],
    block: [u8; 64],
    position: usize,
}

impl<'s> Coefficients<'s> {
    fn new(seed: &'s [u8; 64]) -> Self {
        Self { seed, block: [0; 64], position: 0 }
    }

    fn next(&mut self) -> Scalar {
        let at = (self.position % 4) * 16;
        if at == 0 {
            let counter = (self.position / 4) as u64;
            self.block.copy_from_slice(
                &Sha512::new().chain_update(self.seed).chain_update(counter.to_le_bytes()).finalize(),
            );
        }
        self.position += 1;
        let mut z = [0u8; 16];
        z.copy_from_slice(&self.block[at..at + 16]);
        Scalar::from(u128::from_le_bytes(z))
    }
}

/// Most distinct keys a batch may have for its keys to get tables.
pub const KEY_TABLE_KEYS_MAX: usize = 16;

/// Most key sets whose tables one thread keeps (the least recently used
/// goes first). A set's tables take ~10 KiB per key.
const KEY_TABLE_SETS_MAX: usize = 4;

/// A key set gets its tables the time a batch with it is verified this many
/// times (counted while it has none; a bisection counts once).
const KEY_TABLE_AFTER: u32 = 2;

/// Most key sets counted while they have no tables (when full, the counts
/// start again).
const KEY_TABLE_COUNTED_MAX: usize = 64;

/// This thread's tables for the keys of recurring batches. The batch
/// equation's static points are `B` and the batch's keys, in the batch's
/// order: a table over `[B, A_0, A_1, ...]` (odd multiples up to 127 of
/// each point, wider windows than the dynamic points get) turns each key's
/// ~50 point operations (its own small table and ~42 additions) into ~28
/// additions. A table costs about one batch equation to build, so a set gets
/// one only when it recurs ([`KEY_TABLE_AFTER`]): a certificate's
/// `[validators, issuer, reviewer]`, the keys of every certificate of a drop.
/// The tables are a pure function of the keys' exact bytes (keyed by them):
/// the sum, hence every verdict, is the same with or without them.
#[derive(Default)]
struct KeyTables {
    /// The key sets with tables, with the tick of their last use.
    tables: Vec<(Vec<[u8; 32]>, Rc<VartimeEdwardsPrecomputation>, u64)>,
    /// How many times key sets without tables were seen.
    counted: Vec<(Vec<[u8; 32]>, u32)>,
    tick: u64,
}

thread_local! {
    static KEY_TABLES: RefCell<KeyTables> = RefCell::new(KeyTables::default());
}

/// The table over `[B, keys...]` for a batch about to be verified, if this
/// thread keeps one (or now builds it).
fn key_tables(keys: &[BatchKey]) -> Option<Rc<VartimeEdwardsPrecomputation>> {
    if keys.is_empty() || keys.len() > KEY_TABLE_KEYS_MAX {
        return None;
    }
    let same = |set: &[[u8; 32]]| set.len() == keys.len() && set.iter().zip(keys).all(|(a, k)| *a == k.bytes);
    KEY_TABLES.with(|memo| {
        let mut memo = memo.borrow_mut();
        memo.tick += 1;
        let tick = memo.tick;
        if let Some(entry) = memo.tables.iter_mut().find(|(set, _, _)| same(set)) {
            entry.2 = tick;
            return Some(Rc::clone(&entry.1));
        }
        let points: Vec<EdwardsPoint> = keys.iter().map(|k| k.point).collect::<Option<_>>()?;
        let seen = match memo.counted.iter_mut().position(|(set, _)| same(set)) {
            Some(i) => {
                memo.counted[i].1 += 1;
                memo.counted[i].1
            }
            None => {
                if memo.counted.len() >= KEY_TABLE_COUNTED_MAX {
                    memo.counted.clear();
                }
                memo.counted.push((keys.iter().map(|k| k.bytes).collect(), 1));
                1
            }
        };
        if seen < KEY_TABLE_AFTER {
            return None;
        }
        memo.counted.retain(|(set, _)| !same(set));
        if memo.tables.len() >= KEY_TABLE_SETS_MAX {
            let oldest = (0..memo.tables.len()).min_by_key(|&i| memo.tables[i].2)?;
            memo.tables.swap_remove(oldest);
        }
        let table = Rc::new(VartimeEdwardsPrecomputation::new(
            std::iter::once(ED25519_BASEPOINT_POINT).chain(points),
        ));
        memo.tables.push((keys.iter().map(|k| k.bytes).collect(), Rc::clone(&table), tick));
        Some(table)
    })
}

/// The precomputed table of the base point B for batch equations.
fn base_table() -> &'static VartimeEdwardsPrecomputation {
    static TABLE: OnceLock<VartimeEdwardsPrecomputation> = OnceLock::new();
    TABLE.get_or_init(|| VartimeEdwardsPrecomputation::new([ED25519_BASEPOINT_POINT]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    #[test]
    fn failures_spread_over_a_batch_get_their_single_verdicts() {
        // Every third signature bad, and a batch of nothing but bad ones: the
        // bisection gives up on halves that both fail and decides one by one.
        let key = Keypair::from_seed([7; 32]);
        for bad_every in [3usize, 1] {
            let mut batch = SignatureBatch::new();
            let mut expected = Vec::new();
            for i in 0..40u8 {
                let message = vec![i; 10];
                let mut signature = key.sign_message(&message);
                if (i as usize).is_multiple_of(bad_every) {
                    signature.0[40] ^= 1;
                }
                expected.push(key.public().verify_message(&message, &signature, "test").is_ok());
                batch.push(&key.public(), &message, &signature);
            }
            assert!(expected.iter().any(|ok| !ok));
            assert_eq!(batch.verify_each(), expected, "bad every {bad_every}");
        }
    }

    /// ℓ, little-endian.
    const ELL: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];

    /// Little-endian addition of 256-bit numbers (no overflow in these tests).
    fn add(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let sum = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = sum as u8;
            carry = sum >> 8;
        }
        out
    }

    fn scalar(n: u64) -> Scalar {
        Scalar::from(n)
    }

    /// A deterministic "random" scalar.
    fn hashed_scalar(label: &[u8], n: u64) -> Scalar {
        let digest = Sha512::new().chain_update(label).chain_update(n.to_le_bytes()).finalize();
        Scalar::from_bytes_mod_order_wide(&digest.into())
    }

    /// The eight points of small order (the torsion subgroup), by order of a generator's multiples.
    fn torsion() -> Vec<EdwardsPoint> {
        // A point of order 8: y = 0x7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7.
        let t8 = decompress(
            &crate::bytes::parse_hex::<32>(
                "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
                "torsion",
            )
            .unwrap(),
        )
        .unwrap();
        assert!(t8.is_small_order() && !(t8 * scalar(4)).is_identity());
        (0..8u64).map(|i| t8 * scalar(i)).collect()
    }

    /// Every 32-byte string that decodes to a small-order point: the eight
    /// canonical encodings and the non-canonical ones (y + p, negative zero).
    pub(super) fn small_order_encodings() -> Vec<[u8; 32]> {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        let mut out = Vec::new();
        for t in torsion() {
            let canonical = t.compress().to_bytes();
            let mut y = canonical;
            y[31] &= 0x7f;
            let mut forms = vec![y];
            let y_plus_p = add(&y, &p);
            if y_plus_p[31] & 0x80 == 0 {
                forms.push(y_plus_p);
            }
            for form in forms {
                for sign in [0u8, 0x80] {
                    let mut bytes = form;
                    bytes[31] |= sign;
                    if decompress(&bytes).is_some_and(|q| q.is_small_order()) && !out.contains(&bytes) {
                        out.push(bytes);
                    }
                }
            }
        }
        out
    }

    /// A signer that controls its secret scalar and nonce, so tests can add
    /// torsion to `A` or `R` and still produce `S = r + k a`.
    pub(super) struct RawSigner {
        pub a: Scalar,
        pub a_bytes: [u8; 32],
    }

    impl RawSigner {
        pub fn new(n: u64, key_torsion: EdwardsPoint) -> Self {
            let a = hashed_scalar(b"secret", n);
            let a_bytes = (EdwardsPoint::mul_base(&a) + key_torsion).compress().to_bytes();
            Self { a, a_bytes }
        }

        pub fn public(&self) -> PublicKey {
            PublicKey(self.a_bytes)
        }

        pub fn sign(&self, message: &[u8], nonce: u64, r_torsion: EdwardsPoint) -> Signature {
            let r = hashed_scalar(b"nonce", nonce);
            let r_bytes = (EdwardsPoint::mul_base(&r) + r_torsion).compress().to_bytes();
            let k = challenge(&r_bytes, &self.a_bytes, message);
            signature(r_bytes, (r + k * self.a).to_bytes())
        }
    }

    pub(super) fn signature(r: [u8; 32], s: [u8; 32]) -> Signature {
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&r);
        bytes[32..].copy_from_slice(&s);
        Signature(bytes)
    }

    fn single(key: &PublicKey, message: &[u8], sig: &Signature) -> bool {
        key.verify_message(message, sig, "test").is_ok()
    }

    fn alone_in_batch(key: &PublicKey, message: &[u8], sig: &Signature) -> bool {
        let mut batch = SignatureBatch::new();
        batch.push(key, message, sig);
        assert_eq!(batch.verify_each(), vec![batch.verify()]);
        batch.verify()
    }

    fn identity() -> EdwardsPoint {
        EdwardsPoint::default()
    }

    #[test]
    fn honest_signatures_verify_alone_and_together() {
        let keys: Vec<Keypair> = (0..6u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let mut batch = SignatureBatch::with_capacity(12);
        for (i, k) in keys.iter().enumerate() {
            for m in [&b"one"[..], b"two"] {
                let sig = k.sign_message(m);
                k.public().verify_message(m, &sig, "test").unwrap();
                k.public().prepare().unwrap().verify_message(m, &sig, "test").unwrap();
                if i % 2 == 0 {
                    batch.push(&k.public(), m, &sig);
                } else {
                    batch.push_prepared(&k.public().prepare().unwrap(), m, &sig);
                }
            }
        }
        assert_eq!(batch.len(), 12);
        assert!(batch.verify());
        assert_eq!(batch.verify_each(), vec![true; 12]);
        let empty = SignatureBatch::new();
        assert!(empty.is_empty() && empty.verify() && empty.verify_each().is_empty());
    }

    #[test]
    fn a_wrong_message_or_key_is_rejected() {
        let k = Keypair::from_seed([1; 32]);
        let sig = k.sign_message(b"right");
        let err = k.public().verify_message(b"wrong", &sig, "x").unwrap_err();
        assert_eq!(err, Error::BadSignature { signer: k.public(), what: "x" });
        assert!(!alone_in_batch(&k.public(), b"wrong", &sig));
        let other = Keypair::from_seed([2; 32]).public();
        assert!(!single(&other, b"right", &sig));
        assert!(!alone_in_batch(&other, b"right", &sig));
    }

    #[test]
    fn s_of_ell_or_more_is_rejected_in_both_paths() {
        let k = Keypair::from_seed([3; 32]);
        let sig = k.sign_message(b"m");
        let mut s = [0u8; 32];
        s.copy_from_slice(&sig.0[32..]);
        let mut r = [0u8; 32];
        r.copy_from_slice(&sig.0[..32]);
        // S + ℓ is the same scalar mod ℓ: a rule that reduced S would accept it.
        for bad_s in [add(&s, &ELL), ELL, add(&ELL, &scalar(1).to_bytes())] {
            let bad = signature(r, bad_s);
            assert_eq!(k.public().verify_message(b"m", &bad, "x").unwrap_err().code(), "BadSignature");
            assert!(!alone_in_batch(&k.public(), b"m", &bad));
        }
        let mut batch = SignatureBatch::new();
        batch.push(&k.public(), b"m", &sig);
        batch.push(&k.public(), b"m", &signature(r, add(&s, &ELL)));
        assert!(!batch.verify());
        assert_eq!(batch.verify_each(), vec![true, false]);
    }

    #[test]
    fn small_order_keys_and_r_with_s_zero_are_accepted() {
        // [8](0·B − R − [k]A) is the identity whenever R and A have small order.
        let encodings = small_order_encodings();
        // 8 canonical, plus non-canonical ones: y + p for y in {0, 1}, and
        // the sign bit set on the points with x = 0.
        assert!(encodings.len() > 8, "{}", encodings.len());
        let mut batch = SignatureBatch::new();
        for a in &encodings {
            for r in &encodings {
                let sig = signature(*r, [0; 32]);
                assert!(single(&PublicKey(*a), b"anything", &sig), "A {a:02x?} R {r:02x?}");
                assert!(alone_in_batch(&PublicKey(*a), b"anything", &sig));
                batch.push(&PublicKey(*a), b"anything", &sig);
            }
        }
        assert!(batch.verify());
        // Such keys still may not enter the state.
        assert!(encodings.iter().all(|a| !PublicKey(*a).is_valid_point()));
    }

    #[test]
    fn non_canonical_encodings_decode_where_zip215_says() {
        let mut p = [0xffu8; 32];
        p[0] = 0xed;
        p[31] = 0x7f;
        // y = p + 1 is the identity (y = 1) encoded non-canonically; with the
        // sign bit set it is also "negative zero" (x = 0).
        let one_plus_p = add(&p, &scalar(1).to_bytes());
        let mut negative_zero = scalar(1).to_bytes();
        negative_zero[31] |= 0x80;
        for bytes in [one_plus_p, negative_zero] {
            let key = PublicKey(bytes);
            assert!(key.prepare().is_ok());
            assert!(single(&key, b"m", &signature(bytes, [0; 32])));
        }
        // y = 2 is not on the curve: the key is refused, R is a bad signature.
        let off_curve = scalar(2).to_bytes();
        let err = PublicKey(off_curve).verify_message(b"m", &signature([0; 32], [0; 32]), "x").unwrap_err();
        assert_eq!(err.code(), "BadPublicKey");
        assert!(!alone_in_batch(&PublicKey(off_curve), b"m", &signature(one_plus_p, [0; 32])));
        let identity_key = PublicKey(scalar(1).to_bytes());
        let err = identity_key.verify_message(b"m", &signature(off_curve, [0; 32]), "x").unwrap_err();
        assert_eq!(err.code(), "BadSignature");
        assert!(!alone_in_batch(&identity_key, b"m", &signature(off_curve, [0; 32])));
    }

    #[test]
    fn torsion_added_to_r_or_to_the_key_is_accepted() {
        for (i, t) in torsion().into_iter().enumerate() {
            let honest_key = RawSigner::new(i as u64, identity());
            let mixed_r = honest_key.sign(b"m", i as u64, t);
            assert!(single(&honest_key.public(), b"m", &mixed_r));
            assert!(alone_in_batch(&honest_key.public(), b"m", &mixed_r));
            let mixed_key = RawSigner::new(100 + i as u64, t);
            for r_torsion in [identity(), t] {
                let sig = mixed_key.sign(b"m", 7, r_torsion);
                assert!(single(&mixed_key.public(), b"m", &sig));
                assert!(alone_in_batch(&mixed_key.public(), b"m", &sig));
                assert!(!single(&mixed_key.public(), b"other", &sig));
            }
        }
        // Together, with different torsion on each item.
        let mut batch = SignatureBatch::new();
        for (i, t) in torsion().into_iter().enumerate() {
            let signer = RawSigner::new(i as u64, torsion()[(i + 3) % 8]);
            batch.push(&signer.public(), b"m", &signer.sign(b"m", i as u64, t));
        }
        assert!(batch.verify());
    }

    #[test]
    fn one_bad_item_among_many_is_found() {
        let keys: Vec<Keypair> = (0..5u8).map(|i| Keypair::from_seed([i; 32])).collect();
        for bad in [0usize, 1, 16, 30, 31] {
            let mut batch = SignatureBatch::new();
            for i in 0..32usize {
                let k = &keys[i % keys.len()];
                let message = format!("message {i}");
                let sig = k.sign_message(message.as_bytes());
                let message = if i == bad { "tampered".to_string() } else { message };
                batch.push(&k.public(), message.as_bytes(), &sig);
            }
            assert!(!batch.verify());
            let expected: Vec<bool> = (0..32).map(|i| i != bad).collect();
            assert_eq!(batch.verify_each(), expected, "bad item {bad}");
        }
    }

    fn key_sets_with_tables() -> usize {
        KEY_TABLES.with(|memo| memo.borrow().tables.len())
    }

    #[test]
    fn key_tables_change_no_verdict() {
        // A recurring key set gets its tables the second time a batch with
        // it is verified; every verdict stays the same.
        KEY_TABLES.with(|memo| *memo.borrow_mut() = KeyTables::default());
        let keys: Vec<Keypair> = (20..27u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let batch_with = |bad: Option<usize>| {
            let mut batch = SignatureBatch::new();
            for (i, k) in keys.iter().enumerate() {
                let message = [i as u8; 40];
                let mut sig = k.sign_message(&message);
                if bad == Some(i) {
                    sig.0[33] ^= 1;
                }
                batch.push(&k.public(), &message, &sig);
            }
            batch
        };
        assert_eq!(key_sets_with_tables(), 0);
        for round in 0..4 {
            assert!(batch_with(None).verify(), "round {round}");
            for bad in [0, 3, 6] {
                let expected: Vec<bool> = (0..keys.len()).map(|i| i != bad).collect();
                let batch = batch_with(Some(bad));
                assert!(!batch.verify(), "round {round}, bad {bad}");
                assert_eq!(batch.verify_each(), expected, "round {round}, bad {bad}");
            }
            assert_eq!(key_sets_with_tables(), 1, "round {round}");
        }
        // More sets than a thread keeps tables for: the oldest go, verdicts stay.
        for n in 1..=KEY_TABLE_SETS_MAX + 2 {
            for _ in 0..KEY_TABLE_AFTER {
                let mut batch = SignatureBatch::new();
                for k in &keys[..n] {
                    batch.push(&k.public(), b"m", &k.sign_message(b"m"));
                }
                batch.push(&keys[0].public(), b"m", &keys[1].sign_message(b"m"));
                assert_eq!(batch.verify_each(), [vec![true; n], vec![false]].concat(), "{n} keys");
            }
        }
        assert_eq!(key_sets_with_tables(), KEY_TABLE_SETS_MAX);
        // A batch with more keys than tables are kept for is verified without them.
        let many: Vec<Keypair> =
            (0..=KEY_TABLE_KEYS_MAX as u8).map(|i| Keypair::from_seed([i; 32])).collect();
        let mut batch = SignatureBatch::new();
        for k in &many {
            batch.push(&k.public(), b"m", &k.sign_message(b"m"));
        }
        for _ in 0..3 {
            assert!(batch.verify());
        }
        assert!(
            KEY_TABLES.with(|memo| memo
                .borrow()
                .tables
                .iter()
                .all(|(set, _, _)| set.len() <= KEY_TABLE_KEYS_MAX))
        );
    }

    #[test]
    fn items_of_one_key_are_merged_and_still_judged_one_by_one() {
        let issuer = Keypair::from_seed([9; 32]);
        let prepared = issuer.public().prepare().unwrap();
        let mut batch = SignatureBatch::new();
        for i in 0..40u32 {
            let message = i.to_le_bytes();
            let mut sig = issuer.sign_message(&message);
            if i == 27 || i == 28 {
                sig.0[40] ^= 1;
            }
            if i % 2 == 0 {
                batch.push(&issuer.public(), &message, &sig);
            } else {
                batch.push_prepared(&prepared, &message, &sig);
            }
        }
        assert_eq!(batch.keys.len(), 1, "one key, one point in the equation");
        assert!(!batch.verify());
        let verdicts = batch.verify_each();
        let bad: Vec<usize> = (0..40).filter(|&i| !verdicts[i]).collect();
        assert_eq!(bad, vec![27, 28]);
    }

    #[test]
    fn errors_that_cancel_out_are_not_accepted() {
        // Two invalid signatures of one key whose errors cancel: S + 1 and
        // S' − 1. With all coefficients 1 the sum of the equations would hold.
        let k = Keypair::from_seed([4; 32]);
        let (s1, s2) = (k.sign_message(b"a"), k.sign_message(b"b"));
        let shift = |sig: &Signature, delta: Scalar| {
            let mut r = [0u8; 32];
            r.copy_from_slice(&sig.0[..32]);
            let mut s = [0u8; 32];
            s.copy_from_slice(&sig.0[32..]);
            signature(r, (canonical_scalar(&s).unwrap() + delta).to_bytes())
        };
        let (bad1, bad2) = (shift(&s1, scalar(1)), shift(&s2, -scalar(1)));
        let mut batch = SignatureBatch::new();
        batch.push(&k.public(), b"a", &bad1);
        batch.push(&k.public(), b"b", &bad2);
        assert!(!batch.verify());
        assert_eq!(batch.verify_each(), vec![false, false]);
    }

    #[test]
    fn an_undecodable_item_fails_alone() {
        let k = Keypair::from_seed([5; 32]);
        let sig = k.sign_message(b"m");
        let off_curve = PublicKey(scalar(2).to_bytes());
        let mut batch = SignatureBatch::new();
        batch.push(&k.public(), b"m", &sig);
        batch.push(&off_curve, b"m", &sig);
        batch.push(&k.public(), b"m", &signature(scalar(2).to_bytes(), [0; 32]));
        batch.push(&k.public(), b"m", &sig);
        assert!(!batch.verify());
        assert_eq!(batch.verify_each(), vec![true, false, false, true]);
    }

    /// The verdict of ed25519-zebra, an independent ZIP-215 implementation.
    fn zebra(key: &PublicKey, message: &[u8], sig: &Signature) -> bool {
        ed25519_zebra::VerificationKey::try_from(key.0)
            .is_ok_and(|vk| vk.verify(&ed25519_zebra::Signature::from_bytes(&sig.0), message).is_ok())
    }

    #[test]
    fn single_batch_and_zebra_agree_on_edge_cases() {
        let encodings = small_order_encodings();
        let mut cases: Vec<(PublicKey, Vec<u8>, Signature)> = Vec::new();
        let s_values = |s: [u8; 32]| [s, ELL, add(&ELL, &scalar(1).to_bytes()), add(&s, &ELL)];
        // Small-order A and R (canonical and not), S = 0, S = 1, S ≥ ℓ.
        for a in &encodings {
            for r in &encodings {
                for s in s_values([0; 32]).into_iter().chain([scalar(1).to_bytes()]) {
                    cases.push((PublicKey(*a), b"small".to_vec(), signature(*r, s)));
                }
            }
        }
        // Honest and mixed-order keys, honest and mixed-order R, S tampered,
        // messages swapped, R off the curve, keys off the curve.
        let t = torsion();
        for i in 0..24u64 {
            let signer = RawSigner::new(i, t[(i % 8) as usize * usize::from(i >= 8)]);
            let message = format!("edge {i}").into_bytes();
            let sig = signer.sign(&message, i, t[(i * 3 % 8) as usize * usize::from(i % 3 != 0)]);
            let (mut r, mut s) = ([0u8; 32], [0u8; 32]);
            r.copy_from_slice(&sig.0[..32]);
            s.copy_from_slice(&sig.0[32..]);
            for s in s_values(s) {
                cases.push((signer.public(), message.clone(), signature(r, s)));
            }
            cases.push((signer.public(), b"swapped".to_vec(), sig));
            cases.push((signer.public(), message.clone(), signature(scalar(2).to_bytes(), s)));
            cases.push((PublicKey(scalar(2).to_bytes()), message.clone(), sig));
            let honest = Keypair::from_seed([i as u8; 32]);
            let honest_sig = honest.sign_message(&message);
            cases.push((honest.public(), message.clone(), honest_sig));
            cases.push((honest.public(), b"swapped".to_vec(), honest_sig));
        }
        let mut together = SignatureBatch::with_capacity(cases.len());
        let mut expected = Vec::with_capacity(cases.len());
        let (mut accepted, mut rejected) = (0, 0);
        for (key, message, sig) in &cases {
            let oracle = zebra(key, message, sig);
            assert_eq!(single(key, message, sig), oracle, "single vs zebra: {key} {sig}");
            assert_eq!(alone_in_batch(key, message, sig), oracle, "batch vs zebra: {key} {sig}");
            together.push(key, message, sig);
            expected.push(oracle);
            if oracle { accepted += 1 } else { rejected += 1 }
        }
        assert!(accepted > 200 && rejected > 200, "{accepted} accepted, {rejected} rejected");
        assert_eq!(together.verify_each(), expected);
        // And in small mixed batches, each accepted iff all its items are.
        for chunk in cases.chunks(7) {
            let mut batch = SignatureBatch::new();
            for (key, message, sig) in chunk {
                batch.push(key, message, sig);
            }
            let all = chunk.iter().all(|(key, message, sig)| zebra(key, message, sig));
            // The second time with the tables of the chunk's keys (torsion included).
            for _ in 0..KEY_TABLE_AFTER {
                assert_eq!(batch.verify(), all);
            }
        }
    }
}
