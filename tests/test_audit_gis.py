"""Audit of the outputs as a GIS user opens them: every file records the scenario, the
geoplan version and the SHA-256 of each input layer.

Before, the GeoTIFFs (suitability and robustness COGs) carried the scenario's
name and the version but not the input layers' hashes that run.json and the
GeoPackage record, so a COG copied out of its folder could not be traced to
its inputs.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess

import pytest
import rasterio

from geoplan import __version__

from .conftest import REPO
from .test_audit_cli import FAST, invoke


def test_every_output_records_scenario_version_and_input_hashes(tmp_path, monkeypatch, ogrinfo):
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "layers" / "ports.geojson", tmp_path / "myports.geojson")
    want_ports = hashlib.sha256((tmp_path / "myports.geojson").read_bytes()).hexdigest()
    want_cities = hashlib.sha256((REPO / "layers" / "cities.geojson").read_bytes()).hexdigest()
    (tmp_path / "s.yaml").write_text(
        FAST + "name: audit\nlayers: {ports: myports.geojson}\n", encoding="utf-8"
    )
    rc, text = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "tif,gpkg"])
    assert rc == 0, text
    out = tmp_path / "out"
    rec = json.loads((out / "run.json").read_text("utf-8"))
    hashes = {k: v["sha256"] for k, v in rec["input_layers"].items()}
    assert hashes["ports"] == want_ports and hashes["cities"] == want_cities  # hashlib oracle
    assert rec["geoplan_version"] == __version__ and rec["scenario_name"] == "audit"
    tifs = [v for k, v in rec["outputs"].items() if k.startswith("geotiff:")]
    assert len(tifs) == 5
    for rel in tifs:
        with rasterio.open(out / rel) as src:
            tags = src.tags()
        assert tags["scenario"] == "audit" and tags["geoplan_version"] == __version__
        assert json.loads(tags["inputs_sha256"]) == hashes, rel
    # the COGs made while the run went on were used as they were, not written again
    assert rec["timings_s"]["write GeoTIFF"] == 0
    info = subprocess.run([ogrinfo, "-ro", "-so", "-al", str(out / "audit.gpkg")],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    line = next(ln for ln in info.splitlines() if "geoplan_run=" in ln)
    meta = json.loads(line.split("geoplan_run=", 1)[1])
    assert meta["inputs_sha256"] == hashes and meta["scenario"] == "audit"
    assert meta["geoplan_version"] == __version__


def test_robustness_cogs_record_input_hashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(FAST, encoding="utf-8")
    args = ["sensitivity", "-q", "s.yaml", "-n", "3", "--steps", "2", "--cell-share"]
    rc, text = invoke([*args, "--profile", "port_logistics", "--out", "sens"])
    assert rc == 0, text
    want = hashlib.sha256((REPO / "layers" / "ports.geojson").read_bytes()).hexdigest()
    [tif] = list((tmp_path / "sens").glob("robustness_*.tif"))
    with rasterio.open(tif) as src:
        tags = src.tags()
    assert tags["profile"] == "port_logistics" and tags["draws"] == "3"
    assert json.loads(tags["inputs_sha256"])["ports"] == want


@pytest.mark.parametrize("key", ["gpkg_contents", "sqlite_master", "layer_styles",
                                 "rtree_zones_geom", "ZONES", "Sites"])  # fmt: skip
def test_scenario_layer_named_like_a_reserved_table_is_written(tmp_path, monkeypatch, key):
    """A scenario layer named like a GeoPackage/SQLite table, or like geoplan's own
    ``zones`` in other case, made the run fail at its very end ("cannot write")."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(REPO / "layers" / "ports.geojson", tmp_path / "p.geojson")
    n = len(json.loads((tmp_path / "p.geojson").read_text("utf-8"))["features"])
    (tmp_path / "s.yaml").write_text(FAST + f"name: k\nlayers: {{'{key}': p.geojson}}\n")
    rc, text = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "gpkg"])
    assert rc == 0, text
    with sqlite3.connect(tmp_path / "out" / "k.gpkg") as con:  # the oracle: SQLite itself
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
        assert {"zones", "sites", f"input_{key}"} <= tables
        assert con.execute(f'SELECT count(*) FROM "input_{key}"').fetchone() == (n,)
        zones = con.execute("SELECT count(*) FROM zones").fetchone()[0]
    rec = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))
    assert zones == rec["counts"]["zones"] > 0  # geoplan's own table is still its zones
