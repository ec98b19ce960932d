//! Persistence in a server-side [`SessionStore`]: the cookie carries a sealed id, the store
//! keeps the record under the id's [`StoreKey`].
//!
//! Creating draws ids until one is free; saving is a compare-and-set on the record's version
//! that merges this request's [`Changes`] onto a newer record when it loses a race, through
//! the session's group-commit queue ([`super::commit`]); cycling moves the record to a new
//! key. Store errors are returned as they are: the caller fails the request closed on an
//! outage ([`super::state::State::settle`]).

use super::commit;
use super::state::{Changes, Ident, Live, Persisted, Phase};
use crate::error::{Error, StoreError};
use crate::events::SecurityEvent;
use crate::id::{SessionId, StoreKey};
use crate::layer::Shared;
use crate::record::Record;
use crate::store::{Admission, SaveOutcome, SessionLimit, SessionStore, UserSessionCap};
use crate::time::Timestamp;

/// How many times creating or cycling a session draws a new id before giving up (a taken
/// id has probability 2^-256: more than one retry means something else is wrong).
const MAX_SAVE_ATTEMPTS: u32 = 8;

/// How long a save keeps merging onto newer records and retrying before it gives up with
/// [`Error::Contention`]. With randomised backoff this carries a hundred concurrent writers
/// on one session, even on a remote store.
const SAVE_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// What a save at the end of the request left.
pub(super) enum Saved {
    /// Saved; send this cookie, if any.
    Cookie(Option<cookie::Cookie<'static>>),
    /// The session was destroyed or revoked meanwhile: never resurrect it.
    Gone,
}

/// Opens the presented cookie `value` into an id and loads its record.
///
/// # Errors
/// [`Error::Store`] if the store cannot load (or delete a corrupt record).
/// Refuses a record over the layer's limit for stored sessions.
///
/// # Errors
/// [`Error::SessionTooLarge`] when the stored form of `record` would exceed
/// [`Shared::max_session_size`].
pub(super) fn fits(shared: &Shared, record: &Record) -> Result<(), Error> {
    let limit = shared.max_session_size;
    // The stored form is what every later request reads and rewrites, so that is what is capped.
    let size = record.to_bytes().map(|b| b.len()).unwrap_or(usize::MAX);
    if size > limit {
        return Err(Error::SessionTooLarge { size, limit });
    }
    Ok(())
}

pub(super) async fn load(shared: &Shared, store: &dyn SessionStore, value: &str) -> Result<Phase, Error> {
    let now = shared.now();
    let opened =
        shared.ids.open(&shared.keyring.current(), shared.cookie.name(), value, now, &shared.seal_bound());
    let opened = match opened {
        Ok(o) => o,
        Err(reason) => return Ok(Phase::rejected(shared, reason)),
    };
    let ident = Ident::new(shared, opened.value);
    let key = ident.key;
    match store.load(&key, now).await {
        Ok(Some(record)) => {
            let version = record.version;
            let mut live = Live::new(record, Persisted::Stored { ident, version });
            live.resealed(shared, opened.resealed_from);
            Ok(Phase::Live(live))
        }
        // Unknown, expired, revoked or destroyed: a new session if written.
        Ok(None) => Ok(Phase::NoSession { stale_cookie: true }),
        Err(StoreError::Corrupt { .. }) => {
            shared.event(SecurityEvent::CorruptRecord { session: key.handle() });
            store.delete(&key).await?;
            Ok(Phase::NoSession { stale_cookie: true })
        }
        Err(e) => Err(e.into()),
    }
}

/// Gives `live` a new id. A stored record moves to the new key at once (the old id stops
/// loading); an unsaved one just gets its id drawn now.
///
/// # Errors
/// [`Error::Store`] if the store cannot move the record; [`Error::Contention`] if every id
/// drawn was taken.
pub(super) async fn cycle_id(
    shared: &Shared,
    store: &dyn SessionStore,
    live: &mut Live,
) -> Result<(), Error> {
    let (from, version) = match &live.persisted {
        Persisted::Stored { ident, version } => (ident.key, *version),
        Persisted::New { .. } | Persisted::Sealed => {
            live.persisted = Persisted::New { id: Some(Ident::generate(shared)?) };
            return Ok(());
        }
    };
    for _ in 0..MAX_SAVE_ATTEMPTS {
        let new = Ident::generate(shared)?;
        let to = new.key;
        if store.cycle(&from, &to).await? {
            shared.event(SecurityEvent::SessionRotated { from: from.handle(), to: to.handle() });
            live.persisted = Persisted::Stored { ident: new, version };
            return Ok(());
        }
        // Either the new id collided (2^-256) or the old record vanished (revoked or expired
        // meanwhile): then start over as a new session.
        if store.load(&from, shared.now()).await?.is_none() {
            live.persisted = Persisted::New { id: Some(new) };
            return Ok(());
        }
    }
    Err(Error::Contention { attempts: MAX_SAVE_ATTEMPTS })
}

/// Stores the just-logged-in `live` at once, under a fresh id, so the user's sessions in the
/// store include it before the login returns: through the session cap's atomic
/// [`UserSessionCap::admit`] when `cap` is set, otherwise by a plain create. The pre-login
/// record (if stored) is deleted: the new id replaces it, as [`cycle_id`] would.
///
/// Changes saved to the pre-login record by concurrent requests after this one loaded it are
/// not carried over (they belong to the anonymous session the login ends).
///
/// # Errors
/// [`Error::TooManySessions`] when `cap` refuses (nothing changed); [`Error::Store`];
/// [`Error::Contention`] if every id drawn was taken.
pub(super) async fn store_login(
    shared: &Shared,
    store: &dyn SessionStore,
    cap: Option<(SessionLimit, &dyn UserSessionCap)>,
    live: &mut Live,
) -> Result<(), Error> {
    let now = shared.now();
    let replaces = match &live.persisted {
        Persisted::Stored { ident, .. } => Some(ident.key),
        Persisted::New { .. } | Persisted::Sealed => None,
    };
    let mut record = live.record.clone();
    record.touch(now, &shared.expiry);
    record.version = 1;
    fits(shared, &record)?;
    let user = record.user.clone().unwrap_or_default();
    for _ in 0..MAX_SAVE_ATTEMPTS {
        let ident = Ident::generate(shared)?;
        let key = ident.key;
        let admitted = match cap {
            Some((limit, cap)) => match cap.admit(&key, &record, replaces.as_ref(), limit, now).await? {
                Admission::Admitted { evicted } => {
                    for session in evicted {
                        shared.event(SecurityEvent::SessionEvicted { session, user: user.clone() });
                    }
                    true
                }
                Admission::Refused => return Err(Error::TooManySessions),
                // Taken, and any outcome this version does not know: nothing was written.
                _ => false,
            },
            None => {
                let created = store.create(&key, &record).await?;
                if created && let Some(old) = &replaces {
                    store.delete(old).await?;
                }
                created
            }
        };
        if !admitted {
            continue;
        }
        match replaces {
            Some(from) => {
                shared.event(SecurityEvent::SessionRotated { from: from.handle(), to: key.handle() })
            }
            None => shared.event(SecurityEvent::SessionCreated { session: key.handle() }),
        }
        live.record = record;
        live.persisted = Persisted::Stored { ident, version: 1 };
        // Everything this request changed so far is in the stored record.
        live.changes = Changes::default();
        live.reissue = true;
        return Ok(());
    }
    Err(Error::Contention { attempts: MAX_SAVE_ATTEMPTS })
}

/// Deletes the stored record under `key`.
///
/// # Errors
/// [`Error::Store`] if the store cannot delete it.
pub(super) async fn destroy(shared: &Shared, store: &dyn SessionStore, key: StoreKey) -> Result<(), Error> {
    store.delete(&key).await?;
    shared.event(SecurityEvent::SessionDestroyed { session: key.handle() });
    Ok(())
}

/// Writes `live` (`touch`: its data changed or its idle deadline is renewed) and returns the
/// cookie to send: always for a new session, otherwise only if it must be re-issued.
///
/// # Errors
/// [`Error::Store`] if the store fails; [`Error::Contention`] if the save kept losing races.
pub(super) async fn persist(
    shared: &Shared,
    store: &dyn SessionStore,
    live: &mut Live,
    touch: bool,
) -> Result<Saved, Error> {
    let now = shared.now();
    if touch {
        live.record.touch(now, &shared.expiry);
    }
    let id = match &mut live.persisted {
        Persisted::New { id } => id.take(),
        // A sealed record on a server-side backend was never stored here: create it.
        Persisted::Sealed => None,
        Persisted::Stored { ident, version } => {
            if touch {
                let record = live.record.clone();
                match save_grouped(shared, store, ident.key, record, *version, &live.changes).await? {
                    Some(saved) => {
                        *version = saved.version;
                        live.record = saved;
                    }
                    None => return Ok(Saved::Gone),
                }
            }
            if !live.reissue {
                return Ok(Saved::Cookie(None));
            }
            return Ok(Saved::Cookie(Some(issue(shared, &ident.id, &live.record, now)?)));
        }
    };
    let (ident, record) = create(shared, store, &live.record, id).await?;
    let cookie = issue(shared, &ident.id, &record, now)?;
    live.record = record;
    live.persisted = Persisted::Stored { ident, version: 1 };
    live.reissue = true;
    Ok(Saved::Cookie(Some(cookie)))
}

/// The cookie that carries `id`.
fn issue(
    shared: &Shared,
    id: &SessionId,
    record: &Record,
    now: Timestamp,
) -> Result<cookie::Cookie<'static>, Error> {
    let sealed = shared.ids.seal(&shared.keyring.current(), shared.cookie.name(), id, now)?;
    Ok(shared.cookie.build(sealed, shared.max_age(record, now)))
}

