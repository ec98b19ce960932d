//! # sessionwarden-core
//!
//! What a session store (or any other backend) implements against, without the HTTP stack:
//! session ids and the store keys derived from them, the stored [`Record`], [`Expiry`], the
//! injectable [`Clock`], [`StoreError`], the core [`SessionStore`] contract and the opt-in
//! capabilities in [`store::capability`]. Applications depend on the `sessionwarden` crate,
//! which re-exports all of this.
//!
//! ```
//! use sessionwarden_core::{SessionId, Timestamp};
//! let id = SessionId::generate();
//! // A store only ever sees the hash of the id, and operators only its handle.
//! let key = id.store_key();
//! assert!(key.handle().matches(&key));
//! assert_eq!(Timestamp::from_unix(10).unix(), 10);
//! ```

// Unit tests unwrap: a failed unwrap there is a failed test.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod client;
pub mod error;
pub mod expiry;
pub mod id;
#[cfg(feature = "maintenance")]
pub mod maintenance;
pub mod record;
pub mod store;
pub mod time;

pub use self::client::ClientInfo;
pub use self::error::{BoxError, RandomError, StoreError};
pub use self::expiry::Expiry;
pub use self::id::{SESSION_ID_LEN, SessionHandle, SessionId, StoreKey};
pub use self::record::{Data, Record};
pub use self::store::{
    AccountLocks, Admission, AuditEntry, AuditLog, AuditQuery, DisabledUser, ExpiredDeletion, KeyringStore,
    KeyringVersion, LimitPolicy, ListQuery, OnceKey, OneTimeKeys, Rate, RateDecision, RateLimitStore,
    SaveOutcome, SessionIndex, SessionInfo, SessionLimit, SessionPage, SessionStore, UserSessionCap,
    gcra_step,
};
pub use self::time::{Clock, ManualClock, SystemClock, Timestamp, TimestampOutOfRange};
