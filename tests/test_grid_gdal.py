"""Grid distances against GDAL: gdal_rasterize + gdal_proximity.py on a 2 km grid.

GDAL measures from each cell centre to the centre of the nearest cell the
lines were burnt into. Burnt with ``-at`` (every cell a line touches; the
default line burn skips cells and errs by up to ~1 cell), it errs by up to
half a cell diagonal (~0.71 cell) either way. geoplan's grid fast path
(``tolerance_m`` = half a cell) is never short and at most half a cell long.
The two therefore agree within (0.71 + 0.5) cells everywhere, and both
bracket the exact shapely distance.
"""

from __future__ import annotations

import math
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan import criteria
from geoplan.grid import Grid

from .conftest import require

pytestmark = pytest.mark.gdal

RES = 2000.0
X0, Y1, W, H = 900_000.0, 2_000_000.0, 40, 30


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, text=True)


def test_grid_distance_matches_gdal_proximity(tmp_path):
    require(shutil.which("gdal_proximity.py") is not None, "gdal_proximity.py (python3-gdal)")
    require(shutil.which("gdal_rasterize") is not None, "gdal-bin (gdal_rasterize)")
    import rasterio

    lines = gpd.GeoDataFrame(
        {"kind": ["road", "rail"]},
        geometry=[
            shapely.LineString([(903_100, 1_995_300), (935_700, 1_981_900), (971_300, 1_990_100)]),
            shapely.LineString([(915_500, 1_941_700), (925_300, 1_972_100), (962_900, 1_947_300)]),
        ],
        crs="EPSG:5179",
    )
    src = tmp_path / "lines.gpkg"
    lines.to_file(src, layer="lines")
    burnt, prox = tmp_path / "lines.tif", tmp_path / "prox.tif"
    x1, y0 = X0 + W * RES, Y1 - H * RES
    _run(
        "gdal_rasterize", "-q", "-at", "-l", "lines", "-burn", "1", "-init", "0", "-ot", "Byte",
        "-tr", str(RES), str(RES), "-te", str(X0), str(y0), str(x1), str(Y1), str(src), str(burnt),
    )  # fmt: skip
    _run(
        "gdal_proximity.py", "-q", str(burnt), str(prox), "-values", "1", "-distunits", "GEO",
        "-ot", "Float32",
    )  # fmt: skip
    with rasterio.open(prox) as ds:
        assert (ds.width, ds.height) == (W, H)
        assert ds.transform.c == X0 and ds.transform.f == Y1
        gdal = ds.read(1).astype(float)

    grid = Grid(X0, Y1, RES, W, H, "EPSG:5179")
    xy = grid.cell_xy(np.ones((H, W), bool))
    ours = criteria.distance_to(xy, lines, tolerance_m=RES / 2).reshape(H, W)
    exact = criteria.distance_to(xy, lines).reshape(H, W)

    half_diag = RES * math.sqrt(2) / 2
    assert np.all(ours >= exact - 1e-6) and np.all(ours <= exact + RES / 2 + 1e-6)
    assert np.all(np.abs(gdal - exact) <= half_diag + 1e-3)
    assert np.all(np.abs(ours - gdal) <= half_diag + RES / 2 + 1e-3)
    # the two are the same field: burnt cells are 0 in GDAL and within half a diagonal in ours
    assert np.all(ours[gdal == 0] <= half_diag + RES / 2 + 1e-6)
    assert np.abs(ours - gdal).mean() < 0.5 * RES
    assert gdal.max() > 10 * RES  # the test grid reaches well away from the lines
