//! [`KeyringTokens`]: issuing, rotation, verification and revocation under a keyring.

use std::fmt;
use std::sync::Arc;

use http::HeaderMap;
use parking_lot::RwLock;
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{Events, SecurityEvent, SystemClock};
use zeroize::Zeroizing;

use super::bearer::{BearerRejection, bearer_token};
use super::keys;
use super::stores::TokenStores;
use crate::{
    AccessClaims, AccessTokenRequest, Jwt, JwtAlgorithm, JwtConfig, JwtError, JwtKey, RefreshConfig,
    RefreshManager, TokenPair,
};

/// Adapts a sessionwarden clock (which tests replace with a `ManualClock`) to this crate's.
#[derive(Debug)]
struct JwtClock(Arc<dyn sessionwarden_tower::Clock>);

impl crate::Clock for JwtClock {
    fn now(&self) -> u64 {
        unix(self.0.as_ref())
    }
}

/// Seconds since 1970. A clock before 1970 reads as 0: every token then looks not yet valid
/// (fail closed).
fn unix(clock: &dyn sessionwarden_tower::Clock) -> u64 {
    u64::try_from(clock.now().unix()).unwrap_or(0)
}

/// What was built from one key set.
struct Built {
    // Held, not just compared: keeping the `Arc` alive means its address cannot be reused by a
    // later set, so `Arc::ptr_eq` is an exact identity test.
    set: Arc<KeySet>,
    jwt: Arc<Jwt>,
    refresh: Arc<RefreshManager>,
}

/// JWT access tokens and rotating refresh tokens whose keys come from a sessionwarden
/// [`Keyring`] and follow its reloads. See the [module docs](super) for the key derivation,
/// rotation and retirement.
///
/// Built with [`KeyringTokens::builder`]. Every refusal is recorded as a security event on the
/// configured [`Events`] (`jwt_rejected` with [`JwtError::reason`], `refresh_token_reuse`,
/// `store_unavailable`); callers answer with a generic 401 or 503.
///
/// ```
/// use sessionwarden_tower::keyring::{KeySet, Keyring};
/// use sessionwarden_jwt::AccessTokenRequest;
/// use sessionwarden_jwt::keyring::KeyringTokens;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
/// let keyring = Keyring::new(KeySet::generate(now).unwrap());
/// let tokens = KeyringTokens::builder(keyring).build()?;
/// let pair = tokens.issue(&AccessTokenRequest::new("alice").with_sid("handle-1")).await?;
/// assert_eq!(tokens.verify(pair.access.token()).await?.sub(), "alice");
/// let next = tokens.rotate(pair.refresh.as_str()).await?;
/// assert_ne!(next.refresh, pair.refresh);
/// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
/// ```
pub struct KeyringTokens {
    keyring: Keyring,
    algorithm: JwtAlgorithm,
    config: JwtConfig,
    refresh_config: RefreshConfig,
    static_key: Option<(String, Zeroizing<Vec<u8>>)>,
    stores: TokenStores,
    clock: Arc<dyn sessionwarden_tower::Clock>,
    events: Events,
    built: RwLock<Option<Built>>,
}

impl fmt::Debug for KeyringTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: key material (the static secret, the keyring's subkeys).
        f.debug_struct("KeyringTokens")
            .field("algorithm", &self.algorithm)
            .field("config", &self.config)
            .field("refresh", &self.refresh_config)
            .field("static_kid", &self.static_key.as_ref().map(|(kid, _)| kid))
            .finish_non_exhaustive()
    }
}

/// Configures a [`KeyringTokens`]; see [`KeyringTokens::builder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct KeyringTokensBuilder {
    keyring: Keyring,
    algorithm: JwtAlgorithm,
    config: JwtConfig,
    refresh_config: RefreshConfig,
    static_key: Option<(String, Zeroizing<Vec<u8>>)>,
    stores: Option<TokenStores>,
    clock: Arc<dyn sessionwarden_tower::Clock>,
    events: Events,
}

