"""Which Chromium the browser tests drive: a setting, Playwright's own, the PATH, Debian's
path last. Needs no browser (the lookup is checked with stand-in executables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import pagekit


def executable(path: Path) -> str:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return str(path)


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No browser anywhere: an empty PATH, no setting, Debian's path missing."""
    monkeypatch.delenv("GOSSIP_CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(pagekit, "CHROMIUM", str(tmp_path / "usr-bin-chromium"))
    (tmp_path / "bin").mkdir()
    return tmp_path


def test_the_setting_comes_first(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chosen = executable(nowhere / "my-chrome")
    own = executable(nowhere / "playwright-chrome")
    monkeypatch.setenv("GOSSIP_CHROMIUM", chosen)
    assert pagekit.find_chromium(own) == (chosen, None)


def test_a_setting_that_is_wrong_is_named(nowhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOSSIP_CHROMIUM", str(nowhere / "missing"))
    own = executable(nowhere / "playwright-chrome")
    path, problem = pagekit.find_chromium(own)
    assert path is None and problem and "GOSSIP_CHROMIUM" in problem


def test_then_playwrights_own_then_the_path_then_debians(nowhere: Path) -> None:
    own = executable(nowhere / "playwright-chrome")
    assert pagekit.find_chromium(own) == (own, None)
    on_path = executable(nowhere / "bin" / "chromium")
    assert pagekit.find_chromium(str(nowhere / "not-downloaded")) == (on_path, None)
    Path(on_path).unlink()
    debian = executable(Path(pagekit.CHROMIUM))
    assert pagekit.find_chromium(None) == (debian, None)


def test_none_at_all_says_how_to_get_one(nowhere: Path) -> None:
    path, problem = pagekit.find_chromium(None)
    assert path is None
    assert problem and "GOSSIP_CHROMIUM" in problem and "playwright install" in problem
