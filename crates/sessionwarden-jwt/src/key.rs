//! Signing and verifying keys: one algorithm per key, named by a `kid`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use p256::pkcs8::EncodePrivateKey as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use crate::JwtError;

/// Minimum HS256 secret length: RFC 7518 §3.2 requires a key at least as long as the hash
/// output (256 bits).
pub const MIN_HS256_SECRET_LEN: usize = 32;

/// Longest accepted `kid`.
pub const MAX_KID_LEN: usize = 64;

/// The signature algorithms this crate implements. A key has exactly one.
///
/// `none` is not, and never will be, a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 (RFC 7518 §3.2). The default: one shared secret, fastest to verify.
    Hs256,
    /// Ed25519 signatures (RFC 8037). Public keys can be published in a JWKS.
    EdDsa,
    /// ECDSA over P-256 with SHA-256 (RFC 7518 §3.4). Public keys can be published in a JWKS.
    Es256,
}

impl JwtAlgorithm {
    /// The `alg` header value (RFC 7518 §3.1, RFC 8037 §3.1).
    ///
    /// ```
    /// use sessionwarden_jwt::JwtAlgorithm;
    /// assert_eq!(JwtAlgorithm::EdDsa.as_str(), "EdDSA");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
        }
    }

    /// Parses an `alg` header value. Exact, case-sensitive match (RFC 7515 §4.1.1: `alg` is a
    /// case-sensitive string).
    ///
    /// ```
    /// use sessionwarden_jwt::JwtAlgorithm;
    /// assert_eq!(JwtAlgorithm::from_alg("HS256"), Some(JwtAlgorithm::Hs256));
    /// assert_eq!(JwtAlgorithm::from_alg("hs256"), None);
    /// assert_eq!(JwtAlgorithm::from_alg("none"), None);
    /// ```
    #[must_use]
    pub fn from_alg(alg: &str) -> Option<Self> {
        match alg {
            "HS256" => Some(Self::Hs256),
            "EdDSA" => Some(Self::EdDsa),
            "ES256" => Some(Self::Es256),
            _ => None,
        }
    }

    pub(crate) fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::EdDsa => Algorithm::EdDSA,
            Self::Es256 => Algorithm::ES256,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks `kid` syntax: 1–64 characters of `[A-Za-z0-9_-]`.
///
/// Checked before the `kid` is used for anything, so a `kid` never reaches a lookup, a path or
/// a log line unless it is this harmless shape.
///
/// ```
/// use sessionwarden_jwt::kid_is_valid;
/// assert!(kid_is_valid("7"));
/// assert!(!kid_is_valid("../../dev/null"));
/// assert!(!kid_is_valid(""));
/// ```
#[must_use]
pub fn kid_is_valid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn checked_kid(kid: impl Into<String>) -> Result<String, JwtError> {
    let kid = kid.into();
    if kid_is_valid(&kid) { Ok(kid) } else { Err(JwtError::KidInvalid) }
}

pub(crate) enum Material {
    Hs256 {
        // Kept for constant-time `==` only; jsonwebtoken's keys hold their own copies.
        secret: Zeroizing<Vec<u8>>,
    },
    EdDsa {
        public: [u8; 32],
    },
    Es256 {
        x: [u8; 32],
        y: [u8; 32],
    },
}

/// One key: a `kid`, exactly one [`JwtAlgorithm`], and the material for it.
///
/// Asymmetric keys built from a seed can sign and verify; keys built from a public key can only
/// verify. `Debug` shows the `kid` and algorithm, never material.
///
/// ```
/// use sessionwarden_jwt::{JwtAlgorithm, JwtKey};
/// let key = JwtKey::hs256("1", &[7u8; 32])?;
/// assert_eq!(key.kid(), "1");
/// assert_eq!(key.algorithm(), JwtAlgorithm::Hs256);
/// assert_eq!(format!("{key:?}"), r#"JwtKey { kid: "1", alg: "HS256", .. }"#);
/// # Ok::<(), sessionwarden_jwt::JwtError>(())
/// ```
pub struct JwtKey {
    kid: String,
    alg: JwtAlgorithm,
    material: Material,
    encoding: Option<EncodingKey>,
    decoding: DecodingKey,
}

