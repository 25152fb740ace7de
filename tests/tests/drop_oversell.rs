//! Drop day, correctness under load (issue "Drop day"): 10,500 mints for a
//! 10,000-edition series, submitted at once through all four validators'
//! JSON-RPC — every edition also raced by a rival mint at another validator
//! for the first 250, and 250 editions beyond the supply. Exactly 10,000
//! certificates must exist on every validator, one per edition, and every
//! refused mint must have its precise error. And the collectible's life
//! under the same kind of race, on a cluster of its own: pairs of syntheses burning the same two
//! pieces submitted at once to two validators (exactly one burns them, the
//! other is refused `CertificateBurned`), and a blind box's close raced by
//! the last mints of its sale (each mint is committed before the close or
//! refused `BlindBoxClosed`), then revealed with the entropy the test
//! recomputes from the blocks. No timing is asserted.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{Cluster, setup_series, wait_final};
use keepsake_types::block::LogLeafRef;
use keepsake_types::hash::sha256;
use keepsake_types::life::seed_commitment;
use keepsake_types::merkle::{self, MemoryLog};
use keepsake_types::{
    BlindBoxTerms, BoxVariant, ContentHash, Hash32, HolderId, Recipe, RecipeInput, ReviewSubject, SeriesId,
    SeriesTerms, SignedTx, TxBody, TxId, ids,
};

const SUPPLY: u32 = 10_000;
/// Editions 1..=RIVALS get a second, conflicting mint (another holder) at another validator.
const RIVALS: u32 = 250;
/// Editions SUPPLY+1..=SUPPLY+OVER are beyond the supply.
const OVER: u32 = 250;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Edition e to holder `buyer-e`.
    Original,
    /// Edition e (<= RIVALS) to holder `rival-e`.
    Rival,
    /// Edition > SUPPLY.
    OverSupply,
}

struct Sent {
    edition: u32,
    kind: Kind,
    holder: HolderId,
    via: usize,
    /// The error `submitTxs` answered, if it refused the mint at once.
    refused: Option<(String, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_10500_mint_burst_for_10000_editions_never_oversells_on_any_validator() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "moon-festival", SUPPLY).await;
    let chain = c.chain().to_string();

