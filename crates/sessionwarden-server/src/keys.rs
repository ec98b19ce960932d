//! The keyring as the server and CLI use it: where it comes from (the environment, a file, or
//! the store a fleet shares), reloading, scheduled rotation, and the `keys` commands.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use sessionwarden::keyring::{
    Kek, KeyEntry, KeyId, KeySet, Keyring, KeyringError, KeyringFile, RotationSchedule, SharedKeyring,
};
use sessionwarden::{Clock as _, Events, SecurityEvent, SystemClock, Timestamp};
use zeroize::Zeroizing;

use crate::cli::KeysCommand;
use crate::stores::StoreSettings;

/// The environment variable that may hold the key-encryption key (never a flag: `ps` shows
/// flags).
pub const KEK_ENV: &str = "SESSIONWARDEN_KEK";

/// How often a server checks the shared keyring's version: twice a second, so every server
/// sees a rotation within a second (one primary-key read per check; see the README).
pub const SHARED_KEYRING_POLL: Duration = Duration::from_millis(500);

/// How often the rotation job looks at the keyring's age.
pub const KEY_ROTATION_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// How long a server's rotation lease lasts; it renews it at every check, so another server
/// takes over at most this long after the holder died.
pub const KEY_ROTATION_LEASE: Duration = Duration::from_secs(300);

/// Where the server's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `SECRET_KEY` / `SECRET_KEY_FALLBACKS`: fixed for the life of the process.
    Env,
    /// A keyring file, reloaded when it changes.
    File(PathBuf),
    /// The keyring every server sharing the store uses (`--keyring-store`), followed by
    /// polling its version.
    Shared(Arc<SharedKeyring>),
}

/// `SESSIONWARDEN_KEK`, read from the environment only. `Debug` is redacted.
#[derive(Clone, Default)]
pub struct KekText(Option<Zeroizing<String>>);

impl KekText {
    /// `SESSIONWARDEN_KEK`, if set.
    #[must_use]
    pub fn from_env() -> Self {
        Self(std::env::var(KEK_ENV).ok().filter(|s| !s.is_empty()).map(Zeroizing::new))
    }

    /// A KEK given in code (tests, embedding).
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(Some(Zeroizing::new(text.into())))
    }
}

impl fmt::Debug for KekText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() { "KekText(..)" } else { "KekText(None)" })
    }
}

/// Where keys come from and how they rotate: `--rotate-every`, `--keyring-store`,
/// `--keyring-name`, `--kek-file` / `SESSIONWARDEN_KEK`.
#[derive(Debug, Clone)]
pub struct KeySettings {
    /// Rotate the primary once it is this old.
    pub rotate_every: Option<Duration>,
    /// Keep the keyring in the configured store, shared by the fleet.
    pub keyring_store: bool,
    /// The shared keyring's name in the store.
    pub keyring_name: String,
    /// The file holding the key-encryption key.
    pub kek_file: Option<PathBuf>,
    /// The key-encryption key from the environment.
    pub kek: KekText,
}

impl KeySettings {
    /// Where the KEK was given, as the error messages name it.
    fn kek_origin(&self) -> String {
        match &self.kek_file {
            Some(path) => format!("--kek-file {}", path.display()),
            None => KEK_ENV.to_owned(),
        }
    }

    /// The key-encryption key.
    ///
    /// # Errors
    /// When none or both are given, or it is malformed.
    pub fn kek(&self) -> Result<Kek> {
        match (&self.kek_file, &self.kek.0) {
            (Some(_), Some(_)) => bail!("set --kek-file or {KEK_ENV}, not both"),
            (Some(path), None) => {
                Kek::from_file(path).with_context(|| format!("--kek-file {}", path.display()))
            }
            (None, Some(text)) => Ok(Kek::from_text(KEK_ENV, text)?),
            (None, None) => bail!(
                "--keyring-store needs a key-encryption key: set --kek-file or {KEK_ENV} \
                 (generate one with `openssl rand -base64 32`)"
            ),
        }
    }
}

