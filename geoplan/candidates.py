"""Candidates: the raster grid over the belts, listed sites, and zone delineation.

Zone delineation (after ArcGIS Locate Regions): take the best free cell of a
belt's suitability surface as a seed, grow the zone best-neighbour-first
(4-connected) inside a disc of radius ``1.5 * sqrt(target / pi)`` until it
reaches the target area, then block every cell within ``min_spacing`` of the
zone and repeat. Only cells wholly inside the belt and outside every
exclusion are ever used, so no zone crosses an exclusion.
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage

__all__ = ["Grid", "Zone", "grow_zones", "make_grid"]


@dataclasses.dataclass(frozen=True)
class Grid:
    """A north-up raster grid in the working CRS."""

    x0: float
    y1: float
    res: float
    width: int
    height: int
    crs: str

    @property
    def transform(self) -> Affine:
        """The grid's affine transform (rasterio convention)."""
        return Affine(self.res, 0.0, self.x0, 0.0, -self.res, self.y1)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates as two (height, width) arrays."""
        xs = self.x0 + (np.arange(self.width) + 0.5) * self.res
        ys = self.y1 - (np.arange(self.height) + 0.5) * self.res
        return np.meshgrid(xs, ys)

    def cell_xy(self, mask: np.ndarray) -> np.ndarray:
        """Centres of the cells where ``mask`` is true, row by row, as an (n, 2) array."""
        rows, cols = np.nonzero(mask)
        return np.column_stack(
            [self.x0 + (cols + 0.5) * self.res, self.y1 - (rows + 0.5) * self.res]
        )

    def mask(self, geom: shapely.Geometry) -> np.ndarray:
        """Cells lying wholly inside ``geom`` (centre inside ``geom`` eroded by a half diagonal)."""
        from rasterio.features import rasterize

        inner = shapely.buffer(geom, -self.res * 0.7072, quad_segs=2)
        if inner.is_empty:
            return np.zeros((self.height, self.width), dtype=bool)
        # burns cells whose centre lies inside (GDAL's default rule)
        return rasterize(
            [(inner, 1)], out_shape=(self.height, self.width), transform=self.transform,
            fill=0, dtype="uint8",
        ).astype(bool)  # fmt: skip

    def cell_polygons(self, rows: np.ndarray, cols: np.ndarray) -> shapely.Geometry:
        """The union of the given cells' squares."""
        x = self.x0 + cols * self.res
        y = self.y1 - rows * self.res
        boxes = shapely.box(x, y - self.res, x + self.res, y)
        return shapely.coverage_union_all(boxes)


def make_grid(bounds: tuple[float, float, float, float], res: float, crs: str) -> Grid:
    """A grid covering ``bounds`` snapped outward to multiples of ``res``."""
    x0 = np.floor(bounds[0] / res) * res
    y0 = np.floor(bounds[1] / res) * res
    x1 = np.ceil(bounds[2] / res) * res
    y1 = np.ceil(bounds[3] / res) * res
    return Grid(float(x0), float(y1), float(res), int((x1 - x0) / res), int((y1 - y0) / res), crs)


@dataclasses.dataclass
class Zone:
    """A delineated zone: its cells and geometry."""

    rows: np.ndarray
    cols: np.ndarray
    geometry: shapely.Geometry
    area_km2: float
    mean_score: float
    min_score: float


def grow_zones(
    score: np.ndarray,
    allowed: np.ndarray,
    grid: Grid,
    *,
    n: int,
    target_km2: float,
    min_spacing_m: float,
    taken: np.ndarray | None = None,
) -> list[Zone]:
    """Delineate up to ``n`` compact zones of ``target_km2`` on a suitability surface.

    Parameters
    ----------
    score : (h, w) float array
        Suitability (NaN where not scored).
    allowed : (h, w) bool array
        Cells a zone may use (belt, minus exclusions and failed constraints).
    grid : Grid
    n : int
        Number of zones.
    target_km2 : float
        Zone area; each zone gets exactly ``round(target / cell area)`` cells
        unless its seed's free neighbourhood is smaller (then it is skipped).
    min_spacing_m : float
        Minimum distance between zones (edge to edge).
    taken : (h, w) bool array, optional
        Cells already blocked (updated in place).

    Returns
    -------
    list of Zone
        Best zone first.
    """
    cell_km2 = (grid.res / 1000.0) ** 2
    need = max(1, round(target_km2 / cell_km2))
    radius_cells = 1.5 * np.sqrt(need / np.pi)
    free = allowed & np.isfinite(score)
    if taken is not None:
        free &= ~taken
    blocked = np.zeros_like(free) if taken is None else taken
    flat_free = np.flatnonzero(free)
    order = flat_free[np.argsort(-score.ravel()[flat_free], kind="stable")]
    # squares whose centres are d apart are at least d - sqrt(2)*res apart edge to edge
    reach = min_spacing_m / grid.res + np.sqrt(2.0)
    spacing_cells = int(np.ceil(reach))
    zones: list[Zone] = []
    h, w = score.shape
    for flat in order:
        if len(zones) >= n:
            break
        r0, c0 = divmod(int(flat), w)
        if blocked[r0, c0]:
            continue
        cells = _grow(score, free & ~blocked, r0, c0, need, radius_cells)
        if cells is None:
            blocked[r0, c0] = True
            continue
        rows, cols = cells
        # block cells within the spacing of the zone (dilate a local window only)
        r_lo, r_hi = max(rows.min() - spacing_cells, 0), min(rows.max() + spacing_cells + 1, h)
        c_lo, c_hi = max(cols.min() - spacing_cells, 0), min(cols.max() + spacing_cells + 1, w)
        local = np.zeros((r_hi - r_lo, c_hi - c_lo), dtype=bool)
        local[rows - r_lo, cols - c_lo] = True
        blocked[r_lo:r_hi, c_lo:c_hi] |= ndimage.distance_transform_edt(~local) < reach
        vals = score[rows, cols]
        zones.append(
            Zone(
                rows=rows,
                cols=cols,
                geometry=grid.cell_polygons(rows, cols),
                area_km2=len(rows) * cell_km2,
                mean_score=float(vals.mean()),
                min_score=float(vals.min()),
            )
        )
    return zones


def _grow(
    score: np.ndarray, free: np.ndarray, r0: int, c0: int, need: int, radius: float
) -> tuple[np.ndarray, np.ndarray] | None:
    h, w = score.shape
    seen = {(r0, c0)}
    heap = [(-score[r0, c0], r0, c0)]
    out: list[tuple[int, int]] = []
    while heap and len(out) < need:
        _, r, c = heapq.heappop(heap)
        out.append((r, c))
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc
            if (
                0 <= rr < h
                and 0 <= cc < w
                and (rr, cc) not in seen
                and free[rr, cc]
                and (rr - r0) ** 2 + (cc - c0) ** 2 <= radius * radius
            ):
                seen.add((rr, cc))
                heapq.heappush(heap, (-score[rr, cc], rr, cc))
    if len(out) < need:
        return None
    arr = np.array(out)
    return arr[:, 0], arr[:, 1]
