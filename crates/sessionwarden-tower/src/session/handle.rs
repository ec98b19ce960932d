//! The handle handlers use: [`Session`]. Each method locks the request's [`State`], loads
//! it on first use, and hands the backend's I/O to `cookie_store` or `server_store`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

use super::server_store::Saved;
use super::state::{ClientInputs, Persisted, Phase, Plan, Presented, State};
use super::{cookie_store, server_store};
use crate::error::{Error, StoreError};
use crate::events::RequestScope;
use crate::id::SessionHandle;
use crate::layer::Shared;
use crate::record::Data;
use crate::store::Backend;

/// The current request's session. Cheap to clone; clones share one state.
///
/// Lazy: nothing is read (no store round trip, not even a MAC check) until a handler first
/// touches the session. Saved once, after the handler, and only if something changed or the
/// idle deadline is due for renewal. A visitor whose session is never written gets no cookie.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
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
    /// The request, for the context of the events it records.
    scope: Arc<RequestScope>,
    /// The response carries a secret (a CSRF token): no cache may keep it.
    uncacheable: AtomicBool,
    /// The risk rule that revoked the session in this request, if one did.
    revoked_by: std::sync::OnceLock<crate::risk::RiskRule>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session(..)")
    }
}

/// The handle of a session kept in a server-side store.
fn stored_handle(live: &super::state::Live) -> Option<SessionHandle> {
    match &live.persisted {
        Persisted::Stored { ident, .. } => Some(ident.key.handle()),
        Persisted::New { .. } | Persisted::Sealed => None,
    }
}

/// The request's client as the risk rules read it.
fn observed(client: &ClientInputs) -> crate::risk::Observed<'_> {
    crate::risk::Observed {
        addr: client.addr(),
        user_agent: client.user_agent().map(http::HeaderValue::as_bytes),
    }
}

/// See [`Session::throttle_facts`].
#[cfg(feature = "throttle")]
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ThrottleFacts {
    pub(crate) stale_cookie: bool,
    pub(crate) creates_session: bool,
}