/// Opens the keys `settings` configure: the shared keyring in the store (`--keyring-store`;
/// on first use seeded from the keyring file at `path` if there is one), else as [`load`].
///
/// # Errors
/// As [`load`]; with `--keyring-store`, when the KEK is missing or wrong (one line naming
/// `--kek-file` or `SESSIONWARDEN_KEK`), the store cannot keep a keyring or cannot be reached.
pub async fn open(
    settings: &KeySettings,
    store: &StoreSettings,
    path: &Path,
    flask_mode: bool,
    now: Timestamp,
) -> Result<(Keyring, KeySource)> {
    if !settings.keyring_store {
        let (keyring, source) = load(path, flask_mode)?;
        if settings.rotate_every.is_some() && matches!(source, KeySource::Env) {
            bail!(
                "--rotate-every cannot rotate keys given by SECRET_KEY / SECRET_KEY_FALLBACKS; \
                 use the keyring file or --keyring-store"
            );
        }
        return Ok((keyring, source));
    }
    if std::env::var_os("SECRET_KEY").is_some() && !flask_mode {
        bail!("SECRET_KEY and --keyring-store both give the keys; unset one of them");
    }
    let kek = settings.kek()?;
    let keyring_store = crate::stores::open_keyring_store(store).await?;
    let seed = if path.exists() { Some(KeyringFile::load(path)?) } else { None };
    let shared = SharedKeyring::open(keyring_store, settings.keyring_name.clone(), kek, seed, now)
        .await
        .map_err(|e| shared_error(settings, store, e))?;
    Ok((shared.keyring(), KeySource::Shared(Arc::new(shared))))
}

/// A shared-keyring error as one line naming what to fix: the KEK's flag or variable for a
/// wrong or malformed KEK, the store otherwise.
fn shared_error(settings: &KeySettings, store: &StoreSettings, e: KeyringError) -> anyhow::Error {
    match e {
        KeyringError::WrongKek { .. } | KeyringError::Kek { .. } => {
            anyhow::Error::new(e).context(settings.kek_origin())
        }
        e => anyhow::Error::new(e)
            .context(format!("shared keyring in the {} store", crate::stores::store_name(store.store))),
    }
}

/// Keeps `shared` in step with the store: checks its version every `poll` (one small read)
/// and swaps in a new version's keys. A version that fails to open is reported once (not at
/// every poll) and the previous keys stay in use.
pub fn spawn_shared_watcher(
    shared: Arc<SharedKeyring>,
    poll: Duration,
    events: Events,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_failure: Option<String> = None;
        loop {
            tick.tick().await;
            let now = SystemClock.now();
            match shared.sync().await {
                Ok(None) => last_failure = None,
                Ok(Some(_)) => {
                    last_failure = None;
                    let primary_kid = shared.keyring().current().primary().id().get();
                    events.record(now, SecurityEvent::KeyringReloaded { primary_kid });
                }
                Err(e) => {
                    let reason = e.to_string();
                    if last_failure.as_deref() != Some(reason.as_str()) {
                        events.record(now, SecurityEvent::KeyringReloadFailed { reason: reason.clone() });
                        last_failure = Some(reason);
                    }
                }
            }
        }
    })
}

/// Scheduled rotation (`--rotate-every`) of the keys a server uses: the keyring file, or the
/// shared keyring under the rotation lease.
#[derive(Debug, Clone)]
pub struct KeyRotation {
    /// Where the keys live.
    pub source: KeySource,
    /// The keyring the server uses (replaced after a file rotation).
    pub keyring: Keyring,
    /// When to rotate and retire.
    pub schedule: RotationSchedule,
}

