use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::origin::{Origin, OriginPolicy};
use super::service::Csrf;
use super::token::{DEFAULT_MAX_AGE, MaskedHmacTokens, TokenScheme};

/// Largest urlencoded form body the layer reads to find a `csrf_token` field: 2 MiB, axum's
/// default body limit, so the layer never refuses a form the handler would have accepted.
pub const DEFAULT_FORM_LIMIT: usize = 2 * 1024 * 1024;

/// Adds CSRF protection (origin check, then token check) to the services it wraps.
///
/// Put it **inside** the [`crate::SessionLayer`]: the token check reads the session's CSRF
/// secret. With axum, layers added later wrap earlier ones, so:
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::{Router, routing::post};
/// use sessionwarden::{MemoryStore, SessionLayer, Timestamp};
/// use sessionwarden::csrf::{CsrfLayer, Origin};
/// use sessionwarden::keyring::{Keyring, KeySet};
///
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let app: Router = Router::new()
///     .route("/notes", post(|| async { "saved" }))
///     .layer(CsrfLayer::new().with_public_origin(Origin::parse("https://notes.example")?))
///     .layer(SessionLayer::new(MemoryStore::default(), keyring));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Without a session layer around it, every unsafe request gets a 500 (fail closed).
#[derive(Clone)]
#[must_use = "a layer does nothing until it wraps a service"]
pub struct CsrfLayer {
    config: Arc<Config>,
}

/// Everything the service needs; shared by every clone.
pub(crate) struct Config {
    pub(crate) origin: OriginPolicy,
    pub(crate) exempt: Vec<String>,
    pub(crate) token_required: Vec<String>,
    pub(crate) max_age: Duration,
    pub(crate) scheme: Arc<dyn TokenScheme>,
    pub(crate) form_limit: usize,
}

impl fmt::Debug for CsrfLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        f.debug_struct("CsrfLayer")
            .field("public_origin", &c.origin.public)
            .field("insecure_http", &c.origin.insecure_http)
            .field("trusted", &c.origin.trusted)
            .field("strict", &c.origin.strict)
            .field("exempt", &c.exempt)
            .field("token_required", &c.token_required)
            .field("max_age", &c.max_age)
            .field("scheme", &c.scheme)
            .finish()
    }
}

impl Default for CsrfLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl CsrfLayer {
    /// The secure defaults: the site's origin is `https://` plus the request's host; no
    /// trusted origins; no exempt paths; requests without `Sec-Fetch-Site` and `Origin`
    /// pass the origin check (non-browser clients) but still meet the token check; tokens
    /// live one hour (Flask-WTF's `WTF_CSRF_TIME_LIMIT`).
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                origin: OriginPolicy::default(),
                exempt: Vec::new(),
                token_required: Vec::new(),
                max_age: DEFAULT_MAX_AGE,
                scheme: Arc::new(MaskedHmacTokens),
                form_limit: DEFAULT_FORM_LIMIT,
            }),
        }
    }

    fn map(mut self, f: impl FnOnce(&mut Config)) -> Self {
        let config = match Arc::get_mut(&mut self.config) {
            Some(c) => c,
            None => {
                let c = &self.config;
                self.config = Arc::new(Config {
                    origin: c.origin.clone(),
                    exempt: c.exempt.clone(),
                    token_required: c.token_required.clone(),
                    max_age: c.max_age,
                    scheme: c.scheme.clone(),
                    form_limit: c.form_limit,
                });
                // invariant: just replaced by a fresh, unshared Arc
                Arc::get_mut(&mut self.config).expect("unshared")
            }
        };
        f(config);
        self
    }

    /// The site's own origin, exactly (`--public-origin`). Set it behind a proxy that
    /// rewrites `Host`.
    pub fn with_public_origin(self, origin: Origin) -> Self {
        self.map(|c| c.origin.public = Some(origin))
    }

    /// Derives the site's origin from `Host` with `http://` instead of `https://`: plain-http
    /// development only (the server's `--insecure-cookies`).
    pub fn insecure_http_origin(self) -> Self {
        self.map(|c| c.origin.insecure_http = true)
    }

    /// Trusts one more origin, compared byte for byte with the `Origin` header. There are no
    /// patterns: list every origin.
    pub fn with_trusted_origin(self, origin: Origin) -> Self {
        self.map(|c| c.origin.trusted.push(origin))
    }

    /// Refuses unsafe requests that carry neither `Sec-Fetch-Site` nor `Origin` (every
    /// browser since 2020 sends one of them; only non-browser clients send neither).
    pub fn with_strict(self, strict: bool) -> Self {
        self.map(|c| c.origin.strict = strict)
    }

    /// Exempts one path from both checks (a webhook that authenticates itself). The match is
    /// exact on the request path as received: `/hook/`, `/Hook`, `/x/../hook` and
    /// `/%68ook` are not `/hook`, and nothing is cleaned or decoded first.
    pub fn with_exempt_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.map(|c| c.exempt.push(path))
    }

    /// Requires a token on this path even without a session cookie. Use it for login: a
    /// forged login needs no credential to do harm (it logs the victim into the attacker's
    /// account), so "no ambient credential, no token needed" does not hold there. Exact
    /// match, as for [`CsrfLayer::with_exempt_path`].
    pub fn with_token_required_path(self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.map(|c| c.token_required.push(path))
    }

    /// How long a token stays valid after it was issued.
    pub fn with_max_age(self, max_age: Duration) -> Self {
        self.map(|c| c.max_age = max_age)
    }

    /// How long a token stays valid after it was issued (one hour unless
    /// [`CsrfLayer::with_max_age`] changed it): a key that signed tokens must verify them at
    /// least this long after it stopped signing.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::CsrfLayer;
    /// assert_eq!(CsrfLayer::new().max_age().as_secs(), 3600);
    /// ```
    #[must_use]
    pub fn max_age(&self) -> Duration {
        self.config.max_age
    }

    /// Uses another token format (see [`TokenScheme`]).
    pub fn with_token_scheme(self, scheme: impl TokenScheme) -> Self {
        self.map(|c| c.scheme = Arc::new(scheme))
    }

    /// The largest urlencoded body read to find the `csrf_token` field; larger forms get
    /// `413` unless they send the token in a header.
    pub fn with_form_limit(self, bytes: usize) -> Self {
        self.map(|c| c.form_limit = bytes)
    }
}

impl<S> Layer<S> for CsrfLayer {
    type Service = Csrf<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Csrf::new(inner, self.config.clone())
    }
}
