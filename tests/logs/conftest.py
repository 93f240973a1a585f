"""The Docker Compose lab's fixtures for the log tests: those of tests/docker (its
conftest.py, with composelab.py), reused as they are rather than copied, so both suites
build, name and tear down labs the same way (unique project names, always `down -v`, skip
without an engine unless GOSSIP_REQUIRE_DOCKER=1)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DOCKER_TESTS = Path(__file__).resolve().parents[1] / "docker"
sys.path.insert(0, str(DOCKER_TESTS))  # where the docker fixtures import composelab from

_spec = importlib.util.spec_from_file_location("docker_lab_fixtures", DOCKER_TESTS / "conftest.py")
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)

docker_engine = _fixtures.docker_engine
image_tag = _fixtures.image_tag
make_lab = _fixtures.make_lab
