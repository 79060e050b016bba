"""Benchmark: geoplan's suitability surface vs the GDAL command-line pipeline.

Run on demand (not part of the test suite)::

    apt-get install gdal-bin python3-gdal        # gdal_rasterize, gdal_proximity.py, gdal_calc.py
    .venv/bin/python bench/bench_suitability.py  # 250 m and 100 m

Both sides compute the same thing on the same grid (the default scenario's
belts, EPSG:5179, same origin and cell size): the ``distance`` criteria of
the profile named by ``--profile`` (default: agri_manufacturing, whose
criteria GDAL can compute: distance to rail, ports, roads and power plants
plus, in geoplan only, the labour pool, left out of both here), linear
falling transforms and the weighted sum, masked to the belts minus the
exclusions. GDAL's way is what a GIS analyst would script: ``gdal_rasterize``
each layer, ``gdal_proximity.py`` for distances, ``gdal_calc.py`` for the
transforms and the sum. The surfaces are compared cell by cell, then wall
time and peak memory (max RSS of the processes) of both are printed with
their ratio. Each side runs in its own fresh process so neither's memory
counts against the other.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _spec(profile: str) -> tuple[list[dict], list[float]]:
    from geoplan.scenario import load_scenario

    sc = load_scenario()
    prof = sc.profiles[profile]
    items, weights = [], []
    for pc, w in zip(prof.criteria, prof.weights, strict=True):
        c = sc.criteria[pc.criterion]
        t = pc.transform
        if c.kind != "distance_to" or t["type"] != "linear" or t.get("direction") != "falling":
            continue
        items.append({"name": pc.criterion, "layer": c.layer, "where": dict(c.where),
                      "high": float(t["high"])})  # fmt: skip
        weights.append(float(w))
    total = sum(weights)
    return items, [w / total for w in weights]


def _setup(res: float):
    import numpy as np
    import shapely

    from geoplan import grid as candidates
    from geoplan import layers as L
    from geoplan import regions

    layers = L.load_all()
    belts = regions.belts(layers)
    excl = shapely.union_all(regions.exclusions(layers).geometry.to_numpy())
    grid = candidates.make_grid(tuple(belts.total_bounds), res, "EPSG:5179")
    allowed = np.logical_or.reduce([grid.mask(shapely.difference(g, excl)) for g in belts.geometry])
    return layers, belts, excl, grid, allowed


def worker_geoplan(res: float, profile: str, out: Path) -> dict:
    """geoplan's way: candidate cells only, in memory."""
    import numpy as np
    import shapely

    from geoplan import criteria, mcda, regions
    from geoplan import grid as candidates
    from geoplan import layers as L

    items, weights = _spec(profile)
    # inputs loaded outside the timed part, as on the GDAL side
    layers = L.load_all()
    belts = regions.belts(layers)
    excl = shapely.union_all(regions.exclusions(layers).geometry.to_numpy())
    area = shapely.difference(shapely.union_all(belts.geometry.to_numpy()), excl)
    t0 = time.perf_counter()
    grid = candidates.make_grid(tuple(belts.total_bounds), res, "EPSG:5179")
    allowed = grid.mask(area)
    xy = grid.cell_xy(allowed)
    total = np.zeros(len(xy))
    for it, w in zip(items, weights, strict=True):
        lay = criteria.select(layers[it["layer"]], it["where"], name=it["layer"])
        d = criteria.distance_to(xy, lay, tolerance_m=res / 2, saturate_m=it["high"])
        total += w * mcda.transform(d, {"type": "linear", "low": 0, "high": it["high"],
                                        "direction": "falling"})  # fmt: skip
    del xy, d  # the output surface is built from the scores alone
    surface = np.full((grid.height, grid.width), np.nan, dtype="float32")
    surface[allowed] = total
    wall = time.perf_counter() - t0
    np.save(out, surface)
    return {"wall_s": wall, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def worker_gdal(res: float, profile: str, out: Path, work: Path) -> dict:
    """The GIS analyst's way: files and GDAL command-line tools."""
    import geopandas as gpd
    import numpy as np
    import rasterio

    from geoplan import criteria

    items, weights = _spec(profile)
    layers, _, excl, grid, _allowed = _setup(res)
    # inputs prepared outside the timed part, as an analyst would have them
    for it in items:
        lay = criteria.select(layers[it["layer"]], it["where"], name=it["layer"])
        lay[[lay.geometry.name]].to_file(work / f"{it['name']}.gpkg")
    from geoplan import regions

    belts = regions.belts(layers)
    import shapely

    inner = shapely.buffer(shapely.difference(shapely.union_all(belts.geometry.to_numpy()), excl),
                           -res * 0.7072, quad_segs=2)  # fmt: skip
    gpd.GeoDataFrame(geometry=[inner], crs=5179).to_file(work / "mask.gpkg")
    x0, y1 = grid.x0, grid.y1
    x1, y0 = x0 + grid.width * res, y1 - grid.height * res
    te = [str(v) for v in (x0, y0, x1, y1)]
    tr = [str(res), str(res)]
    t0 = time.perf_counter()

    tools_kb = [0]
    timer = shutil.which("time") or "/usr/bin/time"

    def sh(*cmd: str) -> None:
        # each tool's own peak through /usr/bin/time: a forked child's ru_maxrss starts at
        # the parent's resident size (this worker's ~230 MB of Python and layers), so
        # RUSAGE_CHILDREN alone over-counts GDAL's memory
        if Path(timer).exists():
            r = subprocess.run([timer, "-f", "%M", *cmd], check=True, capture_output=True,
                               text=True)  # fmt: skip
            tools_kb[0] = max(tools_kb[0], int(r.stderr.strip().splitlines()[-1]))
        else:
            subprocess.run(cmd, check=True, capture_output=True)

    sh("gdal_rasterize", "-q", "-burn", "1", "-te", *te, "-tr", *tr, "-ot", "Byte",
       "-init", "0", str(work / "mask.gpkg"), str(work / "mask.tif"))  # fmt: skip
    calc_inputs, expr = [], []
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXY"
    for i, (it, w) in enumerate(zip(items, weights, strict=True)):
        r = work / f"{it['name']}_r.tif"
        d = work / f"{it['name']}_d.tif"
        sh("gdal_rasterize", "-q", "-burn", "1", "-at", "-te", *te, "-tr", *tr, "-ot", "Byte",
           "-init", "0", str(work / f"{it['name']}.gpkg"), str(r))  # fmt: skip
        sh("gdal_proximity.py", "-q", str(r), str(d), "-values", "1", "-distunits", "GEO",
           "-ot", "Float32")  # fmt: skip
        calc_inputs += [f"-{letters[i]}", str(d)]
        expr.append(f"{w!r}*clip(1-{letters[i]}/{it['high']!r},0,1)")
    z = letters[len(items)]
    sh("gdal_calc.py", "--quiet", *calc_inputs, f"-{z}", str(work / "mask.tif"),
       f"--outfile={work / 'suit.tif'}", "--type=Float32", "--NoDataValue=-9999",
       f"--calc=where({z}==1,{'+'.join(expr)},-9999)", "--overwrite")  # fmt: skip
    wall = time.perf_counter() - t0
    with rasterio.open(work / "suit.tif") as src:
        arr = src.read(1, masked=True).filled(np.nan)
    np.save(out, arr)
    forked = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rss = tools_kb[0] / 1024 if tools_kb[0] else forked
    return {"wall_s": wall, "maxrss_mb": rss, "forked_maxrss_mb": forked,
            "allowed_cells_gdal": int(np.isfinite(arr).sum())}  # fmt: skip


def _run_worker(side: str, res: float, profile: str, out: Path, work: Path) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            side,
            "--res",
            str(res),
            "--profile",
            profile,
            "--out",
            str(out),
            "--work",
            str(work),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--res", type=float, nargs="*", default=[250.0, 100.0])
    ap.add_argument("--profile", default="agri_manufacturing")
    ap.add_argument("--worker", choices=["geoplan", "gdal"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--work", type=Path)
    a = ap.parse_args()
    if a.worker:
        fn = worker_geoplan if a.worker == "geoplan" else worker_gdal
        res = (
            fn(a.res[0], a.profile, a.out)
            if a.worker == "geoplan"
            else fn(a.res[0], a.profile, a.out, a.work)
        )
        print(json.dumps(res))
        return 0
    for tool in ("gdal_rasterize", "gdal_proximity.py", "gdal_calc.py"):
        if not shutil.which(tool):
            print(f"error: {tool} not found (apt-get install gdal-bin python3-gdal)")
            return 1
    import numpy as np

    print(f"profile {a.profile}: distance criteria only, weighted sum, same grid both sides")
    for res in a.res:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            g = _run_worker("geoplan", res, a.profile, work / "geoplan.npy", work)
            d = _run_worker("gdal", res, a.profile, work / "gdal.npy", work)
            sg, sd = np.load(work / "geoplan.npy"), np.load(work / "gdal.npy")
        both = np.isfinite(sg) & np.isfinite(sd)
        diff = np.abs(sg[both] - sd[both])
        print(
            f"{res:g} m: cells geoplan {int(np.isfinite(sg).sum()):,} "
            f"gdal {int(np.isfinite(sd).sum()):,}"
            f" common {int(both.sum()):,}; |diff| mean {diff.mean():.5f} p99 "
            f"{np.percentile(diff, 99):.5f} max {diff.max():.5f}"
        )
        print(
            f"  wall  geoplan {g['wall_s']:.2f} s  gdal {d['wall_s']:.2f} s  "
            f"ratio {g['wall_s'] / d['wall_s']:.2f}x"
        )
        print(
            f"  peak  geoplan {g['maxrss_mb']:.0f} MB  gdal {d['maxrss_mb']:.0f} MB (largest "
            f"tool process)  ratio {g['maxrss_mb'] / d['maxrss_mb']:.2f}x"
        )
        print(
            f"  (gdal as measured before, RUSAGE_CHILDREN incl. the forking worker: "
            f"{d['forked_maxrss_mb']:.0f} MB, ratio {g['maxrss_mb'] / d['forked_maxrss_mb']:.2f}x)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
