"""The Dask engine: the grid computed chunk by chunk, never held by the driver.

``geoplan run --engine dask`` (``Session(engine="dask")``) splits the grid
into blocks of whole rows (about ``chunk`` grid cells each) and runs one
task per block on a :class:`distributed.LocalCluster` (default), on an
existing cluster (``scheduler="tcp://host:8786"`` or a ``distributed.Client``)
or on a local dask scheduler (``"threads"``, ``"synchronous"``,
``"processes"``). A task, for its rows only:

1. burns the belt masks (precedence border > west coast > east coast, the
   slope constraint if any) into the block's window;
2. evaluates every criterion the profiles use at the block's candidate
   cells (:func:`geoplan.criteria.evaluate`);
3. scores every profile (:func:`geoplan.score.score_profile`) and writes
   each profile's surface rows, and the belt of each cell, into raw row-major
   files of an on-disk store (one contiguous ``pwrite`` per block);
4. returns, per profile and belt, the block's best free cells (score
   descending, then position), a few hundred numbers.

Within a :class:`geoplan.Session`, each block's belt codes and criteria are
also kept on disk (``DaskEngine.keep_criteria``, a folder beside the run's
store, removed with the session): a rerun with other weights, transforms or
aggregation reads them instead of burning and evaluating again (the grid
pass then only re-scores), as the in-memory engine reuses its criteria table.

The driver then grows the zones the in-memory engine grows, from those seed
lists (a lazy k-way merge of per-block sorted streams is the global order;
a block whose list runs out is re-read from disk) and from windows of the
on-disk surface around each seed; the zone and site rows are re-evaluated
at their cells only. Outputs read the store window by window: COGs through
a tiled GeoTIFF written by row blocks, the map's overlays from a block mean.
The driver's peak memory is O(chunk + zone window), not O(grid).

This module owns the dask client's life, the chunked pass, the on-disk
store and the windowed zone growing; it must not change what is computed
(``tests/test_dask_engine.py`` checks the surfaces and ``ranking.csv``
against the in-memory engine). It imports dask only when used (dask is
optional: ``pip install -e '.[dask]'``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import heapq
import math
import os
import secrets
import shutil
import tempfile
import weakref
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from geoplan._errors import GeoplanError, ScenarioError

__all__ = [
    "DEFAULT_CHUNK",
    "LOCAL_SCHEDULERS",
    "DaskEngine",
    "DaskMissingError",
    "DiskRaster",
    "check_store",
    "require_dask",
]

#: Grid cells per chunk (rows x width): 1 M cells, ~4 MB per profile surface block.
DEFAULT_CHUNK = 1_000_000

#: Local dask schedulers that need no ``distributed`` cluster.
LOCAL_SCHEDULERS = ("threads", "synchronous", "processes")

#: Seeds per block, profile and belt sent to the driver (more are read from disk if needed).
SEEDS_PER_BLOCK = 256

#: The file the driver writes into a run's store for the workers to find (see check_store).
STORE_MARK = ".geoplan-store"

_BELT_CODES: tuple[str, ...] = ()  # filled lazily: BELT_NAMES, code = index + 1


class DaskMissingError(GeoplanError, ImportError):
    """The Dask engine was asked for but dask is not installed."""


def require_dask() -> Any:
    """Import ``dask.array`` or raise one line saying how to install it.

    Examples
    --------
    >>> da = require_dask()  # doctest: +SKIP
    """
    try:
        import dask.array as da
        import distributed  # noqa: F401
    except ImportError as exc:
        raise DaskMissingError(
            f"engine dask: {exc.name or 'dask'} is not installed; "
            "pip install -e '.[dask]' (dask[array,distributed]>=2024.1)"
        ) from None
    return da


def _belt_names() -> tuple[str, ...]:
    from geoplan.scenario import BELT_NAMES

    return tuple(BELT_NAMES)


# --------------------------------------------------------------------------- on-disk store


class _Store:
    """A temporary folder of raw rasters, removed when nothing refers to it any more."""

    def __init__(self, parent: str | None = None, chunk: int = DEFAULT_CHUNK) -> None:
        self.chunk = chunk
        self.dir = Path(tempfile.mkdtemp(prefix="geoplan-dask-", dir=parent))
        self._fin = weakref.finalize(self, shutil.rmtree, str(self.dir), True)

    def raster(self, name: str, shape: tuple[int, int], dtype: str) -> DiskRaster:
        path = self.dir / f"{name}.raw"
        with open(path, "wb") as fh:
            fh.truncate(int(shape[0]) * int(shape[1]) * np.dtype(dtype).itemsize)
        return DiskRaster(path, shape, dtype, store=self, chunk=self.chunk)


def _reads_mark(folder: str, token: str) -> bool:
    """On a worker: does ``folder`` hold the driver's mark with ``token``?"""
    try:
        return Path(folder, STORE_MARK).read_text(encoding="ascii") == token
    except (OSError, ValueError):
        return False


