//! The keyring: versioned keys, one primary that signs, older ones that only verify.
//!
//! Rotation logs nobody out. After [`KeyringFile::rotate`] the new key signs and the old one
//! moves to [`KeyState::Verify`]: cookies it sealed still open, and the session layer
//! re-seals them under the primary on their next response. Once active users have moved
//! over, [`KeyringFile::retire`] the old key; whatever it still seals is then rejected.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use sessionwarden::keyring::{Keyring, KeySet};
//! use sessionwarden::Timestamp;
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let primary = keyring.current().primary().id();
//! assert_eq!(keyring.current().primary().id(), primary);
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```

mod file;
mod key;
mod schedule;
mod shared;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;

pub use self::file::{KeyEntry, KeyringFile};
pub use self::key::{Key, KeyId, KeyState, MIN_KEY_DISTINCT_BYTES, MIN_KEY_LEN, Purpose, Subkey};
pub use self::schedule::{MIN_ROTATION_INTERVAL, RotationSchedule, ScheduleOutcome};
pub use self::shared::{Kek, SHARED_FORMAT, SharedKeyring};
use crate::time::Timestamp;

/// Why the keyring could not be loaded, written or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// A key's secret is shorter than 32 bytes.
    ///
    /// Generate a longer one, e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`.
    #[error("key {kid} is {len} bytes long; keys must be at least 32 bytes (256 bits)")]
    TooShort {
        /// The key's id, or the variable it came from.
        kid: String,
        /// Its length.
        len: usize,
    },

    /// A key's secret is long enough but obviously not random: all zero, one repeated
    /// byte, or fewer than [`MIN_KEY_DISTINCT_BYTES`] distinct bytes.
    ///
    /// Generate a random one, e.g. `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`.
    #[error(
        "key {kid} is not random enough (fewer than {MIN_KEY_DISTINCT_BYTES} distinct bytes, e.g. all zero \
         or one repeated character); generate a random key of at least 32 bytes"
    )]
    Weak {
        /// The key's id, or where it came from (a file, an environment variable).
        kid: String,
    },

    /// The keyring file could not be read or written.
    #[error("keyring file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS reported.
        #[source]
        source: std::io::Error,
    },

    /// The keyring file is not a valid keyring.
    #[error("keyring file {path} is invalid: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// There is no key that may sign.
    #[error("the keyring has no primary key")]
    NoPrimary,

    /// No key has this id.
    #[error("no key with id {kid}")]
    UnknownKey {
        /// The id asked for.
        kid: String,
    },

    /// The primary key cannot be retired: it signs everything new.
    #[error("key {kid} is the primary; rotate first, then retire it")]
    RetirePrimary {
        /// The id asked for.
        kid: String,
    },

    /// An environment variable holds something that is not a key list.
    #[error("{var}: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        reason: String,
    },

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,

    /// A key-encryption key is malformed, too short or obviously not random.
    ///
    /// Generate one with `openssl rand -base64 32` (the text never appears in this error).
    #[error("{source_name}: the key-encryption key is {reason}")]
    Kek {
        /// Where it came from (a file, an environment variable).
        source_name: String,
        /// What is wrong.
        reason: String,
    },

    /// The shared keyring's secrets are wrapped under another key-encryption key than the one
    /// given: the node was started with the wrong KEK (or before the fleet's KEK rotation).
    ///
    /// Start it with the KEK the rest of the fleet uses. The ids are derived from the keys;
    /// they name them without revealing them.
    #[error(
        "wrong key-encryption key for shared keyring {name:?}: its secrets are wrapped under KEK {stored}, \
         this KEK is {given}"
    )]
    WrongKek {
        /// The keyring's name in the store.
        name: String,
        /// The id of the KEK the keyring is wrapped under.
        stored: String,
        /// The id of the KEK given.
        given: String,
    },

    /// The shared keyring in the store is not a valid keyring, or a secret does not open
    /// under the right KEK (the row was altered).
    #[error("shared keyring {name:?} is invalid: {reason}")]
    SharedInvalid {
        /// The keyring's name in the store.
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// The store holding the shared keyring failed.
    #[error("shared keyring store unavailable ({operation})")]
    Store {
        /// The store operation.
        operation: &'static str,
        /// The store's error.
        #[source]
        source: crate::StoreError,
    },

    /// Other nodes changed the shared keyring under every attempt of a change.
    ///
    /// Try again; it means other changes are happening at the same moment.
    #[error("shared keyring {name:?} kept changing under this change; try again")]
    Contended {
        /// The keyring's name in the store.
        name: String,
    },

    /// A rotation schedule is out of bounds.
    #[error("rotation schedule: {reason}")]
    Schedule {
        /// What is wrong.
        reason: String,
    },
}

