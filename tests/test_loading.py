"""Loading user files: formats, reprojection, repair and the one-line problems."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, Polygon

from geoplan import LayerReadError, LayerValidationError, layers
from geoplan.cli import main


@pytest.fixture
def ports_wgs84() -> gpd.GeoDataFrame:
    df = layers.load("ports").to_crs(4326)
    return df[["name", "country", "coast", "capacity_mt_per_year", "geometry"]].head(5)


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson", ".fgb", ".parquet"])
def test_every_format_loads_reprojected(tmp_path, ports_wgs84, suffix):
    path = tmp_path / f"ports{suffix}"
    if suffix == ".parquet":
        ports_wgs84.to_parquet(path)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Shapefile cuts names to 10 characters
            ports_wgs84.to_file(path)
    gdf = layers.load(path, as_layer="ports")
    assert gdf.crs.to_epsg() == 5179
    assert len(gdf) == 5
    nampo = gdf.loc[gdf["name"] == "Nampo"].geometry.iloc[0]
    expected = gpd.GeoSeries([Point(125.388853, 38.716179)], crs=4326).to_crs(5179).iloc[0]
    assert nampo.distance(expected) < 0.5
    assert len(gdf.attrs["geoplan_sha256"]) == 64
    assert gdf["capacity_mt_per_year"].max() == pytest.approx(13.51)


def test_user_file_replaces_default_by_name(tmp_path, ports_wgs84):
    path = tmp_path / "my_ports.gpkg"
    ports_wgs84.to_file(path)
    loaded = layers.load_all({"ports": path}, names=["ports", "cities"])
    assert len(loaded["ports"]) == 5
    assert len(loaded["cities"]) > 100
    extra = layers.load_all({"my_sites": path}, names=[])
    assert list(extra) == ["my_sites"]


def test_invalid_polygons_are_repaired_with_a_counted_warning(tmp_path):
    bow = Polygon([(125.0, 39.0), (126.0, 40.0), (126.0, 39.0), (125.0, 40.0)])
    gdf = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[bow, bow], crs=4326)
    path = tmp_path / "zones.gpkg"
    gdf.to_file(path)
    with pytest.warns(UserWarning, match="repaired 2 invalid geometries"):
        out = layers.load(path)
    assert out.is_valid.all()
    assert out.area.sum() > 0


def _write_broken(d: Path, ports_wgs84: gpd.GeoDataFrame) -> dict[str, str]:
    """Build one broken file per problem kind; return file name -> expected fragment."""
    d.mkdir()
    good = d / "good.gpkg"
    ports_wgs84.to_file(good)
    data = good.read_bytes()
    (d / "truncated.gpkg").write_bytes(data[: len(data) // 3])
    # GeoJSON without a CRS member, but in projected metres (EPSG:5179)
    metric = ports_wgs84.to_crs(5179)
    fc = json.loads(metric.to_json())
    fc.pop("crs", None)
    (d / "nocrs.geojson").write_text(json.dumps(fc))
    # swapped lon/lat
    swapped = ports_wgs84.copy()
    swapped["geometry"] = shapely.transform(swapped.geometry.to_numpy(), lambda xy: xy[:, ::-1])
    swapped.to_file(d / "swapped.geojson")
    # self-intersecting polygons
    bow = Polygon([(125.0, 39.0), (126.0, 40.0), (126.0, 39.0), (125.0, 40.0)])
    gpd.GeoDataFrame({"name": ["bow"]}, geometry=[bow], crs=4326).to_file(d / "bowtie.gpkg")
    # empty layer
    ports_wgs84.iloc[0:0].to_file(d / "empty.gpkg")
    # missing required field: a file standing in for `ports` without capacity
    ports_wgs84.drop(columns=["capacity_mt_per_year"]).to_file(d / "ports.geojson")
    # Shapefile without .prj
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ports_wgs84.to_file(d / "noprj.shp")
    (d / "noprj.prj").unlink()
    good.unlink()
    return {
        "truncated.gpkg": "cannot read",
        "nocrs.geojson": "missing CRS: GeoJSON without a 'crs' member",
        "swapped.geojson": "swapped lon/lat",
        "bowtie.gpkg": "1 invalid geometries (first: feature 0, Self-intersection",
        "empty.gpkg": "layer is empty",
        "ports.geojson": "field 'capacity_mt_per_year': required field is missing",
        "noprj.shp": "missing CRS",
    }


def test_layers_check_reports_one_line_per_problem(tmp_path, ports_wgs84):
    expected = _write_broken(tmp_path / "broken", ports_wgs84)
    res = CliRunner().invoke(main, ["layers", "check", str(tmp_path / "broken")])
    assert res.exit_code == 1
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert "Traceback" not in res.output
    assert len(lines) == len(expected), res.output
    for name, fragment in expected.items():
        hits = [x for x in lines if f"{name}" in x]
        assert len(hits) == 1, (name, res.output)
        assert fragment in hits[0], hits[0]
    # layer names are given for multi-layer formats
    assert any("[layer bowtie]" in x for x in lines)


def test_layers_check_subprocess_has_no_traceback(tmp_path, ports_wgs84):
    import subprocess
    import sys

    _write_broken(tmp_path / "broken", ports_wgs84)
    proc = subprocess.run(
        [sys.executable, "-m", "geoplan", "layers", "check", str(tmp_path / "broken")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 7


def test_load_raises_all_problems_at_once(tmp_path, ports_wgs84):
    bad = ports_wgs84.drop(columns=["capacity_mt_per_year", "coast"])
    bad.to_file(tmp_path / "p.gpkg")
    with pytest.raises(LayerValidationError) as info:
        layers.load(tmp_path / "p.gpkg", as_layer="ports")
    lines = info.value.lines()
    assert len(lines) == 2
    assert all("p.gpkg [layer p] field '" in x for x in lines)


def test_unreadable_and_unknown_files(tmp_path):
    with pytest.raises(LayerReadError, match="no such file"):
        layers.load(tmp_path / "nope.gpkg")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(LayerReadError, match=r"unknown format '\.txt'"):
        layers.load(tmp_path / "x.txt")
    (tmp_path / "junk.geojson").write_text("{not json")
    with pytest.raises(LayerReadError, match=r"junk.geojson: cannot read"):
        layers.load(tmp_path / "junk.geojson")


def test_load_never_touches_the_input(tmp_path, ports_wgs84):
    path = tmp_path / "p.gpkg"
    ports_wgs84.to_file(path)
    before = path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers.load(path)
    assert path.read_bytes() == before


def test_default_layers_check_clean():
    res = CliRunner().invoke(main, ["layers", "check"])
    assert res.exit_code == 0, res.output


def test_geoparquet_without_pyarrow_is_one_clear_line(tmp_path, monkeypatch):
    """pyarrow is the ``parquet`` extra: without it, a GeoParquet input names the file and fix."""
    import importlib.util

    from geoplan._errors import LayerReadError
    from geoplan.layers import _read

    path = tmp_path / "ports.parquet"
    path.write_bytes(b"PAR1")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(LayerReadError, match=r"ports\.parquet: reading GeoParquet needs pyarrow"):
        _read(path, None)
