"""Terrain slope from a user DEM: the ``slope`` criterion and a slope mask.

This module owns reading a digital elevation model (one raster, a folder of
tiles, or a GDAL VRT), computing slope in degrees with Horn's method on
correct metric pixel sizes, and sampling it at candidate locations. It
registers the criterion kind ``slope`` in :data:`geoplan.criteria.REGISTRY`.

It must not read more of the DEM than the candidates need: candidates are
grouped into blocks of :data:`BLOCK_PX` pixels and, per block, only the
window covering that block's candidates plus a :data:`MARGIN_PX` margin is
mosaicked (across tile edges, with :func:`rasterio.merge.merge`) and
differentiated. The total is estimated before anything is read and refused
above :data:`MAX_READ_BYTES`. It writes nothing and knows nothing of
scenarios; errors a user can cause are one-line
:class:`~geoplan._errors.LayerError` naming the DEM path.

Method (see ``docs/terrain.md``):

* Horn (1981), the 3x3 kernel of ``gdaldem slope``; the east-west
  difference of each of the three kernel rows is divided by that row's own
  pixel width, so the kernel stays exact on a geographic grid whose pixel
  width shrinks with latitude.
* Projected CRS: pixel size times the CRS linear unit (metres).
* Geographic CRS: for each row at latitude phi, pixel width
  ``N(phi) cos(phi) dlon`` and height ``M(phi) dlat`` on the DEM's own
  ellipsoid (``N`` prime-vertical, ``M`` meridional radius of curvature).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from geoplan._errors import LayerError
from geoplan.criteria import register

__all__ = [
    "BLOCK_PX",
    "DEM_SUFFIXES",
    "MARGIN_PX",
    "MAX_READ_BYTES",
    "Dem",
    "horn_slope",
    "open_dem",
    "pixel_sizes_m",
    "read_window",
    "slope",
    "slope_mask",
    "zone_slope_stats",
]

log = logging.getLogger(__name__)

#: File suffixes taken from a DEM folder (top level only, case-insensitive).
DEM_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".hgt", ".vrt")
#: Candidates are grouped into square blocks of this many DEM pixels; one
#: window is read and differentiated per block (bounds peak memory).
BLOCK_PX = 1024
#: Extra pixels read around the candidates so the 3x3 kernel and the
#: bilinear sampling have their neighbours.
MARGIN_PX = 2
#: Refuse to read more than this many bytes of DEM in one call (8 bytes per
#: pixel of the windows read, summed over blocks): 2 GB is 250 million
#: pixels, about 19 square degrees of a 1-arc-second DEM (SRTM 1", GLO-30).
MAX_READ_BYTES = 2_000_000_000


@dataclasses.dataclass(frozen=True)
class Dem:
    """A DEM source: one raster, a folder of tiles, or a VRT, checked to share one grid.

    Attributes
    ----------
    path : Path
        What the user gave (file or folder).
    files : tuple of Path
        The rasters that make up the DEM.
    crs : rasterio.crs.CRS
        Their common CRS.
    res : (float, float)
        Pixel width and height in CRS units (both positive).
    origin : (float, float)
        Left and top edge of the first file: every file lies on the grid
        ``origin + k * res``.
    bounds : (float, float, float, float)
        Union of the files' bounds (left, bottom, right, top).
    file_bounds : tuple
        Each file's bounds, in the order of ``files``.
    """

    path: Path
    files: tuple[Path, ...]
    crs: object
    res: tuple[float, float]
    origin: tuple[float, float]
    bounds: tuple[float, float, float, float]
    file_bounds: tuple[tuple[float, float, float, float], ...]

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True where (x, y), in the DEM's CRS, lies inside one of its files."""
        ok = np.zeros(np.shape(x), dtype=bool)
        for left, bottom, right, top in self.file_bounds:
            ok |= (x >= left) & (x <= right) & (y >= bottom) & (y <= top)
        return ok


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _size(n: float) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return ""  # pragma: no cover