/// An immutable set of keys: exactly one primary, any number of verify-only keys, and the
/// ids of retired keys (remembered so their cookies are reported as "retired", not "unknown").
pub struct KeySet {
    keys: Vec<Arc<Key>>,
    primary: usize,
    retired: Vec<KeyId>,
}

/// Why a key id did not lead to a usable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookupError {
    /// No key has this id.
    Unknown,
    /// The key was retired.
    Retired,
}

impl KeySet {
    /// Builds a set from keys.
    ///
    /// # Errors
    /// Returns [`KeyringError::NoPrimary`] unless exactly one key is primary.
    pub fn new(keys: Vec<Key>, retired: Vec<KeyId>) -> Result<Self, KeyringError> {
        let primaries: Vec<usize> =
            keys.iter().enumerate().filter(|(_, k)| k.state() == KeyState::Primary).map(|(i, _)| i).collect();
        let [primary] = primaries[..] else {
            return Err(KeyringError::NoPrimary);
        };
        Ok(Self { keys: keys.into_iter().map(Arc::new).collect(), primary, retired })
    }

    /// A set with one fresh random primary key (id 1), for tests and ephemeral servers.
    ///
    /// # Errors
    /// Returns [`KeyringError::Random`] if the OS random number generator fails.
    pub fn generate(now: Timestamp) -> Result<Self, KeyringError> {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(secret.as_mut()).map_err(|_| KeyringError::Random)?;
        let key = Key::new(KeyId::new(1), KeyState::Primary, now, secret.as_ref())?;
        Self::new(vec![key], Vec::new())
    }

    /// Keys from `SECRET_KEY` and `SECRET_KEY_FALLBACKS` (Flask's names): the first signs,
    /// the fallbacks verify. Values are used as raw UTF-8 bytes, as Flask does.
    ///
    /// # Errors
    /// Returns [`KeyringError::TooShort`] for a value under 32 bytes and
    /// [`KeyringError::Weak`] for one that is obviously not random (all zero, one repeated
    /// character), naming the variable.
    pub fn from_secrets(primary: &str, fallbacks: &[String]) -> Result<Self, KeyringError> {
        let mut keys = Vec::with_capacity(1 + fallbacks.len());
        let check = |name: &str, s: &str| key::check_secret(name, s.as_bytes());
        check("SECRET_KEY", primary)?;
        let at = Timestamp::from_unix(0);
        keys.push(Key::new(
            Key::id_for_secret(primary.as_bytes()),
            KeyState::Primary,
            at,
            primary.as_bytes(),
        )?);
        for (i, fb) in fallbacks.iter().enumerate() {
            check(&format!("SECRET_KEY_FALLBACKS[{i}]"), fb)?;
            if fb == primary {
                continue;
            }
            keys.push(Key::new(Key::id_for_secret(fb.as_bytes()), KeyState::Verify, at, fb.as_bytes())?);
        }
        Self::new(keys, Vec::new())
    }

