"""The command: `python -m lab.logs` (also `gossip-logs`).

Owns the options, the two modes and the exit codes:

    python -m lab.logs [FILTERS] [-f] [SOURCE ...]          merged, filtered, followed
    python -m lab.logs trace ORIGIN [VERSION] [SOURCE ...]  how one update travelled
    python -m lab.logs trace UUID [SOURCE ...]

A SOURCE is a log file, a directory of `*.log` files (a `lab.cluster` log dir), or `-` for
standard input (the default when something is piped in); `--compose` reads the Compose lab's
node services with `docker compose logs`. Reading what was written sorts every record by
time; following (`-f`) prints what is there, then new records as they come, holding each
for `--hold` seconds so that the lines of different nodes still come out in time order.

Exit codes: 0 done; 1 nothing matched (no record passed the filters, or the update is not
in the logs); 2 a usage or input error (bad option, missing file, docker failing).
Lines that are not JSON records are skipped and counted, with a message on stderr.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TextIO

from lab.logs.filters import Filter, parse_uuid_prefix, parse_when
from lab.logs.records import LEVELS, Parser, Record
from lab.logs.render import Palette, colour_wanted, format_record
from lab.logs.sources import NODE_SERVICES, ComposeLogs, Followed, InputError, Inputs, Line
from lab.logs.stats import Volume
from lab.logs.trace import Collector, TraceError, render_trace

__all__ = ["main", "tail_main", "trace_main"]

PROG = "gossip-logs" if sys.argv[0].endswith("gossip-logs") else "python -m lab.logs"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F-]*$")


class UsageError(Exception):
    """A bad combination of options that argparse cannot see: exit 2 with the message."""


def _known_events() -> set[str]:
    try:
        from node.catalogue import BY_NAME
    except ImportError:  # pragma: no cover (the tool ships with the node)
        return set()
    return set(BY_NAME)


# --- options ---------------------------------------------------------------------------
def _add_input_options(p: argparse.ArgumentParser, json_help: str) -> argparse._ArgumentGroup:
    g = p.add_argument_group("inputs")
    g.add_argument(
        "--compose",
        action="store_true",
        help="read the Docker Compose lab of the current directory (docker compose logs)",
    )
    g.add_argument(
        "-p",
        "--project",
        metavar="NAME",
        help="the Compose project to read (implies --compose)",
    )
    g.add_argument(
        "--services",
        default=",".join(NODE_SERVICES),
        metavar="LIST",
        help="Compose services that run nodes (default: %(default)s)",
    )
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help=json_help)
    o.add_argument(
        "--color",
        "--colour",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour one node per colour (default: auto, on a terminal without NO_COLOR)",
    )
    return o


def _add_time_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "time window (ages like 30s 5m 2h, UTC times like 16:31:05, or ISO-8601)"
    )
    g.add_argument("--since", metavar="WHEN", help="only records at or after WHEN")
    g.add_argument("--until", metavar="WHEN", help="only records at or before WHEN")


def _tail_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Merge the gossip nodes' JSON logs in time order, one colour per node; "
        "filter them; follow them live. `%(prog)s trace --help` traces one update.",
        epilog="SOURCE is a log file, a directory of *.log files (a lab.cluster log dir), "
        "or - for standard input (read by default when something is piped in). "
        "Repeated filters of one kind are alternatives; different kinds must all match. "
        "--json passes the matching records on as they were written, one JSON object a line. "
        "Exit status: 0 records shown, 1 none matched, 2 usage or input error.",
    )
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="files, directories, -")
    g = p.add_argument_group("filters")
    g.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="ID",
        help="lines written by this node: host:port, a bare port, or a host",
    )
    g.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="NAME",
        help="lines of this event (shell patterns work: 'update_*')",
    )
    g.add_argument(
        "--level",
        choices=[k for k in LEVELS if k not in ("exception", "critical")],
        help="lines at this level or above",
    )
    g.add_argument(
        "--origin",
        action="append",
        default=[],
        metavar="ID",
        help="lines about this origin's news (movie_changed counts as its own)",
    )
    g.add_argument(
        "--version",
        action="append",
        default=[],
        type=int,
        metavar="N",
        help="lines about version N",
    )
    g.add_argument(
        "--uuid", action="append", default=[], metavar="UUID", help="lines about this message"
    )
    _add_time_options(p)
    f = p.add_argument_group("following")
    f.add_argument(
        "-f", "--follow", action="store_true", help="keep printing new lines as they are written"
    )
    f.add_argument(
        "-n",
        "--lines",
        type=int,
        metavar="N",
        help="only the last N matching records of what is already written (following "
        "the Compose lab: the last N lines of each container)",
    )
    f.add_argument(
        "--hold",
        type=float,
        default=0.5,
        metavar="SECONDS",
        help="with -f, how long a line waits for earlier lines of slower nodes (default 0.5)",
    )
    o = _add_input_options(p, "pass the matching lines on as the nodes wrote them (JSON lines)")
    o.add_argument("--date", action="store_true", help="show the date with each time")
    o.add_argument(
        "--stats",
        action="store_true",
        help="instead of the records: how many lines and bytes each event takes, per node "
        "per second (the log volume)",
    )
    return p


def _trace_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=f"{PROG} trace",
        description="Trace one update through the cluster: every node's first arrival, "
        "from whom, the hop count, the delay since the origin sent it, the duplicates it "
        "received and the TTL drops, then a one-line summary (nodes reached, time to the "
        "last node, messages spent).",
        epilog="The update is ORIGIN (host:port, or a bare port when that is unambiguous) "
        "and VERSION (default: the newest in the logs), or a message UUID (its first 8 "
        "characters will do). A SOURCE is a file, a directory of *.log files, or - for "
        "standard input (the default when piped). With --json: one JSON object. "
        "Exit status: 0 traced, 1 the update is not in the logs, 2 usage or input error.",
    )
    p.add_argument(
        "target", metavar="ORIGIN|UUID", help="whose update (host:port) or its message UUID"
    )
    p.add_argument(
        "rest", nargs="*", metavar="[VERSION] SOURCE", help="the version, then the logs to read"
    )
    p.add_argument("--tree", action="store_true", help="also draw who told whom")
    _add_time_options(p)
    _add_input_options(p, "the trace as one JSON object")
    return p


# --- shared plumbing -------------------------------------------------------------------
def _inputs(
    args: argparse.Namespace,
    sources: Sequence[str],
    stdin: TextIO,
    since: float | None = None,
    tail: int | None = None,
) -> Inputs:
    compose = None
    if args.compose or args.project:
        services = [s.strip() for s in args.services.split(",") if s.strip()]
        if not services:
            raise UsageError("--services: name at least one service")
        compose = ComposeLogs(args.project, services, since, tail)
    paths = list(sources)
    if not paths and compose is None:
        if stdin.isatty():
            raise UsageError(
                "nothing to read: give log files or directories, --compose for the Docker "
                "lab, or pipe lines in (see --help)"
            )
        paths = ["-"]
    try:
        return Inputs(paths, compose, stdin)
    except InputError as e:
        raise UsageError(str(e)) from None


def _window(args: argparse.Namespace) -> tuple[float | None, float | None]:
    now = time.time()
    try:
        since = parse_when(args.since, now) if args.since else None
        until = parse_when(args.until, now) if args.until else None
    except ValueError as e:
        raise UsageError(str(e)) from None
    if since is not None and until is not None and since > until:
        raise UsageError("--since is after --until")
    return since, until


def _records(parser: Parser, lines: Iterable[Line]) -> Iterator[Record]:
    for line in lines:
        r = parser.parse(line.text, line.source, line.number, line.name)
        if r is not None:
            yield r


def _warn(text: str) -> None:
    print(f"lab.logs: {text}", file=sys.stderr, flush=True)


def _report_skipped(parser: Parser) -> None:
    if parser.skipped.count:
        _warn(parser.skipped.message())


# --- the merged view -------------------------------------------------------------------
def tail_main(argv: Sequence[str], stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """The merged, filtered (and followed) view."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    p = _tail_parser()
    args = p.parse_intermixed_args(argv)
    try:
        since, until = _window(args)
        uuids = [parse_uuid_prefix(u) for u in args.uuid]
        if args.lines is not None and args.lines < 0:
            raise UsageError("--lines must be 0 or more")
        if not args.hold >= 0:
            raise UsageError("--hold must be 0 or more")
        if args.stats and (args.follow or args.lines is not None):
            raise UsageError("--stats reads what is written: not with -f or --lines")
        known = _known_events()
        for name in args.event:
            if known and not any(c in name for c in "*?[") and name not in known:
                _warn(f"no node logs an event called {name!r} (known: {', '.join(sorted(known))})")
        # Following the Compose lab, its history comes through the stream: docker cuts it.
        inputs = _inputs(args, args.sources, stdin, since, args.lines if args.follow else None)
    except (UsageError, ValueError) as e:
        p.error(str(e))
    keep = Filter(
        nodes=args.node,
        events=args.event,
        level=args.level,
        origins=args.origin,
        versions=args.version,
        uuids=uuids,
        since=since,
        until=until,
    )
    parser = Parser()
    palette = Palette(colour_wanted(args.color, out) and not args.json)
    shown = 0
    width = 14
    names = parser.names

    def show(r: Record) -> None:
        nonlocal shown, width
        shown += 1
        if args.json:
            out.write(r.raw + "\n")
        else:
            width = max(width, len(names.of(r.node)))
            out.write(format_record(r, palette, width, args.date, names) + "\n")

    if args.stats:
        return _stats(args, inputs, parser, keep, out)
    try:
        history = sorted(
            (r for r in _records(parser, inputs.read(streams=not args.follow)) if keep(r)),
            key=Record.sort_key,
        )
        if args.lines is not None:
            history = history[len(history) - args.lines :] if args.lines else []
        if history and not args.json:
            width = max(width, *(len(names.of(r.node)) for r in history))
        for r in history:
            show(r)
        out.flush()
        if args.follow:
            _follow(inputs, parser, keep, show, out, args.hold)
    except InputError as e:
        _report_skipped(parser)
        _warn(str(e))
        return 2
    except KeyboardInterrupt:
        _report_skipped(parser)
        return 0 if args.follow else 130
    _report_skipped(parser)
    if not shown:
        what = "no records matched" if parser.read - parser.skipped.count else "no log records"
        _warn(f"{what} (read {parser.read} lines from {inputs.describe()})")
        return 1
    return 0


