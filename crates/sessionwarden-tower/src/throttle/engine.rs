//! [`Throttle`]: the rules, their limiters, the block windows and the events.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum_core::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use parking_lot::Mutex;
use sessionwarden_core::client::IpPrefix;
use sessionwarden_core::store::{Rate, RateLimitStore};

use super::limiter::{LimitKey, Limiter};
use super::rule::{Mode, Rule, RuleKind, ThrottleAction, ThrottleConfig};
use crate::error::StoreError;
use crate::events::{Events, SecurityEvent};
use crate::time::Clock;

/// The most block windows one process remembers at once. Past it, a new block is not
/// remembered here; its rule's limiter (or shared block state) still refuses each attempt.
const MAX_BLOCKS: usize = 65_536;

/// Rate limits on session-id guessing, session floods and logins; see the
/// [module docs](super).
///
/// Clones share one state. Give the same `Throttle` to the [`crate::SessionLayer`]
/// ([`crate::SessionLayer::with_throttle`]) and to the login handler
/// ([`Throttle::check_login`]).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use std::sync::Arc;
/// use sessionwarden::{Events, MemoryStore, SessionLayer, SystemClock, keyring::{Keyring, KeySet}, Timestamp};
/// use sessionwarden::throttle::{Throttle, ThrottleConfig};
/// let events = Events::default();
/// let throttle = Throttle::in_process(ThrottleConfig::default(), events.clone(), Arc::new(SystemClock));
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let layer = SessionLayer::new(MemoryStore::default(), keyring)
///     .with_events(events)
///     .with_throttle(throttle.clone());
/// # drop(layer);
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
#[derive(Clone)]
pub struct Throttle {
    inner: Arc<Inner>,
}

struct Inner {
    config: ThrottleConfig,
    /// One per rule that is on, in [`RuleKind`] order.
    rules: Vec<RuleState>,
    shared: bool,
    events: Events,
    clock: Arc<dyn Clock>,
    /// Until when (Unix ms) a rule refuses a key, as this process knows it.
    blocks: Mutex<HashMap<(RuleKind, LimitKey), i64>>,
}

struct RuleState {
    kind: RuleKind,
    rule: Rule,
    limiter: Limiter,
    /// Shared stores keep the block window beside the rate, so every node refuses a blocked
    /// key: one event every `block` (a burst of one) under its own namespace.
    shared_block: Option<SharedBlock>,
}

struct SharedBlock {
    store: Arc<dyn RateLimitStore>,
    rate: Rate,
    namespace: String,
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttle")
            .field("config", &self.inner.config)
            .field("shared", &self.inner.shared)
            .finish_non_exhaustive()
    }
}

impl Throttle {
    /// Limits counted in this process's memory. A fleet of N such servers allows N times
    /// each limit: use [`Throttle::shared`] there.
    #[must_use]
    pub fn in_process(config: ThrottleConfig, events: Events, clock: Arc<dyn Clock>) -> Self {
        Self::build(config, events, clock, None)
    }

    /// Limits counted in `store`, shared by every server that uses it (Redis, Redis Cluster,
    /// PostgreSQL, SQLite): N servers together allow what one allows. Each decision is one
    /// store round trip; a refused key is remembered locally until its window ends.
    #[must_use]
    pub fn shared(
        config: ThrottleConfig,
        store: Arc<dyn RateLimitStore>,
        events: Events,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::build(config, events, clock, Some(store))
    }

