"""Reading, validating and reprojecting layers: the embedded defaults or the user's files.

One entry point, :func:`load`, takes a default layer's name or a path
(GeoPackage, Shapefile, GeoJSON, FlatGeobuf, GeoParquet) and returns a
GeoDataFrame in the working CRS, or raises one error carrying every problem
found, each a single line naming the file, the layer, the field and what was
expected.

Features with a null or empty geometry are counted and dropped (one warning
line); a layer with none left is refused. Shapefiles without a ``.cpg`` are
checked for their text encoding (UTF-8, else CP949/EUC-KR with a warning,
else refused) so that Korean attributes never load as mojibake. This module
must not know about scenarios, belts or scoring.
"""

from __future__ import annotations

import codecs
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


def _c(v: float) -> str:
    """A coordinate for a message: compact (never a 300-digit number)."""
    v = float(v)
    if not np.isfinite(v) or abs(v) >= 1e5:
        return f"{v:.4g}"
    return f"{round(v, 3):g}"


def _where(path: Path | str, layer: str | None) -> str:
    return f"{path} [layer {layer}]" if layer else str(path)


def _sibling(path: Path, suffix: str) -> Path | None:
    """The file next to ``path`` with ``suffix``, matched case-insensitively."""
    for cand in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
        if cand.is_file():
            return cand
    try:
        for f in path.parent.iterdir():
            if f.stem == path.stem and f.suffix.lower() == suffix:
                return f
    except OSError:
        return None
    return None


#: Most DBF record bytes read to detect a Shapefile's text encoding.
_DBF_SAMPLE_BYTES = 64 * 1024 * 1024

#: DBF language-driver ids after which GDAL guesses ISO-8859-1 (none, or "ANSI").
_LDID_UNKNOWN = (0x00, 0x57)


