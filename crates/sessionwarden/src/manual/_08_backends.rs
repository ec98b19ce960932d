//! # Backends and integrations: the decisions per part
//!
//! - **SQL stores** (`sessionwarden-sql`): one table `sessionwarden_sessions` keyed by the
//!   32-byte store key, with metadata columns for listing and an `expires_at` index for bounded
//!   sweeps. SQLite runs in WAL with `synchronous=FULL` and one writer connection; PostgreSQL
//!   with short acquire and statement timeouts, so outages surface as 503 within a second or
//!   two. Both are one `SqlStore<D>` over a sealed `Dialect` (the sqlx driver and the one clause
//!   that differs, PostgreSQL's `SKIP LOCKED` sweep); only connection setup and the frozen
//!   per-dialect migrations are written twice. Audit records, rate-limit state and one-time keys
//!   have tables of their own (schema version 3).
//! - **Redis store** (`sessionwarden-redis`): records in hashes `session:{bb}:<hex>`, where
//!   `{bb}` is one of 256 hash-tag buckets, so each record and its indexes (expiry, handles,
//!   owner, per-user set) share a cluster slot and every write is one Lua script; cross-bucket
//!   operations (cycle, revoke-all) are ordered so the old id never loads after `cycle`
//!   returns. TTLs are a backstop; expiry is decided at the caller's clock. Rate limits are one
//!   GCRA script on one key, one-time keys one script each, audit records a bounded sorted set
//!   in one slot. JWT refresh families and revocations live under their own prefix (`sw:`):
//!   every script touches one key, `check` is one `MGET`, and every key has a TTL.
//! - **Local read cache** ([`CachedStore`](crate::CachedStore)): answers `load` from a bounded
//!   cache (5 s time to live as a safety net). Every write that changes or removes a record
//!   drops it locally and publishes an invalidation before returning; a fill that races an
//!   invalidation is undone by counters checked before and after. It fails closed: hits are
//!   served only while the invalidator confirmed within 1 s that every earlier invalidation was
//!   applied and the last store call succeeded. Off by default: on a Cluster one unreachable
//!   master could be served from cache for up to 5 s.
//! - **CSRF** ([`crate::csrf`]): two checks in one layer inside the session layer — an origin
//!   check in the order of Go's `CrossOriginProtection` (but matching scheme and port), and
//!   masked, key-bound HMAC tokens over a per-session secret. The
//!   [`TokenScheme`](crate::csrf::TokenScheme) seam lets Flask-WTF's tokens replace ours under
//!   a Flask store.
//! - **Codec seams** ([`crate::codec`]): `RecordCodec` turns a whole record into a cookie (our
//!   envelope, or Flask's signed cookie) and `IdCodec` turns an id into a cookie and names its
//!   store key (our sealed ids, or Flask-Session's sids), so the layer behaves the same for
//!   every format.
//! - **Client metadata** ([`crate::client`]): pure types, not yet wired into the layer.
//!   `resolve_client_ip` reads one configured forwarding header, only from a trusted-proxy
//!   peer, takes the right-most untrusted hop and reads at most 32 hops — never "whichever
//!   header is present", which a client could pick.
//! - **JWT** (`sessionwarden-jwt`): jsonwebtoken only signs and verifies bytes; header and
//!   claim checks are ours (an explicit allow-list, `kid` selecting exactly one key whose
//!   algorithm must match, typed claims, an injected clock). With its `keyring` feature, keys
//!   derive from the keyring and follow its reloads; refresh tokens are stored hashed with a
//!   family; the grace-window successor is recomputed with an HMAC, never stored; each refresh
//!   token carries a tag of the rotation key that minted it, so retiring a key ends its
//!   refresh tokens at use time. Revocations reach every node within a second (a ≤ 500 ms
//!   per-node verdict cache).
//! - **Maintenance** ([`crate::maintenance`]): one task runs every periodic job (session sweeps
//!   for stores with `ExpiredDeletion`, token purges) off the injected clock, so tests advance
//!   a clock instead of sleeping.
