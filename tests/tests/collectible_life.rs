//! The collectible's life without resale, end to end over one real node
//! (sled on disk, JSON-RPC on loopback) and the real command line: issuer
//! licences (recorded, withdrawn, required), synthesis (one holder's
//! certificates burned into a new edition for that holder) and a fair blind
//! box (sale, close, reveal of the committed seed). Every refusal comes back
//! over RPC with its stable code and number.

use std::path::Path;

use jsonrpsee::core::ClientError;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::error::ErrorCode;
use keepsake_rpc::types::{SaleState, TxStatus};
use keepsake_tests::{TestNode, wait_final};
use keepsake_types::life::seed_commitment;
use keepsake_types::{
    ContentHash, Hash32, HolderId, Licence, Recipe, RecipeInput, SeriesId, SignedTx, TxBody, hash::sha256,
    ids,
};

fn holder(name: &str) -> HolderId {
    ids::holder_id("platform-salt", name)
}

/// The stable code of an RPC refusal, after checking that its number is
/// the one the code is assigned (`crates/rpc/src/error.rs`).
fn refusal(e: ClientError) -> String {
    match e {
        ClientError::Call(obj) => {
            let code =
                keepsake_rpc::error::stable_code(&obj).expect("a Keepsake error carries its stable code");
            assert_eq!(obj.code(), ErrorCode::number(&code), "{code}: {}", obj.message());
            code
        }
        other => panic!("expected a refusal, got {other}"),
    }
}

/// Submits `tx` and waits for its commit.
async fn commit(t: &TestNode, tx: SignedTx) {
    let c = t.client();
    let id = c.submit_tx(tx).await.unwrap();
    let status = wait_final(&c, id).await;
    assert!(matches!(status, TxStatus::Committed { .. }), "{status:?}");
}

/// Submits `tx`, expecting a refusal at admission; returns its stable code.
async fn refused(t: &TestNode, tx: SignedTx) -> String {
    refusal(t.client().submit_tx(tx).await.expect_err("the node refuses it"))
}

fn mint(t: &TestNode, series: SeriesId, edition: u32, to: &str) -> SignedTx {
    TxBody::Mint { series_id: series, edition, holder: holder(to) }.sign(t.chain(), &[&t.issuer])
}

/// Runs the real command line in a thread of its own (it builds its own
/// runtime): `Ok` on success, the error's text otherwise.
fn cli(args: &[&str]) -> Result<(), String> {
    let args: Vec<String> =
        std::iter::once("keepsake").chain(args.iter().copied()).map(String::from).collect();
    std::thread::spawn(move || {
        let cli = <keepsake::cli::Cli as clap::Parser>::try_parse_from(args).expect("a valid command line");
        keepsake::cli::run(cli).map(|_| ()).map_err(|e| format!("{e:#}"))
    })
    .join()
    .expect("the command line does not panic")
}

fn key(t: &TestNode, name: &str) -> String {
    t.home.join("keys").join(format!("{name}.json")).to_str().unwrap().to_string()
}

