"""Criteria: raw values for candidate locations, aligned to the candidates.

Every criterion takes candidate coordinates ``xy`` (n, 2) in the working CRS
(grid cell centres, site points or zone centroids) and returns a float array
of length n in the same order. Zone values are the mean of their cells'
values (see :mod:`geoplan.candidates`), so a zone and its cells agree.

Network travel time plugs in through :data:`REGISTRY` (``register``): a
criterion kind is just a function ``f(xy, layers, **params) -> array``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.spatial import cKDTree

from geoplan._errors import LayerError, ScenarioError

__all__ = [
    "REGISTRY",
    "count_within",
    "distance_to",
    "evaluate",
    "inside",
    "nearest_attribute",
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

    Exact (shapely STRtree) by default. With ``tolerance_m`` (the pipeline
    passes half a grid cell for grid candidates, below the cell-centre error
    of a raster proximity) lines and polygon
    outlines are densified to vertices at most ``2 * tolerance_m`` apart and
    a k-d tree answers, so each distance is at most ``tolerance_m`` too long;
    points stay exact and candidates inside a polygon get 0.

    ``saturate_m`` (with ``tolerance_m``): beyond this distance the score no
    longer changes (a falling transform has reached 0), so farther
    candidates are answered from outlines densified to ``saturate_m / 20``:
    their distances are at most 2.5 % too long. This keeps the k-d tree
    search short where it is slow, far from every feature.
    """
    geoms = _geoms(layer)
    if tolerance_m is not None and len(geoms):
        return _distance_kdtree(xy, geoms, float(tolerance_m), saturate_m)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(xy)
    (_, _), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
    return np.asarray(dist, dtype=float)


def _distance_kdtree(
    xy: np.ndarray, geoms: np.ndarray, tol: float, saturate: float | None = None
) -> np.ndarray:
    types = shapely.get_type_id(geoms)
    polys = geoms[(types == 3) | (types == 6)]
    outline = np.concatenate([shapely.boundary(polys), geoms[(types != 3) & (types != 6)]])
    coords = shapely.get_coordinates(shapely.segmentize(outline, max(2.0 * tol, 1e-3)))
    if saturate is None or not np.isfinite(saturate) or saturate <= 40 * tol:
        dist, _ = cKDTree(coords).query(xy, k=1, workers=-1)
    else:
        dist, _ = cKDTree(coords).query(xy, k=1, workers=-1, distance_upper_bound=float(saturate))
        far = ~np.isfinite(dist)
        if far.any():
            coarse = shapely.get_coordinates(shapely.segmentize(outline, saturate / 20.0))
            dist[far], _ = cKDTree(coarse).query(xy[far], k=1, workers=-1)
    if len(polys):
        area = shapely.union_all(polys)
        shapely.prepare(area)
        dist[shapely.contains_xy(area, xy[:, 0], xy[:, 1])] = 0.0
    return dist


@register("nearest_attribute")
def nearest_attribute(xy: np.ndarray, layer: gpd.GeoDataFrame, field: str) -> np.ndarray:
    """Value of ``field`` of the nearest feature (e.g. the nearest port's capacity)."""
    if field not in layer.columns:
        raise LayerError(f"field '{field}': not in the layer (nearest_attribute)")
    geoms = layer.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    idx = tree.query_nearest(shapely.points(xy), all_matches=False)
    values = layer[field].to_numpy(dtype=float, na_value=np.nan)
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
    pop = layer[field].to_numpy(dtype=float, na_value=0.0)
    pxy = _point_xy(layer)
    out = np.zeros(len(xy))
    tree = cKDTree(xy)
    for (px, py), p in zip(pxy, pop, strict=True):
        if p <= 0:
            continue
        idx = tree.query_ball_point((px, py), radius_m)
        if not idx:
            continue
        idx = np.asarray(idx)
        if mode == "gravity":
            d = np.hypot(xy[idx, 0] - px, xy[idx, 1] - py)
            out[idx] += p * np.exp(-d / decay_m)
        else:
            out[idx] += p
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


def evaluate(
    xy: np.ndarray,
    spec: Mapping[str, Any],
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    name: str,
    tolerance_m: float | None = None,
    saturate_m: float | None = None,
) -> np.ndarray:
    """Compute one criterion from its scenario spec for the candidates ``xy``.

    ``tolerance_m`` and ``saturate_m`` let distance criteria trade exactness
    for speed on grids (see :func:`distance_to`).
    """
    kind = spec["kind"]
    if kind not in REGISTRY:
        raise ScenarioError(
            f"criteria.{name}.kind: unknown '{kind}'; expected one of {', '.join(sorted(REGISTRY))}"
        )
    params = dict(spec.get("params", {}))
    if kind == "raster":
        return REGISTRY[kind](xy, **params)
    layer_name = spec["layer"]
    if layer_name not in layers:
        raise ScenarioError(f"criteria.{name}.layer: '{layer_name}' is not a loaded layer")
    layer = select(layers[layer_name], spec.get("where"), name=layer_name)
    if kind == "distance_to" and tolerance_m is not None:
        params.setdefault("tolerance_m", tolerance_m)
        if saturate_m is not None:
            params.setdefault("saturate_m", saturate_m)
    fn = REGISTRY[kind]
    if getattr(fn, "needs_layers", False):
        params["layers"] = layers
    return np.asarray(fn(xy, layer, **params), dtype=float)
