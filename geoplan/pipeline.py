"""Wire the stages together; nothing else lives here."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import geopandas as gpd

from geoplan import layers as L
from geoplan import regions, webmap

__all__ = ["RunResult", "run"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    """What a run produced: the stage outputs and the files written."""

    name: str
    layers: dict[str, gpd.GeoDataFrame]
    belts: gpd.GeoDataFrame
    exclusions: gpd.GeoDataFrame
    outputs: dict[str, Path]
    timings: dict[str, float]
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def run(
    scenario: str | Path | None = None,
    *,
    out: str | Path | None = None,
    online: bool = False,
    progress: bool = True,
) -> RunResult:
    """Run the pipeline and write its outputs.

    Parameters
    ----------
    scenario : path, optional
        Scenario file; the default scenario when ``None``.
    out : path, optional
        Folder for every output; default ``maps/<name>.html`` for the map.
    online : bool
        Map uses CDNs and online tiles.
    progress : bool
        Log progress at INFO level.

    Returns
    -------
    RunResult
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    name = "default" if scenario is None else Path(scenario).stem
    loaded = L.load_all()
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    b = regions.belts(loaded)
    e = regions.exclusions(loaded)
    timings["regions"] = time.perf_counter() - t
    t = time.perf_counter()
    map_path = Path(out) / f"{name}.html" if out else Path("maps") / f"{name}.html"
    m = webmap.make_map(loaded, belts=b, exclusions=e, title=f"geoplan: {name}", online=online)
    webmap.write_map(m, map_path, online=online)
    timings["map"] = time.perf_counter() - t
    return RunResult(name, loaded, b, e, {"map": map_path}, timings)
