//! The admin listener of the real binary: refusals at start-up, and a revocation over HTTP
//! ending a browser's session at once, with nothing secret in the server's log.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{BIN, TempDir, client};

const TOKEN: &str = "binary-admin-token-0123456789abcdefghijklmnop";

/// Runs `serve` with `args` and waits for it to exit; (exited, success, stderr).
fn run_to_exit(dir: &std::path::Path, args: &[&str], envs: &[(&str, &str)]) -> (bool, bool, String) {
    let stderr_path = dir.join("refused.log");
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").arg("--listen").arg("127.0.0.1:0").arg("--data-dir").arg(dir).args(args);
    cmd.env_remove("SESSIONWARDEN_ADMIN_TOKEN").env_remove("SESSIONWARDEN_ADMIN_TOKEN_FILE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child =
        cmd.stdout(Stdio::null()).stderr(std::fs::File::create(&stderr_path).unwrap()).spawn().unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    (status.is_some(), status.is_some_and(|s| s.success()), stderr)
}

#[test]
fn admin_listener_refusals_at_start_up() {
    let dir = TempDir::new();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "too-short\n").unwrap();
    let token_file = token_file.to_str().unwrap();
    struct Case<'a> {
        name: &'a str,
        args: Vec<&'a str>,
        envs: Vec<(&'a str, &'a str)>,
        want: &'a str,
    }
    let case = |name, args, envs, want| Case { name, args, envs, want };
    let cases = [
        case(
            "non-loopback without a token",
            vec!["--admin-listen", "0.0.0.0:0"],
            vec![],
            "--admin-token-file",
        ),
        case(
            "short token from the environment",
            vec!["--admin-listen", "127.0.0.1:0"],
            vec![("SESSIONWARDEN_ADMIN_TOKEN", "short")],
            "at least 32",
        ),
        case(
            "short token file",
            vec!["--admin-listen", "0.0.0.0:0", "--admin-token-file", token_file],
            vec![],
            "at least 32",
        ),
        case(
            "both sources",
            vec!["--admin-listen", "127.0.0.1:0", "--admin-token-file", token_file],
            vec![("SESSIONWARDEN_ADMIN_TOKEN", TOKEN)],
            "not both",
        ),
    ];
    for Case { name, mut args, envs, want } in cases {
        args.extend(["--store", "memory"]);
        let (exited, ok, stderr) = run_to_exit(dir.path(), &args, &envs);
        assert!(exited && !ok, "{name}: the server must refuse to start; stderr: {stderr}");
        let line = stderr
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{name}: {stderr}"));
        assert!(line.contains(want), "{name}: {line}");
        assert!(!stderr.contains("too-short") && !stderr.contains(TOKEN), "{name}: the token is echoed");
    }
}

/// The server with its admin listener: (child, main base URL, admin base URL, stderr path).
struct AdminServer {
    child: Child,
    base: String,
    admin: String,
    stderr_path: std::path::PathBuf,
}

