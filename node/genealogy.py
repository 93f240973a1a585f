"""The cluster's genealogy: each update's tree of who first told whom, with its cost next to
the ideal, and the model it is measured against. One builder for every source: the nodes'
own records (the observatory) and their logs (`lab.logs trace`).

Pure (no I/O, no clock). Its input is an `Arrival` per node and update: one node's part in
an update, counted from the core's events (`Arrival.observe`): the first arrival and the
copies after it. `node.ledger` keeps a ring of them for `GET /observatory/local`; the log
tracer rebuilds them from log lines; `node.logs` tallies the copies of each update with one.
`update_tree` builds one update's tree from the nodes' arrivals; `summarize` takes what
each node reported at `GET /observatory/local` and builds the JSON of `GET /observatory`.
The page does the same merge in JavaScript for a replayed record, so the two must agree;
docs/page.md's "The observatory" documents the shape.

The tree: every node's first arrival of an update names its sender, so each node other
than the origin has exactly one parent, and its `hops` is its depth (1 = straight from the
origin). The cost: every copy that reached a node (the first, the duplicates, the stale
ones) against the ideal of N - 1 (each node told once, along a spanning tree) and the
depth a tree of `fanout` children per node needs to hold N nodes.

The model is Serf's convergence model (`node.spread_model`; the page draws it with
node/static/model.js); this module gives it the cluster's figures: its size, fanout and
loss, and the period, measured: the median time per hop of the pushes the nodes recorded.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from node.core import Applied, Deduplicated, Event, MovieChanged, Stale, TtlDropped

__all__ = [
    "Arrival",
    "COUNTED",
    "summarize",
    "merge_updates",
    "update_tree",
    "sent_at",
    "edges",
    "hop_period",
    "ideal_depth",
]

#: Updates listed in the summary, newest first.
MAX_UPDATES = 20
#: The core's events an Arrival counts: an update's publication, arrival and copies.
COUNTED = (MovieChanged, Applied, Deduplicated, Stale, TtlDropped)


@dataclass(slots=True)
class Arrival:
    """One update as one node saw it: its first arrival (None if it never applied it, e.g.
    it knew something newer) and the copies that came after."""

    uuid: str
    origin: str
    version: int
    movie: str | None = None
    #: This node's clock at the first arrival (for the origin: when it published).
    t: float | None = None
    #: The origin's send time: for an arrival, t minus the delay the message carried.
    sent_at: float | None = None
    sender: str | None = None
    hops: int | None = None
    via: str | None = None
    ttl: int | None = None
    delay_s: float | None = None
    #: Copies whose UUID was already handled here.
    dups: int = 0
    #: Copies no newer than what this node knew (for the origin: its own news coming back).
    stale: int = 0
    #: Applied with its TTL spent: not forwarded from here.
    ttl_drop: bool = False
    #: Redundant copies by sender.
    senders: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, node: str, event: Event) -> Arrival:
        """An empty arrival of the update `event` (one of COUNTED) is about, at `node`."""
        if isinstance(event, MovieChanged):
            return cls(event.uuid, node, event.version)
        assert isinstance(event, Applied | Deduplicated | Stale | TtlDropped)
        return cls(event.uuid, event.origin, event.version)

    def observe(self, t: float, event: Event) -> None:
        """One of the core's events about this update (one of COUNTED), at time t."""
        if isinstance(event, MovieChanged):
            self.movie, self.t, self.sent_at, self.hops, self.via = event.movie, t, t, 0, "local"
        elif isinstance(event, TtlDropped):
            self.ttl_drop = True
        elif isinstance(event, Applied):
            self.movie, self.t, self.sender, self.hops, self.via = (
                event.movie,
                t,
                event.sender,
                event.hops,
                event.via,
            )
            self.ttl, self.delay_s = event.ttl, event.delay_s
            self.sent_at = None if event.delay_s is None else t - event.delay_s
        elif isinstance(event, Deduplicated | Stale):
            self.copy(event.sender, stale=isinstance(event, Stale))

    def copy(self, sender: str | None, *, stale: bool) -> None:
        """One redundant copy came (from `sender`, when known)."""
        if stale:
            self.stale += 1
        else:
            self.dups += 1
        if sender is not None:
            self.senders[sender] = self.senders.get(sender, 0) + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "uuid": self.uuid,
            "origin": self.origin,
            "version": self.version,
            "movie": self.movie,
            "t": self.t,
            "sent_at": self.sent_at,
            "sender": self.sender,
            "hops": self.hops,
            "via": self.via,
            "ttl": self.ttl,
            "delay_s": self.delay_s,
            "dups": self.dups,
            "stale": self.stale,
            "ttl_drop": self.ttl_drop,
            "senders": dict(self.senders),
        }


def ideal_depth(n: int, fanout: int) -> int:
    """The least depth of a tree that holds n nodes with `fanout` children per node."""
    depth, holds, level = 0, 1, 1
    while holds < n:
        level *= max(fanout, 1)
        holds += level
        depth += 1
        if fanout <= 1 and depth >= n:
            break
    return depth


def merge_updates(
    reports: Mapping[str, Mapping[str, Any]], fanout: int, limit: int = MAX_UPDATES
) -> list[dict[str, Any]]:
    """Each update's tree (`update_tree`) over the nodes that answered (`reports`: id ->
    its /observatory/local), newest first."""
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for node, report in reports.items():
        for a in report.get("updates") or ():
            records.setdefault(a["uuid"], {})[node] = a
    out = []
    for by_node in records.values():
        origin = next(iter(by_node.values()))["origin"]
        known = {
            node: ((report.get("origins") or {}).get(origin) or {}).get("version")
            for node, report in reports.items()
        }
        tree = update_tree(by_node, known, fanout)
        if tree is not None:
            out.append(tree)
    out.sort(key=lambda u: -u["sent_at"])
    return out[:limit]


