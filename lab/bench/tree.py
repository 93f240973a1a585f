"""Benchmark 6: the epidemic broadcast tree against random push, simulated (docs/tree.md).

Owns three experiments on the real core (`lab.simulate.run`, `lab.simnet`):
- one update through 100, 1,000 and 10,000 nodes after warm-up broadcasts, for each
  strategy: link latencies until everyone knows it, relative message redundancy (RMR =
  payload copies / (N - 1) - 1) and last delivery hop (LDH); the largest size also at 20 %
  loss, with the coverage over time drawn;
- churn: 10 % of 1,000 nodes crash during a run of 100 updates under the tree. Does every
  update reach every live node, and how many broadcasts after the last crash until RMR is
  back under 0.5?
- the Gossip Glomers workload (`lab.glomers`) cut in two for 5 s in the middle: does every
  update still reach every node, and the max latency.
Time is in link latencies (100 ms links); anti-entropy runs every link latency, as in
benchmark 1.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.bench.report import Column, Result, frame, plot
from lab.glomers import STRATEGIES, workload
from lab.simnet import Network
from lab.simulate import Experiment, run
from node.core import Applied, Deduplicated, Event, GossipNode, Stale

__all__ = ["run_benchmark"]

LATENCY_MS = 100.0
#: Aims at the largest size: all nodes within this many link latencies, by loss; RMR at 0 %.
AIM_ROUNDS = {0.0: 12.0, 0.2: 16.0}
AIM_RMR = 0.5
#: Churn aim: RMR under AIM_RMR again within this many broadcasts of the last crash.
AIM_HEAL_BROADCASTS = 20


def run_benchmark(
    quick: bool, out: Path, jobs: int = 1, say: Callable[[str], None] = print
) -> Result:
    sizes = (100, 1000) if quick else (100, 1000, 10_000)
    runs: list[dict[str, Any]] = []
    for n in sizes:
        for loss in (0.0, 0.2) if n == sizes[-1] else (0.0,):
            for strategy in ("push", "tree"):
                x = Experiment(
                    nodes=n,
                    strategy=strategy,
                    loss=loss,
                    latency_ms=LATENCY_MS,
                    check=n < 10_000,
                    curve=n == sizes[-1],
                    max_periods=400,
                )
                r = run(x)
                runs.append(r)
                say(
                    f"  {n:,} nodes, {strategy}, {loss:.0%} loss: all in "
                    f"{r['rounds_to_full']} latencies, RMR {r['rmr']}, LDH {r['ldh']} "
                    f"({r['wall_seconds']:.0f} s)"
                )
    result = Result("tree", "6. The broadcast tree against random push (simulated)")
    rows = [_row(r) for r in runs]
    result.tables.append(
        (
            "One update after warm-up broadcasts (3 under the tree), 100 ms links, "
            "anti-entropy every link latency, seed 1. RMR = payload copies / (N - 1) - 1; "
            "LDH = hops of the farthest first arrival; msgs/node counts the update's "
            "messages (request and reply 2 each).",
            COLUMNS,
            rows,
        )
    )
    biggest = [r for r in runs if r["nodes"] == sizes[-1] and r["strategy"] == "tree"]
    for r in biggest:
        aim = AIM_ROUNDS[r["loss"]]
        got = r["rounds_to_full"]
        result.aim(
            f"tree, {r['nodes']:,} nodes, {r['loss']:.0%} loss: everyone within {aim:g} "
            "link latencies",
            "never" if got is None else f"{got:.1f} link latencies",
            got is not None and got <= aim,
        )
        if r["loss"] == 0:
            result.aim(
                f"tree, {r['nodes']:,} nodes, 0 % loss: RMR at most {AIM_RMR}",
                f"RMR {r['rmr']} ({r['rmr'] + 1:.2f} payload copies a node)",
                r["rmr"] is not None and r["rmr"] <= AIM_RMR,
            )
    churn = _churn(nodes=200 if quick else 1000, updates=40 if quick else 100, say=say)
    result.tables.append(
        (
            f"Churn: {churn['crashed']} of {churn['nodes']:,} nodes crash, "
            f"{churn['crashes_per_broadcast']} at each of the first broadcasts, during "
            f"{churn['updates']} broadcasts under the tree, one every 2 s.",
            CHURN_COLUMNS,
            [churn],
        )
    )
    result.aim(
        "churn: every update reaches every live node",
        f"{churn['reached_all']} of {churn['updates']}",
        churn["reached_all"] == churn["updates"],
    )
    healed = churn["healed_after"]
    result.aim(
        f"churn: RMR under {AIM_RMR} again within {AIM_HEAL_BROADCASTS} broadcasts of the "
        "last crash",
        "never" if healed is None else f"after {healed} broadcasts",
        healed is not None and healed <= AIM_HEAL_BROADCASTS,
    )
    cut_s, duration_s = (1.0, 4.0) if quick else (5.0, 20.0)
    cut = [_cut(s, seed, cut_s, duration_s) for seed in (1, 2, 3) for s in STRATEGIES[:2]]
    result.tables.append(
        (
            f"The Gossip Glomers workload ({duration_s:g} s) cut in two halves for {cut_s:g} s "
            "in its middle.",
            CUT_COLUMNS,
            cut,
        )
    )
    result.data = {"runs": runs, "churn": churn, "cut": cut}
    result.files += _plot(out, runs, churn)
    return result


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodes": r["nodes"],
        "strategy": r["strategy"],
        "loss": r["loss"],
        "rounds": r["rounds_to_full"],
        "rmr": r["rmr"],
        "ldh": r["ldh"],
        "copies": None if r["rmr"] is None else r["rmr"] + 1,
        "msgs": r["messages_per_node"],
    }


COLUMNS = (
    Column("nodes", "nodes", "{:,}"),
    Column("strategy", "strategy"),
    Column("loss", "loss", "{:.0%}"),
    Column("rounds", "latencies to all", "{:.1f}"),
    Column("rmr", "RMR", "{:.3f}"),
    Column("ldh", "LDH"),
    Column("copies", "copies/node", "{:.2f}"),
    Column("msgs", "msgs/node", "{:.2f}"),
)


def _churn(nodes: int, updates: int, say: Callable[[str], None], seed: int = 1) -> dict[str, Any]:
    """The tree under churn: a tenth of the nodes crash, spread over the first half of the
    run's broadcasts; per broadcast, whether it reached every node alive at its end, and its
    RMR; and how many broadcasts after the last crash RMR stays under AIM_RMR."""
    x = Experiment(nodes=nodes, strategy="tree", latency_ms=LATENCY_MS, seed=seed)
    net = Network(x.config(), seed=seed, link=x.link(), check=nodes <= 200)
    ids = [n.id for n in net.cluster(nodes, publish=False, joined=True)]
    pick = random.Random(f"churn {seed}")
    victims = pick.sample(ids, nodes // 10)
    crashing = max(1, updates // 2)  # the crashes are spread over the first half
    per = -(-len(victims) // crashing)  # crashes a broadcast (rounded up)
    gap_s = 20 * LATENCY_MS / 1000
    for k in range(3):  # warm-up broadcasts
        net.publish(ids[k])
        net.run_for(gap_s)
    rmr: list[float | None] = []
    reached = 0
    last_crash = -1
    for k in range(updates):
        for _ in range(per if victims else 0):
            if victims:
                net.crash(victims.pop())
                last_crash = k
        origin = pick.choice([i for i in ids if i in net.nodes])
        copies = _Copies()
        net.listen(copies)
        copies.uuid = net.publish(origin).uuid
        net.run_for(gap_s)
        net.unlisten(copies)
        live = set(net.nodes) - {origin}
        ok = live <= copies.first
        reached += ok
        rmr.append(copies.n / len(live) - 1 if ok else None)
        if k % 10 == 9:
            say(f"  churn: {k + 1}/{updates} broadcasts, {len(net.nodes)} nodes up")
    after = rmr[last_crash + 1 :]
    healed = next(
        (i for i in range(len(after)) if all(v is not None and v < AIM_RMR for v in after[i:])),
        None,
    )
    return {
        "nodes": nodes,
        "crashed": nodes // 10,
        "crashes_per_broadcast": per,
        "updates": updates,
        "reached_all": reached,
        "last_crash_at": last_crash,
        "healed_after": None if healed is None else healed + 1,
        "rmr_median": statistics.median(v for v in rmr if v is not None),
        "rmr_max": max(v for v in rmr if v is not None),
        "rmr": [None if v is None else round(v, 4) for v in rmr],
    }


class _Copies:
    """Counts the payload copies of one update, and which nodes applied it."""

    def __init__(self) -> None:
        self.uuid = ""
        self.n = 0
        self.first: set[str] = set()

    def __call__(self, node: GossipNode, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, (Applied, Deduplicated, Stale)) and e.uuid == self.uuid:
                self.n += 1
                if type(e) is Applied:
                    self.first.add(node.id)


CHURN_COLUMNS = (
    Column("nodes", "nodes", "{:,}"),
    Column("crashed", "crashed"),
    Column("updates", "broadcasts"),
    Column("reached_all", "reached every live node"),
    Column("last_crash_at", "last crash at broadcast"),
    Column("healed_after", "RMR < 0.5 again after"),
    Column("rmr_median", "RMR median", "{:.3f}"),
    Column("rmr_max", "RMR max", "{:.2f}"),
)


def _cut(strategy: Any, seed: int, partition_s: float, duration_s: float) -> dict[str, Any]:
    r = workload(strategy, seed, duration_s, check=False, partition_s=partition_s)
    return {
        "strategy": strategy.name,
        "seed": seed,
        "reached_all": r["reached_all"],
        "updates": r["updates"],
        "msgs_per_update": r["msgs_per_update"],
        "median_ms": None if r["median_s"] is None else 1000 * r["median_s"],
        "max_ms": None if r["max_s"] is None else 1000 * r["max_s"],
    }


CUT_COLUMNS = (
    Column("strategy", "strategy"),
    Column("seed", "seed"),
    Column("reached_all", "reached every node"),
    Column("updates", "updates"),
    Column("msgs_per_update", "msgs/update", "{:.1f}"),
    Column("median_ms", "median (ms)", "{:.0f}"),
    Column("max_ms", "max (ms)", "{:.0f}"),
)


def _plot(out: Path, runs: list[dict[str, Any]], churn: dict[str, Any]) -> list[str]:
    biggest = max(r["nodes"] for r in runs)
    with plot(out, "tree_coverage.png", (11, 4.2), ncols=2) as (_, axes):
        cover, redundancy = axes
        for r in runs:
            if r["nodes"] == biggest and r.get("curve"):
                xs = [t / (LATENCY_MS / 1000) for t, _ in r["curve"]]
                ys = [100 * f for _, f in r["curve"]]
                label = f"{r['strategy']}, {r['loss']:.0%} loss"
                cover.step(xs, ys, where="post", label=label, lw=1.3)
        frame(
            cover,
            "link latencies since the update",
            "% of nodes that know it",
            f"{biggest:,} nodes",
        )
        xs = list(range(1, len(churn["rmr"]) + 1))
        redundancy.plot(
            xs, [v if v is not None else float("nan") for v in churn["rmr"]], lw=1.2, label="tree"
        )
        redundancy.axhline(AIM_RMR, color="red", ls=":", lw=0.8, label=f"aim: RMR {AIM_RMR}")
        redundancy.axvline(
            churn["last_crash_at"] + 1, color="grey", ls="--", lw=0.8, label="last crash"
        )
        frame(
            redundancy,
            "broadcast",
            "RMR",
            f"churn: {churn['crashed']} of {churn['nodes']:,} nodes crash",
        )
    return ["tree_coverage.png"]
