"""What users receive: GeoPackage (read by a second reader), COGs, report, atomic writes."""

from __future__ import annotations

import os
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
    # SQLite's syncs are off only while geoplan writes its own staged file, even when it fails
    assert pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS") is None


def test_gpkg_passes_sqlite_integrity_check(fast_run):
    """Written without SQLite's per-commit syncs, the file is still a sound database."""
    con = sqlite3.connect(fast_run.outputs["geopackage"])
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        n = con.execute("SELECT count(*) FROM zones").fetchone()[0]
    finally:
        con.close()
    assert n == len(fast_run.zones)


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


def _decode_png(uri: str) -> tuple[np.ndarray, np.ndarray]:
    """(palette indices, RGBA lookup) of a data-URI PNG, decoded by Pillow (independent reader)."""
    import base64
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert im.mode == "P"
    rgba = np.asarray(im.convert("RGBA"))
    return np.asarray(im), rgba


def test_png_palette_round_trips_through_pillow():
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 4, size=(7, 5)).astype("uint8")
    pal = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype="uint8")
    alpha = np.array([0, 255, 128, 255], dtype="uint8")
    png = export.png_palette(idx, pal, alpha)
    import base64

    got, rgba = _decode_png("data:image/png;base64," + base64.b64encode(png).decode())
    assert np.array_equal(got, idx)
    assert np.array_equal(rgba[..., :3], pal[idx])
    assert np.array_equal(rgba[..., 3], alpha[idx])
    assert export.png_palette(idx, pal, alpha) == png  # same pixels, same bytes


def test_surface_overlays_agree_with_gdal_average_warp():
    """One shared warp for several surfaces vs rasterio/GDAL's average reprojection of each."""
    from affine import Affine
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    h, w, res = 300, 260, 2000.0
    tr = Affine(res, 0, 900_000.0, 0, -res, 2_100_000.0)
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (xx - 130) ** 2 / 120**2 + (yy - 150) ** 2 / 140**2 < 1  # an ellipse of candidates
    a = np.where(mask, xx / w, np.nan).astype("float32")
    b = np.where(mask, 1 - yy / h, np.nan).astype("float32")
    colors = ["#000000", "#ffffff"]  # grey ramp: the red channel is the colour index
    out = export.surface_overlays({"a": a, "b": b}, tr, "EPSG:5179", colors, max_px=200)
    assert out["a"][1] == out["b"][1]
    from geoplan.results import Surfaces

    compact = Surfaces(mask, {"a": a[mask], "b": b[mask]})  # what a run holds
    assert export.surface_overlays(compact, tr, "EPSG:5179", colors, max_px=200) == out
    dst_t, dw, dh = calculate_default_transform(
        "EPSG:5179",
        "EPSG:3857",
        w,
        h,
        left=tr.c,
        bottom=tr.f - res * h,
        right=tr.c + res * w,
        top=tr.f,
    )
    s = max(dw, dh) / 200.0
    dw, dh = int(dw / s), int(dh / s)
    dst_t = dst_t @ dst_t.scale(s, s)
    for name, arr in (("a", a), ("b", b)):
        ref = np.full((dh, dw), np.nan, dtype="float32")
        reproject(arr, ref, src_transform=tr, src_crs="EPSG:5179", dst_transform=dst_t,
                  dst_crs="EPSG:3857", src_nodata=np.nan, dst_nodata=np.nan,
                  resampling=Resampling.average)  # fmt: skip
        idx, rgba = _decode_png(out[name][0])
        assert idx.shape == (dh, dw)
        drawn = rgba[..., 3] > 0
        assert np.all(rgba[..., 3][drawn] == 217)  # 85 % opaque
        assert (drawn == np.isfinite(ref)).mean() > 0.99
        both = drawn & np.isfinite(ref)
        diff = np.abs(rgba[..., 0][both] / 255.0 - ref[both])
        assert diff.mean() < 0.01 and diff.max() < 0.05
    (south, west), (north, east) = out["a"][1]
    assert 120 < west < east < 135 and 30 < south < north < 45


def test_early_surfaces_write_the_same_cogs(fast_run, tmp_path):
    """COGs started during the run (``on_surface``) are byte for byte the ones ``write`` makes,
    each holding its profile's surface; nothing is left in the temporary folder."""
    import rasterio

    import geoplan
    from geoplan.outputs import EarlySurfaces

    sc = fast_run.scenario
    seen = []
    with EarlySurfaces(sc) as early:
        res = geoplan.Session(sc).run(
            sensitivity=0, on_surface=lambda p, s, g: (seen.append(p), early(p, s, g))
        )
        tmp_dir = early._dir
        written = res.write(tmp_path / "early", only=["tif"], early=early)
        assert early._jobs == {}  # every early COG was taken
    assert not tmp_dir.exists()
    assert seen == list(sc.profiles)
    for pname in sc.profiles:
        got = written[f"geotiff:{pname}"]
        assert got.read_bytes() == fast_run.outputs[f"geotiff:{pname}"].read_bytes()
        with rasterio.open(got) as src:
            arr = src.read(1, masked=True).filled(np.nan)
        want = res.surfaces[pname]
        np.testing.assert_array_equal(np.isfinite(arr), np.isfinite(want))
        np.testing.assert_allclose(arr[np.isfinite(want)], want[np.isfinite(want)], atol=1e-7)


def test_early_surfaces_of_another_run_are_not_used(fast_run, tmp_path):
    """A result of another scenario object writes its own COGs; the unused early files go."""
    from geoplan.outputs import EarlySurfaces

    early = EarlySurfaces(fast_run.scenario.with_profiles([next(iter(fast_run.scenario.profiles))]))
    pname = next(iter(fast_run.surfaces))
    early(pname, fast_run.surfaces, fast_run.grid)
    assert early.take(pname, fast_run) is None  # fast_run's scenario is another object
    written = fast_run.write(tmp_path / "x", only=["tif"], early=early)
    got = written[f"geotiff:{pname}"].read_bytes()
    assert got == fast_run.outputs[f"geotiff:{pname}"].read_bytes()
    d = early._dir
    assert any(d.iterdir())  # still holds the unused early file
    early.close()
    assert not d.exists()


def test_early_folder_of_a_killed_run_is_removed(fast_run, tmp_path, monkeypatch):
    """The next run removes the early-COG folder of a run whose process is gone, not others'."""
    import subprocess
    import sys
    import tempfile

    from geoplan.outputs import EarlySurfaces

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f"geoplan-cogs-{int(dead.stdout)}-abc"
    stale.mkdir()
    (stale / "000.tif").write_bytes(b"x")
    live = tmp_path / f"geoplan-cogs-{os.getpid()}-def"
    live.mkdir()
    other = tmp_path / "geoplan-cogs-notes"
    other.mkdir()
    with EarlySurfaces(fast_run.scenario) as early:
        assert early._dir.parent == tmp_path
        assert not stale.exists()
        assert live.exists() and other.exists()


def test_a_failed_early_cog_is_written_again_in_place(fast_run, tmp_path):
    """An early COG whose write failed (here: its surface is missing) is written by ``write``
    itself: the run's output is the same file as ever."""
    from geoplan.outputs import EarlySurfaces

    pname = next(iter(fast_run.surfaces))
    with EarlySurfaces(fast_run.scenario) as early:
        early(pname, {}, fast_run.grid)  # the job fails: no such profile in {}
        written = fast_run.write(tmp_path / "x", only=["tif"], early=early)
    got = written[f"geotiff:{pname}"].read_bytes()
    assert got == fast_run.outputs[f"geotiff:{pname}"].read_bytes()
