"""The aiohttp shell around one gossip core: endpoints, timers, and the wiring between them.

Owns I/O for one node: it decodes requests (with size and depth limits), hands them to the
core, and turns what the core produces into replies, outgoing HTTP (`Transport`), log lines
(`node.logs`) and metrics (`node.metrics`). Handlers are a few lines each: decode, call the
core, pump, respond. It holds no protocol logic; a rule about gossip belongs in `node.core`.

`create_app(settings)` builds everything for one node (no globals: tests run several nodes
in one process); background work runs in `cleanup_ctx`, so it stops with the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from node.core import (
    Envelope,
    Event,
    FetchPeers,
    GossipNode,
    InvalidMessage,
    Outgoing,
    PeerListing,
    Send,
    envelope_to_wire,
    parse_envelope,
)
from node.logs import log_event, make_logger
from node.metrics import NodeMetrics
from node.settings import Settings, load_movies
from node.transport import Transport, decode_json
from node.ui import setup_ui

__all__ = ["create_app", "Runtime", "RUNTIME"]

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
        self.metrics = NodeMetrics(self.node)
        self.transport = Transport(
            settings.config,
            settings.request_timeout_s,
            self._on_reply,
            self._on_peers,
            self._on_failure,
        )
        #: Called with every batch of events (the page's live feed subscribes here).
        self.listeners: list[Callable[[list[Event]], None]] = []
        self._wakeup = asyncio.Event()
        self._scheduled = float("inf")

    def view(self) -> dict[str, Any]:
        """This node's view: the contract's `GET /state` JSON (the page's feed sends the same)."""
        snap = self.node.snapshot(self.clock())
        snap["config"] = self.node.config.as_dict()
        snap["bootstrap"] = self.settings.bootstrap
        return snap

    def pump(self) -> None:
        """Drains the core after any input: events to logs, metrics and listeners; requests
        to the transport; and wakes the timer loop if a timer moved earlier."""
        events = self.node.drain_events()
        if events:
            for event in events:
                log_event(self.log, event)
            self.metrics.observe(events)
            for listener in self.listeners:
                listener(events)
        for request in self.node.drain_outbox():
            self.transport.send(request)
        if self.node.next_wakeup() < self._scheduled:
            self._wakeup.set()

    async def run_timers(self) -> None:
        """Calls the core's `tick` whenever a timer is due, forever."""
        while True:
            now = self.clock()
            self._scheduled = self.node.next_wakeup()
            delay = min(max(self._scheduled - now, 0.0), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), delay)
            self._wakeup.clear()
            self.node.tick(self.clock())
            self.pump()

    def _on_reply(self, request: Send, reply: Envelope) -> None:
        self.node.on_reply(self.clock(), request, reply)
        self.pump()

    def _on_peers(self, request: FetchPeers, listing: PeerListing) -> None:
        self.node.on_peers(self.clock(), request, listing)
        self.pump()

    def _on_failure(self, request: Outgoing, error: str) -> None:
        self.log.debug(
            "send_failed", peer=request.to, kind=getattr(request, "kind", "peers"), error=error
        )
        self.node.on_failure(self.clock(), request)
        self.pump()


RUNTIME = web.AppKey("runtime", Runtime)


class BadRequest(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


def create_app(
    settings: Settings,
    *,
    movies: Sequence[str] | None = None,
    clock: Clock = time.time,
    log: Any = None,
) -> web.Application:
    """The whole node as an aiohttp application. Raises SettingsError for a bad movies file."""
    movies = tuple(movies) if movies is not None else load_movies(settings.movies)
    log = log or make_logger(settings.advertise, settings.log_format, settings.log_level)
    rt = Runtime(settings, movies, clock, log)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[_json_errors])
    app[RUNTIME] = rt
    setup_ui(app, rt)  # the page: GET /, /events, /cluster, /proxy/... (node.ui)
    for path in ("/peers/", "/peers"):
        app.router.add_get(path, peers)
    for path in ("/gossip/", "/gossip"):
        app.router.add_post(path, gossip)
    app.router.add_get("/state", state)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/favourite", favourite)
    app.cleanup_ctx.append(_background)
    app.on_shutdown.append(_on_shutdown)
    return app


