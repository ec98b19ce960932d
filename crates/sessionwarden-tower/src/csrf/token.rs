//! Session-bound, time-limited, masked CSRF tokens.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum_core::extract::FromRequestParts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use http::request::Parts;
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use super::layer::Config;
use super::rejection::CsrfRejectReason;
use crate::error::Error;
use crate::keyring::{KeyId, KeyLookupError, KeySet};
use crate::session::Session;
use crate::time::Timestamp;

/// The session key that holds the per-session CSRF secret. Reserved: applications must not
/// write it (a server that lets clients merge arbitrary keys into the session should refuse
/// this one).
pub const SESSION_KEY: &str = "_csrf";

/// How long a token stays valid by default: one hour, Flask-WTF's `WTF_CSRF_TIME_LIMIT`.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);

/// How far in the future a token's issue time may lie (clock skew across a fleet).
const CLOCK_SKEW: i64 = 60;

const VERSION: u8 = 1;
const SECRET_LEN: usize = 32;
const MAC_LEN: usize = 32;
/// version ‖ kid ‖ iat ‖ mac
const RAW_LEN: usize = 1 + 4 + 8 + MAC_LEN;
/// mask ‖ masked raw
const TOKEN_BYTES: usize = 2 * RAW_LEN;
/// The length of a v1 token string (base64url of 90 bytes, unpadded).
pub const TOKEN_LEN: usize = TOKEN_BYTES.div_ceil(3) * 4;
const MAC_LABEL: &[u8] = b"sessionwarden/v1/csrf-token\0";

/// A CSRF token as sent to a client: put it in a form's `csrf_token` field or a
/// `X-CSRF-Token` header.
///
/// As an extractor it issues a fresh token for the request's session (creating the
/// session's CSRF secret, and so the session, on first use). `Debug` is redacted; `==` is
/// constant-time.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use axum::{Router, routing::get};
/// use sessionwarden::csrf::CsrfToken;
///
/// async fn form(token: CsrfToken) -> String {
///     format!(r#"<form method="post"><input type="hidden" name="csrf_token" value="{}">"#, token.as_str())
/// }
/// let app: Router = Router::new().route("/form", get(form));
/// # let _ = app;
/// ```
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct CsrfToken(String);

impl CsrfToken {
    /// The token text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The token text, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }

