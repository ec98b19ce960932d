//! Where a login may send the user back to: the `next` parameter, relative paths only.
//!
//! A login page that redirects to whatever `?next=` says is an open redirect (CWE-601): a
//! link to `https://yoursite/login?next=https://evil.example/` ends, after a real login, on
//! the attacker's page, with the user's trust in the address bar. So `next` is only ever a
//! path on this site: [`safe_next`] refuses anything a browser could resolve to another
//! origin, including the protocol-relative `//host`, backslashes (which browsers read as
//! slashes), and control characters and spaces (which browsers strip, so `/\t/host` is
//! `//host`).

use std::fmt::Write as _;

/// The longest `next` accepted, in bytes: a path longer than this is not one the guard made.
pub const MAX_NEXT_LEN: usize = 2048;

/// `candidate` if a redirect to it stays on this site: a path starting with one `/`, of
/// visible ASCII without backslashes, at most [`MAX_NEXT_LEN`] bytes. `None` otherwise;
/// redirect to a fixed page (`/`) instead.
///
/// Use it on the `next` a login form sends back, after [`RequireUser`](super::RequireUser)
/// put it in the login URL.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::auth::safe_next;
/// assert_eq!(safe_next("/account/settings?tab=keys"), Some("/account/settings?tab=keys"));
/// assert_eq!(safe_next("https://evil.example/"), None);
/// assert_eq!(safe_next("//evil.example/"), None);
/// assert_eq!(safe_next("/\\evil.example/"), None);
/// assert_eq!(safe_next("account"), None, "relative to the login page: refused too");
/// let next = safe_next("javascript:alert(1)").unwrap_or("/");
/// assert_eq!(next, "/");
/// ```
#[must_use]
pub fn safe_next(candidate: &str) -> Option<&str> {
    let bytes = candidate.as_bytes();
    if bytes.len() > MAX_NEXT_LEN || bytes.first() != Some(&b'/') {
        return None;
    }
    // Visible ASCII only: no controls or whitespace (browsers drop tabs and newlines inside
    // URLs), no non-ASCII, and no backslash anywhere (WHATWG URL parsing treats `\` as `/`).
    if !bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'\\') {
        return None;
    }
    // `//host` is another origin. `/%2F...` and `/%5C...` are not for a browser, but an
    // application that decodes the path once more before redirecting would make them so.
    let rest = &candidate[1..];
    let lower = rest.get(..3).map(str::to_ascii_lowercase);
    if rest.starts_with('/') || matches!(lower.as_deref(), Some("%2f" | "%5c")) {
        return None;
    }
    Some(candidate)
}

/// `value` percent-encoded for a query component: everything but unreserved characters and
/// `/` (RFC 3986 §2.3, §3.4).
pub(crate) fn encode_query_component(value: &str, out: &mut String) {
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            // invariant: writing to a String cannot fail
            write!(out, "%{b:02X}").expect("write to String");
        }
    }
}

/// `url` with `param=value` added to its query (before any fragment).
pub(crate) fn with_query_param(url: &str, param: &str, value: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len() + param.len() + value.len() * 3 + 2);
    out.push_str(base);
    out.push(if base.contains('?') { '&' } else { '?' });
    encode_query_component(param, &mut out);
    out.push('=');
    encode_query_component(value, &mut out);
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_candidates() {
        struct Case {
            name: &'static str,
            next: &'static str,
            safe: bool,
        }
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        let cases = [
            Case { name: "root", next: "/", safe: true },
            Case { name: "path and query", next: "/a/b?c=d&e=%2F", safe: true },
            Case { name: "encoded slash later on", next: "/files/%2F", safe: true },
            Case { name: "absolute https", next: "https://evil.example/", safe: false },
            Case { name: "absolute, upper case", next: "HTTPS://evil.example/", safe: false },
            Case { name: "protocol-relative", next: "//evil.example/", safe: false },
            Case { name: "three slashes", next: "///evil.example/", safe: false },
            Case { name: "backslash second", next: "/\\evil.example/", safe: false },
            Case { name: "backslash later", next: "/a\\b", safe: false },
            Case { name: "tab between slashes", next: "/\t/evil.example/", safe: false },
            Case { name: "newline", next: "/a\nSet-Cookie: x=1", safe: false },
            Case { name: "space", next: "/a b", safe: false },
            Case { name: "encoded slash first", next: "/%2F/evil.example/", safe: false },
            Case { name: "encoded backslash first", next: "/%5c/evil.example/", safe: false },
            Case { name: "javascript scheme", next: "javascript:alert(1)", safe: false },
            Case { name: "data scheme", next: "data:text/html,x", safe: false },
            Case { name: "relative without slash", next: "account", safe: false },
            Case { name: "empty", next: "", safe: false },
            Case { name: "non-ASCII", next: "/caf\u{e9}", safe: false },
            Case { name: "fullwidth solidus", next: "/\u{ff0f}evil.example", safe: false },
        ];
        for c in cases {
            assert_eq!(safe_next(c.next).is_some(), c.safe, "{}", c.name);
        }
        assert_eq!(safe_next(&long), None, "over the length limit");
        assert!(safe_next(&long[..MAX_NEXT_LEN]).is_some(), "at the length limit");
    }

    #[test]
    fn query_params() {
        assert_eq!(with_query_param("/login", "next", "/a?b=c&d"), "/login?next=/a%3Fb%3Dc%26d");
        assert_eq!(with_query_param("/login?x=1", "next", "/"), "/login?x=1&next=/");
        assert_eq!(with_query_param("/login#top", "next", "/%41"), "/login?next=/%2541#top");
        assert_eq!(
            with_query_param("https://sso.example/login", "return to", "/"),
            "https://sso.example/login?return%20to=/"
        );
    }
}
