//! Consensus gossip (`ConsensusEnvelope`, `driver.rs`) and equivocation
//! evidence (`DoubleVote`, store and auditor): `ConsensusEnvelope`,
//! `ConsensusMessage`, `Proposal`, `Vote`, `DoubleVote`.
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
            }
            ConsensusMessage::Vote(v) => {
                let _ = v.verify("keepsake-test");
            }
        }
    }
});
