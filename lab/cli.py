"""What the lab's commands share at their edge: help that shows defaults, the name a command
was called by, and arguments checked before any long work starts.

Owns argument checking only: a bad node address, an output that cannot be written or a
missing optional extra ends the command with exit code 2 and one line that names the
argument, never a traceback halfway through a run. It imports nothing beyond the stdlib,
so every `--help` works after a plain `pip install .`.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import urllib.parse
from pathlib import Path

__all__ = ["HelpFormatter", "command", "missing_extra", "node_url", "prog", "writable_file"]


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help with each option's default, where there is one worth showing (not
    for switches, unset options, or help that already says its default)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
            or not (action.option_strings or action.nargs in ("?", "*"))
        ):
            return text
        return f"{text} (default: %(default)s)"


def prog(module: str) -> str:
    """The command's name as the user typed it: `gossip-sim` for the console script,
    `python -m lab.simulate` otherwise."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name.startswith("gossip-") else f"python -m {module}"


def command(module: str, description: str, epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of the lab command `python -m <module>`: named as the user typed it, with
    help that shows defaults."""
    return argparse.ArgumentParser(
        prog=prog(module), formatter_class=HelpFormatter, description=description, epilog=epilog
    )


def node_url(text: str) -> str:
    """A node's base URL from `http://host:port`, `host:port` or a bare port (loopback);
    raises argparse.ArgumentTypeError naming what is wrong."""
    raw = text.strip()
    if raw.isdigit():
        raw = f"127.0.0.1:{raw}"
    url = raw if "://" in raw else f"http://{raw}"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(f"{text!r}: not an http:// URL")
    try:
        port = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is not a number 1-65535") from None
    if not parts.hostname:
        raise argparse.ArgumentTypeError(f"{text!r}: no host (try 127.0.0.1:7000)")
    if port == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the port is not a number 1-65535")
    return url.rstrip("/")


def writable_file(text: str) -> Path:
    """A file this process may create or overwrite, checked now rather than after the work
    that fills it; raises argparse.ArgumentTypeError naming what is wrong."""
    path = Path(text)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a directory")
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory {str(parent)!r}")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text}: not writable")
    return path


def missing_extra(extra: str, modules: tuple[str, ...]) -> str | None:
    """None when every module is importable; else the line that says what to install."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return None
    return (
        f"needs {', '.join(missing)}, from the {extra!r} extra: "
        f"pip install 'gossip-lab[{extra}]' (or pip install -e '.[{extra}]' in a clone)"
    )
