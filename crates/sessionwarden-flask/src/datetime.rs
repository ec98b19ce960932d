//! An aware UTC datetime with Python's range, and the two text forms Flask uses.
//!
//! Flask's tagged JSON writes datetimes as HTTP dates (`Fri, 14 Mar 2025 15:09:26 GMT`, whole
//! seconds); msgspec writes MessagePack timestamps with nanoseconds. Python's `datetime` covers
//! years 1 to 9999, so that is this type's range too.

use std::fmt;

use crate::Error;

/// Seconds from 0001-01-01T00:00:00Z to the Unix epoch (negative).
const MIN_UNIX: i64 = -62_135_596_800;
/// Seconds from the Unix epoch to 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// An aware UTC datetime, as Flask's `" d"` tag and msgspec's timestamp extension carry it.
///
/// The range is Python's: 0001-01-01 to 9999-12-31. Nanoseconds are kept, but the Flask
/// cookie format drops everything below a second (Flask does the same).
///
/// ```
/// use sessionwarden_flask::FlaskDateTime;
/// let t = FlaskDateTime::from_unix(1_741_964_966, 0).unwrap();
/// assert_eq!(t.to_http_date(), "Fri, 14 Mar 2025 15:09:26 GMT");
/// assert_eq!(t.to_string(), "2025-03-14T15:09:26Z");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlaskDateTime {
    // invariant: MIN_UNIX <= secs <= MAX_UNIX and nanos < 1_000_000_000
    secs: i64,
    nanos: u32,
}

impl FlaskDateTime {
    /// Builds a datetime from Unix seconds and nanoseconds.
    ///
    /// Returns `None` outside Python's range (years 1 to 9999) or if `nanos` is a second or
    /// more.
    ///
    /// ```
    /// use sessionwarden_flask::FlaskDateTime;
    /// assert!(FlaskDateTime::from_unix(0, 0).is_some());
    /// assert!(FlaskDateTime::from_unix(0, 1_000_000_000).is_none());
    /// assert!(FlaskDateTime::from_unix(i64::MAX, 0).is_none());
    /// ```
    #[must_use]
    pub fn from_unix(secs: i64, nanos: u32) -> Option<Self> {
        ((MIN_UNIX..=MAX_UNIX).contains(&secs) && nanos < 1_000_000_000).then_some(Self { secs, nanos })
    }

    /// Seconds since the Unix epoch.
    ///
    /// ```
    /// # use sessionwarden_flask::FlaskDateTime;
    /// assert_eq!(FlaskDateTime::from_unix(42, 7).unwrap().unix_seconds(), 42);
    /// ```
    #[must_use]
    pub fn unix_seconds(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second.
    ///
    /// ```
    /// # use sessionwarden_flask::FlaskDateTime;
    /// assert_eq!(FlaskDateTime::from_unix(42, 7).unwrap().subsec_nanos(), 7);
    /// ```
    #[must_use]
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// The HTTP date Flask's `" d"` tag writes (`email.utils.format_datetime(dt, usegmt=True)`).
    /// Sub-second precision is dropped, as in Flask.
    ///
    /// ```
    /// # use sessionwarden_flask::FlaskDateTime;
    /// let t = FlaskDateTime::from_unix(1_709_251_199, 999).unwrap();
    /// assert_eq!(t.to_http_date(), "Thu, 29 Feb 2024 23:59:59 GMT");
    /// ```
    #[must_use]
    pub fn to_http_date(&self) -> String {
        let c = Civil::from_unix(self.secs);
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[c.weekday],
            c.day,
            MONTHS[(c.month - 1) as usize],
            c.year,
            c.hour,
            c.minute,
            c.second
        )
    }

