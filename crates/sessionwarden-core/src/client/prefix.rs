//! The network a client address belongs to: its /24 (IPv4) or /48 (IPv6).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Prefix length kept for IPv4 addresses: one /24 is one home, office or Wi-Fi network, and
/// DHCP moves a client around inside it.
pub const IPV4_PREFIX_LEN: u8 = 24;
/// Prefix length kept for IPv6 addresses: a /48 is the usual end-site allocation (RFC 6177),
/// so privacy-address rotation (RFC 8981) and the /64 a router hands out stay inside it.
pub const IPV6_PREFIX_LEN: u8 = 48;

/// A client's network: an IPv4 /24 or an IPv6 /48, with the host bits dropped.
///
/// This is what a session record keeps of a client address by default: coarse enough not to
/// single out one device, fine enough that "the session moved to another network" means
/// something. Two addresses compare equal as prefixes when they share the network, so a
/// Wi-Fi reconnect or an IPv6 privacy-address rotation is not a change.
///
/// IPv4-mapped IPv6 addresses (`::ffff:192.0.2.1`, what a dual-stack socket reports for an
/// IPv4 peer) are the IPv4 address they carry.
///
/// Text and serde form: CIDR notation, `"192.0.2.0/24"` or `"2001:db8:1::/48"`.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use std::net::IpAddr;
/// use sessionwarden::client::IpPrefix;
///
/// let home: IpAddr = "192.0.2.10".parse().unwrap();
/// let after_reconnect: IpAddr = "192.0.2.77".parse().unwrap();
/// assert_eq!(IpPrefix::from_addr(home), IpPrefix::from_addr(after_reconnect));
/// assert_eq!(IpPrefix::from_addr(home).to_string(), "192.0.2.0/24");
///
/// let mapped: IpAddr = "::ffff:192.0.2.10".parse().unwrap();
/// assert_eq!(IpPrefix::from_addr(mapped), IpPrefix::from_addr(home));
///
/// let parsed: IpPrefix = "2001:db8:1::/48".parse().unwrap();
/// assert!(parsed.contains("2001:db8:1:ffff::1".parse().unwrap()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IpPrefix(
    // invariant: an Ipv4Net of length IPV4_PREFIX_LEN or an Ipv6Net of length IPV6_PREFIX_LEN,
    // host bits zero, never an IPv4-mapped IPv6 network.
    IpNet,
);

impl IpPrefix {
    /// The network `addr` belongs to (IPv4-mapped IPv6 addresses count as IPv4).
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::IpPrefix;
    /// let prefix = IpPrefix::from_addr("2001:db8:aa:bb::1".parse().unwrap());
    /// assert_eq!(prefix.to_string(), "2001:db8:aa::/48");
    /// ```
    #[must_use]
    pub fn from_addr(addr: IpAddr) -> Self {
        match canonical_addr(addr) {
            IpAddr::V4(v4) => Self(IpNet::V4(v4_net(v4))),
            IpAddr::V6(v6) => Self(IpNet::V6(v6_net(v6))),
        }
    }

    /// The network as an [`IpNet`].
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::IpPrefix;
    /// let prefix = IpPrefix::from_addr("192.0.2.9".parse().unwrap());
    /// assert_eq!(prefix.network().prefix_len(), 24);
    /// ```
    #[must_use]
    pub fn network(&self) -> IpNet {
        self.0
    }

    /// Whether `addr` lies inside this network (IPv4-mapped addresses count as IPv4).
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::IpPrefix;
    /// let prefix: IpPrefix = "198.51.100.0/24".parse().unwrap();
    /// assert!(prefix.contains("198.51.100.200".parse().unwrap()));
    /// assert!(!prefix.contains("198.51.101.1".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&canonical_addr(addr))
    }

    /// Whether this is an IPv4 /24 (otherwise it is an IPv6 /48).
    ///
    /// ```
    /// # extern crate sessionwarden_core as sessionwarden;
    /// use sessionwarden::client::IpPrefix;
    /// assert!(IpPrefix::from_addr("192.0.2.1".parse().unwrap()).is_ipv4());
    /// assert!(!IpPrefix::from_addr("2001:db8::1".parse().unwrap()).is_ipv4());
    /// ```
    #[must_use]
    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }
}

/// `addr` with IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) turned into the IPv4 address.
///
/// Only the mapped form: the deprecated IPv4-compatible form (`::a.b.c.d`) is left alone,
/// since `::1` (loopback) would otherwise become `0.0.0.1`.
pub fn canonical_addr(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

fn v4_net(addr: Ipv4Addr) -> Ipv4Net {
    let bits = u32::from(addr) & (u32::MAX << (32 - u32::from(IPV4_PREFIX_LEN)));
    // invariant: IPV4_PREFIX_LEN <= 32, so the length is always accepted
    Ipv4Net::new(Ipv4Addr::from(bits), IPV4_PREFIX_LEN).expect("/24 is a valid IPv4 prefix length")
}

fn v6_net(addr: Ipv6Addr) -> Ipv6Net {
    let bits = u128::from(addr) & (u128::MAX << (128 - u32::from(IPV6_PREFIX_LEN)));
    // invariant: IPV6_PREFIX_LEN <= 128, so the length is always accepted
    Ipv6Net::new(Ipv6Addr::from(bits), IPV6_PREFIX_LEN).expect("/48 is a valid IPv6 prefix length")
}

/// Why a text is not an [`IpPrefix`].
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use sessionwarden::client::{IpPrefix, IpPrefixError};
/// assert_eq!("192.0.2.0/16".parse::<IpPrefix>(), Err(IpPrefixError::WrongLength));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpPrefixError {
    /// The text is not CIDR notation (`192.0.2.0/24`, `2001:db8::/48`).
    #[error("not an IP prefix: expected CIDR notation such as 192.0.2.0/24 or 2001:db8::/48")]
    NotCidr,
    /// The prefix length is not 24 (IPv4) or 48 (IPv6), the only lengths sessions keep.
    #[error("wrong IP prefix length: expected /24 for IPv4 or /48 for IPv6")]
    WrongLength,
    /// The address has bits set past the prefix length (`192.0.2.1/24`); write the network
    /// address, or build the prefix with [`IpPrefix::from_addr`].
    #[error("IP prefix has host bits set: write the network address (e.g. 192.0.2.0/24)")]
    HostBitsSet,
    /// An IPv4-mapped IPv6 network; write it as the IPv4 /24 it maps.
    #[error("IPv4-mapped IPv6 prefix: write it as the IPv4 /24")]
    Ipv4Mapped,
}

