"""The Dask engine: the grid's criteria and scores computed chunk by chunk.

``geoplan run --engine dask`` (``Session(engine="dask")``) evaluates every
grid criterion and every profile's score over chunks of cell centres with
:mod:`dask.array`, on a :class:`distributed.LocalCluster` by default, on an
existing cluster (``scheduler="tcp://host:8786"`` or a ``distributed.Client``),
or on a local dask scheduler (``"threads"``, ``"synchronous"``,
``"processes"``). Each chunk calls :func:`geoplan.criteria.evaluate` and
:func:`geoplan.score.score_profile` on its cells only, so the workers' memory
is bounded by the chunk size, and the results equal the in-memory engine's
(every criterion and transform is computed cell by cell).

This module owns the dask client's life and the chunked computations; it
must not change what is computed, and it imports dask only when used (dask
is optional: ``pip install -e '.[dask]'``). The driver still holds the
candidate mask, the criteria table and one float32 surface per profile
(see ``docs/scale.md``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from geoplan import criteria as C
from geoplan._errors import GeoplanError
from geoplan.score import score_profile

__all__ = [
    "DEFAULT_CHUNK",
    "LOCAL_SCHEDULERS",
    "DaskEngine",
    "DaskMissingError",
    "LazyProfileScores",
    "require_dask",
]

#: Candidate cells per chunk (1 M cells: 16 MB of centres, ~100 MB of temporaries).
DEFAULT_CHUNK = 1_000_000

#: Local dask schedulers that need no ``distributed`` cluster.
LOCAL_SCHEDULERS = ("threads", "synchronous", "processes")


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


def _eval_block(xy: np.ndarray, spec: Any, layers: Mapping[str, Any], kw: dict) -> np.ndarray:
    if not len(xy):
        return np.zeros(0)
    return C.evaluate(xy, spec, layers, **kw)


def _score_block(raw: np.ndarray, profile: Any, names: list[str], aggregation: Any) -> np.ndarray:
    cols = {n: raw[:, j] for j, n in enumerate(names)}
    return score_profile(profile, cols, aggregation).score


class _Rows:
    """``ps.raw[idx, j]``-style access that scores only the rows asked for."""

    def __init__(self, owner: LazyProfileScores, attr: str) -> None:
        self.owner = owner
        self.attr = attr

    def __getitem__(self, key: tuple[Any, int]) -> np.ndarray:
        idx, j = key
        return getattr(self.owner.rows(idx), self.attr)[:, j]


class LazyProfileScores:
    """A profile's scores: ``score`` for every cell, the rest computed for the rows read.

    Stands in for :class:`geoplan.score.ProfileScores` so zones can explain
    their cells without the (cells x criteria) tables in memory.
    """

    def __init__(self, profile: Any, raw: Mapping[str, np.ndarray], aggregation: Any, score):
        self.profile = profile
        self.raw_cols = raw
        self.aggregation = aggregation
        self.criteria = [pc.criterion for pc in profile.criteria]
        self.weights = np.asarray(profile.weights, dtype=float)
        self.score = score
        self.raw = _Rows(self, "raw")
        self.transformed = _Rows(self, "transformed")
        self.contributions = _Rows(self, "contributions")
        self._key: bytes | None = None
        self._rows: Any = None

    def rows(self, idx: np.ndarray) -> Any:
        """The full :class:`ProfileScores` of the cells ``idx`` (cached for the last ``idx``)."""
        idx = np.asarray(idx)
        key = idx.tobytes()
        if key != self._key:
            sub = {n: np.asarray(self.raw_cols[n])[idx] for n in self.criteria}
            self._rows = score_profile(self.profile, sub, self.aggregation)
            self._key = key
        return self._rows


class DaskEngine:
    """Compute the grid's criteria and scores chunk by chunk with dask.

    Parameters
    ----------
    workers : int, optional
        Worker processes of the :class:`distributed.LocalCluster` started
        when no ``scheduler`` is given (default: dask's choice for the machine).
    scheduler : str or distributed.Client, optional
        ``"tcp://host:8786"`` (an existing ``dask scheduler``), a client, or
        one of :data:`LOCAL_SCHEDULERS`. Default: a new LocalCluster per run.
    chunk : int
        Candidate cells per chunk.

    Examples
    --------
    >>> import geoplan
    >>> r = geoplan.run(engine="dask", scheduler="threads",
    ...                 grid={"resolution_m": 2000})  # doctest: +SKIP
    """

    name = "dask"

    def __init__(
        self, workers: int | None = None, scheduler: Any = None, chunk: int = DEFAULT_CHUNK
    ) -> None:
        require_dask()
        if workers is not None and int(workers) < 1:
            raise GeoplanError(f"--workers: {workers}; expected a whole number >= 1")
        self.workers = None if workers is None else int(workers)
        self.scheduler = scheduler
        self.chunk = max(1, int(chunk))
        self._get: Any = None

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

    def _compute(self, arr: Any) -> np.ndarray:
        try:
            return np.asarray(arr.compute(scheduler=self._get))
        except RuntimeError as exc:
            if "deserializ" not in str(exc):
                raise
            raise GeoplanError(
                f"--scheduler {self.scheduler}: the scheduler or its workers cannot load "
                "geoplan's tasks; install this geoplan (with dask) in their environment"
            ) from None

    def evaluate(
        self,
        xy: np.ndarray,
        spec: Any,
        layers: Mapping[str, Any],
        *,
        tolerance_m: float | None = None,
        saturate_m: float | None = None,
        crs: str | None = None,
    ) -> np.ndarray:
        """:func:`geoplan.criteria.evaluate` over chunks of ``xy``; same signature and values."""
        da = require_dask()
        kw = {"tolerance_m": tolerance_m, "saturate_m": saturate_m, "crs": crs}
        if len(xy) <= 1:
            return C.evaluate(xy, spec, layers, **kw)
        fn = C.REGISTRY.get(spec.kind)
        if spec.layer in layers and not getattr(fn, "needs_layers", False):
            needed = {spec.layer: layers[spec.layer]}
        else:
            needed = dict(layers)
        if self._get is not None and not isinstance(self._get, str):
            (needed,) = self._get.scatter([needed], broadcast=True)
        arr = da.from_array(np.asarray(xy, dtype=float), chunks=(self.chunk, 2), name=False)
        out = arr.map_blocks(
            _eval_block,
            spec,
            needed,
            kw,
            drop_axis=1,
            dtype=float,
            name=f"criterion-{spec.name}-{uuid.uuid4().hex}",
        )
        return self._compute(out).astype(float, copy=False)

    def score_profile(
        self, profile: Any, raw: Mapping[str, np.ndarray], aggregation: Any
    ) -> LazyProfileScores:
        """A profile's scores for every cell, scored chunk by chunk."""
        da = require_dask()
        names = [pc.criterion for pc in profile.criteria]
        n = len(raw[names[0]]) if names else 0
        if n == 0:
            return LazyProfileScores(profile, raw, aggregation, np.zeros(0))
        cols = [da.from_array(np.asarray(raw[c], dtype=float), chunks=self.chunk) for c in names]
        table = da.stack(cols, axis=1)
        score = table.map_blocks(
            _score_block,
            profile,
            names,
            aggregation,
            drop_axis=1,
            dtype=float,
            name=f"score-{profile.name}-{uuid.uuid4().hex}",
        )
        return LazyProfileScores(profile, raw, aggregation, self._compute(score))
