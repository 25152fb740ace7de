//! Golden certificate fixtures (tests/fixtures/certificates/): a
//! deterministic 4-validator chain, certificates assembled by the node's own
//! code from a real sled store, and one file per tampering with the exact
//! verdict expected. The files are what docs/auditor-guide.md's worked
//! example quotes and what any other verifier (the browser page, a verifier
//! in another language) can be tested against.
//!
//! The test regenerates every file in memory and requires the committed
//! bytes to be identical (ed25519 signatures are deterministic), then checks
//! each file's verdict. After a deliberate format change, regenerate with
//! `KEEPSAKE_BLESS=1 cargo test -p keepsake-tests --test golden`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use keepsake_ledger::testkit::{TestChain, TestNet, commit_signed_by, key};
use keepsake_ledger::{StateView, validate_block};
use keepsake_store::Store;
use keepsake_types::{
    BlindBoxTerms, BoxVariant, Certificate, CertificateId, CertificateStatus, Checkpoint, CheckpointLink,
    Genesis, Hash32, HexBytes, Keypair, LogEntryProof, LogLeaf, Recipe, RecipeInput, SeriesId, SeriesTerms,
    SignedTx, TxBody, Validator, ValidatorChange, VariantRecord, ids, merkle,
};
use serde_json::json;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("certificates")
}

/// The deterministic chain, stored in a real store; returns the certificate
/// files and status answers as the node's code assembles them.
struct Generated {
    files: BTreeMap<&'static str, String>,
}

fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).expect("serialises") + "\n"
}

fn generate() -> Generated {
    let mut chain = TestChain::new(TestNet::new(4));
    let genesis = chain.net.genesis.clone();
    let store = Store::open_temporary(&genesis).expect("temporary store");
    let chain_id = genesis.chain_id.clone();
    let sid = chain.net.series_id(&chain.net.issuer, "jade");
    let cert_id = |e: u32| ids::certificate_id(&chain_id, &sid, e);
    let batches = {
        let net = &chain.net;
        let revoke = TxBody::Revoke { certificate_id: cert_id(3), reason: "minted in error".into() }
            .sign(net.chain(), &[&net.issuer]);
        vec![
            net.setup_txs(),
            vec![net.create_series(&net.issuer, &net.reviewer, "jade", 8)],
            (1..=3).map(|e| net.mint(&net.issuer, sid, e, e)).collect(),
            vec![revoke],
            vec![],
        ]
    };
    let mut at_height_3: Option<Certificate> = None;
    for txs in batches {
        let tip = store.ledger_tip(&genesis).expect("tip");
        let (block, commit) = chain.push(txs).clone();
        let executed = validate_block(&store, &genesis, &tip, &block).expect("valid");
        store.commit_block(&block, &commit, &executed).expect("stored");
        if block.header.height == 3 {
            at_height_3 = Some(build(&store, &genesis, &cert_id(2)));
        }
    }
    let old = at_height_3.expect("built at height 3");
    let valid = build(&store, &genesis, &cert_id(2));
    let revoked_cert = build(&store, &genesis, &cert_id(3));
    let status = |id: &CertificateId| -> CertificateStatus {
        keepsake::certificates::status(&store, &genesis, id).expect("status")
    };

    let mut files = BTreeMap::new();
    files.insert("genesis.json", pretty(&genesis));
    let mut other = genesis.clone();
    other.validators[3] =
        Validator { public_key: Keypair::from_seed([9; 32]).public(), power: 1, name: "org-x".into() };
    files.insert("other-genesis.json", pretty(&other));
    files.insert("valid.json", pretty(&valid));
    files.insert("valid-at-height-3.json", pretty(&old));
    let tamper = |f: &dyn Fn(&mut Certificate)| {
        let mut c = valid.clone();
        f(&mut c);
        pretty(&c)
    };
    files.insert("tampered-record.json", tamper(&|c| c.record.edition = 3));
    files.insert("tampered-holder.json", tamper(&|c| c.record.holder.0[0] ^= 1));
    files.insert("tampered-proof.json", tamper(&|c| c.mint.proof[0].0[0] ^= 1));
    files.insert("tampered-leaf.json", tamper(&|c| c.mint.leaf.0[10] ^= 1));
    files.insert("tampered-header.json", tamper(&|c| c.checkpoint.header.log_root.0[0] ^= 1));
    files.insert(
        "tampered-signature.json",
        tamper(&|c| c.checkpoint.commit.signatures[1].signature.0[0] ^= 1),
    );
    files.insert("too-few-signatures.json", tamper(&|c| c.checkpoint.commit.signatures.truncate(2)));
    files.insert(
        "wrong-chain.json",
        tamper(&|c| c.chain_id = "keepsake-other".parse().expect("a valid chain id")),
    );
    let text = pretty(&valid);
    files.insert("malformed.json", text[..text.len() / 2].to_string());

    // Refreshed: the certificate at height 5, linked to its height-3 checkpoint.
    let proof = store
        .consistency_proof(old.checkpoint.header.log_size, valid.checkpoint.header.log_size)
        .expect("consistency proof");
    let refreshed = Certificate {
        previous: Some(CheckpointLink { checkpoint: old.checkpoint.clone(), consistency: proof }),
        ..valid.clone()
    };
    files.insert("refreshed.json", pretty(&refreshed));
    let mut bad_link = refreshed.clone();
    let link = bad_link.previous.as_mut().expect("linked");
    link.consistency[0].0[0] ^= 1;
    files.insert("tampered-consistency.json", pretty(&bad_link));

    // Status answers: the revoked edition 3, the active edition 2.
    files.insert("revoked.json", pretty(&revoked_cert));
    files.insert("revoked-status.json", pretty(&status(&cert_id(3))));
    files.insert("active-status.json", pretty(&status(&cert_id(2))));
    let mut forged = status(&cert_id(3));
    forged.revocation.as_mut().expect("revoked").proof[0].0[0] ^= 1;
    files.insert("tampered-revoked-status.json", pretty(&forged));
    generate_set_changes(&mut files);
    generate_life(&mut files);
    Generated { files }
}

