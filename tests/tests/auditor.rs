//! The auditor toolkit against real nodes: `keepsake audit` over JSON-RPC
//! and over a data directory of a 4-validator cluster (clean, then copies
//! corrupted three ways), the follow mode facing two nodes that fork, and
//! revocation status proofs and certificate refresh on a real node.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use keepsake::audit::{FollowEnd, FollowOptions, Progress, audit_data_dir, audit_rpc, follow};
use keepsake_audit::{Alert, AnomalyKind, Report};
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_store::layout;
use keepsake_tests::{Cluster, TestNode, copy_dir, mint, setup_series, wait_final};
use keepsake_types::encoding::{decode, encode};
use keepsake_types::{
    Block, Certificate, Commit, CommitSignature, Keypair, Revoker, TxBody, VoteData, VoteKind, ids,
};

/// Rewrites the history record of `height` in a copied data directory as a
/// forger with disk access would: the edited block and commit, a fresh
/// checksum, and the offsets of the records after it moved along.
fn rewrite_record(dir: &Path, height: u64, f: impl FnOnce(&mut Block, &mut Commit)) {
    let history = dir.join(layout::HISTORY_DIR);
    let blocks = std::fs::read(history.join("blocks")).unwrap();
    let heights = std::fs::read(history.join("heights")).unwrap();
    let mut records: Vec<Vec<u8>> = heights
        .chunks(8)
        .enumerate()
        .map(|(i, entry)| {
            let start = u64::from_be_bytes(entry.try_into().unwrap()) as usize;
            let end = heights
                .get((i + 1) * 8..(i + 2) * 8)
                .map_or(blocks.len(), |next| u64::from_be_bytes(next.try_into().unwrap()) as usize);
            blocks[start..end].to_vec()
        })
        .collect();
    let record = &mut records[height as usize - 1];
    let header: [u8; layout::RECORD_HEADER_BYTES] = record[..layout::RECORD_HEADER_BYTES].try_into().unwrap();
    let parsed = layout::RecordHeader::parse(&header);
    let body = &record[layout::RECORD_HEADER_BYTES..];
    let (block_bytes, commit_bytes) = body.split_at(parsed.block_len as usize);
    let mut block: Block = decode(block_bytes, usize::MAX, "block").unwrap();
    let mut commit: Commit = decode(commit_bytes, usize::MAX, "commit").unwrap();
    f(&mut block, &mut commit);
    *record = layout::history_record(height, &encode(&block), &encode(&commit)).unwrap();
    let (mut new_blocks, mut new_heights) = (Vec::new(), Vec::new());
    for r in records {
        new_heights.extend_from_slice(&(new_blocks.len() as u64).to_be_bytes());
        new_blocks.extend(r);
    }
    std::fs::write(history.join("blocks"), new_blocks).unwrap();
    std::fs::write(history.join("heights"), new_heights).unwrap();
}

fn rewrite_block(dir: &Path, height: u64, f: impl FnOnce(&mut Block)) {
    rewrite_record(dir, height, |b, _| f(b));
}

fn rewrite_commit(dir: &Path, height: u64, f: impl FnOnce(&mut Commit)) {
    rewrite_record(dir, height, |_, c| f(c));
}

fn first_anomaly(r: &Report) -> (AnomalyKind, Option<u64>, Option<String>) {
    assert!(!r.passed, "the audit should fail:\n{r}");
    let a = &r.anomalies[0];
    (a.kind, a.height, a.cause.clone())
}