    // The burst: originals round-robin over the validators; each rival at the
    // validator after its original's; over-supply editions spread as well.
    let mut plan: Vec<(u32, Kind, String, usize)> = Vec::new();
    for e in 1..=SUPPLY {
        plan.push((e, Kind::Original, format!("buyer-{e}"), e as usize % 4));
        if e <= RIVALS {
            plan.push((e, Kind::Rival, format!("rival-{e}"), (e as usize + 1) % 4));
        }
    }
    for e in SUPPLY + 1..=SUPPLY + OVER {
        plan.push((e, Kind::OverSupply, format!("late-{e}"), e as usize % 4));
    }
    assert_eq!(plan.len(), 10_500);
    let mut sent: HashMap<TxId, Sent> = HashMap::new();
    let mut per_node: Vec<Vec<SignedTx>> = vec![Vec::new(); 4];
    for (edition, kind, user, via) in plan {
        let holder = ids::holder_id("drop-salt", &user);
        let tx = TxBody::Mint { series_id: series, edition, holder }.sign(&chain, &[&c.issuer]);
        sent.insert(tx.id(&chain), Sent { edition, kind, holder, via, refused: None });
        per_node[via].push(tx);
    }
    let submitters: Vec<_> = per_node
        .into_iter()
        .enumerate()
        .map(|(i, txs)| {
            let client = c.client(i);
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for chunk in txs.chunks(500) {
                    outcomes.extend(client.submit_txs(chunk.to_vec()).await.expect("submitTxs answers"));
                }
                outcomes
            })
        })
        .collect();
    for s in submitters {
        for outcome in s.await.unwrap() {
            let entry = sent.get_mut(&outcome.tx_id).expect("an outcome for a mint we sent");
            entry.refused = outcome.error.map(|e| (e.code, e.message));
        }
    }

    // Over-supply mints are refused at admission, each with its precise error.
    for s in sent.values().filter(|s| s.kind == Kind::OverSupply) {
        let (code, message) = s.refused.as_ref().expect("an over-supply mint was admitted");
        assert_eq!(code, "SupplyExceeded", "edition {}: {message}", s.edition);
        assert!(
            message.contains(&s.edition.to_string()) && message.contains(&SUPPLY.to_string()),
            "the message names the edition and the supply: {message}"
        );
    }

    // Sold out on every validator (bounded wait), and never more.
    let deadline = Instant::now() + Duration::from_secs(240);
    for i in 0..4 {
        loop {
            let minted = c.client(i).get_series(series).await.unwrap().minted;
            assert!(minted <= SUPPLY, "node {i} oversold: {minted} minted of {SUPPLY}");
            if minted == SUPPLY {
                break;
            }
            assert!(Instant::now() < deadline, "node {i} stuck at {minted} of {SUPPLY} minted");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let height = c.client(0).status().await.unwrap().height;
    c.wait_height(&[0, 1, 2, 3], height).await;

    // Every validator's chain holds exactly one mint per edition 1..=SUPPLY, and the
    // same blocks; nothing beyond the supply.
    let mut first_chain = Vec::new();
    for i in 0..4 {
        let client = c.client(i);
        let mut editions = HashSet::new();
        let mut mint_ids = HashSet::new();
        let mut hashes = Vec::new();
        for h in 1..=height {
            let b = client.get_block(h).await.unwrap();
            hashes.push(b.hash);
            for tx in &b.block.txs {
                if let TxBody::Mint { series_id, edition, .. } = &tx.body
                    && *series_id == series
                {
                    assert!(*edition >= 1 && *edition <= SUPPLY, "node {i}: edition {edition} minted");
                    assert!(editions.insert(*edition), "node {i}: edition {edition} minted twice");
                    mint_ids.insert(tx.id(&chain));
                }
            }
        }
        assert_eq!(editions.len(), SUPPLY as usize, "node {i}: certificates on chain");
        if i == 0 {
            first_chain = hashes;
        } else {
            assert_eq!(hashes, first_chain, "node {i} has other blocks than node 0");
        }
        assert_eq!(client.get_series(series).await.unwrap().minted, SUPPLY);
        // Beyond the supply there is nothing to fetch.
        for e in [SUPPLY + 1, SUPPLY + OVER] {
            let err = client.get_certificate(ids::certificate_id(&chain, &series, e)).await.unwrap_err();
            assert!(err.to_string().contains("NotFound"), "node {i}, edition {e}: {err}");
        }
        // Each committed mint is a certificate whose holder is its mint's holder.
        for id in mint_ids.iter().step_by(97) {
            let s = &sent[id];
            let cert = client.get_certificate(ids::certificate_id(&chain, &series, s.edition)).await.unwrap();
            assert_eq!(cert.certificate.record.holder, s.holder, "node {i}, edition {}", s.edition);
        }
    }

    // Each raced edition has exactly one winner; the loser got `DuplicateCertificate`,
    // at once from submitTxs or, if it was admitted while the winner was pending,
    // from getTxStatus on the validator that received it (once that node has
    // built a block without it: bounded wait).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut winners = 0;
    let mut refused_at_once = 0;
    let mut left_out = 0;
    for (id, s) in sent.iter().filter(|(_, s)| s.kind != Kind::OverSupply) {
        let client = c.client(s.via);
        let status = loop {
            match client.get_tx_status(*id).await.unwrap() {
                TxStatus::Pending if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await
                }
                other => break other,
            }
        };
        match (&s.refused, status) {
            (None, TxStatus::Committed { .. }) => winners += 1,
            (None, TxStatus::Rejected { error }) => {
                assert_eq!(error.code, "DuplicateCertificate", "edition {}: {}", s.edition, error.message);
                assert!(s.edition <= RIVALS, "edition {} had no rival, yet was left out", s.edition);
                left_out += 1;
            }
            (Some((code, message)), _) => {
                assert_eq!(code, "DuplicateCertificate", "edition {}: {message}", s.edition);
                assert!(s.edition <= RIVALS, "edition {} had no rival, yet was refused", s.edition);
                refused_at_once += 1;
            }
            (None, other) => panic!("edition {} ({:?}) ended as {other:?}", s.edition, s.kind),
        }
    }
    assert_eq!(winners, SUPPLY, "one committed mint per edition");
    assert_eq!(refused_at_once + left_out, RIVALS, "every losing rival got its error");
    eprintln!(
        "drop: {winners} committed, {OVER} over-supply refused at admission, {refused_at_once} rivals \
         refused at admission, {left_out} left out of blocks; {height} blocks"
    );
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raced_syntheses_burn_once_and_a_raced_blind_box_close_sells_nothing_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cluster::start(dir.path(), 4).await.unwrap();
    setup_series(&c, 0, "moon-festival", 10).await;
    life_races(&c).await;
    c.shutdown().await;
}

