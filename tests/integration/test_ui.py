"""The page's endpoints in-process: the page and its files are served by the node, the live
feed streams state and events as they happen (and lets go at shutdown), the cluster summary
says who is behind and how the latest update spread, and the proxy only reaches known peers."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from node.core import VERSION_TICKS_PER_S, Deduplicated, MovieChanged
from node.feed import MAX_BUFFERED, QUEUE_FRAMES, Feed, Subscriber, sse_frame
from node.gather import Report, summarize
from node.ui import STATIC_DIR
from tests.support.nodeapp import MOVIES, Client, start_node
from tests.support.waits import async_wait_until
from tests.support.wire import gossip_message


async def make_client(aiohttp_client: Any, tmp_path: Path, **env: str) -> Client:
    return await start_node(
        aiohttp_client, tmp_path, {"GOSSIP_PORT": "7590", "GOSSIP_SEED": "1", **env}
    )


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> Client:
    return await make_client(aiohttp_client, tmp_path)


async def make_member(client: Client, aiohttp_server: Any) -> tuple[str, Any]:
    """A stand-in peer on loopback that answers the node's probe under its own id, so the
    node takes it as a member (a peer only named to it would stay a candidate). Returns its
    id and its server (close it to make the member stop answering)."""
    ids: list[str] = []

    async def gossip(request: web.Request) -> web.Response:
        return web.json_response({"sender": ids[0]})

    app = web.Application()
    app.router.add_post("/gossip/", gossip)
    server = await aiohttp_server(app, host="127.0.0.1")
    ids.append(f"127.0.0.1:{server.port}")
    await client.post("/gossip/", json={"sender": ids[0], "messages": []})

    async def member() -> bool:  # the node probes candidates within a fraction of a second
        return ids[0] in (await (await client.get("/state")).json())["peers"]

    await async_wait_until(member, 5, f"{ids[0]} a member", step=0.05)
    return ids[0], server


async def read_frame(resp: Any, kind: str, timeout: float = 5.0) -> Any:
    """The data of the next SSE frame of `kind` on an open /events response."""

    async def find() -> Any:
        current = None
        while True:
            line = (await resp.content.readline()).decode()
            if not line:
                raise AssertionError(f"the stream ended before an {kind!r} frame")
            if line.startswith("event: "):
                current = line[7:].strip()
            elif line.startswith("data: ") and current == kind:
                return json.loads(line[6:])

    return await asyncio.wait_for(find(), timeout)


# --- the page and its files -------------------------------------------------------------
async def test_the_page_and_its_files_come_from_the_node(client: Client) -> None:
    r = await client.get("/")
    html = await r.text()
    assert r.status == 200 and r.content_type == "text/html"
    assert "static/app.js" in html and "static/style.css" in html
    assert "http://" not in html and "https://" not in html  # no CDN: works offline
    for name, kind in [("app.js", "javascript"), ("style.css", "css"), ("favicon.svg", "svg")]:
        r = await client.get(f"/static/{name}")
        assert r.status == 200 and kind in r.content_type, name
        assert r.headers["Cache-Control"] == "no-cache"
    assert (await client.get("/favicon.ico")).status == 200  # no 404 counted per page view
    assert (await client.get("/static/..%2Fapp.py")).status == 404
    assert (await client.get("/static/nope.js")).status == 404


async def test_the_page_s_modules_and_all_they_import_are_served_as_javascript(
    client: Client,
) -> None:
    html = await (await client.get("/")).text()
    entries = re.findall(r'<script type="module" src="static/([\w.-]+\.js)"></script>', html)
    assert entries == ["app.js", "obs.js"]
    assert "<script src=" not in html  # no classic script left
    todo, served = list(entries), set()
    while todo:
        name = todo.pop()
        if name in served:
            continue
        r = await client.get(f"/static/{name}")
        # a browser refuses to run a module served as anything but JavaScript
        assert r.status == 200 and r.content_type == "text/javascript", name
        assert r.headers["Cache-Control"] == "no-cache"
        served.add(name)
        todo += re.findall(r'^import [^;]*? from "\./([\w.-]+\.js)";$', await r.text(), re.M)
    # every module in node/static is reached from the page (none is dead)
    assert served == {p.name for p in STATIC_DIR.glob("*.js")}
    assert {"common.js", "model.js", "replay.js", "obs-view.js", "app-state.js"} <= served


async def test_ui_json_lists_the_movies_and_whether_a_token_is_needed(
    client: Client, aiohttp_client: Any, tmp_path: Path
) -> None:
    ui = await (await client.get("/ui.json")).json()
    assert ui == {
        "id": "127.0.0.1:7590",
        "name": ":7590",  # the display name the page shows for it
        "movies": list(MOVIES),
        "token_required": False,
    }
    other = await make_client(aiohttp_client, tmp_path, GOSSIP_ADMIN_TOKEN="s3cret")
    assert (await (await other.get("/ui.json")).json())["token_required"] is True


# --- the live feed -----------------------------------------------------------------------
async def test_the_feed_pushes_state_then_events_as_they_happen(client: Client) -> None:
    resp = await client.get("/events")
    assert resp.status == 200 and resp.content_type == "text/event-stream"
    first = await read_frame(resp, "state")
    state = await (await client.get("/state")).json()
    assert first["id"] == state["id"] and set(first) == set(state)  # the /state JSON
    r = await client.post("/favourite", json={"movie": "Heat"})
    version = (await r.json())["version"]
    batch = await read_frame(resp, "events")
    changed = [e for e in batch["events"] if e["kind"] == "movie_changed"]
    assert changed and changed[0]["movie"] == "Heat" and changed[0]["version"] == version
    assert isinstance(changed[0]["t"], float)
    later = await read_frame(resp, "state")
    assert later["movie"] == "Heat" and later["version"] == version
    resp.close()


def test_a_burst_is_summarized_not_buffered_without_end() -> None:
    now = [100.0]
    feed = Feed(lambda: {"now": now[0]}, lambda: now[0])

    async def run() -> None:
        feed.on_events([MovieChanged(1, 1, "Up", None, "u")])  # nobody listens: nothing kept
        sub = feed.subscribe()
        assert sub is not None
        burst = [Deduplicated(str(i), "10.0.0.2:7000", i, None) for i in range(MAX_BUFFERED + 7)]
        feed.on_events(burst)
        feed.flush(now[0])
        frames = await sub.take()
        events = [f for f in frames if f.startswith(b"event: events")]
        assert len(events) == 1
        data = json.loads(events[0].split(b"data: ", 1)[1])
        assert len(data["events"]) == MAX_BUFFERED
        assert data["omitted"] == {"message_deduplicated": 7}
        assert any(f.startswith(b"event: state") for f in frames)
        feed.unsubscribe(sub)
        assert not feed.subscribers

    asyncio.run(run())


def test_a_slow_browser_is_told_how_many_frames_it_missed() -> None:
    async def run() -> None:
        sub = Subscriber()
        for i in range(QUEUE_FRAMES + 3):
            sub.offer(sse_frame("events", {"i": i}))
        sub.offer_state(sse_frame("state", {"n": 1}))
        sub.offer_state(sse_frame("state", {"n": 2}))  # the newest state replaces the last
        frames = await sub.take()
        assert len(frames) == QUEUE_FRAMES + 2
        assert frames[-2] == sse_frame("dropped", {"frames": 3})
        assert frames[-1] == sse_frame("state", {"n": 2})

    asyncio.run(run())


# --- the cluster view --------------------------------------------------------------------
def entry(version: int, movie: str, learned_at: float, sent_at: float, via: str = "push") -> Any:
    return {
        "version": version,
        "movie": movie,
        "learned_at": learned_at,
        "sent_at": sent_at,
        "hops": 0 if via == "local" else 1,
        "via": via,
        "sender": None if via == "local" else "a:1",
    }


def node_state(generation: int, origins: dict[str, Any]) -> dict[str, Any]:
    return {"generation": generation, "origins": origins, "movie": "x", "version": generation}


def test_summary_counts_who_is_behind_and_how_the_latest_update_spread() -> None:
    a = node_state(
        100,
        {"a:1": entry(102, "Up", 50.0, 50.0, "local"), "b:1": entry(200, "Heat", 41.0, 40.0)},
    )
    b = node_state(
        200,
        {"a:1": entry(101, "Alien", 30.0, 30.0), "b:1": entry(200, "Heat", 40.0, 40.0, "local")},
    )
    c = node_state(300, {"a:1": entry(102, "Up", 50.25, 50.0)})  # never heard of b:1
    reports = [
        Report("a:1", "self", a, rtt_ms=0.0),
        Report("b:1", "alive", b, rtt_ms=2.0),
        Report("c:1", "alive", c, rtt_ms=3.0),
        Report("d:1", "suspect", None, "timed out"),
    ]
    s = summarize("a:1", reports, 60.0)
    assert s["origins"] == ["a:1", "b:1"]
    assert s["newest"]["a:1"] == {"version": 102, "movie": "Up", "sent_at": 50.0, "counter": 2}
    assert s["matrix"]["b:1"]["a:1"]["behind"] == 1
    assert s["matrix"]["c:1"]["a:1"]["behind"] == 0
    assert "b:1" not in s["matrix"]["c:1"]
    assert s["lagging"] == 2 and s["converged"] is False
    assert (s["reachable"], s["unreachable"]) == (3, 1)
    assert [n["id"] for n in s["nodes"]] == ["a:1", "b:1", "c:1", "d:1"]
    assert s["nodes"][3] == {**s["nodes"][3], "reachable": False, "error": "timed out"}
    latest = s["latest"]
    assert (latest["origin"], latest["version"], latest["movie"]) == ("a:1", 102, "Up")
    assert [(r["node"], r["delay_s"]) for r in latest["reached"]] == [("a:1", 0.0), ("c:1", 0.25)]
    assert latest["pending"] == [{"node": "b:1", "behind": 1}]
    assert latest["spread_s"] is None  # not everyone has it yet
    assert [u["origin"] for u in s["updates"]] == ["a:1", "b:1"]


def test_summary_of_a_converged_cluster_and_of_an_older_life() -> None:
    a = node_state(100, {"a:1": entry(100, "Up", 5.0, 5.0, "local")})
    b = node_state(200, {"a:1": entry(100, "Up", 5.5, 5.0)})
    s = summarize("a:1", [Report("a:1", "self", a), Report("b:1", "alive", b)], 6.0)
    assert s["converged"] is True and s["lagging"] == 0
    assert s["latest"]["spread_s"] == 0.5
    restarted = node_state(100 + 3 * VERSION_TICKS_PER_S, {})
    restarted["origins"]["a:1"] = entry(100 + 3 * VERSION_TICKS_PER_S, "Heat", 9.0, 9.0, "local")
    s = summarize("a:1", [Report("a:1", "self", restarted), Report("b:1", "alive", b)], 10.0)
    assert s["matrix"]["b:1"]["a:1"]["older_life"] is True
    assert s["newest"]["a:1"]["counter"] == 0


async def test_cluster_of_a_lone_node_is_itself_converged(client: Client) -> None:
    r = await client.get("/cluster")
    c = await r.json()
    assert r.status == 200 and c["self"] == "127.0.0.1:7590" and c["converged"] is True
    assert [n["id"] for n in c["nodes"]] == ["127.0.0.1:7590"]
    assert c["latest"]["reached"][0]["node"] == "127.0.0.1:7590"


async def test_a_peer_that_does_not_answer_is_listed_unreachable(
    client: Client, aiohttp_server: Any
) -> None:
    # a member that stops answering (its server closed)
    peer, server = await make_member(client, aiohttp_server)
    await server.close()
    c = await (await client.get("/cluster")).json()
    row = next(n for n in c["nodes"] if n["id"] == peer)
    assert row["reachable"] is False and row["error"]
    assert c["unreachable"] == 1


# --- the proxy ---------------------------------------------------------------------------
async def test_the_proxy_reaches_only_members_and_only_the_pages_paths(
    client: Client, aiohttp_server: Any
) -> None:
    for path in ("/proxy/10.9.9.9:80/state", "/proxy/not-an-address/state"):
        r = await client.get(path)
        assert r.status == 404 and "not a member" in (await r.json())["error"]
    assert (await client.get("/proxy/127.0.0.1:7590/state")).status == 404  # itself: use /state
    msg = gossip_message("127.0.0.1:9", 3, ttl=0, uid="3f0c1c3e-8f5e-4f59-9a59-1e0b0f3c2a12")
    await client.post("/gossip/", json=msg)
    # an origin named by a message has never answered this node: not a member, not proxied
    r = await client.get("/proxy/127.0.0.1:9/state")
    assert r.status == 404 and "not a member" in (await r.json())["error"]
    peer, server = await make_member(client, aiohttp_server)
    await server.close()
    assert (await client.get(f"/proxy/{peer}/metrics")).status == 404
    r = await client.get(f"/proxy/{peer}/state")  # a member, but nobody listens there now
    assert r.status in (502, 504) and (await r.json())["reason"] == "upstream"
    r = await client.post(f"/proxy/{peer}/favourite")
    assert r.status in (502, 504)
    r = await client.get(f"/proxy/{peer}/events")
    assert r.status in (502, 504)
    state = await (await client.get("/state")).json()
    assert state["counters"]["invalid_by_reason"].get("bad_request") is None  # peer's fault
