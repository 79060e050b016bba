"""What a run holds: the prepared inputs (cached) and the result (zones, sites, surfaces).

:class:`Prepared` is everything that does not depend on weights, transforms
or aggregation: layers, belts, exclusions, the grid, belt masks, candidate
cells, listed sites and the raw criteria table. A
:class:`~geoplan.pipeline.Session` keeps it, so re-weighting recomputes no
criterion. :class:`RunResult` is the scored, ranked, phased outcome; writing
files is :meth:`RunResult.write` (see :mod:`geoplan.outputs`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geoplan.grid import Grid
from geoplan.scenario import Scenario

__all__ = ["CriteriaTable", "Prepared", "RunResult", "Surfaces"]


@dataclasses.dataclass
class RawCriterion:
    """One criterion's raw values for the grid cells and the listed sites."""

    cells: np.ndarray
    sites: np.ndarray
    saturate_m: float | None


@dataclasses.dataclass
class CriteriaTable:
    """The candidates x criteria table of raw values, computed once per criterion spec."""

    columns: dict[str, RawCriterion] = dataclasses.field(default_factory=dict)  # by spec key

    def cells(self, keys: dict[str, str]) -> dict[str, np.ndarray]:
        """Raw cell values by criterion name (``keys``: name -> spec key)."""
        return {name: self.columns[k].cells for name, k in keys.items()}

    def sites(self, keys: dict[str, str]) -> dict[str, np.ndarray]:
        """Raw site values by criterion name."""
        return {name: self.columns[k].sites for name, k in keys.items()}


@dataclasses.dataclass
class Prepared:
    """Inputs of scoring that weights, transforms and aggregation do not change."""

    key: str
    layers: dict[str, gpd.GeoDataFrame]
    belts: gpd.GeoDataFrame
    exclusions: gpd.GeoDataFrame
    grid: Grid
    belt_masks: dict[str, np.ndarray]  # (h, w) bool per belt, precedence applied
    candidate_mask: np.ndarray  # (h, w) bool
    cell_xy: np.ndarray  # (n, 2), row-major order of candidate_mask
    sites: gpd.GeoDataFrame  # listed sites kept: name, name_ko, belt, geometry (points)
    site_xy: np.ndarray
    excluded_sites: list[str]
    table: CriteriaTable = dataclasses.field(default_factory=CriteriaTable)
    cell_slope: np.ndarray | None = None
    #: place names of zones already named, by zone id (ids are location-stable)
    place_cache: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def cell_index(self) -> np.ndarray:
        """(h, w) int32: each candidate cell's row in the criteria table, -1 elsewhere."""
        idx = np.full(self.candidate_mask.shape, -1, dtype=np.int32)
        idx[self.candidate_mask] = np.arange(len(self.cell_xy), dtype=np.int32)
        return idx


class Surfaces(Mapping[str, np.ndarray]):
    """Suitability per profile, kept as the candidate cells' values (a seventh of the grid).

    Looking a profile up returns a new ``(h, w)`` float32 grid, NaN outside
    the candidates; changing it changes nothing here. At 100 m the five
    grids of a default run would hold 600 MB; the cell values 85 MB.

    Examples
    --------
    >>> s = Surfaces(np.array([[True, False]]), {"p": np.array([0.5], dtype="float32")})
    >>> s["p"].tolist()
    [[0.5, nan]]
    >>> list(s), s.cell_values("p").tolist()
    (['p'], [0.5])
    """

    def __init__(self, mask: np.ndarray, values: Mapping[str, np.ndarray]) -> None:
        self.mask = mask
        self._values = dict(values)

    def __getitem__(self, profile: str) -> np.ndarray:
        out = np.full(self.mask.shape, np.nan, dtype=np.float32)
        out[self.mask] = self._values[profile]
        return out

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def cell_values(self, profile: str) -> np.ndarray:
        """The (n,) float32 values of the candidate cells (row-major), without a grid."""
        return self._values[profile]


