//! # The keyring
//!
//! **States.** A keyring holds versioned keys, each `primary` (one at a time: it seals and
//! signs), `verify` (opens and verifies what it sealed earlier) or `retired` (remembered, so
//! its cookies are reported as sealed by a retired key, but its secret is erased: it will
//! never verify anything again).
//!
//! **Rotation logs nobody out.** [`KeyringFile::rotate`](crate::keyring::KeyringFile::rotate)
//! makes a new primary and moves the old one to `verify`; cookies it sealed still open and are
//! re-sealed under the new primary on their next response. Once active users have moved over
//! (after the idle timeout), [`KeyringFile::retire`](crate::keyring::KeyringFile::retire) the
//! old key: whatever it still seals, signs or derived is then refused.
//!
//! **One secret, many purposes.** Each key derives its subkeys with HKDF-SHA256, one per
//! [`Purpose`](crate::keyring::Purpose), with `info` labels `sessionwarden/v1/cookie-mac`,
//! `…/cookie-encryption`, `…/csrf`, `…/jwt-hs256`, `…/jwt-ed25519`, `…/jwt-es256` and
//! `…/jwt-refresh`, so no secret is ever used for two purposes and a key compromised in one
//! role does not forge another.
//!
//! **The file** (JSON, written atomically with mode 0600, created on first run):
//!
//! ```json
//! {"format":"sessionwarden-keyring/1","keys":[
//!   {"kid":2,"state":"primary","created":1764158400,"secret":"<base64url, 32+ bytes>"},
//!   {"kid":1,"state":"retired","created":1761566400,"secret":null}]}
//! ```
//!
//! Secrets are at least [`MIN_KEY_LEN`](crate::keyring::MIN_KEY_LEN) bytes. Instead of a file,
//! `SECRET_KEY` and `SECRET_KEY_FALLBACKS` (Flask's names) may give the keys.
//!
//! **Reloads.** A [`Keyring`](crate::keyring::Keyring) is an atomically swapped key set:
//! readers never lock. The reference server checks the file every second and at once on
//! `SIGHUP`; a file that fails to load is reported and the previous keys stay in use, so a
//! bad edit never takes the service down.
//!
//! **Scheduled rotation.** A [`RotationSchedule`](crate::keyring::RotationSchedule) makes a
//! new primary once the current one is `every` old, and retires a verify-only key once it
//! stopped signing (when its successor was created) `retire_after` ago
//! ([`KeyringFile::apply_schedule`](crate::keyring::KeyringFile::apply_schedule)). The reference
//! server's `--rotate-every` sets `retire_after` to the longest life of anything a key signs:
//! the session's absolute lifetime (else its idle timeout), the CSRF token lifetime, the JWT
//! refresh-family and access-token lifetimes, plus the JWT leeway. Whatever a key signed the
//! moment before it stopped signing has therefore expired when it is retired: a scheduled
//! rotation logs nobody out. Measuring from when a key *stopped signing*, not from its
//! creation, is what makes that hold. The step is deterministic in the keyring and the time,
//! so two nodes applying it to one version agree, and applying it twice changes nothing.
//!
//! **A keyring shared by a fleet.** [`SharedKeyring`](crate::keyring::SharedKeyring) keeps the
//! keyring as a versioned document in a store implementing
//! [`KeyringStore`](crate::store::KeyringStore) (SQLite, PostgreSQL, Redis; the memory store for
//! one process). Every change reads version *n*, changes it, and swaps in version *n + 1* only
//! if the store still holds *n*, so concurrent changes never overwrite each other; the loser
//! re-reads and decides again, which makes a scheduled step exactly-once even without the lease.
//! The lease (`keyring-rotation:<name>`, expiry on the callers' clock) keeps the other nodes
//! from trying at all, and a dead holder's lease expires. Nodes follow changes by reading the
//! version twice a second (one primary-key read) and loading the document only when it moved:
//! simpler than pub/sub or `LISTEN`, which lose messages across reconnects and would need the
//! poll as a fallback anyway, and enough to put a rotation in use everywhere within a second.
//!
//! **What the key-encryption key protects.** The store never holds a usable secret. Each one is
//! sealed with XChaCha20-Poly1305 under a subkey of the KEK (HKDF-SHA256, `info`
//! `sessionwarden/v1/keyring-wrap`), a random nonce, and as associated data the format, the
//! keyring's name, the document's version and the key's id, state and creation time: a dump of
//! the database or Redis yields no key, a secret copied to another key or version does not open,
//! and a key whose state is edited in the store (an old key made primary again) is refused. The
//! document names its KEK by an 8-hex-digit HKDF output, so a node started with another KEK
//! refuses with a message naming both ids, never "decryption failed". What the KEK cannot
//! protect against is someone who holds both it and write access to the store. Retiring a key
//! erases its wrapped secret from the next version; the old version's row is overwritten.
//! Rotating the KEK re-wraps every secret under the new one
//! ([`SharedKeyring::rewrap`](crate::keyring::SharedKeyring::rewrap)); nodes still on the old
//! KEK keep the keys they have until they restart with the new one.
