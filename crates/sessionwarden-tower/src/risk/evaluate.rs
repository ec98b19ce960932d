//! Comparing a request's client with what its session record carries.
//!
//! Synchronous and without I/O: the record was loaded for the request anyway, and the only
//! lookups (the GeoIP database, the `User-Agent` parser) run when the network or the agent
//! string changed. An ordinary request costs an [`IpPrefix`] comparison and an FNV-1a hash of
//! the `User-Agent`, and copies nothing.

use std::time::Duration;

use serde::Serialize;

use super::geo::{GeoInfo, GeoLookup};
use super::rules::{MIN_TRAVEL_KM, RiskAction, RiskRule, RiskRules};
use crate::record::Record;
use crate::time::Timestamp;
use sessionwarden_core::client::{DeviceSummary, IpPrefix, RiskState, UserAgentHash, agent_fingerprint};

/// What a rule saw: the old and new network, device, country and ASN, and the travel it
/// measured. Only what the rule compared is set; never a full address or a header value.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[non_exhaustive]
pub struct RiskEvidence {
    /// The network the session was on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_network: Option<IpPrefix>,
    /// The network of this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_network: Option<IpPrefix>,
    /// The device the session was used from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_device: Option<DeviceSummary>,
    /// This request's device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_device: Option<DeviceSummary>,
    /// The old network's country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_country: Option<String>,
    /// The new network's country.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_country: Option<String>,
    /// The old network's autonomous system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_asn: Option<u32>,
    /// The new network's autonomous system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_asn: Option<u32>,
    /// The distance between the two networks' coordinates, accuracy radii taken off, km.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<u32>,
    /// Seconds since the session's last use on the old network (at least 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub elapsed_secs: Option<u64>,
    /// The speed that implies, km/h.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed_kmh: Option<u32>,
    /// For [`RiskRule::RefreshTokenReuse`]: the refresh-token family (not a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// One rule that fired, with its configured action.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Firing {
    pub(crate) rule: RiskRule,
    pub(crate) action: RiskAction,
    pub(crate) evidence: RiskEvidence,
}

/// What the rules made of one request.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) firings: Vec<Firing>,
    /// The record's new risk state, when it changed (moved network, new agent, step-up).
    pub(crate) state: Option<RiskState>,
}

impl Outcome {
    /// The strongest action among the firings (`Off` when none fired).
    pub(crate) fn action(&self) -> (RiskAction, Option<RiskRule>) {
        self.firings.iter().map(|f| (f.action, Some(f.rule))).max().unwrap_or((RiskAction::Off, None))
    }
}

/// The client of one request, as the rules need it.
pub(crate) struct Observed<'a> {
    pub(crate) addr: Option<std::net::IpAddr>,
    pub(crate) user_agent: Option<&'a [u8]>,
}

/// The device `user_agent` names, parsed (only when its hash changed).
#[cfg(feature = "client")]
fn device_of(user_agent: &[u8]) -> Option<DeviceSummary> {
    Some(crate::client::device_summary(user_agent))
}

#[cfg(not(feature = "client"))]
fn device_of(_: &[u8]) -> Option<DeviceSummary> {
    None
}

