"""Authenticated gossip, flood control, the fault layer and its admin API, in-process."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from node.core import Config
from node.core.auth import SIGNATURE_HEADER, TIME_HEADER, Keyring
from node.faults import FaultLayer, Faults
from node.guard import RateLimiter
from tests.support.nodeapp import Client, invalid, start_node
from tests.support.wire import gossip_message

KEY_A = "alpha-key-0123456789"
KEY_B = "bravo-key-0123456789"
TOKEN = "admin-token"
NOW = 1_800_000_000.0


def message(version: int = 17, origin: str = "10.0.0.7:7000", uid: str | None = None) -> bytes:
    return json.dumps(gossip_message(origin, version, uid=uid)).encode()


def signed(
    body: bytes, key: str = KEY_A, at: float = NOW, purpose: str = "POST /gossip/"
) -> dict[str, str]:
    return {
        **Keyring([key.encode()]).headers(purpose, body, at),
        "Content-Type": "application/json",
    }


async def make(
    aiohttp_client: Any, tmp_path: Any, env: dict[str, str], config: Config | None = None
) -> Client:
    env = {"GOSSIP_PORT": "7980", **env}
    return await start_node(
        aiohttp_client, tmp_path, env, ["Alien", "Heat"], config=config, clock=lambda: NOW
    )


# --- keys --------------------------------------------------------------------------------
async def test_with_keys_unsigned_forged_and_expired_requests_are_refused(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_KEYS": KEY_A})
    body = message()
    cases = [
        ({"Content-Type": "application/json"}, 401, "unsigned"),
        (signed(body, KEY_B), 403, "bad_signature"),
        (signed(body + b" "), 403, "bad_signature"),  # signed other bytes
        (signed(body, purpose="reply"), 403, "bad_signature"),  # moved from a reply
        (signed(body, at=NOW - 31), 403, "expired"),
    ]
    for headers, status, reason in cases:
        r = await c.post("/gossip/", data=body, headers=headers)
        assert (r.status, (await r.json())["reason"]) == (status, reason)
    state = await (await c.get("/state")).json()
    assert "10.0.0.7:7000" not in state["origins"]  # none of it was applied
    assert await invalid(c, "bad_signature") == 3


async def test_a_signed_request_is_applied_and_the_reply_is_signed(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_KEYS": KEY_A})
    body = message()
    r = await c.post("/gossip/", data=body, headers=signed(body))
    assert r.status == 200
    reply = await r.read()
    ring = Keyring([KEY_A.encode()])
    assert (
        ring.check("reply", reply, r.headers[TIME_HEADER], r.headers[SIGNATURE_HEADER], NOW) is None
    )
    peers = await c.get("/peers/")
    assert peers.status == 401  # peer lists are authenticated too
    peers = await c.get("/peers/", headers=signed(b"", purpose="GET /peers/"))
    assert peers.status == 200


async def test_replays_are_never_applied_again_even_after_the_uuid_is_forgotten(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_KEYS": KEY_A}, Config(seen_capacity=4))
    old = message(version=5)
    assert (await c.post("/gossip/", data=old, headers=signed(old))).status == 200
    new = message(version=9)
    assert (await c.post("/gossip/", data=new, headers=signed(new))).status == 200
    for k in range(10):  # push the old UUID out of the 4-entry cache
        other = message(version=1, origin=f"10.0.1.{k}:7000")
        await c.post("/gossip/", data=other, headers=signed(other))
    r = await c.post("/gossip/", data=old, headers=signed(old))  # the replay, re-signed in time
    assert r.status == 200
    state = await (await c.get("/state")).json()
    assert state["origins"]["10.0.0.7:7000"]["version"] == 9
    assert state["counters"]["stale"] == 1


async def test_keys_rotate_live_through_the_admin_api(aiohttp_client: Any, tmp_path: Any) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_KEYS": KEY_A, "GOSSIP_ADMIN_TOKEN": TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = await c.put("/admin/keys", json={"keys": [KEY_B, KEY_A]}, headers=auth)
    assert r.status == 200
    for key in (KEY_A, KEY_B):  # both verify
        body = message()
        assert (await c.post("/gossip/", data=body, headers=signed(body, key))).status == 200
    reply = await c.post("/gossip/", data=(b := message()), headers=signed(b))
    assert (
        Keyring([KEY_B.encode()]).check(  # the new first key signs
            "reply",
            await reply.read(),
            reply.headers[TIME_HEADER],
            reply.headers[SIGNATURE_HEADER],
            NOW,
        )
        is None
    )
    r = await c.put("/admin/keys", json={"keys": ["short"]}, headers=auth)
    assert r.status == 400


# --- one reader for every JSON body -------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/gossip/"),
        ("POST", "/favourite"),
        ("PUT", "/admin/faults"),
        ("PUT", "/admin/keys"),
        ("POST", "/observatory/faults"),
    ],
)
async def test_every_json_body_is_read_by_the_same_strict_reader(
    aiohttp_client: Any, tmp_path: Any, method: str, path: str
) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_ADMIN_TOKEN": TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    for body, status, reason in (
        (b"[]", 400, "not_object"),
        (b'{"drop": NaN}', 400, "malformed_json"),
        (b"{not json", 400, "malformed_json"),
        (b"[" * 100_000 + b"]" * 100_000, 400, "too_deep"),
        (b'{"x": "' + b"a" * (2 << 20) + b'"}', 413, "body_too_large"),
    ):
        r = await c.request(method, path, data=body, headers=auth)
        assert (r.status, (await r.json())["reason"]) == (status, reason), (path, body[:20])


# --- floods ------------------------------------------------------------------------------
async def test_a_flood_gets_429_with_retry_after_and_others_still_get_through(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_RATE_LIMIT": "5"})
    statuses = []
    for _ in range(30):
        r = await c.post("/gossip/", data=message(), headers={"X-Gossip-Sender": "10.9.9.9:7000"})
        statuses.append(r.status)
        if r.status == 429:
            assert int(r.headers["Retry-After"]) >= 1
    assert statuses.count(200) == 10 and statuses.count(429) == 20  # the burst, then refused
    r = await c.post("/gossip/", data=message(), headers={"X-Gossip-Sender": "10.0.0.2:7000"})
    assert r.status == 200  # another peer has a bucket of its own
    assert await invalid(c, "rate_limited") == 20


def test_the_rate_limiter_refills_and_forgets_old_clients() -> None:
    limiter = RateLimiter(10, burst=10, max_clients=3)
    assert all(limiter.allow("a", 0.0) == 0 for _ in range(10))
    assert limiter.allow("a", 0.0) == pytest.approx(0.1)
    assert limiter.allow("a", 0.5) == 0  # half a second refills five tokens
    for client in "bcde":
        limiter.allow(client, 1.0)
    assert len(limiter) == 3


def test_the_global_bucket_is_global_factor_times_a_clients() -> None:
    limiter = RateLimiter(10, burst=10, global_factor=2)
    # long after the start the global bucket holds its burst, 2 x 10, and no more
    allowed = [limiter.allow(f"client-{i}", 100.0) == 0 for i in range(30)]
    assert allowed == [True] * 20 + [False] * 10


# --- faults ------------------------------------------------------------------------------
async def test_admin_endpoints_are_off_without_a_token(aiohttp_client: Any, tmp_path: Any) -> None:
    c = await make(aiohttp_client, tmp_path, {})
    r = await c.put("/admin/faults", json={"drop": 0.5})
    assert r.status == 403 and (await r.json())["reason"] == "admin_off"


async def test_faults_are_set_live_validated_and_a_blocked_peer_is_not_heard(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path, {"GOSSIP_ADMIN_TOKEN": TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await c.put("/admin/faults", json={"drop": 0.5})).status == 401
    r = await c.put(
        "/admin/faults",
        headers=auth,
        json={"drop": 0.2, "delay_ms": 40, "blocked": ["10.0.0.7:7000"]},
    )
    assert r.status == 200
    got = await (await c.get("/admin/faults", headers=auth)).json()
    assert (got["drop"], got["delay_ms"], got["blocked"]) == (0.2, 40.0, ["10.0.0.7:7000"])
    for bad in ({"drop": 2}, {"delay_ms": -1}, {"blocked": "x"}, {"colour": 1}):
        assert (await c.put("/admin/faults", headers=auth, json=bad)).status == 400
    envelope = {"sender": "10.0.0.7:7000", "messages": [json.loads(message())]}
    r = await c.post("/gossip/", json=envelope)
    assert r.status == 503
    text = await (await c.get("/metrics")).text()
    assert 'gossip_faults_total{effect="blocked_in"} 1.0' in text


def test_fault_decisions_follow_their_probabilities() -> None:
    layer = FaultLayer(
        Faults(drop=0.2, duplicate=0.1, delay_s=0.05, jitter_s=0.02), random.Random(1)
    )
    plans = [layer.outgoing("10.0.0.2:7000") for _ in range(10_000)]
    dropped = sum(not p.send for p in plans)
    duplicated = sum(p.copies == 2 for p in plans)
    assert 1800 < dropped < 2200 and 700 < duplicated < 1100
    assert all(0.05 <= p.delay_s <= 0.07 for p in plans if p.send)
    assert layer.counts["dropped"] == dropped
    blocked = FaultLayer(Faults(blocked=frozenset({"10.0.0.3:7000"})), random.Random(1))
    assert not blocked.outgoing("10.0.0.3:7000").send
    assert blocked.outgoing("10.0.0.4:7000").send


async def test_a_page_on_another_site_cannot_change_the_node(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path, {})
    r = await c.post("/favourite", headers={"Origin": "http://evil.example"})
    assert r.status == 403 and (await r.json())["reason"] == "cross_origin"
    own = f"http://{c.server.host}:{c.server.port}"
    assert (await c.post("/favourite", headers={"Origin": own})).status == 200
    assert (await c.post("/favourite")).status == 200  # scripts send no Origin
