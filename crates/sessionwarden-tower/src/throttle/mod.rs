//! Rate limits: session-id guessing, session floods and login attempts, in one process or
//! across a fleet.
//!
//! Four rules, each a GCRA [`Limit`] (a burst of `N`, then one more every `period / N`)
//! with an optional block window, and a [`Mode`]: `off`, `monitor` (count, and record a
//! `throttled` [`SecurityEvent`](crate::SecurityEvent) when the limit is passed) or `enforce`
//! (also answer 429 with `Retry-After`).
//!
//! | rule | counts | keyed by | default | where |
//! |---|---|---|---|---|
//! | [`RuleKind::SessionIdGuessing`] | requests whose one session cookie was forged, unknown or expired | client prefix | `20/min,block=15m` | the session layer |
//! | [`RuleKind::SessionFlood`] | new sessions created | client prefix | `60/min` | the session layer |
//! | [`RuleKind::LoginPerClient`] | login attempts | client prefix | `10/min,block=5m` | [`Throttle::check_login`] |
//! | [`RuleKind::LoginPerUser`] | login attempts | user name | `5/min` | [`Throttle::check_login`] |
//!
//! The client is the address the session layer resolves (the TCP peer, or the hop trusted
//! proxies vouch for, see [`crate::client`]) cut to its /24 or /48 ([`LimitKey`]): one host
//! cannot dodge a limit by walking its own network. A request whose peer the server did not
//! tell the layer has no client, and the client rules do not count it.
//!
//! # In the session layer
//!
//! [`crate::SessionLayer::with_throttle`] adds the first two rules:
//!
//! - **Id guessing.** After the handler, a request that presented exactly one session cookie
//!   that named no live session (a seal that did not open, an expired session, an id the
//!   store does not know) counts one strike for its client. Past the limit the response is
//!   replaced by a 429 (nothing of the session is saved) and, for the block window, every
//!   request from the client that presents a session cookie is refused before its handler
//!   runs. On a fleet that holds on each server that has seen the window: the one that
//!   started it, and every other from the client's next bad cookie on (its count finds the
//!   window in the store); a server skips the round trip for requests whose cookie is good. Two cookies of the session's name (cookie tossing) are not counted: the victim's
//!   browser sends them. A cookie a handler never looked at is not counted either: nothing
//!   was learned from it.
//! - **Floods.** A request that would create a new session is counted before it is
//!   stored; past the limit it gets a 429 and nothing is written, so a loop of anonymous
//!   `GET /csrf-token` requests stops at the limit instead of filling the store.
//!
//! # Logins
//!
//! [`Throttle::check_login`] counts an attempt against both login rules before the password
//! is checked; the handler answers a refusal identically whatever the name (the key is the
//! name itself, looked up or not), and keeps checking a password for unknown names as
//! expensively as for known ones.
//!
//! # One process or a fleet
//!
//! [`Throttle::in_process`] counts in this process with `governor` (a decision costs well
//! under a microsecond): right for one server, but N servers allow N times each limit.
//! [`Throttle::shared`] counts in a [`RateLimitStore`](crate::store::RateLimitStore): Redis
//! and Redis Cluster (one Lua script per decision), PostgreSQL and SQLite (one statement).
//! Every server then counts against one state, so N failures spread over the fleet trip the
//! same limit. A block window is kept in the store too; each server also remembers the
//! windows it saw start, so a blocked client costs it no round trip. A store outage fails
//! closed (503), never open.
//!
//! The state never holds a raw secret: client keys are prefixes, user keys a truncated
//! SHA-256 of the name, and events name the rule, the client prefix and the limit — never a
//! user name (a name typed into a login form may be a password), cookie or session id.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use std::sync::Arc;
//! use sessionwarden::{Events, SystemClock, throttle::{Mode, Throttle, ThrottleConfig}};
//! let mut config = ThrottleConfig::default();
//! config.login_per_user.limit = "3/min".parse()?;
//! config.new_sessions.mode = Mode::Monitor;
//! let throttle = Throttle::in_process(config, Events::default(), Arc::new(SystemClock));
//! assert!(!throttle.is_shared());
//! # Ok::<(), sessionwarden::throttle::LimitParseError>(())
//! ```

mod engine;
mod limiter;
mod rule;

pub use self::engine::{THROTTLED_BODY, Throttle, ThrottleError, Throttled};
pub use self::limiter::{LimitKey, Limiter};
pub use self::rule::{
    DEFAULT_ID_GUESSING, DEFAULT_LOGIN_PER_CLIENT, DEFAULT_LOGIN_PER_USER, DEFAULT_NEW_SESSIONS, Limit,
    LimitParseError, MAX_LIMIT_PERIOD, Mode, Rule, RuleKind, ThrottleAction, ThrottleConfig,
};
