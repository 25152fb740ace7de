//! The certificate file a holder hands to a verifier: `Certificate::from_json`
//! then `Certificate::verify` against the golden genesis of the test fixtures.
//! Parsing and verifying must never panic, and whatever verifies must attest
//! a record of the fixtures' chain (the same certificate id and record as one
//! of the golden certificates: editions 2 and 3 of the "jade" series): a
//! forged attestation that verifies is a crash. The same input is also read
//! as a status answer (`keepsake cert status --answer`) and verified against
//! each golden certificate: a revocation that verifies must be the golden one.
#![no_main]

use std::sync::OnceLock;

use keepsake_types::{
    Certificate, CertificateId, CertificateRecord, CertificateStatus, Genesis, VerifiedCertificate,
};
use libfuzzer_sys::fuzz_target;

const GENESIS: &str = include_str!("../../tests/fixtures/certificates/genesis.json");
const VALID: &str = include_str!("../../tests/fixtures/certificates/valid.json");
const VALID_AT_3: &str = include_str!("../../tests/fixtures/certificates/valid-at-height-3.json");
const REFRESHED: &str = include_str!("../../tests/fixtures/certificates/refreshed.json");
const REVOKED: &str = include_str!("../../tests/fixtures/certificates/revoked.json");

struct Golden {
    genesis: Genesis,
    known: Vec<(CertificateId, CertificateRecord)>,
    verified: Vec<VerifiedCertificate>,
    revoked: CertificateId,
}

fn golden() -> &'static Golden {
    static GOLDEN: OnceLock<Golden> = OnceLock::new();
    GOLDEN.get_or_init(|| {
        let genesis = Genesis::from_json(GENESIS).expect("golden genesis");
        let certificates: Vec<Certificate> = [VALID, VALID_AT_3, REFRESHED, REVOKED]
            .iter()
            .map(|text| Certificate::from_json(text).expect("golden certificate"))
            .collect();
        let verified =
            certificates.iter().map(|c| c.verify(&genesis).expect("golden certificate verifies")).collect();
        let known = certificates.iter().map(|c| (c.certificate_id, c.record.clone())).collect();
        let revoked = Certificate::from_json(REVOKED).expect("golden certificate").certificate_id;
        Golden { genesis, known, verified, revoked }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let golden = golden();
    if let Ok(cert) = Certificate::from_json(text)
        && cert.verify(&golden.genesis).is_ok()
    {
        let attested = (cert.certificate_id, cert.record.clone());
        assert!(golden.known.contains(&attested), "a forged certificate verified: {cert:?}");
    }
    if let Ok(status) = serde_json::from_str::<CertificateStatus>(text) {
        for cert in &golden.verified {
            if let Ok(v) = status.verify(&golden.genesis, cert)
                && v.revocation.is_some()
            {
                assert_eq!(v.certificate_id, golden.revoked, "a forged revocation verified: {status:?}");
            }
        }
    }
});
