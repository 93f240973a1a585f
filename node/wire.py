"""The gossip client's HTTP/1.1: kept-alive connections to each peer, one exchange at a time
on each, and nothing of HTTP the node does not use.

Owns the bytes between a request the transport has built and the reply it reads back: the
connections to each peer (opened on demand, kept while idle for `keepalive_s`; at most
`PER_PEER` in use, past which a request fails at once, and `IDLE_PER_PEER` idle), a request
written in one go with a `Content-Length`, and a reply read within a size cap
(`Content-Length`, chunked, or up to the end of the connection). What a request says and
what a reply means are the transport's (`node.transport`); the server side is aiohttp's
(`node.edge`).

Why not aiohttp's client, which the page and the observatory use: a gossip exchange is a
small POST to a peer the node talks to all the time, and aiohttp's client spends about three
times the CPU of this one on it (230 against 80 µs a request, one at a time on a kept-alive
connection to a bare aiohttp handler, each on a core of its own). In a lab of 60 local
processes the whole cluster's CPU per request fell by a tenth with it (docs/benchmarks.md).

A connection taken from the idle pool may have been closed by the peer meanwhile (its
server's own idle timeout, a restart): when such a connection fails before a byte of the
reply has come, the exchange is tried once more on a new connection. Gossip is idempotent
(a message is deduplicated by its UUID), so a second copy of a request is harmless.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Connections", "PeerError", "Reply", "IDLE_PER_PEER", "PER_PEER"]

#: Connections in use to one peer at once; a request past them fails at once (the core
#: counts it as a failed exchange, as it would a timeout, and does not pile up on a slow peer).
PER_PEER = 16
#: Idle connections kept to one peer; one more is closed when it comes back.
IDLE_PER_PEER = 4
#: A reply's status line and headers, at most.
MAX_HEAD_BYTES = 64 << 10
#: How often, at most, idle connections past `keepalive_s` are looked for and closed.
SWEEP_EVERY_S = 5.0


class PeerError(OSError):
    """A peer answered something that is not an HTTP reply the client can read, or not 200.
    An OSError, like the connection's own failures, so that one `except` takes them all."""


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    #: Header names in lower case.
    headers: dict[str, str]
    body: bytes


class _Link:
    """One open connection to a peer, and when it last finished an exchange."""

    __slots__ = ("idle_since", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self, now: float, keepalive_s: float) -> bool:
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and now - self.idle_since < keepalive_s
        )

    def close(self) -> None:
        self.writer.close()


