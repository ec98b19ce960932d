use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::header::{CACHE_CONTROL, SET_COOKIE, USER_AGENT, VARY};
use http::{HeaderMap, HeaderValue, Request, Response};
use tower_service::Service;

use super::Shared;
use super::cookies::{self, Lookup};
use super::rejection::{Rejection as _, SessionFailed, SessionTooLarge, StoreUnavailable};
use crate::config::CacheControl;
use crate::events::{ClientSource, CookieRejectReason, REQUEST, RequestScope, SecurityEvent};
use crate::session::{ClientInputs, Finish, Presented, Session};

/// The TCP peer of a request, for servers that are not axum: insert it into the request's
/// extensions before the session layer sees the request (axum's `ConnectInfo<SocketAddr>`,
/// from `into_make_service_with_connect_info`, is read too, under the `client` feature).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::PeerAddr;
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(PeerAddr("192.0.2.1:4711".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub std::net::SocketAddr);

/// The request's TCP peer, from [`PeerAddr`] or axum's `ConnectInfo`.
fn peer_addr<B>(req: &Request<B>) -> Option<std::net::IpAddr> {
    if let Some(PeerAddr(addr)) = req.extensions().get::<PeerAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "client")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
    {
        return Some(addr.ip());
    }
    None
}

/// Where the client address comes from: the peer, or, when the peer is a trusted proxy, its
/// forwarding header (kept to be walked only if the address is asked for).
#[cfg(feature = "client")]
fn client_source<B>(req: &Request<B>, shared: &Arc<Shared>) -> ClientSource {
    let Some(peer) = peer_addr(req) else { return ClientSource::known(None) };
    let peer = sessionwarden_core::client::canonical_addr(peer);
    if !shared.trusted_proxies.contains(peer) {
        return ClientSource::known(Some(peer));
    }
    let lines = crate::client::ForwardedLines::of(req.headers(), &shared.trusted_proxies);
    ClientSource::behind(peer, lines, shared.clone())
}

#[cfg(not(feature = "client"))]
fn client_source<B>(req: &Request<B>, _: &Arc<Shared>) -> ClientSource {
    ClientSource::known(peer_addr(req))
}

/// The service [`super::SessionLayer`] wraps around yours.
pub struct SessionService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Clone> Clone for SessionService<S> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), shared: self.shared.clone() }
    }
}

impl<S> fmt::Debug for SessionService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<S> SessionService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

/// The session cookie the request presents. Two of our name are refused (a sibling domain
/// may be tossing one in: trust neither), and the refusal recorded at once.
fn session_cookie(headers: &HeaderMap, shared: &Shared) -> Presented {
    match cookies::lookup(headers, shared.cookie.name()) {
        Lookup::Absent => Presented::Absent,
        Lookup::One(value) => Presented::One(value),
        Lookup::Duplicate => {
            shared.event(SecurityEvent::CookieRejected { reason: CookieRejectReason::Duplicate });
            Presented::Refused
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SessionService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
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
        let shared = self.shared.clone();
        let (client, user_agent) = if shared.client_metadata {
            (client_source(&req, &shared), req.headers().get(USER_AGENT).cloned())
        } else {
            (ClientSource::known(None), None)
        };
        let scope = Arc::new(RequestScope::new(&req, client, user_agent));
        let cookie = REQUEST.sync_scope(scope.clone(), || session_cookie(req.headers(), &shared));
        let inputs = ClientInputs {
            scope: Some(scope.clone()),
            retention: shared.address_retention,
            ..ClientInputs::default()
        };
        #[cfg(feature = "throttle")]
        let (presented_one, client) = (matches!(cookie, Presented::One(_)), scope.clone());
        let session = Session::new(shared.clone(), cookie, inputs, scope.clone());
        req.extensions_mut().insert(session.clone());
        Box::pin(REQUEST.scope(scope, async move {
            // Rate limits (crate::throttle): a client inside an id-guessing block window is
            // refused before its handler; after it, bad cookies and new sessions are counted.
            #[cfg(feature = "throttle")]
            if let Some(throttle) = &shared.throttle
                && let Some(refused) = throttle.before_handler(|| client.client_ip(), presented_one)
            {
                return Ok(refused);
            }
            let mut res = inner.call(req).await?;
            #[cfg(feature = "throttle")]
            if let Some(throttle) = &shared.throttle
                && let Some(refused) = throttle.after_handler(&session, || client.client_ip(), presented_one).await
            {
                return Ok(refused);
            }
            let (cookie, uncacheable) = match session.finish().await {
                Finish::Untouched => return Ok(res),
                Finish::Touched { cookie, uncacheable } => (cookie, uncacheable),
                Finish::Unavailable => return Ok(StoreUnavailable.head()),
                Finish::TooLarge => return Ok(SessionTooLarge.head()),
                Finish::Failed(e) => {
                    tracing::error!(target: "sessionwarden::layer", error = %e, "session could not be saved");
                    return Ok(SessionFailed.head());
                }
            };
            let headers = res.headers_mut();
            // A response that sets the cookie, or carries a CSRF token, holds a secret: no
            // cache at all may keep it (`private` would still let the browser's cache).
            let secret = cookie.is_some() || uncacheable;
            if let Some(cookie) = cookie {
                match HeaderValue::try_from(cookie.encoded().to_string()) {
                    Ok(v) => {
                        headers.append(SET_COOKIE, v);
                    }
                    Err(_) => {
                        tracing::error!(target: "sessionwarden::layer", "session cookie is not a valid header value");
                    }
                }
            }
            // A response that depends on the session must not be served to someone else.
            headers.append(VARY, HeaderValue::from_static("Cookie"));
            let no_store = headers
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("no-store"));
            if secret {
                headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            } else if !no_store {
                let value = match shared.cookie.cache_control() {
                    CacheControl::Private => "private",
                    CacheControl::NoStore => "no-store",
                };
                headers.insert(CACHE_CONTROL, HeaderValue::from_static(value));
            }
            Ok(res)
        }))
    }
}
