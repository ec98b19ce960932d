//! Test support for sessionwarden: the store conformance suite every server-side store
//! mounts, the JWT token-store suites ([`tokens`]), an HTTP test client for routers, an event
//! recorder, and service discovery for tests that need PostgreSQL or Redis.
//!
//! Mount the suite for a store with one macro:
//! ```ignore
//! sessionwarden_test::store_conformance!(memory, || async { sessionwarden::MemoryStore::default() });
//! ```
//!
//! The store capabilities beyond the core trait have suites of their own, mounted the same way:
//! [`audit_conformance!`], [`rate_limit_conformance!`] and [`one_time_conformance!`]. Backends
//! shared by several servers also pass `nodes: || async { (node_a, node_b) }`, two instances
//! over one backend, and get the cases that check the nodes share one state.

// A test-support crate: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used)]

pub mod audit;
mod capabilities;
pub mod client;
pub mod conformance;
pub mod env;
pub mod harness;
pub mod layer_suite;
pub mod one_time;
pub mod rate_limit;
pub mod recorder;
pub mod tokens;
pub mod wrappers;

pub use client::TestClient;
pub use recorder::Recorder;

/// Mounts every case of [`conformance`] as a `#[tokio::test]` for the store made by `$make`
/// (an expression: a closure returning a future of the store).
#[macro_export]
macro_rules! store_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance!(@cases $make;
                create_then_load,
                create_never_overwrites,
                load_missing_is_none,
                save_is_versioned,
                save_of_missing_record_does_not_resurrect,
                delete_removes,
                cycle_moves_atomically,
                cycle_refuses_missing_or_taken,
                expired_never_loads,
                list_and_revoke_by_handle,
                revoke_user_is_complete,
                revoke_user_races_with_logins,
                concurrent_writers_lose_nothing,
                sweep_removes_expired_only,
                ping_answers,
                stored_bytes_hold_no_session_id,
            );
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let make = $make;
                let store = make().await;
                $crate::conformance::$case(std::sync::Arc::new(store)).await;
            }
        )*
    };
}
