"""report.html as a reader must be able to defend it: method, scope and provenance match the run."""

from __future__ import annotations

import html
import re

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
