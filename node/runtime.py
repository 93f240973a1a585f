"""One node's core and the shell parts around it, wired together: `Runtime`.

Owns the wiring, not the endpoints: the core (`GossipNode`) and its `Driver` (every input
goes through `driver`), its metrics, the keys and the fault layer (each held here once, and
read by both the edge and the transport), the incoming edge (`node.edge`: body, decoding,
signatures, refusals, flood control), the outgoing transport, and `_on_ready`, which turns
each step's `Ready` into log lines, metrics, listeners (the page's feed, the observatory)
and outgoing requests; and the timer loop that calls the core's `tick`. The endpoints
(`node.app`, and `node.ui`, `node.observatory`, `node.admin` beside it) take a `Runtime`
and stay a few lines each. Nothing here decides anything about gossip; that is `node.core`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from node.core import (
    Driver,
    Envelope,
    Event,
    GossipNode,
    Outgoing,
    PeerListing,
    Ready,
    Refused,
)
from node.core.auth import Keyring
from node.edge import Edge
from node.faults import FaultLayer
from node.logs import log_event
from node.metrics import NodeMetrics
from node.settings import Settings
from node.state_view import state_json
from node.transport import Transport

__all__ = ["Runtime", "RUNTIME", "Clock"]

Clock = Callable[[], float]


class Runtime:
    """One node's core and the shell parts around it, wired together."""

    def __init__(self, settings: Settings, movies: Sequence[str], clock: Clock, log: Any) -> None:
        self.settings = settings
        self.clock = clock
        self.log = log
        self.node = GossipNode(
            settings.advertise,
            settings.config,
            now=clock(),
            rng=settings.rng(),
            movies=movies,
            bootstrap=settings.bootstrap,
        )
        #: Every input of the core goes through here: `driver.receive`, `driver.publish`...
        self.driver = Driver(self.node, self._on_ready)
        #: Requests and messages refused, by reason, in the order they came: a tally of every
        #: `Refused` event, the shell's own (`refused`) and the core's (origin table full).
        #: /state's counters and gossip_invalid_requests_total read it.
        self.invalid: dict[str, int] = {}
        self.metrics = NodeMetrics(self.node, settings.name, invalid=self.invalid)
        # The fault layer's dice get their own random source: injecting faults must not
        # change the protocol's own choices under a fixed GOSSIP_SEED.
        dice = random.Random(None if settings.seed is None else f"faults-{settings.seed}")
        #: What the node does to traffic on purpose, both ways; changed by PUT /admin/faults.
        self.faults = FaultLayer(settings.faults, dice)
        #: The keys that sign and verify, both ways; replaced live by PUT /admin/keys.
        self.keys: Keyring | None = settings.keys
        self.edge = Edge(settings, self.driver, self._keys, self.faults, clock, self.refused)
        self.transport = Transport(
            settings.config,
            settings.request_timeout_s,
            self._answered,
            self._on_failure,
            sender=settings.advertise,
            keys=self._keys,
            faults=self.faults,
            clock=clock,
            idle_s=settings.idle_s,
        )
        #: Called with every batch of events (the page's live feed subscribes here).
        self.listeners: list[Callable[[list[Event]], None]] = []
        self._wakeup = asyncio.Event()
        #: When the core next wants `tick` (from the last Ready), and when the timer loop
        #: is set to wake: a Ready with an earlier wake-up wakes the loop.
        self._due = self.node.next_wakeup()
        self._scheduled = float("inf")
        #: Whether `host_unreachable` was logged (once a node: the cause is the host's).
        self._told_unreachable = False

    def _keys(self) -> Keyring | None:
        return self.keys

    def view(self) -> dict[str, Any]:
        """This node's view: the contract's `GET /state` JSON (the page's feed sends the same)."""
        snap = state_json(self.node, self.clock(), self.invalid)
        snap["name"] = self.settings.name
        snap["config"] = self.node.config.as_dict()
        snap["bootstrap"] = self.settings.bootstrap
        return snap

    def refused(self, reason: str, detail: str, sender: str | None) -> None:
        """The shell refused a request before it reached the core: counted, logged and fed
        like the core's own refusals."""
        self._dispatch([Refused(reason, detail, sender)])

    def _on_ready(self, ready: Ready) -> None:
        """One step of the core: events to logs, metrics and listeners; requests to the
        transport; and the timer loop woken if the next timer moved earlier."""
        if ready.events:
            self._dispatch(ready.events)
        for request in ready.sends:
            self.transport.send(request)
        self._due = ready.wakeup
        if ready.wakeup < self._scheduled:
            self._wakeup.set()

    def _dispatch(self, events: list[Event]) -> None:
        for event in events:
            if type(event) is Refused:
                self.invalid[event.reason] = self.invalid.get(event.reason, 0) + 1
            log_event(self.log, event)
        self.metrics.observe(events)
        for listener in self.listeners:
            listener(events)

    async def run_timers(self) -> None:
        """Calls the core's `tick` whenever a timer is due, forever."""
        while True:
            now = self.clock()
            self._scheduled = self._due
            delay = min(max(self._scheduled - now, 0.0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
            self._wakeup.clear()
            self.driver.tick(self.clock())

    def _answered(self, request: Outgoing, reply: Envelope | PeerListing) -> None:
        self.driver.answered(self.clock(), request, reply)

    def _on_failure(self, request: Outgoing, error: str) -> None:
        self.log.debug(
            "send_failed", peer=request.to, kind=getattr(request, "kind", "peers"), error=error
        )
        if not self._told_unreachable and "No route to host" in error:
            self._told_unreachable = True
            self.log.warning("host_unreachable", peer=request.to, error=error, hint=_NO_ROUTE)
        self.driver.failed(self.clock(), request)


RUNTIME = web.AppKey("runtime", Runtime)
_NO_ROUTE = (
    "no route to a peer: with many containers on one host, the kernel's ARP table may be full "
    "(dmesg: 'neighbor table overflow'); raise net.ipv4.neigh.default.gc_thresh3 (docs/lab.md)"
)
