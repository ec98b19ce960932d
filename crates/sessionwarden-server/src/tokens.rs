//! JWT access tokens and rotating refresh tokens for the reference server: `GET /token`,
//! `POST /token/refresh`, `POST /token/revoke`, `GET /.well-known/jwks.json`,
//! `POST /logout-everywhere` and the bearer half of `GET /me`.
//!
//! Route handlers over [`sessionwarden_jwt::keyring`], which holds the logic: keys derived from
//! the keyring and following its reloads, the grace successor across rotations, refresh tokens
//! ended by retiring the key that minted them, revocation across a fleet, and the [`Bearer`]
//! extractor. What stays here is configuration and the stores:
//!
//! - `--jwt-alg` picks the algorithm; `JWT_SECRET_KEY` (flask-jwt-extended's name) replaces
//!   the derived keys with one explicit HS256 secret, shared with other verifiers; its key id
//!   is `JWT_SECRET_KEY_ID` (default `static`) and every other key id is refused.
//! - Refresh tokens and revocations live in the store `--store` names: SQL tables for SQLite
//!   and PostgreSQL; for `redis` and `flask-redis`, Redis keys under `--redis-token-prefix`
//!   (default `sw:`) in the Redis at `--redis-url`, single node or Cluster
//!   ([`RedisTokenStore`]); process memory for `memory`, `cookie` and `flask-cookie` (one
//!   process, lost on restart). The shared ones sit behind [`TokenStores::shared`]'s cache, so
//!   a revocation made on any node is refused on every node within a second.
//! - Expired rows are removed by [`Tokens::purge_expired_at`], which `serve` runs every
//!   [`TOKEN_PURGE_INTERVAL`] as a maintenance job (Redis needs none of it: its keys expire by
//!   themselves).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sessionwarden::keyring::Keyring;
use sessionwarden::{Error, Events, Session, SessionId, StoreError};
pub use sessionwarden_jwt::keyring::{Bearer, BearerRejection, REVOCATION_CACHE_TTL, TokenStores};
use sessionwarden_jwt::{AccessTokenRequest, JwtAlgorithm, JwtConfig, JwtError, RefreshConfig, TokenPair};
use sessionwarden_redis::RedisTokenStore;
use sessionwarden_sql::{PostgresTokenStore, SqliteTokenStore};
use zeroize::Zeroizing;

use crate::AppState;
pub use crate::cli::JwtAlg;
use crate::cli::StoreKind;
use crate::stores::StoreSettings;

/// The server's token service: [`sessionwarden_jwt::keyring::KeyringTokens`] under the
/// server's keyring.
pub type Tokens = sessionwarden_jwt::keyring::KeyringTokens;

/// How often `serve` purges expired refresh-token families and denylist entries.
pub const TOKEN_PURGE_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// The session key holding the token session id when the session has no handle (the cookie
/// store keeps nothing server-side, so it has no handle to put in `sid`).
pub(crate) const SID_KEY: &str = "_jwt_sid";

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

/// The JWT settings `serve` takes from its command line (`--jwt-*`, `JWT_SECRET_KEY`).
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// The signing algorithm (`--jwt-alg`).
    pub algorithm: JwtAlgorithm,
    /// `iss` of issued tokens, required of verified ones.
    pub issuer: String,
    /// `aud` of issued tokens, required of verified ones.
    pub audience: String,
    /// Clock-skew leeway, seconds.
    pub leeway: u64,
    /// Access-token lifetime, seconds.
    pub access_ttl: u64,
    /// Refresh grace window, seconds.
    pub refresh_grace: u64,
    /// An explicit HS256 secret (`JWT_SECRET_KEY`) and its key id, instead of derived keys.
    pub secret_key: Option<JwtSecret>,
    /// The key id of `secret_key`'s tokens (`JWT_SECRET_KEY_ID`).
    pub secret_key_id: String,
}

