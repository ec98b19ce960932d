//! The admin plane: its own listener (`--admin-listen`, off unless set), bearer-token
//! authentication, and one router that every admin part is merged into behind that check.
//!
//! - **Listener.** Served by [`crate::http::serve`] with the main listener's limits. A
//!   non-loopback address without a token refuses to start ([`AdminConfig::new`]); on a
//!   loopback address without a token the admin API is open to every local user, which the
//!   server says in a warning at start-up.
//! - **Token.** From `--admin-token-file` (`SESSIONWARDEN_ADMIN_TOKEN_FILE`) or the
//!   environment variable `SESSIONWARDEN_ADMIN_TOKEN` (never a flag: `ps` shows flags); at
//!   least 32 bytes. Only its SHA-256 digest is kept, and a presented token is hashed and
//!   compared with [`subtle`] in constant time, so neither its bytes nor its length leak
//!   through timing.
//! - **Refusals.** A missing, malformed or wrong `Authorization: Bearer …` header gets 401
//!   with `WWW-Authenticate: Bearer` and one fixed JSON body; the reason goes to a
//!   [`SecurityEvent::AdminAuthFailed`] event (OWASP ASVS 7.4.5: administrators can end
//!   sessions, so the plane that does it is authenticated on its own).
//! - **Router.** [`admin_router`] merges the JSON API and its OpenAPI document
//!   ([`api`]) and `/metrics`, and puts the token check in front of all of it, fallback
//!   included: any path that is not a dashboard page needs the bearer token.
//! - **Dashboard.** The HTML pages under `/admin` ([`dashboard`]) are the exception: a
//!   browser cannot send a bearer header, so they sit beside the token check, not behind it,
//!   and are reached through a dashboard session of their own that only the admin token
//!   opens (posted once to the sign-in form, checked by the same [`AdminToken::matches`]).
//!   Their actions call the API's functions; nothing is implemented twice.
//! - **Events per minute.** [`EventRate`], a sink of the event hub, counts them for the
//!   dashboard's chart; `serve` registers it when the admin listener is on.

pub mod api;
pub mod dashboard;
mod rate;

pub use self::rate::{EventRate, Minute};

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sessionwarden::store::AuditLog;
use sessionwarden::{SecurityEvent, SessionIndex};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::AppState;
use crate::keys::KeySource;
use crate::stores::Unsupported;

/// Shortest admin token accepted, in bytes (as long as a key: 256 bits of a random token).
pub const MIN_TOKEN_LEN: usize = 32;

/// The environment variable holding the admin token.
pub const TOKEN_ENV: &str = "SESSIONWARDEN_ADMIN_TOKEN";

/// The admin token as it came from the environment, before it is checked. `Debug` never
/// shows it; it is wiped from memory when dropped.
#[derive(Clone, Default)]
pub struct TokenSecret(Option<Zeroizing<String>>);

impl TokenSecret {
    /// `SESSIONWARDEN_ADMIN_TOKEN`, if set.
    #[must_use]
    pub fn from_env() -> Self {
        Self(std::env::var(TOKEN_ENV).ok().map(Zeroizing::new))
    }

    /// A token given in code (tests, embedding).
    #[must_use]
    pub fn new(token: impl Into<String>) -> Self {
        Self(Some(Zeroizing::new(token.into())))
    }
}

impl fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "TokenSecret(..)" } else { "TokenSecret(None)" })
    }
}

/// The admin token, kept as its SHA-256 digest only.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

impl AdminToken {
    /// The token `token` (surrounding whitespace, such as a file's final newline, removed).
    ///
    /// # Errors
    /// When it is shorter than [`MIN_TOKEN_LEN`] bytes.
    ///
    /// ```
    /// use sessionwarden_server::admin::AdminToken;
    /// let token = AdminToken::new("0123456789abcdef0123456789abcdef\n").unwrap();
    /// assert!(token.matches(b"0123456789abcdef0123456789abcdef"));
    /// assert!(!token.matches(b"0123456789abcdef0123456789abcde"));
    /// assert!(AdminToken::new("short").is_err());
    /// ```
    pub fn new(token: &str) -> Result<Self> {
        let token = token.trim();
        if token.len() < MIN_TOKEN_LEN {
            bail!(
                "the admin token is {} bytes long; it must be at least {MIN_TOKEN_LEN} (e.g. `openssl rand -hex 32`)",
                token.len()
            );
        }
        Ok(Self { digest: Sha256::digest(token.as_bytes()).into() })
    }

