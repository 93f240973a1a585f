"""`python -m lab.logs`: the nodes' structured logs, merged, filtered, followed and traced.

Reads the JSON lines every node writes (`node.logs`) from files, a `lab.cluster` log
directory, standard input or the Docker Compose lab, and shows them in time order with one
colour per node, or traces one update across the cluster (`trace ORIGIN VERSION`).

The modules, each one job: `records` (a line into a record), `sources` (where lines come
from, read or followed), `filters` (which records to keep), `render` (records as text),
`trace` (one update's journey), `cli` (the command and its exit codes).
"""

from lab.logs.cli import main
from lab.logs.filters import Filter
from lab.logs.records import Parser, Record
from lab.logs.sources import ComposeLogs, Inputs
from lab.logs.trace import Collector, Trace, TraceError

__all__ = [
    "Collector",
    "ComposeLogs",
    "Filter",
    "Inputs",
    "Parser",
    "Record",
    "Trace",
    "TraceError",
    "main",
]
