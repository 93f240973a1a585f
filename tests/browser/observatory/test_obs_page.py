"""The observatory in a real headless Chromium against five real nodes, driven as a user
would: an update started from the page has a genealogy with exactly one parent per node
other than the origin, each one hop deeper than its parent and later (and the same as the
nodes' own records); a cut drawn on the page splits the matrix into two sides that diverge,
and a heal brings them back; a recorded episode replays to the state the cluster ended in;
a 100-node simulated record with a partition loads and replays; two rumours race; loss set
on one node shows on the timeline. Each view is saved as test-output/obs-*.png."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from lab.cluster import LocalCluster, get_json
from lab.record import main as record_main
from tests.support.obskit import BASE_PORT, TOKEN
from tests.support.pagekit import OUTPUT, WAIT_S
from tests.support.records import seeded_episode

OpenPage = Callable[..., Any]


def nid(port: int) -> str:
    return f"127.0.0.1:{port}"


def admin(port: int, method: str = "GET", body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/admin/faults",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


@pytest.fixture(autouse=True)
def no_faults_left(cluster: LocalCluster) -> Any:
    """Every test starts and ends with a whole cluster."""
    yield
    clear = {"drop": 0, "duplicate": 0, "delay_ms": 0, "jitter_ms": 0, "blocked": []}
    for port in cluster.ports:
        admin(port, "PUT", clear)
    cluster.wait_converged(40)


def shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"obs-{name}.png"), full_page=True)


def start_update(page: Any, port: int) -> str:
    """Starts an update at `port` from the page; its uuid, once the page shows it."""
    from playwright.sync_api import expect

    page.select_option("#start-node", nid(port))
    page.click("#start-button")
    expect(page.locator("#obs-result")).to_contain_text("now likes")
    page.wait_for_function(
        f"""() => {{ const v = window.GossipObservatory.view();
            return v && v.updates[0] && v.updates[0].origin === "{nid(port)}" &&
              v.updates[0].sent_at > Date.now() / 1000 - 30; }}""",
        timeout=WAIT_S * 1000,
    )
    uuid: str = page.evaluate("window.GossipObservatory.view().updates[0].uuid")
    return uuid


def genealogy(page: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = page.evaluate(
        """() => [...document.querySelectorAll('#gen-tree li')].map((li) => ({
          node: li.dataset.node, parent: li.dataset.parent, hops: Number(li.dataset.hops),
          t: Number(li.dataset.t),
          under: (li.parentElement.closest('li') || {dataset: {}}).dataset.node || null,
        }))"""
    )
    return rows


def sides_of(page: Any) -> dict[str, str]:
    """The side of the cut each node is on, as the page's radio buttons say."""
    picked: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#cut-groups .cut-row')].map(
          (row) => [row.dataset.node, row.querySelector('input:checked').value]))"""
    )
    return picked


def matrix_cell(page: Any, node: str, origin: str) -> Any:
    """The matrix's cell for what `node` holds of `origin` (its data-behind, its title)."""
    return page.locator(f'#matrix tr[data-node="{node}"] td[data-origin="{origin}"]')