    /// Whether `presented` is the token, in time independent of where they differ and of
    /// their lengths (both are hashed first).
    #[must_use]
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        presented.ct_eq(&self.digest).into()
    }
}

/// The admin listener's configuration, checked: built by [`AdminConfig::new`].
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The bearer token requests must carry, if any (only on a loopback address can there be
    /// none).
    pub token: Option<AdminToken>,
}

impl AdminConfig {
    /// The admin listener for `listen`, with the token from `token_file` or `token_env`;
    /// `None` when `listen` is not set (the admin plane is off).
    ///
    /// # Errors
    /// When both token sources are set, the file cannot be read, the token is too short, or
    /// `listen` is not a loopback address and there is no token.
    pub fn new(
        listen: Option<SocketAddr>,
        token_file: Option<&std::path::Path>,
        token_env: &TokenSecret,
    ) -> Result<Option<Self>> {
        let Some(listen) = listen else { return Ok(None) };
        let token = match (token_file, token_env.0.as_deref()) {
            (Some(_), Some(_)) => {
                bail!("set either --admin-token-file or {TOKEN_ENV}, not both")
            }
            (Some(path), None) => {
                let text = Zeroizing::new(
                    std::fs::read_to_string(path)
                        .with_context(|| format!("cannot read --admin-token-file {}", path.display()))?,
                );
                Some(
                    AdminToken::new(&text)
                        .with_context(|| format!("--admin-token-file {}", path.display()))?,
                )
            }
            (None, Some(text)) => Some(AdminToken::new(text).context(TOKEN_ENV)?),
            (None, None) => None,
        };
        if token.is_none() && !listen.ip().is_loopback() {
            bail!(
                "--admin-listen {listen} is not a loopback address and no admin token is set: \
                 set --admin-token-file (or {TOKEN_ENV}) or listen on 127.0.0.1"
            );
        }
        Ok(Some(Self { listen, token }))
    }
}

/// What the admin endpoints act on.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// What the public routes share (store, keyring, events, clock, tokens).
    pub app: AppState,
    /// Listing and revocation of sessions, or why the store has none.
    pub index: Result<Arc<dyn SessionIndex>, Unsupported>,
    /// The store's audit records, or why it keeps none.
    pub audit: Result<Arc<dyn AuditLog>, Unsupported>,
    /// Where the keys come from: a keyring file or the shared keyring can be rotated and
    /// retired from here.
    pub keys: KeySource,
    /// Serialises this process's writes to the keyring file.
    key_file: Arc<tokio::sync::Mutex<()>>,
    /// What renders the Prometheus metrics served at `/metrics`, when they are on.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Events per minute for the dashboard's chart, if counted.
    pub event_rate: Option<EventRate>,
    /// Whether cookies are `Secure` (not under `--insecure-cookies`): the dashboard's follow.
    pub secure_cookies: bool,
}

impl AdminState {
    /// The admin state over `app`'s store, with keys from `keys`.
    #[must_use]
    pub fn new(app: &crate::App, keys: KeySource) -> Self {
        Self {
            app: app.state.clone(),
            index: app.index.clone(),
            audit: app.audit.clone(),
            keys,
            key_file: Arc::new(tokio::sync::Mutex::new(())),
            metrics: app.metrics.clone(),
            event_rate: None,
            secure_cookies: app.cookie.is_secure(),
        }
    }

    /// With the dashboard's events chart fed by `rate` (a sink of the application's event
    /// hub; without one the dashboard says it has no counts).
    #[must_use]
    pub fn with_event_rate(mut self, rate: EventRate) -> Self {
        self.event_rate = Some(rate);
        self
    }

    /// The keyring file, if keys come from one.
    fn key_path(&self) -> Option<&PathBuf> {
        match &self.keys {
            KeySource::File(path) => Some(path),
            KeySource::Env | KeySource::Shared(_) => None,
        }
    }
}

