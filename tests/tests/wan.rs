//! Four organisations across a WAN: each validator is a separate host (a
//! `keepsake start` process in a Linux network namespace of its own), and
//! every byte between organisations goes through a relay that delays it by
//! 25-50 ms one way, with jitter (`crates/wan`). Under a steady mint load,
//! one organisation's link is cut (`ip link set DEV down`, a real partition)
//! and restored: the other three keep finalising, the cut one catches up; a
//! fifth organisation joins as an observer and becomes a validator, one
//! leaves (and keeps following), one rotates its key; and in the end every
//! node holds the same chain, every acknowledged mint is committed and every
//! certificate verifies offline against the genesis alone, across the three
//! validator-set transitions.
//!
//! Needs root, `ip` (iproute2) and the release binary
//! (`cargo build --release -p keepsake`, or `KEEPSAKE_BIN=path`). Without
//! them it says it is skipped; with `KEEPSAKE_NETNS_TESTS=1` (set by
//! `.ci/run`) their absence is a failure.
//!
//! The scenario is a list of steps ([`scenario`]); the membership changes
//! are [`validator_set_changes`].

use std::path::PathBuf;
use std::time::{Duration, Instant};

use keepsake::config::NodeConfig;
use keepsake_rpc::KeepsakeApiClient;
use keepsake_rpc::types::TxStatus;
use keepsake_tests::{LoadReport, MintLoad, register_and_create_series};
use keepsake_types::membership::SET_CHANGE_DELAY;
use keepsake_types::{Keypair, SeriesId, TxBody, Validator, ValidatorChange, ids};
use keepsake_wan::{Role, Wan, WanSpec, netns_available};

/// Validators (organisations) of the genesis.
const VALIDATORS: usize = 4;
/// Mints per second of the background load.
const LOAD_PER_SECOND: u32 = 30;
/// The organisation whose link is cut.
const CUT: usize = 3;
/// How long the cut lasts at least (it also lasts until the others have
/// finalised blocks and a mint without it).
const CUT_AT_LEAST: Duration = Duration::from_secs(4);
/// Bound of every wait on the chain.
const WAIT: Duration = Duration::from_secs(60);

/// The `keepsake` binary: `KEEPSAKE_BIN`, else `target/release/keepsake`.
fn keepsake_bin() -> Result<PathBuf, String> {
    let bin = match std::env::var_os("KEEPSAKE_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/keepsake"),
    };
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!("no keepsake binary at {} (cargo build --release -p keepsake)", bin.display()))
    }
}

/// The binary, if namespaces can be made here; `None` (skipped, with the
/// reason) unless `KEEPSAKE_NETNS_TESTS` is set, which makes it a failure.
fn prerequisites() -> Option<PathBuf> {
    let ready = netns_available().map_err(|e| format!("{e:#}")).and_then(|()| keepsake_bin());
    match ready {
        Ok(bin) => Some(bin),
        Err(why) if std::env::var_os("KEEPSAKE_NETNS_TESTS").is_none() => {
            eprintln!(
                "SKIPPED the WAN test: {why}. It needs root, iproute2 and the release binary; \
                 .ci/run provides them and sets KEEPSAKE_NETNS_TESTS=1."
            );
            None
        }
        Err(why) => panic!("KEEPSAKE_NETNS_TESTS is set but {why}"),
    }
}

/// Consensus timeouts for a WAN of 25-50 ms one way (a round trip and a
/// half, plus relaying, fits well inside each step), and blocks that fill
/// for 20 ms.
fn wan_timeouts(config: &mut NodeConfig) {
    config.consensus.timeout_propose_ms = 2000;
    config.consensus.timeout_prevote_ms = 500;
    config.consensus.timeout_precommit_ms = 500;
    config.consensus.timeout_delta_ms = 250;
    config.consensus.empty_block_wait_ms = 300;
    config.block.batch_wait_ms = 20;
}

