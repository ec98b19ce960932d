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
