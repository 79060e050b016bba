"""report.html: a decision document in English and Korean, escaped, with no machine leftovers."""

from __future__ import annotations

import dataclasses
import html
import re
import warnings

import numpy as np
import pytest

from geoplan.i18n import belt_label, profile_label
from geoplan.outputs.report import CORRIDOR, render_report

HANGUL = re.compile("[\uac00-\ud7a3]")
HOSTILE = ["<img src=x onerror=alert(1)>", "cost $\\foo$ profile"]


def _section(page: str, key: str) -> str:
    """The HTML of one ``<h2 id=key>`` section, up to the next ``<h2``."""
    start = page.index(f"<h2 id='{key}'>")
    end = page.find("<h2 ", start + 5)
    return page[start : end if end > 0 else len(page)]


def _render(res, lang):
    """Render, turning any matplotlib missing-glyph warning into a failure."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        page = render_report(res, lang=lang)
    glyph = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    assert glyph == [], glyph
    return page


@pytest.fixture(scope="module")
def pages(fast_run):
    return {lang: _render(fast_run, lang) for lang in ("en", "ko")}


@pytest.fixture(scope="module")
def hostile_run():
    import geoplan

    def prof():
        return {
            "criteria": [
                {
                    "criterion": "labour_pool",
                    "weight": 0.6,
                    "transform": {"type": "linear", "low": 0, "high": 500000},
                },
                {
                    "criterion": "port_distance",
                    "weight": 0.4,
                    "transform": {
                        "type": "linear",
                        "low": 0,
                        "high": 50000,
                        "direction": "falling",
                    },
                },
            ]
        }

    return geoplan.run(
        {"profiles": {n: prof() for n in HOSTILE}},
        profiles=HOSTILE,
        grid={"resolution_m": 5000},
        candidates={"zones_per_belt": 1},
    )


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_summary_names_each_belts_top_candidate_per_profile(fast_run, pages, lang):
    summary = _section(pages[lang], "summary")
    r = fast_run.ranking
    blocks = summary.split("<h3>")[1:]
    assert len(blocks) == len(fast_run.scenario.profiles)
    for block, prof in zip(blocks, fast_run.scenario.profiles, strict=True):
        assert html.escape(profile_label(prof, lang)) in block.split("</h3>")[0]
        for belt in ("west_coast", "east_coast", "border"):
            g = r[(r["profile"] == prof) & (r["belt"] == belt)]
            top = g.loc[g["score"].astype(float).idxmax()]  # oracle: best score of the belt
            assert int(top["rank_in_belt"]) == 1
            if lang == "en":
                name = top["name"]
            elif top["kind"] == "zone":
                name = top["name_ko"]
            else:
                name = f"{top['name_ko']} {top['name']}"
            score = f"{float(top['score']):.2f}"
            word = "score" if lang == "en" else "점수"
            expected = f"<b>{html.escape(f'{belt_label(belt, lang)}: {name}, {word} {score}.')}</b>"
            assert expected in block, expected


def test_summary_gives_the_two_largest_contributions_of_a_top_zone(fast_run, pages):
    r = fast_run.ranking
    row = r[(r["profile"] == "labour_intensive") & (r["rank_in_belt"] == 1)].iloc[0]
    contrib = {c[8:]: float(row[c]) for c in r.columns if c.startswith("contrib_")}
    contrib = {k: v for k, v in contrib.items() if np.isfinite(v)}
    assert abs(sum(contrib.values()) - float(row["score"])) < 1e-6  # contributions add up
    (c1, v1), (c2, v2) = sorted(contrib.items(), key=lambda kv: -kv[1])[:2]
    from geoplan.i18n import criterion_label

    l1, l2 = (criterion_label(c, "en") for c in (c1, c2))
    text = (
        f"It scores chiefly on {l1[0].lower() + l1[1:]} ({v1:.2f} of {float(row['score']):.2f})"
        f" and {l2[0].lower() + l2[1:]} ({v2:.2f})."
    )
    assert html.escape(text) in _section(pages["en"], "summary")


def test_what_comes_first_lists_each_phase_in_priority_order(fast_run, pages):
    first = _section(pages["en"], "first")
    r = fast_run.ranking
    for ph, block in zip((1, 2, 3), first.split("<h3>")[1:], strict=True):
        assert block.startswith(f"Phase {ph} (")
        g = r[r["phase"] == ph].sort_values("priority")
        shown = re.findall(r"<tr><td class='num'>(\d+)</td><td>(.*?)</td>", block)
        assert [int(p) for p, _ in shown] == list(range(1, len(g) + 1))
        assert [html.unescape(n) for _, n in shown] == list(g["name"])


def test_phase_3_top_priority_and_corridor_statement(fast_run, pages):
    r = fast_run.ranking
    g = r[r["phase"] == 3].sort_values("priority")
    top = g.iloc[0]
    lo0, lo1, la0, la1 = CORRIDOR
    assert (lo0, lo1, la0, la1) == (125.2, 126.0, 38.6, 39.2)
    inside = lo0 <= top["lon"] <= lo1 and la0 <= top["lat"] <= la1
    first = _section(pages["en"], "first")
    assert html.escape(f"The top priority of phase 3 is {top['name']} (") in first
    assert ("It lies outside the Pyongyang–Nampo corridor" in first) == (not inside)
    if not inside:
        corr = g[g["lon"].between(lo0, lo1) & g["lat"].between(la0, la1)].iloc[0]
        assert html.escape(f"{corr['name']} (priority {int(corr['priority'])})") in first
        if int(corr["rank_in_belt"]) == int(top["rank_in_belt"]):
            s1, s2 = float(top["score"]), float(corr["score"])
            assert s1 >= s2
            assert f"the score decides: {s1:.2f} against {s2:.2f}" in first


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_no_machine_leftovers(fast_run, pages, lang, tmp_path_factory):
    page = pages[lang]
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)  # what a reader sees
    for bad in ("/tmp", "fast.yaml", str(tmp_path_factory.getbasetemp())):
        assert bad not in page
    assert not re.search(r"Belt: none|\bnone\b|\bnan\b|\bNaN\b|<NA>", text)
    for ident in ("contrib_", "rank_in_belt", "labour_intensive", "west_coast", "p_top_k"):
        assert ident not in text
    assert "<img" not in page and "data:image" not in page  # charts are inline SVG


def test_korean_headings_and_place_names(pages):
    page = pages["ko"]
    heads = re.findall(r"<h2 id='\w+'>(.*?)</h2>", page)
    assert len(heads) >= 5 and all(HANGUL.search(h) for h in heads), heads
    assert "<html lang='ko'>" in page
    assert "남포 Nampo" in page
    summary = _section(page, "summary")
    assert "점수는 주로" in summary
    assert not re.search(r"\bscore\b|\bPhase\b|\bpriority\b", re.sub(r"<[^>]+>", " ", page))


def test_method_reports_ahp_consistency_from_the_matrix(fast_run, pages):
    prof = fast_run.scenario.profiles["port_logistics"]
    a = np.asarray(prof.ahp_matrix, dtype=float)
    lam = float(np.max(np.linalg.eigvals(a).real))
    n = len(a)
    cr = (lam - n) / (n - 1) / 0.90  # Saaty's random index for n = 4
    method = _section(pages["en"], "method")
    assert f"consistency ratio {cr:.3f}: consistent (below 0.10)" in method
    w = np.abs(np.linalg.eig(a)[1][:, np.argmax(np.linalg.eigvals(a).real)].real)
    w /= w.sum()
    assert f"<td class='num'>{w[0]:.2f}</td>" in method


def test_caveats_count_confidence_per_layer(fast_run, pages):
    caveats = _section(pages["en"], "caveats")
    rail = fast_run.layers["railways"]
    conf = rail["confidence"].astype(str).str.lower()
    row = (
        f"<td>Railways</td><td class='num'>{len(rail)}</td>"
        f"<td class='num'>{(conf == 'high').sum()}</td><td class='num'>{(conf == 'medium').sum()}"
        f"</td><td class='num'>{(conf == 'low').sum()}</td>"
    )
    assert row in caveats
    n = int(rail["schematic"].astype(bool).sum())
    assert f"Railways: {n} of {len(rail)} lines are schematic" in caveats


def test_robustness_section_only_when_a_sensitivity_ran(fast_run, pages):
    assert "id='robustness'" not in pages["en"]
    r = fast_run.ranking.copy()
    r["p_top_k"] = np.linspace(1.0, 0.0, len(r))
    r["rank_median"] = r["rank_in_belt"].astype(float)
    r["rank_p05"] = 1.0
    r["rank_p95"] = r["rank_in_belt"].astype(float) + 2
    res = dataclasses.replace(fast_run, ranking=r, robustness={"draws": 200, "top_k": 3})
    page = render_report(res, lang="en")
    rob = _section(page, "robustness")
    row = r[(r["profile"] == "port_logistics") & (r["belt"] == "west_coast")]
    row = row[row["rank_in_belt"] == 1].iloc[0]
    assert f"<td>{html.escape(row['name'])}</td><td>West coast</td>" in rob
    assert f"<td class='num'>{row['p_top_k']:.2f}</td>" in rob
    assert "redrawn 200 times" in rob
    assert rob.count("<svg") == len(fast_run.scenario.profiles)  # one chart per profile
    assert "top 3 in" in _section(page, "summary")  # reasons carry the robustness


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_hostile_profile_names_are_escaped(hostile_run, lang):
    page = _render(hostile_run, lang)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "cost $\\foo$ profile" in page
    summary = _section(page, "summary")
    assert summary.count("<h3>") == 2


def test_report_opens_offline_in_chromium(fast_run, pages, chromium, tmp_path):
    from tests.browser import open_offline

    f = tmp_path / "report.html"
    f.write_text(pages["ko"], encoding="utf-8")
    with open_offline(f, chromium) as pg:
        assert pg.blocked == [] and pg.errors == [] and pg.dialogs == []
        n_svg = pg.page.locator("svg").count()
        width = pg.page.locator("#maps ~ div svg").first.bounding_box()["width"]
    assert n_svg == len(fast_run.belts)
    assert width > 200
