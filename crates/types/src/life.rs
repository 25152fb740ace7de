//! The collectible's life without resale: issuer licences, synthesis recipes
//! and blind boxes (docs/collectible-life.md; the fairness argument of the
//! blind-box draw is docs/blind-boxes.md).
//!
//! Everything here is data carried by transactions and the pure functions
//! every verifier must compute identically: the seed commitment of a blind
//! box and the draw that assigns each edition its variant.

use serde::{Deserialize, Serialize};

use crate::encoding::encode;
use crate::hash::{Hash32, domain_hash, tag};
use crate::ids::{ContentHash, SeriesId};

/// Most recipes one series declares.
pub const RECIPES_MAX: usize = 8;
/// Most distinct input series in one recipe.
pub const RECIPE_SERIES_MAX: usize = 8;
/// Most certificates one synthesis burns.
pub const SYNTHESIS_INPUTS_MAX: usize = 16;
/// Most variants of one blind box.
pub const VARIANTS_MAX: usize = 16;
/// Largest blind box, in editions (the draw shuffles all of them).
pub const BLIND_BOX_EDITIONS_MAX: u32 = 10_000;
/// Longest variant name, licence kind or licence number, in bytes.
pub const LIFE_TEXT_MAX_BYTES: usize = 64;

/// An issuer's qualification, as governance attests it (WeChat's and the
/// regulators' "qualification certificate" of a collectible platform).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Licence {
    /// What kind of licence (e.g. "ICP", "网络文化经营许可证").
    pub kind: String,
    /// Its number, as issued by the authority.
    pub number: String,
    /// The last instant it is in force, in ms since the Unix epoch (compared with block time).
    pub valid_until_ms: u64,
}

/// What a series declares at creation, beyond the fields of a plain series,
/// and what its reviewer approves together with them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesTerms {
    /// Ways to obtain an edition of this series by burning certificates.
    pub recipes: Vec<Recipe>,
    /// Set for a blind box: the variants and the issuer's seed commitment.
    pub blind_box: Option<BlindBoxTerms>,
}

/// One recipe: burn exactly these certificates (by series and count) into
/// one edition of the series that declares it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The inputs, each series at most once.
    pub inputs: Vec<RecipeInput>,
}

/// `count` certificates of `series_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeInput {
    /// The input series (of the same issuer).
    pub series_id: SeriesId,
    /// How many of its certificates (at least 1).
    pub count: u32,
}

impl Recipe {
    /// How many certificates the recipe burns (saturating; bounded by the rules).
    pub fn total_inputs(&self) -> u64 {
        self.inputs.iter().map(|i| u64::from(i.count)).sum()
    }
}

/// A blind box: editions are sold without knowing their variant; after the
/// sale closes the issuer reveals the seed and the chain draws the variants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlindBoxTerms {
    /// The designs, in order (a variant's index is its position), with how many of each.
    pub variants: Vec<BoxVariant>,
    /// [`seed_commitment`] of the issuer's secret seed.
    pub seed_commitment: Hash32,
}

/// One design of a blind box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxVariant {
    /// Its name ("hidden edition", "gold", ...).
    pub name: String,
    /// SHA-256 of its artwork.
    pub content_hash: ContentHash,
    /// How many editions carry it (the counts sum to the series' `max_supply`).
    pub count: u32,
}

/// `domain_hash("keepsake/box-seed/v1", chain_id, seed)`: what a blind box
/// publishes at creation in place of its seed.
pub fn seed_commitment(chain_id: &str, seed: &Hash32) -> Hash32 {
    domain_hash(tag::BOX_SEED, chain_id, seed.as_bytes())
}

/// The draw of a revealed blind box: for each edition `e` (1-based), the
/// index of its variant, at position `e - 1`. docs/protocol.md ("The
/// blind-box draw") specifies it byte for byte:
///
/// 1. the deck lists variant 0 `count` times, then variant 1, ... (length
///    `n` = the sum of the counts);
/// 2. a stream of 64-bit words: block `k` (k = 0, 1, ...) is
///    `domain_hash("keepsake/box-draw/v1", chain_id, encode((series_id, seed, entropy, k)))`,
///    read as four big-endian u64;
/// 3. Fisher–Yates from the end: for `i = n-1` down to `1`, draw words until
///    one is below `2^64 - (2^64 mod (i+1))`, let `j = word mod (i+1)`,
///    and swap positions `i` and `j`.
///
/// Returns `None` when the counts do not fit (sum over
/// [`BLIND_BOX_EDITIONS_MAX`]); the rules refuse such terms at creation.
pub fn draw_variants(
    chain_id: &str,
    series_id: &SeriesId,
    seed: &Hash32,
    entropy: &Hash32,
    variants: &[BoxVariant],
) -> Option<Vec<u32>> {
    let total: u64 = variants.iter().map(|v| u64::from(v.count)).sum();
    if total > u64::from(BLIND_BOX_EDITIONS_MAX) {
        return None;
    }
    let mut deck: Vec<u32> = Vec::with_capacity(total as usize);
    for (index, v) in variants.iter().enumerate() {
        deck.extend(std::iter::repeat_n(index as u32, v.count as usize));
    }
    let mut words = DrawStream::new(chain_id, series_id, seed, entropy);
    for i in (1..deck.len()).rev() {
        let bound = (i + 1) as u64;
        // 2^64 mod bound: words at or above 2^64 - rem would bias the draw.
        let rem = (u64::MAX % bound + 1) % bound;
        let j = loop {
            let w = words.next_word();
            if rem == 0 || w < 0u64.wrapping_sub(rem) {
                break (w % bound) as usize;
            }
        };
        deck.swap(i, j);
    }
    Some(deck)
}

