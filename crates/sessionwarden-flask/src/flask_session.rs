//! Flask-Session 0.8 with `SESSION_TYPE = "redis"` (FLASK-FORMATS.md section 2).
//!
//! Pure functions only: session ids, the optional signed-sid cookie, the Redis key, the
//! record bytes and what to write when. The caller does the Redis I/O.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;

use crate::itsdangerous::{self, SigningKey};
use crate::{Error, FlaskMap, FlaskValue, SecretKey, msgpack, pyjson};

/// Flask-Session's `SESSION_KEY_PREFIX` default.
pub const DEFAULT_KEY_PREFIX: &str = "session:";

/// Flask-Session's `SESSION_ID_LENGTH` default, in random bytes (43 characters).
pub const DEFAULT_SID_BYTES: usize = 32;

/// Shortest sid accepted: 16 random bytes, Flask-Session's smallest sane `SESSION_ID_LENGTH`.
const MIN_SID_CHARS: usize = 22;
/// Longest sid accepted before touching Redis.
const MAX_SID_CHARS: usize = 256;

const SIGNER_SALT: &[u8] = b"flask-session";

/// A Flask-Session session id: `secrets.token_urlsafe(SESSION_ID_LENGTH)`.
///
/// It is a bearer secret, so `Debug` hides it and `==` runs in constant time.
///
/// ```
/// use sessionwarden_flask::SessionId;
/// let sid = SessionId::generate();
/// assert_eq!(sid.as_str().len(), 43);
/// assert_eq!(format!("{sid:?}"), "SessionId(..)");
/// assert_eq!(sid.redis_key("session:"), format!("session:{}", sid.as_str()));
/// assert!(SessionId::parse("../../etc").is_err());
/// ```
#[derive(Clone)]
pub struct SessionId(
    // invariant: MIN_SID_CHARS..=MAX_SID_CHARS characters of the b64url alphabet
    String,
);

impl SessionId {
    /// A new 32-byte (43-character) sid from the operating system's RNG.
    ///
    /// # Panics
    /// Panics if the OS RNG fails. Use [`SessionId::try_generate`] to handle that.
    #[must_use]
    pub fn generate() -> Self {
        Self::try_generate().expect("operating system RNG failed")
    }

    /// A new 32-byte (43-character) sid from the operating system's RNG.
    ///
    /// # Errors
    /// Returns [`Error::RandomUnavailable`] if the OS RNG fails.
    pub fn try_generate() -> Result<Self, Error> {
        let mut bytes = [0u8; DEFAULT_SID_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| Error::RandomUnavailable)?;
        Self::from_random_bytes(&bytes)
    }

    /// The sid for these random bytes (`token_urlsafe` is b64url without padding).
    ///
    /// # Errors
    /// Returns [`Error::BadSessionId`] for fewer than 16 or more than 192 bytes.
    ///
    /// ```
    /// # use sessionwarden_flask::SessionId;
    /// assert_eq!(SessionId::from_random_bytes(&[0; 16])?.as_str(), "AAAAAAAAAAAAAAAAAAAAAA");
    /// # Ok::<(), sessionwarden_flask::Error>(())
    /// ```
    pub fn from_random_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::parse(&URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Checks the shape of an incoming sid (URL-safe base64 alphabet, 22 to 256 characters).
    /// Flask-Session looks up any string; check first so junk never reaches Redis.
    ///
    /// # Errors
    /// Returns [`Error::BadSessionId`] if the shape is wrong.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = (MIN_SID_CHARS..=MAX_SID_CHARS).contains(&s.len())
            && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if ok { Ok(Self(s.to_owned())) } else { Err(Error::BadSessionId) }
    }

    /// The sid text, which is also the cookie value when the signer is off.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The Redis key: `SESSION_KEY_PREFIX + sid` (see [`DEFAULT_KEY_PREFIX`]).
    #[must_use]
    pub fn redis_key(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.0)
    }
}

impl fmt::Debug for SessionId {
    /// Leaves out the id: it is a bearer credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionId(..)")
    }
}

impl PartialEq for SessionId {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SessionId {}

/// The deprecated `SESSION_USE_SIGNER` cookie form: `sid.b64url(HMAC-SHA1(key, sid))` with
/// the key HMAC-SHA1(`SECRET_KEY`, "flask-session"). No timestamp, and no fallback keys
/// (Flask-Session ignores `SECRET_KEY_FALLBACKS`).
///
/// ```
/// use sessionwarden_flask::{SecretKey, SessionId, SessionIdSigner};
/// let signer = SessionIdSigner::new(SecretKey::from("interop-test-secret-1"));
/// let cookie = "dhcd8V4brGX5aSiq50aJY-B9UUroaMkcH3IPqPFl04A.pPb1GTWfQpt1WiPA1unnZG68Ot8";
/// let sid = signer.unsign(cookie)?;
/// assert_eq!(sid.as_str(), "dhcd8V4brGX5aSiq50aJY-B9UUroaMkcH3IPqPFl04A");
/// assert_eq!(signer.sign(&sid), cookie);
/// # Ok::<(), sessionwarden_flask::Error>(())
/// ```
#[derive(Clone)]
pub struct SessionIdSigner {
    key: SigningKey,
}

impl SessionIdSigner {
    /// A signer for Flask's `SECRET_KEY`.
    #[must_use]
    pub fn new(secret_key: SecretKey) -> Self {
        Self { key: SigningKey::derive_hmac(&secret_key, SIGNER_SALT) }
    }

    /// The cookie value for `sid`.
    #[must_use]
    pub fn sign(&self, sid: &SessionId) -> String {
        format!("{}.{}", sid.0, self.key.signature(sid.0.as_bytes()))
    }

