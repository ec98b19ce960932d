#!/usr/bin/env python3
"""Time Flask's own session cookie decode+verify and encode, for comparison with
`cargo bench -p sessionwarden-flask --bench flask_cookie`.

Run (needs Flask; the vectors were made with 3.1.3):

    python3 -m venv /tmp/flask-venv
    /tmp/flask-venv/bin/pip install flask==3.1.3
    /tmp/flask-venv/bin/python crates/sessionwarden-flask/benches/itsdangerous_timing.py

You will see one line per operation with nanoseconds per op, e.g.
`flask_cookie/decode_verify: 9500 ns/op (200000 ops)`.

It uses the same serializer Flask's SecureCookieSessionInterface builds (salt
"cookie-session", hmac key derivation, SHA-1, tagged JSON) on the same session
as benches/flask_cookie.rs, with the clock fixed the same way.
"""

import time
import timeit

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

SECRET = "interop-test-secret-1"
NOW = 1_767_225_600
MAX_AGE = 31 * 24 * 3600


def main() -> None:
    app = Flask(__name__)
    app.secret_key = SECRET
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    session = {
        "user": "admin",
        "csrf_token": "89e495e7941cf9e40e6980d14a16bf023ccd4c91",
        "_fresh": True,
        "last_page": ("articles", 42),
    }
    # Fix itsdangerous's clock as the Rust bench injects `now`.
    real_time = time.time
    time.time = lambda: NOW
    try:
        with app.app_context():
            cookie = serializer.dumps(session)
            assert serializer.loads(cookie, max_age=MAX_AGE) == session
            for name, fn in (
                ("flask_cookie/decode_verify", lambda: serializer.loads(cookie, max_age=MAX_AGE)),
                ("flask_cookie/encode", lambda: serializer.dumps(session)),
            ):
                timer = timeit.Timer(fn)
                number, _ = timer.autorange()
                number = max(number, 10_000)
                best = min(timer.repeat(repeat=5, number=number))
                print(f"{name}: {best / number * 1e9:.0f} ns/op ({number} ops)")
    finally:
        time.time = real_time


if __name__ == "__main__":
    main()
