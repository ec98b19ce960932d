//! # sessionwarden
//!
//! Secure sessions for Rust web services on tower and axum: sealed cookies, server-side
//! stores, a keyring that rotates without logging anyone out, and security events.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sessionwarden::{MemoryStore, Session, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
//!
//! async fn set(session: Session) -> Result<&'static str, sessionwarden::Error> {
//!     session.insert("user", "admin").await?;
//!     Ok("Session set!")
//! }
//!
//! async fn get_user(session: Session) -> Result<String, sessionwarden::Error> {
//!     let user: Option<String> = session.get("user").await?;
//!     Ok(format!("User: {}", user.as_deref().unwrap_or("None")))
//! }
//!
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let app: Router = Router::new()
//!     .route("/set-session", get(set))
//!     .route("/get-session", get(get_user))
//!     .layer(SessionLayer::new(MemoryStore::default(), keyring));
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```
//!
//! Defaults are the strict ones: a `__Host-session` cookie that is `Secure`, `HttpOnly`,
//! `SameSite=Lax`, `Path=/`; a 30-minute idle and 12-hour absolute timeout. Anything weaker
//! is opt-in through a method named `insecure_*`. See `ARCHITECTURE.md` for the invariants.

// Unit tests unwrap: a failed unwrap there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod codec;
pub mod config;
pub mod csrf;
pub mod envelope;
mod error;
pub mod events;
mod id;
pub mod keyring;
mod layer;
pub mod maintenance;
mod record;
mod session;
pub mod store;
mod time;

pub use self::config::{CacheControl, CookieConfig, Expiry, SameSite};
pub use self::csrf::{CsrfLayer, CsrfToken};
pub use self::error::{BoxError, Error, StoreError};
pub use self::events::{Events, SecurityEvent};
pub use self::id::{SESSION_ID_LEN, SessionHandle, SessionId, StoreKey};
pub use self::layer::{SessionLayer, SessionService};
pub use self::record::{ClientSummary, Data, Record};
pub use self::session::Session;
pub use self::store::{Backend, CookieStore, MemoryStore, SaveOutcome, SessionInfo, SessionStore};
pub use self::store::{CachedStore, Invalidator};
pub use self::time::{Clock, ManualClock, SystemClock, Timestamp};

#[doc(hidden)]
pub mod __fuzzing {
    //! Entry points for cargo-fuzz targets. Not part of the public API.
    use crate::envelope::Envelope;
    use crate::keyring::KeySet;
    use crate::time::Timestamp;

    /// Opens arbitrary bytes as a session cookie; must never panic.
    pub fn open_cookie(data: &[u8]) {
        thread_local! {
            static KEYS: KeySet = KeySet::from_secrets(&"f".repeat(32), &[]).expect("32-byte key");
        }
        let Ok(text) = std::str::from_utf8(data) else { return };
        KEYS.with(|keys| {
            let _ = Envelope::open(keys, "session", text, Timestamp::from_unix(1_000_000), None);
        });
    }
}