@dataclasses.dataclass
class RunResult:
    """What a run produced, in memory.

    Attributes
    ----------
    scenario : Scenario
        The scenario as run.
    prepared : Prepared
        Layers, belts, exclusions, grid and the raw criteria table.
    surfaces : mapping of str to (h, w) float32 array
        Suitability per profile on ``grid`` (NaN outside the candidates); a
        :class:`Surfaces` (each lookup builds the grid) or a dict.
    zones, sites : GeoDataFrame
        Ranked, phased zones and listed sites (EPSG:5179), one row per
        candidate and profile, with per criterion ``raw_*``, ``score_*``
        (transformed), ``weight_*`` and ``contrib_*`` columns.
    ranking : DataFrame
        ``zones`` and ``sites`` together without geometry (``ranking.csv``).
    zone_cells : dict of str to (rows, cols)
        The grid cells of each zone, by ``zone_id``.
    robustness : dict, optional
        Summary of a weight-sensitivity analysis when one ran.
    timings : dict of str to float
        Seconds per stage.
    """

    scenario: Scenario
    prepared: Prepared
    surfaces: Mapping[str, np.ndarray]
    zones: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    ranking: pd.DataFrame
    zone_cells: dict[str, tuple[np.ndarray, np.ndarray]]
    timings: dict[str, float]
    robustness: dict[str, Any] | None = None
    sensitivity: Any = None
    outputs: dict[str, Path] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name

    @property
    def layers(self) -> dict[str, gpd.GeoDataFrame]:
        """The loaded input layers (working CRS)."""
        return self.prepared.layers

    @property
    def belts(self) -> gpd.GeoDataFrame:
        """The planning belts."""
        return self.prepared.belts

    @property
    def exclusions(self) -> gpd.GeoDataFrame:
        """Hard exclusions (DMZ, outside the DPRK, mask layers)."""
        return self.prepared.exclusions

    @property
    def grid(self) -> Grid:
        """The candidate grid."""
        return self.prepared.grid

    @property
    def excluded_sites(self) -> list[str]:
        """Listed sites not scored because they lie in an exclusion."""
        return self.prepared.excluded_sites

    def write(
        self,
        out: str | Path | None = None,
        *,
        only: Iterable[str] | None = None,
        lang: str | None = None,
        online: bool = False,
        map_path: str | Path | None = None,
        progress: bool = False,
        run_record: bool = True,
        early: Any = None,
    ) -> dict[str, Path]:
        """Write the outputs (map, GeoPackage, GeoTIFFs, CSV, report, run.json).

        Parameters
        ----------
        out : path, optional
            Folder for every output. Default: the map to ``maps/<name>.html``
            and the rest to ``out/<name>/``.
        only : iterable of str, optional
            Write only these kinds (``map``, ``geopackage``, ``geotiff``,
            ``csv``, ``report``; ``gpkg``, ``tif`` accepted); ``run.json`` is
            always written. Default: the scenario's ``outputs``.
        lang : {"en", "ko"}, optional
            Language of the map and report (default: the scenario's
            ``outputs.language``).
        online : bool
            Map uses CDNs and online tiles.
        early : geoplan.outputs.EarlySurfaces, optional
            The suitability COGs this run already started writing (``Session.run(on_surface=...)``).

        Returns
        -------
        dict of str to Path

        Examples
        --------
        >>> import geoplan  # doctest: +SKIP
        >>> r = geoplan.run(grid={"resolution_m": 1000})  # doctest: +SKIP
        >>> r.write("out/test", only=["csv"])  # doctest: +SKIP
        {'ranking': PosixPath('out/test/ranking.csv'), 'run': PosixPath('out/test/run.json')}
        """
        from geoplan import outputs

        written = outputs.write(
            self,
            out,
            only=only,
            lang=lang,
            online=online,
            map_path=map_path,
            progress=progress,
            run_record=run_record,
            early=early,
        )
        self.outputs.update(written)
        return written
