"""Ed25519 verification under ZIP-215 (docs/protocol.md §3, docs/signatures.md).

The rule Keepsake's Rust verifier applies, written here with Python ints
(``web/verify.js`` does the same with BigInt):

1. ``A`` decodes as curve25519-dalek decompresses: ``y`` = the low 255 bits
   taken **mod p** (y >= p accepted), ``x`` the root of the parity given by the
   top bit ("negative zero" accepted); small-order points accepted. No root:
   ``BadPublicKey``.
2. ``R`` decodes the same way; no root: ``BadSignature``.
3. ``S < l``, else ``BadSignature``.
4. ``k = SHA-512(R_bytes || A_bytes || M) mod l`` over the bytes as given.
5. Accept iff ``[8]([S]B - R - [k]A)`` is the identity, else ``BadSignature``.

OpenSSL (and so ``cryptography``) implements plain RFC 8032, which is
*stricter*: its "valid" implies the cofactored equation, so it is taken as is
for canonically encoded keys (a fast path); its "invalid" is always re-decided
by the cofactored check below. Not constant time: it verifies public data only.
Signing is not here: it is ``cryptography``'s RFC 8032 deterministic signing
(``keys.Keypair.sign``), byte for byte what ed25519-dalek produces.
"""

from __future__ import annotations

import hashlib
from typing import Optional, Tuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import VerifyError

__all__ = [
    "P",
    "L",
    "Point",
    "decompress",
    "is_small_order",
    "is_valid_point",
    "verify",
    "verify_zip215",
    "set_fast_path",
]

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, P - 2, P)) % P
D2 = (2 * D) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

# Extended coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, xy = T/Z.
Point = Tuple[int, int, int, int]
IDENTITY: Point = (0, 1, 1, 0)

_fast_path = True


def set_fast_path(enabled: bool) -> None:
    """Turns the OpenSSL fast path on or off (off: every verdict is the pure-int check; for tests)."""
    global _fast_path
    _fast_path = enabled


def decompress(b: bytes) -> Optional[Point]:
    """Point decompression as curve25519-dalek does it, or ``None`` when ``x^2`` has no root."""
    if len(b) != 32:
        return None
    y = (int.from_bytes(b, "little") & ((1 << 255) - 1)) % P
    sign = b[31] >> 7
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    # x = u v^3 (u v^7)^((p-5)/8)
    v3 = v * v * v % P
    v7 = v3 * v3 * v % P
    x = u * v3 % P * pow(u * v7 % P, (P - 5) // 8, P) % P
    vxx = v * x * x % P
    if vxx != u:
        if vxx == (-u) % P:
            x = x * SQRT_M1 % P
        else:
            return None
    if (x & 1) != sign:
        x = (-x) % P
    return (x, y, 1, x * y % P)


def _add(p: Point, q: Point) -> Point:
    """Complete addition on the twisted Edwards curve (a = -1); also doubles."""
    X1, Y1, Z1, T1 = p
    X2, Y2, Z2, T2 = q
    a = (Y1 - X1) * (Y2 - X2) % P
    b = (Y1 + X1) * (Y2 + X2) % P
    c = T1 * D2 % P * T2 % P
    d = 2 * Z1 * Z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _neg(p: Point) -> Point:
    return ((-p[0]) % P, p[1], p[2], (-p[3]) % P)


def _mul(k: int, p: Point) -> Point:
    r = IDENTITY
    q = p
    while k > 0:
        if k & 1:
            r = _add(r, q)
        q = _add(q, q)
        k >>= 1
    return r


def _is_identity(p: Point) -> bool:
    return p[0] % P == 0 and (p[1] - p[2]) % P == 0


def is_small_order(p: Point) -> bool:
    """``[8]P`` is the identity."""
    q = p
    for _ in range(3):
        q = _add(q, q)
    return _is_identity(q)


_B = decompress((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))
assert _B is not None
BASE: Point = _B


def is_valid_point(key: bytes) -> bool:
    """``PublicKey::is_valid_point``: decompresses and is not of small order (keys entering the state)."""
    p = decompress(key)
    return p is not None and not is_small_order(p)


def _is_canonical(key: bytes, p: Point) -> bool:
    """y < p, and no sign bit on x = 0: an encoding every decoder reads alike."""
    return (int.from_bytes(key, "little") & ((1 << 255) - 1)) < P and not (p[0] == 0 and key[31] >> 7 == 1)


def verify_zip215(key: bytes, msg: bytes, sig: bytes) -> Optional[str]:
    """The verdict alone: ``None`` when valid, else ``"BadPublicKey"`` or ``"BadSignature"`` (pure ints)."""
    a = decompress(key) if len(key) == 32 else None
    if a is None:
        return "BadPublicKey"
    if len(sig) != 64:
        return "BadSignature"
    s = int.from_bytes(sig[32:], "little")
    if s >= L:
        return "BadSignature"
    r = decompress(sig[:32])
    if r is None:
        return "BadSignature"
    k = int.from_bytes(hashlib.sha512(sig[:32] + key + msg).digest(), "little") % L
    q = _add(_add(_mul(s, BASE), _neg(r)), _mul(k, _neg(a)))
    return None if is_small_order(q) else "BadSignature"


def _openssl_accepts(key: bytes, msg: bytes, sig: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(sig, msg)
        return True
    except (InvalidSignature, ValueError):
        return False


def verify(key: bytes, msg: bytes, sig: bytes, what: str = "message") -> None:
    """``PublicKey::verify_message``: raises ``VerifyError`` ``BadPublicKey`` or ``BadSignature``."""
    key, sig = bytes(key), bytes(sig)
    a = decompress(key) if len(key) == 32 else None
    if a is None:
        raise VerifyError("BadPublicKey", f"invalid ed25519 public key {key.hex()}")
    if (
        _fast_path
        and len(sig) == 64
        and int.from_bytes(sig[32:], "little") < L
        and _is_canonical(key, a)
        and _openssl_accepts(key, msg, sig)
    ):
        return
    verdict = verify_zip215(key, msg, sig)
    if verdict is not None:
        raise VerifyError(verdict, f"bad signature by {key.hex()} on {what}")
