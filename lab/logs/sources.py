"""Where log lines come from: files, directories of them, standard input, the Compose lab.

Owns reading, in two modes: `read` gives what is there now and ends; `follow` keeps
delivering what is written afterwards, from threads, into a queue, until stopped. Files
are followed from where `read` stopped (`tail -f`, surviving truncation and rotation); a
directory is every `*.log` in it (a `lab.cluster` log dir: `node-PORT.log`), also the ones
created later. Standard input and `docker compose logs` are streams: in follow mode they are
only followed (whatever they print first, history included, arrives through the queue).

The Compose lab is read with `docker compose [-p PROJECT] logs --no-log-prefix --no-color`
over its node services, so only node lines come in, whatever the project is called.
Nothing here parses a line; a line is (input id, input name, line number, text).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, NamedTuple

__all__ = ["Line", "InputError", "Followed", "Inputs", "ComposeLogs", "NODE_SERVICES"]

#: The Compose services that run gossip nodes (docker-compose.yml).
NODE_SERVICES = ("bootstrap", "peer")
#: Seconds between looks at a followed file (and for new files in a directory).
POLL_S = 0.2


class Line(NamedTuple):
    source: int
    name: str
    number: int
    text: str


class InputError(Exception):
    """An input that cannot be read (no such file, docker failed): the message says which."""


#: What followed inputs deliver: lines, None when a stream ends, the error that ended one.
Followed = queue.Queue[Line | InputError | None]


@dataclass(frozen=True)
class ComposeLogs:
    """`docker compose logs` of a lab: its project name (None: the one in the current
    directory), the services to read, and what docker may leave out: lines before `since`
    (seconds since the epoch), all but the last `tail` lines of each container."""

    project: str | None = None
    services: Sequence[str] = NODE_SERVICES
    since: float | None = None
    tail: int | None = None

    def command(self, follow: bool) -> list[str]:
        cmd = ["docker", "compose"]
        if self.project:
            cmd += ["-p", self.project]
        cmd += ["logs", "--no-log-prefix", "--no-color"]
        if self.since is not None:
            stamp = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            cmd += ["--since", stamp]
        if self.tail is not None:
            cmd += ["--tail", str(self.tail)]
        if follow:
            cmd.append("-f")
        return [*cmd, *self.services]

    @property
    def name(self) -> str:
        return f"compose:{self.project}" if self.project else "compose"


class _File:
    """One file and how far it has been read (in bytes, always at a line's end)."""

    def __init__(self, path: Path, source: int) -> None:
        self.path = path
        self.source = source
        self.offset = 0
        self.lines = 0
        self.inode: int | None = None

    def read_new(self) -> Iterator[Line]:
        """The complete lines written since the last call (from the start after the file
        was truncated or replaced)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if self.inode is not None and (st.st_ino != self.inode or st.st_size < self.offset):
            self.offset = self.lines = 0  # rotated or truncated: start over
        self.inode = st.st_ino
        if st.st_size == self.offset:
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            for raw in f:
                if not raw.endswith(b"\n"):
                    break  # a line still being written: next time
                self.offset += len(raw)
                self.lines += 1
                yield Line(self.source, str(self.path), self.lines, raw.decode("utf-8", "replace"))

    def read_rest(self) -> Iterator[Line]:
        """Everything not read yet, a last unterminated line included (reading to the end)."""
        yield from self.read_new()
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                tail = f.read()
        except FileNotFoundError:
            return
        if tail:
            self.offset += len(tail)
            self.lines += 1
            yield Line(self.source, str(self.path), self.lines, tail.decode("utf-8", "replace"))


class Inputs:
    """The inputs of one run, in the order given. `paths` are files, directories, or "-"
    for standard input."""

    def __init__(
        self,
        paths: Sequence[str],
        compose: ComposeLogs | None = None,
        stdin: IO[str] | None = None,
    ) -> None:
        self.paths = list(paths)
        self.compose = compose
        self.stdin = stdin if stdin is not None else sys.stdin
        self._files: list[_File] = []
        self._dirs: list[Path] = []
        self._stdin_source: int | None = None
        self._next = 0
        self.names: dict[int, str] = {}
        for p in self.paths:
            if p == "-":
                if self._stdin_source is None:
                    self._stdin_source = self._new_source("<stdin>")
                continue
            path = Path(p)
            if path.is_dir():
                self._dirs.append(path)
                for f in sorted(path.glob("*.log")):
                    self._add_file(f)
            elif path.is_file():
                self._add_file(path)
            elif path.exists():
                raise InputError(f"{p}: not a regular file or a directory")
            else:
                raise InputError(f"{p}: no such file or directory")
        self._compose_source = self._new_source(compose.name) if compose else None

    def _new_source(self, name: str) -> int:
        source, self._next = self._next, self._next + 1
        self.names[source] = name
        return source

    def _add_file(self, path: Path) -> _File:
        f = _File(path, self._new_source(str(path)))
        self._files.append(f)
        return f

    def describe(self) -> str:
        """The inputs in words, for messages ("3 files", "standard input", ...)."""
        parts = []
        if self._files:
            parts.append(f"{len(self._files)} file{'s' * (len(self._files) != 1)}")
        if self._stdin_source is not None:
            parts.append("standard input")
        if self.compose:
            parts.append(f"`{' '.join(self.compose.command(False))}`")
        return ", ".join(parts) or "no input"

    # --- what is there now ------------------------------------------------------------
    def read(self, streams: bool = True) -> Iterator[Line]:
        """Every line there is now, input by input. With `streams` False, standard input and
        the Compose lab are left for `follow`."""
        for d in self._dirs:
            if not any(f.path.parent == d for f in self._files) and streams:
                raise InputError(f"{d}: no *.log files in this directory")
        for f in self._files:
            try:
                yield from (f.read_rest() if streams else f.read_new())
            except OSError as e:
                raise InputError(f"{f.path}: {e.strerror or e}") from None
        if not streams:
            return
        if self._stdin_source is not None:
            for n, text in enumerate(self.stdin, 1):
                yield Line(self._stdin_source, "<stdin>", n, text)
        if self.compose is not None:
            assert self._compose_source is not None
            yield from self._run_compose(False, None)

    # --- what is written next --------------------------------------------------------
    def follow(self, out: Followed, stop: threading.Event) -> int | None:
        """Starts daemon threads that put each new line into `out`, and None when a stream
        ends (after the InputError that ended it, if one did). Returns how many streams
        will end, or None when files are followed (they never end): with only streams, the
        caller knows when everything has been read."""
        endings = 0
        if self._stdin_source is not None:
            threading.Thread(target=self._follow_stdin, args=(out,), daemon=True).start()
            endings += 1
        if self.compose is not None:
            threading.Thread(target=self._follow_compose, args=(out, stop), daemon=True).start()
            endings += 1
        if self._files or self._dirs:
            threading.Thread(target=self._follow_files, args=(out, stop), daemon=True).start()
            return None
        return endings

    def _follow_files(self, out: Followed, stop: threading.Event) -> None:
        known = {f.path for f in self._files}
        last_scan = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if self._dirs and now - last_scan >= 1.0:
                last_scan = now
                for d in self._dirs:
                    for path in sorted(d.glob("*.log")):
                        if path not in known:
                            known.add(path)
                            self._add_file(path)
            for f in list(self._files):
                try:
                    for line in f.read_new():
                        out.put(line)
                except OSError:
                    pass  # gone for a moment (rotation): looked at again next time
            stop.wait(POLL_S)

    def _follow_stdin(self, out: Followed) -> None:
        assert self._stdin_source is not None
        for n, text in enumerate(iter(self.stdin.readline, ""), 1):
            out.put(Line(self._stdin_source, "<stdin>", n, text))
        out.put(None)

    def _follow_compose(self, out: Followed, stop: threading.Event) -> None:
        try:
            for line in self._run_compose(True, stop):
                out.put(line)
        except InputError as e:
            out.put(e)
        out.put(None)

    def _run_compose(self, follow: bool, stop: threading.Event | None) -> Iterator[Line]:
        assert self.compose is not None and self._compose_source is not None
        cmd = self.compose.command(follow)
        try:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
        except FileNotFoundError:
            raise InputError("cannot read the Compose lab: no `docker` command") from None
        if stop is not None:
            threading.Thread(target=_kill_when, args=(proc, stop), daemon=True).start()
        assert proc.stdout is not None and proc.stderr is not None
        name = self.compose.name
        for n, text in enumerate(proc.stdout, 1):
            yield Line(self._compose_source, name, n, text)
        err = proc.stderr.read()
        rc = proc.wait()
        if rc and not (stop is not None and stop.is_set()):
            detail = err.strip().splitlines()[-1] if err.strip() else f"exit status {rc}"
            raise InputError(f"`{' '.join(cmd)}` failed: {detail}")


def _kill_when(proc: subprocess.Popen[str], stop: threading.Event) -> None:
    while proc.poll() is None:
        if stop.wait(0.5):
            proc.terminate()
            return
