"""Zone growth edge cases against independent oracles (fast; part of the mutation subset).

The seed ranking (``_ordered``) is checked against a full ``np.lexsort`` of the free
cells for every window, with ties straddling the window's end; growth at the
south edge of the grid; a belt mask with no free cell in round-robin growth; and
the immutability of place names.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from geoplan import zones
from geoplan.grid import Grid
from geoplan.zones import _ordered, grow_round_robin, grow_zones, place_names

RES = 500.0
H, W = 30, 36


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid(700_000.0, 1_900_000.0, RES, W, H, "EPSG:5179")


def _oracle_order(score: np.ndarray, flat_free: np.ndarray) -> np.ndarray:
    """Free cells by score (descending), ties by row-major position: a full sort."""
    vals = score.ravel()[flat_free]
    return flat_free[np.lexsort((flat_free, -vals))]


@pytest.mark.parametrize("ties", [False, True])
def test_ordered_windows_match_a_full_sort(ties):
    rng = np.random.default_rng(7)
    score = rng.random((20, 25))
    if ties:  # few distinct values: every window's end falls inside a run of ties
        score = np.round(score * 4) / 4
    free = rng.random((20, 25)) < 0.8
    flat_free = np.flatnonzero(free)
    want = _oracle_order(score, flat_free)
    n = len(flat_free)
    for start, count in [(0, 1), (0, 7), (0, 50), (3, 5), (40, 33), (100, 64), (n - 5, 10)]:
        got = _ordered(score, flat_free, start, count)
        np.testing.assert_array_equal(got, want[start : start + count])
    assert len(_ordered(score, flat_free, n, 10)) == 0
    assert len(_ordered(score, flat_free, n + 3, 10)) == 0


def test_ordered_tie_run_across_the_window_end():
    """Ten cells tied at 0.5 with the window ending in their middle: earliest positions first."""
    score = np.zeros((1, 30))
    score[0, [25, 3, 17, 9, 28, 1, 12, 20, 6, 14]] = 0.5
    score[0, [22, 4]] = 0.9
    flat_free = np.arange(30)
    got = _ordered(score, flat_free, 0, 6)
    assert got.tolist() == [4, 22, 1, 3, 6, 9]
    assert _ordered(score, flat_free, 6, 4).tolist() == [12, 14, 17, 20]


def test_growth_at_the_south_edge_stays_on_the_grid(grid):
    r, c = np.mgrid[0:H, 0:W].astype(float)
    s = r - 0.01 * np.abs(c - 17)  # best along the last row, centred on column 17
    z = grow_zones(s, np.ones((H, W), bool), grid, n=1, target_km2=1.25, min_spacing_m=0)[0]
    assert z.seed == (H - 1, 17)
    assert set(z.rows.tolist()) == {H - 1, H - 2}
    assert sorted(z.cols[z.rows == H - 1].tolist()) == [16, 17, 18]
    assert len(z.rows) == 5


def test_round_robin_with_an_empty_mask(grid):
    """A belt with no free cell gets no zone and does not disturb the other belt."""
    r, c = np.mgrid[0:H, 0:W].astype(float)
    s = np.sin(r / 3.0) + np.cos(c / 4.0)
    west = c < W // 2
    empty = np.zeros((H, W), bool)
    got = grow_round_robin(
        s, {"none": empty, "west": west}, grid, n=3, target_km2=1.0, min_spacing_m=1000
    )
    alone = grow_zones(s, west, grid, n=3, target_km2=1.0, min_spacing_m=1000)
    assert [name for name, _ in got] == ["west", "west", "west"]
    for (_, a), b in zip(got, alone, strict=True):
        assert a.rows.tolist() == b.rows.tolist() and a.cols.tolist() == b.cols.tolist()


def test_place_names_are_immutable():
    (pn,) = place_names(np.array([[0.0, 0.0]]), np.array([[0.0, 11_000.0]]), ["Nampo"])
    assert pn.text() == "11 km S of Nampo"
    with pytest.raises(dataclasses.FrozenInstanceError):
        pn.distance_km = 0.0


def test_public_functions_take_their_parameters_by_name(grid):
    """The documented parameter names work as keywords (the keyword-only marker stays ``*``)."""
    s = np.zeros((H, W))
    s[4, 4] = 1.0
    allowed = np.ones((H, W), bool)
    kw = {"grid": grid, "n": 1, "target_km2": 0.25, "min_spacing_m": 0.0}
    (z,) = grow_zones(score=s, allowed=allowed, **kw)
    ((name, z2),) = grow_round_robin(score=s, masks={"a": allowed}, **kw)
    assert z.seed == z2.seed == (4, 4) and name == "a"
    (pn,) = place_names(
        xy=np.array([[0.0, 0.0]]), place_xy=np.array([[0.0, 0.0]]), names=["A"], names_ko=None,
        within_km=5.0,
    )  # fmt: skip
    assert pn.text() == "A"


def test_next_unblocked_looks_past_a_wholly_blocked_window():
    """Over one look-ahead window (2,048 seeds) blocked in a row: the next free seed still comes."""
    from geoplan.zones import _Seeds

    h, w = 60, 60
    score = -np.arange(h * w, dtype=float).reshape(h, w)  # seed order = flat index
    seeds = _Seeds(score, np.ones((h, w), dtype=bool), need=1)
    blocked = np.zeros(h * w, dtype=bool)
    blocked[:2100] = True
    assert seeds.next_unblocked(blocked) == 2100
    assert seeds.next_unblocked(blocked) == 2101


@pytest.mark.parametrize("reach", [0.5, 1.0, 1.5, 2.0, math.sqrt(2.0), 5.0, 8.0 + math.sqrt(2.0),
                                   10.0, 3.7])  # fmt: skip
def test_within_reach_is_scipy_edt_below_reach(reach):
    """The disc dilation marks exactly the cells scipy's exact EDT puts closer than ``reach``."""
    from scipy import ndimage

    rng = np.random.default_rng(int(reach * 1000))
    for shape, p in [((23, 31), 0.02), ((40, 17), 0.1), ((9, 9), 0.3), ((1, 12), 0.2)]:
        local = rng.random(shape) < p
        local[rng.integers(shape[0]), rng.integers(shape[1])] = True
        want = ndimage.distance_transform_edt(~local) < reach
        got = zones.within_reach(local, reach)
        assert got.dtype == bool and got.shape == shape
        np.testing.assert_array_equal(got, want)


