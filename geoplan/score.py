"""Scoring: criteria -> transforms -> constraints -> weights -> aggregate, with explanation.

For every candidate and profile the result carries, per criterion, the raw
value, the transformed score, the weight and the contribution; the
contributions sum to the score (weighted sum: ``w * s``; OWA: Yager's
order-adjusted weights times ``s``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from geoplan import mcda
from geoplan.scenario import Profile, Scenario

__all__ = ["ProfileScores", "score_profile"]


@dataclasses.dataclass
class ProfileScores:
    """Scores of n candidates for one profile."""

    profile: str
    criteria: list[str]
    raw: np.ndarray  # (n, k)
    transformed: np.ndarray  # (n, k)
    weights: np.ndarray  # (k,)
    contributions: np.ndarray  # (n, k)
    score: np.ndarray  # (n,), NaN where a min_value constraint failed


def score_profile(
    profile: Profile, raw: Mapping[str, np.ndarray], scenario: Scenario
) -> ProfileScores:
    """Score candidates (raw criterion values by name) for one profile."""
    names = [pc.criterion for pc in profile.criteria]
    r = np.column_stack([raw[n] for n in names]).astype(float)
    s = np.column_stack(
        [mcda.transform(raw[pc.criterion], pc.transform) for pc in profile.criteria]
    )
    s = np.clip(np.nan_to_num(s, nan=0.0), 0.0, 1.0)
    w = np.asarray(profile.weights, dtype=float)
    agg = scenario.data.get("aggregation", {})
    if agg.get("method") == "owa":
        contrib = mcda.owa_contributions(s, w, np.asarray(agg["order_weights"], dtype=float))
    else:
        contrib = s * w[None, :]
    score = contrib.sum(axis=1)
    fail = np.zeros(len(score), dtype=bool)
    for j, pc in enumerate(profile.criteria):
        if pc.min_value is not None:
            fail |= ~(r[:, j] >= float(pc.min_value))
    score = np.where(fail, np.nan, score)
    return ProfileScores(profile.name, names, r, s, w, contrib, score)
