//! Messages between peers. Encoded with the canonical encoding; receivers
//! decode with a size limit first, then verify every signature inside.

use serde::{Deserialize, Serialize};

use crate::block::{Block, Commit, Proposal, Vote};
use crate::encoding::{self, decode_prefix};
use crate::tx::SignedTx;
use crate::{Error, Result};

/// Most transactions in one gossiped batch (a payload of the transaction
/// topic, `keepsake/{chain}/txs/v2`). A `submitTxs` call of the drop's
/// front ends carries 500; coalesced calls fill a batch up to this. 1,000
/// mints are ~300 KB, far under the default 8 MiB gossip message.
pub const TX_BATCH_TXS_MAX: usize = 1_000;

/// What a batch is called in decoding errors.
const TX_BATCH: &str = "transaction batch";

/// What travels on the consensus gossip topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConsensusMessage {
    /// A signed proposal with its block (boxed: a block is far larger than a
    /// vote; the encoding is the same as unboxed).
    Proposal(Box<Proposal>),
    /// A signed prevote or precommit.
    Vote(Vote),
}

impl ConsensusMessage {
    /// The height the message is about.
    pub fn height(&self) -> u64 {
        match self {
            ConsensusMessage::Proposal(p) => p.data.height,
            ConsensusMessage::Vote(v) => v.data.height,
        }
    }
}

/// One item of a block-sync response: a block and the commit that finalised it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncItem {
    /// The block.
    pub block: Block,
    /// Its commit.
    pub commit: Commit,
}

/// What travels on the consensus gossip topic: a message and a resend
/// counter. Gossip message ids are the hash of the bytes, so an identical
/// re-publication would be dropped as a duplicate; a validator that makes no
/// progress re-publishes its own latest messages with `resend` increased, so
/// that peers which missed them (a restart, a healed partition) get them.
/// Receivers ignore `resend`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusEnvelope {
    /// How many times this message was published before (0 the first time).
    pub resend: u32,
    /// The message.
    pub message: ConsensusMessage,
}

/// Packs transactions, each already in its canonical encoding, into payloads
/// of the transaction gossip topic, in order. A payload is the canonical
/// encoding of a `Vec<SignedTx>`: `varint(count) ‖ tx ‖ tx …`, with
/// `1..=max_txs` transactions and at most `max_bytes` bytes. A transaction
/// that does not fit even alone gets a payload of its own (over `max_bytes`:
/// the publisher refuses it, as it refused such a transaction before
/// batching). Packing copies each transaction's bytes once.
pub fn pack_tx_batches<B: AsRef<[u8]>>(encoded: &[B], max_bytes: usize, max_txs: usize) -> Vec<Vec<u8>> {
    let max_txs = max_txs.max(1);
    let mut payloads = Vec::new();
    let mut start = 0;
    while start < encoded.len() {
        // The longest run from `start` that fits, at least one transaction.
        let mut end = start;
        let mut body = 0usize;
        while end < encoded.len() && end - start < max_txs {
            let len = encoded[end].as_ref().len();
            let count = end - start + 1;
            if end > start && varint_len(count as u64) + body + len > max_bytes {
                break;
            }
            body += len;
            end += 1;
        }
        let count = end - start;
        let mut payload = Vec::with_capacity(varint_len(count as u64) + body);
        payload.extend_from_slice(&encoding::encode(&(count as u64)));
        for tx in &encoded[start..end] {
            payload.extend_from_slice(tx.as_ref());
        }
        payloads.push(payload);
        start = end;
    }
    payloads
}

