//! The server-side stores through the real binary: outages answered 503 and healed within
//! 2 s, no acknowledged write lost to `kill -9`, the `sessions` CLI, and two servers sharing
//! JWT refresh tokens and revocations through Redis and Redis Cluster.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{Server, TempDir, cookie_pair, get};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `redis-server` of our own, so stopping it disturbs nobody else.
struct OwnRedis {
    child: Child,
    port: u16,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                sessionwarden_test::env::service_missing("redis-server binary", &e.to_string());
                panic!("redis-server: {e}")
            });
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(5), "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn redis_outage_answers_503_then_heals_within_2s() {
    let dir = TempDir::new();
    let mut redis = OwnRedis::start(free_port());
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let server =
        Server::start(dir.path(), &["--insecure-cookies", "--store", "redis", "--redis-url", &url], &[]);
    let r = support::client().get(server.url("/set-session?user=alice")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    assert_eq!(get(&server.url("/get-session"), Some(&cookie)).await.1, "User: alice");

    redis.kill();
    // Traffic during the outage: every answer is a 503 — never a 200 with an empty session,
    // never a 500.
    let t = Instant::now();
    let mut n = 0;
    while t.elapsed() < Duration::from_millis(1500) {
        for path in ["/get-session", "/set-session?user=mallory"] {
            let (status, body, set_cookies) = get(&server.url(path), Some(&cookie)).await;
            assert_eq!(status, 503, "{path} during the outage answered {status}: {body}");
            assert!(set_cookies.is_empty(), "no cookie may be issued during an outage");
            n += 1;
        }
    }
    assert!(n > 4);
    assert_eq!(get(&server.url("/readyz"), None).await.0, 503);
    assert_eq!(get(&server.url("/healthz"), None).await.0, 200);

    let restarted = Instant::now();
    let _redis = OwnRedis::start(redis.port);
    let healed = support::eventually(Duration::from_secs(2), || {
        let url = server.url("/get-session");
        let cookie = cookie.clone();
        async move { get(&url, Some(&cookie)).await.0 == 200 }
    })
    .await;
    assert!(healed, "service did not return within 2 s of Redis coming back");
    assert!(restarted.elapsed() < Duration::from_secs(3));
    assert_eq!(get(&server.url("/readyz"), None).await.0, 200);
    assert!(server.stderr().contains("store_unavailable"), "the outage must be recorded as an event");
}

fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-Atc", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn postgres_or_skip() -> Option<String> {
    let url = sessionwarden_test::env::postgres_url();
    let ok = Command::new("pg_isready")
        .args(["-h", "127.0.0.1", "-p", "5432"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        sessionwarden_test::env::service_missing("PostgreSQL", "pg_isready failed");
        return None;
    }
    Some(url)
}

