"""The observatory's endpoints in-process: a node's own records (`/observatory/local`), its
record as JSON lines (`/record`, whole, from a moment, followed live), fault changes recorded
however they are made, the merged record and the cluster view of a lone node, and the fault
control's refusals (the fan-out itself is tested between real processes)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from node.faults import Faults
from node.ledger import apply_line, empty_state
from node.runtime import RUNTIME
from tests.support.nodeapp import Client, start_node
from tests.support.waits import async_wait_until
from tests.support.wire import gossip_message

ME = "127.0.0.1:7591"


async def make_client(aiohttp_client: Any, tmp_path: Path, **env: str) -> Client:
    return await start_node(
        aiohttp_client, tmp_path, {"GOSSIP_PORT": "7591", "GOSSIP_SEED": "1", **env}
    )


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> Client:
    return await make_client(aiohttp_client, tmp_path, GOSSIP_ADMIN_TOKEN="s3cret")


AUTH = {"Authorization": "Bearer s3cret"}


async def pick(client: Client, movie: str) -> Any:
    r = await client.post("/favourite", json={"movie": movie}, headers=AUTH)
    assert r.status == 200
    return await r.json()


def lines_of(body: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in body.splitlines() if x.strip()]


async def test_local_holds_the_nodes_own_first_arrivals(client: Client) -> None:
    picked = await pick(client, "Heat")
    local = await (await client.get("/observatory/local")).json()
    assert local["id"] == ME and local["movie"] == "Heat"
    mine = next(u for u in local["updates"] if u["uuid"] == picked["uuid"])
    assert mine["origin"] == ME and mine["version"] == picked["version"]
    assert mine["hops"] == 0 and mine["via"] == "local" and mine["sender"] is None
    assert mine["t"] == mine["sent_at"] and mine["dups"] == 0
    assert local["origins"][ME]["version"] == picked["version"]
    assert local["faults"]["blocked"] == [] and local["links"] == {}
    assert local["config"]["fanout"] == 3
    limited = await (await client.get("/observatory/local?updates=1")).json()
    assert len(limited["updates"]) == 1
    assert (await client.get("/observatory/local?updates=x")).status == 400


async def test_a_gossiped_update_is_recorded_with_its_sender_and_hops(client: Client) -> None:
    uid = "3f0c1c3e-8f5e-4f59-9a59-1e0b0f3c2a11"
    msg = gossip_message("127.0.0.1:9", 3, ttl=0, hops=2, uid=uid)
    envelope = {"sender": "127.0.0.1:8", "messages": [msg]}
    assert (await client.post("/gossip/", json=envelope)).status == 200
    assert (await client.post("/gossip/", json=envelope)).status == 200  # a duplicate
    local = await (await client.get("/observatory/local")).json()
    u = next(u for u in local["updates"] if u["uuid"] == msg["uuid"])
    assert u["sender"] == "127.0.0.1:8" and u["hops"] == 2 and u["via"] == "push"
    assert u["dups"] == 1 and u["senders"] == {"127.0.0.1:8": 1} and u["ttl_drop"] is True
    assert local["links"] == {"127.0.0.1:8": 2}


async def test_the_record_replays_to_the_nodes_state(client: Client) -> None:
    before = (await (await client.get("/state")).json())["now"]
    for movie in ("Heat", "Up", "Alien"):
        await pick(client, movie)
    r = await client.get("/record")
    assert r.status == 200 and r.content_type == "application/x-ndjson"
    lines = lines_of(await r.text())
    assert lines[0]["kind"] == "snapshot" and lines[-1]["kind"] == "snapshot" and lines[-1]["end"]
    assert all(x["node"] == ME for x in lines)
    assert [x["movie"] for x in lines if x["kind"] == "movie_changed"][-3:] == [
        "Heat",
        "Up",
        "Alien",
    ]
    state = empty_state()
    for line in lines[:-1]:
        apply_line(state, line)
    now = await (await client.get("/state")).json()
    assert {o: e["version"] for o, e in state["origins"].items()} == {
        o: e["version"] for o, e in now["origins"].items()
    }
    # from a moment on: the state then, and only what came after
    since = lines_of(await (await client.get(f"/record?since={before}")).text())
    assert since[0]["t"] == before and since[0]["kind"] == "snapshot"
    assert [x["movie"] for x in since if x["kind"] == "movie_changed"] == ["Heat", "Up", "Alien"]
    assert (await client.get("/record?since=yesterday")).status == 400


async def test_a_followed_record_streams_new_lines(client: Client) -> None:
    r = await client.get("/record?follow=1")
    assert r.status == 200
    first = json.loads(await asyncio.wait_for(r.content.readline(), 5))
    assert first["kind"] == "snapshot"
    await pick(client, "Up")

    async def until_movie() -> dict[str, Any]:
        while True:
            line: dict[str, Any] = json.loads(await r.content.readline())
            if line["kind"] == "movie_changed":
                return line

    line = await asyncio.wait_for(until_movie(), 5)
    assert line["movie"] == "Up" and line["node"] == ME
    r.close()


async def test_fault_changes_are_recorded_however_they_are_made(client: Client) -> None:
    body = {"drop": 0.25, "blocked": ["127.0.0.1:9"]}
    assert (await client.put("/admin/faults", json=body, headers=AUTH)).status == 200

    async def recorded() -> list[dict[str, Any]]:
        lines = lines_of(await (await client.get("/record")).text())
        return [x for x in lines if x["kind"] == "faults_set"]

    found = await async_wait_until(recorded, 5, "faults_set recorded", step=0.1)
    assert found[-1]["drop"] == 0.25 and found[-1]["blocked"] == ["127.0.0.1:9"]
    local = await (await client.get("/observatory/local")).json()
    assert local["faults"]["drop"] == 0.25 and local["fault_log"][-1]["drop"] == 0.25


async def test_a_fault_change_is_recorded_as_it_is_made(client: Client) -> None:
    """The fault layer announces its changes: no look at it is needed, and none is waited
    for. A change made on the layer itself, not through the admin API, counts too."""
    layer = client.server.app[RUNTIME].faults
    layer.faults = Faults(duplicate=0.5)
    lines = lines_of(await (await client.get("/record")).text())
    (line,) = [x for x in lines if x["kind"] == "faults_set"]
    assert line["duplicate"] == 0.5 and line["blocked"] == []
    changes: list[Faults] = []
    layer.listeners.append(changes.append)
    r = await client.put("/admin/faults", json={"drop": 0.1}, headers=AUTH)
    assert r.status == 200 and [f.drop for f in changes] == [0.1]


async def test_a_lone_nodes_observatory_and_merged_record(client: Client) -> None:
    picked = await pick(client, "Up")
    obs = await (await client.get("/observatory")).json()
    assert [n["id"] for n in obs["nodes"]] == [ME] and obs["nodes"][0]["health"] == "self"
    u = obs["updates"][0]
    assert u["uuid"] == picked["uuid"] and u["reached"] == u["of"] == 1 and u["spread_s"] == 0
    assert u["ideal_copies"] == 0 and u["ideal_depth"] == 0 and u["copies"] == 0
    assert obs["model"]["n"] == 1 and obs["edges"] == []
    r = await client.get("/observatory/record?last=60&download=1")
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    lines = lines_of(await r.text())
    head = lines[0]
    assert head["kind"] == "header" and head["format"] == "gossip-lab-record"
    assert head["source"] == "cluster" and head["nodes"] == [ME] and head["missing"] == {}
    assert head["config"]["fanout"] == 3 and head["until"] - head["since"] == pytest.approx(60, 1)
    assert lines[-1]["end"] is True and lines[-1]["movie"] == "Up"


async def test_fault_control_refuses_what_it_cannot_do(client: Client) -> None:
    async def post(body: Any, **headers: str) -> tuple[int, Any]:
        r = await client.post("/observatory/faults", json=body, headers=headers)
        return r.status, await r.json()

    status, data = await post({"action": "explode"})
    assert status == 400 and data["reason"] == "bad_payload"
    status, data = await post({"action": "partition", "groups": [[ME], ["127.0.0.1:9"]]})
    assert status == 400 and "not a node this node knows" in data["error"]
    status, data = await post({"action": "partition", "groups": [[ME]]})
    assert status == 400
    status, data = await post({"action": "set", "nodes": [ME], "faults": {"drop": 2}})
    assert status == 400 and "probability" in data["error"]
    status, data = await post({"action": "set", "nodes": "all", "faults": {"blocked": []}})
    assert status == 400
    status, data = await post([1, 2])
    assert status == 400
    # a page on another site may not break the cluster (CSRF)
    r = await client.post(
        "/observatory/faults", json={"action": "heal"}, headers={"Origin": "http://evil.example"}
    )
    assert r.status == 403
