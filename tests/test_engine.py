"""The suitability engine end to end on a coarse grid."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import shapely
import yaml

from geoplan import pipeline
from geoplan.scenario import load_scenario

FAST = {
    "grid": {"resolution_m": 1000},
    "candidates": {"zones_per_belt": 2, "min_spacing_km": 20},
    "sensitivity": {"draws": 0},
}


@pytest.fixture(scope="module")
def fast_scenario(tmp_path_factory):
    d = tmp_path_factory.mktemp("sc")
    p = d / "fast.yaml"
    p.write_text(yaml.safe_dump(FAST))
    return p


@pytest.fixture(scope="module")
def result(fast_run):
    return fast_run


def test_zones_respect_size_exclusions_spacing(result):
    sizes = result.scenario.candidates.size_classes
    z = result.zones
    assert len(z) == 5 * 3 * 2
    for cls, g in z.groupby("size_class"):
        lo, hi = sizes[cls].min_km2, sizes[cls].max_km2
        assert ((g["area_km2"] >= lo) & (g["area_km2"] <= hi)).all()
    assert set(z["size_class"]) == {"small", "medium"}
    excl = shapely.union_all(result.exclusions.geometry.to_numpy())
    assert all(g.intersection(excl).area < 1.0 for g in z.geometry)
    for _, grp in z.groupby("profile"):
        geoms = list(grp.geometry)
        for i in range(len(geoms)):
            for j in range(i + 1, len(geoms)):
                assert geoms[i].distance(geoms[j]) >= 20_000 - 1e-6


def test_contributions_sum_to_score(result):
    r = result.ranking
    contrib = r[[c for c in r.columns if c.startswith("contrib_")]].fillna(0).sum(axis=1)
    assert np.allclose(contrib, r["score"], atol=1e-9)


def test_ranking_and_phases(result):
    r = result.ranking
    for _, g in r.groupby(["profile", "belt"]):
        ranks = g["rank_in_belt"].dropna().astype(int).sort_values().tolist()
        assert ranks == list(range(1, len(ranks) + 1))
        sg = g.sort_values("rank_in_belt")
        assert sg["score"].is_monotonic_decreasing
    assert set(r["phase"].dropna().astype(int)) <= {1, 2, 3}
    assert r["phase_reason"].str.startswith("Phase ").all()
    required = ["zone_id", "name", "belt", "profile", "score", "rank_in_belt", "phase",
                "phase_reason", "area_km2", "lon", "lat"]  # fmt: skip
    assert set(required) <= set(r.columns)


def test_outputs_written_with_provenance(result):
    import json

    outs = result.outputs
    for key in ("map", "geopackage", "ranking", "run"):
        assert outs[key].exists()
    rec = json.loads(outs["run"].read_text())
    assert rec["geoplan_version"]
    assert len(rec["input_layers"]["ports"]["sha256"]) == 64
    assert rec["scenario"]["grid"]["resolution_m"] == 1000


def test_surface_geotiff_matches_engine(result):
    import rasterio

    path = result.outputs["geotiff:labour_intensive"]
    with rasterio.open(path) as src:
        arr = src.read(1, masked=True)
        assert src.crs.to_epsg() == 5179
        assert src.nodata is not None
        assert src.overviews(1)
        assert src.descriptions[0].startswith("suitability")
        assert src.tags()["scenario"] == "fast"
    surf = result.surfaces["labour_intensive"]
    finite = np.isfinite(surf)
    assert np.allclose(arr.filled(np.nan)[finite], surf[finite], atol=1e-6)
    assert arr.mask[~finite].all()


def test_same_scenario_same_ranking(fast_scenario, result, tmp_path):
    again = pipeline.run(fast_scenario)
    again.write(tmp_path, only={"csv"})
    assert again.outputs["ranking"].read_bytes() == result.outputs["ranking"].read_bytes()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("grd: {resolution_m: 250}", "grd: unknown key; did you mean 'grid'?"),
        (
            "profiles:\n  p:\n    criteria:\n      - {criterion: port_distance, weight: -1,"
            " transform: {type: linear, low: 0, high: 1}}",
            "profiles.p.criteria[0].weight: must be ≥ 0, got -1",
        ),
        (
            "profiles:\n  p:\n    criteria:\n      - {criterion: port_distance, weight: .nan,"
            " transform: {type: linear, low: 0, high: 1}}",
            "profiles.p.criteria[0].weight: must be a finite number",
        ),
        (
            "profiles:\n  p:\n    criteria:\n"
            "      - {criterion: port_distance, transform: {type: linear, low: 0, high: 1}}\n"
            "      - {criterion: rail_distance, transform: {type: linear, low: 0, high: 1}}\n"
            "      - {criterion: road_distance, transform: {type: linear, low: 0, high: 1}}\n"
            "    ahp: {matrix: [[1, 9, 0.1111111], [0.1111111, 1, 9], [9, 0.1111111, 1]]}\n"
            "prioritisation: {phase_rules: [{phase: 3, when: {}}]}",
            "profiles.p.ahp.matrix: inconsistent judgements, consistency ratio",
        ),
        ("layers: {ports: /nonexistent/ports.gpkg}", "/nonexistent/ports.gpkg: no such file"),
        ("crs: EPSG:4326", "crs: EPSG:4326 is geographic"),
        (
            "constraints: {mask_layers: [nogo]}",
            "constraints.mask_layers[0]: unknown layer 'nogo'",
        ),
        (
            "prioritisation:\n  phase_rules:\n    - {phase: 1, when: {belt: west_coats}}",
            "phase_rules[0].when.belt: unknown 'west_coats'; did you mean 'west_coast'?",
        ),
    ],
)
def test_bad_scenarios_exit_1_one_line_no_output(tmp_path, text, fragment):
    sc = tmp_path / "bad.yaml"
    sc.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "geoplan", "-q", "run", str(sc), "--out", str(out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, proc.stderr
    assert fragment in lines[0]
    assert not out.exists() or list(out.iterdir()) == []


def test_scenario_show_and_check(tmp_path):
    from click.testing import CliRunner

    from geoplan.cli import main

    res = CliRunner().invoke(main, ["scenario", "show"])
    assert res.exit_code == 0
    shown = yaml.safe_load(res.output)
    assert set(shown["profiles"]) == set(load_scenario().profiles)
    good = tmp_path / "g.yaml"
    good.write_text("grid: {resolution_m: 500}\n")
    assert CliRunner().invoke(main, ["scenario", "check", str(good)]).exit_code == 0
    bad = tmp_path / "b.yaml"
    bad.write_text("grid: {resolution_m: 5}\n")
    res = CliRunner().invoke(main, ["scenario", "check", str(bad)])
    assert res.exit_code == 1
    assert "grid.resolution_m: must be ≥ 25, got 5" in res.output


def test_direct_weights_not_summing_to_one_warn(tmp_path):
    sc = tmp_path / "w.yaml"
    sc.write_text(
        "profiles:\n  p:\n    criteria:\n"
        "      - {criterion: port_distance, weight: 2,"
        " transform: {type: linear, low: 0, high: 1}}\n"
        "      - {criterion: rail_distance, weight: 2,"
        " transform: {type: linear, low: 0, high: 1}}\n"
        "prioritisation: {phase_rules: [{phase: 3, when: {}}]}\n"
    )
    with pytest.warns(UserWarning, match="sum to 4, not 1; normalised"):
        s = load_scenario(sc)
    assert np.allclose(s.profiles["p"].weights, [0.5, 0.5])


def test_topsis_second_opinion_column(result):
    r = result.ranking
    assert r["topsis"].between(0, 1).all()
    # TOPSIS and the weighted sum agree on what is good, if not on the exact order
    for _, g in r.groupby("profile"):
        assert np.corrcoef(g["topsis"], g["score"])[0, 1] > 0.5


def test_raster_criterion_reprojects_and_samples(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    from geoplan import criteria

    # a WGS84 raster whose value is the longitude: sampling from EPSG:5179 must undo the CRS
    w, h = 400, 300
    lon0, lat1, step = 124.0, 43.0, 0.02
    cols = lon0 + (np.arange(w) + 0.5) * step
    arr = np.tile(cols, (h, 1)).astype("float32")
    path = tmp_path / "lon.tif"
    profile = {"driver": "GTiff", "width": w, "height": h, "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": from_origin(lon0, lat1, step, step)}  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr, 1)
    import geopandas as gpd
    import shapely

    pts = gpd.GeoSeries([shapely.Point(125.75, 39.03), shapely.Point(129.77, 41.79)], crs=4326)
    m = pts.to_crs(5179)
    xy = np.column_stack([m.x, m.y])
    v = criteria.raster_sample(xy, str(path))
    assert np.allclose(v, [125.75, 129.77], atol=0.011)
    with pytest.raises(Exception, match="no such raster"):
        criteria.raster_sample(xy, str(tmp_path / "missing.tif"))


def test_grid_distances_within_their_tolerances(default_layers):
    from geoplan import criteria

    rng = np.random.default_rng(5)
    b = default_layers["boundaries"].total_bounds
    xy = np.column_stack([rng.uniform(b[0], b[2], 3000), rng.uniform(b[1], b[3], 3000)])
    rail = default_layers["railways"]
    exact = criteria.distance_to(xy, rail)
    fast = criteria.distance_to(xy, rail, tolerance_m=50.0, saturate_m=20_000.0)
    near = exact <= 20_000
    assert np.all(fast >= exact - 1e-6)
    assert np.all(fast[near] - exact[near] <= 50.0 + 1e-6)
    assert np.all(fast[~near] <= exact[~near] * 1.025 + 1e-6)
    assert near.any() and (~near).any()


def test_user_mask_layer_excludes_zones(tmp_path, fast_run):
    import geopandas as gpd

    # forbid a 60 km box around the best west-coast zone of the unmasked run
    z = fast_run.zones
    best = z[z["belt"] == "west_coast"].sort_values("score", ascending=False).iloc[0]
    c = best.geometry.centroid
    box = shapely.box(c.x - 30_000, c.y - 30_000, c.x + 30_000, c.y + 30_000)
    gpd.GeoDataFrame({"name": ["no-go"]}, geometry=[box], crs=5179).to_file(tmp_path / "nogo.gpkg")
    sc = tmp_path / "masked.yaml"
    sc.write_text(
        yaml.safe_dump(
            {
                **FAST,
                "layers": {"nogo": str(tmp_path / "nogo.gpkg")},
                "constraints": {"mask_layers": ["nogo"]},
            }
        )
    )
    res = pipeline.run(sc)
    assert "mask:nogo" in set(res.exclusions["kind"])
    assert all(g.intersection(box).area == 0 for g in res.zones.geometry)
    assert len(res.zones) == len(z)


def test_excluded_sites_are_recorded(result):
    import json

    # Hwanggumphyong lies outside the Natural Earth DPRK polygon (a known exception)
    assert result.excluded_sites == ["Hwanggumphyong and Wihwa Islands Economic Zone"]
    rec = json.loads(result.outputs["run"].read_text())
    assert rec["excluded_sites"] == result.excluded_sites
    assert not result.ranking["name"].eq(result.excluded_sites[0]).any()