/// Pieces minted to one collector; each pair of them is raced by two syntheses.
const PIECES: u32 = 40;
/// Editions of the blind box; the first half is sold before the race.
const BOX_EDITIONS: u32 = 40;

/// A series creation with `terms`, approved (with its terms) by the cluster's reviewer.
fn create_with_terms(c: &Cluster, name: &str, max_supply: u32, terms: SeriesTerms) -> SignedTx {
    let subject = ReviewSubject {
        issuer: c.issuer.public(),
        name: name.into(),
        content_hash: ContentHash(sha256(name.as_bytes()).0),
        max_supply,
        metadata_uri: format!("https://museum.example/{name}.json"),
    };
    let approval = subject.approve_with(c.chain(), Some(&terms), &c.reviewer);
    subject.into_body(Some(terms), approval).sign(c.chain(), &[&c.issuer])
}

/// Submits each node's transactions at once (all nodes concurrently) and
/// returns, per transaction, the error `submitTxs` answered if any.
async fn submit_all(c: &Cluster, per_node: Vec<Vec<SignedTx>>) -> HashMap<TxId, Option<String>> {
    let tasks: Vec<_> = per_node
        .into_iter()
        .enumerate()
        .map(|(i, txs)| {
            let client = c.client(i);
            tokio::spawn(async move { client.submit_txs(txs).await.expect("submitTxs answers") })
        })
        .collect();
    let mut out = HashMap::new();
    for t in tasks {
        for o in t.await.unwrap() {
            out.insert(o.tx_id, o.error.map(|e| e.code));
        }
    }
    out
}

/// The final verdict on `id` at node `via`: `Ok(leaf index)` when committed,
/// `Err(code)` when refused at once or left out of a block (bounded wait).
async fn verdict(c: &Cluster, via: usize, id: TxId, at_once: &Option<String>) -> Result<u64, String> {
    if let Some(code) = at_once {
        return Err(code.clone());
    }
    match wait_final(&c.client(via), id).await {
        TxStatus::Committed { leaf_index, .. } => Ok(leaf_index),
        TxStatus::Rejected { error } => Err(error.code),
        other => panic!("{id} at node {via} ended as {other:?}"),
    }
}

