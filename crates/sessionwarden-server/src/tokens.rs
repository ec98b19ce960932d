//! JWT access tokens and rotating refresh tokens for the reference server: `GET /token`,
//! `POST /token/refresh`, `POST /token/revoke`, `GET /.well-known/jwks.json`,
//! `POST /logout-everywhere`, the bearer half of `GET /me`, and the [`Bearer`] extractor.
//!
//! # Keys follow the keyring
//!
//! Tokens are signed with the keyring primary's JWT subkey (HKDF, purpose `JwtHs256`,
//! `JwtEd25519` or `JwtEs256` by `--jwt-alg`) and carry its key id in `kid`; verify-only keys
//! still verify and retired ids are refused as retired. The [`Jwt`] built from a key set is
//! cached together with the `Arc` of that set, and rebuilt when the keyring hands out another
//! one, so a reload (rotation, retirement) is picked up on the next request and the JWKS follows.
//!
//! `JWT_SECRET_KEY` (flask-jwt-extended's name) replaces the derived keys with one explicit
//! HS256 secret, shared with other verifiers; its key id is `JWT_SECRET_KEY_ID` (default
//! `static`) and every other key id is refused.
//!
//! # Refresh tokens across a key rotation
//!
//! Refresh successors are derived with the primary's `JwtRefresh` subkey. The subkeys of the
//! verify-only keys are handed to the [`RefreshManager`] as earlier rotation keys, so a client
//! retrying a refresh inside the grace window after a keyring rotation (on this node or on one
//! that reloaded first) gets the successor it was issued, not a reuse verdict. A retired key's
//! subkey is dropped with it.
//!
//! # Revocation across a fleet
//!
//! Refresh tokens and revocations live in the store `--store` names: SQL tables for SQLite and
//! PostgreSQL; for `redis` and `flask-redis`, Redis keys under `--redis-token-prefix` (default
//! `sw:`) in the Redis at `--redis-url`, single node or Cluster ([`RedisTokenStore`]); process
//! memory for `memory`, `cookie` and `flask-cookie` (one process, lost on restart). For the
//! shared stores each node puts a [`CachedRevocations`] in front: a verdict is reused for at
//! most [`REVOCATION_CACHE_TTL`], so a verification costs at most one store lookup, a hit costs
//! well under a microsecond, and a revocation made on any node is refused on every node within
//! a second.
//!
//! Expired rows are removed by [`Tokens::purge_expired`], which `serve` runs every
//! [`TOKEN_PURGE_INTERVAL`] (Redis needs none of it: its keys expire by themselves).
//!
//! # Failures
//!
//! A refused token answers 401 with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750
//! §3.1) and a generic body; the precise reason goes to a `jwt_rejected` security event. A token
//! store that cannot answer fails closed with 503.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use parking_lot::RwLock;
use serde::Deserialize;
use serde_json::json;
use sessionwarden::keyring::{KeySet, Keyring, Purpose};
use sessionwarden::{Error, Events, SecurityEvent, Session, SessionId, StoreError};
use sessionwarden_jwt::{
    AccessClaims, AccessTokenRequest, CachedRevocations, Jwt, JwtAlgorithm, JwtConfig, JwtError, JwtKey,
    JwtKeySet, MemoryRefreshStore, MemoryRevocations, RefreshConfig, RefreshManager, RefreshStore,
    Revocations, TokenPair,
};
use sessionwarden_redis::RedisTokenStore;
use sessionwarden_sql::{PostgresTokenStore, SqliteTokenStore};
use zeroize::Zeroizing;

use crate::AppState;
use crate::cli::{ServeArgs, StoreKind};

/// How long a node reuses a revocation verdict from a shared store. Half the one-second
/// fleet-wide promise, so a revocation is seen everywhere with room for a slow lookup.
pub const REVOCATION_CACHE_TTL: Duration = Duration::from_millis(500);