    /// Parses exactly the HTTP-date form Flask writes: `Www, DD Mon YYYY HH:MM:SS GMT`.
    ///
    /// Stricter than Werkzeug's `parse_date`, which also takes numeric offsets and turns
    /// garbage into `None`; Flask never writes those. The weekday must match the date, and
    /// years before 100 are refused because Python's `parsedate` maps them to 19xx/20xx.
    pub(crate) fn parse_http_date(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
            return None;
        }
        let weekday = WEEKDAYS.iter().position(|w| w.as_bytes() == &b[..3])?;
        let day = digits(&b[5..7])?;
        let month = MONTHS.iter().position(|m| m.as_bytes() == &b[8..11])? as u32 + 1;
        if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
            return None;
        }
        let year = digits(&b[12..16])?;
        let (hour, minute, second) = (digits(&b[17..19])?, digits(&b[20..22])?, digits(&b[23..25])?);
        if year < 100 {
            return None;
        }
        let t = Civil::to_unix(i64::from(year), month, day, hour, minute, second)?;
        let dt = Self::from_unix(t, 0)?;
        (Civil::from_unix(t).weekday == weekday).then_some(dt)
    }

    /// Parses an RFC 3339 / ISO 8601 timestamp with a `Z` or `±HH:MM` offset, as used by the
    /// `$datetime` typed-JSON marker, and converts it to UTC.
    ///
    /// # Errors
    /// Returns [`Error::BadMarker`] if the text is not such a timestamp or is out of range.
    ///
    /// ```
    /// use sessionwarden_flask::FlaskDateTime;
    /// let t = FlaskDateTime::parse_iso8601("2025-01-02T03:04:05Z")?;
    /// assert_eq!(t.unix_seconds(), 1_735_787_045);
    /// let t = FlaskDateTime::parse_iso8601("2025-01-02T05:04:05.5+02:00")?;
    /// assert_eq!((t.unix_seconds(), t.subsec_nanos()), (1_735_787_045, 500_000_000));
    /// # Ok::<(), sessionwarden_flask::Error>(())
    /// ```
    pub fn parse_iso8601(s: &str) -> Result<Self, Error> {
        let bad = |reason| Error::BadMarker { marker: "$datetime", reason };
        let b = s.as_bytes();
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad("expected YYYY-MM-DDTHH:MM:SS"));
        }
        let num = |r: std::ops::Range<usize>| digits(&b[r]).ok_or(bad("expected digits"));
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut rest = &b[19..];
        let mut nanos = 0u32;
        if let Some(frac) = rest.strip_prefix(b".") {
            let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 || n > 9 {
                return Err(bad("expected 1 to 9 fraction digits"));
            }
            let value = digits(&frac[..n]).ok_or(bad("expected digits"))?;
            nanos = value * 10u32.pow(9 - n as u32);
            rest = &frac[n..];
        }
        let offset = match rest {
            b"Z" | b"z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2]).ok_or(bad("expected offset digits"))?;
                let m = digits(&[*m1, *m2]).ok_or(bad("expected offset digits"))?;
                if h > 23 || m > 59 {
                    return Err(bad("offset out of range"));
                }
                let o = i64::from(h * 3600 + m * 60);
                if *sign == b'-' { -o } else { o }
            }
            _ => return Err(bad("expected Z or an offset")),
        };
        let local = Civil::to_unix(i64::from(year), month, day, hour, minute, second)
            .ok_or(bad("date out of range"))?;
        Self::from_unix(local - offset, nanos).ok_or(bad("date out of range"))
    }
}

/// ISO 8601 in UTC with `Z`, the `$datetime` marker form. Fractions are printed only when
/// present: 6 digits for whole microseconds (Python's precision), 9 otherwise.
impl fmt::Display for FlaskDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = Civil::from_unix(self.secs);
        write!(f, "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", c.year, c.month, c.day, c.hour, c.minute, c.second)?;
        if self.nanos != 0 {
            if self.nanos.is_multiple_of(1000) {
                write!(f, ".{:06}", self.nanos / 1000)?;
            } else {
                write!(f, ".{:09}", self.nanos)?;
            }
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for FlaskDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FlaskDateTime({self})")
    }
}

/// Parses ASCII digits; `None` if any byte is not a digit.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// A broken-down UTC time (proleptic Gregorian calendar).
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    /// Monday = 0.
    weekday: usize,
}

impl Civil {
    // Days/civil conversions after Howard Hinnant's "chrono-Compatible Low-Level Date
    // Algorithms" (public domain description), re-derived here.
    fn from_unix(t: i64) -> Self {
        let days = t.div_euclid(86_400);
        let secs = t.rem_euclid(86_400) as u32;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            // 1970-01-01 was a Thursday (index 3).
            weekday: (days + 3).rem_euclid(7) as usize,
        }
    }

    /// Unix seconds for a civil UTC time, or `None` if a field is out of range.
    fn to_unix(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<i64> {
        if !(1..=12).contains(&month) || day == 0 || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let month_len = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if day > month_len {
            return None;
        }
        let y = if month <= 2 { year - 1 } else { year };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let mp = i64::from((month + 9) % 12);
        let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn http_date_round_trips_across_the_range() {
        for t in [MIN_UNIX + 100 * 366 * 86_400, -1, 0, 951_782_400, 1_709_251_199, MAX_UNIX] {
            let dt = FlaskDateTime::from_unix(t, 0).unwrap();
            assert_eq!(FlaskDateTime::parse_http_date(&dt.to_http_date()), Some(dt), "{t}");
            assert_eq!(FlaskDateTime::parse_iso8601(&dt.to_string()).unwrap(), dt, "{t}");
        }
    }

    #[test]
    fn http_date_rejects_what_flask_never_writes() {
        for s in [
            "Thu, 14 Mar 2025 15:09:26 GMT", // wrong weekday
            "Fri, 14 Mar 2025 15:09:26 +0000",
            "Fri, 14 Mar 2025 25:09:26 GMT",
            "Fri, 32 Mar 2025 15:09:26 GMT",
            "Fri,  14 Mar 2025 15:09:26 GMT",
            "",
        ] {
            assert_eq!(FlaskDateTime::parse_http_date(s), None, "{s}");
        }
    }
}
