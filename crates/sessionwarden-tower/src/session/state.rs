//! One request's session state, as a state machine.
//!
//! ```text
//!   Unloaded ── load: no cookie, two cookies, bad or expired cookie, unknown id ──► NoSession
//!      │                                                                               │
//!      │ load: record found                                     write (insert, ...)    │
//!      ▼                                                                               │
//!    Live ◄────────────────────────────────────────────────────────────────────────────┘
//!      │  ▲
//!      │  └──── write: a new session ────┐
//!      └─ destroy ──────────────────► Destroyed
//!
//!   any loaded phase ── store unavailable ──► Failed   (terminal: every call fails, 503)
//! ```
//!
//! At the end of the request, [`State::plan`] says what to do without doing it: keep, remove
//! the cookie, write (and maybe re-issue), or refuse with 413 when a write of a cookie-store
//! session did not fit ([`Live::too_large`]: writes are all or nothing).
//!
//! Everything here is synchronous and knows no backend: what a load found is handed in
//! ([`Phase`] values built by `cookie_store` and `server_store`), and the I/O is theirs.

use std::collections::HashMap;

use http::HeaderValue;
use serde_json::Value;

use crate::config::Expiry;
use crate::error::{Error, StoreError};
use crate::events::{CookieRejectReason, SecurityEvent};
use crate::id::{SessionId, StoreKey};
use crate::layer::Shared;
use crate::record::Record;
use crate::time::Timestamp;
use sessionwarden_core::client::{ClientInfo, LoginMethod};

/// A request's session state: its [`Phase`], and what a new session would record about the
/// client.
pub(crate) struct State {
    phase: Phase,
    /// What the request tells about its client, turned into a [`ClientInfo`] only if a new
    /// session is recorded (or at login).
    client: ClientInputs,
}

/// What a request tells about its client: its address (the peer, or the hop trusted proxies
/// vouch for) and its `User-Agent`. Cheap to keep; parsed only when a record needs it.
#[derive(Clone, Default)]
pub(crate) struct ClientInputs {
    /// The request's address and `User-Agent` (read from it when a record needs them).
    pub(crate) scope: Option<std::sync::Arc<crate::events::RequestScope>>,
    /// Without a scope (tests of the state machine): the address and `User-Agent` as given.
    pub(crate) addr: Option<std::net::IpAddr>,
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) retention: sessionwarden_core::client::AddressRetention,
}

impl std::fmt::Debug for ClientInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInputs").field("retention", &self.retention).finish_non_exhaustive()
    }
}

impl ClientInputs {
    /// The client's address (resolving it through trusted proxies if not done yet).
    pub(crate) fn addr(&self) -> Option<std::net::IpAddr> {
        self.scope.as_ref().map_or(self.addr, |scope| scope.client_ip())
    }

    /// The request's `User-Agent`, if the layer looks at clients.
    pub(crate) fn user_agent(&self) -> Option<&HeaderValue> {
        self.scope.as_ref().map_or(self.user_agent.as_ref(), |scope| scope.user_agent())
    }

    /// The metadata a new record keeps: `None` when the request told nothing.
    pub(crate) fn info(&self) -> Option<ClientInfo> {
        let ua = self.user_agent().map(HeaderValue::as_bytes);
        let info = match self.addr() {
            Some(addr) => ClientInfo::new(addr, ua, self.retention),
            None if ua.is_some() => ClientInfo::from_user_agent_hash(ua),
            None => return None,
        };
        Some(with_device(info, ua))
    }
}

#[cfg(feature = "client")]
fn with_device(info: ClientInfo, user_agent: Option<&[u8]>) -> ClientInfo {
    match user_agent {
        Some(ua) => info.with_device(crate::client::device_summary(ua)),
        None => info,
    }
}

#[cfg(not(feature = "client"))]
fn with_device(info: ClientInfo, _: Option<&[u8]>) -> ClientInfo {
    info
}

/// Where the request's session stands.
// large_enum_variant: one Phase per request, in place inside the session's mutex; boxing
// `Live` would only add an allocation to every request that uses its session.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Phase {
    /// Nothing read yet (no store round trip, no MAC check): `cookie` is the presented value,
    /// still sealed.
    Unloaded {
        /// What the request presented.
        cookie: Presented,
    },
    /// Loaded, and no session stands behind the request.
    NoSession {
        /// A cookie was presented but rejected, expired or names nothing: it is removed
        /// unless a new session replaces it.
        stale_cookie: bool,
    },
    /// A session, as this request sees it.
    Live(Live),
    /// Ended by [`crate::Session::destroy`] in this request: the cookie is expired on the way
    /// out, unless a later write starts a new session.
    Destroyed {
        /// As in [`Phase::NoSession`]: carried over to a session started after the destroy.
        stale_cookie: bool,
    },
    /// The store could not be reached. Terminal: every later call fails the same way, and the
    /// layer answers 503 whatever the handler did, so a request never goes on without its
    /// real session.
    Failed {
        /// The store operation that failed.
        operation: &'static str,
    },
}

