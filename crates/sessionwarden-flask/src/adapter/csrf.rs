//! Flask-WTF CSRF tokens as a sessionwarden token scheme.

use std::time::Duration;

use serde_json::Value;
use sessionwarden_tower::csrf::{CsrfRejectReason, CsrfToken, TokenScheme};
use sessionwarden_tower::keyring::KeySet;
use sessionwarden_tower::{Error as SwError, Timestamp};

use super::record::unix_u64;
use crate::{CSRF_SESSION_KEY, CsrfCodec, CsrfRawToken, Error, SecretKey};

/// Flask-WTF's CSRF tokens as a [`TokenScheme`]: the per-session secret is the session's
/// `csrf_token` (40 hex digits, shared with the Flask app), tokens are
/// `URLSafeTimedSerializer(SECRET_KEY, "wtf-csrf-token")` signatures of it. A token either
/// side issued passes the other's check, so a form the Flask app rendered can post to a
/// sessionwarden route and back.
///
/// The key is `WTF_CSRF_SECRET_KEY` if the Flask app sets one, else `SECRET_KEY`; Flask-WTF
/// ignores `SECRET_KEY_FALLBACKS`, so after a rotation old tokens fail on both sides (pages
/// fetch a new one). The time limit is the [`sessionwarden_tower::CsrfLayer`]'s maximum age
/// (Flask-WTF's `WTF_CSRF_TIME_LIMIT` default is the same hour). sessionwarden's keyring is
/// not used.
///
/// ```
/// use sessionwarden_tower::CsrfLayer;
/// use sessionwarden_flask::{SecretKey, adapter::FlaskWtfTokens};
/// let csrf = CsrfLayer::new().with_token_scheme(FlaskWtfTokens::new(SecretKey::from("the Flask SECRET_KEY")));
/// # let _ = csrf;
/// ```
#[derive(Debug, Clone)]
pub struct FlaskWtfTokens {
    codec: CsrfCodec,
}

impl FlaskWtfTokens {
    /// Tokens signed with `secret_key` (`WTF_CSRF_SECRET_KEY`, else `SECRET_KEY`).
    #[must_use]
    pub fn new(secret_key: SecretKey) -> Self {
        Self { codec: CsrfCodec::new(secret_key) }
    }
}

impl TokenScheme for FlaskWtfTokens {
    fn session_key(&self) -> &'static str {
        CSRF_SESSION_KEY
    }

    fn new_secret(&self) -> Result<Value, SwError> {
        let raw = CsrfRawToken::try_generate().map_err(|_| SwError::Random)?;
        Ok(Value::String(raw.as_str().to_owned()))
    }

    fn issue(&self, _keys: &KeySet, secret: &Value, now: Timestamp) -> Result<CsrfToken, SwError> {
        let raw = secret.as_str().and_then(|s| CsrfRawToken::parse(s).ok()).ok_or_else(|| {
            SwError::Deserialize {
                key: CSRF_SESSION_KEY.to_owned(),
                source: serde::de::Error::custom("csrf_token is not 40 lowercase hex digits"),
            }
        })?;
        Ok(CsrfToken::from_issued(self.codec.issue(&raw, unix_u64(now))))
    }

    fn verify(
        &self,
        _keys: &KeySet,
        secret: &Value,
        token: &str,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<(), CsrfRejectReason> {
        let codec = self.codec.clone().with_time_limit(Some(max_age.as_secs()));
        codec.validate(Some(token), secret.as_str(), unix_u64(now)).map_err(|e| match e {
            Error::CsrfTokenMissing => CsrfRejectReason::TokenMissing,
            Error::CsrfSessionTokenMissing => CsrfRejectReason::NoSession,
            Error::Expired { .. } | Error::FromFuture { .. } => CsrfRejectReason::TokenExpired,
            Error::BadSignature | Error::CsrfTokenMismatch => CsrfRejectReason::TokenWrongSession,
            _ => CsrfRejectReason::TokenMalformed,
        })
    }
}