#[tokio::test]
async fn postgres_connections_terminated_never_log_anyone_out() {
    let Some(url) = postgres_or_skip() else { return };
    let dir = TempDir::new();
    let server = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "postgres", "--database-url", &url],
        &[],
    );
    let r = support::client().get(server.url("/set-session?user=alice")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    for round in 0..3 {
        psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'sessionwarden'",
        );
        let t = Instant::now();
        let mut healed = None;
        while t.elapsed() < Duration::from_secs(3) {
            let (status, body, _) = get(&server.url("/get-session"), Some(&cookie)).await;
            match status {
                200 => {
                    assert_eq!(
                        body, "User: alice",
                        "round {round}: a broken connection must never look like no session"
                    );
                    healed.get_or_insert(t.elapsed());
                    break;
                }
                503 => {}
                other => panic!("round {round}: answered {other}: {body}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let healed = healed.unwrap_or_else(|| panic!("round {round}: not healed within 3 s"));
        assert!(healed < Duration::from_secs(2), "round {round}: healed after {healed:?}");
    }
}

/// Writers hammer the server with new sessions; it is killed with SIGKILL mid-way; after a
/// restart every session whose write was answered 2xx is there.
async fn kill_9_loses_no_acknowledged_session(args: &[&str]) {
    let dir = TempDir::new();
    let server = Server::start(dir.path(), args, &[]);
    let acked = Arc::new(parking_lot_free::Acks::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8 {
        let url = server.url("/set-session");
        let acked = acked.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let client = support::client();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let user = format!("w{w}-{i}");
                i += 1;
                match client.get(format!("{url}?user={user}")).send().await {
                    Ok(r) if r.status().is_success() => {
                        let cookie = cookie_pair(&r);
                        acked.push(cookie, user);
                    }
                    _ => break,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.signal("KILL");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.take();
    assert!(acked.len() >= 8, "too few writes acknowledged ({}) to mean anything", acked.len());
    drop(server);
    let server = Server::start(dir.path(), args, &[]);
    for (cookie, user) in &acked {
        // A restarting server may still answer 503 while its pool warms up; that is a retry,
        // never a lost session.
        let mut answer = get(&server.url("/get-session"), Some(cookie)).await;
        let t = Instant::now();
        while answer.0 == 503 && t.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            answer = get(&server.url("/get-session"), Some(cookie)).await;
        }
        let (status, body, _) = answer;
        assert_eq!(
            (status, body.as_str()),
            (200, format!("User: {user}").as_str()),
            "acknowledged write lost"
        );
    }
}

mod parking_lot_free {
    use std::sync::Mutex;

    #[derive(Default)]
    pub(crate) struct Acks(Mutex<Vec<(String, String)>>);

    impl Acks {
        pub(crate) fn push(&self, cookie: String, user: String) {
            self.0.lock().unwrap().push((cookie, user));
        }
        pub(crate) fn take(&self) -> Vec<(String, String)> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }
}

#[tokio::test]
async fn kill_9_sqlite() {
    kill_9_loses_no_acknowledged_session(&["--insecure-cookies", "--store", "sqlite"]).await;
}

#[tokio::test]
async fn kill_9_postgres() {
    let Some(url) = postgres_or_skip() else { return };
    kill_9_loses_no_acknowledged_session(&[
        "--insecure-cookies",
        "--store",
        "postgres",
        "--database-url",
        &url,
    ])
    .await;
}

#[tokio::test]
async fn sessions_cli_lists_and_revokes() {
    let dir = TempDir::new();
    let d = dir.path().to_str().unwrap().to_owned();
    let server =
        Server::start(dir.path(), &["--insecure-cookies", "--demo-user", "alice:wonderland-42"], &[]);
    let client = support::client();
    let login = |cookie: Option<String>| {
        let client = client.clone();
        let base = server.url("");
        async move {
            let mut req = client.get(format!("{base}/csrf-token"));
            if let Some(c) = &cookie {
                req = req.header("cookie", c);
            }
            let r = req.send().await.unwrap();
            let cookie = support::set_cookies(&r)
                .first()
                .map(|c| c.split(';').next().unwrap().to_owned())
                .or(cookie)
                .unwrap();
            let token =
                r.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
            let r = client
                .post(format!("{base}/login"))
                .header("cookie", &cookie)
                .header("x-csrf-token", token)
                .json(&serde_json::json!({"username": "alice", "password": "wonderland-42"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            cookie_pair(&r)
        }
    };
    let a = login(None).await;
    let b = login(None).await;
    let me = |cookie: String| {
        let url = server.url("/me");
        async move { get(&url, Some(&cookie)).await.0 }
    };
    assert_eq!(me(a.clone()).await, 200);
    let (ok, out, err) = support::cli(&["sessions", "list", "--user", "alice", "--json", "--data-dir", &d]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{out}");
    assert!(!out.contains(a.split_once('=').unwrap().1), "listing must not show cookie values");
    let handle = list[0]["handle"].as_str().unwrap().to_owned();
    let (ok, table, _) = support::cli(&["sessions", "list", "--data-dir", &d]);
    assert!(ok && table.contains("alice") && table.contains(&handle));
    let (ok, _, err) = support::cli(&["sessions", "revoke", &handle, "--data-dir", &d]);
    assert!(ok, "{err}");
    let (ok, _, err) = support::cli(&["sessions", "revoke", "not-a-handle", "--data-dir", &d]);
    assert!(!ok && err.contains("not a session handle"), "{err}");
    let statuses = [me(a.clone()).await, me(b.clone()).await];
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 1, "exactly the revoked session is gone");
    let (ok, out, _) = support::cli(&["sessions", "revoke-user", "alice", "--data-dir", &d]);
    assert!(ok && out.contains("revoked 1 session"), "{out}");
    assert_eq!(me(a).await, 401);
    assert_eq!(me(b).await, 401);
}

/// Deletes every key matching `pattern` on the nodes at `urls` (best effort: `redis-cli`).
fn redis_clean(urls: &[String], pattern: &str) {
    const DEL: &str = "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end return 1";
    for url in urls {
        let _ = Command::new("redis-cli").args(["-u", url, "EVAL", DEL, "0", pattern]).output();
    }
}

/// A login through `server`: `(cookie, csrf token)` of the logged-in session.
async fn login(server: &Server, user: &str, password: &str) -> (String, String) {
    let client = support::client();
    let r = client.get(server.url("/csrf-token")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    let token = r.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let r = client
        .post(server.url("/login"))
        .header("cookie", &cookie)
        .header("x-csrf-token", token)
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login on {}", server.base);
    let cookie = cookie_pair(&r);
    let csrf = r.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    (cookie, csrf)
}

/// `GET /token` with the session cookie: `(access, refresh)`.
async fn tokens(server: &Server, cookie: &str) -> (String, String) {
    let (status, body, _) = get(&server.url("/token"), Some(cookie)).await;
    assert_eq!(status, 200, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    (j["token"].as_str().unwrap().to_owned(), j["refresh_token"].as_str().unwrap().to_owned())
}

/// `GET /me` with only a bearer token.
async fn me(server: &Server, bearer: &str) -> u16 {
    let r = support::client().get(server.url("/me")).bearer_auth(bearer).send().await.unwrap();
    r.status().as_u16()
}

/// `POST /token/refresh`: status and the new refresh token, if any.
async fn refresh(server: &Server, refresh: &str) -> (u16, Option<String>) {
    let r = support::client()
        .post(server.url("/token/refresh"))
        .json(&serde_json::json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: serde_json::Value = r.json().await.unwrap_or_default();
    (status, body["refresh_token"].as_str().map(str::to_owned))
}

/// Polls `GET /me` on `server` until it refuses `bearer`; how long that took.
async fn refused_after(server: &Server, bearer: &str, limit: Duration) -> Duration {
    let t = Instant::now();
    loop {
        if me(server, bearer).await == 401 {
            return t.elapsed();
        }
        assert!(t.elapsed() < limit, "{} still accepts the token after {limit:?}", server.base);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Two server processes, one Redis (`url`), one keyring file: JWT revocations, refresh
/// rotations and "log out everywhere" made on one are enforced by the other within a second.
async fn jwt_fleet_shares_tokens_through_redis(url: &str, nodes: &[String]) {
    // Unique users and prefixes: reruns and the two topologies never share state.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let tag = format!("{}-{nanos}", std::process::id());
    let (user, password) = (format!("fleet-{tag}"), "correct horse battery");
    let prefix = format!("swtest:fleet:{tag}:");
    let (dir_a, dir_b, keys) = (TempDir::new(), TempDir::new(), TempDir::new());
    let keyring = keys.path().join("keyring.json");
    let demo_user = format!("{user}:{password}");
    let session_prefix = format!("{prefix}s:");
    let token_prefix = format!("{prefix}t:");
    let args = [
        "--insecure-cookies",
        "--store",
        "redis",
        "--redis-url",
        url,
        "--redis-prefix",
        &session_prefix,
        "--redis-token-prefix",
        &token_prefix,
        "--keyring",
        keyring.to_str().unwrap(),
        "--demo-user",
        &demo_user,
        "--jwt-refresh-grace",
        "0",
    ];
    let a = Server::start(dir_a.path(), &args, &[]);
    let b = Server::start(dir_b.path(), &args, &[]);
    assert!(!a.stderr().contains("process memory"), "{}", a.stderr());

    let (cookie, _) = login(&a, &user, password).await;
    let (access, r0) = tokens(&a, &cookie).await;
    assert_eq!(me(&b, &access).await, 200, "B verifies A's token (and caches: not revoked)");

    // Revoked on A: refused on B within a second, although B had just cached "not revoked".
    let r = support::client().post(a.url("/token/revoke")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let took = refused_after(&b, &access, Duration::from_millis(1500)).await;
    assert!(took < Duration::from_millis(1500), "{took:?}");
    eprintln!("fleet ({url}): a jti revoked on A was refused on B after {took:?}");

    // Rotated on A; the old token replayed on B (grace 0): a reuse, and the family dies on A.
    let (status, r1) = refresh(&a, &r0).await;
    assert_eq!(status, 200);
    let r1 = r1.unwrap();
    assert_eq!(refresh(&b, &r0).await.0, 401, "reuse of the rotated token on B");
    assert_eq!(refresh(&a, &r1).await.0, 401, "the newest token of the family is dead on A too");
    assert!(b.stderr().contains("refresh_token_reuse"), "B records the reuse");
    // The risk rule for reuse revokes by default: the family's session ends too, everywhere.
    assert_eq!(get(&a.url("/token"), Some(&cookie)).await.0, 401, "the reused family's session is gone on A");
    assert_eq!(get(&b.url("/token"), Some(&cookie)).await.0, 401, "and on B");

    // Log out everywhere on B (the session cookie works there: same Redis, same keyring); A
    // refuses tokens issued before it within a second.
    let (cookie, _) = login(&a, &user, password).await;
    let (older, _) = tokens(&a, &cookie).await;
    assert_eq!(me(&a, &older).await, 200, "A caches: not revoked");
    let client = support::client();
    let r = client.get(b.url("/csrf-token")).header("cookie", &cookie).send().await.unwrap();
    let csrf = r.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let r = client
        .post(b.url("/logout-everywhere"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let took = refused_after(&a, &older, Duration::from_millis(1500)).await;
    eprintln!("fleet ({url}): log out everywhere on B reached A after {took:?}");
    assert_eq!(get(&a.url("/me"), Some(&cookie)).await.0, 401, "the session is gone on A too");

    redis_clean(nodes, &format!("{prefix}*"));
}

fn redis_or_skip(url: &str, what: &str) -> bool {
    let ok = Command::new("redis-cli")
        .args(["-u", url, "ping"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"PONG"));
    if !ok {
        sessionwarden_test::env::service_missing(what, &format!("{url} did not answer PING"));
    }
    ok
}

#[tokio::test]
async fn jwt_fleet_on_redis() {
    let url = sessionwarden_test::env::redis_url();
    if !redis_or_skip(&url, "redis") {
        return;
    }
    jwt_fleet_shares_tokens_through_redis(&url, std::slice::from_ref(&url)).await;
}

#[tokio::test]
async fn jwt_fleet_on_redis_cluster() {
    let nodes = sessionwarden_test::env::redis_cluster_urls();
    if !redis_or_skip(&nodes[0], "redis cluster") {
        return;
    }
    jwt_fleet_shares_tokens_through_redis(&nodes.join(","), &nodes).await;
}

/// Under `--store flask-redis` (no session index) `POST /logout-everywhere` is refused with a
/// clear 501 before anything is revoked: afterwards the session, the access token and the
/// refresh token all still work. Start-up says so once in the log.
#[tokio::test]
async fn logout_everywhere_under_flask_redis_is_refused_and_revokes_nothing() {
    let url = sessionwarden_test::env::redis_url();
    if !redis_or_skip(&url, "redis") {
        return;
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("swtest:flask-logout:{}-{nanos}:", std::process::id());
    let (session_prefix, token_prefix) = (format!("{prefix}s:"), format!("{prefix}t:"));
    let dir = TempDir::new();
    let server = Server::start(
        dir.path(),
        &[
            "--insecure-cookies",
            "--store",
            "flask-redis",
            "--redis-url",
            &url,
            "--redis-prefix",
            &session_prefix,
            "--redis-token-prefix",
            &token_prefix,
            "--demo-user",
            "alice:wonderland-42",
        ],
        &[("SECRET_KEY", "a-flask-secret-key")],
    );
    let (cookie, csrf) = login(&server, "alice", "wonderland-42").await;
    let (access, refresh_token) = tokens(&server, &cookie).await;
    assert_eq!(me(&server, &access).await, 200);

    let r = support::client()
        .post(server.url("/logout-everywhere"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 501);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["error"],
        "logout-everywhere is unavailable: the flask-redis store cannot list or revoke sessions: \
         Flask-Session keeps no index of sessions by user or handle"
    );

    // Nothing was revoked: the session, the access token and the refresh token still work.
    let (status, me_body, _) = get(&server.url("/me"), Some(&cookie)).await;
    assert_eq!(status, 200, "the session survives: {me_body}");
    assert!(me_body.contains("alice"), "{me_body}");
    assert_eq!(me(&server, &access).await, 200, "the access token survives");
    let (status, rotated) = refresh(&server, &refresh_token).await;
    assert_eq!(status, 200, "the refresh token survives");
    assert!(rotated.is_some());

    let log = server.stderr();
    assert_eq!(
        log.matches("POST /logout-everywhere is unavailable").count(),
        1,
        "warned once at start-up: {log}"
    );
    redis_clean(std::slice::from_ref(&url), &format!("{prefix}*"));
}

/// The `sessions` commands under a store without a session index fail at once, non-zero,
/// with one line naming the store and the reason (before connecting to anything).
#[test]
fn sessions_cli_under_flask_redis_refuses_with_the_reason() {
    let dir = TempDir::new();
    let d = dir.path().to_str().unwrap().to_owned();
    let want = "error: the flask-redis store cannot list or revoke sessions: Flask-Session keeps no index \
                of sessions by user or handle";
    for command in [
        &["list"][..],
        &["list", "--user", "alice", "--json"],
        &["revoke", "AAAAAAAAAAAAAAAAAAAAAA"],
        &["revoke-user", "alice"],
    ] {
        // An unreachable Redis: the refusal must not depend on connecting.
        let mut args = vec!["sessions", "--store", "flask-redis", "--redis-url", "redis://127.0.0.1:1/"];
        args.extend(command);
        args.extend(["--data-dir", &d]);
        let (ok, out, err) = support::cli(&args);
        assert!(!ok, "{args:?} succeeded: {out}");
        assert!(out.is_empty(), "{args:?} printed a table or list: {out}");
        assert_eq!(err.trim_end(), want, "{args:?}");
    }
}
