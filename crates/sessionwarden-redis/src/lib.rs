//! Redis and Redis Cluster session store for sessionwarden, and the JWT token store for
//! `sessionwarden-jwt`.
//!
//! [`RedisStore`] implements [`sessionwarden_core::SessionStore`], [`sessionwarden_core::SessionIndex`]
//! and [`sessionwarden_core::ExpiredDeletion`] with one code path for a single Redis server and for
//! Redis Cluster, and passes the core, index and expired-deletion conformance suites on both. [`RedisTokenStore`] implements `sessionwarden-jwt`'s `RefreshStore` and
//! `Revocations` the same way, so refresh tokens and revocations reach every node of a fleet.
//! Both need Redis 6.2 or newer (tested on 7.0).
//!
//! ```no_run
//! use std::sync::Arc;
//! use sessionwarden_tower::{Backend, SessionStore};
//! use sessionwarden_redis::RedisStore;
//!
//! # async fn f() -> Result<(), sessionwarden_core::StoreError> {
//! // One server, or a cluster: "redis+cluster://10.0.0.1:6379,10.0.0.2:6379".
//! let store = RedisStore::connect_any("redis://127.0.0.1:6379/").await?;
//! store.ping().await?;
//! let backend = Backend::from(Arc::new(store) as Arc<dyn SessionStore>);
//! # let _ = backend;
//! # Ok(()) }
//! ```
//!
//! # Key layout (format version 1)
//!
//! The store never sees a session id, only its [`StoreKey`](sessionwarden_core::StoreKey)
//! (SHA-256 of the id), written as 64 lower-case hex digits `<hex>`. `<bb>` is the first
//! two of them (the store key's first byte), the *bucket*. With the default prefix
//! `session:` (Flask-Session's):
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `session:{<bb>}:<hex>` | hash | `v`: the record's version (decimal); `d`: [`Record::to_bytes`](sessionwarden_core::Record::to_bytes); `e`: the record's deadline ([`Record::expires_at`](sessionwarden_core::Record::expires_at), Unix seconds), absent if it never expires |
//! | `session:{<bb>}:expiry` | sorted set | member `<hex>`, score its deadline (`+inf` for none): what `delete_expired` and `list` walk |
//! | `session:{<bb>}:handles` | hash | field: the first 32 hex digits of `<hex>` (the bytes a [`SessionHandle`](sessionwarden_core::SessionHandle) encodes) → `<hex>`: how `revoke(handle)` finds the key |
//! | `session:{<bb>}:owner` | hash | `<hex>` → user, for records with a user |
//! | `session:{<bb>}:user:<user>` | set | the `<hex>` of the user's records in this bucket |
//! | `session:revoking:<user>` | hash | `s`/`f`: how many revoke-alls of the user started/finished (expires 5 minutes after the last) |
//!
//! `v` duplicates the version inside `d` so the scripts can compare versions without a
//! JSON parser; [`RedisStore`] checks that both agree when it loads a record and reports a
//! mismatch, undecodable bytes, or a key of another Redis type as
//! [`StoreError::Corrupt`](sessionwarden_core::StoreError::Corrupt). Nothing in the layout is
//! a session id or lets one be rebuilt: a dump of Redis yields no usable cookie. The layout
//! is pinned by the `layout` test; a change to it is a new format version.
//!
//! # Why buckets: Redis Cluster
//!
//! A Lua script runs atomically only over keys of one hash slot. A record and the indexes
//! that name it (expiry, handle, owner, user set) must change together, or a crash or a
//! race leaves a session that `revoke_user` cannot find. So everything about one record is
//! kept in its bucket, whose keys share the hash tag `{<bb>}`: one slot. Every write
//! (`create`, `save`, `delete`, `revoke`) is one script on one bucket, atomic on a single
//! server and on a cluster alike.
//!
//! 256 buckets spread the sessions over 256 slots, enough to balance a cluster of dozens of
//! masters, while keeping fan-outs affordable: `list_user`, `revoke_user`, `list` and
//! `delete_expired` run one script per bucket, all 256 sent concurrently over the multiplexed
//! connection(s) (in effect a pipeline per node). The per-user index is therefore split by
//! bucket too (`{<bb>}:user:<user>`): a single per-user set would sit in another slot than
//! the record and could only be kept in step non-atomically.
//!
//! `list_page` walks the buckets in key order (a bucket is a range of store keys), asking
//! one bucket first and twice as many at once in each later round, so a dense store fills a
//! page from one bucket and a sparse one in at most 8 round trips. Format version 1 has no
//! index in key order, so each bucket asked sorts its live members in its script: a page
//! costs O(m log m) on the server for buckets of m ≈ n/256 sessions. `count` is one `ZCOUNT`
//! per bucket.
//!
//! Two operations still span slots:
//!
//! - **`revoke_user`** visits the buckets one script each. Each script deletes the user's
//!   sessions in its bucket together with their index entries, so no session is ever
//!   listed but unrevokable or the reverse. Every session whose creation completed before
//!   `revoke_user` was called is gone when it returns. A login that runs concurrently with
//!   the revoke may create a session that survives it, as it could with any store (it is
//!   ordered after the revoke); a second revoke-all removes it.
//! - **`cycle`** moves a record between two buckets: (1) read the record; (2) insert a
//!   copy under the new key with set-if-absent semantics (`false`, nothing changed, if the
//!   key is taken); (3) in the old bucket, delete the old record if it still has the
//!   version copied. If a concurrent save changed it, the newer record is carried over and
//!   (3) repeated; if it is gone (deleted, revoked, expired), the copy is deleted too and
//!   `cycle` returns `false`. The old id stops loading before `cycle` returns `true`, and at
//!   every moment at least one copy is in a user index, so it cannot slip past a revoke-all
//!   unseen, except in one interleaving: a revoke-all that visits the new bucket before (2)
//!   and the old bucket after (3). To close it, `revoke_user` counts its starts and ends in
//!   `revoking:<user>`, and `cycle` reads the counts before (2) and after (3): if a revoke
//!   was running or started in between, the copy is deleted and `cycle` returns `false`
//!   (the session is treated as revoked, so the client starts over). A revoke-all that
//!   dies half-way leaves the counts unequal, failing cycles of that user closed until the
//!   counts expire.
//!
//! On a single server the same steps run; no code path depends on the topology.
//!
//! # Token key layout (token format version 1)
//!
//! [`RedisTokenStore`] keeps refresh tokens and revocations under their own prefix, `sw:` by
//! default ([`DEFAULT_TOKEN_PREFIX`]). `<hex>` is the SHA-256 of a refresh token (the token
//! itself is never stored), `<fam>` a family id:
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `sw:rt:<hex>` | string | the token's family id |
//! | `sw:rf:<fam>` | hash | `sub`, `sid`, `created_at`, `expires_at`, `revoked`, and `t:<hex>` per token of the family (`<issued_at>`, or `<issued_at>:<successor hex>:<rotated_at>` once rotated) |
//! | `sw:rfu:<sub>`, `sw:rfs:<sid>` | sorted set | the family ids of a user, of a session handle |
//! | `sw:rvj:<jti>`, `sw:rvs:<sid>` | string | denied until (Unix seconds) |
//! | `sw:rvu:<sub>` | string | the user's cutoff (tokens issued before it are refused) |
//!
//! Every script touches one key, so none needs a hash tag; every key has a TTL, so nothing
//! needs purging. The session keys (`{<bb>}:…`, `revoking:…` after their prefix) and the token
//! keys (`r…:` after theirs) cannot collide even under one prefix. The
//! [`tokens`] module docs give the reasoning, the costs and the TTLs.
//!
//! # Capability key layout
//!
//! [`RedisStore`] also implements the store capabilities the admin plane, the risk engine and
//! DBSC/DPoP build on, under the session prefix (`session:` by default):
//!
//! | key | type | content | module |
//! | --- | --- | --- | --- |
//! | `session:{audit}:log`, `session:{audit}:seq` | sorted set, string | audit records by time, and their append counter; newest [`audit::AUDIT_MAX_ENTRIES`] kept, TTL [`audit::AUDIT_TTL`] from the last append | [`audit`] |
//! | `session:lim:<key>` | string | a rate-limit key's GCRA state (TAT, Unix ms), TTL until it stops mattering plus a minute | [`limiter`] |
//! | `session:once:<hex>` | string | a one-time key's `expires_at`, TTL until then plus a minute | [`once`] |
//! | `session:keyring:<name>`, `session:lease:<name>` | hash, hash | a shared keyring (`version`, `document` with wrapped secrets) and a lease (`holder`, `expires_at`); no TTL | [`keyring`] |
//!
//! Every operation is one script on one key (the audit log's two keys share the hash tag
//! `{audit}`), so each is atomic on a single node and on a cluster. None of these keys can
//! collide with the session keys (`{<bb>}:…`, `revoking:…`) or the token keys (`r…:`).
//! Decisions use the caller's clock (`now`, `now_ms`), never Redis's: keep a fleet's clocks
//! synchronised.
//!
//! # TTLs
//!
//! Expiry is decided in Rust: `load` decodes the record and refuses it if its deadline has
//! passed at the `now` it is given, whatever Redis still holds. Redis TTLs are a backstop
//! that frees memory by itself, so `delete_expired` finds few records to do in production:
//!
//! - a record with a deadline gets `EXPIREAT <deadline>` when the deadline is more than
//!   60 seconds ahead of the Redis server's clock (read with `TIME` inside the script);
//! - otherwise (deadline past or close on the Redis clock) it gets `EXPIRE 60`: a caller
//!   whose clock differs from Redis's (or a test with a fixed `now`) can still read the
//!   record for a minute, and it never sees an expired record anyway;
//! - a record without deadline gets no TTL.
//!
//! Index entries of records Redis evicted stay until `delete_expired` reaches their deadline: it
//! removes, bucket by bucket and at most `batch` per call, every entry whose deadline is at
//! or before `now`, together with the record if Redis has not evicted it yet. Run it
//! periodically (the session layer's sweeper does).
//!
//! # Failures
//!
//! Every driver error, and every step that takes longer than two seconds, is
//! [`StoreError::Unavailable`](sessionwarden_core::StoreError::Unavailable): the store fails
//! closed and never reports "no session" for a session it could not read. Connections use
//! 1 s connect and response timeouts and reconnect by themselves; after Redis comes back the
//! next operation succeeds.
//!
//! # Limits
//!
//! - `list(now, limit)` reads up to `limit` live sessions per bucket, then keeps the `limit`
//!   most recently seen: meant for admin pages, not for paging through millions.
//! - A handle names the first 128 bits of a store key. Two sessions sharing them (about one
//!   chance in 2^64 among four billion sessions) would make `revoke(handle)` reach only the
//!   later one.
//! - Listings skip records they cannot decode; `load` of the same key reports them.

pub mod audit;
mod conn;
#[cfg(feature = "cache")]
mod invalidation;
pub mod keyring;
pub mod limiter;
pub mod once;
mod policy;
mod scripts;
mod store;
#[cfg(feature = "jwt")]
pub mod tokens;

#[cfg(feature = "cache")]
pub use self::invalidation::RedisInvalidator;
pub use self::store::{DEFAULT_PREFIX, InvalidPrefix, RedisStore};
#[cfg(feature = "jwt")]
pub use self::tokens::{DEFAULT_TOKEN_PREFIX, RedisTokenStore};
