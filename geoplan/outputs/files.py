"""Writing outputs atomically: GeoPackage, Cloud-Optimized GeoTIFF, CSV, run record.

Every file is written to a temporary name in the target folder and renamed
into place, so a failed run never leaves a half-written file and an earlier
good output stays untouched.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geoplan._errors import ExportError
from geoplan._io import COG_OPTIONS, atomic_path, write_text_atomic

__all__ = [
    "gpkg_table_names",
    "png_palette",
    "surface_overlay",
    "surface_overlays",
    "write_cog",
    "write_csv",
    "write_geopackage",
    "write_json",
    "write_text",
]


#: Geometry types of geoplan's own layers, for when a run leaves one empty.
_EMPTY_TYPES = {"zones": "MultiPolygon", "sites": "Point", "belts": "MultiPolygon",
                "exclusions": "MultiPolygon"}  # fmt: skip


#: Table names GeoPackage and SQLite keep for themselves, and geoplan's QGIS styles table.
_RESERVED_TABLE = re.compile(r"^(gpkg|sqlite_|rtree_|layer_styles$)", re.IGNORECASE)


def gpkg_table_names(names: list[str]) -> dict[str, str]:
    """A GeoPackage table name per layer name: reserved or clashing names get ``input_``.

    SQLite compares table names without case, and names starting ``gpkg``,
    ``sqlite_`` or ``rtree_`` (or ``layer_styles``) are the format's own: a
    scenario layer named ``gpkg_contents`` or ``ZONES`` (beside geoplan's
    ``zones``) made the write fail at the end of the run.

    Examples
    --------
    >>> gpkg_table_names(["zones", "ZONES", "gpkg_contents", "ports"])
    {'zones': 'zones', 'ZONES': 'input_ZONES', 'gpkg_contents': 'input_gpkg_contents', \
'ports': 'ports'}
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        table = name
        if _RESERVED_TABLE.match(table) or table.casefold() in taken:
            base = table = f"input_{name}"
            i = 2
            while table.casefold() in taken:
                table = f"{base}_{i}"
                i += 1
        taken.add(table.casefold())
        out[name] = table
    return out


