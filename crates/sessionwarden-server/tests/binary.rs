//! The real binary, end to end: the README's transcript, cookie flags, the keys CLI and
//! reloads without restart, JSON logs, graceful shutdown.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Duration;

use support::{Server, TempDir, cli, cookie_pair, get};

#[tokio::test]
async fn set_then_get_over_real_http() {
    let dir = TempDir::new();
    let server = Server::start(dir.path(), &["--insecure-cookies", "--store", "memory"], &[]);
    let (status, body, _) = get(&server.url("/get-session"), None).await;
    assert_eq!((status, body.as_str()), (200, "User: None"));
    let r = support::client().get(server.url("/set-session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = cookie_pair(&r);
    let sc = &support::set_cookies(&r)[0];
    assert!(sc.starts_with("session=s1."), "{sc}");
    assert!(!sc.contains("Secure"), "--insecure-cookies drops Secure: {sc}");
    assert_eq!(r.text().await.unwrap(), "Session set!");
    let (_, body, _) = get(&server.url("/get-session"), Some(&cookie)).await;
    assert_eq!(body, "User: admin");
    let (_, body, _) = get(&server.url("/set-session?user=bob"), Some(&cookie)).await;
    assert_eq!(body, "Session set!");
    assert_eq!(get(&server.url("/get-session"), Some(&cookie)).await.1, "User: bob");
    // The keyring was created on first run, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("keyring.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Health.
    assert_eq!(get(&server.url("/healthz"), None).await.0, 200);
    assert_eq!(get(&server.url("/readyz"), None).await.0, 200);
}

#[tokio::test]
async fn secure_defaults_on_the_binary() {
    let dir = TempDir::new();
    for store in ["memory", "cookie"] {
        let server = Server::start(dir.path(), &["--store", store], &[]);
        let r = support::client().get(server.url("/set-session")).send().await.unwrap();
        let sc = support::set_cookies(&r)[0].clone();
        assert!(sc.starts_with("__Host-session=s1."), "{store}: {sc}");
        for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(sc.split("; ").any(|a| a == attr), "{store}: {attr} missing in {sc}");
        }
        assert!(!sc.contains("Domain"), "{sc}");
        assert_eq!(r.headers()["vary"], "Cookie");
        // The response sets the session cookie: no cache may keep it.
        assert_eq!(r.headers()["cache-control"], "no-store");
    }
}

#[tokio::test]
async fn bad_cookies_never_cause_an_error_status() {
    let dir = TempDir::new();
    let server = Server::start(dir.path(), &["--insecure-cookies"], &[]);
    let r = support::client().get(server.url("/set-session")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    let value = cookie.split_once('=').unwrap().1.to_owned();
    let cases = [
        format!("session={}", &value[..value.len() - 3]),
        format!("session={}x", value),
        "session=%00%ff".to_owned(),
        format!("session={}", "A".repeat(5000)),
        format!("session={value}; session={value}"),
        "session=s1.4294967295.99999999999.AAAA.AAAA".to_owned(),
        "session=e1.1.1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
    ];
    for c in &cases {
        let (status, body, _) = get(&server.url("/get-session"), Some(c)).await;
        assert_eq!((status, body.as_str()), (200, "User: None"), "cookie {:.60}", c);
    }
    // Events were logged, without the cookie value.
    let log = server.stderr();
    assert!(log.contains("cookie_rejected"), "{log}");
    assert!(!log.contains(&value), "a cookie value reached the log");
}

#[tokio::test]
async fn keys_cli_rotation_and_retirement_reach_the_running_server() {
    let dir = TempDir::new();
    let keyring = dir.path().join("keyring.json");
    let keyring_s = keyring.to_str().unwrap();
    let server = Server::start(dir.path(), &["--insecure-cookies", "--keyring", keyring_s], &[]);
    let r = support::client().get(server.url("/set-session?user=alice")).send().await.unwrap();
    let old = cookie_pair(&r);
    assert!(old.starts_with("session=s1.1."), "{old}");

    let (ok, out, err) = cli(&["keys", "rotate", "--keyring", keyring_s]);
    assert!(ok, "{err}");
    assert!(out.contains("new primary key 2"), "{out}");
    let (ok, out, _) = cli(&["keys", "list", "--json", "--keyring", keyring_s]);
    assert!(ok);
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["kid"], 1);
    assert_eq!(rows[0]["state"], "verify");
    assert_eq!(rows[1]["state"], "primary");
    assert!(rows[0].get("secret").is_none());
    let secret_file = std::fs::read_to_string(&keyring).unwrap();
    let file: serde_json::Value = serde_json::from_str(&secret_file).unwrap();
    let secret = file["keys"][1]["secret"].as_str().unwrap().to_owned();
    assert!(!out.contains(&secret), "keys list printed key material");
    let (_, table, _) = cli(&["keys", "list", "--keyring", keyring_s]);
    assert!(table.contains("primary") && !table.contains(&secret));

    // Within 5 s, without restart: the old cookie still loads and is re-sealed under key 2.
    let resealed = support::eventually(Duration::from_secs(5), || {
        let url = server.url("/get-session");
        let old = old.clone();
        async move {
            let (_, body, sc) = get(&url, Some(&old)).await;
            body == "User: alice" && sc.first().is_some_and(|c| c.starts_with("session=s1.2."))
        }
    })
    .await;
    assert!(resealed, "the server did not pick up the rotated keyring within 5 s");
    let r = support::client().get(server.url("/set-session?user=new")).send().await.unwrap();
    assert!(cookie_pair(&r).starts_with("session=s1.2."));

    let (ok, _, err) = cli(&["keys", "retire", "2", "--keyring", keyring_s]);
    assert!(!ok && err.contains("primary"), "retiring the primary must be refused: {err}");
    let (ok, _, err) = cli(&["keys", "retire", "1", "--keyring", keyring_s]);
    assert!(ok, "{err}");
    let rejected = support::eventually(Duration::from_secs(5), || {
        let url = server.url("/get-session");
        let old = old.clone();
        async move { get(&url, Some(&old)).await.1 == "User: None" }
    })
    .await;
    assert!(rejected, "a retired key must stop verifying within 5 s");
}

#[tokio::test]
async fn sighup_reloads_at_once() {
    let dir = TempDir::new();
    let keyring = dir.path().join("keyring.json");
    let keyring_s = keyring.to_str().unwrap();
    // Poll only every 10 minutes: only SIGHUP can explain a quick reload.
    let server = Server::start(dir.path(), &["--insecure-cookies", "--keyring-poll-ms", "600000"], &[]);
    let r = support::client().get(server.url("/set-session")).send().await.unwrap();
    let old = cookie_pair(&r);
    assert!(cli(&["keys", "rotate", "--keyring", keyring_s]).0);
    assert!(cli(&["keys", "retire", "1", "--keyring", keyring_s]).0);
    server.signal("HUP");
    let reloaded = support::eventually(Duration::from_secs(2), || {
        let url = server.url("/get-session");
        let old = old.clone();
        async move { get(&url, Some(&old)).await.1 == "User: None" }
    })
    .await;
    assert!(reloaded, "SIGHUP did not reload the keyring");
}

#[tokio::test]
async fn env_secret_key_replaces_the_file() {
    let dir = TempDir::new();
    let short = Server::try_start_fails(dir.path(), &[("SECRET_KEY", "too-short")]);
    assert!(short.contains("at least 32 bytes"), "{short}");
    let secret = "vK7qP2xN9mR4tW8zL3cF6hJ1bD5gS0aE-yU";
    let a =
        Server::start(dir.path(), &["--insecure-cookies", "--store", "cookie"], &[("SECRET_KEY", secret)]);
    let r = support::client().get(a.url("/set-session?user=shared")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    assert!(!dir.path().join("keyring.json").exists(), "no keyring file when SECRET_KEY is set");
    // A second server with the same secret (a fleet) reads the cookie.
    let b =
        Server::start(dir.path(), &["--insecure-cookies", "--store", "cookie"], &[("SECRET_KEY", secret)]);
    assert_eq!(get(&b.url("/get-session"), Some(&cookie)).await.1, "User: shared");
    // After a rotation with the old secret as a fallback, it still does.
    let new = "Qm5rT8wY2kX7nB4vC9zH3jL6pF1sD0gA_eR";
    let c = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "cookie"],
        &[("SECRET_KEY", new), ("SECRET_KEY_FALLBACKS", secret)],
    );
    assert_eq!(get(&c.url("/get-session"), Some(&cookie)).await.1, "User: shared");
}

