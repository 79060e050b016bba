"""Edge cases of the criteria a user can hit, each against a hand or brute-force oracle.

Scenario parameter checks (:func:`geoplan.criteria.param_problems`): the exact line a
user reads (key path, expected range or type, suggestion); ``nearest_attribute`` on
point layers (k-d tree path) and line/polygon layers (STRtree path) against a
brute-force ``shapely.distance`` matrix, with missing geometries, ties and ``where``;
``population_within`` at the radius and with odd population values; ``inside`` on
lines and points; nearest-pixel raster sampling in the first row and column.
Synthetic data only, milliseconds per test (part of the mutation-testing subset).
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan import criteria
from geoplan.scenario import CriterionSpec

CRS = "EPSG:5179"
X0, Y0 = 500_000.0, 1_800_000.0


def _spec(kind, layer="towns", where=None, **params) -> CriterionSpec:
    return CriterionSpec(name="c", kind=kind, layer=layer, where=where or {}, params=params)


def _problems(kind, layers=None, **params) -> list[str]:
    return criteria.param_problems(_spec(kind, **params), layers)


def _nearest_oracle(xy: np.ndarray, geoms, values: np.ndarray) -> np.ndarray:
    """Value of the feature at the smallest exact distance (missing geometries skipped)."""
    geoms = np.asarray(list(geoms), dtype=object)
    d = shapely.distance(shapely.points(xy)[:, None], geoms[None, :])
    d = np.where(np.isnan(d), np.inf, d)
    s = np.sort(d, axis=1)
    assert np.all(s[:, 1] - s[:, 0] > 1.0)  # no ties: the oracle is unambiguous
    return values[d.argmin(axis=1)]


@pytest.fixture(scope="module")
def towns() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["a", "b"], "people": [10.0, 20.0]},
        geometry=[shapely.Point(X0, Y0), shapely.Point(X0 + 5_000, Y0)],
        crs=CRS,
    )


@pytest.fixture(scope="module")
def cands() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.uniform([X0 - 20_000, Y0 - 20_000], [X0 + 40_000, Y0 + 30_000], size=(400, 2))


# --- param_problems: ranges and fixed choices --------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "value", "want"),
    [
        ("count_within", "radius_m", 0, "must be more than 0, got 0"),
        ("count_within", "radius_m", -0.5, "must be more than 0, got -0.5"),
        ("count_within", "radius_m", 0.5, None),
        ("count_within", "radius_m", 2500.5, None),  # any length, not only whole metres
        ("population_within", "radius_m", 0.0, "must be more than 0, got 0.0"),
        ("population_within", "decay_m", 0, "must be more than 0, got 0"),
        ("population_within", "decay_m", -0.5, "must be more than 0, got -0.5"),
        ("population_within", "decay_m", 0.5, None),
        ("inside", "buffer_m", 0, None),  # zero buffer is allowed
        ("inside", "buffer_m", 0.5, None),
        ("inside", "buffer_m", -0.5, "must be at least 0, got -0.5"),
        ("inside", "buffer_m", -1, "must be at least 0, got -1"),
        ("population_within", "mode", "gravitee", "must be one of sum, gravity, got 'gravitee'"),
        ("population_within", "mode", "gravity", None),
    ],
)
def test_param_ranges_name_key_bound_and_value(towns, kind, key, value, want):
    extra = {"field": "people"} if kind == "population_within" else {}
    got = _problems(kind, {"towns": towns}, **extra, **{key: value})
    assert got == ([] if want is None else [f"criteria.c.params.{key}: {want}"])


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({"band": 1}, []),
        ({"band": 2}, []),
        ({"band": 0}, ["criteria.c.params.band: must be at least 1, got 0"]),
        ({"band": -1}, ["criteria.c.params.band: must be at least 1, got -1"]),
        ({"band": 1.5}, ["criteria.c.params.band: must be a whole number, got 1.5"]),
        ({"band": 2.0}, []),
        ({"band": True}, ["criteria.c.params.band: must be a finite number, got True"]),
        ({"resampling": "cubic"}, [
            "criteria.c.params.resampling: must be one of bilinear, nearest, got 'cubic'"
        ]),
        ({"resampling": "nearest"}, []),
    ],
)  # fmt: skip
def test_raster_band_and_resampling(tmp_path, params, want):
    path = tmp_path / "dem.tif"
    path.write_bytes(b"")
    assert _problems("raster", layer=None, path=str(path), **params) == want


def test_raster_path_must_exist_but_other_kinds_paths_are_not_checked(monkeypatch, tmp_path):
    missing = str(tmp_path / "nope.tif")
    assert _problems("raster", layer=None, path=missing) == [
        f"criteria.c.params.path: {missing}: no such file or folder"
    ]

    def table(xy, layer, path: str = "x.csv"):
        return np.zeros(len(xy))

    monkeypatch.setitem(criteria.REGISTRY, "table", table)
    assert _problems("table", path=missing) == []


def test_range_check_skips_values_the_type_check_let_through(monkeypatch):
    """A plug-in parameter named like a ranged one but allowing None: None is no range error."""

    def near(xy, layer, radius_m: float | None = None):
        return np.zeros(len(xy))

    monkeypatch.setitem(criteria.REGISTRY, "near", near)
    assert _problems("near", radius_m=None) == []
    assert _problems("near", radius_m=-3) == [
        "criteria.c.params.radius_m: must be more than 0, got -3"
    ]


def test_plugin_parameter_types_from_annotation_or_default(monkeypatch):
    """A number is expected from a ``float`` annotation alone, or from a numeric default alone."""

    def typed(xy, layer, k: float, m=2.0, label="x"):
        return np.zeros(len(xy))

    monkeypatch.setitem(criteria.REGISTRY, "typed", typed)
    assert _problems("typed", k="far", m="near", label=3) == [
        "criteria.c.params.k: must be a finite number, got 'far'",
        "criteria.c.params.m: must be a finite number, got 'near'",
        "criteria.c.params.label: must be text, got 3",
    ]
    assert _problems("typed", k=1, m=2.5, label="y") == []
    assert _problems("typed") == ["criteria.c.params.k: missing (needed by typed)"]


# --- param_problems: unknown parameters and their hints --------------------------------------


def test_unknown_parameters_are_each_listed_with_a_hint(monkeypatch, towns):
    got = _problems("count_within", radius=5000, zzz=1, qqq=2)
    assert got == [
        "criteria.c.params.radius: unknown parameter of count_within; did you mean 'radius_m'?",
        "criteria.c.params.zzz: unknown parameter of count_within; expected one of: radius_m",
        "criteria.c.params.qqq: unknown parameter of count_within; expected one of: radius_m",
    ]
    got = _problems("population_within", {"towns": towns}, field="people", decay=5, radius_m=-1)
    assert got == [
        "criteria.c.params.decay: unknown parameter of population_within; did you mean 'decay_m'?",
        "criteria.c.params.radius_m: must be more than 0, got -1",
    ]

    def bare(xy, layer):
        return np.ones(len(xy))

    monkeypatch.setitem(criteria.REGISTRY, "bare", bare)
    assert _problems("bare", radius_m=1) == [
        "criteria.c.params.radius_m: unknown parameter of bare; it takes none"
    ]


def test_field_parameter_default_and_where_fields_are_checked(towns):
    assert _problems("population_within", {"towns": towns}) == [
        "criteria.c.params.field: layer 'towns' has no field 'population' (fields: name, people)"
    ]
    spec = dataclasses.replace(_spec("count_within", where={"kind": "x"}))
    assert criteria.param_problems(spec, {"towns": towns}) == [
        "criteria.c.where.kind: layer 'towns' has no field 'kind' (fields: name, people)"
    ]
    assert _problems("population_within", {"towns": towns}, field="people") == []


# --- nearest_attribute ----------------------------------------------------------------------


def test_nearest_attribute_on_points_with_missing_geometries(cands):
    """k-d tree path: missing/empty rows are skipped and values stay with their own rows."""
    rng = np.random.default_rng(5)
    pts = rng.uniform([X0 - 15_000, Y0 - 15_000], [X0 + 35_000, Y0 + 25_000], size=(12, 2))
    geoms = [shapely.Point(p) for p in pts]
    geoms[0] = None
    geoms[4] = shapely.Point()
    values = np.arange(12, dtype=float) * 10.0 + 1.0
    layer = gpd.GeoDataFrame({"v": values}, geometry=geoms, crs=CRS)
    want = _nearest_oracle(cands, layer.geometry, values)
    got = criteria.nearest_attribute(cands, layer, "v")
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) >= 8
    assert not np.isin([1.0, 41.0], got).any()


@pytest.fixture(scope="module")
def shapes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "v": [3.0, 7.0, 11.0, 19.0, 23.0],
            "kind": ["road", "road", "lake", "lake", "road"],
        },
        geometry=[
            shapely.LineString([(X0 - 18_000, Y0 - 9_000), (X0 + 12_000, Y0 + 1_300)]),
            shapely.LineString([(X0 + 2_000, Y0 + 27_000), (X0 + 31_000, Y0 + 6_500)]),
            shapely.box(X0 + 20_000, Y0 - 17_000, X0 + 27_500, Y0 - 8_200),
            None,
            shapely.Polygon(
                [(X0 - 17_000, Y0 + 12_000), (X0 - 6_000, Y0 + 15_000), (X0 - 9_000, Y0 + 26_000)]
            ),
        ],
        crs=CRS,
    )


def test_nearest_attribute_on_lines_and_polygons(shapes, cands):
    """STRtree path: the nearest line or polygon (0 inside it), not its nearest vertex."""
    values = shapes["v"].to_numpy()
    want = _nearest_oracle(cands, shapes.geometry, values)
    got = criteria.nearest_attribute(cands, shapes, "v")
    np.testing.assert_array_equal(got, want)
    assert set(np.unique(got)) == {3.0, 7.0, 11.0, 23.0}


def test_nearest_attribute_is_the_nearest_segment_not_vertex():
    """A candidate by the middle of a long line, near another line's end: the long line wins."""
    layer = gpd.GeoDataFrame(
        {"v": [1.0, 2.0]},
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 20_000, Y0)]),
            shapely.LineString([(X0 + 10_000, Y0 + 3_000), (X0 + 10_000, Y0 + 9_000)]),
        ],
        crs=CRS,
    )
    xy = np.array([[X0 + 10_000.0, Y0 + 1_000.0], [X0 + 10_000.0, Y0 + 2_500.0]])
    np.testing.assert_array_equal(criteria.nearest_attribute(xy, layer, "v"), [1.0, 2.0])