impl KeyRotation {
    /// One scheduled step at `now`: rotates and retires what is due, recording a
    /// `KeyringReloaded` event when something changed. Returns how many keys changed (0 when
    /// another server holds the lease).
    ///
    /// # Errors
    /// When the keyring cannot be read or written; keys given by the environment.
    pub async fn run(&self, now: Timestamp, events: &Events) -> Result<u64, KeyringError> {
        let outcome = match &self.source {
            KeySource::Env => return Ok(0),
            KeySource::Shared(shared) => {
                match shared.run_schedule(&self.schedule, now, KEY_ROTATION_LEASE).await? {
                    Some(outcome) => outcome,
                    None => return Ok(0),
                }
            }
            KeySource::File(path) => {
                // A small file, once a minute: read and written in place, like the watcher.
                let mut file = KeyringFile::load(path)?;
                let outcome = file.apply_schedule(&self.schedule, now)?;
                if outcome.changed() {
                    file.save(path)?;
                    self.keyring.replace(file.key_set()?);
                }
                outcome
            }
        };
        if !outcome.changed() {
            return Ok(0);
        }
        let primary_kid = self.keyring.current().primary().id().get();
        let retired: Vec<u32> = outcome.retired.iter().map(|k| k.get()).collect();
        tracing::info!(
            target: "sessionwarden::server",
            rotated = outcome.rotated.map(KeyId::get),
            ?retired,
            primary_kid,
            "scheduled key rotation"
        );
        events.record(now, SecurityEvent::KeyringReloaded { primary_kid });
        Ok(u64::from(outcome.rotated.is_some()) + retired.len() as u64)
    }
}

/// Loads the keyring: from `SECRET_KEY` if set, else from (or into) the keyring file.
///
/// With a Flask store (`flask_mode`), `SECRET_KEY` is first of all Flask's key, which Flask
/// lets be anything: if it is shorter than 32 bytes or too weak for a sessionwarden key (all
/// one character and the like) it keys only the Flask formats, and sessionwarden's own keys
/// (JWT, its CSRF tokens) come from the keyring file instead.
///
/// # Errors
/// When the keys are invalid (too short or weak outside Flask mode, bad file) or the file
/// cannot be created.
pub fn load(path: &Path, flask_mode: bool) -> Result<(Keyring, KeySource)> {
    use sessionwarden::keyring::KeyringError;
    match KeySet::from_env() {
        Ok(Some(set)) => return Ok((Keyring::new(set), KeySource::Env)),
        Ok(None) => {}
        Err(KeyringError::TooShort { .. }) if flask_mode => {
            tracing::warn!(
                target: "sessionwarden::server",
                "SECRET_KEY is shorter than 32 bytes: it keys the Flask formats only; \
                 sessionwarden's own keys come from the keyring file"
            );
        }
        Err(e @ KeyringError::Weak { .. }) if flask_mode => {
            tracing::warn!(
                target: "sessionwarden::server",
                error = %e,
                "it keys the Flask formats only; sessionwarden's own keys come from the keyring file"
            );
        }
        Err(e) => return Err(e).context("SECRET_KEY / SECRET_KEY_FALLBACKS"),
    }
    let file = KeyringFile::load_or_create(path, SystemClock.now())?;
    Ok((Keyring::new(file.key_set()?), KeySource::File(path.to_owned())))
}

/// Keeps `keyring` in step with the file at `path`: checks it every `poll`, and at once on
/// SIGHUP. A file that fails to load is reported and the previous keys stay in use.
pub fn spawn_watcher(
    keyring: Keyring,
    path: PathBuf,
    poll: Duration,
    events: Events,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = std::fs::read(&path).ok();
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            {
                let hangup = async {
                    match hup.as_mut() {
                        Some(h) => {
                            h.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = tick.tick() => {}
                    () = hangup => { last = None; }
                }
            }
            #[cfg(not(unix))]
            tick.tick().await;
            let Ok(bytes) = std::fs::read(&path) else { continue };
            if last.as_ref() == Some(&bytes) {
                continue;
            }
            last = Some(bytes);
            let loaded = KeyringFile::load(&path).and_then(|f| f.key_set());
            let now = SystemClock.now();
            match loaded {
                Ok(set) => {
                    let primary_kid = set.primary().id().get();
                    keyring.replace(set);
                    events.record(now, SecurityEvent::KeyringReloaded { primary_kid });
                }
                Err(e) => events.record(now, SecurityEvent::KeyringReloadFailed { reason: e.to_string() }),
            }
        }
    })
}

