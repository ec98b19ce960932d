//! Client metadata as a record keeps it: which network and device a session is used from,
//! and how its user logged in ([`ClientInfo`]). The admin views show it; the risk rules
//! compare it by meaning, not by string (an [`IpPrefix`] change, a browser or OS family
//! change; a version bump is not a change).
//!
//! These are plain data with a stable JSON form. Building them from a request (the peer
//! address, trusted proxies, the `User-Agent` parser) is the session layer's part:
//! `sessionwarden::client`.

pub mod device;
mod info;
mod prefix;
mod risk;

pub use self::device::{DeviceSummary, UserAgentHash, UserAgentHashError};
pub use self::info::{AddressRetention, ClientInfo, LoginMethod};
pub use self::prefix::{IPV4_PREFIX_LEN, IPV6_PREFIX_LEN, IpPrefix, IpPrefixError, canonical_addr};
pub use self::risk::{RiskState, StepUp, agent_fingerprint};
