//! The origin check: Go's `CrossOriginProtection` decision order, with exact matching only.

use std::fmt;

use http::header::{HOST, ORIGIN};
use http::{HeaderMap, Method, Uri};

use super::rejection::CsrfRejectReason;

/// A web origin, `scheme://host[:port]`, as browsers send it in the `Origin` header.
///
/// Built only by [`Origin::parse`], which lower-cases scheme and host and refuses anything
/// that is not an origin (paths, trailing slashes, user info, `null`). Matching against a
/// request's `Origin` header is byte-exact: no patterns, no prefixes, no wildcards.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::csrf::Origin;
/// let o = Origin::parse("https://App.Example:8443")?;
/// assert_eq!(o.as_str(), "https://app.example:8443");
/// assert!(Origin::parse("null").is_err());
/// assert!(Origin::parse("https://example.com/").is_err());
/// assert!(Origin::parse("*.example.com").is_err());
/// # Ok::<(), sessionwarden::csrf::OriginError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);

/// Why a string is not an [`Origin`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not an origin: {reason}; expected scheme://host[:port], e.g. https://example.com")]
pub struct OriginError {
    value: String,
    reason: &'static str,
}

impl Origin {
    /// Parses `scheme://host[:port]`.
    ///
    /// # Errors
    /// [`OriginError`] for `null`, a missing scheme, an empty host, a path (even `/`), a
    /// query, user info, a bad port or an unclosed IPv6 bracket.
    pub fn parse(s: &str) -> Result<Self, OriginError> {
        match syntax(s) {
            Ok(()) => Ok(Self(s.to_ascii_lowercase())),
            Err(reason) => Err(OriginError { value: s.to_owned(), reason }),
        }
    }

    /// The origin as it appears in an `Origin` header.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({:?})", self.0)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `scheme://host[:port]`; the error is a short reason.
fn syntax(s: &str) -> Result<(), &'static str> {
    if s == "null" {
        return Err("the opaque origin `null` is never trusted");
    }
    let Some((scheme, authority)) = s.split_once("://") else {
        return Err("no scheme");
    };
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Err("bad scheme");
    }
    if authority.is_empty() {
        return Err("empty host");
    }
    if authority.bytes().any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\') || !b.is_ascii_graphic()) {
        return Err("a path, query, user info or unexpected character");
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return Err("unclosed IPv6 bracket");
        };
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
            return Err("bad IPv6 address");
        }
        match after {
            "" => (inner, None),
            p => (inner, Some(p.strip_prefix(':').ok_or("junk after IPv6 address")?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains(['[', ']']) || (!authority.starts_with('[') && host.contains(':')) {
        return Err("bad host");
    }
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u16>().is_err())
    {
        return Err("bad port");
    }
    Ok(())
}

/// Which origins a state-changing request may come from.
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginPolicy {
    /// The site's own origin; `None`: the request's host with `https` (or `http` when
    /// `insecure_http`).
    pub(crate) public: Option<Origin>,
    pub(crate) insecure_http: bool,
    pub(crate) trusted: Vec<Origin>,
    pub(crate) strict: bool,
}

/// `GET`, `HEAD`, `OPTIONS` and `TRACE` change nothing (RFC 9110 §9.2.1) and pass.
pub(crate) fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
}

impl OriginPolicy {
    /// The decision order of Go's `CrossOriginProtection.Check` (net/http, Go 1.25), with
    /// two deliberate differences: the site's own origin includes the scheme (Go compares
    /// hosts only, so `http://site` could post to `https://site`), and strict mode can
    /// refuse requests that carry neither header.
    ///
    /// The caller has already let safe methods and exempt paths through.
    pub(crate) fn check(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), CsrfRejectReason> {
        let mut origins = headers.get_all(ORIGIN).iter();
        let origin = origins.next();
        if origins.next().is_some() {
            return Err(CsrfRejectReason::MalformedOrigin);
        }
        let trusted =
            origin.is_some_and(|o| self.trusted.iter().any(|t| t.as_str().as_bytes() == o.as_bytes()));
        if let Some(site) = headers.get("sec-fetch-site") {
            // Fetch Metadata: the browser itself says where the request comes from.
            return match site.as_bytes() {
                b"same-origin" | b"none" => Ok(()),
                _ if trusted => Ok(()),
                _ => Err(CsrfRejectReason::CrossSite),
            };
        }
        let Some(origin) = origin else {
            // Neither header: not a browser made in the last decade. The token check still
            // applies to it when it carries the session cookie.
            return if self.strict { Err(CsrfRejectReason::MissingOrigin) } else { Ok(()) };
        };
        let origin = origin.as_bytes();
        if origin == b"null" {
            return Err(CsrfRejectReason::NullOrigin);
        }
        if std::str::from_utf8(origin).map_or(true, |o| syntax(o).is_err()) {
            return Err(CsrfRejectReason::MalformedOrigin);
        }
        if self.is_own(origin, headers, uri) || trusted {
            return Ok(());
        }
        Err(CsrfRejectReason::OriginMismatch)
    }

    fn is_own(&self, origin: &[u8], headers: &HeaderMap, uri: &Uri) -> bool {
        if let Some(public) = &self.public {
            return public.as_str().as_bytes() == origin;
        }
        // The request-target's authority (HTTP/2 `:authority`, absolute-form) wins over Host.
        let host = match uri.authority() {
            Some(a) => a.as_str().as_bytes(),
            None => match headers.get(HOST) {
                Some(h) => h.as_bytes(),
                None => return false,
            },
        };
        let scheme: &[u8] = if self.insecure_http { b"http://" } else { b"https://" };
        origin.len() == scheme.len() + host.len()
            && origin.starts_with(scheme)
            && &origin[scheme.len()..] == host
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_syntax() {
        for good in ["https://a.example", "http://localhost:8000", "https://[::1]:443", "https://[::1]"] {
            assert!(Origin::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "null",
            "https://[",
            "//host",
            "https://",
            "https://a.example/",
            "https://a.example/x",
            "https://u@a.example",
            "https://a.example:",
            "https://a.example:99999",
            "https://a.example:8x",
            "https://a.example?x",
            "a.example",
            "*://a.example",
            "https://a b",
            "https://[::1]x",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decision_order() {
        let policy = OriginPolicy {
            trusted: vec![Origin::parse("https://partner.example").unwrap()],
            ..OriginPolicy::default()
        };
        let uri: Uri = "/notes".parse().unwrap();
        let check = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            h.insert(HOST, "site.example".parse().unwrap());
            for (k, v) in pairs {
                h.append(*k, v.parse().unwrap());
            }
            policy.check(&h, &uri)
        };
        use CsrfRejectReason::*;
        assert_eq!(check(&[("sec-fetch-site", "same-origin"), ("origin", "https://evil.example")]), Ok(()));
        assert_eq!(check(&[("sec-fetch-site", "same-site")]), Err(CrossSite));
        assert_eq!(
            check(&[("sec-fetch-site", "cross-site"), ("origin", "https://partner.example")]),
            Ok(()),
            "trusted origins pass a cross-site fetch, as in Go"
        );
        assert_eq!(check(&[("origin", "https://site.example")]), Ok(()));
        assert_eq!(check(&[("origin", "http://site.example")]), Err(OriginMismatch), "scheme counts");
        assert_eq!(
            check(&[("origin", "https://site.example"), ("origin", "https://site.example")]),
            Err(MalformedOrigin)
        );
        assert_eq!(check(&[("origin", "null")]), Err(NullOrigin));
        assert_eq!(check(&[]), Ok(()));
    }
}
