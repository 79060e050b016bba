"""Writing a run's outputs: map, GeoPackage, COG surfaces, ranking.csv, report, run.json.

:func:`write` is the only place a run touches the disk. Every output is
written into a staging folder and published together (see
:mod:`geoplan.outputs.publish`), so a failure at any stage leaves the
previous run's files exactly as they were. File names come from
:func:`~geoplan.outputs.publish.safe_name`, never straight from a scenario.

This package never imports the engine (``pipeline``, ``results``): it is
handed a finished result.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from geoplan._errors import ExportError, ScenarioError
from geoplan.outputs import files
from geoplan.outputs.publish import safe_name, staging, unique_names

__all__ = [
    "KINDS",
    "EarlySurfaces",
    "export_run",
    "input_hashes",
    "normalise_kinds",
    "record",
    "robustness_cogs",
    "targets",
    "write",
    "write_diff",
]

log = logging.getLogger(__name__)

KINDS = ("map", "geopackage", "geotiff", "csv", "report")
_ALIASES = {
    "gpkg": "geopackage",
    "tif": "geotiff",
    "tiff": "geotiff",
    "cog": "geotiff",
    "ranking": "csv",
    "html": "map",
}
#: Layers every GeoPackage carries when loaded (the run's inputs); scenario layers add to them.
_GPKG_INPUTS = (
    "ports",
    "railways",
    "roads",
    "power_plants",
    "border_crossings",
    "cities",
    "economic_zones",
    "boundaries",
)


def normalise_kinds(only: Iterable[str] | str) -> set[str]:
    """``"map,gpkg"`` or ``["tif"]`` -> the canonical kinds; unknown kinds are refused.

    Examples
    --------
    >>> sorted(normalise_kinds("map,gpkg,tif"))
    ['geopackage', 'geotiff', 'map']
    """
    items = only.split(",") if isinstance(only, str) else list(only)
    out = set()
    for raw in items:
        k = str(raw).strip().lower()
        if not k:
            continue
        k = _ALIASES.get(k, k)
        if k not in KINDS:
            raise ScenarioError(
                f"--only {raw}: unknown output; expected map, gpkg, csv, tif or report"
            )
        out.add(k)
    return out


def targets(
    name: str, out: str | Path | None, map_path: str | Path | None = None
) -> tuple[Path, Path]:
    """The data folder and map file of a run named ``name``.

    Without ``out``: ``out/<name>/`` and ``maps/<name>.html`` (relative to
    the current folder); with it, both inside ``out``.
    """
    slug = safe_name(name)
    if out is not None:
        data_dir = Path(out)
        mp = Path(map_path) if map_path else data_dir / f"{slug}.html"
    else:
        data_dir = Path("out") / slug
        mp = Path(map_path) if map_path else Path("maps") / f"{slug}.html"
    return data_dir, mp


def input_hashes(layers: Any) -> dict[str, str | None]:
    """The SHA-256 of each loaded layer's file (``{name: hex}``), as every output records it.

    Examples
    --------
    >>> import geopandas as gpd
    >>> g = gpd.GeoDataFrame(geometry=[]); g.attrs["geoplan_sha256"] = "ab12"
    >>> input_hashes({"ports": g})
    {'ports': 'ab12'}
    """
    return {k: v.attrs.get("geoplan_sha256") for k, v in layers.items()}


def _input_layers(res: Any) -> dict[str, Any]:
    out = {}
    for k, v in res.layers.items():
        out[k] = {
            "path": v.attrs.get("geoplan_source"),
            "sha256": v.attrs.get("geoplan_sha256"),
            "layer": v.attrs.get("geoplan_layer"),
        }
    return out


def record(res: Any, lang: str) -> dict[str, Any]:
    """The run record (``run.json``): scenario as run, input hashes, version, counts."""
    from geoplan import __version__

    sc = res.scenario
    return {
        "scenario": sc.to_dict(),
        "scenario_name": sc.name,
        "scenario_source": Path(sc.source).name
        if sc.source not in ("default", "script")
        else sc.source,
        "geoplan_version": __version__,
        "input_layers": _input_layers(res),
        "grid": dataclasses.asdict(res.grid),
        "counts": {"zones": len(res.zones), "sites": len(res.sites)},
        "excluded_sites": list(res.excluded_sites),
        "language": lang,
        "robustness": res.robustness,
        "timings_s": dict(res.timings),
    }


def _gpkg_layers(res: Any, lang: str) -> dict[str, Any]:
    layers = {
        "zones": res.zones,
        "sites": res.sites,
        "belts": res.belts,
        "exclusions": res.exclusions,
    }
    named = [*_GPKG_INPUTS, *res.scenario.layers]
    for k in dict.fromkeys(named):
        if k in res.layers and k not in layers:
            layers[k] = res.layers[k]
    return layers


def robustness_cogs(res: Any, st: Any, folder: Path, submit: Any = None) -> dict[str, Path]:
    """Stage one COG per profile of the share of weight draws a cell is in its belt's top 5 %.

    ``submit(fn, *args, **kwargs)`` runs a write (default: at once; :func:`write`
    passes its thread pool's).
    """
    from geoplan import __version__

    submit = submit or (lambda fn, *a, **k: fn(*a, **k))
    written: dict[str, Path] = {}
    rob = res.robustness or {}
    shares = getattr(res.sensitivity, "cell_share", None) or {}
    slugs = unique_names(shares)
    for pname, surf in shares.items():
        target = folder / f"robustness_{slugs[pname]}.tif"
        submit(
            files.write_cog,
            st.path(target, folder),
            surf,
            res.grid.transform,
            res.grid.crs,
            description=f"share of weight draws in which the cell is in its belt's top 5 % "
            f"({pname})",
            tags={"scenario": res.scenario.name, "profile": pname, "draws": str(rob.get("draws")),
                  "seed": str(rob.get("seed")), "geoplan_version": __version__,
                  "inputs_sha256": json.dumps(input_hashes(res.layers), sort_keys=True)},
        )  # fmt: skip
        written[f"robustness:{pname}"] = target
    return written


def _surface_cog(sc: Any, pname: str, grid: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The description and tags of a profile's suitability COG (one place for both writers)."""
    from geoplan import __version__

    return {
        "description": f"suitability {pname} (0-1)",
        "tags": {
            "scenario": sc.name,
            "profile": pname,
            "geoplan_version": __version__,
            "resolution_m": str(grid.res),
            "inputs_sha256": json.dumps(inputs, sort_keys=True),
        },
    }


_EARLY_PREFIX = "geoplan-cogs-"


def _remove_stale_early() -> None:
    """Remove early-COG folders of runs that were killed (their process is gone)."""
    if os.name != "posix":  # os.kill(pid, 0) would end the process on Windows: leave them
        return
    root = Path(tempfile.gettempdir())
    for d in root.glob(f"{_EARLY_PREFIX}*-*"):
        pid = d.name[len(_EARLY_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not d.is_dir():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # no such process: a killed run's litter
            shutil.rmtree(d, ignore_errors=True)
        except OSError:  # pragma: no cover - another user's live process
            pass


class EarlySurfaces:
    """Suitability COGs written while the run goes on, each as soon as its profile is scored.

    Hand an instance to :meth:`geoplan.Session.run` as ``on_surface`` and to
    :func:`write` as ``early``: the run calls it with every profile's surface
    (on the in-memory engine); a background thread writes that surface's COG
    into a private temporary folder while the run scores the next profile
    (the second core is otherwise idle then: at 100 m the COGs took 7 s, half
    of it waited for at the end); :func:`write` then moves the finished file
    into its staging folder, so publishing, names and bytes are exactly those
    of a COG written there. :meth:`close` (or the ``with`` block) removes what
    was not used.

    Examples
    --------
    >>> import geoplan  # doctest: +SKIP
    >>> with EarlySurfaces(scenario) as early:  # doctest: +SKIP
    ...     res = geoplan.Session(scenario).run(on_surface=early)
    ...     res.write("out/x", early=early)
    """

    def __init__(self, scenario: Any, inputs: Any = None) -> None:
        self.scenario = scenario
        # the input layers' hashes the COGs record: a mapping, or a callable giving one once
        # the run has loaded its layers (a COG made without them is written again by write())
        self._inputs = inputs
        _remove_stale_early()
        self._dir = Path(tempfile.mkdtemp(prefix=f"{_EARLY_PREFIX}{os.getpid()}-"))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="geoplan-cog")
        self._jobs: dict[str, Any] = {}
        self.seconds = 0.0

    def __call__(self, pname: str, surfaces: Any, grid: Any) -> None:
        """Start writing ``surfaces[pname]`` (a Surfaces of that profile) on ``grid``."""
        path = self._dir / f"{len(self._jobs):03d}.tif"
        if callable(self._inputs):
            self._inputs = self._inputs()
        args = _surface_cog(self.scenario, pname, grid, dict(self._inputs or {}))

        def job() -> tuple[Path, dict[str, Any], Any]:
            t = time.perf_counter()
            # the grid is built in the writing thread: one grid at a time in memory
            # on one core: the run goes on on the other
            files.write_cog(path, _nodata_grid(surfaces, pname, _NODATA), grid.transform,
                            grid.crs, threads=1, **args)  # fmt: skip
            self.seconds += time.perf_counter() - t
            return path, args, grid.transform

        self._jobs[pname] = self._pool.submit(job)

    def take(self, pname: str, res: Any) -> Any:
        """The pending COG of ``pname`` if it was made for ``res``'s run, else None."""
        if res.scenario is not self.scenario:
            return None
        return self._jobs.pop(pname, None)

    def close(self) -> None:
        """Stop writing and remove every COG not taken."""
        for job in self._jobs.values():
            job.cancel()
        self._pool.shutdown(wait=True)
        self._jobs.clear()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> EarlySurfaces:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _move_early(job: Any, target: Path, res: Any, pname: str) -> None:
    """Wait for an early COG and move it to ``target`` (checked to be this run's surface).

    If the early write failed (a full temporary folder, say), the COG is written to
    ``target`` here instead: a failure there is reported with the output's own path.
    """
    try:
        path, args, transform = job.result()
    except Exception:  # retried below, where an error names the output
        path = None
    want = _surface_cog(res.scenario, pname, res.grid, input_hashes(res.layers))
    if path is None or args != want or (transform != res.grid.transform):
        files.write_cog(target, _nodata_grid(res.surfaces, pname, _NODATA), res.grid.transform,
                        res.grid.crs, **want)  # fmt: skip
        return
    shutil.move(path, target)


def write(
    res: Any,
    out: str | Path | None = None,
    *,
    only: Iterable[str] | str | None = None,
    lang: str | None = None,
    online: bool = False,
    map_path: str | Path | None = None,
    progress: bool = False,
    run_record: bool = True,
    early: EarlySurfaces | None = None,
) -> dict[str, Path]:
    """Write a run's outputs together (staged, then published at once).

    Parameters
    ----------
    res : RunResult
    out : path, optional
        Output folder (default ``out/<name>/`` and ``maps/<name>.html``).
    only : kinds, optional
        Subset of ``map, geopackage, geotiff, csv, report`` (aliases
        ``gpkg``, ``tif``); default: the scenario's ``outputs``.
    lang : {"en", "ko"}, optional
        Language of the map, report and the CSV's reasons.
    online : bool
        The map may use CDNs and online tiles.
    run_record : bool
        Write ``run.json`` (``geoplan export`` does not rewrite a run's record).
    early : EarlySurfaces, optional
        The suitability COGs already being written during the run (moved
        into place here instead of written again).

    Returns
    -------
    dict of str to Path
        Output kind (``geotiff:<profile>`` per surface) to its final path.
    """
    from geoplan import __version__

    sc = res.scenario
    lang = lang or sc.outputs.language
    if lang not in ("en", "ko"):
        raise ScenarioError(f"--lang {lang}: expected en or ko")
    kinds = sc.outputs.kinds() if only is None else normalise_kinds(only)
    data_dir, mp = targets(sc.name, out, map_path)
    meta = {
        "scenario": sc.name,
        "geoplan_version": __version__,
        "inputs_sha256": {k: v["sha256"] for k, v in _input_layers(res).items()},
    }
    written: dict[str, Path] = {}
    timings: dict[str, float] = {}

    def timed(stage: str):
        class _T:
            def __enter__(self_inner) -> None:
                if progress:
                    log.info("geoplan: %s ...", stage)
                self_inner.t = time.perf_counter()

            def __exit__(self_inner, *exc: object) -> None:
                timings[stage] = round(time.perf_counter() - self_inner.t, 3)

        return _T()

    cog_s: list[float] = []
    failed: list[BaseException] = []

    def cog(path: Path, array: Any, *args: Any, **kwargs: Any) -> None:
        if failed:  # one write failed: the run fails, write no more
            return
        t = time.perf_counter()
        try:
            # a grid is built in the thread that writes it: one grid per thread in memory
            files.write_cog(path, array() if callable(array) else array, *args, **kwargs)
        except BaseException as exc:
            failed.append(exc)
            raise
        cog_s.append(time.perf_counter() - t)

    # the COGs are written in a thread (GDAL releases the GIL while it builds overviews and
    # compresses) while this thread builds the CSV, GeoPackage, map and report; each thread
    # writes its own staged file, so the bytes do not depend on the order they finish in
    t_all = time.perf_counter()
    # one COG thread per core beyond this one (1 on 2 cores): more would take CPU from the
    # map, which is the longer job, and hold more grids in memory
    n_cog = min(2, max(1, (os.cpu_count() or 2) - 1))
    with staging(data_dir) as st, ThreadPoolExecutor(max_workers=n_cog) as pool:
        jobs: list[Any] = []

        def submit(fn: Any, *args: Any, **kwargs: Any) -> None:
            jobs.append(pool.submit(cog if fn is files.write_cog else fn, *args, **kwargs))

        if "geotiff" in kinds:
            slugs = unique_names(res.surfaces)
            for pname in res.surfaces:
                target = data_dir / f"suitability_{slugs[pname]}.tif"
                job = early.take(pname, res) if early is not None else None
                if job is not None:
                    submit(_move_early, job, st.path(target, data_dir), res, pname)
                else:
                    surf = functools.partial(_nodata_grid, res.surfaces, pname, _NODATA)
                    submit(
                        files.write_cog,
                        st.path(target, data_dir),
                        surf,
                        res.grid.transform,
                        res.grid.crs,
                        **_surface_cog(sc, pname, res.grid, input_hashes(res.layers)),
                    )
                written[f"geotiff:{pname}"] = target
            written.update(robustness_cogs(res, st, data_dir, submit))
        if "csv" in kinds:
            with timed("write ranking.csv"):
                target = data_dir / "ranking.csv"
                files.write_csv(st.path(target, data_dir), _ranking_table(res, lang))
                written["ranking"] = target
        if "geopackage" in kinds:
            with timed("write GeoPackage"):
                target = data_dir / f"{safe_name(sc.name)}.gpkg"
                files.write_geopackage(
                    st.path(target, data_dir), _gpkg_layers(res, lang), metadata=meta
                )
                written["geopackage"] = target
        if "map" in kinds:
            with timed("write map"):
                from geoplan import webmap

                html = webmap.render(res, lang=lang, online=online)
                files.write_text(st.path(mp, mp.parent), html)
                written["map"] = mp
        if "report" in kinds:
            with timed("write report"):
                from geoplan.outputs import report

                target = data_dir / "report.html"
                files.write_text(st.path(target, data_dir), report.render_report(res, lang=lang))
                written["report"] = target
        if jobs:
            t = time.perf_counter()
            for job in jobs:  # in submission order; the first failure is raised
                job.result()
            timings["write GeoTIFF"] = round(sum(cog_s), 3)
            if early is not None:
                timings["write GeoTIFF (during the run)"] = round(early.seconds, 3)
            timings["write GeoTIFF (waited)"] = round(time.perf_counter() - t, 3)
        timings["write (all)"] = round(time.perf_counter() - t_all, 3)
        if run_record:
            rec = record(res, lang)
            rec["timings_s"] = {**rec["timings_s"], **timings}
            rec["outputs"] = {k: _rel(v, data_dir) for k, v in written.items()}
            target = data_dir / "run.json"
            files.write_json(st.path(target, data_dir), rec)
            written["run"] = target
        st.publish()
    res.timings.update(timings)
    return written


_NODATA = -9999.0


def _nodata_grid(surfaces: Any, pname: str, nodata: float) -> Any:
    """A profile's surface as a float32 grid with ``nodata`` for NaN, built once (no copies)."""
    import numpy as np

    cell_values = getattr(surfaces, "cell_values", None)
    if cell_values is None:
        return surfaces[pname]
    v = cell_values(pname)
    out = np.full(surfaces.mask.shape, nodata, dtype=np.float32)
    out[surfaces.mask] = np.where(np.isfinite(v), v, np.float32(nodata))
    return out


def _rel(p: Path, base: Path) -> str:
    try:
        return str(p.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(p)


def _ranking_table(res: Any, lang: str) -> Any:
    df = res.ranking.copy()
    if lang != "en":
        from geoplan import explain

        df["phase_reason"] = explain.reasons(
            df,
            res.scenario.prioritisation.phase_rules,
            res.scenario.profiles,
            lang,
            draws=(res.robustness or {}).get("draws", 0),
            top_k=res.scenario.prioritisation.top_k,
        )
    return df


def export_run(run_dir: str | Path) -> tuple[dict[str, Any], Any]:
    """Read and check a run's ``run.json``: its scenario, and that its inputs are unchanged.

    Nothing in the record may name a path to write to: the scenario name is
    slugged like any other, and every input the scenario names must be
    recorded with its hash and hash the same today.

    Returns
    -------
    (dict, Scenario)
        The record and the scenario to rerun.

    Raises
    ------
    ScenarioError
        No, unreadable or incomplete record, or inputs changed since the run.
    """
    from geoplan import layers as L
    from geoplan.scenario import load_scenario

    rec_path = Path(run_dir) / "run.json"
    try:
        text = rec_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            f"{rec_path}: no such file; --run must name a folder of a geoplan run"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{rec_path}: cannot read ({exc})") from exc
    try:
        rec = json.loads(text)
        data = rec["scenario"]
        inputs = rec["input_layers"]
        if not isinstance(data, dict) or not isinstance(inputs, dict):
            raise TypeError("scenario and input_layers must be mappings")
    except (ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{rec_path}: not a geoplan run record ({exc})") from exc
    sc = load_scenario(data)
    from geoplan.layers import catalogue

    needed = {**{k: k for k in catalogue()}, **{k: (f"{v.path}") for k, v in sc.layers.items()}}
    missing = sorted(
        k
        for k in needed
        if k not in inputs or not isinstance(inputs[k], dict) or not inputs[k].get("sha256")
    )
    if missing:
        raise ScenarioError(
            f"{rec_path}: the record is incomplete (no input hash for {', '.join(missing)}); "
            "run the scenario again instead"
        )
    changed = []
    for k, src in needed.items():
        try:
            now = L.layer_hash(src)
        except (OSError, ExportError):
            now = None
        if now != inputs[k]["sha256"]:
            changed.append(k)
    if changed:
        raise ScenarioError(
            f"{rec_path}: input layers changed since the run: {', '.join(sorted(changed))}; "
            "run the scenario again instead"
        )
    return rec, sc


def write_diff(
    d: Any, folder: str | Path, *, a: Any = None, b: Any = None, names: tuple[str, str] = ("A", "B")
) -> dict[str, Path]:
    """Write a run comparison: ``diff.csv`` (and the comparison map when the map supports it)."""
    folder = Path(folder)
    written: dict[str, Path] = {}
    with staging(folder) as st:
        target = folder / "diff.csv"
        files.write_csv(st.path(target, folder), d.table)
        written["diff"] = target
        from geoplan import webmap

        render = getattr(webmap, "render_diff", None)
        if render is not None and a is not None and b is not None:
            target = folder / "diff.html"
            files.write_text(st.path(target, folder), render(d, a, b, names=names))
            written["diff map"] = target
        st.publish()
    return written
