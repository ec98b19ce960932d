//! Security events: everything worth knowing about sessions and attacks on them.
//!
//! Every event is emitted through `tracing` under the target [`TARGET`]
//! (`sessionwarden::security`), counted, and kept in a bounded buffer of recent events for
//! admin APIs. No event carries a secret or a raw session id: sessions are named by their
//! [`SessionHandle`], a hash-derived name that cannot be turned into a cookie.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

#[cfg(feature = "csrf")]
pub use crate::csrf::CsrfRejectReason;
use crate::envelope::Rejection;
use crate::id::SessionHandle;
use crate::time::Timestamp;

/// The `tracing` target of security events.
pub const TARGET: &str = "sessionwarden::security";

/// Which deadline ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryKind {
    /// The idle timeout passed without activity.
    Idle,
    /// The absolute timeout since creation passed.
    Absolute,
}

/// Why a request's session cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CookieRejectReason {
    /// The envelope did not open.
    Envelope(Rejection),
    /// The request carried two or more cookies with the session cookie's name (a sign of
    /// cookie tossing from a sibling domain); none is trusted.
    Duplicate,
    /// The envelope opened but its payload is not a session (wrong length, bad JSON).
    BadPayload,
}

impl CookieRejectReason {
    /// A stable snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Envelope(r) => r.as_str(),
            Self::Duplicate => "duplicate_cookie",
            Self::BadPayload => "bad_payload",
        }
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityEvent {
    /// A new session was stored (or its first cookie sealed).
    SessionCreated {
        /// The session.
        session: SessionHandle,
    },
    /// A session got a new id (login, privilege change); the old id no longer loads.
    SessionRotated {
        /// The old name.
        from: SessionHandle,
        /// The new name.
        to: SessionHandle,
    },
    /// A session was destroyed by its owner (logout).
    SessionDestroyed {
        /// The session.
        session: SessionHandle,
    },
    /// A session presented after its deadline.
    SessionExpired {
        /// Which deadline.
        deadline: ExpiryKind,
    },
    /// A session was revoked by an operator or a "log out everywhere".
    SessionRevoked {
        /// The session.
        session: SessionHandle,
    },
    /// A login over the per-user session cap ended this older session of the user
    /// (policy `evict-oldest`, OWASP ASVS 7.1.2).
    SessionEvicted {
        /// The ended session.
        session: SessionHandle,
        /// Its user.
        user: String,
    },
    /// An operator disabled an account: its sessions and refresh tokens were ended and its
    /// logins are refused until it is enabled again (OWASP ASVS 7.4.2).
    UserDisabled {
        /// The user.
        user: String,
        /// How many sessions were ended.
        sessions: u64,
    },
    /// An operator enabled a disabled account again.
    UserEnabled {
        /// The user.
        user: String,
    },
    /// A cookie was rejected; the request was treated as having no session.
    CookieRejected {
        /// Why.
        reason: CookieRejectReason,
    },
    /// A stored record could not be decoded; it was deleted.
    CorruptRecord {
        /// The session.
        session: SessionHandle,
    },
    /// The store could not be reached; the request was answered 503.
    StoreUnavailable {
        /// The operation that failed.
        operation: &'static str,
    },
    /// A cookie sealed under an older key was re-sealed under the primary.
    CookieResealed {
        /// The id of the key that had sealed it.
        from_kid: u32,
    },
    /// The keyring was reloaded.
    KeyringReloaded {
        /// The primary key's id after the reload.
        primary_kid: u32,
    },
    /// A keyring reload failed; the previous keys stay in use.
    KeyringReloadFailed {
        /// What went wrong (never key material).
        reason: String,
    },
    /// A state-changing request failed the CSRF checks and was answered 403.
    #[cfg(feature = "csrf")]
    CsrfRejected {
        /// Which check failed (never a token value).
        reason: CsrfRejectReason,
    },
    /// A bearer token or refresh token was refused; the request was answered 401.
    JwtRejected {
        /// `sessionwarden_jwt::JwtError::reason()`: `alg_none`, `expired`, `revoked`, …
        /// (never token bytes or claim values).
        reason: &'static str,
    },
    /// A forwarding header (`X-Forwarded-For`, `Forwarded`) from a trusted proxy could not
    /// be read; the client address fell back to the proxy's. Never the header's value.
    ForwardingHeaderRejected {
        /// `sessionwarden::client::ForwardingProblem::reason()`: `malformed_hop`, …
        reason: &'static str,
    },
    /// An already-rotated refresh token came back outside the grace window: its whole family
    /// was revoked (stolen token, or a client replaying old tokens).
    RefreshTokenReuse {
        /// The family's id (not a secret: it cannot refresh anything).
        family: String,
    },
    /// Every session of a user, or of everyone, was revoked by an operator or a "log out
    /// everywhere" (one event for the lot; [`SecurityEvent::SessionRevoked`] names single
    /// sessions).
    SessionsRevoked {
        /// The user, or `None` when every user's sessions were revoked.
        user: Option<String>,
        /// How many sessions were deleted.
        sessions: u64,
    },
    /// A request to the admin API was refused: no bearer token, a malformed
    /// `Authorization` header, or the wrong token. Answered 401.
    AdminAuthFailed {
        /// `missing`, `malformed` or `mismatch` (never the presented bytes).
        reason: &'static str,
    },
    /// A risk rule fired (`crate::risk`): what it saw, and the action taken.
    RiskDetected {
        /// The rule.
        rule: crate::risk::RiskRule,
        /// The configured action, taken: `monitor`, `step_up` or `revoke`.
        action: crate::risk::RiskAction,
        /// The session, when it is kept server-side.
        session: Option<SessionHandle>,
        /// The session's user.
        user: Option<String>,
        /// What the rule compared: old and new network, device, country, ASN, travel
        /// (boxed: it is the largest of the events' fields, and rare).
        evidence: Box<crate::risk::RiskEvidence>,
    },
    /// A client or a user name went past a rate limit ([`crate::throttle`]). Recorded once
    /// per window (the block window, or until the rate allows again), not for every refused
    /// request.
    #[cfg(feature = "throttle")]
    Throttled {
        /// Which rule.
        rule: crate::throttle::RuleKind,
        /// The client's /24 or /48, when known. The per-user rule names no user: a name
        /// typed into a login form may be a password.
        #[serde(skip_serializing_if = "Option::is_none")]
        client: Option<sessionwarden_core::client::IpPrefix>,
        /// Events counted within the period, the one past the limit included.
        count: u32,
        /// The limit: `limit` events per `period_secs`.
        limit: u32,
        /// The limit's period, in seconds.
        period_secs: u64,
        /// Refused (enforce mode) or only recorded (monitor mode).
        action: crate::throttle::ThrottleAction,
        /// How long the client is refused, in seconds.
        retry_after_secs: u64,
    },
}

