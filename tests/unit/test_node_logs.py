"""The node's log lines: the format every line keeps, the catalogue (code, docs/logs.md and the
events actually logged agree), and the duplicate tally that keeps the info level at a few
lines per update however many copies gossip sends."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from node.catalogue import BY_CORE, BY_NAME, CATALOGUE, from_line
from node.core import Applied, Deduplicated, Event, MovieChanged, Stale, TtlDropped
from node.core import events as e
from node.logs import TALLY_MAX_UPDATES, log_event, make_logger
from tests.support.waits import async_wait_until

ROOT = Path(__file__).resolve().parents[2]
NODE = "127.0.0.1:7001"
ORIGIN = "127.0.0.1:7000"
UUID = "3f0c1c3e-8f5e-4f59-9a59-1e0b0f3c2a11"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stream.getvalue().splitlines()]


def applied(ttl: int = 5, uuid: str = UUID, version: int = 7) -> Applied:
    return Applied(uuid, ORIGIN, version, "Alien", ORIGIN, 1, ttl, 0.0042, "push")


def test_every_line_has_timestamp_level_event_node() -> None:
    out = io.StringIO()
    log = make_logger(NODE, stream=out)
    log_event(log, MovieChanged(7, 0, "Alien", None, UUID))
    log_event(log, applied())
    log.info("node_stopping")
    for record in lines(out):
        assert {"timestamp", "level", "event", "node"} <= record.keys()
        assert record["node"] == NODE
        assert record["timestamp"].endswith("Z")
        datetime.fromisoformat(record["timestamp"])
    assert [r["event"] for r in lines(out)] == ["movie_changed", "update_applied", "node_stopping"]


def test_copies_are_tallied_into_one_info_line_per_update() -> None:
    out, clock = io.StringIO(), Clock()
    log = make_logger(NODE, stream=out, clock=clock, window_s=1.0)
    log_event(log, applied())
    for k in range(50):  # a flood: fifty copies of the same update from three peers
        sender = f"127.0.0.1:{7002 + k % 3}"
        log_event(log, Deduplicated(UUID, ORIGIN, 7, sender))
    log_event(log, Stale(UUID, ORIGIN, 7, 8, "127.0.0.1:7002"))
    assert [r["event"] for r in lines(out)] == ["update_applied"]  # none at the message rate
    clock.now += 1.0
    log_event(log, applied(uuid="other", version=9))  # the next line writes the due tally
    records = lines(out)
    assert [r["event"] for r in records] == [
        "update_applied",
        "update_duplicates",
        "update_applied",
    ]
    tally = records[1]
    assert tally["level"] == "info"
    assert (tally["origin"], tally["version"], tally["uuid"]) == (ORIGIN, 7, UUID)
    assert (tally["duplicates"], tally["stale"]) == (50, 1)
    assert tally["senders"] == {"127.0.0.1:7002": 18, "127.0.0.1:7003": 17, "127.0.0.1:7004": 16}
    assert tally["window_s"] == 1.0


def test_the_tally_is_written_before_a_graceful_stop() -> None:
    out = io.StringIO()
    log = make_logger(NODE, stream=out, clock=Clock())
    log_event(log, Deduplicated(UUID, ORIGIN, 7, "127.0.0.1:7002"))
    log.info("node_stopping")
    assert [r["event"] for r in lines(out)] == ["update_duplicates", "node_stopping"]


async def test_the_tally_is_written_by_a_timer_when_nothing_else_is_logged() -> None:
    out = io.StringIO()
    log = make_logger(NODE, stream=out, window_s=0.05)
    log_event(log, Deduplicated(UUID, ORIGIN, 7, "127.0.0.1:7002"))
    assert lines(out) == []

    async def written() -> list[Any]:
        return lines(out)

    await async_wait_until(written, 5, "the tally written by its timer", step=0.02)
    assert [(r["event"], r["duplicates"]) for r in lines(out)] == [("update_duplicates", 1)]


def test_the_tally_is_bounded() -> None:
    out = io.StringIO()
    log = make_logger(NODE, stream=out, clock=Clock())
    for k in range(TALLY_MAX_UPDATES + 1):
        log_event(log, Deduplicated(f"uuid-{k}", ORIGIN, k, None))
    written = [r for r in lines(out) if r["event"] == "update_duplicates"]
    assert [(r["uuid"], r["senders"]) for r in written] == [("uuid-0", {"?": 1})]  # the oldest


def test_each_update_has_its_own_window() -> None:
    out, clock = io.StringIO(), Clock()
    log = make_logger(NODE, stream=out, clock=clock, window_s=1.0)
    log_event(log, Deduplicated("first", ORIGIN, 1, None))
    clock.now += 0.6
    log_event(log, Deduplicated("second", ORIGIN, 2, None))
    clock.now += 0.6  # the first window closed, the second is still open
    log_event(log, Deduplicated("second", ORIGIN, 2, None))
    assert [(r["uuid"], r["duplicates"]) for r in lines(out)] == [("first", 1)]
    clock.now += 0.6
    log.info("node_started")
    assert [(r["event"], r.get("duplicates")) for r in lines(out)] == [
        ("update_duplicates", 1),
        ("update_duplicates", 2),
        ("node_started", None),
    ]


def test_debug_level_adds_the_per_message_lines() -> None:
    out, clock = io.StringIO(), Clock()
    log = make_logger(NODE, level="debug", stream=out, clock=clock)
    log_event(log, Deduplicated(UUID, ORIGIN, 7, "127.0.0.1:7002"))
    log.flush()
    assert [r["event"] for r in lines(out)] == ["message_deduplicated", "update_duplicates"]


def test_above_info_nothing_is_tallied() -> None:
    out = io.StringIO()
    log = make_logger(NODE, level="warning", stream=out, clock=Clock())
    log_event(log, Deduplicated(UUID, ORIGIN, 7, "127.0.0.1:7002"))
    log.flush()
    assert out.getvalue() == ""


def test_a_ttl_drop_is_the_arrival_line_with_ttl_0_and_no_second_info_line() -> None:
    out = io.StringIO()
    log = make_logger(NODE, stream=out)
    log_event(log, applied(ttl=0))
    log_event(log, TtlDropped(UUID, ORIGIN, 7, ORIGIN))
    assert [(r["event"], r["level"], r["ttl"]) for r in lines(out)] == [
        ("update_applied", "info", 0)
    ]
    debug = io.StringIO()
    log = make_logger(NODE, level="debug", stream=debug)
    log_event(log, TtlDropped(UUID, ORIGIN, 7, ORIGIN))
    assert [(r["event"], r["level"]) for r in lines(debug)] == [("ttl_drop", "debug")]


def test_the_catalogue_matches_the_docs() -> None:
    """docs/logs.md's table names every event of the catalogue, at its level, and each of
    the fields its lines carry (`node_started` and `faults_set`: "its settings")."""
    docs = (ROOT / "docs" / "logs.md").read_text()
    table = docs.split("| event | level | meaning |\n", 1)[1].split("\n\n", 1)[0]
    documented: dict[str, str] = {}
    rows: dict[str, str] = {}
    for row in re.findall(r"^\| (`.+?) \| (\w+) \| (.*) \|$", table, re.M):
        for name in re.findall(r"`(\w+)`", row[0]):
            documented[name] = row[1]
            rows[name] = row[2]
    assert documented == {t.name: t.level for t in CATALOGUE}
    for t in CATALOGUE:
        if t.name in ("node_started", "faults_set"):
            assert "settings" in rows[t.name]
            continue
        named = set(re.findall(r"`(\w+)`", rows[t.name]))
        assert set(t.fields) <= named, (t.name, sorted(set(t.fields) - named))


def _example(cls: type) -> Event:
    """One event of each of the core's kinds, every field set."""
    examples: dict[type, Event] = {
        MovieChanged: MovieChanged(7, 0, "Alien", None, UUID),
        Applied: applied(),
        Deduplicated: Deduplicated(UUID, ORIGIN, 7, ORIGIN),
        TtlDropped: TtlDropped(UUID, ORIGIN, 7, ORIGIN),
        Stale: Stale(UUID, ORIGIN, 7, 8, ORIGIN),
        e.PeerChanged: e.PeerChanged(ORIGIN, "alive", "suspect"),
        e.Bootstrapped: e.Bootstrapped(ORIGIN, 3),
        e.BootstrapFailed: e.BootstrapFailed(ORIGIN, 1.5),
        e.Reaped: e.Reaped(ORIGIN, 7),
        e.Refused: e.Refused("bad_json", "not JSON", ORIGIN),
    }
    return examples[cls]


