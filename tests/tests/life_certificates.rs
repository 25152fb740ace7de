//! Certificates of the collectible's life without resale (issue 16), on the
//! golden fixtures of `generate_life` (tests/tests/golden.rs): a synthesized
//! certificate, a burned one and its status answer, a revealed and an
//! unrevealed blind-box edition. Every hostile case fails on its precise
//! field, with the single verifier and the batch verifier alike; the CLI
//! prints what was verified.

use std::path::PathBuf;

use keepsake_types::encoding::decode;
use keepsake_types::life::{draw_variants, seed_commitment};
use keepsake_types::{
    Certificate, CertificateStatus, CertificateVerifier, Error, Genesis, LogLeaf, TxBody, VerifiedCertificate,
};

fn read(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/certificates").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn genesis() -> Genesis {
    Genesis::from_json(&read("genesis.json")).unwrap()
}

fn cert(name: &str) -> Certificate {
    Certificate::from_json(&read(name)).unwrap()
}

fn verified(name: &str) -> VerifiedCertificate {
    cert(name).verify(&genesis()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn leaf(bytes: &[u8]) -> LogLeaf {
    decode(bytes, usize::MAX, "leaf").unwrap()
}

/// The field a verification failed on (every life check is a `CertificateMismatch`).
fn field_of(result: keepsake_types::Result<impl std::fmt::Debug>) -> &'static str {
    match result {
        Err(Error::CertificateMismatch { field, .. }) => field,
        other => panic!("expected a CertificateMismatch, got {other:?}"),
    }
}

#[test]
fn a_synthesized_certificate_lists_what_it_burned() {
    let v = verified("life-synthesized.json");
    assert_eq!(v.recipe, Some(0));
    assert!(v.blind_box.is_none());
    let c = cert("life-synthesized.json");
    let TxBody::Synthesize { inputs, .. } = leaf(&c.mint.leaf.0).tx.body else { panic!("a synthesis") };
    assert_eq!(v.record.synthesized_from, inputs);
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0], cert("life-burned.json").certificate_id);
    // A minted certificate is not synthesized.
    assert_eq!(verified("life-burned.json").recipe, None);
}

#[test]
fn a_burned_certificate_status_proves_the_burn_into_the_output() {
    let g = genesis();
    let burned = verified("life-burned.json");
    let status: CertificateStatus = serde_json::from_str(&read("life-burned-status.json")).unwrap();
    let v = status.verify(&g, &burned).unwrap();
    assert!(v.revocation.is_none());
    let b = v.burned.expect("burned");
    let output = verified("life-synthesized.json");
    assert_eq!(b.into, output.certificate_id);
    assert_eq!(b.tx_id, output.record.mint_tx);
    assert_eq!(
        (b.height, b.time_ms, b.leaf_index),
        (output.record.height, output.record.time_ms, output.mint_leaf_index)
    );
    // The kept edition: active, no burn.
    let kept = verified("life-kept.json");
    let status: CertificateStatus = serde_json::from_str(&read("life-kept-status.json")).unwrap();
    assert!(status.verify(&g, &kept).unwrap().burned.is_none());
}

#[test]
fn a_revealed_blind_box_carries_the_drawn_variant_and_an_unrevealed_one_none() {
    let c = cert("life-blind-box.json");
    let v = verified("life-blind-box.json");
    let reveal = v.blind_box.as_ref().and_then(|b| b.reveal.as_ref()).expect("revealed");
    assert_eq!(reveal.leaf_index, c.reveal.as_ref().unwrap().leaf_index);
    // The draw, recomputed from the logged terms and reveal.
    let chain = genesis().chain_id;
    let TxBody::CreateSeriesWithTerms { terms, .. } = leaf(&c.series.leaf.0).tx.body else { panic!("terms") };
    let terms = terms.blind_box.expect("a blind box");
    let TxBody::RevealBlindBox { series_id, seed, entropy } =
        leaf(&c.reveal.as_ref().unwrap().leaf.0).tx.body
    else {
        panic!("a reveal")
    };
    assert_eq!(seed_commitment(&chain, &seed), terms.seed_commitment);
    let deck = draw_variants(&chain, &series_id, &seed, &entropy, &terms.variants).unwrap();
    let drawn = deck[(c.record.edition - 1) as usize];
    let variant = v.record.variant.as_ref().expect("a variant");
    assert_eq!(variant.index, drawn);
    assert_eq!(variant.name, terms.variants[drawn as usize].name);
    assert_eq!(variant.content_hash, terms.variants[drawn as usize].content_hash);

    let u = verified("life-blind-box-unrevealed.json");
    assert_eq!(u.blind_box, Some(keepsake_types::VerifiedBlindBox { reveal: None }));
    assert!(u.record.variant.is_none());
}

/// (fixture, field): the hostile fixtures of `generate_life`.
const HOSTILE: &[(&str, &str)] = &[
    ("life-tampered-synthesized-from.json", "record.synthesized_from"),
    ("life-variant-not-drawn.json", "record.variant.index"),
    ("life-variant-without-reveal.json", "record.variant"),
    ("life-reveal-other-series.json", "reveal.series_id"),
    ("life-reveal-wrong-seed.json", "reveal.seed"),
];

