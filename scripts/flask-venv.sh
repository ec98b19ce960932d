#!/usr/bin/env bash
# Creates or updates the Python virtual environment the live Flask interop tests use, at
# ${SESSIONWARDEN_VENV:-/var/cache/sessionwarden/venv}, with the pinned versions of
# crates/sessionwarden-flask/tests/flask_app/requirements.txt.
#
# Idempotent and fast when nothing changed: a stamp holding the requirements' hash skips pip.
# Prints the venv's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${SESSIONWARDEN_VENV:-/var/cache/sessionwarden/venv}"
req=crates/sessionwarden-flask/tests/flask_app/requirements.txt
python="${PYTHON:-python3}"
want="$(sha256sum "$req" | cut -d' ' -f1)"
stamp="$venv/.sessionwarden-requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "$venv"
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
# Fail now, not in the test, if an import is broken.
"$venv/bin/python" -c "import flask, flask_session, flask_wtf, msgspec, redis"
echo "$want" > "$stamp"
echo "$venv"
