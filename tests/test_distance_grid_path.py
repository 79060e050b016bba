"""The grid path of ``distance_to`` (``tolerance_m`` given): exact distances, chunk-independent.

Oracle: shapely's exact point-to-geometry distance, one candidate and one
feature at a time (``shapely.distance`` on every pair, then the minimum).
The grid path groups candidates in squares and measures only the pieces
that can be nearest to a square's cells; these tests place candidates on
grid cells, at random, on the features and very far from them, and split
them in chunks as the Dask engine does.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan import criteria
from geoplan.grid import Grid

CRS = "EPSG:5179"


def _exact(xy: np.ndarray, geoms) -> np.ndarray:
    pts = shapely.points(xy)
    return np.min([shapely.distance(pts, g) for g in geoms], axis=0)


@pytest.fixture(scope="module")
def mixed() -> gpd.GeoDataFrame:
    """Lines crossing at odd angles, a multi-line, two points, a lake with an island."""
    lake = shapely.Polygon(
        [(960_000, 1_960_000), (985_000, 1_962_000), (978_000, 1_990_000), (958_000, 1_983_000)],
        holes=[[(968_000, 1_970_000), (974_000, 1_970_000), (971_000, 1_978_000)]],
    )
    return gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(901_234, 1_951_000), (933_300, 1_987_700), (952_100, 1_958_300)]),
            shapely.LineString([(905_000, 2_010_000), (990_000, 1_995_500)]),
            shapely.MultiLineString(
                [[(920_000, 1_940_000), (920_000, 1_975_000)],
                 [(940_000, 2_000_000), (999_000, 2_000_000)]]
            ),
            shapely.Point(915_500, 1_999_900),
            shapely.Point(990_000, 1_945_000),
            lake,
        ],
        crs=CRS,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    grid = Grid(890_000.0, 2_020_000.0, 500.0, 240, 180, CRS)
    return grid.cell_xy(np.ones((grid.height, grid.width), bool))


def test_grid_path_is_exact_on_every_cell(mixed, cells):
    got = criteria.distance_to(cells, mixed, tolerance_m=250.0)
    want = _exact(cells, mixed.geometry)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert (want == 0).sum() > 1000  # cells inside the lake
    assert want.max() > 20_000  # and cells far from everything


@pytest.mark.parametrize("tol", [10.0, 250.0, 5_000.0])
def test_grid_path_is_exact_at_random_points_and_any_tolerance(mixed, tol):
    """The tolerance only sets the square size; points need not be cell centres."""
    rng = np.random.default_rng(3)
    xy = rng.uniform([880_000, 1_930_000], [1_010_000, 2_030_000], size=(4000, 2))
    got = criteria.distance_to(xy, mixed, tolerance_m=tol)
    np.testing.assert_allclose(got, _exact(xy, mixed.geometry), rtol=0, atol=1e-6)


def test_grid_path_far_from_every_feature(mixed):
    xy = np.array([[-3_000_000.0, 9_000_000.0], [2_500_000.0, 1_000_000.0], [950_000.0, 1.0]])
    got = criteria.distance_to(xy, mixed, tolerance_m=50.0)
    np.testing.assert_allclose(got, _exact(xy, mixed.geometry), rtol=1e-12)


def test_grid_path_is_zero_on_the_features(mixed):
    """Cells on a line (vertices, axis-parallel pieces) and on points measure exactly 0 m."""
    xy = np.array(
        [[933_300, 1_987_700], [920_000, 1_950_000], [950_125, 2_000_000],
         [915_500, 1_999_900], [990_000, 1_995_500]], dtype=float,
    )  # fmt: skip
    got = criteria.distance_to(xy, mixed, tolerance_m=250.0)
    assert np.all(got == 0.0)


def test_grid_path_does_not_depend_on_the_chunks(mixed, cells):
    """Chunks in any order give the same bits as one call (the engines must agree)."""
    whole = criteria.distance_to(cells, mixed, tolerance_m=250.0)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(cells))
    parts = np.array_split(order, 7)
    got = np.empty_like(whole)
    for p in parts:
        got[p] = criteria.distance_to(cells[p], mixed, tolerance_m=250.0)
    np.testing.assert_array_equal(got, whole)


def test_points_only_layer(cells):
    pts = gpd.GeoDataFrame(
        geometry=shapely.points(
            [(900_100, 1_950_300), (1_000_000, 2_100_000), (949_750, 1_980_250)]
        ),
        crs=CRS,
    )
    got = criteria.distance_to(cells, pts, tolerance_m=250.0)
    np.testing.assert_allclose(got, _exact(cells, pts.geometry), rtol=0, atol=1e-6)


def test_densely_sampled_lines_fall_back_within_the_tolerance(cells):
    """Pieces shorter than a cell take the densified k-d tree: never short, at most tol long."""
    t = np.linspace(0, 1, 4001)
    wiggle = shapely.LineString(
        np.column_stack([900_000 + 90_000 * t, 1_960_000 + 20_000 * np.sin(6 * t)])
    )
    layer = gpd.GeoDataFrame(geometry=[wiggle], crs=CRS)
    tol = 250.0
    got = criteria.distance_to(cells, layer, tolerance_m=tol)
    err = got - _exact(cells, layer.geometry)
    assert err.min() >= -1e-6 and err.max() <= tol + 1e-6


def test_nearest_attribute_of_points_by_squares(cells):
    """The nearest point's value (brute force over all pairs), the same in any chunks."""
    rng = np.random.default_rng(8)
    pxy = rng.uniform([880_000, 1_930_000], [1_010_000, 2_030_000], size=(37, 2))
    layer = gpd.GeoDataFrame({"v": np.arange(37) * 1.5}, geometry=shapely.points(pxy), crs=CRS)
    d = np.hypot(cells[:, None, 0] - pxy[None, :, 0], cells[:, None, 1] - pxy[None, :, 1])
    want = layer["v"].to_numpy()[d.argmin(axis=1)]
    got = criteria.nearest_attribute(cells, layer, "v")
    np.testing.assert_array_equal(got, want)
    parts = np.array_split(rng.permutation(len(cells)), 5)
    again = np.empty_like(got)
    for p in parts:
        again[p] = criteria.nearest_attribute(cells[p], layer, "v")
    np.testing.assert_array_equal(again, got)


def test_nearest_attribute_ties_take_the_first_feature():
    layer = gpd.GeoDataFrame(
        {"v": [7.0, 3.0, 5.0]},
        geometry=shapely.points([(0.0, 10_000.0), (0.0, -10_000.0), (50_000.0, 0.0)]),
        crs=CRS,
    )
    xy = np.array([[0.0, 0.0], [-5_000.0, 0.0], [0.0, 9_000.0], [49_000.0, 0.0]])
    np.testing.assert_array_equal(criteria.nearest_attribute(xy, layer, "v"), [7.0, 7.0, 7.0, 5.0])
