//! The sealed cookie envelope: what every sessionwarden cookie value looks like.
//!
//! ```text
//! s1.<kid>.<iat>.<payload>.<mac>     signed:    payload is base64url, mac is
//!                                    HMAC-SHA256(cookie-mac subkey,
//!                                      len(name) ‖ name ‖ "s1.<kid>.<iat>.<payload>")
//! e1.<kid>.<iat>.<box>               encrypted: box is base64url(nonce ‖ ciphertext ‖ tag),
//!                                    XChaCha20-Poly1305(cookie-encryption subkey, random
//!                                    24-byte nonce, aad = len(name) ‖ name ‖ "e1.<kid>.<iat>")
//! ```
//! `kid` is the sealing key's decimal id, `iat` the issue time in Unix seconds. Unlike the
//! `cookie` crate's signed jar, the MAC binds the cookie's name (a value moved under another
//! name does not verify) and its issue time (an old cookie cannot pass as new). `len(name)`
//! is two bytes, big-endian, so no two (name, text) pairs share a MAC input.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use sessionwarden::envelope::{Envelope, Mode};
//! use sessionwarden::keyring::KeySet;
//! use sessionwarden::Timestamp;
//! let keys = KeySet::generate(Timestamp::from_unix(0))?;
//! let now = Timestamp::from_unix(100);
//! let sealed = Envelope::seal(&keys, "session", b"hello", now, Mode::Signed)?;
//! let opened = Envelope::open(&keys, "session", &sealed, now, None).unwrap();
//! assert_eq!(opened.payload, b"hello");
//! // The same value under another name does not open:
//! assert!(Envelope::open(&keys, "other", &sealed, now, None).is_err());
//! # Ok::<(), sessionwarden::Error>(())
//! ```

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, Payload};
use hmac::Mac as _;

use crate::Error;
use crate::keyring::{KeyId, KeyLookupError, KeySet};
use crate::time::Timestamp;

/// Browsers drop cookies whose name plus value exceed 4096 bytes (RFC 6265 §6.1 minimum,
/// which all major browsers treat as the maximum).
pub const MAX_COOKIE_SIZE: usize = 4096;

/// How far in the future an issue time may lie before the cookie is refused: tolerates
/// clocks of a fleet that disagree by a little.
const CLOCK_SKEW: i64 = 60;

const NONCE_LEN: usize = 24;
const MAC_LEN: usize = 32;

/// Signed-only or encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Integrity only: the payload is readable by whoever holds the cookie.
    Signed,
    /// Integrity and confidentiality (AEAD).
    Encrypted,
}

/// A successfully opened envelope.
#[derive(Debug)]
pub struct Opened {
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The key that sealed it.
    pub kid: KeyId,
    /// When it was sealed.
    pub issued: Timestamp,
    /// Whether it was sealed under a key that is no longer primary: re-seal it.
    pub needs_reseal: bool,
}

/// Why an envelope did not open. Goes to a security event; the client sees "no session".
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// Over [`MAX_COOKIE_SIZE`].
    Oversized,
    /// Not of the envelope's shape (parts, version, digits, base64).
    Malformed,
    /// Sealed under a key id this keyring has never had.
    UnknownKey,
    /// Sealed under a retired key.
    RetiredKey,
    /// The MAC (or AEAD tag) does not verify: tampered or forged.
    BadMac,
    /// Older than the maximum age.
    Expired,
    /// Issued further in the future than clock skew explains.
    IssuedInFuture,
}

impl Rejection {
    /// A stable snake_case name for events and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oversized => "oversized",
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::RetiredKey => "retired_key",
            Self::BadMac => "bad_mac",
            Self::Expired => "expired",
            Self::IssuedInFuture => "issued_in_future",
        }
    }
}

/// The envelope's seal and open operations.
#[derive(Debug)]
pub struct Envelope;

