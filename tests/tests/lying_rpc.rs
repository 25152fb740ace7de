//! `keepsake audit --rpc` and the certificate commands against a node that
//! lies: a JSON-RPC server of the test ([`LyingRpc`], 127.0.0.1 port 0)
//! serves an honest 3-block chain of the test network, except for one
//! doctored answer per case — a 300-byte, 255-byte or empty chain id, heights
//! over `u64::MAX`, hashes and signatures of the wrong length, vectors far
//! over every bound, `u64::MAX` sizes re-signed by the validators' own keys
//! (a colluding supermajority), a genesis with an oversized chain id.
//!
//! Every case must end in an anomaly report with a stable code (exit 1) or
//! a clean refusal (exit 2), checked both in-process (`audit_rpc`, the
//! report) and through the real command line (`keepsake::cli::run`, the exit
//! code); a panic anywhere fails the test. Before `ChainId`, the 300-byte
//! chain id in a block (or in the node's genesis) made `Header::hash`
//! (`Genesis::hash`) panic: exit 101 instead of a report.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use keepsake::audit::{FollowEnd, FollowOptions, Progress, audit_rpc, follow};
use keepsake_audit::{Alert, AnomalyKind};
use keepsake_ledger::testkit::{TestChain, TestNet};
use keepsake_rpc::types::{BlockResponse, ChainStatus};
use keepsake_tests::{LyingAnswer, LyingRpc};
use keepsake_types::{Block, Commit, Genesis};
use serde_json::{Value, json};

/// The honest chain every liar starts from: 3 blocks of the test network
/// (setup, a series creation, two mints), with the validators' keys.
struct Honest {
    net: TestNet,
    blocks: Vec<(Block, Commit)>,
}

fn honest() -> Arc<Honest> {
    let mut chain = TestChain::new(TestNet::new(4));
    let setup = chain.net.setup_txs();
    chain.push(setup);
    let series = chain.net.create_series(&chain.net.issuer, &chain.net.reviewer, "jade", 10);
    chain.push(vec![series]);
    let sid = chain.net.series_id(&chain.net.issuer, "jade");
    let mints = (1..=2).map(|e| chain.net.mint(&chain.net.issuer, sid, e, e)).collect();
    chain.push(mints);
    Arc::new(Honest { net: chain.net, blocks: chain.blocks })
}

impl Honest {
    fn genesis(&self) -> &Genesis {
        &self.net.genesis
    }

    fn block(&self, height: u64) -> Option<Value> {
        let (block, commit) = self.blocks.get(usize::try_from(height).ok()?.checked_sub(1)?)?;
        let response =
            BlockResponse { hash: block.header.hash(), block: block.clone(), commit: commit.clone() };
        Some(serde_json::to_value(response).unwrap())
    }

    /// What an honest node answers.
    fn answer(&self, method: &str, height: Option<u64>) -> Result<Value, (i64, String)> {
        let not_found = |what: String| Err((4404, format!("{what} not found")));
        match method {
            "keepsake_getGenesis" => Ok(serde_json::to_value(self.genesis()).unwrap()),
            "keepsake_status" => {
                let header = &self.blocks.last().unwrap().0.header;
                let status = ChainStatus {
                    chain_id: self.genesis().chain_id.clone(),
                    genesis_hash: self.genesis().hash(),
                    height: header.height,
                    latest_hash: header.hash(),
                    latest_time_ms: header.time_ms,
                    log_size: header.log_size,
                    log_root: header.log_root,
                    state_root: header.state_root,
                    mempool_txs: 0,
                    validator: self.net.validators[0].public(),
                    peers: None,
                };
                Ok(serde_json::to_value(status).unwrap())
            }
            "keepsake_getBlock" => {
                let h = height.unwrap_or_default();
                self.block(h).map_or_else(|| not_found(format!("block {h}")), Ok)
            }
            "keepsake_getEvidence" => Ok(json!([])),
            other => not_found(format!("method {other}")),
        }
    }
}

/// A doctored answer: `(method, height of a getBlock or None, the honest
/// answer)` to the raw JSON text to send instead, or `None` to be honest.
type Lie = Box<dyn Fn(&str, Option<u64>, &Value) -> Option<String> + Send + Sync>;