    /// Reads `SECRET_KEY` and `SECRET_KEY_FALLBACKS` (comma-separated, Flask's list order)
    /// from the environment; `Ok(None)` when `SECRET_KEY` is unset.
    ///
    /// # Errors
    /// As [`KeySet::from_secrets`].
    pub fn from_env() -> Result<Option<Self>, KeyringError> {
        let Ok(primary) = std::env::var("SECRET_KEY") else {
            return Ok(None);
        };
        let fallbacks: Vec<String> = std::env::var("SECRET_KEY_FALLBACKS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        Self::from_secrets(&primary, &fallbacks).map(Some)
    }

    /// The key that signs.
    #[must_use]
    pub fn primary(&self) -> &Key {
        &self.keys[self.primary]
    }

    /// The key with `id`, if it may verify.
    ///
    /// # Errors
    /// [`KeyLookupError::Retired`] for a retired key, [`KeyLookupError::Unknown`] otherwise.
    pub fn find(&self, id: KeyId) -> Result<&Key, KeyLookupError> {
        // A handful of keys: a linear scan beats hashing.
        match self.keys.iter().find(|k| k.id() == id) {
            Some(k) => Ok(k),
            None if self.retired.contains(&id) => Err(KeyLookupError::Retired),
            None => Err(KeyLookupError::Unknown),
        }
    }

    /// Every key that may verify, primary first.
    pub fn verifying(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(self.primary()).chain(
            self.keys.iter().enumerate().filter(move |(i, _)| *i != self.primary).map(|(_, k)| k.as_ref()),
        )
    }

    /// Ids of retired keys.
    #[must_use]
    pub fn retired(&self) -> &[KeyId] {
        &self.retired
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet").field("keys", &self.keys).field("retired", &self.retired).finish()
    }
}

/// A shared, swappable handle on the current [`KeySet`]. Clones share one set; a reload
/// ([`Keyring::replace`]) is seen by every clone at once, without locks on the read path.
#[derive(Clone)]
pub struct Keyring {
    current: Arc<ArcSwap<KeySet>>,
}

impl Keyring {
    /// A keyring holding `set`.
    #[must_use]
    pub fn new(set: KeySet) -> Self {
        Self { current: Arc::new(ArcSwap::from_pointee(set)) }
    }

    /// The current key set. Hold the guard only for one operation.
    #[must_use]
    pub fn current(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    /// Swaps in a new key set (after a rotation, retirement, or file change).
    pub fn replace(&self, set: KeySet) {
        self.current.store(Arc::new(set));
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Keyring").field(&**self.current.load()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_secrets_need_32_bytes_and_fallbacks_verify() {
        let short = KeySet::from_secrets("too-short", &[]).unwrap_err();
        assert!(short.to_string().contains("SECRET_KEY"), "{short}");
        let a = "Jq3vX8mZ-tR2kW9pL5nB7cY4hF6dS1gA".to_owned();
        let b = "uE0oI8yT3rW6qZ1xC5vB9nM2lK4jH7gF-Ds".to_owned();
        let set = KeySet::from_secrets(&a, std::slice::from_ref(&b)).unwrap();
        assert_eq!(set.primary().id(), Key::id_for_secret(a.as_bytes()));
        let fb = set.find(Key::id_for_secret(b.as_bytes())).unwrap();
        assert_eq!(fb.state(), KeyState::Verify);
        let err = KeySet::from_secrets(&a, &["short".into()]).unwrap_err();
        assert!(err.to_string().contains("SECRET_KEY_FALLBACKS[0]"), "{err}");
    }

    #[test]
    fn weak_env_secrets_are_refused_naming_the_variable() {
        let good = "Jq3vX8mZ-tR2kW9pL5nB7cY4hF6dS1gA".to_owned();
        let zero = "\0".repeat(32);
        let cases = [
            ("SECRET_KEY all zero", zero.clone(), Vec::new(), "SECRET_KEY "),
            ("SECRET_KEY one repeated character", "f".repeat(32), Vec::new(), "SECRET_KEY "),
            ("fallback all zero", good.clone(), vec![zero], "SECRET_KEY_FALLBACKS[0]"),
            (
                "second fallback a repeated pattern",
                good.clone(),
                vec![good.clone(), "ab".repeat(20)],
                "SECRET_KEY_FALLBACKS[1]",
            ),
        ];
        for (name, primary, fallbacks, var) in cases {
            let err = KeySet::from_secrets(&primary, &fallbacks).unwrap_err();
            assert!(matches!(err, KeyringError::Weak { .. }), "{name}: {err:?}");
            assert!(err.to_string().contains(var), "{name}: {err}");
        }
    }

    #[test]
    fn keyring_debug_hides_secrets() {
        let secret = "Jq3vX8mZ-tR2kW9pL5nB7cY4hF6dS1gA";
        let ring = Keyring::new(KeySet::from_secrets(secret, &[]).unwrap());
        let dbg = format!("{ring:?}");
        assert!(!dbg.contains("Jq3v"), "{dbg}");
        assert!(dbg.contains("Primary"));
    }
}
