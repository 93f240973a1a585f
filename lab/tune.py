"""`python -m lab.tune`: the measurements behind the node's default fanout, TTL and sync period.

Owns one question: with links like the lab's (about a millisecond; loopback or a Docker
bridge), how do fanout and TTL decide whether push alone brings an update to every node,
at what cost in messages, and how long anti-entropy then takes for the rest? It runs seeded
simulations of the real core (lab.simnet) and prints a table per question; `--json` prints the
rows instead. Everything is deterministic: the same seeds give the same figures.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from lab.cli import command
from lab.simnet import Link, Network
from node.core import Applied, Config, Event, GossipNode

__all__ = ["push_reach", "time_to_all", "main"]

LAN = Link(latency_s=0.001, timeout_s=0.5)


def _spread(
    net: Network, nodes: list[GossipNode], updates: int, wait_s: float
) -> list[tuple[float, int, float]]:
    """Publishes `updates` updates one at a time; for each: (fraction reached within wait_s,
    node-to-node messages spent, seconds until the last node had it or inf)."""
    out = []
    arrivals: dict[str, float] = {}
    target = [""]

    def on(node: GossipNode, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, Applied) and e.uuid == target[0]:
                arrivals[node.id] = net.now

    net.listen(on)
    for k in range(updates):
        arrivals.clear()
        origin = nodes[(k * 7) % len(nodes)]
        sent_before, start = net.messages, net.now
        target[0] = net.publish(origin.id).uuid
        net.run_for(wait_s)
        reached = len(arrivals) / (len(nodes) - 1)
        last = max(arrivals.values()) - start if reached == 1 else float("inf")
        out.append((reached, net.messages - sent_before, last))
    return out


def push_reach(
    n: int, fanout: int, ttl: int, loss: float, seeds: int = 5, updates: int = 20
) -> dict[str, Any]:
    """Push alone (anti-entropy off): how many nodes an update reaches, and its cost."""
    cfg = Config(fanout=fanout, ttl=ttl, max_ttl=max(16, ttl), resample_s=0, sync_s=1e6)
    rows = []
    for seed in range(seeds):
        net = Network(
            cfg, seed=seed, link=Link(latency_s=0.001, loss=loss, timeout_s=0.5), check=False
        )
        nodes = net.cluster(n, joined=True, publish=False)
        rows += _spread(net, nodes, updates, wait_s=0.2)
    return {
        "nodes": n,
        "fanout": fanout,
        "ttl": ttl,
        "loss": loss,
        "mean_reach": round(statistics.fmean(r for r, _, _ in rows), 4),
        "all_reached": round(sum(r == 1 for r, _, _ in rows) / len(rows), 3),
        "messages_per_update": round(statistics.fmean(m for _, m, _ in rows), 1),
    }


def time_to_all(
    n: int, sync_s: float, loss: float, seeds: int = 5, updates: int = 20
) -> dict[str, Any]:
    """The default push plus anti-entropy every sync_s: seconds until every node has an update."""
    cfg = Config(resample_s=0, sync_s=sync_s)
    times: list[float] = []
    for seed in range(seeds):
        net = Network(
            cfg, seed=seed, link=Link(latency_s=0.001, loss=loss, timeout_s=0.5), check=False
        )
        nodes = net.cluster(n, joined=True, publish=False)
        net.run_for(2 * sync_s)
        times += [t for _, _, t in _spread(net, nodes, updates, wait_s=6 * sync_s)]
    times.sort()
    return {
        "nodes": n,
        "sync_s": sync_s,
        "loss": loss,
        "median_s": round(statistics.median(times), 4),
        "p95_s": round(times[int(0.95 * (len(times) - 1))], 4),
        "max_s": round(times[-1], 4),
        "background_msgs_per_node_s": round(2 / sync_s, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = command(
        "lab.tune",
        __doc__.split("\n")[0],
    )
    parser.add_argument("--json", action="store_true", help="print JSON rows, not tables")
    parser.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds per configuration")
    args = parser.parse_args(argv)
    rows: list[dict[str, Any]] = []
    print("push alone: reach of one update (1 ms links)", file=sys.stderr)
    for n in (5, 25, 100):
        for loss in (0.0, 0.2):
            for fanout in (1, 2, 3, 4):
                for ttl in (2, 4, 8):
                    row = push_reach(n, fanout, ttl, loss, args.seeds)
                    rows.append({"question": "push_reach", **row})
                    if not args.json:
                        print(
                            f"N={n:4} loss={loss:.1f} fanout={fanout} ttl={ttl:2}  "
                            f"reach {row['mean_reach']:.4f}  all {row['all_reached']:.3f}  "
                            f"msgs/update {row['messages_per_update']:7.1f}",
                            flush=True,
                        )
    print("push + anti-entropy (fanout 3, ttl 8): time until all have an update", file=sys.stderr)
    for n in (25, 100):
        for loss in (0.0, 0.2):
            for sync_s in (0.5, 1.0, 2.0):
                row = time_to_all(n, sync_s, loss, args.seeds)
                rows.append({"question": "time_to_all", **row})
                if not args.json:
                    print(
                        f"N={n:4} loss={loss:.1f} sync={sync_s:3.1f}s  median "
                        f"{row['median_s']:.3f}s  p95 {row['p95_s']:.3f}s  max "
                        f"{row['max_s']:.3f}s  background {row['background_msgs_per_node_s']}"
                        " msgs/node/s",
                        flush=True,
                    )
    if args.json:
        for row in rows:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