fn serve(chain: &Arc<Honest>, lie: Lie) -> LyingRpc {
    let chain = chain.clone();
    LyingRpc::start(move |method: &str, params: &Value| -> LyingAnswer {
        let height = params.get(0).and_then(Value::as_u64);
        let honest = chain.answer(method, height)?;
        Ok(lie(method, height, &honest).unwrap_or_else(|| honest.to_string()))
    })
}

/// Block 2 edited as JSON (the other answers honest).
fn block_2(edit: impl Fn(&mut Value) + Send + Sync + 'static) -> Lie {
    Box::new(move |method, height, honest| {
        (method == "keepsake_getBlock" && height == Some(2)).then(|| {
            let mut doctored = honest.clone();
            edit(&mut doctored);
            doctored.to_string()
        })
    })
}

/// Block 2 as raw text: `from` replaced by `to` (numbers no `u64` holds).
fn block_2_text(from: &'static str, to: &'static str) -> Lie {
    Box::new(move |method, height, honest| {
        (method == "keepsake_getBlock" && height == Some(2)).then(|| {
            let text = honest.to_string();
            assert!(text.contains(from), "{from} is in block 2");
            text.replace(from, to)
        })
    })
}

/// Block 2 changed by `edit`, with a new commit by every validator (a
/// colluding supermajority): the commit verifies, the lie must be caught
/// by the checks after it.
fn block_2_resigned(chain: &Arc<Honest>, edit: impl Fn(&mut Block)) -> Lie {
    let (mut block, _) = chain.blocks[1].clone();
    edit(&mut block);
    let commit = chain.net.commit_for(&block.header, 0, chain.net.validators.len());
    let response = BlockResponse { hash: block.header.hash(), block, commit };
    let text = serde_json::to_string(&response).unwrap();
    Box::new(move |method, height, _| {
        (method == "keepsake_getBlock" && height == Some(2)).then(|| text.clone())
    })
}

/// One method's answer replaced by raw text.
fn method(name: &'static str, text: impl Fn(&Value) -> String + Send + Sync + 'static) -> Lie {
    Box::new(move |method, _, honest| (method == name).then(|| text(honest)))
}

