//! The canonical binary encoding: postcard 1.x (a public, stable wire spec)
//! over the serde derives of this crate. Everything hashed, signed or sent
//! between peers uses it; docs/protocol.md spells out the bytes.
//!
//! Decoding is strict: the input length is bounded *before* any allocation,
//! trailing bytes are an error, and [`decode_canonical`] additionally requires
//! that re-encoding gives back the very same bytes (so two different byte
//! strings never decode to one object).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Result};

/// Encodes `value` canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("postcard serialisation into a Vec cannot fail for our types")
}

/// Decodes `bytes` as a `T`, refusing inputs over `max_len` bytes and trailing bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], max_len: usize, what: &'static str) -> Result<T> {
    if bytes.len() > max_len {
        return Err(Error::TooLarge { what, len: bytes.len(), max: max_len });
    }
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|e| Error::Malformed { what, reason: e.to_string() })?;
    if !rest.is_empty() {
        return Err(Error::Malformed { what, reason: format!("{} trailing bytes", rest.len()) });
    }
    Ok(value)
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