/// The session cookie a request presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Presented {
    /// None.
    Absent,
    /// Exactly one, with this (still sealed) value.
    One(String),
    /// Refused before loading (two cookies of the session's name): no session, and the
    /// cookie is removed like any other rejected one.
    Refused,
}

/// A session this request can read and write.
pub(crate) struct Live {
    /// The record as this request sees it (stored record + this request's changes).
    pub(crate) record: Record,
    /// This request's changes, kept apart from the record so a save that lost a race can
    /// replay them onto the newer record.
    pub(crate) changes: Changes,
    /// Where the session is kept, and under which id.
    pub(crate) persisted: Persisted,
    /// The cookie must be (re)issued: new id, re-seal under the primary key, persistence
    /// changed.
    pub(crate) reissue: bool,
    /// As in [`Phase::NoSession`], for a session started in this request.
    pub(crate) stale_cookie: bool,
    /// A write of this request would not fit in a cookie. Writes are all or nothing: none
    /// of this request's changes is saved, and the layer answers 413.
    pub(crate) too_large: Option<TooLarge>,
}

/// A refused write's size, the limit it exceeds, and whose limit it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge {
    pub(crate) size: usize,
    pub(crate) limit: usize,
    /// The browser's cookie limit (cookie store), or the layer's limit for stored records.
    pub(crate) cookie: bool,
}

impl TooLarge {
    /// The refusal as the handler sees it.
    pub(crate) fn error(self) -> Error {
        let Self { size, limit, cookie } = self;
        if cookie { Error::CookieTooLarge { size, limit } } else { Error::SessionTooLarge { size, limit } }
    }
}

/// Whether (and where) a live session is already kept.
pub(crate) enum Persisted {
    /// Not written yet: the end of the request creates it (if it is worth creating).
    New {
        /// An id drawn ahead of the save by [`crate::Session::cycle_id`] (server-side
        /// stores); otherwise one is drawn at creation.
        id: Option<Ident>,
    },
    /// Opened from the sealed cookie it lives in (cookie store: there is no id).
    Sealed,
    /// Kept in a server-side store under `ident`, at `version`.
    Stored {
        /// The session's id and store key.
        ident: Ident,
        /// The record's version in the store, for the next compare-and-set save.
        version: u64,
    },
}

/// A session id with its store key, derived once per request (the key is a hash of the id,
/// needed by every load, save, cycle and delete of the request).
pub(crate) struct Ident {
    pub(crate) id: SessionId,
    pub(crate) key: StoreKey,
}

impl Ident {
    pub(crate) fn new(shared: &Shared, id: SessionId) -> Self {
        let key = shared.ids.store_key(&id);
        Self { id, key }
    }

    pub(crate) fn generate(shared: &Shared) -> Result<Self, Error> {
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
    /// A login or re-authentication: the client metadata (with the login) and the time.
    authenticated: Option<(Option<ClientInfo>, sessionwarden_core::Timestamp)>,
    /// The risk rules' new state for the record (a move, a step-up, a rebase at login).
    risk: Option<sessionwarden_core::client::RiskState>,
    /// A remember-me login, or a plain login ending one.
    remember: Option<super::login::RememberChange>,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        !self.cleared
            && self.data.is_empty()
            && self.user.is_none()
            && self.persistent.is_none()
            && self.authenticated.is_none()
            && self.risk.is_none()
            && self.remember.is_none()
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
        if let Some((client, at)) = &self.authenticated {
            if client.is_some() {
                record.client.clone_from(client);
            }
            record.authenticated_at = Some(*at);
        }
        if let Some(risk) = &self.risk {
            record.risk = Some(risk.clone());
        }
        if let Some(remember) = self.remember {
            remember.apply(record);
        }
    }
}

/// What the end of the request must do with the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing: no write, no `Set-Cookie`.
    Keep,
    /// Expire the presented cookie (destroyed, or stale with nothing to replace it).
    Remove,
    /// Write the live session, then issue its cookie if needed.
    Write {
        /// Its data changed or its idle deadline is due for renewal: bump `last_seen`.
        touch: bool,
    },
    /// Write nothing and answer 413: a write of this request did not fit.
    Refuse(TooLarge),
}

