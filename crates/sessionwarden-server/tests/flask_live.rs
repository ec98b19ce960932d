//! Live interop with a real Flask app (Flask 3.1.3, Flask-Session 0.8.0, Flask-WTF 1.3.0):
//! the `sessionwarden` binary and `crates/sessionwarden-flask/tests/flask_app/app.py` on
//! loopback, one cookie jar between them as a browser on one domain would have.
//!
//! Needs the virtual environment `scripts/flask-venv.sh` makes (at `$SESSIONWARDEN_VENV`,
//! default `/var/cache/sessionwarden/venv`) and, for the Redis tests, Redis on 127.0.0.1:6379.
//! Missing either: a failure under `CI=true`, a printed skip elsewhere.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, TempDir, client};

const OLD: &str = "flask-live-old-secret-0123456789abcdef";
const NEW: &str = "flask-live-new-secret-0123456789abcdef";

/// The venv's python, if the venv is there (else reported as missing).
fn python() -> Option<PathBuf> {
    let venv = std::env::var("SESSIONWARDEN_VENV").unwrap_or_else(|_| "/var/cache/sessionwarden/venv".into());
    let py = PathBuf::from(venv).join("bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import flask, flask_session, flask_wtf, msgspec, redis"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Some(py)
    } else {
        sessionwarden_test::env::service_missing(
            "Flask venv",
            &format!("{} cannot import the pinned packages: run scripts/flask-venv.sh", py.display()),
        );
        None
    }
}

fn redis_up() -> bool {
    if std::net::TcpStream::connect("127.0.0.1:6379").is_ok() {
        return true;
    }
    sessionwarden_test::env::service_missing("Redis", "nothing listens on 127.0.0.1:6379");
    false
}

/// A running Flask app, killed on drop.
struct Flask {
    child: Child,
    base: String,
}

impl Flask {
    fn start(py: &PathBuf, envs: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let app = concat!(env!("CARGO_MANIFEST_DIR"), "/../sessionwarden-flask/tests/flask_app/app.py");
        let mut cmd = Command::new(py);
        cmd.arg(app).env("PORT", port.to_string()).env_remove("SECRET_KEY_FALLBACKS");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(20), "Flask did not start on {base}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, base }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Flask {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser's cookies for 127.0.0.1 (cookies ignore ports, so both apps share them).
#[derive(Default, Clone)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn session(&self) -> Option<&str> {
        self.0.get("session").map(String::as_str)
    }