fn name_prefix(name: &str) -> [u8; 2] {
    // Cookie names are short; a name over 65535 bytes cannot reach here through HTTP.
    u16::try_from(name.len()).unwrap_or(u16::MAX).to_be_bytes()
}

impl Envelope {
    /// Seals `payload` for the cookie called `name`, under the primary key.
    ///
    /// # Errors
    /// [`Error::CookieTooLarge`] if `name=value` would exceed [`MAX_COOKIE_SIZE`];
    /// [`Error::Random`] if no nonce can be drawn.
    pub fn seal(
        keys: &KeySet,
        name: &str,
        payload: &[u8],
        now: Timestamp,
        mode: Mode,
    ) -> Result<String, Error> {
        let key = keys.primary();
        let b64_len = payload.len().div_ceil(3) * 4;
        let mut out = String::with_capacity(32 + b64_len + 64);
        match mode {
            Mode::Signed => {
                out.push_str("s1.");
                push_header(&mut out, key.id(), now);
                URL_SAFE_NO_PAD.encode_string(payload, &mut out);
                let mut mac = key.cookie_mac.clone();
                mac.update(&name_prefix(name));
                mac.update(name.as_bytes());
                mac.update(out.as_bytes());
                let tag = mac.finalize().into_bytes();
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(tag, &mut out);
            }
            Mode::Encrypted => {
                out.push_str("e1.");
                push_header(&mut out, key.id(), now);
                let mut aad = Vec::with_capacity(2 + name.len() + out.len());
                aad.extend_from_slice(&name_prefix(name));
                aad.extend_from_slice(name.as_bytes());
                aad.extend_from_slice(&out.as_bytes()[..out.len() - 1]);
                let mut nonce = [0u8; NONCE_LEN];
                getrandom::fill(&mut nonce).map_err(|_| Error::Random)?;
                let ct = key
                    .cookie_enc
                    .encrypt(&nonce.into(), Payload { msg: payload, aad: &aad })
                    .map_err(|_| Error::Random)?;
                let mut sealed = Vec::with_capacity(NONCE_LEN + ct.len());
                sealed.extend_from_slice(&nonce);
                sealed.extend_from_slice(&ct);
                URL_SAFE_NO_PAD.encode_string(&sealed, &mut out);
            }
        }
        let size = name.len() + 1 + out.len();
        if size > MAX_COOKIE_SIZE {
            return Err(Error::CookieTooLarge { size, limit: MAX_COOKIE_SIZE });
        }
        Ok(out)
    }

