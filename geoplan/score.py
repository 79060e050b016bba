"""Scoring: a pure function of (raw criteria table, transforms, weights, aggregation).

``raw`` is a candidates x criteria table of raw values (grid cells or
listed sites). A profile's transforms turn it into ``S`` (n, k) in [0, 1];
many weight sets score at once as a matrix product (``S @ W`` for the
weighted sum; for OWA, ``(A @ W) / (B @ W)`` where ``A`` and ``B`` carry each
row's order weights, which do not depend on ``W``). For every candidate the
result keeps, per criterion, the raw value, the transformed score, the weight
and the contribution; contributions sum to the score.

The map's what-if panel re-implements :func:`aggregate` in JavaScript
(``webmap/static/whatif.js``) line for line; a browser test holds them equal.
No I/O, no geometry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from geoplan import mcda

__all__ = [
    "ProfileScores",
    "aggregate",
    "constraint_fail",
    "contributions",
    "owa_matrices",
    "score_cells",
    "score_profile",
    "transform_table",
]


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


def transform_table(raw: np.ndarray, transforms: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Apply one transform per column; NaN (no value) scores 0; clip to [0, 1].

    Examples
    --------
    >>> transform_table(np.array([[0.0], [5.0], [20.0]]),
    ...                 [{"type": "linear", "low": 0, "high": 10}]).ravel().tolist()
    [0.0, 0.5, 1.0]
    """
    raw = np.asarray(raw, dtype=float)
    s = np.empty((raw.shape[0], len(transforms)))
    for j, t in enumerate(transforms):
        s[:, j] = mcda.transform(raw[:, j], t)
    np.copyto(s, 0.0, where=np.isnan(s))  # +-inf need no mapping: clipped to 1 and 0 below
    return np.clip(s, 0.0, 1.0, out=s)


def constraint_fail(raw: np.ndarray, min_values: Sequence[float | None]) -> np.ndarray:
    """Rows failing any ``min_value`` (a missing raw value fails too).

    Examples
    --------
    >>> constraint_fail(np.array([[1.0, 5.0], [3.0, np.nan]]), [2.0, None]).tolist()
    [True, False]
    """
    fail = np.zeros(raw.shape[0], dtype=bool)
    for j, mv in enumerate(min_values):
        if mv is not None:
            fail |= ~(raw[:, j] >= float(mv))
    return fail


