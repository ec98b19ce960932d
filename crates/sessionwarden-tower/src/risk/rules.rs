//! The rules, their actions, and the configuration that picks them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::geo::GeoLookup;

/// One risk rule.
///
/// Text and serde form: the snake_case name (`network_change`, …); [`RiskRule::from_str`]
/// also reads the kebab-case form the command line uses (`network-change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RiskRule {
    /// The session's client moved to another network: another IPv4 /24 or IPv6 /48. A Wi-Fi
    /// reconnect or an IPv6 privacy-address rotation stays inside one and is not a change.
    NetworkChange,
    /// The new network belongs to another autonomous system (needs a GeoIP database with
    /// ASN data, such as GeoLite2-ASN).
    AsnChange,
    /// The new network is in another country (needs a GeoIP database with country data).
    CountryChange,
    /// The session moved faster than [`RiskRules::with_max_speed_kmh`] between two requests
    /// (needs a database with city coordinates, such as GeoLite2-City).
    ImpossibleTravel,
    /// The browser family or the OS family changed (a version bump is not a change).
    DeviceChange,
    /// The session was used from two networks within [`RiskRules::with_concurrent_window`].
    ConcurrentUse,
    /// A rotated refresh token came back: its family is revoked whatever the action; the
    /// action applies to the session the family was issued for.
    RefreshTokenReuse,
}

impl RiskRule {
    /// Every rule, in a fixed order (the metrics' label set).
    pub const ALL: [RiskRule; 7] = [
        Self::NetworkChange,
        Self::AsnChange,
        Self::CountryChange,
        Self::ImpossibleTravel,
        Self::DeviceChange,
        Self::ConcurrentUse,
        Self::RefreshTokenReuse,
    ];

    /// The snake_case name.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::risk::RiskRule;
    /// assert_eq!(RiskRule::ImpossibleTravel.as_str(), "impossible_travel");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NetworkChange => "network_change",
            Self::AsnChange => "asn_change",
            Self::CountryChange => "country_change",
            Self::ImpossibleTravel => "impossible_travel",
            Self::DeviceChange => "device_change",
            Self::ConcurrentUse => "concurrent_use",
            Self::RefreshTokenReuse => "refresh_token_reuse",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// The rule named `name` (snake_case or kebab-case), if any.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::risk::RiskRule;
    /// assert_eq!(RiskRule::from_name("device-change"), Some(RiskRule::DeviceChange));
    /// assert_eq!(RiskRule::from_name("nope"), None);
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.replace('-', "_");
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for RiskRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule does when it fires.
///
/// Text form: `off`, `monitor`, `step-up` (or `step_up`), `revoke`; serde form snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RiskAction {
    /// The rule is not evaluated.
    Off,
    /// A security event (log, audit, metrics, export); the session goes on.
    Monitor,
    /// As `Monitor`, and the session must re-authenticate: [`crate::Session::risk`] says
    /// [`RiskVerdict::StepUp`](super::RiskVerdict::StepUp) until
    /// [`crate::Session::reauthenticated`] (or a new login).
    StepUp,
    /// As `Monitor`, and the session ends: deleted from the store (every node sees it gone),
    /// its cookie expired; the request goes on without a session.
    Revoke,
}

impl RiskAction {
    /// The actions a rule can take when it fires (the metrics' label set).
    pub const TAKEN: [RiskAction; 3] = [Self::Monitor, Self::StepUp, Self::Revoke];

    /// The snake_case name.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::risk::RiskAction;
    /// assert_eq!(RiskAction::StepUp.as_str(), "step_up");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Monitor => "monitor",
            Self::StepUp => "step_up",
            Self::Revoke => "revoke",
        }
    }
}

impl fmt::Display for RiskAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not a rule, an action, or `rule=action`.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::risk::RiskAction;
/// assert!("maybe".parse::<RiskAction>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RiskConfigError {
    /// Not one of the rules' names.
    #[error(
        "unknown risk rule {0:?}: expected network-change, asn-change, country-change, impossible-travel, device-change, concurrent-use or refresh-token-reuse"
    )]
    UnknownRule(String),
    /// Not `off`, `monitor`, `step-up` or `revoke`.
    #[error("unknown risk action {0:?}: expected off, monitor, step-up or revoke")]
    UnknownAction(String),
    /// Not `RULE=ACTION`.
    #[error("expected RULE=ACTION (e.g. country-change=revoke), found {0:?}")]
    NotAPair(String),
    /// `refresh-token-reuse=step-up`: a reused refresh token is presented to the token
    /// endpoint, outside any request of the session, so there is no session to mark.
    #[error("refresh-token-reuse cannot step up (it is seen outside the session): use monitor or revoke")]
    StepUpOutsideSession,
}

impl FromStr for RiskRule {
    type Err = RiskConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s.trim()).ok_or_else(|| RiskConfigError::UnknownRule(s.to_owned()))
    }
}

