//! Periodic maintenance: one task that runs registered jobs (sweeping expired sessions,
//! purging expired token rows, …) at their intervals, off an injected [`Clock`].
//!
//! A job is an async function of the current time that reports how many records it removed.
//! What it does is up to the caller, so the store-specific wiring is a short closure:
//!
//! ```
//! # extern crate sessionwarden_core as sessionwarden;
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::time::Duration;
//! use sessionwarden::maintenance::{Maintenance, in_batches};
//! use sessionwarden::{ManualClock, Timestamp};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let clock = ManualClock::new(Timestamp::from_unix(1_750_000_000));
//! // Stands in for a store: 2,500 expired rows, deleted at most `batch` per call. A real
//! // sweep calls `ExpiredDeletion::delete_expired(now, batch)` here.
//! let rows = Arc::new(AtomicU64::new(2_500));
//! let table = rows.clone();
//! let mut maintenance = Maintenance::new(Arc::new(clock.clone())).with_job(
//!     "session sweep",
//!     Duration::from_secs(60),
//!     move |_now| {
//!         let table = table.clone();
//!         // Small batches keep each statement short; stop when one comes back short.
//!         async move {
//!             in_batches(1_000, || {
//!                 let left = table.load(Ordering::SeqCst);
//!                 let n = left.min(1_000);
//!                 table.store(left - n, Ordering::SeqCst);
//!                 async move { Ok::<u64, std::convert::Infallible>(n) }
//!             })
//!             .await
//!         }
//!     },
//! );
//! // Jobs are due at once, then every interval: tests advance the clock instead of sleeping.
//! assert_eq!(maintenance.run_due().await[0].removed(), Some(2_500));
//! assert_eq!(maintenance.run_due().await.len(), 0);
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(maintenance.run_due().await[0].removed(), Some(0));
//! assert_eq!(rows.load(Ordering::SeqCst), 0);
//! // In a server: `let handle = maintenance.spawn(Duration::from_secs(1));`
//! # });
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::BoxError;
use crate::time::{Clock, Timestamp};

type JobFuture = Pin<Box<dyn Future<Output = Result<u64, BoxError>> + Send>>;
type JobFn = Box<dyn Fn(Timestamp) -> JobFuture + Send + Sync>;

struct Job {
    name: &'static str,
    interval: Duration,
    next: Timestamp,
    run: JobFn,
}

/// The periodic maintenance task: registered jobs, each run when due by the injected clock.
///
/// Every job is due as soon as it is registered, then `interval` after each run (measured
/// from when that run started, in the clock's whole seconds; intervals under a second count as
/// one). A run that fails is reported and retried at the next interval, never sooner, so a
/// broken database is not hammered. Jobs run one after the other, so one job never overlaps
/// itself.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionwarden::maintenance::Maintenance;
/// use sessionwarden::{ManualClock, Timestamp};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = ManualClock::new(Timestamp::from_unix(1_000));
/// let mut m = Maintenance::new(Arc::new(clock.clone()))
///     .with_job("purge", Duration::from_secs(300), |_now| async { Ok::<_, std::io::Error>(3) });
/// let reports = m.run_due().await;
/// assert_eq!(reports[0].name(), "purge");
/// assert_eq!(reports[0].removed(), Some(3));
/// assert_eq!(m.next_due(), Some(Timestamp::from_unix(1_300)));
/// # });
/// ```
#[must_use = "a Maintenance does nothing until run_due() or spawn() is called"]
pub struct Maintenance {
    clock: Arc<dyn Clock>,
    jobs: Vec<Job>,
}

impl fmt::Debug for Maintenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for job in &self.jobs {
            list.entry(&(job.name, job.interval, job.next));
        }
        list.finish()
    }
}

/// What one run of one job did.
#[derive(Debug)]
pub struct JobReport {
    name: &'static str,
    at: Timestamp,
    outcome: Result<u64, BoxError>,
}

impl JobReport {
    /// The job's name, as registered.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, SystemClock};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut m = Maintenance::new(Arc::new(SystemClock))
    ///     .with_job("sweep", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(0) });
    /// assert_eq!(m.run_due().await[0].name(), "sweep");
    /// # });
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The clock's time the job was run with.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, ManualClock, Timestamp};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(Timestamp::from_unix(42));
    /// let mut m = Maintenance::new(Arc::new(clock))
    ///     .with_job("sweep", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(0) });
    /// assert_eq!(m.run_due().await[0].at(), Timestamp::from_unix(42));
    /// # });
    /// ```
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }

    /// How many records the job removed, or `None` if it failed.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, SystemClock};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut m = Maintenance::new(Arc::new(SystemClock))
    ///     .with_job("sweep", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(7) });
    /// assert_eq!(m.run_due().await[0].removed(), Some(7));
    /// # });
    /// ```
    #[must_use]
    pub fn removed(&self) -> Option<u64> {
        self.outcome.as_ref().ok().copied()
    }

    /// The job's error, if it failed.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, SystemClock};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let mut m = Maintenance::new(Arc::new(SystemClock)).with_job("sweep", Duration::from_secs(60), |_| async {
    ///     Err::<u64, _>(std::io::Error::other("database is locked"))
    /// });
    /// assert_eq!(m.run_due().await[0].error().unwrap().to_string(), "database is locked");
    /// # });
    /// ```
    #[must_use]
    pub fn error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        self.outcome.as_ref().err().map(|e| &**e)
    }
}