def test_within_reach_boundary_is_strict():
    """A cell exactly ``reach`` away (3-4-5 triangle) is not blocked; one just inside is."""
    local = np.zeros((11, 11), bool)
    local[0, 0] = True
    out = zones.within_reach(local, 5.0)
    assert not out[3, 4] and not out[4, 3] and not out[5, 0] and not out[0, 5]
    assert out[4, 2] and out[0, 4] and out[2, 4]  # 4.47, 4, 4.47 < 5
    assert out.sum() == sum(1 for r in range(11) for c in range(11) if r * r + c * c < 25)


@pytest.mark.parametrize(
    ("target_km2", "cells"),
    [
        (2.625, 10),  # 10.5 cells of 0.25 km2: Python rounds half to even
        (2.6275, 11),  # 10.51 cells
        (0.1, 1),  # below one cell: still one cell
    ],
)
def test_zone_has_target_area_in_whole_cells(grid, target_km2, cells):
    """A zone holds ``round(target / cell area)`` cells (500 m cells: 0.25 km2 each), its
    area the cells' total, its scores the cells' own."""
    rng = np.random.default_rng(3)
    score = rng.random((H, W))
    (z,) = grow_zones(score, np.ones((H, W), bool), grid, n=1, target_km2=target_km2,
                      min_spacing_m=0.0)  # fmt: skip
    assert len(z.rows) == cells
    assert z.area_km2 == pytest.approx(cells * 0.25)
    vals = score[z.rows, z.cols]
    assert z.mean_score == pytest.approx(vals.mean()) and z.min_score == vals.min()
    assert z.geometry.area == pytest.approx(cells * RES * RES)
