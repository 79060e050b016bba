"""The ``geoplan`` command line: a thin layer over the public API.

One module per subcommand group; ``_common`` holds error handling and the
``-v``/``-q`` flags every command accepts (before or after its name).
Exit codes: 0 success, 1 bad input (one line per problem on stderr, never a
traceback), 2 usage error.
"""

from __future__ import annotations

import click

from geoplan.cli._common import handle_errors, verbosity

__all__ = ["handle_errors", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@verbosity
@click.version_option(package_name="geoplan")
@click.pass_context
def main(ctx: click.Context) -> None:
    """geoplan: rank and map small and medium industrial zones on the Korean peninsula."""
    ctx.ensure_object(dict)


def _register() -> None:
    from geoplan.cli import diff, export, layers, osm, run, scenario, sensitivity

    for mod in (run, scenario, layers, export, osm, diff, sensitivity):
        mod.register(main)


_register()
