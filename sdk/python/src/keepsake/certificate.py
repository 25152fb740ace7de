"""Certificates and status answers, verified offline against the genesis alone.

``verify_certificate`` is ``Certificate::verify`` (``crates/types/src/certificate.rs``,
``life_proof.rs``; docs/protocol.md §7.2, §7.2b) and ``verify_status`` is
``CertificateStatus::verify`` (§7.2a): the same checks, in the same order, with
the same stable error codes (``VerifyError.code``), as the Rust verifier and
``web/verify.js``. Nothing in a file is trusted before it is checked; the
genesis is the only trust anchor.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, ClassVar, List, Optional, Union

from . import ed25519, merkle
from .block import KEY, Checkpoint, verify_commit
from .errors import VerifyError, mismatch
from .genesis import Genesis, load_genesis
from .hashing import certificate_id as _certificate_id
from .hashing import holder_id, seed_commitment, series_id as _series_id
from .life import draw_variants
from .membership import SetTransition, ValidatorSchedule, follow, schedule_at_checkpoint
from .serde import CHAIN_ID, H32, STR, U32, U64, Field, Fixed, HasSerde, JsonError, Opt, Struct, Vec, from_json, parse_json
from .tx import (
    CreateSeries,
    CreateSeriesWithTerms,
    LogEntryProof,
    LogLeaf,
    Mint,
    RevealBlindBox,
    Revoke,
    Synthesize,
    review_message,
)

__all__ = [
    "CERTIFICATE_FORMAT",
    "CERTIFICATE_FILE_MAX",
    "VariantRecord",
    "CertificateRecord",
    "CheckpointLink",
    "Certificate",
    "CertificateStatus",
    "VerifiedReveal",
    "VerifiedBlindBox",
    "VerifiedCertificate",
    "VerifiedRevocation",
    "VerifiedBurn",
    "VerifiedStatus",
    "verify_certificate",
    "verify_status",
    "is_holder",
]

CERTIFICATE_FORMAT = "keepsake-certificate/v1"
CERTIFICATE_FILE_MAX = 4 * 1024 * 1024
ID = Fixed(32, "CertificateId")


@dataclass(frozen=True)
class VariantRecord(HasSerde):
    index: int
    name: str
    content_hash: bytes
    SERDE: ClassVar = (Field("index", U32), Field("name", STR), Field("content_hash", Fixed(32, "ContentHash")))


@dataclass(frozen=True)
class CertificateRecord(HasSerde):
    """The human-readable facts a certificate attests."""

    series_id: bytes
    series_name: str
    edition: int
    max_supply: int
    holder: bytes
    issuer: bytes
    content_hash: bytes
    metadata_uri: str
    reviewer: bytes
    height: int
    time_ms: int
    mint_tx: bytes
    synthesized_from: List[bytes]
    variant: Optional[VariantRecord]

    SERDE: ClassVar = (
        Field("series_id", Fixed(32, "SeriesId")),
        Field("series_name", STR),
        Field("edition", U32),
        Field("max_supply", U32),
        Field("holder", Fixed(32, "HolderId")),
        Field("issuer", KEY),
        Field("content_hash", Fixed(32, "ContentHash")),
        Field("metadata_uri", STR),
        Field("reviewer", KEY),
        Field("height", U64),
        Field("time_ms", U64),
        Field("mint_tx", Fixed(32, "TxId")),
        Field("synthesized_from", Vec(ID), default=True, skip=True),
        Field("variant", Opt(Struct(VariantRecord)), default=True, skip=True),
    )


@dataclass(frozen=True)
class CheckpointLink(HasSerde):
    """The checkpoint a refreshed certificate was anchored to before, and the consistency proof."""

    checkpoint: Checkpoint
    consistency: List[bytes]
    SERDE: ClassVar = (Field("checkpoint", Struct(Checkpoint)), Field("consistency", Vec(H32)))


def _size_of(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


class _FileMixin(HasSerde):
    WHAT: ClassVar[str] = "file"

    @classmethod
    def from_text(cls, text: Union[str, bytes, bytearray]) -> Any:
        """Parses the file: size first (``TooLarge`` over 4 MiB of UTF-8), then strict JSON (``Malformed``)."""
        if isinstance(text, str):
            try:
                n = len(text.encode("utf-8"))
            except UnicodeEncodeError:
                raise VerifyError("Malformed", f"malformed {cls.WHAT}: not valid UTF-8 text", "file") from None
        elif isinstance(text, (bytes, bytearray)):
            n = len(text)
        else:
            raise VerifyError("Malformed", f"malformed {cls.WHAT}: expected text, got {type(text).__name__}", "file")
        if n > CERTIFICATE_FILE_MAX:
            raise VerifyError("TooLarge", f"{cls.WHAT} is {n} bytes, over the limit of {CERTIFICATE_FILE_MAX}", "file")
        try:
            return from_json(cls, parse_json(bytes(text) if isinstance(text, bytearray) else text))
        except JsonError as e:
            raise VerifyError("Malformed", f"malformed {cls.WHAT}: {e}", "file") from None

    @classmethod
    def from_value(cls, value: Any) -> Any:
        """From a parsed JSON value (e.g. an RPC answer), with the same bounds as a file."""
        if isinstance(value, cls):
            return value
        try:
            n = _size_of(value)
        except (TypeError, ValueError):
            raise VerifyError("Malformed", f"malformed {cls.WHAT}: not a JSON value", "file") from None
        if n > CERTIFICATE_FILE_MAX:
            raise VerifyError("TooLarge", f"{cls.WHAT} is {n} bytes, over the limit of {CERTIFICATE_FILE_MAX}", "file")
        try:
            return from_json(cls, value)
        except JsonError as e:
            raise VerifyError("Malformed", f"malformed {cls.WHAT}: {e}", "file") from None

    @classmethod
    def load(cls, path: "str | os.PathLike[str]") -> Any:
        """Reads a file of at most 4 MiB (``TooLarge`` beyond, read no further)."""
        try:
            with open(path, "rb") as f:
                data = f.read(CERTIFICATE_FILE_MAX + 1)
        except OSError as e:
            raise VerifyError("Malformed", f"cannot read {os.fspath(path)}: {e.strerror}", "file") from None
        return cls.from_text(data)

    def to_text(self) -> str:
        """Pretty JSON, as ``keepsake cert get`` writes it."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    def save(self, path: "str | os.PathLike[str]") -> None:
        """Writes beside, then renames over (never leaves a half-written file)."""
        target = os.fspath(path)
        tmp = target + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.to_text())
        os.replace(tmp, target)


