"""The ``geoplan`` command line: a thin layer over the public API.

Exit codes: 0 success, 1 bad input (one line per problem on stderr, never a
traceback), 2 usage error.
"""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from geoplan._errors import GeoplanError

log = logging.getLogger("geoplan")


def _fail(lines: list[str]) -> None:
    for line in lines:
        click.echo(f"error: {line}", err=True)
    sys.exit(1)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn geoplan errors (and unreadable files) into one line each and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GeoplanError as exc:
            _fail(exc.lines())
        except (OSError, MemoryError) as exc:
            _fail([f"{getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}".lstrip(": ")])
        except (click.ClickException, click.exceptions.Exit, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.debug("internal error", exc_info=True)
            _fail([f"internal error: {type(exc).__name__}: {exc} (rerun with -v for details)"])

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress.")
@click.version_option(package_name="geoplan")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """geoplan: rank and map small and medium industrial zones on the Korean peninsula."""
    level = logging.ERROR if quiet else max(logging.DEBUG, logging.WARNING - 10 * (verbose + 1))
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    logging.getLogger("geoplan").setLevel(level)
    if not quiet:
        warnings.simplefilter("default", UserWarning)
    ctx.ensure_object(dict)
    ctx.obj["quiet"] = quiet


@main.group()
def layers() -> None:
    """List, check and rebuild layers."""


@layers.command("list")
@click.option("--belts/--no-belts", default=True, help="Also report the planning belts' areas.")
@handle_errors
def layers_list(belts: bool) -> None:
    """List the default layers (name, features, geometry type, source) and the belts."""
    from geoplan import layers as L
    from geoplan import regions

    rows = L.list_layers()
    w = max(len(r["name"]) for r in rows)
    click.echo(f"{'layer':<{w}}  {'features':>8}  {'geometry':<8}  source")
    for r in rows:
        click.echo(f"{r['name']:<{w}}  {r['features']:>8}  {r['geometry_type']:<8}  {r['source']}")
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
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@handle_errors
def layers_check(paths: tuple[Path, ...]) -> None:
    """Validate the default layers, or the given files and folders.

    Prints one line per problem (file, layer, field, what was expected) and
    exits 1 if there is any.
    """
    from geoplan import layers as L

    problems = L.check(list(paths))
    for p in problems:
        click.echo(f"{p.severity}: {p}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"ok: {len(paths) or 'all default'} layer source(s) valid")


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
@handle_errors
def layers_build(facts: Path | None, out: Path) -> None:
    """Rebuild every default layer from its sources (needs the `build` extra)."""
    from geoplan.build import build_layers

    counts = build_layers(out, facts)
    for name, n in counts.items():
        click.echo(f"{name}: {n} features")


@main.command("regions")
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
@click.option("--snap-m", default=2000.0, show_default=True, help="Snap distance for line ends.")
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


from geoplan import _cli_run  # noqa: E402  (registers run / scenario / export commands)

_cli_run.register(main)
