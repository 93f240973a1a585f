"""The documentation against the code: the configuration table, the README's promises (short,
the two commands on top, the test command CI runs), every command listed, every link
resolving inside the repository, and figures that state how they were made."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pytest

from lab import tune
from node.settings import VARIABLES, configuration_table, defaults

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
DOCS = {p.relative_to(ROOT).as_posix(): p.read_text() for p in (ROOT / "docs").glob("*.md")}
#: Linked from the README, written on another branch (readable node names); remove once
#: merged, so that the link is checked like every other.
PENDING: set[str] = set()


def _table(text: str, header: str) -> list[list[str]]:
    rows = text.split(header + "\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_the_configuration_table_is_the_codes() -> None:
    rows = _table(DOCS["docs/configuration.md"], "| variable | flag | default | meaning |")
    documented = {re.sub(r"`", "", r[0]): r for r in rows}
    assert set(documented) == set(VARIABLES), (
        f"missing: {sorted(set(VARIABLES) - set(documented))}, "
        f"not a setting: {sorted(set(documented) - set(VARIABLES))}"
    )
    shown = defaults()
    for var, knob in VARIABLES.items():
        row = documented[var]
        assert knob.flag in re.findall(r"`(-[-\w]+)`", row[1]), (var, row[1])
        assert row[2].replace("`", "") == shown[var], f"{var}: docs {row[2]!r}, code {shown[var]!r}"


def test_the_configuration_table_is_generated_from_the_settings() -> None:
    """The table is `python -m node.settings`'s output, word for word: each variable's flag,
    default and meaning are declared once, in node/settings.py."""
    assert configuration_table() in DOCS["docs/configuration.md"], (
        "docs/configuration.md's table is not the code's: run `python -m node.settings`"
    )


def test_the_readme_is_short_with_both_commands_on_top() -> None:
    lines = README.splitlines()
    assert len(lines) <= 250
    top = "\n".join(lines[:40])
    assert "docker compose up --scale peer=3" in top
    assert re.search(r"^\./run-tests\b", top, re.M)


def test_ci_runs_exactly_the_readmes_test_command() -> None:
    block = README.split("The two commands:", 1)[1].split("```", 2)[1]
    (command,) = [line.split("#")[0].strip() for line in block.splitlines() if "run-tests" in line]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    steps = [line.strip() for line in ci if line.strip() and not line.lstrip().startswith("#")]
    assert steps[-1] == command == "./run-tests"
    assert '.venv/bin/pip install -q -e ".[dev]"' in steps, "CI installs what the tests need"


def test_every_console_script_is_in_the_readme() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    rows = _table(README, "| command | module | what |")
    listed = {r[0].strip("`"): r[1].strip("`") for r in rows}
    assert set(listed) == set(scripts)
    for name, entry in scripts.items():
        module = entry.split(":")[0].removesuffix(".__main__").removesuffix(".cli")
        assert listed[name] == module, (name, entry)


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a document's headings."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("path", ["README.md", *sorted(DOCS)])
def test_links_resolve_inside_the_repository(path: str) -> None:
    text = README if path == "README.md" else DOCS[path]
    base = (ROOT / path).parent
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://")):
            continue
        name, _, anchor = target.partition("#")
        file = (base / name).resolve() if name else ROOT / path
        if file.relative_to(ROOT).as_posix() in PENDING:
            continue
        assert file.exists(), f"{path}: {target} does not exist"
        if anchor:
            assert anchor in _anchors(file.read_text()), f"{path}: no heading for {target}"


@pytest.mark.parametrize("path", ["README.md", *sorted(DOCS)])
def test_no_reference_a_reader_cannot_open(path: str) -> None:
    text = README if path == "README.md" else DOCS[path]
    assert not re.search(r"DESIGN\.md|STYLE\.md|\bissue \d+", text), path


def test_the_tuning_table_states_the_seeds_it_was_made_with() -> None:
    seeds = inspect.signature(tune.push_reach).parameters["seeds"].default
    updates = inspect.signature(tune.push_reach).parameters["updates"].default
    assert f"({seeds} seeds \u00d7 {updates} updates)" in DOCS["docs/benchmarks.md"]


@pytest.mark.parametrize("path", ["README.md", *sorted(DOCS)])
def test_files_named_in_the_docs_exist(path: str) -> None:
    text = README if path == "README.md" else DOCS[path]
    named = re.findall(r"`([\w.-]+/[\w./-]+\.(?:py|yml|yaml|js|json|md|txt|toml|png))`", text)
    missing = [n for n in named if not (ROOT / n).exists() and not n.startswith("results/quick")]
    assert not missing, f"{path} names files that are not in the repository: {missing}"