def _stats(
    args: argparse.Namespace, inputs: Inputs, parser: Parser, keep: Filter, out: TextIO
) -> int:
    volume = Volume()
    try:
        for r in _records(parser, inputs.read()):
            if keep(r):
                volume.add(r)
    except InputError as e:
        _report_skipped(parser)
        _warn(str(e))
        return 2
    _report_skipped(parser)
    if args.json:
        out.write(json.dumps(volume.to_json()) + "\n")
    else:
        out.write("\n".join(volume.render()) + "\n")
    return 0 if volume.lines else 1


def _follow(
    inputs: Inputs,
    parser: Parser,
    keep: Filter,
    show: Callable[[Record], None],
    out: TextIO,
    hold_s: float,
) -> None:
    """Prints new records until the streams end (never, with files) or Ctrl-C; each waits
    `hold_s` in a heap ordered by time, so nodes whose lines come a little late still
    take their place."""
    lines: Followed = queue.Queue()
    stop = threading.Event()
    endings = inputs.follow(lines, stop)
    pending: list[tuple[tuple[float, int, int], float, Record]] = []
    told = 0
    try:
        while True:
            try:
                item = lines.get(timeout=min(hold_s, 0.2) if pending else 0.5)
            except queue.Empty:
                pass  # nothing new: only release what is due
            else:
                if isinstance(item, InputError):  # docker failed: stop with its message
                    raise item
                if item is None:
                    endings = None if endings is None else endings - 1
                else:
                    r = parser.parse(item.text, item.source, item.number, item.name)
                    if r is not None and keep(r):
                        heapq.heappush(pending, (r.sort_key(), time.monotonic(), r))
                    if parser.skipped.count and not told:
                        told = parser.skipped.count
                        _warn(
                            f"skipping lines that are not JSON log records (first: "
                            f"{item.name}:{item.number}); the count comes at the end"
                        )
            finished = endings == 0 and lines.empty()
            now = time.monotonic()
            while pending and (finished or now - pending[0][1] >= hold_s):
                show(heapq.heappop(pending)[2])
            out.flush()
            if finished:
                return
    finally:
        stop.set()