    /// Opens a value sealed for the cookie called `name`. `max_age` bounds how old the seal
    /// may be.
    ///
    /// # Errors
    /// The [`Rejection`] reason. Report it as a security event; treat the request as having
    /// no session.
    pub fn open(
        keys: &KeySet,
        name: &str,
        value: &str,
        now: Timestamp,
        max_age: Option<Duration>,
    ) -> Result<Opened, Rejection> {
        if name.len() + 1 + value.len() > MAX_COOKIE_SIZE {
            return Err(Rejection::Oversized);
        }
        let (mode, rest) = if let Some(rest) = value.strip_prefix("s1.") {
            (Mode::Signed, rest)
        } else if let Some(rest) = value.strip_prefix("e1.") {
            (Mode::Encrypted, rest)
        } else {
            return Err(Rejection::Malformed);
        };
        let mut parts = rest.splitn(3, '.');
        let kid = parts.next().and_then(KeyId::parse).ok_or(Rejection::Malformed)?;
        let iat_text = parts.next().ok_or(Rejection::Malformed)?;
        let iat = parse_secs(iat_text).ok_or(Rejection::Malformed)?;
        let body = parts.next().ok_or(Rejection::Malformed)?;
        let key = keys.find(kid).map_err(|e| match e {
            KeyLookupError::Unknown => Rejection::UnknownKey,
            KeyLookupError::Retired => Rejection::RetiredKey,
        })?;
        // Where the authenticated text ends: "s1.<kid>.<iat>." is 3 + kid + 1 + iat + 1.
        let header_len = 3 + (rest.len() - body.len());
        let payload = match mode {
            Mode::Signed => {
                let (payload_b64, mac_b64) = body.rsplit_once('.').ok_or(Rejection::Malformed)?;
                if mac_b64.len() != 43 {
                    return Err(Rejection::Malformed);
                }
                let mut tag = [0u8; MAC_LEN + 2];
                let n = URL_SAFE_NO_PAD.decode_slice(mac_b64, &mut tag).map_err(|_| Rejection::Malformed)?;
                // Decoding first is what tells garbage (malformed) from a forgery (bad MAC): the
                // strict decoder refuses any byte outside the URL-safe alphabet, padding and
                // non-canonical trailing bits. Decoding attacker bytes is safe; nothing decoded
                // is used before the MAC below has verified the text it came from.
                let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| Rejection::Malformed)?;
                let signed_text = &value[..header_len + payload_b64.len()];
                let mut mac = key.cookie_mac.clone();
                mac.update(&name_prefix(name));
                mac.update(name.as_bytes());
                mac.update(signed_text.as_bytes());
                // verify_slice compares in constant time.
                mac.verify_slice(&tag[..n]).map_err(|_| Rejection::BadMac)?;
                payload
            }
            Mode::Encrypted => {
                let sealed = URL_SAFE_NO_PAD.decode(body).map_err(|_| Rejection::Malformed)?;
                if sealed.len() < NONCE_LEN + 16 {
                    return Err(Rejection::Malformed);
                }
                let (nonce, ct) = sealed.split_at(NONCE_LEN);
                let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Rejection::Malformed)?;
                let mut aad = Vec::with_capacity(2 + name.len() + header_len);
                aad.extend_from_slice(&name_prefix(name));
                aad.extend_from_slice(name.as_bytes());
                aad.extend_from_slice(&value.as_bytes()[..header_len - 1]);
                key.cookie_enc
                    .decrypt(&nonce.into(), Payload { msg: ct, aad: &aad })
                    .map_err(|_| Rejection::BadMac)?
            }
        };
        // Time checks come after authentication, so an attacker learns nothing from them.
        if iat.unix() > now.unix().saturating_add(CLOCK_SKEW) {
            return Err(Rejection::IssuedInFuture);
        }
        if max_age.is_some_and(|max_age| iat.plus(max_age) <= now) {
            return Err(Rejection::Expired);
        }
        Ok(Opened { payload, kid, issued: iat, needs_reseal: kid != keys.primary().id() })
    }
}

fn push_header(out: &mut String, kid: KeyId, now: Timestamp) {
    use std::fmt::Write as _;
    // invariant: writing to a String cannot fail
    write!(out, "{kid}.{}.", now.unix()).expect("write to String");
}

