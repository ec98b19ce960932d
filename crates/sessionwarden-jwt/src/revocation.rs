//! Access-token revocation: by `jti`, by session handle, and per-user cutoffs.
//!
//! Access tokens are stateless, so revocation is a denylist consulted after the signature and
//! claims pass. The trait's one read, [`Revocations::check`], answers all three questions in a
//! single lookup so a verification costs at most one round trip to a shared store.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use parking_lot::RwLock;

use crate::JwtError;

/// What revoked a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokedBy {
    /// Its `jti` is on the denylist.
    Jti,
    /// Its session handle (`sid`) was revoked (logout, admin action).
    Session,
    /// Its user's tokens issued before a cutoff were revoked (password change, "log out
    /// everywhere").
    UserCutoff,
}

impl fmt::Display for RevokedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jti => "jti denylisted",
            Self::Session => "session revoked",
            Self::UserCutoff => "issued before the user's cutoff",
        })
    }
}

/// The facts about a verified token that revocation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RevocationQuery<'a> {
    /// The token's `jti`.
    pub jti: &'a str,
    /// The token's `sub`.
    pub sub: &'a str,
    /// The token's `sid`, if any.
    pub sid: Option<&'a str>,
    /// The token's `iat`.
    pub iat: u64,
    /// The verification instant; entries whose `until` has passed no longer count.
    pub now: u64,
}

/// A revocation store. Implementations must be shared by every node that verifies tokens.
///
/// ```
/// use sessionwarden_jwt::{MemoryRevocations, RevocationQuery, Revocations, RevokedBy};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let r = MemoryRevocations::new();
/// r.revoke_user_before("alice", 1_000).await?;
/// let q = RevocationQuery { jti: "j", sub: "alice", sid: None, iat: 999, now: 1_001 };
/// assert_eq!(r.check(&q).await?, Some(RevokedBy::UserCutoff));
/// let q = RevocationQuery { iat: 1_000, ..q };
/// assert_eq!(r.check(&q).await?, None);
/// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
/// ```
#[async_trait]
pub trait Revocations: Send + Sync {
    /// One lookup: is the `jti` denied, is the `sid` revoked, or is `iat` before the user's
    /// cutoff? Returns the first that applies, or `None`.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store cannot answer; callers fail closed.
    async fn check(&self, query: &RevocationQuery<'_>) -> Result<Option<RevokedBy>, JwtError>;

    /// Denies `jti` until `until` (its `exp` plus leeway: after that it is refused anyway).
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store cannot record it.
    async fn revoke_jti(&self, jti: &str, until: u64) -> Result<(), JwtError>;

    /// Revokes every token carrying session handle `sid` until `until` (at least the longest
    /// access-token lifetime plus leeway from now).
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store cannot record it.
    async fn revoke_sid(&self, sid: &str, until: u64) -> Result<(), JwtError>;

    /// Refuses `sub`'s tokens with `iat < cutoff`. A later cutoff replaces an earlier one; an
    /// earlier one is ignored. Tokens issued in the cutoff's own second survive (`iat` has
    /// one-second resolution); pass `now + 1` to also kill those, at the price of refusing
    /// tokens issued in that second after the call.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store cannot record it.
    async fn revoke_user_before(&self, sub: &str, cutoff: u64) -> Result<(), JwtError>;

    /// Drops entries that no longer matter at `now`. Optional: stores with native expiry
    /// (Redis TTLs) need not do anything.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        let _ = now;
        Ok(())
    }
}

#[derive(Default)]
struct Denylists {
    jti: HashMap<String, u64>,
    sid: HashMap<String, u64>,
    user_cutoff: HashMap<String, u64>,
}

/// In-process [`Revocations`]: one lock, three maps. For a single process or tests; a fleet
/// needs a shared store.
///
/// Per-user cutoffs are kept until the process ends (one entry per user who was cut off).
#[derive(Default)]
pub struct MemoryRevocations {
    inner: RwLock<Denylists>,
}

impl fmt::Debug for MemoryRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the entries (session handles revoke sessions; keep them out of logs).
        let inner = self.inner.read();
        f.debug_struct("MemoryRevocations")
            .field("jti", &inner.jti.len())
            .field("sid", &inner.sid.len())
            .field("user_cutoff", &inner.user_cutoff.len())
            .finish()
    }
}

impl MemoryRevocations {
    /// An empty denylist.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Revocations for MemoryRevocations {
    async fn check(&self, q: &RevocationQuery<'_>) -> Result<Option<RevokedBy>, JwtError> {
        let inner = self.inner.read();
        if inner.jti.get(q.jti).is_some_and(|&until| q.now < until) {
            return Ok(Some(RevokedBy::Jti));
        }
        if let Some(sid) = q.sid
            && inner.sid.get(sid).is_some_and(|&until| q.now < until)
        {
            return Ok(Some(RevokedBy::Session));
        }
        if inner.user_cutoff.get(q.sub).is_some_and(|&cutoff| q.iat < cutoff) {
            return Ok(Some(RevokedBy::UserCutoff));
        }
        Ok(None)
    }

    async fn revoke_jti(&self, jti: &str, until: u64) -> Result<(), JwtError> {
        let mut inner = self.inner.write();
        let entry = inner.jti.entry(jti.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn revoke_sid(&self, sid: &str, until: u64) -> Result<(), JwtError> {
        let mut inner = self.inner.write();
        let entry = inner.sid.entry(sid.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
        Ok(())
    }

    async fn revoke_user_before(&self, sub: &str, cutoff: u64) -> Result<(), JwtError> {
        let mut inner = self.inner.write();
        let entry = inner.user_cutoff.entry(sub.to_owned()).or_insert(cutoff);
        *entry = (*entry).max(cutoff);
        Ok(())
    }

    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        let mut inner = self.inner.write();
        inner.jti.retain(|_, until| now < *until);
        inner.sid.retain(|_, until| now < *until);
        Ok(())
    }
}
