//! The login helpers' suite on the cookie store (signed and encrypted) and the memory store.
#![allow(clippy::unwrap_used, missing_docs)]

use sessionwarden_tower::{Backend, CookieStore, MemoryStore};

sessionwarden_test::login_conformance!(cookie_signed, || async { Backend::from(CookieStore::signed()) });
sessionwarden_test::login_conformance!(cookie_encrypted, || async {
    Backend::from(CookieStore::encrypted())
});
sessionwarden_test::login_conformance!(memory, || async { Backend::from(MemoryStore::default()) });

/// A remembered login through the per-user session cap: the capped path stores the
/// logged-in record at once, and it must be stored remembered.
mod capped {
    use std::num::NonZeroU32;
    use std::sync::Arc;
    use std::time::Duration;

    use axum::body::Body;
    use sessionwarden_test::login_suite::LoginApp;
    use sessionwarden_tower::store::{LimitPolicy, SessionLimit};
    use sessionwarden_tower::{Backend, MemoryStore, SessionStore};

    #[tokio::test]
    async fn remembered_login_under_a_session_cap() {
        let store = MemoryStore::default();
        let cap = Arc::new(store.clone());
        let limit = SessionLimit::new(NonZeroU32::new(2).unwrap(), LimitPolicy::EvictOldest);
        let backend = Backend::Server(Arc::new(store) as Arc<dyn SessionStore>);
        let mut app = LoginApp::build_with(backend, Some(Duration::from_secs(30 * 86_400)), |layer| {
            layer.with_session_limit(limit, cap)
        });
        let r = app.client.send(http::Request::post("/login?user=ivy&remember=1"), Body::empty()).await;
        assert_eq!(r.status.as_u16(), 303);
        let sc = r.set_cookies();
        assert!(sc[0].contains(&format!("Max-Age={}", 14 * 86_400)), "{sc:?}");
        app.clock.advance(Duration::from_secs(3 * 86_400));
        assert_eq!(app.client.get("/me").await.body, "ivy", "remembered past the idle timeout");
        let d = app.client.get("/deadlines").await.json();
        assert_eq!(d["remembered"], serde_json::json!(true));
        assert_eq!(d["idle"], serde_json::Value::Null);
    }
}
