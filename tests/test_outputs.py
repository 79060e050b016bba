"""What users receive: GeoPackage (read by a second reader), COGs, report, atomic writes."""

from __future__ import annotations

import re
import sqlite3
import subprocess

import numpy as np
import pyogrio
import pytest
from click.testing import CliRunner

from geoplan import ExportError
from geoplan.cli import main
from geoplan.outputs import files as export
from geoplan.outputs.qgis_styles import STYLED_LAYERS

EXPECTED_LAYERS = ["zones", "sites", "belts", "exclusions", "ports", "railways", "roads",
                   "power_plants", "border_crossings", "cities", "boundaries"]  # fmt: skip


def test_ogrinfo_reads_every_layer_without_warning(fast_run, ogrinfo):
    gpkg = fast_run.outputs["geopackage"]
    proc = subprocess.run([ogrinfo, "-so", "-al", str(gpkg)], capture_output=True, text=True,
                          check=True)  # fmt: skip
    assert "warning" not in (proc.stdout + proc.stderr).lower(), proc.stderr
    counts = dict(re.findall(r"Layer name: (\S+)\n(?:.*\n)*?Feature Count: (\d+)", proc.stdout))
    expected = {"zones": len(fast_run.zones), "sites": len(fast_run.sites), "belts": 3,
                "ports": 21, "railways": 11, "cities": len(fast_run.layers["cities"])}  # fmt: skip
    for name in EXPECTED_LAYERS:
        assert name in counts, name
    for name, n in expected.items():
        assert int(counts[name]) == n, name
    assert "geoplan_run=" in proc.stdout  # run metadata in the dataset metadata


def test_gpkg_version_and_styles(fast_run):
    gpkg = fast_run.outputs["geopackage"]
    con = sqlite3.connect(gpkg)
    try:
        (app_id,) = con.execute("PRAGMA application_id").fetchone()
        (user_version,) = con.execute("PRAGMA user_version").fetchone()
        styles = dict(con.execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
        meta = con.execute("SELECT metadata FROM gpkg_metadata").fetchall()
    finally:
        con.close()
    assert app_id == 0x47504B47  # 'GPKG'
    assert user_version == 10200  # GeoPackage 1.2: GDAL 3.6 reads it without a warning
    styled = {"zones", *STYLED_LAYERS} & set(EXPECTED_LAYERS)
    assert set(styles) == styled
    assert 'attr="score"' in styles["zones"]
    assert any("inputs_sha256" in m[0] for m in meta)


def test_zone_fields_and_types(fast_run):
    z = pyogrio.read_dataframe(fast_run.outputs["geopackage"], layer="zones")
    for col in ("zone_id", "name", "belt", "profile", "score", "rank_in_belt", "phase",
                "phase_reason", "area_km2"):  # fmt: skip
        assert col in z.columns
    assert z["score"].dtype.kind == "f"
    assert z["phase"].dtype.kind in "iu"
    assert z.crs.to_epsg() == 5179


def test_geotiff_is_cog_and_matches_engine(fast_run):
    import rasterio

    for profile, surf in fast_run.surfaces.items():
        path = fast_run.outputs[f"geotiff:{profile}"]
        with rasterio.open(path) as src:
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert src.profile["tiled"]
            assert src.crs.to_epsg() == 5179
            assert src.nodata == -9999
            assert src.descriptions[0] == f"suitability {profile} (0-1)"
            assert src.tags()["profile"] == profile
            arr = src.read(1, masked=True)
        ok = np.isfinite(surf)
        assert np.allclose(arr.filled(np.nan)[ok], surf[ok], atol=1e-6)
        assert arr.mask[~ok].all()


def test_report_is_self_contained_and_escaped(fast_run):
    html = fast_run.outputs["report"].read_text(encoding="utf-8")
    assert html.count("<svg ") == len(fast_run.belts)  # one inline locator map per belt
    assert "<img" not in html and "<script" not in html and "<link" not in html
    assert "http://" not in html and "https://" not in html
    top = fast_run.zones.sort_values("score", ascending=False).iloc[0]
    assert top["name"] in html
    assert "What comes first" in html and "pairwise comparisons (AHP)" in html


def test_failed_gpkg_write_leaves_earlier_output(fast_run, tmp_path, monkeypatch):
    target = tmp_path / "x.gpkg"
    layers = {"zones": fast_run.zones, "ports": fast_run.layers["ports"]}
    export.write_geopackage(target, layers)
    before = target.read_bytes()
    real = pyogrio.write_dataframe
    calls = {"n": 0}

    def failing(*a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(pyogrio, "write_dataframe", failing)
    with pytest.raises(ExportError, match=r"x.gpkg \[layer ports\]: cannot write \(disk full\)"):
        export.write_geopackage(target, layers)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.gpkg"]


def test_unwritable_output_is_one_line(fast_run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ExportError, match="cannot write here"):
        export.write_csv(blocker / "sub" / "ranking.csv", fast_run.ranking)


def test_export_rewrites_one_output_from_run(fast_run, tmp_path):
    run_dir = fast_run.outputs["run"].parent
    res = CliRunner().invoke(main, ["-q", "export", "csv", "--run", str(run_dir),
                                    "--out", str(tmp_path)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ranking.csv").read_bytes() == fast_run.outputs["ranking"].read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "ranking.csv"
    ]  # the run's own record is not rewritten
    bad = CliRunner().invoke(main, ["export", "csv", "--run", str(tmp_path / "nope")])
    assert bad.exit_code == 2
