//! The layer suite on the cookie store (signed and encrypted) and the memory store.
#![allow(clippy::unwrap_used, missing_docs)]

use sessionwarden_tower::{Backend, CookieStore, MemoryStore};

sessionwarden_test::layer_conformance!(cookie_signed, || async { Backend::from(CookieStore::signed()) });
sessionwarden_test::layer_conformance!(memory, || async { Backend::from(MemoryStore::default()) });

mod encrypted {
    use sessionwarden_test::harness::Harness;
    use sessionwarden_tower::{Backend, CookieStore};

    #[tokio::test]
    async fn encrypted_cookie_round_trips_and_hides_data() {
        let mut h = Harness::new(Backend::from(CookieStore::encrypted()));
        h.client.get("/set?user=visible-name").await;
        let cookie = h.cookie().unwrap();
        assert!(cookie.starts_with("e1.1."), "{cookie}");
        assert!(!cookie.contains("dmlzaWJsZS1uYW1l"), "payload must not be readable");
        assert_eq!(h.client.get("/get").await.body, "User: visible-name");
        let mut b = cookie.into_bytes();
        let i = b.len() - 5;
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(b).unwrap();
        let r = h.get_with_cookie("/get", &format!("__Host-session={forged}")).await;
        assert_eq!(r.body, "User: None");
        assert_eq!(h.rec.reasons("cookie_rejected").last().map(String::as_str), Some("bad_mac"));
    }
}
