//! Store capabilities beyond the core [`SessionStore`] contract.
//!
//! The core trait is what the session layer needs for every request: load, create, save,
//! delete, cycle, ping. Everything else a backend *may* be able to do is a trait of its own,
//! with a conformance suite of its own in `sessionwarden-test`:
//!
//! | capability | trait | who needs it |
//! |---|---|---|
//! | list (a page at a time), count and revoke sessions by handle and by user | [`SessionIndex`] | self-service, admin API, CLI, logout everywhere |
//! | delete expired records in bounded batches | [`ExpiredDeletion`] | the sweeper |
//! | keep audit records | [`AuditLog`] | the admin plane |
//! | shared rate-limit state (GCRA) | [`RateLimitStore`] | the risk engine, fleet-wide |
//! | one-shot keys (challenges, replay guards) | [`OneTimeKeys`] | DBSC challenges, DPoP `jti` |
//! | a per-user cap on concurrent sessions, decided atomically at login | [`UserSessionCap`] | session policy (OWASP ASVS 7.1.2) |
//! | disabled accounts, shared by every node | [`AccountLocks`] | disabling a user (OWASP ASVS 7.4.2) |
//! | a versioned keyring document with compare-and-set, and leases | [`KeyringStore`] | a keyring shared by a fleet, scheduled rotation by one node |
//!
//! A store that cannot do something does not implement the trait, so code that needs it asks
//! for it in its bounds (`S: SessionStore + SessionIndex`) and a missing capability is a
//! compile error, or, where a store is picked at run time, a configuration error at start-up.
//! No capability is ever faked with an empty answer.

use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use super::{SessionInfo, SessionStore};
use crate::error::StoreError;
use crate::id::{SessionHandle, StoreKey};
use crate::record::Record;
use crate::time::Timestamp;

/// The store indexes sessions by handle and by user, so it can list and revoke them.
///
/// Contract (suite `index`): listings never include an expired or deleted session; revoking by
/// handle or by user is immediate and complete (a record created for the user concurrently
/// with `revoke_user` is either counted and gone, or created after it and kept).
#[async_trait]
pub trait SessionIndex: SessionStore {
    /// The live sessions of `user`, at `now`.
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError>;

    /// Up to `limit` live sessions, for admin listings.
    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError>;

    /// One page of live sessions at `now`, in handle order (the order of the store keys the
    /// handles name), starting after `query.after`.
    ///
    /// Pass the returned [`SessionPage::next`] as the next query's `after` to walk the whole
    /// listing: every session that stays live and present throughout the walk is visited
    /// exactly once, whatever is created or deleted meanwhile (a cursor is a position in the
    /// key order, not an offset). `next` is `None` only when no live session follows the page,
    /// so a listing is never cut short silently. A `limit` of zero asks for nothing: an empty
    /// page with no cursor.
    ///
    /// Cost: a range read of about `limit` entries on an ordered index (the SQL primary key,
    /// the memory store's ordered map); see each store's docs for how it pages.
    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError>;

    /// How many sessions (of `user`, if given) are live at `now`. Exact, and not cheap: it
    /// counts every live entry (on SQL a scan of the table's live rows, O(n); on Redis one
    /// `ZCOUNT` per bucket, or the user's entries). Call it when asked for a total, never per
    /// request.
    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError>;

    /// Deletes the session named by `handle`. Returns whether one was found.
    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError>;

    /// Deletes every session of `user`. Returns how many were deleted.
    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError>;
}

/// Which page of sessions [`SessionIndex::list_page`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListQuery {
    /// Only this user's sessions.
    pub user: Option<String>,
    /// Start after this handle (exclusive), as a previous page's [`SessionPage::next`] gave
    /// it; `None` starts at the beginning. A handle that names no session is a valid position.
    pub after: Option<SessionHandle>,
    /// At most this many sessions.
    pub limit: usize,
}

