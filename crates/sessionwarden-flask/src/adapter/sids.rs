//! Flask-Session's sid cookie as a sessionwarden id codec.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sessionwarden_tower::codec::{IdCodec, Opened};
use sessionwarden_tower::envelope::Rejection;
use sessionwarden_tower::events::CookieRejectReason;
use sessionwarden_tower::keyring::KeySet;
use sessionwarden_tower::{Error as SwError, Expiry, SessionId as SwSessionId, StoreKey, Timestamp};

use crate::{Error, SecretKey, SessionId, SessionIdSigner};

/// Flask-Session's session-id cookie as an [`IdCodec`]: the sid itself
/// (`secrets.token_urlsafe(32)`, 43 characters), or with `SESSION_USE_SIGNER` the sid and
/// its itsdangerous signature.
///
/// A sessionwarden id is 32 random bytes, and so is a Flask-Session sid: the two map 1:1
/// (base64url). Only the default `SESSION_ID_LENGTH = 32` is supported; other sids are
/// rejected as malformed (a fresh session is started, as Flask-Session does for unknown ids).
///
/// **The store key is the raw sid**, not its hash, because Flask-Session keys Redis by
/// `SESSION_KEY_PREFIX + sid` (the one exception to sessionwarden's store-key invariant).
///
/// ```
/// use sessionwarden_tower::codec::IdCodec;
/// use sessionwarden_tower::SessionId;
/// use sessionwarden_flask::adapter::FlaskSids;
///
/// let sids = FlaskSids::plain();
/// let id = SessionId::generate();
/// assert_eq!(sids.store_key(&id).as_bytes(), id.expose_bytes());
/// ```
#[derive(Debug, Clone, Default)]
pub struct FlaskSids {
    signer: Option<SessionIdSigner>,
}

impl FlaskSids {
    /// Plain sids (Flask-Session's default, `SESSION_USE_SIGNER = False`).
    #[must_use]
    pub fn plain() -> Self {
        Self { signer: None }
    }

    /// Signed sids (`SESSION_USE_SIGNER = True`) under Flask's `SECRET_KEY` (Flask-Session
    /// ignores the fallbacks, so rotating `SECRET_KEY` ends every session).
    #[must_use]
    pub fn signed(secret_key: SecretKey) -> Self {
        Self { signer: Some(SessionIdSigner::new(secret_key)) }
    }
}

impl IdCodec for FlaskSids {
    fn open(
        &self,
        _keys: &KeySet,
        _name: &str,
        value: &str,
        _now: Timestamp,
        _expiry: &Expiry,
    ) -> Result<Opened<SwSessionId>, CookieRejectReason> {
        let sid = match &self.signer {
            Some(signer) => signer.unsign(value),
            None => SessionId::parse(value),
        }
        .map_err(|e| match e {
            Error::BadSignature => CookieRejectReason::Envelope(Rejection::BadMac),
            Error::TooLong { .. } => CookieRejectReason::Envelope(Rejection::Oversized),
            _ => CookieRejectReason::Envelope(Rejection::Malformed),
        })?;
        // Canonical base64url of exactly 32 bytes (the engine refuses non-zero trailing bits).
        let bytes = URL_SAFE_NO_PAD
            .decode(sid.as_str())
            .map_err(|_| CookieRejectReason::Envelope(Rejection::Malformed))?;
        let id = SwSessionId::from_bytes(&bytes).ok_or(CookieRejectReason::Envelope(Rejection::Malformed))?;
        Ok(Opened { value: id, resealed_from: None })
    }

    fn seal(
        &self,
        _keys: &KeySet,
        _name: &str,
        id: &SwSessionId,
        _now: Timestamp,
    ) -> Result<String, SwError> {
        let text = URL_SAFE_NO_PAD.encode(id.expose_bytes());
        Ok(match &self.signer {
            Some(signer) => {
                // invariant: 32 bytes are 43 base64url characters, a valid sid shape
                let sid = SessionId::parse(&text).expect("a 32-byte id is a valid sid");
                signer.sign(&sid)
            }
            None => text,
        })
    }

    fn store_key(&self, id: &SwSessionId) -> StoreKey {
        // Flask-Session's Redis key is the raw sid: see the type's documentation.
        StoreKey::from_bytes(*id.expose_bytes())
    }
}