/// Runs a `keys` subcommand against the keys `settings` configure: the shared keyring in the
/// store with `--keyring-store`, else the keyring file at `path`.
///
/// # Errors
/// As [`run`]; as [`open`] for the shared keyring.
pub async fn run_configured(
    cmd: &KeysCommand,
    settings: &KeySettings,
    store: &StoreSettings,
    path: &Path,
    out: &mut impl std::io::Write,
) -> Result<()> {
    if !settings.keyring_store {
        return run(cmd, path, out);
    }
    if let Some(why) = crate::stores::missing_keyring_store(store.store) {
        return Err(why.into());
    }
    let now = SystemClock.now();
    let (_, source) = open(settings, store, path, false, now).await?;
    let KeySource::Shared(shared) = source else { bail!("--keyring-store did not open the shared keyring") };
    match cmd {
        KeysCommand::List { json } => {
            let entries = shared.entries().await?;
            print_entries(&entries, *json, now, out)?;
        }
        KeysCommand::Rotate => {
            let kid = shared.rotate(now).await?;
            writeln!(
                out,
                "new primary key {kid} in shared keyring {:?}; the previous primary now only verifies",
                shared.name()
            )?;
        }
        KeysCommand::Retire { kid } => {
            let kid = KeyId::parse(&kid.to_string()).context("key id")?;
            shared.retire(kid).await?;
            writeln!(out, "key {kid} retired; cookies and tokens it sealed are now rejected")?;
        }
        KeysCommand::Rewrap { new_kek_file } => {
            let new = Kek::from_file(new_kek_file)
                .with_context(|| format!("--new-kek-file {}", new_kek_file.display()))?;
            let version = shared.rewrap(&new).await?;
            writeln!(
                out,
                "shared keyring {:?} re-wrapped under key-encryption key {} (version {version}); \
                 restart every server with the new key-encryption key",
                shared.name(),
                new.id()
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_entries(
    entries: &[KeyEntry],
    json: bool,
    now: Timestamp,
    out: &mut impl std::io::Write,
) -> Result<()> {
    if json {
        let rows: Vec<_> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "kid": e.kid().get(),
                    "state": e.state().as_str(),
                    "created": e.created().unix(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
    } else {
        let rows = entries.iter().map(|e| {
            vec![e.kid().to_string(), e.state().as_str().to_owned(), crate::display::when(e.created(), now)]
        });
        writeln!(out, "{}", crate::display::table(&["KID", "STATE", "CREATED"], rows))?;
    }
    Ok(())
}

/// Runs a `keys` subcommand against the keyring file at `path`, writing to `out`.
///
/// # Errors
/// When the file cannot be read or written, or the command is refused (retiring the
/// primary, an unknown id).
pub fn run(cmd: &KeysCommand, path: &Path, out: &mut impl std::io::Write) -> Result<()> {
    let now = SystemClock.now();
    match cmd {
        KeysCommand::List { json } => {
            let file = KeyringFile::load(path)?;
            print_entries(file.entries(), *json, now, out)?;
        }
        KeysCommand::Rotate => {
            let mut file = KeyringFile::load_or_create(path, now)?;
            let kid = file.rotate(now)?;
            file.save(path)?;
            writeln!(out, "new primary key {kid}; the previous primary now only verifies")?;
        }
        KeysCommand::Retire { kid } => {
            let mut file = KeyringFile::load(path)?;
            let kid = KeyId::parse(&kid.to_string()).context("key id")?;
            file.retire(kid)?;
            file.save(path)?;
            writeln!(out, "key {kid} retired; cookies and tokens it sealed are now rejected")?;
        }
        KeysCommand::Rewrap { .. } => {
            bail!(
                "rewrap re-wraps the shared keyring's secrets: it needs --keyring-store (the keyring file has no key-encryption key)"
            )
        }
    }
    out.flush()?;
    Ok(())
}
