//! Blocks and commits from block sync (`SyncItem`, `driver.rs`), from the
//! store and from an audited node (`audit/src/replay.rs`): `Block`, `Header`,
//! `Commit`, `SyncItem`, `Checkpoint`. Whatever decodes is then hashed and
//! verified as a receiver does (`exercise_block`: `Header::hash`,
//! `Commit::verify` against the golden validator set, transaction ids and
//! signatures): decoding must never hand out a value that panics later (a
//! 300-byte chain id once did, in `Header::hash`).
#![no_main]

use keepsake_fuzz::{check_decoder, exercise_block, limit_and_bytes};
use keepsake_types::encoding::decode;
use keepsake_types::wire::SyncItem;
use keepsake_types::{Block, Checkpoint, Commit, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (max_len, bytes) = limit_and_bytes(data);
    check_decoder::<SyncItem>(bytes, max_len);
    check_decoder::<Block>(bytes, max_len);
    check_decoder::<Header>(bytes, max_len);
    check_decoder::<Commit>(bytes, max_len);
    check_decoder::<Checkpoint>(bytes, max_len);
    // Decode, then hash and verify.
    if let Ok(item) = decode::<SyncItem>(data, usize::MAX, "fuzz") {
        exercise_block(&item.block, &item.commit);
    }
    if let Ok(c) = decode::<Checkpoint>(data, usize::MAX, "fuzz") {
        exercise_block(&Block { header: c.header, txs: Vec::new() }, &c.commit);
    }
    if let Ok(header) = decode::<Header>(data, usize::MAX, "fuzz") {
        let _ = header.hash();
    }
});
