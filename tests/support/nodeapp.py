"""One node in-process, as the integration tests start it: settings from an explicit mapping,
its log in the test's own folder, served through the node's front (node.front, as
`python -m node` serves it), and aiohttp's test client on it."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from node import create_app, from_env
from node.core import Config
from node.front import FrontRunner
from node.logs import make_logger
from node.runtime import Clock

__all__ = ["MOVIES", "Client", "FrontTestServer", "invalid", "start_node"]

Client = TestClient[web.Request, web.Application]
MOVIES = ("Alien", "Heat", "Up")


async def start_node(
    aiohttp_client: Any,
    tmp_path: Path,
    env: Mapping[str, str],
    movies: Sequence[str] = MOVIES,
    *,
    config: Config | None = None,
    clock: Clock = time.time,
) -> Client:
    """The node that `env` (GOSSIP_* variables) describes, with `config` for the protocol's
    knobs if given, logging to tmp_path/log; `aiohttp_client` is pytest-aiohttp's fixture."""
    settings = from_env(env)
    if config is not None:
        settings = dataclasses.replace(settings, config=config)
    log = make_logger(settings.advertise, stream=open(tmp_path / "log", "w"))  # noqa: SIM115
    app = create_app(settings, movies=movies, clock=clock, log=log)
    client: Client = await aiohttp_client(FrontTestServer(app))
    return client


class FrontTestServer(TestServer):
    """aiohttp's test server with the node's front: gossip answered as a real node does."""

    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return FrontRunner(self.app, **kwargs)


async def invalid(client: Client, reason: str) -> float:
    """The node's gossip_invalid_requests_total for `reason`, read from its /metrics."""
    text = await (await client.get("/metrics")).text()
    m = re.search(rf'^gossip_invalid_requests_total{{reason="{reason}"}} (\S+)$', text, re.M)
    assert m, reason
    return float(m.group(1))
