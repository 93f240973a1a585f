"""The node's /metrics text: the per-origin families are written by node.metrics itself (the
Prometheus client's writer cost 4 ms a scrape at 101 origins); they must read back, through
the Prometheus client's own parser, as exactly what the node knows."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from lab.simnet import Network
from node.core import Config
from node.metrics import NodeMetrics, _label_value


def _families(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        f.name: [(s.labels, s.value) for s in f.samples]
        for f in text_string_to_metric_families(text)
    }


def test_every_origin_reads_back_with_its_version_and_delay() -> None:
    net = Network(Config(resample_s=0), seed=3, check=False)
    nodes = net.cluster(12, joined=True)
    net.run_for(2.0)
    node = nodes[4]
    fams = _families(NodeMetrics(node, "n4").render().decode())
    seen = {labels["origin"]: value for labels, value in fams["gossip_version_seen"]}
    assert seen == {o: float(node.table.version(o)) for o in node.table} and len(seen) == 12
    delays = dict((labels["origin"], v) for labels, v in fams["gossip_version_delay_seconds"])
    for origin in node.table:
        entry = node.table.get(origin)
        assert entry is not None and entry.message.sent_at is not None
        assert delays[origin] == max(entry.learned_at - entry.message.sent_at, 0.0)
    # the rest is still there, once each
    assert [v for _, v in fams["gossip_own_version"]] == [float(node.version)]
    assert "gossip_propagation_seconds" in fams and "gossip_node_info" in fams


def test_a_label_value_with_quotes_backslashes_and_newlines_reads_back() -> None:
    odd = 'a"b\\c\nd'
    text = f'# TYPE x gauge\nx{{origin="{_label_value(odd)}"}} 1\n'
    assert _families(text)["x"] == [({"origin": odd}, 1.0)]
    assert _label_value("10.0.0.7:7000") == "10.0.0.7:7000"


def test_the_histogram_reads_back_as_the_prometheus_clients_own() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from node.metrics import _BUCKETS, _Histogram

    registry = CollectorRegistry()
    theirs = Histogram("h_seconds", "a histogram", buckets=_BUCKETS, registry=registry)
    ours = _Histogram("h_seconds", "a histogram", _BUCKETS, created=0.0)
    # on every bound (a value equal to a bound counts in its bucket), between, past the last
    for value in [*_BUCKETS, 0.0, 0.0003, 0.07, 3.0, 29.99, 31.0, 1e6, 0.0025, 0.0025]:
        theirs.observe(value)
        ours.observe(value)
    lines: list[str] = []
    ours.write(lines)
    mine = _families("\n".join(lines) + "\n")
    clients = _families(generate_latest(registry).decode())
    assert mine["h_seconds"] == clients["h_seconds"]
    assert set(mine) == set(clients)  # the _created gauge too


def test_every_counter_and_gauge_reads_back_as_the_core_and_the_shell_hold_it() -> None:
    net = Network(Config(resample_s=0.5), seed=5, check=False)
    nodes = net.cluster(6, joined=True)
    net.run_for(5.0)
    node = nodes[2]
    invalid = {"malformed_json": 2, "a_reason_of_the_future": 1}
    fams = _families(NodeMetrics(node, 'odd "name"', invalid=invalid).render().decode())
    stats = node.stats
    for family, field in [
        ("gossip_messages_received", "received"),
        ("gossip_messages_sent", "sent"),
        ("gossip_messages_deduplicated", "deduplicated"),
        ("gossip_updates_applied", "applied"),
        ("gossip_sync_rounds", "syncs"),
        ("gossip_requests_sent", "requests_sent"),
    ]:
        assert fams[family] == [({}, float(getattr(stats, field)))], family
    assert stats.received > 0 and stats.syncs > 0  # (not a check of zeros)
    refused = {labels["reason"]: v for labels, v in fams["gossip_invalid_requests"]}
    assert refused["malformed_json"] == 2 and refused["a_reason_of_the_future"] == 1
    assert refused["too_deep"] == 0  # every known reason is there from the start
    by_state = {labels["state"]: v for labels, v in fams["gossip_peers"]}
    assert by_state == {s: float(n) for s, n in node.peers.counts().items()}
    assert fams["gossip_origins_known"] == [({}, float(len(node.table)))]
    (info,) = fams["gossip_node_info"]
    assert info == ({"node": node.id, "name": 'odd "name"', "generation": str(node.generation)}, 1)
    assert fams["gossip_node_ready"] == [({}, 1.0)]
