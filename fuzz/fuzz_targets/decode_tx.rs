//! Transactions from peers (gossip, `driver.rs`), log leaves of certificates
//! (`decode_canonical`) and stored transactions: `SignedTx`, `TxBody`, `LogLeaf`.
#![no_main]

use keepsake_fuzz::{check_decoder, limit_and_bytes};
use keepsake_types::{LogLeaf, SignedTx, TxBody};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (max_len, bytes) = limit_and_bytes(data);
    check_decoder::<SignedTx>(bytes, max_len);
    check_decoder::<TxBody>(bytes, max_len);
    check_decoder::<LogLeaf>(bytes, max_len);
    // The whole input under no limit too: the limit must never change a verdict below it.
    check_decoder::<SignedTx>(data, usize::MAX);
});
