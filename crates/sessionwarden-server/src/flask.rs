//! Flask interop: `--store flask-cookie` and `--store flask-redis`, configured with Flask's
//! own setting names, so this server and a Flask app on one domain share sessions and CSRF
//! tokens.

use std::sync::Arc;

use anyhow::{Result, bail};
use sessionwarden::codec::IdCodec;
use sessionwarden::{CookieConfig, CookieStore, CsrfLayer, Expiry};
use sessionwarden_flask::adapter::{FlaskCookieStore, FlaskSids, FlaskWtfTokens, flask_expiry};
use sessionwarden_flask::{FlaskCookieCodec, SecretKey};

use crate::cli::StoreKind;
use crate::stores::StoreSettings;

/// Flask's secrets: `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and `WTF_CSRF_SECRET_KEY`. Cheap
/// to clone; `Debug` shows no key material.
#[derive(Debug, Clone, Default)]
pub struct FlaskSecrets(Arc<Secrets>);

#[derive(Debug, Default)]
struct Secrets {
    secret_key: Option<SecretKey>,
    fallbacks: Vec<SecretKey>,
    csrf: Option<SecretKey>,
}

impl FlaskSecrets {
    /// `secret_key` with `fallbacks` (in Flask's list order) and Flask-WTF's own key, if any.
    #[must_use]
    pub fn new(secret_key: SecretKey, fallbacks: Vec<SecretKey>, csrf: Option<SecretKey>) -> Self {
        Self(Arc::new(Secrets { secret_key: Some(secret_key), fallbacks, csrf }))
    }

    /// From the environment: `SECRET_KEY`, `SECRET_KEY_FALLBACKS` (comma-separated), and
    /// `WTF_CSRF_SECRET_KEY`. Empty values count as unset.
    #[must_use]
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty()).map(SecretKey::from);
        let fallbacks = std::env::var("SECRET_KEY_FALLBACKS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SecretKey::from)
            .collect();
        Self(Arc::new(Secrets { secret_key: var("SECRET_KEY"), fallbacks, csrf: var("WTF_CSRF_SECRET_KEY") }))
    }
}

/// The Flask settings `serve` takes from its command line (Flask's own names).
#[derive(Debug, Clone)]
pub struct FlaskSettings {
    /// The store: Flask mode is on for `flask-cookie` and `flask-redis`.
    pub store: StoreKind,
    /// Flask-Session's `SESSION_USE_SIGNER`.
    pub session_use_signer: bool,
    /// `SESSION_COOKIE_NAME`.
    pub session_cookie_name: String,
    /// `PERMANENT_SESSION_LIFETIME`, seconds.
    pub permanent_session_lifetime: u64,
    /// `SESSION_PERMANENT`.
    pub permanent: bool,
    /// `SECRET_KEY`, `SECRET_KEY_FALLBACKS`, `WTF_CSRF_SECRET_KEY`.
    pub flask_secrets: FlaskSecrets,
}

/// What a Flask store changes in the application: the cookie's name, Flask's expiry, the
/// session-id format and the CSRF token scheme.
#[derive(Debug, Clone)]
pub struct FlaskMode {
    ids: Option<Arc<dyn IdCodec>>,
    cookie_name: String,
    lifetime: u64,
    permanent: bool,
    csrf_secret: SecretKey,
}

impl FlaskMode {
    /// The Flask mode for `args`, or `None` for sessionwarden's own stores.
    ///
    /// # Errors
    /// When a Flask store is chosen without `SECRET_KEY`.
    pub fn new(args: &FlaskSettings) -> Result<Option<Self>> {
        if !matches!(args.store, StoreKind::FlaskCookie | StoreKind::FlaskRedis) {
            return Ok(None);
        }
        let secret = secret(&args.flask_secrets)?;
        let ids: Option<Arc<dyn IdCodec>> = match (args.store, args.session_use_signer) {
            (StoreKind::FlaskRedis, true) => Some(Arc::new(FlaskSids::signed(secret.clone()))),
            (StoreKind::FlaskRedis, false) => Some(Arc::new(FlaskSids::plain())),
            _ => None,
        };
        Ok(Some(Self {
            ids,
            cookie_name: args.session_cookie_name.clone(),
            lifetime: args.permanent_session_lifetime,
            permanent: args.permanent,
            csrf_secret: args.flask_secrets.0.csrf.clone().unwrap_or_else(|| secret.clone()),
        }))
    }

    /// The session-id codec (Flask-Session's sids), for the Redis store.
    #[must_use]
    pub fn ids(&self) -> Option<Arc<dyn IdCodec>> {
        self.ids.clone()
    }

    /// `cookie` renamed to `SESSION_COOKIE_NAME` (Flask's default `session`: both sides must
    /// use one name, or each shadows the other's cookie).
    #[must_use]
    pub fn cookie(&self, cookie: CookieConfig) -> CookieConfig {
        cookie.with_name(self.cookie_name.clone())
    }

    /// Flask's expiry: a sliding `PERMANENT_SESSION_LIFETIME` after each write.
    #[must_use]
    pub fn expiry(&self) -> Expiry {
        flask_expiry(self.lifetime, self.permanent)
    }

    /// `csrf` with Flask-WTF's token scheme (secret: the session's `csrf_token`).
    pub fn csrf(&self, csrf: CsrfLayer) -> CsrfLayer {
        csrf.with_token_scheme(FlaskWtfTokens::new(self.csrf_secret.clone()))
    }
}

fn secret(secrets: &FlaskSecrets) -> Result<SecretKey> {
    match &secrets.0.secret_key {
        Some(s) => Ok(s.clone()),
        None => {
            bail!("--store flask-cookie and flask-redis need the Flask app's SECRET_KEY in the environment")
        }
    }
}

/// The client-side store of `--store flask-cookie`: Flask's signed cookie, verified with
/// `SECRET_KEY` then `SECRET_KEY_FALLBACKS`, valid `PERMANENT_SESSION_LIFETIME` seconds.
///
/// # Errors
/// Without `SECRET_KEY`.
pub fn cookie_store(args: &StoreSettings) -> Result<CookieStore> {
    let codec = FlaskCookieCodec::new(secret(&args.flask_secrets)?)
        .with_fallbacks(args.flask_secrets.0.fallbacks.iter().cloned())
        .with_max_age(args.permanent_session_lifetime);
    Ok(FlaskCookieStore::new(codec).into_cookie_store())
}

/// Whether every value of a `POST /session/data` body reads as Flask typed JSON (its
/// markers well formed), so a bad marker is the client's 400, not a failed save.
#[must_use]
pub fn values_are_storable(changes: &serde_json::Map<String, serde_json::Value>) -> bool {
    changes.values().all(|v| v.is_null() || sessionwarden_flask::FlaskValue::from_typed_json(v).is_ok())
}
