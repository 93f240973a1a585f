"""A deterministic discrete-event network of gossip cores: the simulator's engine.

Owns virtual time, links, faults and message accounting. It drives the very same
`GossipNode` as the aiohttp shell does, through the same entry points, and plays the part
of HTTP: a request reaches its target after one link latency, the reply comes back after
another, and a request or reply that is lost, or that meets a crashed or partitioned node,
surfaces at the sender as a failure after `timeout_s`, as a timed-out HTTP call would. It
must not be clever about the protocol: every decision is the core's.

One seed fixes everything: the network's randomness (loss, duplication, jitter) comes from
one `Random`, and each node gets its own `Random` drawn from it. Events at the same virtual
time run in the order they were scheduled, so a run is a pure function of its seed and
script.

Processing: with `service_s` each node handles one message at a time (each it sends or
receives takes it that long; the rest queue), as a real node's one event loop does; 0 (the
default) makes nodes take no time.

Faults: per-link loss, duplication and latency jitter (uniform or exponential; jitter
reorders), per-pair link overrides, partitions (set and heal), crashes and restarts under
the same id, pauses (a frozen process: its state kept, nothing handled until it resumes),
disconnects (a node off the network: its requests fail at once, requests to it time out),
late joins (`add` with a bootstrap address). With `check=True` every step is checked by
`node.core.Invariants`; a violation is re-raised as `SimulationFailure` naming the seed and
step that reproduce it (`run_to_step` replays up to just before it).

Message accounting follows HTTP: a request and its reply are two node-to-node messages,
counted when sent (a lost one was still sent). `by_kind` splits them by the request's kind
(push, sync, repair, probe, peers). `news_messages` counts the messages of exchanges that
carried news or asked for it: a push or repair and its reply, and a sync whose reply
carried news or asked for some (`want`). Everything else is background: anti-entropy
digests that found nothing to trade, probes, bootstrap listings. In a single-update run,
`news_messages` is what the update cost; background is what the cluster spends anyway.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from node.core import (
    Config,
    Driver,
    Envelope,
    Event,
    GossipNode,
    Invariants,
    InvariantViolation,
    Message,
    Outgoing,
    PeerListing,
    Ready,
    Roster,
    Send,
    SendKind,
    converged,
    lagging,
)

__all__ = ["Link", "Network", "SimulationFailure", "node_id"]

_JITTERS = ("uniform", "exponential")


def node_id(i: int) -> str:
    """Node ids in a simulation look like real ones: 10.x.y.z:7000."""
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}:7000"


@dataclass(frozen=True)
class Link:
    """How a link behaves: every link, or one pair's (`Network.set_link`)."""

    #: One-way delay, seconds.
    latency_s: float = 0.01
    #: Extra delay per message, seconds: drawn from [0, jitter_s] ("uniform") or with mean
    #: jitter_s ("exponential", a long tail). Non-zero jitter reorders messages.
    jitter_s: float = 0.0
    #: Probability that a request, or a reply, is lost.
    loss: float = 0.0
    #: Probability that a delivered request is delivered a second time.
    duplicate: float = 0.0
    #: When the sender of a lost exchange, or of one to a down node, sees it fail.
    timeout_s: float = 1.0
    #: The distribution of the jitter: "uniform" or "exponential".
    jitter: str = "uniform"
    #: Extra delay of a node's first request to a peer, seconds: opening the connection
    #: that its later requests to that peer reuse (HTTP keep-alive).
    connect_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("latency_s", "jitter_s", "timeout_s", "connect_s"):
            value = getattr(self, name)
            if not 0 <= value < float("inf"):
                raise ValueError(f"Link.{name} must be a finite number >= 0, got {value!r}")
        for name in ("loss", "duplicate"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"Link.{name} must be in [0, 1), got {value!r}")
        if self.jitter not in _JITTERS:
            raise ValueError(f"Link.jitter must be one of {_JITTERS}, got {self.jitter!r}")


