//! The conformance suites (core, index, expired deletion) on PostgreSQL, plus what only the SQL store promises: corrupt rows
//! are reported, dumps hold no id, sweeps are bounded, and a killed connection is an outage
//! (never "no session") that heals by itself within two seconds.
//!
//! Needs PostgreSQL at `SESSIONWARDEN_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Tests share the database: each uses its own
//! random keys and users and never truncates the table.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{NOW, assert_no_id, expired_at, key, record, text_forms, user};
use sessionwarden_sql::{PostgresOptions, PostgresStore};
use sessionwarden_test::env::{postgres_url, service_missing};
use sessionwarden_tower::{ExpiredDeletion, SessionId, SessionIndex, SessionStore, StoreError, Timestamp};
use sqlx::{Connection as _, PgConnection, Row as _};

/// The conformance suite has no way to skip, so without PostgreSQL its cases fail (after
/// `service_missing` has said why); `cargo test -- --skip postgres_` leaves them out.
async fn conformance_store() -> PostgresStore {
    match PostgresStore::connect(&postgres_url()).await {
        Ok(store) => store,
        Err(e) => {
            service_missing("PostgreSQL", &e.to_string());
            panic!("PostgreSQL unavailable ({e}); run with `-- --skip postgres_` to leave these out");
        }
    }
}

sessionwarden_test::core_conformance!(postgres_core, conformance_store);
sessionwarden_test::index_conformance!(postgres_index, conformance_store);
sessionwarden_test::expired_deletion_conformance!(postgres_expired_deletion, conformance_store);

/// A store with its own application_name, or `None` (after reporting it) without PostgreSQL.
async fn store_named(name: &str) -> Option<PostgresStore> {
    let options = PostgresOptions::default().with_application_name(name);
    match PostgresStore::connect_with(&postgres_url(), options).await {
        Ok(store) => Some(store),
        Err(e) => {
            service_missing("PostgreSQL", &e.to_string());
            None
        }
    }
}

fn unique_name() -> String {
    format!("sw-test-{}", &key().to_hex()[..16])
}

async fn side_connection() -> PgConnection {
    PgConnection::connect(&postgres_url()).await.unwrap()
}

#[tokio::test]
async fn corrupt_data_loads_as_corrupt_and_still_lists() {
    let Some(store) = store_named("sw-test-corrupt").await else {
        return;
    };
    let (k, u) = (key(), user());
    store.create(&k, &record(NOW, Some(&u), &[("a", 1.into())])).await.unwrap();
    let mut side = side_connection().await;
    for garbage in [&b"\x00\xffnot json"[..], br#"{"v":2,"record":{}}"#, b""] {
        sqlx::query("UPDATE sessionwarden_sessions SET data = $1 WHERE store_key = $2")
            .bind(garbage)
            .bind(k.as_bytes().as_slice())
            .execute(&mut side)
            .await
            .unwrap();
        let got = store.load(&k, NOW).await;
        assert!(matches!(got, Err(StoreError::Corrupt { .. })), "{garbage:?} gave {got:?}");
    }
    let listed = store.list_user(&u, NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(store.revoke(&listed[0].handle).await.unwrap());
    assert!(store.load(&k, NOW).await.unwrap().is_none());
}

#[tokio::test]
async fn table_dump_holds_no_session_id() {
    let Some(store) = store_named("sw-test-dump").await else {
        return;
    };
    let u = user();
    let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate()).collect();
    for id in &ids {
        store.create(&id.store_key(), &record(NOW, Some(&u), &[("user", "admin".into())])).await.unwrap();
    }
    let mut side = side_connection().await;
    // The whole row as PostgreSQL prints it (bytea as hex), and each column as raw bytes.
    let rows = sqlx::query(
        "SELECT t::text AS whole, store_key, data, convert_to(concat_ws(' ', version, created, \
         last_seen, idle_deadline, absolute_deadline, expires_at, user_id, ip_prefix, ua_hash), \
         'UTF8') AS rest FROM sessionwarden_sessions t WHERE user_id = $1",
    )
    .bind(&u)
    .fetch_all(&mut side)
    .await
    .unwrap();
    assert_eq!(rows.len(), ids.len());
    let mut dump = String::new();
    for row in &rows {
        dump.push_str(&row.get::<String, _>("whole"));
        for column in ["store_key", "data", "rest"] {
            dump.push(' ');
            dump.push_str(&text_forms(&row.get::<Vec<u8>, _>(column)));
        }
        dump.push('\n');
    }
    for id in &ids {
        assert_no_id(id, &dump);
        assert!(dump.contains(&id.store_key().to_hex()), "the dump should hold the store key");
    }
    store.revoke_user(&u).await.unwrap();
}

