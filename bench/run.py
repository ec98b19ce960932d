#!/usr/bin/env python3
"""sessionwarden's load harness: the reference server, once per store, beside peer apps.

    bench/run            full run: every store the binary knows, the peers, rounds, the
                         connection sweep, scale figures, criterion benches; writes RESULTS.md
    bench/run --smoke    CI: memory + cookie stores, ~2 s per route, one round, no peers

Stdlib only (the plots are drawn by bench/plot.py with the bench venv's matplotlib).
`bench/run --help` lists the knobs. Fairness rules are in RESULTS.md, "How to read this".
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
LUA = BENCH / "wrk" / "session.lua"
OUT = BENCH / "out"  # scratch output, ignored by git
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", "/var/cache/sessionwarden/target"))
PEER_TARGET = Path(os.environ.get("BENCH_PEER_TARGET_DIR", "/var/cache/sessionwarden/target-bench-peers"))
VENV = BENCH / ".venv"
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY = re.compile(r"[Ll]istening (?:on|at):? http://([0-9.]+:[0-9]+)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# The table of servers. Adding a store or a peer is one entry here.
#
# argv is a template: {sw} the release binary, {data} a fresh data dir, {redis_url},
# {pg_url}, {peer:NAME} a peer binary, {venv} the bench venv, {cache_flag} the server's
# local-cache flag. `needs` is checked at run time; an entry whose needs are not met is
# skipped with the reason printed:
#   store:NAME   `sessionwarden serve --help` lists NAME among --store's values
#   flag:REGEX   `sessionwarden serve --help` has a flag matching REGEX
#   redis / postgres / peers / venv   that service or build is available in this run
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    name: str
    argv: tuple[str, ...]
    needs: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    peer: bool = False
    # The session lives on the server: a write must be visible to a later read.
    server_side: bool = True
    # Whose CPU is measured besides the server's ("redis" | "postgres").
    backend: str | None = None
    smoke: bool = False
    # Connection sweep (1..256) on the read route in the full run.
    sweep: bool = False
    # Scale figures: "memory" (RSS per session), "redis" (used_memory per session),
    # "rows" (read/write throughput at 1M rows).
    scale: str | None = None


# Rate limits off: every load client is 127.0.0.1, one client to the limits, and a benchmark
# of session creation would measure 429s (the limits' own cost is in the throttle bench).
SW = ("{sw}", "serve", "--listen", "127.0.0.1:0", "--data-dir", "{data}", "--insecure-cookies",
      "--throttle-mode", "off")
GUNICORN = ("{venv}/bin/gunicorn", "--workers", "2", "--worker-class", "sync", "--bind", "127.0.0.1:0",
            "--no-control-socket", "--chdir", str(BENCH / "peers" / "flask"), "--log-level", "info", "app:app")

SERVERS: tuple[Server, ...] = (
    Server("sessionwarden cookie", SW + ("--store", "cookie"), ("store:cookie",), server_side=False,
           smoke=True, sweep=True),
    Server("sessionwarden memory", SW + ("--store", "memory", "--memory-capacity", "1100000"),
           ("store:memory",), smoke=True, sweep=True, scale="memory"),
    Server("sessionwarden sqlite", SW + ("--store", "sqlite"), ("store:sqlite",), scale="rows"),
    Server("sessionwarden redis", SW + ("--store", "redis", "--redis-url", "{redis_url}"),
           ("store:redis", "redis"), backend="redis", sweep=True, scale="redis"),
    Server("sessionwarden redis+cache",
           SW + ("--store", "redis", "--redis-url", "{redis_url}", "{cache_flag}"),
           ("store:redis", "redis", r"flag:--[a-z-]*local-cache[a-z-]*"), backend="redis"),
    Server("sessionwarden postgres", SW + ("--store", "postgres", "--database-url", "{pg_url}"),
           ("store:postgres", "postgres"), backend="postgres", scale="rows"),
    Server("axum + tower-sessions memory", ("{peer:peer-axum-tower-sessions}", "--listen", "127.0.0.1:0"),
           ("peers",), peer=True, sweep=True, scale="memory"),
    Server("axum + tower-sessions redis",
           ("{peer:peer-axum-tower-sessions-redis}", "--listen", "127.0.0.1:0", "--redis-url", "{redis_url}"),
           ("peers", "redis"), peer=True, backend="redis", scale="redis"),
    Server("axum + signed cookie jar", ("{peer:peer-axum-signed-cookie}", "--listen", "127.0.0.1:0"),
           ("peers",), peer=True, server_side=False),
    Server("flask cookie (gunicorn)", GUNICORN, ("peers", "venv"), env=(("BENCH_FLASK_MODE", "cookie"),),
           peer=True, server_side=False),
    Server("flask + flask-session redis (gunicorn)", GUNICORN, ("peers", "venv", "redis"),
           env=(("BENCH_FLASK_MODE", "redis"), ("BENCH_REDIS_URL", "{redis_url}")), peer=True,
           backend="redis"),
)

# The ceiling every ratio is taken against, measured in the same run.
CEILING = ("sessionwarden memory", "none")

PEER_PROJECTS = ("axum-signed-cookie", "axum-tower-sessions", "axum-tower-sessions-redis")


@dataclass(frozen=True)
class Route:
    key: str
    path: str
    cookie: bool
    changing: bool
    label: str
    # Spread over this many sessions (one cookie each, in turn) instead of the one session.
    sessions: int = 1

    @property
    def shown(self) -> str:
        return self.path if self.sessions == 1 else f"{self.path} ({self.sessions} sessions)"


ROUTES = (
    Route("none", "/healthz", cookie=False, changing=False, label="GET /healthz (no session)"),
    Route("read", "/get-session", cookie=True, changing=False, label="GET /get-session (read)"),
    Route("write", "/set-session", cookie=True, changing=True, label="GET /set-session (write)"),
    # Not a target: shows what the one-session write costs in contention (32 writers on one
    # session are a worst case for stores with versioned, compare-and-set saves).
    Route("write64", "/set-session", cookie=True, changing=True, label="GET /set-session, 64 sessions",
          sessions=64),
)

# Targets from the issue: (label, numerator (server, route), denominator (server, route), goal).
TARGETS = (
    ("cookie read ≥ 0.90 × no-session", ("sessionwarden cookie", "read"), CEILING, 0.90),
    ("memory read ≥ 0.90 × no-session", ("sessionwarden memory", "read"), CEILING, 0.90),
    ("memory write ≥ 0.80 × no-session", ("sessionwarden memory", "write"), CEILING, 0.80),
    ("redis+cache read ≥ 0.85 × no-session", ("sessionwarden redis+cache", "read"), CEILING, 0.85),
    ("redis read ≥ 1.5 × tower-sessions redis", ("sessionwarden redis", "read"),
     ("axum + tower-sessions redis", "read"), 1.5),
    ("redis write ≥ 1.3 × tower-sessions redis", ("sessionwarden redis", "write"),
     ("axum + tower-sessions redis", "write"), 1.3),
    ("redis read ≥ 20 × flask-session", ("sessionwarden redis", "read"),
     ("flask + flask-session redis (gunicorn)", "read"), 20.0),
    ("redis write ≥ 20 × flask-session", ("sessionwarden redis", "write"),
     ("flask + flask-session redis (gunicorn)", "write"), 20.0),
    ("cookie read ≥ 20 × flask cookie", ("sessionwarden cookie", "read"),
     ("flask cookie (gunicorn)", "read"), 20.0),
    ("cookie write ≥ 20 × flask cookie", ("sessionwarden cookie", "write"),
     ("flask cookie (gunicorn)", "write"), 20.0),
)


# --------------------------------------------------------------------------------------------
# /proc accounting: CPU seconds (utime+stime) and peak RSS (VmHWM) of a process and its
# descendants (gunicorn's workers are children of its master).
# --------------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces and parens: split after the last ')'.
    return raw[raw.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = _stat_fields(int(entry))
            if f:
                children.setdefault(int(f[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        f = _stat_fields(pid)
        if f:
            total += int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)
    return total / CLK_TCK


def status_kb(pids: list[int], key: str) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def pids_named(comm: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == comm:
                    out.append(int(entry))
            except OSError:
                pass
    return out


# --------------------------------------------------------------------------------------------
# Processes we start. Each runs in its own process group; we end exactly those groups.
# --------------------------------------------------------------------------------------------


class Proc:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready: re.Pattern[str] | None,
                 timeout: float = 30.0):
        self.name = name
        self.lines: list[str] = []
        self.addr: str | None = None
        self._ready = threading.Event()
        self.p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        for stream in (self.p.stdout, self.p.stderr):
            threading.Thread(target=self._pump, args=(stream, ready), daemon=True).start()
        if ready is not None:
            deadline = time.monotonic() + timeout
            while not self._ready.wait(0.05):
                if self.p.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    tail = "\n    ".join(self.lines[-8:]) or "(no output)"
                    raise RuntimeError(f"{name} did not start (exit {self.p.returncode}):\n    {tail}")

    def _pump(self, stream, ready: re.Pattern[str] | None) -> None:
        for line in stream:
            line = line.rstrip("\n")
            if len(self.lines) < 2000:
                self.lines.append(line)
            if ready is not None and self.addr is None:
                m = ready.search(line)
                if m:
                    self.addr = m.group(1)
                    self._ready.set()

    @property
    def pid(self) -> int:
        return self.p.pid

    def stop(self) -> None:
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
            except ProcessLookupError:
                pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(addr: str, path: str, cookie: str | None = None) -> tuple[int, str, list[str]]:
    host, port = addr.rsplit(":", 1)
    c = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        c.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = c.getresponse()
        body = r.read().decode(errors="replace")
        return r.status, body, r.headers.get_all("Set-Cookie") or []
    finally:
        c.close()


def new_session(addr: str, user: str) -> str:
    """One GET /set-session; returns the Cookie header value, checked by one read."""
    status, body, set_cookies = http_get(addr, f"/set-session?user={user}")
    cookie = "; ".join(c.split(";", 1)[0] for c in set_cookies)
    if status != 200 or not cookie:
        raise RuntimeError(f"GET /set-session: status {status}, {len(set_cookies)} Set-Cookie, {body!r}")
    status, body, _ = http_get(addr, "/get-session", cookie)
    if status != 200 or body.strip() != f"User: {user}":
        raise RuntimeError(f"GET /get-session with the cookie: status {status}, body {body!r}")
    return cookie


# --------------------------------------------------------------------------------------------
# The load generator.
# --------------------------------------------------------------------------------------------


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk not found: installing it (apt-get update && apt-get install -y wrk)")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    if not shutil.which("wrk"):
        sys.exit("error: wrk not found; install it with `apt-get update && apt-get install -y wrk`")


def run_wrk(addr: str, route: Route, cookie: str | None, seconds: int, conns: int, threads: int,
            cookies: list[str] | None = None) -> dict:
    env = dict(os.environ, BENCH_COOKIE=(cookie or "") if route.cookie else "",
               BENCH_CHANGING="1" if route.changing else "0",
               BENCH_COOKIES="\n".join(cookies) if route.sessions > 1 and cookies else "")
    cmd = ["wrk", f"-t{min(threads, conns)}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
           "-s", str(LUA), f"http://{addr}{route.path}"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in r.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    raise RuntimeError(f"wrk produced no result (exit {r.returncode}): {r.stderr.strip() or r.stdout[-300:]}")


@dataclass
class Running:
    server: Server
    proc: Proc
    cookie: str | None = None
    cookies: list[str] = field(default_factory=list)
    samples: dict[str, list[dict]] = field(default_factory=dict)


class Harness:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="swbench-"))
        self.procs: list[Proc] = []
        self.skipped: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str]] = []
        self.passed = 0
        self.ctx: dict[str, str] = {"sw": str(TARGET / "release" / "sessionwarden"), "venv": str(VENV)}
        self.have: set[str] = set()
        self.help = ""
        self.redis: Proc | None = None

    # -- setup ---------------------------------------------------------------------------

    def build(self) -> None:
        log(f"building the reference server (release, CARGO_TARGET_DIR={TARGET})")
        env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
        r = subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "sessionwarden-server"],
                           cwd=ROOT, env=env)
        if r.returncode != 0:
            raise SystemExit(f"error: the release build failed (exit {r.returncode}); see cargo's output above")
        self.help = subprocess.run([self.ctx["sw"], "serve", "--help"], capture_output=True, text=True,
                                   check=True).stdout

    def build_peers(self) -> None:
        env = dict(os.environ, CARGO_TARGET_DIR=str(PEER_TARGET))
        try:
            for p in PEER_PROJECTS:
                log(f"building peer {p} (release, CARGO_TARGET_DIR={PEER_TARGET})")
                subprocess.run(["cargo", "build", "--release", "--quiet", "--locked", "--manifest-path",
                                str(BENCH / "peers" / p / "Cargo.toml")], env=env, check=True)
        except subprocess.CalledProcessError as e:
            self.skipped.append(("peers", f"peer build failed: {e}"))
            return
        self.have.add("peers")

    def make_venv(self) -> None:
        req = BENCH / "requirements.txt"
        stamp = VENV / ".requirements.sha256"
        digest = hashlib.sha256(req.read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text() == digest:
            self.have.add("venv")
            return
        log(f"making the bench venv {VENV} (pinned: {req.name})")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "-r", str(req)], check=True)
        except subprocess.CalledProcessError as e:
            self.skipped.append(("venv", f"venv setup failed: {e}"))
            return
        stamp.write_text(digest)
        self.have.add("venv")

    def start_redis(self) -> None:
        """A private redis-server on an ephemeral port: no persistence, nobody else's keys."""
        url = os.environ.get("BENCH_REDIS_URL")
        if url:
            self.ctx["redis_url"] = url
            self.have.add("redis")
            return
        exe = shutil.which("redis-server")
        if not exe:
            self.skipped.append(("redis", "redis-server not found (apt-get install redis-server) "
                                 "and BENCH_REDIS_URL unset"))
            return
        port = free_port()
        argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", str(self.tmp)]
        try:
            self.redis = Proc("redis-server", argv, dict(os.environ), re.compile(r"(Ready to accept)"))
        except RuntimeError as e:
            self.skipped.append(("redis", str(e)))
            return
        self.procs.append(self.redis)
        self.ctx["redis_url"] = f"redis://127.0.0.1:{port}/"
        self.have.add("redis")

    def check_postgres(self) -> None:
        url = os.environ.get("BENCH_DATABASE_URL")
        if not url:
            db = "sessionwarden_bench"
            base = ["psql", "-h", "127.0.0.1", "-U", os.environ.get("PGUSER", "postgres"), "-d", "postgres",
                    "-tAc"]
            try:
                exists = subprocess.run(base + [f"SELECT 1 FROM pg_database WHERE datname='{db}'"],
                                        capture_output=True, text=True, timeout=10)
                if exists.returncode != 0:
                    raise RuntimeError(exists.stderr.strip())
                if exists.stdout.strip() != "1":
                    subprocess.run(base + [f"CREATE DATABASE {db}"], check=True, capture_output=True, timeout=30)
            except (OSError, RuntimeError, subprocess.SubprocessError) as e:
                self.skipped.append(("postgres", f"no PostgreSQL on 127.0.0.1:5432 ({e}); set BENCH_DATABASE_URL"))
                return
            url = f"postgres://{os.environ.get('PGUSER', 'postgres')}@127.0.0.1:5432/{db}"
            # The bench's own database: start every run from an empty table (the scale step
            # bulk-loads it to a million rows), so runs compare like with like.
            subprocess.run(["psql", url, "-tAc", "DO $$ BEGIN IF to_regclass('sessionwarden_sessions') IS NOT NULL "
                            "THEN TRUNCATE sessionwarden_sessions; END IF; END $$"],
                           check=False, capture_output=True, timeout=60)
        self.ctx["pg_url"] = url
        self.have.add("postgres")

    def unmet(self, s: Server) -> str | None:
        for need in s.needs:
            kind, _, arg = need.partition(":")
            if kind == "store":
                m = re.search(r"--store <[A-Z_]+>(.*?)\n\s*--", self.help, re.S)
                values = re.findall(r"^\s*- ([a-z0-9-]+):", m.group(1), re.M) if m else []
                values += re.findall(r"possible values: ([^\]]+)\]", m.group(1) if m else "")
                if not any(arg == v.strip() or arg in [x.strip() for x in v.split(",")] for v in values):
                    return f"`sessionwarden serve --help` does not list --store {arg} (yet)"
            elif kind == "flag":
                m = re.search(arg, self.help)
                if not m:
                    return f"`sessionwarden serve --help` has no flag matching {arg} (yet)"
                # The flag takes the cache's capacity in sessions.
                self.ctx["cache_flag"] = m.group(0) + "=100000"
            elif need not in self.have:
                why = dict(self.skipped).get(need, "not enabled in this run")
                return f"needs {need}: {why}"
        return None

    def argv(self, s: Server, data: Path) -> list[str]:
        ctx = dict(self.ctx, data=str(data))
        out = []
        for a in s.argv:
            m = re.fullmatch(r"\{peer:([a-z0-9-]+)\}", a)
            out.append(str(PEER_TARGET / "release" / m.group(1)) if m else a.format(**ctx))
        return out

    def start(self, s: Server) -> Running | None:
        data = self.tmp / re.sub(r"[^a-z0-9]+", "-", s.name.lower())
        data.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, RUST_LOG="warn")
        env.update({k: v.format(**self.ctx) for k, v in s.env})
        try:
            proc = Proc(s.name, self.argv(s, data), env, READY)
        except (RuntimeError, OSError, KeyError) as e:
            self.fail(s.name, f"server failed to start: {e}")
            return None
        self.procs.append(proc)
        run = Running(s, proc)
        # One GET /set-session gives the session cookie used by every read and write run.
        try:
            cookie = new_session(proc.addr, "bench")
            n = max(r.sessions for r in ROUTES)
            run.cookies = [new_session(proc.addr, f"bench{i}") for i in range(n)] if n > 1 else []
        except (OSError, RuntimeError, http.client.HTTPException) as e:
            self.fail(s.name, f"session setup: {e}")
            proc.stop()
            return None
        run.cookie = cookie
        log(f"  started {s.name} on {proc.addr} (pid {proc.pid})")
        return run

    def fail(self, what: str, why: str) -> None:
        self.failed.append((what, why))
        log(f"FAIL {what}: {why}")

    # -- measuring -----------------------------------------------------------------------

    def backend_pids(self, s: Server) -> list[int]:
        if s.backend == "redis" and self.redis is not None:
            return [self.redis.pid]
        if s.backend == "postgres":
            return pids_named("postgres")
        return []

    def measure(self, run: Running, route: Route, seconds: int, conns: int | None = None) -> dict:
        a = self.args
        pids = process_tree(run.proc.pid)
        bpids = self.backend_pids(run.server)
        cpu0, bcpu0 = cpu_seconds(pids), cpu_seconds(bpids)
        w = run_wrk(run.proc.addr, route, run.cookie, seconds, conns or a.connections, a.threads, run.cookies)
        pids = process_tree(run.proc.pid)
        cpu1, bcpu1 = cpu_seconds(pids), cpu_seconds(bpids)
        if w["requests"] == 0:
            # wrk counts no error when every connection just waits: a wedged server must not
            # pass as a slow one.
            self.fail(run.server.name, f"{route.shown}: not one request answered in {seconds} s")
        n = max(w["requests"], 1)
        errors = w["err_connect"] + w["err_read"] + w["err_write"] + w["err_status"] + w["err_timeout"]
        return {
            "requests": w["requests"],
            "rps": w["requests"] / (w["duration_us"] / 1e6),
            "p50_ms": w["p50_us"] / 1000,
            "p90_ms": w["p90_us"] / 1000,
            "p99_ms": w["p99_us"] / 1000,
            "cpu_s_per_10k": (cpu1 - cpu0) / n * 10_000,
            # None when a backend process ended meanwhile (PostgreSQL backends come and go).
            "backend_cpu_s_per_10k": (bcpu1 - bcpu0) / n * 10_000 if bpids and bcpu1 >= bcpu0 else None,
            "peak_rss_mb": status_kb(pids, "VmHWM") / 1024,
            "errors": errors,
            "err_status": w["err_status"],
        }

    def check_write_visible(self, run: Running) -> None:
        """A write run must have really written: a server-side session now holds a new value."""
        if not run.server.server_side:
            return
        status, body, _ = http_get(run.proc.addr, "/get-session", run.cookie)
        if status != 200 or not body.startswith("User: u"):
            self.fail(f"{run.server.name} write", f"writes not visible to a later read: {status} {body!r}")

    def rounds(self, runs: list[Running]) -> None:
        a = self.args
        if a.warmup:
            log(f"warm-up: {a.warmup} s per server and route")
            for route in ROUTES:
                for run in runs:
                    self.measure(run, route, a.warmup)
        for r in range(a.rounds):
            # A browser keeps the cookie each response sets; wrk cannot. Once a session's
            # renewal falls due (sessionwarden: idle timeout / 8), a server that renews on read
            # would re-issue it on every request of a stale cookie. So every round starts from
            # a fresh session, as a browser's current cookie would be.
            for run in runs:
                try:
                    run.cookie = new_session(run.proc.addr, "bench")
                except (OSError, RuntimeError, http.client.HTTPException) as e:
                    self.fail(f"{run.server.name} session setup", str(e))
            for route in ROUTES:
                # Interleaved (A B C A B C ...) so drift on a shared machine hits every server.
                order = runs if r % 2 == 0 else list(reversed(runs))
                for run in order:
                    try:
                        m = self.measure(run, route, a.duration)
                    except (RuntimeError, subprocess.SubprocessError) as e:
                        self.fail(f"{run.server.name} {route.shown}", str(e))
                        continue
                    run.samples.setdefault(route.key, []).append(m)
                    log(f"  round {r + 1}/{a.rounds} {run.server.name:40} {route.shown:28} "
                        f"{m['rps']:9.0f} req/s  p99 {m['p99_ms']:6.2f} ms  "
                        f"cpu {m['cpu_s_per_10k']:.3f} s/10k  errors {m['errors']}")
                    if route.changing and route.sessions == 1:
                        self.check_write_visible(run)
        for run in runs:
            for route in ROUTES:
                samples = run.samples.get(route.key, [])
                bad = [s for s in samples if s["errors"] or not s["requests"]]
                what = f"{run.server.name} {route.shown}"
                if not samples:
                    self.fail(what, "no measurement")
                elif bad:
                    self.fail(what, f"{sum(s['errors'] for s in bad)} errors "
                                    f"({sum(s['err_status'] for s in bad)} non-2xx) in {len(bad)} run(s)")
                else:
                    self.passed += 1

    def sweep(self, runs: list[Running]) -> dict:
        conns = [c for c in (1, 2, 4, 8, 16, 32, 64, 128, 256) if c <= self.args.sweep_max]
        out: dict[str, dict[str, float]] = {}
        for run in runs:
            if not run.server.sweep:
                continue
            route = ROUTES[1]
            out[run.server.name] = {}
            for c in conns:
                m = self.measure(run, route, self.args.sweep_duration, conns=c)
                out[run.server.name][str(c)] = m["rps"]
                log(f"  sweep {run.server.name:40} c={c:<4} {m['rps']:9.0f} req/s")
        return out

    # -- scale ---------------------------------------------------------------------------

    def fill(self, run: Running, n: int) -> int:
        """Creates about n new sessions: /set-session without a cookie, a new session each."""
        made = 0
        route = Route("fill", "/set-session", cookie=False, changing=True, label="fill")
        deadline = time.monotonic() + self.args.scale_time
        while made < n and time.monotonic() < deadline:
            left = n - made
            secs = 10 if left > 100_000 else 3
            w = run_wrk(run.proc.addr, route, None, secs, 64, self.args.threads)
            made += w["requests"]
            log(f"    filled {made:,} / {n:,} sessions")
        return made

    def bulk_fill(self, s: Server, n: int) -> int:
        """Brings the SQL store's table to n rows without going through HTTP.

        Creating sessions over HTTP is bounded by one synchronous commit each (SQLite ~300/s,
        PostgreSQL ~1.5k/s here), far from 1M in a benchmark's time. Instead one INSERT ... SELECT
        copies a real record (one the server wrote in `start`) under random 32-byte store keys:
        the store's own schema and record bytes, with no user (so no user index grows). The
        server keeps running and sees the rows at once. Returns the table's row count."""
        table = "sessionwarden_sessions"
        cols = ("data, version, created, last_seen, idle_deadline, absolute_deadline, expires_at, "
                "ip_prefix, ua_hash")
        if "--store" in s.argv and s.argv[s.argv.index("--store") + 1] == "sqlite":
            db = self.tmp / re.sub(r"[^a-z0-9]+", "-", s.name.lower()) / "sessions.db"
            con = sqlite3.connect(str(db), timeout=30)
            try:
                have = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                want = max(0, n - have)
                con.execute("PRAGMA synchronous=NORMAL")
                con.execute(f"""
                    WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {want})
                    INSERT INTO {table} (store_key, {cols})
                    SELECT randomblob(32), {cols} FROM seq,
                        (SELECT {cols} FROM {table} LIMIT 1)""")
                con.commit()
                return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            finally:
                con.close()
        url = self.ctx["pg_url"]
        def psql(sql: str) -> str:
            return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-tAc", sql], check=True,
                                  capture_output=True, text=True, timeout=1800).stdout.strip()
        have = int(psql(f"SELECT count(*) FROM {table}"))
        want = max(0, n - have)
        # 32 bytes from two md5s of random input: unique keys, no extension needed.
        psql(f"""INSERT INTO {table} (store_key, {cols})
                 SELECT decode(md5(g::text || random()::text) || md5(random()::text || g::text), 'hex'), t.*
                 FROM generate_series(1, {want}) g,
                      (SELECT {cols} FROM {table} LIMIT 1) t""")
        psql(f"ANALYZE {table}")
        return int(psql(f"SELECT count(*) FROM {table}"))

    def redis_used_memory(self) -> int:
        url = self.ctx["redis_url"]
        m = re.match(r"redis://([^:/]+):(\d+)", url)
        if not m:
            return 0
        out = subprocess.run(["redis-cli", "-h", m.group(1), "-p", m.group(2), "info", "memory"],
                             capture_output=True, text=True).stdout
        hit = re.search(r"used_memory:(\d+)", out)
        return int(hit.group(1)) if hit else 0

    def scale(self, n: int, chosen: list[Server]) -> dict:
        out: dict[str, dict] = {}
        for s in chosen:
            if not s.scale:
                continue
            why = self.unmet(s)
            if why:
                out[s.name] = {"skipped": why}
                log(f"  scale: skip {s.name}: {why}")
                continue
            log(f"  scale: {s.name}: {s.scale}, {n:,} sessions")
            run = self.start(s)
            if run is None:
                out[s.name] = {"skipped": "server failed to start"}
                continue
            try:
                rss0 = status_kb(process_tree(run.proc.pid), "VmRSS")
                used0 = self.redis_used_memory() if s.scale == "redis" else 0
                t0 = time.monotonic()
                if s.scale == "rows":
                    made = self.bulk_fill(s, n)
                    res: dict = {"sessions": made, "bulk_load_s": time.monotonic() - t0}
                else:
                    made = self.fill(run, n)
                    res = {"sessions": made, "fill_rps": made / (time.monotonic() - t0)}
                if s.scale == "memory":
                    rss1 = status_kb(process_tree(run.proc.pid), "VmRSS")
                    res["bytes_per_session"] = (rss1 - rss0) * 1024 / made
                    res["rss_mb"] = rss1 / 1024
                elif s.scale == "redis":
                    used1 = self.redis_used_memory()
                    res["bytes_per_session"] = (used1 - used0) / made
                    res["redis_used_mb"] = used1 / 2**20
                for route in ROUTES[1:3]:
                    m = self.measure(run, route, self.args.duration)
                    res[f"{route.key}_rps"] = m["rps"]
                    res[f"{route.key}_p99_ms"] = m["p99_ms"]
                    res[f"{route.key}_errors"] = m["errors"]
                out[s.name] = res
                log(f"    {res}")
            finally:
                run.proc.stop()
        return out

    # -- listing pages -------------------------------------------------------------------

    def paging(self, rows: int) -> list[dict]:
        """One page of the session listing from a table of `rows` sessions, SQLite and (when the
        bench database is there) PostgreSQL: crates/sessionwarden-sql/examples/paging.rs, which
        bulk-loads its own tables and prints one JSON object per store."""
        env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
        argv = ["cargo", "run", "--release", "--quiet", "-p", "sessionwarden-sql", "--example", "paging", "--",
                "--rows", str(rows)]
        if "pg_url" in self.ctx:
            # A database of its own: the example empties its table first.
            base = self.ctx["pg_url"].rsplit("/", 1)[0]
            db = "sessionwarden_bench_paging"
            subprocess.run(["psql", f"{base}/postgres", "-tAc", f"CREATE DATABASE {db}"], capture_output=True)
            argv += ["--postgres", f"{base}/{db}"]
        log(f"  paging: {rows:,} sessions per table")
        r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        if r.returncode != 0:
            self.fail("paging", (r.stderr.strip().splitlines() or ["?"])[-1])
            return []
        out = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        for line in r.stderr.splitlines():
            if line.startswith("SKIPPED"):
                self.skipped.append(("paging postgres", line.split(":", 1)[-1].strip()))
        for o in out:
            log(f"    {o}")
        return out

    # -- criterion -----------------------------------------------------------------------

    def micro(self) -> list[dict]:
        env = dict(os.environ, CARGO_TARGET_DIR=str(TARGET))
        env.setdefault("SESSIONWARDEN_TEST_REDIS_URL", self.ctx.get("redis_url", "redis://127.0.0.1:6379/"))
        if "pg_url" in self.ctx:
            env.setdefault("SESSIONWARDEN_TEST_DATABASE_URL", self.ctx["pg_url"])
        crates = sorted({p.parent.parent.name for p in ROOT.glob("crates/*/benches/*.rs")})
        windows: list[tuple[str, float, float]] = []
        for crate in crates:
            log(f"  criterion: cargo bench -p {crate}")
            t = time.time()
            r = subprocess.run(["cargo", "bench", "--quiet", "-p", crate, "--bench", "*", "--", "--warm-up-time", "1",
                                "--measurement-time", "2", "--noplot"], cwd=ROOT, env=env,
                               capture_output=True, text=True)
            windows.append((crate, t, time.time()))
            if r.returncode != 0:
                self.skipped.append((f"criterion {crate}", (r.stderr.strip().splitlines() or ["?"])[-1]))
        rows = []
        for est in (TARGET / "criterion").glob("**/new/estimates.json"):
            mtime = est.stat().st_mtime
            # Criterion's ids don't name the crate: the crate is the one whose run wrote the file.
            crate = next((c for c, t0, t1 in windows if t0 <= mtime <= t1), None)
            if crate is None:
                continue
            bench = json.loads((est.parent / "benchmark.json").read_text())
            mean = json.loads(est.read_text())["mean"]
            rows.append({"id": f"{crate}: {bench.get('full_id') or bench.get('title')}", "ns": mean["point_estimate"],
                         "lo": mean["confidence_interval"]["lower_bound"],
                         "hi": mean["confidence_interval"]["upper_bound"]})
        return sorted(rows, key=lambda r: r["id"])

    def close(self) -> None:
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Summaries and the table.
# --------------------------------------------------------------------------------------------