impl fmt::Debug for KeyringTokensBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the static secret.
        f.debug_struct("KeyringTokensBuilder")
            .field("algorithm", &self.algorithm)
            .field("config", &self.config)
            .field("refresh", &self.refresh_config)
            .field("static_kid", &self.static_key.as_ref().map(|(kid, _)| kid))
            .finish_non_exhaustive()
    }
}

impl KeyringTokensBuilder {
    /// The signing algorithm (default HS256). It is also the verifier's whole allowlist.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use sessionwarden_jwt::{JwtAlgorithm, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).with_algorithm(JwtAlgorithm::EdDsa).build()?;
    /// assert_eq!(tokens.jwks_json()?.matches("\"OKP\"").count(), 1);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_algorithm(mut self, algorithm: JwtAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The verification policy and lifetimes (issuer, audience, leeway, access-token TTL).
    /// Its algorithm allowlist is replaced by [`with_algorithm`](Self::with_algorithm)'s.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use sessionwarden_jwt::{JwtConfig, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).with_config(JwtConfig::default().with_issuer("me")).build()?;
    /// assert_eq!(tokens.config().issuer(), "me");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_config(mut self, config: JwtConfig) -> Self {
        self.config = config;
        self
    }

    /// The refresh-token grace window and lifetimes.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use std::time::Duration;
    /// use sessionwarden_jwt::{RefreshConfig, keyring::KeyringTokens};
    /// let strict = RefreshConfig::default().with_grace(Duration::ZERO);
    /// let tokens = KeyringTokens::builder(keyring).with_refresh_config(strict).build()?;
    /// # let _ = tokens;
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_refresh_config(mut self, config: RefreshConfig) -> Self {
        self.refresh_config = config;
        self
    }

    /// Signs and verifies with one explicit HS256 secret, shared with other verifiers (for
    /// example flask-jwt-extended's `JWT_SECRET_KEY`), instead of keys derived from the
    /// keyring. Every other key id is refused. Refresh rotation keys still come from the
    /// keyring. The secret is copied into memory zeroed on drop.
    ///
    /// [`build`](Self::build) fails unless the secret is at least 32 bytes, `kid` is 1–64
    /// characters of `[A-Za-z0-9_-]` and the algorithm is HS256.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use sessionwarden_jwt::keyring::KeyringTokens;
    /// let tokens = KeyringTokens::builder(keyring.clone()).with_static_hs256("static", &[7; 32]).build()?;
    /// assert_eq!(tokens.current()?.0.signing_kid(), "static");
    /// assert!(KeyringTokens::builder(keyring).with_static_hs256("static", b"short").build().is_err());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_static_hs256(mut self, kid: impl Into<String>, secret: &[u8]) -> Self {
        self.static_key = Some((kid.into(), Zeroizing::new(secret.to_vec())));
        self
    }

    /// Where refresh tokens and revocations are kept (default [`TokenStores::memory`]).
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use sessionwarden_jwt::keyring::{KeyringTokens, TokenStores};
    /// let tokens = KeyringTokens::builder(keyring).with_stores(TokenStores::memory()).build()?;
    /// # let _ = tokens;
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_stores(mut self, stores: TokenStores) -> Self {
        self.stores = Some(stores);
        self
    }

    /// The clock (default the system clock); tests pass a `ManualClock`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use sessionwarden_tower::ManualClock;
    /// use sessionwarden_jwt::keyring::KeyringTokens;
    /// let clock = ManualClock::new(now);
    /// let tokens = KeyringTokens::builder(keyring).with_clock(Arc::new(clock)).build()?;
    /// assert_eq!(tokens.current()?.0.now(), 1_750_000_000);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn sessionwarden_tower::Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The security event hub refusals are recorded on (default a fresh one).
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// use sessionwarden_tower::Events;
    /// use sessionwarden_jwt::keyring::KeyringTokens;
    /// let events = Events::default();
    /// let tokens = KeyringTokens::builder(keyring).with_events(events.clone()).build()?;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// assert!(tokens.verify("not.a.token").await.is_err());
    /// # });
    /// assert_eq!(events.counts().get("jwt_rejected"), Some(&1));
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// Checks the configuration and derives the keys of the keyring's current key set.
    ///
    /// # Errors
    /// [`JwtError::Config`] when the policy or refresh configuration is out of bounds, or a
    /// static secret is combined with an algorithm other than HS256; [`JwtError::InvalidKey`]
    /// when the static secret or its key id is invalid, or a keyring key cannot be turned into
    /// a JWT key.
    pub fn build(self) -> Result<KeyringTokens, JwtError> {
        let config = self.config.with_algorithms([self.algorithm]);
        config.validate()?;
        self.refresh_config.validate()?;
        if let Some((kid, secret)) = &self.static_key {
            if self.algorithm != JwtAlgorithm::Hs256 {
                return Err(JwtError::Config {
                    what: "a static HS256 secret with an algorithm other than HS256",
                });
            }
            // Checked here so a bad value stops startup, not the first request.
            JwtKey::hs256(kid.clone(), secret)?;
        }
        let tokens = KeyringTokens {
            keyring: self.keyring,
            algorithm: self.algorithm,
            config,
            refresh_config: self.refresh_config,
            static_key: self.static_key,
            stores: self.stores.unwrap_or_else(TokenStores::memory),
            clock: self.clock,
            events: self.events,
            built: RwLock::new(None),
        };
        tokens.current()?;
        Ok(tokens)
    }
}

