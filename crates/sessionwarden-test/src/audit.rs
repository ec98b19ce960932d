//! The audit-log suite: what every [`AuditLog`] must do.
//!
//! Mount it with [`audit_conformance!`](crate::audit_conformance). Every case names its records
//! with a kind and a user unique to the run, and queries through those filters, so logs shared
//! between tests and runs (one Redis, one PostgreSQL database) need no cleanup. The purge case
//! works on records dated in 1970, which no other case writes; the other cases' records are
//! dated around [`NOW`].
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use sessionwarden_tower::store::{AuditEntry, AuditLog, AuditQuery};
use sessionwarden_tower::{SessionId, Timestamp};

use crate::conformance::NOW;
use crate::tokens::unique;

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix(NOW.unix() + offset)
}

fn by_kind(kind: &str, limit: usize) -> AuditQuery {
    let mut q = AuditQuery::newest(limit);
    q.kind = Some(kind.to_owned());
    q
}

fn times(entries: &[AuditEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.at.unix() - NOW.unix()).collect()
}

/// Records come back newest first, whole (user, handle, nested detail), and records appended
/// later within the same second come before earlier ones.
pub async fn query_is_newest_first<S: AuditLog>(log: Arc<S>) {
    let kind = unique("audit-order");
    for offset in [3, 1, 4, 0, 5, 2] {
        log.append(&AuditEntry::new(at(offset), &kind).with_detail("n", offset)).await.unwrap();
    }
    let got = log.query(&by_kind(&kind, 100)).await.unwrap();
    assert_eq!(times(&got), [5, 4, 3, 2, 1, 0]);
    for e in &got {
        assert_eq!(e.detail["n"], e.at.unix() - NOW.unix(), "each record keeps its own detail");
    }

    // Ties: two records of one second come back in reverse order of appending.
    let tie = unique("audit-tie");
    for i in 0..3 {
        log.append(&AuditEntry::new(at(10), &tie).with_detail("i", i)).await.unwrap();
    }
    let got = log.query(&by_kind(&tie, 10)).await.unwrap();
    let order: Vec<_> = got.iter().map(|e| e.detail["i"].as_i64().unwrap()).collect();
    assert_eq!(order, [2, 1, 0], "newest appended first within one second");

    // A full record round-trips unchanged.
    let whole_kind = unique("audit-whole");
    let handle = SessionId::generate().store_key().handle();
    let entry = AuditEntry::new(at(7), &whole_kind)
        .with_user(unique("user"))
        .with_handle(handle)
        .with_detail("ip", "192.0.2.1")
        .with_detail("nested", serde_json::json!({"a": [1, 2, {"b": null}], "s": "ünï \"q\" \n"}))
        .with_detail("big", i64::MAX);
    log.append(&entry).await.unwrap();
    let bare = AuditEntry::new(at(6), &whole_kind);
    log.append(&bare).await.unwrap();
    assert_eq!(log.query(&by_kind(&whole_kind, 10)).await.unwrap(), vec![entry, bare]);

    // The unfiltered listing is ordered too, whatever else the log holds.
    let all = log.query(&AuditQuery::newest(50)).await.unwrap();
    assert!(!all.is_empty() && all.len() <= 50, "{}", all.len());
    assert!(all.windows(2).all(|w| w[0].at >= w[1].at), "unfiltered query not newest first");
}

