//! Metrics through the [`metrics`] facade: session lifecycle, rejections by reason, store
//! latency and availability, local-cache hits, key age.
//!
//! The library only *records*; the application installs a recorder (an exporter) and serves
//! it: `metrics-exporter-prometheus` for Prometheus, as the reference server does. Every name,
//! type and label is listed in `docs/metrics.md`.
//!
//! - [`MetricsSink`] is an [`EventSink`](crate::events::EventSink): it counts the
//!   [security events](crate::events) by kind and reason.
//! - [`InstrumentedStore`] wraps a [`SessionStore`](crate::SessionStore) and times every
//!   operation, per operation and backend, and keeps the store's availability gauge.
//! - [`CachedStore::with_metrics`](crate::CachedStore::with_metrics) counts local-cache hits
//!   and misses; [`MemoryStore::with_metrics`](crate::MemoryStore::with_metrics) counts
//!   sessions evicted to make room.
//!
//! # Handles are registered at construction
//!
//! Each of these registers its metrics once, when it is built, with the recorder in effect
//! then (the global one, or the one of [`metrics::with_local_recorder`]), and afterwards only
//! bumps atomics: the request path never looks a metric up by name. So build them *after*
//! installing the recorder; built before, they record nothing.
//!
//! # Labels come from fixed sets
//!
//! No label carries a user name, a session handle, an id, or anything from a request: label
//! values are the stable snake_case reason names of this crate's enums (a reason this
//! version does not know is counted as `other`), the operation names below, and the backend
//! name the application gives as a `&'static str`.
//!
//! ```
//! # extern crate sessionwarden_tower as sessionwarden;
//! use std::sync::Arc;
//! use sessionwarden::metrics::{InstrumentedStore, MetricsSink};
//! use sessionwarden::{Events, MemoryStore, SessionLayer, keyring::{KeySet, Keyring}, Timestamp};
//! use sessionwarden::events::EventSink;
//!
//! // (install the recorder first, e.g. metrics_exporter_prometheus::PrometheusBuilder)
//! let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
//! let sink = Arc::new(MetricsSink::new().with_keyring(keyring.clone(), Timestamp::from_unix(0)));
//! let events = Events::with_sinks(1024, vec![sink as Arc<dyn EventSink>]);
//! let store = InstrumentedStore::new(MemoryStore::default().with_metrics(), "memory");
//! let layer = SessionLayer::new(store, keyring).with_events(events);
//! # drop(layer);
//! # Ok::<(), sessionwarden::keyring::KeyringError>(())
//! ```

mod sink;
mod store;

pub use self::sink::{COOKIE_REASONS, CSRF_REASONS, JWT_REASONS, MetricsSink};
pub use self::store::{InstrumentedStore, OPERATIONS};