@dataclass(frozen=True)
class Certificate(_FileMixin):
    """A certificate file (``keepsake-certificate/v1``)."""

    format: str
    chain_id: str
    certificate_id: bytes
    record: CertificateRecord
    mint: LogEntryProof
    series: LogEntryProof
    checkpoint: Checkpoint
    transitions: List[SetTransition]
    previous: Optional[CheckpointLink]
    reveal: Optional[LogEntryProof]

    WHAT: ClassVar = "certificate file"
    SERDE: ClassVar = (
        Field("format", STR),
        Field("chain_id", CHAIN_ID),
        Field("certificate_id", ID),
        Field("record", Struct(CertificateRecord)),
        Field("mint", Struct(LogEntryProof)),
        Field("series", Struct(LogEntryProof)),
        Field("checkpoint", Struct(Checkpoint)),
        Field("transitions", Vec(Struct(SetTransition)), default=True, skip=True),
        Field("previous", Opt(Struct(CheckpointLink)), default=True, skip=True),
        Field("reveal", Opt(Struct(LogEntryProof)), default=True, skip=True),
    )


@dataclass(frozen=True)
class CertificateStatus(_FileMixin):
    """A node's answer to ``keepsake_getCertificateStatus``, checkable offline."""

    certificate_id: bytes
    checkpoint: Checkpoint
    transitions: List[SetTransition]
    revocation: Optional[LogEntryProof]
    burn: Optional[LogEntryProof]

    WHAT: ClassVar = "certificate status"
    SERDE: ClassVar = (
        Field("certificate_id", ID),
        Field("checkpoint", Struct(Checkpoint)),
        Field("transitions", Vec(Struct(SetTransition)), default=True, skip=True),
        Field("revocation", Opt(Struct(LogEntryProof))),
        Field("burn", Opt(Struct(LogEntryProof)), default=True, skip=True),
    )