impl ListQuery {
    /// The first `limit` sessions of every user.
    ///
    /// ```
    /// # use sessionwarden_core::store::ListQuery;
    /// let q = ListQuery::first(50).with_user("alice");
    /// assert_eq!((q.limit, q.user.as_deref(), q.after), (50, Some("alice"), None));
    /// ```
    #[must_use]
    pub fn first(limit: usize) -> Self {
        Self { limit, ..Self::default() }
    }

    /// Only `user`'s sessions.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Starts after `handle` (a previous page's [`SessionPage::next`]).
    #[must_use]
    pub fn with_after(mut self, handle: Option<SessionHandle>) -> Self {
        self.after = handle;
        self
    }
}

/// One page of a listing: the sessions, and where the next page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionPage {
    /// The sessions, in handle order.
    pub sessions: Vec<SessionInfo>,
    /// The cursor for the next page (the handle of this page's last session), or `None` when
    /// no live session follows this page.
    pub next: Option<SessionHandle>,
}

impl SessionPage {
    /// A page of `sessions`, followed by more iff `more` (stores fetch one entry past the page
    /// to learn that): then `next` is the last session's handle.
    #[must_use]
    pub fn new(sessions: Vec<SessionInfo>, more: bool) -> Self {
        let next = if more { sessions.last().map(|s| s.handle.clone()) } else { None };
        Self { sessions, next }
    }
}

/// The store can delete expired records in bounded batches.
///
/// Stores whose backend expires records by itself and leaves nothing behind (Flask-Session's
/// Redis keys with TTLs) need no sweeper and do not implement this; `RedisStore` does, since
/// its TTLs free records but not the index entries that name them. Contract (suite `expired_deletion`): only records expired at `now` are
/// removed, at most `batch` per call.
#[async_trait]
pub trait ExpiredDeletion: SessionStore {
    /// Removes up to `batch` records expired at `now`. Returns how many were removed.
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError>;
}

/// One audit record: something that ended a session, or a security event worth keeping.
///
/// Never holds a session id, a cookie value or key material: sessions are named by handle.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// When it happened.
    pub at: Timestamp,
    /// The stable, snake_case event name (`session_revoked`, `csrf_rejected`, ...).
    pub kind: String,
    /// The user concerned, if any.
    pub user: Option<String>,
    /// The session concerned, if any.
    pub handle: Option<SessionHandle>,
    /// The event's other fields.
    pub detail: serde_json::Map<String, serde_json::Value>,
}

impl AuditEntry {
    /// An entry of `kind` at `at`, with no user, handle or detail.
    #[must_use]
    pub fn new(at: Timestamp, kind: impl Into<String>) -> Self {
        Self { at, kind: kind.into(), user: None, handle: None, detail: serde_json::Map::new() }
    }

    /// Names the user.
    #[must_use]
    pub fn with_user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Names the session.
    #[must_use]
    pub fn with_handle(mut self, handle: SessionHandle) -> Self {
        self.handle = Some(handle);
        self
    }

    /// Adds one detail field.
    #[must_use]
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.into(), value.into());
        self
    }
}

/// Which audit records to return. Every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this user.
    pub user: Option<String>,
    /// Only records at or after this time.
    pub since: Option<Timestamp>,
    /// Only records before this time.
    pub until: Option<Timestamp>,
    /// At most this many (newest first). Zero means none.
    pub limit: usize,
}

impl AuditQuery {
    /// The newest `limit` records, unfiltered.
    #[must_use]
    pub fn newest(limit: usize) -> Self {
        Self { limit, ..Self::default() }
    }
}

/// The store keeps audit records, shared by every node that uses it.
///
/// Contract (suite `audit`): appended records come back from `query` newest first, filtered as
/// asked, and `purge` removes only records older than its cut-off.
#[async_trait]
pub trait AuditLog: Send + Sync + std::fmt::Debug + 'static {
    /// Appends one record.
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The records matching `query`, newest first.
    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;

    /// Removes up to `batch` records older than `before`. Returns how many were removed.
    async fn purge(&self, before: Timestamp, batch: usize) -> Result<u64, StoreError>;
}