impl State {
    /// The state of a request that presented `cookie`.
    pub(crate) fn new(cookie: Presented, client: ClientInputs) -> Self {
        Self { phase: Phase::Unloaded { cookie }, client }
    }

    /// What the request tells about its client.
    pub(crate) fn client(&self) -> &ClientInputs {
        &self.client
    }

    /// The phase, for reading.
    #[cfg(any(test, feature = "throttle"))]
    pub(crate) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The phase, for the backends' load and save steps.
    pub(crate) fn phase_mut(&mut self) -> &mut Phase {
        &mut self.phase
    }

    /// Whether a handler used the session at all (an untouched response is left alone).
    pub(crate) fn is_touched(&self) -> bool {
        !matches!(self.phase, Phase::Unloaded { .. })
    }

    /// Takes the presented cookie for loading; `None` once loaded.
    pub(crate) fn take_unloaded(&mut self) -> Option<Presented> {
        match &mut self.phase {
            Phase::Unloaded { cookie } => Some(std::mem::replace(cookie, Presented::Absent)),
            _ => None,
        }
    }

    /// Records what the load found.
    pub(crate) fn set_loaded(&mut self, phase: Phase) {
        self.phase = phase;
    }

    /// `Err` once the store failed in this request: later calls fail the same way.
    ///
    /// # Errors
    /// [`Error::Store`] with [`StoreError::Unavailable`] naming the operation that failed.
    pub(crate) fn check(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Failed { operation } => Err(Error::Store(StoreError::unavailable(
                operation,
                "the store failed earlier in this request",
            ))),
            _ => Ok(()),
        }
    }

    /// Fails the request closed if `result` is a store outage; passes `result` on.
    pub(crate) fn settle<T>(&mut self, shared: &Shared, result: Result<T, Error>) -> Result<T, Error> {
        if let Err(Error::Store(StoreError::Unavailable { operation, .. })) = &result {
            shared.event(SecurityEvent::StoreUnavailable { operation });
            self.phase = Phase::Failed { operation };
        }
        result
    }

    /// The live session, if there is one.
    pub(crate) fn live(&self) -> Option<&Live> {
        match &self.phase {
            Phase::Live(live) => Some(live),
            _ => None,
        }
    }

    /// The live session with the request's client, for the risk rules.
    pub(crate) fn live_with_client(&mut self) -> Option<(&mut Live, &ClientInputs)> {
        match &mut self.phase {
            Phase::Live(live) => Some((live, &self.client)),
            _ => None,
        }
    }

    /// The live session, for changes that never create one (remove, clear).
    pub(crate) fn live_mut(&mut self) -> Option<&mut Live> {
        match &mut self.phase {
            Phase::Live(live) => Some(live),
            _ => None,
        }
    }

    /// Runs `f` on the live session, starting a new one first if there is none.
    ///
    /// # Errors
    /// As [`State::check`]: a failed request never starts a session.
    pub(crate) fn write<R>(
        &mut self,
        now: Timestamp,
        expiry: &Expiry,
        f: impl FnOnce(&mut Live) -> R,
    ) -> Result<R, Error> {
        self.check()?;
        Ok(match &mut self.phase {
            Phase::Live(live) => f(live),
            other => {
                let stale_cookie = match other {
                    Phase::NoSession { stale_cookie } | Phase::Destroyed { stale_cookie } => *stale_cookie,
                    Phase::Unloaded { .. } | Phase::Live(_) | Phase::Failed { .. } => false,
                };
                let mut record = Record::new(now, expiry);
                record.client = self.client.info();
                let mut live = Live { stale_cookie, ..Live::new(record, Persisted::New { id: None }) };
                let out = f(&mut live);
                *other = Phase::Live(live);
                out
            }
        })
    }

    /// Ends the session in this request (the store's part is done by the caller). A
    /// request that had no session, nor a cookie to remove, stays without one.
    pub(crate) fn destroy(&mut self) {
        let (had_session, stale_cookie) = match &self.phase {
            Phase::Live(live) => (true, live.stale_cookie),
            Phase::NoSession { stale_cookie } => (*stale_cookie, *stale_cookie),
            // Destroying twice still expires the cookie.
            Phase::Destroyed { .. } | Phase::Unloaded { .. } | Phase::Failed { .. } => return,
        };
        self.phase = if had_session {
            Phase::Destroyed { stale_cookie }
        } else {
            Phase::NoSession { stale_cookie: false }
        };
    }

    /// What the end of the request must do, at `now`, with renewals due every
    /// `renew_interval` seconds. (The session handle does the same in two steps, since it
    /// needs the live session to write it.)
    #[cfg(test)]
    pub(crate) fn plan(&self, now: Timestamp, renew_interval: i64) -> Plan {
        match &self.phase {
            Phase::Live(live) => live.plan(now, renew_interval),
            other => other.plan_without_session(),
        }
    }
}

