"""`python -m lab.bench.bare PORT [--fast]`: the bare aiohttp handler the throughput benchmark
compares the node with. It decodes the same JSON the node would and replies with the node's
reply to a push (`{"sender": id}`), and does nothing else: the ceiling for a Python aiohttp
server on this machine. Plain, it runs on asyncio's loop with the standard library's json;
`--fast` gives it the node's own stack (uvloop where installed, orjson), so that the two
differ only in what the node does with a message. Listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from node.cli import new_event_loop

__all__ = ["make_app"]


def make_app(port: int, fast: bool = False) -> web.Application:
    me = f"127.0.0.1:{port}"
    loads: Callable[[bytes], Any] = orjson.loads if fast else json.loads
    dumps: Callable[[Any], bytes] = orjson.dumps if fast else (lambda o: json.dumps(o).encode())
    headers = {"Content-Type": "application/json"}

    async def gossip(request: web.Request) -> web.Response:
        body = loads(await request.read())
        if not isinstance(body, dict):
            raise web.HTTPBadRequest()
        return web.Response(body=dumps({"sender": me}), headers=headers)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/gossip/", gossip)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    port, fast = int(sys.argv[1]), "--fast" in sys.argv[2:]
    loop = new_event_loop() if fast else asyncio.new_event_loop()
    web.run_app(
        make_app(port, fast), host="127.0.0.1", port=port, print=None, access_log=None, loop=loop
    )
