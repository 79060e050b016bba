"""``geoplan run``: the whole pipeline, and every output."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from geoplan.cli._common import handle_errors, quiet, verbosity

__all__ = ["register", "scenario_options"]


def _bbox(_ctx: click.Context, _param: click.Parameter, value: str | None):
    if value is None:
        return None
    try:
        parts = [float(v) for v in value.replace(" ", "").split(",")]
    except ValueError:
        raise click.BadParameter("expected LON0,LAT0,LON1,LAT1 (WGS84 degrees)") from None
    if len(parts) != 4:
        raise click.BadParameter("expected four numbers LON0,LAT0,LON1,LAT1 (WGS84 degrees)")
    return parts


def scenario_options(fn):
    """``--set KEY=VALUE`` (repeatable) and ``--profile NAME`` (repeatable)."""
    fn = click.option(
        "--profile",
        "profiles",
        multiple=True,
        metavar="NAME",
        help="Run only this profile (repeatable).",
    )(fn)
    fn = click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a scenario value, e.g. --set grid.resolution_m=500 "
        "(repeatable; profile criteria by name: "
        "profiles.labour_intensive.criteria.labour_pool.weight=0.6).",
    )(fn)
    return fn


def load(scenario, sets, profiles=(), bbox=None):
    """The scenario with ``--set``, ``--bbox`` and ``--profile`` applied."""
    from geoplan.scenario import load_scenario, parse_overrides

    overrides = parse_overrides(list(sets))
    if bbox is not None:
        overrides["grid.bbox"] = bbox
    sc = load_scenario(scenario, overrides=overrides or None)
    return sc.with_profiles(list(profiles)) if profiles else sc


def register(main: click.Group) -> None:
    """Attach ``run`` to the main group."""

    @main.command("run")
    @click.argument("scenario", required=False)
    @scenario_options
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Write every output into this folder (default: maps/<name>.html and out/<name>/).",
    )
    @click.option(
        "--only",
        default=None,
        metavar="KINDS",
        help="Write only these outputs: map,gpkg,csv,tif,report (run.json always).",
    )
    @click.option(
        "--bbox",
        callback=_bbox,
        default=None,
        metavar="LON0,LAT0,LON1,LAT1",
        help="Clip the grid and sites to this WGS84 box (runs faster).",
    )
    @click.option(
        "--lang",
        type=click.Choice(["en", "ko"]),
        default=None,
        help="Language of the map and report (default: outputs.language).",
    )
    @click.option(
        "--sensitivity",
        "draws",
        type=click.IntRange(0, 1_000_000),
        default=None,
        metavar="N",
        help="Monte Carlo weight draws for robustness columns "
        "(default: the scenario's sensitivity.draws).",
    )
    @click.option("--online", is_flag=True, help="Map uses CDNs and online tiles.")
    @click.option(
        "--engine",
        type=click.Choice(["memory", "dask"]),
        default="memory",
        show_default=True,
        help="dask: criteria and scores chunk by chunk on a dask cluster (fine grids; "
        "pip install -e '.[dask]').",
    )
    @click.option(
        "--workers",
        type=click.IntRange(1, 1024),
        default=None,
        metavar="N",
        help="--engine dask: worker processes of the local cluster (default: dask's choice).",
    )
    @click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="--engine dask: use this running scheduler (tcp://host:8786) instead of a "
        "local cluster; or threads|synchronous|processes.",
    )
    @click.option(
        "--tmpdir",
        type=click.Path(file_okay=False, dir_okay=True, exists=True, writable=True),
        default=None,
        metavar="DIR",
        help="--engine dask: folder of the run's on-disk store (default: the system's "
        "temporary folder); with --scheduler on other machines, one shared at the same path.",
    )
    @verbosity
    @click.pass_context
    @handle_errors
    def run_cmd(
        ctx,
        scenario,
        sets,
        profiles,
        out,
        only,
        bbox,
        lang,
        draws,
        online,
        engine,
        workers,
        scheduler,
        tmpdir,
    ):
        """Run the pipeline on SCENARIO (a YAML file; default: the built-in scenario)."""
        from geoplan import pipeline
        from geoplan.outputs.publish import check_folder

        if out is not None:
            check_folder(out)  # before the run, not after it
        sc = load(scenario, sets, profiles, bbox)
        if engine != "dask" and (workers, scheduler, tmpdir) != (None, None, None):
            raise click.UsageError("--workers, --scheduler and --tmpdir need --engine dask")
        from geoplan import outputs

        session = pipeline.Session(
            sc,
            progress=not quiet(ctx),
            engine=engine,
            workers=workers,
            scheduler=scheduler,
            tmpdir=tmpdir,
        )
        if engine == "dask":  # one run: nothing to keep for reruns
            session.engine.keep_criteria = False
        kinds = sc.outputs.kinds() if only is None else outputs.normalise_kinds(only)
        # the suitability COGs are written while the run scores the next profile
        # the COGs record the input layers' hashes: the session's prepared layers (cached; by
        # the first surface the run has loaded them)
        hashes = lambda: outputs.input_hashes(session.prepared().layers)  # noqa: E731
        with (
            outputs.EarlySurfaces(sc, inputs=hashes)
            if "geotiff" in kinds
            else contextlib.nullcontext()
        ) as early:
            result = session.run(sensitivity=draws, on_surface=early)
            written = result.write(
                out, only=only, lang=lang, online=online, progress=not quiet(ctx), early=early
            )
        for kind, path in written.items():
            click.echo(f"{kind}: {path}")