impl FromStr for RiskAction {
    type Err = RiskConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" => Ok(Self::Off),
            "monitor" => Ok(Self::Monitor),
            "step-up" | "step_up" => Ok(Self::StepUp),
            "revoke" => Ok(Self::Revoke),
            other => Err(RiskConfigError::UnknownAction(other.to_owned())),
        }
    }
}

/// One `RULE=ACTION` setting, as the command line gives it (`country-change=revoke`).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::risk::{RiskAction, RiskRule, RuleSetting};
/// let s: RuleSetting = "country-change=revoke".parse()?;
/// assert_eq!((s.rule, s.action), (RiskRule::CountryChange, RiskAction::Revoke));
/// assert!("refresh-token-reuse=step-up".parse::<RuleSetting>().is_err());
/// # Ok::<(), sessionwarden::risk::RiskConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleSetting {
    /// The rule.
    pub rule: RiskRule,
    /// Its action.
    pub action: RiskAction,
}

impl FromStr for RuleSetting {
    type Err = RiskConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (rule, action) = s.split_once('=').ok_or_else(|| RiskConfigError::NotAPair(s.to_owned()))?;
        let (rule, action) = (rule.parse::<RiskRule>()?, action.parse::<RiskAction>()?);
        if rule == RiskRule::RefreshTokenReuse && action == RiskAction::StepUp {
            return Err(RiskConfigError::StepUpOutsideSession);
        }
        Ok(Self { rule, action })
    }
}

/// The default window of [`RiskRule::ConcurrentUse`]: 60 seconds.
pub const DEFAULT_CONCURRENT_WINDOW: Duration = Duration::from_secs(60);

/// The default speed past which [`RiskRule::ImpossibleTravel`] fires: 1000 km/h, faster
/// than an airliner's cruise (about 900 km/h), the usual threshold of "land-speed" policies.
pub const DEFAULT_MAX_SPEED_KMH: f64 = 1000.0;

/// The distance under which a move is never impossible travel, in km (after the
/// databases' accuracy radii are taken off): neighbouring cities lie within the error of
/// city-level geolocation, and of the exits of one mobile carrier.
pub const MIN_TRAVEL_KM: f64 = 500.0;

/// Which risk rules run and what each does: the configuration of
/// [`crate::SessionLayer::with_risk_rules`].
///
/// The defaults (`RiskRules::default()`), and why:
///
/// | rule | action | why |
/// |---|---|---|
/// | `network_change` | monitor | phones change networks all day (Wi-Fi, cellular, roaming) |
/// | `asn_change` | monitor | the same: home broadband to a carrier is another AS |
/// | `country_change` | step-up | rare within one session; typical of a stolen cookie used elsewhere |
/// | `impossible_travel` | step-up | as above, and measured |
/// | `device_change` | step-up | a cookie does not move between browsers by itself; "request desktop site" can change the OS, so no revoke |
/// | `concurrent_use` | monitor | a Wi-Fi to cellular handover looks the same |
/// | `refresh_token_reuse` | revoke | RFC 9700 §4.14.2: a replayed refresh token means the family leaked |
///
/// The geographic rules need [`RiskRules::with_geo`]; without a database they never fire.
/// Rules run only for sessions with a logged-in user: an anonymous session carries nothing
/// to take over, and its first login starts the baseline afresh.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::risk::{RiskAction, RiskRule, RiskRules};
/// let rules = RiskRules::default().with_action(RiskRule::CountryChange, RiskAction::Revoke);
/// assert_eq!(rules.action(RiskRule::CountryChange), RiskAction::Revoke);
/// assert_eq!(rules.action(RiskRule::NetworkChange), RiskAction::Monitor);
/// assert!(RiskRules::off().is_off());
/// ```
#[derive(Clone)]
pub struct RiskRules {
    actions: [RiskAction; 7],
    concurrent_window: Duration,
    max_speed_kmh: f64,
    geo: Option<Arc<dyn GeoLookup>>,
}

impl fmt::Debug for RiskRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RiskRules");
        for rule in RiskRule::ALL {
            d.field(rule.as_str(), &self.action(rule));
        }
        d.field("concurrent_window", &self.concurrent_window)
            .field("max_speed_kmh", &self.max_speed_kmh)
            .field("geo", &self.geo)
            .finish()
    }
}

impl Default for RiskRules {
    fn default() -> Self {
        use RiskAction::{Monitor, Revoke, StepUp};
        Self {
            // In RiskRule::ALL's order; see the table above.
            actions: [Monitor, Monitor, StepUp, StepUp, StepUp, Monitor, Revoke],
            concurrent_window: DEFAULT_CONCURRENT_WINDOW,
            max_speed_kmh: DEFAULT_MAX_SPEED_KMH,
            geo: None,
        }
    }
}