    /// Wraps a token another [`TokenScheme`] issued (for implementations outside this crate,
    /// such as `sessionwarden-flask`'s Flask-WTF tokens).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// let token = sessionwarden::csrf::CsrfToken::from_issued("abc".to_owned());
    /// assert_eq!(token.as_str(), "abc");
    /// ```
    #[must_use]
    pub fn from_issued(token: String) -> Self {
        Self(token)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

impl PartialEq for CsrfToken {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for CsrfToken {}

/// How tokens are made from a session's secret and checked. The seam for other formats:
/// Flask-WTF's `itsdangerous` tokens, for a server that shares sessions with a Flask app,
/// will be a second implementation (not written yet).
pub trait TokenScheme: Send + Sync + fmt::Debug + 'static {
    /// The session key that holds the per-session secret.
    fn session_key(&self) -> &'static str;

    /// A fresh per-session secret, as stored in the session.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails.
    fn new_secret(&self) -> Result<Value, Error>;

    /// A token for `secret`, issued at `now` under the keyring's primary key.
    ///
    /// # Errors
    /// [`Error::Random`] if the OS random number generator fails.
    fn issue(&self, keys: &KeySet, secret: &Value, now: Timestamp) -> Result<CsrfToken, Error>;

    /// Checks `token` against `secret`.
    ///
    /// # Errors
    /// The [`CsrfRejectReason`] for the event.
    fn verify(
        &self,
        keys: &KeySet,
        secret: &Value,
        token: &str,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<(), CsrfRejectReason>;
}

/// sessionwarden's own token format, v1 (see the [module guide](super) for the bytes).
#[derive(Debug, Clone, Copy, Default)]
pub struct MaskedHmacTokens;

impl TokenScheme for MaskedHmacTokens {
    fn session_key(&self) -> &'static str {
        SESSION_KEY
    }

    fn new_secret(&self) -> Result<Value, Error> {
        let mut secret = Zeroizing::new([0u8; SECRET_LEN]);
        getrandom::fill(secret.as_mut()).map_err(|_| Error::Random)?;
        Ok(Value::String(URL_SAFE_NO_PAD.encode(secret.as_ref())))
    }

    fn issue(&self, keys: &KeySet, secret: &Value, now: Timestamp) -> Result<CsrfToken, Error> {
        let mut mask = [0u8; RAW_LEN];
        getrandom::fill(&mut mask).map_err(|_| Error::Random)?;
        let secret = decode_secret(secret).ok_or(Error::Deserialize {
            key: SESSION_KEY.to_owned(),
            source: serde::de::Error::custom("CSRF secret is not 32 base64url bytes"),
        })?;
        Ok(issue_masked(keys, &secret, now, &mask))
    }

    fn verify(
        &self,
        keys: &KeySet,
        secret: &Value,
        token: &str,
        now: Timestamp,
        max_age: Duration,
    ) -> Result<(), CsrfRejectReason> {
        let secret = decode_secret(secret).ok_or(CsrfRejectReason::NoSession)?;
        verify_v1(keys, &secret, token, now, max_age)
    }
}

fn decode_secret(v: &Value) -> Option<Zeroizing<[u8; SECRET_LEN]>> {
    let s = v.as_str()?;
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(s).ok()?);
    let mut out = Zeroizing::new([0u8; SECRET_LEN]);
    if bytes.len() != SECRET_LEN {
        return None;
    }
    out.copy_from_slice(&bytes);
    Some(out)
}

fn mac(
    keys: &KeySet,
    kid: KeyId,
    secret: &[u8; SECRET_LEN],
    iat: i64,
) -> Result<Hmac<Sha256>, KeyLookupError> {
    // The key's pre-keyed state (same as keying with `csrf_subkey()`, two compressions less).
    let mut mac = keys.find(kid)?.csrf_mac.clone();
    mac.update(MAC_LABEL);
    mac.update(&kid.get().to_be_bytes());
    mac.update(&iat.to_be_bytes());
    mac.update(secret);
    Ok(mac)
}

/// Issues a v1 token with a given mask (random in production, fixed in the frozen vector).
pub(crate) fn issue_masked(
    keys: &KeySet,
    secret: &[u8; SECRET_LEN],
    now: Timestamp,
    mask: &[u8; RAW_LEN],
) -> CsrfToken {
    let kid = keys.primary().id();
    let mut raw = [0u8; RAW_LEN];
    raw[0] = VERSION;
    raw[1..5].copy_from_slice(&kid.get().to_be_bytes());
    raw[5..13].copy_from_slice(&now.unix().to_be_bytes());
    // invariant: the primary key is always found
    let tag = mac(keys, kid, secret, now.unix()).expect("primary key").finalize().into_bytes();
    raw[13..].copy_from_slice(&tag);
    let mut out = [0u8; TOKEN_BYTES];
    out[..RAW_LEN].copy_from_slice(mask);
    for i in 0..RAW_LEN {
        out[RAW_LEN + i] = raw[i] ^ mask[i];
    }
    CsrfToken(URL_SAFE_NO_PAD.encode(out))
}

fn verify_v1(
    keys: &KeySet,
    secret: &[u8; SECRET_LEN],
    token: &str,
    now: Timestamp,
    max_age: Duration,
) -> Result<(), CsrfRejectReason> {
    if token.len() != TOKEN_LEN {
        return Err(CsrfRejectReason::TokenMalformed);
    }
    let mut bytes = [0u8; TOKEN_BYTES];
    match URL_SAFE_NO_PAD.decode_slice(token, &mut bytes) {
        Ok(TOKEN_BYTES) => {}
        _ => return Err(CsrfRejectReason::TokenMalformed),
    }
    let (mask, masked) = bytes.split_at(RAW_LEN);
    let mut raw = [0u8; RAW_LEN];
    for i in 0..RAW_LEN {
        raw[i] = masked[i] ^ mask[i];
    }
    if raw[0] != VERSION {
        return Err(CsrfRejectReason::TokenMalformed);
    }
    // invariant: RAW_LEN fixes these ranges at 4 and 8 bytes
    let kid = u32::from_be_bytes(raw[1..5].try_into().expect("4 bytes"));
    let iat = i64::from_be_bytes(raw[5..13].try_into().expect("8 bytes"));
    let kid = KeyId::new(kid);
    let mac = mac(keys, kid, secret, iat).map_err(|_| CsrfRejectReason::TokenUnknownKey)?;
    // Constant-time comparison of the tag.
    mac.verify_slice(&raw[13..]).map_err(|_| CsrfRejectReason::TokenWrongSession)?;
    // Authentic from here on: the dates are ours.
    let age = now.unix().saturating_sub(iat);
    if age < -CLOCK_SKEW || age > i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX) {
        return Err(CsrfRejectReason::TokenExpired);
    }
    Ok(())
}

