"""Validators, headers, commits and checkpoints (docs/protocol.md §4.5-§4.7; ``block.rs``).

``verify_commit`` is ``Commit::verify`` with its checks in the Rust order:
height, block hash, validator-set hash, then each signature (known validator,
not twice, valid under ZIP-215), then the quorum ``floor(2 * total / 3) + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, List, Optional, Sequence, Union

from . import ed25519
from .encoding import Reader, U64_MAX, pstr, varint
from .errors import VerifyError
from .hashing import TAG_HEADER, TAG_VALIDATORS, TAG_VOTE, domain_hash, domain_preimage
from .serde import CHAIN_ID, H32, SIG, STR, U32, U64, Field, Fixed, HasSerde, Struct, Tagged, Vec

__all__ = [
    "Validator",
    "AddValidator",
    "RemoveValidator",
    "SetValidatorPower",
    "RotateValidatorKey",
    "ValidatorChange",
    "VALIDATOR_CHANGE",
    "Header",
    "CommitSignature",
    "Commit",
    "Checkpoint",
    "CommitVerdict",
    "encode_validators",
    "validators_hash",
    "encode_vote_data",
    "verify_commit",
    "total_power",
    "quorum",
]

KEY = Fixed(32, "PublicKey")


@dataclass(frozen=True)
class Validator(HasSerde):
    public_key: bytes
    power: int
    name: str

    SERDE: ClassVar = (Field("public_key", KEY), Field("power", U64), Field("name", STR))

    def encode(self) -> bytes:
        return bytes(self.public_key) + varint(self.power) + pstr(self.name)


# ValidatorChange (membership.rs): variant index, then the variant's fields.
@dataclass(frozen=True)
class AddValidator(HasSerde):
    validator: Validator
    INDEX: ClassVar = 0
    SERDE: ClassVar = (Field("validator", Struct(Validator)),)

    def encode(self) -> bytes:
        return varint(self.INDEX) + self.validator.encode()


@dataclass(frozen=True)
class RemoveValidator(HasSerde):
    public_key: bytes
    INDEX: ClassVar = 1
    SERDE: ClassVar = (Field("public_key", KEY),)

    def encode(self) -> bytes:
        return varint(self.INDEX) + bytes(self.public_key)


@dataclass(frozen=True)
class SetValidatorPower(HasSerde):
    public_key: bytes
    power: int
    INDEX: ClassVar = 2
    SERDE: ClassVar = (Field("public_key", KEY), Field("power", U64))

    def encode(self) -> bytes:
        return varint(self.INDEX) + bytes(self.public_key) + varint(self.power)


@dataclass(frozen=True)
class RotateValidatorKey(HasSerde):
    old_key: bytes
    new_key: bytes
    INDEX: ClassVar = 3
    SERDE: ClassVar = (Field("old_key", KEY), Field("new_key", KEY))

    def encode(self) -> bytes:
        return varint(self.INDEX) + bytes(self.old_key) + bytes(self.new_key)


ValidatorChange = Union[AddValidator, RemoveValidator, SetValidatorPower, RotateValidatorKey]
VALIDATOR_CHANGE = Tagged(
    "ValidatorChange",
    {"add": AddValidator, "remove": RemoveValidator, "set_power": SetValidatorPower, "rotate_key": RotateValidatorKey},
)


def read_validator_change(r: Reader) -> ValidatorChange:
    v = r.u32()
    if v == 0:
        return AddValidator(Validator(public_key=r.b32(), power=r.u64(), name=r.text()))
    if v == 1:
        return RemoveValidator(public_key=r.b32())
    if v == 2:
        return SetValidatorPower(public_key=r.b32(), power=r.u64())
    if v == 3:
        return RotateValidatorKey(old_key=r.b32(), new_key=r.b32())
    raise r.bad(f"unknown ValidatorChange variant {v}")


def encode_validators(validators: Sequence[Validator]) -> bytes:
    return varint(len(validators)) + b"".join(v.encode() for v in validators)


def validators_hash(chain_id: str, validators: Sequence[Validator]) -> bytes:
    return domain_hash(TAG_VALIDATORS, chain_id, encode_validators(validators))


def total_power(validators: Sequence[Validator]) -> int:
    return sum(v.power for v in validators)


def quorum(validators: Sequence[Validator]) -> int:
    """The smallest power strictly above two thirds of the total."""
    return total_power(validators) * 2 // 3 + 1


@dataclass(frozen=True)
class Header(HasSerde):
    chain_id: str
    height: int
    prev_hash: bytes
    time_ms: int
    proposer: bytes
    tx_count: int
    tx_root: bytes
    log_size: int
    log_root: bytes
    validators_hash: bytes
    state_root: bytes

    SERDE: ClassVar = (
        Field("chain_id", CHAIN_ID),
        Field("height", U64),
        Field("prev_hash", Fixed(32, "BlockHash")),
        Field("time_ms", U64),
        Field("proposer", KEY),
        Field("tx_count", U32),
        Field("tx_root", H32),
        Field("log_size", U64),
        Field("log_root", H32),
        Field("validators_hash", H32),
        Field("state_root", H32),
    )

    def encode(self) -> bytes:
        return (
            pstr(self.chain_id)
            + varint(self.height)
            + self.prev_hash
            + varint(self.time_ms)
            + self.proposer
            + varint(self.tx_count)
            + self.tx_root
            + varint(self.log_size)
            + self.log_root
            + self.validators_hash
            + self.state_root
        )

    def hash(self) -> bytes:
        """The block hash: ``domain_hash("keepsake/header/v1", chain_id, encode(header))``."""
        return domain_hash(TAG_HEADER, self.chain_id, self.encode())


@dataclass(frozen=True)
class CommitSignature(HasSerde):
    validator: bytes
    signature: bytes
    SERDE: ClassVar = (Field("validator", KEY), Field("signature", SIG))


@dataclass(frozen=True)
class Commit(HasSerde):
    height: int
    round: int
    block_hash: bytes
    signatures: List[CommitSignature]

    SERDE: ClassVar = (
        Field("height", U64),
        Field("round", U32),
        Field("block_hash", Fixed(32, "BlockHash")),
        Field("signatures", Vec(Struct(CommitSignature))),
    )


@dataclass(frozen=True)
class Checkpoint(HasSerde):
    """A header and the commit (quorum of precommits) that finalised it."""

    header: Header
    commit: Commit
    SERDE: ClassVar = (Field("header", Struct(Header)), Field("commit", Struct(Commit)))


def encode_vote_data(height: int, round_: int, kind: int, block_hash: Optional[bytes]) -> bytes:
    """``encode(VoteData)``: kind 0 prevote, 1 precommit; ``None`` block hash = a nil vote."""
    tail = b"\x00" if block_hash is None else b"\x01" + bytes(block_hash)
    return varint(height) + varint(round_) + bytes([kind]) + tail


@dataclass(frozen=True)
class CommitVerdict:
    signed_power: int
    total_power: int
    needed: int
    block_hash: bytes


def verify_commit(header: Header, commit: Commit, validators: Sequence[Validator]) -> CommitVerdict:
    """``Commit::verify(header, validators)``; raises the first failure's ``VerifyError``."""
    if commit.height != header.height:
        raise VerifyError(
            "CommitHeightMismatch", f"commit height mismatch: expected {header.height}, got {commit.height}"
        )
    expected = header.hash()
    if commit.block_hash != expected:
        raise VerifyError(
            "CommitBlockMismatch", f"commit is for block {commit.block_hash.hex()}, expected {expected.hex()}"
        )
    vs_hash = validators_hash(header.chain_id, validators)
    if header.validators_hash != vs_hash:
        raise VerifyError(
            "ValidatorSetMismatch",
            f"header validator set hash {header.validators_hash.hex()} does not match the expected set {vs_hash.hex()}",
        )
    message = domain_preimage(TAG_VOTE, header.chain_id, encode_vote_data(commit.height, commit.round, 1, expected))
    power_of = {v.public_key: v.power for v in validators}
    seen: set[bytes] = set()
    power = 0
    for s in commit.signatures:
        if s.validator not in power_of:
            raise VerifyError("UnknownValidator", f"commit signed by {s.validator.hex()}, which is not a validator")
        if s.validator in seen:
            raise VerifyError("DuplicateCommitSignature", f"validator {s.validator.hex()} signed the commit twice")
        seen.add(s.validator)
        ed25519.verify(s.validator, message, s.signature, "commit precommit")
        power = min(power + power_of[s.validator], U64_MAX)
    total = total_power(validators)
    needed = total * 2 // 3 + 1
    if power < needed:
        raise VerifyError(
            "InsufficientPower",
            f"commit carries voting power {power}, needs at least {needed} (more than 2/3 of {total})",
        )
    return CommitVerdict(signed_power=power, total_power=total, needed=needed, block_hash=expected)
