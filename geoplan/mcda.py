"""Multi-criteria decision analysis: transforms, weights (direct, AHP), aggregation.

- Transforms standardise raw criterion values to [0, 1] (TerrSet-style fuzzy
  membership): ``linear`` (rising or falling between bounds), ``sigmoid``,
  ``gaussian`` (an ideal value), ``step`` (threshold), ``categorical``.
- :func:`ahp` derives weights from a Saaty pairwise matrix: principal
  eigenvector, lambda_max, consistency index and ratio (Saaty's random index).
- Aggregation: :func:`weighted_sum`, :func:`owa` (Yager's ordered weighted
  average with criterion weights; equal order weights give the weighted sum)
  and :func:`topsis` (Hwang and Yoon).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from geoplan._errors import ScenarioError

__all__ = [
    "RANDOM_INDEX",
    "AHPResult",
    "ahp",
    "normalise_weights",
    "owa",
    "owa_contributions",
    "topsis",
    "transform",
    "weighted_sum",
]

#: Saaty's random consistency index by matrix order (Saaty 1980/2008).
RANDOM_INDEX = {
    1: 0.0,  # pragma: no mutate (n <= 2 returns before the lookup)
    2: 0.0,  # pragma: no mutate (n <= 2 returns before the lookup)
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}

TRANSFORMS = ("linear", "sigmoid", "gaussian", "step", "categorical")


def transform(values: np.ndarray, spec: Mapping[str, Any]) -> np.ndarray:
    """Standardise raw values to [0, 1] with a transform spec.

    Parameters
    ----------
    values : array-like
        Raw criterion values (NaN stays NaN).
    spec : mapping
        ``{"type": "linear", "low": 0, "high": 50_000, "direction": "falling"}``;
        ``sigmoid``: ``midpoint``, ``spread`` (> 0), ``direction``;
        ``gaussian``: ``ideal``, ``spread`` (> 0);
        ``step``: ``threshold``, ``direction`` (``rising``: 1 at or above);
        ``categorical``: ``mapping`` {value: score}, ``default``.

    Returns
    -------
    numpy.ndarray of float
    """
    kind = spec["type"]
    x = np.asarray(values)
    if kind == "categorical":
        mapping = {_category(k): float(v) for k, v in spec["mapping"].items()}
        default = float(spec.get("default", 0.0))
        return np.array([mapping.get(_category(v), default) for v in x.ravel()], dtype=float)
    x = x.astype(float)
    rising = spec.get("direction", "rising") == "rising"
    if kind == "linear":
        lo, hi = float(spec["low"]), float(spec["high"])
        out = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    elif kind == "sigmoid":
        mid, spread = float(spec["midpoint"]), float(spec["spread"])
        with np.errstate(over="ignore"):
            out = 1.0 / (1.0 + np.exp(-(x - mid) / spread))
    elif kind == "gaussian":
        ideal, spread = float(spec["ideal"]), float(spec["spread"])
        return np.exp(-0.5 * ((x - ideal) / spread) ** 2)
    elif kind == "step":
        out = (x >= float(spec["threshold"])).astype(float)
        out[np.isnan(x)] = np.nan
    else:
        raise ScenarioError(f"transform.type: unknown '{kind}'; expected one of {TRANSFORMS}")
    return out if rising else 1.0 - out


def _category(value: Any) -> str:
    """A category key: numbers compare by value (``1``, ``1.0`` and ``"1"`` are one category)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)
    return repr(f) if math.isfinite(f) else str(value)


@dataclasses.dataclass(frozen=True)
class AHPResult:
    """AHP weights and consistency."""

    weights: np.ndarray
    lambda_max: float
    consistency_index: float
    consistency_ratio: float

    @property
    def consistent(self) -> bool:
        """Saaty's rule: CR <= 0.10."""
        return self.consistency_ratio <= 0.10


