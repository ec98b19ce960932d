//! Secret keys, as Flask's `SECRET_KEY` holds them.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A Flask secret (`SECRET_KEY`, an entry of `SECRET_KEY_FALLBACKS`, or
/// `WTF_CSRF_SECRET_KEY`).
///
/// Flask and itsdangerous use the UTF-8 bytes of a text secret, so build it from the same
/// string the Flask app has. The bytes are zeroed on drop, `Debug` prints no key material, and
/// `==` runs in constant time.
///
/// ```
/// use sessionwarden_flask::SecretKey;
/// let key = SecretKey::from("interop-test-secret-1");
/// assert_eq!(format!("{key:?}"), "SecretKey(..)");
/// assert_eq!(key, SecretKey::from_bytes(b"interop-test-secret-1"));
/// ```
#[derive(Clone)]
pub struct SecretKey(Zeroizing<Vec<u8>>);

impl SecretKey {
    /// Builds a key from raw bytes (a Python `bytes` secret).
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<&str> for SecretKey {
    /// Uses the UTF-8 bytes, as Flask does for a `str` secret.
    fn from(s: &str) -> Self {
        Self::from_bytes(s.as_bytes())
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        Self(Zeroizing::new(s.into_bytes()))
    }
}

impl fmt::Debug for SecretKey {
    /// Leaves out the key bytes and their length.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_slice().ct_eq(other.0.as_slice()).into()
    }
}

impl Eq for SecretKey {}
