"""Weight sensitivity: draws, ranks, probabilities, per-cell share, sweep and the CLI."""

from __future__ import annotations

import itertools
import types

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.stats import rankdata

from geoplan import mcda
from geoplan import sensitivity as S
from geoplan.scenario import load_scenario
from geoplan.score import aggregate, transform_table

PROFILE = "labour_intensive"


def _scenario(**overrides):
    return load_scenario(None, overrides=overrides or None).with_profiles([PROFILE])


def _table(sc, s, belts, ids=None, scores=None):
    prof = sc.profiles[PROFILE]
    n = len(s)
    ids = ids or [f"Z-{i:03d}" for i in range(n)]
    data = {
        "zone_id": ids,
        "profile": PROFILE,
        "belt": belts,
        "kind": "zone",
        "score": s @ prof.weights if scores is None else scores,
    }
    data.update({f"score_{c}": s[:, j] for j, c in enumerate(prof.criterion_names)})
    return pd.DataFrame(data)


# --------------------------------------------------------------------------- weight draws


def test_dirichlet_mean_and_sd_match_the_weights():
    w = np.array([0.35, 0.3, 0.2, 0.1, 0.05])
    alpha, n = 100.0, 40_000
    d = S.dirichlet_draws(w, alpha, n, np.random.default_rng(1))
    assert d.shape == (5, n)
    np.testing.assert_allclose(d.sum(axis=0), 1.0)
    sd = np.sqrt(w * (1 - w) / (alpha + 1))  # Dirichlet marginal: Beta(a w, a (1 - w))
    assert np.all(np.abs(d.mean(axis=1) - w) < 4 * sd / np.sqrt(n))
    np.testing.assert_allclose(d.std(axis=1), sd, rtol=0.03)
    assert abs(sd[0] - 0.0475) < 5e-4  # the figure docs/sensitivity.md quotes


def test_scenario_draws_are_seeded_and_centred_on_the_profile_weights():
    sc = _scenario()
    prof = sc.profiles[PROFILE]
    a, rej = S.weight_draws(prof, sc.sensitivity, 5000, seed=7)
    b, _ = S.weight_draws(prof, sc.sensitivity, 5000, seed=7)
    c, _ = S.weight_draws(prof, sc.sensitivity, 5000, seed=8)
    assert rej == 0
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    np.testing.assert_allclose(a.mean(axis=1), prof.weights, atol=0.003)


def _neighbour_oracle(matrix, p):
    """Every one-step perturbation of a 3x3 matrix: its probability, CR and weights."""
    a = np.asarray(matrix, dtype=float)
    iu = np.triu_indices(3, 1)
    scale = list(S.SAATY_SCALE)
    base = [int(np.argmin(np.abs(np.log(scale) - np.log(v)))) for v in a[iu]]
    out = []
    for steps in itertools.product((-1, 0, 1), repeat=3):
        prob = np.prod([(1 - p) if st == 0 else p / 2 for st in steps])
        m = np.ones((3, 3))
        for (i, j), b, st in zip(zip(*iu, strict=True), base, steps, strict=True):
            v = scale[b + st] if st else a[i, j]
            m[i, j], m[j, i] = v, 1 / v
        r = mcda.ahp(m)
        out.append((prob, r.consistency_ratio, r.weights))
    return out


def test_ahp_draws_reject_inconsistent_perturbations_at_the_oracle_rate():
    # CR 0.081: consistent, but many one-step neighbours are not
    matrix = [[1, 5, 2], [1 / 5, 1, 1], [1 / 2, 1, 1]]
    base = mcda.ahp(matrix)
    assert 0.05 < base.consistency_ratio <= 0.10
    p = 0.6
    oracle = _neighbour_oracle(matrix, p)
    bad = sum(pr for pr, cr, _ in oracle if cr > 0.10)
    assert bad > 0.1
    n = 4000
    w, rejected = S.ahp_draws(matrix, p, n, np.random.default_rng(3))
    assert w.shape == (3, n) and rejected > 0
    share = rejected / (rejected + n)
    assert abs(share - bad) < 4 * np.sqrt(bad * (1 - bad) / (rejected + n))
    good = np.array([wt for _, cr, wt in oracle if cr <= 0.10])
    # every accepted draw is the weight vector of a consistent neighbour
    dist = np.abs(w.T[:, None, :] - good[None, :, :]).max(axis=2).min(axis=1)
    assert dist.max() < 1e-9