impl KeyringTokens {
    /// A builder over `keyring`: HS256, [`JwtConfig::default`], [`RefreshConfig::default`],
    /// in-memory stores, the system clock and a fresh event hub until told otherwise.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// use sessionwarden_tower::keyring::{KeySet, Keyring};
    /// use sessionwarden_jwt::keyring::KeyringTokens;
    /// let keyring = Keyring::new(KeySet::generate(now).unwrap());
    /// let kid = keyring.current().primary().id().to_string();
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// assert_eq!(tokens.current()?.0.signing_kid(), kid);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn builder(keyring: Keyring) -> KeyringTokensBuilder {
        KeyringTokensBuilder {
            keyring,
            algorithm: JwtAlgorithm::Hs256,
            config: JwtConfig::default(),
            refresh_config: RefreshConfig::default(),
            static_key: None,
            stores: None,
            clock: Arc::new(SystemClock),
            events: Events::default(),
        }
    }

    /// The verification policy in force (its allowlist is the one signing algorithm).
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// let tokens = sessionwarden_jwt::keyring::KeyringTokens::builder(keyring).build()?;
    /// assert_eq!(tokens.config().issuer(), "sessionwarden");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// The refresh-token grace window and lifetimes in force.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// let tokens = sessionwarden_jwt::keyring::KeyringTokens::builder(keyring).build()?;
    /// assert_eq!(tokens.refresh_config().family_ttl().as_secs(), 30 * 24 * 3600);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn refresh_config(&self) -> &RefreshConfig {
        &self.refresh_config
    }

    /// The verifier and refresh manager for the keyring's current key set, rebuilt when the
    /// keyring was reloaded since the last call (one pointer comparison otherwise).
    ///
    /// # Errors
    /// [`JwtError::InvalidKey`] or [`JwtError::Config`] when the key set cannot be turned into
    /// JWT keys.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// use sessionwarden_tower::keyring::KeyringFile;
    /// # let mut file = KeyringFile::generate(now).unwrap();
    /// let keyring = sessionwarden_tower::keyring::Keyring::new(file.key_set().unwrap());
    /// let tokens = sessionwarden_jwt::keyring::KeyringTokens::builder(keyring.clone()).build()?;
    /// let before = tokens.current()?.0.signing_kid().to_owned();
    /// let new = file.rotate(now).unwrap();
    /// keyring.replace(file.key_set().unwrap());
    /// assert_eq!(tokens.current()?.0.signing_kid(), new.to_string());
    /// assert_ne!(before, new.to_string());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn current(&self) -> Result<(Arc<Jwt>, Arc<RefreshManager>), JwtError> {
        let set: Arc<KeySet> = Arc::clone(&*self.keyring.current());
        if let Some(b) = self.built.read().as_ref()
            && Arc::ptr_eq(&b.set, &set)
        {
            return Ok((b.jwt.clone(), b.refresh.clone()));
        }
        let jwt = Arc::new(
            Jwt::new(
                keys::jwt_key_set(&set, self.algorithm, self.static_key.as_ref())?,
                self.config.clone(),
            )?
            .with_clock(Arc::new(JwtClock(self.clock.clone()))),
        );
        let (rotation_key, earlier) = keys::rotation_keys(&set);
        let refresh = Arc::new(
            RefreshManager::new(jwt.clone(), self.stores.refresh.clone(), *rotation_key)
                .with_previous_rotation_keys(earlier.iter().map(|key| **key))
                .with_config(self.refresh_config.clone())?,
        );
        *self.built.write() = Some(Built { set, jwt: jwt.clone(), refresh: refresh.clone() });
        Ok((jwt, refresh))
    }

    fn now(&self) -> u64 {
        unix(self.clock.as_ref())
    }

    /// Verifies an access token: signature, policy, then one revocation lookup. A refusal is
    /// recorded as a `jwt_rejected` event; a store failure as `store_unavailable`.
    ///
    /// # Errors
    /// The [`JwtError`] of the first check that failed.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let pair = tokens.issue(&AccessTokenRequest::new("alice")).await?;
    /// assert_eq!(tokens.verify(pair.access.token()).await?.sub(), "alice");
    /// assert_eq!(tokens.verify("e30.e30.").await.unwrap_err().reason(), "malformed");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let result = match self.current() {
            Ok((jwt, _)) => jwt.verify_unrevoked(token, self.stores.revocations.as_ref()).await,
            Err(e) => Err(e),
        };
        result.inspect_err(|e| self.record(e))
    }

    /// Issues an access token and starts a refresh-token family for `request`.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the refresh store fails; [`JwtError::Random`] if the OS RNG fails.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let pair = tokens.issue(&AccessTokenRequest::new("alice").with_sid("handle-1")).await?;
    /// assert_eq!(tokens.verify(pair.access.token()).await?.sid(), Some("handle-1"));
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn issue(&self, request: &AccessTokenRequest) -> Result<TokenPair, JwtError> {
        let (_, refresh) = self.current()?;
        refresh.issue(request).await
    }

    /// Uses a refresh token: a new access token and the token's successor. A retry inside the
    /// grace window gets the same successor, also across a keyring rotation. A rotated token
    /// coming back after the window revokes its family and is recorded as
    /// `refresh_token_reuse` (naming the family); other refusals as `jwt_rejected`. A store
    /// failure is returned unrecorded, for the caller to answer 503.
    ///
    /// # Errors
    /// As [`RefreshManager::rotate_at`]; in particular [`JwtError::RefreshKeyRetired`] for an
    /// unused token minted under a key that has since been retired.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let first = tokens.issue(&AccessTokenRequest::new("alice")).await?;
    /// let second = tokens.rotate(first.refresh.as_str()).await?;
    /// assert_eq!(tokens.rotate(first.refresh.as_str()).await?, second, "a retry");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn rotate(&self, refresh: &str) -> Result<TokenPair, JwtError> {
        let (_, manager) = self.current()?;
        match manager.rotate(refresh).await {
            Ok(pair) => Ok(pair),
            // Fail closed (503); the caller logs it.
            Err(e @ JwtError::Store { .. }) => Err(e),
            Err(JwtError::RefreshReuse) => {
                let family = manager.family_of(refresh).await?;
                let family = family.map_or_else(String::new, |f| f.as_str().to_owned());
                self.events.record(self.clock.now(), SecurityEvent::RefreshTokenReuse { family });
                Err(JwtError::RefreshReuse)
            }
            Err(e) => {
                self.events.record(self.clock.now(), SecurityEvent::JwtRejected { reason: e.reason() });
                Err(e)
            }
        }
    }

    /// The family (user, session handle) a presented refresh token belongs to, for acting on
    /// a [`JwtError::RefreshReuse`] (the risk engine's `refresh_token_reuse` rule).
    ///
    /// # Errors
    /// [`JwtError::Store`] if the refresh store fails.
    pub async fn family_record_of(&self, refresh: &str) -> Result<Option<crate::FamilyRecord>, JwtError> {
        let (_, manager) = self.current()?;
        manager.family_record_of(refresh).await
    }

    /// Signs a Security Event Token with the current signing key
    /// ([`Jwt::sign_security_event`](crate::Jwt::sign_security_event)): receivers verify it
    /// with the keys of `jwks_json` (EdDSA, ES256; an HS256 key is shared with nobody).
    ///
    /// # Errors
    /// [`JwtError::Signing`] if signing fails.
    pub fn sign_security_event(&self, claims: &serde_json::Value) -> Result<String, JwtError> {
        let (jwt, _) = self.current()?;
        jwt.sign_security_event(claims)
    }

    /// Revokes one access token by its `jti`, until it expires (plus leeway).
    ///
    /// # Errors
    /// [`JwtError::Store`] if the revocation store fails.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let pair = tokens.issue(&AccessTokenRequest::new("alice")).await?;
    /// let claims = tokens.verify(pair.access.token()).await?;
    /// tokens.revoke_access(&claims).await?;
    /// assert_eq!(tokens.verify(pair.access.token()).await.unwrap_err().reason(), "revoked");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn revoke_access(&self, claims: &AccessClaims) -> Result<(), JwtError> {
        let until = claims.exp().saturating_add(self.config.leeway());
        self.stores.revocations.revoke_jti(claims.jti(), until).await
    }

    /// Revokes the family of a presented refresh token (RFC 7009). Returns whether one was
    /// found. Works for tokens of retired keys too, so a client can always log out.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the refresh store fails, or the keys cannot be derived.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let pair = tokens.issue(&AccessTokenRequest::new("alice")).await?;
    /// assert!(tokens.revoke_refresh(pair.refresh.as_str()).await?);
    /// assert_eq!(tokens.rotate(pair.refresh.as_str()).await.unwrap_err().reason(), "refresh_revoked");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn revoke_refresh(&self, refresh: &str) -> Result<bool, JwtError> {
        let (_, manager) = self.current()?;
        manager.revoke(refresh).await
    }

    /// Revokes every access and refresh token issued for session handle `sid` (logout).
    ///
    /// # Errors
    /// [`JwtError::Store`] if a token store fails.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let pair = tokens.issue(&AccessTokenRequest::new("alice").with_sid("h-1")).await?;
    /// tokens.revoke_session("h-1").await?;
    /// assert!(tokens.verify(pair.access.token()).await.is_err());
    /// assert!(tokens.rotate(pair.refresh.as_str()).await.is_err());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn revoke_session(&self, sid: &str) -> Result<(), JwtError> {
        // Every access token of the session expires by now + ttl (+ leeway): deny until then.
        let until = self.now().saturating_add(self.config.access_ttl()).saturating_add(self.config.leeway());
        self.stores.revocations.revoke_sid(sid, until).await?;
        self.stores.refresh.revoke_session(sid).await?;
        Ok(())
    }

    /// "Log out everywhere" for `sub`: every access token issued up to and including this
    /// second and every refresh-token family are refused from now on.
    ///
    /// The cutoff is the *next* second: `iat` has one-second resolution, and a token issued in
    /// this second before the call must die too. The price: a token issued in this second after
    /// the call (a new login within the same second) is refused as well and must be fetched again.
    ///
    /// # Errors
    /// [`JwtError::Store`] if a token store fails.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sessionwarden_jwt::{AccessTokenRequest, keyring::KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// let pair = tokens.issue(&AccessTokenRequest::new("alice")).await?;
    /// tokens.revoke_user("alice").await?;
    /// assert_eq!(tokens.verify(pair.access.token()).await.unwrap_err().reason(), "revoked");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn revoke_user(&self, sub: &str) -> Result<(), JwtError> {
        self.stores.revocations.revoke_user_before(sub, self.now().saturating_add(1)).await?;
        self.stores.refresh.revoke_user(sub).await?;
        Ok(())
    }

    /// Deletes refresh-token families and denylist entries expired at `now` (unix seconds)
    /// from both stores; a no-op for stores whose entries expire by themselves (Redis). Run it
    /// periodically, e.g. as a `sessionwarden_tower::maintenance` job.
    ///
    /// # Errors
    /// [`JwtError::Store`] if a token store fails; the other store is still purged.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let tokens = sessionwarden_jwt::keyring::KeyringTokens::builder(keyring).build()?;
    /// tokens.purge_expired_at(1_750_000_000).await?;
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn purge_expired_at(&self, now: u64) -> Result<(), JwtError> {
        let families = self.stores.refresh.purge_expired(now).await;
        let denylist = self.stores.revocations.purge_expired(now).await;
        families.and(denylist)
    }

    /// [`purge_expired_at`](Self::purge_expired_at) the clock's current time.
    ///
    /// # Errors
    /// As [`purge_expired_at`](Self::purge_expired_at).
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let tokens = sessionwarden_jwt::keyring::KeyringTokens::builder(keyring).build()?;
    /// tokens.purge_expired().await?;
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn purge_expired(&self) -> Result<(), JwtError> {
        self.purge_expired_at(self.now()).await
    }

    /// The public keys as a JWKS document (RFC 7517); empty for HS256.
    ///
    /// # Errors
    /// When the keyring's current keys cannot be turned into JWT keys.
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// let tokens = sessionwarden_jwt::keyring::KeyringTokens::builder(keyring).build()?;
    /// assert_eq!(tokens.jwks_json()?, r#"{"keys":[]}"#);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn jwks_json(&self) -> Result<String, JwtError> {
        Ok(self.current()?.0.jwks_json())
    }

    /// Verifies the request's `Authorization: Bearer` token (exactly one header, scheme in any
    /// case), recording why when it is refused. [`Bearer`](super::Bearer) is the extractor
    /// form.
    ///
    /// # Errors
    /// [`BearerRejection`]: missing (no event), refused (reason in a `jwt_rejected` event), or
    /// the token store failed (`store_unavailable` event).
    ///
    /// ```
    /// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
    /// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use http::HeaderMap;
    /// use sessionwarden_jwt::keyring::{BearerRejection, KeyringTokens};
    /// let tokens = KeyringTokens::builder(keyring).build()?;
    /// assert_eq!(tokens.authenticate(&HeaderMap::new()).await.unwrap_err(), BearerRejection::Missing);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l".parse().unwrap());
    /// assert_eq!(tokens.authenticate(&headers).await.unwrap_err(), BearerRejection::Invalid);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<AccessClaims, BearerRejection> {
        let token = match bearer_token(headers) {
            Ok(token) => token,
            Err("missing") => return Err(BearerRejection::Missing),
            Err(reason) => {
                self.events.record(self.clock.now(), SecurityEvent::JwtRejected { reason });
                return Err(BearerRejection::Invalid);
            }
        };
        match self.verify(token).await {
            Ok(claims) => Ok(claims),
            Err(JwtError::Store { .. }) => Err(BearerRejection::Unavailable),
            Err(_) => Err(BearerRejection::Invalid),
        }
    }

    /// Records why a token was refused: `store_unavailable` (and a warning) for a store that
    /// could not answer, `jwt_rejected` with the reason otherwise.
    fn record(&self, e: &JwtError) {
        match e {
            JwtError::Store { operation, source } => {
                // The error names the operation and the driver's message: no token, no user.
                tracing::warn!(target: "sessionwarden::jwt", operation, error = %source, "token store unavailable");
                self.events.record(self.clock.now(), SecurityEvent::StoreUnavailable { operation });
            }
            e => self.events.record(self.clock.now(), SecurityEvent::JwtRejected { reason: e.reason() }),
        }
    }
}
