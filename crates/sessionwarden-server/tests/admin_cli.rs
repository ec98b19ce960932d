//! The admin commands through the real binary: `sessions list/show/revoke-all`, `events`
//! and `keys list`, against an SQLite store the test fills directly.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use sessionwarden::store::{AuditEntry, AuditLog};
use sessionwarden::{
    Clock as _, Expiry, Record, SessionId, SessionIndex, SessionStore, SystemClock, Timestamp,
};
use sessionwarden_sql::SqliteStore;
use support::{TempDir, cli};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A fresh directory of its own: tests here run in parallel and each opens its own database.
fn workdir() -> TempDir {
    let d =
        std::env::temp_dir().join(format!("sw-admin-{}", &SessionId::generate().store_key().to_hex()[..16]));
    std::fs::create_dir_all(&d).unwrap();
    TempDir(d)
}

fn now() -> Timestamp {
    SystemClock.now()
}

fn ago(secs: i64) -> Timestamp {
    Timestamp::from_unix(now().unix() - secs)
}

async fn store(dir: &TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("sessions.db")).await.unwrap()
}

/// `n` sessions of `user`, created and last seen 3 minutes ago (idle timeout 30 min), holding
/// a data value that no listing may show.
async fn sessions(store: &SqliteStore, user: &str, n: usize) {
    let expiry = Expiry::default().with_idle_timeout(Some(Duration::from_secs(1800)));
    for _ in 0..n {
        let mut r = Record::new(ago(180), &expiry);
        r.user = Some(user.to_owned());
        r.data.insert("secret".into(), "do-not-print-me".into());
        assert!(store.create(&SessionId::generate().store_key(), &r).await.unwrap());
    }
}

/// Every row of the table in `lines` (header first) has each column start at the header's
/// offset for it: a space before, a non-space at it.
fn assert_aligned(lines: &[&str], headers: &[&str]) {
    let header = lines[0];
    let offsets: Vec<usize> =
        headers.iter().map(|h| header.find(h).unwrap_or_else(|| panic!("{h} in {header}"))).collect();
    assert!(lines.len() > 1, "a table without rows");
    for row in &lines[1..] {
        let bytes = row.as_bytes();
        for (&o, h) in offsets.iter().zip(headers) {
            assert!(
                bytes.len() > o && bytes[o] != b' ',
                "column {h} does not start at {o} in {row:?}\n{header:?}"
            );
            if o > 0 {
                assert_eq!(bytes[o - 1], b' ', "column {h} is not preceded by a space in {row:?}");
            }
        }
    }
}

/// The RFC 3339 times in `line` (each written `TIME (relative)`).
fn times(line: &str) -> Vec<OffsetDateTime> {
    line.split_whitespace().filter_map(|w| OffsetDateTime::parse(w, &Rfc3339).ok()).collect()
}

