"""Admin endpoints: change a running node's faults and keys. Off unless a token is set.

Owns `GET/PUT /admin/faults` and `PUT /admin/keys`, their validation, logging and metrics;
the fault layer and the keys themselves are the runtime's (one of each per node), and the
token and the body are checked and read by the edge (`node.edge`), like every other. Every
call needs `Authorization: Bearer <GOSSIP_ADMIN_TOKEN>`; without a configured token they
answer 403, so a node started without one cannot be broken from outside.

    PUT /admin/faults {"drop": 0.2, "duplicate": 0.1, "delay_ms": 50, "jitter_ms": 20,
                       "blocked": ["127.0.0.1:7003"]}      (fields left out stay as they are)
    PUT /admin/keys   {"keys": ["new key ...", "old key ..."]}   (first signs, all verify)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from node.core.auth import Keyring
from node.errors import Refusal
from node.faults import EFFECTS, FaultLayer

if TYPE_CHECKING:
    from node.runtime import Runtime

__all__ = ["setup_admin"]


class _FaultCollector(Collector):
    def __init__(self, layer: FaultLayer) -> None:
        self.layer = layer

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "gossip_faults", "Effects of the fault layer on requests, by effect", labels=["effect"]
        )
        for effect in EFFECTS:
            family.add_metric([effect], self.layer.counts[effect])
        yield family


def setup_admin(app: web.Application, rt: Runtime) -> None:
    rt.metrics.registry.register(_FaultCollector(rt.faults))

    async def get_faults(request: web.Request) -> web.Response:
        rt.edge.authorize(request, admin=True)
        return web.json_response(rt.faults.faults.to_json())

    async def put_faults(request: web.Request) -> web.Response:
        rt.edge.authorize(request, admin=True)
        body = await rt.edge.read_json_object(request)
        layer = rt.faults
        try:
            layer.faults = layer.faults.updated(body)
        except ValueError as e:
            raise Refusal(400, "bad_payload", str(e)) from None
        rt.log.info("faults_set", **layer.faults.to_json())
        return web.json_response(layer.faults.to_json())

    async def put_keys(request: web.Request) -> web.Response:
        rt.edge.authorize(request, admin=True)
        keys = (await rt.edge.read_json_object(request)).get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise Refusal(400, "bad_payload", 'expected {"keys": ["...", ...]}')
        try:
            ring = Keyring([k.encode() for k in keys], rt.settings.auth_window_s) if keys else None
        except ValueError as e:
            raise Refusal(400, "bad_payload", str(e)) from None
        rt.keys = ring  # the edge and the transport read it from here
        rt.log.info("keys_set", keys=len(keys))  # never the keys themselves
        return web.json_response({"keys": len(keys)})

    app.router.add_get("/admin/faults", get_faults)
    app.router.add_put("/admin/faults", put_faults)
    app.router.add_put("/admin/keys", put_keys)