/// Compares the request `seen` with `record` at `now`, under `rules`.
pub(crate) fn evaluate(rules: &RiskRules, record: &Record, seen: &Observed<'_>, now: Timestamp) -> Outcome {
    // Anonymous sessions are left alone: nothing to take over, and a login rebases.
    if record.user.is_none() {
        return Outcome::default();
    }
    // A record with neither client metadata nor risk state has nothing to compare with, and
    // its format may keep neither (Flask's): adopting this request's client would then be a
    // write on every request.
    if record.client.is_none() && record.risk.is_none() {
        return Outcome::default();
    }
    let base = record.client.as_ref();
    let empty = RiskState::default();
    let old = record.risk.as_ref().unwrap_or(&empty);
    // Copied only once something changes: the ordinary request clones nothing.
    let mut changed: Option<RiskState> = None;
    let mut firings = Vec::new();
    let mut fire = |rule: RiskRule, evidence: &RiskEvidence| {
        let action = rules.action(rule);
        if action != RiskAction::Off {
            firings.push(Firing { rule, action, evidence: evidence.clone() });
        }
    };

    if let Some(addr) = seen.addr {
        let to = IpPrefix::from_addr(addr);
        match old.network.or_else(|| base.and_then(|c| c.ip_prefix)) {
            Some(from) if from != to => {
                let last_use = old.moved_at.map_or(record.last_seen, |m| m.max(record.last_seen));
                let elapsed = if now > last_use { last_use.until(now) } else { Duration::ZERO };
                let mut evidence = RiskEvidence {
                    from_network: Some(from),
                    to_network: Some(to),
                    ..RiskEvidence::default()
                };
                fire(RiskRule::NetworkChange, &evidence);
                if let Some(geo) = rules.geo() {
                    geographic(rules, geo, (from, to), elapsed, &mut evidence, &mut fire);
                }
                if elapsed <= rules.concurrent_window() {
                    evidence.elapsed_secs = Some(elapsed.as_secs().max(1));
                    fire(RiskRule::ConcurrentUse, &evidence);
                }
                let state = changed.get_or_insert_with(|| old.clone());
                state.network = Some(to);
                state.moved_at = Some(now);
            }
            Some(_) => {}
            // The baseline had no network (the session began without a peer address): this
            // one becomes it, silently.
            None => {
                let state = changed.get_or_insert_with(|| old.clone());
                state.network = Some(to);
                state.moved_at = Some(now);
            }
        }
    }

    if let Some(ua) = seen.user_agent {
        let fingerprint = agent_fingerprint(ua);
        let known = match old.agent_fingerprint {
            Some(f) => f == fingerprint,
            // Not seen since the record was made: the record's own (SHA-256) agent hash.
            None => base.and_then(|c| c.user_agent_hash) == Some(UserAgentHash::of(ua)),
        };
        if !known {
            let state = changed.get_or_insert_with(|| old.clone());
            if let Some(device) = device_of(ua) {
                let from = old.device.clone().or_else(|| base.and_then(|c| c.device.clone()));
                match from {
                    Some(from) if !from.same_device(&device) => {
                        let evidence = RiskEvidence {
                            from_device: Some(from),
                            to_device: Some(device.clone()),
                            ..RiskEvidence::default()
                        };
                        fire(RiskRule::DeviceChange, &evidence);
                        state.device = Some(device);
                    }
                    Some(_) => {}
                    None => state.device = Some(device),
                }
            }
            state.agent_fingerprint = Some(fingerprint);
        }
    }

    let step_up = firings.iter().find(|f| f.action == RiskAction::StepUp).map(|f| f.rule);
    if let Some(rule) = step_up
        && old.step_up.is_none()
    {
        let state = changed.get_or_insert_with(|| old.clone());
        state.step_up = Some(sessionwarden_core::client::StepUp::new(rule.as_str(), now));
    }
    Outcome { firings, state: changed.filter(|s| s != old) }
}

/// The ASN, country and travel rules for a move between the networks `from` and `to`,
/// `elapsed` after the session's last use on `from`.
fn geographic(
    rules: &RiskRules,
    geo: &dyn GeoLookup,
    (from, to): (IpPrefix, IpPrefix),
    elapsed: Duration,
    evidence: &mut RiskEvidence,
    fire: &mut impl FnMut(RiskRule, &RiskEvidence),
) {
    // Both sides by their network address: the record keeps only the prefix, and looking
    // the new side up by its full address could find a finer block than the old side's.
    let (a, b) = (geo.lookup(from.network().addr()), geo.lookup(to.network().addr()));
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    let GeoInfo { country: from_country, asn: from_asn, location: from_at } = a;
    let GeoInfo { country: to_country, asn: to_asn, location: to_at } = b;
    if let (Some(x), Some(y)) = (from_asn, to_asn)
        && x != y
    {
        let e = RiskEvidence { from_asn, to_asn, ..evidence.clone() };
        fire(RiskRule::AsnChange, &e);
    }
    evidence.from_asn = from_asn;
    evidence.to_asn = to_asn;
    if let (Some(x), Some(y)) = (&from_country, &to_country)
        && x != y
    {
        let e = RiskEvidence {
            from_country: from_country.clone(),
            to_country: to_country.clone(),
            ..evidence.clone()
        };
        fire(RiskRule::CountryChange, &e);
    }
    evidence.from_country = from_country;
    evidence.to_country = to_country;
    if let (Some(p), Some(q)) = (from_at, to_at) {
        let radii = f64::from(p.accuracy_km.unwrap_or(0)) + f64::from(q.accuracy_km.unwrap_or(0));
        let km = (p.distance_km(&q) - radii).max(0.0);
        let secs = elapsed.as_secs().max(1);
        #[allow(clippy::cast_precision_loss)] // seconds well within f64's exact integers
        let kmh = km / (secs as f64 / 3600.0);
        if km >= MIN_TRAVEL_KM && kmh > rules.max_speed_kmh() {
            // Distances on Earth and the speeds above fit u32 once rounded; clamp anyway.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let e = RiskEvidence {
                distance_km: Some(km.round().min(f64::from(u32::MAX)) as u32),
                elapsed_secs: Some(secs),
                speed_kmh: Some(kmh.round().min(f64::from(u32::MAX)) as u32),
                ..evidence.clone()
            };
            fire(RiskRule::ImpossibleTravel, &e);
        }
    }
}