#[test]
fn each_hostile_fixture_fails_on_its_field_with_both_verifiers() {
    let mut batch = CertificateVerifier::new(genesis());
    for valid in ["life-synthesized.json", "life-blind-box.json", "life-blind-box-unrevealed.json"] {
        batch.verify(&cert(valid)).unwrap();
    }
    // The revealed box's draw is computed once and remembered; a remembered
    // draw still gives every other certificate of the box its own check.
    assert_eq!(batch.draws_remembered(), 1);
    assert_eq!(batch.verify(&cert("life-blind-box.json")).unwrap(), verified("life-blind-box.json"));
    for (file, field) in HOSTILE {
        assert_eq!(field_of(cert(file).verify(&genesis())), *field, "{file}");
        assert_eq!(field_of(batch.verify(&cert(file))), *field, "{file}, batch verifier");
    }
}

#[test]
fn hostile_records_and_entries_fail_on_their_field() {
    let g = genesis();
    let plain = cert("life-kept.json");
    let boxed = cert("life-blind-box.json");
    let check = |c: Certificate, field: &str| assert_eq!(field_of(c.verify(&g)), field);
    // A plain series carries no reveal and no variant.
    check(Certificate { reveal: boxed.reveal.clone(), ..plain.clone() }, "reveal");
    let mut c = plain.clone();
    c.record.variant = boxed.record.variant.clone();
    check(c, "record.variant");
    // A minted certificate claiming to be synthesized.
    let mut c = plain.clone();
    c.record.synthesized_from = vec![plain.certificate_id];
    check(c, "record.synthesized_from");
    // A revealed box whose record leaves out the variant, or alters its name or artwork.
    let mut c = boxed.clone();
    c.record.variant = None;
    check(c, "record.variant");
    let mut c = boxed.clone();
    c.record.variant.as_mut().unwrap().name.push('!');
    check(c, "record.variant.name");
    let mut c = boxed.clone();
    c.record.variant.as_mut().unwrap().content_hash.0[0] ^= 1;
    check(c, "record.variant.content_hash");
    // Another logged entry passed off as the reveal (the mint, proven against the same checkpoint).
    check(Certificate { reveal: Some(boxed.mint.clone()), ..boxed.clone() }, "reveal.leaf");
    // A reveal proof that does not lead to the root.
    let mut c = boxed.clone();
    c.reveal.as_mut().unwrap().proof[0].0[0] ^= 1;
    assert_eq!(c.verify(&g).unwrap_err().code(), "ProofMismatch");
}

#[test]
fn hostile_burns_fail_on_their_field() {
    let g = genesis();
    let kept = verified("life-kept.json");
    let answer: CertificateStatus = serde_json::from_str(&read("life-burn-not-listed-status.json")).unwrap();
    assert_eq!(field_of(answer.verify(&g, &kept)), "burn.inputs");
    // A non-synthesis entry passed off as the burn (the certificate's own mint).
    let burned = verified("life-burned.json");
    let mut answer: CertificateStatus = serde_json::from_str(&read("life-burned-status.json")).unwrap();
    answer.burn = Some(cert("life-burned.json").mint);
    assert_eq!(field_of(answer.verify(&g, &burned)), "burn.leaf");
    // A burn proof that does not lead to the root.
    let mut answer: CertificateStatus = serde_json::from_str(&read("life-burned-status.json")).unwrap();
    answer.burn.as_mut().unwrap().proof[0].0[0] ^= 1;
    assert_eq!(answer.verify(&g, &burned).unwrap_err().code(), "ProofMismatch");
}

#[test]
fn the_cli_prints_the_synthesis_the_variant_and_the_burn() {
    let joined = |v: &VerifiedCertificate| keepsake::cli::verified_lines(v).join("\n");
    let synthesized = verified("life-synthesized.json");
    let text = joined(&synthesized);
    assert!(text.contains("synthesized   from 2 burned certificates by recipe 0:"), "{text}");
    for id in &synthesized.record.synthesized_from {
        assert!(text.contains(&id.to_string()), "{text}");
    }
    let text = joined(&verified("life-blind-box-unrevealed.json"));
    assert!(text.contains("blind box     not yet revealed"), "{text}");
    let boxed = verified("life-blind-box.json");
    let text = joined(&boxed);
    let name = &boxed.record.variant.as_ref().unwrap().name;
    assert!(text.contains(&format!("variant       {name} (variant ")), "{text}");
    assert!(!joined(&verified("life-kept.json")).contains("variant"));

    let g = genesis();
    let status: CertificateStatus = serde_json::from_str(&read("life-burned-status.json")).unwrap();
    let v = status.verify(&g, &verified("life-burned.json")).unwrap();
    let b = v.burned.as_ref().unwrap();
    let text = keepsake::cli::status_lines(&v).join("\n");
    let expected =
        format!("burned on {} into {}", keepsake::cli::utc_date(b.time_ms), synthesized.certificate_id);
    assert!(text.starts_with("BURNED certificate") && text.contains(&expected), "{text}");
}
