//! What the risk rules keep on a session record between requests.

use serde::{Deserialize, Serialize};

use super::device::DeviceSummary;
use super::prefix::IpPrefix;
use crate::time::Timestamp;

/// The longest rule name a [`StepUp`] keeps, in characters (names are the session layer's
/// fixed snake_case rule names; the bound only protects against a tampered record).
const MAX_RULE_LEN: usize = 32;

/// The risk rules' memory of one session: where it was last seen from, and whether it must
/// re-authenticate.
///
/// The rules compare each request's client against what the record already carries, so an
/// ordinary request (same network, same browser) costs no store round trip and no write. The
/// record's [`ClientInfo`](super::ClientInfo) is the session's baseline as created (or logged
/// in); this state moves on from it only when something changed, and is written with the
/// request that saw the change. Every field is optional and absent fields are not written,
/// so records without risk state keep their stored form.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::client::RiskState;
/// assert_eq!(serde_json::to_string(&RiskState::default()).unwrap(), "{}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RiskState {
    /// The network of the latest request that moved the session, when it differs from the
    /// record's baseline (or the baseline had none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<IpPrefix>,
    /// When the session moved to [`RiskState::network`] (or re-authenticated there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moved_at: Option<Timestamp>,
    /// The device of the latest request, when it differs from the record's baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceSummary>,
    /// A fingerprint of the latest `User-Agent` seen ([`agent_fingerprint`]; a version bump
    /// changes it, not the device): while it matches, the agent is not parsed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_fingerprint: Option<u64>,
    /// Set by a rule whose action is step-up: the session must re-authenticate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
}

impl RiskState {
    /// Whether the state holds nothing.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::RiskState;
    /// assert!(RiskState::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The 64-bit FNV-1a hash of a `User-Agent`: a cheap change detector for
/// [`RiskState::agent_fingerprint`], computed on every request of a logged-in session.
/// Not a security hash, and it need not be one: a mismatch only makes the rules parse the
/// agent and compare device families; a forged match gains a client nothing it could not
/// have by sending the same agent string.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::client::agent_fingerprint;
/// assert_eq!(agent_fingerprint(b""), 0xcbf2_9ce4_8422_2325);
/// assert_ne!(agent_fingerprint(b"curl/8.5.0"), agent_fingerprint(b"curl/8.6.0"));
/// ```
#[must_use]
pub fn agent_fingerprint(user_agent: &[u8]) -> u64 {
    user_agent.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// A pending re-authentication: which rule asked for it, and since when.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::client::StepUp;
/// use sessionwarden::Timestamp;
/// let s = StepUp::new("country_change", Timestamp::from_unix(5));
/// assert_eq!(s.rule(), "country_change");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUp {
    rule: String,
    since: Timestamp,
}

impl StepUp {
    /// A step-up asked for by rule `rule` (its snake_case name, at most 32 characters kept).
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::StepUp;
    /// use sessionwarden::Timestamp;
    /// assert_eq!(StepUp::new(&"x".repeat(100), Timestamp::from_unix(0)).rule().len(), 32);
    /// ```
    #[must_use]
    pub fn new(rule: &str, since: Timestamp) -> Self {
        Self { rule: rule.chars().take(MAX_RULE_LEN).collect(), since }
    }

    /// The rule's name.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::StepUp;
    /// use sessionwarden::Timestamp;
    /// assert_eq!(StepUp::new("device_change", Timestamp::from_unix(0)).rule(), "device_change");
    /// ```
    #[must_use]
    pub fn rule(&self) -> &str {
        &self.rule
    }

    /// When the rule fired.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::StepUp;
    /// use sessionwarden::Timestamp;
    /// assert_eq!(StepUp::new("device_change", Timestamp::from_unix(9)).since(), Timestamp::from_unix(9));
    /// ```
    #[must_use]
    pub fn since(&self) -> Timestamp {
        self.since
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_form_is_pinned() {
        let state = RiskState {
            network: Some("198.51.100.0/24".parse().unwrap()),
            moved_at: Some(Timestamp::from_unix(7)),
            device: None,
            agent_fingerprint: Some(agent_fingerprint(b"curl/8.5.0")),
            step_up: Some(StepUp::new("network_change", Timestamp::from_unix(7))),
        };
        let json = serde_json::to_value(&state).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "network": "198.51.100.0/24",
                "moved_at": 7,
                "agent_fingerprint": agent_fingerprint(b"curl/8.5.0"),
                "step_up": {"rule": "network_change", "since": 7},
            })
        );
        assert_eq!(serde_json::from_value::<RiskState>(json).unwrap(), state);
        assert_eq!(serde_json::from_str::<RiskState>("{}").unwrap(), RiskState::default());
    }
}
