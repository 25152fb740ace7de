"""Transaction bodies 0-18, signed transactions and log leaves (docs/protocol.md §4.1-§4.3, §5.1; ``tx.rs``).

Every body is a frozen dataclass with its canonical encoding (``encode()``:
``varint(variant index) || fields in order``) and its JSON (``to_json()``,
externally tagged: ``{"mint": {...}}``). :func:`sign` builds a
:class:`SignedTx`: each signature is RFC 8032 Ed25519 over
``preimage("keepsake/tx/v1", chain_id, encode(body))``; the transaction id is
the SHA-256 of exactly those bytes.

:func:`decode_log_leaf` decodes ``encode(LogLeaf)`` strictly
(``decode_canonical``), and :class:`LogEntryProof` checks a log entry against a
checkpoint (steps 4-6 of §7.2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Dict, List, Optional, Protocol, Sequence, Type

from . import ed25519, merkle
from .block import (
    KEY,
    VALIDATOR_CHANGE,
    Checkpoint,
    ValidatorChange,
    read_validator_change,
)
from .encoding import Reader, pstr, varint
from .errors import VerifyError, mismatch
from .hashing import TAG_REVIEW, TAG_REVIEW_TERMS, TAG_TX, domain_preimage, sha256
from .life import Licence, SeriesTerms
from .serde import (
    BOOL,
    H32,
    HEXBYTES,
    SIG,
    STR,
    U32,
    U64,
    Choice,
    Field,
    Fixed,
    HasSerde,
    JsonError,
    Struct,
    Tagged,
    Vec,
)

__all__ = [
    "Signer",
    "ReviewApproval",
    "ReviewSubject",
    "TxBody",
    "RegisterIssuer",
    "SetIssuerStatus",
    "RegisterReviewer",
    "RemoveReviewer",
    "CreateSeries",
    "Mint",
    "Revoke",
    "Transfer",
    "ChangeValidators",
    "SetGovernance",
    "RegisterObserver",
    "RemoveObserver",
    "SetIssuerLicence",
    "WithdrawIssuerLicence",
    "SetLicencePolicy",
    "CreateSeriesWithTerms",
    "Synthesize",
    "CloseBlindBox",
    "RevealBlindBox",
    "TX_BODY",
    "TxSignature",
    "SignedTx",
    "LogLeaf",
    "LogEntryProof",
    "sign",
    "decode_tx_body",
    "decode_signed_tx",
    "decode_log_leaf",
    "review_message",
]

SERIES = Fixed(32, "SeriesId")
CERT = Fixed(32, "CertificateId")
HOLDER = Fixed(32, "HolderId")
CONTENT = Fixed(32, "ContentHash")
ISSUER_STATUS = Choice("IssuerStatus", ["active", "suspended"])


class Signer(Protocol):
    """Anything that signs like a :class:`keepsake.Keypair`."""

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class ReviewApproval(HasSerde):
    """A reviewer's signed approval, carried inside a series creation."""

    reviewer: bytes
    signature: bytes
    SERDE: ClassVar = (Field("reviewer", KEY), Field("signature", SIG))

    def encode(self) -> bytes:
        return bytes(self.reviewer) + bytes(self.signature)


@dataclass(frozen=True)
class ReviewSubject:
    """What a reviewer approves: exactly the series as it will be created (§4.3)."""

    issuer: bytes
    name: str
    content_hash: bytes
    max_supply: int
    metadata_uri: str

    def encode(self) -> bytes:
        return (
            bytes(self.issuer) + pstr(self.name) + bytes(self.content_hash) + varint(self.max_supply) + pstr(self.metadata_uri)
        )

    def message(self, chain_id: str, terms: Optional[SeriesTerms] = None) -> bytes:
        """``keepsake/review/v1`` over the subject, or ``keepsake/review/v2`` over (subject, terms)."""
        return review_message(chain_id, self, terms)

    def approve(self, chain_id: str, reviewer: Signer, terms: Optional[SeriesTerms] = None) -> ReviewApproval:
        """The reviewer's approval of this subject (and terms): ``ReviewSubject::approve_with``."""
        return ReviewApproval(reviewer=reviewer.public_key, signature=reviewer.sign(self.message(chain_id, terms)))

    def into_body(self, approval: ReviewApproval, terms: Optional[SeriesTerms] = None) -> "CreateSeries | CreateSeriesWithTerms":
        """A ``CreateSeries`` without terms, a ``CreateSeriesWithTerms`` with them."""
        if terms is None:
            return CreateSeries(self.issuer, self.name, self.content_hash, self.max_supply, self.metadata_uri, approval)
        return CreateSeriesWithTerms(
            self.issuer, self.name, self.content_hash, self.max_supply, self.metadata_uri, terms, approval
        )


