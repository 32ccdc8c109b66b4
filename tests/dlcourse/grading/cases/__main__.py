"""Write the crafted class of threat cases: ``python -m tests.dlcourse.grading.cases DEST [--slow-seconds N]``.

Then grade it (the README's example run)::

    dlcourse grade hw03_logic_gates --submissions DEST --jobs 2 --cell-seconds 20 --notebook-seconds 80
"""

import argparse
from pathlib import Path

from tests.dlcourse.grading.cases import threat_cases, with_slow_seconds, write_class

parser = argparse.ArgumentParser(prog="python -m tests.dlcourse.grading.cases", description=__doc__.splitlines()[0])
parser.add_argument("dest", type=Path, help="folder to write <student>/hw03_logic_gates.ipynb into")
parser.add_argument("--slow-seconds", type=int, default=17,
                    help="sleep per cell of t12-notebook-limit: under --cell-seconds, five of them over "
                         "--notebook-seconds")
parser.add_argument("--markers", type=Path, default=None,
                    help="folder the module-named files of t28 try to write into when imported (default: "
                         "dlcourse-threat-markers in the system's temporary folder); it must stay empty")
args = parser.parse_args()
cases = with_slow_seconds(threat_cases(args.markers), args.slow_seconds)
write_class(cases, args.dest)
for case in cases:
    print(f"{case.student:<24} {case.threat:<13} {case.what}")
