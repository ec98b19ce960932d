//! The session handle handlers use.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::envelope::MAX_COOKIE_SIZE;
use crate::error::{Error, StoreError};
use crate::events::{CookieRejectReason, ExpiryKind, SecurityEvent};
use crate::id::{SessionHandle, SessionId, StoreKey};
use crate::layer::Shared;
use crate::record::{ClientSummary, Data, Record};
use crate::store::{Backend, SaveOutcome};

mod commit;

pub(crate) use self::commit::SaveQueues;

/// How many times creating or cycling a session draws a new id before giving up (a taken
/// id has probability 2^-256: more than one retry means something else is wrong).
const MAX_SAVE_ATTEMPTS: u32 = 8;

/// How long a save keeps merging onto newer records and retrying before it gives up with
/// [`Error::Contention`]. With randomised backoff this carries a hundred concurrent writers
/// on one session, even on a remote store.
const SAVE_RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// Sleeps a random time that grows with `attempt` (up to ~13 ms), so writers that keep
/// colliding spread out instead of retrying in lockstep.
async fn backoff(attempt: u32) {
    let cap_us = 100u64 << attempt.min(7);
    let jitter = getrandom::u64().unwrap_or(cap_us / 2) % cap_us;
    tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
}

/// The current request's session. Cheap to clone; clones share one state.
///
/// Lazy: nothing is read (no store round trip, not even a MAC check) until a handler first
/// touches the session. Saved once, after the handler, and only if something changed or the
/// idle deadline is due for renewal. A visitor whose session is never written gets no cookie.
///
/// ```
/// use axum::{Router, routing::get};
/// use sessionwarden::{Session, SessionLayer, MemoryStore, keyring::{Keyring, KeySet}, Timestamp};
///
/// async fn visit(session: Session) -> Result<String, sessionwarden::Error> {
///     let n: u64 = session.get("visits").await?.unwrap_or(0) + 1;
///     session.insert("visits", n).await?;
///     Ok(format!("visit {n}"))
/// }
///
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let app: Router = Router::new()
///     .route("/", get(visit))
///     .layer(SessionLayer::new(MemoryStore::default(), keyring));
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    state: Mutex<State>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session(..)")
    }
}

/// A session id with its store key, derived once per request (the key is a hash of the id,
/// needed by every load, save, cycle and delete of the request).
struct Ident {
    id: SessionId,
    key: StoreKey,
}

impl Ident {
    fn new(shared: &Shared, id: SessionId) -> Self {
        let key = shared.ids.store_key(&id);
        Self { id, key }
    }

    fn generate(shared: &Shared) -> Result<Self, Error> {
        Ok(Self::new(shared, SessionId::try_generate()?))
    }
}

/// Changes this request made, kept apart from the record so a save that lost a race can
/// replay them onto the newer record.
#[derive(Default, Clone)]
pub(crate) struct Changes {
    cleared: bool,
    data: HashMap<String, Option<Value>>,
    user: Option<Option<String>>,
    persistent: Option<bool>,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        !self.cleared && self.data.is_empty() && self.user.is_none() && self.persistent.is_none()
    }

    pub(crate) fn apply(&self, record: &mut Record) {
        if self.cleared {
            record.data.clear();
        }
        for (k, v) in &self.data {
            match v {
                Some(v) => {
                    record.data.insert(k.clone(), v.clone());
                }
                None => {
                    record.data.remove(k);
                }
            }
        }
        if let Some(user) = &self.user {
            record.user.clone_from(user);
        }
        if let Some(p) = self.persistent {
            record.persistent = p;
        }
    }
}

pub(crate) struct State {
    /// The presented cookie value, until it is opened.
    cookie: Option<String>,
    /// The client's `User-Agent`, summarised only if a new session is recorded.
    user_agent: Option<http::HeaderValue>,
    loaded: bool,
    /// The session's id and store key (server-side stores). For cookie stores this stays
    /// `None`.
    id: Option<Ident>,
    /// The record as this request sees it (stored record + this request's changes).
    record: Option<Record>,
    /// Version in the store; `None` until the record is persisted.
    stored_version: Option<u64>,
    changes: Changes,
    /// The cookie must be (re)issued: new id, re-seal under the primary key.
    reissue: bool,
    destroyed: bool,
    /// A cookie was presented but rejected: remove it if nothing replaces it.
    stale_cookie: bool,
    pub(crate) touched: bool,
    /// The store failed during this request: the layer answers 503 whatever the handler did.
    pub(crate) store_failed: Option<&'static str>,
}