/// The admin router: the JSON API, its document and `/metrics` behind the bearer-token
/// check, and the dashboard's pages beside it behind their own sign-in.
///
/// `token` is `None` only for a loopback listener without a token ([`AdminConfig::new`]
/// refuses anything else); then every request is let through.
pub fn admin_router(state: AdminState, token: Option<AdminToken>) -> Router {
    let mut router = Router::new().merge(api::router(state.clone()));
    // Further machine-facing parts merge here, before the layer below, so the token check
    // covers them too.
    if let Some(handle) = state.metrics.clone() {
        router = router.merge(crate::metrics::metrics_router(handle));
    }
    // An explicit fallback, so it is this router's (behind the token check) that answers
    // every path no route claims, not the dashboard's.
    let router = router.fallback(|| async { StatusCode::NOT_FOUND });
    let api = authenticated(router, state.app.clone(), token.clone());
    api.merge(dashboard::router(state, token))
}

/// Puts the token check in front of every route of `router` and its fallback.
pub fn authenticated(router: Router, app: AppState, token: Option<AdminToken>) -> Router {
    let guard = Arc::new(Guard { token, app });
    router.layer(axum::middleware::from_fn_with_state(guard, require_token))
}

struct Guard {
    token: Option<AdminToken>,
    app: AppState,
}

/// Why a request's `Authorization` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// Not exactly one `Bearer <token>` header.
    Malformed,
    /// A bearer token, but not the admin token.
    Mismatch,
}

impl AuthFailure {
    /// The stable name recorded in the security event.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Mismatch => "mismatch",
        }
    }
}

/// Checks `headers` against `token`.
///
/// The header must be exactly `Bearer <token>`: the scheme matched without regard to case
/// (RFC 9110 §11.1), one space, then the token byte for byte. Extra whitespace, a second
/// header or another scheme is refused.
///
/// # Errors
/// Why the header was refused.
pub fn check(headers: &axum::http::HeaderMap, token: &AdminToken) -> Result<(), AuthFailure> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(if headers.contains_key(AUTHORIZATION) {
            AuthFailure::Malformed
        } else {
            AuthFailure::Missing
        });
    };
    let bytes = value.as_bytes();
    let Some((scheme, presented)) = bytes.split_at_checked(7) else {
        return Err(AuthFailure::Malformed);
    };
    if !scheme.eq_ignore_ascii_case(b"bearer ") || presented.is_empty() {
        return Err(AuthFailure::Malformed);
    }
    if token.matches(presented) { Ok(()) } else { Err(AuthFailure::Mismatch) }
}

async fn require_token(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let Some(token) = &guard.token else {
        return next.run(req).await;
    };
    match check(req.headers(), token) {
        Ok(()) => next.run(req).await,
        Err(why) => {
            let now = guard.app.clock.now();
            guard.app.events.record(now, SecurityEvent::AdminAuthFailed { reason: why.as_str() });
            unauthorized()
        }
    }
}

/// The one answer to a request without the admin token.
fn unauthorized() -> Response {
    let mut res =
        (StatusCode::UNAUTHORIZED, axum::Json(serde_json::json!({"error": "admin authentication required"})))
            .into_response();
    res.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sessionwarden admin\""));
    res
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TOKEN: &str = "an-admin-token-of-forty-bytes-0123456789";

    #[test]
    fn non_loopback_without_token_is_refused() {
        let none = TokenSecret::default();
        let err = AdminConfig::new(Some("0.0.0.0:9000".parse().unwrap()), None, &none).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("--admin-token-file") && !msg.contains('\n'), "{msg}");
        assert!(AdminConfig::new(Some("127.0.0.1:9000".parse().unwrap()), None, &none).unwrap().is_some());
        assert!(AdminConfig::new(Some("[::1]:9000".parse().unwrap()), None, &none).unwrap().is_some());
        assert!(AdminConfig::new(None, None, &none).unwrap().is_none());
        let ok = AdminConfig::new(Some("0.0.0.0:9000".parse().unwrap()), None, &TokenSecret::new(TOKEN));
        assert!(ok.unwrap().unwrap().token.is_some());
    }

    #[test]
    fn short_tokens_are_refused_without_echoing_them() {
        let err =
            AdminConfig::new(Some("127.0.0.1:1".parse().unwrap()), None, &TokenSecret::new("hunter2hunter2"))
                .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("at least 32") && !msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn debug_hides_tokens() {
        let t = AdminToken::new(TOKEN).unwrap();
        assert_eq!(format!("{t:?}"), "AdminToken(..)");
        assert_eq!(format!("{:?}", TokenSecret::new(TOKEN)), "TokenSecret(..)");
    }
}
