//! SQLite and PostgreSQL session stores for sessionwarden, on `sqlx`.
//!
//! - [`SqliteStore`]: one database file, the embedded default for a single server. WAL mode
//!   with `synchronous = FULL`: an acknowledged write survives `kill -9` and power loss.
//! - [`PostgresStore`]: one table shared by a fleet of servers.
//!
//! Both are one type, [`SqlStore`], over a [`dialect`]: the statements, expiry checks and
//! error mapping are written once, and only connection setup differs. Both create their schema
//! on open (embedded `sqlx` migrations, one folder per backend, frozen once released) and
//! pass `sessionwarden-test`'s conformance suite. Run [`spawn_sweeper`] beside either to
//! delete expired rows in small batches; until it does, expired rows never load anyway.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), sessionwarden_core::StoreError> {
//! use std::time::Duration;
//! use sessionwarden_core::{Expiry, Record, SessionId, SessionStore, Timestamp};
//! use sessionwarden_sql::{SqliteStore, spawn_sweeper};
//!
//! let dir = tempfile::tempdir().expect("temp dir");
//! let store = SqliteStore::open(dir.path().join("sessions.db")).await?;
//! let sweeper = spawn_sweeper(store.clone(), Duration::from_secs(60), 1_000);
//!
//! let key = SessionId::generate().store_key();
//! let now = Timestamp::from_unix(1_800_000_000);
//! assert!(store.create(&key, &Record::new(now, &Expiry::default())).await?);
//! assert!(store.load(&key, now).await?.is_some());
//! sweeper.abort();
//! # Ok(()) }
//! ```
//!
//! For PostgreSQL:
//! ```no_run
//! # async fn f() -> Result<(), sessionwarden_core::StoreError> {
//! use std::sync::Arc;
//! use sessionwarden_tower::{Backend, SessionStore};
//! let store = sessionwarden_sql::PostgresStore::connect("postgres://app@db.internal/app").await?;
//! let backend = Backend::from(Arc::new(store) as Arc<dyn SessionStore>);
//! # Ok(()) }
//! ```
//!
//! # Schema (version 1)
//! One table, `sessionwarden_sessions`:
//!
//! | column | type (SQLite / PostgreSQL) | meaning |
//! | --- | --- | --- |
//! | `store_key` | BLOB / BYTEA, primary key | SHA-256 of the session id, never the id |
//! | `data` | BLOB / BYTEA | [`Record::to_bytes`](sessionwarden_core::Record::to_bytes): versioned JSON |
//! | `version` | INTEGER / BIGINT | the record's version, compared by `save` |
//! | `created`, `last_seen` | INTEGER / BIGINT | seconds since the Unix epoch |
//! | `idle_deadline`, `absolute_deadline` | INTEGER / BIGINT, nullable | the two deadlines |
//! | `expires_at` | INTEGER / BIGINT, nullable, indexed | the earlier deadline; NULL = never |
//! | `user_id` | TEXT, nullable, indexed | the authenticated user |
//! | `ip_prefix`, `ua_hash` | TEXT, nullable | the client's network and `User-Agent` hash |
//! | `client_info` | TEXT, nullable (version 4) | the record's [`ClientInfo`](sessionwarden_core::ClientInfo) as JSON |
//!
//! The metadata columns mirror what `data` holds, so expiry checks, listings and revocation
//! never decode session data. Times are integers, like [`Timestamp`](sessionwarden_core::Timestamp),
//! and every expiry check uses the caller's `now`, never the database's clock.
//!
//! # Schema versions
//! Later versions add tables beside the sessions table, each in one migration per dialect
//! (`migrations/sqlite`, `migrations/postgres`), never editing an earlier one:
//!
//! | version | migration | tables |
//! | --- | --- | --- |
//! | 1 | `20260401000001_sessionwarden_sessions` | `sessionwarden_sessions` (above) |
//! | 2 | `20260601000001_sessionwarden_jwt` | `sessionwarden_refresh_families`, `sessionwarden_refresh_tokens`, `sessionwarden_revocations` (the JWT token stores) |
//! | 3 | `20261201000001_sessionwarden_capabilities` | `sessionwarden_audit` ([`audit`]), `sessionwarden_rate_limits` ([`limiter`]), `sessionwarden_once_keys` ([`once`]): the store capabilities [`SqliteStore`] and [`PostgresStore`] implement beyond sessions |
//! | 4 | `20261203000001_sessionwarden_client_info` | adds `client_info` to `sessionwarden_sessions` |
//! | 5 | `20261204000001_sessionwarden_disabled_users` | `sessionwarden_disabled_users` (`user_id` primary key, `disabled_at`): the [`AccountLocks`](sessionwarden_core::store::AccountLocks) capability ([`policy`]) |
//! | 6 | `20261207000001_sessionwarden_keyrings` | `sessionwarden_keyrings` (`name` primary key, `version`, `document`) and `sessionwarden_leases` (`name` primary key, `holder`, `expires_at`): the [`KeyringStore`](sessionwarden_core::store::KeyringStore) capability ([`keyring`]) |
//!
//! # Failure
//! Every driver error (connection refused, pool timeout, server restart, a statement killed
//! by the server) becomes [`StoreError::Unavailable`](sessionwarden_core::StoreError::Unavailable),
//! so the session layer answers 503 rather than "no session". Each operation is also bounded
//! client-side to a few seconds, which covers a network partition where no error ever arrives.
//! Undecodable `data` is [`StoreError::Corrupt`](sessionwarden_core::StoreError::Corrupt).

pub mod audit;
mod capabilities;
mod columns;
pub mod dialect;
pub mod keyring;
pub mod limiter;
pub mod once;
pub mod policy;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;
mod sweeper;
#[cfg(feature = "jwt")]
mod tokens;

#[cfg(feature = "postgres")]
pub use self::postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use self::sqlite::SqliteStore;
pub use self::store::SqlStore;
pub use self::sweeper::spawn_sweeper;
#[cfg(all(feature = "jwt", feature = "postgres"))]
pub use self::tokens::PostgresTokenStore;
#[cfg(all(feature = "jwt", feature = "sqlite"))]
pub use self::tokens::SqliteTokenStore;