def summarise(runs: list[Running]) -> list[dict]:
    rows = []
    for run in runs:
        for route in ROUTES:
            ss = run.samples.get(route.key)
            if not ss:
                continue
            med = lambda k: statistics.median(s[k] for s in ss)  # noqa: E731
            b = [s["backend_cpu_s_per_10k"] for s in ss if s["backend_cpu_s_per_10k"] is not None]
            rows.append({
                "server": run.server.name, "peer": run.server.peer, "route": route.key, "path": route.shown,
                "rounds": len(ss), "rps": med("rps"), "rps_min": min(s["rps"] for s in ss),
                "rps_max": max(s["rps"] for s in ss), "p50_ms": med("p50_ms"), "p90_ms": med("p90_ms"),
                "p99_ms": med("p99_ms"), "cpu": med("cpu_s_per_10k"),
                "cpu_min": min(s["cpu_s_per_10k"] for s in ss), "cpu_max": max(s["cpu_s_per_10k"] for s in ss),
                "backend_cpu": statistics.median(b) if b else None,
                "peak_rss_mb": max(s["peak_rss_mb"] for s in ss), "errors": sum(s["errors"] for s in ss),
            })
    ceil = next((r for r in rows if (r["server"], r["route"]) == CEILING), None)
    for r in rows:
        r["x_rps"] = r["rps"] / ceil["rps"] if ceil else None
        # CPU ratio: ceiling CPU per request / this row's, so 1.0 = as cheap as the ceiling.
        r["x_cpu"] = ceil["cpu"] / r["cpu"] if ceil and r["cpu"] > 0 else None
    return rows