/// How often `serve` purges expired refresh-token families and denylist entries.
pub const TOKEN_PURGE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The session key holding the token session id when the session has no handle (the cookie
/// store keeps nothing server-side, so it has no handle to put in `sid`).
pub(crate) const SID_KEY: &str = "_jwt_sid";

/// The signing algorithm, `--jwt-alg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtAlg {
    /// HMAC-SHA256 with the keyring's JWT subkey (or `JWT_SECRET_KEY`). Nothing to publish.
    #[value(name = "HS256")]
    Hs256,
    /// Ed25519, keys derived from the keyring and published at `/.well-known/jwks.json`.
    #[value(name = "EdDSA")]
    EdDsa,
    /// ECDSA P-256, keys derived from the keyring and published at `/.well-known/jwks.json`.
    #[value(name = "ES256")]
    Es256,
}

impl JwtAlg {
    fn algorithm(self) -> JwtAlgorithm {
        match self {
            Self::Hs256 => JwtAlgorithm::Hs256,
            Self::EdDsa => JwtAlgorithm::EdDsa,
            Self::Es256 => JwtAlgorithm::Es256,
        }
    }
}

/// `JWT_SECRET_KEY`: an explicit HS256 secret. `Debug` is redacted; the bytes are zeroed on drop.
#[derive(Clone)]
pub struct JwtSecret(Zeroizing<String>);

impl JwtSecret {
    /// Reads `JWT_SECRET_KEY` from the environment (never from the command line, where `ps`
    /// would show it).
    #[must_use]
    pub fn from_env() -> Option<Self> {
        std::env::var("JWT_SECRET_KEY").ok().filter(|s| !s.is_empty()).map(Self::new)
    }

    /// Wraps a secret.
    #[must_use]
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Zeroizing::new(secret.into()))
    }
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(..)")
    }
}

/// Adapts the server's clock (which tests replace with a `ManualClock`) to the JWT crate's.
#[derive(Debug)]
struct JwtClock(Arc<dyn sessionwarden::Clock>);

impl sessionwarden_jwt::Clock for JwtClock {
    fn now(&self) -> u64 {
        // A clock before 1970 reads as 0: every token then looks not yet valid (fail closed).
        u64::try_from(self.0.now().unix()).unwrap_or(0)
    }
}

/// What was built from one key set.
struct Built {
    // Held, not just compared: keeping the `Arc` alive means its address cannot be reused by a
    // later set, so `Arc::ptr_eq` is an exact identity test.
    set: Arc<KeySet>,
    jwt: Arc<Jwt>,
    refresh: Arc<RefreshManager>,
}

/// The server's token service: issuing, rotation, verification, revocation.
pub struct Tokens {
    keyring: Keyring,
    alg: JwtAlg,
    config: JwtConfig,
    refresh_config: RefreshConfig,
    static_key: Option<(String, JwtSecret)>,
    refresh_store: Arc<dyn RefreshStore>,
    revocations: Arc<dyn Revocations>,
    clock: Arc<dyn sessionwarden::Clock>,
    events: Events,
    built: RwLock<Option<Built>>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: key material (the static secret, the keyring's subkeys).
        f.debug_struct("Tokens")
            .field("alg", &self.alg)
            .field("config", &self.config)
            .field("refresh", &self.refresh_config)
            .field("static_kid", &self.static_key.as_ref().map(|(kid, _)| kid))
            .finish_non_exhaustive()
    }
}

