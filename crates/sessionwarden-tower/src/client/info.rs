//! The client metadata a session record carries.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderMap;
use http::header::USER_AGENT;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::device::{DeviceSummary, UserAgentHash};
use super::prefix::{IpPrefix, canonical_addr};
use super::proxy::{ClientAddr, TrustedProxies, resolve_client_ip};
use crate::record::ClientSummary;
use crate::time::Timestamp;

/// How much of the client address a record keeps.
///
/// A full address is personal data in most jurisdictions and singles out one device; the
/// prefix is enough to notice that a session moved to another network. Keep the full address
/// only when you need it (abuse investigation, a legal duty) and say so in your privacy notice.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::AddressRetention;
/// assert_eq!(AddressRetention::default(), AddressRetention::PrefixOnly);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AddressRetention {
    /// Only the /24 (IPv4) or /48 (IPv6). The default.
    #[default]
    PrefixOnly,
    /// The prefix and the full address.
    FullAddress,
}

/// How the session's user logged in.
///
/// Text and serde form: `password`, `passkey`, `sso`, `magic_link`, or any other short name
/// (kept as [`LoginMethod::Other`], at most 32 characters), so records written by a newer
/// version still load.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::LoginMethod;
/// assert_eq!(LoginMethod::from_name("passkey"), LoginMethod::Passkey);
/// assert_eq!(LoginMethod::from_name("smart_card").name(), "smart_card");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LoginMethod {
    /// A password (possibly with a second factor).
    Password,
    /// A WebAuthn credential (passkey, security key).
    Passkey,
    /// A single sign-on provider (OpenID Connect, SAML).
    Sso,
    /// A one-time link sent by email.
    MagicLink,
    /// Any other method, by name.
    Other(String),
}

/// The longest [`LoginMethod::Other`] name kept, in characters.
const MAX_METHOD_LEN: usize = 32;

impl LoginMethod {
    /// The method named `name` (`password`, `passkey`, `sso`, `magic_link`, or another).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::LoginMethod;
    /// assert_eq!(LoginMethod::from_name("password"), LoginMethod::Password);
    /// ```
    #[must_use]
    pub fn from_name(name: &str) -> Self {
        match name {
            "password" => Self::Password,
            "passkey" => Self::Passkey,
            "sso" => Self::Sso,
            "magic_link" => Self::MagicLink,
            other => Self::Other(other.chars().take(MAX_METHOD_LEN).collect()),
        }
    }

    /// The method's name, as [`LoginMethod::from_name`] reads it.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::LoginMethod;
    /// assert_eq!(LoginMethod::MagicLink.name(), "magic_link");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Self::Password => "password",
            Self::Passkey => "passkey",
            Self::Sso => "sso",
            Self::MagicLink => "magic_link",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for LoginMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for LoginMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for LoginMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_name(&Cow::<'de, str>::deserialize(deserializer)?))
    }
}

/// What a session record knows about its client: the network, the device, and the login.
///
/// Built once when a session is created (and the login half at login), never per request:
/// `created` and `last_seen` stay in [`Record`](crate::Record), whose `last_seen` moves
/// with the throttled idle renewal.
///
/// The JSON form extends today's [`ClientSummary`]: `{"ip_prefix": …, "user_agent_hash": …}`
/// reads as a `ClientInfo`, fields it does not have default to `None`, a prefix or hash that
/// does not parse is dropped rather than failing the whole record, and the new fields are
/// written only when set (so a `ClientSummary` reader still reads what `ClientInfo` writes).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{AddressRetention, ClientInfo, LoginMethod, TrustedProxies};
/// use sessionwarden::Timestamp;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("user-agent", "curl/8.5.0".parse().unwrap());
/// let (info, addr) = ClientInfo::from_request(
///     "192.0.2.10".parse().unwrap(), &headers, &TrustedProxies::default(), AddressRetention::PrefixOnly,
/// );
/// assert_eq!(addr.problem(), None);
/// assert_eq!(info.ip_prefix.unwrap().to_string(), "192.0.2.0/24");
/// assert_eq!(info.ip_addr, None);
/// assert_eq!(info.device.as_ref().and_then(|d| d.browser()), Some("curl"));
///
/// let info = info.with_login(Timestamp::from_unix(1_700_000_000), LoginMethod::Password);
/// assert_eq!(info.login_method, Some(LoginMethod::Password));
///
/// let old: ClientInfo = serde_json::from_str(r#"{"ip_prefix":"192.0.2.0/24","user_agent_hash":"07d1d539047ef019"}"#)?;
/// assert_eq!(old.ip_prefix, info.ip_prefix);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClientInfo {
    /// The client's network (/24 or /48).
    #[serde(default, deserialize_with = "lenient")]
    pub ip_prefix: Option<IpPrefix>,
    /// [`UserAgentHash`] of the whole `User-Agent`.
    #[serde(default, deserialize_with = "lenient")]
    pub user_agent_hash: Option<UserAgentHash>,
    /// The full client address: set only under [`AddressRetention::FullAddress`].
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient")]
    pub ip_addr: Option<IpAddr>,
    /// Browser family, major version and OS family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceSummary>,
    /// When the user logged in to this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_at: Option<Timestamp>,
    /// How the user logged in to this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_method: Option<LoginMethod>,
}

