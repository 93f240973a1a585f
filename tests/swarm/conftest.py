"""Fixtures for the Swarm stack: a one-host swarm (made here, and left at the end with the
docker_gwbridge network it made, only if the engine was not in one), the node image built
once, and stacks that are always removed (helpers in swarmlab.py). Without a Docker
engine they skip (`docker_engine`, in tests/conftest.py, says when they fail instead).
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Callable, Generator, Iterator

import pytest

from tests.support.swarmlab import Stack, made_then_ended, run, swarm_state


@pytest.fixture(scope="session")
def swarm(docker_engine: None) -> Iterator[None]:
    """A swarm to deploy to: this engine's, or a one-host swarm made for the tests (loopback
    is enough to advertise when there is one host) and left again at the end."""
    state = swarm_state()
    created = state == "inactive"
    networks_before = set(
        run("docker", "network", "ls", "-q", "--filter", "name=docker_gwbridge").split()
    )
    if created:
        run("docker", "swarm", "init", "--advertise-addr", "127.0.0.1")
    elif state != "active":
        pytest.fail(f"this engine's swarm is {state!r}: neither active nor inactive")
    yield
    if created:
        run("docker", "swarm", "leave", "--force", check=False)
        # `swarm init` also makes the docker_gwbridge network, which leaving keeps: remove
        # it too when it was not there before, so the engine is as the tests found it.
        assert swarm_state() == "inactive", "the swarm the tests made is left"
        if not networks_before:
            _remove_gwbridge()


def _remove_gwbridge() -> None:
    """Removes docker_gwbridge, retrying while leaving the swarm detaches its endpoints. The
    engine sometimes keeps a phantom endpoint on it (seen on 2026-12-01: "has active
    endpoints" with no container attached, minutes later too), which only a restart of the
    engine clears: that is said in a warning, not failed; an attached container fails."""
    end = time.monotonic() + 20
    while True:
        if not run("docker", "network", "ls", "-q", "--filter", "name=docker_gwbridge").split():
            return
        run("docker", "network", "rm", "docker_gwbridge", check=False)
        if time.monotonic() > end:
            break
        time.sleep(1)
    attached = run("docker", "network", "inspect", "-f", "{{len .Containers}}", "docker_gwbridge")
    assert attached.strip() == "0", "docker_gwbridge, made by swarm init, still has containers"
    warnings.warn(
        "docker_gwbridge, made by swarm init, could not be removed: the engine keeps an "
        "endpoint on it with no container attached (a restart of the engine clears it)",
        stacklevel=1,
    )


@pytest.fixture(scope="session")
def stack_image(docker_engine: None) -> Iterator[str]:
    """Builds the node image once, under a tag of its own (stack deploy cannot build); the
    base image comes from PYTHON_IMAGE when set. Removed at the end."""
    tag = f"swarmtest-{uuid.uuid4().hex[:8]}"
    image = f"gossip-lab/node:{tag}"
    base = os.environ.get("PYTHON_IMAGE")
    args = ["--build-arg", f"PYTHON_IMAGE={base}"] if base else []
    run("docker", "build", "-q", *args, "-t", image, ".", timeout=900)
    yield tag
    run("docker", "image", "rm", "-f", image, check=False)


@pytest.fixture
def make_stack(swarm: None, stack_image: str) -> Generator[Callable[..., Stack], None, None]:
    """Makes stacks that are always removed when the test ends."""
    yield from made_then_ended(lambda env: Stack(stack_image, env=env), Stack.remove)
