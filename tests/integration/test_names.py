"""Display names (node.names, GOSSIP_NAME): how a node is named when nobody says, and where
the name shows (settings, log lines, gossip_node_info, /state). The reverse lookup is
passed in, so no test depends on this machine's DNS."""

from __future__ import annotations

import io
import json
import random
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from node import create_app, from_env, parse_args
from node.core import Config, GossipNode
from node.logs import make_logger
from node.metrics import NodeMetrics
from node.names import check_name, default_name, dns_ptr, trim_dns_name
from node.settings import Settings, SettingsError


def answers(table: dict[str, str]):  # type: ignore[no-untyped-def]
    def lookup(ip: str) -> str:
        if ip not in table:
            raise OSError(f"no PTR for {ip}")
        return table[ip]

    return lookup


@pytest.mark.parametrize(
    ("fqdn", "name"),
    [
        ("gossip-lab-peer-3.gossip-lab_gossip", "gossip-lab-peer-3"),
        ("gossip-lab-bootstrap-1.gossip-lab_gossip.", "gossip-lab-bootstrap-1"),
        ("gossip_peer.2.x8k2c0fzq1v5l7m3n4b6a9d0e.gossip_gossip", "gossip_peer.2"),
        ("peer-3", "peer-3"),
        ("host1.example.com", "host1"),
    ],
)
def test_a_reverse_dns_answer_is_trimmed_to_the_container_name(fqdn: str, name: str) -> None:
    assert trim_dns_name(fqdn) == name


def test_a_local_node_is_named_after_its_port() -> None:
    assert from_env({"GOSSIP_PORT": "7001"}).name == ":7001"
    assert parse_args(["-p", "7003", "-b", "7000"], {}).name == ":7003"
    assert default_name("localhost:7002") == ":7002"
    assert Settings().name == ":7000"


def test_a_container_is_named_by_the_reverse_lookup_of_its_address() -> None:
    lookup = answers({"172.18.0.5": "gossip-lab-peer-3.gossip-lab_gossip"})
    s = from_env({"GOSSIP_ADVERTISE": "172.18.0.5:7000"}, lookup=lookup)
    assert (s.advertise, s.name) == ("172.18.0.5:7000", "gossip-lab-peer-3")


def test_without_an_answer_the_name_is_the_address() -> None:
    nothing = answers({})
    assert from_env({"GOSSIP_ADVERTISE": "10.1.2.3:7000"}, lookup=nothing).name == "10.1.2.3:7000"
    # a resolver that answers with the address itself tells nothing either
    echo = answers({"10.1.2.3": "10.1.2.3"})
    assert default_name("10.1.2.3:7000", echo) == "10.1.2.3:7000"


def test_a_slow_resolver_costs_at_most_the_timeout() -> None:
    release = threading.Event()

    def hangs(ip: str) -> str:
        release.wait(10)
        return "too-late.net"

    started = time.monotonic()
    try:
        assert default_name("10.1.2.3:7000", hangs, timeout_s=0.2) == "10.1.2.3:7000"
    finally:
        release.set()
    assert time.monotonic() - started < 2


def test_gossip_name_wins_and_is_checked() -> None:
    lookup = answers({"172.18.0.5": "gossip-lab-peer-3.gossip-lab_gossip"})
    env = {"GOSSIP_ADVERTISE": "172.18.0.5:7000", "GOSSIP_NAME": " berlin "}
    assert from_env(env, lookup=lookup).name == "berlin"
    assert parse_args(["--name", "paris"], {"GOSSIP_NAME": "berlin"}).name == "paris"
    with pytest.raises(SettingsError, match="GOSSIP_NAME"):
        from_env({"GOSSIP_NAME": "x" * 65})
    with pytest.raises(SettingsError, match="GOSSIP_NAME"):
        from_env({"GOSSIP_NAME": "a\tb"})
    assert check_name(" ok ") == "ok"