/// Creates the record under `id` (or a fresh one): collision-safe, a taken id (2^-256) just
/// draws another. Returns the id and the record as stored (version 1).
async fn create(
    shared: &Shared,
    store: &dyn SessionStore,
    record: &Record,
    mut id: Option<Ident>,
) -> Result<(Ident, Record), Error> {
    let mut record = record.clone();
    record.version = 1;
    let mut attempts = 0;
    loop {
        let ident = match id.take() {
            Some(ident) => ident,
            None => Ident::generate(shared)?,
        };
        let key = ident.key;
        if store.create(&key, &record).await? {
            shared.event(SecurityEvent::SessionCreated { session: key.handle() });
            return Ok((ident, record));
        }
        attempts += 1;
        if attempts >= MAX_SAVE_ATTEMPTS {
            return Err(Error::Contention { attempts });
        }
    }
}

/// Saves this request's `changes` to a stored session through the session's group-commit
/// queue ([`commit`]): either as the leader of a batch, or by waiting for the leader whose
/// batch carried them. Returns the record as saved, or `None` if the session is gone.
async fn save_grouped(
    shared: &Shared,
    store: &dyn SessionStore,
    key: StoreKey,
    mut record: Record,
    mut expected: u64,
    changes: &Changes,
) -> Result<Option<Record>, Error> {
    let now = shared.now();
    let leader = loop {
        match shared.save_queues.join(key, changes) {
            commit::Join::Lead(leader) => break leader,
            commit::Join::Wait(turn) => match turn.await {
                Ok(commit::Turn::Done(outcome)) => return settle(outcome),
                Ok(commit::Turn::Lead(mut leader)) => {
                    if let Some(latest) = leader.latest.take() {
                        // Start from what the previous leader saved: no stale first try.
                        expected = latest.version;
                        record = latest;
                        changes.apply(&mut record);
                        record.touch(now, &shared.expiry);
                    }
                    break leader;
                }
                // The leader's request was cancelled before it answered: queue again.
                Err(_) => {}
            },
        }
    };
    let mut leader = leader;
    let batch = leader.take_batch();
    for queued in &batch {
        queued.changes.apply(&mut record);
    }
    if !batch.is_empty() {
        record.touch(now, &shared.expiry);
    }
    let only_renewal = changes.is_empty() && batch.iter().all(|q| q.changes.is_empty());
    let mut attempts = 0;
    let started = std::time::Instant::now();
    let outcome = loop {
        record.version = expected + 1;
        match store.save(&key, &record, expected).await {
            Ok(SaveOutcome::Saved) => break commit::Outcome::Saved(record),
            Ok(SaveOutcome::Conflict(newer)) => {
                if only_renewal {
                    // Only a renewal: the other writer renewed it too.
                    break commit::Outcome::Saved(newer);
                }
                // Lost a race with another process: replay every change of the batch, in
                // order, onto the newer record.
                expected = newer.version;
                record = newer;
                changes.apply(&mut record);
                for queued in &batch {
                    queued.changes.apply(&mut record);
                }
                record.touch(now, &shared.expiry);
                // A first conflict is retried at once; repeated ones back off.
                if attempts > 0 {
                    backoff(attempts - 1).await;
                }
            }
            Ok(SaveOutcome::Missing) => break commit::Outcome::Missing,
            Err(e) => break commit::Outcome::from_error(&e),
        }
        attempts += 1;
        if started.elapsed() > SAVE_RETRY_BUDGET {
            break commit::Outcome::Contention(attempts);
        }
    };
    if let commit::Outcome::Saved(saved) = &outcome {
        leader.latest = Some(saved.clone());
    }
    for queued in batch {
        queued.answer(outcome.clone());
    }
    // Hands the lead (and the saved record) to the next writer, if one is waiting.
    drop(leader);
    settle(outcome)
}

/// This request's result from a batch's outcome.
fn settle(outcome: commit::Outcome) -> Result<Option<Record>, Error> {
    match outcome {
        commit::Outcome::Saved(record) => Ok(Some(record)),
        commit::Outcome::Missing => Ok(None),
        commit::Outcome::Unavailable(operation, message) => {
            Err(Error::Store(StoreError::unavailable(operation, message)))
        }
        commit::Outcome::Corrupt(reason) => Err(Error::Store(StoreError::Corrupt { reason })),
        commit::Outcome::Contention(attempts) => Err(Error::Contention { attempts }),
    }
}

/// Sleeps a random time that grows with `attempt` (up to ~13 ms), so writers that keep
/// colliding spread out instead of retrying in lockstep.
async fn backoff(attempt: u32) {
    let cap_us = 100u64 << attempt.min(7);
    let jitter = getrandom::u64().unwrap_or(cap_us / 2) % cap_us;
    tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
}
