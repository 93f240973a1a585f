"""The Gossip Glomers broadcast workload, simulated (`lab.bench`'s benchmark 2 and
`python -m lab.simulate --workload glomers`).

Owns the workload of Maelstrom's broadcast challenges 3d/3e on the real core: 25 nodes,
100 ms one-way links, 50 updates per second spread at random over the nodes for 20 s
(1,000 updates). An update is a node's new favourite (a new version of its origin); it has
reached a node when that node knows that version or a newer one of the same origin (a newer
favourite carries everything an older one did). Reported per configuration: messages per
update (every node-to-node message from the first update until the last one reached every
node, background anti-entropy included, divided by the updates; a request and its reply
count as 2), and the median, 99th percentile and max of the time from an update's creation
to its arrival at the last node.

Maelstrom counts messages per operation, and about half its operations are reads that cost
nothing, so its "msgs/op" is about half of a "msgs/update" here.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from functools import partial
from typing import Any

from lab.simnet import Link, Network
from node.core import Applied, Config, Event, GossipNode

__all__ = ["Strategy", "STRATEGIES", "SWEEP", "workload", "NODES", "RATE", "LATENCY_S"]

NODES = 25
_NODE = Config()  # the node's defaults
LATENCY_S = 0.1
RATE = 50.0  # updates per second, over the whole cluster
#: Seconds between the nodes' first favourites in the warm-up.
WARMUP_GAP_S = 0.5


@dataclass(frozen=True)
class Strategy:
    """A way to run the same core: its knobs, and what to call it."""

    name: str
    what: str
    fanout: int
    push_interval_s: float
    sync_s: float
    ttl: int = 8
    #: "push" (random) or "tree" (the epidemic broadcast tree, node.core.tree)
    strategy: str = "push"
    tree_degree: int = _NODE.tree_degree
    lazy_s: float = _NODE.lazy_s
    lazy_fanout: int = _NODE.lazy_fanout

    def config(self) -> Config:
        return Config(
            fanout=self.fanout,
            ttl=self.ttl,
            push_interval_s=self.push_interval_s,
            sync_s=self.sync_s,
            resample_s=0,
            strategy=self.strategy,
            tree_degree=self.tree_degree,
            lazy_s=self.lazy_s,
            lazy_fanout=self.lazy_fanout,
        )


#: The chosen configuration first; the others for contrast.
STRATEGIES = (
    Strategy(
        "tree",
        "epidemic broadcast tree: eager push batched every 100 ms, announcements to 2 lazy "
        "peers and anti-entropy every 1 s",
        fanout=3,  # (not used: the tree decides whom to push to)
        push_interval_s=0.1,
        sync_s=1.0,
        strategy="tree",
        tree_degree=30,
        lazy_s=1.0,
        lazy_fanout=2,
    ),
    Strategy(
        "batched",
        "batched push every 150 ms to 5 peers, anti-entropy every 350 ms",
        fanout=5,
        push_interval_s=0.15,
        sync_s=0.35,
    ),
    Strategy(
        "defaults",
        "the node's defaults: push at once to 3 peers, anti-entropy every 1 s",
        fanout=3,
        push_interval_s=0.0,
        sync_s=1.0,
    ),
    Strategy(
        "flooding",
        "the original: every node forwards every message to every peer, no anti-entropy",
        fanout=NODES - 1,
        push_interval_s=0.0,
        sync_s=1e6,
    ),
)

#: Other batched settings, to show the trade-off around the chosen one (full runs only).
SWEEP = tuple(
    Strategy(
        f"f{f}-p{int(p * 1000)}-s{int(s * 1000)}",
        f"batched push every {p * 1000:g} ms to {f} peers, anti-entropy every {s * 1000:g} ms",
        fanout=f,
        push_interval_s=p,
        sync_s=s,
    )
    for f, p, s in (
        (3, 0.1, 0.5),  # the reference design's strategy (docs/benchmarks.md)
        (3, 0.1, 0.3),
        (4, 0.1, 0.3),
        (4, 0.15, 0.3),
        (5, 0.15, 0.3),
        (6, 0.18, 0.3),
    )
)


def workload(
    strategy: Strategy,
    seed: int,
    duration_s: float = 20.0,
    check: bool = True,
    partition_s: float = 0.0,
) -> dict[str, Any]:
    """Runs the workload once; returns the figures (see the module doc). With
    `partition_s`, the cluster is cut in two halves for that long in the middle of the run."""
    wall = time.perf_counter()
    net = Network(
        strategy.config(), seed=seed, link=Link(latency_s=LATENCY_S, timeout_s=0.5), check=check
    )
    nodes = net.cluster(NODES, joined=True, publish=False)
    # warm-up: each node's first favourite in turn, WARMUP_GAP_S apart (nodes of a real
    # cluster start one after another), then until every node knows every other's
    for k, node in enumerate(nodes):
        net.at(net.now + k * WARMUP_GAP_S, partial(_first_favourite, net, node.id))
    net.run_for(len(nodes) * WARMUP_GAP_S)
    net.run_until_converged(60)
    ids = [n.id for n in nodes]
    # updates[k] = [origin, version, created, nodes reached, time of the last arrival]
    updates: list[list[Any]] = []
    by_origin: dict[str, list[int]] = {i: [] for i in ids}
    pointer: dict[tuple[str, str], int] = {}
    pick = random.Random(seed)
    count = round(RATE * duration_s)
    complete = [0]

    def arrive(nid: str, origin: str, version: int) -> None:
        mine = by_origin[origin]
        k = pointer.get((nid, origin), 0)
        while k < len(mine) and updates[mine[k]][1] <= version:
            u = updates[mine[k]]
            u[3] += 1
            u[4] = net.now
            if u[3] == NODES:
                complete[0] += 1
            k += 1
        pointer[(nid, origin)] = k

    def on(node: GossipNode, events: list[Event]) -> None:
        for e in events:
            if type(e) is Applied and e.origin in by_origin:
                arrive(node.id, e.origin, e.version)
        if complete[0] == count:
            net.halt()

    def publish() -> None:
        origin = ids[pick.randrange(NODES)]
        node = net.nodes[origin]
        version = node.version + 1
        updates.append([origin, version, net.now, 0, net.now])
        by_origin[origin].append(len(updates) - 1)
        message = net.publish(origin)
        assert message.version == version
        arrive(origin, origin, version)

    net.listen(on)
    start = net.now
    sent0 = net.messages
    kinds0 = dict(net.by_kind)
    for k in range(count):
        net.at(start + (k + 0.5) / RATE, publish)
    if partition_s:
        cut = start + (duration_s - partition_s) / 2
        net.at(cut, partial(net.partition, ids[: NODES // 2]))
        net.at(cut + partition_s, net.heal)
    net.run_until(start + duration_s + 30)
    end = net.now
    delays = sorted(u[4] - u[2] for u in updates if u[3] == NODES)
    done = len(delays) == count
    messages = net.messages - sent0
    return {
        "strategy": strategy.name,
        "seed": seed,
        "nodes": NODES,
        "updates": count,
        "reached_all": len(delays),
        "messages": messages,
        "msgs_per_update": round(messages / count, 2),
        "by_kind": {k: v - kinds0.get(k, 0) for k, v in sorted(net.by_kind.items())},
        "median_s": round(statistics.median(delays), 4) if delays else None,
        "p99_s": round(delays[int(0.99 * (len(delays) - 1))], 4) if delays else None,
        "max_s": round(delays[-1], 4) if done else None,
        "delays_s": [round(d, 4) for d in delays],
        # (created, reach-all delay or None), seconds from the start, in creation order
        "timeline_s": [
            (round(u[2] - start, 4), round(u[4] - u[2], 4) if u[3] == NODES else None)
            for u in updates
        ],
        "window_s": round(end - start, 3),
        "wall_s": round(time.perf_counter() - wall, 2),
    }


def _first_favourite(net: Network, nid: str) -> None:
    net.publish(nid)
