"""dlcourse: the instructor's tools for the deep-learning course.

The ``dlcourse`` command and what it runs: the course layout
(:mod:`~dlcourse.layout`), nbgrader's cell vocabulary (:mod:`~dlcourse.cells`),
executing notebooks (:mod:`~dlcourse.execution`, ``dlcourse check``), the
student versions (:mod:`~dlcourse.release`), setup cells
(:mod:`~dlcourse.setup_cells`), benchmarks (:mod:`~dlcourse.bench`) and
grading a class (:mod:`dlcourse.grading`). It depends on :mod:`course_utils`,
the package students install; nothing in ``course_utils`` imports it.
"""

__version__ = "0.1.0"