impl SecurityEvent {
    /// The event's kind, a stable snake_case name (`"cookie_rejected"`, ...).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SessionCreated { .. } => "session_created",
            Self::SessionRotated { .. } => "session_rotated",
            Self::SessionDestroyed { .. } => "session_destroyed",
            Self::SessionExpired { .. } => "session_expired",
            Self::SessionRevoked { .. } => "session_revoked",
            Self::SessionEvicted { .. } => "session_evicted",
            Self::UserDisabled { .. } => "user_disabled",
            Self::UserEnabled { .. } => "user_enabled",
            Self::CookieRejected { .. } => "cookie_rejected",
            Self::CorruptRecord { .. } => "corrupt_record",
            Self::StoreUnavailable { .. } => "store_unavailable",
            Self::CookieResealed { .. } => "cookie_resealed",
            Self::KeyringReloaded { .. } => "keyring_reloaded",
            Self::KeyringReloadFailed { .. } => "keyring_reload_failed",
            #[cfg(feature = "csrf")]
            Self::CsrfRejected { .. } => "csrf_rejected",
            Self::JwtRejected { .. } => "jwt_rejected",
            Self::ForwardingHeaderRejected { .. } => "forwarding_header_rejected",
            Self::RefreshTokenReuse { .. } => "refresh_token_reuse",
            Self::SessionsRevoked { .. } => "sessions_revoked",
            Self::AdminAuthFailed { .. } => "admin_auth_failed",
            Self::RiskDetected { .. } => "risk_detected",
            #[cfg(feature = "throttle")]
            Self::Throttled { .. } => "throttled",
        }
    }

    /// Whether this is a refusal or a failure (a rejected cookie, CSRF check, JWT or admin
    /// authentication, refresh-token reuse, a corrupt record, a store or keyring failure),
    /// logged as a warning, rather than the lifecycle of a session, logged as information.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::SecurityEvent;
    /// assert!(SecurityEvent::AdminAuthFailed { reason: "missing" }.is_warning());
    /// assert!(!SecurityEvent::UserEnabled { user: "alice".into() }.is_warning());
    /// ```
    #[must_use]
    pub fn is_warning(&self) -> bool {
        match self {
            Self::CookieRejected { .. }
            | Self::CorruptRecord { .. }
            | Self::StoreUnavailable { .. }
            | Self::KeyringReloadFailed { .. }
            | Self::JwtRejected { .. }
            | Self::ForwardingHeaderRejected { .. }
            | Self::RefreshTokenReuse { .. }
            | Self::AdminAuthFailed { .. }
            | Self::RiskDetected { .. } => true,
            #[cfg(feature = "csrf")]
            Self::CsrfRejected { .. } => true,
            #[cfg(feature = "throttle")]
            Self::Throttled { .. } => true,
            Self::SessionCreated { .. }
            | Self::SessionRotated { .. }
            | Self::SessionDestroyed { .. }
            | Self::SessionExpired { .. }
            | Self::SessionRevoked { .. }
            | Self::SessionEvicted { .. }
            | Self::UserDisabled { .. }
            | Self::UserEnabled { .. }
            | Self::CookieResealed { .. }
            | Self::KeyringReloaded { .. }
            | Self::SessionsRevoked { .. } => false,
        }
    }

    /// The reason, for events that have one.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::CookieRejected { reason } => Some(reason.as_str()),
            Self::StoreUnavailable { operation } => Some(operation),
            Self::KeyringReloadFailed { reason } => Some(reason),
            #[cfg(feature = "csrf")]
            Self::CsrfRejected { reason } => Some(reason.as_str()),
            Self::JwtRejected { reason } | Self::ForwardingHeaderRejected { reason } => Some(reason),
            Self::RefreshTokenReuse { .. } => Some("refresh_reuse"),
            Self::AdminAuthFailed { reason } => Some(reason),
            Self::RiskDetected { rule, .. } => Some(rule.as_str()),
            #[cfg(feature = "throttle")]
            Self::Throttled { rule, .. } => Some(rule.as_str()),
            Self::SessionExpired { deadline: ExpiryKind::Idle } => Some("idle"),
            Self::SessionExpired { deadline: ExpiryKind::Absolute } => Some("absolute"),
            _ => None,
        }
    }
}