/// Sessions created (stored, or their first cookie sealed). Counter.
pub const SESSIONS_CREATED: &str = "sessionwarden_sessions_created_total";
/// Sessions given a new id (login, privilege change). Counter.
pub const SESSIONS_ROTATED: &str = "sessionwarden_sessions_rotated_total";
/// Sessions destroyed by their owner (logout). Counter.
pub const SESSIONS_DESTROYED: &str = "sessionwarden_sessions_destroyed_total";
/// Sessions presented after a deadline, label `deadline` = `idle` | `absolute`. Counter.
pub const SESSIONS_EXPIRED: &str = "sessionwarden_sessions_expired_total";
/// Sessions revoked through a [`SessionIndex`](crate::SessionIndex) (by handle or by user),
/// label `backend`. Counter.
pub const SESSIONS_REVOKED: &str = "sessionwarden_sessions_revoked_total";
/// Live sessions evicted: from a full [`MemoryStore`](crate::MemoryStore), or by the per-user
/// session cap (`evict-oldest`). Counter.
pub const SESSIONS_EVICTED: &str = "sessionwarden_sessions_evicted_total";
/// Expired records deleted (sweeper, or a full memory store making room). Counter.
pub const SESSIONS_SWEPT: &str = "sessionwarden_sessions_swept_total";
/// Sessions this process created minus those it saw end. Gauge.
pub const SESSIONS_ACTIVE: &str = "sessionwarden_sessions_active";
/// Cookies rejected, label `reason` (see [`COOKIE_REASONS`]). Counter.
pub const COOKIE_REJECTED: &str = "sessionwarden_cookie_rejected_total";
/// Cookies re-sealed under the primary key. Counter.
pub const COOKIE_RESEALED: &str = "sessionwarden_cookie_resealed_total";
/// Stored records that did not decode (and were deleted). Counter.
pub const CORRUPT_RECORDS: &str = "sessionwarden_corrupt_records_total";
/// Requests answered 503 because the store failed. Counter.
pub const STORE_UNAVAILABLE: &str = "sessionwarden_store_unavailable_total";
/// CSRF rejections, label `reason` (see [`CSRF_REASONS`]). Counter.
pub const CSRF_REJECTED: &str = "sessionwarden_csrf_rejected_total";
/// Bearer or refresh tokens refused, label `reason` (see [`JWT_REASONS`]). Counter.
pub const JWT_REJECTED: &str = "sessionwarden_jwt_rejected_total";
/// Rotated refresh tokens presented again (their family was revoked). Counter.
pub const REFRESH_TOKEN_REUSE: &str = "sessionwarden_refresh_token_reuse_total";
/// Risk rules that fired, labels `rule` ([`RiskRule::as_str`](crate::risk::RiskRule::as_str))
/// and `action` (`monitor`, `step_up`, `revoke`). Counter.
pub const RISK_DETECTED: &str = "sessionwarden_risk_detected_total";
/// Keyring reloads, label `result` = `ok` | `failed`. Counter.
pub const KEYRING_RELOADS: &str = "sessionwarden_keyring_reloads_total";
/// Age of the primary key, in seconds, when last observed. Gauge.
pub const PRIMARY_KEY_AGE: &str = "sessionwarden_primary_key_age_seconds";
/// Creation time of the primary key, Unix seconds (`time() - this` is its age). Gauge.
pub const PRIMARY_KEY_CREATED: &str = "sessionwarden_primary_key_created_timestamp_seconds";
/// Store operation latency, labels `backend`, `operation` (see [`OPERATIONS`]). Histogram.
pub const STORE_DURATION: &str = "sessionwarden_store_operation_duration_seconds";
/// Bucket bounds (seconds) suited to [`STORE_DURATION`]: from 50 µs (a memory store) to
/// 2.5 s (a store timing out). Exporters that need explicit buckets (Prometheus histograms
/// rather than summaries) can use these.
pub const STORE_DURATION_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Store operations that failed, labels `backend`, `operation`. Counter.
pub const STORE_ERRORS: &str = "sessionwarden_store_operation_errors_total";
/// Whether the store's last answer was an answer (1) or an outage (0), label `backend`. Gauge.
pub const STORE_UP: &str = "sessionwarden_store_up";
/// Local-cache lookups, label `result` = `hit` | `miss`. Counter.
pub const CACHE_LOOKUPS: &str = "sessionwarden_cache_lookups_total";

/// Registers the descriptions of every metric with the current recorder (exporters print
/// them as `# HELP`). Optional; call it once after installing the recorder.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(SESSIONS_CREATED, "Sessions created.");
    describe_counter!(SESSIONS_ROTATED, "Sessions given a new id (login, privilege change).");
    describe_counter!(SESSIONS_DESTROYED, "Sessions destroyed by their owner (logout).");
    describe_counter!(SESSIONS_EXPIRED, "Sessions presented after a deadline.");
    describe_counter!(SESSIONS_REVOKED, "Sessions revoked by handle or by user.");
    describe_counter!(SESSIONS_EVICTED, "Live sessions evicted: by a full memory store or the per-user cap.");
    describe_counter!(SESSIONS_SWEPT, "Expired session records deleted.");
    describe_gauge!(SESSIONS_ACTIVE, "Sessions created by this process minus those it saw end.");
    describe_counter!(COOKIE_REJECTED, "Session cookies rejected, by reason.");
    describe_counter!(COOKIE_RESEALED, "Cookies re-sealed under the primary key.");
    describe_counter!(CORRUPT_RECORDS, "Stored records that did not decode.");
    describe_counter!(STORE_UNAVAILABLE, "Requests answered 503 because the store failed.");
    describe_counter!(CSRF_REJECTED, "State-changing requests refused by the CSRF checks, by reason.");
    describe_counter!(JWT_REJECTED, "Bearer or refresh tokens refused, by reason.");
    describe_counter!(REFRESH_TOKEN_REUSE, "Rotated refresh tokens presented again.");
    describe_counter!(RISK_DETECTED, "Risk rules that fired, by rule and action taken.");
    describe_counter!(KEYRING_RELOADS, "Keyring reloads, by result.");
    describe_gauge!(PRIMARY_KEY_AGE, Unit::Seconds, "Age of the primary key when last observed.");
    describe_gauge!(PRIMARY_KEY_CREATED, Unit::Seconds, "Creation time of the primary key (Unix seconds).");
    describe_histogram!(STORE_DURATION, Unit::Seconds, "Store operation latency.");
    describe_counter!(STORE_ERRORS, "Store operations that failed.");
    describe_gauge!(STORE_UP, "1 if the store's last answer was an answer, 0 after an outage.");
    describe_counter!(CACHE_LOOKUPS, "Local session cache lookups, by result.");
}