@dataclass(frozen=True)
class VerifiedReveal:
    height: int
    time_ms: int
    tx_id: bytes
    leaf_index: int


@dataclass(frozen=True)
class VerifiedBlindBox:
    """``reveal`` ``None``: the box is not yet revealed (no variant drawn)."""

    reveal: Optional[VerifiedReveal]


@dataclass(frozen=True)
class VerifiedCertificate:
    """What a successful verification establishes."""

    certificate_id: bytes
    record: CertificateRecord
    checkpoint_height: int
    log_size: int
    mint_leaf_index: int
    previous_height: Optional[int]
    signed_power: int
    total_power: int
    set_changes: int
    recipe: Optional[int]
    blind_box: Optional[VerifiedBlindBox]
    genesis_hash: bytes

    @property
    def valid(self) -> bool:
        return True


@dataclass(frozen=True)
class VerifiedRevocation:
    reason: str
    by: str  # "issuer" | "governance"
    height: int
    time_ms: int
    tx_id: bytes
    leaf_index: int


@dataclass(frozen=True)
class VerifiedBurn:
    into: bytes
    height: int
    time_ms: int
    tx_id: bytes
    leaf_index: int


@dataclass(frozen=True)
class VerifiedStatus:
    """``revocation``/``burned`` ``None``: on the node's word (absence is not proven)."""

    certificate_id: bytes
    checkpoint_height: int
    revocation: Optional[VerifiedRevocation]
    burned: Optional[VerifiedBurn]

    @property
    def status(self) -> str:
        """``"revoked"``, ``"burned"`` or ``"active"``."""
        return "revoked" if self.revocation else "burned" if self.burned else "active"


def _expect_eq(field_name: str, log_value: Any, record_value: Any) -> None:
    if log_value != record_value:
        raise mismatch(field_name, f"record says {_show(record_value)}, log says {_show(log_value)}")


def _show(v: Any) -> str:
    return v.hex() if isinstance(v, bytes) else repr(v)


def _with_step(e: VerifyError, step: str) -> VerifyError:
    if e.step is None:
        e.step = step
    return e


def _verify_checkpoint(genesis: Genesis, schedule: ValidatorSchedule, checkpoint: Checkpoint) -> int:
    if checkpoint.header.chain_id != genesis.chain_id:
        raise VerifyError("WrongChain", f"wrong chain: expected {genesis.chain_id!r}, got {checkpoint.header.chain_id!r}")
    return verify_commit(checkpoint.header, checkpoint.commit, schedule.at(checkpoint.header.height)).signed_power


def verify_certificate(certificate: Any, genesis: Any) -> VerifiedCertificate:
    """``Certificate::verify(genesis)``. Raises :class:`VerifyError` (with ``code`` and ``step``) on the first failure.

    ``certificate``: a :class:`Certificate`, its JSON text (``str``/``bytes``),
    or a parsed JSON value. ``genesis``: anything :func:`load_genesis` takes.
    """
    try:
        g = load_genesis(genesis)
    except VerifyError as e:
        raise _with_step(e, "chain")
    step = "file"
    try:
        if isinstance(certificate, Certificate):
            cert = certificate
        elif isinstance(certificate, (str, bytes, bytearray)):
            cert = Certificate.from_text(certificate)
        else:
            cert = Certificate.from_value(certificate)
        return _verify(cert, g)
    except VerifyError as e:
        raise _with_step(e, step)


