"""The run report: one self-contained HTML page with tables and embedded PNG charts.

Per belt the top zones and sites, the phase plan, each profile's weights (and
AHP consistency), and charts: score distributions per profile, criterion
contributions of the top zones, and every transform curve. Every string from
the data is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoplan import mcda
from geoplan._io import write_text_atomic

__all__ = ["render_report", "write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}
h3{font-size:15px}table{border-collapse:collapse;font-size:12px;margin:6px 0 14px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left}th{background:#f3f3f3}
td.num{text-align:right}.charts img{max-width:100%;margin:4px 0}.muted{color:#666;font-size:12px}
"""


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _cell(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return "<td></td>"
    if isinstance(v, (float, np.floating)):
        return f"<td class='num'>{v:.3f}</td>"
    if isinstance(v, (int, np.integer)):
        return f"<td class='num'>{v}</td>"
    return f"<td>{html.escape(str(v))}</td>"


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(_cell(v) for v in r) + "</tr>" for r in df.itertuples(False))
    return f"<table><tr>{head}</tr>{rows}</table>"


def render_report(res: Any, *, top: int = 5, lang: str = "en") -> str:
    """Render the report HTML of a run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geoplan import __version__

    sc = res.scenario
    r = res.ranking
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>geoplan report: {html.escape(sc.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>geoplan report: {html.escape(sc.name)}</h1>",
        f"<p class='muted'>geoplan {html.escape(__version__)}; "
        f"grid {res.grid.res:g} m; {len(res.zones)} zones, "
        f"{len(res.sites)} scored sites.</p>",
        f"<p>{html.escape(sc.description)}</p>",
    ]
    cols = ["name", "kind", "profile", "score", "rank_in_belt", "phase", "area_km2"]
    for belt, grp in r.groupby("belt", sort=True):
        out.append(f"<h2>Belt: {html.escape(str(belt).replace('_', ' '))}</h2>")
        for prof, g in grp.groupby("profile", sort=True):
            g = g.sort_values("rank_in_belt").head(top)
            out.append(f"<h3>{html.escape(str(prof))}: top {len(g)}</h3>")
            out.append(_table(g[cols]))
    out.append("<h2>Phase plan</h2>")
    plan = (
        r.groupby(["phase", "phase_reason", "kind"], dropna=False)
        .size()
        .reset_index(name="count")
        .sort_values(["phase", "kind"])
    )
    out.append(_table(plan))
    out.append("<h2>Profiles and weights</h2>")
    for name, prof in sc.profiles.items():
        extra = ""
        if prof.ahp is not None:
            extra = (
                f" (AHP: lambda_max {prof.ahp.lambda_max:.3f}, CR {prof.ahp.consistency_ratio:.3f})"
            )
        out.append(
            f"<h3>{html.escape(name)}{html.escape(extra)}</h3>"
            f"<p class='muted'>{html.escape(prof.description)}</p>"
        )
        wt = pd.DataFrame(
            {
                "criterion": [pc.criterion for pc in prof.criteria],
                "weight": list(prof.weights),
                "transform": [
                    ", ".join(f"{k}={v}" for k, v in pc.transform.items()) for pc in prof.criteria
                ],
            }
        )
        out.append(_table(wt))
    out.append("<h2>Charts</h2><div class='charts'>")
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for name, surf in res.surfaces.items():
        v = surf[np.isfinite(surf)]
        ax.hist(v, bins=50, histtype="step", label=name, density=True)
    ax.set_xlabel("suitability score")
    ax.set_ylabel("density of grid cells")
    ax.set_title("Score distribution per profile (all candidate cells)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.append(f"<img alt='score distributions' src='{_png(fig)}'>")
    z = res.zones.sort_values("score", ascending=False).head(10)
    if len(z):
        contrib = [c for c in z.columns if c.startswith("contrib_")]
        fig, ax = plt.subplots(figsize=(9, 3.6))
        left = np.zeros(len(z))
        labels = [f"{n} ({p})" for n, p in zip(z["name"], z["profile"], strict=True)]
        for c in contrib:
            vals = z[c].fillna(0).to_numpy()
            if not vals.any():
                continue
            ax.barh(labels, vals, left=left, label=c.removeprefix("contrib_"))
            left += vals
        ax.invert_yaxis()
        ax.set_xlabel("score = sum of contributions (weight x transformed score)")
        ax.set_title("Top 10 zones: contribution by criterion")
        ax.legend(fontsize=7, loc="lower right")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.subplots_adjust(left=0.38)
        out.append(f"<img alt='contributions of the top zones' src='{_png(fig)}'>")
    for name, prof in sc.profiles.items():
        n = len(prof.criteria)
        fig, axes = plt.subplots(1, n, figsize=(2.3 * n, 2.2), squeeze=False)
        for ax, pc in zip(axes[0], prof.criteria, strict=True):
            t = pc.transform
            hi = float(t.get("high", t.get("midpoint", t.get("ideal", t.get("threshold", 1)))))
            span = hi * 2 if t["type"] != "linear" else hi * 1.3
            x = np.linspace(0, span if span > 0 else 1, 200)
            ax.plot(x, mcda.transform(x, t), color="#3182bd")
            ax.set_title(pc.criterion, fontsize=7)
            ax.set_ylim(-0.05, 1.05)
            ax.tick_params(labelsize=6)
        fig.suptitle(f"Transforms: {name}", fontsize=9)
        fig.tight_layout()
        out.append(f"<img alt='transform curves {html.escape(name)}' src='{_png(fig)}'>")
    out.append("</div></body></html>")
    return "\n".join(out)


def write_report(res: Any, path: str | Path) -> Path:
    """Write the report HTML atomically."""
    return write_text_atomic(path, render_report(res))
