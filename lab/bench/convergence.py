"""Benchmark 1: convergence against cluster size, simulated.

Owns the grid N = 25, 100, 1,000, 10,000 by fanout 1-4 by loss 0 % and 20 % under random
push (benchmark 6 compares the broadcast tree): one update at
one node of a converged cluster (`lab.simulate.run`, the real core on the deterministic
network, invariants checked at every step), several seeds each. Beside each measured
figure: Serf's convergence model and the push-pull bound of Karp et al.
(`node.spread_model`). Time is in link latencies ("rounds"); the anti-entropy period is one
link latency (100 ms links).

Also the simulator's own speed: 10,000 nodes for 30 gossip periods, against the aim of
30 s on one core.
"""

from __future__ import annotations

import json
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from lab.bench.report import Column, Result, frame, plot
from lab.simnet import Link, Network
from lab.simulate import Experiment, run
from node.spread_model import (
    floor_rounds,
    karp_rounds,
    serf_fraction,
    serf_time,
    serf_time_to_all,
)

__all__ = ["run_benchmark"]

LATENCY_MS = 100.0
#: Aims: all of 10,000 nodes within this many link latencies, fanout 3.
AIM_ROUNDS = {0.0: 13.0, 0.2: 17.0}


def _seeds(n: int, fanout: int, quick: bool) -> int:
    if quick:
        return 1
    if n > 1000:  # a few minutes each on a busy 2-core machine: the aimed-at fanout gets 2
        return 2 if fanout == 3 else 1
    return 20 if n <= 100 else 5


def _one(x: Experiment) -> dict[str, Any]:
    return run(x)


def run_benchmark(
    quick: bool, out: Path, jobs: int = 1, say: Callable[[str], None] = print
) -> Result:
    sizes = (25, 100, 500) if quick else (25, 100, 1000, 10_000)
    fanouts = (3,) if quick else (1, 2, 3, 4)
    losses = (0.0, 0.2)
    experiments = [
        Experiment(
            nodes=n,
            strategy="push",  # (the fanout grid is random push's; benchmark 6 has the tree)
            ttl=8,  # (random push's measured choice; the node's default is the tree's 16)
            fanout=f,
            loss=loss,
            seed=seed,
            latency_ms=LATENCY_MS,
            curve=(seed == 1 and f == 3),
            max_periods=400,
        )
        for n in sizes
        for f in fanouts
        for loss in losses
        for seed in range(1, _seeds(n, f, quick) + 1)
    ]
    # the big ones first, so that parallel workers finish together
    experiments.sort(key=lambda x: (-x.nodes, -x.seed))
    runs: list[dict[str, Any]] = []
    started = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for r in pool.map(_one, experiments):
                runs.append(r)
                _said(say, r, len(runs), len(experiments), started)
    else:
        for x in experiments:
            runs.append(_one(x))
            _said(say, runs[-1], len(runs), len(experiments), started)

    rows = []
    for n in sizes:
        for f in fanouts:
            for loss in losses:
                group = [r for r in runs if (r["nodes"], r["fanout"], r["loss"]) == (n, f, loss)]
                rows.append(_row(n, f, loss, group))
    result = Result("convergence", "1. Convergence against cluster size (simulated)")
    result.tables.append(
        (
            "One update in a converged cluster; 100 ms links, anti-entropy every 100 ms, TTL 8; "
            "time in link latencies (rounds), median [max] over seeds; msgs/node = messages "
            "caused by the update (request and reply count 2); background = anti-entropy that "
            "traded nothing, per node per period.",
            COLUMNS,
            rows,
        )
    )
    for loss, aim in AIM_ROUNDS.items():
        row = next(
            (r for r in rows if (r["nodes"], r["fanout"], r["loss"]) == (10_000, 3, loss)), None
        )
        if row is None:
            result.aim(
                f"100 % of 10,000 nodes within {aim:g} link latencies at {loss:.0%} "
                "loss (fanout 3)",
                "not measured in a quick run",
                None,
            )
        else:
            result.aim(
                f"100 % of 10,000 nodes within {aim:g} link latencies at {loss:.0%} loss "
                "(fanout 3)",
                f"{row['full_max']:.1f} (worst of {row['seeds']} seeds; median "
                f"{row['full_median']:.1f}; Serf's model {row['serf_all']:.1f})",
                row["full_max"] <= aim,
            )
    speeds = [_speed(10_000 if not quick else 300, 30)]
    pypy = _speed_on_pypy(speeds[0]["nodes"], 30)
    if pypy is not None:
        speeds.append(pypy)
        if {k: v for k, v in pypy.items() if k in SAME} != {k: speeds[0][k] for k in SAME}:
            raise AssertionError(f"PyPy ran another simulation: {pypy} against {speeds[0]}")
    result.tables.append(
        (
            "Simulator speed: N nodes for 30 gossip periods (one update in the middle), "
            "invariants checked at every step, one process; under CPython and, where "
            "installed, PyPy (the same steps and messages: the core is standard library only).",
            SPEED_COLUMNS,
            speeds,
        )
    )
    if not quick:
        fastest = min(speeds, key=lambda s: s["cpu_s"])
        result.aim(
            "10,000 nodes for 30 gossip periods under 30 s on one core",
            f"{fastest['cpu_s']:.1f} s CPU ({fastest['wall_s']:.1f} s wall) on "
            f"{fastest['python']}"
            + ("" if fastest is speeds[0] else f"; {speeds[0]['cpu_s']:.1f} s on CPython"),
            fastest["cpu_s"] < 30,
        )
    result.data = {"rows": rows, "runs": runs, "speed": speeds}
    result.files += _plots(out, rows, runs, sizes, fanouts)
    return result


