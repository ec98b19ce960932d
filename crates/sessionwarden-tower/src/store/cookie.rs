//! The client-side store: the whole record, sealed into the cookie (Flask's default).

use std::sync::Arc;

use crate::codec::{RecordCodec, SealedRecords};
use crate::envelope::Mode;

/// Keeps the whole session in the cookie, sealed by the keyring: signed by default,
/// optionally encrypted. Nothing is stored on the server.
///
/// Limits, by nature: the session is bounded by the browser's 4096-byte cookie limit;
/// a session cannot be listed or revoked server-side, and a copy of a cookie taken before
/// logout stays valid until its deadline (the idle and absolute timeouts bound that window;
/// rotating and retiring the key ends it for everyone). Use a server-side store when
/// logout must be final.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::CookieStore;
/// let signed = CookieStore::signed();       // readable by the client, not forgeable
/// let sealed = CookieStore::encrypted();    // neither readable nor forgeable
/// # let _ = (signed, sealed);
/// ```
#[derive(Clone, Debug)]
pub struct CookieStore {
    codec: Arc<dyn RecordCodec>,
}

impl Default for CookieStore {
    fn default() -> Self {
        Self::signed()
    }
}

impl CookieStore {
    /// Signed cookies (HMAC-SHA256): the client can read but not change its session.
    #[must_use]
    pub fn signed() -> Self {
        Self { codec: Arc::new(SealedRecords(Mode::Signed)) }
    }

    /// Encrypted cookies (XChaCha20-Poly1305): the client can neither read nor change it.
    #[must_use]
    pub fn encrypted() -> Self {
        Self { codec: Arc::new(SealedRecords(Mode::Encrypted)) }
    }

    /// Sessions in another cookie format, such as Flask's (`sessionwarden-flask`).
    #[must_use]
    pub fn with_codec(codec: Arc<dyn RecordCodec>) -> Self {
        Self { codec }
    }

    /// The codec.
    #[must_use]
    pub fn codec(&self) -> &Arc<dyn RecordCodec> {
        &self.codec
    }
}
