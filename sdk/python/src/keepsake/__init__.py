"""Keepsake Python SDK: keys, transactions signed locally, a JSON-RPC client, and
offline verification of certificates and status answers against the genesis file.

    import keepsake
    node = keepsake.Client("http://127.0.0.1:8645")
    issuer = keepsake.Keypair.load("keepsake-dev/keys/issuer.json")
    verified = keepsake.verify_certificate(node.fetch_certificate(cert_id), "keepsake-dev/genesis.json")

See README.md for the tour; docs/protocol.md for every byte.
"""

from .block import (
    AddValidator,
    Checkpoint,
    Commit,
    Header,
    RemoveValidator,
    RotateValidatorKey,
    SetValidatorPower,
    Validator,
    verify_commit,
)
from .certificate import (
    CERTIFICATE_FILE_MAX,
    CERTIFICATE_FORMAT,
    Certificate,
    CertificateRecord,
    CertificateStatus,
    VerifiedCertificate,
    VerifiedStatus,
    is_holder,
    verify_certificate,
    verify_status,
)
from .client import DEFAULT_URL, Client, RefreshError, SubmitOutcome, TxStatus, random_nonce
from .errors import (
    ERROR_CODES,
    CommitTimeout,
    KeepsakeError,
    KeyFileError,
    NodeError,
    RpcError,
    TxRejected,
    VerifyError,
)
from .genesis import Genesis, load_genesis
from .hashing import certificate_id, content_hash, holder_id, seed_commitment, series_id, tx_id
from .keys import Keypair, read_key_file, write_key_file
from .life import BlindBoxTerms, BoxVariant, Licence, Recipe, RecipeInput, SeriesTerms, draw_variants
from .tx import (
    ChangeValidators,
    CloseBlindBox,
    CreateSeries,
    CreateSeriesWithTerms,
    Mint,
    RegisterIssuer,
    RegisterObserver,
    RegisterReviewer,
    RemoveObserver,
    RemoveReviewer,
    RevealBlindBox,
    ReviewApproval,
    ReviewSubject,
    Revoke,
    SetGovernance,
    SetIssuerLicence,
    SetIssuerStatus,
    SetLicencePolicy,
    SignedTx,
    Synthesize,
    Transfer,
    TxBody,
    WithdrawIssuerLicence,
    decode_log_leaf,
    decode_signed_tx,
    review_message,
    sign,
)

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # client
    "Client",
    "DEFAULT_URL",
    "TxStatus",
    "SubmitOutcome",
    "RefreshError",
    "random_nonce",
    # errors
    "KeepsakeError",
    "VerifyError",
    "RpcError",
    "KeyFileError",
    "NodeError",
    "TxRejected",
    "CommitTimeout",
    "ERROR_CODES",
    # keys and ids
    "Keypair",
    "read_key_file",
    "write_key_file",
    "holder_id",
    "series_id",
    "certificate_id",
    "tx_id",
    "content_hash",
    "seed_commitment",
    # transactions
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
    "AddValidator",
    "RemoveValidator",
    "SetValidatorPower",
    "RotateValidatorKey",
    "Validator",
    "ReviewSubject",
    "ReviewApproval",
    "review_message",
    "SignedTx",
    "sign",
    "decode_signed_tx",
    "decode_log_leaf",
    "Licence",
    "Recipe",
    "RecipeInput",
    "BoxVariant",
    "BlindBoxTerms",
    "SeriesTerms",
    "draw_variants",
    # verification
    "Genesis",
    "load_genesis",
    "Header",
    "Commit",
    "Checkpoint",
    "verify_commit",
    "Certificate",
    "CertificateRecord",
    "CertificateStatus",
    "VerifiedCertificate",
    "VerifiedStatus",
    "verify_certificate",
    "verify_status",
    "is_holder",
    "CERTIFICATE_FILE_MAX",
    "CERTIFICATE_FORMAT",
]
