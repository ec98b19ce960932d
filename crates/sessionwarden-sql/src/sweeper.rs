//! The background task that deletes expired sessions.

use std::time::Duration;

use sessionwarden::{Clock as _, ExpiredDeletion, SystemClock};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Spawns a task that, every `interval`, deletes expired sessions from `store` in batches of
/// at most `batch` rows until none are left (yielding between batches, so one sweep never
/// holds the database's locks for long).
///
/// Expired sessions never load, swept or not: sweeping only reclaims space. Errors are
/// logged under the `sessionwarden::sweeper` target and retried at the next tick. Abort the
/// returned handle to stop the task; it must be called within a Tokio runtime.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), sessionwarden::StoreError> {
/// use std::time::Duration;
/// let store = sessionwarden_sql::SqliteStore::in_memory().await?;
/// let sweeper = sessionwarden_sql::spawn_sweeper(store, Duration::from_secs(60), 1_000);
/// sweeper.abort();
/// # Ok(()) }
/// ```
#[must_use = "dropping the handle detaches the sweeper; keep it to stop the task with abort()"]
pub fn spawn_sweeper<S: ExpiredDeletion>(store: S, interval: Duration, batch: usize) -> JoinHandle<()> {
    let batch = batch.max(1);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval.max(Duration::from_millis(1)));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = SystemClock.now();
            let mut total = 0u64;
            loop {
                match store.delete_expired(now, batch).await {
                    Ok(n) => {
                        total += n;
                        if n < batch as u64 {
                            break;
                        }
                        tokio::task::yield_now().await;
                    }
                    Err(e) => {
                        tracing::warn!(target: "sessionwarden::sweeper", error = %e, "sweep failed");
                        break;
                    }
                }
            }
            if total > 0 {
                tracing::debug!(target: "sessionwarden::sweeper", removed = total, "swept expired sessions");
            }
        }
    })
}
