"""The gossip client's HTTP/1.1 (node.wire) against real servers on loopback: an aiohttp
server like a node's, and scripted raw servers for the replies aiohttp never sends
(chunked, to the end of the connection, garbage, a connection closed while idle)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from node import wire
from node.wire import Connections, PeerError

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], "asyncio.Future[None] | object"]


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    lines = head.split("\r\n")
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return lines[0], headers, body


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[[Script], asyncio.Future[str]]]:
    """Starts a loopback server that runs a script per connection; gives its "host:port"."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> str:
        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                await script(r, w)  # type: ignore[misc]
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                w.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return f"127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()
        await server.wait_closed()


def _links(**kw: float) -> Connections:
    return Connections(keepalive_s=kw.get("keepalive_s", 60.0), max_reply_bytes=1000)


async def test_exchanges_with_an_aiohttp_server_over_one_kept_alive_connection() -> None:
    seen: list[tuple[str, str | None, bytes]] = []

    async def gossip(request: web.Request) -> web.Response:
        seen.append((request.method, request.headers.get("X-Gossip-Sender"), await request.read()))
        return web.json_response({"sender": "b"}, headers={"X-Signature": "sig"})

    app = web.Application()
    app.router.add_post("/gossip/", gossip)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    links = _links()
    try:
        for i in range(3):
            reply = await links.request(
                f"127.0.0.1:{port}", "POST", "/gossip/", {"X-Gossip-Sender": "a:1"}, b'{"n":%d}' % i
            )
            assert (reply.status, reply.body) == (200, b'{"sender": "b"}')
            assert reply.headers["x-signature"] == "sig"
        assert seen == [("POST", "a:1", b'{"n":%d}' % i) for i in range(3)]
        assert links.idle == 1  # the same connection, three times
    finally:
        links.close()
        await runner.cleanup()


async def test_reads_chunked_and_to_the_end_replies(raw_server) -> None:  # type: ignore[no-untyped-def]
    async def chunked(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        w.write(b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n")
        await _read_request(r)  # kept alive: a second request on the same connection
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await w.drain()

    async def to_the_end(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(b"HTTP/1.0 200 OK\r\n\r\nall of it")
        await w.drain()

    links = _links()
    peer = await raw_server(chunked)
    assert (await links.request(peer, "GET", "/peers/", {}, b"")).body == b"abcdefg"
    assert (await links.request(peer, "GET", "/peers/", {}, b"")).body == b"ok"
    assert links.idle == 1
    other = await raw_server(to_the_end)
    assert (await links.request(other, "GET", "/peers/", {}, b"")).body == b"all of it"
    assert links.idle == 1  # a reply that ends with the connection leaves none to keep
    links.close()


async def test_a_kept_connection_the_peer_closes_instead_of_answering_is_tried_again_anew(
    raw_server,  # type: ignore[no-untyped-def]
) -> None:
    connections = 0

    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        n = connections
        await _read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % n)
        await w.drain()
        if n == 1:  # the next request on it finds it closing (an idle timeout, a restart)
            await _read_request(r)

    links = _links()
    peer = await raw_server(script)
    assert (await links.request(peer, "POST", "/gossip/", {}, b"{}")).body == b"1"
    assert (await links.request(peer, "POST", "/gossip/", {}, b"{}")).body == b"2"
    assert connections == 2
    await asyncio.sleep(0.05)  # the peer closes the kept one; it is not used again
    assert (await links.request(peer, "POST", "/gossip/", {}, b"{}")).body == b"3"
    links.close()


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP reply"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", "over 1000 bytes"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"3e8\r\n"
            + b"x" * 1000
            + b"\r\n1\r\nx\r\n0\r\n\r\n",
            "over 1000 bytes",
        ),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "cut short"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * (wire.MAX_HEAD_BYTES + 10), "headers over"),
    ],
)
async def test_a_reply_it_cannot_read_is_an_error_and_its_connection_is_not_kept(
    raw_server,
    reply: bytes,
    error: str,  # type: ignore[no-untyped-def]
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        w.write(reply)
        await w.drain()

    links = _links()
    peer = await raw_server(script)
    with pytest.raises(PeerError, match=error):
        await links.request(peer, "POST", "/gossip/", {}, b"{}")
    assert links.idle == 0
    links.close()


async def test_requests_past_the_per_peer_bound_fail_at_once_and_a_hung_peer_times_out(
    raw_server,  # type: ignore[no-untyped-def]
) -> None:
    async def hang(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await _read_request(r)
        await asyncio.sleep(30)

    links = _links()
    peer = await raw_server(hang)
    hung = [
        asyncio.create_task(links.request(peer, "POST", "/gossip/", {}, b"{}"))
        for _ in range(wire.PER_PEER)
    ]
    await asyncio.sleep(0.1)
    with pytest.raises(PeerError, match="in flight already"):
        await links.request(peer, "POST", "/gossip/", {}, b"{}")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await hung[0]
    for task in hung[1:]:
        task.cancel()
    await asyncio.gather(*hung[1:], return_exceptions=True)
    # every one of them gave its place back: the next request goes out (and hangs) again
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await links.request(peer, "POST", "/gossip/", {}, b"{}")
    links.close()


async def test_a_header_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    with pytest.raises(ValueError, match="line break"):
        await _links().request("127.0.0.1:9", "POST", "/gossip/", {"X": "a\r\nEvil: 1"}, b"")


async def test_no_route_to_a_peer_is_told_once_with_the_likely_cause(
    aiohttp_client,
    tmp_path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    import errno
    import json

    from node.core import FetchPeers
    from node.runtime import RUNTIME
    from tests.support.nodeapp import start_node

    async def unreachable(self: Connections, peer: str) -> None:
        # what the kernel answers when its ARP table is full (asyncio names the address only)
        raise OSError(errno.EHOSTUNREACH, f"Connect call failed ('{peer}')")

    monkeypatch.setattr(Connections, "_open", unreachable)
    client = await start_node(
        aiohttp_client, tmp_path, {"GOSSIP_PORT": "7311", "GOSSIP_RESAMPLE_SECONDS": "0"}
    )
    rt = client.app[RUNTIME]
    for peer in ("10.9.9.9:7000", "10.9.9.8:7000"):
        rt.transport.send(FetchPeers(peer))
    await asyncio.sleep(0.3)
    rt.log.flush()
    warned = [
        line
        for line in map(json.loads, (tmp_path / "log").read_text().splitlines())
        if line["event"] == "host_unreachable"
    ]
    assert len(warned) == 1
    assert "No route to host" in warned[0]["error"] and "gc_thresh3" in warned[0]["hint"]
