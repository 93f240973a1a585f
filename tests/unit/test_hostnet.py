"""The check of the host's ARP table before a Compose lab of many nodes (lab.hostnet)."""

from __future__ import annotations

from pathlib import Path

from lab.hostnet import arp_entries, arp_warning


def test_the_default_limit_is_too_small_for_sixty_nodes_but_not_for_ten(tmp_path: Path) -> None:
    limit = tmp_path / "gc_thresh3"
    limit.write_text("1024\n")  # Linux's default
    assert arp_warning(10, limit) is None
    warning = arp_warning(61, limit)
    assert warning is not None and "1,024" in warning and "No route to host" in warning
    # the command it gives makes enough room, and then the warning is gone
    room = int(warning.rsplit("gc_thresh3=", 1)[1])
    assert room >= arp_entries(61)
    limit.write_text(f"{room}\n")
    assert arp_warning(61, limit) is None
    assert arp_warning(101, limit) is not None  # (a bigger lab needs more again)


def test_an_unreadable_limit_says_nothing(tmp_path: Path) -> None:
    assert arp_warning(100, tmp_path / "absent") is None
    (tmp_path / "odd").write_text("")
    assert arp_warning(100, tmp_path / "odd") is None