fn spec(bin: PathBuf) -> WanSpec {
    WanSpec {
        bin,
        validators: VALIDATORS,
        // A fifth organisation, and room for a key rotation later.
        spare_keys: 2,
        chain_id: "keepsake-wan".into(),
        one_way: Duration::from_millis(25),
        spread: Duration::from_millis(25),
        jitter: Duration::from_millis(5),
        seed: u64::from(std::process::id()),
        tweak: wan_timeouts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_organisations_across_a_wan_survive_a_partition_without_fork_or_loss() {
    let Some(bin) = prerequisites() else { return };
    let dir = tempfile::tempdir().unwrap();
    let result = match Wan::start(dir.path(), spec(bin)).await {
        Ok(mut wan) => scenario(&mut wan).await.map_err(|e| {
            // Name the first node that died, if one did, with the end of its log.
            let dead = wan.check_alive().err().map(|d| format!("\n{d:#}")).unwrap_or_default();
            anyhow::anyhow!("{e:#}{dead}")
        }),
        Err(e) => Err(e.context("starting the WAN")),
    };
    if let Err(e) = result {
        // Keep the homes: each node's log is HOME/node.log.
        let kept = dir.keep();
        panic!("{e:#}\n(homes and node logs kept in {})", kept.display());
    }
}

/// The scenario, step by step (each step waits on events with a bound).
async fn scenario(wan: &mut Wan) -> anyhow::Result<()> {
    wan.wait_height(&all_validators(), 1, WAIT).await?;
    let series = setup(wan).await?;
    // The series is committed on node 0; the load mints through every
    // validator, so each must have committed it too (across the WAN a
    // node may apply the block a round trip later).
    let created = wan.client(0).status().await.map_err(keepsake::rpc_client::describe)?.height;
    wan.wait_height(&all_validators(), created, WAIT).await?;
    let validators = all_validators();
    let load = MintLoad::start(
        wan.genesis.chain_id.as_str(),
        &wan.issuer,
        series,
        targets(wan, &validators),
        LOAD_PER_SECOND,
    );
    steady(wan, &load, &validators).await?;
    only_the_relay_connects_hosts(wan)?;
    partition_and_heal(wan, &load).await?;
    let observer = fifth_organisation_joins_as_observer(wan, &load).await?;
    validator_set_changes(wan, &load, observer).await?;
    let report = load.stop().await;
    check_the_end(wan, series, &report).await
}

fn all_validators() -> Vec<usize> {
    (0..VALIDATORS).collect()
}

fn targets(wan: &Wan, which: &[usize]) -> Vec<(usize, jsonrpsee::http_client::HttpClient)> {
    which.iter().map(|&k| (k, wan.client(k))).collect()
}

/// Governance (2 of 3) registers the issuer and reviewer; the issuer creates the series.
async fn setup(wan: &Wan) -> anyhow::Result<SeriesId> {
    let gov = [&wan.governors[0], &wan.governors[1]];
    Ok(register_and_create_series(
        &wan.client(0),
        wan.genesis.chain_id.as_str(),
        &gov,
        &wan.issuer,
        &wan.reviewer,
        "across the WAN",
        1_000_000,
    )
    .await)
}

/// Waits until a mint acknowledged from now on (by node `via`, if given)
/// is committed on every node in `on`: the load is flowing and the chain
/// finalises it. Returns the highest committing height seen.
async fn a_new_mint_commits(
    wan: &mut Wan,
    load: &MintLoad,
    via: Option<usize>,
    on: &[usize],
) -> anyhow::Result<u64> {
    let before = load.acked();
    let deadline = Instant::now() + WAIT;
    let mint = loop {
        if let Some(m) = load.acked_since(before).into_iter().find(|m| via.is_none_or(|v| m.via == v)) {
            break m;
        }
        anyhow::ensure!(Instant::now() < deadline, "no mint acknowledged (via {via:?}) within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut height = 0;
    for &k in on {
        height = height.max(wait_committed(wan, k, &mint.id).await?);
    }
    Ok(height)
}

/// Polls node `k` until `id` is committed there (bounded); returns the height.
async fn wait_committed(wan: &mut Wan, k: usize, id: &keepsake_types::TxId) -> anyhow::Result<u64> {
    let client = wan.client(k);
    let deadline = Instant::now() + WAIT;
    loop {
        wan.check_alive()?;
        match client.get_tx_status(*id).await {
            Ok(TxStatus::Committed { height, .. }) => return Ok(height),
            Ok(TxStatus::Rejected { error }) => anyhow::bail!("node {k} rejected {id}: {error:?}"),
            _ if Instant::now() > deadline => anyhow::bail!("{id} not committed on node {k} within {WAIT:?}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Step 1: the load flows and every validator finalises its mints.
async fn steady(wan: &mut Wan, load: &MintLoad, validators: &[usize]) -> anyhow::Result<()> {
    for &k in validators {
        a_new_mint_commits(wan, load, Some(k), validators).await?;
    }
    Ok(())
}

/// The delayed path is the only path: every pair of organisations exchanged
/// bytes through the relay, no host can open a TCP connection to another
/// host's libp2p port, and a host can reach its relay addresses (the probe works).
fn only_the_relay_connects_hosts(wan: &Wan) -> anyhow::Result<()> {
    for i in 0..VALIDATORS {
        for j in 0..VALIDATORS {
            if i == j {
                continue;
            }
            if i < j {
                let bytes = wan.relayed_bytes(i, j);
                anyhow::ensure!(bytes > 0, "no byte went through the relay between hosts {i} and {j}");
            }
            anyhow::ensure!(
                !wan.direct_connects(i, j)?,
                "host {i} connected straight to host {j}'s libp2p port {}, around the relay",
                wan.hosts()[j].p2p
            );
        }
    }
    anyhow::ensure!(wan.relay_connects(0, 1)?, "the TCP probe cannot reach the relay: it proves nothing");
    Ok(())
}

/// Step 2: organisation [`CUT`]'s link goes down. The other three keep
/// finalising mints, without its precommits; once the link is back, the cut
/// one catches up, finalises new mints again (one it acknowledged itself
/// among them) and votes again.
async fn partition_and_heal(wan: &mut Wan, load: &MintLoad) -> anyhow::Result<()> {
    let others: Vec<usize> = all_validators().into_iter().filter(|&k| k != CUT).collect();
    load.set_targets(targets(wan, &others));
    wan.cut(CUT)?;
    let cut_at = Instant::now();
    anyhow::ensure!(wan.client(CUT).status().await.is_err(), "node {CUT} still answers with its link down");
    let start = max_height(wan, &others).await?;
    // The three finalise on their own (3 of 4 is a quorum): new mints and new heights.
    a_new_mint_commits(wan, load, None, &others).await?;
    wan.wait_height(&others, start + 3, WAIT).await?;
    tokio::time::sleep(CUT_AT_LEAST.saturating_sub(cut_at.elapsed())).await;
    let reached = max_height(wan, &others).await?;
    // Decided without it: no commit from two heights after the cut on carries its precommit
    // (it may have precommitted the height in progress before its link went down).
    let cut_key = wan.hosts()[CUT].key;
    let client = wan.client(others[0]);
    for h in start + 2..=reached {
        let commit = client.get_block(h).await.map_err(keepsake::rpc_client::describe)?.commit;
        anyhow::ensure!(
            commit.signatures.iter().all(|s| s.validator != cut_key),
            "block {h}, decided while node {CUT} was cut off, carries its precommit"
        );
    }
    wan.restore(CUT)?;
    wan.wait_height(&[CUT], reached, WAIT).await?;
    load.set_targets(targets(wan, &all_validators()));
    // Back in: a mint the healed node acknowledged itself commits everywhere, and so do others'.
    a_new_mint_commits(wan, load, Some(CUT), &all_validators()).await?;
    a_new_mint_commits(wan, load, None, &all_validators()).await?;
    // And it votes again: a commit after the heal carries its precommit.
    let deadline = Instant::now() + WAIT;
    let mut h = reached + 1;
    loop {
        wan.wait_height(&[others[0]], h, WAIT).await?;
        let commit = client.get_block(h).await.map_err(keepsake::rpc_client::describe)?.commit;
        if commit.signatures.iter().any(|s| s.validator == cut_key) {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "node {CUT} signed no commit within {WAIT:?} of the heal");
        h += 1;
    }
    Ok(())
}

async fn max_height(wan: &Wan, which: &[usize]) -> anyhow::Result<u64> {
    let mut h = 0;
    for &k in which {
        h = h.max(wan.client(k).status().await.map_err(keepsake::rpc_client::describe)?.height);
    }
    Ok(h)
}

/// Step 3: a fifth organisation joins (a new namespace host, a node with
/// a key every node allows) as an observer: it syncs the chain through the
/// relay and serves it.
async fn fifth_organisation_joins_as_observer(wan: &mut Wan, load: &MintLoad) -> anyhow::Result<usize> {
    let k = wan.add_host(Role::Observer).await?;
    let height = max_height(wan, &all_validators()).await?;
    wan.wait_height(&[k], height, WAIT).await?;
    a_new_mint_commits(wan, load, None, &[k]).await?;
    anyhow::ensure!(wan.relayed_bytes(k, 0) > 0, "the newcomer synced without the relay");
    Ok(k)
}

/// Step 4: the consortium changes while the load runs, each change by a
/// governance transaction through a node, across the WAN:
///
/// 1. the observer `newcomer` becomes a validator (the governors and its own
///    key sign) and votes from the height the change governs, without a restart;
/// 2. organisation 2 leaves: it stops voting and keeps following;
/// 3. organisation 1 rotates its key: the governors and the new key sign;
///    once the change is in force its node restarts with the new key.
///
/// Each step ends with a commit signed by the set it made and a mint
/// committed everywhere; [`check_the_end`] then verifies every certificate
/// against the genesis alone, across the three transitions.
async fn validator_set_changes(wan: &mut Wan, load: &MintLoad, newcomer: usize) -> anyhow::Result<()> {
    const LEAVING: usize = 2;
    const ROTATING: usize = 1;
    let everyone: Vec<usize> = (0..wan.hosts().len()).collect();

    // 1. The observer becomes a validator.
    let key = keepsake::keyfile::read(&wan.hosts()[newcomer].home.join("keys/validator.json"))?;
    let add = ValidatorChange::Add {
        validator: Validator { public_key: key.public(), power: 1, name: wan.hosts()[newcomer].name.clone() },
    };
    let at = change(wan, add, Some(&key), 9001).await?;
    signed_from(wan, &key.public(), at + SET_CHANGE_DELAY).await?;
    load.set_targets(targets(wan, &[0, 1, 2, 3, newcomer]));
    a_new_mint_commits(wan, load, Some(newcomer), &everyone).await?;

    // 2. Organisation 2 leaves; it keeps following as an observer.
    let leaving = wan.hosts()[LEAVING].key;
    let at = change(wan, ValidatorChange::Remove { public_key: leaving }, None, 9002).await?;
    let from = at + SET_CHANGE_DELAY;
    wan.wait_height(&everyone, from, WAIT).await?;
    let h = a_new_mint_commits(wan, load, None, &everyone).await?;
    for height in from..=h {
        let commit = wan.client(0).get_block(height).await.map_err(keepsake::rpc_client::describe)?.commit;
        anyhow::ensure!(
            commit.signatures.iter().all(|s| s.validator != leaving),
            "the removed organisation signed the commit of height {height}"
        );
    }

    // 3. Organisation 1 rotates its key and restarts with it once the change is in force.
    let new_key = wan.take_spare_key().ok_or_else(|| anyhow::anyhow!("no spare key for the rotation"))?;
    let rotate = ValidatorChange::RotateKey { old_key: wan.hosts()[ROTATING].key, new_key: new_key.public() };
    let at = change(wan, rotate, Some(&new_key), 9003).await?;
    let from = at + SET_CHANGE_DELAY;
    wan.wait_height(&[0], from, WAIT).await?;
    load.set_targets(targets(wan, &[0, 2, 3, newcomer]));
    wan.stop_host(ROTATING);
    let key_file = wan.hosts()[ROTATING].home.join("keys/validator.json");
    std::fs::remove_file(&key_file)?;
    keepsake::keyfile::write(&key_file, &new_key)?;
    wan.start_host(ROTATING)?;
    wan.wait_rpc(&[ROTATING], WAIT).await?;
    signed_from(wan, &new_key.public(), from).await?;
    load.set_targets(targets(wan, &[0, 1, 2, 3, newcomer]));
    a_new_mint_commits(wan, load, Some(ROTATING), &everyone).await?;
    Ok(())
}

/// Submits a validator-set change (2 of 3 governors, plus `new_key`) through
/// node 0 and waits for its commit; returns the committing height.
async fn change(
    wan: &mut Wan,
    change: ValidatorChange,
    new_key: Option<&Keypair>,
    nonce: u64,
) -> anyhow::Result<u64> {
    let mut signers = vec![&wan.governors[0], &wan.governors[1]];
    signers.extend(new_key);
    let tx = TxBody::ChangeValidators { change, nonce }.sign(wan.genesis.chain_id.as_str(), &signers);
    let id = wan.client(0).submit_tx(tx).await.map_err(keepsake::rpc_client::describe)?;
    wait_committed(wan, 0, &id).await
}

/// Waits until a commit at or above `from` (read from node 0) carries `key`'s signature.
async fn signed_from(wan: &mut Wan, key: &keepsake_types::PublicKey, from: u64) -> anyhow::Result<u64> {
    let deadline = Instant::now() + WAIT;
    let mut next = from;
    loop {
        wan.check_alive()?;
        let client = wan.client(0);
        let tip = client.status().await.map_err(keepsake::rpc_client::describe)?.height;
        while next <= tip {
            let block = client.get_block(next).await.map_err(keepsake::rpc_client::describe)?;
            if block.commit.signatures.iter().any(|s| &s.validator == key) {
                return Ok(next);
            }
            next += 1;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no commit from height {from} on carries {key}'s signature"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The end: every acknowledged mint committed, the same block at every
/// height on every node, and every certificate verified offline against the
/// genesis alone.
async fn check_the_end(wan: &mut Wan, series: SeriesId, report: &LoadReport) -> anyhow::Result<()> {
    anyhow::ensure!(report.refused.is_empty(), "nodes refused mints: {:?}", report.refused);
    anyhow::ensure!(!report.acked.is_empty(), "no mint was acknowledged");
    let everyone: Vec<usize> = (0..wan.hosts().len()).collect();
    let mut top = 0;
    for m in &report.acked {
        top = top.max(wait_committed(wan, 0, &m.id).await?);
    }
    wan.wait_height(&everyone, top, WAIT).await?;
    let clients: Vec<_> = everyone.iter().map(|&k| wan.client(k)).collect();
    for h in 1..=top {
        let first = clients[0].get_block(h).await.map_err(keepsake::rpc_client::describe)?.hash;
        for (k, c) in clients.iter().enumerate().skip(1) {
            let hash = c.get_block(h).await.map_err(keepsake::rpc_client::describe)?.hash;
            anyhow::ensure!(
                hash == first,
                "fork: node {k} has block {hash} at height {h}, node 0 has {first}"
            );
        }
    }
    let chain = wan.genesis.chain_id.as_str();
    for (n, m) in report.acked.iter().enumerate() {
        let client = &clients[n % clients.len()];
        let status = client.get_tx_status(m.id).await.map_err(keepsake::rpc_client::describe)?;
        anyhow::ensure!(
            matches!(status, TxStatus::Committed { .. }),
            "mint {} ({}): {status:?}",
            m.edition,
            m.id
        );
        let id = ids::certificate_id(chain, &series, m.edition);
        let cert = client.get_certificate(id).await.map_err(keepsake::rpc_client::describe)?.certificate;
        let verified = cert
            .verify(&wan.genesis)
            .map_err(|e| anyhow::anyhow!("certificate of edition {} does not verify: {e}", m.edition))?;
        anyhow::ensure!(verified.signed_power * 3 > verified.total_power * 2, "{verified:?}");
        anyhow::ensure!(
            verified.set_changes == 3,
            "edition {}: {} set changes followed",
            m.edition,
            verified.set_changes
        );
    }
    let relayed: u64 = wan.relay().links().map(|(_, s)| s.bytes()).sum();
    eprintln!(
        "WAN test: {} mints acknowledged and committed ({} unanswered while a node was cut, {} ticks \
         skipped), {top} blocks identical on {} nodes, {relayed} bytes through the relay",
        report.acked.len(),
        report.unanswered,
        report.skipped,
        everyone.len()
    );
    Ok(())
}