/// Issues a CSRF token for `session`, with sessionwarden's default token format. Creates
/// the session's CSRF secret (and so the session) on first use. Each call returns another
/// string (fresh mask, BREACH), and all of them verify until they expire or the secret is
/// rotated.
///
/// Behind a [`super::CsrfLayer`] configured with another [`TokenScheme`], use the
/// [`CsrfToken`] extractor instead: it follows the layer's scheme.
///
/// # Errors
/// [`Error::Store`] if the session cannot be loaded; [`Error::Random`] if the OS random
/// number generator fails.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// # async fn f(session: sessionwarden::Session) -> Result<(), sessionwarden::Error> {
/// let token = sessionwarden::csrf::token(&session).await?;
/// assert_ne!(token, sessionwarden::csrf::token(&session).await?);
/// # Ok(()) }
/// ```
pub async fn token(session: &Session) -> Result<CsrfToken, Error> {
    token_with(session, &MaskedHmacTokens).await
}

pub(crate) async fn token_with(session: &Session, scheme: &dyn TokenScheme) -> Result<CsrfToken, Error> {
    let key = scheme.session_key();
    let secret = match session.get_value(key).await? {
        Some(secret) => secret,
        None => {
            let secret = scheme.new_secret()?;
            session.insert(key, &secret).await?;
            secret
        }
    };
    let shared = session.shared();
    let token = scheme.issue(&shared.keyring.current(), &secret, shared.now())?;
    // The token is a secret of this session: the response that carries it is never cached.
    session.mark_uncacheable();
    Ok(token)
}

/// Replaces the session's CSRF secret: every token issued before stops verifying. Call it
/// at login (with [`Session::cycle_id`]) so a token planted before login is worthless after.
/// The next [`token`] makes the new secret.
///
/// # Errors
/// [`Error::Store`] if the session cannot be loaded.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// # async fn f(session: sessionwarden::Session) -> Result<(), sessionwarden::Error> {
/// session.cycle_id().await?;
/// sessionwarden::csrf::rotate(&session).await?;
/// let fresh = sessionwarden::csrf::token(&session).await?;
/// # let _ = fresh; Ok(()) }
/// ```
pub async fn rotate(session: &Session) -> Result<(), Error> {
    session.remove::<Value>(SESSION_KEY).await.map(drop)
}