def test_nearest_attribute_where_on_a_mixed_layer(shapes, cands):
    sub = shapes[shapes["kind"] == "lake"]
    want = _nearest_oracle(cands, sub.geometry, sub["v"].to_numpy())
    spec = _spec("nearest_attribute", "shapes", where={"kind": "lake"}, field="v")
    got = criteria.evaluate(cands, spec, {"shapes": shapes})
    np.testing.assert_array_equal(got, want)
    assert set(np.unique(got)) == {11.0}


def test_nearest_attribute_tie_takes_one_of_the_tied_values():
    pts = [(X0, Y0), (X0 + 2_000, Y0), (X0 + 1_000, Y0 + 50_000)]
    layer = gpd.GeoDataFrame(
        {"v": [5.0, 9.0, 100.0]}, geometry=[shapely.Point(p) for p in pts], crs=CRS
    )
    xy = np.array([[X0 + 1_000.0, Y0 + 700.0], [X0 + 1_000.0, Y0 - 300.0]])
    got = criteria.nearest_attribute(xy, layer, "v")
    assert set(got) <= {5.0, 9.0}


# --- population_within ------------------------------------------------------------------------


def test_population_radius_is_inclusive_at_the_default_30_km():
    layer = gpd.GeoDataFrame({"population": [100.0]}, geometry=[shapely.Point(X0, Y0)], crs=CRS)
    xy = np.array([[X0 + 18_000.0, Y0 + 24_000.0], [X0 + 18_000.0, Y0 + 24_001.0]])
    np.testing.assert_array_equal(criteria.population_within(xy, layer), [100.0, 0.0])


