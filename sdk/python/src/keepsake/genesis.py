"""The genesis file: the verifier's only trust anchor (docs/protocol.md §4.8; ``genesis.rs``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar, List, Union

from . import ed25519
from .block import KEY, Validator, encode_validators
from .encoding import pstr, varint
from .errors import VerifyError
from .hashing import TAG_GENESIS, domain_hash
from .serde import CHAIN_ID, U32, U64, Field, HasSerde, JsonError, Struct, Vec, from_json, parse_json

__all__ = ["ChainParams", "Genesis", "load_genesis", "GENESIS_FILE_MAX", "LOG_LEAF_OVERHEAD_BYTES"]

GENESIS_FILE_MAX = 1024 * 1024
VALIDATORS_MAX = 100
GOVERNORS_MAX = 32
TOTAL_POWER_MAX = 1 << 60
LOG_LEAF_OVERHEAD_BYTES = 64


@dataclass(frozen=True)
class ChainParams(HasSerde):
    max_supply_limit: int
    block_txs_max: int
    tx_bytes_max: int
    SERDE: ClassVar = (Field("max_supply_limit", U32), Field("block_txs_max", U32), Field("tx_bytes_max", U32))

    def log_leaf_bytes_max(self) -> int:
        """The decoding bound of log leaves in certificates and status answers."""
        return self.tx_bytes_max + LOG_LEAF_OVERHEAD_BYTES


@dataclass(frozen=True)
class Genesis(HasSerde):
    chain_id: str
    genesis_time_ms: int
    validators: List[Validator]
    governors: List[bytes]
    governance_threshold: int
    params: ChainParams

    SERDE: ClassVar = (
        Field("chain_id", CHAIN_ID),
        Field("genesis_time_ms", U64),
        Field("validators", Vec(Struct(Validator))),
        Field("governors", Vec(KEY)),
        Field("governance_threshold", U32),
        Field("params", Struct(ChainParams)),
    )

    def encode(self) -> bytes:
        p = self.params
        return (
            pstr(self.chain_id)
            + varint(self.genesis_time_ms)
            + encode_validators(self.validators)
            + varint(len(self.governors))
            + b"".join(self.governors)
            + varint(self.governance_threshold)
            + varint(p.max_supply_limit)
            + varint(p.block_txs_max)
            + varint(p.tx_bytes_max)
        )

    def hash(self) -> bytes:
        """``domain_hash("keepsake/genesis/v1", chain_id, encode(genesis))``: block 1's ``prev_hash``."""
        return domain_hash(TAG_GENESIS, self.chain_id, self.encode())

    def validate(self) -> None:
        """``Genesis::validate``; raises ``VerifyError("InvalidGenesis", ...)``."""

        def bad(m: str) -> VerifyError:
            return VerifyError("InvalidGenesis", f"invalid genesis: {m}")

        if not self.validators or len(self.validators) > VALIDATORS_MAX:
            raise bad(f"needs 1 to {VALIDATORS_MAX} validators, has {len(self.validators)}")
        keys: set[bytes] = set()
        total = 0
        for v in self.validators:
            k = v.public_key.hex()
            if v.public_key in keys:
                raise bad(f"validator {k} listed twice")
            keys.add(v.public_key)
            if not ed25519.is_valid_point(v.public_key):
                raise bad(f"validator key {k} is not a valid ed25519 key")
            if v.power == 0:
                raise bad(f"validator {k} has zero power")
            total += v.power
        if total > TOTAL_POWER_MAX:
            raise bad(f"total voting power {total} exceeds {TOTAL_POWER_MAX}")
        if not self.governors or len(self.governors) > GOVERNORS_MAX:
            raise bad(f"needs 1 to {GOVERNORS_MAX} governors, has {len(self.governors)}")
        if len(set(self.governors)) != len(self.governors):
            raise bad("a governor is listed twice")
        for g in self.governors:
            if not ed25519.is_valid_point(g):
                raise bad(f"governor key {g.hex()} is not a valid ed25519 key")
        threshold = self.governance_threshold
        if threshold == 0 or threshold > len(self.governors):
            raise bad(f"governance threshold {threshold} must be between 1 and the number of governors ({len(self.governors)})")
        p = self.params
        if p.max_supply_limit == 0 or p.block_txs_max == 0 or p.tx_bytes_max < 256:
            raise bad("params: max_supply_limit and block_txs_max must be > 0, tx_bytes_max >= 256")


GenesisInput = Union[Genesis, str, bytes, "os.PathLike[str]", dict]  # type: ignore[type-arg]


def load_genesis(source: Any) -> Genesis:
    """``Genesis::from_json`` + ``validate``.

    ``source``: a :class:`Genesis` (returned as is, validated), JSON text
    (``str`` starting with ``{`` or ``bytes``), a parsed JSON object (e.g. the
    answer of ``keepsake_getGenesis``) or a path to ``genesis.json`` (at most
    1 MiB). Raises ``VerifyError("InvalidGenesis", ...)``.
    """
    if isinstance(source, Genesis):
        source.validate()
        return source
    value: Any
    try:
        if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("{")):
            path = os.fspath(source)
            try:
                with open(path, "rb") as f:
                    data = f.read(GENESIS_FILE_MAX + 1)
            except OSError as e:
                raise VerifyError("InvalidGenesis", f"invalid genesis: cannot read {path}: {e.strerror}") from None
            if len(data) > GENESIS_FILE_MAX:
                raise VerifyError("InvalidGenesis", f"invalid genesis: {path} is over {GENESIS_FILE_MAX} bytes")
            value = parse_json(data)
        elif isinstance(source, (str, bytes, bytearray)):
            if len(source) > GENESIS_FILE_MAX:
                raise VerifyError("InvalidGenesis", f"invalid genesis: over {GENESIS_FILE_MAX} bytes")
            value = parse_json(bytes(source) if isinstance(source, bytearray) else source)
        elif isinstance(source, dict):
            value = source
        else:
            raise VerifyError("InvalidGenesis", f"invalid genesis: cannot read a {type(source).__name__}")
        genesis = from_json(Genesis, value)
    except JsonError as e:
        raise VerifyError("InvalidGenesis", f"invalid genesis: {e}") from None
    genesis.validate()
    return genesis
