//! Persistence in the cookie itself ([`crate::CookieStore`]): the whole record is sealed into
//! the cookie, so loading is a MAC check (no I/O) and saving is sealing a new cookie.
//!
//! There is no id and nothing server-side: [`crate::Session::cycle_id`] re-seals, and
//! [`crate::Session::destroy`] only expires the cookie (old copies stay valid until their
//! deadline; see the store's limits).

use super::state::{Live, Persisted, Phase};
use crate::envelope::MAX_COOKIE_SIZE;
use crate::error::Error;
use crate::events::{ExpiryKind, SecurityEvent};
use crate::id::{SessionHandle, StoreKey};
use crate::layer::Shared;
use crate::record::Record;
use crate::store::CookieStore;
use crate::time::Timestamp;

/// Opens the presented cookie `value` into a session, or says why there is none.
pub(super) fn load(shared: &Shared, store: &CookieStore, value: &str) -> Phase {
    let now = shared.now();
    let opened =
        store.codec().open(&shared.keyring.current(), shared.cookie.name(), value, now, &shared.seal_bound());
    let opened = match opened {
        Ok(o) => o,
        Err(reason) => return Phase::rejected(shared, reason),
    };
    let record = opened.value;
    if record.is_expired(now) {
        return expired(shared, &record, now);
    }
    let mut live = Live::new(record, Persisted::Sealed);
    live.resealed(shared, opened.resealed_from);
    Phase::Live(live)
}

/// A sealed record past its deadline: no session, and the cookie goes.
fn expired(shared: &Shared, record: &Record, now: Timestamp) -> Phase {
    let deadline = match record.absolute_deadline {
        Some(t) if t <= now => ExpiryKind::Absolute,
        _ => ExpiryKind::Idle,
    };
    shared.event(SecurityEvent::SessionExpired { deadline });
    Phase::NoSession { stale_cookie: true }
}

/// Seals the session into the cookie to send (`touch`: renew its idle deadline first).
pub(super) fn persist(
    shared: &Shared,
    store: &CookieStore,
    live: &mut Live,
    touch: bool,
) -> Result<Option<cookie::Cookie<'static>>, Error> {
    let now = shared.now();
    let record = &mut live.record;
    if touch {
        record.touch(now, &shared.expiry);
    }
    record.version += 1;
    let sealed = store.codec().seal(&shared.keyring.current(), shared.cookie.name(), record, now)?;
    if matches!(live.persisted, Persisted::New { .. }) {
        shared.event(SecurityEvent::SessionCreated { session: cookie_handle(&sealed) });
    }
    Ok(Some(shared.cookie.build(sealed, shared.max_age(record, now))))
}

/// Refuses a record that would not fit in a cookie.
///
/// # Errors
/// [`Error::CookieTooLarge`] when `name=value` would exceed [`MAX_COOKIE_SIZE`].
pub(super) fn fits(shared: &Shared, store: &CookieStore, record: &Record) -> Result<(), Error> {
    let Ok(json) = serde_json::to_vec(record) else { return Ok(()) };
    let Some(sealed) = store.codec().sealed_size(json.len()) else { return Ok(()) };
    let size = shared.cookie.name().len() + 1 + sealed;
    if size > MAX_COOKIE_SIZE {
        return Err(Error::CookieTooLarge { size, limit: MAX_COOKIE_SIZE });
    }
    Ok(())
}

/// A handle for a cookie-store session: a hash of its first sealed value.
fn cookie_handle(sealed: &str) -> SessionHandle {
    use sha2::Digest as _;
    let digest: [u8; 32] = sha2::Sha256::digest(sealed.as_bytes()).into();
    StoreKey::from_bytes(digest).handle()
}