def _said(
    say: Callable[[str], None], r: dict[str, Any], done: int, total: int, started: float
) -> None:
    say(
        f"  [{done}/{total}] N={r['nodes']} fanout={r['fanout']} loss={r['loss']:.0%} "
        f"seed={r['seed']}: full in {r['rounds_to_full']} rounds, "
        f"{r['messages_per_node']} msgs/node ({time.perf_counter() - started:.0f} s)"
    )


def _row(n: int, f: int, loss: float, group: list[dict[str, Any]]) -> dict[str, Any]:
    full = [r["rounds_to_full"] for r in group]
    r99 = [r["rounds_to_99"] for r in group if r["rounds_to_99"] is not None]
    done = [t for t in full if t is not None]
    return {
        "nodes": n,
        "fanout": f,
        "loss": loss,
        "seeds": len(group),
        "all_reached": len(done) == len(full),
        "full_median": statistics.median(done) if done else None,
        "full_max": max(done) if len(done) == len(full) else None,
        "r99_median": statistics.median(r99) if r99 else None,
        "msgs_per_node": round(statistics.median(r["messages_per_node"] for r in group), 2),
        "background": round(
            statistics.median(r["background_per_node_per_period"] for r in group), 2
        ),
        "serf_99": round(serf_time(0.99, n, f, loss=loss), 1),
        "serf_all": round(serf_time_to_all(n, f, loss=loss), 1),
        "serf_at_full": None
        if not done
        else round(100 * serf_fraction(statistics.median(done), n, f, loss=loss), 3),
        "karp": round(karp_rounds(n), 1),
        "floor": round(floor_rounds(n), 1),
    }


COLUMNS = (
    Column("nodes", "N", "{:,}"),
    Column("fanout", "fanout"),
    Column("loss", "loss", "{:.0%}"),
    Column("seeds", "seeds"),
    Column("r99_median", "99 % (rounds)", "{:.1f}"),
    Column("full_median", "100 % median", "{:.1f}"),
    Column("full_max", "100 % max", "{:.1f}"),
    Column("msgs_per_node", "msgs/node", "{:.1f}"),
    Column("background", "background", "{:.2f}"),
    Column("serf_99", "Serf 99 %", "{:.1f}"),
    Column("serf_all", "Serf 100 %", "{:.1f}"),
    Column("serf_at_full", "Serf % at our 100 %", "{:.3f}"),
    Column("karp", "Karp", "{:.1f}"),
)

SPEED_COLUMNS = (
    Column("python", "Python"),
    Column("nodes", "N", "{:,}"),
    Column("periods", "periods"),
    Column("steps", "steps", "{:,}"),
    Column("build_s", "build (s)", "{:.1f}"),
    Column("cpu_s", "CPU (s)", "{:.1f}"),
    Column("wall_s", "wall (s)", "{:.1f}"),
    Column("us_per_step", "µs/step", "{:.1f}"),
)


#: What two interpreters running the same simulation must agree on.
SAME = ("nodes", "periods", "steps", "messages")


