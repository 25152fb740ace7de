//! The canonical binary encoding: postcard 1.x (a public, stable wire spec)
//! over the serde derives of this crate. Everything hashed, signed or sent
//! between peers uses it; docs/protocol.md spells out the bytes.
//!
//! Decoding is strict: the input length is bounded *before* any allocation,
//! values with a rule of their own ([`crate::ChainId`]) are checked as they
//! are decoded, trailing bytes are an error, and [`decode_canonical`]
//! additionally requires that re-encoding gives back the very same bytes (so
//! two different byte strings never decode to one object). Decoding never
//! panics: whatever the bytes, the answer is a value or `Malformed`/`TooLarge`.

use std::cell::RefCell;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

thread_local! {
    /// The rule broken by the last value a deserializer of this crate refused
    /// on this thread (a [`crate::ChainId`], say). postcard replaces the
    /// message of such a custom error by a generic "Serde Deserialization
    /// Error"; [`decode`] reports this one instead.
    static REFUSAL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Records why a value is refused while decoding (see [`REFUSAL`]).
pub(crate) fn note_refusal(reason: String) {
    REFUSAL.with(|r| *r.borrow_mut() = Some(reason));
}

fn take_refusal() -> Option<String> {
    REFUSAL.with(|r| r.borrow_mut().take())
}

/// Bytes [`encode`] reserves before it writes: most encoded values (keys,
/// records, headers) fit, so the buffer does not grow 8, 16, 32... one
/// reallocation at a time.
const ENCODE_CAPACITY: usize = 128;

/// Encodes `value` canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    encode_onto(value, Vec::with_capacity(ENCODE_CAPACITY))
}

/// Appends the canonical encoding of `value` to `out` and returns it. postcard
/// writes a struct's fields one after the other with nothing around them, so
/// encoding a struct's fields in order onto one buffer gives the struct's
/// encoding (what [`crate::SignedTx::encode_with_body_len`] relies on).
pub fn encode_onto<T: Serialize + ?Sized>(value: &T, out: Vec<u8>) -> Vec<u8> {
    postcard::serialize_with_flavor(value, Onto(out))
        .expect("postcard serialisation into a Vec cannot fail for our types")
}

/// Bytes [`encode_to_sink`] gathers before it hands them on.
const SINK_PIECE: usize = 4096;

/// Hands the canonical encoding of `value` to `sink`, in order, in pieces of
/// at most 4 KiB (one larger piece for a single long run of bytes), without
/// building the whole encoding: for hashing a large value (a block's state
/// delta) with no buffer of its size.
pub fn encode_to_sink<T: Serialize + ?Sized>(value: &T, sink: &mut dyn FnMut(&[u8])) {
    postcard::serialize_with_flavor(value, Sink { sink, piece: Vec::with_capacity(SINK_PIECE) })
        .expect("postcard serialisation into a sink cannot fail for our types")
}

/// The postcard output of [`encode_to_sink`].
struct Sink<'s> {
    sink: &'s mut dyn FnMut(&[u8]),
    piece: Vec<u8>,
}

impl Sink<'_> {
    fn flush(&mut self) {
        if !self.piece.is_empty() {
            (self.sink)(&self.piece);
            self.piece.clear();
        }
    }
}

impl postcard::ser_flavors::Flavor for Sink<'_> {
    type Output = ();

    #[inline(always)]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.piece.len() + data.len() > SINK_PIECE {
            self.flush();
            if data.len() >= SINK_PIECE {
                (self.sink)(data);
                return Ok(());
            }
        }
        self.piece.extend_from_slice(data);
        Ok(())
    }

    #[inline(always)]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.piece.len() == SINK_PIECE {
            self.flush();
        }
        self.piece.push(data);
        Ok(())
    }

    fn finalize(mut self) -> postcard::Result<()> {
        self.flush();
        Ok(())
    }
}

/// A postcard output that appends to a given `Vec` (postcard's own `AllocVec`
/// always starts empty, with no capacity).
struct Onto(Vec<u8>);

impl postcard::ser_flavors::Flavor for Onto {
    type Output = Vec<u8>;

    #[inline(always)]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    #[inline(always)]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<Vec<u8>> {
        Ok(self.0)
    }
}

/// Decodes `bytes` as a `T`, refusing inputs over `max_len` bytes and trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max_len: usize, what: &'static str) -> Result<T> {
    if bytes.len() > max_len {
        return Err(Error::TooLarge { what, len: bytes.len(), max: max_len });
    }
    take_refusal();
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| {
        let refusal = if e == postcard::Error::SerdeDeCustom { take_refusal() } else { None };
        Error::Malformed { what, reason: refusal.unwrap_or_else(|| e.to_string()) }
    })?;
    if !rest.is_empty() {
        return Err(Error::Malformed { what, reason: format!("{} trailing bytes", rest.len()) });
    }
    Ok(value)
}

/// Decodes a `T` from the start of `bytes` (at most `max_len` of them are
/// looked at) and returns it with the number of bytes it took: for values
/// stored back to back, such as one transaction inside an encoded block.
pub fn decode_prefix<T: DeserializeOwned>(
    bytes: &[u8],
    max_len: usize,
    what: &'static str,
) -> Result<(T, usize)> {
    let window = &bytes[..bytes.len().min(max_len)];
    take_refusal();
    let (value, rest) = postcard::take_from_bytes::<T>(window).map_err(|e| {
        let refusal = if e == postcard::Error::SerdeDeCustom { take_refusal() } else { None };
        Error::Malformed { what, reason: refusal.unwrap_or_else(|| e.to_string()) }
    })?;
    Ok((value, window.len() - rest.len()))
}

/// Like [`decode`], and also rejects any non-canonical encoding (for example an
/// over-long varint): `encode(decode(bytes)) == bytes`.
pub fn decode_canonical<T: DeserializeOwned + Serialize>(
    bytes: &[u8],
    max_len: usize,
    what: &'static str,
) -> Result<T> {
    let value: T = decode(bytes, max_len, what)?;
    if encode(&value) != bytes {
        return Err(Error::Malformed { what, reason: "not the canonical encoding".into() });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_gets_the_encoding_in_order_in_bounded_pieces() {
        // Short values, many small writes across piece boundaries, and one run longer than a piece.
        let long: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let values: Vec<(Vec<u32>, Vec<u8>, String)> = vec![
            (vec![], vec![], String::new()),
            // Runs ending exactly at a piece's end: the string's bytes fill the first piece
            // to 4096 (2 for the vectors' lengths, 2 for the string's varint length).
            (vec![], vec![], "z".repeat(SINK_PIECE - 4)),
            (vec![], vec![], "z".repeat(SINK_PIECE)),
            ((0..3000).collect(), vec![1, 2, 3], "x".repeat(5000)),
            (vec![u32::MAX; 10], long, "y".into()),
        ];
        for value in &values {
            let mut got = Vec::new();
            let mut largest = 0;
            encode_to_sink(value, &mut |piece: &[u8]| {
                largest = largest.max(piece.len());
                got.extend_from_slice(piece);
            });
            assert_eq!(got, encode(value));
            assert!(largest <= SINK_PIECE.max(10_000), "a piece of {largest} bytes");
        }
    }
}