impl Maintenance {
    /// No jobs yet; time comes from `clock`.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use std::sync::Arc;
    /// let m = sessionwarden::maintenance::Maintenance::new(Arc::new(sessionwarden::SystemClock));
    /// assert_eq!(m.next_due(), None);
    /// ```
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, jobs: Vec::new() }
    }

    /// Registers `job` under `name`, run every `interval` (at least a second), due at once.
    /// The job gets the clock's current time and returns how many records it removed.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use sessionwarden::maintenance::Maintenance;
    /// use sessionwarden::{ManualClock, Timestamp};
    /// let clock = ManualClock::new(Timestamp::from_unix(10));
    /// let m = Maintenance::new(Arc::new(clock))
    ///     .with_job("a", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(0) });
    /// assert_eq!(m.next_due(), Some(Timestamp::from_unix(10)));
    /// ```
    pub fn with_job<F, Fut, E>(mut self, name: &'static str, interval: Duration, job: F) -> Self
    where
        F: Fn(Timestamp) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<u64, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let run: JobFn = Box::new(move |now| {
            let fut = job(now);
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        let interval = interval.max(Duration::from_secs(1));
        self.jobs.push(Job { name, interval, next: self.clock.now(), run });
        self
    }

    /// When the next job is due; `None` without jobs.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, ManualClock, Timestamp};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(Timestamp::from_unix(0));
    /// let mut m = Maintenance::new(Arc::new(clock))
    ///     .with_job("a", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(0) })
    ///     .with_job("b", Duration::from_secs(30), |_| async { Ok::<_, std::io::Error>(0) });
    /// m.run_due().await;
    /// assert_eq!(m.next_due(), Some(Timestamp::from_unix(30)));
    /// # });
    /// ```
    #[must_use]
    pub fn next_due(&self) -> Option<Timestamp> {
        self.jobs.iter().map(|job| job.next).min()
    }

    /// Runs, one after the other and in registration order, every job due at the clock's
    /// current time, and schedules each one `interval` later. Returns what each run did.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, ManualClock, Timestamp};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(Timestamp::from_unix(0));
    /// let mut m = Maintenance::new(Arc::new(clock.clone()))
    ///     .with_job("a", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(0) });
    /// assert_eq!(m.run_due().await.len(), 1);
    /// clock.advance(Duration::from_secs(59));
    /// assert!(m.run_due().await.is_empty());
    /// # });
    /// ```
    pub async fn run_due(&mut self) -> Vec<JobReport> {
        let now = self.clock.now();
        let mut reports = Vec::new();
        for job in self.jobs.iter_mut().filter(|job| job.next <= now) {
            let outcome = (job.run)(now).await;
            job.next = now.plus(job.interval);
            reports.push(JobReport { name: job.name, at: now, outcome });
        }
        reports
    }

    /// Runs the jobs in a Tokio task until the returned handle is aborted: looks at the clock
    /// every `poll` (at least a millisecond) and runs what is due. Removals are logged at
    /// debug level and failures as warnings, under the `sessionwarden::maintenance` target
    /// (job name and error, which never carries a session id or token).
    ///
    /// # Panics
    /// When called outside a Tokio runtime.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{maintenance::Maintenance, SystemClock};
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let m = Maintenance::new(Arc::new(SystemClock))
    ///     .with_job("a", Duration::from_secs(60), |_| async { Ok::<_, std::io::Error>(0) });
    /// let handle = m.spawn(Duration::from_secs(1));
    /// handle.abort();
    /// # });
    /// ```
    #[must_use = "dropping the handle detaches the task; keep it to stop the task with abort()"]
    pub fn spawn(mut self, poll: Duration) -> tokio::task::JoinHandle<()> {
        let poll = poll.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(poll);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                for report in self.run_due().await {
                    match &report.outcome {
                        Ok(0) => {}
                        Ok(removed) => tracing::debug!(
                            target: "sessionwarden::maintenance", job = report.name, removed, "maintenance job ran"
                        ),
                        Err(e) => {
                            let source = e.source().map(ToString::to_string).unwrap_or_default();
                            tracing::warn!(
                                target: "sessionwarden::maintenance", job = report.name, error = %e, source,
                                "maintenance job failed; retried at its next interval"
                            );
                        }
                    }
                }
            }
        })
    }
}

