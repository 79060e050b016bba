"""The Dask engine gives the in-memory engine's surfaces, COGs and ranking (issue 11).

Oracle: the in-memory engine on the same grid. The Dask runs use blocks of
2,000 grid cells (many blocks, seeds re-read from disk) once on the local
synchronous scheduler through the CLI and once on a two-process
LocalCluster. The driver's memory is checked with tracemalloc: going from a
2 km to a 1 km grid (4x the cells) must not add one grid-sized surface.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from .conftest import require

RES = 5000
CHUNK = 2000  # grid cells per block


def _need_dask() -> None:
    require(
        importlib.util.find_spec("dask") is not None
        and importlib.util.find_spec("distributed") is not None,
        "dask[array,distributed] is not installed (pip install -e '.[dask]')",
    )


@pytest.fixture(scope="module")
def memory_run(tmp_path_factory):
    from geoplan import pipeline

    res = pipeline.Session(grid={"resolution_m": RES}).run()
    out = tmp_path_factory.mktemp("memory")
    res.write(out, only=["csv", "geotiff"])
    return res, (out / "ranking.csv").read_bytes(), out


@pytest.fixture(scope="module")
def two_workers():
    """A LocalCluster of two worker processes (one thread each) and its client."""
    _need_dask()
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _assert_same(ref, res) -> None:
    assert set(res.surfaces) == set(ref.surfaces)
    for p, surf in ref.surfaces.items():
        got = res.surfaces[p]
        assert got.dtype == np.float32 and got.shape == surf.shape
        # NaN exactly outside the candidates, scores equal within float32 tolerance
        np.testing.assert_array_equal(np.isnan(got), np.isnan(surf))
        np.testing.assert_allclose(got, surf, rtol=0, atol=1e-6, equal_nan=True)
        # candidates in several blocks of CHUNK // width rows
        rows = np.flatnonzero(np.isfinite(surf).any(axis=1))
        assert len(np.unique(rows // max(1, CHUNK // surf.shape[1]))) > 3


def test_cli_dask_synchronous_equals_memory(memory_run, tmp_path, monkeypatch):
    _need_dask()
    from click.testing import CliRunner

    from geoplan.cli import main
    from geoplan.engines import dask as D

    monkeypatch.setattr(D, "DEFAULT_CHUNK", CHUNK)
    monkeypatch.setattr(D.DaskEngine.__init__, "__defaults__", (None, None, CHUNK, None))
    monkeypatch.setattr(D, "SEEDS_PER_BLOCK", 2)  # most seeds come from re-reading blocks
    ref, ref_csv, ref_out = memory_run
    assert len(D.DaskEngine()._blocks(ref.grid)) > 3  # several blocks
    args = ["run", "--set", f"grid.resolution_m={RES}", "--engine", "dask"]
    args += ["--scheduler", "synchronous", "--only", "csv,geotiff", "--out", str(tmp_path)]
    res = CliRunner().invoke(main, [*args, "-q"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ranking.csv").read_bytes() == ref_csv
    _assert_same_cogs(ref_out, tmp_path, list(ref.surfaces))


def _assert_same_cogs(ref_out, out, profiles) -> None:
    """The window-by-window COGs hold the in-memory COGs' pixels, overviews, nodata and tags."""
    import rasterio

    from geoplan.outputs import safe_name

    for p in profiles:
        name = f"suitability_{safe_name(p, fallback='profile')}.tif"
        with rasterio.open(ref_out / name) as a, rasterio.open(out / name) as b:
            assert b.driver == "GTiff" and b.profile["tiled"]
            assert (b.nodata, b.crs, b.transform) == (a.nodata, a.crs, a.transform)
            assert b.tags() == a.tags() and b.descriptions == a.descriptions
            assert b.overviews(1) == a.overviews(1)
            np.testing.assert_array_equal(b.read(1), a.read(1))
            for f in a.overviews(1):
                shape = (a.height // f, a.width // f)
                np.testing.assert_allclose(
                    b.read(1, out_shape=shape), a.read(1, out_shape=shape), atol=1e-6
                )
            assert b.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_localcluster_two_processes_equals_memory(memory_run, two_workers, tmp_path):
    from geoplan import pipeline
    from geoplan.engines import dask as D

    ref, ref_csv, _ = memory_run
    client = two_workers
    s = pipeline.Session(engine="dask", scheduler=client, grid={"resolution_m": RES})
    s.engine.chunk = CHUNK
    assert len(s.engine._blocks(ref.grid)) > 3
    res = s.run()
    assert all(isinstance(v, D.DiskRaster) for v in res.surfaces.values())
    assert len(client.scheduler_info()["workers"]) == 2
    _assert_same(ref, res)
    written = res.write(tmp_path, only=["csv", "map"])
    assert (tmp_path / "ranking.csv").read_bytes() == ref_csv
    # the map's overlays come from the on-disk surfaces' block means: one PNG per profile
    html = written["map"].read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") >= len(ref.surfaces)
    # every zone's score is the mean of its cells on the surface
    z = res.zones.iloc[0]
    rows, cols = res.zone_cells[z["zone_id"]]
    surf = ref.surfaces[z["profile"]]
    assert z["score"] == pytest.approx(float(np.mean(surf[rows, cols].astype(float))), abs=1e-6)


def test_missing_dask_is_one_line(monkeypatch):
    import builtins

    from geoplan import pipeline
    from geoplan._errors import GeoplanError

    real = builtins.__import__

    def fake(name, *a, **k):
        if name.split(".")[0] in ("dask", "distributed"):
            err = ImportError(f"No module named '{name}'")
            err.name = name.split(".")[0]
            raise err
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(GeoplanError) as exc:
        pipeline.Session(engine="dask")
    msg = str(exc.value)
    assert "\n" not in msg
    assert "pip install -e '.[dask]'" in msg


def test_fine_grid_refused_in_one_line_with_the_estimate():
    """A 25 m run of the default scenario is refused before any grid is allocated."""
    import re
    import subprocess
    import sys

    from geoplan._memory import available_bytes, estimate_bytes, fmt_bytes
    from geoplan.pipeline import MEMORY_SHARE

    from .conftest import REPO

    cmd = [sys.executable, "-m", "geoplan", "run", "--set", "grid.resolution_m=25", "-q"]
    cmd += ["--out", "/nonexistent/never-written"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    lines = [ln for ln in proc.stderr.splitlines() + proc.stdout.splitlines() if ln.strip()]
    m = re.search(r"\(([\d,]+) grid cells, ([\d,]+) candidates\)", proc.stderr + proc.stdout)
    assert m, proc.stderr
    rect, cand = (int(g.replace(",", "")) for g in m.groups())
    need = estimate_bytes(rect, cand, 8, 5)
    if need <= available_bytes() * MEMORY_SHARE:
        pytest.skip(f"this machine has room for {fmt_bytes(need)}; nothing to refuse")
    assert proc.returncode == 1
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    # the rectangle of the default belts at 25 m, and the estimate from those counts
    assert 4.0e8 < rect < 5.5e8 and 0.1 < cand / rect < 0.2
    assert f"25 m needs about {fmt_bytes(need)} in memory" in lines[0]
    assert "--engine dask" in lines[0]


def test_dask_engine_skips_the_memory_refusal(monkeypatch):
    _need_dask()
    from geoplan import _memory, pipeline
    from geoplan._errors import ScenarioError

    monkeypatch.setattr(pipeline, "available_bytes", lambda: 2**20)  # 1 MB left
    with pytest.raises(ScenarioError, match=r"needs about .* in memory"):
        pipeline.Session(grid={"resolution_m": 5000}).run()
    res = pipeline.Session(
        engine="dask", scheduler="synchronous", grid={"resolution_m": 5000}
    ).run()
    assert _memory.available_bytes() > 2**20  # the real function is untouched
    assert len(res.zones) > 0 and res.zones["score"].between(0, 1).all()


def test_zones_grown_from_block_seeds_equal_memory_on_1km(tmp_path, monkeypatch):
    """Multi-cell zones, spacing and refilled seed lists: the 1 km ranking is byte-identical."""
    _need_dask()
    from geoplan import pipeline
    from geoplan.engines import dask as D

    monkeypatch.setattr(D, "SEEDS_PER_BLOCK", 3)
    over = {"grid": {"resolution_m": 1000}}
    ref = pipeline.Session(**over).run()
    s = pipeline.Session(engine="dask", scheduler="synchronous", **over)
    s.engine.chunk = 20_000
    res = s.run()
    assert (res.zones["area_km2"] > 1).any()  # zones of several cells were grown
    for name, r in (("a", ref), ("b", res)):
        r.write(tmp_path / name, only="csv")
    a, b = ((tmp_path / n / "ranking.csv").read_bytes() for n in "ab")
    assert a == b
    for zid, (rows, cols) in ref.zone_cells.items():
        r2, c2 = res.zone_cells[zid]
        assert rows.tolist() == r2.tolist() and cols.tolist() == c2.tolist()
    _assert_same(ref, res)


def test_disk_raster_overview_is_the_block_nanmean(tmp_path):
    """The map's overlay source: the mean of each f x f block's finite cells (numpy oracle)."""
    _need_dask()
    from geoplan.engines.dask import DiskRaster

    rng = np.random.default_rng(1)
    a = rng.random((23, 31)).astype("float32")
    a[rng.random(a.shape) < 0.4] = np.nan
    a[0:5, 0:5] = np.nan  # one block with no value at all
    a.tofile(tmp_path / "s.raw")
    ov, f = DiskRaster(tmp_path / "s.raw", a.shape, "float32").overview(8, chunk=40)
    assert f == 4 and ov.shape == (6, 8)
    for i in range(6):
        for j in range(8):
            blk = a[i * 4 : i * 4 + 4, j * 4 : j * 4 + 4]
            fin = blk[np.isfinite(blk)]
            if fin.size:
                assert ov[i, j] == pytest.approx(float(fin.astype(float).mean()), rel=1e-6)
            else:
                assert np.isnan(ov[i, j])


def _driver_peak(res_m: int, tmp_path, client) -> tuple[int, int]:
    """tracemalloc peak of a dask run + COG and CSV writing, after layers and belts are built."""
    import tracemalloc

    from geoplan import pipeline

    s = pipeline.Session(
        engine="dask", scheduler=client, grid={"resolution_m": res_m},
        candidates={"zones_per_belt": 1},
    )  # fmt: skip
    s.engine.chunk = 30_000
    tracemalloc.start()
    try:
        s.prepared()  # layers, belts, sites: vector work, the same at both resolutions
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        res = s.run()
        res.write(tmp_path / str(res_m), only=["csv", "geotiff"])
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, res.grid.width * res.grid.height


def test_driver_memory_is_bounded_by_the_chunk_not_the_grid(tmp_path, monkeypatch, two_workers):
    """4x the grid cells add less than ONE grid-sized float32 surface to the driver's peak.

    The blocks run on two worker processes; tracemalloc sees the driver only.
    The engine before this change held five surfaces, the belt masks and the
    criteria table in the driver: 4x the cells added 10 MB, more than eight
    surfaces.
    """
    _need_dask()
    from geoplan.engines import dask as D

    monkeypatch.setattr(D, "SEEDS_PER_BLOCK", 16)
    _driver_peak(2000, tmp_path / "warm", two_workers)  # first-use imports and caches
    coarse, cells_coarse = _driver_peak(2000, tmp_path, two_workers)
    fine, cells_fine = _driver_peak(1000, tmp_path, two_workers)
    assert cells_fine > 3.9 * cells_coarse
    one_surface = 4 * cells_fine
    assert fine - coarse < one_surface, (coarse, fine, one_surface)


def test_cell_share_is_refused_under_dask_in_one_line():
    """The per-cell robustness surfaces need the grid in memory: one line naming the key."""
    _need_dask()
    from geoplan import pipeline
    from geoplan._errors import ScenarioError

    s = pipeline.Session(
        engine="dask", scheduler="synchronous", grid={"resolution_m": RES},
        sensitivity={"draws": 5, "cell_share": True},
    )  # fmt: skip
    with pytest.raises(ScenarioError) as exc:
        s.run()
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("sensitivity.cell_share:")
    assert len(s.run(sensitivity=0).zones) > 0  # no draws: nothing per cell to refuse


def test_slope_constraint_per_block_equals_memory(tmp_path, monkeypatch):
    """A DEM slope constraint burnt block by block excludes the in-memory engine's cells."""
    _need_dask()
    import pandas as pd
    import rasterio
    from affine import Affine

    from geoplan import pipeline
    from geoplan.engines import dask as D

    monkeypatch.setattr(D, "SEEDS_PER_BLOCK", 3)
    g = pipeline.Session(grid={"resolution_m": RES}).prepared().grid
    x0, y1 = g.x0 - 20_000, g.y1 + 20_000
    w, h = g.width * 5 + 40, g.height * 5 + 40
    xx, yy = np.meshgrid(x0 + (np.arange(w) + 0.5) * 1000, y1 - (np.arange(h) + 0.5) * 1000)
    z = (500 * np.sin(xx / 20_000) * np.cos(yy / 15_000)).astype("float32")  # 0-2 degrees
    dem = tmp_path / "dem.tif"
    prof = {"driver": "GTiff", "width": w, "height": h, "count": 1, "dtype": "float32"}
    with rasterio.open(
        dem, "w", **prof, crs="EPSG:5179", transform=Affine(1000, 0, x0, 0, -1000, y1)
    ) as ds:
        ds.write(z, 1)
    over = {"grid": {"resolution_m": 2000},
            "constraints": {"max_slope_deg": 1.2, "slope_dem": str(dem)}}  # fmt: skip
    ref = pipeline.Session(**over).run()
    s = pipeline.Session(engine="dask", scheduler="synchronous", **over)
    s.engine.chunk = 3000
    res = s.run()
    # the constraint removed cells, and the zones' slope columns are filled
    open_ = pipeline.Session(grid={"resolution_m": 2000}).prepared().candidate_mask.sum()
    assert np.isfinite(ref.surfaces["labour_intensive"]).sum() < open_
    assert ref.zones["slope_max_deg"].le(1.2).all()
    _assert_same(ref, res)
    pd.testing.assert_frame_equal(ref.ranking, res.ranking)


def test_a_failed_seed_can_join_a_neighbours_zone_on_disk(tmp_path):
    """The windowed grower on disk gives the in-memory grower's zone in the corridor case."""
    _need_dask()
    from geoplan.engines.dask import DiskRaster, _WindowGrower
    from geoplan.grid import Grid

    from .test_zones_oracle import CORRIDOR_ZONE, _corridor

    s, allowed = _corridor()
    s.astype("float32").tofile(tmp_path / "s.raw")
    allowed.astype("uint8").tofile(tmp_path / "b.raw")
    g = Grid(0.0, 6_000.0, 1000.0, 10, 6, "EPSG:5179")
    grower = _WindowGrower(
        DiskRaster(tmp_path / "s.raw", s.shape, "float32"),
        DiskRaster(tmp_path / "b.raw", s.shape, "uint8"),
        g, 5.0, 0.0,
    )  # fmt: skip
    order = sorted(np.flatnonzero(allowed), key=lambda f: (-s.flat[f], f))
    z = grower.next_zone(1, iter(order))
    assert z.seed == (2, 1)
    assert set(zip(z.rows.tolist(), z.cols.tolist(), strict=True)) == CORRIDOR_ZONE


class _OneBlindWorker:
    """A distributed.Client stand-in: one worker sees the store, the other a folder without it."""

    def __init__(self, elsewhere):
        self.elsewhere = str(elsewhere)

    def run(self, fn, folder, token):
        return {"tcp://10.0.0.7:4000": fn(folder, token), "tcp://10.0.0.8:4000": fn(
            self.elsewhere, token)}  # fmt: skip


def test_a_worker_that_cannot_read_the_store_is_refused_in_one_line(tmp_path):
    """Workers on a machine that does not share --tmpdir: one line naming them and the folder."""
    _need_dask()
    from geoplan._errors import GeoplanError
    from geoplan.engines.dask import check_store

    store, other = tmp_path / "store", tmp_path / "other"
    store.mkdir()
    other.mkdir()
    with pytest.raises(GeoplanError) as e:
        check_store(_OneBlindWorker(other), store)
    (line,) = e.value.lines()
    assert "tcp://10.0.0.8:4000" in line and "tcp://10.0.0.7:4000" not in line
    assert str(store) in line and "--tmpdir" in line
    # the blind worker's folder holding an old mark (another run's token) is still refused
    (other / ".geoplan-store").write_text((store / ".geoplan-store").read_text())
    with pytest.raises(GeoplanError):
        check_store(_OneBlindWorker(other), store)


def test_tmpdir_holds_the_store_and_every_worker_reads_it(two_workers, tmp_path):
    """--tmpdir on a real two-process cluster: the store is made there and both workers pass."""
    from geoplan import pipeline

    s = pipeline.Session(
        engine="dask", scheduler=two_workers, tmpdir=str(tmp_path),
        grid={"resolution_m": 5000}, candidates={"zones_per_belt": 1},
    )  # fmt: skip
    res = s.run()
    (store,) = {v.path.parent for v in res.surfaces.values()}
    # the run's store and the session's kept criteria, both in --tmpdir
    made = sorted(p for p in tmp_path.iterdir() if p.name.startswith("geoplan-dask-"))
    assert store in made and len(made) == 2
    token = (store / ".geoplan-store").read_text()
    assert len(token) == 32
    from geoplan.engines.dask import _reads_mark

    assert two_workers.run(_reads_mark, str(store), token) == dict.fromkeys(
        two_workers.scheduler_info()["workers"], True
    )


def test_tmpdir_needs_the_dask_engine_and_an_existing_folder(tmp_path):
    from click.testing import CliRunner

    from geoplan.cli import main

    r = CliRunner().invoke(main, ["run", "--tmpdir", str(tmp_path), "-q"])
    assert r.exit_code == 2 and "--tmpdir need --engine dask" in r.output
    r = CliRunner().invoke(main, ["run", "--engine", "dask", "--tmpdir", str(tmp_path / "no")])
    assert r.exit_code == 2 and "'--tmpdir'" in r.output and "does not exist" in r.output


def test_cli_against_a_tcp_scheduler_and_worker_equals_memory(memory_run, tmp_path):
    """`dask scheduler` and `dask worker` processes over TCP (localhost), as docs/scale.md says.

    The run goes through the command line with --scheduler and --tmpdir; its
    ranking.csv is the in-memory engine's, byte for byte.
    """
    _need_dask()
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    py = [sys.executable, "-m"]
    quiet = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    dash = ["--dashboard-address", ":0"]
    sched = ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port)]
    worker = ["distributed.cli.dask_worker", addr, "--nworkers", "1", "--nthreads", "1"]
    procs = [subprocess.Popen([*py, *sched, *dash], **quiet)]
    try:
        procs.append(subprocess.Popen([*py, *worker, *dash], **quiet))
        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(1, timeout=120)
        store = tmp_path / "store"
        store.mkdir()
        out = tmp_path / "out"
        run = subprocess.run(
            [*py, "geoplan", "run", "--set", f"grid.resolution_m={RES}", "--engine", "dask",
             "--scheduler", addr, "--tmpdir", str(store), "--only", "csv", "--out", str(out),
             "-q"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert (out / "ranking.csv").read_bytes() == memory_run[1]
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def test_a_session_rerun_reads_the_kept_criteria_and_equals_memory(tmp_path, monkeypatch):
    """A weight rerun under dask burns no belt and evaluates no block's criteria again.

    Its ranking.csv is the in-memory session's rerun, byte for byte.
    """
    _need_dask()
    from geoplan import criteria, pipeline
    from geoplan.engines import dask as D

    points, burns = [], []
    evaluate, belt_block = criteria.evaluate, D._belt_block
    monkeypatch.setattr(criteria, "evaluate", lambda xy, *a, **k: (
        points.append(len(xy)), evaluate(xy, *a, **k))[1])  # fmt: skip
    monkeypatch.setattr(D, "_belt_block", lambda *a: (burns.append(1), belt_block(*a))[1])
    over = {"grid": {"resolution_m": RES}}
    weights = {"labour_intensive": {"labour_pool": 0.7}, "port_logistics": {"port_distance": 0.1}}
    mem = pipeline.Session(**over)
    mem.run()
    ref = mem.rerun(weights=weights)
    s = pipeline.Session(engine="dask", scheduler="synchronous", tmpdir=str(tmp_path), **over)
    s.engine.chunk = CHUNK
    first = s.run()
    ncand = int(np.isfinite(np.asarray(next(iter(first.surfaces.values())))).sum())
    ncrit = len(pipeline._used_criteria(s.scenario))
    assert sum(points) >= ncand * ncrit and len(burns) == len(s.engine._blocks(first.grid)) > 3
    points.clear()
    burns.clear()
    res = s.rerun(weights=weights)
    assert burns == []
    # only the zones' and sites' own cells are evaluated again (their rows' raw values)
    zone_cells = sum(len(r) for r, _ in res.zone_cells.values())
    assert 0 < sum(points) <= (zone_cells + len(res.sites)) * ncrit < ncand * ncrit
    for name, r in (("a", ref), ("b", res)):
        r.write(tmp_path / name, only="csv")
    a, b = ((tmp_path / n / "ranking.csv").read_bytes() for n in "ab")
    assert a == b


@pytest.fixture
def stores_made(monkeypatch):
    """The folders of every on-disk store (run store or kept criteria) made during a test."""
    _need_dask()
    from geoplan.engines import dask as D

    made = []
    init = D._Store.__init__

    def spy(self, *a, **k):
        init(self, *a, **k)
        made.append(self.dir)

    monkeypatch.setattr(D._Store, "__init__", spy)
    return made


def test_the_cli_run_keeps_no_criteria(tmp_path, stores_made):
    """`geoplan run --engine dask` runs once: only the run's own store is made."""
    from click.testing import CliRunner

    from geoplan.cli import main

    args = ["run", "--set", f"grid.resolution_m={RES}", "--engine", "dask", "--scheduler",
            "synchronous", "--only", "csv", "--out", str(tmp_path / "out"), "-q"]  # fmt: skip
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert len(stores_made) == 1


def test_geoplan_run_keeps_no_criteria(tmp_path, stores_made):
    """`geoplan.run(engine="dask")` runs once: only the run's own store is made."""
    import geoplan

    res = geoplan.run(engine="dask", scheduler="synchronous", tmpdir=str(tmp_path),
                      grid={"resolution_m": RES}, candidates={"zones_per_belt": 1})  # fmt: skip
    assert stores_made == [next(iter(res.surfaces.values())).path.parent]
