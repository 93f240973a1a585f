"""The cluster's genealogy: each update's tree of who first told whom, from the nodes' own
records, with its cost next to the ideal, and the model it is measured against.

Pure (no I/O, no clock): `summarize` takes what each node reported at
`GET /observatory/local` (its ledger, `node.ledger`, and its view) and builds the JSON of
`GET /observatory`. The page does the same merge in JavaScript for a replayed record, so
the two must agree; docs/page.md's "The observatory" documents the shape.

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
from typing import Any

__all__ = ["summarize", "merge_updates", "edges", "hop_period", "ideal_depth"]

#: Updates listed in the summary, newest first.
MAX_UPDATES = 20


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
    """Each update's tree over the nodes that answered (`reports`: id -> its
    /observatory/local), newest first. A node is `reached` when it recorded the update's
    first arrival, `overtaken` when it knows a newer version without having applied this
    one, `pending` when it knows neither."""
    records: dict[str, dict[str, dict[str, Any]]] = {}
    for node, report in reports.items():
        for a in report.get("updates") or ():
            records.setdefault(a["uuid"], {})[node] = a
    out = []
    n = len(reports)
    for uuid, by_node in records.items():
        arrivals = [a["t"] for a in by_node.values() if a["t"] is not None]
        if not arrivals:  # only late copies of an update no node recorded arriving
            continue
        first = next(iter(by_node.values()))
        origin, version = first["origin"], first["version"]
        own = by_node.get(origin)
        sent = [a["sent_at"] for a in by_node.values() if a.get("sent_at") is not None]
        sent_at = own["sent_at"] if own and own.get("sent_at") is not None else None
        if sent_at is None:  # the origin's send time as the others worked it out
            sent_at = statistics.median(sent) if sent else min(arrivals)
        movie = next((a["movie"] for a in by_node.values() if a.get("movie")), None)
        nodes: dict[str, dict[str, Any]] = {}
        pending, overtaken = [], []
        copies = 0
        for node, report in reports.items():
            a = by_node.get(node)
            if a is not None:
                copies += a["dups"] + a["stale"] + (a["t"] is not None and a["via"] != "local")
                nodes[node] = {
                    "parent": a["sender"] if a["t"] is not None else None,
                    "hops": a["hops"] if a["t"] is not None else None,
                    "t": a["t"],
                    "delay_s": None if a["t"] is None else a["t"] - sent_at,
                    "via": a["via"] if a["t"] is not None else None,
                    "dups": a["dups"],
                    "stale": a["stale"],
                    "senders": a.get("senders") or {},
                    "ttl_drop": a["ttl_drop"],
                }
                if a["t"] is not None:
                    continue
            known = ((report.get("origins") or {}).get(origin) or {}).get("version")
            if isinstance(known, int) and known > version:
                overtaken.append(node)
            elif not (isinstance(known, int) and known == version):
                pending.append(node)
        reached = [v for v in nodes.values() if v["t"] is not None]
        depth = max((v["hops"] or 0 for v in reached), default=0)
        done = not pending and reached
        out.append(
            {
                "uuid": uuid,
                "origin": origin,
                "version": version,
                "movie": movie,
                "sent_at": sent_at,
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
        )
    out.sort(key=lambda u: -u["sent_at"])
    return out[:limit]


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


def hop_period(updates: Sequence[Mapping[str, Any]]) -> float | None:
    """The median seconds per hop of pushed first arrivals: the model's round length."""
    per_hop = [
        v["delay_s"] / v["hops"]
        for u in updates
        for v in u["nodes"].values()
        if v["via"] == "push" and v["hops"] and v["delay_s"] is not None and v["delay_s"] >= 0
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
