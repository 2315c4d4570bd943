"""``python -m latxfer.cli``."""

import sys

from latxfer.cli.main import main

sys.exit(main())
