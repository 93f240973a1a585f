"""One node's own record of gossip: who told it what, when, and the copies that followed.

Owns, for one node, three bounded things built from the core's events, and the record
format they are written in (docs/page.md, "Record format"):

1. The genealogy ring: for each of the last `MAX_UPDATES` updates this node has seen (one
   UUID each), its first arrival (from whom, after how many hops, when, by push or sync)
   and the copies that came after it (duplicates by UUID, stale by version, by sender).
   Merged over the cluster (`node.genealogy`), these are the trees of who told whom.
2. Link counts: messages received per sender, per second, over the last `LINK_WINDOW_S`;
   the cluster graph's edges.
3. The record: the node's events as record lines in a ring of `RING_LINES`, with a
   checkpoint (a `snapshot` line: everything the node knows) every `CHECKPOINT_S` or
   `CHECKPOINT_EVERY` lines, so a record can start at any moment the ring still covers:
   `record(since)` begins with the node's state at `since` (a checkpoint with the events
   after it applied) and ends, when asked, with its state now.

Pure: it reads no clock (every call takes `t`), does no I/O and only reads the core (for
checkpoints). The node's shell (`node.observatory`) feeds it the core's events as they
happen; the simulator's recorder (`lab.record`) feeds it the same events in virtual time,
so a live cluster and a simulated one write one format, and `apply_line` replays both.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

from node.catalogue import BY_CORE
from node.core import Applied, Deduplicated, Event, GossipNode, Stale
from node.core.table import Entry
from node.genealogy import COUNTED, Arrival
from node.state_view import entry_json

__all__ = [
    "Ledger",
    "apply_line",
    "merge_records",
    "empty_state",
    "event_line",
    "FORMAT",
    "FORMAT_VERSION",
    "RING_LINES",
    "MAX_UPDATES",
    "LINK_WINDOW_S",
    "CHECKPOINT_S",
    "CHECKPOINT_EVERY",
    "NO_FAULTS",
]

#: The record format's name and version (the header line of a merged record names them).
FORMAT = "gossip-lab-record"
FORMAT_VERSION = 1
#: Record lines a node keeps (events and checkpoints); the oldest go first. At the lab's
#: pace (5 nodes, a favourite each 10 s) this is hours; at 100 nodes, about ten minutes.
RING_LINES = 20_000
#: Updates whose genealogy a node keeps (first arrival and copies), newest first.
MAX_UPDATES = 64
#: Seconds of link counts kept (the cluster graph's "recently").
LINK_WINDOW_S = 10.0
#: A checkpoint at least this often (seconds of the node's clock) ...
CHECKPOINT_S = 10.0
#: ... and after this many lines, so a burst cannot push every checkpoint out of the ring.
CHECKPOINT_EVERY = 2_000
#: Fault changes remembered for the timeline's bands.
FAULT_LOG = 32
#: The fault layer with nothing on (the shape of `Faults.to_json()`).
NO_FAULTS: dict[str, Any] = {
    "drop": 0.0,
    "duplicate": 0.0,
    "delay_ms": 0.0,
    "jitter_ms": 0.0,
    "blocked": [],
}


# --- the record format -----------------------------------------------------------------
def event_line(t: float, node: str, event: Event) -> dict[str, Any] | None:
    """A core event as a record line ({t, node, kind, ...its fields}); None for events the
    record leaves out (`node.catalogue`: refused requests and failed bootstraps say nothing
    about spread)."""
    kind = BY_CORE[type(event)]
    if not kind.recorded:
        return None
    return {"t": t, "node": node, "kind": kind.name, **event._asdict()}


def empty_state() -> dict[str, Any]:
    """What a node knows before its first line: nothing (a node before it starts)."""
    return {
        "up": False,
        "movie": None,
        "version": None,
        "generation": None,
        "origins": {},
        "peers": {},
        "faults": dict(NO_FAULTS),
    }


def apply_line(state: dict[str, Any], line: Mapping[str, Any]) -> None:
    """Replays one record line onto a node's state (the page's replay does the same in
    JavaScript). Lines of other nodes' kinds that change nothing are ignored."""
    kind, t = line.get("kind"), line.get("t")
    if kind == "snapshot":
        for key in ("up", "movie", "version", "generation"):
            state[key] = line.get(key)
        state["origins"] = copy.deepcopy(dict(line.get("origins") or {}))
        state["peers"] = dict(line.get("peers") or {})
        state["faults"] = dict(line.get("faults") or NO_FAULTS)
    elif kind == "node_started":
        state.update(up=True, movie=None, version=None, origins={}, peers={})
        state["generation"] = line.get("generation")
    elif kind == "node_stopped":  # a stopped node's memory is gone with it
        state.update(up=False, origins={}, peers={})
    elif kind == "movie_changed":
        state["movie"], state["version"] = line["movie"], line["version"]
        state["origins"][line["node"]] = {
            "version": line["version"],
            "movie": line["movie"],
            "uuid": line["uuid"],
            "learned_at": t,
            "sent_at": t,
            "sender": None,
            "hops": 0,
            "via": "local",
        }
    elif kind == "update_applied":
        delay = line.get("delay_s")
        state["origins"][line["origin"]] = {
            "version": line["version"],
            "movie": line["movie"],
            "uuid": line["uuid"],
            "learned_at": t,
            "sent_at": None if delay is None or t is None else t - delay,
            "sender": line.get("sender"),
            "hops": line.get("hops"),
            "via": line.get("via"),
        }
    elif kind == "origin_reaped":
        state["origins"].pop(line["origin"], None)
    elif kind == "peer_state":
        if line["new"] in ("reaped", "forgotten"):
            state["peers"].pop(line["peer"], None)
        else:
            state["peers"][line["peer"]] = line["new"]
    elif kind == "faults_set":
        state["faults"] = {k: line.get(k, v) for k, v in NO_FAULTS.items()}


