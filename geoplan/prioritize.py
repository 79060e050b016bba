"""Ranking and phasing: rank within each belt and overall, then apply the phase rules.

Phase rules are ordered; the first whose ``when`` matches fires, and its
``reason`` is recorded in ``phase_reason``. ``when`` keys: ``kind`` (zone or
site), ``belt`` and ``profile`` (a name or list), ``score_min``,
``rank_in_belt_max``. An empty ``when`` always matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["assign_phases", "rank"]


def rank(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``rank_in_belt`` (per profile and belt) and ``rank_overall`` (per profile).

    Ties break on ``zone_id`` so the order is reproducible. Rows with a NaN
    score get no rank.
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


def _matches(row: Mapping[str, Any], when: Mapping[str, Any]) -> bool:
    if "kind" in when and row["kind"] != when["kind"]:
        return False
    if "belt" in when and row["belt"] not in _as_list(when["belt"]):
        return False
    if "profile" in when and row["profile"] not in _as_list(when["profile"]):
        return False
    if "score_min" in when and not (row["score"] >= when["score_min"]):
        return False
    if "rank_in_belt_max" in when:
        r = row["rank_in_belt"]
        if r is pd.NA or r is None or not (r <= when["rank_in_belt_max"]):
            return False
    return True


def assign_phases(df: pd.DataFrame, rules: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Add ``phase`` (1-3) and ``phase_reason`` (the rule that fired) to each row."""
    phases, reasons = [], []
    for _, row in df.iterrows():
        for i, rule in enumerate(rules):
            if _matches(row, rule.get("when", {})):
                phases.append(int(rule["phase"]))
                reasons.append(f"rule {i + 1}: {rule.get('reason', '')}".strip())
                break
        else:
            phases.append(np.nan)
            reasons.append("no rule matched")
    out = df.copy()
    out["phase"] = pd.array(phases, dtype="Int64")
    out["phase_reason"] = reasons
    return out
