"""SHA-256 domain separation (docs/protocol.md §2) and the identifiers of §4.4.

``preimage(tag, chain_id, bytes) = u8(len(tag)) || tag || u8(len(chain_id)) || chain_id || bytes``;
``domain_hash`` is its SHA-256. Signatures are over the preimage itself.
"""

from __future__ import annotations

import hashlib
from typing import Final

from .encoding import pstr, varint

__all__ = [
    "TAG_TX",
    "TAG_HEADER",
    "TAG_VOTE",
    "TAG_PROPOSAL",
    "TAG_REVIEW",
    "TAG_REVIEW_TERMS",
    "TAG_SERIES_ID",
    "TAG_CERTIFICATE_ID",
    "TAG_HOLDER",
    "TAG_GENESIS",
    "TAG_VALIDATORS",
    "TAG_STATE",
    "TAG_BOX_SEED",
    "TAG_BOX_DRAW",
    "sha256",
    "domain_preimage",
    "domain_hash",
    "holder_id",
    "series_id",
    "certificate_id",
    "tx_id",
    "seed_commitment",
    "content_hash",
]

TAG_TX: Final = "keepsake/tx/v1"
TAG_HEADER: Final = "keepsake/header/v1"
TAG_VOTE: Final = "keepsake/vote/v1"
TAG_PROPOSAL: Final = "keepsake/proposal/v1"
TAG_REVIEW: Final = "keepsake/review/v1"
TAG_REVIEW_TERMS: Final = "keepsake/review/v2"
TAG_SERIES_ID: Final = "keepsake/series-id/v1"
TAG_CERTIFICATE_ID: Final = "keepsake/certificate-id/v1"
TAG_HOLDER: Final = "keepsake/holder/v1"
TAG_GENESIS: Final = "keepsake/genesis/v1"
TAG_VALIDATORS: Final = "keepsake/validators/v1"
TAG_STATE: Final = "keepsake/state/v1"
TAG_BOX_SEED: Final = "keepsake/box-seed/v1"
TAG_BOX_DRAW: Final = "keepsake/box-draw/v1"


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def domain_preimage(tag: str, chain_id: str, data: bytes) -> bytes:
    """``u8(len(tag)) || tag || u8(len(chain_id)) || chain_id || data``."""
    t = tag.encode("utf-8")
    c = chain_id.encode("utf-8")
    if len(t) > 255 or len(c) > 255:
        raise ValueError("a framed field is over 255 bytes")
    return bytes([len(t)]) + t + bytes([len(c)]) + c + data


def domain_hash(tag: str, chain_id: str, data: bytes) -> bytes:
    return sha256(domain_preimage(tag, chain_id, data))


def holder_id(salt: str, account: str) -> bytes:
    """``keepsake holder-id --account A --salt S``: chain-independent (empty chain id)."""
    return domain_hash(TAG_HOLDER, "", pstr(salt) + pstr(account))


def series_id(chain_id: str, issuer: bytes, name: str) -> bytes:
    return domain_hash(TAG_SERIES_ID, chain_id, _b32(issuer, "issuer") + pstr(name))


def certificate_id(chain_id: str, series: bytes, edition: int) -> bytes:
    return domain_hash(TAG_CERTIFICATE_ID, chain_id, _b32(series, "series id") + varint(edition))


def tx_id(chain_id: str, body_bytes: bytes) -> bytes:
    """The id of a transaction: over ``encode(body)`` only (signatures never change it)."""
    return domain_hash(TAG_TX, chain_id, body_bytes)


def seed_commitment(chain_id: str, seed: bytes) -> bytes:
    """A blind box's published commitment to its secret 32-byte seed."""
    return domain_hash(TAG_BOX_SEED, chain_id, _b32(seed, "seed"))


def content_hash(artwork: bytes) -> bytes:
    """Plain SHA-256 of the artwork file (no domain tag)."""
    return sha256(artwork)


def _b32(b: bytes, what: str) -> bytes:
    if not isinstance(b, (bytes, bytearray)) or len(b) != 32:
        raise ValueError(f"{what} must be 32 bytes")
    return bytes(b)