/// Decodes a payload of the transaction gossip topic (see
/// [`pack_tx_batches`]). Refuses, before allocating anything: more than
/// `max_bytes` bytes (`TooLarge`), a count of zero or over `max_txs`, or more
/// transactions announced than there are bytes left (`Malformed`); then
/// decodes each transaction within `tx_bytes_max` bytes, and refuses trailing
/// bytes. All or nothing: bytes that do not frame are garbage from whoever
/// sent them, and the transactions inside are not guessed at. Whether each
/// decoded transaction is *valid* is for admission to judge, one by one.
pub fn decode_tx_batch(
    bytes: &[u8],
    max_bytes: usize,
    max_txs: usize,
    tx_bytes_max: usize,
) -> Result<Vec<SignedTx>> {
    if bytes.len() > max_bytes {
        return Err(Error::TooLarge { what: TX_BATCH, len: bytes.len(), max: max_bytes });
    }
    let malformed = |reason: String| Error::Malformed { what: TX_BATCH, reason };
    let (count, mut at) = decode_prefix::<u64>(bytes, 10, TX_BATCH)?;
    let rest = bytes.len() - at;
    if count == 0 {
        return Err(malformed("an empty batch".into()));
    }
    if count > max_txs as u64 {
        return Err(malformed(format!("{count} transactions, over the limit of {max_txs}")));
    }
    // Every transaction takes at least one byte: a count beyond the bytes left is a lie.
    if count > rest as u64 {
        return Err(malformed(format!("{count} transactions announced in {rest} bytes")));
    }
    let mut txs = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let (tx, used) = decode_prefix::<SignedTx>(&bytes[at..], tx_bytes_max, "transaction")
            .map_err(|e| malformed(format!("transaction {}: {e}", txs.len())))?;
        txs.push(tx);
        at += used;
    }
    if at != bytes.len() {
        return Err(malformed(format!("{} trailing bytes", bytes.len() - at)));
    }
    Ok(txs)
}

