"""Benchmark 5: memory of one node process under a million messages.

Owns one measurement: a real node (`python -m node`, default settings but no flood limit)
receives 1,000,000 valid gossip messages (fresh UUIDs, rising versions of 1,000 origins,
TTL 0 so it forwards nothing) in the batch form, 100 per request. Its resident memory (RSS)
is sampled as the messages go through: after a warm-up of 100,000 and at the end. Every
cache is bounded (the dedup cache holds 10,000 UUIDs, the origin table 4,096 origins), so
the aim is growth under 10 MB from warm-up to the end.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from lab.bench.load import bodies, free_ports, post_all, start_process, stop_process, wait_healthy
from lab.bench.report import Column, Result, frame, plot

__all__ = ["run_benchmark"]

AIM_GROWTH_MB = 10.0
BATCH = 100


def run_benchmark(quick: bool, out: Path, say: Callable[[str], None] = print) -> Result:
    total = 100_000 if quick else 1_000_000
    warmup = total // 10
    step = total // 20
    port = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    env = {"GOSSIP_RATE_LIMIT": "0", "GOSSIP_RESAMPLE_SECONDS": "10", "GOSSIP_SEED": "1"}
    proc = start_process(["-m", "node", "-p", str(port), "-b", str(port)], env)
    samples: list[dict[str, Any]] = []
    try:
        wait_healthy(url)
        ps = psutil.Process(proc.pid)
        samples.append({"messages": 0, "rss_mb": ps.memory_info().rss / 2**20})
        stream = bodies(total, BATCH)
        done = 0
        seconds = 0.0
        failed = 0
        while done < total:
            chunk = min(step, total - done)
            sent = asyncio.run(
                post_all(url + "/gossip/", itertools.islice(stream, chunk // BATCH), 8, 300)
            )
            failed += sent.failed
            seconds += sent.seconds
            done += chunk
            samples.append({"messages": done, "rss_mb": ps.memory_info().rss / 2**20})
            if done % (5 * step) == 0:
                say(f"  {done:,} messages, RSS {samples[-1]['rss_mb']:.1f} MB")
        with urllib.request.urlopen(url + "/state", timeout=10) as r:
            counters = json.loads(r.read())["counters"]
    finally:
        stop_process(proc)
    at_warmup = next(s for s in samples if s["messages"] >= warmup)
    end = samples[-1]
    growth = end["rss_mb"] - at_warmup["rss_mb"]
    row = {
        "messages": total,
        "requests_failed": failed,
        "applied": counters.get("applied"),
        "rss_start_mb": samples[0]["rss_mb"],
        "rss_warm_mb": at_warmup["rss_mb"],
        "rss_end_mb": end["rss_mb"],
        "growth_mb": growth,
        "peak_mb": max(s["rss_mb"] for s in samples),
        "msgs_per_s": total / seconds if seconds else None,
    }
    result = Result("memory", "5. Memory: a million messages through one node")
    result.tables.append(
        (
            f"One node process; {total:,} messages in batches of {BATCH} (fresh UUIDs, rising "
            f"versions of 1,000 origins, TTL 0); RSS after {warmup:,} (warm-up) and at the end.",
            COLUMNS,
            [row],
        )
    )
    result.aim(
        f"RSS growth from warm-up to the end under {AIM_GROWTH_MB:g} MB",
        f"{growth:+.1f} MB ({at_warmup['rss_mb']:.1f} -> {end['rss_mb']:.1f} MB)",
        growth < AIM_GROWTH_MB,
    )
    result.data = {"row": row, "samples": samples, "counters": counters}
    result.files += _plot(out, samples, warmup)
    return result


COLUMNS = (
    Column("messages", "messages", "{:,}"),
    Column("applied", "applied", "{:,}"),
    Column("requests_failed", "failed requests", "{:,}"),
    Column("rss_start_mb", "RSS start (MB)", "{:.1f}"),
    Column("rss_warm_mb", "after warm-up", "{:.1f}"),
    Column("rss_end_mb", "at the end", "{:.1f}"),
    Column("growth_mb", "growth", "{:+.1f}"),
    Column("msgs_per_s", "msgs/s", "{:,.0f}"),
)


def _plot(out: Path, samples: list[dict[str, Any]], warmup: int) -> list[str]:
    with plot(out, "memory_rss.png", (7, 3.8)) as (_, ax):
        ax.plot([s["messages"] for s in samples], [s["rss_mb"] for s in samples], "o-", ms=3)
        ax.axvline(warmup, color="grey", ls=":", lw=0.8, label="end of warm-up")
        ax.set_ylim(bottom=0)
        frame(
            ax,
            "messages received",
            "RSS (MB)",
            "One node's resident memory under a stream of new gossip",
        )
    return ["memory_rss.png"]