impl Phase {
    /// What the end of a request without a live session must do: expire a cookie that
    /// names nothing (destroyed, or stale).
    pub(crate) fn plan_without_session(&self) -> Plan {
        match self {
            Phase::Destroyed { .. } | Phase::NoSession { stale_cookie: true } => Plan::Remove,
            Phase::NoSession { stale_cookie: false } | Phase::Unloaded { .. } | Phase::Failed { .. } => {
                Plan::Keep
            }
            // Not reached through `State::plan`; a live session plans for itself.
            Phase::Live(_) => Plan::Keep,
        }
    }

    /// A presented cookie that did not open: no session, the cookie goes, and the reason is
    /// recorded.
    pub(crate) fn rejected(shared: &Shared, reason: CookieRejectReason) -> Self {
        shared.event(SecurityEvent::CookieRejected { reason });
        Self::NoSession { stale_cookie: true }
    }
}

impl Live {
    /// A live session of `record`, kept as `persisted`, with no change yet.
    pub(crate) fn new(record: Record, persisted: Persisted) -> Self {
        Self {
            record,
            changes: Changes::default(),
            persisted,
            reissue: false,
            stale_cookie: false,
            too_large: None,
        }
    }

    /// What the end of the request must do with this session, at `now`.
    pub(crate) fn plan(&self, now: Timestamp, renew_interval: i64) -> Plan {
        if let Some(too_large) = self.too_large {
            return Plan::Refuse(too_large);
        }
        // In i128: `last_seen` comes back from a store and may lie anywhere in i64's range
        // (a plain subtraction overflowed, panicking in debug builds).
        let due =
            i128::from(now.unix()) - i128::from(self.record.last_seen.unix()) >= i128::from(renew_interval);
        let changed = !self.changes.is_empty();
        let new = matches!(self.persisted, Persisted::New { .. });
        if new && !changed && !self.reissue {
            // A session that was only read or emptied: never create it.
            return if self.stale_cookie { Plan::Remove } else { Plan::Keep };
        }
        if !changed && !due && !self.reissue {
            return Plan::Keep;
        }
        Plan::Write { touch: changed || due }
    }

    /// Sets `key`, unless `fits` refuses the resulting record: then the record stays as it
    /// was, and a refused size voids every write of the request ([`Live::too_large`]).
    pub(crate) fn insert(
        &mut self,
        key: &str,
        value: Value,
        fits: impl FnOnce(&Record) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let previous = self.record.data.insert(key.to_owned(), value.clone());
        if let Err(e) = fits(&self.record) {
            // Undo: the session stays as it was.
            match previous {
                Some(p) => self.record.data.insert(key.to_owned(), p),
                None => self.record.data.remove(key),
            };
            match e {
                Error::CookieTooLarge { size, limit } => {
                    self.too_large = Some(TooLarge { size, limit, cookie: true });
                }
                Error::SessionTooLarge { size, limit } => {
                    self.too_large = Some(TooLarge { size, limit, cookie: false });
                }
                _ => {}
            }
            return Err(e);
        }
        self.changes.data.insert(key.to_owned(), Some(value));
        Ok(())
    }