def fmt(v, spec: str, dash: str = "–") -> str:
    return dash if v is None else format(v, spec)


def table(rows: list[dict]) -> str:
    head = ("| server | route | req/s | min–max | × ceiling | p50 ms | p99 ms | CPU s/10k | min–max "
            "| × ceiling (CPU) | store CPU s/10k | peak RSS MB | errors |")
    lines = [head, "|" + " --- |" * 13]
    for r in rows:
        lines.append(
            f"| {r['server']} | {r['path']} | {r['rps']:,.0f} | {r['rps_min']:,.0f}–{r['rps_max']:,.0f} "
            f"| {fmt(r['x_rps'], '.2f')} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['cpu']:.3f} "
            f"| {r['cpu_min']:.3f}–{r['cpu_max']:.3f} | {fmt(r['x_cpu'], '.2f')} "
            f"| {fmt(r['backend_cpu'], '.3f')} | {r['peak_rss_mb']:.0f} | {r['errors']} |")
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[dict]:
    by = {(r["server"], r["route"]): r for r in rows}
    out = []
    for label, num, den, goal in TARGETS:
        a, b = by.get(num), by.get(den)
        if not a or not b:
            out.append({"target": label, "goal": goal, "status": "not measured",
                        "why": f"missing {num if not a else den}"})
            continue
        x_rps = a["rps"] / b["rps"]
        # CPU per request of the denominator over the numerator's (steadier on 2 cores).
        x_cpu = b["cpu"] / a["cpu"] if a["cpu"] > 0 else None
        met = x_rps >= goal
        out.append({"target": label, "goal": goal, "x_rps": x_rps, "x_cpu": x_cpu,
                    "status": "met" if met else f"missed by {(goal - x_rps) / goal:.0%}",
                    "cpu_status": None if x_cpu is None else ("met" if x_cpu >= goal else "missed")})
    return out