#[tokio::test]
async fn sweep_is_bounded_by_batch() {
    let Some(store) = store_named("sw-test-sweep").await else {
        return;
    };
    // Other tests share the table, and their rows expire around the suite's NOW (year 2027).
    // This test's rows expired in 1970, and it sweeps at a `now` that only they precede.
    let at = Timestamp::from_unix(150);
    let sweep_now = Timestamp::from_unix(200);
    while store.delete_expired(sweep_now, 10_000).await.unwrap() > 0 {} // leftovers of an aborted run
    let u = user();
    let data = expired_at(at, Some(&u)).to_bytes().unwrap();
    let mut side = side_connection().await;
    sqlx::query(
        "INSERT INTO sessionwarden_sessions (store_key, data, version, created, last_seen, \
         idle_deadline, absolute_deadline, expires_at, user_id) \
         SELECT sha256(convert_to($1 || g::text, 'UTF8')), $2, 1, 140, 140, 150, 150, 150, $1 \
         FROM generate_series(1, 5000) AS g",
    )
    .bind(&u)
    .bind(&data)
    .execute(&mut side)
    .await
    .unwrap();
    let live = key();
    store.create(&live, &record(NOW, None, &[])).await.unwrap();

    assert_eq!(store.delete_expired(sweep_now, 1000).await.unwrap(), 1000);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sessionwarden_sessions WHERE user_id = $1")
        .bind(&u)
        .fetch_one(&mut side)
        .await
        .unwrap();
    assert_eq!(left, 4000);
    let mut removed = 1000;
    loop {
        let n = store.delete_expired(sweep_now, 1000).await.unwrap();
        assert!(n <= 1000);
        if n == 0 {
            break;
        }
        removed += n;
    }
    assert_eq!(removed, 5000);
    assert!(store.load(&live, NOW).await.unwrap().is_some(), "a live session was swept");
    store.delete(&live).await.unwrap();
}

/// Kills the store's server connections mid-life: every answer must be the truth or
/// `Unavailable` (never "no session"), and the store must work again within two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminated_connections_fail_closed_and_recover() {
    let name = unique_name();
    let Some(store) = store_named(&name).await else {
        return;
    };
    let k = key();
    store.create(&k, &record(NOW, None, &[("a", 1.into())])).await.unwrap();
    // Several pooled connections in use at once, so there is more than one to kill.
    let warm: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.load(&k, NOW).await.unwrap().is_some() })
        })
        .collect();
    for t in warm {
        assert!(t.await.unwrap());
    }
    let mut side = side_connection().await;
    for round in 0..3 {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&name)
        .fetch_all(&mut side)
        .await
        .unwrap();
        assert!(!killed.is_empty(), "round {round}: no backend of the store to terminate");
        let start = Instant::now();
        loop {
            match store.load(&k, NOW).await {
                Ok(Some(r)) => {
                    assert_eq!(r.data["a"], 1);
                    break;
                }
                Ok(None) => panic!("round {round}: a killed connection read as 'no session'"),
                Err(StoreError::Unavailable { .. }) => {}
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
            assert!(start.elapsed() < Duration::from_secs(2), "round {round}: no recovery within 2 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(start.elapsed() < Duration::from_secs(2));
        // Writes come back too.
        let mut next = store.load(&k, NOW).await.unwrap().unwrap();
        let expected = next.version;
        next.version += 1;
        assert_eq!(store.save(&k, &next, expected).await.unwrap(), sessionwarden_tower::SaveOutcome::Saved);
    }
    store.delete(&k).await.unwrap();
}

#[tokio::test]
async fn unreachable_server_fails_fast_as_unavailable() {
    // Port 1 on loopback: nothing listens, so connecting is refused at once.
    let start = Instant::now();
    let got = PostgresStore::connect("postgres://postgres@127.0.0.1:1/test").await;
    assert!(matches!(got, Err(StoreError::Unavailable { .. })), "{got:?}");
    assert!(start.elapsed() < Duration::from_secs(3), "took {:?}", start.elapsed());
}

#[tokio::test]
async fn closed_store_is_unavailable_not_empty() {
    let Some(store) = store_named("sw-test-closed").await else {
        return;
    };
    let k = key();
    store.create(&k, &record(NOW, None, &[])).await.unwrap();
    let cleanup = store.clone();
    store.close().await;
    let got = store.load(&k, NOW).await;
    assert!(matches!(got, Err(StoreError::Unavailable { operation: "load", .. })), "{got:?}");
    drop(cleanup);
    if let Some(other) = store_named("sw-test-closed").await {
        other.delete(&k).await.unwrap();
    }
}

#[tokio::test]
async fn debug_never_shows_the_password() {
    // Trust authentication ignores the password, so this connects wherever the plain URL does.
    let url = postgres_url().replacen("://postgres@", "://postgres:secret-pw@", 1);
    match PostgresStore::connect(&url).await {
        Ok(store) => {
            let dbg = format!("{store:?}");
            assert!(!dbg.contains("secret-pw"), "{dbg}");
            assert!(dbg.starts_with("PostgresStore"), "{dbg}");
        }
        Err(e) => {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("secret-pw"), "{shown}");
            service_missing("PostgreSQL", &e.to_string());
        }
    }
}