def _dbf_text_columns(dbf: Path) -> tuple[int, list[tuple[str, bytes]]]:
    """Return the DBF's language-driver id and the raw bytes of each character field."""
    with open(dbf, "rb") as fh:
        head = fh.read(32)
        if len(head) < 32:
            raise ValueError("DBF header truncated")
        n_rec = int.from_bytes(head[4:8], "little")
        head_len = int.from_bytes(head[8:10], "little")
        rec_len = int.from_bytes(head[10:12], "little")
        ldid = head[29]
        desc = fh.read(max(0, head_len - 32))
        fields = []  # (name, type, offset in record, length)
        offset = 1  # deletion flag
        for i in range(0, len(desc) - 31, 32):
            d = desc[i : i + 32]
            if d[0] == 0x0D:
                break
            name = d[:11].split(b"\0", 1)[0].decode("latin-1")
            length = d[16]
            fields.append((name, chr(d[11]), offset, length))
            offset += length
        fh.seek(head_len)
        # a sample of whole records is enough to tell UTF-8 from CP949; text past it that
        # breaks the chosen codec is still refused by the reader, never mis-decoded
        n_read = min(n_rec, _DBF_SAMPLE_BYTES // rec_len) if rec_len else 0
        body = fh.read(n_read * rec_len)
    n = len(body) // rec_len if rec_len else 0
    recs = np.frombuffer(body[: n * rec_len], dtype=np.uint8).reshape(n, rec_len)
    cols = [
        (name, recs[:, off : off + length].tobytes())
        for name, typ, off, length in fields
        if typ == "C" and off + length <= rec_len
    ]
    return ldid, cols


def _decodes(cols: list[tuple[str, bytes]], encoding: str) -> str | None:
    """None if every text field decodes strictly, else the first field that does not."""
    for name, raw in cols:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            return name
    return None


def _shapefile_encoding(path: Path, layer: str | None) -> tuple[str | None, Problem | None]:
    """Choose the text encoding of a Shapefile that has no ``.cpg``.

    Returns ``(encoding, warning)``: ``encoding`` None leaves the choice to
    GDAL (a ``.cpg`` exists, or the DBF declares a code page).
    """
    if _sibling(path, ".cpg") is not None:
        return None, None
    dbf = _sibling(path, ".dbf")
    if dbf is None:
        return None, None
    try:
        ldid, cols = _dbf_text_columns(dbf)
    except (OSError, ValueError):
        return None, None  # unreadable DBF: the reader reports it
    if ldid not in _LDID_UNKNOWN:
        return None, None  # the DBF names its code page; GDAL honours it
    bad = _decodes(cols, "utf-8")
    if bad is None:
        return "utf-8", None
    if _decodes(cols, "cp949") is None:
        return "cp949", Problem(
            str(path),
            layer,
            "no .cpg file and the attribute text is not UTF-8; read it as CP949 (Korean, "
            f"covers EUC-KR); to set the encoding explicitly add {path.with_suffix('.cpg').name} "
            "containing CP949, or give the layer 'encoding: cp949' (layers check --encoding "
            "cp949)",
            severity="warning",
        )
    problem = Problem(
        str(path),
        layer,
        "no .cpg file and the attribute text is neither UTF-8 nor CP949; name its encoding "
        "with the layer's 'encoding' option (e.g. encoding: cp1252; layers check --encoding "
        "ENC) or add a .cpg file",
        field=bad,
    )
    exc = LayerReadError(str(problem))
    exc.problem = problem  # type: ignore[attr-defined]
    raise exc


def _read_error(path: Path, layer: str | None, exc: Exception) -> LayerReadError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = msg.replace(str(path), "").strip(" :")
    if "failed: " in msg:  # SQLite: keep the reason, not the statement
        msg = msg.rsplit("failed: ", 1)[-1]
    msg = "; ".join(dict.fromkeys(part.strip() for part in msg.split(";")))
    if "not recognized as being in a supported file format" in msg:  # GDAL's words, no path
        msg = "not a file format GDAL can open"
    where = f"{path} [layer {layer}]" if layer else str(path)
    return LayerReadError(f"{where}: cannot read: {msg} (truncated, corrupt or not a GIS file?)")


def _check_regular(path: Path) -> None:
    """Refuse an empty file, or a device or pipe (GDAL would read ``/dev/zero`` forever)."""
    if path.exists() and not path.is_dir():
        if not path.is_file():
            raise LayerReadError(f"{path}: is not a regular file (a device or pipe); expected a "
                                 "GIS file")  # fmt: skip
        if path.stat().st_size == 0:
            raise LayerReadError(f"{path}: is empty (0 bytes); expected a GIS file")


def _layer_types(path: Path) -> list[tuple[str, str | None]]:
    """Every layer of a file with its geometry type (None for attribute tables)."""
    _check_regular(path)
    try:
        return [
            (str(name), None if gt is None else str(gt)) for name, gt in pyogrio.list_layers(path)
        ]
    except Exception as exc:  # pyogrio raises several types for bad files
        raise _read_error(path, None, exc) from exc


def _layers_in(path: Path) -> list[str]:
    """The layers of a file, without attribute-only tables (``layer_styles``) if any is spatial."""
    rows = _layer_types(path)
    spatial = [name for name, gt in rows if gt is not None]
    return spatial if spatial else [name for name, _ in rows]


def _read(
    path: Path,
    layer: str | None,
    encoding: str | None = None,
    notes: list[Problem] | None = None,
) -> tuple[gpd.GeoDataFrame, str | None]:
    """Read one layer of a file; return it and the layer name that was read.

    ``encoding`` applies to Shapefiles (their DBF text); without one, a
    Shapefile lacking a ``.cpg`` has its encoding detected (a warning names
    the choice when it is not UTF-8). Such notes are appended to ``notes``
    when given, else issued as ``UserWarning``.
    """
    if not path.exists():
        raise LayerReadError(f"{path}: no such file")
    if path.is_dir():
        raise LayerReadError(f"{path}: is a folder; name a file (or use `layers check` on it)")
    _check_regular(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        osm = path.name.lower().endswith((".osm", ".osm.pbf", ".osm.bz2", ".pbf"))
        raise LayerReadError(
            f"{path}: unknown format '{suffix or path.name}'; expected one of "
            + ", ".join(sorted(_SUFFIXES))
            + (
                "; turn an OpenStreetMap extract into layers with `geoplan osm import`"
                if osm
                else ""
            )
        )
    if _SUFFIXES[suffix] == "GeoParquet":
        import importlib.util

        if importlib.util.find_spec("pyarrow") is None:
            raise LayerReadError(
                f"{path}: reading GeoParquet needs pyarrow: pip install 'geoplan[parquet]'"
            )
        try:
            return gpd.read_parquet(path), None
        except Exception as exc:
            raise _read_error(path, None, exc) from exc
    names = _layers_in(path)
    if layer is not None and layer not in names and layer in [n for n, _ in _layer_types(path)]:
        raise LayerReadError(
            f"{path} [layer {layer}]: is an attribute table without geometry; "
            f"the spatial layers are: {', '.join(names) or 'none'}"
        )
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
    kwargs: dict[str, Any] = {}
    is_shp = _SUFFIXES[suffix] == "ESRI Shapefile"
    note: Problem | None = None
    if encoding is not None and not is_shp:
        note = Problem(
            str(path),
            layer,
            f"encoding '{encoding}' ignored; it applies to Shapefiles only (this format's "
            "text is UTF-8)",
            severity="warning",
        )
    elif encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise LayerError(
                f"{_where(path, layer)}: encoding '{encoding}' is unknown; expected e.g. "
                "utf-8, cp949, euc-kr, cp1252"
            ) from None
        kwargs["encoding"] = encoding
    elif is_shp:
        chosen, note = _shapefile_encoding(path, layer)
        if chosen:
            kwargs["encoding"] = chosen
    if note is not None:
        if notes is not None:
            notes.append(note)
        else:
            warnings.warn(str(note), UserWarning, stacklevel=3)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(path, layer=layer, **kwargs)
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
        if is_shp:
            enc = kwargs.get("encoding") or exc.encoding or "UTF-8"
            fix = "name the right encoding with the layer's 'encoding' option"
        else:  # the 'encoding' option is ignored for these formats: say what works
            enc = "UTF-8"
            fix = f"this format's text must be UTF-8; save {path.name} again as UTF-8"
        raise LayerReadError(
            f"{_where(path, layer)}: attribute text is not valid {enc} (byte 0x{bad}); {fix}"
        ) from None
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
    null = np.asarray(geoms.isna() | geoms.is_empty)
    if null.all():
        add(
            Problem(
                p,
                layer,
                f"none of the {len(gdf)} features has a geometry (all null or empty); "
                "expected at least one",
            )
        )
        return probs
    if null.any():
        add(
            Problem(
                p,
                layer,
                f"dropped {int(null.sum())} of {len(gdf)} features with no geometry",
                severity="warning",
            )
        )
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
    coords, owner = shapely.get_coordinates(present.to_numpy(), return_index=True)
    broken = np.unique(owner[~np.isfinite(coords).all(axis=1)])
    if broken.size:  # NaN/inf: no CRS check, transform or make_valid can make sense of them
        add(
            Problem(
                p,
                layer,
                f"{broken.size} of {len(present)} features have coordinates that are not "
                "numbers (NaN or "
                f"infinite; first: feature {present.index[broken[0]]}); expected finite "
                "coordinates",
            )
        )
        return probs
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
    if not np.isfinite(bounds).all() and not gdf.crs.is_geographic:
        n0, m0, n1, m1 = gdf.loc[~null].total_bounds
        add(
            Problem(
                p,
                layer,
                f"coordinates x {_c(n0)}..{_c(n1)}, y {_c(m0)}..{_c(m1)} in {gdf.crs} do not "
                "transform to lon/lat; expected coordinates on the Korean peninsula",
            )
        )
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
                f"swapped lon/lat: x spans {_c(x0)}..{_c(x1)} and y {_c(y0)}..{_c(y1)}; "
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
                    f"coordinates span x {_c(x0)}..{_c(x1)}, y {_c(y0)}..{_c(y1)} "
                    "(projected metres?); declare the CRS or reproject to EPSG:4326",
                )
            )
        else:
            add(
                Problem(
                    p,
                    layer,
                    f"coordinates out of range for {gdf.crs}: x {_c(x0)}..{_c(x1)}, "
                    f"y {_c(y0)}..{_c(y1)}; expected lon -180..180, lat -90..90",
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
                    f"{_c(x0)}..{_c(x1)} and y {_c(y0)}..{_c(y1)}; expected x = longitude "
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
                    f"{_c(cx[outside][0])}, lat {_c(cy[outside][0])}",
                )
            )
    return probs


