//! The rules of the collectible's life without resale (docs/rules.md
//! T33-T51): issuer licences, synthesis and blind boxes. Called from
//! [`crate::rules::apply`]; like it, every check reads before the first write.

use std::collections::{BTreeMap, BTreeSet};

use keepsake_types::life::{
    BLIND_BOX_EDITIONS_MAX, LIFE_TEXT_MAX_BYTES, RECIPE_SERIES_MAX, RECIPES_MAX, SYNTHESIS_INPUTS_MAX,
    seed_commitment,
};
use keepsake_types::{Genesis, HolderId, PublicKey, SeriesId, SeriesTerms, SignedTx, TxBody, TxId, merkle};

use crate::membership;
use crate::rules::{
    check_text, mint_edition, require_active_issuer, require_fresh_nonce, require_governors,
    require_sole_signer,
};
use crate::state::{
    BoxClose, BoxReveal, BurnRecord, LicencePolicyRecord, LicenceRecord, LicenceWithdrawal, Overlay,
    SeriesLife, StateView, TxLocation,
};
use crate::{LedgerError, Result};

/// T33-T35: the issuer may create and mint at `time_ms`: its licence, if it has
/// one, is neither withdrawn nor ended; without one, governance does not
/// require licences.
pub(crate) fn require_licence<V: StateView + ?Sized>(
    view: &V,
    issuer: &PublicKey,
    time_ms: u64,
) -> Result<()> {
    match view.licence(issuer)? {
        Some(r) if r.withdrawn.is_some() => Err(LedgerError::LicenceWithdrawn { issuer: *issuer }),
        Some(r) if time_ms > r.licence.valid_until_ms => Err(LedgerError::LicenceExpired {
            issuer: *issuer,
            valid_until_ms: r.licence.valid_until_ms,
            block_time_ms: time_ms,
        }),
        Some(_) => Ok(()),
        None if view.licence_policy()?.is_some_and(|p| p.required) => {
            Err(LedgerError::IssuerUnlicensed { issuer: *issuer })
        }
        None => Ok(()),
    }
}

/// T47: a blind box takes mints only until its sale closes (a plain series always).
pub(crate) fn require_open_sale<V: StateView + ?Sized>(view: &V, series_id: &SeriesId) -> Result<()> {
    match view.series_life(series_id)? {
        Some(life)
            if life.terms.blind_box.is_some() && (life.closed.is_some() || life.revealed.is_some()) =>
        {
            Err(LedgerError::BlindBoxClosed { series_id: *series_id })
        }
        _ => Ok(()),
    }
}

