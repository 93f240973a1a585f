"""This node's view as JSON: the body of `GET /state`, and one origin's entry as the record's
snapshots write it too.

Owns the shape of that JSON (which the page, the observatory, the watcher and the tests
read), and nothing else: it reads the core and never changes it, and it imports nothing
that does I/O. The shell's own fields (the display name, the settings, the refusals it
counted) are passed in or added by `Runtime.view`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.core import GossipNode, Stats
from node.core.table import Entry

__all__ = ["entry_json", "counters_json", "state_json"]


def entry_json(entry: Entry) -> dict[str, Any]:
    """The newest news of one origin and how this node came to know it."""
    m = entry.message
    return {
        "version": m.version,
        "movie": m.movie,
        "uuid": m.uuid,
        "learned_at": entry.learned_at,
        "sent_at": m.sent_at,
        "sender": entry.sender,
        "hops": m.hops,
        "via": entry.via,
    }


def counters_json(stats: Stats, invalid: Mapping[str, int]) -> dict[str, Any]:
    """The core's counters, and the requests refused (`invalid`: by reason, as the shell
    tallied them; the core's own refusals among them)."""
    return {
        "received": stats.received,
        "sent": stats.sent,
        "applied": stats.applied,
        "deduplicated": stats.deduplicated,
        "ttl_drops": stats.ttl_drops,
        "stale": stats.stale,
        "invalid": sum(invalid.values()),
        "invalid_by_reason": dict(invalid),
        "requests_sent": stats.requests_sent,
        "requests_failed": stats.requests_failed,
        "syncs": stats.syncs,
    }


def state_json(node: GossipNode, now: float, invalid: Mapping[str, int]) -> dict[str, Any]:
    """What `node` knows at `now`: itself, every origin, its peers and its counters."""
    origins = {}
    for origin in sorted(node.table):
        entry = node.table.get(origin)
        assert entry is not None
        origins[origin] = {**entry_json(entry), "age_s": round(now - entry.learned_at, 3)}
    peers = {}
    for peer in sorted(node.peers):
        info = node.peers.info(peer)
        peers[peer] = {
            "state": node.peers.state(peer),
            "last_heard": info.last_heard if info else None,
            "failures": info.failures if info else 0,
        }
    return {
        "id": node.id,
        "movie": node.movie,
        "version": node.version,
        "generation": node.generation,
        "counter": node.version - node.generation,
        "started_at": node.started_at,
        "now": now,
        "uptime_s": round(now - node.started_at, 3),
        "bootstrapped": node.bootstrapped,
        "origins": origins,
        "peers": peers,
        # ids heard of second-hand, not members until they answer a probe
        "candidates": sorted(node.peers.candidates()),
        "peer_counts": node.peers.counts(),
        "counters": counters_json(node.stats, invalid),
        "tombstones": node.table.tombstones(),
    }
