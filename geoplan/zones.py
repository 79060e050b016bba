"""Zones: delineation on a suitability surface, location-stable ids and honest names.

Delineation (after ArcGIS Locate Regions): take the best free cell of a
belt's suitability surface as a seed, grow the zone best-neighbour-first
(4-connected) inside a disc of radius ``1.5 * sqrt(cells / pi)`` until it
has ``round(target / cell area)`` cells, then block every cell within
``min_spacing`` of the zone and repeat. Only cells wholly inside the belt
and outside every exclusion are ever used, so no zone crosses an exclusion.
Ties in score break on the cell's position (row-major), so the result is
deterministic.

A zone's id is made from where it is: ``Z-<profile>-<belt>-E<x>N<y>`` with
the seed cell's centre in hectometres of the working CRS, so two runs that
grow the same zone give it the same id, whatever else changed.

Names say where a zone is: the nearest named place when it lies within
``within_km`` of the zone's centroid, otherwise ``"12 km SE of Nampo"``.

Pure arrays and geometry; no I/O.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Mapping, Sequence

import numpy as np
import shapely

from geoplan.grid import Grid

__all__ = [
    "Zone",
    "bearing_name",
    "grow_round_robin",
    "grow_zones",
    "make_zone",
    "place_names",
    "spacing_patch",
    "within_reach",
    "zone_id",
]


@dataclasses.dataclass
class Zone:
    """A delineated zone: its cells, seed and geometry."""

    rows: np.ndarray
    cols: np.ndarray
    seed: tuple[int, int]
    geometry: shapely.Geometry
    area_km2: float
    mean_score: float
    min_score: float


def _ordered(score: np.ndarray, flat_free: np.ndarray, start: int, count: int) -> np.ndarray:
    """Free cells ranked ``start .. start+count`` by score (desc), ties by position."""
    vals = score.ravel()[flat_free]
    stop = min(start + count, len(flat_free))
    if stop <= start:
        return flat_free[:0]
    # lexsort on (position, -score): full order of the candidates up to `stop`
    if stop < len(flat_free):  # pragma: no mutate (partial or full sort: same order)
        part = np.argpartition(-vals, stop - 1)[:stop]
        # cells tied with the cut-off value may be missing; include every tie
        cut = -np.partition(-vals, stop - 1)[stop - 1]
        part = np.union1d(part, np.flatnonzero(vals == cut))
    else:
        part = np.arange(len(flat_free))
    order = part[np.lexsort((flat_free[part], -vals[part]))]
    return flat_free[order[start:stop]]


class _Seeds:
    """Free cells of one mask, best first, produced in growing batches."""

    def __init__(self, score: np.ndarray, free: np.ndarray, need: int) -> None:
        self.score = score
        self.flat_free = np.flatnonzero(free)
        self.batch = max(4096, 64 * need)  # pragma: no mutate (speed only)
        self.start = 0
        self.chunk = self.flat_free[:0]
        self.pos = 0  # pragma: no mutate

    def next_unblocked(self, blocked: np.ndarray) -> int | None:
        """The next seed not ``blocked`` (flat view), skipping blocked ones in bulk.

        The same seeds in the same order as iterating and skipping blocked
        cells one by one (nothing is blocked while it looks ahead).
        """
        while True:
            if self.pos >= len(self.chunk):
                if self.start >= len(self.flat_free):  # pragma: no mutate
                    return None
                self.chunk = _ordered(self.score, self.flat_free, self.start, self.batch)
                self.start += self.batch
                self.batch *= 4  # pragma: no mutate (speed only)
                self.pos = 0
            window = self.chunk[self.pos : self.pos + 2048]
            ok = np.flatnonzero(~blocked[window])
            if not len(ok):
                self.pos += len(window)
                continue
            self.pos += int(ok[0]) + 1
            return int(window[ok[0]])


def within_reach(local: np.ndarray, reach: float) -> np.ndarray:
    """Cells whose centre lies closer than ``reach`` cell widths to a True cell's centre.

    The same cells as ``scipy.ndimage.distance_transform_edt(~local) < reach``
    (tested against it; the distance is ``sqrt(dx**2 + dy**2)`` in float64, as
    scipy computes it), by a dilation with the disc row by row: for each row
    offset ``dy`` a run of ``2k + 1`` cells, ``k`` the widest ``dx`` still inside
    the disc. A run costs two lookups in a cumulative sum, so the whole dilation
    is ``2 * reach + 1`` vectorised passes over the window; and a run does not
    import ``scipy.ndimage`` (0.3 s) for it.

    Parameters
    ----------
    local : (h, w) bool array
        The zone's cells in a window around it.
    reach : float
        Distance in cells (centre to centre).

    Returns
    -------
    (h, w) bool array

    Examples
    --------
    >>> m = np.zeros((5, 5), bool); m[2, 2] = True
    >>> within_reach(m, 1.5).astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    """
    local = np.asarray(local, dtype=bool)
    h, w = local.shape
    out = np.zeros((h, w), dtype=bool)
    if reach <= 0 or not local.any():  # pragma: no mutate
        return out
    span = min(math.ceil(reach), max(h, w))  # pragma: no mutate
    # only the rows holding True cells spread: r0..r1 (a zone is compact)
    rows = np.flatnonzero(local.any(axis=1))
    r0, r1 = int(rows[0]), int(rows[-1]) + 1
    # their row-wise cumulative sums, padded by ``span`` columns on each side, so that a
    # run of 2k + 1 cells around every column is the difference of two column slices
    csum = np.zeros((r1 - r0, w + 1 + 2 * span), dtype=np.int32)  # pragma: no mutate
    np.cumsum(local[r0:r1], axis=1, out=csum[:, span + 1 : span + 1 + w])
    csum[:, span + 1 + w :] = csum[:, span + w : span + w + 1]
    # k per row offset: the widest dx with sqrt(dx**2 + dy**2) < reach (-1: none)
    d = np.arange(span + 1, dtype=np.float64)
    widest = (np.sqrt(d[:, None] ** 2 + d[None, :] ** 2) < reach).sum(axis=1) - 1
    for ady in range(min(span, h - 1) + 1):  # pragma: no mutate
        k = int(widest[ady])
        if k < 0:  # pragma: no mutate
            break  # farther rows are farther still  # pragma: no mutate
        run = (csum[:, span + k + 1 : span + k + 1 + w] - csum[:, span - k : span - k + w]) > 0
        # the run of source row y marks rows y + ady and y - ady (inside the window)
        lo, hi = r0 + ady, min(r1 + ady, h)
        if lo < hi:  # pragma: no mutate
            out[lo:hi] |= run[: hi - lo]
        lo, hi = max(r0 - ady, 0), r1 - ady
        if ady and lo < hi:  # pragma: no mutate
            out[lo:hi] |= run[lo - (r0 - ady) :]
    return out


class _Grower:
    """Zone growing state shared by the masks (belts) of one surface."""

    def __init__(self, score: np.ndarray, grid: Grid, target_km2: float, min_spacing_m: float,
                 taken: np.ndarray | None) -> None:  # fmt: skip
        self.score, self.grid = score, grid
        self.cell_km2 = (grid.res / 1000.0) ** 2
        self.need = max(1, round(target_km2 / self.cell_km2))
        self.radius = 1.5 * math.sqrt(self.need / math.pi)
        self.finite = np.isfinite(score)
        self.blocked = np.zeros(score.shape, dtype=bool) if taken is None else taken
        # squares whose centres are d apart are at least d - sqrt(2)*res apart edge to edge
        self.reach = min_spacing_m / grid.res + math.sqrt(2.0)
        self.spacing_cells = math.ceil(self.reach)

    def seeds(self, allowed: np.ndarray) -> tuple[np.ndarray, _Seeds]:
        free = allowed & self.finite & ~self.blocked
        return free, _Seeds(self.score, free, self.need)

    def next_zone(self, free: np.ndarray, seeds: _Seeds) -> Zone | None:
        h, w = self.score.shape
        blocked = self.blocked
        blocked_flat = blocked.reshape(-1)  # a view: sees every cell blocked below
        while (flat := seeds.next_unblocked(blocked_flat)) is not None:
            r0, c0 = divmod(flat, w)
            cells = _grow(self.score, free, blocked, r0, c0, self.need, self.radius)
            if cells is None:
                # too little room around this seed for a whole zone: the seeds move past it,
                # but it stays free, so the zone of a neighbouring seed may still take it
                continue
            rows, cols = cells
            r_lo, c_lo, patch = spacing_patch(rows, cols, (h, w), self.spacing_cells, self.reach)
            blocked[r_lo : r_lo + patch.shape[0], c_lo : c_lo + patch.shape[1]] |= patch
            return make_zone(self.grid, rows, cols, (r0, c0), self.score[rows, cols])
        return None


def spacing_patch(
    rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int], pad: int, reach: float
) -> tuple[int, int, np.ndarray]:
    """The cells a new zone blocks: within ``reach`` cells of it, in a window ``pad`` wider.

    Returns the window's first row and column in a grid of ``shape`` and its
    (rows, cols) bool patch (both engines OR it into what is blocked).
    """
    h, w = shape
    r_lo, r_hi = max(rows.min() - pad, 0), min(rows.max() + pad + 1, h)  # pragma: no mutate
    c_lo, c_hi = max(cols.min() - pad, 0), min(cols.max() + pad + 1, w)  # pragma: no mutate
    local = np.zeros((r_hi - r_lo, c_hi - c_lo), dtype=bool)
    local[rows - r_lo, cols - c_lo] = True
    return int(r_lo), int(c_lo), within_reach(local, reach)


def make_zone(
    grid: Grid, rows: np.ndarray, cols: np.ndarray, seed: tuple[int, int], vals: np.ndarray
) -> Zone:
    """A :class:`Zone` of the cells ``rows``, ``cols`` whose scores are ``vals``."""
    return Zone(
        rows=rows,
        cols=cols,
        seed=seed,
        geometry=grid.cell_polygons(rows, cols),
        area_km2=len(rows) * (grid.res / 1000.0) ** 2,
        mean_score=float(vals.mean()),
        min_score=float(vals.min()),
    )


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

    Examples
    --------
    >>> from geoplan.grid import Grid
    >>> g = Grid(0.0, 10_000.0, 1000.0, 10, 10, "EPSG:5179")
    >>> s = np.zeros((10, 10)); s[2, 2] = 1.0; s[2, 3] = 0.9; s[3, 2] = 0.8
    >>> z = grow_zones(s, np.ones((10, 10), bool), g, n=1, target_km2=3, min_spacing_m=0)
    >>> sorted(zip(z[0].rows.tolist(), z[0].cols.tolist())), z[0].area_km2
    ([(2, 2), (2, 3), (3, 2)], 3.0)
    """
    g = _Grower(score, grid, target_km2, min_spacing_m, taken)
    free, seeds = g.seeds(allowed)
    zones: list[Zone] = []
    while len(zones) < n:
        z = g.next_zone(free, seeds)
        if z is None:
            break
        zones.append(z)
    return zones


