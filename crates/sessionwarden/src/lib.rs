//! # sessionwarden
//!
//! Secure sessions for Rust web services on tower and axum: sealed cookies, server-side
//! stores, a keyring that rotates without logging anyone out, CSRF protection, JWTs and
//! security events. This is the crate applications depend on; features choose what is built.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sessionwarden::{MemoryStore, Session, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
//!
//! async fn set(session: Session) -> Result<&'static str, sessionwarden::Error> {
//!     session.insert("user", "admin").await?;
//!     Ok("Session set!")
//! }
//!
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let app: Router = Router::new()
//!     .route("/set-session", get(set))
//!     .layer(SessionLayer::new(MemoryStore::default(), keyring));
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```
//!
//! ## Features
//!
//! The axum extractors (`Session`, `CsrfTokens`, ...) are always there: the layer answers with
//! axum-core's response type, and axum-core is small.
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `csrf` | yes | [`CsrfLayer`]: origin checks and session-bound tokens |
//! | `cache` | | [`CachedStore`], a bounded local read cache (with `redis`: invalidated across the fleet) |
//! | `client` | | `client`: typed client metadata (IP prefixes, trusted proxies, device summaries) |
//! | `throttle` | yes | `throttle`: rate limits on session-id guessing, session floods and logins, per process (`governor`) or shared by a fleet through the store |
//! | `metrics` | | `metrics`: counters, gauges and store latency histograms through the `metrics` facade (`MetricsSink`, `InstrumentedStore`); names in `docs/metrics.md` |
//! | `geoip` | | `risk::MaxMindDb`: the risk rules' ASN, country and impossible-travel checks from offline `.mmdb` databases |
//! | `sqlite` | | `sql::SqliteStore`, the embedded store |
//! | `postgres` | | `sql::PostgresStore` (`postgres-tls` adds TLS through rustls) |
//! | `redis` | | `redis::RedisStore`, single node and Redis Cluster |
//! | `jwt` | | `jwt`: strict JWTs, refresh rotation with reuse detection, revocation, JWKS, keys from the keyring; token stores in the enabled store backends |
//! | `flask` | | `flask`: Flask's session cookie, Flask-Session's Redis records, Flask-WTF tokens |
//! | `full` | | all of the above |
//!
//! ## Login helpers
//!
//! [`Session::login`] draws a new session id (no fixation) and records the user;
//! [`CurrentUser`] extracts that user (401 without one, `Option<CurrentUser>` for optional);
//! [`RequireUser`] guards whole routers, answering `401 {"error":"login_required"}` for an API
//! or a `303` to the login page with a relative `?next=` for pages ([`auth::safe_next`] checks
//! it on the way back, so it is never an open redirect); [`RequireRecentAuth`] also wants the
//! login to be recent. [`Session::login_remembered`] is remember-me (a persistent cookie, no
//! idle timeout, its own lifetime, allowed by [`SessionLayer::with_remember_me`]), and
//! [`Session::flash`] with the [`Flashes`] extractor gives Flask's flash messages. The
//! [`prelude`] brings all of it in with one line.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, extract::Query, response::Redirect, routing::{get, post}};
//! use sessionwarden::prelude::*;
//!
//! type Form = Query<std::collections::HashMap<String, String>>;
//!
//! async fn login(session: Session, Query(form): Form) -> Result<Redirect, sessionwarden::Error> {
//!     let user = form.get("user").map_or("alice", String::as_str);
//!     // ... after checking the password:
//!     if form.contains_key("remember") {
//!         let lifetime = Duration::from_secs(14 * 86_400);
//!         session.login_remembered(user, LoginMethod::Password, lifetime).await?;
//!     } else {
//!         session.login(user, LoginMethod::Password).await?;
//!     }
//!     session.flash(FlashLevel::Success, "Welcome back").await?;
//!     // `next` came from RequireUser's redirect, or from an attacker's link: check it.
//!     let next = form.get("next").and_then(|n| safe_next(n)).unwrap_or("/");
//!     Ok(Redirect::to(next))
//! }
//!
//! async fn home(user: CurrentUser, flashes: Flashes) -> String {
//!     let notes: Vec<String> = flashes.into_iter().map(|f| f.message).collect();
//!     format!("Hello, {} {notes:?}", user.name())
//! }
//!
//! async fn change_password(user: CurrentUser) -> String {
//!     format!("changed for {}", user.name())
//! }
//!
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let app: Router = Router::new()
//!     .route("/", get(home))
//!     .route_layer(RequireUser::redirect_to("/login"))
//!     .merge(
//!         Router::new()
//!             .route("/api/password", post(change_password))
//!             .route_layer(RequireRecentAuth::api(DEFAULT_REAUTH_WINDOW)),
//!     )
//!     .route("/login", post(login))
//!     .layer(
//!         SessionLayer::new(MemoryStore::default(), keyring)
//!             .with_remember_me(Duration::from_secs(30 * 86_400)),
//!     );
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```
//!
//! Store implementors depend on `sessionwarden-core` alone: ids, store keys, records, the
//! clock and the store traits, without the HTTP stack.
//!
//! Design decisions, invariants and the threat model are in [`manual`].

pub use sessionwarden_tower::*;

#[cfg(feature = "flask")]
pub use sessionwarden_flask as flask;
#[cfg(feature = "jwt")]
pub use sessionwarden_jwt as jwt;
#[cfg(feature = "redis")]
pub use sessionwarden_redis as redis;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub use sessionwarden_sql as sql;

pub mod manual;

/// What most applications use, in one line: `use sessionwarden::prelude::*;`.
///
/// The session and its layer, the stores of the enabled features, the login helpers
/// ([`CurrentUser`], the guards, flash messages, [`safe_next`](crate::auth::safe_next)),
/// the keyring, and the clock's [`Timestamp`]. Errors stay under their crate's
/// path (`sessionwarden::Error`), so they clash with no other `Error`.
///
/// ```
/// use sessionwarden::prelude::*;
///
/// async fn me(user: CurrentUser, session: Session) -> Result<String, sessionwarden::Error> {
///     let deadlines = session.expires_at().await?;
///     Ok(format!("{} until {:?}", user.name(), deadlines.and_then(|d| d.earliest())))
/// }
///
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let app: axum::Router = axum::Router::new()
///     .route("/me", axum::routing::get(me))
///     .route_layer(RequireUser::api())
///     .layer(SessionLayer::new(MemoryStore::default(), keyring));
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
pub mod prelude {
    #[cfg(feature = "cache")]
    pub use crate::CachedStore;
    pub use crate::auth::{
        CurrentUser, Flash, FlashLevel, Flashes, RequireRecentAuth, RequireUser, safe_next,
    };
    #[cfg(feature = "jwt")]
    pub use crate::jwt::keyring::{Bearer, KeyringTokens};
    pub use crate::keyring::{KeySet, Keyring, KeyringFile};
    #[cfg(feature = "redis")]
    pub use crate::redis::RedisStore;
    #[cfg(feature = "postgres")]
    pub use crate::sql::PostgresStore;
    #[cfg(feature = "sqlite")]
    pub use crate::sql::SqliteStore;
    pub use crate::{
        CookieConfig, CookieStore, DEFAULT_REAUTH_WINDOW, Expiry, LoginMethod, MemoryStore, Session,
        SessionDeadlines, SessionLayer, SessionStore, Timestamp,
    };
    #[cfg(feature = "csrf")]
    pub use crate::{CsrfLayer, CsrfToken};
}

// The crate's README (its crates.io page) runs as a doc test, so its example stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
