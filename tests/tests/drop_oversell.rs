//! Drop day, correctness under load (issue "Drop day"): 10,500 mints for a
//! 10,000-edition series, submitted at once through all four validators'
//! JSON-RPC — every edition also raced by a rival mint at another validator
//! for the first 250, and 250 editions beyond the supply. Exactly 10,000
//! certificates must exist on every validator, one per edition, and every
//! refused mint must have its precise error. No timing is asserted.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{Cluster, setup_series};
use keepsake_types::{HolderId, SignedTx, TxBody, TxId, ids};

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
