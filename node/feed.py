"""The page's live feed: the node's events and state, pushed to browsers as Server-Sent Events.

Owns the fan-out from the core's event batches (`Runtime.listeners`) to every open
`GET /events` stream, and nothing else: it does not touch the core, and it never lets a
slow browser or a burst of gossip slow the node down.

Theory of operation: the listener runs inside the node's hot path, so it only appends the
events to one bounded buffer (past `MAX_BUFFERED` it merely counts what it leaves out, by
kind) and marks the state dirty; with no browser connected it does nothing else. A
background task wakes every `FLUSH_S` while someone listens, encodes the buffer once as one
`events` frame and hands the same bytes to every subscriber; and sends a fresh `state`
frame (the contract's `/state` JSON) when anything happened, at most every `STATE_MIN_S`,
and at least every `STATE_MAX_S` (which doubles as the keep-alive that notices a browser
gone away). Each subscriber queues at most `QUEUE_FRAMES` event frames (a browser that
cannot keep up is told how many it missed); its state frame is a single slot that the
newest one replaces, so the page always ends up current.

The stream: `retry` first, then frames `event: <kind>` / `data: <one JSON line>`:
`state` (the `/state` JSON), `events` ({"events": [{kind, t, ...fields}], "omitted":
{kind: n}}) and `dropped` ({"frames": n}). An event's `kind` is its name in the catalogue
(`node.catalogue`, the same as its log line's), its fields those of the core's event.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from node import catalogue
from node.core import Event

__all__ = ["Feed", "Subscriber", "event_json", "sse_frame", "stream"]

#: Seconds between flushes of the event buffer to the browsers (the feed's latency).
FLUSH_S = 0.25
#: A state frame goes out at most this often while things happen ...
STATE_MIN_S = 1.0
#: ... and at least this often regardless (keep-alive; ages and uptimes stay current).
STATE_MAX_S = 5.0
#: Events buffered between two flushes; beyond it they are only counted, by kind.
MAX_BUFFERED = 500
#: Event frames a subscriber may have queued; beyond it frames are dropped and counted.
QUEUE_FRAMES = 64
#: Open streams at most; one more gets 503.
MAX_SUBSCRIBERS = 64
#: What a browser's EventSource waits before reconnecting, ms.
RETRY_MS = 2000
#: Strings in events (a refusal's detail) are cut to this length.
MAX_TEXT = 300

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # a buffering reverse proxy would hold the stream back
}


def sse_frame(kind: str, data: Any) -> bytes:
    """One SSE message; JSON escapes newlines, so the data is a single `data:` line."""
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def event_json(event: Event, t: float) -> dict[str, Any]:
    """A core event as the feed's JSON: {kind, t, ...its fields}."""
    out: dict[str, Any] = {"kind": catalogue.of(event).name, "t": t}
    for name, value in event._asdict().items():
        out[name] = value[:MAX_TEXT] if isinstance(value, str) else value
    return out


class Subscriber:
    """One open stream: its queued event frames and the newest state frame."""

    def __init__(self, limit: int = QUEUE_FRAMES) -> None:
        self.frames: collections.deque[bytes] = collections.deque()
        self.limit = limit
        self.dropped = 0
        self.state: bytes | None = None
        self.closed = False
        self._wake = asyncio.Event()

    def offer(self, frame: bytes) -> None:
        if len(self.frames) >= self.limit:
            self.dropped += 1
        else:
            self.frames.append(frame)
        self._wake.set()

    def offer_state(self, frame: bytes) -> None:
        self.state = frame
        self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def take(self) -> list[bytes]:
        """Waits for something to send, then returns all of it (events before the state)."""
        await self._wake.wait()
        self._wake.clear()
        out = list(self.frames)
        self.frames.clear()
        if self.dropped:
            out.append(sse_frame("dropped", {"frames": self.dropped}))
            self.dropped = 0
        if self.state is not None:
            out.append(self.state)
            self.state = None
        return out


class Feed:
    """Fans the node's events and state out to every open stream. `on_events` is the
    Runtime listener; `run` is the background task; `view` builds the `/state` JSON."""

    def __init__(self, view: Callable[[], dict[str, Any]], clock: Callable[[], float]) -> None:
        self.view = view
        self.clock = clock
        self.subscribers: set[Subscriber] = set()
        self._buffer: list[tuple[float, Event]] = []
        self._omitted: collections.Counter[str] = collections.Counter()
        self._dirty = False
        self._last_state = float("-inf")
        self._listening = asyncio.Event()

    # --- the listener: in the node's hot path, so it only buffers ----------------------
    def on_events(self, events: list[Event]) -> None:
        self._dirty = True
        if not self.subscribers:
            return
        room = max(MAX_BUFFERED - len(self._buffer), 0)
        t = self.clock()
        self._buffer.extend((t, e) for e in events[:room])
        for e in events[room:]:
            self._omitted[catalogue.of(e).name] += 1

    # --- subscribers -------------------------------------------------------------------
    def subscribe(self) -> Subscriber | None:
        """A new stream, primed with the current state; None past MAX_SUBSCRIBERS."""
        if len(self.subscribers) >= MAX_SUBSCRIBERS:
            return None
        sub = Subscriber()
        sub.offer_state(sse_frame("state", self.view()))
        self.subscribers.add(sub)
        self._listening.set()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        if not self.subscribers:
            self._listening.clear()
            self._buffer.clear()
            self._omitted.clear()

    def close_all(self) -> None:
        """At shutdown: every stream ends, so the server need not wait for them."""
        for sub in list(self.subscribers):
            sub.close()

    # --- the background task -----------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self._listening.wait()
            await asyncio.sleep(FLUSH_S)
            self.flush(self.clock())

    def flush(self, now: float) -> None:
        """Sends the buffered events as one frame, and the state when it is due."""
        if not self.subscribers:
            return
        if self._buffer or self._omitted:
            frame = sse_frame(
                "events",
                {
                    "events": [event_json(e, t) for t, e in self._buffer],
                    "omitted": dict(self._omitted),
                },
            )
            self._buffer.clear()
            self._omitted.clear()
            for sub in self.subscribers:
                sub.offer(frame)
        since = now - self._last_state
        if (self._dirty and since >= STATE_MIN_S) or since >= STATE_MAX_S:
            self._dirty = False
            self._last_state = now
            frame = sse_frame("state", self.view())
            for sub in self.subscribers:
                sub.offer_state(frame)


async def stream(request: web.Request, feed: Feed) -> web.StreamResponse:
    """GET /events: the SSE stream, until the browser goes away or the node stops."""
    sub = feed.subscribe()
    if sub is None:  # the server's limit, not the client's fault: 503, not counted as invalid
        return web.json_response(
            {"error": f"too many open event streams (at most {MAX_SUBSCRIBERS})"}, status=503
        )
    response = web.StreamResponse(headers=SSE_HEADERS)
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        while not sub.closed:
            for frame in await sub.take():
                await response.write(frame)
    except (ConnectionError, OSError):  # the browser went away mid-write
        pass
    finally:
        feed.unsubscribe(sub)
    with contextlib.suppress(ConnectionError, OSError):
        await response.write_eof()
    return response
