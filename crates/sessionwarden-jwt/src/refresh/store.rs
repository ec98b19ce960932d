//! The refresh-token store contract.

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::JwtError;

/// SHA-256 of a refresh token's 32 raw bytes: what stores are keyed by.
///
/// With 256 random bits in the token no key is needed to make the hash useless to an attacker
/// (the same reasoning as for session store keys). `==` is constant time.
#[derive(Clone, Copy, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes raw token bytes.
    ///
    /// ```
    /// use sessionwarden_jwt::TokenHash;
    /// assert_eq!(TokenHash::of(&[0u8; 32]), TokenHash::of(&[0u8; 32]));
    /// ```
    #[must_use]
    pub fn of(raw: &[u8]) -> Self {
        Self(Sha256::digest(raw).into())
    }

    /// Rebuilds a hash read back from a store.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash bytes, for a store's key.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq for TokenHash {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with the constant-time `==`: equal bytes, equal hash.
        self.0.hash(state);
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the bytes. Not secret, but a log needs no handle on store keys.
        f.write_str("TokenHash(..)")
    }
}

/// A refresh-token family's id: 128 random bits, base64url. Not a secret (it cannot be used
/// to refresh), so it may appear in logs and admin views.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FamilyId(String);

impl FamilyId {
    pub(crate) fn generate() -> Result<Self, JwtError> {
        crate::random_b64::<16>().map(Self)
    }

    /// Rebuilds an id read back from a store.
    #[must_use]
    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One login's chain of refresh tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FamilyRecord {
    /// The family's id.
    pub id: FamilyId,
    /// The user the access tokens are issued for.
    pub sub: String,
    /// The session handle put in access tokens, if any.
    pub sid: Option<String>,
    /// Creation time, unix seconds.
    pub created_at: u64,
    /// Absolute expiry, unix seconds: no token of the family refreshes at or after it.
    pub expires_at: u64,
    /// Revoked (reuse detected, logout, admin): no token of the family refreshes.
    pub revoked: bool,
}

/// Where a refresh token is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// Not used yet: the next use rotates it.
    Active,
    /// Used once, at `at`, and replaced by the token hashing to `successor`.
    Rotated {
        /// The successor's hash.
        successor: TokenHash,
        /// When the rotation happened, unix seconds.
        at: u64,
    },
}

/// One refresh token, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the raw token.
    pub hash: TokenHash,
    /// The family it belongs to.
    pub family: FamilyId,
    /// Issue time, unix seconds.
    pub issued_at: u64,
    /// Active or rotated.
    pub state: TokenState,
}

/// Storage for refresh tokens and their families. Shared by every node that refreshes.
///
/// The one operation that must be atomic is [`RefreshStore::rotate`]: of two concurrent
/// rotations of one token exactly one may win.
#[async_trait]
pub trait RefreshStore: Send + Sync {
    /// Stores a new family and its first token.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn create_family(&self, family: FamilyRecord, first: TokenRecord) -> Result<(), JwtError>;

    /// Finds a token and its family.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn lookup(&self, hash: &TokenHash) -> Result<Option<(TokenRecord, FamilyRecord)>, JwtError>;

    /// Atomically: if `old` exists, is [`TokenState::Active`] and its family is not revoked,
    /// mark it `Rotated { successor: new.hash, at }` and insert `new`; return `true`.
    /// Otherwise change nothing and return `false`.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn rotate(&self, old: &TokenHash, new: TokenRecord, at: u64) -> Result<bool, JwtError>;

    /// Marks a family revoked. Idempotent.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn revoke_family(&self, family: &FamilyId) -> Result<(), JwtError>;

    /// Marks every family of session handle `sid` revoked (logout). Returns how many.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError>;

    /// Marks every family of user `sub` revoked ("log out everywhere", password change).
    /// Returns how many.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError>;

    /// Deletes families that expired before `now`, with their tokens.
    ///
    /// Only frees space: [`RefreshManager`](crate::RefreshManager) refuses an expired family
    /// whether or not it was purged. Stores with native expiry (Redis TTLs at the family's
    /// deadline) may leave this to the backend and do nothing.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    async fn purge_expired(&self, now: u64) -> Result<(), JwtError>;
}
