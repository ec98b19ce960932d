//! The one reader of the request's `Cookie` headers, shared by the session layer and CSRF.
//!
//! Pairs are split and parsed by the `cookie` crate ([`cookie::Cookie::split_parse`], no
//! percent-decoding: sealed values are base64url). A header that is not visible ASCII, and a
//! pair without `=` or with an empty name, are skipped. Surrounding double quotes are
//! stripped from the value.

use http::HeaderMap;
use http::header::COOKIE;

/// What the request's `Cookie` headers hold under one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// No cookie of that name.
    Absent,
    /// Exactly one, with this value.
    One(String),
    /// Two or more: a sibling domain may be tossing one in, so none of them is trusted.
    Duplicate,
}

impl Lookup {
    /// Whether the request carries a cookie of that name at all (even twice).
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))] // the CSRF layer asks
    pub(crate) fn is_present(&self) -> bool {
        !matches!(self, Self::Absent)
    }
}

/// Looks `name` up in every `Cookie` header of the request.
pub(crate) fn lookup(headers: &HeaderMap, name: &str) -> Lookup {
    let mut found = Lookup::Absent;
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for pair in cookie::Cookie::split_parse(text).flatten() {
            if pair.name() != name {
                continue;
            }
            found = match found {
                Lookup::Absent => Lookup::One(pair.value().trim_matches('"').to_owned()),
                Lookup::One(_) | Lookup::Duplicate => Lookup::Duplicate,
            };
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        h
    }

    #[test]
    fn lookups() {
        struct Case {
            name: &'static str,
            headers: &'static [&'static [u8]],
            want: Lookup,
        }
        let one = |v: &str| Lookup::One(v.to_owned());
        let cases = [
            Case { name: "no header", headers: &[], want: Lookup::Absent },
            Case { name: "alone", headers: &[b"sid=abc"], want: one("abc") },
            Case { name: "among others", headers: &[b"a=1; sid=abc; b=2"], want: one("abc") },
            Case { name: "spaces trimmed", headers: &[b"  sid =  abc  ;b=2"], want: one("abc") },
            Case { name: "quoted", headers: &[b"sid=\"abc\""], want: one("abc") },
            Case { name: "value keeps its =", headers: &[b"sid=a=b"], want: one("a=b") },
            Case { name: "empty value", headers: &[b"sid="], want: one("") },
            Case { name: "no percent-decoding", headers: &[b"sid=a%20b"], want: one("a%20b") },
            Case { name: "other name only", headers: &[b"sidx=abc; xsid=abc"], want: Lookup::Absent },
            Case { name: "case matters", headers: &[b"SID=abc"], want: Lookup::Absent },
            Case { name: "pair without =", headers: &[b"sid; a=1"], want: Lookup::Absent },
            Case { name: "empty pairs", headers: &[b";; sid=abc ;;"], want: one("abc") },
            Case { name: "twice in one header", headers: &[b"sid=a; sid=b"], want: Lookup::Duplicate },
            Case { name: "twice, same value", headers: &[b"sid=a; sid=a"], want: Lookup::Duplicate },
            Case { name: "in two headers", headers: &[b"sid=a", b"sid=b"], want: Lookup::Duplicate },
            Case {
                name: "non-ASCII header skipped",
                headers: &[b"sid=\xc3\xa9", b"sid=ok"],
                want: one("ok"),
            },
        ];
        for c in cases {
            assert_eq!(lookup(&headers(c.headers), "sid"), c.want, "{}", c.name);
        }
        assert!(Lookup::Duplicate.is_present());
        assert!(!Lookup::Absent.is_present());
    }
}
