"""Benchmark: a weight change rerun through a Session vs a fresh run, same machine, same run.

The default scenario at 250 m. A :class:`geoplan.Session` runs it once
(layers, belts, grid and every criterion computed and cached), then reruns
with ``labour_intensive``'s ``labour_pool`` weight at 0.6: only that profile
is re-scored and its zones re-grown; no criterion is recomputed. The
rerun's ``ranking.csv`` must be byte-identical to a fresh
``geoplan run --set profiles.labour_intensive.criteria.labour_pool.weight=0.6``.

    .venv/bin/python bench/bench_rerun.py            # --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "profiles.labour_intensive.criteria.labour_pool.weight"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--weight", type=float, default=0.6)
    args = ap.parse_args()

    import geoplan

    t0 = time.perf_counter()
    s = geoplan.Session()
    s.run()
    first = time.perf_counter() - t0
    times = []
    for i in range(args.repeat):
        # alternate the weight so every rerun really re-scores the profile
        w = args.weight if i % 2 == 0 else args.weight - 0.05
        t = time.perf_counter()
        r = s.rerun(weights={"labour_intensive": {"labour_pool": w}})
        times.append(time.perf_counter() - t)
    r = s.rerun(weights={"labour_intensive": {"labour_pool": args.weight}})
    with tempfile.TemporaryDirectory() as tmp:
        a = Path(tmp) / "session"
        r.write(a, only=["csv"])
        b = Path(tmp) / "fresh"
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "geoplan", "-q", "run", "--set", f"{KEY}={args.weight}",
             "--only", "csv", "--out", str(b)],
            check=True,
        )  # fmt: skip
        fresh = time.perf_counter() - t
        same = (a / "ranking.csv").read_bytes() == (b / "ranking.csv").read_bytes()
    med = statistics.median(times)
    print(f"first run in the session (everything computed): {first:.2f} s")
    print(f"fresh `geoplan run --set ... --only csv` (new process, all criteria): {fresh:.2f} s")
    print(
        f"weight-change rerun through the session: median {med:.3f} s of {args.repeat} "
        f"(min {min(times):.3f}, max {max(times):.3f}); {med / fresh:.3f}x the fresh run"
    )
    print(f"ranking.csv byte-identical to the fresh run: {same}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
