//! What the capability suites ([`audit`](crate::audit), [`rate_limit`](crate::rate_limit),
//! [`one_time`](crate::one_time)) share: the macro that turns their case lists into tests.

/// Mounts cases of suite module `$suite` as `#[tokio::test]`s. One-store cases get the store
/// `$make` builds; `@nodes` cases get the two instances over one backend `$nodes` builds.
/// Used by the suites' own mount macros; not meant to be called directly.
#[doc(hidden)]
#[macro_export]
macro_rules! __capability_cases {
    ($suite:ident; $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let make = $make;
                let store = make().await;
                $crate::$suite::$case(std::sync::Arc::new(store)).await;
            }
        )*
    };
    (@nodes $suite:ident; $nodes:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let nodes = $nodes;
                let (a, b) = nodes().await;
                $crate::$suite::$case(std::sync::Arc::new(a), std::sync::Arc::new(b)).await;
            }
        )*
    };
}