def _gpkg_ready(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = gdf.copy()
    for col in out.columns:
        if col == out.geometry.name:
            continue
        s = out[col]
        if pd.api.types.is_bool_dtype(s):
            out[col] = s.astype("int32")
        elif pd.api.types.is_object_dtype(s):
            out[col] = s.astype(str)
    return out


def write_geopackage(
    path: str | Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Write several layers into one GeoPackage (GPKG 1.2, read cleanly by GDAL 3.6).

    All layers go into one temporary file which then replaces ``path``.
    ``metadata`` is stored as JSON in the GeoPackage's dataset metadata.
    """
    path = Path(path)
    meta = {"geoplan_run": json.dumps(dict(metadata or {}), sort_keys=True, default=str)}
    # SQLite syncs the file to disk at every layer's commit (13 layers: ~1 s of a default
    # run here); the file is a temporary one that replaces ``path`` whole, as every output
    # does (outputs/publish.py), so those syncs bought nothing: off while writing it
    before = pyogrio.get_gdal_config_option("OGR_SQLITE_SYNCHRONOUS")
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF"})
    try:
        _write_gpkg_layers(path, layers, meta, metadata)
    finally:
        pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": before})
    return path


def _write_gpkg_layers(
    path: Path,
    layers: Mapping[str, gpd.GeoDataFrame],
    meta: Mapping[str, str],
    metadata: Mapping[str, Any] | None,
) -> None:
    import datetime as dt

    from geoplan.outputs.qgis_styles import layer_styles_table

    tables = gpkg_table_names(list(layers))
    layers = {tables[k]: v for k, v in layers.items()}
    with atomic_path(path) as tmp:
        first = True
        for name, gdf in layers.items():
            try:
                pyogrio.write_dataframe(
                    _gpkg_ready(gdf),
                    tmp,
                    layer=name,
                    driver="GPKG",
                    append=not first,
                    dataset_options={"VERSION": "1.2"} if first else None,
                    dataset_metadata=meta if first else None,
                    layer_options={"DESCRIPTION": f"geoplan {name}"},
                    # an empty layer keeps a real geometry type (QGIS shows it as such)
                    **({"geometry_type": _EMPTY_TYPES.get(name, "Unknown")} if len(gdf) == 0
                       else {}),
                )  # fmt: skip
            except Exception as exc:
                raise ExportError(f"{path} [layer {name}]: cannot write ({exc})") from exc
            first = False
        styles = layer_styles_table(
            dict.fromkeys(layers, "geom"),
            scenario=str((metadata or {}).get("scenario", "")),
            update_time=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        if len(styles):
            try:
                pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG",
                                        append=True)  # fmt: skip
            except Exception as exc:
                raise ExportError(f"{path} [layer layer_styles]: cannot write ({exc})") from exc


def write_cog(
    path: str | Path,
    array: np.ndarray,
    transform: Any,
    crs: str,
    *,
    description: str,
    tags: Mapping[str, str] | None = None,
    nodata: float = -9999.0,
    threads: int | str = "ALL_CPUS",
) -> Path:
    """Write a float32 surface as a Cloud-Optimized GeoTIFF with overviews and tags.

    GDAL reads the array in place (one nodata-filled float32 copy, no
    intermediate GeoTIFF) and releases the GIL while it builds overviews and
    compresses, so several COGs can be written from threads at once; the
    bytes written do not depend on that.

    Examples
    --------
    >>> from affine import Affine
    >>> p = write_cog("/tmp/x.tif", np.ones((4, 4)), Affine(1000, 0, 0, 0, -1000, 0),
    ...               "EPSG:5179", description="ones")  # doctest: +SKIP
    """
    if hasattr(array, "write_cog"):  # an on-disk surface (engines/dask.py): window by window
        return array.write_cog(
            path, transform, crs, description=description, tags=tags, nodata=nodata
        )
    from rasterio import shutil as rio_shutil

    arr = np.asarray(array, dtype="float32")
    bad = ~np.isfinite(arr)
    if bad.any():  # a grid already filled with ``nodata`` is used as it is
        arr = np.where(bad, np.float32(nodata), arr)
    del bad
    cog_profile = {
        **COG_OPTIONS,
        # GDAL compresses tiles on ``threads`` cores (the same bytes as one thread: tested)
        "num_threads": str(threads),
    }
    path = Path(path)
    try:  # rasterio's array-backed GDAL dataset: no copy into a GeoTIFF first
        from rasterio._io import MemoryDataset
    except ImportError:  # pragma: no cover - other rasterio versions
        MemoryDataset = None
    if MemoryDataset is not None:
        src = MemoryDataset(arr[np.newaxis], transform=transform, crs=crs, copy=False)
        try:
            src.nodata = nodata
            src.set_band_description(1, description)
            src.update_tags(**dict(tags or {}))
            with atomic_path(path) as tmp:
                rio_shutil.copy(src, tmp, **cog_profile)
        finally:
            src.close()
        return path
    from rasterio.io import MemoryFile  # pragma: no cover

    profile = {"driver": "GTiff", "height": arr.shape[0], "width": arr.shape[1], "count": 1,
               "dtype": "float32", "crs": crs, "transform": transform,
               "nodata": nodata}  # fmt: skip
    with MemoryFile() as mem:  # pragma: no cover
        with mem.open(**profile) as ds:
            ds.write(arr, 1)
            ds.set_band_description(1, description)
            ds.update_tags(**dict(tags or {}))
        with mem.open() as src, atomic_path(path) as tmp:
            rio_shutil.copy(src, tmp, **cog_profile)
    return path


def write_csv(path: str | Path, df: pd.DataFrame) -> Path:
    """Write a table as UTF-8 CSV (floats to 6 significant decimals), atomically."""
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return write_text_atomic(path, buf.getvalue())


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text, atomically."""
    return write_text_atomic(path, text)


def write_json(path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write JSON (sorted keys, indented), atomically."""
    return write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _pixel_lattice(
    transformer: Any, src_t: Any, h: int, w: int, dst_inv: Any, step: int = 32
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel corners of an ``h`` x ``w`` raster every ``step`` rows/columns, projected by
    ``transformer`` and expressed as fractional (column, row) of another raster (``dst_inv``
    maps its coordinates to its pixels); plus the lattice rows and columns."""
    r = np.unique(np.r_[np.arange(0, h, step), h]).astype("float64")
    c = np.unique(np.r_[np.arange(0, w, step), w]).astype("float64")
    cc, rr = np.meshgrid(c, r)
    x = src_t.c + src_t.a * cc + src_t.b * rr
    y = src_t.f + src_t.d * cc + src_t.e * rr
    xx, yy = transformer.transform(x, y)
    xx, yy = np.asarray(xx, dtype="float64"), np.asarray(yy, dtype="float64")
    pc = dst_inv.a * xx + dst_inv.b * yy + dst_inv.c
    pr = dst_inv.d * xx + dst_inv.e * yy + dst_inv.f
    return r, c, np.stack([pc, pr])


def _along_columns(lat: tuple, cols: np.ndarray) -> np.ndarray:
    """The lattice interpolated linearly along each lattice row at columns ``cols``."""
    _, c, v = lat
    j = np.clip(np.searchsorted(c, cols, side="right") - 1, 0, len(c) - 2)
    f = (cols - c[j]) / (c[j + 1] - c[j])
    return (v[:, :, j] + (v[:, :, j + 1] - v[:, :, j]) * f).astype("float32")


def _row_weights(lat: tuple, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r = lat[0]
    i = np.clip(np.searchsorted(r, rows, side="right") - 1, 0, len(r) - 2)
    return i, ((rows - r[i]) / (r[i + 1] - r[i])).astype("float32")


def _ramp(colors: list[str], n: int = 256) -> np.ndarray:
    """``n`` RGB colours (uint8) linearly interpolated through ``colors`` (as matplotlib does)."""
    rgb = np.array([[int(c.lstrip("#")[k : k + 2], 16) for k in (0, 2, 4)] for c in colors],
                   dtype="float64") / 255.0  # fmt: skip
    pos = np.linspace(0.0, 1.0, len(colors))
    x = np.linspace(0.0, 1.0, n)
    lut = np.column_stack([np.interp(x, pos, rgb[:, k]) for k in range(3)])
    return np.round(lut * 255).astype("uint8")


def png_palette(index: np.ndarray, palette: np.ndarray, alpha: np.ndarray, level: int = 6) -> bytes:
    """Encode a (h, w) uint8 image of palette indices as an indexed-colour PNG.

    One byte per pixel (a quarter of RGBA), filter 0, zlib ``level``: the
    same pixels every time, byte for byte.

    Examples
    --------
    >>> b = png_palette(np.zeros((2, 3), "uint8"), np.zeros((1, 3), "uint8"), np.zeros(1, "uint8"))
    >>> b[:8] == bytes.fromhex("89504e470d0a1a0a")
    True
    """
    import struct
    import zlib

    h, w = index.shape
    raw = np.zeros((h, w + 1), dtype="uint8")
    raw[:, 1:] = index

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))  # fmt: skip

    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)),
            chunk(b"PLTE", np.ascontiguousarray(palette, dtype="uint8").tobytes()),
            chunk(b"tRNS", np.ascontiguousarray(alpha, dtype="uint8").tobytes()),
            chunk(b"IDAT", zlib.compress(raw.tobytes(), level)),
            chunk(b"IEND", b""),
        ]
    )


