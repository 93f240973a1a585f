"""Fixtures for the page's end-to-end tests: Debian's Chromium driven by Playwright, and a
real local cluster of node processes.

Without Playwright or /usr/bin/chromium the tests skip, unless GOSSIP_REQUIRE_BROWSER=1
(.ci/run sets it), which makes a missing browser a failure. Playwright never downloads a
browser of its own here: it launches the system one (`executable_path`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pagekit import ARGS, BASE_PORT, CHROMIUM, OUTPUT, WAIT_S, browser_problem

from lab.cluster import LocalCluster


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = browser_problem()
    if problem:
        if os.environ.get("GOSSIP_REQUIRE_BROWSER", "") not in ("", "0"):
            pytest.fail(f"GOSSIP_REQUIRE_BROWSER is set but the browser is unusable: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_S * 1000)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        yield b
        b.close()


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
