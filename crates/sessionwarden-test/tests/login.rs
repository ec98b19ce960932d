//! The login helpers' suite on the cookie store (signed and encrypted) and the memory store.
#![allow(clippy::unwrap_used, missing_docs)]

use sessionwarden_tower::{Backend, CookieStore, MemoryStore};

sessionwarden_test::login_conformance!(cookie_signed, || async { Backend::from(CookieStore::signed()) });
sessionwarden_test::login_conformance!(cookie_encrypted, || async {
    Backend::from(CookieStore::encrypted())
});
sessionwarden_test::login_conformance!(memory, || async { Backend::from(MemoryStore::default()) });
