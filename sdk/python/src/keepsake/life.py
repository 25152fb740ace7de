"""The collectible's life without resale: licences, recipes, blind boxes (``life.rs``).

Data carried by transaction bodies 12-18, their canonical encoding (docs/protocol.md
§4.1), and the blind-box draw of §4.9, which every verifier must compute identically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, List, Optional, Sequence

from .encoding import Reader, pstr, varint
from .hashing import TAG_BOX_DRAW, domain_hash, seed_commitment
from .serde import H32, STR, U32, U64, Field, HasSerde, Opt, Struct, Vec

__all__ = [
    "BLIND_BOX_EDITIONS_MAX",
    "Licence",
    "RecipeInput",
    "Recipe",
    "BoxVariant",
    "BlindBoxTerms",
    "SeriesTerms",
    "draw_variants",
    "seed_commitment",
]

BLIND_BOX_EDITIONS_MAX = 10_000



@dataclass(frozen=True)
class Licence(HasSerde):
    """An issuer's qualification as governance attests it; in force while ``block time <= valid_until_ms``."""

    kind: str
    number: str
    valid_until_ms: int

    SERDE: ClassVar = (Field("kind", STR), Field("number", STR), Field("valid_until_ms", U64))

    def encode(self) -> bytes:
        return pstr(self.kind) + pstr(self.number) + varint(self.valid_until_ms)

    @staticmethod
    def read(r: Reader) -> "Licence":
        return Licence(kind=r.text(), number=r.text(), valid_until_ms=r.u64())


@dataclass(frozen=True)
class RecipeInput(HasSerde):
    """``count`` certificates of ``series_id``."""

    series_id: bytes
    count: int

    SERDE: ClassVar = (Field("series_id", H32), Field("count", U32))

    def encode(self) -> bytes:
        return bytes(self.series_id) + varint(self.count)


@dataclass(frozen=True)
class Recipe(HasSerde):
    """Burn exactly these certificates (by series and count) into one edition."""

    inputs: List[RecipeInput]

    SERDE: ClassVar = (Field("inputs", Vec(Struct(RecipeInput))),)

    def encode(self) -> bytes:
        return varint(len(self.inputs)) + b"".join(i.encode() for i in self.inputs)


@dataclass(frozen=True)
class BoxVariant(HasSerde):
    """One design of a blind box, and how many editions carry it."""

    name: str
    content_hash: bytes
    count: int

    SERDE: ClassVar = (Field("name", STR), Field("content_hash", H32), Field("count", U32))

    def encode(self) -> bytes:
        return pstr(self.name) + bytes(self.content_hash) + varint(self.count)


@dataclass(frozen=True)
class BlindBoxTerms(HasSerde):
    """The variants (a variant's index is its position) and the seed commitment."""

    variants: List[BoxVariant]
    seed_commitment: bytes

    SERDE: ClassVar = (Field("variants", Vec(Struct(BoxVariant))), Field("seed_commitment", H32))

    def encode(self) -> bytes:
        return varint(len(self.variants)) + b"".join(v.encode() for v in self.variants) + bytes(self.seed_commitment)


@dataclass(frozen=True)
class SeriesTerms(HasSerde):
    """What a series declares beyond a plain one, approved by its reviewer (review v2)."""

    recipes: List[Recipe] = field(default_factory=list)
    blind_box: Optional[BlindBoxTerms] = None

    SERDE: ClassVar = (Field("recipes", Vec(Struct(Recipe))), Field("blind_box", Opt(Struct(BlindBoxTerms))))

    def encode(self) -> bytes:
        recipes = varint(len(self.recipes)) + b"".join(r.encode() for r in self.recipes)
        box = b"\x00" if self.blind_box is None else b"\x01" + self.blind_box.encode()
        return recipes + box

    @staticmethod
    def read(r: Reader) -> "SeriesTerms":
        recipes = []
        for _ in range(r.length(1)):
            inputs = [RecipeInput(series_id=r.b32(), count=r.u32()) for _ in range(r.length(33))]
            recipes.append(Recipe(inputs=inputs))
        blind_box = None
        if r.option_tag():
            variants = [BoxVariant(name=r.text(), content_hash=r.b32(), count=r.u32()) for _ in range(r.length(34))]
            blind_box = BlindBoxTerms(variants=variants, seed_commitment=r.b32())
        return SeriesTerms(recipes=recipes, blind_box=blind_box)


def draw_variants(
    chain_id: str, series_id: bytes, seed: bytes, entropy: bytes, counts: Sequence[int]
) -> Optional[List[int]]:
    """``life::draw_variants``: for each edition ``e`` (1-based), its variant index at ``e - 1``.

    ``counts`` are the variants' counts in order. ``None`` when they sum over
    ``BLIND_BOX_EDITIONS_MAX`` (such terms are refused at creation).
    """
    if sum(counts) > BLIND_BOX_EDITIONS_MAX:
        return None
    deck: List[int] = []
    for index, count in enumerate(counts):
        deck.extend([index] * count)
    prefix = bytes(series_id) + bytes(seed) + bytes(entropy)
    block = 0
    words: List[int] = []

    def next_word() -> int:
        nonlocal block, words
        if not words:
            h = domain_hash(TAG_BOX_DRAW, chain_id, prefix + varint(block))
            block += 1
            words = [int.from_bytes(h[8 * k : 8 * k + 8], "big") for k in range(4)]
        return words.pop(0)

    two64 = 1 << 64
    for i in range(len(deck) - 1, 0, -1):
        bound = i + 1
        rem = two64 % bound  # words at or above 2^64 - rem would bias the draw
        while True:
            w = next_word()
            if rem == 0 or w < two64 - rem:
                break
        j = w % bound
        deck[i], deck[j] = deck[j], deck[i]
    return deck
