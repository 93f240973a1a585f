"""The node's page in a real headless Chromium against real node processes, checked the way
a user would look at it: every node's favourite is listed, news shows up without a reload,
the matrix shows the cluster converged, the button changes the favourite everywhere, a
peer's own view opens through the node, and the page reads at 390 px as on a desktop."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from lab.cluster import LocalCluster
from tests.support.pagekit import (
    MOVIES,
    NAMED_PORT,
    OUTPUT,
    TOKEN_PORT,
    WAIT_S,
    nid,
    post_favourite,
)
from tests.support.waits import wait_until

_used: set[str] = set()

OpenPage = Callable[..., Any]
NAMES = ("berlin", "paris", "rome")


def fresh(cluster: LocalCluster) -> str:
    """A movie no node has now, and none of these tests has picked before."""
    taken = {cluster.state(p)["movie"] for p in cluster.ports if cluster.alive(p)} | _used
    movie = next(m for m in MOVIES if m not in taken)
    _used.add(movie)
    return movie


def origin_movie(page: Any, origin: str) -> Any:
    return page.locator(f'#origin-table tr[data-origin="{origin}"] td.movie')


def matrix_movie(page: Any, node: str) -> Any:
    return page.locator(f'#matrix tr[data-node="{node}"] td.fav-cell')


def wait_for(check: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    wait_until(check, timeout_s, "condition")


def test_the_page_lists_every_nodes_favourite(cluster: LocalCluster, open_page: OpenPage) -> None:
    from playwright.sync_api import expect

    page = open_page(cluster.ports[0])
    # Nodes by name (local nodes: ":PORT"), the address on hover.
    expect(page.locator("#node-id")).to_have_text(f":{cluster.ports[0]}")
    expect(page.locator("#node-id")).to_have_attribute("title", nid(cluster.ports[0]))
    for port in cluster.ports:
        movie = cluster.state(port)["movie"]
        expect(origin_movie(page, nid(port))).to_have_text(movie)  # what this node knows
        expect(matrix_movie(page, nid(port))).to_have_text(movie)  # what each node says
        origin = page.locator(f'#origin-table tr[data-origin="{nid(port)}"] .id')
        expect(origin).to_have_text(f":{port}")
        expect(origin).to_have_attribute("title", nid(port))
    text = page.inner_text("body")
    for port in cluster.ports:
        assert str(port) in text


def test_nodes_are_shown_by_the_names_they_report(browser: Any, open_page: OpenPage) -> None:
    """GOSSIP_NAME names a node everywhere on its page and on the others' pages (learned from
    the cluster view); the address stays in the title, for hover; so in the observatory."""
    from playwright.sync_api import expect

    env = {"GOSSIP_RESAMPLE_SECONDS": "0"}
    with LocalCluster(3, base_port=NAMED_PORT, env=env) as named:
        for port, name in zip(named.ports, NAMES, strict=True):
            named.start(port, extra_env={"GOSSIP_NAME": name})  # again, with a name
        named.wait_ready(60)
        named.wait_converged(60)
        first, second, third = named.ports
        page = open_page(second)
        expect(page.locator("#node-id")).to_have_text(NAMES[1])
        expect(page.locator("#node-id")).to_have_attribute("title", nid(second))
        for port, name in zip(named.ports, NAMES, strict=True):
            row = page.locator(f'#matrix tr[data-node="{nid(port)}"] th .full')
            expect(row).to_have_text(name)
            origin = page.locator(f'#origin-table tr[data-origin="{nid(port)}"] .id')
            expect(origin).to_have_text(name)
            expect(origin).to_have_attribute("title", nid(port))
        peer = page.locator(f'#peer-table tr[data-peer="{nid(third)}"] td.id')
        expect(peer).to_have_text(NAMES[2])
        expect(peer).to_have_attribute("title", nid(third))
        obs = open_page(first)
        inspect = obs.locator("#insp-node option")
        expect(inspect).to_have_count(3)
        assert sorted(inspect.all_inner_texts()) == sorted(NAMES)
        assert {inspect.nth(i).get_attribute("value") for i in range(3)} == {
            nid(p) for p in named.ports
        }


def test_a_new_favourite_appears_without_a_reload(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    from playwright.sync_api import expect

    page = open_page(cluster.ports[0])
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.__sameDocument = true")
    origin = cluster.ports[2]
    movie = fresh(cluster)
    started = time.monotonic()
    post_favourite(origin, movie)
    expect(origin_movie(page, nid(origin))).to_have_text(movie)
    took = time.monotonic() - started
    assert took < 10, f"the new favourite took {took:.1f} s to show"
    # the feed told it as it happened, and the matrix follows
    applied = page.locator("#feed-list li[data-kind=update_applied]", has_text=movie)
    expect(applied.first).to_be_visible()
    expect(matrix_movie(page, nid(origin))).to_have_text(movie)
    assert page.evaluate("window.__sameDocument") is True and not navigations


def test_the_matrix_shows_every_node_converged(cluster: LocalCluster, open_page: OpenPage) -> None:
    from playwright.sync_api import expect

    cluster.wait_converged(30)
    page = open_page(cluster.ports[1])
    summary = page.locator("#cluster-summary")
    expect(summary).to_have_attribute("data-converged", "true")
    expect(summary).to_contain_text("Converged: 3 nodes")
    cells = page.locator("#matrix td[data-origin]")
    expect(cells).to_have_count(9)
    for i in range(9):
        cell = cells.nth(i)
        assert cell.get_attribute("data-behind") == "0"
        assert "✓" in cell.inner_text()  # a symbol, not colour alone
    # the latest update's spread lists every node, the origin first
    expect(page.locator("#spread-chart li:not(.pending)")).to_have_count(3)


def test_the_button_changes_this_nodes_favourite_and_it_reaches_the_other_pages(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    from playwright.sync_api import expect

    here, *others = cluster.ports
    page = open_page(here)
    other_pages = [open_page(p) for p in others]
    movie = fresh(cluster)
    page.fill("#pick-movie", movie)
    page.click("#pick-button")
    expect(page.locator("#pick-result")).to_contain_text(movie)
    expect(page.locator("#my-movie")).to_have_text(movie)
    assert cluster.state(here)["movie"] == movie
    for other in other_pages:
        expect(origin_movie(other, nid(here))).to_have_text(movie)
    # empty: a random pick, which is a new version all the same
    version = cluster.state(here)["version"]
    page.click("#pick-button")
    expect(page.locator("#my-version")).to_have_text(str(version + 1))


def test_a_peers_own_view_opens_through_this_node(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    from playwright.sync_api import expect

    here, peer = cluster.ports[0], cluster.ports[1]
    page = open_page(here)
    page.locator(f'#matrix tr[data-node="{nid(peer)}"] th a').click()
    expect(page).to_have_url(re.compile(rf"\?view=127\.0\.0\.1(%3A|:){peer}$"))
    expect(page.locator("#viewing")).to_be_visible()
    expect(page.locator("#node-id")).to_have_text(f":{peer}")  # its name, as it reports it
    expect(page.locator("#node-id")).to_have_attribute("title", nid(peer))
    expect(page.locator("#my-movie")).to_have_text(cluster.state(peer)["movie"])
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    # its feed is live through the relay
    movie = fresh(cluster)
    post_favourite(peer, movie)
    expect(page.locator("#my-movie")).to_have_text(movie)
    expect(page.locator("#feed-list li[data-kind=movie_changed]", has_text=movie)).to_have_count(1)
    # and the button acts on the node viewed
    movie = fresh(cluster)
    page.fill("#pick-movie", movie)
    page.click("#pick-button")
    expect(page.locator("#my-movie")).to_have_text(movie)
    wait_for(lambda: cluster.state(peer)["movie"] == movie)
    assert cluster.state(here)["movie"] != movie


def test_basic_accessibility(cluster: LocalCluster, open_page: OpenPage) -> None:
    page = open_page(cluster.ports[0])
    problems = page.evaluate(
        """() => {
        const out = [];
        for (const el of document.querySelectorAll("input, select, textarea, button")) {
          if (el.closest("[hidden]")) continue;
          const named = (el.id && document.querySelector(`label[for="${el.id}"]`)) ||
            el.closest("label") || el.getAttribute("aria-label") ||
            (el.tagName === "BUTTON" && el.textContent.trim());
          if (!named) out.push(`unlabelled ${el.tagName} ${el.id}`);
        }
        for (const th of document.querySelectorAll("th")) {
          if (!th.getAttribute("scope")) out.push(`th without scope: ${th.textContent}`);
        }
        for (const img of document.querySelectorAll("img")) {
          if (!img.hasAttribute("alt")) out.push(`img without alt: ${img.src}`);
        }
        if (document.querySelectorAll("h1").length !== 1) out.push("not exactly one h1");
        if (!document.documentElement.lang) out.push("no lang");
        return out;
      }"""
    )
    assert problems == []


def test_screenshots_at_desktop_and_390_px(cluster: LocalCluster, open_page: OpenPage) -> None:
    from playwright.sync_api import expect

    OUTPUT.mkdir(exist_ok=True)
    page = open_page(cluster.ports[0])
    for port in cluster.ports:  # some history to show: one update from each node
        post_favourite(port, fresh(cluster))
        time.sleep(0.4)
    # the three updates known when the page opened, and the three since
    page.wait_for_function(
        "document.querySelectorAll('#updates tbody tr').length >= 6", timeout=WAIT_S * 1000
    )
    cluster.wait_converged(30)
    expect(page.locator("#cluster-summary")).to_have_attribute("data-converged", "true")
    page.wait_for_timeout(500)
    page.screenshot(path=str(OUTPUT / "page-desktop.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(500)
    # nothing wider than the phone: wide tables scroll inside their own box
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#my-movie", "#pick-button", "#cluster-summary", "#feed-list"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    page.screenshot(path=str(OUTPUT / "page-390.png"), full_page=True)
    assert (OUTPUT / "page-desktop.png").stat().st_size > 10_000
    assert (OUTPUT / "page-390.png").stat().st_size > 10_000


def test_a_crashed_node_shows_unreachable_and_its_page_reconnects(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    from playwright.sync_api import expect

    here, victim = cluster.ports[0], cluster.ports[2]
    page = open_page(here)
    victims_page = open_page(victim)
    generation = cluster.state(victim)["generation"]
    cluster.kill(victim)
    try:
        row = page.locator(f'#matrix tr[data-node="{nid(victim)}"]')
        expect(row.locator("td[data-behind=unreachable]")).to_contain_text("unreachable")
        expect(page.locator("#cluster-summary")).to_contain_text("1 node unreachable")
        expect(victims_page.locator("#conn")).not_to_have_attribute("data-state", "live")
    finally:
        cluster.start(victim)
    cluster.wait_ready(60, ports=[victim])
    # the page of the restarted node comes back by itself, showing its new life
    expect(victims_page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(victims_page.locator("#my-generation")).not_to_contain_text(str(generation))
    expect(page.locator("#cluster-summary")).to_have_attribute("data-converged", "true")
    expect(page.locator("#cluster-summary")).not_to_contain_text("unreachable")


def test_with_an_admin_token_the_page_asks_for_it(browser: Any, open_page: OpenPage) -> None:
    from playwright.sync_api import expect

    env = {"GOSSIP_RESAMPLE_SECONDS": "0", "GOSSIP_ADMIN_TOKEN": "lab-secret"}
    with LocalCluster(1, base_port=TOKEN_PORT, env=env, log_dir=OUTPUT / "browser-logs") as c:
        c.wait_ready(60)
        page = open_page(TOKEN_PORT)
        expect(page.locator("#token-row")).to_be_visible()
        before = c.state(TOKEN_PORT)["movie"]
        movie = next(m for m in MOVIES if m != before)
        page.fill("#pick-movie", movie)
        page.fill("#pick-token", "wrong")
        page.click("#pick-button")
        expect(page.locator("#pick-result")).to_contain_text("401")
        assert c.state(TOKEN_PORT)["movie"] == before
        page.fill("#pick-token", "lab-secret")
        page.click("#pick-button")
        expect(page.locator("#my-movie")).to_have_text(movie)
        assert c.state(TOKEN_PORT)["movie"] == movie
