"""Wire the stages: scenario -> layers -> belts, grid -> criteria table -> scores -> zones -> ranks.

Nothing here writes a file: :func:`run` returns a
:class:`~geoplan.results.RunResult`, whose ``write`` method hands it to
:mod:`geoplan.outputs`. :class:`Session` caches everything weights,
transforms and aggregation do not change (layers, belts, grid, the raw
criteria table and each profile's zones), so a re-weighted rerun recomputes
no criterion.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from geoplan import criteria as C
from geoplan import explain, mcda, prioritize, regions
from geoplan import layers as L
from geoplan._errors import LayerValidationError, ScenarioError
from geoplan._memory import available_bytes, estimate_bytes, fmt_bytes
from geoplan.grid import Grid, make_grid
from geoplan.results import Prepared, RawCriterion, RunResult, Surfaces
from geoplan.scenario import BELT_NAMES, INLAND, Scenario, load_scenario
from geoplan.score import ProfileScores, score_cells, score_profile
from geoplan.zones import grow_round_robin, place_names, zone_id

__all__ = ["Session", "check", "prepare", "run"]

log = logging.getLogger(__name__)

#: A site or cell in two belts belongs to the first of these (see docs/regions.md).
BELT_PRECEDENCE = ("border", "west_coast", "east_coast")
#: Listed sites farther than this from DPRK land are refused (in the sea or abroad).
SITE_LAND_TOLERANCE_KM = 5.0
#: Share of the available memory an in-memory run may plan to use.
MEMORY_SHARE = 0.6
#: Profiles and layers (GeoPackage, map) the outputs draw from the run's inputs.
_LINE_KINDS = ("distance_to", "count_within", "inside", "nearest_attribute")


class _Timer:
    def __init__(self, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.progress:
            log.info("geoplan: %s ...", stage)
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(self.timings.get(stage, 0.0) + time.perf_counter() - t, 3)


# --------------------------------------------------------------------------- inputs


def load_layers(sc: Scenario) -> dict[str, gpd.GeoDataFrame]:
    """Load the default layers with the scenario's layers replacing or extending them."""
    overrides = {k: (f"{v.path}::{v.layer}" if v.layer else v.path) for k, v in sc.layers.items()}
    encodings = {k: v.encoding for k, v in sc.layers.items() if v.encoding}
    kwargs: dict[str, Any] = {"crs": sc.crs}
    if encodings:
        kwargs["encodings"] = encodings
    try:
        return L.load_all(overrides, **kwargs)
    except LayerValidationError as exc:
        raise LayerValidationError([_name_layer(line, sc) for line in exc.lines()]) from exc


def _name_layer(line: str, sc: Scenario) -> str:
    for name, src in sc.layers.items():
        if line.startswith(src.path):
            return f"layers.{name}: {line}"
    return line


def _crs_problems(sc: Scenario) -> list[str]:
    try:
        crs = CRS.from_user_input(sc.crs)
    except CRSError:
        return [f"crs: '{sc.crs}' is not a CRS pyproj knows; expected e.g. EPSG:5179"]
    if crs.is_geographic:
        return [
            f"crs: {sc.crs} is geographic (degrees); geoplan measures distances and areas in "
            "metres: use a projected CRS such as EPSG:5179 (Korea 2000 Unified CS)"
        ]
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if unit not in ("metre", "meter"):
        return [f"crs: {sc.crs} is in {unit or 'unknown units'}; expected a CRS in metres"]
    return []


def _used_criteria(sc: Scenario) -> list[str]:
    return sorted({pc.criterion for p in sc.profiles.values() for pc in p.criteria})


def _problems(sc: Scenario, layers: Mapping[str, gpd.GeoDataFrame]) -> list[str]:
    """Every problem a run would refuse, given the loaded layers (one line each)."""
    errs: list[str] = []
    known = list(layers)
    for i, name in enumerate(sc.constraints.mask_layers):
        if name not in layers:
            errs.append(
                f"constraints.mask_layers[{i}]: unknown layer '{name}'" + _hint(name, known)
            )
            continue
        types_ = set(layers[name].geom_type.dropna())
        if not types_ <= {"Polygon", "MultiPolygon"}:
            errs.append(
                f"constraints.mask_layers[{i}]: layer '{name}' holds {', '.join(sorted(types_))}; "
                "expected polygons"
            )
    for cname in _used_criteria(sc):
        spec = sc.criteria[cname]
        if spec.layer is not None and spec.layer not in layers:
            errs.append(
                f"criteria.{cname}.layer: unknown layer '{spec.layer}'" + _hint(spec.layer, known)
            )
            continue
        errs.extend(C.param_problems(spec, layers))
    sites = sc.candidates.sites_layer
    if sites not in layers:
        errs.append(f"candidates.sites_layer: unknown layer '{sites}'" + _hint(sites, known))
    else:
        gt = set(layers[sites].geom_type.dropna())
        if not gt <= {"Point", "MultiPoint", "Polygon", "MultiPolygon"}:
            errs.append(
                f"candidates.sites_layer: layer '{sites}' holds {', '.join(sorted(gt))}; expected "
                "points or polygons (listed sites)"
            )
    if sc.constraints.slope_dem and not Path(sc.constraints.slope_dem).exists():
        errs.append(f"constraints.slope_dem: {sc.constraints.slope_dem}: no such file or folder")
    return errs


