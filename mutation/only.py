"""Run again only the mutants that survived an earlier session; skip the rest.

``python mutation/only.py SESSION OLD_SESSION`` (from the folder holding the
mutated package): every pending mutant of SESSION that is not a survivor of
OLD_SESSION is recorded as SKIPPED ("Not a survivor"). Mutants are matched by
module, operator, the text of the mutated line and the column, so lines moved by
edits elsewhere in the module still match. A quick check of new tests; the
recorded numbers come from a fresh seeded sample (run.sh with SAMPLE/SEED).
"""

import sqlite3
import sys
from pathlib import Path


def _text(line: str) -> str:
    return line.split("# pragma")[0].strip()


old = sqlite3.connect(sys.argv[2])
survivors = set()
for mod, op, col, diff in old.execute(
    "SELECT m.module_path, m.operator_name, m.start_pos_col, r.diff FROM mutation_specs m"
    " JOIN work_results r ON m.job_id = r.job_id WHERE r.test_outcome = 'SURVIVED'"
):
    minus = [
        ln[1:]
        for ln in (diff or "").splitlines()
        if ln.startswith("-") and not ln.startswith("---")
    ]
    if minus:
        survivors.add((mod, op, col, _text(minus[0])))
db = sqlite3.connect(sys.argv[1])
pending = db.execute(
    "SELECT m.job_id, m.module_path, m.operator_name, m.start_pos_col, m.start_pos_row"
    " FROM mutation_specs m LEFT JOIN work_results r ON m.job_id = r.job_id"
    " WHERE r.job_id IS NULL"
).fetchall()
lines = {}
skip = []
for job, mod, op, col, row in pending:
    src = lines.setdefault(mod, Path(mod).read_text().splitlines())
    if (mod, op, col, _text(src[row - 1])) not in survivors:
        skip.append((job,))
db.executemany(
    "INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id)"
    " VALUES ('SKIPPED', 'Not a survivor', NULL, NULL, ?)",
    skip,
)
db.commit()
kept = len(pending) - len(skip)
print(f"kept {kept} of {len(pending)} pending mutants ({len(survivors)} old survivors)")
