//! How the admin commands show things to people: aligned tables, and times as RFC 3339 with
//! a relative form beside them ("3 min ago", "in 2 h").

use anyhow::{Context as _, Result, bail};
use comfy_table::{Table, presets};
use sessionwarden::Timestamp;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// `rows` under `headers`, every column left-aligned at one offset (unicode width, so a user
/// name in any script keeps the columns straight), with no borders.
#[must_use]
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_style(presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    for row in rows {
        t.add_row(row);
    }
    // Every line padded to the table's width ends in spaces: trim them.
    t.lines().map(|l| l.trim_end().to_owned()).collect::<Vec<_>>().join("\n")
}

/// `t` as RFC 3339 in UTC (`2026-12-03T18:00:00Z`).
#[must_use]
pub fn rfc3339(t: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp(t.unix())
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{}", t.unix()))
}

/// How far `t` is from `now`, roughly: `just now`, `3 min ago`, `in 2 h`, `5 d ago`.
#[must_use]
pub fn relative(t: Timestamp, now: Timestamp) -> String {
    let delta = t.unix().saturating_sub(now.unix());
    let secs = delta.unsigned_abs();
    if secs < 5 {
        return "just now".into();
    }
    let amount = match secs {
        0..60 => format!("{secs} s"),
        60..3_600 => format!("{} min", secs / 60),
        3_600..86_400 => format!("{} h", secs / 3_600),
        _ => format!("{} d", secs / 86_400),
    };
    if delta < 0 { format!("{amount} ago") } else { format!("in {amount}") }
}

/// `t` for a table cell: RFC 3339, then the relative form in parentheses.
#[must_use]
pub fn when(t: Timestamp, now: Timestamp) -> String {
    format!("{} ({})", rfc3339(t), relative(t, now))
}

/// A point in time given on the command line: RFC 3339 (`2026-12-03T18:00:00Z`), or a
/// duration before `now` (`30s`, `30m`, `2h`, `2d`, `1w`).
///
/// # Errors
/// When `s` is neither.
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp> {
    let s = s.trim();
    if let Ok(d) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Timestamp::from_unix(d.unix_timestamp()));
    }
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let scale: i64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => bail!("{s:?} is neither an RFC 3339 time (2026-12-03T18:00:00Z) nor a duration like 30m or 2d"),
    };
    let n: i64 = digits.parse().with_context(|| format!("{s:?}: a duration needs a number, like 30m"))?;
    let back = n.checked_mul(scale).with_context(|| format!("{s:?} is too long ago"))?;
    Ok(Timestamp::from_unix(now.unix().saturating_sub(back)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now = Timestamp::from_unix(1_800_000_000);
        let at = |d: i64| relative(Timestamp::from_unix(now.unix() + d), now);
        assert_eq!(at(0), "just now");
        assert_eq!(at(-180), "3 min ago");
        assert_eq!(at(7_200), "in 2 h");
        assert_eq!(at(-3 * 86_400), "3 d ago");
        assert_eq!(at(30), "in 30 s");
    }

    #[test]
    fn times_parse_as_rfc3339_or_durations() {
        let now = Timestamp::from_unix(1_800_000_000);
        assert_eq!(parse_time("30m", now).unwrap().unix(), now.unix() - 1_800);
        assert_eq!(parse_time("2d", now).unwrap().unix(), now.unix() - 172_800);
        assert_eq!(parse_time("2027-01-15T08:00:00Z", now).unwrap().unix(), 1_800_000_000);
        assert_eq!(rfc3339(Timestamp::from_unix(1_800_000_000)), "2027-01-15T08:00:00Z");
        for bad in ["", "m", "30x", "yesterday", "-5m", "99999999999999999w"] {
            assert!(parse_time(bad, now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn table_columns_line_up_with_wide_characters() {
        let t = table(&["USER", "STATE"], [vec!["名前".into(), "a".into()], vec!["bob".into(), "b".into()]]);
        let lines: Vec<&str> = t.lines().collect();
        let col = |l: &str| unicode_width::UnicodeWidthStr::width(&l[..l.rfind(' ').unwrap() + 1]);
        assert_eq!(col(lines[0]), col(lines[1]));
        assert_eq!(col(lines[1]), col(lines[2]));
    }
}
