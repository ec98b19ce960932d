//! Why a request failed the CSRF checks, and the one answer every failure gets.

use std::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::Serialize;

use crate::events::SecurityEvent;
use crate::layer::rejection::Rejection;
use crate::session::Session;

/// The body of every CSRF rejection. Fixed and generic: the reason goes to a
/// [`SecurityEvent::CsrfRejected`], never to the client (no oracle for an attacker probing
/// which check failed).
pub const REJECTION_BODY: &str = "Forbidden";

/// Why a state-changing request was refused. Carried by [`SecurityEvent::CsrfRejected`].
///
/// Never holds a token value: only which check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CsrfRejectReason {
    /// `Sec-Fetch-Site` was present and neither `same-origin` nor `none` (this includes
    /// `same-site` and values no browser sends), and the `Origin` was not trusted.
    CrossSite,
    /// No `Sec-Fetch-Site`; the `Origin` is well formed but neither the site's own origin nor
    /// a trusted one.
    OriginMismatch,
    /// No `Sec-Fetch-Site`; `Origin: null` (sandboxed frames, `data:` URLs, some
    /// redirects). Never trusted.
    NullOrigin,
    /// No `Sec-Fetch-Site`; the `Origin` is not `scheme://host[:port]` (`https://[`,
    /// `//host`, a path, two `Origin` headers).
    MalformedOrigin,
    /// Strict mode only: neither `Sec-Fetch-Site` nor `Origin` was sent.
    MissingOrigin,
    /// The request needs a token and carried none in `X-CSRF-Token`, `X-CSRFToken` or the
    /// `csrf_token` form field. (Tokens in the query string are ignored.)
    TokenMissing,
    /// The token is not one of ours: bad base64, wrong length, unknown version, or two
    /// different tokens in one request.
    TokenMalformed,
    /// The token is authentic but older than the maximum age (or dated in the future).
    TokenExpired,
    /// The token was made for another session, or for this session before its CSRF secret
    /// was rotated (a pre-login token after login), or it was tampered with.
    TokenWrongSession,
    /// The token names a key that is retired or unknown to this keyring.
    TokenUnknownKey,
    /// The request carries a session cookie but no session with a CSRF secret stands
    /// behind it (expired, destroyed, revoked, or never issued a token).
    NoSession,
}

impl CsrfRejectReason {
    /// A stable snake_case name, as in events and logs.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CrossSite => "cross_site",
            Self::OriginMismatch => "origin_mismatch",
            Self::NullOrigin => "null_origin",
            Self::MalformedOrigin => "malformed_origin",
            Self::MissingOrigin => "missing_origin",
            Self::TokenMissing => "token_missing",
            Self::TokenMalformed => "token_malformed",
            Self::TokenExpired => "token_expired",
            Self::TokenWrongSession => "token_wrong_session",
            Self::TokenUnknownKey => "token_unknown_key",
            Self::NoSession => "no_session",
        }
    }
}

impl fmt::Display for CsrfRejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed CSRF check, as an axum rejection: `403 Forbidden` with the fixed body
/// [`REJECTION_BODY`]. The reason is available to code ([`CsrfRejection::reason`]) and goes
/// to the security event, never to the client.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::response::IntoResponse;
/// use sessionwarden::csrf::{CsrfRejectReason, CsrfRejection};
/// let res = CsrfRejection::new(CsrfRejectReason::TokenMissing).into_response();
/// assert_eq!(res.status(), 403);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a rejection does nothing unless returned as the response"]
pub struct CsrfRejection {
    reason: CsrfRejectReason,
}

impl CsrfRejection {
    /// A rejection for `reason`.
    pub fn new(reason: CsrfRejectReason) -> Self {
        Self { reason }
    }

    /// Why the request was refused.
    #[must_use]
    pub fn reason(&self) -> CsrfRejectReason {
        self.reason
    }
}

impl fmt::Display for CsrfRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CSRF check failed: {}", self.reason)
    }
}

impl std::error::Error for CsrfRejection {}

/// Every reason gets the same answer: the reason is not the client's to know.
impl Rejection for CsrfRejection {
    const STATUS: StatusCode = StatusCode::FORBIDDEN;
    const BODY: &'static str = REJECTION_BODY;
}

impl IntoResponse for CsrfRejection {
    fn into_response(self) -> Response {
        self.response()
    }
}

/// Records the event for `reason` on the session's hub (the layer's only event sink).
pub(crate) fn record(session: &Session, reason: CsrfRejectReason) {
    session.shared().event(SecurityEvent::CsrfRejected { reason });
}

/// Proof, for a handler, that [`super::CsrfLayer`] verified a CSRF token on this request.
///
/// The layer checks tokens only on requests that carry the session cookie (or on paths
/// named with [`super::CsrfLayer::with_token_required_path`]). A handler for which a
/// token is never optional — a login form — takes this extractor too, so it refuses to run
/// even if it is mounted where the layer's path list does not reach.
///
/// # Errors
/// Rejects with [`CsrfRejection`] (`token_missing`) when no token was verified.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::{Router, routing::post};
/// use sessionwarden::csrf::CsrfVerified;
///
/// async fn login(_: CsrfVerified) -> &'static str { "checked" }
/// let app: Router = Router::new().route("/login", post(login));
/// # let _ = app;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CsrfVerified(pub(crate) ());

impl<S: Send + Sync> FromRequestParts<S> for CsrfVerified {
    type Rejection = CsrfRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(v) = parts.extensions.get::<CsrfVerified>() {
            return Ok(*v);
        }
        if let Some(session) = parts.extensions.get::<Session>() {
            record(session, CsrfRejectReason::TokenMissing);
        }
        Err(CsrfRejection::new(CsrfRejectReason::TokenMissing))
    }
}
