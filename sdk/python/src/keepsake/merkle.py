"""RFC 9162 Merkle hashes and proofs (docs/protocol.md §5.2; ``merkle.rs``).

No domain tag: ``leaf_hash = SHA-256(0x00 || leaf)``, ``node_hash = SHA-256(0x01 || l || r)``.
Failures raise ``VerifyError("ProofMismatch", ...)`` (callers re-code a
consistency failure as ``ConsistencyMismatch``, as the Rust verifier does).
Proofs longer than ``PROOF_HASHES_MAX`` hashes are refused.
"""

from __future__ import annotations

from typing import Sequence

from .errors import VerifyError
from .hashing import sha256

__all__ = [
    "PROOF_HASHES_MAX",
    "EMPTY_ROOT",
    "leaf_hash",
    "node_hash",
    "root",
    "inclusion_proof",
    "consistency_proof",
    "verify_inclusion",
    "verify_consistency",
]

PROOF_HASHES_MAX = 66
EMPTY_ROOT = sha256(b"")


def leaf_hash(leaf: bytes) -> bytes:
    return sha256(b"\x00" + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def _bad(why: str) -> VerifyError:
    return VerifyError("ProofMismatch", f"log proof invalid: {why}")


def _split(n: int) -> int:
    """The largest power of two below ``n`` (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (RFC 6962 §2.1), recursively: for tools and tests, not for large logs."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = _split(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 ``PATH(m, D[n])`` (for tools and tests)."""
    n = len(leaf_hashes)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return inclusion_proof(index, leaf_hashes[:k]) + [root(leaf_hashes[k:])]
    return inclusion_proof(index - k, leaf_hashes[k:]) + [root(leaf_hashes[:k])]


def consistency_proof(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 6962 ``PROOF(m, D[n])`` (for tools and tests)."""

    def sub(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        if m == len(d):
            return [] if complete else [root(d)]
        k = _split(len(d))
        if m <= k:
            return sub(m, d[:k], complete) + [root(d[k:])]
        return sub(m - k, d[k:], False) + [root(d[:k])]

    if m == 0 or m == len(leaf_hashes):
        return []
    return sub(m, leaf_hashes, True)


def verify_inclusion(lh: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> None:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise _bad("leaf index is not below the tree size")
    if len(proof) > PROOF_HASHES_MAX:
        raise _bad("inclusion proof is too long")
    fn, sn, r = index, size - 1, lh
    for p in proof:
        if sn == 0:
            raise _bad("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _bad("inclusion proof is shorter than the tree is deep")
    if r != expected_root:
        raise _bad("inclusion proof does not lead to the log root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2."""
    if old_size > new_size:
        raise _bad("old tree is larger than the new tree")
    if len(proof) > PROOF_HASHES_MAX:
        raise _bad("consistency proof is too long")
    if old_size == new_size:
        if proof:
            raise _bad("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise _bad("equal sizes but different roots")
        return
    if old_size == 0:
        if proof:
            raise _bad("consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise _bad("consistency proof is empty")
    path = ([old_root] if old_size & (old_size - 1) == 0 else []) + list(proof)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _bad("consistency proof is longer than needed")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _bad("consistency proof is shorter than needed")
    if fr != old_root:
        raise _bad("consistency proof does not reproduce the old root")
    if sr != new_root:
        raise _bad("consistency proof does not reproduce the new root")
