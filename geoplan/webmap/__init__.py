"""The interactive HTML map of a run, and the side-by-side map of two runs: offline and escaped.

Owns the map page. folium builds the skeleton (the ``L.map`` and its page);
every piece of data (layers, zones, sites, surfaces, profiles, the page's
words from the message catalogue ``map.*``) goes into ONE JSON block
(``<script type="application/json">`` with ``<``, ``>`` and ``&`` escaped) that
the page's own scripts (``static/*.js``, inlined at write time with Leaflet
from ``xstatic-leaflet``) read with ``JSON.parse`` and draw, putting every
string into the page as text. Geometries travel packed (:func:`pack_geometry`:
integer deltas, the basemap's in Web Mercator units) and are read back in the page.
The what-if panel re-scores in the browser
with ``static/whatif.js``, a line-for-line mirror of :func:`geoplan.score.aggregate`.
The page draws in two steps: before its load event the basemap (land, rivers and
lakes, province lines, coast: one canvas from Web Mercator typed arrays), the first
profile's zones, the sites and the controls; one frame later the context overlays
(cities, belts, DMZ, MDL, infrastructure, scenario layers); ``geoplan.ready`` is set
when both are done. Other profiles' zone layers are built when first shown.

Must not: compute scores or ranks of its own (it shows the run's), fetch
anything from the network unless ``online``, or put a data string into HTML
or JavaScript source.
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from typing import Any

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan import settings
from geoplan._errors import ExportError
from geoplan._offline import asset_text, external_urls, inline_css, inline_js, leaflet_css
from geoplan.i18n import belt_label, catalogue, criterion_label, place_label, profile_label, t

__all__ = [
    "MERC_BITS",
    "SCORE_COLORS",
    "pack_geometry",
    "page_json",
    "render",
    "render_diff",
    "score_color",
]

#: Colour-blind-safe sequential ramp for scores 0..1 (viridis, 9 stops).
SCORE_COLORS = [
    "#440154",
    "#472d7b",
    "#3b528b",
    "#2c728e",
    "#21918c",
    "#28ae80",
    "#5ec962",
    "#addc30",
    "#fde725",
]


def score_color(score: float) -> str:
    """The viridis colour of a 0..1 score (grey for NaN), as the page draws it.

    Examples
    --------
    >>> score_color(0.0), score_color(1.0), score_color(float("nan"))
    ('#440154', '#fde725', '#999999')
    """
    if score is None or not math.isfinite(score):
        return "#999999"
    x = min(max(float(score), 0.0), 1.0) * (len(SCORE_COLORS) - 1)
    i = min(int(x), len(SCORE_COLORS) - 2)
    f = x - i
    a, b = SCORE_COLORS[i], SCORE_COLORS[i + 1]
    rgb = [round(int(a[k : k + 2], 16) * (1 - f) + int(b[k : k + 2], 16) * f) for k in (1, 3, 5)]
    return "#" + "".join(f"{v:02x}" for v in rgb)


def _num(v: Any, nd: int = 6) -> float | None:
    """A JSON-safe float (None for NaN/None/NA)."""
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, nd) if math.isfinite(f) else None


def _str(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return ""
    return str(v)


def _wgs84(gdf: gpd.GeoDataFrame, simplify_m: float = 0.0, precision: int = 5) -> gpd.GeoDataFrame:
    out = gdf
    if simplify_m > 0 and out.crs is not None and not out.crs.is_geographic:
        out = out.copy()
        out[out.geometry.name] = out.geometry.simplify(simplify_m, preserve_topology=True)
    out = out.to_crs(settings.map_crs)
    out[out.geometry.name] = shapely.set_precision(out.geometry.to_numpy(), 10**-precision)
    return out


#: Nesting depth of a geometry type's coordinates (0: one point).
_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "Polygon": 2, "MultiLineString": 2,
          "MultiPolygon": 3}  # fmt: skip

#: Web Mercator quantum of the basemap's 1e-4 degree layers (country borders, coast): the
#: world is 2**MERC_BITS units wide (~7 m at 40 N); its 1e-3 degree layers (land, rivers,
#: lakes, provinces) use 2 bits fewer (~29 m).
MERC_BITS = 22
_MERC_LAT = 85.0511287798


def _merc(lon: float, lat: float, scale: float) -> tuple[int, int]:
    """Web Mercator (the world as 0..1 from the west and the north) in ``scale`` units."""
    lat = min(max(lat, -_MERC_LAT), _MERC_LAT)
    sn = math.sin(math.radians(lat))
    y = 0.5 - math.log((1 + sn) / (1 - sn)) / (4 * math.pi)
    return round((lon / 360.0 + 0.5) * scale), round(y * scale)


def pack_geometry(geom: Any, *, digits: int = 5, merc_bits: int | None = None) -> dict[str, Any]:
    """A shapely geometry as the page's compact form: one flat list of integer deltas.

    Coordinates become integers: degrees times ``10**digits`` (lossless for coordinates
    already on that grid), or with ``merc_bits`` Web Mercator with the world
    ``2**merc_bits`` units wide (0 at 180 W and at the north edge). The list holds,
    depth first, each sequence's length and each point as its x and y minus the previous
    point's (the first from 0, 0): short integers that ``JSON.parse`` reads natively
    (a fraction of the text of degrees, and no per-character decoding in the page).
    Geometry collections are kept as GeoJSON.

    Parameters
    ----------
    geom : shapely geometry
        In EPSG:4326 (longitude, latitude).
    digits : int
        Decimal digits kept of degrees (``k`` in the result).
    merc_bits : int, optional
        Write Web Mercator units instead (``m`` in the result).

    Returns
    -------
    dict
        ``{"type", "k" or "m", "p"}``; the page's ``geoplan.unpack`` reads it back.

    Examples
    --------
    >>> import shapely
    >>> pack_geometry(shapely.LineString([(1.5, -2.0), (1.7, -2.0)]), digits=1)
    {'type': 'LineString', 'k': 1, 'p': [2, 15, -20, 2, 0]}
    """
    kind = geom.geom_type
    if kind not in _DEPTH:
        return geom.__geo_interface__
    # every point at once: integers, then each minus the one before (the first from 0, 0)
    xy = shapely.get_coordinates(geom)
    if merc_bits is not None:
        scale = float(2**merc_bits)
        lat = np.clip(xy[:, 1], -_MERC_LAT, _MERC_LAT)
        sn = np.sin(np.radians(lat))
        y = 0.5 - np.log((1 + sn) / (1 - sn)) / (4 * math.pi)
        q = np.column_stack([np.rint((xy[:, 0] / 360.0 + 0.5) * scale), np.rint(y * scale)])
    else:
        q = np.rint(xy * float(10**digits))
    q = q.astype(np.int64)
    d = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64)).ravel().tolist()
    out: list[int] = []
    pos = 0  # points written so far

    def seq(n: int) -> None:  # a sequence of n points: its length, then its deltas
        nonlocal pos
        out.append(n)
        out.extend(d[2 * pos : 2 * (pos + n)])
        pos += n

    def rings(poly: Any) -> None:
        inner = list(poly.interiors)
        out.append(1 + len(inner))
        for ring in (poly.exterior, *inner):
            seq(len(ring.coords))

    if kind == "Point":
        out.extend(d[:2])
    elif kind in ("MultiPoint", "LineString"):
        seq(len(xy))
    elif kind == "Polygon":
        rings(geom)
    elif kind == "MultiLineString":
        out.append(len(geom.geoms))
        for part in geom.geoms:
            seq(len(part.coords))
    else:  # MultiPolygon
        out.append(len(geom.geoms))
        for part in geom.geoms:
            rings(part)
    res: dict[str, Any] = {"type": kind}
    if merc_bits is not None:
        res["m"] = int(merc_bits)
    else:
        res["k"] = int(digits)
    res["p"] = out
    return res


def _fc(
    gdf: gpd.GeoDataFrame,
    props: list[dict[str, Any]],
    *,
    digits: int | None = 5,
    merc: int | None = None,
) -> dict[str, Any]:
    """A FeatureCollection; geometries packed (:func:`pack_geometry`: Web Mercator with
    ``merc`` bits, else degrees to ``digits``), or GeoJSON if ``digits`` is None."""
    feats = []
    for geom, p in zip(gdf.geometry, props, strict=True):
        if geom is None or geom.is_empty:
            continue
        if merc is not None:
            g = pack_geometry(geom, merc_bits=merc)
        elif digits is not None:
            g = pack_geometry(geom, digits=digits)
        else:
            g = geom.__geo_interface__
        feats.append({"type": "Feature", "properties": p, "geometry": g})
    return {"type": "FeatureCollection", "features": feats}


def _words(lang: str) -> dict[str, str]:
    """Every ``map.*`` message (and the shared labels the page needs) in ``lang``."""
    out = {}
    for key in catalogue():
        if key.startswith(("map.", "phase.name.", "kind.", "size.", "unit.")):
            out[key] = t(key, lang)
    return out


_UNIT_WORDS = {"m": "unit.km", "people": "unit.people", "Mt/yr": "unit.mt_per_year",
               "min": "unit.minutes", "deg": "unit.degrees", "°": "unit.degrees"}  # fmt: skip


def _unit(unit: str, lang: str) -> str:
    """A short unit for ``lang`` from a scenario's unit text (metres are shown in km)."""
    head = unit.split(" ", 1)[0] if unit else ""
    if head in _UNIT_WORDS:
        return t(_UNIT_WORDS[head], lang)
    key = f"unit.{unit}"
    return t(key, lang) if key in catalogue() else unit


