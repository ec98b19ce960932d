//! Validation policy and the clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{JwtAlgorithm, JwtError};

/// Largest accepted token, checked before any parsing. Our own tokens are a few hundred bytes;
/// 8 KiB matches common HTTP header-size limits and bounds the work an attacker can ask for.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Largest leeway [`JwtConfig`] accepts. More than a minute of clock skew is a broken clock,
/// and leeway extends every token's life.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// The source of "now" for issuing and verifying, in unix seconds.
///
/// Injected so tests at the expiry boundary are exact, and so every check in one verification
/// uses one instant.
///
/// ```
/// use sessionwarden_jwt::Clock;
/// struct Fixed(u64);
/// impl Clock for Fixed {
///     fn now(&self) -> u64 { self.0 }
/// }
/// assert_eq!(Fixed(42).now(), 42);
/// ```
pub trait Clock: Send + Sync {
    /// Seconds since the unix epoch.
    fn now(&self) -> u64;
}

/// The system clock.
///
/// ```
/// use sessionwarden_jwt::{Clock, SystemClock};
/// assert!(SystemClock.now() > 1_700_000_000);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        // A clock before 1970 reads as 0: every token then looks not-yet-valid, failing closed.
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }
}

/// Issuing and validation policy. Every check is on; the knobs only set values.
///
/// Defaults: issuer and audience `sessionwarden`, leeway 30 s, access tokens live 1 hour
/// (the reference server's `GET /token`), HS256 only.
///
/// ```
/// use std::time::Duration;
/// use sessionwarden_jwt::{JwtAlgorithm, JwtConfig};
/// let config = JwtConfig::default()
///     .with_issuer("https://auth.example")
///     .with_audience("api")
///     .with_leeway(Duration::from_secs(10))
///     .with_algorithms([JwtAlgorithm::Hs256, JwtAlgorithm::EdDsa]);
/// assert!(config.validate().is_ok());
/// assert!(JwtConfig::default().with_leeway(Duration::from_secs(61)).validate().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtConfig {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) leeway: u64,
    pub(crate) access_ttl: u64,
    pub(crate) algorithms: Vec<JwtAlgorithm>,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            issuer: "sessionwarden".into(),
            audience: "sessionwarden".into(),
            // 30 s absorbs NTP-synchronised skew between nodes without extending tokens much.
            leeway: 30,
            access_ttl: 3600,
            // HS256 by default: one secret from the keyring, no public key to publish.
            algorithms: vec![JwtAlgorithm::Hs256],
        }
    }
}

impl JwtConfig {
    /// Sets the `iss` value issued and required.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Sets the `aud` value issued and required.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Sets the clock-skew leeway for `exp`, `nbf` and `iat` (whole seconds; at most
    /// [`MAX_LEEWAY`], checked by [`JwtConfig::validate`]).
    #[must_use]
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        // Saturate rather than truncate so an absurd value still fails validation.
        self.leeway = leeway.as_secs().saturating_add(u64::from(leeway.subsec_nanos() > 0));
        self
    }

    /// Sets the lifetime of issued access tokens (whole seconds, at least 1).
    #[must_use]
    pub fn with_access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl.as_secs();
        self
    }

    /// Sets the algorithm allowlist. Every key in the key set must use a listed algorithm, and
    /// tokens with any other `alg` are refused before a key is looked up.
    #[must_use]
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = JwtAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The leeway in seconds.
    #[must_use]
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The access-token lifetime in seconds.
    #[must_use]
    pub fn access_ttl(&self) -> u64 {
        self.access_ttl
    }

    /// The required issuer.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The required audience.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Checks the policy's bounds.
    ///
    /// # Errors
    /// [`JwtError::Config`] if the leeway exceeds [`MAX_LEEWAY`], the issuer or audience is
    /// empty, the access-token lifetime is 0, or the algorithm allowlist is empty.
    pub fn validate(&self) -> Result<(), JwtError> {
        let fail = |what| Err(JwtError::Config { what });
        if self.leeway > MAX_LEEWAY.as_secs() {
            return fail("leeway above the 60 s maximum");
        }
        if self.issuer.is_empty() {
            return fail("empty issuer");
        }
        if self.audience.is_empty() {
            return fail("empty audience");
        }
        if self.access_ttl == 0 {
            return fail("access-token lifetime of 0 s");
        }
        if self.algorithms.is_empty() {
            return fail("empty algorithm allowlist");
        }
        Ok(())
    }
}
