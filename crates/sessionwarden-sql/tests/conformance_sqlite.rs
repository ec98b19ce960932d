//! The conformance suites (core, index, expired deletion) on SQLite (file and in-memory), plus what only the SQL store
//! promises: corrupt rows are reported, dumps hold no id, sweeps are bounded, writes survive
//! a reopen.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::sync::Arc;

use common::{NOW, assert_no_id, expired_at, fresh_dir, key, record, text_forms, user};
use sessionwarden_sql::SqliteStore;
use sessionwarden_tower::{
    ExpiredDeletion, SaveOutcome, SessionId, SessionIndex, SessionStore, StoreError, Timestamp,
};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection as _, Row as _, SqliteConnection};

sessionwarden_test::core_conformance!(sqlite_file_core, || async {
    SqliteStore::open(fresh_dir().join("sessions.db")).await.unwrap()
});
sessionwarden_test::index_conformance!(sqlite_file_index, || async {
    SqliteStore::open(fresh_dir().join("sessions.db")).await.unwrap()
});
sessionwarden_test::expired_deletion_conformance!(sqlite_file_expired_deletion, || async {
    SqliteStore::open(fresh_dir().join("sessions.db")).await.unwrap()
});

sessionwarden_test::core_conformance!(sqlite_memory_core, || async {
    SqliteStore::in_memory().await.unwrap()
});
sessionwarden_test::index_conformance!(sqlite_memory_index, || async {
    SqliteStore::in_memory().await.unwrap()
});
sessionwarden_test::expired_deletion_conformance!(sqlite_memory_expired_deletion, || async {
    SqliteStore::in_memory().await.unwrap()
});

/// A second connection to the store's file, as an operator (or an attacker with a copy of the
/// file) would have.
async fn side_connection(path: &Path) -> SqliteConnection {
    SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(path)).await.unwrap()
}