def test_ahp_draws_without_steps_return_the_ahp_weights():
    matrix = [[1, 2, 4], [1 / 2, 1, 2], [1 / 4, 1 / 2, 1]]
    w, rejected = S.ahp_draws(matrix, 0.0, 10, np.random.default_rng(0))
    assert rejected == 0
    np.testing.assert_allclose(w, np.tile([[4 / 7], [2 / 7], [1 / 7]], 10), atol=1e-9)


def test_default_ahp_profile_counts_rejections_in_the_summary():
    sc = load_scenario(None).with_profiles(["port_logistics"])
    prof = sc.profiles["port_logistics"]
    crit = prof.criterion_names
    s = np.random.default_rng(0).random((6, len(crit)))
    t = pd.DataFrame(
        {"zone_id": [f"z{i}" for i in range(6)], "profile": "port_logistics", "belt": "border"}
        | {"score": s @ prof.weights}
        | {f"score_{c}": s[:, j] for j, c in enumerate(crit)}
    )
    res = S.monte_carlo(t, sc, draws=300, seed=1)
    assert res.weights["port_logistics"].shape == (4, 300)
    assert res.summary["rejected_ahp_draws"]["port_logistics"] >= 0
    assert res.summary["draws"] == 300 and res.summary["seed"] == 1


# --------------------------------------------------------------------------- scores and ranks


@pytest.mark.parametrize("method", ["weighted_sum", "owa"])
def test_matrix_scores_equal_aggregate_draw_by_draw(method):
    rng = np.random.default_rng(5)
    s = rng.random((40, 4))
    w = S.dirichlet_draws([0.4, 0.3, 0.2, 0.1], 20, 9, rng)
    ow = [0.4, 0.3, 0.2, 0.1] if method == "owa" else None
    got = S.score_draws(s, w, method, ow)
    for j in range(w.shape[1]):  # oracle loop, test only
        np.testing.assert_allclose(got[:, j], aggregate(s, w[:, j], method, ow), rtol=1e-12)


def test_ranks_are_ordinal_with_ties_in_row_order():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 4, size=(12, 30)).astype(float)  # many ties
    got = S.rank_within(scores)
    for j in range(scores.shape[1]):
        np.testing.assert_array_equal(got[:, j], rankdata(-scores[:, j], method="ordinal"))


def test_monte_carlo_table_matches_a_per_draw_oracle():
    sc = _scenario(**{"sensitivity.top_k": 2})
    prof = sc.profiles[PROFILE]
    rng = np.random.default_rng(11)
    n = 14
    s = rng.random((n, len(prof.weights)))
    belts = ["west_coast"] * 6 + ["border"] * 5 + ["inland"] * 3
    t = _table(sc, s, belts).sample(frac=1, random_state=1)  # order of rows must not matter
    res = S.monte_carlo(t, sc, draws=400, seed=4)
    w = res.weights[PROFILE]
    np.testing.assert_allclose(w.mean(axis=1), prof.weights, atol=0.01)
    ranks = np.zeros((n, w.shape[1]))
    for j in range(w.shape[1]):  # oracle: pandas ranks of aggregate's scores per draw
        df = pd.DataFrame({"id": range(n), "belt": belts, "score": aggregate(s, w[:, j])})
        df = df.sort_values(["score", "id"], ascending=[False, True])
        df["r"] = df.groupby("belt").cumcount() + 1
        ranks[df["id"].to_numpy(), j] = df["r"].to_numpy()
    got = res.table.set_index("zone_id").loc[[f"Z-{i:03d}" for i in range(n)]]
    np.testing.assert_allclose(got["p_top_k"], (ranks <= 2).mean(axis=1))
    for col, q in (("rank_median", 50), ("rank_p05", 5), ("rank_p95", 95)):
        want = [np.percentile(r, q, method="inverted_cdf") for r in ranks]
        np.testing.assert_array_equal(got[col].to_numpy(), want)