async def test_the_node_shows_its_name_and_keeps_its_address_as_id(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = from_env({"GOSSIP_PORT": "7992", "GOSSIP_SEED": "1", "GOSSIP_NAME": "berlin"})
    out = tmp_path / "log"
    log = make_logger(settings.advertise, stream=out.open("w"), name=settings.name)
    client = await aiohttp_client(create_app(settings, movies=["Alien", "Heat"], log=log))
    state = await (await client.get("/state")).json()
    assert (state["id"], state["name"]) == ("127.0.0.1:7992", "berlin")
    assert (await (await client.get("/peers/")).json())["self"] == "127.0.0.1:7992"
    metrics = await (await client.get("/metrics")).text()
    (info,) = [x for x in metrics.splitlines() if x.startswith("gossip_node_info{")]
    assert 'name="berlin"' in info and 'node="127.0.0.1:7992"' in info
    cluster = await (await client.get("/cluster")).json()
    assert [(n["id"], n["name"]) for n in cluster["nodes"]] == [("127.0.0.1:7992", "berlin")]
    local = await (await client.get("/observatory/local")).json()
    assert local["name"] == "berlin"


def test_every_log_line_carries_the_name() -> None:
    out = io.StringIO()
    log = make_logger("127.0.0.1:7001", stream=out, name="berlin")
    log.info("node_started")
    log.warning("request_refused", reason="x")
    records = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [(r["node"], r["name"]) for r in records] == [("127.0.0.1:7001", "berlin")] * 2
    # without a name given, the logger derives the same default as the settings
    out = io.StringIO()
    make_logger("127.0.0.1:7002", stream=out).info("node_started")
    assert json.loads(out.getvalue())["name"] == ":7002"


def test_gossip_node_info_carries_the_name() -> None:
    rng = random.Random(1)
    node = GossipNode("172.18.0.5:7000", Config(), now=100.0, rng=rng, movies=("Alien",))
    text = NodeMetrics(node, "gossip-lab-peer-3").render().decode()
    (line,) = [x for x in text.splitlines() if x.startswith("gossip_node_info{")]
    assert 'name="gossip-lab-peer-3"' in line and 'node="172.18.0.5:7000"' in line
    assert line.endswith(" 1.0")


class FakeDns:
    """A one-shot nameserver on loopback that answers a PTR query the way Docker's embedded
    DNS does: the question echoed, one PTR answer whose name is partly compressed."""

    def __init__(self, answer: str | None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.answer = answer
        self.asked: list[str] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        query, client = self.sock.recvfrom(512)
        qid = query[:2]
        question = query[12:]
        labels, at = [], 0
        while question[at]:
            labels.append(question[at + 1 : at + 1 + question[at]].decode())
            at += question[at] + 1
        self.asked.append(".".join(labels))
        if self.answer is None:  # NXDOMAIN
            self.sock.sendto(qid + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + question, client)
            return
        first, _, rest = self.answer.partition(".")
        # the answer's owner is a pointer to the question (offset 12); its name ends in a
        # pointer to a suffix written once in an additional record
        suffix_at = 12 + len(question) + 12 + 1 + len(first) + 2
        rdata = bytes([len(first)]) + first.encode() + struct.pack("!H", 0xC000 | suffix_at)
        answer = struct.pack("!HHHIH", 0xC00C, 12, 1, 60, len(rdata)) + rdata
        suffix = b"".join(bytes([len(p)]) + p.encode() for p in rest.split(".")) + b"\0"
        header = struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
        self.sock.sendto(qid + header + question + answer + suffix, client)

    def close(self) -> None:
        self.thread.join(5)
        self.sock.close()


def test_the_ptr_query_reads_a_compressed_answer() -> None:
    dns = FakeDns("gossip-lab-peer-3.gossip-lab_gossip")
    try:
        found = dns_ptr("172.18.0.5", ["127.0.0.1"], timeout_s=2, port=dns.port)
    finally:
        dns.close()
    assert dns.asked == ["5.0.18.172.in-addr.arpa"]
    assert found == "gossip-lab-peer-3.gossip-lab_gossip"
    assert trim_dns_name(found) == "gossip-lab-peer-3"


def test_a_ptr_query_without_a_record_is_an_oserror() -> None:
    dns = FakeDns(None)
    try:
        with pytest.raises(OSError, match="no PTR"):
            dns_ptr("172.18.0.9", ["127.0.0.1"], timeout_s=2, port=dns.port)
    finally:
        dns.close()
    with pytest.raises(OSError):
        dns_ptr("172.18.0.9", [])
