"""Audit of hostile names and files: defects found by playing the hostile user, each pinned.

* two profiles whose names slug alike (``a/b`` and ``a_b``) wrote ONE
  ``suitability_a_b.tif``: the second silently replaced the first while
  run.json listed both;
* a long Korean scenario name made a file name over 255 bytes: the run failed
  at the very end with "File name too long" naming a staging path;
* Windows device names (``CON``, ``nul.txt``, ``COM1``) became file names;
* a truncated ``.osm.bz2`` ended in "internal error: EOFError";
* a GeoJSON that is not UTF-8 was reported as "not valid None" and the user
  was told to set an ``encoding`` option that geoplan ignores for GeoJSON;
* an empty (0-byte) layer file gave GDAL's "'' not recognized" advice.
"""

from __future__ import annotations

import bz2
import json
import math
import re
import warnings
from pathlib import Path

import pytest
import rasterio
from click.testing import CliRunner

from geoplan.cli import main
from geoplan.outputs.publish import safe_name, unique_names

from .conftest import REPO
from .osm_fixtures import write_xml

FAST = "grid: {resolution_m: 5000}\ncandidates: {zones_per_belt: 1}\n"
LIN = "{type: linear, low: 0, high: 20000, direction: falling}"
#: The device names of Windows (Microsoft's "Naming Files, Paths, and Namespaces").
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in "0123456789¹²³"
}


def invoke(args: list[str]) -> tuple[int, str]:
    with warnings.catch_warnings():
        res = CliRunner().invoke(main, args, catch_exceptions=True)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.output


def _profiles(*names: str, crits=("port_distance", "labour_pool")) -> str:
    text = "profiles:\n"
    for name, crit in zip(names, crits, strict=False):
        text += (
            f"  {json.dumps(name, ensure_ascii=False)}:\n    criteria:\n"
            f"      - {{criterion: {crit}, weight: 1, transform: {LIN}}}\n"
        )
    return text + f"only_profiles: {json.dumps(list(names))}\n"


# ------------------------------------------------------------------------- names that collide


def test_profiles_whose_names_slug_alike_get_one_geotiff_each(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(FAST + _profiles("a/b", "a_b"), encoding="utf-8")
    rc, text = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "tif,csv"])
    assert rc == 0, text
    rec = json.loads((tmp_path / "out" / "run.json").read_text("utf-8"))
    paths = {k.split(":", 1)[1]: v for k, v in rec["outputs"].items() if k.startswith("geotiff:")}
    assert set(paths) == {"a/b", "a_b"}
    assert len(set(paths.values())) == 2  # two files, not one written twice
    tifs = sorted((tmp_path / "out").glob("suitability_*.tif"))
    assert len(tifs) == 2
    for profile, rel in paths.items():
        with rasterio.open(tmp_path / "out" / rel) as src:  # each file holds its own profile
            assert src.tags()["profile"] == profile


def test_unique_names_are_distinct_case_blind_and_order_free():
    names = ["a_b", "a/b", "a b", "Port", "port", "c"]
    slugs = unique_names(names)
    folded = [s.casefold() for s in slugs.values()]
    assert len(set(folded)) == len(names)  # distinct even on a case-insensitive disk
    assert slugs["a_b"] == "a_b" and slugs["c"] == "c"  # a name that is its slug keeps it
    assert unique_names(list(reversed(names))) == slugs  # not dependent on the order
    assert all(safe_name(s) == s for s in slugs.values())


# ------------------------------------------------------------------------- long and device names


@pytest.mark.parametrize("name", ["CON", "nul.txt", "Com1", "LPT9", "aux", "con.tar.gz", "lpt²"])
def test_windows_device_names_never_become_file_names(name):
    slug = safe_name(name)
    assert slug.split(".")[0].upper() not in WINDOWS_DEVICES, slug
    assert slug.lower().startswith(name.split(".")[0].lower())  # still recognisable


@pytest.mark.parametrize("name", ["CONSOLE", "com10", "nullable", "auxiliary"])
def test_ordinary_names_like_devices_are_left_alone(name):
    assert safe_name(name) == name


def test_long_korean_name_writes_every_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "한" * 300  # 900 bytes in UTF-8
    text = FAST + f"name: {name}\n" + _profiles(name, crits=("port_distance",))
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    rc, out = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "gpkg,tif,csv"])
    assert rc == 0, out
    files = [p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")]
    assert len(files) == 4  # gpkg, one tif, ranking.csv, run.json
    assert max(len(f.encode("utf-8")) for f in files) <= 255
    gpkg = next(p for p in (tmp_path / "out").glob("*.gpkg"))
    assert gpkg.stem == "한" * 40  # 120 bytes: the slug's limit


def test_device_name_run_writes_no_device_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = FAST + "name: CON\n" + _profiles("nul", crits=("port_distance",))
    (tmp_path / "s.yaml").write_text(text, encoding="utf-8")
    rc, out = invoke(["run", "-q", "s.yaml", "--out", "out", "--only", "gpkg,tif,map"])
    assert rc == 0, out
    stems = {p.name.split(".")[0].upper() for p in (tmp_path / "out").iterdir()}
    assert {"CON_", "SUITABILITY_NUL_"} <= stems
    assert not stems & WINDOWS_DEVICES


# ------------------------------------------------------------------------- broken files


def test_truncated_osm_bz2_is_one_line(tmp_path):
    xml = write_xml(tmp_path / "x.osm", 20).read_bytes()
    packed = bz2.compress(xml)
    bad = tmp_path / "cut.osm.bz2"
    bad.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="end-of-stream"):  # the oracle: bz2 finds it cut
        bz2.decompress(bad.read_bytes())
    rc, text = invoke(["osm", "import", str(bad), "--out", str(tmp_path / "o")])
    assert rc == 1, text
    lines = text.strip().splitlines()
    assert lines[-1].startswith(f"error: {bad}: cannot read"), text
    assert "truncated" in lines[-1] and "internal error" not in text
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def _ports() -> dict:
    return json.loads((REPO / "layers" / "ports.geojson").read_text("utf-8"))


