"""The lab's Grafana dashboards as code: writes grafana/dashboards/*.json.

    python grafana/generate.py          # rewrite the JSON files Grafana provisions
    python grafana/generate.py --check  # exit 1 if they differ from what this builds

Built with grafana-foundation-sdk (pinned in pyproject.toml's `test` extra, which `dev`
includes: pip install -e ".[dev]"; its versions carry an epoch, `1769699379!11.6.0` is the
Grafana 11.6 build). The JSON is committed, since Grafana reads files;
tests/unit/test_compose_config.py checks that the two agree and that every panel queries
the provisioned datasource. Every expression here is run against a real Prometheus by
tests/docker/test_compose_lab.py, so a query that returns nothing fails the tests.

Queries read the recording rules of prometheus/rules/gossip.yml where one exists (the
convergence series), and the nodes' metrics (docs/reference.md, docs/observability.md)
otherwise. Rates use
`$__rate_interval`, which the datasource's 2 s scrape interval keeps at 8 s or more.

Names, not addresses: every node reports its display name in `gossip_node_info{name}`.
Per-node series are multiplied by it (`* on (instance) group_left (name)`), which both
keeps the nodes selected in `$node` (whose values are names) and gives the legend its
`{{name}}`; per-origin series are joined the same way on `origin` (the origin's id is its
`node` label) for `{{origin_name}}`. An origin whose node Prometheus no longer scrapes
drops out of the per-origin panels (the recording rules still count it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT = Path(__file__).resolve().parent / "dashboards"

#: The datasource every panel uses; grafana/provisioning/datasources/prometheus.yml gives
#: it this uid.
DATASOURCE_UID = "gossip-prometheus"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
TAG = "gossip-lab"

JOB = 'job="gossip"'
#: 1 per scraped node selected in $node, labelled with its instance and name.
NAMES = 'max by (instance, name) (gossip_node_info{job="gossip", name=~"$node"})'
#: 1 per origin selected in $origin, labelled with its id (origin) and name (origin_name).
ORIGIN_NAMES = (
    "max by (origin, origin_name) (label_replace(label_replace("
    'gossip_node_info{job="gossip", name=~"$origin"}, '
    '"origin", "$1", "node", "(.*)"), "origin_name", "$1", "name", "(.*)"))'
)


def of_nodes(expr: str) -> str:
    """`expr` (with an `instance` label) for the nodes in $node, each with its `name`."""
    return f"{expr} * on (instance) group_left (name) {NAMES}"


def of_origins(expr: str) -> str:
    """`expr` (with an `origin` label) for the origins in $origin, with `origin_name`."""
    return f"{expr} * on (origin) group_left (origin_name) {ORIGIN_NAMES}"


#: 1 where a node knows the newest version of an origin, 0 where it is behind.
KNOWS_NEWEST = of_origins(
    of_nodes(
        f"(gossip_version_seen{{{JOB}}}"
        " == bool on (origin) group_left () origin:gossip_version_seen:max)"
    )
)


# --- building blocks ---------------------------------------------------------------------
def query(
    expr: str, legend: str = "", ref: str = "A", instant: bool = False
) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    return q.instant() if instant else q.range()


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=v, color=c) for v, c in steps])
    )


def legend_table(*calcs: str) -> cb.VizLegendOptions:
    return (
        cb.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.RIGHT)
        .show_legend(True)
        .calcs(list(calcs))
    )


def graph(
    title: str,
    description: str,
    *queries: prometheus.Dataquery,
    unit: str = "short",
    w: int = 12,
    h: int = 8,
    stacked: bool = False,
) -> timeseries.Panel:
    p = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .span(w)
        .height(h)
        .line_width(1)
        .fill_opacity(10)
        .legend(legend_table("lastNotNull", "max"))
        .tooltip(cb.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI))
    )
    if stacked:
        p = p.stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL)).fill_opacity(40)
    for q in queries:
        p = p.with_target(q)
    return p


def big_number(
    title: str,
    description: str,
    q: prometheus.Dataquery,
    unit: str = "short",
    steps: tuple[tuple[float | None, str], ...] = ((None, "blue"),),
    w: int = 4,
) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(q)
        .unit(unit)
        .span(w)
        .height(4)
        .thresholds(thresholds(*steps))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.AREA)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def timeline(
    title: str,
    description: str,
    q: prometheus.Dataquery,
    mappings: list[dm.ValueMapping],
    steps: tuple[tuple[float | None, str], ...],
    h: int = 10,
) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(q)
        .span(24)
        .height(h)
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.9)
        .fill_opacity(80)
        .line_width(0)
        .mappings(mappings)
        .thresholds(thresholds(*steps))
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
        .legend(cb.VizLegendOptions().show_legend(False))
    )


def value_text(texts: dict[str, tuple[str, str]]) -> dm.ValueMap:
    """Value mapping, e.g. {"1": ("newest", "green"), "0": ("behind", "red")}."""
    return dm.ValueMap(
        options={
            value: dm.ValueMappingResult(text=text, color=color, index=i)
            for i, (value, (text, color)) in enumerate(texts.items())
        }
    )


def variable(name: str, label: str, expr: str, of: str) -> db.QueryVariable:
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query({"query": f"label_values({expr}, {of})", "refId": f"{name}-values"})
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.NATURAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


# Both list names (gossip_node_info's), which the queries join on; addresses are not shown.
NODE_VAR = variable("node", "Node", 'gossip_node_info{job="gossip"}', "name")
ORIGIN_VAR = variable("origin", "Origin", 'gossip_node_info{job="gossip"}', "name")


def dashboard(uid: str, title: str, description: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags([TAG])
        .refresh("5s")
        .time("now-15m", "now")
        .timezone("browser")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .readonly()
        .link(
            db.DashboardLink("Gossip Lab")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags([TAG])
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )


def rate(metric: str, by: str = "instance, name") -> str:
    """Per second, summed `by` (per node by default), over the nodes in $node."""
    return total(of_nodes(f"rate({metric}{{{JOB}}}[$__rate_interval])"), by)


def total(expr: str, by: str) -> str:
    return f"sum by ({by}) ({expr})" if by else f"sum({expr})"


def total_rate(metric: str) -> str:
    """Per second, all the nodes in $node together."""
    return rate(metric, by="")


# --- the dashboards ------------------------------------------------------------------------
def convergence() -> db.Dashboard:
    latency = rate("gossip_propagation_seconds_bucket", by="le")
    return (
        dashboard(
            "gossip-convergence",
            "Convergence",
            "Does every node know every node's newest favourite, and how fast does news spread?",
        )
        .with_variable(NODE_VAR)
        .with_variable(ORIGIN_VAR)
        .with_row(db.Row("Now"))
        .with_panel(
            big_number(
                "Nodes",
                "Nodes Prometheus scrapes right now.",
                query("cluster:gossip_nodes:count"),
            )
        )
        .with_panel(
            big_number(
                "Cluster converged",
                "Fraction of (node, origin) pairs where the node knows the origin's newest "
                "version of 2 s ago (the nodes are scraped up to a second apart). 100 % is "
                "full convergence; a node that lags by more than 2 s dips it.",
                query("cluster:gossip_converged:ratio"),
                unit="percentunit",
                steps=((None, "red"), (0.75, "orange"), (1, "green")),
            )
        )
        .with_panel(
            big_number(
                "Origins behind",
                "Origins whose newest version of 2 s ago some node does not know yet.",
                query("cluster:gossip_origins_behind:count"),
                steps=((None, "green"), (1, "orange")),
            )
        )
        .with_panel(
            big_number(
                "Time to reach all (median)",
                "Median over origins of the time their latest update took to reach the last "
                "node (from the origin's send).",
                query("quantile(0.5, origin:gossip_update_reach_all_seconds:max)"),
                unit="s",
            )
        )
        .with_panel(
            big_number(
                "Propagation p50",
                "Median time from an origin's send to the first arrival at a node.",
                query(f"histogram_quantile(0.5, {latency})"),
                unit="s",
            )
        )
        .with_panel(
            big_number(
                "Propagation p99",
                "99th percentile of the time from an origin's send to the first arrival at a node.",
                query(f"histogram_quantile(0.99, {latency})"),
                unit="s",
            )
        )
        .with_row(db.Row("Who knows what"))
        .with_panel(
            table.Panel()
            .title("Who knows each origin's newest version (now)")
            .description(
                "Rows are nodes, columns are origins (by name): ✓ where the node knows the "
                "origin's newest version, ✗ where it is behind, empty where it has not heard "
                "of it."
            )
            .datasource(DATASOURCE)
            .with_target(
                query(KNOWS_NEWEST, legend="{{origin_name}}", instant=True).format(
                    PromQueryFormat.TABLE
                )
            )
            .with_transformation(
                dm.DataTransformerConfig(
                    id_val="groupingToMatrix",
                    options={
                        "columnField": "origin_name",
                        "rowField": "name",
                        "valueField": "Value",
                        "emptyValue": "null",
                    },
                )
            )
            .mappings([value_text({"1": ("✓", "green"), "0": ("✗", "red")})])
            .cell_options(common.TableColoredBackgroundCellOptions())
            .color_scheme(
                db.FieldColor().mode(dm.FieldColorModeId.FIXED).fixed_color("transparent")
            )
            .span(24)
            .height(8)
        )
        .with_panel(
            timeline(
                "Knows the newest version: node ← origin",
                "For each node (and origin), green while it knows the origin's newest "
                "version, red while it is behind. A red sliver after each new favourite is "
                "the news in flight; a red band that stays is a node that is cut off.",
                query(KNOWS_NEWEST, legend="{{name}} ← {{origin_name}}"),
                [value_text({"1": ("newest", "green"), "0": ("behind", "red")})],
                ((None, "red"), (1, "green")),
                h=12,
            )
        )
        .with_row(db.Row("How fast"))
        .with_panel(
            graph(
                "Converged fraction",
                "Whole cluster, and per origin: the fraction of nodes that know the "
                "origin's newest version of 2 s ago.",
                query("cluster:gossip_converged:ratio", legend="cluster", ref="A"),
                query(of_origins("origin:gossip_converged:ratio"), "{{origin_name}}", "B"),
                unit="percentunit",
            )
        )
        .with_panel(
            graph(
                "Time for each update to reach every node",
                "Per origin: once every node knows its newest version, how long that update "
                "took from the origin's send to the last node. One step per update.",
                query(
                    of_origins("origin:gossip_update_reach_all_seconds:max"),
                    legend="{{origin_name}}",
                ),
                unit="s",
            )
        )
        .with_panel(
            graph(
                "Propagation latency",
                "From the origin's send to the first arrival at a node "
                "(gossip_propagation_seconds), over the selected nodes.",
                query(f"histogram_quantile(0.5, {latency})", "p50", "A"),
                query(f"histogram_quantile(0.9, {latency})", "p90", "B"),
                query(f"histogram_quantile(0.99, {latency})", "p99", "C"),
                unit="s",
            )
        )
        .with_panel(
            graph(
                "Nodes behind, per origin",
                "How many nodes do not know the origin's newest version yet.",
                query(of_origins("origin:gossip_nodes_behind:count"), "{{origin_name}}"),
            )
        )
    )


#: The per-node counters the traffic dashboard draws as rates, one graph each: the title,
#: the metric and what it counts.
PER_NODE_RATES = (
    (
        "Received /s",
        "gossip_messages_received_total",
        "Gossip messages received (each message of a batch).",
    ),
    ("Sent /s", "gossip_messages_sent_total", "Gossip messages sent (each copy to each peer)."),
    (
        "Deduplicated /s",
        "gossip_messages_deduplicated_total",
        "Received messages dropped as already seen (same UUID).",
    ),
    (
        "TTL drops /s",
        "gossip_ttl_drops_total",
        "Messages applied but not forwarded: their TTL was spent.",
    ),
    ("Stale /s", "gossip_stale_messages_total", "Messages no newer than what the node knew."),
)


def traffic() -> db.Dashboard:
    d = (
        dashboard(
            "gossip-traffic",
            "Traffic",
            "What the nodes send and receive, and what they drop, per node.",
        )
        .with_variable(NODE_VAR)
        .with_row(db.Row("Cluster"))
        .with_panel(
            big_number(
                "Messages sent /s",
                "Gossip messages sent by all nodes (each copy to each peer).",
                query(total_rate("gossip_messages_sent_total")),
                unit="short",
                w=6,
            )
        )
        .with_panel(
            big_number(
                "Updates applied /s",
                "First arrivals of news, all nodes together.",
                query(total_rate("gossip_updates_applied_total")),
                w=6,
            )
        )
        .with_panel(
            big_number(
                "Messages per applied update",
                "Messages sent for each first arrival: the cost of spreading news "
                "(pushes, forwards and anti-entropy replies).",
                query(
                    f"{total_rate('gossip_messages_sent_total')}"
                    f" / {total_rate('gossip_updates_applied_total')}"
                ),
                w=6,
            )
        )
        .with_panel(
            big_number(
                "Requests failing",
                "Fraction of requests to peers that failed or timed out.",
                query(
                    f"{total_rate('gossip_requests_failed_total')}"
                    f" / {total_rate('gossip_requests_sent_total')}"
                ),
                unit="percentunit",
                steps=((None, "green"), (0.01, "orange"), (0.1, "red")),
                w=6,
            )
        )
        .with_row(db.Row("Per node"))
    )
    for title, metric, what in PER_NODE_RATES:
        d = d.with_panel(graph(title, what, query(rate(metric), "{{name}}")))
    return (
        d.with_panel(
            graph(
                "Invalid requests /s",
                "Requests refused, by node and reason (gossip_invalid_requests_total).",
                query(
                    rate("gossip_invalid_requests_total", by="instance, name, reason"),
                    "{{name}} {{reason}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Updates applied /s",
                "First arrivals of news at each node.",
                query(rate("gossip_updates_applied_total"), "{{name}}"),
            )
        )
        .with_panel(
            graph(
                "Requests to peers /s",
                "Requests made (push, anti-entropy, probes) and those that failed.",
                query(rate("gossip_requests_sent_total"), "{{name}} sent", "A"),
                query(rate("gossip_requests_failed_total"), "{{name}} failed", "B"),
            )
        )
        .with_row(db.Row("Faults injected"))
        .with_panel(
            big_number(
                "Faults /s",
                "Effects of the nodes' fault layers (GOSSIP_FAULT_*, PUT /admin/faults, "
                "lab.chaos, the observatory), all nodes together. 0 unless someone is "
                "breaking the lab on purpose.",
                query(total_rate("gossip_faults_total")),
                steps=((None, "green"), (0.001, "orange")),
                w=6,
            )
        )
        .with_panel(
            graph(
                "Faults injected /s, by node and effect",
                "gossip_faults_total{effect}: requests dropped, duplicated or delayed on the "
                "way out, and blocked by a partition (blocked_out: to a blocked peer, "
                "blocked_in: refused from one).",
                query(
                    rate("gossip_faults_total", by="instance, name, effect"), "{{name}} {{effect}}"
                ),
                w=18,
            )
        )
    )


def membership() -> db.Dashboard:
    def peers(state: str, by: str = "instance, name") -> str:
        selector = f'gossip_peers{{{JOB}, state="{state}"}}'
        return total(of_nodes(selector), by)

    return (
        dashboard(
            "gossip-membership",
            "Membership",
            "Who the nodes think is alive, suspect or dead; which nodes Prometheus reaches.",
        )
        .with_variable(NODE_VAR)
        .with_row(db.Row("Cluster"))
        .with_panel(
            big_number(
                "Nodes up",
                "Nodes found by DNS that answer Prometheus's scrapes.",
                query('count(up{job="gossip"} == 1) or vector(0)'),
                w=6,
            )
        )
        .with_panel(
            big_number(
                "Nodes not answering",
                "Nodes still in DNS whose scrape fails (a paused or hung container).",
                query('count(up{job="gossip"} == 0) or vector(0)'),
                steps=((None, "green"), (1, "red")),
                w=6,
            )
        )
        .with_panel(
            big_number(
                "Suspect views",
                "Sum over nodes of the peers each holds suspect (one failed exchange).",
                query(peers("suspect", by="")),
                steps=((None, "green"), (1, "orange")),
                w=6,
            )
        )
        .with_panel(
            big_number(
                "Dead views",
                "Sum over nodes of the peers each holds dead (3 failures over at least "
                "3 s); dead peers are probed every 5 s and come back when they answer.",
                query(peers("dead", by="")),
                steps=((None, "green"), (1, "red")),
                w=6,
            )
        )
        .with_row(db.Row("Peers by state, per node"))
        .with_panel(
            graph(
                "Alive peers",
                "Peers each node holds alive.",
                query(peers("alive"), "{{name}}"),
                w=8,
            )
        )
        .with_panel(
            graph(
                "Suspect peers",
                "Peers each node holds suspect: a failed exchange, not yet dead.",
                query(peers("suspect"), "{{name}}"),
                w=8,
            )
        )
        .with_panel(
            graph(
                "Dead peers",
                "Peers each node holds dead. A killed node shows here on every other node "
                "within a few seconds, and leaves again when it comes back.",
                query(peers("dead"), "{{name}}"),
                w=8,
            )
        )
        .with_panel(
            graph(
                "Peers by state, all nodes",
                "Every node's view of its peers, stacked by state.",
                query(f"sum by (state) ({of_nodes(f'gossip_peers{{{JOB}}}')})", "{{state}}"),
                stacked=True,
                w=12,
            )
        )
        .with_panel(
            graph(
                "Failed requests to peers /s",
                "What drives suspicion: requests that failed or timed out.",
                query(rate("gossip_requests_failed_total"), "{{name}}"),
                w=12,
            )
        )
        .with_row(db.Row("Nodes"))
        .with_panel(
            timeline(
                "Scrape target up",
                "Each node found by DNS: green while it answers scrapes, red while it does "
                "not. A stopped or killed container leaves DNS and its row ends.",
                query(
                    # the name as last reported within the range: a node that stopped
                    # answering has no current gossip_node_info, but keeps its row
                    f"up{{{JOB}}} * on (instance) group_left (name) max by (instance, name) "
                    f'(last_over_time(gossip_node_info{{{JOB}, name=~"$node"}}[$__range]))',
                    legend="{{name}}",
                ),
                [value_text({"1": ("up", "green"), "0": ("down", "red")})],
                ((None, "red"), (1, "green")),
                h=8,
            )
        )
        .with_panel(
            timeline(
                "Node life (generation)",
                "Each node's generation (its start time): a change is a restart under the "
                "same id, which versions survive.",
                query(
                    f"gossip_node_ready{{{JOB}}} * on (instance) group_left (name, generation) "
                    f'gossip_node_info{{{JOB}, name=~"$node"}}',
                    legend="{{name}} gen {{generation}}",
                ),
                [value_text({"1": ("ready", "green"), "0": ("starting", "orange")})],
                ((None, "orange"), (1, "green")),
                h=8,
            )
        )
    )


DASHBOARDS: dict[str, Callable[[], db.Dashboard]] = {
    "convergence.json": convergence,
    "traffic.json": traffic,
    "membership.json": membership,
}


def render(build: Callable[[], db.Dashboard]) -> str:
    """The dashboard's JSON as committed: sorted keys, 2-space indent, final newline."""
    data = json.loads(JSONEncoder().encode(build().build()))
    # The SDK leaves every panel's id at 0; Grafana needs them unique (links to a panel).
    for number, panel in enumerate(data["panels"], start=1):
        panel["id"] = number
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = OUT / name, render(build)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python grafana/generate.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
