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
