//! Flask-WTF 1.3 CSRF tokens (FLASK-FORMATS.md section 3).
//!
//! The session holds a raw token (40 hex digits) under `csrf_token`; clients send it signed
//! by `URLSafeTimedSerializer(key, salt="wtf-csrf-token")`: itsdangerous defaults, so the
//! key derivation is "django-concat" (SHA1(salt + "signer" + key)), not the cookie's HMAC.

use std::fmt;

use sha1::{Digest as _, Sha1};
use subtle::ConstantTimeEq;

use crate::itsdangerous::{self, SigningKey};
use crate::{Error, FlaskMap, FlaskValue, SecretKey, pyjson};

/// Flask-WTF's `WTF_CSRF_TIME_LIMIT` default, in seconds.
pub const DEFAULT_CSRF_TIME_LIMIT: u64 = 3600;

/// The session key Flask-WTF stores the raw token under (`WTF_CSRF_FIELD_NAME`).
pub const CSRF_SESSION_KEY: &str = "csrf_token";

const SALT: &[u8] = b"wtf-csrf-token";

/// The raw per-session CSRF secret: `sha1(os.urandom(64)).hexdigest()`.
///
/// Store it in the session under [`CSRF_SESSION_KEY`] once and keep it for the session's
/// life, as Flask-WTF does. `Debug` hides it and `==` runs in constant time.
///
/// ```
/// use sessionwarden_flask::CsrfRawToken;
/// let raw = CsrfRawToken::generate();
/// assert_eq!(raw.as_str().len(), 40);
/// assert_eq!(format!("{raw:?}"), "CsrfRawToken(..)");
/// ```
#[derive(Clone)]
pub struct CsrfRawToken(
    // invariant: 40 lowercase hex digits
    String,
);

impl CsrfRawToken {
    /// A new token from the operating system's RNG.
    ///
    /// # Panics
    /// Panics if the OS RNG fails. Use [`CsrfRawToken::try_generate`] to handle that.
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("operating system RNG failed")
    }

    /// A new token from the operating system's RNG.
    ///
    /// # Errors
    /// Returns [`Error::RandomUnavailable`] if the OS RNG fails.
    pub fn try_generate() -> Result<Self, Error> {
        let mut seed = [0u8; 64];
        getrandom::fill(&mut seed).map_err(|_| Error::RandomUnavailable)?;
        Ok(Self::from_random_bytes(&seed))
    }

    /// The token for 64 random bytes: their SHA-1 as lowercase hex.
    ///
    /// ```
    /// # use sessionwarden_flask::CsrfRawToken;
    /// assert_eq!(CsrfRawToken::from_random_bytes(&[0; 64]).as_str(), "c8d7d0ef0eedfa82d2ea1aa592845b9a6d4b02b7");
    /// ```
    #[must_use]
    pub fn from_random_bytes(seed: &[u8; 64]) -> Self {
        Self(Sha1::digest(seed).iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Accepts a raw token read from a session (40 lowercase hex digits).
    ///
    /// # Errors
    /// Returns [`Error::Malformed`] for any other shape.
    pub fn parse(s: &str) -> Result<Self, Error> {
        if s.len() == 40 && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::Malformed { what: "csrf raw token is not 40 lowercase hex digits" })
        }
    }

    /// The token text, as stored in the session.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CsrfRawToken {
    /// Leaves out the token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfRawToken(..)")
    }
}

impl PartialEq for CsrfRawToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for CsrfRawToken {}

/// Issues and validates Flask-WTF signed CSRF tokens.
///
/// ```
/// use sessionwarden_flask::{CsrfCodec, CsrfRawToken, SecretKey};
/// let codec = CsrfCodec::new(SecretKey::from("interop-test-secret-1"));
/// let raw = CsrfRawToken::parse("18bdd410106f4ea19f81963bf3a87b7f546186bd")?;
/// let token = codec.issue(&raw, 1_767_225_600);
/// assert_eq!(
///     token,
///     "IjE4YmRkNDEwMTA2ZjRlYTE5ZjgxOTYzYmYzYTg3YjdmNTQ2MTg2YmQi.aVW5AA.SedChOApnTap-eqVK0TFL1Y0Ovg"
/// );
/// assert!(codec.validate(Some(&token), Some(raw.as_str()), 1_767_225_660).is_ok());
/// assert!(codec.validate(Some(&token), Some(raw.as_str()), 1_767_229_201).is_err());
/// # Ok::<(), sessionwarden_flask::Error>(())
/// ```
#[derive(Clone)]
pub struct CsrfCodec {
    key: SigningKey,
    time_limit: Option<u64>,
}