impl FromStr for IpPrefix {
    type Err = IpPrefixError;

    /// Parses canonical CIDR text: exactly the form [`IpPrefix`]'s `Display` writes.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let net: IpNet = s.parse().map_err(|_| IpPrefixError::NotCidr)?;
        let want = match net {
            IpNet::V4(_) => IPV4_PREFIX_LEN,
            IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() => {
                return Err(IpPrefixError::Ipv4Mapped);
            }
            IpNet::V6(_) => IPV6_PREFIX_LEN,
        };
        if net.prefix_len() != want {
            return Err(IpPrefixError::WrongLength);
        }
        if net.trunc() != net {
            return Err(IpPrefixError::HostBitsSet);
        }
        Ok(Self(net))
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IpPrefix({})", self.0)
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpPrefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(addr: &str) -> IpPrefix {
        IpPrefix::from_addr(addr.parse().unwrap())
    }

    #[test]
    fn prefix_table() {
        struct Case {
            name: &'static str,
            a: &'static str,
            b: &'static str,
            same: bool,
        }
        let cases = [
            Case { name: "Wi-Fi reconnect within one /24", a: "192.0.2.10", b: "192.0.2.250", same: true },
            Case { name: "different /24", a: "192.0.2.10", b: "192.0.3.10", same: false },
            Case { name: "same last octet, other network", a: "10.1.2.3", b: "10.9.2.3", same: false },
            Case {
                name: "IPv6 privacy-address rotation within one /64",
                a: "2001:db8:1:2:a1b2:c3d4:e5f6:1",
                b: "2001:db8:1:2:1111:2222:3333:4444",
                same: true,
            },
            Case {
                name: "IPv6 new /64 from the same /48 (router renumbering)",
                a: "2001:db8:1:2::1",
                b: "2001:db8:1:ff00::1",
                same: true,
            },
            Case { name: "different /48", a: "2001:db8:1::1", b: "2001:db8:2::1", same: false },
            Case { name: "IPv4-mapped IPv6 is its IPv4", a: "::ffff:192.0.2.1", b: "192.0.2.99", same: true },
            Case { name: "IPv4 and IPv6 never equal", a: "192.0.2.1", b: "2001:db8::1", same: false },
            Case { name: "IPv6 loopback is not 0.0.0.1", a: "::1", b: "0.0.0.1", same: false },
        ];
        for c in cases {
            assert_eq!(prefix(c.a) == prefix(c.b), c.same, "{}", c.name);
        }
    }

    #[test]
    fn text_form_table() {
        let cases: [(&str, &str, Result<&str, IpPrefixError>); 10] = [
            ("IPv4 network", "192.0.2.0/24", Ok("192.0.2.0/24")),
            ("IPv6 network", "2001:db8:1::/48", Ok("2001:db8:1::/48")),
            ("IPv4 /16", "192.0.0.0/16", Err(IpPrefixError::WrongLength)),
            ("IPv6 /64", "2001:db8:1:2::/64", Err(IpPrefixError::WrongLength)),
            ("IPv4 host bits", "192.0.2.1/24", Err(IpPrefixError::HostBitsSet)),
            ("IPv6 host bits", "2001:db8:1:2::/48", Err(IpPrefixError::HostBitsSet)),
            ("bare address", "192.0.2.1", Err(IpPrefixError::NotCidr)),
            ("garbage", "not a network", Err(IpPrefixError::NotCidr)),
            ("empty", "", Err(IpPrefixError::NotCidr)),
            ("mapped", "::ffff:192.0.2.0/120", Err(IpPrefixError::Ipv4Mapped)),
        ];
        for (name, text, want) in cases {
            let got = text.parse::<IpPrefix>().map(|p| p.to_string());
            assert_eq!(got.as_deref().map_err(|e| *e), want, "{name}");
        }
    }

    #[test]
    fn from_addr_output_parses_back() {
        for addr in ["192.0.2.77", "2001:db8:abcd:12::1", "::ffff:203.0.113.5", "::1", "0.0.0.0"] {
            let p = prefix(addr);
            assert_eq!(p.to_string().parse::<IpPrefix>(), Ok(p), "{addr}");
        }
    }

    #[test]
    fn serde_is_the_text_form() {
        let p = prefix("203.0.113.9");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#""203.0.113.0/24""#);
        assert_eq!(serde_json::from_str::<IpPrefix>(&json).unwrap(), p);
        assert!(serde_json::from_str::<IpPrefix>(r#""203.0.113.9/24""#).is_err());
        assert!(serde_json::from_str::<IpPrefix>("42").is_err());
    }
}
