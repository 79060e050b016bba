"""Reading a finished run back from its folder (``run.json``, GeoPackage, ``ranking.csv``).

Used by ``geoplan diff``; trusts nothing in the folder that could name a
path outside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio

from geoplan._errors import ScenarioError

__all__ = ["read_run"]


def read_run(run_dir: str | Path) -> tuple[dict[str, Any], gpd.GeoDataFrame]:
    """The record and the ranked zones and sites (with geometry) of a run folder.

    Parameters
    ----------
    run_dir : path
        A folder ``geoplan run`` wrote (``run.json`` and a GeoPackage with
        ``zones`` and ``sites`` layers).

    Returns
    -------
    (dict, GeoDataFrame)
    """
    d = Path(run_dir)
    rec_path = d / "run.json"
    try:
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(
            f"{rec_path}: no such file; expected the folder of a geoplan run"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{rec_path}: not a geoplan run record ({exc})") from exc
    gpkgs = sorted(p for p in d.glob("*.gpkg") if p.is_file())
    for gp in gpkgs:
        try:
            names = {str(r[0]) for r in pyogrio.list_layers(gp)}
        except Exception:
            continue
        if {"zones", "sites"} <= names:
            parts = [pyogrio.read_dataframe(gp, layer=n) for n in ("zones", "sites")]
            parts = [p for p in parts if len(p)]
            if not parts:
                return rec, gpd.GeoDataFrame({"zone_id": []}, geometry=[], crs="EPSG:5179")
            both = gpd.GeoDataFrame(
                pd.concat(parts, ignore_index=True), geometry="geometry", crs=parts[0].crs
            )
            return rec, both
    raise ScenarioError(
        f"{d}: no GeoPackage with zones and sites; run the scenario with the geopackage output"
    )
