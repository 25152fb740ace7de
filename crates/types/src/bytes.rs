//! Fixed-size byte strings (hashes, keys, signatures) with one serde rule:
//! lowercase hex in human-readable formats (JSON, TOML), raw bytes with no
//! length prefix in the canonical binary encoding (postcard).

/// Declares a newtype over `[u8; N]` with hex `Display`/`FromStr`/`Debug` and
/// the dual serde representation described in the module docs.
#[macro_export]
macro_rules! fixed_bytes {
    ($(#[$meta:meta])* $name:ident, $len:expr) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Length in bytes.
            pub const LEN: usize = $len;

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// Lowercase hex, no prefix.
            pub fn to_hex(&self) -> String {
                $crate::bytes::to_hex(&self.0)
            }

            /// Parses exactly `2 * LEN` hex digits (an optional `0x` prefix is accepted).
            pub fn from_hex(text: &str) -> Result<Self, $crate::Error> {
                $crate::bytes::parse_hex::<$len>(text, stringify!($name)).map(Self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::Error;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::from_hex(text)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $crate::bytes::serialize_fixed(&self.0, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                $crate::bytes::deserialize_fixed::<D, $len>(deserializer, stringify!($name)).map(Self)
            }
        }
    };
}

use serde::de::{Error as _, SeqAccess, Visitor};
use serde::ser::SerializeTuple;

/// Parses `N` bytes of hex, with a precise error naming the expected type.
pub fn parse_hex<const N: usize>(text: &str, what: &'static str) -> Result<[u8; N], crate::Error> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    if digits.len() != 2 * N {
        return Err(crate::Error::Hex {
            what,
            reason: format!("expected {} hex digits, got {}", 2 * N, digits.len()),
        });
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(digits, &mut out).map_err(|e| crate::Error::Hex { what, reason: e.to_string() })?;
    Ok(out)
}

/// Longest fixed byte string [`serialize_fixed`] writes as hex without a
/// heap allocation (signatures, the longest, are 64 bytes).
const FIXED_HEX_STACK_MAX: usize = 64;

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex digits into `out` (exactly twice as long).
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    debug_assert_eq!(out.len(), 2 * bytes.len());
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Lowercase hex, no prefix (what `hex::encode` writes, without its
/// character-at-a-time iterator: ids and keys are written in every RPC answer).
pub fn to_hex(bytes: &[u8]) -> String {
    let mut out = vec![0u8; 2 * bytes.len()];
    hex_into(bytes, &mut out);
    String::from_utf8(out).expect("hex digits are ASCII")
}

#[doc(hidden)]
pub fn serialize_fixed<S: serde::Serializer, const N: usize>(
    bytes: &[u8; N],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    if serializer.is_human_readable() {
        // On the stack: ids, keys and signatures are written in every RPC answer.
        let mut digits = [0u8; 2 * FIXED_HEX_STACK_MAX];
        match digits.get_mut(..2 * N) {
            Some(out) => {
                hex_into(bytes, out);
                serializer.serialize_str(std::str::from_utf8(out).expect("hex digits are ASCII"))
            }
            None => serializer.serialize_str(&to_hex(bytes)),
        }
    } else {
        // A tuple has no length prefix in postcard: exactly N bytes on the wire.
        let mut tuple = serializer.serialize_tuple(N)?;
        for byte in bytes {
            tuple.serialize_element(byte)?;
        }
        tuple.end()
    }
}

#[doc(hidden)]
pub fn deserialize_fixed<'de, D: serde::Deserializer<'de>, const N: usize>(
    deserializer: D,
    what: &'static str,
) -> Result<[u8; N], D::Error> {
    if deserializer.is_human_readable() {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        parse_hex::<N>(&text, what).map_err(D::Error::custom)
    } else {
        struct TupleVisitor<const N: usize>;
        impl<'de, const N: usize> Visitor<'de> for TupleVisitor<N> {
            type Value = [u8; N];
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{N} bytes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = [0u8; N];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                Ok(out)
            }
        }
        deserializer.deserialize_tuple(N, TupleVisitor::<N>)
    }
}

/// Variable-length bytes: hex in JSON, length-prefixed bytes in postcard.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct HexBytes(pub Vec<u8>);

impl std::fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HexBytes({})", to_hex(&self.0))
    }
}

impl serde::Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&to_hex(&self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> serde::Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
            let digits = text.strip_prefix("0x").unwrap_or(&text);
            hex::decode(digits).map(HexBytes).map_err(|e| D::Error::custom(format!("invalid hex bytes: {e}")))
        } else {
            struct BytesVisitor;
            impl<'de> Visitor<'de> for BytesVisitor {
                type Value = Vec<u8>;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                    Ok(v.to_vec())
                }
                fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
                    Ok(v.to_vec())
                }
            }
            deserializer.deserialize_bytes(BytesVisitor).map(HexBytes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hex written is `hex::encode`'s, for every byte value, at every
    /// length, on the stack or not.
    #[test]
    fn hex_is_lowercase_and_matches_the_hex_crate() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(to_hex(&all), hex::encode(&all));
        for len in 0..=70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(to_hex(&bytes), hex::encode(&bytes));
        }
        fn json<const N: usize>(bytes: [u8; N]) -> String {
            let mut out = Vec::new();
            serialize_fixed(&bytes, &mut serde_json::Serializer::new(&mut out)).unwrap();
            String::from_utf8(out).unwrap()
        }
        let sig: [u8; 64] = std::array::from_fn(|i| (255 - i) as u8);
        assert_eq!(json(sig), format!("\"{}\"", hex::encode(sig)));
        let long: [u8; 65] = std::array::from_fn(|i| i as u8);
        assert_eq!(json(long), format!("\"{}\"", hex::encode(long)), "past the stack buffer");
        assert_eq!(json([0xabu8; 32]), format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(format!("{:?}", HexBytes(vec![0, 0xff])), "HexBytes(00ff)");
    }
}