/// An event with the time it was recorded, and the request it happened in.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct RecordedEvent {
    /// When.
    pub at: Timestamp,
    /// What.
    #[serde(flatten)]
    pub event: SecurityEvent,
    /// The request it happened in; `None` outside a request (a keyring reload, a sweep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<RequestContext>,
}

/// Something that wants every event as it happens (metrics exporter, audit store, test
/// recorder).
pub trait EventSink: Send + Sync + 'static {
    /// Called once per event, synchronously: keep it cheap.
    fn record(&self, at: Timestamp, event: &SecurityEvent);

    /// Called instead of [`EventSink::record`] with the request the event happened in.
    /// The default ignores the context.
    fn record_in(&self, at: Timestamp, event: &SecurityEvent, context: Option<&RequestContext>) {
        let _ = context;
        self.record(at, event);
    }
}

/// Where an event happened: the request's method and path, the client, the request id, and
/// the session's user and handle once the session has loaded.
///
/// Never a secret: no query string (it may carry tokens), no header values besides a
/// bounded request id, no cookie, no session id. The user agent is summarised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RequestContext {
    /// The request method.
    pub method: String,
    /// The request path, without the query, at most 256 bytes.
    pub path: String,
    /// The client address: the TCP peer, or the hop trusted proxies vouch for. `None` when
    /// the server did not tell the layer its peer (see [`crate::client`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<std::net::IpAddr>,
    /// The `User-Agent`'s browser family, major version and OS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::DeviceSummary>,
    /// The `x-request-id` the request carried (visible ASCII, at most 128 bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The session's user, once the session has loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The session, once it has loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionHandle>,
}

