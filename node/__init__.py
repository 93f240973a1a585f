"""Gossip Lab's node: a sans-I/O gossip core (`node.core`) and its aiohttp shell.

The public API: `create_app` builds one node as an aiohttp application from `Settings`
(`from_env` reads them from a mapping of environment variables); `main` runs one as a
process. The protocol itself lives in `node.core`.

The shell's names are imported on first use (PEP 562), not here: `import node.core` must
stand alone, without aiohttp, prometheus_client or structlog, for the simulator and the
core's tests.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from node.app import create_app
    from node.cli import main
    from node.settings import Settings, SettingsError, from_env, parse_args

__all__ = ["Settings", "SettingsError", "create_app", "from_env", "main", "parse_args"]

#: Each public name and the module that defines it.
_HOMES = {
    "Settings": "node.settings",
    "SettingsError": "node.settings",
    "create_app": "node.app",
    "from_env": "node.settings",
    "main": "node.cli",
    "parse_args": "node.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
