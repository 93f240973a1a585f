"""A deterministic discrete-event network of gossip cores: the simulator's engine.

Owns virtual time, links and faults. It drives the very same `GossipNode` as the aiohttp
shell does, through the same entry points, and plays the part of HTTP: a request reaches
its target after one link latency, the reply comes back after another, and a request or
reply that is lost, or that meets a crashed or partitioned node, surfaces at the sender as
a failure after `timeout_s`, as a timed-out HTTP call would. One seed fixes everything:
the network's randomness comes from it, and each node gets its own `Random` derived from it.

Faults: per-link loss, duplication and latency jitter (which reorders), partitions (set
and heal), crashes and restarts under the same id, late joins. With `check=True` every step
is checked by `node.core.Invariants`; a violation is re-raised with the seed and step number
that reproduce it.

Message accounting follows HTTP: a request and its reply are two node-to-node messages.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from node.core import (
    Config,
    Event,
    FetchPeers,
    GossipNode,
    Invariants,
    InvariantViolation,
    Message,
    Outgoing,
    Roster,
    Send,
    converged,
    lagging,
)

__all__ = ["Link", "Network", "SimulationFailure"]


def node_id(i: int) -> str:
    """Node ids in a simulation look like real ones: 10.x.y.z:7000."""
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}:7000"


@dataclass(frozen=True)
class Link:
    """How every link behaves (the same for all pairs)."""

    #: One-way delay, seconds.
    latency_s: float = 0.01
    #: Extra delay drawn uniformly from [0, jitter_s] per message; non-zero reorders messages.
    jitter_s: float = 0.0
    #: Probability that a request, or a reply, is lost.
    loss: float = 0.0
    #: Probability that a delivered request is delivered a second time.
    duplicate: float = 0.0
    #: When the sender of a lost exchange, or of one to a down node, sees it fail.
    timeout_s: float = 1.0


class SimulationFailure(AssertionError):
    """An invariant failed; the message names the seed and step that reproduce it."""


_TICK, _DELIVER, _REPLY, _FAIL, _CALL = range(5)


class Network:
    """Nodes, links and a virtual clock. Time starts at `start` (seconds)."""

    def __init__(
        self,
        config: Config,
        *,
        seed: int = 0,
        link: Link | None = None,
        movies: Sequence[str] = ("Alien", "Heat", "Up", "Jaws"),
        start: float = 1e9,
        check: bool = True,
    ) -> None:
        self.config = config
        self.seed = seed
        self.link = link or Link()
        self.movies = tuple(movies)
        self.rng = random.Random(seed)
        self.now = start
        self.nodes: dict[str, GossipNode] = {}
        self.steps = 0
        #: node-to-node messages so far (a request and its reply count as two)
        self.messages = 0
        self.invariants = Invariants() if check else None
        self._queue: list[tuple[float, int, int, Any]] = []
        self._seq = 0
        self._wake: dict[str, float] = {}
        self._lives: dict[str, int] = {}
        self._life_count = 0
        self._group: dict[str, int] = {}  # node id -> partition side; absent = side 0
        self._listeners: list[Callable[[GossipNode, list[Event]], None]] = []
        self._roster: Roster | None = None

    # --- building the cluster --------------------------------------------------------
    def add(
        self,
        nid: str,
        *,
        bootstrap: str | None = None,
        publish: bool = True,
        roster: Roster | None = None,
    ) -> GossipNode:
        """Starts a node (a new life if `nid` ran before); it publishes a first favourite."""
        node = GossipNode(
            nid,
            self.config,
            now=self.now,
            rng=random.Random(self.rng.getrandbits(64)),
            movies=self.movies,
            bootstrap=bootstrap,
            roster=roster,
        )
        self.nodes[nid] = node
        self._life_count += 1
        self._lives[nid] = self._life_count  # replies to an earlier life are dropped
        if publish and self.movies:
            node.publish(self.now)
        self._settle(node)
        return node

    def cluster(self, n: int, *, publish: bool = True, joined: bool = False) -> list[GossipNode]:
        """n nodes. `joined=False`: each bootstraps from the first, as the real app does.
        `joined=True`: every node starts knowing every other (a shared roster; the way to
        start thousands of nodes)."""
        ids = [node_id(i) for i in range(n)]
        if joined:
            self._roster = Roster(ids)
            return [self.add(i, publish=publish, roster=self._roster) for i in ids]
        return [
            self.add(i, bootstrap=None if k == 0 else ids[0], publish=publish)
            for k, i in enumerate(ids)
        ]

    def publish(self, nid: str, movie: str | None = None) -> Message:
        """Node `nid` picks a new favourite now (or `movie`), as its timer or page would."""
        node = self.nodes[nid]
        message = node.publish(self.now, movie)
        self._settle(node)
        return message

    def listen(self, fn: Callable[[GossipNode, list[Event]], None]) -> None:
        """Calls fn(node, events) after every step of every node."""
        self._listeners.append(fn)

    # --- faults ----------------------------------------------------------------------
    def crash(self, nid: str) -> None:
        """The node stops at once; its state is gone. Requests to it time out."""
        self.nodes.pop(nid, None)
        self._wake.pop(nid, None)

    def restart(self, nid: str, *, bootstrap: str | None = None) -> GossipNode:
        """A crashed node starts again under the same id, with empty state."""
        self.crash(nid)
        return self.add(nid, bootstrap=bootstrap, roster=self._roster)

    def partition(self, *groups: Iterable[str]) -> None:
        """Splits the cluster: nodes in different groups cannot reach each other. Nodes in
        no group form one more side."""
        self._group = {nid: k + 1 for k, group in enumerate(groups) for nid in group}

    def heal(self) -> None:
        self._group = {}

    def reachable(self, a: str, b: str) -> bool:
        return self._group.get(a, 0) == self._group.get(b, 0)

    # --- running ---------------------------------------------------------------------
    def run_until(self, t: float) -> None:
        while self._queue and self._queue[0][0] <= t:
            self.step()
        self.now = max(self.now, t)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_until_converged(self, timeout_s: float, nodes: Sequence[str] | None = None) -> float:
        """Runs until the live nodes (or `nodes`) have converged; returns the time it took.
        Raises SimulationFailure if they have not within timeout_s."""
        start, end = self.now, self.now + timeout_s
        while True:
            live = [self.nodes[n] for n in (nodes or self.nodes) if n in self.nodes]
            if converged(live):
                return self.now - start
            if not self._queue or self._queue[0][0] > end:
                raise SimulationFailure(
                    f"no convergence within {timeout_s} s (seed {self.seed}): {lagging(live, 3)}"
                )
            self.step()

    def at(self, t: float, fn: Callable[[], None]) -> None:
        """Runs fn() at virtual time t (a scripted fault, an update)."""
        self._push(t, _CALL, fn)

    def step(self) -> None:
        t, _, kind, item = heapq.heappop(self._queue)
        self.now = t
        self.steps += 1
        try:
            self._dispatch(kind, item)
        except InvariantViolation as e:
            raise SimulationFailure(
                f"{e} (seed {self.seed}, step {self.steps}, t={t - 1e9:.3f})"
            ) from e

    def _dispatch(self, kind: int, item: Any) -> None:
        if kind == _TICK:
            nid, when = item
            node = self.nodes.get(nid)
            if node is not None and self._wake.get(nid) == when:
                del self._wake[nid]
                node.tick(self.now)
                self._settle(node)
        elif kind == _DELIVER:
            self._deliver(*item)
        elif kind == _REPLY:
            src, life, request, reply = item
            node = self.nodes.get(src)
            if node is not None and self._lives.get(src) == life:
                if isinstance(request, FetchPeers):
                    node.on_peers(self.now, request, reply)
                else:
                    node.on_reply(self.now, request, reply)
                self._settle(node)
        elif kind == _FAIL:
            src, life, request = item
            node = self.nodes.get(src)
            if node is not None and self._lives.get(src) == life:
                node.on_failure(self.now, request)
                self._settle(node)
        else:
            item()

    # --- the wire --------------------------------------------------------------------
    def _settle(self, node: GossipNode) -> None:
        """After a node ran: check it, send what it queued, schedule its next tick."""
        events = node.drain_events()
        sent = node.drain_outbox()
        if self.invariants is not None:
            self.invariants.check(node, events, sent)
        for fn in self._listeners:
            fn(node, events)
        for request in sent:
            self._transmit(node, request)
        wake = node.next_wakeup()
        if wake != self._wake.get(node.id):
            self._wake[node.id] = wake
            self._push(wake, _TICK, (node.id, wake))

    def _transmit(self, node: GossipNode, request: Outgoing) -> None:
        self.messages += 1
        link, rng = self.link, self.rng
        sent_at = self.now
        if not self.reachable(node.id, request.to) or (link.loss and rng.random() < link.loss):
            self._push(sent_at + link.timeout_s, _FAIL, (node.id, self._lives[node.id], request))
            return
        self._push(
            sent_at + self._latency(),
            _DELIVER,
            (node.id, self._lives[node.id], request, sent_at, True),
        )
        if link.duplicate and rng.random() < link.duplicate:
            self._push(
                sent_at + self._latency(),
                _DELIVER,
                (node.id, self._lives[node.id], request, sent_at, False),
            )

    def _deliver(
        self, src: str, life: int, request: Outgoing, sent_at: float, answer: bool
    ) -> None:
        target = self.nodes.get(request.to)
        link = self.link
        if target is None or not self.reachable(src, request.to):
            if answer:
                self._push(sent_at + link.timeout_s, _FAIL, (src, life, request))
            return
        reply: Any
        if isinstance(request, Send):
            reply = target.receive(self.now, request.envelope)
            self._settle(target)
        else:
            reply = target.peer_listing()
        if not answer:  # the copy of a duplicated request: its reply goes nowhere
            return
        self.messages += 1
        if link.loss and self.rng.random() < link.loss:
            self._push(sent_at + link.timeout_s, _FAIL, (src, life, request))
            return
        self._push(self.now + self._latency(), _REPLY, (src, life, request, reply))

    def _latency(self) -> float:
        link = self.link
        return link.latency_s + (self.rng.random() * link.jitter_s if link.jitter_s else 0.0)

    def _push(self, t: float, kind: int, item: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, kind, item))
