"""The candidate grid: a north-up raster in the working CRS, and masks burnt into it.

Owns cell geometry (centres, squares, masks of cells wholly inside a
polygon). Knows nothing of criteria, scores or zones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely
from affine import Affine

__all__ = ["Grid", "make_grid"]


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
        # in place, one grid-sized index array at a time; the same values as
        # x0 + (col + 0.5) * res and y1 - (row + 0.5) * res
        flat = np.flatnonzero(mask)
        out = np.empty((len(flat), 2))
        w = mask.shape[1]
        out[:, 1] = flat // w
        out[:, 0] = flat
        del flat
        out[:, 0] -= out[:, 1] * w
        out += 0.5
        out *= self.res
        out[:, 0] += self.x0
        np.subtract(self.y1, out[:, 1], out=out[:, 1])
        return out

    def mask(self, geom: shapely.Geometry) -> np.ndarray:
        """Cells lying wholly inside ``geom`` (centre inside ``geom`` eroded by a half diagonal)."""
        inner = shapely.buffer(geom, -self.res * 0.7072, quad_segs=2)
        if inner.is_empty:
            return np.zeros((self.height, self.width), dtype=bool)
        return self.burn(inner)

    def burn(self, geom: shapely.Geometry) -> np.ndarray:
        """Cells whose centre lies inside the polygon(s) ``geom``: GDAL's default burn rule.

        A scanline fill in numpy, the rule of ``gdal_rasterize`` without
        ``-at`` (GDAL's ``GDALdllImageFilledPolygon``): on each row's centre
        line, the crossings of every ring's edges (each edge half-open in y)
        are sorted and paired even-odd, and the cells from ``floor(x_a + 0.5)``
        to ``floor(x_b + 0.5) - 1`` are burnt. It needs no raster library
        (rasterio's GDAL is ~20 MB of memory) and one grid-sized byte array.

        Examples
        --------
        >>> g = Grid(0.0, 4.0, 1.0, 4, 4, "EPSG:5179")
        >>> g.burn(shapely.box(0.6, 0.4, 3.6, 2.4)).astype(int)
        array([[0, 0, 0, 0],
               [0, 0, 0, 0],
               [0, 1, 1, 1],
               [0, 1, 1, 1]])
        """
        h, w = self.height, self.width
        out = np.zeros((h, w), dtype=np.int8)
        parts = shapely.get_parts(geom)
        parts = parts[shapely.get_type_id(parts) == 3]
        rings = shapely.get_rings(parts)
        if not len(rings):
            return out.view(bool)
        xy, idx = shapely.get_coordinates(rings, return_index=True)
        px = (xy[:, 0] - self.x0) / self.res
        py = (self.y1 - xy[:, 1]) / self.res
        same = np.flatnonzero(idx[1:] == idx[:-1])
        xa, ya, xb, yb = px[same], py[same], px[same + 1], py[same + 1]
        lo, hi = np.minimum(ya, yb), np.maximum(ya, yb)
        # rows whose centre r + 0.5 lies in [lo, hi), clipped to the grid
        r0 = np.clip(np.ceil(lo - 0.5), 0, h).astype(np.int64)
        r1 = np.clip(np.ceil(hi - 0.5), 0, h).astype(np.int64)
        n = np.maximum(r1 - r0, 0)
        keep = np.flatnonzero(n)
        if not len(keep):
            return out.view(bool)
        e = np.repeat(keep, n[keep])
        row = np.arange(len(e)) - np.repeat(np.cumsum(n[keep]) - n[keep], n[keep]) + r0[e]
        c = row + 0.5
        x = xa[e] + (c - ya[e]) * (xb[e] - xa[e]) / (yb[e] - ya[e])
        order = np.lexsort((x, row))
        row, x = row[order], x[order]
        # every row has an even number of crossings (closed rings): pair them in order
        start = np.clip(np.floor(x[0::2] + 0.5), 0, w).astype(np.int64)
        stop = np.clip(np.floor(x[1::2] + 0.5), 0, w).astype(np.int64)
        r = row[0::2]
        flat = out.reshape(-1)
        ok = start < w
        np.add.at(flat, r[ok] * w + start[ok], 1)
        ok = stop < w
        np.add.at(flat, r[ok] * w + stop[ok], -1)
        np.cumsum(out, axis=1, dtype=np.int8, out=out)
        return out.view(bool)  # 0/1 bytes are valid bools: no second grid-sized copy

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
