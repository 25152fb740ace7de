"""Validator-set transitions (docs/protocol.md §7.4; ``membership.rs``).

A verifier holding only the genesis learns the set that signed a checkpoint
from the transitions a certificate carries, each proven to the set before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar, List, Optional, Sequence

from . import ed25519
from .block import (
    AddValidator,
    Checkpoint,
    RemoveValidator,
    RotateValidatorKey,
    SetValidatorPower,
    Validator,
    ValidatorChange,
    quorum,
    total_power,
    verify_commit,
)
from .errors import VerifyError
from .genesis import TOTAL_POWER_MAX, VALIDATORS_MAX, Genesis
from .serde import Field, HasSerde, Struct
from .tx import ChangeValidators, LogEntryProof

__all__ = [
    "SET_CHANGE_DELAY",
    "TRANSITIONS_MAX",
    "ChangeRefusal",
    "SetTransition",
    "ScheduledSet",
    "ValidatorSchedule",
    "apply_change",
    "follow",
    "schedule_at_checkpoint",
]

SET_CHANGE_DELAY = 2
TRANSITIONS_MAX = 1024


class ChangeRefusal(Exception):
    """``ValidatorSet::apply`` refused a change: ``kind`` is NotAValidator, AlreadyAValidator, Invalid or Unsafe."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class SetTransition(HasSerde):
    """A ``ChangeValidators`` log entry and a checkpoint (signed by the set before it) whose log contains it."""

    change: LogEntryProof
    checkpoint: Checkpoint
    SERDE: ClassVar = (Field("change", Struct(LogEntryProof)), Field("checkpoint", Struct(Checkpoint)))


def apply_change(validators: Sequence[Validator], change: ValidatorChange) -> List[Validator]:
    """``ValidatorSet::apply``: the set after ``change``, or :class:`ChangeRefusal`, checks in the Rust order."""
    keys = [v.public_key for v in validators]

    def position(key: bytes) -> int:
        if key not in keys:
            raise ChangeRefusal("NotAValidator", f"{key.hex()} is not a validator")
        return keys.index(key)

    def fresh(key: bytes) -> None:
        if key in keys:
            raise ChangeRefusal("AlreadyAValidator", f"{key.hex()} is already a validator")
        if not ed25519.is_valid_point(key):
            raise ChangeRefusal("Invalid", f"{key.hex()} is not a valid ed25519 key")

    nxt = list(validators)
    newcomer: Optional[bytes] = None
    if isinstance(change, AddValidator):
        v = change.validator
        fresh(v.public_key)
        if v.power == 0:
            raise ChangeRefusal("Invalid", "a validator needs a power above 0")
        if len(validators) >= VALIDATORS_MAX:
            raise ChangeRefusal("Invalid", f"the set already has the most validators allowed ({VALIDATORS_MAX})")
        nxt.append(Validator(v.public_key, v.power, v.name))
        newcomer = v.public_key
    elif isinstance(change, RemoveValidator):
        del nxt[position(change.public_key)]
    elif isinstance(change, SetValidatorPower):
        i = position(change.public_key)
        if change.power == 0:
            raise ChangeRefusal("Invalid", "a power of 0 is not a removal: use the remove change")
        if nxt[i].power == change.power:
            raise ChangeRefusal("Invalid", f"{change.public_key.hex()} already has power {change.power}")
        nxt[i] = replace(nxt[i], power=change.power)
    elif isinstance(change, RotateValidatorKey):
        i = position(change.old_key)
        fresh(change.new_key)
        nxt[i] = replace(nxt[i], public_key=change.new_key)
        newcomer = change.new_key
    else:  # pragma: no cover - the decoder only builds the four kinds
        raise ChangeRefusal("Invalid", f"unknown validator change {change!r}")
    if not nxt:
        raise ChangeRefusal("Unsafe", "the set would have no validator left")
    total = total_power(nxt)
    if total > TOTAL_POWER_MAX:
        raise ChangeRefusal("Invalid", f"the total voting power would exceed {TOTAL_POWER_MAX}")
    kept = sum(v.power for v in nxt if v.public_key != newcomer)
    needed = quorum(nxt)
    if kept < needed:
        raise ChangeRefusal(
            "Unsafe",
            f"the validators already running would hold {kept} of {total} power, short of the quorum of {needed}",
        )
    return nxt


