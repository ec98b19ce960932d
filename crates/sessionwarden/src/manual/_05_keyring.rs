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
