"""Shared by the observatory's browser tests (conftest and tests): its ports and token."""

from tests.support.ports import port_range

#: The observatory's ports (tests/support/ports.py lists them).
BASE_PORT = port_range("browser/observatory/test_obs_page.py").start
TOKEN = "observatory-secret"
