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
