"""Zone growth on synthetic surfaces: size, spacing, exclusions, best-first, compactness, ties.

Each property is checked with an independent oracle: cell counts, shapely
edge-to-edge distances between the zones' polygons, the surface's argmax,
and the Euclidean distance of every cell from its seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from geoplan.grid import Grid
from geoplan.zones import bearing_name, grow_round_robin, grow_zones, place_names, zone_id

RES = 500.0
H = W = 40


@pytest.fixture(scope="module")
def grid() -> Grid:
    return Grid(900_000.0, 1_950_000.0, RES, W, H, "EPSG:5179")


def _hills() -> np.ndarray:
    """Four hills of different heights, some close together, on a gentle tilt."""
    r, c = np.mgrid[0:H, 0:W].astype(float)
    s = 0.001 * c
    hills = [(10, 10, 1.0, 4), (12, 18, 0.9, 4), (30, 8, 0.8, 5), (28, 30, 0.7, 6)]
    for pr, pc, hgt, wid in hills:
        s += hgt * np.exp(-((r - pr) ** 2 + (c - pc) ** 2) / (2 * wid**2))
    return s


def _allowed() -> np.ndarray:
    a = np.ones((H, W), bool)
    a[:, 14] = False  # a river cutting the first two hills apart
    a[29:32, 6:10] = False  # a reserve on top of the third hill
    return a


def _edge_distance(z1, z2) -> float:
    return shapely.distance(z1.geometry, z2.geometry)


@pytest.mark.parametrize(("target", "cells"), [(5.1, 20), (5.2, 21), (2.0, 8), (0.1, 1)])
def test_exact_size(grid, target, cells):
    assert cells == max(1, round(target / (RES / 1000) ** 2))
    zones = grow_zones(_hills(), _allowed(), grid, n=3, target_km2=target, min_spacing_m=1000)
    assert len(zones) == 3
    for z in zones:
        assert len(z.rows) == cells
        assert len(set(zip(z.rows.tolist(), z.cols.tolist(), strict=True))) == cells
        assert z.area_km2 == pytest.approx(cells * 0.25)
        assert z.geometry.area == pytest.approx(cells * RES * RES)
        assert z.geometry.geom_type == "Polygon"  # 4-connected: one piece


@pytest.mark.parametrize("spacing", [0.0, 1000.0, 2600.0, 6000.0])
def test_spacing_edge_to_edge(grid, spacing):
    zones = grow_zones(_hills(), _allowed(), grid, n=5, target_km2=3, min_spacing_m=spacing)
    assert len(zones) >= 3
    for i in range(len(zones)):
        for j in range(i + 1, len(zones)):
            d = _edge_distance(zones[i], zones[j])
            assert d >= spacing - 1e-6, (i, j, d)
            if spacing == 0:
                assert not zones[i].geometry.overlaps(zones[j].geometry)


@pytest.mark.parametrize("spacing", [3000.0, 3200.0])
def test_spacing_is_not_overdone(grid, spacing):
    """Blocking is conservative by less than sqrt(2) cells (centre-distance bound), no more.

    Two equal plateaus 3.5 km (7 cells) apart edge to edge, centres 8 cells apart: a
    spacing s keeps both while 8 >= s / 500 m + sqrt(2), i.e. up to s = 3.29 km; a
    spacing just over 3.5 km does not.
    """
    s = np.zeros((H, W))
    s[10:12, 5:7] = 1.0  # 2x2 cells, 1 km^2
    s[10:12, 14:16] = 1.0  # cols 14-15: 7 cells = 3.5 km from cols 5-6's east edge
    zones = grow_zones(s, np.ones((H, W), bool), grid, n=2, target_km2=1.0, min_spacing_m=spacing)
    assert _edge_distance(zones[0], zones[1]) == pytest.approx(3500.0)
    assert np.all(s[zones[1].rows, zones[1].cols] == 1.0)
    zones = grow_zones(s, np.ones((H, W), bool), grid, n=2, target_km2=1.0, min_spacing_m=3501)
    assert not np.all(s[zones[1].rows, zones[1].cols] == 1.0)
    assert _edge_distance(zones[0], zones[1]) >= 3501


@pytest.mark.parametrize("flip", [False, True])
def test_spacing_at_the_grid_edge(grid, flip):
    """Good cells in the edge column, 1 km from the first zone, are blocked at 1.5 km."""
    s = np.zeros((H, W))
    s[10, 3] = 1.0  # first zone: one cell in column 3
    s[8:13, 0] = 0.9  # edge column: 1 km (2 cells) west of the first zone
    if flip:
        s = s[:, ::-1]
    zones = grow_zones(s, np.ones((H, W), bool), grid, n=2, target_km2=0.25, min_spacing_m=1500)
    assert np.all(s[zones[0].rows, zones[0].cols] == 1.0)
    assert _edge_distance(zones[0], zones[1]) >= 1500
    assert s[zones[1].seed] == 0.0


@pytest.mark.parametrize("side", ["north", "south", "west", "east"])
def test_spacing_on_every_side(side):
    """A good bar 1.5 km from the first zone is off limits at a 1.75 km spacing, on every side."""
    g = Grid(0.0, 20_000.0, 500.0, 40, 40, "EPSG:5179")
    s = np.zeros((40, 40))
    s[19:21, 19:21] = 1.0  # the first zone's 2x2 cells
    bar = {"north": (15, slice(17, 23)), "south": (24, slice(17, 23)),
           "west": (slice(17, 23), 15), "east": (slice(17, 23), 24)}[side]  # fmt: skip
    s[bar] = 0.9  # 3 cells (1.5 km) edge to edge from the zone
    zones = grow_zones(s, np.ones((40, 40), bool), g, n=2, target_km2=1.0, min_spacing_m=1750)
    assert np.all(s[zones[0].rows, zones[0].cols] == 1.0)
    assert _edge_distance(zones[0], zones[1]) >= 1750
    assert np.all(s[zones[1].rows, zones[1].cols] == 0.0)


def test_exclusions_and_unscored_cells_never_used(grid):
    s = _hills()
    s[20:25, :] = np.nan
    allowed = _allowed()
    zones = grow_zones(s, allowed, grid, n=6, target_km2=4, min_spacing_m=500)
    assert len(zones) == 6
    for z in zones:
        assert allowed[z.rows, z.cols].all()
        assert np.isfinite(s[z.rows, z.cols]).all()


def test_taken_cells_are_respected_and_updated(grid):
    s = _hills()
    taken = np.zeros((H, W), bool)
    taken[5:16, 5:14] = True  # the best hill is already used
    before = taken.copy()
    zones = grow_zones(s, np.ones((H, W), bool), grid, n=2, target_km2=2, min_spacing_m=1000)
    zt = grow_zones(s, np.ones((H, W), bool), grid, n=2, target_km2=2, min_spacing_m=1000,
                    taken=taken)  # fmt: skip
    assert not before[zt[0].rows, zt[0].cols].any()
    assert zt[0].seed != zones[0].seed
    for z in zt:
        assert taken[z.rows, z.cols].all()  # updated in place


def test_best_first(grid):
    s = _hills()
    allowed = _allowed()
    zones = grow_zones(s, allowed, grid, n=4, target_km2=3, min_spacing_m=1000)
    best = np.unravel_index(np.argmax(np.where(allowed, s, -np.inf)), s.shape)
    assert zones[0].seed == tuple(int(v) for v in best)
    assert best in set(zip(zones[0].rows.tolist(), zones[0].cols.tolist(), strict=True))
    seeds = [s[z.seed] for z in zones]
    assert seeds == sorted(seeds, reverse=True)
    for z in zones:
        vals = s[z.rows, z.cols]
        assert z.seed == (int(z.rows[0]), int(z.cols[0]))
        assert s[z.seed] == vals.max()
        assert z.mean_score == pytest.approx(vals.mean())
        assert z.min_score == pytest.approx(vals.min())


@pytest.mark.parametrize("seed", range(4))
def test_growth_takes_the_best_neighbours(grid, seed):
    """A zone is the seed plus, step by step, its best 4-connected neighbour (Prim-like)."""
    rng = np.random.default_rng(seed)
    s = rng.random((H, W))
    z = grow_zones(s, np.ones((H, W), bool), grid, n=1, target_km2=3.0, min_spacing_m=0)[0]
    r0, c0 = z.seed
    assert s[r0, c0] == s.max()
    cells = [(r0, c0)]
    rad = 1.5 * math.sqrt(12 / math.pi)
    while len(cells) < 12:  # oracle: brute-force frontier
        front = {
            (r + dr, c + dc)
            for r, c in cells
            for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1))
            if 0 <= r + dr < H and 0 <= c + dc < W and (r + dr, c + dc) not in cells
            and (r + dr - r0) ** 2 + (c + dc - c0) ** 2 <= rad * rad
        }  # fmt: skip
        cells.append(max(front, key=lambda rc: s[rc]))
    assert list(zip(z.rows.tolist(), z.cols.tolist(), strict=True)) == cells


@pytest.mark.parametrize("edges", ["west", "east", "both"])
def test_growth_at_the_grid_edge_stays_on_the_grid(grid, edges):
    """Best cells along the grid's edge: the zone runs along it and never wraps around."""
    r, c = np.mgrid[0:H, 0:W].astype(float)
    dist = {"west": c, "east": W - 1 - c, "both": np.minimum(c, W - 1 - c)}[edges]
    s = -dist - 0.01 * np.abs(r - 20)  # best along the edge(s), centred on row 20
    z = grow_zones(s, np.ones((H, W), bool), grid, n=1, target_km2=1.25, min_spacing_m=0)[0]
    edge = W - 1 if edges == "east" else 0  # both: row-major ties pick the west edge
    assert z.seed == (20, edge)
    assert z.cols.min() >= 0 and z.cols.max() <= W - 1
    # 5 cells, radius 1.89 cells: rows 19..21 of the edge column first, then the next column
    assert sorted(z.rows[z.cols == edge].tolist()) == [19, 20, 21]
    assert set(z.cols.tolist()) == {edge, 1 if edge == 0 else W - 2}
    assert shapely.within(z.geometry, shapely.box(900_000, 1_930_000, 920_000, 1_950_000))


