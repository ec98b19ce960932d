use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::service::SessionService;
use crate::config::{CookieConfig, Expiry};
use crate::events::{Events, SecurityEvent};
use crate::keyring::Keyring;
use crate::record::Record;
use crate::store::Backend;
use crate::time::{Clock, SystemClock, Timestamp};

/// Adds sessions to every request of the services it wraps.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::{CookieStore, CookieConfig, Expiry, SessionLayer};
/// use sessionwarden::keyring::{Keyring, KeySet};
/// # let keyring = Keyring::new(KeySet::generate(sessionwarden::Timestamp::from_unix(0))?);
/// let layer = SessionLayer::new(CookieStore::signed(), keyring)
///     .with_cookie(CookieConfig::default())
///     .with_expiry(Expiry::default());
/// # let _ = layer;
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SessionLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) backend: Backend,
    pub(crate) keyring: Keyring,
    pub(crate) cookie: CookieConfig,
    pub(crate) expiry: Expiry,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) events: Events,
    /// How session ids travel in cookies and map to store keys (server-side stores).
    pub(crate) ids: Arc<dyn crate::codec::IdCodec>,
    /// Per-session group-commit queues: concurrent writes of one session in this process are
    /// saved together, one batch per store round trip, instead of racing the store's
    /// compare-and-set (which still settles races between processes).
    pub(crate) save_queues: Arc<crate::session::SaveQueues>,
    /// The largest stored record a server-side session may grow to, in bytes.
    pub(crate) max_session_size: usize,
    /// Which peers' forwarding headers are believed.
    #[cfg(feature = "client")]
    pub(crate) trusted_proxies: crate::client::TrustedProxies,
    /// Whether records keep the full client address or only its prefix.
    pub(crate) address_retention: sessionwarden_core::client::AddressRetention,
    /// Whether the layer looks at the client at all (address, forwarding headers,
    /// `User-Agent`); off with [`SessionLayer::without_client_metadata`].
    pub(crate) client_metadata: bool,
    /// The per-user session cap [`crate::Session::login`] applies, and the store deciding it.
    pub(crate) session_limit: Option<(crate::store::SessionLimit, Arc<dyn crate::store::UserSessionCap>)>,
    /// Where [`crate::Session::login`] looks up disabled accounts.
    pub(crate) account_locks: Option<Arc<dyn crate::store::AccountLocks>>,
    /// The risk rules compared when a session loads; `None` when every rule is off.
    pub(crate) risk: Option<Arc<crate::risk::RiskRules>>,
    /// The rate limits on id guessing and session floods.
    #[cfg(feature = "throttle")]
    pub(crate) throttle: Option<crate::throttle::Throttle>,
    /// The longest remember-me lifetime allowed ([`SessionLayer::with_remember_me`]).
    pub(crate) remember_max: Option<Duration>,
}

/// The default limit of a server-side session's stored size: 64 KiB. A session is read
/// whole on every request that touches it and rewritten whole on every change, so an
/// unbounded one lets a client make every later request of its session slow.
pub const DEFAULT_MAX_SESSION_SIZE: usize = 64 * 1024;

const SAVE_QUEUE_STRIPES: usize = 256;

impl Shared {
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub(crate) fn event(&self, event: SecurityEvent) {
        self.events.record(self.now(), event);
    }

    /// `Max-Age` for a persistent cookie: until the absolute deadline (the idle deadline is
    /// enforced by the server, and renewing it must not require a new cookie).
    pub(crate) fn max_age(&self, record: &Record, now: Timestamp) -> Option<Duration> {
        if !record.persistent {
            return None;
        }
        // Browsers cap cookie lifetimes at 400 days (RFC 6265bis).
        const CAP: Duration = Duration::from_secs(400 * 24 * 3600);
        Some(record.absolute_deadline.map_or(CAP, |t| now.until(t).min(CAP)))
    }
}

impl SessionLayer {
    /// Sessions kept in `backend` ([`crate::CookieStore`], [`crate::MemoryStore`], or any
    /// `Arc<dyn SessionStore>`), sealed with `keyring`, with secure defaults.
    #[must_use]
    pub fn new(backend: impl Into<Backend>, keyring: Keyring) -> Self {
        Self {
            shared: Arc::new(Shared {
                backend: backend.into(),
                keyring,
                cookie: CookieConfig::default(),
                expiry: Expiry::default(),
                clock: Arc::new(SystemClock),
                events: Events::default(),
                ids: Arc::new(crate::codec::SealedIds),
                save_queues: Arc::new(crate::session::SaveQueues::new(SAVE_QUEUE_STRIPES)),
                max_session_size: DEFAULT_MAX_SESSION_SIZE,
                #[cfg(feature = "client")]
                trusted_proxies: crate::client::TrustedProxies::default(),
                address_retention: sessionwarden_core::client::AddressRetention::default(),
                client_metadata: true,
                session_limit: None,
                account_locks: None,
                risk: Some(Arc::new(crate::risk::RiskRules::default())),
                #[cfg(feature = "throttle")]
                throttle: None,
                remember_max: None,
            }),
        }
    }