    fn set_session(&mut self, value: &str) {
        self.0.insert("session".into(), value.into());
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> (u16, String) {
        let req = if self.0.is_empty() { req } else { req.header("cookie", self.header()) };
        let r = req.send().await.unwrap();
        for sc in r.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            let (name, value) = sc.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || sc.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
        (r.status().as_u16(), r.text().await.unwrap())
    }

    async fn get(&mut self, url: String) -> (u16, String) {
        self.send(client().get(url)).await
    }

    async fn json(&mut self, url: String) -> Value {
        let (status, body) = self.get(url).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn csrf(&mut self, url: String) -> String {
        self.json(url).await["csrf_token"].as_str().unwrap().to_owned()
    }

    async fn post_json(&mut self, url: String, token: &str, body: &Value) -> (u16, String) {
        let req = client()
            .post(url)
            .header("content-type", "application/json")
            .header("x-csrf-token", token)
            .body(body.to_string());
        self.send(req).await
    }
}

fn sessionwarden(dir: &TempDir, store: &str, envs: &[(&str, &str)]) -> Server {
    Server::start(dir.path(), &["--store", store, "--insecure-cookies"], envs)
}

/// The Flask session as sessionwarden's `/session/data` shows it: without the keys it keeps
/// elsewhere (`_permanent` is the record's persistence) or hides (the CSRF secret).
fn as_sessionwarden_shows(mut flask: Value) -> Value {
    let map = flask.as_object_mut().unwrap();
    map.remove("_permanent");
    map.remove("csrf_token");
    flask
}

/// Both directions for one mode: `user`, every Flask type, a key added by sessionwarden,
/// and CSRF tokens from each side accepted by the other.
async fn round_trip(flask: &Flask, sw: &Server, expect_markup: bool) {
    // Flask writes, sessionwarden reads.
    let mut browser = Jar::default();
    assert_eq!(browser.get(flask.url("/set-session?user=flask-user")).await.1, "Session set!");
    assert!(browser.session().is_some());
    assert_eq!(browser.get(sw.url("/get-session")).await, (200, "User: flask-user".into()));

    // sessionwarden writes, Flask reads.
    let mut other = Jar::default();
    assert_eq!(other.get(sw.url("/set-session?user=rust-user")).await.1, "Session set!");
    assert!(other.session().is_some(), "sessionwarden set the shared cookie");
    assert_eq!(other.get(flask.url("/get-session")).await, (200, "User: rust-user".into()));

    // Every Flask type survives sessionwarden reading and changing the session.
    assert_eq!(browser.get(flask.url("/set-types")).await.0, 200);
    let flask_view = browser.json(flask.url("/session-json")).await;
    assert_eq!(flask_view.get("markup").is_some(), expect_markup);
    let sw_view = browser.json(sw.url("/session/data")).await;
    assert_eq!(sw_view, as_sessionwarden_shows(flask_view.clone()), "sessionwarden sees Flask's types");
    let token = browser.csrf(sw.url("/csrf-token")).await;
    let added = json!({"$tuple": [1, {"$bytes": "AP8="}]});
    let (status, body) = browser.post_json(sw.url("/session/data"), &token, &json!({"added": added})).await;
    assert_eq!(status, 200, "{body}");
    let mut want = as_sessionwarden_shows(flask_view);
    want["added"] = added;
    let after = as_sessionwarden_shows(browser.json(flask.url("/session-json")).await);
    if expect_markup {
        assert_eq!(after, want, "Flask reads back what it wrote plus the change");
    } else {
        // Flask-Session's MessagePack has no tuples: Flask itself reads them back as lists.
        want["added"] = json!([1, {"$bytes": "AP8="}]);
        assert_eq!(after, want, "Flask reads back what it wrote plus the change");
    }

    // CSRF: a Flask-WTF token from either side passes the other's check.
    let flask_token = browser.csrf(flask.url("/csrf-token")).await;
    let (status, body) =
        browser.post_json(sw.url("/session/data"), &flask_token, &json!({"via": "flask"})).await;
    assert_eq!(status, 200, "sessionwarden accepts Flask's token: {body}");
    let sw_token = browser.csrf(sw.url("/csrf-token")).await;
    let req = client().post(flask.url("/csrf-check")).header("x-csrftoken", &sw_token);
    assert_eq!(browser.send(req).await, (200, "ok".into()), "Flask accepts sessionwarden's token");
    let req = client()
        .post(flask.url("/csrf-check"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={sw_token}"));
    assert_eq!(browser.send(req).await.0, 200, "as a form field too");
    let req = client().post(flask.url("/csrf-check")).header("x-csrftoken", "forged.token.value");
    assert_eq!(browser.send(req).await.0, 400, "Flask still refuses a bad token");
    let (status, _) =
        browser.post_json(sw.url("/session/data"), "forged.token.value", &json!({"x": 1})).await;
    assert_eq!(status, 403, "sessionwarden still refuses a bad token");
}

#[tokio::test]
async fn cookie_sessions_cross_both_ways() {
    let Some(py) = python() else { return };
    let flask = Flask::start(&py, &[("SECRET_KEY", NEW), ("SESSION_MODE", "cookie")]);
    let dir = TempDir::new();
    let sw = sessionwarden(&dir, "flask-cookie", &[("SECRET_KEY", NEW)]);
    round_trip(&flask, &sw, true).await;
}

#[tokio::test]
async fn redis_sessions_cross_both_ways() {
    let Some(py) = python() else { return };
    if !redis_up() {
        return;
    }
    for signer in ["false", "true"] {
        let prefix = format!("flask-live:{}:{signer}:", std::process::id());
        let envs =
            [("SECRET_KEY", NEW), ("SESSION_KEY_PREFIX", prefix.as_str()), ("SESSION_USE_SIGNER", signer)];
        let flask = Flask::start(&py, &[envs[0], envs[1], envs[2], ("SESSION_MODE", "redis")]);
        let dir = TempDir::new();
        let sw = sessionwarden(&dir, "flask-redis", &envs);
        round_trip(&flask, &sw, false).await;
        // The cookie is Flask-Session's: a bare 43-character sid, or sid.signature.
        let mut jar = Jar::default();
        jar.get(flask.url("/set-session?user=x")).await;
        let cookie = jar.session().unwrap().to_owned();
        assert_eq!(cookie.len(), if signer == "true" { 43 + 1 + 27 } else { 43 }, "{cookie}");
    }
}

#[tokio::test]
async fn key_rotation_with_fallbacks_keeps_both_sides_logged_in() {
    let Some(py) = python() else { return };
    let cookie_env = ("SESSION_MODE", "cookie");
    // Before the rotation: Flask signs with OLD.
    let old_flask = Flask::start(&py, &[("SECRET_KEY", OLD), cookie_env]);
    let mut browser = Jar::default();
    browser.get(old_flask.url("/set-session?user=rotor")).await;
    let old_cookie = browser.session().unwrap().to_owned();
    drop(old_flask);

    // The rotation: SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=OLD on both sides.
    let rotated = [("SECRET_KEY", NEW), ("SECRET_KEY_FALLBACKS", OLD)];
    let flask = Flask::start(&py, &[rotated[0], rotated[1], cookie_env]);
    let dir = TempDir::new();
    let sw = sessionwarden(&dir, "flask-cookie", &rotated);
    assert_eq!(browser.get(flask.url("/get-session")).await.1, "User: rotor", "Flask reads the old cookie");
    assert_eq!(browser.session(), Some(old_cookie.as_str()), "Flask re-signs only on a write");
    assert_eq!(browser.get(sw.url("/get-session")).await.1, "User: rotor", "sessionwarden reads it");
    let resigned = browser.session().unwrap().to_owned();
    assert_ne!(resigned, old_cookie, "sessionwarden re-signs a fallback cookie with SECRET_KEY");

    // After the fallbacks are dropped, only the re-signed cookie still works, on both sides.
    let flask_new_only = Flask::start(&py, &[("SECRET_KEY", NEW), cookie_env]);
    let dir2 = TempDir::new();
    let sw_new_only = sessionwarden(&dir2, "flask-cookie", &[("SECRET_KEY", NEW)]);
    for url in [flask_new_only.url("/get-session"), sw_new_only.url("/get-session")] {
        let mut jar = Jar::default();
        jar.set_session(&resigned);
        assert_eq!(jar.get(url.clone()).await.1, "User: rotor", "{url}");
        let mut stale = Jar::default();
        stale.set_session(&old_cookie);
        assert_eq!(stale.get(url.clone()).await.1, "User: None", "{url}");
    }
}

/// Hostile cookies are "no session", never a 500 or a crash (Flask answers 500 to some).
#[tokio::test]
async fn malformed_flask_cookies_are_no_session() {
    let Some(py) = python() else { return };
    let flask = Flask::start(&py, &[("SECRET_KEY", NEW), ("SESSION_MODE", "cookie")]);
    let dir = TempDir::new();
    let sw = sessionwarden(&dir, "flask-cookie", &[("SECRET_KEY", NEW)]);
    let mut jar = Jar::default();
    jar.get(flask.url("/set-session?user=valid")).await;
    let valid = jar.session().unwrap().to_owned();
    let cases = [
        ("truncated", valid[..valid.len() - 3].to_owned()),
        ("no signature", valid.rsplit_once('.').unwrap().0.to_owned()),
        ("bad base64", format!("!!{valid}")),
        ("compressed garbage", format!(".eJzz{valid}")),
        ("only dots", "...".to_owned()),
        ("oversized", "a".repeat(5000)),
        ("wrong key", "eyJ1c2VyIjoiYWRtaW4ifQ.aVW5AA.dnfrx2kRth5MklvzkVqnv772XnE".to_owned()),
    ];
    for (name, value) in cases {
        let mut jar = Jar::default();
        jar.set_session(&value);
        assert_eq!(jar.get(sw.url("/get-session")).await, (200, "User: None".into()), "{name}");
    }
    let mut jar = Jar::default();
    jar.set_session(&valid);
    assert_eq!(jar.get(sw.url("/get-session")).await.1, "User: valid");
}

/// A session large enough that Flask stores it compressed (`.` + zlib) stays compressed when
/// sessionwarden changes one key and writes it back: under 4 KB, and Flask reads it.
#[tokio::test]
async fn large_compressed_flask_sessions_stay_compressed() {
    let Some(py) = python() else { return };
    let flask = Flask::start(&py, &[("SECRET_KEY", NEW), ("SESSION_MODE", "cookie")]);
    let dir = TempDir::new();
    let sw = sessionwarden(&dir, "flask-cookie", &[("SECRET_KEY", NEW)]);
    let mut browser = Jar::default();
    assert_eq!(browser.get(flask.url("/set-large")).await, (200, "Large set!".into()));
    let written = browser.session().unwrap().to_owned();
    assert!(written.starts_with('.'), "Flask compressed it: {}", &written[..20]);
    let before = browser.json(flask.url("/session-repr")).await;
    assert!(before["large"].as_str().unwrap().len() > 4096, "uncompressed it would not fit a cookie");

    let token = browser.csrf(sw.url("/csrf-token")).await;
    let (status, body) = browser.post_json(sw.url("/session/data"), &token, &json!({"changed": 1})).await;
    assert_eq!(status, 200, "sessionwarden writes the large session back: {body}");
    let rewritten = browser.session().unwrap().to_owned();
    assert!(rewritten.starts_with('.'), "written back compressed");
    assert!("session=".len() + rewritten.len() <= 4096, "{} bytes", rewritten.len());

    let after = browser.json(flask.url("/session-repr")).await;
    assert_eq!(after["large"], before["large"], "Flask reads the large value back");
    assert_eq!(after["changed"], json!("1"));
}

/// Dicts that look like the typed-JSON markers (`{"$tuple": …}`, `{"$bytes": …}`, …) are
/// plain dicts to Flask; they come back from sessionwarden exactly as Flask wrote them, when
/// sessionwarden changes another key, and when it writes them back itself.
#[tokio::test]
async fn marker_lookalike_dicts_come_back_as_flask_wrote_them() {
    let Some(py) = python() else { return };
    let flask = Flask::start(&py, &[("SECRET_KEY", NEW), ("SESSION_MODE", "cookie")]);
    let dir = TempDir::new();
    let sw = sessionwarden(&dir, "flask-cookie", &[("SECRET_KEY", NEW)]);
    let mut browser = Jar::default();
    assert_eq!(browser.get(flask.url("/set-lookalikes")).await, (200, "Lookalikes set!".into()));
    let before = browser.json(flask.url("/session-repr")).await;
    assert_eq!(before["lk_tuple"], json!("{'$tuple': [1, 2]}"));

    // sessionwarden changes another key: the look-alikes are untouched.
    let token = browser.csrf(sw.url("/csrf-token")).await;
    let (status, body) = browser.post_json(sw.url("/session/data"), &token, &json!({"other": 1})).await;
    assert_eq!(status, 200, "{body}");
    let after = browser.json(flask.url("/session-repr")).await;
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(&after[k], v, "{k} changed type");
    }
    assert_eq!(after["other"], json!("1"));

    // sessionwarden writes its own view of them back: still the same.
    let view = browser.json(sw.url("/session/data")).await;
    let mut lookalikes = view.as_object().unwrap().clone();
    lookalikes.retain(|k, _| k.starts_with("lk_"));
    assert_eq!(lookalikes.len(), 10, "{view}");
    let (status, body) =
        browser.post_json(sw.url("/session/data"), &token, &serde_json::Value::Object(lookalikes)).await;
    assert_eq!(status, 200, "{body}");
    let again = browser.json(flask.url("/session-repr")).await;
    for (k, v) in before.as_object().unwrap() {
        assert_eq!(&again[k], v, "{k} changed type when written back");
    }
}