impl JwtKey {
    /// An HS256 key from a shared secret (for sessionwarden: the keyring's 32-byte JWT subkey).
    ///
    /// # Errors
    /// [`JwtError::KidInvalid`] if `kid` is not 1–64 characters of `[A-Za-z0-9_-]`;
    /// [`JwtError::InvalidKey`] if `secret` is shorter than [`MIN_HS256_SECRET_LEN`].
    ///
    /// ```
    /// use sessionwarden_jwt::JwtKey;
    /// assert!(JwtKey::hs256("k1", &[1u8; 32]).is_ok());
    /// assert!(JwtKey::hs256("k1", b"short").is_err());
    /// ```
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<Self, JwtError> {
        let kid = checked_kid(kid)?;
        if secret.len() < MIN_HS256_SECRET_LEN {
            return Err(JwtError::InvalidKey { what: "HS256 secret shorter than 32 bytes" });
        }
        Ok(Self {
            kid,
            alg: JwtAlgorithm::Hs256,
            material: Material::Hs256 { secret: Zeroizing::new(secret.to_vec()) },
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// An Ed25519 (EdDSA) signing key from a 32-byte seed (the RFC 8032 private key).
    ///
    /// # Errors
    /// [`JwtError::KidInvalid`] if `kid` has the wrong syntax.
    ///
    /// ```
    /// use sessionwarden_jwt::{JwtAlgorithm, JwtKey};
    /// let key = JwtKey::ed25519_from_seed("ed-1", [9u8; 32])?;
    /// assert_eq!(key.algorithm(), JwtAlgorithm::EdDsa);
    /// assert!(key.can_sign());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn ed25519_from_seed(kid: impl Into<String>, seed: [u8; 32]) -> Result<Self, JwtError> {
        let kid = checked_kid(kid)?;
        let seed = Zeroizing::new(seed);
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
        // PKCS#8 v1 for Ed25519 (RFC 8410 §7): a fixed 16-byte prefix, then the 32-byte seed.
        const PKCS8_PREFIX: [u8; 16] =
            [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_PREFIX);
        der.extend_from_slice(seed.as_slice());
        let mut key = Self::ed25519_public(kid, public)?;
        key.encoding = Some(EncodingKey::from_ed_der(&der));
        Ok(key)
    }

    /// A verify-only Ed25519 key from its 32-byte public key.
    ///
    /// # Errors
    /// [`JwtError::KidInvalid`] if `kid` has the wrong syntax; [`JwtError::InvalidKey`] if the
    /// bytes are not a valid Ed25519 point.
    ///
    /// ```
    /// use sessionwarden_jwt::JwtKey;
    /// let signer = JwtKey::ed25519_from_seed("ed-1", [9u8; 32])?;
    /// let jwk = signer.public_jwk().unwrap();
    /// # let _ = jwk;
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn ed25519_public(kid: impl Into<String>, public: [u8; 32]) -> Result<Self, JwtError> {
        let kid = checked_kid(kid)?;
        if ed25519_dalek::VerifyingKey::from_bytes(&public).is_err() {
            return Err(JwtError::InvalidKey { what: "not an Ed25519 public key" });
        }
        let decoding = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(public))
            .map_err(|_| JwtError::InvalidKey { what: "not an Ed25519 public key" })?;
        Ok(Self {
            kid,
            alg: JwtAlgorithm::EdDsa,
            material: Material::EdDsa { public },
            encoding: None,
            decoding,
        })
    }

    /// An ES256 (ECDSA P-256) signing key derived deterministically from 32 seed bytes.
    ///
    /// The private scalar is `SHA-256("sessionwarden-jwt/es256/v1" || counter || seed)` for the
    /// first one-byte `counter` (from 0) that gives a valid scalar in `[1, n)`. A hash output
    /// outside that range has probability about 2⁻³², so the loop practically never runs
    /// twice; it is bounded at 256 rounds. The derivation is part of the key format: the same
    /// seed gives the same key on every node and in every release (pinned by a test vector).
    ///
    /// # Errors
    /// [`JwtError::KidInvalid`] if `kid` has the wrong syntax; [`JwtError::InvalidKey`] if no
    /// valid scalar was found (never happens in practice).
    ///
    /// ```
    /// use sessionwarden_jwt::{JwtAlgorithm, JwtKey};
    /// let key = JwtKey::es256_from_seed("ec-1", [3u8; 32])?;
    /// assert_eq!(key.algorithm(), JwtAlgorithm::Es256);
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    pub fn es256_from_seed(kid: impl Into<String>, seed: [u8; 32]) -> Result<Self, JwtError> {
        let kid = checked_kid(kid)?;
        let seed = Zeroizing::new(seed);
        let secret = (0u8..=255)
            .find_map(|counter| {
                let mut h = Sha256::new();
                h.update(b"sessionwarden-jwt/es256/v1");
                h.update([counter]);
                h.update(seed.as_slice());
                let candidate = Zeroizing::new(h.finalize());
                // `from_bytes` rejects zero and values >= n: re-hash with the next counter.
                p256::SecretKey::from_bytes(&candidate).ok()
            })
            .ok_or(JwtError::InvalidKey { what: "no valid P-256 scalar from seed" })?;
        let der =
            secret.to_pkcs8_der().map_err(|_| JwtError::InvalidKey { what: "P-256 key encoding failed" })?;
        let point = secret.public_key().to_encoded_point(false);
        let (Some(x), Some(y)) = (point.x(), point.y()) else {
            return Err(JwtError::InvalidKey { what: "P-256 public key is the identity" });
        };
        let mut key = Self::es256_public(kid, &x[..], &y[..])?;
        key.encoding = Some(EncodingKey::from_ec_der(der.as_bytes()));
        Ok(key)
    }

    /// A verify-only ES256 key from its affine coordinates (32 bytes each, big-endian).
    ///
    /// # Errors
    /// [`JwtError::KidInvalid`] if `kid` has the wrong syntax; [`JwtError::InvalidKey`] if the
    /// coordinates are not a point on P-256.
    ///
    /// ```
    /// use sessionwarden_jwt::JwtKey;
    /// assert!(JwtKey::es256_public("ec-1", &[0u8; 32], &[0u8; 32]).is_err());
    /// ```
    pub fn es256_public(kid: impl Into<String>, x: &[u8], y: &[u8]) -> Result<Self, JwtError> {
        let kid = checked_kid(kid)?;
        let bad = JwtError::InvalidKey { what: "not a P-256 public key" };
        let (Ok(x), Ok(y)) = (<[u8; 32]>::try_from(x), <[u8; 32]>::try_from(y)) else {
            return Err(bad);
        };
        let mut sec1 = [0u8; 65];
        sec1[0] = 0x04;
        sec1[1..33].copy_from_slice(&x);
        sec1[33..].copy_from_slice(&y);
        if p256::PublicKey::from_sec1_bytes(&sec1).is_err() {
            return Err(bad);
        }
        let decoding =
            DecodingKey::from_ec_components(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y))
                .map_err(|_| JwtError::InvalidKey { what: "not a P-256 public key" })?;
        Ok(Self {
            kid,
            alg: JwtAlgorithm::Es256,
            material: Material::Es256 { x, y },
            encoding: None,
            decoding,
        })
    }

