"""One node's core and the shell parts around it, wired together: `Runtime`.

Owns the wiring, not the endpoints: the core (`GossipNode`) and its `Driver` (every input
goes through `driver`), its metrics, the transport with its fault layer, the keys, the flood
limiter, and `_on_ready`, which turns each step's `Ready` into log lines, metrics,
listeners (the page's feed, the observatory) and outgoing requests; and the timer loop that
calls the core's `tick`. The endpoints (`node.app`, and
`node.ui`, `node.observatory`, `node.admin` beside it) take a `Runtime` and stay a few
lines each. Nothing here decides anything about gossip; that is `node.core`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
from collections.abc import Callable, Sequence
from typing import Any

import orjson
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
from node.core.auth import SIGNATURE_HEADER, TIME_HEADER, Keyring
from node.errors import Refusal
from node.faults import FaultLayer
from node.guard import RateLimiter
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
        faults = FaultLayer(settings.faults, dice)
        self.transport = Transport(
            settings.config,
            settings.request_timeout_s,
            self._answered,
            self._on_failure,
            sender=settings.advertise,
            keys=settings.keys,
            faults=faults,
            clock=clock,
        )
        #: The keys that sign and verify; replaced live by PUT /admin/keys.
        self.keys: Keyring | None = settings.keys
        self.limiter = RateLimiter(settings.rate_limit)
        #: Called with every batch of events (the page's live feed subscribes here).
        self.listeners: list[Callable[[list[Event]], None]] = []
        self._wakeup = asyncio.Event()
        #: When the core next wants `tick` (from the last Ready), and when the timer loop
        #: is set to wake: a Ready with an earlier wake-up wakes the loop.
        self._due = self.node.next_wakeup()
        self._scheduled = float("inf")

    def set_keys(self, keys: Keyring | None) -> None:
        self.keys = self.transport.keys = keys

    def authorized(self, request: web.Request) -> bool:
        """True if the request carries the admin token (or none is configured)."""
        token = self.settings.admin_token
        if token is None:
            return True
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())

    def check_signature(self, request: web.Request, body: bytes) -> bool:
        """With keys set, refuses a request whose signature is missing, wrong or too old.
        True if the request was verified (keys are set and it is signed with one)."""
        if self.keys is None:
            return False
        h = request.headers
        reason = self.keys.check(
            f"{request.method} {request.path}",
            body,
            h.get(TIME_HEADER),
            h.get(SIGNATURE_HEADER),
            self.clock(),
        )
        if reason is not None:
            status = 401 if reason == "unsigned" else 403
            raise Refusal(status, reason, f"request signature refused: {reason}")
        return True

    def reply(self, data: Any) -> web.Response:
        """A JSON reply, signed when keys are set."""
        body = orjson.dumps(data)
        headers = {"Content-Type": "application/json"}
        if self.keys is not None:
            headers.update(self.keys.headers("reply", body, self.clock()))
        return web.Response(body=body, headers=headers)

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
        self.driver.failed(self.clock(), request)


RUNTIME = web.AppKey("runtime", Runtime)
