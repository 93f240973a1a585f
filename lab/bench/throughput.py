"""Benchmark 4: one node's throughput against a bare aiohttp handler, in the same run.

Owns one comparison. The server under test runs pinned to CPU 0 (`taskset`), the load
generator on CPU 1: wrk (one thread, 64 keep-alive connections, a Lua script that makes
every request valid gossip with a fresh UUID and a newer version) when it is installed,
else an aiohttp client. Each server is measured in turn, in the same run, `runs` times,
and the median is kept:
- the node (`python -m node`, default settings, no flood limit, logs to /dev/null at the
  default level `info`), fed the seed's single-message form and the batch form (10
  messages a request);
- the same node with `GOSSIP_LOG_LEVEL=warning`, to show what per-update logging costs;
- the bare handler (`lab.bench.bare`): decode the same JSON and reply, nothing else; once
  plain (asyncio's loop, the standard json) and once on the node's own stack (uvloop where
  installed, orjson), which is the one the aim compares with: the two servers then differ
  only in what the node does with a message.
Messages have TTL 0, so the node applies each and forwards none: what is measured is how
fast one node takes gossip in. Aim: the node at 70 % or more of the bare handler.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.bench.load import (
    bodies,
    free_ports,
    pin,
    post_all,
    start_process,
    stop_process,
    wait_healthy,
)
from lab.bench.report import Column, Result, plot

__all__ = ["run_benchmark"]

AIM_RATIO = 0.7
CONNECTIONS = 64
BATCH = 10

# wrk's Lua: every request is new gossip. Thread-local counters; `batch` 1 is the seed's
# single-message form, more is the batch form. The UUID's last group is the counter, the
# first the run, so no two requests of a run repeat a UUID and every version is newer.
_LUA = r"""
local counter = 0
local batch = 1
local run = 0
local base = 1099511627776
function init(args)
  batch = tonumber(args[1]) or 1
  run = tonumber(args[2]) or 0
end
local function message(k)
  return string.format(
    '{"uuid":"%08x-0000-4000-8000-%012x","origin":"127.88.%d.%d:7999","version":%d,'
    .. '"ttl":0,"payload":{"movie":"Alien"}}',
    run, k, math.floor((k % 1000) / 256), (k % 1000) % 256, base + k)
end
function request()
  local body
  if batch == 1 then
    body = message(counter)
    counter = counter + 1
  else
    local parts = {}
    for i = 1, batch do
      parts[i] = message(counter)
      counter = counter + 1
    end
    body = '{"messages":[' .. table.concat(parts, ",") .. ']}'
  end
  return wrk.format("POST", "/gossip/", {["Content-Type"] = "application/json"}, body)