def owa_matrices(s: np.ndarray, order_weights: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """``A`` and ``B`` with ``OWA(s, w) = (A @ w) / (B @ w)`` (Yager's OWA with importance).

    Each row's scores are ranked in descending order (stable); ``B[i, j]`` is
    the order weight of criterion ``j``'s position in row ``i`` and
    ``A = B * s``. The ranking does not depend on the criterion weights, so
    any number of weight sets score as two matrix products.
    """
    s = np.asarray(s, dtype=float)
    v = np.asarray(order_weights, dtype=float)
    order = np.argsort(-s, axis=1, kind="stable")
    b = np.empty_like(s)
    rows = np.arange(s.shape[0])[:, None]
    b[rows, order] = v[None, :]
    return b * s, b


def aggregate(
    s: np.ndarray,
    weights: np.ndarray,
    method: str = "weighted_sum",
    order_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Score rows of transformed values with one weight vector (k,) or many (k, m).

    Parameters
    ----------
    s : (n, k) array
        Transformed criterion scores in [0, 1].
    weights : (k,) or (k, m) array
        Criterion weights (each column sums to 1).
    method : {"weighted_sum", "owa"}
    order_weights : sequence of float, optional
        OWA order weights (k,), needed by ``owa``.

    Returns
    -------
    (n,) or (n, m) array

    Examples
    --------
    >>> s = np.array([[1.0, 0.0], [0.5, 0.5]])
    >>> aggregate(s, np.array([0.75, 0.25])).tolist()
    [0.75, 0.5]
    >>> aggregate(s, np.array([[0.75, 0.5], [0.25, 0.5]])).tolist()
    [[0.75, 0.5], [0.5, 0.5]]
    """
    w = np.asarray(weights, dtype=float)
    if method == "weighted_sum":
        return s @ w
    if method != "owa" or order_weights is None:
        raise ValueError(f"aggregation '{method}': expected weighted_sum or owa with order_weights")
    a, b = owa_matrices(s, order_weights)
    num, den = a @ w, b @ w
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def contributions(
    s: np.ndarray,
    weights: np.ndarray,
    method: str = "weighted_sum",
    order_weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Per-criterion contributions (n, k) that sum to :func:`aggregate`'s score.

    Examples
    --------
    >>> contributions(np.array([[1.0, 0.5]]), np.array([0.6, 0.4])).tolist()
    [[0.6, 0.2]]
    """
    w = np.asarray(weights, dtype=float)
    if method == "weighted_sum":
        return s * w[None, :]
    a, b = owa_matrices(s, order_weights or ())
    den = b @ w
    safe = np.where(den > 0, den, 1.0)  # pragma: no mutate
    return np.where(den[:, None] > 0, a * w[None, :] / safe[:, None], 0.0)  # pragma: no mutate


def score_profile(
    profile: Any,
    raw: Mapping[str, np.ndarray],
    aggregation: Any,
    *,
    weights: np.ndarray | None = None,
) -> ProfileScores:
    """Score candidates (raw criterion values by name) for one profile.

    Parameters
    ----------
    profile : Profile
        From the scenario: criteria (names, transforms, ``min_value``) and weights.
    raw : mapping of str to (n,) array
        The criteria table's columns.
    aggregation : Aggregation
        ``method`` and ``order_weights``.
    weights : (k,) array, optional
        Weights to use instead of the profile's.

    Returns
    -------
    ProfileScores
    """
    names = [pc.criterion for pc in profile.criteria]
    r = np.column_stack([np.asarray(raw[n], dtype=float) for n in names])
    s = transform_table(r, [pc.transform for pc in profile.criteria])
    w = np.asarray(profile.weights if weights is None else weights, dtype=float)
    ow = aggregation.order_weights
    contrib = contributions(s, w, aggregation.method, ow)
    score = contrib.sum(axis=1)
    fail = constraint_fail(r, [pc.min_value for pc in profile.criteria])
    score = np.where(fail, np.nan, score)
    return ProfileScores(profile.name, names, r, s, w, contrib, score)


def score_cells(
    profile: Any, raw: Mapping[str, np.ndarray], aggregation: Any, *, chunk: int = 1 << 18
) -> np.ndarray:
    """The scores of :func:`score_profile` alone, computed ``chunk`` rows at a time.

    Every operation of a weighted sum is per row, so the values are those of
    :func:`score_profile` bit for bit, while memory stays at a few
    chunk-sized temporaries instead of three (n, k) tables. OWA is scored in
    one piece (its matrix products are not split).

    Examples
    --------
    >>> from types import SimpleNamespace as NS
    >>> prof = NS(name="p", weights=np.array([0.5, 0.5]), criteria=[
    ...     NS(criterion="a", transform={"type": "linear", "low": 0, "high": 10}, min_value=None),
    ...     NS(criterion="b", transform={"type": "linear", "low": 0, "high": 10}, min_value=None)])
    >>> raw = {"a": np.array([0.0, 10.0, 5.0]), "b": np.array([10.0, 10.0, 0.0])}
    >>> score_cells(prof, raw, NS(method="weighted_sum", order_weights=None), chunk=2).tolist()
    [0.5, 1.0, 0.25]
    """
    n = len(next(iter(raw.values()))) if raw else 0  # pragma: no mutate
    if aggregation.method != "weighted_sum" or n <= chunk:  # pragma: no mutate
        return score_profile(profile, raw, aggregation).score
    out = np.empty(n)
    for a in range(0, n, chunk):
        part = {k: v[a : a + chunk] for k, v in raw.items()}
        out[a : a + chunk] = score_profile(profile, part, aggregation).score
    return out