impl Tokens {
    /// The token service `args` configure, with refresh tokens and revocations in `stores`.
    ///
    /// # Errors
    /// When the policy is out of bounds, `JWT_SECRET_KEY` is shorter than 32 bytes or used
    /// with an algorithm other than HS256, or the keyring's keys cannot be turned into JWT keys.
    pub fn new(
        args: &ServeArgs,
        keyring: Keyring,
        clock: Arc<dyn sessionwarden::Clock>,
        events: Events,
        stores: TokenStores,
    ) -> Result<Self> {
        let config = JwtConfig::default()
            .with_issuer(args.jwt_issuer.clone())
            .with_audience(args.jwt_audience.clone())
            .with_leeway(Duration::from_secs(args.jwt_leeway))
            .with_access_ttl(Duration::from_secs(args.jwt_access_ttl))
            .with_algorithms([args.jwt_alg.algorithm()]);
        config.validate().context("JWT policy (--jwt-*)")?;
        let refresh_config = RefreshConfig::default().with_grace(Duration::from_secs(args.jwt_refresh_grace));
        refresh_config.validate().context("--jwt-refresh-grace")?;
        let static_key = match &args.jwt_secret_key {
            None => None,
            Some(_) if args.jwt_alg != JwtAlg::Hs256 => {
                bail!(
                    "JWT_SECRET_KEY is an HS256 secret; it cannot be used with --jwt-alg {:?}",
                    args.jwt_alg
                )
            }
            Some(secret) => {
                // Checked here so a bad value stops startup, not the first request.
                JwtKey::hs256(args.jwt_secret_key_id.clone(), secret.0.as_bytes()).with_context(|| {
                    "JWT_SECRET_KEY must be at least 32 bytes and JWT_SECRET_KEY_ID 1-64 characters of \
                     [A-Za-z0-9_-]; generate a secret with `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                })?;
                Some((args.jwt_secret_key_id.clone(), secret.clone()))
            }
        };
        let tokens = Self {
            keyring,
            alg: args.jwt_alg,
            config,
            refresh_config,
            static_key,
            refresh_store: stores.refresh,
            revocations: stores.revocations,
            clock,
            events,
            built: RwLock::new(None),
        };
        tokens.current().context("JWT keys from the keyring")?;
        Ok(tokens)
    }

    /// The verifier and refresh manager for the keyring's current key set, rebuilt when the
    /// keyring was reloaded since the last call.
    ///
    /// # Errors
    /// When the key set cannot be turned into JWT keys.
    pub fn current(&self) -> Result<(Arc<Jwt>, Arc<RefreshManager>), JwtError> {
        let set: Arc<KeySet> = Arc::clone(&*self.keyring.current());
        if let Some(b) = self.built.read().as_ref()
            && Arc::ptr_eq(&b.set, &set)
        {
            return Ok((b.jwt.clone(), b.refresh.clone()));
        }
        let jwt = Arc::new(
            Jwt::new(self.key_set(&set)?, self.config.clone())?
                .with_clock(Arc::new(JwtClock(self.clock.clone()))),
        );
        let rotation_key = *set.primary().subkey(Purpose::JwtRefresh).expose();
        // The verify-only keys' subkeys, newest first, so grace retries of rotations made before
        // a keyring rotation are recognised (module docs). Retired keys have no key material.
        let mut earlier: Vec<_> = set.verifying().skip(1).collect();
        earlier.sort_by_key(|key| std::cmp::Reverse(key.created()));
        let refresh = Arc::new(
            RefreshManager::new(jwt.clone(), self.refresh_store.clone(), rotation_key)
                .with_previous_rotation_keys(
                    earlier.iter().map(|key| *key.subkey(Purpose::JwtRefresh).expose()),
                )
                .with_config(self.refresh_config.clone())?,
        );
        *self.built.write() = Some(Built { set, jwt: jwt.clone(), refresh: refresh.clone() });
        Ok((jwt, refresh))
    }

    fn key_set(&self, set: &KeySet) -> Result<JwtKeySet, JwtError> {
        if let Some((kid, secret)) = &self.static_key {
            return Ok(JwtKeySet::single(JwtKey::hs256(kid.clone(), secret.0.as_bytes())?));
        }
        let mut keys = set.verifying().map(|key| {
            let kid = key.id().to_string();
            match self.alg {
                JwtAlg::Hs256 => JwtKey::hs256(kid, key.subkey(Purpose::JwtHs256).expose()),
                JwtAlg::EdDsa => JwtKey::ed25519_from_seed(kid, *key.subkey(Purpose::JwtEd25519).expose()),
                JwtAlg::Es256 => JwtKey::es256_from_seed(kid, *key.subkey(Purpose::JwtEs256).expose()),
            }
        });
        // invariant: `KeySet::verifying` yields the primary first, and a set always has one.
        let signing = keys.next().ok_or(JwtError::Config { what: "key set without a primary" })??;
        let verifying = keys.collect::<Result<Vec<_>, _>>()?;
        let retired_kids = set.retired().iter().map(ToString::to_string).collect();
        Ok(JwtKeySet { signing, verifying, retired_kids })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.clock.now().unix()).unwrap_or(0)
    }

    /// Verifies a bearer token: signature, policy, then one revocation lookup.
    ///
    /// # Errors
    /// The [`JwtError`] of the first check that failed.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let (jwt, _) = self.current()?;
        jwt.verify_unrevoked(token, self.revocations.as_ref()).await
    }

