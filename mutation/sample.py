"""Keep a seeded random sample of a cosmic-ray session's pending mutants; skip the rest.

``python mutation/sample.py SESSION N [SEED]``: every pending mutant not drawn is
recorded as SKIPPED ("Not sampled"), so ``cosmic-ray exec`` runs only the sample
and the mutation score is an unbiased estimate over the (filtered) mutants.
"""

import random
import sqlite3
import sys

path, n = sys.argv[1], int(sys.argv[2])
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
db = sqlite3.connect(path)
pending = [
    r[0]
    for r in db.execute(
        "SELECT m.job_id FROM mutation_specs m LEFT JOIN work_results r ON m.job_id = r.job_id"
        " WHERE r.job_id IS NULL ORDER BY m.module_path, m.start_pos_row, m.start_pos_col,"
        " m.operator_name, m.occurrence"
    )
]
keep = set(random.Random(seed).sample(pending, min(n, len(pending))))
db.executemany(
    "INSERT INTO work_results (worker_outcome, output, test_outcome, diff, job_id)"
    " VALUES ('SKIPPED', 'Not sampled', NULL, NULL, ?)",
    [(j,) for j in pending if j not in keep],
)
db.commit()
print(f"sampled {len(keep)} of {len(pending)} pending mutants (seed {seed})")
