"""Runs one gossip node: `python -m node -p 7001 -b 7000` (see `--help`)."""

import sys

from node.cli import main

sys.exit(main())
