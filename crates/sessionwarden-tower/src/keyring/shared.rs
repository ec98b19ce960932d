//! A keyring a fleet shares through its store: a versioned document in a [`KeyringStore`],
//! its secrets wrapped under a key-encryption key ([`Kek`]) the store never sees.
//!
//! # The document
//!
//! ```json
//! {"format":"sessionwarden-shared-keyring/1","kek":"<KEK id, 8 hex digits>","keys":[
//!   {"kid":2,"state":"primary","created":1764158400,"secret":"<base64url(nonce ‖ ciphertext ‖ tag)>"},
//!   {"kid":1,"state":"retired","created":1761566400,"secret":null}]}
//! ```
//!
//! Each secret is sealed with XChaCha20-Poly1305 under a subkey of the KEK (HKDF-SHA256,
//! `info` `sessionwarden/v1/keyring-wrap`), a random 24-byte nonce, and as associated data the
//! format, the keyring's name, the document's version in the store and the key's id, state and
//! creation time. So a secret moved to another key, another keyring or another version, or a
//! key whose state was edited in the database (a verify key made primary again), does not
//! open. Every write re-seals every secret for the version it will be stored as. The `kek`
//! field names the KEK (an HKDF output, not the key), so a node given the wrong KEK says
//! so instead of "does not decrypt".
//!
//! # Changes
//!
//! A change (rotate, retire, a scheduled step) loads the current version, opens it, changes
//! it, seals it for the next version and swaps it in only if the store still holds the version
//! it read ([`KeyringStore::swap_keyring`]); a node that lost the race reads the winner's
//! version and decides again. Scheduled rotation additionally runs under a lease in the store
//! ([`SharedKeyring::run_schedule`]), so one node does it and a dead node's lease expires.
//!
//! Other nodes see a change by polling the version ([`SharedKeyring::sync`]): one small read.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, Payload};
use hkdf::Hkdf;
use hmac::KeyInit;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::file::FORMAT as FILE_FORMAT;
use super::{
    KeyEntry, KeyId, KeySet, KeyState, Keyring, KeyringError, KeyringFile, RotationSchedule, ScheduleOutcome,
};
use crate::store::KeyringStore;
use crate::time::Timestamp;

/// The shared document's format tag.
pub const SHARED_FORMAT: &str = "sessionwarden-shared-keyring/1";

/// How many times a change is retried when other nodes keep changing the keyring under it.
const MAX_ATTEMPTS: usize = 8;

const NONCE_LEN: usize = 24;
const WRAP_LABEL: &[u8] = b"sessionwarden/v1/keyring-wrap";
const KEK_ID_LABEL: &[u8] = b"sessionwarden/v1/kek-id";
const KEK_SALT: &[u8] = b"sessionwarden key-encryption key v1";

/// A key-encryption key: wraps the shared keyring's secrets. 32 or more random bytes, given
/// as base64 (standard or URL-safe, padded or not), e.g. `openssl rand -base64 32`.
///
/// `Debug` and [`Kek::id`] show its id (8 hex digits of an HKDF output), never the key.
pub struct Kek {
    wrap: XChaCha20Poly1305,
    id: String,
}

