"""A node's display name: what people read where the wire id (`host:port`) is unreadable.

Owns how a name is found when `GOSSIP_NAME` is not set. It is shell code (it may ask DNS);
the core never sees a name, and the wire id stays `host:port`.

- A loopback node (the local cluster, tests) is named after its port, `:7001`: on one host
  the port is what tells nodes apart.
- Anywhere else the advertised IP is looked up in reverse DNS. Docker's embedded DNS
  answers with `<container name>.<network name>` (`gossip-lab-peer-3.gossip-lab_gossip`),
  so the name is the first label, `gossip-lab-peer-3`; a Swarm task
  (`gossip_peer.2.<task id>.gossip_gossip`) keeps its slot, `gossip_peer.2`.
- The lookup is bounded in time (`LOOKUP_TIMEOUT_S`): a slow or absent resolver costs the
  start at most that, and the name falls back to the address.
"""

from __future__ import annotations

import ipaddress
import queue
import socket
import threading
from collections.abc import Callable

__all__ = ["LOOKUP_TIMEOUT_S", "MAX_NAME_CHARS", "check_name", "default_name", "trim_dns_name"]

#: Seconds the reverse lookup may take before the name falls back to the address.
LOOKUP_TIMEOUT_S = 2.0
#: Longest display name accepted (it is a metric label and a log field on every line).
MAX_NAME_CHARS = 64

#: ip -> host name; raises OSError when there is none (socket.gethostbyaddr's contract).
Lookup = Callable[[str], str]


def _gethostbyaddr(ip: str) -> str:
    return socket.gethostbyaddr(ip)[0]


def check_name(name: str) -> str:
    """`name` stripped, or ValueError if it cannot serve as a label and a log field."""
    name = name.strip()
    if not name:
        raise ValueError("empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"longer than {MAX_NAME_CHARS} characters")
    if not name.isprintable():
        raise ValueError("holds control characters")
    return name


def trim_dns_name(fqdn: str) -> str:
    """The readable part of a reverse-DNS answer: the first label (a Swarm task's two)."""
    labels = fqdn.rstrip(".").split(".")
    if len(labels) >= 3 and labels[1].isdigit():  # service.slot.taskid[.network]
        return f"{labels[0]}.{labels[1]}"
    return labels[0]


def default_name(
    advertise: str, lookup: Lookup | None = _gethostbyaddr, timeout_s: float = LOOKUP_TIMEOUT_S
) -> str:
    """The name of a node advertised at `advertise` (`host:port`) when none is set; with
    `lookup` None, a non-loopback node is named after its address (no DNS)."""
    host, _, port = advertise.rpartition(":")
    host = host.strip("[]")
    if host == "localhost":
        return f":{port}"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host or advertise  # a DNS name already: people chose it
    if ip.is_loopback:
        return f":{port}"
    found = None if lookup is None else _bounded(lookup, host, timeout_s)
    if found is None:
        return advertise
    try:
        ipaddress.ip_address(found.rstrip("."))
    except ValueError:
        pass
    else:
        return advertise  # some resolvers answer with the address itself
    try:
        return check_name(trim_dns_name(found))
    except ValueError:
        return advertise


def _bounded(lookup: Lookup, ip: str, timeout_s: float) -> str | None:
    """lookup(ip) in a daemon thread, given up after `timeout_s` (the resolver call cannot
    be cancelled; an abandoned one finishes on its own and is ignored)."""
    answer: queue.Queue[str | None] = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            answer.put(lookup(ip))
        except (OSError, UnicodeError):
            answer.put(None)

    threading.Thread(target=run, name="reverse-dns", daemon=True).start()
    try:
        return answer.get(timeout=timeout_s)
    except queue.Empty:
        return None