    /// Verifies a signed cookie value (constant-time) and returns its sid.
    ///
    /// # Errors
    /// [`Error::TooLong`], [`Error::Malformed`] (no `.`), [`Error::BadSignature`] or
    /// [`Error::BadSessionId`]; all mean "start a fresh session".
    pub fn unsign(&self, cookie: &str) -> Result<SessionId, Error> {
        itsdangerous::check_len(cookie)?;
        let sid = itsdangerous::unsign(std::slice::from_ref(&self.key), cookie)?;
        SessionId::parse(sid)
    }
}

impl fmt::Debug for SessionIdSigner {
    /// Leaves out the derived key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionIdSigner(..)")
    }
}

/// Encodes a session as the MessagePack record Flask-Session 0.8 stores (its default
/// `SESSION_SERIALIZATION_FORMAT`). Keep `_permanent` in the map if the session is permanent.
///
/// # Errors
/// Returns [`Error::Unencodable`] for [`FlaskValue::Markup`] (Flask-Session cannot store it
/// either), integers outside `[-2^63, 2^64-1]`, or nesting deeper than 128 levels.
///
/// ```
/// use sessionwarden_flask::{FlaskMap, FlaskValue, encode_redis_record};
/// let mut s = FlaskMap::new();
/// s.insert("_permanent".into(), FlaskValue::Bool(true));
/// s.insert("user".into(), "admin".into());
/// let bytes = encode_redis_record(&s)?;
/// assert_eq!(bytes, b"\x82\xaa_permanent\xc3\xa4user\xa5admin");
/// # Ok::<(), sessionwarden_flask::Error>(())
/// ```
pub fn encode_redis_record(session: &FlaskMap) -> Result<Vec<u8>, Error> {
    msgpack::encode(session)
}

/// Decodes a Flask-Session record: MessagePack, else JSON (msgspec's two formats). Never
/// unpickles.
///
/// MessagePack tuples come back as lists and JSON datetimes/bytes as strings, as in Flask.
///
/// # Errors
/// [`Error::Pickle`] for a pickled record (alert: Flask would have executed it),
/// [`Error::BadRecord`] for bytes neither format reads, [`Error::NotAnObject`] if the value
/// is not a map. All mean "no session".
///
/// ```
/// use sessionwarden_flask::{Error, decode_redis_record};
/// let s = decode_redis_record(b"\x82\xaa_permanent\xc3\xa4user\xa5admin")?;
/// assert_eq!(s["user"].as_str(), Some("admin"));
/// let s = decode_redis_record(br#"{"user":"admin"}"#)?;
/// assert_eq!(s["user"].as_str(), Some("admin"));
/// assert_eq!(decode_redis_record(b"\x80\x04\x95\x00"), Err(Error::Pickle));
/// # Ok::<(), Error>(())
/// ```
pub fn decode_redis_record(bytes: &[u8]) -> Result<FlaskMap, Error> {
    let value = match msgpack::decode(bytes) {
        Ok(v) => v,
        Err(msgpack_err) => match std::str::from_utf8(bytes).ok().map(|t| pyjson::parse(t, false)) {
            Some(Ok(v)) => v,
            _ if looks_like_pickle(bytes) => return Err(Error::Pickle),
            _ => return Err(msgpack_err),
        },
    };
    match value {
        FlaskValue::Dict(map) => Ok(map),
        _ => Err(Error::NotAnObject),
    }
}

/// Pickle protocols 2 to 5 start with the PROTO opcode (0x80) and the protocol number.
fn looks_like_pickle(bytes: &[u8]) -> bool {
    matches!(bytes, [0x80, 2..=5, ..])
}

/// What to do with the Redis record at the end of a request (Flask-Session 0.8's
/// `save_session`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "the plan does nothing until the caller runs it against Redis"]
pub enum RedisWrite {
    /// `SET <key> <record> EX <ttl_seconds>`; send the cookie.
    Set {
        /// Always `int(PERMANENT_SESSION_LIFETIME)`, permanent session or not.
        ttl_seconds: u64,
    },
    /// `DEL <key>` and send the deletion cookie: the session was emptied.
    Delete,
    /// Touch nothing.
    Skip,
}

/// Decides the Redis write the way Flask-Session 0.8 does.
///
/// - Nothing happens unless the session was modified or `SESSION_REFRESH_EACH_REQUEST` is on
///   (the default, which rewrites every loaded session on every request).
/// - An empty session, or one holding only `_permanent`, is never stored: it is deleted if
///   it was modified, otherwise left alone.
/// - Otherwise `SET ... EX lifetime`, the same TTL for permanent and non-permanent sessions.
///
/// ```
/// use sessionwarden_flask::{FlaskMap, FlaskValue, RedisWrite, plan_redis_write};
/// let mut s = FlaskMap::new();
/// s.insert("_permanent".into(), FlaskValue::Bool(true));
/// assert_eq!(plan_redis_write(&s, true, true, 2_678_400), RedisWrite::Delete);
/// s.insert("user".into(), "admin".into());
/// assert_eq!(plan_redis_write(&s, false, true, 2_678_400), RedisWrite::Set { ttl_seconds: 2_678_400 });
/// assert_eq!(plan_redis_write(&s, false, false, 2_678_400), RedisWrite::Skip);
/// ```
pub fn plan_redis_write(
    session: &FlaskMap,
    modified: bool,
    refresh_each_request: bool,
    lifetime_seconds: u64,
) -> RedisWrite {
    if !modified && !refresh_each_request {
        return RedisWrite::Skip;
    }
    let empty = session.keys().all(|k| k == "_permanent");
    match (empty, modified) {
        (true, true) => RedisWrite::Delete,
        (true, false) => RedisWrite::Skip,
        (false, _) => RedisWrite::Set { ttl_seconds: lifetime_seconds },
    }
}
