//! CSRF protection: an origin check plus session-bound tokens.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use axum::{Json, Router, routing::{get, post}};
//! use sessionwarden::{MemoryStore, Session, SessionLayer, Timestamp};
//! use sessionwarden::csrf::{self, CsrfLayer, CsrfToken};
//! use sessionwarden::keyring::{Keyring, KeySet};
//!
//! // A page (or `GET /csrf-token`) hands the token out...
//! async fn issue(token: CsrfToken) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "csrf_token": token }))
//! }
//! // ...and every POST/PUT/PATCH/DELETE that carries the session cookie must send it back
//! // in `X-CSRF-Token` (or `X-CSRFToken`, or the `csrf_token` form field).
//! async fn save(session: Session) -> Result<&'static str, sessionwarden::Error> {
//!     session.insert("note", "hello").await?;
//!     Ok("saved")
//! }
//!
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let app: Router = Router::new()
//!     .route("/csrf-token", get(issue))
//!     .route("/notes", post(save))
//!     .layer(CsrfLayer::new())                                    // inner: needs the session
//!     .layer(SessionLayer::new(MemoryStore::default(), keyring)); // outer
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```
//!
//! # Threat model
//!
//! A cross-site request forgery is a request the victim's browser sends to us because
//! another site told it to, carrying the victim's session cookie. Two independent checks
//! stand in its way; each covers the other's gaps.
//!
//! **The origin check** (`origin.rs`) asks the browser where the request came from. It
//! follows the decision order of Go 1.25's `http.CrossOriginProtection`:
//!
//! 1. `GET`, `HEAD`, `OPTIONS`, `TRACE` pass (they must not change state; sessionwarden's
//!    routes never do). Exempt paths pass.
//! 2. `Sec-Fetch-Site: same-origin` or `none` (typed URL, bookmark) passes. Any other value —
//!    `cross-site`, `same-site`, or one no browser sends — is refused, unless the `Origin`
//!    is on the trusted list.
//! 3. Without `Sec-Fetch-Site`: `Origin: null` is refused; an `Origin` that is not
//!    `scheme://host[:port]` is refused; the site's own origin or a trusted one passes;
//!    any other is refused. Unlike Go, the site's origin includes the **scheme**: a page
//!    served over plain `http://` on the same host (a network attacker's injection point)
//!    cannot post to the `https://` site.
//! 4. Neither header: a non-browser client. It passes this check (it still meets the token
//!    check if it carries the session cookie), unless strict mode refuses it.
//!
//! Trusted origins and exempt paths match **exactly**, byte for byte: no patterns, no
//! prefixes, no path cleaning or decoding. Go's CVE-2025-47910 was a bypass through
//! `ServeMux` pattern matching of exempt paths; here `/hook/`, `/Hook` and `/x/../hook` are
//! simply other paths.
//!
//! What it stops: every forgery from a browser that sends Fetch Metadata or `Origin` (all
//! major browsers since 2020), including from sibling subdomains (`same-site` is refused:
//! `SameSite=Lax` cookies do not stop those). What it does not stop: browsers too old to
//! send either header, a proxy that rewrites `Host` when `--public-origin` is not set, and
//! anything script injected into our own origin (XSS) can do.
//!
//! **The token check** (`token.rs`) asks for proof that the request was built by a page we
//! served to this session. It runs on `POST`, `PUT`, `PATCH`, `DELETE` (any non-safe
//! method) that carry the session cookie, the ambient credential a forgery would ride on.
//! A request without it — an API call authenticated by a bearer token, which a browser
//! never attaches by itself — skips the token check (not the origin check). Login is the
//! exception, named with [`CsrfLayer::with_token_required_path`]: a forged login needs no
//! credential to do harm.
//!
//! What it adds over the origin check: protection for clients that send neither header,
//! defence in depth when a proxy or an embedded browser strips them, and a check bound to
//! the session, so a token lifted from one session (the attacker's own) is useless in
//! another. Tokens are never read from the query string (it leaks through logs and
//! `Referer`). Method override (`_method`, `X-HTTP-Method-Override`) is not supported at
//! all, so a safe request can never be turned into an unsafe one.
//!
//! # The token, v1
//!
//! Each session holds a 32-byte random secret under [`SESSION_KEY`] (`_csrf`), created
//! when the first token is issued; [`rotate`] replaces it (call it at login). A token is:
//!
//! ```text
//! raw   = 0x01 ‖ kid (u32 BE) ‖ iat (i64 BE, Unix seconds) ‖ tag          45 bytes
//! tag   = HMAC-SHA256(csrf subkey of key kid,
//!                     "sessionwarden/v1/csrf-token\0" ‖ kid ‖ iat ‖ secret)
//! token = base64url-nopad(mask ‖ (raw XOR mask))   mask: 45 fresh random bytes, 120 chars
//! ```
//!
//! The mask (as in Django) makes every response carry a different string, so compression
//! oracles (BREACH) cannot recover a token byte by byte. The subkey is the keyring's
//! HKDF-derived CSRF key ([`crate::keyring::Key::csrf_subkey`]): the secret alone, which a
//! signed (unencrypted) cookie store reveals to its owner, cannot make tokens. After a key
//! rotation, tokens name the old key id and verify while that key is verify-only; once it is
//! retired they are refused (`token_unknown_key`). Tokens expire after
//! [`DEFAULT_MAX_AGE`] (one hour, Flask-WTF's default). The tag is compared in constant
//! time. A frozen test vector pins the format.
//!
//! Other formats plug in through [`TokenScheme`] (Flask-WTF's, for a server sharing
//! sessions with a Flask app, is the planned second one).
//!
//! # Rejections
//!
//! Every failure is `403 Forbidden` with the fixed body [`REJECTION_BODY`]. The reason
//! ([`CsrfRejectReason`]) goes to a [`crate::SecurityEvent::CsrfRejected`] on the session
//! layer's event hub; no token value ever does. Handlers that must never run unchecked
//! take the [`CsrfVerified`] extractor, whose rejection is [`CsrfRejection`].
//!
//! # Why not tower-http's `csrf` module
//!
//! tower-http 0.6 (the version in this workspace) has none; 0.7 adds a `CsrfLayer` with the
//! same Go-derived origin check. It is not wrapped, even for later: it compares the origin's
//! host only (not the scheme), has no strict mode, reports reasons only in response
//! extensions (we need security events), and a token check must share the request with the
//! session layer anyway. The origin check here is ~100 lines and tested as a table.

mod layer;
pub(crate) mod origin;
mod rejection;
mod service;
pub(crate) mod token;

pub use self::layer::{CsrfLayer, DEFAULT_FORM_LIMIT};
pub use self::origin::{Origin, OriginError};
pub use self::rejection::{CsrfRejectReason, CsrfRejection, CsrfVerified, REJECTION_BODY};
pub use self::service::Csrf;
pub use self::token::{
    CsrfToken, CsrfTokens, DEFAULT_MAX_AGE, MaskedHmacTokens, SESSION_KEY, TOKEN_LEN, TokenScheme, rotate,
    token,
};