impl ClientInfo {
    /// The metadata of a client at `addr` sending `user_agent` (the header's bytes, if any).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{AddressRetention, ClientInfo};
    /// let info = ClientInfo::observe("2001:db8:1:2::9".parse().unwrap(), None, AddressRetention::FullAddress);
    /// assert_eq!(info.ip_prefix.unwrap().to_string(), "2001:db8:1::/48");
    /// assert_eq!(info.ip_addr, Some("2001:db8:1:2::9".parse().unwrap()));
    /// assert_eq!((info.device, info.user_agent_hash), (None, None));
    /// ```
    #[must_use]
    pub fn observe(addr: IpAddr, user_agent: Option<&[u8]>, retention: AddressRetention) -> Self {
        let addr = canonical_addr(addr);
        Self {
            ip_prefix: Some(IpPrefix::from_addr(addr)),
            user_agent_hash: user_agent.map(UserAgentHash::of),
            ip_addr: (retention == AddressRetention::FullAddress).then_some(addr),
            device: user_agent.map(DeviceSummary::from_user_agent),
            login_at: None,
            login_method: None,
        }
    }

    /// [`ClientInfo::observe`] for a request from `peer` with `headers`: the address through
    /// [`resolve_client_ip`], the `User-Agent` from the headers. The [`ClientAddr`] is
    /// returned too, so a [`ClientAddr::problem`] can be recorded as a security event.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{AddressRetention, ClientInfo, TrustedProxies};
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
    /// let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
    /// let (info, _) = ClientInfo::from_request("10.0.0.1".parse().unwrap(), &headers, &proxies, AddressRetention::PrefixOnly);
    /// assert_eq!(info.ip_prefix.unwrap().to_string(), "203.0.113.0/24");
    /// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
    /// ```
    #[must_use]
    pub fn from_request(
        peer: IpAddr,
        headers: &HeaderMap,
        trusted: &TrustedProxies,
        retention: AddressRetention,
    ) -> (Self, ClientAddr) {
        let addr = resolve_client_ip(peer, headers, trusted);
        let user_agent = headers.get(USER_AGENT).map(http::HeaderValue::as_bytes);
        (Self::observe(addr.addr(), user_agent, retention), addr)
    }

    /// This metadata with the login recorded.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{ClientInfo, LoginMethod};
    /// use sessionwarden::Timestamp;
    /// let info = ClientInfo::default().with_login(Timestamp::from_unix(5), LoginMethod::Sso);
    /// assert_eq!(info.login_at, Some(Timestamp::from_unix(5)));
    /// ```
    #[must_use]
    pub fn with_login(mut self, at: Timestamp, method: LoginMethod) -> Self {
        self.login_at = Some(at);
        self.login_method = Some(method);
        self
    }

    /// Whether `other` is on the same network; `None` when either has no prefix (unknown is
    /// neither the same nor a change).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{AddressRetention, ClientInfo};
    /// let at = |ip: &str| ClientInfo::observe(ip.parse().unwrap(), None, AddressRetention::PrefixOnly);
    /// assert_eq!(at("192.0.2.1").same_network(&at("192.0.2.200")), Some(true));
    /// assert_eq!(at("192.0.2.1").same_network(&at("198.51.100.1")), Some(false));
    /// assert_eq!(at("192.0.2.1").same_network(&ClientInfo::default()), None);
    /// ```
    #[must_use]
    pub fn same_network(&self, other: &Self) -> Option<bool> {
        Some(self.ip_prefix? == other.ip_prefix?)
    }

