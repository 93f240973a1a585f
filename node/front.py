"""The node's front door: gossip answered straight off the socket, the rest by aiohttp.

Owns the node's listening connections. Nodes send each other `POST /gossip/` on kept-alive
connections, a dozen a second each at 100 peers, and aiohttp's server side (parser, request
object, task, router, middleware, response object) was the largest part of a node's CPU
there (py-spy). A `_Connection` reads each request's head itself; a plain
`POST /gossip/ HTTP/1.1` with a Content-Length within the body limit is answered through
`Edge.exchange` (the same checks, refusals, counters and signatures as through aiohttp) with
no task and no objects besides the bytes. Anything else (another path or method, chunked,
`Expect`, HTTP/1.0, an odd head) hands the connection, and what it has read, to aiohttp's
own protocol for good: the page, /metrics, the admin and the observatory never notice.

`FrontRunner` is aiohttp's `AppRunner` with this front: node.cli serves through it, and so
do the tests' in-process nodes (tests/support/nodeapp.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, cast

from aiohttp import web
from aiohttp.http import SERVER_SOFTWARE

from node.edge import EDGE, Edge
from node.errors import Refusal
from node.runtime import RUNTIME

__all__ = ["FrontRunner"]

#: A head longer than this goes to aiohttp, which refuses it as its own limits say.
MAX_HEAD = 8190
_GOSSIP_PATHS = {b"/gossip/": "/gossip/", b"/gossip": "/gossip"}
# One header line: a token, a colon, a value without control characters but tab.
_HEADERS = re.compile(rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
_LENGTH = re.compile(rb"[0-9]{1,10}")
_STATUS_LINES = {200: "HTTP/1.1 200 OK"}
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}
_server_log = logging.getLogger("aiohttp.server")
_Head = tuple[str, dict[str, str], int, int]


class _Front:
    """The protocol factory the listening socket calls: aiohttp's `web.Server` with the
    gossip path in front. Everything else a runner asks of its server goes to aiohttp's."""

    def __init__(self, inner: web.Server, edge: Edge, idle_s: float) -> None:
        self.inner = inner
        self.edge = edge
        self.idle_s = idle_s
        self.max_body = edge.max_body_bytes
        self.connections: set[_Connection] = set()
        self._date = (0, "")

    def __call__(self) -> asyncio.Protocol:
        return _Connection(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def pre_shutdown(self) -> None:
        self.inner.pre_shutdown()
        for conn in list(self.connections):
            conn.close()

    async def shutdown(self, timeout: float | None = None) -> None:
        for conn in list(self.connections):
            conn.close()
        await self.inner.shutdown(timeout)

    def date(self) -> str:
        """The Date header, formatted once a second."""
        now = int(time.time())
        if self._date[0] != now:
            self._date = (now, formatdate(now, usegmt=True))
        return self._date[1]


class _Connection(asyncio.Protocol):
    """One accepted connection: gossip answered here until a request that is not plain
    gossip arrives; then aiohttp's protocol takes over the connection (`inner`)."""

    def __init__(self, front: _Front) -> None:
        self.front = front
        self.transport: asyncio.Transport | None = None
        self.inner: asyncio.Protocol | None = None
        self.buf = bytearray()
        self.remote: str | None = None
        self.paused = False  # reading paused: the peer does not read our answers
        self.last = 0.0
        self.timer: asyncio.TimerHandle | None = None
        #: The request being read, once its head is in: (path, headers, where its body
        #: starts and ends in `buf`).
        self.head: _Head | None = None
        #: When the body of the request being read must have arrived (0: none awaited).
        self.body_due = 0.0

    # --- asyncio's callbacks -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        peer = transport.get_extra_info("peername")
        self.remote = peer[0] if isinstance(peer, tuple) else None
        self.front.connections.add(self)
        self.last = time.monotonic()
        self._arm(self.front.idle_s)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)
            return
        self.buf += data
        self.last = time.monotonic()
        while self.inner is None and self.buf and not self._step():
            pass

    def eof_received(self) -> bool | None:
        if self.inner is not None:
            return self.inner.eof_received()
        return False  # the peer is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.connections.discard(self)
        self._disarm()
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()
        elif self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()
        elif self.transport is not None and self.paused:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        if self.inner is None and self.transport is not None:
            self.transport.close()

    # --- one request -------------------------------------------------------------------
    def _step(self) -> bool:
        """Answers the request at the head of the buffer if it has all arrived; True when
        it must wait for more bytes (or the connection was handed over or closed)."""
        if self.head is None:
            self.head = self._read_head()
            if self.head is None:
                return True
        path, headers, start, stop = self.head
        buf = self.buf
        if len(buf) < stop:  # the body is on its way: within the edge's read limit
            if not self.body_due:
                self.body_due = time.monotonic() + self.front.edge.read_timeout_s
                self._arm(self.front.edge.read_timeout_s)
            return True
        self.head, self.body_due = None, 0.0
        raw = bytes(buf[start:stop])
        del buf[:stop]
        try:
            status, body, extra = self.front.edge.exchange(raw, headers, path, self.remote)
        except Exception:  # a bug, not the sender's fault: as aiohttp does, a 500 and a log
            _server_log.exception("Error handling request")
            self._write(500, b"500 Internal Server Error", _TEXT, keep=False)
            self._close_now()
            return True
        keep = headers.get("connection", "").lower() != "close"
        self._write(status, body, extra, keep)
        if not keep:
            self._close_now()
            return True
        return False

    def _read_head(self) -> _Head | None:
        """The head at the start of the buffer, parsed once (its body may take several
        reads): None while it is incomplete, or when it is not plain gossip and the
        connection was handed to aiohttp."""
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self._hand_over()
            return None
        first = buf.find(b"\r\n")
        parts = bytes(buf[:first]).split(b" ")
        if len(parts) != 3 or parts[0] != b"POST" or parts[2] != b"HTTP/1.1":
            self._hand_over()
            return None
        path = _GOSSIP_PATHS.get(parts[1])
        block = bytes(buf[first + 2 : end + 2])
        if path is None or end > MAX_HEAD or _HEADERS.fullmatch(block) is None:
            self._hand_over()
            return None
        headers: dict[str, str] = {}
        for line in block.decode("latin-1").split("\r\n")[:-1]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name in headers:  # a repeated header: aiohttp judges
                self._hand_over()
                return None
            headers[name] = value.strip(" \t")
        length = headers.get("content-length")
        if (
            length is None
            or _LENGTH.fullmatch(length.encode()) is None
            or int(length) > self.front.max_body
            or "transfer-encoding" in headers
            or "expect" in headers
            or "upgrade" in headers
        ):
            self._hand_over()
            return None
        return path, headers, end + 4, end + 4 + int(length)

    def _write(self, status: int, body: bytes, headers: dict[str, str], keep: bool) -> None:
        assert self.transport is not None
        lines = [
            _STATUS_LINES.get(status) or f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            f"Content-Length: {len(body)}",
            f"Date: {self.front.date()}",
            f"Server: {SERVER_SOFTWARE}",
        ]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        if not keep:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _hand_over(self) -> None:
        """aiohttp's protocol takes the connection from here, with what was read of it."""
        assert self.transport is not None
        self._disarm()
        self.front.connections.discard(self)
        inner = self.inner = self.front.inner()
        inner.connection_made(self.transport)
        if self.paused:  # aiohttp's protocol must know that the peer is not reading
            self.paused = False
            self.transport.resume_reading()
        data, self.buf = bytes(self.buf), bytearray()
        if data:
            inner.data_received(data)

    # --- timers: an idle connection is closed, and so is one whose body is too slow ------
    def _arm(self, delay: float) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(delay, self._due)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _due(self) -> None:
        self.timer = None
        if self.inner is not None or self.transport is None or self.transport.is_closing():
            return
        now = time.monotonic()
        if self.body_due and now >= self.body_due:
            refusal = Refusal(408, "timeout", "the body took too long to arrive")
            status, body, headers = self.front.edge.refusal(refusal, "POST /gossip/", self.remote)
            self._write(status, body, headers, keep=False)
            self._close_now()
            return
        idle = self.last + self.front.idle_s - now
        if idle <= 0 and not self.body_due:
            self._close_now()
            return
        wait = self.body_due - now if self.body_due else idle
        self._arm(max(wait, 0.01))

    def _close_now(self) -> None:
        self._disarm()
        self.head, self.body_due = None, 0.0
        self.buf.clear()
        if self.transport is not None:
            self.transport.close()


class FrontRunner(web.AppRunner):
    """aiohttp's AppRunner, serving through the node's front (see the module's text).
    Idle, half-open and slow-loris connections are closed after the node's idle_s
    (GOSSIP_IDLE_SECONDS), on both paths (a slow body has its own limit, node.edge)."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        self._idle_s = app[RUNTIME].settings.idle_s
        super().__init__(app, keepalive_timeout=self._idle_s, **kwargs)

    async def _make_server(self) -> web.Server:
        inner = await super()._make_server()
        return cast(web.Server, _Front(inner, self.app[EDGE], self._idle_s))
