"""The ports registry (tests/support/ports.py): no two test files share a port, none takes
a port that others on this machine use, and every test file that starts nodes on fixed
ports is listed."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from lab.bench.load import RESERVED as BENCH_RESERVED
from tests.support.ports import PORTS, RESERVED, TESTS, port_range


def test_no_two_test_files_share_a_port() -> None:
    for (a, ra), (b, rb) in itertools.combinations(PORTS.items(), 2):
        assert not set(ra) & set(rb), f"{a} {ra} and {b} {rb} overlap"


def test_no_test_takes_a_reserved_port() -> None:
    assert set(BENCH_RESERVED) <= set(RESERVED.values())
    for (name, r), (what, reserved) in itertools.product(PORTS.items(), RESERVED.items()):
        assert not set(r) & set(reserved), f"{name} {r} takes ports of the {what} {reserved}"


def test_every_listed_file_exists() -> None:
    assert all((TESTS / name).is_file() for name in PORTS)


STARTS_NODES = re.compile(r"LocalCluster\(|base_port=|--base-port")


@pytest.mark.parametrize(
    "path",
    sorted(p for p in TESTS.rglob("*.py") if "support" not in p.parts and p != Path(__file__)),
    ids=lambda p: p.relative_to(TESTS).as_posix(),
)
def test_a_file_that_starts_nodes_on_fixed_ports_is_listed(path: Path) -> None:
    """Its ports come from the registry (`port_range(__file__)`, or pagekit's and obskit's),
    never a literal of its own."""
    text = path.read_text()
    if path.parent.name == "unit":
        assert not STARTS_NODES.search(text), f"{path}: a unit test starts no node"
        return
    if path.name == "conftest.py" or not STARTS_NODES.search(text):
        return
    port_range(path)  # listed: raises otherwise
    assert "port_range(__file__)" in text or "tests.support.pagekit" in text, path
    assert not re.search(r"base_port=\d|^(BASE|PORT)\w* = \d", text, flags=re.M), path