def test_growth_at_the_north_and_south_edges_stays_on_the_grid(grid):
    r, c = np.mgrid[0:H, 0:W].astype(float)
    s = -np.minimum(r, H - 1 - r) - 0.01 * np.abs(c - 20)  # best along both edges
    z = grow_zones(s, np.ones((H, W), bool), grid, n=1, target_km2=1.25, min_spacing_m=0)[0]
    assert z.seed == (0, 20)
    assert set(z.rows.tolist()) == {0, 1}
    assert sorted(z.cols[z.rows == 0].tolist()) == [19, 20, 21]


def test_isolated_best_cell_is_skipped(grid):
    s = _hills()
    allowed = np.ones((H, W), bool)
    allowed[2:5, 36:39] = False
    allowed[3, 37] = True
    s[3, 37] = 5.0  # the global maximum, alone in a hole: too small for a zone
    zones = grow_zones(s, allowed, grid, n=1, target_km2=2, min_spacing_m=0)
    rest = np.where(allowed, s, -np.inf)
    rest[3, 37] = -np.inf
    assert zones[0].seed == tuple(int(v) for v in np.unravel_index(np.argmax(rest), s.shape))
    assert (3, 37) not in set(zip(zones[0].rows.tolist(), zones[0].cols.tolist(), strict=True))


