//! Dates of the proleptic Gregorian calendar in UTC, without a date
//! library: block times and licence ends as people read them, and licence
//! ends as people type them.

pub(crate) const MS_PER_DAY: i64 = 86_400_000;

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

/// `ms` since the Unix epoch as a UTC date and time for people,
/// `2026-12-02 13:47:11 UTC` (what the command line prints).
pub fn utc_date(ms: u64) -> String {
    let ms = ms as i64;
    let (days, rest) = (ms.div_euclid(MS_PER_DAY), ms.rem_euclid(MS_PER_DAY) / 1000);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
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
    fn block_times_read_as_utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(1_798_761_599_999), "2026-12-31 23:59:59 UTC");
        assert_eq!(utc_date(4_107_542_400_000), "2100-03-01 00:00:00 UTC");
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
