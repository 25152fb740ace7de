"""Strict JSON, with serde_json + ``deny_unknown_fields`` semantics.

The node, the genesis file and certificate files speak JSON produced by
serde. A file is read the way ``serde_json::from_str`` reads it into the Rust
types: unknown, duplicate or missing fields, wrong types, integers that are
negative, fractional, in exponent form or out of range, lone surrogates,
``NaN``/``Infinity`` and trailing characters are all refused. Fixed-size
values are hex of the exact length (either case, optional ``0x``). A struct
may also be given as a JSON array of its fields in order (serde accepts it).

Types are described by small spec objects (:class:`UInt`, :class:`Fixed`,
:class:`Vec`, :class:`Struct`, ...); a dataclass lists its fields in a
``SERDE`` class attribute. ``from_json`` builds the dataclass, ``to_json``
gives back the JSON value serde would write (fields skipped when empty where
Rust has ``skip_serializing_if``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Dict, Generic, Mapping, Sequence, Type, TypeVar

__all__ = [
    "JsonError",
    "parse_json",
    "Spec",
    "UInt",
    "U32",
    "U64",
    "STR",
    "BOOL",
    "CHAIN_ID",
    "Fixed",
    "H32",
    "SIG",
    "HEXBYTES",
    "Vec",
    "Opt",
    "Struct",
    "Field",
    "Tagged",
    "Choice",
    "from_json",
    "to_json",
    "check_chain_id",
]

T = TypeVar("T")

MAX_DEPTH = 128
CHAIN_ID_MAX_LEN = 64
_HEX = re.compile(r"[0-9a-fA-F]*")
_CHAIN_ID = re.compile(r"[a-z0-9-]+")


class JsonError(ValueError):
    """JSON that does not parse, or does not have the shape of the expected type."""


class _Float:
    """A JSON number with a fraction or an exponent (kept as text: never an integer)."""

    def __init__(self, raw: str) -> None:
        self.raw = raw


def _refuse_constant(name: str) -> Any:
    raise JsonError(f"invalid value {name}")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise JsonError(f"duplicate field `{k}`")
        out[k] = v
    return out


def _depth_ok(text: str) -> bool:
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def parse_json(text: str | bytes, strict_numbers: bool = True) -> Any:
    """Parses JSON strictly (duplicates refused, ``NaN`` refused). Raises :class:`JsonError`.

    With ``strict_numbers`` a number with a fraction or an exponent is kept as
    an opaque marker that no integer field accepts; without, it is a ``float``.
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonError(f"not valid UTF-8: {e}") from None
    if not isinstance(text, str):
        raise JsonError("JSON must be text")
    if not _depth_ok(text):
        raise JsonError("recursion limit exceeded")
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_float=_Float if strict_numbers else float,
            parse_constant=_refuse_constant,
        )
    except JsonError:
        raise
    except (ValueError, RecursionError) as e:  # JSONDecodeError, int digit limit
        raise JsonError(str(e)) from None


def _describe(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "sequence"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, _Float, float)):
        return "number"
    if v is None:
        return "null"
    return type(v).__name__