async fn life_races(c: &Cluster) {
    let chain = c.chain().to_string();
    let issuer = &c.issuer;
    let collector = ids::holder_id("drop-salt", "collector");
    // A series of pieces, a series whose recipe burns two of them, a blind box.
    let parts_tx = {
        let subject = ReviewSubject {
            issuer: issuer.public(),
            name: "lantern-parts".into(),
            content_hash: ContentHash(sha256(b"lantern-parts").0),
            max_supply: PIECES,
            metadata_uri: "https://museum.example/lantern-parts.json".into(),
        };
        let approval = subject.approve(&chain, &c.reviewer);
        TxBody::CreateSeries {
            issuer: subject.issuer,
            name: subject.name,
            content_hash: subject.content_hash,
            max_supply: subject.max_supply,
            metadata_uri: subject.metadata_uri,
            approval,
        }
        .sign(&chain, &[issuer])
    };
    c.commit(0, parts_tx).await;
    let parts = ids::series_id(&chain, &issuer.public(), "lantern-parts");
    let recipe = SeriesTerms {
        recipes: vec![Recipe { inputs: vec![RecipeInput { series_id: parts, count: 2 }] }],
        blind_box: None,
    };
    let seed = sha256(b"mooncake box seed");
    let variants = vec![
        BoxVariant { name: "golden rabbit".into(), content_hash: ContentHash([1; 32]), count: 4 },
        BoxVariant {
            name: "paper lantern".into(),
            content_hash: ContentHash([2; 32]),
            count: BOX_EDITIONS - 4,
        },
    ];
    let box_terms = SeriesTerms {
        recipes: vec![],
        blind_box: Some(BlindBoxTerms { variants, seed_commitment: seed_commitment(&chain, &seed) }),
    };
    c.commit(1, create_with_terms(c, "lantern", PIECES, recipe)).await;
    c.commit(2, create_with_terms(c, "mooncake-box", BOX_EDITIONS, box_terms)).await;
    let lantern = ids::series_id(&chain, &issuer.public(), "lantern");
    let boxed = ids::series_id(&chain, &issuer.public(), "mooncake-box");
    let mint = |series: SeriesId, edition: u32, holder: HolderId| {
        TxBody::Mint { series_id: series, edition, holder }.sign(&chain, &[issuer])
    };
    let buyer = |e: u32| ids::holder_id("drop-salt", &format!("box-buyer-{e}"));
    // The pieces, all the collector's, and the first half of the box.
    let mut before: Vec<SignedTx> = (1..=PIECES).map(|e| mint(parts, e, collector)).collect();
    before.extend((1..=BOX_EDITIONS / 2).map(|e| mint(boxed, e, buyer(e))));
    let ids_before: Vec<TxId> = before.iter().map(|t| t.id(&chain)).collect();
    let outcomes = submit_all(c, vec![before, vec![], vec![], vec![]]).await;
    for id in ids_before {
        assert_eq!(verdict(c, 0, id, &outcomes[&id]).await.map(|_| ()), Ok(()), "{id}");
    }

    // The race: for each pair, two syntheses (into two editions) at two
    // validators; the box's close at one, its last mints spread over all.
    let piece = |e: u32| ids::certificate_id(&chain, &parts, e);
    let mut per_node: Vec<Vec<SignedTx>> = vec![Vec::new(); 4];
    let mut syntheses: Vec<(u32, [TxId; 2], [usize; 2])> = Vec::new();
    for p in 1..=PIECES / 2 {
        let inputs = vec![piece(2 * p - 1), piece(2 * p)];
        let make = |edition: u32| {
            TxBody::Synthesize {
                series_id: lantern,
                recipe: 0,
                inputs: inputs.clone(),
                edition,
                holder: collector,
            }
            .sign(&chain, &[issuer])
        };
        let (a, b) = (make(2 * p - 1), make(2 * p));
        let via = [p as usize % 4, (p as usize + 1) % 4];
        syntheses.push((p, [a.id(&chain), b.id(&chain)], via));
        per_node[via[0]].push(a);
        per_node[via[1]].push(b);
    }
    let close = TxBody::CloseBlindBox { series_id: boxed }.sign(&chain, &[issuer]);
    let close_id = close.id(&chain);
    let mut late: Vec<(TxId, usize)> = Vec::new();
    for e in BOX_EDITIONS / 2 + 1..=BOX_EDITIONS {
        let tx = mint(boxed, e, buyer(e));
        let via = e as usize % 4;
        late.push((tx.id(&chain), via));
        per_node[via].push(tx);
        if e == BOX_EDITIONS * 3 / 4 {
            per_node[0].push(close.clone());
        }
    }
    let outcomes = submit_all(c, per_node).await;

    // Syntheses: exactly one of each pair burns it; the other is refused CertificateBurned.
    let mut burned_by: Vec<TxId> = Vec::new();
    for (p, ids, via) in &syntheses {
        let a = verdict(c, via[0], ids[0], &outcomes[&ids[0]]).await;
        let b = verdict(c, via[1], ids[1], &outcomes[&ids[1]]).await;
        match (&a, &b) {
            (Ok(_), Err(code)) | (Err(code), Ok(_)) => {
                assert_eq!(code, "CertificateBurned", "pair {p}");
                burned_by.push(if a.is_ok() { ids[0] } else { ids[1] });
            }
            other => panic!("pair {p}: exactly one synthesis must win, got {other:?}"),
        }
    }
    // The box: the close is committed; each late mint before it, or refused.
    let close_leaf = verdict(c, 0, close_id, &outcomes[&close_id]).await.expect("the close is committed");
    let mut sold_late = 0;
    for (id, via) in &late {
        match verdict(c, *via, *id, &outcomes[id]).await {
            Ok(leaf) => {
                assert!(leaf < close_leaf, "a mint committed after the close (leaf {leaf} > {close_leaf})");
                sold_late += 1;
            }
            Err(code) => assert_eq!(code, "BlindBoxClosed", "late mint {id}"),
        }
    }

    // Every validator agrees: one lantern per pair, every piece burned once, the box's sales.
    let height = c.client(0).status().await.unwrap().height;
    c.wait_height(&[0, 1, 2, 3], height).await;
    let mut log = MemoryLog::new();
    for i in 0..4 {
        let client = c.client(i);
        assert_eq!(client.get_series(lantern).await.unwrap().minted, PIECES / 2, "node {i}");
        assert_eq!(client.get_series(boxed).await.unwrap().minted, BOX_EDITIONS / 2 + sold_late, "node {i}");
        let mut burned = HashSet::new();
        for h in 1..=height {
            let b = client.get_block(h).await.unwrap().block;
            for tx in &b.txs {
                if i == 0 {
                    log.push(&LogLeafRef { height: h, time_ms: b.header.time_ms, tx }.encode());
                }
                if let TxBody::Synthesize { inputs, .. } = &tx.body {
                    assert!(burned_by.contains(&tx.id(&chain)), "node {i}: a losing synthesis is on chain");
                    for input in inputs {
                        assert!(burned.insert(*input), "node {i}: {input} burned twice");
                    }
                }
            }
        }
        assert_eq!(burned.len() as u32, PIECES, "node {i}: pieces burned");
    }

    // The reveal: with the log root just after the close, recomputed from the blocks.
    assert_eq!(log.size(), c.client(0).status().await.unwrap().log_size);
    let entropy = merkle::root(&log, close_leaf + 1).unwrap();
    let reveal =
        |entropy: Hash32| TxBody::RevealBlindBox { series_id: boxed, seed, entropy }.sign(&chain, &[issuer]);
    let wrong = c.client(1).submit_txs(vec![reveal(Hash32([0; 32]))]).await.unwrap();
    assert_eq!(wrong[0].error.as_ref().map(|e| e.code.as_str()), Some("EntropyMismatch"));
    c.commit(1, reveal(entropy)).await;
    let after = c.client(2).submit_txs(vec![mint(boxed, BOX_EDITIONS, buyer(0))]).await.unwrap();
    assert_eq!(after[0].error.as_ref().map(|e| e.code.as_str()), Some("BlindBoxClosed"));
    eprintln!(
        "life: {} syntheses won their race, {} refused CertificateBurned; blind box: {} sold before the race, \
         {sold_late} during it, {} refused BlindBoxClosed; revealed",
        PIECES / 2,
        PIECES / 2,
        BOX_EDITIONS / 2,
        BOX_EDITIONS / 2 - sold_late
    );
}
