//! # Stores and their capabilities
//!
//! **The core contract.** A server-side store implements [`SessionStore`]: `load`, `create`,
//! `save`, `delete`, `cycle`, `ping` — what the session layer needs on every request.
//! `load` never returns a record expired at the caller's `now`; `create` never overwrites;
//! `save` is a compare-and-set on the record's version; `cycle` moves a record to a new key
//! atomically; an unreachable backend is [`StoreError::Unavailable`](crate::StoreError::Unavailable), never "no session".
//!
//! **Capabilities.** Everything else a backend may or may not be able to do is a trait of its
//! own, with a conformance suite of its own (`sessionwarden-test`), and every store mounts
//! exactly the suites of the traits it implements:
//! [`SessionIndex`](crate::store::SessionIndex) (list and revoke by handle and by user),
//! [`ExpiredDeletion`](crate::store::ExpiredDeletion) (bounded sweeps, for backends that do
//! not expire records by themselves), [`AuditLog`](crate::store::AuditLog),
//! [`RateLimitStore`](crate::store::RateLimitStore) (GCRA state shared by a fleet) and
//! [`OneTimeKeys`](crate::store::OneTimeKeys) (challenges and replay guards). Code that
//! needs one asks for it in its bounds, so a missing capability is a compile error, or, where
//! the store is chosen at run time, a configuration error at start-up — never an empty
//! answer or a 503 at request time. Flask-Session's Redis layout, for example, has no index by
//! user, so the Flask-Session store implements the core alone.
//!
//! **Why the cookie store is not a `SessionStore`.** The trait promises what a client-side
//! store cannot keep: listing, revocation, compare-and-set against a stored version, and
//! "the old id loads nothing after `cycle`". A cookie store that pretended to would break
//! those promises silently, so the layer takes a [`Backend`]: either
//! [`Backend::Cookie`] (the whole record sealed into the cookie) or [`Backend::Server`].
//! The cookie store's limits follow from what it is: the record must fit the browser's 4 KB;
//! concurrent requests that write different keys can overwrite each other (last response
//! wins); and logout expires the browser's cookie but a copy taken earlier stays valid until
//! its idle or absolute deadline. Rotating and then retiring the key ends every such copy.
//!
//! **Implementing a store.** Depend on `sessionwarden-core` (ids, keys, records, the clock,
//! the traits; no HTTP stack), implement [`SessionStore`] and whichever capabilities the
//! backend can really keep, and mount their suites from `sessionwarden-test` in a test file.
//!
//! [`Backend`]: crate::store::Backend
//! [`Backend::Cookie`]: crate::store::Backend::Cookie
//! [`Backend::Server`]: crate::store::Backend::Server
//!
//! [`SessionStore`]: crate::SessionStore
//! [`StoreError`]: crate::StoreError
