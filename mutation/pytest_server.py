"""A fork server for mutation testing: pay the heavy imports once, fork per mutant.

cosmic-ray runs its test command once per mutant. Starting Python and importing
numpy, pandas, geopandas, shapely, scipy and rasterio dominates that time, so
this server imports those once (and ``geoplan``, then drops it from
``sys.modules``), and for every request forks a child that imports ``geoplan``
fresh from disk (the mutated source; bytecode
caching is off) and runs only the test files that cover the mutated module.

Usage (see run.sh): ``python mutation/pytest_server.py ROOT SOCKET``; the test
command is ``python mutation/pytest_client.py SOCKET``.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import sys
from pathlib import Path

sys.dont_write_bytecode = True
ROOT = Path(sys.argv[1]).resolve()
SOCK = sys.argv[2]
os.chdir(ROOT)
sys.path.insert(0, str(ROOT))

import affine  # noqa: E402,F401
import geopandas  # noqa: E402,F401
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot  # noqa: E402
import numpy  # noqa: E402,F401
import pandas  # noqa: E402,F401
import pyproj  # noqa: E402,F401
import pytest  # noqa: E402
import rasterio  # noqa: E402,F401
import scipy.ndimage  # noqa: E402
import scipy.spatial  # noqa: E402,F401
import shapely  # noqa: E402,F401
import yaml  # noqa: E402,F401

# Import the engine once to load every third-party module it needs, then forget it: each
# child imports geoplan afresh from the (mutated) source.
import geoplan  # noqa: E402
import geoplan.criteria  # noqa: E402
import geoplan.prioritize  # noqa: E402
import geoplan.scenario  # noqa: E402
import geoplan.score  # noqa: E402
import geoplan.zones  # noqa: E402,F401

for _m in [m for m in sys.modules if m == "geoplan" or m.startswith("geoplan.")]:
    del sys.modules[_m]

#: Which fast tests cover which engine module.
TESTS = {
    "geoplan/criteria.py": [
        "tests/test_criteria_oracle.py",
        "tests/test_criteria_edges.py",
        "tests/test_distance_grid_path.py",
    ],
    "geoplan/mcda.py": ["tests/test_scoring_oracle.py", "tests/test_mcda.py"],
    "geoplan/score.py": ["tests/test_scoring_oracle.py"],
    "geoplan/zones.py": ["tests/test_zones_oracle.py", "tests/test_zones_edges.py"],
    "geoplan/prioritize.py": ["tests/test_prioritize_oracle.py"],
}
#: Slow tests left out of the per-mutant run (they run in the suite).
DESELECT = [
    "--deselect",
    "tests/test_distance_grid_path.py::test_densely_sampled_lines_fall_back_within_the_tolerance",
]
ALL = sorted({t for ts in TESTS.values() for t in ts if (ROOT / t).is_file()})
PRISTINE = {m: (ROOT / m).read_text() for m in TESTS}
TIMEOUT_S = int(os.environ.get("MUTATION_TIMEOUT_S", "30"))
MEMORY_BYTES = int(os.environ.get("MUTATION_MEMORY_MB", "3000")) * 1024 * 1024


def _tests_for_mutant() -> list[str]:
    changed = [m for m in TESTS if (ROOT / m).read_text() != PRISTINE[m]]
    return sorted({t for m in changed for t in TESTS[m]}) or ALL


def main() -> None:
    if os.path.exists(SOCK):
        os.unlink(SOCK)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(SOCK)
    srv.listen(4)
    log = open(os.environ.get("MUTATION_LOG", os.devnull), "a")  # noqa: SIM115
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.recv(64)
            tests = _tests_for_mutant()
            pid = os.fork()
            if pid == 0:
                srv.close()
                # an endless loop or a memory blow-up (e.g. densifying to 1 mm) counts as killed
                signal.alarm(TIMEOUT_S)
                resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                rc = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *DESELECT, *tests])
                sys.stdout.flush()
                os._exit(int(rc))
            _, status = os.waitpid(pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            conn.sendall(str(rc if rc >= 0 else 128 - rc).encode())


if __name__ == "__main__":
    main()
