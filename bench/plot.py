"""Draws the PNG plots for RESULTS.md from a results JSON written by bench/run.py.

Run by bench/run.py with the bench venv's python (matplotlib pinned in requirements.txt):
    bench/.venv/bin/python bench/plot.py bench/out/results-full.json bench/results
"""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROUTES = (("none", "/healthz (no session)"), ("read", "/get-session (read)"), ("write", "/set-session (write)"),
          ("write64", "/set-session (write, 64 sessions)"))
COLORS = {"none": "#9e9e9e", "read": "#1f77b4", "write": "#ff7f0e", "write64": "#ffbb78"}


def servers(rows):
    seen = []
    for r in rows:
        if r["server"] not in seen:
            seen.append(r["server"])
    return seen


def rps_by_store(res, out):
    rows = res["rows"]
    names = servers(rows)
    by = {(r["server"], r["route"]): r for r in rows}
    fig, ax = plt.subplots(figsize=(9, 0.7 * len(names) + 1.5), dpi=80)
    h = 0.2
    for i, (key, label) in enumerate(ROUTES):
        ys = [n + (i - 1.5) * h for n in range(len(names))]
        vals = [by[(s, key)]["rps"] if (s, key) in by else 0 for s in names]
        errs = [[v - by[(s, key)]["rps_min"] if (s, key) in by else 0 for s, v in zip(names, vals)],
                [by[(s, key)]["rps_max"] - v if (s, key) in by else 0 for s, v in zip(names, vals)]]
        ax.barh(ys, vals, h, xerr=errs, label=label, color=COLORS[key], capsize=2)
        for y, v in zip(ys, vals):
            if v:
                ax.text(v, y, f" {v:,.0f}", va="center", fontsize=7)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("requests/s (median of rounds; whiskers: min–max)")
    ax.set_title(f"sessionwarden stores beside peers — wrk -c{res['args']['connections']}, loopback")
    ax.legend(fontsize=8, loc="lower right")
    ax.margins(x=0.15)
    fig.tight_layout()
    fig.savefig(out / "rps.png")
    plt.close(fig)


def latency(res, out):
    rows = [r for r in res["rows"] if r["route"] in ("read", "write")]
    names = servers(rows)
    by = {(r["server"], r["route"]): r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(names) + 1.8), dpi=80, sharey=True)
    for ax, key in zip(axes, ("read", "write")):
        for i, (pct, color) in enumerate((("p50_ms", "#2ca02c"), ("p90_ms", "#1f77b4"), ("p99_ms", "#d62728"))):
            ys = [n + (i - 1) * 0.27 for n in range(len(names))]
            ax.barh(ys, [by[(s, key)][pct] if (s, key) in by else 0 for s in names], 0.27,
                    label=pct.split("_")[0], color=color)
        ax.set_xscale("log")
        ax.set_title(f"GET /{'get' if key == 'read' else 'set'}-session ({key})", fontsize=9)
        ax.set_xlabel("latency, ms (log scale)")
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names, fontsize=8)
    axes[0].invert_yaxis()
    axes[1].legend(fontsize=8)
    fig.suptitle("latency percentiles (median of rounds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "latency.png")
    plt.close(fig)


def sweep(res, out):
    if not res.get("sweep"):
        return
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=80)
    for name, pts in res["sweep"].items():
        xs = sorted(int(c) for c in pts)
        ax.plot(xs, [pts[str(c)] for c in xs], marker="o", label=name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("wrk connections")
    ax.set_ylabel("requests/s")
    ax.set_title("GET /get-session (read): throughput by connections")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "sweep.png")
    plt.close(fig)


def main():
    res = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    rps_by_store(res, out)
    latency(res, out)
    sweep(res, out)


if __name__ == "__main__":
    main()
