"""Weight sensitivity: how robust each zone's rank is when the weights are uncertain.

Three analyses, all on candidates that are held fixed (the zones a run grew
and the listed sites) and re-scored, never re-grown:

- :func:`monte_carlo`: weights drawn around each profile's weights
  (Dirichlet for direct weights, perturbed Saaty judgements for AHP
  profiles); every candidate re-scored for every draw as one matrix product
  per profile and chunk; per draw, ordinal ranks within the candidate's
  belt; per candidate the share of draws in its belt's top k
  (``p_top_k``), the median rank and the 5-95 % rank interval.
- optionally, per grid cell, the share of draws in which the cell is in its
  belt's top 5 % (``cell_share``, written as ``robustness_<profile>.tif``).
- :func:`one_at_a_time`: each weight swept from 0 to twice its value (the
  others rescaled to keep the sum 1) and the ranks that follow;
  :func:`plot_one_at_a_time` draws them, one PNG per profile and belt.

Ties (two candidates with exactly the same score in a draw) take ordinal
ranks in ``zone_id`` order, as :func:`geoplan.prioritize.rank` does.
Candidates without a score (a ``min_value`` constraint failed) get no rank
and no probability.

This module computes; it writes nothing except the PNGs
:func:`plot_one_at_a_time` is asked for (the CLI stages them), and never
loops in Python over draws x candidates.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geoplan import mcda
from geoplan._errors import ScenarioError
from geoplan.score import owa_matrices, transform_table

__all__ = [
    "SAATY_SCALE",
    "SensitivityResult",
    "ahp_draws",
    "cell_top_share",
    "dirichlet_draws",
    "monte_carlo",
    "one_at_a_time",
    "plot_one_at_a_time",
    "rank_within",
    "score_draws",
    "weight_draws",
]

#: Saaty's 1/9 .. 9 scale, in order; an AHP judgement steps along it.
SAATY_SCALE = np.array([1 / v for v in range(9, 1, -1)] + list(range(1, 10)), dtype=float)
#: Share of a belt's cells counted as its "top" in the per-cell analysis.
CELL_TOP_SHARE = 0.05
#: AHP draws stop after this many times the draws asked for (most rejected: an error).
AHP_DRAW_CAP = 50
#: Colour-blind safe palette (Okabe & Ito 2008) for the sweep plots.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000")
_CHUNK_BYTES = 64 * 2**20

METHOD = (
    "Weights drawn around each profile's weights: Dirichlet(concentration x w) for direct "
    "weights; for AHP profiles each upper-triangle judgement moves one step up or down Saaty's "
    "1/9..9 scale with probability ahp_step_prob (reciprocals below), weights are the principal "
    "eigenvector and draws with CR > 0.10 are rejected and redrawn. Candidates (grown zones and "
    "listed sites) are held fixed and re-scored from their mean transformed criterion scores; "
    "ranks are ordinal within profile and belt, ties in zone_id order. p_top_k: share of draws "
    "in the top k of the belt; rank_median, rank_p05, rank_p95: quantiles of the rank "
    "(inverted CDF, so whole ranks)."
)


@dataclasses.dataclass
class SensitivityResult:
    """What :func:`monte_carlo` returns.

    Attributes
    ----------
    table : DataFrame
        One row per candidate: ``zone_id``, ``p_top_k``, ``rank_median``,
        ``rank_p05``, ``rank_p95`` (merged into the ranking).
    summary : dict
        JSON-able: draws, seed, concentration, ahp_step_prob, top_k,
        rejected AHP draws per profile, weight means and sds, method text.
    cell_share : dict of str to (h, w) float32 array, or None
        Per profile, the share of draws in which each grid cell is in its
        belt's top 5 % (NaN outside candidate cells).
    weights : dict of str to (k, m) array
        The accepted weight draws per profile (columns sum to 1).
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    cell_share: dict[str, np.ndarray] | None = None
    weights: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------- weight draws


