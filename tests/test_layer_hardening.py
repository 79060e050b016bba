"""Layers broken the way real files are: no geometry, warnings only, one layer, odd tables."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, Polygon

from geoplan import LayerValidationError, layers, osm
from geoplan.cli import main

from .osm_fixtures import write_xml

BOW = Polygon([(125.0, 39.0), (126.0, 40.0), (126.0, 39.0), (125.0, 40.0)])
SQUARE = shapely.box(125.395, 38.695, 125.446, 38.746)


def _cli(args: list[str]):
    res = CliRunner().invoke(main, args)
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def _geojson(path: Path, geoms: list[dict | None]) -> Path:
    feats = [
        {"type": "Feature", "properties": {"name": f"f{i}"}, "geometry": g}
        for i, g in enumerate(geoms)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def _ports(n: int = 3) -> gpd.GeoDataFrame:
    return (
        layers.load("ports")
        .to_crs(4326)[["name", "country", "coast", "capacity_mt_per_year", "geometry"]]
        .head(n)
    )


# ------------------------------------------------------------------ null / empty geometries


@pytest.fixture
def all_null(tmp_path) -> Path:
    return _geojson(tmp_path / "allnull.geojson", [None, None, None])


@pytest.fixture
def all_empty(tmp_path) -> Path:
    path = tmp_path / "allempty.gpkg"
    gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[Polygon(), Polygon()], crs=4326).to_file(path)
    return path


@pytest.fixture
def some_null(tmp_path) -> Path:
    square = json.loads(gpd.GeoSeries([SQUARE]).to_json())["features"][0]["geometry"]
    return _geojson(tmp_path / "somenull.geojson", [None, square, None, None])


@pytest.mark.parametrize("fixture", ["all_null", "all_empty"])
def test_layer_without_any_geometry_is_refused_in_one_line(request, fixture):
    path = request.getfixturevalue(fixture)
    with pytest.raises(LayerValidationError) as info:
        layers.load(path)
    lines = info.value.lines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{path} [layer {path.stem}]: none of the ")
    assert "has a geometry" in lines[0]
    res = _cli(["layers", "check", str(path)])
    assert res.exit_code == 1
    assert res.output.strip().count("\n") == 0
    assert str(path) in res.output and "has a geometry" in res.output


def test_features_without_geometry_are_dropped_with_one_counted_warning(some_null):
    with pytest.warns(UserWarning) as rec:
        gdf = layers.load(some_null, crs="EPSG:4326")
    msgs = [str(w.message) for w in rec]
    assert msgs == [f"{some_null} [layer somenull]: dropped 3 of 4 features with no geometry"]
    assert list(gdf["name"]) == ["f1"]
    assert gdf.geometry.iloc[0].equals_exact(SQUARE.normalize(), 1e-9) or (
        gdf.geometry.iloc[0].symmetric_difference(SQUARE).area < 1e-12
    )
    res = _cli(["layers", "check", str(some_null)])
    assert res.exit_code == 0, res.output
    assert "warning: " + msgs[0] in res.output
    assert _cli(["layers", "check", "--strict", str(some_null)]).exit_code == 1


def test_osm_clip_with_no_geometry_is_refused_naming_the_file(tmp_path, all_null):
    src = write_xml(tmp_path / "t.osm")
    res = _cli(["osm", "import", str(src), "--out", str(tmp_path / "o"), "--clip", str(all_null)])
    assert res.exit_code == 1
    assert str(all_null) in res.output and "has a geometry" in res.output
    assert not (tmp_path / "o" / "osm.gpkg").exists()


def test_osm_clip_drops_null_features_and_clips_like_the_clean_file(tmp_path, some_null):
    src = write_xml(tmp_path / "t.osm")
    clean = tmp_path / "clip.gpkg"
    gpd.GeoDataFrame(geometry=[SQUARE], crs=4326).to_file(clean)
    ref = osm.import_extract(src, tmp_path / "a", clip=clean)
    with pytest.warns(UserWarning, match="dropped 3 of 4 features with no geometry"):
        got = osm.import_extract(src, tmp_path / "b", clip=some_null)
    assert got["counts"] == ref["counts"]
    assert got["graph"] == ref["graph"]


def test_osm_clip_of_points_is_refused(tmp_path):
    src = write_xml(tmp_path / "t.osm")
    pts = tmp_path / "pts.gpkg"
    gpd.GeoDataFrame(geometry=[Point(125.4, 38.7)], crs=4326).to_file(pts)
    res = _cli(["osm", "import", str(src), "--out", str(tmp_path / "o"), "--clip", str(pts)])
    assert res.exit_code == 1
    assert f"{pts}: --clip needs polygons; the layer holds Point" in res.output


# ------------------------------------------------------------------ warnings only, --strict


def test_warnings_only_exit_zero_and_strict_fails(tmp_path):
    path = tmp_path / "bowtie.gpkg"
    gpd.GeoDataFrame({"name": ["bow"]}, geometry=[BOW], crs=4326).to_file(path)
    res = _cli(["layers", "check", str(path)])
    assert res.exit_code == 0, res.output
    warn = [x for x in res.output.splitlines() if x.startswith("warning: ")]
    assert len(warn) == 1 and "1 invalid geometries" in warn[0] and str(path) in warn[0]
    assert "ok: 1 layer source(s) usable (1 warning)" in res.output
    strict = _cli(["layers", "check", "--strict", str(path)])
    assert strict.exit_code == 1
    assert "ok:" not in strict.output


# ------------------------------------------------------------------ FILE::LAYER, --as, tables


@pytest.fixture
def two_layers(tmp_path) -> Path:
    path = tmp_path / "two.gpkg"
    _ports().to_file(path, layer="good")
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(200.0, 95.0)], crs=4326).to_file(
        path, layer="bad"
    )
    return path


def test_check_one_layer_of_a_geopackage(two_layers):
    whole = _cli(["layers", "check", str(two_layers)])
    assert whole.exit_code == 1
    assert f"{two_layers} [layer bad]: coordinates out of range" in whole.output
    good = _cli(["layers", "check", f"{two_layers}::good"])
    assert good.exit_code == 0, good.output
    assert "error" not in good.output and "ok: 1 layer source(s) valid" in good.output
    bad = _cli(["layers", "check", f"{two_layers}::bad"])
    assert bad.exit_code == 1 and "[layer bad]" in bad.output and "[layer good]" not in bad.output
    nope = _cli(["layers", "check", f"{two_layers}::nope"])
    assert nope.exit_code == 1
    assert f"{two_layers} [layer nope]: no such layer; the file holds: " in nope.output


def test_check_as_a_default_layer(tmp_path):
    mine = tmp_path / "my_ports.gpkg"
    _ports().drop(columns=["capacity_mt_per_year"]).to_file(mine)
    plain = _cli(["layers", "check", str(mine)])
    assert plain.exit_code == 0, plain.output  # no spec: nothing required
    res = _cli(["layers", "check", "--as", "ports", str(mine)])
    assert res.exit_code == 1
    lines = [x for x in res.output.splitlines() if x.startswith("error: ")]
    assert lines == [
        f"error: {mine} [layer my_ports] field 'capacity_mt_per_year': required field is "
        "missing (fields present: name, country, coast)"
    ]
    # the same problem load(as_layer=) raises
    with pytest.raises(LayerValidationError, match="capacity_mt_per_year"):
        layers.load(mine, as_layer="ports")
    bogus = _cli(["layers", "check", "--as", "harbours", str(mine)])
    assert bogus.exit_code == 1
    assert "--as harbours: not a default layer" in bogus.output


def test_attribute_tables_are_skipped(tmp_path):
    path = tmp_path / "styled.gpkg"
    _ports().to_file(path, layer="ports")
    table = pd.DataFrame({"f_table_name": ["ports"], "styleQML": ["<qgis/>"]})
    pyogrio.write_dataframe(table, path, layer="layer_styles", driver="GPKG")
    assert sorted(r[0] for r in pyogrio.list_layers(path)) == ["layer_styles", "ports"]
    res = _cli(["layers", "check", str(path)])
    assert res.exit_code == 0, res.output
    assert "layer_styles" not in res.output
    assert len(layers.load(path)) == 3  # the one spatial layer is chosen without layer=
    direct = _cli(["layers", "check", f"{path}::layer_styles"])
    assert direct.exit_code == 1
    assert "is an attribute table without geometry" in direct.output


def test_geopackage_written_by_a_run_checks_clean(fast_run):
    gpkg = [p for p in fast_run.outputs.values() if str(p).endswith(".gpkg")]
    assert gpkg, fast_run.outputs
    res = _cli(["layers", "check", str(gpkg[0])])
    assert res.exit_code == 0, res.output
    assert "error" not in res.output and "layer_styles" not in res.output


# ------------------------------------------------------------------ compact numbers


@pytest.mark.parametrize(
    ("name", "crs"), [("huge.geojson", None), ("huge.gpkg", 4326), ("huge5179.gpkg", 5179)]
)
def test_huge_coordinates_are_printed_compactly(tmp_path, name, crs):
    path = tmp_path / name
    if crs is None:
        _geojson(path, [{"type": "Point", "coordinates": [1e300, -1e300]}])
    else:
        gpd.GeoDataFrame({"n": [1]}, geometry=[Point(1e300, -1e300)], crs=crs).to_file(path)
    res = _cli(["layers", "check", str(path)])
    assert res.exit_code == 1
    line = res.output.strip()
    assert line.count("\n") == 0 and str(path) in line
    numbers = re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?", line.replace(str(path), ""))
    assert max(len(d) for d in numbers) <= 10, line
    assert "1e+300" in line
    assert len(line) < 400


def test_region_coordinates_keep_three_decimals(tmp_path):
    path = tmp_path / "far.geojson"
    _geojson(
        path,
        [
            {"type": "Point", "coordinates": [125.4, 38.7]},
            {"type": "Point", "coordinates": [2.351234, 48.856789]},  # Paris
        ],
    )
    res = _cli(["layers", "check", str(path)])
    assert res.exit_code == 1
    assert "1 of 2 features lie outside the expected region" in res.output
    assert "first at lon 2.351, lat 48.857" in res.output


# ------------------------------------------------------------------ CLI warning lines


def test_cli_warnings_are_clean_single_lines_and_quiet_hides_them(tmp_path, some_null):
    src = write_xml(tmp_path / "t.osm")

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        out = tmp_path / f"o{len(extra)}"
        args = ["osm", "import", str(src), "--out", str(out), "--clip", str(some_null)]
        return subprocess.run(
            [sys.executable, "-m", "geoplan", *extra, *args],
            capture_output=True,
            text=True,
            check=False,
        )

    proc = run()
    assert proc.returncode == 0, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    expected = f"warning: {some_null} [layer somenull]: dropped 3 of 4 features with no geometry"
    assert lines.count(expected) == 1, proc.stderr
    assert "UserWarning" not in proc.stderr and ".py:" not in proc.stderr
    assert "warnings.warn" not in proc.stderr  # Python's default format adds the code line
    assert sum(x.startswith("warning: ") for x in lines) == 1, proc.stderr
    quiet = run("-q")
    assert quiet.returncode == 0
    assert "warning" not in quiet.stderr


def test_load_warns_through_python_warnings(some_null):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        layers.load(some_null)
    assert [w.category for w in rec] == [UserWarning]


def test_check_as_without_files_is_a_usage_problem():
    res = _cli(["layers", "check", "--as", "ports"])
    assert res.exit_code == 1
    assert "--as ports: name the files to check against it" in res.output


def test_check_accepts_a_default_layer_name():
    res = _cli(["layers", "check", "--strict", "ports"])
    assert res.exit_code == 0, res.output
    assert "ok: 1 layer source(s) valid" in res.output
