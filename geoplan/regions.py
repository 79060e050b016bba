"""The three planning belts and the exclusion layer, from real geometry.

- west-coast belt: DPRK land within ``west_coast`` metres of the Yellow Sea coast;
- east-coast belt: DPRK land within ``east_coast`` metres of the East Sea coast;
- border belt: DPRK land within ``border`` metres of the Military Demarcation Line.

Exclusions: the DMZ (``dmz_half_width`` either side of the MDL) and all land
outside the DPRK (the ROK, China, Russia) within the study extent. Sea is
outside every belt by construction (belts are DPRK land). All geometry is in
the working CRS; areas are reported in km².

Why the default widths (see ``docs/regions.md``): 40 km on the west coast takes
in the whole Pyongyang-Nampo corridor the study puts first (Pyongyang is 36 km
from the coast, Pyongsong 38 km) and the Yellow Sea plain; 25 km on the east
coast covers the narrow plain between the sea and the Hamgyong/Taebaek ranges
where Hamhung (12 km), Wonsan and Chongjin lie; 20 km along the MDL is the
depth of the Kaesong corridor (Kaesong city is 10.5 km from the line) and the
Goseong/Kumgang crossing area.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import geopandas as gpd
import shapely

from geoplan import settings
from geoplan._errors import LayerError

__all__ = ["BELTS", "BeltWidths", "belts", "dprk_polygon", "exclusions", "study_extent"]

#: Belt names in a fixed order.
BELTS: tuple[str, ...] = ("west_coast", "east_coast", "border")


@dataclasses.dataclass(frozen=True)
class BeltWidths:
    """Belt widths and the DMZ half width, in metres."""

    west_coast: float = 40_000.0
    east_coast: float = 25_000.0
    border: float = 20_000.0
    dmz_half_width: float = 2_000.0


def dprk_polygon(boundaries: gpd.GeoDataFrame) -> shapely.Geometry:
    """Return the DPRK (multi)polygon from a boundaries layer (``iso_a3 == "PRK"``)."""
    sel = boundaries[boundaries["iso_a3"] == "PRK"]
    if sel.empty:
        raise LayerError(
            f"{boundaries.attrs.get('geoplan_source', 'boundaries')}: field 'iso_a3': "
            "no feature with value 'PRK'; expected the DPRK polygon"
        )
    return shapely.union_all(sel.geometry.to_numpy())


def _coast_part(coastline: gpd.GeoDataFrame, part: str) -> shapely.Geometry:
    sel = coastline[(coastline["iso_a3"] == "PRK") & (coastline["part"] == part)]
    if sel.empty:
        raise LayerError(
            f"{coastline.attrs.get('geoplan_source', 'coastline')}: field 'part': "
            f"no DPRK feature with value '{part}'; expected 'west' and 'east'"
        )
    return shapely.union_all(sel.geometry.to_numpy())


def study_extent(boundaries: gpd.GeoDataFrame, margin: float = 50_000.0) -> shapely.Geometry:
    """The DPRK's bounding box grown by ``margin`` metres: the area maps and grids cover."""
    x0, y0, x1, y1 = dprk_polygon(boundaries).bounds
    return shapely.box(x0 - margin, y0 - margin, x1 + margin, y1 + margin)


def belts(
    layers: Mapping[str, gpd.GeoDataFrame],
    widths: BeltWidths | None = None,
) -> gpd.GeoDataFrame:
    """Compute the three planning belts.

    Parameters
    ----------
    layers : mapping
        Needs ``boundaries``, ``coastline`` and ``mdl``, in the working CRS.
    widths : BeltWidths, optional
        Belt widths in metres (defaults: 40 / 25 / 20 km).

    Returns
    -------
    GeoDataFrame
        One row per belt: ``belt``, ``width_km``, ``area_km2`` (all DPRK land
        in the belt), ``net_area_km2`` (less the exclusions), geometry.
    """
    w = widths or BeltWidths()
    prk = dprk_polygon(layers["boundaries"])
    mdl = shapely.union_all(layers["mdl"].geometry.to_numpy())
    sources = {
        "west_coast": (_coast_part(layers["coastline"], "west"), w.west_coast),
        "east_coast": (_coast_part(layers["coastline"], "east"), w.east_coast),
        "border": (mdl, w.border),
    }
    excl = shapely.union_all(exclusions(layers, widths=w).geometry.to_numpy())
    rows = []
    for name in BELTS:
        line, width = sources[name]
        if width <= 0:
            raise LayerError(f"belts.{name}.width_km: must be > 0, got {width / 1000:g}")
        poly = shapely.intersection(prk, shapely.buffer(line, width, quad_segs=8))
        rows.append(
            {
                "belt": name,
                "width_km": width / 1000.0,
                "area_km2": poly.area / 1e6,
                "net_area_km2": shapely.difference(poly, excl).area / 1e6,
                "geometry": poly,
            }
        )
    crs = layers["boundaries"].crs
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=crs)


def exclusions(
    layers: Mapping[str, gpd.GeoDataFrame], widths: BeltWidths | None = None
) -> gpd.GeoDataFrame:
    """Hard exclusions: the DMZ and land outside the DPRK (within the study extent).

    Returns
    -------
    GeoDataFrame
        Rows ``kind`` = ``dmz`` and ``outside_dprk`` with ``area_km2``.
    """
    w = widths or BeltWidths()
    boundaries = layers["boundaries"]
    prk = dprk_polygon(boundaries)
    mdl = shapely.union_all(layers["mdl"].geometry.to_numpy())
    dmz = shapely.buffer(mdl, w.dmz_half_width, quad_segs=8, cap_style="flat")
    extent = study_extent(boundaries)
    outside = shapely.difference(extent, prk)
    land = shapely.union_all(boundaries.geometry.to_numpy())
    rows = [
        {
            "kind": "dmz",
            "description": f"Demilitarized Zone: {w.dmz_half_width / 1000:g} km either side of "
            "the MDL",
            "geometry": dmz,
        },
        {
            "kind": "outside_dprk",
            "description": "ROK, China, Russia and the sea: not DPRK territory",
            "geometry": outside,
        },
    ]
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs=boundaries.crs or settings.work_crs)
    out["area_km2"] = out.area / 1e6
    out["land_area_km2"] = [shapely.intersection(g, land).area / 1e6 for g in out.geometry]
    return out
