//! Which address a request came from, behind reverse proxies one trusts.

use std::collections::VecDeque;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use http::HeaderMap;
use http::header::{FORWARDED, HeaderName};
use ipnet::{IpNet, Ipv4Net};

use sessionwarden_core::client::{IpPrefix, canonical_addr};

/// The most list elements (hops) read from a forwarding header, counted from the right.
///
/// Real chains are a handful of proxies; anything longer is a client padding the header. The
/// walk stops at the first untrusted hop, so a long client-supplied left part costs nothing
/// when the proxies in front of it are few; only a chain of more than this many *trusted*
/// hops is given up on ([`ForwardingProblem::TooManyHops`]).
pub const MAX_HOPS: usize = 32;

/// The most `;`-separated pairs in one `Forwarded` element (RFC 7239 defines four).
const MAX_PAIRS: usize = 16;

/// Which forwarding header the trusted proxies write.
///
/// One header is read, never "whichever is present": a proxy that appends to
/// `X-Forwarded-For` passes a client's own `Forwarded` header through untouched, so
/// preferring `Forwarded` whenever it exists would let any client choose its address.
/// Configure the header your proxies actually set (and, ideally, make them strip the other).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{ForwardingHeader, TrustedProxies};
/// let proxies = TrustedProxies::new(["10.0.0.0/8"])?.with_header(ForwardingHeader::Forwarded);
/// assert_eq!(proxies.header(), ForwardingHeader::Forwarded);
/// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ForwardingHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`, the de facto header of nginx, HAProxy,
    /// Envoy and the cloud load balancers. The default.
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client;proto=https, for="[2001:db8::1]:4711"` (RFC 7239).
    Forwarded,
}

impl ForwardingHeader {
    /// The header's name.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::ForwardingHeader;
    /// assert_eq!(ForwardingHeader::XForwardedFor.name().as_str(), "x-forwarded-for");
    /// ```
    #[must_use]
    pub fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => X_FORWARDED_FOR,
            Self::Forwarded => FORWARDED,
        }
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The reverse proxies whose forwarding headers are believed: a list of networks
/// (`--trusted-proxy`, repeatable) and the header they write.
///
/// Empty by default: with no trusted proxy the peer address is the client address and every
/// forwarding header is ignored, since any client can send one.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::TrustedProxies;
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.7"])?;
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(proxies.contains("192.0.2.7".parse().unwrap()));
/// assert!(!proxies.contains("192.0.2.8".parse().unwrap()));
/// assert!(TrustedProxies::default().is_empty());
/// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    // invariant: no IPv4-mapped IPv6 network (they are stored as the IPv4 network), so a
    // canonical address is checked against one form only.
    nets: Vec<IpNet>,
    header: ForwardingHeader,
}

impl TrustedProxies {
    /// Trusts the networks in `cidrs`: CIDR text (`10.0.0.0/8`, `2001:db8::/32`) or a bare
    /// address for one host. The header read is `X-Forwarded-For`; see
    /// [`TrustedProxies::with_header`].
    ///
    /// # Errors
    /// Returns [`TrustedProxyError::InvalidCidr`] for the first entry that is neither.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::TrustedProxies;
    /// assert!(TrustedProxies::new(["10.0.0.0/8"]).is_ok());
    /// assert!(TrustedProxies::new(["10.0.0.0/33"]).is_err());
    /// ```
    pub fn new<I>(cidrs: I) -> Result<Self, TrustedProxyError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let nets = cidrs.into_iter().map(|c| parse_cidr(c.as_ref())).collect::<Result<_, _>>()?;
        Ok(Self { nets, header: ForwardingHeader::default() })
    }

    /// Also trusts `net`.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::TrustedProxies;
    /// let proxies = TrustedProxies::default().with_network("172.16.0.0/12".parse().unwrap());
    /// assert!(proxies.contains("172.20.0.1".parse().unwrap()));
    /// ```
    #[must_use]
    pub fn with_network(mut self, net: IpNet) -> Self {
        self.nets.push(canonical_net(net));
        self
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{ForwardingHeader, TrustedProxies};
    /// let proxies = TrustedProxies::default().with_header(ForwardingHeader::Forwarded);
    /// assert_eq!(proxies.header(), ForwardingHeader::Forwarded);
    /// ```
    #[must_use]
    pub fn with_header(mut self, header: ForwardingHeader) -> Self {
        self.header = header;
        self
    }

    /// The forwarding header that is read.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{ForwardingHeader, TrustedProxies};
    /// assert_eq!(TrustedProxies::default().header(), ForwardingHeader::XForwardedFor);
    /// ```
    #[must_use]
    pub fn header(&self) -> ForwardingHeader {
        self.header
    }

    /// Whether `addr` is inside a trusted network (IPv4-mapped addresses count as IPv4).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::TrustedProxies;
    /// let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
    /// assert!(proxies.contains("::ffff:10.0.0.1".parse().unwrap()));
    /// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
    /// ```
    #[must_use]
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical_addr(addr);
        self.nets.iter().any(|net| net.contains(&addr))
    }

    /// Whether no network is trusted (forwarding headers are then never read).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::TrustedProxies;
    /// assert!(TrustedProxies::new(Vec::<String>::new())?.is_empty());
    /// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The trusted networks.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::TrustedProxies;
    /// let proxies = TrustedProxies::new(["10.0.0.1"])?;
    /// assert_eq!(proxies.networks()[0].to_string(), "10.0.0.1/32");
    /// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
    /// ```
    #[must_use]
    pub fn networks(&self) -> &[IpNet] {
        &self.nets
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedProxies")
            .field("nets", &self.nets.iter().map(ToString::to_string).collect::<Vec<_>>())
            .field("header", &self.header)
            .finish()
    }
}

