//! Risk rules: noticing that a session is used from somewhere it should not be, and acting.
//!
//! Each request's client (its network and `User-Agent`) is compared with what the session
//! record already carries, when the session loads: no extra store round trip, and no write
//! unless something changed. The comparison is by meaning, not by string:
//!
//! - [`RiskRule::NetworkChange`]: another IPv4 /24 or IPv6 /48 (so a Wi-Fi reconnect, an
//!   IPv6 privacy-address rotation, or a proxy hop resolved through
//!   [`TrustedProxies`](crate::TrustedProxies) is not a change);
//! - [`RiskRule::AsnChange`], [`RiskRule::CountryChange`], [`RiskRule::ImpossibleTravel`]:
//!   looked up in an offline GeoIP database ([`GeoLookup`]; [`MaxMindDb`] reads `.mmdb` files
//!   under the `geoip` feature), only when the network changed;
//! - [`RiskRule::DeviceChange`]: another browser family or OS family (a version bump is not
//!   a change); the agent is parsed only when its hash differs from the last one seen;
//! - [`RiskRule::ConcurrentUse`]: two networks within a short window;
//! - [`RiskRule::RefreshTokenReuse`]: reported by the JWT layer (the token endpoint calls
//!   [`refresh_token_reuse`]), so that one engine decides, records and counts.
//!
//! Each rule has a [`RiskAction`]: `off`, `monitor` (a [`SecurityEvent::RiskDetected`] with
//! the evidence: logged, audited, counted by rule and action), `step-up` (the session must
//! re-authenticate: [`Session::risk`](crate::Session::risk) answers
//! [`RiskVerdict::StepUp`] until [`Session::reauthenticated`](crate::Session::reauthenticated)
//! or a new login), `revoke` (the session is deleted from the store, on every node, and the
//! request goes on without it). [`RiskRules`]' documentation lists the defaults and why.
//!
//! Only sessions with a logged-in user are compared; a login or a re-authentication makes
//! the client it came from the session's new baseline. With the cookie store a revoke ends
//! the session in this browser only: a copy of the cookie stays valid until its deadline,
//! as with logout (see `CookieStore`). Records kept in Flask's formats carry no client
//! metadata, so sessions in the Flask stores are not compared.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use sessionwarden::risk::{RiskAction, RiskRule, RiskRules, RiskVerdict};
//! use sessionwarden::{MemoryStore, Session, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
//!
//! async fn transfer(session: Session) -> Result<&'static str, sessionwarden::Error> {
//!     if let RiskVerdict::StepUp { .. } = session.risk().await? {
//!         return Ok("re-authenticate first");
//!     }
//!     Ok("done")
//! }
//!
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let rules = RiskRules::default().with_action(RiskRule::CountryChange, RiskAction::Revoke);
//! let layer = SessionLayer::new(MemoryStore::default(), keyring).with_risk_rules(rules);
//! # drop(layer);
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```

mod evaluate;
mod geo;
mod rules;

use serde::Serialize;

pub use self::evaluate::RiskEvidence;
pub(crate) use self::evaluate::{Observed, evaluate, rebased};
pub use self::geo::{GeoInfo, GeoLookup, GeoPoint};
#[cfg(feature = "geoip")]
pub use self::geo::{GeoIpError, MaxMindDb};
pub use self::rules::{
    DEFAULT_CONCURRENT_WINDOW, DEFAULT_MAX_SPEED_KMH, MIN_TRAVEL_KM, RiskAction, RiskConfigError, RiskRule,
    RiskRules, RuleSetting,
};
use crate::error::Error;
use crate::events::{Events, SecurityEvent};
use crate::id::SessionHandle;
use crate::store::SessionIndex;
use crate::time::Timestamp;

/// What the risk rules say about the request's session, from [`crate::Session::risk`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RiskVerdict {
    /// Nothing pending.
    Clear,
    /// A rule asked for re-authentication: treat the session as logged in but not trusted
    /// for anything that matters until the user proves who they are again.
    StepUp {
        /// The rule (`None` for a rule this version does not know, from a newer record).
        rule: Option<RiskRule>,
        /// When it fired.
        since: Timestamp,
    },
    /// A rule revoked the session in this request: there is no session any more.
    Revoked {
        /// The rule.
        rule: RiskRule,
    },
}

/// What [`refresh_token_reuse`] did about the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReuseOutcome {
    /// The rule is off: nothing recorded beyond the JWT layer's own event.
    Ignored,
    /// Recorded; the session (if any) goes on.
    Monitored,
    /// Recorded, and the session the family was issued for was revoked (`true`), or was
    /// not found in the store (`false`: already ended, or never server-side).
    Revoked(bool),
}

/// Feeds a refresh-token reuse the JWT layer detected (its family is already revoked) to the
/// risk engine: a [`SecurityEvent::RiskDetected`] for rule [`RiskRule::RefreshTokenReuse`]
/// with the configured action, and under `revoke` the family's session revoked through
/// `index` (every node sees it gone). Call it from the token endpoint after
/// `JwtError::RefreshReuse`, with the family's session handle (`sid`) and user; revoke the
/// session's tokens yourself (the JWT crate is not a dependency of this one).
///
/// # Errors
/// [`Error::Store`] if the index cannot revoke the session.
pub async fn refresh_token_reuse(
    rules: &RiskRules,
    events: &Events,
    now: Timestamp,
    index: Option<&dyn SessionIndex>,
    session: Option<SessionHandle>,
    user: Option<&str>,
    family: &str,
) -> Result<ReuseOutcome, Error> {
    let action = rules.action(RiskRule::RefreshTokenReuse);
    if action == RiskAction::Off {
        return Ok(ReuseOutcome::Ignored);
    }
    let evidence = RiskEvidence { family: Some(family.to_owned()), ..RiskEvidence::default() };
    events.record(
        now,
        SecurityEvent::RiskDetected {
            rule: RiskRule::RefreshTokenReuse,
            action,
            session: session.clone(),
            user: user.map(str::to_owned),
            evidence: Box::new(evidence),
        },
    );
    if action != RiskAction::Revoke {
        return Ok(ReuseOutcome::Monitored);
    }
    let (Some(index), Some(handle)) = (index, session) else {
        return Ok(ReuseOutcome::Revoked(false));
    };
    let ended = index.revoke(&handle).await?;
    if ended {
        events.record(now, SecurityEvent::SessionRevoked { session: handle });
    }
    Ok(ReuseOutcome::Revoked(ended))
}
