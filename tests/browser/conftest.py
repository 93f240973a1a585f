"""Fixtures for the page's end-to-end tests: Chromium driven by Playwright, and a real
local cluster of node processes.

Which Chromium (GOSSIP_CHROMIUM, Playwright's own, the system's) is pagekit.find_chromium's
choice. Without Playwright or a Chromium the tests skip, unless GOSSIP_REQUIRE_BROWSER=1
(.ci/run sets it), which makes a missing browser a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lab.cluster import LocalCluster
from tests.support.pagekit import BASE_PORT, OUTPUT, chromium_browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module")
def cluster(browser: Any) -> Iterator[LocalCluster]:
    """Three nodes that keep their favourites until told otherwise (no re-sampling)."""
    env = {"GOSSIP_RESAMPLE_SECONDS": "0"}
    with LocalCluster(3, base_port=BASE_PORT, env=env, log_dir=OUTPUT / "browser-logs") as c:
        c.wait_ready(60)
        c.wait_converged(60)
        yield c


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens a node's page (in a fresh context per test) and waits until it is live. Any
    JavaScript error on any page fails the test."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(port: int, query: str = "", width: int = 1280, height: int = 900) -> Any:
        from playwright.sync_api import expect

        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(f"{port}{query}: {e}"))
        page.goto(f"http://127.0.0.1:{port}/{query}")
        expect(page.locator("#conn")).to_have_attribute("data-state", "live")
        expect(page.locator("#my-movie")).not_to_have_text("…")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"
