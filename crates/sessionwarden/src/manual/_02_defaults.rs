//! # Defaults, and where they come from
//!
//! | setting | default | why |
//! |---|---|---|
//! | cookie name | `__Host-session` | the `__Host-` prefix makes the browser refuse the cookie unless it is `Secure`, has `Path=/` and no `Domain`: a sibling subdomain cannot set or shadow it (RFC 6265bis §4.1.3.2) |
//! | `Secure`, `HttpOnly` | on | not sent over plain HTTP; not readable by script (OWASP Session Management Cheat Sheet) |
//! | `SameSite` | `Lax` | top-level navigations keep the session, cross-site subrequests and forms do not; `Strict` breaks links from other sites into a logged-in page |
//! | idle timeout | 30 minutes | OWASP: 15–30 minutes for low-risk applications (ASVS 7.3.1); NIST SP 800-63B (rev. 3) §4.2.3 asks re-authentication after 30 minutes of inactivity at AAL2 (15 at AAL3, §4.3.3) |
//! | absolute timeout | 12 hours | OWASP: 4–8 hours for office use; 12 covers a long day (ASVS 7.3.2), and is the most NIST SP 800-63B (rev. 3) §4.2.3 allows at AAL2 and AAL3 |
//! | renewal | at most every idle/8 (1 s – 5 min) | a read-only request does not write to the store on every hit |
//! | cookie lifetime | browser session | persistent cookies (`Max-Age` up to the absolute deadline) are opt-in |
//! | remember-me | off; when allowed, up to the layer's maximum | a remembered session has no idle timeout, so it is opt-in twice: by the layer ([`SessionLayer::with_remember_me`](crate::SessionLayer::with_remember_me)) and by each login; sensitive routes still ask for an authentication within 5 minutes ([`DEFAULT_REAUTH_WINDOW`](crate::DEFAULT_REAUTH_WINDOW), ASVS 7.5.2) |
//! | flash messages | at most 8, of at most 512 bytes | a redirect loop cannot grow a session without end |
//! | `Cache-Control` on session responses | `private`, with `Vary: Cookie` | a shared cache never stores one user's page for another |
//! | CSRF | origin check + session-bound token on every unsafe method | see [`crate::csrf`] |
//! | JWT lifetimes | access token 1 hour; a refresh token unused for 14 days expires, a refresh family (one login) lives 30 days | long enough for an API client to stay signed in for a month; these are not bounded by the session's idle and absolute timeouts (see `docs/asvs-coverage.md`, ASVS 7.3) |
//! | JWT | `exp` required, `iss`/`aud` required, `typ` `at+jwt`, one algorithm per key, never `none`, tokens over 8 KB refused before parsing | RFC 8725 (JWT best current practice), RFC 9068 |
//! | rate limits | on, enforced: id guessing `20/min,block=15m`, new sessions `60/min` per client prefix; login attempts `10/min,block=5m` per client, `5/min` per user name | a stale cookie per session end is a browser, twenty a minute is not; the login limits follow ASVS 2.2.1 (anti-automation) without letting anyone lock an account out for longer than the rate (NIST SP 800-63B 5.2.2); see the `throttle` module |
//!
//! Both session timeouts are the NIST AAL2 limits, so a service at AAL1 may lengthen them and one
//! at AAL3 should set the idle timeout to 15 minutes (`Expiry::with_idle_timeout`,
//! `--idle-timeout 900`); 0 disables a timeout and is a deviation to justify.
//!
//! Weakening any of these is a method named for what it does:
//! [`CookieConfig::insecure_allow_http`](crate::CookieConfig::insecure_allow_http),
//! [`CookieConfig::insecure_allow_script_access`](crate::CookieConfig::insecure_allow_script_access),
//! and the reference server's `--insecure-cookies` (plain-HTTP development only).
