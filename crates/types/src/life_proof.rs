//! The offline checks of the collectible's life without resale, as
//! certificates and status answers carry it (docs/protocol.md §7.2b and
//! §7.2a):
//!
//! - a synthesized certificate: its `mint` entry is the `Synthesize` that
//!   made it, `record.synthesized_from` lists exactly the certificates it
//!   burned, and its recipe is one the series declared (inside the reviewed
//!   terms);
//! - a blind-box edition: after the reveal, the certificate carries the
//!   `RevealBlindBox` entry and `record.variant`, which must be the variant
//!   the draw gives this edition; before it, no variant;
//! - a burned certificate: the status answer carries the `Synthesize` entry
//!   that burned it.
//!
//! What is not visible offline is vouched for by the quorum that signed the
//! checkpoint, as for governance revocations: the reveal's entropy (rule T51:
//! the log root just after the close; `keepsake audit` re-derives it) and that
//! the synthesis' inputs were of the recipe's series (T41).

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::block::Checkpoint;
use crate::certificate::{CertificateRecord, LogEntryProof, VerifiedCertificate, mismatch};
use crate::ed25519::Signatures;
use crate::ids::{self, CertificateId, ContentHash, TxId};
use std::sync::Arc;

use crate::encoding::encode;
use crate::hash::Hash32;
use crate::ids::SeriesId;
use crate::life::{BlindBoxTerms, BoxVariant, SeriesTerms, draw_variants, seed_commitment};
use crate::tx::TxBody;

/// The variant a blind-box edition was drawn (`record.variant`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantRecord {
    /// Its index among the box's variants.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// SHA-256 of its artwork.
    pub content_hash: ContentHash,
}

/// A verified reveal of a blind box.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedReveal {
    /// Height of the revealing block.
    pub height: u64,
    /// Its time (ms since the Unix epoch).
    pub time_ms: u64,
    /// The reveal transaction.
    pub tx_id: TxId,
    /// Its position in the log.
    pub leaf_index: u64,
}

/// What verification establishes about a blind-box edition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedBlindBox {
    /// `None`: the box is not yet revealed (the edition has no variant yet);
    /// `Some`: revealed, and `record.variant` is the variant drawn.
    pub reveal: Option<VerifiedReveal>,
}

/// A verified burn: the synthesis that burned a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedBurn {
    /// The certificate it was burned into (the synthesis' output).
    pub into: CertificateId,
    /// Height of the burning block.
    pub height: u64,
    /// Its time (ms since the Unix epoch).
    pub time_ms: u64,
    /// The synthesis transaction.
    pub tx_id: TxId,
    /// Its position in the log.
    pub leaf_index: u64,
}

/// A synthesized certificate (rule T40): the recipe its `Synthesize` names
/// is one of the series' terms, which the reviewer approved.
pub(crate) fn check_recipe(terms: Option<&SeriesTerms>, recipe: u32) -> Result<()> {
    let recipes = terms.map_or(0, |t| t.recipes.len());
    if recipe as usize >= recipes {
        return Err(mismatch(
            "mint.recipe",
            format!("the synthesis names recipe {recipe}, the series declares {recipes} recipes"),
        ));
    }
    Ok(())
}

/// Draws already computed by a [`crate::CertificateVerifier`], keyed by
/// [`draw_key`] (a draw is a pure function of its inputs: remembering it is
/// safe whatever the verdict of the certificate that needed it).
pub(crate) type Draws = std::collections::HashMap<Hash32, Arc<Vec<u32>>>;

/// Most draws a [`crate::CertificateVerifier`] remembers (each at most
/// [`crate::life::BLIND_BOX_EDITIONS_MAX`] entries).
pub(crate) const DRAWS_KEPT_MAX: usize = 64;

/// The draws known before a certificate, and the one it computed.
#[derive(Default)]
pub(crate) struct DrawMemo<'a> {
    /// What the verifier remembers (`None`: a single verification).
    pub known: Option<&'a Draws>,
    /// A draw computed now, to remember.
    pub new: Option<(Hash32, Arc<Vec<u32>>)>,
}

