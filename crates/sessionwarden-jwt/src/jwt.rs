//! Issuing and verifying access tokens.
//!
//! # How verification uses `jsonwebtoken`
//!
//! Only for the signature primitives (`jsonwebtoken::crypto::{sign, verify}`), never for
//! `decode` and its `Validation`. Reasons:
//!
//! - `Validation` reads the system clock for `exp`/`nbf`; we need one injected `now` so the
//!   leeway boundary is exact in tests and one verification uses one instant.
//! - Before 10.3 its claim parsing read a string-typed `exp`/`nbf` as absent (CVE-2026-25537).
//!   Doing the claim checks here, on a typed parse that refuses anything but a JSON integer,
//!   keeps that class of bug out no matter the dependency version.
//! - It has no notion of `typ` = `at+jwt`, `crit`, `kid` syntax, or "the `kid` picks the key and
//!   the key picks the algorithm".
//!
//! So the order is: length cap → compact shape → header (ours: `alg` allowlist, `typ`, `crit`,
//! `kid` syntax, `kid` → exactly one key, `alg` == that key's algorithm) → signature over the
//! exact received bytes (jsonwebtoken's primitive, with a key whose algorithm we fixed) →
//! payload parsed only after the signature verified → claims checked against `now`.
//! Header members we do not use (`jwk`, `jku`, `x5u`, `x5c`, …) are never read, so nothing is
//! ever fetched and no key ever comes from the token.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::claims::{AccessClaims, AccessTokenRequest, Confirmation, IssuedAccessToken};
use crate::config::{Clock, JwtConfig, MAX_TOKEN_LEN, SystemClock};
use crate::key::{JwtKey, JwtKeySet, kid_is_valid};
use crate::revocation::{RevocationQuery, Revocations};
use crate::{JwtAlgorithm, JwtError};

/// The `typ` of the Security Event Tokens [`Jwt::sign_security_event`] signs (RFC 8417 §2.3).
pub const SECURITY_EVENT_TYPE: &str = "secevent+jwt";

/// The `typ` we issue and require (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Issues and verifies access tokens under one key set and one policy.
///
/// Cheap to share behind an `Arc`; verification takes `&self`.
///
/// ```
/// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet};
/// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?), JwtConfig::default())?;
/// let now = 1_700_000_000;
/// let issued = jwt.issue_at(&AccessTokenRequest::new("alice").with_sid("h1"), now)?;
/// let claims = jwt.verify_at(issued.token(), now + 10)?;
/// assert_eq!(claims.sub(), "alice");
/// assert_eq!(claims.sid(), Some("h1"));
/// // An hour later (plus the 30 s leeway), it has expired.
/// let err = jwt.verify_at(issued.token(), now + 3600 + 30).unwrap_err();
/// assert_eq!(err.reason(), "expired");
/// # Ok::<(), sessionwarden_jwt::JwtError>(())
/// ```
pub struct Jwt {
    // invariant: keys[0] is the signing key and can sign; kids are unique and syntactically
    // valid; no kid is in `retired`; every key's algorithm is in config.algorithms.
    keys: Vec<JwtKey>,
    retired: Vec<String>,
    config: JwtConfig,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwt")
            .field("keys", &self.keys)
            .field("retired", &self.retired)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Jwt {
    /// Builds an issuer/verifier, checking the key set against the policy.
    ///
    /// # Errors
    /// [`JwtError::Config`] if the policy is out of bounds ([`JwtConfig::validate`]), two keys
    /// share a `kid`, a retired `kid` is also a live key, the signing key has no private
    /// material, or a key's algorithm is not in the allowlist. [`JwtError::KidInvalid`] if a
    /// retired `kid` has the wrong syntax.
    ///
    /// ```
    /// use sessionwarden_jwt::{Jwt, JwtConfig, JwtKey, JwtKeySet};
    /// // EdDSA keys need EdDSA in the allowlist: the default allows HS256 only.
    /// let keys = || Ok::<_, sessionwarden_jwt::JwtError>(
    ///     JwtKeySet::single(JwtKey::ed25519_from_seed("e1", [1u8; 32])?));
    /// assert!(Jwt::new(keys()?, JwtConfig::default()).is_err());
    /// let config = JwtConfig::default().with_algorithms([sessionwarden_jwt::JwtAlgorithm::EdDsa]);
    /// assert!(Jwt::new(keys()?, config).is_ok());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn new(keys: JwtKeySet, config: JwtConfig) -> Result<Self, JwtError> {
        config.validate()?;
        let JwtKeySet { signing, verifying, retired_kids } = keys;
        if !signing.can_sign() {
            return Err(JwtError::Config { what: "signing key has no private material" });
        }
        let mut all = Vec::with_capacity(1 + verifying.len());
        all.push(signing);
        all.extend(verifying);
        for (i, key) in all.iter().enumerate() {
            if !config.algorithms.contains(&key.algorithm()) {
                return Err(JwtError::Config { what: "a key's algorithm is not in the algorithm allowlist" });
            }
            if all[..i].iter().any(|k| k.kid() == key.kid()) {
                return Err(JwtError::Config { what: "two keys share a kid" });
            }
            if retired_kids.iter().any(|r| r == key.kid()) {
                return Err(JwtError::Config { what: "a retired kid is also a live key" });
            }
        }
        if !retired_kids.iter().all(|k| kid_is_valid(k)) {
            return Err(JwtError::KidInvalid);
        }
        Ok(Self { keys: all, retired: retired_kids, config, clock: Arc::new(SystemClock) })
    }