def ahp(matrix: Sequence[Sequence[float]] | np.ndarray) -> AHPResult:
    """Weights from a Saaty pairwise comparison matrix (principal eigenvector).

    Parameters
    ----------
    matrix : (n, n) array-like
        Positive reciprocal matrix: ``a[i][j]`` = how much more important i is than j.

    Returns
    -------
    AHPResult
        ``weights`` (sum 1), ``lambda_max``, ``consistency_index``
        ``(lambda_max - n) / (n - 1)`` and ``consistency_ratio`` (CI / RI).

    Raises
    ------
    ScenarioError
        Not square, not positive, or not reciprocal (``a[j][i] != 1/a[i][j]``).
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    if a.ndim != 2 or a.shape != (n, n) or n < 1:
        raise ScenarioError(f"ahp matrix: must be square, got shape {a.shape}")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ScenarioError("ahp matrix: every entry must be a positive number")
    bad = np.argwhere(~np.isclose(a * a.T, 1.0, rtol=1e-3))
    if len(bad):
        i, j = bad[0]
        raise ScenarioError(
            f"ahp matrix[{i}][{j}]: must be 1/matrix[{j}][{i}] = {1 / a[j, i]:.4g}, got {a[i, j]:g}"
        )
    if n <= 2:
        w = a[:, 0] / a[:, 0].sum() if n == 2 else np.ones(1)
        return AHPResult(w, float(n), 0.0, 0.0)
    vals, vecs = np.linalg.eig(a)
    k = int(np.argmax(vals.real))
    w = np.abs(vecs[:, k].real)
    w = w / w.sum()
    lam = float(vals[k].real)
    ci = (lam - n) / (n - 1)
    ri = RANDOM_INDEX.get(n, 1.59)
    return AHPResult(w, lam, ci, ci / ri if ri else 0.0)


def normalise_weights(weights: Sequence[float], *, where: str = "weights") -> np.ndarray:
    """Check weights (finite, >= 0, not all 0) and scale them to sum 1, warning if they did not."""
    w = np.asarray(weights, dtype=float)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ScenarioError(f"{where}: must be finite and >= 0, got {list(weights)}")
    total = w.sum()
    if total <= 0:
        raise ScenarioError(f"{where}: must not all be 0")
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        warnings.warn(f"{where}: sum to {total:g}, not 1; normalised", UserWarning, stacklevel=2)
    return w / total


def weighted_sum(scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted linear combination: ``scores`` (n, k) x ``weights`` (k,) -> (n,)."""
    return np.asarray(scores, dtype=float) @ np.asarray(weights, dtype=float)


def owa_contributions(
    scores: np.ndarray, weights: np.ndarray, order_weights: np.ndarray
) -> np.ndarray:
    """Per-criterion contributions to the OWA score (rows sum to the OWA score).

    Yager's OWA with importance weights: sort each row's scores descending,
    combine criterion weight ``w`` and order weight ``v`` as ``u = w*v``,
    renormalise, and weight the sorted scores. Equal order weights give
    ``u = w``: the weighted sum. Order weights loaded on the first positions
    are risk-taking (OR-like), on the last positions risk-averse (AND-like).
    """
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    v = np.asarray(order_weights, dtype=float)
    k = s.shape[1]
    if v.shape != (k,):
        raise ScenarioError(f"order_weights: need {k} values, got {v.shape[0]}")
    order = np.argsort(-s, axis=1, kind="stable")
    u = w[order] * v[None, :] * k  # k*v: equal order weights (1/k) leave w unchanged
    u = u / u.sum(axis=1, keepdims=True)
    contrib = np.zeros_like(s)
    rows = np.arange(s.shape[0])[:, None]
    contrib[rows, order] = u * s[rows, order]
    return contrib


def owa(scores: np.ndarray, weights: np.ndarray, order_weights: np.ndarray) -> np.ndarray:
    """Ordered weighted average with criterion weights; see :func:`owa_contributions`."""
    return owa_contributions(scores, weights, order_weights).sum(axis=1)


def topsis(
    matrix: np.ndarray, weights: np.ndarray, benefit: Sequence[bool]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TOPSIS (Hwang and Yoon 1981) with vector normalisation.

    Parameters
    ----------
    matrix : (n, k) array
        Alternatives x criteria, raw values.
    weights : (k,) array
        Criterion weights.
    benefit : sequence of bool
        True where more is better, False for cost criteria.

    Returns
    -------
    tuple of arrays
        ``(closeness, d_plus, d_minus)``: relative closeness to the ideal
        (higher is better) and the separations from the ideal and anti-ideal.
    """
    x = np.asarray(matrix, dtype=float)
    w = np.asarray(weights, dtype=float)
    norm = np.sqrt((x**2).sum(axis=0))
    norm[norm == 0] = 1.0  # pragma: no mutate
    v = x / norm * w
    b = np.asarray(benefit, dtype=bool)
    ideal = np.where(b, v.max(axis=0), v.min(axis=0))
    anti = np.where(b, v.min(axis=0), v.max(axis=0))
    d_plus = np.sqrt(((v - ideal) ** 2).sum(axis=1))
    d_minus = np.sqrt(((v - anti) ** 2).sum(axis=1))
    denom = d_plus + d_minus
    closeness = np.divide(d_minus, denom, out=np.zeros_like(denom), where=denom > 0)
    return closeness, d_plus, d_minus
