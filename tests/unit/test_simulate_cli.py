"""`python -m lab.simulate`: its JSON, its exit codes, its determinism, its curve."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lab.simulate import main
from node import spread_model

WALL = {"wall_seconds", "wall_seconds_per_period", "build_seconds"}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main([*args, "--json", "--quiet"])
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_one_update_reaches_everyone_and_says_what_it_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, r = run_json(capsys, "--nodes", "300", "--fanout", "3", "--loss", "0.1", "--seed", "4")
    assert code == 0
    for key in ("nodes", "fanout", "loss", "seed", "time_to_full_s", "time_to_99_s"):
        assert key in r
    assert r["nodes"] == 300 and r["covered"] == 1.0
    assert 0 < r["time_to_99_s"] <= r["time_to_full_s"] < 3.0  # type: ignore[operator]
    assert r["messages"] > 0 and r["background_messages"] > 0  # type: ignore[operator]
    assert r["messages"] + r["background_messages"] == r["messages_total"]  # type: ignore[operator]
    assert r["messages_per_node"] == pytest.approx(r["messages"] / 300, abs=1e-3)  # type: ignore[operator]
    assert r["checked"] is True


def test_the_same_seed_gives_the_same_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--nodes", "200", "--loss", "0.2", "--jitter-ms", "20", "--seed", "9")
    _, a = run_json(capsys, *args)
    _, b = run_json(capsys, *args)
    _, c = run_json(capsys, *args[:-1], "10")
    strip = lambda r: {k: v for k, v in r.items() if k not in WALL}  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_the_curve_rises_to_everyone(capsys: pytest.CaptureFixture[str]) -> None:
    _, r = run_json(capsys, "--nodes", "500", "--curve")
    curve = r["curve"]
    assert isinstance(curve, list)
    times = [t for t, _ in curve]
    known = [f for _, f in curve]
    assert times == sorted(times) and known == sorted(known)
    assert known[0] == pytest.approx(1 / 500) and known[-1] == 1.0
    assert times[-1] == pytest.approx(r["time_to_full_s"])


def test_not_reaching_everyone_in_time_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    code, r = run_json(capsys, "--nodes", "400", "--fanout", "1", "--max-periods", "2")
    assert code == 1
    assert r["time_to_full_s"] is None and r["covered"] < 1  # type: ignore[operator]


def test_crashed_nodes_are_not_waited_for(capsys: pytest.CaptureFixture[str]) -> None:
    code, r = run_json(capsys, "--nodes", "200", "--crashed", "0.1")
    assert code == 0
    assert r["live_nodes"] == 180 and r["covered"] == 1.0


@pytest.mark.parametrize("bad", [["--loss", "1.5"], ["--nodes", "1"], ["--latency-ms", "x"]])
def test_bad_arguments_exit_2(bad: list[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(bad)
    assert e.value.code == 2


def test_the_command_line_prints_json_last_and_a_report_without_json() -> None:
    cmd = [sys.executable, "-m", "lab.simulate", "--nodes", "100", "--seed", "1"]
    r = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["nodes"] == 100
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert "messages caused by the update" in text and "background" in text


def test_serf_model_matches_the_issue() -> None:
    # Serf's model reaches only 99.99 % of 10,000 nodes in about 12.3 rounds at fanout 3
    assert spread_model.serf_time(0.9999, 10_000, 3) == pytest.approx(12.28, abs=0.01)
    assert spread_model.serf_fraction(0, 10_000, 3) * 10_000 == pytest.approx(1, abs=0.01)
    assert spread_model.karp_rounds(10_000) == pytest.approx(10.6, abs=0.05)
    assert spread_model.floor_rounds(10_000) == pytest.approx(6.64, abs=0.01)