def _verify(cert: Certificate, g: Genesis) -> VerifiedCertificate:
    chain = g.chain_id
    if cert.format != CERTIFICATE_FORMAT:
        raise VerifyError(
            "Malformed",
            f"malformed certificate: unsupported format {cert.format!r}, expected {CERTIFICATE_FORMAT!r}",
            "file",
        )
    for got in (cert.chain_id, cert.checkpoint.header.chain_id):
        if got != chain:
            raise VerifyError("WrongChain", f"wrong chain: expected {chain!r}, got {got!r}", "chain")

    # The validator sets from genesis to the checkpoint, then the checkpoint's quorum.
    header = cert.checkpoint.header
    try:
        schedule = follow(g, cert.transitions)
        validators = schedule_at_checkpoint(schedule, cert.checkpoint, len(cert.transitions))
        verdict = verify_commit(header, cert.checkpoint.commit, validators)
    except VerifyError as e:
        raise _with_step(e, "checkpoint")

    # A refreshed certificate: the older checkpoint, and the log growing from it.
    link = cert.previous
    if link is not None:
        try:
            _verify_checkpoint(g, schedule, link.checkpoint)
            old, new = link.checkpoint.header, header
            if old.height >= new.height:
                raise mismatch("previous.checkpoint", f"height {old.height} is not below the checkpoint height {new.height}")
            try:
                merkle.verify_consistency(old.log_size, new.log_size, old.log_root, new.log_root, link.consistency)
            except VerifyError as e:
                reason = e.message.removeprefix("log proof invalid: ")
                raise VerifyError(
                    "ConsistencyMismatch",
                    f"log at height {new.height} is not consistent with the log at height {old.height}: {reason}",
                ) from None
            if cert.mint.leaf_index >= old.log_size:
                raise mismatch("previous.checkpoint", "the older checkpoint's log does not contain the mint")
        except VerifyError as e:
            raise _with_step(e, "consistency")

    # Both entries in the checkpoint's log (mint proof, mint leaf, series proof, series leaf).
    leaf_max = g.params.log_leaf_bytes_max()
    try:
        cert.mint.check_inclusion(cert.checkpoint, "mint")
    except VerifyError as e:
        raise _with_step(e, "inclusion")
    try:
        mint_leaf = cert.mint.decode_against(cert.checkpoint, "mint", leaf_max)
    except VerifyError as e:
        raise _with_step(e, "record")
    try:
        cert.series.check_inclusion(cert.checkpoint, "series")
    except VerifyError as e:
        raise _with_step(e, "inclusion")
    try:
        series_leaf = cert.series.decode_against(cert.checkpoint, "series", leaf_max)
        return _check_record(cert, g, mint_leaf, series_leaf, verdict.signed_power, verdict.total_power, schedule)
    except VerifyError as e:
        raise _with_step(e, "record")


