"""Fixtures for the observatory's browser tests: Chromium (`browser`, from tests/browser's
conftest: Playwright, and tests/support/pagekit.py picks which), and five real nodes with an
admin token, so the page may break them. The tests skip without a browser unless
GOSSIP_REQUIRE_BROWSER=1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lab.cluster import LocalCluster
from tests.support.obskit import BASE_PORT, TOKEN
from tests.support.pagekit import OUTPUT


@pytest.fixture(scope="module")
def cluster(browser: Any) -> Iterator[LocalCluster]:
    """Five nodes that keep their favourites until told, with an admin token."""
    env = {"GOSSIP_RESAMPLE_SECONDS": "0", "GOSSIP_ADMIN_TOKEN": TOKEN}
    logs = OUTPUT / "observatory-logs"
    with LocalCluster(5, base_port=BASE_PORT, env=env, log_dir=logs) as c:
        c.wait_ready(60)
        c.wait_converged(60)
        yield c


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens a node's page in a fresh context and waits until the observatory has drawn
    the cluster. Any JavaScript error fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(port: int, width: int = 1280, height: int = 900) -> Any:
        from playwright.sync_api import expect

        context = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(f"{port}: {e}"))
        page.goto(f"http://127.0.0.1:{port}/")
        expect(page.locator("#graph g.node").first).to_be_visible()
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def page(cluster: LocalCluster, open_page: Callable[..., Any]) -> Any:
    """The page of the tests that break the cluster and heal it: the first node's
    observatory at 1440 x 1000, with the admin token typed in."""
    page = open_page(cluster.ports[0], width=1440, height=1000)
    page.fill("#obs-token", TOKEN)
    return page