impl Kek {
    /// The KEK in `text` (surrounding whitespace ignored); `source` names it in errors (a
    /// flag with its file, an environment variable).
    ///
    /// # Errors
    /// [`KeyringError::Kek`] unless `text` is base64 of at least 32 bytes that look random
    /// (see [`MIN_KEY_DISTINCT_BYTES`](super::MIN_KEY_DISTINCT_BYTES)).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::keyring::Kek;
    /// let kek = Kek::from_text("SESSIONWARDEN_KEK", "q83vEjRWeJq8fj9Ac2VjcmV0LWtleS1lbmNyeXB0aW9u")?;
    /// assert_eq!(kek.id().len(), 8);
    /// assert!(Kek::from_text("SESSIONWARDEN_KEK", "c2hvcnQ=").is_err());
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(())
    /// ```
    pub fn from_text(source: &str, text: &str) -> Result<Self, KeyringError> {
        let text = text.trim();
        let bad =
            |reason: &str| KeyringError::Kek { source_name: source.to_owned(), reason: reason.to_owned() };
        let bytes = Zeroizing::new(
            [&URL_SAFE_NO_PAD, &URL_SAFE, &STANDARD, &STANDARD_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(text).ok())
                .ok_or_else(|| bad("not base64; generate one with `openssl rand -base64 32`"))?,
        );
        if bytes.len() < super::MIN_KEY_LEN {
            return Err(bad(&format!(
                "{} bytes long; it must be at least 32 random bytes (`openssl rand -base64 32`)",
                bytes.len()
            )));
        }
        super::key::check_secret(source, &bytes)
            .map_err(|_| bad("not random enough; generate one with `openssl rand -base64 32`"))?;
        let hk = Hkdf::<Sha256>::new(Some(KEK_SALT), &bytes);
        let mut wrap_key = Zeroizing::new([0u8; 32]);
        // invariant: 32 and 4 bytes are far below HKDF-SHA256's 8160-byte output limit
        hk.expand(WRAP_LABEL, wrap_key.as_mut()).expect("32-byte HKDF output");
        let mut id = [0u8; 4];
        hk.expand(KEK_ID_LABEL, &mut id).expect("4-byte HKDF output");
        Ok(Self {
            wrap: XChaCha20Poly1305::new_from_slice(wrap_key.as_ref()).expect("32-byte XChaCha20 key"),
            id: id.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// Reads the KEK from a file that only its owner may read (mode 0600 or stricter).
    ///
    /// # Errors
    /// [`KeyringError::Io`] if it cannot be read, [`KeyringError::Invalid`] if group or
    /// others may read it, [`KeyringError::Kek`] as [`Kek::from_text`].
    pub fn from_file(path: &Path) -> Result<Self, KeyringError> {
        super::file::check_permissions(path)?;
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|source| KeyringError::Io { path: path.to_owned(), source })?,
        );
        Self::from_text(&path.display().to_string(), &text)
    }

    /// The KEK's id: 8 hex digits derived from it (not the key), recorded in the document so
    /// a wrong KEK is named as such.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    fn seal(&self, aad: &[u8], secret: &[u8]) -> Result<String, KeyringError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| KeyringError::Random)?;
        let ct = self
            .wrap
            .encrypt(&nonce.into(), Payload { msg: secret, aad })
            .map_err(|_| KeyringError::Random)?;
        let mut sealed = Vec::with_capacity(NONCE_LEN + ct.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ct);
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    fn open(&self, aad: &[u8], sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        let sealed = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if sealed.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        self.wrap.decrypt(&nonce.into(), Payload { msg: ct, aad }).ok().map(Zeroizing::new)
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish_non_exhaustive()
    }
}

/// The document as stored: secrets sealed.
#[derive(Serialize, Deserialize)]
struct Document {
    format: String,
    kek: String,
    keys: Vec<WrappedEntry>,
}

#[derive(Serialize, Deserialize)]
struct WrappedEntry {
    kid: u32,
    state: KeyState,
    created: Timestamp,
    secret: Option<String>,
}

/// The associated data of one wrapped secret.
fn aad(name: &str, version: u64, kid: u32, state: KeyState, created: Timestamp) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64 + name.len());
    aad.extend_from_slice(SHARED_FORMAT.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&(name.len() as u64).to_be_bytes());
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(&kid.to_be_bytes());
    aad.extend_from_slice(state.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(&created.unix().to_be_bytes());
    aad
}

fn invalid(name: &str, reason: impl Into<String>) -> KeyringError {
    KeyringError::SharedInvalid { name: name.to_owned(), reason: reason.into() }
}

