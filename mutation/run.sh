#!/usr/bin/env bash
# Mutation testing of geoplan's engine modules with cosmic-ray (not part of CI).
#
#   mutation/run.sh            # all five modules, operators as filtered in cosmic-ray.toml
#   PYTHON=/path/to/python mutation/run.sh
#   MODULES="geoplan/score.py geoplan/zones.py" SESSION=mutation/part.sqlite mutation/run.sh
#   SAMPLE=200 SEED=0 mutation/run.sh   # a seeded random sample of the filtered mutants
#   ONLY_SURVIVORS_OF=$PWD/mutation/final.sqlite mutation/run.sh  # re-run its survivors only
#
# Needs the `mutation` extra (pip install -e '.[mutation]'). Works on a copy of the
# package and tests in a temporary folder, so the checkout is never left mutated.
# Do not resume an interrupted session: cosmic-ray leaves the mutant it was testing on
# disk in the temporary copy, and every later result would be wrong. Start afresh.
# Prints cr-report's summary and the surviving mutants; the session database is copied
# to mutation/session.sqlite (not committed).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$(command -v python)}
BIN=$(dirname "$PY")
export PATH="$BIN:$PATH" PYTHONDONTWRITEBYTECODE=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/geoplan-mutation.XXXXXX")
cp -r "$HERE/geoplan" "$HERE/tests" "$HERE/pyproject.toml" "$HERE/mutation" "$WORK/"
find "$WORK" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$WORK/mutation/session.sqlite"
cd "$WORK"
if [ -n "${MODULES:-}" ]; then  # restrict the modules mutated
    "$PY" - "$MODULES" mutation/cosmic-ray.toml <<'PYCODE'
import re, sys
mods, path = sys.argv[1].split(), sys.argv[2]
text = open(path).read()
new = "module-path = [" + ", ".join(f'"{m}"' for m in mods) + "]"
open(path, "w").write(re.sub(r"module-path = \[[^\]]*\]", new, text, count=1))
PYCODE
fi
SESSION=${SESSION:-mutation/session.sqlite}
export PYTHONPATH="$WORK" MUTATION_LOG="$WORK/mutation/tests.log"
"$PY" mutation/pytest_server.py "$WORK" mutation/.pytest.sock &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 120); do [ -S mutation/.pytest.sock ] && break; sleep 1; done
# the unmutated code must pass
"$PY" mutation/pytest_client.py mutation/.pytest.sock
"$BIN/cosmic-ray" init mutation/cosmic-ray.toml session.sqlite
"$BIN/cr-filter-operators" session.sqlite mutation/cosmic-ray.toml
"$BIN/cr-filter-pragma" session.sqlite  # lines marked "# pragma: no mutate" (speed only)
if [ -n "${ONLY_SURVIVORS_OF:-}" ]; then  # re-run an earlier session's survivors only
    "$PY" mutation/only.py session.sqlite "$ONLY_SURVIVORS_OF"
elif [ -n "${SAMPLE:-}" ]; then  # run a seeded random sample of SAMPLE mutants only
    "$PY" mutation/sample.py session.sqlite "$SAMPLE" "${SEED:-0}"
fi
"$BIN/cosmic-ray" exec mutation/cosmic-ray.toml session.sqlite
cp session.sqlite "$HERE/$SESSION"
"$BIN/cr-report" session.sqlite --show-diff --surviving-only > "$HERE/${SESSION%.sqlite}.survivors.txt" || true
"$BIN/cr-report" session.sqlite | tail -4
"$PY" mutation/summary.py session.sqlite
