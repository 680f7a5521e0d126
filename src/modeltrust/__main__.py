"""``python -m modeltrust``."""

import sys

from modeltrust.cli import main

sys.exit(main())