/// Runs the real command line in a thread of its own (it builds its own runtime).
fn cli(args: &[&str]) -> ExitCode {
    let args: Vec<String> =
        std::iter::once("keepsake").chain(args.iter().copied()).map(String::from).collect();
    std::thread::spawn(move || keepsake::cli::run(keepsake::cli::Cli::parse_from(args)).unwrap())
        .join()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_passes_on_a_clean_cluster_and_pinpoints_corrupted_data_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 4).await.unwrap();
    let series = setup_series(&c, 0, "jade", 10).await;
    let client = c.client(0);
    let mut mint_height = 0;
    for edition in 1..=4 {
        let id = client.submit_tx(mint(&c, series, edition)).await.unwrap();
        let TxStatus::Committed { height, .. } = wait_final(&client, id).await else {
            panic!("mint {edition}")
        };
        mint_height = height;
    }
    let revoke =
        TxBody::Revoke { certificate_id: ids::certificate_id(c.chain(), &series, 4), reason: "test".into() }
            .sign(c.chain(), &[&c.issuer]);
    let id = client.submit_tx(revoke).await.unwrap();
    let TxStatus::Committed { height: revoked_at, .. } = wait_final(&client, id).await else {
        panic!("revoke")
    };
    c.wait_height(&[0, 1, 2, 3], revoked_at + 3).await;

    // Over RPC: everything verifies, with exact counts.
    let url = c.nodes[1].as_ref().unwrap().rpc_url();
    let report = audit_rpc(&c.genesis, &url, None, &mut Progress::hidden()).await.unwrap().unwrap().report();
    assert!(report.passed, "{report}");
    assert!(report.verified_height >= revoked_at + 3);
    assert_eq!(report.transactions.get("mint"), Some(&4));
    assert_eq!(report.series.len(), 1);
    assert_eq!((report.series[0].minted, report.series[0].max_supply, report.series[0].revoked), (4, 10, 1));
    assert_eq!((report.issuers[0].name.as_str(), report.issuers[0].minted), ("Museum", 4));

    // A stopped node's data directory: clean.
    c.stop_node(3).await.unwrap();
    let data = c.homes[3].join("data");
    let genesis = c.genesis.clone();
    let report = audit_data_dir(&genesis, &data, &mut Progress::hidden()).unwrap();
    assert!(report.passed, "{report}");
    let tip = report.verified_height;
    assert_eq!(report.source_height, tip);

    // Copy 1: a forged block. The issuer's key re-signs edition 2 to another
    // holder; the header's tx root is recomputed; the old commit no longer fits.
    let forged = dir.path().join("forged");
    copy_dir(&data, &forged);
    let issuer = c.issuer.clone();
    let chain = c.chain().to_string();
    rewrite_block(&forged, mint_height, |b: &mut Block| {
        let TxBody::Mint { series_id, edition, .. } = b.txs[0].body.clone() else { panic!("a mint block") };
        b.txs[0] = TxBody::Mint { series_id, edition, holder: ids::holder_id("salt", "mallory") }
            .sign(&chain, &[&issuer]);
        let ids: Vec<_> = b.txs.iter().map(|t| t.id(&chain)).collect();
        b.header.tx_root = keepsake_ledger::block::tx_root(&ids);
    });
    let r = audit_data_dir(&genesis, &forged, &mut Progress::hidden()).unwrap();
    assert_eq!(
        first_anomaly(&r),
        (AnomalyKind::CommitInvalid, Some(mint_height), Some("CommitBlockMismatch".into()))
    );
    assert_eq!(r.verified_height, mint_height - 1);

    // Copy 2: a rewritten historical block, re-signed by every validator key
    // (a colluding supermajority): it is valid alone, its successor no longer links.
    let rewritten = dir.path().join("rewritten");
    copy_dir(&data, &rewritten);
    let keys: Vec<Keypair> =
        c.homes.iter().map(|h| keepsake::keyfile::read(&h.join("keys/validator.json")).unwrap()).collect();
    let target = tip - 1;
    let mut new_header = None;
    rewrite_block(&rewritten, target, |b: &mut Block| {
        assert!(b.txs.is_empty(), "an empty block near the tip");
        b.header.time_ms += 1;
        new_header = Some(b.header.clone());
    });
    let header = new_header.unwrap();
    rewrite_commit(&rewritten, target, |cm: &mut Commit| {
        let data = VoteData {
            height: target,
            round: cm.round,
            kind: VoteKind::Precommit,
            block_hash: Some(header.hash()),
        };
        cm.block_hash = header.hash();
        cm.signatures = keys
            .iter()
            .map(|k| {
                let v = data.clone().sign(&chain, k);
                CommitSignature { validator: v.validator, signature: v.signature }
            })
            .collect();
    });
    let r = audit_data_dir(&genesis, &rewritten, &mut Progress::hidden()).unwrap();
    assert_eq!(first_anomaly(&r), (AnomalyKind::BlockInvalid, Some(tip), Some("PrevHashMismatch".into())));
    assert_eq!(r.verified_height, tip - 1);

    // Copy 3: commit signatures removed below the quorum.
    let stripped = dir.path().join("stripped");
    copy_dir(&data, &stripped);
    rewrite_commit(&stripped, mint_height, |cm: &mut Commit| cm.signatures.truncate(2));
    let r = audit_data_dir(&genesis, &stripped, &mut Progress::hidden()).unwrap();
    assert_eq!(
        first_anomaly(&r),
        (AnomalyKind::CommitInvalid, Some(mint_height), Some("InsufficientPower".into()))
    );

    // The command line: exit 0 on the clean copy, 1 on a corrupted one, 2 when it cannot audit.
    let g = dir.path().join("genesis.json");
    let (g, clean, bad) = (g.to_str().unwrap(), data.to_str().unwrap(), stripped.to_str().unwrap());
    assert_eq!(cli(&["audit", "--genesis", g, "--data-dir", clean, "--json"]), ExitCode::SUCCESS);
    assert_eq!(cli(&["audit", "--genesis", g, "--data-dir", bad]), ExitCode::FAILURE);
    let missing = dir.path().join("nothing-here");
    assert_eq!(cli(&["audit", "--genesis", g, "--data-dir", missing.to_str().unwrap()]), ExitCode::from(2));
    assert!(!missing.exists(), "auditing must not create a database");
    c.shutdown().await;
}