/// What the layer must do to the response after the handler ran.
pub(crate) enum Finish {
    /// Nothing: the session was never touched.
    Untouched,
    /// Touched; maybe a `Set-Cookie`.
    Touched(Option<cookie::Cookie<'static>>),
    /// The store failed: answer 503.
    Unavailable,
    /// The session could not be written (cookie too large): answer 500.
    Failed(Error),
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cookie: Option<String>,
        user_agent: Option<http::HeaderValue>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                state: Mutex::new(State {
                    cookie,
                    user_agent,
                    loaded: false,
                    id: None,
                    record: None,
                    stored_version: None,
                    changes: Changes::default(),
                    reissue: false,
                    destroyed: false,
                    stale_cookie: false,
                    touched: false,
                    store_failed: None,
                }),
            }),
        }
    }

    /// What the session layer shares with this request (keyring, clock, events, cookie).
    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Reads `key` as `T`. `Ok(None)` if the key (or the session) does not exist.
    ///
    /// # Errors
    /// [`Error::Deserialize`] if the value is not a `T`; [`Error::Store`] if the store
    /// cannot be reached.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.get_value(key).await? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|source| Error::Deserialize { key: key.to_owned(), source }),
        }
    }

    /// Reads `key` as raw JSON.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, Error> {
        let st = self.loaded().await?;
        Ok(st.record.as_ref().and_then(|r| r.data.get(key).cloned()))
    }

    /// Sets `key` to `value`, creating the session if there is none.
    ///
    /// # Errors
    /// [`Error::Serialize`] if `value` does not serialise; [`Error::ValueTooDeep`] if it nests
    /// deeper than [`crate::MAX_VALUE_DEPTH`]; [`Error::CookieTooLarge`] with the
    /// cookie store if the session would no longer fit in a cookie (the change is not
    /// applied); [`Error::Store`] if the store cannot be reached.
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value =
            serde_json::to_value(value).map_err(|source| Error::Serialize { key: key.to_owned(), source })?;
        crate::check_value_depth(key, &value)?;
        let mut st = self.loaded().await?;
        let shared = &self.inner.shared;
        let record = st.record_or_new(shared);
        let previous = record.data.insert(key.to_owned(), value.clone());
        if let Err(e) = shared.check_cookie_size(record) {
            // Undo: the session stays as it was.
            match previous {
                Some(p) => record.data.insert(key.to_owned(), p),
                None => record.data.remove(key),
            };
            return Err(e);
        }
        st.changes.data.insert(key.to_owned(), Some(value));
        Ok(())
    }

    /// Removes `key`, returning its value as `T` if it was there.
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let mut st = self.loaded().await?;
        let Some(old) = st.record.as_mut().and_then(|r| r.data.remove(key)) else {
            return Ok(None);
        };
        st.changes.data.insert(key.to_owned(), None);
        serde_json::from_value(old)
            .map(Some)
            .map_err(|source| Error::Deserialize { key: key.to_owned(), source })
    }

    /// Removes every key (the session itself, its id and user stay).
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn clear(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        if let Some(r) = st.record.as_mut() {
            r.data.clear();
            st.changes.cleared = true;
            st.changes.data.clear();
        }
        Ok(())
    }

    /// A copy of the session's data (empty without a session).
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn data(&self) -> Result<Data, Error> {
        let st = self.loaded().await?;
        Ok(st.record.as_ref().map(|r| r.data.clone()).unwrap_or_default())
    }

    /// The authenticated user recorded by [`Session::set_user`], if any.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn user(&self) -> Result<Option<String>, Error> {
        let st = self.loaded().await?;
        Ok(st.record.as_ref().and_then(|r| r.user.clone()))
    }

    /// Records the authenticated user (at login) or clears it. Call [`Session::cycle_id`]
    /// in the same request: a login must never keep a pre-login id (session fixation).
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn set_user(&self, user: Option<&str>) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = &self.inner.shared;
        let record = st.record_or_new(shared);
        record.user = user.map(str::to_owned);
        st.changes.user = Some(user.map(str::to_owned));
        Ok(())
    }

    /// Makes the cookie persistent (outliving the browser session) or not.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn set_persistent(&self, persistent: bool) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = &self.inner.shared;
        st.record_or_new(shared).persistent = persistent;
        st.changes.persistent = Some(persistent);
        st.reissue = true;
        Ok(())
    }

    /// The session's opaque handle (for listings and revocation), if it has been stored.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn handle(&self) -> Result<Option<SessionHandle>, Error> {
        let st = self.loaded().await?;
        Ok(st.id.as_ref().filter(|_| st.stored_version.is_some()).map(|ident| ident.key.handle()))
    }

    /// Replaces the session id, keeping its data. Call this on login and privilege change.
    /// The old id stops loading at once; the new cookie goes out with this response.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot move the record.
    ///
    /// ```
    /// # async fn f(session: sessionwarden::Session) -> Result<(), sessionwarden::Error> {
    /// session.cycle_id().await?;
    /// # Ok(()) }
    /// ```
    pub async fn cycle_id(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = self.inner.shared.clone();
        st.record_or_new(&shared);
        st.reissue = true;
        let Backend::Server(store) = &shared.backend else {
            // A cookie store has no id: re-sealing gives a fresh cookie. Old copies stay
            // valid until their deadline (see CookieStore's limits).
            return Ok(());
        };
        let Some(from) = st.id.as_ref().map(|ident| ident.key) else {
            st.id = Some(Ident::generate(&shared)?);
            return Ok(());
        };
        if st.stored_version.is_none() {
            st.id = Some(Ident::generate(&shared)?);
            return Ok(());
        }
        for _ in 0..MAX_SAVE_ATTEMPTS {
            let new = Ident::generate(&shared)?;
            let to = new.key;
            match store.cycle(&from, &to).await {
                Ok(true) => {
                    shared.event(SecurityEvent::SessionRotated { from: from.handle(), to: to.handle() });
                    st.id = Some(new);
                    return Ok(());
                }
                Ok(false) => {
                    // Either the new id collided (2^-256) or the old record vanished
                    // (revoked or expired meanwhile): then start over as a new session.
                    if store.load(&from, shared.now()).await.map_err(|e| st.fail(&shared, e))?.is_none() {
                        st.stored_version = None;
                        st.id = Some(new);
                        return Ok(());
                    }
                }
                Err(e) => return Err(st.fail(&shared, e)),
            }
        }
        Err(Error::Contention { attempts: MAX_SAVE_ATTEMPTS })
    }

    /// Ends the session: deletes it from the store and expires the cookie.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot delete the record.
    pub async fn destroy(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = self.inner.shared.clone();
        if let (Backend::Server(store), Some(ident)) = (&shared.backend, &st.id) {
            if st.stored_version.is_some() {
                let key = ident.key;
                store.delete(&key).await.map_err(|e| st.fail(&shared, e))?;
                shared.event(SecurityEvent::SessionDestroyed { session: key.handle() });
            }
        } else if st.record.is_some() && st.cookie.is_none() {
            // cookie store: nothing server-side
        }
        let had_session = st.record.is_some() || st.stale_cookie || st.cookie.is_some();
        st.record = None;
        st.id = None;
        st.stored_version = None;
        st.changes = Changes::default();
        st.destroyed = had_session;
        Ok(())
    }

    /// Loads the session on first use; returns the locked state.
    async fn loaded(&self) -> Result<tokio::sync::MutexGuard<'_, State>, Error> {
        let mut st = self.inner.state.lock().await;
        st.touched = true;
        if !st.loaded {
            st.load(&self.inner.shared).await?;
            st.loaded = true;
        }
        Ok(st)
    }

    pub(crate) async fn finish(&self) -> Finish {
        let mut st = self.inner.state.lock().await;
        if !st.touched {
            return Finish::Untouched;
        }
        if st.store_failed.is_some() {
            return Finish::Unavailable;
        }
        match st.persist(&self.inner.shared).await {
            Ok(cookie) => Finish::Touched(cookie),
            // Contention is transient overload: 503 with Retry-After, like an outage.
            Err(Error::Store(StoreError::Unavailable { .. }) | Error::Contention { .. }) => {
                Finish::Unavailable
            }
            Err(e) => Finish::Failed(e),
        }
    }
}