    /// The key id, as it appears in the `kid` header.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's one algorithm.
    #[must_use]
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.alg
    }

    /// Whether this key holds private material and can sign.
    #[must_use]
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The public key as a JWK (RFC 7517 §4, RFC 8037 §2, RFC 7518 §6.2), or `None` for HS256
    /// keys, which are secret and never published.
    ///
    /// ```
    /// use sessionwarden_jwt::JwtKey;
    /// let jwk = JwtKey::es256_from_seed("ec-1", [3u8; 32])?.public_jwk().unwrap();
    /// assert_eq!(jwk["kty"], "EC");
    /// assert_eq!(jwk["crv"], "P-256");
    /// assert_eq!(jwk["use"], "sig");
    /// assert!(JwtKey::hs256("h", &[0u8; 32])?.public_jwk().is_none());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn public_jwk(&self) -> Option<serde_json::Value> {
        match &self.material {
            Material::Hs256 { .. } => None,
            Material::EdDsa { public } => Some(serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(public),
                "kid": self.kid,
                "alg": self.alg.as_str(),
                "use": "sig",
            })),
            Material::Es256 { x, y } => Some(serde_json::json!({
                "kty": "EC",
                "crv": "P-256",
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
                "kid": self.kid,
                "alg": self.alg.as_str(),
                "use": "sig",
            })),
        }
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the secret, seed and public material (public keys too, to keep one rule).
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg.as_str())
            .finish_non_exhaustive()
    }
}

