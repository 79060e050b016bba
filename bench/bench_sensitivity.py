"""Benchmark: Monte Carlo weight sensitivity on the default run.

Run on demand (not part of the test suite)::

    .venv/bin/python bench/bench_sensitivity.py          # --res 250 --draws 1000

Runs the default scenario once (not timed), then times only the sensitivity
part: :func:`geoplan.sensitivity.monte_carlo` over every zone and listed
site of every profile (targets: 1,000 draws <= 2 s), the per-cell top-5 %
share of one profile over every candidate cell (target <= 30 s), and the
one-at-a-time sweep. Prints one JSON line of results.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=float, default=250.0, help="grid resolution (m)")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--profile", default="labour_intensive", help="profile for the cell share")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for the zone part")
    args = ap.parse_args()

    from geoplan import sensitivity as S
    from geoplan.pipeline import Session, ensure_criteria

    t = time.perf_counter()
    session = Session(grid={"resolution_m": args.res})
    res = session.run(sensitivity=0)
    run_s = time.perf_counter() - t
    sc = res.scenario
    table = res.ranking
    keys = ensure_criteria(res.prepared, sc)

    zone_s = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        mc = S.monte_carlo(table, sc, draws=args.draws, cell_share=False)
        zone_s.append(time.perf_counter() - t)

    prof = sc.profiles[args.profile]
    w = mc.weights[args.profile]
    t = time.perf_counter()
    share = S.cell_top_share(res.prepared, keys, prof, w, sc.aggregation)
    cell_s = time.perf_counter() - t

    t = time.perf_counter()
    S.one_at_a_time(table, sc)
    oat_s = time.perf_counter() - t

    print(
        json.dumps(
            {
                "resolution_m": args.res,
                "draws": args.draws,
                "profiles": len(sc.profiles),
                "candidates (zones + sites, all profiles)": len(table),
                "candidate_cells": int(res.prepared.candidate_mask.sum()),
                "run_s (not timed part)": round(run_s, 2),
                "monte_carlo_s (best)": round(min(zone_s), 3),
                "monte_carlo_s (all)": [round(x, 3) for x in zone_s],
                "rejected_ahp_draws": mc.summary["rejected_ahp_draws"],
                f"cell_share_s ({args.profile})": round(cell_s, 2),
                "cell_share_mean": round(float(share[share == share].mean()), 4),
                "one_at_a_time_s": round(oat_s, 3),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
