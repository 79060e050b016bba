"""The HTML map: offline, escaped, and really drawn and used in a browser."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

import geoplan
from geoplan import compare, webmap
from geoplan._offline import external_urls
from geoplan.i18n import catalogue, t
from geoplan.score import aggregate

from .browser import launch, open_offline

XSS = "<img src=x onerror=alert(1)>"
HOSTILE_PROFILE = '"><img src=x onerror=alert("profile")>'
HOSTILE_CRIT = "<img src=x onerror=alert('crit')>"
_BLOCK = re.compile(r'<script type="application/json" id="geoplan-data">(.*?)</script>', re.S)


def _data(html: str) -> dict:
    blocks = _BLOCK.findall(html)
    assert len(blocks) == 1  # ONE data block
    return json.loads(blocks[0])


@pytest.fixture(scope="module")
def res(fast_run):
    return fast_run


@pytest.fixture(scope="module")
def map_en(res):
    return res.outputs["map"]


@pytest.fixture(scope="module")
def browser(chromium):
    with launch(chromium) as b:
        yield b


@pytest.fixture(scope="module")
def page(map_en, browser):
    with open_offline(map_en, size=(1280, 860), browser=browser) as p:
        p.page.wait_for_function("window.geoplan && window.geoplan.ready")
        yield p


def _rows(res, profile):
    """Zones and sites of one profile, as the engine left them."""
    both = pd.concat([res.zones.drop(columns="geometry"), res.sites.drop(columns="geometry")])
    return both[both["profile"] == profile].reset_index(drop=True)


def _crits(res, profile):
    return [pc.criterion for pc in res.scenario.profiles[profile].criteria]


# ---------------------------------------------------------------- page structure


def test_map_is_self_contained_with_one_escaped_data_block(res, map_en):
    html = map_en.read_text(encoding="utf-8")
    assert map_en.stat().st_size < 3_000_000  # size budget
    assert external_urls(html) == []
    assert "L.map(" in html  # folium's skeleton
    d = _data(html)
    # every zone of the run is in the block, with its score and S vector
    by_id = {z["id"]: z for z in d["zones"]}
    assert set(by_id) == set(res.zones["zone_id"])
    z = res.zones.iloc[0]
    crits = _crits(res, z["profile"])
    assert by_id[z["zone_id"]]["score"] == pytest.approx(z["score"], abs=1e-9)
    assert by_id[z["zone_id"]]["S"] == pytest.approx([z[f"score_{c}"] for c in crits], abs=1e-12)
    # listed sites: one entry per site, each with every profile's result
    n_sites = res.sites.groupby(["name", "lon", "lat"]).ngroups
    assert len(d["sites"]) == n_sites
    assert sum(len(s["results"]) for s in d["sites"]) == len(res.sites)


def test_same_run_same_page_bytes(res, map_en):
    """Rendering a run again gives the written page byte for byte (no random element ids),
    and the page's data are the run's own (its first zone by id and score)."""
    again = webmap.render(res)
    assert again == map_en.read_text(encoding="utf-8")
    data = _data(again)
    z = res.zones.iloc[0]
    (row,) = [d for d in data["zones"] if d["id"] == z["zone_id"]]
    assert row["score"] == pytest.approx(float(z["score"]))


def test_json_block_escapes_markup_characters():
    evil = {"name": "</script><script>alert(1)</script>", "x": "a & b <c>"}
    block = webmap._json_block(evil, "geoplan-data")
    inner = block.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert "<" not in inner and ">" not in inner and "&" not in inner
    assert json.loads(inner) == evil


def test_score_colours_are_viridis():
    assert webmap.score_color(0.0) == "#440154"
    assert webmap.score_color(1.0) == "#fde725"
    assert webmap.score_color(0.5) == "#21918c"  # the middle stop of the ramp


def test_every_map_string_has_both_languages():
    keys = [k for k in catalogue() if k.startswith("map.")]
    assert len(keys) > 60
    for k in keys:
        assert set(catalogue()[k]) >= {"en", "ko"}, k


# ---------------------------------------------------------------- browser


def test_page_loads_offline_without_errors(page):
    assert page.errors == []
    assert page.blocked == []
    assert page.dialogs == []


def test_profile_switcher_shows_only_that_profiles_zones(res, page):
    pg = page.page
    for profile in ("labour_intensive", "port_logistics"):
        pg.select_option("select.gp-profile", profile)
        ids = pg.evaluate(
            "Array.from(document.querySelectorAll('.gp-mark.gp-zone')).map(e => e.dataset.id)"
        )
        want = res.zones.loc[res.zones["profile"] == profile, "zone_id"]
        assert sorted(ids) == sorted(want)
    # one marker per listed site, whatever the profile
    n_sites = res.sites.groupby(["name", "lon", "lat"]).ngroups
    assert pg.evaluate("document.querySelectorAll('.gp-mark.gp-site').length") == n_sites


def test_side_panel_is_ranked_and_opens_the_right_popup(res, page):
    pg = page.page
    pg.select_option("select.gp-profile", "labour_intensive")
    pg.select_option("select.gp-belt", "east_coast")
    ids = pg.evaluate("Array.from(document.querySelectorAll('.gp-row')).map(e => e.dataset.id)")
    rows = _rows(res, "labour_intensive")
    east = rows[rows["belt"] == "east_coast"].sort_values("rank_in_belt")
    assert ids == list(east["zone_id"])  # the belt's zones and sites in rank order
    target = east[east["kind"] == "zone"].iloc[0]
    pg.click(f".gp-row[data-id='{target['zone_id']}']")
    pg.wait_for_timeout(200)
    assert pg.get_attribute(".leaflet-popup-content .gp-popup", "data-id") == target["zone_id"]
    text = pg.inner_text(".leaflet-popup-content")
    assert f"{target['score']:.3f}" in text
    assert target["name"] in text
    # bars sorted by contribution: the first criterion row holds the largest contribution
    crits = _crits(res, "labour_intensive")
    best = max(crits, key=lambda c: target[f"contrib_{c}"])
    first = pg.inner_text(".leaflet-popup-content .gp-crit-row .gp-crit-name")
    assert first == t(f"criterion.{best}", "en")
    # the tooltip pane is hidden while the popup is open; Escape closes the popup
    assert (
        pg.evaluate("getComputedStyle(document.querySelector('.leaflet-tooltip-pane')).display")
        == "none"
    )
    pg.keyboard.press("Escape")
    pg.wait_for_timeout(300)  # the popup fades out
    assert pg.locator(".leaflet-popup").count() == 0
    pg.select_option("select.gp-belt", "")


def test_filters_drive_the_list(res, page):
    pg = page.page
    pg.select_option("select.gp-profile", "labour_intensive")
    pg.uncheck(".gp-phase-cb[value='3']")
    ids = pg.evaluate("Array.from(document.querySelectorAll('.gp-row')).map(e => e.dataset.id)")
    rows = _rows(res, "labour_intensive")
    assert sorted(ids) == sorted(rows.loc[rows["phase"] != 3, "zone_id"])
    pg.check(".gp-phase-cb[value='3']")
    pg.fill("input.gp-score-min", "0.8")
    ids = pg.evaluate("Array.from(document.querySelectorAll('.gp-row')).map(e => e.dataset.id)")
    assert sorted(ids) == sorted(rows.loc[rows["score"] >= 0.8, "zone_id"])
    pg.fill("input.gp-score-min", "0")


def test_surface_in_its_own_pane_changes_pixels_under_a_zone(res, page):
    from PIL import Image

    pg = page.page
    profile = "labour_intensive"
    pg.select_option("select.gp-profile", profile)
    z = res.zones[res.zones["profile"] == profile].iloc[0]
    pg.evaluate(f"geoplan.map.setView([{z['lat']}, {z['lon']}], 7, {{animate: false}})")
    pg.evaluate("geoplan.map.closePopup()")
    pt = pg.evaluate(
        f"(() => {{ const p = geoplan.map.latLngToContainerPoint([{z['lat']}, {z['lon']}]);"
        " const r = geoplan.map.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; })()"
    )
    clip = {"x": pt[0] - 40, "y": pt[1] - 40, "width": 80, "height": 80}
    before = np.asarray(Image.open(io.BytesIO(pg.screenshot(clip=clip))).convert("RGB"), int)
    pg.evaluate("document.querySelector('.gp-layers .gp-head').click()")
    pg.check(f"input[name=gp-surface][value='{profile}']")
    pg.wait_for_timeout(200)
    after = np.asarray(Image.open(io.BytesIO(pg.screenshot(clip=clip))).convert("RGB"), int)
    changed = (np.abs(after - before).sum(axis=2) > 30).mean()
    assert changed > 0.2  # the surface is drawn over the land fill around the zone
    z_land, z_surf = pg.evaluate(
        "['gpLand', 'gpSurface'].map(n => +geoplan.map.getPane(n).style.zIndex)"
    )
    assert z_surf > z_land
    # one surface at a time: a radio group, "none" switches it off
    assert pg.locator(".gp-surface").count() == 1
    pg.check("input[name=gp-surface][value='']")
    assert pg.locator(".gp-surface").count() == 0
    pg.evaluate("document.querySelector('.gp-layers .gp-head').click()")


def test_whatif_agrees_with_the_engine(res, page):
    pg = page.page
    rng = np.random.default_rng(7)
    for profile in ("labour_intensive", "port_logistics"):
        pg.select_option("select.gp-profile", profile)
        rows = _rows(res, profile)
        crits = _crits(res, profile)
        s = rows[[f"score_{c}" for c in crits]].to_numpy(float)
        ok = rows["score"].notna().to_numpy()
        for _ in range(3):
            w = rng.dirichlet(np.ones(len(crits)))
            got = pg.evaluate(f"geoplan.whatif.score({json.dumps(profile)}, {w.tolist()})")
            want = aggregate(s, w / w.sum(), "weighted_sum")
            page_scores = np.array([np.nan if got[i] is None else got[i] for i in rows["zone_id"]])
            assert np.isnan(page_scores[~ok]).all()  # failed constraints stay unranked
            assert np.max(np.abs(page_scores[ok] - want[ok])) <= 1e-9
            # ranks: per belt, score descending, ties by id
            ranks = pg.evaluate(f"geoplan.whatif.ranks({json.dumps(profile)})")
            frame = rows.assign(s=np.where(ok, want, np.nan))[ok]
            frame = frame.sort_values(["belt", "s", "zone_id"], ascending=[True, False, True])
            frame["r"] = frame.groupby("belt").cumcount() + 1
            assert {i: ranks[i] for i in frame["zone_id"]} == dict(
                zip(frame["zone_id"], frame["r"], strict=True)
            )
        # the sliders themselves: move one, read the page's scores
        sl = pg.locator("input.gp-slider").first
        sl.evaluate("(e) => { e.value = '0.9'; e.dispatchEvent(new Event('input')); }")
        vals = pg.evaluate(
            "Array.from(document.querySelectorAll('input.gp-slider')).map(e => +e.value)"
        )
        w = np.array(vals) / np.sum(vals)
        got = pg.evaluate(
            f"Object.fromEntries(geoplan.data.zones.concat(geoplan.data.sites.flatMap("
            f"s => s.results)).filter(r => r.profile === {json.dumps(profile)})"
            ".map(r => [r.id, r.score]))"
        )
        want = aggregate(s, w, "weighted_sum")
        page_scores = np.array([np.nan if got[i] is None else got[i] for i in rows["zone_id"]])
        assert np.max(np.abs(page_scores[ok] - want[ok])) <= 1e-9
        # the side panel follows: rows sorted by the new rank
        listed = pg.evaluate(
            "Array.from(document.querySelectorAll('.gp-row .gp-sc')).map(e => e.textContent)"
        )
        assert len(listed) == len(rows)
        # copy as scenario YAML: a valid override giving these weights
        pg.evaluate("document.querySelector('.gp-whatif').open = true")
        pg.click(".gp-copy")
        text = pg.input_value("textarea.gp-yaml")
        doc = yaml.safe_load(text)
        got_w = {c["criterion"]: c["weight"] for c in doc["profiles"][profile]["criteria"]}
        assert got_w == pytest.approx(dict(zip(crits, w, strict=True)), abs=1e-6)
        if res.scenario.profiles[profile].ahp is None:
            sc = geoplan.scenario.load_scenario(doc)
            assert sc.profiles[profile].weights == pytest.approx(w, abs=1e-6)
        else:  # weights replace the profile's AHP judgements
            assert doc["profiles"][profile]["ahp"] is None
        pg.click(".gp-reset")
        back = pg.evaluate(f"geoplan.whatif.ranks({json.dumps(profile)})")
        ranked = rows[rows["rank_in_belt"].notna()]
        assert {i: back[i] for i in ranked["zone_id"]} == dict(
            zip(ranked["zone_id"], ranked["rank_in_belt"].astype(int), strict=True)
        )


def test_owa_in_the_page_mirrors_the_engine(page):
    rng = np.random.default_rng(3)
    s = rng.random((40, 5)).round(1)  # rounded: many ties, which the stable sort must order
    s[0] = 0.0
    ow = np.array([0.4, 0.25, 0.15, 0.1, 0.1])
    for _ in range(3):
        w = rng.dirichlet(np.ones(5))
        got = page.page.evaluate(
            f"{s.tolist()}.map(r => geoplan.score.aggregate(r, {w.tolist()}, 'owa', {ow.tolist()}))"
        )
        want = aggregate(s, w, "owa", ow)
        assert np.max(np.abs(np.array(got) - want)) <= 1e-9


def test_search_folds_romanisations_and_hangul(res, page):
    pg = page.page
    cities = res.layers["cities"]

    def hits(q):
        return pg.evaluate(f"geoplan.search({json.dumps(q)})")

    assert any("Hŭngnam" in h for h in hits("Hungnam"))
    nampo = hits("Namp'o")
    assert any("Nampo" in h for h in nampo)
    assert hits("Nampo") == nampo
    ko = hits("남포")
    assert any("Nampo" in h for h in ko)
    city = cities.loc[cities["name_ko"].fillna("").str.contains("남포"), "name"].iloc[0]
    assert city in " ".join(ko)
    # results say what they are: a zone of a profile and belt, a city, a port
    assert any("zone" in h for h in hits("Nampo"))


def test_phone_layout_keeps_zoom_and_layer_controls_clear(map_en, browser):
    with open_offline(map_en, size=(390, 844), browser=browser) as p:
        p.page.wait_for_function("window.geoplan && window.geoplan.ready")
        rects = p.page.evaluate(
            """() => {
              const r = e => { const b = e.getBoundingClientRect();
                               return [b.left, b.top, b.right, b.bottom]; };
              const keep = [document.querySelector('.leaflet-control-zoom'),
                            document.querySelector('.gp-layers')];
              const others = Array.from(document.querySelectorAll(
                  '.leaflet-control, .gp-box, .gp-title'))
                .filter(e => !keep.includes(e) && e.offsetParent !== null);
              return {keep: keep.map(r), others: others.map(r)}; }"""
        )
        assert p.errors == []
        for k in rects["keep"]:
            assert k[2] - k[0] > 10 and k[3] - k[1] > 10
            assert k[0] >= 0 and k[2] <= 390 and k[1] >= 0 and k[3] <= 844  # on screen
            for o in rects["others"]:
                overlap = (
                    min(k[2], o[2]) - max(k[0], o[0]) > 0 and min(k[3], o[3]) - max(k[1], o[1]) > 0
                )
                assert not overlap, (k, o)
        # panels start collapsed on a phone
        assert p.page.locator(".gp-panel.gp-collapsed").count() == 1
        assert p.page.locator(".gp-legend.gp-collapsed").count() == 1


def test_korean_page_takes_every_word_from_the_catalogue(res, tmp_path, browser):
    path = tmp_path / "ko.html"
    path.write_text(webmap.render(res, lang="ko"), encoding="utf-8")
    with open_offline(path, size=(1280, 860), browser=browser) as p:
        p.page.wait_for_function("window.geoplan && window.geoplan.ready")
        assert p.errors == []
        text = p.page.inner_text("body")
        for key in ("map.panel.title", "map.legend.title", "map.layers.title", "map.whatif.title"):
            assert t(key, "ko") in text
        assert t("profile.labour_intensive", "ko") in text
        assert "남포 Nampo" in text  # places in Korean with the romanisation
        assert "Ranking" not in text and "Legend" not in text


def test_hostile_names_never_run(tmp_path, browser):
    sc = {
        "name": "<script>alert('name')</script>",
        "description": "<img src=x onerror=alert('desc')>",
        "criteria": {HOSTILE_CRIT: {"kind": "distance_to", "layer": "ports", "unit": "<b>m"}},
        "profiles": {
            HOSTILE_PROFILE: {
                "zone_size": "small",
                "criteria": [
                    {"criterion": HOSTILE_CRIT, "weight": 0.6,
                     "transform": {"type": "linear", "low": 0, "high": 50000,
                                   "direction": "falling"}},
                    {"criterion": "labour_pool", "weight": 0.4,
                     "transform": {"type": "linear", "low": 0, "high": 500000}},
                ],
            }
        },
        "grid": {"resolution_m": 5000},
        "candidates": {"zones_per_belt": 1},
    }  # fmt: skip
    res = geoplan.run(sc, profiles=[HOSTILE_PROFILE])
    ports = res.layers["ports"].copy()
    ports.loc[ports.index[0], "name"] = XSS
    ports.loc[ports.index[1], "notes"] = "</script><script>alert(2)</script>"
    res.layers["ports"] = ports
    html = webmap.render(res, lang="en")
    assert XSS not in html and HOSTILE_PROFILE not in html
    path = tmp_path / "hostile.html"
    path.write_text(html, encoding="utf-8")
    with open_offline(path, browser=browser) as p:
        pg = p.page
        pg.wait_for_function("window.geoplan && window.geoplan.ready")
        assert pg.inner_text(".gp-title h1") == sc["name"]  # shown as text
        assert HOSTILE_PROFILE in pg.inner_text("select.gp-profile")
        pg.evaluate(
            """() => { geoplan.map.eachLayer(l => { if (l.getPopup && l.getPopup()) {
                 l.openPopup(); l.closePopup(); } }); }"""
        )
        for row in pg.locator(".gp-row").all():
            row.click()
        pg.evaluate("geoplan.search('<img')")
        pg.evaluate("document.querySelector('.gp-whatif').open = true")
        pg.locator("input.gp-slider").first.evaluate(
            "(e) => { e.value = '0.2'; e.dispatchEvent(new Event('input')); }"
        )
        pg.click(".gp-copy")
        doc = yaml.safe_load(pg.input_value("textarea.gp-yaml"))
        assert list(doc["profiles"]) == [HOSTILE_PROFILE]
        pg.wait_for_timeout(200)
        assert p.dialogs == []
        assert p.errors == []


def test_diff_map_side_by_side(res, tmp_path, browser):
    session = geoplan.pipeline.Session(res.scenario)
    b = session.rerun(weights={"labour_intensive": {"labour_pool": 0.05, "port_distance": 0.6}})
    ga = pd.concat([res.zones, res.sites])
    gb = pd.concat([b.zones, b.sites])
    d = compare.diff(ga, gb, top_k=3, threshold_km=5)
    html = webmap.render_diff(d, ga, gb, names=("base", XSS))
    assert external_urls(html) == [] and XSS not in html
    path = tmp_path / "diff.html"
    path.write_text(html, encoding="utf-8")
    tab = d.table
    moved_a = tab.loc[tab["status"] == "moved", "zone_id_a"].isin(ga["zone_id"]).sum()
    moved_b = tab.loc[tab["status"] == "moved", "zone_id_b"].isin(gb["zone_id"]).sum()
    with open_offline(path, browser=browser) as p:
        pg = p.page
        pg.wait_for_function("window.geoplan && window.geoplan.ready")
        assert p.errors == [] and p.dialogs == []
        assert pg.locator(".leaflet-container").count() == 2
        assert pg.locator("path.gp-diff-moved").count() == moved_a + moved_b
        n_topk = (tab["top_k"] != "").sum()
        assert pg.locator(".gp-topk-mark").count() >= n_topk
        # the maps are synced
        pg.evaluate("geoplan.maps[0].setView([39.0, 125.7], 10, {animate: false})")
        c = pg.evaluate("[geoplan.maps[1].getCenter().lat, geoplan.maps[1].getZoom()]")
        assert c == [pytest.approx(39.0, abs=1e-6), 10]


def test_robustness_is_shown_in_plain_words(res, tmp_path, browser):
    import copy

    r = copy.copy(res)
    zones = res.zones.copy()
    zones["p_top_k"] = np.linspace(0.1, 0.87, len(zones))
    r.zones = zones
    r.robustness = {"draws": 1000}
    d = webmap.page_json(r)
    best = zones.iloc[-1]
    assert {z["id"]: z["p_top_k"] for z in d["zones"]}[best["zone_id"]] == pytest.approx(0.87)
    path = tmp_path / "robust.html"
    path.write_text(webmap.render(r), encoding="utf-8")
    with open_offline(path, browser=browser) as p:
        pg = p.page
        pg.wait_for_function("window.geoplan && window.geoplan.ready")
        pg.select_option("select.gp-profile", best["profile"])
        meta = pg.inner_text(f".gp-row[data-id='{best['zone_id']}'] .gp-meta")
        assert "top-3 in 87 % of 1,000 weightings" in meta
        assert p.errors == []


def test_scenario_layers_are_drawn_with_names_as_text(tmp_path, browser):
    """A mask layer the scenario names reaches the map (and the GeoPackage), safely named."""
    import geopandas as gpd
    import shapely

    import geoplan

    hostile = "<img src=x onerror=alert('mask')>"
    box = shapely.box(125.2, 38.6, 125.5, 38.9)
    gpd.GeoDataFrame({"name": [hostile]}, geometry=[box], crs=4326).to_file(tmp_path / "m.gpkg")
    res = geoplan.run(
        {"layers": {"nogo": str(tmp_path / "m.gpkg")}, "constraints": {"mask_layers": ["nogo"]}},
        grid={"resolution_m": 5000},
        candidates={"zones_per_belt": 1},
        profiles=["labour_intensive"],
    )
    written = res.write(tmp_path / "out", only=["map", "gpkg"])
    import pyogrio

    assert "nogo" in {str(r[0]) for r in pyogrio.list_layers(written["geopackage"])}
    with open_offline(written["map"], browser=browser) as p:
        p.page.wait_for_function("window.geoplan && window.geoplan.ready")
        assert p.page.evaluate("document.querySelector('input[data-layer=\"user:nogo\"]') !== null")
        n = p.page.evaluate(
            "() => { let n = 0; for (const k in window) { const v = window[k];"
            " if (v instanceof L.Map) v.eachLayer(l => { if (l.feature && l.feature.properties"
            " && l.feature.properties.label && l.feature.properties.label.includes('onerror'))"
            " { n++; l.openPopup(); } }); } return n; }"
        )
        assert n >= 1
        p.page.wait_for_timeout(200)
        assert p.dialogs == [] and p.errors == []


def _unpack(g):
    """A packed page geometry as GeoJSON in degrees, read here from its documented format."""
    it, last = iter(g["p"]), [0, 0]

    def pt():
        last[0] += next(it)
        last[1] += next(it)
        if "m" in g:
            x, y = last[0] / 2 ** g["m"], last[1] / 2 ** g["m"]
            return [360 * x - 180, float(np.degrees(np.arctan(np.sinh(np.pi * (1 - 2 * y)))))]
        return [last[0] / 10 ** g["k"], last[1] / 10 ** g["k"]]

    def rd(depth):
        return pt() if depth == 0 else [rd(depth - 1) for _ in range(next(it))]

    depth = {"Point": 0, "MultiPoint": 1, "LineString": 1, "Polygon": 2, "MultiLineString": 2,
             "MultiPolygon": 3}[g["type"]]  # fmt: skip
    return {"type": g["type"], "coordinates": rd(depth)}


def _km_lines(fc, lat0):
    """A FeatureCollection's lines in local km (equirectangular about ``lat0``)."""
    import shapely

    k = np.array([111.32 * np.cos(np.radians(lat0)), 111.32])
    return shapely.union_all(
        [
            shapely.transform(shapely.geometry.shape(_unpack(f["geometry"])), lambda c: c * k)
            for f in fc["features"]
        ]
    ), k


