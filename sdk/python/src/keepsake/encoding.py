"""Canonical encoding: the postcard 1.x subset of docs/protocol.md §1.

Encoding helpers (``varint``, ``pstr``, ...) and :class:`Reader`, a strict
decoder with the semantics of ``encoding::decode_canonical``: minimal varints
that fit their type, valid UTF-8, ``00``/``01`` tags, known variants, lengths
bounded by the bytes left, no trailing bytes. Every failure is
``VerifyError("Malformed", ...)``; nothing here raises anything else.
"""

from __future__ import annotations

from .errors import VerifyError

__all__ = ["U32_MAX", "U64_MAX", "varint", "pstr", "u8", "Reader", "check_uint"]

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1


def check_uint(n: int, bits: int, what: str = "integer") -> int:
    """``n`` if it is an int in ``0 .. 2^bits``, else ``ValueError``."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0 or n >> bits:
        raise ValueError(f"{what} must be an unsigned {bits}-bit integer, got {n!r:.40}")
    return n


def varint(n: int) -> bytes:
    """Unsigned LEB128, minimal (postcard ``u32``/``u64``/``usize``)."""
    check_uint(n, 64, "varint")
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n == 0:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def pstr(s: str) -> bytes:
    """``varint(byte length) || UTF-8 bytes`` (a postcard ``String``)."""
    b = s.encode("utf-8")
    return varint(len(b)) + b


def u8(b: int) -> bytes:
    """One raw byte."""
    return bytes([b])


class Reader:
    """Strict postcard decoding of ``data`` (``what`` names it in errors)."""

    def __init__(self, data: bytes, what: str = "value") -> None:
        self.d = bytes(data)
        self.i = 0
        self.what = what

    def bad(self, reason: str) -> VerifyError:
        return VerifyError("Malformed", f"malformed {self.what}: {reason}")

    def left(self) -> int:
        return len(self.d) - self.i

    def raw(self, n: int) -> bytes:
        if n > self.left():
            raise self.bad("unexpected end of input")
        out = self.d[self.i : self.i + n]
        self.i += n
        return out

    def uint(self, bits: int) -> int:
        """A minimal varint of at most ``bits`` bits (5 bytes for u32, 10 for u64)."""
        max_bytes = -(-bits // 7)
        n = 0
        for k in range(max_bytes):
            if self.i >= len(self.d):
                raise self.bad("unexpected end of input")
            b = self.d[self.i]
            self.i += 1
            n |= (b & 0x7F) << (7 * k)
            if not b & 0x80:
                if k > 0 and b == 0:
                    raise self.bad("not the canonical encoding (over-long varint)")
                if n >> bits:
                    raise self.bad("varint out of range")
                return n
        raise self.bad("varint too long")

    def u32(self) -> int:
        return self.uint(32)

    def u64(self) -> int:
        return self.uint(64)

    def text(self) -> str:
        b = self.raw(self.u64())
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise self.bad("invalid UTF-8") from None

    def b32(self) -> bytes:
        return self.raw(32)

    def b64(self) -> bytes:
        return self.raw(64)

    def boolean(self) -> bool:
        b = self.raw(1)[0]
        if b > 1:
            raise self.bad(f"invalid bool {b}")
        return b == 1

    def option_tag(self) -> bool:
        b = self.raw(1)[0]
        if b > 1:
            raise self.bad(f"invalid Option tag {b}")
        return b == 1

    def length(self, min_item_bytes: int = 1) -> int:
        """A Vec's length, no larger than the bytes left could hold (bounds allocation)."""
        n = self.u64()
        if n * min_item_bytes > self.left():
            raise self.bad("unexpected end of input")
        return n

    def finish(self) -> None:
        if self.i != len(self.d):
            raise self.bad(f"{len(self.d) - self.i} trailing bytes")
