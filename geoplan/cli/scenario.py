"""``geoplan scenario show`` and ``geoplan scenario check`` (a dry run)."""

from __future__ import annotations

import click

from geoplan.cli._common import handle_errors, verbosity
from geoplan.cli.run import load, scenario_options

__all__ = ["register"]


def register(main: click.Group) -> None:
    """Attach the ``scenario`` group."""

    @main.group("scenario")
    def scenario_grp() -> None:
        """Show and check scenario files."""

    @scenario_grp.command("show")
    @click.argument("scenario", required=False)
    @scenario_options
    @verbosity
    @handle_errors
    def scenario_show(scenario, sets, profiles) -> None:
        """Print the effective scenario (defaults filled in, --set applied) as YAML."""
        click.echo(load(scenario, sets, profiles).to_yaml(), nl=False)

    @scenario_grp.command("check")
    @click.argument("scenario", required=False)
    @scenario_options
    @verbosity
    @handle_errors
    def scenario_check(scenario, sets, profiles) -> None:
        """Dry run of SCENARIO: open every layer, check fields, params, CRS and memory.

        Exits 1 with one line per problem; anything `run` would refuse as bad
        input is refused here first.
        """
        from geoplan import pipeline

        sc = pipeline.check(load(scenario, sets, profiles))
        for name, p in sc.profiles.items():
            extra = f", AHP CR {p.ahp.consistency_ratio:.3f}" if p.ahp else ""
            weights = ", ".join(
                f"{c.criterion} {w:.3f}" for c, w in zip(p.criteria, p.weights, strict=True)
            )
            click.echo(f"profile {name}: {weights}{extra}")
        click.echo(f"ok: {scenario or 'default scenario'}")