def test_compact_along_a_ridge(grid):
    """A one-cell ridge pulls growth away; cells stay within 1.5*sqrt(cells/pi) of the seed."""
    s = np.zeros((H, W))
    s[20, 5:38] = np.linspace(1.0, 0.9, 33)
    s += 0.01 * np.random.default_rng(1).random((H, W))
    for target in (5.0, 12.5):
        need = round(target / 0.25)
        z = grow_zones(s, np.ones((H, W), bool), grid, n=1, target_km2=target, min_spacing_m=0)[0]
        r0, c0 = z.seed
        d = np.hypot(z.rows - r0, z.cols - c0)
        assert d.max() <= 1.5 * math.sqrt(need / math.pi) + 1e-9
        # and the zone is not smaller than it may be: the ridge is followed to the bound
        assert d.max() >= 1.5 * math.sqrt(need / math.pi) - 1.0


def test_deterministic_ties(grid):
    """On a flat surface the first free cell (row-major) seeds, and ties grow by position."""
    s = np.ones((H, W))
    allowed = np.ones((H, W), bool)
    allowed[0, :3] = False
    z = grow_zones(s, allowed, grid, n=2, target_km2=0.75, min_spacing_m=0)
    assert z[0].seed == (0, 3)
    assert list(zip(z[0].rows.tolist(), z[0].cols.tolist(), strict=True)) == [
        (0, 3),
        (0, 4),
        (1, 3),
    ]
    # (0, 5) touches the first zone; the conservative spacing bound leaves a one-cell gap
    assert z[1].seed == (0, 6)
    z2 = grow_zones(s, allowed, grid, n=2, target_km2=0.75, min_spacing_m=0)
    for a, b in zip(z, z2, strict=True):
        assert a.rows.tolist() == b.rows.tolist() and a.cols.tolist() == b.cols.tolist()


