//! sessionwarden adapters: a sessionwarden service shares sessions with a running Flask app.
//!
//! | Flask side | adapter | plugs into |
//! | --- | --- | --- |
//! | default signed `session` cookie | [`FlaskCookieStore`] | [`sessionwarden_tower::CookieStore::with_codec`] |
//! | Flask-Session sid cookie (plain or `SESSION_USE_SIGNER`) | [`FlaskSids`] | [`sessionwarden_tower::SessionLayer::with_id_codec`] |
//! | Flask-Session 0.8 Redis records | [`FlaskRedisStore`] | [`sessionwarden_tower::SessionLayer::new`] |
//! | Flask-WTF CSRF tokens | [`FlaskWtfTokens`] | [`sessionwarden_tower::CsrfLayer::with_token_scheme`] |
//!
//! # How a Flask session becomes a sessionwarden [`Record`](sessionwarden_tower::Record)
//!
//! - `record.data` is the Flask dict in typed JSON ([`map_to_typed_json`](crate::map_to_typed_json)):
//!   plain JSON for what JSON holds, one-key markers (`{"$tuple": [..]}`, `{"$bytes": ..}`,
//!   `{"$datetime": ..}`, `{"$uuid": ..}`, `{"$markup": ..}`, …) for the rest, so a value a
//!   handler did not touch goes back to Flask with its Python type.
//! - `_permanent` is [`Record::persistent`](sessionwarden_tower::Record) (and is not in `data`).
//! - Flask-Login's `_user_id`, when it is a string, is [`Record::user`](sessionwarden_tower::Record)
//!   (and is not in `data`): a user logged in on one side is logged in on the other.
//! - Deadlines: Flask has a sliding expiry of `PERMANENT_SESSION_LIFETIME` after the last
//!   write (the cookie's signing time, or the Redis TTL) and no absolute timeout. Configure
//!   the layer's [`Expiry`](sessionwarden_tower::Expiry) with both timeouts equal to that lifetime
//!   (see [`flask_expiry`]).
//!
//! # Security notes
//!
//! - HMAC-SHA1 is used only because Flask, Flask-Session and Flask-WTF use it.
//! - **Store keys are raw sids.** sessionwarden's invariant is that a store sees only
//!   SHA-256 of the id; Flask-Session keys Redis by `SESSION_KEY_PREFIX + sid`, so
//!   [`FlaskSids::store_key`](sessionwarden_tower::codec::IdCodec::store_key) is the sid's raw
//!   32 bytes. This is the one documented exception: a dump of that Redis holds live cookies,
//!   as it does for the Flask app itself.
//! - Records are never unpickled. A pickled or unreadable record is
//!   [`StoreError::Corrupt`](sessionwarden_tower::StoreError): the layer treats it as no session,
//!   deletes it and records a `corrupt_record` security event.

mod cookie_store;
mod csrf;
mod record;
mod redis_store;
mod sids;

pub use self::cookie_store::FlaskCookieStore;
pub use self::csrf::FlaskWtfTokens;
pub use self::record::{PERMANENT_KEY, USER_KEY, flask_expiry, map_from_record, record_from_map};
pub use self::redis_store::FlaskRedisStore;
pub use self::sids::FlaskSids;
