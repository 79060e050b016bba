"""QGIS styles (QML) embedded in the GeoPackage's ``layer_styles`` table.

QGIS reads ``layer_styles`` (its own convention, also used for PostGIS) and
opens a layer with the row marked ``useAsDefault``. Zones are drawn with a
graduated renderer on ``score`` (the map's colour ramp); the other layers get
single symbols in the map's colours.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd

__all__ = ["STYLED_LAYERS", "layer_styles_table", "qml"]

_RAMP = ["#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"]

#: layer name -> (geometry kind, fill colour, outline colour, size or width)
STYLED_LAYERS: dict[str, tuple[str, str, str, float]] = {
    "sites": ("point", "#41ab5d", "#00441b", 3.0),
    "belts": ("polygon", "#3182bd", "#3182bd", 0.3),
    "exclusions": ("polygon", "#555555", "#555555", 0.2),
    "ports": ("point", "#2171b5", "#08306b", 3.0),
    "railways": ("line", "#4a1486", "#4a1486", 0.6),
    "roads": ("line", "#a63603", "#a63603", 0.6),
    "power_plants": ("point", "#fd8d3c", "#7f2704", 2.6),
    "border_crossings": ("point", "#ffffff", "#000000", 2.6),
    "cities": ("point", "#333333", "#ffffff", 1.6),
    "boundaries": ("polygon", "#fbf6e3", "#666666", 0.3),
}


def _rgba(hex_color: str, alpha: int = 255) -> str:
    h = hex_color.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _symbol(kind: str, fill: str, outline: str, size: float, name: str, alpha: int) -> str:
    if kind == "point":
        layer = (
            '<layer class="SimpleMarker" enabled="1" locked="0" pass="0">'
            f'<Option type="Map"><Option name="color" type="QString" value="{_rgba(fill, alpha)}"/>'
            f'<Option name="outline_color" type="QString" value="{_rgba(outline)}"/>'
            '<Option name="name" type="QString" value="circle"/>'
            f'<Option name="size" type="QString" value="{size}"/></Option></layer>'
        )
        return f'<symbol type="marker" name="{name}" alpha="1" clip_to_extent="1">{layer}</symbol>'
    if kind == "line":
        layer = (
            '<layer class="SimpleLine" enabled="1" locked="0" pass="0">'
            f'<Option type="Map"><Option name="line_color" type="QString" value="{_rgba(fill)}"/>'
            f'<Option name="line_width" type="QString" value="{size}"/></Option></layer>'
        )
        return f'<symbol type="line" name="{name}" alpha="1" clip_to_extent="1">{layer}</symbol>'
    layer = (
        '<layer class="SimpleFill" enabled="1" locked="0" pass="0">'
        f'<Option type="Map"><Option name="color" type="QString" value="{_rgba(fill, alpha)}"/>'
        f'<Option name="outline_color" type="QString" value="{_rgba(outline)}"/>'
        f'<Option name="outline_width" type="QString" value="{size}"/></Option></layer>'
    )
    return f'<symbol type="fill" name="{name}" alpha="1" clip_to_extent="1">{layer}</symbol>'


def qml(layer: str) -> str:
    """The QML style document of a layer (graduated by score for ``zones``)."""
    head = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis version=\"3.28\">"
    if layer == "zones":
        ranges, symbols = [], []
        for i, color in enumerate(_RAMP):
            lo, hi = i / len(_RAMP), (i + 1) / len(_RAMP)
            ranges.append(
                f'<range lower="{lo:.2f}" upper="{hi:.2f}" symbol="{i}" '
                f'label="{lo:.2f} - {hi:.2f}" render="true"/>'
            )
            symbols.append(_symbol("polygon", color, "#222222", 0.6, str(i), 200))
        body = (
            '<renderer-v2 type="graduatedSymbol" attr="score" graduatedMethod="GraduatedColor" '
            f'symbollevels="0" enableorderby="0"><ranges>{"".join(ranges)}</ranges>'
            f"<symbols>{''.join(symbols)}</symbols></renderer-v2>"
            '<labeling type="simple"><settings><text-style fieldName="name" fontSize="8"/>'
            "</settings></labeling>"
        )
    else:
        kind, fill, outline, size = STYLED_LAYERS[layer]
        alpha = 90 if layer in ("belts", "exclusions") else 255
        body = (
            '<renderer-v2 type="singleSymbol" symbollevels="0" enableorderby="0"><symbols>'
            f"{_symbol(kind, fill, outline, size, '0', alpha)}</symbols></renderer-v2>"
        )
    return f"{head}{body}</qgis>"


def layer_styles_table(
    layers: Mapping[str, str], *, scenario: str, update_time: str
) -> pd.DataFrame:
    """Rows of QGIS's ``layer_styles`` table for the given layer -> geometry column map."""
    rows = []
    for name, geom_col in layers.items():
        if name != "zones" and name not in STYLED_LAYERS:
            continue
        rows.append(
            {
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": name,
                "f_geometry_column": geom_col,
                "styleName": f"geoplan {name}",
                "styleQML": qml(name),
                "styleSLD": "",
                "useAsDefault": 1,
                "description": html.escape(f"geoplan style for {name}, scenario {scenario}"),
                "owner": "",
                "ui": "",
                "update_time": update_time,
            }
        )
    return pd.DataFrame(rows)
