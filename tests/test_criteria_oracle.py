"""Every criterion kind against a brute-force numpy/shapely oracle on a small synthetic layer.

The layers are built here in EPSG:5179 (metres): a few ports (points with a
capacity and a type), two roads (lines) and two lakes (polygons). Candidates
are cell centres of a 2 km grid and a few hand-placed points. The oracle
measures every candidate to every feature with ``shapely.distance`` and takes
the minimum, so a wrong feature, a wrong radius or a wrong tolerance fails.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan import criteria
from geoplan._errors import LayerError, ScenarioError
from geoplan.grid import Grid
from geoplan.scenario import CriterionSpec

X0, Y1 = 900_000.0, 2_000_000.0
CRS = "EPSG:5179"


@pytest.fixture(scope="module")
def ports() -> gpd.GeoDataFrame:
    # odd offsets: no cell centre is equidistant from two ports
    pts = [(910_137, 1_990_211), (935_059, 1_985_313), (920_421, 1_962_077), (948_263, 1_958_149)]
    return gpd.GeoDataFrame(
        {
            "name": ["A", "B", "C", "D"],
            "kind": ["port", "port", "fishing", "port"],
            "capacity": [10.0, 200.0, 3000.0, 40000.0],
            "population": [50_000.0, 120_000.0, 0.0, 7_000.0],
        },
        geometry=[shapely.Point(p) for p in pts],
        crs=CRS,
    )


@pytest.fixture(scope="module")
def roads() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"class": ["motorway", "track"]},
        geometry=[
            shapely.LineString([(900_000, 1_975_000), (930_000, 1_970_500), (960_000, 1_996_000)]),
            shapely.LineString([(905_000, 1_951_000), (925_000, 1_999_000)]),
        ],
        crs=CRS,
    )


@pytest.fixture(scope="module")
def lakes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": ["big", "small"]},
        geometry=[
            shapely.Polygon([(940_000, 1_965_000), (955_000, 1_963_000), (952_000, 1_978_000)]),
            shapely.box(908_000, 1_952_000, 913_000, 1_956_500),
        ],
        crs=CRS,
    )


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid(X0, Y1, 2000.0, 30, 25, CRS)


@pytest.fixture(scope="module")
def xy(grid) -> np.ndarray:
    cells = grid.cell_xy(np.ones((grid.height, grid.width), bool))
    rng = np.random.default_rng(3)
    extra = rng.uniform([X0, Y1 - 50_000], [X0 + 60_000, Y1], size=(60, 2))
    return np.vstack([cells, extra])


def _dist_matrix(xy: np.ndarray, geoms) -> np.ndarray:
    """(n, m) exact distances from every candidate to every feature."""
    pts = shapely.points(xy)
    return shapely.distance(pts[:, None], np.asarray(list(geoms))[None, :])


def _spec(kind, layer, where=None, **params) -> CriterionSpec:
    return CriterionSpec(name="c", kind=kind, layer=layer, where=where or {}, params=params)


# --- distance_to ---------------------------------------------------------------------------


@pytest.mark.parametrize("layer_name", ["ports", "roads", "lakes"])
def test_distance_exact_matches_brute_force(request, xy, layer_name):
    layer = request.getfixturevalue(layer_name)
    want = _dist_matrix(xy, layer.geometry).min(axis=1)
    got = criteria.distance_to(xy, layer)
    np.testing.assert_allclose(got, want, atol=1e-6)
    if layer_name == "lakes":
        assert (got == 0).sum() > 5  # some candidates lie inside a lake


@pytest.mark.parametrize("layer_name", ["ports", "roads", "lakes"])
def test_distance_grid_fast_path_within_tolerance(request, grid, xy, layer_name):
    """With tolerance_m (half a cell) each distance is at most tolerance_m too long, never short."""
    layer = request.getfixturevalue(layer_name)
    tol = grid.res / 2
    want = _dist_matrix(xy, layer.geometry).min(axis=1)
    got = criteria.distance_to(xy, layer, tolerance_m=tol)
    err = got - want
    assert err.min() >= -1e-6
    assert err.max() <= tol + 1e-6
    if layer_name == "ports":  # points stay exact
        np.testing.assert_allclose(got, want, atol=1e-6)
    if layer_name == "lakes":  # candidates inside a polygon get exactly 0
        inside = shapely.contains_xy(shapely.union_all(layer.geometry), xy[:, 0], xy[:, 1])
        assert inside.sum() > 5 and np.all(got[inside] == 0)


def test_distance_fast_path_multipart_geometries(xy):
    """Multi-polygons count as areas (0 inside), multi-lines as lines, in the fast path too."""
    layer = gpd.GeoDataFrame(
        geometry=[
            shapely.MultiPolygon(
                [shapely.box(905_000, 1_980_000, 915_000, 1_990_000),
                 shapely.box(940_000, 1_955_000, 950_000, 1_962_000)]
            ),
            shapely.MultiLineString(
                [[(920_000, 1_952_000), (958_000, 1_952_000)],
                 [(930_000, 1_975_000), (930_000, 1_999_000)]]
            ),
        ],
        crs=CRS,
    )  # fmt: skip
    want = _dist_matrix(xy, layer.geometry).min(axis=1)
    got = criteria.distance_to(xy, layer, tolerance_m=500.0)
    assert (want == 0).sum() > 20
    assert np.all(got[want == 0] == 0)
    assert (got - want).min() >= -1e-6 and (got - want).max() <= 500.0 + 1e-6


def test_distance_fast_path_error_is_small_for_a_small_tolerance(roads, xy):
    """A finer tolerance is honoured: 100 m, not the 1 km of a coarse grid."""
    want = _dist_matrix(xy, roads.geometry).min(axis=1)
    got = criteria.distance_to(xy, roads, tolerance_m=100.0)
    assert (got - want).min() + 1e-6 >= 0 and (got - want).max() <= 100.0 + 1e-6


def test_distance_saturate_bounds(roads):
    """Beyond saturate_m distances are at most 2.5 % too long; within it, at most tolerance_m."""
    tol, sat = 50.0, 5_000.0
    rng = np.random.default_rng(11)
    xy = rng.uniform([880_000, 1_930_000], [980_000, 2_020_000], size=(400, 2))
    want = _dist_matrix(xy, roads.geometry).min(axis=1)
    got = criteria.distance_to(xy, roads, tolerance_m=tol, saturate_m=sat)
    near, far = want <= sat - tol, want > sat
    assert near.sum() > 20 and far.sum() > 100
    assert np.all(got[near] - want[near] <= tol + 1e-6)
    assert np.all(got >= want - 1e-6)
    assert np.all(got[far] <= want[far] * 1.025 + 1e-6)
    # the answer never drops below the saturation point it replaces
    assert np.all(got[far] >= sat)


def test_distance_saturate_with_exact_coarse_answer(ports):
    """Points are vertices: the coarse far-field answer is exact for a point layer."""
    rng = np.random.default_rng(5)
    xy = rng.uniform([850_000, 1_900_000], [1_000_000, 2_050_000], size=(300, 2))
    want = _dist_matrix(xy, ports.geometry).min(axis=1)
    got = criteria.distance_to(xy, ports, tolerance_m=100.0, saturate_m=8_000.0)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_evaluate_where_filter_and_grid_tolerance(monkeypatch, ports, roads, xy):
    layers = {"ports": ports, "roads": roads}
    spec = _spec("distance_to", "ports", where={"kind": "port"})
    want = _dist_matrix(xy, ports.geometry[ports["kind"] == "port"]).min(axis=1)
    np.testing.assert_allclose(criteria.evaluate(xy, spec, layers), want, atol=1e-6)
    # a list of values selects their union
    spec2 = _spec("distance_to", "ports", where={"kind": ["fishing", "port"]})
    want2 = _dist_matrix(xy, ports.geometry).min(axis=1)
    np.testing.assert_allclose(criteria.evaluate(xy, spec2, layers), want2, atol=1e-6)
    # the fast path is passed through by evaluate for distance_to
    road = _spec("distance_to", "roads", where={"class": "motorway"})
    exact = _dist_matrix(xy, roads.geometry[:1]).min(axis=1)
    seen: list[float] = []
    fast = criteria._distance_fast
    monkeypatch.setattr(
        criteria, "_distance_fast", lambda p, g, tol, sat: seen.append(tol) or fast(p, g, tol, sat)
    )
    got = criteria.evaluate(xy, road, layers, tolerance_m=1000.0, saturate_m=1e9)
    assert (got - exact).min() + 1e-6 >= 0 and (got - exact).max() <= 1000.0 + 1e-6
    assert seen == [1000.0]  # really the grid path, not the exact one


def test_where_errors_name_the_field(ports, xy):
    with pytest.raises(ScenarioError, match="layer 'ports' has no field 'kindd'"):
        criteria.evaluate(xy, _spec("distance_to", "ports", where={"kindd": "x"}), {"ports": ports})
    with pytest.raises(LayerError, match="field 'kindd'"):
        criteria.select(ports, {"kindd": "x"}, name="ports")
    with pytest.raises(LayerError, match="no feature matches"):
        criteria.evaluate(xy, _spec("distance_to", "ports", where={"kind": "x"}), {"ports": ports})


# --- nearest_attribute ---------------------------------------------------------------------


def test_nearest_attribute_takes_the_nearest_features_value(ports, xy):
    d = np.sort(_dist_matrix(xy, ports.geometry), axis=1)
    assert np.all(d[:, 1] - d[:, 0] > 1.0)  # no ties: the oracle is unambiguous
    want = ports["capacity"].to_numpy()[_dist_matrix(xy, ports.geometry).argmin(axis=1)]
    got = criteria.nearest_attribute(xy, ports, "capacity")
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) == 4  # every port is nearest to some candidate


def test_nearest_attribute_with_where(ports, xy):
    sub = ports[ports["kind"] == "port"]
    want = sub["capacity"].to_numpy()[_dist_matrix(xy, sub.geometry).argmin(axis=1)]
    spec = _spec("nearest_attribute", "ports", where={"kind": "port"}, field="capacity")
    np.testing.assert_array_equal(criteria.evaluate(xy, spec, {"ports": ports}), want)
    assert 3000.0 not in criteria.evaluate(xy, spec, {"ports": ports})


def test_evaluate_errors_name_criterion_kind_layer_and_fields(ports, xy):
    spec = _spec("nearest_attribute", "ports", field="name")
    with pytest.raises(LayerError) as e:
        criteria.evaluate(xy, spec, {"ports": ports})
    assert str(e.value) == (
        "criteria.c (nearest_attribute on layer 'ports'): field 'name': must be numeric "
        "(nearest_attribute), got text (fields: name, kind, capacity, population)"
    )


def test_nearest_attribute_text_field_is_an_error(ports, xy):
    with pytest.raises(LayerError, match="field 'name': must be numeric"):
        criteria.nearest_attribute(xy, ports, "name")
    with pytest.raises(LayerError, match="field 'nope'"):
        criteria.nearest_attribute(xy, ports, "nope")


# --- population_within ---------------------------------------------------------------------


@pytest.mark.parametrize("radius", [8_000.0, 20_000.0])
def test_population_sum(ports, xy, radius):
    d = _dist_matrix(xy, ports.geometry)
    pop = ports["population"].to_numpy()
    want = ((d <= radius) * pop[None, :]).sum(axis=1)
    got = criteria.population_within(xy, ports, radius_m=radius)
    np.testing.assert_allclose(got, want)
    assert len(np.unique(got)) >= 4


def test_population_gravity(ports, xy):
    radius, decay = 25_000.0, 6_000.0
    d = _dist_matrix(xy, ports.geometry)
    pop = ports["population"].to_numpy()
    want = ((d <= radius) * pop[None, :] * np.exp(-d / decay)).sum(axis=1)
    got = criteria.population_within(xy, ports, radius_m=radius, mode="gravity", decay_m=decay)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_population_defaults_and_missing_values(ports, xy):
    """Default decay 10 km; a place with no (or non-numeric) population counts as 0 people."""
    layer = ports.copy()
    layer["population"] = layer["population"].astype(object)
    layer.loc[layer.index[1], "population"] = None
    layer.loc[layer.index[3], "population"] = "many"
    d = _dist_matrix(xy, layer.geometry)
    pop = np.array([50_000.0, 0.0, 0.0, 0.0])
    want = ((d <= 30_000) * pop[None, :] * np.exp(-d / 10_000)).sum(axis=1)
    got = criteria.population_within(xy, layer, mode="gravity")
    np.testing.assert_allclose(got, want, rtol=1e-12)
    want_sum = ((d <= 30_000) * pop[None, :]).sum(axis=1)
    np.testing.assert_array_equal(criteria.population_within(xy, layer), want_sum)


def test_population_of_polygon_places_counts_at_their_representative_point(xy):
    poly = shapely.box(915_000, 1_975_000, 925_000, 1_985_000)
    layer = gpd.GeoDataFrame({"population": [1000.0]}, geometry=[poly], crs=CRS)
    rp = shapely.get_coordinates(poly.representative_point())[0]
    want = np.where(np.hypot(xy[:, 0] - rp[0], xy[:, 1] - rp[1]) <= 9_000, 1000.0, 0.0)
    np.testing.assert_array_equal(criteria.population_within(xy, layer, radius_m=9_000), want)


# --- count_within --------------------------------------------------------------------------


@pytest.mark.parametrize("layer_name", ["ports", "roads", "lakes"])
@pytest.mark.parametrize("radius", [5_000.0, 15_000.0])
def test_count_within(request, xy, layer_name, radius):
    layer = request.getfixturevalue(layer_name)
    want = (_dist_matrix(xy, layer.geometry) <= radius).sum(axis=1)
    got = criteria.count_within(xy, layer, radius_m=radius)
    np.testing.assert_array_equal(got, want)
    assert len(np.unique(got)) >= 2


def test_count_within_where(ports, xy):
    sub = ports[ports["kind"] == "port"]
    want = (_dist_matrix(xy, sub.geometry) <= 20_000).sum(axis=1)
    spec = _spec("count_within", "ports", where={"kind": "port"}, radius_m=20_000)
    np.testing.assert_array_equal(criteria.evaluate(xy, spec, {"ports": ports}), want)


# --- inside --------------------------------------------------------------------------------


def test_inside(lakes, xy):
    union = shapely.union_all(lakes.geometry)
    want = shapely.contains_xy(union, xy[:, 0], xy[:, 1]).astype(float)
    got = criteria.inside(xy, lakes)
    np.testing.assert_array_equal(got, want)
    assert 5 < got.sum() < len(xy) - 5


def test_inside_buffer(lakes, xy):
    buf = 3_000.0
    d = _dist_matrix(xy, lakes.geometry).min(axis=1)
    got = criteria.inside(xy, lakes, buffer_m=buf)
    clear = np.abs(d - buf) > 0.02 * buf  # away from the polygonised circle arcs
    np.testing.assert_array_equal(got[clear], (d[clear] <= buf).astype(float))
    assert got.sum() > criteria.inside(xy, lakes).sum()


def test_inside_where(lakes, xy):
    small = lakes.geometry[lakes["name"] == "small"].iloc[0]
    want = shapely.contains_xy(small, xy[:, 0], xy[:, 1]).astype(float)
    spec = _spec("inside", "lakes", where={"name": "small"})
    np.testing.assert_array_equal(criteria.evaluate(xy, spec, {"lakes": lakes}), want)
    assert want.sum() >= 1


# --- raster --------------------------------------------------------------------------------


def _write_raster(path, transform, arr, crs, nodata=None):
    import rasterio

    with rasterio.open(
        path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
        dtype="float64", crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(arr, 1)


@pytest.fixture(scope="module")
def plane_raster(tmp_path_factory):
    """1 km pixels holding a plane v = 2*(x - X0)/1000 + 0.5*(y - Y0)/1000 at their centres."""
    from affine import Affine

    res, w, h = 1000.0, 40, 30
    y0 = Y1 - h * res
    xs = X0 + (np.arange(w) + 0.5) * res
    ys = Y1 - (np.arange(h) + 0.5) * res
    gx, gy = np.meshgrid(xs, ys)
    arr = 2.0 * (gx - X0) / 1000 + 0.5 * (gy - y0) / 1000
    arr[0, 0] = -9999.0
    path = tmp_path_factory.mktemp("r") / "plane.tif"
    _write_raster(path, Affine(res, 0, X0, 0, -res, Y1), arr, CRS, nodata=-9999.0)
    return path, y0, arr


def test_raster_bilinear_reproduces_a_plane(plane_raster):
    path, y0, _ = plane_raster
    rng = np.random.default_rng(2)
    xy = rng.uniform([X0 + 2_000, y0 + 1_000], [X0 + 39_000, Y1 - 1_000], size=(100, 2))
    want = 2.0 * (xy[:, 0] - X0) / 1000 + 0.5 * (xy[:, 1] - y0) / 1000
    got = criteria.raster_sample(xy, str(path))
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_raster_rotated_grid_reproduces_a_plane(tmp_path):
    """A rotated raster (non-zero affine b, d terms): bilinear sampling still gives the plane."""
    from affine import Affine

    tr = Affine(1000.0, 300.0, X0, 200.0, -1000.0, Y1)
    h, w = 30, 40
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    cx, cy = tr @ (cols, rows)
    arr = 3.0 * (cx - X0) / 1000 - 1.0 * (cy - Y1) / 1000
    path = tmp_path / "rot.tif"
    _write_raster(path, tr, arr, CRS)
    rng = np.random.default_rng(8)
    pix = rng.uniform([2, 2], [w - 2, h - 2], size=(50, 2))
    px, py = tr @ (pix[:, 0], pix[:, 1])
    xy = np.column_stack([px, py])
    got = criteria.raster_sample(xy, str(path))
    np.testing.assert_allclose(got, 3.0 * (px - X0) / 1000 - 1.0 * (py - Y1) / 1000, atol=1e-6)


def test_raster_nearest_nodata_and_outside(plane_raster):
    path, _, arr = plane_raster
    xy = np.array(
        [
            [X0 + 5_300.0, Y1 - 7_900.0],  # pixel row 7, col 5
            [X0 + 500.0, Y1 - 500.0],  # nodata pixel
            [X0 - 5_000.0, Y1 - 500.0],  # west of the raster
            [X0 + 500.0, Y1 + 500.0],  # half a pixel north of the first row
            [X0 + 500.0, Y1 - 30_500.0],  # half a pixel south of the last row
            [X0 + 40_500.0, Y1 - 500.0],  # half a pixel east of the last column
            [X0 + 39_999.0, Y1 - 29_999.0],  # the last pixel
        ]
    )
    got = criteria.raster_sample(xy, str(path), resampling="nearest")
    assert got[0] == arr[7, 5] and got[6] == arr[29, 39]
    assert np.isnan(got[1:6]).all()
    west = criteria.raster_sample(
        np.array([[X0 - 500.0, Y1 - 7_900.0]]), str(path), resampling="nearest"
    )
    assert np.isnan(west).all()


def test_raster_in_another_crs_is_sampled_at_the_transformed_point(tmp_path):
    """A lon/lat raster holding its pixel-centre longitude: bilinear gives each candidate's lon."""
    from affine import Affine
    from pyproj import Transformer

    res = 0.01
    lon0, lat1, w, h = 126.0, 39.0, 80, 60
    lons = lon0 + (np.arange(w) + 0.5) * res
    arr = np.tile(lons, (h, 1))
    path = tmp_path / "lon.tif"
    _write_raster(path, Affine(res, 0, lon0, 0, -res, lat1), arr, "EPSG:4326")
    tr = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    rng = np.random.default_rng(4)
    lon = rng.uniform(126.05, 126.75, 30)
    lat = rng.uniform(38.5, 38.95, 30)
    x, y = tr.transform(lon, lat)
    spec = _spec("raster", None, path=str(path))
    got = criteria.evaluate(np.column_stack([x, y]), spec, {}, crs=CRS)
    np.testing.assert_allclose(got, lon, atol=1e-9)


