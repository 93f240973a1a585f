"""Gathering the peers' views: every known peer's `/state`, side by side (`GET /cluster`,
the observatory): the cluster as one node sees it.

Owns the server-side fan-out behind the page's matrix and spread views, and the pure
summary of what it gathered. A browser outside the Docker network cannot reach the peers'
addresses, so the node asks them itself: each peer gets one `GET /state` with a short
timeout (shorter for a peer the protocol holds dead), `MAX_CONCURRENCY` at a time, at most
`MAX_NODES` nodes in all. The result is cached for `CACHE_S` and concurrent requests share
one fan-out, so any number of open pages cost the cluster one round of requests per `CACHE_S`
(`SharedGather` and `ask_each`, which the observatory's gather uses too).

`summarize` is pure (no I/O, no clock): from each node's report it builds the matrix of
nodes x origins (how many versions each node is behind the newest version seen anywhere),
whether the nodes that answered have converged (`node.core.views_converged`), and the
spread of the latest update (who learned it when, measured as each node's `learned_at`
minus the origin's `sent_at`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from node.core import DEAD, VERSION_TICKS_PER_S, GossipNode, views_converged
from node.transport import read_capped

__all__ = [
    "ClusterView",
    "Report",
    "SharedGather",
    "ask_each",
    "fan_out_session",
    "summarize",
]

T = TypeVar("T")

#: Seconds a gathered cluster is served again before the peers are asked anew.
CACHE_S = 1.0
#: Requests to peers in flight at once.
MAX_CONCURRENCY = 16
#: Nodes asked at most (this one included); the rest are counted as left out.
MAX_NODES = 128
#: Seconds one peer gets to answer; a node that cannot answer in this is shown unreachable.
TIMEOUT_S = 1.5
#: Seconds a peer the protocol holds dead gets: it is often really gone, but one cut off
#: by a partition (a fault of gossip's traffic only) still answers, and shows its side.
DEAD_TIMEOUT_S = 0.5
#: Largest /state body read from a peer.
MAX_STATE_BYTES = 8 << 20
#: Updates listed in `updates` (newest first).
MAX_UPDATES = 20
#: The origin fields kept from a peer's /state (the rest is not needed by the page).
_CELL_FIELDS = ("version", "movie", "learned_at", "sent_at", "hops", "via", "sender")


@dataclass(frozen=True, slots=True)
class Report:
    """What one node told us: its /state, or why we do not have it."""

    id: str
    #: This node's opinion of the peer: "self", "alive", "suspect" or "dead".
    health: str
    state: dict[str, Any] | None
    error: str | None = None
    rtt_ms: float | None = None


def summarize(self_id: str, reports: Sequence[Report], now: float) -> dict[str, Any]:
    """The cluster view's JSON (docs/page.md's `GET /cluster`) from the nodes' reports."""
    live = [r for r in reports if r.state is not None]
    views: dict[str, dict[str, dict[str, Any]]] = {}
    for r in live:
        assert r.state is not None
        raw = r.state.get("origins")
        views[r.id] = raw if isinstance(raw, dict) else {}
    newest: dict[str, dict[str, Any]] = {}
    for origins in views.values():
        for origin, e in origins.items():
            if origin not in newest or e["version"] > newest[origin]["version"]:
                newest[origin] = {k: e.get(k) for k in ("version", "movie", "sent_at")}
    generations = {r.id: r.state.get("generation") for r in live if r.state is not None}
    for origin, n in newest.items():
        n["counter"] = _counter(n["version"], generations.get(origin))
    matrix: dict[str, dict[str, dict[str, Any]]] = {}
    lagging = 0
    for node, origins in views.items():
        row = matrix[node] = {}
        for origin, top in newest.items():
            mine = origins.get(origin)
            if mine is None:
                lagging += 1
                continue
            behind = top["version"] - mine["version"]
            lagging += behind > 0
            row[origin] = {
                **{k: mine.get(k) for k in _CELL_FIELDS},
                "behind": behind,
                # A gap this wide is no count of missed updates: the origin restarted
                # (a new generation) and this node still holds news of its previous life.
                "older_life": behind >= VERSION_TICKS_PER_S,
            }
    nodes = []
    for r in reports:
        s = r.state or {}
        nodes.append(
            {
                "id": r.id,
                # the node's display name (node.names), from its own /state; None from a
                # node that does not send one (older) or did not answer
                "name": s.get("name") if isinstance(s.get("name"), str) else None,
                "self": r.id == self_id,
                "health": r.health,
                "reachable": r.state is not None,
                "error": r.error,
                "rtt_ms": r.rtt_ms,
                **{
                    k: s.get(k)
                    for k in ("movie", "version", "generation", "counter", "uptime_s", "now")
                },
                "peer_counts": s.get("peer_counts"),
            }
        )
    spreads = (_spread(origin, top, matrix) for origin, top in newest.items())
    updates = sorted((u for u in spreads if u is not None), key=lambda u: -u["sent_at"])
    return {
        "self": self_id,
        "now": now,
        "nodes": nodes,
        "origins": sorted(newest),
        "newest": newest,
        "matrix": matrix,
        "reachable": len(live),
        "unreachable": len(reports) - len(live),
        "lagging": lagging,
        # the nodes that answered are the ones judged: the unreachable are counted apart
        "converged": views_converged(
            {node: {o: e["version"] for o, e in origins.items()} for node, origins in views.items()}
        ),
        "latest": updates[0] if updates else None,
        "updates": updates[:MAX_UPDATES],
    }