/// What the layer must do to the response after the handler ran.
pub(crate) enum Finish {
    /// Nothing: the session was never touched.
    Untouched,
    /// Touched; maybe a `Set-Cookie`.
    Touched {
        /// The `Set-Cookie` to send, if any.
        cookie: Option<cookie::Cookie<'static>>,
        /// The response carries a secret besides the cookie (a CSRF token).
        uncacheable: bool,
    },
    /// The store failed: answer 503.
    Unavailable,
    /// A write did not fit in a cookie: nothing was saved; answer 413.
    TooLarge,
    /// The session could not be written: answer 500.
    Failed(Error),
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        cookie: Presented,
        client: ClientInputs,
        scope: Arc<RequestScope>,
    ) -> Self {
        let state = Mutex::new(State::new(cookie, client));
        Self {
            inner: Arc::new(Inner {
                shared,
                state,
                scope,
                uncacheable: AtomicBool::new(false),
                revoked_by: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Marks the response as carrying a secret of this session (a CSRF token): it gets
    /// `Cache-Control: no-store`.
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))] // the CSRF token issuer calls it
    pub(crate) fn mark_uncacheable(&self) {
        self.inner.uncacheable.store(true, Ordering::Relaxed);
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
        Ok(st.live().and_then(|l| l.record.data.get(key).cloned()))
    }

    /// Sets `key` to `value`, creating the session if there is none.
    ///
    /// # Errors
    /// [`Error::Serialize`] if `value` does not serialise; [`Error::ValueTooDeep`] if it nests
    /// deeper than [`crate::MAX_VALUE_DEPTH`]; [`Error::CookieTooLarge`] with the
    /// cookie store if the session would no longer fit in a cookie, and
    /// [`Error::SessionTooLarge`] with a server-side store if it would exceed the layer's
    /// limit (either way the change is not applied, and no other change of the request is
    /// saved); [`Error::Store`] if the store cannot be reached.
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), Error> {
        let value =
            serde_json::to_value(value).map_err(|source| Error::Serialize { key: key.to_owned(), source })?;
        crate::check_value_depth(key, &value)?;
        let mut st = self.loaded().await?;
        let shared = self.shared();
        st.write(shared.now(), &shared.expiry, |live| {
            live.insert(key, value, |record| match &shared.backend {
                Backend::Cookie(store) => cookie_store::fits(shared, store, record),
                Backend::Server(_) => server_store::fits(shared, record),
            })
        })?
    }

    /// Removes `key`, returning its value as `T` if it was there.
    ///
    /// # Errors
    /// As [`Session::get`].
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        let mut st = self.loaded().await?;
        let Some(old) = st.live_mut().and_then(|l| l.remove(key)) else {
            return Ok(None);
        };
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
        if let Some(live) = st.live_mut() {
            live.clear();
        }
        Ok(())
    }

    /// A copy of the session's data (empty without a session).
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn data(&self) -> Result<Data, Error> {
        let st = self.loaded().await?;
        Ok(st.live().map(|l| l.record.data.clone()).unwrap_or_default())
    }

    /// The authenticated user recorded by [`Session::set_user`], if any.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn user(&self) -> Result<Option<String>, Error> {
        let st = self.loaded().await?;
        Ok(st.live().and_then(|l| l.record.user.clone()))
    }

    /// Records the authenticated user (at login) or clears it. Call [`Session::cycle_id`]
    /// in the same request: a login must never keep a pre-login id (session fixation).
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn set_user(&self, user: Option<&str>) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = self.shared();
        st.write(shared.now(), &shared.expiry, |live| live.set_user(user))
    }

    /// Makes the cookie persistent (outliving the browser session) or not.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn set_persistent(&self, persistent: bool) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = self.shared();
        st.write(shared.now(), &shared.expiry, |live| live.set_persistent(persistent))
    }

    /// Logs `user` in by `method`, in one step that makes session fixation impossible: a new
    /// session id (the pre-login id stops loading), the user recorded, the login time and
    /// method and the client's network and device kept in the session's
    /// [`ClientInfo`](crate::ClientInfo), the authentication time set (for
    /// [`Session::authenticated_within`]), and, with CSRF protection, the CSRF secret
    /// dropped, so tokens issued before the login stop working and the next one is new.
    ///
    /// With [`crate::SessionLayer::with_session_limit`] the login counts against the user's
    /// session cap; with [`crate::SessionLayer::with_account_locks`] a disabled user cannot
    /// log in. In both cases the logged-in session is stored before `login` returns.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot move the record; [`Error::TooManySessions`] when
    /// the cap refuses; [`Error::AccountDisabled`] for a disabled user. After an error the
    /// session is as it was before (no user).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::{LoginMethod, Session};
    /// async fn login(session: Session) -> Result<(), sessionwarden::Error> {
    ///     // ... after checking the password:
    ///     session.login("alice", LoginMethod::Password).await
    /// }
    /// ```
    pub async fn login(&self, user: &str, method: crate::LoginMethod) -> Result<(), Error> {
        self.log_in(user, method, None).await
    }

    /// [`Session::login`], remembered for `remember` ([`Session::login_remembered`]) or not.
    pub(super) async fn log_in(
        &self,
        user: &str,
        method: crate::LoginMethod,
        remember: Option<std::time::Duration>,
    ) -> Result<(), Error> {
        let shared = self.shared();
        if self.disabled(user).await? {
            return Err(Error::AccountDisabled);
        }
        // With a session cap or account locks on a server-side store, the logged-in record
        // is stored now (under a new id), so the cap and a concurrent disable see it.
        let store_now = match &shared.backend {
            Backend::Server(store) if shared.session_limit.is_some() || shared.account_locks.is_some() => {
                Some(store.clone())
            }
            _ => None,
        };
        if store_now.is_none() {
            self.cycle_id().await?;
        }
        let mut st = self.loaded().await?;
        let now = shared.now();
        let client = st.client().clone();
        let risk_on = shared.risk.is_some();
        let log_in = |live: &mut super::state::Live| {
            live.set_user(Some(user));
            live.authenticated(now, Some(method), &client);
            // The user proved who they are from this client: it is the new baseline.
            if risk_on {
                live.set_risk(crate::risk::rebased(&observed(&client), now));
            }
            if let Some(change) =
                super::login::RememberChange::at_login(now, remember, &live.record, &shared.expiry)
            {
                live.set_remembered(change);
            }
            #[cfg(feature = "csrf")]
            live.remove(crate::csrf::SESSION_KEY);
        };
        match store_now {
            None => st.write(now, &shared.expiry, log_in)?,
            Some(store) => {
                st.write(now, &shared.expiry, |live| live.reissue = true)?;
                let Phase::Live(live) = st.phase_mut() else {
                    // invariant: `write` just made the phase live (or failed above).
                    return Err(Error::MissingLayer);
                };
                let before = (live.record.clone(), live.changes.clone());
                log_in(live);
                let cap = shared.session_limit.as_ref().map(|(limit, cap)| (*limit, &**cap));
                let result = server_store::store_login(shared, &*store, cap, live).await;
                if result.is_err() {
                    // Refused or failed: the session stays as it was before the login.
                    (live.record, live.changes) = before;
                }
                st.settle(shared, result)?;
            }
        }
        // A disable that ran while this login was being stored may have missed the new
        // session: then the login does not survive it.
        if self.disabled(user).await? {
            drop(st);
            self.destroy().await?;
            return Err(Error::AccountDisabled);
        }
        let handle = st.live().and_then(stored_handle);
        self.inner.scope.set_session(Some(user), handle);
        Ok(())
    }

    /// Whether the layer's account locks mark `user` disabled (never, without locks).
    async fn disabled(&self, user: &str) -> Result<bool, Error> {
        match &self.shared().account_locks {
            Some(locks) => Ok(locks.is_disabled(user).await?),
            None => Ok(false),
        }
    }

    /// Logs out: the same as [`Session::destroy`].
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot delete the record.
    pub async fn logout(&self) -> Result<(), Error> {
        self.destroy().await
    }

    /// Records that the user proved who they are again (a password re-entered, a passkey
    /// touched): [`Session::authenticated_within`] counts from now. Sensitive actions such as
    /// ending other sessions ask for it (OWASP ASVS 7.5.2).
    ///
    /// # Errors
    /// [`Error::NotLoggedIn`] without a logged-in user; [`Error::Store`] if the store cannot
    /// be reached.
    pub async fn reauthenticated(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        if st.live().and_then(|l| l.record.user.as_ref()).is_none() {
            return Err(Error::NotLoggedIn);
        }
        let shared = self.shared();
        let now = shared.now();
        let client = st.client().clone();
        let risk_on = shared.risk.is_some();
        st.write(now, &shared.expiry, |live| {
            live.authenticated(now, None, &client);
            // A pending step-up is answered, and this client is the new baseline.
            if risk_on {
                live.set_risk(crate::risk::rebased(&observed(&client), now));
            }
        })
    }

    /// What the risk rules say about this session ([`crate::risk`]): clear, a pending
    /// step-up (re-authentication required until [`Session::reauthenticated`] or a new
    /// login), or revoked in this request.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::risk::RiskVerdict;
    /// async fn sensitive(session: sessionwarden::Session) -> Result<bool, sessionwarden::Error> {
    ///     Ok(matches!(session.risk().await?, RiskVerdict::Clear))
    /// }
    /// ```
    pub async fn risk(&self) -> Result<crate::risk::RiskVerdict, Error> {
        use crate::risk::{RiskRule, RiskVerdict};
        let st = self.loaded().await?;
        if let Some(rule) = self.inner.revoked_by.get() {
            return Ok(RiskVerdict::Revoked { rule: *rule });
        }
        let step_up = st.live().and_then(|l| l.record.risk.as_ref()).and_then(|r| r.step_up.as_ref());
        Ok(match step_up {
            Some(s) => RiskVerdict::StepUp { rule: RiskRule::from_name(s.rule()), since: s.since() },
            None => RiskVerdict::Clear,
        })
    }

    /// When the user last logged in or re-authenticated in this session.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn authenticated_at(&self) -> Result<Option<crate::Timestamp>, Error> {
        let st = self.loaded().await?;
        Ok(st.live().and_then(|l| l.record.authenticated_at))
    }

    /// Whether the user logged in or re-authenticated within `window` of now.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn authenticated_within(&self, window: std::time::Duration) -> Result<bool, Error> {
        let at = self.authenticated_at().await?;
        let now = self.shared().now();
        Ok(at.is_some_and(|at| at <= now && now.until(at.plus(window)) > std::time::Duration::ZERO))
    }

    /// What the session knows about its client: network, device, login time and method.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn client(&self) -> Result<Option<crate::ClientInfo>, Error> {
        let st = self.loaded().await?;
        Ok(st.live().and_then(|l| l.record.client.clone()))
    }

    /// When the session was created, was last renewed, and when it will expire (the earlier
    /// of the idle and absolute deadlines; `None` if neither is set). `None` without a
    /// session.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn times(&self) -> Result<Option<crate::SessionTimes>, Error> {
        let st = self.loaded().await?;
        Ok(st.live().map(|l| crate::SessionTimes {
            created: l.record.created,
            last_seen: l.record.last_seen,
            expires_at: l.record.expires_at(),
        }))
    }

    /// The session's opaque handle (for listings and revocation), if it has been stored.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    pub async fn handle(&self) -> Result<Option<SessionHandle>, Error> {
        let st = self.loaded().await?;
        Ok(st.live().and_then(stored_handle))
    }

    /// Replaces the session id, keeping its data. Call this on login and privilege change.
    /// The old id stops loading at once; the new cookie goes out with this response.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot move the record.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # async fn f(session: sessionwarden::Session) -> Result<(), sessionwarden::Error> {
    /// session.cycle_id().await?;
    /// # Ok(()) }
    /// ```
    pub async fn cycle_id(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = self.shared();
        st.write(shared.now(), &shared.expiry, |live| live.reissue = true)?;
        let result = match (&shared.backend, st.phase_mut()) {
            (Backend::Server(store), Phase::Live(live)) => {
                server_store::cycle_id(shared, &**store, live).await
            }
            // A cookie store has no id: re-sealing gives a fresh cookie. Old copies stay
            // valid until their deadline (see CookieStore's limits).
            _ => Ok(()),
        };
        st.settle(shared, result)
    }

    /// Ends the session: deletes it from the store and expires the cookie.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot delete the record.
    pub async fn destroy(&self) -> Result<(), Error> {
        let mut st = self.loaded().await?;
        let shared = self.shared();
        let stored = st.live().and_then(|l| match &l.persisted {
            Persisted::Stored { ident, .. } => Some(ident.key),
            Persisted::New { .. } | Persisted::Sealed => None,
        });
        if let (Backend::Server(store), Some(key)) = (&shared.backend, stored) {
            let result = server_store::destroy(shared, &**store, key).await;
            st.settle(shared, result)?;
        }
        st.destroy();
        Ok(())
    }

    /// Loads the session on first use; returns the locked state.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot load it now, or failed earlier in this request.
    pub(super) async fn loaded(&self) -> Result<MutexGuard<'_, State>, Error> {
        let mut st = self.inner.state.lock().await;
        if let Some(cookie) = st.take_unloaded() {
            let shared = self.shared();
            let phase = match (cookie, &shared.backend) {
                (Presented::Absent, _) => Ok(Phase::NoSession { stale_cookie: false }),
                // The layer recorded why when it refused the cookie. Clearing is safe only
                // for a `__Host-` name: otherwise one of the pair may be a domain-scoped
                // cookie a sibling subdomain tossed, which our clearing cannot reach, and it
                // would then be sent alone, putting the user in the attacker's session.
                // Refusing both (no session) is the safer failure.
                (Presented::Refused, _) => {
                    Ok(Phase::NoSession { stale_cookie: shared.cookie.name().starts_with("__Host-") })
                }
                (Presented::One(value), Backend::Cookie(store)) => {
                    Ok(cookie_store::load(shared, store, &value))
                }
                (Presented::One(value), Backend::Server(store)) => {
                    server_store::load(shared, &**store, &value).await
                }
            };
            let phase = st.settle(shared, phase)?;
            st.set_loaded(phase);
            if let Some(live) = st.live() {
                self.inner.scope.set_session(live.record.user.as_deref(), stored_handle(live));
            }
            if let Some(rules) = shared.risk.clone() {
                self.assess(&mut st, &rules).await?;
            }
        }
        st.check()?;
        Ok(st)
    }

    /// The risk rules, when a stored session has just loaded: compares the request's client
    /// with what the record carries, records each rule that fired, and takes the strongest
    /// action (a revoke deletes the record and leaves the request without a session).
    ///
    /// # Errors
    /// [`Error::Store`] if a revoke cannot delete the record.
    async fn assess(&self, st: &mut State, rules: &crate::risk::RiskRules) -> Result<(), Error> {
        use crate::risk::RiskAction;
        let shared = self.shared();
        let now = shared.now();
        let Some((live, client)) = st.live_with_client() else { return Ok(()) };
        let key = match &live.persisted {
            Persisted::Stored { ident, .. } => Some(ident.key),
            Persisted::Sealed => None,
            // Created in this request: nothing to compare with.
            Persisted::New { .. } => return Ok(()),
        };
        let outcome = crate::risk::evaluate(rules, &live.record, &observed(client), now);
        if outcome.firings.is_empty() && outcome.state.is_none() {
            return Ok(());
        }
        let user = live.record.user.clone();
        let handle = key.map(|k| k.handle());
        for f in &outcome.firings {
            shared.event(crate::events::SecurityEvent::RiskDetected {
                rule: f.rule,
                action: f.action,
                session: handle.clone(),
                user: user.clone(),
                evidence: Box::new(f.evidence.clone()),
            });
        }
        match outcome.action() {
            (RiskAction::Revoke, Some(rule)) => {
                if let (Backend::Server(store), Some(key)) = (&shared.backend, key) {
                    let deleted = store.delete(&key).await.map_err(Error::from);
                    st.settle(shared, deleted)?;
                    shared.event(crate::events::SecurityEvent::SessionRevoked { session: key.handle() });
                }
                st.destroy();
                let _ = self.inner.revoked_by.set(rule);
            }
            _ => {
                if let (Some(state), Some(live)) = (outcome.state, st.live_mut()) {
                    live.set_risk(state);
                }
            }
        }
        Ok(())
    }

    /// What the rate limits ask of the request once its handler ran: whether the cookie it
    /// presented named no live session (it did not open, had expired, or the store did not
    /// know it), and whether the end of the request will create a session.
    #[cfg(feature = "throttle")]
    pub(crate) async fn throttle_facts(&self) -> ThrottleFacts {
        let st = self.inner.state.lock().await;
        let shared = self.shared();
        match *st.phase() {
            Phase::NoSession { stale_cookie } | Phase::Destroyed { stale_cookie } => {
                ThrottleFacts { stale_cookie, creates_session: false }
            }
            Phase::Live(ref live) => {
                let renew = i64::try_from(shared.expiry.renew_interval().as_secs()).unwrap_or(i64::MAX);
                let creates_session = matches!(live.persisted, Persisted::New { .. })
                    && matches!(live.plan(shared.now(), renew), Plan::Write { .. });
                ThrottleFacts { stale_cookie: live.stale_cookie, creates_session }
            }
            Phase::Unloaded { .. } | Phase::Failed { .. } => ThrottleFacts::default(),
        }
    }

    /// Saves what changed, after the handler ran.
    pub(crate) async fn finish(&self) -> Finish {
        let mut st = self.inner.state.lock().await;
        if !st.is_touched() {
            return Finish::Untouched;
        }
        if st.check().is_err() {
            return Finish::Unavailable;
        }
        let shared = self.shared();
        let result = self.persist(&mut st).await;
        match st.settle(shared, result) {
            Ok(cookie) => {
                Finish::Touched { cookie, uncacheable: self.inner.uncacheable.load(Ordering::Relaxed) }
            }
            Err(Error::CookieTooLarge { .. } | Error::SessionTooLarge { .. }) => Finish::TooLarge,
            // Contention is transient overload: 503 with Retry-After, like an outage.
            Err(Error::Store(StoreError::Unavailable { .. }) | Error::Contention { .. }) => {
                Finish::Unavailable
            }
            Err(e) => Finish::Failed(e),
        }
    }

    /// Writes what the state's plan says; returns the `Set-Cookie` to send, if any.
    async fn persist(&self, st: &mut State) -> Result<Option<cookie::Cookie<'static>>, Error> {
        let shared = self.shared();
        let renew = i64::try_from(shared.expiry.renew_interval().as_secs()).unwrap_or(i64::MAX);
        let (live, plan) = match st.phase_mut() {
            Phase::Live(live) => {
                let plan = live.plan(shared.now(), renew);
                (live, plan)
            }
            other => {
                let plan = other.plan_without_session();
                return Ok((plan == Plan::Remove).then(|| shared.cookie.removal()));
            }
        };
        let touch = match plan {
            Plan::Keep => return Ok(None),
            Plan::Remove => return Ok(Some(shared.cookie.removal())),
            Plan::Write { touch } => touch,
            Plan::Refuse(too_large) => return Err(too_large.error()),
        };
        match &shared.backend {
            Backend::Cookie(store) => cookie_store::persist(shared, store, live, touch),
            Backend::Server(store) => match server_store::persist(shared, &**store, live, touch).await? {
                Saved::Cookie(cookie) => Ok(cookie),
                Saved::Gone => {
                    st.set_loaded(Phase::NoSession { stale_cookie: false });
                    Ok(Some(shared.cookie.removal()))
                }
            },
        }
    }
}
