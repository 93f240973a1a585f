"""Shared by the page's browser tests: which Chromium to drive and how to launch it, where
the screenshots go, the ports, and small helpers to drive the nodes directly.

The browser is, in order: GOSSIP_CHROMIUM (a path) when set; Playwright's own Chromium when
`playwright install chromium` has put one in place; a `chromium` (or `chromium-browser`,
`google-chrome`) on the PATH; Debian's /usr/bin/chromium. Without one the tests skip, unless
GOSSIP_REQUIRE_BROWSER=1 (.ci/run sets it), which makes a missing browser a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import port_range

ROOT = Path(__file__).resolve().parents[2]
#: The last resort, where Debian's chromium package puts it.
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Screenshots and the nodes' logs land here (gitignored).
OUTPUT = ROOT / "test-output"
#: Ports of the page's clusters (tests/support/ports.py lists their range).
PAGE_PORTS = port_range("browser/test_page.py")
BASE_PORT = PAGE_PORTS.start
TOKEN_PORT = PAGE_PORTS.start + 10
NAMED_PORT = PAGE_PORTS.start + 30
#: Seconds the browser waits for something to show; generous, since the machine is shared.
WAIT_S = 20


def browser_problem() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


def find_chromium(playwright_own: str | None) -> tuple[str | None, str | None]:
    """(the Chromium to launch, None) or (None, why there is none), given the path of
    Playwright's own browser (which may not have been downloaded)."""
    chosen = os.environ.get("GOSSIP_CHROMIUM", "")
    if chosen:
        if os.access(chosen, os.X_OK):
            return chosen, None
        return None, f"GOSSIP_CHROMIUM={chosen} is not an executable"
    found = [playwright_own] + [shutil.which(n) for n in ("chromium", "chromium-browser")]
    found += [shutil.which("google-chrome"), CHROMIUM]
    for path in found:
        if path and os.access(path, os.X_OK):
            return path, None
    return None, (
        "no Chromium: set GOSSIP_CHROMIUM=/path/to/chromium, run `playwright install "
        "chromium`, or apt-get install chromium"
    )


def _unusable(problem: str) -> None:
    if os.environ.get("GOSSIP_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"GOSSIP_REQUIRE_BROWSER is set but the browser is unusable: {problem}")
    pytest.skip(problem)


@contextlib.contextmanager
def chromium_browser() -> Iterator[Any]:
    """Playwright driving the Chromium `find_chromium` picks, closed at the end; skips
    without one (fails with GOSSIP_REQUIRE_BROWSER)."""
    problem = browser_problem()
    if problem:
        _unusable(problem)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_S * 1000)
    with sync_playwright() as p:
        path, problem = find_chromium(p.chromium.executable_path)
        if path is None:
            _unusable(problem or "no Chromium")
        b = p.chromium.launch(executable_path=path, args=ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


MOVIES = [
    line.strip() for line in (ROOT / "node" / "movies.txt").read_text().splitlines() if line.strip()
]


def nid(port: int) -> str:
    return f"127.0.0.1:{port}"


def post_favourite(port: int, movie: str, token: str | None = None) -> dict[str, Any]:
    """POST /favourite straight to a node (as another user, or a script, would)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/favourite",
        data=json.dumps({"movie": movie}).encode(),
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        result: dict[str, Any] = json.loads(r.read())
        return result
