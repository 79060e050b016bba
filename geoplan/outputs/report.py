"""The run report: one self-contained HTML page a decision maker can read, in English or Korean.

Owns ``report.html``: on the first screen what to decide (per phase the
first candidates in priority order, and the area of the run when
``grid.bbox`` clipped it), an executive summary (per profile and belt the
best candidate, its phase, priority, score and the two criteria it scores
chiefly on), the order of work per phase, a locator map per belt, the
method in words (phase rules as :mod:`geoplan.prioritize` applies them,
listed zones left unscored, weights changed from the built-in scenario),
data caveats from the layers' ``confidence`` and ``schematic`` fields,
when a sensitivity analysis ran the robustness of the ranking, and the
provenance (scenario, version, input files with their SHA-256). Printing
shows every candidate (folded rows open) and keeps headings with what
follows them. Every word comes from the message catalogue
(:mod:`geoplan.i18n`, keys ``report.*``); every string from the data or the
scenario is HTML-escaped. It must not decide anything (ranks, phases and
priorities come from the run), write files other than through
:func:`write_report`, read the network, or print file-system paths.

Charts and the locator maps are inline SVG written here (maps projected
from the belts, land and city layers in the working CRS, EPSG:5179), not
matplotlib images. Why:

- **Hangul without a font dependency.** Text in an SVG is laid out by the
  reader's browser, which has a Hangul font wherever Korean can be read at
  all. A matplotlib PNG needs a Hangul font on the machine that *writes*
  the report: ``fonts-noto-cjk`` exists on CI, but a ``pip install`` user
  usually has none, and none of the packages geoplan installs ships an OFL
  Hangul font (checked: matplotlib bundles DejaVu and STIX, without
  Hangul; the others ship only icon fonts). Bundling a
  subset of Noto Sans KR would have to cover every place and profile name a
  user may bring, i.e. most of the 11,172 syllables (several MB). With SVG
  no glyph can be missing from a font at render time, so the Korean report
  emits no "Glyph ... missing from font" warning by construction.
- **Speed.** No matplotlib import, no rasterising: the charts of the
  default run take a few milliseconds instead of ~2.4 s.
- **Safety and quality.** Names are escaped text nodes, so ``$`` (mathtext)
  or ``<`` in a profile name cannot break a chart; the text stays sharp,
  selectable and translatable.

Colours are colour-blind safe (Okabe-Ito for profiles, a single viridis
hue for the belts). Scores are compared only within one profile: no chart
or table ranks candidates of different profiles against each other.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoplan import explain
from geoplan._io import write_text_atomic
from geoplan.i18n import belt_label, catalogue, criterion_label, place_label, profile_label, t

__all__ = ["CORRIDOR", "render_report", "write_report"]

#: The Pyongyang–Nampo corridor: (lon_min, lon_max, lat_min, lat_max).
CORRIDOR = (125.2, 126.0, 38.6, 39.2)

#: Okabe-Ito colours (colour-blind safe), one per profile, and the text colour on each.
_OKABE_ITO = (
    ("#E69F00", "#000"),
    ("#56B4E9", "#000"),
    ("#009E73", "#fff"),
    ("#0072B2", "#fff"),
    ("#D55E00", "#fff"),
    ("#CC79A7", "#000"),
    ("#F0E442", "#000"),
    ("#000000", "#fff"),
)
_BELT_FILL = "#21918c"  # viridis mid-point
_FIRST_ROWS = 10  # candidates shown per phase before "more"

_CSS = """
body{font-family:system-ui,"Noto Sans CJK KR","Noto Sans KR","Apple SD Gothic Neo","Malgun Gothic",
sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.45;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:2px solid #21918c;
padding-bottom:3px;margin-top:32px}h3{font-size:16px;margin:18px 0 6px}
h4{font-size:14px;margin:12px 0 4px}table{border-collapse:collapse;font-size:13px;margin:6px 0 14px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f3f5f5}td.num{text-align:right;white-space:nowrap}.muted{color:#555;font-size:13px}
.reason{color:#444;font-size:13px}nav ol{margin:4px 0}
.box{background:#f4f8f8;border-left:4px solid #21918c;padding:8px 14px;margin:10px 0}
ul.sum li{margin-bottom:7px}.sw{display:inline-block;width:11px;height:11px;border-radius:6px;
margin-right:5px;vertical-align:-1px}figure{margin:8px 0}figcaption{font-size:13px;color:#444}
svg text{font-family:inherit}details summary{cursor:pointer;color:#0b6e69;margin:4px 0}
@media print{body{margin:0 auto;max-width:none}details::details-content{content-visibility:visible;
display:contents}details>summary{display:none}h2,h3,h4,.box>p:first-child{break-after:avoid}
tr,figure,li{break-inside:avoid}}
"""


# --------------------------------------------------------------------------- helpers


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _isna(v: Any) -> bool:
    if v is None or v is pd.NA:
        return True
    try:
        return bool(isinstance(v, (float, np.floating)) and math.isnan(v))
    except TypeError:
        return False


def _f2(v: Any) -> str:
    return "" if _isna(v) else f"{float(v):.2f}"


def _num(v: float) -> str:
    """A human number: ``30,000`` / ``0.5`` / ``400,000``."""
    v = float(v)
    if v == int(v):
        return f"{int(v):,}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def _lower_first(s: str, lang: str) -> str:
    if lang != "en" or len(s) < 2 or not s[1].islower():
        return s
    return s[:1].lower() + s[1:]


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _cand_name(row: Mapping[str, Any], lang: str) -> str:
    """A candidate's name in ``lang`` (Korean: Hangul with the romanisation, "남포 Nampo")."""
    name = str(row["name"])
    if lang != "ko":
        return name
    ko = _str(row.get("name_ko"))
    if row.get("kind") == "zone":
        return ko or name
    return place_label(name, ko, lang)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], num: Iterable[int] = ()) -> str:
    """An HTML table; ``head`` and cells are already-escaped HTML."""
    num = set(num)
    h = "".join(f"<th>{c}</th>" for c in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{c}</td>" if i in num else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _described(key: str, text: str | None, lang: str) -> str:
    """A scenario's or profile's description in ``lang``.

    The built-in descriptions are in the catalogue (``report.desc.*``, English
    text as written in the default scenario): while a description still reads
    as that English text it is shown in ``lang``; a user's own text is shown
    as written.
    """
    text = str(text or "")
    same = key in catalogue() and " ".join(text.split()) == " ".join(t(key, "en").split())
    if lang != "en" and same:
        return t(key, lang)
    return text


def _join(items: Sequence[str], lang: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return t("report.list.sep", lang).join(items[:-1]) + t("report.list.and", lang) + items[-1]


_BUILTIN: list[Any] = []


def _builtin() -> Any:
    """The built-in scenario, unchanged (to say what a run with overrides changed)."""
    if not _BUILTIN:
        from geoplan.scenario import load_scenario

        _BUILTIN.append(load_scenario(None))
    return _BUILTIN[0]


#: Scenario sections whose change the provenance names (outputs, name and text do not
#: change the plan).
_PLAN_SECTIONS = (
    "layers",
    "belts",
    "constraints",
    "grid",
    "candidates",
    "criteria",
    "profiles",
    "aggregation",
    "prioritisation",
    "sensitivity",
)


class _Ctx:
    """What every section needs: scenario, ranking with reasons, labels, colours."""

    def __init__(self, res: Any, lang: str) -> None:
        self.res = res
        self.sc = res.scenario
        self.lang = lang
        rob = res.robustness or {}
        sens = self.sc.sensitivity
        self.draws = int(rob.get("draws", sens.draws) or 0) if res.robustness else 0
        self.top_k = int(rob.get("top_k", self.sc.prioritisation.top_k) or 3)
        r = res.ranking.reset_index(drop=True)
        reasons = explain.reasons(
            r,
            self.sc.prioritisation.phase_rules,
            self.sc.profiles,
            lang,
            draws=self.draws,
            top_k=self.top_k,
        )
        # plain Python records: the sections below filter and sort small lists (fast)
        rows = r.to_dict("records")
        for row, reason in zip(rows, reasons, strict=True):
            row["reason"] = reason
            row["label"] = _cand_name(row, lang)
            for c in ("phase", "priority", "rank_in_belt"):
                v = row.get(c)
                row[c] = None if _isna(v) else int(v)
        self.rows = rows
        self.has_robust = "p_top_k" in r.columns
        belts = [str(b) for b in res.belts["belt"]] if len(res.belts) else []
        self.belts = belts or [
            b for b in ("west_coast", "east_coast", "border") if any(x["belt"] == b for x in rows)
        ]
        self.profiles = list(self.sc.profiles)
        self.bbox = self.sc.grid.bbox  # (lon0, lat0, lon1, lat1) when the run was clipped
        self.builtin = _builtin() if getattr(self.sc, "source", "") == "default" else None
        self.colour = {p: _OKABE_ITO[i % len(_OKABE_ITO)] for i, p in enumerate(self.profiles)}

    def select(self, **eq: Any) -> list[dict[str, Any]]:
        """Rows whose columns equal the given values."""
        return [row for row in self.rows if all(row.get(k) == v for k, v in eq.items())]

    def ranked(self, **eq: Any) -> list[dict[str, Any]]:
        """Rows with a rank, best rank first."""
        out = [row for row in self.select(**eq) if row["rank_in_belt"] is not None]
        return sorted(out, key=lambda row: (row["rank_in_belt"], str(row["zone_id"])))

    def phased(self, phase: int) -> list[dict[str, Any]]:
        """Rows of a phase in priority order."""
        out = [row for row in self.select(phase=phase) if row["priority"] is not None]
        return sorted(out, key=lambda row: row["priority"])

    def plabel(self, name: str) -> str:
        p = self.sc.profiles.get(name)
        return profile_label(name, self.lang, getattr(p, "label", None))

    def clabel(self, name: str) -> str:
        spec = self.sc.criteria.get(name)
        return criterion_label(name, self.lang, getattr(spec, "label", None))

    def blabel(self, belt: str) -> str:
        return belt_label(belt, self.lang)

    def layer_label(self, name: str) -> str:
        key = f"report.layer.{name}"
        return t(key, self.lang) if key in catalogue() else name.replace("_", " ")

    def contribs(self, row: Mapping[str, Any]) -> list[tuple[str, float]]:
        """(criterion, contribution) of the row's profile, largest first."""
        p = self.sc.profiles.get(str(row["profile"]))
        names = p.criterion_names if p is not None else []
        out = []
        for c in names:
            v = row.get(f"contrib_{c}")
            if not _isna(v):
                out.append((c, float(v)))
        return sorted(out, key=lambda cv: -cv[1])

    def chiefly(self, row: Mapping[str, Any]) -> str:
        """ "It scores chiefly on X (0.31 of 0.92) and Y (0.15)."""
        top = [cv for cv in self.contribs(row) if cv[1] > 0][:2]
        if not top:
            return ""
        score = _f2(row["score"])
        c1 = _lower_first(self.clabel(top[0][0]), self.lang)
        if len(top) == 1:
            return t("report.summary.chiefly1", self.lang, c1=c1, v1=_f2(top[0][1]), score=score)
        c2 = _lower_first(self.clabel(top[1][0]), self.lang)
        return t(
            "report.summary.chiefly2",
            self.lang,
            c1=c1,
            v1=_f2(top[0][1]),
            c2=c2,
            v2=_f2(top[1][1]),
            score=score,
        )

    def contrib_phrase(self, pairs: Sequence[tuple[str, float]], sign: str = "") -> str:
        items = [
            t(
                "report.contrib.item",
                self.lang,
                criterion=_lower_first(self.clabel(c), self.lang),
                value=f"{sign}{v:.2f}",
            )
            for c, v in pairs
        ]
        return _join(items, self.lang)


# --------------------------------------------------------------------------- sections


_DECIDE_N = 3  # candidates named per phase on the first screen


def _decide(cx: _Ctx) -> str:
    """The first screen: per phase the candidates to start with, in priority order.

    No scores here: the list mixes profiles, and scores compare candidates
    within one profile only (the sections below give each its score).
    """
    lang = cx.lang
    items = []
    for ph in sorted({row["phase"] for row in cx.rows if row["phase"] is not None}):
        g = cx.phased(ph)
        if not g:
            continue
        label = t("phase.label", lang, phase=ph, name=t(f"phase.name.{ph}", lang))
        names = [
            t(
                "report.decide.cand",
                lang,
                name=row["label"],
                belt=cx.blabel(row["belt"]),
                profile=cx.plabel(row["profile"]),
            )
            for row in g[:_DECIDE_N]
        ]
        text = t(
            "report.decide.phase", lang, n=len(g), first=t("report.decide.sep", lang).join(names)
        )
        items.append(f"<li><b>{_e(label)}</b>: {_e(text)}</li>")
    if not items:
        return ""
    lead = t("report.decide.lead", lang)
    note = t("report.decide.note", lang)
    return (
        f"<div class='box' id='decide'><p><b>{_e(lead)}</b></p><ul class='sum'>{''.join(items)}"
        f"</ul><p class='muted'>{_e(note)}</p></div>"
    )


def _summary(cx: _Ctx) -> str:
    lang = cx.lang
    out = [f"<h2 id='summary'>{_e(t('report.sec.summary', lang))}</h2>"]
    out.append(f"<p>{_e(t('report.summary.intro', lang))}</p>")
    for prof in cx.profiles:
        if not cx.select(profile=prof):
            continue
        sw = cx.colour[prof][0]
        out.append(
            f"<h3><span class='sw' style='background:{sw}'></span>{_e(cx.plabel(prof))}</h3>"
        )
        items = []
        for belt in cx.belts:
            g = cx.ranked(profile=prof, belt=belt)
            bl = cx.blabel(belt)
            if not g:
                key = "report.summary.no_candidate" + ("_bbox" if cx.bbox else "")
                items.append(f"<li>{_e(t(key, lang, belt=bl))}</li>")
                continue
            row = g[0]
            head = t(
                "report.summary.item", lang, belt=bl, name=row["label"], score=_f2(row["score"])
            )
            parts = [f"<b>{_e(head)}</b>", _e(cx.chiefly(row))]
            if row["kind"] != "zone":
                z = [x for x in g if x["kind"] == "zone"]
                if z:
                    parts.append(
                        _e(
                            t(
                                "report.summary.best_new",
                                lang,
                                name=z[0]["label"],
                                score=_f2(z[0]["score"]),
                                rank=explain.ordinal(z[0]["rank_in_belt"], lang),
                            )
                        )
                    )
            parts.append(f"<br><span class='reason'>{_e(row['reason'])}</span>")
            items.append("<li>" + " ".join(p for p in parts if p) + "</li>")
        out.append(f"<ul class='sum'>{''.join(items)}</ul>")
    return "\n".join(out)


def _why(reason: str) -> str:
    """A reason without its "Phase 1 (foundation), priority 3: " lead (the table shows both)."""
    head, sep, rest = reason.partition(": ")
    if sep and any(ch.isdigit() for ch in head) and len(head) < 60:
        return rest[:1].upper() + rest[1:]
    return reason


def _in_corridor(lon: float, lat: float) -> bool:
    lo0, lo1, la0, la1 = CORRIDOR
    return lo0 <= lon <= lo1 and la0 <= lat <= la1


def _phase3(cx: _Ctx, g: list[dict[str, Any]]) -> str:
    """Where the top priority of phase 3 lies, and why it leads the corridor's best."""
    lang = cx.lang
    if not g:
        return f"<p>{_e(t('report.phase3.empty', lang))}</p>"
    top = g[0]
    s = [
        t(
            "report.phase3.top",
            lang,
            name=top["label"],
            belt=cx.blabel(top["belt"]),
            profile=cx.plabel(top["profile"]),
            lon=f"{float(top['lon']):.2f}",
            lat=f"{float(top['lat']):.2f}",
        )
    ]
    if _in_corridor(float(top["lon"]), float(top["lat"])):
        s.append(t("report.phase3.inside", lang))
        return f"<p class='box'>{_e(' '.join(s))}</p>"
    lo0, lo1, la0, la1 = CORRIDOR
    s.append(t("report.phase3.outside", lang, lon0=lo0, lon1=lo1, lat0=la0, lat1=la1))
    inside = [row for row in g if _in_corridor(float(row["lon"]), float(row["lat"]))]
    if not inside:
        s.append(t("report.phase3.none_in_corridor", lang))
        return f"<p class='box'>{_e(' '.join(s))}</p>"
    oth = inside[0]
    rank, orank = int(top["rank_in_belt"]), int(oth["rank_in_belt"])
    common = {
        "other": oth["label"],
        "priority": int(oth["priority"]),
        "rank": explain.ordinal(rank, lang),
    }
    if rank < orank:
        s.append(
            t("report.phase3.why_rank", lang, other_rank=explain.ordinal(orank, lang), **common)
        )
    elif _isna(top.get("p_top_k")) or top.get("p_top_k") == oth.get("p_top_k"):
        s.append(
            t(
                "report.phase3.why_score",
                lang,
                score=_f2(top["score"]),
                other_score=_f2(oth["score"]),
                **common,
            )
        )
    else:
        s.append(t("report.phase3.why_robust", lang, **common))
    if top["profile"] == oth["profile"]:
        a, b = dict(cx.contribs(top)), dict(cx.contribs(oth))
        lead = sorted(((c, a[c] - b.get(c, 0.0)) for c in a), key=lambda cv: -cv[1])
        lead = [cv for cv in lead if cv[1] > 0][:2]
        if lead:
            s.append(t("report.phase3.lead_same", lang, lead=cx.contrib_phrase(lead, "+")))
    else:
        s.append(
            t(
                "report.phase3.contrib_both",
                lang,
                a=cx.contrib_phrase(cx.contribs(top)[:2]),
                other=oth["label"],
                b=cx.contrib_phrase(cx.contribs(oth)[:2]),
            )
        )
        s.append(t("report.phase3.cross_profile", lang))
    return f"<p class='box'>{_e(' '.join(s))}</p>"


def _first(cx: _Ctx) -> str:
    lang = cx.lang
    out = [f"<h2 id='first'>{_e(t('report.sec.first', lang))}</h2>"]
    out.append(f"<p>{_e(t('report.first.intro', lang))}</p>")
    head = [
        _e(t(k, lang))
        for k in (
            "report.col.priority",
            "report.col.candidate",
            "report.col.belt",
            "report.col.profile",
            "report.col.score",
            "report.col.reason",
        )
    ]
    phases = sorted({row["phase"] for row in cx.rows if row["phase"] is not None} | {1, 2, 3})
    for ph in phases:
        label = t("phase.label", lang, phase=ph, name=t(f"phase.name.{ph}", lang))
        out.append(f"<h3>{_e(label)}</h3>")
        g = cx.phased(ph)
        if not g:
            out.append(f"<p class='muted'>{_e(t('report.first.none', lang))}</p>")
        else:
            out.append(f"<p class='muted'>{_e(t('report.first.count', lang, n=len(g)))}</p>")
            rows = [
                (
                    str(row["priority"]),
                    _e(row["label"]),
                    _e(cx.blabel(row["belt"])),
                    _e(cx.plabel(row["profile"])),
                    _f2(row["score"]),
                    f"<span class='reason'>{_e(_why(row['reason']))}</span>",
                )
                for row in g
            ]
            out.append(_table(head, rows[:_FIRST_ROWS], num=(0, 4)))
            if len(rows) > _FIRST_ROWS:
                more = _e(t("report.first.more", lang, n=len(rows) - _FIRST_ROWS))
                out.append(
                    f"<details><summary>{more}</summary>"
                    f"{_table(head, rows[_FIRST_ROWS:], num=(0, 4))}</details>"
                )
        if ph == 3:
            out.append(_phase3(cx, g))
    return "\n".join(out)


# --------------------------------------------------------------------------- SVG maps


def _svg_path(geom: Any, tx: Any) -> str:
    """SVG path data of a (multi)polygon or (multi)line in pixel space."""
    import shapely

    parts = []
    for g in getattr(geom, "geoms", [geom]):
        if g.is_empty:
            continue
        if g.geom_type == "Polygon":
            rings = [g.exterior, *g.interiors]
            close = "Z"
        elif g.geom_type in ("LineString", "LinearRing"):
            rings, close = [g], ""
        else:
            if hasattr(g, "geoms"):
                parts.append(_svg_path(g, tx))
            continue
        for ring in rings:
            xy = tx(shapely.get_coordinates(ring))
            if len(xy) < 2:
                continue
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
            parts.append(f"M{pts}{close}")
    return "".join(parts)


def _label_spot(
    x: float,
    y: float,
    w: float,
    marks: Sequence[tuple[float, float]],
    rad: float,
    boxes: Sequence[tuple[float, float, float, float]],
    width: float,
    height: float,
) -> tuple[float, float, str, tuple[float, float, float, float]] | None:
    """Where a place label of width ``w`` (px) beside the dot at (x, y) hides nothing.

    Tries right and left of the dot, above then below, then a little further
    out; a spot must stay inside the map, clear of every marker circle (radius
    ``rad`` around ``marks``) and of every label box placed already. None when
    no spot is free (the dot is then drawn without its name).
    """
    for dx, dy in ((4, -3.0), (4, 11.0), (4, -13.0), (4, 21.0), (14, -23.0), (14, 31.0)):
        for anchor in ("start", "end"):
            lx = x + dx if anchor == "start" else x - dx
            x0, x1 = (lx, lx + w) if anchor == "start" else (lx - w, lx)
            box = (x0, y + dy - 9.0, x1, y + dy + 3.0)
            if box[0] < 1 or box[1] < 1 or box[2] > width - 1 or box[3] > height - 1:
                continue
            if any(
                box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes
            ):
                continue
            if any(
                (min(max(mx, box[0]), box[2]) - mx) ** 2 + (min(max(my, box[1]), box[3]) - my) ** 2
                < (rad + 1.5) ** 2
                for mx, my in marks
            ):
                continue
            return lx, y + dy, anchor, box
    return None


def _belt_map(cx: _Ctx, belt: str, zones: list[dict[str, Any]], sites: np.ndarray) -> str:
    """An inline SVG locator map of one belt: land, the belt, zones numbered by rank."""
    import shapely

    res = cx.res
    bgeom = res.belts.loc[res.belts["belt"] == belt, "geometry"]
    if bgeom.empty:
        return ""
    bgeom = bgeom.union_all()
    minx, miny, maxx, maxy = bgeom.bounds
    pad = 0.08 * max(maxx - minx, maxy - miny)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    width = 460.0
    s = width / (maxx - minx)
    height = (maxy - miny) * s
    if height > 520:
        s = 520.0 / (maxy - miny)
        height, width = 520.0, (maxx - minx) * s
    box = shapely.box(minx, miny, maxx, maxy)
    tol = 1.2 / s

    def tx(xy: np.ndarray) -> np.ndarray:
        return np.column_stack(((xy[:, 0] - minx) * s, (maxy - xy[:, 1]) * s))

    svg = [
        f"<svg width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}' role='img' "
        f"aria-label='{_e(t('report.maps.alt', cx.lang, belt=cx.blabel(belt)))}'>",
        f"<rect width='{width:.0f}' height='{height:.0f}' fill='#e8f1f8'/>",
    ]
    land = res.layers.get("basemap_land")
    if land is None or land.empty:
        land = res.layers.get("boundaries")
    if land is not None and not land.empty:
        for geom, iso in zip(
            land.geometry,
            land["iso_a3"] if "iso_a3" in land else [None] * len(land),
            strict=True,
        ):
            g = geom.intersection(box).simplify(tol)
            fill = "#fbfbf8" if iso == "PRK" else "#ececea"
            svg.append(
                f"<path d='{_svg_path(g, tx)}' fill='{fill}' stroke='#9a9a9a' stroke-width='0.6'/>"
            )
    for other in cx.belts:
        if other == belt:
            continue
        og = res.belts.loc[res.belts["belt"] == other, "geometry"]
        if len(og):
            g = og.union_all().intersection(box).simplify(tol)
            svg.append(
                f"<path d='{_svg_path(g, tx)}' fill='none' stroke='#21918c' "
                "stroke-width='0.6' stroke-dasharray='3 2' opacity='0.6'/>"
            )
    g = bgeom.intersection(box).simplify(tol)
    svg.append(
        f"<path d='{_svg_path(g, tx)}' fill='{_BELT_FILL}' fill-opacity='0.22' "
        f"stroke='{_BELT_FILL}' stroke-width='1'/>"
    )
    inbox = (
        (sites[:, 0] >= minx)
        & (sites[:, 0] <= maxx)
        & (sites[:, 1] >= miny)
        & (sites[:, 1] <= maxy)
    )
    for x, y in tx(sites[inbox]):
        svg.append(
            f"<rect x='{x - 3.5:.1f}' y='{y - 3.5:.1f}' width='7' height='7' fill='#8c8c8c' "
            "stroke='#fff' stroke-width='0.8'/>"
        )
    placed: list[tuple[float, float]] = []
    leads: list[str] = []
    marks: list[str] = []
    rad = 8.0
    for row in sorted(zones, key=lambda row: row["rank_in_belt"]):
        ((x0, y0),) = tx(np.array([row["xy"]], dtype=float))
        x, y = x0, y0
        for k in range(1, 60):  # spiral out of markers drawn already
            if all((x - a) ** 2 + (y - b) ** 2 >= (2 * rad) ** 2 for a, b in placed):
                break
            ang, dist = k * 2.39996, 1.6 * rad * math.sqrt(k)
            x, y = x0 + dist * math.cos(ang), y0 + dist * math.sin(ang)
        placed.append((x, y))
        fill, ink = cx.colour.get(row["profile"], _OKABE_ITO[-1])
        title = _e(f"{row['label']} · {cx.plabel(row['profile'])} · {_f2(row['score'])}")
        if (x, y) != (x0, y0):
            leads.append(
                f"<path d='M{x0:.1f},{y0:.1f}L{x:.1f},{y:.1f}' stroke='#222' "
                f"stroke-width='0.8'/><circle cx='{x0:.1f}' cy='{y0:.1f}' r='1.8' fill='#222'/>"
            )
        marks.append(
            f"<g class='mark'><title>{title}</title><circle cx='{x:.1f}' cy='{y:.1f}' r='{rad}' "
            f"fill='{fill}' stroke='#222' stroke-width='0.7'/><text x='{x:.1f}' "
            f"y='{y + 3.6:.1f}' font-size='10' font-weight='bold' text-anchor='middle' "
            f"fill='{ink}'>{row['rank_in_belt']}</text></g>"
        )
    # place names: the largest towns, each label where it hides no marker and no other label
    labels: list[str] = []
    boxes: list[tuple[float, float, float, float]] = [(0.0, height - 30.0, width * 0.35, height)]
    cities = res.layers.get("cities")
    if cities is not None and len(cities) and "population" in cities.columns:
        cxy = shapely.get_coordinates(shapely.centroid(cities.geometry.values))
        inb = (cxy[:, 0] >= minx) & (cxy[:, 0] <= maxx) & (cxy[:, 1] >= miny) & (cxy[:, 1] <= maxy)
        if "iso_a3" in cities.columns:
            inb &= (cities["iso_a3"].astype(str) == "PRK").to_numpy()
        pop = pd.to_numeric(cities["population"], errors="coerce").to_numpy(dtype=float)
        names = cities["name"].astype(str).to_numpy()
        kos = cities["name_ko"].to_numpy() if "name_ko" in cities.columns else [None] * len(names)
        idx = [i for i in np.argsort(-np.nan_to_num(pop, nan=0)) if inb[i]][:6]
        for i in idx:
            ((x, y),) = tx(cxy[i : i + 1])
            name = _str(kos[i]) if cx.lang == "ko" and _str(kos[i]) else names[i]
            spot = _label_spot(x, y, _em(name) * 10 + 2, placed, rad, boxes, width, height)
            svg.append(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='2' fill='#444'/>")
            if spot is None:
                continue
            lx, ly, anchor, box = spot
            boxes.append(box)
            labels.append(
                f"<text class='place' x='{lx:.1f}' y='{ly:.1f}' font-size='10' fill='#333' "
                f"text-anchor='{anchor}' stroke='#fff' stroke-width='2.5' paint-order='stroke'>"
                f"{_e(name)}</text>"
            )
    svg.extend(labels)
    svg.extend(leads)  # leader lines under every marker
    svg.extend(marks)
    # scale bar: a round number of km near a fifth of the width
    target = (maxx - minx) / 5 / 1000
    km = next(v for v in (10, 20, 25, 50, 100, 200, 250, 500, 1000) if v >= target * 0.6)
    L = km * 1000 * s
    y0 = height - 12
    svg.append(
        f"<path d='M10,{y0:.1f}h{L:.1f}' stroke='#222' stroke-width='2'/>"
        f"<text x='{10 + L / 2:.1f}' y='{y0 - 4:.1f}' font-size='10' text-anchor='middle'>"
        f"{_e(t('report.maps.scale', cx.lang, km=km))}</text>"
    )
    svg.append("</svg>")
    return "".join(svg)


def _maps(cx: _Ctx) -> str:
    import shapely

    lang, res = cx.lang, cx.res
    out = [f"<h2 id='maps'>{_e(t('report.sec.maps', lang))}</h2>"]
    out.append(f"<p class='muted'>{_e(t('report.maps.intro', lang))}</p>")
    zxy = (
        dict(
            zip(
                res.zones["zone_id"].astype(str),
                map(tuple, shapely.get_coordinates(shapely.centroid(res.zones.geometry.values))),
                strict=True,
            )
        )
        if len(res.zones)
        else {}
    )
    sites = res.sites.drop_duplicates("name") if len(res.sites) else res.sites
    s_belt = np.asarray(sites["belt"].astype(str)) if len(sites) else np.array([], dtype=str)
    s_xy = (
        shapely.get_coordinates(shapely.centroid(sites.geometry.values))
        if len(sites)
        else np.zeros((0, 2))
    )
    head = [
        _e(t(k, lang))
        for k in (
            "report.col.number",
            "report.col.candidate",
            "report.col.profile",
            "report.col.score",
        )
    ]
    order = {p: i for i, p in enumerate(cx.profiles)}
    for belt in cx.belts:
        zb = [
            dict(row, xy=zxy[str(row["zone_id"])])
            for row in cx.ranked(belt=belt, kind="zone")
            if str(row["zone_id"]) in zxy
        ]
        zb.sort(key=lambda row: (order.get(row["profile"], 99), row["rank_in_belt"]))
        out.append(f"<h3>{_e(cx.blabel(belt))}</h3>")
        svg = _belt_map(cx, belt, zb, s_xy[s_belt == belt])
        rows = []
        for row in zb:
            fill, ink = cx.colour.get(row["profile"], _OKABE_ITO[-1])
            num = (
                f"<span class='sw' style='background:{fill};width:18px;height:18px;"
                f"border-radius:9px;text-align:center;color:{ink};font-size:11px;"
                f"line-height:18px'>{row['rank_in_belt']}</span>"
            )
            rows.append((num, _e(row["label"]), _e(cx.plabel(row["profile"])), _f2(row["score"])))
        cap = _e(t("report.maps.alt", lang, belt=cx.blabel(belt)))
        out.append(
            "<div style='display:flex;gap:18px;flex-wrap:wrap;align-items:flex-start'>"
            f"<figure>{svg}<figcaption>{cap}</figcaption></figure>"
            f"<div>{_table(head, rows, num=(3,))}</div></div>"
        )
    return "\n".join(out)


# --------------------------------------------------------------------------- method


def _scale(spec: Any, lang: str) -> tuple[float, str]:
    """Divisor and unit in which a criterion's raw values are shown (distances in km)."""
    kind = getattr(spec, "kind", "")
    if kind == "distance_to":
        return 1000.0, t("unit.km", lang)
    if kind == "population_within":
        return 1.0, t("unit.people", lang)
    field = str(getattr(spec, "params", {}).get("field", ""))
    if field.endswith("_mt_per_year"):
        return 1.0, t("unit.mt_per_year", lang)
    if field.endswith("_mw"):
        return 1.0, "MW"
    unit = str(getattr(spec, "unit", "") or "")
    key = f"unit.{unit}"
    return 1.0, (t(key, lang) if key in catalogue() else unit)


def _transform_words(tr: Mapping[str, Any], spec: Any, lang: str) -> str:
    div, unit = _scale(spec, lang)

    def v(key: str, default: float = 0.0) -> str:
        x = _num(float(tr.get(key, default)) / div)
        return f"{x} {unit}".strip()

    kind = str(tr.get("type", ""))
    falling = tr.get("direction") == "falling"
    if kind == "linear":
        key = "report.transform.falling" if falling else "report.transform.rising"
        return t(key, lang, low=v("low"), high=v("high", 1.0))
    if kind == "sigmoid":
        key = "report.transform.sigmoid_falling" if falling else "report.transform.sigmoid"
        return t(key, lang, midpoint=v("midpoint"))
    if kind == "gaussian":
        return t("report.transform.gaussian", lang, ideal=v("ideal"))
    return t("report.transform.other", lang, type=kind)


def _rule_words(cx: _Ctx, when: Mapping[str, Any]) -> str:
    lang = cx.lang
    conds = []
    for key, v in when.items():
        vals = list(v) if isinstance(v, (list, tuple)) else [v]
        if key == "belt":
            words = [
                t(f"belt.phrase.{b}", lang)
                if lang == "en" and f"belt.phrase.{b}" in catalogue()
                else cx.blabel(str(b))
                for b in vals
            ]
        elif key == "profile":
            words = [cx.plabel(str(p)) for p in vals]
        elif key == "kind":
            words = [t(f"kind.{k}", lang) if f"kind.{k}" in catalogue() else str(k) for k in vals]
        elif key == "size_class":
            words = [t(f"size.{k}", lang) if f"size.{k}" in catalogue() else str(k) for k in vals]
        elif key == "rank_in_belt_max":
            words = [explain.ordinal(int(x), lang) for x in vals]
        else:
            words = [_num(x) if isinstance(x, (int, float)) else str(x) for x in vals]
        v_text = t("report.rule.or", lang).join(words)
        rk = f"report.rule.{key}"
        if rk in catalogue():
            conds.append(t(rk, lang, v=v_text))
        else:
            conds.append(t("report.rule.other", lang, key=key.replace("_", " "), v=v_text))
    if not conds:
        return t("report.rule.any", lang)
    if "belt" not in when:
        # a rule naming no belt never phases an inland site (geoplan.prioritize.rule_mask)
        conds.append(t("report.rule.in_belts", lang))
    if len(conds) == 1:
        return conds[0]
    return t("report.rule.sep", lang).join(conds[:-1]) + t("report.rule.and", lang) + conds[-1]


def _method(cx: _Ctx) -> str:
    lang, sc, res = cx.lang, cx.sc, cx.res
    out = [f"<h2 id='method'>{_e(t('report.sec.method', lang))}</h2>"]
    # belts
    out.append(f"<h3>{_e(t('report.method.belts', lang))}</h3>")
    out.append(f"<p>{_e(t('report.method.belts_intro', lang))}</p>")
    widths = {
        "west_coast": sc.belts.west_coast_km,
        "east_coast": sc.belts.east_coast_km,
        "border": sc.belts.border_km,
    }
    rows = []
    for b in res.belts.to_dict("records"):
        name = str(b["belt"])
        key = f"report.method.belt_width.{name}"
        ext = (
            t(key, lang, km=_num(widths.get(name, b.get("width_km", 0))))
            if key in catalogue()
            else ""
        )
        area = b.get("net_area_km2", b.get("area_km2"))
        rows.append((_e(cx.blabel(name)), _e(ext), "" if _isna(area) else f"{float(area):,.0f}"))
    head = [_e(t(k, lang)) for k in ("report.col.belt", "report.col.width", "report.col.area")]
    out.append(_table(head, rows, num=(2,)))
    # exclusions
    out.append(f"<h3>{_e(t('report.method.exclusions', lang))}</h3>")
    out.append(f"<p>{_e(t('report.method.exclusions_intro', lang))}</p>")
    rows = []
    for x in res.exclusions.to_dict("records"):
        kind = str(x.get("kind", ""))
        if kind == "dmz":
            text = t("report.exclusion.dmz", lang, km=_num(sc.belts.dmz_half_width_km))
        elif kind == "outside_dprk":
            text = t("report.exclusion.outside_dprk", lang)
        elif kind.startswith("mask:"):
            text = f"{t('report.exclusion.mask', lang)}: {kind.removeprefix('mask:')}"
        else:
            text = str(x.get("description", kind))
        area = x.get("land_area_km2", x.get("area_km2"))
        rows.append((_e(text), "" if _isna(area) else f"{float(area):,.0f}"))
    if sc.constraints.max_slope_deg is not None:
        rows.append(
            (_e(t("report.exclusion.slope", lang, deg=_num(sc.constraints.max_slope_deg))), "")
        )
    head = [_e(t(k, lang)) for k in ("report.col.exclusion", "report.col.area")]
    out.append(_table(head, rows, num=(1,)))
    # candidates
    out.append(f"<h3>{_e(t('report.method.candidates', lang))}</h3>")
    sizes = []
    for name, sz in sc.candidates.size_classes.items():
        profs = [cx.plabel(p) for p, pr in sc.profiles.items() if pr.zone_size == name]
        if not profs:
            continue
        sizes.append(
            t(
                "report.method.size",
                lang,
                size=t(f"size.{name}", lang) if f"size.{name}" in catalogue() else name,
                lo=_num(sz.min_km2),
                hi=_num(sz.max_km2),
                target=_num(sz.target_km2),
                profiles=_join(profs, lang),
            )
        )
    n_sites = int(res.sites["name"].nunique()) if len(res.sites) else 0
    text = t(
        "report.method.candidates_text",
        lang,
        res=_num(res.grid.res),
        n=sc.candidates.zones_per_belt,
        spacing=_num(sc.candidates.min_spacing_km),
        sizes="; ".join(sizes),
        n_sites=n_sites,
    )
    excluded = [str(x) for x in (getattr(res, "excluded_sites", None) or [])]
    if excluded:
        layer = res.layers.get(sc.candidates.sites_layer)
        ko: dict[str, Any] = {}
        if layer is not None and "name_ko" in layer.columns and "name" in layer.columns:
            ko = dict(zip(layer["name"].astype(str), layer["name_ko"], strict=True))
        names = [place_label(x, _str(ko.get(x)), lang) if lang == "ko" else x for x in excluded]
        text += " " + t(
            "report.method.excluded_sites", lang, n=len(excluded), names=_join(names, lang)
        )
    out.append(f"<p>{_e(text)}</p>")
    # criteria
    out.append(f"<h3>{_e(t('report.method.criteria', lang))}</h3>")
    out.append(f"<p>{_e(t('report.method.criteria_intro', lang))}</p>")
    used = sorted(
        {c for p in sc.profiles.values() for c in p.criterion_names}, key=list(sc.criteria).index
    )
    rows = []
    for c in used:
        spec = sc.criteria[c]
        users = [cx.plabel(p) for p, pr in sc.profiles.items() if c in pr.criterion_names]
        rows.append(
            (
                _e(cx.clabel(c)),
                _e(_scale(spec, lang)[1]),
                _e(cx.layer_label(spec.layer)) if spec.layer else "",
                _e(", ".join(users)),
            )
        )
    head = [
        _e(t(k, lang))
        for k in (
            "report.col.criterion",
            "report.col.unit",
            "report.col.layer",
            "report.col.profile",
        )
    ]
    out.append(_table(head, rows))
    # weights
    out.append(f"<h3>{_e(t('report.method.weights', lang))}</h3>")
    out.append(f"<p>{_e(t('report.method.weights_intro', lang))}</p>")
    head = [
        _e(t(k, lang)) for k in ("report.col.criterion", "report.col.weight", "report.col.scoring")
    ]
    for name, prof in sc.profiles.items():
        sw = cx.colour[name][0]
        pdesc = _described(f"report.desc.profile.{name}", prof.description, lang)
        desc = f" <span class='muted'>({_e(pdesc)})</span>" if pdesc else ""
        out.append(
            f"<h4><span class='sw' style='background:{sw}'></span>{_e(cx.plabel(name))}{desc}</h4>"
        )
        base = cx.builtin.profiles.get(name) if cx.builtin is not None else None
        was = (
            {pc.criterion: float(w) for pc, w in zip(base.criteria, base.weights, strict=True)}
            if base is not None
            else {}
        )
        rows = []
        for pc, w in zip(prof.criteria, prof.weights, strict=True):
            cell = f"{float(w):.2f}"
            if base is not None and f"{was.get(pc.criterion, 0.0):.2f}" != cell:
                cell = _e(
                    t("report.method.weight_was", lang, w=cell, was=_f2(was.get(pc.criterion, 0.0)))
                )
            trans = _transform_words(pc.transform, sc.criteria.get(pc.criterion), lang)
            rows.append((_e(cx.clabel(pc.criterion)), cell, _e(trans)))
        out.append(_table(head, rows, num=(1,)))
        if prof.ahp is not None:
            cr = float(prof.ahp.consistency_ratio)
            verdict = t("report.method.ahp_ok" if cr < 0.1 else "report.method.ahp_bad", lang)
            ahp = t("report.method.ahp", lang, cr=f"{cr:.3f}", verdict=verdict)
            out.append(f"<p class='muted'>{_e(ahp)}</p>")
    # aggregation
    out.append(f"<h3>{_e(t('report.method.aggregation', lang))}</h3>")
    agg = sc.aggregation
    if agg.method == "owa":
        w = ", ".join(f"{x:.2f}" for x in (agg.order_weights or ()))
        out.append(f"<p>{_e(t('report.method.owa', lang, w=w))}</p>")
    else:
        out.append(f"<p>{_e(t('report.method.weighted_sum', lang))}</p>")
    # phase rules
    out.append(f"<h3>{_e(t('report.method.rules', lang))}</h3>")
    out.append(f"<p>{_e(t('report.method.rules_intro', lang))}</p>")
    items = []
    for rule in sc.prioritisation.phase_rules:
        key = f"phase_rule.{rule.reason}"
        why = t(key, lang) if key in catalogue() else str(rule.reason or "")
        cond = _rule_words(cx, rule.when)
        items.append(
            f"<li>{_e(t('report.rule.item', lang, phase=rule.phase, cond=cond, why=why))}</li>"
        )
    out.append(f"<ol>{''.join(items)}</ol>")
    return "\n".join(out)


# --------------------------------------------------------------------------- caveats


def _caveats(cx: _Ctx) -> str:
    lang, sc = cx.lang, cx.sc
    out = [f"<h2 id='caveats'>{_e(t('report.sec.caveats', lang))}</h2>"]
    out.append(f"<p>{_e(t('report.caveats.intro', lang))}</p>")
    users: dict[str, list[str]] = {}
    used = {c for p in sc.profiles.values() for c in p.criterion_names}
    for c, spec in sc.criteria.items():
        if c in used and spec.layer:
            users.setdefault(spec.layer, []).append(cx.clabel(c))
    rows, notes = [], []
    for name, gdf in cx.res.layers.items():
        if "confidence" not in gdf.columns:
            continue
        conf = gdf["confidence"].astype("string").str.lower().value_counts()
        rows.append(
            (
                _e(cx.layer_label(name)),
                str(len(gdf)),
                str(int(conf.get("high", 0))),
                str(int(conf.get("medium", 0))),
                str(int(conf.get("low", 0))),
                _e(", ".join(users.get(name, []))),
            )
        )
        if "schematic" in gdf.columns:
            n = int(gdf["schematic"].fillna(False).astype(bool).sum())
            if n:
                notes.append(
                    t(
                        "report.caveats.schematic",
                        lang,
                        layer=cx.layer_label(name),
                        n=n,
                        total=len(gdf),
                    )
                )
    if not rows:
        out.append(f"<p>{_e(t('report.caveats.none', lang))}</p>")
    else:
        head = [
            _e(t(k, lang))
            for k in (
                "report.col.layer",
                "report.col.features",
                "report.col.high",
                "report.col.medium",
                "report.col.low",
                "report.col.criterion",
            )
        ]
        out.append(_table(head, rows, num=(1, 2, 3, 4)))
    out.extend(f"<p>{_e(n)}</p>" for n in notes)
    return "\n".join(out)


# --------------------------------------------------------------------------- robustness


def _em(text: str) -> float:
    """A generous estimate of a text's width in em (sans-serif): Hangul and CJK 1."""

    def w(ch: str) -> float:
        if unicodedata.east_asian_width(ch) in ("W", "F"):
            return 1.0
        if ch in " .,:;'’()-/|!iIjlft":
            return 0.38
        return 0.74 if ch.isupper() or ch in "mwMW…" else 0.61

    return sum(w(ch) for ch in text)


def _fit(name: str, suffix: str, max_em: float) -> str:
    """``name`` + ``suffix``, the name cut with "…" so the whole fits in ``max_em``."""
    if _em(name + suffix) <= max_em:
        return name + suffix
    room = max_em - _em(suffix) - _em("…")
    cut = ""
    for ch in name:
        if _em(cut + ch) > room:
            break
        cut += ch
    return cut.rstrip(" ,-/") + "…" + suffix


def _bar_chart(items: Sequence[tuple[str, str, float]], title: str) -> str:
    """A horizontal bar chart of probabilities (0..1) as inline SVG.

    ``items`` are (name, qualifier, p); a long name is shortened so that the
    label, qualifier included, fits left of the bars in any script.
    """
    lab_w, bar_w, row_h = 380, 260, 18
    h = 26 + row_h * len(items) + 22
    w = lab_w + bar_w + 50
    svg = [
        f"<svg width='{w}' height='{h}' viewBox='0 0 {w} {h}' role='img' aria-label='{_e(title)}'>",
        f"<text x='0' y='14' font-size='12' font-weight='bold'>{_e(title)}</text>",
    ]
    for i, (name, qual, p) in enumerate(items):
        y = 24 + i * row_h
        short = _fit(name, f" ({qual})" if qual else "", (lab_w - 10) / 11)
        pv = 0.0 if _isna(p) else max(0.0, min(1.0, float(p)))
        svg.append(
            f"<text x='{lab_w - 6}' y='{y + 12}' font-size='11' text-anchor='end'>"
            f"<title>{_e(name)}</title>{_e(short)}</text>"
            f"<rect x='{lab_w}' y='{y + 2}' width='{bar_w * pv:.1f}' height='{row_h - 5}' "
            f"fill='#3b528b'/><text x='{lab_w + bar_w * pv + 4:.1f}' y='{y + 12}' "
            f"font-size='11'>{'' if _isna(p) else f'{pv:.2f}'}</text>"
        )
    y = 24 + len(items) * row_h + 4
    svg.append(f"<path d='M{lab_w},{y}h{bar_w}' stroke='#888'/>")
    for v in (0, 0.5, 1):
        svg.append(
            f"<text x='{lab_w + bar_w * v:.0f}' y='{y + 13}' font-size='10' "
            f"text-anchor='middle'>{v:g}</text>"
        )
    svg.append("</svg>")
    return "".join(svg)


def _robustness(cx: _Ctx) -> str:
    if not cx.res.robustness or not cx.has_robust:
        return ""
    lang, k = cx.lang, cx.top_k
    out = [f"<h2 id='robustness'>{_e(t('report.sec.robustness', lang))}</h2>"]
    draws = cx.draws or int(cx.sc.sensitivity.draws or 0)
    out.append(f"<p>{_e(t('report.robust.intro', lang, draws=f'{draws:,}', k=k))}</p>")
    head = [
        _e(t(key, lang, k=k) if key == "report.col.p_top_k" else t(key, lang))
        for key in (
            "report.col.candidate",
            "report.col.belt",
            "report.col.rank",
            "report.col.p_top_k",
            "report.col.rank_median",
            "report.col.rank_range",
        )
    ]
    border = {b: i for i, b in enumerate([*cx.belts, "inland"])}
    for prof in cx.profiles:
        g = [row for row in cx.ranked(profile=prof) if row["rank_in_belt"] <= k]
        if not g:
            continue
        g.sort(key=lambda row: (border.get(row["belt"], 9), row["rank_in_belt"]))
        out.append(f"<h3>{_e(cx.plabel(prof))}</h3>")
        rows = []
        for row in g:
            lo, hi = row.get("rank_p05"), row.get("rank_p95")
            rng = "" if _isna(lo) or _isna(hi) else f"{float(lo):.0f}–{float(hi):.0f}"
            med = row.get("rank_median")
            rows.append(
                (
                    _e(row["label"]),
                    _e(cx.blabel(row["belt"])),
                    str(row["rank_in_belt"]),
                    _f2(row.get("p_top_k")),
                    "" if _isna(med) else f"{float(med):g}",
                    rng,
                )
            )
        out.append(_table(head, rows, num=(2, 3, 4, 5)))
        items = [(row["label"], cx.blabel(row["belt"]), row.get("p_top_k")) for row in g]
        title = t("report.robust.chart", lang, k=k, profile=cx.plabel(prof))
        out.append(f"<figure>{_bar_chart(items, title)}</figure>")
    return "\n".join(out)


# --------------------------------------------------------------------------- provenance


def _provenance(cx: _Ctx, version: str, date: str) -> str:
    """What the plan was computed from: scenario, version, grid, draws, input files and hashes.

    File names only (never a folder: no machine paths); the SHA-256 are those
    of ``run.json`` (``geoplan.layers`` hashes every file a layer was read from).
    """
    lang, sc, res = cx.lang, cx.sc, cx.res
    out = [f"<h2 id='provenance'>{_e(t('report.sec.provenance', lang))}</h2>"]
    out.append(f"<p>{_e(t('report.prov.intro', lang))}</p>")
    source = str(getattr(sc, "source", "") or "")
    kind = source if source in ("default", "script") else "file"
    scen = t(f"report.prov.scenario_{kind}", lang, name=sc.name)
    if cx.builtin is not None:
        a, b = cx.builtin.to_dict(), sc.to_dict()
        parts = []
        for key in _PLAN_SECTIONS:
            if a.get(key) == b.get(key):
                continue
            if key == "profiles":
                pa, pb = a.get(key) or {}, b.get(key) or {}
                names = [p for p in pb if pa.get(p) != pb.get(p)]
                names += [p for p in pa if p not in pb]
                for p in names:
                    parts.append(t("report.prov.part.profile", lang, profile=cx.plabel(p)))
            else:
                parts.append(t(f"report.prov.part.{key}", lang))
        if parts:
            scen = t("report.prov.scenario_changed", lang, name=sc.name, parts=_join(parts, lang))
    facts = [
        scen,
        t("report.prov.version", lang, version=version),
        t("report.prov.date", lang, date=date),
        t("report.prov.grid", lang, res=_num(res.grid.res), crs=str(getattr(res.grid, "crs", ""))),
    ]
    if cx.draws:
        seed = getattr(sc.sensitivity, "seed", None)
        facts.append(t("report.prov.draws", lang, draws=f"{cx.draws:,}", seed=seed))
    out.append("<ul>" + "".join(f"<li>{_e(f)}</li>" for f in facts) + "</ul>")
    rows = []
    for name, gdf in res.layers.items():
        attrs = getattr(gdf, "attrs", {}) or {}
        src = attrs.get("geoplan_source")
        file = Path(str(src)).name if src else ""
        sha = str(attrs.get("geoplan_sha256") or "")
        rows.append(
            (
                _e(cx.layer_label(name)),
                _e(file),
                f"<code style='font-size:11px;word-break:break-all'>{_e(sha)}</code>",
            )
        )
    if rows:
        head = [_e(t(k, lang)) for k in ("report.col.layer", "report.col.file", "report.col.sha")]
        out.append(_table(head, rows))
    return "\n".join(out)


# --------------------------------------------------------------------------- page


def render_report(res: Any, *, lang: str = "en") -> str:
    """Render the report of a run as one self-contained HTML page.

    Parameters
    ----------
    res : RunResult
        A finished run.
    lang : {"en", "ko"}
        Language of every heading, sentence, table header and chart label.

    Returns
    -------
    str
        The HTML page (inline CSS and SVG; no external resources).

    Examples
    --------
    >>> import geoplan
    >>> res = geoplan.run(grid={"resolution_m": 5000}, candidates={"zones_per_belt": 1})
    >>> page = render_report(res, lang="ko")  # doctest: +SKIP
    >>> "요약" in page  # doctest: +SKIP
    True
    """
    from geoplan import __version__

    lang = lang if lang in ("en", "ko") else "en"
    cx = _Ctx(res, lang)
    sc = cx.sc
    title = t("report.title", lang, scenario=sc.name)
    date = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")
    meta = t(
        "report.meta",
        lang,
        date=date,
        version=__version__,
        n_profiles=len(sc.profiles),
        res=_num(res.grid.res),
    )
    sections = [
        ("summary", _summary(cx)),
        ("first", _first(cx)),
        ("maps", _maps(cx)),
        ("method", _method(cx)),
        ("caveats", _caveats(cx)),
        ("robustness", _robustness(cx)),
        ("provenance", _provenance(cx, __version__, date)),
    ]
    toc = "".join(
        f"<li><a href='#{key}'>{_e(t(f'report.sec.{key}', lang))}</a></li>"
        for key, body in sections
        if body
    )
    out = [
        f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{_e(meta)}</p>",
    ]
    if cx.bbox:
        lon0, lat0, lon1, lat1 = (_num(round(float(v), 4)) for v in cx.bbox)
        scope = t("report.scope.bbox", lang, lon0=lon0, lon1=lon1, lat0=lat0, lat1=lat1)
        out.append(f"<p class='box'><b>{_e(scope)}</b></p>")
    desc = _described("report.desc.scenario", sc.description, lang)
    if desc:
        out.append(f"<p>{_e(desc)}</p>")
    out.append(_decide(cx))
    out.append(f"<nav><b>{_e(t('report.toc', lang))}</b><ol>{toc}</ol></nav>")
    out.extend(body for _, body in sections if body)
    out.append(f"<hr><p class='muted'>{_e(t('report.footer', lang, version=__version__))}</p>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(res: Any, path: str | Path, *, lang: str = "en") -> Path:
    """Write the report HTML atomically.

    Examples
    --------
    >>> write_report(res, "out/report.html", lang="ko")  # doctest: +SKIP
    """
    return write_text_atomic(path, render_report(res, lang=lang))