impl State {
    fn record_or_new(&mut self, shared: &Shared) -> &mut Record {
        if self.record.is_none() {
            let mut record = Record::new(shared.now(), &shared.expiry);
            record.client = self.user_agent.take().map(|ua| client_summary(&ua));
            self.record = Some(record);
            self.stored_version = None;
            self.destroyed = false;
        }
        // invariant: set just above when it was None
        self.record.as_mut().expect("record present")
    }

    fn fail(&mut self, shared: &Shared, e: StoreError) -> Error {
        match &e {
            StoreError::Unavailable { operation, .. } => {
                self.store_failed = Some(operation);
                shared.event(SecurityEvent::StoreUnavailable { operation });
            }
            StoreError::Corrupt { .. } => {}
        }
        Error::Store(e)
    }

    fn reject(&mut self, shared: &Shared, reason: CookieRejectReason) {
        self.stale_cookie = true;
        shared.event(SecurityEvent::CookieRejected { reason });
    }

    async fn load(&mut self, shared: &Shared) -> Result<(), Error> {
        let Some(value) = self.cookie.take() else {
            return Ok(());
        };
        let now = shared.now();
        let name = shared.cookie.name();
        let resealed_from = match &shared.backend {
            Backend::Cookie(store) => {
                let opened = store.codec().open(&shared.keyring.current(), name, &value, now, &shared.expiry);
                let opened = match opened {
                    Ok(o) => o,
                    Err(r) => {
                        self.reject(shared, r);
                        return Ok(());
                    }
                };
                let record = opened.value;
                if record.is_expired(now) {
                    self.expired(shared, &record, now);
                    return Ok(());
                }
                self.stored_version = Some(record.version);
                self.record = Some(record);
                opened.resealed_from
            }
            Backend::Server(store) => {
                let opened = shared.ids.open(&shared.keyring.current(), name, &value, now, &shared.expiry);
                let opened = match opened {
                    Ok(o) => o,
                    Err(r) => {
                        self.reject(shared, r);
                        return Ok(());
                    }
                };
                let ident = Ident::new(shared, opened.value);
                let key = ident.key;
                match store.load(&key, now).await {
                    Ok(Some(record)) => {
                        self.stored_version = Some(record.version);
                        self.record = Some(record);
                        self.id = Some(ident);
                    }
                    Ok(None) => {
                        // Unknown, expired, revoked or destroyed: a new session if written.
                        self.stale_cookie = true;
                    }
                    Err(StoreError::Corrupt { .. }) => {
                        shared.event(SecurityEvent::CorruptRecord { session: key.handle() });
                        self.stale_cookie = true;
                        store.delete(&key).await.map_err(|e| self.fail(shared, e))?;
                    }
                    Err(e) => return Err(self.fail(shared, e)),
                }
                opened.resealed_from
            }
        };
        if let Some(from_kid) = resealed_from.filter(|_| self.record.is_some()) {
            self.reissue = true;
            shared.event(SecurityEvent::CookieResealed { from_kid });
        }
        Ok(())
    }

