"""`python -m lab.bench.bare PORT`: the bare aiohttp handler the throughput benchmark compares
the node with. It decodes the same JSON the node would and replies with the node's reply to
a push (`{"sender": id}`), and does nothing else: the ceiling for a Python aiohttp server on
this machine. Listens on 127.0.0.1 only."""

from __future__ import annotations

import json
import sys

from aiohttp import web

__all__ = ["make_app"]


def make_app(port: int) -> web.Application:
    me = f"127.0.0.1:{port}"

    async def gossip(request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        if not isinstance(body, dict):
            raise web.HTTPBadRequest()
        return web.json_response({"sender": me})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/gossip/", gossip)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    web.run_app(make_app(port), host="127.0.0.1", port=port, print=None, access_log=None)
