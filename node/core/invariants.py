"""The protocol's promises as one checkable function, shared by tests, simulator and benchmarks.

Safety, checked after every step of any run: no message is applied twice at a node, no
node's view of an origin ever goes back, TTLs only fall along a path, every cache stays
within its bound, and a node's own version only rises. Liveness, checked once faults have
healed: `converged` says whether every live node knows every live node's newest version.

`Invariants.check` raises InvariantViolation; callers add what reproduces the run (the
simulator prints its seed and step).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from node.core.events import Applied, Event, MovieChanged, Outgoing, Send
from node.core.protocol import GossipNode

__all__ = ["Invariants", "InvariantViolation", "converged", "lagging"]


class InvariantViolation(AssertionError):
    """A safety property failed."""


class Invariants:
    """Remembers what it has seen of each node's life, to check the next step against it."""

    def __init__(self) -> None:
        # keyed by (node id, generation): a restarted node is a new life
        self._applied: dict[tuple[str, int], set[str]] = {}
        self._views: dict[tuple[str, int], dict[str, int]] = {}
        self._own: dict[str, int] = {}  # node id -> highest own version ever, across lives

    def check(
        self, node: GossipNode, events: Iterable[Event] = (), sent: Iterable[Outgoing] = ()
    ) -> None:
        """Checks `node` after a step that produced `events` and `sent` (drained by the caller)."""
        life = (node.id, node.generation)
        applied = self._applied.get(life)
        if applied is None:
            applied = self._applied[life] = set()
        for event in events:
            if isinstance(event, Applied):
                if event.uuid in applied:
                    _fail(node, f"applied {event.uuid} ({event.origin} v{event.version}) twice")
                applied.add(event.uuid)
            elif isinstance(event, MovieChanged):
                if event.version <= self._own.get(node.id, -1):
                    _fail(
                        node, f"own version went back to {event.version} (had {self._own[node.id]})"
                    )
                self._own[node.id] = event.version
        if len(applied) > 4 * node.config.seen_capacity:  # keep the checker's memory bounded
            applied.clear()
        view = self._views.get(life)
        if view is None:
            view = self._views[life] = {}
        for origin, version in node.table.digest().items():  # every live entry's version
            if version < view.get(origin, -1):
                _fail(node, f"view of {origin} went back from {view[origin]} to {version}")
            view[origin] = version
        for request in sent:
            if isinstance(request, Send):
                self._check_ttl(node, request)
        self._check_bounds(node)

    @staticmethod
    def _check_ttl(node: GossipNode, request: Send) -> None:
        for m in request.envelope.messages:
            if m.origin == node.id:
                if m.ttl > node.config.ttl or m.hops != 1:
                    _fail(node, f"own message {m.uuid} left with ttl {m.ttl}, hops {m.hops}")
                continue
            entry = node.table.get(m.origin)
            if entry is None or entry.message.uuid != m.uuid:
                continue  # superseded since: checked when it was held
            held = entry.message
            if m.ttl > max(held.ttl - 1, 0) or m.hops != held.hops + 1:
                _fail(
                    node,
                    f"{m.uuid} left with ttl {m.ttl}, hops {m.hops} but arrived with "
                    f"ttl {held.ttl}, hops {held.hops}",
                )

    @staticmethod
    def _check_bounds(node: GossipNode) -> None:
        cfg = node.config
        if len(node.seen) > cfg.seen_capacity:
            _fail(node, f"seen cache holds {len(node.seen)} > {cfg.seen_capacity}")
        if len(node.peers) > cfg.max_peers:
            _fail(node, f"{len(node.peers)} peers > {cfg.max_peers}")
        held = node.table.held()
        if held > cfg.max_origins:
            _fail(node, f"{held} origins and tombstones > {cfg.max_origins}")


def converged(nodes: Sequence[GossipNode]) -> bool:
    """True when every node knows every node's own current version (nodes given are the live
    ones; a node that has not published yet has nothing to spread)."""
    return not lagging(nodes, limit=1)


def lagging(nodes: Sequence[GossipNode], limit: int = 10) -> list[str]:
    """Up to `limit` descriptions of (node, origin) pairs that are behind."""
    truth = {n.id: n.version for n in nodes if n.movie is not None}
    behind: list[str] = []
    for node in nodes:
        version = node.table.version
        for origin, v in truth.items():
            if origin != node.id and version(origin) < v:
                behind.append(f"{node.id} has {origin} at {version(origin)} < {v}")
                if len(behind) >= limit:
                    return behind
    return behind


def _fail(node: GossipNode, what: str) -> None:
    raise InvariantViolation(f"node {node.id}: {what}")
