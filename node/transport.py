"""The node's outgoing HTTP: the core's requests, over kept-alive connections to each peer.

Owns sending and nothing else: it POSTs envelopes to peers' /gossip/ and GETs /peers/, with
a timeout on each (the bytes go through `node.wire`, a lean HTTP/1.1 client), and reports
every outcome back through the callbacks it is given. With keys set (read from the runtime,
which holds them) it signs every request and checks every reply's signature
(node.core.auth). The node's fault layer (node.faults, also the runtime's) drops,
duplicates, delays or blocks requests on purpose. A reply from a peer is decoded as strictly
as a request (`node.codec`) and validated like one (`parse_envelope`): a peer that answers
garbage, or unsigned, is treated as a failed exchange, never as news. Incoming requests are
not its business (`node.edge`). Every body read from a peer is capped (`MAX_REPLY_BYTES`
here; `read_capped` for the cluster view, the observatory and the proxy, which use aiohttp's
client). In-flight requests are bounded; past the bound a request is dropped and reported as
failed, so a slow network cannot pile up tasks.
"""

from __future__ import annotations

import asyncio
import errno
import random
import time
from collections.abc import Callable

import aiohttp
import orjson

from node.codec import SENDER_HEADER, decode_json, parse_listing
from node.core import (
    Config,
    Envelope,
    Outgoing,
    PeerListing,
    Send,
    envelope_to_wire,
    parse_envelope,
)
from node.core.auth import SIGNATURE_HEADER, TIME_HEADER, Keyring
from node.faults import FaultLayer, Faults
from node.wire import Connections, PeerError

__all__ = ["Transport", "read_capped"]

#: Idle connections to peers are closed after this share of the idle timeout
#: (Settings.idle_s): sooner than the peers' server closes them, so a request seldom goes out
#: on a connection the other end is closing (node.wire tries such a one again).
CLIENT_IDLE_SHARE = 0.8

MAX_IN_FLIGHT = 256
#: A peer's reply may carry a whole state (max_batch messages): bounded all the same.
MAX_REPLY_BYTES = 8 << 20


class Transport:
    """Sends the core's requests; calls on_answer (the reply, or the peer listing) or on_failure
    with each outcome, given the request it answers."""

    def __init__(
        self,
        config: Config,
        timeout_s: float,
        on_answer: Callable[[Outgoing, Envelope | PeerListing], None],
        on_failure: Callable[[Outgoing, str], None],
        *,
        sender: str = "",
        keys: Callable[[], Keyring | None] = lambda: None,
        faults: FaultLayer | None = None,
        clock: Callable[[], float] = time.time,
        idle_s: float,
    ) -> None:
        self.config = config
        self.keepalive_s = idle_s * CLIENT_IDLE_SHARE
        self.timeout_s = timeout_s
        self._on_answer, self._on_failure = on_answer, on_failure
        self.sender = sender
        #: The node's keys as they are now (PUT /admin/keys replaces them).
        self.keys = keys
        self.faults = faults or FaultLayer(Faults(), random.Random())
        self.clock = clock
        self._links: Connections | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._links = Connections(keepalive_s=self.keepalive_s, max_reply_bytes=MAX_REPLY_BYTES)

    async def close(self, grace_s: float = 1.0) -> None:
        """Lets in-flight requests finish for up to grace_s, then cancels the rest."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in set(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._links is not None:
            self._links.close()

    def send(self, request: Outgoing) -> None:
        if self._links is None or len(self._tasks) >= MAX_IN_FLIGHT:
            self._on_failure(request, "too many requests in flight")
            return
        task = asyncio.get_running_loop().create_task(self._run(request))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, request: Outgoing) -> None:
        plan = self.faults.outgoing(request.to)
        try:
            if not plan.send:  # lost, or across a partition: the sender sees a timeout
                await asyncio.sleep(self.timeout_s)
                raise TimeoutError(f"fault injected: {plan.effect}")
            if plan.delay_s:
                await asyncio.sleep(plan.delay_s)
            if isinstance(request, Send):
                body = orjson.dumps(envelope_to_wire(request.envelope))
                for _ in range(plan.copies - 1):  # the duplicate's reply is ignored
                    await self._exchange("POST", request.to, "/gossip/", body)
                reply = await self._exchange("POST", request.to, "/gossip/", body)
                self._on_answer(request, parse_envelope(decode_json(reply), self.config))
            else:
                reply = await self._exchange("GET", request.to, "/peers/", b"")
                self._on_answer(request, parse_listing(decode_json(reply), self.config))
        except asyncio.CancelledError:
            raise
        except (TimeoutError, ValueError, OSError) as e:
            error = f"{type(e).__name__}: {e}"[:200]
            if isinstance(e, OSError) and e.errno == errno.EHOSTUNREACH:
                error += " (No route to host)"  # (asyncio's own text names the address only)
            self._on_failure(request, error)

    async def _exchange(self, method: str, peer: str, path: str, body: bytes) -> bytes:
        """One signed request; returns the reply's body once its signature checks out."""
        assert self._links is not None
        headers = {"Content-Type": "application/json", SENDER_HEADER: self.sender}
        keys = self.keys()
        if keys is not None:
            headers.update(keys.headers(f"{method} {path}", body, self.clock()))
        async with asyncio.timeout(self.timeout_s):
            r = await self._links.request(peer, method, path, headers, body)
        if r.status != 200:
            detail = r.body[:100].decode("utf-8", "replace")
            raise PeerError(f"{peer} answered {r.status}: {detail}")
        if keys is not None:
            reason = keys.check(
                "reply",
                r.body,
                r.headers.get(TIME_HEADER.lower()),
                r.headers.get(SIGNATURE_HEADER.lower()),
                self.clock(),
            )
            if reason is not None:
                raise ValueError(f"reply from {peer} refused: {reason}")
        return r.body


async def read_capped(r: aiohttp.ClientResponse, limit: int, what: str = "body") -> bytes:
    """The whole body of a response from a peer, or ValueError ("`what` over `limit`
    bytes") once it passes `limit` bytes: a peer cannot make the node hold more."""
    chunks, size = [], 0
    async for chunk in r.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > limit:
            raise ValueError(f"{what} over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
