//! Issuing and rotating refresh tokens.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::store::{FamilyId, FamilyRecord, RefreshStore, TokenHash, TokenRecord, TokenState};
use crate::claims::{AccessTokenRequest, IssuedAccessToken};
use crate::{JwtError, jwt::Jwt};

/// Longest accepted grace window: a retry is a retry for seconds, not minutes.
const MAX_GRACE: u64 = 60;

const SUCCESSOR_LABEL: &[u8] = b"sessionwarden-jwt/refresh-successor/v1\0";
const JTI_LABEL: &[u8] = b"sessionwarden-jwt/rotation-jti/v1\0";
const TAG_LABEL: &[u8] = b"sessionwarden-jwt/refresh-tag/v1\0";

/// A raw refresh token is `NONCE_LEN` bytes of nonce (random at issue, derived on rotation)
/// followed by a tag over the nonce under the rotation key that minted it (see
/// [`RefreshManager::minted_by_a_held_key`]).
const NONCE_LEN: usize = 16;

/// Lifetimes for refresh tokens.
///
/// Defaults: 10 s grace window; a token unused for 14 days expires; a family (one login) lives
/// at most 30 days, after which the user logs in again.
///
/// ```
/// use std::time::Duration;
/// use sessionwarden_jwt::RefreshConfig;
/// let strict = RefreshConfig::default().with_grace(Duration::ZERO);
/// assert!(strict.validate().is_ok());
/// assert!(RefreshConfig::default().with_grace(Duration::from_secs(600)).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshConfig {
    grace: u64,
    idle_ttl: u64,
    family_ttl: u64,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        Self {
            // Long enough for a client to retry after a dropped response, short enough that a
            // thief racing the client rarely lands inside it.
            grace: 10,
            idle_ttl: 14 * 24 * 3600,
            family_ttl: 30 * 24 * 3600,
        }
    }
}

impl RefreshConfig {
    /// Sets the grace window in whole seconds (0 = strict: any second use is a reuse).
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace.as_secs();
        self
    }

    /// Sets how long an unused refresh token stays valid.
    #[must_use]
    pub fn with_idle_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = ttl.as_secs();
        self
    }

    /// Sets a family's absolute lifetime.
    #[must_use]
    pub fn with_family_ttl(mut self, ttl: Duration) -> Self {
        self.family_ttl = ttl.as_secs();
        self
    }

    /// How long an unused refresh token stays valid.
    ///
    /// ```
    /// # use sessionwarden_jwt::RefreshConfig;
    /// assert_eq!(RefreshConfig::default().idle_ttl().as_secs(), 14 * 24 * 3600);
    /// ```
    #[must_use]
    pub fn idle_ttl(&self) -> Duration {
        Duration::from_secs(self.idle_ttl)
    }

    /// A family's absolute lifetime: the longest a login's refresh tokens live, so the longest
    /// a retired key's refresh tokens could have been in use.
    ///
    /// ```
    /// # use sessionwarden_jwt::RefreshConfig;
    /// assert_eq!(RefreshConfig::default().family_ttl().as_secs(), 30 * 24 * 3600);
    /// ```
    #[must_use]
    pub fn family_ttl(&self) -> Duration {
        Duration::from_secs(self.family_ttl)
    }

    /// Checks the bounds.
    ///
    /// # Errors
    /// [`JwtError::Config`] if the grace window exceeds 60 s or a lifetime is 0.
    pub fn validate(&self) -> Result<(), JwtError> {
        if self.grace > MAX_GRACE {
            return Err(JwtError::Config { what: "refresh grace window above 60 s" });
        }
        if self.idle_ttl == 0 || self.family_ttl == 0 {
            return Err(JwtError::Config { what: "refresh-token lifetime of 0 s" });
        }
        Ok(())
    }
}

/// A raw refresh token: 256 bits, base64url. A bearer secret: `Debug` hides it and `==` is
/// constant time.
#[derive(Clone)]
pub struct RefreshToken(Zeroizing<String>);

impl RefreshToken {
    /// The token to hand to the client.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken(..)")
    }
}