/// Long enough is not enough: a key of one repeated character (or a few) is refused from every
/// source, and the error says which one.
#[tokio::test]
async fn weak_keys_are_refused_naming_their_source() {
    let good = "vK7qP2xN9mR4tW8zL3cF6hJ1bD5gS0aE-yU";
    let zeros = "0".repeat(32);
    let pattern = "abab".repeat(10);
    let weak_second = format!("{good}x,{pattern}");
    type Envs<'a> = Vec<(&'a str, &'a str)>;
    let env_cases: [(&str, Envs<'_>, &str); 3] = [
        (
            "SECRET_KEY of 32 zeros",
            vec![("SECRET_KEY", zeros.as_str())],
            "key SECRET_KEY is not random enough",
        ),
        (
            "weak second fallback",
            vec![("SECRET_KEY", good), ("SECRET_KEY_FALLBACKS", weak_second.as_str())],
            "key SECRET_KEY_FALLBACKS[1] is not random enough",
        ),
        (
            "weak first fallback",
            vec![("SECRET_KEY", good), ("SECRET_KEY_FALLBACKS", zeros.as_str())],
            "key SECRET_KEY_FALLBACKS[0] is not random enough",
        ),
    ];
    for (name, envs, want) in env_cases {
        let dir = TempDir::new();
        let err = Server::try_start_fails(dir.path(), &envs);
        assert!(err.contains(want), "{name}: {err}");
    }
    // A keyring file holding an all-zero key.
    let dir = TempDir::new();
    let path = dir.path().join("keyring.json");
    let zero_key = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [0u8; 32]);
    std::fs::write(
        &path,
        format!(r#"{{"format":"sessionwarden-keyring/1","keys":[{{"kid":1,"state":"primary","created":0,"secret":"{zero_key}"}}]}}"#),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let err = Server::try_start_fails(dir.path(), &[]);
    assert!(err.contains(&format!("key 1 in {} is not random enough", path.display())), "{err}");
    // A Flask store takes Flask's key as Flask does, for the Flask formats only.
    let dir = TempDir::new();
    let flask = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "flask-cookie"],
        &[("SECRET_KEY", zeros.as_str())],
    );
    let r = support::client().get(flask.url("/set-session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(dir.path().join("keyring.json").exists(), "sessionwarden's own keys come from the file");
    assert!(flask.stderr().contains("keys the Flask formats only"));
}

#[tokio::test]
async fn json_logs_and_graceful_shutdown() {
    let dir = TempDir::new();
    let mut server = Server::start(dir.path(), &["--insecure-cookies", "--log-format", "json"], &[]);
    let r = support::client().get(server.url("/set-session?user=x")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    let made_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(made_id.len(), 36, "a request without an id gets a UUID: {made_id}");
    // A client's plausible id is kept and ties the event to the request; an implausible one
    // is replaced.
    let forged = support::client()
        .get(server.url("/get-session"))
        .header("cookie", "session=forged")
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.headers()["x-request-id"], "trace-42");
    let long = "x".repeat(200);
    let r =
        support::client().get(server.url("/get-session")).header("x-request-id", &long).send().await.unwrap();
    assert_ne!(r.headers()["x-request-id"].to_str().unwrap(), long);
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(10)).expect("SIGTERM must stop the server");
    assert!(status.success(), "{status:?}");
    let log = server.stderr();
    let (mut kinds, mut access) = (Vec::new(), Vec::new());
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if let Some(k) = v["fields"]["kind"].as_str() {
            // The event's evidence is a JSON object, not a Debug string.
            assert_eq!(v["fields"]["event"]["kind"], k, "{line}");
            kinds.push((k.to_owned(), v));
        } else if v["target"] == "sessionwarden::access" {
            access.push(v);
        }
    }
    let kind = |k: &str| kinds.iter().find(|(kind, _)| kind == k).map(|(_, v)| v.clone());
    assert!(kind("session_created").is_some(), "{kinds:?}");
    let rejected = kind("cookie_rejected").expect("the forged cookie is an event");
    assert_eq!(rejected["fields"]["event"]["reason"]["envelope"], "malformed", "{rejected}");
    assert_eq!(rejected["fields"]["request_id"], "trace-42", "{rejected}");
    // One access line per request: method, path without the query, status, latency, id.
    assert_eq!(access.len(), 3, "{access:?}");
    assert_eq!(access[0]["span"]["method"], "GET");
    assert_eq!(access[0]["span"]["path"], "/set-session", "the query is never logged");
    assert_eq!(access[0]["span"]["request_id"], made_id);
    assert_eq!(access[0]["fields"]["status"], 200);
    assert!(access[0]["fields"]["latency_ms"].as_f64().is_some());
    assert_eq!(access[1]["span"]["request_id"], "trace-42");
    assert!(log.contains("shutting down"));
    assert!(!log.contains(cookie.split_once('=').unwrap().1), "a cookie value reached the log");
    assert!(!log.contains("user=x"), "a query string reached the log");
}