    fn expired(&mut self, shared: &Shared, record: &Record, now: crate::Timestamp) {
        let deadline = match record.absolute_deadline {
            Some(t) if t <= now => ExpiryKind::Absolute,
            _ => ExpiryKind::Idle,
        };
        self.stale_cookie = true;
        shared.event(SecurityEvent::SessionExpired { deadline });
    }

    /// Writes what changed; returns the `Set-Cookie` to send, if any.
    async fn persist(&mut self, shared: &Shared) -> Result<Option<cookie::Cookie<'static>>, Error> {
        let now = shared.now();
        let Some(record) = self.record.as_mut() else {
            return Ok((self.destroyed || self.stale_cookie).then(|| shared.cookie.removal()));
        };
        let due = now.unix() - record.last_seen.unix()
            >= i64::try_from(shared.expiry.renew_interval().as_secs()).unwrap_or(i64::MAX);
        let changed = !self.changes.is_empty();
        if self.stored_version.is_none() && !changed && !self.reissue {
            // A session that was only read or emptied: never create it.
            return Ok(self.stale_cookie.then(|| shared.cookie.removal()));
        }
        if !changed && !due && !self.reissue {
            return Ok(None);
        }
        if changed || due {
            record.touch(now, &shared.expiry);
        }
        match &shared.backend {
            Backend::Cookie(store) => {
                record.version += 1;
                let sealed =
                    store.codec().seal(&shared.keyring.current(), shared.cookie.name(), record, now)?;
                if self.stored_version.is_none() {
                    shared.event(SecurityEvent::SessionCreated { session: cookie_handle(&sealed) });
                }
                Ok(Some(shared.cookie.build(sealed, shared.max_age(record, now))))
            }
            Backend::Server(store) => {
                let store = store.clone();
                self.persist_server(shared, &*store, changed || due).await
            }
        }
    }

    async fn persist_server(
        &mut self,
        shared: &Shared,
        store: &dyn crate::SessionStore,
        write: bool,
    ) -> Result<Option<cookie::Cookie<'static>>, Error> {
        let now = shared.now();
        // invariant: persist() returned early when there is no record
        let mut record = self.record.clone().expect("record present");
        match self.stored_version {
            None => {
                // Create: collision-safe; a taken id (2^-256) just draws another.
                record.version = 1;
                let mut attempts = 0;
                loop {
                    let ident = match self.id.take() {
                        Some(ident) => ident,
                        None => Ident::generate(shared)?,
                    };
                    let key = ident.key;
                    if store.create(&key, &record).await.map_err(|e| self.fail(shared, e))? {
                        shared.event(SecurityEvent::SessionCreated { session: key.handle() });
                        self.id = Some(ident);
                        self.stored_version = Some(record.version);
                        break;
                    }
                    attempts += 1;
                    if attempts >= MAX_SAVE_ATTEMPTS {
                        return Err(Error::Contention { attempts });
                    }
                }
                self.reissue = true;
            }
            Some(expected) if write => {
                // invariant: a stored record always has an id
                let key = self.id.as_ref().expect("stored session has an id").key;
                match self.save_grouped(shared, store, key, record, expected).await? {
                    Some(saved) => record = saved,
                    None => {
                        // Destroyed or revoked meanwhile: never resurrect it.
                        self.record = None;
                        self.stored_version = None;
                        return Ok(Some(shared.cookie.removal()));
                    }
                }
                self.stored_version = Some(record.version);
            }
            Some(_) => {}
        }
        self.record = Some(record);
        if !self.reissue {
            return Ok(None);
        }
        let id = &self.id.as_ref().expect("persisted session has an id").id;
        let sealed = shared.ids.seal(&shared.keyring.current(), shared.cookie.name(), id, now)?;
        // invariant: set just above
        let record = self.record.as_ref().expect("record present");
        Ok(Some(shared.cookie.build(sealed, shared.max_age(record, now))))
    }
}