/// Two dev nodes from one home: the same genesis and the same validator key,
/// each deciding its own blocks. Both chains carry valid commits: a fork.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_detects_a_fork_between_two_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (home_a, home_b) = (dir.path().join("a"), dir.path().join("b"));
    keepsake::dev::init_home(&home_a, "127.0.0.1:0".parse().unwrap()).unwrap();
    copy_dir(&home_a, &home_b);
    let a = TestNode::start_existing(home_a).await.unwrap();
    let b = TestNode::start_existing(home_b).await.unwrap();
    let (url_a, url_b) = (a.node.rpc_url(), b.node.rpc_url());
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.client().status().await.unwrap().height < 2 || b.client().status().await.unwrap().height < 2 {
        assert!(Instant::now() < deadline, "dev nodes do not produce blocks");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // One honest node alone: followed until it grows by two blocks, no alert.
    let target = a.client().status().await.unwrap().height + 2;
    let options = FollowOptions { poll: Duration::from_millis(50), until_height: Some(target) };
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        follow(&a.genesis, std::slice::from_ref(&url_a), &options, &mut Progress::hidden()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(matches!(end, FollowEnd::Reached), "{end:?}");

    // Both: the monitor sees two quorum-signed headers for one height.
    let options = FollowOptions { poll: Duration::from_millis(50), until_height: Some(u64::MAX) };
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        follow(&a.genesis, &[url_a.clone(), url_b.clone()], &options, &mut Progress::hidden()),
    )
    .await
    .expect("the fork is found before the timeout")
    .unwrap();
    let FollowEnd::Alert(Alert::Fork { first, second, .. }) = &end else {
        panic!("expected a fork, got {end:?}")
    };
    assert_eq!(first.0, url_a);
    assert!(second.0.starts_with(&url_b), "{second:?}");
    assert_ne!(first.1, second.1);
    a.node.shutdown().await.unwrap();
    b.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_status_is_proven_and_refresh_links_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let chain = t.chain().to_string();
    let series = t.setup_series("crane", 5).await;
    for edition in 1..=2 {
        let tx =
            TxBody::Mint { series_id: series, edition, holder: ids::holder_id("s", &edition.to_string()) }
                .sign(&chain, &[&t.issuer]);
        wait_final(&c, c.submit_tx(tx).await.unwrap()).await;
    }
    let (one, two) = (ids::certificate_id(&chain, &series, 1), ids::certificate_id(&chain, &series, 2));
    let old: Certificate = c.get_certificate(one).await.unwrap().certificate;
    let revoke =
        TxBody::Revoke { certificate_id: two, reason: "stolen artwork".into() }.sign(&chain, &[&t.issuer]);
    wait_final(&c, c.submit_tx(revoke).await.unwrap()).await;

    // Revoked: proven by the revocation's own inclusion proof.
    let cert_two = c.get_certificate(two).await.unwrap().certificate.verify(&t.genesis).unwrap();
    let answer = c.get_certificate_status(two).await.unwrap();
    let v = answer.verify(&t.genesis, &cert_two).unwrap();
    let r = v.revocation.expect("revoked");
    assert_eq!((r.reason.as_str(), r.by), ("stolen artwork", Revoker::Issuer));
    // A node that doctors the answer: a changed proof or leaf is refused.
    let mut doctored = answer.clone();
    doctored.revocation.as_mut().unwrap().leaf.0[3] ^= 1;
    assert_eq!(doctored.verify(&t.genesis, &cert_two).unwrap_err().code(), "ProofMismatch");
    // The answer is about the certificate asked for, not another.
    let cert_one = old.verify(&t.genesis).unwrap();
    assert_eq!(answer.verify(&t.genesis, &cert_one).unwrap_err().code(), "CertificateMismatch");
    // A stale answer, at a checkpoint whose log does not contain the mint yet, is refused.
    let early = c.get_block(1).await.unwrap();
    let stale = keepsake_types::CertificateStatus {
        certificate_id: one,
        checkpoint: keepsake_types::Checkpoint { header: early.block.header, commit: early.commit },
        transitions: Vec::new(),
        revocation: None,
        burn: None,
    };
    assert_eq!(stale.verify(&t.genesis, &cert_one).unwrap_err().code(), "CertificateMismatch");
    // Active: the checkpoint is genuine, no revocation is claimed.
    let active = c.get_certificate_status(one).await.unwrap().verify(&t.genesis, &cert_one).unwrap();
    assert!(active.revocation.is_none());

    // Refresh: the old certificate re-anchored to the latest checkpoint.
    let refreshed =
        keepsake::cli::refresh_certificate(&c, &t.genesis, &old).await.unwrap().expect("newer checkpoint");
    let v = refreshed.verify(&t.genesis).unwrap();
    assert_eq!(v.previous_height, Some(old.checkpoint.header.height));
    assert!(v.checkpoint_height > old.checkpoint.header.height);
    assert_eq!(v.record, cert_one.record);
    // A doctored link is refused with the consistency code.
    let mut bad = refreshed.clone();
    let link = bad.previous.as_mut().unwrap();
    link.consistency.push(keepsake_types::Hash32([1; 32]));
    assert_eq!(bad.verify(&t.genesis).unwrap_err().code(), "ConsistencyMismatch");
    // An old checkpoint that is not older is refused.
    let mut bad = refreshed.clone();
    bad.previous.as_mut().unwrap().checkpoint = refreshed.checkpoint.clone();
    assert_eq!(bad.verify(&t.genesis).unwrap_err().code(), "CertificateMismatch");

    // The command line: status verified from a saved answer, offline.
    let cert_file = dir.path().join("two.json");
    std::fs::write(
        &cert_file,
        serde_json::to_string(&c.get_certificate(two).await.unwrap().certificate).unwrap(),
    )
    .unwrap();
    let saved = dir.path().join("answer.json");
    std::fs::write(&saved, serde_json::to_string(&answer).unwrap()).unwrap();
    let genesis_file = t.home.join("genesis.json");
    let args = |answer: &Path| {
        vec![
            "cert".to_string(),
            "status".into(),
            cert_file.to_str().unwrap().into(),
            "--genesis".into(),
            genesis_file.to_str().unwrap().into(),
            "--answer".into(),
            answer.to_str().unwrap().into(),
        ]
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        cli(&refs)
    };
    assert_eq!(run(args(&saved)), ExitCode::SUCCESS);
    let doctored_file = dir.path().join("doctored.json");
    std::fs::write(&doctored_file, serde_json::to_string(&doctored).unwrap()).unwrap();
    assert_eq!(run(args(&doctored_file)), ExitCode::FAILURE);
    t.node.shutdown().await.unwrap();
}