/// Parses one `--trusted-proxy` value: CIDR text or a bare address (a host route). Host bits
/// are dropped (`10.1.2.3/8` is `10.0.0.0/8`); IPv4-mapped IPv6 networks become IPv4.
///
/// Usable as a clap `value_parser`.
///
/// # Errors
/// Returns [`TrustedProxyError::InvalidCidr`] when `text` is neither.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::parse_cidr;
/// assert_eq!(parse_cidr("2001:db8::1")?.to_string(), "2001:db8::1/128");
/// assert_eq!(parse_cidr("::ffff:10.0.0.0/104")?.to_string(), "10.0.0.0/8");
/// assert!(parse_cidr("10.0.0.0/").is_err());
/// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
/// ```
pub fn parse_cidr(text: &str) -> Result<IpNet, TrustedProxyError> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(text.parse::<IpAddr>().map_err(|_| TrustedProxyError::invalid(text))?),
    };
    Ok(canonical_net(net.trunc()))
}

/// An IPv4-mapped IPv6 network (`::ffff:0:0/96` or longer) as the IPv4 network it maps.
fn canonical_net(net: IpNet) -> IpNet {
    if let IpNet::V6(v6) = net
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
        && let Ok(v4net) = Ipv4Net::new(v4, v6.prefix_len() - 96)
    {
        return IpNet::V4(v4net.trunc());
    }
    net
}

/// A trusted-proxy entry that could not be read.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{TrustedProxies, TrustedProxyError};
/// let err = TrustedProxies::new(["ten.0.0.0/8"]).unwrap_err();
/// assert!(matches!(err, TrustedProxyError::InvalidCidr { .. }));
/// assert!(err.to_string().contains("ten.0.0.0/8"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedProxyError {
    /// The entry is neither CIDR text nor an IP address; fix the `--trusted-proxy` value.
    #[error("invalid trusted proxy {input:?}: expected CIDR (10.0.0.0/8, 2001:db8::/32) or an IP address")]
    InvalidCidr {
        /// The entry as given (cut to 64 characters).
        input: String,
    },
}

impl TrustedProxyError {
    fn invalid(text: &str) -> Self {
        Self::InvalidCidr { input: text.chars().take(64).collect() }
    }
}

/// Where [`ClientAddr::addr`] came from.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{AddrSource, TrustedProxies, resolve_client_ip};
/// let addr = resolve_client_ip("192.0.2.1".parse().unwrap(), &http::HeaderMap::new(), &TrustedProxies::default());
/// assert_eq!(addr.source(), AddrSource::Peer);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddrSource {
    /// The TCP peer itself (no trusted proxy in front, or the header was unusable).
    Peer,
    /// A hop of the header trusted proxies wrote.
    Header(ForwardingHeader),
}

/// Why a forwarding header from a trusted proxy was not used. The address falls back to the
/// peer (the proxy); the layer records the reason as a security event.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::ForwardingProblem;
/// assert_eq!(ForwardingProblem::MalformedHop.reason(), "malformed_hop");
/// assert!(ForwardingProblem::MalformedHop.is_malformed());
/// assert!(!ForwardingProblem::UnknownHop.is_malformed());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardingProblem {
    /// A header line is not visible ASCII. Proxies write ASCII; look at what sits in front.
    NotText,
    /// A hop is not an IP address (optionally with a port), `unknown`, or (in `Forwarded`)
    /// an obfuscated identifier.
    MalformedHop,
    /// A `Forwarded` element breaks RFC 7239's syntax: a pair without `=`, an unterminated
    /// quoted string, a repeated `for`.
    MalformedElement,
    /// More than [`MAX_HOPS`] hops were all trusted; the client is too far left to reach.
    TooManyHops,
    /// The right-most untrusted hop hides its address (`unknown`, an obfuscated `_name`, or
    /// a `Forwarded` element without `for`). Not an attack: a proxy chose not to say.
    UnknownHop,
}

impl ForwardingProblem {
    /// A stable snake_case name for events and metrics.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::ForwardingProblem;
    /// assert_eq!(ForwardingProblem::TooManyHops.reason(), "too_many_hops");
    /// ```
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotText => "not_text",
            Self::MalformedHop => "malformed_hop",
            Self::MalformedElement => "malformed_element",
            Self::TooManyHops => "too_many_hops",
            Self::UnknownHop => "unknown_hop",
        }
    }

    /// Whether the header was broken (worth a security event), as opposed to a proxy that
    /// chose to hide the client ([`ForwardingProblem::UnknownHop`]).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::ForwardingProblem;
    /// assert!(ForwardingProblem::NotText.is_malformed());
    /// ```
    #[must_use]
    pub fn is_malformed(self) -> bool {
        !matches!(self, Self::UnknownHop)
    }
}

impl fmt::Display for ForwardingProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