def test_ties_with_many_candidates_use_the_first_position(grid):
    """More tied cells than one batch: the seed is still the first tied cell in row-major order."""
    big = Grid(0.0, 200_000.0, 1000.0, 200, 200, "EPSG:5179")
    s = np.zeros((200, 200))
    s[150:, :] = 1.0
    s[199, 199] = 1.0
    z = grow_zones(s, np.ones((200, 200), bool), big, n=1, target_km2=1, min_spacing_m=0)
    assert z[0].seed == (150, 0)
    assert grid.res == RES


@pytest.mark.parametrize("free", [4097, 9000])
def test_best_first_beyond_one_batch(free):
    """More free cells than one ranking batch (4096): seeds are still the best cells in order."""
    big = Grid(0.0, 100_000.0, 1000.0, 100, 100, "EPSG:5179")
    s = np.random.default_rng(free).random((100, 100))
    allowed = np.zeros(10_000, bool)
    allowed[:free] = True
    allowed = allowed.reshape(100, 100)
    zones = grow_zones(s, allowed, big, n=3, target_km2=1, min_spacing_m=0)
    order = np.argsort(-np.where(allowed, s, -1.0), axis=None)
    assert zones[0].seed == tuple(int(v) for v in np.unravel_index(order[0], s.shape))
    seeds = [s[z.seed] for z in zones]
    assert seeds == sorted(seeds, reverse=True) and len(zones) == 3


def test_fewer_zones_when_space_runs_out(grid):
    s = _hills()
    zones = grow_zones(s, np.ones((H, W), bool), grid, n=50, target_km2=25, min_spacing_m=5000)
    assert 1 <= len(zones) < 50
    cells = sum(len(z.rows) for z in zones)
    assert cells == len(zones) * 100


# --- ids and names -------------------------------------------------------------------------


def test_zone_id_from_the_seed_centre():
    g = Grid(900_000.0, 1_900_000.0, 250.0, 10, 10, "EPSG:5179")
    # seed centre: x = 900000 + 7.5*250 = 901875, y = 1900000 - 3.5*250 = 1899125 (hm, floored)
    assert zone_id("p", "west_coast", g, (3, 7)) == "Z-p-west_coast-E09018N18991"
    g2 = Grid(50_000.0, 120_000.0, 1000.0, 10, 10, "EPSG:5179")
    assert zone_id("q", "border", g2, (0, 0)) == "Z-q-border-E00505N01195"


def test_bearing_name_sectors():
    compass = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    for deg in range(360):
        a = math.radians(deg)
        want = compass[round(deg / 45) % 8]  # integer degrees never sit on a 22.5 boundary
        assert bearing_name(100 * math.sin(a), 100 * math.cos(a)) == want, deg


def test_bearing_name_boundaries_go_clockwise():
    assert bearing_name(1.0, 0.0) == "E" and bearing_name(0.0, -1.0) == "S"
    assert bearing_name(-1.0, 0.0) == "W" and bearing_name(-1.0, -1.0) == "SW"
    assert bearing_name(math.tan(math.radians(22.4)), 1.0) == "N"
    assert bearing_name(math.tan(math.radians(22.6)), 1.0) == "NE"
    assert bearing_name(-math.tan(math.radians(22.6)), 1.0) == "NW"
    assert bearing_name(-math.tan(math.radians(22.4)), 1.0) == "N"


