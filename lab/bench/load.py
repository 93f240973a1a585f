"""Load for the benchmarks on real processes: valid gossip, loopback ports, node processes.

Owns what the process benchmarks share: request bodies of valid gossip (fresh UUIDs, rising
versions, TTL 0 so the node under test forwards nothing), an aiohttp client that posts
them with bounded concurrency and a time limit, picking free loopback ports, and starting
and stopping one node (or a bare aiohttp handler) pinned to a CPU. Every address here is
on 127.0.0.0/8, and every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

__all__ = [
    "RESERVED",
    "Sent",
    "bodies",
    "free_ports",
    "message",
    "origin",
    "post_all",
    "pin",
    "start_process",
    "stop_process",
    "wait_healthy",
]

#: Port ranges the acceptance checks use: never started on by a benchmark.
RESERVED = (range(7300, 7311), range(7400, 7411), range(7700, 7711), range(7800, 7811))
_BASE_VERSION = 1 << 40


def origin(i: int) -> str:
    """The i-th fake origin: a loopback address where nothing listens (127.88.x.y:7999), so
    the node's own requests to it fail at once and stay on this machine."""
    return f"127.88.{(i >> 8) & 255}.{i & 255}:7999"


def message(k: int, origins: int = 1000, run: int = 0) -> dict[str, Any]:
    """The k-th message of a stream: a fresh UUID, and a version newer than every earlier
    message of the same origin (so it is applied, not stale)."""
    return {
        "uuid": f"{run:08x}-0000-4000-8000-{k:012x}",
        "origin": origin(k % origins),
        "version": _BASE_VERSION + k,
        "ttl": 0,
        "payload": {"movie": "Alien"},
    }


def bodies(count: int, batch: int, origins: int = 1000, run: int = 0) -> Iterator[bytes]:
    """`count` messages as request bodies: the seed's single-message form when batch == 1,
    else the batch form `{"messages": [...]}` with `batch` messages each."""
    for start in range(0, count, batch):
        ks = range(start, min(start + batch, count))
        if batch == 1:
            yield json.dumps(message(start, origins, run)).encode()
        else:
            yield json.dumps({"messages": [message(k, origins, run) for k in ks]}).encode()


@dataclass
class Sent:
    requests: int = 0
    ok: int = 0
    failed: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] | None = None


async def post_all(
    url: str, payloads: Iterator[bytes], concurrency: int = 16, time_limit_s: float = 600.0
) -> Sent:
    """POSTs every payload to url over one keep-alive session, `concurrency` at a time;
    stops at the time limit."""
    sent = Sent(statuses={})
    assert sent.statuses is not None
    deadline = time.perf_counter() + time_limit_s
    lock = asyncio.Lock()
    started = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def worker() -> None:
            while time.perf_counter() < deadline:
                async with lock:
                    body = next(payloads, None)
                if body is None:
                    return
                sent.requests += 1
                try:
                    async with session.post(
                        url, data=body, headers={"Content-Type": "application/json"}
                    ) as r:
                        await r.read()
                        statuses = sent.statuses
                        assert statuses is not None
                        statuses[r.status] = statuses.get(r.status, 0) + 1
                        if r.status == 200:
                            sent.ok += 1
                        else:
                            sent.failed += 1
                except (aiohttp.ClientError, TimeoutError):
                    sent.failed += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    sent.seconds = time.perf_counter() - started
    return sent


def free_ports(n: int, lo: int = 7500, hi: int = 8000) -> int:
    """A base port p such that p .. p+n-1 are free on 127.0.0.1 and outside RESERVED."""
    for base in range(lo, hi - n + 1, 10):
        ports = range(base, base + n)
        if any(p in r for p in ports for r in RESERVED):
            continue
        if all(_free(p) for p in ports):
            return base
    raise RuntimeError(f"no {n} free loopback ports in {lo}..{hi - 1}")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pin(cpu: int | None) -> list[str]:
    """A command prefix that runs on one CPU (taskset), or nothing where that is not possible."""
    if cpu is None or shutil.which("taskset") is None or (os.cpu_count() or 1) <= cpu:
        return []
    return ["taskset", "-c", str(cpu)]


def start_process(
    args: list[str], env: Mapping[str, str] | None = None, cpu: int | None = None
) -> subprocess.Popen[bytes]:
    """`python args...` in its own session, output discarded, pinned to `cpu` if given."""
    return subprocess.Popen(
        [*pin(cpu), sys.executable, *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(grace_s)


def wait_healthy(url: str, timeout_s: float = 30.0, path: str = "/healthz") -> None:
    """Waits until GET url+path answers 200; raises TimeoutError."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + path, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy within {timeout_s} s")