impl PartialEq for RefreshToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for RefreshToken {}

/// An access token with the refresh token that renews it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access: IssuedAccessToken,
    /// The refresh token.
    pub refresh: RefreshToken,
    /// The refresh token's family (for admin views and revocation).
    pub family: FamilyId,
}

/// Issues refresh-token families and rotates them, detecting reuse. See the
/// [module docs](crate::refresh) for the design.
pub struct RefreshManager {
    jwt: Arc<Jwt>,
    store: Arc<dyn RefreshStore>,
    config: RefreshConfig,
    // Pre-keyed with the rotation key; cloned per derivation.
    rotation_mac: Hmac<Sha256>,
    // Earlier rotation keys, newest first, consulted only by grace retries. Kept as bytes
    // (zeroed on drop) and keyed on use: retries are rare, rotations are not.
    previous_keys: Vec<Zeroizing<[u8; 32]>>,
}

impl fmt::Debug for RefreshManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the rotation keys (only how many earlier ones there are).
        f.debug_struct("RefreshManager")
            .field("jwt", &self.jwt)
            .field("config", &self.config)
            .field("previous_rotation_keys", &self.previous_keys.len())
            .finish_non_exhaustive()
    }
}

impl RefreshManager {
    /// A manager with the default [`RefreshConfig`]. `rotation_key` derives successors (see
    /// the module docs); it must be secret and the same on every node.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use sessionwarden_jwt::{Jwt, JwtConfig, JwtKey, JwtKeySet, MemoryRefreshStore, RefreshManager};
    /// let jwt = Arc::new(Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?),
    ///     JwtConfig::default())?);
    /// let manager = RefreshManager::new(jwt, Arc::new(MemoryRefreshStore::new()), [5u8; 32]);
    /// assert!(!format!("{manager:?}").contains("5, 5"));
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn new(jwt: Arc<Jwt>, store: Arc<dyn RefreshStore>, rotation_key: [u8; 32]) -> Self {
        let rotation_key = Zeroizing::new(rotation_key);
        Self {
            jwt,
            store,
            config: RefreshConfig::default(),
            rotation_mac: keyed(&rotation_key),
            previous_keys: Vec::new(),
        }
    }

