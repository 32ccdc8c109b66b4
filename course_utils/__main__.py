"""``python -m course_utils``: can the course run here? (see :mod:`course_utils.doctor`)."""

import sys

from course_utils.doctor import main

sys.exit(main())