#[tokio::test]
async fn corrupt_data_loads_as_corrupt_and_still_lists() {
    let path = fresh_dir().join("sessions.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let (k, u) = (key(), user());
    store.create(&k, &record(NOW, Some(&u), &[("a", 1.into())])).await.unwrap();
    let mut side = side_connection(&path).await;
    for garbage in [&b"\x00\xffnot json"[..], br#"{"v":2,"record":{}}"#, b""] {
        sqlx::query("UPDATE sessionwarden_sessions SET data = ? WHERE store_key = ?")
            .bind(garbage)
            .bind(k.as_bytes().as_slice())
            .execute(&mut side)
            .await
            .unwrap();
        let got = store.load(&k, NOW).await;
        assert!(matches!(got, Err(StoreError::Corrupt { .. })), "{garbage:?} gave {got:?}");
    }
    // Listings read metadata only, so an operator still sees (and can revoke) the row.
    let listed = store.list_user(&u, NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(store.revoke(&listed[0].handle).await.unwrap());
    assert!(store.load(&k, NOW).await.unwrap().is_none());
}

#[tokio::test]
async fn table_dump_and_file_hold_no_session_id() {
    let path = fresh_dir().join("sessions.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let ids: Vec<SessionId> = (0..5).map(|_| SessionId::generate()).collect();
    for id in &ids {
        let mut r = record(NOW, Some("alice"), &[("user", "admin".into())]);
        r.client = Some(Default::default());
        store.create(&id.store_key(), &r).await.unwrap();
    }
    let mut side = side_connection(&path).await;
    let rows = sqlx::query("SELECT * FROM sessionwarden_sessions").fetch_all(&mut side).await.unwrap();
    assert!(rows.len() >= ids.len());
    let mut dump = String::new();
    for row in &rows {
        for i in 0..row.len() {
            // Every column, whatever its type, as bytes (SQLite hands any value over as a blob).
            let value: Option<Vec<u8>> = row.try_get_unchecked(i).unwrap();
            dump.push_str(&text_forms(&value.unwrap_or_default()));
            dump.push('\n');
        }
    }
    for id in &ids {
        assert_no_id(id, &dump);
        assert!(dump.contains(&id.store_key().to_hex()), "the dump should hold the store key");
    }
    // Nor do the raw bytes of the database file and its WAL.
    drop(side);
    for file in [path.clone(), path.with_extension("db-wal")] {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for id in &ids {
            assert!(!bytes.windows(32).any(|w| w == id.expose_bytes()), "{} holds an id", file.display());
        }
    }
}

#[tokio::test]
async fn sweep_is_bounded_by_batch() {
    let path = fresh_dir().join("sessions.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let data = expired_at(Timestamp::from_unix(NOW.unix() - 60), None).to_bytes().unwrap();
    let mut side = side_connection(&path).await;
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) \
         INSERT INTO sessionwarden_sessions (store_key, data, version, created, last_seen, \
         idle_deadline, absolute_deadline, expires_at) \
         SELECT randomblob(32), ?, 1, ?, ?, ?, ?, ? FROM n",
    )
    .bind(&data)
    .bind(NOW.unix() - 70)
    .bind(NOW.unix() - 70)
    .bind(NOW.unix() - 60)
    .bind(NOW.unix() - 60)
    .bind(NOW.unix() - 60)
    .execute(&mut side)
    .await
    .unwrap();
    let live = key();
    store.create(&live, &record(NOW, None, &[])).await.unwrap();

    assert_eq!(store.delete_expired(NOW, 1000).await.unwrap(), 1000);
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessionwarden_sessions").fetch_one(&mut side).await.unwrap();
    assert_eq!(left, 4001);
    let mut calls = 1;
    while store.delete_expired(NOW, 1000).await.unwrap() > 0 {
        calls += 1;
    }
    assert_eq!(calls, 5);
    assert!(store.load(&live, NOW).await.unwrap().is_some(), "a live session was swept");
    // The sweep's selection is driven by the expires_at index, not a scan of the table.
    let detail: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT store_key FROM sessionwarden_sessions \
         WHERE expires_at IS NOT NULL AND expires_at <= 1 ORDER BY expires_at LIMIT 10",
    )
    .fetch_all(&mut side)
    .await
    .unwrap();
    assert!(
        detail.iter().any(|(_, _, _, d)| d.contains("sessionwarden_sessions_expires_at")),
        "sweep does not use the expires_at index: {detail:?}"
    );
}

#[tokio::test]
async fn acknowledged_writes_survive_reopen() {
    let path = fresh_dir().join("sessions.db");
    let (k, gone) = (key(), key());
    {
        let store = SqliteStore::open(&path).await.unwrap();
        let r = record(NOW, Some("alice"), &[("a", 1.into())]);
        store.create(&k, &r).await.unwrap();
        let mut v2 = r.clone();
        v2.version = 2;
        v2.data.insert("b".into(), 2.into());
        assert_eq!(store.save(&k, &v2, 1).await.unwrap(), SaveOutcome::Saved);
        store.create(&gone, &r).await.unwrap();
        store.delete(&gone).await.unwrap();
        // Dropped without close(), as a crashing process would leave it.
    }
    let store = SqliteStore::open(&path).await.unwrap();
    let loaded = store.load(&k, NOW).await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.data.get("b"), Some(&2.into()));
    assert!(store.load(&gone, NOW).await.unwrap().is_none());
    // WAL is a property of the file: check it from outside.
    let mut side = side_connection(&path).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut side).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_of_one_key_have_one_winner() {
    let store = Arc::new(SqliteStore::open(fresh_dir().join("sessions.db")).await.unwrap());
    let k = key();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { store.create(&k, &record(NOW, None, &[("i", i.into())])).await.unwrap() },
            )
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        winners += usize::from(t.await.unwrap());
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn create_replaces_only_an_expired_row() {
    let store = SqliteStore::in_memory().await.unwrap();
    let k = key();
    let old = expired_at(NOW, None);
    assert!(store.create(&k, &old).await.unwrap());
    // At NOW the old row has expired: a create under the same key may take its place.
    let fresh = record(NOW, None, &[("new", true.into())]);
    assert!(store.create(&k, &fresh).await.unwrap());
    assert_eq!(store.load(&k, NOW).await.unwrap().unwrap().data["new"], true);
    assert!(!store.create(&k, &record(NOW, None, &[])).await.unwrap());
}

#[tokio::test]
async fn closed_store_is_unavailable_not_empty() {
    let store = SqliteStore::in_memory().await.unwrap();
    let k = key();
    store.create(&k, &record(NOW, None, &[])).await.unwrap();
    store.close().await;
    let got = store.load(&k, NOW).await;
    assert!(matches!(got, Err(StoreError::Unavailable { operation: "load", .. })), "{got:?}");
    assert!(matches!(store.ping().await, Err(StoreError::Unavailable { .. })));
}

#[tokio::test]
async fn open_fails_closed_on_an_unusable_path() {
    let dir = fresh_dir();
    // A directory where the database file should be.
    let got = SqliteStore::open(&dir).await;
    assert!(matches!(got, Err(StoreError::Unavailable { .. })), "{got:?}");
}

#[tokio::test]
async fn debug_names_the_file_only() {
    let path = fresh_dir().join("sessions.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let dbg = format!("{store:?}");
    assert!(dbg.starts_with("SqliteStore"), "{dbg}");
    assert!(dbg.contains("sessions.db"), "{dbg}");
}
