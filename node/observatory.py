"""The observatory's endpoints: the nodes' own records of spread, gathered; faults from the page.

Owns, for one node: its `Ledger` (`node.ledger`: genealogy ring, link counts, record ring),
fed from `Runtime.listeners` and from the fault layer's announcements of its changes; and
the endpoints

- `GET /record`: this node's record as JSON lines (`?follow=1` keeps streaming);
- `GET /observatory/local`: this node's ledger and view, for the cluster-wide merge;
- `GET /observatory`: every known node's `/observatory/local`, merged (`node.genealogy`);
- `GET /observatory/record`: every node's record, merged into one time-ordered record;
- `POST /observatory/faults`: partitions, isolation, loss and delay set on many nodes at
  once, through each node's own `PUT /admin/faults` with the caller's token.

Like `/cluster`, the gathering is done by the node (a browser outside the Docker network
reaches one node), over the observatory's own client session, outside the protocol: the
fault layer does not apply to it, so the two sides of a partition stay in view. Peers the
protocol holds dead are still asked, with a shorter timeout. It changes nothing in the core;
the only state it changes is other nodes' fault layers, and only with their admin token.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from node.core import DEAD, Event
from node.core.message import is_address
from node.errors import Refusal
from node.faults import Faults
from node.gather import (
    MAX_CONCURRENCY,
    MAX_NODES,
    SharedGather,
    ask_each,
    fan_out_session,
)
from node.genealogy import summarize
from node.ledger import FORMAT, FORMAT_VERSION, MAX_UPDATES, NO_FAULTS, Ledger, merge_records
from node.partitions import blocked_by_side
from node.transport import read_capped

if TYPE_CHECKING:
    from node.runtime import Runtime

__all__ = ["Observatory", "OBSERVATORY", "setup_observatory"]

#: Seconds a node gets to answer `/observatory/local`; a node the protocol holds dead
#: gets less (it is often really gone, and would hold every gather up).
TIMEOUT_S = 1.5
DEAD_TIMEOUT_S = 0.5
#: Seconds a node gets to send its whole record, and its largest size.
RECORD_TIMEOUT_S = 10.0
MAX_RECORD_BYTES = 32 << 20
MAX_LOCAL_BYTES = 8 << 20
#: What a merged record covers when no `since` or `last` is given.
DEFAULT_LAST_S = 300.0
#: `GET /record?follow=1` streams open at once, and lines one may have queued.
MAX_FOLLOWERS = 16
FOLLOW_QUEUE = 10_000
#: Seconds one node gets to apply a fault change.
FAULT_TIMEOUT_S = 3.0
NDJSON = "application/x-ndjson"

_FAULT_FIELDS = ("drop", "duplicate", "delay_ms", "jitter_ms")


def _line(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode() + b"\n"


def _valid_line(line: Any) -> bool:
    return (
        isinstance(line, dict)
        and isinstance(line.get("t"), int | float)
        and not isinstance(line.get("t"), bool)
        and isinstance(line.get("node"), str)
        and isinstance(line.get("kind"), str)
    )


class _Follower:
    """One `GET /record?follow=1` stream: the lines queued for it."""

    def __init__(self) -> None:
        self.lines: collections.deque[dict[str, Any]] = collections.deque()
        self.dropped = 0
        self.closed = False
        self.wake = asyncio.Event()

    def __call__(self, line: dict[str, Any]) -> None:
        if len(self.lines) >= FOLLOW_QUEUE:
            self.dropped += 1
        else:
            self.lines.append(line)
        self.wake.set()

    def close(self) -> None:
        self.closed = True
        self.wake.set()


class Observatory:
    """One node's ledger and the observatory's endpoints; `setup_observatory` wires them."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.ledger = Ledger(rt.node.id)
        self.ledger.faults = {**NO_FAULTS, **rt.faults.faults.to_json()}
        self.ledger.attach(rt.clock(), rt.node)
        self.session: aiohttp.ClientSession | None = None
        self.followers: set[_Follower] = set()
        self.gathered = SharedGather(self._gather)

    # --- feeding the ledger ------------------------------------------------------------
    def on_events(self, events: list[Event]) -> None:
        self.ledger.observe(self.rt.clock(), events)

    def on_faults(self, faults: Faults) -> None:
        """Every change of the fault layer, however it was made (the admin API, the page,
        lab.chaos), becomes a `faults_set` line as it is made."""
        self.ledger.set_faults(self.rt.clock(), faults.to_json())

    # --- this node ---------------------------------------------------------------------
    def local(self, limit: int = MAX_UPDATES) -> dict[str, Any]:
        """`GET /observatory/local`: the ledger's summary beside the node's own view."""
        now = self.rt.clock()
        view = self.rt.view()
        origins = {
            o: {k: e.get(k) for k in ("version", "movie", "learned_at", "sender", "hops", "via")}
            for o, e in view["origins"].items()
        }
        peers = {
            p: {"state": e["state"], "last_heard": e["last_heard"], "failures": e["failures"]}
            for p, e in view["peers"].items()
        }
        config = view.get("config") or {}
        return {
            "id": view["id"],
            "name": view.get("name"),
            "now": now,
            "movie": view["movie"],
            "version": view["version"],
            "generation": view["generation"],
            "started_at": view["started_at"],
            "counters": view["counters"],
            "config": {
                k: config.get(k)
                for k in ("fanout", "ttl", "sync_s", "push_interval_s", "resample_s")
            },
            "origins": origins,
            "peers": peers,
            **self.ledger.summary(now, limit),
        }

    async def get_local(self, request: web.Request) -> web.Response:
        return web.json_response(self.local(_limit(request)))

    async def get_record(self, request: web.Request) -> web.StreamResponse:
        """`GET /record`: this node's record as JSON lines; `follow=1` keeps it open."""
        since = _since(request, None, self.rt.clock())
        follow = request.query.get("follow", "") in ("1", "true", "yes")
        if follow and len(self.followers) >= MAX_FOLLOWERS:
            return web.json_response(
                {"error": f"too many followed records (at most {MAX_FOLLOWERS})"}, status=503
            )
        response = web.StreamResponse(headers={"Content-Type": NDJSON, "Cache-Control": "no-cache"})
        follower = _Follower() if follow else None
        if follower is not None:  # before reading the ring: no line falls in between
            self.ledger.taps.append(follower)
            self.followers.add(follower)
        try:
            lines = self.ledger.record(since, end=None if follow else self.rt.clock())
            await response.prepare(request)
            for start in range(0, len(lines), 500):
                await response.write(b"".join(_line(x) for x in lines[start : start + 500]))
            while follower is not None and not follower.closed:
                await follower.wake.wait()
                follower.wake.clear()
                out = [_line(x) for x in follower.lines]
                follower.lines.clear()
                if follower.dropped:
                    out.append(_line({"kind": "dropped", "lines": follower.dropped}))
                    follower.dropped = 0
                if out:
                    await response.write(b"".join(out))
        except (ConnectionError, OSError):
            pass  # the reader went away
        finally:
            if follower is not None:
                self.followers.discard(follower)
                with contextlib.suppress(ValueError):
                    self.ledger.taps.remove(follower)
        with contextlib.suppress(ConnectionError, OSError):
            await response.write_eof()
        return response

    # --- the cluster -------------------------------------------------------------------
    def _known(self) -> list[str]:
        """Every node this node knows, itself first, at most MAX_NODES."""
        node = self.rt.node
        return [node.id, *sorted(node.peers)][:MAX_NODES]

    async def get_cluster(self, request: web.Request) -> web.Response:
        """`GET /observatory`: the merged genealogy, edges, model and every node's view."""
        return web.json_response(await self.gathered.get())

    async def _gather(self) -> dict[str, Any]:
        started = time.monotonic()
        me, *peers = self._known()

        async def ask(peer: str) -> tuple[str, str, dict[str, Any] | None, str | None]:
            health = self.rt.node.peers.state(peer)
            timeout = DEAD_TIMEOUT_S if health == DEAD else TIMEOUT_S
            report, error = await self._fetch_json(f"http://{peer}/observatory/local", timeout)
            return peer, health, report, error

        Report = tuple[str, str, dict[str, Any] | None, str | None]
        reports: list[Report] = [(me, "self", self.local(), None)]
        reports += await ask_each(peers, ask)
        out = summarize(me, reports, self.rt.clock(), self.rt.node.config.as_dict())
        out["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        return out

    async def _fetch_json(
        self, url: str, timeout_s: float
    ) -> tuple[dict[str, Any] | None, str | None]:
        if self.session is None:
            return None, "the node is starting"
        try:
            timeout = aiohttp.ClientTimeout(total=timeout_s)
            async with self.session.get(url, timeout=timeout) as r:
                if r.status != 200:
                    return None, f"HTTP {r.status}"
                body = json.loads(await read_capped(r, MAX_LOCAL_BYTES))
        except TimeoutError:
            return None, "timed out"
        except (aiohttp.ClientError, OSError) as e:
            return None, f"{type(e).__name__}: {e}"[:200]
        except ValueError as e:
            return None, f"bad answer: {e}"[:200]
        if not isinstance(body, dict) or not isinstance(body.get("updates"), list):
            return None, "not a node's /observatory/local"
        return body, None

    async def get_merged_record(self, request: web.Request) -> web.StreamResponse:
        """`GET /observatory/record`: every node's record from `since`, merged."""
        now = self.rt.clock()
        since = _since(request, now - DEFAULT_LAST_S, now)
        assert since is not None
        me, *peers = self._known()
        gate = asyncio.Semaphore(MAX_CONCURRENCY)

        async def fetch(peer: str) -> tuple[str, list[dict[str, Any]] | None, str | None]:
            async with gate:
                return peer, *await self._fetch_record(peer, since)

        fetched = await asyncio.gather(*(fetch(p) for p in peers))
        records = [self.ledger.record(since, end=self.rt.clock())]
        missing = {}
        for peer, lines, error in fetched:
            if lines is None:
                missing[peer] = error
            else:
                records.append(lines)
        header = {
            "kind": "header",
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "source": "cluster",
            "recorded_by": me,
            "since": since,
            "until": self.rt.clock(),
            "nodes": sorted([me, *(p for p, lines, _ in fetched if lines is not None)]),
            "missing": missing,
            "config": self.rt.node.config.as_dict(),
        }
        merged = merge_records(records, header)
        headers = {"Content-Type": NDJSON, "Cache-Control": "no-cache"}
        if request.query.get("download", "") in ("1", "true", "yes"):
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
            headers["Content-Disposition"] = f'attachment; filename="gossip-record-{stamp}.jsonl"'
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        for start in range(0, len(merged), 1000):
            await response.write(b"".join(_line(x) for x in merged[start : start + 1000]))
        await response.write_eof()
        return response

    async def _fetch_record(
        self, peer: str, since: float
    ) -> tuple[list[dict[str, Any]] | None, str | None]:
        if self.session is None:
            return None, "the node is starting"
        timeout = DEAD_TIMEOUT_S if self.rt.node.peers.state(peer) == DEAD else RECORD_TIMEOUT_S
        try:
            async with self.session.get(
                f"http://{peer}/record",
                params={"since": repr(since)},
                timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_read=timeout),
            ) as r:
                if r.status != 200:
                    return None, f"HTTP {r.status}"
                body = await read_capped(r, MAX_RECORD_BYTES)
            lines = [json.loads(raw) for raw in body.splitlines() if raw.strip()]
        except TimeoutError:
            return None, "timed out"
        except (aiohttp.ClientError, OSError) as e:
            return None, f"{type(e).__name__}: {e}"[:200]
        except ValueError as e:
            return None, f"bad record: {e}"[:200]
        # a node speaks only for itself: lines naming another node are not taken
        return [x for x in lines if _valid_line(x) and x["node"] == peer], None

    # --- faults from the page ----------------------------------------------------------
    async def post_faults(self, request: web.Request) -> web.Response:
        """`POST /observatory/faults`: one action on many nodes' fault layers at once."""
        body = await self.rt.edge.read_json_object(request)
        auth = request.headers.get("Authorization")
        known = self._known()
        action = body.get("action")
        current: dict[str, dict[str, Any] | None] = {}
        if action in ("isolate", "rejoin"):
            target = _known_id(body.get("node"), known, "node")
            others = [n for n in known if n != target]
            got = await asyncio.gather(*(self._admin(n, "GET", None, auth) for n in others))
            current = {n: r[1] if r[0] == 200 else None for n, r in zip(others, got, strict=True)}
        plan, failed = _plan(action, body, known, current)
        results: dict[str, dict[str, Any]] = dict(failed)
        gate = asyncio.Semaphore(MAX_CONCURRENCY)

        async def put(node: str, change: dict[str, Any]) -> None:
            async with gate:
                status, data = await self._admin(node, "PUT", change, auth)
            if status == 200:
                results[node] = {"status": status, "faults": data}
            else:
                results[node] = {"status": status, **(data or {})}

        await asyncio.gather(*(put(n, c) for n, c in plan.items()))
        self.gathered.forget()  # the next look at the cluster shows the change
        ok = bool(results) and all(r["status"] == 200 for r in results.values())
        return web.json_response(
            {"action": action, "ok": ok, "results": dict(sorted(results.items()))}
        )

    async def _admin(
        self, node: str, method: str, change: dict[str, Any] | None, auth: str | None
    ) -> tuple[int, Any]:
        """One node's /admin/faults; (status, its JSON) or (502/504, {error, reason})."""
        if self.session is None:
            return 503, {"error": "the node is starting", "reason": "upstream"}
        headers = {"Authorization": auth} if auth else {}
        try:
            async with self.session.request(
                method,
                f"http://{node}/admin/faults",
                json=change,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=FAULT_TIMEOUT_S),
            ) as r:
                data = json.loads(await read_capped(r, 1 << 20))
                return r.status, data
        except TimeoutError:
            return 504, {"error": f"{node} did not answer", "reason": "upstream"}
        except (aiohttp.ClientError, OSError, ValueError) as e:
            return 502, {"error": f"{node}: {type(e).__name__}: {e}"[:200], "reason": "upstream"}

    # --- lifetime ------------------------------------------------------------------------
    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        """cleanup_ctx: the observatory's client session."""
        async with fan_out_session(MAX_CONCURRENCY + 8, self.close_streams) as self.session:
            yield

    def close_streams(self) -> None:
        for follower in list(self.followers):
            follower.close()

    async def on_shutdown(self, app: web.Application) -> None:
        self.close_streams()