/// The client address of one request, as [`resolve_client_ip`] found it.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{TrustedProxies, resolve_client_ip};
/// let addr = resolve_client_ip("192.0.2.1".parse().unwrap(), &http::HeaderMap::new(), &TrustedProxies::default());
/// assert_eq!(addr.addr().to_string(), "192.0.2.1");
/// assert_eq!(addr.prefix().to_string(), "192.0.2.0/24");
/// assert_eq!(addr.problem(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    addr: IpAddr,
    source: AddrSource,
    problem: Option<ForwardingProblem>,
}

impl ClientAddr {
    /// The client's address (IPv4-mapped IPv6 addresses already turned into IPv4).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{TrustedProxies, resolve_client_ip};
    /// let addr = resolve_client_ip("::ffff:192.0.2.1".parse().unwrap(), &http::HeaderMap::new(), &TrustedProxies::default());
    /// assert_eq!(addr.addr().to_string(), "192.0.2.1");
    /// ```
    #[must_use]
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The network of [`ClientAddr::addr`].
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{TrustedProxies, resolve_client_ip};
    /// let addr = resolve_client_ip("2001:db8:1:2::3".parse().unwrap(), &http::HeaderMap::new(), &TrustedProxies::default());
    /// assert_eq!(addr.prefix().to_string(), "2001:db8:1::/48");
    /// ```
    #[must_use]
    pub fn prefix(&self) -> IpPrefix {
        IpPrefix::from_addr(self.addr)
    }

    /// Where the address came from.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{AddrSource, ForwardingHeader, TrustedProxies, resolve_client_ip};
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-forwarded-for", "198.51.100.7".parse().unwrap());
    /// let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
    /// let addr = resolve_client_ip("10.0.0.2".parse().unwrap(), &headers, &proxies);
    /// assert_eq!(addr.source(), AddrSource::Header(ForwardingHeader::XForwardedFor));
    /// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
    /// ```
    #[must_use]
    pub fn source(&self) -> AddrSource {
        self.source
    }

    /// Why the forwarding header was not used, when it was present but unusable.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::client::{ForwardingProblem, TrustedProxies, resolve_client_ip};
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-forwarded-for", "not-an-address".parse().unwrap());
    /// let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
    /// let addr = resolve_client_ip("10.0.0.2".parse().unwrap(), &headers, &proxies);
    /// assert_eq!(addr.problem(), Some(ForwardingProblem::MalformedHop));
    /// assert_eq!(addr.addr().to_string(), "10.0.0.2");
    /// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
    /// ```
    #[must_use]
    pub fn problem(&self) -> Option<ForwardingProblem> {
        self.problem
    }

    fn peer(peer: IpAddr, problem: Option<ForwardingProblem>) -> Self {
        Self { addr: peer, source: AddrSource::Peer, problem }
    }
}

/// One list element of a forwarding header.
enum Hop {
    /// An address.
    Addr(IpAddr),
    /// `unknown`, an obfuscated identifier, or no `for` at all.
    Hidden,
}

/// The client address of a request that arrived from `peer` with `headers`.
///
/// The forwarding header ([`TrustedProxies::header`]) is read only when `peer` is a trusted
/// proxy. Its hops are walked from the right (the most recent proxy's entry) to the left:
/// trusted hops are skipped and the first untrusted one is the client, since everything left
/// of it was written by parties who could lie. When every hop is trusted the left-most is
/// taken. Multiple header lines are one list, in order. A header that cannot be used (see
/// [`ForwardingProblem`]) leaves the peer as the address and says why; nothing here panics,
/// and at most [`MAX_HOPS`] hops are read.
///
/// With axum the peer address comes from `ConnectInfo`; serve the app with the one line
///
/// ```no_run
/// # extern crate sessionwarden_tower as sessionwarden;
/// # async fn f(listener: tokio::net::TcpListener, app: axum::Router) -> std::io::Result<()> {
/// # use std::net::SocketAddr;
/// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
/// # }
/// ```
///
/// and read `request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>()`.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::{TrustedProxies, resolve_client_ip};
/// let proxies = TrustedProxies::new(["10.0.0.0/8"])?;
/// let mut headers = http::HeaderMap::new();
/// // The client claimed 1.1.1.1; the proxy at 10.0.0.5 saw 203.0.113.9 and appended it.
/// headers.insert("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5".parse().unwrap());
/// let addr = resolve_client_ip("10.0.0.6".parse().unwrap(), &headers, &proxies);
/// assert_eq!(addr.addr().to_string(), "203.0.113.9");
///
/// // The same header straight from the internet is ignored.
/// let addr = resolve_client_ip("198.51.100.1".parse().unwrap(), &headers, &proxies);
/// assert_eq!(addr.addr().to_string(), "198.51.100.1");
/// # Ok::<(), sessionwarden::client::TrustedProxyError>(())
/// ```
#[must_use]
pub fn resolve_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientAddr {
    let peer = canonical_addr(peer);
    if !trusted.contains(peer) {
        return ClientAddr::peer(peer, None);
    }
    resolve_forwarded(peer, headers.get_all(trusted.header().name()).iter(), trusted)
}

/// The forwarding header's lines of a request from a trusted proxy, kept (reference-counted
/// clones, no parsing) so that the client address is resolved only if something asks for
/// it: most requests of a logged-in session never do.
#[derive(Debug, Clone)]
pub(crate) enum ForwardedLines {
    None,
    One(http::HeaderValue),
    Many(Vec<http::HeaderValue>),
}