def test_the_genealogy_of_a_fresh_update_is_a_tree_that_fits_the_arrival_times(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    from playwright.sync_api import expect

    page = open_page(cluster.ports[0])
    page.fill("#obs-token", TOKEN)
    origin = nid(cluster.ports[2])
    uuid = start_update(page, cluster.ports[2])
    expect(page.locator("#gen-tree li")).to_have_count(5)
    expect(page.locator("#gen-title")).to_contain_text("all 5 nodes have it")
    rows = genealogy(page)
    assert sorted(r["node"] for r in rows) == sorted(nid(p) for p in cluster.ports)
    by = {r["node"]: r for r in rows}
    root = by.pop(origin)
    assert root["parent"] == "" and root["hops"] == 0 and root["under"] is None
    for node, r in by.items():
        parent = root if r["parent"] == origin else by[r["parent"]]
        assert r["under"] == r["parent"], f"{node} is drawn under its parent"
        assert r["hops"] == parent["hops"] + 1, f"{node}: one hop deeper than its parent"
        assert r["t"] > parent["t"], f"{node} learned it after its parent did"
    # the same tree as the nodes' own records, gathered by the node
    obs = get_json(f"http://127.0.0.1:{BASE_PORT}/observatory", timeout=10)
    u = next(x for x in obs["updates"] if x["uuid"] == uuid)
    assert {n: (v["parent"] or "", v["hops"]) for n, v in u["nodes"].items()} == {
        r["node"]: (r["parent"], r["hops"]) for r in rows
    }
    # drawn over the cluster: an arrow from each parent to its child
    arrows = page.evaluate(
        "[...document.querySelectorAll('#graph line.tree')]"
        ".map((l) => [l.dataset.from, l.dataset.to])"
    )
    assert sorted(map(tuple, arrows)) == sorted((r["parent"], n) for n, r in by.items())
    # the cost next to the ideal, and the spread against the model
    expect(page.locator("#gen-cost")).to_contain_text("ideal 4")
    assert page.locator("#curve-verdict").get_attribute("data-kind") in ("ok", "slow")
    assert page.locator("#curve path.model").count() == 1
    shot(page, "genealogy")
    # and at 390 px, nothing wider than the phone
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(800)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for selector in ("#graph", "#curve", "#gen-tree", "#cut-apply", "#record-start"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, selector
    shot(page, "390")


def test_a_cut_drawn_on_the_page_splits_the_matrix_and_a_heal_joins_it(
    cluster: LocalCluster, page: Any
) -> None:
    from playwright.sync_api import expect

    # draw the cut: a line down the graph, just right of its centre
    page.click("#cut-draw")
    box = page.locator("#graph").bounding_box()
    assert box is not None
    x = box["x"] + box["width"] / 2 + 25
    page.mouse.move(x, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] / 2, steps=5)
    page.mouse.move(x, box["y"] + box["height"] - 5, steps=5)
    page.mouse.up()
    sides = sides_of(page)
    a = sorted(n for n, s in sides.items() if s == "A")
    b = sorted(n for n, s in sides.items() if s == "B")
    assert a and b and sorted(a + b) == sorted(nid(p) for p in cluster.ports)
    page.click("#cut-apply")
    expect(page.locator("#faults-result")).to_contain_text("done on 5 nodes")
    for port in cluster.ports:
        assert admin(port)["blocked"] == (a if nid(port) in b else b)
    expect(page.locator("#graph .side-label")).to_have_count(2)
    expect(page.locator("#graph-desc")).to_contain_text(f"cut into 2 sides ({len(a)} | {len(b)})")
    # news on each side: the two sides diverge on the matrix
    pa, pb = (int(n.rsplit(":", 1)[1]) for n in (a[0], b[0]))
    start_update(page, pa)
    start_update(page, pb)
    for side, other in ((a, b), (b, a)):
        for row in side:
            expect(matrix_cell(page, row, other[0])).not_to_have_attribute("data-behind", "0")
            expect(matrix_cell(page, row, side[0])).to_have_attribute("data-behind", "0")
    expect(page.locator("#cluster-summary")).to_have_attribute("data-converged", "false")
    # the spread falls well behind the model, and the page names the other side
    expect(page.locator("#curve-verdict")).to_have_attribute("data-kind", "behind", timeout=30_000)
    lagging = page.evaluate(
        "[...document.querySelectorAll('#curve-verdict [data-lagging]')]"
        ".map((b) => b.dataset.lagging)"
    )
    assert sorted(lagging) == a
    # a node's view, and its diff with a node across the cut
    page.locator(f'#graph g.node[data-node="{a[0]}"]').click()
    page.select_option("#insp-diff", b[0])
    expect(page.locator("#insp-diff-table")).to_contain_text(f"origin :{pa}")
    expect(page.locator("#insp-diff-table")).to_contain_text(f"origin :{pb}")
    page.wait_for_timeout(600)
    shot(page, "partition")
    # heal: the sides join and the matrix converges again
    page.click("#heal")
    expect(page.locator("#faults-result")).to_contain_text("Healing the partition: done on 5 nodes")
    assert all(admin(p)["blocked"] == [] for p in cluster.ports)
    expect(page.locator("#cluster-summary")).to_have_attribute(
        "data-converged", "true", timeout=40_000
    )
    expect(page.locator("#graph .side-label")).to_have_count(0)
    expect(page.locator("#curve-verdict")).not_to_have_attribute(
        "data-kind", "behind", timeout=30_000
    )
    page.wait_for_timeout(1500)
    shot(page, "healed")


def test_a_recorded_episode_replays_to_the_state_it_ended_with(
    cluster: LocalCluster, page: Any
) -> None:
    from playwright.sync_api import expect

    page.click("#record-start")
    expect(page.locator("#obs-mode")).to_contain_text("Recording since")
    start_update(page, cluster.ports[1])
    page.click("#cut-apply")  # the page's first proposal: the first half against the rest
    expect(page.locator("#faults-result")).to_contain_text("done on 5 nodes")
    start_update(page, cluster.ports[0])
    start_update(page, cluster.ports[4])
    page.wait_for_timeout(1500)
    page.click("#heal")
    expect(page.locator("#faults-result")).to_contain_text("Healing the partition: done")
    cluster.wait_converged(40)
    start_update(page, cluster.ports[3])
    cluster.wait_converged(20)
    page.wait_for_timeout(1000)
    page.click("#record-stop")
    expect(page.locator("#obs-mode")).to_contain_text("Replay of")
    expect(page.locator("#end-check")).to_have_attribute("data-agree", "true")
    expect(page.locator("#end-check")).to_contain_text(
        "every node (5) is in the state the record ended with"
    )
    # the replay's end is the state the cluster is in (no node has changed since)
    replayed = page.evaluate("window.GossipObservatory.state.replay.finalVersions()")
    actual = {
        nid(p): {o: e["version"] for o, e in cluster.state(p)["origins"].items()}
        for p in cluster.ports
    }
    assert replayed == actual
    # scrubbing into the partition shows the two sides and a split matrix ...
    page.evaluate(
        """() => { const rp = window.GossipObservatory.state.replay;
          const cut = rp.lines.find((l) => l.kind === "faults_set" && l.blocked.length);
          const heal = rp.lines.find(
            (l) => l.kind === "faults_set" && !l.blocked.length && l.t > cut.t);
          window.GossipObservatory.seekTo((cut.t + heal.t) / 2); }"""
    )
    expect(page.locator("#graph .side-label")).to_have_count(2)
    expect(page.locator("#cluster-summary")).to_have_attribute("data-replay", "true")
    expect(page.locator("#cluster-summary")).to_have_attribute("data-converged", "false")
    shot(page, "replay-partition")
    # ... and playing on at 8x ends where the cluster ended: converged, the same versions
    page.select_option("#speed", "8")
    page.click("#play")
    page.wait_for_function(
        "() => { const o = window.GossipObservatory.state;"
        " return !o.playing && o.rt >= o.replay.t1; }",
        timeout=60_000,
    )
    expect(page.locator("#cluster-summary")).to_have_attribute("data-converged", "true")
    for p in cluster.ports:
        for o, version in actual[nid(p)].items():
            cell = matrix_cell(page, nid(p), o)
            expect(cell).to_have_attribute("data-behind", "0")
            assert str(version) in (cell.get_attribute("title") or "")
    page.click("#step-prev")
    expect(page.locator("#replay-event")).not_to_be_empty()
    shot(page, "replay-end")
    # saved, and loaded again from the file: the same record
    with page.expect_download() as download:
        page.click("#save-record")
    path = download.value.path()
    text = path.read_text()
    assert json.loads(text.splitlines()[0])["kind"] == "header"
    page.click("#back-live")
    expect(page.locator("#obs-mode")).to_have_text("● Live")
    page.set_input_files("#record-file", path)
    expect(page.locator("#end-check")).to_have_attribute("data-agree", "true")
    page.click("#back-live")


def test_a_100_node_simulated_record_with_a_partition_replays(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    from playwright.sync_api import expect

    OUTPUT.mkdir(exist_ok=True)
    record = OUTPUT / "obs-simulated-100.jsonl"
    argv = ["--nodes", "100", "--seconds", "30", "--partition", "8:20", "--updates", "6"]
    assert record_main([*argv, "--seed", "3", "--out", str(record)]) == 0
    page = open_page(cluster.ports[0], width=1440, height=1000)
    page.set_input_files("#record-file", str(record))
    expect(page.locator("#record-result")).to_contain_text("100 nodes")
    expect(page.locator("#record-result")).to_contain_text("a simulated run")
    expect(page.locator("#end-check")).to_contain_text("every node (100)")
    expect(page.locator("#graph g.node")).to_have_count(100)
    head = json.loads(record.read_text().split("\n", 1)[0])
    page.evaluate(f"window.GossipObservatory.seekTo({head['since'] + 15})")  # mid-partition
    expect(page.locator("#graph .side-label")).to_have_count(2)
    expect(page.locator("#graph-desc")).to_contain_text("cut into 2 sides (50 | 50)")
    expect(page.locator("#matrix tbody tr")).to_have_count(100)
    before = page.inner_text("#replay-event")
    page.click("#step-next")
    expect(page.locator("#replay-event")).not_to_have_text(before)
    page.wait_for_timeout(500)
    shot(page, "simulated-100")
    page.click("#to-end")
    expect(page.locator("#graph .side-label")).to_have_count(0)
    expect(page.locator("#cluster-summary")).to_have_attribute("data-converged", "true")
    page.click("#back-live")


def test_two_rumours_race_and_the_page_says_where_each_node_ends(
    cluster: LocalCluster, page: Any
) -> None:
    from playwright.sync_api import expect

    first, last = nid(cluster.ports[0]), nid(cluster.ports[-1])
    page.select_option("#race-a", first)
    page.select_option("#race-b", last)
    page.click("#race-button")
    expect(page.locator("#race-view")).to_be_visible()
    rows = page.locator("#race-table tbody tr")
    expect(rows).to_have_count(5)
    for i in range(5):
        expect(rows.nth(i).locator("td").nth(3)).to_contain_text("A ")
        expect(rows.nth(i).locator("td").nth(3)).to_contain_text("B ")
    expect(page.locator("#race-why")).to_contain_text("Different origins")
    expect(page.locator("#graph line.tree-b")).to_have_count(4)
    page.wait_for_timeout(500)
    shot(page, "race")
    # the same node twice: two versions of one origin; version order decides
    page.select_option("#race-a", nid(cluster.ports[1]))
    page.select_option("#race-b", nid(cluster.ports[1]))
    page.click("#race-button")
    expect(page.locator("#race-why")).to_contain_text("version order")
    for i in range(5):
        expect(rows.nth(i).locator("td").nth(3)).to_contain_text("the higher version")


def test_loss_set_on_one_node_shows_as_a_band_on_the_timeline(
    cluster: LocalCluster, page: Any
) -> None:
    from playwright.sync_api import expect

    victim = nid(cluster.ports[3])
    page.locator(f'#graph g.node[data-node="{victim}"]').click()
    expect(page.locator("#fe-node")).to_have_text(f":{cluster.ports[3]}")
    page.fill("#fe-drop", "30")
    page.fill("#fe-delay", "40")
    page.click("#fe-apply")
    expect(page.locator("#faults-result")).to_contain_text("done on 1 node")
    assert admin(cluster.ports[3])["drop"] == 0.3 and admin(cluster.ports[3])["delay_ms"] == 40
    label = page.locator("#timeline .row-label", has_text=f":{cluster.ports[3]}")
    expect(label).to_have_count(1)
    bands = page.locator("#timeline .band title").filter(has_text="drop 30 %, +40±0 ms")
    expect(bands).to_have_count(1)
    expect(bands).to_contain_text(f"{victim}: ")
    expect(bands).to_contain_text("(still on)")
    page.click("#fe-isolate")
    expect(page.locator("#faults-result")).to_contain_text(f"Isolating {victim}: done on 5 nodes")
    expect(page.locator("#graph-desc")).to_contain_text("cut into 2 sides (4 | 1)")
    started = time.monotonic()
    page.click("#fe-isolate")  # now "Let it rejoin"
    expect(page.locator("#faults-result")).to_contain_text(f"Letting {victim} rejoin: done")
    expect(page.locator("#graph .side-label")).to_have_count(0)
    assert time.monotonic() - started < WAIT_S
    shot(page, "faults")


def test_the_page_merges_a_record_as_the_nodes_do(
    cluster: LocalCluster, open_page: OpenPage
) -> None:
    """The replay's genealogy (replay.js) and the node's (node/genealogy.py), from one run."""
    lines, python = seeded_episode()
    text = "\n".join(json.dumps(line) for line in lines)
    page = open_page(cluster.ports[0])
    js = page.evaluate(
        "async (text) => { const R = await import(new URL('static/replay.js', location.href));"
        " const rp = R.load(text, 'run'); return rp.view(rp.t1).updates; }",
        text,
    )
    assert len(python) == len(js) == 5
    fields = ("uuid", "origin", "version", "reached", "of", "depth", "copies", "redundant",
              "ideal_copies", "ideal_depth")  # fmt: skip
    for p, j in zip(python, js, strict=True):
        assert {k: p[k] for k in fields} == {k: j[k] for k in fields}
        for k in ("pending", "overtaken"):
            assert sorted(p[k]) == sorted(j[k])
        assert p["sent_at"] == pytest.approx(j["sent_at"])
        assert p["spread_s"] == pytest.approx(j["spread_s"])
        for node, v in p["nodes"].items():
            w = j["nodes"][node]
            assert (v["parent"], v["hops"], v["via"], v["dups"], v["stale"], v["senders"]) == (
                w["parent"], w["hops"], w["via"], w["dups"], w["stale"], w["senders"]
            )  # fmt: skip
            assert v["delay_s"] == pytest.approx(w["delay_s"])
        assert sorted(p["nodes"]) == sorted(j["nodes"])