def check_store(client: Any, folder: str | Path) -> None:
    """Refuse, in one line, a cluster whose workers cannot read the run's store ``folder``.

    Every block's surfaces, belts and seeds go through that folder: a worker on
    another machine that does not share it at the same path would fail, or write
    a store the driver never reads. The driver writes a random token there and
    each worker must read it back (``client.run``).

    Examples
    --------
    >>> class OneBlindWorker:  # stands in for a distributed.Client
    ...     def run(self, fn, folder, token):
    ...         return {"tcp://a:1": fn(folder, token), "tcp://b:1": fn("/no/such", token)}
    >>> import tempfile
    >>> check_store(OneBlindWorker(), tempfile.mkdtemp())
    Traceback (most recent call last):
    ...
    geoplan._errors.GeoplanError: --tmpdir: dask worker tcp://b:1 cannot read ...
    """
    token = secrets.token_hex(16)
    Path(folder, STORE_MARK).write_text(token, encoding="ascii")
    seen = client.run(_reads_mark, str(folder), token)
    blind = sorted(w for w, ok in seen.items() if not ok)
    if blind:
        more = f" and {len(blind) - 3} more" if len(blind) > 3 else ""
        raise GeoplanError(
            f"--tmpdir: dask worker{'s' if len(blind) > 1 else ''} {', '.join(blind[:3])}{more} "
            f"cannot read the run's store folder {folder}; give --tmpdir a folder shared at the "
            "same path by every machine of the cluster"
        )


