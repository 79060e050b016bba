"""Typed, documented defaults. An argument left as ``None`` falls back to these.

Attributes
----------
work_crs : str
    The metric CRS every geometry is computed in (Korea 2000 Unified CS).
map_crs : str
    The CRS maps are drawn in (WGS84 longitude/latitude).
region_bounds_wgs84 : tuple of float
    ``(min_lon, min_lat, max_lon, max_lat)`` of the region geoplan expects
    data in: the Korean peninsula with a generous margin (Yellow Sea, East
    Sea, the Chinese and Russian border country). A feature outside it is
    reported as out of region (often a sign of swapped lon/lat or a missing
    CRS).
"""

from __future__ import annotations

__all__ = ["map_crs", "region_bounds_wgs84", "work_crs"]

work_crs: str = "EPSG:5179"
map_crs: str = "EPSG:4326"
region_bounds_wgs84: tuple[float, float, float, float] = (119.0, 31.0, 136.0, 45.5)