def _check_record(
    cert: Certificate,
    g: Genesis,
    mint_leaf: LogLeaf,
    series_leaf: LogLeaf,
    signed_power: int,
    total: int,
    schedule: ValidatorSchedule,
) -> VerifiedCertificate:
    chain = g.chain_id
    if cert.series.leaf_index >= cert.mint.leaf_index:
        raise mismatch("series.leaf_index", "the series must be logged before the mint")

    # The mint entry (a synthesis mints its output as a mint would).
    r = cert.record
    m = mint_leaf.tx.body
    if not isinstance(m, (Mint, Synthesize)):
        raise mismatch("mint.leaf", f"is a {m.kind} transaction, not a mint")
    _expect_eq("record.series_id", m.series_id, r.series_id)
    _expect_eq("record.edition", m.edition, r.edition)
    _expect_eq("record.holder", m.holder, r.holder)
    burned = list(m.inputs) if isinstance(m, Synthesize) else []
    if burned != list(r.synthesized_from):
        raise mismatch(
            "record.synthesized_from",
            f"record says [{', '.join(x.hex() for x in r.synthesized_from)}], log says [{', '.join(x.hex() for x in burned)}]",
        )
    _expect_eq("record.height", mint_leaf.height, r.height)
    _expect_eq("record.time_ms", mint_leaf.time_ms, r.time_ms)
    _expect_eq("record.mint_tx", mint_leaf.tx.id(chain), r.mint_tx)
    _expect_eq("certificate_id", _certificate_id(chain, m.series_id, m.edition), cert.certificate_id)
    mint_leaf.tx.check_signatures(chain)
    if not mint_leaf.tx.signed_by(r.issuer):
        raise mismatch("record.issuer", "the mint is not signed by the record's issuer")

    # The series entry (a plain series, or one created with terms).
    s = series_leaf.tx.body
    if not isinstance(s, (CreateSeries, CreateSeriesWithTerms)):
        raise mismatch("series.leaf", f"is a {s.kind} transaction, not a series creation")
    _expect_eq("record.issuer", s.issuer, r.issuer)
    _expect_eq("record.series_name", s.name, r.series_name)
    _expect_eq("record.series_id", _series_id(chain, s.issuer, s.name), r.series_id)
    _expect_eq("record.content_hash", s.content_hash, r.content_hash)
    _expect_eq("record.max_supply", s.max_supply, r.max_supply)
    _expect_eq("record.metadata_uri", s.metadata_uri, r.metadata_uri)
    _expect_eq("record.reviewer", s.approval.reviewer, r.reviewer)
    if r.edition == 0 or r.edition > r.max_supply:
        raise mismatch("record.edition", f"edition {r.edition} outside 1..={r.max_supply}")
    # Rust checks the issuer's signature presence before verifying the series signatures.
    if not series_leaf.tx.signed_by(s.issuer):
        raise mismatch("series.leaf", "the series creation is not signed by its issuer")
    series_leaf.tx.check_signatures(chain)
    terms = s.terms if isinstance(s, CreateSeriesWithTerms) else None
    ed25519.verify(s.approval.reviewer, review_message(chain, s.subject, terms), s.approval.signature, "review approval")

    # A synthesized certificate's recipe, a blind box's reveal and variant.
    recipe: Optional[int] = None
    if isinstance(m, Synthesize):
        recipes = len(terms.recipes) if terms else 0
        if m.recipe >= recipes:
            raise mismatch("mint.recipe", f"the synthesis names recipe {m.recipe}, the series declares {recipes} recipes")
        recipe = m.recipe
    blind_box = _check_blind_box(chain, terms.blind_box if terms else None, cert, g.params.log_leaf_bytes_max())
    return VerifiedCertificate(
        certificate_id=cert.certificate_id,
        record=r,
        checkpoint_height=cert.checkpoint.header.height,
        log_size=cert.checkpoint.header.log_size,
        mint_leaf_index=cert.mint.leaf_index,
        previous_height=cert.previous.checkpoint.header.height if cert.previous else None,
        signed_power=signed_power,
        total_power=total,
        set_changes=len(cert.transitions),
        recipe=recipe,
        blind_box=blind_box,
        genesis_hash=g.hash(),
    )


