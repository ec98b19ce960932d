//! Session ids and the store keys derived from them.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::RandomError;

/// Length of a session id in bytes (256 bits).
pub const SESSION_ID_LEN: usize = 32;

/// A session id: 256 bits from the operating system's CSPRNG.
///
/// The bytes are private and never leave the process except inside a sealed cookie.
/// `Debug` is redacted, equality is constant-time, and there is no `Display`: a session id
/// must never reach a log line.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::SessionId;
/// let a = SessionId::generate();
/// let b = SessionId::generate();
/// assert_ne!(a, b);
/// assert_eq!(format!("{a:?}"), "SessionId(..)");
/// // Stores see only the hash:
/// assert_ne!(a.store_key(), b.store_key());
/// ```
#[derive(Clone)]
pub struct SessionId([u8; SESSION_ID_LEN]);

impl SessionId {
    /// Draws a fresh id from the operating system's CSPRNG.
    ///
    /// # Panics
    /// Panics if the operating system cannot supply random bytes. Use
    /// [`SessionId::try_generate`] to handle that.
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("the OS random number generator failed")
    }

    /// Draws a fresh id from the operating system's CSPRNG.
    ///
    /// # Errors
    /// Returns [`RandomError`] if the operating system cannot supply random bytes.
    pub fn try_generate() -> Result<Self, RandomError> {
        let mut bytes = [0u8; SESSION_ID_LEN];
        getrandom::fill(&mut bytes).map_err(|_| RandomError)?;
        Ok(Self(bytes))
    }

    /// Rebuilds an id from the bytes a sealed cookie carried.
    ///
    /// Returns `None` unless `bytes` is exactly [`SESSION_ID_LEN`] long.
    #[must_use]
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; SESSION_ID_LEN] = bytes.try_into().ok()?;
        Some(Self(bytes))
    }

    /// The raw bytes, for sealing into a cookie. Treat them as a secret.
    #[must_use]
    pub fn expose_bytes(&self) -> &[u8; SESSION_ID_LEN] {
        &self.0
    }

    /// The key under which stores keep this session: SHA-256 of the id.
    ///
    /// With 256 random bits no secret key is needed to make the hash useless to someone who
    /// dumps the store, and unlike a keyed hash it does not change when keys rotate.
    #[must_use]
    pub fn store_key(&self) -> StoreKey {
        StoreKey(Sha256::digest(self.0).into())
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The id is a bearer credential: never print it.
        f.write_str("SessionId(..)")
    }
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SessionId {}

/// The key a store files a session under: SHA-256 of the [`SessionId`].
///
/// Knowing a store key does not let anyone forge a cookie, so it may be shown (as hex) to
/// operators. Stores receive only this, never the id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreKey([u8; 32]);

impl StoreKey {
    /// The hash bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Rebuilds a store key from 32 bytes read back from a store.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Lower-case hex, the form SQL rows and Redis keys use.
    #[must_use]
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
        s
    }

    /// Parses the lower- or upper-case hex form.
    ///
    /// Returns `None` unless `s` is exactly 64 hex digits.
    #[must_use]
    pub fn from_hex(s: &str) -> Option<Self> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.chunks_exact(2).enumerate() {
            out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
        }
        Some(Self(out))
    }

    /// An opaque handle for admin APIs: it names a session without revealing its id or
    /// its full store key (the first 16 bytes of the store key, base64url).
    #[must_use]
    pub fn handle(&self) -> SessionHandle {
        SessionHandle(URL_SAFE_NO_PAD.encode(&self.0[..16]))
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreKey({})", &self.to_hex()[..16])
    }
}

/// An opaque, printable name for one session, for listing and revoking by operators.
///
/// It is derived from the [`StoreKey`], so it reveals nothing that could be turned into a
/// cookie, and a store can find the session from it.
#[derive(Clone, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SessionHandle(String);

impl SessionHandle {
    /// Parses a handle given by an operator; `None` if it is not of the handle's shape.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 22 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(s.to_owned()))
    }

    /// The handle's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 16 bytes of the store key this handle names; `None` if the text does not
    /// decode to 16 bytes (then it names no session).
    #[must_use]
    pub fn key_prefix(&self) -> Option<[u8; 16]> {
        URL_SAFE_NO_PAD.decode(&self.0).ok()?.as_slice().try_into().ok()
    }

    /// The smallest store key that sorts after every key this handle could name: listings
    /// resume there (`store_key > cursor`). `None` if the handle names no key.
    #[must_use]
    pub fn cursor_key(&self) -> Option<StoreKey> {
        let prefix = self.key_prefix()?;
        let mut high = [0xffu8; 32];
        high[..16].copy_from_slice(&prefix);
        Some(StoreKey(high))
    }

    /// Whether `key` is the session this handle names.
    #[must_use]
    pub fn matches(&self, key: &StoreKey) -> bool {
        key.handle() == *self
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let id = SessionId::generate();
        let dbg = format!("{id:?}");
        assert_eq!(dbg, "SessionId(..)");
        let b64 = URL_SAFE_NO_PAD.encode(id.expose_bytes());
        assert!(!dbg.contains(&b64));
    }

    #[test]
    fn store_key_is_sha256_and_hex_round_trips() {
        let id = SessionId::from_bytes(&[7u8; 32]).unwrap();
        let key = id.store_key();
        let expected: [u8; 32] = Sha256::digest([7u8; 32]).into();
        assert_eq!(key.as_bytes(), &expected);
        assert_eq!(StoreKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(StoreKey::from_hex("zz"), None);
        assert_eq!(StoreKey::from_hex(&"g".repeat(64)), None);
    }

    #[test]
    fn handle_names_its_key_only() {
        let a = SessionId::generate().store_key();
        let b = SessionId::generate().store_key();
        let h = a.handle();
        assert!(h.matches(&a));
        assert!(!h.matches(&b));
        assert_eq!(SessionHandle::parse(h.as_str()), Some(h));
        assert_eq!(SessionHandle::parse("../../etc"), None);
    }

    /// OWASP ASVS 7.2.3: ids are unique and carry 256 random bits. No test can prove a CSPRNG;
    /// this one fails for the usual ways of getting one wrong: a constant or repeating id, or a
    /// buffer only partly filled (a byte position that never changes).
    #[test]
    fn generated_ids_are_distinct_and_random_in_every_byte() {
        const N: usize = 4096;
        let ids: Vec<[u8; SESSION_ID_LEN]> = (0..N).map(|_| *SessionId::generate().expose_bytes()).collect();
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), N, "a generated id repeated");
        for pos in 0..SESSION_ID_LEN {
            let values: std::collections::HashSet<u8> = ids.iter().map(|id| id[pos]).collect();
            // 4096 uniform bytes miss on average 256 * (255/256)^4096 < 0.001 of the 256 values.
            assert!(values.len() > 200, "byte {pos} took only {} values", values.len());
        }
    }

    #[test]
    fn from_bytes_checks_length() {
        assert!(SessionId::from_bytes(&[0u8; 31]).is_none());
        assert!(SessionId::from_bytes(&[0u8; 33]).is_none());
    }
}