/// A rate: `burst` events at once, then one every `interval` (GCRA's emission interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Time between events at the sustained rate.
    pub interval: Duration,
    /// Events allowed at once (at least 1).
    pub burst: u32,
}

impl Rate {
    /// `count` events per `period`, all of which may come at once.
    ///
    /// # Panics
    /// Panics if `count` is zero.
    #[must_use]
    pub fn per(count: u32, period: Duration) -> Self {
        assert!(count > 0, "a rate needs at least one event per period");
        Self { interval: period / count, burst: count }
    }
}

/// What a rate-limit check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the event is allowed (and was counted, unless its cost was zero).
    pub allowed: bool,
    /// When refused: how long until an event of the same cost would be allowed.
    pub retry_after: Duration,
}

/// The GCRA step every [`RateLimitStore`] performs atomically, in milliseconds.
///
/// `tat` is the stored theoretical arrival time (or `None`). Returns the decision and, when the
/// event is allowed with a non-zero cost, the new TAT to store (it may expire at that time).
/// A cost of zero only asks whether one more event would be allowed, changing nothing.
/// Stores that run the step elsewhere (a Redis script, SQL) must compute exactly this.
#[must_use]
pub fn gcra_step(tat: Option<i64>, now_ms: i64, rate: Rate, cost: u32) -> (RateDecision, Option<i64>) {
    let interval = i64::try_from(rate.interval.as_millis()).unwrap_or(i64::MAX).max(1);
    let tolerance = interval.saturating_mul(i64::from(rate.burst.max(1)));
    let tat = tat.unwrap_or(now_ms).max(now_ms);
    let new_tat = tat.saturating_add(interval.saturating_mul(i64::from(cost.max(1))));
    let allow_at = new_tat.saturating_sub(tolerance);
    if allow_at <= now_ms {
        let stored = (cost > 0).then_some(new_tat);
        (RateDecision { allowed: true, retry_after: Duration::ZERO }, stored)
    } else {
        let wait = u64::try_from(allow_at - now_ms).unwrap_or(0);
        (RateDecision { allowed: false, retry_after: Duration::from_millis(wait) }, None)
    }
}

/// The store keeps rate-limit state that every node of a fleet shares.
///
/// Contract (suite `rate_limit`): each call performs [`gcra_step`] atomically on `key`'s state,
/// so N nodes together allow what one node allows; state expires by itself.
#[async_trait]
pub trait RateLimitStore: Send + Sync + std::fmt::Debug + 'static {
    /// Counts an event of `cost` against `key` at `now_ms` (Unix milliseconds) under `rate`.
    async fn check(&self, key: &str, rate: Rate, cost: u32, now_ms: i64) -> Result<RateDecision, StoreError>;
}

/// A one-shot key: the SHA-256 of a namespace and a value (a challenge, a proof's `jti`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OnceKey([u8; 32]);

impl OnceKey {
    /// The key for `value` in `namespace` (length-prefixed, so namespaces never collide).
    #[must_use]
    pub fn derive(namespace: &str, value: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update((namespace.len() as u64).to_be_bytes());
        h.update(namespace.as_bytes());
        h.update(value);
        Self(h.finalize().into())
    }

    /// The 32 bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for OnceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash of a challenge or jti: not secret by itself, but nobody needs to read it.
        f.write_str("OnceKey(..)")
    }
}

