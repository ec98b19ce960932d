//! One versioned key and the purpose-separated subkeys it derives.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::KeyringError;
use crate::time::Timestamp;

/// Shortest secret a key may have: 256 bits.
pub const MIN_KEY_LEN: usize = 32;

/// Fewest distinct byte values a secret may hold: fewer and it is refused as
/// [`KeyringError::Weak`], whatever its length.
///
/// This catches the secrets people type rather than generate: all zero, one repeated
/// character (`"f".repeat(32)`), a short pattern repeated (`"abcd"` × 8), a binary string.
/// It is deliberately conservative, so that it never refuses a real random key: 32 random
/// bytes have about 30 distinct values, and even the smallest common text encoding of a
/// random key, 32 hex digits (`secrets.token_hex(16)`), has 4 or fewer distinct values with
/// probability about 1e-16 (32 decimal digits: 4e-11). It is no entropy estimate: a secret
/// that passes may still be weak (`"0123456789abcdef"` × 2); generate keys, don't type them.
pub const MIN_KEY_DISTINCT_BYTES: usize = 5;

/// Refuses a secret that is too short ([`MIN_KEY_LEN`]) or obviously low-entropy
/// ([`MIN_KEY_DISTINCT_BYTES`]); `source` names the key in the error (a key id, a file, an
/// environment variable).
pub(crate) fn check_secret(source: &str, secret: &[u8]) -> Result<(), KeyringError> {
    if secret.len() < MIN_KEY_LEN {
        return Err(KeyringError::TooShort { kid: source.to_owned(), len: secret.len() });
    }
    // A table indexed by secret bytes: its timing could tell a local observer something
    // about the secret's bytes, but this runs once per key load, not per request.
    let mut seen = [false; 256];
    let mut distinct = 0;
    for &b in secret {
        if !seen[usize::from(b)] {
            seen[usize::from(b)] = true;
            distinct += 1;
        }
    }
    if distinct < MIN_KEY_DISTINCT_BYTES {
        return Err(KeyringError::Weak { kid: source.to_owned() });
    }
    Ok(())
}

/// A key's id: a small number, printed in cookies and JWT `kid` headers.
///
/// Ids come from the keyring (file keys count up from 1; keys given by environment
/// variables get an id derived from a hash of the secret, so every server of a fleet
/// agrees on it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyId(u32);

impl KeyId {
    /// The numeric id.
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }

    /// Parses the decimal form a cookie or token carries: 1 to 10 digits, no sign, no
    /// leading zero.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 10 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        if b.len() > 1 && b[0] == b'0' {
            return None;
        }
        s.parse().ok().map(Self)
    }

    pub(crate) fn new(id: u32) -> Self {
        Self(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a key stands in its life.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs new cookies and tokens, and verifies. Exactly one key is primary.
    Primary,
    /// Verifies what it signed while it was primary; signs nothing.
    Verify,
    /// Verifies nothing: whatever it still seals is rejected. Its secret is erased.
    Retired,
}

impl KeyState {
    /// The lower-case name used in the keyring file and the CLI.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Verify => "verify",
            Self::Retired => "retired",
        }
    }
}

/// What a subkey is for. Each purpose gets its own HKDF-derived key, so one secret is
/// never used for two jobs (a cookie MAC can never be replayed as a JWT signature).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Purpose {
    /// HMAC-SHA256 over sealed cookies.
    CookieMac,
    /// XChaCha20-Poly1305 for encrypted cookies.
    CookieEncryption,
    /// HMAC-SHA256 for CSRF tokens.
    Csrf,
    /// HS256 JWT signatures.
    JwtHs256,
    /// Seed of the Ed25519 JWT signing key.
    JwtEd25519,
    /// Seed of the ES256 (P-256) JWT signing key.
    JwtEs256,
    /// HMAC key that derives refresh-token successors (`sessionwarden-jwt`'s rotation key).
    JwtRefresh,
}

