"""A local cluster of real node processes on loopback, started the way the original app is.

Owns process management only: node k runs `python -m node -p BASE+k -b BASE` (node 0 is the
bootstrap node), with its output in a log file or interleaved on the terminal. Used by the
tests, the benchmarks, the chaos scenarios, and by users:

    python -m lab.cluster --nodes 4            # bootstrap on 7000, peers on 7001..7003

prints each node's URL, interleaves their logs (one colour per node on a terminal) and stops
them all cleanly on Ctrl-C (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from lab.cli import command
from node.core import views_converged

__all__ = ["LocalCluster", "get_json", "main"]

#: Seconds a node gets to stop after SIGTERM before it is killed.
STOP_GRACE_S = 5.0
#: Nodes starting at once at most (importing the node costs ~0.4 s of CPU): the next one
#: starts when an earlier one listens. 60 nodes started 0.1 s apart regardless overloaded
#: this 2-core machine for minutes (requests timing out, peers marked dead, more requests);
#: started 0.5 s apart they settled (docs/benchmarks.md, "The lab at scale").
STARTING_AT_ONCE = os.cpu_count() or 2


def get_json(url: str, timeout: float = 2.0) -> Any:
    """GET url and decode JSON; raises OSError or ValueError."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies, so a
    killed test run or benchmark leaves no orphaned nodes holding their ports (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalCluster:
    """n node processes on 127.0.0.1, ports base_port .. base_port + n - 1."""

    def __init__(
        self,
        n: int,
        *,
        base_port: int = 7000,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        python: str = sys.executable,
        cwd: Path | None = None,
    ) -> None:
        if n < 1:
            raise ValueError("a cluster needs at least one node")
        self.ports = [base_port + k for k in range(n)]
        self.base_port = base_port
        self.env = {**os.environ, "GOSSIP_LOG_FORMAT": "json", **(env or {})}
        self.log_dir = log_dir
        self.python = python
        self.cwd = cwd
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: dict[int, IO[bytes]] = {}
        #: nodes seen listening since they were last started (see `pace`)
        self._listening: set[int] = set()

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def log_path(self, port: int) -> Path | None:
        return self.log_dir / f"node-{port}.log" if self.log_dir else None

    # --- processes ---------------------------------------------------------------------
    def start(
        self,
        port: int,
        extra_env: Mapping[str, str] | None = None,
        stdout: int | IO[bytes] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Starts (or restarts) the node on `port`; its output goes to `stdout` if given,
        else to its log file (appended), else is discarded."""
        self.stop(port)
        self._listening.discard(port)
        if stdout is None:
            path = self.log_path(port)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._logs[port] = stdout = open(path, "ab")  # noqa: SIM115 (closed in stop)
            else:
                stdout = subprocess.DEVNULL
        cmd = [self.python, "-m", "node", "-p", str(port), "-b", str(self.base_port)]
        proc = subprocess.Popen(
            cmd,
            env={**self.env, **(extra_env or {})},
            cwd=self.cwd,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.procs[port] = proc
        return proc

    def start_all(self, stdout: int | None = None, stagger_s: float = 0.1) -> None:
        """Starts every node, `stagger_s` apart and at most STARTING_AT_ONCE still starting."""
        for k, port in enumerate(self.ports):
            self.start(port, stdout=stdout)
            self.pace(self.ports[: k + 1])
            time.sleep(stagger_s)

    def pace(self, started: Sequence[int], timeout_s: float = 30.0) -> None:
        """Waits until fewer than STARTING_AT_ONCE of the `started` nodes are still
        starting (alive and not listening yet), or `timeout_s` has passed."""
        end = time.monotonic() + timeout_s
        while True:
            starting = [p for p in started if p not in self._listening and self.alive(p)]
            self._listening.update(p for p in starting if _listens(p))
            if sum(p not in self._listening for p in starting) < STARTING_AT_ONCE:
                return
            if time.monotonic() >= end:
                return
            time.sleep(0.05)

    def kill(self, port: int) -> None:
        """SIGKILL: the node dies at once, as in a crash."""
        self._end(port, signal.SIGKILL)

    def stop(self, port: int) -> None:
        """SIGTERM and a graceful stop (SIGKILL after STOP_GRACE_S)."""
        self._end(port, signal.SIGTERM)

    def pause(self, port: int) -> None:
        """SIGSTOP: the node freezes, its state kept, until `resume` (a long GC pause, a
        frozen VM); requests to it wait in its socket and time out at their senders."""
        self._signal(port, signal.SIGSTOP)

    def resume(self, port: int) -> None:
        """SIGCONT: a paused node goes on where it stopped."""
        self._signal(port, signal.SIGCONT)

    def _signal(self, port: int, sig: signal.Signals) -> None:
        proc = self.procs.get(port)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)

    def _end(self, port: int, sig: signal.Signals) -> None:
        proc = self.procs.pop(port, None)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, sig)
                os.killpg(proc.pid, signal.SIGCONT)  # (a paused node handles its SIGTERM)
                proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_GRACE_S)
            except ProcessLookupError:
                pass
        log = self._logs.pop(port, None)
        if log is not None:
            log.close()

    def stop_all(self) -> None:
        for port in list(self.procs):
            self.stop(port)

    def alive(self, port: int) -> bool:
        proc = self.procs.get(port)
        return proc is not None and proc.poll() is None

    # --- observing ---------------------------------------------------------------------
    def state(self, port: int) -> Any:
        return get_json(f"{self.url(port)}/state")

    def wait_ready(self, timeout_s: float = 30.0, ports: Sequence[int] | None = None) -> None:
        """Waits until every node answers /healthz with 200; raises TimeoutError naming the rest."""
        pending = set(ports or self.ports)
        end = time.monotonic() + timeout_s
        while pending and time.monotonic() < end:
            for port in sorted(pending):
                try:
                    with urllib.request.urlopen(f"{self.url(port)}/healthz", timeout=1):
                        pending.discard(port)
                except (OSError, ValueError):
                    pass
            if pending:
                time.sleep(0.1)
        if pending:
            raise TimeoutError(f"nodes not ready after {timeout_s} s: {sorted(pending)}")

    def views(self, ports: Sequence[int] | None = None) -> dict[int, dict[str, int]]:
        """port -> {origin: version} from each reachable node's /state."""
        out = {}
        for port in ports or self.ports:
            try:
                origins = self.state(port)["origins"]
            except (OSError, ValueError, KeyError):
                continue
            out[port] = {o: e["version"] for o, e in origins.items()}
        return out

    def converged(self, ports: Sequence[int] | None = None) -> bool:
        """Every node (of `ports`) answers and holds every one's own current version
        (`node.core.views_converged`)."""
        ports = list(ports or self.ports)
        views = self.views(ports)
        return views_converged({f"127.0.0.1:{p}": views.get(p) for p in ports})

    def wait_converged(
        self, timeout_s: float, ports: Sequence[int] | None = None, poll_s: float = 0.1
    ) -> float:
        """Seconds until converged; raises TimeoutError after timeout_s."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s:
            if self.converged(ports):
                return time.monotonic() - start
            time.sleep(poll_s)
        raise TimeoutError(f"not converged within {timeout_s} s: {self.views(ports)}")

    def __enter__(self) -> LocalCluster:
        try:
            self.start_all()
        except BaseException:
            self.stop_all()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_all()


# --- the command -----------------------------------------------------------------------
_COLOURS = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96]


def _listens(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _pump(port: int, stream: IO[bytes], colour: int | None, lock: threading.Lock) -> None:
    prefix = f"{port} | "
    if colour is not None:
        prefix = f"\x1b[{colour}m{prefix}\x1b[0m"
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\n")
        with lock:
            sys.stdout.write(prefix + line + "\n")
            sys.stdout.flush()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = command(
        "lab.cluster",
        "Start N gossip nodes on loopback (node 0 is the bootstrap node), "
        "interleave their logs, stop them all on Ctrl-C.",
    )
    parser.add_argument("--nodes", "-n", type=int, default=4, metavar="N", help="how many nodes")
    parser.add_argument(
        "--base-port",
        type=int,
        default=7000,
        metavar="PORT",
        help="port of the bootstrap node; the others follow",
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "console"],
        default="console",
        help="node log format",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="an extra GOSSIP_* setting for every node (repeatable)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the node URLs as one JSON line instead of text"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 500:
        parser.error("--nodes must be between 1 and 500")
    env = {"GOSSIP_LOG_FORMAT": args.log_format}
    for item in args.env:
        var, sep, value = item.partition("=")
        if not sep or not var.startswith("GOSSIP_"):
            parser.error(f"--env takes GOSSIP_VAR=VALUE, got {item!r}")
        env[var] = value
    # Ctrl-C and `kill` stop the nodes, however this process was started: a background job
    # of a script (`python -m lab.cluster &`) starts with SIGINT ignored, and would otherwise
    # ignore a Ctrl-C (and pass the ignoring on to its nodes) and keep them all running.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    cluster = LocalCluster(args.nodes, base_port=args.base_port, env=env)
    if args.json:
        print(json.dumps({"nodes": cluster.urls}), flush=True)
    else:
        for port, url in zip(cluster.ports, cluster.urls, strict=True):
            role = "bootstrap" if port == args.base_port else "peer"
            print(f"node {port} ({role}): {url}/", flush=True)
        print("Ctrl-C stops them all.", flush=True)
    lock = threading.Lock()
    tty = sys.stdout.isatty()
    threads = []
    try:
        for k, port in enumerate(cluster.ports):
            proc = cluster.start(port, stdout=subprocess.PIPE)
            assert proc.stdout is not None
            colour = _COLOURS[k % len(_COLOURS)] if tty else None
            t = threading.Thread(target=_pump, args=(port, proc.stdout, colour, lock), daemon=True)
            t.start()
            threads.append(t)
            cluster.pace(cluster.ports[: k + 1])
            time.sleep(0.1)
        while any(cluster.alive(p) for p in cluster.ports):
            time.sleep(0.5)
        print("every node has exited", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop
        cluster.stop_all()
        for t in threads:
            t.join(timeout=1)


if __name__ == "__main__":
    sys.exit(main())