    /// Also recognises successors derived with earlier rotation keys, newest first: after a
    /// key rotation, a client retrying a refresh inside the grace window still gets the
    /// successor the original rotation issued, instead of being judged a reuse. Replaces any
    /// earlier list. Pass the keys of the keyring's verify-only keys; a retired key's
    /// retries then count as reuse, as they should.
    ///
    /// The keys are copied into memory that is zeroed on drop; zero your own copies.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet,
    ///     MemoryRefreshStore, RefreshManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let jwt = Arc::new(Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?),
    ///     JwtConfig::default())?);
    /// let store = Arc::new(MemoryRefreshStore::new());
    /// let before = RefreshManager::new(jwt.clone(), store.clone(), [1u8; 32]);
    /// let first = before.issue_at(&AccessTokenRequest::new("alice"), 1_000).await?;
    /// let second = before.rotate_at(first.refresh.as_str(), 1_001).await?;
    /// // The keyring rotated: key 2 derives successors now, key 1 is still recognised.
    /// let after = RefreshManager::new(jwt, store, [2u8; 32]).with_previous_rotation_keys([[1u8; 32]]);
    /// let retry = after.rotate_at(first.refresh.as_str(), 1_005).await?;
    /// assert_eq!(retry.refresh, second.refresh);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn with_previous_rotation_keys(mut self, keys: impl IntoIterator<Item = [u8; 32]>) -> Self {
        self.previous_keys = keys.into_iter().map(Zeroizing::new).collect();
        self
    }

    /// Replaces the configuration.
    ///
    /// # Errors
    /// [`JwtError::Config`] if `config` fails [`RefreshConfig::validate`].
    pub fn with_config(mut self, config: RefreshConfig) -> Result<Self, JwtError> {
        config.validate()?;
        self.config = config;
        Ok(self)
    }

    /// Starts a new family (a login) at the clock's current time.
    ///
    /// # Errors
    /// As [`RefreshManager::issue_at`].
    pub async fn issue(&self, request: &AccessTokenRequest) -> Result<TokenPair, JwtError> {
        self.issue_at(request, self.jwt.now()).await
    }

    /// Starts a new family: a random refresh token and an access token for `request`.
    /// The family carries `request`'s `sub` and `sid` into every later access token.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails; [`JwtError::Random`] if the OS RNG fails; as
    /// [`Jwt::issue_at`] for the access token.
    pub async fn issue_at(&self, request: &AccessTokenRequest, now: u64) -> Result<TokenPair, JwtError> {
        let mut nonce = Zeroizing::new([0u8; NONCE_LEN]);
        getrandom::getrandom(nonce.as_mut()).map_err(|_| JwtError::Random)?;
        let raw = seal(&self.rotation_mac, nonce.as_ref());
        let family = FamilyRecord {
            id: FamilyId::generate()?,
            sub: request.sub.clone(),
            sid: request.sid.clone(),
            created_at: now,
            expires_at: now.saturating_add(self.config.family_ttl),
            revoked: false,
        };
        let first = TokenRecord {
            hash: TokenHash::of(raw.as_ref()),
            family: family.id.clone(),
            issued_at: now,
            state: TokenState::Active,
        };
        let access = self.jwt.issue_at(request, now)?;
        let id = family.id.clone();
        self.store.create_family(family, first).await?;
        Ok(TokenPair { access, refresh: encode(&raw), family: id })
    }

    /// Rotates at the clock's current time.
    ///
    /// # Errors
    /// As [`RefreshManager::rotate_at`].
    pub async fn rotate(&self, refresh: &str) -> Result<TokenPair, JwtError> {
        self.rotate_at(refresh, self.jwt.now()).await
    }

    /// Uses a refresh token: returns a new access token and the token's successor, and marks
    /// the presented one rotated.
    ///
    /// # Errors
    /// - [`JwtError::RefreshUnknown`]: not a token we issued (or purged).
    /// - [`JwtError::RefreshExpired`]: the token or its family expired.
    /// - [`JwtError::RefreshRevoked`]: the family was revoked.
    /// - [`JwtError::RefreshReuse`]: the token was already rotated and this is not a retry
    ///   within the grace window; the family is now revoked. Map to 401 plus a
    ///   `RefreshTokenReuse` security event.
    /// - [`JwtError::Store`]: the store failed (fail closed, 503).
    pub async fn rotate_at(&self, refresh: &str, now: u64) -> Result<TokenPair, JwtError> {
        let raw = decode(refresh).ok_or(JwtError::RefreshUnknown)?;
        let hash = TokenHash::of(raw.as_ref());
        let (token, family) = self.store.lookup(&hash).await?.ok_or(JwtError::RefreshUnknown)?;
        check_family(&family, now)?;

        let (successor, at) = match token.state {
            TokenState::Active => {
                // A token minted under a key that has since been retired (its keyring key is
                // neither primary nor verify-only) mints nothing more: retiring a key ends
                // every refresh token it minted, on every node that reloaded the keyring.
                if !self.minted_by_a_held_key(&raw) {
                    return Err(JwtError::RefreshKeyRetired);
                }
                if now >= token.issued_at.saturating_add(self.config.idle_ttl) {
                    return Err(JwtError::RefreshExpired);
                }
                let next_raw = successor_of(&self.rotation_mac, &raw);
                let next = TokenRecord {
                    hash: TokenHash::of(next_raw.as_ref()),
                    family: family.id.clone(),
                    issued_at: now,
                    state: TokenState::Active,
                };
                if self.store.rotate(&hash, next, now).await? {
                    return self.pair(&self.rotation_mac, &family, &raw, &next_raw, now);
                }
                // Lost a race with a concurrent rotation (or the family was revoked between
                // lookup and rotate): judge by what the store holds now.
                let (token, family) = self.store.lookup(&hash).await?.ok_or(JwtError::RefreshUnknown)?;
                check_family(&family, now)?;
                match token.state {
                    TokenState::Rotated { successor, at } => (successor, at),
                    // Still active yet `rotate` refused: the store is inconsistent; fail closed.
                    TokenState::Active => {
                        return Err(JwtError::store("rotate", "store refused to rotate an active token"));
                    }
                }
            }
            TokenState::Rotated { successor, at } => (successor, at),
        };

        if let Some(pair) = self.grace_retry(&family, &raw, successor, at, now).await? {
            return Ok(pair);
        }
        self.store.revoke_family(&family.id).await?;
        Err(JwtError::RefreshReuse)
    }

    /// Revokes the family of a presented refresh token (logout, RFC 7009 revocation).
    /// Returns whether a family was found.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    pub async fn revoke(&self, refresh: &str) -> Result<bool, JwtError> {
        let Some(raw) = decode(refresh) else {
            return Ok(false);
        };
        match self.store.lookup(&TokenHash::of(raw.as_ref())).await? {
            Some((_, family)) => {
                self.store.revoke_family(&family.id).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// The family a presented refresh token belongs to, if the store knows the token. For
    /// naming the family in a `RefreshTokenReuse` security event after
    /// [`JwtError::RefreshReuse`]; the id is not a secret.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet,
    ///     MemoryRefreshStore, RefreshManager};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let jwt = Arc::new(Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?),
    ///     JwtConfig::default())?);
    /// let refresh = RefreshManager::new(jwt, Arc::new(MemoryRefreshStore::new()), [9u8; 32]);
    /// let pair = refresh.issue_at(&AccessTokenRequest::new("alice"), 1_000).await?;
    /// assert_eq!(refresh.family_of(pair.refresh.as_str()).await?, Some(pair.family));
    /// assert_eq!(refresh.family_of("not-a-token").await?, None);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn family_of(&self, refresh: &str) -> Result<Option<FamilyId>, JwtError> {
        let Some(raw) = decode(refresh) else {
            return Ok(None);
        };
        Ok(self.store.lookup(&TokenHash::of(raw.as_ref())).await?.map(|(_, family)| family.id))
    }

    /// The family record (user, session handle) of a presented refresh token, if the store
    /// knows the token: after [`JwtError::RefreshReuse`], which session the leaked family
    /// belongs to.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    pub async fn family_record_of(&self, refresh: &str) -> Result<Option<FamilyRecord>, JwtError> {
        let Some(raw) = decode(refresh) else {
            return Ok(None);
        };
        Ok(self.store.lookup(&TokenHash::of(raw.as_ref())).await?.map(|(_, family)| family))
    }

    /// Revokes every refresh-token family of session handle `sid` (logout). Pair it with
    /// [`Revocations::revoke_sid`](crate::Revocations::revoke_sid) for the access tokens.
    /// Returns how many families were revoked.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    pub async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError> {
        self.store.revoke_session(sid).await
    }

    /// Revokes every refresh-token family of user `sub`. Pair it with
    /// [`Revocations::revoke_user_before`](crate::Revocations::revoke_user_before) for the
    /// access tokens. Returns how many families were revoked.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the store fails.
    pub async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError> {
        self.store.revoke_user(sub).await
    }

    /// Whether `raw`'s tag was made by the current rotation key or one of the earlier ones:
    /// that is, whether the key that minted this token (at issue, or as a rotation's
    /// successor) is one this manager still holds. Which key matched is no secret; each tag
    /// is compared in constant time.
    fn minted_by_a_held_key(&self, raw: &[u8; 32]) -> bool {
        let (nonce, tag) = raw.split_at(NONCE_LEN);
        let matches =
            |mac: &Hmac<Sha256>| -> bool { mac_of(mac, TAG_LABEL, nonce)[..NONCE_LEN].ct_eq(tag).into() };
        matches(&self.rotation_mac) || self.previous_keys.iter().any(|key| matches(&keyed(key)))
    }

    /// Returns the same successor if this is a retry inside the grace window whose successor
    /// is still unused; `None` means "treat as reuse".
    async fn grace_retry(
        &self,
        family: &FamilyRecord,
        raw: &[u8; 32],
        successor: TokenHash,
        at: u64,
        now: u64,
    ) -> Result<Option<TokenPair>, JwtError> {
        // `now < at` happens with skew between nodes; that is a retry too.
        let within = self.config.grace > 0 && now < at.saturating_add(self.config.grace);
        if !within {
            return Ok(None);
        }
        // The rotation may have run under an earlier key (the keyring rotated since, or another
        // node had not reloaded yet): try the keys newest first. `TokenHash`'s `==` is constant
        // time; which key matched is no secret.
        let mut keys =
            std::iter::once(self.rotation_mac.clone()).chain(self.previous_keys.iter().map(|key| keyed(key)));
        let Some((mac, next_raw)) = keys.find_map(|mac| {
            let next_raw = successor_of(&mac, raw);
            (TokenHash::of(next_raw.as_ref()) == successor).then_some((mac, next_raw))
        }) else {
            // No key we hold rebuilds it (a retired key, or not our successor): reuse.
            return Ok(None);
        };
        match self.store.lookup(&successor).await? {
            Some((next, _)) if next.state == TokenState::Active => {
                self.pair(&mac, family, raw, &next_raw, at).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// The pair for a rotation of `raw` at `at` under rotation key `mac`. Deterministic in
    /// (`raw`, `at`, rotation key, signing key), which is what lets a grace-window retry
    /// return the same pair: the same refresh token, and an access token with the same
    /// claims (`jti`, `iat`, `exp`), byte-identical unless the signing key changed.
    fn pair(
        &self,
        mac: &Hmac<Sha256>,
        family: &FamilyRecord,
        raw: &[u8; 32],
        next_raw: &[u8; 32],
        at: u64,
    ) -> Result<TokenPair, JwtError> {
        let jti_bytes = derive(mac, JTI_LABEL, raw);
        let jti = URL_SAFE_NO_PAD.encode(&jti_bytes[..16]);
        let mut request = AccessTokenRequest::new(family.sub.clone());
        request.sid.clone_from(&family.sid);
        let access = self.jwt.issue_with_jti(&request, at, jti)?;
        Ok(TokenPair { access, refresh: encode(next_raw), family: family.id.clone() })
    }
}

fn keyed(key: &[u8; 32]) -> Hmac<Sha256> {
    // invariant: HMAC takes keys of any length, so `new_from_slice` cannot fail.
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length")
}

fn derive(mac: &Hmac<Sha256>, label: &[u8], raw: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    mac_of(mac, label, raw)
}

fn mac_of(mac: &Hmac<Sha256>, label: &[u8], data: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = mac.clone();
    mac.update(label);
    mac.update(data);
    Zeroizing::new(mac.finalize().into_bytes().into())
}

/// A raw token: `nonce`, then the first [`NONCE_LEN`] bytes of its tag under `mac`.
fn seal(mac: &Hmac<Sha256>, nonce: &[u8]) -> Zeroizing<[u8; 32]> {
    let tag = mac_of(mac, TAG_LABEL, nonce);
    let mut raw = Zeroizing::new([0u8; 32]);
    raw[..NONCE_LEN].copy_from_slice(nonce);
    raw[NONCE_LEN..].copy_from_slice(&tag[..NONCE_LEN]);
    raw
}

/// The successor of `raw` under rotation key `mac`: deterministic (grace retries rebuild it)
/// and tagged with that key like any token it mints.
fn successor_of(mac: &Hmac<Sha256>, raw: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let next = derive(mac, SUCCESSOR_LABEL, raw);
    seal(mac, &next[..NONCE_LEN])
}

fn check_family(family: &FamilyRecord, now: u64) -> Result<(), JwtError> {
    if family.revoked {
        return Err(JwtError::RefreshRevoked);
    }
    if now >= family.expires_at {
        return Err(JwtError::RefreshExpired);
    }
    Ok(())
}

fn encode(raw: &[u8; 32]) -> RefreshToken {
    RefreshToken(Zeroizing::new(URL_SAFE_NO_PAD.encode(raw)))
}

fn decode(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    // 32 bytes are exactly 43 unpadded base64url characters; check before decoding anything.
    if text.len() != 43 {
        return None;
    }
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(text).ok()?);
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return None;
    }
    out.copy_from_slice(&bytes);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{JwtConfig, JwtKey, JwtKeySet, MemoryRefreshStore};

    fn jwt(kid: &str, secret: u8) -> Arc<Jwt> {
        let key = JwtKey::hs256(kid, &[secret; 32]).unwrap();
        Arc::new(Jwt::new(JwtKeySet::single(key), JwtConfig::default()).unwrap())
    }

    const KEY_A: [u8; 32] = [0xa1; 32];
    const KEY_B: [u8; 32] = [0xb2; 32];

    /// Rotates with key A at 1_001 and returns (store, first pair, second pair).
    async fn rotated_under_a() -> (Arc<MemoryRefreshStore>, TokenPair, TokenPair) {
        let store = Arc::new(MemoryRefreshStore::new());
        let a = RefreshManager::new(jwt("1", 7), store.clone(), KEY_A);
        let first = a.issue_at(&AccessTokenRequest::new("alice").with_sid("s"), 1_000).await.unwrap();
        let second = a.rotate_at(first.refresh.as_str(), 1_001).await.unwrap();
        (store, first, second)
    }

    #[tokio::test]
    async fn grace_retry_after_a_key_rotation_gets_the_original_successor() {
        let (store, first, second) = rotated_under_a().await;
        // The keyring rotated: B derives successors and a new key signs access tokens.
        let b = RefreshManager::new(jwt("2", 8), store.clone(), KEY_B).with_previous_rotation_keys([KEY_A]);
        let retry = b.rotate_at(first.refresh.as_str(), 1_005).await.unwrap();
        assert_eq!(retry.refresh, second.refresh, "the successor the rotation under A issued");
        assert_eq!(retry.family, second.family);
        // The access token carries the original claims, re-signed with the current key.
        assert_eq!(retry.access.jti(), second.access.jti());
        assert_eq!(retry.access.issued_at(), second.access.issued_at());
        assert_eq!(retry.access.expires_at(), second.access.expires_at());
        assert_ne!(retry.access.token(), second.access.token(), "signed with key 2, not key 1");
        // Same keys, same signer: the whole pair is the same.
        let same =
            RefreshManager::new(jwt("1", 7), store.clone(), KEY_B).with_previous_rotation_keys([KEY_A]);
        assert_eq!(same.rotate_at(first.refresh.as_str(), 1_006).await.unwrap(), second);
        // The successor is live and rotates under B from now on.
        let third = b.rotate_at(second.refresh.as_str(), 1_007).await.unwrap();
        assert_ne!(third.refresh, second.refresh);
    }

    #[tokio::test]
    async fn after_the_grace_window_it_is_a_reuse_whatever_the_keys() {
        let (store, first, second) = rotated_under_a().await;
        let b = RefreshManager::new(jwt("2", 8), store.clone(), KEY_B).with_previous_rotation_keys([KEY_A]);
        let err = b.rotate_at(first.refresh.as_str(), 1_011).await.unwrap_err();
        assert_eq!(err.reason(), "refresh_reuse");
        let err = b.rotate_at(second.refresh.as_str(), 1_012).await.unwrap_err();
        assert_eq!(err.reason(), "refresh_revoked", "the family died with the reuse");
    }

    #[tokio::test]
    async fn without_the_earlier_key_a_retry_is_a_reuse() {
        let (store, first, _) = rotated_under_a().await;
        // A retired key is not passed on: its rotations can no longer be rebuilt.
        let b =
            RefreshManager::new(jwt("2", 8), store.clone(), KEY_B).with_previous_rotation_keys([[0xc3; 32]]);
        let err = b.rotate_at(first.refresh.as_str(), 1_005).await.unwrap_err();
        assert_eq!(err.reason(), "refresh_reuse");
    }

    #[tokio::test]
    async fn a_used_successor_is_never_handed_out_again() {
        let (store, first, second) = rotated_under_a().await;
        let b = RefreshManager::new(jwt("1", 7), store.clone(), KEY_B).with_previous_rotation_keys([KEY_A]);
        b.rotate_at(second.refresh.as_str(), 1_002).await.unwrap();
        let err = b.rotate_at(first.refresh.as_str(), 1_003).await.unwrap_err();
        assert_eq!(err.reason(), "refresh_reuse", "the successor was used: not a retry");
    }

    /// Each row: the keys the manager holds after the keyring changed, and whether a token
    /// issued under A and never used still rotates.
    #[tokio::test]
    async fn an_unused_token_rotates_only_while_its_minting_key_is_held() {
        struct Case {
            name: &'static str,
            current: [u8; 32],
            previous: Vec<[u8; 32]>,
            want: Result<(), &'static str>,
        }
        let cases = [
            Case { name: "same key", current: KEY_A, previous: vec![], want: Ok(()) },
            Case { name: "A verify-only", current: KEY_B, previous: vec![KEY_A], want: Ok(()) },
            Case { name: "A retired", current: KEY_B, previous: vec![], want: Err("refresh_key_retired") },
            Case {
                name: "A retired, another key held",
                current: KEY_B,
                previous: vec![[0xc3; 32]],
                want: Err("refresh_key_retired"),
            },
        ];
        for c in cases {
            let store = Arc::new(MemoryRefreshStore::new());
            let a = RefreshManager::new(jwt("1", 7), store.clone(), KEY_A);
            let pair = a.issue_at(&AccessTokenRequest::new("alice"), 1_000).await.unwrap();
            let after =
                RefreshManager::new(jwt("2", 8), store, c.current).with_previous_rotation_keys(c.previous);
            let got = after.rotate_at(pair.refresh.as_str(), 1_100).await.map(|_| ()).map_err(|e| e.reason());
            assert_eq!(got, c.want, "{}", c.name);
        }
    }

    #[tokio::test]
    async fn a_successor_belongs_to_the_key_that_rotated_it() {
        // Issued under A, rotated under B (A verify-only): the successor is B's, and outlives A.
        let store = Arc::new(MemoryRefreshStore::new());
        let a = RefreshManager::new(jwt("1", 7), store.clone(), KEY_A);
        let first = a.issue_at(&AccessTokenRequest::new("alice"), 1_000).await.unwrap();
        let b = RefreshManager::new(jwt("2", 8), store.clone(), KEY_B).with_previous_rotation_keys([KEY_A]);
        let second = b.rotate_at(first.refresh.as_str(), 1_100).await.unwrap();
        let b_only = RefreshManager::new(jwt("2", 8), store.clone(), KEY_B);
        b_only.rotate_at(second.refresh.as_str(), 1_200).await.unwrap();
        // A tampered tag makes another token, which the store does not know; nothing is revoked.
        let pair = b_only.issue_at(&AccessTokenRequest::new("bob"), 1_300).await.unwrap();
        let mut raw = decode(pair.refresh.as_str()).unwrap();
        raw[31] ^= 1;
        let err = b_only.rotate_at(encode(&raw).as_str(), 1_301).await.unwrap_err();
        assert_eq!(err.reason(), "refresh_unknown", "a changed tag is another token: not in the store");
        b_only.rotate_at(pair.refresh.as_str(), 1_302).await.unwrap();
    }

    #[test]
    fn debug_shows_no_rotation_key() {
        let m = RefreshManager::new(jwt("1", 7), Arc::new(MemoryRefreshStore::new()), [0x5a; 32])
            .with_previous_rotation_keys([[0x6b; 32], [0x7c; 32]]);
        let debug = format!("{m:?}");
        assert!(debug.contains("previous_rotation_keys: 2"), "{debug}");
        for byte in ["90", "107", "124", "5a", "6b", "7c"] {
            assert!(!debug.contains(&format!("{byte}, {byte}")), "{debug}");
        }
    }
}