/// Issues and rotates tokens the way the [`super::CsrfLayer`] in front of the handler checks
/// them (its [`TokenScheme`]), for handlers such as login that must do both.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::csrf::CsrfTokens;
/// async fn login(tokens: CsrfTokens, session: sessionwarden::Session) -> Result<String, sessionwarden::Error> {
///     session.cycle_id().await?;
///     tokens.rotate().await?;
///     Ok(tokens.token().await?.into_string())
/// }
/// ```
#[derive(Clone)]
pub struct CsrfTokens {
    session: Session,
    scheme: Arc<dyn TokenScheme>,
}

impl fmt::Debug for CsrfTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CsrfTokens").field("scheme", &self.scheme).finish_non_exhaustive()
    }
}

impl CsrfTokens {
    /// A fresh token of this session (see [`token`]).
    ///
    /// # Errors
    /// As [`token`].
    pub async fn token(&self) -> Result<CsrfToken, Error> {
        token_with(&self.session, &*self.scheme).await
    }

    /// Replaces the session's CSRF secret (see [`rotate`]).
    ///
    /// # Errors
    /// As [`rotate`].
    pub async fn rotate(&self) -> Result<(), Error> {
        self.session.remove::<Value>(self.scheme.session_key()).await.map(drop)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfTokens {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<Session>().cloned().ok_or(Error::MissingLayer)?;
        let scheme: Arc<dyn TokenScheme> = match parts.extensions.get::<Arc<Config>>() {
            Some(config) => config.scheme.clone(),
            None => Arc::new(MaskedHmacTokens),
        };
        Ok(Self { session, scheme })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let session = parts.extensions.get::<Session>().cloned().ok_or(Error::MissingLayer)?;
        match parts.extensions.get::<Arc<Config>>() {
            Some(config) => token_with(&session, &*config.scheme).await,
            None => token(&session).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::{Key, KeyState};
    use hmac::KeyInit;

    /// A distinct, non-repeating 32-byte secret per id.
    fn secret_for(id: u32) -> [u8; 32] {
        std::array::from_fn(|i| (id as u8).wrapping_mul(31).wrapping_add(i as u8 * 7))
    }

    fn keys(ids: &[(u32, KeyState)]) -> KeySet {
        let keys = ids
            .iter()
            .map(|(id, st)| {
                Key::new(KeyId::new(*id), *st, Timestamp::from_unix(0), &secret_for(*id)).unwrap()
            })
            .collect();
        KeySet::new(keys, vec![KeyId::new(9)]).unwrap()
    }

    const T0: Timestamp = Timestamp::from_unix(1_800_000_000);
    const HOUR: Duration = DEFAULT_MAX_AGE;

    /// Frozen vector: changing the format must change this test.
    #[test]
    fn v1_frozen_vector() {
        let ks = keys(&[(1, KeyState::Primary)]);
        let secret = [7u8; SECRET_LEN];
        let mask = [0xa5u8; RAW_LEN];
        let t = issue_masked(&ks, &secret, T0, &mask);
        assert_eq!(t.as_str().len(), TOKEN_LEN);
        assert_eq!(TOKEN_LEN, 120);
        // Recompute the layout by hand: mask ‖ (1 ‖ kid ‖ iat ‖ HMAC) XOR mask.
        let subkey = ks.primary().csrf_subkey().expose();
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(subkey).unwrap();
        m.update(b"sessionwarden/v1/csrf-token\0");
        m.update(&1u32.to_be_bytes());
        m.update(&1_800_000_000i64.to_be_bytes());
        m.update(&secret);
        let tag = m.finalize().into_bytes();
        let mut raw = vec![1u8, 0, 0, 0, 1];
        raw.extend_from_slice(&1_800_000_000i64.to_be_bytes());
        raw.extend_from_slice(&tag);
        let mut expect = mask.to_vec();
        expect.extend(raw.iter().map(|b| b ^ 0xa5));
        assert_eq!(t.as_str(), URL_SAFE_NO_PAD.encode(&expect));
        assert_eq!(t.as_str(), FROZEN_V1);
        verify_v1(&ks, &secret, FROZEN_V1, T0, HOUR).unwrap();
    }

    /// Key 1 = `secret_for(1)` (bytes 31 + 7·i), secret = 32 bytes of 0x07,
    /// iat = 1_800_000_000, mask = 0xa5 × 45. (Until weak keys were refused, key 1 was 32 bytes
    /// of 0x01; only the tag changed with it.)
    const FROZEN_V1: &str = concat!(
        "paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpKWlpaSlpaWlzux3pd3ISv378Xmi",
        "DLJnpQem1eJQ1GDy_KWrahPAGhNcSv9n"
    );

    #[test]
    fn masks_differ_and_all_verify() {
        let ks = keys(&[(1, KeyState::Primary)]);
        let s = MaskedHmacTokens;
        let secret = s.new_secret().unwrap();
        let a = s.issue(&ks, &secret, T0).unwrap();
        let b = s.issue(&ks, &secret, T0).unwrap();
        assert_ne!(a, b);
        assert_ne!(a.as_str(), b.as_str());
        s.verify(&ks, &secret, a.as_str(), T0, HOUR).unwrap();
        s.verify(&ks, &secret, b.as_str(), T0, HOUR).unwrap();
        assert_eq!(format!("{a:?}"), "CsrfToken(..)");
    }

    #[test]
    fn rejections() {
        use CsrfRejectReason::*;
        let ks = keys(&[(1, KeyState::Primary)]);
        let s = MaskedHmacTokens;
        let secret = s.new_secret().unwrap();
        let other = s.new_secret().unwrap();
        let t = s.issue(&ks, &secret, T0).unwrap();
        let v = |tok: &str, sec: &Value, now: Timestamp| s.verify(&ks, sec, tok, now, HOUR);
        assert_eq!(v(t.as_str(), &other, T0), Err(TokenWrongSession));
        assert_eq!(v(t.as_str(), &secret, T0.plus(Duration::from_secs(3601))), Err(TokenExpired));
        assert_eq!(v(t.as_str(), &secret, T0.plus(Duration::from_secs(3600))), Ok(()));
        assert_eq!(v(t.as_str(), &secret, Timestamp::from_unix(T0.unix() - 61)), Err(TokenExpired));
        assert_eq!(v("", &secret, T0), Err(TokenMalformed));
        assert_eq!(v(&t.as_str()[1..], &secret, T0), Err(TokenMalformed));
        assert_eq!(v(&format!("{}=", &t.as_str()[1..]), &secret, T0), Err(TokenMalformed));
        assert_eq!(v(t.as_str(), &Value::Null, T0), Err(NoSession));
        // Flip one bit of the masked MAC: wrong session (tampered).
        let mut bytes = URL_SAFE_NO_PAD.decode(t.as_str()).unwrap();
        bytes[TOKEN_BYTES - 1] ^= 1;
        assert_eq!(v(&URL_SAFE_NO_PAD.encode(&bytes), &secret, T0), Err(TokenWrongSession));
        // Flip the version: malformed.
        let mut bytes = URL_SAFE_NO_PAD.decode(t.as_str()).unwrap();
        bytes[RAW_LEN] ^= 0x80;
        assert_eq!(v(&URL_SAFE_NO_PAD.encode(&bytes), &secret, T0), Err(TokenMalformed));
    }

    #[test]
    fn rotation_keeps_old_tokens_until_retired() {
        let s = MaskedHmacTokens;
        let secret = s.new_secret().unwrap();
        let old = keys(&[(1, KeyState::Primary)]);
        let t = s.issue(&old, &secret, T0).unwrap();
        let rotated = keys(&[(1, KeyState::Verify), (2, KeyState::Primary)]);
        assert_eq!(s.verify(&rotated, &secret, t.as_str(), T0, HOUR), Ok(()));
        let retired = keys(&[(2, KeyState::Primary)]);
        assert_eq!(s.verify(&retired, &secret, t.as_str(), T0, HOUR), Err(CsrfRejectReason::TokenUnknownKey));
    }
}
