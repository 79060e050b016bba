"""Benchmark: network travel time and PBF import memory.

Run on demand (not part of the test suite)::

    .venv/bin/python bench/bench_network.py            # --side 710 --candidates 200000

1. All-candidates travel time on a synthetic road grid of >= 1 M edges:
   geoplan's one multi-source Dijkstra (``geoplan.network.travel_time_to``)
   against per-candidate ``osmnx.routing.shortest_path`` (networkx Dijkstra)
   to every target, timed on a sample and extrapolated; ratio and peak
   memory (ru_maxrss of a fresh process each).
2. PBF import: a generated extract of >= 1 M nodes (a street grid plus
   untagged noise nodes), imported with ``geoplan osm import``; peak memory
   against file size, and against the same import with twice the noise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _grid(side: int):
    import geopandas as gpd
    import numpy as np
    import shapely

    step = 500.0
    xs = np.arange(side) * step
    rows = [shapely.LineString([(xs[0], y), (xs[-1], y)]) for y in xs]
    cols = [shapely.LineString([(x, xs[0]), (x, xs[-1])]) for x in xs]
    # densify so every grid crossing is a vertex (a node)
    lines = shapely.segmentize(np.array(rows + cols), step)
    return gpd.GeoDataFrame(geometry=lines, crs=5179)


def worker_geoplan(side: int, n_cand: int) -> dict:
    import numpy as np

    from geoplan import network as N

    roads = _grid(side)
    t0 = time.perf_counter()
    net = N.build_network({"roads": roads}, snap_m=1.0)
    t_build = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    ext = (side - 1) * 500.0
    targets = rng.uniform(0, ext, size=(10, 2))
    cand = rng.uniform(0, ext, size=(n_cand, 2))
    t0 = time.perf_counter()
    t = N.travel_time_to(cand, net, targets)
    wall = time.perf_counter() - t0
    np.save("/tmp/geoplan_bench_tt.npy", t[:20])
    return {"edges": len(net.u), "nodes": net.n_nodes, "build_s": t_build, "wall_s": wall,
            "per_candidate_ms": wall / n_cand * 1e3,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def worker_osmnx(side: int, n_sample: int) -> dict:
    import numpy as np
    import osmnx as ox
    from scipy.spatial import cKDTree

    from geoplan import network as N

    roads = _grid(side)
    net = N.build_network({"roads": roads}, snap_m=1.0)
    g = N.to_networkx(net)
    rng = np.random.default_rng(1)
    ext = (side - 1) * 500.0
    targets = rng.uniform(0, ext, size=(10, 2))
    cand = rng.uniform(0, ext, size=(n_sample, 2))
    tree = cKDTree(net.node_xy)
    cgap, cnode = tree.query(cand)
    tgap, tnode = tree.query(targets)
    v = 20 / 3.6
    t0 = time.perf_counter()
    out = []
    for gap, node in zip(cgap, cnode, strict=True):
        best = np.inf
        for tg, tn in zip(tgap, tnode, strict=True):
            path = ox.routing.shortest_path(g, int(node), int(tn), weight="travel_time")
            tt = sum(g[a][b][0]["travel_time"] for a, b in itertools.pairwise(path))
            best = min(best, tt + tg / v)
        out.append((gap / v + best) / 60)
    wall = time.perf_counter() - t0
    ref = np.load("/tmp/geoplan_bench_tt.npy")
    k = min(len(ref), len(out))
    return {"wall_s": wall, "per_candidate_ms": wall / n_sample * 1e3,
            "max_abs_diff_min": float(np.max(np.abs(np.array(out[:k]) - ref[:k]))),
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def write_pbf(path: Path, side: int, noise: int) -> int:
    import numpy as np
    import osmium

    rng = np.random.default_rng(3)
    lon = rng.uniform(124.5, 130.5, noise)
    lat = rng.uniform(38.0, 42.5, noise)
    n = 0
    with osmium.SimpleWriter(str(path)) as w:
        nid = 1
        ids = {}
        for i in range(side):
            for j in range(side):
                ids[i, j] = nid
                w.add_node(osmium.osm.mutable.Node(id=nid, location=(125.0 + j * 0.002,
                           38.5 + i * 0.002), version=1))  # fmt: skip
                nid += 1
        for k in range(noise):
            tags = {"name": f"place {k}", "amenity": "bench"} if k % 50 == 0 else {}
            w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon[k], lat[k]), version=1,
                       tags=tags))  # fmt: skip
            nid += 1
        n = nid - 1
        wid = 1
        for i in range(side):
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[ids[i, j] for j in range(side)],
                      tags={"highway": "primary"}, version=1))  # fmt: skip
            wid += 1
    return n


def worker_import(pbf: str, out: str) -> dict:
    from geoplan import osm

    t0 = time.perf_counter()
    res = osm.import_extract(pbf, out)
    return {"wall_s": time.perf_counter() - t0, "edges": res["graph"]["edges"],
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}  # fmt: skip


def _sub(*args: str) -> dict:
    p = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                       check=True)  # fmt: skip
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=710)
    ap.add_argument("--candidates", type=int, default=200_000)
    ap.add_argument("--sample", type=int, default=3)
    ap.add_argument("--worker")
    ap.add_argument("--args", nargs="*", default=[])
    a = ap.parse_args()
    if a.worker == "geoplan":
        print(json.dumps(worker_geoplan(a.side, a.candidates)))
        return 0
    if a.worker == "osmnx":
        print(json.dumps(worker_osmnx(a.side, a.sample)))
        return 0
    if a.worker == "import":
        print(json.dumps(worker_import(*a.args)))
        return 0
    g = _sub("--worker", "geoplan", "--side", str(a.side), "--candidates", str(a.candidates))
    o = _sub("--worker", "osmnx", "--side", str(a.side), "--sample", str(a.sample))
    extrap = o["per_candidate_ms"] * a.candidates / 1e3
    print(f"network: {g['nodes']:,} nodes, {g['edges']:,} edges (built in {g['build_s']:.1f} s)")
    print(f"  geoplan multi-source: {a.candidates:,} candidates x 10 targets in "
          f"{g['wall_s']:.2f} s ({g['per_candidate_ms'] * 1e3:.1f} us each), "
          f"peak {g['maxrss_mb']:.0f} MB")  # fmt: skip
    print(f"  osmnx per candidate: {a.sample} sampled in {o['wall_s']:.1f} s "
          f"({o['per_candidate_ms']:.0f} ms each) -> {extrap:,.0f} s extrapolated, "
          f"peak {o['maxrss_mb']:.0f} MB; max |diff| {o['max_abs_diff_min']:.2e} min")  # fmt: skip
    print(f"  speed-up: {extrap / g['wall_s']:,.0f}x")
    with tempfile.TemporaryDirectory() as tmp:
        for noise in (1_000_000, 2_000_000):
            pbf = Path(tmp) / f"g{noise}.osm.pbf"
            n = write_pbf(pbf, 250, noise)
            r = _sub("--worker", "import", "--args", str(pbf), str(Path(tmp) / f"o{noise}"))
            size = pbf.stat().st_size / 1e6
            print(f"pbf import: {n:,} nodes, {size:.1f} MB file -> peak {r['maxrss_mb']:.0f} MB, "
                  f"{r['wall_s']:.1f} s, {r['edges']:,} graph edges")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