#: Palette entries of a surface picture: index 0 transparent, 1.._STEPS-1 score 0..1.
_STEPS = 64


def surface_overlays(
    arrays: Mapping[str, np.ndarray],
    transform: Any,
    crs: str,
    colors: list[str],
    *,
    mask: np.ndarray | None = None,
    max_px: int = 1000,
) -> dict[str, tuple[str, list[list[float]]]]:
    """Colour 0..1 surfaces of one grid and reproject them to Web Mercator for Leaflet overlays.

    The warp is worked out once for the grid and applied to every surface:
    each display pixel is the mean of the surface cells whose centres fall in
    it (the ``average`` resampling of GDAL, by cell centre), or, where no
    cell centre falls (display pixels smaller than a cell), the cell under
    the pixel's centre. Coordinates are projected exactly on a lattice every
    32 pixels and interpolated bilinearly in between (as GDAL's approximate
    transformer does; far below a pixel here). Pixels are coloured from a
    63-step ramp through ``colors`` (to the nearest step; index 0 is "no
    data"), 85 % opaque, and written as an indexed-colour PNG (zlib level 6: level 9
    made the five default pictures 4 % smaller for 0.23 s more per run).
    Reprojecting keeps the picture aligned with the vector layers (Leaflet
    stretches an image linearly in Web Mercator).

    Parameters
    ----------
    arrays : mapping of str to (h, w) array
        Surfaces, NaN where there is nothing to draw.
    transform : affine.Affine
        The grid's transform (in ``crs``).
    crs : str
        The grid's CRS.
    colors : list of str
        ``#rrggbb`` colours from score 0 to score 1.
    mask : (h, w) bool array, optional
        Cells that may hold a value in any surface (default: finite in any;
        a :class:`~geoplan.results.Surfaces` brings its own and is read one
        profile at a time without building its grids).
    max_px : int
        Longest side of the overlay image.

    Returns
    -------
    dict of str to (str, list)
        Per surface a PNG data URI and the overlay's ``[[south, west], [north, east]]``.

    Examples
    --------
    >>> from affine import Affine
    >>> a = np.full((4, 4), 0.5, dtype="float32")
    >>> out = surface_overlays({"p": a}, Affine(1000, 0, 1e6, 0, -1000, 2e6), "EPSG:5179",
    ...                        ["#000000", "#ffffff"])
    >>> out["p"][0].startswith("data:image/png;base64,")
    True
    """
    import base64

    from pyproj import Transformer
    from rasterio.warp import calculate_default_transform

    if not arrays:
        return {}
    shaped = getattr(arrays, "mask", None)  # a Surfaces: no grid built just for its shape
    h, w = (shaped if shaped is not None else arrays[next(iter(arrays))]).shape
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * w, top + transform.e * h
    dst_t, dw, dh = calculate_default_transform(
        crs, "EPSG:3857", w, h, left=left, bottom=bottom, right=right, top=top
    )
    scale = max(dw, dh) / float(max_px)
    if scale > 1:  # keep the overlay image small
        dw, dh = int(dw / scale), int(dh / scale)
        dst_t = dst_t @ dst_t.scale(scale, scale)
    n_dst = dh * dw
    # forward: the centre of each cell that may hold a value -> its display pixel
    cell_values = getattr(arrays, "cell_values", None)  # a Surfaces: values of masked cells
    if cell_values is not None:
        mask = arrays.mask
    elif mask is None:
        mask = np.zeros((h, w), dtype=bool)
        for name in arrays:
            mask |= np.isfinite(arrays[name])
    fwd = Transformer.from_crs(crs, "EPSG:3857", always_xy=True)
    lat = _pixel_lattice(fwd, transform, h, w, ~dst_t)
    by_col = _along_columns(lat, np.arange(w) + 0.5)  # (2, lattice rows, w)
    li, lf = _row_weights(lat, np.arange(h) + 0.5)
    src_all = np.flatnonzero(mask)
    rows, cols = np.divmod(src_all, w)
    i, f = li[rows], lf[rows]
    del rows
    pos = []
    for v in by_col:
        a0 = v[i, cols]
        pos.append(np.floor(a0 + (v[i + 1, cols] - a0) * f).astype("int32"))
    del i, f, cols, a0
    pc, pr = pos
    inside = (pc >= 0) & (pc < dw) & (pr >= 0) & (pr < dh)
    sel = np.flatnonzero(inside) if not inside.all() else slice(None)
    dst = pr[sel].astype("int64") * dw + pc[sel]
    del pos, pc, pr, inside
    # backward: the cell under each display pixel's centre (-1 outside the grid)
    inv = Transformer.from_crs("EPSG:3857", crs, always_xy=True)
    lat_d = _pixel_lattice(inv, dst_t, dh, dw, ~transform)
    by_col = _along_columns(lat_d, np.arange(dw) + 0.5)
    di, df = _row_weights(lat_d, np.arange(dh) + 0.5)
    gc, gr = (np.floor(v[di] + (v[di + 1] - v[di]) * df[:, None]).reshape(-1) for v in by_col)
    near_ok = (gc >= 0) & (gc < w) & (gr >= 0) & (gr < h)
    near = gr[near_ok].astype("int64") * w + gc[near_ok].astype("int64")
    del gc, gr
    # display pixels whose centre cell may hold a value, and that cell's place in src_all
    k = np.minimum(np.searchsorted(src_all, near), max(len(src_all) - 1, 0))
    hit = src_all[k] == near if len(src_all) else np.zeros(len(near), dtype=bool)
    near_pix = np.flatnonzero(near_ok)[hit]
    near_pos = k[hit]
    del near, k, hit, near_ok

    # 63 colour steps (index 0: no data): a sixty-third of the score range per step is finer
    # than the eye reads on a map, and the pictures (the largest part of the page) halve
    lut = _ramp(colors, _STEPS - 1)
    palette = np.vstack([np.zeros((1, 3), dtype="uint8"), lut])
    alpha = np.full(_STEPS, round(0.85 * 255), dtype="uint8")
    alpha[0] = 0
    to_wgs = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    x0, y1 = dst_t.c, dst_t.f
    x1, y0 = x0 + dst_t.a * dw, y1 + dst_t.e * dh
    west, south = to_wgs.transform(x0, y0)
    east, north = to_wgs.transform(x1, y1)
    bounds = [[float(south), float(west)], [float(north), float(east)]]

    out: dict[str, tuple[str, list[list[float]]]] = {}
    fill = np.empty(n_dst, dtype="float32")
    for name in arrays:
        # one surface at a time: the masked cells' values, never all grids at once
        v_all = cell_values(name) if cell_values is not None else arrays[name].reshape(-1)[src_all]
        vals = v_all[sel]
        ok = np.isfinite(vals)
        d, v = (dst, vals) if ok.all() else (dst[ok], vals[ok])
        cnt = np.bincount(d, minlength=n_dst)
        with np.errstate(invalid="ignore", divide="ignore"):
            val = (np.bincount(d, weights=v, minlength=n_dst) / cnt).astype("float32")
        fill.fill(np.nan)
        fill[near_pix] = v_all[near_pos]
        none = cnt == 0
        val[none] = fill[none]
        k = 1.0 + np.rint(np.clip(val, 0.0, 1.0) * (_STEPS - 2))
        index = np.nan_to_num(k, nan=0.0, copy=False).astype("uint8").reshape(dh, dw)
        png = png_palette(index, palette, alpha, level=6)
        out[name] = ("data:image/png;base64," + base64.b64encode(png).decode("ascii"), bounds)
    return out


def surface_overlay(
    array: np.ndarray, transform: Any, crs: str, colors: list[str]
) -> tuple[str, list[list[float]]]:
    """Colour one 0..1 surface and reproject it to Web Mercator for a Leaflet image overlay.

    Returns a PNG data URI and the overlay's ``[[south, west], [north, east]]``
    bounds; see :func:`surface_overlays` (several surfaces of one grid share
    one warp there).

    Examples
    --------
    >>> from affine import Affine
    >>> a = np.full((4, 4), 0.5, dtype="float32")
    >>> uri, b = surface_overlay(a, Affine(1000, 0, 1e6, 0, -1000, 2e6), "EPSG:5179",
    ...                          ["#000000", "#ffffff"])
    >>> uri.startswith("data:image/png;base64,")
    True
    """
    return surface_overlays({"_": array}, transform, crs, colors)["_"]