    /// Replaces the clock (the system clock by default) used by [`Jwt::issue`] and
    /// [`Jwt::verify`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// use sessionwarden_jwt::{Clock, Jwt, JwtConfig, JwtKey, JwtKeySet};
    /// struct Fixed;
    /// impl Clock for Fixed { fn now(&self) -> u64 { 1_000 } }
    /// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?), JwtConfig::default())?
    ///     .with_clock(Arc::new(Fixed));
    /// assert_eq!(jwt.now(), 1_000);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The current time from the configured clock.
    #[must_use]
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The policy.
    #[must_use]
    pub fn config(&self) -> &JwtConfig {
        &self.config
    }

    /// The `kid` new tokens are signed with.
    #[must_use]
    pub fn signing_kid(&self) -> &str {
        self.signing_key().kid()
    }

    fn signing_key(&self) -> &JwtKey {
        // invariant: `new` always pushes the signing key first, so `keys` is never empty.
        &self.keys[0]
    }

    /// Issues an access token at the clock's current time.
    ///
    /// # Errors
    /// As [`Jwt::issue_at`].
    pub fn issue(&self, request: &AccessTokenRequest) -> Result<IssuedAccessToken, JwtError> {
        self.issue_at(request, self.clock.now())
    }

    /// Issues an access token with `iat` = `nbf` = `now` and a random 128-bit `jti`.
    ///
    /// # Errors
    /// [`JwtError::MissingClaim`] if `sub` is empty; [`JwtError::Random`] if the OS RNG fails;
    /// [`JwtError::Signing`] if the crypto backend fails.
    ///
    /// ```
    /// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet};
    /// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?), JwtConfig::default())?;
    /// let a = jwt.issue_at(&AccessTokenRequest::new("bob"), 100)?;
    /// let b = jwt.issue_at(&AccessTokenRequest::new("bob"), 100)?;
    /// assert_ne!(a.jti(), b.jti());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn issue_at(&self, request: &AccessTokenRequest, now: u64) -> Result<IssuedAccessToken, JwtError> {
        let jti = crate::random_b64::<16>()?;
        self.issue_with_jti(request, now, jti)
    }

    pub(crate) fn issue_with_jti(
        &self,
        request: &AccessTokenRequest,
        now: u64,
        jti: String,
    ) -> Result<IssuedAccessToken, JwtError> {
        if request.sub.is_empty() {
            return Err(JwtError::MissingClaim { claim: "sub" });
        }
        let exp = now
            .checked_add(self.config.access_ttl)
            .ok_or(JwtError::Config { what: "access-token expiry overflows" })?;
        let key = self.signing_key();
        let header = OutHeader { alg: key.algorithm().as_str(), typ: ACCESS_TOKEN_TYPE, kid: key.kid() };
        let claims = OutClaims {
            iss: &self.config.issuer,
            sub: &request.sub,
            aud: &self.config.audience,
            exp,
            nbf: now,
            iat: now,
            jti: &jti,
            sid: request.sid.as_deref(),
            cnf: request.cnf.as_ref(),
        };
        let token = sign_compact(key, &header, &claims, 256)?;
        Ok(IssuedAccessToken { token, jti, issued_at: now, expires_at: exp })
    }

    /// Signs a Security Event Token (RFC 8417) with the signing key: header `typ:
    /// secevent+jwt` (RFC 8417 §2.3), `alg` and `kid` as for access tokens, and `claims` as
    /// given (the caller sets `iss`, `iat`, `jti`, `events`, …). A SET is not an access token:
    /// [`Jwt::verify`] refuses it by its `typ`, so one can never be replayed as a bearer token.
    ///
    /// # Errors
    /// [`JwtError::Signing`] if the claims do not serialise or the crypto backend fails.
    ///
    /// ```
    /// use sessionwarden_jwt::{Jwt, JwtConfig, JwtKey, JwtKeySet};
    /// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?), JwtConfig::default())?;
    /// let set = jwt.sign_security_event(&serde_json::json!({"iss": "https://a.example", "events": {}}))?;
    /// assert!(jwt.verify(&set).is_err(), "not an access token");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn sign_security_event(&self, claims: &Value) -> Result<String, JwtError> {
        let key = self.signing_key();
        let header = OutHeader { alg: key.algorithm().as_str(), typ: SECURITY_EVENT_TYPE, kid: key.kid() };
        sign_compact(key, &header, claims, 512)
    }

    /// Verifies signature and claims at the clock's current time. Does not consult revocations:
    /// see [`Jwt::verify_unrevoked`].
    ///
    /// # Errors
    /// As [`Jwt::verify_at`].
    pub fn verify(&self, token: &str) -> Result<AccessClaims, JwtError> {
        self.verify_at(token, self.clock.now())
    }

    /// Verifies a compact access token at `now` (unix seconds): shape, header policy,
    /// signature, then claims. Does not consult revocations.
    ///
    /// With leeway `L`: expired when `now >= exp + L`; not yet valid when `now + L < nbf`;
    /// refused when `iat > now + L`.
    ///
    /// # Errors
    /// The [`JwtError`] naming the first check that failed; see [`JwtError::reason`].
    ///
    /// ```
    /// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet};
    /// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?), JwtConfig::default())?;
    /// let err = jwt.verify_at("not.a.token", 0).unwrap_err();
    /// assert_eq!(err.reason(), "malformed");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn verify_at(&self, token: &str, now: u64) -> Result<AccessClaims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::TooLarge { len: token.len(), max: MAX_TOKEN_LEN });
        }
        if token.trim_start().starts_with('{') {
            // JWS JSON serialization (RFC 7515 §7.2): never accepted.
            return Err(JwtError::NotCompact);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed { part: "structure" });
        };

        let key = self.check_header(header_b64)?;

        if signature_b64.is_empty() {
            return Err(JwtError::BadSignature);
        }
        // Strict base64url here so a non-canonical signature encoding (trailing bits, padding)
        // is refused the same way whichever backend decodes it.
        if URL_SAFE_NO_PAD.decode(signature_b64).is_err() {
            return Err(JwtError::Malformed { part: "signature" });
        }
        // invariant: the three parts are subslices of `token` separated by single dots, so the
        // signing input `header.payload` is this prefix.
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        let verified = jsonwebtoken::crypto::verify(
            signature_b64,
            signing_input.as_bytes(),
            key.decoding(),
            key.algorithm().jsonwebtoken(),
        )
        .unwrap_or(false);
        if !verified {
            return Err(JwtError::BadSignature);
        }

        // Only now, with the signature checked, is the payload parsed.
        let payload = decode_part(payload_b64, "payload")?;
        let raw: RawClaims =
            serde_json::from_slice(&payload).map_err(|_| JwtError::Malformed { part: "payload" })?;
        self.check_claims(raw, key, now)
    }

    /// [`Jwt::verify`], then one revocation lookup.
    ///
    /// # Errors
    /// As [`Jwt::verify_unrevoked_at`].
    pub async fn verify_unrevoked(
        &self,
        token: &str,
        revocations: &dyn Revocations,
    ) -> Result<AccessClaims, JwtError> {
        self.verify_unrevoked_at(token, self.clock.now(), revocations).await
    }

    /// [`Jwt::verify_at`], then exactly one [`Revocations::check`] call answering "is the `jti`
    /// denied, is the session revoked, was the user cut off after this token's `iat`?".
    ///
    /// # Errors
    /// As [`Jwt::verify_at`], plus [`JwtError::Revoked`], or [`JwtError::Store`] if the
    /// revocation store fails (fail closed).
    ///
    /// ```
    /// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet,
    ///     MemoryRevocations, Revocations};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32])?), JwtConfig::default())?;
    /// let revocations = MemoryRevocations::new();
    /// let issued = jwt.issue_at(&AccessTokenRequest::new("alice"), 1_000)?;
    /// assert!(jwt.verify_unrevoked_at(issued.token(), 1_001, &revocations).await.is_ok());
    /// revocations.revoke_jti(issued.jti(), issued.expires_at()).await?;
    /// let err = jwt.verify_unrevoked_at(issued.token(), 1_002, &revocations).await.unwrap_err();
    /// assert_eq!(err.reason(), "revoked");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
    /// ```
    pub async fn verify_unrevoked_at(
        &self,
        token: &str,
        now: u64,
        revocations: &dyn Revocations,
    ) -> Result<AccessClaims, JwtError> {
        let claims = self.verify_at(token, now)?;
        let query = RevocationQuery {
            jti: &claims.jti,
            sub: &claims.sub,
            sid: claims.sid.as_deref(),
            iat: claims.iat,
            now,
        };
        match revocations.check(&query).await? {
            None => Ok(claims),
            Some(by) => Err(JwtError::Revoked { by }),
        }
    }

    /// The public keys as a JWKS document (RFC 7517 §5): every live EdDSA and ES256 key, the
    /// signing key first. HS256 keys are secret and never listed; retired keys are gone.
    ///
    /// ```
    /// use sessionwarden_jwt::{JwtAlgorithm, Jwt, JwtConfig, JwtKey, JwtKeySet};
    /// let keys = JwtKeySet {
    ///     signing: JwtKey::ed25519_from_seed("e2", [2u8; 32])?,
    ///     verifying: vec![JwtKey::es256_from_seed("p1", [1u8; 32])?],
    ///     retired_kids: vec![],
    /// };
    /// let config = JwtConfig::default().with_algorithms([JwtAlgorithm::EdDsa, JwtAlgorithm::Es256]);
    /// let jwks = Jwt::new(keys, config)?.jwks();
    /// assert_eq!(jwks["keys"][0]["kid"], "e2");
    /// assert_eq!(jwks["keys"][1]["alg"], "ES256");
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn jwks(&self) -> Value {
        let keys: Vec<Value> = self.keys.iter().filter_map(JwtKey::public_jwk).collect();
        serde_json::json!({ "keys": keys })
    }

    /// [`Jwt::jwks`] as a JSON string, for `GET /.well-known/jwks.json`.
    #[must_use]
    pub fn jwks_json(&self) -> String {
        self.jwks().to_string()
    }

    fn check_header(&self, header_b64: &str) -> Result<&JwtKey, JwtError> {
        let header = decode_part(header_b64, "header")?;
        let raw: RawHeader =
            serde_json::from_slice(&header).map_err(|_| JwtError::Malformed { part: "header" })?;

        let Some(Value::String(alg)) = raw.alg else {
            return Err(JwtError::Malformed { part: "header" });
        };
        if alg.trim().eq_ignore_ascii_case("none") {
            return Err(JwtError::AlgNone);
        }
        let alg = match JwtAlgorithm::from_alg(&alg) {
            Some(alg) if self.config.algorithms.contains(&alg) => alg,
            _ => return Err(JwtError::AlgNotAllowed),
        };

        // RFC 9068 §4: `typ` must be "at+jwt" or "application/at+jwt"; media types compare
        // case-insensitively (RFC 7515 §4.1.9).
        match raw.typ {
            Some(Value::String(typ))
                if typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
                    || typ.eq_ignore_ascii_case("application/at+jwt") => {}
            _ => return Err(JwtError::WrongType),
        }

        if raw.crit.is_some() {
            return Err(JwtError::CritUnsupported);
        }

        let kid = match raw.kid {
            None => return Err(JwtError::KidMissing),
            Some(Value::String(kid)) if kid_is_valid(&kid) => kid,
            Some(_) => return Err(JwtError::KidInvalid),
        };
        let Some(key) = self.keys.iter().find(|k| k.kid() == kid) else {
            return Err(if self.retired.contains(&kid) {
                JwtError::KidRetired
            } else {
                JwtError::KidUnknown
            });
        };
        // The kid picked the key; the key fixes the algorithm. A token that names an EdDSA key
        // but says HS256 is an algorithm-confusion attempt.
        if key.algorithm() != alg {
            return Err(JwtError::AlgMismatch);
        }
        Ok(key)
    }

    fn check_claims(&self, raw: RawClaims, key: &JwtKey, now: u64) -> Result<AccessClaims, JwtError> {
        let exp = numeric(raw.exp, "exp")?.ok_or(JwtError::MissingClaim { claim: "exp" })?;
        let iat = numeric(raw.iat, "iat")?.ok_or(JwtError::MissingClaim { claim: "iat" })?;
        let nbf = numeric(raw.nbf, "nbf")?;
        let iss = string(raw.iss, "iss")?.ok_or(JwtError::MissingClaim { claim: "iss" })?;
        let sub = string(raw.sub, "sub")?
            .filter(|s| !s.is_empty())
            .ok_or(JwtError::MissingClaim { claim: "sub" })?;
        let jti = string(raw.jti, "jti")?
            .filter(|s| !s.is_empty())
            .ok_or(JwtError::MissingClaim { claim: "jti" })?;
        let sid = string(raw.sid, "sid")?;
        let aud = match raw.aud {
            None => return Err(JwtError::MissingClaim { claim: "aud" }),
            Some(Value::String(aud)) => vec![aud],
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err(JwtError::ClaimType { claim: "aud" }),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(JwtError::ClaimType { claim: "aud" }),
        };
        let cnf = match raw.cnf {
            None => None,
            Some(v @ Value::Object(_)) => Some(
                serde_json::from_value::<Confirmation>(v)
                    .map_err(|_| JwtError::ClaimType { claim: "cnf" })?,
            ),
            Some(_) => return Err(JwtError::ClaimType { claim: "cnf" }),
        };

        if iss != self.config.issuer {
            return Err(JwtError::WrongIssuer);
        }
        if !aud.contains(&self.config.audience) {
            return Err(JwtError::WrongAudience);
        }

        let leeway = self.config.leeway;
        // RFC 7519 §4.1.4: valid only while now is before exp (here: before exp + leeway).
        if now >= exp.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        // RFC 7519 §4.1.5: valid from nbf on (here: from nbf - leeway on).
        if nbf.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
            return Err(JwtError::NotYetValid);
        }
        if iat > now.saturating_add(leeway) {
            return Err(JwtError::IatInFuture);
        }

        Ok(AccessClaims { sub, iss, aud, exp, nbf, iat, jti, sid, cnf, kid: key.kid().to_owned() })
    }
}