/// The second chain, on the same genesis: three validator-set changes and a
/// change of governance. Heights:
///
/// | h | block |
/// |---|---|
/// | 1 | register issuer and reviewer |
/// | 2 | create series `celadon` (8 editions) |
/// | 3 | mint editions 1 and 2 — `set-issued-before.json` is edition 1 anchored here |
/// | 4 | change 1: add `org-4` (key 104), in force from 6 |
/// | 6 | change 2: rotate `org-1`'s key 101 to key 120, in force from 8 |
/// | 8 | mint edition 3 (the first block of the rotated set) |
/// | 9 | empty — `set-changes-valid.json`: edition 1 anchored here, two transitions |
/// | 10 | change 3: remove `org-3` (key 103), in force from 12 |
/// | 11 | governance handed to one new governor (key 30, threshold 1) |
/// | 12 | the new governor revokes edition 2 |
/// | 13 | empty — `set-after-removal.json`, `set-revoked.json` and the status answers |
///
/// Heights 5 and 7 are empty.
fn generate_set_changes(files: &mut BTreeMap<&'static str, String>) {
    let mut chain = TestChain::new(TestNet::new(4));
    let genesis = chain.net.genesis.clone();
    let store = Store::open_temporary(&genesis).expect("temporary store");
    let chain_id = genesis.chain_id.clone();
    let sid = chain.net.series_id(&chain.net.issuer, "celadon");
    let cert_id = |e: u32| ids::certificate_id(&chain_id, &sid, e);
    let (fifth, rotated, governor) = (key(104), key(120), key(30));
    chain.add_keys([&fifth, &rotated]);
    let batches: Vec<Vec<SignedTx>> = {
        let net = &chain.net;
        let add = ValidatorChange::Add {
            validator: Validator { public_key: fifth.public(), power: 1, name: "org-4".into() },
        };
        let rotate =
            ValidatorChange::RotateKey { old_key: net.validators[1].public(), new_key: rotated.public() };
        let remove = ValidatorChange::Remove { public_key: net.validators[3].public() };
        let governance = TxBody::SetGovernance { governors: vec![governor.public()], threshold: 1, nonce: 6 };
        let revoke = TxBody::Revoke { certificate_id: cert_id(2), reason: "licence withdrawn".into() }
            .sign(net.chain(), &[&governor]);
        vec![
            net.setup_txs(),
            vec![net.create_series(&net.issuer, &net.reviewer, "celadon", 8)],
            (1..=2).map(|e| net.mint(&net.issuer, sid, e, e)).collect(),
            vec![net.change_validators(add, 3, Some(&fifth))],
            vec![],
            vec![net.change_validators(rotate, 4, Some(&rotated))],
            vec![],
            vec![net.mint(&net.issuer, sid, 3, 3)],
            vec![],
            vec![net.change_validators(remove, 5, None)],
            vec![net.governed(governance, 2)],
            vec![revoke],
            vec![],
        ]
    };
    let mut issued_before: Option<Certificate> = None;
    let mut after_two: Option<Certificate> = None;
    for txs in batches {
        let tip = store.ledger_tip(&genesis).expect("tip");
        let (block, commit) = chain.push(txs).clone();
        let executed = validate_block(&store, &genesis, &tip, &block).expect("valid");
        store.commit_block(&block, &commit, &executed).expect("stored");
        match block.header.height {
            3 => issued_before = Some(build(&store, &genesis, &cert_id(1))),
            9 => after_two = Some(build(&store, &genesis, &cert_id(1))),
            _ => {}
        }
    }
    let issued_before = issued_before.expect("built at height 3");
    let valid = after_two.expect("built at height 9");
    assert_eq!(valid.transitions.len(), 2);
    let after_removal = build(&store, &genesis, &cert_id(1));
    assert_eq!(after_removal.transitions.len(), 3);
    let revoked = build(&store, &genesis, &cert_id(2));
    let status = |id: &CertificateId| -> CertificateStatus {
        keepsake::certificates::status(&store, &genesis, id).expect("status")
    };

    files.insert("set-issued-before.json", pretty(&issued_before));
    files.insert("set-changes-valid.json", pretty(&valid));
    files.insert("set-after-removal.json", pretty(&after_removal));
    files.insert("set-revoked.json", pretty(&revoked));
    // What `keepsake cert refresh` makes of the certificate issued before the
    // changes: its height-3 checkpoint, under the genesis set, linked to the
    // height-9 one, under the set after two changes.
    let proof = store
        .consistency_proof(issued_before.checkpoint.header.log_size, valid.checkpoint.header.log_size)
        .expect("consistency proof");
    let refreshed = Certificate {
        previous: Some(CheckpointLink { checkpoint: issued_before.checkpoint.clone(), consistency: proof }),
        ..valid.clone()
    };
    files.insert("set-changes-refreshed.json", pretty(&refreshed));

    let tamper = |base: &Certificate, f: &dyn Fn(&mut Certificate)| {
        let mut c = base.clone();
        f(&mut c);
        assert_ne!(&c, base, "a tampering changes something");
        pretty(&c)
    };
    // The change's leaf altered: a byte of the added validator's key (leaf =
    // height 1 byte, time 6, TxBody variant 08, ValidatorChange variant 00,
    // then the key), as if another key had been added: its inclusion proof fails.
    files.insert(
        "set-forged-transition-leaf.json",
        tamper(&valid, &|c| c.transitions[0].change.leaf.0[12] ^= 1),
    );
    files.insert(
        "set-forged-transition-proof.json",
        tamper(&valid, &|c| c.transitions[1].change.proof[0].0[0] ^= 1),
    );
    // The rotation's checkpoint (height 6) signed by the set after the
    // rotation instead of the set before it.
    let new_set_signers = chain.signers_at(9);
    files.insert(
        "set-transition-signed-by-new-set.json",
        tamper(&valid, &|c| {
            let cp = &mut c.transitions[1].checkpoint;
            cp.commit = commit_signed_by(&chain_id, &cp.header, cp.commit.round, &new_set_signers);
        }),
    );
    // The rotation left out: the checkpoint's header names a set the verifier never reached.
    files.insert("set-transition-missing.json", tamper(&valid, &|c| c.transitions.truncate(1)));
    // The changes attached to a checkpoint they postdate.
    files.insert(
        "set-transition-after-checkpoint.json",
        tamper(&issued_before, &|c| c.transitions = valid.transitions.clone()),
    );
    // Another logged transaction (the mint of edition 1) passed off as the first change.
    let first_log_size = valid.transitions[0].checkpoint.header.log_size;
    let mint_in_first = LogEntryProof {
        leaf_index: valid.mint.leaf_index,
        leaf: valid.mint.leaf.clone(),
        proof: store.inclusion_proof(valid.mint.leaf_index, first_log_size).expect("inclusion proof"),
    };
    files.insert(
        "set-transition-not-a-change.json",
        tamper(&valid, &|c| c.transitions[0].change = mint_in_first.clone()),
    );
    // After org-3's removal: a checkpoint whose quorum (3 of the 4 in force)
    // needs org-3's signature.
    let removed = chain.net.validators[3].clone();
    let quorum_with_removed = [&chain.net.validators[0], &chain.net.validators[2], &removed];
    files.insert(
        "set-removed-validator-signature.json",
        tamper(&after_removal, &|c| {
            let cp = &mut c.checkpoint;
            cp.commit = commit_signed_by(&chain_id, &cp.header, cp.commit.round, &quorum_with_removed);
        }),
    );

    // Status answers after the changes: edition 2 revoked by the new governor, edition 1 active.
    let revoked_status = status(&cert_id(2));
    files.insert("set-revoked-status.json", pretty(&revoked_status));
    files.insert("set-active-status.json", pretty(&status(&cert_id(1))));
    let mut forged = revoked_status.clone();
    forged.transitions[2].change.leaf.0[3] ^= 1;
    files.insert("set-tampered-status-transition.json", pretty(&forged));
}

