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
        from rasterio.features import rasterize

        inner = shapely.buffer(geom, -self.res * 0.7072, quad_segs=2)
        if inner.is_empty:
            return np.zeros((self.height, self.width), dtype=bool)
        # burns cells whose centre lies inside (GDAL's default rule)
        return rasterize(
            [(inner, 1)], out_shape=(self.height, self.width), transform=self.transform,
            fill=0, dtype="uint8",
        ).view(bool)  # 0/1 bytes are valid bools: no second grid-sized copy  # fmt: skip

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