    /// Issues an access token and a new refresh-token family for `sub`, tied to session `sid`.
    ///
    /// # Errors
    /// [`JwtError::Store`] if the refresh store fails.
    pub async fn issue(&self, sub: &str, sid: &str) -> Result<TokenPair, JwtError> {
        let (_, refresh) = self.current()?;
        refresh.issue(&AccessTokenRequest::new(sub).with_sid(sid)).await
    }

    /// Revokes every access and refresh token issued for session `sid` (logout).
    ///
    /// # Errors
    /// [`JwtError::Store`] if a token store fails.
    pub async fn revoke_session(&self, sid: &str) -> Result<(), JwtError> {
        // Every access token of the session expires by now + ttl (+ leeway): deny until then.
        let until = self.now().saturating_add(self.config.access_ttl()).saturating_add(self.config.leeway());
        self.revocations.revoke_sid(sid, until).await?;
        self.refresh_store.revoke_session(sid).await?;
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
    pub async fn revoke_user(&self, sub: &str) -> Result<(), JwtError> {
        self.revocations.revoke_user_before(sub, self.now().saturating_add(1)).await?;
        self.refresh_store.revoke_user(sub).await?;
        Ok(())
    }

    /// Deletes refresh-token families and denylist entries that have expired by now (both
    /// stores; a no-op for Redis, whose keys expire by themselves). `serve` calls it every
    /// [`TOKEN_PURGE_INTERVAL`].
    ///
    /// # Errors
    /// [`JwtError::Store`] if a token store fails; the other store is still purged.
    pub async fn purge_expired(&self) -> Result<(), JwtError> {
        let now = self.now();
        let families = self.refresh_store.purge_expired(now).await;
        let denylist = self.revocations.purge_expired(now).await;
        families.and(denylist)
    }

    /// Verifies the request's `Authorization: Bearer` token, recording why when it is refused.
    ///
    /// # Errors
    /// [`BearerRejection`]: missing, refused (reason in a `jwt_rejected` event), or the token
    /// store failed.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<AccessClaims, BearerRejection> {
        let token = bearer_token(headers).map_err(|reason| self.reject(reason))?;
        match self.verify(token).await {
            Ok(claims) => Ok(claims),
            Err(JwtError::Store { operation, source }) => {
                tracing::warn!(target: "sessionwarden::server", operation, error = %source, "token store unavailable");
                self.events.record(self.clock.now(), SecurityEvent::StoreUnavailable { operation });
                Err(BearerRejection::Unavailable)
            }
            Err(e) => Err(self.reject(e.reason())),
        }
    }

    fn reject(&self, reason: &'static str) -> BearerRejection {
        if reason == "missing" {
            return BearerRejection::Missing;
        }
        self.events.record(self.clock.now(), SecurityEvent::JwtRejected { reason });
        BearerRejection::Invalid
    }
}

/// The `Authorization: Bearer` token, or the reason there is none.
fn bearer_token(headers: &HeaderMap) -> Result<&str, &'static str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) { "malformed" } else { "missing" });
    };
    let value = value.to_str().map_err(|_| "malformed")?;
    let (scheme, token) = value.split_once(' ').ok_or("malformed")?;
    // RFC 7235 §2.1: the scheme is case-insensitive; the token is taken as is.
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err("malformed");
    }
    Ok(token)
}

/// The refresh-token and revocation stores for the configured `--store`.
#[derive(Clone)]
pub struct TokenStores {
    /// Refresh-token families.
    pub refresh: Arc<dyn RefreshStore>,
    /// The access-token denylist (behind a short cache for shared stores).
    pub revocations: Arc<dyn Revocations>,
}

