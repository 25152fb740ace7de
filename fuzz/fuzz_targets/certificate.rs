//! The certificate file a holder hands to a verifier: `Certificate::from_json`
//! then `Certificate::verify` against the golden genesis of the test fixtures.
//! Parsing and verifying must never panic, and whatever verifies must attest
//! a record of the fixtures' chain (the same certificate id and record as one
//! of the golden certificates: editions 2 and 3 of the "jade" series): a
//! forged attestation that verifies is a crash.
#![no_main]

use std::sync::OnceLock;

use keepsake_types::{Certificate, CertificateId, CertificateRecord, Genesis};
use libfuzzer_sys::fuzz_target;

const GENESIS: &str = include_str!("../../tests/fixtures/certificates/genesis.json");
const VALID: &str = include_str!("../../tests/fixtures/certificates/valid.json");
const VALID_AT_3: &str = include_str!("../../tests/fixtures/certificates/valid-at-height-3.json");
const REFRESHED: &str = include_str!("../../tests/fixtures/certificates/refreshed.json");
const REVOKED: &str = include_str!("../../tests/fixtures/certificates/revoked.json");

struct Golden {
    genesis: Genesis,
    known: Vec<(CertificateId, CertificateRecord)>,
}

fn golden() -> &'static Golden {
    static GOLDEN: OnceLock<Golden> = OnceLock::new();
    GOLDEN.get_or_init(|| Golden {
        genesis: Genesis::from_json(GENESIS).expect("golden genesis"),
        known: [VALID, VALID_AT_3, REFRESHED, REVOKED]
            .iter()
            .map(|text| Certificate::from_json(text).expect("golden certificate"))
            .map(|c| (c.certificate_id, c.record))
            .collect(),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let golden = golden();
    let Ok(cert) = Certificate::from_json(text) else { return };
    if cert.verify(&golden.genesis).is_ok() {
        let attested = (cert.certificate_id, cert.record.clone());
        assert!(golden.known.contains(&attested), "a forged certificate verified: {cert:?}");
    }
});
