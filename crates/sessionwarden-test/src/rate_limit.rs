//! The rate-limit suite: what every [`RateLimitStore`] must do.
//!
//! Mount it with [`rate_limit_conformance!`](crate::rate_limit_conformance). Every case uses
//! keys unique to the run and injects its own `now_ms`, so stores shared between tests and
//! runs need no cleanup. Decisions are compared with [`gcra_step`], the reference every
//! backend must compute exactly.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use sessionwarden_tower::store::{Rate, RateDecision, RateLimitStore, gcra_step};

use crate::conformance::NOW;
use crate::tokens::unique;

/// The suite's clock in Unix milliseconds: [`NOW`] plus a bit.
pub const NOW_MS: i64 = NOW.unix() * 1000 + 123;

fn key(what: &str) -> String {
    unique(&format!("rl-{what}"))
}

fn rate(burst: u32, interval_ms: u64) -> Rate {
    Rate { interval: Duration::from_millis(interval_ms), burst }
}

/// [`gcra_step`] over one key, as a store must behave.
#[derive(Debug, Default)]
pub struct Model {
    tat: Option<i64>,
}

impl Model {
    pub fn check(&mut self, rate: Rate, cost: u32, now_ms: i64) -> RateDecision {
        let (decision, stored) = gcra_step(self.tat, now_ms, rate, cost);
        if let Some(t) = stored {
            self.tat = Some(t);
        }
        decision
    }
}

/// Scripted sequences of `(time step in ms, cost)` under several rates: every decision,
/// `retry_after` included, equals [`gcra_step`]'s. The scripts cover the burst, refusals
/// (which count nothing), partial and full refill, peeks (cost 0), costs above one and above
/// the burst, and a clock that steps back.
pub async fn decisions_equal_gcra_step<S: RateLimitStore>(store: Arc<S>) {
    let burst_refill: Vec<(i64, u32)> = [
        vec![(0, 1); 5],                           // the burst, then refusals
        vec![(0, 0), (1, 1), (499, 1), (1, 1)],    // a peek; partial and exact refill
        vec![(0, 2), (0, 1), (2_000, 2), (0, 3)],  // costs above one
        vec![(10_000, 1), (0, 1), (0, 1), (0, 1)], // full refill after a long pause
        vec![(0, 9)],                              // above the burst: always refused
        vec![(-700, 1), (-5_000, 0), (6_000, 1)],  // a clock that steps back
        vec![(3, 0), (0, 1), (0, 0)],
    ]
    .concat();
    let rates = [rate(3, 500), rate(1, 1_000), rate(10, 1), rate(4, 60_000), rate(2, 1_234)];
    let (mut allowed, mut refused) = (0, 0);
    for r in rates {
        let k = key("script");
        let mut model = Model::default();
        let mut now = NOW_MS;
        for (i, &(step, cost)) in burst_refill.iter().enumerate() {
            now += step;
            let want = model.check(r, cost, now);
            let got = store.check(&k, r, cost, now).await.unwrap();
            assert_eq!(got, want, "rate {r:?}, event {i} (cost {cost} at +{} ms)", now - NOW_MS);
            if got.allowed {
                allowed += 1;
            } else {
                refused += 1;
            }
        }
    }
    assert!(allowed > 10 && refused > 10, "the scripts allow some and refuse some: {allowed}/{refused}");
}

/// Degenerate and enormous rates (a zero interval, a zero burst, intervals of millennia, costs
/// and bursts near `u32::MAX`) and far-off clocks still decide exactly as [`gcra_step`],
/// saturating where it saturates.
pub async fn extreme_rates_equal_gcra_step<S: RateLimitStore>(store: Arc<S>) {
    let year_ms: i64 = 365 * 24 * 3_600_000;
    let rates = [
        Rate { interval: Duration::ZERO, burst: 0 },
        Rate { interval: Duration::from_millis(1), burst: u32::MAX },
        Rate { interval: Duration::from_millis(40_000 * year_ms.unsigned_abs()), burst: 2 },
        Rate { interval: Duration::from_secs(u64::MAX), burst: 3 },
        Rate { interval: Duration::from_millis(1_000), burst: u32::MAX },
    ];
    let events: [(i64, u32); 8] =
        [(0, 1), (0, 1), (0, 0), (0, u32::MAX), (1, 1), (year_ms, 1), (0, 2), (-year_ms, 0)];
    // Clocks from NOW on: stores that purge by time (SQL) may run a purge of 1970 beside it.
    for (base, r) in [NOW_MS, i64::MAX / 4].into_iter().flat_map(|b| rates.map(|r| (b, r))) {
        let k = key("extreme");
        let mut model = Model::default();
        let mut now = base;
        for (i, &(step, cost)) in events.iter().enumerate() {
            now = now.saturating_add(step);
            let want = model.check(r, cost, now);
            let got = store.check(&k, r, cost, now).await.unwrap();
            assert_eq!(got, want, "rate {r:?} from {base}, event {i} (cost {cost})");
        }
    }
}

/// The burst is allowed at once, the next event is refused with `retry_after` one interval,
/// and one interval later exactly one more is allowed.
pub async fn burst_then_one_per_interval<S: RateLimitStore>(store: Arc<S>) {
    let r = rate(5, 1_000);
    let k = key("burst");
    for i in 0..5 {
        assert!(store.check(&k, r, 1, NOW_MS).await.unwrap().allowed, "event {i} of the burst");
    }
    let refused = store.check(&k, r, 1, NOW_MS).await.unwrap();
    assert_eq!(refused, RateDecision { allowed: false, retry_after: Duration::from_secs(1) });
    // Refusals count nothing: the wait does not grow.
    for _ in 0..10 {
        assert_eq!(
            store.check(&k, r, 1, NOW_MS + 400).await.unwrap().retry_after,
            Duration::from_millis(600)
        );
    }
    assert!(store.check(&k, r, 1, NOW_MS + 1_000).await.unwrap().allowed);
    assert!(!store.check(&k, r, 1, NOW_MS + 1_000).await.unwrap().allowed);
}