def _check_blind_box(chain: str, box: Any, cert: Certificate, leaf_max: int) -> Optional[VerifiedBlindBox]:
    """``life_proof::check_blind_box``, in the same order."""
    r = cert.record
    entry = cert.reveal
    if box is None:
        if entry is not None:
            raise mismatch("reveal", "the series is not a blind box")
        if r.variant is not None:
            raise mismatch("record.variant", "the series is not a blind box")
        return None
    if entry is None:
        if r.variant is not None:
            raise mismatch("record.variant", "a variant without the reveal that draws it (the box is not revealed)")
        return VerifiedBlindBox(reveal=None)
    leaf = entry.verify_against(cert.checkpoint, "reveal", leaf_max)
    b = leaf.tx.body
    if not isinstance(b, RevealBlindBox):
        raise mismatch("reveal.leaf", f"is a {b.kind} transaction, not a blind-box reveal")
    if b.series_id != r.series_id:
        raise mismatch("reveal.series_id", f"the reveal is of series {b.series_id.hex()}, not {r.series_id.hex()}")
    if entry.leaf_index <= cert.mint.leaf_index:
        raise mismatch("reveal.leaf_index", "the reveal is logged before the mint")
    commitment = seed_commitment(chain, b.seed)
    if commitment != box.seed_commitment:
        raise mismatch("reveal.seed", f"its commitment {commitment.hex()} is not the series' {box.seed_commitment.hex()}")
    leaf.tx.check_signatures(chain)
    if not leaf.tx.signed_by(r.issuer):
        raise mismatch("reveal.leaf", "the reveal is not signed by the series' issuer")
    deck = draw_variants(chain, b.series_id, b.seed, b.entropy, [v.count for v in box.variants])
    if deck is None or not 1 <= r.edition <= len(deck):
        raise mismatch("record.edition", f"the draw has no edition {r.edition}")
    drawn = deck[r.edition - 1]
    if drawn >= len(box.variants):  # pragma: no cover - the deck only holds variant indices
        raise mismatch("reveal", f"the draw gives variant {drawn}, which does not exist")
    variant = box.variants[drawn]
    claimed = r.variant
    if claimed is None:
        raise mismatch("record.variant", f"missing: the reveal draws variant {drawn} ({variant.name!r}) for this edition")
    if claimed.index != drawn:
        raise mismatch("record.variant.index", f"record says {claimed.index}, the draw gives {drawn}")
    if claimed.name != variant.name:
        raise mismatch("record.variant.name", f"record says {claimed.name!r}, the terms say {variant.name!r}")
    if claimed.content_hash != variant.content_hash:
        raise mismatch(
            "record.variant.content_hash",
            f"record says {claimed.content_hash.hex()}, the terms say {variant.content_hash.hex()}",
        )
    return VerifiedBlindBox(
        reveal=VerifiedReveal(height=leaf.height, time_ms=leaf.time_ms, tx_id=leaf.tx.id(chain), leaf_index=entry.leaf_index)
    )


def verify_status(status: Any, genesis: Any, cert: VerifiedCertificate) -> VerifiedStatus:
    """``CertificateStatus::verify(genesis, cert)`` for a certificate verified against the same genesis.

    ``status``: a :class:`CertificateStatus`, its JSON text, or the parsed
    answer of ``keepsake_getCertificateStatus``. Raises :class:`VerifyError`.
    """
    if not isinstance(cert, VerifiedCertificate):
        raise VerifyError("CertificateMismatch", "the certificate was not verified: verify it first", "certificate")
    try:
        g = load_genesis(genesis)
    except VerifyError as e:
        raise _with_step(e, "checkpoint")
    try:
        if isinstance(status, CertificateStatus):
            st = status
        elif isinstance(status, (str, bytes, bytearray)):
            st = CertificateStatus.from_text(status)
        else:
            st = CertificateStatus.from_value(status)
    except VerifyError as e:
        raise _with_step(e, "file")
    chain = g.chain_id
    if st.certificate_id != cert.certificate_id:
        raise _with_step(
            mismatch("certificate_id", f"the answer is about {st.certificate_id.hex()}, not {cert.certificate_id.hex()}"),
            "certificate",
        )
    try:
        schedule = follow(g, st.transitions)
        schedule_at_checkpoint(schedule, st.checkpoint, len(st.transitions))
        _verify_checkpoint(g, schedule, st.checkpoint)
        header = st.checkpoint.header
        if header.log_size <= cert.mint_leaf_index:
            raise mismatch(
                "checkpoint",
                f"the answer's log ({header.log_size} entries) does not contain the mint (entry {cert.mint_leaf_index})",
            )
    except VerifyError as e:
        raise _with_step(e, "checkpoint")
    leaf_max = g.params.log_leaf_bytes_max()
    revocation: Optional[VerifiedRevocation] = None
    if st.revocation is not None:
        try:
            revocation = _check_revocation(chain, st, st.revocation, cert, leaf_max)
        except VerifyError as e:
            raise _with_step(e, "revocation")
    burned: Optional[VerifiedBurn] = None
    if st.burn is not None:
        try:
            burned = _check_burn(chain, st, st.burn, cert, leaf_max)
        except VerifyError as e:
            raise _with_step(e, "burn")
    return VerifiedStatus(
        certificate_id=st.certificate_id, checkpoint_height=header.height, revocation=revocation, burned=burned
    )


