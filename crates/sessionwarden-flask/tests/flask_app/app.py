"""The Flask side of the live interop tests (crates/sessionwarden-server/tests/flask_live.rs).

Configured from the environment with Flask's own names:

    SECRET_KEY, SECRET_KEY_FALLBACKS (comma-separated, Flask's list order),
    PERMANENT_SESSION_LIFETIME (seconds), SESSION_COOKIE_NAME,
    SESSION_MODE = cookie | redis, and for redis: REDIS_URL, SESSION_KEY_PREFIX,
    SESSION_USE_SIGNER (true/false); PORT (the test picks a free one).

Run by hand:

    SECRET_KEY=... SESSION_MODE=cookie PORT=5000 $VENV/bin/python app.py

Routes:
    GET  /set-session?user=NAME   store `user` (the blog's example), "Session set!"
    GET  /get-session             "User: NAME" or "User: None"
    GET  /set-types               store one value of every Flask type (Markup only in cookie mode)
    GET  /session-json            the whole session as typed JSON with the interop markers
    GET  /set-large               store a large, compressible value (Flask compresses the cookie)
    GET  /set-lookalikes          store dicts shaped like the typed-JSON markers
    GET  /session-repr            the session's Python repr, key by key (exact types)
    GET  /csrf-token              {"csrf_token": Flask-WTF token}
    POST /csrf-check              200 "ok" if Flask-WTF accepts the token (header or form field)
"""

import base64
import datetime
import os
import uuid

from flask import Flask, jsonify, request, session
from flask_wtf.csrf import CSRFProtect, generate_csrf
from markupsafe import Markup


def typed(value):
    """The interop vectors' typed JSON: one-key markers for what JSON cannot hold."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"$tuple": [typed(v) for v in value]}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Markup):
        return {"$markup": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.timezone.utc)
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        if value.microsecond:
            text += ".%06d" % value.microsecond
        return {"$datetime": text + "Z"}
    return value


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    fallbacks = [k for k in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if k]
    if fallbacks:
        app.config["SECRET_KEY_FALLBACKS"] = fallbacks
    app.config["PERMANENT_SESSION_LIFETIME"] = datetime.timedelta(
        seconds=int(os.environ.get("PERMANENT_SESSION_LIFETIME", "2678400"))
    )
    app.config["SESSION_COOKIE_NAME"] = os.environ.get("SESSION_COOKIE_NAME", "session")
    mode = os.environ.get("SESSION_MODE", "cookie")
    if mode == "redis":
        import redis
        from flask_session import Session

        app.config["SESSION_TYPE"] = "redis"
        app.config["SESSION_REDIS"] = redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/"))
        app.config["SESSION_KEY_PREFIX"] = os.environ.get("SESSION_KEY_PREFIX", "session:")
        app.config["SESSION_USE_SIGNER"] = os.environ.get("SESSION_USE_SIGNER", "false").lower() == "true"
        Session(app)
    CSRFProtect(app)

    @app.get("/set-session")
    def set_session():
        session["user"] = request.args.get("user", "admin")
        return "Session set!"

    @app.get("/get-session")
    def get_session():
        return f"User: {session.get('user')}"

    @app.get("/set-types")
    def set_types():
        session["tuple"] = ("articles", 42)
        session["bytes"] = b"\x00\xffbin"
        session["uuid"] = uuid.UUID("3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        session["when"] = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
        session["nested"] = {"list": [1, 2.5, None, True], "text": "h\u00e9llo"}
        session["_flashes"] = [("message", "Saved!")]
        if mode == "cookie":
            session["markup"] = Markup("<b>bold</b>")
        return "Types set!"

    @app.get("/set-large")
    def set_large():
        session["large"] = [{"id": i, "title": "an article title", "tags": ["news", "rust"]} for i in range(200)]
        return "Large set!"

    @app.get("/set-lookalikes")
    def set_lookalikes():
        session["lk_bigint"] = {"$bigint": "12345678901234567890123"}
        session["lk_float"] = {"$float": "NaN"}
        session["lk_tuple"] = {"$tuple": [1, 2]}
        session["lk_bytes"] = {"$bytes": "AP8="}
        session["lk_uuid"] = {"$uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}
        session["lk_datetime"] = {"$datetime": "2025-01-02T03:04:05Z"}
        session["lk_markup"] = {"$markup": "<b>x</b>"}
        session["lk_dict"] = {"$dict": {"a": 1}}
        session["lk_nested"] = [{"$tuple": [{"$bytes": "x"}]}, {"k": {"$float": "Infinity"}}]
        session["lk_real"] = ({"$tuple": (1,)}, b"\x00")
        return "Lookalikes set!"

    @app.get("/session-repr")
    def session_repr():
        return jsonify({k: repr(v) for k, v in session.items()})

    @app.get("/session-json")
    def session_json():
        return jsonify(typed(dict(session)))

    @app.get("/csrf-token")
    def csrf_token():
        return jsonify({"csrf_token": generate_csrf()})

    @app.post("/csrf-check")
    def csrf_check():
        return "ok"

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ["PORT"]), debug=False, use_reloader=False)
