"""The node's web page and the endpoints behind it, wired into the app by `setup_ui`.

Owns: the page's files (`node/static/`, served by the node itself: no CDN, works offline),
`GET /ui.json` (what the page needs besides `/state`), the live feed `GET /events` (SSE,
`node.feed`), the cluster view `GET /cluster` (`node.gather`), and `/proxy/{peer}/...`,
which lets a browser that can reach only this node open any peer's own page through it.
It holds no protocol logic and changes nothing in the core: the one state-changing call,
`POST /favourite`, is the shell's (`node.app`); the proxy merely forwards it to a peer.

The proxy only talks to this node's members (peers that have answered it under their own
id: never an id it was merely told of), only on the paths the page uses, never follows a
redirect (a caller's Authorization header reaches the member it is addressed to and no one
else), and checks that what comes back is JSON or an event stream; a peer that does
not answer gets a 502/504 (the peer's fault, not the caller's, so not counted as invalid).
UI traffic has its own client session, so a crowd of browsers cannot starve gossip's.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web

from node.core.message import is_address
from node.feed import SSE_HEADERS, STATE_MAX_S, Feed, stream
from node.gather import (
    MAX_CONCURRENCY,
    TIMEOUT_S,
    ClusterView,
    fan_out_session,
)
from node.transport import read_capped

if TYPE_CHECKING:
    from node.runtime import Runtime

__all__ = ["setup_ui", "Ui", "UI", "STATIC_DIR"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Proxied event streams open at once; one more gets 503.
MAX_PROXY_STREAMS = 16
#: Largest proxied JSON body.
MAX_PROXY_BYTES = 8 << 20
#: A proxied stream with nothing from the peer this long is given up (the peer sends its
#: state at least every STATE_MAX_S, so silence means it is gone).
PROXY_SILENCE_S = 4 * STATE_MAX_S
#: Paths of a peer that the proxy fetches (GET) and their content type.
_PROXY_GET = ("state", "ui.json", "cluster")


class Ui:
    """The page's endpoints for one node; `setup_ui` registers them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.feed = Feed(rt.view, rt.clock)
        self.cluster_view = ClusterView(rt.node, rt.view, rt.clock)
        self.session: aiohttp.ClientSession | None = None
        self.timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        self._upstreams: set[aiohttp.ClientResponse] = set()
        self._files = {p.name for p in STATIC_DIR.iterdir() if p.is_file()}

    # --- the page's files --------------------------------------------------------------
    async def index(self, request: web.Request) -> web.StreamResponse:
        return self._file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in self._files:
            raise web.HTTPNotFound(reason=f"no file {name!r}")
        return self._file(name)

    async def favicon(self, request: web.Request) -> web.StreamResponse:
        return self._file("favicon.svg")

    def _file(self, name: str) -> web.FileResponse:
        # no-cache: the browser revalidates (ETag), so a node upgrade never runs stale JS
        headers = {"Cache-Control": "no-cache"}
        if name.endswith(".js"):
            # the page's scripts are ES modules, which a browser runs only when served as
            # JavaScript: not left to the machine's MIME table
            headers["Content-Type"] = "text/javascript; charset=utf-8"
        return web.FileResponse(STATIC_DIR / name, headers=headers)

    async def ui_json(self, request: web.Request) -> web.Response:
        node = self.rt.node
        return web.json_response(
            {
                "id": node.id,
                "name": self.rt.settings.name,
                "movies": list(node.movies),
                "token_required": self.rt.settings.admin_token is not None,
            }
        )

    # --- live feed and cluster view ----------------------------------------------------
    async def events(self, request: web.Request) -> web.StreamResponse:
        return await stream(request, self.feed)

    async def cluster(self, request: web.Request) -> web.Response:
        return web.json_response(await self.cluster_view.get())

    # --- a peer's page through this node ------------------------------------------------
    def _peer(self, request: web.Request) -> str:
        peer = request.match_info["peer"]
        node = self.rt.node
        if not is_address(peer) or peer == node.id or peer not in node.peers:
            raise web.HTTPNotFound(reason=f"{peer!r} is not a member of this node's cluster")
        return peer

    async def proxy_get(self, request: web.Request) -> web.Response:
        """GET /proxy/{peer}/{state|ui.json|cluster}: the peer's answer, as it gave it."""
        peer, what = self._peer(request), request.match_info["what"]
        if what not in _PROXY_GET:
            raise web.HTTPNotFound(reason=f"the proxy does not fetch {what!r}")
        return await self._forward(peer, "GET", what, None, {})

    async def proxy_favourite(self, request: web.Request) -> web.Response:
        """POST /proxy/{peer}/favourite: the body and Authorization go to the peer as given."""
        peer = self._peer(request)
        body = await self.rt.edge.read_body(request)  # within the limits, like any body
        headers = {"Content-Type": "application/json"}
        if "Authorization" in request.headers:
            headers["Authorization"] = request.headers["Authorization"]
        return await self._forward(peer, "POST", "favourite", body or None, headers)

    async def _forward(
        self, peer: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> web.Response:
        if self.session is None:
            return _upstream_error(503, "the node is starting")
        try:
            async with self.session.request(
                method,
                f"http://{peer}/{path}",
                data=body,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            ) as r:
                data = await read_capped(r, MAX_PROXY_BYTES)
                status = r.status
            json.loads(data)  # only JSON passes: this is no general-purpose proxy
        except TimeoutError:
            return _upstream_error(504, f"{peer} did not answer within {TIMEOUT_S} s")
        except (aiohttp.ClientError, OSError) as e:
            return _upstream_error(502, f"{peer} unreachable: {type(e).__name__}: {e}"[:200])
        except ValueError:
            return _upstream_error(502, f"{peer} did not answer JSON")
        return web.Response(body=data, status=status, content_type="application/json")

    async def proxy_events(self, request: web.Request) -> web.StreamResponse:
        """GET /proxy/{peer}/events: the peer's live feed, relayed byte for byte."""
        peer = self._peer(request)
        if self.session is None:
            return _upstream_error(503, "the node is starting")
        if len(self._upstreams) >= MAX_PROXY_STREAMS:
            return _upstream_error(503, f"too many proxied streams (at most {MAX_PROXY_STREAMS})")
        timeout = aiohttp.ClientTimeout(total=None, connect=TIMEOUT_S, sock_read=PROXY_SILENCE_S)
        try:
            upstream = await self.session.get(
                f"http://{peer}/events", timeout=timeout, allow_redirects=False
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as e:
            return _upstream_error(502, f"{peer} unreachable: {type(e).__name__}: {e}"[:200])
        if upstream.status != 200 or upstream.content_type != "text/event-stream":
            upstream.close()
            return _upstream_error(502, f"{peer} answered HTTP {upstream.status}, not a stream")
        self._upstreams.add(upstream)
        response = web.StreamResponse(headers=SSE_HEADERS)
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
        except (aiohttp.ClientError, OSError, TimeoutError):
            pass  # either side went away; the browser reconnects by itself
        finally:
            self._upstreams.discard(upstream)
            upstream.close()
        with contextlib.suppress(ConnectionError, OSError):
            await response.write_eof()
        return response

    # --- lifetime ------------------------------------------------------------------------
    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: the UI's client session and the feed's task."""
        limit = MAX_CONCURRENCY + MAX_PROXY_STREAMS + 16
        async with fan_out_session(limit, self.close_streams, self.feed.run) as session:
            self.session = self.cluster_view.session = session
            yield

    def close_streams(self) -> None:
        """At shutdown, end every open stream at once, so the server need not wait for them."""
        self.feed.close_all()
        for upstream in list(self._upstreams):
            upstream.close()

    async def on_shutdown(self, app: web.Application) -> None:
        self.close_streams()


def _upstream_error(status: int, detail: str) -> web.Response:
    return web.json_response({"error": detail, "reason": "upstream"}, status=status)


UI = web.AppKey("ui", Ui)


def setup_ui(app: web.Application, rt: Runtime) -> Ui:
    """Registers the page, its endpoints, the feed's listener and the UI's lifetime."""
    ui = app[UI] = Ui(rt)
    rt.listeners.append(ui.feed.on_events)
    add = app.router.add_get
    add("/", ui.index)
    add("/static/{name}", ui.static)
    add("/favicon.ico", ui.favicon)
    add("/ui.json", ui.ui_json)
    add("/events", ui.events)
    add("/cluster", ui.cluster)
    add("/proxy/{peer}/events", ui.proxy_events)
    add("/proxy/{peer}/{what}", ui.proxy_get)
    app.router.add_post("/proxy/{peer}/favourite", ui.proxy_favourite)
    app.cleanup_ctx.append(ui.lifetime)
    app.on_shutdown.append(ui.on_shutdown)
    return ui