/// T39: series terms are well-formed. Recipes: at most [`RECIPES_MAX`], each
/// listing 1 to [`RECIPE_SERIES_MAX`] distinct existing series of the same
/// issuer (not the new series), each at least once, and burning at most
/// [`SYNTHESIS_INPUTS_MAX`] certificates. A blind box: no recipes, 1 to
/// [`keepsake_types::life::VARIANTS_MAX`] variants with bounded names and
/// counts of at least 1 summing to `max_supply`, which is at most
/// [`BLIND_BOX_EDITIONS_MAX`].
pub(crate) fn check_terms<V: StateView + ?Sized>(
    view: &V,
    issuer: &PublicKey,
    series_id: &SeriesId,
    max_supply: u32,
    terms: &SeriesTerms,
) -> Result<()> {
    let bad = |reason: String| Err(LedgerError::InvalidSeriesTerms { reason });
    if terms.recipes.is_empty() && terms.blind_box.is_none() {
        return bad("no recipes and no blind box: create a plain series (CreateSeries)".into());
    }
    if terms.recipes.len() > RECIPES_MAX {
        return bad(format!("{} recipes, over the limit of {RECIPES_MAX}", terms.recipes.len()));
    }
    for (r, recipe) in terms.recipes.iter().enumerate() {
        if recipe.inputs.is_empty() || recipe.inputs.len() > RECIPE_SERIES_MAX {
            return bad(format!("recipe {r} lists {} series: 1 to {RECIPE_SERIES_MAX}", recipe.inputs.len()));
        }
        let total = recipe.total_inputs();
        if total > SYNTHESIS_INPUTS_MAX as u64 {
            return bad(format!(
                "recipe {r} burns {total} certificates, over the limit of {SYNTHESIS_INPUTS_MAX}"
            ));
        }
        let mut seen = BTreeSet::new();
        for input in &recipe.inputs {
            if input.count == 0 {
                return bad(format!("recipe {r} burns 0 certificates of series {}", input.series_id));
            }
            if !seen.insert(input.series_id) {
                return bad(format!("recipe {r} lists series {} twice", input.series_id));
            }
            if &input.series_id == series_id {
                return bad(format!("recipe {r} burns the series it creates"));
            }
            match view.series(&input.series_id)? {
                None => return bad(format!("recipe {r} lists unknown series {}", input.series_id)),
                Some(s) if &s.issuer != issuer => {
                    return bad(format!(
                        "recipe {r} lists series {} of another issuer: an issuer burns only its own series",
                        input.series_id
                    ));
                }
                Some(_) => {}
            }
        }
    }
    if let Some(b) = &terms.blind_box {
        if !terms.recipes.is_empty() {
            return bad("a blind box has no recipes".into());
        }
        let max = keepsake_types::life::VARIANTS_MAX;
        if b.variants.is_empty() || b.variants.len() > max {
            return bad(format!("{} variants: a blind box has 1 to {max}", b.variants.len()));
        }
        if max_supply > BLIND_BOX_EDITIONS_MAX {
            return bad(format!(
                "a blind box has at most {BLIND_BOX_EDITIONS_MAX} editions, not {max_supply}"
            ));
        }
        let mut sum = 0u64;
        for (i, v) in b.variants.iter().enumerate() {
            check_text("variant name", &v.name, LIFE_TEXT_MAX_BYTES)
                .or_else(|e| bad(format!("variant {i}: {e}")))?;
            if v.count == 0 {
                return bad(format!("variant {i} ({}) has a count of 0", v.name));
            }
            sum += u64::from(v.count);
        }
        if sum != u64::from(max_supply) {
            return bad(format!("the variant counts sum to {sum}, not to the supply of {max_supply}"));
        }
    }
    Ok(())
}

/// `SetIssuerLicence`, `WithdrawIssuerLicence` and `SetLicencePolicy`
/// (governance actions, T6/T7/T9, then T11 and T36-T38).
pub(crate) fn apply_licence<V: StateView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    genesis: &Genesis,
    tx: &SignedTx,
    height: u64,
    time_ms: u64,
) -> Result<()> {
    require_governors(tx, &membership::governance(overlay, genesis)?)?;
    match &tx.body {
        TxBody::SetIssuerLicence { issuer, licence, nonce } => {
            require_fresh_nonce(overlay, *nonce)?;
            // T11: the issuer must be registered.
            if overlay.issuer(issuer)?.is_none() {
                return Err(LedgerError::UnknownIssuer { issuer: *issuer });
            }
            // T36: a licence is in force when recorded.
            if licence.valid_until_ms < time_ms {
                return Err(LedgerError::InvalidLicence {
                    reason: format!(
                        "it ended at {} ms, before this block's time {time_ms} ms",
                        licence.valid_until_ms
                    ),
                });
            }
            overlay.use_nonce(*nonce);
            overlay.put_licence(
                *issuer,
                LicenceRecord { licence: licence.clone(), since_height: height, withdrawn: None },
            );
        }
        TxBody::WithdrawIssuerLicence { issuer, reason, nonce } => {
            require_fresh_nonce(overlay, *nonce)?;
            // T37: there is a licence, not already withdrawn.
            let record = match overlay.licence(issuer)? {
                Some(r) if r.withdrawn.is_none() => r,
                _ => return Err(LedgerError::NoLicenceToWithdraw { issuer: *issuer }),
            };
            overlay.use_nonce(*nonce);
            overlay.put_licence(
                *issuer,
                LicenceRecord {
                    withdrawn: Some(LicenceWithdrawal { reason: reason.clone(), height }),
                    ..record
                },
            );
        }
        TxBody::SetLicencePolicy { required, nonce } => {
            require_fresh_nonce(overlay, *nonce)?;
            // T38: the policy changes.
            let current = overlay.licence_policy()?.is_some_and(|p| p.required);
            if current == *required {
                return Err(LedgerError::LicencePolicyUnchanged { required: *required });
            }
            overlay.use_nonce(*nonce);
            overlay.put_licence_policy(LicencePolicyRecord { required: *required, since_height: height });
        }
        other => return Err(LedgerError::Invariant(format!("apply_licence called on {}", other.kind()))),
    }
    Ok(())
}