impl fmt::Debug for TokenStores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStores").finish_non_exhaustive()
    }
}

impl TokenStores {
    /// In-process stores: one server, lost on restart.
    #[must_use]
    pub fn memory() -> Self {
        Self { refresh: Arc::new(MemoryRefreshStore::new()), revocations: Arc::new(MemoryRevocations::new()) }
    }

    /// Shared stores with a [`CachedRevocations`] of [`REVOCATION_CACHE_TTL`] in front of the
    /// denylist.
    ///
    /// # Errors
    /// Never in practice: the TTL is within bounds.
    pub fn shared(refresh: Arc<dyn RefreshStore>, revocations: Arc<dyn Revocations>) -> Result<Self> {
        let revocations = Arc::new(CachedRevocations::new(revocations, REVOCATION_CACHE_TTL)?);
        Ok(Self { refresh, revocations })
    }

    /// The stores matching `args.store`.
    ///
    /// # Errors
    /// When the database or Redis cannot be reached.
    pub async fn open(args: &ServeArgs) -> Result<Self> {
        match args.store {
            StoreKind::Sqlite => {
                // The sessions database: the same file `stores::open` uses.
                let path: std::path::PathBuf = match args.database_url.as_deref() {
                    Some(url) => {
                        url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")).unwrap_or(url).into()
                    }
                    None => args.data_dir.join("sessions.db"),
                };
                let store = Arc::new(
                    SqliteTokenStore::open(&path)
                        .await
                        .with_context(|| format!("SQLite token store {}", path.display()))?,
                );
                Self::shared(store.clone(), store)
            }
            StoreKind::Postgres => {
                let Some(url) = args.database_url.as_deref() else {
                    bail!("--store postgres needs --database-url (or SESSIONWARDEN_DATABASE_URL)");
                };
                let store =
                    Arc::new(PostgresTokenStore::connect(url).await.context("PostgreSQL token store")?);
                Self::shared(store.clone(), store)
            }
            // The Redis the sessions live in (single node or Cluster), under its own prefix.
            StoreKind::Redis | StoreKind::FlaskRedis => {
                let store = RedisTokenStore::connect_any(&args.redis_url)
                    .await
                    .context("Redis token store")?
                    .try_with_prefix(args.redis_token_prefix.clone())
                    .map_err(|e| anyhow::anyhow!("--redis-token-prefix: {e}"))?
                    // A cutoff must outlive every access token issued before it.
                    .with_cutoff_retention(cutoff_retention(args));
                let store = Arc::new(store);
                Self::shared(store.clone(), store)
            }
            // Stores without a shared server-side place of their own (memory, pure cookies):
            // one process, lost on restart.
            StoreKind::Memory | StoreKind::Cookie | StoreKind::FlaskCookie => Ok(Self::memory()),
        }
    }
}

/// How long a Redis user cutoff is kept: the store's default (a year), or longer if access
/// tokens (plus leeway) are configured to live longer than that.
fn cutoff_retention(args: &ServeArgs) -> Duration {
    let default = RedisTokenStore::DEFAULT_CUTOFF_RETENTION;
    default.max(Duration::from_secs(args.jwt_access_ttl.saturating_add(args.jwt_leeway)))
}

/// 401 (or 503) for a request whose bearer token was missing, refused, or could not be checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerRejection {
    /// No `Authorization` header: 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3.1: no error
    /// code when the request had no credentials).
    Missing,
    /// The token was refused: 401 with `error="invalid_token"`. The reason is in the event.
    Invalid,
    /// The revocation store could not answer: 503, fail closed.
    Unavailable,
}

impl IntoResponse for BearerRejection {
    fn into_response(self) -> Response {
        let challenge = match self {
            Self::Missing => r#"Bearer realm="sessionwarden""#,
            Self::Invalid => r#"Bearer realm="sessionwarden", error="invalid_token""#,
            Self::Unavailable => {
                return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
            }
        };
        let mut res = (StatusCode::UNAUTHORIZED, Json(json!({"error": "unauthorized"}))).into_response();
        res.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        res
    }
}

