"""Benchmark: the whole default run (``geoplan run``), wall time, peak memory and its stages.

    .venv/bin/python bench/bench_run.py                  # --res 250 --repeat 5
    .venv/bin/python bench/bench_run.py --res 100 --repeat 2

Each repeat runs ``python -m geoplan run -q --out TMP`` in a fresh process (what a user
types, every output written) and, alternating with it, a reference process that only
starts Python and imports the libraries a run needs (geopandas, pandas, shapely, pyproj,
pyogrio, rasterio, folium): the run's fixed cost on this machine in the same minutes. It
prints the median wall time and peak RSS of both, their ratio, and the median of each
stage from the run's ``run.json`` (``timings_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REFERENCE = "import geopandas, pandas, shapely, pyproj, pyogrio, rasterio, folium"


def _one(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``cmd``, run under a fresh Python parent so that
    the children's peak RSS is its own (``ru_maxrss`` of children is the largest so far)."""
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        f"p = subprocess.run({cmd!r}, capture_output=True, text=True); "
        "w = time.perf_counter() - t; "
        "sys.stderr.write(p.stderr) if p.returncode else None; "
        "print(w, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0); "
        "sys.exit(p.returncode)"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    wall, peak = proc.stdout.split()
    return float(wall), float(peak)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, default=250.0, help="grid resolution in metres")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    root = Path(__file__).resolve().parent.parent
    runs, refs, stages = [], [], {}
    with tempfile.TemporaryDirectory(prefix="geoplan-bench-") as tmp:
        out = Path(tmp) / "out"
        cmd = [sys.executable, "-m", "geoplan", "run", "-q", "--out", str(out)]
        if args.res != 250.0:
            cmd += ["--set", f"grid.resolution_m={args.res:g}"]
        for _ in range(args.repeat):
            refs.append(_one([sys.executable, "-c", REFERENCE], root))
            runs.append(_one(cmd, root))
            rec = json.loads((out / "run.json").read_text(encoding="utf-8"))
            for k, v in rec["timings_s"].items():
                stages.setdefault(k, []).append(float(v))
    run_w = statistics.median(w for w, _ in runs)
    ref_w = statistics.median(w for w, _ in refs)
    run_m = statistics.median(m for _, m in runs)
    ref_m = statistics.median(m for _, m in refs)
    print(f"machine: {os.cpu_count()} cores; grid {args.res:g} m; {args.repeat} runs each")
    print(f"geoplan run: median {run_w:.2f} s ({', '.join(f'{w:.2f}' for w, _ in runs)}), "
          f"peak RSS median {run_m:.0f} MB")  # fmt: skip
    print(f"reference (start Python, import the stack): median {ref_w:.2f} s, {ref_m:.0f} MB")
    print(f"run / reference: {run_w / ref_w:.2f}x wall, {run_m / ref_m:.2f}x memory")
    print("stages (run.json timings_s, median):")
    for k in sorted(stages):
        print(f"  {k:32s} {statistics.median(stages[k]):7.3f} s")


if __name__ == "__main__":
    main()