const X_REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The longest path kept in a [`RequestContext`], in bytes.
const MAX_CONTEXT_PATH: usize = 256;
/// The longest request id kept, in bytes.
const MAX_REQUEST_ID: usize = 128;

/// The client address of a request, resolved on first use.
///
/// A request from a trusted proxy names its client in a forwarding header, and walking that
/// header costs more than the rest of an ordinary session read's bookkeeping; most requests
/// of a logged-in session never need the address (it is kept when a session starts or a
/// user logs in, and shown in security events). So the header's lines are kept as they came
/// and walked only when asked. A problem with the header is recorded as a
/// [`SecurityEvent::ForwardingHeaderRejected`] then, once per request.
pub(crate) struct ClientSource {
    resolved: std::sync::OnceLock<Option<std::net::IpAddr>>,
    /// The trusted proxy's address, its header's lines, and the layer's configuration (the
    /// proxy list, the event hub): `Some` only while the address is still to be resolved.
    #[cfg(feature = "client")]
    behind: Option<(std::net::IpAddr, crate::client::ForwardedLines, Arc<crate::layer::Shared>)>,
}

impl ClientSource {
    /// An address known up front (the TCP peer, or none).
    pub(crate) fn known(addr: Option<std::net::IpAddr>) -> Self {
        Self {
            resolved: std::sync::OnceLock::from(addr),
            #[cfg(feature = "client")]
            behind: None,
        }
    }

    /// A request whose peer `proxy` is trusted and forwarded it with `lines`.
    #[cfg(feature = "client")]
    pub(crate) fn behind(
        proxy: std::net::IpAddr,
        lines: crate::client::ForwardedLines,
        shared: Arc<crate::layer::Shared>,
    ) -> Self {
        Self { resolved: std::sync::OnceLock::new(), behind: Some((proxy, lines, shared)) }
    }

    /// The client's address: the peer, or the hop the trusted proxies vouch for.
    pub(crate) fn addr(&self) -> Option<std::net::IpAddr> {
        if let Some(addr) = self.resolved.get() {
            return *addr;
        }
        #[cfg(feature = "client")]
        if let Some((proxy, lines, shared)) = &self.behind {
            let found = lines.resolve(*proxy, &shared.trusted_proxies);
            let addr = Some(found.addr());
            // The first to resolve reports; recording the event reads the address again,
            // which is set by then.
            if self.resolved.set(addr).is_ok()
                && let Some(problem) = found.problem()
            {
                shared.event(SecurityEvent::ForwardingHeaderRejected { reason: problem.reason() });
            }
            return addr;
        }
        None
    }
}

/// What the layer knows about the request in flight, shared with the code that records
/// events during it. Everything is kept as the request had it (cheap reference-counted
/// clones, no parsing): the context is made only if an event is recorded.
pub(crate) struct RequestScope {
    method: http::Method,
    uri: http::Uri,
    client: ClientSource,
    user_agent: Option<http::HeaderValue>,
    request_id: Option<http::HeaderValue>,
    session: Mutex<(Option<String>, Option<SessionHandle>)>,
}

impl RequestScope {
    pub(crate) fn new<B>(
        req: &http::Request<B>,
        client: ClientSource,
        user_agent: Option<http::HeaderValue>,
    ) -> Self {
        let headers = req.headers();
        Self {
            method: req.method().clone(),
            uri: req.uri().clone(),
            client,
            user_agent,
            request_id: headers.get(X_REQUEST_ID).cloned(),
            session: Mutex::new((None, None)),
        }
    }