/// What a case must end in.
enum Expect {
    /// A report whose first anomaly is this (kind, height, cause), its
    /// message containing the text; exit 1.
    Anomaly(AnomalyKind, Option<u64>, &'static str, &'static str),
    /// The audit cannot run: an error containing the text; exit 2.
    CannotRun(&'static str),
}

/// Runs the real command line in a thread of its own (it builds its own
/// runtime). An error is exit 1, as `main` makes it; a panic fails the test.
fn cli(args: &[&str]) -> ExitCode {
    let args: Vec<String> =
        std::iter::once("keepsake").chain(args.iter().copied()).map(String::from).collect();
    std::thread::spawn(move || match keepsake::cli::run(keepsake::cli::Cli::parse_from(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    })
    .join()
    .expect("the command line does not panic")
}

fn write_genesis(dir: &Path, genesis: &Value) -> String {
    let path = dir.join("genesis.json");
    std::fs::write(&path, serde_json::to_string_pretty(genesis).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_reports_every_lie_of_a_node_and_never_panics() {
    let chain = honest();
    let dir = tempfile::tempdir().unwrap();
    let genesis_file = write_genesis(dir.path(), &serde_json::to_value(chain.genesis()).unwrap());
    let x300 = "x".repeat(300);
    let x255 = "y".repeat(255);
    let genesis_300 = {
        let mut g = serde_json::to_value(chain.genesis()).unwrap();
        g["chain_id"] = json!(x300);
        g.to_string()
    };
    let sig = chain.blocks[1].1.signatures[0].clone();
    let tx = chain.blocks[1].0.txs[0].clone();
    let malformed = AnomalyKind::Malformed;
    let cases: Vec<(&str, Lie, Expect)> = vec![
        (
            "a block with a 300-byte chain id",
            block_2(move |b| b["block"]["header"]["chain_id"] = json!(x300)),
            Expect::Anomaly(malformed, Some(2), "Malformed", "is 300 bytes, over the limit of 64"),
        ),
        (
            "a block with a 255-byte chain id (fits the hash frame, over the rule)",
            block_2(move |b| b["block"]["header"]["chain_id"] = json!(x255)),
            Expect::Anomaly(malformed, Some(2), "Malformed", "is 255 bytes"),
        ),
        (
            "a block with an empty chain id",
            block_2(|b| b["block"]["header"]["chain_id"] = json!("")),
            Expect::Anomaly(malformed, Some(2), "Malformed", "is empty"),
        ),
        (
            "a block whose heights do not fit a u64",
            block_2_text("\"height\":2,", "\"height\":18446744073709551616,"),
            Expect::Anomaly(malformed, Some(2), "Malformed", "block 2 does not decode"),
        ),
        (
            "a block at height u64::MAX",
            block_2(|b| b["block"]["header"]["height"] = json!(u64::MAX)),
            Expect::Anomaly(AnomalyKind::BlockInvalid, Some(2), "UnexpectedHeight", "18446744073709551615"),
        ),
        (
            "a commit whose block hash is 31 bytes",
            block_2(|b| {
                let h = b["commit"]["block_hash"].as_str().unwrap()[2..].to_string();
                b["commit"]["block_hash"] = json!(h);
            }),
            Expect::Anomaly(malformed, Some(2), "Malformed", "expected 64 hex digits, got 62"),
        ),
        (
            "a commit signature of 63 bytes",
            block_2(|b| {
                let s = b["commit"]["signatures"][0]["signature"].as_str().unwrap()[2..].to_string();
                b["commit"]["signatures"][0]["signature"] = json!(s);
            }),
            Expect::Anomaly(malformed, Some(2), "Malformed", "expected 128 hex digits, got 126"),
        ),
        (
            "a commit with 20,000 signatures",
            block_2(move |b| {
                b["commit"]["signatures"] = serde_json::to_value(vec![sig.clone(); 20_000]).unwrap()
            }),
            Expect::Anomaly(AnomalyKind::CommitInvalid, Some(2), "DuplicateCommitSignature", "twice"),
        ),
        (
            "a block with 12,000 transactions (over block_txs_max) under an honest header",
            block_2(move |b| b["block"]["txs"] = serde_json::to_value(vec![tx.clone(); 12_000]).unwrap()),
            Expect::Anomaly(AnomalyKind::BlockInvalid, Some(2), "TxCountMismatch", "12000"),
        ),
        (
            "a log size of u64::MAX, re-signed by every validator",
            block_2_resigned(&chain, |b| b.header.log_size = u64::MAX),
            Expect::Anomaly(AnomalyKind::BlockInvalid, Some(2), "LogMismatch", "18446744073709551615"),
        ),
        (
            "a tx count of u32::MAX, re-signed by every validator",
            block_2_resigned(&chain, |b| b.header.tx_count = u32::MAX),
            Expect::Anomaly(AnomalyKind::BlockInvalid, Some(2), "TxCountMismatch", "4294967295"),
        ),
        (
            "a block time of u64::MAX, re-signed by every validator",
            block_2_resigned(&chain, |b| b.header.time_ms = u64::MAX),
            Expect::Anomaly(AnomalyKind::BlockInvalid, Some(2), "LogMismatch", "log mismatch"),
        ),
        (
            "a genesis with a 300-byte chain id",
            method("keepsake_getGenesis", move |_| genesis_300.clone()),
            Expect::Anomaly(malformed, None, "Malformed", "its genesis does not decode"),
        ),
        (
            "a status whose log size does not fit a u64",
            method("keepsake_status", |honest| {
                let mut s = honest.clone();
                s["log_size"] = json!(0);
                s.to_string().replace("\"log_size\":0", "\"log_size\":99999999999999999999999")
            }),
            Expect::Anomaly(malformed, None, "Malformed", "its status does not decode"),
        ),
        (
            "a status with a 300-byte chain id",
            method("keepsake_status", |honest| {
                let mut s = honest.clone();
                s["chain_id"] = json!("s".repeat(300));
                s.to_string()
            }),
            Expect::Anomaly(malformed, None, "Malformed", "is 300 bytes"),
        ),
        (
            "evidence whose signature is 2 bytes",
            method("keepsake_getEvidence", |_| {
                let vote = json!({
                    "data": {"height": 1, "round": 0, "kind": "prevote", "block_hash": null},
                    "validator": "00".repeat(32),
                    "signature": "abcd"
                });
                json!([{"first": vote, "second": vote}]).to_string()
            }),
            Expect::Anomaly(AnomalyKind::InvalidEvidence, None, "Malformed", "its evidence does not decode"),
        ),
        (
            "a status claiming height u64::MAX, blocks missing past 3",
            method("keepsake_status", |honest| {
                let mut s = honest.clone();
                s["height"] = json!(u64::MAX);
                s.to_string()
            }),
            Expect::CannotRun("block 4 not found"),
        ),
        (
            "a block answer that is not a block at all",
            block_2(|b| *b = json!({"hash": [1, 2, 3], "block": "x".repeat(1000)})),
            Expect::Anomaly(malformed, Some(2), "Malformed", "block 2 does not decode"),
        ),
    ];

    // The honest chain passes: the liars below differ from it in one answer only.
    let liar = serve(&chain, Box::new(|_, _, _| None));
    let report =
        audit_rpc(chain.genesis(), &liar.url, None, &mut Progress::hidden()).await.unwrap().unwrap().report();
    assert!(report.passed, "{report}");
    assert_eq!(report.verified_height, 3);
    assert_eq!(cli(&["audit", "--genesis", &genesis_file, "--rpc", &liar.url, "--json"]), ExitCode::SUCCESS);

    for (name, lie, expect) in cases {
        let liar = serve(&chain, lie);
        let audited = audit_rpc(chain.genesis(), &liar.url, None, &mut Progress::hidden()).await;
        let exit = cli(&["audit", "--genesis", &genesis_file, "--rpc", &liar.url, "--json"]);
        match expect {
            Expect::Anomaly(kind, height, cause, says) => {
                let report = audited.unwrap_or_else(|e| panic!("{name}: {e:#}")).unwrap().report();
                assert!(!report.passed, "{name}: the audit passed:\n{report}");
                let a = &report.anomalies[0];
                assert_eq!(
                    (a.kind, a.height, a.cause.as_deref()),
                    (kind, height, Some(cause)),
                    "{name}: {a}"
                );
                assert!(a.message.contains(says), "{name}: {a}");
                if let Some(h) = height {
                    assert_eq!(report.verified_height, h - 1, "{name}");
                    assert_eq!(report.stopped_at, Some(h), "{name}");
                }
                assert_eq!(exit, ExitCode::FAILURE, "{name}");
            }
            Expect::CannotRun(says) => {
                let err = format!("{:#}", audited.err().unwrap_or_else(|| panic!("{name}: the audit ran")));
                assert!(err.contains(says), "{name}: {err}");
                assert_eq!(exit, ExitCode::from(2), "{name}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_reports_lying_primaries_and_secondaries() {
    let chain = honest();
    // The primary lies in a block: the full audit before following finds it.
    let x300 = "x".repeat(300);
    let liar = serve(&chain, block_2(move |b| b["block"]["header"]["chain_id"] = json!(x300)));
    let options = FollowOptions { poll: Duration::from_millis(20), until_height: Some(3) };
    let end = follow(chain.genesis(), std::slice::from_ref(&liar.url), &options, &mut Progress::hidden())
        .await
        .unwrap();
    let FollowEnd::Anomalies(list) = &end else { panic!("expected anomalies, got {end:?}") };
    assert_eq!((list[0].kind, list[0].height), (AnomalyKind::Malformed, Some(2)));

    // An honest primary and a secondary whose checkpoint does not decode: an alert.
    let honest_node = serve(&chain, Box::new(|_, _, _| None));
    let x300 = "x".repeat(300);
    let liar = serve(
        &chain,
        Box::new(move |method, height, honest| {
            (method == "keepsake_getBlock" && height == Some(3)).then(|| {
                let mut b = honest.clone();
                b["block"]["header"]["chain_id"] = json!(x300);
                b.to_string()
            })
        }),
    );
    let urls = [honest_node.url.clone(), liar.url.clone()];
    let end = tokio::time::timeout(
        Duration::from_secs(20),
        follow(chain.genesis(), &urls, &options, &mut Progress::hidden()),
    )
    .await
    .expect("the lie is found before the timeout")
    .unwrap();
    let FollowEnd::Alert(Alert::BadCheckpoint { source, height, cause, message }) = &end else {
        panic!("expected a bad checkpoint, got {end:?}")
    };
    assert_eq!((source.as_str(), *height, cause.as_str()), (liar.url.as_str(), 3, "Malformed"));
    assert!(message.contains("is 300 bytes"), "{message}");
}

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/certificates");

fn fixture(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_commands_refuse_oversized_chain_ids_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = format!("{FIXTURES}/genesis.json");
    let valid = format!("{FIXTURES}/valid.json");
    let x300 = "x".repeat(300);
    let write = |name: &str, value: &Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
        path.to_str().unwrap().to_string()
    };

    // `cert verify` of a file with a 300-byte chain id, in either place: Malformed, exit 1.
    let mut outer = fixture("valid.json");
    outer["chain_id"] = json!(x300);
    let mut inner = fixture("valid.json");
    inner["checkpoint"]["header"]["chain_id"] = json!(x300);
    for (name, cert) in [("outer.json", &outer), ("inner.json", &inner)] {
        let file = write(name, cert);
        let f = keepsake::cli::verify_files(Path::new(&file), Path::new(&genesis)).unwrap_err();
        assert_eq!((f.code.as_str(), f.cannot_check), ("Malformed", false), "{name}: {}", f.message);
        assert!(f.message.contains("is 300 bytes, over the limit of 64"), "{}", f.message);
        assert_eq!(cli(&["cert", "verify", &file, "--genesis", &genesis]), ExitCode::FAILURE);
        assert_eq!(cli(&["cert", "verify", &file, "--genesis", &genesis, "--json"]), ExitCode::FAILURE);
    }
    // A genesis file with a 300-byte chain id: InvalidGenesis, "could not check"
    // (exit 2) for `cert verify`, "could not audit" (exit 2) for `audit`.
    let mut g = fixture("genesis.json");
    g["chain_id"] = json!(x300);
    let bad_genesis = write("bad-genesis.json", &g);
    let f = keepsake::cli::verify_files(Path::new(&valid), Path::new(&bad_genesis)).unwrap_err();
    assert_eq!((f.code.as_str(), f.cannot_check), ("InvalidGenesis", true));
    assert_eq!(cli(&["cert", "verify", &valid, "--genesis", &bad_genesis]), ExitCode::from(2));
    let nowhere = "http://127.0.0.1:9";
    assert_eq!(cli(&["audit", "--genesis", &bad_genesis, "--rpc", nowhere]), ExitCode::from(2));

    // A node answering `cert status`, `cert refresh` and `status` with 300-byte chain ids.
    let mut status = fixture("active-status.json");
    status["checkpoint"]["header"]["chain_id"] = json!(x300);
    let status = status.to_string();
    let certificate = json!({"certificate": inner, "revocation": null}).to_string();
    let chain_status = json!({
        "chain_id": x300, "genesis_hash": "00".repeat(32), "height": 1, "latest_hash": "00".repeat(32),
        "latest_time_ms": 1, "log_size": 0, "log_root": "00".repeat(32), "state_root": "00".repeat(32),
        "mempool_txs": 0, "validator": "00".repeat(32)
    })
    .to_string();
    let liar = LyingRpc::start(move |method: &str, _: &Value| -> LyingAnswer {
        match method {
            "keepsake_getCertificateStatus" => Ok(status.clone()),
            "keepsake_getCertificate" => Ok(certificate.clone()),
            "keepsake_status" => Ok(chain_status.clone()),
            other => Err((-32601, format!("no method {other}"))),
        }
    });
    let rpc = liar.url.as_str();
    let answer = dir.path().join("answer.json");
    let answer = answer.to_str().unwrap();
    for args in [
        vec!["cert", "status", &valid, "--genesis", &genesis, "--rpc", rpc],
        vec!["cert", "status", &valid, "--genesis", &genesis, "--rpc", rpc, "--save", answer],
        vec!["cert", "refresh", &valid, "--genesis", &genesis, "--rpc", rpc, "--out", answer],
        vec!["status", "--rpc", rpc],
    ] {
        assert_eq!(cli(&args), ExitCode::FAILURE, "{args:?}");
    }
    assert!(!Path::new(answer).exists(), "nothing is written from an answer that does not decode");
    // The same status answer saved to a file and verified offline.
    let mut saved = fixture("active-status.json");
    saved["checkpoint"]["header"]["chain_id"] = json!(x300);
    let saved = write("saved.json", &saved);
    assert_eq!(
        cli(&["cert", "status", &valid, "--genesis", &genesis, "--answer", &saved]),
        ExitCode::FAILURE
    );
}

/// A chain of the test network whose set changes: block 1 sets up, block 2
/// adds a fifth validator (in force from 4), blocks 3 to 6 are empty; every
/// block proposed and committed by the set governing its height (the ledger
/// test kit's `TestChain` signs with the genesis set only). Returns the
/// network, the blocks, and the proof of the change.
fn changing_chain() -> (TestNet, Vec<(Block, Commit)>, keepsake_types::SetTransition) {
    use keepsake_ledger::membership::validator_set_at;
    use keepsake_types::{
        CommitSignature, HexBytes, LogEntryProof, LogLeafRef, SetTransition, TxBody, Validator,
        ValidatorChange, VoteData, VoteKind, merkle,
    };
    let net = TestNet::new(4);
    let newcomer = keepsake_ledger::testkit::key(150);
    let mut keys: std::collections::BTreeMap<_, _> =
        net.validators.iter().map(|k| (k.public(), k.clone())).collect();
    keys.insert(newcomer.public(), newcomer.clone());
    let add = TxBody::ChangeValidators {
        change: ValidatorChange::Add {
            validator: Validator { public_key: newcomer.public(), power: 1, name: "Archive".into() },
        },
        nonce: 500,
    }
    .sign(net.chain(), &[&net.governors[0], &net.governors[1], &newcomer]);
    let mut state = keepsake_ledger::memory::MemoryState::new();
    let mut tip = keepsake_ledger::Tip::genesis(&net.genesis);
    let mut blocks = Vec::new();
    let contents = [net.setup_txs(), vec![add], vec![], vec![], vec![], vec![]];
    for txs in contents {
        let height = tip.height + 1;
        let set = validator_set_at(&state, &net.genesis, height).unwrap();
        let built = keepsake_ledger::build_block(
            &state,
            &net.genesis,
            &tip,
            set.validators[0].public_key,
            tip.time_ms + 1000,
            txs,
        )
        .unwrap();
        assert!(built.left_out.is_empty());
        state.commit(&built.executed).unwrap();
        let header = &built.block.header;
        let data = VoteData { height, round: 0, kind: VoteKind::Precommit, block_hash: Some(header.hash()) };
        let signatures = set
            .validators
            .iter()
            .map(|v| {
                let vote = data.clone().sign(net.chain(), &keys[&v.public_key]);
                CommitSignature { validator: vote.validator, signature: vote.signature }
            })
            .collect();
        let commit = Commit { height, round: 0, block_hash: header.hash(), signatures };
        tip = keepsake_ledger::Tip::from_header(header);
        blocks.push((built.block, commit));
    }
    let (block, commit) = &blocks[1];
    let leaf_index = block.header.log_size - 1;
    let leaf = LogLeafRef { height: 2, time_ms: block.header.time_ms, tx: &block.txs[0] }.encode();
    let proof = merkle::inclusion_proof(&state, leaf_index, block.header.log_size).unwrap();
    let transition = SetTransition {
        change: LogEntryProof { leaf_index, leaf: HexBytes(leaf), proof },
        checkpoint: keepsake_types::Checkpoint { header: block.header.clone(), commit: commit.clone() },
    };
    (net, blocks, transition)
}

/// A node serving the first `tip` blocks of `blocks`, whose
/// `keepsake_getValidatorSets` answers `sets` (raw JSON text).
fn member_node(
    net: &TestNet,
    blocks: &[(Block, Commit)],
    tip: usize,
    sets: impl Fn() -> String + Send + Sync + 'static,
) -> LyingRpc {
    let genesis = net.genesis.clone();
    let me = net.validators[0].public();
    let blocks = blocks[..tip].to_vec();
    LyingRpc::start(move |method: &str, params: &Value| -> LyingAnswer {
        let header = &blocks.last().unwrap().0.header;
        match method {
            "keepsake_getGenesis" => Ok(serde_json::to_string(&genesis).unwrap()),
            "keepsake_status" => Ok(serde_json::to_string(&ChainStatus {
                chain_id: genesis.chain_id.clone(),
                genesis_hash: genesis.hash(),
                height: header.height,
                latest_hash: header.hash(),
                latest_time_ms: header.time_ms,
                log_size: header.log_size,
                log_root: header.log_root,
                state_root: header.state_root,
                mempool_txs: 0,
                validator: me,
                peers: None,
            })
            .unwrap()),
            "keepsake_getBlock" => {
                let h = params.get(0).and_then(Value::as_u64).unwrap_or_default();
                match usize::try_from(h).ok().and_then(|h| h.checked_sub(1)).and_then(|i| blocks.get(i)) {
                    Some((block, commit)) => Ok(serde_json::to_string(&BlockResponse {
                        hash: block.header.hash(),
                        block: block.clone(),
                        commit: commit.clone(),
                    })
                    .unwrap()),
                    None => Err((4404, format!("block {h} not found"))),
                }
            }
            "keepsake_getEvidence" => Ok("[]".into()),
            "keepsake_getValidatorSets" => Ok(sets()),
            other => Err((4404, format!("method {other} not found"))),
        }
    })
}

/// `audit --follow` meets a node whose checkpoint is signed by a set it
/// does not know (the first node is still at height 1): it asks that node
/// for the proofs of its set changes and verifies them from the genesis.
/// Honest proofs let it go on; a doctored, missing, undecodable or
/// contradicting proof is reported, and the checkpoint is not believed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_learns_set_changes_from_proofs_and_reports_lying_ones() {
    let (net, blocks, transition) = changing_chain();
    let answer = |transitions: Vec<Value>| {
        json!({
            "height": 6, "sets": [], "transitions": transitions,
            "governance": {"governors": [], "threshold": 1, "since_height": null}, "observers": []
        })
        .to_string()
    };
    let honest_proof = serde_json::to_value(&transition).unwrap();
    let primary = member_node(&net, &blocks, 1, || "null".into());
    let options = FollowOptions { poll: Duration::from_millis(20), until_height: Some(1) };
    let run = |second: LyingRpc| {
        let urls = [primary.url.clone(), second.url.clone()];
        let genesis = net.genesis.clone();
        let options = options.clone();
        async move {
            let end = tokio::time::timeout(
                Duration::from_secs(20),
                follow(&genesis, &urls, &options, &mut Progress::hidden()),
            )
            .await
            .expect("follow ends")
            .unwrap();
            (end, second.url.clone())
        }
    };

    // Honest proofs: the checkpoint at 6 (the five-validator set) is verified.
    let proof = honest_proof.clone();
    let honest = member_node(&net, &blocks, 6, move || answer(vec![proof.clone()]));
    let (end, _) = run(honest).await;
    assert!(matches!(end, FollowEnd::Reached), "{end:?}");

    let bad_transition = |end: &FollowEnd, url: &str| match end {
        FollowEnd::Alert(Alert::BadTransition { source, cause, message }) => {
            assert_eq!(source, url);
            (cause.clone(), message.clone())
        }
        other => panic!("expected a bad transition, got {other:?}"),
    };
    // A leaf byte changed: the inclusion proof fails.
    let mut doctored = transition.clone();
    let last = doctored.change.leaf.0.len() - 1;
    doctored.change.leaf.0[last] ^= 1;
    let doctored = serde_json::to_value(&doctored).unwrap();
    let (end, url) = run(member_node(&net, &blocks, 6, move || answer(vec![doctored.clone()]))).await;
    assert_eq!(bad_transition(&end, &url).0, "InvalidTransition");
    // The change's checkpoint signed by only two of the four.
    let mut weak = transition.clone();
    weak.checkpoint.commit.signatures.truncate(2);
    let weak = serde_json::to_value(&weak).unwrap();
    let (end, url) = run(member_node(&net, &blocks, 6, move || answer(vec![weak.clone()]))).await;
    let (cause, message) = bad_transition(&end, &url);
    assert_eq!(cause, "InvalidTransition");
    assert!(message.contains("InsufficientPower") || message.contains("power"), "{message}");
    // An answer that does not decode (a 31-byte key in a proof).
    let (end, url) = run(member_node(&net, &blocks, 6, move || {
        answer(vec![json!({"change": {"leaf_index": 1, "leaf": "00", "proof": ["abcd"]}, "checkpoint": {}})])
    }))
    .await;
    assert_eq!(bad_transition(&end, &url).0, "Malformed");
    // More transitions than any chain may carry.
    let many = honest_proof.clone();
    let (end, url) = run(member_node(&net, &blocks, 6, move || answer(vec![many.clone(); 1025]))).await;
    assert_eq!(bad_transition(&end, &url).0, "TooLarge");
    // No proof at all: the checkpoint of an unknown set is refused.
    let (end, url) = run(member_node(&net, &blocks, 6, move || answer(vec![]))).await;
    let FollowEnd::Alert(Alert::BadCheckpoint { source, height, cause, .. }) = &end else {
        panic!("expected a bad checkpoint, got {end:?}")
    };
    assert_eq!((source.as_str(), *height, cause.as_str()), (url.as_str(), 6, "ValidatorSetMismatch"));
}
