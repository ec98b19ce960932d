//! Building a session's [`ClientInfo`] from a request.

use std::net::IpAddr;

use http::HeaderMap;
use http::header::USER_AGENT;

use super::device::device_summary;
use super::proxy::{ClientAddr, TrustedProxies, resolve_client_ip};
use crate::client::{AddressRetention, ClientInfo};

/// The metadata of a client at `addr` sending `user_agent` (the header's bytes, if any).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::AddressRetention;
/// let info = sessionwarden::client::observe("2001:db8:1:2::9".parse().unwrap(), None, AddressRetention::FullAddress);
/// assert_eq!(info.ip_prefix.unwrap().to_string(), "2001:db8:1::/48");
/// assert_eq!(info.ip_addr, Some("2001:db8:1:2::9".parse().unwrap()));
/// assert_eq!((info.device, info.user_agent_hash), (None, None));
/// ```
#[must_use]
pub fn observe(addr: IpAddr, user_agent: Option<&[u8]>, retention: AddressRetention) -> ClientInfo {
    let info = ClientInfo::new(addr, user_agent, retention);
    match user_agent {
        Some(ua) => info.with_device(device_summary(ua)),
        None => info,
    }
}

/// [`observe`] for a request from `peer` with `headers`: the address through
/// [`resolve_client_ip`], the `User-Agent` from the headers. The [`ClientAddr`] is
/// returned too, so a [`ClientAddr::problem`] can be recorded as a security event.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{AddressRetention, TrustedProxies};
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-forwarded-for", "203.0.113.9".parse().unwrap());
/// let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
/// let (info, _) = sessionwarden::client::from_request("10.0.0.1".parse().unwrap(), &headers, &proxies, AddressRetention::PrefixOnly);
/// assert_eq!(info.ip_prefix.unwrap().to_string(), "203.0.113.0/24");
/// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
/// ```
#[must_use]
pub fn from_request(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
    retention: AddressRetention,
) -> (ClientInfo, ClientAddr) {
    let addr = resolve_client_ip(peer, headers, trusted);
    let user_agent = headers.get(USER_AGENT).map(http::HeaderValue::as_bytes);
    (observe(addr.addr(), user_agent, retention), addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{LoginMethod, UserAgentHash};
    use crate::time::Timestamp;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

    fn full() -> ClientInfo {
        observe("2001:db8:1:2::9".parse().unwrap(), Some(FIREFOX.as_bytes()), AddressRetention::FullAddress)
            .with_login(Timestamp::from_unix(1_700_000_000), LoginMethod::Passkey)
    }

    #[test]
    fn serde_round_trips() {
        let cases = [
            ("default", ClientInfo::default()),
            ("prefix only", observe("192.0.2.1".parse().unwrap(), None, AddressRetention::PrefixOnly)),
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
        // Without the newer fields the shape is what records have always held.
        let json = serde_json::to_string(&ClientInfo::default()).unwrap();
        assert_eq!(json, r#"{"ip_prefix":null,"user_agent_hash":null}"#);
    }

    #[test]
    fn metadata_of_the_wrong_type_is_dropped_not_fatal() {
        let json = r#"{"ip_prefix":24,"user_agent_hash":{"a":1},"ip_addr":[1],"login_at":5}"#;
        let info: ClientInfo = serde_json::from_str(json).unwrap();
        assert_eq!((info.ip_prefix, info.user_agent_hash, info.ip_addr), (None, None, None));
        assert_eq!(info.login_at, Some(Timestamp::from_unix(5)));
    }

    #[test]
    fn full_address_only_when_configured() {
        let addr: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        let prefix_only = observe(addr, None, AddressRetention::PrefixOnly);
        assert_eq!(prefix_only.ip_addr, None);
        assert!(!serde_json::to_string(&prefix_only).unwrap().contains("192.0.2.9"));
        let full = observe(addr, None, AddressRetention::FullAddress);
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
        assert_eq!(LoginMethod::from_name(&"x".repeat(100)).name().len(), 32);
    }

    #[test]
    fn comparisons_table() {
        let at = |ip: &str, ua: &str| {
            observe(ip.parse().unwrap(), Some(ua.as_bytes()), AddressRetention::PrefixOnly)
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
