//! Disabling and enabling users (OWASP ASVS 7.4.2): the functions behind
//! `sessionwarden users disable|enable|list`, callable from anything holding an [`AppState`]
//! (the CLI builds one against the configured stores; an admin endpoint uses the server's).
//!
//! Disabling writes the mark in the store first (every server of a fleet refuses the user's
//! logins from then on, answering like a wrong password), then ends every session of the
//! user, then revokes their JWT refresh families and access tokens. In that order nothing
//! survives: after the mark no login succeeds, after the sessions end no session can mint a
//! token, and the last step ends the tokens minted before.

use sessionwarden::store::DisabledUser;

use crate::AppState;
use crate::stores::{Unsupported, UserRevocation};

/// Why a user could not be disabled or enabled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The configured store keeps no disabled accounts (cookie and Flask stores).
    #[error("users cannot be disabled: {0}")]
    Unsupported(Unsupported),
    /// The session store failed; run the command again (it is idempotent).
    #[error(transparent)]
    Store(#[from] sessionwarden::StoreError),
    /// The token store failed; the user is disabled and their sessions ended, but tokens may
    /// remain: run the command again.
    #[error("the token store failed: {0}")]
    Tokens(#[source] sessionwarden_jwt::JwtError),
}

/// What [`disable_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Disabled {
    /// Whether the user was enabled before.
    pub newly: bool,
    /// How many sessions were ended.
    pub sessions: u64,
}

/// Disables `user`: logins refused fleet-wide, every session and token ended.
///
/// # Errors
/// [`UsersError::Unsupported`] on a store without disabled accounts (nothing changed);
/// [`UsersError::Store`] / [`UsersError::Tokens`] when a store fails (run it again).
pub async fn disable_user(state: &AppState, user: &str) -> Result<Disabled, UsersError> {
    let locks = state.account_locks.as_ref().map_err(|why| UsersError::Unsupported(*why))?;
    let UserRevocation::Index(index) = &state.user_revocation else {
        // Every store with account locks has an index; say so rather than half-disable.
        return Err(UsersError::Unsupported(Unsupported {
            store: "configured",
            reason: "cannot end a user's sessions",
        }));
    };
    let now = state.clock.now();
    let done = sessionwarden::policy::disable_user(&**locks, &**index, user, now, &state.events).await?;
    state.tokens.revoke_user(user).await.map_err(UsersError::Tokens)?;
    Ok(Disabled { newly: done.newly, sessions: done.sessions })
}

/// Enables `user` again. Returns whether it was disabled.
///
/// # Errors
/// [`UsersError::Unsupported`]; [`UsersError::Store`].
pub async fn enable_user(state: &AppState, user: &str) -> Result<bool, UsersError> {
    let locks = state.account_locks.as_ref().map_err(|why| UsersError::Unsupported(*why))?;
    Ok(sessionwarden::policy::enable_user(&**locks, user, state.clock.now(), &state.events).await?)
}

/// The disabled users, by name.
///
/// # Errors
/// [`UsersError::Unsupported`]; [`UsersError::Store`].
pub async fn disabled_users(state: &AppState) -> Result<Vec<DisabledUser>, UsersError> {
    let locks = state.account_locks.as_ref().map_err(|why| UsersError::Unsupported(*why))?;
    Ok(locks.list_disabled().await?)
}

/// Runs a `users` subcommand with `state` (built against the configured stores), writing to
/// `out`.
///
/// # Errors
/// As the functions above, and when `out` cannot be written.
pub async fn run(
    cmd: &crate::cli::UsersCommand,
    state: &AppState,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    use crate::cli::UsersCommand;
    match cmd {
        UsersCommand::Disable { user } => {
            let done = disable_user(state, user).await?;
            let was = if done.newly { "" } else { " (it already was)" };
            writeln!(out, "disabled {user}{was}: ended {} session(s) and every token", done.sessions)?;
        }
        UsersCommand::Enable { user } => {
            if enable_user(state, user).await? {
                writeln!(out, "enabled {user}")?;
            } else {
                writeln!(out, "{user} was not disabled")?;
            }
        }
        UsersCommand::List { json } => {
            let users = disabled_users(state).await?;
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&users)?)?;
            } else {
                writeln!(out, "{:<32} SINCE", "USER")?;
                for u in &users {
                    writeln!(out, "{:<32} {}", u.user, u.since)?;
                }
            }
        }
    }
    Ok(())
}