def test_raster_errors_name_the_file(tmp_path):
    with pytest.raises(LayerError, match="no such raster"):
        criteria.raster_sample(np.zeros((1, 2)), str(tmp_path / "missing.tif"))
    bad = tmp_path / "bad.tif"
    bad.write_text("not a raster")
    with pytest.raises(
        LayerError, match=r"^criteria\.c \(raster\): .*bad\.tif: cannot read raster"
    ):
        criteria.evaluate(np.zeros((1, 2)), _spec("raster", None, path=str(bad)), {})


def test_evaluate_raster_defaults_to_the_working_crs(plane_raster):
    path, y0, _ = plane_raster
    xy = np.array([[X0 + 10_000.0, y0 + 10_000.0]])
    got = criteria.evaluate(xy, _spec("raster", None, path=str(path)), {})
    np.testing.assert_allclose(got, [2.0 * 10 + 0.5 * 10])


def test_evaluate_passes_tolerance_only_to_distances(ports, xy):
    spec = _spec("count_within", "ports", radius_m=15_000)
    want = (_dist_matrix(xy, ports.geometry) <= 15_000).sum(axis=1)
    got = criteria.evaluate(xy, spec, {"ports": ports}, tolerance_m=1000.0, saturate_m=5000.0)
    np.testing.assert_array_equal(got, want)


