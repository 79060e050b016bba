"""OSM import (XML and PBF) and network travel times."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner

from geoplan import network as N
from geoplan import osm
from geoplan.cli import main

from .osm_fixtures import elements, write_pbf, write_xml


@pytest.mark.parametrize("fmt", ["xml", "pbf"])
def test_import_yields_layers_and_tags(tmp_path, fmt):
    src = write_xml(tmp_path / "t.osm") if fmt == "xml" else write_pbf(tmp_path / "t.osm.pbf")
    res = osm.import_extract(src, tmp_path / "out")
    c = res["counts"]
    assert c["railways"] == 1
    assert c["ports"] == 1
    assert c["power_plants"] == 1
    assert c["power_lines"] == 1
    assert c["industrial"] == 1
    g = res["graph"]
    assert g["components"] == 1
    roads = pyogrio.read_dataframe(res["outputs"]["geopackage"], layer="roads")
    classes = {c for v in roads["highway"] for c in v.split(";")}
    assert classes == {"primary", "secondary", "residential"}
    prim = roads[roads["highway"] == "primary"]
    assert len(prim) > 0
    assert np.allclose(prim["speed_kph"], osm.HIGHWAY_SPEEDS_KPH["primary"])
    assert np.allclose(
        roads["travel_time_s"], roads["length_m"] / (roads["speed_kph"] / 3.6), rtol=1e-3
    )
    assert (roads["confidence"] == "osm").all() and roads["source"].str.contains(
        "OpenStreetMap"
    ).all()
    ind = pyogrio.read_dataframe(res["outputs"]["geopackage"], layer="industrial")
    assert ind["name"].iloc[0] == "Works <&>"
    assert ind.geometry.iloc[0].geom_type == "Polygon"
    assert res["outputs"]["graphml"].exists()


def test_xml_and_pbf_imports_agree(tmp_path):
    a = osm.import_extract(write_xml(tmp_path / "t.osm"), tmp_path / "a")
    b = osm.import_extract(write_pbf(tmp_path / "t.osm.pbf"), tmp_path / "b")
    assert a["counts"] == b["counts"]
    assert a["graph"]["edges"] == b["graph"]["edges"]


def test_pbf_filter_drops_untagged(tmp_path):
    src = write_pbf(tmp_path / "t.osm.pbf")
    kept = osm.filter_pbf(src, tmp_path / "f.osm")
    nodes, ways = elements()
    tagged_nodes = sum(1 for n in nodes if n[3])
    assert kept == {"nodes": tagged_nodes, "ways": len(ways)}
    text = (tmp_path / "f.osm").read_text()
    assert text.count("<node") < len(nodes)  # the 40 untagged noise nodes are gone


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda p: p.joinpath("t.osm.pbf").write_bytes(
            write_pbf(p / "full.osm.pbf").read_bytes()[:300]) and p / "t.osm.pbf",
         "cannot read PBF"),
        (lambda p: write_xml(p / "noways.osm", with_ways=False), "no road network"),
        (lambda p: (p / "x.osm").write_text("name,lon,lat\n") and p / "x.osm", "not OSM XML"),
        (lambda p: (p / "x.csv").write_text("a") and p / "x.csv", "unknown extract format"),
    ],
)  # fmt: skip
def test_bad_extracts_one_line_exit_1(tmp_path, make, fragment):
    src = make(tmp_path)
    res = CliRunner().invoke(main, ["osm", "import", str(src), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and fragment in lines[0], res.output
    assert not (tmp_path / "o" / "osm.gpkg").exists()


def _toy():
    # a 10 km road west-east at 60 km/h, then 5 km of rail north at 30 km/h
    road = gpd.GeoDataFrame({"name": ["r"]}, geometry=[shapely.LineString([(0, 0), (10_000, 0)])],
                            crs=5179)  # fmt: skip
    rail = gpd.GeoDataFrame({"name": ["t"]},
                            geometry=[shapely.LineString([(10_000, 0), (10_000, 5_000)])],
                            crs=5179)  # fmt: skip
    return N.build_network({"roads": road, "railways": rail},
                           speeds_kph={"roads": 60, "railways": 30}, snap_m=1)  # fmt: skip


def test_travel_time_exact_on_toy_network():
    net = _toy()
    assert net.components() == 1
    target = np.array([[10_000.0, 5_000.0]])
    xy = np.array([[0.0, 0.0], [10_000.0, 0.0], [0.0, 1_000.0]])
    t = N.travel_time_to(xy, net, target, offnet_kph=20)
    # 10 km at 60 = 10 min; 5 km at 30 = 10 min; 1 km off-network at 20 = 3 min
    assert np.allclose(t, [20.0, 10.0, 23.0])


def test_closed_crossing_cuts_the_way():
    line = shapely.LineString([(x, 0) for x in range(0, 10_001, 1_000)])
    roads = gpd.GeoDataFrame(geometry=[line], crs=5179)
    mdl = shapely.LineString([(6_500, -3_000), (6_500, 3_000)])
    cand, target = np.array([[0.0, 0.0]]), np.array([[10_000.0, 0.0]])
    open_net = N.build_network({"roads": roads}, speeds_kph={"roads": 60}, snap_m=1)
    assert N.travel_time_to(cand, open_net, target) == pytest.approx([10.0])
    closed = N.build_network({"roads": roads}, speeds_kph={"roads": 60}, snap_m=1, exclude=mdl)
    assert closed.components() == 2
    t = N.travel_time_to(cand, closed, target, barrier=mdl)
    assert np.isinf(t).all()


def test_multisource_equals_per_candidate_shortest_paths():
    rng = np.random.default_rng(42)
    pts = rng.uniform(0, 50_000, size=(300, 2))
    tri = []
    tree = __import__("scipy.spatial", fromlist=["cKDTree"]).cKDTree(pts)
    for i, p in enumerate(pts):
        for j in tree.query(p, k=4)[1][1:]:
            tri.append(shapely.LineString([pts[i], pts[j]]))
    roads = gpd.GeoDataFrame(geometry=tri, crs=5179)
    net = N.build_network({"roads": roads}, snap_m=1)
    targets = pts[:5]
    cand = rng.uniform(0, 50_000, size=(40, 2))
    fast = N.travel_time_to(cand, net, targets, offnet_kph=20)
    g = N.to_networkx(net)
    node_tree = __import__("scipy.spatial", fromlist=["cKDTree"]).cKDTree(net.node_xy)
    tgap, tidx = node_tree.query(targets)
    for k, c in enumerate(cand):
        gap, ci = node_tree.query(c)
        best = np.inf
        for tg, ti in zip(tgap, tidx, strict=True):
            try:
                d = nx.shortest_path_length(g, int(ci), int(ti), weight="travel_time")
            except nx.NetworkXNoPath:
                continue
            best = min(best, d + tg / (20 / 3.6))
        expected = (gap / (20 / 3.6) + best) / 60
        assert fast[k] == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_travel_time_criterion_in_a_scenario(tmp_path):
    from geoplan import pipeline

    sc = tmp_path / "tt.yaml"
    sc.write_text(
        "grid: {resolution_m: 2000}\n"
        "candidates: {zones_per_belt: 1}\n"
        "criteria:\n"
        "  port_time: {kind: travel_time_to, layer: ports, where: {country: PRK},"
        " params: {offnet_kph: 20}}\n"
        "profiles:\n"
        "  logistics:\n"
        "    criteria:\n"
        "      - {criterion: port_time, weight: 1,"
        " transform: {type: linear, low: 0, high: 240, direction: falling}}\n"
        "prioritisation: {phase_rules: [{phase: 3, when: {}, reason: all}]}\n"
    )
    res = pipeline.run(sc, profiles=["logistics"])
    z = res.zones
    assert len(z) == 3
    assert (z["raw_port_time"] > 0).all() and (z["raw_port_time"] < 600).all()
    assert np.allclose(z["contrib_port_time"], z["score"])


@pytest.mark.parametrize("crossings_open", [True, False])
def test_cross_border_switch_on_default_layers(default_layers, crossings_open):
    """Kaesong to the nearest ROK port over the default roads/railways."""
    kaesong = default_layers["cities"].set_index("name").loc["Kaesong", "geometry"]
    ports = default_layers["ports"]
    t = N.travel_time_criterion(
        np.array([[kaesong.x, kaesong.y]]),
        ports[ports["country"] == "KOR"],
        layers=default_layers,
        crossings_open=crossings_open,
    )
    if crossings_open:
        assert np.isfinite(t).all() and 30 < t[0] < 600
    else:
        assert np.isinf(t).all()


def test_example_cross_border_scenario_validates():
    from geoplan.scenario import load_scenario

    from .conftest import REPO

    sc = load_scenario(REPO / "docs" / "scenarios" / "cross_border_open.yaml")
    assert list(sc.profiles) == ["export_manufacturing"]


def test_import_clip_keeps_inside_only(tmp_path):
    src = write_xml(tmp_path / "t.osm")
    box = gpd.GeoDataFrame(
        geometry=[shapely.box(125.395, 38.695, 125.446, 38.746)], crs=4326
    )  # the south-west part of the street grid only
    box.to_file(tmp_path / "clip.gpkg")
    full = osm.import_extract(src, tmp_path / "a")
    part = osm.import_extract(src, tmp_path / "b", clip=tmp_path / "clip.gpkg")
    assert 0 < part["graph"]["edges"] < full["graph"]["edges"]
    assert part["counts"].get("power_plants", 0) == 0  # the plant lies outside the box


def test_imported_layers_plug_into_a_scenario(tmp_path):
    from geoplan import layers as L

    res = osm.import_extract(write_xml(tmp_path / "t.osm"), tmp_path / "o")
    gpkg = res["outputs"]["geopackage"]
    loaded = L.load_all({"osm_roads": f"{gpkg}::roads"}, names=["mdl"])
    roads = loaded["osm_roads"]
    assert roads.crs.to_epsg() == 5179 and len(roads) == res["counts"]["roads"]
    net = N.build_network({"osm_roads": roads}, snap_m=5)
    assert net.components() == 1
    # speeds come from the imported speed_kph column
    assert np.allclose(np.sort(np.unique(np.round(net.length_m / net.time_s * 3.6))),
                       np.sort(np.unique(np.round(roads["speed_kph"]))))  # fmt: skip


def test_imported_roads_replace_the_default_layers(tmp_path):
    """OSM roads and railways meet the default specs, so a scenario can swap them in."""
    import pyogrio

    from geoplan import pipeline

    res = osm.import_extract(write_xml(tmp_path / "t.osm"), tmp_path / "o")
    gpkg = res["outputs"]["geopackage"]
    roads = pyogrio.read_dataframe(gpkg, layer="roads")
    assert (~roads["schematic"].astype(bool)).all() and roads["name"].notna().all()
    sc = tmp_path / "osm.yaml"
    sc.write_text(
        f"layers: {{roads: '{gpkg}::roads', osm_industrial: '{gpkg}::industrial'}}\n"
        "grid: {resolution_m: 2000}\ncandidates: {zones_per_belt: 1}\n"
    )
    checked = pipeline.check(sc)
    assert checked.layers["roads"].layer == "roads"
    r = pipeline.run(sc, profiles=["labour_intensive"])
    assert len(r.layers["roads"]) == res["counts"]["roads"]
    written = r.write(tmp_path / "out", only=["gpkg"])
    names = {str(x[0]) for x in pyogrio.list_layers(written["geopackage"])}
    assert {"roads", "osm_industrial", "zones", "sites"} <= names  # every named layer travels