def _profile_rng(seed: int, profile: str) -> np.random.Generator:
    """One stream per (seed, profile): a profile's draws do not depend on the others."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(zlib.crc32(profile.encode()),))
    )


def dirichlet_draws(
    weights: Sequence[float], concentration: float, draws: int, rng: np.random.Generator
) -> np.ndarray:
    """Weight vectors drawn from Dirichlet(concentration x w), as columns (k, draws).

    The mean is ``w``; the standard deviation of a weight ``w_j`` is
    ``sqrt(w_j (1 - w_j) / (concentration + 1))`` (0.047 for a weight of
    0.35 at concentration 100). Zero weights stay zero.

    Examples
    --------
    >>> w = dirichlet_draws([0.5, 0.3, 0.2], 100, 4, np.random.default_rng(0))
    >>> w.shape, bool(np.allclose(w.sum(axis=0), 1))
    ((3, 4), True)
    """
    w = np.asarray(weights, dtype=float)
    out = np.zeros((len(w), draws))
    pos = w > 0
    if pos.sum() == 1:
        out[pos] = 1.0
    elif pos.any():
        out[pos] = rng.dirichlet(concentration * w[pos], size=draws).T
    return out


def _saaty_index(values: np.ndarray) -> np.ndarray:
    """Nearest position on :data:`SAATY_SCALE` (in log space)."""
    d = np.abs(np.log(values)[..., None] - np.log(SAATY_SCALE))
    return np.argmin(d, axis=-1)


def ahp_draws(
    matrix: Sequence[Sequence[float]],
    step_prob: float,
    draws: int,
    rng: np.random.Generator,
    *,
    cap: int = AHP_DRAW_CAP,
) -> tuple[np.ndarray, int]:
    """AHP weights from perturbed judgements, as columns (k, draws), and the rejected count.

    Each upper-triangle judgement moves one step up or down Saaty's scale
    (:data:`SAATY_SCALE`, clamped at 1/9 and 9) with probability
    ``step_prob`` (up and down equally likely); the lower triangle holds
    the reciprocals. The weights are the principal eigenvector, as in
    :func:`geoplan.mcda.ahp` (computed for a batch of matrices at once);
    draws with a consistency ratio above 0.10 are rejected and counted, and
    drawing goes on until ``draws`` are accepted.

    Raises
    ------
    ScenarioError
        Fewer than ``draws`` accepted within ``cap x draws`` attempts.

    Examples
    --------
    >>> m = [[1, 2, 3], [1 / 2, 1, 2], [1 / 3, 1 / 2, 1]]
    >>> w, rejected = ahp_draws(m, 0.3, 5, np.random.default_rng(0))
    >>> w.shape
    (3, 5)
    """
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    iu = np.triu_indices(n, 1)
    base = a[iu]
    base_idx = _saaty_index(base)
    accepted: list[np.ndarray] = []
    rejected = 0
    tried = 0
    batch = max(16, draws)
    while len(accepted) < draws:
        if tried >= cap * max(draws, 1):
            raise ScenarioError(
                f"sensitivity.ahp_step_prob: only {len(accepted)} of {tried} perturbed AHP "
                f"matrices are consistent (CR <= 0.10), {draws} needed; lower "
                "sensitivity.ahp_step_prob or make the judgements more consistent"
            )
        moved = rng.random((batch, len(base))) < step_prob
        up = rng.random((batch, len(base))) < 0.5
        idx = np.clip(base_idx + np.where(up, 1, -1), 0, len(SAATY_SCALE) - 1)
        vals = np.where(moved, SAATY_SCALE[idx], base[None, :])
        mats = np.ones((batch, n, n))
        mats[:, iu[0], iu[1]] = vals
        mats[:, iu[1], iu[0]] = 1.0 / vals
        wts, cr = _ahp_batch(mats)
        tried += batch
        ok = cr <= 0.10  # mcda.AHPResult.consistent
        take = np.flatnonzero(ok)[: draws - len(accepted)]
        if len(take) < draws - len(accepted):
            rejected += int((~ok).sum())
        else:  # count rejections only up to the last draw used
            rejected += int((~ok[: take[-1] + 1]).sum()) if len(take) else 0
        accepted.extend(wts[take])
    w = np.column_stack(accepted) if accepted else np.zeros((n, 0))
    return w, rejected


def _ahp_batch(mats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`geoplan.mcda.ahp` on a stack (B, n, n): weights (B, n) and consistency ratios."""
    b, n, _ = mats.shape
    if n <= 2:
        w = mats[:, :, 0] / mats[:, :, 0].sum(axis=1, keepdims=True)
        return w, np.zeros(b)
    vals, vecs = np.linalg.eig(mats)
    k = np.argmax(vals.real, axis=1)
    rows = np.arange(b)
    w = np.abs(vecs[rows, :, k].real)
    w = w / w.sum(axis=1, keepdims=True)
    lam = vals[rows, k].real
    ri = mcda.RANDOM_INDEX.get(n, 1.59)
    cr = (lam - n) / (n - 1) / ri if ri else np.zeros(b)
    return w, cr