impl DrawMemo<'_> {
    fn draw(
        &mut self,
        chain: &str,
        series_id: &SeriesId,
        seed: &Hash32,
        entropy: &Hash32,
        variants: &[BoxVariant],
    ) -> Option<Arc<Vec<u32>>> {
        let key = self.known.map(|_| draw_key(chain, series_id, seed, entropy, variants));
        if let Some(deck) = self.known.zip(key.as_ref()).and_then(|(k, key)| k.get(key)) {
            return Some(Arc::clone(deck));
        }
        let deck = Arc::new(draw_variants(chain, series_id, seed, entropy, variants)?);
        if let Some(key) = key {
            self.new = Some((key, Arc::clone(&deck)));
        }
        Some(deck)
    }
}

/// The memo key of a draw: the hash of its exact inputs.
fn draw_key(
    chain: &str,
    series_id: &SeriesId,
    seed: &Hash32,
    entropy: &Hash32,
    variants: &[BoxVariant],
) -> Hash32 {
    crate::hash::sha256(&encode(&(chain, series_id, seed, entropy, variants)))
}

/// The blind-box part of a certificate, in order: a plain series carries
/// neither reveal nor variant; an unrevealed box no variant; a reveal is a
/// `RevealBlindBox` entry of the checkpoint's log, of this series, logged
/// after the mint, whose seed matches the reviewed commitment, signed by
/// the issuer; and the record's variant is the one the draw gives the edition.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_blind_box(
    chain: &str,
    terms: Option<&BlindBoxTerms>,
    record: &CertificateRecord,
    reveal: Option<&LogEntryProof>,
    checkpoint: &Checkpoint,
    mint_leaf_index: u64,
    leaf_max: usize,
    signatures: &mut Signatures<'_>,
    draws: &mut DrawMemo<'_>,
) -> Result<Option<VerifiedBlindBox>> {
    let Some(terms) = terms else {
        if reveal.is_some() {
            return Err(mismatch("reveal", "the series is not a blind box".into()));
        }
        if record.variant.is_some() {
            return Err(mismatch("record.variant", "the series is not a blind box".into()));
        }
        return Ok(None);
    };
    let Some(entry) = reveal else {
        if record.variant.is_some() {
            return Err(mismatch(
                "record.variant",
                "a variant without the reveal that draws it (the box is not revealed)".into(),
            ));
        }
        return Ok(Some(VerifiedBlindBox { reveal: None }));
    };
    let leaf = entry.verify_against(checkpoint, "reveal", leaf_max)?;
    let TxBody::RevealBlindBox { series_id, seed, entropy } = &leaf.tx.body else {
        return Err(mismatch(
            "reveal.leaf",
            format!("is a {} transaction, not a blind-box reveal", leaf.tx.body.kind()),
        ));
    };
    if series_id != &record.series_id {
        return Err(mismatch(
            "reveal.series_id",
            format!("the reveal is of series {series_id}, not {}", record.series_id),
        ));
    }
    if entry.leaf_index <= mint_leaf_index {
        return Err(mismatch("reveal.leaf_index", "the reveal is logged before the mint".into()));
    }
    // T50: the seed is the one committed to in the reviewed creation.
    let commitment = seed_commitment(chain, seed);
    if commitment != terms.seed_commitment {
        return Err(mismatch(
            "reveal.seed",
            format!("its commitment {commitment} is not the series' {}", terms.seed_commitment),
        ));
    }
    // T7/T8: the series' issuer reveals.
    leaf.tx.check_signatures(chain, signatures)?;
    if !leaf.tx.signed_by(&record.issuer) {
        return Err(mismatch("reveal.leaf", "the reveal is not signed by the series' issuer".into()));
    }
    // The draw: the variant of edition e is at position e - 1.
    let drawn = draws
        .draw(chain, series_id, seed, entropy, &terms.variants)
        .and_then(|deck| deck.get(record.edition.wrapping_sub(1) as usize).copied())
        .ok_or_else(|| mismatch("record.edition", format!("the draw has no edition {}", record.edition)))?;
    let variant = terms
        .variants
        .get(drawn as usize)
        .ok_or_else(|| mismatch("reveal", format!("the draw gives variant {drawn}, which does not exist")))?;
    let Some(claimed) = &record.variant else {
        return Err(mismatch(
            "record.variant",
            format!("missing: the reveal draws variant {drawn} ({:?}) for this edition", variant.name),
        ));
    };
    if claimed.index != drawn {
        return Err(mismatch(
            "record.variant.index",
            format!("record says {}, the draw gives {drawn}", claimed.index),
        ));
    }
    if claimed.name != variant.name {
        return Err(mismatch(
            "record.variant.name",
            format!("record says {:?}, the terms say {:?}", claimed.name, variant.name),
        ));
    }
    if claimed.content_hash != variant.content_hash {
        return Err(mismatch(
            "record.variant.content_hash",
            format!("record says {}, the terms say {}", claimed.content_hash, variant.content_hash),
        ));
    }
    Ok(Some(VerifiedBlindBox {
        reveal: Some(VerifiedReveal {
            height: leaf.height,
            time_ms: leaf.time_ms,
            tx_id: leaf.tx.id(chain),
            leaf_index: entry.leaf_index,
        }),
    }))
}

