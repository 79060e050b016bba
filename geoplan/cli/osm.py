"""``geoplan osm import``: offline OpenStreetMap extracts into GeoPackage layers and a graph."""

from __future__ import annotations

from pathlib import Path

import click

from geoplan.cli._common import handle_errors, verbosity

__all__ = ["register"]


def register(main: click.Group) -> None:
    """Attach the ``osm`` group."""

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
    @verbosity
    @handle_errors
    def osm_import(extract: Path, out: Path, clip: str | None) -> None:
        """Import EXTRACT (.osm, .osm.bz2, .osm.pbf) into GeoPackage layers and a graph."""
        from geoplan import osm
        from geoplan.outputs.publish import check_folder

        check_folder(out)  # before the import, not after it
        res = osm.import_extract(extract, out, clip=clip)
        for name, n in res["counts"].items():
            click.echo(f"{name}: {n} features")
        g = res["graph"]
        click.echo(f"graph: {g['nodes']} nodes, {g['edges']} edges, {g['components']} components")
        for k, p in res["outputs"].items():
            click.echo(f"{k}: {p}")
