//! What goes into an access token, and what a verified one yields.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `cnf` (confirmation) claim, RFC 7800. Today a seam for DPoP (RFC 9449): a token bound to
/// a client key carries that key's JWK SHA-256 thumbprint in `jkt`, and the resource server
/// checks each request's DPoP proof against it. This crate issues and returns it; it does not
/// check proofs yet.
///
/// ```
/// use sessionwarden_jwt::Confirmation;
/// let cnf = Confirmation::jkt("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I");
/// assert_eq!(cnf.jkt.as_deref(), Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[non_exhaustive]
pub struct Confirmation {
    /// JWK SHA-256 thumbprint (RFC 7638) of the key the token is bound to (RFC 9449 §6.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jkt: Option<String>,
}

impl Confirmation {
    /// A confirmation binding the token to the key with this JWK thumbprint.
    #[must_use]
    pub fn jkt(thumbprint: impl Into<String>) -> Self {
        Self { jkt: Some(thumbprint.into()) }
    }
}

/// What to put in a new access token besides the fixed claims (`iss`, `aud`, `iat`, `nbf`,
/// `exp`, random `jti`).
///
/// ```
/// use sessionwarden_jwt::AccessTokenRequest;
/// let req = AccessTokenRequest::new("alice").with_sid("h-123");
/// assert_eq!(req.sub(), "alice");
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use = "a request does nothing until passed to Jwt::issue"]
pub struct AccessTokenRequest {
    pub(crate) sub: String,
    pub(crate) sid: Option<String>,
    pub(crate) cnf: Option<Confirmation>,
}

impl AccessTokenRequest {
    /// A token for user `sub`.
    pub fn new(sub: impl Into<String>) -> Self {
        Self { sub: sub.into(), sid: None, cnf: None }
    }

    /// Ties the token to an opaque session handle, so revoking the session revokes the token.
    /// Never pass the session id itself: the token is readable by its holder.
    pub fn with_sid(mut self, sid: impl Into<String>) -> Self {
        self.sid = Some(sid.into());
        self
    }

    /// Binds the token to a client key (DPoP seam).
    pub fn with_cnf(mut self, cnf: Confirmation) -> Self {
        self.cnf = Some(cnf);
        self
    }

    /// The subject.
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }
}

impl fmt::Debug for AccessTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the session handle (it revokes a session, so keep it out of logs).
        f.debug_struct("AccessTokenRequest")
            .field("sub", &self.sub)
            .field("sid", &self.sid.as_ref().map(|_| ".."))
            .field("cnf", &self.cnf)
            .finish()
    }
}

/// A freshly signed access token.
///
/// `Debug` leaves the token out.
///
/// ```
/// use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet};
/// let jwt = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[1u8; 32])?), JwtConfig::default())?;
/// let issued = jwt.issue_at(&AccessTokenRequest::new("alice"), 1_700_000_000)?;
/// assert_eq!(issued.expires_at(), 1_700_000_000 + 3600);
/// assert!(!format!("{issued:?}").contains(issued.token()));
/// # Ok::<(), sessionwarden_jwt::JwtError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedAccessToken {
    pub(crate) token: String,
    pub(crate) jti: String,
    pub(crate) issued_at: u64,
    pub(crate) expires_at: u64,
}

impl IssuedAccessToken {
    /// The compact JWT to hand to the client.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token's `jti`, for revoking it later.
    #[must_use]
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// `iat`, unix seconds.
    #[must_use]
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// `exp`, unix seconds.
    #[must_use]
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Consumes `self`, returning the compact JWT.
    #[must_use]
    pub fn into_token(self) -> String {
        self.token
    }
}

impl fmt::Debug for IssuedAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the token (a bearer credential).
        f.debug_struct("IssuedAccessToken")
            .field("jti", &self.jti)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The claims of a token that passed every check.
///
/// Only obtainable from [`Jwt::verify`](crate::Jwt::verify) and friends, so holding one means the
/// token was valid at the instant checked.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub(crate) sub: String,
    pub(crate) iss: String,
    pub(crate) aud: Vec<String>,
    pub(crate) exp: u64,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: u64,
    pub(crate) jti: String,
    pub(crate) sid: Option<String>,
    pub(crate) cnf: Option<Confirmation>,
    pub(crate) kid: String,
}

impl AccessClaims {
    /// The user (`sub`).
    #[must_use]
    pub fn sub(&self) -> &str {
        &self.sub
    }
    /// The issuer (`iss`), equal to the configured issuer.
    #[must_use]
    pub fn iss(&self) -> &str {
        &self.iss
    }
    /// The audiences (`aud`); contains the configured audience.
    #[must_use]
    pub fn aud(&self) -> &[String] {
        &self.aud
    }
    /// Expiry (`exp`), unix seconds.
    #[must_use]
    pub fn exp(&self) -> u64 {
        self.exp
    }
    /// Not-before (`nbf`), unix seconds, if present.
    #[must_use]
    pub fn nbf(&self) -> Option<u64> {
        self.nbf
    }
    /// Issued-at (`iat`), unix seconds.
    #[must_use]
    pub fn iat(&self) -> u64 {
        self.iat
    }
    /// Token id (`jti`).
    #[must_use]
    pub fn jti(&self) -> &str {
        &self.jti
    }
    /// The session handle (`sid`), if the token is tied to a session.
    #[must_use]
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// The confirmation (`cnf`), if the token is bound to a client key (DPoP seam).
    #[must_use]
    pub fn cnf(&self) -> Option<&Confirmation> {
        self.cnf.as_ref()
    }
    /// The `kid` of the key that verified the token.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

impl fmt::Debug for AccessClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the session handle.
        f.debug_struct("AccessClaims")
            .field("sub", &self.sub)
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("exp", &self.exp)
            .field("nbf", &self.nbf)
            .field("iat", &self.iat)
            .field("jti", &self.jti)
            .field("sid", &self.sid.as_ref().map(|_| ".."))
            .field("cnf", &self.cnf)
            .field("kid", &self.kid)
            .finish()
    }
}