def weight_draws(profile: Any, sens: Any, draws: int, seed: int) -> tuple[np.ndarray, int]:
    """A profile's weight draws (k, draws) and its rejected AHP draws (0 for direct weights).

    Examples
    --------
    >>> from geoplan.scenario import load_scenario
    >>> sc = load_scenario(None)
    >>> w, rej = weight_draws(sc.profiles["labour_intensive"], sc.sensitivity, 10, 0)
    >>> w.shape[1]
    10
    """
    rng = _profile_rng(seed, profile.name)
    if profile.ahp_matrix is not None:
        return ahp_draws(profile.ahp_matrix, sens.ahp_step_prob, draws, rng)
    return dirichlet_draws(profile.weights, sens.concentration, draws, rng), 0


# --------------------------------------------------------------------------- scoring + ranks


def score_draws(
    s: np.ndarray, w: np.ndarray, method: str = "weighted_sum", order_weights: Any = None
) -> np.ndarray:
    """Scores (n, m) of n candidates (transformed scores ``s`` (n, k)) under m weight draws.

    One matrix product (``s @ w``; for OWA ``(A @ w) / (B @ w)``), equal to
    :func:`geoplan.score.aggregate` column by column.

    Examples
    --------
    >>> score_draws(np.array([[1.0, 0.0]]), np.array([[0.5, 0.2], [0.5, 0.8]])).tolist()
    [[0.5, 0.2]]
    """
    if method == "weighted_sum":
        return s @ w
    if method != "owa" or order_weights is None:
        raise ValueError(f"aggregation '{method}': expected weighted_sum or owa with order_weights")
    a, b = owa_matrices(s, order_weights)
    num, den = a @ w, b @ w
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def rank_within(scores: np.ndarray) -> np.ndarray:
    """Ordinal ranks (1 = best) of the rows of ``scores`` (n, m), per column.

    Higher scores rank first; exact ties keep row order (sort rows by
    ``zone_id`` first to break ties by id).

    Examples
    --------
    >>> rank_within(np.array([[0.2, 0.9], [0.5, 0.9], [0.5, 0.1]])).tolist()
    [[3, 1], [1, 2], [2, 3]]
    """
    n, m = scores.shape
    order = np.argsort(-scores, axis=0, kind="stable")
    ranks = np.empty((n, m), dtype=np.int32)
    np.put_along_axis(ranks, order, np.arange(1, n + 1, dtype=np.int32)[:, None], axis=0)
    return ranks


def _quantile_ranks(ranks: np.ndarray, q: float) -> np.ndarray:
    return np.quantile(ranks, q, axis=1, method="inverted_cdf")


# --------------------------------------------------------------------------- Monte Carlo