/// Governance changes the membership of a real node: the validator's power
/// (its set's hash changes two blocks later) and an observer. The audit
/// over RPC replays across the change and reports both;
/// `keepsake_getValidatorSets` answers the sets, the proofs (which verify
/// from the genesis alone) and the observer; `/metrics` shows the set in
/// force; `--follow` goes on across the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_set_change_is_audited_followed_served_and_measured() {
    use keepsake_types::{ValidatorChange, ValidatorSchedule};
    let dir = tempfile::tempdir().unwrap();
    let t = TestNode::start(dir.path()).await.unwrap();
    let c = t.client();
    let chain = t.chain().to_string();
    let url = t.node.rpc_url();
    let me = t.genesis.validators[0].public_key;

    // A follower started before the change: it must pass through it.
    let start = c.status().await.unwrap().height;
    let genesis = t.genesis.clone();
    let follower = {
        let url = url.clone();
        let options = FollowOptions { poll: Duration::from_millis(20), until_height: Some(start + 12) };
        tokio::spawn(async move { follow(&genesis, &[url], &options, &mut Progress::hidden()).await })
    };

    let power = TxBody::ChangeValidators {
        change: ValidatorChange::SetPower { public_key: me, power: 2 },
        nonce: 71,
    }
    .sign(&chain, &[&t.governor]);
    let TxStatus::Committed { height: changed, .. } = wait_final(&c, c.submit_tx(power).await.unwrap()).await
    else {
        panic!("the power change is not committed")
    };
    let observer = Keypair::from_seed([77; 32]).public();
    let register = TxBody::RegisterObserver { observer, name: "Notary Office".into(), nonce: 72 }
        .sign(&chain, &[&t.governor]);
    assert!(matches!(wait_final(&c, c.submit_tx(register).await.unwrap()).await, TxStatus::Committed { .. }));
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.status().await.unwrap().height < changed + 3 {
        assert!(Instant::now() < deadline, "the chain stopped after the change");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The header of the height the change governs carries the new set's hash.
    let effective = c.get_block(changed + 2).await.unwrap().block.header;
    let before = c.get_block(changed + 1).await.unwrap().block.header;
    assert_eq!(before.validators_hash, t.genesis.validator_set().hash(&chain));
    assert_ne!(effective.validators_hash, before.validators_hash);

    // The audit over RPC.
    let auditor = audit_rpc(&t.genesis, &url, None, &mut Progress::hidden()).await.unwrap().unwrap();
    let report = auditor.report();
    assert!(report.passed, "{report}");
    let set_change = report
        .membership
        .iter()
        .find_map(|e| match e {
            keepsake_audit::MembershipEvent::ValidatorSet {
                height,
                in_force_from,
                description,
                total_power,
                ..
            } => Some((*height, *in_force_from, description.clone(), *total_power)),
            _ => None,
        })
        .expect("the set change is reported");
    assert_eq!((set_change.0, set_change.1, set_change.3), (changed, changed + 2, 2));
    assert!(
        set_change.2.starts_with("set the power of dev-validator (") && set_change.2.ends_with("from 1 to 2"),
        "{}",
        set_change.2
    );
    assert!(
        report.membership.iter().any(|e| matches!(e, keepsake_audit::MembershipEvent::ObserverRegistered { name, .. } if name == "Notary Office")),
        "{report}"
    );
    assert_eq!(report.validators_in_force.from_height, changed + 2);
    let text = report.to_string();
    assert!(text.contains(&format!("in force from height {}", changed + 2)), "{text}");

    // keepsake_getValidatorSets: the sets, the proofs, the observer.
    let answer = c.get_validator_sets(None, None).await.unwrap();
    assert_eq!(answer.sets.len(), 2);
    assert_eq!(answer.sets[1].from_height, changed + 2);
    assert_eq!(answer.sets[1].total_power, 2);
    let info = answer.sets[1].change.as_ref().unwrap();
    assert_eq!(info.height, changed);
    assert!(info.description.contains("from 1 to 2"), "{}", info.description);
    assert_eq!(answer.transitions.len(), 1);
    let followed = ValidatorSchedule::follow(&t.genesis, &answer.transitions).expect("the proofs verify");
    assert_eq!(followed.latest().from_height, changed + 2);
    assert_eq!(followed.latest().validators, answer.sets[1].validators);
    assert_eq!(answer.observers.len(), 1);
    assert_eq!(
        (answer.observers[0].public_key, answer.observers[0].name.as_str()),
        (observer, "Notary Office")
    );
    assert_eq!(answer.governance.since_height, None);
    // Without proofs; and only the sets governing up to a height.
    assert!(c.get_validator_sets(None, Some(false)).await.unwrap().transitions.is_empty());
    let early = c.get_validator_sets(Some(changed + 1), Some(true)).await.unwrap();
    assert_eq!((early.sets.len(), early.transitions.len()), (1, 0));

    // /metrics.
    let (status, body) = keepsake_tests::raw_http(t.node.rpc_addr, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let gauge = |name: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in\n{body}"))
    };
    assert_eq!(gauge("keepsake_validators"), 1);
    assert_eq!(gauge("keepsake_validators_power"), 2);
    assert_eq!(gauge("keepsake_validator_set_from_height"), changed + 2);
    assert_eq!(gauge("keepsake_validator_voting"), 1);
    assert_eq!(gauge("keepsake_validator_set_pending_from_height"), 0);
    assert_eq!(gauge("keepsake_observers"), 1);

    // The follower went on across the change without an alert.
    let end =
        tokio::time::timeout(Duration::from_secs(30), follower).await.expect("follow ends").unwrap().unwrap();
    assert!(matches!(end, FollowEnd::Reached), "{end:?}");
    t.node.shutdown().await.unwrap();
}
