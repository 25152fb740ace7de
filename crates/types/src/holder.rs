//! Holder proofs: the opening of a certificate's holder commitment.
//!
//! A certificate names its holder only by a commitment,
//! `holder_id(salt, account)` ([`crate::ids::holder_id`]). The holder (or the
//! platform, for its user) can hand a verifier the opening — the salt and the
//! account id — privately; the verifier checks it against a certificate it
//! verified itself. Nothing is sent to a node and nothing personal is ever on
//! chain. The file format is docs/protocol.md, "Holder openings".

use serde::{Deserialize, Serialize};

use crate::certificate::VerifiedCertificate;
use crate::ids::{self, CertificateId, HolderId};
use crate::{Error, Result};

/// The `format` value of a holder opening.
pub const HOLDER_OPENING_FORMAT: &str = "keepsake-holder-opening/v1";

/// Largest holder-opening file accepted by tools, in bytes.
pub const HOLDER_OPENING_FILE_MAX: usize = 16 * 1024;

/// Longest salt or account id in an opening, in bytes.
pub const OPENING_TEXT_MAX_BYTES: usize = 1024;

/// The opening of one certificate's holder commitment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderOpening {
    /// Always [`HOLDER_OPENING_FORMAT`].
    pub format: String,
    /// The certificate it opens.
    pub certificate_id: CertificateId,
    /// The commitment it opens (the certificate's `record.holder`).
    pub holder: HolderId,
    /// The platform's salt.
    pub salt: String,
    /// The platform's account id of the holder.
    pub account: String,
}

impl HolderOpening {
    /// The opening of `certificate`'s holder commitment by `salt` and
    /// `account`, refused (with [`Error::NotTheHolder`]) when they do not open it.
    pub fn for_certificate(certificate: &VerifiedCertificate, salt: &str, account: &str) -> Result<Self> {
        let opening = Self {
            format: HOLDER_OPENING_FORMAT.to_string(),
            certificate_id: certificate.certificate_id,
            holder: ids::holder_id(salt, account),
            salt: salt.to_string(),
            account: account.to_string(),
        };
        opening.check(certificate)?;
        Ok(opening)
    }

    /// Parses an opening file (bounded size, unknown fields refused).
    pub fn from_json(text: &str) -> Result<Self> {
        crate::certificate::parse_json_file(text, "holder opening", HOLDER_OPENING_FILE_MAX)
    }

    /// Checks that this opening opens the holder commitment of `certificate`
    /// (which the caller verified): the format, the certificate id, then
    /// `holder_id(salt, account) == holder == certificate.record.holder`.
    pub fn check(&self, certificate: &VerifiedCertificate) -> Result<()> {
        if self.format != HOLDER_OPENING_FORMAT {
            return Err(Error::Malformed {
                what: "holder opening",
                reason: format!("unsupported format {:?}, expected {HOLDER_OPENING_FORMAT:?}", self.format),
            });
        }
        for (field, value) in [("salt", &self.salt), ("account", &self.account)] {
            if value.is_empty() || value.len() > OPENING_TEXT_MAX_BYTES {
                return Err(Error::Malformed {
                    what: "holder opening",
                    reason: format!("{field} must be 1 to {OPENING_TEXT_MAX_BYTES} bytes"),
                });
            }
        }
        let not = |reason: String| Err(Error::NotTheHolder { reason });
        if self.certificate_id != certificate.certificate_id {
            return not(format!(
                "the opening is for certificate {}, not {}",
                self.certificate_id, certificate.certificate_id
            ));
        }
        if ids::holder_id(&self.salt, &self.account) != self.holder {
            return not("the salt and account do not give the opening's holder commitment".into());
        }
        if self.holder != certificate.record.holder {
            return not(format!(
                "the certificate's holder is {}, the opening gives {}",
                certificate.record.holder, self.holder
            ));
        }
        Ok(())
    }
}
