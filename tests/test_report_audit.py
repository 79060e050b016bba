"""report.html as a reader must be able to defend it: method, scope and provenance match the run."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from geoplan.outputs.report import render_report


def _section(page: str, key: str) -> str:
    """The HTML of one ``<h2 id=key>`` section, up to the next ``<h2``."""
    start = page.index(f"<h2 id='{key}'>")
    end = page.find("<h2 ", start + 5)
    return page[start : end if end > 0 else len(page)]


def _text(fragment: str) -> str:
    """What a reader sees: tags dropped, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


@pytest.fixture(scope="module")
def pages(fast_run):
    return {lang: render_report(fast_run, lang=lang) for lang in ("en", "ko")}


def test_phase_rules_say_a_rule_without_a_belt_leaves_inland_sites_out(fast_run, pages):
    r = fast_run.ranking
    # the oracle: an inland existing zone meets every condition the first rule states
    # (profile, within 15 km of an existing zone, top 3 of its group) and is not in phase 1
    rule = fast_run.scenario.prioritisation.phase_rules[0]
    assert "belt" not in rule.when
    inland = r[
        (r["belt"] == "inland")
        & r["profile"].isin(rule.when["profile"])
        & (r["site_distance_km"] <= rule.when["near_site_km"])
        & (r["rank_in_belt"] <= rule.when["rank_in_belt_max"])
    ]
    assert len(inland) and (inland["phase"] != rule.phase).all()
    items = re.findall(r"<li>(.*?)</li>", _section(pages["en"], "method").split("<ol>")[-1])
    assert len(items) == len(fast_run.scenario.prioritisation.phase_rules)
    for rl, item in zip(fast_run.scenario.prioritisation.phase_rules, items, strict=True):
        text = _text(item)
        if rl.when and "belt" not in rl.when:
            assert "and it lies in one of the three belts." in text, text
        else:
            assert "one of the three belts" not in text, text
    assert _text(items[0]).startswith(
        "Phase 1 if its profile is Labour-intensive or Agri-manufacturing, it lies within "
        "15 km of an existing zone, it ranks 3rd or better in its belt and it lies in one of "
        "the three belts."
    )
    ko = re.findall(r"<li>(.*?)</li>", _section(pages["ko"], "method").split("<ol>")[-1])
    assert "세 벨트 안 위치이면 1단계" in _text(ko[0])


@pytest.fixture(scope="module")
def clipped_run():
    """The default scenario clipped to the Pyongyang–Nampo area: only the west coast belt."""
    import geoplan

    return geoplan.run(
        grid={"resolution_m": 2000, "bbox": [125.0, 38.6, 125.8, 39.1]},
        candidates={"zones_per_belt": 1},
        sensitivity=0,
    )


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_clipped_run_says_so_before_it_says_a_belt_has_no_candidate(
    clipped_run, fast_run, pages, lang
):
    page = render_report(clipped_run, lang=lang)
    lon0, lat0, lon1, lat1 = clipped_run.scenario.grid.bbox
    r = clipped_run.ranking
    empty = [b for b in ("west_coast", "east_coast", "border") if not (r["belt"] == b).any()]
    assert empty, "the oracle needs a belt without candidates in the box"
    top = _text(page[: page.index("<nav>")])  # the first screen, before the contents
    if lang == "en":
        assert f"This run covers only the area {lon0:g}–{lon1:g}° E, {lat0:g}–{lat1:g}° N." in top
        summary = _text(_section(page, "summary"))
        for b in empty:
            label = {"east_coast": "East coast", "border": "Border", "west_coast": "West coast"}[b]
            assert f"{label}: no candidate within the area of this run." in summary
        assert "no candidate." not in summary
    else:
        assert f"동경 {lon0:g}–{lon1:g}°, 북위 {lat0:g}–{lat1:g}° 범위만" in top
        assert "이번 분석 범위 안에 후보지 없음" in _section(page, "summary")
    assert "covers only the area" not in pages["en"]  # the full run claims no clip


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_provenance_lists_every_input_file_with_its_sha256(fast_run, pages, lang):
    import hashlib
    import json
    from pathlib import Path

    page = pages[lang]
    assert "<a href='#provenance'>" in page  # in the contents
    prov = _section(page, "provenance")
    record = json.loads(Path(fast_run.outputs["run"]).read_text(encoding="utf-8"))
    assert record["geoplan_version"] in _text(prov)
    assert fast_run.scenario.name in _text(prov)
    for name, gdf in fast_run.layers.items():
        src = Path(gdf.attrs["geoplan_source"])
        sha = hashlib.sha256(src.read_bytes()).hexdigest()  # the oracle: the file itself
        assert sha == record["input_layers"][name]["sha256"]
        assert f"<td>{html.escape(src.name)}</td><td><code" in prov
        assert f">{sha}</code>" in prov
        assert str(src.parent) not in page  # a file name, never a machine path
    assert "_" not in re.sub(r"\S+\.(geojson|gpkg|shp|osm|pbf)", "", _text(prov))


