//! Scheduled rotation: a new primary every so often, and old keys retired only once nothing
//! they signed can still be in use.

use std::time::Duration;

use super::{KeyId, KeyState, KeyringError, KeyringFile};
use crate::time::Timestamp;

/// When a keyring rotates and retires by itself: a new primary once the current one is
/// `every` old, and a verify-only key retired once it stopped signing `retire_after` ago.
///
/// `retire_after` must cover the longest life of anything a key signs: the session's absolute
/// lifetime (a cookie sealed a moment before the rotation), the CSRF token lifetime and the
/// JWT refresh-family lifetime, plus clock leeway. Then nobody is logged out: whatever a key
/// signed has expired by the time it is retired.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use std::time::Duration;
/// use sessionwarden::keyring::{KeyringFile, RotationSchedule};
/// use sessionwarden::Timestamp;
/// const DAY: u64 = 86_400;
/// let schedule = RotationSchedule::new(Duration::from_secs(30 * DAY), Duration::from_secs(30 * DAY))?;
/// let mut file = KeyringFile::generate(Timestamp::from_unix(0))?;
/// let at = |days: u64| Timestamp::from_unix((days * DAY) as i64);
/// assert_eq!(file.apply_schedule(&schedule, at(29))?.rotated, None);
/// let first = file.apply_schedule(&schedule, at(30))?;
/// assert_eq!(first.rotated.map(|k| k.get()), Some(2));
/// assert!(first.retired.is_empty(), "key 1 stopped signing just now");
/// let second = file.apply_schedule(&schedule, at(60))?;
/// assert_eq!(second.retired.iter().map(|k| k.get()).collect::<Vec<_>>(), [1]);
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationSchedule {
    every: Duration,
    retire_after: Duration,
}

/// The shortest rotation interval a schedule accepts: an hour. Each rotation adds a key that
/// stays until `retire_after`, so shorter intervals only grow the keyring.
pub const MIN_ROTATION_INTERVAL: Duration = Duration::from_secs(3600);

impl RotationSchedule {
    /// Rotates every `every`, retires `retire_after` after a key stopped signing.
    ///
    /// # Errors
    /// [`KeyringError::Schedule`] if `every` is under [`MIN_ROTATION_INTERVAL`].
    pub fn new(every: Duration, retire_after: Duration) -> Result<Self, KeyringError> {
        if every < MIN_ROTATION_INTERVAL {
            return Err(KeyringError::Schedule {
                reason: format!(
                    "a rotation interval of {}s is under the minimum of {}s",
                    every.as_secs(),
                    MIN_ROTATION_INTERVAL.as_secs()
                ),
            });
        }
        Ok(Self { every, retire_after })
    }

    /// How old the primary may get.
    #[must_use]
    pub fn every(&self) -> Duration {
        self.every
    }

    /// How long after it stopped signing a key is retired.
    #[must_use]
    pub fn retire_after(&self) -> Duration {
        self.retire_after
    }
}

/// What [`KeyringFile::apply_schedule`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ScheduleOutcome {
    /// The new primary, if the keyring rotated.
    pub rotated: Option<KeyId>,
    /// The keys retired (their secrets erased), oldest first.
    pub retired: Vec<KeyId>,
}

impl ScheduleOutcome {
    /// Whether anything changed.
    #[must_use]
    pub fn changed(&self) -> bool {
        self.rotated.is_some() || !self.retired.is_empty()
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl KeyringFile {
    /// Applies `schedule` at `now`: rotates if the primary is at least `every` old, then
    /// retires every verify-only key that stopped signing (when the next key was created) at
    /// least `retire_after` ago. Deterministic in the file and `now`, so nodes that apply it
    /// to the same version agree, and applying it twice at one instant changes nothing the
    /// second time.
    ///
    /// # Errors
    /// [`KeyringError::Random`] if the OS random number generator fails.
    pub fn apply_schedule(
        &mut self,
        schedule: &RotationSchedule,
        now: Timestamp,
    ) -> Result<ScheduleOutcome, KeyringError> {
        let mut outcome = ScheduleOutcome::default();
        let primary_created = self.keys.iter().find(|k| k.state == KeyState::Primary).map(|k| k.created);
        if primary_created.is_some_and(|c| now.unix().saturating_sub(c.unix()) >= secs(schedule.every)) {
            outcome.rotated = Some(self.rotate(now)?);
        }
        let mut due = Vec::new();
        for k in self.keys.iter().filter(|k| k.state == KeyState::Verify) {
            // It stopped signing when its successor (the next id) was created.
            let stopped = self.keys.iter().filter(|n| n.kid > k.kid).map(|n| n.created).min();
            if stopped.is_some_and(|s| now.unix().saturating_sub(s.unix()) >= secs(schedule.retire_after)) {
                due.push(KeyId::new(k.kid));
            }
        }
        due.sort();
        for kid in &due {
            self.retire(*kid)?;
        }
        outcome.retired = due;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn at(days: f64) -> Timestamp {
        Timestamp::from_unix((days * DAY as f64) as i64)
    }

    fn states(f: &KeyringFile) -> Vec<(u32, &'static str)> {
        f.entries().iter().map(|e| (e.kid().get(), e.state().as_str())).collect()
    }

    #[test]
    fn rotates_every_interval_and_retires_after_the_longest_lifetime() {
        let schedule =
            RotationSchedule::new(Duration::from_secs(30 * 86_400), Duration::from_secs(45 * 86_400))
                .unwrap();
        let mut f = KeyringFile::generate(at(0.0)).unwrap();
        struct Step {
            name: &'static str,
            day: f64,
            want: &'static [(u32, &'static str)],
        }
        let steps = [
            Step { name: "a day short of the interval", day: 29.0, want: &[(1, "primary")] },
            Step { name: "the interval", day: 30.0, want: &[(1, "verify"), (2, "primary")] },
            Step {
                name: "twice at one instant: nothing more",
                day: 30.0,
                want: &[(1, "verify"), (2, "primary")],
            },
            Step {
                name: "second rotation; key 1 stopped 30 days ago, under 45",
                day: 60.0,
                want: &[(1, "verify"), (2, "verify"), (3, "primary")],
            },
            Step {
                name: "key 1 stopped signing 45 days ago",
                day: 75.0,
                want: &[(1, "retired"), (2, "verify"), (3, "primary")],
            },
            Step {
                name: "a late look: one rotation, and key 2 (stopped at 60) retired",
                day: 200.0,
                want: &[(1, "retired"), (2, "retired"), (3, "verify"), (4, "primary")],
            },
        ];
        for s in steps {
            f.apply_schedule(&schedule, at(s.day)).unwrap();
            assert_eq!(states(&f), s.want, "{}", s.name);
        }
        assert!(f.entries().iter().filter(|e| e.state() == KeyState::Retired).all(|e| e.secret.is_none()));
        f.key_set().unwrap();
    }

    #[test]
    fn intervals_under_an_hour_are_refused() {
        let err = RotationSchedule::new(Duration::from_secs(60), Duration::ZERO).unwrap_err();
        assert!(err.to_string().contains("minimum of 3600s"), "{err}");
    }
}