async def _background(app: web.Application) -> AsyncIterator[None]:
    rt = app[RUNTIME]
    await rt.transport.start()
    cfg, s = rt.node.config, rt.settings
    rt.log.info(
        "node_started",
        advertise=s.advertise,
        listen=f"{s.host}:{s.port}",
        bootstrap=s.bootstrap,
        fanout=cfg.fanout,
        ttl=cfg.ttl,
        sync_s=cfg.sync_s,
        resample_s=cfg.resample_s,
        push_interval_s=cfg.push_interval_s,
        movies=len(rt.node.movies),
    )
    rt.node.publish(rt.clock())
    rt.pump()
    timers = asyncio.get_running_loop().create_task(rt.run_timers())
    yield
    timers.cancel()
    await asyncio.gather(timers, return_exceptions=True)
    await rt.transport.close()
    rt.log.info("node_stopped", version=rt.node.version)


async def _on_shutdown(app: web.Application) -> None:
    app[RUNTIME].log.info("node_stopping")


# --- handlers ------------------------------------------------------------------------
async def gossip(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    body = await _read_json(request)
    try:
        envelope = parse_envelope(body, rt.node.config)
    except InvalidMessage as e:
        raise BadRequest(400, e.reason, e.detail) from None
    reply = rt.node.receive(rt.clock(), envelope)
    rt.pump()
    return web.json_response(envelope_to_wire(reply))


async def peers(request: web.Request) -> web.Response:
    return web.json_response(request.app[RUNTIME].node.peer_listing().to_wire())


async def state(request: web.Request) -> web.Response:
    return web.json_response(request.app[RUNTIME].view())


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[RUNTIME].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(request: web.Request) -> web.Response:
    node = request.app[RUNTIME].node
    body = {
        "status": "ok" if node.ready else "starting",
        "id": node.id,
        "bootstrapped": node.bootstrapped,
        "version": node.version,
    }
    return web.json_response(body, status=200 if node.ready else 503)


async def favourite(request: web.Request) -> web.Response:
    """POST /favourite: pick a new favourite now ({"movie": title} to choose it)."""
    rt = request.app[RUNTIME]
    _require_admin(request)
    movie = None
    if request.can_read_body:
        body = await _read_json(request)
        if not isinstance(body, dict):
            raise BadRequest(400, "not_object", "the body must be a JSON object")
        movie = body.get("movie")
        if movie is not None and (not isinstance(movie, str) or movie not in rt.node.movies):
            raise BadRequest(400, "bad_payload", "movie must be one of the node's movies")
    message = rt.node.publish(rt.clock(), movie)
    rt.pump()
    return web.json_response(
        {"id": rt.node.id, "movie": message.movie, "version": message.version, "uuid": message.uuid}
    )


# --- helpers -------------------------------------------------------------------------
def _require_admin(request: web.Request) -> None:
    token = request.app[RUNTIME].settings.admin_token
    if token is None:
        return
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise BadRequest(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'")


async def _read_json(request: web.Request) -> Any:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[RUNTIME].settings.max_body_bytes
        raise BadRequest(413, "body_too_large", f"the body is over {limit} bytes") from None
    try:
        return decode_json(raw)
    except RecursionError:
        raise BadRequest(400, "too_deep", "JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(400, "malformed_json", f"malformed JSON: {e}"[:200]) from None


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is JSON {"error": ...} with a 4xx that says whose fault it was, counted."""
    rt = request.app[RUNTIME]
    try:
        return await handler(request)
    except BadRequest as e:
        status, reason, detail = e.status, e.reason, e.detail
    except web.HTTPException as e:
        if e.status < 400:
            raise
        status, detail = e.status, e.reason
        reason = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            e.status, "bad_request"
        )
    rt.node.refuse(reason, f"{request.method} {request.path}: {detail}", request.remote)
    rt.pump()
    return web.json_response({"error": detail, "reason": reason}, status=status)