/// The risk state of a session whose user just proved who they are at the client `seen`
/// (a login or a re-authentication): the step-up is cleared and the client becomes the
/// baseline, so the next request from here is ordinary.
pub(crate) fn rebased(seen: &Observed<'_>, now: Timestamp) -> RiskState {
    let mut state = RiskState::default();
    if let Some(addr) = seen.addr {
        state.network = Some(IpPrefix::from_addr(addr));
        state.moved_at = Some(now);
    }
    if let Some(ua) = seen.user_agent {
        state.agent_fingerprint = Some(agent_fingerprint(ua));
        state.device = device_of(ua);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Expiry;
    use crate::risk::geo::GeoPoint;
    use sessionwarden_core::client::{AddressRetention, ClientInfo};

    const T0: Timestamp = Timestamp::from_unix(1_900_000_000);
    const FIREFOX_121: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    const FIREFOX_122: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0";
    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

    /// Networks in two countries, with coordinates 1200 km apart.
    #[derive(Debug)]
    struct Atlas;

    impl GeoLookup for Atlas {
        fn lookup(&self, addr: std::net::IpAddr) -> Option<GeoInfo> {
            let s = addr.to_string();
            if s.starts_with("192.0.2.") {
                Some(GeoInfo::default().with_country("SE").with_asn(1).with_location(GeoPoint::new(
                    59.33,
                    18.07,
                    Some(10),
                )))
            } else if s.starts_with("198.51.100.") {
                Some(GeoInfo::default().with_country("SE").with_asn(2).with_location(GeoPoint::new(
                    59.40,
                    18.00,
                    Some(10),
                )))
            } else if s.starts_with("203.0.113.") {
                Some(GeoInfo::default().with_country("DE").with_asn(3).with_location(GeoPoint::new(
                    48.14,
                    11.58,
                    Some(10),
                )))
            } else {
                None
            }
        }
    }

    fn record(ip: &str, ua: &str) -> Record {
        let mut r = Record::new(T0, &Expiry::default());
        r.user = Some("alice".into());
        r.client = Some(crate::client::observe(
            ip.parse().unwrap(),
            Some(ua.as_bytes()),
            AddressRetention::PrefixOnly,
        ));
        r
    }

    fn fired(rules: &RiskRules, r: &Record, ip: &str, ua: &str, after: u64) -> Vec<RiskRule> {
        let seen = Observed { addr: Some(ip.parse().unwrap()), user_agent: Some(ua.as_bytes()) };
        let out = evaluate(rules, r, &seen, T0.plus(Duration::from_secs(after)));
        out.firings.iter().map(|f| f.rule).collect()
    }

    #[test]
    fn rule_table() {
        use RiskRule::*;
        let rules = RiskRules::default().with_geo(std::sync::Arc::new(Atlas));
        let home = record("192.0.2.10", FIREFOX_121);
        let cases: [(&str, &str, &str, u64, Vec<RiskRule>); 8] = [
            ("same request again", "192.0.2.10", FIREFOX_121, 3600, vec![]),
            ("Wi-Fi reconnect in the /24", "192.0.2.201", FIREFOX_121, 5, vec![]),
            ("browser version bump", "192.0.2.10", FIREFOX_122, 3600, vec![]),
            ("another browser", "192.0.2.10", CHROME_LINUX, 3600, vec![DeviceChange]),
            (
                "next-door network, other AS, an hour on",
                "198.51.100.7",
                FIREFOX_121,
                3600,
                vec![NetworkChange, AsnChange],
            ),
            (
                "next-door network within the window",
                "198.51.100.7",
                FIREFOX_121,
                10,
                vec![NetworkChange, AsnChange, ConcurrentUse],
            ),
            (
                "other country, a day on",
                "203.0.113.9",
                FIREFOX_121,
                86_400,
                vec![NetworkChange, AsnChange, CountryChange],
            ),
            (
                "other country, ten minutes on",
                "203.0.113.9",
                FIREFOX_121,
                600,
                vec![NetworkChange, AsnChange, CountryChange, ImpossibleTravel],
            ),
        ];
        for (name, ip, ua, after, want) in cases {
            assert_eq!(fired(&rules, &home, ip, ua, after), want, "{name}");
        }
    }

    #[test]
    fn a_record_that_keeps_no_metadata_is_left_alone() {
        let mut r = Record::new(T0, &Expiry::default());
        r.user = Some("alice".into());
        let seen = Observed {
            addr: Some("203.0.113.9".parse().unwrap()),
            user_agent: Some(CHROME_LINUX.as_bytes()),
        };
        let out = evaluate(&RiskRules::default(), &r, &seen, T0);
        assert!(out.firings.is_empty() && out.state.is_none(), "no write on every request");
    }

    #[test]
    fn anonymous_sessions_are_left_alone() {
        let mut r = record("192.0.2.10", FIREFOX_121);
        r.user = None;
        assert!(fired(&RiskRules::default(), &r, "203.0.113.9", CHROME_LINUX, 5).is_empty());
    }

    #[test]
    fn a_move_is_remembered_and_a_step_up_kept() {
        let rules = RiskRules::default();
        let mut r = record("192.0.2.10", FIREFOX_121);
        let seen = Observed {
            addr: Some("203.0.113.9".parse().unwrap()),
            user_agent: Some(CHROME_LINUX.as_bytes()),
        };
        let out = evaluate(&rules, &r, &seen, T0.plus(Duration::from_secs(3600)));
        assert_eq!(out.action(), (RiskAction::StepUp, Some(RiskRule::DeviceChange)));
        r.risk = out.state;
        let state = r.risk.clone().unwrap();
        assert_eq!(state.network.unwrap().to_string(), "203.0.113.0/24");
        assert_eq!(state.step_up.as_ref().unwrap().rule(), "device_change");
        // The same client again: nothing fires, nothing to write.
        let again = evaluate(&rules, &r, &seen, T0.plus(Duration::from_secs(7200)));
        assert!(again.firings.is_empty() && again.state.is_none());
        // A login there rebases: no step-up, this client is the baseline.
        r.risk = Some(rebased(&seen, T0));
        let after = evaluate(&rules, &r, &seen, T0.plus(Duration::from_secs(9000)));
        assert!(after.firings.is_empty() && after.state.is_none());
        assert!(r.risk.unwrap().step_up.is_none());
    }

    #[test]
    fn unknown_is_not_a_change() {
        let r = record("192.0.2.10", FIREFOX_121);
        let seen = Observed { addr: None, user_agent: None };
        let out = evaluate(&RiskRules::default(), &r, &seen, T0);
        assert!(out.firings.is_empty() && out.state.is_none());
        let mut bare = Record::new(T0, &Expiry::default());
        bare.user = Some("a".into());
        bare.client = Some(ClientInfo::default());
        let seen = Observed { addr: Some("192.0.2.1".parse().unwrap()), user_agent: Some(b"curl/8.5.0") };
        let out = evaluate(&RiskRules::default(), &bare, &seen, T0);
        assert!(out.firings.is_empty(), "a baseline without network or device adopts this one");
        assert!(out.state.is_some());
    }
}
