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

/// Encodes `value` canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("postcard serialisation into a Vec cannot fail for our types")
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