def test_packed_geometries_read_back_in_the_page(res, map_en, page):
    """Zones (1e-5 degrees) come back exactly; the coast within the Mercator quantum."""
    import geopandas as gpd
    import shapely

    d = _data(map_en.read_text(encoding="utf-8"))
    pg = page.page
    # zones: the engine's polygons, simplified 25 m and on the 1e-5 degree grid (shapely oracle)
    want = res.zones.geometry.simplify(25.0, preserve_topology=True).to_crs(4326)
    want = shapely.set_precision(want.to_numpy(), 1e-5)
    got = pg.evaluate("geoplan.data.zones.map(z => geoplan.unpack(z.geom))")
    assert len(got) == len(want) == len(d["zones"])
    for g, w in zip(got, want, strict=True):
        assert g["type"] == w.geom_type
        np.testing.assert_allclose(
            shapely.get_coordinates(shapely.geometry.shape(g)), shapely.get_coordinates(w),
            rtol=0, atol=1e-9,
        )  # fmt: skip
    # the coast: Web Mercator, 2**22 units round the world (under 10 m): every decoded vertex
    # lies on the layer's coastline (within its 400 m simplification and the quantum)
    coast = res.layers["coastline"].to_crs(3857).union_all()
    got = pg.evaluate("geoplan.data.basemap.coast.features.map(f => geoplan.unpack(f.geometry))")
    pts = np.concatenate([shapely.get_coordinates(shapely.geometry.shape(g)) for g in got])
    assert len(pts) > 100
    xy = gpd.GeoSeries(gpd.points_from_xy(pts[:, 0], pts[:, 1]), crs=4326).to_crs(3857)
    lat = np.radians(pts[:, 1])
    assert (xy.distance(coast).to_numpy() * np.cos(lat)).max() < 400.0 + 10.0
    # the page's decoder and this file's agree to the last bit of the quantum
    first = d["basemap"]["coast"]["features"][0]["geometry"]
    mine = shapely.get_coordinates(shapely.geometry.shape(_unpack(first)))
    np.testing.assert_allclose(shapely.get_coordinates(shapely.geometry.shape(got[0])), mine,
                               rtol=0, atol=1e-9)  # fmt: skip