/// The token service `settings` configure, with refresh tokens and revocations in `stores`.
///
/// # Errors
/// When the policy is out of bounds, `JWT_SECRET_KEY` is shorter than 32 bytes or used
/// with an algorithm other than HS256, or the keyring's keys cannot be turned into JWT keys.
pub fn build(
    settings: &TokenSettings,
    keyring: Keyring,
    clock: Arc<dyn sessionwarden::Clock>,
    events: Events,
    stores: TokenStores,
) -> Result<Tokens> {
    let config = JwtConfig::default()
        .with_issuer(settings.issuer.clone())
        .with_audience(settings.audience.clone())
        .with_leeway(Duration::from_secs(settings.leeway))
        .with_access_ttl(Duration::from_secs(settings.access_ttl))
        .with_algorithms([settings.algorithm]);
    config.validate().context("JWT policy (--jwt-*)")?;
    let refresh_config = RefreshConfig::default().with_grace(Duration::from_secs(settings.refresh_grace));
    refresh_config.validate().context("--jwt-refresh-grace")?;
    let mut builder = Tokens::builder(keyring)
        .with_algorithm(settings.algorithm)
        .with_config(config)
        .with_refresh_config(refresh_config)
        .with_stores(stores)
        .with_clock(clock)
        .with_events(events);
    if let Some(secret) = &settings.secret_key {
        if settings.algorithm != JwtAlgorithm::Hs256 {
            bail!(
                "JWT_SECRET_KEY is an HS256 secret; it cannot be used with --jwt-alg {}",
                settings.algorithm.as_str()
            )
        }
        // Checked here so a bad value stops startup with a hint, not the first request.
        sessionwarden_jwt::JwtKey::hs256(settings.secret_key_id.clone(), secret.0.as_bytes()).with_context(
            || {
                "JWT_SECRET_KEY must be at least 32 bytes and JWT_SECRET_KEY_ID 1-64 characters of \
                 [A-Za-z0-9_-]; generate a secret with `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            },
        )?;
        builder = builder.with_static_hs256(settings.secret_key_id.clone(), secret.0.as_bytes());
    }
    builder.build().context("JWT keys from the keyring")
}

/// The refresh-token and revocation stores for `store.store`.
///
/// # Errors
/// When the database or Redis cannot be reached.
pub async fn open_stores(store: &StoreSettings, tokens: &TokenSettings) -> Result<TokenStores> {
    let args = store;
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
            Ok(TokenStores::shared(store.clone(), store)?)
        }
        StoreKind::Postgres => {
            let Some(url) = args.database_url.as_deref() else {
                bail!("--store postgres needs --database-url (or SESSIONWARDEN_DATABASE_URL)");
            };
            let store = Arc::new(PostgresTokenStore::connect(url).await.context("PostgreSQL token store")?);
            Ok(TokenStores::shared(store.clone(), store)?)
        }
        // The Redis the sessions live in (single node or Cluster), under its own prefix.
        StoreKind::Redis | StoreKind::FlaskRedis => {
            let store = RedisTokenStore::connect_any(&args.redis_url)
                .await
                .context("Redis token store")?
                .try_with_prefix(args.redis_token_prefix.clone())
                .map_err(|e| anyhow::anyhow!("--redis-token-prefix: {e}"))?
                // A cutoff must outlive every access token issued before it.
                .with_cutoff_retention(cutoff_retention(tokens));
            let store = Arc::new(store);
            Ok(TokenStores::shared(store.clone(), store)?)
        }
        // Stores without a shared server-side place of their own (memory, pure cookies):
        // one process, lost on restart.
        StoreKind::Memory | StoreKind::Cookie | StoreKind::FlaskCookie => Ok(TokenStores::memory()),
    }
}

/// How long a Redis user cutoff is kept: the store's default (a year), or longer if access
/// tokens (plus leeway) are configured to live longer than that.
fn cutoff_retention(tokens: &TokenSettings) -> Duration {
    let default = RedisTokenStore::DEFAULT_CUTOFF_RETENTION;
    default.max(Duration::from_secs(tokens.access_ttl.saturating_add(tokens.leeway)))
}

impl FromRef<AppState> for Arc<Tokens> {
    fn from_ref(state: &AppState) -> Self {
        state.tokens.clone()
    }
}

pub(crate) fn router(state: AppState) -> Router {
    // The session's own token and its "log out everywhere" wait for a pending step-up.
    let protected = Router::new()
        .route("/token", get(issue))
        .route("/logout-everywhere", post(logout_everywhere))
        .route_layer(axum::middleware::from_fn(crate::risk::require_clear));
    Router::new()
        .route("/token/refresh", post(refresh))
        .route("/token/revoke", post(revoke))
        .route("/.well-known/jwks.json", get(jwks))
        .merge(protected)
        .with_state(state)
}

pub(crate) fn jwt_error(e: JwtError) -> Error {
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
    let pair = state.tokens.issue(&AccessTokenRequest::new(user).with_sid(sid)).await.map_err(jwt_error)?;
    Ok(pair_json(&pair))
}

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /token/refresh`: rotates the refresh token; a rotated one coming back revokes its
/// family (after the grace window), and one minted under a retired key is refused.
async fn refresh(State(state): State<AppState>, body: Bytes) -> Result<Response, Error> {
    let Ok(RefreshBody { refresh_token }) = serde_json::from_slice::<RefreshBody>(&body) else {
        return Ok((StatusCode::BAD_REQUEST, Json(json!({"error": "expected {\"refresh_token\": …}"})))
            .into_response());
    };
    match state.tokens.rotate(&refresh_token).await {
        Ok(pair) => Ok(pair_json(&pair)),
        Err(e @ JwtError::Store { .. }) => Err(jwt_error(e)),
        // The family is revoked; the risk engine decides about the session it belongs to.
        Err(JwtError::RefreshReuse) => {
            crate::risk::refresh_token_reuse(&state, &refresh_token).await;
            Ok(BearerRejection::Invalid.into_response())
        }
        // The reason is in the security event `rotate` recorded.
        Err(_) => Ok(BearerRejection::Invalid.into_response()),
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
    state.tokens.revoke_access(&claims).await.map_err(jwt_error)?;
    if let Ok(RevokeBody { refresh_token: Some(refresh) }) = serde_json::from_slice::<RevokeBody>(&body) {
        state.tokens.revoke_refresh(&refresh).await.map_err(jwt_error)?;
    }
    Ok(no_store(Json(json!({"revoked": true})).into_response()))
}

/// `GET /.well-known/jwks.json`: the public keys (none for HS256).
async fn jwks(State(state): State<AppState>) -> Result<Response, Error> {
    let mut res = state.tokens.jwks_json().map_err(jwt_error)?.into_response();
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
    state.events.record(
        state.clock.now(),
        sessionwarden::SecurityEvent::SessionsRevoked { user: Some(user.clone()), sessions },
    );
    session.destroy().await?;
    Ok(Json(json!({"user": null, "revoked_sessions": sessions})).into_response())
}
