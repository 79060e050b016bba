"""Criteria: raw values for candidate locations, aligned to the candidates.

Every criterion takes candidate coordinates ``xy`` (n, 2) in the working CRS
(grid cell centres, site points or zone centroids) and returns a float array
of length n in the same order. Zone values are the mean of their cells'
values (see :mod:`geoplan.candidates`), so a zone and its cells agree.

Network travel time plugs in through :data:`REGISTRY` (``register``): a
criterion kind is just a function ``f(xy, layers, **params) -> array``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan._errors import LayerError, ScenarioError

__all__ = [
    "REGISTRY",
    "count_within",
    "distance_to",
    "evaluate",
    "inside",
    "nearest_attribute",
    "param_problems",
    "population_within",
    "raster_sample",
    "register",
    "select",
]

CriterionFn = Callable[..., np.ndarray]
REGISTRY: dict[str, CriterionFn] = {}


def register(kind: str) -> Callable[[CriterionFn], CriterionFn]:
    """Decorator: make a function available as criterion ``kind`` in scenarios."""

    def deco(fn: CriterionFn) -> CriterionFn:
        REGISTRY[kind] = fn
        return fn

    return deco


def select(
    gdf: gpd.GeoDataFrame, where: Mapping[str, Any] | None, *, name: str
) -> gpd.GeoDataFrame:
    """Filter a layer by ``{field: value or [values]}``; error if a field is missing."""
    if not where:
        return gdf
    mask = np.ones(len(gdf), dtype=bool)
    for field, value in where.items():
        if field not in gdf.columns:
            raise LayerError(
                f"layer '{name}' field '{field}': not present (criteria.where); "
                f"fields: {', '.join(c for c in gdf.columns if c != gdf.geometry.name)}"
            )
        values = value if isinstance(value, list) else [value]
        mask &= gdf[field].astype(str).isin([str(v) for v in values]).to_numpy()
    out = gdf.loc[mask]
    if out.empty:
        raise LayerError(f"layer '{name}': no feature matches where={dict(where)}")
    return out


def _geoms(layer: gpd.GeoDataFrame) -> np.ndarray:
    g = layer.geometry.to_numpy()
    return g[~(shapely.is_missing(g) | shapely.is_empty(g))]


@register("distance_to")
def distance_to(
    xy: np.ndarray,
    layer: gpd.GeoDataFrame,
    tolerance_m: float | None = None,
    saturate_m: float | None = None,
) -> np.ndarray:
    """Metres from each candidate to the nearest feature.

    Exact (shapely STRtree, one query per candidate) by default. With
    ``tolerance_m`` (the pipeline passes half a grid cell for the grid's
    millions of cells) the candidates are grouped in squares and each square
    measures only the straight pieces of lines, polygon outlines and points
    that can be nearest to one of its cells (:func:`_distance_segments`): the
    distances are still exact, to round-off, and do not depend on which other
    candidates are passed (chunks of an engine agree bit for bit). Candidates
    inside a polygon get 0.

    Layers whose pieces are shorter than a cell on average (densely sampled
    lines) fall back to a k-d tree over vertices densified to
    ``2 * tolerance_m``: each distance is then at most ``tolerance_m`` too
    long, never short; ``saturate_m`` (where a falling transform reaches 0)
    lets farther candidates be answered from outlines densified to
    ``saturate_m / 20`` (at most 2.5 % too long).

    Examples
    --------
    >>> import geopandas as gpd
    >>> road = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1000, 0)])])
    >>> distance_to(np.array([[500.0, 300.0], [1300.0, 400.0]]), road, tolerance_m=50.0)
    array([300., 500.])
    """
    geoms = _geoms(layer)
    if tolerance_m is not None and len(geoms):
        return _distance_fast(xy, geoms, float(tolerance_m), saturate_m)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(xy)
    (_, _), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype=float)


def _distance_fast(
    xy: np.ndarray, geoms: np.ndarray, tol: float, saturate: float | None = None
) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    polys = geoms[(types == 3) | (types == 6)]
    outline = np.concatenate([shapely.boundary(polys), geoms[(types != 3) & (types != 6)]])
    segs = _segments(outline)
    side = _bucket_side(segs, tol) if len(segs) else None
    if side is None:
        dist = _distance_kdtree(xy, outline, tol, saturate)
    else:
        dist = _distance_segments(xy, segs, side)
    if len(polys):
        area = shapely.union_all(polys)
        shapely.prepare(area)
        dist[shapely.contains_xy(area, xy[:, 0], xy[:, 1])] = 0.0
    return dist


def _segments(outline: np.ndarray) -> np.ndarray:
    """The straight pieces of lines, rings and points as an (m, 4) array x1, y1, x2, y2.

    A point is a piece of length 0 (x1 == x2, y1 == y2).
    """
    parts = shapely.get_parts(outline)
    parts = parts[~shapely.is_empty(parts)]
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if not len(coords):
        return np.zeros((0, 4))
    same = idx[1:] == idx[:-1]
    segs = np.hstack([coords[:-1][same], coords[1:][same]])
    # parts with a single coordinate (points) become pieces of length 0
    counts = np.bincount(idx, minlength=len(parts))
    single = np.flatnonzero(counts[idx] == 1)
    if len(single):
        segs = np.vstack([segs, np.hstack([coords[single], coords[single]])])
    return segs


def _bucket_side(segs: np.ndarray, tol: float) -> float | None:
    """Side of the square buckets candidates are grouped in; None: use the k-d tree instead.

    Depends only on the layer and ``tol`` (never on the candidates), so every
    chunk of candidates is bucketed alike.
    """
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])  # pragma: no mutate
    lines = length > 0
    if not lines.any():
        return 32.0 * tol  # pragma: no mutate
    mean = float(length[lines].mean())
    if mean < 2.0 * tol:  # pieces shorter than a cell: many per bucket
        return None
    return float(np.clip(4.0 * mean, 8.0 * tol, 64.0 * tol))  # pragma: no mutate


def _buckets(xy: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Group points in squares of ``side`` aligned to multiples of it.

    Returns the squares' centres ``cx, cy`` (one per square holding a point),
    per point the number of its square (0..len(cx), int32) and the squares'
    keys. The squares do not depend on which points are passed.
    """
    n = len(xy)
    # squares aligned to multiples of ``side``; keys per block of candidates (no n-sized
    # float temporaries), then numbered 0..len(used) in a dense lookup table
    kx0 = math.floor(float(xy[:, 0].min()) / side)
    ky0 = math.floor(float(xy[:, 1].min()) / side)
    nbx = math.floor(float(xy[:, 0].max()) / side) - kx0 + 1
    nby = math.floor(float(xy[:, 1].max()) / side) - ky0 + 1
    block = 1 << 16  # pragma: no mutate

    def keys(lo: int, hi: int) -> np.ndarray:
        kx = np.floor(xy[lo:hi, 0] / side) - kx0
        ky = np.floor(xy[lo:hi, 1] / side) - ky0
        ky *= nbx
        ky += kx
        return ky.astype(np.int64)

    if nbx * nby <= max(4 * n, 1 << 20):  # pragma: no mutate
        lookup = np.zeros(nbx * nby, dtype=np.int64)
        for lo in range(0, n, block):
            lookup[keys(lo, min(n, lo + block))] = 1
        used = np.flatnonzero(lookup)
        lookup[used] = np.arange(len(used))
        bucket = np.empty(n, dtype=np.int32 if len(used) < 2**31 else np.int64)  # pragma: no mutate
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            bucket[lo:hi] = lookup[keys(lo, hi)]
        del lookup
    else:  # candidates spread thinly over a wide area
        used, bucket = np.unique(
            np.concatenate([keys(lo, min(n, lo + block)) for lo in range(0, n, block)]),
            return_inverse=True,
        )
    cx = (used % nbx + kx0 + 0.5) * side
    cy = (used // nbx + ky0 + 0.5) * side
    return cx, cy, bucket, used


def _distance_segments(
    xy: np.ndarray, segs: np.ndarray, side: float, return_index: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Exact distance from each point to the nearest piece, pieces searched per bucket.

    Candidates are grouped in squares of ``side`` (aligned to multiples of
    it, so the grouping does not depend on which candidates are passed). For
    a square with centre ``c`` and half diagonal ``r``, the piece nearest to
    any of its points lies within ``d(c) + 2 r`` of ``c``; only those pieces
    are measured, with the same arithmetic for every point, so the minimum
    is the exact nearest distance whatever the grouping. With
    ``return_index`` the number of the nearest piece is returned too (the
    lowest of equally near pieces).
    """
    n = len(xy)
    out = np.empty(n)
    nearest = np.zeros(n if return_index else 0, dtype=np.int64)
    if not n:
        return (out, nearest) if return_index else out
    cx, cy, bucket, used = _buckets(xy, side)
    seg_geoms = shapely.linestrings(segs.reshape(-1, 2, 2))
    tree = shapely.STRtree(seg_geoms)
    centres = shapely.points(cx, cy)
    (_, _), dc = tree.query_nearest(centres, return_distance=True, all_matches=False)
    reach = dc + side * math.sqrt(2.0)
    reach += 1e-9 * (reach + abs(cx) + abs(cy)) + 1e-6 * side  # pragma: no mutate; round-off margin
    bi, si = tree.query(centres, predicate="dwithin", distance=reach)
    # each square's pieces nearest first: a piece whose lower bound (its distance from the
    # centre less the point's) exceeds the best distance so far cannot be nearer
    ds = shapely.distance(centres[bi], seg_geoms[si])
    del centres, seg_geoms, tree
    order = np.lexsort((si, ds, bi))
    bi, si, ds = bi[order], si[order], ds[order]
    count = np.bincount(bi, minlength=len(used))
    width = int(count.max())
    rank = np.arange(len(bi)) - np.repeat(np.cumsum(count) - count, count)
    piece = np.zeros((len(used), width), dtype=np.int64)
    piece[bi, rank] = si
    bound = np.full((len(used), width), np.inf)
    bound[bi, rank] = ds
    del bi, si, ds, rank, order
    ax, ay = segs[:, 0], segs[:, 1]
    dx = segs[:, 2] - ax
    dy = segs[:, 3] - ay
    l2 = dx * dx + dy * dy
    inv = np.divide(1.0, l2, out=np.zeros_like(l2), where=l2 > 0)
    points_only = not (l2 > 0).any()  # pragma: no mutate
    slack = 1e-6 * side  # round-off in the bounds; never prunes a piece that could be nearer
    block = 1 << 16  # pragma: no mutate (block size: speed only)
    for lo in range(0, n, block):
        hi = min(n, lo + block)
        b = bucket[lo:hi]
        px, py = xy[lo:hi, 0], xy[lo:hi, 1]
        rp = np.hypot(px - cx[b], py - cy[b])  # pragma: no mutate
        best = np.full(hi - lo, np.inf)
        for k in range(width):
            if k == 0:
                sel = None
                bb, qx, qy = b, px, py
            else:
                low = bound[b, k] - rp
                low -= slack
                np.maximum(low, 0.0, out=low)
                low *= low
                sel = np.flatnonzero(low <= best)  # pragma: no mutate (tie: same distance)
                if not len(sel):
                    # bounds grow with k: no later piece can be nearer either
                    break  # pragma: no mutate
                bb, qx, qy = b[sel], px[sel], py[sel]
            s = piece[bb, k]
            ex = qx - ax[s]
            ey = qy - ay[s]
            if points_only:
                d2 = ex * ex + ey * ey
            else:
                d2 = _piece_d2(ex, ey, dx[s], dy[s], l2[s], inv[s])
            if sel is None:
                best = d2
                if return_index:
                    arg = s
            elif return_index:
                cur, was = best[sel], arg[sel]
                better = (d2 < cur) | ((d2 == cur) & (s < was))
                best[sel] = np.where(better, d2, cur)
                arg[sel] = np.where(better, s, was)
            else:
                best[sel] = np.minimum(best[sel], d2)
        np.sqrt(best, out=out[lo:hi])
        if return_index:
            nearest[lo:hi] = arg
    return (out, nearest) if return_index else out


def _piece_d2(
    ex: np.ndarray, ey: np.ndarray, dx: np.ndarray, dy: np.ndarray, l2: np.ndarray, inv: np.ndarray
) -> np.ndarray:
    """Squared distance from points (offsets ``ex, ey`` from a piece's start) to the piece.

    GEOS's case split: before the start or past the end, the distance to
    that end; in between, to the line through the piece (exactly 0 on it).
    """
    dot = ex * dx + ey * dy
    cross = ex * dy - ey * dx
    d2 = cross * cross * inv
    before = np.flatnonzero(dot <= 0.0)  # pragma: no mutate (dot 0: same point)
    if len(before):
        d2[before] = ex[before] ** 2 + ey[before] ** 2
    past = np.flatnonzero(dot >= l2)
    if len(past):
        d2[past] = (ex[past] - dx[past]) ** 2 + (ey[past] - dy[past]) ** 2
    return d2


def _distance_kdtree(
    xy: np.ndarray, outline: np.ndarray, tol: float, saturate: float | None = None
) -> np.ndarray:
    from scipy.spatial import cKDTree

    coords = shapely.get_coordinates(shapely.segmentize(outline, max(2.0 * tol, 1e-3)))
    # shared vertices (line ends, ring closures) once: the same nearest distances, a smaller tree
    coords = np.unique(coords, axis=0)
    if saturate is None or not np.isfinite(saturate) or saturate <= 40 * tol:  # pragma: no mutate
        dist, _ = cKDTree(coords).query(xy, k=1, workers=-1)  # pragma: no mutate
    else:
        dist, _ = cKDTree(coords).query(
            xy,
            k=1,
            workers=-1,  # pragma: no mutate
            distance_upper_bound=float(saturate),
        )
        far = ~np.isfinite(dist)
        if far.any():
            coarse = shapely.get_coordinates(shapely.segmentize(outline, saturate / 20.0))
            dist[far], _ = cKDTree(coarse).query(xy[far], k=1, workers=-1)  # pragma: no mutate
    return dist


@register("nearest_attribute")
def nearest_attribute(xy: np.ndarray, layer: gpd.GeoDataFrame, field: str) -> np.ndarray:
    """Value of ``field`` of the nearest feature (e.g. the nearest port's capacity)."""
    if field not in layer.columns:
        raise LayerError(f"field '{field}': not in the layer (nearest_attribute)")
    geoms = layer.geometry.to_numpy()
    col = layer[field]
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if col.notna().any() and np.isnan(values).all():
        raise LayerError(f"field '{field}': must be numeric (nearest_attribute), got text")
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if ok.any() and (shapely.get_type_id(geoms[ok]) == 0).all():
        # points only: the nearest point by squares of candidates, without a shapely point
        # per candidate; the square size depends on the layer only (engines' chunks agree)
        pts = shapely.get_coordinates(geoms[ok])
        if len(pts) == 1 or not len(xy):
            return np.full(len(xy), values[np.flatnonzero(ok)[0]])
        w, h = np.ptp(pts, axis=0)
        side = max(
            math.sqrt(w * h / len(pts)) / 4.0,  # pragma: no mutate
            max(w, h) / (4.0 * len(pts)),  # pragma: no mutate
            1_000.0,  # pragma: no mutate
        )
        _, near = _distance_segments(xy, np.hstack([pts, pts]), side, return_index=True)
        return values[np.flatnonzero(ok)[near]]
    tree = shapely.STRtree(geoms)
    idx = tree.query_nearest(shapely.points(xy), all_matches=False)
    out = np.empty(len(xy))
    out[idx[0]] = values[idx[1]]
    return out


def _point_xy(layer: gpd.GeoDataFrame) -> np.ndarray:
    pts = layer.geometry.representative_point()
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


@register("population_within")
def population_within(
    xy: np.ndarray,
    layer: gpd.GeoDataFrame,
    radius_m: float = 30_000.0,
    field: str = "population",
    mode: str = "sum",
    decay_m: float = 10_000.0,
) -> np.ndarray:
    """People within ``radius_m`` (``sum``) or gravity-weighted (``gravity``: exp(-d/decay)).

    Returns the population sum (or the distance-decayed sum) over the
    layer's places within the radius of each candidate.
    """
    if field not in layer.columns:
        raise LayerError(f"field '{field}': not in the layer (population_within)")
    col = layer[field]
    pop = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if col.notna().any() and np.isnan(pop).all():
        raise LayerError(f"field '{field}': must be numeric (population_within), got text")
    pop = np.nan_to_num(pop, nan=0.0, posinf=0.0, neginf=0.0)
    pxy = _point_xy(layer)
    out = np.zeros(len(xy))
    keep = pop > 0
    pxy, pop = pxy[keep], pop[keep]
    if not len(xy) or not len(pop) or not radius_m > 0:
        return out
    # candidates in squares of radius / 8: a square wholly inside a place's circle gets the
    # place's people at once (sum mode); only squares on the circle test cell by cell
    side = float(radius_m) / 8.0  # pragma: no mutate
    cx, cy, bucket, _ = _buckets(xy, side)
    order = np.argsort(bucket, kind="stable")
    stop = np.cumsum(np.bincount(bucket, minlength=len(cx)))
    start = stop - np.bincount(bucket, minlength=len(cx))
    half = side * math.sqrt(0.5)
    whole = np.zeros(len(cx))
    gravity = mode == "gravity"
    for (px, py), p in zip(pxy, pop, strict=True):  # pragma: no mutate (same lengths)
        dc = np.hypot(cx - px, cy - py)
        edge = np.flatnonzero((dc - half <= radius_m) & ((dc + half > radius_m) | gravity))
        if not gravity:
            inside = dc + half <= radius_m
            whole[inside] += p
        if not len(edge):
            continue
        idx = np.concatenate([order[start[b] : stop[b]] for b in edge])
        d = np.hypot(xy[idx, 0] - px, xy[idx, 1] - py)
        near = d <= radius_m
        idx = idx[near]
        out[idx] += p * np.exp(-d[near] / decay_m) if gravity else p
    out += whole[bucket]
    return out


@register("count_within")
def count_within(xy: np.ndarray, layer: gpd.GeoDataFrame, radius_m: float = 20_000.0) -> np.ndarray:
    """Number of the layer's features within ``radius_m`` (density = count / pi r^2)."""
    tree = shapely.STRtree(_geoms(layer))
    pts = shapely.points(xy)
    idx = tree.query(pts, predicate="dwithin", distance=radius_m)
    return np.bincount(idx[0], minlength=len(xy)).astype(float)


@register("inside")
def inside(xy: np.ndarray, layer: gpd.GeoDataFrame, buffer_m: float = 0.0) -> np.ndarray:
    """1 where the candidate lies in (or within ``buffer_m`` of) a feature, else 0."""
    geom = shapely.union_all(_geoms(layer))
    if buffer_m > 0:
        geom = shapely.buffer(geom, buffer_m)
    shapely.prepare(geom)
    return shapely.contains_xy(geom, xy[:, 0], xy[:, 1]).astype(float)


@register("raster")
def raster_sample(
    xy: np.ndarray, path: str, crs: str = "EPSG:5179", band: int = 1, resampling: str = "bilinear"
) -> np.ndarray:
    """Value of a raster (DEM slope, population density…) at each candidate.

    The candidates are transformed into the raster's CRS and sampled there
    (nearest pixel for ``resampling="nearest"``, bilinear otherwise); nodata
    becomes NaN. Zones take the mean of their cells, i.e. zonal statistics.
    """
    import rasterio
    from pyproj import Transformer

    p = Path(path)
    if not p.is_file():
        raise LayerError(f"{p}: no such raster")
    try:
        src = rasterio.open(p)
    except Exception as exc:
        raise LayerError(f"{p}: cannot read raster ({exc})") from exc
    with src:
        if src.crs is None:
            raise LayerError(f"{p}: raster has no CRS; expected a georeferenced raster")
        tr = Transformer.from_crs(crs, src.crs, always_xy=True)
        rx, ry = tr.transform(xy[:, 0], xy[:, 1])
        arr = src.read(band, masked=True).astype(float).filled(np.nan)
        inv = ~src.transform
        rx, ry = np.asarray(rx), np.asarray(ry)
        col = inv.a * rx + inv.b * ry + inv.c
        row = inv.d * rx + inv.e * ry + inv.f
        if resampling == "nearest":
            r = np.floor(row).astype(int)
            c = np.floor(col).astype(int)
            ok = (r >= 0) & (r < src.height) & (c >= 0) & (c < src.width)
            out = np.full(len(xy), np.nan)
            out[ok] = arr[r[ok], c[ok]]
            return out
        from scipy.ndimage import map_coordinates

        return map_coordinates(arr, [row - 0.5, col - 0.5], order=1, mode="constant", cval=np.nan)


#: Parameters the pipeline passes itself; never set in a scenario.
_INTERNAL = {"xy", "layer", "layers", "tolerance_m", "saturate_m"}


def _params_of(fn: CriterionFn) -> dict[str, inspect.Parameter]:
    sig = inspect.signature(fn)
    return {k: p for k, p in sig.parameters.items() if k not in _INTERNAL}


def _expected(p: inspect.Parameter) -> str:
    ann = str(p.annotation) if p.annotation is not inspect.Parameter.empty else ""
    if "bool" in ann:
        return "bool"
    if ann.startswith(("float", "int")) or isinstance(p.default, (int, float)):
        return "number"
    if ann.startswith("str") or isinstance(p.default, str):
        return "text"
    if "Mapping" in ann or "dict" in ann:
        return "mapping"
    if "list" in ann or "tuple" in ann:
        return "list"
    return "any"


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "bool":
        return isinstance(value, bool)
    if expected == "number":
        return value is None or (
            isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        )
    if expected == "text":
        return isinstance(value, str)
    if expected == "mapping":
        return value is None or isinstance(value, Mapping)
    if expected == "list":
        return isinstance(value, (list, tuple, str))
    return True


def _fields(gdf: gpd.GeoDataFrame) -> str:
    return ", ".join(c for c in gdf.columns if c != gdf.geometry.name) or "none"


#: Parameters that name a field of the criterion's layer.
_FIELD_PARAMS = ("field",)


def param_problems(spec: Any, layers: Mapping[str, gpd.GeoDataFrame] | None = None) -> list[str]:
    """Check a criterion spec against its kind's parameters and its layer; one line per problem.

    Parameters
    ----------
    spec : CriterionSpec
        From the scenario (``name``, ``kind``, ``layer``, ``where``, ``params``).
    layers : mapping, optional
        Loaded layers; when given, the layer's fields are checked too
        (``where`` fields and field-naming parameters such as ``field``).

    Returns
    -------
    list of str

    Examples
    --------
    >>> from geoplan.scenario import load_scenario
    >>> spec = load_scenario().criteria["labour_pool"]
    >>> import dataclasses
    >>> param_problems(dataclasses.replace(spec, params={"radius": 30000}))  # doctest: +ELLIPSIS
    ["criteria.labour_pool.params.radius: unknown parameter of population_within; did you mean ...
    """
    import difflib

    where = f"criteria.{spec.name}"
    if spec.kind not in REGISTRY:
        close = difflib.get_close_matches(spec.kind, list(REGISTRY), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return [f"{where}.kind: unknown '{spec.kind}'{hint} (kinds: {', '.join(sorted(REGISTRY))})"]
    fn = REGISTRY[spec.kind]
    known = _params_of(fn)
    out = []
    for k, v in spec.params.items():
        if k not in known:
            close = difflib.get_close_matches(str(k), list(known), n=1, cutoff=0.5)
            hint = (
                f"; did you mean '{close[0]}'?"
                if close
                else (f"; expected one of: {', '.join(known)}" if known else "; it takes none")
            )
            out.append(f"{where}.params.{k}: unknown parameter of {spec.kind}{hint}")
            continue
        exp = _expected(known[k])
        if not _type_ok(v, exp):
            out.append(f"{where}.params.{k}: must be {_ARTICLE[exp]}, got {v!r:.60}")
        elif (bad := _range_problem(k, v)) is not None:
            out.append(f"{where}.params.{k}: {bad}")
    for k, p in known.items():
        if p.default is inspect.Parameter.empty and k not in spec.params:
            out.append(f"{where}.params.{k}: missing (needed by {spec.kind})")
    if layers is not None and spec.layer is not None and spec.layer in layers:
        gdf = layers[spec.layer]
        for f in spec.where:
            if f not in gdf.columns:
                out.append(
                    f"{where}.where.{f}: layer '{spec.layer}' has no field '{f}' "
                    f"(fields: {_fields(gdf)})"
                )
        for k in _FIELD_PARAMS:
            f = spec.params.get(k, known[k].default if k in known else None)
            if isinstance(f, str) and f not in gdf.columns:
                out.append(
                    f"{where}.params.{k}: layer '{spec.layer}' has no field '{f}' "
                    f"(fields: {_fields(gdf)})"
                )
    path = spec.params.get("path")
    if spec.kind in ("raster", "slope") and isinstance(path, str) and not Path(path).exists():
        out.append(f"{where}.params.path: {path}: no such file or folder")
    return out


#: Parameters with a range: (lowest, lowest allowed itself?, whole number?).
_RANGES = {
    "radius_m": (0.0, False, False),
    "decay_m": (0.0, False, False),
    "buffer_m": (0.0, True, False),
    "band": (1.0, True, True),
}
#: Parameters with a fixed set of values.
_CHOICES = {"mode": ("sum", "gravity"), "resampling": ("bilinear", "nearest")}


def _range_problem(key: str, value: Any) -> str | None:
    """Why ``value`` is out of range for parameter ``key`` (None when it is fine)."""
    if key in _CHOICES and isinstance(value, str) and value not in _CHOICES[key]:
        return f"must be one of {', '.join(_CHOICES[key])}, got {value!r:.60}"
    if key not in _RANGES or not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    lo, inclusive, whole = _RANGES[key]
    if whole and float(value) != int(value):
        return f"must be a whole number, got {value!r}"
    if value < lo or (value == lo and not inclusive):
        return f"must be {'at least' if inclusive else 'more than'} {lo:g}, got {value!r}"
    return None


_ARTICLE = {
    "bool": "true or false",
    "number": "a finite number",
    "text": "text",
    "mapping": "a mapping",
    "list": "a list",
    "any": "a value",
}


def evaluate(
    xy: np.ndarray,
    spec: Any,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    tolerance_m: float | None = None,
    saturate_m: float | None = None,
    crs: str | None = None,
) -> np.ndarray:
    """Compute one criterion from its scenario spec for the candidates ``xy``.

    ``tolerance_m`` and ``saturate_m`` let distance criteria trade exactness
    for speed on grids (see :func:`distance_to`). Errors name the criterion,
    its kind and layer, and the fields the layer has.

    Examples
    --------
    >>> from geoplan import layers as L
    >>> from geoplan.scenario import load_scenario
    >>> spec = load_scenario().criteria["port_distance"]
    >>> d = evaluate(np.array([[950_000.0, 1_950_000.0]]), spec, L.load_all(names=["ports"]))
    >>> d.shape
    (1,)
    """
    problems = param_problems(spec, layers)
    if problems:
        raise ScenarioError(problems)
    kind = spec.kind
    params = dict(spec.params)
    where = f"criteria.{spec.name} ({kind}"
    if kind in ("raster", "slope"):
        if crs is not None:
            params.setdefault("crs", crs)
        try:
            return np.asarray(REGISTRY[kind](xy, **params), dtype=float)
        except LayerError as exc:
            raise LayerError(f"{where}): {exc}") from exc
    layer_name = spec.layer
    if layer_name not in layers:
        raise ScenarioError(f"{where}).layer: '{layer_name}' is not a loaded layer")
    where += f" on layer '{layer_name}')"
    try:
        layer = select(layers[layer_name], spec.where, name=layer_name)
    except LayerError as exc:
        raise LayerError(f"{where}: {exc}") from exc
    if not len(_geoms(layer)):
        raise LayerError(f"{where}: no feature with a geometry to measure from")
    if kind == "distance_to" and tolerance_m is not None:
        params.setdefault("tolerance_m", tolerance_m)
        if saturate_m is not None:
            params.setdefault("saturate_m", saturate_m)
    fn = REGISTRY[kind]
    if getattr(fn, "needs_layers", False):
        params["layers"] = layers
    try:
        return np.asarray(fn(xy, layer, **params), dtype=float)
    except LayerError as exc:
        raise LayerError(f"{where}: {exc} (fields: {_fields(layer)})") from exc
