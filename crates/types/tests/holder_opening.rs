//! Holder openings against the golden certificate (its holder is
//! `holder_id("test-salt", "account-2")`).

use keepsake_types::holder::{HOLDER_OPENING_FILE_MAX, HOLDER_OPENING_FORMAT, HolderOpening};
use keepsake_types::{Certificate, Genesis, VerifiedCertificate};

const GENESIS: &str = include_str!("../../../tests/fixtures/certificates/genesis.json");
const CERTIFICATE: &str = include_str!("../../../tests/fixtures/certificates/valid.json");
const REVOKED: &str = include_str!("../../../tests/fixtures/certificates/revoked.json");

fn verified(text: &str) -> VerifiedCertificate {
    let genesis = Genesis::from_json(GENESIS).unwrap();
    Certificate::from_json(text).unwrap().verify(&genesis).unwrap()
}

#[test]
fn the_right_salt_and_account_open_the_certificate() {
    let cert = verified(CERTIFICATE);
    let opening = HolderOpening::for_certificate(&cert, "test-salt", "account-2").unwrap();
    assert_eq!(opening.format, HOLDER_OPENING_FORMAT);
    assert_eq!(opening.holder, cert.record.holder);
    // Through its file form too.
    let text = serde_json::to_string(&opening).unwrap();
    HolderOpening::from_json(&text).unwrap().check(&cert).unwrap();
}

#[test]
fn anything_else_is_not_the_holder() {
    let cert = verified(CERTIFICATE);
    for (salt, account) in
        [("test-salt", "account-1"), ("other-salt", "account-2"), ("test-salt", "account-2 ")]
    {
        let err = HolderOpening::for_certificate(&cert, salt, account).unwrap_err();
        assert_eq!(err.code(), "NotTheHolder", "{salt}/{account}");
    }
    let good = HolderOpening::for_certificate(&cert, "test-salt", "account-2").unwrap();
    // An opening of another certificate.
    let other = verified(REVOKED);
    assert_ne!(other.certificate_id, cert.certificate_id);
    assert_eq!(good.check(&other).unwrap_err().code(), "NotTheHolder");
    // A holder field that the salt and account do not give (hand-edited file).
    let mut edited = good.clone();
    edited.account = "account-1".into();
    assert_eq!(edited.check(&cert).unwrap_err().code(), "NotTheHolder");
    // Format and bounds.
    let mut wrong_format = good.clone();
    wrong_format.format = "keepsake-holder-opening/v0".into();
    assert_eq!(wrong_format.check(&cert).unwrap_err().code(), "Malformed");
    let mut empty = good;
    empty.salt.clear();
    assert_eq!(empty.check(&cert).unwrap_err().code(), "Malformed");
}

#[test]
fn opening_files_are_bounded_and_strict() {
    let huge = " ".repeat(HOLDER_OPENING_FILE_MAX + 1);
    assert_eq!(HolderOpening::from_json(&huge).unwrap_err().code(), "TooLarge");
    let cert = verified(CERTIFICATE);
    let mut value =
        serde_json::to_value(HolderOpening::for_certificate(&cert, "test-salt", "account-2").unwrap())
            .unwrap();
    value["extra"] = serde_json::json!(1);
    assert_eq!(HolderOpening::from_json(&value.to_string()).unwrap_err().code(), "Malformed");
}