def test_dominant_zone_is_always_first():
    sc = _scenario(**{"sensitivity.top_k": 1})
    rng = np.random.default_rng(0)
    s = rng.random((8, 5)) * 0.9
    s[3] = s.max(axis=0) + 0.05  # >= every other zone on every criterion
    t = _table(sc, s, ["east_coast"] * 8)
    res = S.monte_carlo(t, sc, draws=2000, seed=0).table.set_index("zone_id")
    assert res.loc["Z-003", "p_top_k"] == 1.0
    assert res.loc["Z-003", ["rank_median", "rank_p05", "rank_p95"]].tolist() == [1, 1, 1]
    assert res.drop(index="Z-003")["p_top_k"].max() == 0.0


def test_tie_goes_to_the_lower_zone_id_in_every_draw():
    sc = _scenario(**{"sensitivity.top_k": 1})
    s = np.array([[0.5, 0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5, 0.5], [0.1] * 5])
    t = _table(sc, s, ["border"] * 3, ids=["Z-b", "Z-a", "Z-c"])
    res = S.monte_carlo(t, sc, draws=100, seed=0).table.set_index("zone_id")
    assert res.loc["Z-a", "p_top_k"] == 1.0 and res.loc["Z-b", "p_top_k"] == 0.0
    assert res.loc["Z-b", "rank_median"] == 2 and res.loc["Z-c", "rank_p05"] == 3


def test_unscored_candidates_get_no_probability():
    sc = _scenario()
    s = np.random.default_rng(1).random((4, 5))
    scores = s @ sc.profiles[PROFILE].weights
    scores[1] = np.nan  # a min_value constraint failed
    t = _table(sc, s, ["border"] * 4, scores=scores)
    res = S.monte_carlo(t, sc, draws=50, seed=0).table.set_index("zone_id")
    assert np.isnan(res.loc["Z-001", "p_top_k"])
    assert res["rank_p95"].max() == 3  # three scored candidates share the ranks


# --------------------------------------------------------------------------- per-cell share


def test_cell_share_matches_a_per_draw_oracle():
    sc = _scenario()
    prof = sc.profiles[PROFILE]
    rng = np.random.default_rng(9)
    h, wd = 12, 15
    cand = rng.random((h, wd)) < 0.8
    n = int(cand.sum())
    names = prof.criterion_names
    raw = {c: rng.random(n) * 1e6 for c in names}  # raw values; transforms map them to 0..1
    west = np.zeros((h, wd), bool)
    west[:, :7] = True
    belt_masks = {"west_coast": west, "border": ~west}
    table = types.SimpleNamespace(cells=lambda keys: {c: raw[k] for c, k in keys.items()})
    prep = types.SimpleNamespace(
        table=table,
        belt_masks=belt_masks,
        candidate_mask=cand,
        cell_index=np.where(cand, np.cumsum(cand).reshape(h, wd) - 1, -1),
    )
    w = S.dirichlet_draws(prof.weights, 50, 60, rng)
    got = S.cell_top_share(prep, {c: c for c in names}, prof, w, sc.aggregation)
    s_cells = transform_table(
        np.column_stack([raw[c] for c in names]), [pc.transform for pc in prof.criteria]
    )
    flat_belt = {b: m[cand] for b, m in belt_masks.items()}
    hits = np.zeros(n)
    for j in range(w.shape[1]):  # oracle loop
        sc_ = aggregate(s_cells, w[:, j])
        for m in flat_belt.values():
            v = sc_[m]
            q = int(np.ceil(0.05 * len(v)))
            thr = np.sort(v)[::-1][q - 1]
            hits[np.flatnonzero(m)[v >= thr - 1e-6]] += 1
    want = np.full((h, wd), np.nan)
    want[cand] = hits / w.shape[1]
    np.testing.assert_allclose(got, want, atol=1e-9, equal_nan=True)
    assert got.dtype == np.float32 and np.isnan(got[~cand]).all()


# --------------------------------------------------------------------------- one at a time