def test_place_names():
    y0 = 1_900_000.0
    places = np.array([[0.0, y0], [20_000.0, y0]])
    xy = np.array([[1_000.0, 1_000.0], [5_000.0, 0.0], [5_001.0, 0.0], [30_000.0, -10_000.0]])
    xy[:, 1] += y0
    pn = place_names(xy, places, ["Nampo", "Haeju"], ["남포", None], within_km=5.0)
    assert [p.place for p in pn] == ["Nampo", "Nampo", "Nampo", "Haeju"]
    assert [p.near for p in pn] == [True, True, False, False]
    assert pn[0].place_ko == "남포" and pn[3].place_ko is None
    assert pn[3].distance_km == pytest.approx(math.hypot(10_000, 10_000) / 1000)
    assert pn[3].bearing == "SE"
    assert [p.text() for p in pn] == ["Nampo", "Nampo", "5 km E of Nampo", "14 km SE of Haeju"]
    # the default: named after a place within 5 km
    pn = place_names(np.array([[4_999.0, y0], [5_001.0, y0]]), places[:1], ["Nampo"])
    assert [p.near for p in pn] == [True, False]
    with pytest.raises(ValueError, match="no places"):
        place_names(xy, np.zeros((0, 2)), [])


def _halves() -> dict[str, np.ndarray]:
    west = np.zeros((H, W), bool)
    west[:, :20] = True
    east = np.zeros((H, W), bool)
    east[:, 21:] = True
    tiny = np.zeros((H, W), bool)
    tiny[0, 39] = True  # too small for any zone: exhausted at once
    return {"tiny": tiny, "west": west, "east": east}


def test_round_robin_alternates_masks_and_keeps_spacing_across_them(grid):
    got = grow_round_robin(_hills(), _halves(), grid, n=3, target_km2=2.0, min_spacing_m=2000)
    names = [m for m, _ in got]
    # the exhausted mask never stops the others; each round takes one zone per live mask
    assert names == ["west", "east", "west", "east", "west", "east"]
    for m, z in got:
        assert _halves()[m][z.rows, z.cols].all()
    zs = [z for _, z in got]
    for i in range(len(zs)):
        for j in range(i + 1, len(zs)):
            assert _edge_distance(zs[i], zs[j]) >= 2000 - 1e-6
    # the first zone of each mask holds that mask's best cell
    s = _hills()
    for m in ("west", "east"):
        first = next(z for name, z in got if name == m)
        best = np.unravel_index(np.argmax(np.where(_halves()[m], s, -np.inf)), s.shape)
        assert best in set(zip(first.rows.tolist(), first.cols.tolist(), strict=True))


def test_round_robin_more_zones_never_change_the_first_ones(grid):
    two = grow_round_robin(_hills(), _halves(), grid, n=2, target_km2=2.0, min_spacing_m=2000)
    three = grow_round_robin(_hills(), _halves(), grid, n=3, target_km2=2.0, min_spacing_m=2000)
    assert len(two) == 4 and len(three) == 6
    for (m2, z2), (m3, z3) in zip(two, three[:4], strict=True):
        assert m2 == m3 and z2.seed == z3.seed and z2.geometry.equals(z3.geometry)


def _corridor() -> tuple[np.ndarray, np.ndarray]:
    """A corridor two cells wide whose best cell sits at its closed end.

    With 5 cells per zone (radius 1.5 * sqrt(5 / pi) = 1.89 cells) the end cell
    (2, 0) reaches only the 2 x 2 cells around it, so it fails as a seed; the
    next seed (2, 1) reaches 6 cells, (2, 0) among them.
    """
    s = np.full((6, 10), np.nan)
    s[2, :8] = [1.0, 0.9, 0.8, 0.7, 0.3, 0.3, 0.3, 0.3]
    s[3, :8] = [0.2, 0.6, 0.5, 0.4, 0.1, 0.1, 0.1, 0.1]
    return s, np.isfinite(s)


# the zone of seed (2, 1), grown best neighbour first within 1.89 cells of it (hand-worked):
# (2, 1) 0.9, then (2, 0) 1.0, (2, 2) 0.8, (3, 1) 0.6, (3, 2) 0.5; (2, 3) is 2 cells away
CORRIDOR_ZONE = {(2, 0), (2, 1), (2, 2), (3, 1), (3, 2)}


def test_a_failed_seed_can_join_a_neighbours_zone():
    """The best cell, too cramped to seed a zone, is still taken by its neighbour's zone."""
    s, allowed = _corridor()
    g = Grid(0.0, 6_000.0, 1000.0, 10, 6, "EPSG:5179")
    (z,) = grow_zones(s, allowed, g, n=1, target_km2=5, min_spacing_m=0)
    assert z.seed == (2, 1)
    assert set(zip(z.rows.tolist(), z.cols.tolist(), strict=True)) == CORRIDOR_ZONE
    assert z.mean_score == pytest.approx(np.mean([1.0, 0.9, 0.8, 0.6, 0.5]))