def merge_records(
    records: Iterable[Iterable[dict[str, Any]]], header: dict[str, Any]
) -> list[dict[str, Any]]:
    """Nodes' records as one: the header, every line in time order (a node's own order kept
    where times tie), then each node's closing snapshot."""
    body: list[dict[str, Any]] = []
    ends: list[dict[str, Any]] = []
    for lines in records:
        for line in lines:
            (ends if line.get("end") else body).append(line)
    body.sort(key=lambda line: line["t"])
    ends.sort(key=lambda line: line["node"])
    return [header, *body, *ends]


# --- the genealogy ring ----------------------------------------------------------------
class _Snapshot(NamedTuple):
    """A checkpoint as taken: copies of what the node knows (its table's entries are
    immutable), written out as a `snapshot` line only when the record is read. Taking one
    costs a dict copy, not a line per origin: a node takes one every `CHECKPOINT_EVERY`
    lines, which under a flood of new origins is often."""

    movie: str | None
    version: int
    generation: int
    entries: dict[str, Entry]
    peers: dict[str, str]
    faults: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "up": True,
            "movie": self.movie,
            "version": self.version,
            "generation": self.generation,
            "origins": {o: entry_json(self.entries[o]) for o in sorted(self.entries)},
            "peers": dict(sorted(self.peers.items())),
            "faults": dict(self.faults),
        }


#: What the record ring holds: a core event, a checkpoint, or a line of the ledger's own
#: (node started or stopped, faults set) as a dict; each becomes a line when read.
_Item = Event | _Snapshot | dict[str, Any]