/// Seals `file` as version `version` of keyring `name`.
fn seal(file: &KeyringFile, kek: &Kek, name: &str, version: u64) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
    let mut keys = Vec::with_capacity(file.keys.len());
    for e in &file.keys {
        let secret = match (&e.state, &e.secret) {
            (KeyState::Retired, _) | (_, None) => None,
            (_, Some(text)) => {
                let bytes = Zeroizing::new(
                    URL_SAFE_NO_PAD
                        .decode(text.as_bytes())
                        .map_err(|_| invalid(name, "a secret is not base64url"))?,
                );
                Some(kek.seal(&aad(name, version, e.kid, e.state, e.created), &bytes)?)
            }
        };
        keys.push(WrappedEntry { kid: e.kid, state: e.state, created: e.created, secret });
    }
    let doc = Document { format: SHARED_FORMAT.into(), kek: kek.id.clone(), keys };
    serde_json::to_vec(&doc).map(Zeroizing::new).map_err(|e| invalid(name, e.to_string()))
}

/// Opens version `version` of keyring `name` into a [`KeyringFile`] (checked: it builds a key set).
fn open(document: &[u8], kek: &Kek, name: &str, version: u64) -> Result<KeyringFile, KeyringError> {
    let doc: Document = serde_json::from_slice(document)
        .map_err(|e| invalid(name, format!("not keyring JSON (line {}, column {})", e.line(), e.column())))?;
    if doc.format != SHARED_FORMAT {
        return Err(invalid(name, format!("format {:?}, expected {SHARED_FORMAT:?}", doc.format)));
    }
    if doc.kek != kek.id {
        return Err(KeyringError::WrongKek { name: name.to_owned(), stored: doc.kek, given: kek.id.clone() });
    }
    let mut keys = Vec::with_capacity(doc.keys.len());
    for w in doc.keys {
        let secret = match (w.state, &w.secret) {
            (KeyState::Retired, None) => None,
            (KeyState::Retired, Some(_)) => {
                return Err(invalid(name, format!("retired key {} has a secret", w.kid)));
            }
            (_, None) => return Err(invalid(name, format!("key {} has no secret", w.kid))),
            (state, Some(sealed)) => {
                let bytes =
                    kek.open(&aad(name, version, w.kid, state, w.created), sealed).ok_or_else(|| {
                        invalid(
                            name,
                            format!(
                                "key {} does not open under its key-encryption key: altered in the store",
                                w.kid
                            ),
                        )
                    })?;
                Some(Zeroizing::new(URL_SAFE_NO_PAD.encode(&*bytes)))
            }
        };
        keys.push(KeyEntry { kid: w.kid, state: w.state, created: w.created, secret });
    }
    let file = KeyringFile { format: FILE_FORMAT.into(), keys };
    file.key_set().map_err(|e| invalid(name, e.to_string()))?;
    Ok(file)
}

/// A keyring shared through a [`KeyringStore`]: the live [`Keyring`] this node uses, kept in
/// step with the store's version. See the `keyring::shared` module docs.
///
/// `Debug` shows the name, version and KEK id, never a secret.
pub struct SharedKeyring {
    store: Arc<dyn KeyringStore>,
    name: String,
    kek: Kek,
    keyring: Keyring,
    version: AtomicU64,
    holder: String,
}

impl fmt::Debug for SharedKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedKeyring")
            .field("name", &self.name)
            .field("version", &self.version.load(Ordering::SeqCst))
            .field("kek", &self.kek)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn store_err(operation: &'static str) -> impl FnOnce(crate::StoreError) -> KeyringError {
    move |source| KeyringError::Store { operation, source }
}

