"""Shared by the observatory's browser tests (conftest and tests): its ports and token."""

#: The observatory's ports (7750-7759); the acceptance checks use 7700-7710.
BASE_PORT = 7750
TOKEN = "observatory-secret"
