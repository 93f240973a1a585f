"""The folder is the tier: this hook marks every test by the folder it lives in, so no test
file declares its own tier (README, "Tests").

    tests/unit          pure: no processes that listen, no sockets         (no marker)
    tests/integration   real node processes on loopback, in-process
                        aiohttp servers                                     integration
    tests/browser       Chromium against real nodes                         browser
    tests/docker        the Compose lab on a Docker engine                  docker
    tests/swarm         a one-host Docker swarm                             docker, swarm

Helpers live in one package, tests/support (imported as `tests.support.x`; pyproject's
`pythonpath` puts the project root on sys.path). The quick tier is
`-m "not docker and not browser"`. The one fixture here, `docker_engine`, is the Docker
tiers' check that an engine can run the lab.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.composelab import require_engine

HERE = Path(__file__).resolve().parent

#: Each tier folder and the markers its tests get.
TIERS: dict[str, tuple[str, ...]] = {
    "unit": (),
    "integration": ("integration",),
    "browser": ("browser",),
    "docker": ("docker",),
    "swarm": ("docker", "swarm"),
}


def tier_of(path: Path) -> str:
    """The tier folder a test file lives in; a test outside every tier folder is an error."""
    parts = path.resolve().relative_to(HERE.resolve()).parts
    if len(parts) < 2 or parts[0] not in TIERS:
        raise pytest.UsageError(f"{path}: a test lives in a tier folder: {', '.join(TIERS)}")
    return parts[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in TIERS[tier_of(item.path)]:
            item.add_marker(marker)


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that can run the lab (tests/docker, tests/swarm). Without one the tests
    that need it skip, unless GOSSIP_REQUIRE_DOCKER=1 (.ci/run sets it), which makes a
    missing engine a failure."""
    require_engine()