class SimulationFailure(AssertionError):
    """An invariant failed, or convergence did not come; the message names the seed (and
    the step) that reproduce it."""


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
        service_s: float = 0.0,
    ) -> None:
        self.config = config
        self.seed = seed
        #: Every link's behaviour; may be replaced between steps (a degrading network).
        self.link = link or Link()
        self.movies = tuple(movies)
        if not 0 <= service_s < float("inf"):
            raise ValueError(f"service_s must be a finite number >= 0, got {service_s!r}")
        #: Each node's time to handle one message it sends or receives, seconds: a node is
        #: one server, so its messages queue (0: no processing time, every send at once).
        self.service_s = service_s
        self._busy: dict[str, float] = {}  # node id -> when it has handled its queue
        #: (sender, target) pairs with an open connection (see `Link.connect_s`)
        self._connected: set[tuple[str, str]] = set()
        self.rng = random.Random(seed)
        self.start = start
        self.now = start
        self.nodes: dict[str, GossipNode] = {}
        #: each live node's driver: every input of a node goes through it (node.core.driver)
        self._drivers: dict[str, Driver] = {}
        self.steps = 0
        #: node-to-node messages so far (a request and its reply count as two)
        self.messages = 0
        #: ... of which in exchanges that carried news or asked for it (see the module doc)
        self.news_messages = 0
        #: messages by the kind of the request that began the exchange
        self.by_kind: dict[str, int] = {}
        #: news messages by the kind of the request that began the exchange
        self.news_by_kind: dict[str, int] = {}
        #: requests carrying news that are still on the wire (not yet delivered or lost)
        self.news_in_flight = 0
        self.invariants = Invariants() if check else None
        # (time, sequence, handler, argument): the sequence breaks ties in schedule order
        self._queue: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._seq = 0
        self._wake: dict[str, float] = {}
        self._group: dict[str, int] = {}  # node id -> partition side; absent = side 0
        self._cut: set[str] = set()  # nodes off the network (`docker network disconnect`)
        self._aliases: dict[str, str] = {}  # a name (like DNS) -> the node id it points at
        self._links: dict[tuple[str, str], Link] = {}
        #: paused node id -> what reached it meanwhile, in order: [handler, arg, expired]
        self._held: dict[str, list[list[Any]]] = {}
        self._listeners: list[Callable[[GossipNode, list[Event]], None]] = []
        self._roster: Roster | None = None
        self._halted = False

    # --- building the cluster --------------------------------------------------------
    def add(
        self,
        nid: str,
        *,
        bootstrap: str | None = None,
        publish: bool = True,
        roster: Roster | None = None,
    ) -> GossipNode:
        """Starts a node (a new life if `nid` ran before); it publishes a first favourite.
        A node added later with a `bootstrap` address is a late joiner."""
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
        driver = self._drivers[nid] = Driver(node, partial(self._settle, node))
        if publish and self.movies:
            driver.publish(self.now)
        else:
            driver.flush()
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
        return self._drivers[nid].publish(self.now, movie)

    def driver(self, nid: str) -> Driver:
        """Node `nid`'s driver: an input given through it (`receive`, `tick`...) is followed
        by the network as any other (sent, checked, scheduled), e.g. an outsider's request."""
        return self._drivers[nid]

    def listen(self, fn: Callable[[GossipNode, list[Event]], None]) -> None:
        """Calls fn(node, events) after every step of every node."""
        self._listeners.append(fn)

    def unlisten(self, fn: Callable[[GossipNode, list[Event]], None]) -> None:
        """Stops calling fn (given to `listen`)."""
        self._listeners.remove(fn)

    # --- faults ----------------------------------------------------------------------
    def crash(self, nid: str) -> None:
        """The node stops at once; its state is gone. Requests to it time out, and replies
        to its earlier requests go nowhere."""
        self.nodes.pop(nid, None)
        self._drivers.pop(nid, None)
        self._held.pop(nid, None)  # (what it held is lost; its senders time out)
        if self._connected:  # its connections close with it
            self._connected = {c for c in self._connected if nid not in c}
        self._wake.pop(nid, None)

    def restart(self, nid: str, *, bootstrap: str | None = None) -> GossipNode:
        """A crashed node starts again under the same id, with empty state."""
        self.crash(nid)
        return self.add(nid, bootstrap=bootstrap, roster=self._roster)

    def pause(self, nid: str) -> None:
        """The node freezes (SIGSTOP, `docker pause`): it keeps its state but handles
        nothing, and its timers do not fire. Requests to it wait (its senders see a timeout
        after `timeout_s`, and the request is handled at resume, its reply lost)."""
        if nid in self.nodes:
            self._held.setdefault(nid, [])

    def resume(self, nid: str) -> None:
        """The paused node goes on: what reached it meanwhile comes in, in order, now."""
        for handler, arg, expired in self._held.pop(nid, []):
            if expired:  # (the sender gave up on it: handled, its reply goes nowhere)
                request = arg[1]
                if type(request) is Send and request.envelope.messages:
                    self.news_in_flight -= 1  # (no longer on the wire for its sender)
                arg = (*arg[:-1], False)
            self._push(self.now, handler, arg)

    def paused(self, nid: str) -> bool:
        return nid in self._held

    def _hold(self, nid: str, handler: Callable[[Any], None], arg: Any) -> list[Any]:
        entry = [handler, arg, False]  # (the flag: its sender has given up on it)
        self._held[nid].append(entry)
        return entry

    def _expire(self, entry: list[Any]) -> None:
        """A request held by a paused node timed out at its sender."""
        src, request = entry[1][0], entry[1][1]
        for held in self._held.values():
            if any(e is entry for e in held):
                entry[2] = True
                break
        else:
            return  # (resumed in time, or the node crashed: its own path fails it)
        self._fail((src, request))

    def alias(self, name: str, nid: str) -> None:
        """Requests to `name` reach node `nid` (a DNS name such as a compose service's)."""
        self._aliases[name] = nid

    def partition(self, *groups: Iterable[str]) -> None:
        """Splits the cluster: nodes in different groups cannot reach each other. Nodes in
        no group form one more side."""
        self._group = {nid: k + 1 for k, group in enumerate(groups) for nid in group}

    def heal(self) -> None:
        self._group = {}

    def disconnect(self, nid: str) -> None:
        """The node is off the network, as a container that `docker network disconnect` took
        off it: its own requests fail at once (no route), requests to it time out. It keeps
        running, and a partition or heal leaves it where it is."""
        self._cut.add(nid)

    def reconnect(self, nid: str) -> None:
        self._cut.discard(nid)

    def reachable(self, a: str, b: str) -> bool:
        if a in self._cut or b in self._cut:
            return False
        return self._group.get(a, 0) == self._group.get(b, 0)

    def set_link(self, a: str, b: str, link: Link) -> None:
        """The link between `a` and `b` (both ways) behaves as `link` instead of `self.link`."""
        self._links[(a, b)] = self._links[(b, a)] = link

    def clear_links(self) -> None:
        """Every link behaves as `self.link` again."""
        self._links = {}

    # --- running ---------------------------------------------------------------------
    def run_until(self, t: float) -> None:
        """Runs every event due by virtual time t, unless `halt` is called first."""
        queue, pop = self._queue, heapq.heappop
        self._halted = False
        try:
            while queue and queue[0][0] <= t and not self._halted:
                self.now, _, handler, arg = pop(queue)
                self.steps += 1
                handler(arg)
        except InvariantViolation as e:
            raise self._failure(e) from e
        if not self._halted:
            self.now = max(self.now, t)

    def run_for(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def halt(self) -> None:
        """Stops `run_until` after the current step (call it from a listener or `at`)."""
        self._halted = True

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

    def run_to_step(self, step: int) -> None:
        """Runs until `step` steps have run: replaying a failure's seed to the step before
        the one it names leaves the network just before the violation, to inspect."""
        while self.steps < step and self._queue:
            self.step()

    def at(self, t: float, fn: Callable[[], None]) -> None:
        """Runs fn() at virtual time t (a scripted fault, an update)."""
        self._push(t, _call, fn)

    def step(self) -> None:
        """Runs the next event."""
        self.now, _, handler, arg = heapq.heappop(self._queue)
        self.steps += 1
        try:
            handler(arg)
        except InvariantViolation as e:
            raise self._failure(e) from e

    def _failure(self, e: InvariantViolation) -> SimulationFailure:
        return SimulationFailure(
            f"{e} (seed {self.seed}, step {self.steps}, t={self.now - self.start:.6f})"
        )

    # --- events ----------------------------------------------------------------------
    def _tick(self, arg: tuple[GossipNode, float]) -> None:
        node, when = arg
        nid = node.id
        if nid in self._held:
            self._hold(nid, self._tick, arg)
            return
        if self._wake.get(nid) == when and self.nodes.get(nid) is node:
            del self._wake[nid]
            self._drivers[nid].tick(self.now)

    def _reply(self, arg: tuple[GossipNode, Outgoing, Any]) -> None:
        node, request, reply = arg
        if node.id in self._held:
            self._hold(node.id, self._reply, arg)
            return
        if self.nodes.get(node.id) is node:  # replies to an earlier life go nowhere
            self._drivers[node.id].answered(self.now, request, reply)

    def _fail(self, arg: tuple[GossipNode, Outgoing]) -> None:
        node, request = arg
        if node.id in self._held:
            self._hold(node.id, self._fail, arg)
            return
        if self.nodes.get(node.id) is node:
            self._drivers[node.id].failed(self.now, request)

    # --- the wire --------------------------------------------------------------------
    def _settle(self, node: GossipNode, ready: Ready) -> None:
        """A node's step (its driver's handler): check it, send what it queued, schedule
        its next tick."""
        events, sent = ready.events, ready.sends
        if self.invariants is not None:
            self.invariants.check(node, events, sent)
        for fn in self._listeners:
            fn(node, events)
        for request in sent:
            self._transmit(node, request)
        wake = max(ready.wakeup, self.now)  # a timer already due runs now, not before
        nid = node.id
        if wake != self._wake.get(nid):
            self._wake[nid] = wake
            self._push(wake, self._tick, (node, wake))

    def _transmit(self, node: GossipNode, request: Outgoing) -> None:
        self.messages += 1
        by_kind = self.by_kind
        kind: SendKind | Literal["peers"]
        if type(request) is Send:
            kind = request.kind
            news = bool(request.envelope.messages)
        else:
            kind, news = "peers", False
        by_kind[kind] = by_kind.get(kind, 0) + 1
        if news:
            self._count_news(kind, 1)
        link = self._links.get((node.id, request.to), self.link) if self._links else self.link
        rng = self.rng
        now = self.now
        if self._cut and node.id in self._cut:  # (no route: it fails within a millisecond)
            self._push(now + 0.001, self._fail, (node, request))
            return
        if ((self._group or self._cut) and not self.reachable(node.id, request.to)) or (
            link.loss and rng.random() < link.loss
        ):
            self._push(now + link.timeout_s, self._fail, (node, request))
            return
        if news:
            self.news_in_flight += 1
        leaves = now
        if self.service_s:  # it leaves once the node has handled what was queued before it
            leaves = self._busy[node.id] = max(self._busy.get(node.id, now), now) + self.service_s
        if link.connect_s and (node.id, request.to) not in self._connected:
            self._connected.add((node.id, request.to))
            leaves += link.connect_s
        self._push(leaves + self._latency(link), self._deliver, (node, request, now, link, True))
        if link.duplicate and rng.random() < link.duplicate:
            self._push(
                leaves + self._latency(link), self._deliver, (node, request, now, link, False)
            )

    def _deliver(self, arg: tuple[GossipNode, Outgoing, float, Link, bool]) -> None:
        src, request, sent_at, link, answer = arg
        to = self._aliases.get(request.to, request.to) if self._aliases else request.to
        if to in self._held:  # a paused target: it waits, and its sender may give up
            entry = self._hold(to, self._deliver, arg)
            if answer:
                self._push(max(self.now, sent_at + link.timeout_s), self._expire, entry)
            return
        if self.service_s:  # the target handles one message at a time: this one waits its turn
            free = self._busy.get(to, self.now)
            if free > self.now:
                self._push(free, self._deliver, arg)
                return
            self._busy[to] = self.now + self.service_s
        news = answer and type(request) is Send and bool(request.envelope.messages)
        if news:
            self.news_in_flight -= 1
        target = self.nodes.get(to)
        if target is None or ((self._group or self._cut) and not self.reachable(src.id, to)):
            if answer:
                self._push(sent_at + link.timeout_s, self._fail, (src, request))
            return
        reply: Envelope | PeerListing
        if type(request) is Send:
            reply = self._drivers[to].receive(self.now, request.envelope)
        else:
            reply = target.peer_listing()
        if not answer:  # the copy of a duplicated request: its reply goes nowhere
            return
        self.messages += 1
        kind = request.kind if type(request) is Send else "peers"
        self.by_kind[kind] += 1
        if news:
            self._count_news(kind, 1)
        elif type(reply) is Envelope and (reply.messages or reply.want):
            self._count_news(kind, 2)  # a sync that traded news: request and reply both count
        if link.loss and self.rng.random() < link.loss:
            self._push(sent_at + link.timeout_s, self._fail, (src, request))
            return
        leaves = self.now + self.service_s  # (its reply, once the request is handled)
        self._push(leaves + self._latency(link), self._reply, (src, request, reply))

    def _count_news(self, kind: str, n: int) -> None:
        self.news_messages += n
        self.news_by_kind[kind] = self.news_by_kind.get(kind, 0) + n

    def _latency(self, link: Link) -> float:
        if not link.jitter_s:
            return link.latency_s
        if link.jitter == "uniform":
            return link.latency_s + self.rng.random() * link.jitter_s
        return link.latency_s + self.rng.expovariate(1 / link.jitter_s)

    def _push(self, t: float, handler: Callable[[Any], None], arg: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (t, self._seq, handler, arg))


def _call(fn: Callable[[], None]) -> None:
    fn()