def test_every_core_event_is_in_the_catalogue_with_its_fields() -> None:
    kinds = set(get_args(Event))
    assert set(BY_CORE) == kinds
    for cls, t in BY_CORE.items():
        assert sorted(t.fields) == sorted(cls._fields), t.name  # type: ignore[attr-defined]


def test_each_core_event_is_logged_with_the_catalogues_name_level_and_fields() -> None:
    """Fields in the catalogue's order, durations in seconds; and read back from the line,
    the same event (what `lab.logs trace` relies on)."""
    out = io.StringIO()
    log = make_logger(NODE, level="debug", stream=out)
    for cls in BY_CORE:
        log_event(log, _example(cls))
    log.flush()
    got = [r for r in lines(out) if r["event"] != "update_duplicates"]
    assert [r["event"] for r in got] == [t.name for t in BY_CORE.values()]
    for cls, r in zip(BY_CORE, got, strict=True):
        t = BY_NAME[r["event"]]
        assert r["level"] == t.level
        assert [k for k in r if k in t.fields] == list(t.fields)
        assert from_line(r) == _example(cls)
    (line,) = [r for r in got if r["event"] == "update_applied"]
    assert line["delay_s"] == 0.0042 and "delay_ms" not in line


def test_a_line_written_before_delays_were_in_seconds_still_reads() -> None:
    old = {"event": "update_applied", "origin": ORIGIN, "version": 7, "movie": "Alien"}
    old |= {"sender": ORIGIN, "hops": 1, "ttl": 5, "delay_ms": 4.2, "via": "push", "uuid": UUID}
    event = from_line(old)
    assert isinstance(event, Applied) and event.delay_s == 0.0042