def test_one_at_a_time_keeps_weights_summing_to_one_and_matches_base_ranks():
    sc = _scenario()
    prof = sc.profiles[PROFILE]
    s = np.random.default_rng(4).random((7, 5))
    t = _table(sc, s, ["border"] * 4 + ["west_coast"] * 3)
    oat = S.one_at_a_time(t, sc, steps=11)
    assert len(oat) == 5 * 11 * 7
    for j, c in enumerate(prof.criterion_names):
        g = oat[(oat["criterion"] == c) & (oat["zone_id"] == "Z-000")].sort_values("factor")
        np.testing.assert_allclose(
            g["weight"], np.minimum(1, np.linspace(0, 2, 11) * prof.weights[j])
        )
        # the swept point at 2x: the other weights shrink in proportion
        f = 2.0
        wj = min(1.0, f * prof.weights[j])
        w = prof.weights * (1 - wj) / (1 - prof.weights[j])
        w[j] = wj
        np.testing.assert_allclose(g["score"].iloc[-1], s[0] @ w)
    at1 = oat[np.isclose(oat["factor"], 1.0) & (oat["criterion"] == prof.criterion_names[0])]
    for belt, g in at1.groupby("belt"):
        base = t[t["belt"] == belt].sort_values(["score", "zone_id"], ascending=[False, True])
        assert g.sort_values("rank")["zone_id"].tolist() == base["zone_id"].tolist()


def test_oat_plots_one_png_per_belt(tmp_path):
    sc = _scenario()
    s = np.random.default_rng(4).random((7, 5))
    t = _table(sc, s, ["border"] * 4 + ["west_coast"] * 3)
    written = S.plot_one_at_a_time(S.one_at_a_time(t, sc, steps=5), tmp_path)
    assert sorted(written) == [(PROFILE, "border"), (PROFILE, "west_coast")]
    for p in written.values():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_oat_plots_of_profiles_that_slug_alike_are_distinct(tmp_path):
    """Profiles 'x/y' and 'x_y' (one slug): one PNG each per belt, none overwritten."""
    sc = _scenario()
    s = np.random.default_rng(4).random((7, 5))
    oat = S.one_at_a_time(_table(sc, s, ["border"] * 4 + ["west_coast"] * 3), sc, steps=5)
    both = pd.concat([oat.assign(profile="x/y"), oat.assign(profile="x_y")], ignore_index=True)
    written = S.plot_one_at_a_time(both, tmp_path)
    assert len(written) == 4 and len(set(written.values())) == 4
    assert sorted(p.name for p in tmp_path.glob("oat_*.png")) == sorted(
        p.name for p in written.values()
    )


# --------------------------------------------------------------------------- CLI


def _cli(out, seed):
    from geoplan.cli import main

    args = [
        "sensitivity",
        "-q",
        "-n",
        "200",
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--cell-share",
        "--steps",
        "5",
        "--profile",
        PROFILE,
        "--profile",
        "port_logistics",
        "--set",
        "grid.resolution_m=5000",
        "--set",
        "candidates.zones_per_belt=1",
    ]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_cli_end_to_end_is_reproducible(tmp_path):
    import rasterio

    r1 = _cli(tmp_path / "a", 5)
    assert r1.exit_code == 0, r1.output
    r2 = _cli(tmp_path / "b", 5)
    assert r2.exit_code == 0
    a = (tmp_path / "a" / "sensitivity.csv").read_bytes()
    assert a == (tmp_path / "b" / "sensitivity.csv").read_bytes()
    for name in ("sensitivity.json", f"robustness_{PROFILE}.tif"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    table1 = r1.output.split("sensitivity: ")[0]
    assert table1 == r2.output.split("sensitivity: ")[0]
    df = pd.read_csv(tmp_path / "a" / "sensitivity.csv")
    assert set(df["profile"]) == {PROFILE, "port_logistics"}
    assert df["p_top_k"].between(0, 1).all()
    # in every belt the top-k probabilities add up to k (or the belt's size)
    for (_, _), g in df.groupby(["profile", "belt"]):
        assert g["p_top_k"].sum() == pytest.approx(min(3, len(g)))
    assert (df["rank_p05"] <= df["rank_median"]).all()
    assert (df["rank_median"] <= df["rank_p95"]).all()
    assert "P(top 3)" in r1.output and PROFILE in r1.output
    pngs = sorted(p.name for p in (tmp_path / "a").glob("oat_*.png"))
    assert f"oat_{PROFILE}_border.png" in pngs
    with rasterio.open(tmp_path / "a" / f"robustness_{PROFILE}.tif") as ds:
        share = ds.read(1, masked=True)
    assert share.min() >= 0 and share.max() <= 1
    assert share.mean() == pytest.approx(0.05, abs=0.03)  # a top 5 % is 5 % of cells per draw
