"""Validation of what peers send: every bad field is refused with its reason, good input parses."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from node.core import (
    Config,
    Envelope,
    InvalidMessage,
    Message,
    envelope_to_wire,
    parse_address,
    parse_envelope,
)

CFG = Config()
GOOD: dict[str, Any] = {
    "uuid": "3f0c1c3e-8f5e-4f59-9a59-1e0b0f3c2a11",
    "origin": "172.18.0.3:7000",
    "version": 17,
    "ttl": 6,
    "payload": {"movie": "Alien"},
}


def with_(**changes: Any) -> dict[str, Any]:
    m = copy.deepcopy(GOOD)
    for k, v in changes.items():
        if v is ...:
            del m[k]
        else:
            m[k] = v
    return m


def test_the_seeds_single_message_form_parses() -> None:
    env = parse_envelope(GOOD, CFG)
    assert env.sender is None and env.digest is None
    (m,) = env.messages
    assert (m.uuid, m.origin, m.version, m.ttl, m.movie) == (
        GOOD["uuid"],
        "172.18.0.3:7000",
        17,
        6,
        "Alien",
    )


def test_unknown_fields_are_ignored() -> None:
    env = parse_envelope(with_(colour="blue", extra={"a": [1, 2]}), CFG)
    assert env.messages[0].version == 17


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"uuid": ...}, "missing_field"),
        ({"payload": ...}, "missing_field"),
        ({"uuid": 5}, "bad_uuid"),
        ({"uuid": "not-a-uuid"}, "bad_uuid"),
        ({"uuid": "{3f0c1c3e-8f5e-4f59-9a59-1e0b0f3c2a11}"}, "bad_uuid"),
        ({"origin": "7000"}, "bad_origin"),
        ({"origin": "host:99999"}, "bad_origin"),
        ({"origin": "a b:70"}, "bad_origin"),
        ({"origin": ["x"]}, "bad_origin"),
        ({"version": -1}, "bad_version"),
        ({"version": 2**63}, "bad_version"),
        ({"version": 1.5}, "bad_version"),
        ({"version": True}, "bad_version"),
        ({"version": "17"}, "bad_version"),
        ({"ttl": -1}, "bad_ttl"),
        ({"ttl": 10**9}, "bad_ttl"),
        ({"ttl": 2.0}, "bad_ttl"),
        ({"payload": "Alien"}, "bad_payload"),
        ({"payload": ["Alien"]}, "bad_payload"),
        ({"payload": {"movie": 7}}, "bad_payload"),
        ({"payload": {"movie": "x" * 2000}}, "bad_payload"),
        ({"sent_at": "yesterday"}, "wrong_type"),
        ({"sent_at": float("nan")}, "wrong_type"),
        ({"hops": -2}, "wrong_type"),
    ],
)
def test_bad_fields_are_refused_with_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidMessage) as e:
        parse_envelope(with_(**change), CFG)
    assert e.value.reason == reason


def test_a_ttl_above_the_maximum_is_clamped_not_obeyed() -> None:
    (m,) = parse_envelope(with_(ttl=200), CFG).messages
    assert m.ttl == CFG.max_ttl


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "not_object"),
        ("gossip", "not_object"),
        ({"messages": {}}, "wrong_type"),
        ({"messages": [GOOD, 5]}, "not_object"),
        ({"messages": [GOOD] * (CFG.max_batch + 1)}, "too_many"),
        ({"digest": [1, 2]}, "wrong_type"),
        ({"digest": {"a:1": -5}}, "bad_version"),
        ({"digest": {"nope": 5}}, "bad_origin"),
        ({"want": "a:1"}, "wrong_type"),
        ({"peers": ["a:1", 7]}, "bad_origin"),
        ({"sender": "no port"}, "bad_origin"),
    ],
)
def test_bad_envelopes_are_refused(body: Any, reason: str) -> None:
    with pytest.raises(InvalidMessage) as e:
        parse_envelope(body, CFG)
    assert e.value.reason == reason


def test_one_bad_message_refuses_the_whole_batch() -> None:
    with pytest.raises(InvalidMessage):
        parse_envelope({"messages": [GOOD, with_(version=-3)]}, CFG)


def test_an_envelope_survives_its_wire_form() -> None:
    m = Message(GOOD["uuid"], "10.0.0.1:7000", 5, 3, {"movie": "Heat"}, 12.5, 2)
    env = Envelope(
        "10.0.0.2:7000", (m,), {"10.0.0.1:7000": 5}, ("10.0.0.3:7000",), ("10.0.0.4:7000",)
    )
    assert parse_envelope(envelope_to_wire(env), CFG) == env


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7000", "127.0.0.1:7000"),
        ("bootstrap:7000", "bootstrap:7000"),
        (" 10.0.0.5:7001 ", "10.0.0.5:7001"),
        ("[::1]:7000", "[::1]:7000"),
    ],
)
def test_addresses_from_flags(text: str, expected: str) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host", "host:", ":7000", "0", "70000", "a:b"])
def test_bad_addresses_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_address(text)


def test_a_payload_nested_to_the_decoders_limit_is_refused_not_a_crash() -> None:
    deep: dict[str, Any] = {}
    for _ in range(5000):
        deep = {"a": deep}
    with pytest.raises(InvalidMessage) as e:
        parse_envelope(with_(payload=deep), CFG)
    assert e.value.reason == "bad_payload"
