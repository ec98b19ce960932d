//! Strict JWT access tokens, rotating refresh tokens, revocation and JWKS for sessionwarden.
//!
//! - [`Jwt`] issues and verifies access tokens (RFC 9068 `at+jwt`) under a [`JwtKeySet`] and
//!   a [`JwtConfig`]: HS256 by default, EdDSA (Ed25519) and ES256 as options.
//! - [`RefreshManager`] issues opaque refresh tokens, rotates them on every use and revokes a
//!   whole family when a rotated token comes back ([`refresh`] explains the grace window).
//! - [`Revocations`] denylists tokens by `jti`, by session handle (`sid`), or per user before a
//!   cutoff, answered in one lookup.
//! - [`CachedRevocations`] puts a bounded local cache (at most 1 s) in front of a shared
//!   revocation store, so a fleet refuses a revoked token within a second.
//! - [`Jwt::jwks`] publishes the public keys (RFC 7517).
//! - With the `keyring` feature (on by default), [`keyring::KeyringTokens`] runs all of it
//!   under a sessionwarden keyring, following its reloads, and [`keyring::Bearer`] extracts
//!   verified claims in axum. Without it the crate does not depend on sessionwarden.
//!
//! # Verification policy
//!
//! Every check is on and none can be turned off:
//!
//! | check | refusal ([`JwtError::reason`]) |
//! | --- | --- |
//! | at most 8 KiB, before parsing | `too_large` |
//! | compact serialization only; JSON serialization refused | `not_compact`, `malformed` |
//! | `alg` not `none` in any spelling | `alg_none` |
//! | `alg` in the explicit allowlist | `alg_not_allowed` |
//! | `typ` is `at+jwt` (RFC 9068) | `wrong_type` |
//! | no `crit` | `crit_unsupported` |
//! | `kid` present, 1–64 of `[A-Za-z0-9_-]`, names exactly one live key | `kid_missing`, `kid_invalid`, `kid_unknown`, `kid_retired` |
//! | `alg` equals that key's algorithm (no key confusion) | `alg_mismatch` |
//! | signature | `bad_signature` |
//! | `exp`, `iat`, `iss`, `aud`, `sub`, `jti` present; times are JSON integers | `missing_claim`, `claim_type` |
//! | `iss`, `aud` equal the configured ones (default `sessionwarden`) | `wrong_issuer`, `wrong_audience` |
//! | `now < exp + leeway`, `nbf - leeway <= now`, `iat <= now + leeway` | `expired`, `not_yet_valid`, `iat_in_future` |
//! | not revoked (with [`Jwt::verify_unrevoked`]) | `revoked` |
//!
//! Header members `jwk`, `jku`, `x5u` and `x5c` are never read: keys come only from the key set,
//! and nothing is ever fetched. Time comes from an injectable [`Clock`], or an explicit `now`.
//!
//! # Example
//!
//! ```
//! use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet};
//!
//! // For sessionwarden: kid = the keyring key id, secret = its HKDF "JWT HS256" subkey.
//! let keys = JwtKeySet::single(JwtKey::hs256("3", &[0x42; 32])?);
//! let jwt = Jwt::new(keys, JwtConfig::default())?;
//!
//! let issued = jwt.issue(&AccessTokenRequest::new("alice").with_sid("sess-handle-1"))?;
//! let claims = jwt.verify(issued.token())?;
//! assert_eq!(claims.sub(), "alice");
//!
//! // A token signed with some other secret: the caller answers 401 and sends `reason()` to a
//! // security event.
//! let other = Jwt::new(JwtKeySet::single(JwtKey::hs256("3", &[0x43; 32])?), JwtConfig::default())?;
//! let forged = other.issue(&AccessTokenRequest::new("admin"))?;
//! let err = jwt.verify(forged.token()).unwrap_err();
//! assert_eq!(err.reason(), "bad_signature");
//! # Ok::<(), sessionwarden_jwt::JwtError>(())
//! ```

mod cached;
mod claims;
mod config;
mod error;
mod jwt;
mod key;
#[cfg(feature = "keyring")]
pub mod keyring;
pub mod refresh;
mod revocation;

pub use self::cached::{CachedRevocations, MAX_REVOCATION_CACHE_TTL};
pub use self::claims::{AccessClaims, AccessTokenRequest, Confirmation, IssuedAccessToken};
pub use self::config::{Clock, JwtConfig, MAX_LEEWAY, MAX_TOKEN_LEN, SystemClock};
pub use self::error::{BoxError, JwtError};
pub use self::jwt::{ACCESS_TOKEN_TYPE, Jwt, SECURITY_EVENT_TYPE};
pub use self::key::{JwtAlgorithm, JwtKey, JwtKeySet, MAX_KID_LEN, MIN_HS256_SECRET_LEN, kid_is_valid};
pub use self::refresh::{
    FamilyId, FamilyRecord, MemoryRefreshStore, RefreshConfig, RefreshManager, RefreshStore, RefreshToken,
    TokenHash, TokenPair, TokenRecord, TokenState,
};
pub use self::revocation::{MemoryRevocations, RevocationQuery, Revocations, RevokedBy};

/// `N` random bytes from the OS, base64url.
fn random_b64<const N: usize>() -> Result<String, JwtError> {
    use base64::Engine as _;
    let mut bytes = zeroize::Zeroizing::new([0u8; N]);
    getrandom::getrandom(bytes.as_mut()).map_err(|_| JwtError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// Entry points for `cargo fuzz` targets (STYLE.md item 14). Not API: no stability promise.
#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzzing;
