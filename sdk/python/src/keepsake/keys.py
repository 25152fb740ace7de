"""Ed25519 key pairs and the node's key-file format (``node/src/keyfile.rs``).

A key file is JSON ``{"public_key": hex, "secret_key": hex}`` (unknown fields
refused), the secret being the 32-byte RFC 8032 seed, written with mode 0600.
``keepsake dev`` writes ``keys/{governor,issuer,reviewer,validator}.json`` in
this format. Signing is ``cryptography``'s Ed25519 (RFC 8032, deterministic:
the same bytes as ed25519-dalek).
"""

from __future__ import annotations

import os
import re
from typing import Union

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import KeyFileError
from .serde import JsonError, parse_json

__all__ = ["Keypair", "read_key_file", "write_key_file", "KEY_FILE_MAX"]

KEY_FILE_MAX = 4096
_HEX64 = re.compile(r"(0x)?[0-9a-fA-F]{64}")

PathLike = Union[str, "os.PathLike[str]"]


class Keypair:
    """An Ed25519 key pair from a 32-byte seed (``Keypair::from_seed``)."""

    __slots__ = ("_seed", "_key", "_public")

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, (bytes, bytearray)) or len(seed) != 32:
            raise ValueError("an Ed25519 seed is 32 bytes")
        self._seed = bytes(seed)
        self._key = Ed25519PrivateKey.from_private_bytes(self._seed)
        self._public = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> "Keypair":
        """A new key from the operating system's randomness."""
        return cls(os.urandom(32))

    @classmethod
    def from_hex(cls, seed_hex: str) -> "Keypair":
        return cls(bytes.fromhex(seed_hex.removeprefix("0x")))

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def public_hex(self) -> str:
        return self._public.hex()

    @property
    def seed(self) -> bytes:
        """The secret 32-byte seed (what a key file stores as ``secret_key``)."""
        return self._seed

    def sign(self, message: bytes) -> bytes:
        """RFC 8032 Ed25519 over ``message`` (the domain preimage, never its hash)."""
        return self._key.sign(bytes(message))

    @classmethod
    def load(cls, path: PathLike) -> "Keypair":
        return read_key_file(path)

    def save(self, path: PathLike) -> None:
        write_key_file(path, self)

    def __repr__(self) -> str:
        return f"Keypair(public_key={self.public_hex})"


def read_key_file(path: PathLike) -> Keypair:
    """Reads a key file (at most 4 KiB) and checks that the public key matches the secret."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            data = f.read(KEY_FILE_MAX + 1)
    except OSError as e:
        raise KeyFileError(f"cannot read {name}: {e.strerror}") from None
    if len(data) > KEY_FILE_MAX:
        raise KeyFileError(f"{name} is over {KEY_FILE_MAX} bytes: not a Keepsake key file")
    try:
        value = parse_json(data)
    except JsonError as e:
        raise KeyFileError(f"{name} is not a Keepsake key file: {e}") from None
    if not isinstance(value, dict) or set(value) != {"public_key", "secret_key"}:
        raise KeyFileError(f'{name} is not a Keepsake key file: expected exactly {{"public_key", "secret_key"}}')
    pub, secret = value["public_key"], value["secret_key"]
    if not isinstance(pub, str) or not _HEX64.fullmatch(pub):
        raise KeyFileError(f"{name}: public_key must be 64 hex digits")
    if not isinstance(secret, str) or not _HEX64.fullmatch(secret):
        raise KeyFileError(f"{name}: secret_key must be 64 hex digits")
    key = Keypair(bytes.fromhex(secret.removeprefix("0x")))
    if key.public_key != bytes.fromhex(pub.removeprefix("0x")):
        raise KeyFileError(f"{name}: public_key does not match secret_key")
    return key


def write_key_file(path: PathLike, key: Keypair) -> None:
    """Writes ``key`` (mode 0600); refuses to overwrite an existing file."""
    name = os.fspath(path)
    parent = os.path.dirname(name)
    if parent:
        os.makedirs(parent, exist_ok=True)
    text = '{\n  "public_key": "%s",\n  "secret_key": "%s"\n}' % (key.public_hex, key.seed.hex())
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{name} already exists; refusing to overwrite a key") from None
    except OSError as e:
        raise KeyFileError(f"cannot create {name}: {e.strerror}") from None
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
