"""``geoplan sensitivity``: how robust the ranking is when the weights are uncertain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geoplan.cli._common import handle_errors, quiet, verbosity
from geoplan.cli.run import load, scenario_options
from geoplan.scenario import BELT_NAMES, INLAND

__all__ = ["register", "sensitivity_table", "summary_lines", "write_sensitivity"]

#: Columns of ``sensitivity.csv``, in order.
CSV_COLUMNS = (
    "profile",
    "belt",
    "rank_in_belt",
    "zone_id",
    "name",
    "kind",
    "score",
    "p_top_k",
    "rank_median",
    "rank_p05",
    "rank_p95",
)


def sensitivity_table(res: Any) -> Any:
    """``sensitivity.csv``'s table: every zone and site, by profile, belt and rank."""
    df = res.ranking
    cols = [c for c in CSV_COLUMNS if c in df.columns]
    return (
        df[cols]
        .sort_values(["profile", "belt", "rank_in_belt", "zone_id"], na_position="last")
        .reset_index(drop=True)
    )


def write_sensitivity(res: Any, folder: Path, *, oat: Any = None, top: int = 3) -> dict[str, Path]:
    """Stage and publish ``sensitivity.csv``, ``sensitivity.json``, OAT PNGs and COGs."""
    from geoplan import outputs
    from geoplan import sensitivity as S
    from geoplan.outputs import files
    from geoplan.outputs.publish import staging

    folder = Path(folder)
    written: dict[str, Path] = {}
    with staging(folder) as st:
        target = folder / "sensitivity.csv"
        files.write_csv(st.path(target, folder), sensitivity_table(res))
        written["sensitivity"] = target
        target = folder / "sensitivity.json"
        files.write_json(st.path(target, folder), res.robustness or {})
        written["summary"] = target
        if oat is not None and len(oat):
            names = dict(zip(res.ranking["zone_id"], res.ranking["name"].astype(str), strict=True))
            pngs = S.plot_one_at_a_time(
                oat, folder, top=top, names=names, stage=lambda t: st.path(t, folder)
            )
            for (pname, belt), p in pngs.items():
                written[f"oat:{pname}:{belt}"] = p
        written.update(outputs.robustness_cogs(res, st, folder))
        st.publish()
    return written


def _fmt_rank(v: Any) -> str:
    return "-" if v != v else str(int(v))


def summary_lines(res: Any, top: int = 3) -> list[str]:
    """Each belt's top ``top`` per profile with p_top_k and the 5-95 % rank interval."""
    df = sensitivity_table(res)
    k = (res.robustness or {}).get("top_k", 3)
    lines = []
    for pname in res.scenario.profiles:
        sub = df[df["profile"] == pname]
        if not len(sub):
            continue
        lines.append(f"{pname}  (rank in belt, name, P(in the belt's top {k}), rank over draws)")
        order = [*BELT_NAMES, INLAND]
        belts = [b for b in order if b in set(sub["belt"])]
        belts += sorted(set(sub["belt"]) - set(order))
        for belt in belts:
            g = sub[(sub["belt"] == belt).to_numpy() & sub["rank_in_belt"].notna().to_numpy()]
            g = g.head(top)
            for _, r in g.iterrows():
                name = str(r.get("name", ""))[:40]
                lines.append(
                    f"  {belt:<11} {int(r['rank_in_belt']):>2}  {name:<40} "
                    f"P(top {k}) {r['p_top_k']:.2f}  median {_fmt_rank(r['rank_median'])}  "
                    f"5-95 % {_fmt_rank(r['rank_p05'])}-{_fmt_rank(r['rank_p95'])}"
                )
    return lines


def register(main: click.Group) -> None:
    """Attach ``sensitivity``."""

    @main.command("sensitivity")
    @click.argument("scenario", required=False)
    @scenario_options
    @click.option(
        "-n",
        "--draws",
        type=click.IntRange(1, 1_000_000),
        default=1000,
        show_default=True,
        help="Monte Carlo weight draws.",
    )
    @click.option("--seed", type=click.IntRange(0), default=None, help="Random seed.")
    @click.option(
        "--out",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="Output folder (default: out/<name>/sensitivity/).",
    )
    @click.option(
        "--cell-share",
        is_flag=True,
        help="Also the share of draws each grid cell is in its belt's top 5 % "
        "(robustness_<profile>.tif).",
    )
    @click.option(
        "--steps",
        type=click.IntRange(2, 101),
        default=11,
        show_default=True,
        help="Points of the one-at-a-time sweep (0 to 2x each weight).",
    )
    @verbosity
    @click.pass_context
    @handle_errors
    def sensitivity_cmd(ctx, scenario, sets, profiles, draws, seed, out, cell_share, steps):
        """Weight sensitivity of SCENARIO's ranking (default: the built-in scenario).

        Writes sensitivity.csv (P(in the belt's top k), median rank and 5-95 %
        rank interval per zone and site), sensitivity.json, one-at-a-time
        sweep PNGs and, with --cell-share, robustness_<profile>.tif.
        """
        from geoplan import pipeline
        from geoplan import sensitivity as S
        from geoplan.outputs.publish import check_folder, safe_name

        if out is not None:
            check_folder(out)  # before the run, not after it
        extra = []
        if seed is not None:
            extra.append(f"sensitivity.seed={seed}")
        if cell_share:
            extra.append("sensitivity.cell_share=true")
        sc = load(scenario, [*sets, *extra], profiles)
        res = pipeline.Session(sc, progress=not quiet(ctx)).run(sensitivity=draws)
        oat = S.one_at_a_time(res.ranking, res.scenario, steps=steps)
        folder = out or Path("out") / safe_name(res.scenario.name) / "sensitivity"
        written = write_sensitivity(res, folder, oat=oat, top=res.robustness["top_k"])
        for line in summary_lines(res):
            click.echo(line)
        rej = {p: n for p, n in res.robustness["rejected_ahp_draws"].items() if n}
        if rej:
            click.echo(
                "rejected AHP draws (CR > 0.10): " + ", ".join(f"{p} {n}" for p, n in rej.items())
            )
        for kind, path in written.items():
            if not kind.startswith("oat:"):
                click.echo(f"{kind}: {path}")
        n_png = sum(k.startswith("oat:") for k in written)
        if n_png:
            click.echo(f"one-at-a-time plots: {n_png} PNG in {folder}")
