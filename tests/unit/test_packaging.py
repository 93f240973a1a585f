"""What an install gets: exact pins for the image's dependencies and for the lint and type
tools, so neither a new upstream release nor a new ruff can change a run without a commit."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, pinned = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not an exact pin"
            pins[_name(name)] = pinned
    return pins


def _at_least(pinned: str, minimum: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", v)[:3])

    return parts(pinned) >= parts(minimum)


def test_constraints_pin_every_runtime_dependency_within_its_range() -> None:
    pins = _pins()
    for requirement in PROJECT["dependencies"]:
        name = _name(requirement)
        assert name in pins, f"{name} is not pinned in constraints.txt"
        for minimum in re.findall(r">=\s*([\w.]+)", requirement):
            assert _at_least(pins[name], minimum), (requirement, pins[name])


def test_the_image_installs_from_the_constraints() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"COPY [^\n]*constraints\.txt", dockerfile)
    assert re.search(r"pip install [^\n]*-c constraints\.txt", dockerfile)
    assert "!constraints.txt" in (ROOT / ".dockerignore").read_text().splitlines()


def test_lint_and_type_tools_are_pinned_exactly_and_installed_as_pinned() -> None:
    lint = PROJECT["optional-dependencies"]["lint"]
    pinned = dict(r.split("==") for r in lint)
    assert set(pinned) == {"ruff", "mypy"}, lint
    for tool, wanted in pinned.items():
        assert version(tool) == wanted, f"{tool} {version(tool)} installed, {wanted} pinned"


def test_the_extras_build_on_each_other() -> None:
    extras = PROJECT["optional-dependencies"]
    assert {"bench", "lint", "test", "dev"} <= set(extras)
    assert "gossip-lab[bench,lint]" in extras["test"], "the suite runs lint and a benchmark"
    assert "gossip-lab[test]" in extras["dev"]
    assert {_name(r) for r in extras["bench"]} == {"matplotlib", "psutil"}


def test_the_page_s_linter_is_pinned_exactly_and_locked_as_pinned() -> None:
    import json

    package = json.loads((ROOT / "package.json").read_text())
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    tools = package["devDependencies"]
    assert {"eslint", "@eslint/js", "globals"} <= set(tools)
    for name, wanted in tools.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", wanted), f"package.json: {name} {wanted!r} is a range"
        assert lock[f"node_modules/{name}"]["version"] == wanted, name
    assert not package.get("dependencies"), "the page has no runtime npm dependency"
    # node_modules stays out of git and out of the image's build context
    assert "node_modules/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "node_modules" in (ROOT / ".dockerignore").read_text().splitlines()
