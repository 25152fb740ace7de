//! How the RPC reports the collectible's life without resale: an issuer's
//! licence and the chain's licence policy (`getIssuer`, `listIssuers`), a
//! series' recipes, blind box and burned count (`getSeries`, `listSeries`),
//! a certificate's burn (`getCertificate`); and the UTC dates of licences,
//! written by the node and read by the command line.

use keepsake_ledger::{IssuerRecord, LedgerError, SeriesRecord, StateView};
use keepsake_rpc::types::{
    BlindBoxInfo, BoxCloseInfo, BoxRevealInfo, BurnInfo, IssuerInfo, LicenceInfo, LicencePolicyInfo,
    LicenceWithdrawalInfo, SaleState, SeriesInfo,
};
use keepsake_types::{CertificateId, IssuerStatus, PublicKey, SeriesId};

/// An issuer with its licence, judged at `now_ms` (the node's clock, what
/// admission checks against), and the licence policy `policy`.
pub fn issuer_info<V: StateView + ?Sized>(
    view: &V,
    issuer: PublicKey,
    r: IssuerRecord,
    policy: &LicencePolicyInfo,
    now_ms: u64,
) -> Result<IssuerInfo, LedgerError> {
    let licence = view.licence(&issuer)?.map(|l| LicenceInfo {
        valid_until: iso_utc(l.licence.valid_until_ms),
        in_force: l.withdrawn.is_none() && now_ms <= l.licence.valid_until_ms,
        kind: l.licence.kind,
        number: l.licence.number,
        valid_until_ms: l.licence.valid_until_ms,
        since_height: l.since_height,
        withdrawn: l.withdrawn.map(|w| LicenceWithdrawalInfo { reason: w.reason, height: w.height }),
    });
    // T13 and T33, as the rules judge them.
    let licensed = match &licence {
        Some(l) => l.in_force,
        None => !policy.required,
    };
    Ok(IssuerInfo {
        issuer,
        name: r.name,
        may_issue: r.status == IssuerStatus::Active && licensed,
        status: r.status,
        registered_height: r.registered_height,
        licence,
        licence_policy: policy.clone(),
        checked_at_ms: now_ms,
    })
}

/// The chain's licence policy (not required until governance sets it).
pub fn licence_policy<V: StateView + ?Sized>(view: &V) -> Result<LicencePolicyInfo, LedgerError> {
    Ok(view
        .licence_policy()?
        .map(|p| LicencePolicyInfo { required: p.required, since_height: Some(p.since_height) })
        .unwrap_or_default())
}

/// A series with its terms, burned count and blind-box sale.
pub fn series_info<V: StateView + ?Sized>(
    view: &V,
    series_id: SeriesId,
    r: SeriesRecord,
) -> Result<SeriesInfo, LedgerError> {
    let life = view.series_life(&series_id)?.unwrap_or_default();
    let blind_box = life.terms.blind_box.map(|b| BlindBoxInfo {
        variants: b.variants,
        seed_commitment: b.seed_commitment,
        sale: match (&life.closed, &life.revealed) {
            (_, Some(_)) => SaleState::Revealed,
            (Some(_), None) => SaleState::Closed,
            (None, None) => SaleState::Open,
        },
        closed: life.closed.map(|c| BoxCloseInfo {
            tx_id: c.tx_id,
            leaf_index: c.leaf_index,
            height: c.height,
        }),
        revealed: life.revealed.map(|v| BoxRevealInfo {
            seed: v.seed,
            entropy: v.entropy,
            tx_id: v.tx_id,
            leaf_index: v.leaf_index,
            height: v.height,
        }),
    });
    Ok(SeriesInfo {
        series_id,
        issuer: r.issuer,
        name: r.name,
        content_hash: r.content_hash,
        max_supply: r.max_supply,
        in_circulation: r.minted.saturating_sub(life.burned),
        minted: r.minted,
        metadata_uri: r.metadata_uri,
        reviewer: r.reviewer,
        tx_id: r.tx_id,
        created_height: r.created_height,
        recipes: life.terms.recipes,
        blind_box,
        burned: life.burned,
    })
}

/// A certificate's burn, if it was burned.
pub fn burn_info<V: StateView + ?Sized>(
    view: &V,
    id: &CertificateId,
) -> Result<Option<BurnInfo>, LedgerError> {
    Ok(view.burn(id)?.map(|b| BurnInfo {
        into: b.into,
        tx_id: b.tx_id,
        leaf_index: b.leaf_index,
        height: b.height,
    }))
}

const MS_PER_DAY: i64 = 86_400_000;

/// `ms` since the Unix epoch as ISO 8601 in UTC, to the millisecond
/// (`2027-12-31T23:59:59.999Z`).
pub fn iso_utc(ms: u64) -> String {
    let ms = ms as i64;
    let (days, rest) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// The last instant a licence "valid until" `text` is in force, in ms since
/// the Unix epoch: a date `YYYY-MM-DD` means the end of that day in UTC
/// (`23:59:59.999`); a plain number is taken as milliseconds.
pub fn parse_valid_until(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| format!("{text:?} is not a number of milliseconds"));
    }
    let bad = || format!("{text:?} is neither a date YYYY-MM-DD nor milliseconds since the Unix epoch");
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d): (i64, u32, u32) =
        (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return Err(format!("{text:?} is not a date between 1970-01-01 and 9999-12-31"));
    }
    let end_of_day = (days_from_civil(y, m, d) + 1) * MS_PER_DAY - 1;
    Ok(end_of_day as u64)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (eras of 400 years,
/// years starting in March so that the leap day is the last of a year).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_mean_the_end_of_the_day() {
        assert_eq!(iso_utc(0), "1970-01-01T00:00:00.000Z");
        // 2027-12-31T23:59:59.999Z, computed independently: 1830297599999.
        let end = parse_valid_until("2027-12-31").unwrap();
        assert_eq!(end, 1_830_297_599_999);
        assert_eq!(iso_utc(end), "2027-12-31T23:59:59.999Z");
        assert_eq!(iso_utc(end + 1), "2028-01-01T00:00:00.000Z");
        // Leap days.
        assert_eq!(iso_utc(parse_valid_until("2024-02-29").unwrap()), "2024-02-29T23:59:59.999Z");
        assert_eq!(
            iso_utc(parse_valid_until("2000-03-01").unwrap() - MS_PER_DAY as u64),
            "2000-02-29T23:59:59.999Z"
        );
        // Every day of a few years, both ways.
        let mut ms = parse_valid_until("1999-12-31").unwrap();
        for _ in 0..(4 * 366) {
            ms += MS_PER_DAY as u64;
            let date = &iso_utc(ms)[..10];
            assert_eq!(parse_valid_until(date).unwrap(), ms, "{date}");
        }
        // Milliseconds pass through.
        assert_eq!(parse_valid_until("1830297599999").unwrap(), 1_830_297_599_999);
    }

    #[test]
    fn bad_dates_are_refused_with_the_expected_form() {
        for bad in
            ["2027-02-29", "2027-13-01", "2027-00-10", "27-12-31", "2027/12/31", "", "soon", "1969-12-31"]
        {
            let err = parse_valid_until(bad).unwrap_err();
            assert!(err.contains("date"), "{bad}: {err}");
        }
    }
}