def open_dem(path: str | Path) -> Dem:
    """Check a DEM source and describe it, without reading any elevation.

    Parameters
    ----------
    path : str or Path
        A raster file (GeoTIFF, SRTM ``.hgt``, GDAL ``.vrt``...) or a folder
        whose top-level ``*.tif``, ``*.tiff``, ``*.hgt`` and ``*.vrt`` files
        are tiles of one DEM (same CRS, same pixel size, same pixel grid).

    Returns
    -------
    Dem

    Raises
    ------
    LayerError
        Missing path, empty folder, unreadable file, no CRS, or a tile whose
        CRS, pixel size or pixel grid differs from the first tile's.

    Examples
    --------
    >>> dem = open_dem("dem/")  # doctest: +SKIP
    >>> dem.crs, len(dem.files)  # doctest: +SKIP
    (CRS.from_epsg(4326), 4)
    """
    import rasterio

    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in DEM_SUFFIXES)
        if not files:
            raise LayerError(
                f"{p}: no DEM tiles in this folder; expected {', '.join(DEM_SUFFIXES)} files"
            )
    elif p.is_file():
        files = [p]
    else:
        raise LayerError(f"{p}: no such DEM file or folder")

    ref = None
    bounds = []
    for f in files:
        try:
            with rasterio.open(f) as src:
                crs, tr, b = src.crs, src.transform, tuple(src.bounds)
        except Exception as exc:
            raise LayerError(f"{f}: cannot read DEM ({_first_line(exc)})") from exc
        if crs is None:
            raise LayerError(
                f"{f}: DEM has no CRS; expected a georeferenced raster "
                "(GeoTIFF with a CRS, SRTM .hgt or a .vrt)"
            )
        if tr.b != 0 or tr.d != 0 or tr.a <= 0 or tr.e >= 0:
            raise LayerError(f"{f}: DEM is rotated or flipped; expected a north-up raster")
        if ref is None:
            ref = (f, crs, (tr.a, -tr.e), (tr.c, tr.f))
        else:
            f0, crs0, res0, (x0, y0) = ref
            if crs != crs0:
                raise LayerError(
                    f"{f}: CRS {crs.to_string()} differs from {crs0.to_string()} of {f0.name}; "
                    "all tiles in a DEM folder must share one CRS"
                )
            if not (
                math.isclose(tr.a, res0[0], rel_tol=1e-6)
                and math.isclose(-tr.e, res0[1], rel_tol=1e-6)
            ):
                raise LayerError(
                    f"{f}: pixel size {tr.a:.9g} x {-tr.e:.9g} differs from "
                    f"{res0[0]:.9g} x {res0[1]:.9g} of {f0.name}; build a VRT "
                    "(gdalbuildvrt) to combine DEMs of different resolutions"
                )
            off = ((tr.c - x0) / res0[0], (y0 - tr.f) / res0[1])
            if any(abs(o - round(o)) > 1e-3 for o in off):
                raise LayerError(
                    f"{f}: not on the pixel grid of {f0.name} (offset by a fraction of a "
                    "pixel); build a VRT (gdalbuildvrt) to resample it onto one grid"
                )
        bounds.append(b)
    _, crs, res, origin = ref
    arr = np.asarray(bounds)
    union = (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())
    return Dem(
        path=p,
        files=tuple(files),
        crs=crs,
        res=res,
        origin=origin,
        bounds=tuple(float(v) for v in union),
        file_bounds=tuple(tuple(float(v) for v in b) for b in bounds),
    )