class Connections:
    """The client's connections to every peer, and `request`, one exchange over one of them."""

    def __init__(
        self,
        *,
        keepalive_s: float,
        max_reply_bytes: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keepalive_s = keepalive_s
        self.max_reply_bytes = max_reply_bytes
        self.clock = clock
        self._idle: dict[str, list[_Link]] = {}
        #: Connections in use, by peer (a peer with none has no entry).
        self._busy: dict[str, int] = {}
        self._swept = clock()

    @property
    def idle(self) -> int:
        """Idle connections kept, to all peers."""
        return sum(len(links) for links in self._idle.values())

    async def request(
        self, peer: str, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """One exchange with `peer` ("host:port"). Raises OSError (PeerError for a reply
        that is not HTTP or over the cap; ConnectionError and the like from the socket);
        the caller bounds the time (a cancelled exchange closes its connection)."""
        data = _request_bytes(peer, method, path, headers, body)
        busy = self._busy.get(peer, 0)
        if busy >= PER_PEER:
            raise PeerError(f"{PER_PEER} requests to {peer} in flight already")
        self._busy[peer] = busy + 1
        try:
            return await self._through(peer, data)
        finally:
            busy = self._busy[peer] - 1
            if busy:
                self._busy[peer] = busy
            else:
                del self._busy[peer]

    async def _through(self, peer: str, data: bytes) -> Reply:
        """The exchange, on an idle connection or else a new one."""
        link = self._take(peer)
        if link is not None:
            try:
                return await self._on(peer, link, data)
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                if isinstance(e, asyncio.IncompleteReadError) and e.partial:
                    raise PeerError(f"reply cut short: {e}") from None
                # closed by the peer while idle: once more, on a new connection
        try:
            return await self._on(peer, await self._open(peer), data)
        except asyncio.IncompleteReadError as e:
            raise PeerError(f"reply cut short: {e}") from None

    async def _on(self, peer: str, link: _Link, data: bytes) -> Reply:
        """The exchange on `link`, which goes back to the pool after it or is closed."""
        try:
            reply, keep = await self._exchange(link, data)
        except BaseException:
            link.close()
            raise
        self._give_back(peer, link, keep)
        return reply

    def close(self) -> None:
        """Closes every idle connection (those in use close when their exchange ends)."""
        for links in self._idle.values():
            for link in links:
                link.close()
        self._idle.clear()

    # --- the parts ---------------------------------------------------------------------
    def _take(self, peer: str) -> _Link | None:
        now = self.clock()
        if now - self._swept >= SWEEP_EVERY_S:
            self._sweep(now)
        links = self._idle.get(peer)
        while links:
            link = links.pop()  # the most recently used: the least likely to be closing
            if link.usable(now, self.keepalive_s):
                if not links:
                    del self._idle[peer]
                return link
            link.close()
        self._idle.pop(peer, None)
        return None

    def _give_back(self, peer: str, link: _Link, keep: bool) -> None:
        links = self._idle.setdefault(peer, [])
        if not keep or len(links) >= IDLE_PER_PEER:
            link.close()
            if not links:
                del self._idle[peer]
            return
        link.idle_since = self.clock()
        links.append(link)

    def _sweep(self, now: float) -> None:
        """Closes the idle connections past `keepalive_s` (to peers not talked to since)."""
        self._swept = now
        for peer in list(self._idle):
            keep = []
            for link in self._idle[peer]:
                if link.usable(now, self.keepalive_s):
                    keep.append(link)
                else:
                    link.close()
            if keep:
                self._idle[peer] = keep
            else:
                del self._idle[peer]

    async def _open(self, peer: str) -> _Link:
        host, _, port = peer.rpartition(":")
        if not host or not port.isdigit():
            raise PeerError(f"not a host:port: {peer!r}")
        reader, writer = await asyncio.open_connection(
            host.strip("[]"), int(port), limit=MAX_HEAD_BYTES
        )
        return _Link(reader, writer)

    async def _exchange(self, link: _Link, data: bytes) -> tuple[Reply, bool]:
        """Writes one request, reads its reply; also says whether the connection can be kept."""
        link.writer.write(data)
        reader = link.reader
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise PeerError(f"reply headers over {MAX_HEAD_BYTES} bytes") from None
        lines = head[:-4].decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/1.") or not code.isdigit():
            raise PeerError(f"not an HTTP reply: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        status = int(code)
        keep = version != "HTTP/1.0" and headers.get("connection", "").lower() != "close"
        cap = self.max_reply_bytes
        if status in (204, 304) or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader, cap)
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise PeerError(f"bad Content-Length: {length[:40]!r}")
            if int(length) > cap:
                raise PeerError(f"reply over {cap} bytes")
            body = await reader.readexactly(int(length))
        else:  # the body runs to the end of the connection
            body = await _read_to_end(reader, cap)
            keep = False
        return Reply(status, headers, body), keep


def _request_bytes(
    peer: str, method: str, path: str, headers: Mapping[str, str], body: bytes
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {peer}"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} holds a line break")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}\r\n\r\n")
    return "\r\n".join(lines).encode("latin-1") + body


async def _read_chunked(reader: asyncio.StreamReader, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        text = line.split(b";", 1)[0].strip()
        try:
            n = int(text, 16)
        except ValueError:
            raise PeerError(f"bad chunk size: {text[:40]!r}") from None
        if n == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, if any
                pass
            return b"".join(chunks)
        size += n
        if size > cap:
            raise PeerError(f"reply over {cap} bytes")
        chunks.append(await reader.readexactly(n))
        await reader.readexactly(2)


async def _read_to_end(reader: asyncio.StreamReader, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await reader.read(1 << 16):
        size += len(chunk)
        if size > cap:
            raise PeerError(f"reply over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