impl ForwardedLines {
    /// The lines of `trusted`'s header in `headers`.
    pub(crate) fn of(headers: &HeaderMap, trusted: &TrustedProxies) -> Self {
        let mut lines = headers.get_all(trusted.header().name()).iter();
        match (lines.next(), lines.next()) {
            (None, _) => Self::None,
            (Some(one), None) => Self::One(one.clone()),
            (Some(first), Some(second)) => {
                Self::Many([first, second].into_iter().chain(lines).cloned().collect())
            }
        }
    }

    /// [`resolve_client_ip`] for a `peer` already known to be a trusted proxy.
    pub(crate) fn resolve(&self, peer: IpAddr, trusted: &TrustedProxies) -> ClientAddr {
        let peer = canonical_addr(peer);
        match self {
            Self::None => resolve_forwarded(peer, std::iter::empty(), trusted),
            Self::One(line) => resolve_forwarded(peer, std::iter::once(line), trusted),
            Self::Many(lines) => resolve_forwarded(peer, lines.iter(), trusted),
        }
    }
}

/// The walk of [`resolve_client_ip`] over the header's `lines`, once `peer` (canonical) is
/// known to be trusted.
fn resolve_forwarded<'a>(
    peer: IpAddr,
    lines: impl DoubleEndedIterator<Item = &'a http::HeaderValue>,
    trusted: &TrustedProxies,
) -> ClientAddr {
    let header = trusted.header();
    let mut hops = 0usize;
    let mut leftmost = None;
    // Lines are walked last to first, and each line right to left, so a decision is usually
    // reached without reading what the client wrote.
    for line in lines.rev() {
        let Ok(line) = line.to_str() else {
            return ClientAddr::peer(peer, Some(ForwardingProblem::NotText));
        };
        let walked = match header {
            ForwardingHeader::XForwardedFor => {
                walk(line.rsplit(',').map(xff_hop), trusted, &mut hops, &mut leftmost)
            }
            ForwardingHeader::Forwarded => {
                let (elements, _) = split_quoted(line, b',', MAX_HOPS + 1 - hops.min(MAX_HOPS));
                walk(elements.into_iter().rev().map(forwarded_hop), trusted, &mut hops, &mut leftmost)
            }
        };
        match walked {
            Walk::Continue => {}
            Walk::Client(addr) => {
                return ClientAddr { addr, source: AddrSource::Header(header), problem: None };
            }
            Walk::Stop(problem) => return ClientAddr::peer(peer, Some(problem)),
        }
    }
    match leftmost {
        // Every hop was trusted: the left-most is as far as the chain tells.
        Some(addr) => ClientAddr { addr, source: AddrSource::Header(header), problem: None },
        None => ClientAddr::peer(peer, None),
    }
}

enum Walk {
    Continue,
    Client(IpAddr),
    Stop(ForwardingProblem),
}

/// Walks hops right to left; `hops` counts across lines, `leftmost` is the last trusted one.
fn walk<I>(elements: I, trusted: &TrustedProxies, hops: &mut usize, leftmost: &mut Option<IpAddr>) -> Walk
where
    I: Iterator<Item = Result<Option<Hop>, ForwardingProblem>>,
{
    for element in elements {
        *hops += 1;
        if *hops > MAX_HOPS {
            return Walk::Stop(ForwardingProblem::TooManyHops);
        }
        match element {
            Err(problem) => return Walk::Stop(problem),
            // RFC 9110 §5.6.1: empty list elements are ignored.
            Ok(None) => {}
            Ok(Some(Hop::Hidden)) => return Walk::Stop(ForwardingProblem::UnknownHop),
            Ok(Some(Hop::Addr(addr))) => {
                let addr = canonical_addr(addr);
                if !trusted.contains(addr) {
                    return Walk::Client(addr);
                }
                *leftmost = Some(addr);
            }
        }
    }
    Walk::Continue
}

/// One `X-Forwarded-For` element: an address, optionally `v4:port` or `[v6]:port`, or
/// `unknown` (which Squid writes).
fn xff_hop(element: &str) -> Result<Option<Hop>, ForwardingProblem> {
    let element = element.trim_matches([' ', '\t']);
    if element.is_empty() {
        return Ok(None);
    }
    if element.eq_ignore_ascii_case("unknown") {
        return Ok(Some(Hop::Hidden));
    }
    if let Ok(addr) = element.parse::<IpAddr>() {
        return Ok(Some(Hop::Addr(addr)));
    }
    if let Ok(addr) = element.parse::<SocketAddr>() {
        return Ok(Some(Hop::Addr(addr.ip())));
    }
    if let Some(inner) = element.strip_prefix('[').and_then(|e| e.strip_suffix(']'))
        && let Ok(v6) = inner.parse::<Ipv6Addr>()
    {
        return Ok(Some(Hop::Addr(IpAddr::V6(v6))));
    }
    Err(ForwardingProblem::MalformedHop)
}