fn decode_part(part: &str, name: &'static str) -> Result<Vec<u8>, JwtError> {
    // URL_SAFE_NO_PAD refuses padding, non-alphabet bytes and non-zero trailing bits, so each
    // token has exactly one accepted encoding.
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| JwtError::Malformed { part: name })?;
    // RFC 7515 §5.2 / RFC 7519 §7.2: the header and the claims set are UTF-8 JSON. serde_json
    // checks UTF-8 only in the strings it keeps: a string it skips (an unknown claim or header
    // member) may hold any bytes, so the whole part is checked here first.
    if std::str::from_utf8(&bytes).is_err() {
        return Err(JwtError::Malformed { part: name });
    }
    Ok(bytes)
}

/// A NumericDate (RFC 7519 §2) as we accept it: a non-negative JSON integer. Strings (the
/// CVE-2026-25537 shape), floats, negatives and `null` are type errors, never "absent".
fn numeric(value: Option<Value>, claim: &'static str) -> Result<Option<u64>, JwtError> {
    match value {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(JwtError::ClaimType { claim }),
        Some(_) => Err(JwtError::ClaimType { claim }),
    }
}

fn string(value: Option<Value>, claim: &'static str) -> Result<Option<String>, JwtError> {
    match value {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(JwtError::ClaimType { claim }),
    }
}

