//! Property test against real Flask (the pinned versions of `tests/flask_app/requirements.txt`):
//! a session cookie that sessionwarden writes, for generated Python values of every type the
//! cookie carries, decodes in Flask to the same values; and the cookie Flask writes back for
//! that session decodes in sessionwarden to them again.
//!
//! One Python process (`tests/flask_app/decode_loop.py`) serves every case over a pipe. Needs
//! the virtual environment `scripts/flask-venv.sh` makes (at `$SESSIONWARDEN_VENV`, default
//! `/var/cache/sessionwarden/venv`); without it the test fails under `CI=true` and is skipped,
//! saying why, elsewhere.
#![allow(clippy::unwrap_used)]

mod strategies;

use std::cell::RefCell;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use proptest::prelude::*;
use sessionwarden_flask::{Error, FlaskCookieCodec, SecretKey, map_to_typed_json};
use strategies::{cookie_value, session};

const SECRET: &str = "flask-live-props-secret-0123456789abcdef";

struct Flask {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Flask {
    fn start() -> Option<Self> {
        let venv =
            std::env::var("SESSIONWARDEN_VENV").unwrap_or_else(|_| "/var/cache/sessionwarden/venv".into());
        let py = PathBuf::from(venv).join("bin/python");
        let importable = Command::new(&py)
            .args(["-c", "import flask, markupsafe"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !importable {
            sessionwarden_test::env::service_missing(
                "Flask venv",
                &format!("{} cannot import flask: run scripts/flask-venv.sh", py.display()),
            );
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/flask_app/decode_loop.py");
        let mut child = Command::new(&py)
            .arg(script)
            .env("SECRET_KEY", SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Self { child, stdin, stdout })
    }

    /// Flask's reading of `cookie`: the typed session and Flask's own cookie for it.
    fn decode(&mut self, cookie: &str) -> serde_json::Value {
        writeln!(self.stdin, "{cookie}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "the Flask helper exited");
        serde_json::from_str(&line).unwrap()
    }
}

impl Drop for Flask {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn cookies_sessionwarden_writes_decode_in_flask_to_the_same_values() {
    let Some(flask) = Flask::start() else { return };
    let flask = RefCell::new(flask);
    let codec = FlaskCookieCodec::new(SecretKey::from(SECRET));
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    runner
        .run(&session(cookie_value()), |s| {
            let now = now();
            let cookie = match codec.encode(&s, now) {
                Ok(c) => c,
                Err(Error::Unencodable { .. }) => return Err(TestCaseError::reject("unencodable")),
                Err(e) => return Err(TestCaseError::fail(format!("encode: {e}"))),
            };
            let answer = flask.borrow_mut().decode(&cookie);
            prop_assert!(answer.get("error").is_none(), "Flask refused the cookie: {}", answer["error"]);
            let want = map_to_typed_json(&s);
            prop_assert_eq!(&answer["typed"], &want, "Flask read other values");
            // And back: Flask's own cookie for that session reads the same in sessionwarden.
            let flask_cookie = answer["cookie"].as_str().unwrap();
            // Read at the time after Flask signed it (its clock may have moved to the next second).
            match codec.decode(flask_cookie, self::now()) {
                Ok(back) => prop_assert_eq!(map_to_typed_json(&back), want),
                Err(Error::TooLong { .. }) => prop_assert!(flask_cookie.len() > 4096),
                Err(e) => prop_assert!(false, "Flask's cookie did not decode: {e}"),
            }
            Ok(())
        })
        .unwrap();
}
