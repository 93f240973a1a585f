"""The commands as a newcomer meets them: every console script answers `--help` without the
optional extras, help shows defaults, and a mistake ends in one line that names what the
user typed (exit 2, no traceback), found before any long work starts."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from node.core import Config
from node.settings import VARIABLES, SettingsError, defaults, parse_args, unknown_variables

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
#: Imports that a plain `pip install .` lacks (the bench and test extras).
EXTRAS = ("psutil", "matplotlib", "pytest", "hypothesis", "yaml", "playwright")


def run_script(
    entry: str, *args: str, block_extras: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs a console script's entry point (`module:function`) as the installed script
    would, named as it, optionally with the extras made unimportable."""
    module, function = entry.split(":")
    name = next(n for n, e in SCRIPTS.items() if e == entry)
    blocked = "".join(f"sys.modules[{m!r}] = None; " for m in EXTRAS) if block_extras else ""
    code = (
        f"import sys; {blocked}sys.argv = [{name!r}, *sys.argv[1:]]; "
        f"from {module} import {function}; sys.exit({function}())"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_every_command_is_a_console_script() -> None:
    expected = {"node", "cluster", "watch", "sim", "bench", "chaos", "logs"}
    assert {f"gossip-{n}" for n in expected} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_help_works_without_the_extras_and_shows_defaults(name: str) -> None:
    r = run_script(SCRIPTS[name], "--help")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stdout.startswith(f"usage: {name}"), r.stdout[:80]
    if name not in ("gossip-logs",):  # its few defaults are in the help text itself
        assert "(default: " in r.stdout


def test_the_benchmarks_say_which_extra_they_need() -> None:
    r = run_script(SCRIPTS["gossip-bench"], "--quick", "--only", "convergence")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "pip install 'gossip-lab[bench]'" in r.stderr
    assert "psutil" in r.stderr and "matplotlib" in r.stderr


def test_node_help_names_each_value_and_its_default() -> None:
    r = run_script(SCRIPTS["gossip-node"], "--help")
    assert "VALUE" not in r.stdout, "every flag's value has a name"
    flat = " ".join(r.stdout.split())
    assert f"--fanout N peers per push (default: {Config().fanout}) [GOSSIP_FANOUT]" in flat
    assert "--sync-seconds SECONDS" in flat and "-p PORT, --port PORT" in flat
    shown = defaults()
    assert set(shown) == set(VARIABLES), "every setting has a default to show"
    assert shown["GOSSIP_TTL"] == str(Config().ttl)
    assert shown["GOSSIP_SYNC_SECONDS"] == f"{Config().sync_s:g}"


@pytest.mark.parametrize(
    ("argv", "typed"),
    [
        (["--fanout", "lots"], "--fanout 'lots'"),
        (["--fanout=lots"], "--fanout 'lots'"),
        (["--fan", "lots"], "--fanout 'lots'"),  # argparse's abbreviation, named in full
        (["-p", "seventy"], "-p 'seventy'"),
        (["--port", "70000"], "--port '70000'"),
        (["--fanout", "0"], "--fanout:"),
        (["--fault-drop", "2"], "--fault-drop:"),
    ],
)
def test_a_bad_flag_is_named_as_typed(argv: list[str], typed: str) -> None:
    with pytest.raises(SettingsError) as e:
        parse_args(argv, {})
    assert str(e.value).startswith(typed), str(e.value)
    assert "GOSSIP_" not in str(e.value)


def test_a_bad_variable_is_still_named_as_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^GOSSIP_FANOUT='lots': not a whole number"):
        parse_args([], {"GOSSIP_FANOUT": "lots"})
    # the flag wins, so a good flag hides a bad variable, and a bad flag is the one named
    assert parse_args(["--fanout", "4"], {"GOSSIP_FANOUT": "lots"}).config.fanout == 4
    with pytest.raises(SettingsError, match=r"^--ttl 'x'"):
        parse_args(["--ttl", "x"], {"GOSSIP_TTL": "y"})


def test_a_bad_movies_flag_is_named_as_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^--movies: cannot read"):
        parse_args(["--movies", str(tmp_path / "missing.txt")], {})


def test_misspelt_variables_are_named_with_the_closest_setting() -> None:
    warnings = unknown_variables(
        {
            "GOSSIP_FANOUTT": "3",
            "GOSSIP_LOGLEVEL": "debug",
            "GOSSIP_RESAMPLE": "2",
            "GOSSIP_WHATEVER": "1",
            "GOSSIP_PORT": "7001",  # a real one
            "GOSSIP_REQUIRE_DOCKER": "1",  # the tests' own
            "HOME": "/root",
        }
    )
    assert warnings == [
        "GOSSIP_FANOUTT is not a setting (did you mean GOSSIP_FANOUT?); ignored",
        "GOSSIP_LOGLEVEL is not a setting (did you mean GOSSIP_LOG_LEVEL?); ignored",
        "GOSSIP_RESAMPLE is not a setting (did you mean GOSSIP_RESAMPLE_SECONDS?); ignored",
        "GOSSIP_WHATEVER is not a setting; ignored",
    ]


@pytest.mark.parametrize(
    ("argv", "env", "stderr"),
    [
        (
            ["--fanout", "lots"],
            {"GOSSIP_SYNC_SECOND": "2"},
            [
                "gossip-node: warning: GOSSIP_SYNC_SECOND is not a setting "
                "(did you mean GOSSIP_SYNC_SECONDS?); ignored",
                "gossip-node: bad setting: --fanout 'lots': not a whole number",
            ],
        ),
        (
            ["-p", "7001"],
            {"GOSSIP_FANOUT": "zero"},
            ["gossip-node: bad setting: GOSSIP_FANOUT='zero': not a whole number"],
        ),
    ],
)
def test_the_node_warns_at_start_and_exits_2_naming_the_flag_or_variable(
    argv: list[str], env: dict[str, str], stderr: list[str]
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "node", *argv],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2
    assert r.stderr.splitlines() == stderr


@pytest.mark.parametrize("bad", ["localhost:notaport", "127.0.0.1:0", "ftp://x:1", "http://:7000"])
def test_watch_refuses_a_bad_address_at_once(bad: str) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "lab.watch", bad, "--once"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"argument URL: {bad!r}" in r.stderr


@pytest.mark.parametrize("where", ["missing-dir/run.jsonl", "a-file/run.jsonl", "."])
def test_record_refuses_an_unwritable_output_before_simulating(where: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    started = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "lab.record", "--nodes", "2000", "--out", str(tmp_path / where)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "argument --out/-o" in r.stderr
    assert time.monotonic() - started < 20, "refused before the (minutes-long) simulation"


def test_bench_refuses_an_unwritable_results_folder(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    r = run_script(
        SCRIPTS["gossip-bench"], "--out", str(tmp_path / "a-file" / "results"), block_extras=False
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "argument --out" in r.stderr