class Ledger:
    """One node's genealogy ring, link counts and record ring. See the module's docstring."""

    def __init__(
        self,
        node_id: str,
        *,
        ring_lines: int = RING_LINES,
        max_updates: int = MAX_UPDATES,
        link_window_s: float = LINK_WINDOW_S,
        checkpoint_s: float = CHECKPOINT_S,
        checkpoint_every: int = CHECKPOINT_EVERY,
    ) -> None:
        self.id = node_id
        self.node: GossipNode | None = None
        self.faults: dict[str, Any] = dict(NO_FAULTS)
        self.max_updates = max_updates
        self.link_window_s = link_window_s
        self.checkpoint_s = checkpoint_s
        self.checkpoint_every = checkpoint_every
        #: (t, item): each line built only when read (see `_Item`).
        self.ring: collections.deque[tuple[float, _Item]] = collections.deque(maxlen=ring_lines)
        self.updates: collections.OrderedDict[str, Arrival] = collections.OrderedDict()
        self.fault_log: collections.deque[dict[str, Any]] = collections.deque(maxlen=FAULT_LOG)
        #: Called with every new record line (a `GET /record?follow=1` stream listens here).
        self.taps: list[Any] = []
        self._links: collections.deque[tuple[int, collections.Counter[str]]] = collections.deque()
        self._last_checkpoint_t = float("-inf")
        self._since_checkpoint = 0

    # --- inputs --------------------------------------------------------------------------
    def attach(self, t: float, node: GossipNode) -> None:
        """The node (a new life of it, in the simulator) starts now: a `node_started` line
        and a checkpoint of what it knows."""
        self.node = node
        self._add(t, {"kind": "node_started", "generation": node.generation})
        self.checkpoint(t)

    def detach(self, t: float) -> None:
        """The node stops (crashes, in the simulator): a `node_stopped` line."""
        self.node = None
        self._add(t, {"kind": "node_stopped"})

    def set_faults(self, t: float, faults: Mapping[str, Any]) -> None:
        """The node's fault layer changed: a `faults_set` line (the timeline's bands)."""
        self.faults = {k: faults.get(k, v) for k, v in NO_FAULTS.items()}
        self.fault_log.append({"t": t, **self.faults})
        self._add(t, {"kind": "faults_set", **self.faults})

    def observe(self, t: float, events: Iterable[Event]) -> None:
        """A batch of the core's events, at time t (the node's listener)."""
        for event in events:
            self._count(t, event)
            if BY_CORE[type(event)].recorded:
                self._add(t, event)
        if self.node is not None and (
            t - self._last_checkpoint_t >= self.checkpoint_s
            or self._since_checkpoint >= self.checkpoint_every
        ):
            self.checkpoint(t)

    def checkpoint(self, t: float) -> None:
        """A `snapshot` line of everything the node knows now."""
        if self.node is None:
            return
        self._last_checkpoint_t = t
        self._since_checkpoint = 0
        self._add(t, self._snapshot(self.node))

    def _snapshot(self, node: GossipNode) -> _Snapshot:
        return _Snapshot(
            node.movie,
            node.version,
            node.generation,
            node.table.entries(),
            {p: node.peers.state(p) for p in node.peers},
            dict(self.faults),
        )

    # --- outputs -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What the node knows now, in the snapshot line's shape (without t, node, kind)."""
        if self.node is None:
            return {**empty_state(), "faults": dict(self.faults)}
        return self._snapshot(self.node).to_json()

    def lines(self) -> Iterator[dict[str, Any]]:
        """Every line of the ring, oldest first."""
        for t, item in list(self.ring):
            yield self._line(t, item)

    def record(self, since: float | None = None, end: float | None = None) -> list[dict[str, Any]]:
        """The record from `since`: the node's state at `since` as a `snapshot` line (a
        checkpoint with the events after it applied), then every line after `since`; with
        `end`, a last `snapshot` (marked `"end": true`) of what the node knows at `end`.
        Where the ring no longer reaches back to `since`, it starts at its oldest checkpoint."""
        entries = list(self.ring)
        checkpoints = [i for i, (_, item) in enumerate(entries) if type(item) is _Snapshot]
        # the last checkpoint at or before `since`; else the oldest the ring holds
        before = [i for i in checkpoints if since is not None and entries[i][0] <= since]
        start = before[-1] if before else checkpoints[0] if checkpoints else len(entries)
        out: list[dict[str, Any]] = []
        if start < len(entries):
            first_t = entries[start][0]
            at = first_t if since is None else max(since, first_t)
            state = empty_state()
            i = start
            while i < len(entries) and entries[i][0] <= at:
                apply_line(state, self._line(*entries[i]))
                i += 1
            out.append({"t": at, "node": self.id, "kind": "snapshot", **state})
            out.extend(self._line(*entries[j]) for j in range(i, len(entries)))
        if end is not None:
            out.append({"t": end, "node": self.id, "kind": "snapshot", "end": True, **self.state()})
        return out

    def summary(self, t: float, limit: int = MAX_UPDATES) -> dict[str, Any]:
        """The genealogy ring (newest first, at most `limit`), link counts over the window
        and recent fault changes: what `GET /observatory/local` adds to the node's state."""
        updates = [a.to_json() for a in reversed(self.updates.values())][:limit]
        links: collections.Counter[str] = collections.Counter()
        horizon = t - self.link_window_s
        for second, counts in self._links:
            if second >= horizon:
                links.update(counts)
        return {
            "updates": updates,
            "links": dict(links),
            "link_window_s": self.link_window_s,
            "faults": dict(self.faults),
            "fault_log": list(self.fault_log),
        }

    # --- the machinery -------------------------------------------------------------------
    def _add(self, t: float, item: _Item) -> None:
        self.ring.append((t, item))
        self._since_checkpoint += 1
        if self.taps:
            line = self._line(t, item)
            for tap in list(self.taps):
                tap(line)

    def _line(self, t: float, item: _Item) -> dict[str, Any]:
        if isinstance(item, _Snapshot):
            return {"t": t, "node": self.id, "kind": "snapshot", **item.to_json()}
        if isinstance(item, dict):
            return {"t": t, "node": self.id, **item}
        line = event_line(t, self.id, item)
        assert line is not None
        return line

    def _count(self, t: float, event: Event) -> None:
        """Genealogy and link counts from one event."""
        if not isinstance(event, COUNTED):
            return
        a = self.updates.get(event.uuid)
        if a is None:
            a = self.updates[event.uuid] = Arrival.of(self.id, event)
            while len(self.updates) > self.max_updates:
                self.updates.popitem(last=False)
        a.observe(t, event)
        if isinstance(event, Applied | Deduplicated | Stale) and event.sender is not None:
            self._link(t, event.sender)

    def _link(self, t: float, sender: str) -> None:
        second = int(t)
        links = self._links
        if not links or links[-1][0] != second:
            links.append((second, collections.Counter()))
            horizon = t - self.link_window_s - 1
            while links and links[0][0] < horizon:
                links.popleft()
        links[-1][1][sender] += 1