impl RiskRules {
    /// Every rule off.
    #[must_use]
    pub fn off() -> Self {
        Self { actions: [RiskAction::Off; 7], ..Self::default() }
    }

    /// Sets `rule`'s action. `RefreshTokenReuse` with `StepUp` is taken as `Revoke`'s weaker
    /// neighbour, `Monitor` (there is no session request to mark); [`RuleSetting`] refuses it.
    #[must_use]
    pub fn with_action(mut self, rule: RiskRule, action: RiskAction) -> Self {
        let action = match (rule, action) {
            (RiskRule::RefreshTokenReuse, RiskAction::StepUp) => RiskAction::Monitor,
            (_, a) => a,
        };
        self.actions[rule.index()] = action;
        self
    }

    /// Applies `settings` in order.
    #[must_use]
    pub fn with_settings(self, settings: &[RuleSetting]) -> Self {
        settings.iter().fold(self, |rules, s| rules.with_action(s.rule, s.action))
    }

    /// Sets the window of [`RiskRule::ConcurrentUse`] ([`DEFAULT_CONCURRENT_WINDOW`]).
    ///
    /// The time since the session's last use is measured from its last renewal or move,
    /// which the layer throttles: the rule can miss a use inside the window, never invent one.
    #[must_use]
    pub fn with_concurrent_window(mut self, window: Duration) -> Self {
        self.concurrent_window = window;
        self
    }

    /// Sets the speed past which [`RiskRule::ImpossibleTravel`] fires ([`DEFAULT_MAX_SPEED_KMH`]).
    #[must_use]
    pub fn with_max_speed_kmh(mut self, kmh: f64) -> Self {
        self.max_speed_kmh = kmh;
        self
    }

    /// Looks networks up in `geo` for the ASN, country and travel rules.
    #[must_use]
    pub fn with_geo(mut self, geo: Arc<dyn GeoLookup>) -> Self {
        self.geo = Some(geo);
        self
    }

    /// `rule`'s action.
    #[must_use]
    pub fn action(&self, rule: RiskRule) -> RiskAction {
        self.actions[rule.index()]
    }

    /// Whether every rule that runs on session requests is off (the layer then skips the
    /// comparison altogether).
    #[must_use]
    pub fn is_off(&self) -> bool {
        RiskRule::ALL
            .iter()
            .filter(|r| **r != RiskRule::RefreshTokenReuse)
            .all(|r| self.action(*r) == RiskAction::Off)
    }

    pub(crate) fn concurrent_window(&self) -> Duration {
        self.concurrent_window
    }

    pub(crate) fn max_speed_kmh(&self) -> f64 {
        self.max_speed_kmh
    }

    pub(crate) fn geo(&self) -> Option<&dyn GeoLookup> {
        self.geo.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for rule in RiskRule::ALL {
            assert_eq!(RiskRule::from_name(rule.as_str()), Some(rule));
            assert_eq!(rule.as_str().replace('_', "-").parse::<RiskRule>(), Ok(rule));
            assert_eq!(serde_json::to_value(rule).unwrap(), rule.as_str());
        }
        for action in [RiskAction::Off, RiskAction::Monitor, RiskAction::StepUp, RiskAction::Revoke] {
            assert_eq!(action.as_str().parse::<RiskAction>(), Ok(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
    }

    #[test]
    fn setting_table() {
        type Want = Result<(RiskRule, RiskAction), ()>;
        let cases: [(&str, Want); 6] = [
            ("network-change=off", Ok((RiskRule::NetworkChange, RiskAction::Off))),
            ("concurrent_use=step-up", Ok((RiskRule::ConcurrentUse, RiskAction::StepUp))),
            ("refresh-token-reuse=monitor", Ok((RiskRule::RefreshTokenReuse, RiskAction::Monitor))),
            ("refresh-token-reuse=step-up", Err(())),
            ("country-change", Err(())),
            ("planet-change=revoke", Err(())),
        ];
        for (text, want) in cases {
            let got = text.parse::<RuleSetting>().map(|s| (s.rule, s.action)).map_err(|_| ());
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn defaults_are_documented_ones() {
        let d = RiskRules::default();
        let want = [
            (RiskRule::NetworkChange, RiskAction::Monitor),
            (RiskRule::AsnChange, RiskAction::Monitor),
            (RiskRule::CountryChange, RiskAction::StepUp),
            (RiskRule::ImpossibleTravel, RiskAction::StepUp),
            (RiskRule::DeviceChange, RiskAction::StepUp),
            (RiskRule::ConcurrentUse, RiskAction::Monitor),
            (RiskRule::RefreshTokenReuse, RiskAction::Revoke),
        ];
        for (rule, action) in want {
            assert_eq!(d.action(rule), action, "{rule}");
        }
        assert!(!d.is_off());
        assert!(RiskRules::off().with_action(RiskRule::RefreshTokenReuse, RiskAction::Revoke).is_off());
    }
}
