"""Benchmark 7: the Compose lab as it grows, each dissemination strategy in turn.

Owns one question: what does `docker compose up --scale peer=N` cost this machine, and is
the lab still calm? For each size and strategy it brings up a lab of its own (project
`gossip-scale`, every port chosen by Docker on 127.0.0.1, Grafana left out: it has no local
image here), and records:
- the seconds from `up` until Prometheus sees every node up and converged (None: not
  within the limit);
- over the measuring window, how long updates take to reach every node, from the
  `origin:gossip_update_reach_all_seconds:max` recording rule (p50, p99, max);
- the node containers' summed CPU and Prometheus's, from `docker stats` (median of its
  samples), in % of one core;
- missed scrapes: the share of 1 s samples of `count(up{job="gossip"} == 1)` below N + 1.
Then the lab is taken down (volumes included), so each size starts from nothing.

Not in the default run (`python -m lab.bench`): it needs a Docker engine and takes minutes
a size; `python -m lab.bench --only scale`. Sizes: 10, 30, 60, 100 (`--quick`: 5, 10, with a
shorter window). Local processes (`lab.cluster`) are benchmark 3's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lab.bench.report import Column, Result, frame, plot
from lab.hostnet import arp_warning

__all__ = ["node_cpu", "quantile", "run_benchmark"]

PROJECT = "gossip-scale"
ROOT = Path(__file__).resolve().parents[2]
SIZES = (10, 30, 60, 100)
QUICK_SIZES = (5, 10)
STRATEGIES = ("tree", "push")
#: Seconds an `up` may take to converge before the size is recorded as not converging.
CONVERGE_LIMIT_S = 180.0
#: Seconds between convergence and the window: the recording rule keeps each origin's
#: last reach-all value until its next update, and a node that joined late counts its
#: delay from the origin's send, so the values of the joins must have been replaced (every
#: node makes a new update within 13 s at the default ~10 s pace).
SETTLE_S = 15.0
UP = 'count(up{job="gossip"} == 1)'
CONVERGED = "cluster:gossip_converged:ratio"
REACH = "origin:gossip_update_reach_all_seconds:max"


def run_benchmark(quick: bool, out: Path, say: Callable[[str], None] = print) -> Result:
    sizes = QUICK_SIZES if quick else SIZES
    window_s = 30.0 if quick else 120.0
    env = {**os.environ, "LAB_BOOTSTRAP_PORT": "0", "LAB_GRAFANA_PORT": "0"}
    _compose(env, "build", "bootstrap", timeout=900)
    rows = []
    for strategy in STRATEGIES:
        for n in sizes:
            say(f"  {n} peers, {strategy}: up")
            row = _measure(n, strategy, window_s, env, say)
            rows.append(row)
            say(
                f"  {n} peers, {strategy}: converged {_show(row['converged_s'], 's')}, "
                f"reach p99 {_show(row['reach_p99_s'], 's')}, nodes' CPU "
                f"{row['nodes_cpu']:.0f} %, missed scrapes {row['missed_scrapes']:.0%}"
            )
    result = Result("scale", "7. The Compose lab as it grows")
    result.tables.append(
        (
            f"`docker compose up --scale peer=N` (N peers + the bootstrap node), default "
            f"settings but the strategy; converged = seconds from `up` until Prometheus sees "
            f"all up and converged (limit {CONVERGE_LIMIT_S:.0f} s); {SETTLE_S:.0f} s later, a "
            f"{window_s:.0f} s window: reach-all from the recording rule, CPU from docker "
            "stats (% of one core, median of samples), missed = share of 1 s samples with a "
            "node not up.",
            COLUMNS,
            rows,
        )
    )
    for row in rows:
        if row["peers"] == 100 and row["strategy"] == "tree":
            calm = (
                row["converged_s"] is not None
                and row["converged_s"] <= 120
                and row["reach_p99_s"] is not None
                and row["reach_p99_s"] < 1.0
                and row["missed_scrapes"] == 0
                and row["nodes_cpu"] <= 100
            )
            result.aim(
                "100 peers: converged within 120 s, reach-all p99 < 1 s, no missed scrape, "
                "nodes' CPU at most one core",
                f"converged {_show(row['converged_s'], 's')}, p99 "
                f"{_show(row['reach_p99_s'], 's')}, missed {row['missed_scrapes']:.0%}, "
                f"CPU {row['nodes_cpu']:.0f} %",
                calm,
            )
    result.data = {"rows": rows, "window_s": window_s}
    result.files += _plot(out, rows)
    return result


def _measure(
    n: int, strategy: str, window_s: float, base: dict[str, str], say: Callable[[str], None]
) -> dict[str, Any]:
    env = {**base, "GOSSIP_STRATEGY": strategy, "LAB_PROMETHEUS_PORT": "0"}
    row: dict[str, Any] = {"peers": n, "nodes": n + 1, "strategy": strategy}
    warning = arp_warning(n + 1)
    row["arp_room"] = warning is None
    if warning:
        say(f"    warning: {warning}")
    try:
        t0 = time.monotonic()
        _compose(env, "up", "-d", "--scale", f"peer={n}", "bootstrap", "peer", "prometheus")
        row["up_s"] = time.monotonic() - t0
        prom = "http://" + _compose(env, "port", "prometheus", "9090").strip()
        row["converged_s"] = None
        deadline = t0 + CONVERGE_LIMIT_S
        last = 0.0
        while time.monotonic() < deadline:
            if _scalar(prom, UP) == n + 1 and _scalar(prom, CONVERGED) == 1.0:
                row["converged_s"] = time.monotonic() - t0
                break
            if time.monotonic() - last > 20:
                last = time.monotonic()
                say(f"    waiting: up {_scalar(prom, UP):.0f}/{n + 1}")
            time.sleep(2)
        time.sleep(SETTLE_S)
        cpus: list[tuple[float, float]] = []
        end = time.monotonic() + window_s
        while time.monotonic() < end - 5:
            cpus.append(node_cpu(_stats(), PROJECT))
            time.sleep(min(10.0, max(0.0, end - time.monotonic() - 5)))
        time.sleep(max(0.0, end - time.monotonic()))
        ups = _span(prom, UP, window_s)
        # a lab that never converged has no reach-all to speak of: the rule's few values
        # then come from the handful of nodes Prometheus could scrape
        reach = sorted(_span(prom, REACH, window_s)) if row["converged_s"] is not None else []
        row.update(
            {
                "reach_p50_s": quantile(reach, 0.5),
                "reach_p99_s": quantile(reach, 0.99),
                "reach_max_s": reach[-1] if reach else None,
                "nodes_cpu": statistics.median(c[0] for c in cpus) if cpus else 0.0,
                "prometheus_cpu": statistics.median(c[1] for c in cpus) if cpus else 0.0,
                "missed_scrapes": (sum(1 for u in ups if u < n + 1) / len(ups) if ups else 1.0),
            }
        )
    finally:
        _compose(env, "down", "-v", "--remove-orphans", timeout=600, check=False)
    return row


def node_cpu(stats: str, project: str) -> tuple[float, float]:
    """(the node containers' summed CPU, Prometheus's), in % of one core, from lines of
    `docker stats --format '{{.Name}} {{.CPUPerc}}'` (other projects' containers ignored)."""
    nodes = prometheus = 0.0
    for line in stats.splitlines():
        name, _, cpu = line.strip().partition(" ")
        if not name.startswith(project + "-") or not cpu.strip().endswith("%"):
            continue
        value = float(cpu.strip().rstrip("%"))
        service = name[len(project) + 1 :].rsplit("-", 1)[0]
        if service in ("bootstrap", "peer"):
            nodes += value
        elif service == "prometheus":
            prometheus += value
    return nodes, prometheus


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The q-quantile of sorted values, nearest rank below (None for none)."""
    if not ordered:
        return None
    return ordered[int(q * (len(ordered) - 1))]


def _stats() -> str:
    return subprocess.run(
        ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout


def _compose(env: dict[str, str], *args: str, timeout: float = 600, check: bool = True) -> str:
    r = subprocess.run(
        ["docker", "compose", "-p", PROJECT, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and r.returncode:
        tail = (r.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"docker compose {args[0]} failed: {tail}")
    return r.stdout


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)["data"]["result"]
    except (OSError, ValueError, KeyError):
        return []


def _scalar(prom: str, query: str) -> float:
    rows = _get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    return float(rows[0]["value"][1]) if rows else 0.0


def _span(prom: str, query: str, seconds: float) -> list[float]:
    end = time.time()
    args = {"query": query, "start": end - seconds, "end": end, "step": "1"}
    rows = _get(f"{prom}/api/v1/query_range?" + urllib.parse.urlencode(args))
    return [float(v) for s in rows for _, v in s["values"]]


def _show(value: float | None, unit: str) -> str:
    return "never" if value is None else f"{value:.2f} {unit}"


COLUMNS = (
    Column("peers", "peers"),
    Column("strategy", "strategy"),
    Column("up_s", "up (s)", "{:.0f}"),
    Column("converged_s", "converged (s)", "{:.0f}"),
    Column("reach_p50_s", "reach p50 (s)", "{:.2f}"),
    Column("reach_p99_s", "reach p99 (s)", "{:.2f}"),
    Column("reach_max_s", "reach max (s)", "{:.2f}"),
    Column("nodes_cpu", "nodes' CPU (%)", "{:.0f}"),
    Column("prometheus_cpu", "Prometheus CPU (%)", "{:.0f}"),
    Column("missed_scrapes", "missed scrapes", "{:.0%}"),
)


def _plot(out: Path, rows: list[dict[str, Any]]) -> list[str]:
    with plot(out, "scale.png", (10, 3.8), ncols=2) as (fig, axes):
        for strategy in STRATEGIES:
            mine = [r for r in rows if r["strategy"] == strategy]
            sizes = [r["nodes"] for r in mine]
            axes[0].plot(sizes, [r["nodes_cpu"] for r in mine], "o-", label=strategy)
            p99 = [(r["nodes"], r["reach_p99_s"]) for r in mine if r["reach_p99_s"] is not None]
            axes[1].plot([x for x, _ in p99], [y for _, y in p99], "o-", label=strategy)
        axes[0].axhline(100, color="grey", linestyle=":", label="one core")
        frame(axes[0], "nodes", "% of one core", "The nodes' CPU, summed")
        axes[1].axhline(1.0, color="grey", linestyle=":", label="1 s")
        frame(axes[1], "nodes", "seconds", "Reach-all p99")
        fig.suptitle("The Compose lab as it grows (docker compose up --scale peer=N)")
    return ["scale.png"]
