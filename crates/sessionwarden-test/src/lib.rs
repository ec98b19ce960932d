//! Test support for sessionwarden: the store conformance suites, one per store capability
//! ([`conformance`]), the layer suite over HTTP ([`layer_suite`]), the JWT token-store suites
//! ([`tokens`]), the login helpers over HTTP ([`login_suite`]), an HTTP test client for routers, an event recorder, and service discovery for
//! tests that need PostgreSQL or Redis.
//!
//! A store mounts exactly the suites of the traits it implements, one macro each:
//! ```ignore
//! use sessionwarden_tower::MemoryStore;
//! sessionwarden_test::core_conformance!(memory_core, || async { MemoryStore::default() });
//! sessionwarden_test::index_conformance!(memory_index, || async { MemoryStore::default() });
//! sessionwarden_test::expired_deletion_conformance!(memory_expired, || async { MemoryStore::default() });
//! ```
//!
//! Every suite is written once, inside `suite!`, which defines its case functions and emits its
//! mount macro from the same list, so a case added to a suite runs in every mount of it.
//! A store that cannot keep a case (a documented limitation of its backend) names it in
//! `known_divergences: [..]`: the case still runs there and must fail, so the list cannot go
//! stale, and a name that is not a case of the suite does not compile.
//!
//! The store capabilities beyond the core trait have suites of their own, mounted the same way:
//! [`audit_conformance!`], [`rate_limit_conformance!`], [`one_time_conformance!`],
//! [`session_policy_conformance!`] and [`keyring_store_conformance!`]. Backends
//! shared by several servers also pass `nodes: || async { (node_a, node_b) }`, two instances
//! over one backend, and get the cases that check the nodes share one state.

// A test-support crate: a failed unwrap is a failed test, which is what we want.
#![allow(clippy::unwrap_used)]

/// Defines a suite: its case functions (`pub async fn`s, each taking the subject under test),
/// a `CASES` list of their names, and its mount macro.
///
/// `mount` names the macro, `path` the module (under this crate) holding the cases, `wrap`
/// what turns the value `make` returns into the cases' argument. The leading `$` is the
/// emitted macro's own `$`.
macro_rules! suite {
    (
        $d:tt
        $(#[$mount_meta:meta])*
        mount $mount:ident;
        path $($path:ident)::+;
        wrap $wrap:path;
        $(
            $(#[$meta:meta])*
            pub async fn $case:ident($($params:tt)*) $body:block
        )*
    ) => {
        $(
            $(#[$meta])*
            pub async fn $case($($params)*) $body
        )*

        /// The names of this suite's cases, in the order they are defined.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];

        $(#[$mount_meta])*
        ///
        /// `$name` names the module of tests, `$make` is a closure returning a future of the
        /// subject. Optionally, `known_divergences: [case, ..]` lists cases the subject is
        /// known not to keep (say why at the mount): each still runs and must fail.
        #[macro_export]
        macro_rules! $mount {
            (
                $d name:ident, $d make:expr
                $d(, known_divergences: [$d($d skip:ident),* $d(,)?])?
                $d(,)?
            ) => {
                mod $d name {
                    #[allow(unused_imports)]
                    use super::*;
                    use $d crate $(::$path)+ as __suite;
                    // A name that is not a case of the suite does not compile.
                    $d($d(
                        #[allow(unused_imports)]
                        use self::__suite::$d skip as _;
                    )*)?
                    $(
                        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $case() {
                            let make = $d make;
                            let subject = $wrap(make().await);
                            let diverges: &[&str] = &[$d($d(stringify!($d skip)),*)?];
                            if diverges.contains(&stringify!($case)) {
                                let run = tokio::spawn(__suite::$case(subject)).await;
                                assert!(
                                    matches!(&run, Err(e) if e.is_panic()),
                                    "{} is listed as a known divergence here but holds: take it off the list",
                                    stringify!($case),
                                );
                            } else {
                                __suite::$case(subject).await;
                            }
                        }
                    )*
                }
            };
        }
    };
}

pub mod audit;
mod capabilities;
pub mod client;
pub mod conformance;
pub mod env;
pub mod fuzz_corpus;
pub mod harness;
pub mod keyring_store;
pub mod layer_suite;
pub mod login_suite;
pub mod mmdb;
pub mod one_time;
pub mod rate_limit;
pub mod recorder;
pub mod session_policy;
pub mod tokens;
pub mod wrappers;

pub use client::TestClient;
pub use recorder::Recorder;

#[cfg(test)]
mod tests {
    /// Every `pub async fn` of a suite's file is a case of it: a case written outside the
    /// `suite!` block would be mounted nowhere.
    #[test]
    fn every_case_function_is_inside_its_suite() {
        let suites: [(&str, &str, &[&str]); 5] = [
            ("conformance/core.rs", include_str!("conformance/core.rs"), crate::conformance::core::CASES),
            ("conformance/index.rs", include_str!("conformance/index.rs"), crate::conformance::index::CASES),
            (
                "conformance/expired_deletion.rs",
                include_str!("conformance/expired_deletion.rs"),
                crate::conformance::expired_deletion::CASES,
            ),
            ("layer_suite.rs", include_str!("layer_suite.rs"), crate::layer_suite::CASES),
            ("login_suite.rs", include_str!("login_suite.rs"), crate::login_suite::CASES),
        ];
        for (file, source, cases) in suites {
            let defined: Vec<&str> = source
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("pub async fn "))
                .filter_map(|l| l.split('(').next())
                .collect();
            assert!(!defined.is_empty(), "{file}: no cases found");
            assert_eq!(defined, cases, "{file}: a case function is outside its suite! block");
        }
    }

    /// The capability suites list their cases in their mount macros: every case function of
    /// such a file must be named in that file's macro, or no store would run it.
    #[test]
    fn every_capability_case_is_mounted() {
        let suites = [
            ("audit.rs", include_str!("audit.rs")),
            ("rate_limit.rs", include_str!("rate_limit.rs")),
            ("one_time.rs", include_str!("one_time.rs")),
            ("session_policy.rs", include_str!("session_policy.rs")),
            ("keyring_store.rs", include_str!("keyring_store.rs")),
        ];
        for (file, source) in suites {
            let (cases, mount) = source.split_once("macro_rules!").expect("a mount macro");
            let defined: Vec<&str> = cases
                .lines()
                .filter_map(|l| l.trim_start().strip_prefix("pub async fn "))
                .filter_map(|l| l.split(['(', '<']).next())
                .collect();
            assert!(!defined.is_empty(), "{file}: no cases found");
            for case in defined {
                let named = mount.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w == case);
                assert!(named, "{file}: case {case} is not mounted by the suite's macro");
            }
        }
    }
}