impl PartialEq for JwtKey {
    /// Same kid, same algorithm, same material; secrets compared in constant time.
    fn eq(&self, other: &Self) -> bool {
        let same_material = match (&self.material, &other.material) {
            (Material::Hs256 { secret: a }, Material::Hs256 { secret: b }) => {
                bool::from(a.as_slice().ct_eq(b.as_slice()))
            }
            (Material::EdDsa { public: a }, Material::EdDsa { public: b }) => a == b,
            (Material::Es256 { x: ax, y: ay }, Material::Es256 { x: bx, y: by }) => ax == bx && ay == by,
            _ => false,
        };
        same_material && self.kid == other.kid && self.alg == other.alg && self.can_sign() == other.can_sign()
    }
}

impl Eq for JwtKey {}

/// The keys a [`Jwt`](crate::Jwt) uses: one signing key, any number of verify-only keys, and the
/// `kid`s of retired keys (tokens naming them are refused with [`JwtError::KidRetired`], which
/// tells operators "old token" rather than "forgery").
///
/// Checked when the [`Jwt`](crate::Jwt) is built: `kid`s unique, the signing key can sign, no
/// key is retired.
///
/// ```
/// use sessionwarden_jwt::{JwtKey, JwtKeySet};
/// let keys = JwtKeySet {
///     signing: JwtKey::hs256("2", &[2u8; 32])?,
///     verifying: vec![JwtKey::hs256("1", &[1u8; 32])?],
///     retired_kids: vec!["0".into()],
/// };
/// # let _ = keys;
/// # Ok::<(), sessionwarden_jwt::JwtError>(())
/// ```
#[derive(Debug)]
pub struct JwtKeySet {
    /// The key new tokens are signed with; it also verifies.
    pub signing: JwtKey,
    /// Further keys that verify only (previous primaries during rotation).
    pub verifying: Vec<JwtKey>,
    /// `kid`s of keys that no longer verify.
    pub retired_kids: Vec<String>,
}

impl JwtKeySet {
    /// A key set with one key that signs and verifies.
    ///
    /// ```
    /// use sessionwarden_jwt::{JwtKey, JwtKeySet};
    /// let keys = JwtKeySet::single(JwtKey::hs256("1", &[1u8; 32])?);
    /// assert!(keys.verifying.is_empty());
    /// # Ok::<(), sessionwarden_jwt::JwtError>(())
    /// ```
    #[must_use]
    pub fn single(signing: JwtKey) -> Self {
        Self { signing, verifying: Vec::new(), retired_kids: Vec::new() }
    }
}