def test_geojson_not_utf8_says_utf8_and_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _ports()
    data["features"][0]["properties"]["name"] = "Nampö"
    raw = json.dumps(data, ensure_ascii=False).encode("latin-1", errors="replace")
    with pytest.raises(UnicodeDecodeError):  # the oracle: not UTF-8
        raw.decode("utf-8")
    (tmp_path / "p.geojson").write_bytes(raw)
    base = ["layers", "check", "p.geojson", "--as", "ports"]
    for args in (base, [*base, "--encoding", "latin-1"]):
        rc, text = invoke(args)
        assert rc == 1, text
        err = [ln for ln in text.splitlines() if ln.startswith("error:")]
        assert len(err) == 1, text
        assert "p.geojson" in err[0] and "not valid UTF-8 (byte 0xf6)" in err[0], err
        assert "None" not in err[0] and "'encoding' option" not in err[0], err


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".shp"])
def test_empty_layer_file_is_named_empty(tmp_path, monkeypatch, suffix):
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"p{suffix}").write_bytes(b"")
    (tmp_path / "s.yaml").write_text(FAST + f"layers: {{ports: p{suffix}}}\n", encoding="utf-8")
    for args in (["layers", "check", f"p{suffix}"], ["scenario", "check", "s.yaml"]):
        rc, text = invoke(args)
        assert rc == 1, text
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert len(lines) == 1 and re.search(rf"p\{suffix}: is empty \(0 bytes\)", lines[0]), text


# ------------------------------------------------------------------------- weights


@pytest.mark.parametrize("w", [1e308, 1.7e308])
def test_huge_equal_weights_are_halves_not_zeros(w):
    """Two weights of 1e308 overflowed their sum to inf: every weight became 0, every score 0."""
    from geoplan.scenario import load_scenario

    lin = {"type": "linear", "low": 0, "high": 20000, "direction": "falling"}
    crit = [
        {"criterion": c, "weight": w, "transform": lin} for c in ("port_distance", "rail_distance")
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc = load_scenario({"profiles": {"p": {"criteria": crit}}, "only_profiles": ["p"]})
    assert sc.profiles["p"].weights.tolist() == [0.5, 0.5]  # equal weights: halves
    assert sc.replace({"profiles.p.criteria.rail_distance.weight": w * 0.75}).profiles[
        "p"
    ].weights.tolist() == pytest.approx([4 / 7, 3 / 7])


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_coordinates_are_named_not_called_projected(tmp_path, monkeypatch, bad):
    """A NaN longitude was reported as "missing CRS ... x 124.317..nan (projected metres?)"
    and as an invalid geometry "load() repairs with make_valid" (it cannot)."""
    monkeypatch.chdir(tmp_path)
    data = _ports()
    n = len(data["features"])
    data["features"][2]["geometry"]["coordinates"][0] = "@@"
    text = json.dumps(data).replace('"@@"', bad)
    (tmp_path / "p.geojson").write_text(text, encoding="utf-8")
    xs = [f["geometry"]["coordinates"][0] for f in json.loads(text)["features"]]
    assert [i for i, x in enumerate(xs) if not math.isfinite(x)] == [2]  # the oracle: json
    (tmp_path / "s.yaml").write_text(FAST + "layers: {ports: p.geojson}\n", encoding="utf-8")
    for args in (
        ["layers", "check", "p.geojson", "--as", "ports"],
        ["scenario", "check", "s.yaml"],
    ):
        rc, out = invoke(args)
        assert rc == 1, out
        lines = [ln for ln in out.splitlines() if ln.strip()]
        assert len(lines) == 1, out
        assert (
            f"p.geojson [layer ports]: 1 of {n} features have coordinates that are not numbers"
            in lines[0]
        )
        assert "first: feature 2" in lines[0]
        assert "projected" not in out and "make_valid" not in out


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_as_layer_is_not_a_regular_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(FAST + "layers: {ports: /dev/zero}\n", encoding="utf-8")
    for args in (["layers", "check", "/dev/zero"], ["scenario", "check", "s.yaml"]):
        rc, text = invoke(args)
        assert rc == 1, text
        lines = [ln for ln in text.splitlines() if ln.strip()]
        assert len(lines) == 1 and "/dev/zero: is not a regular file" in lines[0], text


def test_unreadable_file_gives_no_gdal_driver_advice(tmp_path, monkeypatch):
    """GDAL's "'' not recognized ...; prefix the file path with '<DRIVER>:', e.g. 'CSV:path'"
    (the path cut out of its quotes) became "not a file format GDAL can open"."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.gpkg").write_bytes(b"garbage, not SQLite")
    rc, text = invoke(["layers", "check", "g.gpkg"])
    assert rc == 1, text
    assert text.strip() == (
        "error: g.gpkg: cannot read: not a file format GDAL can open "
        "(truncated, corrupt or not a GIS file?)"
    )


def test_osm_extract_as_a_layer_points_to_osm_import(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_xml(tmp_path / "x.osm", 3)
    (tmp_path / "s.yaml").write_text(FAST + "layers: {roads: x.osm}\n", encoding="utf-8")
    rc, text = invoke(["scenario", "check", "s.yaml"])
    assert rc == 1, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: layers.roads: "), text
    assert "unknown format '.osm'" in lines[0] and "`geoplan osm import`" in lines[0]
