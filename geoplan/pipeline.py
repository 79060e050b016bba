"""Wire the stages together; nothing else lives here.

scenario -> layers -> regions -> grid + sites -> criteria -> score ->
zones -> rank + phase -> outputs (map, GeoPackage, GeoTIFF, CSV, run.json).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geoplan import candidates, criteria, export, mcda, prioritize, regions, webmap
from geoplan import layers as L
from geoplan.scenario import Scenario, load_scenario
from geoplan.score import ProfileScores, score_profile

__all__ = ["RunResult", "rerun", "run", "score_scenario"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RunResult:
    """What a run produced: the stage outputs and the files written."""

    scenario: Scenario
    layers: dict[str, gpd.GeoDataFrame]
    belts: gpd.GeoDataFrame
    exclusions: gpd.GeoDataFrame
    grid: candidates.Grid
    surfaces: dict[str, np.ndarray]
    zones: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    ranking: pd.DataFrame
    timings: dict[str, float]
    outputs: dict[str, Path] = dataclasses.field(default_factory=dict)
    excluded_sites: list[str] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        """The scenario's name."""
        return self.scenario.name


class _Timer:
    def __init__(self, progress: bool) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    def __call__(self, stage: str) -> _Stage:
        return _Stage(self, stage)


class _Stage:
    def __init__(self, timer: _Timer, stage: str) -> None:
        self.timer, self.stage = timer, stage

    def __enter__(self) -> None:
        if self.timer.progress:
            log.info("geoplan: %s ...", self.stage)
        self.t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timer.timings[self.stage] = round(time.perf_counter() - self.t, 3)


def _explain_columns(ps: ProfileScores, idx: np.ndarray | slice) -> dict[str, Any]:
    cols: dict[str, Any] = {}
    for j, c in enumerate(ps.criteria):
        cols[f"raw_{c}"] = ps.raw[idx, j]
        cols[f"score_{c}"] = ps.transformed[idx, j]
        cols[f"weight_{c}"] = ps.weights[j]
        cols[f"contrib_{c}"] = ps.contributions[idx, j]
    return cols


def _nearest_names(xy: np.ndarray, cities: gpd.GeoDataFrame) -> list[str]:
    big = cities[(cities["population"].fillna(0) >= 20_000) & (cities["iso_a3"] == "PRK")]
    tree = shapely.STRtree(big.geometry.to_numpy())
    idx = tree.query_nearest(shapely.points(xy), all_matches=False)
    names = big["name"].to_numpy()
    out = [""] * len(xy)
    for i, j in zip(idx[0], idx[1], strict=True):
        out[i] = str(names[j])
    return out


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