def review_message(chain_id: str, subject: ReviewSubject, terms: Optional[SeriesTerms] = None) -> bytes:
    """What a series' reviewer signs (``tx.rs`` ``ReviewSubject::message``)."""
    if terms is None:
        return domain_preimage(TAG_REVIEW, chain_id, subject.encode())
    return domain_preimage(TAG_REVIEW_TERMS, chain_id, subject.encode() + terms.encode())


class TxBody(HasSerde):
    """Base of the 19 bodies. ``INDEX`` is the wire variant index, ``KIND`` the JSON tag."""

    INDEX: ClassVar[int]
    KIND: ClassVar[str]

    def encode_fields(self) -> bytes:
        raise NotImplementedError

    def encode(self) -> bytes:
        """``encode(body)``: what the transaction id and every signature cover."""
        return varint(self.INDEX) + self.encode_fields()

    @property
    def kind(self) -> str:
        return self.KIND

    def id(self, chain_id: str) -> bytes:
        """The transaction id: ``domain_hash("keepsake/tx/v1", chain_id, encode(body))``."""
        return sha256(self.signing_message(chain_id))

    def signing_message(self, chain_id: str) -> bytes:
        return domain_preimage(TAG_TX, chain_id, self.encode())

    def body_json(self) -> Dict[str, Any]:
        """``{"<kind>": {...}}`` (``TxBody`` is externally tagged)."""
        out: Dict[str, Any] = TX_BODY.dump(self)
        return out


@dataclass(frozen=True)
class RegisterIssuer(TxBody):
    issuer: bytes
    name: str
    nonce: int
    INDEX: ClassVar = 0
    KIND: ClassVar = "register_issuer"
    SERDE: ClassVar = (Field("issuer", KEY), Field("name", STR), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.issuer) + pstr(self.name) + varint(self.nonce)


