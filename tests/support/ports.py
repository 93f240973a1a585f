"""Which loopback ports each test that starts processes may use: one range per test file,
no two overlapping (tests/unit/test_ports.py checks it), so a test that fails and leaves a
node behind cannot make another test fail on a port in use.

A test file takes its range with `port_range(__file__)` and stays inside it. Ports the
tests pick from the OS (port 0, `lab.bench.load.free_ports`) need no entry. In-process
aiohttp apps (`aiohttp_client`) listen on a port the OS picks; their GOSSIP_PORT is only
the name the node gives itself.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PORTS", "RESERVED", "port_range"]

TESTS = Path(__file__).resolve().parents[1]

#: Each test file (relative to tests/) and the ports its processes may listen on.
PORTS: dict[str, range] = {
    "integration/test_cluster.py": range(7200, 7260),
    "integration/test_cluster_signals.py": range(7260, 7270),
    "integration/test_cluster_hardening.py": range(7270, 7300),
    "integration/test_cluster_pacing.py": range(7312, 7320),
    "integration/test_fuzz.py": range(7330, 7340),
    "integration/test_poisoning.py": range(7350, 7360),
    "browser/test_page.py": range(7500, 7540),  # with browser/conftest.py (tests.support.pagekit)
    "integration/test_ui_cluster.py": range(7540, 7550),
    "integration/test_logtail_cluster.py": range(7600, 7700),
    "integration/test_obs_cluster.py": range(7740, 7750),
    "integration/test_experiment_local.py": range(7760, 7790),
    "browser/observatory/test_obs_page.py": range(7750, 7760),  # with its conftest.py (obskit)
}

#: Ports others use on this machine, which no test range may take: the acceptance checks
#: (../shared/acceptance, 7700-7710) and the benchmarks' reserved ranges (lab.bench.load).
RESERVED: dict[str, range] = {
    "acceptance checks": range(7700, 7711),
    "lab.bench.load.RESERVED 7300": range(7300, 7311),
    "lab.bench.load.RESERVED 7400": range(7400, 7411),
    "lab.bench.load.RESERVED 7800": range(7800, 7811),
}


def port_range(test_file: str | Path) -> range:
    """The ports listed for this test file (pass `__file__`, or a path relative to tests/)."""
    path = Path(test_file)
    key = path.resolve().relative_to(TESTS).as_posix() if path.is_absolute() else path.as_posix()
    try:
        return PORTS[key]
    except KeyError:
        raise LookupError(
            f"{key} starts processes but has no ports in tests/support/ports.py"
        ) from None