@dataclass(frozen=True)
class ScheduledSet:
    from_height: int
    validators: List[Validator]


@dataclass
class ValidatorSchedule:
    """The validator sets as far as followed, ascending by ``from_height``, the genesis set from 1."""

    sets: List[ScheduledSet] = field(default_factory=list)

    @staticmethod
    def genesis(genesis: Genesis) -> "ValidatorSchedule":
        return ValidatorSchedule([ScheduledSet(1, list(genesis.validators))])

    def at(self, height: int) -> List[Validator]:
        """The set governing ``height`` (the genesis set below the first change's)."""
        chosen = self.sets[0]
        for s in self.sets[1:]:
            if s.from_height <= height:
                chosen = s
        return chosen.validators

    def latest(self) -> ScheduledSet:
        return self.sets[-1]


def follow(genesis: Genesis, transitions: Sequence[SetTransition]) -> ValidatorSchedule:
    """``ValidatorSchedule::follow``, each check in the Rust order; raises the first failure."""
    if len(transitions) > TRANSITIONS_MAX:
        raise VerifyError(
            "TooLarge", f"set transitions is {len(transitions)} bytes, over the limit of {TRANSITIONS_MAX}"
        )
    schedule = ValidatorSchedule.genesis(genesis)
    leaf_max = genesis.params.log_leaf_bytes_max()
    for index, t in enumerate(transitions):

        def bad(reason: str) -> VerifyError:
            return VerifyError("InvalidTransition", f"validator-set transition {index} is invalid: {reason}")

        header = t.checkpoint.header
        if header.chain_id != genesis.chain_id:
            raise VerifyError("WrongChain", f"wrong chain: expected {genesis.chain_id!r}, got {header.chain_id!r}")
        latest = schedule.latest()
        if header.height < latest.from_height:
            raise bad(
                f"its checkpoint is at height {header.height}, before the previous set took effect at {latest.from_height}"
            )
        try:
            verify_commit(header, t.checkpoint.commit, latest.validators)
        except VerifyError as e:
            raise bad(f"checkpoint at height {header.height}: {e.message}") from None
        try:
            leaf = t.change.verify_against(t.checkpoint, "transition change", leaf_max)
        except VerifyError as e:
            raise bad(e.message) from None
        body = leaf.tx.body
        if not isinstance(body, ChangeValidators):
            raise bad(f"its entry is a {body.kind} transaction, not a validator-set change")
        if leaf.height < latest.from_height:
            raise bad(f"the change is at height {leaf.height}, before the previous set took effect at {latest.from_height}")
        from_height = leaf.height + SET_CHANGE_DELAY
        if header.height >= from_height:
            raise bad(f"its checkpoint (height {header.height}) is after the change took effect (height {from_height})")
        try:
            validators = apply_change(latest.validators, body.change)
        except ChangeRefusal as e:
            raise bad(f"the change is refused: {e.message}") from None
        schedule.sets.append(ScheduledSet(from_height, validators))
    return schedule


def schedule_at_checkpoint(schedule: ValidatorSchedule, checkpoint: Checkpoint, transitions: int) -> List[Validator]:
    """The set that signs ``checkpoint``, refusing transitions that take effect after it."""
    latest = schedule.latest()
    height = checkpoint.header.height
    if transitions > 0 and latest.from_height > height:
        raise VerifyError(
            "InvalidTransition",
            f"validator-set transition {transitions - 1} is invalid: it takes effect at height "
            f"{latest.from_height}, after the checkpoint at height {height}",
        )
    return schedule.at(height)