def targets_table(ts: list[dict]) -> str:
    lines = ["| target | goal | measured (req/s) | measured (CPU/req) | result |", "| --- | --- | --- | --- | --- |"]
    for t in ts:
        if "x_rps" not in t:
            lines.append(f"| {t['target']} | {t['goal']} | – | – | {t['status']}: {t['why']} |")
        else:
            lines.append(f"| {t['target']} | {t['goal']} | {t['x_rps']:.2f} | {fmt(t['x_cpu'], '.2f')} "
                         f"| {t['status']} (by CPU: {t['cpu_status']}) |")
    return "\n".join(lines)


def machine() -> dict:
    def sh(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "?"
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cpu": cpu.group(1) if cpu else platform.processor(), "cores": os.cpu_count(),
        "memory_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "kernel": platform.release(), "os": sh(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"]),
        "rustc": sh(["rustc", "--version"]), "wrk": sh(["sh", "-c", "wrk --version 2>&1 | head -1"]),
        "python": platform.python_version(),
        "commit": sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
        + (" + uncommitted changes" if sh(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no",
                                            "--", "crates", "Cargo.toml", "Cargo.lock"]) else ""),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="CI mode: memory + cookie, ~2 s per route, no peers")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of warm-up per server and route (0: none)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (one core for the client)")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--only", action="append", default=[], help="only servers whose name contains this")
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--sweep-max", type=int, default=256)
    ap.add_argument("--sweep-duration", type=int, default=2)
    ap.add_argument("--scale", type=int, default=1_000_000, help="sessions for the scale figures (0: skip)")
    ap.add_argument("--scale-time", type=int, default=180,
                    help="stop filling a store after this many seconds (the table says how many it got)")
    ap.add_argument("--no-micro", action="store_true", help="skip the criterion benches")
    ap.add_argument("--paging-rows", type=int, default=1_000_000,
                    help="sessions per table for the listing-page figures (0: skip; smoke: 10 000)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries already built")
    ap.add_argument("--results", type=Path, default=None,
                    help="write RESULTS.md here (default: bench/RESULTS.md in a full run, none in smoke)")
    ap.add_argument("--report-only", type=Path, metavar="JSON",
                    help="measure nothing: rewrite RESULTS.md and the plots from a saved bench/out/results-*.json")
    ap.add_argument("--micro-only", action="store_true",
                    help="run only the criterion benches and fold them into the saved full run's RESULTS.md")
    a = ap.parse_args()
    if a.micro_only:
        import report  # bench/report.py, stdlib only
        src = OUT / "results-full.json"
        result = json.loads(src.read_text())
        h = Harness(a)
        try:
            h.start_redis()
            h.check_postgres()
            result["micro"] = h.micro()
            m = machine()
            result["micro_at"] = f"commit `{m['commit']}`, {m['date']}"
        finally:
            h.close()
        result["skipped"] = [s for s in result["skipped"] if not s[0].startswith("criterion")]
        result["skipped"] += [s for s in h.skipped if s[0].startswith("criterion")]
        result["targets"] = targets(result["rows"])
        src.write_text(json.dumps(result, indent=1))
        path = a.results or BENCH / "RESULTS.md"
        report.write(result, path, src=src)
        print(f"wrote {path} ({len(result['micro'])} criterion benchmarks)")
        return 0
    if a.report_only:
        import report  # bench/report.py, stdlib only
        result = json.loads(a.report_only.read_text())
        result["targets"] = targets(result["rows"])  # the targets as this version states them
        path = a.results or BENCH / "RESULTS.md"
        report.write(result, path, src=a.report_only)
        print(f"wrote {path}")
        return 0
    if a.smoke:
        a.rounds, a.duration, a.warmup, a.no_peers, a.no_sweep, a.scale, a.no_micro = 1, 2, 0, True, True, 0, True
        a.paging_rows = min(a.paging_rows, 10_000)
    elif a.results is None:
        a.results = BENCH / "RESULTS.md"

    ensure_wrk()
    h = Harness(a)
    t0 = time.monotonic()
    # What is measured is what the tree holds at the start (the build step builds it).
    host = machine()
    try:
        if not a.no_build:
            h.build()
        else:
            h.help = subprocess.run([h.ctx["sw"], "serve", "--help"], capture_output=True, text=True).stdout
        chosen = [s for s in SERVERS if (s.smoke or not a.smoke) and (not s.peer or not a.no_peers)
                  and (not a.only or any(o in s.name for o in a.only))]
        if any(s.peer for s in chosen):
            if not a.no_build:
                h.build_peers()
            else:
                h.have.add("peers")
            h.make_venv()
        if any("redis" in s.needs for s in chosen):
            h.start_redis()
        if any("postgres" in s.needs for s in chosen):
            h.check_postgres()
        runs = []
        log("starting servers")
        for s in chosen:
            why = h.unmet(s)
            if why:
                h.skipped.append((s.name, why))
                log(f"  skip {s.name}: {why}")
                continue
            run = h.start(s)
            if run:
                runs.append(run)
        log(f"measuring {len(runs)} servers × {len(ROUTES)} routes × {a.rounds} rounds × {a.duration} s "
            f"(wrk -t{a.threads} -c{a.connections})")
        h.rounds(runs)
        OUT.mkdir(exist_ok=True)
        # Saved now too, so that a later phase failing or being stopped loses no round.
        (OUT / "rounds-partial.json").write_text(json.dumps(summarise(runs), indent=1))
        sweep = {} if a.no_sweep else h.sweep(runs)
        rss = {r.server.name: status_kb(process_tree(r.proc.pid), "VmHWM") / 1024 for r in runs}
        for run in runs:
            run.proc.stop()
        scale = h.scale(a.scale, chosen) if a.scale else {}
        if a.paging_rows and not a.smoke and "pg_url" not in h.ctx:
            h.check_postgres()
        paging = h.paging(a.paging_rows) if a.paging_rows else []
        micro = [] if a.no_micro else h.micro()
    finally:
        h.close()

    rows = summarise(runs)
    if not rows:
        h.fail("table", "no measurements: the table cannot be produced")
    elif not any((r["server"], r["route"]) == CEILING for r in rows):
        h.fail("table", f"the ceiling {CEILING} was not measured: no ratios")
    ts = targets(rows)
    result = {"mode": "smoke" if a.smoke else "full", "machine": host, "args": vars(a) | {"results": str(a.results)},
              "rows": rows, "targets": ts, "sweep": sweep, "scale": scale, "paging": paging, "micro": micro, "peak_rss_mb": rss,
              "skipped": h.skipped, "failed": h.failed, "elapsed_s": time.monotonic() - t0}
    OUT.mkdir(exist_ok=True)
    (OUT / f"results-{result['mode']}.json").write_text(json.dumps(result, indent=1))
    print()
    print(table(rows) if rows else "(no table)")
    print()
    if not a.smoke:
        print(targets_table(ts))
        print()
    for what, why in h.skipped:
        print(f"skipped {what}: {why}")
    if a.results and rows:
        import report  # bench/report.py, stdlib only
        report.write(result, a.results)
        print(f"wrote {a.results.relative_to(ROOT) if a.results.is_relative_to(ROOT) else a.results}")
    print(f"{result['mode']}: {h.passed} passed, {len(h.failed)} failed")
    return 1 if h.failed else 0


if __name__ == "__main__":
    sys.exit(main())
