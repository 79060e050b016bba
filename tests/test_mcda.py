"""MCDA against published worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from geoplan import ScenarioError, mcda

# Saaty (2008), "Decision making with the analytic hierarchy process",
# Int. J. Services Sciences 1(1): relative consumption of drinks in the US.
DRINKS = [
    [1, 9, 5, 2, 1, 1, 1 / 2],
    [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
    [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9],
    [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [1, 9, 4, 2, 1, 2, 1 / 2],
    [1, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [2, 9, 9, 3, 2, 3, 1],
]


def test_ahp_saaty_drinks():
    r = mcda.ahp(DRINKS)
    assert np.round(r.weights, 3).tolist() == [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]
    assert round(r.consistency_ratio, 2) == 0.02
    assert r.consistent


def test_ahp_saaty_best_city_hierarchy():
    """Saaty (2005), Theory and Applications of the ANP: choosing a city to live in.

    Published overall priorities: Bethesda .229, Boston .275, Pittsburgh .385, Santa Fe .111.
    """
    crit = [
        [1, 1 / 5, 3, 1 / 2, 5],
        [5, 1, 7, 1, 7],
        [1 / 3, 1 / 7, 1, 1 / 4, 3],
        [2, 1, 4, 1, 7],
        [1 / 5, 1 / 7, 1 / 3, 1 / 7, 1],
    ]
    local = [
        [[1, 1 / 2, 1, 1 / 2], [2, 1, 2.5, 1], [1, 1 / 2.5, 1, 1 / 2.5], [2, 1, 2.5, 1]],
        [[1, 2, 1 / 3, 4], [1 / 2, 1, 1 / 8, 2], [3, 8, 1, 9], [1 / 4, 1 / 2, 1 / 9, 1]],
        [[1, 5, 1 / 2, 2.5], [1 / 5, 1, 1 / 9, 1 / 4], [2, 9, 1, 7], [1 / 2.5, 4, 1 / 7, 1]],
        [[1, 1 / 2, 3, 4], [2, 1, 6, 8], [1 / 3, 1 / 6, 1, 1], [1 / 4, 1 / 8, 1, 1]],
        [
            [1, 1.5, 1 / 2, 4],
            [1 / 1.5, 1, 1 / 3.5, 2.5],
            [2, 3.5, 1, 9],
            [1 / 4, 1 / 2.5, 1 / 9, 1],
        ],
    ]
    cw = mcda.ahp(crit).weights
    overall = sum(w * mcda.ahp(m).weights for w, m in zip(cw, local, strict=True))
    assert np.round(overall, 3).tolist() == [0.229, 0.275, 0.385, 0.111]
    assert mcda.ahp(crit).consistency_ratio < 0.10


def test_ahp_rejects_non_reciprocal():
    with pytest.raises(ScenarioError, match=r"matrix\[0\]\[1\]: must be 1/matrix\[1\]\[0\]"):
        mcda.ahp([[1, 3], [3, 1]])


def test_ahp_flags_inconsistent():
    r = mcda.ahp([[1, 9, 1 / 9], [1 / 9, 1, 9], [9, 1 / 9, 1]])
    assert r.consistency_ratio > 0.10 and not r.consistent


def test_owa_equal_order_weights_is_weighted_sum():
    rng = np.random.default_rng(7)
    s = rng.random((200, 4))
    w = np.array([0.4, 0.3, 0.2, 0.1])
    assert np.allclose(mcda.owa(s, w, np.full(4, 0.25)), mcda.weighted_sum(s, w))
    c = mcda.owa_contributions(s, w, np.array([0.1, 0.2, 0.3, 0.4]))
    risk_averse = c.sum(axis=1)
    assert np.all(risk_averse <= mcda.owa(s, w, np.array([0.4, 0.3, 0.2, 0.1])) + 1e-12)


def test_topsis_roszkowska_example():
    """Roszkowska (2011), Multiple Criteria Decision Making 6, example 1."""
    x = [[7, 21, 4, 7], [7, 24, 6, 4], [14, 25, 3, 8], [14, 26, 9, 3], [21, 35, 4, 4]]
    c, dp, _dm = mcda.topsis(x, [0.175, 0.425, 0.175, 0.225], [True, False, True, True])
    assert np.round(c, 4).tolist() == [0.5355, 0.4349, 0.5575, 0.5170, 0.3706]
    assert np.round(dp, 4).tolist() == [0.1078, 0.1179, 0.0970, 0.1054, 0.1418]


@pytest.mark.parametrize(
    ("spec", "x", "expected"),
    [
        ({"type": "linear", "low": 0, "high": 10}, [-1, 5, 20], [0, 0.5, 1]),
        ({"type": "linear", "low": 0, "high": 10, "direction": "falling"}, [0, 2.5], [1, 0.75]),
        ({"type": "sigmoid", "midpoint": 5, "spread": 1}, [5], [0.5]),
        ({"type": "gaussian", "ideal": 3, "spread": 1}, [3, 4], [1, np.exp(-0.5)]),
        ({"type": "step", "threshold": 2}, [1, 2], [0, 1]),
        ({"type": "categorical", "mapping": {"SEZ": 1, "EDZ": 0.6}, "default": 0.1},
         ["SEZ", "EDZ", "x"], [1, 0.6, 0.1]),
    ],
)  # fmt: skip
def test_transforms(spec, x, expected):
    assert np.allclose(
        mcda.transform(np.array(x, dtype=object if spec["type"] == "categorical" else float), spec),
        expected,
    )


@pytest.mark.parametrize("n", [15, 16, 18])
def test_ahp_consistency_ratio_beyond_saatys_table(n):
    """Orders above 15 use the last tabulated random index, 1.59 (Saaty's values level off)."""
    rng = np.random.default_rng(n)
    a = np.ones((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            a[i, j] = float(rng.choice([1 / 5, 1 / 3, 1, 3, 5]))
            a[j, i] = 1.0 / a[i, j]
    lam = float(np.max(np.linalg.eigvals(a).real))
    ci = (lam - n) / (n - 1)
    r = mcda.ahp(a)
    assert r.lambda_max == pytest.approx(lam, rel=1e-9)
    assert r.consistency_index == pytest.approx(ci, rel=1e-9)
    assert r.consistency_ratio == pytest.approx(ci / 1.59, rel=1e-9)
    assert r.consistency_ratio > 0.10 and not r.consistent


def test_ahp_of_two_criteria_is_consistent_and_frozen():
    """n = 2 has no random index (Saaty's RI = 0): the consistency ratio is 0, not undefined."""
    import dataclasses

    r = mcda.ahp([[1.0, 3.0], [1.0 / 3.0, 1.0]])
    np.testing.assert_allclose(r.weights, [0.75, 0.25])
    assert r.consistency_ratio == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.consistency_ratio = 0.5