def test_korean_report_has_the_built_in_descriptions_in_korean(fast_run, pages):
    import dataclasses

    sc = fast_run.scenario
    ko_text, en_text = _text(pages["ko"]), _text(pages["en"])
    english = [sc.description] + [p.description for p in sc.profiles.values()]
    assert all(english)
    for d in english:
        d = " ".join(d.split())
        assert d in en_text
        assert d not in ko_text
    assert "(섬유, 의류, 신발, 조립)" in ko_text  # labour-intensive: textiles, apparel, ...
    assert "북한 서해안·동해안·접경지역 벨트의 중소형 산업단지" in ko_text
    # a user's own description is shown as written, in either language
    own = dataclasses.replace(fast_run, scenario=sc.replace("description", "Our own plan A-7"))
    assert "<p>Our own plan A-7</p>" in render_report(own, lang="ko")


def _with_robustness(res):
    """The run with made-up robustness columns (the report only shows them)."""
    import dataclasses

    import numpy as np

    r = res.ranking.copy()
    r["p_top_k"] = np.linspace(1.0, 0.0, len(r))
    r["rank_median"] = r["rank_in_belt"].astype(float)
    r["rank_p05"] = 1.0
    r["rank_p95"] = r["rank_in_belt"].astype(float) + 2
    return dataclasses.replace(res, ranking=r, robustness={"draws": 200, "top_k": 3})


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_robustness_chart_labels_are_not_cut_off_in_chromium(fast_run, chromium, tmp_path, lang):
    from tests.browser import open_offline

    f = tmp_path / "report.html"
    f.write_text(render_report(_with_robustness(fast_run), lang=lang), encoding="utf-8")
    with open_offline(f, chromium) as pg:
        boxes = pg.page.evaluate(
            """() => [...document.querySelectorAll("#robustness ~ figure svg")].flatMap(svg => {
                const s = svg.getBoundingClientRect();
                return [...svg.querySelectorAll("text")].map(t => {
                    const b = t.getBoundingClientRect();
                    return [t.textContent, b.left - s.left, s.right - b.right];
                });
            })"""
        )
    assert len(boxes) > 20
    cut = [
        (text, round(left), round(right)) for text, left, right in boxes if left < 0 or right < 0
    ]
    assert cut == []
    # every candidate is still named by the start of its name and by its belt
    labels = [b[0] for b in boxes]
    belts = {"en": "(West coast)", "ko": "(서해안)"}[lang]
    assert any(lab.endswith(belts) for lab in labels)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_first_screen_says_what_to_decide_in_priority_order(fast_run, pages, lang):
    from geoplan.i18n import place_label

    page = pages[lang]
    box = page[page.index("<div class='box' id='decide'>") : page.index("<nav>")]
    assert page.index("id='decide'") < page.index("<h2 ")  # before every section
    r = fast_run.ranking
    items = re.findall(r"<li>(.*?)</li>", box)
    phases = sorted(int(p) for p in r["phase"].dropna().unique())
    assert len(items) == len(phases)
    for ph, item in zip(phases, items, strict=True):
        g = r[r["phase"] == ph].sort_values("priority")  # oracle: the run's priorities
        assert [int(p) for p in g["priority"]] == list(range(1, len(g) + 1))
        text = html.unescape(item)
        pos = []
        for _, row in g.head(3).iterrows():
            if lang == "en":
                name = row["name"]
            elif row["kind"] == "zone":
                name = row["name_ko"]
            else:
                name = place_label(row["name"], row["name_ko"], "ko")
            assert name in text, name
            pos.append(text.index(name))
        assert pos == sorted(pos)  # in priority order
        assert (f"({len(g)} candidates in this phase)" if lang == "en" else f"{len(g)}곳") in text
    # no scores: the list mixes profiles, whose scores are not comparable
    for s in r["score"].dropna():
        assert f"{float(s):.2f}" not in _text(box)


def test_decision_box_is_on_the_first_screen_in_chromium(fast_run, pages, chromium, tmp_path):
    from tests.browser import open_offline

    f = tmp_path / "report.html"
    f.write_text(pages["en"], encoding="utf-8")
    with open_offline(f, chromium, size=(1280, 800)) as pg:
        box = pg.page.locator("#decide li").last.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 800


