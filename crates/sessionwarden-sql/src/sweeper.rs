//! The background task that deletes expired sessions: a one-job
//! [`Maintenance`](sessionwarden_core::maintenance::Maintenance) on the system clock.

use std::sync::Arc;
use std::time::Duration;

use sessionwarden_core::maintenance::{Maintenance, in_batches};
use sessionwarden_core::{ExpiredDeletion, SystemClock};
use tokio::task::JoinHandle;

/// Spawns a task that, every `interval`, deletes expired sessions from `store` in batches of
/// at most `batch` rows until none are left (yielding between batches, so one sweep never
/// holds the database's locks for long).
///
/// Expired sessions never load, swept or not: sweeping only reclaims space. Errors are
/// logged under the `sessionwarden_core::maintenance` target and retried at the next interval.
/// Abort the returned handle to stop the task; it must be called within a Tokio runtime. To
/// run the sweep beside other periodic jobs, or off another clock, register it on a
/// [`Maintenance`] yourself.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sessionwarden_core::StoreError> {
/// use std::time::Duration;
/// let store = sessionwarden_sql::SqliteStore::in_memory().await?;
/// let sweeper = sessionwarden_sql::spawn_sweeper(store, Duration::from_secs(60), 1_000);
/// sweeper.abort();
/// # Ok(()) }
/// ```
#[must_use = "dropping the handle detaches the sweeper; keep it to stop the task with abort()"]
pub fn spawn_sweeper<S: ExpiredDeletion>(store: S, interval: Duration, batch: usize) -> JoinHandle<()> {
    let batch = batch.max(1);
    let store = Arc::new(store);
    Maintenance::new(Arc::new(SystemClock))
        .with_job("session sweep", interval, move |now| {
            let store = store.clone();
            async move { in_batches(batch, || store.delete_expired(now, batch)).await }
        })
        // Whole seconds are the clock's resolution; look at it at least that often.
        .spawn(interval.clamp(Duration::from_millis(1), Duration::from_secs(1)))
}