def _counter(version: int, generation: object) -> int | None:
    """Updates since the origin's start, when its generation is known and it is this life's."""
    if isinstance(generation, int) and 0 <= version - generation < VERSION_TICKS_PER_S:
        return version - generation
    return None


def _spread(
    origin: str, top: dict[str, Any], matrix: dict[str, dict[str, dict[str, Any]]]
) -> dict[str, Any] | None:
    """Who has learned `origin`'s newest version, when; None if it carries no send time."""
    sent_at = top["sent_at"]
    if not isinstance(sent_at, int | float):
        return None
    reached, pending = [], []
    for node, row in matrix.items():
        cell = row.get(origin)
        if cell is not None and cell["behind"] == 0 and isinstance(cell["learned_at"], int | float):
            reached.append(
                {
                    "node": node,
                    "learned_at": cell["learned_at"],
                    "delay_s": round(cell["learned_at"] - sent_at, 6),
                    "hops": cell["hops"],
                    "via": cell["via"],
                    "sender": cell["sender"],
                }
            )
        else:
            pending.append({"node": node, "behind": None if cell is None else cell["behind"]})
    reached.sort(key=lambda r: r["delay_s"])
    return {
        "origin": origin,
        "version": top["version"],
        "counter": top["counter"],
        "movie": top["movie"],
        "sent_at": sent_at,
        "reached": reached,
        "pending": sorted(pending, key=lambda p: p["node"]),
        "of": len(matrix),
        # the time to reach every node that answered, once all have it
        "spread_s": reached[-1]["delay_s"] if reached and not pending else None,
    }