/// `Synthesize`: T20, T7/T8 (the target's issuer alone), T11/T13, T33-T35,
/// T40, T41 (exactly the recipe), T23/T42/T43 (each input exists, is neither
/// burned nor revoked), T44/T45 (one holder, and the output to that holder), T21/T22
/// (the output edition). Burns every input and mints the output.
pub(crate) fn apply_synthesis<V: StateView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    genesis: &Genesis,
    tx: &SignedTx,
    tx_id: TxId,
    location: TxLocation,
    time_ms: u64,
) -> Result<()> {
    let chain = genesis.chain_id.as_str();
    let TxBody::Synthesize { series_id, recipe, inputs, edition, holder } = &tx.body else {
        return Err(LedgerError::Invariant(format!("apply_synthesis called on {}", tx.body.kind())));
    };
    // T20: the target series exists.
    let Some(mut series) = overlay.series(series_id)? else {
        return Err(LedgerError::UnknownSeries { series_id: *series_id });
    };
    require_sole_signer(tx, &series.issuer)?;
    require_active_issuer(overlay, &series.issuer)?;
    require_licence(overlay, &series.issuer, time_ms)?;
    // T40: the recipe is one the target series declared (and its reviewer approved).
    let terms = overlay.series_life(series_id)?.map(|l| l.terms).unwrap_or_default();
    let Some(wanted) = terms.recipes.get(*recipe as usize) else {
        return Err(LedgerError::UnknownRecipe { series_id: *series_id, recipe: *recipe });
    };
    // T41 (distinct inputs), then each input: T23, T43, T42, T44.
    let mut by_series: BTreeMap<SeriesId, u32> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut first_holder: Option<HolderId> = None;
    for id in inputs {
        if !seen.insert(*id) {
            return Err(LedgerError::RecipeMismatch { reason: format!("certificate {id} is listed twice") });
        }
        // T23: the certificate exists.
        let Some(cert) = overlay.certificate(id)? else {
            return Err(LedgerError::UnknownCertificate { certificate_id: *id });
        };
        // T43: a revoked certificate is not burned.
        if overlay.revocation(id)?.is_some() {
            return Err(LedgerError::CertificateRevoked { certificate_id: *id });
        }
        // T42: a certificate burns once.
        if overlay.burn(id)?.is_some() {
            return Err(LedgerError::CertificateBurned { certificate_id: *id });
        }
        // T44: every input has one and the same holder.
        match first_holder {
            None => first_holder = Some(cert.holder),
            Some(first) if first != cert.holder => {
                return Err(LedgerError::SynthesisAcrossHolders { first, other: cert.holder });
            }
            Some(_) => {}
        }
        *by_series.entry(cert.series_id).or_default() += 1;
    }
    // T41: exactly the recipe's inputs, series by series.
    for need in &wanted.inputs {
        let got = by_series.remove(&need.series_id).unwrap_or(0);
        if got != need.count {
            return Err(LedgerError::RecipeMismatch {
                reason: format!(
                    "recipe {recipe} burns {} certificates of series {}, the synthesis lists {got}",
                    need.count, need.series_id
                ),
            });
        }
    }
    if let Some((other, n)) = by_series.into_iter().next() {
        return Err(LedgerError::RecipeMismatch {
            reason: format!("recipe {recipe} burns nothing of series {other}, the synthesis lists {n}"),
        });
    }
    // T45: the output goes to the inputs' holder: nothing changes hands.
    let inputs_holder = first_holder.ok_or_else(|| LedgerError::Malformed("no inputs".into()))?;
    if *holder != inputs_holder {
        return Err(LedgerError::SynthesisChangesHolder { inputs: inputs_holder, output: *holder });
    }
    // The burned counts of the input series (read before the first write).
    let mut lives: BTreeMap<SeriesId, SeriesLife> = BTreeMap::new();
    for id in inputs {
        let cert =
            overlay.certificate(id)?.ok_or_else(|| LedgerError::Invariant(format!("{id} vanished")))?;
        let life = match lives.entry(cert.series_id) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(overlay.series_life(&cert.series_id)?.unwrap_or_default())
            }
        };
        life.burned = life.burned.checked_add(1).ok_or_else(|| {
            LedgerError::Invariant(format!("burned count of series {} overflows", cert.series_id))
        })?;
    }
    // T21/T22: the output edition (checked, then written).
    mint_edition(overlay, chain, *series_id, &mut series, *edition, *holder, tx_id, location)?;
    overlay.put_series(*series_id, series);
    let output = keepsake_types::ids::certificate_id(chain, series_id, *edition);
    for id in inputs {
        overlay.insert_burn(
            *id,
            BurnRecord { into: output, tx_id, leaf_index: location.leaf_index, height: location.height },
        )?;
    }
    for (id, life) in lives {
        overlay.put_series_life(id, life);
    }
    Ok(())
}

