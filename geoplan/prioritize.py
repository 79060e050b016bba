"""Ranking, phases and priorities of scored zones and sites (vectorised over a table).

- ``rank_in_belt``: per profile and belt (zones and listed sites together),
  best score first, ties broken by ``zone_id``; ``rank_overall`` per profile.
  Sites outside every belt form the ``inland`` group and are ranked among
  themselves.
- Phase rules are ordered; the first whose ``when`` matches gives the phase.
  ``when`` keys: ``kind`` (zone or site), ``belt``, ``profile`` and
  ``size_class`` (a name or a list), ``score_min``, ``rank_in_belt_max`` and
  ``near_site_km`` (the candidate lies within that distance of a listed,
  existing zone; a listed site is at 0 km of itself). A rule without a
  ``belt`` key applies to the three belts only: inland sites are phased only
  by a rule that names ``belt: inland``.
- ``priority``: 1, 2, 3 ... within each phase across belts and profiles:
  first by rank in the belt, then by robustness (``p_top_k``, when a
  sensitivity analysis ran), then by score, then by id.

Pure table operations; no I/O. See ``docs/phases.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["assign_phases", "assign_priority", "rank", "rule_mask"]

INLAND = "inland"


def rank(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``rank_in_belt`` (per profile and belt) and ``rank_overall`` (per profile).

    Ties break on ``zone_id`` so the order is reproducible. Rows with a NaN
    score get no rank.

    Examples
    --------
    >>> df = pd.DataFrame({"profile": ["p"] * 3, "belt": ["a", "a", "b"],
    ...                    "score": [0.2, 0.9, 0.5], "zone_id": ["x", "y", "z"]})
    >>> rank(df).sort_values("zone_id")["rank_in_belt"].tolist()
    [2, 1, 1]
    """
    out = df.sort_values(["profile", "score", "zone_id"], ascending=[True, False, True]).copy()
    scored = out["score"].notna()
    out["rank_overall"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["rank_in_belt"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out.loc[scored, "rank_overall"] = out[scored].groupby("profile").cumcount() + 1
    out.loc[scored, "rank_in_belt"] = out[scored].groupby(["profile", "belt"]).cumcount() + 1
    return out


def _as_list(v: Any) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def rule_mask(df: pd.DataFrame, when: Mapping[str, Any]) -> np.ndarray:
    """Rows a rule's ``when`` matches (see the module docstring)."""
    m = np.ones(len(df), dtype=bool)
    if "belt" in when:
        m &= df["belt"].isin(_as_list(when["belt"])).to_numpy()
    else:
        m &= (df["belt"] != INLAND).to_numpy()
    if "kind" in when:
        m &= (df["kind"] == when["kind"]).to_numpy()
    if "profile" in when:
        m &= df["profile"].isin(_as_list(when["profile"])).to_numpy()
    if "size_class" in when:
        sizes = _as_list(when["size_class"])
        # isin never yields NA, so fillna's value cannot matter (mutating it is equivalent)
        m &= df["size_class"].isin(sizes).fillna(False).to_numpy(bool)  # pragma: no mutate
    if "score_min" in when:
        m &= df["score"].to_numpy(dtype=float, na_value=np.nan) >= when["score_min"]
    if "rank_in_belt_max" in when:
        r = df["rank_in_belt"].to_numpy(dtype=float, na_value=np.nan)
        m &= r <= when["rank_in_belt_max"]
    if "near_site_km" in when:
        d = df["site_distance_km"].to_numpy(dtype=float, na_value=np.nan)
        m &= d <= when["near_site_km"]
    return m


def assign_phases(df: pd.DataFrame, rules: Sequence[Any]) -> pd.DataFrame:
    """Add ``phase`` (1-3) and ``phase_rule`` (index of the rule that fired; -1 none).

    Unscored rows (a failed ``min_value``) get no phase.
    """
    phase = np.zeros(len(df), dtype=int)
    which = np.full(len(df), -1, dtype=int)
    open_ = df["score"].notna().to_numpy().copy()
    for i, rule in enumerate(rules):
        when = rule.when if hasattr(rule, "when") else rule.get("when", {})
        ph = rule.phase if hasattr(rule, "phase") else rule["phase"]
        hit = open_ & rule_mask(df, when)
        phase[hit] = int(ph)
        which[hit] = i
        open_ &= ~hit
    out = df.copy()
    out["phase"] = pd.array(np.where(phase > 0, phase, 0), dtype="Int64")  # pragma: no mutate
    out.loc[phase == 0, "phase"] = pd.NA
    out["phase_rule"] = which
    return out


def assign_priority(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``priority`` (1, 2, ... within each phase; see the module docstring)."""
    out = df.copy()
    robust = (
        out["p_top_k"].to_numpy(dtype=float, na_value=np.nan)
        if "p_top_k" in out.columns
        else np.full(len(out), np.nan)
    )
    key = pd.DataFrame(
        {
            "phase": out["phase"],
            "rank": out["rank_in_belt"].astype("Float64"),
            "robust": -np.nan_to_num(robust, nan=-1.0),  # pragma: no mutate
            "score": -out["score"].astype(float),
            "zone_id": out["zone_id"].astype(str),
            "pos": np.arange(len(out)),
        }
    )
    key = key[key["phase"].notna() & key["rank"].notna()]
    key = key.sort_values(["phase", "rank", "robust", "score", "zone_id"], kind="stable")
    prio = key.groupby("phase").cumcount() + 1
    out["priority"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out.loc[out.index[key["pos"].to_numpy()], "priority"] = prio.to_numpy()
    return out
