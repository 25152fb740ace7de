//! The chain id: the name that binds every hash and signature to one chain.
//!
//! Rule (docs/protocol.md §2): 1 to [`CHAIN_ID_MAX_LEN`] (64) bytes, each a
//! lowercase ASCII letter, a digit or `-`. A [`ChainId`] is checked when it
//! is built ([`ChainId::new`], [`str::parse`], `TryFrom`) and when it is
//! deserialized (postcard and JSON alike), so a value that exists always
//! fits the one-byte length frame of a domain hash ([`crate::hash`]): a peer,
//! an RPC answer or a file with a longer, empty or otherwise invalid chain id
//! is refused while decoding, with an error naming the rule, never a panic
//! later while hashing.
//!
//! It encodes exactly like the `String` it wraps: postcard's length-prefixed
//! UTF-8, a JSON string.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, Result};

/// Longest chain id, in bytes. Domain hashes frame the chain id with a
/// one-byte length, so anything up to 255 would fit; the rule is stricter.
pub const CHAIN_ID_MAX_LEN: usize = 64;

/// How many characters of a refused chain id an error message quotes.
const QUOTED_CHARS_MAX: usize = 40;

/// A valid chain id (see the module docs for the rule).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainId(String);

impl ChainId {
    /// Checks `chain_id` against the rule and wraps it.
    pub fn new(chain_id: impl Into<String>) -> Result<Self> {
        let chain_id = chain_id.into();
        match broken_rule(&chain_id) {
            None => Ok(ChainId(chain_id)),
            Some(reason) => Err(Error::InvalidChainId(reason)),
        }
    }