# --- the trace -------------------------------------------------------------------------
def trace_main(argv: Sequence[str], stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    """`trace ORIGIN [VERSION] [SOURCE ...]` or `trace UUID [SOURCE ...]`."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    p = _trace_parser()
    args = p.parse_intermixed_args(argv)
    rest = list(args.rest)
    try:
        since, until = _window(args)
        if _UUID.match(args.target):
            collector = Collector(uuid=parse_uuid_prefix(args.target))
        else:
            version = None
            if rest and (rest[0].isdigit() or rest[0] == "latest"):
                head = rest.pop(0)
                version = None if head == "latest" else int(head)
            collector = Collector(origin=args.target, version=version)
        inputs = _inputs(args, rest, stdin, since)
    except (UsageError, ValueError) as e:
        p.error(str(e))
    parser = Parser()
    window = Filter(since=since, until=until)
    try:
        collector.add_all(r for r in _records(parser, inputs.read()) if window(r))
        trace = collector.trace()
    except InputError as e:
        _report_skipped(parser)
        _warn(str(e))
        return 2
    except TraceError as e:
        _report_skipped(parser)
        if args.json:
            out.write(json.dumps({"error": str(e), "skipped_lines": parser.skipped.count}) + "\n")
        _warn(f"{e} (read {parser.read} lines from {inputs.describe()})")
        return 1
    except KeyboardInterrupt:
        return 130
    _report_skipped(parser)
    if args.json:
        doc = trace.to_json()
        doc["skipped_lines"] = parser.skipped.count
        out.write(json.dumps(doc) + "\n")
    else:
        palette = Palette(colour_wanted(args.color, out))
        out.write(
            "\n".join(render_trace(trace, palette, tree=args.tree, names=parser.names)) + "\n"
        )
    return 0


# --- entry point -----------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """`python -m lab.logs` / `gossip-logs`: dispatches to the merged view or `trace`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["trace"]:
            return trace_main(argv[1:])
        if argv[:1] == ["tail"]:
            argv = argv[1:]
        return tail_main(argv)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, without Python's complaint at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
