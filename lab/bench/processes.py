"""Benchmark 3: real node processes on this machine.

Owns one measurement per cluster size (5, 10, 25, 30, 35, 40, 50, 100 processes; 5 in a quick
run): a `lab.cluster.LocalCluster` on free loopback ports with `GOSSIP_RESAMPLE_SECONDS=1` (every
node picks a new favourite about every second), left to settle, then watched for a window:
- propagation latency p50/p99 from the nodes' own `gossip_propagation_seconds` histograms
  (the window's increase, summed over nodes, quantiles interpolated as PromQL's
  `histogram_quantile` does);
- messages per update: 2 x the requests the nodes sent in the window (HTTP-style, request
  plus reply) over the updates they made;
- CPU (% of one core) and RSS per node, from the processes themselves;
- for every update made in the window (but its last 3 s), the time until every node knew it
  or something newer of the same origin, from the nodes' JSON logs (`movie_changed` and
  `update_applied` lines). A size "converges every update within 3 s" when all of them did.
A size whose nodes do not all come up (healthy: joined) within a minute and a second a node
ends the run there, with the sizes measured so far and a note of what failed: larger
clusters on the same cores would not come up either.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from lab.bench.load import free_ports
from lab.bench.report import Column, Result, frame, plot
from lab.cluster import LocalCluster

__all__ = ["run_benchmark"]

DEADLINE_S = 3.0
#: The aim: the largest cluster that converges every update within DEADLINE_S has at least
#: this many nodes (10 on 2026-11-30, before the tree).
AIM_NODES = 25


def run_benchmark(quick: bool, out: Path, say: Callable[[str], None] = print) -> Result:
    sizes = (5,) if quick else (5, 10, 25, 30, 35, 40, 50, 100)
    window_s = 8.0 if quick else 30.0
    rows: list[dict[str, Any]] = []
    failed = None
    for n in sizes:
        say(f"  {n} node processes ...")
        try:
            rows.append(_measure(n, window_s, say))
        except TimeoutError as e:
            failed = f"{n} node processes: {e}; larger sizes not tried"
            say(f"  {failed}")
            break
        r = rows[-1]
        say(
            f"  {n} nodes: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
            f"{r['msgs_per_update']} msgs/update, within 3 s: {r['within_3s']:.1%}"
        )
    result = Result("processes", "3. Real node processes on this machine")
    result.tables.append(
        (
            f"Loopback, GOSSIP_RESAMPLE_SECONDS=1, default protocol settings; a {window_s:g} s "
            "window after the cluster settled. Latency from the nodes' histograms; "
            "msgs/update = 2 x requests sent / updates made; reach = time until every node "
            "knew an update (or newer), from the logs.",
            COLUMNS,
            rows,
        )
    )
    ok = [r["nodes"] for r in rows if r["all_within_3s"]]
    largest = max(ok) if ok else None
    tried = ", ".join(str(r["nodes"]) for r in rows)
    result.aim(
        f"the largest cluster that converges every update within 3 s (aim: {AIM_NODES} or more)",
        f"{largest} nodes (of {tried})" if largest else f"none of {tried or 'no size'}",
        None if quick else (largest or 0) >= AIM_NODES,
    )
    if failed:
        result.notes.append(
            f"{failed}: with a new favourite a second per node, the machine could not bring "
            "every node up (bootstrapped and answering its healthcheck) in time."
        )
    result.notes.append(
        "All nodes share this machine's 2 cores with the load of the other nodes: beyond the "
        "size where their CPU adds up to about 2 cores, every figure is the machine's limit."
    )
    result.data = {"rows": rows}
    result.files += _plot(out, rows)
    return result


def _measure(n: int, window_s: float, say: Callable[[str], None]) -> dict[str, Any]:
    base = free_ports(n)
    env = {"GOSSIP_RESAMPLE_SECONDS": "1", "GOSSIP_LOG_FORMAT": "json", "GOSSIP_SEED": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp)
        cluster = LocalCluster(n, base_port=base, env=env, log_dir=logs)
        try:
            cluster.start_all(stagger_s=0.05)
            _wait_up(cluster.urls, timeout_s=60 + n)
            time.sleep(5)  # settle: everyone has bootstrapped and traded digests
            procs = {p: psutil.Process(cluster.procs[p].pid) for p in cluster.ports}
            before = _snapshot(cluster.urls, procs)
            t0 = time.time()
            time.sleep(window_s)
            after = _snapshot(cluster.urls, procs)
            t1 = time.time()
            time.sleep(DEADLINE_S + 1)  # let the window's last updates land
        finally:
            cluster.stop_all()
        reach = _reach(logs, n, t0, t1 - DEADLINE_S)
    buckets = _bucket_delta(before["buckets"], after["buckets"])
    updates = after["updates"] - before["updates"]
    requests = after["requests"] - before["requests"]
    cpu = [
        100 * (after["cpu"][p] - before["cpu"][p]) / (after["at"] - before["at"])
        for p in after["cpu"]
    ]
    return {
        "nodes": n,
        "updates": updates,
        "p50_ms": _ms(_quantile(0.5, buckets)),
        "p99_ms": _ms(_quantile(0.99, buckets)),
        "msgs_per_update": round(2 * requests / updates, 1) if updates else None,
        "cpu_pct": round(statistics.median(cpu), 1),
        "cpu_total_pct": round(sum(cpu), 0),
        "rss_mb": round(statistics.median(after["rss"]), 1),
        "reach_p50_ms": _ms(reach["p50"]),
        "reach_max_ms": _ms(reach["max"]),
        "within_3s": reach["within"],
        "all_within_3s": reach["within"] == 1.0 and reach["count"] > 0,
        "tracked_updates": reach["count"],
    }


def _wait_up(urls: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        pending = [u for u in pending if not _ok(u + "/healthz")]
        if pending:
            time.sleep(0.3)
    if pending:
        raise TimeoutError(f"{len(pending)} nodes not up within {timeout_s} s")


def _ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _snapshot(urls: list[str], procs: dict[int, psutil.Process]) -> dict[str, Any]:
    buckets: dict[float, float] = {}
    updates = requests = 0
    for url in urls:
        try:
            with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
                text = r.read().decode()
            with urllib.request.urlopen(url + "/state", timeout=5) as r:
                state = json.loads(r.read())
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("gossip_propagation_seconds_bucket"):
                le = line.split('le="', 1)[1].split('"', 1)[0]
                bound = float("inf") if le == "+Inf" else float(le)
                buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
        updates += int(state.get("counter", 0))
        requests += int(state["counters"]["requests_sent"])
    cpu, rss = {}, []
    for port, p in procs.items():
        try:
            times = p.cpu_times()
            cpu[port] = times.user + times.system
            rss.append(p.memory_info().rss / 2**20)
        except psutil.Error:
            continue
    return {
        "buckets": buckets,
        "updates": updates,
        "requests": requests,
        "cpu": cpu,
        "rss": rss,
        "at": time.monotonic(),
    }


def _bucket_delta(a: dict[float, float], b: dict[float, float]) -> list[tuple[float, float]]:
    return sorted((le, b[le] - a.get(le, 0.0)) for le in b)


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """PromQL's histogram_quantile over cumulative (le, count) buckets."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lo_bound, lo_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == float("inf"):
                return lo_bound
            if count == lo_count:
                return le
            return lo_bound + (le - lo_bound) * (rank - lo_count) / (count - lo_count)
        lo_bound, lo_count = le, count
    return lo_bound