def test_population_counts_only_finite_positive_values(cands):
    """Places with no, negative or infinite population add nobody; far places never stop the sum."""
    pts = [
        (X0 + 400_000, Y0),  # far from every candidate (listed first)
        (X0, Y0),
        (X0 + 9_000, Y0 + 4_000),
        (X0 + 20_000, Y0 + 8_000),
        (X0 - 5_000, Y0 + 12_000),
        (X0 + 30_000, Y0 - 9_000),
        (X0 + 12_000, Y0 + 20_000),
        (X0 + 3_000, Y0 - 14_000),
    ]
    pop = np.array([500.0, 1.0, 0.5, -0.5, np.inf, -np.inf, np.nan, 250.0])
    layer = gpd.GeoDataFrame({"population": pop}, geometry=[shapely.Point(p) for p in pts], crs=CRS)
    counted = np.where(np.isfinite(pop) & (pop > 0), pop, 0.0)
    p = np.array(pts)
    d = np.hypot(cands[:, :1] - p[None, :, 0], cands[:, 1:] - p[None, :, 1])
    for radius in (6_000.0, 15_000.0):
        want = ((d <= radius) * counted[None, :]).sum(axis=1)
        got = criteria.population_within(cands, layer, radius_m=radius)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        assert np.isin([1.0, 0.5, 250.0], got).all()
    g = criteria.population_within(cands, layer, radius_m=15_000.0, mode="gravity", decay_m=4_000)
    want = ((d <= 15_000) * counted[None, :] * np.exp(-d / 4_000)).sum(axis=1)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


