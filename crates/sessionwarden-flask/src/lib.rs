//! Flask interop codecs: read and write what a Flask app stores, so a Rust service can share
//! sessions with it during a migration.
//!
//! The codecs are pure: no I/O, no clock, no dependency on the rest of sessionwarden. Every
//! function that looks at time takes `now` in Unix seconds. The [`adapter`] module (feature
//! `adapter`, on by default) plugs them into sessionwarden: a Flask cookie store, Flask-Session
//! sids and Redis store, and Flask-WTF CSRF tokens. The
//! formats are Flask's own, pinned by the frozen vectors in `tests/data/flask-vectors.json` (Flask 3.1.3, itsdangerous 2.2.0, Flask-Session 0.8.0,
//! Flask-WTF 1.3.0).
//!
//! | Flask side | here |
//! | --- | --- |
//! | default `session` cookie (`SecureCookieSessionInterface`) | [`FlaskCookieCodec`] |
//! | Flask-Session 0.8 Redis records | [`decode_redis_record`], [`encode_redis_record`], [`plan_redis_write`], [`SessionId`] |
//! | `SESSION_USE_SIGNER` signed sids | [`SessionIdSigner`] |
//! | Flask-WTF CSRF tokens | [`CsrfCodec`], [`CsrfRawToken`] |
//! | session values (tagged JSON, msgpack) | [`FlaskValue`], [`FlaskMap`] |
//!
//! # Reading and writing a Flask session cookie
//!
//! ```
//! use sessionwarden_flask::{FlaskCookieCodec, FlaskValue, SecretKey};
//!
//! // The Flask app's SECRET_KEY, SECRET_KEY_FALLBACKS (config order) and
//! // PERMANENT_SESSION_LIFETIME.
//! let codec = FlaskCookieCodec::new(SecretKey::from("interop-test-secret-1"))
//!     .with_fallbacks([SecretKey::from("interop-old-secret-0")])
//!     .with_max_age(31 * 24 * 3600);
//!
//! let now = 1_767_225_660; // inject the clock
//! let cookie = "eyJ1c2VyIjoiYWRtaW4ifQ.aVW5AA.dnfrx2kRth5MklvzkVqnv772XnE";
//! let mut session = match codec.decode(cookie, now) {
//!     Ok(session) => session,
//!     // Tampered, expired, unknown key, malformed: record the reason, use no session.
//!     Err(_reason) => Default::default(),
//! };
//! assert_eq!(session["user"], FlaskValue::from("admin"));
//!
//! // Writing signs with SECRET_KEY only, exactly as Flask would.
//! session.insert("_flashes".into(), FlaskValue::List(vec![FlaskValue::Tuple(vec![
//!     "message".into(),
//!     "Saved!".into(),
//! ])]));
//! let new_cookie = codec.encode(&session, now)?;
//! assert_eq!(codec.decode(&new_cookie, now)?, session);
//! # Ok::<(), sessionwarden_flask::Error>(())
//! ```
//!
//! # Security notes
//!
//! - **HMAC-SHA1 is here only because Flask uses it.** itsdangerous signs Flask cookies,
//!   Flask-Session sids and Flask-WTF tokens with HMAC-SHA1, so interop needs it. SHA-1's
//!   collision weakness does not break HMAC, but nothing outside this crate should choose it.
//! - MACs and tokens are compared in constant time ([`hmac`]'s `verify_slice`, [`subtle`]).
//!   Key types ([`SecretKey`], the codecs, [`SessionId`], [`CsrfRawToken`]) have a `Debug`
//!   that prints no secret.
//! - Every decoder treats its input as hostile and returns an [`Error`], never panics:
//!   cookies and tokens over 4096 bytes are refused, zlib output is capped at 64 KiB,
//!   nesting at 128 levels, and declared MessagePack lengths never drive allocation.
//! - Flask-Session falls back to `pickle.loads`; this crate never does ([`Error::Pickle`]).
//! - Decoding is stricter than Flask where Flask is lenient with things it never writes
//!   (padded or `+/` base64, odd tag values, lone surrogates); errors are also returned
//!   where Flask would answer HTTP 500. Callers map every error to "no session".

#[cfg(feature = "adapter")]
pub mod adapter;
mod cookie;
mod csrf;
mod datetime;
mod error;
mod flask_session;
mod itsdangerous;
mod marker;
mod msgpack;
mod pyjson;
mod secret;
mod tagged;
mod value;

pub use crate::cookie::{DEFAULT_MAX_AGE, DecodedCookie, FlaskCookieCodec};
pub use crate::csrf::{CSRF_SESSION_KEY, CsrfCodec, CsrfRawToken, DEFAULT_CSRF_TIME_LIMIT};
pub use crate::datetime::FlaskDateTime;
pub use crate::error::Error;
pub use crate::flask_session::{
    DEFAULT_KEY_PREFIX, DEFAULT_SID_BYTES, RedisWrite, SessionId, SessionIdSigner, decode_redis_record,
    encode_redis_record, plan_redis_write,
};
pub use crate::marker::{map_from_typed_json, map_to_typed_json};
pub use crate::secret::SecretKey;
pub use crate::value::{BigInt, FlaskMap, FlaskValue, Uuid};

/// Entry points for fuzz targets (`fuzz/`). Not part of the public API.
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzzing;
