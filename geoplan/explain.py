"""Words from numbers: zone names and phase reasons, in English or Korean.

Everything here turns columns a run computed (place, distance, bearing,
rank, phase, priority, robustness) into sentences through the message
catalogue (:mod:`geoplan.i18n`); nothing is decided here. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from geoplan.i18n import catalogue, place_label, profile_label, t

__all__ = ["ordinal", "place_phrase", "reason_sentence", "reasons", "zone_names"]


def ordinal(n: int, lang: str = "en") -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th`` (``1위`` ... in Korean).

    Examples
    --------
    >>> ordinal(2), ordinal(11), ordinal(2, "ko")
    ('2nd', '11th', '2위')
    """
    if lang == "en":
        suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
        return f"{n}{suffix}"
    return t("ordinal", lang, n=n)


def place_phrase(
    place: str, place_ko: str | None, km: float, bearing: str, near: bool, lang: str = "en"
) -> str:
    """``"Nampo"`` / ``"12 km SE of Nampo"`` (``"남포 Nampo 남동쪽 12 km"``).

    Examples
    --------
    >>> place_phrase("Nampo", "남포", 12.4, "SE", False, "ko")
    '남포 Nampo 남동쪽 12 km'
    """
    name = place_label(place, place_ko, lang)
    if near:
        return name
    return t("place.far", lang, km=f"{km:.0f}", bearing=t(f"compass.{bearing}", lang), place=name)


def zone_names(zones: pd.DataFrame, profiles: Mapping[str, Any], lang: str = "en") -> list[str]:
    """Unique zone names: ``"Labour-intensive zone, Nampo"``; repeats numbered in order.

    ``zones`` needs ``profile``, ``place``, ``place_ko``, ``place_km``,
    ``place_bearing``, ``place_near`` and is named in its row order (best
    first within each profile, so the first keeps the plain name).
    """
    out: list[str] = []
    seen: dict[str, int] = {}
    rows = zones[["profile", "place", "place_ko", "place_km", "place_bearing", "place_near"]]
    for prof, place, ko, km, bearing, near in rows.itertuples(index=False):
        p = profiles.get(prof)
        plabel = profile_label(prof, lang, getattr(p, "label", None))
        where = place_phrase(
            place, ko if isinstance(ko, str) else None, km, bearing, bool(near), lang
        )
        base = t("zone.name", lang, profile=plabel, place=where)
        n = seen.get(base, 0) + 1
        seen[base] = n
        out.append(
            base if n == 1 else t("zone.name.numbered", lang, profile=plabel, place=where, n=n)
        )
    return out


def reason_sentence(
    row: Mapping[str, Any],
    rules: Any,
    profiles: Mapping[str, Any],
    lang: str = "en",
    *,
    draws: int = 0,
    top_k: int = 3,
) -> str:
    """The plain sentence behind a candidate's phase and priority."""
    phase = row.get("phase")
    if phase is None or phase is pd.NA or (isinstance(phase, float) and np.isnan(phase)):
        return t("reason.no_rule", lang)
    phase = int(phase)
    prof = str(row["profile"])
    p = profiles.get(prof)
    plabel = profile_label(prof, lang, getattr(p, "label", None))
    if lang == "en":
        plabel = plabel[:1].lower() + plabel[1:]
    if row["kind"] == "zone":
        size = t(f"size.{row.get('size_class', 'medium')}", lang)
        near = bool(row.get("place_near"))
        where = place_phrase(
            str(row["place"]),
            _str(row.get("place_ko")),
            float(row["place_km"]),
            str(row["place_bearing"]),
            near,
            lang,
        )
        key = "reason.subject.zone.near" if near else "reason.subject.zone.far"
        subject = t(key, lang, size=size, place=where)
    else:
        subject = t(
            "reason.subject.site",
            lang,
            name=place_label(str(row["name"]), _str(row.get("name_ko")), lang),
        )
    robust = ""
    ptop = row.get("p_top_k")
    if draws and ptop is not None and not pd.isna(ptop):
        robust = t(
            "reason.robust", lang, k=top_k, pct=f"{100 * float(ptop):.0f}", draws=f"{draws:,}"
        )
    rule = rules[int(row["phase_rule"])] if int(row.get("phase_rule", -1)) >= 0 else None
    why = ""
    if rule is not None and rule.reason:
        key = f"phase_rule.{rule.reason}"
        why = t(key, lang) if key in catalogue() else rule.reason
    return t(
        "reason.sentence",
        lang,
        phase=phase,
        phase_name=t(f"phase.name.{phase}", lang),
        priority=row.get("priority"),
        subject=subject,
        rank=ordinal(int(row["rank_in_belt"]), lang),
        belt_phrase=t(f"belt.phrase.{row['belt']}", lang),
        profile=plabel,
        robust=robust,
        why=why,
    ).strip()


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def reasons(
    df: pd.DataFrame,
    rules: Any,
    profiles: Mapping[str, Any],
    lang: str = "en",
    *,
    draws: int = 0,
    top_k: int = 3,
) -> list[str]:
    """:func:`reason_sentence` for every row of a ranked, phased table."""
    return [
        reason_sentence(row, rules, profiles, lang, draws=draws, top_k=top_k)
        for row in df.to_dict("records")
    ]