impl CsrfCodec {
    /// A codec for `WTF_CSRF_SECRET_KEY` if the Flask app sets it, else `SECRET_KEY`.
    /// Fallback keys are not used (Flask-WTF ignores them). Time limit:
    /// [`DEFAULT_CSRF_TIME_LIMIT`].
    #[must_use]
    pub fn new(secret_key: SecretKey) -> Self {
        Self {
            key: SigningKey::derive_django_concat(&secret_key, SALT),
            time_limit: Some(DEFAULT_CSRF_TIME_LIMIT),
        }
    }

    /// Sets `WTF_CSRF_TIME_LIMIT` in seconds; `None` means tokens never expire (and, as in
    /// itsdangerous, future timestamps are then not checked either).
    ///
    /// ```
    /// # use sessionwarden_flask::{CsrfCodec, SecretKey};
    /// let codec = CsrfCodec::new(SecretKey::from("k")).with_time_limit(Some(60));
    /// # let _ = codec;
    /// ```
    #[must_use]
    pub fn with_time_limit(mut self, seconds: Option<u64>) -> Self {
        self.time_limit = seconds;
        self
    }

    /// The signed token for `raw` at time `now` (Flask-WTF's `generate_csrf`).
    #[must_use]
    pub fn issue(&self, raw: &CsrfRawToken, now: u64) -> String {
        let mut json = String::with_capacity(42);
        pyjson::write_str(&mut json, raw.as_str());
        let mut out = itsdangerous::dump_payload(json.as_bytes());
        out.push('.');
        out.push_str(&itsdangerous::encode_timestamp(now));
        let sig = self.key.signature(out.as_bytes());
        out.push('.');
        out.push_str(&sig);
        out
    }

    /// Validates a submitted `token` against the session's raw token at time `now`, in
    /// Flask-WTF's order (`validate_csrf`). Compare with [`Error::flask_wtf_message`] for
    /// Flask's texts.
    ///
    /// # Errors
    /// [`Error::CsrfTokenMissing`] (no or empty token), [`Error::CsrfSessionTokenMissing`],
    /// [`Error::Expired`] / [`Error::FromFuture`], [`Error::CsrfTokenMismatch`], or
    /// another variant for an invalid token ([`Error::BadSignature`], [`Error::Malformed`],
    /// [`Error::TooLong`], …). Flask answers all of them with HTTP 400.
    pub fn validate(&self, token: Option<&str>, session_token: Option<&str>, now: u64) -> Result<(), Error> {
        let token = token.filter(|t| !t.is_empty()).ok_or(Error::CsrfTokenMissing)?;
        let session_token = session_token.ok_or(Error::CsrfSessionTokenMissing)?;
        itsdangerous::check_len(token)?;
        let value = itsdangerous::unsign(std::slice::from_ref(&self.key), token)?;
        let payload = itsdangerous::check_timestamp(value, now, self.time_limit)?;
        let json = itsdangerous::load_payload(payload)?;
        let text = std::str::from_utf8(&json).map_err(|_| Error::Utf8)?;
        let FlaskValue::Str(unsigned) = pyjson::parse(text, true)? else {
            return Err(Error::Malformed { what: "csrf token payload is not a string" });
        };
        if bool::from(unsigned.as_bytes().ct_eq(session_token.as_bytes())) {
            Ok(())
        } else {
            Err(Error::CsrfTokenMismatch)
        }
    }

    /// [`CsrfCodec::validate`] with the raw token read from `session["csrf_token"]`.
    ///
    /// # Errors
    /// As [`CsrfCodec::validate`]; a non-string `csrf_token` counts as missing.
    pub fn validate_session(&self, token: Option<&str>, session: &FlaskMap, now: u64) -> Result<(), Error> {
        self.validate(token, session.get(CSRF_SESSION_KEY).and_then(FlaskValue::as_str), now)
    }
}

impl fmt::Debug for CsrfCodec {
    /// Leaves out the derived key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfCodec").field("time_limit", &self.time_limit).finish_non_exhaustive()
    }
}
