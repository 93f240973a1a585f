"""Gossip Lab's node: a sans-I/O gossip core (`node.core`) and its aiohttp shell.

The public API: `create_app` builds one node as an aiohttp application from `Settings`
(`from_env` reads them from a mapping of environment variables); `main` runs one as a
process. The protocol itself lives in `node.core`.
"""

from node.app import create_app
from node.cli import main
from node.settings import Settings, SettingsError, from_env, parse_args

__all__ = ["Settings", "SettingsError", "create_app", "from_env", "main", "parse_args"]
