//! Flask's default session cookie (`SecureCookieSessionInterface`, Flask 3.1).
//!
//! Layout: `[.]payload.timestamp.signature`, signed with
//! HMAC-SHA1(HMAC-SHA1(secret, "cookie-session"), everything before the last `.`).
//! See FLASK-FORMATS.md section 1.

use std::fmt;

use crate::itsdangerous::{self, SigningKey};
use crate::{Error, FlaskMap, SecretKey, tagged};

/// Flask's `PERMANENT_SESSION_LIFETIME` default: 31 days.
pub const DEFAULT_MAX_AGE: u64 = 31 * 24 * 3600;

const SALT: &[u8] = b"cookie-session";

/// Reads and writes Flask session cookies.
///
/// Build it with the Flask app's `SECRET_KEY`, `SECRET_KEY_FALLBACKS` and
/// `PERMANENT_SESSION_LIFETIME`. Every method that looks at time takes `now` (Unix seconds).
///
/// ```
/// use sessionwarden_flask::{FlaskCookieCodec, FlaskValue, SecretKey};
/// let codec = FlaskCookieCodec::new(SecretKey::from("interop-test-secret-1"))
///     .with_fallbacks([SecretKey::from("interop-old-secret-0")]);
/// let now = 1_767_225_600;
/// let session = codec.decode("eyJ1c2VyIjoiYWRtaW4ifQ.aVW5AA.dnfrx2kRth5MklvzkVqnv772XnE", now)?;
/// assert_eq!(session["user"], FlaskValue::from("admin"));
/// assert_eq!(
///     codec.encode(&session, now)?,
///     "eyJ1c2VyIjoiYWRtaW4ifQ.aVW5AA.dnfrx2kRth5MklvzkVqnv772XnE"
/// );
/// // Tampered, expired, or signed by an unknown key: an error, i.e. no session.
/// assert!(codec.decode("eyJ1c2VyIjoicm9vdCJ9.aVW5AA.dnfrx2kRth5MklvzkVqnv772XnE", now).is_err());
/// assert!(codec.decode("eyJ1c2VyIjoiYWRtaW4ifQ.aVW5AA.dnfrx2kRth5MklvzkVqnv772XnE", now + 31 * 86400 + 1).is_err());
/// # Ok::<(), sessionwarden_flask::Error>(())
/// ```
#[derive(Clone)]
pub struct FlaskCookieCodec {
    /// Verification order: `SECRET_KEY`, then the fallbacks from last to first.
    /// invariant: never empty; `keys[0]` is the signing key.
    keys: Vec<SigningKey>,
    max_age: u64,
}

impl FlaskCookieCodec {
    /// A codec signing and verifying with `secret_key` (Flask's `SECRET_KEY`), no fallbacks,
    /// and a max age of [`DEFAULT_MAX_AGE`].
    #[must_use]
    pub fn new(secret_key: SecretKey) -> Self {
        Self { keys: vec![SigningKey::derive_hmac(&secret_key, SALT)], max_age: DEFAULT_MAX_AGE }
    }

    /// Sets `SECRET_KEY_FALLBACKS`, **in the Flask config's order**. Like Flask, they are tried
    /// after `SECRET_KEY` from last to first, and never used for signing.
    ///
    /// ```
    /// # use sessionwarden_flask::{FlaskCookieCodec, SecretKey};
    /// let old = FlaskCookieCodec::new(SecretKey::from("old"));
    /// let cookie = old.encode(&Default::default(), 100)?;
    /// let rotated = FlaskCookieCodec::new(SecretKey::from("new"))
    ///     .with_fallbacks([SecretKey::from("older"), SecretKey::from("old")]);
    /// assert!(rotated.decode(&cookie, 100).is_ok());
    /// # Ok::<(), sessionwarden_flask::Error>(())
    /// ```
    #[must_use]
    pub fn with_fallbacks(mut self, fallbacks: impl IntoIterator<Item = SecretKey>) -> Self {
        self.keys.truncate(1);
        let mut derived: Vec<SigningKey> =
            fallbacks.into_iter().map(|k| SigningKey::derive_hmac(&k, SALT)).collect();
        derived.reverse();
        self.keys.extend(derived);
        self
    }

    /// Sets the maximum cookie age in seconds (Flask's `int(PERMANENT_SESSION_LIFETIME)`).
    /// Flask applies it to non-permanent sessions too.
    ///
    /// ```
    /// # use sessionwarden_flask::{FlaskCookieCodec, SecretKey, Error};
    /// let codec = FlaskCookieCodec::new(SecretKey::from("k")).with_max_age(60);
    /// let cookie = codec.encode(&Default::default(), 1000)?;
    /// assert!(codec.decode(&cookie, 1060).is_ok());
    /// assert_eq!(codec.decode(&cookie, 1061), Err(Error::Expired { age: 61, max_age: 60 }));
    /// # Ok::<(), Error>(())
    /// ```
    #[must_use]
    pub fn with_max_age(mut self, seconds: u64) -> Self {
        self.max_age = seconds;
        self
    }

