//! The keyring as the server and CLI use it: where it comes from, reloading, and the
//! `keys` commands.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use sessionwarden::keyring::{KeyId, KeySet, Keyring, KeyringFile};
use sessionwarden::{Clock as _, Events, SecurityEvent, SystemClock};

use crate::cli::KeysCommand;

/// Where the server's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// `SECRET_KEY` / `SECRET_KEY_FALLBACKS`: fixed for the life of the process.
    Env,
    /// A keyring file, reloaded when it changes.
    File(PathBuf),
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
            if *json {
                let rows: Vec<_> = file
                    .entries()
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
                let rows = file.entries().iter().map(|e| {
                    vec![
                        e.kid().to_string(),
                        e.state().as_str().to_owned(),
                        crate::display::when(e.created(), now),
                    ]
                });
                writeln!(out, "{}", crate::display::table(&["KID", "STATE", "CREATED"], rows))?;
            }
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
    }
    out.flush()?;
    Ok(())
}