/// A plain series of the dev issuer (already registered), approved by the dev reviewer.
async fn plain_series(t: &TestNode, name: &str, max_supply: u32) -> SeriesId {
    keepsake_tests::create_series(&t.client(), t.chain(), &t.issuer, &t.reviewer, name, max_supply).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawn_licence_stops_minting_but_not_revoking() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let url = t.node.rpc_url();
    let series = t.setup_series("apsaras", 10).await;
    let (gov, issuer_key) = (key(&t, "governor"), key(&t, "issuer"));

    // Before any licence: none shown, none required, the issuer may issue.
    let info = c.get_issuer(t.issuer.public()).await.unwrap();
    assert!(info.licence.is_none());
    assert!(!info.licence_policy.required && info.licence_policy.since_height.is_none());
    assert!(info.may_issue);

    // Governance records the licence through the command line.
    let set_licence = |number: &'static str| {
        let (gov, issuer_key, url) = (gov.clone(), issuer_key.clone(), url.clone());
        move || {
            cli(&[
                "tx",
                "set-licence",
                "--issuer-key",
                &issuer_key,
                "--kind",
                "ICP",
                "--number",
                number,
                "--valid-until",
                "2099-12-31",
                "--governor-key",
                &gov,
                "--rpc",
                &url,
            ])
        }
    };
    set_licence("京ICP备 2024-001")().unwrap();
    let info = c.get_issuer(t.issuer.public()).await.unwrap();
    let licence = info.licence.expect("the licence is shown");
    assert_eq!((licence.kind.as_str(), licence.number.as_str()), ("ICP", "京ICP备 2024-001"));
    assert_eq!(licence.valid_until, "2099-12-31T23:59:59.999Z");
    assert_eq!(licence.valid_until_ms, keepsake::dates::parse_valid_until("2099-12-31").unwrap());
    assert!(licence.in_force && licence.withdrawn.is_none() && info.may_issue);
    // The listing shows it too.
    let listed = c.list_issuers(None, 10).await.unwrap();
    assert_eq!(listed[0].licence.as_ref().map(|l| l.number.as_str()), Some("京ICP备 2024-001"));

    // A licence that already ended is not recorded.
    let ended = TxBody::SetIssuerLicence {
        issuer: t.issuer.public(),
        licence: Licence { kind: "ICP".into(), number: "old".into(), valid_until_ms: 1 },
        nonce: 900,
    };
    assert_eq!(refused(&t, ended.sign(t.chain(), &[&t.governor])).await, "InvalidLicence");

    // Licensed: the mint goes through.
    commit(&t, mint(&t, series, 1, "alice")).await;

    // Withdrawn: shown with its reason and height; the next mint is refused.
    cli(&[
        "tx",
        "withdraw-licence",
        "--issuer-key",
        &issuer_key,
        "--reason",
        "suspended by the regulator",
        "--governor-key",
        &gov,
        "--rpc",
        &url,
    ])
    .unwrap();
    let info = c.get_issuer(t.issuer.public()).await.unwrap();
    let licence = info.licence.expect("a withdrawn licence is still shown");
    let withdrawn = licence.withdrawn.expect("withdrawn");
    assert_eq!(withdrawn.reason, "suspended by the regulator");
    assert!(withdrawn.height > licence.since_height);
    assert!(!licence.in_force && !info.may_issue);
    assert_eq!(refused(&t, mint(&t, series, 2, "bob")).await, "LicenceWithdrawn");
    // A second withdrawal has nothing to withdraw: the command line says so and fails.
    let err = cli(&[
        "tx",
        "withdraw-licence",
        "--issuer-key",
        &issuer_key,
        "--reason",
        "again",
        "--governor-key",
        &gov,
        "--rpc",
        &url,
    ])
    .unwrap_err();
    assert!(err.contains("NoLicenceToWithdraw"), "{err}");

    // Revoking stays possible: a withdrawn licence never strands a bad certificate.
    let cert = ids::certificate_id(t.chain(), &series, 1);
    let revoke = TxBody::Revoke { certificate_id: cert, reason: "withdrawn issuer".into() };
    commit(&t, revoke.sign(t.chain(), &[&t.issuer])).await;
    assert!(c.get_certificate(cert).await.unwrap().revocation.is_some());

    // Renewed: minting again.
    set_licence("京ICP备 2024-002")().unwrap();
    assert!(c.get_issuer(t.issuer.public()).await.unwrap().licence.unwrap().in_force);
    commit(&t, mint(&t, series, 2, "bob")).await;

    // The policy: once required, an issuer without a licence issues nothing.
    cli(&["tx", "licence-policy", "--required", "true", "--governor-key", &gov, "--rpc", &url]).unwrap();
    let other = keepsake::keyfile::generate().unwrap();
    let register = TxBody::RegisterIssuer { issuer: other.public(), name: "Unlicensed".into(), nonce: 901 };
    commit(&t, register.sign(t.chain(), &[&t.governor])).await;
    let info = c.get_issuer(other.public()).await.unwrap();
    assert!(info.licence_policy.required && info.licence_policy.since_height.is_some());
    assert!(info.licence.is_none() && !info.may_issue);
    let subject = keepsake_types::ReviewSubject {
        issuer: other.public(),
        name: "stray".into(),
        content_hash: ContentHash([7; 32]),
        max_supply: 5,
        metadata_uri: "https://example.org/stray.json".into(),
    };
    let create = TxBody::CreateSeries {
        issuer: other.public(),
        name: "stray".into(),
        content_hash: subject.content_hash,
        max_supply: 5,
        metadata_uri: subject.metadata_uri.clone(),
        approval: subject.approve(t.chain(), &t.reviewer),
    };
    assert_eq!(refused(&t, create.sign(t.chain(), &[&other])).await, "IssuerUnlicensed");
    // Setting the same policy again changes nothing and is refused.
    let same = TxBody::SetLicencePolicy { required: true, nonce: 902 };
    assert_eq!(refused(&t, same.sign(t.chain(), &[&t.governor])).await, "LicencePolicyUnchanged");
    t.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synthesis_burns_one_holders_certificates_into_a_new_edition() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let url = t.node.rpc_url();
    let shard = t.setup_series("shard", 10).await;
    let gem = plain_series(&t, "gem", 10).await;

    // The target series, with its recipe, through the command line.
    let recipe = format!("{shard}:2,{gem}:1");
    cli(&[
        "tx",
        "create-series",
        "--key",
        &key(&t, "issuer"),
        "--reviewer-key",
        &key(&t, "reviewer"),
        "--name",
        "relic",
        "--content-hash",
        &hex(&sha256(b"relic").0),
        "--max-supply",
        "5",
        "--metadata-uri",
        "https://museum.example/relic.json",
        "--recipe",
        &recipe,
        "--rpc",
        &url,
    ])
    .unwrap();
    let relic = ids::series_id(t.chain(), &t.issuer.public(), "relic");
    let info = c.get_series(relic).await.unwrap();
    let want = Recipe {
        inputs: vec![RecipeInput { series_id: shard, count: 2 }, RecipeInput { series_id: gem, count: 1 }],
    };
    assert_eq!(info.recipes, vec![want]);
    assert!(info.blind_box.is_none());

    // Alice holds shards 1, 2 and gem 1; Bob holds shard 3 and gem 2.
    for (series, edition, who) in
        [(shard, 1, "alice"), (shard, 2, "alice"), (gem, 1, "alice"), (shard, 3, "bob"), (gem, 2, "bob")]
    {
        commit(&t, mint(&t, series, edition, who)).await;
    }
    let chain = t.chain().to_string();
    let id = |series: &SeriesId, e| ids::certificate_id(&chain, series, e);
    let synth = |inputs: Vec<_>, edition, to: &str| {
        TxBody::Synthesize { series_id: relic, recipe: 0, inputs, edition, holder: holder(to) }
            .sign(t.chain(), &[&t.issuer])
    };

    // Certificates of two holders are never burned together.
    let across = synth(vec![id(&shard, 1), id(&shard, 2), id(&gem, 2)], 1, "alice");
    assert_eq!(refused(&t, across).await, "SynthesisAcrossHolders");
    // The output goes to the inputs' holder, nobody else.
    let elsewhere = synth(vec![id(&shard, 1), id(&shard, 2), id(&gem, 1)], 1, "bob");
    assert_eq!(refused(&t, elsewhere).await, "SynthesisChangesHolder");
    // Not the recipe.
    let short = synth(vec![id(&shard, 1), id(&gem, 1)], 1, "alice");
    assert_eq!(refused(&t, short).await, "RecipeMismatch");

    // Alice's synthesis, through the command line.
    let inputs = format!("{},{},{}", id(&shard, 1), id(&shard, 2), id(&gem, 1));
    cli(&[
        "tx",
        "synthesize",
        "--key",
        &key(&t, "issuer"),
        "--series",
        &relic.to_string(),
        "--recipe",
        "0",
        "--inputs",
        &inputs,
        "--edition",
        "1",
        "--holder",
        &holder("alice").to_string(),
        "--rpc",
        &url,
    ])
    .unwrap();
    let output = id(&relic, 1);
    let out = c.get_certificate(output).await.unwrap();
    assert_eq!(out.certificate.record.series_id, relic);
    assert_eq!((out.certificate.record.edition, out.certificate.record.holder), (1, holder("alice")));
    assert!(out.burn.is_none() && out.revocation.is_none());

    // The inputs stay on chain, burned into the output.
    for input in [id(&shard, 1), id(&shard, 2), id(&gem, 1)] {
        let burn = c.get_certificate(input).await.unwrap().burn.expect("burned");
        assert_eq!(burn.into, output);
        assert_eq!(burn.tx_id, out.certificate.record.mint_tx);
    }
    assert!(c.get_certificate(id(&shard, 3)).await.unwrap().burn.is_none());

    // Burned counts, per input series.
    let s = c.get_series(shard).await.unwrap();
    assert_eq!((s.minted, s.burned, s.in_circulation), (3, 2, 1));
    let g = c.get_series(gem).await.unwrap();
    assert_eq!((g.minted, g.burned, g.in_circulation), (2, 1, 1));
    let r = c.get_series(relic).await.unwrap();
    assert_eq!((r.minted, r.burned), (1, 0));

    // A burned certificate burns once.
    let again = synth(vec![id(&shard, 1), id(&shard, 3), id(&gem, 2)], 2, "bob");
    assert_eq!(refused(&t, again).await, "CertificateBurned");
    // The synthesized edition is taken: neither a mint nor another synthesis makes it again.
    assert_eq!(refused(&t, mint(&t, relic, 1, "alice")).await, "DuplicateCertificate");

    // After a restart (the id index rebuilt from the blocks), the same answers.
    let t = t.restart().await.unwrap();
    let c = t.client();
    let out = c.get_certificate(output).await.unwrap();
    assert_eq!((out.certificate.record.series_id, out.certificate.record.holder), (relic, holder("alice")));
    assert_eq!(c.get_certificate(id(&gem, 1)).await.unwrap().burn.map(|b| b.into), Some(output));
    assert_eq!(refused(&t, mint(&t, relic, 1, "alice")).await, "DuplicateCertificate");
    t.node.shutdown().await.unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_variants(dir: &Path) -> String {
    std::fs::write(dir.join("gold.png"), b"gold artwork").unwrap();
    let variants = serde_json::json!([
        {"name": "gold", "count": 1, "content_file": "gold.png"},
        {"name": "plain", "count": 3, "content_hash": hex(&sha256(b"plain artwork").0)},
    ]);
    let path = dir.join("variants.json");
    std::fs::write(&path, variants.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blind_box_is_sold_closed_then_revealed_with_its_committed_seed() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let url = t.node.rpc_url();
    t.setup_series("cover-art-of-another-series", 1).await; // registers the issuer and reviewer
    let variants = write_variants(dir.path());
    let seed_file = dir.path().join("box.seed");
    let seed_path = seed_file.to_str().unwrap().to_string();

    // Created through the command line: the seed stays in the file, its
    // commitment goes on chain; the supply is the variants' sum.
    cli(&[
        "tx",
        "create-series",
        "--key",
        &key(&t, "issuer"),
        "--reviewer-key",
        &key(&t, "reviewer"),
        "--name",
        "mystery",
        "--content-hash",
        &hex(&sha256(b"box cover").0),
        "--metadata-uri",
        "https://museum.example/mystery.json",
        "--blind-box",
        &variants,
        "--seed-file",
        &seed_path,
        "--rpc",
        &url,
    ])
    .unwrap();
    let series = ids::series_id(t.chain(), &t.issuer.public(), "mystery");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&seed_file).unwrap()).unwrap();
    let seed: Hash32 = saved["seed"].as_str().unwrap().parse().unwrap();
    let info = c.get_series(series).await.unwrap();
    assert_eq!(info.max_supply, 4);
    let b = info.blind_box.expect("a blind box");
    assert_eq!(b.seed_commitment, seed_commitment(t.chain(), &seed));
    assert_eq!(
        b.variants.iter().map(|v| (v.name.as_str(), v.count)).collect::<Vec<_>>(),
        [("gold", 1), ("plain", 3)]
    );
    assert_eq!(b.variants[0].content_hash, ContentHash(sha256(b"gold artwork").0));
    assert_eq!((b.sale, b.closed, b.revealed), (SaleState::Open, None, None));
    // The command line never overwrites a seed.
    let err = cli(&[
        "tx",
        "create-series",
        "--key",
        &key(&t, "issuer"),
        "--reviewer-key",
        &key(&t, "reviewer"),
        "--name",
        "mystery-2",
        "--content-hash",
        &hex(&sha256(b"box cover 2").0),
        "--metadata-uri",
        "https://museum.example/m2.json",
        "--blind-box",
        &variants,
        "--seed-file",
        &seed_path,
        "--rpc",
        &url,
    ])
    .unwrap_err();
    assert!(err.contains("must not exist yet"), "{err}");

    for (edition, who) in [(1, "alice"), (2, "bob"), (3, "carol")] {
        commit(&t, mint(&t, series, edition, who)).await;
    }

    // Not closed yet: no reveal.
    let reveal = |seed, entropy| {
        TxBody::RevealBlindBox { series_id: series, seed, entropy }.sign(t.chain(), &[&t.issuer])
    };
    assert_eq!(refused(&t, reveal(seed, Hash32([0; 32]))).await, "BlindBoxNotClosed");
    let err = cli(&[
        "tx",
        "reveal-box",
        "--key",
        &key(&t, "issuer"),
        "--series",
        &series.to_string(),
        "--seed-file",
        &seed_path,
        "--rpc",
        &url,
    ])
    .unwrap_err();
    assert!(err.contains("close-box"), "{err}");

    // Closed through the command line: the sale ends.
    cli(&["tx", "close-box", "--key", &key(&t, "issuer"), "--series", &series.to_string(), "--rpc", &url])
        .unwrap();
    let b = c.get_series(series).await.unwrap().blind_box.unwrap();
    assert_eq!(b.sale, SaleState::Closed);
    let closed = b.closed.expect("the close is shown");
    assert_eq!(refused(&t, mint(&t, series, 4, "dave")).await, "BlindBoxClosed");

    // The entropy is the log root just after the close.
    let entropy = c.get_log_root(closed.leaf_index + 1).await.unwrap();
    assert_eq!(entropy.size, closed.leaf_index + 1);
    let log_size = c.status().await.unwrap().log_size;
    let beyond = c.get_log_root(log_size + 1).await.unwrap_err();
    assert_eq!(refusal(beyond), "InvalidRange");

    // Only the committed seed, with that entropy, reveals.
    assert_eq!(refused(&t, reveal(Hash32([9; 32]), entropy.root)).await, "SeedMismatch");
    assert_eq!(refused(&t, reveal(seed, Hash32([9; 32]))).await, "EntropyMismatch");

    cli(&[
        "tx",
        "reveal-box",
        "--key",
        &key(&t, "issuer"),
        "--series",
        &series.to_string(),
        "--seed-file",
        &seed_path,
        "--rpc",
        &url,
    ])
    .unwrap();
    let b = c.get_series(series).await.unwrap().blind_box.unwrap();
    assert_eq!(b.sale, SaleState::Revealed);
    let revealed = b.revealed.expect("the reveal is shown");
    assert_eq!((revealed.seed, revealed.entropy), (seed, entropy.root));
    assert!(revealed.height > closed.height);
    // Revealed once: the same reveal again is a duplicate, any other is refused.
    assert_eq!(refused(&t, reveal(seed, entropy.root)).await, "DuplicateTransaction");
    assert_eq!(refused(&t, reveal(Hash32([9; 32]), entropy.root)).await, "BlindBoxAlreadyRevealed");
    t.node.shutdown().await.unwrap();
}
