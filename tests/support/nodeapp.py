"""One node in-process, as the integration tests start it: settings from an explicit mapping,
its log in the test's own folder, and aiohttp's test client on the app."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from node import create_app, from_env
from node.core import Config
from node.logs import make_logger
from node.runtime import Clock

__all__ = ["MOVIES", "Client", "start_node"]

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
    client: Client = await aiohttp_client(create_app(settings, movies=movies, clock=clock, log=log))
    return client