    /// Whether `other` is the same browser family on the same OS family
    /// ([`DeviceSummary::same_device`]); `None` when either has no device summary.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{AddressRetention, ClientInfo};
    /// let ua = |ua: &str| ClientInfo::observe("192.0.2.1".parse().unwrap(), Some(ua.as_bytes()), AddressRetention::PrefixOnly);
    /// let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
    /// let firefox_next = "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0";
    /// assert_eq!(ua(firefox).same_device(&ua(firefox_next)), Some(true));
    /// ```
    #[must_use]
    pub fn same_device(&self, other: &Self) -> Option<bool> {
        Some(self.device.as_ref()?.same_device(other.device.as_ref()?))
    }
}

/// A summary written before `ClientInfo` existed: the prefix and hash are kept when they
/// parse, everything else is unknown.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::{ClientSummary, client::ClientInfo};
/// let info = ClientInfo::from(ClientSummary::default());
/// assert_eq!(info, ClientInfo::default());
/// ```
impl From<ClientSummary> for ClientInfo {
    fn from(summary: ClientSummary) -> Self {
        Self {
            ip_prefix: summary.ip_prefix.as_deref().and_then(|p| p.parse().ok()),
            user_agent_hash: summary.user_agent_hash.as_deref().and_then(|h| h.parse().ok()),
            ..Self::default()
        }
    }
}

/// The two columns stores keep today (`ip_prefix`, `ua_hash`), for the time both types live.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::{ClientSummary, client::{AddressRetention, ClientInfo}};
/// let info = ClientInfo::observe("192.0.2.7".parse().unwrap(), Some(b"curl/8.5.0"), AddressRetention::PrefixOnly);
/// let summary = ClientSummary::from(&info);
/// assert_eq!(summary.ip_prefix.as_deref(), Some("192.0.2.0/24"));
/// assert_eq!(summary.user_agent_hash.as_deref(), Some("07d1d539047ef019"));
/// ```
impl From<&ClientInfo> for ClientSummary {
    fn from(info: &ClientInfo) -> Self {
        Self::new(info.ip_prefix.map(|p| p.to_string()), info.user_agent_hash.map(|h| h.to_string()))
    }
}

