//! Session policy an operator applies to accounts: disabling a user (OWASP ASVS 7.4.2).
//!
//! The per-user session cap (ASVS 7.1.2) is configured on the layer
//! ([`crate::SessionLayer::with_session_limit`]); the functions here are what a CLI, an admin
//! API or an application calls to stop (and restore) one user's access at once. They work on
//! the store's capabilities: [`AccountLocks`] keeps the disabled mark where every node of a
//! fleet sees it, [`SessionIndex`] ends the sessions. Refresh tokens live in the JWT crate:
//! callers that issue them revoke the user's families beside this (the reference server does).

use crate::error::StoreError;
use crate::events::{Events, SecurityEvent};
use crate::store::{AccountLocks, SessionIndex};
use crate::time::Timestamp;

/// What [`disable_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Disabled {
    /// Whether the user was enabled before (`false`: it was already disabled; its sessions
    /// were ended again all the same).
    pub newly: bool,
    /// How many sessions were ended.
    pub sessions: u64,
}

/// Disables `user`: marks it disabled, then ends every session it has. Logins through a layer
/// with [`crate::SessionLayer::with_account_locks`] on the same store are refused from the
/// moment the mark is written, and a login racing this call never survives it (the login
/// checks the mark again after storing its session). Records a `user_disabled` event.
///
/// # Errors
/// [`StoreError::Unavailable`] if the store fails; the mark may then be written without the
/// sessions being ended: run it again.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sessionwarden::{Events, MemoryStore, Timestamp, policy};
/// use sessionwarden::store::AccountLocks;
/// let store = MemoryStore::default();
/// let done = policy::disable_user(&store, &store, "alice", Timestamp::from_unix(0), &Events::default()).await?;
/// assert!(done.newly);
/// assert!(store.is_disabled("alice").await?);
/// # Ok::<(), sessionwarden::StoreError>(()) }).unwrap();
/// ```
pub async fn disable_user<L, I>(
    locks: &L,
    index: &I,
    user: &str,
    now: Timestamp,
    events: &Events,
) -> Result<Disabled, StoreError>
where
    L: AccountLocks + ?Sized,
    I: SessionIndex + ?Sized,
{
    // The mark first: a login after it is refused, so the revoke below leaves nothing behind.
    let newly = locks.disable(user, now).await?;
    let sessions = index.revoke_user(user).await?;
    events.record(now, SecurityEvent::UserDisabled { user: user.to_owned(), sessions });
    Ok(Disabled { newly, sessions })
}

/// Enables `user` again: logins work as before. Returns whether it was disabled. Records a
/// `user_enabled` event when it was.
///
/// # Errors
/// [`StoreError::Unavailable`] if the store fails.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sessionwarden::{Events, MemoryStore, Timestamp, policy};
/// let store = MemoryStore::default();
/// assert!(!policy::enable_user(&store, "alice", Timestamp::from_unix(0), &Events::default()).await?);
/// # Ok::<(), sessionwarden::StoreError>(()) }).unwrap();
/// ```
pub async fn enable_user<L: AccountLocks + ?Sized>(
    locks: &L,
    user: &str,
    now: Timestamp,
    events: &Events,
) -> Result<bool, StoreError> {
    let was = locks.enable(user).await?;
    if was {
        events.record(now, SecurityEvent::UserEnabled { user: user.to_owned() });
    }
    Ok(was)
}