    /// Removes `key`, returning its value if it was there.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Value> {
        let old = self.record.data.remove(key)?;
        self.changes.data.insert(key.to_owned(), None);
        Some(old)
    }

    /// Removes every key.
    pub(crate) fn clear(&mut self) {
        self.record.data.clear();
        self.changes.cleared = true;
        self.changes.data.clear();
    }

    /// Records the authenticated user, or clears it.
    pub(crate) fn set_user(&mut self, user: Option<&str>) {
        self.record.user = user.map(str::to_owned);
        self.changes.user = Some(user.map(str::to_owned));
    }

    /// Records a login by `method` (or, with `None`, a re-authentication) at `now`: the
    /// session's authentication time, and for a login the client metadata's login half (the
    /// metadata is made from `client` if the record has none yet).
    pub(crate) fn authenticated(
        &mut self,
        now: sessionwarden_core::Timestamp,
        method: Option<LoginMethod>,
        client: &ClientInputs,
    ) {
        let info = method.map(|method| {
            let base = self.record.client.clone().or_else(|| client.info()).unwrap_or_default();
            base.with_login(now, method)
        });
        if info.is_some() {
            self.record.client.clone_from(&info);
        }
        self.record.authenticated_at = Some(now);
        self.changes.authenticated = Some((info, now));
    }

    /// Records the risk rules' new state for the session.
    pub(crate) fn set_risk(&mut self, state: sessionwarden_core::client::RiskState) {
        self.record.risk = Some(state.clone());
        self.changes.risk = Some(state);
    }

    /// Makes the cookie persistent or not (which needs a new cookie).
    pub(crate) fn set_persistent(&mut self, persistent: bool) {
        self.record.persistent = persistent;
        self.changes.persistent = Some(persistent);
        self.reissue = true;
    }

    /// Starts or ends remembering the session (which needs a new cookie: its `Max-Age`
    /// changes).
    pub(crate) fn set_remembered(&mut self, change: super::login::RememberChange) {
        change.apply(&mut self.record);
        self.changes.remember = Some(change);
        self.reissue = true;
    }

    /// The cookie was sealed by a key that no longer signs: re-issue it under the primary.
    pub(crate) fn resealed(&mut self, shared: &Shared, from_kid: Option<u32>) {
        if let Some(from_kid) = from_kid {
            self.reissue = true;
            shared.event(SecurityEvent::CookieResealed { from_kid });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: Timestamp = Timestamp::from_unix(1_800_000_000);
    const RENEW: i64 = 225;

    fn expiry() -> Expiry {
        Expiry::default()
    }

    fn loaded(phase: Phase) -> State {
        let mut st = State::new(Presented::One("cookie".into()), ClientInputs::default());
        assert_eq!(st.take_unloaded(), Some(Presented::One("cookie".into())));
        st.set_loaded(phase);
        st
    }

    fn stored(version: u64) -> Phase {
        let id = SessionId::from_bytes(&[7u8; 32]).unwrap();
        let ident = Ident { id, key: StoreKey::from_bytes([1u8; 32]) };
        let mut record = Record::new(T0, &expiry());
        record.version = version;
        Phase::Live(Live::new(record, Persisted::Stored { ident, version }))
    }

    fn name(phase: &Phase) -> &'static str {
        match phase {
            Phase::Unloaded { .. } => "unloaded",
            Phase::NoSession { stale_cookie: false } => "no session",
            Phase::NoSession { stale_cookie: true } => "no session, stale cookie",
            Phase::Live(l) if matches!(l.persisted, Persisted::New { .. }) => "live, new",
            Phase::Live(_) => "live, stored",
            Phase::Destroyed { .. } => "destroyed",
            Phase::Failed { .. } => "failed",
        }
    }

    #[test]
    fn unloaded_is_untouched_and_loads_once() {
        let mut st = State::new(Presented::One("v".into()), ClientInputs::default());
        assert!(!st.is_touched());
        assert_eq!(st.plan(T0, RENEW), Plan::Keep);
        assert_eq!(st.take_unloaded(), Some(Presented::One("v".into())));
        st.set_loaded(Phase::NoSession { stale_cookie: false });
        assert!(st.is_touched());
        assert_eq!(st.take_unloaded(), None, "a loaded state never loads again");
    }

    /// Each case: a starting phase, a step, the phase after it and what the request's end
    /// must do.
    #[test]
    fn transitions() {
        type Step = fn(&mut State);
        struct Case {
            name: &'static str,
            from: fn() -> Phase,
            step: Step,
            to: &'static str,
            plan: Plan,
        }
        let write: Step = |st| st.write(T0, &expiry(), |l| l.set_user(Some("alice"))).unwrap();
        let read: Step = |st| {
            let _ = st.live().map(|l| l.record.data.len());
        };
        let destroy: Step = State::destroy;
        let cases = [
            Case {
                name: "no cookie, read",
                from: || Phase::NoSession { stale_cookie: false },
                step: read,
                to: "no session",
                plan: Plan::Keep,
            },
            Case {
                name: "stale cookie, read: remove it",
                from: || Phase::NoSession { stale_cookie: true },
                step: read,
                to: "no session, stale cookie",
                plan: Plan::Remove,
            },
            Case {
                name: "no session, write: a new one",
                from: || Phase::NoSession { stale_cookie: false },
                step: write,
                to: "live, new",
                plan: Plan::Write { touch: true },
            },
            Case {
                name: "no session, emptied: never created",
                from: || Phase::NoSession { stale_cookie: false },
                step: |st| st.write(T0, &expiry(), |_| ()).unwrap(),
                to: "live, new",
                plan: Plan::Keep,
            },
            Case {
                name: "stale cookie, emptied: removed",
                from: || Phase::NoSession { stale_cookie: true },
                step: |st| st.write(T0, &expiry(), |_| ()).unwrap(),
                to: "live, new",
                plan: Plan::Remove,
            },
            Case {
                name: "stored, read within the renewal interval",
                from: || stored(3),
                step: read,
                to: "live, stored",
                plan: Plan::Keep,
            },
            Case {
                name: "stored, write",
                from: || stored(3),
                step: write,
                to: "live, stored",
                plan: Plan::Write { touch: true },
            },
            Case {
                name: "stored, re-seal only",
                from: || stored(3),
                step: |st| st.live_mut().into_iter().for_each(|l| l.reissue = true),
                to: "live, stored",
                plan: Plan::Write { touch: false },
            },
            Case {
                name: "stored, destroy",
                from: || stored(3),
                step: destroy,
                to: "destroyed",
                plan: Plan::Remove,
            },
            Case {
                name: "no session, destroy: nothing to expire",
                from: || Phase::NoSession { stale_cookie: false },
                step: destroy,
                to: "no session",
                plan: Plan::Keep,
            },
            Case {
                name: "stale cookie, destroy",
                from: || Phase::NoSession { stale_cookie: true },
                step: destroy,
                to: "destroyed",
                plan: Plan::Remove,
            },
            Case {
                name: "destroyed, write: a new session",
                from: || Phase::Destroyed { stale_cookie: false },
                step: write,
                to: "live, new",
                plan: Plan::Write { touch: true },
            },
            Case {
                name: "stored, store outage",
                from: || stored(3),
                step: |st| {
                    let shared = crate::layer::Shared::for_tests();
                    let r: Result<(), Error> = Err(StoreError::unavailable("load", "down").into());
                    assert!(st.settle(&shared, r).is_err());
                },
                to: "failed",
                plan: Plan::Keep,
            },
        ];
        for c in cases {
            let mut st = loaded((c.from)());
            (c.step)(&mut st);
            assert_eq!(name(st.phase()), c.to, "{}", c.name);
            assert_eq!(st.plan(T0, RENEW), c.plan, "{}", c.name);
        }
    }

    #[test]
    fn renewal_falls_due() {
        let st = loaded(stored(1));
        assert_eq!(st.plan(T0.plus(std::time::Duration::from_secs(224)), RENEW), Plan::Keep);
        assert_eq!(st.plan(T0.plus(std::time::Duration::from_secs(225)), RENEW), Plan::Write { touch: true });
    }

    #[test]
    fn failed_is_terminal() {
        let shared = crate::layer::Shared::for_tests();
        let mut st = loaded(stored(1));
        assert!(st.check().is_ok());
        let ok: Result<u8, Error> = Ok(1);
        assert_eq!(st.settle(&shared, ok).unwrap(), 1);
        let contention: Result<(), Error> = Err(Error::Contention { attempts: 3 });
        assert!(st.settle(&shared, contention).is_err());
        assert_eq!(name(st.phase()), "live, stored", "contention is not an outage");
        let down: Result<(), Error> = Err(StoreError::unavailable("save", "down").into());
        assert!(st.settle(&shared, down).is_err());
        match st.check() {
            Err(Error::Store(StoreError::Unavailable { operation, .. })) => assert_eq!(operation, "save"),
            other => panic!("want the earlier outage, got {other:?}"),
        }
        assert!(st.live().is_none(), "a failed request sees no session");
        st.destroy();
        assert_eq!(name(st.phase()), "failed", "nothing leaves Failed");
        assert!(st.write(T0, &expiry(), |l| l.set_user(Some("mallory"))).is_err());
        assert_eq!(name(st.phase()), "failed", "a failed request never starts a session");
    }

    #[test]
    fn a_refused_insert_changes_nothing() {
        let mut st = loaded(stored(1));
        st.write(T0, &expiry(), |l| l.insert("k", Value::from(1), |_| Ok(()))).unwrap().unwrap();
        let too_big = |_: &Record| Err(Error::CookieTooLarge { size: 5000, limit: 4096 });
        assert!(st.write(T0, &expiry(), |l| l.insert("k", Value::from(2), too_big)).unwrap().is_err());
        assert!(st.write(T0, &expiry(), |l| l.insert("new", Value::from(3), too_big)).unwrap().is_err());
        let live = st.live().unwrap();
        assert_eq!(live.record.data.get("k"), Some(&Value::from(1)));
        assert!(!live.record.data.contains_key("new"));
        assert_eq!(live.changes.data.len(), 1);
        let refused = TooLarge { size: 5000, limit: 4096, cookie: true };
        assert_eq!(st.plan(T0, RENEW), Plan::Refuse(refused), "all or nothing: the first write is void too");
    }

    #[test]
    fn only_a_size_refusal_voids_the_request() {
        let mut st = loaded(stored(1));
        let other = |_: &Record| Err(Error::Random);
        assert!(st.write(T0, &expiry(), |l| l.insert("k", Value::from(1), other)).unwrap().is_err());
        assert_eq!(st.plan(T0, RENEW), Plan::Keep);
    }

    #[test]
    fn a_new_session_records_the_client() {
        let inputs = ClientInputs {
            addr: Some("192.0.2.77".parse().unwrap()),
            user_agent: Some(HeaderValue::from_static("agent/1")),
            ..ClientInputs::default()
        };
        let mut st = State::new(Presented::Absent, inputs);
        st.take_unloaded();
        st.set_loaded(Phase::NoSession { stale_cookie: false });
        st.write(T0, &expiry(), |l| l.set_user(Some("a"))).unwrap();
        let client = st.live().unwrap().record.client.clone().unwrap();
        assert_eq!(client.user_agent_hash, Some(sessionwarden_core::client::UserAgentHash::of("agent/1")));
        assert_eq!(client.ip_prefix.unwrap().to_string(), "192.0.2.0/24");
        assert_eq!(client.ip_addr, None, "the full address only when configured");
        st.destroy();
        st.write(T0, &expiry(), |l| l.set_user(Some("b"))).unwrap();
        assert_eq!(st.live().unwrap().record.client, Some(client), "a session started after a destroy too");
    }

    #[test]
    fn a_request_that_tells_nothing_records_no_client() {
        let mut st = State::new(Presented::Absent, ClientInputs::default());
        st.take_unloaded();
        st.set_loaded(Phase::NoSession { stale_cookie: false });
        st.write(T0, &expiry(), |l| l.set_user(Some("a"))).unwrap();
        assert_eq!(st.live().unwrap().record.client, None);
    }

    #[test]
    fn login_and_reauthentication_replay_onto_a_newer_record() {
        let inputs =
            ClientInputs { addr: Some("2001:db8:1:2::9".parse().unwrap()), ..ClientInputs::default() };
        let mut st = loaded(stored(1));
        let later = T0.plus(std::time::Duration::from_secs(60));
        st.write(T0, &expiry(), |l| l.authenticated(T0, Some(LoginMethod::Passkey), &inputs)).unwrap();
        let live = st.live().unwrap();
        let client = live.record.client.clone().unwrap();
        assert_eq!((client.login_at, client.login_method.clone()), (Some(T0), Some(LoginMethod::Passkey)));
        assert_eq!(client.ip_prefix.unwrap().to_string(), "2001:db8:1::/48");
        assert_eq!(live.record.authenticated_at, Some(T0));
        // A concurrent save won the race: the login replays onto the newer record.
        let mut newer = Record::new(T0, &expiry());
        newer.data.insert("other".into(), Value::from(1));
        live.changes.apply(&mut newer);
        assert_eq!(newer.client, Some(client.clone()));
        assert_eq!(newer.authenticated_at, Some(T0));
        // A re-authentication moves the time and leaves the login alone.
        st.write(later, &expiry(), |l| l.authenticated(later, None, &inputs)).unwrap();
        let live = st.live().unwrap();
        assert_eq!(live.record.authenticated_at, Some(later));
        assert_eq!(live.record.client.as_ref().unwrap().login_at, Some(T0));
    }

    #[test]
    fn changes_replay_in_order() {
        let mut record = Record::new(T0, &expiry());
        record.data.insert("gone".into(), Value::from(1));
        let mut live = Live {
            record: Record::new(T0, &expiry()),
            changes: Changes::default(),
            persisted: Persisted::Sealed,
            reissue: false,
            stale_cookie: false,
            too_large: None,
        };
        live.clear();
        live.insert("kept", Value::from(2), |_| Ok(())).unwrap();
        live.set_persistent(true);
        live.changes.apply(&mut record);
        assert!(!record.data.contains_key("gone"));
        assert_eq!(record.data.get("kept"), Some(&Value::from(2)));
        assert!(record.persistent);
        assert!(live.reissue);
    }

    mod merge {
        //! Concurrent writers of one session: each loaded the same record, and the saves that
        //! lost the compare-and-set replayed their change sets onto the newer record (one by
        //! one, or as a group-commit batch). Whatever the order, no write to a key that no
        //! other writer touched is lost.
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        /// One writer's edits: key (within its own namespace) to a new value or a removal.
        type Edits = BTreeMap<u8, Option<i64>>;

        fn live_from(record: &Record) -> Live {
            Live {
                record: record.clone(),
                changes: Changes::default(),
                persisted: Persisted::Sealed,
                reissue: false,
                stale_cookie: false,
                too_large: None,
            }
        }

        /// What writer `w` does to its copy of the record, through the handle's own methods.
        fn write(base: &Record, w: usize, edits: &Edits) -> Changes {
            let mut live = live_from(base);
            for (k, v) in edits {
                let key = format!("w{w}:{k}");
                match v {
                    Some(v) => {
                        live.insert(&key, Value::from(*v), |_| Ok(())).unwrap();
                    }
                    None => {
                        live.remove(&key);
                    }
                }
            }
            live.changes
        }

        fn base_record(seed: &BTreeMap<(u8, u8), i64>) -> Record {
            let mut record = Record::new(T0, &expiry());
            for ((w, k), v) in seed {
                record.data.insert(format!("w{w}:{k}"), Value::from(*v));
            }
            record.data.insert("untouched".into(), Value::from("kept"));
            record
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn disjoint_writes_survive_any_replay_order(
                seed in prop::collection::btree_map((0u8..4, 0u8..6), any::<i64>(), 0..12),
                edits in prop::collection::vec(
                    prop::collection::btree_map(0u8..6, prop::option::of(any::<i64>()), 0..6), 1..5),
                order in Just((0..4).collect::<Vec<usize>>()).prop_shuffle(),
                batched in any::<bool>(),
            ) {
                let base = base_record(&seed);
                let changes: Vec<Changes> = edits.iter().enumerate().map(|(w, e)| write(&base, w, e)).collect();
                // Saves land in `order`: each replays its changes onto the newest record.
                let order: Vec<usize> = order.into_iter().filter(|&w| w < changes.len()).collect();
                let mut stored = base.clone();
                if batched {
                    // Group commit: one leader replays every queued change set in arrival order.
                    for &w in &order {
                        changes[w].apply(&mut stored);
                    }
                } else {
                    for &w in &order {
                        let mut newer = stored.clone();
                        changes[w].apply(&mut newer);
                        stored = newer;
                    }
                }
                for (w, e) in edits.iter().enumerate() {
                    for (k, v) in e {
                        let got = stored.data.get(&format!("w{w}:{k}")).cloned();
                        prop_assert_eq!(got, v.map(Value::from), "writer {}'s key {} was lost", w, k);
                    }
                }
                // Keys no writer touched keep their values.
                for ((w, k), v) in &seed {
                    let touched = edits.get(usize::from(*w)).is_some_and(|e| e.contains_key(k));
                    if !touched {
                        prop_assert_eq!(stored.data.get(&format!("w{w}:{k}")), Some(&Value::from(*v)));
                    }
                }
                prop_assert_eq!(stored.data.get("untouched"), Some(&Value::from("kept")));
                // Replaying a change set twice (a cancelled leader's waiters queue again) is harmless.
                let mut twice = stored.clone();
                for &w in &order {
                    changes[w].apply(&mut twice);
                }
                prop_assert!(twice == stored);
            }

            /// The renewal decision at the ends of the time range: a record read back from a
            /// store may carry any `last_seen`, and the request's clock any time.
            #[test]
            fn renewal_plan_never_overflows(last_seen in any::<i64>(), now in any::<i64>(), renew in any::<i64>()) {
                let mut record = Record::new(T0, &expiry());
                record.last_seen = Timestamp::from_unix(last_seen);
                let live = live_from(&record);
                let due = i128::from(now) - i128::from(last_seen) >= i128::from(renew);
                let plan = live.plan(Timestamp::from_unix(now), renew);
                if due {
                    prop_assert_eq!(plan, Plan::Write { touch: true });
                } else {
                    prop_assert_eq!(plan, Plan::Keep);
                }
            }
        }
    }
}