@dataclass(frozen=True)
class SetIssuerStatus(TxBody):
    issuer: bytes
    status: str  # "active" | "suspended"
    nonce: int
    INDEX: ClassVar = 1
    KIND: ClassVar = "set_issuer_status"
    SERDE: ClassVar = (Field("issuer", KEY), Field("status", ISSUER_STATUS), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        if self.status not in ("active", "suspended"):
            raise ValueError(f"status must be 'active' or 'suspended', got {self.status!r}")
        return bytes(self.issuer) + varint(0 if self.status == "active" else 1) + varint(self.nonce)


@dataclass(frozen=True)
class RegisterReviewer(TxBody):
    reviewer: bytes
    name: str
    nonce: int
    INDEX: ClassVar = 2
    KIND: ClassVar = "register_reviewer"
    SERDE: ClassVar = (Field("reviewer", KEY), Field("name", STR), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.reviewer) + pstr(self.name) + varint(self.nonce)


@dataclass(frozen=True)
class RemoveReviewer(TxBody):
    reviewer: bytes
    nonce: int
    INDEX: ClassVar = 3
    KIND: ClassVar = "remove_reviewer"
    SERDE: ClassVar = (Field("reviewer", KEY), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.reviewer) + varint(self.nonce)


@dataclass(frozen=True)
class CreateSeries(TxBody):
    issuer: bytes
    name: str
    content_hash: bytes
    max_supply: int
    metadata_uri: str
    approval: ReviewApproval
    INDEX: ClassVar = 4
    KIND: ClassVar = "create_series"
    SERDE: ClassVar = (
        Field("issuer", KEY),
        Field("name", STR),
        Field("content_hash", CONTENT),
        Field("max_supply", U32),
        Field("metadata_uri", STR),
        Field("approval", Struct(ReviewApproval)),
    )

    @property
    def subject(self) -> ReviewSubject:
        return ReviewSubject(self.issuer, self.name, self.content_hash, self.max_supply, self.metadata_uri)

    terms: ClassVar[Optional[SeriesTerms]] = None

    def encode_fields(self) -> bytes:
        return self.subject.encode() + self.approval.encode()


@dataclass(frozen=True)
class Mint(TxBody):
    series_id: bytes
    edition: int
    holder: bytes
    INDEX: ClassVar = 5
    KIND: ClassVar = "mint"
    SERDE: ClassVar = (Field("series_id", SERIES), Field("edition", U32), Field("holder", HOLDER))

    def encode_fields(self) -> bytes:
        return bytes(self.series_id) + varint(self.edition) + bytes(self.holder)


@dataclass(frozen=True)
class Revoke(TxBody):
    certificate_id: bytes
    reason: str
    INDEX: ClassVar = 6
    KIND: ClassVar = "revoke"
    SERDE: ClassVar = (Field("certificate_id", CERT), Field("reason", STR))

    def encode_fields(self) -> bytes:
        return bytes(self.certificate_id) + pstr(self.reason)


@dataclass(frozen=True)
class Transfer(TxBody):
    """Exists so clients get ``TransferForbidden`` (4001): never valid."""

    certificate_id: bytes
    to: bytes
    INDEX: ClassVar = 7
    KIND: ClassVar = "transfer"
    SERDE: ClassVar = (Field("certificate_id", CERT), Field("to", HOLDER))

    def encode_fields(self) -> bytes:
        return bytes(self.certificate_id) + bytes(self.to)


@dataclass(frozen=True)
class ChangeValidators(TxBody):
    change: ValidatorChange
    nonce: int
    INDEX: ClassVar = 8
    KIND: ClassVar = "change_validators"
    SERDE: ClassVar = (Field("change", VALIDATOR_CHANGE), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return self.change.encode() + varint(self.nonce)


@dataclass(frozen=True)
class SetGovernance(TxBody):
    governors: List[bytes]
    threshold: int
    nonce: int
    INDEX: ClassVar = 9
    KIND: ClassVar = "set_governance"
    SERDE: ClassVar = (Field("governors", Vec(KEY)), Field("threshold", U32), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return varint(len(self.governors)) + b"".join(bytes(g) for g in self.governors) + varint(self.threshold) + varint(self.nonce)


@dataclass(frozen=True)
class RegisterObserver(TxBody):
    observer: bytes
    name: str
    nonce: int
    INDEX: ClassVar = 10
    KIND: ClassVar = "register_observer"
    SERDE: ClassVar = (Field("observer", KEY), Field("name", STR), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.observer) + pstr(self.name) + varint(self.nonce)


@dataclass(frozen=True)
class RemoveObserver(TxBody):
    observer: bytes
    nonce: int
    INDEX: ClassVar = 11
    KIND: ClassVar = "remove_observer"
    SERDE: ClassVar = (Field("observer", KEY), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.observer) + varint(self.nonce)


@dataclass(frozen=True)
class SetIssuerLicence(TxBody):
    issuer: bytes
    licence: Licence
    nonce: int
    INDEX: ClassVar = 12
    KIND: ClassVar = "set_issuer_licence"
    SERDE: ClassVar = (Field("issuer", KEY), Field("licence", Struct(Licence)), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.issuer) + self.licence.encode() + varint(self.nonce)


@dataclass(frozen=True)
class WithdrawIssuerLicence(TxBody):
    issuer: bytes
    reason: str
    nonce: int
    INDEX: ClassVar = 13
    KIND: ClassVar = "withdraw_issuer_licence"
    SERDE: ClassVar = (Field("issuer", KEY), Field("reason", STR), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return bytes(self.issuer) + pstr(self.reason) + varint(self.nonce)


@dataclass(frozen=True)
class SetLicencePolicy(TxBody):
    required: bool
    nonce: int
    INDEX: ClassVar = 14
    KIND: ClassVar = "set_licence_policy"
    SERDE: ClassVar = (Field("required", BOOL), Field("nonce", U64))

    def encode_fields(self) -> bytes:
        return (b"\x01" if self.required else b"\x00") + varint(self.nonce)


@dataclass(frozen=True)
class CreateSeriesWithTerms(TxBody):
    issuer: bytes
    name: str
    content_hash: bytes
    max_supply: int
    metadata_uri: str
    terms: SeriesTerms
    approval: ReviewApproval
    INDEX: ClassVar = 15
    KIND: ClassVar = "create_series_with_terms"
    SERDE: ClassVar = (
        Field("issuer", KEY),
        Field("name", STR),
        Field("content_hash", CONTENT),
        Field("max_supply", U32),
        Field("metadata_uri", STR),
        Field("terms", Struct(SeriesTerms)),
        Field("approval", Struct(ReviewApproval)),
    )

    @property
    def subject(self) -> ReviewSubject:
        return ReviewSubject(self.issuer, self.name, self.content_hash, self.max_supply, self.metadata_uri)

    def encode_fields(self) -> bytes:
        return self.subject.encode() + self.terms.encode() + self.approval.encode()


@dataclass(frozen=True)
class Synthesize(TxBody):
    series_id: bytes
    recipe: int
    inputs: List[bytes]
    edition: int
    holder: bytes
    INDEX: ClassVar = 16
    KIND: ClassVar = "synthesize"
    SERDE: ClassVar = (
        Field("series_id", SERIES),
        Field("recipe", U32),
        Field("inputs", Vec(CERT)),
        Field("edition", U32),
        Field("holder", HOLDER),
    )

    def encode_fields(self) -> bytes:
        return (
            bytes(self.series_id)
            + varint(self.recipe)
            + varint(len(self.inputs))
            + b"".join(bytes(i) for i in self.inputs)
            + varint(self.edition)
            + bytes(self.holder)
        )


@dataclass(frozen=True)
class CloseBlindBox(TxBody):
    series_id: bytes
    INDEX: ClassVar = 17
    KIND: ClassVar = "close_blind_box"
    SERDE: ClassVar = (Field("series_id", SERIES),)

    def encode_fields(self) -> bytes:
        return bytes(self.series_id)


@dataclass(frozen=True)
class RevealBlindBox(TxBody):
    series_id: bytes
    seed: bytes
    entropy: bytes
    INDEX: ClassVar = 18
    KIND: ClassVar = "reveal_blind_box"
    SERDE: ClassVar = (Field("series_id", SERIES), Field("seed", H32), Field("entropy", H32))

    def encode_fields(self) -> bytes:
        return bytes(self.series_id) + bytes(self.seed) + bytes(self.entropy)


_BODIES: List[Type[TxBody]] = [
    RegisterIssuer,
    SetIssuerStatus,
    RegisterReviewer,
    RemoveReviewer,
    CreateSeries,
    Mint,
    Revoke,
    Transfer,
    ChangeValidators,
    SetGovernance,
    RegisterObserver,
    RemoveObserver,
    SetIssuerLicence,
    WithdrawIssuerLicence,
    SetLicencePolicy,
    CreateSeriesWithTerms,
    Synthesize,
    CloseBlindBox,
    RevealBlindBox,
]
assert [b.INDEX for b in _BODIES] == list(range(19))
TX_BODY = Tagged("TxBody", {b.KIND: b for b in _BODIES})


def read_tx_body(r: Reader) -> TxBody:
    """One ``TxBody`` from a strict reader (variant index, then fields in order)."""
    v = r.u32()
    if v == 0:
        return RegisterIssuer(issuer=r.b32(), name=r.text(), nonce=r.u64())
    if v == 1:
        issuer = r.b32()
        s = r.u32()
        if s > 1:
            raise r.bad(f"unknown IssuerStatus variant {s}")
        return SetIssuerStatus(issuer=issuer, status="active" if s == 0 else "suspended", nonce=r.u64())
    if v == 2:
        return RegisterReviewer(reviewer=r.b32(), name=r.text(), nonce=r.u64())
    if v == 3:
        return RemoveReviewer(reviewer=r.b32(), nonce=r.u64())
    if v == 4:
        issuer, name, content, supply, uri = r.b32(), r.text(), r.b32(), r.u32(), r.text()
        return CreateSeries(issuer, name, content, supply, uri, ReviewApproval(r.b32(), r.b64()))
    if v == 5:
        return Mint(series_id=r.b32(), edition=r.u32(), holder=r.b32())
    if v == 6:
        return Revoke(certificate_id=r.b32(), reason=r.text())
    if v == 7:
        return Transfer(certificate_id=r.b32(), to=r.b32())
    if v == 8:
        return ChangeValidators(change=read_validator_change(r), nonce=r.u64())
    if v == 9:
        governors = [r.b32() for _ in range(r.length(32))]
        return SetGovernance(governors=governors, threshold=r.u32(), nonce=r.u64())
    if v == 10:
        return RegisterObserver(observer=r.b32(), name=r.text(), nonce=r.u64())
    if v == 11:
        return RemoveObserver(observer=r.b32(), nonce=r.u64())
    if v == 12:
        return SetIssuerLicence(issuer=r.b32(), licence=Licence.read(r), nonce=r.u64())
    if v == 13:
        return WithdrawIssuerLicence(issuer=r.b32(), reason=r.text(), nonce=r.u64())
    if v == 14:
        return SetLicencePolicy(required=r.boolean(), nonce=r.u64())
    if v == 15:
        issuer, name, content, supply, uri = r.b32(), r.text(), r.b32(), r.u32(), r.text()
        terms = SeriesTerms.read(r)
        return CreateSeriesWithTerms(issuer, name, content, supply, uri, terms, ReviewApproval(r.b32(), r.b64()))
    if v == 16:
        series, recipe = r.b32(), r.u32()
        inputs = [r.b32() for _ in range(r.length(32))]
        return Synthesize(series_id=series, recipe=recipe, inputs=inputs, edition=r.u32(), holder=r.b32())
    if v == 17:
        return CloseBlindBox(series_id=r.b32())
    if v == 18:
        return RevealBlindBox(series_id=r.b32(), seed=r.b32(), entropy=r.b32())
    raise r.bad(f"unknown TxBody variant {v}")


@dataclass(frozen=True)
class TxSignature(HasSerde):
    signer: bytes
    signature: bytes
    SERDE: ClassVar = (Field("signer", KEY), Field("signature", SIG))


@dataclass(frozen=True)
class SignedTx:
    """``body || signatures``. ``body_bytes`` is ``encode(body)`` (sliced from the leaf when decoded)."""

    body: TxBody
    signatures: List[TxSignature]
    body_bytes: bytes = field(default=b"", compare=False)

    def __post_init__(self) -> None:
        if not self.body_bytes:
            object.__setattr__(self, "body_bytes", self.body.encode())

    def encode(self) -> bytes:
        return (
            self.body_bytes
            + varint(len(self.signatures))
            + b"".join(bytes(s.signer) + bytes(s.signature) for s in self.signatures)
        )

    def id(self, chain_id: str) -> bytes:
        return sha256(domain_preimage(TAG_TX, chain_id, self.body_bytes))

    def to_json(self) -> Dict[str, Any]:
        """The ``SignedTx`` JSON ``keepsake_submitTx`` takes."""
        return {"body": TX_BODY.dump(self.body), "signatures": [s.to_json() for s in self.signatures]}

    @staticmethod
    def from_json(value: Any) -> "SignedTx":
        """Parses a ``SignedTx`` JSON value (raises ``VerifyError`` ``Malformed``)."""
        try:
            if not isinstance(value, dict) or set(value) != {"body", "signatures"}:
                raise JsonError("a SignedTx is {\"body\", \"signatures\"}")
            body = TX_BODY.convert(value["body"], "body")
            sigs = Vec(Struct(TxSignature)).convert(value["signatures"], "signatures")
        except JsonError as e:
            raise VerifyError("Malformed", f"malformed transaction: {e}") from None
        return SignedTx(body=body, signatures=sigs)

    def check_signatures(self, chain_id: str) -> None:
        """Every signature verifies (ZIP-215) over the signing message (§4.2)."""
        msg = domain_preimage(TAG_TX, chain_id, self.body_bytes)
        for s in self.signatures:
            ed25519.verify(s.signer, msg, s.signature, "transaction")

    def signed_by(self, key: bytes) -> bool:
        return any(s.signer == key for s in self.signatures)


def sign(body: TxBody, chain_id: str, signers: Sequence[Signer]) -> SignedTx:
    """Signs ``body`` for ``chain_id`` with each signer, in order (``TxBody::sign``)."""
    body_bytes = body.encode()
    msg = domain_preimage(TAG_TX, chain_id, body_bytes)
    sigs = [TxSignature(signer=s.public_key, signature=s.sign(msg)) for s in signers]
    return SignedTx(body=body, signatures=sigs, body_bytes=body_bytes)


def _read_signed_tx(r: Reader) -> SignedTx:
    start = r.i
    body = read_tx_body(r)
    body_bytes = r.d[start : r.i]
    sigs = [TxSignature(signer=r.b32(), signature=r.b64()) for _ in range(r.length(96))]
    return SignedTx(body=body, signatures=sigs, body_bytes=body_bytes)


def _too_large(what: str, n: int, max_len: int) -> VerifyError:
    return VerifyError("TooLarge", f"{what} is {n} bytes, over the limit of {max_len}")


def decode_tx_body(data: bytes, max_len: int = 1 << 20, what: str = "transaction body") -> TxBody:
    """Strict decoding of ``encode(body)``."""
    if len(data) > max_len:
        raise _too_large(what, len(data), max_len)
    r = Reader(data, what)
    body = read_tx_body(r)
    r.finish()
    return body


def decode_signed_tx(data: bytes, max_len: int, what: str = "transaction") -> SignedTx:
    """Strict decoding of ``encode(SignedTx)``, size bound first (``TooLarge``)."""
    if len(data) > max_len:
        raise _too_large(what, len(data), max_len)
    r = Reader(data, what)
    tx = _read_signed_tx(r)
    r.finish()
    return tx


@dataclass(frozen=True)
class LogLeaf:
    """``height || time_ms || tx``: a committed transaction in the collectible log."""

    height: int
    time_ms: int
    tx: SignedTx

    def encode(self) -> bytes:
        return varint(self.height) + varint(self.time_ms) + self.tx.encode()


def decode_log_leaf(data: bytes, max_len: int, what: str = "log leaf") -> LogLeaf:
    """``decode_canonical::<LogLeaf>``: the size bound first (``TooLarge``), then strict decoding (``Malformed``)."""
    if len(data) > max_len:
        raise _too_large(what, len(data), max_len)
    r = Reader(data, what)
    height, time_ms = r.u64(), r.u64()
    tx = _read_signed_tx(r)
    r.finish()
    return LogLeaf(height=height, time_ms=time_ms, tx=tx)


@dataclass(frozen=True)
class LogEntryProof(HasSerde):
    """A log entry (``encode(LogLeaf)``) with its RFC 9162 inclusion proof."""

    leaf_index: int
    leaf: bytes
    proof: List[bytes]
    SERDE: ClassVar = (Field("leaf_index", U64), Field("leaf", HEXBYTES), Field("proof", Vec(H32)))

    def check_inclusion(self, checkpoint: Checkpoint, field_name: str) -> None:
        h = checkpoint.header
        try:
            merkle.verify_inclusion(merkle.leaf_hash(self.leaf), self.leaf_index, h.log_size, self.proof, h.log_root)
        except VerifyError as e:
            reason = e.message.removeprefix("log proof invalid: ")
            raise VerifyError("ProofMismatch", f"log proof invalid: {field_name}: {reason}") from None

    def decode_against(self, checkpoint: Checkpoint, field_name: str, leaf_max: int) -> LogLeaf:
        leaf = decode_log_leaf(self.leaf, leaf_max, field_name)
        if leaf.height > checkpoint.header.height:
            raise mismatch(
                field_name,
                f"leaf height {leaf.height} is above the checkpoint height {checkpoint.header.height}",
            )
        return leaf

    def verify_against(self, checkpoint: Checkpoint, field_name: str, leaf_max: int) -> LogLeaf:
        """``LogEntryProof::verify_against``: inclusion proof, canonical decoding, leaf height."""
        self.check_inclusion(checkpoint, field_name)
        return self.decode_against(checkpoint, field_name, leaf_max)


