"""``geoplan diff RUN_A RUN_B``: what moved between two runs."""

from __future__ import annotations

from pathlib import Path

import click

from geoplan.cli._common import handle_errors, verbosity

__all__ = ["register"]


def register(main: click.Group) -> None:
    """Attach ``diff``."""

    @main.command("diff")
    @click.argument("run_a", type=click.Path(path_type=Path, file_okay=False, exists=True))
    @click.argument("run_b", type=click.Path(path_type=Path, file_okay=False, exists=True))
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Folder for diff.csv (default: out/diff_<A>_vs_<B>/).",
    )
    @click.option(
        "--top-k",
        type=click.IntRange(1, 1000),
        default=3,
        show_default=True,
        help="Report zones entering and leaving each belt's top k.",
    )
    @click.option(
        "--threshold-km",
        type=click.FloatRange(0, 500),
        default=5.0,
        show_default=True,
        help="Zones that overlap nothing match by centroid within this distance.",
    )
    @verbosity
    @handle_errors
    def diff_cmd(run_a, run_b, out, top_k, threshold_km) -> None:
        """Compare two run folders: zones matched by location, rank and score changes."""
        from geoplan import compare, outputs, rundir
        from geoplan.outputs.publish import check_folder, safe_name

        if out is not None:
            check_folder(out)
        rec_a, a = rundir.read_run(run_a)
        rec_b, b = rundir.read_run(run_b)
        d = compare.diff(a, b, top_k=top_k, threshold_km=threshold_km)
        na = safe_name(str(rec_a.get("scenario_name", run_a.name)))
        nb = safe_name(str(rec_b.get("scenario_name", run_b.name)))
        if na.casefold() == nb.casefold():  # one scenario run twice (--set): name the folders
            na, nb = safe_name(run_a.resolve().name), safe_name(run_b.resolve().name)
        if na.casefold() == nb.casefold():
            na, nb = f"{na}_A", f"{nb}_B"
        folder = out or Path("out") / f"diff_{na}_vs_{nb}"
        written = outputs.write_diff(d, folder, a=a, b=b, names=(na, nb))
        for line in d.summary_lines():
            click.echo(line)
        for k, p in written.items():
            click.echo(f"{k}: {p}")