def test_print_shows_every_candidate_of_a_phase(fast_run, pages, chromium, tmp_path):
    """On paper there is no "more" to click: the folded rows are printed."""
    from tests.browser import open_offline

    r = fast_run.ranking
    hidden = int(sum(max(0, (r["phase"] == ph).sum() - 10) for ph in (1, 2, 3)))
    assert hidden > 0, "the oracle needs a phase with more than ten candidates"
    f = tmp_path / "report.html"
    f.write_text(pages["en"], encoding="utf-8")
    with open_offline(f, chromium) as pg:
        rows = pg.page.locator("details tbody tr")
        assert rows.count() == hidden
        assert not rows.first.is_visible()  # folded on screen
        pg.page.emulate_media(media="print")
        assert all(rows.nth(i).is_visible() for i in range(rows.count()))
        assert not pg.page.locator("details summary").first.is_visible()


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_method_names_the_listed_zones_left_unscored(fast_run, pages, lang):
    layer = fast_run.layers[fast_run.scenario.candidates.sites_layer]
    scored = set(fast_run.sites["name"].astype(str))
    # the oracle: listed zones of the layer that no ranking row carries
    unscored = sorted(set(layer["name"].astype(str)) - scored)
    assert unscored and sorted(fast_run.excluded_sites) == unscored
    method = _text(_section(pages[lang], "method"))
    if lang == "en":
        assert f"The {len(scored)} listed existing zones are scored as well" in method
        assert f"Not scored, because they lie in an excluded area ({len(unscored)}): " in method
    for name in unscored:
        assert name in method
        if lang == "ko":
            ko = layer.loc[layer["name"] == name, "name_ko"].iloc[0]
            assert f"{ko} {name}" in method


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_a_changed_built_in_scenario_says_what_changed(fast_run, pages, lang):
    import dataclasses
    import warnings

    from geoplan.scenario import load_scenario

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "weights sum to 1.55, normalised"
        sc = load_scenario(
            None, overrides={"profiles.labour_intensive.criteria.labour_pool.weight": 0.9}
        )
    page = render_report(dataclasses.replace(fast_run, scenario=sc), lang=lang)
    # the oracle: the other four of 0.35, 0.20, 0.15, 0.15, 0.15 stay in proportion
    w = np.array([0.9, 0.20, 0.15, 0.15, 0.15])
    w /= w.sum()
    method = _section(page, "method")
    label = "Labour-intensive" if lang == "en" else "노동집약형"
    (block,) = [b for b in method.split("<h4>")[1:] if f"</span>{label}" in b.split("</h4>")[0]]
    was = "built-in" if lang == "en" else "기본값"
    assert f"<td class='num'>{w[0]:.2f} ({was} 0.35)</td>" in block
    assert f"<td class='num'>{w[1]:.2f} ({was} 0.20)</td>" in block
    assert abs(w.sum() - 1) < 1e-12
    prov = _text(_section(page, "provenance"))
    if lang == "en":
        assert (
            "the built-in scenario with changes to the weights or scoring of Labour-intensive"
            in prov
        )
        assert "Technology-intensive" not in prov
    else:
        assert "노동집약형의 가중치 또는 점수화 변경" in prov
    # an unchanged built-in scenario claims no change
    plain = render_report(dataclasses.replace(fast_run, scenario=load_scenario(None)), lang="en")
    assert "built-in" not in _text(_section(plain, "method"))
    assert "(built into geoplan)" in _text(_section(plain, "provenance"))


def test_locator_map_place_names_hide_no_marker_and_no_other_name(
    fast_run, pages, chromium, tmp_path
):
    from tests.browser import open_offline

    cities = fast_run.layers["cities"]
    prk = cities[cities["iso_a3"] == "PRK"]
    capital = str(prk.loc[prk["population"].astype(float).idxmax(), "name"])  # the oracle
    f = tmp_path / "report.html"
    f.write_text(pages["en"], encoding="utf-8")
    with open_offline(f, chromium) as pg:
        maps = pg.page.evaluate(
            """() => [...document.querySelectorAll("#maps ~ div svg")].map(svg => ({
                labels: [...svg.querySelectorAll("text[paint-order]")].map(t => {
                    const b = t.getBBox();
                    return [t.textContent, b.x, b.y, b.x + b.width, b.y + b.height];
                }),
                marks: [...svg.querySelectorAll("g > circle")].map(c =>
                    [c.cx.baseVal.value, c.cy.baseVal.value, c.r.baseVal.value]),
            }))"""
        )
    assert len(maps) == len(fast_run.belts)
    assert capital in [lab[0] for lab in maps[0]["labels"]]  # west coast: the capital is named
    for m in maps:
        assert m["marks"], "every belt map shows its candidates"
        labels = m["labels"]
        for i, (name, x0, y0, x1, y1) in enumerate(labels):
            for other, a0, b0, a1, b1 in labels[i + 1 :]:
                assert not (x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1), (name, other)
            for cx_, cy_, r in m["marks"]:
                dx = min(max(cx_, x0), x1) - cx_
                dy = min(max(cy_, y0), y1) - cy_
                assert dx * dx + dy * dy >= r * r, (name, cx_, cy_)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_every_contents_link_leads_to_its_section(pages, lang):
    page = pages[lang]
    nav = page[page.index("<nav>") : page.index("</nav>")]
    links = re.findall(r"<a href='#(\w+)'>(.*?)</a>", nav)
    assert len(links) >= 6
    for anchor, title in links:
        assert f"<h2 id='{anchor}'>{title}</h2>" in page  # the heading the reader lands on
    heads = re.findall(r"<h2 id='(\w+)'>", page)
    assert heads == [a for a, _ in links]  # every section listed, in page order
