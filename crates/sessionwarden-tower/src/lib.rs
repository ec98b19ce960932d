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
//! is opt-in through a method named `insecure_*`. See `ARCHITECTURE.md` for the invariants.

// Unit tests unwrap: a failed unwrap there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used))]

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
pub mod policy;
mod session;
pub mod store;

// The core's modules under their old paths, so `crate::id::SessionId` reads as before.
pub(crate) use sessionwarden_core::{id, record, time};

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
pub use self::session::{Session, SessionTimes};
pub use self::store::{Backend, CookieStore, MemoryStore, SaveOutcome, SessionInfo, SessionStore};
#[cfg(feature = "cache")]
pub use self::store::{CachedStore, Invalidator};
pub use self::store::{ExpiredDeletion, SessionIndex};
pub use self::time::{Clock, ManualClock, SystemClock, Timestamp};
pub use sessionwarden_core::client::{ClientInfo, DeviceSummary, IpPrefix, LoginMethod};

#[doc(hidden)]
pub mod __fuzzing {
    //! Entry points for cargo-fuzz targets. Not part of the public API.
    use crate::envelope::Envelope;
    use crate::keyring::KeySet;
    use crate::time::Timestamp;

    /// Opens arbitrary bytes as a session cookie; must never panic.
    pub fn open_cookie(data: &[u8]) {
        thread_local! {
            static KEYS: KeySet = KeySet::from_secrets("fuzz-Jq3vX8mZtR2kW9pL5nB7cY4hF6dS1gA", &[]).expect("a random 36-byte key");
        }
        let Ok(text) = std::str::from_utf8(data) else { return };
        KEYS.with(|keys| {
            let _ = Envelope::open(keys, "session", text, Timestamp::from_unix(1_000_000), None);
        });
    }

    #[cfg(feature = "client")]
    /// Resolves a client address behind trusted proxies from arbitrary header lines (one per
    /// `\n`), and summarises the bytes as a `User-Agent`; must never panic. The first byte
    /// picks the header name sent, the header read and the peer.
    pub fn client_headers(data: &[u8]) {
        use crate::client::{ForwardingHeader, TrustedProxies, device_summary, resolve_client_ip};
        let Some((&selector, rest)) = data.split_first() else { return };
        let sent = if selector & 1 == 0 { "x-forwarded-for" } else { "forwarded" };
        let mut headers = http::HeaderMap::new();
        for line in rest.split(|&b| b == b'\n') {
            if let Ok(value) = http::HeaderValue::from_bytes(line) {
                headers.append(sent, value);
            }
        }
        let read =
            if selector & 2 == 0 { ForwardingHeader::XForwardedFor } else { ForwardingHeader::Forwarded };
        let trusted =
            TrustedProxies::new(["10.0.0.0/8", "2001:db8::/32"]).expect("static CIDRs").with_header(read);
        let peer = if selector & 4 == 0 {
            [10, 0, 0, 1].into()
        } else {
            std::net::IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])
        };
        let _ = resolve_client_ip(peer, &headers, &trusted);
        let _ = device_summary(rest);
    }
}