impl State {
    /// Saves this request's changes to a stored session through the session's group-commit
    /// queue ([`commit`]): either as the leader of a batch, or by waiting for the leader whose
    /// batch carried them. Returns the record as saved, or `None` if the session is gone.
    async fn save_grouped(
        &mut self,
        shared: &Shared,
        store: &dyn crate::SessionStore,
        key: StoreKey,
        mut record: Record,
        mut expected: u64,
    ) -> Result<Option<Record>, Error> {
        let now = shared.now();
        let leader = loop {
            match shared.save_queues.join(key, &self.changes) {
                commit::Join::Lead(leader) => break leader,
                commit::Join::Wait(turn) => match turn.await {
                    Ok(commit::Turn::Done(outcome)) => return self.settle(shared, outcome),
                    Ok(commit::Turn::Lead(mut leader)) => {
                        if let Some(latest) = leader.latest.take() {
                            // Start from what the previous leader saved: no stale first try.
                            expected = latest.version;
                            record = latest;
                            self.changes.apply(&mut record);
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
        let only_renewal = self.changes.is_empty() && batch.iter().all(|q| q.changes.is_empty());
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
                    // Lost a race with another process: replay every change of the batch,
                    // in order, onto the newer record.
                    expected = newer.version;
                    record = newer;
                    self.changes.apply(&mut record);
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
        self.settle(shared, outcome)
    }

    /// This request's result from a batch's outcome.
    fn settle(&mut self, shared: &Shared, outcome: commit::Outcome) -> Result<Option<Record>, Error> {
        match outcome {
            commit::Outcome::Saved(record) => Ok(Some(record)),
            commit::Outcome::Missing => Ok(None),
            commit::Outcome::Unavailable(operation, message) => {
                Err(self.fail(shared, StoreError::unavailable(operation, message)))
            }
            commit::Outcome::Corrupt(reason) => Err(self.fail(shared, StoreError::Corrupt { reason })),
            commit::Outcome::Contention(attempts) => Err(Error::Contention { attempts }),
        }
    }
}

/// A coarse summary of the client, made once per new session (not per request).
fn client_summary(user_agent: &http::HeaderValue) -> ClientSummary {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(user_agent.as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    ClientSummary { ip_prefix: None, user_agent_hash: Some(hash) }
}

/// A handle for a cookie-store session: a hash of its first sealed value.
fn cookie_handle(sealed: &str) -> SessionHandle {
    use sha2::Digest as _;
    let digest: [u8; 32] = sha2::Sha256::digest(sealed.as_bytes()).into();
    StoreKey::from_bytes(digest).handle()
}

impl crate::layer::Shared {
    /// Refuses records that would not fit in a cookie (cookie store only).
    pub(crate) fn check_cookie_size(&self, record: &Record) -> Result<(), Error> {
        let Backend::Cookie(store) = &self.backend else {
            return Ok(());
        };
        let Ok(json) = serde_json::to_vec(record) else { return Ok(()) };
        let Some(sealed) = store.codec().sealed_size(json.len()) else { return Ok(()) };
        let size = self.cookie.name().len() + 1 + sealed;
        if size > MAX_COOKIE_SIZE {
            return Err(Error::CookieTooLarge { size, limit: MAX_COOKIE_SIZE });
        }
        Ok(())
    }
}