/// A status answer's burn, in order: a `Synthesize` entry of the answer's
/// log whose inputs list the certificate, logged after its mint, to the
/// certificate's holder (T44), signed by the issuer (T7/T8: the target
/// series' issuer, which is the inputs' issuer).
pub(crate) fn check_burn(
    chain: &str,
    entry: &LogEntryProof,
    checkpoint: &Checkpoint,
    cert: &VerifiedCertificate,
    leaf_max: usize,
    signatures: &mut Signatures<'_>,
) -> Result<VerifiedBurn> {
    let (certificate_id, record) = (&cert.certificate_id, &cert.record);
    let leaf = entry.verify_against(checkpoint, "burn", leaf_max)?;
    let TxBody::Synthesize { series_id, inputs, edition, holder, .. } = &leaf.tx.body else {
        return Err(mismatch(
            "burn.leaf",
            format!("is a {} transaction, not a synthesis", leaf.tx.body.kind()),
        ));
    };
    if !inputs.contains(certificate_id) {
        return Err(mismatch(
            "burn.inputs",
            format!("the synthesis burns {} certificates, not {certificate_id}", inputs.len()),
        ));
    }
    if entry.leaf_index <= cert.mint_leaf_index {
        return Err(mismatch("burn.leaf_index", "the burn is logged before the mint".into()));
    }
    if holder != &record.holder {
        return Err(mismatch(
            "burn.holder",
            format!("the synthesis is for holder {holder}, the certificate's is {}", record.holder),
        ));
    }
    leaf.tx.check_signatures(chain, signatures)?;
    if !leaf.tx.signed_by(&record.issuer) {
        return Err(mismatch("burn.leaf", "the synthesis is not signed by the certificate's issuer".into()));
    }
    Ok(VerifiedBurn {
        into: ids::certificate_id(chain, series_id, *edition),
        height: leaf.height,
        time_ms: leaf.time_ms,
        tx_id: leaf.tx.id(chain),
        leaf_index: entry.leaf_index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::life::{Recipe, RecipeInput};
    use crate::{Error, SeriesId};

    #[test]
    fn a_recipe_must_be_one_the_series_declared() {
        let terms = SeriesTerms {
            recipes: vec![Recipe { inputs: vec![RecipeInput { series_id: SeriesId([1; 32]), count: 2 }] }],
            blind_box: None,
        };
        assert!(check_recipe(Some(&terms), 0).is_ok());
        for (terms, recipe) in [(Some(&terms), 1), (None, 0), (Some(&terms), u32::MAX)] {
            match check_recipe(terms, recipe) {
                Err(Error::CertificateMismatch { field, .. }) => assert_eq!(field, "mint.recipe"),
                other => panic!("expected mint.recipe, got {other:?}"),
            }
        }
    }
}
