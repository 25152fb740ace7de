"""A JSON-RPC client for a Keepsake node (``crates/rpc/src/lib.rs``, docs/rpc.md).

Everything is built and signed locally; the node only ever sees signed
transactions. ``Client`` is synchronous: HTTP with ``httpx``, the block
subscription (``keepsake_subscribeBlocks``) with ``websockets``' sync client.

Errors: a JSON-RPC error answer raises :class:`keepsake.RpcError` carrying the
stable code name and number (``e.code == "TransferForbidden"``,
``e.number == 4001``); a node that cannot be reached or answers something that
is not JSON-RPC raises :class:`keepsake.NodeError`.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import httpx

from . import hashing
from .block import Checkpoint
from .certificate import (
    Certificate,
    CertificateStatus,
    CheckpointLink,
    VerifiedCertificate,
    VerifiedStatus,
    verify_certificate,
    verify_status,
)
from .errors import CommitTimeout, KeepsakeError, NodeError, RpcError, TxRejected
from .genesis import Genesis, load_genesis
from .life import Licence, SeriesTerms
from .serde import H32, JsonError, Vec, from_json, parse_json
from .tx import (
    CloseBlindBox,
    Mint,
    RegisterIssuer,
    RegisterReviewer,
    RevealBlindBox,
    Revoke,
    ReviewSubject,
    SetIssuerLicence,
    SetLicencePolicy,
    SignedTx,
    Signer,
    Synthesize,
    Transfer,
    TxBody,
    WithdrawIssuerLicence,
    sign,
)

__all__ = [
    "DEFAULT_URL",
    "Client",
    "TxStatus",
    "SubmitOutcome",
    "CertificateResponse",
    "ConsistencyResponse",
    "BlockSummary",
    "RefreshError",
    "BlockSubscription",
    "random_nonce",
]

DEFAULT_URL = "http://127.0.0.1:8645"
RESPONSE_MAX = 40 * 1024 * 1024  # the node answers at most 32 MiB (max_response_bytes)
Hex = Union[str, bytes]
_HEX64 = re.compile(r"(0x)?[0-9a-fA-F]{64}")


def random_nonce() -> int:
    """A random governance nonce (u64), as the CLI draws one."""
    return secrets.randbits(64)


def _b32(value: Hex, what: str) -> bytes:
    """32 bytes from bytes or hex text (``0x`` and upper case accepted)."""
    if isinstance(value, (bytes, bytearray)):
        b = bytes(value)
    elif isinstance(value, str):
        if not _HEX64.fullmatch(value):
            raise ValueError(f"{what} must be 64 hex digits")
        b = bytes.fromhex(value.removeprefix("0x"))
    else:
        raise ValueError(f"{what} must be bytes or hex text")
    if len(b) != 32:
        raise ValueError(f"{what} must be 32 bytes (64 hex digits)")
    return b


def _hex(value: Hex, what: str) -> str:
    return _b32(value, what).hex()


@dataclass(frozen=True)
class TxStatus:
    """``keepsake_getTxStatus``: ``status`` is committed, pending, rejected or unknown."""

    status: str
    height: Optional[int] = None
    index: Optional[int] = None
    leaf_index: Optional[int] = None
    error_code: Optional[str] = None
    error_message: Optional[str] = None

    @property
    def committed(self) -> bool:
        return self.status == "committed"

    @staticmethod
    def from_json(value: Any) -> "TxStatus":
        if not isinstance(value, dict) or not isinstance(value.get("status"), str):
            raise NodeError(f"not a TxStatus: {value!r:.200}")
        raw_error = value.get("error")
        error: Dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
        return TxStatus(
            status=value["status"],
            height=value.get("height"),
            index=value.get("index"),
            leaf_index=value.get("leaf_index"),
            error_code=error.get("code"),
            error_message=error.get("message"),
        )


@dataclass(frozen=True)
class SubmitOutcome:
    """One transaction of a ``keepsake_submitTxs`` batch: ``error_code`` ``None`` when admitted."""

    tx_id: str
    error_code: Optional[str] = None
    error_message: Optional[str] = None

    @property
    def admitted(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class CertificateResponse:
    """``keepsake_getCertificate``: the certificate file and the node's word on revocation and burn."""

    certificate: Certificate
    revocation: Optional[Dict[str, Any]]
    burn: Optional[Dict[str, Any]]