/// The store keeps one-shot keys: put once, taken once, expiring by themselves.
///
/// Contract (suite `one_time`): `put` stores a key unless a live one is there; `take` removes a
/// live key and says whether it was there, atomically, so of two concurrent `take`s exactly one
/// wins; keys past `expires_at` are neither found nor block a new `put`.
#[async_trait]
pub trait OneTimeKeys: Send + Sync + std::fmt::Debug + 'static {
    /// Stores `key` until `expires_at`. Returns `false` (and changes nothing) if a live one is
    /// already stored — a replay, for guards such as DPoP's `jti`.
    async fn put(&self, key: &OnceKey, expires_at: Timestamp, now: Timestamp) -> Result<bool, StoreError>;

    /// Removes `key` if it is stored and live at `now`. Returns whether it was.
    async fn take(&self, key: &OnceKey, now: Timestamp) -> Result<bool, StoreError>;
}

/// What a login does when the user already has as many live sessions as the cap allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum LimitPolicy {
    /// The new login succeeds; the user's oldest sessions (by creation time) beyond the cap
    /// end. The default: a user who lost a device can always log in again.
    #[default]
    EvictOldest,
    /// The new login is refused while the cap is reached; existing sessions are kept.
    RefuseNew,
}

impl LimitPolicy {
    /// The policy's stable name: `evict-oldest` or `refuse-new`.
    ///
    /// ```
    /// use sessionwarden_core::store::LimitPolicy;
    /// assert_eq!(LimitPolicy::RefuseNew.as_str(), "refuse-new");
    /// assert_eq!("evict-oldest".parse::<LimitPolicy>(), Ok(LimitPolicy::EvictOldest));
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EvictOldest => "evict-oldest",
            Self::RefuseNew => "refuse-new",
        }
    }
}

impl std::fmt::Display for LimitPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy name that is neither `evict-oldest` nor `refuse-new`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown session limit policy: expected `evict-oldest` or `refuse-new`")]
pub struct UnknownLimitPolicy;

impl std::str::FromStr for LimitPolicy {
    type Err = UnknownLimitPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "evict-oldest" => Ok(Self::EvictOldest),
            "refuse-new" => Ok(Self::RefuseNew),
            _ => Err(UnknownLimitPolicy),
        }
    }
}

/// At most `max` live sessions per user, enforced by `policy` (OWASP ASVS 7.1.2).
///
/// ```
/// use std::num::NonZeroU32;
/// use sessionwarden_core::store::{LimitPolicy, SessionLimit};
/// let limit = SessionLimit::new(NonZeroU32::new(5).unwrap(), LimitPolicy::RefuseNew);
/// assert_eq!((limit.max(), limit.policy()), (5, LimitPolicy::RefuseNew));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionLimit {
    max: std::num::NonZeroU32,
    policy: LimitPolicy,
}

impl SessionLimit {
    /// A cap of `max` sessions per user under `policy`.
    #[must_use]
    pub fn new(max: std::num::NonZeroU32, policy: LimitPolicy) -> Self {
        Self { max, policy }
    }

    /// How many live sessions a user may have.
    #[must_use]
    pub fn max(&self) -> u32 {
        self.max.get()
    }

    /// What happens at the cap.
    #[must_use]
    pub fn policy(&self) -> LimitPolicy {
        self.policy
    }
}

/// What [`UserSessionCap::admit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// The record was created; these sessions of the user were ended to make room (empty
    /// unless the policy is [`LimitPolicy::EvictOldest`] and the cap was reached).
    Admitted {
        /// The ended sessions, oldest first.
        evicted: Vec<SessionHandle>,
    },
    /// The policy is [`LimitPolicy::RefuseNew`] and the user has the maximum of live
    /// sessions: nothing was written or deleted.
    Refused,
    /// A live record is already stored under the new key (probability 2^-256: draw another
    /// id). Nothing was written or deleted.
    Taken,
}

