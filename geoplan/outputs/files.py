"""Writing outputs atomically: GeoPackage, Cloud-Optimized GeoTIFF, CSV, run record.

Every file is written to a temporary name in the target folder and renamed
into place, so a failed run never leaves a half-written file and an earlier
good output stays untouched.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geoplan._errors import ExportError
from geoplan._io import atomic_path, write_text_atomic

__all__ = [
    "surface_overlay",
    "write_cog",
    "write_csv",
    "write_geopackage",
    "write_json",
    "write_text",
]


#: Geometry types of geoplan's own layers, for when a run leaves one empty.
_EMPTY_TYPES = {"zones": "MultiPolygon", "sites": "Point", "belts": "MultiPolygon",
                "exclusions": "MultiPolygon"}  # fmt: skip


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
    import datetime as dt

    from geoplan.outputs.qgis_styles import layer_styles_table

    path = Path(path)
    meta = {"geoplan_run": json.dumps(dict(metadata or {}), sort_keys=True, default=str)}
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
    return path


def write_cog(
    path: str | Path,
    array: np.ndarray,
    transform: Any,
    crs: str,
    *,
    description: str,
    tags: Mapping[str, str] | None = None,
    nodata: float = -9999.0,
) -> Path:
    """Write a float32 surface as a Cloud-Optimized GeoTIFF with overviews and tags."""
    if hasattr(array, "write_cog"):  # an on-disk surface (engines/dask.py): window by window
        return array.write_cog(
            path, transform, crs, description=description, tags=tags, nodata=nodata
        )
    from rasterio import shutil as rio_shutil
    from rasterio.io import MemoryFile

    arr = np.where(np.isfinite(array), array, nodata).astype("float32")
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": "float32",
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
    }
    path = Path(path)
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(arr, 1)
            ds.set_band_description(1, description)
            ds.update_tags(**dict(tags or {}))
        with mem.open() as src, atomic_path(path) as tmp:
            cog_profile = {
                "driver": "COG",
                "compress": "DEFLATE",
                "predictor": "2",
                "blocksize": 512,
                "overview_resampling": "average",
            }
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


def surface_overlay(
    array: np.ndarray, transform: Any, crs: str, colors: list[str]
) -> tuple[str, list[list[float]]]:
    """Colour a 0..1 surface and reproject it to Web Mercator for a Leaflet image overlay.

    Returns a PNG data URI and the overlay's ``[[south, west], [north, east]]``
    bounds. Reprojecting to EPSG:3857 first keeps the picture aligned with the
    vector layers (Leaflet stretches an image linearly in Web Mercator).
    """
    import base64

    import matplotlib
    from matplotlib.colors import LinearSegmentedColormap
    from pyproj import Transformer
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    matplotlib.use("Agg")
    h, w = array.shape
    left, top = transform.c, transform.f
    right, bottom = left + transform.a * w, top + transform.e * h
    dst_t, dw, dh = calculate_default_transform(
        crs, "EPSG:3857", w, h, left=left, bottom=bottom, right=right, top=top
    )
    scale = max(dw, dh) / 1200.0
    if scale > 1:  # keep the overlay image small
        dw, dh = int(dw / scale), int(dh / scale)
        dst_t = dst_t @ dst_t.scale(scale, scale)
    dst = np.full((dh, dw), np.nan, dtype="float32")
    reproject(
        array.astype("float32"),
        dst,
        src_transform=transform,
        src_crs=crs,
        dst_transform=dst_t,
        dst_crs="EPSG:3857",
        src_nodata=np.nan,
        dst_nodata=np.nan,
        resampling=Resampling.average,
    )
    cmap = LinearSegmentedColormap.from_list("geoplan", colors)
    rgba = cmap(np.clip(np.nan_to_num(dst, nan=0.0), 0, 1))
    rgba[..., 3] = np.where(np.isfinite(dst), 0.85, 0.0)
    buf = io.BytesIO()
    import matplotlib.pyplot as plt

    plt.imsave(buf, rgba, format="png")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    tr = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    x0, y1 = dst_t.c, dst_t.f
    x1, y0 = x0 + dst_t.a * dw, y1 + dst_t.e * dh
    west, south = tr.transform(x0, y0)
    east, north = tr.transform(x1, y1)
    return uri, [[south, west], [north, east]]
