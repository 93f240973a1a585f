import sys

from lab.logs.cli import main

sys.exit(main())