/// Every filter that is set must match: kind, user, `since` (inclusive), `until` (exclusive),
/// and `limit` keeps the newest.
pub async fn query_filters_match<S: AuditLog>(log: Arc<S>) {
    let (k1, k2) = (unique("audit-k1"), unique("audit-k2"));
    let (u1, u2) = (unique("audit-u1"), unique("audit-u2"));
    // (offset, kind, user)
    let rows: [(i64, &str, Option<&str>); 8] = [
        (0, &k1, Some(&u1)),
        (1, &k1, Some(&u2)),
        (2, &k2, Some(&u1)),
        (3, &k1, None),
        (4, &k2, Some(&u2)),
        (5, &k1, Some(&u1)),
        (6, &k2, None),
        (7, &k1, Some(&u1)),
    ];
    for (offset, kind, user) in rows {
        let mut e = AuditEntry::new(at(offset), kind);
        if let Some(u) = user {
            e = e.with_user(u);
        }
        log.append(&e).await.unwrap();
    }
    let q = |kind: Option<&str>, user: Option<&str>, since: Option<i64>, until: Option<i64>, limit: usize| {
        let mut q = AuditQuery::newest(limit);
        q.kind = kind.map(str::to_owned);
        q.user = user.map(str::to_owned);
        q.since = since.map(at);
        q.until = until.map(at);
        q
    };
    let cases: [(&str, AuditQuery, Vec<i64>); 11] = [
        ("kind", q(Some(&k1), None, None, None, 100), vec![7, 5, 3, 1, 0]),
        ("other kind", q(Some(&k2), None, None, None, 100), vec![6, 4, 2]),
        ("user", q(None, Some(&u1), None, None, 100), vec![7, 5, 2, 0]),
        ("kind and user", q(Some(&k1), Some(&u1), None, None, 100), vec![7, 5, 0]),
        ("since is inclusive", q(Some(&k1), None, Some(3), None, 100), vec![7, 5, 3]),
        ("until is exclusive", q(Some(&k1), None, None, Some(5), 100), vec![3, 1, 0]),
        ("since and until", q(Some(&k1), None, Some(1), Some(7), 100), vec![5, 3, 1]),
        ("everything", q(Some(&k2), Some(&u2), Some(4), Some(5), 100), vec![4]),
        ("limit keeps the newest", q(Some(&k1), None, None, None, 2), vec![7, 5]),
        ("limit zero is none", q(Some(&k1), None, None, None, 0), vec![]),
        ("empty window", q(Some(&k1), None, Some(5), Some(5), 100), vec![]),
    ];
    for (name, query, want) in cases {
        let got = log.query(&query).await.unwrap();
        assert_eq!(times(&got), want, "{name}");
        for e in &got {
            if let Some(k) = &query.kind {
                assert_eq!(&e.kind, k, "{name}");
            }
            if let Some(u) = &query.user {
                assert_eq!(e.user.as_ref(), Some(u), "{name}");
            }
        }
    }
    let nobody = q(None, Some(&unique("audit-nobody")), None, None, 100);
    assert!(log.query(&nobody).await.unwrap().is_empty(), "an unknown user has no records");
}

/// `purge` removes only records strictly older than its cut-off, at most `batch` per call.
pub async fn purge_removes_only_older<S: AuditLog>(log: Arc<S>) {
    // 1970: only this case dates records there. Clear what an aborted run left first.
    let cut = Timestamp::from_unix(1_005);
    while log.purge(cut, 10_000).await.unwrap() > 0 {}
    let kind = unique("audit-purge");
    for t in 1_000..1_010 {
        log.append(&AuditEntry::new(Timestamp::from_unix(t), &kind)).await.unwrap();
    }
    assert_eq!(log.purge(cut, 0).await.unwrap(), 0, "a batch of zero removes nothing");
    assert_eq!(log.purge(cut, 3).await.unwrap(), 3, "at most `batch` per call");
    assert_eq!(log.purge(cut, 100).await.unwrap(), 2, "the rest of what is older");
    assert_eq!(log.purge(cut, 100).await.unwrap(), 0, "nothing older is left");
    let left = log.query(&by_kind(&kind, 100)).await.unwrap();
    let secs: Vec<i64> = left.iter().map(|e| e.at.unix()).collect();
    assert_eq!(secs, [1_009, 1_008, 1_007, 1_006, 1_005], "the record at the cut-off is kept");
    // Records of other cases (dated around NOW) are untouched by any purge before them.
    let recent = unique("audit-recent");
    log.append(&AuditEntry::new(NOW, &recent)).await.unwrap();
    while log.purge(Timestamp::from_unix(1_010), 10_000).await.unwrap() > 0 {}
    assert_eq!(log.query(&by_kind(&recent, 10)).await.unwrap().len(), 1);
    assert!(log.query(&by_kind(&kind, 100)).await.unwrap().is_empty());
}

/// Two store instances over one backend ("two nodes") share one log.
pub async fn nodes_share_the_log<S: AuditLog>(a: Arc<S>, b: Arc<S>) {
    let kind = unique("audit-nodes");
    a.append(&AuditEntry::new(at(1), &kind).with_detail("node", "a")).await.unwrap();
    b.append(&AuditEntry::new(at(2), &kind).with_detail("node", "b")).await.unwrap();
    for log in [&a, &b] {
        let got = log.query(&by_kind(&kind, 10)).await.unwrap();
        let nodes: Vec<_> = got.iter().map(|e| e.detail["node"].as_str().unwrap().to_owned()).collect();
        assert_eq!(nodes, ["b", "a"]);
    }
}

/// Mounts every case of [`audit`](crate::audit) as a `#[tokio::test]` for the log made by
/// `$make` (a closure returning a future of the store). With `nodes: $nodes` (a closure
/// returning a future of two instances over one backend) the shared-backend case is mounted
/// too.
///
/// ```ignore
/// sessionwarden_test::audit_conformance!(audit_memory, || async { sessionwarden_tower::MemoryStore::default() });
/// ```
#[macro_export]
macro_rules! audit_conformance {
    ($name:ident, $make:expr $(, nodes: $nodes:expr)? $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__capability_cases!(audit; $make;
                query_is_newest_first,
                query_filters_match,
                purge_removes_only_older,
            );
            $($crate::__capability_cases!(@nodes audit; $nodes; nodes_share_the_log);)?
        }
    };
}