impl AdminServer {
    fn start(dir: &std::path::Path, args: &[&str]) -> Self {
        let stderr_path = dir.join("server.log");
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .env_remove("SECRET_KEY")
            .env_remove("SESSIONWARDEN_ADMIN_TOKEN_FILE")
            .env("SESSIONWARDEN_ADMIN_TOKEN", TOKEN)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = |prefix: &str| {
            let line = lines.next().unwrap().unwrap();
            line.strip_prefix(prefix)
                .unwrap_or_else(|| panic!("{line:?}: {}", std::fs::read_to_string(&stderr_path).unwrap()))
                .to_owned()
        };
        let base = next("sessionwarden listening on ");
        let admin = next("sessionwarden admin listening on ");
        Self { child, base, admin, stderr_path }
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn revocation_over_the_admin_listener_ends_the_session_at_once() {
    let dir = TempDir::new();
    let s = AdminServer::start(
        dir.path(),
        &["--insecure-cookies", "--store", "sqlite", "--demo-user", "alice:wonderland"],
    );
    let http = client();
    // Log in as a browser would.
    let r = http.get(format!("{}/csrf-token", s.base)).send().await.unwrap();
    let cookie = support::cookie_pair(&r);
    let csrf = r.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{}/login", s.base))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"username": "alice", "password": "wonderland"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = support::set_cookies(&r)
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .next()
        .unwrap_or(cookie);
    let me = |cookie: String| {
        let http = http.clone();
        let url = format!("{}/me", s.base);
        async move {
            http.get(url).header("cookie", cookie).send().await.unwrap().json::<Value>().await.unwrap()["user"].clone()
        }
    };
    assert_eq!(me(cookie.clone()).await, "alice");

    // Not on the public listener.
    assert_eq!(http.get(format!("{}/admin/api/sessions", s.base)).send().await.unwrap().status(), 404);
    // Over real HTTP: no token, a wrong one, another scheme.
    for auth in [None, Some(format!("Bearer {TOKEN}0")), Some(format!("Basic {TOKEN}"))] {
        let mut req = http.get(format!("{}/admin/api/sessions", s.admin));
        if let Some(auth) = &auth {
            req = req.header("authorization", auth);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
    let admin = |method: reqwest::Method, path: &str| {
        http.request(method, format!("{}{path}", s.admin)).bearer_auth(TOKEN).send()
    };
    let listed: Value =
        admin(reqwest::Method::GET, "/admin/api/sessions?user=alice").await.unwrap().json().await.unwrap();
    let handle = listed["sessions"][0]["handle"].as_str().unwrap().to_owned();
    let r = admin(reqwest::Method::POST, &format!("/admin/api/sessions/{handle}/revoke")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(me(cookie.clone()).await, Value::Null, "the revoked cookie stops working at once");

    // The audit record is written in the background.
    let mut found = false;
    for _ in 0..300 {
        let events: Value = admin(reqwest::Method::GET, "/admin/api/events?type=session_revoked")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if events["events"].as_array().unwrap().iter().any(|e| e["handle"] == handle.as_str()) {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found, "the revocation must reach the audit log");
    // The CLI's revocations are audited in the same store.
    let data_dir = dir.path().to_str().unwrap();
    let (ok, out, err) =
        support::cli(&["sessions", "--store", "sqlite", "--data-dir", data_dir, "revoke-user", "alice"]);
    assert!(ok, "{out}{err}");
    let events: Value = admin(reqwest::Method::GET, "/admin/api/events?type=sessions_revoked&user=alice")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["events"].as_array().unwrap().len(), 1, "{events}");
    let doc = admin(reqwest::Method::GET, "/admin/openapi.json").await.unwrap();
    assert_eq!(doc.status(), 200);

    let log = std::fs::read_to_string(&s.stderr_path).unwrap();
    assert!(log.contains("admin_auth_failed"), "refusals are logged: {log}");
    let value = cookie.split_once('=').unwrap().1;
    for secret in [TOKEN, value, csrf.as_str()] {
        assert!(!log.contains(secret), "the log holds a secret");
    }
}

/// `/metrics` is served on the admin listener only, behind the admin token, and its counters
/// follow what the public listener saw (parsed as Prometheus text).
#[tokio::test]
async fn metrics_are_scraped_from_the_admin_listener_behind_the_token() {
    let dir = TempDir::new();
    let s = AdminServer::start(dir.path(), &["--insecure-cookies", "--store", "memory"]);
    let http = client();
    let scrape = || async {
        let r = http.get(format!("{}/metrics", s.admin)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let parsed = prometheus_parse::Scrape::parse(lines).unwrap();
        let created = parsed
            .samples
            .iter()
            .find(|s| s.metric == "sessionwarden_sessions_created_total")
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => panic!("not a counter"),
            })
            .expect("the counter is exported from the start");
        (created, text)
    };
    assert_eq!(http.get(format!("{}/metrics", s.base)).send().await.unwrap().status(), 404, "not public");
    assert_eq!(http.get(format!("{}/metrics", s.admin)).send().await.unwrap().status(), 401, "token needed");
    let (before, _) = scrape().await;
    let mut cookies = Vec::new();
    for _ in 0..3 {
        let r = http.get(format!("{}/csrf-token", s.base)).send().await.unwrap();
        cookies.push(support::cookie_pair(&r));
    }
    let (after, text) = scrape().await;
    assert_eq!(after - before, 3.0, "three new sessions, three created");
    for cookie in &cookies {
        let value = cookie.split_once('=').unwrap().1;
        assert!(!text.contains(value), "no cookie value in the scrape");
    }
}
