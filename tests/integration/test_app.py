"""The aiohttp node in-process: endpoints answer per the contract, and bad input gets a JSON 4xx
and a count, never a 5xx, and changes nothing that was known."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from tests.support.nodeapp import Client, start_node
from tests.support.wire import gossip_message

MakeClient = Callable[[web.Application], Awaitable[Client]]

GOOD = gossip_message("10.0.0.7:7000", 17, ttl=6, uid="3f0c1c3e-8f5e-4f59-9a59-1e0b0f3c2a11")


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Any) -> Client:
    return await start_node(aiohttp_client, tmp_path, {"GOSSIP_PORT": "7990", "GOSSIP_SEED": "1"})


def metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{name}{{{want}}} (\S+)$" if labels else rf"^{name} (\S+)$"
    match = re.search(pattern, text, re.M)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


async def test_peers_state_and_health_follow_the_contract(client: Client) -> None:
    peers = await (await client.get("/peers/")).json()
    assert peers == {"self": "127.0.0.1:7990", "peers": []}
    state = await (await client.get("/state")).json()
    assert state["id"] == "127.0.0.1:7990" and state["movie"] in {"Alien", "Heat", "Up"}
    assert state["origins"]["127.0.0.1:7990"]["version"] == state["version"]
    assert set(state["counters"]) >= {
        "received",
        "sent",
        "deduplicated",
        "ttl_drops",
        "stale",
        "invalid",
    }
    health = await client.get("/healthz")
    assert health.status == 200 and (await health.json())["status"] == "ok"


async def test_metrics_expose_the_contracts_names(client: Client) -> None:
    text = await (await client.get("/metrics")).text()
    for name in (
        "gossip_messages_received_total",
        "gossip_messages_sent_total",
        "gossip_messages_deduplicated_total",
        "gossip_ttl_drops_total",
        "gossip_stale_messages_total",
        "gossip_propagation_seconds_bucket",
    ):
        assert re.search(rf"^{name}", text, re.M), name
    state = await (await client.get("/state")).json()
    assert metric(text, "gossip_version_seen", origin="127.0.0.1:7990") == state["version"]
    assert metric(text, "gossip_peers", state="alive") == 0
    assert metric(text, "gossip_invalid_requests_total", reason="malformed_json") == 0


async def test_gossip_is_applied_deduplicated_and_measured(client: Client) -> None:
    msg = {**GOOD, "sent_at": 1.0}
    for _ in range(2):
        r = await client.post("/gossip/", json=msg)
        assert r.status == 200
    state = await (await client.get("/state")).json()
    assert state["origins"]["10.0.0.7:7000"]["movie"] == "Alien"
    # an origin named by a message has not answered this node: not a member (and 10.0.0.7
    # lies outside this node's networks, so it is not even a candidate)
    assert "10.0.0.7:7000" not in state["peers"]
    assert "10.0.0.7:7000" not in state["candidates"]
    text = await (await client.get("/metrics")).text()
    assert metric(text, "gossip_messages_received_total") == 2
    assert metric(text, "gossip_messages_deduplicated_total") == 1
    assert metric(text, "gossip_version_seen", origin="10.0.0.7:7000") == 17
    assert metric(text, "gossip_propagation_seconds_count") == 1


async def test_a_digest_gets_push_pull_reply(client: Client) -> None:
    r = await client.post(
        "/gossip/", json={"sender": "10.0.0.8:7000", "digest": {"10.0.0.8:7000": 5}}
    )
    reply = await r.json()
    assert reply["sender"] == "127.0.0.1:7990"
    assert [m["origin"] for m in reply["messages"]] == ["127.0.0.1:7990"]
    assert reply["want"] == ["10.0.0.8:7000"]


BAD_BODIES: list[tuple[bytes, int, str]] = [
    (b"{not json", 400, "malformed_json"),
    (b"", 400, "malformed_json"),
    (b"\xff\xfe", 400, "malformed_json"),
    (b'{"uuid": NaN}', 400, "malformed_json"),
    (b'{"uuid": Infinity}', 400, "malformed_json"),
    (json.dumps({**GOOD, "payload": {"movie": "\ud800"}}).encode(), 400, "malformed_json"),
    (json.dumps({**GOOD, "version": "x"}).encode(), 400, "bad_version"),
    (json.dumps({**GOOD, "version": 2**70}).encode(), 400, "bad_version"),
    (json.dumps({**GOOD, "ttl": -1}).encode(), 400, "bad_ttl"),
    (json.dumps({**GOOD, "ttl": 10**6}).encode(), 400, "bad_ttl"),
    (json.dumps({**GOOD, "payload": "Alien"}).encode(), 400, "bad_payload"),
    (json.dumps({**GOOD, "origin": "nowhere"}).encode(), 400, "bad_origin"),
    (json.dumps({k: v for k, v in GOOD.items() if k != "ttl"}).encode(), 400, "missing_field"),
    (b"[]", 400, "not_object"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "too_deep"),
    (b'{"messages": "' + b"x" * (2 << 20) + b'"}', 413, "body_too_large"),
]


@pytest.mark.parametrize(
    ("body", "status", "reason"), BAD_BODIES, ids=[r for _, _, r in BAD_BODIES]
)
async def test_bad_input_gets_a_json_4xx_a_count_and_changes_nothing(
    client: Client, body: bytes, status: int, reason: str
) -> None:
    await client.post("/gossip/", json=GOOD)  # something known, which must survive
    before = await (await client.get("/state")).json()
    r = await client.post("/gossip/", data=body, headers={"Content-Type": "application/json"})
    assert r.status == status
    assert (await r.json())["reason"] == reason
    after = await (await client.get("/state")).json()
    assert after["origins"]["10.0.0.7:7000"] == {
        **before["origins"]["10.0.0.7:7000"],
        "age_s": after["origins"]["10.0.0.7:7000"]["age_s"],
    }
    text = await (await client.get("/metrics")).text()
    assert metric(text, "gossip_invalid_requests_total", reason=reason) == 1
    assert (await client.get("/healthz")).status == 200  # and it keeps serving


async def test_unknown_paths_and_methods_are_json_errors(client: Client) -> None:
    r = await client.get("/nope")
    assert r.status == 404 and "error" in await r.json()
    r = await client.get("/gossip/")
    assert r.status == 405 and "error" in await r.json()


async def test_a_new_favourite_on_demand(client: Client) -> None:
    before = await (await client.get("/state")).json()
    r = await client.post("/favourite", json={"movie": "Up"})
    body = await r.json()
    assert r.status == 200 and body["movie"] == "Up" and body["version"] == before["version"] + 1
    r = await client.post("/favourite", json={"movie": "Not A Film"})
    assert r.status == 400


async def test_with_an_admin_token_state_changes_need_it(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    env = {"GOSSIP_PORT": "7991", "GOSSIP_ADMIN_TOKEN": "s3cret"}
    c = await start_node(aiohttp_client, tmp_path, env, movies=["Alien", "Heat"])
    assert (await c.post("/favourite")).status == 401
    bad = await c.post("/favourite", headers={"Authorization": "Bearer nope"})
    assert bad.status == 401
    ok = await c.post("/favourite", headers={"Authorization": "Bearer s3cret"})
    assert ok.status == 200
