"""Fixtures for the Docker Compose lab: the node image built once per session, and labs that
are always torn down (helpers in composelab.py). Without a Docker engine they skip
(`docker_engine`, in tests/conftest.py, says when they fail instead).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator

import pytest

from tests.support.composelab import Lab, made_then_ended


@pytest.fixture(scope="session")
def image_tag(docker_engine: None) -> Iterator[str]:
    """Builds the node image once, under a tag of its own so that concurrent runs (or a lab
    someone has up) do not swap images under each other; removes it at the end."""
    tag = f"test-{uuid.uuid4().hex[:8]}"
    builder = Lab(tag, name=f"gossipbuild-{tag}")
    builder.compose("build", "bootstrap", timeout=900)
    yield tag
    builder.run("docker", "image", "rm", "-f", f"gossip-lab/node:{tag}", check=False)


@pytest.fixture
def make_lab(image_tag: str) -> Generator[Callable[..., Lab], None, None]:
    """Makes labs that are always torn down when the test ends."""
    labs = yield from made_then_ended(lambda env: Lab(image_tag, env=env), Lab.down)
    # Tests leave the engine as they found it: no container, network or volume of theirs.
    left = {lab.project: lab.leftovers() for lab in labs}
    assert not any(left.values()), f"left behind after `down -v`: {left}"
