//! The client-side store: the whole record, sealed into the cookie (Flask's default).

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
/// use sessionwarden::CookieStore;
/// let signed = CookieStore::signed();       // readable by the client, not forgeable
/// let sealed = CookieStore::encrypted();    // neither readable nor forgeable
/// # let _ = (signed, sealed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieStore {
    mode: Mode,
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
        Self { mode: Mode::Signed }
    }

    /// Encrypted cookies (XChaCha20-Poly1305): the client can neither read nor change it.
    #[must_use]
    pub fn encrypted() -> Self {
        Self { mode: Mode::Encrypted }
    }

    /// The envelope mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.mode
    }
}
