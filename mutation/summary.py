"""Summarise a cosmic-ray session: mutants run, killed and survived per module; the survivors.

``python mutation/summary.py SESSION`` prints Markdown (used for RESULTS.md).
"""

import collections
import sqlite3
import sys

db = sqlite3.connect(sys.argv[1])
rows = db.execute(
    "SELECT m.module_path, m.operator_name, m.start_pos_row, m.definition_name,"
    " r.worker_outcome, r.test_outcome, r.output, r.diff"
    " FROM mutation_specs m JOIN work_results r ON m.job_id = r.job_id"
    " ORDER BY m.module_path, m.start_pos_row, m.operator_name"
).fetchall()
skipped = collections.Counter(r[6] for r in rows if r[4] == "SKIPPED")
done = [r for r in rows if r[4] != "SKIPPED"]
print(f"All mutants: {len(rows)}; not run: {dict(skipped)}\n")
print("| module | run | killed | survived | survived % |")
print("|---|---:|---:|---:|---:|")
by = collections.defaultdict(collections.Counter)
for r in done:
    by[r[0]][r[5] or r[4]] += 1
tot = collections.Counter()
for mod, c in sorted(by.items()):
    n = sum(c.values())
    tot.update(c)
    sv = c["SURVIVED"]
    print(f"| {mod} | {n} | {n - sv} | {sv} | {100 * sv / n:.1f} |")
n = sum(tot.values())
pct = 100 * tot["SURVIVED"] / max(n, 1)
print(f"| **all** | {n} | {n - tot['SURVIVED']} | {tot['SURVIVED']} | {pct:.1f} |")
print(f"\nOutcomes: {dict(tot)}\n\nSurvivors:\n")
for mod, op, row, name, _w, t, _o, diff in done:
    if t != "SURVIVED":
        continue
    lines = [
        ln
        for ln in (diff or "").splitlines()
        if ln.startswith(("-", "+")) and not ln.startswith(("---", "+++"))
    ]
    print(f"- `{mod}:{row}` ({name}, {op.removeprefix('core/')}): `{lines[-1][1:].strip()}`")