# --- inside -----------------------------------------------------------------------------------


def test_inside_lines_and_points_without_buffer():
    """A candidate lying on a line or on a point feature is inside it; 1 m off is not."""
    layer = gpd.GeoDataFrame(
        geometry=[
            shapely.LineString([(X0, Y0), (X0 + 4_000, Y0), (X0 + 4_000, Y0 + 3_000)]),
            shapely.Point(X0 + 9_000, Y0 + 9_000),
        ],
        crs=CRS,
    )
    xy = np.array(
        [
            [X0 + 2_000.0, Y0],  # on the first segment
            [X0 + 4_000.0, Y0 + 1_500.0],  # on the second segment
            [X0 + 9_000.0, Y0 + 9_000.0],  # on the point
            [X0 + 2_000.0, Y0 + 1.0],
            [X0 + 9_001.0, Y0 + 9_000.0],
        ]
    )
    want = shapely.distance(shapely.points(xy), shapely.union_all(layer.geometry.values)) == 0
    assert want.tolist() == [True, True, True, False, False]
    np.testing.assert_array_equal(criteria.inside(xy, layer), want.astype(float))
    np.testing.assert_array_equal(
        criteria.inside(xy, layer, buffer_m=2.0), [1.0, 1.0, 1.0, 1.0, 1.0]
    )
    # a buffer below one metre still counts: 0.5 m takes a point 0.4 m off the line, not 0.6 m
    near = np.array([[X0 + 1_000.0, Y0 + 0.4], [X0 + 1_000.0, Y0 - 0.6]])
    np.testing.assert_array_equal(criteria.inside(near, layer, buffer_m=0.5), [1.0, 0.0])


# --- raster, nearest pixel ------------------------------------------------------------------


def test_raster_nearest_first_row_and_column(tmp_path):
    import rasterio
    from affine import Affine

    arr = np.arange(1.0, 1.0 + 6 * 5).reshape(6, 5)
    path = tmp_path / "r.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=5, height=6, count=1, dtype="float64", crs=CRS,
        transform=Affine(100.0, 0, X0, 0, -100.0, Y0),
    ) as dst:  # fmt: skip
        dst.write(arr, 1)
    xy = np.array(
        [
            [X0 + 350.0, Y0 - 50.0],  # row 0, col 3
            [X0 + 50.0, Y0 - 350.0],  # row 3, col 0
            [X0 + 10.0, Y0 - 10.0],  # row 0, col 0
            [X0 + 499.0, Y0 - 599.0],  # row 5, col 4
            [X0 - 10.0, Y0 - 350.0],  # west of column 0
            [X0 + 350.0, Y0 + 10.0],  # north of row 0
        ]
    )
    got = criteria.raster_sample(xy, str(path), resampling="nearest")
    np.testing.assert_array_equal(got[:4], [arr[0, 3], arr[3, 0], arr[0, 0], arr[5, 4]])
    assert np.isnan(got[4:]).all()


def test_public_functions_take_their_parameters_by_name(towns):
    """The documented parameter names work as keywords (the keyword-only marker stays ``*``)."""
    sub = criteria.select(gdf=towns, where={"name": "b"}, name="towns")
    assert sub["people"].tolist() == [20.0]
    xy = np.array([[X0 + 5_000.0, Y0 + 3_000.0]])
    spec = _spec("distance_to")
    got = criteria.evaluate(xy=xy, spec=spec, layers={"towns": towns}, tolerance_m=None, crs=CRS)
    np.testing.assert_allclose(got, [3_000.0])


