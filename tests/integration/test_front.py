"""The node's front (node.front): plain gossip answered off the socket, everything else by
aiohttp on the same connection, with the same answers either way. Raw bytes on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from node.edge import EDGE
from tests.support.nodeapp import Client, invalid, start_node
from tests.support.wire import gossip_message

ORIGIN = "10.0.0.7:7000"


async def make(aiohttp_client: Any, tmp_path: Any, **env: str) -> Client:
    return await start_node(aiohttp_client, tmp_path, {"GOSSIP_PORT": "7981", **env})


def post(body: bytes, *, path: str = "/gossip/", extra: str = "") -> bytes:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def chunked(body: bytes) -> bytes:
    head = "POST /gossip/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head.encode() + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"


def message(version: int) -> bytes:
    return json.dumps({"messages": [gossip_message(ORIGIN, version)]}).encode()


async def read_reply(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    return status, headers, body


async def connect(c: Client) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(c.server.host, c.server.port)


async def known_version(c: Client) -> int | None:
    origins = (await (await c.get("/state")).json())["origins"]
    entry = origins.get(ORIGIN)
    return None if entry is None else int(entry["version"])


async def test_pipelined_gossip_and_a_page_request_share_one_connection(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path)
    reader, writer = await connect(c)
    # two gossip requests in one write, then a GET that aiohttp answers on the same socket
    writer.write(
        post(message(5))
        + post(message(6), path="/gossip")
        + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    first, second, health = [await read_reply(reader) for _ in range(3)]
    assert first[0] == second[0] == 200
    assert json.loads(first[2])["sender"] == json.loads(second[2])["sender"]
    assert first[1]["content-type"] == "application/json" and "date" in first[1]
    assert health[0] == 200 and json.loads(health[2])["status"] == "ok"
    # and gossip after the hand-over is still answered (by aiohttp now), the same way
    writer.write(post(message(7)))
    status, _, body = await read_reply(reader)
    assert status == 200 and "sender" in json.loads(body)
    writer.close()
    assert await known_version(c) == 7


async def test_a_body_that_arrives_in_pieces_is_read_whole(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path)
    reader, writer = await connect(c)
    raw = post(message(9))
    for i in range(0, len(raw), 7):
        writer.write(raw[i : i + 7])
        await writer.drain()
        await asyncio.sleep(0.001)
    assert (await read_reply(reader))[0] == 200
    writer.close()
    assert await known_version(c) == 9


async def test_bad_requests_get_the_same_answer_through_the_front_and_through_aiohttp(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path)
    bodies = [b"{not json", b"[1, 2]", json.dumps({"messages": [{"uuid": 3}]}).encode()]
    for body in bodies:
        answers = []
        for raw in (post(body), chunked(body)):  # chunked goes to aiohttp
            reader, writer = await connect(c)
            writer.write(raw)
            status, headers, reply = await read_reply(reader)
            answers.append((status, headers["content-type"], json.loads(reply)))
            writer.close()
        assert answers[0] == answers[1], body
        assert 400 <= answers[0][0] < 500 and answers[0][2]["reason"]
    assert await invalid(c, "malformed_json") == 2
    # each refusal is logged with the address it came from, whichever path took it
    lines = [json.loads(x) for x in (tmp_path / "log").read_text().splitlines()]
    refused = [x for x in lines if x["event"] == "request_refused"]
    assert len(refused) == 2 * len(bodies)
    assert {x["sender"] for x in refused} == {"127.0.0.1"}


async def test_a_cross_site_post_is_refused_on_both_paths(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path)
    reader, writer = await connect(c)
    writer.write(post(message(3), extra="Origin: http://evil.example\r\n"))
    status, _, body = await read_reply(reader)
    assert status == 403 and json.loads(body)["reason"] == "cross_origin"
    writer.close()
    assert await known_version(c) is None


async def test_a_too_large_or_odd_request_is_left_to_aiohttp(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    c = await make(aiohttp_client, tmp_path)
    reader, writer = await connect(c)
    huge = b'{"messages": []' + b" " * (1 << 20) + b"}"  # past the 1 MiB limit
    writer.write(post(huge))
    status, _, body = await read_reply(reader)
    assert status == 413 and json.loads(body)["reason"] == "body_too_large"
    writer.close()
    # a header the front does not take (a repeated Content-Length) is aiohttp's to judge
    reader, writer = await connect(c)
    body = message(4)
    writer.write(post(body, extra=f"Content-Length: {len(body)}\r\n"))
    status, _, _ = await read_reply(reader)
    assert status in (200, 400)
    writer.close()


async def test_a_slow_body_is_cut_off_and_an_idle_connection_closed(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    # the edge waits twice the request timeout for a body; idle connections live idle_s
    c = await make(
        aiohttp_client, tmp_path, GOSSIP_REQUEST_TIMEOUT_SECONDS="0.2", GOSSIP_IDLE_SECONDS="0.6"
    )
    reader, writer = await connect(c)
    raw = post(message(8))
    writer.write(raw[:-5])  # all but the body's last bytes
    status, headers, body = await read_reply(reader)
    assert status == 408 and json.loads(body)["reason"] == "timeout"
    assert headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed
    assert await invalid(c, "timeout") == 1
    # an idle kept-alive connection is closed after idle_s, not before
    reader, writer = await connect(c)
    writer.write(post(message(9)))
    assert (await read_reply(reader))[0] == 200
    await asyncio.sleep(0.3)
    writer.write(post(message(10)))
    assert (await read_reply(reader))[0] == 200
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert await known_version(c) == 10


async def test_connection_close_is_honoured(aiohttp_client: Any, tmp_path: Any) -> None:
    c = await make(aiohttp_client, tmp_path)
    reader, writer = await connect(c)
    writer.write(post(message(2), extra="Connection: close\r\n") + post(message(3)))
    status, headers, _ = await read_reply(reader)
    assert status == 200 and headers["connection"] == "close"
    assert await asyncio.wait_for(reader.read(), 2) == b""  # the second request is not read
    assert await known_version(c) == 2


async def test_a_fault_inside_the_node_is_a_500_not_a_dropped_connection(
    aiohttp_client: Any, tmp_path: Any, caplog: Any, monkeypatch: Any
) -> None:
    c = await make(aiohttp_client, tmp_path)

    class Broken:
        def blocks_incoming(self, sender: str) -> bool:
            raise RuntimeError("a bug in the fault layer")

    monkeypatch.setattr(c.app[EDGE], "faults", Broken())
    reader, writer = await connect(c)
    writer.write(post(message(4)))
    status, headers, _ = await read_reply(reader)
    assert status == 500 and headers["connection"] == "close"
    assert "Error handling request" in caplog.text
    assert (await c.get("/healthz")).status == 200  # the node goes on
