"""The interactive HTML map: one self-contained file that renders with no internet.

Built on folium. Every CDN link folium would add is removed and Leaflet's
JS/CSS (from the ``xstatic-leaflet`` package) plus geoplan's own controls
(fullscreen, search, minimap, measure; ``templates/``) are inlined. Every
string that comes from a data file is HTML-escaped in Python before it is put
into a popup, tooltip, legend or title; search results are inserted as text.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import branca
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.utilities import JsCode

from geoplan import settings
from geoplan._errors import ExportError
from geoplan._io import write_text_atomic
from geoplan._offline import asset_text, external_urls, inline_css, inline_js, leaflet_css

__all__ = ["SCORE_COLORS", "make_map", "render", "score_color", "write_map"]

#: Colour ramp for suitability scores 0..1 (ColorBrewer RdYlGn, 5 classes).
SCORE_COLORS = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"]
_PHASE_DASH = {1: None, 2: "8 5", 3: "2 5"}
_PHASE_LABEL = {1: "phase 1 (foundation)", 2: "phase 2 (expansion)", 3: "phase 3 (bases)"}

_STYLE: dict[str, dict[str, Any]] = {
    "ports": {"color": "#08306b", "fillColor": "#2171b5", "label": "Port (size = capacity)"},
    "railways": {"color": "#4a1486", "weight": 2.5, "dashArray": "6 3", "label": "Railway"},
    "roads": {"color": "#a63603", "weight": 2.5, "label": "Road / motorway"},
    "power_plants": {"color": "#7f2704", "fillColor": "#fd8d3c", "label": "Power plant"},
    "border_crossings": {"color": "#000", "fillColor": "#fff", "label": "Border crossing"},
    "economic_zones": {"color": "#00441b", "fillColor": "#41ab5d", "label": "Existing zone"},
}
_BELT_COLORS = {"west_coast": "#3182bd", "east_coast": "#31a354", "border": "#de2d26"}


def score_color(score: float) -> str:
    """Return the ramp colour of a 0..1 score (grey for NaN)."""
    if score is None or not math.isfinite(score):
        return "#999999"
    cmap = branca.colormap.LinearColormap(SCORE_COLORS, vmin=0.0, vmax=1.0)
    return cmap(min(max(float(score), 0.0), 1.0))


def _esc(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA:
        return ""
    if isinstance(value, float):
        return html.escape(f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}")
    return html.escape(str(value))


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _bars(contrib: Mapping[str, float]) -> str:
    """A small inline-SVG bar chart of criterion contributions (labels escaped)."""
    items = [(k, float(v)) for k, v in contrib.items() if v is not None and math.isfinite(v)]
    if not items:
        return ""
    top = max((v for _, v in items), default=0.0) or 1.0
    h = 14
    parts = []
    for i, (k, v) in enumerate(items):
        w = max(0.0, v) / top * 120
        y = i * h
        parts.append(
            f'<text x="0" y="{y + 10}" font-size="10">{html.escape(k)}</text>'
            f'<rect x="110" y="{y + 2}" width="{w:.1f}" height="{h - 4}" fill="#3182bd"/>'
            f'<text x="{114 + w:.1f}" y="{y + 10}" font-size="10">{v:.3f}</text>'
        )
    return (
        f'<svg class="geoplan-bars" width="290" height="{h * len(items)}" '
        f'role="img" aria-label="criterion contributions">{"".join(parts)}</svg>'
    )


def _popup(title: Any, rows: Sequence[tuple[str, Any]], contrib: Mapping[str, float] | None) -> str:
    chart = ""
    if contrib:
        chart = "<h4 style='margin:6px 0 2px'>Contribution by criterion</h4>" + _bars(contrib)
    return f"<div class='geoplan-popup'><h3>{_esc(title)}</h3>{_table(rows)}{chart}</div>"


def _to_wgs84(
    gdf: gpd.GeoDataFrame, simplify_m: float = 0.0, precision: int = 5
) -> gpd.GeoDataFrame:
    """Simplify in the metric CRS, reproject to WGS84 and round coordinates for display."""
    out = gdf
    if simplify_m > 0 and out.crs is not None and not out.crs.is_geographic:
        out = out.copy()
        out[out.geometry.name] = out.geometry.simplify(simplify_m, preserve_topology=True)
    out = out.to_crs(settings.map_crs)
    out[out.geometry.name] = shapely.set_precision(out.geometry.to_numpy(), 10**-precision)
    return out


def _features(gdf: gpd.GeoDataFrame, props: list[dict[str, Any]]) -> dict[str, Any]:
    feats = []
    for geom, p in zip(gdf.geometry, props, strict=True):
        if geom is None or geom.is_empty:
            continue
        feats.append({"type": "Feature", "properties": p, "geometry": geom.__geo_interface__})
    return {"type": "FeatureCollection", "features": feats}


_BIND = JsCode(
    """function(feature, layer) {
    var p = feature.properties;
    if (p._popup) { layer.bindPopup(p._popup, {maxWidth: 340}); }
    if (p._tooltip) { layer.bindTooltip(p._tooltip, {sticky: true}); }
    if (p._label) { layer.bindTooltip(p._label, {permanent: true, direction: 'right',
        className: 'geoplan-city-label', offset: [4, 0]}); }
    if (p._search && window.geoplan) { window.geoplan.register(p._search, layer); }
}"""
)


def _geojson(
    data: dict[str, Any],
    *,
    name: str,
    style: dict[str, Any] | None = None,
    point_radius: float | None = None,
    show: bool = True,
    class_name: str | None = None,
) -> folium.GeoJson:
    style = dict(style or {})
    style.pop("label", None)
    if class_name:
        style["className"] = class_name

    def style_fn(feature: dict[str, Any]) -> dict[str, Any]:
        s = dict(style)
        s.update(feature["properties"].get("_style", {}))
        return s

    kwargs: dict[str, Any] = {}
    if point_radius is not None:
        kwargs["marker"] = folium.CircleMarker(radius=point_radius, fill=True, fill_opacity=0.9)
    return folium.GeoJson(
        data,
        name=name,
        style_function=style_fn,
        on_each_feature=_BIND,
        show=show,
        **kwargs,
    )


def _point_layer(
    gdf: gpd.GeoDataFrame, key: str, title_col: str, fields: Sequence[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    g = _to_wgs84(gdf)
    props = []
    for _, row in g.iterrows():
        rows = [(f, row.get(f)) for f in fields if f in g.columns]
        p: dict[str, Any] = {
            "_popup": _popup(row.get(title_col), rows, None),
            "_tooltip": _esc(row.get(title_col)),
        }
        if key == "ports":
            cap = row.get("capacity_mt_per_year")
            cap = float(cap) if cap is not None and pd.notna(cap) else 0.0
            p["_style"] = {"radius": 4 + 3.0 * math.log10(1.0 + max(cap, 0.0))}
        props.append(p)
    return _features(g, props), _STYLE[key]


def _scored_layer(gdf: gpd.GeoDataFrame, *, kind: str) -> list[tuple[int, dict[str, Any]]]:
    """Zones or sites as GeoJSON per phase, with popups, tooltips and contribution bars."""
    g = _to_wgs84(gdf, simplify_m=25.0)
    contrib_cols = [c for c in g.columns if c.startswith("contrib_")]
    by_phase: dict[int, list[int]] = {}
    props = []
    for i, (_, row) in enumerate(g.iterrows()):
        score = float(row.get("score", float("nan")))
        phase = int(row["phase"]) if "phase" in g.columns and pd.notna(row.get("phase")) else 0
        name = row.get("name", row.get("zone_id"))
        rows = [
            ("ID", row.get("zone_id")),
            ("Belt", row.get("belt")),
            ("Profile", row.get("profile")),
            ("Score", f"{score:.3f}" if math.isfinite(score) else "n/a"),
            ("Rank in belt", row.get("rank_in_belt")),
            ("Rank overall", row.get("rank_overall")),
            ("Phase", phase or None),
            ("Phase reason", row.get("phase_reason")),
            ("Area (km²)", row.get("area_km2")),
        ]
        contrib = {c.removeprefix("contrib_"): row[c] for c in contrib_cols}
        props.append(
            {
                "_popup": _popup(name, [r for r in rows if r[1] is not None], contrib),
                "_tooltip": f"{_esc(name)} &mdash; score {score:.3f}",
                "_search": str(name),
                "_style": {
                    "fillColor": score_color(score),
                    "color": "#222",
                    "weight": 2.5 if kind == "zone" else 1.5,
                    "dashArray": _PHASE_DASH.get(phase),
                    "fillOpacity": 0.75,
                    "radius": 7,
                },
            }
        )
        by_phase.setdefault(phase, []).append(i)
    out = []
    for phase in sorted(by_phase):
        idx = by_phase[phase]
        out.append((phase, _features(g.iloc[idx], [props[i] for i in idx])))
    return out


def _legend(has_scores: bool, belts_present: Sequence[str]) -> str:
    ramp = ", ".join(SCORE_COLORS)
    parts = ["<div class='geoplan-box geoplan-legend'><h2>Legend</h2>"]
    if has_scores:
        parts.append(
            "<div>Suitability score</div>"
            f"<div class='geoplan-ramp' style='background:linear-gradient(to right,{ramp})'></div>"
            "<div style='display:flex;justify-content:space-between;width:160px'>"
            "<span>0</span><span>0.5</span><span>1</span></div>"
        )
        for phase, dash in _PHASE_DASH.items():
            style = f"stroke-dasharray:{dash}" if dash else ""
            parts.append(
                "<div><svg width='30' height='10'><line x1='0' y1='5' x2='30' y2='5' "
                f"stroke='#222' stroke-width='2.5' style='{style}'/></svg> "
                f"zone outline: {html.escape(_PHASE_LABEL[phase])}</div>"
            )
    for b in belts_present:
        parts.append(
            f"<div><span class='geoplan-sym' style='background:{_BELT_COLORS.get(b, '#888')};"
            f"opacity:.35'></span>{html.escape(b.replace('_', ' '))} belt</div>"
        )
    parts.append(
        "<div><span class='geoplan-sym' style='background:repeating-linear-gradient(45deg,"
        "#555,#555 2px,transparent 2px,transparent 5px)'></span>exclusion (DMZ)</div>"
    )
    for key in ("ports", "power_plants", "border_crossings", "economic_zones"):
        st = _STYLE[key]
        parts.append(
            f"<div><svg width='14' height='12'><circle cx='7' cy='6' r='5' fill='{st['fillColor']}'"
            f" stroke='{st['color']}'/></svg> {html.escape(st['label'])}</div>"
        )
    for key in ("railways", "roads"):
        st = _STYLE[key]
        dash = st.get("dashArray") or ""
        parts.append(
            "<div><svg width='30' height='10'><line x1='0' y1='5' x2='30' y2='5' "
            f"stroke='{st['color']}' stroke-width='2.5' stroke-dasharray='{dash}'/></svg> "
            f"{html.escape(st['label'])} (schematic)</div>"
        )
    parts.append(
        "<div><svg width='30' height='10'><line x1='0' y1='5' x2='30' y2='5' stroke='#b30000' "
        "stroke-width='2' stroke-dasharray='6 3'/></svg> Military Demarcation Line</div></div>"
    )
    return "".join(parts)


def _box_control(html_text: str, position: str, var: str) -> str:
    return (
        f"var {var} = L.control({{position: {json.dumps(position)}}});"
        f"{var}.onAdd = function() {{ var d = L.DomUtil.create('div');"
        f" d.innerHTML = {json.dumps(html_text)}; L.DomEvent.disableClickPropagation(d);"
        f" return d; }};"
    )


def make_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    belts: gpd.GeoDataFrame | None = None,
    exclusions: gpd.GeoDataFrame | None = None,
    zones: gpd.GeoDataFrame | None = None,
    sites: gpd.GeoDataFrame | None = None,
    surfaces: Mapping[str, tuple[np.ndarray, Any, Any]] | None = None,
    title: str = "geoplan",
    meta: Mapping[str, Any] | None = None,
    online: bool = False,
) -> folium.Map:
    """Build the folium map of layers, belts, exclusions, zones, sites and surfaces.

    Parameters
    ----------
    layers : mapping of str to GeoDataFrame
        Loaded layers (working CRS). Known names are drawn with their styles.
    belts, exclusions : GeoDataFrame, optional
        From :mod:`geoplan.regions`.
    zones, sites : GeoDataFrame, optional
        Scored, ranked zones and listed sites (``score``, ``phase``,
        ``contrib_*`` columns …).
    surfaces : mapping, optional
        Profile name to ``(array, transform, crs)`` suitability surfaces, drawn
        as image overlays (off by default).
    title : str
        Scenario name shown in the title box.
    meta : mapping, optional
        Extra lines for the title box (``date``, ``version`` …).
    online : bool
        Use CDNs and show an online tile basemap (otherwise fully offline).

    Returns
    -------
    folium.Map
    """
    from geoplan import __version__

    boundaries = layers["boundaries"]
    x0, y0, x1, y1 = boundaries.to_crs(settings.map_crs).total_bounds
    m = folium.Map(
        location=[(y0 + y1) / 2, (x0 + x1) / 2],
        zoom_start=7,
        tiles=None,
        control_scale=True,
        max_bounds=False,
    )
    m.fit_bounds([[y0, x0], [y1, x1]])
    if not online:
        m.default_js = []
        m.default_css = []

    # Base layers: an empty offline one (the vector basemap below is always there),
    # and online tiles that request nothing unless a user with internet picks them.
    folium.TileLayer(
        tiles="",
        attr="geoplan offline vector basemap (Natural Earth, GeoNames)",
        name="Offline basemap (no tiles)",
        overlay=False,
        show=not online,
    ).add_to(m)
    import xyzservices.providers as xyz

    for prov, label in (
        (xyz.OpenStreetMap.Mapnik, "OpenStreetMap (online)"),
        (xyz.Esri.WorldImagery, "Esri World Imagery (online)"),
    ):
        folium.TileLayer(
            tiles=prov.build_url(),
            attr=prov.html_attribution,
            name=label,
            overlay=False,
            show=online and prov is xyz.OpenStreetMap.Mapnik,
            max_zoom=18,
        ).add_to(m)

    base = folium.FeatureGroup(name="Basemap: land, coasts, MDL, cities", show=True)
    if "basemap_land" in layers:
        g = _to_wgs84(layers["basemap_land"], precision=3)
        _geojson(
            _features(g, [{"_tooltip": _esc(n)} for n in g["name"]]),
            name="neighbours",
            style={"color": "#bbb", "weight": 0.5, "fillColor": "#ece9e2", "fillOpacity": 1},
        ).add_to(base)
    gb = _to_wgs84(boundaries, simplify_m=150.0, precision=4)
    fills = {"PRK": "#fbf6e3", "KOR": "#e9e9e9"}
    _geojson(
        _features(
            gb,
            [
                {"_tooltip": _esc(n), "_style": {"fillColor": fills.get(iso, "#eee")}}
                for n, iso in zip(gb["name"], gb["iso_a3"], strict=True)
            ],
        ),
        name="countries",
        style={"color": "#666", "weight": 1, "fillOpacity": 1},
    ).add_to(base)
    if "coastline" in layers:
        gc = _to_wgs84(layers["coastline"], simplify_m=150.0, precision=4)
        props = [
            {"_tooltip": _esc(f"{iso} coast ({part})")}
            for iso, part in zip(gc["iso_a3"], gc["part"], strict=True)
        ]
        _geojson(
            _features(gc, props), name="coast", style={"color": "#4a7fb0", "weight": 1.2}
        ).add_to(base)
    if "mdl" in layers:
        gm = _to_wgs84(layers["mdl"], precision=4)
        _geojson(
            _features(gm, [{"_tooltip": _esc(n)} for n in gm["name"]]),
            name="mdl",
            style={"color": "#b30000", "weight": 2, "dashArray": "6 3"},
        ).add_to(base)
    if "cities" in layers:
        cities = layers["cities"]
        pop = cities["population"].fillna(0)
        big = cities[((cities["iso_a3"] == "PRK") & (pop >= 250_000)) | (pop >= 2_000_000)]
        gcity = _to_wgs84(big)
        props = [
            {
                "_label": _esc(r["name"]),
                "_popup": _popup(
                    r["name"],
                    [
                        ("Population", r.get("population")),
                        ("Population source", r.get("population_source")),
                        ("Country", r.get("iso_a3")),
                    ],
                    None,
                ),
                "_style": {"radius": 3 + math.log10(max(float(r["population"]), 10)) - 5},
            }
            for _, r in gcity.iterrows()
        ]
        _geojson(
            _features(gcity, props),
            name="cities",
            style={"color": "#333", "fillColor": "#333", "weight": 1},
            point_radius=3,
        ).add_to(base)
    base.add_to(m)

    if belts is not None:
        for _, row in belts.iterrows():
            g = _to_wgs84(belts.loc[[_]], simplify_m=100.0)
            name = row["belt"]
            tip = (
                f"{_esc(name.replace('_', ' '))} belt: {row['width_km']:g} km, "
                f"{row['area_km2']:,.0f} km² ({row['net_area_km2']:,.0f} km² net of exclusions)"
            )
            fg = folium.FeatureGroup(name=f"Belt: {name.replace('_', ' ')}", show=zones is None)
            _geojson(
                _features(g, [{"_tooltip": tip}]),
                name=name,
                style={
                    "color": _BELT_COLORS.get(name, "#888"),
                    "weight": 1,
                    "fillColor": _BELT_COLORS.get(name, "#888"),
                    "fillOpacity": 0.25,
                },
                class_name="geoplan-belt",
            ).add_to(fg)
            fg.add_to(m)
    if exclusions is not None:
        dmz = exclusions[exclusions["kind"] == "dmz"]
        if len(dmz):
            g = _to_wgs84(dmz, simplify_m=50.0)
            fg = folium.FeatureGroup(name="Exclusion: DMZ", show=True)
            _geojson(
                _features(g, [{"_tooltip": _esc(d)} for d in g["description"]]),
                name="dmz",
                style={"color": "#555", "weight": 0.5, "fillColor": "#555", "fillOpacity": 0.45},
            ).add_to(fg)
            fg.add_to(m)

    if surfaces:
        from geoplan.outputs.files import surface_overlay

        for profile, (arr, transform, crs) in surfaces.items():
            png, bounds = surface_overlay(arr, transform, crs, SCORE_COLORS)
            folium.raster_layers.ImageOverlay(
                image=png,
                bounds=bounds,
                name=f"Suitability surface: {profile}",
                opacity=0.7,
                show=False,
                interactive=False,
            ).add_to(m)

    for key, title_col, fields in (
        ("railways", "name", ["stops", "length_km", "schematic", "confidence", "source"]),
        ("roads", "name", ["stops", "length_km", "opened", "schematic", "confidence", "source"]),
        ("ports", "name", ["country", "coast", "capacity_mt_per_year", "notes", "confidence"]),
        ("power_plants", "name", ["kind", "fuel", "capacity_mw", "notes", "confidence"]),
        ("border_crossings", "name", ["type", "mode", "nk_side", "other_side", "notes"]),
        ("economic_zones", "name", ["kind", "designated", "area_km2", "focus", "confidence"]),
    ):
        if key not in layers:
            continue
        gdf = layers[key]
        show = key != "economic_zones" or sites is None
        fg = folium.FeatureGroup(name=_STYLE[key]["label"].split(" (")[0] + "s", show=show)
        if key in ("railways", "roads"):
            g = _to_wgs84(gdf)
            props = []
            for _, row in g.iterrows():
                rows = [(f, row.get(f)) for f in fields if f in g.columns]
                props.append(
                    {
                        "_popup": _popup(row.get(title_col), rows, None),
                        "_tooltip": _esc(row.get(title_col)),
                    }
                )
            _geojson(_features(g, props), name=key, style=_STYLE[key]).add_to(fg)
        else:
            data, style = _point_layer(gdf, key, title_col, fields)
            _geojson(
                data,
                name=key,
                style={**style, "weight": 1.5, "fillOpacity": 0.9},
                point_radius=5,
            ).add_to(fg)
        fg.add_to(m)

    if sites is not None and len(sites):
        for phase, data in _scored_layer(sites, kind="site"):
            label = f"Listed sites: {_PHASE_LABEL.get(phase, 'no phase')}"
            fg = folium.FeatureGroup(name=label, show=True)
            _geojson(data, name="sites", point_radius=7, class_name="geoplan-site").add_to(fg)
            fg.add_to(m)
    if zones is not None and len(zones):
        # zones of a few km² are specks at national scale: a marker at each
        # zone's centre keeps them findable (popup and tooltip, not in search)
        centres = zones.copy()
        centres[centres.geometry.name] = zones.geometry.representative_point()
        fg = folium.FeatureGroup(name="Zone markers (national view)", show=True)
        for _, data in _scored_layer(centres, kind="zone"):
            for f in data["features"]:
                f["properties"].pop("_search", None)
            _geojson(data, name="zone markers", point_radius=5,
                     class_name="geoplan-zone-marker").add_to(fg)  # fmt: skip
        fg.add_to(m)
        for phase, data in _scored_layer(zones, kind="zone"):
            label = f"Zones: {_PHASE_LABEL.get(phase, 'no phase')}"
            fg = folium.FeatureGroup(name=label, show=True)
            _geojson(data, name="zones", class_name="geoplan-zone").add_to(fg)
            fg.add_to(m)

    folium.LayerControl(collapsed=True).add_to(m)

    meta = dict(meta or {})
    meta.setdefault("date", _dt.date.today().isoformat())
    meta.setdefault("geoplan", __version__)
    title_html = (
        f"<div class='geoplan-box geoplan-title'><h1>{_esc(title)}</h1>"
        + "".join(f"<div>{_esc(k)}: {_esc(v)}</div>" for k, v in meta.items())
        + "</div>"
    )
    outline = _to_wgs84(boundaries, simplify_m=2000.0, precision=3)
    outline_json = json.dumps(outline[["geometry"]].__geo_interface__).replace("</", "<\\/")
    belts_present = list(belts["belt"]) if belts is not None else []
    has_scores = (zones is not None and len(zones) > 0) or (sites is not None and len(sites) > 0)
    mapvar = m.get_name()
    script = (
        "document.addEventListener('DOMContentLoaded', function() {"
        f"var map = {mapvar};"
        + _box_control(title_html, "topright", "gpTitle")
        + "gpTitle.addTo(map);"
        + _box_control(_legend(has_scores, belts_present), "bottomleft", "gpLegend")
        + "gpLegend.addTo(map);"
        "new geoplan.Fullscreen().addTo(map);"
        "new geoplan.Search().addTo(map);"
        "new geoplan.Measure().addTo(map);"
        f"new geoplan.MiniMap({{outline: {outline_json}}}).addTo(map);"
        "});"
    )
    m.get_root().html.add_child(branca.element.Element(inline_js(script)))
    m.get_root().header.add_child(
        branca.element.Element(inline_css(_asset("controls.css"))), name="geoplan_css"
    )
    if not online:
        m.get_root().header.add_child(
            branca.element.Element(inline_css(leaflet_css())), name="leaflet_css_inline"
        )
        m.get_root().header.add_child(
            branca.element.Element(inline_js(asset_text("xstatic.pkg.leaflet", "leaflet.js"))),
            name="leaflet_js_inline",
        )
    m.get_root().header.add_child(
        branca.element.Element(inline_js(_asset("controls.js"))), name="geoplan_js"
    )
    return m


def _asset(name: str) -> str:
    return resources.files("geoplan").joinpath("templates", name).read_text(encoding="utf-8")


def write_map(m: folium.Map, path: str | Path, *, online: bool = False) -> Path:
    """Render ``m`` to one HTML file, atomically.

    Offline maps are checked: if any script, stylesheet or image would be
    fetched from the network, nothing is written and :class:`ExportError`
    names the URLs.
    """
    html_text = m.get_root().render()
    if not online:
        urls = external_urls(html_text)
        if urls:
            raise ExportError(
                f"{path}: offline map would fetch {len(urls)} URLs ({', '.join(urls[:3])}); "
                "not written"
            )
    return write_text_atomic(path, html_text)


def render(res: Any, *, lang: str = "en", online: bool = False) -> str:
    """The map of a run as one HTML page (offline unless ``online``)."""
    m = make_map(
        res.layers,
        belts=res.belts,
        exclusions=res.exclusions,
        zones=res.zones,
        sites=res.sites[res.sites["rank_in_belt"].fillna(99) <= 5],
        surfaces={p: (s, res.grid.transform, res.grid.crs) for p, s in res.surfaces.items()},
        title=f"geoplan: {res.scenario.name}",
        meta={"scenario": res.scenario.name},
        online=online,
    )
    html_text = m.get_root().render()
    if not online:
        urls = external_urls(html_text)
        if urls:
            raise ExportError(
                f"offline map would fetch {len(urls)} URLs ({', '.join(urls[:3])}); not written"
            )
    return html_text