/// Text logs written to a file or pipe carry no colour codes.
#[tokio::test]
async fn text_logs_to_a_pipe_have_no_colour_codes() {
    let dir = TempDir::new();
    let mut server = Server::start(dir.path(), &["--insecure-cookies"], &[]);
    get(&server.url("/get-session"), Some("session=forged")).await;
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(10)).expect("SIGTERM must stop the server");
    let log = server.stderr();
    assert!(log.contains("security event"), "{log}");
    assert!(log.contains("sessionwarden::access"), "{log}");
    assert!(!log.contains('\u{1b}'), "an escape code in a log file: {log:?}");
}

impl Server {
    /// Starts a server expected to fail; its stderr.
    fn try_start_fails(dir: &std::path::Path, envs: &[(&str, &str)]) -> String {
        let out = std::process::Command::new(support::BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// The blog's Flask app uses `app.secret_key = 'supersecretkey'` (14 bytes). Flask accepts
/// any length; with a Flask store so do we, for the Flask formats only.
#[tokio::test]
async fn short_flask_secret_key_works_for_the_flask_cookie_store_only() {
    let dir = TempDir::new();
    let flask = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "flask-cookie"],
        &[("SECRET_KEY", "supersecretkey")],
    );
    let r = support::client().get(flask.url("/set-session")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let cookie = cookie_pair(&r);
    assert!(cookie.starts_with("session=") && !cookie.contains("s1."), "a Flask cookie: {cookie}");
    assert_eq!(get(&flask.url("/get-session"), Some(&cookie)).await.1, "User: admin");
    assert!(dir.path().join("keyring.json").exists(), "sessionwarden's own keys come from the file");
    assert!(flask.stderr().contains("keys the Flask formats only"));
    // Outside Flask mode the same key is refused with a clear error.
    let err = Server::try_start_fails(dir.path(), &[("SECRET_KEY", "supersecretkey")]);
    assert!(err.contains("at least 32 bytes"), "{err}");
}

/// Under a Flask store, the token `POST /login` answers is Flask-WTF's, like `GET /csrf-token`,
/// and the pre-login token stops working (the Flask-WTF secret was rotated).
#[tokio::test]
async fn login_under_a_flask_store_answers_a_flask_wtf_token() {
    let dir = TempDir::new();
    let server = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "flask-cookie", "--demo-user", "alice:wonderland-42"],
        &[("SECRET_KEY", "a-flask-secret-key")],
    );
    let client = support::client();
    let r = client.get(server.url("/csrf-token")).send().await.unwrap();
    let cookie = cookie_pair(&r);
    let before = r.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    // Flask-WTF's token: itsdangerous `payload.timestamp.signature` over a JSON string.
    assert!(before.starts_with('I') && before.matches('.').count() == 2, "{before}");
    let r = client
        .post(server.url("/login"))
        .header("cookie", &cookie)
        .header("x-csrftoken", &before)
        .json(&serde_json::json!({"username": "alice", "password": "wonderland-42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = cookie_pair(&r);
    let after = r.json::<serde_json::Value>().await.unwrap()["csrf_token"].as_str().unwrap().to_owned();
    assert!(after.starts_with('I') && after.matches('.').count() == 2, "{after}");
    let note = |token: String| {
        let client = client.clone();
        let url = server.url("/notes");
        let cookie = cookie.clone();
        async move {
            client
                .post(url)
                .header("cookie", cookie)
                .header("x-csrf-token", token)
                .json(&serde_json::json!({"note": "hi"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(note(before).await, 403, "a pre-login token must not survive login");
    assert_eq!(note(after).await, 200);
}

/// Reads `stream` until the server closes it (EOF or reset); what it sent. Bounded so a
/// server that never closes fails the test instead of hanging it.
async fn read_until_closed(mut stream: tokio::net::TcpStream) -> Result<Vec<u8>, &'static str> {
    use tokio::io::AsyncReadExt as _;
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read).await.map_err(|_| "still open after 60 s")?;
    Ok(out)
}

/// Slowloris: hundreds of connections that send half their headers or stop partway through a
/// body, against a server with few file descriptors. A new client is still served, and every
/// stalled connection is closed by the server (408 for the stalled bodies).
#[tokio::test]
async fn stalled_connections_do_not_starve_new_clients() {
    use tokio::io::AsyncWriteExt as _;
    let dir = TempDir::new();
    let server = Server::start_with_nofile(
        256,
        dir.path(),
        &[
            "--insecure-cookies",
            "--store",
            "memory",
            "--header-timeout",
            "1s",
            "--body-timeout",
            "1s",
            "--http-idle-timeout",
            "2s",
            "--max-connections",
            "100",
        ],
        &[],
    );
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut stalled = Vec::new();
    for i in 0..300 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let partial: &[u8] = if i % 2 == 0 {
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
        } else {
            b"POST /session/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":"
        };
        s.write_all(partial).await.unwrap();
        stalled.push((i % 2 == 1, s));
    }
    // A new client, with more stalled connections than the server has descriptors.
    let r = support::client()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("a new client must be served while stalled connections are open");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    // Every stalled connection is closed by the server.
    let mut headers_closed = 0;
    let mut bodies_408 = 0;
    for (body, s) in stalled {
        let sent = read_until_closed(s).await.unwrap();
        let text = String::from_utf8_lossy(&sent);
        if body {
            assert!(text.starts_with("HTTP/1.1 408"), "a stalled body gets 408: {text:?}");
            bodies_408 += 1;
        } else {
            assert!(!text.contains(" 200 "), "half a header is never answered 200: {text:?}");
            headers_closed += 1;
        }
    }
    assert_eq!((headers_closed, bodies_408), (150, 150));
    // And the server is still there.
    assert_eq!(get(&server.url("/healthz"), None).await.0, 200);
}

/// A kept-alive connection that sends nothing after its response is closed by the server.
#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    use tokio::io::AsyncWriteExt as _;
    let dir = TempDir::new();
    let server = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "memory", "--header-timeout", "1s"],
        &[],
    );
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let sent = read_until_closed(s).await.unwrap();
    let text = String::from_utf8_lossy(&sent);
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");
    assert!(text.ends_with("ok"), "one response, then the server closed: {text:?}");
}

/// A connection on which nothing moves is closed by `--http-idle-timeout`, long before the
/// header timeout would close it.
#[tokio::test]
async fn silent_connections_are_closed_by_the_http_idle_timeout() {
    use tokio::io::AsyncWriteExt as _;
    let dir = TempDir::new();
    let server = Server::start(
        dir.path(),
        &["--insecure-cookies", "--store", "memory", "--header-timeout", "10m", "--http-idle-timeout", "1s"],
        &[],
    );
    let addr = server.base.strip_prefix("http://").unwrap().to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    // read_until_closed gives up after 60 s, well before the 10-minute header timeout.
    let sent = read_until_closed(s).await.unwrap();
    assert!(!String::from_utf8_lossy(&sent).contains(" 200 "));
    // A request on a fresh connection is still served.
    assert_eq!(get(&server.url("/healthz"), None).await.0, 200);
}

/// `--max-session-size` reaches the session layer of the real binary.
#[tokio::test]
async fn max_session_size_flag_caps_server_sessions() {
    let dir = TempDir::new();
    let server = Server::start(
        dir.path(),
        &["--store", "memory", "--insecure-cookies", "--max-session-size", "1024"],
        &[],
    );
    let post = |value: String| {
        support::client()
            .post(server.url("/session/data"))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "v": value }).to_string())
            .send()
    };
    let r = post("x".repeat(2000)).await.unwrap();
    assert_eq!(r.status(), 413);
    assert!(support::set_cookies(&r).is_empty(), "no session is created for a refused write");
    let r = post("x".repeat(200)).await.unwrap();
    assert_eq!(r.status(), 200, "a session under the limit is created as before");
}
