"""Typed errors of the SDK.

Two families, both subclasses of :class:`KeepsakeError`:

- :class:`VerifyError`: an offline check failed. ``code`` is the stable code of
  ``crates/types/src/error.rs`` (``Error::code``): ``Malformed``, ``TooLarge``,
  ``WrongChain``, ``CertificateMismatch``, ... exactly the code the Rust verifier
  (``keepsake cert verify``) and ``web/verify.js`` return for the same input.
- :class:`RpcError`: a node answered a JSON-RPC call with an error. ``code`` is
  the stable string code of ``crates/rpc/src/error.rs`` (``data.code``, e.g.
  ``"TransferForbidden"``) and ``number`` the fixed number (4001).

Plus :class:`KeyFileError` (a key file that cannot be read), :class:`NodeError`
(the node could not be reached or answered something that is not JSON-RPC),
:class:`TxRejected` (a transaction admitted, then left out of a block) and
:class:`CommitTimeout`.
"""

from __future__ import annotations

from typing import Any, Final, Mapping

__all__ = [
    "KeepsakeError",
    "VerifyError",
    "RpcError",
    "KeyFileError",
    "NodeError",
    "TxRejected",
    "CommitTimeout",
    "ERROR_CODES",
    "error_number",
]


class KeepsakeError(Exception):
    """Base class of every error the SDK raises on purpose."""


class VerifyError(KeepsakeError):
    """An offline check failed, with the stable code of the Rust verifier.

    ``step`` names the verification step that failed (``file``, ``chain``,
    ``checkpoint``, ``consistency``, ``inclusion``, ``record`` for a
    certificate; ``certificate``, ``checkpoint``, ``revocation``, ``burn`` for a
    status answer), as ``web/verify.js`` reports it.
    """

    def __init__(self, code: str, message: str, step: str | None = None) -> None:
        super().__init__(message)
        self.code: str = code
        self.message: str = message
        self.step: str | None = step

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def mismatch(field: str, reason: str) -> VerifyError:
    """``Error::CertificateMismatch { field, reason }``."""
    return VerifyError("CertificateMismatch", f"certificate field {field} does not match: {reason}")


# crates/rpc/src/error.rs ErrorCode::TABLE: (stable code, number). Never renumbered.
ERROR_CODES: Final[Mapping[str, int]] = {
    "TransferForbidden": 4001,
    "TxTooLarge": 4002,
    "Malformed": 4003,
    "BadSignature": 4004,
    "DuplicateTransaction": 4005,
    "InsufficientGovernanceSignatures": 4006,
    "UnauthorizedSigner": 4007,
    "MissingSignature": 4008,
    "NonceReused": 4009,
    "IssuerAlreadyRegistered": 4010,
    "UnknownIssuer": 4011,
    "IssuerStatusUnchanged": 4012,
    "IssuerSuspended": 4013,
    "ReviewerAlreadyRegistered": 4014,
    "UnknownReviewer": 4015,
    "InvalidReviewApproval": 4016,
    "InvalidMaxSupply": 4017,
    "SeriesAlreadyExists": 4018,
    "ContentAlreadyRegistered": 4019,
    "UnknownSeries": 4020,
    "SupplyExceeded": 4021,
    "DuplicateCertificate": 4022,
    "UnknownCertificate": 4023,
    "AlreadyRevoked": 4024,
    "NotAValidator": 4025,
    "AlreadyAValidator": 4026,
    "InvalidValidatorChange": 4027,
    "ValidatorSetUnsafe": 4028,
    "SetChangePending": 4029,
    "InvalidGovernance": 4030,
    "ObserverAlreadyRegistered": 4031,
    "UnknownObserver": 4032,
    "LicenceExpired": 4033,
    "LicenceWithdrawn": 4034,
    "IssuerUnlicensed": 4035,
    "InvalidLicence": 4036,
    "NoLicenceToWithdraw": 4037,
    "LicencePolicyUnchanged": 4038,
    "InvalidSeriesTerms": 4039,
    "UnknownRecipe": 4040,
    "RecipeMismatch": 4041,
    "CertificateBurned": 4042,
    "CertificateRevoked": 4043,
    "SynthesisAcrossHolders": 4044,
    "SynthesisChangesHolder": 4045,
    "NotABlindBox": 4046,
    "BlindBoxClosed": 4047,
    "BlindBoxNotClosed": 4048,
    "BlindBoxAlreadyRevealed": 4049,
    "SeedMismatch": 4050,
    "EntropyMismatch": 4051,
    "NotFound": 4404,
    "BatchTooLarge": 4413,
    "InvalidRange": 4416,
    "MempoolFull": 4503,
    "StateUnavailable": 5000,
    "Internal": 5001,
}