impl SharedKeyring {
    /// Opens keyring `name` in `store` with `kek`. When the store has none yet, stores `seed`
    /// (an existing keyring file being moved into the store) or, without one, a fresh keyring
    /// with one random primary created at `now`.
    ///
    /// # Errors
    /// [`KeyringError::WrongKek`] if the keyring was wrapped under another KEK;
    /// [`KeyringError::SharedInvalid`] if it is not a valid keyring or a secret does not open;
    /// [`KeyringError::Store`] if the store fails.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use std::sync::Arc;
    /// use sessionwarden::keyring::{Kek, SharedKeyring};
    /// use sessionwarden::{MemoryStore, Timestamp};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = Arc::new(MemoryStore::default());
    /// let kek = || Kek::from_text("test", "q83vEjRWeJq8fj9Ac2VjcmV0LWtleS1lbmNyeXB0aW9u").unwrap();
    /// let now = Timestamp::from_unix(1_800_000_000);
    /// let a = SharedKeyring::open(store.clone(), "main", kek(), None, now).await?;
    /// let b = SharedKeyring::open(store.clone(), "main", kek(), None, now).await?;
    /// let new = a.rotate(now).await?;
    /// assert_eq!(b.sync().await?, Some(2), "b sees version 2");
    /// assert_eq!(b.keyring().current().primary().id(), new);
    /// let wrong = Kek::from_text("SESSIONWARDEN_KEK", "bm90LXRoZS1zYW1lLWtleS1lbmNyeXB0aW9uLWtleSE").unwrap();
    /// let err = SharedKeyring::open(store, "main", wrong, None, now).await.unwrap_err();
    /// assert!(err.to_string().contains("wrong key-encryption key"), "{err}");
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(()) }).unwrap();
    /// ```
    pub async fn open(
        store: Arc<dyn KeyringStore>,
        name: impl Into<String>,
        kek: Kek,
        seed: Option<KeyringFile>,
        now: Timestamp,
    ) -> Result<Self, KeyringError> {
        let name = name.into();
        let mut seed = seed;
        let (version, file) = loop {
            if let Some(current) = store.load_keyring(&name).await.map_err(store_err("keyring_load"))? {
                break (current.version, open(&current.document, &kek, &name, current.version)?);
            }
            let file = match seed.take() {
                Some(file) => file,
                None => KeyringFile::generate(now)?,
            };
            let doc = seal(&file, &kek, &name, 1)?;
            if store.swap_keyring(&name, None, &doc).await.map_err(store_err("keyring_swap"))? {
                break (1, file);
            }
            // Another node created it first: use theirs.
        };
        let mut holder = [0u8; 16];
        getrandom::fill(&mut holder).map_err(|_| KeyringError::Random)?;
        Ok(Self {
            keyring: Keyring::new(file.key_set()?),
            store,
            name,
            kek,
            version: AtomicU64::new(version),
            holder: holder.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// The live keyring: hand it to the session layer, CSRF and JWTs. [`SharedKeyring::sync`]
    /// and every change made through this value swap its keys.
    #[must_use]
    pub fn keyring(&self) -> Keyring {
        self.keyring.clone()
    }

    /// The keyring's name in the store.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The version this node uses.
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    /// This node's id as a lease holder (random per value).
    #[must_use]
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The lease a scheduled rotation runs under: `keyring-rotation:<name>`.
    #[must_use]
    pub fn lease_name(&self) -> String {
        format!("keyring-rotation:{}", self.name)
    }

    /// Checks the store's version (one small read) and, if it moved, loads and opens the new
    /// document and swaps its keys in. Returns the new version, or `None` if nothing changed.
    ///
    /// # Errors
    /// As [`SharedKeyring::open`]; on error the keys in use stay as they were.
    pub async fn sync(&self) -> Result<Option<u64>, KeyringError> {
        let stored = self.store.keyring_version(&self.name).await.map_err(store_err("keyring_version"))?;
        if stored == Some(self.version()) {
            return Ok(None);
        }
        let (version, file) = self.load().await?;
        Ok(self.install(version, &file)?.then_some(version))
    }

    /// The keys as stored now (ids, states, creation times; entries never expose secrets).
    ///
    /// # Errors
    /// As [`SharedKeyring::open`].
    pub async fn entries(&self) -> Result<Vec<KeyEntry>, KeyringError> {
        let (version, file) = self.load().await?;
        self.install(version, &file)?;
        Ok(file.keys)
    }

    /// Adds a new primary key for the whole fleet; the old primary becomes verify-only.
    ///
    /// # Errors
    /// As [`SharedKeyring::update`].
    pub async fn rotate(&self, now: Timestamp) -> Result<KeyId, KeyringError> {
        let mut new = None;
        self.update(|file| {
            new = Some(file.rotate(now)?);
            Ok(true)
        })
        .await?;
        // invariant: `update` returned Ok, so the closure ran and set `new` on its last attempt
        Ok(new.expect("rotated"))
    }

    /// Retires a verify-only key for the whole fleet; its secret is erased from the store.
    ///
    /// # Errors
    /// [`KeyringError::UnknownKey`], [`KeyringError::RetirePrimary`], or as
    /// [`SharedKeyring::update`].
    pub async fn retire(&self, kid: KeyId) -> Result<(), KeyringError> {
        self.update(|file| file.retire(kid).map(|()| true)).await.map(|_| ())
    }

    /// Applies `change` to the current version and stores the result as the next one, if
    /// `change` reports a change; retried from the winner's version when another node changed
    /// the keyring first. Returns the keys after it.
    ///
    /// # Errors
    /// What `change` returns; [`KeyringError::Contended`] after 8 lost races; as
    /// [`SharedKeyring::open`] otherwise.
    pub async fn update(
        &self,
        mut change: impl FnMut(&mut KeyringFile) -> Result<bool, KeyringError>,
    ) -> Result<Vec<KeyEntry>, KeyringError> {
        for _ in 0..MAX_ATTEMPTS {
            let (version, mut file) = self.load().await?;
            if !change(&mut file)? {
                self.install(version, &file)?;
                return Ok(file.keys);
            }
            let next = version.saturating_add(1);
            let doc = seal(&file, &self.kek, &self.name, next)?;
            if self
                .store
                .swap_keyring(&self.name, Some(version), &doc)
                .await
                .map_err(store_err("keyring_swap"))?
            {
                self.install(next, &file)?;
                return Ok(file.keys);
            }
        }
        Err(KeyringError::Contended { name: self.name.clone() })
    }

    /// One scheduled step at `now`, by whichever node holds the rotation lease: takes or
    /// renews the lease for `lease_ttl`, and if this node holds it applies `schedule`
    /// ([`KeyringFile::apply_schedule`]) through [`SharedKeyring::update`]. Returns `None` when
    /// another node holds the lease.
    ///
    /// The lease keeps the other nodes from even trying; the compare-and-set in `update`
    /// keeps the step exactly-once even if two nodes ran it at once (a lease that expired
    /// under a stalled holder): the loser re-reads the winner's version, where the step has
    /// nothing left to do.
    ///
    /// # Errors
    /// As [`SharedKeyring::update`].
    pub async fn run_schedule(
        &self,
        schedule: &RotationSchedule,
        now: Timestamp,
        lease_ttl: Duration,
    ) -> Result<Option<ScheduleOutcome>, KeyringError> {
        let held = self
            .store
            .acquire_lease(&self.lease_name(), &self.holder, lease_ttl, now)
            .await
            .map_err(store_err("lease_acquire"))?;
        if !held {
            return Ok(None);
        }
        let mut outcome = ScheduleOutcome::default();
        self.update(|file| {
            outcome = file.apply_schedule(schedule, now)?;
            Ok(outcome.changed())
        })
        .await?;
        Ok(Some(outcome))
    }

    /// Gives up the rotation lease if this node holds it (at shutdown), so another node takes
    /// over at once instead of when it expires.
    ///
    /// # Errors
    /// [`KeyringError::Store`] if the store fails.
    pub async fn release_lease(&self) -> Result<bool, KeyringError> {
        self.store.release_lease(&self.lease_name(), &self.holder).await.map_err(store_err("lease_release"))
    }

    /// Re-wraps every secret under `new_kek` (rotating the key-encryption key). Nodes still on
    /// the old KEK keep the keys they have, report that they cannot open the new version, and
    /// must be restarted with `new_kek`; this value cannot read the keyring afterwards either.
    /// Returns the new version.
    ///
    /// # Errors
    /// As [`SharedKeyring::update`].
    pub async fn rewrap(&self, new_kek: &Kek) -> Result<u64, KeyringError> {
        for _ in 0..MAX_ATTEMPTS {
            let (version, file) = self.load().await?;
            let next = version.saturating_add(1);
            let doc = seal(&file, new_kek, &self.name, next)?;
            if self
                .store
                .swap_keyring(&self.name, Some(version), &doc)
                .await
                .map_err(store_err("keyring_swap"))?
            {
                return Ok(next);
            }
        }
        Err(KeyringError::Contended { name: self.name.clone() })
    }

    /// The current version from the store, opened.
    async fn load(&self) -> Result<(u64, KeyringFile), KeyringError> {
        let current = self
            .store
            .load_keyring(&self.name)
            .await
            .map_err(store_err("keyring_load"))?
            .ok_or_else(|| invalid(&self.name, "it is gone from the store"))?;
        Ok((current.version, open(&current.document, &self.kek, &self.name, current.version)?))
    }

    /// Uses `file`'s keys if `version` is newer than what this node uses. Returns whether it
    /// swapped them in.
    fn install(&self, version: u64, file: &KeyringFile) -> Result<bool, KeyringError> {
        let set: KeySet = file.key_set()?;
        let previous = self.version.fetch_max(version, Ordering::SeqCst);
        if version > previous {
            self.keyring.replace(set);
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    const KEK: &str = "q83vEjRWeJq8fj9Ac2VjcmV0LWtleS1lbmNyeXB0aW9u";
    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

    fn kek() -> Kek {
        Kek::from_text("test", KEK).unwrap()
    }

    /// A document sealed once with [`KEK`] (keyring "frozen", version 1): the wire format and
    /// the associated data are pinned; it must open, byte for byte, forever.
    const FROZEN: &str = include_str!("testdata/shared-keyring-v1.json");
    /// The secret it wraps (base64url).
    const FROZEN_SECRET: &str = "OBbhtVfW5u3A6IAPV8DlUzwcWm9kWcdRgnaUvHJ6dDI";

    #[test]
    fn frozen_document_opens() {
        let file = open(FROZEN.trim().as_bytes(), &kek(), "frozen", 1).unwrap();
        assert_eq!(file.keys.len(), 2);
        assert_eq!(file.keys[1].secret.as_deref().map(|s| s.as_str()), Some(FROZEN_SECRET));
        assert_eq!(file.keys[0].state, KeyState::Retired);
        assert_eq!(kek().id(), "a1622870", "the KEK id derivation is pinned too");
        // The associated data binds name and version: the same bytes under another fail.
        assert!(matches!(
            open(FROZEN.trim().as_bytes(), &kek(), "other", 1),
            Err(KeyringError::SharedInvalid { .. })
        ));
        assert!(matches!(
            open(FROZEN.trim().as_bytes(), &kek(), "frozen", 2),
            Err(KeyringError::SharedInvalid { .. })
        ));
    }

    #[test]
    fn sealing_round_trips_and_binds_each_field() {
        let mut file = KeyringFile::generate(NOW).unwrap();
        file.rotate(NOW).unwrap();
        let doc = seal(&file, &kek(), "main", 7).unwrap();
        let back = open(&doc, &kek(), "main", 7).unwrap();
        for (a, b) in file.keys.iter().zip(&back.keys) {
            assert_eq!((a.kid, a.state, a.created), (b.kid, b.state, b.created));
            assert_eq!(a.secret.as_deref().map(|s| s.as_str()), b.secret.as_deref().map(|s| s.as_str()));
        }
        let text = String::from_utf8(doc.to_vec()).unwrap();
        for e in &file.keys {
            assert!(!text.contains(e.secret.as_deref().unwrap().as_str()), "no secret in the clear");
        }
        // A verify key edited back to primary (and the primary to verify) does not open.
        let swapped = text
            .replacen("\"primary\"", "\"tmp\"", 1)
            .replacen("\"verify\"", "\"primary\"", 1)
            .replacen("\"tmp\"", "\"verify\"", 1);
        let err = open(swapped.as_bytes(), &kek(), "main", 7).unwrap_err();
        assert!(err.to_string().contains("altered in the store"), "{err}");
    }

    #[test]
    fn wrong_kek_is_named_and_no_error_or_debug_holds_key_material() {
        let file = KeyringFile::generate(NOW).unwrap();
        let secret = file.keys[0].secret.as_deref().unwrap().as_str().to_owned();
        let doc = seal(&file, &kek(), "main", 1).unwrap();
        let other_text = "bm90LXRoZS1zYW1lLWtleS1lbmNyeXB0aW9uLWtleSE";
        let other = Kek::from_text("SESSIONWARDEN_KEK", other_text).unwrap();
        let err = open(&doc, &other, "main", 1).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, KeyringError::WrongKek { .. }), "{err:?}");
        assert!(msg.contains(kek().id()) && msg.contains(other.id()), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
        for text in [msg, format!("{err:?}"), format!("{other:?}")] {
            assert!(!text.contains(&secret) && !text.contains(other_text) && !text.contains(KEK), "{text}");
        }
        for (bad, want) in [
            ("c2hvcnQ=", "5 bytes long"),
            ("not base64 at all!", "not base64"),
            (&"A".repeat(43), "not random"),
        ] {
            let err = Kek::from_text("SESSIONWARDEN_KEK", bad).unwrap_err().to_string();
            assert!(err.starts_with("SESSIONWARDEN_KEK: ") && err.contains(want), "{err}");
            assert!(!err.contains(bad), "{err}");
        }
    }

    #[tokio::test]
    async fn nodes_share_changes_and_a_lost_race_is_retried() {
        let store: Arc<dyn KeyringStore> = Arc::new(MemoryStore::default());
        let a = SharedKeyring::open(store.clone(), "k", kek(), None, NOW).await.unwrap();
        let b = SharedKeyring::open(store.clone(), "k", kek(), None, NOW).await.unwrap();
        assert_eq!(a.keyring().current().primary().id(), b.keyring().current().primary().id());
        assert_eq!(b.sync().await.unwrap(), None, "nothing changed");
        let new = a.rotate(NOW).await.unwrap();
        // b has not synced: its retire runs on version 1, loses the race, re-reads version 2.
        b.retire(KeyId::new(1)).await.unwrap();
        assert_eq!(b.version(), 3);
        assert_eq!(a.sync().await.unwrap(), Some(3));
        let set = a.keyring().current();
        assert_eq!(set.primary().id(), new);
        assert_eq!(set.retired(), &[KeyId::new(1)]);
    }

    #[tokio::test]
    async fn only_the_lease_holder_runs_the_schedule() {
        let store: Arc<dyn KeyringStore> = Arc::new(MemoryStore::default());
        let a = SharedKeyring::open(store.clone(), "s", kek(), None, NOW).await.unwrap();
        let b = SharedKeyring::open(store.clone(), "s", kek(), None, NOW).await.unwrap();
        let day = Duration::from_secs(86_400);
        let schedule = RotationSchedule::new(30 * day, 30 * day).unwrap();
        let ttl = Duration::from_secs(180);
        let later = Timestamp::from_unix(NOW.unix() + 30 * 86_400);
        let ran = a.run_schedule(&schedule, later, ttl).await.unwrap().unwrap();
        assert_eq!(ran.rotated, Some(KeyId::new(2)));
        assert_eq!(b.run_schedule(&schedule, later, ttl).await.unwrap(), None, "a holds the lease");
        assert!(a.release_lease().await.unwrap());
        let again = b.run_schedule(&schedule, later, ttl).await.unwrap().unwrap();
        assert!(!again.changed(), "the step was done: nothing left at this instant");
        assert_eq!(b.version(), 2);
    }
}
