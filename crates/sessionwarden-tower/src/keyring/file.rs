//! The keyring file: JSON, mode 0600, written atomically.
//!
//! ```json
//! {"format":"sessionwarden-keyring/1","keys":[
//!   {"kid":2,"state":"primary","created":1764158400,"secret":"<base64url, 32+ bytes>"},
//!   {"kid":1,"state":"retired","created":1761566400,"secret":null}]}
//! ```
//! A retired key's secret is erased: it will never verify anything again.

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{Key, KeyId, KeySet, KeyState, KeyringError};
use crate::time::Timestamp;

pub(super) const FORMAT: &str = "sessionwarden-keyring/1";

/// The parsed keyring file.
#[derive(Serialize, Deserialize)]
pub struct KeyringFile {
    pub(super) format: String,
    pub(super) keys: Vec<KeyEntry>,
}

/// One key as the file records it. `Debug` leaves the secret out.
#[derive(Serialize, Deserialize, Clone)]
pub struct KeyEntry {
    pub(super) kid: u32,
    pub(super) state: KeyState,
    pub(super) created: Timestamp,
    pub(super) secret: Option<Zeroizing<String>>,
}

impl KeyEntry {
    /// The key's id.
    #[must_use]
    pub fn kid(&self) -> KeyId {
        KeyId::new(self.kid)
    }

    /// The key's state.
    #[must_use]
    pub fn state(&self) -> KeyState {
        self.state
    }

    /// When the key was created.
    #[must_use]
    pub fn created(&self) -> Timestamp {
        self.created
    }
}

impl fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyEntry")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for KeyringFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringFile").field("keys", &self.keys).finish()
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io { path: path.to_owned(), source }
}

fn invalid(path: &Path, reason: impl Into<String>) -> KeyringError {
    KeyringError::Invalid { path: path.to_owned(), reason: reason.into() }
}

pub(super) fn random_secret() -> Result<Zeroizing<String>, KeyringError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|_| KeyringError::Random)?;
    Ok(Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref())))
}

impl KeyringFile {
    /// A new keyring with one random primary key, id 1.
    ///
    /// # Errors
    /// [`KeyringError::Random`] if the OS random number generator fails.
    pub fn generate(now: Timestamp) -> Result<Self, KeyringError> {
        Ok(Self {
            format: FORMAT.into(),
            keys: vec![KeyEntry {
                kid: 1,
                state: KeyState::Primary,
                created: now,
                secret: Some(random_secret()?),
            }],
        })
    }

    /// Reads and checks the file at `path`.
    ///
    /// # Errors
    /// [`KeyringError::Io`] if it cannot be read; [`KeyringError::Invalid`] if it is not a
    /// keyring, is readable by group or others, or its keys are inconsistent;
    /// [`KeyringError::TooShort`] for a key under 32 bytes, [`KeyringError::Weak`] for one
    /// that is obviously not random (all zero, one repeated byte).
    pub fn load(path: &Path) -> Result<Self, KeyringError> {
        check_permissions(path)?;
        let text = Zeroizing::new(fs::read_to_string(path).map_err(io_err(path))?);
        Self::parse(&text, path)
    }

