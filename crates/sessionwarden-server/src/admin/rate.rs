//! Security events per minute over the last hour, for the dashboard's chart.
//!
//! An [`EventSink`] with one bucket per minute in a ring of sixty: recording is a lock and
//! two additions, memory is fixed, and the chart is exact however busy the server is (the
//! hub's recent-events buffer, bounded by count, would cover only seconds of a busy hour).
//! Counts are this process's: each server of a fleet shows its own.

use std::sync::Arc;

use parking_lot::Mutex;
use sessionwarden::events::EventSink;
use sessionwarden::{SecurityEvent, Timestamp};

/// Minutes the ring covers.
const MINUTES: usize = 60;

/// One minute of the chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Minute {
    /// The minute's start.
    pub start: Timestamp,
    /// Every event recorded in it.
    pub events: u64,
    /// Those that were refusals or failures (rejected cookies, CSRF, JWTs, admin
    /// authentication, refresh-token reuse, store outages).
    pub refusals: u64,
}

/// Counts events per minute; clones share the counts. Register it as a sink of the event
/// hub and hand it to [`super::AdminState::with_event_rate`].
///
/// ```
/// use sessionwarden::events::EventSink as _;
/// use sessionwarden::{SecurityEvent, Timestamp};
/// use sessionwarden_server::admin::EventRate;
///
/// let rate = EventRate::default();
/// let now = Timestamp::from_unix(3_600);
/// rate.record(now, &SecurityEvent::AdminAuthFailed { reason: "mismatch" });
/// let hour = rate.last_hour(now);
/// assert_eq!(hour.len(), 60);
/// assert_eq!((hour[59].events, hour[59].refusals), (1, 1));
/// ```
#[derive(Debug, Clone)]
pub struct EventRate {
    // Slot `minute % 60` holds (minute, events, refusals); a slot whose minute is not the
    // one asked for is stale and counts as zero.
    ring: Arc<Mutex<[(i64, u64, u64); MINUTES]>>,
}

impl Default for EventRate {
    fn default() -> Self {
        Self { ring: Arc::new(Mutex::new([(0, 0, 0); MINUTES])) }
    }
}

impl EventRate {
    /// The sixty minutes up to and including `now`'s, oldest first.
    #[must_use]
    pub fn last_hour(&self, now: Timestamp) -> Vec<Minute> {
        let ring = self.ring.lock();
        let current = now.unix().div_euclid(60);
        (0..MINUTES as i64)
            .rev()
            .map(|back| {
                let minute = current - back;
                let (m, events, refusals) = ring[slot(minute)];
                let (events, refusals) = if m == minute { (events, refusals) } else { (0, 0) };
                Minute { start: Timestamp::from_unix(minute * 60), events, refusals }
            })
            .collect()
    }
}

fn slot(minute: i64) -> usize {
    // invariant: rem_euclid(60) is in 0..60, which fits usize
    usize::try_from(minute.rem_euclid(MINUTES as i64)).unwrap_or(0)
}

impl EventSink for EventRate {
    fn record(&self, at: Timestamp, event: &SecurityEvent) {
        let minute = at.unix().div_euclid(60);
        let mut ring = self.ring.lock();
        let entry = &mut ring[slot(minute)];
        if entry.0 != minute {
            *entry = (minute, 0, 0);
        }
        entry.1 += 1;
        if event.is_warning() {
            entry.2 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_older_than_an_hour_are_forgotten() {
        let rate = EventRate::default();
        let created = SecurityEvent::SessionsRevoked { user: None, sessions: 0 };
        let refused = SecurityEvent::AdminAuthFailed { reason: "missing" };
        let t0 = 1_800_000_000;
        rate.record(Timestamp::from_unix(t0), &created);
        rate.record(Timestamp::from_unix(t0 + 59), &refused);
        rate.record(Timestamp::from_unix(t0 + 61), &created);
        let hour = rate.last_hour(Timestamp::from_unix(t0 + 61));
        let counts: Vec<_> = hour.iter().rev().take(3).map(|m| (m.events, m.refusals)).collect();
        // t0 is 1_800_000_000 = minute 30_000_000 exactly, so t0+59 falls in the same minute.
        assert_eq!(counts, [(1, 0), (2, 1), (0, 0)]);
        assert_eq!(hour[59].start, Timestamp::from_unix(t0 + 60));
        // An hour later the slot of t0's minute is reused, not added to.
        let later = Timestamp::from_unix(t0 + 3_600);
        rate.record(later, &created);
        let hour = rate.last_hour(later);
        assert_eq!(hour.iter().map(|m| m.events).sum::<u64>(), 2, "{hour:?}");
        assert_eq!(hour[59].events, 1);
    }
}
