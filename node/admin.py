"""Admin endpoints: change a running node's faults and keys. Off unless a token is set.

Owns `GET/PUT /admin/faults` and `PUT /admin/keys`, their validation, logging and metrics.
Every call needs `Authorization: Bearer <GOSSIP_ADMIN_TOKEN>`; without a configured token
they answer 403, so a node started without one cannot be broken from outside.

    PUT /admin/faults {"drop": 0.2, "duplicate": 0.1, "delay_ms": 50, "jitter_ms": 20,
                       "blocked": ["127.0.0.1:7003"]}      (fields left out stay as they are)
    PUT /admin/keys   {"keys": ["new key ...", "old key ..."]}   (first signs, all verify)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

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
    rt.metrics.registry.register(_FaultCollector(rt.transport.faults))

    async def get_faults(request: web.Request) -> web.Response:
        _authorize(rt, request)
        return web.json_response(rt.transport.faults.faults.to_json())

    async def put_faults(request: web.Request) -> web.Response:
        _authorize(rt, request)
        body = await _object(request)
        layer = rt.transport.faults
        try:
            layer.faults = layer.faults.updated(body)
        except ValueError as e:
            raise Refusal(400, "bad_payload", str(e)) from None
        rt.log.info("faults_set", **layer.faults.to_json())
        return web.json_response(layer.faults.to_json())

    async def put_keys(request: web.Request) -> web.Response:
        _authorize(rt, request)
        body = await _object(request)
        keys = body.get("keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise Refusal(400, "bad_payload", 'expected {"keys": ["...", ...]}')
        try:
            ring = (
                Keyring(
                    [k.encode() for k in keys],
                    rt.settings.keys.window_s if rt.settings.keys else 30.0,
                )
                if keys
                else None
            )
        except ValueError as e:
            raise Refusal(400, "bad_payload", str(e)) from None
        rt.set_keys(ring)
        rt.log.info("keys_set", keys=len(keys))  # never the keys themselves
        return web.json_response({"keys": len(keys)})

    app.router.add_get("/admin/faults", get_faults)
    app.router.add_put("/admin/faults", put_faults)
    app.router.add_put("/admin/keys", put_keys)


def _authorize(rt: Runtime, request: web.Request) -> None:
    token = rt.settings.admin_token
    if token is None:
        raise Refusal(403, "admin_off", "admin endpoints are off: start with GOSSIP_ADMIN_TOKEN")
    if not rt.authorized(request):
        raise Refusal(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'")


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Refusal(400, "malformed_json", "the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise Refusal(400, "not_object", "the body must be a JSON object")
    return body
