"""`python -m lab.logs` on recorded log lines: the merge order, the filters, the trace of an
update with duplicates, a TTL drop, a node superseded and one not reached, and what the
command says about lines that are not log records, bad options and missing files."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.logs import Collector, Filter, Parser, main
from lab.logs.filters import parse_when
from lab.logs.records import format_time, parse_time

ROOT = Path(__file__).resolve().parents[2]
A, B, C, D, E, F = (f"127.0.0.1:{7000 + k}" for k in range(6))
U100 = "11111111-2222-4333-8444-555555555555"
U101 = "99999999-2222-4333-8444-555555555555"
T0 = "2026-01-02T03:04:05"


def line(ms: float, node: str, event: str, level: str = "info", **fields: Any) -> str:
    """A line as a node writes it (fields first, then event, level, timestamp)."""
    seconds, rest = divmod(int(ms * 1000), 1_000_000)
    stamp = f"{T0[:-2]}{5 + seconds:02d}.{rest:06d}Z"
    return json.dumps({"node": node, **fields, "event": event, "level": level, "timestamp": stamp})


def arrival(
    ms: float, node: str, sender: str, hops: int, ttl: int, version: int = 100, old: bool = False
) -> str:
    """An update_applied line; `old`: as nodes wrote it before delays were in seconds."""
    uuid = U100 if version == 100 else U101
    delay_ms = ms - (0 if version == 100 else 500)
    delay = {"delay_ms": delay_ms} if old else {"delay_s": delay_ms / 1000}
    return line(
        ms,
        node,
        "update_applied",
        origin=A,
        version=version,
        movie="Alien" if version == 100 else "Heat",
        sender=sender,
        hops=hops,
        ttl=ttl,
        **delay,
        via="push",
        uuid=uuid,
    )


def tally(ms: float, node: str, dups: int, stale: int, senders: dict[str, int]) -> str:
    return line(
        ms,
        node,
        "update_duplicates",
        origin=A,
        version=100,
        uuid=U100,
        duplicates=dups,
        stale=stale,
        senders=senders,
        window_s=1.0,
    )


# One update, A v100, with a short TTL: A -> B -> C -> D (TTL spent at D), copies coming
# back; E hears of v101 first (superseded); F runs but never hears of it.
NODE_LOGS = {
    A: [
        line(0, A, "node_started", advertise=A),
        line(
            0, A, "movie_changed", version=100, counter=0, movie="Alien", previous=None, uuid=U100
        ),
        line(
            500,
            A,
            "movie_changed",
            version=101,
            counter=1,
            movie="Heat",
            previous="Alien",
            uuid=U101,
        ),
        tally(1000, A, 1, 0, {B: 1}),
    ],
    B: [
        arrival(3.5, B, A, 1, 2),
        line(4.0, B, "message_deduplicated", "debug", uuid=U100, origin=A, version=100, sender=C),
        tally(1003.5, B, 1, 0, {C: 1}),
    ],
    C: [
        "Traceback (most recent call last):",
        arrival(7.25, C, B, 2, 1),
        tally(1007.25, C, 2, 1, {B: 1, D: 2}),
    ],
    D: [
        arrival(11.0, D, C, 3, 0, old=True),
        line(11.0, D, "ttl_drop", uuid=U100, origin=A, version=100, sender=C),
        line(20.0, D, "peer_state", peer=E, old="alive", new="suspect"),
    ],
    E: [
        arrival(510, E, A, 1, 8, version=101),
        line(
            600, E, "stale_message", "debug", uuid=U100, origin=A, version=100, known=101, sender=D
        ),
    ],
    F: [
        "2026-01-02T03:04:05.000000Z [info     ] node_started   node=127.0.0.1:7005",
        line(2500, F, "request_refused", "warning", reason="bad_json", detail="x", sender=None),
    ],
}


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    for node, lines in NODE_LOGS.items():
        (tmp_path / f"node-{node.rsplit(':', 1)[1]}.log").write_text("\n".join(lines) + "\n")
    return tmp_path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def events_of(out: str) -> list[tuple[str, str]]:
    records = [json.loads(x) for x in out.splitlines()]
    return [(r["node"], r["event"]) for r in records]


# --- merging ---------------------------------------------------------------------------
def test_merges_every_file_in_time_order(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([str(logs), "--json"], capsys)
    assert code == 0
    stamps = [json.loads(x)["timestamp"] for x in out.splitlines()]
    assert stamps == sorted(stamps)
    assert len(stamps) == sum(1 for lines in NODE_LOGS.values() for x in lines if x[0] == "{")
    assert events_of(out)[:4] == [
        (A, "node_started"),
        (A, "movie_changed"),
        (B, "update_applied"),
        (B, "message_deduplicated"),
    ]
    # --json passes the lines on exactly as the nodes wrote them
    assert set(out.splitlines()) <= {x for lines in NODE_LOGS.values() for x in lines}


def test_non_json_lines_are_skipped_counted_and_explained(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run([str(logs), "--json"], capsys)
    assert code == 0
    assert "skipped 2 lines that are not JSON log records" in err
    assert "GOSSIP_LOG_FORMAT=json" in err  # one was a console-format line
    assert "node-7002.log:1: Traceback (most recent call last):" in err
    assert "Traceback (most recent call last):\n  File" not in err  # no traceback of ours


def test_equal_times_keep_the_order_of_the_inputs() -> None:
    p = Parser()
    same = [line(0, A, "x"), line(0, B, "y")]
    records = [p.parse(text, source, 1, "s") for source, text in enumerate(same)]
    assert sorted(r.sort_key() for r in records if r) == [r.sort_key() for r in records if r]


def test_reads_prefixed_and_coloured_lines_from_the_usual_tools() -> None:
    p = Parser()
    for text in (
        "peer-2  | " + line(0, B, "x"),
        "\x1b[32m7001 | \x1b[0m" + line(0, B, "x"),
        "gossiptest-1a2b-bootstrap-1  | " + line(0, B, "x"),
    ):
        r = p.parse(text, 0, 1, "s")
        assert r is not None and r.node == B, text
    assert p.skipped.count == 0


def test_plain_output_is_one_readable_line_per_record_without_colour(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run([str(logs), "--event", "update_applied", "--node", "7001"], capsys)
    assert code == 0
    assert "\x1b[" not in out  # not a terminal: no colour codes
    (text,) = out.splitlines()
    assert text.startswith(f"03:04:05.003  {B}")
    assert "update_applied" in text and "movie=Alien" in text and f"sender={A}" in text


def test_colour_always_gives_each_node_its_own(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run([str(logs), "--color", "always", "--event", "update_applied"], capsys)
    colours = {text.split("m", 1)[0] for text in out.splitlines()}
    assert len(colours) == 4  # B, C, D, E


def test_reads_standard_input(
    logs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    merged = "".join(p.read_text() for p in sorted(logs.glob("*.log"), reverse=True))
    monkeypatch.setattr(sys, "stdin", io.StringIO(merged))
    code, out, _ = run(["--json", "--event", "update_applied"], capsys)
    assert code == 0
    assert [n for n, _ in events_of(out)] == [B, C, D, E]


# --- filters ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--node", "7003"], [(D, "update_applied"), (D, "ttl_drop"), (D, "peer_state")]),
        (
            ["--node", D, "--node", "7005"],
            [(D, "update_applied"), (D, "ttl_drop"), (D, "peer_state"), (F, "request_refused")],
        ),
        (["--event", "ttl_drop"], [(D, "ttl_drop")]),
        (
            ["--event", "update_*", "--node", "7001"],
            [(B, "update_applied"), (B, "update_duplicates")],
        ),
        (["--level", "warning"], [(F, "request_refused")]),
        (["--level", "debug", "--node", "7004"], [(E, "update_applied"), (E, "stale_message")]),
        (["--version", "101"], [(A, "movie_changed"), (E, "update_applied")]),
        (["--origin", A, "--event", "movie_changed"], [(A, "movie_changed"), (A, "movie_changed")]),
        (
            ["--origin", "127.0.0.1", "--node", "7002"],
            [(C, "update_applied"), (C, "update_duplicates")],
        ),
        (["--uuid", U101[:8]], [(A, "movie_changed"), (E, "update_applied")]),
        (
            ["--since", f"{T0}.9Z", "--until", "2026-01-02T03:04:06.5"],
            [(A, "update_duplicates"), (B, "update_duplicates"), (C, "update_duplicates")],
        ),
        (["--node", "7003", "--lines", "1"], [(D, "peer_state")]),
    ],
)
def test_filters(
    logs: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[Any]
) -> None:
    code, out, _ = run([str(logs), "--json", *argv], capsys)
    assert code == 0
    assert events_of(out) == expected


def test_nothing_matched_exits_1_and_says_so(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([str(logs), "--node", "7999"], capsys)
    assert (code, out) == (1, "")
    assert "no records matched" in err


def test_a_misspelt_event_is_pointed_out(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run([str(logs), "--event", "update_aplied"], capsys)
    assert code == 1
    assert "no node logs an event called 'update_aplied'" in err


def test_time_bounds() -> None:
    now = parse_time("2026-01-02T03:04:05Z")
    assert now is not None
    assert parse_when("90s", now) == now - 90
    assert parse_when("2h", now) == now - 7200
    assert parse_when("03:00", now) == now - 245
    assert parse_when("01:02:03.5", now) == parse_time("2026-01-02T01:02:03.5Z")
    assert parse_when("2026-01-01T00:00:00+01:00", now) == parse_time("2025-12-31T23:00:00Z")
    for bad in ("yesterday", "25:00", "5 m"):
        with pytest.raises(ValueError):
            parse_when(bad, now)


def test_filter_semantics_for_missing_fields() -> None:
    p = Parser()
    peer = p.parse(line(0, A, "peer_state", peer=B), 0, 1, "s")
    assert peer is not None
    assert not Filter(origins=[A])(peer)  # no origin: no match
    assert not Filter(versions=[1])(peer)
    assert Filter(nodes=["7000"])(peer) and not Filter(nodes=["17000"])(peer)


# --- the trace -------------------------------------------------------------------------
def test_trace_of_an_update_with_duplicates_and_a_ttl_drop(logs: Path) -> None:
    c = Collector(origin=A, version=100)
    p = Parser()
    for k, path in enumerate(sorted(logs.glob("*.log"))):
        for n, text in enumerate(path.read_text().splitlines(), 1):
            r = p.parse(text, k, n, path.name)
            if r:
                c.add(r)
    t = c.trace()
    rows = {n.node: n for n in t.nodes}
    assert [n.node for n in t.nodes] == [A, B, C, D, E, F]
    assert [rows[x].status for x in (A, B, C, D)] == ["origin", "reached", "reached", "reached"]
    assert (rows[E].status, rows[E].superseded_by) == ("superseded", 101)
    assert rows[F].status == "not reached"
    assert [(rows[x].sender, rows[x].hops) for x in (B, C, D)] == [(A, 1), (B, 2), (C, 3)]
    assert [rows[x].delay_s for x in (B, C, D)] == [0.0035, 0.00725, 0.011]
    # the tally counts for the node, replacing its per-message debug lines (B) ...
    assert [(rows[x].duplicates, rows[x].stale) for x in (A, B, C, D)] == [
        (1, 0),
        (1, 0),
        (2, 1),
        (0, 0),
    ]
    assert rows[C].copy_senders == {B: 1, D: 2}
    # ... and without a tally, the debug lines count (E: a stale copy)
    assert (rows[E].duplicates, rows[E].stale) == (0, 1)
    assert [x for x in rows if rows[x].ttl_drop] == [D]
    s = t.summary()
    assert s["nodes_reached"] == 4 and s["nodes_expected"] == 6
    assert (s["time_to_last_s"], s["last_node"], s["max_hops"]) == (0.011, D, 3)
    assert (s["first_arrivals"], s["duplicates"], s["stale"]) == (3, 4, 2)
    assert s["messages"] == 9 and s["ttl_drops"] == 1
    assert t.movie == "Alien" and t.uuid == U100


def test_without_the_origins_line_the_send_is_worked_back_from_the_delays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The origin's log is missing: the arrivals' delays (in seconds, or in milliseconds in
    logs written before) say when it sent the update."""
    log = tmp_path / "two.log"
    log.write_text(arrival(3.5, B, A, 1, 2) + "\n" + arrival(7.25, C, B, 2, 1, old=True) + "\n")
    code, out, _ = run(["trace", A, "100", str(log), "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["sent_at"] == "2026-01-02T03:04:05Z"
    rows = {n["node"]: n for n in doc["nodes"]}
    assert rows[A]["status"] == "origin" and rows[A]["arrived_at"] == doc["sent_at"]
    assert [(rows[x]["status"], rows[x]["delay_s"]) for x in (B, C)] == [
        ("reached", 0.0035),
        ("reached", 0.00725),
    ]


def test_trace_command_prints_every_node_and_the_summary_last(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(p) for p in sorted(logs.glob("*.log"))]
    code, out, err = run(["trace", A, "100", *files, "--tree"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f'update {A} v100 "Alien" (uuid {U100})'
    assert lines[1] == f"sent 2026-01-02 {format_time(0 + 1767323045)} UTC by {A}"
    for port in range(7000, 7006):
        assert str(port) in out
    assert "superseded: v101 came first" in out and "not reached" in out
    assert f"└─ {B}  hop 1  3.5 ms  push" in out
    assert lines[-1] == (
        "reached 4/6 nodes in 11.0 ms (last: 127.0.0.1:7003, 3 hops deep); 9 messages spent:"
        " 3 first arrivals (3 push), 4 duplicates, 2 stale; 1 TTL drop"
    )
    assert "skipped 2 lines" in err


def test_trace_as_json(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["trace", "7000", "100", "--json", str(logs)], capsys)  # options anywhere
    assert code == 0
    doc = json.loads(out)
    assert (doc["origin"], doc["version"], doc["skipped_lines"]) == (A, 100, 2)
    d = next(n for n in doc["nodes"] if n["node"] == D)
    assert (d["sender"], d["hops"], d["ttl"], d["ttl_drop"]) == (C, 3, 0, True)
    assert d["arrived_at"] == "2026-01-02T03:04:05.011000Z"
    assert doc["summary"]["messages"] == 9
    assert doc["summary"]["settled"] is True  # the logs go on 2 s after the last arrival


def test_trace_by_uuid_prefix_and_the_newest_version_by_default(
    logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, by_uuid, _ = run(["trace", U100[:13], str(logs), "--json"], capsys)
    assert json.loads(by_uuid)["version"] == 100
    _, newest, _ = run(["trace", A, str(logs), "--json"], capsys)
    doc = json.loads(newest)
    assert doc["version"] == 101
    assert [n["node"] for n in doc["nodes"] if n["status"] == "reached"] == [E]


def test_trace_of_an_update_not_in_the_logs(logs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["trace", A, "99", str(logs)], capsys)
    assert (code, out) == (1, "")
    assert f"no line about {A} version 99" in err and "the newest: 100, 101" in err
    code, out, err = run(["trace", "7999", str(logs), "--json"], capsys)
    assert code == 1 and "no news from 7999" in json.loads(out)["error"]


def test_trace_says_when_the_logs_count_no_duplicates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "old.log"
    log.write_text("\n".join([NODE_LOGS[A][1], NODE_LOGS[B][0]]) + "\n")
    code, out, _ = run(["trace", A, "100", str(log)], capsys)
    assert code == 0
    assert "these logs count no duplicates" in out
    # and that they end too soon after the update for its trace to be complete
    assert "note: the logs end 0.0 s after the last arrival" in out
    _, doc, _ = run(["trace", A, "100", str(log), "--json"], capsys)
    assert json.loads(doc)["summary"]["settled"] is False
    assert out.splitlines()[-1].startswith("reached 2/2 nodes in 3.5 ms")


def test_an_ambiguous_port_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "docker.log"
    log.write_text(
        "\n".join(
            line(0, node, "movie_changed", version=1, movie="Up", uuid=U100)
            for node in ("172.18.0.2:7000", "172.18.0.3:7000")
        )
    )
    code, _, err = run(["trace", "7000", str(log)], capsys)
    assert code == 1 and "7000 names 2 origins" in err


# --- the command -----------------------------------------------------------------------
def command(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.logs", *argv],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_and_usage_errors() -> None:
    for argv in (["--help"], ["trace", "--help"]):
        r = command(*argv)
        assert r.returncode == 0 and "usage:" in r.stdout
    assert "--follow" in command("--help").stdout
    for argv, message in (
        (["no-such.log"], "no-such.log: no such file or directory"),
        (["--since", "yesterday", "-"], "cannot read 'yesterday' as a time"),
        (["--uuid", "xyz", "-"], "'xyz' is not a UUID"),
        (["--level", "loud", "-"], "invalid choice: 'loud'"),
        (["trace", "127.0.0.1:7000", "1", "missing.log"], "missing.log: no such file"),
    ):
        r = command(*argv, stdin="")
        assert r.returncode == 2, (argv, r.stderr)
        assert message in r.stderr, (argv, r.stderr)
        assert "Traceback" not in r.stderr


def test_follow_prints_what_is_appended(tmp_path: Path) -> None:
    log = tmp_path / "node-7000.log"
    log.write_text(NODE_LOGS[A][0] + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.logs", "-f", "--json", "--hold", "0.1", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline())["event"] == "node_started"
        with log.open("a") as f:
            f.write(NODE_LOGS[A][1] + "\n")
        (tmp_path / "node-7001.log").write_text(NODE_LOGS[B][0] + "\n")  # a node joins
        got = {json.loads(proc.stdout.readline())["event"] for _ in range(2)}
        assert got == {"movie_changed", "update_applied"}
    finally:
        proc.terminate()
        proc.wait(10)


def test_follow_ends_with_its_streams(logs: Path) -> None:
    merged = "".join(p.read_text() for p in sorted(logs.glob("*.log"), reverse=True))
    r = command("-f", "--json", "--hold", "0.05", "--event", "update_applied", stdin=merged)
    assert r.returncode == 0, r.stderr
    nodes = [json.loads(x)["node"] for x in r.stdout.splitlines()]
    assert nodes == [B, C, D, E]  # piped in newest-node-first, still out in time order


# --- the Compose lab, with a stand-in for docker -----------------------------------------
def fake_docker(tmp_path: Path, script: str) -> dict[str, str]:
    """An environment whose `docker` is this shell script (it sees the arguments in "$@")."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text("#!/bin/sh\n" + script)
    docker.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_compose_logs_are_read_with_docker_compose(tmp_path: Path, logs: Path) -> None:
    args_file = tmp_path / "args"
    merged = tmp_path / "merged"
    merged.write_text("".join(p.read_text() for p in sorted(logs.glob("*.log"))))
    env = fake_docker(tmp_path, f'echo "$@" > {args_file}\ncat {merged}\n')
    r = subprocess.run(
        [sys.executable, "-m", "lab.logs", "trace", A, "100", "-p", "lab1", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["summary"]["nodes_reached"] == 4
    assert args_file.read_text().split() == [
        "compose",
        *("-p", "lab1", "logs", "--no-log-prefix", "--no-color", "bootstrap", "peer"),
    ]
    options = ["--since", "2026-01-02T03:04:05Z", "--lines", "5", "--services", "peer"]
    follow = subprocess.run(
        [sys.executable, "-m", "lab.logs", "-f", "--compose", *options, "--json", "--hold", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert follow.returncode == 0, follow.stderr  # docker ended: so does following it
    assert args_file.read_text().split() == [
        "compose",
        *("logs", "--no-log-prefix", "--no-color", "--since", "2026-01-02T03:04:05.000000Z"),
        *("--tail", "5", "-f", "peer"),
    ]
    assert len(follow.stdout.splitlines()) == sum(
        x[0] == "{" for v in NODE_LOGS.values() for x in v
    )


def test_a_failing_docker_is_reported_without_a_traceback(tmp_path: Path) -> None:
    env = fake_docker(tmp_path, 'echo "no configuration file provided: not found" >&2\nexit 1\n')
    for follow in ([], ["-f"]):
        r = subprocess.run(
            [sys.executable, "-m", "lab.logs", "--compose", *follow],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert r.returncode == 2, (follow, r.stderr)
        assert "failed: no configuration file provided: not found" in r.stderr
        assert "Traceback" not in r.stderr


# --- names -----------------------------------------------------------------------------
def named(lines: list[str], names: dict[str, str]) -> list[str]:
    """The lines as nodes with display names write them: `name` next to `node`."""
    out = []
    for text in lines:
        if text.startswith("{"):
            record = json.loads(text)
            record = {"node": record["node"], "name": names[record["node"]], **record}
            text = json.dumps(record)
        out.append(text)
    return out


NAMES = {A: "lab-bootstrap-1", B: "lab-peer-1", C: "lab-peer-2", D: "lab-peer-3"}


@pytest.fixture
def named_logs(tmp_path: Path) -> Path:
    for node in (A, B, C, D):
        text = "\n".join(named(NODE_LOGS[node], NAMES)) + "\n"
        (tmp_path / f"node-{node.rsplit(':', 1)[1]}.log").write_text(text)
    return tmp_path


def test_the_merged_view_shows_names_where_the_logs_carry_them(
    named_logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(str(p) for p in named_logs.glob("*.log"))
    code, out, err = run(["--color", "never", "--event", "update_applied", *files], capsys)
    assert code == 0, err
    rows = [x.split() for x in out.splitlines()]
    assert [r[1] for r in rows] == ["lab-peer-1", "lab-peer-2", "lab-peer-3"]
    # ids in fields read as names too; `name` itself is not repeated among the fields
    assert "origin=lab-bootstrap-1" in out and "sender=lab-peer-2" in out
    assert "name=" not in out and A not in out
    # a node whose logs are not read (E) stays an id
    code, out, _ = run(["--color", "never", "--event", "peer_state", *files], capsys)
    assert f"peer={E}" in out
    # --node takes a name as well as an id; --json keeps the lines as written
    code, out, _ = run(["--node", "lab-peer-2", "--json", *files], capsys)
    assert {r["name"] for r in map(json.loads, out.splitlines())} == {"lab-peer-2"}


def test_the_trace_shows_names_and_the_origins_address(
    named_logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(str(p) for p in named_logs.glob("*.log"))
    code, out, err = run(["trace", A, "100", *files, "--tree", "--color", "never"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f'update lab-bootstrap-1 v100 "Alien" (uuid {U100})'
    assert lines[1].endswith(f"UTC by lab-bootstrap-1 ({A})")
    assert "└─ lab-peer-1  hop 1  3.5 ms  push" in out
    rows = {x.split()[0]: x.split() for x in lines[3:8] if x.strip()}
    assert rows["lab-peer-2"][2] == "lab-peer-1"  # told by
    assert "(last: lab-peer-3, 3 hops deep)" in lines[-1]


def test_an_update_can_be_traced_by_its_origins_name(
    named_logs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = sorted(str(p) for p in named_logs.glob("*.log"))
    code, out, err = run(["trace", "lab-bootstrap-1", "100", *files, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["origin"] == A
    code, _, err = run(["trace", "lab-peer-9", *files], capsys)
    assert code == 1 and "no news from lab-peer-9" in err
