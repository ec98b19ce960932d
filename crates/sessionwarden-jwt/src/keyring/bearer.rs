//! The `Authorization: Bearer` extractor for axum and its rejection.
//!
//! Built on `axum-core` and `http` rather than `axum-extra`'s typed `Authorization<Bearer>`
//! header: that one decodes the first of several `Authorization` headers, where we refuse the
//! request as malformed (a proxy and the app could read different ones), and it would add the
//! `headers` crate for one line of parsing.

use std::sync::Arc;

use axum_core::body::Body;
use axum_core::extract::{FromRef, FromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};

use super::KeyringTokens;
use crate::AccessClaims;

/// The claims of a verified, unrevoked bearer token: an axum extractor for any state `S`
/// from which an `Arc<KeyringTokens>` can be had ([`FromRef`]).
///
/// A missing header answers 401 with a bare `WWW-Authenticate: Bearer` challenge; a refused
/// token 401 with `error="invalid_token"` and a `jwt_rejected` security event naming the
/// reason; a token store that cannot answer 503 (see [`BearerRejection`]).
///
/// ```
/// use std::sync::Arc;
/// use axum::{Router, routing::get, extract::FromRef};
/// use sessionwarden_jwt::keyring::{Bearer, KeyringTokens};
///
/// #[derive(Clone)]
/// struct AppState { tokens: Arc<KeyringTokens> }
/// impl FromRef<AppState> for Arc<KeyringTokens> {
///     fn from_ref(state: &AppState) -> Self { state.tokens.clone() }
/// }
///
/// async fn me(Bearer(claims): Bearer) -> String {
///     format!("hello {}", claims.sub())
/// }
///
/// # fn main() -> Result<(), sessionwarden_jwt::JwtError> {
/// # let now = sessionwarden_tower::Timestamp::from_unix(1_750_000_000);
/// # let keyring = sessionwarden_tower::keyring::Keyring::new(sessionwarden_tower::keyring::KeySet::generate(now).unwrap());
/// let tokens = Arc::new(KeyringTokens::builder(keyring).build()?);
/// let app: Router = Router::new().route("/me", get(me)).with_state(AppState { tokens });
/// # let _ = app; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Bearer(pub AccessClaims);

impl<S> FromRequestParts<S> for Bearer
where
    S: Send + Sync,
    Arc<KeyringTokens>: FromRef<S>,
{
    type Rejection = BearerRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens = Arc::<KeyringTokens>::from_ref(state);
        tokens.authenticate(&parts.headers).await.map(Self)
    }
}

/// 401 (or 503) for a request whose bearer token was missing, refused, or could not be checked.
///
/// ```
/// use axum_core::response::IntoResponse as _;
/// use sessionwarden_jwt::keyring::BearerRejection;
/// let res = BearerRejection::Invalid.into_response();
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="sessionwarden", error="invalid_token""#);
/// assert_eq!(BearerRejection::Unavailable.into_response().status(), 503);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
        let mut res = Response::new(Body::from(r#"{"error":"unauthorized"}"#));
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        res.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        res
    }
}

/// The `Authorization: Bearer` token, or the reason there is none (`missing`, `malformed`).
pub(crate) fn bearer_token(headers: &HeaderMap) -> Result<&str, &'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_shapes() {
        struct Case {
            name: &'static str,
            values: &'static [&'static str],
            want: Result<&'static str, &'static str>,
        }
        let cases = [
            Case { name: "no header", values: &[], want: Err("missing") },
            Case { name: "bearer", values: &["Bearer abc"], want: Ok("abc") },
            Case { name: "scheme in any case", values: &["bEaReR abc"], want: Ok("abc") },
            Case { name: "two headers", values: &["Bearer abc", "Bearer def"], want: Err("malformed") },
            Case { name: "basic", values: &["Basic abc"], want: Err("malformed") },
            Case { name: "no scheme", values: &["abc"], want: Err("malformed") },
            Case { name: "empty token", values: &["Bearer "], want: Err("malformed") },
        ];
        for c in cases {
            let mut headers = HeaderMap::new();
            for v in c.values {
                headers.append(AUTHORIZATION, HeaderValue::from_static(v));
            }
            assert_eq!(bearer_token(&headers), c.want, "{}", c.name);
        }
    }
}