def _speed_on_pypy(n: int, periods: int) -> dict[str, Any] | None:
    """`_speed` in a PyPy process (Debian's pypy3), if one is installed; else None."""
    pypy = shutil.which("pypy3")
    if pypy is None:
        return None
    code = (
        "import json; from lab.bench.convergence import _speed; "
        f"print(json.dumps(_speed({n}, {periods})))"
    )
    root = Path(__file__).resolve().parents[2]
    r = subprocess.run([pypy, "-c", code], cwd=root, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError(f"pypy3: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return dict(json.loads(r.stdout.strip().splitlines()[-1]))


def _speed(n: int, periods: int) -> dict[str, Any]:
    """N nodes, `periods` anti-entropy periods of 100 ms, one update half-way."""
    x = Experiment(nodes=n, latency_ms=LATENCY_MS, strategy="push")
    t0, c0 = time.perf_counter(), time.process_time()
    net = Network(x.config(), seed=1, link=Link(latency_s=0.1, timeout_s=0.5), check=True)
    nodes = net.cluster(n, publish=False, joined=True)
    build_s = time.perf_counter() - t0
    c1 = time.process_time()
    net.run_for(periods / 2 * x.period_s)
    net.publish(nodes[0].id, "Alien")
    net.run_for(periods / 2 * x.period_s)
    cpu_s = time.process_time() - c0
    return {
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "nodes": n,
        "periods": periods,
        "steps": net.steps,
        "messages": net.messages,
        "build_s": round(build_s, 2),
        "cpu_s": round(cpu_s, 2),
        "run_cpu_s": round(time.process_time() - c1, 2),
        "wall_s": round(time.perf_counter() - t0, 2),
        "us_per_step": round(1e6 * (time.process_time() - c1) / net.steps, 2),
    }


def _plots(
    out: Path,
    rows: list[dict[str, Any]],
    runs: list[dict[str, Any]],
    sizes: tuple[int, ...],
    fanouts: tuple[int, ...],
) -> list[str]:
    files = ["convergence_rounds.png"]
    with plot(out, files[0], (11, 4.2), ncols=2, sharey=True) as (_, axes):
        for ax, loss in zip(axes, (0.0, 0.2), strict=True):
            for f in fanouts:
                pts = [
                    (r["nodes"], r["full_median"])
                    for r in rows
                    if r["fanout"] == f and r["loss"] == loss and r["full_median"] is not None
                ]
                if pts:
                    ax.plot(*zip(*pts, strict=True), "o-", label=f"fanout {f} (measured)")
            xs = list(sizes)
            ax.plot(xs, [karp_rounds(n) for n in xs], "k--", label="Karp push-pull")
            serf = [serf_time_to_all(n, 3, loss=loss) for n in xs]
            ax.plot(xs, serf, "k:", label="Serf, fanout 3")
            ax.plot(xs, [floor_rounds(n) for n in xs], color="grey", lw=0.8, label="log4 N")
            if loss in AIM_ROUNDS and 10_000 in sizes:
                ax.axhline(AIM_ROUNDS[loss], color="red", lw=0.8, label="aim at 10,000")
            ax.set_xscale("log")
            frame(ax, "nodes", None, f"{loss:.0%} loss", legend=None)
        axes[0].set_ylabel("link latencies until every node knows (median)")
        axes[1].legend(fontsize=7)

    n = max(sizes)
    curves = [r for r in runs if r["nodes"] == n and r["fanout"] == 3 and "curve" in r]
    if not curves:
        return files
    files.append("convergence_curve.png")
    with plot(out, files[-1], (7, 4.2)) as (_, ax):
        for r in sorted(curves, key=lambda r: r["loss"]):
            ts = [t / (LATENCY_MS / 1000) for t, _ in r["curve"]]
            ax.step(
                ts,
                [100 * f for _, f in r["curve"]],
                where="post",
                label=f"measured, {r['loss']:.0%} loss",
            )
            horizon = max(ts) * 1.1
            grid = [horizon * i / 200 for i in range(201)]
            ax.plot(
                grid,
                [100 * serf_fraction(t, n, 3, loss=r["loss"]) for t in grid],
                "--",
                lw=0.9,
                label=f"Serf model, {r['loss']:.0%} loss",
            )
        frame(
            ax,
            "link latencies since the update",
            "% of nodes that know",
            f"{n:,} nodes, fanout 3: coverage over time (seed 1)",
        )
    return files
