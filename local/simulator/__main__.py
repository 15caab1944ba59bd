"""`python -m local.simulator --port 8080`: see cli.py."""

import sys

from local.simulator.cli import main

sys.exit(main())
