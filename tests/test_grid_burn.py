"""Grid.burn / Grid.mask against GDAL's rasterizer (rasterio.features.rasterize, centre rule).

``Grid.burn`` is a numpy scanline fill of GDAL's default burn rule (a cell
is burnt when its centre lies inside the polygon); the oracle is GDAL
itself through rasterio, on shapes with holes, several parts, concave
outlines, edges leaving the grid and the default belts.
"""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from rasterio.features import rasterize

from geoplan.grid import Grid, make_grid

CRS = "EPSG:5179"


def _gdal(grid: Grid, geom) -> np.ndarray:
    return rasterize(
        [(geom, 1)], out_shape=(grid.height, grid.width), transform=grid.transform, fill=0,
        dtype="uint8",
    ).astype(bool)  # fmt: skip


def _shapes():
    ring = shapely.Point(912_345, 1_987_654).buffer(23_456, quad_segs=7)
    hole = shapely.Point(915_000, 1_990_000).buffer(8_765, quad_segs=5)
    rng = np.random.default_rng(42)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    radius = rng.uniform(5_000, 30_000, 40)
    star = shapely.Polygon(
        np.column_stack([950_111 + radius * np.cos(angles), 1_960_222 + radius * np.sin(angles)])
    )
    return {
        "disc with a hole": shapely.difference(ring, hole),
        "concave star": star,
        "two parts": shapely.union(
            ring.buffer(-12_000), shapely.box(940_003, 1_995_007, 990_001, 2_004_999)
        ),
        "leaves the grid": shapely.box(850_017, 1_940_033, 901_111, 2_050_077),
        "thinner than a cell": shapely.box(930_000.3, 1_950_000.7, 930_400.1, 1_999_000.9),
    }


@pytest.mark.parametrize("name", list(_shapes()))
@pytest.mark.parametrize("res", [500.0, 1_000.0])
def test_burn_equals_gdal(name, res):
    grid = Grid(880_000.0, 2_020_000.0, res, int(130_000 / res), int(90_000 / res), CRS)
    geom = _shapes()[name]
    got = grid.burn(geom)
    want = _gdal(grid, geom)
    assert got.dtype == bool and got.shape == (grid.height, grid.width)
    np.testing.assert_array_equal(got, want)
    if name != "thinner than a cell":
        assert want.sum() > 50


def test_burn_empty_and_outside():
    grid = Grid(0.0, 10_000.0, 1_000.0, 10, 10, CRS)
    assert not grid.burn(shapely.box(50_000, 50_000, 60_000, 60_000)).any()
    assert not grid.burn(shapely.Polygon()).any()
    assert grid.burn(shapely.box(-1e6, -1e6, 1e6, 1e6)).all()


def test_mask_of_the_default_belts_equals_gdal(default_layers):
    """The candidate mask (cells wholly inside) of each default belt, cell for cell."""
    from geoplan import regions

    belts = regions.belts(default_layers)
    grid = make_grid(tuple(belts.total_bounds), 2_000.0, CRS)
    for geom in belts.geometry:
        inner = shapely.buffer(geom, -grid.res * 0.7072, quad_segs=2)
        got = grid.mask(geom)
        np.testing.assert_array_equal(got, _gdal(grid, inner))
        assert got.sum() > 100
