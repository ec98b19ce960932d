//! How a cookie value becomes a session and back: the seams for other cookie formats.
//!
//! sessionwarden's own formats are the sealed envelope ([`crate::envelope`]): a whole record
//! for [`crate::CookieStore`], or a session id ([`SealedIds`]) for server-side stores. Other
//! formats — Flask's signed cookie, Flask-Session's plain or signed sid — plug in here, so
//! the session layer (lazy loading, change sets, renewal, fail-closed) is the same for all.

use std::fmt;

use crate::config::Expiry;
use crate::envelope::{Envelope, Mode};
use crate::error::Error;
use crate::events::CookieRejectReason;
use crate::id::{SessionId, StoreKey};
use crate::keyring::KeySet;
use crate::record::Record;
use crate::time::Timestamp;

/// A cookie that opened. `resealed_from` names the key that sealed it when that key is no
/// longer the one that signs (the layer then re-issues the cookie under the current key).
#[derive(Debug)]
pub struct Opened<T> {
    /// What the cookie carried.
    pub value: T,
    /// The id of the non-primary key that sealed it, if any.
    pub resealed_from: Option<u32>,
}

/// Turns a whole session record into a cookie value and back (client-side sessions).
pub trait RecordCodec: Send + Sync + fmt::Debug + 'static {
    /// Opens `value`, the cookie called `name`.
    ///
    /// # Errors
    /// Why the cookie is not a session; the layer records it and treats the request as
    /// having none.
    fn open(
        &self,
        keys: &KeySet,
        name: &str,
        value: &str,
        now: Timestamp,
        expiry: &Expiry,
    ) -> Result<Opened<Record>, CookieRejectReason>;

    /// Seals `record` as the value of the cookie called `name`.
    ///
    /// # Errors
    /// [`Error::CookieTooLarge`] when it does not fit a cookie.
    fn seal(&self, keys: &KeySet, name: &str, record: &Record, now: Timestamp) -> Result<String, Error>;

    /// An upper bound of the sealed size of a record whose JSON is `json_len` bytes, to refuse
    /// an oversized change before it is made. `None` if the codec cannot tell.
    fn sealed_size(&self, json_len: usize) -> Option<usize> {
        // Envelope overhead: "s1.", kid (≤10), iat (≤12), dots, a 43-byte MAC, or for
        // encrypted cookies a 24-byte nonce and 16-byte tag; 120 bytes covers both.
        Some((json_len + 40).div_ceil(3) * 4 + 120)
    }
}

/// Turns a session id into a cookie value and back, and names the store key (server-side
/// sessions).
pub trait IdCodec: Send + Sync + fmt::Debug + 'static {
    /// Opens `value`, the cookie called `name`.
    ///
    /// # Errors
    /// Why the cookie is not a session id.
    fn open(
        &self,
        keys: &KeySet,
        name: &str,
        value: &str,
        now: Timestamp,
        expiry: &Expiry,
    ) -> Result<Opened<SessionId>, CookieRejectReason>;

    /// The cookie value for `id`.
    ///
    /// # Errors
    /// When the value cannot be produced (too large, no randomness).
    fn seal(&self, keys: &KeySet, name: &str, id: &SessionId, now: Timestamp) -> Result<String, Error>;

    /// The key the store files `id` under. Default: SHA-256 of the id, so stores never see it.
    fn store_key(&self, id: &SessionId) -> StoreKey {
        id.store_key()
    }
}

/// sessionwarden's own session-id cookie: the id sealed in a signed envelope, so forged or
/// guessed ids are rejected without a store round trip.
#[derive(Debug, Default, Clone, Copy)]
pub struct SealedIds;

impl IdCodec for SealedIds {
    fn open(
        &self,
        keys: &KeySet,
        name: &str,
        value: &str,
        now: Timestamp,
        expiry: &Expiry,
    ) -> Result<Opened<SessionId>, CookieRejectReason> {
        let opened = Envelope::open(keys, name, value, now, expiry.absolute_timeout())
            .map_err(CookieRejectReason::Envelope)?;
        let id = SessionId::from_bytes(&opened.payload).ok_or(CookieRejectReason::BadPayload)?;
        Ok(Opened { value: id, resealed_from: opened.needs_reseal.then(|| opened.kid.get()) })
    }

    fn seal(&self, keys: &KeySet, name: &str, id: &SessionId, now: Timestamp) -> Result<String, Error> {
        Envelope::seal(keys, name, id.expose_bytes(), now, Mode::Signed)
    }
}

/// The envelope codec for whole records, in either mode (what [`crate::CookieStore`] uses).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SealedRecords(pub(crate) Mode);

impl RecordCodec for SealedRecords {
    fn open(
        &self,
        keys: &KeySet,
        name: &str,
        value: &str,
        now: Timestamp,
        expiry: &Expiry,
    ) -> Result<Opened<Record>, CookieRejectReason> {
        let opened = Envelope::open(keys, name, value, now, expiry.absolute_timeout())
            .map_err(CookieRejectReason::Envelope)?;
        let record: Record =
            serde_json::from_slice(&opened.payload).map_err(|_| CookieRejectReason::BadPayload)?;
        Ok(Opened { value: record, resealed_from: opened.needs_reseal.then(|| opened.kid.get()) })
    }

    fn seal(&self, keys: &KeySet, name: &str, record: &Record, now: Timestamp) -> Result<String, Error> {
        let payload = serde_json::to_vec(record)
            .map_err(|_| Error::Store(crate::StoreError::Corrupt { reason: "record does not serialise" }))?;
        Envelope::seal(keys, name, &payload, now, self.0)
    }
}
