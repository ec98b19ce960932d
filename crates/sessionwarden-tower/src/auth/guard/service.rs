use std::fmt;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::{Request, Response};
use tower_service::Service;

use super::Rule;
use crate::error::{Error, StoreError};
use crate::layer::rejection::{MissingSessionLayer, Rejection as _, SessionFailed, StoreUnavailable};
use crate::session::Session;

/// The service [`RequireUser`](super::RequireUser) and
/// [`RequireRecentAuth`](super::RequireRecentAuth) wrap around yours.
pub struct RequireService<S> {
    inner: S,
    rule: Rule,
}

impl<S> RequireService<S> {
    pub(super) fn new(inner: S, rule: Rule) -> Self {
        Self { inner, rule }
    }
}

impl<S: Clone> Clone for RequireService<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), rule: self.rule.clone() }
    }
}

impl<S> fmt::Debug for RequireService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireService").field("rule", &self.rule).finish_non_exhaustive()
    }
}

/// The path the browser asked for. Inside a nested axum router the request's URI has lost the
/// nest's prefix; axum keeps the whole one as `OriginalUri` (read under the `client` feature,
/// which brings axum in; without it a nested guard's `next` lacks the prefix).
fn asked_uri<B>(req: &Request<B>) -> &http::Uri {
    #[cfg(feature = "client")]
    if let Some(axum::extract::OriginalUri(uri)) = req.extensions().get::<axum::extract::OriginalUri>() {
        return uri;
    }
    req.uri()
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<&'static str> + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The clone that was made ready goes to this request; keep a fresh one for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let rule = self.rule.clone();
        let session = req.extensions().get::<Session>().cloned();
        Box::pin(async move {
            let Some(session) = session else {
                tracing::error!(target: "sessionwarden::layer", "login guard without a session layer around it");
                return Ok(MissingSessionLayer.response());
            };
            match rule.check(&session).await {
                Ok(None) => inner.call(req).await,
                Ok(Some(refusal)) => Ok(rule.refuse(refusal, asked_uri(&req))),
                // Fail closed: an outage is a 503 (the session layer answers it too), never a
                // trip to the login page that would look like a logout.
                Err(Error::Store(StoreError::Unavailable { .. })) => Ok(StoreUnavailable.response()),
                Err(e) => {
                    tracing::error!(target: "sessionwarden::layer", error = %e, "login guard could not read the session");
                    Ok(SessionFailed.response())
                }
            }
        })
    }
}