/// One `Forwarded` element (RFC 7239 §4): `;`-separated pairs, of which `for` is read.
fn forwarded_hop(element: &str) -> Result<Option<Hop>, ForwardingProblem> {
    let element = element.trim_matches([' ', '\t']);
    if element.is_empty() {
        return Ok(None);
    }
    let mut node = None;
    // A `Forwarded` element has four defined parameters; a few more for extensions. More is
    // refused rather than cut, so a `for` can never be silently dropped.
    let (pairs, count) = split_quoted(element, b';', MAX_PAIRS);
    if count > MAX_PAIRS {
        return Err(ForwardingProblem::MalformedElement);
    }
    for pair in pairs {
        let pair = pair.trim_matches([' ', '\t']);
        if pair.is_empty() {
            continue;
        }
        let (name, value) = pair.split_once('=').ok_or(ForwardingProblem::MalformedElement)?;
        if name.is_empty() || !name.bytes().all(is_tchar) {
            return Err(ForwardingProblem::MalformedElement);
        }
        let value = unquote(value)?;
        if name.eq_ignore_ascii_case("for") {
            if node.is_some() {
                return Err(ForwardingProblem::MalformedElement);
            }
            node = Some(value);
        }
    }
    match node {
        Some(node) => forwarded_node(&node).map(Some),
        // An element with no `for` says nothing of who the client was.
        None => Ok(Some(Hop::Hidden)),
    }
}

/// A `Forwarded` parameter value: a token or a quoted string (RFC 9110 §5.6.4).
fn unquote(value: &str) -> Result<String, ForwardingProblem> {
    let Some(inner) = value.strip_prefix('"') else {
        return if !value.is_empty() && value.bytes().all(is_tchar) {
            Ok(value.to_owned())
        } else {
            Err(ForwardingProblem::MalformedElement)
        };
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next().ok_or(ForwardingProblem::MalformedElement)?),
            '"' => {
                return if chars.as_str().is_empty() {
                    Ok(out)
                } else {
                    Err(ForwardingProblem::MalformedElement)
                };
            }
            c => out.push(c),
        }
    }
    // No closing quote.
    Err(ForwardingProblem::MalformedElement)
}

/// A `for` node (RFC 7239 §6): `nodename [ ":" node-port ]`, nodename an IPv4 address, a
/// bracketed IPv6 address, `unknown` or an obfuscated `_identifier`.
fn forwarded_node(node: &str) -> Result<Hop, ForwardingProblem> {
    let (name, port) = if let Some(rest) = node.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(ForwardingProblem::MalformedHop)?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(ForwardingProblem::MalformedHop)?),
        };
        let v6 = v6.parse::<Ipv6Addr>().map_err(|_| ForwardingProblem::MalformedHop)?;
        check_port(port)?;
        return Ok(Hop::Addr(IpAddr::V6(v6)));
    } else {
        match node.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (node, None),
        }
    };
    check_port(port)?;
    if name.eq_ignore_ascii_case("unknown") {
        return Ok(Hop::Hidden);
    }
    if let Some(obf) = name.strip_prefix('_') {
        return if is_obfuscated(obf) { Ok(Hop::Hidden) } else { Err(ForwardingProblem::MalformedHop) };
    }
    // An unbracketed IPv6 address fails here: RFC 7239 requires the brackets.
    name.parse::<Ipv4Addr>().map(|v4| Hop::Addr(IpAddr::V4(v4))).map_err(|_| ForwardingProblem::MalformedHop)
}

/// `node-port = port / obfport`: 1 to 5 digits, or `_` and obfuscated characters.
fn check_port(port: Option<&str>) -> Result<(), ForwardingProblem> {
    let Some(port) = port else { return Ok(()) };
    let digits = (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit());
    let obfuscated = port.strip_prefix('_').is_some_and(is_obfuscated);
    if digits || obfuscated { Ok(()) } else { Err(ForwardingProblem::MalformedHop) }
}

/// `obfnode`/`obfport` after the `_`: one or more of ALPHA / DIGIT / "." / "_" / "-".
fn is_obfuscated(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Splits `s` at `sep` outside quoted strings, keeping only the last `keep` pieces (and one
/// more, so the caller sees that there were more), and counts all of them. Linear in `s`; the
/// memory kept is bounded by `keep` whatever the input's length.
fn split_quoted(s: &str, sep: u8, keep: usize) -> (VecDeque<&str>, usize) {
    let mut out = VecDeque::with_capacity(keep.min(MAX_HOPS + 1) + 1);
    let bytes = s.as_bytes();
    let (mut start, mut quoted, mut escaped, mut count) = (0, false, false, 1);
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && b == b'\\' {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if !quoted && b == sep {
            push_bounded(&mut out, &s[start..i], keep);
            start = i + 1;
            count += 1;
        }
    }
    push_bounded(&mut out, &s[start..], keep);
    (out, count)
}

fn push_bounded<'a>(out: &mut VecDeque<&'a str>, piece: &'a str, keep: usize) {
    if out.len() > keep {
        out.pop_front();
    }
    out.push_back(piece);
}

impl FromStr for ForwardingHeader {
    type Err = UnknownForwardingHeader;

    /// `x-forwarded-for` or `forwarded`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("x-forwarded-for") {
            Ok(Self::XForwardedFor)
        } else if s.eq_ignore_ascii_case("forwarded") {
            Ok(Self::Forwarded)
        } else {
            Err(UnknownForwardingHeader)
        }
    }
}