    /// The configured maximum age in seconds.
    #[must_use]
    pub fn max_age(&self) -> u64 {
        self.max_age
    }

    /// Verifies a `session` cookie value at time `now` and returns the session dict.
    ///
    /// Steps, as Flask: signature under any key (constant-time), then timestamp (reject if
    /// older than `max_age` or in the future), then base64, optional inflate (capped at 64
    /// KiB), UTF-8, Python-compatible JSON, untagging.
    ///
    /// # Errors
    /// Any error means "no session": [`Error::BadSignature`], [`Error::Expired`],
    /// [`Error::FromFuture`], [`Error::TooLong`] (over 4096 bytes), [`Error::Malformed`],
    /// and, for a validly signed but unreadable payload (where Flask answers HTTP 500),
    /// [`Error::Base64`], [`Error::Zlib`], [`Error::TooLarge`], [`Error::Utf8`],
    /// [`Error::Json`], [`Error::NotAnObject`] or [`Error::BadTag`].
    pub fn decode(&self, cookie: &str, now: u64) -> Result<FlaskMap, Error> {
        self.decode_verified(cookie, now).map(|d| d.session)
    }

    /// As [`FlaskCookieCodec::decode`], also telling when the cookie was signed and by which
    /// key (to re-sign cookies still under a fallback, as Flask does on its next write).
    ///
    /// # Errors
    /// As [`FlaskCookieCodec::decode`].
    ///
    /// ```
    /// # use sessionwarden_flask::{FlaskCookieCodec, SecretKey};
    /// let old = FlaskCookieCodec::new(SecretKey::from("old"));
    /// let cookie = old.encode(&Default::default(), 100)?;
    /// let rotated = FlaskCookieCodec::new(SecretKey::from("new")).with_fallbacks([SecretKey::from("old")]);
    /// let d = rotated.decode_verified(&cookie, 160)?;
    /// assert_eq!((d.signed_at, d.fallback), (100, true));
    /// # Ok::<(), sessionwarden_flask::Error>(())
    /// ```
    pub fn decode_verified(&self, cookie: &str, now: u64) -> Result<DecodedCookie, Error> {
        itsdangerous::check_len(cookie)?;
        let (value, key_index) = itsdangerous::unsign_with_index(&self.keys, cookie)?;
        let (payload, signed_at) = itsdangerous::check_timestamp_at(value, now, Some(self.max_age))?;
        let json = itsdangerous::load_payload(payload)?;
        let text = std::str::from_utf8(&json).map_err(|_| Error::Utf8)?;
        let session = tagged::loads(text)?;
        Ok(DecodedCookie { session, signed_at, fallback: key_index > 0 })
    }

    /// Signs `session` with `SECRET_KEY` at time `now`, producing the cookie value Flask
    /// would write. Byte-identical to Flask unless the payload is compressed (a different
    /// zlib may produce different, equally valid bytes).
    ///
    /// # Errors
    /// Returns [`Error::Unencodable`] for values nested deeper than 128 levels or datetimes
    /// before the year 100 (Flask would read those back with a different year).
    pub fn encode(&self, session: &FlaskMap, now: u64) -> Result<String, Error> {
        let json = tagged::dumps(session)?;
        let mut out = itsdangerous::dump_payload(json.as_bytes());
        out.push('.');
        out.push_str(&itsdangerous::encode_timestamp(now));
        let sig = self.keys[0].signature(out.as_bytes());
        out.push('.');
        out.push_str(&sig);
        Ok(out)
    }
}

/// A verified Flask cookie: what [`FlaskCookieCodec::decode_verified`] returns.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct DecodedCookie {
    /// The session dict.
    pub session: FlaskMap,
    /// When the cookie was signed (Unix seconds): Flask's sliding expiry starts here.
    pub signed_at: u64,
    /// Whether a `SECRET_KEY_FALLBACKS` key verified it rather than `SECRET_KEY`.
    pub fallback: bool,
}

impl fmt::Debug for DecodedCookie {
    /// Shows the session's keys, not its values (they may be secrets, like `csrf_token`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodedCookie")
            .field("keys", &self.session.keys().collect::<Vec<_>>())
            .field("signed_at", &self.signed_at)
            .field("fallback", &self.fallback)
            .finish()
    }
}

impl fmt::Debug for FlaskCookieCodec {
    /// Shows the number of keys and the max age, never key material.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlaskCookieCodec")
            .field("keys", &self.keys.len())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}