const LIST_HEADERS: [&str; 6] = ["HANDLE", "USER", "CREATED", "LAST SEEN", "EXPIRES", "CLIENT"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_list_pages_aligned_with_readable_times_and_never_truncates() {
    let dir = workdir();
    let d = dir.path().to_str().unwrap().to_owned();
    let s = store(&dir).await;
    sessions(&s, "alice", 5).await;
    sessions(&s, "bob", 2).await;

    let (ok, out, err) = cli(&["sessions", "list", "--limit", "3", "--data-dir", &d]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5, "header, 3 rows, the note: {out}");
    assert_aligned(&lines[..4], &LIST_HEADERS);
    for row in &lines[1..4] {
        assert_eq!(times(row).len(), 3, "created, last seen and expiry as RFC 3339: {row}");
        assert!(row.contains("(3 min ago)"), "relative created time: {row}");
        assert!(row.contains("(in 2"), "relative expiry (in 26/27 min): {row}");
    }
    assert!(!out.contains("do-not-print-me"), "a listing showed session data");
    let note = lines[4];
    let cursor = note.strip_prefix("more sessions: --cursor ").unwrap_or_else(|| panic!("the note: {note}"));

    // Following the cursors visits all seven, each once, and the last page says so.
    let mut seen: Vec<String> =
        lines[1..4].iter().map(|l| l.split_whitespace().next().unwrap().to_owned()).collect();
    let mut cursor = cursor.to_owned();
    loop {
        let (ok, out, err) =
            cli(&["sessions", "list", "--limit", "3", "--cursor", &cursor, "--data-dir", &d]);
        assert!(ok, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        let (rows, note) = lines[1..].split_at(lines.len() - 2);
        seen.extend(rows.iter().map(|l| l.split_whitespace().next().unwrap().to_owned()));
        match note[0].strip_prefix("more sessions: --cursor ") {
            Some(next) => cursor = next.to_owned(),
            None => {
                assert_eq!(note[0], format!("{} session(s)", rows.len()), "{out}");
                break;
            }
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7), "every session once: {seen:?}");

    let (ok, out, err) = cli(&["sessions", "list", "--limit", "3", "--json", "--data-dir", &d]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert!(err.contains("more sessions: --cursor "), "the note goes to stderr under --json: {err}");
    let (_, out, _) = cli(&["sessions", "list", "--limit", "3", "--count", "--data-dir", &d]);
    assert!(out.contains("3 shown of 7; more sessions: --cursor "), "{out}");
    let (ok, out, _) = cli(&["sessions", "list", "--user", "alice", "--json", "--data-dir", &d]);
    let alice: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(ok && alice.as_array().unwrap().iter().all(|s| s["user"] == "alice"));
    assert_eq!(alice.as_array().unwrap().len(), 5);
    let (ok, _, err) = cli(&["sessions", "list", "--cursor", "nope", "--data-dir", &d]);
    assert!(!ok && err.contains("not a session handle"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_show_prints_metadata_only() {
    let dir = workdir();
    let d = dir.path().to_str().unwrap().to_owned();
    let s = store(&dir).await;
    sessions(&s, "carol", 3).await;
    let page = s.list_page(&sessionwarden::store::ListQuery::first(3), now()).await.unwrap();
    for info in &page.sessions {
        let h = info.handle.to_string();
        let (ok, out, err) = cli(&["sessions", "show", &h, "--data-dir", &d]);
        assert!(ok, "{err}");
        assert!(out.contains(&h) && out.contains("carol"), "{out}");
        assert!(
            out.lines().any(|l| l.trim_start().starts_with("created")
                && times(l).len() == 1
                && l.contains("min ago")),
            "{out}"
        );
        assert!(!out.contains("do-not-print-me"));
        let lines: Vec<&str> = out.lines().collect();
        assert_aligned(&lines, &["FIELD", "VALUE"]);
        let (ok, out, _) = cli(&["sessions", "show", &h, "--json", "--data-dir", &d]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(ok && v["handle"] == h.as_str() && v["user"] == "carol" && v.get("data").is_none());
    }
    let (ok, _, err) = cli(&["sessions", "show", "AAAAAAAAAAAAAAAAAAAAAA", "--data-dir", &d]);
    assert!(!ok && err.contains("no live session"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_refuses_without_yes_and_empties_the_store_with_it() {
    let dir = workdir();
    let d = dir.path().to_str().unwrap().to_owned();
    let s = store(&dir).await;
    sessions(&s, "dave", 4).await;
    sessions(&s, "erin", 3).await;
    let (ok, out, err) = cli(&["sessions", "revoke-all", "--data-dir", &d]);
    assert!(!ok, "revoke-all without --yes succeeded: {out}");
    assert!(err.contains("add --yes"), "{err}");
    assert_eq!(s.count(None, now()).await.unwrap(), 7, "a refused revoke-all changed something");
    let (ok, out, err) = cli(&["sessions", "revoke-all", "--yes", "--data-dir", &d]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "revoked 7 session(s)");
    assert_eq!(s.count(None, now()).await.unwrap(), 0);
}

async fn audit(s: &SqliteStore) {
    let entries = [
        AuditEntry::new(ago(2 * 86_400), "session_revoked").with_user("bob"),
        AuditEntry::new(ago(3_600), "session_revoked").with_user("alice").with_detail("by", "admin"),
        AuditEntry::new(ago(60), "csrf_rejected").with_detail("reason", "missing token"),
    ];
    for e in &entries {
        s.append(e).await.unwrap();
    }
}

fn kinds(out: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
    v.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_filter_by_type_user_and_time() {
    let dir = workdir();
    let d = dir.path().to_str().unwrap().to_owned();
    audit(&store(&dir).await).await;
    let run = |extra: &[&str]| {
        let mut args = vec!["events", "--json", "--data-dir", &d];
        args.extend(extra);
        let (ok, out, err) = cli(&args);
        assert!(ok, "{args:?}: {err}");
        kinds(&out)
    };
    assert_eq!(run(&[]), ["csrf_rejected", "session_revoked", "session_revoked"], "newest first");
    assert_eq!(run(&["--type", "session_revoked"]).len(), 2);
    assert_eq!(run(&["--user", "alice"]), ["session_revoked"]);
    assert_eq!(run(&["--since", "2h"]), ["csrf_rejected", "session_revoked"]);
    assert_eq!(run(&["--until", "1d"]), ["session_revoked"]);
    let since = OffsetDateTime::from_unix_timestamp(ago(7_200).unix()).unwrap().format(&Rfc3339).unwrap();
    assert_eq!(run(&["--since", &since]).len(), 2, "--since takes RFC 3339");
    assert_eq!(run(&["--limit", "1"]), ["csrf_rejected"]);

    let (ok, out, err) = cli(&["events", "--data-dir", &d]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.last(), Some(&"3 record(s)"));
    assert_aligned(&lines[..lines.len() - 1], &["AT", "TYPE", "USER", "SESSION", "DETAIL"]);
    assert!(lines[1].contains("(1 min ago)") && times(lines[1]).len() == 1, "{}", lines[1]);
    let (ok, _, err) = cli(&["events", "--since", "yesterday", "--data-dir", &d]);
    assert!(!ok && err.contains("--since"), "{err}");
}

/// `events --follow` prints what is there, then new records as they come, and ends cleanly
/// on Ctrl-C (SIGINT).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_follow_prints_new_records_and_stops_on_ctrl_c() {
    let dir = workdir();
    let d = dir.path().to_str().unwrap().to_owned();
    let s = store(&dir).await;
    audit(&s).await;
    let mut child = Command::new(support::BIN)
        .args(["events", "--follow", "--json", "--poll", "100ms", "--data-dir", &d])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        let line = rx.recv_timeout(Duration::from_secs(20)).expect("a line from events --follow");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["kind"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        [next(), next(), next()],
        ["session_revoked", "session_revoked", "csrf_rejected"],
        "oldest first"
    );
    s.append(&AuditEntry::new(now(), "session_created").with_user("frank")).await.unwrap();
    assert_eq!(next(), "session_created");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "Ctrl-C ends --follow cleanly: {status:?}");
    assert!(rx.try_recv().is_err(), "a record printed twice");
}

#[test]
fn events_under_a_store_without_audit_log_refuses_with_one_line() {
    let dir = workdir();
    let d = dir.path().to_str().unwrap().to_owned();
    for store in ["flask-redis", "cookie"] {
        let (ok, out, err) =
            cli(&["events", "--store", store, "--redis-url", "redis://127.0.0.1:1/", "--data-dir", &d]);
        assert!(!ok && out.is_empty(), "{store}: {out}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("error: the {store} store ")) && err.contains("audit log"), "{err}");
    }
}

#[test]
fn keys_list_is_aligned_with_readable_times() {
    let dir = workdir();
    let keyring = dir.path().join("keyring.json");
    let k = keyring.to_str().unwrap();
    assert!(cli(&["keys", "rotate", "--keyring", k]).0);
    assert!(cli(&["keys", "rotate", "--keyring", k]).0);
    let (ok, out, err) = cli(&["keys", "list", "--keyring", k]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_aligned(&lines, &["KID", "STATE", "CREATED"]);
    for row in &lines[1..] {
        assert_eq!(times(row).len(), 1, "{row}");
        assert!(row.contains("(just now)") || row.contains(" s ago)"), "{row}");
    }
}