/// The 64-bit words of the draw (see [`draw_variants`]).
struct DrawStream<'a> {
    chain_id: &'a str,
    preimage: (SeriesId, Hash32, Hash32),
    block: u64,
    words: [u64; 4],
    used: usize,
}

impl<'a> DrawStream<'a> {
    fn new(chain_id: &'a str, series_id: &SeriesId, seed: &Hash32, entropy: &Hash32) -> Self {
        Self { chain_id, preimage: (*series_id, *seed, *entropy), block: 0, words: [0; 4], used: 4 }
    }

    fn next_word(&mut self) -> u64 {
        if self.used == 4 {
            let (series, seed, entropy) = &self.preimage;
            let h = domain_hash(tag::BOX_DRAW, self.chain_id, &encode(&(series, seed, entropy, self.block)));
            for (k, word) in self.words.iter_mut().enumerate() {
                let bytes: [u8; 8] = h.0[8 * k..8 * k + 8].try_into().expect("8 of 32 bytes");
                *word = u64::from_be_bytes(bytes);
            }
            self.block += 1;
            self.used = 0;
        }
        self.used += 1;
        self.words[self.used - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants(counts: &[u32]) -> Vec<BoxVariant> {
        counts
            .iter()
            .enumerate()
            .map(|(i, &count)| BoxVariant {
                name: format!("v{i}"),
                content_hash: ContentHash([i as u8; 32]),
                count,
            })
            .collect()
    }

    #[test]
    fn the_draw_is_a_permutation_of_the_declared_counts() {
        let vs = variants(&[1, 9, 90]);
        let deck = draw_variants("c", &SeriesId([1; 32]), &Hash32([2; 32]), &Hash32([3; 32]), &vs).unwrap();
        assert_eq!(deck.len(), 100);
        for (i, v) in vs.iter().enumerate() {
            assert_eq!(deck.iter().filter(|&&d| d == i as u32).count(), v.count as usize);
        }
        // Deterministic, and it depends on every input.
        let again = draw_variants("c", &SeriesId([1; 32]), &Hash32([2; 32]), &Hash32([3; 32]), &vs).unwrap();
        assert_eq!(deck, again);
        for other in [
            draw_variants("d", &SeriesId([1; 32]), &Hash32([2; 32]), &Hash32([3; 32]), &vs),
            draw_variants("c", &SeriesId([9; 32]), &Hash32([2; 32]), &Hash32([3; 32]), &vs),
            draw_variants("c", &SeriesId([1; 32]), &Hash32([9; 32]), &Hash32([3; 32]), &vs),
            draw_variants("c", &SeriesId([1; 32]), &Hash32([2; 32]), &Hash32([9; 32]), &vs),
        ] {
            assert_ne!(other.unwrap(), deck);
        }
    }

    #[test]
    fn the_draw_is_pinned() {
        // Pinned: verify.js, the SDKs and auditors recompute this draw.
        let deck =
            draw_variants("c", &SeriesId([1; 32]), &Hash32([2; 32]), &Hash32([3; 32]), &variants(&[2, 3, 5]))
                .unwrap();
        assert_eq!(deck, PINNED_DRAW);
    }

    // Cross-checked with an independent Python transcription of docs/protocol.md.
    const PINNED_DRAW: [u32; 10] = [1, 0, 0, 1, 2, 2, 1, 2, 2, 2];

    #[test]
    fn oversized_boxes_are_not_drawn() {
        let vs = variants(&[BLIND_BOX_EDITIONS_MAX, 1]);
        assert!(draw_variants("c", &SeriesId([1; 32]), &Hash32([2; 32]), &Hash32([3; 32]), &vs).is_none());
    }
}
