"""The core stands alone: `import node.core` loads nothing of the shell, and works with
only the standard library importable (the simulator and the core's tests need no aiohttp)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The acceptance check, verbatim.
CHECK = (
    "import node.core, sys; "
    "assert not {'aiohttp','prometheus_client','structlog'} & set(sys.modules)"
)

#: Makes every module outside the standard library (and this project) unimportable, then
#: imports the core and drives it one step.
STDLIB_ONLY = """
import sys

class StdlibOnly:
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top == "node" or top.startswith("__editable"):
            return None
        raise ImportError(f"{name} is blocked: the core must need only the standard library")

for name in ("aiohttp", "prometheus_client", "structlog", "orjson"):
    sys.modules[name] = None  # an import of these fails, whatever the finders say
sys.meta_path.insert(0, StdlibOnly())

import random
import node.core
from node.core import Config, GossipNode

node = GossipNode("10.0.0.1:7000", Config(), now=1000.0, rng=random.Random(1), movies=["Alien"])
node.publish(1000.0)
assert node.movie == "Alien" and node.collect().events
print("ok")
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_importing_the_core_loads_no_shell_library() -> None:
    result = _python(CHECK)
    assert result.returncode == 0, result.stderr


def test_the_core_imports_and_runs_with_only_the_standard_library() -> None:
    result = _python(STDLIB_ONLY)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_shell_names_still_import_from_node() -> None:
    result = _python(
        "import node, sys; assert 'aiohttp' not in sys.modules; "
        "from node import create_app, from_env, main, Settings, SettingsError, parse_args; "
        "assert create_app.__module__ == 'node.app' and 'aiohttp' in sys.modules; "
        "assert set(node.__all__) <= set(dir(node))"
    )
    assert result.returncode == 0, result.stderr