/// A series created with `terms`, approved (review v2) by the net's reviewer.
fn create_with_terms(net: &TestNet, name: &str, max_supply: u32, terms: SeriesTerms) -> SignedTx {
    net.create_series_with_terms(&net.issuer, &net.reviewer, name, max_supply, terms)
}

/// The seeds of the third chain's blind boxes.
const LANTERN_SEED: Hash32 = Hash32([7; 32]);
const LOTUS_SEED: Hash32 = Hash32([8; 32]);

/// The holder of `lantern` edition 2: `holder_id("c0ffee", "alice@example.com")`
/// (the explorer's "Is this mine?" test opens it).
fn alice() -> keepsake_types::HolderId {
    ids::holder_id("c0ffee", "alice@example.com")
}

/// The third chain, on the same genesis: the collectible's life without
/// resale (issue 16). Heights:
///
/// | h | block |
/// |---|---|
/// | 1 | register issuer and reviewer |
/// | 2 | create `pearl` (plain, 4 editions) and the blind boxes `lantern` (4 editions: plain ×2, gold, hidden) and `lotus` (2: white, red) |
/// | 3 | create `pearl-crown` (2 editions, recipe 0: burn 2 `pearl`) |
/// | 4 | mint `pearl` 1, 2 (holder 1) and 3 (holder 2), `lantern` 1-4 (edition 2 to [`alice`]), `lotus` 1-2 |
/// | 5 | synthesize `pearl` 1 + 2 into `pearl-crown` 1 (holder 1) |
/// | 6 | close `lantern` and `lotus` |
/// | 7 | empty: `life-blind-box-unrevealed.json` (`lantern` 2) anchored here |
/// | 8 | reveal `lantern` and `lotus` |
/// | 9 | empty: every other certificate and status answer anchored here |
fn generate_life(files: &mut BTreeMap<&'static str, String>) {
    use keepsake_types::life::seed_commitment;
    let mut chain = TestChain::new(TestNet::new(4));
    let genesis = chain.net.genesis.clone();
    let store = Store::open_temporary(&genesis).expect("temporary store");
    let chain_id = genesis.chain_id.clone();
    let sid = |name: &str| chain.net.series_id(&chain.net.issuer, name);
    let (pearl, crown, lantern, lotus) = (sid("pearl"), sid("pearl-crown"), sid("lantern"), sid("lotus"));
    let cert_id = |s: &SeriesId, e: u32| ids::certificate_id(&chain_id, s, e);
    let variant = |name: &str, count: u32| BoxVariant {
        name: name.into(),
        content_hash: TestNet::content(&format!("lantern-{name}")),
        count,
    };
    let box_terms = |variants: Vec<BoxVariant>, seed: &Hash32| SeriesTerms {
        recipes: vec![],
        blind_box: Some(BlindBoxTerms { variants, seed_commitment: seed_commitment(&chain_id, seed) }),
    };
    let mut unrevealed: Option<Certificate> = None;
    for height in 1..=9u64 {
        let net = &chain.net;
        let issuer = &net.issuer;
        let txs: Vec<SignedTx> = match height {
            1 => net.setup_txs(),
            2 => vec![
                net.create_series(issuer, &net.reviewer, "pearl", 4),
                create_with_terms(
                    net,
                    "lantern",
                    4,
                    box_terms(
                        vec![variant("plain", 2), variant("gold", 1), variant("hidden", 1)],
                        &LANTERN_SEED,
                    ),
                ),
                create_with_terms(
                    net,
                    "lotus",
                    2,
                    box_terms(vec![variant("white", 1), variant("red", 1)], &LOTUS_SEED),
                ),
            ],
            3 => {
                let recipe = Recipe { inputs: vec![RecipeInput { series_id: pearl, count: 2 }] };
                vec![create_with_terms(
                    net,
                    "pearl-crown",
                    2,
                    SeriesTerms { recipes: vec![recipe], blind_box: None },
                )]
            }
            4 => {
                let mut txs = vec![
                    net.mint(issuer, pearl, 1, 1),
                    net.mint(issuer, pearl, 2, 1),
                    net.mint(issuer, pearl, 3, 2),
                ];
                for e in 1..=4 {
                    txs.push(if e == 2 {
                        TxBody::Mint { series_id: lantern, edition: 2, holder: alice() }
                            .sign(net.chain(), &[issuer])
                    } else {
                        net.mint(issuer, lantern, e, e)
                    });
                }
                txs.extend((1..=2).map(|e| net.mint(issuer, lotus, e, e)));
                txs
            }
            5 => vec![
                TxBody::Synthesize {
                    series_id: crown,
                    recipe: 0,
                    inputs: vec![cert_id(&pearl, 1), cert_id(&pearl, 2)],
                    edition: 1,
                    holder: TestNet::holder(1),
                }
                .sign(net.chain(), &[issuer]),
            ],
            6 => [lantern, lotus]
                .into_iter()
                .map(|series_id| TxBody::CloseBlindBox { series_id }.sign(net.chain(), &[issuer]))
                .collect(),
            8 => [(lantern, LANTERN_SEED), (lotus, LOTUS_SEED)]
                .into_iter()
                .map(|(series_id, seed)| {
                    // T51: the entropy is the log root just after the close.
                    let closed = store
                        .series_life(&series_id)
                        .expect("life")
                        .and_then(|l| l.closed)
                        .expect("closed at height 6");
                    let entropy = merkle::root(&store, closed.leaf_index + 1).expect("log root");
                    TxBody::RevealBlindBox { series_id, seed, entropy }.sign(net.chain(), &[issuer])
                })
                .collect(),
            _ => vec![],
        };
        let tip = store.ledger_tip(&genesis).expect("tip");
        let (block, commit) = chain.push(txs).clone();
        let executed = validate_block(&store, &genesis, &tip, &block).expect("valid");
        store.commit_block(&block, &commit, &executed).expect("stored");
        if height == 7 {
            unrevealed = Some(build(&store, &genesis, &cert_id(&lantern, 2)));
        }
    }
    let unrevealed = unrevealed.expect("built at height 7");
    let status = |id: &CertificateId| -> CertificateStatus {
        keepsake::certificates::status(&store, &genesis, id).expect("status")
    };
    let synthesized = build(&store, &genesis, &cert_id(&crown, 1));
    assert_eq!(synthesized.record.synthesized_from, vec![cert_id(&pearl, 1), cert_id(&pearl, 2)]);
    let burned = build(&store, &genesis, &cert_id(&pearl, 1));
    let burned_status = status(&cert_id(&pearl, 1));
    assert!(burned_status.burn.is_some(), "the node proves the burn");
    let kept = build(&store, &genesis, &cert_id(&pearl, 3));
    let kept_status = status(&cert_id(&pearl, 3));
    assert!(kept_status.burn.is_none());
    let revealed = build(&store, &genesis, &cert_id(&lantern, 2));
    assert!(revealed.reveal.is_some() && revealed.record.variant.is_some());
    assert!(unrevealed.reveal.is_none() && unrevealed.record.variant.is_none());
    let lotus_cert = build(&store, &genesis, &cert_id(&lotus, 1));

    files.insert("life-synthesized.json", pretty(&synthesized));
    files.insert("life-burned.json", pretty(&burned));
    files.insert("life-burned-status.json", pretty(&burned_status));
    files.insert("life-kept.json", pretty(&kept));
    files.insert("life-kept-status.json", pretty(&kept_status));
    files.insert("life-blind-box.json", pretty(&revealed));
    files.insert("life-blind-box-unrevealed.json", pretty(&unrevealed));

    let tamper = |base: &Certificate, f: &dyn Fn(&mut Certificate)| {
        let mut c = base.clone();
        f(&mut c);
        assert_ne!(&c, base, "a tampering changes something");
        pretty(&c)
    };
    // A record claiming other burned certificates than the synthesis lists.
    files.insert(
        "life-tampered-synthesized-from.json",
        tamper(&synthesized, &|c| c.record.synthesized_from.truncate(1)),
    );
    // Another variant of the box (a real one, name and artwork included) than the one drawn.
    let other_variant = |c: &mut Certificate| {
        let v = c.record.variant.as_mut().expect("revealed");
        let (index, name) = if v.index == 2 { (1, "gold") } else { (2, "hidden") };
        *v = VariantRecord {
            index,
            name: name.into(),
            content_hash: TestNet::content(&format!("lantern-{name}")),
        };
    };
    files.insert("life-variant-not-drawn.json", tamper(&revealed, &other_variant));
    // The drawn variant claimed before the reveal (the reveal left out).
    files.insert(
        "life-variant-without-reveal.json",
        tamper(&unrevealed, &|c| c.record.variant = revealed.record.variant.clone()),
    );
    // The other box's reveal (logged, proven against the same checkpoint).
    files.insert(
        "life-reveal-other-series.json",
        tamper(&revealed, &|c| c.reveal = lotus_cert.reveal.clone()),
    );
    // A reveal whose seed is not the committed one: a log of its own, with
    // the series, the mint and a reveal (signed by the issuer) of another
    // seed, under a checkpoint the validators signed.
    files.insert("life-reveal-wrong-seed.json", pretty(&forged_reveal(&chain, &revealed)));
    // The status of the kept `pearl` 3 showing the burn of `pearl` 1 and 2.
    let mut other_burn = kept_status.clone();
    other_burn.burn = burned_status.burn.clone();
    files.insert("life-burn-not-listed-status.json", pretty(&other_burn));
}