/// Bytes of the varint encoding of `n` (§1 of docs/protocol.md).
fn varint_len(n: u64) -> usize {
    let bits = 64 - n.max(1).leading_zeros() as usize;
    bits.div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;
    use crate::tx::TxBody;

    const CHAIN: &str = "keepsake-test";

    fn tx(n: u64) -> SignedTx {
        let governor = Keypair::from_seed([7; 32]);
        TxBody::RegisterIssuer { issuer: governor.public(), name: format!("issuer {n:04}"), nonce: n }
            .sign(CHAIN, &[&governor])
    }

    fn encoded(n: usize) -> Vec<Vec<u8>> {
        (0..n as u64).map(|i| encoding::encode(&tx(i))).collect()
    }

    #[test]
    fn a_packed_batch_is_the_canonical_encoding_of_its_transactions() {
        let txs: Vec<SignedTx> = (0..130).map(tx).collect();
        let bytes: Vec<Vec<u8>> = txs.iter().map(encoding::encode).collect();
        let payloads = pack_tx_batches(&bytes, 1 << 20, TX_BATCH_TXS_MAX);
        assert_eq!(payloads, vec![encoding::encode(&txs)]);
        // 130 needs a two-byte count (80 01 ... for 128 and up).
        assert_eq!(&payloads[0][..2], &[0x82, 0x01]);
        assert_eq!(decode_tx_batch(&payloads[0], 1 << 20, TX_BATCH_TXS_MAX, 4096).unwrap(), txs);
    }

    #[test]
    fn packing_splits_by_count_and_by_bytes_and_keeps_the_order() {
        let bytes = encoded(25);
        let by_count = pack_tx_batches(&bytes, 1 << 20, 10);
        assert_eq!(by_count.len(), 3);
        let one = bytes[0].len();
        // Room for exactly 4 transactions (all have the same length here) and a one-byte count.
        let by_bytes = pack_tx_batches(&bytes, 1 + 4 * one, 1000);
        assert_eq!(by_bytes.len(), 7);
        for payloads in [by_count, by_bytes] {
            let mut all = Vec::new();
            for p in &payloads {
                assert!(p.len() <= 1 + 10 * one);
                let txs = decode_tx_batch(p, 1 << 20, 10, 4096).unwrap();
                all.extend(txs.iter().map(encoding::encode));
            }
            assert_eq!(all, bytes);
        }
        // A transaction too large for any payload travels alone (and its publication fails).
        let alone = pack_tx_batches(&bytes[..3], one - 1, 1000);
        assert_eq!(alone.len(), 3);
        assert!(pack_tx_batches::<Vec<u8>>(&[], 1000, 1000).is_empty());
    }

    #[test]
    fn decoding_refuses_what_breaks_a_limit_before_allocating() {
        let payload = pack_tx_batches(&encoded(5), 1 << 20, 1000).remove(0);
        let code = |r: Result<Vec<SignedTx>>| r.unwrap_err().code();
        // Too many bytes: refused from the length alone.
        assert_eq!(code(decode_tx_batch(&payload, payload.len() - 1, 1000, 4096)), "TooLarge");
        // Too many transactions: refused from the count.
        assert_eq!(code(decode_tx_batch(&payload, 1 << 20, 4, 4096)), "Malformed");
        // A huge announced count in a few bytes: refused before any allocation.
        let mut lie = encoding::encode(&(u64::MAX));
        lie.extend_from_slice(&payload[1..]);
        assert_eq!(code(decode_tx_batch(&lie, 1 << 20, usize::MAX, 4096)), "Malformed");
        let mut lie = encoding::encode(&1000u64);
        lie.extend_from_slice(&[0; 10]);
        assert_eq!(code(decode_tx_batch(&lie, 1 << 20, 1000, 4096)), "Malformed");
        // An empty batch, and no bytes at all.
        assert_eq!(code(decode_tx_batch(&[0], 1 << 20, 1000, 4096)), "Malformed");
        assert_eq!(code(decode_tx_batch(&[], 1 << 20, 1000, 4096)), "Malformed");
        // A transaction over its own limit.
        assert_eq!(code(decode_tx_batch(&payload, 1 << 20, 1000, 16)), "Malformed");
    }

    #[test]
    fn truncated_or_trailing_bytes_are_malformed() {
        let payload = pack_tx_batches(&encoded(3), 1 << 20, 1000).remove(0);
        for cut in [1, 2, payload.len() / 2, payload.len() - 1] {
            let r = decode_tx_batch(&payload[..cut], 1 << 20, 1000, 4096);
            assert_eq!(r.unwrap_err().code(), "Malformed", "cut at {cut}");
        }
        let mut trailing = payload.clone();
        trailing.push(0);
        let e = decode_tx_batch(&trailing, 1 << 20, 1000, 4096).unwrap_err();
        assert!(e.to_string().contains("1 trailing bytes"), "{e}");
        // A count smaller than the transactions that follow leaves them trailing.
        let mut short = payload.clone();
        short[0] = 2;
        assert_eq!(decode_tx_batch(&short, 1 << 20, 1000, 4096).unwrap_err().code(), "Malformed");
    }

    proptest::proptest! {
        /// Bytes from a peer: a valid batch with bytes changed, cut or added decodes to
        /// transactions that hash and verify (whatever the verdict), or to `Malformed`/`TooLarge`;
        /// never a panic, never more than the limits.
        #[test]
        fn mutated_batches_decode_within_the_limits_or_are_refused(
            n in 1usize..6,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..6),
            cut in proptest::prelude::any::<usize>(),
            extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
        ) {
            let mut bytes = pack_tx_batches(&encoded(n), 1 << 20, 1000).remove(0);
            for (at, value) in edits {
                let i = at % bytes.len();
                bytes[i] = value;
            }
            bytes.truncate(bytes.len() - cut % (bytes.len() / 4 + 1));
            bytes.extend_from_slice(&extra);
            match decode_tx_batch(&bytes, 1 << 20, 8, 4096) {
                Ok(txs) => {
                    proptest::prop_assert!((1..=8).contains(&txs.len()));
                    for tx in &txs {
                        let _ = tx.id(CHAIN);
                        let _ = tx.verify_signatures(CHAIN);
                    }
                }
                Err(e) => proptest::prop_assert!(matches!(e.code(), "Malformed" | "TooLarge"), "{e}"),
            }
        }
    }

    #[test]
    fn varint_lengths_match_the_encoding() {
        for n in [0u64, 1, 127, 128, 1000, 16_383, 16_384, u64::MAX] {
            assert_eq!(varint_len(n), encoding::encode(&n).len(), "{n}");
        }
    }
}
