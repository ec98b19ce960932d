//! The client metadata a session record carries.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::device::{DeviceSummary, UserAgentHash};
use super::prefix::{IpPrefix, canonical_addr};
use crate::time::Timestamp;

/// How much of the client address a record keeps.
///
/// A full address is personal data in most jurisdictions and singles out one device; the
/// prefix is enough to notice that a session moved to another network. Keep the full address
/// only when you need it (abuse investigation, a legal duty) and say so in your privacy notice.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
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
/// # extern crate sessionwarden_core as sessionwarden;
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
    /// # extern crate sessionwarden_core as sessionwarden;
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
    /// # extern crate sessionwarden_core as sessionwarden;
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
/// Made once when a session is created (the login half at login), never per request:
/// `created` and `last_seen` stay in [`Record`](crate::Record), whose `last_seen` moves with
/// the throttled idle renewal. The session layer builds it from the request
/// (`sessionwarden::client::from_request`: the peer address from `ConnectInfo`, trusted
/// proxies, the `User-Agent`); stores keep it as it is.
///
/// The JSON form reads what records held before these fields existed (`{"ip_prefix": …,
/// "user_agent_hash": …}`): fields it does not have default to `None`, a prefix or hash that
/// does not parse is dropped rather than failing the whole record, and the newer fields are
/// written only when set.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::client::{AddressRetention, ClientInfo, DeviceSummary, LoginMethod};
/// use sessionwarden::Timestamp;
///
/// let info = ClientInfo::new("192.0.2.10".parse().unwrap(), Some(b"curl/8.5.0"), AddressRetention::PrefixOnly)
///     .with_device(DeviceSummary::new(Some("curl"), Some(8), None))
///     .with_login(Timestamp::from_unix(1_700_000_000), LoginMethod::Password);
/// assert_eq!(info.ip_prefix.unwrap().to_string(), "192.0.2.0/24");
/// assert_eq!(info.ip_addr, None);
/// assert_eq!(info.login_method, Some(LoginMethod::Password));
///
/// let old: ClientInfo = serde_json::from_str(r#"{"ip_prefix":"192.0.2.0/24","user_agent_hash":"07d1d539047ef019"}"#)?;
/// assert_eq!(old.ip_prefix, info.ip_prefix);
/// assert_eq!(old.user_agent_hash, info.user_agent_hash);
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
    /// The metadata of a client at `addr` sending `user_agent` (the header's bytes, if any):
    /// its prefix, the full address under [`AddressRetention::FullAddress`] only, and the
    /// agent's hash. The device summary comes from the session layer's parser
    /// ([`ClientInfo::with_device`]).
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::{AddressRetention, ClientInfo};
    /// let info = ClientInfo::new("2001:db8:1:2::9".parse().unwrap(), None, AddressRetention::FullAddress);
    /// assert_eq!(info.ip_prefix.unwrap().to_string(), "2001:db8:1::/48");
    /// assert_eq!(info.ip_addr, Some("2001:db8:1:2::9".parse().unwrap()));
    /// assert_eq!((info.device, info.user_agent_hash), (None, None));
    /// ```
    #[must_use]
    pub fn new(addr: IpAddr, user_agent: Option<&[u8]>, retention: AddressRetention) -> Self {
        let addr = canonical_addr(addr);
        Self {
            ip_prefix: Some(IpPrefix::from_addr(addr)),
            user_agent_hash: user_agent.map(UserAgentHash::of),
            ip_addr: (retention == AddressRetention::FullAddress).then_some(addr),
            device: None,
            login_at: None,
            login_method: None,
        }
    }

    /// Only a `User-Agent` hash: what a request without a known peer address records.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::ClientInfo;
    /// let info = ClientInfo::from_user_agent_hash(Some(b"curl/8.5.0"));
    /// assert_eq!(info.user_agent_hash.unwrap().to_string(), "07d1d539047ef019");
    /// assert_eq!(info.ip_prefix, None);
    /// ```
    #[must_use]
    pub fn from_user_agent_hash(user_agent: Option<&[u8]>) -> Self {
        Self { user_agent_hash: user_agent.map(UserAgentHash::of), ..Self::default() }
    }

    /// This metadata with a device summary.
    #[must_use]
    pub fn with_device(mut self, device: DeviceSummary) -> Self {
        self.device = Some(device);
        self
    }

    /// This metadata with the login recorded.
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
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
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::{AddressRetention, ClientInfo};
    /// let at = |ip: &str| ClientInfo::new(ip.parse().unwrap(), None, AddressRetention::PrefixOnly);
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
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::{ClientInfo, DeviceSummary};
    /// let on = |browser, major| ClientInfo::default().with_device(DeviceSummary::new(Some(browser), Some(major), Some("Linux")));
    /// assert_eq!(on("Firefox", 121).same_device(&on("Firefox", 122)), Some(true));
    /// assert_eq!(on("Firefox", 121).same_device(&on("Chrome", 121)), Some(false));
    /// ```
    #[must_use]
    pub fn same_device(&self, other: &Self) -> Option<bool> {
        Some(self.device.as_ref()?.same_device(other.device.as_ref()?))
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