def score_scenario(scenario: Scenario, *, progress: bool = False) -> RunResult:
    """Run every stage up to the ranked, phased, explained zones and sites (no files)."""
    sc = scenario
    d = sc.data
    timer = _Timer(progress)
    with timer("load layers"):
        loaded = L.load_all(d.get("layers") or {}, crs=d["crs"])
    with timer("regions"):
        bw = d["belts"]
        widths = regions.BeltWidths(
            west_coast=bw["west_coast_km"] * 1000,
            east_coast=bw["east_coast_km"] * 1000,
            border=bw["border_km"] * 1000,
            dmz_half_width=bw["dmz_half_width_km"] * 1000,
        )
        belts = regions.belts(loaded, widths)
        excl = regions.exclusions(loaded, widths)
        masks = [loaded[m] for m in d.get("constraints", {}).get("mask_layers", [])]
        for name, m in zip(d.get("constraints", {}).get("mask_layers", []), masks, strict=True):
            excl = pd.concat(
                [
                    excl,
                    gpd.GeoDataFrame(
                        {"kind": [f"mask:{name}"], "description": [f"user mask layer {name}"]},
                        geometry=[shapely.union_all(m.geometry.to_numpy())],
                        crs=excl.crs,
                    ),
                ],
                ignore_index=True,
            )
        excl_union = shapely.union_all(excl.geometry.to_numpy())
    with timer("grid"):
        res = float(d["grid"]["resolution_m"])
        grid = candidates.make_grid(tuple(belts.total_bounds), res, d["crs"])
        allowed = {
            row["belt"]: grid.mask(shapely.difference(row["geometry"], excl_union))
            for _, row in belts.iterrows()
        }
        any_allowed = np.logical_or.reduce(list(allowed.values()))
        cell_xy = grid.cell_xy(any_allowed)
        log.info(
            "grid: %d x %d at %g m, %d candidate cells", grid.width, grid.height, res, len(cell_xy)
        )
    used = sorted({pc.criterion for p in sc.profiles.values() for pc in p.criteria})
    with timer("criteria (grid)"):
        raw_cells = {
            c: criteria.evaluate(
                cell_xy, d["criteria"][c], loaded, name=c, tolerance_m=res / 2,
                saturate_m=_saturation(sc, c),
            )
            for c in used
        }  # fmt: skip
    sites_layer = loaded[d["candidates"]["sites_layer"]]
    site_xy = np.column_stack(
        [
            sites_layer.geometry.representative_point().x,
            sites_layer.geometry.representative_point().y,
        ]
    )
    with timer("criteria (sites)"):
        raw_sites = {c: criteria.evaluate(site_xy, d["criteria"][c], loaded, name=c) for c in used}
    cand = d["candidates"]
    size = cand["zone_size"]
    zone_rows: list[dict[str, Any]] = []
    site_rows: list[dict[str, Any]] = []
    surfaces: dict[str, np.ndarray] = {}
    site_belt = []
    for pt in shapely.points(site_xy):
        inside = [b for b, g in zip(belts["belt"], belts.geometry, strict=True) if g.contains(pt)]
        site_belt.append(inside[0] if inside else "none")
    site_excluded = shapely.contains_xy(excl_union, site_xy[:, 0], site_xy[:, 1])
    site_names = (
        sites_layer["name"].astype(str).to_numpy()
        if "name" in sites_layer.columns
        else np.array([f"site {i}" for i in range(len(sites_layer))])
    )
    if site_excluded.any():
        log.warning(
            "sites in an exclusion (DMZ, outside the DPRK, mask layer), not scored: %s",
            ", ".join(site_names[site_excluded]),
        )
    with timer("score + zones"):
        cell_index = np.full((grid.height, grid.width), -1, dtype=np.int32)
        cell_index[any_allowed] = np.arange(len(cell_xy), dtype=np.int32)
        for pname, prof in sc.profiles.items():
            ps = score_profile(prof, raw_cells, sc)
            surface = np.full((grid.height, grid.width), np.nan, dtype="float32")
            surface[any_allowed] = ps.score
            surfaces[pname] = surface
            taken = np.zeros_like(any_allowed)
            for belt in belts["belt"]:
                zones = candidates.grow_zones(
                    surface,
                    allowed[belt],
                    grid,
                    n=int(cand["zones_per_belt"]),
                    target_km2=float(cand["target_km2"][size]),
                    min_spacing_m=float(cand["min_spacing_km"]) * 1000,
                    taken=taken,
                )
                for k, z in enumerate(zones, start=1):
                    idx = cell_index[z.rows, z.cols]
                    cols = _explain_columns(ps, idx)
                    row = {k2: float(np.mean(v)) for k2, v in cols.items()}
                    row.update(
                        zone_id=f"Z-{pname}-{belt}-{k}",
                        kind="zone",
                        belt=belt,
                        profile=pname,
                        score=float(np.mean(ps.score[idx])),
                        min_score=z.min_score,
                        area_km2=z.area_km2,
                        size_class=size,
                        geometry=z.geometry,
                    )
                    zone_rows.append(row)
            ss = score_profile(prof, raw_sites, sc)
            cols = _explain_columns(ss, slice(None))
            for i in range(len(site_xy)):
                if site_excluded[i]:
                    continue
                row = {k2: (v[i] if np.ndim(v) else v) for k2, v in cols.items()}
                row.update(
                    zone_id=f"S-{pname}-{i + 1:03d}",
                    name=site_names[i],
                    kind="site",
                    belt=site_belt[i],
                    profile=pname,
                    score=float(ss.score[i]),
                    area_km2=float(sites_layer["area_km2"].iloc[i])
                    if "area_km2" in sites_layer.columns
                    else np.nan,
                    geometry=shapely.Point(site_xy[i]),
                )
                site_rows.append(row)
    with timer("prioritise"):
        crs = d["crs"]
        zones_gdf = gpd.GeoDataFrame(zone_rows, geometry="geometry", crs=crs)
        if len(zones_gdf):
            cxy = np.column_stack(
                [zones_gdf.geometry.centroid.x.to_numpy(), zones_gdf.geometry.centroid.y.to_numpy()]
            )
            near = _nearest_names(cxy, loaded["cities"])
            zones_gdf["name"] = [
                f"{n} {p.replace('_', ' ')} zone"
                for n, p in zip(near, zones_gdf["profile"], strict=True)
            ]
        sites_gdf = gpd.GeoDataFrame(site_rows, geometry="geometry", crs=crs)
        both = pd.concat([zones_gdf, sites_gdf], ignore_index=True)
        both["topsis"] = np.nan  # TOPSIS closeness over the candidate list, a second opinion
        for pname, prof in sc.profiles.items():
            sel = (both["profile"] == pname).to_numpy()
            cols_s = [f"score_{pc.criterion}" for pc in prof.criteria]
            if sel.sum() >= 2:
                closeness, _, _ = mcda.topsis(
                    both.loc[sel, cols_s].to_numpy(dtype=float), prof.weights, [True] * len(cols_s)
                )
                both.loc[sel, "topsis"] = closeness
        both = prioritize.rank(pd.DataFrame(both))
        both = prioritize.assign_phases(both, d["prioritisation"]["phase_rules"])
        both = gpd.GeoDataFrame(both, geometry="geometry", crs=crs)
        lonlat = both.geometry.representative_point().to_crs("EPSG:4326")
        both["lon"] = lonlat.x.round(5)
        both["lat"] = lonlat.y.round(5)
        front = [
            "zone_id", "name", "kind", "belt", "profile", "score", "rank_in_belt",
            "rank_overall", "phase", "phase_reason", "area_km2", "lon", "lat",
        ]  # fmt: skip
        contrib = sorted(c for c in both.columns if c.startswith("contrib_"))
        rest = sorted(
            c for c in both.columns if c not in front and c not in contrib and c != "geometry"
        )
        both = both[[*front, *contrib, *rest, "geometry"]]
        both = both.sort_values(["profile", "rank_overall", "zone_id"]).reset_index(drop=True)
        zones_out = both[both["kind"] == "zone"].reset_index(drop=True)
        sites_out = both[both["kind"] == "site"].reset_index(drop=True)
    return RunResult(
        sc, loaded, belts, excl, grid, surfaces, zones_out, sites_out,
        pd.DataFrame(both.drop(columns="geometry")), timer.timings,
        excluded_sites=[str(n) for n in site_names[site_excluded]],
    )  # fmt: skip