/// Keeps an explicit `null` as `Some(Value::Null)` so it is a type error, not "absent".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The header members we read. Everything else (`jwk`, `jku`, `x5u`, `x5c`, …) is skipped
/// unread. Derived `Deserialize` refuses duplicate members, so `{"alg":"HS256","alg":"none"}`
/// is malformed rather than "last one wins".
#[derive(Deserialize)]
struct RawHeader {
    #[serde(default, deserialize_with = "present")]
    alg: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    typ: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    kid: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct RawClaims {
    #[serde(default, deserialize_with = "present")]
    sub: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    iss: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    aud: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    exp: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    nbf: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    iat: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    jti: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    sid: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    cnf: Option<Value>,
}

#[derive(Serialize)]
struct OutHeader<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

#[derive(Serialize)]
struct OutClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Confirmation>,
}

/// `header.claims.signature` in JWS compact form, signed with `key`: the one place access
/// tokens and security event tokens are put together.
fn sign_compact<H: Serialize, C: Serialize + ?Sized>(
    key: &JwtKey,
    header: &H,
    claims: &C,
    capacity: usize,
) -> Result<String, JwtError> {
    // Serializing these structs of strings and integers cannot fail; map it anyway.
    let header = serde_json::to_vec(header).map_err(|_| JwtError::Signing)?;
    let claims = serde_json::to_vec(claims).map_err(|_| JwtError::Signing)?;
    let mut token = String::with_capacity(capacity);
    URL_SAFE_NO_PAD.encode_string(header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut token);
    let encoding = key.encoding().ok_or(JwtError::Signing)?;
    let signature = jsonwebtoken::crypto::sign(token.as_bytes(), encoding, key.algorithm().jsonwebtoken())
        .map_err(|_| JwtError::Signing)?;
    token.push('.');
    token.push_str(&signature);
    Ok(token)
}
