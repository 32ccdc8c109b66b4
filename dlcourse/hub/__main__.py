"""``python -m dlcourse.hub up|down``: the same as ``dlcourse hub up|down`` (see :mod:`dlcourse.hub.server`)."""

import sys

from dlcourse.hub.server import main

sys.exit(main())