class SharedGather:
    """A gathered result served again for `cache_s` before it is gathered anew, with
    concurrent callers sharing one gather (single flight): any number of open pages cost the
    cluster one round of requests per `cache_s`. Used by `/cluster` and `/observatory`."""

    def __init__(
        self, gather: Callable[[], Awaitable[dict[str, Any]]], cache_s: float = CACHE_S
    ) -> None:
        self.gather = gather
        self.cache_s = cache_s
        self._cached: tuple[float, dict[str, Any]] | None = None
        self._inflight: asyncio.Task[dict[str, Any]] | None = None

    async def get(self) -> dict[str, Any]:
        """The result, at most `cache_s` old, with its age in `age_s`."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self.cache_s:
            taken, result = self._cached
        else:
            if self._inflight is None:
                self._inflight = asyncio.get_running_loop().create_task(self._run())
                self._inflight.add_done_callback(self._done)
            result = await asyncio.shield(self._inflight)
            taken = time.monotonic()
        return {**result, "age_s": round(time.monotonic() - taken, 3)}

    def forget(self) -> None:
        """The next `get` gathers anew (something changed that it must show)."""
        self._cached = None

    async def _run(self) -> dict[str, Any]:
        return await self.gather()

    def _done(self, task: asyncio.Task[dict[str, Any]]) -> None:
        self._inflight = None
        if not task.cancelled() and task.exception() is None:
            self._cached = (time.monotonic(), task.result())


@contextlib.asynccontextmanager
async def fan_out_session(
    limit: int,
    close_streams: Callable[[], None],
    background: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """The lifetime (an app's cleanup context) of a fan-out outside the protocol: a client
    session of `limit` connections in all (any number per host, kept alive 30 s) and the
    `background` task, if any; at the end the task stops, the open streams close, then the
    session."""
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, keepalive_timeout=30)
    session = aiohttp.ClientSession(connector=connector)
    task = None if background is None else asyncio.get_running_loop().create_task(background())
    try:
        yield session
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        close_streams()
        await session.close()


async def ask_each(
    peers: Sequence[str], ask: Callable[[str], Awaitable[T]], limit: int = MAX_CONCURRENCY
) -> list[T]:
    """`ask(peer)` for every peer, at most `limit` in flight; the answers in `peers`' order."""
    gate = asyncio.Semaphore(limit)

    async def one(peer: str) -> T:
        async with gate:
            return await ask(peer)

    return list(await asyncio.gather(*(one(p) for p in peers)))


class ClusterView:
    """Gathers every known node's /state (server-side, cached) and summarizes it."""

    def __init__(
        self,
        node: GossipNode,
        view: Callable[[], dict[str, Any]],
        clock: Callable[[], float],
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.node = node
        self.view = view
        self.clock = clock
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.dead_timeout = aiohttp.ClientTimeout(total=min(timeout_s, DEAD_TIMEOUT_S))
        #: The app's UI session (set and closed by the app's cleanup context).
        self.session: aiohttp.ClientSession | None = None
        self.gathered = SharedGather(self._gather)

    async def get(self) -> dict[str, Any]:
        """The summary, at most CACHE_S old; concurrent callers share one fan-out."""
        return await self.gathered.get()

    async def _gather(self) -> dict[str, Any]:
        started = time.monotonic()
        me = self.node.id
        peers = sorted(self.node.peers)
        left_out = max(len(peers) + 1 - MAX_NODES, 0)
        peers = peers[: MAX_NODES - 1]
        reports = [Report(me, "self", self.view(), rtt_ms=0.0)]
        reports += await ask_each(peers, lambda p: self._ask(p, self.node.peers.state(p)))
        out = summarize(me, reports, self.clock())
        out["left_out"] = left_out
        out["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        return out

    async def _ask(self, peer: str, health: str) -> Report:
        if self.session is None:
            return Report(peer, health, None, "not started")
        started = time.monotonic()
        timeout = self.dead_timeout if health == DEAD else self.timeout
        try:
            async with self.session.get(f"http://{peer}/state", timeout=timeout) as r:
                if r.status != 200:
                    return Report(peer, health, None, f"HTTP {r.status}")
                body = await read_capped(r, MAX_STATE_BYTES)
            state = json.loads(body)
            if not isinstance(state, dict) or not isinstance(state.get("origins"), dict):
                return Report(peer, health, None, "not a node's /state")
            _check_origins(state["origins"])
        except TimeoutError:
            return Report(peer, health, None, "timed out")
        except (aiohttp.ClientError, OSError) as e:
            return Report(peer, health, None, f"{type(e).__name__}: {e}"[:200])
        except (ValueError, TypeError, KeyError) as e:
            return Report(peer, health, None, f"bad /state: {e}"[:200])
        rtt_ms = round((time.monotonic() - started) * 1000, 1)
        return Report(peer, health, state, rtt_ms=rtt_ms)


def _check_origins(origins: dict[str, Any]) -> None:
    """A peer's origins must carry integer versions: the summary compares them."""
    for entry in origins.values():
        version = entry["version"]
        if isinstance(version, bool) or not isinstance(version, int):
            raise TypeError("an origin's version is not an integer")