/// `revealed` re-anchored to a log of three entries: its series and mint
/// leaves, then a reveal of the box with seed `[9; 32]`, which does not
/// match the commitment; the checkpoint is signed by the chain's validators.
fn forged_reveal(chain: &TestChain, revealed: &Certificate) -> Certificate {
    use keepsake_types::encoding::{decode, encode};
    let net = &chain.net;
    let reveal: LogLeaf =
        decode(&revealed.reveal.as_ref().expect("revealed").leaf.0, usize::MAX, "leaf").expect("a leaf");
    let TxBody::RevealBlindBox { series_id, entropy, .. } = reveal.tx.body else { panic!("a reveal") };
    let forged = LogLeaf {
        tx: TxBody::RevealBlindBox { series_id, seed: Hash32([9; 32]), entropy }
            .sign(net.chain(), &[&net.issuer]),
        ..reveal
    };
    let leaves = [revealed.series.leaf.0.clone(), revealed.mint.leaf.0.clone(), encode(&forged)];
    let mut log = merkle::MemoryLog::new();
    for leaf in &leaves {
        log.push(leaf);
    }
    let mut header = revealed.checkpoint.header.clone();
    header.log_size = log.size();
    header.log_root = log.root();
    let signers = chain.signers_at(header.height);
    let commit = commit_signed_by(net.chain(), &header, 0, &signers);
    let entry = |i: u64| LogEntryProof {
        leaf_index: i,
        leaf: HexBytes(leaves[i as usize].clone()),
        proof: merkle::inclusion_proof(&log, i, log.size()).expect("proof"),
    };
    Certificate {
        series: entry(0),
        mint: entry(1),
        reveal: Some(entry(2)),
        checkpoint: Checkpoint { header, commit },
        ..revealed.clone()
    }
}