def load(
    name_or_path: str | os.PathLike[str],
    layer: str | None = None,
    *,
    as_layer: str | None = None,
    crs: str | None = None,
    encoding: str | None = None,
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
    encoding : str, optional
        Text encoding of a Shapefile's attributes (``"cp949"``). Without one,
        a ``.cpg`` file decides; if there is none the DBF text is tested:
        UTF-8 is used silently, CP949 (EUC-KR) with a warning, and anything
        else is refused.

    Returns
    -------
    GeoDataFrame
        The layer in ``crs``; features without geometry dropped and invalid
        geometries repaired (each with a warning that counts them).
        ``attrs["geoplan_source"]`` holds the path and ``attrs["geoplan_sha256"]``
        its hash.

    Raises
    ------
    LayerReadError
        Missing, unreadable or truncated file, unknown format or layer.
    LayerValidationError
        Every validation error at once, one line each.

    Examples
    --------
    >>> ports = load("ports")
    >>> ports.crs.to_epsg()
    5179
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
    gdf, read_layer = _read(path, layer, encoding)
    gdf = _restore_shapefile_names(gdf, path, spec)
    problems = validate(gdf, path=path, layer=read_layer, spec=spec)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise LayerValidationError(errors)
    gdf = _drop_missing(gdf, path, read_layer)
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


def _drop_missing(gdf: gpd.GeoDataFrame, path: Path, layer: str | None) -> gpd.GeoDataFrame:
    """Drop features whose geometry is null or empty, with one warning that counts them."""
    geoms = gdf.geometry
    null = np.asarray(geoms.isna() | geoms.is_empty)
    if not null.any():
        return gdf
    if null.all():  # validate() refuses this first; kept for direct callers
        raise LayerValidationError(
            [Problem(str(path), layer, f"none of the {len(gdf)} features has a geometry")]
        )
    warnings.warn(
        f"{_where(path, layer)}: dropped {int(null.sum())} of {len(gdf)} features with no geometry",
        UserWarning,
        stacklevel=3,
    )
    return gdf.loc[~null].reset_index(drop=True)


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
    encodings: Mapping[str, str] | None = None,
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
    encodings : mapping of str to str, optional
        Text encoding per layer name for Shapefiles, ``{"towns": "cp949"}``
        (see :func:`load`).

    Returns
    -------
    dict of str to GeoDataFrame

    Examples
    --------
    >>> loaded = load_all(names=["ports"])
    >>> list(loaded)
    ['ports']
    """
    encodings = dict(encodings or {})
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
                encoding=encodings.get(name),
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


def _split_layer(item: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """``file.gpkg::layer`` -> (path, layer); a plain path -> (path, None)."""
    text = os.fspath(item)
    if "::" in text:
        path_text, _, sub = text.partition("::")
        return Path(path_text), sub or None
    return Path(text), None


def check(
    paths: list[str | os.PathLike[str]] | None = None,
    *,
    as_layer: str | None = None,
    encoding: str | None = None,
) -> list[Problem]:
    """Validate files (or folders of them, or the defaults when none are given).

    Every spatial layer of every file is read and validated (attribute-only
    tables such as QGIS's ``layer_styles`` are skipped); unreadable files
    become a problem line rather than an exception. Warnings (features
    without geometry that :func:`load` drops, invalid geometries it repairs,
    a Shapefile encoding it had to guess) are included with
    ``severity="warning"``.

    Parameters
    ----------
    paths : list of path-like, optional
        Files, folders, or ``file.gpkg::layer`` for one layer of a file.
    as_layer : str, optional
        Check every file against this default layer's spec (``"ports"``),
        as :func:`load` does with ``as_layer=``.
    encoding : str, optional
        Text encoding of Shapefile attributes (see :func:`load`).

    Returns
    -------
    list of Problem

    Examples
    --------
    >>> [p for p in check(["ports"]) if p.severity == "error"]
    []
    """
    cat = catalogue()
    if as_layer is not None and as_layer not in cat:
        raise LayerError(f"--as {as_layer}: not a default layer; expected one of {', '.join(cat)}")
    forced = cat[as_layer] if as_layer is not None else None
    if forced is not None and not paths:
        raise LayerError(f"--as {as_layer}: name the files to check against it")
    targets: list[tuple[Path, str | None, LayerSpec | None]] = []
    if not paths:
        targets = [(default_layers_dir() / str(s.file), None, s) for s in cat.values()]
    else:
        for item in paths:
            path, sub = _split_layer(item)
            if sub is None and not path.suffix and str(path) in cat and not path.exists():
                spec = cat[str(path)]
                targets.append((default_layers_dir() / str(spec.file), None, forced or spec))
            elif path.is_dir() and sub is None:
                files = sorted(
                    f for f in path.iterdir() if f.is_file() and f.suffix.lower() in _SUFFIXES
                )
                if not files:
                    targets.append((path, None, None))
                targets.extend((f, None, forced or cat.get(f.stem)) for f in files)
            else:
                targets.append((path, sub, forced or cat.get(path.stem)))
    problems: list[Problem] = []
    for path, only, spec in targets:
        if path.is_dir():
            problems.append(Problem(str(path), None, "folder holds no readable layer files"))
            continue
        if only is not None:
            sub_layers: list[str | None] = [only]
        else:
            try:
                sub_layers = (
                    list(_layers_in(path))
                    if path.exists() and path.suffix.lower() not in (".parquet", ".geoparquet")
                    else [None]
                )
            except LayerReadError as exc:
                problems.append(Problem(str(path), None, str(exc).split(": ", 1)[1]))
                continue
        for sub in sub_layers or [None]:
            notes: list[Problem] = []
            try:
                gdf, read_layer = _read(path, sub, encoding, notes)
            except LayerError as exc:
                problems.extend(notes)
                problems.append(
                    getattr(exc, "problem", None)
                    or Problem(str(path), sub, _strip_where(str(exc), path, sub))
                )
                continue
            problems.extend(notes)
            gdf = _restore_shapefile_names(gdf, path, spec)
            problems.extend(validate(gdf, path=path, layer=read_layer, spec=spec))
    return problems


def _strip_where(message: str, path: Path, layer: str | None) -> str:
    """The message of a read error without its leading ``path [layer x]`` (Problem adds it)."""
    for prefix in (f"{_where(path, layer)}: ", f"{_where(path, layer)} ", f"{path}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message.split(": ", 1)[-1]
