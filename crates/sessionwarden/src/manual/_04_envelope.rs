//! # The cookie envelope
//!
//! Every value sessionwarden puts in a cookie — a whole record for the cookie store, or a
//! session id for a server-side store — is sealed in one of two forms:
//!
//! ```text
//! s1.<kid>.<iat>.<payload>.<mac>     signed:    payload is base64url, mac is
//!                                    HMAC-SHA256(cookie-mac subkey,
//!                                      len(name) ‖ name ‖ "s1.<kid>.<iat>.<payload>")
//! e1.<kid>.<iat>.<box>               encrypted: box is base64url(nonce ‖ ciphertext ‖ tag),
//!                                    XChaCha20-Poly1305(cookie-encryption subkey, random
//!                                    24-byte nonce, aad = len(name) ‖ name ‖ "e1.<kid>.<iat>")
//! ```
//!
//! - `kid` is the sealing key's decimal id and selects exactly one key; `iat` is the issue
//!   time in Unix seconds. `len(name)` is two bytes, big-endian, so no two (name, text) pairs
//!   share a MAC input.
//! - **Why bind the name**: a value sealed for one cookie cannot be replayed as another (the
//!   `cookie` crate's signed jar does not bind it).
//! - **Why bind the issue time**: the absolute timeout is enforced from a time the MAC
//!   covers, without trusting the payload, and an old cookie cannot pass as new.
//! - **Order of checks**: size (4096 bytes, the browsers' limit), then syntax, then the MAC in
//!   constant time, then time (issue time at most 60 s in the future, for fleets whose clocks
//!   disagree a little). Syntax comes first so garbage is reported as malformed; time comes
//!   after the MAC so timing tells an attacker nothing about it.
//! - A cookie sealed under a key that is no longer primary opens, and is re-sealed under the
//!   primary on its response, so users move to the new key before the old one is retired.
//!
//! The format is pinned by frozen vectors. See [`crate::envelope`] for the API.
