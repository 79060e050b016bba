"""``geoplan layers list|check|build``, ``geoplan regions`` and ``geoplan network``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from geoplan.cli._common import handle_errors, verbosity

__all__ = ["register"]


def register(main: click.Group) -> None:
    """Attach the layer, region and network commands."""

    @main.group()
    def layers() -> None:
        """List, check and rebuild layers."""

    @layers.command("list")
    @click.option("--belts/--no-belts", default=True, help="Also report the planning belts' areas.")
    @verbosity
    @handle_errors
    def layers_list(belts: bool) -> None:
        """List the default layers (name, features, geometry type, source) and the belts."""
        from geoplan import layers as L
        from geoplan import regions

        rows = L.list_layers()
        w = max(len(r["name"]) for r in rows)
        click.echo(f"{'layer':<{w}}  {'features':>8}  {'geometry':<8}  source")
        for r in rows:
            click.echo(
                f"{r['name']:<{w}}  {r['features']:>8}  {r['geometry_type']:<8}  {r['source']}"
            )
        if belts:
            loaded = L.load_all(names=["boundaries", "coastline", "mdl"])
            b = regions.belts(loaded)
            e = regions.exclusions(loaded)
            click.echo("")
            click.echo(f"{'belt':<12}  {'width km':>8}  {'area km²':>10}  {'net km²':>10}")
            for _, row in b.iterrows():
                click.echo(
                    f"{row['belt']:<12}  {row['width_km']:>8g}  {row['area_km2']:>10,.0f}  "
                    f"{row['net_area_km2']:>10,.0f}"
                )
            dmz = e.loc[e["kind"] == "dmz", "land_area_km2"].iloc[0]
            click.echo(f"exclusion dmz: {dmz:,.0f} km² of land")

    @layers.command("check")
    @click.argument("paths", nargs=-1)
    @click.option(
        "--as",
        "as_layer",
        default=None,
        metavar="LAYER",
        help="Check the files against this default layer's spec (e.g. --as ports).",
    )
    @click.option(
        "--encoding",
        default=None,
        metavar="ENC",
        help="Text encoding of Shapefile attributes (e.g. cp949); default: .cpg or detected.",
    )
    @click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
    @verbosity
    @handle_errors
    def layers_check(
        paths: tuple[str, ...], as_layer: str | None, encoding: str | None, strict: bool
    ) -> None:
        """Validate the default layers, or the given files, folders and FILE::LAYER.

        Prints one line per problem (file, layer, field, what was expected).
        Exits 1 if there is any error (or, with --strict, any warning);
        warnings alone (features without geometry dropped, geometries
        repaired, an encoding detected) exit 0.
        """
        from geoplan import layers as L

        problems = L.check(list(paths), as_layer=as_layer, encoding=encoding)
        for p in problems:
            click.echo(f"{p.severity}: {p}", err=True)
        errors = [p for p in problems if p.severity == "error"]
        if errors or (strict and problems):
            sys.exit(1)
        n = len(problems)
        what = f"usable ({n} warning{'s' if n != 1 else ''})" if n else "valid"
        click.echo(f"ok: {len(paths) or 'all default'} layer source(s) {what}")

    @layers.command("build")
    @click.option(
        "--facts",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Folder of the nkfacts CSV tables (default ../shared/nkfacts).",
    )
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        default=Path("layers"),
        show_default=True,
        help="Folder to write the layers into.",
    )
    @verbosity
    @handle_errors
    def layers_build(facts: Path | None, out: Path) -> None:
        """Rebuild every default layer from its sources (needs the `build` extra)."""
        from geoplan.build import build_layers

        counts = build_layers(out, facts)
        for name, n in counts.items():
            click.echo(f"{name}: {n} features")

    @main.command("regions")
    @verbosity
    @handle_errors
    def regions_cmd() -> None:
        """Report the planning belts and exclusions (areas in km²)."""
        from geoplan import layers as L
        from geoplan import regions

        loaded = L.load_all(names=["boundaries", "coastline", "mdl"])
        for _, row in regions.belts(loaded).iterrows():
            click.echo(
                f"{row['belt']}: width {row['width_km']:g} km, area {row['area_km2']:,.0f} km², "
                f"net of exclusions {row['net_area_km2']:,.0f} km²"
            )
        for _, row in regions.exclusions(loaded).iterrows():
            click.echo(f"exclusion {row['kind']}: {row['land_area_km2']:,.0f} km² of land")

    @main.command("network")
    @click.option(
        "--snap-m", default=2000.0, show_default=True, help="Snap distance for line ends."
    )
    @verbosity
    @handle_errors
    def network_cmd(snap_m: float) -> None:
        """Report the routable network of the default roads and railways (components)."""
        from geoplan import layers as L
        from geoplan import network

        loaded = L.load_all(names=["roads", "railways"])
        net = network.build_network(loaded, snap_m=snap_m)
        comps = net.components()
        click.echo(
            f"network: {net.n_nodes} nodes, {len(net.u)} edges, {comps} connected component(s), "
            f"{net.length_m.sum() / 1000:,.0f} km (schematic: straight lines between towns)"
        )