# --- scenario checks -----------------------------------------------------------------------


def test_param_problems_accept_any_value_for_an_untyped_parameter(monkeypatch, ports, xy):
    """A plug-in kind whose parameter has no annotation or default takes any value."""

    def anything(xy, layer, thing, table: Mapping[str, float] | None = None, names: list[str] = ()):
        return np.full(len(xy), float(len(thing)))

    monkeypatch.setitem(criteria.REGISTRY, "anything", anything)
    spec = _spec("anything", "ports", thing=[1, 2, 3])
    assert criteria.param_problems(spec, {"ports": ports}) == []
    ok = _spec("anything", "ports", thing=1, table={"a": 1.0}, names=["a"])
    assert criteria.param_problems(ok) == []
    bad = _spec("anything", "ports", thing=1, table=[1], names=5)
    assert criteria.param_problems(bad) == [
        "criteria.c.params.table: must be a mapping, got [1]",
        "criteria.c.params.names: must be a list, got 5",
    ]
    assert criteria.evaluate(xy[:2], spec, {"ports": ports}).tolist() == [3.0, 3.0]
    assert criteria.param_problems(_spec("anything", "ports", thing=True)) == []


def test_param_problems_catch_typos_and_missing_fields(ports):
    spec = _spec("count_within", "ports", radius=5000)
    assert any("did you mean 'radius_m'" in p for p in criteria.param_problems(spec))
    spec = dataclasses.replace(_spec("nearest_attribute", "ports", field="cap"))
    probs = criteria.param_problems(spec, {"ports": ports})
    assert probs == [
        "criteria.c.params.field: layer 'ports' has no field 'cap' "
        "(fields: name, kind, capacity, population)"
    ]
    assert criteria.param_problems(_spec("nearest_attribute", "ports")) == [
        "criteria.c.params.field: missing (needed by nearest_attribute)"
    ]
    assert criteria.param_problems(_spec("nearest_attribute", "ports", field=5)) == [
        "criteria.c.params.field: must be text, got 5"
    ]
    for bad in ("far", True, float("inf")):
        assert criteria.param_problems(_spec("count_within", "ports", radius_m=bad)) == [
            f"criteria.c.params.radius_m: must be a finite number, got {bad!r}"
        ]
    (kind,) = criteria.param_problems(_spec("distanse_to", "ports"))
    assert kind.startswith("criteria.c.kind: unknown 'distanse_to'; did you mean 'distance_to'?")
    (kind,) = criteria.param_problems(_spec("zzz", "ports"))
    assert kind.startswith("criteria.c.kind: unknown 'zzz' (kinds: ")