fn build(store: &Store, genesis: &Genesis, id: &CertificateId) -> Certificate {
    keepsake::certificates::build(store, genesis, id).expect("certificate").certificate
}

/// The verdict of each certificate fixture: (file, genesis file, expected).
const CERTIFICATE_VERDICTS: &[(&str, &str, &str)] = &[
    ("valid.json", "genesis.json", "valid"),
    ("valid-at-height-3.json", "genesis.json", "valid"),
    ("refreshed.json", "genesis.json", "valid"),
    ("revoked.json", "genesis.json", "valid"),
    ("tampered-record.json", "genesis.json", "CertificateMismatch"),
    ("tampered-holder.json", "genesis.json", "CertificateMismatch"),
    ("tampered-proof.json", "genesis.json", "ProofMismatch"),
    ("tampered-leaf.json", "genesis.json", "ProofMismatch"),
    ("tampered-header.json", "genesis.json", "CommitBlockMismatch"),
    ("tampered-signature.json", "genesis.json", "BadSignature"),
    ("too-few-signatures.json", "genesis.json", "InsufficientPower"),
    ("wrong-chain.json", "genesis.json", "WrongChain"),
    ("malformed.json", "genesis.json", "Malformed"),
    ("tampered-consistency.json", "genesis.json", "ConsistencyMismatch"),
    ("valid.json", "other-genesis.json", "ValidatorSetMismatch"),
    // Certificates across validator-set changes (`generate_set_changes`).
    ("set-issued-before.json", "genesis.json", "valid"),
    ("set-changes-valid.json", "genesis.json", "valid"),
    ("set-changes-refreshed.json", "genesis.json", "valid"),
    ("set-after-removal.json", "genesis.json", "valid"),
    ("set-revoked.json", "genesis.json", "valid"),
    ("set-forged-transition-leaf.json", "genesis.json", "InvalidTransition"),
    ("set-forged-transition-proof.json", "genesis.json", "InvalidTransition"),
    ("set-transition-signed-by-new-set.json", "genesis.json", "InvalidTransition"),
    ("set-transition-missing.json", "genesis.json", "ValidatorSetMismatch"),
    ("set-transition-after-checkpoint.json", "genesis.json", "InvalidTransition"),
    ("set-transition-not-a-change.json", "genesis.json", "InvalidTransition"),
    ("set-removed-validator-signature.json", "genesis.json", "UnknownValidator"),
    ("set-changes-valid.json", "other-genesis.json", "InvalidTransition"),
    // The collectible's life without resale (`generate_life`).
    ("life-synthesized.json", "genesis.json", "valid"),
    ("life-burned.json", "genesis.json", "valid"),
    ("life-kept.json", "genesis.json", "valid"),
    ("life-blind-box.json", "genesis.json", "valid"),
    ("life-blind-box-unrevealed.json", "genesis.json", "valid"),
    ("life-tampered-synthesized-from.json", "genesis.json", "CertificateMismatch"),
    ("life-variant-not-drawn.json", "genesis.json", "CertificateMismatch"),
    ("life-variant-without-reveal.json", "genesis.json", "CertificateMismatch"),
    ("life-reveal-other-series.json", "genesis.json", "CertificateMismatch"),
    ("life-reveal-wrong-seed.json", "genesis.json", "CertificateMismatch"),
];