impl Purpose {
    /// The HKDF `info` label. Changing one invalidates everything the purpose protects.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::CookieMac => "sessionwarden/v1/cookie-mac",
            Self::CookieEncryption => "sessionwarden/v1/cookie-encryption",
            Self::Csrf => "sessionwarden/v1/csrf",
            Self::JwtHs256 => "sessionwarden/v1/jwt-hs256",
            Self::JwtEd25519 => "sessionwarden/v1/jwt-ed25519",
            Self::JwtEs256 => "sessionwarden/v1/jwt-es256",
            Self::JwtRefresh => "sessionwarden/v1/jwt-refresh",
        }
    }
}

/// HKDF salt: fixed and public, it only separates this application's derivations.
const HKDF_SALT: &[u8] = b"sessionwarden keyring v1";

/// A 32-byte derived subkey. Zeroed on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct Subkey(Zeroizing<[u8; 32]>);

impl Subkey {
    /// The key bytes. Handle with care: never log them.
    #[must_use]
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for Subkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Subkey(..)")
    }
}

/// A versioned key: an id, a state, a creation time and the secret, with the subkeys it
/// derives ready to use.
///
/// `Debug` shows the id, state and creation time, never the secret or a subkey.
pub struct Key {
    id: KeyId,
    state: KeyState,
    created: Timestamp,
    secret: Zeroizing<Vec<u8>>,
    // Pre-keyed MAC: cloning a keyed HMAC state is much cheaper than keying it per use.
    pub(crate) cookie_mac: Hmac<Sha256>,
    pub(crate) cookie_enc: chacha20poly1305::XChaCha20Poly1305,
    csrf: Subkey,
    // Pre-keyed like cookie_mac: a CSRF check then costs one HMAC's two final compressions.
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))]
    pub(crate) csrf_mac: Hmac<Sha256>,
}

