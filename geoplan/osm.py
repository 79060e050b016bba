"""Offline OpenStreetMap import: .osm / .osm.bz2 through osmnx, .osm.pbf through pyosmium.

Nothing is ever fetched: osmnx reads local XML only (``graph_from_xml``,
``features_from_xml``). A PBF extract is first streamed through pyosmium,
keeping only ways and nodes with the tags geoplan uses (plus the nodes those
ways reference, via ``osmium.BackReferenceWriter``), into a small OSM XML
file; so memory follows what is kept, not the size of the extract.

Layers written (one GeoPackage, ``osm.gpkg``): ``roads`` (highway class,
speed, travel time), ``railways``, ``ports``, ``power_plants``,
``substations``, ``power_lines``, ``industrial``, plus the routable road
graph as ``roads.graphml``. Every feature carries ``source`` and
``confidence`` so planners see where it came from.
"""

from __future__ import annotations

import bz2
import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan import settings
from geoplan._errors import LayerError, LayerReadError

__all__ = ["HIGHWAY_SPEEDS_KPH", "KEEP_TAGS", "filter_pbf", "import_extract"]

log = logging.getLogger(__name__)

#: Keys whose ways/nodes are kept from an extract.
KEEP_TAGS = ("highway", "railway", "power", "harbour", "landuse", "industrial", "port")

#: Speeds by OSM highway class (km/h), for DPRK road conditions (assumed; see docs).
HIGHWAY_SPEEDS_KPH = {
    "motorway": 70,
    "trunk": 60,
    "primary": 50,
    "secondary": 40,
    "tertiary": 30,
    "unclassified": 25,
    "residential": 20,
    "service": 15,
    "track": 15,
}

_ROAD_CLASSES = "|".join(
    [*HIGHWAY_SPEEDS_KPH, *(f"{k}_link" for k in ("motorway", "trunk", "primary", "secondary"))]
)


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".osm.pbf") or name.endswith(".pbf"):
        return "pbf"
    if name.endswith(".osm.bz2"):
        return "bz2"
    if name.endswith(".osm") or name.endswith(".xml"):
        return "xml"
    raise LayerReadError(f"{path}: unknown extract format; expected .osm, .osm.bz2 or .osm.pbf")


def filter_pbf(
    src: str | Path, dst: str | Path, keys: tuple[str, ...] = KEEP_TAGS, *, ways_only: bool = False
) -> dict[str, int]:
    """Stream an extract (PBF, XML or bz2) into an OSM XML file holding only ``keys``.

    Objects are filtered by tag key as they stream past; the nodes the kept
    ways reference are added in a second pass (``osmium.BackReferenceWriter``),
    so memory follows what is kept. Returns counts of the kept nodes and ways
    (before back-references).
    """
    import osmium

    src, dst = Path(src), Path(dst)
    counts = {"nodes": 0, "ways": 0}
    what = osmium.osm.WAY if ways_only else osmium.osm.NODE | osmium.osm.WAY
    try:
        with osmium.BackReferenceWriter(str(dst), ref_src=str(src), overwrite=True) as writer:
            fp = osmium.FileProcessor(str(src), what)
            for obj in fp.with_filter(osmium.filter.KeyFilter(*keys)):
                writer.add(obj)
                counts["ways" if obj.is_way() else "nodes"] += 1
    except RuntimeError as exc:
        msg = str(exc).splitlines()[0]
        kind = "PBF" if _kind(src) == "pbf" else "OSM XML"
        raise LayerReadError(
            f"{src}: cannot read {kind} ({msg}); truncated or not an OSM extract?"
        ) from exc
    return counts


def _check_xml(path: Path) -> None:
    opener = bz2.open if path.suffix == ".bz2" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(2048)
    except (OSError, EOFError) as exc:  # bz2: EOFError when the stream is cut short
        raise LayerReadError(
            f"{path}: cannot read ({exc}); truncated or not an OSM extract?"
        ) from exc
    if b"<osm" not in head:
        raise LayerReadError(f"{path}: not OSM XML (no <osm> element at the start)")


