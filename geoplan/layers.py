"""Reading, validating and reprojecting layers: the embedded defaults or the user's files.

One entry point, :func:`load`, takes a default layer's name or a path
(GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet) and returns a
GeoDataFrame in the working CRS, or raises one error carrying every problem
found, each a single line naming the file, the layer, the field and what was
expected.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import warnings
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geoplan import settings
from geoplan._errors import LayerError, LayerReadError, LayerValidationError
from geoplan._io import file_sha256

__all__ = [
    "GEOMETRY_FAMILIES",
    "LayerSpec",
    "Problem",
    "catalogue",
    "check",
    "default_layers_dir",
    "layer_hash",
    "list_layers",
    "load",
    "load_all",
    "resolve",
    "validate",
]

log = logging.getLogger(__name__)

#: Geometry families a catalogue entry can ask for, and the OGC types each accepts.
GEOMETRY_FAMILIES: dict[str, tuple[str, ...]] = {
    "point": ("Point", "MultiPoint"),
    "line": ("LineString", "MultiLineString", "LinearRing"),
    "polygon": ("Polygon", "MultiPolygon"),
    "any": (),
}

_SUFFIXES = {
    ".gpkg": "GPKG",
    ".shp": "ESRI Shapefile",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".fgb": "FlatGeobuf",
    ".parquet": "GeoParquet",
    ".geoparquet": "GeoParquet",
}


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """What a layer must look like.

    Parameters
    ----------
    name : str
        Layer name (a default layer's name, or the name a user file stands in for).
    geometry_type : str
        One of ``GEOMETRY_FAMILIES``.
    required_fields : tuple of str
        Attribute fields every feature must carry.
    file : str, optional
        File name inside the default layers folder.
    description, source : str
        For ``geoplan layers list``.
    """

    name: str
    geometry_type: str = "any"
    required_fields: tuple[str, ...] = ()
    file: str | None = None
    description: str = ""
    source: str = ""
    features: int | None = None


@dataclasses.dataclass(frozen=True)
class Problem:
    """One validation problem, rendered as one line."""

    path: str
    layer: str | None
    message: str
    field: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = self.path
        if self.layer:
            where += f" [layer {self.layer}]"
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.message}"


def default_layers_dir() -> Path:
    """Return the folder of the embedded default layers.

    An installed wheel carries them as ``geoplan/_layers``; a source checkout
    (and an editable install) reads ``layers/`` at the repository root.
    """
    here = Path(__file__).resolve().parent
    for cand in (here / "_layers", here.parent / "layers"):
        if (cand / "catalogue.json").is_file():
            return cand
    raise LayerReadError(
        f"{here.parent / 'layers'}: the default layers are missing (no catalogue.json); "
        "reinstall geoplan or run `geoplan layers build`"
    )


@cache
def _catalogue_cached(path: str) -> dict[str, LayerSpec]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {
        name: LayerSpec(
            name=name,
            geometry_type=entry["geometry_type"],
            required_fields=tuple(entry.get("required_fields", ())),
            file=entry["file"],
            description=entry.get("description", ""),
            source=entry.get("source", ""),
            features=entry.get("features"),
        )
        for name, entry in data["layers"].items()
    }


def catalogue(layers_dir: str | Path | None = None) -> dict[str, LayerSpec]:
    """Return the default layers' catalogue: name to :class:`LayerSpec`."""
    d = Path(layers_dir) if layers_dir else default_layers_dir()
    return dict(_catalogue_cached(str(d / "catalogue.json")))


def resolve(name_or_path: str | os.PathLike[str]) -> tuple[Path, LayerSpec | None]:
    """Return the file behind a default layer name or a path, and its spec if it is a default."""
    text = os.fspath(name_or_path)
    cat = catalogue()
    if text in cat and not Path(text).suffix:
        spec = cat[text]
        return default_layers_dir() / str(spec.file), spec
    return Path(text), None


def layer_hash(name_or_path: str | os.PathLike[str]) -> str:
    """SHA-256 of the file behind a layer name or path (recorded in every output)."""
    return file_sha256(resolve(name_or_path)[0])


def _read_error(path: Path, layer: str | None, exc: Exception) -> LayerReadError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = msg.replace(str(path), "").strip(" :")
    if "failed: " in msg:  # SQLite: keep the reason, not the statement
        msg = msg.rsplit("failed: ", 1)[-1]
    msg = "; ".join(dict.fromkeys(part.strip() for part in msg.split(";")))
    where = f"{path} [layer {layer}]" if layer else str(path)
    return LayerReadError(f"{where}: cannot read: {msg} (truncated, corrupt or not a GIS file?)")


def _layers_in(path: Path) -> list[str]:
    try:
        return [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises several types for bad files
        raise _read_error(path, None, exc) from exc


def _read(path: Path, layer: str | None) -> tuple[gpd.GeoDataFrame, str | None]:
    """Read one layer of a file; return it and the layer name that was read."""
    if not path.exists():
        raise LayerReadError(f"{path}: no such file")
    if path.is_dir():
        raise LayerReadError(f"{path}: is a folder; name a file (or use `layers check` on it)")
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise LayerReadError(
            f"{path}: unknown format '{suffix or path.name}'; expected one of "
            + ", ".join(sorted(_SUFFIXES))
        )
    if _SUFFIXES[suffix] == "GeoParquet":
        try:
            return gpd.read_parquet(path), None
        except Exception as exc:
            raise _read_error(path, None, exc) from exc
    names = _layers_in(path)
    if layer is None:
        if len(names) == 1:
            layer = names[0]
        elif path.stem in names:
            layer = path.stem
        else:
            raise LayerReadError(
                f"{path}: holds {len(names)} layers ({', '.join(names)}); name one with layer="
            )
    elif layer not in names:
        raise LayerReadError(
            f"{path} [layer {layer}]: no such layer; the file holds: {', '.join(names) or 'none'}"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:
        raise _read_error(path, layer, exc) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise LayerReadError(f"{path} [layer {layer}]: has no geometry column")
    return gdf, layer


def _restore_shapefile_names(
    gdf: gpd.GeoDataFrame, path: Path, spec: LayerSpec | None
) -> gpd.GeoDataFrame:
    """Shapefiles cut field names to 10 characters: map them back to the spec's names."""
    if spec is None or path.suffix.lower() != ".shp":
        return gdf
    renames = {
        f[:10]: f
        for f in spec.required_fields
        if f not in gdf.columns and f[:10] in gdf.columns and len(f) > 10
    }
    return gdf.rename(columns=renames) if renames else gdf


def _geojson_declares_crs(path: Path) -> bool:
    """True if a GeoJSON file carries a (legacy) ``crs`` member at its top level."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", "ignore")
    except OSError:
        return False
    return '"crs"' in head


def _lonlat_bounds(gdf: gpd.GeoDataFrame) -> np.ndarray | None:
    try:
        if gdf.crs is None or CRS.from_user_input(gdf.crs).is_geographic:
            return gdf.geometry.bounds.to_numpy()
        return gdf.geometry.to_crs(settings.map_crs).bounds.to_numpy()
    except Exception:
        return None


def validate(
    gdf: gpd.GeoDataFrame,
    *,
    path: str | os.PathLike[str],
    layer: str | None = None,
    spec: LayerSpec | None = None,
) -> list[Problem]:
    """Check a layer against its spec and the region; return every problem found.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer as read (in its own CRS).
    path : path-like
        The file it came from (for the messages).
    layer : str, optional
        The layer inside the file.
    spec : LayerSpec, optional
        Expected geometry family and required fields; without one only the
        generic checks run (CRS, empty, geometry validity, region).

    Returns
    -------
    list of Problem
        Errors and warnings (``severity``), in a stable order. Invalid
        geometries are a warning: :func:`load` repairs them.
    """
    p = os.fspath(path)
    probs: list[Problem] = []
    add = probs.append
    if len(gdf) == 0:
        add(Problem(p, layer, "layer is empty (0 features); expected at least 1"))
        return probs
    if spec is not None:
        for fld in spec.required_fields:
            if fld not in gdf.columns:
                have = ", ".join(c for c in gdf.columns if c != gdf.geometry.name) or "none"
                add(Problem(p, layer, f"required field is missing (fields present: {have})", fld))
    geoms = gdf.geometry
    null = geoms.isna() | geoms.is_empty
    if null.any():
        add(Problem(p, layer, f"{int(null.sum())} of {len(gdf)} features have no geometry"))
    present = geoms[~null]
    if spec is not None and spec.geometry_type != "any" and len(present):
        allowed = GEOMETRY_FAMILIES[spec.geometry_type]
        bad = sorted(set(present.geom_type) - set(allowed))
        if bad:
            add(
                Problem(
                    p,
                    layer,
                    f"unexpected geometry type {', '.join(bad)}; expected "
                    f"{spec.geometry_type} ({'/'.join(allowed)})",
                )
            )
    invalid = ~present.is_valid
    if invalid.any():
        first = present[invalid].index[0]
        reason = shapely.is_valid_reason(present.loc[first])
        add(
            Problem(
                p,
                layer,
                f"{int(invalid.sum())} invalid geometries (first: feature {first}, {reason}); "
                "load() repairs them with make_valid",
                severity="warning",
            )
        )
    geojson_no_crs = Path(p).suffix.lower() in (".geojson", ".json") and not _geojson_declares_crs(
        Path(p)
    )
    if gdf.crs is None:
        add(Problem(p, layer, "missing CRS (no .prj / SRS); expected a declared CRS"))
        return probs
    bounds = _lonlat_bounds(gdf.loc[~null])
    if bounds is None:
        add(Problem(p, layer, f"coordinates cannot be transformed from {gdf.crs} to WGS84"))
        return probs
    x0, y0, x1, y1 = np.nanmin(bounds[:, 0]), np.nanmin(bounds[:, 1]), *bounds[:, 2:].max(0)
    lon_ok = (x0 >= -180) and (x1 <= 180)
    lat_ok = (y0 >= -90) and (y1 <= 90)
    rx0, ry0, rx1, ry1 = settings.region_bounds_wgs84
    if lon_ok and ry0 <= x0 and x1 <= ry1 and rx0 <= y0 and y1 <= rx1:
        add(
            Problem(
                p,
                layer,
                f"swapped lon/lat: x spans {x0:.2f}..{x1:.2f} and y {y0:.2f}..{y1:.2f}; "
                f"expected x = longitude ({rx0:g}..{rx1:g}), y = latitude ({ry0:g}..{ry1:g})",
            )
        )
        return probs
    if not (lon_ok and lat_ok):
        if geojson_no_crs:
            add(
                Problem(
                    p,
                    layer,
                    "missing CRS: GeoJSON without a 'crs' member must be WGS84 lon/lat, but "
                    f"coordinates span x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f} "
                    "(projected metres?); declare the CRS or reproject to EPSG:4326",
                )
            )
        else:
            add(
                Problem(
                    p,
                    layer,
                    f"coordinates out of range for {gdf.crs}: x {x0:.4g}..{x1:.4g}, "
                    f"y {y0:.4g}..{y1:.4g}; expected lon -180..180, lat -90..90",
                )
            )
        return probs
    cx = (bounds[:, 0] + bounds[:, 2]) / 2
    cy = (bounds[:, 1] + bounds[:, 3]) / 2
    outside = ~((cx >= rx0) & (cx <= rx1) & (cy >= ry0) & (cy <= ry1))
    if outside.any():
        swapped = (cy >= rx0) & (cy <= rx1) & (cx >= ry0) & (cx <= ry1)
        n = int(outside.sum())
        if swapped[outside].all():
            add(
                Problem(
                    p,
                    layer,
                    f"{n} of {len(cx)} features have swapped lon/lat: x spans "
                    f"{x0:.2f}..{x1:.2f} and y {y0:.2f}..{y1:.2f}; expected x = longitude "
                    f"({rx0:g}..{rx1:g}), y = latitude ({ry0:g}..{ry1:g})",
                )
            )
        else:
            add(
                Problem(
                    p,
                    layer,
                    f"{n} of {len(cx)} features lie outside the expected region "
                    f"(lon {rx0:g}..{rx1:g}, lat {ry0:g}..{ry1:g}); first at lon "
                    f"{cx[outside][0]:.3f}, lat {cy[outside][0]:.3f}",
                )
            )
    return probs


def load(
    name_or_path: str | os.PathLike[str],
    layer: str | None = None,
    *,
    as_layer: str | None = None,
    crs: str | None = None,
) -> gpd.GeoDataFrame:
    """Load, validate and reproject one layer.

    Parameters
    ----------
    name_or_path : str or path-like
        A default layer's name (``"ports"``) or a file path.
    layer : str, optional
        The layer inside a multi-layer file (GeoPackage).
    as_layer : str, optional
        The default layer a user file stands in for: its required fields and
        geometry type are checked (``load("my_ports.gpkg", as_layer="ports")``).
    crs : str, optional
        Target CRS; defaults to ``settings.work_crs`` (EPSG:5179).

    Returns
    -------
    GeoDataFrame
        The layer in ``crs``; invalid geometries repaired (with a warning
        that counts them). ``attrs["geoplan_source"]`` holds the path and
        ``attrs["geoplan_sha256"]`` its hash.

    Raises
    ------
    LayerReadError
        Missing, unreadable or truncated file, unknown format or layer.
    LayerValidationError
        Every validation error at once, one line each.
    """
    path, spec = resolve(name_or_path)
    if as_layer is not None:
        cat = catalogue()
        if as_layer not in cat:
            raise LayerError(
                f"{path}: as_layer '{as_layer}' is not a default layer; "
                f"expected one of {', '.join(cat)}"
            )
        spec = cat[as_layer]
    gdf, read_layer = _read(path, layer)
    gdf = _restore_shapefile_names(gdf, path, spec)
    problems = validate(gdf, path=path, layer=read_layer, spec=spec)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise LayerValidationError(errors)
    geoms = gdf.geometry
    invalid = geoms.notna() & ~geoms.is_empty & ~geoms.is_valid
    if invalid.any():
        n = int(invalid.sum())
        gdf = gdf.copy()
        fixed = shapely.make_valid(geoms[invalid].to_numpy())
        if spec is not None and spec.geometry_type == "polygon":
            # make_valid may return collections with slivers of lower dimension
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        gdf.loc[invalid, gdf.geometry.name] = fixed
        warnings.warn(
            f"{path}{f' [layer {read_layer}]' if read_layer else ''}: repaired {n} invalid "
            "geometries with make_valid",
            UserWarning,
            stacklevel=2,
        )
    target = crs or settings.work_crs
    try:
        target_crs = CRS.from_user_input(target)
    except CRSError as exc:
        raise LayerError(f"crs '{target}': not a CRS pyproj knows ({exc})") from exc
    if not gdf.crs.equals(target_crs):
        log.debug("reprojecting %s from %s to %s", path, gdf.crs, target)
        gdf = gdf.to_crs(target_crs)
    gdf.attrs["geoplan_source"] = str(path)
    gdf.attrs["geoplan_sha256"] = file_sha256(path)
    gdf.attrs["geoplan_layer"] = read_layer or (spec.name if spec else path.stem)
    return gdf


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geom


def load_all(
    overrides: Mapping[str, str | os.PathLike[str]] | None = None,
    *,
    crs: str | None = None,
    names: list[str] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Load the default layers, with user files replacing or extending them by name.

    Parameters
    ----------
    overrides : mapping of str to path, optional
        ``{"ports": "my_ports.gpkg", "dem_sites": "extra.shp"}``: a name that is
        a default layer replaces it (and must meet its spec); any other name
        adds a layer. A path may name a GeoPackage layer as ``file.gpkg::layer``.
    crs : str, optional
        Target CRS (default ``settings.work_crs``).
    names : list of str, optional
        Load only these default layers (overrides are always loaded).

    Returns
    -------
    dict of str to GeoDataFrame
    """
    cat = catalogue()
    overrides = dict(overrides or {})
    wanted = names if names is not None else list(cat)
    out: dict[str, gpd.GeoDataFrame] = {}
    problems: list[str] = []
    for name in list(dict.fromkeys([*wanted, *overrides])):
        src = overrides.get(name, name)
        path_text, _, sub = os.fspath(src).partition("::")
        try:
            out[name] = load(
                path_text,
                layer=sub or None,
                as_layer=name if (name in cat and name in overrides) else None,
                crs=crs,
            )
        except LayerValidationError as exc:
            problems.extend(exc.lines())
        except LayerError as exc:
            problems.extend(exc.lines())
    if problems:
        raise LayerValidationError(problems)
    return out


def list_layers() -> list[dict[str, Any]]:
    """Describe each default layer: name, feature count, geometry type, source."""
    rows = []
    for name, spec in catalogue().items():
        rows.append(
            {
                "name": name,
                "features": spec.features,
                "geometry_type": spec.geometry_type,
                "file": spec.file,
                "source": spec.source,
                "description": spec.description,
            }
        )
    return rows


def check(paths: list[str | os.PathLike[str]] | None = None) -> list[Problem]:
    """Validate files (or folders of them, or the defaults when none are given).

    Every layer of every file is read and validated; unreadable files become
    a problem line rather than an exception. Warnings (invalid geometries
    that :func:`load` would repair) are included.

    Returns
    -------
    list of Problem
    """
    cat = catalogue()
    targets: list[tuple[Path, LayerSpec | None]] = []
    if not paths:
        targets = [(default_layers_dir() / str(s.file), s) for s in cat.values()]
    else:
        for item in paths:
            path = Path(item)
            if path.is_dir():
                files = sorted(
                    f for f in path.iterdir() if f.is_file() and f.suffix.lower() in _SUFFIXES
                )
                if not files:
                    targets.append((path, None))
                targets.extend((f, cat.get(f.stem)) for f in files)
            else:
                targets.append((path, cat.get(path.stem)))
    problems: list[Problem] = []
    for path, spec in targets:
        if path.is_dir():
            problems.append(Problem(str(path), None, "folder holds no readable layer files"))
            continue
        try:
            sub_layers = (
                _layers_in(path)
                if path.exists() and path.suffix.lower() not in (".parquet", ".geoparquet")
                else [None]
            )
        except LayerReadError as exc:
            problems.append(Problem(str(path), None, str(exc).split(": ", 1)[1]))
            continue
        for sub in sub_layers or [None]:
            try:
                gdf, read_layer = _read(path, sub)
            except LayerReadError as exc:
                problems.append(Problem(str(path), sub, str(exc).split(": ", 1)[-1]))
                continue
            gdf = _restore_shapefile_names(gdf, path, spec)
            problems.extend(validate(gdf, path=path, layer=read_layer, spec=spec))
    return problems
