use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use tower_service::Service;

use super::layer::Config;
use super::origin::is_safe;
use super::rejection::{CsrfRejectReason, CsrfRejection, CsrfVerified, record};
use crate::error::{BoxError, Error, StoreError};
use crate::layer::cookies;
use crate::layer::rejection::{
    BadRequest, MissingSessionLayer, PayloadTooLarge, Rejection as _, SessionFailed, StoreUnavailable,
};
use crate::session::Session;

/// Headers a token may come in: ours, and Django's and Flask-WTF's name.
const TOKEN_HEADERS: [&str; 2] = ["x-csrf-token", "x-csrftoken"];
/// The form field a token may come in (Flask-WTF's and Django's `csrfmiddlewaretoken`'s
/// role).
const TOKEN_FIELD: &str = "csrf_token";

/// The service [`super::CsrfLayer`] wraps around yours.
pub struct Csrf<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S: Clone> Clone for Csrf<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), config: self.config.clone() }
    }
}

impl<S> fmt::Debug for Csrf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Csrf").finish_non_exhaustive()
    }
}

impl<S> Csrf<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

/// What the checks decided before the body was looked at.
enum Plan {
    /// Let it through untouched.
    Pass,
    /// Refuse with this reason.
    Reject(CsrfRejectReason),
    /// Verify this token (from a header).
    Verify(String),
    /// Read the urlencoded body to find the token.
    ReadForm,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Csrf<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Body + From<Bytes> + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: From<&'static str> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // The clone that was made ready goes to this request; keep a fresh one for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = self.config.clone();
        // Handlers' `CsrfToken` extractor follows this layer's token scheme.
        req.extensions_mut().insert(config.clone());
        let path = req.uri().path();
        if is_safe(req.method()) || config.exempt.iter().any(|p| p == path) {
            return Box::pin(inner.call(req));
        }
        let Some(session) = req.extensions().get::<Session>().cloned() else {
            tracing::error!(
                target: "sessionwarden::csrf",
                "CsrfLayer runs outside SessionLayer: add .layer(csrf) before .layer(session)"
            );
            return Box::pin(async { Ok(MissingSessionLayer.response()) });
        };
        let plan = plan(&config, &req, &session);
        Box::pin(async move {
            let (token, req) = match plan {
                Plan::Pass => return inner.call(req).await,
                Plan::Reject(reason) => return Ok(reject(&session, reason)),
                Plan::Verify(token) => (token, req),
                Plan::ReadForm => match read_form(req, config.form_limit).await {
                    Ok((Some(token), req)) => (token, req),
                    Ok((None, _)) => return Ok(reject(&session, CsrfRejectReason::TokenMissing)),
                    Err(res) => return Ok(res),
                },
            };
            match verify(&config, &session, &token).await {
                Ok(()) => {
                    let mut req = req;
                    req.extensions_mut().insert(CsrfVerified(()));
                    inner.call(req).await
                }
                Err(Verdict::Reject(reason)) => Ok(reject(&session, reason)),
                Err(Verdict::Unavailable) => Ok(StoreUnavailable.response()),
                Err(Verdict::Failed) => Ok(SessionFailed.response()),
            }
        })
    }
}

/// The origin check, then whether (and where) to look for a token.
fn plan<B>(config: &Config, req: &Request<B>, session: &Session) -> Plan {
    if let Err(reason) = config.origin.check(req.headers(), req.uri()) {
        return Plan::Reject(reason);
    }
    // The session cookie is the ambient credential a forged request would ride on. Without
    // it (a bearer-token API call, a first visit) there is nothing to abuse, except on
    // paths where the request itself does the harm (login).
    let path = req.uri().path();
    if !cookies::lookup(req.headers(), session.shared().cookie.name()).is_present()
        && !config.token_required.iter().any(|p| p == path)
    {
        return Plan::Pass;
    }
    match header_token(req.headers()) {
        Err(()) => Plan::Reject(CsrfRejectReason::TokenMalformed),
        Ok(Some(token)) => Plan::Verify(token),
        Ok(None) if is_urlencoded(req.headers()) => Plan::ReadForm,
        // Multipart bodies are not parsed here: send the token in a header.
        Ok(None) => Plan::Reject(CsrfRejectReason::TokenMissing),
    }
}

/// The token from the headers; `Err` when two differ (one of them is not ours to trust).
fn header_token(headers: &HeaderMap) -> Result<Option<String>, ()> {
    let mut found: Option<&[u8]> = None;
    for name in TOKEN_HEADERS {
        for v in headers.get_all(name) {
            match found {
                Some(f) if f != v.as_bytes() => return Err(()),
                _ => found = Some(v.as_bytes()),
            }
        }
    }
    match found {
        None => Ok(None),
        Some(b) => std::str::from_utf8(b).map(|s| Some(s.to_owned())).map_err(|_| ()),
    }
}

fn is_urlencoded(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// Reads the form body (up to `limit`), takes `csrf_token` out, and puts the body back.
async fn read_form<ReqBody, ResBody>(
    req: Request<ReqBody>,
    limit: usize,
) -> Result<(Option<String>, Request<ReqBody>), Response<ResBody>>
where
    ReqBody: Body + From<Bytes>,
    ReqBody::Error: Into<BoxError>,
    ResBody: From<&'static str>,
{
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(PayloadTooLarge.response());
        }
        Err(_) => return Err(BadRequest.response()),
    };
    let mut token: Option<String> = None;
    let mut conflict = false;
    for (k, v) in form_urlencoded::parse(&bytes) {
        if k == TOKEN_FIELD {
            match &token {
                Some(t) if *t != v => conflict = true,
                _ => token = Some(v.into_owned()),
            }
        }
    }
    if conflict {
        // Two different tokens: verify neither. An empty string never verifies.
        token = Some(String::new());
    }
    Ok((token, Request::from_parts(parts, ReqBody::from(bytes))))
}

enum Verdict {
    Reject(CsrfRejectReason),
    Unavailable,
    Failed,
}

async fn verify(config: &Config, session: &Session, token: &str) -> Result<(), Verdict> {
    let secret = match session.get_value(config.scheme.session_key()).await {
        Ok(Some(secret)) => secret,
        Ok(None) => return Err(Verdict::Reject(CsrfRejectReason::NoSession)),
        Err(Error::Store(StoreError::Unavailable { .. })) => return Err(Verdict::Unavailable),
        Err(e) => {
            tracing::error!(target: "sessionwarden::csrf", error = %e, "session could not be read");
            return Err(Verdict::Failed);
        }
    };
    let shared = session.shared();
    config
        .scheme
        .verify(&shared.keyring.current(), &secret, token, shared.now(), config.max_age)
        .map_err(Verdict::Reject)
}

fn reject<B: From<&'static str>>(session: &Session, reason: CsrfRejectReason) -> Response<B> {
    record(session, reason);
    CsrfRejection::new(reason).response()
}
