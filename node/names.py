"""A node's display name: what people read where the wire id (`host:port`) is unreadable.

Owns how a name is found when `GOSSIP_NAME` is not set. It is shell code (it may ask DNS);
the core never sees a name, and the wire id stays `host:port`.

- A loopback node (the local cluster, tests) is named after its port, `:7001`: on one host
  the port is what tells nodes apart.
- Anywhere else the advertised IP is looked up in reverse DNS. Docker's embedded DNS
  answers with `<container name>.<network name>` (`gossip-lab-peer-3.gossip-lab_gossip`),
  so the name is the first label, `gossip-lab-peer-3`; a Swarm task
  (`gossip_peer.2.<task id>.gossip_gossip`) keeps its slot, `gossip_peer.2`.
- The PTR query goes to the nameservers of /etc/resolv.conf itself (`dns_ptr`), before
  `socket.gethostbyaddr`: the C library reads /etc/hosts first, where Docker maps the
  container's IP to its hostname, the unreadable container id (`dc72a3bb453f`).
- The lookup is bounded in time (`LOOKUP_TIMEOUT_S`): a slow or absent resolver costs the
  start at most that, and the name falls back to the address.
"""

from __future__ import annotations

import ipaddress
import queue
import secrets
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "LOOKUP_TIMEOUT_S",
    "MAX_NAME_CHARS",
    "check_name",
    "default_name",
    "dns_ptr",
    "trim_dns_name",
]

#: Seconds the reverse lookup may take before the name falls back to the address.
LOOKUP_TIMEOUT_S = 2.0
#: Longest display name accepted (it is a metric label and a log field on every line).
MAX_NAME_CHARS = 64

#: ip -> host name; raises OSError when there is none (socket.gethostbyaddr's contract).
Lookup = Callable[[str], str]


RESOLV_CONF = Path("/etc/resolv.conf")
_PTR, _IN = 12, 1


def _system_lookup(ip: str) -> str:
    """DNS first (see the module's notes), then the C library's own lookup."""
    try:
        return dns_ptr(ip)
    except OSError:
        return socket.gethostbyaddr(ip)[0]


def dns_ptr(
    ip: str, nameservers: list[str] | None = None, timeout_s: float = 1.0, port: int = 53
) -> str:
    """The PTR record of `ip`, asked of each nameserver (resolv.conf's by default) over
    UDP; OSError when none answers with one."""
    if nameservers is None:
        nameservers = _nameservers()
    if not nameservers:
        raise OSError("no nameserver")
    qname = ipaddress.ip_address(ip).reverse_pointer
    qid = secrets.randbits(16)
    question = b"".join(bytes([len(p)]) + p.encode() for p in qname.split(".")) + b"\0"
    query = (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", _PTR, _IN)
    )
    last: OSError = OSError("no answer")
    for server in nameservers:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.settimeout(timeout_s)
                sock.sendto(query, (server, port))
                reply = sock.recv(4096)
            return _ptr_answer(reply, qid)
        except (OSError, ValueError, IndexError, struct.error) as e:
            last = e if isinstance(e, OSError) else OSError(f"bad DNS reply: {e}")
    raise last


def _nameservers() -> list[str]:
    try:
        text = RESOLV_CONF.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            found.append(parts[1].split("%")[0])
    return found[:3]  # as the C library: at most three


def _ptr_answer(reply: bytes, qid: int) -> str:
    """The first PTR answer's name in a DNS reply (RFC 1035, compression included)."""
    rid, flags, qdcount, ancount = struct.unpack_from("!HHHH", reply)
    if rid != qid or not flags & 0x8000 or flags & 0x000F:
        raise OSError(f"no PTR record (rcode {flags & 0x000F})")
    at = 12
    for _ in range(qdcount):
        at = _skip_name(reply, at) + 4
    for _ in range(ancount):
        at = _skip_name(reply, at)
        rtype, _cls, _ttl, length = struct.unpack_from("!HHIH", reply, at)
        at += 10
        if rtype == _PTR:
            return _read_name(reply, at)
        at += length
    raise OSError("no PTR record")


def _skip_name(data: bytes, at: int) -> int:
    while True:
        n = data[at]
        if n == 0:
            return at + 1
        if n & 0xC0 == 0xC0:
            return at + 2
        at += n + 1


def _read_name(data: bytes, at: int) -> str:
    labels: list[str] = []
    for _ in range(128):  # bounds a pointer loop
        n = data[at]
        if n == 0:
            return ".".join(labels)
        if n & 0xC0 == 0xC0:
            at = ((n & 0x3F) << 8) | data[at + 1]
            continue
        labels.append(data[at + 1 : at + 1 + n].decode("ascii", errors="replace"))
        at += n + 1
    raise ValueError("a DNS name that loops")


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
    advertise: str, lookup: Lookup | None = _system_lookup, timeout_s: float = LOOKUP_TIMEOUT_S
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
