//! Assembles certificates from the store: the record, both log entries (the
//! series creation and the mint, or the synthesis that made a synthesized
//! certificate) with inclusion proofs, a revealed blind box's reveal, the latest
//! checkpoint (header + commit) those proofs lead to, and the validator-set
//! transitions from genesis to that checkpoint's set; and the chain's
//! membership answer (`keepsake_getValidatorSets`): every set with the
//! change that made it, their transitions, the governance and the observers.

use jsonrpsee::types::ErrorObjectOwned;
use keepsake_ledger::{RevokedBy, SetRecord, StateView, TxLocation};
use keepsake_rpc::rpc_error;
use keepsake_rpc::types::{
    CertificateResponse, GovernanceInfo, ObserverInfo, RevocationInfo, SetChangeInfo, SetInfo,
    ValidatorSetsResponse,
};
use keepsake_store::Store;
use keepsake_types::certificate::CERTIFICATE_FORMAT;
use keepsake_types::life::draw_variants;
use keepsake_types::{
    Certificate, CertificateId, CertificateRecord, CertificateStatus, Checkpoint, Genesis, HexBytes,
    LogEntryProof, LogLeaf, SetTransition, TxBody, ValidatorSchedule, VariantRecord, encoding,
};

fn unavailable(e: impl std::fmt::Display) -> ErrorObjectOwned {
    rpc_error("StateUnavailable", e.to_string())
}

fn not_found(what: String) -> ErrorObjectOwned {
    rpc_error("NotFound", format!("{what} not found"))
}

/// The chain's validator-set records and the schedule they make, read once
/// per request (sets are only ever added for heights above the tip, so the
/// one read agrees on every height already committed).
pub struct Sets {
    records: Vec<SetRecord>,
    schedule: ValidatorSchedule,
}

/// Reads [`Sets`].
pub fn sets(store: &Store, genesis: &Genesis) -> Result<Sets, ErrorObjectOwned> {
    let records = store.validator_sets().map_err(|e| rpc_error(e.code(), e.to_string()))?;
    let schedule = keepsake_ledger::membership::schedule_of(genesis, &records);
    Ok(Sets { records, schedule })
}

/// The checkpoint at `height`: its header, and of its commit only the fewest
/// precommits that carry a quorum of the set governing it
/// ([`keepsake_types::Commit::quorum_only`]; docs/protocol.md, "Certificate").
/// Every verifier checks every precommit a checkpoint carries, so each one
/// left out is one signature fewer per certificate verified.
pub fn checkpoint(store: &Store, sets: &Sets, height: u64) -> Result<Checkpoint, ErrorObjectOwned> {
    let (header, commit) = store
        .header_and_commit(height)
        .map_err(unavailable)?
        .ok_or_else(|| not_found(format!("block {height}")))?;
    Ok(Checkpoint { header, commit: commit.quorum_only(sets.schedule.at(height)) })
}

/// The log entry at `location` with its inclusion proof. The leaf is decoded
/// within the chain's leaf bound, the same one verifiers apply.
fn entry(
    store: &Store,
    genesis: &Genesis,
    location: &TxLocation,
    log_size: u64,
) -> Result<(LogEntryProof, LogLeaf), ErrorObjectOwned> {
    let leaf = store.leaf_bytes_for(location).map_err(unavailable)?;
    let decoded: LogLeaf =
        encoding::decode(&leaf, genesis.params.log_leaf_bytes_max(), "log leaf").map_err(unavailable)?;
    let proof = store.inclusion_proof(location.leaf_index, log_size).map_err(unavailable)?;
    Ok((LogEntryProof { leaf_index: location.leaf_index, leaf: HexBytes(leaf), proof }, decoded))
}

/// The proofs of every validator-set change in force at `height`, oldest
/// first: each change's log entry, proven against the checkpoint of its own
/// block (signed by the set before it).
fn transitions(
    store: &Store,
    genesis: &Genesis,
    sets: &Sets,
    height: u64,
) -> Result<Vec<SetTransition>, ErrorObjectOwned> {
    let lerr = |e: keepsake_ledger::LedgerError| rpc_error(e.code(), e.to_string());
    let mut transitions = Vec::new();
    for set in sets.records.iter().take_while(|s| s.from_height <= height) {
        let location = store
            .tx_location(&set.change_tx)
            .map_err(lerr)?
            .ok_or_else(|| unavailable("a validator-set change's transaction is missing"))?;
        let checkpoint = checkpoint(store, sets, set.change_height)?;
        let (change, _) = entry(store, genesis, &location, checkpoint.header.log_size)?;
        transitions.push(SetTransition { change, checkpoint });
    }
    Ok(transitions)
}

