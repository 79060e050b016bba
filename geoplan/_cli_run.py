"""CLI commands that run the pipeline: ``run``."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["register"]


def register(main: click.Group) -> None:
    """Attach the pipeline commands to the main group."""
    from geoplan.cli import handle_errors

    @main.command("run")
    @click.argument("scenario", required=False)
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Write every output into this folder (default: maps/ and out/<scenario>/).",
    )
    @click.option("--online", is_flag=True, help="Map uses CDNs and online tiles.")
    @click.pass_context
    @handle_errors
    def run_cmd(ctx: click.Context, scenario: str | None, out: Path | None, online: bool) -> None:
        """Run the pipeline on SCENARIO (a YAML file; default: the built-in scenario)."""
        from geoplan import pipeline

        result = pipeline.run(scenario, out=out, online=online, progress=not ctx.obj["quiet"])
        for kind, path in result.outputs.items():
            click.echo(f"{kind}: {path}")

    @main.group("scenario")
    def scenario_grp() -> None:
        """Show and check scenario files."""

    @scenario_grp.command("show")
    @click.argument("scenario", required=False)
    @handle_errors
    def scenario_show(scenario: str | None) -> None:
        """Print the effective scenario (defaults filled in) as YAML."""
        from geoplan.scenario import load_scenario

        click.echo(load_scenario(scenario).to_yaml(), nl=False)

    @scenario_grp.command("check")
    @click.argument("scenario")
    @handle_errors
    def scenario_check(scenario: str) -> None:
        """Validate SCENARIO; exit 1 with one line per problem."""
        from geoplan.scenario import load_scenario

        sc = load_scenario(scenario)
        for name, p in sc.profiles.items():
            extra = f", AHP CR {p.ahp.consistency_ratio:.3f}" if p.ahp else ""
            weights = ", ".join(
                f"{c.criterion} {w:.3f}" for c, w in zip(p.criteria, p.weights, strict=True)
            )
            click.echo(f"profile {name}: {weights}{extra}")
        click.echo(f"ok: {scenario}")

    @main.command("export")
    @click.argument("kind", type=click.Choice(["map", "geopackage", "geotiff", "csv", "report"]))
    @click.option(
        "--run",
        "run_dir",
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        required=True,
        help="Folder of a previous run (holds its run.json).",
    )
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Where to write (default: the run's folder).",
    )
    @click.option("--online", is_flag=True, help="Map uses CDNs and online tiles.")
    @click.pass_context
    @handle_errors
    def export_cmd(
        ctx: click.Context, kind: str, run_dir: Path, out: Path | None, online: bool
    ) -> None:
        """Write one output (KIND) of a previous run again, from its run.json.

        The run's scenario is rerun on the same inputs (checked by their
        SHA-256 in run.json) and only KIND is written.
        """
        from geoplan import pipeline

        result = pipeline.rerun(run_dir, kind, out=out or run_dir, online=online,
                                progress=not ctx.obj["quiet"])  # fmt: skip
        for k, path in result.outputs.items():
            if k == kind or k.startswith(f"{kind}:"):
                click.echo(f"{k}: {path}")

    @main.group("osm")
    def osm_grp() -> None:
        """Import OpenStreetMap extracts (offline)."""

    @osm_grp.command("import")
    @click.argument("extract", type=click.Path(path_type=Path))
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        required=True,
        help="Folder for osm.gpkg and roads.graphml.",
    )
    @click.option("--clip", default=None, help="Polygon layer file, or 'dprk'.")
    @handle_errors
    def osm_import(extract: Path, out: Path, clip: str | None) -> None:
        """Import EXTRACT (.osm, .osm.bz2, .osm.pbf) into GeoPackage layers and a graph."""
        from geoplan import osm

        res = osm.import_extract(extract, out, clip=clip)
        for name, n in res["counts"].items():
            click.echo(f"{name}: {n} features")
        g = res["graph"]
        click.echo(f"graph: {g['nodes']} nodes, {g['edges']} edges, {g['components']} components")
        for k, p in res["outputs"].items():
            click.echo(f"{k}: {p}")
