//! Every answer sessionwarden gives instead of the handler's: typed rejections with a fixed
//! status and body, built into a response in one place ([`respond`]).
//!
//! All of them are `Cache-Control: no-store` (a refusal or an outage must never be cached
//! and replayed) and none carries a `Set-Cookie`: the session layer replaces the handler's
//! response by a fresh one when it fails closed, so no cookie the handler set survives. A
//! body, when there is one, is plain text. The session layer's own answers have an empty
//! body: [`crate::SessionService`] only requires `ResBody: Default`.

use axum_core::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// A failure answered with a fixed status and body, whatever caused it (the cause goes to
/// the log or to a security event, never to the client).
pub(crate) trait Rejection {
    /// The status every instance answers with.
    const STATUS: StatusCode;
    /// The body every instance answers with.
    const BODY: &'static str;

    /// The rejection as a response with its body, in any body type.
    fn response<B: From<&'static str>>(&self) -> http::Response<B> {
        respond(Self::STATUS, B::from(Self::BODY), true)
    }

    /// The rejection as a response with an empty body (for services whose body type can
    /// only be made empty).
    fn head<B: Default>(&self) -> http::Response<B> {
        respond(Self::STATUS, B::default(), false)
    }
}

/// Declares a rejection: a unit struct with a fixed status and body, `IntoResponse`, and a
/// `Display` that says what it is.
macro_rules! define_rejection {
    (
        #[status = $status:ident]
        #[body = $body:expr]
        $(#[$attr:meta])*
        $vis:vis struct $name:ident;
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $name;

        impl $crate::layer::rejection::Rejection for $name {
            const STATUS: ::http::StatusCode = ::http::StatusCode::$status;
            const BODY: &'static str = $body;
        }

        impl ::axum_core::response::IntoResponse for $name {
            fn into_response(self) -> ::axum_core::response::Response {
                $crate::layer::rejection::Rejection::response(&self)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($body)
            }
        }
    };
}

define_rejection! {
    #[status = SERVICE_UNAVAILABLE]
    #[body = "Service Unavailable"]
    /// The session store could not be reached (or a save kept losing races): fail closed,
    /// never an anonymous session that would hide the real one. Sent with `Retry-After: 1`.
    pub(crate) struct StoreUnavailable;
}

define_rejection! {
    #[status = INTERNAL_SERVER_ERROR]
    #[body = "Internal Server Error"]
    /// The session could not be read or written for a reason that is not an outage (a
    /// corrupt record, a keyring or random-number failure, a cookie that would not seal).
    pub(crate) struct SessionFailed;
}

define_rejection! {
    #[status = INTERNAL_SERVER_ERROR]
    #[body = "Internal Server Error"]
    /// A handler or the CSRF layer runs without a [`crate::SessionLayer`] around it: a
    /// wiring mistake, answered 500 on every request until it is fixed.
    pub(crate) struct MissingSessionLayer;
}

define_rejection! {
    #[status = PAYLOAD_TOO_LARGE]
    #[body = "Payload Too Large"]
    /// A cookie-store session would not fit in a cookie. Nothing of the request's session
    /// writes was saved: keep less in the session, or use a server-side store.
    pub(crate) struct SessionTooLarge;
}

define_rejection! {
    #[status = UNAUTHORIZED]
    #[body = "Unauthorized"]
    /// The operation needs a logged-in user.
    pub(crate) struct NotLoggedIn;
}

define_rejection! {
    #[status = UNAUTHORIZED]
    #[body = "reauth_required"]
    /// The operation needs a recent re-authentication.
    pub(crate) struct ReauthRequired;
}

define_rejection! {
    #[status = CONFLICT]
    #[body = "too_many_sessions"]
    /// A login over the per-user session cap under the refuse-new policy.
    pub(crate) struct TooManySessions;
}

define_rejection! {
    #[status = BAD_REQUEST]
    #[body = "Bad Request"]
    /// A session value did not (de)serialise into the type the handler asked for, or a
    /// request body could not be read.
    pub(crate) struct BadRequest;
}

define_rejection! {
    #[status = PAYLOAD_TOO_LARGE]
    #[body = "Payload Too Large"]
    // Only the CSRF layer reads form bodies.
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))]
    /// A form body over the CSRF layer's limit (send the token in a header instead).
    pub(crate) struct PayloadTooLarge;
}

