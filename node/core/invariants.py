"""The protocol's promises as one checkable function, shared by tests, simulator and benchmarks.

Safety, checked after every step of any run: no message is applied twice at a node, no
node's view of an origin ever goes back, TTLs only fall along a path, every cache stays
within its bound, and a node's own version only rises. Liveness, checked once faults have
healed: `converged` says whether every live node knows every live node's newest version.

`Invariants.check` raises InvariantViolation; callers add what reproduces the run (the
simulator prints its seed and step).

"Converged" is decided here once, for everything that asks it (the simulator, the local
cluster, `lab.watch`, `lab.chaos`, the page's `/cluster`, the Compose lab's tests), by
`views_converged` over views `{node id: {origin: version}}`, however they were gathered.
The rule:

- a node's own version is the truth for its origin (the node that has not published yet
  has nothing to spread); other origins (departed nodes, nodes out of view) are not judged;
- every judged node must hold every judged node's own version, or a newer one: a view read
  a moment later than the origin's may already be ahead of it;
- the judged nodes are `expected` when the caller names them, else every node in `views`;
  a judged node without a view (`None`: gone, unreachable, not running) is not converged;
- nothing to judge is not converged: no node agreeing is no agreement.
`node/static/replay.js` has the JavaScript twin, checked against `tests/golden/converged.json`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence

from node.core.events import Applied, Event, MovieChanged, Outgoing, Send
from node.core.protocol import GossipNode

__all__ = [
    "Invariants",
    "InvariantViolation",
    "View",
    "behind",
    "converged",
    "lagging",
    "views_converged",
]

#: What one node knows: origin -> the newest version it holds.
View = Mapping[str, int]


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


def views_converged(
    views: Mapping[str, View | None], expected: Iterable[str] | None = None
) -> bool:
    """THE convergence rule (module docstring): every judged node holds every judged node's
    own version. `views` maps node id -> its view, or None for a node that did not answer."""
    judged = list(views) if expected is None else list(expected)
    return bool(judged) and next(behind(views, judged), None) is None


def behind(
    views: Mapping[str, View | None], expected: Iterable[str] | None = None
) -> Iterator[str]:
    """What keeps `views` from having converged, one description at a time, lazily (the
    first one settles `views_converged`)."""
    judged = list(views) if expected is None else list(expected)
    truth: dict[str, int] = {}
    for node in judged:
        view = views.get(node)
        own = None if view is None else view.get(node)
        if own is not None:
            truth[node] = own
    for node in judged:
        view = views.get(node)
        if view is None:
            yield f"{node} is not in view"
            continue
        get = view.get
        for origin, v in truth.items():
            if origin != node and get(origin, -1) < v:
                yield f"{node} has {origin} at {get(origin, -1)} < {v}"


class _TableView(Mapping[str, int]):
    """A node's origin table as a `View`, read in place (no copy: the simulator asks at
    every step). Tombstones count: a version once known is not forgotten by reaping."""

    __slots__ = ("_table", "_version")

    def __init__(self, node: GossipNode) -> None:
        self._table = node.table
        self._version = node.table.version

    def get(self, origin: str, default: int | None = None) -> int | None:  # type: ignore[override]
        version = self._version(origin)
        return default if version < 0 else version

    def __getitem__(self, origin: str) -> int:
        version = self._version(origin)
        if version < 0:
            raise KeyError(origin)
        return version

    def __iter__(self) -> Iterator[str]:
        return iter({**self._table.tombstones(), **self._table.digest()})

    def __len__(self) -> int:
        return len({**self._table.tombstones(), **self._table.digest()})


def _views(nodes: Sequence[GossipNode]) -> dict[str, View | None]:
    return {n.id: _TableView(n) for n in nodes}


def converged(nodes: Sequence[GossipNode]) -> bool:
    """`views_converged` over these nodes (the live ones: a crashed node is not passed)."""
    return views_converged(_views(nodes))


def lagging(nodes: Sequence[GossipNode], limit: int = 10) -> list[str]:
    """Up to `limit` descriptions of (node, origin) pairs that are behind."""
    return list(itertools.islice(behind(_views(nodes)), limit))


def _fail(node: GossipNode, what: str) -> None:
    raise InvariantViolation(f"node {node.id}: {what}")