    /// Parses and checks the file's text; `path` only names it in errors. The part of
    /// [`KeyringFile::load`] that sees untrusted bytes, so the fuzz target calls it directly.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<Self, KeyringError> {
        let file: Self = serde_json::from_str(text).map_err(|e| {
            invalid(path, format!("not keyring JSON (line {}, column {})", e.line(), e.column()))
        })?;
        if file.format != FORMAT {
            return Err(invalid(path, format!("format {:?}, expected {FORMAT:?}", file.format)));
        }
        // Building the key set validates everything: lengths, one primary, unique ids.
        file.key_set_at(path)?;
        Ok(file)
    }

    /// The text [`KeyringFile::save`] writes (pretty JSON).
    pub(crate) fn to_json(&self) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        serde_json::to_vec_pretty(self)
            .map(Zeroizing::new)
            .map_err(|e| invalid(Path::new("<keyring>"), e.to_string()))
    }

    /// Loads `path`, or creates it with one fresh key (mode 0600) if it does not exist.
    ///
    /// # Errors
    /// As [`KeyringFile::load`] and [`KeyringFile::save`].
    pub fn load_or_create(path: &Path, now: Timestamp) -> Result<Self, KeyringError> {
        match fs::metadata(path) {
            Ok(_) => Self::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let file = Self::generate(now)?;
                file.save(path)?;
                Ok(file)
            }
            Err(e) => Err(io_err(path)(e)),
        }
    }

    /// Writes the file atomically (temporary file with mode 0600, then rename), so a server
    /// reloading it never reads half a file.
    ///
    /// # Errors
    /// [`KeyringError::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), KeyringError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
        let json = self.to_json()?;
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let _ = fs::remove_file(&tmp);
        let mut f = opts.open(&tmp).map_err(io_err(&tmp))?;
        f.write_all(&json).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        drop(f);
        fs::rename(&tmp, path).map_err(io_err(path))?;
        Ok(())
    }

    /// Adds a new primary key; the old primary becomes verify-only. Returns the new id.
    ///
    /// # Errors
    /// [`KeyringError::Random`] if the OS random number generator fails.
    pub fn rotate(&mut self, now: Timestamp) -> Result<KeyId, KeyringError> {
        let next = self.keys.iter().map(|k| k.kid).max().unwrap_or(0) + 1;
        for k in &mut self.keys {
            if k.state == KeyState::Primary {
                k.state = KeyState::Verify;
            }
        }
        self.keys.push(KeyEntry {
            kid: next,
            state: KeyState::Primary,
            created: now,
            secret: Some(random_secret()?),
        });
        Ok(KeyId::new(next))
    }

    /// Retires a verify-only key: its secret is erased and what it sealed stops verifying.
    ///
    /// # Errors
    /// [`KeyringError::UnknownKey`] if no key has `kid`; [`KeyringError::RetirePrimary`] for
    /// the primary key.
    pub fn retire(&mut self, kid: KeyId) -> Result<(), KeyringError> {
        let entry = self
            .keys
            .iter_mut()
            .find(|k| k.kid == kid.get())
            .ok_or_else(|| KeyringError::UnknownKey { kid: kid.to_string() })?;
        if entry.state == KeyState::Primary {
            return Err(KeyringError::RetirePrimary { kid: kid.to_string() });
        }
        entry.state = KeyState::Retired;
        entry.secret = None;
        Ok(())
    }

    /// The keys, oldest first. Entries never expose their secrets.
    #[must_use]
    pub fn entries(&self) -> &[KeyEntry] {
        &self.keys
    }

    /// The usable key set this file describes.
    ///
    /// # Errors
    /// As [`KeyringFile::load`].
    pub fn key_set(&self) -> Result<KeySet, KeyringError> {
        self.key_set_at(Path::new("<keyring>"))
    }

    fn key_set_at(&self, path: &Path) -> Result<KeySet, KeyringError> {
        let mut keys = Vec::new();
        let mut retired = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for e in &self.keys {
            if !seen.insert(e.kid) {
                return Err(invalid(path, format!("key id {} appears twice", e.kid)));
            }
            match (e.state, &e.secret) {
                (KeyState::Retired, _) => retired.push(KeyId::new(e.kid)),
                (_, None) => return Err(invalid(path, format!("key {} has no secret", e.kid))),
                (state, Some(secret)) => {
                    let bytes = Zeroizing::new(
                        URL_SAFE_NO_PAD
                            .decode(secret.as_bytes())
                            .map_err(|_| invalid(path, format!("key {} secret is not base64url", e.kid)))?,
                    );
                    super::key::check_secret(&format!("{} in {}", e.kid, path.display()), &bytes)?;
                    keys.push(Key::new(KeyId::new(e.kid), state, e.created, &bytes)?);
                }
            }
        }
        KeySet::new(keys, retired)
    }
}

