//! Time as sessions see it: whole seconds since the Unix epoch, read from an injectable clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in whole seconds since the Unix epoch (UTC).
///
/// Seconds are fine-grained enough for every session deadline and keep every wire format
/// (cookie envelope, SQL rows, Redis TTLs) integer-only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp from seconds since the Unix epoch.
    #[must_use]
    pub const fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    #[must_use]
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// This time plus `d` (saturating).
    #[must_use]
    pub fn plus(self, d: Duration) -> Self {
        Self(self.0.saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)))
    }

    /// Whole seconds from `self` until `later`; zero when `later` is not later.
    #[must_use]
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_secs(u64::try_from(later.0.saturating_sub(self.0)).unwrap_or(0))
    }
}

/// A [`SystemTime`] outside the range of [`Timestamp`] (more than about 292 billion years from
/// the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("system time is outside the range of a timestamp (i64 seconds from the Unix epoch)")]
#[non_exhaustive]
pub struct TimestampOutOfRange;

/// The timestamp as a [`SystemTime`], for APIs that take one (`cookie::Expiration`, HTTP date
/// headers, `tokio::time`).
///
/// Saturates at the platform's limits: every timestamp fits on Unix, where `SystemTime` holds
/// signed 64-bit seconds; Windows' range is narrower.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use sessionwarden::Timestamp;
/// let t: SystemTime = Timestamp::from_unix(1_700_000_000).into();
/// assert_eq!(t, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// assert_eq!(Timestamp::try_from(t), Ok(Timestamp::from_unix(1_700_000_000)));
/// ```
impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        let forward = t.0 >= 0;
        // |t| in seconds: `unsigned_abs` covers i64::MIN.
        let mut left = Duration::from_secs(t.0.unsigned_abs());
        let step_once = |at: SystemTime, d: Duration| {
            if forward { at.checked_add(d) } else { at.checked_sub(d) }
        };
        if let Some(at) = step_once(UNIX_EPOCH, left) {
            return at;
        }
        // Out of the platform's range: go as far as it allows, halving the step on each refusal.
        let mut at = UNIX_EPOCH;
        let mut step = left;
        while !step.is_zero() {
            match step_once(at, step) {
                Some(next) => {
                    at = next;
                    left -= step;
                    step = step.min(left);
                }
                None => step /= 2,
            }
        }
        at
    }
}

/// Whole seconds of a [`SystemTime`], rounded down (towards the past, before the epoch too).
///
/// # Errors
/// [`TimestampOutOfRange`] for a time beyond `i64` seconds from the epoch.
impl TryFrom<SystemTime> for Timestamp {
    type Error = TimestampOutOfRange;

    fn try_from(t: SystemTime) -> Result<Self, Self::Error> {
        let secs: i128 = match t.duration_since(UNIX_EPOCH) {
            Ok(after) => i128::from(after.as_secs()),
            Err(before) => {
                let before = before.duration();
                -i128::from(before.as_secs()) - i128::from(before.subsec_nanos() > 0)
            }
        };
        i64::try_from(secs).map(Self).map_err(|_| TimestampOutOfRange)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where sessions read the time. Inject a [`ManualClock`] in tests instead of sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time.
    fn now(&self) -> Timestamp;

    /// The current time in milliseconds since the Unix epoch, for what needs finer steps
    /// than a session deadline (rate limits: one event every 3 s must not round to 0 or 6).
    /// By default [`Clock::now`] in whole seconds.
    fn now_ms(&self) -> i64 {
        self.now().unix().saturating_mul(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    fn now_ms(&self) -> i64 {
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        i64::try_from(ms).unwrap_or(i64::MAX)
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use std::time::Duration;
/// use sessionwarden::{Clock, ManualClock, Timestamp};
/// let clock = ManualClock::new(Timestamp::from_unix(1_000));
/// clock.advance(Duration::from_secs(5));
/// assert_eq!(clock.now(), Timestamp::from_unix(1_005));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(start.0)))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    /// Sets the clock to `t`.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_round_trips() {
        struct Case {
            name: &'static str,
            unix: i64,
        }
        let cases = [
            Case { name: "epoch", unix: 0 },
            Case { name: "now-ish", unix: 1_800_000_000 },
            Case { name: "before the epoch", unix: -86_400 },
            Case { name: "far future", unix: i64::MAX / 2 },
        ];
        for c in cases {
            let t = Timestamp::from_unix(c.unix);
            let st: SystemTime = t.into();
            assert_eq!(Timestamp::try_from(st), Ok(t), "{}", c.name);
        }
    }

    #[test]
    fn sub_seconds_round_down() {
        let after = UNIX_EPOCH + Duration::from_millis(1_500);
        assert_eq!(Timestamp::try_from(after), Ok(Timestamp::from_unix(1)));
        let before = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(Timestamp::try_from(before), Ok(Timestamp::from_unix(-2)));
        let exact = UNIX_EPOCH - Duration::from_secs(2);
        assert_eq!(Timestamp::try_from(exact), Ok(Timestamp::from_unix(-2)));
    }

    #[test]
    fn extremes_do_not_panic() {
        for unix in [i64::MAX, i64::MIN, i64::MIN + 1] {
            let st: SystemTime = Timestamp::from_unix(unix).into();
            // On Unix every i64 second fits: the round trip is exact.
            #[cfg(unix)]
            assert_eq!(Timestamp::try_from(st), Ok(Timestamp::from_unix(unix)));
            let _ = st;
        }
        // A SystemTime past i64 seconds (where the platform has one) is refused, not wrapped.
        if let Some(beyond) = UNIX_EPOCH.checked_add(Duration::from_secs(u64::MAX / 2 + 1)) {
            assert_eq!(Timestamp::try_from(beyond), Err(TimestampOutOfRange));
        }
    }
}