/// Builds every rejection's response: the status, `Cache-Control: no-store`, a plain-text
/// `Content-Type` when there is a body, and `Retry-After: 1` on 503.
pub(crate) fn respond<B>(status: StatusCode, body: B, has_body: bool) -> http::Response<B> {
    let mut res = http::Response::new(body);
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if has_body {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// What a session [`crate::Error`] answers, when a handler returns it.
pub(crate) fn for_error(error: &crate::Error) -> Response {
    use crate::error::{Error, StoreError};
    match error {
        Error::Store(StoreError::Unavailable { .. }) => StoreUnavailable.into_response(),
        Error::Deserialize { .. } | Error::Serialize { .. } | Error::ValueTooDeep { .. } => {
            tracing::warn!(target: "sessionwarden::layer", error = %error, "session value rejected");
            BadRequest.into_response()
        }
        Error::CookieTooLarge { .. } | Error::SessionTooLarge { .. } => {
            tracing::warn!(target: "sessionwarden::layer", error = %error, "session too large");
            SessionTooLarge.into_response()
        }
        Error::NotLoggedIn => NotLoggedIn.into_response(),
        Error::ReauthRequired => ReauthRequired.into_response(),
        Error::TooManySessions => TooManySessions.into_response(),
        // The same answer as no login at all: disabling an account reveals nothing.
        Error::AccountDisabled => NotLoggedIn.into_response(),
        Error::MissingLayer => {
            tracing::error!(target: "sessionwarden::layer", error = %error, "session error");
            MissingSessionLayer.into_response()
        }
        _ => {
            tracing::error!(target: "sessionwarden::layer", error = %error, "session error");
            SessionFailed.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, StoreError};

    fn text(res: &http::Response<String>) -> (u16, &str, Option<&str>, Option<&str>, Option<&str>) {
        let h = |name| res.headers().get(name).map(|v: &HeaderValue| v.to_str().unwrap());
        (
            res.status().as_u16(),
            res.body().as_str(),
            h(header::CACHE_CONTROL),
            h(header::RETRY_AFTER),
            h(header::SET_COOKIE),
        )
    }

    #[test]
    fn every_rejection_is_fixed_and_uncached() {
        struct Case {
            name: &'static str,
            res: http::Response<String>,
            status: u16,
            body: &'static str,
            retry_after: Option<&'static str>,
        }
        let cases = [
            Case {
                name: "store outage",
                res: StoreUnavailable.response(),
                status: 503,
                body: "Service Unavailable",
                retry_after: Some("1"),
            },
            Case {
                name: "session failure",
                res: SessionFailed.response(),
                status: 500,
                body: "Internal Server Error",
                retry_after: None,
            },
            Case {
                name: "missing layer",
                res: MissingSessionLayer.response(),
                status: 500,
                body: "Internal Server Error",
                retry_after: None,
            },
            Case {
                name: "session too large",
                res: SessionTooLarge.response(),
                status: 413,
                body: "Payload Too Large",
                retry_after: None,
            },
            Case {
                name: "bad request",
                res: BadRequest.response(),
                status: 400,
                body: "Bad Request",
                retry_after: None,
            },
            Case {
                name: "form too large",
                res: PayloadTooLarge.response(),
                status: 413,
                body: "Payload Too Large",
                retry_after: None,
            },
        ];
        for c in cases {
            assert_eq!(text(&c.res), (c.status, c.body, Some("no-store"), c.retry_after, None), "{}", c.name);
            assert_eq!(c.res.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8", "{}", c.name);
        }
        let head: http::Response<String> = StoreUnavailable.head();
        assert_eq!(text(&head), (503, "", Some("no-store"), Some("1"), None));
        assert!(head.headers().get(header::CONTENT_TYPE).is_none(), "no body, no type");
    }

    #[test]
    fn errors_map_to_rejections() {
        let de = serde_json::from_str::<u8>("x").unwrap_err();
        let cases = [
            ("outage", Error::Store(StoreError::unavailable("load", "down")), 503),
            // A handler's own contention error; the layer itself answers 503 for a save.
            ("contention", Error::Contention { attempts: 8 }, 500),
            ("corrupt", Error::Store(StoreError::Corrupt { reason: "garbage" }), 500),
            ("deserialize", Error::Deserialize { key: "k".into(), source: de }, 400),
            ("missing layer", Error::MissingLayer, 500),
            ("not logged in", Error::NotLoggedIn, 401),
            ("reauth", Error::ReauthRequired, 401),
            ("too many sessions", Error::TooManySessions, 409),
            ("account disabled", Error::AccountDisabled, 401),
            ("random", Error::Random, 500),
            ("too large", Error::CookieTooLarge { size: 5000, limit: 4096 }, 413),
        ];
        for (name, error, status) in cases {
            let res = for_error(&error);
            assert_eq!(res.status().as_u16(), status, "{name}");
            assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store", "{name}");
        }
    }
}
