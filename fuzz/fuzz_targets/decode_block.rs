//! Blocks and commits from block sync (`SyncItem`, `driver.rs`), from the
//! store and from an audited node (`audit/src/replay.rs`): `Block`, `Header`,
//! `Commit`, `SyncItem`.
#![no_main]

use keepsake_fuzz::{check_decoder, limit_and_bytes};
use keepsake_types::wire::SyncItem;
use keepsake_types::{Block, Commit, Header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (max_len, bytes) = limit_and_bytes(data);
    check_decoder::<SyncItem>(bytes, max_len);
    check_decoder::<Block>(bytes, max_len);
    check_decoder::<Header>(bytes, max_len);
    check_decoder::<Commit>(bytes, max_len);
});