/// Most observers listed by `keepsake_getValidatorSets`.
pub const OBSERVERS_LISTED_MAX: usize = 1000;

/// The chain's membership (`keepsake_getValidatorSets`): the genesis set,
/// then every set a committed change made (only those governing heights up
/// to `height`, when given), each with its change described by name; with
/// `proofs`, the transition of each; the governance in force and the
/// observers.
pub fn validator_sets(
    store: &Store,
    genesis: &Genesis,
    height: Option<u64>,
    proofs: bool,
) -> Result<ValidatorSetsResponse, ErrorObjectOwned> {
    let lerr = |e: keepsake_ledger::LedgerError| rpc_error(e.code(), e.to_string());
    let tip = store.ledger_tip(genesis).map_err(unavailable)?;
    let up_to = height.unwrap_or(u64::MAX);
    let genesis_set = genesis.validator_set();
    let mut listed = vec![SetInfo {
        from_height: 1,
        total_power: genesis_set.total_power(),
        validators: genesis_set,
        change: None,
    }];
    let chain_sets = sets(store, genesis)?;
    for record in chain_sets.records.iter().take_while(|r| r.from_height <= up_to) {
        let location = store
            .tx_location(&record.change_tx)
            .map_err(lerr)?
            .ok_or_else(|| unavailable("a validator-set change's transaction is missing"))?;
        let block = store
            .block(location.height)
            .map_err(unavailable)?
            .ok_or_else(|| unavailable("the block of a validator-set change is missing"))?;
        let change = match block.txs.into_iter().nth(location.index as usize).map(|tx| tx.body) {
            Some(TxBody::ChangeValidators { change, .. }) => change,
            _ => return Err(unavailable("a validator-set change's transaction is not a ChangeValidators")),
        };
        let before = &listed.last().expect("the genesis set is first").validators;
        let description = keepsake_audit::describe_change(&change, before);
        listed.push(SetInfo {
            from_height: record.from_height,
            total_power: record.validators.total_power(),
            validators: record.validators.clone(),
            change: Some(SetChangeInfo {
                height: record.change_height,
                leaf_index: record.change_leaf_index,
                tx_id: record.change_tx,
                change,
                description,
            }),
        });
    }
    let transitions = if proofs { transitions(store, genesis, &chain_sets, up_to)? } else { Vec::new() };
    let governance = match store.governance().map_err(lerr)? {
        Some(g) => GovernanceInfo {
            governors: g.governors,
            threshold: g.threshold,
            since_height: Some(g.since_height),
        },
        None => GovernanceInfo {
            governors: genesis.governors.clone(),
            threshold: genesis.governance_threshold,
            since_height: None,
        },
    };
    let observers = store
        .observers()
        .map_err(unavailable)?
        .into_iter()
        .take(OBSERVERS_LISTED_MAX)
        .map(|(public_key, o)| ObserverInfo {
            public_key,
            name: o.name,
            active: o.active,
            since_height: o.since_height,
            former_validator: o.former_validator,
        })
        .collect();
    Ok(ValidatorSetsResponse { height: tip.height, sets: listed, transitions, governance, observers })
}

