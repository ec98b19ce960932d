//! Client metadata: which network and device a session is used from, and how its user logged
//! in. The admin views show it; the risk rules compare it by meaning, not by string (an
//! [`IpPrefix`] change, a browser or OS family change; a version bump is not a change).
//!
//! The parts, in the order a request meets them:
//!
//! - [`resolve_client_ip`] finds the client address: the TCP peer, or, only when the peer is
//!   one of the [`TrustedProxies`], the right-most untrusted hop of the forwarding header
//!   they write (`X-Forwarded-For` or RFC 7239 `Forwarded`). A broken header leaves the peer
//!   and names a [`ForwardingProblem`] for a security event.
//! - [`IpPrefix`] keeps the /24 (IPv4) or /48 (IPv6) of it.
//! - [`device_summary`] reads browser family, major version and OS family from the
//!   `User-Agent` with the uap-core rules (the `ua-parser` crate), compiled once per process;
//!   [`UserAgentHash`] is the exact-string fingerprint beside it.
//! - [`ClientInfo`] is what a record carries: prefix, optional full address (only under
//!   [`AddressRetention::FullAddress`]), device, UA hash, login time and method;
//!   [`from_request`] builds it, once per new session and never per request.
//!
//! The peer address comes from axum's `ConnectInfo`. The one line to add where the server
//! starts:
//!
//! ```no_run
//! # extern crate sessionwarden_tower as sessionwarden;
//! # async fn f(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
//! use std::net::SocketAddr;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
//! # }
//! ```
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use sessionwarden::client::{AddressRetention, TrustedProxies};
//!
//! let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
//! let mut headers = http::HeaderMap::new();
//! headers.insert("x-forwarded-for", "203.0.113.9, 10.0.0.3".parse().unwrap());
//! headers.insert("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0".parse().unwrap());
//!
//! let (info, addr) = sessionwarden::client::from_request("10.0.0.2".parse().unwrap(), &headers, &proxies, AddressRetention::PrefixOnly);
//! assert_eq!(addr.addr().to_string(), "203.0.113.9");
//! assert_eq!(info.ip_prefix.unwrap().to_string(), "203.0.113.0/24");
//! assert_eq!(info.device.unwrap().browser(), Some("Firefox"));
//! # Ok::<(), sessionwarden::client::TrustedProxyError>(())
//! ```
//!
//!

mod device;
mod info;
mod proxy;

pub use self::device::{MAX_USER_AGENT_LEN, device_summary, preload_device_rules};
pub use self::info::{from_request, observe};
pub(crate) use self::proxy::ForwardedLines;
pub use self::proxy::{
    AddrSource, ClientAddr, ForwardingHeader, ForwardingProblem, MAX_HOPS, TrustedProxies, TrustedProxyError,
    UnknownForwardingHeader, parse_cidr, resolve_client_ip,
};
pub use sessionwarden_core::client::{
    AddressRetention, ClientInfo, DeviceSummary, IPV4_PREFIX_LEN, IPV6_PREFIX_LEN, IpPrefix, IpPrefixError,
    LoginMethod, UserAgentHash, UserAgentHashError,
};
