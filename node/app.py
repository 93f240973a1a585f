"""The aiohttp shell around one gossip core: endpoints, timers, and the wiring between them.

Owns I/O for one node: it guards the door (flood control, body size, read time, JSON depth,
signatures when keys are set), decodes requests, hands them to the core, and turns what the
core produces into replies, outgoing HTTP (`Transport`), log lines (`node.logs`) and metrics
(`node.metrics`). Handlers are a few lines each: decode, call the
core, pump, respond. It holds no protocol logic; a rule about gossip belongs in `node.core`.
The wiring it hands every handler (`Runtime`: the core, transport, metrics, `pump`, the
timer loop) is `node.runtime`, which the page (`node.ui`), the observatory and the admin
endpoints share without importing this module.

`create_app(settings)` builds everything for one node (no globals: tests run several nodes
in one process); background work runs in `cleanup_ctx`, so it stops with the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from node.admin import setup_admin
from node.core import InvalidMessage, envelope_to_wire, parse_envelope
from node.errors import Refusal
from node.logs import make_logger
from node.observatory import setup_observatory
from node.runtime import RUNTIME, Clock, Runtime
from node.settings import Settings, load_movies
from node.transport import SENDER_HEADER, decode_json, listing_to_wire
from node.ui import setup_ui

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    movies: Sequence[str] | None = None,
    clock: Clock = time.time,
    log: Any = None,
) -> web.Application:
    """The whole node as an aiohttp application. Raises SettingsError for a bad movies file."""
    movies = tuple(movies) if movies is not None else load_movies(settings.movies)
    log = log or make_logger(
        settings.advertise, settings.log_format, settings.log_level, name=settings.name
    )
    rt = Runtime(settings, movies, clock, log)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[_json_errors])
    app[RUNTIME] = rt
    setup_admin(app, rt)
    setup_ui(app, rt)  # the page: GET /, /events, /cluster, /proxy/... (node.ui)
    setup_observatory(app, rt)  # /record, /observatory/... (node.observatory)
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
    rt.driver.publish(rt.clock())
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
    client = f"{request.remote}|{request.headers.get(SENDER_HEADER, '')[:64]}"
    wait = rt.limiter.allow(client, rt.clock())
    if wait:
        retry = str(max(1, round(wait + 0.5)))
        raise Refusal(429, "rate_limited", "too many requests", headers={"Retry-After": retry})
    raw = await _read_body(request)
    verified = rt.check_signature(request, raw)
    try:
        envelope = parse_envelope(_decode(raw), rt.node.config)
    except InvalidMessage as e:
        raise Refusal(400, e.reason, e.detail) from None
    if rt.transport.faults.blocks_incoming(envelope.sender):
        raise Refusal(503, "partitioned", "fault injected: partitioned", counted=False)
    reply = rt.driver.receive(rt.clock(), envelope, verified=verified)
    return rt.reply(envelope_to_wire(reply))


async def peers(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    rt.check_signature(request, b"")
    return rt.reply(listing_to_wire(rt.node.peer_listing()))


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
    if not rt.authorized(request):
        raise Refusal(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'")
    movie = None
    if request.can_read_body:
        body = _decode(await _read_body(request))
        if not isinstance(body, dict):
            raise Refusal(400, "not_object", "the body must be a JSON object")
        movie = body.get("movie")
        if movie is not None and (not isinstance(movie, str) or movie not in rt.node.movies):
            raise Refusal(400, "bad_payload", "movie must be one of the node's movies")
    message = rt.driver.publish(rt.clock(), movie)
    return web.json_response(
        {"id": rt.node.id, "movie": message.movie, "version": message.version, "uuid": message.uuid}
    )


# --- helpers -------------------------------------------------------------------------
async def _read_body(request: web.Request) -> bytes:
    """The body, within the size limit and the time limit (a slow sender is cut off)."""
    settings = request.app[RUNTIME].settings
    try:
        async with asyncio.timeout(settings.request_timeout_s * 2):
            return await request.read()
    except web.HTTPRequestEntityTooLarge:
        limit = settings.max_body_bytes
        raise Refusal(413, "body_too_large", f"the body is over {limit} bytes") from None
    except TimeoutError:
        raise Refusal(408, "timeout", "the body took too long to arrive") from None


def _decode(raw: bytes) -> Any:
    try:
        return decode_json(raw)
    except RecursionError:
        raise Refusal(400, "too_deep", "JSON nested too deeply") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Refusal(400, "malformed_json", f"malformed JSON: {e}"[:200]) from None


def _same_origin(request: web.Request) -> None:
    """A browser on another site must not change a node (CSRF): a state-changing request
    that names an Origin must come from this node's own page. Nodes and scripts send none."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise Refusal(403, "cross_origin", f"requests from {origin[:80]} are not accepted")


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is JSON {"error": ...} with a 4xx that says whose fault it was, counted."""
    rt = request.app[RUNTIME]
    try:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            _same_origin(request)
        return await handler(request)
    except Refusal as e:
        if not e.counted:
            return web.json_response({"error": e.detail, "reason": e.reason}, status=e.status)
        status, reason, detail, headers = e.status, e.reason, e.detail, e.headers
    except web.HTTPException as e:
        if e.status < 400:
            raise
        status, detail = e.status, e.reason
        reason = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            e.status, "bad_request"
        )
        headers = {}
    rt.refused(reason, f"{request.method} {request.path}: {detail}", request.remote)
    return web.json_response({"error": detail, "reason": reason}, status=status, headers=headers)