    /// The client's address (resolved now if it was not yet).
    pub(crate) fn client_ip(&self) -> Option<std::net::IpAddr> {
        self.client.addr()
    }

    /// The request's `User-Agent`, if the layer looks at clients.
    pub(crate) fn user_agent(&self) -> Option<&http::HeaderValue> {
        self.user_agent.as_ref()
    }

    /// The session's user and handle, once known.
    pub(crate) fn set_session(&self, user: Option<&str>, handle: Option<SessionHandle>) {
        *self.session.lock() = (user.map(str::to_owned), handle);
    }

    fn context(&self) -> RequestContext {
        let (user, session) = self.session.lock().clone();
        let path = self.uri.path();
        let mut end = path.len().min(MAX_CONTEXT_PATH);
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        let request_id = self
            .request_id
            .as_ref()
            .filter(|v| v.len() <= MAX_REQUEST_ID && v.as_bytes().iter().all(u8::is_ascii_graphic))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        RequestContext {
            method: self.method.as_str().to_owned(),
            path: path[..end].to_owned(),
            client_ip: self.client.addr(),
            device: self.user_agent.as_ref().and_then(summarise),
            request_id,
            user,
            session,
        }
    }
}

#[cfg(feature = "client")]
fn summarise(user_agent: &http::HeaderValue) -> Option<crate::DeviceSummary> {
    Some(crate::client::device_summary(user_agent.as_bytes()))
}

#[cfg(not(feature = "client"))]
fn summarise(_: &http::HeaderValue) -> Option<crate::DeviceSummary> {
    None
}

tokio::task_local! {
    /// The request the current task is serving, set by the session layer around the inner
    /// service's future: events recorded anywhere below it (the session, the CSRF layer, a
    /// handler, the JWT extractors) carry its context.
    pub(crate) static REQUEST: Arc<RequestScope>;
}

/// The client address of the request the current task serves, if any and known.
#[cfg_attr(not(feature = "throttle"), allow(dead_code))] // the login throttle reads it
pub(crate) fn current_client_ip() -> Option<std::net::IpAddr> {
    REQUEST.try_with(|scope| scope.client_ip()).ok().flatten()
}

/// The context of the request the current task serves, if any.
fn current_context() -> Option<RequestContext> {
    REQUEST.try_with(|scope| scope.context()).ok()
}

/// An event's evidence as the JSON object its serde form is, for the log: JSON log
/// formatters can embed it as fields, text logs show it as it would be stored.
struct EventJson<'a>(&'a SecurityEvent);

impl fmt::Display for EventJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self.0).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

/// The event hub: logs, counts, keeps recent events, and forwards to sinks.
/// Clones share one hub.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    capacity: usize,
    recent: Mutex<VecDeque<RecordedEvent>>,
    counts: Mutex<BTreeMap<&'static str, u64>>,
    sinks: Vec<Arc<dyn EventSink>>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").field("capacity", &self.inner.capacity).finish_non_exhaustive()
    }
}