_INFRA_FIELDS = {
    "ports": ["country", "coast", "capacity_mt_per_year", "max_berth_depth_m", "notes"],
    "railways": ["stops", "length_km", "schematic", "confidence"],
    "roads": ["stops", "length_km", "opened", "schematic", "confidence"],
    "power_plants": ["kind", "fuel", "capacity_mw", "notes", "confidence"],
    "border_crossings": ["type", "mode", "nk_side", "other_side", "notes"],
    "economic_zones": ["kind", "designated", "area_km2", "focus", "confidence"],
}


def _infra(layers: dict[str, gpd.GeoDataFrame], lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, fields in _INFRA_FIELDS.items():
        if key not in layers:
            continue
        g = _wgs84(layers[key], simplify_m=100.0 if key in ("railways", "roads") else 0.0)
        props = []
        for _, row in g.iterrows():
            name = _str(row.get("name"))
            ko = _str(row.get("name_ko")) if "name_ko" in g.columns else ""
            p: dict[str, Any] = {
                "name": name,
                "ko": ko,
                "label": place_label(name, ko or None, lang),
                "fields": [
                    [f, _str(row.get(f))] for f in fields if f in g.columns and _str(row.get(f))
                ],
            }
            if key == "ports":
                p["cap"] = _num(row.get("capacity_mt_per_year")) or 0.0
            props.append(p)
        out[key] = _fc(g, props)
    return out


def _merged(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drawing-only lines or polygons as ONE multi-part feature (the page draws them as one
    path anyway; one feature carries its coordinates without a feature's overhead each)."""
    parts = shapely.get_parts(g.geometry.to_numpy())
    parts = parts[~shapely.is_empty(parts)]
    kinds = set(shapely.get_type_id(parts).tolist())
    if not len(parts) or not (kinds <= {1, 2} or kinds == {3}):
        return g
    one = shapely.multipolygons(parts) if kinds == {3} else shapely.multilinestrings(parts)
    return gpd.GeoDataFrame(geometry=[one], crs=g.crs)


def _basemap(res: Any, lang: str) -> dict[str, Any]:
    layers = res.layers
    out: dict[str, Any] = {}
    if "basemap_land" in layers:
        g = _wgs84(layers["basemap_land"], simplify_m=1500.0, precision=3)
        out["land"] = _fc(g, [{"name": _str(n)} for n in g["name"]], merc=MERC_BITS - 2)
        x0, y0, x1, y1 = g.total_bounds
        out["land_bounds"] = [[float(y0), float(x0)], [float(y1), float(x1)]]
    gb = _wgs84(layers["boundaries"], simplify_m=400.0, precision=4)
    out["countries"] = _fc(
        gb,
        [{"name": _str(n), "iso": _str(i)} for n, i in zip(gb["name"], gb["iso_a3"], strict=True)],
        merc=MERC_BITS,
    )
    # rivers and lakes (GSHHG/WDBII, NE 10 m) and province lines (NE 10 m admin-1)
    # (drawing only: no properties; ~100 m coordinates, like the neighbouring land)
    for key, name, simplify_m in (
        ("lakes", "basemap_lakes", 300.0),
        ("rivers", "basemap_rivers", 300.0),
        ("provinces", "basemap_provinces", 600.0),
    ):
        if name in layers and len(layers[name]):
            lay = layers[name]
            if key == "provinces" and "iso_a3" in layers["boundaries"].columns:
                # the peninsula's provinces only: neighbours' are context the page need not carry
                b = layers["boundaries"]
                korea = b[b["iso_a3"].isin(["PRK", "KOR"])].to_crs(lay.crs)
                if len(korea):
                    lay = lay.clip(korea.union_all().simplify(500.0).buffer(2_000.0, quad_segs=2))
                    lay = lay[~lay.geometry.is_empty]
            g = _merged(_wgs84(lay, simplify_m=simplify_m, precision=3))
            out[key] = _fc(g, [{} for _ in range(len(g))], merc=MERC_BITS - 2)
    if "coastline" in layers:
        gc = _merged(_wgs84(layers["coastline"], simplify_m=400.0, precision=4))
        out["coast"] = _fc(gc, [{} for _ in range(len(gc))], merc=MERC_BITS)
    if "mdl" in layers:
        gm = _wgs84(layers["mdl"], precision=4)
        out["mdl"] = _fc(gm, [{"name": _str(n)} for n in gm["name"]], digits=4)
    if "cities" in layers:
        c = layers["cities"]
        pop = pd.to_numeric(c["population"], errors="coerce").fillna(0)
        keep = c[(c["iso_a3"] == "PRK") | (pop >= 1_000_000)]
        g = _wgs84(keep, precision=4)
        cities = []
        for _, r in g.iterrows():
            ko = _str(r.get("name_ko"))
            cities.append(
                {
                    "name": _str(r["name"]),
                    "ko": ko,
                    "label": place_label(_str(r["name"]), ko or None, lang),
                    "pop": _num(r.get("population"), 0) or 0,
                    "iso": _str(r.get("iso_a3")),
                    "lat": r.geometry.y,
                    "lon": r.geometry.x,
                }
            )
        cities.sort(key=lambda d: -d["pop"])
        out["cities"] = cities
    return out


def _planning(res: Any, lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    belts = res.belts
    if belts is not None and len(belts):
        g = _wgs84(belts, simplify_m=600.0, precision=4)
        out["belts"] = _fc(
            g,
            [
                {"belt": _str(r["belt"]), "label": belt_label(_str(r["belt"]), lang),
                 "area": _num(r.get("area_km2"), 0), "net": _num(r.get("net_area_km2"), 0)}
                for _, r in g.iterrows()
            ],
            digits=4,
        )  # fmt: skip
    ex = res.exclusions
    if ex is not None and len(ex) and "kind" in ex.columns:
        dmz = ex[ex["kind"] == "dmz"]
        if len(dmz):
            g = _wgs84(dmz, simplify_m=300.0, precision=4)
            out["dmz"] = _fc(
                g, [{"name": _str(d)} for d in g.get("description", g["kind"])], digits=4
            )
    return out


def _surfaces(res: Any) -> dict[str, Any]:
    from geoplan.outputs.files import surface_overlays

    # one warp for the grid, applied to every profile's surface, one surface at a time
    surfaces = res.surfaces
    transform = res.grid.transform
    mask = getattr(getattr(res, "prepared", None), "candidate_mask", None)
    if mask is not None and mask.shape != (res.grid.height, res.grid.width):
        mask = None
    if not hasattr(surfaces, "cell_values") and any(
        hasattr(a, "overview") for a in surfaces.values()
    ):
        # on-disk surfaces (engines/dask.py): block means read window by window
        means = {}
        for p, arr in surfaces.items():
            means[p], f = arr.overview(2400)
        transform = transform * transform.scale(f, f)
        surfaces, mask = means, None
    over = surface_overlays(surfaces, transform, res.grid.crs, SCORE_COLORS, mask=mask)
    return {str(p): {"png": png, "bounds": bounds} for p, (png, bounds) in over.items()}


def _reasons(res: Any, gdf: gpd.GeoDataFrame | None, lang: str) -> list[str] | None:
    """Each row's ``phase_reason`` in ``lang`` (the run writes them in English), or None
    to keep the run's (English, or nothing to say)."""
    if lang == "en" or gdf is None or not len(gdf) or "phase_rule" not in gdf.columns:
        return None
    from geoplan import explain

    sc = res.scenario
    return explain.reasons(
        pd.DataFrame(gdf.drop(columns=gdf.geometry.name)),
        sc.prioritisation.phase_rules,
        sc.profiles,
        lang,
        draws=int((getattr(res, "robustness", None) or {}).get("draws", 0) or 0),
        top_k=sc.prioritisation.top_k,
    )


def _pct(v: Any) -> str | None:
    """A share 0..1 as the whole percent the reason sentences and the report write."""
    f = _num(v, 17)
    return None if f is None else f"{100 * f:.0f}"


def _result_row(row: pd.Series, crits: list[str]) -> dict[str, Any]:
    """The numbers of one zone or site row the page needs for popups, ranking and what-if."""
    score = _num(row.get("score"), 9)
    return {
        "id": _str(row.get("zone_id")),
        "profile": _str(row.get("profile")),
        "belt": _str(row.get("belt")),
        "score": score,
        "ok": score is not None,
        "rank": _num(row.get("rank_in_belt"), 0),
        "rank_all": _num(row.get("rank_overall"), 0),
        "phase": _num(row.get("phase"), 0),
        "priority": _num(row.get("priority"), 0),
        "reason": _str(row.get("phase_reason")),
        "p_top_k": _num(row.get("p_top_k"), 4),
        "pct": _pct(row.get("p_top_k")),
        "size": _str(row.get("size_class")),
        "area": _num(row.get("area_km2"), 2),
        # full precision: the what-if panel re-scores from these
        "S": [_num(row.get(f"score_{c}"), 17) or 0.0 for c in crits],
        "raw": [_num(row.get(f"raw_{c}"), 4) for c in crits],
    }


def _profiles(res: Any, lang: str) -> list[dict[str, Any]]:
    sc = res.scenario
    out = []
    for name, p in sc.profiles.items():
        crits = []
        for pc, w in zip(p.criteria, p.weights, strict=True):
            spec = sc.criteria.get(pc.criterion)
            unit = _str(getattr(spec, "unit", ""))
            metres = unit == "m" or unit.startswith("m ")
            crits.append(
                {
                    "id": pc.criterion,
                    "label": criterion_label(pc.criterion, lang, getattr(spec, "label", None)),
                    "unit": _unit(unit, lang),
                    "scale": 0.001 if metres else 1.0,
                    "weight": float(w),
                }
            )
        out.append(
            {
                "id": str(name),
                "label": profile_label(str(name), lang, p.label),
                "ahp": p.ahp is not None,
                "criteria": crits,
            }
        )
    return out


_BELTS = ("west_coast", "east_coast", "border", "inland")


_BASE_LAYERS = {"boundaries", "basemap_land", "basemap_rivers", "basemap_lakes",
                "basemap_provinces", "coastline", "mdl", "cities", "railway_stations"}  # fmt: skip


def _user_layers(res: Any) -> list[dict[str, Any]]:
    """Layers the scenario names that the map has no style for (masks, OSM imports ...)."""
    out = []
    named = list(getattr(res.scenario, "layers", {}) or {})
    named += [m for m in res.scenario.constraints.mask_layers if m not in named]
    for key in named:
        if key in _INFRA_FIELDS or key in _BASE_LAYERS or key not in res.layers:
            continue
        gdf = res.layers[key]
        g = _wgs84(gdf, simplify_m=50.0)
        fields = [c for c in g.columns if c != g.geometry.name][:6]
        props = []
        for _, row in g.iterrows():
            props.append(
                {
                    "label": _str(row.get("name")) or key,
                    "fields": [[f, _str(row.get(f))] for f in fields if _str(row.get(f))],
                }
            )
        out.append({"id": key, "mask": key in res.scenario.constraints.mask_layers,
                    "data": _fc(g, props)})  # fmt: skip
    return out


def page_json(res: Any, *, lang: str = "en") -> dict[str, Any]:
    """Everything the map page draws, as one JSON-ready dict (strings still raw).

    Examples
    --------
    >>> # d = page_json(res); d["zones"][0]["results"][0]["score"]
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        # the surface pictures (numpy and zlib, mostly outside the GIL) on the second core
        # while this thread builds the rest of the page's data
        pictures = pool.submit(_surfaces, res) if getattr(res, "surfaces", None) else None
        data = _page_data(res, lang)
        data["surfaces"] = pictures.result() if pictures is not None else {}
    return data


def _page_data(res: Any, lang: str) -> dict[str, Any]:
    sc = res.scenario
    profiles = _profiles(res, lang)
    crit_of = {p["id"]: [c["id"] for c in p["criteria"]] for p in profiles}

    zones = []
    if res.zones is not None and len(res.zones):
        g = _wgs84(res.zones, simplify_m=25.0)
        pts = res.zones.geometry.representative_point().to_crs(settings.map_crs)
        why = _reasons(res, res.zones, lang)
        for i, ((_, row), pt, geom) in enumerate(zip(g.iterrows(), pts, g.geometry, strict=True)):
            name = _str(row.get("name"))
            ko = _str(row.get("name_ko"))
            d = _result_row(row, crit_of.get(_str(row.get("profile")), []))
            if why is not None:
                d["reason"] = why[i]
            d.update(
                {
                    "kind": "zone",
                    "name": name,
                    "ko": ko,
                    # a zone's Korean name is a whole phrase (place, bearing, profile)
                    "label": (ko or name) if lang == "ko" else name,
                    "place": place_label(_str(row.get("place")), _str(row.get("place_ko")) or None,
                                         lang),
                    "place_plain": _str(row.get("place")),
                    "place_ko": _str(row.get("place_ko")),
                    "lat": round(pt.y, 5),
                    "lon": round(pt.x, 5),
                    "geom": pack_geometry(geom) if geom is not None else None,
                }
            )  # fmt: skip
            zones.append(d)

    sites: dict[tuple[str, float, float], dict[str, Any]] = {}
    if res.sites is not None and len(res.sites):
        g = _wgs84(res.sites, precision=5)
        why = _reasons(res, res.sites, lang)
        for i, (_, row) in enumerate(g.iterrows()):
            name = _str(row.get("name"))
            ko = _str(row.get("name_ko"))
            geom = row.geometry
            pt = geom if geom.geom_type == "Point" else geom.representative_point()
            key = (name, round(pt.x, 4), round(pt.y, 4))
            if key not in sites:
                sites[key] = {
                    "kind": "site",
                    "name": name,
                    "ko": ko,
                    "label": place_label(name, ko or None, lang),
                    "lat": round(pt.y, 5),
                    "lon": round(pt.x, 5),
                    "results": [],
                }
            d = _result_row(row, crit_of.get(_str(row.get("profile")), []))
            if why is not None:
                d["reason"] = why[i]
            sites[key]["results"].append(d)

    agg = sc.aggregation
    robust = getattr(res, "robustness", None) or {}
    draws = robust.get("draws") if isinstance(robust, dict) else None
    return {
        "lang": lang,
        "title": _str(sc.name),
        "description": _str(getattr(sc, "description", "")),
        "method": agg.method,
        "order_weights": [float(v) for v in (agg.order_weights or [])],
        "top_k": int(getattr(sc.prioritisation, "top_k", 3) or 3),
        "draws": int(draws or sc.sensitivity.draws or 0),
        "profiles": profiles,
        "belts": [{"id": b, "label": belt_label(b, lang)} for b in _BELTS],
        "colors": SCORE_COLORS,
        "zones": zones,
        "sites": list(sites.values()),
        "basemap": _basemap(res, lang),
        "infra": _infra(res.layers, lang),
        "user_layers": _user_layers(res),
        "planning": _planning(res, lang),
        "surfaces": {},  # page_json adds the pictures
        "t": _words(lang),
    }


def _json_block(data: Any, element_id: str) -> str:
    """One ``application/json`` script element; ``<``, ``>`` and ``&`` escaped inside."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _static(name: str) -> str:
    return resources.files("geoplan.webmap").joinpath("static", name).read_text(encoding="utf-8")


class _Raw(branca.element.Element):
    """Markup put in the page as it is, never compiled as a Jinja template.

    ``branca.element.Element(text)`` compiles ``text`` as a template: a
    ``{{ ... }}`` in a scenario's description, a profile's or a place's name
    would run as Python while the page is rendered (and an unbalanced ``{%``
    would fail the run), and lexing the page's data and scripts (0.7 MB) cost
    0.14 s. The data block and scripts are already escaped for their context.
    """

    def __init__(self, html: str) -> None:
        super().__init__()
        self._html = html

    def render(self, **kwargs: Any) -> str:
        return self._html


def _page(m: folium.Map, data: dict[str, Any], scripts: list[str], online: bool) -> str:
    root = m.get_root()
    data = {**data, "map": m.get_name()}
    if not online:
        m.default_js = []
        m.default_css = []
        root.header.add_child(_Raw(inline_css(leaflet_css())), name="lf_css")
        root.header.add_child(
            _Raw(inline_js(asset_text("xstatic.pkg.leaflet", "leaflet.js"))),
            name="lf_js",
        )
    root.header.add_child(_Raw(inline_css(_static("map.css"))), name="gp_css")
    root.header.add_child(
        _Raw('<meta name="viewport" content="width=device-width, '
                               'initial-scale=1">'), name="gp_vp")  # fmt: skip
    # surface pictures outside the JSON: the page parses them only when one is shown
    pictures = []
    if isinstance(data.get("surfaces"), dict):
        surfaces = {}
        for i, (pid, s) in enumerate(data["surfaces"].items()):
            png = str(s.get("png", ""))
            if not re.fullmatch(r"data:image/png;base64,[A-Za-z0-9+/=]*", png):
                surfaces[pid] = s
                continue
            surfaces[pid] = {**{k: v for k, v in s.items() if k != "png"}, "ref": f"gp-surf-{i}"}
            pictures.append(f'<script type="text/plain" id="gp-surf-{i}">{png}</script>')
        data = {**data, "surfaces": surfaces}
    root.html.add_child(_Raw(_json_block(data, "geoplan-data")))
    for k, pic in enumerate(pictures):
        root.html.add_child(_Raw(pic), name=f"gp_surf_{k}")
    for s in scripts:
        root.html.add_child(_Raw(inline_js(_static(s))))
    text = root.render()
    title = f"<title>geoplan: {_html_escape(data.get('title', ''))}</title>"
    text = text.replace("<head>", "<head>\n" + title, 1)
    if not online:
        urls = external_urls(text)
        if urls:
            raise ExportError(
                f"offline map would fetch {len(urls)} URLs ({', '.join(urls[:3])}); not written"
            )
    return text


def _html_escape(s: str) -> str:
    import html

    return html.escape(s, quote=True)


def _skeleton(bounds: list[list[float]], online: bool, fit: bool = True) -> folium.Map:
    """folium's map; ``fit=False`` leaves fitting the bounds to the page (without the
    animated pan folium's ``fitBounds`` starts, which redraws every layer when it ends)."""
    (y0, x0), (y1, x1) = bounds
    m = folium.Map(
        location=[(y0 + y1) / 2, (x0 + x1) / 2],
        zoom_start=7,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
    )
    # folium names the map from 16 random bytes; a fixed name keeps a page's bytes the same
    # from run to run for the same inputs (one map per page)
    m._id = "geoplan"
    if fit:
        m.fit_bounds(bounds)
    if online:
        import xyzservices.providers as xyz

        prov = xyz.OpenStreetMap.Mapnik
        folium.TileLayer(
            tiles=prov.build_url(), attr=prov.html_attribution, name="OpenStreetMap", max_zoom=18
        ).add_to(m)
    return m


def render(res: Any, *, lang: str = "en", online: bool = False) -> str:
    """The map of a run as one self-contained HTML page (offline unless ``online``).

    Parameters
    ----------
    res : RunResult
        A finished run (zones, sites, surfaces, layers, scenario).
    lang : {"en", "ko"}
        Language of every word on the page (from the message catalogue).
    online : bool
        Add an OpenStreetMap tile basemap and allow CDN links; offline by default.

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> # html = render(geoplan.run(...), lang="ko"); Path("map.html").write_text(html)
    """
    data = page_json(res, lang=lang)
    b = res.layers["boundaries"]
    prk = b[b["iso_a3"] == "PRK"] if "iso_a3" in b.columns else b
    x0, y0, x1, y1 = (prk if len(prk) else b).to_crs(settings.map_crs).total_bounds
    fit = [[float(y0), float(x0)], [float(y1), float(x1)]]
    m = _skeleton(fit, online, fit=False)
    data["online"] = bool(online)
    data["fit"] = fit
    return _page(m, data, ["whatif.js", "map.js"], online)


def _diff_side(gdf: gpd.GeoDataFrame | None, lang: str) -> list[dict[str, Any]]:
    if gdf is None or not len(gdf):
        return []
    g = _wgs84(gdf, simplify_m=25.0)
    pts = gdf.geometry.representative_point().to_crs(settings.map_crs)
    out = []
    for (_, row), pt, geom in zip(g.iterrows(), pts, g.geometry, strict=True):
        out.append(
            {
                "id": _str(row.get("zone_id")),
                "name": place_label(_str(row.get("name")), _str(row.get("name_ko")) or None, lang),
                "profile": _str(row.get("profile")),
                "profile_label": profile_label(_str(row.get("profile")), lang),
                "belt": belt_label(_str(row.get("belt")), lang),
                "kind": _str(row.get("kind")),
                "score": _num(row.get("score"), 4),
                "rank": _num(row.get("rank_in_belt"), 0),
                "lat": round(pt.y, 5),
                "lon": round(pt.x, 5),
                "geom": geom.__geo_interface__ if geom is not None and not geom.is_empty else None,
            }
        )
    return out


def _outline() -> dict[str, Any] | None:
    """Country outlines of the default layers, as a backdrop of the diff maps."""
    try:
        from geoplan import layers

        b = layers.load("boundaries")
    except Exception:  # the backdrop is optional: a diff map without it still reads
        return None
    g = _wgs84(b, simplify_m=300.0, precision=3)
    return _fc(g, [{"iso": _str(i)} for i in g.get("iso_a3", [""] * len(g))], digits=None)


def render_diff(
    diff: Any,
    a: gpd.GeoDataFrame,
    b: gpd.GeoDataFrame,
    *,
    names: tuple[str, str] | list[str] | None = None,
    lang: str = "en",
) -> str:
    """Two runs' zones side by side on two synced offline maps, changes highlighted.

    Parameters
    ----------
    diff : geoplan.compare.Diff
        Its ``table`` (status same|moved|new|dropped, top_k entered|left, ranks, ids).
    a, b : GeoDataFrame
        Zones and sites of run A and run B (EPSG:5179).
    names : pair of str, optional
        Names of the two runs shown over each map.
    lang : {"en", "ko"}

    Returns
    -------
    str
        The HTML page.

    Examples
    --------
    >>> # html = render_diff(compare.diff(a, b), a, b, names=("base", "what-if"))
    """
    names = list(names or ("A", "B"))
    table = diff.table
    rows = []
    for _, r in table.iterrows():
        rows.append(
            {
                "status": _str(r.get("status")),
                "top_k": _str(r.get("top_k")),
                "a": _str(r.get("zone_id_a")),
                "b": _str(r.get("zone_id_b")),
                "name": _str(r.get("name_b")) or _str(r.get("name_a")),
                "profile": profile_label(_str(r.get("profile")), lang),
                "belt": belt_label(_str(r.get("belt")), lang),
                "rank_a": _num(r.get("rank_a"), 0),
                "rank_b": _num(r.get("rank_b"), 0),
                "change": _num(r.get("rank_change"), 0),
                "shift": _num(r.get("centroid_shift_km"), 1),
            }
        )
    frames = [x for x in (a, b) if x is not None and len(x)]
    allg = pd.concat([f.to_crs(settings.map_crs) for f in frames]) if frames else None
    if allg is not None and len(allg):
        x0, y0, x1, y1 = allg.total_bounds
        bounds = [[float(y0), float(x0)], [float(y1), float(x1)]]
    else:
        bounds = [[37.5, 124.0], [43.0, 131.0]]
    data = {
        "lang": lang,
        "title": " / ".join(str(n) for n in names[:2]),
        "names": [str(n) for n in names[:2]],
        "a": _diff_side(a, lang),
        "b": _diff_side(b, lang),
        "rows": rows,
        "top_k": int(getattr(diff, "top_k", 3) or 3),
        "bounds": bounds,
        "outline": _outline(),
        "colors": SCORE_COLORS,
        "t": _words(lang),
    }
    # the page fits both maps itself, without animation (folium's animated fit would end
    # after the page's and undo it)
    m = _skeleton(bounds, online=False, fit=False)
    return _page(m, data, ["diff.js"], online=False)