def _clip_area(clip: str | Path | None) -> shapely.Geometry | None:
    if clip is None:
        return None
    from geoplan import layers as L
    from geoplan import regions

    if str(clip).lower() == "dprk":
        return regions.dprk_polygon(L.load("boundaries", crs=settings.map_crs))
    # features without geometry are dropped by load() with one warning; a layer with
    # none left, or without any area, is refused naming the file
    path_text, _, sub = str(clip).partition("::")
    area = L.load(path_text, layer=sub or None, crs=settings.map_crs)
    polygons = area.geometry[area.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygons.empty:
        kinds = ", ".join(sorted(set(area.geometry.geom_type)))
        raise LayerError(f"{clip}: --clip needs polygons; the layer holds {kinds}")
    return shapely.union_all(polygons.to_numpy())


def _features(
    xml: Path, tags: dict[str, Any], polygon: shapely.Geometry | None
) -> gpd.GeoDataFrame:
    import osmnx as ox

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gdf = ox.features_from_xml(xml, tags=tags, polygon=polygon)
    except Exception as exc:  # osmnx raises InsufficientResponseError when nothing matches
        if "InsufficientResponse" in type(exc).__name__ or "No matching features" in str(exc):
            return gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
        raise LayerReadError(f"{xml}: cannot read features ({exc})") from exc
    return gdf.reset_index()


def _tidy(gdf: gpd.GeoDataFrame, keep: list[str], confidence: str = "osm") -> gpd.GeoDataFrame:
    cols = [c for c in keep if c in gdf.columns]
    out = gdf[[*cols, gdf.geometry.name]].copy()
    for c in cols:
        # simplified edges carry lists (e.g. two highway classes): OSM's ";" convention
        vals = [";".join(map(str, v)) if isinstance(v, list) else v for v in out[c]]
        out[c] = pd.Series(vals, index=out.index, dtype="object")
        out[c] = out[c].astype("str").where(out[c].notna(), None)
    out["source"] = "OpenStreetMap contributors (ODbL)"
    out["confidence"] = confidence
    return out.to_crs(settings.work_crs)


def _as_default_lines(gdf: gpd.GeoDataFrame, kind_col: str) -> gpd.GeoDataFrame:
    """Give imported lines the fields of the default ``roads``/``railways`` specs.

    ``name`` falls back to the ``ref`` and then the class (``primary``,
    ``rail``) where OSM has none; ``schematic`` is False (surveyed geometry,
    not straight lines between towns), so a scenario can replace the default
    layer with the import.
    """
    out = gdf.copy()
    name = out["name"] if "name" in out.columns else pd.Series(None, index=out.index, dtype=object)
    for fallback in ("ref", kind_col):
        if fallback in out.columns:
            name = name.where(name.notna() & (name.astype(str) != ""), out[fallback])
    out["name"] = name.fillna("unnamed").astype(str)
    out["schematic"] = False
    return out


def import_extract(
    extract: str | Path,
    out_dir: str | Path,
    *,
    clip: str | Path | None = None,
) -> dict[str, Any]:
    """Import an OSM extract into GeoPackage layers and a routable graph.

    Parameters
    ----------
    extract : path
        ``.osm``, ``.osm.bz2`` or ``.osm.pbf``.
    out_dir : path
        Folder for ``osm.gpkg`` and ``roads.graphml``.
    clip : path or "dprk", optional
        Keep only what lies in this area (a polygon layer, or the default DPRK polygon).

    Returns
    -------
    dict
        ``counts`` (features per layer), ``graph`` (nodes, edges, components)
        and ``outputs`` (paths).
    """
    import osmnx as ox

    from geoplan.outputs import files as export

    ox.settings.use_cache = False
    ox.settings.log_console = False
    src = Path(extract)
    if not src.is_file():
        raise LayerReadError(f"{src}: no such file")
    kind = _kind(src)
    out = Path(out_dir)
    polygon = _clip_area(clip)
    with tempfile.TemporaryDirectory() as tmp:
        if kind != "pbf":
            _check_xml(src)
        xml = Path(tmp) / "features.osm"
        road_xml = Path(tmp) / "roads.osm"
        log.info("osm: filtering %s by tag", src)
        kept = filter_pbf(src, xml)
        log.info("osm: kept %(nodes)d nodes and %(ways)d ways with geoplan's tags", kept)
        filter_pbf(xml, road_xml, ("highway",), ways_only=True)
        log.info("osm: building the road graph")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = ox.graph_from_xml(
                    road_xml, simplify=True, retain_all=True, bidirectional=False
                )
        except Exception as exc:
            raise LayerReadError(
                f"{src}: no road network could be built ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); does it hold highway ways?"
            ) from exc
        if polygon is not None:
            graph = ox.truncate.truncate_graph_polygon(graph, polygon, truncate_by_edge=True)
        if graph.number_of_edges() == 0:
            raise LayerReadError(f"{src}: holds no highway ways; expected a road network")
        graph = ox.routing.add_edge_speeds(graph, hwy_speeds=HIGHWAY_SPEEDS_KPH, fallback=20)
        graph = ox.routing.add_edge_travel_times(graph)
        log.info("osm: reading features")
        feats = {
            "railways": _features(
                xml, {"railway": ["rail", "narrow_gauge", "light_rail"]}, polygon
            ),
            "ports": _features(
                xml,
                {
                    "harbour": True,
                    "landuse": ["port", "harbour"],
                    "industrial": "port",
                    "port": True,
                },
                polygon,
            ),
            "power": _features(xml, {"power": ["plant", "substation", "line"]}, polygon),
            "industrial": _features(xml, {"landuse": "industrial"}, polygon),
        }
    nodes, edges = ox.convert.graph_to_gdfs(graph)
    edges = edges.reset_index()
    roads = _tidy(
        edges,
        ["u", "v", "osmid", "highway", "name", "ref", "maxspeed", "speed_kph", "travel_time",
         "length"],
    )  # fmt: skip
    roads = roads.rename(columns={"travel_time": "travel_time_s", "length": "length_m"})
    for c in ("speed_kph", "travel_time_s", "length_m"):
        roads[c] = roads[c].astype(float)
    layers: dict[str, gpd.GeoDataFrame] = {"roads": _as_default_lines(roads, "highway")}
    rail = feats["railways"]
    rails = _tidy(rail[rail.geom_type.isin(["LineString", "MultiLineString"])],
                  ["id", "railway", "name", "usage", "gauge"])  # fmt: skip
    layers["railways"] = _as_default_lines(rails, "railway")
    ports = feats["ports"]
    layers["ports"] = _tidy(ports, ["id", "name", "harbour", "landuse", "industrial", "port"])
    power = feats["power"]
    if len(power):
        ptag = power.get("power", pd.Series(index=power.index, dtype="str"))
        layers["power_plants"] = _tidy(
            power[ptag == "plant"], ["id", "name", "plant:source", "plant:output:electricity"]
        )
        layers["substations"] = _tidy(power[ptag == "substation"], ["id", "name", "voltage"])
        layers["power_lines"] = _tidy(power[ptag == "line"], ["id", "name", "voltage"])
    else:
        for k in ("power_plants", "substations", "power_lines"):
            layers[k] = _tidy(power, [])
    layers["industrial"] = _tidy(feats["industrial"], ["id", "name", "landuse"])
    layers = {k: v for k, v in layers.items() if len(v)}
    from geoplan.outputs.publish import staging

    gpkg, graphml = out / "osm.gpkg", out / "roads.graphml"
    # both files are published together: a killed import never leaves a new GeoPackage
    # beside the old graph (and two imports into one folder do not interleave)
    with staging(out) as st:
        export.write_geopackage(st.path(gpkg, out), layers,
                                metadata={"source": str(src), "clip": str(clip)})  # fmt: skip
        ox.io.save_graphml(graph, st.path(graphml, out))
        st.publish()
    import networkx as nx

    comps = nx.number_weakly_connected_components(graph)
    return {
        "counts": {k: len(v) for k, v in layers.items()},
        "graph": {
            "nodes": graph.number_of_nodes(),
            "edges": graph.number_of_edges(),
            "components": comps,
            "nodes_total": len(nodes),
        },
        "outputs": {"geopackage": gpkg, "graphml": graphml},
        "max_speed_kph": float(np.nanmax(roads["speed_kph"])) if len(roads) else 0.0,
    }