def _plan(
    action: Any,
    body: dict[str, Any],
    known: list[str],
    current: dict[str, dict[str, Any] | None],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """node -> the PUT /admin/faults body that carries `action` out; and the nodes that
    cannot be changed (their faults could not be read) with why."""
    plan: dict[str, dict[str, Any]] = {}
    failed: dict[str, dict[str, Any]] = {}
    if action == "partition":
        groups = body.get("groups")
        if (
            not isinstance(groups, list)
            or len(groups) < 2
            or not all(isinstance(g, list) and g for g in groups)
        ):
            raise Refusal(400, "bad_payload", 'expected {"groups": [[id, ...], [id, ...], ...]}')
        sides = [[_known_id(n, known, "groups") for n in g] for g in groups]
        try:
            plan = {n: {"blocked": b} for n, b in blocked_by_side(sides).items()}
        except ValueError as e:
            raise Refusal(400, "bad_payload", str(e)) from None
    elif action == "heal":
        plan = {n: {"blocked": []} for n in known}
    elif action == "clear":
        plan = {n: {**NO_FAULTS, "blocked": []} for n in known}
    elif action in ("isolate", "rejoin"):
        target = _known_id(body.get("node"), known, "node")
        plan[target] = {"blocked": [n for n in known if n != target] if action == "isolate" else []}
        for n, faults in current.items():
            if faults is None:
                failed[n] = {
                    "status": 502,
                    "error": "its faults could not be read",
                    "reason": "upstream",
                }
                continue
            blocked = set(faults.get("blocked") or ()) - {target}
            if action == "isolate":
                blocked.add(target)
            plan[n] = {"blocked": sorted(blocked)}
    elif action == "set":
        nodes = body.get("nodes")
        targets = known if nodes == "all" else nodes
        if not isinstance(targets, list) or not targets:
            raise Refusal(400, "bad_payload", 'expected "nodes": [id, ...] or "all"')
        faults = body.get("faults")
        if not isinstance(faults, dict) or not faults or set(faults) - set(_FAULT_FIELDS):
            raise Refusal(
                400, "bad_payload", f'expected "faults" with some of {list(_FAULT_FIELDS)}'
            )
        try:
            Faults().updated(faults)  # refuse a bad value here, not node by node
        except ValueError as e:
            raise Refusal(400, "bad_payload", str(e)) from None
        plan = {_known_id(n, known, "nodes"): dict(faults) for n in targets}
    else:
        raise Refusal(
            400,
            "bad_payload",
            'expected "action": partition, heal, isolate, rejoin, set or clear',
        )
    return plan, failed


def _known_id(value: Any, known: list[str], field: str) -> str:
    if not isinstance(value, str) or not is_address(value) or value not in known:
        raise Refusal(
            400, "bad_payload", f"{field}: {str(value)[:80]!r} is not a node this node knows"
        )
    return value


def _since(request: web.Request, default: float | None, now: float) -> float | None:
    """`since` (seconds since the epoch) or `last` (seconds before now) from the query."""
    q = request.query
    try:
        if "since" in q:
            return float(q["since"])
        if "last" in q:
            return now - float(q["last"])
    except ValueError:
        raise Refusal(400, "bad_query", "since and last are numbers of seconds") from None
    return default


def _limit(request: web.Request) -> int:
    try:
        return max(0, min(int(request.query.get("updates", MAX_UPDATES)), MAX_UPDATES))
    except ValueError:
        raise Refusal(400, "bad_query", "updates is a number") from None


OBSERVATORY = web.AppKey("observatory", Observatory)


def setup_observatory(app: web.Application, rt: Runtime) -> Observatory:
    """Registers the observatory's endpoints, its listener and its lifetime."""
    obs = app[OBSERVATORY] = Observatory(rt)
    rt.listeners.append(obs.on_events)
    rt.faults.listeners.append(obs.on_faults)
    app.router.add_get("/record", obs.get_record)
    app.router.add_get("/observatory", obs.get_cluster)
    app.router.add_get("/observatory/local", obs.get_local)
    app.router.add_get("/observatory/record", obs.get_merged_record)
    app.router.add_post("/observatory/faults", obs.post_faults)
    app.cleanup_ctx.append(obs.lifetime)
    app.on_shutdown.append(obs.on_shutdown)
    return obs