def monte_carlo(
    table: pd.DataFrame,
    sc: Any,
    *,
    draws: int | None = None,
    seed: int | None = None,
    prepared: Any = None,
    keys: Mapping[str, str] | None = None,
    cell_share: bool | None = None,
    top_k: int | None = None,
) -> SensitivityResult:
    """Monte Carlo weight sensitivity of every candidate's rank in its belt.

    Parameters
    ----------
    table : DataFrame
        Candidates (zones and sites), one row per candidate and profile,
        with ``zone_id``, ``profile``, ``belt``, ``score`` and
        ``score_<criterion>`` (mean transformed scores).
    sc : Scenario
        Profiles, aggregation and ``sensitivity`` settings.
    draws, seed, top_k : int, optional
        Default: the scenario's ``sensitivity`` values.
    prepared : Prepared, optional
        With ``keys`` (criterion name -> column key), needed for the
        per-cell share.
    cell_share : bool, optional
        Compute the per-cell top-5 % share (default:
        ``sc.sensitivity.cell_share``; needs ``prepared`` and ``keys``).

    Returns
    -------
    SensitivityResult

    Examples
    --------
    >>> from geoplan.scenario import load_scenario
    >>> sc = load_scenario(None).with_profiles(["labour_intensive"])
    >>> crit = sc.profiles["labour_intensive"].criterion_names
    >>> t = pd.DataFrame({"zone_id": ["a", "b"], "profile": "labour_intensive",
    ...                   "belt": "border", "score": [1.0, 0.0],
    ...                   **{f"score_{c}": [1.0, 0.0] for c in crit}})
    >>> monte_carlo(t, sc, draws=50).table["p_top_k"].tolist()
    [1.0, 1.0]
    """
    sens = sc.sensitivity
    draws = int(sens.draws if draws is None else draws)
    seed = int(sens.seed if seed is None else seed)
    k = int(sens.top_k if top_k is None else top_k)
    want_cells = bool(sens.cell_share if cell_share is None else cell_share)
    if draws < 1:
        raise ScenarioError(f"sensitivity.draws: expected at least 1, got {draws}")
    agg = sc.aggregation
    parts: list[pd.DataFrame] = []
    rejected: dict[str, int] = {}
    weights: dict[str, np.ndarray] = {}
    wstats: dict[str, dict[str, dict[str, float]]] = {}
    shares: dict[str, np.ndarray] = {}
    for pname, prof in sc.profiles.items():
        w, rej = weight_draws(prof, sens, draws, seed)
        weights[pname] = w
        rejected[pname] = rej
        wstats[pname] = {
            c: {"weight": round(float(b), 6), "mean": round(float(m), 6), "sd": round(float(s), 6)}
            for c, b, m, s in zip(
                prof.criterion_names, prof.weights, w.mean(axis=1), w.std(axis=1), strict=True
            )
        }
        sub = table[(table["profile"] == pname).to_numpy()]
        if len(sub):
            parts.append(_rank_profile(sub, prof, w, agg, k))
        if want_cells and prepared is not None and keys is not None:
            shares[pname] = cell_top_share(prepared, keys, prof, w, agg)
    cols = ["zone_id", "p_top_k", "rank_median", "rank_p05", "rank_p95"]
    out = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    )
    summary = {
        "draws": draws,
        "seed": seed,
        "concentration": float(sens.concentration),
        "ahp_step_prob": float(sens.ahp_step_prob),
        "top_k": k,
        "rejected_ahp_draws": rejected,
        "weights": wstats,
        "ties": "ordinal ranks, exact ties in zone_id order",
        "cell_share": sorted(shares) if shares else [],
        "method": METHOD,
    }
    return SensitivityResult(out[cols], summary, shares or None, weights)


def _criterion_matrix(sub: pd.DataFrame, prof: Any) -> np.ndarray:
    cols = [f"score_{c}" for c in prof.criterion_names]
    missing = [c for c in cols if c not in sub.columns]
    if missing:
        raise ScenarioError(
            f"sensitivity: candidate table lacks {', '.join(missing)} for profile {prof.name}"
        )
    return sub[cols].to_numpy(dtype=float, na_value=np.nan)


