//! Error objects. Every error the API returns is a JSON-RPC error whose
//! `code` is a fixed number and whose `data` carries the stable string code
//! (the same one as in logs and docs/rules.md):
//!
//! ```json
//! {"code": 4001, "message": "transfers are forbidden: ...", "data": {"code": "TransferForbidden"}}
//! ```
//!
//! Ledger rejections use 4000 + the rule number of docs/rules.md (T1 = 4001,
//! ..., T32 = 4032). Node-level errors use the 4400-4599 and 5000 ranges.
//! Malformed JSON, unknown methods and wrong parameter types keep the
//! JSON-RPC 2.0 codes (-32700, -32601, -32602) produced by the server.

use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};

/// The `data` member of every Keepsake error object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcErrorData {
    /// Stable string code.
    pub code: String,
}

/// Fixed numbers of the stable codes. Never renumber.
pub struct ErrorCode;

impl ErrorCode {
    /// (stable code, number) for every error the API can return.
    pub const TABLE: &'static [(&'static str, i32)] = &[
        ("TransferForbidden", 4001),
        ("TxTooLarge", 4002),
        ("Malformed", 4003),
        ("BadSignature", 4004),
        ("DuplicateTransaction", 4005),
        ("InsufficientGovernanceSignatures", 4006),
        ("UnauthorizedSigner", 4007),
        ("MissingSignature", 4008),
        ("NonceReused", 4009),
        ("IssuerAlreadyRegistered", 4010),
        ("UnknownIssuer", 4011),
        ("IssuerStatusUnchanged", 4012),
        ("IssuerSuspended", 4013),
        ("ReviewerAlreadyRegistered", 4014),
        ("UnknownReviewer", 4015),
        ("InvalidReviewApproval", 4016),
        ("InvalidMaxSupply", 4017),
        ("SeriesAlreadyExists", 4018),
        ("ContentAlreadyRegistered", 4019),
        ("UnknownSeries", 4020),
        ("SupplyExceeded", 4021),
        ("DuplicateCertificate", 4022),
        ("UnknownCertificate", 4023),
        ("AlreadyRevoked", 4024),
        ("NotAValidator", 4025),
        ("AlreadyAValidator", 4026),
        ("InvalidValidatorChange", 4027),
        ("ValidatorSetUnsafe", 4028),
        ("SetChangePending", 4029),
        ("InvalidGovernance", 4030),
        ("ObserverAlreadyRegistered", 4031),
        ("UnknownObserver", 4032),
        ("LicenceExpired", 4033),
        ("LicenceWithdrawn", 4034),
        ("IssuerUnlicensed", 4035),
        ("InvalidLicence", 4036),
        ("NoLicenceToWithdraw", 4037),
        ("LicencePolicyUnchanged", 4038),
        ("InvalidSeriesTerms", 4039),
        ("UnknownRecipe", 4040),
        ("RecipeMismatch", 4041),
        ("CertificateBurned", 4042),
        ("CertificateRevoked", 4043),
        ("SynthesisAcrossHolders", 4044),
        ("SynthesisChangesHolder", 4045),
        ("NotABlindBox", 4046),
        ("BlindBoxClosed", 4047),
        ("BlindBoxNotClosed", 4048),
        ("BlindBoxAlreadyRevealed", 4049),
        ("SeedMismatch", 4050),
        ("EntropyMismatch", 4051),
        ("NotFound", 4404),
        ("BatchTooLarge", 4413),
        ("InvalidRange", 4416),
        ("MempoolFull", 4503),
        ("StateUnavailable", 5000),
        ("Internal", 5001),
    ];

    /// The number of a stable code (5001, `Internal`, for a code not in the table).
    pub fn number(code: &str) -> i32 {
        Self::TABLE.iter().find(|(c, _)| *c == code).map_or(5001, |(_, n)| *n)
    }
}

/// Builds the error object for a stable code and a message.
pub fn rpc_error(code: &str, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        ErrorCode::number(code),
        message.into(),
        Some(RpcErrorData { code: code.to_string() }),
    )
}

/// The stable string code of an error object received by a client, if it is a Keepsake error.
pub fn stable_code(error: &ErrorObjectOwned) -> Option<String> {
    let data = error.data()?;
    serde_json::from_str::<RpcErrorData>(data.get()).ok().map(|d| d.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn codes_and_numbers_are_unique() {
        let codes: BTreeSet<_> = ErrorCode::TABLE.iter().map(|(c, _)| c).collect();
        let numbers: BTreeSet<_> = ErrorCode::TABLE.iter().map(|(_, n)| n).collect();
        assert_eq!(codes.len(), ErrorCode::TABLE.len());
        assert_eq!(numbers.len(), ErrorCode::TABLE.len());
    }

    #[test]
    fn error_object_carries_both_codes() {
        let e = rpc_error("TransferForbidden", "no");
        assert_eq!(e.code(), 4001);
        assert_eq!(stable_code(&e).as_deref(), Some("TransferForbidden"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["data"]["code"], "TransferForbidden");
    }
}