    #[cfg(test)]
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn map(self, f: impl FnOnce(&mut Shared)) -> Self {
        let mut shared = Arc::try_unwrap(self.shared).unwrap_or_else(|arc| Shared {
            backend: arc.backend.clone(),
            keyring: arc.keyring.clone(),
            cookie: arc.cookie.clone(),
            expiry: arc.expiry.clone(),
            clock: arc.clock.clone(),
            events: arc.events.clone(),
            ids: arc.ids.clone(),
            save_queues: arc.save_queues.clone(),
            max_session_size: arc.max_session_size,
            #[cfg(feature = "client")]
            trusted_proxies: arc.trusted_proxies.clone(),
            address_retention: arc.address_retention,
            client_metadata: arc.client_metadata,
            session_limit: arc.session_limit.clone(),
            account_locks: arc.account_locks.clone(),
            risk: arc.risk.clone(),
            #[cfg(feature = "throttle")]
            throttle: arc.throttle.clone(),
            remember_max: arc.remember_max,
        });
        f(&mut shared);
        Self { shared: Arc::new(shared) }
    }

    /// Sets the cookie's name and attributes.
    #[must_use]
    pub fn with_cookie(self, cookie: CookieConfig) -> Self {
        self.map(|s| s.cookie = cookie)
    }

    /// Sets idle and absolute timeouts and cookie persistence.
    #[must_use]
    pub fn with_expiry(self, expiry: Expiry) -> Self {
        self.map(|s| s.expiry = expiry)
    }

    /// Sets the largest stored size a server-side session may grow to, in bytes
    /// ([`DEFAULT_MAX_SESSION_SIZE`] by default). A write that would pass it fails with
    /// [`crate::Error::SessionTooLarge`], and the request's session changes are all dropped
    /// (the layer answers 413). Cookie-store sessions are bounded by the browser's 4 KB.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::{MemoryStore, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
    /// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
    /// let layer = SessionLayer::new(MemoryStore::default(), keyring).with_max_session_size(16 * 1024);
    /// # drop(layer);
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(())
    /// ```
    #[must_use]
    pub fn with_max_session_size(self, bytes: usize) -> Self {
        self.map(|s| s.max_session_size = bytes)
    }

    /// Believes `X-Forwarded-For` / `Forwarded` only from these peers (none by default), taking
    /// the right-most hop that is not one of them as the client address. The peer itself
    /// comes from axum's `ConnectInfo<SocketAddr>` (serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`) or a [`crate::PeerAddr`]
    /// extension. A header a trusted proxy sent that does not parse is ignored (the client is
    /// the proxy) and recorded as a `forwarding_header_rejected` security event.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::{MemoryStore, SessionLayer, TrustedProxies, keyring::{Keyring, KeySet}, Timestamp};
    /// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
    /// let proxies = TrustedProxies::new(["10.0.0.0/8", "fd00::/8"])?;
    /// let layer = SessionLayer::new(MemoryStore::default(), keyring).with_trusted_proxies(proxies);
    /// # drop(layer);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "client")]
    #[must_use]
    pub fn with_trusted_proxies(self, proxies: crate::client::TrustedProxies) -> Self {
        self.map(|s| s.trusted_proxies = proxies)
    }

    /// Whether records keep the client's full address besides its /24 or /48 prefix
    /// ([`AddressRetention::PrefixOnly`](crate::client::AddressRetention) by default).
    #[must_use]
    pub fn with_address_retention(self, retention: sessionwarden_core::client::AddressRetention) -> Self {
        self.map(|s| s.address_retention = retention)
    }

    /// Records nothing about clients: no address or prefix, no `User-Agent` hash or device
    /// summary, on new sessions and at login; forwarding headers are not read, and security
    /// events carry no client address. For deployments that must not keep such data (the
    /// admin plane then shows sessions without where or on what they are used, and the risk
    /// rules that compare clients have nothing to compare).
    #[must_use]
    pub fn without_client_metadata(self) -> Self {
        self.map(|s| s.client_metadata = false)
    }