def _check_revocation(
    chain: str, st: CertificateStatus, entry: LogEntryProof, cert: VerifiedCertificate, leaf_max: int
) -> VerifiedRevocation:
    leaf = entry.verify_against(st.checkpoint, "revocation", leaf_max)
    b = leaf.tx.body
    if not isinstance(b, Revoke):
        raise mismatch("revocation.leaf", f"is a {b.kind} transaction, not a revocation")
    _expect_eq("revocation.certificate_id", b.certificate_id, st.certificate_id)
    if entry.leaf_index <= cert.mint_leaf_index:
        raise mismatch("revocation.leaf_index", "the revocation is logged before the mint")
    leaf.tx.check_signatures(chain)
    # T7/T8: the issuer alone, or signers without the issuer (governance; the
    # governors in force are ledger state, vouched for by the checkpoint's quorum).
    signers = [s.signer for s in leaf.tx.signatures]
    if signers == [cert.record.issuer]:
        by = "issuer"
    elif cert.record.issuer in signers:
        raise mismatch("revocation.leaf", "signed by the issuer together with others: the issuer revokes alone")
    else:
        by = "governance"
    return VerifiedRevocation(
        reason=b.reason, by=by, height=leaf.height, time_ms=leaf.time_ms, tx_id=leaf.tx.id(chain), leaf_index=entry.leaf_index
    )


def _check_burn(
    chain: str, st: CertificateStatus, entry: LogEntryProof, cert: VerifiedCertificate, leaf_max: int
) -> VerifiedBurn:
    leaf = entry.verify_against(st.checkpoint, "burn", leaf_max)
    b = leaf.tx.body
    if not isinstance(b, Synthesize):
        raise mismatch("burn.leaf", f"is a {b.kind} transaction, not a synthesis")
    if cert.certificate_id not in b.inputs:
        raise mismatch("burn.inputs", f"the synthesis burns {len(b.inputs)} certificates, not {cert.certificate_id.hex()}")
    if entry.leaf_index <= cert.mint_leaf_index:
        raise mismatch("burn.leaf_index", "the burn is logged before the mint")
    if b.holder != cert.record.holder:
        raise mismatch(
            "burn.holder", f"the synthesis is for holder {b.holder.hex()}, the certificate's is {cert.record.holder.hex()}"
        )
    leaf.tx.check_signatures(chain)
    if not leaf.tx.signed_by(cert.record.issuer):
        raise mismatch("burn.leaf", "the synthesis is not signed by the certificate's issuer")
    return VerifiedBurn(
        into=_certificate_id(chain, b.series_id, b.edition),
        height=leaf.height,
        time_ms=leaf.time_ms,
        tx_id=leaf.tx.id(chain),
        leaf_index=entry.leaf_index,
    )


def is_holder(cert: VerifiedCertificate, salt: str, account: str) -> bool:
    """"Is this mine?": ``holder_id(salt, account)`` is the verified certificate's holder (computed locally)."""
    if not isinstance(cert, VerifiedCertificate):
        raise VerifyError("CertificateMismatch", "the certificate was not verified: verify it first")
    return holder_id(salt, account) == cert.record.holder