/// The store can cap each user's live sessions, deciding atomically with the login.
///
/// A login creates the logged-in record under a fresh key through [`UserSessionCap::admit`]
/// instead of a plain [`SessionStore::create`]: the store counts the user's live sessions
/// (other than the one the login replaces), applies the [`SessionLimit`], creates the record
/// and deletes what the policy ends, in one step against every concurrent login of the same
/// user, on every node of a fleet. So fifty concurrent logins of one user under a cap of five
/// leave exactly five sessions.
///
/// Contract (suite `session_cap`): after any number of concurrent `admit`s of one user, at
/// most `max` of its sessions are live; under [`LimitPolicy::EvictOldest`] every admit
/// succeeds and the survivors are the newest; under [`LimitPolicy::RefuseNew`] no admit beyond
/// the cap creates anything. The session `replaces` names is deleted on admission and never
/// counted.
#[async_trait]
pub trait UserSessionCap: SessionStore {
    /// Creates `record` under `key` (never over a live record) as a session of
    /// `record.user`, under `limit`, and deletes `replaces` (the pre-login session) if it is
    /// admitted. A record without a user is created without counting.
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError>;
}

/// One disabled account, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct DisabledUser {
    /// The user name.
    pub user: String,
    /// Since when.
    pub since: Timestamp,
}

impl DisabledUser {
    /// `user`, disabled since `since`.
    #[must_use]
    pub fn new(user: impl Into<String>, since: Timestamp) -> Self {
        Self { user: user.into(), since }
    }
}

/// The store keeps which accounts are disabled, shared by every node that uses it
/// (OWASP ASVS 7.4.2: an administrator can stop a user's access at once, fleet-wide).
///
/// Contract (suite `account_locks`): `disable` and `enable` are idempotent and visible to
/// `is_disabled` at once; `list_disabled` returns exactly the disabled users, by name.
#[async_trait]
pub trait AccountLocks: Send + Sync + std::fmt::Debug + 'static {
    /// Marks `user` disabled from `now`. Returns `false` if it already was (its time is kept).
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError>;

    /// Clears the mark. Returns whether `user` was disabled.
    async fn enable(&self, user: &str) -> Result<bool, StoreError>;

    /// Whether `user` is disabled.
    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError>;

    /// Every disabled user, by name.
    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError>;
}

/// One version of a shared keyring document, as a [`KeyringStore`] keeps it.
///
/// The document is opaque to the store (the keyring's own format, its secrets wrapped under a
/// key-encryption key the store never sees). `Debug` shows the version and the length only.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyringVersion {
    /// The version: 1 for the first document stored under a name, one more for each swap.
    pub version: u64,
    /// The document's bytes, exactly as swapped in.
    pub document: Vec<u8>,
}

impl KeyringVersion {
    /// Version `version` holding `document`.
    ///
    /// ```
    /// use sessionwarden_core::store::KeyringVersion;
    /// let v = KeyringVersion::new(3, b"{}".to_vec());
    /// assert_eq!(format!("{v:?}"), "KeyringVersion { version: 3, bytes: 2 }");
    /// ```
    #[must_use]
    pub fn new(version: u64, document: Vec<u8>) -> Self {
        Self { version, document }
    }
}

impl std::fmt::Debug for KeyringVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The document holds wrapped secrets: useless without the key-encryption key, but no
        // log needs them either.
        f.debug_struct("KeyringVersion")
            .field("version", &self.version)
            .field("bytes", &self.document.len())
            .finish()
    }
}