/// Calls `step` (one bounded batch, returning how many records it removed) until a batch
/// comes back smaller than `batch`, yielding to other tasks in between so one sweep never
/// holds a database for long. Returns the total; stops at the first error.
///
/// # Errors
/// The first error `step` returns.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sessionwarden::maintenance::in_batches;
/// let mut left = 2_500u64;
/// let total = in_batches(1_000, || {
///     let n = left.min(1_000);
///     left -= n;
///     async move { Ok::<_, std::io::Error>(n) }
/// })
/// .await?;
/// assert_eq!(total, 2_500);
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub async fn in_batches<F, Fut, E>(batch: usize, mut step: F) -> Result<u64, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<u64, E>>,
{
    let batch = u64::try_from(batch.max(1)).unwrap_or(u64::MAX);
    let mut total = 0u64;
    loop {
        let n = step().await?;
        total = total.saturating_add(n);
        if n < batch {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::ManualClock;

    const T0: i64 = 1_750_000_000;

    /// A job that records the times it was called with, and fails while `failing` holds.
    fn recording(
        calls: &Arc<Mutex<Vec<i64>>>,
        failing: &Arc<Mutex<bool>>,
    ) -> impl Fn(Timestamp) -> std::future::Ready<Result<u64, std::io::Error>> + Send + Sync + 'static {
        let (calls, failing) = (calls.clone(), failing.clone());
        move |now| {
            calls.lock().unwrap().push(now.unix() - T0);
            let failed = *failing.lock().unwrap();
            std::future::ready(if failed { Err(std::io::Error::other("down")) } else { Ok(1) })
        }
    }

    #[tokio::test]
    async fn jobs_run_at_their_intervals_off_the_clock() {
        let clock = ManualClock::new(Timestamp::from_unix(T0));
        let (sweeps, purges) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let ok = Arc::new(Mutex::new(false));
        let mut m = Maintenance::new(Arc::new(clock.clone()))
            .with_job("sweep", Duration::from_secs(60), recording(&sweeps, &ok))
            .with_job("purge", Duration::from_secs(300), recording(&purges, &ok));
        struct Step {
            name: &'static str,
            advance: u64,
            ran: &'static [&'static str],
        }
        let steps = [
            Step { name: "both due at registration", advance: 0, ran: &["sweep", "purge"] },
            Step { name: "nothing twice in one instant", advance: 0, ran: &[] },
            Step { name: "a second short of the sweep", advance: 59, ran: &[] },
            Step { name: "the sweep's interval", advance: 1, ran: &["sweep"] },
            Step {
                name: "a late look runs a job once, not once per missed interval",
                advance: 200,
                ran: &["sweep"],
            },
            Step { name: "the purge's interval", advance: 40, ran: &["purge"] },
        ];
        for s in steps {
            clock.advance(Duration::from_secs(s.advance));
            let ran: Vec<_> = m.run_due().await.iter().map(JobReport::name).collect();
            assert_eq!(ran, s.ran, "{}", s.name);
        }
        assert_eq!(*sweeps.lock().unwrap(), vec![0, 60, 260], "each run gets the clock's now");
        assert_eq!(*purges.lock().unwrap(), vec![0, 300]);
        // Next: the sweep, 60 s after its run at 260.
        assert_eq!(m.next_due(), Some(Timestamp::from_unix(T0 + 320)));
    }

    #[tokio::test]
    async fn a_failed_run_is_reported_and_retried_at_the_next_interval() {
        let clock = ManualClock::new(Timestamp::from_unix(T0));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let failing = Arc::new(Mutex::new(true));
        let mut m = Maintenance::new(Arc::new(clock.clone())).with_job(
            "sweep",
            Duration::from_secs(60),
            recording(&calls, &failing),
        );
        let reports = m.run_due().await;
        assert_eq!(reports[0].removed(), None);
        assert_eq!(reports[0].error().map(ToString::to_string).as_deref(), Some("down"));
        clock.advance(Duration::from_secs(30));
        assert!(m.run_due().await.is_empty(), "not retried before its interval");
        *failing.lock().unwrap() = false;
        clock.advance(Duration::from_secs(30));
        assert_eq!(m.run_due().await[0].removed(), Some(1));
        assert_eq!(*calls.lock().unwrap(), vec![0, 60]);
    }

    #[tokio::test]
    async fn in_batches_stops_at_a_short_batch_or_an_error() {
        struct Case {
            name: &'static str,
            results: Vec<Result<u64, &'static str>>,
            want: Result<u64, &'static str>,
            calls: usize,
        }
        let cases = [
            Case { name: "one short batch", results: vec![Ok(3)], want: Ok(3), calls: 1 },
            Case { name: "full, full, short", results: vec![Ok(10), Ok(10), Ok(0)], want: Ok(20), calls: 3 },
            Case {
                name: "an error ends it",
                results: vec![Ok(10), Err("down"), Ok(10)],
                want: Err("down"),
                calls: 2,
            },
            Case { name: "nothing to do", results: vec![Ok(0)], want: Ok(0), calls: 1 },
        ];
        for Case { name, results, want, calls } in cases {
            let mut results = results.into_iter();
            let mut made = 0;
            let got = in_batches(10, || {
                made += 1;
                std::future::ready(results.next().unwrap_or(Ok(0)))
            })
            .await;
            assert_eq!(got, want, "{name}");
            assert_eq!(made, calls, "{name}");
        }
    }
}
