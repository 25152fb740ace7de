//! What the command groups share: the `--rpc` flag and reading a genesis file.

use std::path::Path;

use anyhow::Context;
use clap::Args;
use keepsake_types::Genesis;

use crate::config::{GENESIS_FILE_MAX, read_bounded};

#[derive(Args, Debug, Clone)]
pub(super) struct RpcArgs {
    /// URL of a node's JSON-RPC endpoint.
    #[arg(long, env = "KEEPSAKE_RPC", default_value = crate::DEFAULT_RPC_URL)]
    pub(super) rpc: String,
}

pub(super) fn read_genesis(path: &Path) -> anyhow::Result<Genesis> {
    let text = read_bounded(path, GENESIS_FILE_MAX)?;
    Genesis::from_json(&text).with_context(|| format!("invalid genesis file {}", path.display()))
}

/// A block time (ms since the Unix epoch) as a UTC date and time,
/// `2026-12-02 13:47:11 UTC` (proleptic Gregorian calendar).
pub fn utc_date(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (the era-based algorithm of H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::utc_date;

    #[test]
    fn block_times_read_as_utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_date(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_date(1_798_761_599_999), "2026-12-31 23:59:59 UTC");
        assert_eq!(utc_date(4_107_542_400_000), "2100-03-01 00:00:00 UTC");
    }
}
