//! # Invariants
//!
//! Every crate of the workspace keeps these. A change that breaks one is a bug, whatever a
//! test says.
//!
//! 1. **A store never sees the raw session id.** Stores are keyed by a [`StoreKey`], the
//!    SHA-256 of the 256-bit id ([`SessionId::store_key`](crate::SessionId::store_key)). With 256 random bits no secret
//!    is needed to make the hash useless to an attacker, and unlike a keyed hash it never
//!    changes when keys rotate (a keyed store key would log everyone out, or force a
//!    migration, at every rotation). A dump of Redis or of the database yields no usable
//!    cookie. Operators name sessions by [`SessionHandle`], the first 16 bytes of the store
//!    key: it finds the session but cannot be turned into a cookie. The one documented
//!    exception is the Flask-Session interop store, because Flask keys Redis by the raw sid.
//! 2. **Core types do no I/O.** [`SessionId`], [`Record`], [`Expiry`], the keyring's
//!    [`KeySet`](crate::keyring::KeySet) and the [`Envelope`](crate::envelope::Envelope)
//!    compute; stores, the keyring file and the layer do I/O. The clock is injected
//!    ([`Clock`], [`ManualClock`]) so that every deadline can be tested without sleeping.
//! 3. **One generic failure for clients; the reason goes to a security event.** A rejected
//!    cookie is "no session" for the handler and a [`SecurityEvent`] for operators; a CSRF
//!    failure is a fixed 403 body; a bad JWT a generic 401. Nothing in a response tells an
//!    attacker which check failed.
//! 4. **No secret in `Debug`, `Display`, logs or errors.** Types holding key material, ids or
//!    tokens have hand-written `Debug` that leaves the secret out, and tests assert it. MACs
//!    are checked with `Mac::verify_slice`, ids and tokens compared with `subtle`.
//! 5. **Secure by default.** Anything weaker is opt-in and named for what it does
//!    (`insecure_*`, `dangerous_*`); see [`_02_defaults`](super::_02_defaults).
//! 6. **A store failure fails closed.** [`StoreError::Unavailable`](crate::StoreError::Unavailable) anywhere in a request
//!    turns the response into a 503 with `Cache-Control: no-store` and no `Set-Cookie`: never
//!    an anonymous session that hides the user's real one, and nothing stored is overwritten.
//!    A kind of store failure the layer does not know is treated the same way.
//! 7. **Wire formats are versioned and pinned by frozen vectors.** The cookie envelope
//!    (`s1`/`e1`, [`_04_envelope`](super::_04_envelope)), the keyring file
//!    (`sessionwarden-keyring/1`, [`_05_keyring`](super::_05_keyring)), stored records
//!    (`{"v":1,…}`), the SQL migrations (frozen files, checksummed by sqlx), the Redis
//!    layout, and the Flask formats.
//!
//! [`Clock`]: crate::Clock
//! [`Expiry`]: crate::Expiry
//! [`ManualClock`]: crate::ManualClock
//! [`Record`]: crate::Record
//! [`SecurityEvent`]: crate::SecurityEvent
//! [`SessionHandle`]: crate::SessionHandle
//! [`SessionId`]: crate::SessionId
//! [`StoreError`]: crate::StoreError
//! [`StoreKey`]: crate::StoreKey
