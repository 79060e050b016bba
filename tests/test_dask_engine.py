"""The Dask engine gives the in-memory engine's surfaces and ranking (issue 11).

Oracle: the in-memory engine on the same 5 km grid. The Dask runs use chunks
of 2,000 cells (several chunks per criterion) once on the local synchronous
scheduler through the CLI and once on a two-process LocalCluster.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from .conftest import require

RES = 5000
CHUNK = 200


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
    res.write(out, only="csv")
    return res, (out / "ranking.csv").read_bytes()


def _assert_same(ref, res) -> None:
    assert set(res.surfaces) == set(ref.surfaces)
    for p, surf in ref.surfaces.items():
        got = res.surfaces[p]
        assert got.dtype == np.float32 and got.shape == surf.shape
        # NaN exactly outside the candidates, scores equal within float32 tolerance
        np.testing.assert_array_equal(np.isnan(got), np.isnan(surf))
        np.testing.assert_allclose(got, surf, rtol=0, atol=1e-6, equal_nan=True)
        assert np.isfinite(surf).sum() > CHUNK


def test_cli_dask_synchronous_equals_memory(memory_run, tmp_path, monkeypatch):
    _need_dask()
    from click.testing import CliRunner

    from geoplan.cli import main
    from geoplan.engines import dask as D

    monkeypatch.setattr(D, "DEFAULT_CHUNK", CHUNK)
    monkeypatch.setattr(D.DaskEngine.__init__, "__defaults__", (None, None, CHUNK))
    ref, ref_csv = memory_run
    n_cells = len(ref.prepared.cell_xy)
    assert n_cells > 3 * CHUNK  # several chunks per criterion
    args = ["run", "--set", f"grid.resolution_m={RES}", "--engine", "dask"]
    args += ["--scheduler", "synchronous", "--only", "csv", "--out", str(tmp_path), "-q"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ranking.csv").read_bytes() == ref_csv


def test_localcluster_two_processes_equals_memory(memory_run, tmp_path):
    _need_dask()
    from distributed import Client, LocalCluster

    from geoplan import pipeline

    ref, ref_csv = memory_run
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        s = pipeline.Session(engine="dask", scheduler=client, grid={"resolution_m": RES})
        s.engine.chunk = CHUNK
        res = s.run()
        assert len(client.scheduler_info()["workers"]) == 2
    _assert_same(ref, res)
    res.write(tmp_path, only="csv")
    assert (tmp_path / "ranking.csv").read_bytes() == ref_csv
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
