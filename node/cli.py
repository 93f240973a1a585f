"""`python -m node` / `gossip-node`: start one node from flags and environment variables.

Owns the process: parse settings (a bad value exits 2 with a message naming the variable, or
the flag as typed), warn of `GOSSIP_*` variables that no setting reads (a typo), serve
until SIGTERM or SIGINT, then shut down gracefully (in-flight requests get a moment).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Sequence

from aiohttp import web

from node.app import create_app
from node.front import FrontRunner
from node.settings import SettingsError, parse_args, unknown_variables

__all__ = ["main", "new_event_loop"]

#: Seconds the server waits for open requests at shutdown; Docker's stop_grace_period and
#: the lab's stop timeouts are longer than this.
SHUTDOWN_GRACE_S = 3.0


def main(argv: Sequence[str] | None = None) -> int:
    for warning in unknown_variables(os.environ):
        print(f"gossip-node: warning: {warning}", file=sys.stderr)
    try:
        prog = "gossip-node" if sys.argv[0].endswith("gossip-node") else "python -m node"
        settings = parse_args(sys.argv[1:] if argv is None else argv, os.environ, prog)
        app = create_app(settings)
    except SettingsError as e:
        print(f"gossip-node: bad setting: {e}", file=sys.stderr)
        return 2
    try:  # bind first: a taken port is reported before the node starts anything
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        sock = socket.create_server((settings.host, settings.port), family=family)
    except OSError as e:
        print(
            f"gossip-node: cannot listen on {settings.host}:{settings.port}: {e}", file=sys.stderr
        )
        return 1
    runner = FrontRunner(
        app,
        access_log=None,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        handle_signals=True,  # SIGTERM and SIGINT raise GracefulExit: a graceful stop
    )
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    serving = loop.create_task(_serve(runner, sock))
    try:
        loop.run_until_complete(serving)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:  # as aiohttp's run_app: stop serving, then cancel what is left, then close
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(serving)
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    return 0


async def _serve(runner: FrontRunner, sock: socket.socket) -> None:
    """Serves on `sock` until cancelled (aiohttp's run_app, with the node's front:
    node.front), then shuts the app down gracefully."""
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (a dependency on CPython/Linux: it takes
    HTTP and socket work off the node's per-message cost, benchmark 4), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # PyPy, Windows, or an install without it: the standard loop
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