class DiskRaster:
    """A (height, width) raster in a raw row-major file: read by rows, never whole by outputs.

    ``np.asarray(r)`` reads it all (small grids, tests); the outputs use
    :meth:`read_rows`, :meth:`write_cog` and :meth:`overview`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.raw"
    >>> np.arange(6, dtype="float32").tofile(p)
    >>> DiskRaster(p, (2, 3), "float32").read_rows(1, 2).tolist()
    [[3.0, 4.0, 5.0]]
    """

    def __init__(
        self,
        path: str | Path,
        shape: tuple[int, int],
        dtype: str,
        store: Any = None,
        chunk: int = DEFAULT_CHUNK,
    ) -> None:
        self.path = Path(path)
        self.chunk = max(1, int(chunk))  # cells per read when writing COGs and overviews
        self.shape = (int(shape[0]), int(shape[1]))
        self.dtype = np.dtype(dtype)
        self.ndim = 2
        self._store = store  # keeps the folder alive

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "shape": self.shape, "dtype": self.dtype.str,
                "chunk": self.chunk}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["shape"], state["dtype"], chunk=state["chunk"])

    def read_rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` as a new (r1 - r0, width) array."""
        r0, r1 = max(0, int(r0)), min(self.shape[0], int(r1))
        w = self.shape[1]
        n = max(0, r1 - r0) * w
        arr = np.fromfile(self.path, dtype=self.dtype, count=n, offset=r0 * w * self.dtype.itemsize)
        return arr.reshape(max(0, r1 - r0), w)

    def write_rows(self, r0: int, block: np.ndarray) -> None:
        """Write ``block`` (whole rows) from row ``r0`` on (one ``pwrite``)."""
        buf = np.ascontiguousarray(block, dtype=self.dtype)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, buf.tobytes(), int(r0) * self.shape[1] * self.dtype.itemsize)
        finally:
            os.close(fd)

    def row_blocks(self, rows: int) -> Iterator[tuple[int, int]]:
        """``(r0, r1)`` blocks of ``rows`` rows covering the raster."""
        rows = max(1, int(rows))
        for r0 in range(0, self.shape[0], rows):
            yield r0, min(r0 + rows, self.shape[0])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.read_rows(0, self.shape[0])
        return arr if dtype is None else arr.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.asarray(self)[key]

    def __len__(self) -> int:
        return self.shape[0]

    def overview(self, max_px: int, chunk: int | None = None) -> tuple[np.ndarray, int]:
        """A NaN-aware block mean at most ``max_px`` pixels a side, and its factor.

        Reads ``chunk``-sized row blocks: the map's overlays never hold the grid.
        """
        h, w = self.shape
        chunk = chunk or self.chunk
        f = max(1, math.ceil(max(h, w) / max(1, max_px)))
        oh, ow = math.ceil(h / f), math.ceil(w / f)
        out = np.full((oh, ow), np.nan, dtype="float32")
        rows = max(f, (max(1, chunk // max(w, 1)) // f) * f)
        for r0, r1 in self.row_blocks(rows):
            blk = self.read_rows(r0, r1).astype("float64")
            nr = math.ceil((r1 - r0) / f)
            pad = np.full((nr * f, ow * f), np.nan)
            pad[: r1 - r0, :w] = blk
            pad = pad.reshape(nr, f, ow, f)
            ok = np.isfinite(pad)
            cnt = ok.sum(axis=(1, 3))
            tot = np.where(ok, pad, 0.0).sum(axis=(1, 3))
            with np.errstate(invalid="ignore", divide="ignore"):
                out[r0 // f : r0 // f + nr] = np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)
        return out, f

    def write_cog(
        self,
        path: str | Path,
        transform: Any,
        crs: str,
        *,
        description: str,
        tags: Mapping[str, str] | None = None,
        nodata: float = -9999.0,
        chunk: int | None = None,
    ) -> Path:
        """Write as a COG (:func:`geoplan.outputs.files.write_cog`'s profile), window by window.

        A tiled GeoTIFF is written by row blocks next to the raw file, then
        GDAL's COG driver copies it and builds the overviews from the file
        (GDAL's block cache capped at 64 MB).
        """
        import rasterio
        from rasterio import shutil as rio_shutil
        from rasterio.windows import Window

        from geoplan._io import COG_OPTIONS, atomic_path

        h, w = self.shape
        chunk = chunk or self.chunk
        src = self.path.with_suffix(".cogsrc.tif")
        profile = {
            "driver": "GTiff",
            "height": h,
            "width": w,
            "count": 1,
            "dtype": "float32",
            "crs": crs,
            "transform": transform,
            "nodata": nodata,
            "tiled": True,
            "blockxsize": 512,
            "blockysize": 512,
        }
        path = Path(path)
        try:
            with rasterio.Env(GDAL_CACHEMAX=64):
                with rasterio.open(src, "w", **profile) as ds:
                    for r0, r1 in self.row_blocks(max(1, chunk // max(w, 1))):
                        blk = self.read_rows(r0, r1)
                        blk = np.where(np.isfinite(blk), blk, nodata).astype("float32")
                        ds.write(blk, 1, window=Window(0, r0, w, r1 - r0))
                    ds.set_band_description(1, description)
                    ds.update_tags(**dict(tags or {}))
                with rasterio.open(src) as s, atomic_path(path) as tmp:
                    rio_shutil.copy(s, tmp, **COG_OPTIONS)
        finally:
            src.unlink(missing_ok=True)
        return path


# --------------------------------------------------------------------------- one block (worker)


@dataclasses.dataclass
class _Context:
    """Everything a block task needs (sent to the workers once)."""

    grid: Any
    inner: list[tuple[int, Any]]  # (belt code, eroded belt geometry), in precedence order
    layers: dict[str, Any]
    specs: dict[str, Any]  # used criterion name -> spec
    saturate: dict[str, float | None]
    profiles: dict[str, Any]
    aggregation: Any
    slope_dem: str | None
    max_slope_deg: float | None
    surfaces: dict[str, DiskRaster]
    belt_map: DiskRaster
    seeds: int
    keys: dict[str, str] = dataclasses.field(default_factory=dict)  # criterion -> column key
    cache: str | None = None  # folder of each block's belt codes and criteria (or None)


def _kept(ctx: _Context, name: str, r0: int, r1: int, make: Any) -> np.ndarray:
    """``make()``, or the array a previous pass of the session kept for this block."""
    if ctx.cache is None:
        return make()
    path = Path(ctx.cache, f"{name}-{r0}-{r1}.npy")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        pass
    arr = make()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    os.replace(tmp, path)  # whole or absent: a killed worker leaves no half file
    return arr


def _key_name(key: str) -> str:
    return "crit-" + hashlib.sha256(key.encode()).hexdigest()[:20]


def _cell_xy(grid: Any, r0: int, mask: np.ndarray) -> np.ndarray:
    """Centres of ``mask``'s cells (a window from row ``r0``): :meth:`Grid.cell_xy`'s arithmetic."""
    rows, cols = np.nonzero(mask)
    return _rows_xy(grid, rows + r0, cols)


def _rows_xy(grid: Any, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Centres of the cells at ``rows``, ``cols`` of the whole grid."""
    out = np.empty((len(rows), 2))
    out[:, 1] = rows
    out[:, 0] = cols
    out += 0.5
    out *= grid.res
    out[:, 0] += grid.x0
    np.subtract(grid.y1, out[:, 1], out=out[:, 1])
    return out


def _belt_block(ctx: _Context, r0: int, r1: int) -> np.ndarray:
    """uint8 belt code per cell of rows ``r0:r1`` (0: not a candidate)."""
    from affine import Affine
    from rasterio.features import rasterize

    g = ctx.grid
    shape = (r1 - r0, g.width)
    tr = g.transform * Affine.translation(0, r0)
    code = np.zeros(shape, dtype=np.uint8)
    for c, inner in ctx.inner:
        if inner is None:
            continue
        m = rasterize([(inner, 1)], out_shape=shape, transform=tr, fill=0, dtype="uint8")
        code[(m == 1) & (code == 0)] = c
    if ctx.max_slope_deg is not None and (code > 0).any():
        from geoplan import terrain

        cand = code > 0
        deg = terrain.slope(_cell_xy(g, r0, cand), str(ctx.slope_dem), crs=g.crs)
        deg = deg.astype("float32")
        ok = np.nan_to_num(deg, nan=np.inf) <= float(ctx.max_slope_deg)
        sub = code[cand]
        sub[~ok] = 0
        code[cand] = sub
    return code


def _sorted_free(vals: np.ndarray, flats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((flats, -vals))
    return vals[order], flats[order]


def _block_task(ctx: _Context, r0: int, r1: int) -> dict[str, Any]:
    """Masks, criteria, scores and surfaces of rows ``r0:r1``; returns the block's best seeds."""
    from geoplan import criteria as C
    from geoplan.score import score_profile

    g = ctx.grid
    code = _kept(ctx, "belts", r0, r1, lambda: _belt_block(ctx, r0, r1))
    ctx.belt_map.write_rows(r0, code)
    cand = code > 0
    n = int(cand.sum())
    xy = _cell_xy(g, r0, cand)
    raw: dict[str, np.ndarray] = {}
    for name, spec in ctx.specs.items():

        def make(name=name, spec=spec) -> np.ndarray:
            if not n:
                return np.zeros(0)
            return C.evaluate(
                xy,
                spec,
                ctx.layers,
                tolerance_m=g.res / 2,
                saturate_m=ctx.saturate[name],
                crs=g.crs,
            )

        raw[name] = _kept(ctx, _key_name(ctx.keys.get(name, name)), r0, r1, make)
    rows, cols = np.nonzero(cand)
    flats = (rows.astype(np.int64) + r0) * g.width + cols
    codes = code[cand]
    seeds: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, int]] = {}
    for pname, prof in ctx.profiles.items():
        surf = np.full(code.shape, np.nan, dtype="float32")
        if n:
            cols_ = {pc.criterion: raw[pc.criterion] for pc in prof.criteria}
            surf[cand] = score_profile(prof, cols_, ctx.aggregation).score
        ctx.surfaces[pname].write_rows(r0, surf)
        vals = surf[cand]
        fin = np.isfinite(vals)
        for c in range(1, len(_belt_names()) + 1):
            sel = fin & (codes == c)
            total = int(sel.sum())
            if not total:
                continue
            v, f = _sorted_free(vals[sel], flats[sel])
            seeds[(pname, c)] = (v[: ctx.seeds], f[: ctx.seeds], total)
    return {"r0": r0, "r1": r1, "candidates": n, "seeds": seeds}


def _cells_task(ctx: _Context, xy: np.ndarray) -> tuple[dict[str, np.ndarray], Any]:
    """Raw criteria (and slope, if a run has one) at the cells ``xy``: the zones' rows."""
    from geoplan import criteria as C

    g = ctx.grid
    raw = {}
    for name, spec in ctx.specs.items():
        raw[name] = (
            C.evaluate(xy, spec, ctx.layers, tolerance_m=g.res / 2,
                       saturate_m=ctx.saturate[name], crs=g.crs)
            if len(xy) else np.zeros(0)
        )  # fmt: skip
    slope = None
    if ctx.max_slope_deg is not None and len(xy):
        from geoplan import terrain

        slope = terrain.slope(xy, str(ctx.slope_dem), crs=g.crs).astype("float32")
    else:
        for name, spec in ctx.specs.items():
            if spec.kind == "slope":
                slope = raw[name]
                break
    return raw, slope


# --------------------------------------------------------------------------- seeds (driver)


class _BlockSeeds:
    """One block's free cells of one belt and profile, best first; re-read from disk when out."""

    def __init__(self, block: tuple[int, int], vals, flats, total, surf, belts, code) -> None:
        self.block, self.total, self.code = block, total, code
        self.surf, self.belts = surf, belts
        self.vals, self.flats = vals, flats
        self.start, self.pos, self.batch = 0, 0, max(len(vals), 1) * 4

    def peek(self) -> tuple[float, int] | None:
        if self.pos >= len(self.flats):
            done = self.start + len(self.flats)
            if done >= self.total:
                return None
            r0, r1 = self.block
            surf = self.surf.read_rows(r0, r1)
            code = self.belts.read_rows(r0, r1)
            sel = (code == self.code) & np.isfinite(surf)
            rows, cols = np.nonzero(sel)
            flats = (rows.astype(np.int64) + r0) * self.surf.shape[1] + cols
            v, f = _sorted_free(surf[sel], flats)
            self.start = done
            self.vals, self.flats = v[done : done + self.batch], f[done : done + self.batch]
            self.batch *= 4
            self.pos = 0
        return float(self.vals[self.pos]), int(self.flats[self.pos])

    def pop(self) -> None:
        self.pos += 1


def _merged(streams: list[_BlockSeeds]) -> Iterator[int]:
    """The global order (score descending, then flat index) of the blocks' sorted streams."""
    heap = []
    for i, s in enumerate(streams):
        top = s.peek()
        if top is not None:
            heap.append((-top[0], top[1], i))
    heapq.heapify(heap)
    while heap:
        _, flat, i = heapq.heappop(heap)
        yield flat
        streams[i].pop()
        top = streams[i].peek()
        if top is not None:
            heapq.heappush(heap, (-top[0], top[1], i))


class _WindowGrower:
    """:class:`geoplan.zones._Grower` on an on-disk surface: windows around seeds, sparse blocks."""

    def __init__(self, surf: DiskRaster, belts: DiskRaster, grid: Any, target_km2: float,
                 min_spacing_m: float) -> None:  # fmt: skip
        self.surf, self.belts, self.grid = surf, belts, grid
        self.cell_km2 = (grid.res / 1000.0) ** 2
        self.need = max(1, round(target_km2 / self.cell_km2))
        self.radius = 1.5 * math.sqrt(self.need / math.pi)
        self.reach = min_spacing_m / grid.res + math.sqrt(2.0)
        self.spacing_cells = math.ceil(self.reach)
        self.patches: list[tuple[int, int, np.ndarray]] = []  # blocked around zones

    def blocked_at(self, r: int, c: int) -> bool:
        for r_lo, c_lo, p in self.patches:
            i, j = r - r_lo, c - c_lo
            if 0 <= i < p.shape[0] and 0 <= j < p.shape[1] and p[i, j]:
                return True
        return False

    def blocked_window(self, r_lo: int, r_hi: int, c_lo: int, c_hi: int) -> np.ndarray:
        out = np.zeros((r_hi - r_lo, c_hi - c_lo), dtype=bool)
        for pr, pc, p in self.patches:
            a0, a1 = max(r_lo, pr), min(r_hi, pr + p.shape[0])
            b0, b1 = max(c_lo, pc), min(c_hi, pc + p.shape[1])
            if a0 < a1 and b0 < b1:
                out[a0 - r_lo : a1 - r_lo, b0 - c_lo : b1 - c_lo] |= p[
                    a0 - pr : a1 - pr, b0 - pc : b1 - pc
                ]
        return out

    def next_zone(self, code: int, seeds: Iterator[int]) -> Any:
        from geoplan.zones import _grow, make_zone, spacing_patch

        h, w = self.surf.shape
        big = math.ceil(self.radius)
        for flat in seeds:
            r0, c0 = divmod(flat, w)
            if self.blocked_at(r0, c0):
                continue
            r_lo, r_hi = max(r0 - big, 0), min(r0 + big + 1, h)
            c_lo, c_hi = max(c0 - big, 0), min(c0 + big + 1, w)
            surf = self.surf.read_rows(r_lo, r_hi)[:, c_lo:c_hi]
            free = (self.belts.read_rows(r_lo, r_hi)[:, c_lo:c_hi] == code) & np.isfinite(surf)
            blocked = self.blocked_window(r_lo, r_hi, c_lo, c_hi)
            cells = _grow(surf, free, blocked, r0 - r_lo, c0 - c_lo, self.need, self.radius)
            if cells is None:
                continue  # as zones._Grower: the seed stays free for a neighbour's zone
            lr, lc = cells
            rows, cols = lr + r_lo, lc + c_lo
            self.patches.append(spacing_patch(rows, cols, (h, w), self.spacing_cells, self.reach))
            return make_zone(self.grid, rows, cols, (r0, c0), surf[lr, lc])
        return None


# --------------------------------------------------------------------------- engine


class DaskEngine:
    """Compute the grid chunk by chunk with dask; the driver never holds a grid-sized array.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the :class:`distributed.LocalCluster` started
        when no ``scheduler`` is given (default: dask's choice for the machine).
    scheduler : str or distributed.Client, optional
        ``"tcp://host:8786"`` (an existing ``dask scheduler``), a client, or
        one of :data:`LOCAL_SCHEDULERS`. Default: a new LocalCluster per run.
    chunk : int
        Grid cells per block (whole rows; at least one row).
    tmpdir : str, optional
        Parent folder of the run's on-disk store (default: the system's
        temporary folder). Workers write there: with ``--scheduler`` on other
        machines it must be a shared folder at the same path.

    Examples
    --------
    >>> import geoplan
    >>> r = geoplan.run(engine="dask", scheduler="threads",
    ...                 grid={"resolution_m": 2000})  # doctest: +SKIP
    """

    name = "dask"
    #: Session hook: this engine prepares and runs the grid itself (no grid in the driver).
    chunked = True
    #: The pipeline's stage functions (``geoplan.pipeline``), handed over by the
    #: ``Session`` that drives this engine: the engine reuses them without importing
    #: the pipeline (which imports the engines), so the data flow stays one way.
    stages: Any = None

    def _stages(self) -> Any:
        if self.stages is None:
            raise GeoplanError("the Dask engine runs through geoplan.Session(engine='dask')")
        return self.stages

    def __init__(
        self,
        workers: int | None = None,
        scheduler: Any = None,
        chunk: int = DEFAULT_CHUNK,
        tmpdir: str | None = None,
    ) -> None:
        require_dask()
        if workers is not None and int(workers) < 1:
            raise GeoplanError(f"--workers: {workers}; expected a whole number >= 1")
        self.workers = None if workers is None else int(workers)
        self.scheduler = scheduler
        self.chunk = max(1, int(chunk))
        if tmpdir is not None and not Path(tmpdir).is_dir():
            raise GeoplanError(f"--tmpdir: {tmpdir} is not an existing folder")
        self.tmpdir = None if tmpdir is None else str(tmpdir)
        self._get: Any = None
        self._inner: dict[str, list[tuple[int, Any]]] = {}
        #: Keep each block's belt codes and criteria on disk for the session's reruns
        #: (8 bytes per candidate cell and criterion); the one-shot CLI run turns it off.
        self.keep_criteria = True
        self._kept: dict[str, _Store] = {}  # prepared key -> folder of kept blocks

    @contextlib.contextmanager
    def activated(self) -> Iterator[DaskEngine]:
        """Start (or connect to) the scheduler for the duration of a run."""
        sched = self.scheduler
        if sched is None or (isinstance(sched, str) and sched not in LOCAL_SCHEDULERS):
            from distributed import Client, LocalCluster

            if sched is None:
                cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                client = Client(cluster)
            else:
                cluster = None
                try:
                    client = Client(sched, timeout="10s")
                except (OSError, TimeoutError) as exc:
                    raise GeoplanError(
                        f"--scheduler: cannot connect to {sched} ({exc}); "
                        "start one with `dask scheduler` and `dask worker ADDRESS`"
                    ) from None
            try:
                self._get = client
                yield self
            finally:
                self._get = None
                client.close()
                if cluster is not None:
                    cluster.close()
        else:
            self._get = sched
            try:
                yield self
            finally:
                self._get = None

    # ------------------------------------------------------------------ prepare (no grid)

    def prepare(self, sc: Any, *, progress: bool = False, timer: Any = None) -> Any:
        """:func:`geoplan.pipeline.prepare` without the grid-sized arrays.

        Layers, belts, exclusions, the grid's geometry and the listed sites;
        ``belt_masks`` is empty, ``candidate_mask`` None and ``cell_xy``
        empty: the blocks burn their own masks.
        """
        import shapely

        P = self._stages()
        from geoplan.results import Prepared

        timer = timer or P._Timer(progress)
        errs = P._crs_problems(sc)
        if errs:
            raise ScenarioError(errs)
        with timer("load layers"):
            layers = P.load_layers(sc)
        errs = P._problems(sc, layers)
        if errs:
            raise ScenarioError(errs)
        with timer("regions"):
            belts, excl = P._regions(sc, layers)
            excl_union = shapely.union_all(excl.geometry.to_numpy())
        with timer("grid"):
            grid = P._grid(sc, belts)
            geoms = dict(zip(belts["belt"], belts.geometry, strict=True))
            clip = P._bbox_work(sc)
            codes = {b: i + 1 for i, b in enumerate(_belt_names())}
            inner = []
            for b in P.BELT_PRECEDENCE:
                g = shapely.difference(geoms[b], excl_union)
                if clip is not None:
                    g = shapely.intersection(g, clip)
                # Grid.mask's rule: centres inside the belt eroded by a half diagonal
                e = shapely.buffer(g, -grid.res * 0.7072, quad_segs=2)
                inner.append((codes[b], None if e.is_empty else e))
        with timer("sites"):
            sites, excluded = P._sites(sc, layers, belts, excl_union)
        site_xy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
        key = P._prepared_key(sc)
        self._inner[key] = inner
        return Prepared(
            key=key,
            layers=layers,
            belts=belts,
            exclusions=excl,
            grid=grid,
            belt_masks={},
            candidate_mask=None,  # type: ignore[arg-type]
            cell_xy=np.zeros((0, 2)),
            sites=sites,
            site_xy=site_xy.reshape(-1, 2),
            excluded_sites=excluded,
        )

    # ------------------------------------------------------------------ the chunked pass

    def _blocks(self, grid: Any) -> list[tuple[int, int]]:
        rows = max(1, self.chunk // max(grid.width, 1))
        return [(r0, min(r0 + rows, grid.height)) for r0 in range(0, grid.height, rows)]

    def _distributed(self) -> bool:
        return self._get is not None and not isinstance(self._get, str)

    @contextlib.contextmanager
    def _remote_errors(self) -> Iterator[None]:
        """Workers that cannot load geoplan's tasks: one line, not a traceback."""
        try:
            yield
        except RuntimeError as exc:
            if "deserializ" not in str(exc):
                raise
            raise GeoplanError(
                f"--scheduler {self.scheduler}: the scheduler or its workers cannot load "
                "geoplan's tasks; install this geoplan (with dask) in their environment"
            ) from None

    def _share(self, ctx: _Context) -> Any:
        """The context sent once to every worker (a future), or itself on a local scheduler."""
        if self._distributed():
            with self._remote_errors():
                (cf,) = self._get.scatter([ctx], broadcast=True)
            return cf
        return ctx

    def _run_one(self, fn: Any, ctx: Any, *args: Any) -> Any:
        """``fn(ctx, *args)`` as one task (on a worker when there is a cluster)."""
        if self._distributed():
            with self._remote_errors():
                return self._get.submit(fn, ctx, *args, pure=False).result()
        import dask

        return dask.delayed(fn, pure=False)(ctx, *args).compute(scheduler=self._get or "threads")

    def _map_blocks(self, ctx: Any, blocks: list[tuple[int, int]]) -> Iterator[dict]:
        """Run :func:`_block_task` on every block; results as they complete."""
        get = self._get
        with self._remote_errors():
            if self._distributed():
                from distributed import as_completed

                cf = ctx
                futs = [get.submit(_block_task, cf, r0, r1, pure=False) for r0, r1 in blocks]
                for fut in as_completed(futs):
                    out = fut.result()
                    fut.release()
                    yield out
            else:
                import dask

                step = 1 if get == "synchronous" else 8
                task = dask.delayed(_block_task, pure=False)
                for i in range(0, len(blocks), step):
                    batch = [task(ctx, r0, r1) for r0, r1 in blocks[i : i + step]]
                    yield from dask.compute(*batch, scheduler=get or "threads")

    def run_profiles(
        self, prepared: Any, sc: Any, timer: Any = None, *, draws: int = 0
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Every profile's surface (on disk), zones and sites, computed block by block.

        Returns
        -------
        keys : dict
            Criterion name -> column key (as :func:`geoplan.pipeline.ensure_criteria`).
        runs : dict
            Profile name -> ``pipeline._ProfileRun`` whose ``surface`` is a :class:`DiskRaster`.
        """
        P = self._stages()

        if draws and sc.sensitivity.cell_share:
            raise ScenarioError(
                "sensitivity.cell_share: the per-cell robustness surfaces need the grid in "
                "memory; set it to false or run without --engine dask"
            )
        timer = timer or P._Timer(False)
        grid = prepared.grid
        used = P._used_criteria(sc)
        specs = {c: sc.criteria[c] for c in used}
        sat = {c: (P._saturation(sc, c) if specs[c].kind == "distance_to" else None) for c in used}
        keys = {c: f"{specs[c].key()}@{sat[c]}" for c in used}
        store = _Store(self.tmpdir, self.chunk)
        if hasattr(self._get, "run"):  # a distributed client: its workers may be elsewhere
            check_store(self._get, store.dir)
        shape = (grid.height, grid.width)
        surfaces = {p: store.raster(f"surface-{i}", shape, "float32")
                    for i, p in enumerate(sc.profiles)}  # fmt: skip
        belt_map = store.raster("belts", shape, "uint8")
        kept = None
        if self.keep_criteria:
            if prepared.key not in self._kept:
                self._kept[prepared.key] = _Store(self.tmpdir, self.chunk)
            kept = str(self._kept[prepared.key].dir)
        c = sc.constraints
        ctx = _Context(
            grid=grid,
            inner=self._inner[prepared.key],
            layers=dict(prepared.layers),
            specs=specs,
            saturate=sat,
            profiles=dict(sc.profiles),
            aggregation=sc.aggregation,
            slope_dem=None if c.max_slope_deg is None else str(c.slope_dem),
            max_slope_deg=None if c.max_slope_deg is None else float(c.max_slope_deg or 90.0),
            surfaces=surfaces,
            belt_map=belt_map,
            seeds=SEEDS_PER_BLOCK,
            keys=keys,
            cache=kept,
        )
        ctx = self._share(ctx)
        blocks = self._blocks(grid)
        found: dict[tuple[str, int], list[_BlockSeeds]] = {}
        ncand = 0
        with timer("criteria + scores (grid blocks)"):
            for out in self._map_blocks(ctx, blocks):
                ncand += out["candidates"]
                for (pname, code), (v, f, total) in out["seeds"].items():
                    stream = _BlockSeeds(
                        (out["r0"], out["r1"]), v, f, total, surfaces[pname], belt_map, code
                    )
                    found.setdefault((pname, code), []).append(stream)
        P.log.info(
            "grid: %d x %d at %g m, %d candidate cells in %d blocks (dask)",
            grid.width, grid.height, grid.res, ncand, len(blocks),
        )  # fmt: skip
        runs: dict[str, Any] = {}
        with timer("zones (windows)"):
            grown = {p: self._grow(sc, p, surfaces[p], belt_map, grid, found) for p in sc.profiles}
        with timer("zone and site rows"):
            raw_zone = self._zone_raw(prepared, ctx, grown)
            for pname in sc.profiles:
                zone_rows, zone_cells = self._zone_rows(prepared, sc, pname, grown[pname],
                                                        raw_zone[pname])  # fmt: skip
                runs[pname] = P._ProfileRun(
                    surfaces[pname], zone_rows, zone_cells, self._site_rows(prepared, sc, pname)
                )
        return keys, runs

    def _grow(self, sc, pname, surf, belt_map, grid, found) -> list[tuple[str, Any]]:
        """:func:`geoplan.zones.grow_round_robin` on the on-disk surface (same zones)."""
        _target_area = self._stages()._target_area

        prof = sc.profiles[pname]
        size = sc.candidates.size_classes[prof.zone_size]
        g = _WindowGrower(
            surf,
            belt_map,
            grid,
            _target_area(size, grid.res, pname),
            sc.candidates.min_spacing_km * 1000,
        )
        names = _belt_names()
        state: dict[str, Any] = {}
        out: list[tuple[str, Any]] = []
        for _ in range(sc.candidates.zones_per_belt):
            for i, b in enumerate(names):
                if b not in state:
                    state[b] = _merged(found.get((pname, i + 1), []))
                if state[b] is None:
                    continue
                z = g.next_zone(i + 1, state[b])
                if z is None:
                    state[b] = None
                    continue
                out.append((b, z))
        return out

    def _zone_raw(self, prepared, ctx, grown) -> dict[str, list[dict[str, Any]]]:
        """Raw criteria at every zone's cells: one task, one evaluation per criterion."""
        grid = prepared.grid
        cells = [(p, k, z) for p, zs in grown.items() for k, (_, z) in enumerate(zs)]
        xy = (
            np.concatenate([_rows_xy(grid, z.rows, z.cols) for _, _, z in cells])
            if cells
            else np.zeros((0, 2))
        )
        raw, slope = self._run_one(_cells_task, ctx, xy)
        out: dict[str, list[dict[str, Any]]] = {p: [] for p in grown}
        i = 0
        for p, _, z in cells:
            j = i + len(z.rows)
            row = {n: v[i:j] for n, v in raw.items()}
            row["__slope__"] = None if slope is None else slope[i:j]
            out[p].append(row)
            i = j
        return out

    def _zone_rows(self, prepared, sc, pname, grown, raws):
        """Zone rows as :func:`geoplan.pipeline._run_profile` makes them."""
        P = self._stages()
        from geoplan.score import score_profile

        prof = sc.profiles[pname]
        zone_rows: list[dict[str, Any]] = []
        zone_cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for (belt, z), raw in zip(grown, raws, strict=True):
            ps = score_profile(prof, {pc.criterion: raw[pc.criterion] for pc in prof.criteria},
                               sc.aggregation)  # fmt: skip
            cols = P._explain_columns(ps, slice(None))
            row = P._zone_row(cols, float(np.mean(ps.score)), z, belt, pname, prepared.grid, sc,
                              raw["__slope__"])  # fmt: skip
            zone_rows.append(row)
            zone_cells[row["zone_id"]] = (z.rows, z.cols)
        return zone_rows, zone_cells

    def _site_rows(self, prepared, sc, pname) -> list[dict[str, Any]]:
        """Site rows as :func:`geoplan.pipeline._run_profile` makes them."""
        from geoplan import criteria as C

        _site_rows = self._stages()._site_rows
        from geoplan.score import score_profile

        prof = sc.profiles[pname]
        if not len(prepared.site_xy):
            return []
        raw = {
            pc.criterion: C.evaluate(
                prepared.site_xy, sc.criteria[pc.criterion], prepared.layers, crs=sc.crs
            )
            for pc in prof.criteria
        }
        ss = score_profile(prof, raw, sc.aggregation)
        return _site_rows(ss, prepared.sites, pname)