def read_window(
    dem: Dem, rows: tuple[int, int], cols: tuple[int, int]
) -> tuple[np.ndarray, object]:
    """Mosaic rows ``[r0, r1)`` and columns ``[c0, c1)`` of the DEM grid into one array.

    Row and column indices count pixels from :attr:`Dem.origin`; the window
    may extend past the data (filled with NaN). Pixels are copied without
    resampling, across tile edges, so a window spanning a seam is the same
    as if the tiles were one file. Source nodata becomes NaN.

    Parameters
    ----------
    dem : Dem
    rows, cols : (int, int)
        Half-open pixel ranges on the DEM grid.

    Returns
    -------
    z : numpy.ndarray of float64, shape (r1 - r0, c1 - c0)
    transform : affine.Affine
        The window's transform in the DEM's CRS.

    Examples
    --------
    >>> z, tr = read_window(open_dem("dem.tif"), (0, 10), (0, 10))  # doctest: +SKIP
    >>> z.shape  # doctest: +SKIP
    (10, 10)
    """
    import rasterio
    from affine import Affine
    from rasterio.merge import merge

    (r0, r1), (c0, c1) = rows, cols
    rx, ry = dem.res
    x0, y0 = dem.origin
    left, right = x0 + c0 * rx, x0 + c1 * rx
    top, bottom = y0 - r0 * ry, y0 - r1 * ry
    transform = Affine(rx, 0.0, left, 0.0, -ry, top)
    # a small tolerance so a tile that only touches the window is skipped
    tol_x, tol_y = 1e-6 * rx, 1e-6 * ry
    wanted = [
        f
        for f, (bl, bb, br, bt) in zip(dem.files, dem.file_bounds, strict=True)
        if bl < right - tol_x and br > left + tol_x and bb < top - tol_y and bt > bottom + tol_y
    ]
    if not wanted:
        return np.full((r1 - r0, c1 - c0), np.nan), transform
    with ExitStack() as stack, warnings.catch_warnings():
        # rasterio 1.4 multiplies Affine by tuples, which affine 3 marks pending-deprecated
        warnings.filterwarnings("ignore", category=PendingDeprecationWarning, module="rasterio")
        try:
            srcs = [stack.enter_context(rasterio.open(f)) for f in wanted]
            arr, _ = merge(
                srcs,
                bounds=(left, bottom, right, top),
                res=(rx, ry),
                indexes=[1],
                dtype="float64",
                nodata=np.nan,
            )
        except Exception as exc:
            raise LayerError(f"{dem.path}: cannot read DEM ({_first_line(exc)})") from exc
    z = arr[0]
    if z.shape != (r1 - r0, c1 - c0):  # pragma: no cover - merge rounds bounds to whole pixels
        raise LayerError(f"{dem.path}: DEM window read as {z.shape}, expected {(r1 - r0, c1 - c0)}")
    return z, transform


