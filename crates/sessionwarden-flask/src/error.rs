//! The crate's one error type.
//!
//! Every decoder in this crate treats the input as attacker-controlled, so most variants mean
//! "this is not a session we will accept". Callers should map all of them to *no session* (or
//! a rejected CSRF token) and record the variant in a security event, not in the response.
//! `Display` never contains key material, cookie contents or session values: only positions,
//! lengths, limits and the names of the parts that failed.

/// Errors from the Flask codecs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is longer than this codec accepts (4096 bytes for a cookie or CSRF token).
    ///
    /// Browsers cap cookies at about 4 KiB, so a longer value is not something Flask wrote.
    /// Treat it as no session.
    #[error("input is {len} bytes, expected at most {max}")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit that was exceeded.
        max: usize,
    },

    /// The input does not have the itsdangerous shape (`value.timestamp.signature` for a
    /// cookie, `sid.signature` for a signed sid), or is empty.
    ///
    /// Treat it as no session. `what` names the missing or malformed part.
    #[error("malformed input: {what}")]
    Malformed {
        /// Which part was missing or malformed.
        what: &'static str,
    },

    /// The signature did not verify under `SECRET_KEY` nor under any fallback key.
    ///
    /// Either the value was tampered with or it was signed by a key this service does not
    /// have (check `SECRET_KEY_FALLBACKS` during a rotation). Treat it as no session.
    #[error("signature does not match any configured key")]
    BadSignature,

    /// The signature is valid but the signing time is more than `max_age` seconds ago.
    ///
    /// Flask applies `PERMANENT_SESSION_LIFETIME` to every cookie, permanent or not.
    /// Treat it as no session (or an expired CSRF token).
    #[error("signed {age} seconds ago, expected at most {max_age}")]
    Expired {
        /// Seconds between signing and `now`.
        age: u64,
        /// The configured limit in seconds.
        max_age: u64,
    },

    /// The signature is valid but the signing time lies in the future.
    ///
    /// itsdangerous 2.2 rejects these too. Usually clock skew between the Flask and Rust
    /// hosts; check NTP if it happens often.
    #[error("signed {ahead} seconds in the future, expected a time at or before now")]
    FromFuture {
        /// Seconds between `now` and the signing time.
        ahead: u64,
    },

    /// A base64 part of a validly signed value did not decode.
    ///
    /// Flask answers HTTP 500 here; we treat it as no session.
    #[error("invalid base64 in {part}")]
    Base64 {
        /// Which part held the bad base64.
        part: &'static str,
    },

    /// A compressed payload (leading `.`) is not valid zlib data.
    #[error("invalid zlib data in compressed payload")]
    Zlib,

    /// The payload inflates to more than the decompression limit (64 KiB).
    ///
    /// A ~1.4 KB cookie can inflate to 1 MB; the cap keeps memory bounded.
    #[error("payload inflates past {limit} bytes")]
    TooLarge {
        /// The inflated-size limit in bytes.
        limit: usize,
    },

    /// The payload is not valid UTF-8.
    #[error("payload is not valid utf-8")]
    Utf8,

    /// The payload is not JSON that Python's `json.loads` would accept, or nests deeper than
    /// this crate allows.
    #[error("invalid json at byte {offset}: expected {expected}")]
    Json {
        /// Byte offset of the problem in the JSON text.
        offset: usize,
        /// What the parser expected there.
        expected: &'static str,
    },

    /// The session payload is valid but its top-level value is not an object (map).
    #[error("session payload is not an object")]
    NotAnObject,

    /// A Flask tagged-JSON value (`" t"`, `" b"`, `" m"`, `" u"`, `" d"`, `" di"`) holds
    /// something Flask would not have written there.
    #[error("invalid value for flask tag {tag:?}: {reason}")]
    BadTag {
        /// The tag key, e.g. `" b"`.
        tag: &'static str,
        /// What was wrong with the tagged value.
        reason: &'static str,
    },

    /// A Redis record is neither MessagePack nor JSON this crate can read.
    #[error("unreadable session record: {reason}")]
    BadRecord {
        /// Why the record was refused.
        reason: &'static str,
    },

    /// A Redis record looks like a Python pickle. It is never unpickled.
    ///
    /// Flask-Session 0.8 falls back to `pickle.loads`, so whoever wrote this record can run
    /// code in the Flask app. Treat it as no session and raise an alert: it points to a
    /// legacy writer or to someone with write access to Redis.
    #[error("session record is a python pickle, refusing to load it")]
    Pickle,

    /// A value cannot be written in the requested format (for example `Markup` in
    /// MessagePack, which makes Flask-Session fail too, an integer outside the u64/i64 range
    /// in MessagePack, or nesting deeper than this crate allows).
    #[error("cannot encode {what}")]
    Unencodable {
        /// What could not be encoded.
        what: &'static str,
    },

    /// A session id does not have Flask-Session's shape (URL-safe base64, 22 to 256
    /// characters). Do not look it up in the store.
    #[error("session id has an invalid shape, expected 22 to 256 url-safe base64 characters")]
    BadSessionId,

    /// The operating system's random number generator failed.
    ///
    /// Nothing can be generated safely; fail the request (503) rather than fall back.
    #[error("operating system random number generator unavailable")]
    RandomUnavailable,

    /// The request carried no CSRF token ("The CSRF token is missing.").
    #[error("csrf token is missing")]
    CsrfTokenMissing,

    /// The session holds no `csrf_token` ("The CSRF session token is missing.").
    #[error("csrf session token is missing")]
    CsrfSessionTokenMissing,

    /// The CSRF token is validly signed but belongs to another session ("The CSRF tokens do
    /// not match.").
    #[error("csrf token does not match the session token")]
    CsrfTokenMismatch,

    /// A typed-JSON marker (`$bytes`, `$tuple`, …) holds an invalid value.
    #[error("invalid typed-json marker {marker}: {reason}")]
    BadMarker {
        /// The marker key, e.g. `$uuid`.
        marker: &'static str,
        /// What was wrong.
        reason: &'static str,
    },
}

impl Error {
    /// The message Flask-WTF 1.3 shows for this failure when it comes from CSRF validation.
    ///
    /// Useful when a Rust service must answer exactly like the Flask app did.
    ///
    /// ```
    /// use sessionwarden_flask::Error;
    /// assert_eq!(Error::BadSignature.flask_wtf_message(), "The CSRF token is invalid.");
    /// assert_eq!(
    ///     Error::Expired { age: 3601, max_age: 3600 }.flask_wtf_message(),
    ///     "The CSRF token has expired."
    /// );
    /// ```
    #[must_use]
    pub fn flask_wtf_message(&self) -> &'static str {
        match self {
            Self::CsrfTokenMissing => "The CSRF token is missing.",
            Self::CsrfSessionTokenMissing => "The CSRF session token is missing.",
            Self::CsrfTokenMismatch => "The CSRF tokens do not match.",
            Self::Expired { .. } | Self::FromFuture { .. } => "The CSRF token has expired.",
            _ => "The CSRF token is invalid.",
        }
    }
}
