"""`python -m node` / `gossip-node`: start one node from flags and environment variables.

Owns the process: parse settings (a bad value exits 2 with a message naming the variable),
serve until SIGTERM or SIGINT, then shut down gracefully (in-flight requests get a moment).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from aiohttp import web

from node.app import create_app
from node.settings import SettingsError, parse_args

__all__ = ["main"]

#: Seconds the server waits for open requests at shutdown; Docker's stop_grace_period and
#: the lab's stop timeouts are longer than this.
SHUTDOWN_GRACE_S = 3.0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = parse_args(sys.argv[1:] if argv is None else argv, os.environ)
        app = create_app(settings)
    except SettingsError as e:
        print(f"gossip-node: bad setting: {e}", file=sys.stderr)
        return 2
    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            shutdown_timeout=SHUTDOWN_GRACE_S,
            handle_signals=True,
        )
    except OSError as e:
        print(
            f"gossip-node: cannot listen on {settings.host}:{settings.port}: {e}", file=sys.stderr
        )
        return 1
    return 0