def pixel_sizes_m(transform, crs, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Metric pixel width and height of each row of a north-up grid.

    Parameters
    ----------
    transform : affine.Affine
        The grid's transform (north-up).
    crs : CRS-like
        Its CRS. Projected: pixel size times the linear unit (constant per
        row). Geographic: at each row centre latitude phi, width
        ``N(phi) cos(phi) dlon`` and height ``M(phi) dlat`` on the CRS's
        ellipsoid, with ``N = a / sqrt(1 - e2 sin^2 phi)`` and
        ``M = a (1 - e2) / (1 - e2 sin^2 phi) ** 1.5``.
    height : int
        Number of rows.

    Returns
    -------
    dx, dy : numpy.ndarray of float, shape (height,)
        Metres per pixel east-west and north-south, one value per row.

    Examples
    --------
    >>> from affine import Affine
    >>> dx, dy = pixel_sizes_m(Affine(1 / 3600, 0, 125, 0, -1 / 3600, 40.5), "EPSG:4326", 1)
    >>> round(float(dx[0]), 2), round(float(dy[0]), 2)
    (23.55, 30.85)
    """
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    rx, ry = abs(transform.a), abs(transform.e)
    if not c.is_geographic:
        unit = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
        return np.full(height, rx * unit), np.full(height, ry * unit)
    ang = c.axis_info[0].unit_conversion_factor if c.axis_info else math.pi / 180.0
    ell = c.ellipsoid
    a = ell.semi_major_metre
    e2 = 1.0 - (ell.semi_minor_metre / a) ** 2
    lat = np.radians(transform.f + (np.arange(height) + 0.5) * transform.e)
    w = 1.0 - e2 * np.sin(lat) ** 2
    n = a / np.sqrt(w)
    m = a * (1.0 - e2) / w**1.5
    return n * np.cos(lat) * rx * ang, m * ry * ang


def horn_slope(z: np.ndarray, dx: float | np.ndarray, dy: float | np.ndarray) -> np.ndarray:
    """Slope in degrees with Horn's 3x3 method (as ``gdaldem slope``).

    Parameters
    ----------
    z : (rows, cols) array
        Elevations in metres, north-up; NaN where unknown.
    dx, dy : float or (rows,) array
        Pixel width and height in metres, one value or one per row. With
        per-row widths each kernel row's east-west difference is divided by
        its own width, which equals Horn's formula when they are equal.

    Returns
    -------
    numpy.ndarray of float64, shape of ``z``
        Degrees; NaN on the outer ring and wherever a neighbour is NaN.

    Examples
    --------
    >>> z = np.add.outer(np.zeros(4), np.arange(4.0) * 10.0)  # 10 m rise per 10 m pixel
    >>> horn_slope(z, 10.0, 10.0)[1:-1, 1:-1]
    array([[45., 45.],
           [45., 45.]])
    """
    z = np.asarray(z, dtype=float)
    rows, cols = z.shape
    out = np.full((rows, cols), np.nan)
    if rows < 3 or cols < 3:
        return out
    dx = np.broadcast_to(np.asarray(dx, dtype=float), (rows,))[:, None]
    dy = np.broadcast_to(np.asarray(dy, dtype=float), (rows,))[1:-1, None]
    d = (z[:, 2:] - z[:, :-2]) / dx  # per-row east-west difference / own width
    gx = (d[:-2] + 2.0 * d[1:-1] + d[2:]) / 8.0
    s = z[:, :-2] + 2.0 * z[:, 1:-1] + z[:, 2:]
    gy = (s[:-2] - s[2:]) / (8.0 * dy)  # north minus south
    out[1:-1, 1:-1] = np.degrees(np.arctan(np.hypot(gx, gy)))
    return out


def _scale_warning(dem: Dem, x: np.ndarray, y: np.ndarray) -> None:
    """Warn when a projected DEM's map scale is far from 1 (e.g. Web Mercator)."""
    from pyproj import CRS, Proj, Transformer

    c = CRS.from_wkt(dem.crs.to_wkt())
    if c.is_geographic or not len(x):
        return
    try:
        lon, lat = Transformer.from_crs(c, c.geodetic_crs, always_xy=True).transform(
            float(np.median(x)), float(np.median(y))
        )
        f = Proj(c).get_factors(lon, lat)
        k = max(abs(f.meridional_scale - 1.0), abs(f.parallel_scale - 1.0))
    except Exception:  # pragma: no cover - exotic projections without factors
        return
    if np.isfinite(k) and k > 0.01:
        log.warning(
            "%s: the DEM's projection scales distances by %.3f here; slopes use pixel size "
            "times the CRS unit and are off by that factor. Reproject the DEM to EPSG:5179, "
            "UTM or EPSG:4326.",
            dem.path,
            1.0 + k,
        )


def _plan(dem: Dem, row: np.ndarray, col: np.ndarray) -> list[tuple[np.ndarray, tuple, tuple]]:
    """Group candidates (fractional pixel coordinates) into per-block windows."""
    rx, ry = dem.res
    x0, y0 = dem.origin
    left, bottom, right, top = dem.bounds
    rmin, rmax = math.floor((y0 - top) / ry + 1e-6), math.ceil((y0 - bottom) / ry - 1e-6)
    cmin, cmax = math.floor((left - x0) / rx + 1e-6), math.ceil((right - x0) / rx - 1e-6)
    ir, ic = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
    br, bc = ir // BLOCK_PX, ic // BLOCK_PX
    key = (br - br.min()) * (int(bc.max() - bc.min()) + 1) + (bc - bc.min())
    order = np.argsort(key, kind="stable")
    splits = np.flatnonzero(np.diff(key[order])) + 1
    plan = []
    for idx in np.split(order, splits):
        r0 = max(int(ir[idx].min()) - MARGIN_PX, rmin)
        r1 = min(int(ir[idx].max()) + 1 + MARGIN_PX, rmax)
        c0 = max(int(ic[idx].min()) - MARGIN_PX, cmin)
        c1 = min(int(ic[idx].max()) + 1 + MARGIN_PX, cmax)
        plan.append((idx, (r0, r1), (c0, c1)))
    return plan


@register("slope")
def slope(
    xy: np.ndarray,
    path: str | Path,
    crs: str = "EPSG:5179",
    resampling: str = "bilinear",
    *,
    z_factor: float = 1.0,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Terrain slope in degrees at each candidate, from a DEM file, folder of tiles or VRT.

    The candidates are transformed into the DEM's CRS; only the windows
    covering them (plus :data:`MARGIN_PX` pixels) are read, mosaicked across
    tile edges, and differentiated with :func:`horn_slope` on metric pixel
    sizes (:func:`pixel_sizes_m`); slope is then sampled at each candidate.

    Parameters
    ----------
    xy : (n, 2) array
        Candidate coordinates in ``crs``.
    path : str or Path
        A DEM raster, a folder of DEM tiles, or a ``.vrt`` (see :func:`open_dem`).
    crs : str
        CRS of ``xy`` (the working CRS).
    resampling : {"bilinear", "nearest"}
        Bilinear interpolation between slope pixel centres, or the slope of
        the pixel holding the candidate.
    z_factor : float
        Elevation units to metres (e.g. 0.3048 for feet); SRTM and
        Copernicus DEMs are in metres.
    max_bytes : int, optional
        Refuse above this estimate of bytes read (default
        :data:`MAX_READ_BYTES`).

    Returns
    -------
    numpy.ndarray of float, shape (n,)
        Degrees; NaN for candidates outside the DEM, on its outermost pixel
        ring, or next to nodata (voids).

    Raises
    ------
    LayerError
        The DEM cannot be used (see :func:`open_dem`), no candidate lies
        inside it, or the windows to read exceed ``max_bytes``.

    Examples
    --------
    In a scenario: ``criteria: {slope: {kind: slope, params: {path: dem/}}}``.

    >>> slope(np.array([[1_000_000.0, 2_000_000.0]]), "dem/")  # doctest: +SKIP
    array([3.2])
    """
    from pyproj import Transformer
    from scipy.ndimage import map_coordinates

    if resampling not in ("bilinear", "nearest"):
        raise LayerError(f"{path}: slope resampling '{resampling}'; expected bilinear or nearest")
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    dem = open_dem(path)
    out = np.full(len(xy), np.nan)
    if not len(xy):
        return out
    tr = Transformer.from_crs(crs, dem.crs.to_wkt(), always_xy=True)
    x, y = (np.asarray(v, dtype=float) for v in tr.transform(xy[:, 0], xy[:, 1]))
    ok = dem.inside(x, y) & np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        b = dem.bounds
        raise LayerError(
            f"{dem.path}: none of the {len(xy)} candidates lies inside the DEM "
            f"(DEM bounds {b[0]:.6g}, {b[1]:.6g}, {b[2]:.6g}, {b[3]:.6g} in "
            f"{dem.crs.to_string()}; candidates {np.nanmin(x):.6g}, {np.nanmin(y):.6g}, "
            f"{np.nanmax(x):.6g}, {np.nanmax(y):.6g})"
        )
    if not ok.all():
        log.warning(
            "%s: %d of %d candidates lie outside the DEM; their slope is NaN",
            dem.path,
            int((~ok).sum()),
            len(xy),
        )
    inside = np.flatnonzero(ok)
    x, y = x[inside], y[inside]
    rx, ry = dem.res
    col = (x - dem.origin[0]) / rx
    row = (dem.origin[1] - y) / ry
    plan = _plan(dem, row, col)
    limit = MAX_READ_BYTES if max_bytes is None else int(max_bytes)
    pixels = sum((r1 - r0) * (c1 - c0) for _, (r0, r1), (c0, c1) in plan)
    if pixels * 8 > limit:
        raise LayerError(
            f"{dem.path}: reading the DEM around the candidates needs about "
            f"{_size(pixels * 8)} ({pixels:,} pixels in {len(plan)} windows), above the "
            f"{_size(limit)} limit (geoplan.terrain.MAX_READ_BYTES); use a coarser DEM "
            "(e.g. Copernicus GLO-90) or fewer candidates"
        )
    _scale_warning(dem, x, y)
    for idx, (r0, r1), (c0, c1) in plan:
        z, transform = read_window(dem, (r0, r1), (c0, c1))
        if z_factor != 1.0:
            z = z * float(z_factor)
        dx, dy = pixel_sizes_m(transform, dem.crs, z.shape[0])
        s = horn_slope(z, dx, dy)
        rr, cc = row[idx] - r0, col[idx] - c0
        if resampling == "nearest":
            ri = np.clip(np.floor(rr).astype(int), 0, s.shape[0] - 1)
            ci = np.clip(np.floor(cc).astype(int), 0, s.shape[1] - 1)
            vals = s[ri, ci]
        else:
            vals = map_coordinates(s, [rr - 0.5, cc - 0.5], order=1, mode="constant", cval=np.nan)
        out[inside[idx]] = vals
    return out


#: Like ``raster``, ``slope`` takes ``params`` only, no scenario ``layer``:
#: :func:`geoplan.criteria.evaluate` should call it as ``fn(xy, **params)``.
slope.takes_layer = False


def slope_mask(
    xy: np.ndarray,
    path: str | Path,
    max_deg: float,
    crs: str = "EPSG:5179",
    *,
    nan_ok: bool = False,
    resampling: str = "bilinear",
) -> np.ndarray:
    """True where the terrain is flat enough: slope <= ``max_deg``.

    Parameters
    ----------
    xy : (n, 2) array
        Candidate coordinates in ``crs``.
    path : str or Path
        DEM file, folder of tiles or VRT (see :func:`slope`).
    max_deg : float
        Steepest buildable slope in degrees (e.g. 15).
    crs : str
        CRS of ``xy``.
    nan_ok : bool
        What an unknown slope (outside the DEM, its edge, a void) means. By
        default False: a constraint only passes land it could check (SRTM
        voids lie mostly on steep, radar-shadowed slopes).
    resampling : {"bilinear", "nearest"}

    Returns
    -------
    numpy.ndarray of bool, shape (n,)

    Examples
    --------
    >>> keep = slope_mask(grid_xy, "dem/", 15)  # doctest: +SKIP
    """
    if not (isinstance(max_deg, int | float) and 0 <= max_deg <= 90):
        raise LayerError(f"{path}: max slope {max_deg!r}; expected degrees between 0 and 90")
    s = slope(xy, path, crs=crs, resampling=resampling)
    known = np.isfinite(s)
    ok = np.zeros(len(s), dtype=bool)
    ok[known] = s[known] <= float(max_deg)
    if nan_ok:
        ok[~known] = True
    return ok


def zone_slope_stats(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """Mean and maximum slope of a zone's cells, ignoring NaN (both NaN if none is known).

    Examples
    --------
    >>> zone_slope_stats([2.0, 4.0, float("nan")])
    (3.0, 4.0)
    """
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return math.nan, math.nan
    return float(v.mean()), float(v.max())