impl Key {
    /// Builds a key from its secret.
    ///
    /// # Errors
    /// Returns [`KeyringError::TooShort`] if `secret` is shorter than [`MIN_KEY_LEN`], and
    /// [`KeyringError::Weak`] if it has fewer than [`MIN_KEY_DISTINCT_BYTES`] distinct bytes
    /// (e.g. all zero).
    pub fn new(id: KeyId, state: KeyState, created: Timestamp, secret: &[u8]) -> Result<Self, KeyringError> {
        check_secret(&id.to_string(), secret)?;
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret);
        let derive = |p: Purpose| {
            let mut okm = Zeroizing::new([0u8; 32]);
            // invariant: 32 bytes is far below HKDF-SHA256's 8160-byte output limit
            hk.expand(p.label().as_bytes(), okm.as_mut()).expect("32-byte HKDF output");
            okm
        };
        let mac_key = derive(Purpose::CookieMac);
        let enc_key = derive(Purpose::CookieEncryption);
        Ok(Self {
            id,
            state,
            created,
            secret: Zeroizing::new(secret.to_vec()),
            cookie_mac: <Hmac<Sha256> as KeyInit>::new_from_slice(mac_key.as_ref())
                .expect("HMAC takes keys of any length"),
            cookie_enc: <chacha20poly1305::XChaCha20Poly1305 as KeyInit>::new_from_slice(enc_key.as_ref())
                .expect("32-byte XChaCha20 key"),
            csrf_mac: <Hmac<Sha256> as KeyInit>::new_from_slice(derive(Purpose::Csrf).as_ref())
                .expect("HMAC takes keys of any length"),
            csrf: Subkey(derive(Purpose::Csrf)),
        })
    }

    /// The id derived for a key given by `SECRET_KEY`/`SECRET_KEY_FALLBACKS`: the first four
    /// bytes of SHA-256 over a label and the secret. Every server with the same secret agrees.
    #[must_use]
    pub fn id_for_secret(secret: &[u8]) -> KeyId {
        let digest = Sha256::new().chain_update(b"sessionwarden/v1/key-id\0").chain_update(secret).finalize();
        let mut four = [0u8; 4];
        four.copy_from_slice(&digest[..4]);
        // Keep ids positive and distinct from small file-assigned ids.
        KeyId(u32::from_be_bytes(four) | 0x8000_0000)
    }

    /// The key's id.
    #[must_use]
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The key's state.
    #[must_use]
    pub fn state(&self) -> KeyState {
        self.state
    }

    /// When the key was created.
    #[must_use]
    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// Derives the subkey for `purpose`.
    #[must_use]
    pub fn subkey(&self, purpose: Purpose) -> Subkey {
        if purpose == Purpose::Csrf {
            return self.csrf.clone();
        }
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), &self.secret);
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(purpose.label().as_bytes(), okm.as_mut()).expect("32-byte HKDF output");
        Subkey(okm)
    }

    /// The pre-derived CSRF subkey (no derivation per use).
    #[must_use]
    pub fn csrf_subkey(&self) -> &Subkey {
        &self.csrf
    }

    #[cfg(test)]
    pub(crate) fn secret(&self) -> &[u8] {
        &self.secret
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret and every subkey are left out.
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random 32-byte secret (from the OS generator, fixed here).
    const SECRET: [u8; 32] = [
        0x3b, 0x9f, 0x12, 0xe4, 0x5a, 0xc7, 0x08, 0x6d, 0xf1, 0x24, 0x93, 0xbe, 0x70, 0x1c, 0xd5, 0x4a, 0x86,
        0x2f, 0xe9, 0x51, 0x0b, 0xa3, 0x7e, 0xc2, 0x35, 0xd8, 0x64, 0x19, 0xfa, 0x47, 0x8c, 0xb0,
    ];

    #[test]
    fn weak_secrets_are_refused() {
        let cases: [(&str, Vec<u8>, Result<(), &str>); 8] = [
            ("all zero", vec![0u8; 32], Err("weak")),
            ("all zero, 64 bytes", vec![0u8; 64], Err("weak")),
            ("one repeated byte", vec![0xabu8; 32], Err("weak")),
            ("one repeated character", b"f".repeat(32), Err("weak")),
            ("a 4-byte pattern repeated", b"abcd".repeat(8), Err("weak")),
            ("a 5-byte pattern repeated: passes the rule", b"abcde".repeat(7), Ok(())),
            ("random bytes", SECRET.to_vec(), Ok(())),
            ("32 hex digits", b"9f86d081884c7d659a2feaa0c55ad015".to_vec(), Ok(())),
        ];
        for (name, secret, want) in cases {
            let got = Key::new(KeyId(3), KeyState::Primary, Timestamp::from_unix(0), &secret)
                .map(|_| ())
                .map_err(|e| {
                    assert!(matches!(e, KeyringError::Weak { ref kid } if kid == "3"), "{name}: {e:?}");
                    assert!(e.to_string().starts_with("key 3 "), "{name}: {e}");
                    "weak"
                });
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        let err = Key::new(KeyId(1), KeyState::Primary, Timestamp::from_unix(0), &[1u8; 31]).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn purposes_get_distinct_subkeys() {
        let k = Key::new(KeyId(1), KeyState::Primary, Timestamp::from_unix(0), &SECRET).unwrap();
        let all = [
            Purpose::CookieMac,
            Purpose::CookieEncryption,
            Purpose::Csrf,
            Purpose::JwtHs256,
            Purpose::JwtEd25519,
            Purpose::JwtEs256,
            Purpose::JwtRefresh,
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(k.subkey(*a).expose(), k.subkey(*b).expose(), "{a:?} vs {b:?}");
            }
            assert_ne!(k.subkey(*a).expose().as_slice(), &SECRET);
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let k = Key::new(KeyId(7), KeyState::Verify, Timestamp::from_unix(0), &SECRET).unwrap();
        let dbg = format!("{k:?} {:?}", k.subkey(Purpose::Csrf));
        assert!(dbg.contains("Verify"));
        // The secret's first bytes, as hex and as a decimal byte list.
        assert!(!dbg.to_lowercase().contains("3b9f"), "{dbg}");
        assert!(!dbg.contains("59, 159"), "{dbg}");
    }

    #[test]
    fn kid_parsing_is_strict() {
        assert_eq!(KeyId::parse("12"), Some(KeyId(12)));
        for bad in ["", "01", "-1", "+1", "1a", "99999999999", "4294967296", " 1"] {
            assert_eq!(KeyId::parse(bad), None, "{bad:?}");
        }
    }
}
