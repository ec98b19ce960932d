"""Real Flask decoding session cookies in a loop, for the property test
crates/sessionwarden-flask/tests/flask_live_props.rs (one process for every case).

Reads one cookie per line on stdin; for each, answers one JSON line on stdout:
    {"typed": <the session as typed JSON>, "cookie": <Flask's own cookie for that session>}
or {"error": "<exception class>"} when Flask refuses the cookie.

The session is decoded exactly as Flask does for a request: the app's session interface's
signing serializer (itsdangerous, Flask's tagged JSON), with PERMANENT_SESSION_LIFETIME as
the maximum age. SECRET_KEY comes from the environment.

Typed JSON follows crates/sessionwarden-flask/src/marker.rs: one-key markers for what JSON
cannot hold, and `$dict` around a real dict shaped like a marker.
"""

import base64
import datetime
import json
import math
import os
import sys
import uuid

from flask import Flask
from markupsafe import Markup

MARKERS = {"$bytes", "$tuple", "$datetime", "$uuid", "$markup", "$bigint", "$float", "$dict"}
I64_MIN, U64_MAX = -(2**63), 2**64 - 1


def typed(value):
    # Order matters: bool is an int, Markup is a str, and tuple must not read as list.
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if I64_MIN <= value <= U64_MAX else {"$bigint": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"$float": "NaN"}
        if math.isinf(value):
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        if value == 0.0 and math.copysign(1.0, value) < 0:
            return {"$float": "-0.0"}
        return value
    if isinstance(value, Markup):
        return {"$markup": str(value)}
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"$tuple": [typed(v) for v in value]}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, datetime.datetime):
        v = value.astimezone(datetime.timezone.utc)
        text = "%04d-%02d-%02dT%02d:%02d:%02d" % (v.year, v.month, v.day, v.hour, v.minute, v.second)
        if v.microsecond:
            text += ".%06d" % v.microsecond
        return {"$datetime": text + "Z"}
    if isinstance(value, dict):
        obj = {k: typed(v) for k, v in value.items()}
        if len(obj) == 1 and next(iter(obj)) in MARKERS:
            return {"$dict": obj}
        return obj
    raise TypeError(type(value).__name__)


def main():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ["SECRET_KEY"]
    serializer = app.session_interface.get_signing_serializer(app)
    max_age = int(app.permanent_session_lifetime.total_seconds())
    for line in sys.stdin:
        try:
            session = serializer.loads(line.strip(), max_age=max_age)
            out = {"typed": {k: typed(v) for k, v in session.items()}, "cookie": serializer.dumps(session)}
        except Exception as e:  # noqa: BLE001 - the test reports which refusal it was
            out = {"error": type(e).__name__}
        sys.stdout.write(json.dumps(out, allow_nan=False) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
