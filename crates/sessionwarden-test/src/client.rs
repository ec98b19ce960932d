//! A cookie-keeping client that drives a router in process, like a browser would.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

/// A response, read whole.
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: http::StatusCode,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body as text.
    pub body: String,
}

impl TestResponse {
    /// Every `Set-Cookie` value.
    #[must_use]
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The body parsed as JSON.
    ///
    /// # Panics
    /// If the body is not JSON.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// Sends requests to a router, keeping cookies between them as a browser would.
#[derive(Clone, Debug)]
pub struct TestClient {
    router: Router,
    /// The cookie jar: name to value.
    pub jar: BTreeMap<String, String>,
}

impl TestClient {
    /// A client for `router` with an empty jar.
    #[must_use]
    pub fn new(router: Router) -> Self {
        Self { router, jar: BTreeMap::new() }
    }

    /// GET `uri`.
    pub async fn get(&mut self, uri: &str) -> TestResponse {
        self.send(http::Request::get(uri), Body::empty()).await
    }

    /// POST `uri` with a JSON body.
    pub async fn post_json(&mut self, uri: &str, body: &serde_json::Value) -> TestResponse {
        let req = http::Request::post(uri).header(http::header::CONTENT_TYPE, "application/json");
        self.send(req, Body::from(body.to_string())).await
    }

    /// Sends `req` with the jar's cookies (unless the request already has a `Cookie`
    /// header), then files the response's `Set-Cookie`s into the jar.
    ///
    /// # Panics
    /// If the request cannot be built or the router fails.
    pub async fn send(&mut self, mut req: http::request::Builder, body: Body) -> TestResponse {
        let has_cookie = req.headers_ref().is_some_and(|h| h.contains_key(http::header::COOKIE));
        if !has_cookie && !self.jar.is_empty() {
            let cookie = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            req = req.header(http::header::COOKIE, cookie);
        }
        let res = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let res = TestResponse { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() };
        for sc in res.set_cookies() {
            let Ok(c) = cookie_parse(&sc) else { continue };
            if c.2 {
                self.jar.remove(&c.0);
            } else {
                self.jar.insert(c.0, c.1);
            }
        }
        res
    }
}

/// (name, value, removed?)
fn cookie_parse(set_cookie: &str) -> Result<(String, String, bool), ()> {
    let mut parts = set_cookie.split(';');
    let (name, value) = parts.next().and_then(|p| p.split_once('=')).ok_or(())?;
    let removed = parts.any(|p| {
        let p = p.trim().to_ascii_lowercase();
        p == "max-age=0" || p.starts_with("expires=thu, 01 jan 1970")
    });
    Ok((name.trim().to_owned(), value.trim().to_owned(), removed))
}