/// The certificate `id` with proofs against the latest checkpoint.
pub fn build(
    store: &Store,
    genesis: &Genesis,
    id: &CertificateId,
) -> Result<CertificateResponse, ErrorObjectOwned> {
    let lerr = |e: keepsake_ledger::LedgerError| rpc_error(e.code(), e.to_string());
    let cert = store.certificate(id).map_err(lerr)?.ok_or_else(|| not_found(format!("certificate {id}")))?;
    let series = store
        .series(&cert.series_id)
        .map_err(lerr)?
        .ok_or_else(|| unavailable("series of a certificate missing"))?;
    // The reveal before the tip, as the revocation in `status`: a reveal
    // committed in between is then inside the checkpoint's log.
    let revealed = store.series_life(&cert.series_id).map_err(lerr)?.and_then(|l| l.revealed);
    let tip = store.ledger_tip(genesis).map_err(unavailable)?;
    let sets = sets(store, genesis)?;
    let checkpoint = checkpoint(store, &sets, tip.height)?;
    let log_size = checkpoint.header.log_size;

    let mint_loc = store
        .tx_location(&cert.tx_id)
        .map_err(lerr)?
        .ok_or_else(|| unavailable("mint transaction missing"))?;
    let series_loc = store
        .tx_location(&series.tx_id)
        .map_err(lerr)?
        .ok_or_else(|| unavailable("series transaction missing"))?;
    let (mint, mint_leaf) = entry(store, genesis, &mint_loc, log_size)?;
    let (series_entry, series_leaf) = entry(store, genesis, &series_loc, log_size)?;
    let Some(creation) = series_leaf.tx.body.series_creation() else {
        return Err(unavailable("series transaction is not a series creation"));
    };
    // A synthesized certificate lists what it burned (its synthesis' inputs).
    let synthesized_from = match &mint_leaf.tx.body {
        TxBody::Synthesize { inputs, .. } => inputs.clone(),
        _ => Vec::new(),
    };
    // A revealed blind box: the reveal's entry and the variant drawn for this edition.
    let (reveal, variant) = match (revealed, creation.terms.and_then(|t| t.blind_box.as_ref())) {
        (Some(r), Some(terms)) => {
            let location = store
                .tx_location(&r.tx_id)
                .map_err(lerr)?
                .ok_or_else(|| unavailable("reveal transaction missing"))?;
            let (reveal, _) = entry(store, genesis, &location, log_size)?;
            let chain = genesis.chain_id.as_str();
            let index = draw_variants(chain, &cert.series_id, &r.seed, &r.entropy, &terms.variants)
                .and_then(|deck| deck.get(cert.edition.wrapping_sub(1) as usize).copied())
                .ok_or_else(|| unavailable("the blind box's draw has no such edition"))?;
            let v = terms
                .variants
                .get(index as usize)
                .ok_or_else(|| unavailable("the blind box's draw gives an unknown variant"))?;
            let variant = VariantRecord { index, name: v.name.clone(), content_hash: v.content_hash };
            (Some(reveal), Some(variant))
        }
        _ => (None, None),
    };

    let record = CertificateRecord {
        series_id: cert.series_id,
        series_name: series.name.clone(),
        edition: cert.edition,
        max_supply: series.max_supply,
        holder: cert.holder,
        issuer: series.issuer,
        content_hash: series.content_hash,
        metadata_uri: series.metadata_uri.clone(),
        reviewer: creation.approval.reviewer,
        height: mint_leaf.height,
        time_ms: mint_leaf.time_ms,
        mint_tx: cert.tx_id,
        synthesized_from,
        variant,
    };
    let certificate = Certificate {
        format: CERTIFICATE_FORMAT.to_string(),
        chain_id: genesis.chain_id.clone(),
        certificate_id: *id,
        record,
        mint,
        series: series_entry,
        transitions: transitions(store, genesis, &sets, checkpoint.header.height)?,
        checkpoint,
        previous: None,
        reveal,
    };
    let revocation = store.revocation(id).map_err(lerr)?.map(|r| RevocationInfo {
        reason: r.reason,
        by: match r.by {
            RevokedBy::Issuer => "issuer".into(),
            RevokedBy::Governance => "governance".into(),
        },
        tx_id: r.tx_id,
        leaf_index: r.leaf_index,
        height: r.height,
    });
    let burn = crate::life_info::burn_info(store, id).map_err(lerr)?;
    Ok(CertificateResponse { certificate, revocation, burn })
}

/// The status of certificate `id` at the latest checkpoint: a revocation,
/// and a burn (the synthesis that burned it), come with their log entries
/// and inclusion proofs, so the answer can be checked offline
/// ([`CertificateStatus::verify`]).
pub fn status(
    store: &Store,
    genesis: &Genesis,
    id: &CertificateId,
) -> Result<CertificateStatus, ErrorObjectOwned> {
    let lerr = |e: keepsake_ledger::LedgerError| rpc_error(e.code(), e.to_string());
    if store.certificate(id).map_err(lerr)?.is_none() {
        return Err(not_found(format!("certificate {id}")));
    }
    // The revocation first, then the tip: a revocation committed in between
    // is then inside the checkpoint's log (the other order could ask for a
    // proof past the tip).
    let revocation = store.revocation(id).map_err(lerr)?;
    let burn = store.burn(id).map_err(lerr)?;
    let tip = store.ledger_tip(genesis).map_err(unavailable)?;
    let sets = sets(store, genesis)?;
    let checkpoint = checkpoint(store, &sets, tip.height)?;
    let revocation = match revocation {
        None => None,
        Some(r) => {
            let location = store
                .tx_location(&r.tx_id)
                .map_err(lerr)?
                .ok_or_else(|| unavailable("revocation transaction missing"))?;
            Some(entry(store, genesis, &location, checkpoint.header.log_size)?.0)
        }
    };
    let burn = match burn {
        None => None,
        Some(b) => {
            let location = store
                .tx_location(&b.tx_id)
                .map_err(lerr)?
                .ok_or_else(|| unavailable("synthesis transaction missing"))?;
            Some(entry(store, genesis, &location, checkpoint.header.log_size)?.0)
        }
    };
    let transitions = transitions(store, genesis, &sets, checkpoint.header.height)?;
    Ok(CertificateStatus { certificate_id: *id, checkpoint, transitions, revocation, burn })
}
