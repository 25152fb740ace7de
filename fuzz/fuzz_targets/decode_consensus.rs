//! Consensus gossip (`ConsensusEnvelope`, `driver.rs`) and equivocation
//! evidence (`DoubleVote`, store and auditor): `ConsensusEnvelope`,
//! `ConsensusMessage`, `Proposal`, `Vote`, `DoubleVote`; then what decodes
//! is verified as the receiver does (signatures, the proposed block's hash).
#![no_main]

use keepsake_fuzz::{check_decoder, limit_and_bytes};
use keepsake_types::wire::{ConsensusEnvelope, ConsensusMessage};
use keepsake_types::{DoubleVote, Proposal, Vote};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (max_len, bytes) = limit_and_bytes(data);
    check_decoder::<ConsensusEnvelope>(bytes, max_len);
    check_decoder::<ConsensusMessage>(bytes, max_len);
    check_decoder::<Proposal>(bytes, max_len);
    check_decoder::<Vote>(bytes, max_len);
    check_decoder::<DoubleVote>(bytes, max_len);
    // Decoded messages are verified next by the receiver: that must not panic either.
    if let Ok(envelope) = keepsake_types::encoding::decode::<ConsensusEnvelope>(bytes, usize::MAX, "fuzz") {
        match &envelope.message {
            ConsensusMessage::Proposal(p) => {
                let _ = p.verify("keepsake-test");
                let _ = p.verify(&p.block.header.chain_id);
                let commit = keepsake_types::Commit {
                    height: p.data.height,
                    round: p.data.round,
                    block_hash: p.data.block_hash,
                    signatures: Vec::new(),
                };
                keepsake_fuzz::exercise_block(&p.block, &commit);
            }
            ConsensusMessage::Vote(v) => {
                let _ = v.verify("keepsake-test");
            }
        }
    }
    if let Ok(evidence) = keepsake_types::encoding::decode::<DoubleVote>(bytes, usize::MAX, "fuzz") {
        let genesis = keepsake_fuzz::golden_genesis();
        let _ = evidence.verify(&genesis.chain_id, &genesis.validator_set());
    }
});