def sent_at(arrivals: Mapping[str, Mapping[str, Any]]) -> float | None:
    """When the update's origin sent it: the origin's own record of it, else the median of
    what the others worked out from the delays their copies carried, else the first
    arrival; None when no node recorded an arrival."""
    first: list[float] = [a["t"] for a in arrivals.values() if a["t"] is not None]
    if not first:
        return None
    own = arrivals.get(next(iter(arrivals.values()))["origin"])
    if own and own.get("sent_at") is not None:
        when: float = own["sent_at"]
        return when
    sent: list[float] = [a["sent_at"] for a in arrivals.values() if a.get("sent_at") is not None]
    return statistics.median(sent) if sent else min(first)


def update_tree(
    arrivals: Mapping[str, Mapping[str, Any]], known: Mapping[str, Any], fanout: int
) -> dict[str, Any] | None:
    """One update's tree: `arrivals` holds the nodes' Arrivals of it (as JSON), `known`
    every node expected to have it, with the version of the update's origin it knows.
    A node is `reached` when it recorded the update's first arrival, `overtaken` when it
    knows a newer version without having applied this one, `pending` when it knows
    neither. None when no node recorded an arrival (only late copies)."""
    start = sent_at(arrivals)
    if start is None:
        return None
    first = next(iter(arrivals.values()))
    uuid, origin, version = first["uuid"], first["origin"], first["version"]
    movie = next((a["movie"] for a in arrivals.values() if a.get("movie")), None)
    nodes: dict[str, dict[str, Any]] = {}
    pending, overtaken = [], []
    copies = 0
    for node, version_known in known.items():
        a = arrivals.get(node)
        if a is not None:
            copies += a["dups"] + a["stale"] + (a["t"] is not None and a["via"] != "local")
            nodes[node] = {
                "parent": a["sender"] if a["t"] is not None else None,
                "hops": a["hops"] if a["t"] is not None else None,
                "t": a["t"],
                "delay_s": None if a["t"] is None else a["t"] - start,
                "via": a["via"] if a["t"] is not None else None,
                "dups": a["dups"],
                "stale": a["stale"],
                "senders": a.get("senders") or {},
                "ttl_drop": a["ttl_drop"],
            }
            if a["t"] is not None:
                continue
        if isinstance(version_known, int) and version_known > version:
            overtaken.append(node)
        elif not (isinstance(version_known, int) and version_known == version):
            pending.append(node)
    n = len(known)
    reached = [v for v in nodes.values() if v["t"] is not None]
    depth = max((v["hops"] or 0 for v in reached), default=0)
    done = not pending and reached
    return {
        "uuid": uuid,
        "origin": origin,
        "version": version,
        "movie": movie,
        "sent_at": start,
        "nodes": nodes,
        "reached": len(reached),
        "of": n,
        "pending": sorted(pending),
        "overtaken": sorted(overtaken),
        "depth": depth,
        "copies": copies,
        "redundant": copies - sum(1 for v in reached if v["via"] != "local"),
        "ideal_copies": max(n - 1, 0),
        "ideal_depth": ideal_depth(n, fanout),
        "spread_s": max(v["delay_s"] for v in reached) if done else None,
    }


def edges(reports: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Messages each node received from each sender over the link window: the graph's edges."""
    out = []
    for node, report in reports.items():
        window = report.get("link_window_s") or 1.0
        for sender, count in sorted((report.get("links") or {}).items()):
            out.append(
                {"from": sender, "to": node, "messages": count, "rate": round(count / window, 3)}
            )
    return out


#: First arrivals that travelled hop by hop as they were pushed: at random, or by the tree.
PUSHED = ("push", "tree")


def hop_period(updates: Sequence[Mapping[str, Any]]) -> float | None:
    """The median seconds per hop of pushed first arrivals (at random or by the tree): the
    model's round length."""
    per_hop = [
        v["delay_s"] / v["hops"]
        for u in updates
        for v in u["nodes"].values()
        if v["via"] in PUSHED and v["hops"] and v["delay_s"] is not None and v["delay_s"] >= 0
    ]
    return statistics.median(per_hop) if per_hop else None


def summarize(
    self_id: str,
    reports: Sequence[tuple[str, str, Mapping[str, Any] | None, str | None]],
    now: float,
    config: Mapping[str, Any],
    limit: int = MAX_UPDATES,
) -> dict[str, Any]:
    """The `GET /observatory` JSON from (id, health, report or None, error) per node."""
    answered = {node: r for node, _, r, _ in reports if r is not None}
    fanout = int(config.get("fanout") or 1)
    updates = merge_updates(answered, fanout, limit)
    drops = [float((r.get("faults") or {}).get("drop") or 0.0) for r in answered.values()]
    nodes = []
    for node, health, r, error in reports:
        entry: dict[str, Any] = {"id": node, "health": health, "reachable": r is not None}
        if r is None:
            entry["error"] = error
        else:
            entry.update({k: v for k, v in r.items() if k not in ("updates", "id")})
        nodes.append(entry)
    return {
        "self": self_id,
        "now": now,
        "config": {
            k: config.get(k) for k in ("fanout", "ttl", "sync_s", "push_interval_s", "resample_s")
        },
        "nodes": nodes,
        "updates": updates,
        "edges": edges(answered),
        "model": {
            "n": len(answered),
            "fanout": fanout,
            "period_s": hop_period(updates),
            "loss": round(sum(drops) / len(drops), 4) if drops else 0.0,
        },
    }
