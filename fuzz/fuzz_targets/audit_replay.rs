//! `keepsake audit` on hostile sources, as far as the auditor goes: the raw
//! records of a data directory (`Auditor::feed_raw`: a block and a commit,
//! decoded within the genesis' bounds) and a node's JSON-RPC answers
//! (`keepsake_getBlock`'s `{hash, block, commit}`, `keepsake_getGenesis`,
//! `keepsake_getEvidence`), each decoded, then replayed by an `Auditor` of
//! the golden genesis: commit verification, the independent checks and the
//! ledger's block validation. Never a panic; and a block passes only with a
//! commit of the golden validators.
#![no_main]

use keepsake_audit::{Auditor, Flow};
use keepsake_fuzz::{exercise_block, golden_genesis};
use keepsake_types::{Block, BlockHash, Commit, DoubleVote, Genesis};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;

/// `keepsake_rpc::types::BlockResponse`, field for field.
#[derive(Deserialize)]
struct BlockResponse {
    #[allow(dead_code)]
    hash: BlockHash,
    block: Block,
    commit: Commit,
}

fuzz_target!(|data: &[u8]| {
    let genesis = golden_genesis();
    // A data directory's records: the first two bytes say where the block ends.
    if let [a, b, rest @ ..] = data {
        let split = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
        let (block, commit) = rest.split_at(split);
        let mut auditor = Auditor::new(genesis.clone());
        let flow = auditor.feed_raw(1, Some(block), Some(commit));
        assert!(flow == Flow::Stopped || auditor.height() == 1);
        let _ = auditor.report();
    }
    // A node's answers.
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(answer) = serde_json::from_str::<BlockResponse>(text) {
        exercise_block(&answer.block, &answer.commit);
        let mut auditor = Auditor::new(genesis.clone());
        if auditor.feed(&answer.block, &answer.commit) == Flow::Continue {
            let quorum = answer.commit.verify(&answer.block.header, &genesis.validator_set());
            assert!(quorum.is_ok(), "a block without a quorum passed the audit: {:?}", answer.block.header);
        }
        let _ = auditor.report();
    }
    if let Ok(theirs) = serde_json::from_str::<Genesis>(text) {
        let _ = theirs.hash();
        let _ = theirs.validate();
    }
    if let Ok(evidence) = serde_json::from_str::<Vec<DoubleVote>>(text) {
        let mut auditor = Auditor::new(genesis.clone());
        evidence.iter().for_each(|e| auditor.check_evidence(e));
        let _ = auditor.report();
    }
});
