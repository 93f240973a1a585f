"""The aiohttp shell around one gossip core: its endpoints, and `create_app`, which builds it.

Owns the routes of one node and their handlers, a few lines each: the edge (`node.edge`)
admits, reads, verifies and decodes a request and refuses what it must; the core is called
through the runtime's driver; the answer goes back as JSON. It holds no protocol logic (a
rule about gossip belongs in `node.core`) and no checks of its own (those are the edge's).
The wiring every handler reaches (`Runtime`: the core, its driver, the edge, the transport,
the keys and the fault layer, the timer loop) is `node.runtime`, which the page (`node.ui`),
the observatory and the admin endpoints share without importing this module.

A received message: node.front (or aiohttp, then `gossip` and `Edge.gossip`) ->
`Edge.exchange` (node.edge) -> `Driver.receive` (node.core) -> `Runtime._on_ready` ->
`Transport.send`; the answer leaves signed by the edge. The gossip route below is what
aiohttp serves when the front hands a connection over (chunked bodies, odd heads).

`create_app(settings)` builds everything for one node (no globals: tests run several nodes
in one process); background work runs in `cleanup_ctx`, so it stops with the app.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from node.admin import setup_admin
from node.codec import listing_to_wire
from node.edge import EDGE, edge_middleware
from node.errors import Refusal
from node.logs import make_logger
from node.observatory import setup_observatory
from node.runtime import RUNTIME, Clock, Runtime
from node.settings import Settings, load_movies
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
        settings.advertise,
        settings.log_format,
        settings.log_level,
        name=settings.name,
        flush_s=settings.log_flush_s,
    )
    rt = Runtime(settings, movies, clock, log)
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[edge_middleware])
    app[RUNTIME] = rt
    app[EDGE] = rt.edge
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
    """POST /gossip/: the edge takes the exchange from here to the core and back."""
    edge = request.app[EDGE]
    return await edge.gossip(request)


async def peers(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    return rt.edge.answer(request, listing_to_wire(rt.node.peer_listing()))


async def state(request: web.Request) -> web.Response:
    return web.json_response(request.app[RUNTIME].view())


async def metrics(request: web.Request) -> web.Response:
    body = request.app[RUNTIME].metrics.render()
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
    rt.edge.authorize(request)
    movie = None
    if request.can_read_body:
        movie = (await rt.edge.read_json_object(request)).get("movie")
        if movie is not None and (not isinstance(movie, str) or movie not in rt.node.movies):
            raise Refusal(400, "bad_payload", "movie must be one of the node's movies")
    message = rt.driver.publish(rt.clock(), movie)
    return web.json_response(
        {"id": rt.node.id, "movie": message.movie, "version": message.version, "uuid": message.uuid}
    )
