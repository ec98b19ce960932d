//! Where sessions live: the core [`SessionStore`] trait for server-side stores, the capability
//! traits a store may add to it, the in-process [`MemoryStore`], and the client-side
//! [`CookieStore`].
//!
//! A store never sees a session id, only its [`StoreKey`](crate::StoreKey) (SHA-256 of the id), so a dump of
//! the store yields no usable cookie.
//!
//! # Core and capabilities
//!
//! [`SessionStore`] is what the session layer needs on every request: load, create, save,
//! delete, cycle and ping. Every server-side store implements it. What only some backends
//! can do is a trait of its own (the table below says which store has which):
//!
//! - [`SessionIndex`]: list and revoke sessions by handle and by user (self-service, admin
//!   listings, the CLI, logout everywhere);
//! - [`ExpiredDeletion`]: delete expired records in bounded batches (the sweeper); a store
//!   whose backend expires records and leaves nothing behind (Flask-Session's Redis keys with
//!   TTLs) does not implement it;
//! - [`AuditLog`], [`RateLimitStore`], [`OneTimeKeys`]: shared state for the admin plane and
//!   the risk engine.
//!
//! A store that cannot do something does not implement the trait: code that needs it says so
//! in its bounds (`S: SessionIndex`), or, where the store is picked at run time, holds an
//! `Option<Arc<dyn SessionIndex>>` decided at start-up. An `Arc<dyn SessionIndex>` coerces to
//! an `Arc<dyn SessionStore>`, so one value serves both the layer and the admin plane:
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use std::sync::Arc;
//! use sessionwarden::store::{Backend, MemoryStore, SessionIndex, SessionStore};
//!
//! let index: Arc<dyn SessionIndex> = Arc::new(MemoryStore::default());
//! let core: Arc<dyn SessionStore> = index.clone();
//! let backend = Backend::from(core);
//! # drop((index, backend));
//! ```
//!
//! Each trait has its own conformance suite in `sessionwarden-test` (`core_conformance!`,
//! `index_conformance!`, `expired_deletion_conformance!`, ...), and every store mounts exactly
//! the suites of the traits it implements.
//!
//! # Capabilities
//!
//! | store | [`SessionStore`] | [`SessionIndex`] | [`ExpiredDeletion`] |
//! |---|---|---|---|
//! | [`MemoryStore`] | yes | yes | yes |
//! | [`CachedStore<S>`] | yes | when `S` is | when `S` is |
//! | `SqliteStore`, `PostgresStore` | yes | yes | yes |
//! | `RedisStore` (single node, Cluster) | yes | yes | yes: TTLs free records, not their index entries |
//! | `FlaskRedisStore` | yes | no: Flask-Session keeps no index | no: records expire by TTL |
//!
//! [`CookieStore`] is not a `SessionStore`: it keeps nothing on the server, so it cannot
//! even delete a session, and pretending otherwise through the trait would break the
//! trait's promises. The session layer accepts either through [`Backend`].

#[cfg(feature = "cache")]
mod cached;
mod cookie;
mod memory;
mod memory_caps;

use std::sync::Arc;

#[cfg(feature = "cache")]
pub use self::cached::{
    CacheConfig, CacheStats, CachedStore, Invalidation, InvalidationSink, Invalidator, LocalInvalidator,
};
pub use sessionwarden_core::store::*;

pub use self::cookie::CookieStore;
pub use self::memory::MemoryStore;

/// Where the session layer keeps sessions: in the cookie itself, or on the server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Backend {
    /// The whole record sealed into the cookie.
    Cookie(CookieStore),
    /// A server-side store; the cookie carries the sealed session id.
    Server(Arc<dyn SessionStore>),
}

impl From<CookieStore> for Backend {
    fn from(store: CookieStore) -> Self {
        Self::Cookie(store)
    }
}

impl From<MemoryStore> for Backend {
    fn from(store: MemoryStore) -> Self {
        Self::Server(Arc::new(store))
    }
}

impl From<Arc<dyn SessionStore>> for Backend {
    fn from(store: Arc<dyn SessionStore>) -> Self {
        Self::Server(store)
    }
}