def test_basemap_draws_rivers_lakes_and_provinces_beneath_the_coast(res, map_en, page):
    import shapely

    d = _data(map_en.read_text(encoding="utf-8"))["basemap"]
    b = {k: len(d[k]["features"]) for k in ("land", "countries", "lakes", "rivers", "provinces",
                                           "coast")}  # fmt: skip
    assert min(b.values()) > 0
    assert b["rivers"] <= len(res.layers["basemap_rivers"])
    # a known river: the Taedong runs within 3 km of central Pyongyang (125.75 E, 39.03 N)
    rivers, k = _km_lines(d["rivers"], 39.03)
    city = shapely.Point(np.array([125.75, 39.03]) * k)
    assert rivers.distance(city) < 3.0
    lon, lat = np.array(shapely.ops.nearest_points(rivers, city)[0].coords[0]) / k
    pg = page.page
    order = [
        ["land", b["land"] + b["countries"]],
        ["water", b["lakes"] + b["rivers"]],
        ["provinces", b["provinces"]],
        ["coast", b["coast"]],
    ]
    assert pg.evaluate("geoplan.basemapOrder()") == order
    # the river is really drawn: blue pixels on it that go when "Rivers and lakes" is off
    view = f"geoplan.map.setView([{lat}, {lon}], 10, {{animate: false}})"
    pg.evaluate(f"geoplan.map.closePopup(); {view}; 1")
    pg.wait_for_timeout(300)
    pt = pg.evaluate(
        f"(() => {{ const p = geoplan.map.latLngToContainerPoint([{lat}, {lon}]);"
        " const r = geoplan.map.getContainer().getBoundingClientRect();"
        " return [r.left + p.x, r.top + p.y]; })()"
    )
    clip = {"x": pt[0] - 12, "y": pt[1] - 12, "width": 24, "height": 24}

    def blue() -> int:
        from PIL import Image

        px = np.asarray(Image.open(io.BytesIO(pg.screenshot(clip=clip))).convert("RGB"), int)
        return int(((px[..., 2] - px[..., 0] > 90) & (px[..., 2] > 150)).sum())

    on = blue()
    pg.evaluate("document.querySelector('input[data-layer=water]').click()")
    pg.wait_for_timeout(200)
    off = blue()
    pg.evaluate("document.querySelector('input[data-layer=water]').click()")
    # land switched off and on again goes back beneath the water, provinces and coast
    pg.evaluate("document.querySelector('input[data-layer=land]').click()")
    pg.evaluate("document.querySelector('input[data-layer=land]').click()")
    pg.wait_for_timeout(200)
    assert on > 5 and off == 0, (on, off)
    assert blue() == on
    assert pg.evaluate("geoplan.basemapOrder()") == order
    assert page.errors == [] and page.blocked == []
