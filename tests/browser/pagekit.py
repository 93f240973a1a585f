"""Shared by the page's browser tests: where Chromium is and how to launch it, where the
screenshots go, the ports, and small helpers to drive the nodes directly."""

from __future__ import annotations

import importlib.util
import json
import os
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
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
#: Ports of the page's clusters (the test suite's share is 7500-7599).
BASE_PORT = 7500
TOKEN_PORT = 7510
NAMED_PORT = 7530
#: Seconds the browser waits for something to show; generous, since the machine is shared.
WAIT_S = 20


def browser_problem() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no {CHROMIUM} (apt-get install chromium)"
    return None


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
