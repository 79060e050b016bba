"""The analyst's loop: typed scenarios that merge, the Session cache, stable zones, diff, CLI."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import yaml
from click.testing import CliRunner

import geoplan
from geoplan import ScenarioError, criteria, pipeline
from geoplan.cli import main
from geoplan.scenario import load_scenario, merge, parse_overrides

FAST = {"grid": {"resolution_m": 2000}, "candidates": {"zones_per_belt": 2}}


@pytest.fixture(scope="module")
def session():
    s = geoplan.Session(FAST)
    s.run()
    return s


# ----------------------------------------------------------------------------- scenarios


def test_one_weight_merges_into_the_default_profile():
    sc = load_scenario(
        {"profiles": {"labour_intensive": {"criteria": [{"criterion": "labour_pool",
                                                          "weight": 0.6}]}}}
    )  # fmt: skip
    prof = sc.profiles["labour_intensive"]
    default = load_scenario().profiles["labour_intensive"]
    # every other profile and every other criterion of this one is still there
    assert list(sc.profiles) == list(load_scenario().profiles)
    assert prof.criterion_names == default.criterion_names
    raw = np.array([0.6, 0.20, 0.15, 0.15, 0.15])
    assert np.allclose(prof.weights, raw / raw.sum())
    assert prof.criteria[0].transform == default.criteria[0].transform  # kept


def test_null_removes_and_mapping_form_adds():
    sc = load_scenario(
        {
            "profiles": {
                "port_logistics": None,
                "energy_resources": {"criteria": {"labour_pool": None,
                                                  "road_distance": {"weight": 0.2, "transform": {
                                                      "type": "linear", "low": 0, "high": 9000,
                                                      "direction": "falling"}}}},
            },
            "layers": {"nogo": "somewhere.gpkg"},
        }
    )  # fmt: skip
    assert "port_logistics" not in sc.profiles
    names = sc.profiles["energy_resources"].criterion_names
    assert names == ["power_distance", "port_distance", "rail_distance", "road_distance"]
    assert sc.layers["nogo"].path.endswith("somewhere.gpkg")


def test_merge_function_rules():
    base = {"a": {"x": 1, "y": 2}, "l": [1, 2], "profiles": {"p": {"criteria": [
        {"criterion": "c1", "weight": 1}, {"criterion": "c2", "weight": 2}]}}}  # fmt: skip
    out = merge(base, {"a": {"y": None}, "l": [3], "profiles": {"p": {"criteria": [
        {"criterion": "c2", "weight": 5}, {"criterion": "c3", "weight": 1}]}}})  # fmt: skip
    assert out["a"] == {"x": 1}
    assert out["l"] == [3]
    assert [(c["criterion"], c["weight"]) for c in out["profiles"]["p"]["criteria"]] == [
        ("c1", 1), ("c2", 5), ("c3", 1)]  # fmt: skip


def test_set_overrides_and_replace_return_new_validated_scenarios():
    ov = parse_overrides(["grid.resolution_m=500", "profiles.labour_intensive.criteria."
                          "labour_pool.weight=0.6", "name=trial"])  # fmt: skip
    sc = load_scenario(overrides=ov)
    assert sc.grid.resolution_m == 500 and sc.name == "trial"
    assert sc.profiles["labour_intensive"].weights[0] == pytest.approx(0.6 / 1.25)
    base = load_scenario()
    sc2 = base.replace("candidates.zones_per_belt", 7)
    assert sc2.candidates.zones_per_belt == 7 and base.candidates.zones_per_belt == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        base.criteria["new"] = None  # type: ignore[index]
    with pytest.raises(ScenarioError, match=r"grid.resolution_m: must be ≥ 25, got 5"):
        base.replace("grid.resolution_m", 5)
    with pytest.raises(ScenarioError, match="expected KEY=VALUE"):
        parse_overrides(["grid.resolution_m"])


def test_scripted_scenarios_get_their_own_names():
    a = load_scenario({"grid": {"resolution_m": 1000}})
    b = load_scenario({"grid": {"resolution_m": 2000}})
    assert a.name.startswith("script-") and b.name.startswith("script-") and a.name != b.name
    assert load_scenario({"grid": {"resolution_m": 1000}}).name == a.name  # same dict, same name


def test_paths_resolve_against_the_scenario_folder(tmp_path, monkeypatch):
    d = tmp_path / "project"
    (d / "data").mkdir(parents=True)
    box = shapely.box(125.0, 38.5, 125.3, 38.8)
    gpd.GeoDataFrame({"name": ["no-go"]}, geometry=[box], crs=4326).to_file(d / "data/nogo.gpkg")
    (d / "s.yaml").write_text(
        "layers: {nogo: data/nogo.gpkg}\nconstraints: {mask_layers: [nogo]}\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    sc = load_scenario("../project/s.yaml")
    assert sc.layers["nogo"].path == str((d / "data/nogo.gpkg").resolve())
    pipeline.check(sc)  # opens the layer from the scenario's folder


def test_phase_rule_naming_an_absent_profile_is_a_warning():
    with pytest.warns(UserWarning, match="no profile 'labour_intensive'"):
        sc = load_scenario({"profiles": {"labour_intensive": None}})
    assert "labour_intensive" not in sc.profiles


# ----------------------------------------------------------------------------- check = run


BAD = [
    ("crs: EPSG:4326\n", "crs: EPSG:4326 is geographic"),
    (
        "criteria: {labour_pool: {params: {radius: 30000}}}\n",
        "criteria.labour_pool.params.radius: unknown parameter of population_within; "
        "did you mean 'radius_m'?",
    ),
    (
        "criteria: {labour_pool: {params: {radius_m: far}}}\n",
        "criteria.labour_pool.params.radius_m: must be a finite number, got 'far'",
    ),
    (
        "criteria: {port_capacity: {params: {field: capacity}}}\n",
        "criteria.port_capacity.params.field: layer 'ports' has no field 'capacity' (fields: ",
    ),
    (
        "criteria: {port_distance: {where: {kountry: PRK}}}\n",
        "criteria.port_distance.where.kountry: layer 'ports' has no field 'kountry'",
    ),
    ("criteria: {road_distance: {kind: distanse_to}}\n", "did you mean 'distance_to'?"),
    ("candidates: {sites_layer: mdl}\n", "candidates.sites_layer: layer 'mdl' holds"),
    ("constraints: {mask_layers: [ports]}\n", "layer 'ports' holds Point; expected polygons"),
    ("grid: {resolution_m: 25}\n", "grid.resolution_m: 25 m needs about"),
]


@pytest.mark.parametrize(("text", "fragment"), BAD)
def test_check_refuses_first_what_run_refuses(tmp_path, text, fragment):
    sc = tmp_path / "bad.yaml"
    sc.write_text(text)
    out = tmp_path / "out"
    msgs = []
    for cmd in (["scenario", "check", str(sc)], ["run", str(sc), "--out", str(out)]):
        proc = subprocess.run([sys.executable, "-m", "geoplan", *cmd, "-q"], capture_output=True,
                              text=True, check=False)  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        assert fragment in proc.stderr, proc.stderr
        # (available memory moves between two processes: compare lines without digits)
        msgs.append([re.sub(r"[\d.,]+", "#", x) for x in proc.stderr.splitlines() if fragment in x])
    assert msgs[0] == msgs[1]  # the same line from check and from run
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]


def test_missing_field_in_a_user_layer_is_named(tmp_path):
    pts = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(125.4, 38.7)], crs=4326)
    pts.to_file(tmp_path / "ports.gpkg")
    with pytest.raises(geoplan.LayerError, match=r"ports.gpkg.*field 'country': required field "
                       r"is missing \(fields present: name\)"):  # fmt: skip
        pipeline.check({"layers": {"ports": str(tmp_path / "ports.gpkg")}})


# ----------------------------------------------------------------------------- session


def test_rerun_recomputes_no_criterion_and_equals_a_fresh_run(session, monkeypatch):
    calls = []
    real = criteria.evaluate
    monkeypatch.setattr(criteria, "evaluate", lambda *a, **k: calls.append(1) or real(*a, **k))
    five = ["labour_intensive", "technology_intensive", "agri_manufacturing"]  # 5 criteria each
    r = session.rerun(weights={"labour_intensive": {"labour_pool": 0.6}},
                      aggregation={"method": "owa", "order_weights": [0.2] * 5},
                      only_profiles=five)  # fmt: skip
    assert calls == []
    monkeypatch.undo()
    fresh = geoplan.run(session.scenario)
    pd.testing.assert_frame_equal(r.ranking, fresh.ranking)
    w = r.scenario.profiles["labour_intensive"].weights
    assert w[0] == pytest.approx(0.6 / 1.25)
    # owa with equal order weights is the weighted sum
    ws = session.rerun(aggregation={"method": "weighted_sum"})
    a = r.ranking.set_index("zone_id")["score"]
    b = ws.ranking.set_index("zone_id")["score"]
    common = a.index.intersection(b.index)
    assert len(common) > 10 and np.allclose(a[common], b[common], atol=1e-12)


def test_zone_ids_stable_when_more_zones_are_grown(session):
    r3 = session.run(session.scenario.replace("candidates.zones_per_belt", 3))
    r4 = session.run(session.scenario.replace("candidates.zones_per_belt", 4))
    ids3, ids4 = set(r3.zones["zone_id"]), set(r4.zones["zone_id"])
    assert ids3 < ids4 and len(ids4) > len(ids3)
    g3 = r3.zones.set_index("zone_id").geometry
    g4 = r4.zones.set_index("zone_id").geometry
    for z in ids3:
        assert g3[z].equals(g4[z])


def test_names_unique_and_honest(session):
    r = session.last
    z = r.zones
    assert z["name"].is_unique and z["name_ko"].is_unique
    cities = r.layers["cities"].set_index("name")
    for _, row in z.iterrows():
        place = cities.loc[row["place"]].geometry
        place = place.iloc[0] if hasattr(place, "iloc") else place
        d = row.geometry.centroid.distance(place) / 1000
        assert d == pytest.approx(row["place_km"], abs=0.06)
        if row["place_near"]:
            assert d <= r.scenario.candidates.name_within_km
            assert row["place"] in row["name"] and " km " not in row["name"]
        else:
            far = f"{row['place_km']:.0f} km {row['place_bearing']} of {row['place']}"
            assert far in row["name"]


def test_small_and_medium_zones_and_belt_rules(session):
    r = session.last
    # on a 2 km grid a "small" zone cannot exist (one cell is 4 km²): the label stays true
    # (test_engine checks that both classes appear on a 1 km grid)
    for cls, g in r.zones.groupby("size_class"):
        sc = r.scenario.candidates.size_classes[cls]
        assert ((g["area_km2"] >= sc.min_km2) & (g["area_km2"] <= sc.max_km2)).all()
    sites = r.sites.drop_duplicates("name").set_index("name")
    assert sites.loc["Kaesong Industrial Region / Complex", "belt"] == "border"
    assert "none" not in set(r.ranking["belt"])
    inland = r.ranking[r.ranking["belt"] == "inland"]
    assert len(inland) and (inland["kind"] == "site").all()
    assert set(r.ranking["phase"].dropna().astype(int)) == {1, 2, 3}
    assert set(r.zones["phase"].dropna().astype(int)) == {1, 2, 3}


# ----------------------------------------------------------------------------- diff + CLI


def test_diff_lists_zones_moved_by_a_labour_heavy_scenario(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    fast = ["--set", "grid.resolution_m=2000", "--set", "candidates.zones_per_belt=3",
            "--only", "gpkg,csv"]  # fmt: skip
    runner = CliRunner()
    res = runner.invoke(main, ["run", *fast, "--out", str(a), "-q"])
    assert res.exit_code == 0, res.output
    heavy = tmp_path / "heavy.yaml"
    heavy.write_text(yaml.safe_dump({"name": "labour_heavy", "profiles": {"labour_intensive": {
        "criteria": [{"criterion": "labour_pool", "weight": 0.9}]}}}))  # fmt: skip
    res = runner.invoke(main, ["run", str(heavy), *fast, "--out", str(b), "-q"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["diff", str(a), str(b), "--out", str(tmp_path / "d"), "-q"])
    assert res.exit_code == 0, res.output
    d = pd.read_csv(tmp_path / "d" / "diff.csv")
    li = d[d["profile"] == "labour_intensive"]
    assert (li["status"] != "same").any()  # the labour-heavy weights moved something
    others = d[d["profile"] != "labour_intensive"]
    assert (others["status"] == "same").all()  # and nothing else
    assert "labour_intensive / " in res.output


def test_diff_of_one_scenario_run_twice_is_named_by_its_folders(tmp_path, monkeypatch):
    """Two runs of the default scenario: the diff is named base vs heavy, not default vs default."""
    fast = ["--set", "grid.resolution_m=5000", "--set", "candidates.zones_per_belt=1",
            "--only", "gpkg,csv", "-q"]  # fmt: skip
    runner = CliRunner()
    for name, extra in (("base", []), ("heavy", ["--set", "profiles.labour_intensive.criteria."
                                                "labour_pool.weight=0.9"])):  # fmt: skip
        res = runner.invoke(main, ["run", *fast, *extra, "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(main, ["diff", str(tmp_path / "base"), str(tmp_path / "heavy"), "-q"])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "out" / "diff_base_vs_heavy" / "diff.html").read_text(encoding="utf-8")
    assert '"title":"base / heavy"' in html


def test_cli_flags_after_subcommand_only_profile_bbox(tmp_path):
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["run", "-q", "--profile", "port_logistics", "--bbox",
                                    "124.8,38.4,126.2,39.4", "--only", "csv", "--out", str(out),
                                    "--set", "grid.resolution_m=1000"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "ranking.csv", "run.json"]  # fmt: skip
    r = pd.read_csv(out / "ranking.csv")
    assert set(r["profile"]) == {"port_logistics"}
    assert r["lon"].between(124.8, 126.2).all() and r["lat"].between(38.4, 39.4).all()
    res = CliRunner().invoke(main, ["export", "csv", "--run", str(out), "--out",
                                    str(tmp_path / "e"), "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "ranking:" in res.output and "ranking.csv" in res.output


def test_a_site_in_the_sea_is_refused_by_name(tmp_path):
    zones = geoplan.load("economic_zones").to_crs(4326).head(3).copy()
    zones.loc[zones.index[1], "geometry"] = shapely.Point(124.2, 37.9)  # Yellow Sea
    zones.loc[zones.index[1], "name"] = "Offshore Test Zone"
    zones.to_file(tmp_path / "sites.gpkg")
    with pytest.raises(geoplan.LayerValidationError) as err:
        pipeline.run({"layers": {"economic_zones": str(tmp_path / "sites.gpkg")}},
                     grid={"resolution_m": 5000})  # fmt: skip
    (line,) = err.value.lines()
    assert "site 'Offshore Test Zone' lies" in line and "km off DPRK land" in line
    km = float(line.split(" lies ")[1].split(" km")[0])
    prk = geoplan.regions.dprk_polygon(geoplan.load("boundaries"))
    pt = gpd.GeoSeries([shapely.Point(124.2, 37.9)], crs=4326).to_crs(5179).iloc[0]
    assert km == pytest.approx(prk.distance(pt) / 1000, abs=0.05)


def test_default_run_carries_robustness_into_every_output(session, tmp_path):
    """The default scenario draws 1,000 weightings: p_top_k reaches CSV, GeoPackage, map, report."""
    import pyogrio

    r = session.last
    assert r.robustness["draws"] == 1000
    assert r.ranking["p_top_k"].between(0, 1).all()
    # the belt's first is at least as robust as its third, per profile and belt
    written = r.write(tmp_path, only=["csv", "gpkg", "map", "report"])
    csv = pd.read_csv(written["ranking"])
    assert np.allclose(csv["p_top_k"], r.ranking["p_top_k"], atol=1e-6)
    z = pyogrio.read_dataframe(written["geopackage"], layer="zones")
    assert "p_top_k" in z.columns
    html = written["report"].read_text(encoding="utf-8")
    assert "id='robustness'" in html and "of 1,000 weightings" in html
    assert '"draws":1000' in written["map"].read_text(encoding="utf-8")
