"""How benchmark results leave the process: text tables, JSON files, PNG plots, machine facts.

Owns presentation only; the benchmarks compute, this module shows. Plots use matplotlib's
non-interactive Agg backend, imported on first use so that a benchmark that draws nothing
does not pay for it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Column", "Result", "frame", "machine", "plot", "pyplot", "table", "write_json"]


@dataclass(frozen=True)
class Column:
    """A table column: the row key, its heading and how to show a value."""

    key: str
    heading: str
    fmt: str = "{}"

    def show(self, row: dict[str, Any]) -> str:
        value = row.get(self.key)
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "NO"
        return self.fmt.format(value)


@dataclass
class Result:
    """What one benchmark hands back: tables to print, data to save, files it wrote."""

    name: str
    title: str
    #: (caption, columns, rows) per table
    tables: list[tuple[str, Sequence[Column], list[dict[str, Any]]]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: one line per aim: what it is, the figure, met or not
    aims: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def aim(self, what: str, figure: str, met: bool | None) -> None:
        self.aims.append({"aim": what, "figure": figure, "met": met})

    def text(self) -> str:
        parts = [f"== {self.title}"]
        for caption, columns, rows in self.tables:
            parts += ["", caption, table(columns, rows)]
        if self.aims:
            parts.append("")
            for a in self.aims:
                mark = {True: "met", False: "MISSED", None: "n/a"}[a["met"]]
                parts.append(f"aim: {a['aim']}: {a['figure']} [{mark}]")
        parts += [f"note: {n}" for n in self.notes]
        return "\n".join(parts)

    def markdown(self) -> str:
        parts = [f"## {self.title}"]
        for caption, columns, rows in self.tables:
            parts += ["", caption, "", markdown_table(columns, rows)]
        if self.aims:
            parts += ["", "| aim | figure | |", "| --- | --- | --- |"]
            for a in self.aims:
                mark = {True: "met", False: "**missed**", None: "n/a"}[a["met"]]
                parts.append(f"| {a['aim']} | {a['figure']} | {mark} |")
        if self.notes:
            parts.append("")
            parts += [f"- {n}" for n in self.notes]
        plots = [f for f in self.files if f.endswith(".png")]
        if plots:
            parts.append("")
            parts += [f"![{p}]({p})" for p in plots]
        return "\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "tables": [
                {"caption": caption, "rows": rows} for caption, _columns, rows in self.tables
            ],
            "aims": self.aims,
            "notes": self.notes,
            "files": self.files,
            **self.data,
        }


def table(columns: Sequence[Column], rows: list[dict[str, Any]]) -> str:
    """An aligned plain-text table."""
    cells = [[c.heading for c in columns]] + [[c.show(r) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(columns: Sequence[Column], rows: list[dict[str, Any]]) -> str:
    head = "| " + " | ".join(c.heading for c in columns) + " |"
    rule = "|" + "|".join(" ---: " for _ in columns) + "|"
    body = ["| " + " | ".join(c.show(r) for c in columns) + " |" for r in rows]
    return "\n".join([head, rule, *body])


def machine() -> dict[str, Any]:
    """Facts about where the figures were measured, and how busy the machine was."""
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = []
    try:
        import aiohttp

        aiohttp_version = aiohttp.__version__
    except ImportError:  # pragma: no cover
        aiohttp_version = "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "aiohttp": aiohttp_version,
        "platform": platform.platform(),
        "load_average": load,
    }


def write_json(out: Path, name: str, payload: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def pyplot() -> Any:
    """matplotlib.pyplot with the file-only Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def plot(
    out: Path, name: str, figsize: tuple[float, float], ncols: int = 1, **options: Any
) -> Iterator[tuple[Any, Any]]:
    """A figure and its axes (one, or `ncols` side by side) to draw on in the block; then
    laid out, saved as `out/name` at 110 dpi, and closed."""
    plt = pyplot()
    fig, axes = plt.subplots(1, ncols, figsize=figsize, **options)
    try:
        yield fig, axes
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
    finally:
        plt.close(fig)


def frame(ax: Any, xlabel: str, ylabel: str | None, title: str, legend: int | None = 8) -> None:
    """The axes' labels and title, a light grid, and the legend at font size `legend`."""
    ax.set_xlabel(xlabel)
    if ylabel is not None:
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if legend is not None:
        ax.legend(fontsize=legend)