def _hint(name: str, options: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else f"; layers: {', '.join(options)}"


def check(scenario: Scenario | str | Path | Mapping[str, Any] | None = None) -> Scenario:
    """Dry run: validate a scenario against its real inputs without computing anything.

    Opens every layer the scenario names (fields against each layer's spec),
    checks criterion ``params`` and ``where`` fields, mask and site layers,
    the CRS, and the run's memory estimate; reports every problem at once.

    Returns
    -------
    Scenario
        The validated scenario.

    Raises
    ------
    ScenarioError, LayerError
        Every problem, one line each, with its key path or file.

    Examples
    --------
    >>> check().name
    'default'
    """
    sc = load_scenario(scenario)
    errs = _crs_problems(sc)
    if errs:
        raise ScenarioError(errs)
    layers = load_layers(sc)
    errs = _problems(sc, layers)
    if errs:
        raise ScenarioError(errs)
    belts, _ = _regions(sc, layers)
    grid = _grid(sc, belts)
    _memory_check(sc, grid, belts)
    return sc


# --------------------------------------------------------------------------- prepare


def _widths(sc: Scenario) -> regions.BeltWidths:
    b = sc.belts
    return regions.BeltWidths(
        west_coast=b.west_coast_km * 1000,
        east_coast=b.east_coast_km * 1000,
        border=b.border_km * 1000,
        dmz_half_width=b.dmz_half_width_km * 1000,
    )


def _regions(
    sc: Scenario, layers: Mapping[str, gpd.GeoDataFrame]
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    widths = _widths(sc)
    belts = regions.belts(layers, widths)
    excl = regions.exclusions(layers, widths)
    for name in sc.constraints.mask_layers:
        geoms = layers[name].geometry.to_numpy()
        geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
        excl = pd.concat(
            [
                excl,
                gpd.GeoDataFrame(
                    {"kind": [f"mask:{name}"], "description": [f"user mask layer {name}"]},
                    geometry=[shapely.union_all(geoms)],
                    crs=excl.crs,
                ),
            ],
            ignore_index=True,
        )
    return belts, excl


def _bbox_work(sc: Scenario) -> shapely.Geometry | None:
    if sc.grid.bbox is None:
        return None
    lon0, lat0, lon1, lat1 = sc.grid.bbox
    box = gpd.GeoSeries([shapely.box(lon0, lat0, lon1, lat1)], crs="EPSG:4326")
    return box.to_crs(sc.crs).iloc[0]


def _grid(sc: Scenario, belts: gpd.GeoDataFrame) -> Grid:
    bounds = tuple(belts.total_bounds)
    clip = _bbox_work(sc)
    if clip is not None:
        bx = clip.bounds
        bounds = (
            max(bounds[0], bx[0]),
            max(bounds[1], bx[1]),
            min(bounds[2], bx[2]),
            min(bounds[3], bx[3]),
        )
        if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
            raise ScenarioError(
                f"grid.bbox: {list(sc.grid.bbox)} does not overlap the planning belts"
            )
    return make_grid(bounds, sc.grid.resolution_m, sc.crs)


def _memory_check(sc: Scenario, grid: Grid, belts: gpd.GeoDataFrame) -> int:
    rect = grid.width * grid.height
    area = float(belts["net_area_km2"].sum()) * 1e6
    clip = _bbox_work(sc)
    if clip is not None:
        area = float(shapely.intersection(shapely.union_all(belts.geometry.to_numpy()), clip).area)
    cand = int(area / grid.res**2)
    need = estimate_bytes(rect, cand, len(_used_criteria(sc)), len(sc.profiles))
    limit = int(available_bytes() * MEMORY_SHARE)
    if need > limit:
        raise ScenarioError(
            f"grid.resolution_m: {sc.grid.resolution_m:g} m needs about {fmt_bytes(need)} in "
            f"memory ({rect:,} grid cells, {cand:,} candidates), more than "
            f"{MEMORY_SHARE:.0%} of the {fmt_bytes(limit / MEMORY_SHARE)} available; "
            "use --engine dask, a coarser grid or --bbox"
        )
    return need


def _prepared_key(sc: Scenario) -> str:
    blob = json.dumps(
        {
            "crs": sc.crs,
            "layers": {k: dataclasses.asdict(v) for k, v in sc.layers.items()},
            "belts": dataclasses.asdict(sc.belts),
            "constraints": dataclasses.asdict(sc.constraints),
            "grid": dataclasses.asdict(sc.grid),
            "sites": sc.candidates.sites_layer,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _assign_belts(belts: gpd.GeoDataFrame, xy: np.ndarray) -> np.ndarray:
    out = np.full(len(xy), INLAND, dtype=object)
    geoms = dict(zip(belts["belt"], belts.geometry, strict=True))
    open_ = np.ones(len(xy), dtype=bool)
    for b in BELT_PRECEDENCE:
        if b not in geoms:
            continue
        g = geoms[b]
        shapely.prepare(g)
        hit = open_ & shapely.contains_xy(g, xy[:, 0], xy[:, 1])
        out[hit] = b
        open_ &= ~hit
    return out


def _sites(
    sc: Scenario,
    layers: Mapping[str, gpd.GeoDataFrame],
    belts: gpd.GeoDataFrame,
    excl_union: shapely.Geometry,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    name = sc.candidates.sites_layer
    layer = layers[name]
    geoms = layer.geometry
    has = (geoms.notna() & ~geoms.is_empty).to_numpy()
    layer = layer.loc[has]
    pts = layer.geometry.representative_point()
    xy = np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()]) if len(pts) else np.zeros((0, 2))
    names = (
        layer["name"].astype(str).to_numpy()
        if "name" in layer.columns
        else np.array([f"site {i + 1}" for i in range(len(layer))])
    )
    names_ko = (
        layer["name_ko"].astype(object).where(layer["name_ko"].notna(), None).to_numpy()
        if "name_ko" in layer.columns
        else np.full(len(layer), None, dtype=object)
    )
    prk = regions.dprk_polygon(layers["boundaries"])
    off = shapely.distance(prk, shapely.points(xy)) / 1000.0 if len(xy) else np.zeros(0)
    far = off > SITE_LAND_TOLERANCE_KM
    if far.any():
        src = layer.attrs.get("geoplan_source", name)
        raise LayerValidationError(
            [
                f"{src} [layer {name}]: site '{n}' lies {d:.1f} km off DPRK land (in the sea or "
                f"outside the study area); expected listed sites on DPRK land"
                for n, d in zip(names[far], off[far], strict=True)
            ]
        )
    excluded = shapely.contains_xy(excl_union, xy[:, 0], xy[:, 1]) if len(xy) else far
    if excluded.any():
        log.warning(
            "sites in an exclusion (DMZ, outside the DPRK, mask layer), not scored: %s",
            ", ".join(names[excluded]),
        )
    keep = ~excluded
    clip = _bbox_work(sc)
    if clip is not None:
        keep &= shapely.contains_xy(clip, xy[:, 0], xy[:, 1])
    src_index = np.flatnonzero(has)
    out = gpd.GeoDataFrame(
        {
            "site_index": src_index[keep],
            "name": names[keep],
            "name_ko": names_ko[keep],
            "belt": _assign_belts(belts, xy[keep]),
            "area_km2": (
                pd.to_numeric(layer["area_km2"], errors="coerce").to_numpy()[keep]
                if "area_km2" in layer.columns
                else np.full(int(keep.sum()), np.nan)
            ),
        },
        geometry=shapely.points(xy[keep]),
        crs=layer.crs,
    )
    return out, [str(n) for n in names[excluded]]


def prepare(
    scenario: Scenario,
    *,
    progress: bool = False,
    timer: _Timer | None = None,
    check_memory: bool = True,
) -> Prepared:
    """Load layers, build belts, exclusions, grid, candidates and listed sites (no criteria yet).

    Raises
    ------
    ScenarioError, LayerError
        Bad input, one line per problem (the same :func:`check` reports).
    """
    sc = scenario
    timer = timer or _Timer(progress)
    errs = _crs_problems(sc)
    if errs:
        raise ScenarioError(errs)
    with timer("load layers"):
        layers = load_layers(sc)
    errs = _problems(sc, layers)
    if errs:
        raise ScenarioError(errs)
    with timer("regions"):
        belts, excl = _regions(sc, layers)
        excl_union = shapely.union_all(excl.geometry.to_numpy())
    with timer("grid"):
        grid = _grid(sc, belts)
        if check_memory:
            _memory_check(sc, grid, belts)
        masks: dict[str, np.ndarray] = {}
        claimed = np.zeros((grid.height, grid.width), dtype=bool)
        geoms = dict(zip(belts["belt"], belts.geometry, strict=True))
        clip = _bbox_work(sc)
        for b in BELT_PRECEDENCE:
            g = shapely.difference(geoms[b], excl_union)
            if clip is not None:
                g = shapely.intersection(g, clip)
            m = grid.mask(g) & ~claimed
            claimed |= m
            masks[b] = m
        masks = {b: masks[b] for b in BELT_NAMES}
        slope = None
        if sc.constraints.max_slope_deg is not None:
            slope = _slope_constraint(sc, grid, claimed)
            for b in masks:
                masks[b] &= slope.ok_mask
            claimed &= slope.ok_mask
        cell_xy = grid.cell_xy(claimed)
        log.info(
            "grid: %d x %d at %g m, %d candidate cells",
            grid.width,
            grid.height,
            grid.res,
            len(cell_xy),
        )
    with timer("sites"):
        sites, excluded = _sites(sc, layers, belts, excl_union)
    site_xy = np.column_stack([sites.geometry.x.to_numpy(), sites.geometry.y.to_numpy()])
    return Prepared(
        key=_prepared_key(sc),
        layers=layers,
        belts=belts,
        exclusions=excl,
        grid=grid,
        belt_masks=masks,
        candidate_mask=claimed,
        cell_xy=cell_xy,
        sites=sites,
        site_xy=site_xy.reshape(-1, 2),
        excluded_sites=excluded,
        cell_slope=slope.cell_values(claimed) if slope is not None else None,
    )


@dataclasses.dataclass
class _Slope:
    values: np.ndarray  # (h, w) degrees at cell centres where computed, NaN elsewhere
    ok_mask: np.ndarray

    def cell_values(self, mask: np.ndarray) -> np.ndarray:
        return self.values[mask]


def _slope_constraint(sc: Scenario, grid: Grid, mask: np.ndarray) -> _Slope:
    from geoplan import terrain

    xy = grid.cell_xy(mask)
    deg = terrain.slope(xy, str(sc.constraints.slope_dem), crs=sc.crs)
    values = np.full(mask.shape, np.nan, dtype="float32")
    values[mask] = deg
    ok = np.zeros_like(mask)
    ok[mask] = np.nan_to_num(deg, nan=np.inf) <= float(sc.constraints.max_slope_deg or 90.0)
    return _Slope(values, ok)


def _saturation(sc: Scenario, criterion: str) -> float | None:
    """Distance beyond which no profile's score changes for this criterion, if any."""
    highs = []
    for prof in sc.profiles.values():
        for pc in prof.criteria:
            if pc.criterion != criterion:
                continue
            t = pc.transform
            if t.get("type") != "linear" or t.get("direction") != "falling":
                return None
            highs.append(float(t["high"]))
    return max(highs) if highs else None


def ensure_criteria(
    prepared: Prepared, sc: Scenario, timer: _Timer | None = None, engine: Any = None
) -> dict[str, str]:
    """Compute the criteria the scenario's profiles use that the table lacks.

    A cached column is reused when its spec is the same and it is exact at
    least as far as the scenario's transforms look (distance criteria beyond
    the distance where every falling transform reaches 0 are approximate;
    see :func:`geoplan.criteria.distance_to`).

    Returns
    -------
    dict of str to str
        Criterion name to its column key in ``prepared.table``.
    """
    timer = timer or _Timer(False)
    keys: dict[str, str] = {}
    missing: dict[str, tuple[Any, float | None]] = {}  # column key -> (spec, saturation)
    for cname in _used_criteria(sc):
        spec = sc.criteria[cname]
        sat = _saturation(sc, cname) if spec.kind == "distance_to" else None
        base = spec.key()
        hit = None
        for k, col in prepared.table.columns.items():
            if k.split("@")[0] == base and (
                col.saturate_m is None or (sat is not None and col.saturate_m >= sat)
            ):
                hit = k
                break
        if hit is None:
            hit = f"{base}@{sat}"
            missing.setdefault(hit, (spec, sat))
        keys[cname] = hit

    def grid_values(item: tuple[Any, float | None]) -> np.ndarray:
        spec, sat = item
        return (engine.evaluate if engine is not None else C.evaluate)(
            prepared.cell_xy,
            spec,
            prepared.layers,
            tolerance_m=prepared.grid.res / 2,
            saturate_m=sat,
            crs=sc.crs,
        )

    if missing:
        with timer("criteria (grid)"):
            if engine is None and len(missing) > 1 and (os.cpu_count() or 1) > 1:
                # independent criteria on two threads: their numpy and shapely work runs
                # outside the GIL, and the second core is otherwise idle until scoring
                with ThreadPoolExecutor(max_workers=2) as pool:
                    cells = list(pool.map(grid_values, missing.values()))
            else:
                cells = [grid_values(item) for item in missing.values()]
        with timer("criteria (sites)"):
            for (hit, (spec, sat)), values in zip(missing.items(), cells, strict=True):
                sites = (
                    C.evaluate(prepared.site_xy, spec, prepared.layers, crs=sc.crs)
                    if len(prepared.site_xy)
                    else np.zeros(0)
                )
                prepared.table.columns[hit] = RawCriterion(values, sites, sat)
    return keys


# --------------------------------------------------------------------------- score + zones


def _explain_columns(ps: ProfileScores, idx: np.ndarray | slice) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for j, c in enumerate(ps.criteria):
        cols[f"raw_{c}"] = ps.raw[idx, j]
        cols[f"score_{c}"] = ps.transformed[idx, j]
        cols[f"weight_{c}"] = ps.weights[j]
        cols[f"contrib_{c}"] = ps.contributions[idx, j]
    return cols


@dataclasses.dataclass
class _ProfileRun:
    surface: np.ndarray  # (n,) float32: the candidate cells' scores (row-major)
    zone_rows: list[dict[str, Any]]
    zone_cells: dict[str, tuple[np.ndarray, np.ndarray]]
    site_rows: list[dict[str, Any]]


def _profile_key(sc: Scenario, pname: str, keys: Mapping[str, str]) -> str:
    p = sc.profiles[pname]
    blob = json.dumps(
        {
            "criteria": [
                [pc.criterion, dict(pc.transform), pc.min_value, keys[pc.criterion]]
                for pc in p.criteria
            ],
            "weights": [float(w) for w in p.weights],
            "zone_size": p.zone_size,
            "agg": dataclasses.asdict(sc.aggregation),
            "cand": [
                sc.candidates.zones_per_belt,
                sc.candidates.min_spacing_km,
                dataclasses.astuple(sc.candidates.size_classes[p.zone_size]),
            ],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _target_area(size: Any, res: float, pname: str) -> float:
    """The zone area to grow: the class's target, as a whole number of cells inside its range."""
    cell = (res / 1000.0) ** 2
    n = max(1, round(size.target_km2 / cell))
    lo, hi = math.ceil(size.min_km2 / cell - 1e-9), math.floor(size.max_km2 / cell + 1e-9)
    if lo <= hi:
        return min(max(n, lo), hi) * cell
    warnings.warn(
        f"grid.resolution_m: {res:g} m cells ({cell:g} km²) cannot make {size.name} zones of "
        f"{size.min_km2:g}-{size.max_km2:g} km² for profile '{pname}'; zones are one cell",
        UserWarning,
        stacklevel=2,
    )
    return cell


def _size_class_of(area_km2: float, sc: Scenario) -> str:
    """The size class whose range holds ``area_km2`` (what a zone really is)."""
    for cls in sc.candidates.size_classes.values():
        if cls.min_km2 - 1e-9 <= area_km2 <= cls.max_km2 + 1e-9:
            return cls.name
    return (
        "large"
        if area_km2 > max(c.max_km2 for c in sc.candidates.size_classes.values())
        else "small"
    )


def _slope_cells(prepared: Prepared, sc: Scenario, keys: Mapping[str, str]) -> np.ndarray | None:
    """Per-cell slope (degrees) from the slope constraint's DEM or a slope criterion, if any."""
    if prepared.cell_slope is not None:
        return prepared.cell_slope
    for name, key in keys.items():
        if sc.criteria[name].kind == "slope":
            return prepared.table.columns[key].cells
    return None


def _run_profile(
    prepared: Prepared, sc: Scenario, pname: str, keys: Mapping[str, str], engine: Any = None
) -> _ProfileRun:
    prof = sc.profiles[pname]
    slope_cells = _slope_cells(prepared, sc, keys)
    grid = prepared.grid
    raw = prepared.table.cells(keys)
    if engine is not None:
        ps = engine.score_profile(prof, raw, sc.aggregation)
        score = ps.score
    else:
        # scores only, in row chunks; the explanation columns are worked out for the zone
        # cells alone (the same per-row arithmetic, so the same values)
        ps = None
        score = score_cells(prof, raw, sc.aggregation)
    surface = np.full((grid.height, grid.width), np.nan, dtype="float32")
    surface[prepared.candidate_mask] = score
    size = sc.candidates.size_classes[prof.zone_size]
    target_km2 = _target_area(size, grid.res, pname)
    zone_rows: list[dict[str, Any]] = []
    zone_cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    # round robin over the belts (1st zone of each belt, then the 2nd ...): asking for more
    # zones never changes the zones a smaller request gave, whatever the belt order
    grown = grow_round_robin(
        surface,
        {b: prepared.belt_masks[b] for b in BELT_NAMES},
        grid,
        n=sc.candidates.zones_per_belt,
        target_km2=target_km2,
        min_spacing_m=sc.candidates.min_spacing_km * 1000,
    )
    values = surface[prepared.candidate_mask]
    del surface
    flat = np.flatnonzero(prepared.candidate_mask) if grown else None
    for belt, z in grown:
        # the zone's rows in the criteria table (candidate cells in row-major order)
        idx = np.searchsorted(flat, np.asarray(z.rows, dtype=np.int64) * grid.width + z.cols)
        if ps is not None:
            cols = _explain_columns(ps, idx)
        else:
            zs = score_profile(prof, {k: v[idx] for k, v in raw.items()}, sc.aggregation)
            cols = _explain_columns(zs, slice(None))
        sl = slope_cells[idx] if slope_cells is not None else None
        row = _zone_row(cols, float(np.mean(score[idx])), z, belt, pname, grid, sc, sl)
        zone_rows.append(row)
        zone_cells[row["zone_id"]] = (z.rows, z.cols)
    site_rows: list[dict[str, Any]] = []
    if len(prepared.site_xy):
        ss = score_profile(prof, prepared.table.sites(keys), sc.aggregation)
        site_rows = _site_rows(ss, prepared.sites, pname)
    return _ProfileRun(values, zone_rows, zone_cells, site_rows)


def _zone_row(
    cols: Mapping[str, Any],
    score: float,
    z: Any,
    belt: str,
    pname: str,
    grid: Grid,
    sc: Scenario,
    slope: np.ndarray | None,
) -> dict[str, Any]:
    """One zone's row: its cells' mean explanation columns, score, identity and slope."""
    row = {k: float(np.mean(v)) for k, v in cols.items()}
    row.update(
        zone_id=zone_id(pname, belt, grid, z.seed),
        kind="zone",
        belt=belt,
        profile=pname,
        score=score,
        min_score=z.min_score,
        area_km2=z.area_km2,
        size_class=_size_class_of(z.area_km2, sc),
        geometry=z.geometry,
    )
    if slope is not None:
        row["slope_mean_deg"] = float(np.nanmean(slope)) if np.isfinite(slope).any() else np.nan
        row["slope_max_deg"] = float(np.nanmax(slope)) if np.isfinite(slope).any() else np.nan
    return row


def _site_rows(ss: Any, sites: gpd.GeoDataFrame, pname: str) -> list[dict[str, Any]]:
    """One row per listed site of a profile: its explanation columns, score and identity."""
    cols = _explain_columns(ss, slice(None))
    rows = []
    for i in range(len(sites)):
        row = {k: (v[i] if np.ndim(v) else v) for k, v in cols.items()}
        row.update(
            zone_id=f"S-{pname}-{int(sites['site_index'].iloc[i]) + 1:03d}",
            name=sites["name"].iloc[i],
            name_ko=sites["name_ko"].iloc[i],
            kind="site",
            belt=sites["belt"].iloc[i],
            profile=pname,
            score=float(ss.score[i]),
            area_km2=float(sites["area_km2"].iloc[i]),
            geometry=sites.geometry.iloc[i],
        )
        rows.append(row)
    return rows


def _name_zones(zones: gpd.GeoDataFrame, sc: Scenario, prepared: Prepared) -> gpd.GeoDataFrame:
    if not len(zones):
        for c in (
            "place",
            "place_ko",
            "place_km",
            "place_bearing",
            "place_near",
            "name",
            "name_ko",
        ):
            zones[c] = pd.Series(dtype=object)
        return zones
    cache = prepared.place_cache
    within = sc.candidates.name_within_km
    cen = zones.geometry.centroid
    # the same seed can grow a differently shaped zone: key by id and centroid (to the metre)
    keys = [
        (z, within, round(x), round(y))
        for z, x, y in zip(zones["zone_id"], cen.x, cen.y, strict=True)
    ]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    if todo:
        cities = prepared.layers["cities"]
        iso = (
            cities["iso_a3"] if "iso_a3" in cities.columns else pd.Series("PRK", index=cities.index)
        )
        places = cities[(iso == "PRK").to_numpy() & cities.geometry.notna().to_numpy()]
        pxy = np.column_stack([places.geometry.x.to_numpy(), places.geometry.y.to_numpy()])
        ko = places["name_ko"].tolist() if "name_ko" in places.columns else None
        c = cen.iloc[todo]
        found = place_names(
            np.column_stack([c.x.to_numpy(), c.y.to_numpy()]),
            pxy,
            places["name"].astype(str).tolist(),
            [k if isinstance(k, str) else None for k in ko] if ko else None,
            within_km=within,
        )
        for i, p in zip(todo, found, strict=True):
            cache[keys[i]] = p
    pn = [cache[k] for k in keys]
    zones["place"] = [p.place for p in pn]
    zones["place_ko"] = [p.place_ko for p in pn]
    zones["place_km"] = [round(p.distance_km, 1) for p in pn]
    zones["place_bearing"] = [p.bearing for p in pn]
    zones["place_near"] = [p.near for p in pn]
    order = zones.sort_values(["profile", "score", "zone_id"], ascending=[True, False, True]).index
    ranked = zones.loc[order]
    zones.loc[order, "name"] = explain.zone_names(ranked, sc.profiles, "en")
    zones.loc[order, "name_ko"] = explain.zone_names(ranked, sc.profiles, "ko")
    return zones


def _site_distance_km(df: gpd.GeoDataFrame, sites_layer: gpd.GeoDataFrame) -> np.ndarray:
    g = sites_layer.geometry.to_numpy()
    g = g[~(shapely.is_missing(g) | shapely.is_empty(g))]
    if not len(g):
        return np.full(len(df), np.nan)
    tree = shapely.STRtree(g)
    _, d = tree.query_nearest(df.geometry.to_numpy(), return_distance=True, all_matches=False)
    out = np.asarray(d, dtype=float) / 1000.0
    out[(df["kind"] == "site").to_numpy()] = 0.0
    return out


FRONT = [
    "zone_id",
    "name",
    "name_ko",
    "kind",
    "belt",
    "profile",
    "score",
    "rank_in_belt",
    "rank_overall",
    "phase",
    "priority",
    "phase_reason",
    "size_class",
    "area_km2",
    "lon",
    "lat",
]


def _prioritise(
    zone_rows: list[dict[str, Any]],
    site_rows: list[dict[str, Any]],
    sc: Scenario,
    prepared: Prepared,
    robustness: pd.DataFrame | None = None,
    draws: int = 0,
) -> gpd.GeoDataFrame:
    crs = sc.crs
    zones = (
        gpd.GeoDataFrame(zone_rows, geometry="geometry", crs=crs)
        if zone_rows
        else gpd.GeoDataFrame({"zone_id": pd.Series(dtype=str)}, geometry=[], crs=crs)
    )
    zones = _name_zones(zones, sc, prepared)
    sites = gpd.GeoDataFrame(site_rows, geometry="geometry", crs=crs) if site_rows else None
    parts = [z for z in (zones if len(zones) else None, sites) if z is not None]
    if not parts:
        both = gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in ("zone_id", "kind", "belt", "profile")}
            | {"score": pd.Series(dtype=float)},
            geometry=[],
            crs=crs,
        )
    else:
        both = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=crs)
    both["topsis"] = np.nan  # TOPSIS closeness over the candidate list, a second opinion
    for pname, prof in sc.profiles.items():
        sel = (both["profile"] == pname).to_numpy()
        cols_s = [f"score_{pc.criterion}" for pc in prof.criteria]
        if sel.sum() >= 2:
            closeness, _, _ = mcda.topsis(
                both.loc[sel, cols_s].to_numpy(dtype=float), prof.weights, [True] * len(cols_s)
            )
            both.loc[sel, "topsis"] = closeness
    both["site_distance_km"] = _site_distance_km(both, prepared.layers[sc.candidates.sites_layer])
    if robustness is not None and len(both):
        both = both.merge(robustness, on="zone_id", how="left")
    both = prioritize.rank(pd.DataFrame(both)).reset_index(drop=True)
    both = prioritize.assign_phases(both, sc.prioritisation.phase_rules)
    both = prioritize.assign_priority(both)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=crs)
    both["phase_reason"] = explain.reasons(
        both,
        sc.prioritisation.phase_rules,
        sc.profiles,
        "en",
        draws=draws,
        top_k=sc.prioritisation.top_k,
    )
    if len(both):
        lonlat = both.geometry.representative_point().to_crs("EPSG:4326")
        both["lon"] = lonlat.x.round(5)
        both["lat"] = lonlat.y.round(5)
    else:
        both["lon"] = pd.Series(dtype=float)
        both["lat"] = pd.Series(dtype=float)
    for c in FRONT:
        if c not in both.columns:
            both[c] = pd.Series([None] * len(both), dtype=object)
    contrib = sorted(c for c in both.columns if c.startswith("contrib_"))
    rest = sorted(
        c for c in both.columns if c not in FRONT and c not in contrib and c != "geometry"
    )
    both = both[[*FRONT, *contrib, *rest, "geometry"]]
    return both.sort_values(["profile", "rank_overall", "zone_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------- session + run


class Session:
    """A scenario with everything expensive cached: layers, belts, grid, criteria, zones.

    Re-running with other weights, transforms or aggregation recomputes no
    criterion; only the profiles whose scoring changed are re-scored and
    their zones re-grown. Inputs are assumed unchanged on disk while the
    session lives (make a new one if they change).

    Parameters
    ----------
    scenario : path, mapping, Scenario or None
        As for :func:`geoplan.load_scenario`.
    progress, engine, workers, scheduler, tmpdir
        As for :func:`run`.
    **overrides
        Dotted keys to values (``**{"grid.resolution_m": 500}``), or
        top-level sections as mappings (``grid={"resolution_m": 500}``).

    Examples
    --------
    >>> s = Session(grid={"resolution_m": 2000}, candidates={"zones_per_belt": 1})
    >>> r1 = s.run()
    >>> r2 = s.rerun(weights={"labour_intensive": {"labour_pool": 0.6}})
    >>> w1 = r1.scenario.profiles["labour_intensive"].weights[0]
    >>> w2 = r2.scenario.profiles["labour_intensive"].weights[0]
    >>> bool(w2 > w1)
    True
    """

    def __init__(
        self,
        scenario: Any = None,
        *,
        progress: bool = False,
        engine: str = "memory",
        workers: int | None = None,
        scheduler: Any = None,
        tmpdir: str | None = None,
        **overrides: Any,
    ) -> None:
        from geoplan.engines import get_engine

        self.scenario = load_scenario(scenario, overrides=_flatten(overrides) or None)
        self.progress = progress
        self.engine = get_engine(engine, workers=workers, scheduler=scheduler, tmpdir=tmpdir)
        if self.engine is not None:  # an engine reuses the stages below without importing them
            self.engine.stages = sys.modules[__name__]
        self._prepared: dict[str, Prepared] = {}
        self._profiles: dict[tuple[str, str, str], _ProfileRun] = {}
        self.last: RunResult | None = None

    def prepared(self, sc: Scenario | None = None, timer: _Timer | None = None) -> Prepared:
        """The cached :class:`~geoplan.results.Prepared` for ``sc`` (built on first use)."""
        sc = sc or self.scenario
        key = _prepared_key(sc)
        if key not in self._prepared:
            if getattr(self.engine, "chunked", False):  # engines/dask.py: no grid in the driver
                self._prepared[key] = self.engine.prepare(sc, progress=self.progress, timer=timer)
            else:
                self._prepared[key] = prepare(
                    sc, progress=self.progress, timer=timer, check_memory=self.engine is None
                )
        return self._prepared[key]

    def run(
        self,
        scenario: Any = None,
        *,
        profiles: list[str] | None = None,
        sensitivity: int | None = None,
        on_surface: Callable[[str, Surfaces, Grid], None] | None = None,
    ) -> RunResult:
        """Run ``scenario`` (default: the session's) through every stage, reusing the cache.

        Parameters
        ----------
        profiles : list of str, optional
            Run only these profiles.
        sensitivity : int, optional
            Monte Carlo draws for the robustness columns (default: the
            scenario's ``sensitivity.draws``; 0 switches it off).
        on_surface : callable, optional
            Called as ``on_surface(profile, surfaces, grid)`` as soon as a
            profile's surface is scored (in-memory engine), e.g.
            :class:`geoplan.outputs.EarlySurfaces`, which starts writing its
            COG while the run goes on. It must not change what it is given.
        """
        sc = self.scenario if scenario is None else load_scenario(scenario)
        if profiles:
            sc = sc.with_profiles(profiles)
        t0 = time.perf_counter()
        timer = _Timer(self.progress)
        prepared = self.prepared(sc, timer)
        surfaces: dict[str, np.ndarray] = {}
        zone_rows: list[dict[str, Any]] = []
        site_rows: list[dict[str, Any]] = []
        zone_cells: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        eng = self.engine
        draws = sc.sensitivity.draws if sensitivity is None else int(sensitivity)
        chunked = None
        with eng.activated() if eng is not None else contextlib.nullcontext():
            if getattr(eng, "chunked", False):  # engines/dask.py: grid blocks, surfaces on disk
                keys, chunked = eng.run_profiles(prepared, sc, timer, draws=draws)
            else:
                keys = ensure_criteria(prepared, sc, timer, eng)
            with timer("score + zones"):
                for pname in sc.profiles:
                    ck = (prepared.key, pname, _profile_key(sc, pname, keys))
                    if chunked is not None:
                        pr = chunked[pname]
                    else:
                        if ck not in self._profiles:
                            self._profiles[ck] = _run_profile(prepared, sc, pname, keys, eng)
                        pr = self._profiles[ck]
                    surfaces[pname] = pr.surface
                    if on_surface is not None and chunked is None:
                        on_surface(
                            pname, Surfaces(prepared.candidate_mask, {pname: pr.surface}),
                            prepared.grid,
                        )  # fmt: skip
                    zone_rows.extend(pr.zone_rows)
                    site_rows.extend(pr.site_rows)
                    zone_cells.update(pr.zone_cells)
        robust = None
        summary = None
        sens = None
        if draws:
            from geoplan import sensitivity as S

            with timer("sensitivity"):
                # the candidates' scores are all it needs: no names, ranks or phases yet
                pre = pd.DataFrame([{k: v for k, v in r.items() if k != "geometry"}
                                    for r in (*zone_rows, *site_rows)])  # fmt: skip
                sens = S.monte_carlo(pre, sc, draws=draws, prepared=prepared, keys=keys)
                robust = sens.table
                summary = sens.summary
        with timer("prioritise"):
            both = _prioritise(zone_rows, site_rows, sc, prepared, robust, draws)
            zones = both[both["kind"] == "zone"].reset_index(drop=True)
            sites = both[both["kind"] == "site"].reset_index(drop=True)
        timer.timings["total"] = round(time.perf_counter() - t0, 3)
        res = RunResult(
            scenario=sc,
            prepared=prepared,
            # on-disk surfaces under a chunked engine; the candidate cells' values otherwise
            surfaces=surfaces
            if chunked is not None
            else Surfaces(prepared.candidate_mask, surfaces),
            zones=gpd.GeoDataFrame(zones, geometry="geometry", crs=sc.crs),
            sites=gpd.GeoDataFrame(sites, geometry="geometry", crs=sc.crs),
            ranking=pd.DataFrame(both.drop(columns="geometry")),
            zone_cells=zone_cells,
            timings=timer.timings,
            robustness=summary,
            sensitivity=sens,
        )
        self.last = res
        return res

    def rerun(
        self,
        *,
        weights: Mapping[str, Mapping[str, float]] | None = None,
        transforms: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
        aggregation: Mapping[str, Any] | None = None,
        profiles: list[str] | None = None,
        **overrides: Any,
    ) -> RunResult:
        """Run the session's scenario with changed weights, transforms, aggregation or keys.

        Parameters
        ----------
        weights : mapping
            ``{profile: {criterion: weight}}``; a profile's weights are
            renormalised to sum 1. An AHP profile given weights becomes a
            direct-weight profile.
        transforms : mapping
            ``{profile: {criterion: transform spec}}``.
        aggregation : mapping
            ``{"method": "owa", "order_weights": [...]}``.
        **overrides
            Any other dotted key (``**{"candidates.zones_per_belt": 4}``).

        Returns
        -------
        RunResult
            The scenario of the result becomes the session's scenario.
        """
        changes: list[tuple[str, Any]] = list(_flatten(overrides).items())
        for pname, ws in (weights or {}).items():
            prof = self._known_profile(pname)
            if prof.ahp is not None:  # fix the AHP weights as direct weights, then change some
                changes.append((f"profiles.{pname}.ahp", None))
                changes.extend(
                    (f"profiles.{pname}.criteria.{pc.criterion}.weight", float(w))
                    for pc, w in zip(prof.criteria, prof.weights, strict=True)
                )
            changes.extend(
                (f"profiles.{pname}.criteria.{cname}.weight", float(w)) for cname, w in ws.items()
            )
        for pname, ts in (transforms or {}).items():
            self._known_profile(pname)
            for cname, spec in ts.items():
                changes.append((f"profiles.{pname}.criteria.{cname}.transform", None))
                changes.append((f"profiles.{pname}.criteria.{cname}.transform", dict(spec)))
        if aggregation is not None:
            changes.append(("aggregation", None))
            changes.append(("aggregation", dict(aggregation)))
        data = self.scenario.to_dict()
        from geoplan.scenario import _nested, _validated, merge

        for k, v in changes:
            data = merge(data, _nested(k, v))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*weights: sum to .*normalised")
            self.scenario = _validated(data, self.scenario.source, self.scenario.base_dir)
        return self.run(profiles=profiles)

    def _known_profile(self, pname: str) -> Any:
        if pname not in self.scenario.profiles:
            raise ScenarioError(
                f"profiles.{pname}: no such profile" + _hint(pname, list(self.scenario.profiles))
            )
        return self.scenario.profiles[pname]


def _flatten(overrides: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"grid": {"resolution_m": 500}}`` -> ``{"grid.resolution_m": 500}`` (one level deep)."""
    out: dict[str, Any] = {}
    for k, v in overrides.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and k in (
            "grid",
            "candidates",
            "belts",
            "outputs",
            "sensitivity",
            "constraints",
            "prioritisation",
        ):
            out.update({f"{key}.{a}": b for a, b in v.items()})
        else:
            out[key] = v
    return out


def run(
    scenario: Any = None,
    *,
    profiles: list[str] | None = None,
    progress: bool = False,
    sensitivity: int | None = None,
    engine: str = "memory",
    workers: int | None = None,
    scheduler: Any = None,
    tmpdir: str | None = None,
    **overrides: Any,
) -> RunResult:
    """Run a scenario through every stage and return the result (nothing is written).

    Parameters
    ----------
    scenario : path, mapping, Scenario or None
        A YAML file, a mapping merged over the default, a
        :class:`~geoplan.Scenario`, or ``None`` for the default.
    profiles : list of str, optional
        Run only these profiles.
    progress : bool
        Log each stage at INFO level.
    sensitivity : int, optional
        Monte Carlo weight draws (default: the scenario's ``sensitivity.draws``).
    engine : {"memory", "dask"}
        ``"dask"`` computes criteria and scores chunk by chunk with dask
        (optional dependency; see ``docs/scale.md``) and skips the memory
        refusal.
    workers : int, optional
        Dask engine: worker processes of the LocalCluster it starts.
    scheduler : str or distributed.Client, optional
        Dask engine: an existing scheduler's address (or client), or
        ``"threads"``/``"synchronous"``/``"processes"``.
    tmpdir : str, optional
        Dask engine: folder of the run's on-disk store (default: the system's
        temporary folder). A cluster's workers must read and write it at the
        same path; the run refuses, in one line, workers that cannot.
    **overrides
        Dotted keys or sections, as for :class:`Session`.

    Returns
    -------
    RunResult
        Call ``.write(out)`` to write the outputs.

    Examples
    --------
    >>> import geoplan
    >>> r = geoplan.run(grid={"resolution_m": 2000}, candidates={"zones_per_belt": 1})
    >>> sorted(r.zones["belt"].unique())
    ['border', 'east_coast', 'west_coast']
    """
    session = Session(
        scenario,
        progress=progress,
        engine=engine,
        workers=workers,
        scheduler=scheduler,
        tmpdir=tmpdir,
        **overrides,
    )
    if hasattr(session.engine, "keep_criteria"):  # one run: nothing to keep for reruns
        session.engine.keep_criteria = False
    return session.run(profiles=profiles, sensitivity=sensitivity)