# Codes of the JSON-RPC server itself (jsonrpsee): no data.code, named here.
_JSONRPC_CODES: Final[Mapping[int, str]] = {
    -32700: "ParseError",
    -32600: "InvalidRequest",
    -32601: "MethodNotFound",
    -32602: "InvalidParams",
    -32603: "InternalError",
    -32006: "TooManySubscriptions",
    -32008: "ResponseTooLarge",
    -32010: "BatchTooLarge",
}


def error_number(code: str) -> int:
    """The fixed number of a stable code (5001, ``Internal``, when unknown), as ``ErrorCode::number``."""
    return ERROR_CODES.get(code, 5001)


class RpcError(KeepsakeError):
    """A JSON-RPC error answered by the node.

    ``code``: the stable string code (``data.code`` of the error object, e.g.
    ``"TransferForbidden"``; for the JSON-RPC server's own errors, which carry
    no ``data.code``, a name such as ``"InvalidParams"``). ``number``: the
    JSON-RPC error number (4001). ``message``: the node's text, for humans.
    ``data``: the raw ``data`` member.
    """

    def __init__(self, code: str, number: int, message: str, data: Any = None) -> None:
        super().__init__(f"{code} ({number}): {message}")
        self.code: str = code
        self.number: int = number
        self.message: str = message
        self.data: Any = data

    @classmethod
    def from_object(cls, obj: Any) -> "RpcError":
        """Builds the error from a JSON-RPC error object (tolerating odd shapes)."""
        if not isinstance(obj, dict):
            return cls("Internal", 5001, f"malformed error object: {obj!r:.200}")
        number = obj.get("number", obj.get("code"))
        if not isinstance(number, int) or isinstance(number, bool):
            number = 5001
        message = obj.get("message")
        if not isinstance(message, str):
            message = ""
        data = obj.get("data")
        code: str | None = None
        if isinstance(data, dict) and isinstance(data.get("code"), str):
            code = data["code"]
        if code is None:
            code = _JSONRPC_CODES.get(number)
        if code is None:
            code = next((c for c, n in ERROR_CODES.items() if n == number), "Internal")
        return cls(code, number, message, data)


class KeyFileError(KeepsakeError):
    """A key file that is missing, too large, not a key file, or whose keys disagree."""


class NodeError(KeepsakeError):
    """The node could not be reached, or answered something that is not JSON-RPC."""


class TxRejected(KeepsakeError):
    """A transaction admitted to the mempool and then left out of a block (``TxStatus`` ``rejected``)."""

    def __init__(self, tx_id: str, code: str, message: str) -> None:
        super().__init__(f"transaction {tx_id} rejected: {code}: {message}")
        self.tx_id: str = tx_id
        self.code: str = code
        self.number: int = error_number(code)
        self.message: str = message


class CommitTimeout(KeepsakeError):
    """A transaction not committed within the time given."""

    def __init__(self, tx_id: str, seconds: float) -> None:
        super().__init__(f"transaction {tx_id} not committed after {seconds:g}s; check later with its id")
        self.tx_id: str = tx_id