def _reach(logs: Path, n: int, t0: float, t1: float) -> dict[str, Any]:
    """From the nodes' logs: for each update created in [t0, t1], seconds until every node
    knew it or a newer version of its origin."""
    created: dict[tuple[str, int], float] = {}
    applied: dict[tuple[str, str], list[tuple[int, float]]] = {}
    nodes = set()
    for path in sorted(logs.glob("node-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if '"movie_changed"' not in line and '"update_applied"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            at = dt.datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
            node = rec.get("node", path.name)
            nodes.add(node)
            if rec["event"] == "movie_changed":
                created[(node, int(rec["version"]))] = at
            else:
                applied.setdefault((node, rec["origin"]), []).append((int(rec["version"]), at))
    times = []
    within = 0
    for (origin, version), at in created.items():
        if not t0 <= at <= t1:
            continue
        last = at
        reached = 0
        for node in nodes:
            if node == origin:
                reached += 1
                continue
            first = min(
                (t for v, t in applied.get((node, origin), ()) if v >= version),
                default=None,
            )
            if first is not None:
                reached += 1
                last = max(last, first)
        if reached == n:
            times.append(last - at)
            within += last - at <= DEADLINE_S
        else:
            times.append(float("inf"))
    count = len(times)
    finite = sorted(t for t in times if t != float("inf"))
    return {
        "count": count,
        "within": within / count if count else 0.0,
        "p50": statistics.median(times) if count else None,
        "max": max(times) if count else None,
        "finite_max": finite[-1] if finite else None,
    }


def _ms(seconds: float | None) -> float | None:
    if seconds is None or seconds == float("inf"):
        return None
    return round(1000 * seconds, 1)


COLUMNS = (
    Column("nodes", "nodes"),
    Column("updates", "updates"),
    Column("p50_ms", "p50 (ms)", "{:.1f}"),
    Column("p99_ms", "p99 (ms)", "{:.1f}"),
    Column("msgs_per_update", "msgs/update", "{:.1f}"),
    Column("cpu_pct", "CPU/node (%)", "{:.1f}"),
    Column("cpu_total_pct", "CPU all (%)", "{:.0f}"),
    Column("rss_mb", "RSS/node (MB)", "{:.1f}"),
    Column("reach_p50_ms", "reach p50 (ms)", "{:.0f}"),
    Column("reach_max_ms", "reach max (ms)", "{:.0f}"),
    Column("within_3s", "within 3 s", "{:.1%}"),
)


def _plot(out: Path, rows: list[dict[str, Any]]) -> list[str]:
    with plot(out, "processes.png", (7, 3.8)) as (_, ax):
        xs = [r["nodes"] for r in rows]
        for key, label in (("p50_ms", "p50 (histograms)"), ("p99_ms", "p99 (histograms)")):
            ax.plot(xs, [r[key] for r in rows], "o-", label=label)
        ax.plot(xs, [r["reach_max_ms"] for r in rows], "s--", label="max time to reach all (logs)")
        ax.axhline(1000 * DEADLINE_S, color="red", lw=0.8, ls=":", label="3 s")
        ax.set_yscale("log")
        frame(ax, "node processes", "ms", "Real processes on loopback (2 cores)")
    return ["processes.png"]
