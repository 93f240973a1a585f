"""`python -m lab.bench`: run the benchmarks, print their tables, write results.

Writes `<name>.json` and PNG plots per benchmark, and `summary.md` (every table, the aims,
the machine and the date) into `--out`: `results/` for a full run, `results/quick/` for a
`--quick` one (a CI smoke run of a couple of minutes whose figures are not the real ones).
Progress goes to stderr; the exit status is 0 when every benchmark ran (an aim missed is a
finding, not an error), 1 when one failed, 2 for bad arguments or a missing `bench` extra
(matplotlib, psutil: checked before anything runs). The benchmark modules are imported only
when they run, so `--help` works after a plain `pip install .`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from lab.bench.report import Result, machine, write_json
from lab.cli import command, missing_extra

__all__ = ["BENCHMARKS", "DEFAULT", "main"]

ROOT = Path(__file__).resolve().parents[2]
#: Results go into the clone's results/ folder; installed from a wheel, into ./results.
RESULTS = ROOT / "results" if (ROOT / "pyproject.toml").exists() else Path("results")


#: What the benchmarks import beyond the node's own dependencies (the `bench` extra).
EXTRA_MODULES = ("matplotlib", "psutil")


def _convergence(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import convergence

    return convergence.run_benchmark(quick, out, jobs, say)


def _glomers(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import glomers

    return glomers.run_benchmark(quick, out, jobs, say)


def _processes(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import processes

    return processes.run_benchmark(quick, out, say)


def _throughput(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import throughput

    return throughput.run_benchmark(quick, out, say)


def _memory(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import memory

    return memory.run_benchmark(quick, out, say)


def _tree(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import tree

    return tree.run_benchmark(quick, out, jobs, say)


def _scale(quick: bool, out: Path, jobs: int, say: Callable[[str], None]) -> Result:
    from lab.bench import scale

    return scale.run_benchmark(quick, out, say)


BENCHMARKS: dict[str, Callable[[bool, Path, int, Callable[[str], None]], Result]] = {
    "convergence": _convergence,
    "glomers": _glomers,
    "processes": _processes,
    "throughput": _throughput,
    "memory": _memory,
    "tree": _tree,
    "scale": _scale,
}
#: What runs without --only: all but `scale`, which needs a Docker engine and takes a
#: quarter of an hour and more (`--only scale`).
DEFAULT = [name for name in BENCHMARKS if name != "scale"]


def main(argv: Sequence[str] | None = None) -> int:
    p = command(
        "lab.bench",
        "Run Gossip Lab's benchmarks: convergence against size and the Gossip "
        "Glomers workload (simulated), real processes, one node's throughput, memory, the "
        "broadcast tree against random push (simulated); with --only scale, the Compose lab as "
        "it grows. "
        "Needs the bench extra: pip install 'gossip-lab[bench]'.",
    )
    p.add_argument("--quick", action="store_true", help="a CI smoke run (a couple of minutes)")
    p.add_argument(
        "--only",
        default=",".join(DEFAULT),
        metavar="NAME,...",
        help="comma-separated benchmarks to run (default: %(default)s; also: scale, the "
        "Compose lab at 10 to 100 peers, which needs a Docker engine)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="results folder (default: results/, or results/quick/ with --quick)",
    )
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="processes for the simulated benchmarks"
    )
    args = p.parse_args(argv)
    problem = missing_extra("bench", EXTRA_MODULES)
    if problem:
        print(f"{p.prog}: {problem}", file=sys.stderr)
        return 2
    # SIGTERM unwinds like Ctrl-C, so node processes a benchmark started are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        p.error(f"argument --out: cannot write results into {str(out)!r}: {e.strerror}")
    if not os.access(out, os.W_OK | os.X_OK):
        p.error(f"argument --out: {str(out)!r} is not writable")

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    where = machine()
    say(f"benchmarks: {', '.join(names)} ({'quick' if args.quick else 'full'}) -> {out}")
    failed = []
    for name in names:
        say(f"== {name}")
        started = time.perf_counter()
        try:
            result = BENCHMARKS[name](args.quick, out, args.jobs, say)
        except Exception:
            failed.append(name)
            say(f"{name} failed:\n{traceback.format_exc()}")
            continue
        took = time.perf_counter() - started
        payload = {
            **result.to_json(),
            "quick": args.quick,
            "seconds": round(took, 1),
            "machine": {**where, "load_average_end": machine()["load_average"]},
        }
        write_json(out, name, payload)
        m = payload["machine"]
        (out / f"{name}.md").write_text(
            result.markdown()
            + f"\n\n_{'Quick (CI smoke) run' if args.quick else 'Measured'} {m['date']} on "
            f"{m['cpu']} ({m['cores']} cores), Python {m['python']}, aiohttp {m['aiohttp']}; "
            f"load average {m['load_average']} at the start, {m['load_average_end']} at the "
            f"end; {took:.0f} s._\n"
        )
        print(result.text(), flush=True)
        print(f"({name}: {took:.0f} s; {out / (name + '.json')})\n", flush=True)
    parts = [
        "# Gossip Lab benchmark results",
        "",
        f"Written by `python -m lab.bench{' --quick' if args.quick else ''}`; each section "
        "says when and where it was measured. JSON beside each section has every run.",
    ]
    parts += [
        "\n" + (out / f"{n}.md").read_text() for n in BENCHMARKS if (out / f"{n}.md").exists()
    ]
    (out / "summary.md").write_text("\n".join(parts))
    (out / "machine.json").write_text(json.dumps(where, indent=1) + "\n")
    if failed:
        say(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