fn parse_secs(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 12 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.parse::<i64>().ok().map(Timestamp::from_unix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::KeyringFile;

    fn keys() -> KeySet {
        KeySet::generate(Timestamp::from_unix(0)).unwrap()
    }

    const NOW: Timestamp = Timestamp::from_unix(1_000_000);

    #[test]
    fn round_trips_both_modes() {
        let k = keys();
        for mode in [Mode::Signed, Mode::Encrypted] {
            let s = Envelope::seal(&k, "n", b"{\"a\":1}", NOW, mode).unwrap();
            let o = Envelope::open(&k, "n", &s, NOW, Some(Duration::from_secs(10))).unwrap();
            assert_eq!(o.payload, b"{\"a\":1}");
            assert_eq!(o.issued, NOW);
            assert!(!o.needs_reseal);
            if mode == Mode::Encrypted {
                assert!(!s.contains("eyJh"), "payload must not be readable");
            }
        }
    }

    #[test]
    fn every_byte_flip_is_rejected() {
        let k = keys();
        for mode in [Mode::Signed, Mode::Encrypted] {
            let s = Envelope::seal(&k, "n", b"payload-bytes", NOW, mode).unwrap();
            for i in 0..s.len() {
                let mut b = s.clone().into_bytes();
                b[i] = if b[i] == b'A' { b'B' } else { b'A' };
                let t = String::from_utf8(b).unwrap();
                if t == s {
                    continue;
                }
                assert!(Envelope::open(&k, "n", &t, NOW, None).is_err(), "flip at {i} of {s}");
            }
        }
    }

    #[test]
    fn rejection_reasons() {
        let k = keys();
        let s = Envelope::seal(&k, "n", b"x", NOW, Mode::Signed).unwrap();
        let cases: &[(&str, String, Rejection)] = &[
            ("other name", s.clone(), Rejection::BadMac),
            ("truncated", s[..s.len() - 5].to_string(), Rejection::Malformed),
            ("garbage", "%%%not-base64%%%".into(), Rejection::Malformed),
            ("unknown kid", s.replacen("s1.1.", "s1.77.", 1), Rejection::UnknownKey),
            ("leading zero kid", s.replacen("s1.1.", "s1.01.", 1), Rejection::Malformed),
            ("oversized", format!("s1.1.1.{}.x", "A".repeat(5000)), Rejection::Oversized),
            ("empty", String::new(), Rejection::Malformed),
        ];
        for (name, value, want) in cases {
            let cookie = if *name == "other name" { "m" } else { "n" };
            assert_eq!(Envelope::open(&k, cookie, value, NOW, None).unwrap_err(), *want, "{name}");
        }
    }

    #[test]
    fn time_is_bound() {
        let k = keys();
        let s = Envelope::seal(&k, "n", b"x", NOW, Mode::Signed).unwrap();
        let later = NOW.plus(Duration::from_secs(100));
        assert_eq!(
            Envelope::open(&k, "n", &s, later, Some(Duration::from_secs(100))).unwrap_err(),
            Rejection::Expired
        );
        assert!(Envelope::open(&k, "n", &s, later, Some(Duration::from_secs(101))).is_ok());
        let past = Timestamp::from_unix(NOW.unix() - 61);
        assert_eq!(Envelope::open(&k, "n", &s, past, None).unwrap_err(), Rejection::IssuedInFuture);
        // Changing iat breaks the MAC.
        let forged = s.replacen(&format!(".{}.", NOW.unix()), &format!(".{}.", NOW.unix() + 5), 1);
        assert_eq!(Envelope::open(&k, "n", &forged, NOW, None).unwrap_err(), Rejection::BadMac);
    }

    #[test]
    fn rotation_and_retirement() {
        let mut f = KeyringFile::generate(Timestamp::from_unix(0)).unwrap();
        let old = Envelope::seal(&f.key_set().unwrap(), "n", b"x", NOW, Mode::Signed).unwrap();
        f.rotate(Timestamp::from_unix(1)).unwrap();
        let set = f.key_set().unwrap();
        let o = Envelope::open(&set, "n", &old, NOW, None).unwrap();
        assert!(o.needs_reseal);
        let new = Envelope::seal(&set, "n", b"x", NOW, Mode::Signed).unwrap();
        assert!(new.starts_with("s1.2."));
        f.retire(o.kid).unwrap();
        let set = f.key_set().unwrap();
        assert_eq!(Envelope::open(&set, "n", &old, NOW, None).unwrap_err(), Rejection::RetiredKey);
        assert!(Envelope::open(&set, "n", &new, NOW, None).is_ok());
    }

    #[test]
    fn too_large_is_a_clear_error() {
        let k = keys();
        let err = Envelope::seal(&k, "n", &[b'a'; 4000], NOW, Mode::Signed).unwrap_err();
        assert!(err.to_string().contains("over the browser limit of 4096"), "{err}");
    }
}
