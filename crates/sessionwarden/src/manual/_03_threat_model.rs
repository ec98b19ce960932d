//! # Threat model
//!
//! **Who attacks.** A remote client that can send any bytes (forged, truncated, oversized,
//! slow or garbage requests, cookies and tokens); a cross-site page in the victim's browser
//! (CSRF, login CSRF, cookie tossing from a sibling subdomain); someone who has read a copy of
//! the store (a Redis dump, a database backup) or of the logs; someone who has stolen a cookie
//! or a token; a client guessing ids. We also defend against our own mistakes: a deploy that
//! loses the store, a key that must be retired in an emergency.
//!
//! **What stops each.**
//! - *Forged or tampered cookies*: every cookie is sealed ([`_04_envelope`](super::_04_envelope));
//!   the MAC binds the cookie's name, key id and issue time, and is checked in constant time
//!   before anything else is trusted. Server-side session ids are sealed too, so guessed ids
//!   are refused without a store round trip.
//! - *Guessing ids*: 256 bits from the OS CSPRNG.
//! - *A read copy of the store or the logs*: stores hold only SHA-256 of the id; logs, errors,
//!   `Debug` output and events never hold an id, a token or key material
//!   ([`_01_invariants`](super::_01_invariants) 1 and 4).
//! - *Session fixation*: [`Session::cycle_id`](crate::Session::cycle_id) at login replaces
//!   the id and the CSRF secret; the old id stops loading at once.
//! - *Open redirects after login*: the login guard puts the page asked for in `next` only when
//!   it is a relative path, and [`auth::safe_next`](crate::auth::safe_next) refuses any `next`
//!   a browser could resolve to another site (`https://…`, `//host`, backslashes, control
//!   characters), so a link to the login page cannot end on an attacker's page.
//! - *A remembered login on a shared or stolen device*: remember-me sessions
//!   ([`Session::login_remembered`](crate::Session::login_remembered)) are off unless the layer
//!   allows them, end at their own lifetime, and sensitive routes ask for a recent
//!   authentication ([`RequireRecentAuth`](crate::RequireRecentAuth)) rather than trusting a
//!   login that may be weeks old.
//! - *CSRF*: an origin check (`Sec-Fetch-Site`, then `Origin`, matched exactly) and a masked,
//!   session-bound, key-bound token on every unsafe method ([`crate::csrf`]).
//! - *Cookie tossing*: the `__Host-` prefix; two session cookies on one request are refused.
//! - *Stolen cookies*: idle and absolute timeouts bound their life; logout and revocation end
//!   server-side sessions at once on every node. A stolen *client-side* cookie lives until its
//!   deadline unless its key is retired ([`_06_stores`](super::_06_stores)).
//! - *Stolen JWTs*: short lifetimes, refresh rotation with reuse detection (a replayed refresh
//!   token revokes its whole family), a revocation list every node checks.
//! - *A leaked key*: rotate, then retire ([`_05_keyring`](super::_05_keyring)); retired keys'
//!   secrets are erased and whatever they sealed is refused.
//! - *Store outages*: fail closed ([`_01_invariants`](super::_01_invariants) 6).
//!
//! **Out of reach.** Script running in our own origin (XSS) can read CSRF tokens and act as
//! the user while the page is open; `HttpOnly` only keeps it from carrying the cookie away.
//! Malware on the user's machine can copy cookies; device-bound sessions (DBSC) and DPoP are
//! the answer to that, and are being added. A client-side cookie store cannot revoke a copy
//! before its deadline.