impl Events {
    /// A hub that keeps the last `capacity` events.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self::with_sinks(capacity, Vec::new())
    }

    /// A hub that also forwards every event to `sinks`.
    #[must_use]
    pub fn with_sinks(capacity: usize, sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity,
                recent: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
                counts: Mutex::new(BTreeMap::new()),
                sinks,
            }),
        }
    }

    /// Records `event` at `at`, with the context of the request the current task serves
    /// (when the session layer is serving one).
    pub fn record(&self, at: Timestamp, event: SecurityEvent) {
        let context = current_context();
        let kind = event.kind();
        // Refusals and failures are warnings; the lifecycle of sessions is information.
        let warning = event.is_warning();
        let ctx = context.as_ref();
        let method = ctx.map(|c| c.method.as_str());
        let path = ctx.map(|c| c.path.as_str());
        let client_ip = ctx.and_then(|c| c.client_ip).map(tracing::field::display);
        let request_id = ctx.and_then(|c| c.request_id.as_deref());
        let user = ctx.and_then(|c| c.user.as_deref());
        let session = ctx.and_then(|c| c.session.as_ref()).map(SessionHandle::as_str);
        let browser = ctx.and_then(|c| c.device.as_ref()).and_then(|d| d.browser());
        let os = ctx.and_then(|c| c.device.as_ref()).and_then(|d| d.os());
        macro_rules! emit {
            ($level:ident) => {
                tracing::$level!(
                    target: TARGET, kind, reason = event.reason(), event = %EventJson(&event), method, path, client_ip,
                    request_id, user, session, browser, os, "security event"
                )
            };
        }
        if warning {
            emit!(warn);
        } else {
            emit!(info);
        }
        *self.inner.counts.lock().entry(kind).or_insert(0) += 1;
        for sink in &self.inner.sinks {
            sink.record_in(at, &event, ctx);
        }
        if self.inner.capacity > 0 {
            let mut recent = self.inner.recent.lock();
            if recent.len() == self.inner.capacity {
                recent.pop_front();
            }
            recent.push_back(RecordedEvent { at, event, context });
        }
    }

    /// The most recent events, oldest first.
    #[must_use]
    pub fn recent(&self) -> Vec<RecordedEvent> {
        self.inner.recent.lock().iter().cloned().collect()
    }

    /// How many events of each kind were recorded since start.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.inner.counts.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_bounded_and_counts_survive() {
        let ev = Events::new(2);
        for _ in 0..5 {
            ev.record(
                Timestamp::from_unix(1),
                SecurityEvent::CookieRejected { reason: CookieRejectReason::Duplicate },
            );
        }
        assert_eq!(ev.recent().len(), 2);
        assert_eq!(ev.counts()["cookie_rejected"], 5);
        let json = serde_json::to_string(&ev.recent()[0]).unwrap();
        assert!(json.contains(r#""kind":"cookie_rejected""#), "{json}");
    }

    /// The forwarding header is walked only when the address is asked for, and its problem
    /// is recorded once however often it is asked, with the request's context.
    #[cfg(feature = "client")]
    #[test]
    fn a_forwarded_address_is_resolved_once_when_asked() {
        use crate::keyring::{KeySet, Keyring};
        let events = Events::default();
        let proxies = crate::client::TrustedProxies::new(["10.0.0.0/8"]).unwrap();
        let layer = crate::SessionLayer::new(
            crate::MemoryStore::default(),
            Keyring::new(KeySet::generate(Timestamp::from_unix(1)).unwrap()),
        )
        .with_events(events.clone())
        .with_trusted_proxies(proxies.clone());
        let proxy: std::net::IpAddr = "10.1.2.3".parse().unwrap();
        let source = |xff: &'static str| {
            let mut headers = http::HeaderMap::new();
            headers.insert("x-forwarded-for", http::HeaderValue::from_static(xff));
            let lines = crate::client::ForwardedLines::of(&headers, &proxies);
            ClientSource::behind(proxy, lines, layer.shared().clone())
        };
        let req = http::Request::get("/x").body(()).unwrap();
        let rejected = || events.counts().get("forwarding_header_rejected").copied().unwrap_or(0);

        let good = Arc::new(RequestScope::new(&req, source("203.0.113.9, 10.0.0.3"), None));
        assert_eq!(good.client_ip(), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(rejected(), 0);

        let bad = Arc::new(RequestScope::new(&req, source("203.0.113.9, not-an-ip"), None));
        assert_eq!(rejected(), 0, "nothing is walked before the address is asked for");
        REQUEST.sync_scope(bad.clone(), || {
            assert_eq!(bad.client_ip(), Some(proxy), "an unusable header leaves the proxy as the client");
            assert_eq!(bad.client_ip(), Some(proxy));
        });
        assert_eq!(rejected(), 1, "recorded once");
        let event =
            events.recent().into_iter().find(|e| e.event.kind() == "forwarding_header_rejected").unwrap();
        assert_eq!(event.context.and_then(|c| c.client_ip), Some(proxy), "with its request's context");
    }
}