/// The claims of a verified, unrevoked bearer token.
///
/// ```no_run
/// use sessionwarden_server::tokens::Bearer;
/// async fn handler(Bearer(claims): Bearer) -> String {
///     format!("hello {}", claims.sub())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Bearer(pub AccessClaims);

impl<S> FromRequestParts<S> for Bearer
where
    S: Send + Sync,
    Arc<Tokens>: FromRef<S>,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Arc::<Tokens>::from_ref(state);
        tokens.authenticate(&parts.headers).await.map(Self)
    }
}

impl FromRef<AppState> for Arc<Tokens> {
    fn from_ref(state: &AppState) -> Self {
        state.tokens.clone()
    }
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/token", get(issue))
        .route("/token/refresh", post(refresh))
        .route("/token/revoke", post(revoke))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/logout-everywhere", post(logout_everywhere))
        .with_state(state)
}

fn jwt_error(e: JwtError) -> Error {
    // Only store failures reach here; anything else is a bug in the key set or the RNG. Either
    // way the client gets no token.
    Error::Store(StoreError::unavailable("token store", e))
}

fn unauthorized() -> Response {
    BearerRejection::Missing.into_response()
}

fn no_store(mut res: Response) -> Response {
    // Tokens are credentials: never cached (RFC 6749 §5.1).
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn pair_json(pair: &TokenPair) -> Response {
    no_store(
        Json(json!({"token": pair.access.token(), "refresh_token": pair.refresh.as_str()})).into_response(),
    )
}

/// The `sid` put in this session's tokens: the session's handle (what admins revoke sessions
/// by), or for the cookie store, which has no handle, a random one kept in the session.
pub(crate) async fn session_sid(session: &Session, create: bool) -> Result<Option<String>, Error> {
    if let Some(handle) = session.handle().await? {
        return Ok(Some(handle.as_str().to_owned()));
    }
    if let Some(sid) = session.get::<String>(SID_KEY).await? {
        return Ok(Some(sid));
    }
    if !create {
        return Ok(None);
    }
    // A fresh id's handle: 128 random bits in the handle's syntax.
    let sid = SessionId::try_generate()?.store_key().handle().as_str().to_owned();
    session.insert(SID_KEY, &sid).await?;
    Ok(Some(sid))
}

/// `GET /token`: `{"token", "refresh_token"}` for the session's authenticated user.
async fn issue(State(state): State<AppState>, session: Session) -> Result<Response, Error> {
    // `user()` is what `POST /login` set; `/set-session?user=` data authenticates nobody.
    let Some(user) = session.user().await? else {
        return Ok(unauthorized());
    };
    let Some(sid) = session_sid(&session, true).await? else {
        return Ok(unauthorized());
    };
    let pair = state.tokens.issue(&user, &sid).await.map_err(jwt_error)?;
    Ok(pair_json(&pair))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /token/refresh`: rotates the refresh token; a rotated one coming back revokes its
/// family (after the grace window).
async fn refresh(State(state): State<AppState>, body: Bytes) -> Result<Response, Error> {
    let tokens = &state.tokens;
    let Ok(RefreshBody { refresh_token }) = serde_json::from_slice::<RefreshBody>(&body) else {
        return Ok((StatusCode::BAD_REQUEST, Json(json!({"error": "expected {\"refresh_token\": …}"})))
            .into_response());
    };
    let (_, manager) = tokens.current().map_err(jwt_error)?;
    match manager.rotate(&refresh_token).await {
        Ok(pair) => Ok(pair_json(&pair)),
        Err(e @ JwtError::Store { .. }) => Err(jwt_error(e)),
        Err(JwtError::RefreshReuse) => {
            let family = manager.family_of(&refresh_token).await.map_err(jwt_error)?;
            let family = family.map_or_else(String::new, |f| f.as_str().to_owned());
            state.events.record(state.clock.now(), SecurityEvent::RefreshTokenReuse { family });
            Ok(BearerRejection::Invalid.into_response())
        }
        Err(e) => Ok(tokens.reject(e.reason()).into_response()),
    }
}

#[derive(Deserialize)]
struct RevokeBody {
    refresh_token: Option<String>,
}

/// `POST /token/revoke` with the bearer token to revoke: its `jti` is refused until it expires.
/// A `{"refresh_token": …}` body also revokes that refresh token's family.
async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, Error> {
    let claims = match state.tokens.authenticate(&headers).await {
        Ok(claims) => claims,
        Err(rejection) => return Ok(rejection.into_response()),
    };
    let tokens = &state.tokens;
    let until = claims.exp().saturating_add(tokens.config.leeway());
    tokens.revocations.revoke_jti(claims.jti(), until).await.map_err(jwt_error)?;
    if let Ok(RevokeBody { refresh_token: Some(refresh) }) = serde_json::from_slice::<RevokeBody>(&body) {
        let (_, manager) = tokens.current().map_err(jwt_error)?;
        manager.revoke(&refresh).await.map_err(jwt_error)?;
    }
    Ok(no_store(Json(json!({"revoked": true})).into_response()))
}

/// `GET /.well-known/jwks.json`: the public keys (none for HS256).
async fn jwks(State(state): State<AppState>) -> Result<Response, Error> {
    let (jwt, _) = state.tokens.current().map_err(jwt_error)?;
    let mut res = jwt.jwks_json().into_response();
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Short: a rotation publishes the new key before anything is signed with a key a
    // verifier could not yet have fetched only if caches are short.
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    Ok(res)
}

/// `GET /me`: `{"user": …}` from a bearer token when the request has an `Authorization` header,
/// else from the session.
pub(crate) async fn me(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Session,
) -> Result<Response, Error> {
    if headers.contains_key(AUTHORIZATION) {
        return Ok(match state.tokens.authenticate(&headers).await {
            Ok(claims) => Json(json!({"user": claims.sub()})).into_response(),
            Err(rejection) => rejection.into_response(),
        });
    }
    Ok(match session.user().await? {
        Some(user) => Json(json!({"user": user})).into_response(),
        None => (StatusCode::UNAUTHORIZED, Json(json!({"error": "not logged in"}))).into_response(),
    })
}

/// Revokes the tokens issued for this session; called by `POST /logout` before the session
/// is destroyed (so a token-store failure leaves the session for a retry).
pub(crate) async fn revoke_session_tokens(state: &AppState, session: &Session) -> Result<(), Error> {
    if let Some(sid) = session_sid(session, false).await? {
        state.tokens.revoke_session(&sid).await.map_err(jwt_error)?;
    }
    Ok(())
}

/// `POST /logout-everywhere`: for the logged-in user, revokes every session (server-side
/// stores), every refresh-token family, and every access token issued up to now.
///
/// Under a store that keeps sessions but cannot revoke them by user (`flask-redis`) it
/// answers 501 and revokes nothing: a partial logout would look like a complete one.
async fn logout_everywhere(State(state): State<AppState>, session: Session) -> Result<Response, Error> {
    use crate::stores::UserRevocation;
    // Decided before the session or any token is touched.
    let index = match &state.user_revocation {
        UserRevocation::Index(index) => Some(index),
        // The cookie store has no server-side sessions to end: other browsers keep theirs until
        // they expire (see `logout`); their tokens are refused all the same.
        UserRevocation::NoServerSessions => None,
        UserRevocation::Unsupported(why) => {
            let error = format!("logout-everywhere is unavailable: {why}");
            return Ok((StatusCode::NOT_IMPLEMENTED, Json(json!({"error": error}))).into_response());
        }
    };
    let Some(user) = session.user().await? else {
        return Ok(unauthorized());
    };
    state.tokens.revoke_user(&user).await.map_err(jwt_error)?;
    let sessions = match index {
        Some(index) => index.revoke_user(&user).await?,
        None => 0,
    };
    session.destroy().await?;
    Ok(Json(json!({"user": null, "revoked_sessions": sessions})).into_response())
}
