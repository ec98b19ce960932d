//! Flask's signed `session` cookie as a sessionwarden client-side store.

use std::sync::Arc;
use std::time::Duration;

use sessionwarden_tower::codec::{Opened, RecordCodec};
use sessionwarden_tower::envelope::{MAX_COOKIE_SIZE, Rejection};
use sessionwarden_tower::events::CookieRejectReason;
use sessionwarden_tower::keyring::KeySet;
use sessionwarden_tower::{CookieStore, Error as SwError, Expiry, Record, StoreError, Timestamp};

use super::record::{map_from_record, record_from_map, timestamp, unix_u64};
use crate::{Error, FlaskCookieCodec};

/// The value [`Opened::resealed_from`] carries for a cookie a `SECRET_KEY_FALLBACKS` key
/// verified. Flask keys have no ids; the layer only needs to know it must re-sign.
const FALLBACK_KID: u32 = 1;

/// Flask's default session cookie as a [`RecordCodec`]: the layer reads and writes the very
/// cookie a Flask app with the same `SECRET_KEY` reads and writes.
///
/// - The session's data is the Flask dict in typed JSON (see [the module guide](super)).
/// - Verification tries `SECRET_KEY`, then the fallbacks; a cookie a fallback verified is
///   re-signed with `SECRET_KEY` on its response, so both sides stay logged in through a
///   rotation.
/// - Writing signs with `SECRET_KEY` and the current time, byte-identical to Flask unless
///   compressed. Sessionwarden's own keyring is not used.
///
/// ```
/// use sessionwarden_tower::{SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
/// use sessionwarden_flask::{FlaskCookieCodec, SecretKey, adapter::{FlaskCookieStore, flask_expiry}};
///
/// let codec = FlaskCookieCodec::new(SecretKey::from("the Flask app's SECRET_KEY"))
///     .with_fallbacks([SecretKey::from("the previous one")])
///     .with_max_age(2_678_400);
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let layer = SessionLayer::new(FlaskCookieStore::new(codec).into_cookie_store(), keyring)
///     .with_expiry(flask_expiry(2_678_400, false));
/// # let _ = layer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FlaskCookieStore {
    codec: FlaskCookieCodec,
}

impl FlaskCookieStore {
    /// A store reading and writing cookies with `codec`.
    #[must_use]
    pub fn new(codec: FlaskCookieCodec) -> Self {
        Self { codec }
    }

    /// The [`CookieStore`] to give the session layer.
    #[must_use]
    pub fn into_cookie_store(self) -> CookieStore {
        CookieStore::with_codec(Arc::new(self))
    }
}

/// Why a Flask cookie did not open, in the layer's terms. Errors past the signature (the
/// cases where Flask answers HTTP 500) are `BadPayload`.
fn reject_reason(e: &Error) -> CookieRejectReason {
    match e {
        Error::TooLong { .. } => CookieRejectReason::Envelope(Rejection::Oversized),
        Error::Malformed { .. } => CookieRejectReason::Envelope(Rejection::Malformed),
        Error::BadSignature => CookieRejectReason::Envelope(Rejection::BadMac),
        Error::Expired { .. } => CookieRejectReason::Envelope(Rejection::Expired),
        Error::FromFuture { .. } => CookieRejectReason::Envelope(Rejection::IssuedInFuture),
        _ => CookieRejectReason::BadPayload,
    }
}

impl RecordCodec for FlaskCookieStore {
    fn open(
        &self,
        _keys: &KeySet,
        _name: &str,
        value: &str,
        now: Timestamp,
        _expiry: &Expiry,
    ) -> Result<Opened<Record>, CookieRejectReason> {
        let decoded = self.codec.decode_verified(value, unix_u64(now)).map_err(|e| reject_reason(&e))?;
        let signed = timestamp(decoded.signed_at);
        let max_age = Duration::from_secs(self.codec.max_age());
        let mut record = record_from_map(decoded.session, signed);
        // Flask accepts a cookie up to and including `max_age` seconds after signing.
        record.idle_deadline = Some(signed.plus(max_age + Duration::from_secs(1)));
        // Each write re-signs for a full lifetime, so from this request on that is the most
        // the session can have (and the persistent cookie's Max-Age).
        record.absolute_deadline = Some(now.plus(max_age));
        record.version = 1;
        Ok(Opened { value: record, resealed_from: decoded.fallback.then_some(FALLBACK_KID) })
    }

    fn seal(&self, _keys: &KeySet, name: &str, record: &Record, now: Timestamp) -> Result<String, SwError> {
        let unencodable =
            |_| SwError::Store(StoreError::Corrupt { reason: "session holds a value Flask cannot store" });
        let map = map_from_record(record).map_err(unencodable)?;
        let value = self.codec.encode(&map, unix_u64(now)).map_err(unencodable)?;
        let size = name.len() + 1 + value.len();
        if size > MAX_COOKIE_SIZE {
            return Err(SwError::CookieTooLarge { size, limit: MAX_COOKIE_SIZE });
        }
        Ok(value)
    }

    fn sealed_size(&self, _json_len: usize) -> Option<usize> {
        // Unknown before sealing: like Flask, `seal` zlib-compresses the payload whenever that
        // is shorter, and a large session (the only kind this check could refuse) usually
        // compresses well. An estimate from the uncompressed length refused sessions Flask
        // itself stores in a cookie; `seal` enforces the real limit on the real bytes.
        None
    }
}