def test_distance_to_exact_path_gives_one_distance_per_candidate_on_ties():
    """A candidate equidistant from two features still gets one distance (shapely oracle)."""
    layer = gpd.GeoDataFrame(
        geometry=[shapely.Point(1000.0, 0.0), shapely.Point(-1000.0, 0.0), shapely.Point(0, 5e3)],
        crs="EPSG:5179",
    )
    xy = np.array([[0.0, 0.0], [0.0, 2500.0], [10.0, -20.0]])
    got = criteria.distance_to(xy, layer)
    want = [min(shapely.Point(x, y).distance(g) for g in layer.geometry) for x, y in xy]
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_densified_path_with_eastings_larger_than_northings():
    """The k-d path (pieces shorter than the tolerance) keeps x and y apart wherever x > y."""
    t = np.linspace(0.0, 2000.0, 2001)  # 1 m pieces: far below 2 x the tolerance
    line = shapely.LineString(np.column_stack([3.0e6 + t, 1.0e5 + 0.5 * t]))
    layer = gpd.GeoDataFrame(geometry=[line], crs="EPSG:5179")
    xy = np.array([[3.0e6 + 500.0, 1.0e5 + 900.0], [3.0e6 - 300.0, 1.0e5 - 400.0]])
    tol = 50.0
    got = criteria.distance_to(xy, layer, tolerance_m=tol)
    want = np.array([shapely.Point(x, y).distance(line) for x, y in xy])
    assert np.all(got >= want - 1e-6) and np.all(got <= want + tol)


def test_population_within_a_zero_radius_counts_nobody():
    """Called directly with radius 0 (the scenario check refuses it): zeros, not an error."""
    towns = gpd.GeoDataFrame(
        {"population": [1000.0, 50.0]},
        geometry=[shapely.Point(0.0, 0.0), shapely.Point(10.0, 0.0)],
        crs="EPSG:5179",
    )
    got = criteria.population_within(np.array([[0.0, 0.0], [5.0, 0.0]]), towns, radius_m=0.0)
    assert got.tolist() == [0.0, 0.0]


def test_densified_path_answers_beyond_the_saturation_distance():
    """Candidates farther than ``saturate_m`` still get a distance (from coarser vertices)."""
    t = np.linspace(0.0, 2000.0, 2001)
    line = shapely.LineString(np.column_stack([1.0e6 + t, 2.0e6 + 0.25 * t]))
    layer = gpd.GeoDataFrame(geometry=[line], crs="EPSG:5179")
    xy = np.array([[1.0e6 + 800.0, 2.0e6 + 3000.0], [1.0e6 + 100.0, 2.0e6 + 60.0]])
    tol, sat = 5.0, 500.0
    got = criteria.distance_to(xy, layer, tolerance_m=tol, saturate_m=sat)
    want = np.array([shapely.Point(x, y).distance(line) for x, y in xy])
    assert np.all(np.isfinite(got))
    assert np.all(got >= want - 1e-6) and np.all(got <= want + sat / 40.0 + tol)


def test_nearest_attribute_of_two_points_takes_the_nearer_ones_value():
    pts = gpd.GeoDataFrame(
        {"capacity": [10.0, 99.0]},
        geometry=[shapely.Point(0.0, 0.0), shapely.Point(5000.0, 0.0)],
        crs="EPSG:5179",
    )
    xy = np.array([[100.0, 0.0], [4900.0, 10.0], [2600.0, 0.0]])
    got = criteria.nearest_attribute(xy, pts, field="capacity")
    assert got.tolist() == [10.0, 99.0, 99.0]


def test_count_within_default_radius_is_20_km():
    """The default counts features within 20 km: 19,999.5 m in, 20,000.5 m out (shapely oracle)."""
    feats = gpd.GeoDataFrame(
        geometry=[shapely.Point(19_999.5, 0.0), shapely.Point(0.0, 20_000.5)], crs="EPSG:5179"
    )
    got = criteria.count_within(np.array([[0.0, 0.0]]), feats)
    want = sum(shapely.Point(0, 0).distance(g) <= 20_000.0 for g in feats.geometry)
    assert got.tolist() == [float(want)] == [1.0]


def test_population_within_a_text_field_is_refused():
    towns = gpd.GeoDataFrame(
        {"population": ["many", "few"]},
        geometry=[shapely.Point(0.0, 0.0), shapely.Point(10.0, 0.0)],
        crs="EPSG:5179",
    )
    with pytest.raises(criteria.LayerError, match="must be numeric"):
        criteria.population_within(np.array([[0.0, 0.0]]), towns, radius_m=100.0)


def test_nearest_attribute_of_a_single_point_is_its_value_everywhere():
    one = gpd.GeoDataFrame(
        {"capacity": [7.0, 99.0]},
        geometry=[None, shapely.Point(500.0, 0.0)],
        crs="EPSG:5179",
    )
    got = criteria.nearest_attribute(np.array([[0.0, 0.0], [9e5, 9e5]]), one, field="capacity")
    assert got.tolist() == [99.0, 99.0]