    /// The chain id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The chain id as an owned `String`.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// `None` when `chain_id` follows the rule; otherwise what is wrong with it
/// and how to fix it, quoting at most the first few characters.
fn broken_rule(chain_id: &str) -> Option<String> {
    let len = chain_id.len();
    let problem = if chain_id.is_empty() {
        "is empty".to_string()
    } else if len > CHAIN_ID_MAX_LEN {
        format!("is {len} bytes, over the limit of {CHAIN_ID_MAX_LEN}")
    } else if let Some((at, c)) =
        chain_id.char_indices().find(|&(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        format!("has {c:?} at byte {at}")
    } else {
        return None;
    };
    let quoted: String = chain_id.chars().take(QUOTED_CHARS_MAX).collect();
    let ellipsis = if quoted.len() < len { "..." } else { "" };
    Some(format!(
        "chain id {quoted:?}{ellipsis} {problem}: a chain id is 1 to {CHAIN_ID_MAX_LEN} bytes of \
         lowercase letters, digits and '-'"
    ))
}

impl Deref for ChainId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ChainId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for ChainId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Like a `String`'s: `"keepsake-test"`, quoted.
impl fmt::Debug for ChainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::str::FromStr for ChainId {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        ChainId::new(text)
    }
}

impl TryFrom<String> for ChainId {
    type Error = Error;
    fn try_from(text: String) -> Result<Self> {
        ChainId::new(text)
    }
}

impl TryFrom<&str> for ChainId {
    type Error = Error;
    fn try_from(text: &str) -> Result<Self> {
        ChainId::new(text)
    }
}

impl From<ChainId> for String {
    fn from(id: ChainId) -> String {
        id.0
    }
}

impl PartialEq<str> for ChainId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ChainId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for ChainId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<ChainId> for str {
    fn eq(&self, other: &ChainId) -> bool {
        self == other.0
    }
}

impl PartialEq<ChainId> for &str {
    fn eq(&self, other: &ChainId) -> bool {
        *self == other.0
    }
}

impl PartialEq<ChainId> for String {
    fn eq(&self, other: &ChainId) -> bool {
        *self == other.0
    }
}

impl Serialize for ChainId {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ChainId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        /// Checks the text before copying it (postcard lends it from the input).
        struct ChainIdVisitor {
            /// postcard drops the message of a custom error: keep it for
            /// [`crate::encoding::decode`] to report.
            binary: bool,
        }
        impl ChainIdVisitor {
            fn check<E: de::Error>(&self, text: &str) -> std::result::Result<(), E> {
                match broken_rule(text) {
                    None => Ok(()),
                    Some(reason) => {
                        if self.binary {
                            crate::encoding::note_refusal(reason.clone());
                        }
                        Err(E::custom(reason))
                    }
                }
            }
        }
        impl Visitor<'_> for ChainIdVisitor {
            type Value = ChainId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a chain id (1 to {CHAIN_ID_MAX_LEN} bytes of [a-z0-9-])")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> std::result::Result<ChainId, E> {
                self.check(text)?;
                Ok(ChainId(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> std::result::Result<ChainId, E> {
                self.check(&text)?;
                Ok(ChainId(text))
            }
        }
        let binary = !deserializer.is_human_readable();
        deserializer.deserialize_str(ChainIdVisitor { binary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::{decode, encode};

    #[test]
    fn the_rule_has_exact_bounds() {
        for ok in ["a", "0", "-", "keepsake-test", &"a".repeat(CHAIN_ID_MAX_LEN)] {
            assert_eq!(ChainId::new(ok).unwrap().as_str(), ok);
        }
        for bad in [
            String::new(),
            "a".repeat(CHAIN_ID_MAX_LEN + 1),
            "a".repeat(255),
            "a".repeat(256),
            "a".repeat(300),
            "Keepsake".into(),
            "a b".into(),
            "a/b".into(),
            "caf\u{e9}".into(),
            "a\0".into(),
        ] {
            let err = ChainId::new(bad.clone()).unwrap_err();
            assert_eq!(err.code(), "InvalidChainId", "{bad:?}");
            assert!(err.to_string().contains("1 to 64 bytes"), "{err}");
        }
    }

    #[test]
    fn errors_quote_a_bounded_prefix_and_say_what_is_wrong() {
        let err = ChainId::new("x".repeat(300)).unwrap_err().to_string();
        assert!(err.contains("is 300 bytes, over the limit of 64"), "{err}");
        assert!(err.len() < 250, "the message quotes a prefix only: {err}");
        assert!(ChainId::new("").unwrap_err().to_string().contains("is empty"));
        assert!(ChainId::new("abC").unwrap_err().to_string().contains("has 'C' at byte 2"));
    }

    #[test]
    fn encodes_exactly_like_a_string() {
        let id = ChainId::new("keepsake-test").unwrap();
        assert_eq!(encode(&id), encode(&"keepsake-test".to_string()));
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"keepsake-test\"");
        assert_eq!(decode::<ChainId>(&encode(&id), 100, "chain id").unwrap(), id);
        assert_eq!(serde_json::from_str::<ChainId>("\"keepsake-test\"").unwrap(), id);
        // From a JSON value (owned strings) too.
        assert_eq!(serde_json::from_value::<ChainId>(serde_json::json!("keepsake-test")).unwrap(), id);
    }

    #[test]
    fn decoding_checks_the_rule_in_both_encodings() {
        for bad in [String::new(), "a".repeat(65), "a".repeat(300), "UPPER".into()] {
            let err = decode::<ChainId>(&encode(&bad), 1024, "chain id").unwrap_err();
            assert_eq!(err.code(), "Malformed");
            assert!(err.to_string().contains("a chain id is 1 to 64 bytes"), "{err}");
            let json = serde_json::to_string(&bad).unwrap();
            let err = serde_json::from_str::<ChainId>(&json).unwrap_err().to_string();
            assert!(err.contains("a chain id is 1 to 64 bytes"), "{err}");
            assert!(serde_json::from_value::<ChainId>(serde_json::json!(bad)).is_err());
        }
        assert!(serde_json::from_str::<ChainId>("17").is_err());
    }

    #[test]
    fn reads_like_a_str() {
        let id: ChainId = "chain-a".parse().unwrap();
        let s: &str = &id;
        assert_eq!(s, "chain-a");
        let owned = String::from("chain-a");
        assert!(id == "chain-a");
        assert!("chain-a" == id);
        assert!(id == *"chain-a");
        assert!(id == owned);
        assert!(owned == id);
        assert_eq!(format!("{id} {id:?}"), "chain-a \"chain-a\"");
        assert!(id.starts_with("chain"));
        assert_eq!(String::from(id.clone()), id.into_string());
    }
}
