"""Real third-party files users hand geoplan (from ../shared/realdata; never copied here)."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geoplan import layers, regions


@pytest.fixture(scope="module")
def realdata(shared):
    return shared / "realdata"


def test_gadm_provinces_load_and_cover_the_dprk(realdata, default_layers):
    prov = layers.load(realdata / "gadm" / "north_korea_province.geojson")
    assert prov.crs.to_epsg() == 5179
    assert len(prov) == 14
    prk = regions.dprk_polygon(default_layers["boundaries"])
    union = shapely.union_all(prov.geometry.to_numpy())
    # two independent national outlines agree to a few percent in area
    assert union.area / prk.area == pytest.approx(1.0, abs=0.05)
    assert union.intersection(prk).area / prk.area > 0.95


def test_gadm_counties_load(realdata):
    muni = layers.load(realdata / "gadm" / "north_korea_municipality.geojson")
    assert len(muni) == 186
    assert muni.is_valid.all()


def test_ngii_dmz_line_agrees_with_natural_earth_mdl(realdata, default_layers):
    dmz = layers.load(realdata / "ngii" / "demilitarized_zone_english.shp")
    assert dmz.crs.to_epsg() == 5179
    ngii = shapely.union_all(dmz.geometry.to_numpy())
    mdl = shapely.union_all(default_layers["mdl"].geometry.to_numpy())
    pts = shapely.line_interpolate_point(mdl, np.linspace(0, mdl.length, 200))
    d = shapely.distance(pts, ngii)
    # README of realdata: ~1.2 km mean, up to ~3.7 km: generalisation of both sources
    assert d.mean() < 2_000
    assert d.max() < 5_000


def test_ngii_place_names_fall_inside_the_study_region(realdata):
    places = layers.load(realdata / "ngii" / "place_names_english.shp")
    assert len(places) == 1352
    problems = layers.check([realdata / "ngii" / "place_names_english.shp"])
    assert [p for p in problems if p.severity == "error"] == []
