"""Transforms, weights and aggregation against hand-computed values.

Data and weights are asymmetric on purpose: applying a weight or a transform
to the wrong criterion, or reading the wrong raw column, changes the numbers.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from geoplan import ScenarioError, mcda, score
from geoplan.scenario import Aggregation, Profile, ProfileCriterion

# --- transforms ----------------------------------------------------------------------------

SIG = 1.0 / (1.0 + math.exp(-1.0))  # logistic(1) = 0.7310585786


@pytest.mark.parametrize(
    ("spec", "x", "expected"),
    [
        ({"type": "linear", "low": 10, "high": 30},
         [0, 10, 15, 25, 30, 99], [0, 0, .25, .75, 1, 1]),
        ({"type": "linear", "low": 10, "high": 30, "direction": "falling"},
         [0, 15, 25, 40], [1, .75, .25, 0]),
        ({"type": "linear", "low": 100, "high": 0}, [0, 25, 100], [1, .75, 0]),
        ({"type": "sigmoid", "midpoint": 5, "spread": 2}, [5, 7, 3], [.5, SIG, 1 - SIG]),
        ({"type": "sigmoid", "midpoint": 5, "spread": 2, "direction": "falling"},
         [7, 3], [1 - SIG, SIG]),
        ({"type": "sigmoid", "midpoint": 0, "spread": 1}, [1e6, -1e6], [1, 0]),
        ({"type": "gaussian", "ideal": 3, "spread": 2}, [3, 5, 1, 7],
         [1, math.exp(-.5), math.exp(-.5), math.exp(-2)]),
        ({"type": "step", "threshold": 2}, [1.999, 2, 3], [0, 1, 1]),
        ({"type": "step", "threshold": 2, "direction": "falling"}, [1, 2, 3], [1, 0, 0]),
    ],
)  # fmt: skip
def test_numeric_transforms(spec, x, expected):
    np.testing.assert_allclose(mcda.transform(np.array(x, float), spec), expected, atol=1e-12)


def test_nan_stays_nan_then_scores_zero():
    for spec in (
        {"type": "linear", "low": 0, "high": 1},
        {"type": "linear", "low": 0, "high": 1, "direction": "falling"},
        {"type": "step", "threshold": 0},
        {"type": "step", "threshold": 0, "direction": "falling"},
        {"type": "sigmoid", "midpoint": 0, "spread": 1},
    ):
        assert np.isnan(mcda.transform(np.array([np.nan]), spec)[0]), spec
        assert score.transform_table(np.array([[np.nan]]), [spec])[0, 0] == 0.0


def test_categorical_numeric_keys_compare_by_value():
    spec = {
        "type": "categorical",
        "mapping": {1: 0.2, "2": 0.7, 3.5: 1.0, "SEZ": 0.9},
        "default": 0.1,
    }
    x = np.array([1.0, "1", 2, 2.0, "3.5", 3.5, "SEZ", 4, np.nan, None], dtype=object)
    expected = [0.2, 0.2, 0.7, 0.7, 1.0, 1.0, 0.9, 0.1, 0.1, 0.1]
    np.testing.assert_allclose(mcda.transform(x, spec), expected)
    assert mcda.transform(np.array([7]), {"type": "categorical", "mapping": {}}).tolist() == [0.0]


def test_unknown_transform_is_a_scenario_error():
    with pytest.raises(ScenarioError, match=r"transform\.type: unknown 'cubic'"):
        mcda.transform(np.zeros(1), {"type": "cubic"})


def test_transform_table_applies_each_transform_to_its_column_and_clips():
    raw = np.array([[0.0, 50.0, 2.0], [10.0, 0.0, 5.0], [5.0, 200.0, 3.0]])
    t = [
        {"type": "linear", "low": 0, "high": 10},
        {"type": "linear", "low": 0, "high": 100, "direction": "falling"},
        {"type": "gaussian", "ideal": 3, "spread": 1},
    ]
    e = math.exp(-0.5)
    want = [[0.0, 0.5, e], [1.0, 1.0, math.exp(-2)], [0.5, 0.0, 1.0]]
    np.testing.assert_allclose(score.transform_table(raw, t), want)
    assert score.transform_table(np.zeros((4, 0)), []).shape == (4, 0)


def test_transform_table_clips_categorical_scores_outside_0_1():
    """A categorical mapping may give any number; the table keeps scores within [0, 1]."""
    raw = np.array([[1.0], [2.0], [3.0], [4.0]])
    t = [{"type": "categorical", "mapping": {1: 1.5, 2: -0.5, 3: 0.25}, "default": -2.0}]
    np.testing.assert_array_equal(score.transform_table(raw, t)[:, 0], [1.0, 0.0, 0.25, 0.0])


# --- weighted sum and OWA ------------------------------------------------------------------

S = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.2, 0.9, 0.5]])
W = np.array([0.5, 0.3, 0.2])


def test_weighted_sum_puts_each_weight_on_its_criterion():
    np.testing.assert_allclose(score.aggregate(S, W), [0.5, 0.3, 0.2, 0.1 + 0.27 + 0.1])
    np.testing.assert_allclose(mcda.weighted_sum(S, W), [0.5, 0.3, 0.2, 0.47])
    c = score.contributions(S, W)
    np.testing.assert_allclose(c[3], [0.1, 0.27, 0.1])
    np.testing.assert_allclose(c.sum(axis=1), score.aggregate(S, W))


def test_many_weight_sets_at_once():
    w2 = np.column_stack([W, [0.1, 0.1, 0.8], [1 / 3] * 3])
    got = score.aggregate(S, w2)
    assert got.shape == (4, 3)
    for j in range(3):
        np.testing.assert_allclose(got[:, j], S @ w2[:, j])
    got_owa = score.aggregate(S, w2, "owa", [0.6, 0.3, 0.1])
    for j in range(3):
        np.testing.assert_allclose(
            got_owa[:, j], score.aggregate(S, w2[:, j], "owa", [0.6, 0.3, 0.1])
        )


def test_owa_yager_worked_example():
    """Yager (1988): W = (0.4, 0.3, 0.2, 0.1), arguments (0.7, 1, 0.2, 0.6) -> 0.75."""
    s = np.array([[0.7, 1.0, 0.2, 0.6]])
    v = [0.4, 0.3, 0.2, 0.1]
    eq = np.full(4, 0.25)
    assert score.aggregate(s, eq, "owa", v)[0] == pytest.approx(0.75)
    assert mcda.owa(s, eq, np.array(v))[0] == pytest.approx(0.75)
    # max and min as the extreme order weights; the mean for equal order weights
    assert score.aggregate(s, eq, "owa", [1, 0, 0, 0])[0] == pytest.approx(1.0)
    assert score.aggregate(s, eq, "owa", [0, 0, 0, 1])[0] == pytest.approx(0.2)
    assert score.aggregate(s, eq, "owa", [0.25] * 4)[0] == pytest.approx(0.625)


def test_owa_with_criterion_weights_by_hand():
    """s = (0.2, 0.9, 0.5), w = (0.5, 0.3, 0.2), v = (0.6, 0.3, 0.1).

    Descending order: criterion 1 (v .6), criterion 2 (v .3), criterion 0 (v .1).
    u = w*v = (.05, .18, .06) / .29; score = (.01 + .162 + .03) / .29.
    """
    s = np.array([[0.2, 0.9, 0.5]])
    v = [0.6, 0.3, 0.1]
    a, b = score.owa_matrices(s, v)
    np.testing.assert_allclose(b, [[0.1, 0.6, 0.3]])
    np.testing.assert_allclose(a, [[0.02, 0.54, 0.15]])
    want = 0.202 / 0.29
    assert score.aggregate(s, W, "owa", v)[0] == pytest.approx(want)
    assert mcda.owa(s, W, np.array(v))[0] == pytest.approx(want)
    c = score.contributions(s, W, "owa", v)
    np.testing.assert_allclose(c, [[0.01 / 0.29, 0.162 / 0.29, 0.03 / 0.29]])
    np.testing.assert_allclose(mcda.owa_contributions(s, W, np.array(v)), c)


def test_owa_matrices_ties_are_stable_and_zero_weights_score_zero():
    _, b = score.owa_matrices(np.array([[0.5, 0.5, 0.1]]), [0.7, 0.2, 0.1])
    np.testing.assert_allclose(b, [[0.7, 0.2, 0.1]])
    # order weights all on a criterion with zero weight: no information, score 0 (not NaN)
    s = np.array([[0.9, 0.1]])
    assert score.aggregate(s, np.array([0.0, 1.0]), "owa", [1.0, 0.0])[0] == 0.0
    assert score.contributions(s, np.array([0.0, 1.0]), "owa", [1.0, 0.0]).tolist() == [[0, 0]]


def test_owa_contributions_sum_to_the_score_random():
    rng = np.random.default_rng(0)
    s = rng.random((50, 4))
    w = np.array([0.4, 0.1, 0.3, 0.2])
    v = [0.5, 0.25, 0.15, 0.1]
    np.testing.assert_allclose(
        score.contributions(s, w, "owa", v).sum(axis=1), score.aggregate(s, w, "owa", v)
    )
    np.testing.assert_allclose(score.aggregate(s, w, "owa", v), mcda.owa(s, w, np.array(v)))


def test_aggregate_rejects_unknown_method():
    with pytest.raises(ValueError, match="aggregation 'max'"):
        score.aggregate(S, W, "max")
    with pytest.raises(ValueError, match="aggregation 'owa'"):
        score.aggregate(S, W, "owa")
    with pytest.raises(ScenarioError, match="order_weights: need 3 values, got 2"):
        mcda.owa_contributions(S, W, np.array([0.5, 0.5]))


# --- score_profile -------------------------------------------------------------------------


def _profile(weights, min_values=(None, None, None)) -> Profile:
    t = [
        {"type": "linear", "low": 0, "high": 100},  # a: rising over 0..100
        {"type": "linear", "low": 0, "high": 10, "direction": "falling"},  # b: falling over 0..10
        {"type": "step", "threshold": 5},  # c
    ]
    crit = tuple(
        ProfileCriterion(n, tr, w, mv)
        for n, tr, w, mv in zip("abc", t, weights, min_values, strict=True)
    )
    return Profile("p", "", crit, np.asarray(weights, float))


RAW = {  # in an order different from the profile's, so a positional mix-up fails
    "c": np.array([9.0, 0.0, 5.0, 4.0]),
    "zz": np.array([1.0, 1.0, 1.0, 1.0]),
    "b": np.array([0.0, 10.0, 2.5, np.nan]),
    "a": np.array([100.0, 20.0, 50.0, 80.0]),
}


def test_score_profile_by_hand():
    ps = score.score_profile(_profile([0.5, 0.3, 0.2]), RAW, Aggregation())
    assert ps.criteria == ["a", "b", "c"]
    np.testing.assert_array_equal(ps.raw[:, 0], RAW["a"])
    want_s = [[1.0, 1.0, 1.0], [0.2, 0.0, 0.0], [0.5, 0.75, 1.0], [0.8, 0.0, 0.0]]
    np.testing.assert_allclose(ps.transformed, want_s)
    np.testing.assert_allclose(ps.score, [1.0, 0.1, 0.25 + 0.225 + 0.2, 0.4])
    np.testing.assert_allclose(ps.contributions.sum(axis=1), ps.score)
    np.testing.assert_allclose(ps.contributions[2], [0.25, 0.225, 0.2])


def test_score_profile_weights_override_and_owa():
    p = _profile([0.5, 0.3, 0.2])
    ps = score.score_profile(p, RAW, Aggregation(), weights=np.array([0.1, 0.1, 0.8]))
    np.testing.assert_allclose(ps.score, [1.0, 0.02, 0.05 + 0.075 + 0.8, 0.08])
    np.testing.assert_allclose(ps.weights, [0.1, 0.1, 0.8])
    owa = Aggregation("owa", (0.6, 0.3, 0.1))
    ps = score.score_profile(p, RAW, owa)
    s = np.array([[0.5, 0.75, 1.0]])  # row 2: c (v .6), b (v .3), a (v .1)
    want = (0.5 * 0.1 * 0.5 + 0.75 * 0.3 * 0.3 + 1.0 * 0.6 * 0.2) / (0.05 + 0.09 + 0.12)
    assert ps.score[2] == pytest.approx(want)
    np.testing.assert_allclose(
        ps.score, score.aggregate(ps.transformed, p.weights, "owa", owa.order_weights)
    )
    assert s.shape == (1, 3)


def test_score_profile_min_value_nan_exactly_where_failing():
    p = _profile([0.5, 0.3, 0.2], min_values=(50.0, None, None))
    ps = score.score_profile(p, RAW, Aggregation())
    # a = 100, 20, 50, 80: 20 fails; 50 (equal to the minimum) passes
    assert np.isnan(ps.score).tolist() == [False, True, False, False]
    assert ps.score[2] == pytest.approx(0.675)
    # a missing raw value fails a min_value too
    p = _profile([0.5, 0.3, 0.2], min_values=(None, 1.0, 0.0))
    ps = score.score_profile(p, RAW, Aggregation())
    assert np.isnan(ps.score).tolist() == [True, False, False, True]


def test_constraint_fail():
    raw = np.array([[1.0, 5.0], [3.0, np.nan], [2.0, 0.0]])
    assert score.constraint_fail(raw, [2.0, None]).tolist() == [True, False, False]
    assert score.constraint_fail(raw, [None, 0.0]).tolist() == [False, True, False]
    assert score.constraint_fail(raw, [None, None]).tolist() == [False, False, False]


# --- weights -------------------------------------------------------------------------------


def test_normalise_weights():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(mcda.normalise_weights([0.5, 0.25, 0.25]), [0.5, 0.25, 0.25])
    with pytest.warns(UserWarning, match="sum to 2, not 1"):
        np.testing.assert_allclose(mcda.normalise_weights([1, 1]), [0.5, 0.5])
    with pytest.warns(UserWarning, match="sum to 4, not 1"):
        np.testing.assert_allclose(mcda.normalise_weights([2, 1, 1]), [0.5, 0.25, 0.25])
    with pytest.raises(ScenarioError, match="w: must be finite and >= 0"):
        mcda.normalise_weights([1, -1], where="w")
    with pytest.raises(ScenarioError, match="must not all be 0"):
        mcda.normalise_weights([0, 0])


def test_normalise_weights_warning_points_at_the_caller():
    with pytest.warns(UserWarning) as rec:
        mcda.normalise_weights([1, 1])
    assert rec[0].filename == __file__


def test_topsis_degenerate_inputs():
    """An all-zero criterion changes nothing; identical alternatives all score 0 (not NaN)."""
    x = np.array([[7.0, 21, 4], [7, 24, 6], [14, 25, 3]])
    w = np.array([0.3, 0.5, 0.2])
    c, _, _ = mcda.topsis(x, w, [True, False, True])
    c0, _, _ = mcda.topsis(
        np.column_stack([x, np.zeros(3)]), np.append(w, 0.4), [True, False, True, True]
    )
    np.testing.assert_allclose(c0, c)
    same, dp, dm = mcda.topsis(np.ones((3, 2)), np.array([0.5, 0.5]), [True, True])
    assert same.tolist() == [0.0, 0.0, 0.0] and dp.tolist() == dm.tolist() == [0.0, 0.0, 0.0]


def test_ahp_consistent_matrix_by_hand():
    r = mcda.ahp([[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]])
    np.testing.assert_allclose(r.weights, [4 / 7, 2 / 7, 1 / 7])
    assert r.lambda_max == pytest.approx(3.0)
    assert abs(r.consistency_index) < 1e-9 and r.consistent
    r2 = mcda.ahp([[1, 3], [1 / 3, 1]])
    np.testing.assert_allclose(r2.weights, [0.75, 0.25])
    assert r2.consistency_ratio == 0.0 and r2.consistency_index == 0.0 and r2.lambda_max == 2.0
    assert mcda.ahp([[1]]).weights.tolist() == [1.0]


# Saaty's random index, as published (Saaty 1980, extended table).
SAATY_RI = {3: 0.58, 4: 0.90, 5: 1.12, 6: 1.24, 7: 1.32, 8: 1.41, 9: 1.45, 10: 1.49,
            11: 1.51, 12: 1.48, 13: 1.56, 14: 1.57, 15: 1.59}  # fmt: skip


@pytest.mark.parametrize("n", sorted(SAATY_RI))
def test_ahp_consistency_ratio_uses_saatys_random_index(n):
    a = np.ones((n, n))
    a[0, 1:] = 3.0
    a[1:, 0] = 1 / 3
    a[1, 2], a[2, 1] = 1 / 5, 5.0  # an inconsistency
    lam = max(np.linalg.eigvals(a).real)
    ci = (lam - n) / (n - 1)
    r = mcda.ahp(a)
    assert r.lambda_max == pytest.approx(lam)
    assert r.consistency_index == pytest.approx(ci)
    assert r.consistency_ratio == pytest.approx(ci / SAATY_RI[n])
    assert r.consistent == (ci / SAATY_RI[n] <= 0.10)


def test_ahp_consistent_boundary():
    assert mcda.AHPResult(np.ones(3) / 3, 3.0, 0.0, 0.10).consistent
    assert not mcda.AHPResult(np.ones(3) / 3, 3.0, 0.0, 0.1001).consistent


def test_ahp_rejects_bad_matrices():
    with pytest.raises(ScenarioError, match="must be square"):
        mcda.ahp([[1, 2, 3], [0.5, 1, 2]])
    with pytest.raises(ScenarioError, match="must be square"):
        mcda.ahp(np.empty((0, 0)))
    # reciprocity is checked to 0.1 %: 3 and 0.3334 pass, 3 and 0.34 do not
    np.testing.assert_allclose(mcda.ahp([[1, 3], [0.3334, 1]]).weights, [0.75, 0.25], atol=1e-4)
    with pytest.raises(
        ScenarioError, match=r"ahp matrix\[0\]\[1\]: must be 1/matrix\[1\]\[0\] = 2\.941, got 3$"
    ):
        mcda.ahp([[1, 3], [0.34, 1]])
    with pytest.raises(ScenarioError, match="every entry must be a positive number"):
        mcda.ahp([[1, 0], [0, 1]])


def test_public_functions_take_their_parameters_by_name():
    """The documented parameter names work as keywords (the keyword-only marker stays ``*``)."""
    ps = score.score_profile(
        profile=_profile([0.5, 0.3, 0.2]), raw=RAW, aggregation=Aggregation(), weights=None
    )
    np.testing.assert_allclose(ps.score, [1.0, 0.1, 0.675, 0.4])
    np.testing.assert_allclose(mcda.normalise_weights(weights=[0.5, 0.5], where="w"), [0.5, 0.5])


def test_score_cells_in_chunks_is_score_profile_bit_for_bit():
    """Chunked scoring (bounded memory at 100 m) gives exactly the one-piece scores."""
    rng = np.random.default_rng(7)
    n = 10_007  # not a multiple of the chunk: a short last chunk
    raw = {"a": rng.uniform(0, 60_000, n), "b": rng.uniform(2, 30, n), "c": rng.uniform(-5, 9, n)}
    raw["b"][::97] = np.nan  # no value: transformed to 0, fails b's min_value
    trs = [{"type": "linear", "low": 0, "high": 50_000, "direction": "falling"},
           {"type": "sigmoid", "midpoint": 12, "spread": 3},
           {"type": "gaussian", "ideal": 2, "spread": 4}]  # fmt: skip
    crit = tuple(ProfileCriterion(k, t, 1.0, mv) for k, t, mv in zip("abc", trs, (None, 1.0, None),
                                                                        strict=True))  # fmt: skip
    p = Profile("p", "", crit, np.array([0.45, 0.35, 0.2]))
    whole = score.score_profile(p, raw, Aggregation()).score
    got = score.score_cells(p, raw, Aggregation(), chunk=1000)
    assert np.array_equal(got, whole, equal_nan=True)
    assert np.isnan(got[::97]).all() and np.isfinite(got[1::97]).all()
    # and against a hand-written weighted sum of the transforms
    t = np.column_stack(
        [np.nan_to_num(mcda.transform(raw[k], tr)) for k, tr in zip("abc", trs, strict=True)]
    )
    ok = np.isfinite(got)
    assert np.allclose(got[ok], (t @ np.array([0.45, 0.35, 0.2]))[ok], atol=1e-12)
