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

// The crate's README (its crates.io page) runs as a doc test, so its example stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
