"""Ranks, phase rules and priorities on a hand-made table, against hand-derived answers.

The table mixes zones and listed sites, three belts plus an inland site, two
profiles, a score tie and an unscored row. Every expected value below was
worked out by hand from the rules in ``geoplan.prioritize``'s docstring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geoplan.prioritize import assign_phases, assign_priority, rank, rule_mask
from geoplan.scenario import PhaseRule

NAN = np.nan
# id, kind, belt, profile, size_class, score, site_distance_km (Z3 before Z2: ties break on id)
ROWS = [
    ("Z1", "zone", "west_coast", "lab", "medium", 0.90, 3.0),
    ("Z3", "zone", "west_coast", "lab", "medium", 0.80, 20.0),
    ("Z2", "zone", "west_coast", "lab", "medium", 0.80, 40.0),
    ("S1", "site", "west_coast", "lab", None, 0.85, 0.0),
    ("Z4", "zone", "border", "lab", "medium", 0.70, 50.0),
    ("Z5", "zone", "east_coast", "tech", "small", 0.60, 10.0),
    ("S2", "site", "inland", "lab", None, 0.95, 0.0),
    ("Z6", "zone", "east_coast", "tech", "small", NAN, 5.0),
    ("Z7", "zone", "border", "tech", "small", 0.65, 2.0),
]
ALL = {r[0] for r in ROWS}
BELTS = ALL - {"S2"}  # rows in one of the three belts


@pytest.fixture
def table() -> pd.DataFrame:
    df = pd.DataFrame(
        ROWS,
        columns=["zone_id", "kind", "belt", "profile", "size_class", "score", "site_distance_km"],
    )
    for c in ("zone_id", "kind", "belt", "profile", "size_class"):
        df[c] = df[c].astype("str")
    return df


@pytest.fixture
def ranked(table) -> pd.DataFrame:
    return rank(table)


def _by_id(df: pd.DataFrame, col: str) -> dict:
    return {
        k: (None if pd.isna(v) else int(v)) for k, v in zip(df["zone_id"], df[col], strict=True)
    }


def test_rank_in_belt_and_overall(ranked):
    assert _by_id(ranked, "rank_in_belt") == {
        "Z1": 1, "S1": 2, "Z2": 3, "Z3": 4,  # lab / west_coast; Z2 before Z3 on id
        "Z4": 1, "S2": 1,  # lab / border, lab / inland
        "Z5": 1, "Z6": None, "Z7": 1,  # tech / east_coast, tech / border
    }  # fmt: skip
    assert _by_id(ranked, "rank_overall") == {
        "S2": 1, "Z1": 2, "S1": 3, "Z2": 4, "Z3": 5, "Z4": 6,
        "Z7": 1, "Z5": 2, "Z6": None,
    }  # fmt: skip


RULE_CASES = [
    ({}, BELTS),  # no belt key: the three belts only, never inland
    ({"kind": "site"}, {"S1"}),
    ({"kind": "site", "belt": "inland"}, {"S2"}),
    ({"kind": "zone"}, BELTS - {"S1"}),
    ({"belt": "border"}, {"Z4", "Z7"}),
    ({"belt": ["border", "inland"]}, {"Z4", "Z7", "S2"}),
    ({"profile": "tech"}, {"Z5", "Z6", "Z7"}),
    ({"profile": ["tech", "lab"]}, BELTS),
    ({"size_class": "small"}, {"Z5", "Z6", "Z7"}),
    ({"size_class": ["medium"]}, {"Z1", "Z2", "Z3", "Z4"}),  # sites have no size class
    ({"score_min": 0.8}, {"Z1", "Z2", "Z3", "S1"}),  # inclusive; S2 is inland
    ({"score_min": 0.85}, {"Z1", "S1"}),
    ({"score_min": 0.0}, BELTS - {"Z6"}),  # an unscored row is below every minimum
    ({"rank_in_belt_max": 1}, {"Z1", "Z4", "Z5", "Z7"}),
    ({"rank_in_belt_max": 3}, {"Z1", "S1", "Z2", "Z4", "Z5", "Z7"}),
    ({"near_site_km": 10}, {"Z1", "S1", "Z5", "Z6", "Z7"}),  # inclusive
    ({"near_site_km": 9.99}, {"Z1", "S1", "Z6", "Z7"}),
    ({"profile": "lab", "near_site_km": 15, "rank_in_belt_max": 3}, {"Z1", "S1"}),
    ({"belt": "inland", "score_min": 0.96}, set()),
]


@pytest.mark.parametrize(("when", "expected"), RULE_CASES)
def test_rule_mask(ranked, when, expected):
    m = rule_mask(ranked, when)
    assert m.dtype == bool
    assert set(ranked["zone_id"][m]) == expected


DEFAULT_LIKE = (
    PhaseRule(1, {"profile": "lab", "near_site_km": 15, "rank_in_belt_max": 3}, "foundation"),
    PhaseRule(2, {"belt": "border"}, "border_joint_zone"),
    PhaseRule(2, {"profile": "tech"}, "technology"),
    PhaseRule(3, {"belt": "inland"}, "individual_project"),
    PhaseRule(3, {}, "new_base"),
)


def test_assign_phases_first_match_wins(ranked):
    out = assign_phases(ranked, DEFAULT_LIKE)
    assert _by_id(out, "phase") == {
        "Z1": 1, "S1": 1, "Z4": 2, "Z7": 2, "Z5": 2, "S2": 3, "Z2": 3, "Z3": 3, "Z6": None,
    }  # fmt: skip
    # Z7 matches rules 1 (border) and 2 (tech): the first wins; the unscored Z6 matches none
    assert _by_id(out, "phase_rule") == {
        "Z1": 0, "S1": 0, "Z4": 1, "Z7": 1, "Z5": 2, "S2": 3, "Z2": 4, "Z3": 4, "Z6": -1,
    }  # fmt: skip
    assert str(out["phase"].dtype) == "Int64"


def test_rule_order_not_phase_number_decides(ranked):
    rules = [{"phase": 3, "when": {"belt": "border"}}, {"phase": 1, "when": {}}]
    out = assign_phases(ranked, rules)  # mappings work as well as PhaseRule objects
    ph = _by_id(out, "phase")
    assert ph["Z4"] == 3 and ph["Z7"] == 3 and ph["Z1"] == 1
    assert ph["S2"] is None  # no rule names the inland belt
    assert ph["Z6"] is None


def test_no_rules_no_phases(ranked):
    out = assign_phases(ranked, [])
    assert out["phase"].isna().all() and (out["phase_rule"] == -1).all()


def test_priority_rank_then_score_then_id(ranked):
    out = assign_priority(assign_phases(ranked, DEFAULT_LIKE))
    assert _by_id(out, "priority") == {
        "Z1": 1, "S1": 2,  # phase 1: rank 1, rank 2
        "Z4": 1, "Z7": 2, "Z5": 3,  # phase 2: all rank 1, so by score .70 > .65 > .60
        "S2": 1, "Z2": 2, "Z3": 3,  # phase 3: rank 1, 3, 4
        "Z6": None,
    }  # fmt: skip


def test_priority_robustness_before_score(ranked):
    df = ranked.copy()
    p = {"Z1": 0.1, "Z3": 0.9, "Z2": 0.9, "S1": 0.2, "Z4": 0.5, "Z5": 0.9, "Z7": 0.5}
    df["p_top_k"] = df["zone_id"].map(p).astype(float)
    out = assign_priority(assign_phases(df, DEFAULT_LIKE))
    pr = _by_id(out, "priority")
    # phase 2, all rank 1: Z5 (p .9) first; Z4 and Z7 tie on p .5, then score .70 > .65
    assert (pr["Z5"], pr["Z4"], pr["Z7"]) == (1, 2, 3)
    # rank still comes first: phase 1 Z1 (rank 1, p .1) before S1 (rank 2, p .2)
    assert (pr["Z1"], pr["S1"]) == (1, 2)


def test_priority_missing_robustness_ranks_last():
    df = pd.DataFrame(
        {
            "zone_id": pd.array(["A", "B", "C"], dtype="str"),
            "phase": pd.array([1, 1, 1], dtype="Int64"),
            "rank_in_belt": pd.array([1, 1, 1], dtype="Int64"),
            "score": [0.9, 0.5, 0.5],
            "p_top_k": [NAN, 0.0, 0.3],
        }
    )
    assert _by_id(assign_priority(df), "priority") == {"C": 1, "B": 2, "A": 3}


def test_priority_ties_break_on_id():
    df = pd.DataFrame(
        {
            "zone_id": pd.array(["Zb", "Za", "Zc", "Zd"], dtype="str"),
            "phase": pd.array([2, 2, 2, pd.NA], dtype="Int64"),
            "rank_in_belt": pd.array([1, 1, 1, 1], dtype="Int64"),
            "score": [0.5, 0.5, 0.6, 0.9],
        }
    )
    assert _by_id(assign_priority(df), "priority") == {"Zc": 1, "Za": 2, "Zb": 3, "Zd": None}
