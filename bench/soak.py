#!/usr/bin/env python3
"""Soak test under faults: mixed traffic against the reference server on every durable store
while the backends fail around it, with a ledger of acknowledged writes.

    bench/soak                      # 30 minutes, SQLite, PostgreSQL, Redis, Redis Cluster
    bench/soak --minutes 2          # a short run (the same checks)
    bench/soak --stores sqlite,redis --minutes 5

One server per store (the release binary), each driven by worker threads that log in,
read and append notes (CSRF-protected POSTs), take JWTs and rotate refresh tokens. Meanwhile:

- Redis (a private single node and a private three-node Cluster, both with an fsync-always
  append-only file, on ports of their own) is restarted every 5 minutes (`--redis-every`);
- PostgreSQL connections of the soak database are killed every minute (`--pg-every`);
- every server's keyring is rotated every 2 minutes (`--rotate-every`), which the servers
  pick up without a restart;
- slow clients hold connections open with half-sent headers (`--slow-clients` per server).

It passes when there are zero 500s, zero requests slower than 2 s (a hang), zero
acknowledged writes lost (every note a 200 answered must be in every later 200 read of that
session), and RSS after warm-up (the first fifth of the run) stays within 10 % of its value
at the end of warm-up. 503 answers while a backend is down are expected and counted.
Writes `bench/results/soak/REPORT.md`, `samples.csv` and, with matplotlib (the bench venv), plots of
throughput, latency and RSS over time. Exit status 1 when a check fails.

Only loopback addresses are used; every loop is bounded by the run's deadline.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HANG_SECONDS = 2.0
USER, PASSWORD = "soak", "soak-password-1"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/test"
PG_DB = "sessionwarden_soak"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise SystemExit(f"soak: timed out waiting for {what}")


# ---------------------------------------------------------------------------------------
# Private Redis servers (single node and cluster), restartable with their data.


class RedisNode:
    def __init__(self, base: Path, port: int, cluster: bool):
        self.port, self.cluster = port, cluster
        self.dir = base / f"redis-{port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no"]
        if self.cluster:
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                     "--cluster-node-timeout", "2000"]
        log = open(self.dir / "redis.log", "a")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        wait_until(self.ping, 30, f"redis on {self.port} (log: {self.dir / 'redis.log'})")

    def ping(self) -> bool:
        r = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True)
        return r.stdout.strip() == "PONG"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cluster_ok(port: int) -> bool:
    r = subprocess.run(["redis-cli", "-p", str(port), "cluster", "info"], capture_output=True, text=True)
    return "cluster_state:ok" in r.stdout


# ---------------------------------------------------------------------------------------
# Servers under test.


def throttle_off(binary: Path) -> list[str]:
    """Every soak client is one loopback client: the per-client rate limits would refuse
    its logins and new sessions, which is not what this run measures."""
    help_text = subprocess.run([str(binary), "serve", "--help"], capture_output=True, text=True).stdout
    return ["--throttle-mode", "off"] if "--throttle-mode" in help_text else []


@dataclass
class Server:
    store: str
    data: Path
    args: list[str]
    proc: subprocess.Popen | None = None
    addr: str = ""
    log: Path | None = None

    def start(self, binary: Path) -> None:
        self.log = self.data / "server.log"
        out = open(self.log, "w")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(self.data),
             "--insecure-cookies", "--demo-user", f"{USER}:{PASSWORD}", *throttle_off(binary), *self.args],
            stdout=out, stderr=out, env={**os.environ, "RUST_LOG": "warn,sessionwarden::server=info"})

        def listening() -> bool:
            for line in self.log.read_text(errors="replace").splitlines():
                if "listening" in line and "http://" in line:
                    self.addr = line.split("http://", 1)[1].split()[0]
                    return True
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: the {self.store} server exited:\n{self.log.read_text()}")
            return False

        wait_until(listening, 60, f"the {self.store} server")

    def rss_kib(self) -> int:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# ---------------------------------------------------------------------------------------
# Traffic.


@dataclass
class Stats:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[int, int] = field(default_factory=dict)
    window: list[float] = field(default_factory=list)  # latencies since the last sample
    hangs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    acked: int = 0
    total: int = 0

    def note(self, status: int, seconds: float, what: str) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.window.append(seconds)
            self.total += 1
            if seconds > HANG_SECONDS:
                self.hangs.append(f"{what}: {seconds:.2f} s")
            if status >= 500 and status != 503:
                self.errors.append(f"{what}: {status}")

    def take_window(self) -> list[float]:
        with self.lock:
            w, self.window = self.window, []
            return w


class Client:
    """One browser-like client: a keep-alive connection, a cookie jar of one session."""

    def __init__(self, addr: str, stats: Stats):
        self.addr, self.stats = addr, stats
        self.conn: http.client.HTTPConnection | None = None
        self.cookie = ""
        self.csrf = ""

    def request(self, method: str, path: str, body: dict | None = None, headers: dict | None = None):
        headers = dict(headers or {})
        headers["Host"] = self.addr
        headers["Sec-Fetch-Site"] = "same-origin"
        if self.cookie:
            headers["Cookie"] = self.cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST" and self.csrf:
            headers["X-CSRF-Token"] = self.csrf
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.addr, timeout=10)
                self.conn.request(method, path, body=data, headers=headers)
                res = self.conn.getresponse()
                payload = res.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                # A kept-alive connection the server closed (idle timeout) is retried once on
                # a new one, as browsers do; a second failure is a real error.
                self.conn = None
                if attempt == 2:
                    self.stats.note(599, time.monotonic() - started, f"{method} {path}: {e!r}")
                    with self.stats.lock:
                        self.stats.errors.append(f"{method} {path}: {e!r}")
                    return 599, None
        seconds = time.monotonic() - started
        for k, v in res.getheaders():
            if k.lower() == "set-cookie":
                pair = v.split(";", 1)[0]
                if "Max-Age=0" in v or pair.endswith("="):
                    self.cookie = ""
                else:
                    self.cookie = pair
        self.stats.note(res.status, seconds, f"{method} {path}")
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = None
        return res.status, parsed


def worker(addr: str, stats: Stats, deadline: float, seed: int) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        c = Client(addr, stats)
        status, body = c.request("GET", "/csrf-token")
        if status != 200:
            time.sleep(0.2)
            continue
        c.csrf = body["csrf_token"]
        status, body = c.request("POST", "/login", {"username": USER, "password": PASSWORD})
        if status != 200:
            time.sleep(0.2)
            continue
        c.csrf = body["csrf_token"]
        ledger: list[str] = []
        refresh = None
        for _ in range(rng.randint(100, 300)):
            if time.monotonic() >= deadline:
                break
            roll = rng.random()
            if roll < 0.55:
                status, body = c.request("GET", "/notes")
                if status == 200:
                    have = set(body["notes"])
                    missing = [n for n in ledger if n not in have]
                    if missing:
                        with stats.lock:
                            stats.lost.append(f"{len(missing)} acknowledged notes missing, e.g. {missing[0]}")
                        ledger = [n for n in ledger if n in have]
            elif roll < 0.85:
                if len(ledger) >= 200:
                    continue  # keep records well under --max-session-size
                note = uuid.uuid4().hex
                status, _ = c.request("POST", "/notes", {"note": note})
                if status == 200:
                    ledger.append(note)
                    with stats.lock:
                        stats.acked += 1
            elif roll < 0.93 or refresh is None:
                status, body = c.request("GET", "/token")
                if status == 200:
                    refresh = body.get("refresh_token")
            else:
                status, body = c.request("POST", "/token/refresh", {"refresh_token": refresh})
                refresh = body.get("refresh_token") if status == 200 and body else None
        c.request("POST", "/logout")


def slow_clients(addr: str, n: int, deadline: float, closed_after: list[float], lock: threading.Lock) -> None:
    """Holds up to `n` connections that send half their headers and stall; records how long
    the server took to close each."""
    host, port = addr.rsplit(":", 1)
    socks: list[tuple[socket.socket, float]] = []
    while time.monotonic() < deadline:
        while len(socks) < n and time.monotonic() < deadline:
            try:
                s = socket.create_connection((host, int(port)), timeout=5)
                s.sendall(b"GET /notes HTTP/1.1\r\nHost: soak\r\nX-Slow: ")
                s.setblocking(False)
                socks.append((s, time.monotonic()))
            except OSError:
                break
        time.sleep(0.5)
        alive = []
        for s, opened in socks:
            try:
                if s.recv(1024) == b"":
                    raise ConnectionResetError
                alive.append((s, opened))  # the server answered (408): it closes next
            except BlockingIOError:
                alive.append((s, opened))
            except OSError:
                with lock:
                    closed_after.append(time.monotonic() - opened)
                s.close()
        socks = alive
    for s, _ in socks:
        s.close()


# ---------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--stores", default="sqlite,postgres,redis,redis-cluster")
    ap.add_argument("--workers", type=int, default=4, help="client threads per server")
    ap.add_argument("--slow-clients", type=int, default=50, help="stalled connections per server")
    ap.add_argument("--redis-every", type=float, default=300, help="seconds between Redis restarts")
    ap.add_argument("--pg-every", type=float, default=60, help="seconds between killing PostgreSQL connections")
    ap.add_argument("--rotate-every", type=float, default=120, help="seconds between key rotations")
    ap.add_argument("--sample-every", type=float, default=5)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "soak")
    ap.add_argument("--binary", type=Path,
                    default=Path(os.environ.get("CARGO_TARGET_DIR", "/var/cache/sessionwarden/target")) / "release/sessionwarden")
    ap.add_argument("--no-build", action="store_true", help="use --binary as it is")
    a = ap.parse_args()
    # A stopped run still stops its servers and Redis nodes and drops its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stores = [s for s in a.stores.split(",") if s]
    if not a.no_build:
        env = {**os.environ, "CARGO_TARGET_DIR": str(a.binary.parents[1])}
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "sessionwarden-server"], cwd=ROOT,
                       env=env, check=True)
    base = Path(tempfile.mkdtemp(prefix="sessionwarden-soak-"))
    nodes: list[RedisNode] = []
    servers: list[Server] = []
    try:
        redis_single = redis_cluster = None
        if "redis" in stores:
            redis_single = RedisNode(base, free_port(), cluster=False)
            redis_single.start()
            nodes.append(redis_single)
        if "redis-cluster" in stores:
            redis_cluster = [RedisNode(base, free_port(), cluster=True) for _ in range(3)]
            for n in redis_cluster:
                n.start()
            nodes.extend(redis_cluster)
            subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{n.port}" for n in redis_cluster],
                            "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True)
            wait_until(lambda: cluster_ok(redis_cluster[0].port), 30, "the Redis Cluster")
        if "postgres" in stores:
            subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"], check=True)
            subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {PG_DB}"], check=True)
        for store in stores:
            data = base / f"server-{store}"
            data.mkdir()
            args = {
                "sqlite": ["--store", "sqlite"],
                "postgres": ["--store", "postgres", "--database-url", f"postgres://postgres@127.0.0.1:5432/{PG_DB}"],
                "redis": ["--store", "redis", "--redis-url", f"redis://127.0.0.1:{redis_single.port if redis_single else 0}/"],
                "redis-cluster": ["--store", "redis", "--redis-url",
                                  ",".join(f"redis://127.0.0.1:{n.port}/" for n in redis_cluster or [])],
            }[store]
            s = Server(store, data, args)
            s.start(a.binary)
            servers.append(s)
            print(f"soak: {store} server on {s.addr}", flush=True)

        seconds = a.minutes * 60
        start = time.monotonic()
        deadline = start + seconds
        stats = {s.store: Stats() for s in servers}
        closed_after: dict[str, list[float]] = {s.store: [] for s in servers}
        slow_lock = threading.Lock()
        faults: list[tuple[float, str]] = []
        threads = []
        for i, s in enumerate(servers):
            for w in range(a.workers):
                threads.append(threading.Thread(target=worker, args=(s.addr, stats[s.store], deadline, i * 100 + w), daemon=True))
            if a.slow_clients:
                threads.append(threading.Thread(target=slow_clients,
                                                args=(s.addr, a.slow_clients, deadline, closed_after[s.store], slow_lock),
                                                daemon=True))
        for t in threads:
            t.start()

        samples = []
        next_sample = start + a.sample_every
        next_redis = start + a.redis_every
        next_pg = start + a.pg_every
        next_rotate = start + a.rotate_every
        last_total = {s.store: 0 for s in servers}
        while time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_redis and nodes:
                next_redis += a.redis_every
                for n in nodes:
                    n.stop()
                for n in nodes:
                    n.start()
                if redis_cluster:
                    wait_until(lambda: cluster_ok(redis_cluster[0].port), 60, "the Redis Cluster after a restart")
                faults.append((now - start, "redis restarted"))
            if now >= next_pg and "postgres" in stores:
                next_pg += a.pg_every
                subprocess.run(["psql", PG_ADMIN, "-qAtc",
                                f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{PG_DB}'"],
                               capture_output=True)
                faults.append((now - start, "postgres connections killed"))
            if now >= next_rotate:
                next_rotate += a.rotate_every
                for s in servers:
                    subprocess.run([str(a.binary), "keys", "rotate", "--data-dir", str(s.data)], capture_output=True, check=True)
                faults.append((now - start, "keys rotated"))
            if now >= next_sample:
                next_sample += a.sample_every
                for s in servers:
                    st = stats[s.store]
                    lat = sorted(st.take_window())
                    with st.lock:
                        total = st.total
                    done = total - last_total[s.store]
                    last_total[s.store] = total
                    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e3 if lat else 0.0
                    samples.append({"t": round(now - start, 1), "store": s.store, "rps": round(done / a.sample_every, 1),
                                    "p50_ms": round(p(0.5), 2), "p99_ms": round(p(0.99), 2), "max_ms": round(p(1.0), 2),
                                    "rss_kib": s.rss_kib()})
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=30)
        hung_threads = [t for t in threads if t.is_alive()]
        return report(a, servers, stats, closed_after, samples, faults, seconds, hung_threads)
    finally:
        for s in servers:
            s.stop()
        for n in nodes:
            n.stop()
        if "postgres" in stores:
            subprocess.run(["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def report(a, servers, stats, closed_after, samples, faults, seconds, hung_threads) -> int:
    a.out.mkdir(parents=True, exist_ok=True)
    with open(a.out / "samples.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["t", "store", "rps", "p50_ms", "p99_ms", "max_ms", "rss_kib"])
        w.writeheader()
        w.writerows(samples)
    warm = seconds / 5
    lines = [f"# Soak under faults\n",
             f"{a.minutes:g} minutes, stores {', '.join(s.store for s in servers)}, {a.workers} client threads and "
             f"{a.slow_clients} stalled connections per server; Redis restarted every {a.redis_every:g} s, PostgreSQL "
             f"connections killed every {a.pg_every:g} s, keys rotated every {a.rotate_every:g} s. Generated by "
             f"`bench/soak`; {len(faults)} faults injected.\n",
             "| store | requests | 200 | 503 | other 5xx | hangs > 2 s | acknowledged writes | lost | RSS at warm-up end | max RSS after | ratio | slow connections closed (median s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    failures = []
    for s in servers:
        st = stats[s.store]
        rss = [x["rss_kib"] for x in samples if x["store"] == s.store and x["t"] >= warm and x["rss_kib"]]
        base_rss = rss[0] if rss else 0
        peak = max(rss) if rss else 0
        ratio = peak / base_rss if base_rss else float("nan")
        other5xx = sum(n for code, n in st.statuses.items() if code >= 500 and code != 503)
        closes = closed_after[s.store]
        med = statistics.median(closes) if closes else float("nan")
        lines.append(f"| {s.store} | {st.total} | {st.statuses.get(200, 0)} | {st.statuses.get(503, 0)} | {other5xx} | "
                     f"{len(st.hangs)} | {st.acked} | {len(st.lost)} | {base_rss / 1024:.1f} MiB | {peak / 1024:.1f} MiB | "
                     f"{ratio:.3f} | {len(closes)} ({med:.1f}) |")
        if other5xx:
            failures.append(f"{s.store}: {other5xx} 5xx other than 503: {st.errors[:5]}")
        if st.hangs:
            failures.append(f"{s.store}: {len(st.hangs)} requests over {HANG_SECONDS} s: {st.hangs[:5]}")
        if st.lost:
            failures.append(f"{s.store}: acknowledged writes lost: {st.lost[:5]}")
        if not (ratio <= 1.10):
            failures.append(f"{s.store}: RSS grew to {ratio:.3f} of its post-warm-up value")
        if st.acked == 0:
            failures.append(f"{s.store}: no write was acknowledged")
    if hung_threads:
        failures.append(f"{len(hung_threads)} client threads still running 30 s after the deadline")
    lines.append("")
    lines.append("Result: " + ("**pass**" if not failures else "**fail**"))
    lines += [f"- {f}" for f in failures]
    lines.append("")
    lines.append("Faults: " + "; ".join(f"{t:.0f} s {what}" for t, what in faults[:60]))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        for metric, label, name in (("rps", "requests/s", "throughput"), ("p99_ms", "p99 latency (ms)", "latency"),
                                    ("rss_kib", "RSS (KiB)", "rss")):
            fig, ax = plt.subplots(figsize=(9, 3.5))
            for s in servers:
                xs = [x for x in samples if x["store"] == s.store]
                ax.plot([x["t"] for x in xs], [x[metric] for x in xs], label=s.store)
            for t, what in faults:
                if what == "redis restarted":
                    ax.axvline(t, color="grey", lw=0.6, ls="--")
            ax.set_xlabel("seconds (dashed: Redis restarts)")
            ax.set_ylabel(label)
            ax.legend(loc="best", fontsize=8)
            fig.tight_layout()
            fig.savefig(a.out / f"soak-{name}.png", dpi=110)
            plt.close(fig)
            lines.append(f"\n![{name}](soak-{name}.png)")
    except ImportError:
        lines.append("\n(no plots: matplotlib is not installed; `bench/run` makes the venv that has it)")
    (a.out / "REPORT.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
