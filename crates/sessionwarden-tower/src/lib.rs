//! # sessionwarden
//!
//! Secure sessions for Rust web services on tower and axum: sealed cookies, server-side
//! stores, a keyring that rotates without logging anyone out, and security events.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
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
//! is opt-in through a method named `insecure_*`. The invariants every part keeps are in
//! the `manual` module of the `sessionwarden` crate.

// Unit tests unwrap: a failed unwrap there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod auth;
#[cfg(feature = "client")]
pub mod client;
pub mod codec;
pub mod config;
#[cfg(feature = "csrf")]
pub mod csrf;
mod depth;
pub mod envelope;
mod error;
pub mod events;
pub mod keyring;
mod layer;
pub use sessionwarden_core::maintenance;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod policy;
pub mod risk;
mod session;
pub mod store;
#[cfg(feature = "throttle")]
pub mod throttle;

// The core's modules under their old paths, so `crate::id::SessionId` reads as before.
pub(crate) use sessionwarden_core::{id, record, time};

pub use self::auth::{CurrentUser, FlashLevel, Flashes, RequireRecentAuth, RequireUser};
#[cfg(feature = "client")]
pub use self::client::{TrustedProxies, resolve_client_ip};
pub use self::config::{CacheControl, CookieConfig, Expiry, SameSite};
#[cfg(feature = "csrf")]
pub use self::csrf::{CsrfLayer, CsrfToken};
pub use self::depth::{MAX_VALUE_DEPTH, check_value_depth};
pub use self::error::{BoxError, Error, RandomError, StoreError};
pub use self::events::{Events, SecurityEvent};
pub use self::id::{SESSION_ID_LEN, SessionHandle, SessionId, StoreKey};
pub use self::layer::{DEFAULT_MAX_SESSION_SIZE, PeerAddr, SessionLayer, SessionService};
pub use self::record::{Data, Record};
pub use self::session::account::{self, DEFAULT_REAUTH_WINDOW, OwnSession, Revoked};
pub use self::session::{Session, SessionDeadlines, SessionTimes};
pub use self::store::{Backend, CookieStore, MemoryStore, SaveOutcome, SessionInfo, SessionStore};
#[cfg(feature = "cache")]
pub use self::store::{CachedStore, Invalidator};
pub use self::store::{ExpiredDeletion, ListQuery, SessionIndex, SessionPage};
pub use self::time::{Clock, ManualClock, SystemClock, Timestamp, TimestampOutOfRange};
pub use sessionwarden_core::client::{ClientInfo, DeviceSummary, IpPrefix, LoginMethod};

#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzzing;