/// A forwarding header name other than `x-forwarded-for` or `forwarded`.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::client::ForwardingHeader;
/// assert!("x-real-ip".parse::<ForwardingHeader>().is_err());
/// assert_eq!("Forwarded".parse::<ForwardingHeader>(), Ok(ForwardingHeader::Forwarded));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown forwarding header: expected x-forwarded-for or forwarded")]
pub struct UnknownForwardingHeader;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const XFF: ForwardingHeader = ForwardingHeader::XForwardedFor;
    const FWD: ForwardingHeader = ForwardingHeader::Forwarded;

    struct Case {
        name: &'static str,
        header: ForwardingHeader,
        peer: &'static str,
        xff: &'static [&'static str],
        forwarded: &'static [&'static str],
        want: &'static str,
        from_header: bool,
        problem: Option<ForwardingProblem>,
    }

    const fn case(name: &'static str, header: ForwardingHeader, peer: &'static str) -> Case {
        Case { name, header, peer, xff: &[], forwarded: &[], want: "", from_header: false, problem: None }
    }

    impl Case {
        const fn xff(mut self, lines: &'static [&'static str]) -> Self {
            self.xff = lines;
            self
        }
        const fn fwd(mut self, lines: &'static [&'static str]) -> Self {
            self.forwarded = lines;
            self
        }
        const fn client(mut self, want: &'static str) -> Self {
            self.want = want;
            self.from_header = true;
            self
        }
        const fn peer_because(mut self, want: &'static str, problem: Option<ForwardingProblem>) -> Self {
            self.want = want;
            self.problem = problem;
            self
        }
    }

    fn trusted(header: ForwardingHeader) -> TrustedProxies {
        TrustedProxies::new(["10.0.0.0/8", "2001:db8:ffff::/48", "192.0.2.1"]).unwrap().with_header(header)
    }

    fn headers(c: &Case) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in c.xff {
            h.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        for line in c.forwarded {
            h.append(FORWARDED, HeaderValue::from_str(line).unwrap());
        }
        h
    }

    use ForwardingProblem::*;

    #[test]
    fn trusted_proxy_table() {
        let cases = [
            case("no header, untrusted peer", XFF, "198.51.100.1").peer_because("198.51.100.1", None),
            case("no header, trusted peer", XFF, "10.0.0.1").peer_because("10.0.0.1", None),
            case("spoofed XFF from an untrusted peer is ignored", XFF, "198.51.100.1")
                .xff(&["1.2.3.4"])
                .peer_because("198.51.100.1", None),
            case("spoofed Forwarded from an untrusted peer is ignored", FWD, "198.51.100.1")
                .fwd(&["for=1.2.3.4"])
                .peer_because("198.51.100.1", None),
            case("one trusted proxy", XFF, "10.0.0.1").xff(&["203.0.113.9"]).client("203.0.113.9"),
            case("chain of trusted proxies", XFF, "10.0.0.1")
                .xff(&["203.0.113.9, 10.0.0.3, 10.2.0.2"])
                .client("203.0.113.9"),
            case("client's fake left-most XFF ignored: right-most untrusted wins", XFF, "10.0.0.1")
                .xff(&["6.6.6.6, 203.0.113.9, 10.0.0.2"])
                .client("203.0.113.9"),
            case("client's fake hop as a separate line ignored", XFF, "10.0.0.1")
                .xff(&["6.6.6.6", "203.0.113.9"])
                .client("203.0.113.9"),
            case("multiple lines concatenate in order", XFF, "10.0.0.1")
                .xff(&["203.0.113.9", "10.0.0.7, 10.0.0.8"])
                .client("203.0.113.9"),
            case("every hop trusted: left-most", XFF, "10.0.0.1")
                .xff(&["10.9.9.9, 10.0.0.2"])
                .client("10.9.9.9"),
            case("IPv6 peer and hops", XFF, "2001:db8:ffff::1")
                .xff(&["2001:db8:1::77, 2001:db8:ffff::2"])
                .client("2001:db8:1::77"),
            case("XFF hop with a port", XFF, "10.0.0.1").xff(&["203.0.113.9:5123"]).client("203.0.113.9"),
            case("XFF bracketed IPv6 with a port", XFF, "10.0.0.1")
                .xff(&["[2001:db8:1::1]:443"])
                .client("2001:db8:1::1"),
            case("XFF bracketed IPv6 without a port", XFF, "10.0.0.1")
                .xff(&["[2001:db8:1::1]"])
                .client("2001:db8:1::1"),
            case("IPv4-mapped peer is trusted as IPv4", XFF, "::ffff:10.0.0.1")
                .xff(&["203.0.113.9"])
                .client("203.0.113.9"),
            case("IPv4-mapped hop is IPv4", XFF, "10.0.0.1")
                .xff(&["::ffff:203.0.113.9"])
                .client("203.0.113.9"),
            case("IPv4-mapped trusted hop skipped", XFF, "10.0.0.1")
                .xff(&["203.0.113.9, ::ffff:10.0.0.9"])
                .client("203.0.113.9"),
            case("untrusted IPv4-mapped peer is reported as IPv4", XFF, "::ffff:198.51.100.1")
                .xff(&["1.2.3.4"])
                .peer_because("198.51.100.1", None),
            case("Forwarded: one proxy", FWD, "10.0.0.1")
                .fwd(&["for=203.0.113.9;proto=https;by=10.0.0.1"])
                .client("203.0.113.9"),
            case("Forwarded: quoted bracketed IPv6 with a port", FWD, "2001:db8:ffff::1")
                .fwd(&[r#"for="[2001:db8:cafe::17]:4711""#])
                .client("2001:db8:cafe::17"),
            case("Forwarded: IPv4 with a port, quoted", FWD, "10.0.0.1")
                .fwd(&[r#"for="203.0.113.9:80""#])
                .client("203.0.113.9"),
            case("Forwarded: case-insensitive parameter name", FWD, "10.0.0.1")
                .fwd(&["For=203.0.113.9"])
                .client("203.0.113.9"),
            case("Forwarded: chain, fake left-most ignored", FWD, "10.0.0.1")
                .fwd(&[r#"for=6.6.6.6, for=203.0.113.9;proto=https, for="[2001:db8:ffff::9]""#])
                .client("203.0.113.9"),
            case("Forwarded: quoted comma inside an extension value", FWD, "10.0.0.1")
                .fwd(&[r#"for=203.0.113.9;ext="a,b;c""#])
                .client("203.0.113.9"),
            case("Forwarded: lines concatenate", FWD, "10.0.0.1")
                .fwd(&["for=203.0.113.9", "for=10.0.0.5"])
                .client("203.0.113.9"),
            case("Forwarded: unknown", FWD, "10.0.0.1")
                .fwd(&["for=203.0.113.9, for=unknown"])
                .peer_because("10.0.0.1", Some(UnknownHop)),
            case("Forwarded: obfuscated identifier", FWD, "10.0.0.1")
                .fwd(&["for=_hidden;proto=https"])
                .peer_because("10.0.0.1", Some(UnknownHop)),
            case("Forwarded: obfuscated port", FWD, "10.0.0.1")
                .fwd(&[r#"for="203.0.113.9:_p1""#])
                .client("203.0.113.9"),
            case("Forwarded: element without for", FWD, "10.0.0.1")
                .fwd(&["proto=https;by=10.0.0.1"])
                .peer_because("10.0.0.1", Some(UnknownHop)),
            case("XFF: unknown", XFF, "10.0.0.1")
                .xff(&["unknown"])
                .peer_because("10.0.0.1", Some(UnknownHop)),
            case("XFF configured: a client's Forwarded is never read", XFF, "10.0.0.1")
                .xff(&["203.0.113.9"])
                .fwd(&["for=6.6.6.6"])
                .client("203.0.113.9"),
            case("Forwarded configured: a client's XFF is never read", FWD, "10.0.0.1")
                .xff(&["6.6.6.6"])
                .fwd(&["for=203.0.113.9"])
                .client("203.0.113.9"),
            case("Forwarded configured, only XFF sent: the peer", FWD, "10.0.0.1")
                .xff(&["6.6.6.6"])
                .peer_because("10.0.0.1", None),
            case("empty elements are skipped", XFF, "10.0.0.1")
                .xff(&["203.0.113.9, , 10.0.0.4,"])
                .client("203.0.113.9"),
            case("malformed XFF hop", XFF, "10.0.0.1")
                .xff(&["203.0.113.300"])
                .peer_because("10.0.0.1", Some(MalformedHop)),
            case("XFF hostname", XFF, "10.0.0.1")
                .xff(&["example.com"])
                .peer_because("10.0.0.1", Some(MalformedHop)),
            case("malformed XFF left of the client is never read", XFF, "10.0.0.1")
                .xff(&["garbage!!, 203.0.113.9"])
                .client("203.0.113.9"),
            case("Forwarded: unbracketed IPv6", FWD, "10.0.0.1")
                .fwd(&[r#"for="2001:db8::1""#])
                .peer_because("10.0.0.1", Some(MalformedHop)),
            case("Forwarded: pair without =", FWD, "10.0.0.1")
                .fwd(&["for 203.0.113.9"])
                .peer_because("10.0.0.1", Some(MalformedElement)),
            case("Forwarded: unterminated quote", FWD, "10.0.0.1")
                .fwd(&[r#"for="203.0.113.9"#])
                .peer_because("10.0.0.1", Some(MalformedElement)),
            case("Forwarded: repeated for", FWD, "10.0.0.1")
                .fwd(&["for=203.0.113.9;for=6.6.6.6"])
                .peer_because("10.0.0.1", Some(MalformedElement)),
            case("Forwarded: bad port", FWD, "10.0.0.1")
                .fwd(&[r#"for="203.0.113.9:http""#])
                .peer_because("10.0.0.1", Some(MalformedHop)),
            case("Forwarded: unquoted IPv6 brackets are not a token", FWD, "10.0.0.1")
                .fwd(&["for=[2001:db8::1]"])
                .peer_because("10.0.0.1", Some(MalformedElement)),
            case("Forwarded: empty for", FWD, "10.0.0.1")
                .fwd(&["for="])
                .peer_because("10.0.0.1", Some(MalformedElement)),
            case("Forwarded: too many pairs in one element", FWD, "10.0.0.1")
                .fwd(&["a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;a=1;for=203.0.113.9"])
                .peer_because("10.0.0.1", Some(MalformedElement)),
        ];
        for c in cases {
            let got = resolve_client_ip(c.peer.parse().unwrap(), &headers(&c), &trusted(c.header));
            assert_eq!(got.addr(), c.want.parse::<IpAddr>().unwrap(), "{}: address", c.name);
            let source = if c.from_header { AddrSource::Header(c.header) } else { AddrSource::Peer };
            assert_eq!(got.source(), source, "{}: source", c.name);
            assert_eq!(got.problem(), c.problem, "{}: problem", c.name);
        }
    }

    #[test]
    fn non_ascii_header_is_not_text() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_bytes(b"203.0.113.9\xff").unwrap());
        let got = resolve_client_ip("10.0.0.1".parse().unwrap(), &h, &trusted(XFF));
        assert_eq!(got.addr(), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(got.problem(), Some(NotText));
    }

    fn long_header(hop: &str, n: usize, last: &str) -> HeaderMap {
        let mut value = vec![hop; n].join(", ");
        value.push_str(", ");
        value.push_str(last);
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_str(&value).unwrap());
        let forwarded = format!("for={}", value.replace(", ", ",for="));
        h.insert(FORWARDED, HeaderValue::from_str(&forwarded).unwrap());
        h
    }

    #[test]
    fn ten_thousand_hops_are_bounded() {
        // A client pads the header; the proxy appends the real address: still found.
        for header in [XFF, FWD] {
            let h = long_header("6.6.6.6", 10_000, "203.0.113.9");
            let got = resolve_client_ip("10.0.0.1".parse().unwrap(), &h, &trusted(header));
            assert_eq!(got.addr(), "203.0.113.9".parse::<IpAddr>().unwrap(), "{header:?}");
            assert_eq!(got.problem(), None, "{header:?}");
        }
        // 10,000 trusted hops: given up on after MAX_HOPS, the peer is used.
        for header in [XFF, FWD] {
            let h = long_header("10.1.1.1", 10_000, "10.2.2.2");
            let got = resolve_client_ip("10.0.0.1".parse().unwrap(), &h, &trusted(header));
            assert_eq!(got.addr(), "10.0.0.1".parse::<IpAddr>().unwrap(), "{header:?}");
            assert_eq!(got.problem(), Some(TooManyHops), "{header:?}");
        }
        // Exactly MAX_HOPS trusted hops still reach the left-most.
        let h = long_header("10.1.1.1", MAX_HOPS - 1, "10.2.2.2");
        let got = resolve_client_ip("10.0.0.1".parse().unwrap(), &h, &trusted(XFF));
        assert_eq!(got.addr(), "10.1.1.1".parse::<IpAddr>().unwrap());
        assert_eq!(got.problem(), None);
    }

    #[test]
    fn trusted_proxy_parsing_table() {
        let cases: [(&str, Result<&str, ()>); 8] = [
            ("10.0.0.0/8", Ok("10.0.0.0/8")),
            ("10.1.2.3/8", Ok("10.0.0.0/8")),
            ("192.0.2.1", Ok("192.0.2.1/32")),
            (" 2001:db8::/32 ", Ok("2001:db8::/32")),
            ("::ffff:192.0.2.0/120", Ok("192.0.2.0/24")),
            ("10.0.0.0/33", Err(())),
            ("localhost", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            let got = parse_cidr(text).map(|n| n.to_string()).map_err(|_| ());
            assert_eq!(got.as_deref().map_err(|_| ()), want, "{text:?}");
        }
    }

    #[test]
    fn split_quoted_keeps_a_bounded_tail() {
        let s = (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        let (kept, count) = split_quoted(&s, b',', 3);
        assert_eq!(kept, ["96", "97", "98", "99"]);
        assert_eq!(count, 100);
        assert_eq!(split_quoted(r#"a="x,y",b"#, b',', 8).0, [r#"a="x,y""#, "b"]);
        assert_eq!(split_quoted(r#"a="x\",y",b"#, b',', 8).0, [r#"a="x\",y""#, "b"]);
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        fn peer() -> impl Strategy<Value = IpAddr> {
            prop_oneof![
                any::<[u8; 4]>().prop_map(IpAddr::from),
                any::<[u8; 16]>().prop_map(IpAddr::from),
                Just("10.0.0.1".parse().unwrap()),
                Just("2001:db8:ffff::1".parse().unwrap()),
            ]
        }

        fn line() -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                "[0-9a-fA-F:.,\\[\\] \";=_forunknw]{0,120}".prop_map(String::into_bytes),
            ]
        }

        proptest! {
            #[test]
            fn resolve_client_ip_never_panics(
                peer in peer(),
                xff in proptest::collection::vec(line(), 0..4),
                fwd in proptest::collection::vec(line(), 0..4),
            ) {
                let mut h = HeaderMap::new();
                for l in &xff {
                    if let Ok(v) = HeaderValue::from_bytes(l) { h.append("x-forwarded-for", v); }
                }
                for l in &fwd {
                    if let Ok(v) = HeaderValue::from_bytes(l) { h.append(FORWARDED, v); }
                }
                for header in [XFF, FWD] {
                    let proxies = trusted(header);
                    let got = resolve_client_ip(peer, &h, &proxies);
                    let peer = canonical_addr(peer);
                    if !proxies.contains(peer) {
                        prop_assert_eq!(got.addr(), peer);
                        prop_assert_eq!(got.problem(), None);
                    }
                    if got.problem().is_some() {
                        prop_assert_eq!(got.addr(), peer);
                        prop_assert_eq!(got.source(), AddrSource::Peer);
                    }
                }
            }

            #[test]
            fn fuzz_entry_point_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
                crate::__fuzzing::client_headers(&data);
            }
        }
    }
}