def run(
    scenario: str | Path | Scenario | None = None,
    *,
    out: str | Path | None = None,
    online: bool = False,
    progress: bool = True,
    only: set[str] | None = None,
) -> RunResult:
    """Run the whole pipeline and write its outputs.

    Parameters
    ----------
    scenario : path or Scenario, optional
        Scenario file (or object); the default scenario when ``None``.
    out : path, optional
        Folder for every output. Default: the map to ``maps/<name>.html``,
        the data products to ``out/<name>/``.
    online : bool
        Map uses CDNs and online tiles.
    progress : bool
        Log each stage at INFO level.
    only : set of str, optional
        Write only these outputs (``map``, ``geopackage``, ``geotiff``,
        ``csv``, ``report``); ``run.json`` is always written.

    Returns
    -------
    RunResult
    """
    from geoplan import __version__, report

    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    t0 = time.perf_counter()
    res = score_scenario(sc, progress=progress)
    name = sc.name
    data_dir = Path(out) if out else Path("out") / name
    map_path = Path(out) / f"{name}.html" if out else Path("maps") / f"{name}.html"
    hashes = {k: v.attrs.get("geoplan_sha256") for k, v in res.layers.items()}
    record = {
        "scenario": sc.data,
        "scenario_source": sc.source,
        "geoplan_version": __version__,
        "input_layers": {
            k: {"path": v.attrs.get("geoplan_source"), "sha256": hashes[k]}
            for k, v in res.layers.items()
        },
        "grid": dataclasses.asdict(res.grid),
        "counts": {"zones": len(res.zones), "sites": len(res.sites)},
        "excluded_sites": res.excluded_sites,
    }
    outs = dict(sc.data.get("outputs", {}))
    if only is not None:
        outs = {k: k in only for k in ("map", "geopackage", "geotiff", "csv", "report")}
    timer = _Timer(progress)
    meta = {"scenario": name, "geoplan_version": __version__, "inputs_sha256": hashes}
    if outs.get("geotiff", True):
        with timer("write GeoTIFF"):
            for pname, surf in res.surfaces.items():
                res.outputs[f"geotiff:{pname}"] = export.write_cog(
                    data_dir / f"suitability_{pname}.tif",
                    surf,
                    res.grid.transform,
                    res.grid.crs,
                    description=f"suitability {pname} (0-1)",
                    tags={
                        "scenario": name,
                        "profile": pname,
                        "geoplan_version": __version__,
                        "resolution_m": str(res.grid.res),
                    },
                )
    if outs.get("csv", True):
        with timer("write ranking.csv"):
            res.outputs["ranking"] = export.write_csv(data_dir / "ranking.csv", res.ranking)
    if outs.get("geopackage", True):
        with timer("write GeoPackage"):
            gp_layers = {"zones": res.zones, "sites": res.sites, "belts": res.belts,
                         "exclusions": res.exclusions}  # fmt: skip
            for k in ("ports", "railways", "roads", "power_plants", "border_crossings",
                      "cities", "boundaries"):  # fmt: skip
                if k in res.layers:
                    gp_layers[k] = res.layers[k]
            res.outputs["geopackage"] = export.write_geopackage(
                data_dir / f"{name}.gpkg", gp_layers, metadata=meta
            )
    if outs.get("map", True):
        with timer("write map"):
            m = webmap.make_map(
                res.layers,
                belts=res.belts,
                exclusions=res.exclusions,
                zones=res.zones,
                sites=res.sites[res.sites["rank_in_belt"].fillna(99) <= 5],
                surfaces={
                    p: (s, res.grid.transform, res.grid.crs) for p, s in res.surfaces.items()
                },
                title=f"geoplan: {name}",
                meta={"scenario": name},
                online=online,
            )
            res.outputs["map"] = webmap.write_map(m, map_path, online=online)
    if outs.get("report", True):
        with timer("write report"):
            res.outputs["report"] = report.write_report(res, data_dir / "report.html")
    res.timings.update(timer.timings)
    res.timings["total"] = round(time.perf_counter() - t0, 3)
    record["timings_s"] = res.timings
    record["outputs"] = {k: str(v) for k, v in res.outputs.items()}
    res.outputs["run"] = export.write_json(data_dir / "run.json", record)
    return res


