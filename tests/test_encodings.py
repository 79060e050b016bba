"""Shapefile text encodings: Korean CP949 files without a .cpg never load as mojibake."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from geoplan import LayerError, LayerReadError, layers
from geoplan.cli import main

NAMES = ["평양", "남포", "개성"]
MOJIBAKE = "Æò¾ç"  # 평양 in CP949 read as Latin-1, what GDAL gives without a .cpg


def _shapefile(
    d: Path, stem: str, names: list[str], encoding: str, *, keep_cpg: bool = False
) -> Path:
    gdf = gpd.GeoDataFrame(
        {"name": names, "n": list(range(len(names)))},
        geometry=[Point(125.75, 39.03), Point(125.40, 38.73), Point(126.55, 37.97)][: len(names)],
        crs=4326,
    )
    path = d / f"{stem}.shp"
    pyogrio.write_dataframe(gdf, path, encoding=encoding)
    if not keep_cpg:
        path.with_suffix(".cpg").unlink()
    return path


def _dbf_names(path: Path, encoding: str) -> list[str]:
    """Independent oracle: the 'name' column read straight from the DBF bytes."""
    raw = path.with_suffix(".dbf").read_bytes()
    n = int.from_bytes(raw[4:8], "little")
    head, rec = int.from_bytes(raw[8:10], "little"), int.from_bytes(raw[10:12], "little")
    width = raw[32 + 16]  # first field descriptor: 'name'
    assert raw[32:36] == b"name"
    return [
        raw[head + i * rec + 1 : head + i * rec + 1 + width].rstrip(b" \0").decode(encoding)
        for i in range(n)
    ]


@pytest.fixture
def cp949_no_cpg(tmp_path) -> Path:
    path = _shapefile(tmp_path, "towns", NAMES, "cp949")
    assert _dbf_names(path, "cp949") == NAMES  # the bytes really are CP949
    assert not path.with_suffix(".cpg").exists()
    return path


def test_gdal_alone_gives_mojibake(cp949_no_cpg):
    # the problem this module solves: without a .cpg GDAL guesses Latin-1
    assert pyogrio.read_dataframe(cp949_no_cpg)["name"].iloc[0] == MOJIBAKE


def test_cp949_without_cpg_is_detected_with_one_warning(cp949_no_cpg):
    with pytest.warns(UserWarning) as rec:
        gdf = layers.load(cp949_no_cpg)
    assert list(gdf["name"]) == NAMES
    msgs = [str(w.message) for w in rec]
    assert len(msgs) == 1
    assert msgs[0].startswith(f"{cp949_no_cpg} [layer towns]: no .cpg file")
    assert "read it as CP949" in msgs[0] and "encoding: cp949" in msgs[0]


def test_cpg_saying_cp949_is_used_without_warning(tmp_path):
    path = _shapefile(tmp_path, "towns", NAMES, "cp949", keep_cpg=True)
    assert path.with_suffix(".cpg").read_text().strip().upper() == "CP949"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gdf = layers.load(path)
    assert list(gdf["name"]) == NAMES


def test_explicit_encoding_is_used_without_warning(cp949_no_cpg):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gdf = layers.load(cp949_no_cpg, encoding="cp949")
        euc = layers.load(cp949_no_cpg, encoding="euc-kr")  # 평양 남포 개성 are in KS X 1001
    assert list(gdf["name"]) == NAMES
    assert list(euc["name"]) == NAMES


def test_explicit_wrong_encoding_is_refused_in_one_line(cp949_no_cpg):
    with pytest.raises(LayerReadError) as info:
        layers.load(cp949_no_cpg, encoding="utf-8")
    assert str(info.value).startswith(f"{cp949_no_cpg} [layer towns]: attribute text is not")
    assert "\n" not in str(info.value)
    with pytest.raises(LayerError, match="encoding 'klingon' is unknown"):
        layers.load(cp949_no_cpg, encoding="klingon")


def test_utf8_without_cpg_is_fine_and_silent(tmp_path):
    path = _shapefile(tmp_path, "towns", NAMES, "utf-8")
    assert _dbf_names(path, "utf-8") == NAMES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gdf = layers.load(path)
    assert list(gdf["name"]) == NAMES


def test_text_neither_utf8_nor_cp949_is_refused(tmp_path):
    names = ["café au lait", "Zürich ", "x"]
    path = _shapefile(tmp_path, "cafes", names, "latin1")
    raw = path.with_suffix(".dbf").read_bytes()
    for enc in ("utf-8", "cp949"):  # precondition: the bytes really are neither
        with pytest.raises(UnicodeDecodeError):
            raw[int.from_bytes(raw[8:10], "little") :].decode(enc)
    with pytest.raises(LayerReadError) as info:
        layers.load(path)
    msg = str(info.value)
    assert msg.startswith(f"{path} [layer cafes] field 'name': no .cpg file")
    assert "neither UTF-8 nor CP949" in msg and "'encoding' option" in msg
    assert "\n" not in msg
    # and naming the encoding reads it right
    assert list(layers.load(path, encoding="cp1252")["name"]) == [n.rstrip() for n in names]


def test_load_all_takes_encodings_per_layer(cp949_no_cpg):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = layers.load_all({"towns": cp949_no_cpg}, names=[], encodings={"towns": "cp949"})
    assert list(out["towns"]["name"]) == NAMES
    refused = cp949_no_cpg.with_name("towns.shp")
    with pytest.raises(LayerError, match="not valid utf-8"):
        layers.load_all({"towns": refused}, names=[], encodings={"towns": "utf-8"})


def test_encoding_is_ignored_with_a_warning_for_geopackages(tmp_path):
    path = tmp_path / "towns.gpkg"
    gpd.GeoDataFrame({"name": NAMES}, geometry=[Point(125.75, 39.03)] * 3, crs=4326).to_file(path)
    with pytest.warns(UserWarning, match="encoding 'cp949' ignored; it applies to Shapefiles"):
        gdf = layers.load(path, encoding="cp949")
    assert list(gdf["name"]) == NAMES


def _cli(args: list[str]):
    res = CliRunner().invoke(main, args)
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res


def test_layers_check_reports_the_chosen_encoding_as_a_warning(cp949_no_cpg):
    res = _cli(["layers", "check", str(cp949_no_cpg)])
    assert res.exit_code == 0, res.output
    warn = [x for x in res.output.splitlines() if x.startswith("warning: ")]
    assert len(warn) == 1
    assert str(cp949_no_cpg) in warn[0] and "CP949" in warn[0]
    assert "ok: 1 layer source(s) usable (1 warning)" in res.output
    assert _cli(["layers", "check", "--strict", str(cp949_no_cpg)]).exit_code == 1
    explicit = _cli(["layers", "check", "--encoding", "cp949", str(cp949_no_cpg)])
    assert explicit.exit_code == 0
    assert "warning" not in explicit.output
    assert "ok: 1 layer source(s) valid" in explicit.output


def test_layers_check_refuses_undecodable_text_naming_the_field(tmp_path):
    path = _shapefile(tmp_path, "cafes", ["café au lait", "x", "y"], "latin1")
    proc = subprocess.run(
        [sys.executable, "-m", "geoplan", "layers", "check", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert f"{path} [layer cafes] field 'name': no .cpg file" in proc.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "geoplan", "layers", "check", "--encoding", "latin1", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr


def test_text_past_the_detection_sample_is_refused_not_misread(tmp_path, monkeypatch):
    path = _shapefile(tmp_path, "towns", ["Nampo", "평양", "개성"], "cp949")
    rec_len = int.from_bytes(path.with_suffix(".dbf").read_bytes()[10:12], "little")
    monkeypatch.setattr(layers, "_DBF_SAMPLE_BYTES", rec_len)  # sample = the ASCII record
    with pytest.raises(LayerReadError) as info:
        layers.load(path)
    assert str(info.value).startswith(f"{path} [layer towns]: attribute text is not valid utf-8")
    monkeypatch.setattr(layers, "_DBF_SAMPLE_BYTES", 3 * rec_len)
    with pytest.warns(UserWarning, match="CP949"):
        assert list(layers.load(path)["name"]) == ["Nampo", "평양", "개성"]
