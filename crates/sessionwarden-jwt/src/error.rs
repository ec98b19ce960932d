//! The crate's one error type.
//!
//! Invariant: no variant carries token bytes, claim values, key material or a parser message
//! (serde_json's messages quote the offending value, which would be attacker-chosen token
//! content). Variants carry only `&'static str` labels and lengths.

use std::error::Error as StdError;

/// A boxed error from a store backend.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a token, a key or a configuration was refused.
///
/// Callers answer every verification failure with one generic "unauthorized" (401) and send
/// [`JwtError::reason`] to a security event: the precise reason is for operators, not for the
/// client (no oracle for attackers).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token's `alg` header is `none` in some spelling (`none`, `None`, `NONE`, …).
    ///
    /// Unsigned tokens are never accepted. Treat as an attack.
    #[error("token uses the unsigned algorithm `none`; only signed tokens are accepted")]
    AlgNone,

    /// The token's `alg` is not in the configured allowlist.
    #[error("token algorithm is not in the allowlist")]
    AlgNotAllowed,

    /// The token's `alg` is allowed, but differs from the algorithm of the key its `kid` names.
    ///
    /// This is the signature of algorithm-confusion attacks (for example an HS256 token "signed"
    /// with an Ed25519 public key). Treat as an attack.
    #[error("token algorithm does not match the algorithm of the key it names")]
    AlgMismatch,

    /// The token has no `kid` header; every token we issue names its key.
    #[error("token header has no `kid`")]
    KidMissing,

    /// The `kid` header is not 1–64 characters of `[A-Za-z0-9_-]`.
    ///
    /// Often an injection probe (`../../dev/null`, `' OR 1=1 --`).
    #[error("token `kid` is not 1-64 characters of [A-Za-z0-9_-]")]
    KidInvalid,

    /// The `kid` names no key we know.
    ///
    /// After a key rotation this can be a token from a key that was removed without being listed
    /// as retired; otherwise a forgery attempt.
    #[error("token `kid` names no known key")]
    KidUnknown,

    /// The `kid` names a retired key; tokens signed with it are no longer accepted.
    #[error("token `kid` names a retired key")]
    KidRetired,

    /// The signature does not verify under the key the `kid` names (or is empty).
    #[error("token signature does not verify")]
    BadSignature,

    /// The token's `exp` (plus leeway) has passed.
    #[error("token has expired")]
    Expired,

    /// The token's `nbf` (minus leeway) is still in the future.
    #[error("token is not valid yet (`nbf` in the future)")]
    NotYetValid,

    /// The token's `iat` is further in the future than the leeway allows.
    ///
    /// Usually clock skew between issuer and verifier, or a forged token.
    #[error("token `iat` is in the future")]
    IatInFuture,

    /// The `iss` claim is not the configured issuer.
    #[error("token issuer is not the expected issuer")]
    WrongIssuer,

    /// The `aud` claim does not contain the configured audience.
    #[error("token audience does not contain the expected audience")]
    WrongAudience,

    /// The `typ` header is missing or is not `at+jwt` (RFC 9068).
    ///
    /// Refusing other types keeps ID tokens or other JWTs signed with the same key from being
    /// replayed as access tokens.
    #[error("token `typ` is not `at+jwt`")]
    WrongType,

    /// The `crit` header is present: we implement no JWS extensions, so per RFC 7515 §4.1.11 the
    /// token must be refused.
    #[error("token header lists critical extensions, none of which are supported")]
    CritUnsupported,

    /// A required claim is missing.
    #[error("token is missing the required claim `{claim}`")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },

    /// A claim has the wrong JSON type (for example `"exp": "123"`, a string where a
    /// NumericDate integer is required).
    #[error("token claim `{claim}` has the wrong JSON type")]
    ClaimType {
        /// The claim's name.
        claim: &'static str,
    },

    /// The token is longer than the limit and was refused before any parsing.
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// The token is not in JWS compact serialization (`header.payload.signature`).
    ///
    /// The JSON serialization (RFC 7515 §7.2) is never accepted.
    #[error("token is not in compact serialization")]
    NotCompact,

    /// A part of the token is not canonical base64url or not the JSON expected there.
    #[error("token {part} is malformed")]
    Malformed {
        /// Which part: `"header"`, `"payload"` or `"signature"`.
        part: &'static str,
    },

    /// The token is valid but was revoked (by `jti`, by session, or by a per-user cutoff).
    #[error("token was revoked ({by})")]
    Revoked {
        /// What revoked it.
        by: crate::RevokedBy,
    },

    /// The refresh token is unknown (never issued, malformed, or purged after expiry).
    #[error("refresh token is unknown")]
    RefreshUnknown,

    /// The refresh token's family (or the token itself) has expired; the user must log in.
    #[error("refresh token has expired")]
    RefreshExpired,

    /// The refresh token's family was revoked (after reuse, logout or an admin action).
    #[error("refresh token family was revoked")]
    RefreshRevoked,

    /// An already-rotated refresh token was presented outside the grace window.
    ///
    /// The whole family has been revoked. Answer 401 and record a `RefreshTokenReuse` security
    /// event: either the token was stolen or the client replays old tokens.
    #[error("refresh token was reused after rotation; its family has been revoked")]
    RefreshReuse,

    /// The refresh token is unused but was minted under a rotation key the manager no longer
    /// holds: for sessionwarden, a keyring key that has been retired.
    ///
    /// Retiring a key ends every refresh token it minted (the emergency-retirement drill). The
    /// family is left as it is (it expires); the user logs in again. Also the answer for a
    /// token whose tag was tampered with.
    #[error("refresh token was minted under a retired key")]
    RefreshKeyRetired,

    /// A key could not be built (secret too short, invalid seed) or used.
    #[error("invalid key: {what}")]
    InvalidKey {
        /// What was wrong.
        what: &'static str,
    },

    /// The configuration or key set is inconsistent.
    #[error("invalid configuration: {what}")]
    Config {
        /// What was wrong, with the bound that applies.
        what: &'static str,
    },

    /// Signing a token failed in the crypto backend.
    #[error("signing the token failed")]
    Signing,

    /// The OS random number generator failed.
    #[error("the OS random number generator failed")]
    Random,

    /// A refresh or revocation store could not complete an operation.
    ///
    /// Fail closed: the request gets 503, never a token.
    #[error("token store unavailable: {operation}")]
    Store {
        /// The operation that failed.
        operation: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl JwtError {
    /// A stable, short, machine-readable reason for security events and metrics labels.
    ///
    /// These strings are part of the API: they do not change between releases.
    ///
    /// ```
    /// use sessionwarden_jwt::JwtError;
    /// assert_eq!(JwtError::AlgNone.reason(), "alg_none");
    /// assert_eq!(JwtError::ClaimType { claim: "exp" }.reason(), "claim_type");
    /// ```
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::AlgNone => "alg_none",
            Self::AlgNotAllowed => "alg_not_allowed",
            Self::AlgMismatch => "alg_mismatch",
            Self::KidMissing => "kid_missing",
            Self::KidInvalid => "kid_invalid",
            Self::KidUnknown => "kid_unknown",
            Self::KidRetired => "kid_retired",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IatInFuture => "iat_in_future",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongType => "wrong_type",
            Self::CritUnsupported => "crit_unsupported",
            Self::MissingClaim { .. } => "missing_claim",
            Self::ClaimType { .. } => "claim_type",
            Self::TooLarge { .. } => "too_large",
            Self::NotCompact => "not_compact",
            Self::Malformed { .. } => "malformed",
            Self::Revoked { .. } => "revoked",
            Self::RefreshUnknown => "refresh_unknown",
            Self::RefreshExpired => "refresh_expired",
            Self::RefreshRevoked => "refresh_revoked",
            Self::RefreshReuse => "refresh_reuse",
            Self::RefreshKeyRetired => "refresh_key_retired",
            Self::InvalidKey { .. } => "invalid_key",
            Self::Config { .. } => "config",
            Self::Signing => "signing_failed",
            Self::Random => "rng_failed",
            Self::Store { .. } => "store_unavailable",
        }
    }

    /// Wraps a store backend error.
    ///
    /// ```
    /// use sessionwarden_jwt::JwtError;
    /// let err = JwtError::store("insert", std::io::Error::other("connection reset"));
    /// assert_eq!(err.reason(), "store_unavailable");
    /// ```
    pub fn store(operation: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Store { operation, source: source.into() }
    }
}