/// The store keeps keyring documents every node of a fleet shares, and leases that let one
/// node at a time do scheduled work on them.
///
/// Keyrings and leases are named (`[A-Za-z0-9_.:-]`, at most 128 bytes), so several keyrings,
/// and tests, share one store. Nodes poll [`KeyringStore::keyring_version`] (one small read)
/// every half second and load the document only when the version moved.
///
/// Contract (suite `keyring_store`): the first swap of a name (`expected` `None`) stores
/// version 1; each later swap succeeds only when `expected` is the current version, and
/// stores `expected + 1`; of concurrent swaps from one version exactly one succeeds, and a
/// refused swap changes nothing. A lease is held by one holder at a time until `now + ttl`
/// by the callers' clock (never the store's); its holder may renew it at any time, anyone
/// may take it once it has expired, and only its holder may release it.
#[async_trait]
pub trait KeyringStore: Send + Sync + std::fmt::Debug + 'static {
    /// The current version of keyring `name`, or `None` if none is stored.
    async fn keyring_version(&self, name: &str) -> Result<Option<u64>, StoreError>;

    /// The current document of keyring `name`, or `None` if none is stored.
    async fn load_keyring(&self, name: &str) -> Result<Option<KeyringVersion>, StoreError>;

    /// Stores `document` as the next version of keyring `name` if its current version is
    /// `expected` (`None`: no keyring is stored yet). Returns whether it was stored; when it
    /// was not, nothing changed.
    async fn swap_keyring(
        &self,
        name: &str,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError>;

    /// Takes or renews lease `name` for `holder` until `now + ttl` (whole seconds, at least
    /// one). Returns `true` if `holder` holds it afterwards, `false` (changing nothing) if
    /// another holder's lease is live at `now`.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives lease `name` up if `holder` holds it. Returns whether it did.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError>;
}

/// A lease's time to live in whole seconds, at least one: what every [`KeyringStore`] stores.
#[must_use]
pub fn lease_secs(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).max(1)
}

#[async_trait]
impl<S: KeyringStore + ?Sized> KeyringStore for std::sync::Arc<S> {
    async fn keyring_version(&self, name: &str) -> Result<Option<u64>, StoreError> {
        (**self).keyring_version(name).await
    }
    async fn load_keyring(&self, name: &str) -> Result<Option<KeyringVersion>, StoreError> {
        (**self).load_keyring(name).await
    }
    async fn swap_keyring(
        &self,
        name: &str,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        (**self).swap_keyring(name, expected, document).await
    }
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        (**self).acquire_lease(name, holder, ttl, now).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        (**self).release_lease(name, holder).await
    }
}

#[async_trait]
impl<S: UserSessionCap + ?Sized> UserSessionCap for std::sync::Arc<S> {
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        (**self).admit(key, record, replaces, limit, now).await
    }
}

#[async_trait]
impl<S: AccountLocks + ?Sized> AccountLocks for std::sync::Arc<S> {
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
        (**self).disable(user, now).await
    }
    async fn enable(&self, user: &str) -> Result<bool, StoreError> {
        (**self).enable(user).await
    }
    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
        (**self).is_disabled(user).await
    }
    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
        (**self).list_disabled().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcra_allows_the_burst_then_one_per_interval() {
        let rate = Rate::per(3, Duration::from_secs(3)); // burst 3, one a second
        let mut tat = None;
        let mut now = 10_000;
        for i in 0..3 {
            let (d, t) = gcra_step(tat, now, rate, 1);
            assert!(d.allowed, "event {i} of the burst");
            tat = t;
        }
        let (d, t) = gcra_step(tat, now, rate, 1);
        assert!(!d.allowed);
        assert_eq!(d.retry_after, Duration::from_secs(1));
        assert_eq!(t, None, "a refusal stores nothing");
        now += 1_000;
        let (d, _) = gcra_step(tat, now, rate, 1);
        assert!(d.allowed, "one interval later one more is allowed");
    }

    #[test]
    fn gcra_cost_zero_peeks() {
        let rate = Rate::per(1, Duration::from_secs(60));
        let (d, t) = gcra_step(None, 0, rate, 0);
        assert!(d.allowed);
        assert_eq!(t, None, "a peek stores nothing");
        let (_, tat) = gcra_step(None, 0, rate, 1);
        let (d, _) = gcra_step(tat, 1, rate, 0);
        assert!(!d.allowed, "the peek sees the limit");
    }

    #[test]
    fn once_keys_are_namespaced() {
        assert_ne!(OnceKey::derive("a", b"bc"), OnceKey::derive("ab", b"c"));
        assert_eq!(format!("{:?}", OnceKey::derive("a", b"x")), "OnceKey(..)");
    }
}
