//! A router with sessions, a manual clock, a keyring file and an event recorder: what the
//! layer suite drives.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use sessionwarden_tower::keyring::{KeyId, Keyring, KeyringFile};
use sessionwarden_tower::{
    Backend, CookieConfig, Error, Expiry, ManualClock, Session, SessionLayer, SessionStore, Timestamp,
};

use crate::{Recorder, TestClient, wrappers::Instrumented};

pub const START: Timestamp = Timestamp::from_unix(1_800_000_000);

/// Everything a layer test needs.
pub struct Harness {
    pub client: TestClient,
    pub clock: ManualClock,
    pub rec: Recorder,
    pub keyring: Keyring,
    pub keyfile: KeyringFile,
    /// The instrumented server-side store, `None` for the cookie store.
    pub store: Option<Instrumented>,
    pub cookie_name: String,
    router: Router,
}

#[derive(serde::Deserialize)]
struct SetParams {
    user: Option<String>,
    n: Option<usize>,
}

async fn set(session: Session, Query(p): Query<SetParams>) -> Result<&'static str, Error> {
    session.insert("user", p.user.as_deref().unwrap_or("admin")).await?;
    Ok("Session set!")
}

async fn get_user(session: Session) -> Result<String, Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(format!("User: {}", user.as_deref().unwrap_or("None")))
}

async fn data(session: Session) -> Result<Json<Value>, Error> {
    Ok(Json(Value::Object(session.data().await?)))
}

async fn merge(
    session: Session,
    Json(body): Json<serde_json::Map<String, Value>>,
) -> Result<Json<Value>, Error> {
    for (k, v) in body {
        if v.is_null() {
            session.remove::<Value>(&k).await?;
        } else {
            session.insert(&k, v).await?;
        }
    }
    Ok(Json(Value::Object(session.data().await?)))
}

async fn login(session: Session, Query(p): Query<SetParams>) -> Result<&'static str, Error> {
    session.cycle_id().await?;
    session.set_user(Some(p.user.as_deref().unwrap_or("alice"))).await?;
    Ok("logged in")
}

async fn cycle(session: Session) -> Result<&'static str, Error> {
    session.cycle_id().await?;
    Ok("cycled")
}

async fn csrf_token(token: sessionwarden_tower::CsrfToken) -> String {
    token.into_string()
}

async fn destroy(session: Session) -> Result<&'static str, Error> {
    session.destroy().await?;
    Ok("destroyed")
}

async fn big(session: Session, Query(p): Query<SetParams>) -> Response {
    match session.insert("big", "x".repeat(p.n.unwrap_or(5000))).await {
        Ok(()) => "stored".into_response(),
        Err(Error::CookieTooLarge { .. }) => (StatusCode::PAYLOAD_TOO_LARGE, "too large").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn noop() -> &'static str {
    "nothing"
}

impl Harness {
    /// A harness over `backend` with default cookie settings.
    pub fn new(backend: Backend) -> Self {
        Self::with(backend, CookieConfig::default(), Expiry::default())
    }

    /// A harness with explicit cookie settings and lifetimes.
    pub fn with(backend: Backend, cookie: CookieConfig, expiry: Expiry) -> Self {
        let clock = ManualClock::new(START);
        let (rec, events) = Recorder::hub();
        let keyfile = KeyringFile::generate(START).unwrap();
        let keyring = Keyring::new(keyfile.key_set().unwrap());
        let (backend, store) = match backend {
            Backend::Server(inner) => {
                let inst = Instrumented::new(inner);
                let dyn_store: Arc<dyn SessionStore> = Arc::new(inst.clone());
                (Backend::Server(dyn_store), Some(inst))
            }
            other => (other, None),
        };
        let cookie_name = cookie.name().to_owned();
        let layer = SessionLayer::new(backend, keyring.clone())
            .with_cookie(cookie)
            .with_expiry(expiry)
            .with_clock(Arc::new(clock.clone()))
            .with_events(events);
        let router = Router::new()
            .route("/set", get(set))
            .route("/get", get(get_user))
            .route("/data", get(data).post(merge))
            .route("/login", post(login))
            .route("/cycle", post(cycle))
            .route("/destroy", post(destroy))
            .route("/big", get(big))
            .route("/noop", get(noop))
            .route("/csrf-token", get(csrf_token))
            .layer(layer);
        Self {
            client: TestClient::new(router.clone()),
            clock,
            rec,
            keyring,
            keyfile,
            store,
            cookie_name,
            router,
        }
    }

    /// A second browser on the same server (its own cookie jar).
    pub fn other_client(&self) -> TestClient {
        TestClient::new(self.router.clone())
    }

    /// The session cookie's value in the jar.
    pub fn cookie(&self) -> Option<String> {
        self.client.jar.get(&self.cookie_name).cloned()
    }

    /// Rotates the keyring (as `sessionwarden keys rotate` would) and swaps it in.
    pub fn rotate(&mut self) -> KeyId {
        let kid = self.keyfile.rotate(self.clock_now()).unwrap();
        self.keyring.replace(self.keyfile.key_set().unwrap());
        kid
    }

    /// Retires `kid` and swaps the keyring in.
    pub fn retire(&mut self, kid: KeyId) {
        self.keyfile.retire(kid).unwrap();
        self.keyring.replace(self.keyfile.key_set().unwrap());
    }

    pub fn clock_now(&self) -> Timestamp {
        use sessionwarden_tower::Clock as _;
        self.clock.now()
    }

    /// GET `uri` with exactly this `Cookie` header (bypassing the jar).
    pub async fn get_with_cookie(&mut self, uri: &str, cookie: &str) -> crate::client::TestResponse {
        let req = http::Request::get(uri).header(http::header::COOKIE, cookie);
        let mut other = self.other_client();
        other.send(req, axum::body::Body::empty()).await
    }
}