/// Cost 0 asks without counting: any number of peeks leave the whole burst available, and a
/// peek at an exhausted key says how long to wait.
pub async fn peek_counts_nothing<S: RateLimitStore>(store: Arc<S>) {
    let r = rate(3, 2_000);
    let k = key("peek");
    for _ in 0..20 {
        assert_eq!(
            store.check(&k, r, 0, NOW_MS).await.unwrap(),
            RateDecision { allowed: true, retry_after: Duration::ZERO }
        );
    }
    for i in 0..3 {
        assert!(store.check(&k, r, 1, NOW_MS).await.unwrap().allowed, "event {i} after the peeks");
    }
    let peek = store.check(&k, r, 0, NOW_MS + 500).await.unwrap();
    assert_eq!(peek, RateDecision { allowed: false, retry_after: Duration::from_millis(1_500) });
    assert!(store.check(&k, r, 0, NOW_MS + 2_000).await.unwrap().allowed);
    assert!(store.check(&k, r, 1, NOW_MS + 2_000).await.unwrap().allowed, "the peek reserved nothing");
    assert!(!store.check(&k, r, 0, NOW_MS + 2_000).await.unwrap().allowed);
}

/// Keys do not share state: exhausting one leaves another untouched.
pub async fn keys_are_isolated<S: RateLimitStore>(store: Arc<S>) {
    let r = rate(2, 60_000);
    let (a, b) = (key("iso-a"), key("iso-b"));
    for _ in 0..2 {
        assert!(store.check(&a, r, 1, NOW_MS).await.unwrap().allowed);
    }
    assert!(!store.check(&a, r, 1, NOW_MS).await.unwrap().allowed);
    for _ in 0..2 {
        assert!(store.check(&b, r, 1, NOW_MS).await.unwrap().allowed, "b is not a's");
    }
    assert!(!store.check(&b, r, 1, NOW_MS).await.unwrap().allowed);
    // Keys that differ only in case or by a prefix are different keys.
    let c = format!("{a}:x");
    assert!(store.check(&c, r, 1, NOW_MS).await.unwrap().allowed);
    assert!(store.check(&a.to_uppercase(), r, 1, NOW_MS).await.unwrap().allowed);
}

/// State runs out by itself: once the whole burst has refilled, the key behaves as new
/// (the full burst again, no more), however long the key has been idle.
pub async fn state_expires<S: RateLimitStore>(store: Arc<S>) {
    let r = rate(4, 250);
    let k = key("expiry");
    for _ in 0..4 {
        assert!(store.check(&k, r, 1, NOW_MS).await.unwrap().allowed);
    }
    assert!(!store.check(&k, r, 1, NOW_MS).await.unwrap().allowed);
    for later in [NOW_MS + 1_000, NOW_MS + 86_400_000] {
        for i in 0..4 {
            assert!(store.check(&k, r, 1, later).await.unwrap().allowed, "event {i} at {later}");
        }
        assert!(!store.check(&k, r, 1, later).await.unwrap().allowed, "no more than the burst at {later}");
    }
}

/// Many tasks checking one key at the same moment are allowed exactly the burst: each check
/// is one atomic step.
pub async fn concurrent_checks_allow_exactly_the_burst<S: RateLimitStore>(store: Arc<S>) {
    let r = rate(10, 3_600_000);
    let k = key("concurrent");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (store, k) = (store.clone(), k.clone());
            tokio::spawn(async move { store.check(&k, r, 1, NOW_MS).await.unwrap().allowed })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 10);
}

/// Two store instances over one backend ("two nodes") together allow what one allows,
/// concurrently and one interval later.
pub async fn nodes_share_the_limit<S: RateLimitStore>(a: Arc<S>, b: Arc<S>) {
    let r = rate(8, 60_000);
    let k = key("nodes");
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (node, k) = (if i % 2 == 0 { a.clone() } else { b.clone() }, k.clone());
            tokio::spawn(async move { node.check(&k, r, 1, NOW_MS).await.unwrap().allowed })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 8, "two nodes allowed more than one burst");
    let later = NOW_MS + 60_000;
    assert!(b.check(&k, r, 1, later).await.unwrap().allowed);
    assert_eq!(a.check(&k, r, 1, later).await.unwrap().retry_after, Duration::from_secs(60));
}

/// Mounts every case of [`rate_limit`](crate::rate_limit) as a `#[tokio::test]` for the store
/// made by `$make`; with `nodes: $nodes` (a closure returning a future of two instances over
/// one backend) the shared-backend case too.
///
/// ```ignore
/// sessionwarden_test::rate_limit_conformance!(rate_limit_memory, || async { sessionwarden_tower::MemoryStore::default() });
/// ```
#[macro_export]
macro_rules! rate_limit_conformance {
    ($name:ident, $make:expr $(, nodes: $nodes:expr)? $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__capability_cases!(rate_limit; $make;
                decisions_equal_gcra_step,
                extreme_rates_equal_gcra_step,
                burst_then_one_per_interval,
                peek_counts_nothing,
                keys_are_isolated,
                state_expires,
                concurrent_checks_allow_exactly_the_burst,
            );
            $($crate::__capability_cases!(@nodes rate_limit; $nodes; nodes_share_the_limit);)?
        }
    };
}