/// Reads an optional text field, dropping a value that does not parse instead of failing the
/// record: the fields are metadata, and a record must never be lost over one.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
{
    /// A string, or anything else (a number, an object), which is dropped too.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Field<'a> {
        Text(Cow<'a, str>),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Field<'de>>::deserialize(deserializer)? {
        Some(Field::Text(text)) => text.parse().ok(),
        Some(Field::Other(_)) | None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    fn full() -> ClientInfo {
        ClientInfo::observe(
            "2001:db8:1:2::9".parse().unwrap(),
            Some(FIREFOX.as_bytes()),
            AddressRetention::FullAddress,
        )
        .with_login(Timestamp::from_unix(1_700_000_000), LoginMethod::Passkey)
    }

    #[test]
    fn serde_round_trips() {
        let cases = [
            ("default", ClientInfo::default()),
            (
                "prefix only",
                ClientInfo::observe("192.0.2.1".parse().unwrap(), None, AddressRetention::PrefixOnly),
            ),
            ("everything", full()),
            (
                "other login method",
                ClientInfo::default().with_login(Timestamp::from_unix(1), LoginMethod::from_name("card")),
            ),
        ];
        for (name, info) in cases {
            let json = serde_json::to_string(&info).unwrap();
            assert_eq!(serde_json::from_str::<ClientInfo>(&json).unwrap(), info, "{name}: {json}");
        }
    }

    #[test]
    fn json_form_is_pinned() {
        let json = serde_json::to_value(full()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ip_prefix": "2001:db8:1::/48",
                "user_agent_hash": UserAgentHash::of(FIREFOX).to_string(),
                "ip_addr": "2001:db8:1:2::9",
                "device": {"browser": "Firefox", "browser_major": 121, "os": "Linux"},
                "login_at": 1_700_000_000,
                "login_method": "passkey",
            })
        );
        // Without the new fields the shape is exactly today's `ClientSummary`.
        let json = serde_json::to_string(&ClientInfo::default()).unwrap();
        assert_eq!(json, r#"{"ip_prefix":null,"user_agent_hash":null}"#);
    }

    #[test]
    fn reads_old_client_summary_json() {
        let cases = [
            (
                "both fields",
                r#"{"ip_prefix":"192.0.2.0/24","user_agent_hash":"07d1d539047ef019"}"#,
                Some("192.0.2.0/24"),
                Some("07d1d539047ef019"),
            ),
            ("nulls", r#"{"ip_prefix":null,"user_agent_hash":null}"#, None, None),
            ("hash only", r#"{"user_agent_hash":"e3b0c44298fc1c14"}"#, None, Some("e3b0c44298fc1c14")),
            ("empty object", "{}", None, None),
            ("unparseable prefix dropped", r#"{"ip_prefix":"192.0.2.1","user_agent_hash":"zz"}"#, None, None),
            (
                "unknown future field ignored",
                r#"{"ip_prefix":"192.0.2.0/24","risk":7}"#,
                Some("192.0.2.0/24"),
                None,
            ),
        ];
        for (name, json, prefix, hash) in cases {
            let info: ClientInfo = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(info.ip_prefix.map(|p| p.to_string()).as_deref(), prefix, "{name}: prefix");
            assert_eq!(info.user_agent_hash.map(|h| h.to_string()).as_deref(), hash, "{name}: hash");
            assert_eq!(
                (info.ip_addr, &info.device, info.login_at, &info.login_method),
                (None, &None, None, &None),
                "{name}"
            );
            // The same JSON read through the old type and converted agrees.
            let old: ClientSummary = serde_json::from_str(json).unwrap();
            assert_eq!(ClientInfo::from(old), info, "{name}: From<ClientSummary>");
        }
    }

    #[test]
    fn metadata_of_the_wrong_type_is_dropped_not_fatal() {
        let json = r#"{"ip_prefix":24,"user_agent_hash":{"a":1},"ip_addr":[1],"login_at":5}"#;
        let info: ClientInfo = serde_json::from_str(json).unwrap();
        assert_eq!((info.ip_prefix, info.user_agent_hash, info.ip_addr), (None, None, None));
        assert_eq!(info.login_at, Some(Timestamp::from_unix(5)));
    }

    #[test]
    fn old_readers_read_new_json() {
        let json = serde_json::to_string(&full()).unwrap();
        let old: ClientSummary = serde_json::from_str(&json).unwrap();
        assert_eq!(old, ClientSummary::from(&full()));
        assert_eq!(old.ip_prefix.as_deref(), Some("2001:db8:1::/48"));
    }

    #[test]
    fn full_address_only_when_configured() {
        let addr: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let prefix_only = ClientInfo::observe(addr, None, AddressRetention::PrefixOnly);
        assert_eq!(prefix_only.ip_addr, None);
        assert!(!serde_json::to_string(&prefix_only).unwrap().contains("192.0.2.9"));
        let full = ClientInfo::observe(addr, None, AddressRetention::FullAddress);
        assert_eq!(full.ip_addr, Some("192.0.2.9".parse().unwrap()), "mapped address kept as IPv4");
    }

    #[test]
    fn login_method_names_round_trip() {
        for method in [
            LoginMethod::Password,
            LoginMethod::Passkey,
            LoginMethod::Sso,
            LoginMethod::MagicLink,
            LoginMethod::Other("card".into()),
        ] {
            assert_eq!(LoginMethod::from_name(method.name()), method);
        }
        assert_eq!(LoginMethod::from_name(&"x".repeat(100)).name().len(), MAX_METHOD_LEN);
    }

    #[test]
    fn comparisons_table() {
        let at = |ip: &str, ua: &str| {
            ClientInfo::observe(ip.parse().unwrap(), Some(ua.as_bytes()), AddressRetention::PrefixOnly)
        };
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        let home = at("192.0.2.10", FIREFOX);
        let cases = [
            ("Wi-Fi reconnect, same browser", at("192.0.2.99", FIREFOX), Some(true), Some(true)),
            ("other network", at("198.51.100.1", FIREFOX), Some(false), Some(true)),
            ("other browser and OS", at("192.0.2.10", chrome), Some(true), Some(false)),
            ("nothing known", ClientInfo::default(), None, None),
        ];
        for (name, other, network, device) in cases {
            assert_eq!(home.same_network(&other), network, "{name}: network");
            assert_eq!(home.same_device(&other), device, "{name}: device");
        }
    }
}
