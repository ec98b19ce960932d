"""Peer: Flask, routes shaped like the reference server's, run under gunicorn by bench/run.

BENCH_FLASK_MODE selects the session backend:
  cookie  Flask's default signed-cookie session (itsdangerous, HMAC-SHA1 by default)
  redis   Flask-Session 0.8 with its Redis backend (BENCH_REDIS_URL)

Fairness: /set-session assigns the `user` query value, which the harness changes on every
request; assigning marks the session modified, so it is written on every request.
"""

import os

from flask import Flask, request, session

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "bench-only-not-a-secret-0123456789abcdef")
# Plain http on loopback, as `sessionwarden --insecure-cookies`.
app.config["SESSION_COOKIE_SECURE"] = False
app.config["SESSION_COOKIE_HTTPONLY"] = True
app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

MODE = os.environ.get("BENCH_FLASK_MODE", "cookie")
if MODE == "redis":
    import redis
    from flask_session import Session

    app.config["SESSION_TYPE"] = "redis"
    app.config["SESSION_REDIS"] = redis.Redis.from_url(
        os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    app.config["SESSION_PERMANENT"] = False
    Session(app)
elif MODE != "cookie":
    raise SystemExit(f"BENCH_FLASK_MODE must be cookie or redis, got {MODE!r}")


@app.get("/set-session")
def set_session():
    session["user"] = request.args.get("user", "admin")
    return "Session set!"


@app.get("/get-session")
def get_session():
    return f"User: {session.get('user')}"


@app.get("/healthz")
def healthz():
    return "ok"