@dataclass(frozen=True)
class ConsistencyResponse:
    """``keepsake_getConsistencyProof``: both checkpoints and the RFC 9162 proof between their logs."""

    old: Checkpoint
    new: Checkpoint
    proof: List[bytes]


@dataclass(frozen=True)
class BlockSummary:
    """A ``keepsake_block`` notification."""

    height: int
    hash: str
    time_ms: int
    tx_count: int
    log_size: int
    log_root: str


class RefreshError(KeepsakeError):
    """A certificate could not be re-anchored (the node shows another history, or its answer does not verify)."""


class Client:
    """A Keepsake node's JSON-RPC API.

    ``url``: ``http://host:port`` (the WebSocket address is the same with
    ``ws://``). ``timeout``: seconds for each HTTP call.
    """

    def __init__(self, url: str = DEFAULT_URL, *, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.ws_url = "ws" + self.url[4:] if self.url.startswith("http") else self.url
        self._http = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self._genesis: Optional[Genesis] = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; returns ``result`` or raises :class:`RpcError` / :class:`NodeError`."""
        request = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        try:
            with self._http.stream("POST", self.url, json=request) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > RESPONSE_MAX:
                        raise NodeError(f"{method}: the answer is over {RESPONSE_MAX} bytes")
                status = response.status_code
        except httpx.HTTPError as e:
            raise NodeError(f"{method}: cannot reach the node at {self.url}: {e}") from None
        try:
            answer = parse_json(bytes(body), strict_numbers=False)
        except JsonError as e:
            raise NodeError(f"{method}: HTTP {status}, not a JSON-RPC answer: {e}") from None
        if not isinstance(answer, dict):
            raise NodeError(f"{method}: HTTP {status}, not a JSON-RPC answer")
        if "error" in answer:
            raise RpcError.from_object(answer["error"])
        if "result" not in answer:
            raise NodeError(f"{method}: HTTP {status}, a JSON-RPC answer without result")
        return answer["result"]

    # -- reads ---------------------------------------------------------------------------------

    def status(self) -> Dict[str, Any]:
        """``keepsake_status``: chain tip, log size and root, mempool size."""
        result: Dict[str, Any] = self.call("keepsake_status")
        return result

    def get_genesis(self) -> Genesis:
        """``keepsake_getGenesis`` (validated). An auditor should get the genesis out of band."""
        return load_genesis(self.call("keepsake_getGenesis"))

    @property
    def chain_id(self) -> str:
        """The chain id transactions are signed for (asked once)."""
        if self._genesis is None:
            self._genesis = self.get_genesis()
        return self._genesis.chain_id

    def get_tx_status(self, tx_id: Hex) -> TxStatus:
        return TxStatus.from_json(self.call("keepsake_getTxStatus", _hex(tx_id, "tx id")))

    def get_certificate(self, certificate_id: Hex) -> CertificateResponse:
        """``keepsake_getCertificate``: parsed with file strictness (4 MiB, unknown fields refused)."""
        r = self.call("keepsake_getCertificate", _hex(certificate_id, "certificate id"))
        if not isinstance(r, dict) or "certificate" not in r:
            raise NodeError("keepsake_getCertificate: the answer has no certificate")
        return CertificateResponse(
            certificate=Certificate.from_value(r["certificate"]), revocation=r.get("revocation"), burn=r.get("burn")
        )

    def get_certificate_status(self, certificate_id: Hex) -> CertificateStatus:
        """``keepsake_getCertificateStatus``: an answer to verify with :meth:`verify_status`."""
        r = self.call("keepsake_getCertificateStatus", _hex(certificate_id, "certificate id"))
        result: CertificateStatus = CertificateStatus.from_value(r)
        return result

    def get_consistency_proof(self, old_height: int, new_height: int) -> ConsistencyResponse:
        r = self.call("keepsake_getConsistencyProof", old_height, new_height)
        try:
            if not isinstance(r, dict):
                raise JsonError("not an object")
            return ConsistencyResponse(
                old=from_json(Checkpoint, r.get("old"), "old"),
                new=from_json(Checkpoint, r.get("new"), "new"),
                proof=Vec(H32).convert(r.get("proof"), "proof"),
            )
        except JsonError as e:
            raise NodeError(f"keepsake_getConsistencyProof: malformed answer: {e}") from None

    def get_log_root(self, size: int) -> bytes:
        """``keepsake_getLogRoot``: the RFC 9162 root of the log's first ``size`` entries."""
        r = self.call("keepsake_getLogRoot", size)
        if not isinstance(r, dict) or r.get("size") != size:
            raise NodeError(f"keepsake_getLogRoot: the node answered another size than {size}")
        try:
            return H32.convert(r.get("root"), "root")
        except JsonError as e:
            raise NodeError(f"keepsake_getLogRoot: {e}") from None

    def get_series(self, series_id: Hex) -> Dict[str, Any]:
        result: Dict[str, Any] = self.call("keepsake_getSeries", _hex(series_id, "series id"))
        return result

    def get_issuer(self, issuer: Hex) -> Dict[str, Any]:
        result: Dict[str, Any] = self.call("keepsake_getIssuer", _hex(issuer, "issuer key"))
        return result

    def list_series(self, after: Optional[Hex] = None, limit: int = 100) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.call(
            "keepsake_listSeries", None if after is None else _hex(after, "series id"), limit
        )
        return result

    def list_issuers(self, after: Optional[Hex] = None, limit: int = 100) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.call(
            "keepsake_listIssuers", None if after is None else _hex(after, "issuer key"), limit
        )
        return result

    def recent_transactions(self, limit: int = 100) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.call("keepsake_recentTransactions", limit)
        return result

    def get_block(self, height: int) -> Dict[str, Any]:
        result: Dict[str, Any] = self.call("keepsake_getBlock", height)
        return result

    def get_validator_sets(self, height: Optional[int] = None, proofs: Optional[bool] = None) -> Dict[str, Any]:
        result: Dict[str, Any] = self.call("keepsake_getValidatorSets", height, proofs)
        return result

    def get_evidence(self, limit: int = 1000) -> List[Dict[str, Any]]:
        result: List[Dict[str, Any]] = self.call("keepsake_getEvidence", limit)
        return result

    # -- submitting and waiting ---------------------------------------------------------------------

    def submit_tx(self, tx: SignedTx) -> str:
        """``keepsake_submitTx``: the id once the mempool admits it (every ledger rule checked)."""
        result = self.call("keepsake_submitTx", tx.to_json())
        if not isinstance(result, str):
            raise NodeError("keepsake_submitTx: the answer is not a transaction id")
        return result

    def submit_txs(self, txs: Sequence[SignedTx]) -> List[SubmitOutcome]:
        """``keepsake_submitTxs``: one outcome per transaction, in order; a refusal does not affect the others."""
        result = self.call("keepsake_submitTxs", [t.to_json() for t in txs])
        if not isinstance(result, list) or len(result) != len(txs):
            raise NodeError("keepsake_submitTxs: the answer is not one outcome per transaction")
        out = []
        for o in result:
            err = o.get("error") if isinstance(o, dict) else None
            out.append(
                SubmitOutcome(
                    tx_id=str(o.get("tx_id")) if isinstance(o, dict) else "",
                    error_code=err.get("code") if isinstance(err, dict) else None,
                    error_message=err.get("message") if isinstance(err, dict) else None,
                )
            )
        return out

    def subscribe_blocks(self) -> "BlockSubscription":
        """A ``keepsake_subscribeBlocks`` subscription (WebSocket), open once returned; use it in ``with``."""
        return BlockSubscription(self.ws_url, next(self._ids))

    def blocks(self, timeout: Optional[float] = None) -> Iterator[BlockSummary]:
        """Committed blocks as they come; stops after ``timeout`` seconds without one (``None``: never)."""
        with self.subscribe_blocks() as sub:
            while True:
                block = sub.next(timeout)
                if block is None:
                    return
                yield block

    def wait_for_commit(self, tx_id: Hex, timeout: float = 30.0) -> TxStatus:
        """Waits until ``tx_id`` is committed: one status check per committed block (subscription).

        Raises :class:`TxRejected` (admitted, then left out of a block) or
        :class:`CommitTimeout`. Polls if the WebSocket cannot be opened.
        """
        return self.wait_for_commits([tx_id], timeout)[_hex(tx_id, "tx id")]

    def wait_for_commits(self, tx_ids: Iterable[Hex], timeout: float = 30.0) -> Dict[str, TxStatus]:
        """:meth:`wait_for_commit` for several transactions: their committed statuses by id (hex)."""
        waiting = list(dict.fromkeys(_hex(t, "tx id") for t in tx_ids))
        done: Dict[str, TxStatus] = {}
        deadline = time.monotonic() + timeout

        def check() -> bool:
            # In submission order; stop at the first one still pending (the rest is asked after the next block).
            for t in waiting:
                if t in done:
                    continue
                st = self.get_tx_status(t)
                if st.status == "committed":
                    done[t] = st
                elif st.status == "rejected":
                    raise TxRejected(t, st.error_code or "Internal", st.error_message or "")
                else:
                    break
            return len(done) == len(waiting)

        if check():
            return done
        try:
            # Subscribed first, then checked: a commit in between is not missed.
            with self.subscribe_blocks() as sub:
                while not check():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    sub.next(remaining)
        except NodeError:
            while time.monotonic() < deadline and not check():
                time.sleep(0.1)
        if check():
            return done
        raise CommitTimeout(next(t for t in waiting if t not in done), timeout)

    def send(self, body: TxBody, signers: Sequence[Signer], *, wait: bool = True, timeout: float = 30.0) -> str:
        """Signs ``body`` for this chain, submits it and (by default) waits for its commit. Returns the tx id."""
        tx = sign(body, self.chain_id, signers)
        tx_id = self.submit_tx(tx)
        if wait:
            self.wait_for_commit(tx_id, timeout)
        return tx_id

    def send_many(
        self, txs: Sequence[SignedTx], *, wait: bool = True, timeout: float = 30.0
    ) -> List[SubmitOutcome]:
        """Submits signed transactions in one ``keepsake_submitTxs`` call and waits for the admitted ones."""
        outcomes = self.submit_txs(txs)
        if wait:
            admitted = [o.tx_id for o in outcomes if o.admitted]
            if admitted:
                self.wait_for_commits(admitted, timeout)
        return outcomes

    # -- governance -------------------------------------------------------------------------------

    def register_issuer(
        self, governors: Sequence[Signer], issuer: Hex, name: str, *, nonce: Optional[int] = None, wait: bool = True
    ) -> str:
        body = RegisterIssuer(_b32(issuer, "issuer key"), name, random_nonce() if nonce is None else nonce)
        return self.send(body, governors, wait=wait)

    def register_reviewer(
        self, governors: Sequence[Signer], reviewer: Hex, name: str, *, nonce: Optional[int] = None, wait: bool = True
    ) -> str:
        body = RegisterReviewer(_b32(reviewer, "reviewer key"), name, random_nonce() if nonce is None else nonce)
        return self.send(body, governors, wait=wait)

    def ensure_registered(
        self,
        governors: Union[Signer, Sequence[Signer]],
        *,
        issuer: Optional[Signer] = None,
        reviewer: Optional[Signer] = None,
        issuer_name: str = "Issuer",
        reviewer_name: str = "Reviewer",
    ) -> None:
        """Registers ``issuer`` and ``reviewer`` unless the chain already knows them (one batch, one wait)."""
        govs = _signers(governors)
        chain = self.chain_id
        txs = []
        if issuer is not None:
            try:
                self.get_issuer(issuer.public_key)
            except RpcError as e:
                if e.code != "NotFound":
                    raise
                txs.append(sign(RegisterIssuer(issuer.public_key, issuer_name, random_nonce()), chain, govs))
        if reviewer is not None:
            txs.append(sign(RegisterReviewer(reviewer.public_key, reviewer_name, random_nonce()), chain, govs))
        if not txs:
            return
        for o in self.send_many(txs):
            if not o.admitted and o.error_code not in ("IssuerAlreadyRegistered", "ReviewerAlreadyRegistered"):
                raise RpcError(o.error_code or "Internal", _number(o.error_code), o.error_message or "")

    def set_licence(
        self,
        governors: Sequence[Signer],
        issuer: Hex,
        licence: Licence,
        *,
        nonce: Optional[int] = None,
        wait: bool = True,
    ) -> str:
        """``SetIssuerLicence`` (body 12): record or renew an issuer's licence."""
        body = SetIssuerLicence(_b32(issuer, "issuer key"), licence, random_nonce() if nonce is None else nonce)
        return self.send(body, governors, wait=wait)

    def withdraw_licence(
        self, governors: Sequence[Signer], issuer: Hex, reason: str, *, nonce: Optional[int] = None, wait: bool = True
    ) -> str:
        """``WithdrawIssuerLicence`` (body 13)."""
        body = WithdrawIssuerLicence(_b32(issuer, "issuer key"), reason, random_nonce() if nonce is None else nonce)
        return self.send(body, governors, wait=wait)

    def set_licence_policy(
        self, governors: Sequence[Signer], required: bool, *, nonce: Optional[int] = None, wait: bool = True
    ) -> str:
        """``SetLicencePolicy`` (body 14): whether every issuer needs a licence in force."""
        body = SetLicencePolicy(bool(required), random_nonce() if nonce is None else nonce)
        return self.send(body, governors, wait=wait)

    # -- issuing ----------------------------------------------------------------------------------

    def create_series(
        self,
        issuer: Signer,
        *,
        reviewer_key: Signer,
        name: str,
        max_supply: int,
        metadata_uri: str,
        content: Optional[bytes] = None,
        content_hash: Optional[Hex] = None,
        terms: Optional[SeriesTerms] = None,
        exist_ok: bool = False,
        wait: bool = True,
    ) -> bytes:
        """Creates a series reviewed by ``reviewer_key`` (approval signed locally: review v1, or v2 with ``terms``).

        Give the artwork (``content``) or its SHA-256 (``content_hash``).
        Returns the series id. With ``exist_ok``, a series of this issuer and
        name that already exists is returned instead (``SeriesAlreadyExists``).
        """
        if (content is None) == (content_hash is None):
            raise ValueError("give exactly one of content and content_hash")
        chash = hashing.content_hash(content) if content is not None else _b32(content_hash or b"", "content hash")
        chain = self.chain_id
        sid = hashing.series_id(chain, issuer.public_key, name)
        if exist_ok:
            try:
                self.get_series(sid)
                return sid
            except RpcError as e:
                if e.code != "NotFound":
                    raise
        subject = ReviewSubject(issuer.public_key, name, chash, max_supply, metadata_uri)
        body = subject.into_body(subject.approve(chain, reviewer_key, terms), terms)
        self.send(body, [issuer], wait=wait)
        return sid

    def next_edition(self, series_id: Hex) -> int:
        """``minted + 1`` as the node sees it (pending mints are not counted)."""
        minted = self.get_series(series_id).get("minted", 0)
        return int(minted) + 1

    def mint(
        self,
        issuer: Signer,
        series_id: Hex,
        *,
        holder: Hex,
        edition: Optional[int] = None,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> bytes:
        """Mints one edition (default: the next one) to ``holder``; returns the certificate id."""
        sid = _b32(series_id, "series id")
        ed = self.next_edition(sid) if edition is None else edition
        self.send(Mint(sid, ed, _b32(holder, "holder id")), [issuer], wait=wait, timeout=timeout)
        return hashing.certificate_id(self.chain_id, sid, ed)

    def mint_batch(
        self,
        issuer: Signer,
        series_id: Hex,
        editions: Sequence[Tuple[int, Hex]],
        *,
        wait: bool = True,
        timeout: float = 30.0,
    ) -> List[bytes]:
        """Mints ``(edition, holder)`` pairs in one ``keepsake_submitTxs`` call; returns the certificate ids.

        Raises :class:`RpcError` with the first refusal's code if any mint is refused.
        """
        sid = _b32(series_id, "series id")
        chain = self.chain_id
        txs = [sign(Mint(sid, ed, _b32(h, "holder id")), chain, [issuer]) for ed, h in editions]
        outcomes = self.send_many(txs, wait=wait, timeout=timeout)
        for o in outcomes:
            if not o.admitted:
                raise RpcError(o.error_code or "Internal", _number(o.error_code), o.error_message or "")
        return [hashing.certificate_id(chain, sid, ed) for ed, _ in editions]

    def revoke(self, signers: Union[Signer, Sequence[Signer]], certificate_id: Hex, reason: str, *, wait: bool = True) -> str:
        """Revokes a certificate: the issuer alone, or k governors."""
        return self.send(Revoke(_b32(certificate_id, "certificate id"), reason), _signers(signers), wait=wait)

    def transfer(self, signer: Signer, certificate_id: Hex, to: Hex) -> str:
        """Tries a transfer. Every honest node refuses it: ``RpcError`` with code ``TransferForbidden`` (4001)."""
        body = Transfer(_b32(certificate_id, "certificate id"), _b32(to, "holder id"))
        return self.send(body, [signer], wait=False)

    def synthesize(
        self,
        issuer: Signer,
        series_id: Hex,
        *,
        inputs: Sequence[Hex],
        holder: Hex,
        recipe: int = 0,
        edition: Optional[int] = None,
        wait: bool = True,
    ) -> bytes:
        """``Synthesize`` (body 16): burns ``inputs`` (one holder's) into an edition of ``series_id``; returns its id."""
        sid = _b32(series_id, "series id")
        ed = self.next_edition(sid) if edition is None else edition
        body = Synthesize(sid, recipe, [_b32(i, "certificate id") for i in inputs], ed, _b32(holder, "holder id"))
        self.send(body, [issuer], wait=wait)
        return hashing.certificate_id(self.chain_id, sid, ed)

    def close_blind_box(self, issuer: Signer, series_id: Hex, *, wait: bool = True) -> str:
        """``CloseBlindBox`` (body 17): no more mints; the log just after it is the draw's entropy."""
        return self.send(CloseBlindBox(_b32(series_id, "series id")), [issuer], wait=wait)

    def reveal_entropy(self, series_id: Hex, seed: bytes) -> bytes:
        """The entropy of a reveal: ``keepsake_getLogRoot`` at the close's ``leaf_index + 1``, after checking
        with the node that the box is closed, not revealed, and that ``seed`` is its seed."""
        sid = _b32(series_id, "series id")
        info = self.get_series(sid)
        box = info.get("blind_box")
        if not isinstance(box, dict):
            raise ValueError(f"series {sid.hex()} is not a blind box")
        if hashing.seed_commitment(self.chain_id, seed).hex() != str(box.get("seed_commitment", "")).lower():
            raise ValueError(f"this seed is not the seed of series {sid.hex()}: its commitment differs from the chain's")
        if box.get("revealed"):
            raise ValueError(f"series {sid.hex()} was already revealed")
        closed = box.get("closed")
        if not isinstance(closed, dict) or not isinstance(closed.get("leaf_index"), int):
            raise ValueError(f"series {sid.hex()} is not closed: close its sale first")
        return self.get_log_root(closed["leaf_index"] + 1)

    def reveal_blind_box(self, issuer: Signer, series_id: Hex, seed: bytes, *, wait: bool = True) -> str:
        """``RevealBlindBox`` (body 18) with the entropy of :meth:`reveal_entropy`."""
        sid = _b32(series_id, "series id")
        entropy = self.reveal_entropy(sid, seed)
        return self.send(RevealBlindBox(sid, _b32(seed, "seed"), entropy), [issuer], wait=wait)

    # -- certificates -------------------------------------------------------------------------------

    def fetch_certificate(self, certificate_id: Hex) -> Certificate:
        """The certificate file, anchored to the node's latest checkpoint (not yet verified)."""
        return self.get_certificate(certificate_id).certificate

    def verify_certificate(self, certificate_id: Hex, genesis: Any) -> VerifiedCertificate:
        """Fetches a certificate and verifies it offline against ``genesis`` (never the node's)."""
        return verify_certificate(self.fetch_certificate(certificate_id), genesis)

    def verify_status(self, certificate: Union[Certificate, VerifiedCertificate], genesis: Any) -> VerifiedStatus:
        """Asks the node for the certificate's status and verifies the answer offline."""
        verified = certificate if isinstance(certificate, VerifiedCertificate) else verify_certificate(certificate, genesis)
        return verify_status(self.get_certificate_status(verified.certificate_id), genesis, verified)

    def refresh_certificate(self, old: Certificate, genesis: Any) -> Optional[Certificate]:
        """Re-anchors ``old`` to the node's latest checkpoint (``keepsake cert refresh``).

        The result carries the old checkpoint in ``previous``, linked by the
        node's consistency proof, and is verified before it is returned.
        ``None``: the node has no newer checkpoint. Raises :class:`RefreshError`
        when the node shows another history, :class:`VerifyError` when ``old``
        itself does not verify.
        """
        g = load_genesis(genesis)
        verify_certificate(old, g)
        fresh = self.fetch_certificate(old.certificate_id)
        old_h, new_h = old.checkpoint.header.height, fresh.checkpoint.header.height
        if new_h <= old_h:
            return None
        link = self.get_consistency_proof(old_h, new_h)
        if fresh.certificate_id != old.certificate_id:
            raise RefreshError(f"the node answered with another certificate ({fresh.certificate_id.hex()})")
        if link.old.header != old.checkpoint.header:
            raise RefreshError(
                f"the node now shows header {link.old.header.hash().hex()} at height {old_h}, the certificate was "
                f"checked at {old.checkpoint.header.hash().hex()}: the chain was rewritten (or the node is lying); "
                "keep the old certificate as evidence"
            )
        if link.new.header != fresh.checkpoint.header:
            raise RefreshError(f"the node answered two different headers at height {new_h}; retry")
        before = [(t.change.leaf_index, t.change.leaf) for t in old.transitions]
        now = [(t.change.leaf_index, t.change.leaf) for t in fresh.transitions]
        if now[: len(before)] != before:
            raise RefreshError(
                f"the node's validator-set changes ({len(now)} of them) do not extend the {len(before)} the "
                "certificate proved: the node shows another history; keep the old certificate as evidence"
            )
        refreshed = replace(fresh, previous=CheckpointLink(checkpoint=old.checkpoint, consistency=link.proof))
        try:
            verify_certificate(refreshed, g)
        except KeepsakeError as e:
            raise RefreshError(f"the refreshed certificate does not verify: {e}") from None
        if refreshed.record != old.record:
            raise RefreshError("the node's record of this certificate differs from the old certificate's record")
        return refreshed


def _signers(s: Union[Signer, Sequence[Signer]]) -> List[Signer]:
    if isinstance(s, (list, tuple)):
        return list(s)
    return [s]  # type: ignore[list-item]


def _number(code: Optional[str]) -> int:
    from .errors import error_number

    return error_number(code or "Internal")


def _dumps(v: Any) -> str:
    import json

    return json.dumps(v)



class BlockSubscription:
    """An open ``keepsake_subscribeBlocks`` subscription: :meth:`next` gives each committed block."""

    def __init__(self, ws_url: str, request_id: int) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        self._errors = (OSError, WebSocketException, JsonError, TimeoutError)
        try:
            # Entered as a context manager: the form every websockets version >= 12 supports.
            self._cm = connect(ws_url, open_timeout=10, max_size=RESPONSE_MAX)
            self._ws = self._cm.__enter__()
        except self._errors as e:
            raise NodeError(f"cannot open the block subscription at {ws_url}: {e}") from None
        self.url = ws_url
        try:
            self._ws.send(_dumps({"jsonrpc": "2.0", "id": request_id, "method": "keepsake_subscribeBlocks", "params": []}))
            while True:  # the subscription id comes first
                msg = self._recv(10.0)
                if msg is None:
                    raise NodeError(f"{ws_url}: no answer to keepsake_subscribeBlocks")
                if msg.get("id") == request_id:
                    if "error" in msg:
                        raise RpcError.from_object(msg["error"])
                    self.subscription = msg.get("result")
                    break
        except BaseException:
            self.close()
            raise

    def _recv(self, timeout: Optional[float]) -> Optional[Dict[str, Any]]:
        try:
            raw = self._ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except self._errors as e:
            raise NodeError(f"block subscription at {self.url} failed: {e}") from None
        try:
            msg = parse_json(raw, strict_numbers=False)
        except JsonError as e:
            raise NodeError(f"block subscription at {self.url}: not JSON: {e}") from None
        return msg if isinstance(msg, dict) else {}

    def next(self, timeout: Optional[float] = None) -> Optional[BlockSummary]:
        """The next committed block, or ``None`` after ``timeout`` seconds without one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            msg = self._recv(left)
            if msg is None:
                return None
            if msg.get("method") != "keepsake_block":
                continue
            params = msg.get("params")
            r = params.get("result") if isinstance(params, dict) else None
            if not isinstance(r, dict):
                continue
            return BlockSummary(
                height=int(r.get("height", 0)),
                hash=str(r.get("hash", "")),
                time_ms=int(r.get("time_ms", 0)),
                tx_count=int(r.get("tx_count", 0)),
                log_size=int(r.get("log_size", 0)),
                log_root=str(r.get("log_root", "")),
            )

    def close(self) -> None:
        try:
            self._cm.__exit__(None, None, None)
        except self._errors:
            pass

    def __enter__(self) -> "BlockSubscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