    /// Caps each user's live sessions (OWASP ASVS 7.1.2): [`crate::Session::login`] creates
    /// the logged-in session through `store`'s [`UserSessionCap::admit`](crate::store::UserSessionCap),
    /// which counts, evicts or refuses atomically with the creation, so concurrent logins of
    /// one user never leave more than `limit.max()` sessions. Under
    /// [`LimitPolicy::EvictOldest`](crate::store::LimitPolicy) each ended session is recorded as
    /// a `session_evicted` event; under `RefuseNew` a login over the cap fails with
    /// [`crate::Error::TooManySessions`] and the session stays as it was.
    ///
    /// `store` must be the layer's own store (the same `Arc`, or a clone sharing its state).
    /// Only logins are counted: [`crate::Session::set_user`] on its own bypasses the cap.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use std::{num::NonZeroU32, sync::Arc};
    /// use sessionwarden::{MemoryStore, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
    /// use sessionwarden::store::{LimitPolicy, SessionLimit};
    /// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
    /// let store = Arc::new(MemoryStore::default());
    /// let limit = SessionLimit::new(NonZeroU32::new(5).unwrap(), LimitPolicy::EvictOldest);
    /// let layer = SessionLayer::new(store.clone() as Arc<dyn sessionwarden::store::SessionStore>, keyring)
    ///     .with_session_limit(limit, store);
    /// # drop(layer);
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(())
    /// ```
    #[must_use]
    pub fn with_session_limit(
        self,
        limit: crate::store::SessionLimit,
        store: Arc<dyn crate::store::UserSessionCap>,
    ) -> Self {
        self.map(|s| s.session_limit = Some((limit, store)))
    }

    /// Refuses logins of disabled users (OWASP ASVS 7.4.2): [`crate::Session::login`] fails
    /// with [`crate::Error::AccountDisabled`] for a user `locks` marks disabled, checked
    /// before and again after the session is stored, so a login racing
    /// [`crate::policy::disable_user`] never survives it.
    #[must_use]
    pub fn with_account_locks(self, locks: Arc<dyn crate::store::AccountLocks>) -> Self {
        self.map(|s| s.account_locks = Some(locks))
    }

    /// Sets the risk rules compared when a logged-in session loads
    /// ([`RiskRules::default()`](crate::risk::RiskRules) unless set; see [`crate::risk`]).
    /// [`RiskRules::off()`](crate::risk::RiskRules::off) skips the comparison altogether.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::{MemoryStore, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
    /// use sessionwarden::risk::{RiskAction, RiskRule, RiskRules};
    /// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
    /// let rules = RiskRules::default().with_action(RiskRule::DeviceChange, RiskAction::Revoke);
    /// let layer = SessionLayer::new(MemoryStore::default(), keyring).with_risk_rules(rules);
    /// # drop(layer);
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(())
    /// ```
    #[must_use]
    pub fn with_risk_rules(self, rules: crate::risk::RiskRules) -> Self {
        let rules = (!rules.is_off()).then(|| Arc::new(rules));
        self.map(|s| s.risk = rules)
    }

    /// Limits session-id guessing and session floods per client (see [`crate::throttle`]):
    /// past a limit in enforce mode a request gets 429 with `Retry-After`, and nothing of
    /// its session is saved. Give the same [`crate::throttle::Throttle`] to the login
    /// handler for the login limits, and the same event hub as the layer's.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use std::sync::Arc;
    /// use sessionwarden::{Events, MemoryStore, SessionLayer, SystemClock, keyring::{Keyring, KeySet}, Timestamp};
    /// use sessionwarden::throttle::{Throttle, ThrottleConfig};
    /// let events = Events::default();
    /// let throttle = Throttle::in_process(ThrottleConfig::default(), events.clone(), Arc::new(SystemClock));
    /// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
    /// let layer = SessionLayer::new(MemoryStore::default(), keyring).with_events(events).with_throttle(throttle);
    /// # drop(layer);
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(())
    /// ```
    #[cfg(feature = "throttle")]
    #[must_use]
    pub fn with_throttle(self, throttle: crate::throttle::Throttle) -> Self {
        self.map(|s| s.throttle = Some(throttle))
    }

    /// Sets the clock (inject a [`crate::ManualClock`] in tests).
    #[must_use]
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        self.map(|s| s.clock = clock)
    }

    /// Sets the event hub security events go to.
    #[must_use]
    pub fn with_events(self, events: Events) -> Self {
        self.map(|s| s.events = events)
    }

    /// Sets how session ids travel in cookies (default [`crate::codec::SealedIds`]); for
    /// formats shared with other frameworks, such as Flask-Session's sids.
    #[must_use]
    pub fn with_id_codec(self, ids: Arc<dyn crate::codec::IdCodec>) -> Self {
        self.map(|s| s.ids = ids)
    }

    /// The event hub.
    #[must_use]
    pub fn events(&self) -> &Events {
        &self.shared.events
    }

    /// The cookie configuration.
    #[must_use]
    pub fn cookie(&self) -> &CookieConfig {
        &self.shared.cookie
    }
}

impl<S> Layer<S> for SessionLayer {
    type Service = SessionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SessionService::new(inner, self.shared.clone())
    }
}

#[cfg(test)]
impl Shared {
    /// A memory-store layer's shared part, for unit tests that record events.
    pub(crate) fn for_tests() -> Arc<Self> {
        let keys = crate::keyring::KeySet::generate(Timestamp::from_unix(0)).unwrap();
        SessionLayer::new(crate::MemoryStore::default(), Keyring::new(keys)).shared
    }
}
