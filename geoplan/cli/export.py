"""``geoplan export KIND --run DIR``: write one output of a previous run again."""

from __future__ import annotations

from pathlib import Path

import click

from geoplan.cli._common import handle_errors, quiet, verbosity

__all__ = ["register"]


def register(main: click.Group) -> None:
    """Attach ``export``."""

    @main.command("export")
    @click.argument(
        "kind", type=click.Choice(["map", "geopackage", "gpkg", "geotiff", "tif", "csv", "report"])
    )
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
    @click.option(
        "--lang",
        type=click.Choice(["en", "ko"]),
        default=None,
        help="Language of the map and report (default: the run's).",
    )
    @click.option("--online", is_flag=True, help="Map uses CDNs and online tiles.")
    @verbosity
    @click.pass_context
    @handle_errors
    def export_cmd(ctx, kind, run_dir, out, lang, online) -> None:
        """Write one output (KIND) of a previous run again, from its run.json.

        The run's scenario is rerun on the same inputs (every input checked
        against its SHA-256 in run.json) and only KIND is written; the run's
        own run.json is left as it was.
        """
        from geoplan import outputs, pipeline
        from geoplan.outputs.publish import check_folder

        check_folder(out or run_dir)  # before the rerun, not after it
        rec, sc = outputs.export_run(run_dir)
        result = pipeline.Session(sc, progress=not quiet(ctx)).run()
        written = result.write(
            out or run_dir,
            only=[kind],
            lang=lang or rec.get("language"),
            online=online,
            run_record=False,
        )
        for k, path in written.items():
            click.echo(f"{k}: {path}")
