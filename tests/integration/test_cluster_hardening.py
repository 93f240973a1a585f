"""The node keeps its promises while it is broken on purpose: real node processes on loopback
under partitions, loss, crashes, forged and replayed messages, key rotation and a flood."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from lab.chaos import LocalTarget, lossy, rotating_partitions
from lab.cluster import LocalCluster
from node.core.auth import Keyring
from tests.support.ports import port_range
from tests.support.wire import gossip_message

# ten nodes from BASE; four-node clusters at +10, +15 and +25; three nodes at +20
BASE = port_range(__file__).start

SYNC_S = 1.0
KEY_A, KEY_B = "alpha-key-0123456789", "bravo-key-0123456789"
TOKEN = "test-admin-token"


@pytest.fixture
def ten(tmp_path: Path) -> Iterator[LocalTarget]:
    # New favourites every ~10 s: reconvergence is measured, not a race with fresh updates.
    with LocalTarget(
        10, base_port=BASE, log_dir=tmp_path, sync_s=SYNC_S, resample_s=10.0
    ) as target:
        yield target


def say(text: str) -> None:
    print(text)


def applied_twice(log_dir: Path) -> list[tuple[str, str]]:
    counts: Counter[tuple[str, str]] = Counter()
    for path in log_dir.glob("node-*.log"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == "update_applied":
                counts[(record["node"], record["uuid"])] += 1
    return [k for k, n in counts.items() if n > 1]


def test_ten_nodes_reconverge_within_two_sync_periods_after_rotating_partitions(
    ten: LocalTarget,
) -> None:
    result = rotating_partitions(ten, random.Random(3), say, hold_s=3.0, sync_s=SYNC_S)
    assert result["reconverge_s"] is not None
    assert result["reconverge_s"] <= 2 * SYNC_S, result


def test_loss_duplication_and_delay_converge_and_nothing_is_applied_twice(
    ten: LocalTarget, tmp_path: Path
) -> None:
    result = lossy(ten, random.Random(4), say, hold_s=8.0, sync_s=SYNC_S)
    assert result["converged_during_s"] is not None, "no convergence while faults were on"
    assert result["reconverge_s"] is not None
    time.sleep(1)
    assert applied_twice(tmp_path) == []
    # the duplicates made on the way were dropped somewhere (one node alone may see none of them)
    dropped = sum(ten.cluster.state(p)["counters"]["deduplicated"] for p in ten.cluster.ports)
    assert dropped > 0


def test_five_crash_restart_cycles_each_accepted(tmp_path: Path) -> None:
    with LocalCluster(
        4, base_port=BASE + 15, env={"GOSSIP_RESAMPLE_SECONDS": "2"}, log_dir=tmp_path
    ) as c:
        c.wait_ready(30)
        victim, me = c.ports[2], f"127.0.0.1:{c.ports[2]}"
        for cycle in range(5):
            c.wait_converged(20)
            before = max(c.state(p)["origins"][me]["version"] for p in c.ports)
            c.kill(victim)
            time.sleep(0.3)
            c.start(victim)
            c.wait_ready(20, [victim])
            c.wait_converged(20)
            after = min(c.state(p)["origins"][me]["version"] for p in c.ports)
            assert after > before, f"cycle {cycle}: new versions not accepted"


async def _post_many(url: str, bodies: list[tuple[bytes, dict[str, str]]]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession() as session:
        sem = asyncio.Semaphore(16)

        async def one(body: bytes, headers: dict[str, str]) -> None:
            async with sem, session.post(url, data=body, headers=headers) as r:
                statuses[r.status] += 1

        await asyncio.gather(*(one(b, h) for b, h in bodies))
    return statuses


def _batch(n: int, origin: str, version: int) -> bytes:
    messages = [gossip_message(origin, version + k, movie="Forged") for k in range(n)]
    return json.dumps({"sender": "10.6.6.6:7000", "messages": messages}).encode()


def test_with_keys_forged_and_replayed_messages_are_all_rejected(tmp_path: Path) -> None:
    env = {"GOSSIP_KEYS": KEY_A, "GOSSIP_RESAMPLE_SECONDS": "2", "GOSSIP_RATE_LIMIT": "0"}
    with LocalCluster(3, base_port=BASE + 20, env=env, log_dir=tmp_path) as c:
        c.wait_ready(30)
        c.wait_converged(20)
        url = f"{c.urls[0]}/gossip/"
        good, bad, now = Keyring([KEY_A.encode()]), Keyring([KEY_B.encode()]), time.time()
        bodies = []
        for k in range(1000):  # 1,000 requests of 10 messages each
            body = _batch(10, "10.6.6.6:7000", 10**12 + 10 * k)
            if k % 2:  # forged: signed with a key the cluster does not have
                bodies.append((body, bad.headers("POST /gossip/", body, now)))
            else:  # replayed: validly signed, but captured long ago
                bodies.append((body, good.headers("POST /gossip/", body, now - 3600)))
        statuses = asyncio.run(_post_many(url, bodies))
        assert statuses == Counter({403: 1000})
        state = c.state(c.ports[0])
        assert "10.6.6.6:7000" not in state["origins"]
        assert state["counters"]["invalid_by_reason"] == {"bad_signature": 500, "expired": 500}
        c.wait_converged(10)  # and the cluster goes on


def test_a_key_rotation_loses_no_update(tmp_path: Path) -> None:
    env = {"GOSSIP_KEYS": KEY_A, "GOSSIP_ADMIN_TOKEN": TOKEN, "GOSSIP_RESAMPLE_SECONDS": "1"}
    with LocalCluster(4, base_port=BASE + 25, env=env, log_dir=tmp_path) as c:
        c.wait_ready(30)
        c.wait_converged(20)
        for step in ([KEY_A, KEY_B], [KEY_B, KEY_A], [KEY_B]):
            for url in c.urls:  # one node at a time, as an operator would
                req = aiohttp_put(f"{url}/admin/keys", {"keys": step})
                assert req == 200
                time.sleep(0.3)
            c.wait_converged(10)
        for port in c.ports:
            assert c.state(port)["counters"]["invalid"] == 0  # no exchange was ever refused


def aiohttp_put(url: str, body: dict[str, object]) -> int:
    async def put() -> int:
        async with (
            aiohttp.ClientSession() as s,
            s.put(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}) as r,
        ):
            return r.status

    return asyncio.run(put())


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


async def _flood(url: str, seconds: float, per_request: int, rate: float) -> dict[str, int]:
    """Valid gossip (fresh UUIDs and versions) offered at up to `rate` messages per second
    from 8 connections; the node's own pace limits what it takes. Bounded in time."""
    sent, statuses = 0, Counter[int]()
    start = time.monotonic()
    end = start + seconds
    async with aiohttp.ClientSession() as session:

        async def worker() -> None:
            nonlocal sent
            while time.monotonic() < end:
                if sent > rate * (time.monotonic() - start):  # ahead of the offered rate
                    await asyncio.sleep(0.01)
                    continue
                origin = f"10.7.{sent % 200 // 100}.{sent % 100}:7000"
                body = _batch(per_request, origin, 10**12 + sent)
                sent += per_request
                async with session.post(url, data=body) as r:
                    statuses[r.status] += 1

        await asyncio.gather(*(worker() for _ in range(8)))
    return {
        "messages": sent,
        "seconds": round(time.monotonic() - start, 1),
        **{str(k): v for k, v in statuses.items()},
    }


def test_a_flood_keeps_memory_bounded_and_peers_converging(tmp_path: Path) -> None:
    with LocalCluster(
        4, base_port=BASE + 10, env={"GOSSIP_RESAMPLE_SECONDS": "2"}, log_dir=tmp_path
    ) as c:
        c.wait_ready(30)
        c.wait_converged(20)
        target = c.procs[c.ports[1]].pid
        url = f"{c.urls[1]}/gossip/"
        asyncio.run(_flood(url, 3, per_request=250, rate=10_000))  # warm-up: caches fill
        warm = _rss_kb(target)
        result = asyncio.run(_flood(url, 10, per_request=250, rate=10_000))
        grown_mb = (_rss_kb(target) - warm) / 1024
        print(f"flood: {result}, RSS growth after warm-up {grown_mb:.1f} MB")
        assert result["seconds"] >= 10 and result["messages"] >= 2_500  # a flood took place
        assert grown_mb < 20
        c.wait_converged(15)  # the flooded node and its peers still converge