def test_every_event_the_node_logs_is_in_the_catalogue() -> None:
    logged = set()
    for path in (ROOT / "node").rglob("*.py"):
        text = path.read_text()
        logged |= set(re.findall(r"\blog\.(?:debug|info|warning|error)\(\s*\"(\w+)\"", text))
    assert logged, "found no log calls: the pattern is out of date"
    assert logged <= set(BY_NAME), sorted(logged - set(BY_NAME))


class Writes(io.StringIO):
    """A stream that counts the writes it gets (each one wakes Docker's log reader)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


async def test_a_running_node_writes_its_lines_out_together() -> None:
    out = Writes()
    log = make_logger(NODE, stream=out, flush_s=0.05)
    for version in range(1, 31):
        log_event(log, applied(version=version))
    assert out.getvalue() == ""  # held

    async def written() -> str:
        return out.getvalue()

    await async_wait_until(written, 5, "the held lines written by their timer", step=0.02)
    assert out.writes == 1
    assert [r["version"] for r in lines(out)] == list(range(1, 31))


async def test_lines_other_than_per_update_ones_are_written_at_once_after_what_was_held() -> None:
    out = Writes()
    log = make_logger(NODE, stream=out, flush_s=60)
    log_event(log, applied())
    log_event(log, Deduplicated(UUID, ORIGIN, 7, "127.0.0.1:7002"))
    assert out.getvalue() == ""
    log.warning("bootstrap_failed", error="refused")
    assert [r["event"] for r in lines(out)] == ["update_applied", "bootstrap_failed"]
    log_event(log, applied(version=8))
    log.info("bootstrap_ok", via=ORIGIN, peers=3)
    log_event(log, applied(version=9))
    log.error("node_crashed", error="boom")
    log.info("node_stopping")  # (the tally of version 7's copy is written before it)
    log.info("node_stopped", version=9)
    assert [r["event"] for r in lines(out)][2:] == [
        "update_applied",
        "bootstrap_ok",
        "update_applied",
        "node_crashed",
        "update_duplicates",
        "node_stopping",
        "node_stopped",
    ]


async def test_held_lines_are_written_once_they_fill_the_buffer() -> None:
    out = Writes()
    log = make_logger(NODE, stream=out, flush_s=60)
    while out.writes == 0:
        log_event(log, applied())
    assert 60_000 < len(out.getvalue()) < 70_000  # 64 KiB, not an hour's lines


def test_without_a_running_loop_every_line_goes_straight_out() -> None:
    out = Writes()
    log = make_logger(NODE, stream=out, flush_s=60)
    log_event(log, applied())
    log.info("node_started")
    assert [r["event"] for r in lines(out)] == ["update_applied", "node_started"]