def _rank_profile(sub: pd.DataFrame, prof: Any, w: np.ndarray, agg: Any, k: int) -> pd.DataFrame:
    sub = sub.sort_values("zone_id", kind="stable")
    ids = sub["zone_id"].astype(str).to_numpy()
    belts = sub["belt"].astype(str).to_numpy()
    scored = np.isfinite(sub["score"].to_numpy(dtype=float, na_value=np.nan))
    s = np.nan_to_num(_criterion_matrix(sub, prof), nan=0.0)
    n, m = len(sub), w.shape[1]
    p = np.full(n, np.nan)
    med = np.full(n, np.nan)
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    chunk = max(1, _CHUNK_BYTES // max(1, 8 * n))
    for belt in dict.fromkeys(belts):
        rows = np.flatnonzero((belts == belt) & scored)
        if not len(rows):
            continue
        ranks = np.empty((len(rows), m), dtype=np.int32)
        for j in range(0, m, chunk):
            sc_ = score_draws(s[rows], w[:, j : j + chunk], agg.method, agg.order_weights)
            ranks[:, j : j + chunk] = rank_within(sc_)
        p[rows] = (ranks <= k).mean(axis=1)
        med[rows] = _quantile_ranks(ranks, 0.5)
        lo[rows] = _quantile_ranks(ranks, 0.05)
        hi[rows] = _quantile_ranks(ranks, 0.95)
    return pd.DataFrame(
        {"zone_id": ids, "p_top_k": p, "rank_median": med, "rank_p05": lo, "rank_p95": hi}
    )


def cell_top_share(
    prepared: Any,
    keys: Mapping[str, str],
    profile: Any,
    w: np.ndarray,
    aggregation: Any,
    *,
    share: float = CELL_TOP_SHARE,
) -> np.ndarray:
    """Per grid cell, the share of weight draws in which it is in its belt's top ``share``.

    The top of a belt in a draw is its ``ceil(share x n)`` best-scoring
    cells, where n counts the belt's scored candidate cells; cells tied
    with the last of them count as in the top too. Cells failing a
    ``min_value`` constraint, and cells outside the candidates, are NaN.

    Parameters
    ----------
    prepared : Prepared
        Grid, belt masks, candidate mask and the raw criteria table.
    keys : mapping
        Criterion name -> column key in ``prepared.table``.
    profile : Profile
    w : (k, m) array
        Weight draws (columns).
    aggregation : Aggregation

    Returns
    -------
    (h, w) float32 array
    """
    from geoplan.score import constraint_fail

    names = profile.criterion_names
    raw_by = prepared.table.cells({c: keys[c] for c in names})
    raw = np.column_stack([np.asarray(raw_by[c], dtype=float) for c in names])
    s = transform_table(raw, [pc.transform for pc in profile.criteria]).astype(np.float32)
    fail = constraint_fail(raw, [pc.min_value for pc in profile.criteria])
    del raw
    if aggregation.method == "owa":
        a, b = owa_matrices(s, aggregation.order_weights)
        mats = (a.astype(np.float32), b.astype(np.float32))
    else:
        mats = (s,)
    wt = np.ascontiguousarray(w.T, dtype=np.float32)  # (m, k)
    m = wt.shape[0]
    cell_index = prepared.cell_index
    counts = np.zeros(len(s), dtype=np.int32)
    for mask in prepared.belt_masks.values():
        idx = cell_index[mask & prepared.candidate_mask]
        idx = np.sort(idx[idx >= 0])
        idx = idx[~fail[idx]]
        n = len(idx)
        if not n:
            continue
        q = max(1, math.ceil(share * n))
        belt_mats = [np.ascontiguousarray(x[idx].T) for x in mats]  # (k, n)
        chunk = max(1, _CHUNK_BYTES // (4 * n))
        c = np.zeros(n, dtype=np.int32)
        for j in range(0, m, chunk):
            wj = wt[j : j + chunk]
            if len(belt_mats) == 1:
                sc_ = wj @ belt_mats[0]  # (mc, n)
            else:
                num = wj @ belt_mats[0]
                den = wj @ belt_mats[1]
                sc_ = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
            thr = np.partition(sc_, n - q, axis=1)[:, n - q]
            c += (sc_ >= thr[:, None]).sum(axis=0, dtype=np.int32)
        counts[idx] += c
    out_flat = (counts / max(m, 1)).astype(np.float32)
    out_flat[fail] = np.nan
    in_belt = np.zeros(len(s), dtype=bool)
    for mask in prepared.belt_masks.values():
        ix = cell_index[mask & prepared.candidate_mask]
        in_belt[ix[ix >= 0]] = True
    out_flat[~in_belt] = np.nan
    grid = np.full(prepared.candidate_mask.shape, np.nan, dtype=np.float32)
    grid[prepared.candidate_mask] = out_flat
    return grid


# --------------------------------------------------------------------------- one at a time


def _swept(w: np.ndarray, j: int, factor: float) -> np.ndarray:
    """Weights with ``w[j]`` scaled by ``factor`` (capped at 1), the others rescaled to sum 1."""
    new = min(1.0, w[j] * factor)
    rest = 1.0 - w[j]
    out = w * ((1.0 - new) / rest) if rest > 0 else np.zeros_like(w)
    out[j] = new
    if rest <= 0:  # a single weight of 1: the others share what it gives up equally
        others = [i for i in range(len(w)) if i != j]
        out[others] = (1.0 - new) / max(1, len(others))
    return out


def one_at_a_time(
    table: pd.DataFrame,
    sc: Any,
    *,
    steps: int = 11,
    span: float = 2.0,
) -> pd.DataFrame:
    """Sweep each weight from 0 to ``span`` x its value, the others rescaled proportionally.

    Parameters
    ----------
    table : DataFrame
        Candidates as for :func:`monte_carlo`.
    sc : Scenario
    steps : int
        Points of the sweep (``np.linspace(0, span, steps)`` times the weight).
    span : float
        Largest multiple of the weight (a weight never exceeds 1).

    Returns
    -------
    DataFrame
        Long table: profile, criterion, factor, weight (of the swept
        criterion), zone_id, belt, score and rank (in profile and belt;
        ordinal, ties in zone_id order).

    Examples
    --------
    >>> from geoplan.scenario import load_scenario
    >>> sc = load_scenario(None).with_profiles(["labour_intensive"])
    >>> crit = sc.profiles["labour_intensive"].criterion_names
    >>> t = pd.DataFrame({"zone_id": ["a", "b"], "profile": "labour_intensive",
    ...                   "belt": "border", "score": [1.0, 0.0],
    ...                   **{f"score_{c}": [1.0, 0.0] for c in crit}})
    >>> sorted(set(one_at_a_time(t, sc, steps=3)["rank"]))
    [1, 2]
    """
    factors = np.linspace(0.0, span, steps)
    agg = sc.aggregation
    frames = []
    for pname, prof in sc.profiles.items():
        sub = table[(table["profile"] == pname).to_numpy()].sort_values("zone_id", kind="stable")
        sub = sub[np.isfinite(sub["score"].to_numpy(dtype=float, na_value=np.nan))]
        if not len(sub):
            continue
        s = np.nan_to_num(_criterion_matrix(sub, prof), nan=0.0)
        ids = sub["zone_id"].astype(str).to_numpy()
        belts = sub["belt"].astype(str).to_numpy()
        base = np.asarray(prof.weights, dtype=float)
        for j, cname in enumerate(prof.criterion_names):
            w = np.column_stack([_swept(base, j, f) for f in factors])  # (k, steps)
            scores = score_draws(s, w, agg.method, agg.order_weights)
            ranks = np.zeros_like(scores, dtype=np.int32)
            for belt in dict.fromkeys(belts):
                rows = np.flatnonzero(belts == belt)
                ranks[rows] = rank_within(scores[rows])
            n = len(ids)
            frames.append(
                pd.DataFrame(
                    {
                        "profile": pname,
                        "criterion": cname,
                        "factor": np.tile(factors, n),
                        "weight": np.tile(w[j], n),
                        "zone_id": np.repeat(ids, len(factors)),
                        "belt": np.repeat(belts, len(factors)),
                        "score": scores.ravel(),
                        "rank": ranks.ravel(),
                    }
                )
            )
    if not frames:
        return pd.DataFrame(
            columns=["profile", "criterion", "factor", "weight", "zone_id", "belt", "score", "rank"]
        )
    return pd.concat(frames, ignore_index=True)


def plot_one_at_a_time(
    oat: pd.DataFrame,
    folder: str | Path,
    *,
    top: int = 3,
    names: Mapping[str, str] | None = None,
    stage: Any = None,
) -> dict[tuple[str, str], Path]:
    """One PNG per profile and belt: rank of the belt's top zones as each weight is swept.

    One panel per criterion (x: the weight's multiple of its scenario
    value, y: rank in the belt, 1 at the top); a line per candidate that is
    in the belt's top ``top`` at the scenario's weights. Colours are the
    Okabe-Ito colour-blind safe palette, with distinct markers too.

    Parameters
    ----------
    oat : DataFrame
        From :func:`one_at_a_time`.
    folder : path
        Where the PNGs go (``oat_<profile>_<belt>.png``).
    top : int
        Lines for the belt's top ``top`` candidates.
    names : mapping, optional
        zone_id -> legend label.
    stage : callable, optional
        ``stage(final_path) -> path to write now`` (e.g. a staging folder's
        ``lambda t: st.path(t, folder)``).

    Returns
    -------
    dict
        ``(profile, belt)`` to the PNG's final path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geoplan.outputs.publish import safe_name, unique_names

    folder = Path(folder)
    # profiles whose names slug alike ("a/b", "a_b") get distinct files, as their GeoTIFFs do
    slug = unique_names(sorted(set(oat["profile"])), fallback="profile")
    markers = "osD^vP*X"
    written: dict[tuple[str, str], Path] = {}
    for (pname, belt), g in oat.groupby(["profile", "belt"], sort=True):
        crit = list(dict.fromkeys(g["criterion"]))
        at_one = g[np.isclose(g["factor"], 1.0)]
        lead = (
            at_one[at_one["criterion"] == crit[0]].sort_values("rank")["zone_id"].head(top).tolist()
        )
        if not lead:
            continue
        ncol = min(len(crit), 3)
        nrow = math.ceil(len(crit) / ncol)
        fig, axes = plt.subplots(
            nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False, sharey=True
        )
        nmax = int(g.loc[g["zone_id"].isin(lead), "rank"].max())
        for ax, cname in zip(axes.ravel(), crit, strict=False):
            gc = g[g["criterion"] == cname]
            for i, zid in enumerate(lead):
                gz = gc[gc["zone_id"] == zid].sort_values("factor")
                ax.plot(
                    gz["factor"],
                    gz["rank"],
                    color=OKABE_ITO[i % len(OKABE_ITO)],
                    marker=markers[i % len(markers)],
                    linestyle=("-", "--", ":", "-.")[i % 4],
                    label=(names or {}).get(zid, zid),
                )
            ax.axvline(1.0, color="#999", linewidth=0.8)
            ax.set_title(cname, fontsize=9)
            ax.set_xlabel("weight / scenario weight", fontsize=8)
            ax.set_ylim(max(nmax, top + 1) + 0.5, 0.5)
            ax.yaxis.get_major_locator().set_params(integer=True)
        for ax in axes.ravel()[len(crit) :]:
            ax.axis("off")
        axes[0, 0].set_ylabel("rank in belt")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(3, len(lead)), fontsize=8)
        fig.suptitle(f"{pname} - {belt}: one weight at a time", fontsize=10)
        fig.tight_layout(rect=(0, 0.08, 1, 0.95))
        path = folder / f"oat_{slug[pname]}_{safe_name(belt)}.png"
        fig.savefig(stage(path) if stage else path, dpi=110, metadata={"Software": None})
        plt.close(fig)
        written[(pname, belt)] = path
    return written
