"""The node's HTTP edge: everything a request passes before the core sees it, in one place.

Owns the incoming side of the shell: flood control (`node.guard`), the body read within a
size and a time limit, strict decoding (`node.codec`) into one JSON object
(`read_json_object`, used by every endpoint that takes a body), the admin token, the check
of a request's signature and the signing of the reply, the partition check of the fault
layer on incoming gossip, and refusals. `edge_middleware`, the app's one middleware, turns
a `Refusal` (node.errors) or an aiohttp error into a JSON `{"error", "reason"}` with a 4xx
that says whose fault it was, counted, and signs the replies marked `SIGN_WITH` on their
way out.

A received message takes one path, in one direction, to `Edge.exchange`, which admits,
verifies, decodes and hands the core a typed `Envelope` through the driver
(`node.core.driver`); the driver's `Ready` goes to the runtime's handler and on to the
transport; the core's answer comes back here as a value and becomes the reply, signed. The
node's front (`node.front`) calls `exchange` with a body it read itself; aiohttp's route
(`node.app.gossip`) calls `Edge.gossip`, which admits and reads the body first. Replies of
the other endpoints marked `SIGN_WITH` are signed by the middleware as they leave.
It must not send anything (that is `node.transport`) nor decide anything about gossip
(`node.core`). It holds neither the keys nor the faults: the runtime owns both and hands
them in, so that PUT /admin/keys and /admin/faults change them for both directions at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import web

from node.codec import SENDER_HEADER, decode_json
from node.core import Driver, InvalidMessage, envelope_to_wire, parse_envelope
from node.core.auth import SIGNATURE_HEADER, TIME_HEADER, Keyring
from node.errors import Refusal
from node.faults import FaultLayer
from node.guard import RateLimiter
from node.settings import Settings

__all__ = ["EDGE", "SIGN_WITH", "Edge", "edge_middleware"]

#: Set on a reply that must leave signed: the keyring its request was verified with.
SIGN_WITH = web.ResponseKey("sign_with", Keyring)


class Edge:
    """The checks and conversions between an HTTP request and the core, for one node.

    `keys` is read on every request (the runtime replaces the keyring live); `on_refused`
    is told of every counted refusal (reason, detail, sender) so that it is logged,
    counted and fed like the core's own."""

    def __init__(
        self,
        settings: Settings,
        driver: Driver,
        keys: Callable[[], Keyring | None],
        faults: FaultLayer,
        clock: Callable[[], float],
        on_refused: Callable[[str, str, str | None], None],
    ) -> None:
        self.driver = driver
        self.keys = keys
        self.faults = faults
        self.clock = clock
        self.on_refused = on_refused
        self.admin_token = settings.admin_token
        self.max_body_bytes = settings.max_body_bytes
        #: A slow sender is cut off: twice the time this node gives a peer to answer.
        self.read_timeout_s = settings.request_timeout_s * 2
        self.limiter = RateLimiter(settings.rate_limit)

    # --- POST /gossip/ and GET /peers/ -------------------------------------------------
    async def gossip(self, request: web.Request) -> web.Response:
        """One exchange of gossip through aiohttp: admitted, then its body read within the
        limits, then `exchange`."""
        self._admit(request.remote, request.headers)
        raw = await self.read_body(request)
        status, body, headers = self.exchange(
            raw, request.headers, request.path, request.remote, admitted=True
        )
        return web.Response(status=status, body=body, headers=headers)

    def exchange(
        self,
        raw: bytes,
        headers: Mapping[str, str],
        path: str,
        remote: str | None = None,
        *,
        admitted: bool = False,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One POST /gossip/ whose body has arrived: admitted (unless `admitted`), verified,
        decoded, partition-checked, received by the core, and its answer signed; a refusal
        becomes its JSON answer here. Synchronous: node.front calls it from its own
        connections, `gossip` from aiohttp's. `headers` is read with lower-case names."""
        try:
            if not admitted:
                _same_origin(headers)
                self._admit(remote, headers)
            keys = self.keys()  # one keyring for the whole exchange, even if replaced meanwhile
            self._verify(headers, "POST " + path, raw, keys)
            try:
                envelope = parse_envelope(self.decode_object(raw), self.driver.node.config)
            except InvalidMessage as e:
                raise Refusal(400, e.reason, e.detail) from None
            if self.faults.blocks_incoming(envelope.sender):
                raise Refusal(503, "partitioned", "fault injected: partitioned", counted=False)
            reply = self.driver.receive(self.clock(), envelope, verified=keys is not None)
            body = orjson.dumps(envelope_to_wire(reply))
            if keys is None:
                return 200, body, _JSON
            return 200, body, {**_JSON, **keys.headers("reply", body, self.clock())}
        except Refusal as e:
            return self.refusal(e, "POST " + path, remote)

    def refusal(
        self, e: Refusal, what: str, remote: str | None
    ) -> tuple[int, bytes, dict[str, str]]:
        """A refusal's answer: {"error", "reason"} as JSON with its status and headers,
        counted (and logged) unless it says otherwise."""
        if e.counted:
            self.on_refused(e.reason, f"{what}: {e.detail}", remote)
        body = json.dumps({"error": e.detail, "reason": e.reason}).encode()
        return e.status, body, {**_ERROR_JSON, **e.headers}

    def answer(self, request: web.Request, data: Any) -> web.Response:
        """A body-less request verified (with keys set), answered with `data` signed."""
        keys = self.keys()
        self._verify(request.headers, f"{request.method} {request.path}", b"", keys)
        response = web.Response(body=orjson.dumps(data), headers=_JSON)
        if keys is not None:
            response[SIGN_WITH] = keys
        return response

    # --- reading a request -------------------------------------------------------------
    async def read_body(self, request: web.Request) -> bytes:
        """The body, within the size limit and the time limit (a slow sender is cut off)."""
        try:
            if request.content.is_eof():  # all of it has arrived: nothing to wait for
                return await request.read()
            async with asyncio.timeout(self.read_timeout_s):
                return await request.read()
        except web.HTTPRequestEntityTooLarge:
            limit = self.max_body_bytes
            raise Refusal(413, "body_too_large", f"the body is over {limit} bytes") from None
        except TimeoutError:
            raise Refusal(408, "timeout", "the body took too long to arrive") from None

    async def read_json_object(
        self, request: web.Request, *, keys: Keyring | None = None
    ) -> dict[str, Any]:
        """The body as a JSON object, read within the limits and decoded strictly; with
        `keys`, its signature is checked first (before a byte of it is decoded)."""
        raw = await self.read_body(request)
        self._verify(request.headers, f"{request.method} {request.path}", raw, keys)
        return self.decode_object(raw)

    @staticmethod
    def decode_object(raw: bytes) -> dict[str, Any]:
        """A body as a JSON object, decoded strictly; anything else is refused (400)."""
        try:
            body = decode_json(raw)
        except RecursionError:
            raise Refusal(400, "too_deep", "JSON nested too deeply") from None
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise Refusal(400, "malformed_json", f"malformed JSON: {e}"[:200]) from None
        if not isinstance(body, dict):
            raise Refusal(400, "not_object", "the body must be a JSON object")
        return body

    def authorize(self, request: web.Request, *, admin: bool = False) -> None:
        """Refuses a request without the admin token. With no token configured, the admin
        endpoints (`admin=True`) are off and everything else is open."""
        token = self.admin_token
        if token is None:
            if admin:
                raise Refusal(
                    403, "admin_off", "admin endpoints are off: start with GOSSIP_ADMIN_TOKEN"
                )
            return
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise Refusal(
                401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'"
            )

    # --- the parts ---------------------------------------------------------------------
    def _admit(self, remote: str | None, headers: Mapping[str, str]) -> None:
        """Flood control, before the body is read: 429 with Retry-After past the rate."""
        client = f"{remote}|{headers.get(_SENDER, '')[:64]}"
        wait = self.limiter.allow(client, self.clock())
        if wait:
            retry = str(max(1, round(wait + 0.5)))
            raise Refusal(429, "rate_limited", "too many requests", headers={"Retry-After": retry})

    def _verify(
        self, headers: Mapping[str, str], what: str, body: bytes, keys: Keyring | None
    ) -> None:
        """With keys, refuses a request (`what`: "METHOD /path") whose signature is
        missing, wrong or too old."""
        if keys is None:
            return
        reason = keys.check(what, body, headers.get(_TIME), headers.get(_SIGNATURE), self.clock())
        if reason is not None:
            status = 401 if reason == "unsigned" else 403
            raise Refusal(status, reason, f"request signature refused: {reason}")


EDGE = web.AppKey("edge", Edge)
_JSON = {"Content-Type": "application/json"}
_ERROR_JSON = {"Content-Type": "application/json; charset=utf-8"}
# Header names as node.front's connections hold them (aiohttp's headers ignore case).
_SENDER, _TIME, _SIGNATURE = (h.lower() for h in (SENDER_HEADER, TIME_HEADER, SIGNATURE_HEADER))


def _same_origin(headers: Mapping[str, str]) -> None:
    """A browser on another site must not change a node (CSRF): a state-changing request
    that names an Origin must come from this node's own page. Nodes and scripts send none."""
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != headers.get("host"):
        raise Refusal(403, "cross_origin", f"requests from {origin[:80]} are not accepted")


@web.middleware
async def edge_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error is JSON {"error": ...} with a 4xx that says whose fault it was, counted;
    a reply marked `SIGN_WITH` leaves signed with that keyring."""
    edge = request.app[EDGE]
    try:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            _same_origin(request.headers)
        response = await handler(request)
    except Refusal as e:
        refusal = e
    except web.HTTPException as e:
        if e.status < 400:
            raise
        reason = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(
            e.status, "bad_request"
        )
        refusal = Refusal(e.status, reason, e.reason)
    else:
        keys = response.get(SIGN_WITH)
        if keys is not None and isinstance(response, web.Response):
            assert isinstance(response.body, bytes)
            response.headers.update(keys.headers("reply", response.body, edge.clock()))
        return response
    status, body, headers = edge.refusal(
        refusal, f"{request.method} {request.path}", request.remote
    )
    return web.Response(status=status, body=body, headers=headers)
