"""What a Compose lab of many nodes needs from the host's kernel: room in its ARP table.

Owns one check and its advice; it changes nothing on the host. Containers on one bridge
reach each other through ARP, and every container keeps an entry for each container it
talks to. Gossip talks to everyone (anti-entropy picks a random peer each second), so a lab
of N nodes holds about N² entries, and Linux counts the entries of every network namespace
against one limit, `net.ipv4.neigh.default.gc_thresh3` (1,024 by default). Past it the
kernel logs "neighbor table overflow!" and new conversations fail with "No route to host":
at 61 nodes (3,700 entries) a third of the peers could not reach the bootstrap node while
the machine sat idle (load average 3), which looked like overload from outside.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ARP_LIMIT", "arp_entries", "arp_warning"]

#: The limit that matters (the two lower thresholds only say when the kernel starts
#: collecting entries).
ARP_LIMIT = Path("/proc/sys/net/ipv4/neigh/default/gc_thresh3")


def arp_entries(nodes: int) -> int:
    """ARP entries a lab of `nodes` gossip nodes on one bridge needs, about: each node's
    table holds the others, Prometheus and the gateway; Prometheus's holds every node."""
    return nodes * (nodes + 1) + nodes


def arp_warning(nodes: int, limit_file: Path = ARP_LIMIT) -> str | None:
    """A warning with the command that fixes it when the host's ARP table is too small for a
    lab of `nodes` nodes; None when it is large enough or the limit cannot be read."""
    try:
        limit = int(limit_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    need = arp_entries(nodes)
    if limit >= need:
        return None
    room = 1 << (2 * need - 1).bit_length()  # twice the need, a power of two
    return (
        f"the kernel's ARP table holds at most {limit:,} entries "
        f"(net.ipv4.neigh.default.gc_thresh3) and a lab of {nodes} nodes needs about "
        f"{need:,}: past it containers get 'No route to host' (dmesg: 'neighbor table "
        f"overflow'). Raise it: sudo sysctl -w net.ipv4.neigh.default.gc_thresh1={room // 8} "
        f"net.ipv4.neigh.default.gc_thresh2={room // 2} "
        f"net.ipv4.neigh.default.gc_thresh3={room}"
    )
