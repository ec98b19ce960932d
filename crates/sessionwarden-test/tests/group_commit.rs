//! Group commit: concurrent writers of one session share saves, lose nothing, and survive a
//! leader whose request is cancelled mid-save.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sessionwarden_test::harness::Harness;
use sessionwarden_tower::{Backend, MemoryStore, SessionStore};

fn harness() -> Harness {
    Harness::new(Backend::from(Arc::new(MemoryStore::default()) as Arc<dyn SessionStore>))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_saves_and_lose_nothing() {
    let mut h = harness();
    h.client.get("/set").await;
    let store = h.store.clone().unwrap();
    // Slow saves keep the writers in flight together, as a remote store under load does.
    store.set_save_delay_ms(20);
    let before = store.writes();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let mut c = h.client.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.post_json("/data", &json!({ format!("k{i}"): i })).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let saves = store.writes() - before;
    store.set_save_delay_ms(0);
    let data = h.client.get("/data").await.json();
    for i in 0..40 {
        assert_eq!(data[format!("k{i}")], i, "write k{i} was lost");
    }
    // One save per writer would be 40 (plus retries); batches need far fewer.
    assert!(saves < 20, "{saves} saves for 40 concurrent writers: not batched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_leader_does_not_strand_its_waiters() {
    let mut h = harness();
    h.client.get("/set").await;
    let store = h.store.clone().unwrap();
    store.set_save_delay_ms(200);
    // The first writer leads and sits in its slow save; cancel it there.
    let mut first = h.client.clone();
    let leader = tokio::spawn(async move { first.post_json("/data", &json!({"leader": 1})).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut c = h.client.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.post_json("/data", &json!({ format!("w{i}"): i })).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    leader.abort();
    let _ = leader.await;
    store.set_save_delay_ms(5);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(10), t).await.expect("a waiter was stranded").unwrap();
    }
    store.set_save_delay_ms(0);
    let data = h.client.get("/data").await.json();
    for i in 0..10 {
        assert_eq!(data[format!("w{i}")], i, "write w{i} was lost");
    }
    assert_eq!(data["user"], "admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_every_writer_of_the_batch_closed() {
    let mut h = harness();
    h.client.get("/set").await;
    let store = h.store.clone().unwrap();
    store.set_save_delay_ms(100);
    let mut tasks = Vec::new();
    for i in 0..10 {
        let mut c = h.client.clone();
        tasks.push(tokio::spawn(
            async move { c.post_json("/data", &json!({ format!("x{i}"): i })).await.status },
        ));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    store.set_down(true);
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    store.set_down(false);
    store.set_save_delay_ms(0);
    // The leader's save was already under way and may land; every other answer is 503.
    assert!(statuses.iter().all(|&s| s == 200 || s == 503), "{statuses:?}");
    assert!(statuses.iter().filter(|&&s| s == 503).count() >= 9, "{statuses:?}");
    let data = h.client.get("/data").await.json();
    for (i, &s) in statuses.iter().enumerate() {
        if s == 503 {
            assert!(data.get(format!("x{i}")).is_none(), "a refused write x{i} was stored anyway");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_writers_never_wedge_the_session() {
    // Clients that hang up mid-request (a load generator stopping, a browser tab closing)
    // cancel writers at every point: while leading, while waiting, and between being handed
    // the lead and reading it. The session must keep accepting writes afterwards.
    let mut h = harness();
    h.client.get("/set").await;
    let store = h.store.clone().unwrap();
    store.set_save_delay_ms(3);
    for round in 0..20u64 {
        let mut tasks = Vec::new();
        for i in 0..24 {
            let mut c = h.client.clone();
            tasks.push(tokio::spawn(
                async move { c.post_json("/data", &json!({ format!("r{i}"): i })).await },
            ));
        }
        // Cancel every other writer at a spread of moments.
        for (i, t) in tasks.iter().enumerate() {
            if i % 2 == 0 {
                tokio::time::sleep(Duration::from_micros(200 * (round % 5 + 1))).await;
                t.abort();
            }
        }
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await.expect("a writer was stranded");
        }
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            h.client.post_json("/data", &json!({ "round": round })),
        )
        .await
        .expect("the session is wedged: a write after cancellations never finished");
        assert_eq!(r.status, 200);
    }
    store.set_save_delay_ms(0);
    assert_eq!(h.client.get("/data").await.json()["round"], 19);
}