def _well_formed(s: str, path: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonError(f"{path or 'value'}: invalid unicode code point (lone surrogate)") from None
    return s


def check_chain_id(s: str) -> str:
    """The chain id rule (docs/protocol.md §2): 1 to 64 bytes of ``[a-z0-9-]``. Raises ``ValueError``."""
    n = len(s.encode("utf-8", "surrogatepass"))
    quoted = json.dumps(s[:16]) + ("..." if len(s) > 16 else "")
    if n == 0:
        raise JsonError(f"chain id {quoted} is empty")
    if n > CHAIN_ID_MAX_LEN:
        raise JsonError(f"chain id {quoted} is {n} bytes, over the limit of {CHAIN_ID_MAX_LEN}")
    if not _CHAIN_ID.fullmatch(s):
        raise JsonError(f"chain id {quoted} has a character outside [a-z0-9-]")
    return s


class Spec(Generic[T]):
    """A JSON type: ``convert`` (JSON value -> Python) and ``dump`` (Python -> JSON value)."""

    def convert(self, v: Any, path: str) -> T:
        raise NotImplementedError

    def dump(self, v: T) -> Any:
        raise NotImplementedError

    def is_empty(self, v: Any) -> bool:
        return v is None or (isinstance(v, (list, tuple)) and len(v) == 0)


class UInt(Spec[int]):
    def __init__(self, bits: int) -> None:
        self.bits = bits
        self.name = f"u{bits}"

    def convert(self, v: Any, path: str) -> int:
        if isinstance(v, bool) or not isinstance(v, (int, _Float)):
            raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected {self.name}")
        if isinstance(v, _Float) or v < 0 or v >> self.bits:
            raw = v.raw if isinstance(v, _Float) else str(v)
            raise JsonError(f"{path or 'value'}: invalid value: {raw}, expected {self.name}")
        return v

    def dump(self, v: int) -> Any:
        return v


class _Str(Spec[str]):
    def convert(self, v: Any, path: str) -> str:
        if not isinstance(v, str):
            raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected a string")
        return _well_formed(v, path)

    def dump(self, v: str) -> Any:
        return v


class _ChainId(_Str):
    def convert(self, v: Any, path: str) -> str:
        s = super().convert(v, path)
        try:
            return check_chain_id(s)
        except JsonError as e:
            raise JsonError(f"{path or 'value'}: {e}") from None


class _Bool(Spec[bool]):
    def convert(self, v: Any, path: str) -> bool:
        if not isinstance(v, bool):
            raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected a boolean")
        return v

    def dump(self, v: bool) -> Any:
        return v


def _unhex(v: Any, path: str) -> bytes:
    if not isinstance(v, str):
        raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected a string")
    digits = v[2:] if v.startswith("0x") else v
    if len(digits) % 2 or not _HEX.fullmatch(digits):
        raise JsonError(f"{path or 'value'}: invalid hex")
    return bytes.fromhex(digits)


class Fixed(Spec[bytes]):
    """A fixed-size value (hash, key, signature): exactly ``n`` bytes as hex, no length prefix on the wire."""

    def __init__(self, n: int, name: str) -> None:
        self.n = n
        self.name = name

    def convert(self, v: Any, path: str) -> bytes:
        if not isinstance(v, str):
            raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected a string")
        digits = v[2:] if v.startswith("0x") else v
        if len(digits) != 2 * self.n:
            raise JsonError(
                f"{path or 'value'}: invalid hex for {self.name}: expected {2 * self.n} hex digits, got {len(digits)}"
            )
        if not _HEX.fullmatch(digits):
            raise JsonError(f"{path or 'value'}: invalid hex for {self.name}: invalid character")
        return bytes.fromhex(digits)

    def dump(self, v: bytes) -> Any:
        return bytes(v).hex()


class _HexBytes(Spec[bytes]):
    def convert(self, v: Any, path: str) -> bytes:
        return _unhex(v, path)

    def dump(self, v: bytes) -> Any:
        return bytes(v).hex()


class Vec(Spec[list]):  # type: ignore[type-arg]
    def __init__(self, of: Spec[Any]) -> None:
        self.of = of

    def convert(self, v: Any, path: str) -> list:  # type: ignore[type-arg]
        if not isinstance(v, list):
            raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected a sequence")
        return [self.of.convert(x, f"{path}[{i}]") for i, x in enumerate(v)]

    def dump(self, v: Sequence[Any]) -> Any:
        return [self.of.dump(x) for x in v]


class Opt(Spec[Any]):
    def __init__(self, of: Spec[Any]) -> None:
        self.of = of

    def convert(self, v: Any, path: str) -> Any:
        return None if v is None else self.of.convert(v, path)

    def dump(self, v: Any) -> Any:
        return None if v is None else self.of.dump(v)


@dataclass(frozen=True)
class Field:
    """A struct field: ``default`` = ``#[serde(default)]`` (missing is empty/None);
    ``skip`` = ``skip_serializing_if`` (omitted when empty/None)."""

    name: str
    spec: Spec[Any]
    default: bool = False
    skip: bool = False


class Struct(Spec[Any]):
    """A dataclass whose ``SERDE`` attribute lists its :class:`Field` s in declaration order."""

    def __init__(self, cls: Type[Any], name: str | None = None) -> None:
        self.cls = cls
        self.name = name or cls.__name__

    @property
    def fields(self) -> Sequence[Field]:
        fields: Sequence[Field] = self.cls.SERDE
        return fields

    def convert(self, v: Any, path: str) -> Any:
        prefix = f"{path}." if path else ""
        out: Dict[str, Any] = {}
        fields = self.fields
        if isinstance(v, list):
            # serde's visit_seq: fields in order; only #[serde(default)] fields may be missing.
            if len(v) > len(fields):
                raise JsonError(f"{path or 'value'}: trailing characters")
            for i, f in enumerate(fields):
                if i < len(v):
                    out[f.name] = f.spec.convert(v[i], prefix + f.name)
                elif f.default:
                    out[f.name] = _empty(f)
                else:
                    raise JsonError(
                        f"{path or 'value'}: invalid length {len(v)}, expected struct {self.name} with {len(fields)} elements"
                    )
            return self.cls(**out)
        if not isinstance(v, dict):
            raise JsonError(f"{path or 'value'}: invalid type: {_describe(v)}, expected struct {self.name}")
        by_name = {f.name: f for f in fields}
        for key, value in v.items():
            known = by_name.get(key)
            if known is None:
                expected = ", ".join(f"`{x.name}`" for x in fields)
                raise JsonError(f"{path or 'value'}: unknown field `{key}`, expected one of {expected}")
            out[key] = known.spec.convert(value, prefix + key)
        for f in fields:
            if f.name in out:
                continue
            if f.default or isinstance(f.spec, Opt):
                out[f.name] = _empty(f)
            else:
                raise JsonError(f"{path or 'value'}: missing field `{f.name}`")
        return self.cls(**out)

    def dump(self, v: Any) -> Any:
        out: Dict[str, Any] = {}
        for f in self.fields:
            value = getattr(v, f.name)
            if f.skip and f.spec.is_empty(value):
                continue
            out[f.name] = f.spec.dump(value)
        return out


def _empty(f: Field) -> Any:
    return [] if isinstance(f.spec, Vec) else None


class Tagged(Spec[Any]):
    """An externally tagged enum (``{"mint": {...}}``): ``variants`` maps the snake_case tag to a dataclass."""

    def __init__(self, name: str, variants: Mapping[str, Type[Any]]) -> None:
        self.name = name
        self.variants = dict(variants)
        self.tags = {cls: tag for tag, cls in self.variants.items()}

    def convert(self, v: Any, path: str) -> Any:
        if not isinstance(v, dict) or len(v) != 1:
            raise JsonError(f"{path or 'value'}: expected an enum {self.name} as a map with one key")
        (tag, inner), = v.items()
        cls = self.variants.get(tag)
        if cls is None:
            expected = ", ".join(f"`{t}`" for t in self.variants)
            raise JsonError(f"{path or 'value'}: unknown variant `{tag}`, expected one of {expected}")
        return Struct(cls).convert(inner, f"{path}.{tag}" if path else tag)

    def dump(self, v: Any) -> Any:
        return {self.tags[type(v)]: Struct(type(v)).dump(v)}


class Choice(Spec[str]):
    """A unit-only enum written as a snake_case string (``"active"``)."""

    def __init__(self, name: str, values: Sequence[str]) -> None:
        self.name = name
        self.values = list(values)

    def convert(self, v: Any, path: str) -> str:
        if not isinstance(v, str) or v not in self.values:
            raise JsonError(f"{path or 'value'}: expected one of {self.values} ({self.name})")
        return v

    def dump(self, v: str) -> Any:
        return v


U32 = UInt(32)
U64 = UInt(64)
STR: Spec[str] = _Str()
BOOL: Spec[bool] = _Bool()
CHAIN_ID: Spec[str] = _ChainId()
H32 = Fixed(32, "Hash32")
SIG = Fixed(64, "Signature")
HEXBYTES: Spec[bytes] = _HexBytes()

C = TypeVar("C")


def from_json(cls: Type[C], value: Any, path: str = "") -> C:
    """Builds ``cls`` (a dataclass with ``SERDE``) from a parsed JSON value. Raises :class:`JsonError`."""
    out: C = Struct(cls).convert(value, path)
    return out


def to_json(obj: Any) -> Any:
    """The JSON value of a dataclass with ``SERDE``, as serde writes it."""
    return Struct(type(obj)).dump(obj)


class HasSerde:
    """Mixin: ``SERDE`` fields, ``from_json`` / ``to_json`` / ``from_text``."""

    SERDE: ClassVar[Sequence[Field]] = ()

    def to_json(self) -> Any:
        return to_json(self)

    @classmethod
    def from_json(cls: Type[C], value: Any) -> C:
        return from_json(cls, value)