#[cfg(unix)]
pub(super) fn check_permissions(path: &Path) -> Result<(), KeyringError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path).map_err(io_err(path))?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(invalid(
            path,
            format!(
                "mode {:o} lets other users read the keys; run `chmod 600 {}`",
                mode & 0o777,
                path.display()
            ),
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_permissions(_path: &Path) -> Result<(), KeyringError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir() -> std::path::PathBuf {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let d = std::env::temp_dir().join(format!("sw-keyring-{}", u64::from_le_bytes(bytes)));
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn created_with_mode_0600_and_reloads() {
        let dir = tmpdir();
        let path = dir.join("keyring.json");
        let a = KeyringFile::load_or_create(&path, Timestamp::from_unix(1)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let b = KeyringFile::load_or_create(&path, Timestamp::from_unix(2)).unwrap();
        assert_eq!(a.key_set().unwrap().primary().secret(), b.key_set().unwrap().primary().secret());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rotate_then_retire() {
        let mut f = KeyringFile::generate(Timestamp::from_unix(1)).unwrap();
        let new = f.rotate(Timestamp::from_unix(2)).unwrap();
        assert_eq!(new.get(), 2);
        let set = f.key_set().unwrap();
        assert_eq!(set.primary().id(), new);
        assert_eq!(set.find(KeyId::new(1)).unwrap().state(), KeyState::Verify);
        assert!(matches!(f.retire(new), Err(KeyringError::RetirePrimary { .. })));
        f.retire(KeyId::new(1)).unwrap();
        assert!(f.entries()[0].secret.is_none());
        let set = f.key_set().unwrap();
        assert_eq!(set.find(KeyId::new(1)).unwrap_err(), super::super::KeyLookupError::Retired);
        assert!(matches!(f.retire(KeyId::new(9)), Err(KeyringError::UnknownKey { .. })));
    }

    #[test]
    fn refuses_short_keys_and_open_permissions() {
        let dir = tmpdir();
        let path = dir.join("k.json");
        let short = format!(
            r#"{{"format":"{FORMAT}","keys":[{{"kid":1,"state":"primary","created":0,"secret":"{}"}}]}}"#,
            URL_SAFE_NO_PAD.encode([1u8; 16])
        );
        fs::write(&path, &short).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            let err = KeyringFile::load(&path).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let err = KeyringFile::load(&path).unwrap_err();
        assert!(err.to_string().contains("at least 32 bytes"), "{err}");
        fs::write(&path, "not json").unwrap();
        assert!(matches!(KeyringFile::load(&path), Err(KeyringError::Invalid { .. })));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn refuses_weak_keys_naming_the_file_and_key() {
        let dir = tmpdir();
        let path = dir.join("k.json");
        let cases: [(&str, Vec<u8>); 3] = [
            ("all zero", vec![0u8; 32]),
            ("one repeated byte, 64 bytes", vec![0x41; 64]),
            ("two alternating bytes", [0x00, 0xff].repeat(16)),
        ];
        for (name, secret) in cases {
            let text = format!(
                r#"{{"format":"{FORMAT}","keys":[{{"kid":1,"state":"verify","created":0,"secret":"{}"}},{{"kid":2,"state":"primary","created":0,"secret":"{}"}}]}}"#,
                URL_SAFE_NO_PAD.encode(random_bytes()),
                URL_SAFE_NO_PAD.encode(&secret),
            );
            fs::write(&path, &text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
            }
            let err = KeyringFile::load(&path).unwrap_err();
            assert!(matches!(err, KeyringError::Weak { .. }), "{name}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains(&format!("key 2 in {}", path.display())), "{name}: {msg}");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    fn random_bytes() -> [u8; 32] {
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).unwrap();
        b
    }

    #[test]
    fn not_json_is_invalid() {
        let dir = tmpdir();
        let path = dir.join("k.json");
        fs::write(&path, "not json").unwrap();
        assert!(matches!(KeyringFile::load(&path), Err(KeyringError::Invalid { .. })));
        fs::remove_dir_all(dir).unwrap();
    }
}