def rerun(
    run_dir: str | Path,
    kind: str,
    *,
    out: str | Path | None = None,
    online: bool = False,
    progress: bool = False,
) -> RunResult:
    """Write one output of a previous run again from its ``run.json``.

    The recorded scenario is validated and rerun (the pipeline is
    deterministic); the current input layers must hash as they did, or the
    output would not be the run's.

    Raises
    ------
    ScenarioError
        No or unreadable ``run.json``, or inputs changed since the run.
    """
    import json

    from geoplan._errors import ScenarioError

    rec_path = Path(run_dir) / "run.json"
    try:
        rec = json.loads(rec_path.read_text(encoding="utf-8"))
        data = rec["scenario"]
        recorded = {k: v["sha256"] for k, v in rec["input_layers"].items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{rec_path}: not a geoplan run record ({exc})") from exc
    sc = load_scenario(data)
    sources = {**{k: k for k in recorded}, **(data.get("layers") or {})}
    now = {k: L.layer_hash(str(v).partition("::")[0]) for k, v in sources.items() if k in recorded}
    changed = sorted(k for k in recorded if now.get(k) != recorded[k])
    if changed:
        raise ScenarioError(
            f"{rec_path}: input layers changed since the run: {', '.join(changed)}; "
            "run the scenario again instead"
        )
    return run(sc, out=out, online=online, progress=progress, only={kind})
