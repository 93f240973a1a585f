"""Settings from the environment and flags: defaults, the seed's flags, and a bad value that
stops the node with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from node import from_env, parse_args
from node.settings import SettingsError, load_movies, own_networks


def test_defaults_are_the_contracts() -> None:
    s = from_env({})
    assert (s.port, s.bootstrap, s.advertise, s.log_format, s.log_level) == (
        7000,
        None,
        "127.0.0.1:7000",
        "json",
        "info",
    )
    assert s.config.resample_s == 10.0
    assert len(load_movies(s.movies)) >= 100


def test_the_seeds_flags_start_a_peer_and_a_first_node() -> None:
    peer = parse_args(["-p", "7001", "-b", "7000"], {})
    assert (peer.port, peer.bootstrap, peer.advertise) == (7001, "127.0.0.1:7000", "127.0.0.1:7001")
    first = parse_args(["-p", "7000", "-b", "7000"], {})
    assert first.bootstrap is None  # bootstrapping from itself: the first node


def test_flags_win_over_the_environment() -> None:
    s = parse_args(["--fanout", "5"], {"GOSSIP_FANOUT": "2", "GOSSIP_TTL": "4"})
    assert (s.config.fanout, s.config.ttl) == (5, 4)


def test_settings_map_onto_the_protocol_knobs() -> None:
    s = from_env(
        {
            "GOSSIP_RESAMPLE_SECONDS": "2",
            "GOSSIP_SYNC_SECONDS": "0.5",
            "GOSSIP_TTL": "20",
            "GOSSIP_BOOTSTRAP": "bootstrap:7000",
            "GOSSIP_ADVERTISE": "10.1.2.3:7000",
            "GOSSIP_SEED": "42",
        }
    )
    assert (s.config.resample_s, s.config.sync_s, s.config.ttl) == (2.0, 0.5, 20)
    assert s.config.max_ttl >= 20  # raising the TTL raises the clamp with it
    assert (s.bootstrap, s.advertise, s.seed) == ("bootstrap:7000", "10.1.2.3:7000", 42)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("GOSSIP_PORT", "seventy"),
        ("GOSSIP_PORT", "70000"),
        ("GOSSIP_FANOUT", "0"),
        ("GOSSIP_FANOUT", "1.5"),
        ("GOSSIP_TTL", "-1"),
        ("GOSSIP_SYNC_SECONDS", "nan"),
        ("GOSSIP_RESAMPLE_SECONDS", "-3"),
        ("GOSSIP_BOOTSTRAP", "host:"),
        ("GOSSIP_LOG_FORMAT", "xml"),
        ("GOSSIP_LOG_LEVEL", "loud"),
        ("GOSSIP_SEED", "x"),
        ("GOSSIP_REQUEST_TIMEOUT_SECONDS", "0"),
    ],
)
def test_a_bad_value_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        from_env({var: value})


def test_an_unreadable_movies_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="GOSSIP_MOVIES"):
        load_movies(tmp_path / "missing.txt")
    (tmp_path / "empty.txt").write_text("\n  \n")
    with pytest.raises(SettingsError, match="GOSSIP_MOVIES"):
        load_movies(tmp_path / "empty.txt")


def test_one_seed_for_every_node_still_gives_each_its_own_random_source() -> None:
    a = from_env({"GOSSIP_SEED": "7", "GOSSIP_PORT": "7001"})
    b = from_env({"GOSSIP_SEED": "7", "GOSSIP_PORT": "7002"})
    assert a.rng().random() == from_env({"GOSSIP_SEED": "7", "GOSSIP_PORT": "7001"}).rng().random()
    assert a.rng().random() != b.rng().random()


ROUTES = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "eth0\t00000000\t010012AC\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"  # default: the world
    "eth0\t000012AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"  # 172.18.0.0/16
    "eth1\t0001000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"  # 10.0.1.0/24
)


def test_own_networks_are_loopback_and_the_routes_but_never_the_default_one(
    tmp_path: Path,
) -> None:
    table = tmp_path / "route"
    table.write_text(ROUTES)
    nets = own_networks("172.18.0.5:7000", table)
    assert nets == ["127.0.0.0/8", "::1/128", "172.18.0.0/16", "10.0.1.0/24"]
    # an advertised address on none of them brings its own /24 (or /64)
    assert own_networks("192.168.7.9:7000", table)[-1] == "192.168.7.0/24"
    assert own_networks("[fd00::5]:7000", tmp_path / "absent")[-1] == "fd00::/64"
    assert own_networks("peer-3:7000", tmp_path / "absent") == ["127.0.0.0/8", "::1/128"]


def test_peer_networks_are_auto_any_or_a_list_and_a_bad_one_is_named() -> None:
    assert "127.0.0.0/8" in from_env({}).config.peer_networks
    assert from_env({"GOSSIP_PEER_NETWORKS": "any"}).config.peer_networks == ()
    listed = from_env({"GOSSIP_PEER_NETWORKS": "10.0.0.0/8, 192.0.2.1/24"})
    assert listed.config.peer_networks == ("10.0.0.0/8", "192.0.2.0/24")
    with pytest.raises(SettingsError, match=r"GOSSIP_PEER_NETWORKS.*not a network"):
        from_env({"GOSSIP_PEER_NETWORKS": "10.0.0.0/33"})