    fn build(
        config: ThrottleConfig,
        events: Events,
        clock: Arc<dyn Clock>,
        store: Option<Arc<dyn RateLimitStore>>,
    ) -> Self {
        let kinds = [
            RuleKind::SessionIdGuessing,
            RuleKind::SessionFlood,
            RuleKind::LoginPerClient,
            RuleKind::LoginPerUser,
        ];
        let rules = kinds
            .into_iter()
            .map(|kind| (kind, config.rule(kind)))
            .filter(|(_, rule)| rule.is_on())
            .map(|(kind, rule)| {
                let rate = rule.limit.rate();
                let (limiter, shared_block) = match &store {
                    None => (Limiter::in_process(rate, clock.clone()), None),
                    Some(store) => {
                        let limiter = Limiter::shared(
                            rate,
                            store.clone(),
                            &format!("sw:{}:", kind.tag()),
                            clock.clone(),
                        );
                        let block = rule.limit.block();
                        let shared_block = (!block.is_zero()).then(|| SharedBlock {
                            store: store.clone(),
                            rate: Rate { interval: block, burst: 1 },
                            namespace: format!("sw:block:{}:", kind.tag()),
                        });
                        (limiter, shared_block)
                    }
                };
                RuleState { kind, rule, limiter, shared_block }
            })
            .collect();
        Self {
            inner: Arc::new(Inner {
                config,
                rules,
                shared: store.is_some(),
                events,
                clock,
                blocks: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The rules.
    #[must_use]
    pub fn config(&self) -> &ThrottleConfig {
        &self.inner.config
    }

    /// Whether the limits are shared through a store.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        self.inner.shared
    }

    /// Counts a login attempt for `user` from the client of the request the current task
    /// serves (the address the [`crate::SessionLayer`] resolved, through trusted proxies),
    /// against the per-client and the per-user limits. Call it before checking the
    /// password, for every attempt, whether or not the user exists, and answer a refusal
    /// the same way for both: nothing then tells an attacker which names exist.
    ///
    /// Every attempt counts, successful or not: counting before the check is what keeps
    /// concurrent attempts from slipping past the limit (a count after a failure lets all
    /// attempts already in flight through), on one server and across a fleet alike.
    ///
    /// # Errors
    /// [`ThrottleError::Throttled`] (429 with `Retry-After`) past a limit in enforce mode;
    /// [`ThrottleError::Unavailable`] (503) if the shared store cannot be reached.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use axum::{Json, response::IntoResponse};
    /// use sessionwarden::throttle::{Throttle, ThrottleError};
    ///
    /// async fn login(throttle: Throttle, user: String, password: String) -> axum::response::Response {
    ///     if let Err(refused) = throttle.check_login(&user).await {
    ///         return refused.into_response(); // 429 with Retry-After, or 503
    ///     }
    ///     // ... verify the password (as expensively for unknown users) ...
    /// #   let _ = password;
    ///     Json("ok").into_response()
    /// }
    /// ```
    pub async fn check_login(&self, user: &str) -> Result<(), ThrottleError> {
        self.check_login_from(crate::events::current_client_ip(), user).await
    }

    /// [`Throttle::check_login`] for a client the caller names (`None`: unknown, so only the
    /// per-user limit applies).
    ///
    /// # Errors
    /// As [`Throttle::check_login`].
    pub async fn check_login_from(&self, client: Option<IpAddr>, user: &str) -> Result<(), ThrottleError> {
        let prefix = client.map(IpPrefix::from_addr);
        if let Some(client) = client {
            // The client's limit first: a refused client does not count against the user, so
            // one attacker cannot lock every account out from one network.
            self.hit(RuleKind::LoginPerClient, LimitKey::client(client), prefix)
                .await?
                .map_or(Ok(()), Err)?;
        }
        self.hit(RuleKind::LoginPerUser, LimitKey::user(user), prefix).await?.map_or(Ok(()), Err)?;
        Ok(())
    }

    /// The session layer's check before the handler: a request that presents a session
    /// cookie from a client inside an id-guessing block window is refused at once.
    ///
    /// `client` resolves the client's address, and is called only while some block window
    /// is open: an ordinary request costs one look at an empty map.
    pub(crate) fn before_handler<B: Default>(
        &self,
        client: impl FnOnce() -> Option<IpAddr>,
        presented_cookie: bool,
    ) -> Option<http::Response<B>> {
        if !presented_cookie || self.inner.blocks.lock().is_empty() {
            return None;
        }
        self.refused_now(RuleKind::SessionIdGuessing, client()).map(|t| t.head())
    }

    /// The session layer's count after the handler, before anything is saved: a presented
    /// cookie that named no live session is an id-guessing strike, a session about to be
    /// created counts against the flood limit. The answer to send instead of the handler's,
    /// if refused (429) or if the shared store failed (503).
    pub(crate) async fn after_handler<B: Default>(
        &self,
        session: &crate::Session,
        client: impl FnOnce() -> Option<IpAddr>,
        presented_cookie: bool,
    ) -> Option<http::Response<B>> {
        use crate::layer::rejection::Rejection as _;
        let facts = session.throttle_facts().await;
        let strikes = [
            (presented_cookie && facts.stale_cookie, RuleKind::SessionIdGuessing),
            (facts.creates_session, RuleKind::SessionFlood),
        ];
        if !strikes.iter().any(|(hit, _)| *hit) {
            return None;
        }
        // The address is resolved only for a request that counts.
        let client = client();
        client?;
        for (_, kind) in strikes.into_iter().filter(|(hit, _)| *hit) {
            match self.hit_client(kind, client).await {
                Ok(None) => {}
                Ok(Some(refused)) => return Some(refused.head()),
                Err(_) => return Some(crate::layer::rejection::StoreUnavailable.head()),
            }
        }
        None
    }

    /// Whether `kind` refuses `client` right now, as this process knows without a round
    /// trip (a block window it saw start). Enforce mode only.
    pub(crate) fn refused_now(&self, kind: RuleKind, client: Option<IpAddr>) -> Option<Throttled> {
        let state = self.state(kind)?;
        if state.rule.mode != Mode::Enforce {
            return None;
        }
        let key = LimitKey::client(client?);
        let now = self.inner.clock.now_ms();
        self.blocked_until(kind, &key, now).map(|until| Throttled::new(kind, until - now))
    }

    /// Counts one event of `kind` for `client` (nothing when the client is unknown).
    pub(crate) async fn hit_client(
        &self,
        kind: RuleKind,
        client: Option<IpAddr>,
    ) -> Result<Option<Throttled>, StoreError> {
        let Some(client) = client else { return Ok(None) };
        self.hit(kind, LimitKey::client(client), Some(IpPrefix::from_addr(client))).await
    }

    /// Counts one event of `kind` for `key`. Returns the refusal when the request must be
    /// refused (enforce mode, past the limit or inside a block window); records an event
    /// when the limit is passed (once per window).
    async fn hit(
        &self,
        kind: RuleKind,
        key: LimitKey,
        client: Option<IpPrefix>,
    ) -> Result<Option<Throttled>, StoreError> {
        let Some(state) = self.state(kind) else { return Ok(None) };
        self.step(state, key, client).await.inspect_err(|_| {
            // The layer and the login handler answer 503; the event says why.
            self.inner.events.record(
                self.inner.clock.now(),
                SecurityEvent::StoreUnavailable { operation: "rate_limit_check" },
            );
        })
    }

    async fn step(
        &self,
        state: &RuleState,
        key: LimitKey,
        client: Option<IpPrefix>,
    ) -> Result<Option<Throttled>, StoreError> {
        let kind = state.kind;
        let enforce = state.rule.mode == Mode::Enforce;
        let now = self.inner.clock.now_ms();
        if let Some(until) = self.blocked_until(kind, &key, now) {
            return Ok(enforce.then(|| Throttled::new(kind, until - now)));
        }
        if let Some(block) = &state.shared_block {
            // Another node may have started the window: a peek (cost 0) changes nothing.
            let seen = block.store.check(&format!("{}{key}", block.namespace), block.rate, 0, now).await?;
            if !seen.allowed {
                let until = now.saturating_add(millis(seen.retry_after));
                self.remember_block(kind, key, until, now);
                return Ok(enforce.then(|| Throttled::new(kind, until - now)));
            }
        }
        let decision = state.limiter.check(&key).await?;
        if decision.allowed {
            return Ok(None);
        }
        let window = match &state.shared_block {
            Some(block) => {
                block.store.check(&format!("{}{key}", block.namespace), block.rate, 1, now).await?;
                block.rate.interval
            }
            None if !state.rule.limit.block().is_zero() => state.rule.limit.block(),
            None => decision.retry_after,
        };
        let until = now.saturating_add(millis(window).max(1));
        self.remember_block(kind, key, until, now);
        let action = if enforce { ThrottleAction::Refused } else { ThrottleAction::Monitored };
        let limit = state.rule.limit;
        self.inner.events.record(
            self.inner.clock.now(),
            SecurityEvent::Throttled {
                rule: kind,
                client,
                count: limit.count().saturating_add(1),
                limit: limit.count(),
                period_secs: limit.period().as_secs(),
                action,
                retry_after_secs: secs_up(until - now),
            },
        );
        Ok(enforce.then(|| Throttled::new(kind, until - now)))
    }

    fn state(&self, kind: RuleKind) -> Option<&RuleState> {
        self.inner.rules.iter().find(|r| r.kind == kind)
    }

    fn blocked_until(&self, kind: RuleKind, key: &LimitKey, now: i64) -> Option<i64> {
        let blocks = self.inner.blocks.lock();
        blocks.get(&(kind, *key)).copied().filter(|&until| until > now)
    }

    fn remember_block(&self, kind: RuleKind, key: LimitKey, until: i64, now: i64) {
        let mut blocks = self.inner.blocks.lock();
        if blocks.len() >= MAX_BLOCKS {
            blocks.retain(|_, &mut u| u > now);
            if blocks.len() >= MAX_BLOCKS {
                return;
            }
        }
        blocks.insert((kind, key), until);
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whole seconds, rounded up: `Retry-After` must not invite a retry that is still refused.
fn secs_up(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000).max(1)
}

/// A request refused by a rate limit: answered 429 with `Retry-After`, the same for every
/// rule and every user name (the rule goes to the security event, not to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    rule: RuleKind,
    retry_after_ms: i64,
}

impl Throttled {
    fn new(rule: RuleKind, retry_after_ms: i64) -> Self {
        Self { rule, retry_after_ms: retry_after_ms.max(1) }
    }

    /// The rule that refused.
    #[must_use]
    pub fn rule(&self) -> RuleKind {
        self.rule
    }

    /// How long until the client may try again, in whole seconds (rounded up, at least 1):
    /// the `Retry-After` value.
    #[must_use]
    pub fn retry_after_secs(&self) -> u64 {
        secs_up(self.retry_after_ms)
    }

    /// The refusal as a response with an empty body (for services whose body type can only
    /// be made empty), with `Retry-After`.
    pub(crate) fn head<B: Default>(&self) -> http::Response<B> {
        self.with_retry_after(crate::layer::rejection::respond(
            StatusCode::TOO_MANY_REQUESTS,
            B::default(),
            false,
        ))
    }

    fn with_retry_after<B>(&self, mut res: http::Response<B>) -> http::Response<B> {
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after_secs()));
        res
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "too many requests: retry after {} s", self.retry_after_secs())
    }
}

impl std::error::Error for Throttled {}

/// The body of every 429.
pub const THROTTLED_BODY: &str = "Too Many Requests";

impl IntoResponse for Throttled {
    fn into_response(self) -> Response {
        self.with_retry_after(crate::layer::rejection::respond(
            StatusCode::TOO_MANY_REQUESTS,
            axum_core::body::Body::from(THROTTLED_BODY),
            true,
        ))
    }
}

/// Why [`Throttle::check_login`] refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThrottleError {
    /// Past a limit: answer 429 with `Retry-After` ([`Throttled`]'s response).
    #[error(transparent)]
    Throttled(#[from] Throttled),
    /// The shared store could not be reached: answer 503, as for any store outage (fail
    /// closed: an outage must not switch the limits off).
    #[error("rate-limit store unavailable")]
    Unavailable(#[source] StoreError),
}

impl From<StoreError> for ThrottleError {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e)
    }
}

impl IntoResponse for ThrottleError {
    fn into_response(self) -> Response {
        match self {
            Self::Throttled(t) => t.into_response(),
            Self::Unavailable(e) => {
                tracing::error!(target: "sessionwarden::throttle", error = %e, "rate-limit store unavailable");
                crate::error::Error::Store(e).into_response()
            }
        }
    }
}