def grow_round_robin(
    score: np.ndarray,
    masks: Mapping[str, np.ndarray],
    grid: Grid,
    *,
    n: int,
    target_km2: float,
    min_spacing_m: float,
) -> list[tuple[str, Zone]]:
    """Up to ``n`` zones per mask, grown round robin: every mask's 1st zone, then every 2nd ...

    Spacing holds across masks (one blocked set), and asking for more zones
    never changes the zones a smaller ``n`` gave, whatever the order of the
    masks: zone k of a belt depends only on zones 1..k of every belt.

    Returns
    -------
    list of (mask name, Zone)
    """
    g = _Grower(score, grid, target_km2, min_spacing_m, None)
    state = {}
    out: list[tuple[str, Zone]] = []
    for _ in range(n):
        for name, allowed in masks.items():
            if name not in state:
                state[name] = g.seeds(allowed)
            if state[name] is None:
                continue
            z = g.next_zone(*state[name])
            if z is None:
                state[name] = None
                continue
            out.append((name, z))
    return out


def _grow(
    score: np.ndarray,
    free: np.ndarray,
    blocked: np.ndarray,
    r0: int,
    c0: int,
    need: int,
    radius: float,
) -> tuple[np.ndarray, np.ndarray] | None:
    h, w = score.shape
    seen = {(r0, c0)}
    heap = [(-score[r0, c0], r0, c0)]  # pragma: no mutate
    out: list[tuple[int, int]] = []
    while heap and len(out) < need:
        _, r, c = heapq.heappop(heap)
        out.append((r, c))
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc  # pragma: no mutate
            if (
                0 <= rr < h
                and 0 <= cc < w
                and (rr, cc) not in seen
                and free[rr, cc]
                and not blocked[rr, cc]
                and (rr - r0) ** 2 + (cc - c0) ** 2 <= radius * radius
            ):
                seen.add((rr, cc))
                heapq.heappush(heap, (-score[rr, cc], rr, cc))
    if len(out) < need:
        return None
    arr = np.array(out)
    return arr[:, 0], arr[:, 1]