end
"""


def run_benchmark(quick: bool, out: Path, say: Callable[[str], None] = print) -> Result:
    seconds = 3 if quick else 10
    runs = 1 if quick else 3
    wrk = shutil.which("wrk")
    servers = [
        ("node", "the node (logs at info)", {}),
        ("node-quiet", "the node, GOSSIP_LOG_LEVEL=warning", {"GOSSIP_LOG_LEVEL": "warning"}),
        ("bare", "bare aiohttp handler (decode, reply)", None),
        ("bare-fast", "bare handler on the node's stack (uvloop, orjson)", None),
    ]
    forms = ((1, "single"), (BATCH, "batch"))
    measured: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "gossip.lua"
        script.write_text(_LUA)
        for attempt in range(runs):
            for name, _what, env in servers:
                for batch, form in forms:
                    rate = _measure(name, env, batch, seconds, attempt, script, wrk)
                    measured.append({"server": name, "form": form, "run": attempt, **rate})
                    say(
                        f"  run {attempt + 1}/{runs} {name} {form}: {rate['requests_per_s']:,.0f}"
                        f" req/s, {rate['messages_per_s']:,.0f} msgs/s, {rate['errors']} errors"
                    )
    rows = []
    for name, what, _env in servers:
        for _batch, form in forms:
            group = [m for m in measured if m["server"] == name and m["form"] == form]
            rows.append(
                {
                    "server": name,
                    "what": what,
                    "form": form,
                    "requests_per_s": statistics.median(m["requests_per_s"] for m in group),
                    "messages_per_s": statistics.median(m["messages_per_s"] for m in group),
                    "spread": _spread([m["requests_per_s"] for m in group]),
                    "errors": sum(m["errors"] for m in group),
                }
            )
    bare = {r["form"]: r["requests_per_s"] for r in rows if r["server"] == "bare-fast"}
    for r in rows:
        r["of_bare"] = r["requests_per_s"] / bare[r["form"]] if bare.get(r["form"]) else None
    result = Result("throughput", "4. One node's throughput against a bare aiohttp handler")
    generator = (
        f"wrk, 1 thread, {CONNECTIONS} connections" if wrk else "an aiohttp client (wrk absent)"
    )
    result.tables.append(
        (
            f"Server on CPU 0, load ({generator}) on CPU 1, keep-alive; {seconds} s per "
            f"measurement, median of {runs} (spread = (max-min)/median); the batch form "
            f"carries {BATCH} messages per request. `of bare` compares requests per second "
            "with the bare handler's on the node's stack in the same form.",
            COLUMNS,
            rows,
        )
    )
    for form in ("single", "batch"):
        node = next(r for r in rows if r["server"] == "node" and r["form"] == form)
        if node["of_bare"] is not None:
            result.aim(
                f"the node at 70 % or more of the bare handler on its stack ({form} form)",
                f"{node['of_bare']:.0%} ({node['requests_per_s']:,.0f} against "
                f"{bare[form]:,.0f} req/s; {node['messages_per_s']:,.0f} msgs/s)",
                node["of_bare"] >= AIM_RATIO,
            )
    result.data = {"rows": rows, "measurements": measured, "generator": generator}
    result.files += _plot(out, rows)
    return result


def _measure(
    name: str,
    env: dict[str, str] | None,
    batch: int,
    seconds: int,
    attempt: int,
    script: Path,
    wrk: str | None,
) -> dict[str, Any]:
    port = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    if env is None:
        fast = ["--fast"] if name == "bare-fast" else []
        proc = start_process(["-m", "lab.bench.bare", str(port), *fast], cpu=0)
    else:
        node_env = {"GOSSIP_RATE_LIMIT": "0", "GOSSIP_SEED": "1", **env}
        proc = start_process(["-m", "node", "-p", str(port), "-b", str(port)], node_env, cpu=0)
    try:
        wait_healthy(url)
        run_id = attempt * 16 + batch
        if wrk:
            cmd = [
                *pin(1),
                wrk,
                "-t1",
                f"-c{CONNECTIONS}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url + "/gossip/",
                "--",
                str(batch),
                str(run_id),
            ]
            text = subprocess.run(
                cmd, capture_output=True, text=True, timeout=seconds + 60, check=True
            ).stdout
            return _parse_wrk(text, batch, seconds)
        count = 10_000_000
        sent = asyncio.run(
            post_all(url + "/gossip/", bodies(count, batch, run=run_id), 32, seconds)
        )
        return {
            "requests_per_s": sent.requests / sent.seconds,
            "messages_per_s": sent.requests * batch / sent.seconds,
            "errors": sent.failed,
        }
    finally:
        stop_process(proc)


def _parse_wrk(text: str, batch: int, seconds: int) -> dict[str, Any]:
    match = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not match:
        raise RuntimeError(f"wrk said: {text[-500:]}")
    rps = float(match.group(1))
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", text)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {"requests_per_s": rps, "messages_per_s": rps * batch, "errors": errors}


def _spread(values: list[float]) -> float:
    mid = statistics.median(values)
    return (max(values) - min(values)) / mid if mid else 0.0


COLUMNS = (
    Column("what", "server"),
    Column("form", "form"),
    Column("requests_per_s", "req/s", "{:,.0f}"),
    Column("messages_per_s", "msgs/s", "{:,.0f}"),
    Column("of_bare", "of bare", "{:.0%}"),
    Column("spread", "spread", "{:.0%}"),
    Column("errors", "errors", "{:,}"),
)


def _plot(out: Path, rows: list[dict[str, Any]]) -> list[str]:
    with plot(out, "throughput.png", (10, 3.8), ncols=2) as (fig, axes):
        for ax, key, label in zip(
            axes, ("requests_per_s", "messages_per_s"), ("requests/s", "messages/s"), strict=True
        ):
            names = [f"{r['server']}\n{r['form']}" for r in rows]
            ax.bar(names, [r[key] for r in rows], color=[f"C{i // 2}" for i in range(len(rows))])
            ax.set_ylabel(label)
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle("One process on one core: the node against a bare aiohttp handler")
    return ["throughput.png"]