/// The verdict of each status answer: (answer, certificate, expected).
const STATUS_VERDICTS: &[(&str, &str, &str)] = &[
    ("revoked-status.json", "revoked.json", "revoked"),
    ("active-status.json", "valid.json", "active"),
    ("tampered-revoked-status.json", "revoked.json", "ProofMismatch"),
    ("revoked-status.json", "valid.json", "CertificateMismatch"),
    ("set-revoked-status.json", "set-revoked.json", "revoked"),
    ("set-active-status.json", "set-after-removal.json", "active"),
    ("set-tampered-status-transition.json", "set-revoked.json", "InvalidTransition"),
    ("life-burned-status.json", "life-burned.json", "burned"),
    ("life-kept-status.json", "life-kept.json", "active"),
    ("life-burn-not-listed-status.json", "life-kept.json", "CertificateMismatch"),
];

fn manifest() -> String {
    let certs: Vec<_> =
        CERTIFICATE_VERDICTS.iter().map(|(f, g, v)| json!({"file": f, "genesis": g, "verdict": v})).collect();
    let statuses: Vec<_> =
        STATUS_VERDICTS.iter().map(|(f, c, v)| json!({"file": f, "certificate": c, "verdict": v})).collect();
    pretty(&json!({"certificates": certs, "statuses": statuses}))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(fixtures_dir().join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

#[test]
fn fixtures_are_reproduced_byte_for_byte() {
    let mut generated = generate().files;
    generated.insert("expected.json", manifest());
    if std::env::var_os("KEEPSAKE_BLESS").is_some() {
        std::fs::create_dir_all(fixtures_dir()).unwrap();
        for (name, text) in &generated {
            std::fs::write(fixtures_dir().join(name), text).unwrap();
        }
    }
    for (name, text) in &generated {
        assert!(
            &read(name) == text,
            "fixture {name} differs from what the code generates; if the change is deliberate, \
             regenerate with KEEPSAKE_BLESS=1 cargo test -p keepsake-tests --test golden"
        );
    }
}

fn verdict(file: &str, genesis: &str) -> String {
    let genesis = Genesis::from_json(&read(genesis)).unwrap();
    match Certificate::from_json(&read(file)).and_then(|c| c.verify(&genesis)) {
        Ok(_) => "valid".into(),
        Err(e) => e.code().into(),
    }
}

#[test]
fn every_certificate_fixture_gets_its_exact_verdict() {
    for (file, genesis, expected) in CERTIFICATE_VERDICTS {
        assert_eq!(&verdict(file, genesis), expected, "{file} against {genesis}");
    }
}

/// The batch verifier remembers proven checkpoints and series entries: after
/// it has accepted every valid fixture, each tampered one (many share the
/// valid one's checkpoint or series bytes, or differ from it in one
/// signature) must still get its exact verdict, and valid ones stay valid.
#[test]
fn the_batch_verifier_gives_every_fixture_the_same_verdict_after_seeing_the_valid_ones() {
    let mut verifiers: std::collections::HashMap<&str, keepsake_types::CertificateVerifier> =
        std::collections::HashMap::new();
    let valid_first = CERTIFICATE_VERDICTS.iter().filter(|v| v.2 == "valid");
    let rest = CERTIFICATE_VERDICTS.iter().filter(|v| v.2 != "valid");
    for (file, genesis, expected) in valid_first.clone().chain(rest).chain(valid_first) {
        let v = verifiers.entry(genesis).or_insert_with(|| {
            keepsake_types::CertificateVerifier::new(Genesis::from_json(&read(genesis)).unwrap())
        });
        let got = match Certificate::from_json(&read(file)).and_then(|c| v.verify(&c)) {
            Ok(_) => "valid".to_string(),
            Err(e) => e.code().to_string(),
        };
        assert_eq!(&got, expected, "{file} against {genesis}, batch verifier");
    }
    assert!(verifiers["genesis.json"].checkpoints_proven() >= 1, "the valid fixtures were remembered");
}

#[test]
fn every_status_fixture_gets_its_exact_verdict() {
    let genesis = Genesis::from_json(&read("genesis.json")).unwrap();
    for (answer, cert, expected) in STATUS_VERDICTS {
        let cert = Certificate::from_json(&read(cert)).unwrap().verify(&genesis).unwrap();
        let status: CertificateStatus = serde_json::from_str(&read(answer)).unwrap();
        let got = match status.verify(&genesis, &cert) {
            Ok(v) if v.revocation.is_some() => "revoked".to_string(),
            Ok(v) if v.burned.is_some() => "burned".to_string(),
            Ok(_) => "active".to_string(),
            Err(e) => e.code().to_string(),
        };
        assert_eq!(&got, expected, "{answer} for {cert:?}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every intermediate value of verifying `valid.json` by hand, in the order
/// docs/auditor-guide.md walks through them: `(name, hex)`.
fn worked_example() -> Vec<(String, String)> {
    use keepsake_types::encoding::{decode, encode};
    use keepsake_types::hash::{domain_preimage, tag};
    use keepsake_types::{LogLeaf, merkle};
    let genesis = Genesis::from_json(&read("genesis.json")).unwrap();
    let cert = Certificate::from_json(&read("valid.json")).unwrap();
    let chain = genesis.chain_id.as_str();
    let h = &cert.checkpoint.header;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: &str, value: String| out.push((name.to_string(), value));

    // Step 1: the trust anchor.
    put("genesis hash", genesis.hash().to_string());
    put("validator set hash", genesis.validator_set().hash(chain).to_string());
    // Step 2: the header and its hash.
    put("encode(header)", hex(&encode(h)));
    put("header preimage prefix", hex(&domain_preimage(tag::HEADER, chain, &[])));
    put("block hash", h.hash().to_string());
    // Step 3: what each commit signature signs.
    let vote = cert.checkpoint.commit.vote_data();
    put("encode(vote data)", hex(&encode(&vote)));
    put("vote preimage", hex(&domain_preimage(tag::VOTE, chain, &encode(&vote))));
    // Step 4: the mint's inclusion proof, step by step (RFC 9162 §2.1.3.2).
    let leaf = &cert.mint.leaf.0;
    let mut r = merkle::leaf_hash(leaf);
    put("mint leaf hash", r.to_string());
    let (mut fn_, mut sn) = (cert.mint.leaf_index, h.log_size - 1);
    for (i, p) in cert.mint.proof.iter().enumerate() {
        if fn_ & 1 == 1 || fn_ == sn {
            r = merkle::node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = merkle::node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
        put(&format!("mint path step {}", i + 1), r.to_string());
    }
    assert_eq!(r, h.log_root, "the walk ends at the log root");
    // Step 5: the decoded leaf, its transaction id and the ids of the record.
    let decoded: LogLeaf = decode(leaf, usize::MAX, "leaf").unwrap();
    put("encode(mint body)", hex(&encode(&decoded.tx.body)));
    put("mint tx id", decoded.tx.id(chain).to_string());
    put("mint signature preimage", hex(&domain_preimage(tag::TX, chain, &encode(&decoded.tx.body))));
    put(
        "certificate id",
        ids::certificate_id(chain, &cert.record.series_id, cert.record.edition).to_string(),
    );
    put("series id", ids::series_id(chain, &cert.record.issuer, &cert.record.series_name).to_string());
    out
}

/// The validator-set changes of `set-changes-valid.json`, followed by hand
/// in the order docs/auditor-guide.md ("Certificates across validator-set
/// changes") walks through them: `(name, value)`.
fn set_change_example() -> Vec<(String, String)> {
    use keepsake_types::encoding::{decode, encode};
    use keepsake_types::{LogLeaf, membership::SET_CHANGE_DELAY};
    let genesis = Genesis::from_json(&read("genesis.json")).unwrap();
    let cert = Certificate::from_json(&read("set-changes-valid.json")).unwrap();
    let chain = genesis.chain_id.as_str();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |name: String, value: String| out.push((name, value));
    let mut set = genesis.validator_set();
    for (i, t) in cert.transitions.iter().enumerate() {
        let n = i + 1;
        let leaf: LogLeaf = decode(&t.change.leaf.0, usize::MAX, "leaf").unwrap();
        let TxBody::ChangeValidators { change, .. } = &leaf.tx.body else { panic!("a change") };
        let header = &t.checkpoint.header;
        assert_eq!(header.validators_hash, set.hash(chain), "signed by the set before the change");
        put(
            format!("change {n}: leaf index, leaf height"),
            format!("{}, {}", t.change.leaf_index, leaf.height),
        );
        put(format!("change {n}: encode(body)"), hex(&encode(&leaf.tx.body)));
        put(
            format!("change {n}: checkpoint height, log size"),
            format!("{}, {}", header.height, header.log_size),
        );
        put(format!("change {n}: signed by the set with hash"), set.hash(chain).to_string());
        set = set.apply(change).unwrap();
        put(
            format!("change {n}: new set, in force from height"),
            (leaf.height + SET_CHANGE_DELAY).to_string(),
        );
        put(format!("change {n}: new set hash"), set.hash(chain).to_string());
    }
    assert_eq!(cert.checkpoint.header.validators_hash, set.hash(chain));
    put(
        "certificate checkpoint height, validators_hash".into(),
        format!("{}, {}", cert.checkpoint.header.height, cert.checkpoint.header.validators_hash),
    );
    out
}

#[test]
fn the_auditor_guide_worked_example_matches_the_fixture() {
    let guide_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/auditor-guide.md");
    let guide = std::fs::read_to_string(&guide_path).unwrap();
    let rows: Vec<(String, String)> = worked_example().into_iter().chain(set_change_example()).collect();
    if std::env::var_os("KEEPSAKE_PRINT_EXAMPLE").is_some() {
        for (name, value) in &rows {
            println!("| {name} | `{value}` |");
        }
    }
    for (name, value) in &rows {
        let row = format!("| {name} | `{value}` |");
        assert!(guide.contains(&row), "docs/auditor-guide.md lacks the row:\n{row}");
    }
}

/// docs/protocol.md §4.1 spells out the first change of the golden chain;
/// its bytes are the fixture's.
#[test]
fn the_protocol_change_example_matches_the_fixture() {
    let protocol =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/protocol.md"))
            .unwrap();
    let body = &set_change_example()[1];
    assert_eq!(body.0, "change 1: encode(body)");
    let line = format!("encode(body) = {}", body.1);
    assert!(protocol.contains(&line), "docs/protocol.md lacks the line:\n{line}");
    let key = key(104).public().to_string();
    assert!(protocol.contains(&key), "docs/protocol.md lacks key 104: {key}");
}
