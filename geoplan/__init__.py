"""geoplan: plan small and medium industrial development zones on the Korean peninsula.

Data flows one way, one module per stage::

    scenario -> layers -> regions (belts) / grid -> criteria table -> score
    -> zones -> prioritize -> RunResult -> outputs (map, GeoPackage, COG, CSV, report)

The public API::

    import geoplan
    result = geoplan.run("my.yaml")                  # nothing written yet
    result.write("out/my")                           # map, GeoPackage, COGs, CSV, report
    s = geoplan.Session("my.yaml")                   # caches layers, grid, criteria
    r2 = s.rerun(weights={"labour_intensive": {"labour_pool": 0.6}})
    d = geoplan.diff(result, r2)                     # what moved

Modules are exposed as namespaces (``geoplan.layers.load``).
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _metadata_version
from typing import TYPE_CHECKING, Any

from geoplan import layers as layers
from geoplan import network as network
from geoplan import regions as regions
from geoplan import settings as settings
from geoplan import terrain as terrain
from geoplan._errors import (
    ExportError,
    GeoplanError,
    LayerError,
    LayerReadError,
    LayerValidationError,
    ScenarioError,
)
from geoplan.layers import load, load_all

if TYPE_CHECKING:
    from geoplan.compare import Diff
    from geoplan.pipeline import Session, check, run
    from geoplan.results import RunResult
    from geoplan.scenario import Scenario, load_scenario

#: Imported on first use (``geoplan.run``...): ``import geoplan`` for a layer or the grid
#: does not load the pipeline, zones, scoring and their libraries (~35 MB).
_LAZY = {
    "Diff": "geoplan.compare",
    "RunResult": "geoplan.results",
    "Scenario": "geoplan.scenario",
    "Session": "geoplan.pipeline",
    "check": "geoplan.pipeline",
    "load_scenario": "geoplan.scenario",
    "run": "geoplan.pipeline",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


try:
    __version__ = _metadata_version("geoplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "Diff",
    "ExportError",
    "GeoplanError",
    "LayerError",
    "LayerReadError",
    "LayerValidationError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Session",
    "__version__",
    "check",
    "diff",
    "layers",
    "load",
    "load_all",
    "load_scenario",
    "network",
    "regions",
    "run",
    "settings",
    "terrain",
]


def diff(a: RunResult, b: RunResult, *, top_k: int = 3, threshold_km: float = 5.0) -> Diff:
    """Compare two results: zones matched by location, rank and score changes.

    See :func:`geoplan.compare.diff`; ``geoplan diff RUN_A RUN_B`` does the
    same for two run folders.

    Examples
    --------
    >>> r = run(grid={"resolution_m": 2000}, candidates={"zones_per_belt": 1})  # doctest: +SKIP
    >>> diff(r, r).table["status"].unique().tolist()  # doctest: +SKIP
    ['same']
    """
    import pandas as pd

    from geoplan import compare

    def both(x: RunResult) -> object:
        import geopandas as gpd

        return gpd.GeoDataFrame(
            pd.concat([x.zones, x.sites], ignore_index=True), geometry="geometry", crs=x.zones.crs
        )

    return compare.diff(both(a), both(b), top_k=top_k, threshold_km=threshold_km)