/// `CloseBlindBox` (T20, T7/T8, T11/T13, T33-T35, T46, T47) and
/// `RevealBlindBox` (T20, T7/T8, T46, T48-T51). A reveal needs neither an active issuer nor a
/// licence in force: it only keeps the promise made to the box's buyers.
pub(crate) fn apply_blind_box<V: StateView + ?Sized>(
    overlay: &mut Overlay<'_, V>,
    genesis: &Genesis,
    tx: &SignedTx,
    tx_id: TxId,
    location: TxLocation,
    time_ms: u64,
) -> Result<()> {
    let chain = genesis.chain_id.as_str();
    let (TxBody::CloseBlindBox { series_id } | TxBody::RevealBlindBox { series_id, .. }) = &tx.body else {
        return Err(LedgerError::Invariant(format!("apply_blind_box called on {}", tx.body.kind())));
    };
    // T20: the series exists.
    let Some(series) = overlay.series(series_id)? else {
        return Err(LedgerError::UnknownSeries { series_id: *series_id });
    };
    require_sole_signer(tx, &series.issuer)?;
    // T46: only a blind box is closed or revealed.
    let life = overlay.series_life(series_id)?.unwrap_or_default();
    let Some(terms) = &life.terms.blind_box else {
        return Err(LedgerError::NotABlindBox { series_id: *series_id });
    };
    match &tx.body {
        TxBody::CloseBlindBox { .. } => {
            require_active_issuer(overlay, &series.issuer)?;
            require_licence(overlay, &series.issuer, time_ms)?;
            // T47: the sale closes once.
            if life.closed.is_some() {
                return Err(LedgerError::BlindBoxClosed { series_id: *series_id });
            }
            let closed = BoxClose { tx_id, leaf_index: location.leaf_index, height: location.height };
            overlay.put_series_life(*series_id, SeriesLife { closed: Some(closed), ..life });
        }
        TxBody::RevealBlindBox { seed, entropy, .. } => {
            // T48/T49: once, after a close committed in an earlier block.
            if life.revealed.is_some() {
                return Err(LedgerError::BlindBoxAlreadyRevealed { series_id: *series_id });
            }
            let Some(closed) = life.closed.filter(|c| c.height < location.height) else {
                return Err(LedgerError::BlindBoxNotClosed { series_id: *series_id });
            };
            // T50: the seed is the one committed to in the reviewed creation.
            if seed_commitment(chain, seed) != terms.seed_commitment {
                return Err(LedgerError::SeedMismatch { series_id: *series_id });
            }
            // T51: the entropy is the log root just after the close (committed,
            // so the overlay's node source holds it).
            let expected = merkle::root(overlay, closed.leaf_index + 1)?;
            if *entropy != expected {
                return Err(LedgerError::EntropyMismatch { expected, got: *entropy });
            }
            let revealed = BoxReveal {
                seed: *seed,
                entropy: *entropy,
                tx_id,
                leaf_index: location.leaf_index,
                height: location.height,
            };
            overlay.put_series_life(*series_id, SeriesLife { revealed: Some(revealed), ..life });
        }
        other => return Err(LedgerError::Invariant(format!("apply_blind_box called on {}", other.kind()))),
    }
    Ok(())
}