def zone_id(profile: str, belt: str, grid: Grid, seed: tuple[int, int]) -> str:
    """Location-stable id of a zone from its seed cell.

    Examples
    --------
    >>> from geoplan.grid import Grid
    >>> zone_id("p", "border", Grid(900_000.0, 1_900_000.0, 250.0, 10, 10, "EPSG:5179"), (0, 0))
    'Z-p-border-E09001N18998'
    """
    r, c = seed
    x = grid.x0 + (c + 0.5) * grid.res
    y = grid.y1 - (r + 0.5) * grid.res
    return f"Z-{profile}-{belt}-E{int(x // 100):05d}N{int(y // 100):05d}"


_COMPASS = ("N", "NE", "E", "SE", "S", "SW", "W", "NW")


def bearing_name(dx: float, dy: float) -> str:
    """Eight-point compass direction of the vector ``(dx, dy)`` (x east, y north).

    Examples
    --------
    >>> bearing_name(1.0, -1.0), bearing_name(0.0, 5.0)
    ('SE', 'N')
    """
    ang = math.degrees(math.atan2(dx, dy)) % 360.0
    return _COMPASS[int((ang + 22.5) // 45.0) % 8]


@dataclasses.dataclass(frozen=True)
class PlaceName:
    """Where a point is, in words: a place, or a distance and bearing from one."""

    place: str
    place_ko: str | None
    distance_km: float
    bearing: str
    near: bool

    def text(self) -> str:
        """``"Nampo"`` or ``"12 km SE of Nampo"``."""
        if self.near:
            return self.place
        return f"{self.distance_km:.0f} km {self.bearing} of {self.place}"


def place_names(
    xy: np.ndarray,
    place_xy: np.ndarray,
    names: Sequence[str],
    names_ko: Sequence[str | None] | None = None,
    *,
    within_km: float = 5.0,
) -> list[PlaceName]:
    """Name points after the nearest place, honestly.

    Parameters
    ----------
    xy : (n, 2) array
        Points to name (working CRS, metres).
    place_xy : (m, 2) array
        Named places.
    names, names_ko : sequences of str
        Their names (and Korean names, or None where unknown).
    within_km : float
        A point is named after a place only within this distance of it;
        farther, it is described as ``"<d> km <bearing> of <place>"``.

    Returns
    -------
    list of PlaceName

    Examples
    --------
    >>> pn = place_names(np.array([[0.0, 0.0], [8_000.0, -7000.0]]), np.array([[0.0, 1000.0]]),
    ...                  ["Nampo"])
    >>> [p.text() for p in pn]
    ['Nampo', '11 km SE of Nampo']
    """
    if len(place_xy) == 0:
        raise ValueError("place_names: no places to name zones after")
    # tens of zones by hundreds of places: a direct nearest (lowest index on ties)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    place_xy = np.asarray(place_xy, dtype=float)
    dx = xy[:, 0, None] - place_xy[None, :, 0]
    dy = xy[:, 1, None] - place_xy[None, :, 1]
    d2 = dx * dx + dy * dy
    j = np.argmin(d2, axis=1)
    d = np.sqrt(d2[np.arange(len(xy)), j])
    out = []
    for (x, y), dist, k in zip(xy, d, j, strict=True):  # pragma: no mutate (same lengths)
        px, py = place_xy[k]
        ko = names_ko[k] if names_ko is not None else None
        out.append(
            PlaceName(
                place=str(names[k]),
                place_ko=str(ko) if ko else None,
                distance_km=float(dist) / 1000.0,
                bearing=bearing_name(x - px, y - py),
                near=float(dist) <= within_km * 1000.0,
            )
        )
    return out
